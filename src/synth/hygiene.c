/* long1k synth — text normalization, n-gram hashing, MinHash (dedup and decontamination). */
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "long1k/io.h"
#include "long1k/rng.h"
#include "long1k/synth.h"

static uint64_t hash_bytes(const char *s, size_t n) { return l1k_mix64(l1k_fnv1a64(s, n, 0)); }

/* Appends c (lowercase alnum or a separator) collapsing separators. */
static inline void put_sep(char *o, size_t *n) {
  if (*n && o[*n - 1] != ' ') o[(*n)++] = ' ';
}

/* ASCII operators and grouping that change a math problem's meaning ("62 + 3" is not
 * "62 - 3"): each one is kept as a word of its own. */
static inline int is_math_op(unsigned char c) { return c && strchr("+-*/=<>^%()", c) != NULL; }

/* Appends the bytes of one operator as a separate word. */
static inline void put_op(char *o, size_t *n, const void *bytes, size_t len) {
  put_sep(o, n);
  memcpy(o + *n, bytes, len);
  *n += len;
  o[(*n)++] = ' ';
}

char *l1k_synth_normalize(const char *s, size_t n, size_t *out_len) {
  int ascii = 1;
  for (size_t i = 0; i < n; i++)
    if ((unsigned char)s[i] >= 0x80) {
      ascii = 0;
      break;
    }
  char *o;
  size_t on = 0;
  if (ascii) {
    o = l1k_malloc(3 * n + 1, NULL); /* an operator becomes " + " */
    if (!o) return NULL;
    for (size_t i = 0; i < n; i++) {
      unsigned char c = (unsigned char)s[i];
      if (c >= 'A' && c <= 'Z') o[on++] = (char)(c + 32);
      else if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) o[on++] = (char)c;
      else if (is_math_op(c)) put_op(o, &on, &c, 1);
      else put_sep(o, &on);
    }
  } else {
    utf8proc_uint8_t *m = NULL;
    utf8proc_ssize_t ml = utf8proc_map((const utf8proc_uint8_t *)s, (utf8proc_ssize_t)n, &m,
                                       UTF8PROC_COMPAT | UTF8PROC_COMPOSE | UTF8PROC_CASEFOLD |
                                           UTF8PROC_STRIPMARK | UTF8PROC_IGNORE);
    if (ml < 0) {
      /* invalid UTF-8: keep bytes >= 0x80 as word characters, ASCII as above */
      o = l1k_malloc(3 * n + 1, NULL);
      if (!o) return NULL;
      for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 'A' && c <= 'Z') o[on++] = (char)(c + 32);
        else if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c >= 0x80) o[on++] = (char)c;
        else if (is_math_op(c)) put_op(o, &on, &c, 1);
        else put_sep(o, &on);
      }
    } else {
      o = l1k_malloc(3 * (size_t)ml + 1, NULL);
      if (!o) {
        free(m);
        return NULL;
      }
      utf8proc_ssize_t i = 0;
      while (i < ml) {
        utf8proc_int32_t cp;
        utf8proc_ssize_t l = utf8proc_iterate(m + i, ml - i, &cp);
        if (l <= 0) {
          i++;
          continue;
        }
        utf8proc_category_t cat = utf8proc_category(cp);
        int word = (cat >= UTF8PROC_CATEGORY_LU && cat <= UTF8PROC_CATEGORY_LO) ||
                   (cat >= UTF8PROC_CATEGORY_ND && cat <= UTF8PROC_CATEGORY_NO);
        if (word) {
          memcpy(o + on, m + i, (size_t)l);
          on += (size_t)l;
        } else if (cat == UTF8PROC_CATEGORY_SM || (cp < 0x80 && is_math_op((unsigned char)cp))) {
          put_op(o, &on, m + i, (size_t)l); /* ×, ÷, ≤, − ... */
        } else {
          put_sep(o, &on);
        }
        i += l;
      }
      free(m);
    }
  }
  if (on && o[on - 1] == ' ') on--;
  o[on] = 0;
  if (out_len) *out_len = on;
  return o;
}

