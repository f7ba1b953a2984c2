/* Bounded work: the grader on pathological inputs (0.5 MB of unclosed delimiters, nested boxes,
 * repeated phrases, deep nesting) must finish in roughly linear time and never crash. A
 * quadratic scan of 0.5 MB would take minutes; the generous limit below only catches that. */
#include <time.h>

#include "check.h"
#include "long1k/grade.h"

static char *repeat(const char *unit, size_t total, const char *prefix) {
  size_t u = strlen(unit), p = strlen(prefix), n = total / u;
  char *s = malloc(p + n * u + 1);
  if (!s) return NULL;
  memcpy(s, prefix, p);
  for (size_t i = 0; i < n; i++) memcpy(s + p + i * u, unit, u);
  s[p + n * u] = 0;
  return s;
}

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec * 1e-9;
}

int main(void) {
  int san = getenv("LONG1K_SANITIZER") != NULL;
  size_t big = san ? 100000 : 500000;
  static const struct {
    const char *unit, *prefix;
  } cases[] = {
      {"\\( ", "we see "},   {"\\[ x", "we see "},    {"$x ", "we see "},     {"\\boxed{", ""},
      {"\\boxed{1} and ", ""}, {"the answer is ", ""}, {"Answer: x", ""},      {"1,000,", ""},
      {"A B C D ", ""},        {"\\frac{", ""},         {"<think>", ""},        {"a\xe6\xb1\x89", "Answer: "},
      {"{", ""},               {"(", ""},               {"\\text{", ""},        {"\\left(", ""},
      {"x^", ""},              {"\\sqrt", ""},          {"-", ""},              {"\\sum_{k=1}^{2000}", ""},
  };
  double t0 = now(), worst = 0;
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    char *s = repeat(cases[i].unit, big, cases[i].prefix);
    CHECK(s != NULL);
    if (!s) continue;
    double t = now();
    size_t n = strlen(s);
    char *a = l1k_extract_answer(s, n);
    free(a);
    (void)l1k_extract_choice(s, n, 4);
    (void)l1k_math_equal("1", s);
    /* the same text as a bare answer on both sides (parsed: up to the 8 KB limit) */
    char keep = s[n < 8000 ? n : 8000];
    s[n < 8000 ? n : 8000] = 0;
    (void)l1k_math_equal_answers(s, s);
    (void)l1k_math_equal_answers(s, "1");
    s[n < 8000 ? n : 8000] = keep;
    l1k_grade_result r;
    CHECK(l1k_grade_response("B", s, n, 4, &r) == 0);
    l1k_grade_result_free(&r);
    double dt = now() - t;
    if (dt > worst) worst = dt;
    CHECK_MSG(dt < 30.0, "case %zu ('%s' x %zu) took %.1f s", i, cases[i].unit, big, dt);
    free(s);
  }
  fprintf(stderr, "pathological inputs: %.2f s in all, slowest %.2f s\n", now() - t0, worst);
  /* deeply nested answers are refused or parsed, never overflow the stack */
  char *deep = repeat("\\frac{1}{", 8000, "");
  CHECK(l1k_math_equal_answers(deep, deep) == 1); /* identical text */
  CHECK(l1k_math_equal_answers(deep, "1") == 0);
  free(deep);
  CHECK_DONE();
}
