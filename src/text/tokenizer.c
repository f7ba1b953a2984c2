/* long1k — Hugging Face tokenizer.json: byte-level BPE (Qwen2/2.5/3, Llama-3, GPT-2 style,
 * SmolLM2's vocabulary without 21 byte symbols) and SentencePiece-style BPE over characters
 * (Llama-2 / Mistral: Prepend + Replace or Metaspace, byte_fallback, unk; see "generic BPE over
 * units" and "SentencePiece style" below, and docs/tokenizer.md).
 *
 * Pipeline of encode (the same order as HF tokenizers with add_special_tokens=False):
 *   1. added tokens with normalized=false are matched on the raw text (leftmost-longest);
 *   2. the text between them is cut into valid UTF-8 runs; every byte that is not part of a
 *      valid UTF-8 sequence becomes one token of its own (the byte-level token for that byte);
 *   3. each run is normalized (NFC when the tokenizer has it), added tokens with
 *      normalized=true are matched on the normalized text;
 *   4. the rest is split by the pre-tokenizer regex (pretok.c) and each piece is encoded by
 *      BPE: the piece's bytes start as single-byte symbols and the adjacent pair with the
 *      lowest merge rank (leftmost among equals) is merged until no pair has a rank.
 * Tokens are kept as their raw bytes (the byte-level alphabet Ġ, Ċ, ... is undone at load),
 * so BPE works on bytes and decode is a concatenation.
 *
 * Thread safety: the struct is read-only after load (but for the atomic count of dropped
 * bytes). Each thread gets its own small cache of
 * piece -> ids (direct-mapped, fixed size) through a pthread key; the caches are owned by the
 * tokenizer and freed with it (or when their thread exits).
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "long1k/io.h"
#include "long1k/jsonl.h"
#include "long1k/rng.h"
#include "long1k/tokenizer.h"
#include "text/tok_internal.h"

/* ------------------------------------------------------------------------------------------ */
/* id lists                                                                                     */

int l1k_ids_push(l1k_ids *v, int32_t id) {
  if (v->len == v->cap) {
    size_t nc = v->cap ? v->cap * 2 : 64;
    int32_t *nd = realloc(v->data, nc * sizeof *nd);
    if (!nd) return L1K_ENOMEM;
    v->data = nd;
    v->cap = nc;
  }
  v->data[v->len++] = id;
  return 0;
}

static int ids_reserve(l1k_ids *v, size_t extra) {
  if (v->len + extra <= v->cap) return 0;
  size_t nc = v->cap ? v->cap : 64;
  while (nc < v->len + extra) nc *= 2;
  int32_t *nd = realloc(v->data, nc * sizeof *nd);
  if (!nd) return L1K_ENOMEM;
  v->data = nd;
  v->cap = nc;
  return 0;
}

void l1k_ids_free(l1k_ids *v) {
  free(v->data);
  v->data = NULL;
  v->len = v->cap = 0;
}

/* ------------------------------------------------------------------------------------------ */
/* hashing and tables                                                                           */

static inline uint64_t hash_bytes(const uint8_t *p, size_t n) {
  uint64_t h = 0x9E3779B97F4A7C15ULL ^ (n * 0x100000001B3ULL);
  while (n >= 8) {
    uint64_t v;
    memcpy(&v, p, 8);
    h = (h ^ v) * 0x100000001B3ULL;
    h ^= h >> 29;
    p += 8;
    n -= 8;
  }
  uint64_t v = 0;
  memcpy(&v, p, n);
  h ^= v;
  return l1k_fmix64(h);
}

/* bytes -> id, open addressing. Keys live in an arena owned by the tokenizer. */
typedef struct {
  uint32_t off, len;
  int32_t id;
  uint32_t tag; /* high bits of the hash, to skip most memcmp */
} bmap_ent;

typedef struct {
  bmap_ent *e; /* id < 0: empty */
  size_t mask;
  const uint8_t *arena;
} bmap;

static int bmap_init(bmap *m, size_t n, l1k_err *err) {
  size_t cap = 16;
  while (cap < n + n / 3) cap *= 2; /* load factor at most 3/4 */
  m->e = l1k_malloc(cap * sizeof *m->e, err);
  if (!m->e) return L1K_ENOMEM;
  for (size_t i = 0; i < cap; i++) m->e[i].id = -1;
  m->mask = cap - 1;
  return 0;
}

static int32_t bmap_get(const bmap *m, const uint8_t *k, size_t n) {
  uint64_t h = hash_bytes(k, n);
  uint32_t tag = (uint32_t)(h >> 32);
  for (size_t i = h & m->mask;; i = (i + 1) & m->mask) {
    const bmap_ent *e = &m->e[i];
    if (e->id < 0) return -1;
    if (e->tag == tag && e->len == n && memcmp(m->arena + e->off, k, n) == 0) return e->id;
  }
}

/* inserts (keeps the first id for a key); returns 1 if the key was new */
static int bmap_put(bmap *m, uint32_t off, uint32_t len, int32_t id) {
  const uint8_t *k = m->arena + off;
  uint64_t h = hash_bytes(k, len);
  uint32_t tag = (uint32_t)(h >> 32);
  for (size_t i = h & m->mask;; i = (i + 1) & m->mask) {
    bmap_ent *e = &m->e[i];
    if (e->id < 0) {
      e->off = off;
      e->len = len;
      e->id = id;
      e->tag = tag;
      return 1;
    }
    if (e->tag == tag && e->len == len && memcmp(m->arena + e->off, k, len) == 0) return 0;
  }
}

/* (left id, right id) -> rank, packed in 8 bytes: left (20 bits) | right (20) | rank (24);
 * all ones = empty. The merged id is merge_id[rank]. Small entries keep the table (2 MiB for
 * Qwen) in cache. */
#define MERGE_ID_BITS 20
#define MERGE_RANK_BITS 24
#define MERGE_EMPTY UINT64_MAX

static inline uint64_t pair_key(int32_t a, int32_t b) {
  return ((uint64_t)(uint32_t)a << MERGE_ID_BITS) | (uint32_t)b; /* 40 bits */
}
static inline size_t pair_slot(uint64_t k) { return (size_t)((k * 0x9E3779B97F4A7C15ULL) >> 20); }

/* ------------------------------------------------------------------------------------------ */
/* per-thread piece cache                                                                       */

#define CACHE_SLOTS 32768 /* per thread: 32768 * 64 bytes = 2 MiB */
#define CACHE_KEY 30
#define CACHE_IDS 7

typedef struct {
  uint32_t hash;
  uint8_t klen, nids; /* klen 0: empty */
  uint8_t key[CACHE_KEY];
  int32_t ids[CACHE_IDS];
} cache_ent;

typedef struct tcache {
  struct tcache *next, *prev;
  struct l1k_tokenizer *owner;
  cache_ent slots[CACHE_SLOTS];
} tcache;

/* ------------------------------------------------------------------------------------------ */
/* the tokenizer                                                                                */

typedef struct {
  uint8_t *content;
  size_t len;
  int32_t id;
  uint8_t lstrip, rstrip, single_word, normalized, special;
  uint8_t *norm; /* char level with Prepend / Replace, normalized: the content normalized */
  size_t norm_len;
} added_tok;

/* byte trie over added tokens (one per normalized flag) */
typedef struct {
  int32_t *next; /* node * 256 -> child node, 0 = none */
  int32_t *tok;  /* node -> index in added[] or -1 */
  size_t n, cap;
  uint8_t first[256];
} trie;

/* SentencePiece-style text rewriting (normalizers Prepend / Replace, the Metaspace
 * pre-tokenizer): prefix (may be NULL) is put before a non-empty text, every `from` is
 * replaced by `to` (from may be NULL). */
typedef struct {
  char *prefix, *from, *to;
} rewrite_op;

enum { META_ALWAYS = 1, META_FIRST, META_NEVER };

#define MAX_NORM_OPS 8

struct l1k_tokenizer {
  l1k_pre_kind pre; /* byte level: the Split regex; 0 for SentencePiece style */
  int nfc;
  int ignore_merges;
  int32_t vocab_size;
  /* model kind: byte-level BPE over raw bytes, or SentencePiece-style BPE over characters */
  int charlevel;
  int generic;       /* char level, or byte level with missing bytes: pieces (that hold a
                        byte without symbol) go through bpe_units */
  int missing_bytes; /* byte level: byte symbols the vocabulary lacks */
  int byte_fallback, fuse_unk;
  int32_t unk_id;     /* model.unk_token, -1 if none */
  int32_t fb_id[256]; /* byte_fallback: id of <0xNN>, -1 if absent */
  /* normalizer ops (char level) and the Metaspace pre-tokenizer */
  rewrite_op norm_ops[MAX_NORM_OPS];
  int n_norm_ops;
  int meta;           /* Metaspace pre-tokenizer present */
  char *meta_repl;    /* its replacement (UTF-8) */
  int meta_scheme, meta_split;
  /* decoder (char level): Metaspace or Sequence[Replace, ByteFallback, Fuse, Strip] */
  char *dec_drop_first; /* replaced by " " in every token (Metaspace / Replace decoder) */
  int dec_first;        /* Metaspace decoder: ... and removed from the first token instead */
  int dec_fallback;     /* ByteFallback decoder: <0xNN> decodes to that byte */
  int strip_start, strip_stop;
  char *strip_ch;
  uint64_t dropped; /* bytes dropped by encode (atomic) */
  /* per id */
  char **id_str;       /* token as written in tokenizer.json, NULL if the id is unused */
  uint32_t *dec_off;   /* decoded bytes of each id in dec_arena */
  uint32_t *dec_len;
  uint8_t *id_flags;   /* 1: added token, 2: special, 4: in model.vocab */
  uint8_t *dec_arena;
  size_t dec_arena_len;
  /* lookups */
  bmap str_map;   /* id_str -> id (token_to_id); arena = str_arena */
  uint8_t *str_arena;
  bmap byte_map;  /* model tokens as BPE sees them -> id: raw bytes (byte level, arena =
                     dec_arena) or the token string (char level, arena = str_arena) */
  int32_t byte_id[256];
  uint64_t *merges; /* packed entries, see MERGE_ID_BITS */
  size_t merges_mask;
  int32_t *merge_id; /* rank -> merged token id */
  /* added tokens */
  added_tok *added;
  size_t n_added;
  trie trie_raw, trie_norm;
  /* per-thread caches */
  pthread_key_t key;
  int key_ok;
  pthread_mutex_t lock;
  tcache *caches;
};

static inline int32_t merge_get(const l1k_tokenizer *t, int32_t a, int32_t b, int32_t *id) {
  uint64_t k = pair_key(a, b);
  for (size_t i = pair_slot(k) & t->merges_mask;; i = (i + 1) & t->merges_mask) {
    uint64_t e = t->merges[i];
    if ((e >> MERGE_RANK_BITS) == k) {
      int32_t r = (int32_t)(e & ((1u << MERGE_RANK_BITS) - 1));
      *id = t->merge_id[r];
      return r;
    }
    if (e == MERGE_EMPTY) return INT32_MAX;
  }
}

static inline void merge_prefetch(const l1k_tokenizer *t, int32_t a, int32_t b) {
  __builtin_prefetch(&t->merges[pair_slot(pair_key(a, b)) & t->merges_mask]);
}

/* ---- GPT-2 byte <-> unicode alphabet ---- */
static void byte_alphabet(uint32_t b2u[256]) {
  int n = 0;
  for (int b = 0; b < 256; b++) {
    if ((b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF))
      b2u[b] = (uint32_t)b;
    else
      b2u[b] = (uint32_t)(256 + n++);
  }
}

