/* long1k grader — grading a whole response against a gold answer (include/long1k/grade.h). */
#include <stdlib.h>
#include <string.h>

#include "eval/grade_internal.h"
#include "long1k/grade.h"

int l1k_grade_response(const char *gold, const char *response, size_t len, int choices,
                       l1k_grade_result *out) {
  if (!out) return L1K_EINTERNAL;
  out->extracted = NULL;
  out->correct = 0;
  if (!gold || !response) return L1K_OK;
  size_t gn = strlen(gold);
  int gl = l1k_bare_letter(gold, gn);
  if (choices > 0 && gl) {
    int c = l1k_extract_choice(response, len, choices);
    if (c) {
      out->extracted = malloc(2);
      if (!out->extracted) return L1K_ENOMEM;
      out->extracted[0] = (char)c;
      out->extracted[1] = 0;
    }
    out->correct = c == gl;
    return L1K_OK;
  }
  out->extracted = l1k_answer_of(response, len);
  char *g = l1k_answer_of(gold, gn);
  if (g && out->extracted) {
    int pl = l1k_bare_letter(out->extracted, strlen(out->extracted));
    int gl2 = l1k_bare_letter(g, strlen(g));
    out->correct = (pl && gl2) ? pl == gl2 : l1k_math_equal_answers(g, out->extracted);
  }
  if (g && !out->correct) out->correct = l1k_text_gold_in_prose(g, response, len);
  free(g);
  return L1K_OK;
}

void l1k_grade_result_free(l1k_grade_result *r) {
  if (!r) return;
  free(r->extracted);
  r->extracted = NULL;
}
