/* Minimal test helpers for long1k's C tests. A test file is one main() calling CHECKs; the
 * process exits non-zero if any CHECK failed, or 77 (ctest SKIP) through SKIP(). */
#ifndef LONG1K_TEST_CHECK_H
#define LONG1K_TEST_CHECK_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int check_failures = 0, check_count = 0;

#define CHECK(cond)                                                                    \
  do {                                                                                 \
    check_count++;                                                                     \
    if (!(cond)) {                                                                     \
      check_failures++;                                                                \
      fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);         \
    }                                                                                  \
  } while (0)

#define CHECK_MSG(cond, ...)                                                           \
  do {                                                                                 \
    check_count++;                                                                     \
    if (!(cond)) {                                                                     \
      check_failures++;                                                                \
      fprintf(stderr, "%s:%d: CHECK failed: %s: ", __FILE__, __LINE__, #cond);         \
      fprintf(stderr, __VA_ARGS__);                                                    \
      fputc('\n', stderr);                                                             \
    }                                                                                  \
  } while (0)

#define CHECK_STR(a, b) CHECK_MSG(strcmp((a), (b)) == 0, "'%s' != '%s'", (a), (b))
#define CHECK_CLOSE(a, b, tol) \
  CHECK_MSG(fabs((double)(a) - (double)(b)) <= (tol), "%.9g vs %.9g (tol %g)", (double)(a), (double)(b), (double)(tol))

#define SKIP(...)                                 \
  do {                                            \
    fprintf(stderr, "SKIP: " __VA_ARGS__);        \
    fputc('\n', stderr);                          \
    exit(77);                                     \
  } while (0)

#define CHECK_DONE()                                                                  \
  do {                                                                                \
    fprintf(stderr, "%d checks, %d failed\n", check_count, check_failures);           \
    return check_failures ? 1 : 0;                                                    \
  } while (0)

/* Path of a file under ../shared (or $LONG1K_SHARED); static buffer. */
static inline const char *shared_path(const char *rel) {
  static char buf[4096];
  const char *root = getenv("LONG1K_SHARED");
  snprintf(buf, sizeof buf, "%s/%s", root && *root ? root : "../shared", rel);
  return buf;
}

#endif
