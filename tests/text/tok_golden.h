/* Shared by the tokenizer golden tests: run every record of a JSONL file of
 * {"text", "ids", "decoded"} (ids and decoded text from Hugging Face tokenizers) through a
 * tokenizer: identical ids, sane offsets, decode(ids) == decoded. */
#ifndef LONG1K_TEST_TOK_GOLDEN_H
#define LONG1K_TEST_TOK_GOLDEN_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "long1k/io.h"
#include "long1k/jsonl.h"
#include "long1k/tokenizer.h"

typedef struct {
  const char *name;
  int docs, bad_ids, bad_dec, bad_offs;
  size_t tokens;
} golden_stats;

static const char *src_path(const char *rel) {
  static char buf[4096];
  const char *root = getenv("LONG1K_SRC");
  snprintf(buf, sizeof buf, "%s/%s", root && *root ? root : ".", rel);
  return buf;
}

static void golden_print_ids(const char *label, const int32_t *ids, size_t n, size_t from) {
  fprintf(stderr, "    %s:", label);
  for (size_t i = from; i < n && i < from + 12; i++) fprintf(stderr, " %d", ids[i]);
  fprintf(stderr, "%s\n", n > from + 12 ? " ..." : "");
}

/* the ids of a JSON array (malloc'ed), *n their count */
static int32_t *golden_ids(const cJSON *ids, size_t *n) {
  *n = (size_t)cJSON_GetArraySize(ids);
  int32_t *g = malloc((*n + 1) * sizeof *g);
  size_t k = 0;
  const cJSON *it;
  if (g) cJSON_ArrayForEach(it, ids) g[k++] = (int32_t)it->valuedouble;
  return g;
}

/* the length of the maximal subpart of an ill-formed UTF-8 sequence at s (Unicode's
 * "substitution of maximal subparts", as Rust's String::from_utf8_lossy), or 0 when a valid
 * character starts there (*cl: its length) */
static size_t golden_bad_len(const unsigned char *s, size_t n, size_t *cl) {
  unsigned char c = s[0];
  size_t need = c < 0x80 ? 0 : c >= 0xC2 && c <= 0xDF ? 1 : c >= 0xE0 && c <= 0xEF ? 2
                : c >= 0xF0 && c <= 0xF4 ? 3 : 99;
  if (need == 0) return *cl = 1, 0;
  if (need == 99) return 1;
  unsigned char lo = c == 0xE0 ? 0xA0 : c == 0xF0 ? 0x90 : 0x80;
  unsigned char hi = c == 0xED ? 0x9F : c == 0xF4 ? 0x8F : 0xBF;
  size_t i = 1;
  for (; i <= need && i < n; i++) {
    unsigned char x = s[i];
    if (i == 1 ? (x < lo || x > hi) : (x & 0xC0) != 0x80) break;
  }
  if (i == need + 1) return *cl = i, 0;
  return i;
}

/* s[0..n) with every ill-formed subsequence replaced by U+FFFD (malloc'ed, NUL-terminated) */
static char *golden_lossy(const char *s, size_t n, size_t *olen) {
  char *o = malloc(3 * n + 1);
  size_t k = 0;
  for (size_t i = 0; o && i < n;) {
    size_t cl = 0, bad = golden_bad_len((const unsigned char *)s + i, n - i, &cl);
    if (bad) {
      memcpy(o + k, "\xef\xbf\xbd", 3);
      k += 3;
      i += bad;
    } else {
      memcpy(o + k, s + i, cl);
      k += cl;
      i += cl;
    }
  }
  if (o) o[k] = 0;
  *olen = k;
  return o;
}

/* one record: encode(text) == gold, offsets inside the text and non-decreasing,
 * decode(gold) == decoded */
