/* long1k — errors: see include/long1k/error.h. */
#include "long1k/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <string.h>

int l1k_errf(l1k_err *err, int code, const char *fmt, ...) {
  if (err) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
    err->code = code;
  }
  return code;
}

int l1k_err_prefix(l1k_err *err, const char *fmt, ...) {
  if (!err) return 0;
  char prefix[512], old[sizeof err->msg];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(prefix, sizeof prefix, fmt, ap);
  va_end(ap);
  memcpy(old, err->msg, sizeof old);
  snprintf(err->msg, sizeof err->msg, "%s: %s", prefix, old);
  return err->code;
}

void l1k_err_clear(l1k_err *err) {
  if (err) {
    err->code = 0;
    err->msg[0] = 0;
  }
}

int l1k_exit_code(int code) {
  if (code == L1K_OK) return 0;
  if (code == L1K_EINPUT || code == L1K_EUNSUPPORTED) return 2;
  return 1;
}

/* Allocation-failure injection for the tests (as SQLite's): LONG1K_FAIL_ALLOC=N makes the Nth
 * allocation through these helpers fail (and every later one, with LONG1K_FAIL_ALLOC_ALL=1),
 * so that each out-of-memory path can be exercised. Read once; unset: no cost but a branch. */
static long long fail_at = -1, n_allocs;
static int fail_all_after;

static int inject_failure(void) {
  if (fail_at < 0) {
    const char *e = getenv("LONG1K_FAIL_ALLOC");
    fail_at = e && *e ? atoll(e) : 0;
    const char *a = getenv("LONG1K_FAIL_ALLOC_ALL");
    fail_all_after = a && *a == '1';
  }
  if (fail_at <= 0) return 0;
  long long k = ++n_allocs;
  return k == fail_at || (fail_all_after && k > fail_at);
}

long long l1k_alloc_count(void) {
  return n_allocs;
}

void *l1k_malloc(size_t n, l1k_err *err) {
  void *p = inject_failure() ? NULL : malloc(n ? n : 1);
  if (!p) l1k_errf(err, L1K_ENOMEM, "out of memory allocating %zu bytes", n);
  return p;
}

void *l1k_calloc(size_t count, size_t size, l1k_err *err) {
  void *p = inject_failure() ? NULL : calloc(count ? count : 1, size ? size : 1);
  if (!p) l1k_errf(err, L1K_ENOMEM, "out of memory allocating %zu x %zu bytes", count, size);
  return p;
}

void *l1k_alloc_big(size_t bytes) {
  if (inject_failure()) return NULL;
  const size_t huge = (size_t)2 << 20;
  if (bytes < huge) return calloc(1, bytes ? bytes : 1);
  size_t n = (bytes + huge - 1) & ~(huge - 1);
  void *p = aligned_alloc(huge, n);
  if (!p) return NULL;
#ifdef MADV_HUGEPAGE
  madvise(p, n, MADV_HUGEPAGE); /* a hint: ignored where THP is off */
#endif
  memset(p, 0, n);
  return p;
}

void *l1k_realloc(void *p, size_t n, l1k_err *err) {
  void *q = inject_failure() ? NULL : realloc(p, n ? n : 1);
  if (!q) l1k_errf(err, L1K_ENOMEM, "out of memory allocating %zu bytes", n);
  return q;
}

char *l1k_strdup(const char *s, l1k_err *err) {
  size_t n = strlen(s);
  char *p = l1k_malloc(n + 1, err);
  if (p) memcpy(p, s, n + 1);
  return p;
}
