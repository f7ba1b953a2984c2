/* long1k — errors.
 *
 * Every fallible function takes an `l1k_err *` (may be NULL) and returns an int status:
 * 0 on success, otherwise one of the L1K_E* codes, with a one-line message in err->msg that
 * names the file, the place in it (line, field, tensor name) and what was expected, e.g.
 *   data.jsonl:12: invalid JSON: expected ',' or '}' at column 40
 * Nothing aborts on bad input. The CLI maps L1K_EINPUT to exit code 2 and the rest to 1.
 */
#ifndef LONG1K_ERROR_H
#define LONG1K_ERROR_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

enum {
  L1K_OK = 0,
  L1K_EINPUT = 2,    /* bad input from the user: file, record, option, config */
  L1K_EIO = 3,       /* the OS refused (open, read, write, rename) */
  L1K_ENOMEM = 4,    /* out of memory */
  L1K_EINTERNAL = 5, /* a bug or an unsupported internal state */
  L1K_EUNSUPPORTED = 6, /* valid input that this version does not handle (named in the msg) */
};

typedef struct l1k_err {
  int code;
  char msg[1024];
} l1k_err;

/* Sets err (if not NULL) and returns code. printf-style message, no trailing newline. */
int l1k_errf(l1k_err *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Prepends "prefix: " to an existing message (for adding context on the way up). */
int l1k_err_prefix(l1k_err *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void l1k_err_clear(l1k_err *err);
/* Exit code for the CLI: 0 ok, 2 bad input (L1K_EINPUT, L1K_EUNSUPPORTED), 1 otherwise. */
int l1k_exit_code(int code);

/* malloc/calloc/realloc that set err on failure (return NULL). */
void *l1k_malloc(size_t n, l1k_err *err);
void *l1k_calloc(size_t count, size_t size, l1k_err *err);
/* Zeroed memory for large arrays (parameters, gradients, activations): 2 MiB-aligned and, on
 * Linux, marked for transparent huge pages (fewer TLB misses in the big matrix products when the
 * system's THP mode is "madvise"). Free with free(). NULL when out of memory (no message). */
void *l1k_alloc_big(size_t bytes);
void *l1k_realloc(void *p, size_t n, l1k_err *err);
char *l1k_strdup(const char *s, l1k_err *err);
/* Every allocation in src/ goes through these helpers. For the tests, LONG1K_FAIL_ALLOC=N in the
 * environment makes the Nth one fail (returns NULL, L1K_ENOMEM) as if memory ran out;
 * tests/core/test_fail_alloc.sh runs commands with N = 1, 2, 3, ... until they succeed.
 * l1k_alloc_count: helper allocations so far (counted only while LONG1K_FAIL_ALLOC is set). */
long long l1k_alloc_count(void);

#ifdef __cplusplus
}
#endif
#endif
