/* SentencePiece-style BPE (Llama-2 / Mistral tokenizer.json): ids and decoded text identical to
 * Hugging Face tokenizers for the tokenizer trained by tests/text/gen_tokenizer_sp.py
 * (tests/text/data/tokenizer_sp.json, Llama-2's layout) and the variants it derives (Mistral's
 * Metaspace prepend_scheme first, Metaspace always + split, never, no byte_fallback with unk
 * fused or not, no unk at all, special tokens with normalized: true, Gemma 3's Replace normalizer
 * + Split " " pre-tokenizer), on edge cases and on every 8th document of the shared corpus;
 * the dropped-bytes counter; the fields that are refused, each named. */
#include <unistd.h>

#include "tok_golden.h"

static const char *SP = "\xe2\x96\x81"; /* U+2581 */

static cJSON *metaspace(const char *scheme, int split) {
  cJSON *m = cJSON_CreateObject();
  cJSON_AddStringToObject(m, "type", "Metaspace");
  cJSON_AddStringToObject(m, "replacement", SP);
  cJSON_AddStringToObject(m, "prepend_scheme", scheme);
  cJSON_AddBoolToObject(m, "split", split);
  return m;
}

static void set(cJSON *o, const char *k, cJSON *v) {
  if (cJSON_GetObjectItemCaseSensitive(o, k)) cJSON_ReplaceItemInObjectCaseSensitive(o, k, v);
  else cJSON_AddItemToObject(o, k, v);
}

#define GEMMA_SPLIT                                                                          \
  "{\"type\":\"Split\",\"pattern\":{\"String\":\" \"},\"behavior\":\"MergedWithPrevious\","     \
  "\"invert\":false}"

/* the variants of gen_tokenizer_sp.py's variant() */
static cJSON *variant(const char *name) {
  cJSON *j = golden_read_json(src_path("tests/text/data/tokenizer_sp.json"));
  if (!j) return NULL;
  cJSON *model = cJSON_GetObjectItemCaseSensitive(j, "model");
  if (!strcmp(name, "mistral")) {
    set(j, "normalizer", cJSON_CreateNull());
    set(j, "pre_tokenizer", metaspace("first", 0));
  } else if (!strcmp(name, "always") || !strcmp(name, "never")) {
    set(j, "normalizer", cJSON_CreateNull());
    set(j, "pre_tokenizer", metaspace(name, 1));
    set(j, "decoder", metaspace(name, 1));
  } else if (!strcmp(name, "unk") || !strcmp(name, "unk_nofuse") || !strcmp(name, "drop")) {
    set(model, "byte_fallback", cJSON_CreateFalse());
    if (!strcmp(name, "unk_nofuse")) set(model, "fuse_unk", cJSON_CreateFalse());
    if (!strcmp(name, "drop")) set(model, "unk_token", cJSON_CreateNull());
  } else if (!strcmp(name, "gemma")) { /* Gemma 3: Replace " " -> "▁", Split " " (never matches) */
    set(j, "normalizer", cJSON_Parse("{\"type\":\"Replace\",\"pattern\":{\"String\":\" \"},"
                                     "\"content\":\"\xe2\x96\x81\"}"));
    set(j, "pre_tokenizer", cJSON_Parse(GEMMA_SPLIT));
    set(j, "decoder", cJSON_Parse("{\"type\":\"Sequence\",\"decoders\":[{\"type\":\"Replace\","
                                  "\"pattern\":{\"String\":\"\xe2\x96\x81\"},\"content\":\" \"},"
                                  "{\"type\":\"ByteFallback\"},{\"type\":\"Fuse\"}]}"));
  } else if (!strcmp(name, "normalized")) { /* matched by their normalized content: "▁<s>" */
    cJSON *a;
    cJSON_ArrayForEach(a, cJSON_GetObjectItemCaseSensitive(j, "added_tokens"))
        set(a, "normalized", cJSON_CreateTrue());
  }
  return j;
}

static l1k_tokenizer *load_variant(const char *dir, const char *name) {
  l1k_err err = {0};
  cJSON *j = variant(name);
  CHECK_MSG(j && golden_write_tokenizer(dir, j) == 0, "writing variant %s", name);
  l1k_tokenizer *t = l1k_tokenizer_load(dir, &err);
  CHECK_MSG(t != NULL, "load %s: %s", name, err.msg);
  return t;
}

/* the shared corpus texts, in order */
static char **corpus_texts(int *n) {
  l1k_err err = {0};
  l1k_jsonl *r = l1k_jsonl_open(shared_path("golden/tokenizer/qwen_corpus.jsonl"), &err);
  CHECK_MSG(r != NULL, "%s", err.msg);
  char **v = NULL;
  *n = 0;
  cJSON *rec;
  while (r && l1k_jsonl_next(r, &rec, &err) == 1) {
    char **nv = realloc(v, (size_t)(*n + 1) * sizeof *v);
    const cJSON *text = cJSON_GetObjectItemCaseSensitive(rec, "text");
    if (nv && cJSON_IsString(text)) {
      v = nv;
      v[(*n)++] = strdup(text->valuestring);
    } else if (nv) {
      v = nv;
    }
    cJSON_Delete(rec);
  }
  if (r) l1k_jsonl_close(r);
  return v;
}

