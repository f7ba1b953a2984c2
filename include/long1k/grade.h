/* long1k — answer extraction and equivalence (the grader).
 *
 * Contract used by eval, synth and the CLI. Owned by the grader (src/eval/ grader files).
 * All functions do bounded work on any input and are thread-safe.
 */
#ifndef LONG1K_GRADE_H
#define LONG1K_GRADE_H

#include <stddef.h>
#include "long1k/error.h"

/* Extracts the final answer(s) from a (possibly long) response: the part after </think> (or
 * <|end_of_thought|>); <answer> tags; the last \boxed{}/\fbox{} (with the boxes just before
 * it that only a connector such as ", " or "and" separates); "final answer is ...", "answer
 * is ...", "Answer: ..."; a concluding sentence's number; the last math segment (not a
 * condition "at $x=0$"); the last number (not inside a word; decimal commas); a number word
 * (none of these for a response cut inside its reasoning). An empty box or math block where
 * the answer is stated is no answer. Rules: docs/grader.md. Returns a malloc'ed string
 * (several answers of a composite response joined with ", "), or NULL if none was found. */
char *l1k_extract_answer(const char *response, size_t len);
/* Extracts the last \boxed{...} / \fbox{...} content (nested braces); NULL if none. */
char *l1k_extract_boxed(const char *text, size_t len);
/* Multiple choice: the chosen letter 'A'.. (or 0 if none). n_choices (2..10; other values
 * mean 5) limits the letters. The word "a" and a sentence-opening article "A" are not choices. */
int l1k_extract_choice(const char *response, size_t len, int n_choices);

/* 1 if the two answers are mathematically equal, 0 if not. Either side may be a bare answer
 * or a whole response (the answer is extracted first, see l1k_extract_answer); a lone letter
 * A-E against a response is graded as multiple choice; a text gold ("\text{Navin}") also
 * matches prose whose final sentence ends with it. Values too large to compare exactly are
 * never equal by value (exact modular arithmetic, else the same tree). */
int l1k_math_equal(const char *gold, const char *pred);
/* Equivalence of two already extracted answers (no extraction step). */
int l1k_math_equal_answers(const char *gold_answer, const char *pred_answer);

typedef struct l1k_grade_result {
  char *extracted; /* malloc'ed, may be NULL */
  int correct;
} l1k_grade_result;
/* Grades a whole response against a gold answer: extraction, then equivalence. If the gold is
 * a single letter A-E and choices > 0, grades as multiple choice. */
int l1k_grade_response(const char *gold, const char *response, size_t len, int choices,
                       l1k_grade_result *out);
void l1k_grade_result_free(l1k_grade_result *r);

#endif