/* Converts a token string of the byte-level alphabet to raw bytes. Returns the byte count, or
 * -1 if a character is not in the alphabet (then the token's own UTF-8 bytes are its bytes,
 * as HF's ByteLevel decoder does). out must hold len bytes. */
static long unbyte(const uint8_t *u2b_ok, const uint8_t *u2b, const char *s, size_t len,
                   uint8_t *out) {
  size_t i = 0, o = 0;
  while (i < len) {
    uint32_t cp;
    int k = l1k_utf8_decode((const uint8_t *)s + i, len - i, &cp);
    if (k == 0 || cp >= 324 || !u2b_ok[cp]) return -1;
    out[o++] = u2b[cp];
    i += (size_t)k;
  }
  return (long)o;
}

/* ---- trie ---- */
static int trie_add(trie *tr, const uint8_t *s, size_t n, int32_t idx, l1k_err *err) {
  if (tr->cap == 0) {
    tr->cap = 64;
    tr->next = calloc(tr->cap * 256, sizeof(int32_t));
    tr->tok = malloc(tr->cap * sizeof(int32_t));
    if (!tr->next || !tr->tok) return l1k_errf(err, L1K_ENOMEM, "out of memory");
    tr->n = 1;
    tr->tok[0] = -1;
  }
  size_t node = 0;
  for (size_t i = 0; i < n; i++) {
    int32_t c = tr->next[node * 256 + s[i]];
    if (!c) {
      if (tr->n == tr->cap) {
        size_t nc = tr->cap * 2;
        int32_t *nn = realloc(tr->next, nc * 256 * sizeof(int32_t));
        if (!nn) return l1k_errf(err, L1K_ENOMEM, "out of memory");
        memset(nn + tr->cap * 256, 0, (nc - tr->cap) * 256 * sizeof(int32_t));
        tr->next = nn;
        int32_t *nt = realloc(tr->tok, nc * sizeof(int32_t));
        if (!nt) return l1k_errf(err, L1K_ENOMEM, "out of memory");
        tr->tok = nt;
        tr->cap = nc;
      }
      c = (int32_t)tr->n++;
      tr->tok[c] = -1;
      tr->next[node * 256 + s[i]] = c;
    }
    node = (size_t)c;
  }
  if (tr->tok[node] < 0) tr->tok[node] = idx; /* first declaration wins for duplicates */
  tr->first[s[0]] = 1;
  return 0;
}

/* longest added token starting at s[0..n): index into added[], or -1; *mlen its length */
static int32_t trie_match(const trie *tr, const uint8_t *s, size_t n, size_t *mlen) {
  size_t node = 0;
  int32_t best = -1;
  for (size_t i = 0; i < n; i++) {
    int32_t c = tr->next[node * 256 + s[i]];
    if (!c) break;
    node = (size_t)c;
    if (tr->tok[node] >= 0) {
      best = tr->tok[node];
      *mlen = i + 1;
    }
  }
  return best;
}

static void trie_free(trie *tr) {
  free(tr->next);
  free(tr->tok);
}

/* ------------------------------------------------------------------------------------------ */
/* loading: phases                                                                              */

static const char *PAT_QWEN =
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|"
    "\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
static const char *PAT_LLAMA3 =
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|"
    "\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

/* what the loader carries between phases */
typedef struct {
  const char *file; /* the tokenizer.json path, for messages */
  cJSON *root;
  const cJSON *model;
  size_t cap;       /* capacity of the per-id tables */
  size_t n_vocab;   /* model.vocab entries */
  size_t str_bytes; /* total length of the token strings */
} loader;

static int is_type(const cJSON *o, const char *type) {
  const cJSON *t = cJSON_GetObjectItemCaseSensitive(o, "type");
  return cJSON_IsString(t) && strcmp(t->valuestring, type) == 0;
}

static const char *type_of(const cJSON *o) {
  const cJSON *t = cJSON_GetObjectItemCaseSensitive(o, "type");
  return cJSON_IsString(t) ? t->valuestring : "?";
}

static int json_true(const cJSON *o, const char *k) {
  return cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, k));
}

static int is_null(const cJSON *o) { return !o || cJSON_IsNull(o); }

/* a non-empty string field, strdup'ed into *out */
static int dup_string(const cJSON *o, const char *k, char **out, const char *path,
                      const char *where, l1k_err *err) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
  if (!cJSON_IsString(v) || !v->valuestring[0])
    return l1k_errf(err, L1K_EINPUT, "%s: %s.%s: expected a non-empty string", path, where, k);
  *out = strdup(v->valuestring);
  return *out ? 0 : l1k_errf(err, L1K_ENOMEM, "out of memory");
}

/* Phase 1: the file (or dir/tokenizer.json) parsed as JSON. *file: the path read (malloc). */
static cJSON *read_json(const char *path, char **file, l1k_err *err) {
  if (l1k_is_dir(path)) {
    *file = l1k_path_join(path, "tokenizer.json");
    if (!*file) {
      l1k_errf(err, L1K_ENOMEM, "out of memory");
      return NULL;
    }
    if (!l1k_file_exists(*file)) {
      l1k_errf(err, L1K_EINPUT, "%s: no tokenizer.json in this directory", path);
      return NULL;
    }
  } else if (!(*file = l1k_strdup(path, err))) {
    return NULL;
  }
  size_t flen = 0;
  char *text = l1k_read_file(*file, &flen, err);
  if (!text) return NULL;
  cJSON *root = l1k_json_parse_doc(text, flen, *file, err); /* one document, nothing after */
  free(text);
  return root;
}

/* Phase 2: model options (type, dropout, prefixes, byte_fallback, fuse_unk, ignore_merges). */
static int load_model_options(l1k_tokenizer *t, loader *L, l1k_err *err) {
  const cJSON *model = L->model = cJSON_GetObjectItemCaseSensitive(L->root, "model");
  if (!cJSON_IsObject(model))
    return l1k_errf(err, L1K_EINPUT, "%s: field 'model': expected an object", L->file);
  const cJSON *mtype = cJSON_GetObjectItemCaseSensitive(model, "type");
  if (mtype && !(cJSON_IsString(mtype) && strcmp(mtype->valuestring, "BPE") == 0))
    return l1k_errf(err, L1K_EUNSUPPORTED, "%s: model.type '%s': only BPE is supported", L->file,
                    cJSON_IsString(mtype) ? mtype->valuestring : "?");
  const cJSON *drop = cJSON_GetObjectItemCaseSensitive(model, "dropout");
  if (!is_null(drop) && !(cJSON_IsNumber(drop) && drop->valuedouble == 0))
    return l1k_errf(err, L1K_EUNSUPPORTED, "%s: model.dropout: BPE dropout is not supported",
                    L->file);
  static const char *fields[] = {"continuing_subword_prefix", "end_of_word_suffix"};
  for (int i = 0; i < 2; i++) {
    const cJSON *f = cJSON_GetObjectItemCaseSensitive(model, fields[i]);
    if (!is_null(f) && !(cJSON_IsString(f) && f->valuestring[0] == 0))
      return l1k_errf(err, L1K_EUNSUPPORTED, "%s: model.%s: must be empty", L->file, fields[i]);
  }
  t->ignore_merges = json_true(model, "ignore_merges");
  t->byte_fallback = json_true(model, "byte_fallback");
  t->fuse_unk = json_true(model, "fuse_unk");
  const cJSON *unk = cJSON_GetObjectItemCaseSensitive(model, "unk_token");
  if (!is_null(unk) && !cJSON_IsString(unk))
    return l1k_errf(err, L1K_EINPUT, "%s: model.unk_token: expected a string or null", L->file);
  return 0;
}

/* one normalizer: NFC, Prepend or Replace with a String pattern */
static int add_normalizer(l1k_tokenizer *t, const cJSON *nm, const char *where, const char *path,
                          l1k_err *err) {
  if (is_type(nm, "NFC")) {
    t->nfc = 1;
    return 0;
  }
  int prepend = is_type(nm, "Prepend"), replace = is_type(nm, "Replace");
  if (!prepend && !replace)
    return l1k_errf(err, L1K_EUNSUPPORTED,
                    "%s: %s: type '%.40s' is not supported (supported: NFC, Prepend, Replace with "
                    "a String pattern, or none)",
                    path, where, type_of(nm));
  if (t->n_norm_ops == MAX_NORM_OPS)
    return l1k_errf(err, L1K_EUNSUPPORTED, "%s: %s: more than %d normalizers", path, where,
                    MAX_NORM_OPS);
  rewrite_op *op = &t->norm_ops[t->n_norm_ops++];
  if (prepend) return dup_string(nm, "prepend", &op->prefix, path, where, err);
  const cJSON *pat = cJSON_GetObjectItemCaseSensitive(nm, "pattern");
  if (!cJSON_IsObject(pat) || !cJSON_GetObjectItemCaseSensitive(pat, "String"))
    return l1k_errf(err, L1K_EUNSUPPORTED,
                    "%s: %s.pattern: only a String pattern is supported (not a Regex)", path, where);
  const cJSON *c = cJSON_GetObjectItemCaseSensitive(nm, "content");
  if (!cJSON_IsString(c))
    return l1k_errf(err, L1K_EINPUT, "%s: %s.content: expected a string", path, where);
  if (!(op->to = strdup(c->valuestring))) return l1k_errf(err, L1K_ENOMEM, "out of memory");
  char sub[96];
  snprintf(sub, sizeof sub, "%s.pattern", where);
  return dup_string(pat, "String", &op->from, path, sub, err);
}

/* Phase 3: the normalizer: none, one of the above, or a Sequence of them. */
static int parse_normalizer(l1k_tokenizer *t, const cJSON *nm, const char *path, l1k_err *err) {
  if (is_null(nm)) return 0;
  if (!is_type(nm, "Sequence")) return add_normalizer(t, nm, "normalizer", path, err);
  const cJSON *it;
  int i = 0;
  cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(nm, "normalizers")) {
    char where[64];
    snprintf(where, sizeof where, "normalizer.normalizers[%d]", i++);
    int rc = add_normalizer(t, it, where, path, err);
    if (rc) return rc;
  }
  if (t->nfc && t->n_norm_ops)
    return l1k_errf(err, L1K_EUNSUPPORTED,
                    "%s: normalizer: NFC together with Prepend / Replace is not supported", path);
  return 0;
}

static int check_bytelevel(const cJSON *bl, const char *where, int want_regex, const char *path,
                           l1k_err *err) {
  if (json_true(bl, "add_prefix_space"))
    return l1k_errf(err, L1K_EUNSUPPORTED,
                    "%s: %s: ByteLevel with add_prefix_space=true is not supported", path, where);
  if (!want_regex && json_true(bl, "use_regex"))
    return l1k_errf(err, L1K_EUNSUPPORTED,
                    "%s: %s: ByteLevel with use_regex=true after a Split is not supported", path,
                    where);
  return 0;
}

/* Metaspace (pre-tokenizer or decoder): replacement, prepend_scheme (or the older
 * add_prefix_space), split */