/* ---- hash set (open addressing, key 0 remapped) ---- */

static uint64_t fix_key(uint64_t k) { return k ? k : 0x9e3779b97f4a7c15ULL; }

static int hs_grow(l1k_synth_hashset *h) {
  size_t nc = h->cap ? h->cap * 2 : 1024;
  uint64_t *ns = l1k_calloc(nc, sizeof *ns, NULL);
  uint32_t *nv = l1k_calloc(nc, sizeof *nv, NULL);
  if (!ns || !nv) {
    free(ns);
    free(nv);
    return L1K_ENOMEM;
  }
  for (size_t i = 0; i < h->cap; i++) {
    if (!h->slots[i]) continue;
    size_t j = (size_t)(h->slots[i] & (nc - 1));
    while (ns[j]) j = (j + 1) & (nc - 1);
    ns[j] = h->slots[i];
    nv[j] = h->vals[i];
  }
  free(h->slots);
  free(h->vals);
  h->slots = ns;
  h->vals = nv;
  h->cap = nc;
  return 0;
}

int l1k_synth_hashset_add(l1k_synth_hashset *h, uint64_t key, uint32_t val) {
  key = fix_key(key);
  if ((h->len + 1) * 2 > h->cap && hs_grow(h)) return L1K_ENOMEM;
  size_t j = (size_t)(key & (h->cap - 1));
  while (h->slots[j]) {
    if (h->slots[j] == key) return 0; /* keep the first value */
    j = (j + 1) & (h->cap - 1);
  }
  h->slots[j] = key;
  h->vals[j] = val;
  h->len++;
  return 0;
}

int l1k_synth_hashset_get(const l1k_synth_hashset *h, uint64_t key, uint32_t *val) {
  if (!h->cap) return 0;
  key = fix_key(key);
  size_t j = (size_t)(key & (h->cap - 1));
  while (h->slots[j]) {
    if (h->slots[j] == key) {
      if (val) *val = h->vals[j];
      return 1;
    }
    j = (j + 1) & (h->cap - 1);
  }
  return 0;
}

void l1k_synth_hashset_free(l1k_synth_hashset *h) {
  free(h->slots);
  free(h->vals);
  memset(h, 0, sizeof *h);
}

/* ---- n-grams ---- */

int l1k_synth_ngrams(const char *t, size_t len, int n, int (*fn)(void *ctx, uint64_t h),
                     void *ctx) {
  if (!len) return 0;
  /* word start offsets, kept in a small ring of the last n */
  size_t ring_stack[64];
  size_t *ring = n <= 64 ? ring_stack : l1k_malloc(sizeof(size_t) * (size_t)n, NULL);
  if (!ring) return L1K_ENOMEM;
  int words = 0, rc = 0;
  size_t i = 0;
  while (i < len) {
    size_t ws = i;
    while (i < len && t[i] != ' ') i++;
    ring[words % n] = ws;
    words++;
    if (words >= n) {
      size_t start = ring[(words - n) % n];
      rc = fn(ctx, hash_bytes(t + start, i - start));
      if (rc) break;
    }
    i++; /* skip the space */
  }
  if (!rc && words < n) rc = fn(ctx, hash_bytes(t, len));
  if (ring != ring_stack) free(ring);
  return rc;
}

typedef struct {
  uint32_t *sig;
  int nperm;
} mh_ctx;

static int mh_add(void *ctx, uint64_t h) {
  mh_ctx *c = ctx;
  for (int p = 0; p < c->nperm; p++) {
    uint32_t v = (uint32_t)(l1k_mix64(h + 0x9e3779b97f4a7c15ULL * (uint64_t)(p + 1)) >> 32);
    if (v < c->sig[p]) c->sig[p] = v;
  }
  return 0;
}

void l1k_synth_minhash(const char *t, size_t len, uint32_t *sig, int nperm) {
  for (int p = 0; p < nperm; p++) sig[p] = UINT32_MAX;
  mh_ctx c = {sig, nperm};
  l1k_synth_ngrams(t, len, 3, mh_add, &c);
}