static void golden_check(const l1k_tokenizer *t, golden_stats *st, const char *text,
                         const int32_t *gold, size_t ng, const char *decoded, long long line) {
  l1k_err err = {0};
  l1k_ids out = {0};
  size_t *offs = NULL, tl = strlen(text);
  st->docs++;
  int erc = l1k_tokenizer_encode(t, text, tl, &out, &offs, &err);
  CHECK_MSG(erc == 0, "%s line %lld: encode failed: %s", st->name, line, err.msg);
  st->tokens += out.len;
  if (!(out.len == ng && (ng == 0 || memcmp(out.data, gold, ng * sizeof *gold) == 0))) {
    if (st->bad_ids < 5) {
      size_t d = 0;
      while (d < out.len && d < ng && out.data[d] == gold[d]) d++;
      fprintf(stderr, "  %s line %lld: ids differ at token %zu (ours %zu tokens, HF %zu)\n",
              st->name, line, d, out.len, ng);
      golden_print_ids("ours", out.data, out.len, d > 3 ? d - 3 : 0);
      golden_print_ids("HF  ", gold, ng, d > 3 ? d - 3 : 0);
    }
    st->bad_ids++;
  }
  for (size_t i = 0; i < out.len; i++)
    if (offs[2 * i] > offs[2 * i + 1] || offs[2 * i + 1] > tl ||
        (i && offs[2 * i] < offs[2 * i - 2])) {
      st->bad_offs++;
      break;
    }
  size_t dl = 0;
  char *raw = l1k_tokenizer_decode(t, gold, ng, &dl, &err);
  CHECK_MSG(raw != NULL, "%s line %lld: decode: %s", st->name, line, err.msg);
  /* long1k returns the bytes; HF shows U+FFFD for what is not valid UTF-8 */
  char *s = raw ? golden_lossy(raw, dl, &dl) : NULL;
  free(raw);
  CHECK(raw == NULL || s != NULL);
  if (s && (dl != strlen(decoded) || memcmp(s, decoded, dl) != 0)) {
    if (st->bad_dec < 5)
      fprintf(stderr, "  %s line %lld: decode(ids) is '%.60s', HF '%.60s'\n", st->name, line, s,
              decoded);
    st->bad_dec++;
  }
  free(s);
  free(offs);
  l1k_ids_free(&out);
}

static void golden_report(const golden_stats *st, int min_docs) {
  CHECK_MSG(st->docs >= min_docs, "%s: only %d documents", st->name, st->docs);
  CHECK_MSG(st->bad_ids == 0, "%s: %d of %d documents with different ids", st->name, st->bad_ids,
            st->docs);
  CHECK_MSG(st->bad_dec == 0, "%s: %d of %d documents decode differently", st->name, st->bad_dec,
            st->docs);
  CHECK_MSG(st->bad_offs == 0, "%s: %d documents with bad offsets", st->name, st->bad_offs);
  fprintf(stderr, "%s: %d documents, %zu tokens, %d id / %d decode mismatches\n", st->name,
          st->docs, st->tokens, st->bad_ids, st->bad_dec);
}

/* every record of a {"text","ids","decoded"} JSONL file */
static void golden_run_file(const l1k_tokenizer *t, const char *path, const char *name,
                            int min_docs) {
  l1k_err err = {0};
  golden_stats st = {name, 0, 0, 0, 0, 0};
  l1k_jsonl *r = l1k_jsonl_open(path, &err);
  CHECK_MSG(r != NULL, "open %s: %s", path, err.msg);
  if (!r) return;
  cJSON *rec;
  int rc;
  while ((rc = l1k_jsonl_next(r, &rec, &err)) == 1) {
    const cJSON *text = cJSON_GetObjectItemCaseSensitive(rec, "text");
    const cJSON *ids = cJSON_GetObjectItemCaseSensitive(rec, "ids");
    const cJSON *dec = cJSON_GetObjectItemCaseSensitive(rec, "decoded");
    CHECK(cJSON_IsString(text) && cJSON_IsArray(ids) && cJSON_IsString(dec));
    if (cJSON_IsString(text) && cJSON_IsArray(ids) && cJSON_IsString(dec)) {
      size_t ng;
      int32_t *gold = golden_ids(ids, &ng);
      golden_check(t, &st, text->valuestring, gold, ng, dec->valuestring,
                   (long long)l1k_jsonl_line_no(r));
      free(gold);
    }
    cJSON_Delete(rec);
  }
  CHECK_MSG(rc == 0, "reading %s: %s", path, err.msg);
  l1k_jsonl_close(r);
  golden_report(&st, min_docs);
}

/* writes a cJSON tree as dir/tokenizer.json (the tree is deleted) */
static int golden_write_tokenizer(const char *dir, cJSON *j) {
  char *out = cJSON_PrintUnformatted(j);
  cJSON_Delete(j);
  char path[512];
  snprintf(path, sizeof path, "%s/tokenizer.json", dir);
  int rc = out && l1k_write_file_atomic(path, out, strlen(out), NULL) == 0 ? 0 : -1;
  free(out);
  return rc;
}

static cJSON *golden_read_json(const char *path) {
  size_t len = 0;
  char *text = l1k_read_file(path, &len, NULL);
  if (!text) return NULL;
  cJSON *j = cJSON_ParseWithLength(text, len);
  free(text);
  return j;
}

#endif