static int parse_metaspace(const cJSON *m, const char *where, char **repl, int *scheme,
                           int *split, const char *path, l1k_err *err) {
  int rc = dup_string(m, "replacement", repl, path, where, err);
  if (rc) return rc;
  const cJSON *ps = cJSON_GetObjectItemCaseSensitive(m, "prepend_scheme");
  if (cJSON_IsString(ps)) {
    const char *v = ps->valuestring;
    *scheme = !strcmp(v, "always") ? META_ALWAYS : !strcmp(v, "first") ? META_FIRST
              : !strcmp(v, "never") ? META_NEVER : 0;
    if (!*scheme)
      return l1k_errf(err, L1K_EINPUT,
                      "%s: %s.prepend_scheme '%.40s': expected always, first or never", path, where,
                      v);
  } else {
    const cJSON *aps = cJSON_GetObjectItemCaseSensitive(m, "add_prefix_space");
    *scheme = is_null(aps) || cJSON_IsTrue(aps) ? META_ALWAYS : META_NEVER;
  }
  const cJSON *sp = cJSON_GetObjectItemCaseSensitive(m, "split");
  if (split) *split = is_null(sp) || cJSON_IsTrue(sp);
  return 0;
}

static int parse_split_bytelevel(l1k_tokenizer *t, const cJSON *pre, const char *path,
                                 l1k_err *err) {
  const cJSON *list = cJSON_GetObjectItemCaseSensitive(pre, "pretokenizers");
  if (cJSON_GetArraySize(list) != 2 || !is_type(cJSON_GetArrayItem(list, 0), "Split") ||
      !is_type(cJSON_GetArrayItem(list, 1), "ByteLevel"))
    return l1k_errf(err, L1K_EUNSUPPORTED,
                    "%s: pre_tokenizer: expected the sequence [Split, ByteLevel]", path);
  const cJSON *split = cJSON_GetArrayItem(list, 0);
  const cJSON *pat = cJSON_GetObjectItemCaseSensitive(split, "pattern");
  const cJSON *re = cJSON_GetObjectItemCaseSensitive(pat, "Regex");
  const cJSON *beh = cJSON_GetObjectItemCaseSensitive(split, "behavior");
  if (!cJSON_IsString(re))
    return l1k_errf(err, L1K_EUNSUPPORTED, "%s: pre_tokenizer.Split: expected a Regex pattern",
                    path);
  if (!cJSON_IsString(beh) || strcmp(beh->valuestring, "Isolated") != 0 ||
      json_true(split, "invert"))
    return l1k_errf(err, L1K_EUNSUPPORTED,
                    "%s: pre_tokenizer.Split: only behavior Isolated without invert is supported",
                    path);
  if (strcmp(re->valuestring, PAT_QWEN) == 0)
    t->pre = L1K_PRE_QWEN;
  else if (strcmp(re->valuestring, PAT_LLAMA3) == 0)
    t->pre = L1K_PRE_LLAMA3;
  else
    return l1k_errf(err, L1K_EUNSUPPORTED,
                    "%s: pre_tokenizer.Split: regex is not one of the built-in ones (Qwen2/2.5/3, "
                    "Llama-3): %.200s",
                    path, re->valuestring);
  return check_bytelevel(cJSON_GetArrayItem(list, 1), "pre_tokenizer.ByteLevel", 0, path, err);
}

/* A Split on a String that the normalizer has already replaced everywhere (Gemma 3: Replace
 * " " by "\u2581", then Split " " MergedWithPrevious): it never matches, so the text stays one
 * piece, as with no pre-tokenizer. Accepted only when that is provable from the normalizer ops,
 * and only for a single character (a longer string could be re-formed by a later removal). */
static int split_never_matches(const l1k_tokenizer *t, const char *s) {
  size_t n = strlen(s);
  unsigned char c = (unsigned char)s[0];
  size_t want = c < 0x80 ? 1 : c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : 2;
  if (n != want) return 0;
  int gone = 0;
  for (int i = 0; i < t->n_norm_ops; i++) {
    const rewrite_op *op = &t->norm_ops[i];
    if (op->prefix && strstr(op->prefix, s)) gone = 0;
    if (op->from && strcmp(op->from, s) == 0 && !strstr(op->to, s)) gone = 1;
    else if (op->to && strstr(op->to, s)) gone = 0;
  }
  return gone;
}

static int parse_split_string(l1k_tokenizer *t, const cJSON *pre, const char *path,
                              l1k_err *err) {
  const cJSON *pat = cJSON_GetObjectItemCaseSensitive(pre, "pattern");
  const cJSON *s = cJSON_GetObjectItemCaseSensitive(pat, "String");
  if (!cJSON_IsString(s) || !s->valuestring[0] || json_true(pre, "invert"))
    return l1k_errf(err, L1K_EUNSUPPORTED,
                    "%s: pre_tokenizer: a lone Split is supported only with a String pattern "
                    "and invert=false",
                    path);
  if (!split_never_matches(t, s->valuestring))
    return l1k_errf(err, L1K_EUNSUPPORTED,
                    "%s: pre_tokenizer.Split: String pattern \"%.40s\" can still occur after the "
                    "normalizer (supported only for one character that a Replace normalizer removes)",
                    path, s->valuestring);
  t->charlevel = 1; /* never splits: the same as no pre-tokenizer */
  return 0;
}

/* Phase 4: the pre-tokenizer; decides byte level (ByteLevel) or char level (Metaspace / none). */
static int parse_pre(l1k_tokenizer *t, const cJSON *pre, const char *path, l1k_err *err) {
  if (is_null(pre)) {
    t->charlevel = 1; /* Llama-2: the normalizer did the Metaspace work */
    return 0;
  }
  if (is_type(pre, "Metaspace")) {
    t->charlevel = t->meta = 1;
    return parse_metaspace(pre, "pre_tokenizer", &t->meta_repl, &t->meta_scheme, &t->meta_split,
                           path, err);
  }
  if (is_type(pre, "ByteLevel")) {
    const cJSON *ur = cJSON_GetObjectItemCaseSensitive(pre, "use_regex");
    if (ur && !cJSON_IsTrue(ur))
      return l1k_errf(err, L1K_EUNSUPPORTED,
                      "%s: pre_tokenizer: ByteLevel without its regex is not supported", path);
    t->pre = L1K_PRE_GPT2;
    return check_bytelevel(pre, "pre_tokenizer", 1, path, err);
  }
  if (is_type(pre, "Sequence")) return parse_split_bytelevel(t, pre, path, err);
  if (is_type(pre, "Split")) return parse_split_string(t, pre, path, err);
  return l1k_errf(err, L1K_EUNSUPPORTED,
                  "%s: pre_tokenizer: type '%.40s' is not supported (supported: ByteLevel, "
                  "Sequence [Split, ByteLevel], Metaspace, a Split the normalizer makes "
                  "unmatchable, or none)",
                  path, type_of(pre));
}

/* the decoders of Llama-2's Sequence, in this order, each optional: Replace(String) ByteFallback
 * Fuse Strip (Strip only after Fuse, so that it applies to the whole text) */
static int parse_decoder_seq(l1k_tokenizer *t, const cJSON *list, const char *path,
                             l1k_err *err) {
  static const char *order[] = {"Replace", "ByteFallback", "Fuse", "Strip"};
  int next = 0, fuse = 0, i = 0;
  const cJSON *d;
  cJSON_ArrayForEach(d, list) {
    int k = next;
    while (k < 4 && !is_type(d, order[k])) k++;
    if (k == 4)
      return l1k_errf(err, L1K_EUNSUPPORTED,
                      "%s: decoder.decoders[%d]: '%.40s' is not supported here (supported: "
                      "Replace, ByteFallback, Fuse, Strip, in this order)",
                      path, i, type_of(d));
    next = k + 1;
    char where[64];
    snprintf(where, sizeof where, "decoder.decoders[%d]", i++);
    if (k == 0) {
      const cJSON *pat = cJSON_GetObjectItemCaseSensitive(d, "pattern");
      const cJSON *c = cJSON_GetObjectItemCaseSensitive(d, "content");
      const cJSON *from = cJSON_GetObjectItemCaseSensitive(pat, "String");
      if (!cJSON_IsString(from) || !cJSON_IsString(c) || strcmp(c->valuestring, " ") != 0)
        return l1k_errf(err, L1K_EUNSUPPORTED,
                        "%s: %s: only Replace of a String by \" \" is supported", path, where);
      if (!(t->dec_drop_first = strdup(from->valuestring)))
        return l1k_errf(err, L1K_ENOMEM, "out of memory");
    } else if (k == 1) {
      t->dec_fallback = 1; /* ByteFallback: <0xNN> decodes to its byte */
    } else if (k == 2) {
      fuse = 1;
    } else {
      const cJSON *st = cJSON_GetObjectItemCaseSensitive(d, "start");
      const cJSON *sp = cJSON_GetObjectItemCaseSensitive(d, "stop");
      if (!fuse || !cJSON_IsNumber(st) || !cJSON_IsNumber(sp) || st->valuedouble < 0 ||
          sp->valuedouble < 0 || st->valuedouble > 64 || sp->valuedouble > 64)
        return l1k_errf(err, L1K_EUNSUPPORTED,
                        "%s: %s: expected Strip after Fuse with start and stop in 0..64", path,
                        where);
      t->strip_start = (int)st->valuedouble;
      t->strip_stop = (int)sp->valuedouble;
      int rc = dup_string(d, "content", &t->strip_ch, path, where, err);
      if (rc) return rc;
    }
  }
  return 0;
}

/* Phase 5: the decoder. Byte level: ByteLevel (or none). Char level: Metaspace, or the
 * Sequence above. The decoded bytes of each token are computed once (build_tables). */
static int parse_decoder(l1k_tokenizer *t, const cJSON *dec, const char *path, l1k_err *err) {
  if (!t->charlevel) {
    if (!is_null(dec) && !is_type(dec, "ByteLevel"))
      return l1k_errf(err, L1K_EUNSUPPORTED, "%s: decoder: only ByteLevel is supported", path);
    return 0;
  }
  if (is_type(dec, "Metaspace")) {
    int scheme = 0;
    char *repl = NULL;
    int rc = parse_metaspace(dec, "decoder", &repl, &scheme, NULL, path, err);
    if (rc) {
      free(repl);
      return rc;
    }
    t->dec_drop_first = repl; /* replaced by " ", and removed from the first token */
    t->dec_first = scheme != META_NEVER;
    return 0;
  }
  if (is_type(dec, "Sequence")) {
    return parse_decoder_seq(t, cJSON_GetObjectItemCaseSensitive(dec, "decoders"), path, err);
  }
  return l1k_errf(err, L1K_EUNSUPPORTED,
                  "%s: decoder: '%.40s' is not supported for a tokenizer without ByteLevel "
                  "(supported: Metaspace, Sequence [Replace, ByteFallback, Fuse, Strip])",
                  path, is_null(dec) ? "null" : type_of(dec));
}

/* grows the per-id tables so that id fits */
static int ensure_id(l1k_tokenizer *t, int32_t id, size_t *cap, l1k_err *err) {
  if ((size_t)id < *cap) return 0;
  size_t nc = *cap ? *cap : 1024;
  while (nc <= (size_t)id) nc *= 2;
  char **ns = realloc(t->id_str, nc * sizeof *ns);
  if (!ns) return l1k_errf(err, L1K_ENOMEM, "out of memory");
  memset(ns + *cap, 0, (nc - *cap) * sizeof *ns);
  t->id_str = ns;
  uint8_t *nf = realloc(t->id_flags, nc);
  if (!nf) return l1k_errf(err, L1K_ENOMEM, "out of memory");
  memset(nf + *cap, 0, nc - *cap);
  t->id_flags = nf;
  *cap = nc;
  return 0;
}

