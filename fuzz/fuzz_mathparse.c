/* libFuzzer target for the grader's math parser and equivalence (clang, -DLONG1K_FUZZ=ON).
 * The input is split at the first NUL or '\x01' into two answers; both are parsed, evaluated,
 * printed, compared (both directions) and passed through extraction and multiple choice.
 * Everything must stay in bounds and finish in bounded time (no timeouts are used). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "eval/grade_internal.h"
#include "eval/mathexpr.h"
#include "long1k/grade.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size > 20000) return 0;
  char *buf = malloc(size + 1);
  if (!buf) return 0;
  memcpy(buf, data, size);
  buf[size] = 0;
  size_t cut = 0;
  while (cut < size && buf[cut] && buf[cut] != '\x01') cut++;
  char *a = buf, *b = buf + (cut < size ? cut + 1 : size);
  if (cut < size) buf[cut] = 0;

  mx_ctx c;
  mx_init(&c);
  mx_node *n = mx_parse(&c, a, strlen(a));
  if (n) {
    char out[512];
    mx_print(n, out, sizeof out);
    mx_val v;
    for (int pt = 0; pt < 2; pt++) (void)mx_eval(n, pt, &v);
    const char *names[8];
    (void)mx_vars(n, names, 8);
  }
  mx_free(&c);

  (void)l1k_math_equal_answers(a, b);
  (void)l1k_math_equal_answers(b, a);
  (void)l1k_math_equal(a, b);
  char *x = l1k_extract_answer(buf, size);
  free(x);
  x = l1k_extract_boxed(buf, size);
  free(x);
  (void)l1k_extract_choice(buf, size, 5);
  l1k_grade_result r;
  if (l1k_grade_response(a, b, strlen(b), 4, &r) == 0) l1k_grade_result_free(&r);
  free(buf);
  return 0;
}
