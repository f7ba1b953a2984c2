/* long1k grader — internal helpers shared by extract.c, equiv.c and grade_response.c. */
#ifndef LONG1K_EVAL_GRADE_INT_H
#define LONG1K_EVAL_GRADE_INT_H

#include <stddef.h>

/* The final part of a response: after the last </think> or <|end_of_thought|> (when that
 * part is not empty), inside <|begin_of_solution|>...<|end_of_solution|> when present. */
void l1k_grade_final_part(const char *s, size_t n, size_t *start, size_t *end);

/* The answer to compare, from either a bare answer or a whole response: extraction when the
 * text holds a \boxed{}, an answer phrase, <answer> tags or prose; the text itself (trimmed)
 * when it already reads as one math answer. malloc'ed; NULL if no answer was found. */
char *l1k_answer_of(const char *s, size_t n);

/* 1 if the text reads as prose (words outside LaTeX commands, or non-ASCII letters). */
int l1k_is_prose(const char *s, size_t n);

/* 1 if the final sentence of a response ends with `words` (lowercase words joined by one
 * space, a text answer such as "navin"), case aside, as whole words and not right after a
 * negation ("... it is navin." yes; "... neither odd nor even." no). */
int l1k_prose_ends_with(const char *s, size_t n, const char *words);

/* 1 if gold_answer is a text answer and pred is prose whose final sentence ends with it */
int l1k_text_gold_in_prose(const char *gold_answer, const char *pred, size_t pn);

/* Single multiple-choice letter written alone ("C", "(C)", "$\text{C}$", "**C**"), else 0. */
int l1k_bare_letter(const char *s, size_t n);

#endif