/* Phase 6: model.vocab. id_str points into the cJSON tree until build_tables. */
static int load_vocab(l1k_tokenizer *t, loader *L, l1k_err *err) {
  const cJSON *vocab = cJSON_GetObjectItemCaseSensitive(L->model, "vocab");
  if (!cJSON_IsObject(vocab))
    return l1k_errf(err, L1K_EINPUT, "%s: field 'model.vocab': expected an object", L->file);
  const cJSON *it;
  cJSON_ArrayForEach(it, vocab) {
    if (!cJSON_IsNumber(it) || it->valuedouble < 0 || it->valuedouble > 1e8 ||
        it->valuedouble != (double)(int32_t)it->valuedouble)
      return l1k_errf(err, L1K_EINPUT,
                      "%s: model.vocab['%.100s']: expected a non-negative integer id", L->file,
                      it->string);
    int32_t id = (int32_t)it->valuedouble;
    int rc = ensure_id(t, id, &L->cap, err);
    if (rc) return rc;
    if (t->id_str[id])
      return l1k_errf(err, L1K_EINPUT, "%s: model.vocab: id %d is used twice ('%.100s', '%.100s')",
                      L->file, id, t->id_str[id], it->string);
    t->id_str[id] = it->string;
    t->id_flags[id] |= 4; /* in the model vocabulary */
    if (id + 1 > t->vocab_size) t->vocab_size = id + 1;
    L->n_vocab++;
    L->str_bytes += strlen(it->string);
  }
  return 0;
}

static int load_added_one(l1k_tokenizer *t, loader *L, const cJSON *it, int k, l1k_err *err) {
  const cJSON *idj = cJSON_GetObjectItemCaseSensitive(it, "id");
  const cJSON *cj = cJSON_GetObjectItemCaseSensitive(it, "content");
  if (!cJSON_IsNumber(idj) || idj->valuedouble < 0 || idj->valuedouble > 1e8 ||
      !cJSON_IsString(cj) || !cj->valuestring[0])
    return l1k_errf(err, L1K_EINPUT,
                    "%s: added_tokens[%d]: expected an object with an integer 'id' and a "
                    "non-empty 'content'",
                    L->file, k);
  int32_t id = (int32_t)idj->valuedouble;
  added_tok *a = &t->added[t->n_added++];
  a->len = strlen(cj->valuestring);
  a->content = (uint8_t *)strdup(cj->valuestring);
  if (!a->content) return l1k_errf(err, L1K_ENOMEM, "out of memory");
  a->id = id;
  a->lstrip = (uint8_t)json_true(it, "lstrip");
  a->rstrip = (uint8_t)json_true(it, "rstrip");
  a->single_word = (uint8_t)json_true(it, "single_word");
  a->normalized = (uint8_t)json_true(it, "normalized");
  a->special = (uint8_t)json_true(it, "special");
  int rc = ensure_id(t, id, &L->cap, err);
  if (rc) return rc;
  if (t->id_str[id] && strcmp(t->id_str[id], cj->valuestring) != 0)
    return l1k_errf(err, L1K_EINPUT,
                    "%s: added_tokens[%d]: id %d is '%.100s' in the vocabulary, not '%.100s'",
                    L->file, k, id, t->id_str[id], cj->valuestring);
  if (!t->id_str[id]) {
    t->id_str[id] = cj->valuestring;
    L->str_bytes += a->len;
  }
  t->id_flags[id] |= (uint8_t)(1 | (a->special ? 2 : 0));
  if (id + 1 > t->vocab_size) t->vocab_size = id + 1;
  return 0;
}

/* Phase 7: added_tokens. */
static int load_added(l1k_tokenizer *t, loader *L, l1k_err *err) {
  const cJSON *added = cJSON_GetObjectItemCaseSensitive(L->root, "added_tokens");
  if (added && !cJSON_IsArray(added) && !cJSON_IsNull(added))
    return l1k_errf(err, L1K_EINPUT, "%s: field 'added_tokens': expected an array", L->file);
  int n = cJSON_IsArray(added) ? cJSON_GetArraySize(added) : 0;
  t->added = calloc((size_t)n + 1, sizeof *t->added);
  if (!t->added) return l1k_errf(err, L1K_ENOMEM, "out of memory");
  int k = 0;
  const cJSON *it;
  cJSON_ArrayForEach(it, added) {
    int rc = load_added_one(t, L, it, k++, err);
    if (rc) return rc;
  }
  if (t->vocab_size == 0) return l1k_errf(err, L1K_EINPUT, "%s: model.vocab is empty", L->file);
  return 0;
}

static int rewrite(const char *prefix, const char *from, const char *to, const uint8_t *s,
                   size_t n, const size_t *map, size_t base, uint8_t **out, size_t *olen,
                   size_t **omap);

/* <0xNN> (byte_fallback tokens): the byte, or -1 */
static int fallback_byte(const char *s, size_t L) {
  if (L != 6 || s[0] != '<' || s[1] != '0' || s[2] != 'x' || s[5] != '>') return -1;
  int v = 0;
  for (int i = 3; i < 5; i++) {
    char c = s[i];
    int d = c >= '0' && c <= '9' ? c - '0' : c >= 'A' && c <= 'F' ? c - 'A' + 10
            : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
    if (d < 0) return -1;
    v = v * 16 + d;
  }
  return v;
}

/* Char level: the decoded bytes of token s (length L), written to out when not NULL; returns
 * their count. ByteFallback: <0xNN> is that byte; the decoder's replacement becomes " ". */
static size_t sp_decoded(const l1k_tokenizer *t, const char *s, size_t L, uint8_t *out) {
  int b = t->dec_fallback ? fallback_byte(s, L) : -1;
  if (b >= 0) {
    if (out) out[0] = (uint8_t)b;
    return 1;
  }
  const char *r = t->dec_drop_first;
  size_t rl = r ? strlen(r) : 0, o = 0;
  for (size_t i = 0; i < L;) {
    if (rl && i + rl <= L && memcmp(s + i, r, rl) == 0) {
      if (out) out[o] = ' ';
      o++;
      i += rl;
    } else {
      if (out) out[o] = (uint8_t)s[i];
      o++;
      i++;
    }
  }
  return o;
}

/* the decoded bytes of one token; returns their count, or -1 when a byte-level model token
 * is not in the byte alphabet (then its own UTF-8 bytes, as HF's ByteLevel decoder does) */
static long token_bytes(const l1k_tokenizer *t, const uint8_t *u2b_ok, const uint8_t *u2b,
                        const char *s, size_t L, uint8_t *out) {
  if (t->charlevel) return (long)sp_decoded(t, s, L, out);
  long d = unbyte(u2b_ok, u2b, s, L, out);
  if (d < 0) memcpy(out, s, L);
  return d;
}

/* puts token id into the tables: string arena + map, decoded bytes, byte map, byte ids */
static void table_put(l1k_tokenizer *t, size_t id, size_t *so, size_t *dof,
                      const uint8_t *u2b_ok, const uint8_t *u2b) {
  const char *s = t->id_str[id];
  size_t L = strlen(s);
  memcpy(t->str_arena + *so, s, L + 1);
  t->id_str[id] = (char *)t->str_arena + *so; /* from now on: the arena's copy */
  bmap_put(&t->str_map, (uint32_t)*so, (uint32_t)L, (int32_t)id);
  int model_tok = (t->id_flags[id] & 4) != 0;
  long d = token_bytes(t, u2b_ok, u2b, s, L, t->dec_arena + *dof);
  if (d < 0) { /* not in the byte alphabet: its own bytes, and no BPE symbol */
    d = (long)L;
    model_tok = 0;
  }
  t->dec_off[id] = (uint32_t)*dof;
  t->dec_len[id] = (uint32_t)d;
  if (model_tok && t->charlevel) {
    bmap_put(&t->byte_map, (uint32_t)*so, (uint32_t)L, (int32_t)id);
  } else if (model_tok) {
    bmap_put(&t->byte_map, t->dec_off[id], t->dec_len[id], (int32_t)id);
    if (d == 1 && t->byte_id[t->dec_arena[t->dec_off[id]]] < 0)
      t->byte_id[t->dec_arena[t->dec_off[id]]] = (int32_t)id;
  }
  *so += L + 1;
  *dof += (size_t)d;
}

/* the content of a normalized added token as HF matches it at char level: put through the
 * Prepend / Replace normalizers ("<s>" becomes "▁<s>" with Llama-2's) */
static int normalized_content(const l1k_tokenizer *t, const uint8_t *c, size_t n, uint8_t **out,
                              size_t *olen) {
  uint8_t *buf = NULL;
  size_t len = n, *map = NULL;
  for (int i = 0; i < t->n_norm_ops; i++) {
    const rewrite_op *op = &t->norm_ops[i];
    uint8_t *nb;
    size_t *nm;
    int rc = rewrite(op->prefix, op->from, op->to, buf ? buf : c, len, map, 0, &nb, &len, &nm);
    free(buf), free(map);
    if (rc) return rc;
    buf = nb, map = nm;
  }
  free(map);
  *out = buf;
  *olen = len;
  return 0;
}

/* Phase 7b: HF matches a normalized added token of a Prepend / Replace normalizer by its
 * normalized content ("<s>" is found as "▁<s>" with Llama-2's) and decodes that content. */
static int normalize_added(l1k_tokenizer *t, l1k_err *err) {
  if (!t->charlevel || !t->n_norm_ops) return 0;
  for (size_t i = 0; i < t->n_added; i++) {
    added_tok *a = &t->added[i];
    if (!a->normalized) continue;
    if (normalized_content(t, a->content, a->len, &a->norm, &a->norm_len))
      return l1k_errf(err, L1K_ENOMEM, "out of memory");
  }
  return 0;
}

/* the decoded bytes of normalized added tokens (after the model's, at *dof) */
static void table_put_normalized(l1k_tokenizer *t, size_t *dof) {
  for (size_t i = 0; i < t->n_added; i++) {
    const added_tok *a = &t->added[i];
    if (!a->norm) continue;
    size_t d = sp_decoded(t, (const char *)a->norm, a->norm_len, t->dec_arena + *dof);
    t->dec_off[a->id] = (uint32_t)*dof;
    t->dec_len[a->id] = (uint32_t)d;
    *dof += d;
  }
}

/* Phase 8: decoded bytes of every id, the string map and the BPE symbol map. */
static int build_tables(l1k_tokenizer *t, loader *L, l1k_err *err) {
  uint32_t b2u[256];
  uint8_t u2b_ok[324] = {0}, u2b[324] = {0};
  byte_alphabet(b2u);
  for (int b = 0; b < 256; b++) {
    u2b_ok[b2u[b]] = 1;
    u2b[b2u[b]] = (uint8_t)b;
  }
  size_t V = (size_t)t->vocab_size, dec_bytes = L->str_bytes;
  if (t->charlevel) { /* a decoded token can be longer than its string only by nothing */
    dec_bytes = 0;
    for (size_t id = 0; id < V; id++)
      if (t->id_str[id]) dec_bytes += sp_decoded(t, t->id_str[id], strlen(t->id_str[id]), NULL);
    for (size_t i = 0; i < t->n_added; i++)
      if (t->added[i].norm)
        dec_bytes += sp_decoded(t, (const char *)t->added[i].norm, t->added[i].norm_len, NULL);
  }
  t->dec_off = calloc(V, sizeof *t->dec_off);
  t->dec_len = calloc(V, sizeof *t->dec_len);
  t->dec_arena = malloc(dec_bytes + 1);
  t->str_arena = malloc(L->str_bytes + V); /* NUL-terminated strings */
  if (!t->dec_off || !t->dec_len || !t->dec_arena || !t->str_arena)
    return l1k_errf(err, L1K_ENOMEM, "out of memory");
  if (bmap_init(&t->str_map, V, err) || bmap_init(&t->byte_map, L->n_vocab, err))
    return L1K_ENOMEM;
  t->str_map.arena = t->str_arena;
  t->byte_map.arena = t->charlevel ? t->str_arena : t->dec_arena;
  size_t so = 0, dof = 0;
  for (size_t id = 0; id < V; id++)
    if (t->id_str[id]) table_put(t, id, &so, &dof, u2b_ok, u2b);
  table_put_normalized(t, &dof);
  t->dec_arena_len = dof;
  return 0;
}

