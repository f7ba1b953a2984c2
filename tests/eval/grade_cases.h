/* Shared harness of the grader's table tests (test_math_norm.c, test_math_equiv.c,
 * test_grade_families.c): a case is a gold, a pred and the expected verdict; RUN checks every
 * case of a table with the given comparison and names the rule, the two answers and the
 * verdict expected when one fails. */
#ifndef LONG1K_TESTS_EVAL_GRADE_CASES_H
#define LONG1K_TESTS_EVAL_GRADE_CASES_H

#include "check.h"
#include "long1k/grade.h"

typedef struct {
  const char *gold, *pred;
  int equal;
} tcase;

/* cmp: l1k_math_equal_answers (no extraction) or l1k_math_equal (extraction first) */
static inline void run_cases(const char *rule, const tcase *t, size_t n,
                             int (*cmp)(const char *, const char *)) {
  for (size_t i = 0; i < n; i++) {
    int got = cmp(t[i].gold, t[i].pred);
    CHECK_MSG(got == t[i].equal, "[%s] '%s' vs '%s': expected %s", rule, t[i].gold, t[i].pred,
              t[i].equal ? "equal" : "different");
  }
}
/* answers already extracted */
#define RUN(rule, arr) run_cases(rule, arr, sizeof arr / sizeof arr[0], l1k_math_equal_answers)
/* whole responses: extraction, then equivalence */
#define RUN_RESP(rule, arr) run_cases(rule, arr, sizeof arr / sizeof arr[0], l1k_math_equal)

#endif
