/* libFuzzer target: encode arbitrary bytes with the Qwen and Llama-3 tokenizers and a
 * SentencePiece-style one (tests/text/data/tokenizer_sp.json, Llama-2's layout; loaded once).
 *
 * Checks:
 *  - Llama-3 (no normalizer): decode(encode(x)) == x byte for byte -- the losslessness rule,
 *    invalid UTF-8 included;
 *  - Qwen (NFC): decode(encode(x)) == x whenever NFC leaves x's text alone; otherwise
 *    y = decode(encode(x)) must encode to the same ids again (normalizing twice changes
 *    nothing);
 *  - offsets: one non-empty [begin,end) per token, in order, inside x, covering x;
 *  - l1k_tokenizer_count agrees with the number of ids;
 *  - SentencePiece style (Prepend + Replace, byte_fallback with all 256 <0xNN>, decoder
 *    Replace + ByteFallback + Fuse + Strip): decode(encode(x)) == x whenever x contains no
 *    added token text and no U+2581 (which decodes to a space), invalid UTF-8 included;
 *    offsets in order inside x.
 *
 * Tokenizers: $LONG1K_SHARED/tokenizers/{qwen,llama3}, default ../shared/tokenizers/... (run
 * from the repository root).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "long1k/tokenizer.h"
#include "text/tok_internal.h"

static l1k_tokenizer *qwen, *llama, *sp;

static l1k_tokenizer *load(const char *name) {
  const char *root = getenv(name[0] == '/' ? "LONG1K_SRC" : "LONG1K_SHARED");
  char path[4096];
  if (name[0] == '/')
    snprintf(path, sizeof path, "%s%s", root && *root ? root : ".", name);
  else
    snprintf(path, sizeof path, "%s/tokenizers/%s", root && *root ? root : "../shared", name);
  l1k_err err = {0};
  l1k_tokenizer *t = l1k_tokenizer_load(path, &err);
  if (!t) {
    fprintf(stderr, "fuzz_tokenizer: cannot load %s: %s\n", path, err.msg);
    abort();
  }
  return t;
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  qwen = load("qwen");
  llama = load("llama3");
  sp = load("/tests/text/data/tokenizer_sp.json");
  return 0;
}

#define ASSERT(c, ...)                                                   \
  do {                                                                   \
    if (!(c)) {                                                          \
      fprintf(stderr, "fuzz_tokenizer: %s: ", #c);                       \
      fprintf(stderr, __VA_ARGS__);                                      \
      fputc('\n', stderr);                                               \
      abort();                                                           \
    }                                                                    \
  } while (0)

/* encodes, checks offsets and count; returns decoded bytes (malloc'ed) */
static char *roundtrip(const l1k_tokenizer *t, const uint8_t *x, size_t n, l1k_ids *ids,
                       size_t *dl) {
  size_t *off = NULL;
  l1k_err err = {0};
  ids->len = 0;
  ASSERT(l1k_tokenizer_encode(t, (const char *)x, n, ids, &off, &err) == 0, "%s", err.msg);
  size_t prev_end = 0;
  for (size_t i = 0; i < ids->len; i++) {
    ASSERT(off[2 * i] < off[2 * i + 1] && off[2 * i + 1] <= n, "token %zu offsets %zu..%zu of %zu",
           i, off[2 * i], off[2 * i + 1], n);
    ASSERT(off[2 * i] >= (i ? off[2 * i - 2] : 0), "token %zu offsets go back", i);
    if (off[2 * i + 1] > prev_end) prev_end = off[2 * i + 1];
  }
  ASSERT(prev_end == n, "offsets cover %zu of %zu bytes", prev_end, n);
  if (ids->len) ASSERT(off[0] == 0, "first token starts at %zu", off[0]);
  free(off);
  ASSERT(l1k_tokenizer_count(t, (const char *)x, n, NULL) == (int64_t)ids->len, "count");
  char *d = l1k_tokenizer_decode(t, ids->data, ids->len, dl, &err);
  ASSERT(d != NULL, "%s", err.msg);
  return d;
}

/* does NFC change any valid UTF-8 run of x? */
static int nfc_changes(const uint8_t *x, size_t n) {
  size_t i = 0, run = 0;
  while (i <= n) {
    uint32_t cp;
    int k = i < n ? l1k_utf8_decode(x + i, n - i, &cp) : 0;
    if (k) {
      i += (size_t)k;
      continue;
    }
    if (i > run) {
      uint8_t *out = NULL;
      size_t ol;
      ASSERT(l1k_nfc(x + run, i - run, &out, &ol, NULL) == 0, "nfc out of memory");
      int changed = out && (ol != i - run || memcmp(out, x + run, ol) != 0);
      free(out);
      if (changed) return 1;
    }
    run = ++i;
  }
  return 0;
}

static int contains(const uint8_t *x, size_t n, const char *s) {
  size_t k = strlen(s);
  for (size_t i = 0; i + k <= n; i++)
    if (memcmp(x + i, s, k) == 0) return 1;
  return 0;
}

/* SentencePiece style: lossless unless x has added-token text or U+2581 */
static void check_sp(const uint8_t *x, size_t n) {
  l1k_ids ids = {0};
  size_t *off = NULL, dl = 0;
  l1k_err err = {0};
  ASSERT(l1k_tokenizer_encode(sp, (const char *)x, n, &ids, &off, &err) == 0, "%s", err.msg);
  for (size_t i = 0; i < ids.len; i++) {
    ASSERT(off[2 * i] <= off[2 * i + 1] && off[2 * i + 1] <= n, "sp: token %zu offsets", i);
    ASSERT(off[2 * i] >= (i ? off[2 * i - 2] : 0), "sp: token %zu offsets go back", i);
  }
  free(off);
  ASSERT(l1k_tokenizer_count(sp, (const char *)x, n, NULL) == (int64_t)ids.len, "sp: count");
  char *d = l1k_tokenizer_decode(sp, ids.data, ids.len, &dl, &err);
  ASSERT(d != NULL, "%s", err.msg);
  if (!contains(x, n, "<s>") && !contains(x, n, "</s>") && !contains(x, n, "<unk>") &&
      !contains(x, n, "\xe2\x96\x81"))
    ASSERT(dl == n && memcmp(d, x, n) == 0, "sp: decode(encode(x)) != x (%zu bytes)", n);
  free(d);
  l1k_ids_free(&ids);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  l1k_ids a = {0}, b = {0};
  size_t dl = 0;
  /* Llama-3: strictly lossless */
  char *d = roundtrip(llama, data, size, &a, &dl);
  ASSERT(dl == size && memcmp(d, data, size) == 0, "llama3: decode(encode(x)) != x (%zu bytes)",
         size);
  free(d);
  /* Qwen */
  d = roundtrip(qwen, data, size, &a, &dl);
  if (!nfc_changes(data, size)) {
    ASSERT(dl == size && memcmp(d, data, size) == 0, "qwen: decode(encode(x)) != x (%zu bytes)",
           size);
  } else {
    size_t dl2 = 0;
    char *d2 = roundtrip(qwen, (const uint8_t *)d, dl, &b, &dl2);
    ASSERT(a.len == b.len && (a.len == 0 || memcmp(a.data, b.data, a.len * sizeof(int32_t)) == 0),
           "qwen: encode(decode(encode(x))) != encode(x)");
    ASSERT(dl2 == dl && memcmp(d2, d, dl) == 0, "qwen: normalized text not stable");
    free(d2);
  }
  free(d);
  l1k_ids_free(&a);
  l1k_ids_free(&b);
  check_sp(data, size);
  return 0;
}