static int first_missing_byte(const l1k_tokenizer *t) {
  for (int b = 0; b < 256; b++)
    if (t->byte_id[b] < 0) return b;
  return 0;
}

/* Phase 9: the symbols every piece starts from. Byte level: one per byte (a vocabulary may lack
 * some, as SmolLM2's lacks 21: those bytes are dropped at encode time, as HF does). Char level:
 * the byte_fallback tokens <0xNN>. Both: the unk token. */
static int resolve_symbols(l1k_tokenizer *t, loader *L, l1k_err *err) {
  const cJSON *unk = cJSON_GetObjectItemCaseSensitive(L->model, "unk_token");
  t->unk_id = -1;
  if (cJSON_IsString(unk)) {
    t->unk_id = bmap_get(&t->str_map, (const uint8_t *)unk->valuestring, strlen(unk->valuestring));
    if (t->unk_id < 0 || !(t->id_flags[t->unk_id] & 4))
      return l1k_errf(err, L1K_EINPUT, "%s: model.unk_token '%.100s' is not in model.vocab",
                      L->file, unk->valuestring);
  }
  if (t->charlevel) {
    int have = 0;
    for (int b = 0; b < 256; b++) {
      char name[8];
      snprintf(name, sizeof name, "<0x%02X>", b);
      int32_t id = bmap_get(&t->byte_map, (const uint8_t *)name, 6);
      t->fb_id[b] = id;
      have += id >= 0;
    }
    if (t->byte_fallback && have == 0)
      return l1k_errf(err, L1K_EINPUT,
                      "%s: model.byte_fallback is true but model.vocab has no <0xNN> byte token",
                      L->file);
    t->generic = 1;
    return 0;
  }
  if (t->byte_fallback)
    return l1k_errf(err, L1K_EUNSUPPORTED,
                    "%s: model.byte_fallback: not supported with a ByteLevel pre-tokenizer", L->file);
  for (int b = 0; b < 256; b++) t->missing_bytes += t->byte_id[b] < 0;
  if (t->missing_bytes > 128)
    return l1k_errf(err, L1K_EUNSUPPORTED,
                    "%s: model.vocab has no token for %d of the 256 bytes (byte 0x%02X is one): not "
                    "a byte-level BPE vocabulary",
                    L->file, t->missing_bytes, first_missing_byte(t));
  t->generic = t->missing_bytes > 0;
  return 0;
}

/* the merge "a b" or ["a", "b"] at index rank: its parts */
static int merge_parts(const cJSON *it, const char **a, size_t *la, const char **b, size_t *lb) {
  *a = NULL;
  if (cJSON_IsString(it)) {
    const char *sp = strchr(it->valuestring, ' ');
    if (!sp || strchr(sp + 1, ' ')) return -1;
    *a = it->valuestring;
    *la = (size_t)(sp - *a);
    *b = sp + 1;
    *lb = strlen(*b);
    return 0;
  }
  if (cJSON_IsArray(it) && cJSON_GetArraySize(it) == 2 &&
      cJSON_IsString(cJSON_GetArrayItem(it, 0)) && cJSON_IsString(cJSON_GetArrayItem(it, 1))) {
    *a = cJSON_GetArrayItem(it, 0)->valuestring;
    *b = cJSON_GetArrayItem(it, 1)->valuestring;
    *la = strlen(*a);
    *lb = strlen(*b);
    return 0;
  }
  return -1;
}

/* puts (ia, ib) -> rank; a repeated merge keeps its first rank */
static void merge_put(l1k_tokenizer *t, int32_t ia, int32_t ib, int32_t im, int32_t rank) {
  uint64_t k = pair_key(ia, ib);
  t->merge_id[rank] = im;
  for (size_t i = pair_slot(k) & t->merges_mask;; i = (i + 1) & t->merges_mask) {
    uint64_t e = t->merges[i];
    if (e == MERGE_EMPTY) {
      t->merges[i] = (k << MERGE_RANK_BITS) | (uint64_t)rank;
      return;
    }
    if ((e >> MERGE_RANK_BITS) == k) return;
  }
}

/* one merge: look its parts and result up and insert it */
static int merge_one(l1k_tokenizer *t, loader *L, const cJSON *it, int32_t rank, uint8_t **tmp,
                     size_t *tmp_cap, l1k_err *err) {
  const char *a, *b;
  size_t la = 0, lb = 0;
  if (merge_parts(it, &a, &la, &b, &lb))
    return l1k_errf(err, L1K_EINPUT,
                    "%s: model.merges[%d]: expected \"left right\" or [\"left\", \"right\"]",
                    L->file, rank);
  if (la + lb + 1 > *tmp_cap) {
    size_t nc = (la + lb + 1) * 2;
    uint8_t *nt = realloc(*tmp, nc);
    if (!nt) return l1k_errf(err, L1K_ENOMEM, "out of memory");
    *tmp = nt;
    *tmp_cap = nc;
  }
  int32_t ia = bmap_get(&t->str_map, (const uint8_t *)a, la);
  int32_t ib = bmap_get(&t->str_map, (const uint8_t *)b, lb);
  memcpy(*tmp, a, la);
  memcpy(*tmp + la, b, lb);
  int32_t im = bmap_get(&t->str_map, *tmp, la + lb);
  if (ia < 0 || ib < 0 || im < 0)
    return l1k_errf(err, L1K_EINPUT,
                    "%s: model.merges[%d]: '%.*s' + '%.*s': %s is not in the vocabulary", L->file,
                    rank, (int)(la > 60 ? 60 : la), a, (int)(lb > 60 ? 60 : lb), b,
                    ia < 0 ? "the left part" : ib < 0 ? "the right part" : "the merged token");
  merge_put(t, ia, ib, im, rank);
  return 0;
}

/* Phase 10: model.merges into the packed pair table. */
static int load_merges(l1k_tokenizer *t, loader *L, l1k_err *err) {
  const cJSON *merges = cJSON_GetObjectItemCaseSensitive(L->model, "merges");
  if (!cJSON_IsArray(merges))
    return l1k_errf(err, L1K_EINPUT, "%s: field 'model.merges': expected an array", L->file);
  size_t nm = (size_t)cJSON_GetArraySize(merges);
  size_t mcap = 16;
  while (mcap < nm + nm / 3) mcap *= 2; /* load factor at most 3/4 */
  if (t->vocab_size > (1 << MERGE_ID_BITS) || nm >= (1u << MERGE_RANK_BITS))
    return l1k_errf(err, L1K_EUNSUPPORTED,
                    "%s: %d tokens and %zu merges: at most %d tokens and %u merges are supported",
                    L->file, t->vocab_size, nm, 1 << MERGE_ID_BITS, (1u << MERGE_RANK_BITS) - 1);
  t->merges = malloc(mcap * sizeof *t->merges);
  t->merge_id = malloc((nm ? nm : 1) * sizeof *t->merge_id);
  if (!t->merges || !t->merge_id) return l1k_errf(err, L1K_ENOMEM, "out of memory");
  for (size_t i = 0; i < mcap; i++) t->merges[i] = MERGE_EMPTY;
  t->merges_mask = mcap - 1;
  size_t tmp_cap = 0;
  uint8_t *tmp = NULL;
  int32_t rank = 0;
  int rc = 0;
  const cJSON *it;
  cJSON_ArrayForEach(it, merges) {
    if ((rc = merge_one(t, L, it, rank++, &tmp, &tmp_cap, err))) break;
  }
  free(tmp);
  return rc;
}

/* Phase 11: the added-token tries (raw text / normalized text). */
static int build_tries(l1k_tokenizer *t, l1k_err *err) {
  for (size_t i = 0; i < t->n_added; i++) {
    const added_tok *a = &t->added[i];
    trie *tr = a->normalized ? &t->trie_norm : &t->trie_raw;
    if (trie_add(tr, a->norm ? a->norm : a->content, a->norm ? a->norm_len : a->len, (int32_t)i,
                 err))
      return L1K_ENOMEM;
  }
  return 0;
}

static void cache_destroy(void *p);

/* the phases after the JSON is read; t is freed by the caller on error */
static int load_phases(l1k_tokenizer *t, loader *L, l1k_err *err) {
  int rc;
  if ((rc = load_model_options(t, L, err)) ||
      (rc = parse_normalizer(t, cJSON_GetObjectItemCaseSensitive(L->root, "normalizer"), L->file,
                             err)) ||
      (rc = parse_pre(t, cJSON_GetObjectItemCaseSensitive(L->root, "pre_tokenizer"), L->file,
                      err)) ||
      (rc = parse_decoder(t, cJSON_GetObjectItemCaseSensitive(L->root, "decoder"), L->file, err)))
    return rc;
  if (!t->charlevel && t->n_norm_ops)
    return l1k_errf(err, L1K_EUNSUPPORTED,
                    "%s: normalizer: Prepend / Replace are supported only without a ByteLevel "
                    "pre-tokenizer (SentencePiece style)",
                    L->file);
  if (t->charlevel && t->nfc)
    return l1k_errf(err, L1K_EUNSUPPORTED,
                    "%s: normalizer: NFC is supported only with a ByteLevel pre-tokenizer", L->file);
  if ((rc = load_vocab(t, L, err)) || (rc = load_added(t, L, err)) ||
      (rc = normalize_added(t, err)) || (rc = build_tables(t, L, err)) || (rc = resolve_symbols(t, L, err)) ||
      (rc = load_merges(t, L, err)) || (rc = build_tries(t, err)))
    return rc;
  if (pthread_key_create(&t->key, cache_destroy) != 0)
    return l1k_errf(err, L1K_EINTERNAL, "pthread_key_create failed");
  t->key_ok = 1;
  return 0;
}

l1k_tokenizer *l1k_tokenizer_load(const char *path, l1k_err *err) {
  l1k_uc_init();
  loader L = {0};
  char *file = NULL;
  L.root = read_json(path, &file, err);
  L.file = file;
  l1k_tokenizer *t = L.root ? calloc(1, sizeof *t) : NULL;
  if (L.root && !t) l1k_errf(err, L1K_ENOMEM, "out of memory");
  if (t) {
    pthread_mutex_init(&t->lock, NULL);
    for (int i = 0; i < 256; i++) t->byte_id[i] = t->fb_id[i] = -1;
    if (load_phases(t, &L, err)) {
      l1k_tokenizer_free(t);
      t = NULL;
    }
  }
  cJSON_Delete(L.root);
  free(file);
  return t;
}

void l1k_tokenizer_free(l1k_tokenizer *t) {
  if (!t) return;
  if (t->key_ok) pthread_key_delete(t->key);
  for (tcache *c = t->caches; c;) {
    tcache *n = c->next;
    free(c);
    c = n;
  }
  pthread_mutex_destroy(&t->lock);
  free(t->id_str); /* the strings live in str_arena */
  free(t->id_flags);
  free(t->dec_off);
  free(t->dec_len);
  free(t->dec_arena);
  free(t->str_arena);
  free(t->str_map.e);
  free(t->byte_map.e);
  free(t->merges);
  free(t->merge_id);
  for (size_t i = 0; i < t->n_added; i++) {
    free(t->added[i].content);
    free(t->added[i].norm);
  }
  free(t->added);
  trie_free(&t->trie_raw);
  trie_free(&t->trie_norm);
  for (int i = 0; i < t->n_norm_ops; i++) {
    free(t->norm_ops[i].prefix);
    free(t->norm_ops[i].from);
    free(t->norm_ops[i].to);
  }
  free(t->meta_repl);
  free(t->dec_drop_first);
  free(t->strip_ch);
  free(t);
}

