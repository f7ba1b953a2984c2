/* long1k — Hugging Face tokenizer.json, byte-level BPE (Qwen2/2.5/3, Llama-3, GPT-2 style).
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
 * Thread safety: the struct is read-only after load. Each thread gets its own small cache of
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
} added_tok;

/* byte trie over added tokens (one per normalized flag) */
typedef struct {
  int32_t *next; /* node * 256 -> child node, 0 = none */
  int32_t *tok;  /* node -> index in added[] or -1 */
  size_t n, cap;
  uint8_t first[256];
} trie;

struct l1k_tokenizer {
  l1k_pre_kind pre;
  int nfc;
  int ignore_merges;
  int32_t vocab_size;
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
  bmap byte_map;  /* raw bytes -> id for model tokens (ignore_merges); arena = dec_arena */
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
/* loading                                                                                      */

static const char *PAT_QWEN =
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|"
    "\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
static const char *PAT_LLAMA3 =
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|"
    "\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

static int is_type(const cJSON *o, const char *type) {
  const cJSON *t = cJSON_GetObjectItemCaseSensitive(o, "type");
  return cJSON_IsString(t) && strcmp(t->valuestring, type) == 0;
}

static int json_true(const cJSON *o, const char *k) {
  return cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, k));
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

static int parse_pre(l1k_tokenizer *t, const cJSON *pre, const char *path, l1k_err *err) {
  if (!cJSON_IsObject(pre))
    return l1k_errf(err, L1K_EUNSUPPORTED,
                    "%s: pre_tokenizer: expected a Split + ByteLevel sequence or ByteLevel "
                    "(byte-level BPE tokenizers only)",
                    path);
  if (is_type(pre, "ByteLevel")) {
    const cJSON *ur = cJSON_GetObjectItemCaseSensitive(pre, "use_regex");
    if (ur && !cJSON_IsTrue(ur))
      return l1k_errf(err, L1K_EUNSUPPORTED,
                      "%s: pre_tokenizer: ByteLevel without its regex is not supported", path);
    t->pre = L1K_PRE_GPT2;
    return check_bytelevel(pre, "pre_tokenizer", 1, path, err);
  }
  if (!is_type(pre, "Sequence"))
    return l1k_errf(err, L1K_EUNSUPPORTED,
                    "%s: pre_tokenizer: type must be Sequence or ByteLevel", path);
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

static int parse_normalizer(l1k_tokenizer *t, const cJSON *nm, const char *path, l1k_err *err) {
  if (!nm || cJSON_IsNull(nm)) return 0;
  if (is_type(nm, "NFC")) {
    t->nfc = 1;
    return 0;
  }
  if (is_type(nm, "Sequence")) {
    const cJSON *list = cJSON_GetObjectItemCaseSensitive(nm, "normalizers");
    const cJSON *it;
    cJSON_ArrayForEach(it, list) {
      if (!is_type(it, "NFC"))
        return l1k_errf(err, L1K_EUNSUPPORTED,
                        "%s: normalizer: only NFC (or none) is supported", path);
      t->nfc = 1;
    }
    return 0;
  }
  return l1k_errf(err, L1K_EUNSUPPORTED, "%s: normalizer: only NFC (or none) is supported", path);
}

/* sets id_str[id] (strdup) and grows vocab tables as needed */
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

static void cache_destroy(void *p);

l1k_tokenizer *l1k_tokenizer_load(const char *path, l1k_err *err) {
  l1k_uc_init();
  char *file = NULL;
  if (l1k_is_dir(path)) {
    file = l1k_path_join(path, "tokenizer.json");
    if (!file) {
      l1k_errf(err, L1K_ENOMEM, "out of memory");
      return NULL;
    }
    if (!l1k_file_exists(file)) {
      l1k_errf(err, L1K_EINPUT, "%s: no tokenizer.json in this directory", path);
      free(file);
      return NULL;
    }
  } else {
    file = l1k_strdup(path, err);
    if (!file) return NULL;
  }
  size_t flen = 0;
  char *text = l1k_read_file(file, &flen, err);
  if (!text) {
    free(file);
    return NULL;
  }
  cJSON *root = l1k_json_parse_doc(text, flen, file, err); /* one document, nothing after */
  if (!root) {
    free(text);
    free(file);
    return NULL;
  }
  free(text);

  l1k_tokenizer *t = calloc(1, sizeof *t);
  size_t cap = 0;
  uint8_t *tmp = NULL;
  if (!t) {
    l1k_errf(err, L1K_ENOMEM, "out of memory");
    goto fail;
  }
  pthread_mutex_init(&t->lock, NULL);
  for (int i = 0; i < 256; i++) t->byte_id[i] = -1;

  const cJSON *model = cJSON_GetObjectItemCaseSensitive(root, "model");
  if (!cJSON_IsObject(model)) {
    l1k_errf(err, L1K_EINPUT, "%s: field 'model': expected an object", file);
    goto fail;
  }
  const cJSON *mtype = cJSON_GetObjectItemCaseSensitive(model, "type");
  if (mtype && !(cJSON_IsString(mtype) && strcmp(mtype->valuestring, "BPE") == 0)) {
    l1k_errf(err, L1K_EUNSUPPORTED, "%s: model.type '%s': only BPE is supported", file,
             cJSON_IsString(mtype) ? mtype->valuestring : "?");
    goto fail;
  }
  const cJSON *drop = cJSON_GetObjectItemCaseSensitive(model, "dropout");
  if (drop && !cJSON_IsNull(drop) && !(cJSON_IsNumber(drop) && drop->valuedouble == 0)) {
    l1k_errf(err, L1K_EUNSUPPORTED, "%s: model.dropout: BPE dropout is not supported", file);
    goto fail;
  }
  if (json_true(model, "byte_fallback")) {
    l1k_errf(err, L1K_EUNSUPPORTED, "%s: model.byte_fallback: not supported", file);
    goto fail;
  }
  {
    const char *fields[] = {"continuing_subword_prefix", "end_of_word_suffix"};
    for (int i = 0; i < 2; i++) {
      const cJSON *f = cJSON_GetObjectItemCaseSensitive(model, fields[i]);
      if (f && !cJSON_IsNull(f) && !(cJSON_IsString(f) && f->valuestring[0] == 0)) {
        l1k_errf(err, L1K_EUNSUPPORTED, "%s: model.%s: must be empty", file, fields[i]);
        goto fail;
      }
    }
  }
  t->ignore_merges = json_true(model, "ignore_merges");
  if (parse_normalizer(t, cJSON_GetObjectItemCaseSensitive(root, "normalizer"), file, err) ||
      parse_pre(t, cJSON_GetObjectItemCaseSensitive(root, "pre_tokenizer"), file, err))
    goto fail;
  {
    const cJSON *dec = cJSON_GetObjectItemCaseSensitive(root, "decoder");
    if (dec && !cJSON_IsNull(dec) && !is_type(dec, "ByteLevel")) {
      l1k_errf(err, L1K_EUNSUPPORTED, "%s: decoder: only ByteLevel is supported", file);
      goto fail;
    }
  }

  /* vocab */
  const cJSON *vocab = cJSON_GetObjectItemCaseSensitive(model, "vocab");
  if (!cJSON_IsObject(vocab)) {
    l1k_errf(err, L1K_EINPUT, "%s: field 'model.vocab': expected an object", file);
    goto fail;
  }
  const cJSON *it;
  size_t n_vocab = 0, str_bytes = 0;
  cJSON_ArrayForEach(it, vocab) {
    if (!cJSON_IsNumber(it) || it->valuedouble < 0 || it->valuedouble > 1e8 ||
        it->valuedouble != (double)(int32_t)it->valuedouble) {
      l1k_errf(err, L1K_EINPUT, "%s: model.vocab['%.100s']: expected a non-negative integer id",
               file, it->string);
      goto fail;
    }
    int32_t id = (int32_t)it->valuedouble;
    if (ensure_id(t, id, &cap, err)) goto fail;
    if (t->id_str[id]) {
      l1k_errf(err, L1K_EINPUT, "%s: model.vocab: id %d is used twice ('%.100s', '%.100s')",
               file, id, t->id_str[id], it->string);
      goto fail;
    }
    t->id_str[id] = it->string; /* points into the cJSON tree until the arena is built */
    t->id_flags[id] |= 4; /* in the model vocabulary */
    if (id + 1 > t->vocab_size) t->vocab_size = id + 1;
    n_vocab++;
    str_bytes += strlen(it->string);
  }
  /* added tokens */
  const cJSON *added = cJSON_GetObjectItemCaseSensitive(root, "added_tokens");
  int n_added_json = cJSON_IsArray(added) ? cJSON_GetArraySize(added) : 0;
  if (added && !cJSON_IsArray(added) && !cJSON_IsNull(added)) {
    l1k_errf(err, L1K_EINPUT, "%s: field 'added_tokens': expected an array", file);
    goto fail;
  }
  t->added = calloc((size_t)n_added_json + 1, sizeof *t->added);
  if (!t->added) {
    l1k_errf(err, L1K_ENOMEM, "out of memory");
    goto fail;
  }
  {
    int k = 0;
    cJSON_ArrayForEach(it, added) {
      const cJSON *idj = cJSON_GetObjectItemCaseSensitive(it, "id");
      const cJSON *cj = cJSON_GetObjectItemCaseSensitive(it, "content");
      if (!cJSON_IsNumber(idj) || idj->valuedouble < 0 || idj->valuedouble > 1e8 ||
          !cJSON_IsString(cj) || !cj->valuestring[0]) {
        l1k_errf(err, L1K_EINPUT,
                 "%s: added_tokens[%d]: expected an object with an integer 'id' and a non-empty "
                 "'content'",
                 file, k);
        goto fail;
      }
      int32_t id = (int32_t)idj->valuedouble;
      added_tok *a = &t->added[t->n_added++];
      a->len = strlen(cj->valuestring);
      a->content = (uint8_t *)strdup(cj->valuestring);
      if (!a->content) {
        l1k_errf(err, L1K_ENOMEM, "out of memory");
        goto fail;
      }
      a->id = id;
      a->lstrip = (uint8_t)json_true(it, "lstrip");
      a->rstrip = (uint8_t)json_true(it, "rstrip");
      a->single_word = (uint8_t)json_true(it, "single_word");
      a->normalized = (uint8_t)json_true(it, "normalized");
      a->special = (uint8_t)json_true(it, "special");
      if (ensure_id(t, id, &cap, err)) goto fail;
      if (t->id_str[id] && strcmp(t->id_str[id], cj->valuestring) != 0) {
        l1k_errf(err, L1K_EINPUT,
                 "%s: added_tokens[%d]: id %d is '%.100s' in the vocabulary, not '%.100s'", file,
                 k, id, t->id_str[id], cj->valuestring);
        goto fail;
      }
      if (!t->id_str[id]) {
        t->id_str[id] = cj->valuestring;
        str_bytes += a->len;
      }
      t->id_flags[id] |= (uint8_t)(1 | (a->special ? 2 : 0));
      if (id + 1 > t->vocab_size) t->vocab_size = id + 1;
      k++;
    }
  }
  if (t->vocab_size == 0) {
    l1k_errf(err, L1K_EINPUT, "%s: model.vocab is empty", file);
    goto fail;
  }

  /* decoded bytes of every id + string map */
  {
    uint32_t b2u[256];
    uint8_t u2b_ok[324] = {0}, u2b[324] = {0};
    byte_alphabet(b2u);
    for (int b = 0; b < 256; b++) {
      u2b_ok[b2u[b]] = 1;
      u2b[b2u[b]] = (uint8_t)b;
    }
    size_t V = (size_t)t->vocab_size;
    t->dec_off = calloc(V, sizeof *t->dec_off);
    t->dec_len = calloc(V, sizeof *t->dec_len);
    t->dec_arena = malloc(str_bytes + 1);
    t->str_arena = malloc(str_bytes + V); /* NUL-terminated strings */
    if (!t->dec_off || !t->dec_len || !t->dec_arena || !t->str_arena) {
      l1k_errf(err, L1K_ENOMEM, "out of memory");
      goto fail;
    }
    if (bmap_init(&t->str_map, V, err) || bmap_init(&t->byte_map, n_vocab, err)) goto fail;
    t->str_map.arena = t->str_arena;
    t->byte_map.arena = t->dec_arena;
    size_t so = 0, dof = 0;
    for (size_t id = 0; id < V; id++) {
      const char *s = t->id_str[id];
      if (!s) continue;
      size_t L = strlen(s);
      memcpy(t->str_arena + so, s, L + 1);
      t->id_str[id] = (char *)t->str_arena + so; /* from now on: the arena's copy */
      bmap_put(&t->str_map, (uint32_t)so, (uint32_t)L, (int32_t)id);
      so += L + 1;
      long d = unbyte(u2b_ok, u2b, s, L, t->dec_arena + dof);
      int model_tok = (t->id_flags[id] & 4) != 0;
      if (d < 0) { /* not in the byte alphabet: its own bytes */
        memcpy(t->dec_arena + dof, s, L);
        d = (long)L;
        model_tok = 0;
      }
      t->dec_off[id] = (uint32_t)dof;
      t->dec_len[id] = (uint32_t)d;
      dof += (size_t)d;
      if (model_tok) {
        bmap_put(&t->byte_map, t->dec_off[id], t->dec_len[id], (int32_t)id);
        if (d == 1 && t->byte_id[t->dec_arena[t->dec_off[id]]] < 0)
          t->byte_id[t->dec_arena[t->dec_off[id]]] = (int32_t)id;
      }
    }
    t->dec_arena_len = dof;
    for (int b = 0; b < 256; b++)
      if (t->byte_id[b] < 0) {
        l1k_errf(err, L1K_EUNSUPPORTED,
                 "%s: model.vocab has no token for byte 0x%02X: not a byte-level BPE vocabulary",
                 file, b);
        goto fail;
      }
  }

  /* merges */
  {
    const cJSON *merges = cJSON_GetObjectItemCaseSensitive(model, "merges");
    if (!cJSON_IsArray(merges)) {
      l1k_errf(err, L1K_EINPUT, "%s: field 'model.merges': expected an array", file);
      goto fail;
    }
    size_t nm = (size_t)cJSON_GetArraySize(merges);
    size_t mcap = 16;
    while (mcap < nm + nm / 3) mcap *= 2; /* load factor at most 3/4 */
    if (t->vocab_size > (1 << MERGE_ID_BITS) || nm >= (1u << MERGE_RANK_BITS)) {
      l1k_errf(err, L1K_EUNSUPPORTED,
               "%s: %d tokens and %zu merges: at most %d tokens and %u merges are supported",
               file, t->vocab_size, nm, 1 << MERGE_ID_BITS, (1u << MERGE_RANK_BITS) - 1);
      goto fail;
    }
    t->merges = malloc(mcap * sizeof *t->merges);
    t->merge_id = malloc((nm ? nm : 1) * sizeof *t->merge_id);
    if (!t->merges || !t->merge_id) {
      l1k_errf(err, L1K_ENOMEM, "out of memory");
      goto fail;
    }
    for (size_t i = 0; i < mcap; i++) t->merges[i] = MERGE_EMPTY;
    t->merges_mask = mcap - 1;
    size_t tmp_cap = 256;
    tmp = malloc(tmp_cap);
    if (!tmp) {
      l1k_errf(err, L1K_ENOMEM, "out of memory");
      goto fail;
    }
    int32_t rank = 0;
    cJSON_ArrayForEach(it, merges) {
      const char *a = NULL, *b = NULL;
      size_t la = 0, lb = 0;
      if (cJSON_IsString(it)) {
        const char *sp = strchr(it->valuestring, ' ');
        if (sp) {
          a = it->valuestring;
          la = (size_t)(sp - a);
          b = sp + 1;
          lb = strlen(b);
          if (strchr(b, ' ')) a = NULL;
        }
      } else if (cJSON_IsArray(it) && cJSON_GetArraySize(it) == 2 &&
                 cJSON_IsString(cJSON_GetArrayItem(it, 0)) &&
                 cJSON_IsString(cJSON_GetArrayItem(it, 1))) {
        a = cJSON_GetArrayItem(it, 0)->valuestring;
        b = cJSON_GetArrayItem(it, 1)->valuestring;
        la = strlen(a);
        lb = strlen(b);
      }
      if (!a) {
        l1k_errf(err, L1K_EINPUT,
                 "%s: model.merges[%d]: expected \"left right\" or [\"left\", \"right\"]", file,
                 rank);
        goto fail;
      }
      if (la + lb + 1 > tmp_cap) {
        tmp_cap = (la + lb + 1) * 2;
        uint8_t *nt = realloc(tmp, tmp_cap);
        if (!nt) {
          l1k_errf(err, L1K_ENOMEM, "out of memory");
          goto fail;
        }
        tmp = nt;
      }
      memcpy(tmp, a, la);
      int32_t ia = bmap_get(&t->str_map, tmp, la);
      memcpy(tmp, b, lb);
      int32_t ib = bmap_get(&t->str_map, tmp, lb);
      memcpy(tmp, a, la);
      memcpy(tmp + la, b, lb);
      int32_t im = bmap_get(&t->str_map, tmp, la + lb);
      if (ia < 0 || ib < 0 || im < 0) {
        l1k_errf(err, L1K_EINPUT, "%s: model.merges[%d]: '%.*s' + '%.*s': %s is not in the vocabulary",
                 file, rank, (int)(la > 60 ? 60 : la), a, (int)(lb > 60 ? 60 : lb), b,
                 ia < 0 ? "the left part" : ib < 0 ? "the right part" : "the merged token");
        goto fail;
      }
      uint64_t k = pair_key(ia, ib);
      t->merge_id[rank] = im;
      for (size_t i = pair_slot(k) & t->merges_mask;; i = (i + 1) & t->merges_mask) {
        uint64_t e = t->merges[i];
        if (e == MERGE_EMPTY) {
          t->merges[i] = (k << MERGE_RANK_BITS) | (uint64_t)rank;
          break;
        }
        if ((e >> MERGE_RANK_BITS) == k) break; /* a repeated merge keeps its first rank */
      }
      rank++;
    }
    free(tmp);
    tmp = NULL;
  }

  /* added token tries */
  for (size_t i = 0; i < t->n_added; i++) {
    trie *tr = t->added[i].normalized ? &t->trie_norm : &t->trie_raw;
    if (trie_add(tr, t->added[i].content, t->added[i].len, (int32_t)i, err)) goto fail;
  }

  if (pthread_key_create(&t->key, cache_destroy) != 0) {
    l1k_errf(err, L1K_EINTERNAL, "pthread_key_create failed");
    goto fail;
  }
  t->key_ok = 1;
  cJSON_Delete(root);
  free(file);
  return t;

fail:
  free(tmp);
  cJSON_Delete(root);
  free(file);
  l1k_tokenizer_free(t);
  return NULL;
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
  for (size_t i = 0; i < t->n_added; i++) free(t->added[i].content);
  free(t->added);
  trie_free(&t->trie_raw);
  trie_free(&t->trie_norm);
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
} enc;

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
typedef int (*part_fn)(enc *e, const uint8_t *s, size_t n, const size_t *map, size_t base);

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
    if (l1k_ids_push(e->out, e->t->byte_id[s[i]])) return L1K_ENOMEM;
    if (e->off && off_push(e, base + i, base + i + 1)) return L1K_ENOMEM;
    run = ++i;
  }
  if (n > run) return encode_valid(e, s + run, n - run, base + run);
  return 0;
}

int l1k_tokenizer_encode(const l1k_tokenizer *t, const char *text, size_t len, l1k_ids *out,
                         size_t **offsets, l1k_err *err) {
  if (!t || !out || (!text && len))
    return l1k_errf(err, L1K_EINTERNAL, "l1k_tokenizer_encode: NULL argument");
  enc e = {t, get_cache(t), out, NULL, 0};
  size_t start = out->len;
  if (offsets) {
    /* keep the caller's earlier offsets: 2 per token already in out */
    e.off_cap = 2 * (out->len + 64);
    e.off = malloc(e.off_cap * sizeof *e.off);
    if (!e.off) return l1k_errf(err, L1K_ENOMEM, "out of memory");
    if (start && *offsets) memcpy(e.off, *offsets, 2 * start * sizeof *e.off);
    else if (start) memset(e.off, 0, 2 * start * sizeof *e.off);
  }
  int rc = split_added(&e, &t->trie_raw, (const uint8_t *)text, len, NULL, 0, encode_raw);
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
    memcpy(s + o, t->dec_arena + t->dec_off[ids[i]], t->dec_len[ids[i]]);
    o += t->dec_len[ids[i]];
  }
  s[o] = 0;
  if (len) *len = o;
  return s;
}

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