/* tokenizer_sp_corpus_<name>.jsonl.gz: {"doc", "ids", "decoded" when it differs from the text} */
static void run_corpus(const l1k_tokenizer *t, const char *name, char **texts, int ntexts) {
  char path[256], label[96];
  snprintf(path, sizeof path, "tests/text/data/tokenizer_sp_corpus_%s.jsonl.gz", name);
  snprintf(label, sizeof label, "sp corpus %s", name);
  golden_stats st = {label, 0, 0, 0, 0, 0};
  l1k_err err = {0};
  l1k_jsonl *r = l1k_jsonl_open(src_path(path), &err);
  CHECK_MSG(r != NULL, "%s", err.msg);
  cJSON *rec;
  while (r && l1k_jsonl_next(r, &rec, &err) == 1) {
    const cJSON *doc = cJSON_GetObjectItemCaseSensitive(rec, "doc");
    const cJSON *dec = cJSON_GetObjectItemCaseSensitive(rec, "decoded");
    int d = cJSON_IsNumber(doc) ? (int)doc->valuedouble : -1;
    CHECK_MSG(d >= 0 && d < ntexts, "%s: bad doc index", path);
    if (d >= 0 && d < ntexts) {
      size_t ng;
      int32_t *gold = golden_ids(cJSON_GetObjectItemCaseSensitive(rec, "ids"), &ng);
      golden_check(t, &st, texts[d], gold, ng, cJSON_IsString(dec) ? dec->valuestring : texts[d],
                   (long long)l1k_jsonl_line_no(r));
      free(gold);
    }
    cJSON_Delete(rec);
  }
  if (r) l1k_jsonl_close(r);
  golden_report(&st, 200);
}

/* byte_fallback, unk and dropping on one text: "a中b" (中 is not in the vocabulary) */
static void test_unknown(const char *dir) {
  l1k_err err = {0};
  static const char *names[] = {"llama2", "unk", "unk_nofuse", "drop"};
  for (int k = 0; k < 4; k++) {
    l1k_tokenizer *t = load_variant(dir, names[k]);
    if (!t) continue;
    l1k_ids ids = {0};
    const char *s = "a\xe4\xb8\xad\xe4\xb8\xad b";
    CHECK(l1k_tokenizer_encode(t, s, strlen(s), &ids, NULL, &err) == 0);
    uint64_t dropped = l1k_tokenizer_dropped_bytes(t);
    CHECK_MSG(dropped == (k == 3 ? 6u : 0u), "%s: %llu bytes dropped", names[k],
              (unsigned long long)dropped);
    if (k == 1) { /* fused: one <unk> for both characters */
      int unk = 0;
      for (size_t i = 0; i < ids.len; i++) unk += ids.data[i] == 0;
      CHECK_MSG(unk == 1, "unk fused: %d <unk>", unk);
    } else if (k == 2) {
      int unk = 0;
      for (size_t i = 0; i < ids.len; i++) unk += ids.data[i] == 0;
      CHECK_MSG(unk == 2, "unk not fused: %d <unk>", unk);
    } else if (k == 0) { /* byte_fallback: <0xE4> is id 3 + 0xE4 in Llama-2's layout */
      int fb = 0;
      for (size_t i = 0; i < ids.len; i++) fb += ids.data[i] == 3 + 0xE4;
      CHECK_MSG(fb == 2, "byte_fallback: %d <0xE4>", fb);
      /* invalid UTF-8 is its own character: <0xNN>, and decodes back to the same bytes */
      l1k_ids b = {0};
      const char *bad = "x\xff\xc3y";
      CHECK(l1k_tokenizer_encode(t, bad, 4, &b, NULL, &err) == 0);
      size_t dl = 0;
      char *d = l1k_tokenizer_decode(t, b.data, b.len, &dl, &err);
      CHECK_MSG(d && dl == 4 && !memcmp(d, bad, 4), "invalid UTF-8 round trip: '%s'", d);
      free(d);
      l1k_ids_free(&b);
    }
    CHECK(l1k_tokenizer_missing_bytes(t) == 0);
    l1k_ids_free(&ids);
    l1k_tokenizer_free(t);
  }
}

static void expect_refused(const char *dir, const char *field, cJSON *value, const char *needle) {
  cJSON *j = variant("llama2");
  if (!j) return;
  const char *dot = strchr(field, '.');
  if (dot) {
    char top[32];
    snprintf(top, sizeof top, "%.*s", (int)(dot - field), field);
    set(cJSON_GetObjectItemCaseSensitive(j, top), dot + 1, value);
  } else {
    set(j, field, value);
  }
  CHECK(golden_write_tokenizer(dir, j) == 0);
  l1k_err err = {0};
  l1k_tokenizer *t = l1k_tokenizer_load(dir, &err);
  CHECK_MSG(t == NULL, "%s: accepted", field);
  CHECK_MSG(strstr(err.msg, needle) && strstr(err.msg, "tokenizer.json") && !strchr(err.msg, '\n'),
            "%s: '%s' does not say '%s'", field, err.msg, needle);
  l1k_tokenizer_free(t);
}