/* ------------------------------------------------------------------------------------------ */
/* per-thread caches                                                                            */

static void cache_destroy(void *p) {
  tcache *c = p;
  l1k_tokenizer *t = c->owner;
  pthread_mutex_lock(&t->lock);
  if (c->prev) c->prev->next = c->next;
  else t->caches = c->next;
  if (c->next) c->next->prev = c->prev;
  pthread_mutex_unlock(&t->lock);
  free(c);
}

static tcache *get_cache(const l1k_tokenizer *tc) {
  l1k_tokenizer *t = (l1k_tokenizer *)tc; /* only the cache list and key are touched */
  tcache *c = pthread_getspecific(t->key);
  if (c) return c;
  c = calloc(1, sizeof *c);
  if (!c) return NULL;
  c->owner = t;
  pthread_mutex_lock(&t->lock);
  c->next = t->caches;
  if (t->caches) t->caches->prev = c;
  t->caches = c;
  pthread_mutex_unlock(&t->lock);
  if (pthread_setspecific(t->key, c) != 0) {
    cache_destroy(c);
    return NULL;
  }
  return c;
}

/* ------------------------------------------------------------------------------------------ */
/* BPE                                                                                          */

/* Small pieces: arrays, O(n^2) in the worst case but n is small. */
static size_t bpe_small(const l1k_tokenizer *t, const uint8_t *p, size_t n, int32_t *sym) {
  int32_t rk[64], mid[64] = {0};
  for (size_t i = 0; i < n; i++) sym[i] = t->byte_id[p[i]];
  for (size_t i = 0; i + 1 < n; i++) merge_prefetch(t, sym[i], sym[i + 1]);
  for (size_t i = 0; i + 1 < n; i++) rk[i] = merge_get(t, sym[i], sym[i + 1], &mid[i]);
  while (n > 1) {
    size_t best = 0;
    int32_t br = rk[0];
    for (size_t i = 1; i + 1 < n; i++)
      if (rk[i] < br) br = rk[i], best = i;
    if (br == INT32_MAX) break;
    sym[best] = mid[best];
    /* remove sym[best+1] */
    for (size_t i = best + 1; i + 1 < n; i++) sym[i] = sym[i + 1];
    for (size_t i = best + 1; i + 2 < n; i++) {
      rk[i] = rk[i + 1];
      mid[i] = mid[i + 1];
    }
    n--;
    if (best > 0) rk[best - 1] = merge_get(t, sym[best - 1], sym[best], &mid[best - 1]);
    if (best + 1 < n) rk[best] = merge_get(t, sym[best], sym[best + 1], &mid[best]);
  }
  return n;
}

/* Long pieces: doubly linked symbols + binary heap of candidate merges (rank, position),
 * entries checked for staleness when popped. O(n log n). */
typedef struct {
  int32_t rank;
  uint32_t pos;
  int32_t left, right; /* symbol ids the entry was made for */
} heap_ent;

static inline int heap_less(const heap_ent *a, const heap_ent *b) {
  return a->rank < b->rank || (a->rank == b->rank && a->pos < b->pos);
}

static void heap_push(heap_ent *h, size_t *n, heap_ent e) {
  size_t i = (*n)++;
  while (i > 0) {
    size_t p = (i - 1) / 2;
    if (!heap_less(&e, &h[p])) break;
    h[i] = h[p];
    i = p;
  }
  h[i] = e;
}

static heap_ent heap_pop(heap_ent *h, size_t *n) {
  heap_ent top = h[0];
  heap_ent last = h[--(*n)];
  size_t i = 0;
  for (;;) {
    size_t l = 2 * i + 1;
    if (l >= *n) break;
    size_t c = l;
    if (l + 1 < *n && heap_less(&h[l + 1], &h[l])) c = l + 1;
    if (!heap_less(&h[c], &last)) break;
    h[i] = h[c];
    i = c;
  }
  if (*n) h[i] = last;
  return top;
}

static int bpe_large(const l1k_tokenizer *t, const uint8_t *p, size_t n, l1k_ids *out) {
  /* symbols are indexed by their first byte position */
  int32_t *sym = malloc(n * sizeof *sym);
  uint32_t *nxt = malloc(n * sizeof *nxt), *prv = malloc(n * sizeof *prv);
  heap_ent *h = malloc((2 * n + 4) * sizeof *h);
  if (!sym || !nxt || !prv || !h) {
    free(sym), free(nxt), free(prv), free(h);
    return L1K_ENOMEM;
  }
  size_t hn = 0;
  const uint32_t END = UINT32_MAX;
  for (size_t i = 0; i < n; i++) {
    sym[i] = t->byte_id[p[i]];
    nxt[i] = i + 1 < n ? (uint32_t)(i + 1) : END;
    prv[i] = i > 0 ? (uint32_t)(i - 1) : END;
  }
  for (size_t i = 0; i + 1 < n; i++) {
    int32_t m = -1;
    int32_t r = merge_get(t, sym[i], sym[i + 1], &m);
    if (r != INT32_MAX) heap_push(h, &hn, (heap_ent){r, (uint32_t)i, sym[i], sym[i + 1]});
  }
  while (hn) {
    heap_ent e = heap_pop(h, &hn);
    uint32_t a = e.pos;
    if (sym[a] != e.left) continue;
    uint32_t b = nxt[a];
    if (b == END || sym[b] != e.right) continue;
    int32_t m = -1;
    if (merge_get(t, e.left, e.right, &m) != e.rank) continue;
    sym[a] = m;
    sym[b] = -1;
    nxt[a] = nxt[b];
    if (nxt[b] != END) prv[nxt[b]] = a;
    /* heap size bound: each merge adds at most 2 entries and removes 1 symbol */
    if (hn + 2 > 2 * n + 4) continue; /* not reached */
    if (prv[a] != END) {
      uint32_t q = prv[a];
      int32_t r = merge_get(t, sym[q], sym[a], &m);
      if (r != INT32_MAX) heap_push(h, &hn, (heap_ent){r, q, sym[q], sym[a]});
    }
    if (nxt[a] != END) {
      uint32_t q = nxt[a];
      int32_t r = merge_get(t, sym[a], sym[q], &m);
      if (r != INT32_MAX) heap_push(h, &hn, (heap_ent){r, a, sym[a], sym[q]});
    }
  }
  int rc = 0;
  for (uint32_t i = 0; i != END; i = nxt[i])
    if ((rc = l1k_ids_push(out, sym[i]))) break;
  free(sym), free(nxt), free(prv), free(h);
  return rc;
}

#define SMALL_PIECE 64

/* Encodes one pre-token (raw bytes) and appends its ids. */
static inline int cacheable(const tcache *cache, size_t n) {
  return cache && n > 1 && n <= CACHE_KEY;
}

