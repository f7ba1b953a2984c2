/* The demo's toy pool: deterministic, answers correct, reasoning grows with digits. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "long1k/demo.h"

static int64_t eval_problem(const char *prob) {
  int64_t a, b, c;
  char op;
  if (sscanf(prob, "Compute %" SCNd64 " %c %" SCNd64, &a, &op, &b) == 3) {
    if (op == '+') return a + b;
    if (op == '-') return a - b;
    if (op == '*') return a * b;
  }
  if (sscanf(prob, "Solve %" SCNd64 "x + %" SCNd64 " = %" SCNd64, &a, &b, &c) == 3) return (c - b) / a;
  return INT64_MIN;
}

int main(void) {
  l1k_toy_opts o;
  l1k_toy_default_opts(&o);
  l1k_toy_problem p, q;
  size_t len_by_d[8] = {0}, cnt_by_d[8] = {0};
  for (int i = 0; i < 2000; i++) {
    l1k_toy_generate(42, (uint64_t)i, &o, &p);
    l1k_toy_generate(42, (uint64_t)i, &o, &q);
    CHECK(memcmp(&p, &q, sizeof p) == 0); /* deterministic */
    int64_t want = eval_problem(p.problem);
    char buf[64];
    snprintf(buf, sizeof buf, "%" PRId64, want);
    CHECK_MSG(strcmp(buf, p.answer) == 0, "%s -> %s (want %s)", p.problem, p.answer, buf);
    char boxed[80];
    snprintf(boxed, sizeof boxed, "\\boxed{%s}", p.answer);
    CHECK(strstr(p.solution, boxed) != NULL);
    CHECK(p.difficulty >= 2 && p.difficulty <= 5);
    if (!strcmp(p.domain, "arithmetic")) {
      /* the result carried line by line ends in the answer (leading zeros of a difference
       * dropped), and the reasoning reads it off */
      const char *last = NULL, *f = p.reasoning;
      while ((f = strstr(f, "digits so far ")) != NULL) last = f++;
      CHECK_MSG(last != NULL, "%s: no 'digits so far'", p.problem);
      if (last) CHECK_MSG(strtoll(last + 14, NULL, 10) == want, "%s: last 'digits so far' %s", p.problem, last + 14);
      char rd[96];
      snprintf(rd, sizeof rd, "Reading the digits from the top: %s.", p.answer);
      CHECK_MSG(strstr(p.reasoning, rd) != NULL, "%s: no '%s'", p.problem, rd);
      len_by_d[p.difficulty] += strlen(p.reasoning);
      cnt_by_d[p.difficulty]++;
    }
  }
  for (int d = 3; d <= 5; d++)
    CHECK(len_by_d[d] / cnt_by_d[d] > len_by_d[d - 1] / cnt_by_d[d - 1]); /* longer with digits */
  l1k_toy_generate(43, 0, &o, &q);
  l1k_toy_generate(42, 0, &o, &p);
  CHECK(strcmp(p.problem, q.problem) != 0 || strcmp(p.answer, q.answer) != 0);
  CHECK_DONE();
}