static void test_refused(const char *dir) {
  expect_refused(dir, "normalizer", cJSON_Parse("{\"type\":\"NFKC\"}"), "normalizer");
  expect_refused(dir, "normalizer",
                 cJSON_Parse("{\"type\":\"Sequence\",\"normalizers\":[{\"type\":\"Replace\","
                             "\"pattern\":{\"Regex\":\" +\"},\"content\":\" \"}]}"),
                 "normalizer.normalizers[0].pattern");
  expect_refused(dir, "normalizer",
                 cJSON_Parse("{\"type\":\"Sequence\",\"normalizers\":[{\"type\":\"Precompiled\"}]}"),
                 "Precompiled");
  expect_refused(dir, "pre_tokenizer", cJSON_Parse("{\"type\":\"Whitespace\"}"), "Whitespace");
  expect_refused(dir, "pre_tokenizer",
                 cJSON_Parse("{\"type\":\"Metaspace\",\"replacement\":\"_\",\"prepend_scheme\":\"x\"}"),
                 "prepend_scheme");
  /* a lone Split is accepted only for one character the normalizer removes (Llama-2's Replace
   * " " -> "▁" does: refused on a string that survives, on two spaces, and with invert) */
  expect_refused(dir, "pre_tokenizer",
                 cJSON_Parse("{\"type\":\"Split\",\"pattern\":{\"String\":\"a\"},"
                             "\"behavior\":\"MergedWithPrevious\",\"invert\":false}"),
                 "pre_tokenizer.Split: String pattern \"a\" can still occur");
  expect_refused(dir, "pre_tokenizer",
                 cJSON_Parse("{\"type\":\"Split\",\"pattern\":{\"String\":\"  \"},"
                             "\"behavior\":\"MergedWithPrevious\",\"invert\":false}"),
                 "String pattern \"  \" can still occur");
  expect_refused(dir, "pre_tokenizer",
                 cJSON_Parse("{\"type\":\"Split\",\"pattern\":{\"String\":\" \"},"
                             "\"behavior\":\"MergedWithPrevious\",\"invert\":true}"),
                 "invert=false");
  expect_refused(dir, "pre_tokenizer",
                 cJSON_Parse("{\"type\":\"Split\",\"pattern\":{\"Regex\":\" \"},"
                             "\"behavior\":\"MergedWithPrevious\",\"invert\":false}"),
                 "String pattern");
  expect_refused(dir, "decoder", cJSON_CreateNull(), "decoder");
  expect_refused(dir, "decoder",
                 cJSON_Parse("{\"type\":\"Sequence\",\"decoders\":[{\"type\":\"Strip\",\"content\":"
                             "\" \",\"start\":1,\"stop\":0}]}"),
                 "decoder.decoders[0]");
  expect_refused(dir, "decoder", cJSON_Parse("{\"type\":\"WordPiece\"}"), "WordPiece");
  expect_refused(dir, "model.unk_token", cJSON_CreateString("<nope>"), "model.unk_token");
  expect_refused(dir, "model.dropout", cJSON_CreateNumber(0.1), "model.dropout");
  expect_refused(dir, "model.type", cJSON_CreateString("Unigram"), "model.type");
}

int main(void) {
  char dir[] = "/tmp/l1k_tok_sp_XXXXXX";
  CHECK(mkdtemp(dir) != NULL);
  int ntexts = 0;
  char **texts = corpus_texts(&ntexts);
  CHECK_MSG(ntexts == 1652, "%d corpus documents", ntexts);
  static const char *names[] = {"llama2", "mistral", "always", "never", "unk", "unk_nofuse",
                                "drop", "normalized", "gemma"};
  for (int k = 0; k < 9; k++) {
    l1k_tokenizer *t = load_variant(dir, names[k]);
    if (!t) continue;
    char path[256], label[96];
    snprintf(path, sizeof path, "tests/text/data/tokenizer_sp_edge_%s.jsonl", names[k]);
    snprintf(label, sizeof label, "sp edge %s", names[k]);
    golden_run_file(t, src_path(path), label, 600);
    if (k < 3) run_corpus(t, names[k], texts, ntexts);
    if (k < 4) CHECK(l1k_tokenizer_dropped_bytes(t) == 0);
    if (k == 6) CHECK(l1k_tokenizer_dropped_bytes(t) > 0);
    l1k_tokenizer_free(t);
  }
  test_unknown(dir);
  test_refused(dir);
  for (int i = 0; i < ntexts; i++) free(texts[i]);
  free(texts);
  char path[512];
  snprintf(path, sizeof path, "%s/tokenizer.json", dir);
  unlink(path);
  rmdir(dir);
  CHECK_DONE();
}