/* hh: hash_bytes(p, n) when cacheable(cache, n) */
static int encode_piece(const l1k_tokenizer *t, tcache *cache, const uint8_t *p, size_t n,
                        uint64_t hh, l1k_ids *out) {
  if (n == 1) return l1k_ids_push(out, t->byte_id[p[0]]);
  cache_ent *ce = NULL;
  uint32_t h = 0;
  if (cacheable(cache, n)) {
    h = (uint32_t)(hh >> 32);
    ce = &cache->slots[hh & (CACHE_SLOTS - 1)];
    if (ce->klen == n && ce->hash == h && memcmp(ce->key, p, n) == 0) {
      if (ids_reserve(out, ce->nids)) return L1K_ENOMEM;
      memcpy(out->data + out->len, ce->ids, ce->nids * sizeof(int32_t));
      out->len += ce->nids;
      return 0;
    }
  }
  size_t start = out->len;
  if (t->ignore_merges) {
    int32_t id = bmap_get(&t->byte_map, p, n);
    if (id >= 0) {
      if (l1k_ids_push(out, id)) return L1K_ENOMEM;
      goto done;
    }
  }
  if (n <= SMALL_PIECE) {
    if (ids_reserve(out, n)) return L1K_ENOMEM;
    out->len += bpe_small(t, p, n, out->data + out->len);
  } else {
    int rc = bpe_large(t, p, n, out);
    if (rc) return rc;
  }
done:
  if (ce && out->len - start <= CACHE_IDS) {
    ce->klen = (uint8_t)n;
    ce->hash = h;
    memcpy(ce->key, p, n);
    ce->nids = (uint8_t)(out->len - start);
    memcpy(ce->ids, out->data + start, ce->nids * sizeof(int32_t));
  }
  return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* encode                                                                                       */

typedef struct {
  const l1k_tokenizer *t;
  tcache *cache;
  l1k_ids *out;
  /* offsets (NULL when not wanted): 2 per token, relative to the caller's text */
  size_t *off;
  size_t off_cap;
  void *scratch; /* bpe_units */
  size_t scratch_cap;
} enc;

/* a stage of encode: text s[0..n); map: 2 per byte of s (original ranges), or NULL with base:
 * s[i] is original byte base+i */
typedef int (*part_fn)(enc *e, const uint8_t *s, size_t n, const size_t *map, size_t base);

static int off_push(enc *e, size_t b, size_t en) {
  size_t need = 2 * e->out->len;
  if (need > e->off_cap) {
    size_t nc = e->off_cap ? e->off_cap : 128;
    while (nc < need) nc *= 2;
    size_t *no = realloc(e->off, nc * sizeof *no);
    if (!no) return L1K_ENOMEM;
    e->off = no;
    e->off_cap = nc;
  }
  e->off[need - 2] = b;
  e->off[need - 1] = en;
  return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* generic BPE over units (SentencePiece style, or a byte-level vocabulary with missing bytes) */

/* As HF's BPE::merge_word: each unit (a UTF-8 character or one invalid byte at char level; a
 * byte at byte level) becomes its token; without one: its <0xNN> tokens (byte_fallback, when
 * all of them exist), else the unk token (a run of them fused into one with fuse_unk; the
 * pending unk is added when a known unit or the end comes, as HF does), else the unit is
 * dropped (counted in t->dropped). Then the adjacent pair with the lowest merge rank (leftmost
 * among equals) is merged until none has a rank. Offsets come from each symbol's span. */
typedef struct {
  int32_t id;
  uint32_t b, e; /* [b, e) in the piece */
} usym;

static size_t unit_len(const l1k_tokenizer *t, const uint8_t *p, size_t n, size_t i) {
  if (!t->charlevel) return 1;
  uint32_t cp;
  int k = l1k_utf8_decode(p + i, n - i, &cp);
  return k ? (size_t)k : 1;
}

static int fallback_ok(const l1k_tokenizer *t, const uint8_t *p, size_t k) {
  if (!t->byte_fallback) return 0;
  for (size_t j = 0; j < k; j++)
    if (t->fb_id[p[j]] < 0) return 0;
  return 1;
}

static int32_t unit_id(const l1k_tokenizer *t, const uint8_t *p, size_t k) {
  return t->charlevel ? bmap_get(&t->byte_map, p, k) : t->byte_id[p[0]];
}

/* the initial symbols of piece p[0..n) (sym holds n); returns their count */
static size_t units_init(const l1k_tokenizer *t, const uint8_t *p, size_t n, usym *sym) {
  size_t ns = 0, dropped = 0;
  usym unk = {-1, 0, 0}; /* pending unk */
  for (size_t i = 0; i < n;) {
    size_t k = unit_len(t, p, n, i);
    int32_t id = unit_id(t, p + i, k);
    if (id >= 0) {
      if (unk.id >= 0) sym[ns++] = unk, unk.id = -1;
      sym[ns++] = (usym){id, (uint32_t)i, (uint32_t)(i + k)};
    } else if (fallback_ok(t, p + i, k)) {
      for (size_t j = 0; j < k; j++) sym[ns++] = (usym){t->fb_id[p[i + j]], (uint32_t)i, (uint32_t)(i + k)};
    } else if (t->unk_id >= 0) {
      if (unk.id >= 0 && t->fuse_unk) {
        unk.e = (uint32_t)(i + k);
      } else {
        if (unk.id >= 0) sym[ns++] = unk;
        unk = (usym){t->unk_id, (uint32_t)i, (uint32_t)(i + k)};
      }
    } else {
      dropped += k;
    }
    i += k;
  }
  if (unk.id >= 0) sym[ns++] = unk;
  if (dropped) __atomic_fetch_add(&((l1k_tokenizer *)t)->dropped, dropped, __ATOMIC_RELAXED);
  return ns;
}

/* merges sym[0..ns) in place (heap of candidate merges, stale entries skipped); returns the
 * index of the first live symbol, nxt links the rest (UINT32_MAX ends) */
static void units_merge(const l1k_tokenizer *t, usym *sym, size_t ns, uint32_t *nxt,
                        uint32_t *prv, heap_ent *h) {
  const uint32_t END = UINT32_MAX;
  size_t hn = 0;
  int32_t m = -1;
  for (size_t i = 0; i < ns; i++) {
    nxt[i] = i + 1 < ns ? (uint32_t)(i + 1) : END;
    prv[i] = i > 0 ? (uint32_t)(i - 1) : END;
  }
  for (size_t i = 0; i + 1 < ns; i++) {
    int32_t r = merge_get(t, sym[i].id, sym[i + 1].id, &m);
    if (r != INT32_MAX) heap_push(h, &hn, (heap_ent){r, (uint32_t)i, sym[i].id, sym[i + 1].id});
  }
  while (hn) {
    heap_ent en = heap_pop(h, &hn);
    uint32_t a = en.pos, b = nxt[a];
    if (sym[a].id != en.left || b == END || sym[b].id != en.right) continue;
    if (merge_get(t, en.left, en.right, &m) != en.rank) continue;
    sym[a].id = m;
    sym[a].e = sym[b].e;
    sym[b].id = -1;
    nxt[a] = nxt[b];
    if (nxt[b] != END) prv[nxt[b]] = a;
    if (prv[a] != END) {
      uint32_t q = prv[a];
      int32_t r = merge_get(t, sym[q].id, sym[a].id, &m);
      if (r != INT32_MAX) heap_push(h, &hn, (heap_ent){r, q, sym[q].id, sym[a].id});
    }
    if (nxt[a] != END) {
      uint32_t q = nxt[a];
      int32_t r = merge_get(t, sym[a].id, sym[q].id, &m);
      if (r != INT32_MAX) heap_push(h, &hn, (heap_ent){r, a, sym[a].id, sym[q].id});
    }
  }
}

/* scratch for bpe_units, grown as needed (owned by the enc, freed with it) */
static void *enc_scratch(enc *e, size_t bytes) {
  if (bytes <= e->scratch_cap) return e->scratch;
  void *p = realloc(e->scratch, bytes);
  if (!p) return NULL;
  e->scratch = p;
  e->scratch_cap = bytes;
  return p;
}

/* pushes one token with the original range of piece bytes [b, en) */
static int push_span(enc *e, int32_t id, const size_t *map, size_t base, size_t b, size_t en) {
  if (l1k_ids_push(e->out, id)) return L1K_ENOMEM;
  if (!e->off) return 0;
  if (map) return off_push(e, map[2 * b], en > b ? map[2 * (en - 1) + 1] : map[2 * b]);
  return off_push(e, base + b, base + en);
}

/* Encodes piece p[0..n) unit by unit (see above) and appends ids (and offsets). */
static int bpe_units(enc *e, const uint8_t *p, size_t n, const size_t *map, size_t base) {
  const l1k_tokenizer *t = e->t;
  if (n == 0) return 0;
  if (t->ignore_merges) {
    int32_t id = bmap_get(&t->byte_map, p, n);
    if (id >= 0) return push_span(e, id, map, base, 0, n);
  }
  size_t per = sizeof(usym) + 2 * sizeof(uint32_t) + 2 * sizeof(heap_ent);
  uint8_t *mem = enc_scratch(e, per * n + 4 * sizeof(heap_ent) + 16);
  if (!mem) return L1K_ENOMEM;
  usym *sym = (usym *)mem;
  heap_ent *h = (heap_ent *)(sym + n);
  uint32_t *nxt = (uint32_t *)(h + 2 * n + 4), *prv = nxt + n;
  size_t ns = units_init(t, p, n, sym);
  if (ns == 0) return 0;
  units_merge(t, sym, ns, nxt, prv, h);
  for (uint32_t i = 0; i != UINT32_MAX; i = nxt[i]) {
    int rc = push_span(e, sym[i].id, map, base, sym[i].b, sym[i].e);
    if (rc) return rc;
  }
  return 0;
}

/* byte level with missing bytes: does the piece hold a byte without a symbol? (Only such
 * pieces go through bpe_units; the others keep the fast path and its cache.) */
static int has_missing(const l1k_tokenizer *t, const uint8_t *p, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (t->byte_id[p[i]] < 0) return 1;
  return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* SentencePiece style: Prepend / Replace normalizers, Metaspace pre-tokenizer                  */

/* *out = prefix (if s is not empty) + s with every `from` replaced by `to`; *omap: the original
 * range of every output byte (prefix bytes: the empty range at the start of s). map: that of
 * s, or NULL when s[i] is original byte base+i. Returns L1K_ENOMEM or 0. */
static int rewrite(const char *prefix, const char *from, const char *to, const uint8_t *s,
                   size_t n, const size_t *map, size_t base, uint8_t **out, size_t *olen,
                   size_t **omap) {
  size_t pl = prefix && n ? strlen(prefix) : 0, fl = from ? strlen(from) : 0;
  size_t tl = to ? strlen(to) : 0, cnt = 0;
  for (size_t i = 0; fl && i + fl <= n; i++)
    if (memcmp(s + i, from, fl) == 0) cnt++, i += fl - 1;
  size_t cap = pl + n + cnt * tl + 1;
  *out = malloc(cap);
  *omap = malloc(2 * cap * sizeof **omap);
  if (!*out || !*omap) {
    free(*out), free(*omap);
    return L1K_ENOMEM;
  }
  size_t o = 0, o0 = map ? (n ? map[0] : 0) : base;
  for (; o < pl; o++) {
    (*out)[o] = (uint8_t)prefix[o];
    (*omap)[2 * o] = (*omap)[2 * o + 1] = o0;
  }
  for (size_t i = 0; i < n;) {
    int hit = fl && i + fl <= n && memcmp(s + i, from, fl) == 0;
    size_t k = hit ? fl : 1, b0 = map ? map[2 * i] : base + i;
    size_t b1 = map ? map[2 * (i + k - 1) + 1] : base + i + k;
    const uint8_t *src = hit ? (const uint8_t *)to : s + i;
    for (size_t j = 0; j < (hit ? tl : 1); j++, o++) {
      (*out)[o] = src[j];
      (*omap)[2 * o] = b0;
      (*omap)[2 * o + 1] = b1;
    }
    i += k;
  }
  (*out)[o] = 0; /* a string too (cap has room) */
  *olen = o;
  return 0;
}

/* Metaspace: spaces become the replacement, which is prepended per prepend_scheme (always; first:
 * only to the text at offset 0 of the input) unless the text starts with it; split: a piece
 * starts at each replacement (MergedWithNext). */
static int encode_metaspace(enc *e, const uint8_t *s, size_t n, const size_t *map, size_t base) {
  const l1k_tokenizer *t = e->t;
  if (n == 0) return 0;
  const char *r = t->meta_repl;
  size_t rl = strlen(r);
  int starts = s[0] == ' ' || (n >= rl && memcmp(s, r, rl) == 0);
  size_t orig0 = map ? map[0] : base;
  int pre = !starts && (t->meta_scheme == META_ALWAYS || (t->meta_scheme == META_FIRST && orig0 == 0));
  uint8_t *buf;
  size_t len, *bm;
  if (rewrite(pre ? r : NULL, " ", r, s, n, map, base, &buf, &len, &bm)) return L1K_ENOMEM;
  int rc = 0;
  for (size_t i = 0; i < len && !rc;) {
    size_t j = len;
    if (t->meta_split)
      for (j = i + 1; j < len; j++)
        if (j + rl <= len && memcmp(buf + j, r, rl) == 0) break;
    rc = bpe_units(e, buf + i, j - i, bm + 2 * i, 0);
    i = j;
  }
  free(buf);
  free(bm);
  return rc;
}

/* the pre-tokenizer stage at char level: Metaspace, or the whole text as one piece */
static int encode_sp_pretok(enc *e, const uint8_t *s, size_t n, const size_t *map, size_t base) {
  if (e->t->meta) return encode_metaspace(e, s, n, map, base);
  return bpe_units(e, s, n, map, base);
}

/* raw text between added tokens at char level: the normalizer ops in order, then normalized
 * added tokens, then the pre-tokenizer */
static int split_added(enc *e, const trie *tr, const uint8_t *s, size_t n, const size_t *map,
                       size_t base, part_fn fn);

static int encode_sp_raw(enc *e, const uint8_t *s, size_t n, const size_t *map, size_t base) {
  const l1k_tokenizer *t = e->t;
  (void)map; /* raw text is never remapped */
  uint8_t *buf = NULL;
  size_t len = n, *bm = NULL;
  for (int i = 0; i < t->n_norm_ops; i++) {
    const rewrite_op *op = &t->norm_ops[i];
    uint8_t *nb;
    size_t nl, *nm;
    if (rewrite(op->prefix, op->from, op->to, buf ? buf : s, len, bm, base, &nb, &nl, &nm)) {
      free(buf), free(bm);
      return L1K_ENOMEM;
    }
    free(buf), free(bm);
    buf = nb, bm = nm, len = nl;
  }
  int rc = split_added(e, &t->trie_norm, buf ? buf : s, len, bm, base, encode_sp_pretok);
  free(buf);
  free(bm);
  return rc;
}

/* Pre-tokenizes and BPE-encodes normalized text s[0..n). map: 2 per byte of s (original
 * ranges), or NULL with base: s[i] is original byte base+i. */
static int encode_pretok(enc *e, const uint8_t *s, size_t n, const size_t *map, size_t base) {
  const l1k_tokenizer *t = e->t;
  tcache *cache = e->cache;
  /* Pieces are found a few ahead of the one being encoded and their cache slots prefetched:
   * the slot load is the one memory access every piece pays. */
  enum { AHEAD = 8 };
  size_t pb[AHEAD], pe[AHEAD];
  uint64_t ph[AHEAD];
  size_t head = 0, cnt = 0, pos = 0;
  for (;;) {
    while (cnt < AHEAD && pos < n) {
      size_t k = (head + cnt) % AHEAD;
      size_t j = l1k_pretok_next(t->pre, s, n, pos);
      pb[k] = pos;
      pe[k] = j;
      if (cacheable(cache, j - pos)) {
        ph[k] = hash_bytes(s + pos, j - pos);
        __builtin_prefetch(&cache->slots[ph[k] & (CACHE_SLOTS - 1)]);
      } else {
        ph[k] = 0;
      }
      cnt++;
      pos = j;
    }
    if (cnt == 0) break;
    size_t i = pb[head], j = pe[head];
    uint64_t hh = ph[head];
    head = (head + 1) % AHEAD;
    cnt--;
    if (t->generic && has_missing(t, s + i, j - i)) { /* a byte without symbol: by units */
      int rc = bpe_units(e, s + i, j - i, map ? map + 2 * i : NULL, base + i);
      if (rc) return rc;
      continue;
    }
    size_t before = e->out->len;
    int rc = encode_piece(t, cache, s + i, j - i, hh, e->out);
    if (rc) return rc;
    if (e->off) {
      size_t at = i;
      size_t ntok = e->out->len - before;
      e->out->len = before;
      for (size_t k = 0; k < ntok; k++) {
        int32_t id = e->out->data[before + k];
        size_t L = t->dec_len[id];
        size_t b0, b1;
        if (map) {
          b0 = map[2 * at];
          b1 = map[2 * (at + L - 1) + 1];
        } else {
          b0 = base + at;
          b1 = base + at + L;
        }
        e->out->len++;
        if (off_push(e, b0, b1)) return L1K_ENOMEM;
        at += L;
      }
    }
  }
  return 0;
}

static int is_ws_cp(uint32_t cp) { return (l1k_uc_class(cp) & UC_S) != 0; }
static int is_word_cp(uint32_t cp) { return l1k_uc_is_word(cp); }

/* last code point before position i (i > 0) and its start */
static uint32_t cp_before(const uint8_t *s, size_t i, size_t *start) {
  size_t j = i - 1;
  while (j > 0 && (s[j] & 0xC0) == 0x80 && i - j < 4) j--;
  uint32_t cp;
  if (l1k_utf8_decode(s + j, i - j, &cp) != (int)(i - j)) {
    *start = i - 1;
    return 0xFFFD;
  }
  *start = j;
  return cp;
}

/* Splits s[0..n) by the added tokens of trie tr; text parts go to fn. Implements HF's
 * single_word (the match must not touch a word character on either side), lstrip / rstrip
 * (whitespace next to the token is absorbed by it). */

static int split_added(enc *e, const trie *tr, const uint8_t *s, size_t n, const size_t *map,
                       size_t base, part_fn fn) {
  const l1k_tokenizer *t = e->t;
  if (tr->n == 0) return fn(e, s, n, map, base);
  size_t text_start = 0; /* start of the pending text part */
  size_t i = 0;
  while (i < n) {
    if (!tr->first[s[i]]) {
      i++;
      continue;
    }
    size_t mlen = 0;
    int32_t ai = trie_match(tr, s + i, n - i, &mlen);
    if (ai < 0) {
      i++;
      continue;
    }
    const added_tok *a = &t->added[ai];
    size_t ms = i, me = i + mlen;
    if (a->single_word) {
      size_t st;
      uint32_t c;
      int ok = 1;
      if (ms > 0) {
        c = cp_before(s, ms, &st);
        if (is_word_cp(c)) ok = 0;
      }
      if (ok && me < n) {
        int k = l1k_utf8_decode(s + me, n - me, &c);
        if (k && is_word_cp(c)) ok = 0;
      }
      if (!ok) {
        i++;
        continue;
      }
    }
    if (a->lstrip) {
      while (ms > text_start) {
        size_t st;
        uint32_t c = cp_before(s, ms, &st);
        if (st < text_start || !is_ws_cp(c)) break;
        ms = st;
      }
    }
    if (a->rstrip) {
      while (me < n) {
        uint32_t c;
        int k = l1k_utf8_decode(s + me, n - me, &c);
        if (!k || !is_ws_cp(c)) break;
        me += (size_t)k;
      }
    }
    if (ms > text_start) {
      int rc = fn(e, s + text_start, ms - text_start, map ? map + 2 * text_start : NULL,
                  base + text_start);
      if (rc) return rc;
    }
    if (l1k_ids_push(e->out, a->id)) return L1K_ENOMEM;
    if (e->off) {
      size_t b0 = map ? map[2 * ms] : base + ms;
      size_t b1 = map ? map[2 * (me - 1) + 1] : base + me;
      if (off_push(e, b0, b1)) return L1K_ENOMEM;
    }
    text_start = i = me;
  }
  if (n > text_start)
    return fn(e, s + text_start, n - text_start, map ? map + 2 * text_start : NULL,
              base + text_start);
  return 0;
}

/* normalized text: normalized added tokens, then pre-tokenizer */
static int encode_normalized(enc *e, const uint8_t *s, size_t n, const size_t *map, size_t base) {
  return split_added(e, &e->t->trie_norm, s, n, map, base, encode_pretok);
}

/* a valid UTF-8 run of the original text */
static int encode_valid(enc *e, const uint8_t *s, size_t n, size_t base) {
  if (!e->t->nfc) return encode_normalized(e, s, n, NULL, base);
  uint8_t *norm = NULL;
  size_t nlen = 0, *map = NULL;
  if (l1k_nfc(s, n, &norm, &nlen, e->off ? &map : NULL)) return L1K_ENOMEM;
  if (!norm) return encode_normalized(e, s, n, NULL, base);
  if (map)
    for (size_t i = 0; i < 2 * nlen; i++) map[i] += base;
  int rc = nlen ? encode_normalized(e, norm, nlen, map, 0) : 0;
  free(norm);
  free(map);
  return rc;
}

/* raw text between added tokens: valid UTF-8 runs and single invalid bytes */
static int encode_raw(enc *e, const uint8_t *s, size_t n, const size_t *map, size_t base) {
  (void)map; /* raw text is never remapped */
  size_t i = 0, run = 0;
  while (i < n) {
    if (s[i] < 0x80) {
      i++;
      continue;
    }
    uint32_t cp;
    int k = l1k_utf8_decode(s + i, n - i, &cp);
    if (k) {
      i += (size_t)k;
      continue;
    }
    /* invalid byte at i */
    if (i > run) {
      int rc = encode_valid(e, s + run, i - run, base + run);
      if (rc) return rc;
    }
    if (e->t->byte_id[s[i]] < 0) { /* no symbol for this byte: unk or dropped */
      int rc = bpe_units(e, s + i, 1, NULL, base + i);
      if (rc) return rc;
    } else {
      if (l1k_ids_push(e->out, e->t->byte_id[s[i]])) return L1K_ENOMEM;
      if (e->off && off_push(e, base + i, base + i + 1)) return L1K_ENOMEM;
    }
    run = ++i;
  }
  if (n > run) return encode_valid(e, s + run, n - run, base + run);
  return 0;
}

int l1k_tokenizer_encode(const l1k_tokenizer *t, const char *text, size_t len, l1k_ids *out,
                         size_t **offsets, l1k_err *err) {
  if (!t || !out || (!text && len))
    return l1k_errf(err, L1K_EINTERNAL, "l1k_tokenizer_encode: NULL argument");
  enc e = {t, get_cache(t), out, NULL, 0, NULL, 0};
  size_t start = out->len;
  if (offsets) {
    /* keep the caller's earlier offsets: 2 per token already in out */
    e.off_cap = 2 * (out->len + 64);
    e.off = malloc(e.off_cap * sizeof *e.off);
    if (!e.off) return l1k_errf(err, L1K_ENOMEM, "out of memory");
    if (start && *offsets) memcpy(e.off, *offsets, 2 * start * sizeof *e.off);
    else if (start) memset(e.off, 0, 2 * start * sizeof *e.off);
  }
  int rc = split_added(&e, &t->trie_raw, (const uint8_t *)text, len, NULL, 0,
                       t->charlevel ? encode_sp_raw : encode_raw);
  free(e.scratch);
  if (rc) {
    out->len = start;
    free(e.off);
    return l1k_errf(err, rc, "tokenizer: out of memory");
  }
  if (offsets) {
    free(*offsets);
    *offsets = e.off;
  }
  return 0;
}

int64_t l1k_tokenizer_count(const l1k_tokenizer *t, const char *text, size_t len, l1k_err *err) {
  l1k_ids ids = {0};
  if (l1k_tokenizer_encode(t, text, len, &ids, NULL, err)) {
    l1k_ids_free(&ids);
    return -1;
  }
  int64_t n = (int64_t)ids.len;
  l1k_ids_free(&ids);
  return n;
}

/* ------------------------------------------------------------------------------------------ */
/* decode and lookups                                                                           */

/* Metaspace decoder: the first token loses every replacement character (the others turn
 * them into spaces); returns the bytes written */
static size_t decode_first(const l1k_tokenizer *t, int32_t id, char *out) {
  const char *s = t->id_str[id], *r = t->dec_drop_first;
  size_t rl = strlen(r), o = 0;
  for (size_t i = 0; s[i];) {
    if (strncmp(s + i, r, rl) == 0) {
      i += rl;
      continue;
    }
    out[o++] = s[i++];
  }
  return o;
}

/* Strip decoder (after Fuse): up to strip_start copies of strip_ch removed from the start of
 * the text, up to strip_stop from its end */
static size_t decode_strip(const l1k_tokenizer *t, char *s, size_t n) {
  size_t cl = strlen(t->strip_ch), b = 0;
  for (int k = 0; k < t->strip_start && n - b >= cl && memcmp(s + b, t->strip_ch, cl) == 0; k++)
    b += cl;
  for (int k = 0; k < t->strip_stop && n - b >= cl && memcmp(s + n - cl, t->strip_ch, cl) == 0; k++)
    n -= cl;
  memmove(s, s + b, n - b);
  return n - b;
}

char *l1k_tokenizer_decode(const l1k_tokenizer *t, const int32_t *ids, size_t n, size_t *len,
                           l1k_err *err) {
  size_t total = 0;
  for (size_t i = 0; i < n; i++) {
    if (ids[i] < 0 || ids[i] >= t->vocab_size || !t->id_str[ids[i]]) {
      l1k_errf(err, L1K_EINPUT, "token id %d at position %zu is not in the vocabulary (0..%d)",
               ids[i], i, t->vocab_size - 1);
      return NULL;
    }
    total += t->dec_len[ids[i]];
  }
  char *s = l1k_malloc(total + 1, err);
  if (!s) return NULL;
  size_t o = 0;
  for (size_t i = 0; i < n; i++) {
    if (i == 0 && t->dec_first) {
      o += decode_first(t, ids[0], s);
      continue;
    }
    memcpy(s + o, t->dec_arena + t->dec_off[ids[i]], t->dec_len[ids[i]]);
    o += t->dec_len[ids[i]];
  }
  if (t->strip_ch) o = decode_strip(t, s, o);
  s[o] = 0;
  if (len) *len = o;
  return s;
}

uint64_t l1k_tokenizer_dropped_bytes(const l1k_tokenizer *t) {
  return __atomic_load_n(&t->dropped, __ATOMIC_RELAXED);
}

int l1k_tokenizer_missing_bytes(const l1k_tokenizer *t) { return t->missing_bytes; }

int32_t l1k_tokenizer_vocab_size(const l1k_tokenizer *t) { return t->vocab_size; }

int32_t l1k_tokenizer_token_to_id(const l1k_tokenizer *t, const char *token) {
  return bmap_get(&t->str_map, (const uint8_t *)token, strlen(token));
}

const char *l1k_tokenizer_id_to_token(const l1k_tokenizer *t, int32_t id) {
  if (id < 0 || id >= t->vocab_size) return NULL;
  return t->id_str[id];
}

int l1k_tokenizer_is_special(const l1k_tokenizer *t, int32_t id) {
  if (id < 0 || id >= t->vocab_size) return 0;
  return (t->id_flags[id] & 2) != 0;
}
