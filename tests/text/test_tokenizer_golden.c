/* Tokenizer parity: every document of ../shared/golden/tokenizer/{qwen,llama3}_corpus.jsonl
 * (ids and decoded text from Hugging Face tokenizers) must give identical ids, and
 * decode(ids) must equal `decoded`. Prints the first few mismatches. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "long1k/io.h"
#include "long1k/jsonl.h"
#include "long1k/tokenizer.h"

static void print_ids(const char *label, const int32_t *ids, size_t n, size_t from) {
  fprintf(stderr, "    %s:", label);
  for (size_t i = from; i < n && i < from + 12; i++) fprintf(stderr, " %d", ids[i]);
  fprintf(stderr, "%s\n", n > from + 12 ? " ..." : "");
}

static void run_corpus(const char *tok_dir, const char *corpus_path, const char *corpus) {
  l1k_err err = {0};
  l1k_tokenizer *t = l1k_tokenizer_load(tok_dir[0] == '/' ? tok_dir : shared_path(tok_dir), &err);
  CHECK_MSG(t != NULL, "load %s: %s", tok_dir, err.msg);
  if (!t) return;
  l1k_jsonl *r = l1k_jsonl_open(corpus_path, &err);
  CHECK_MSG(r != NULL, "open %s: %s", corpus, err.msg);
  if (!r) {
    l1k_tokenizer_free(t);
    return;
  }
  cJSON *rec;
  int rc, docs = 0, bad_ids = 0, bad_dec = 0;
  size_t tokens = 0;
  while ((rc = l1k_jsonl_next(r, &rec, &err)) == 1) {
    docs++;
    const cJSON *text = cJSON_GetObjectItemCaseSensitive(rec, "text");
    const cJSON *ids = cJSON_GetObjectItemCaseSensitive(rec, "ids");
    const cJSON *dec = cJSON_GetObjectItemCaseSensitive(rec, "decoded");
    CHECK(cJSON_IsString(text) && cJSON_IsArray(ids) && cJSON_IsString(dec));
    if (!cJSON_IsString(text) || !cJSON_IsArray(ids) || !cJSON_IsString(dec)) {
      cJSON_Delete(rec);
      continue;
    }
    size_t ng = (size_t)cJSON_GetArraySize(ids);
    int32_t *gold = malloc((ng + 1) * sizeof *gold);
    size_t k = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, ids) gold[k++] = (int32_t)it->valuedouble;
    l1k_ids out = {0};
    size_t *offs = NULL;
    int erc = l1k_tokenizer_encode(t, text->valuestring, strlen(text->valuestring), &out, &offs,
                                   &err);
    CHECK_MSG(erc == 0, "%s line %lld: encode failed: %s", corpus,
              (long long)l1k_jsonl_line_no(r), err.msg);
    tokens += out.len;
    int same = out.len == ng && (ng == 0 || memcmp(out.data, gold, ng * sizeof *gold) == 0);
    if (!same) {
      if (bad_ids < 5) {
        size_t d = 0;
        while (d < out.len && d < ng && out.data[d] == gold[d]) d++;
        fprintf(stderr, "  %s line %lld: ids differ at token %zu (ours %zu tokens, HF %zu)\n",
                corpus, (long long)l1k_jsonl_line_no(r), d, out.len, ng);
        print_ids("ours", out.data, out.len, d > 3 ? d - 3 : 0);
        print_ids("HF  ", gold, ng, d > 3 ? d - 3 : 0);
      }
      bad_ids++;
    }
    /* offsets: one range per token, non-decreasing, inside the text */
    int offs_ok = 1;
    size_t tl = strlen(text->valuestring);
    for (size_t i = 0; i < out.len; i++) {
      if (offs[2 * i] > offs[2 * i + 1] || offs[2 * i + 1] > tl ||
          (i && offs[2 * i] < offs[2 * i - 2]))
        offs_ok = 0;
    }
    CHECK_MSG(offs_ok, "%s line %lld: bad offsets", corpus, (long long)l1k_jsonl_line_no(r));
    size_t dl = 0;
    char *s = l1k_tokenizer_decode(t, gold, ng, &dl, &err);
    CHECK_MSG(s != NULL, "decode: %s", err.msg);
    if (s && (dl != strlen(dec->valuestring) || memcmp(s, dec->valuestring, dl) != 0)) {
      if (bad_dec < 5)
        fprintf(stderr, "  %s line %lld: decode(ids) differs from 'decoded'\n", corpus,
                (long long)l1k_jsonl_line_no(r));
      bad_dec++;
    }
    free(s);
    free(offs);
    l1k_ids_free(&out);
    free(gold);
    cJSON_Delete(rec);
  }
  CHECK_MSG(rc == 0, "reading %s: %s", corpus, err.msg);
  CHECK_MSG(docs > 1000, "%s: only %d documents", corpus, docs);
  CHECK_MSG(bad_ids == 0, "%s: %d of %d documents with different ids", corpus, bad_ids, docs);
  CHECK_MSG(bad_dec == 0, "%s: %d of %d documents decode differently", corpus, bad_dec, docs);
  fprintf(stderr, "%s: %d documents, %zu tokens, %d id mismatches, %d decode mismatches\n", corpus,
          docs, tokens, bad_ids, bad_dec);
  l1k_jsonl_close(r);
  l1k_tokenizer_free(t);
}

/* The Qwen vocabulary with GPT-2's ByteLevel(use_regex=true) pre-tokenizer, as
 * tests/text/gen_tokenizer_edge.py builds it for HF; written to dir/tokenizer.json. */
static int make_variant(const char *dir, int flags) {
  size_t len = 0;
  char *text = l1k_read_file(shared_path("tokenizers/qwen/tokenizer.json"), &len, NULL);
  if (!text) return -1;
  cJSON *j = cJSON_ParseWithLength(text, len);
  free(text);
  if (!j) return -1;
  if (!flags) {
    cJSON *pre = cJSON_CreateObject();
    cJSON_AddStringToObject(pre, "type", "ByteLevel");
    cJSON_AddBoolToObject(pre, "add_prefix_space", 0);
    cJSON_AddBoolToObject(pre, "trim_offsets", 1);
    cJSON_AddBoolToObject(pre, "use_regex", 1);
    cJSON_ReplaceItemInObjectCaseSensitive(j, "pre_tokenizer", pre);
  } else { /* added-token flags, as FLAGS in gen_tokenizer_edge.py */
    static const char *tok[] = {"<|im_start|>", "<|im_end|>", "<think>", "</think>"};
    static const char *flag[] = {"lstrip", "rstrip", "single_word", "normalized"};
    cJSON *it;
    cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(j, "added_tokens")) {
      const char *c = cJSON_GetObjectItemCaseSensitive(it, "content")->valuestring;
      for (int k = 0; k < 4; k++)
        if (!strcmp(c, tok[k]))
          cJSON_ReplaceItemInObjectCaseSensitive(it, flag[k], cJSON_CreateBool(1));
    }
  }
  char *out = cJSON_PrintUnformatted(j);
  cJSON_Delete(j);
  char path[512];
  snprintf(path, sizeof path, "%s/tokenizer.json", dir);
  int rc = out && l1k_write_file_atomic(path, out, strlen(out), NULL) == 0 ? 0 : -1;
  free(out);
  return rc;
}

static const char *src_path(const char *rel) {
  static char buf[4096];
  const char *root = getenv("LONG1K_SRC");
  snprintf(buf, sizeof buf, "%s/%s", root && *root ? root : ".", rel);
  return buf;
}

int main(void) {
  char p[4096];
  /* the goldens from ../shared */
  snprintf(p, sizeof p, "%s", shared_path("golden/tokenizer/qwen_corpus.jsonl"));
  run_corpus("tokenizers/qwen", p, "qwen_corpus.jsonl");
  snprintf(p, sizeof p, "%s", shared_path("golden/tokenizer/llama3_corpus.jsonl"));
  run_corpus("tokenizers/llama3", p, "llama3_corpus.jsonl");
  /* edge cases made with HF tokenizers by tests/text/gen_tokenizer_edge.py */
  snprintf(p, sizeof p, "%s", src_path("tests/text/data/tokenizer_edge_qwen.jsonl"));
  run_corpus("tokenizers/qwen", p, "tokenizer_edge_qwen.jsonl");
  snprintf(p, sizeof p, "%s", src_path("tests/text/data/tokenizer_edge_llama3.jsonl"));
  run_corpus("tokenizers/llama3", p, "tokenizer_edge_llama3.jsonl");
  /* GPT-2's regex (ByteLevel use_regex=true) over the Qwen vocabulary; then Qwen with the
   * added-token flags lstrip, rstrip, single_word, normalized */
  for (int flags = 0; flags < 2; flags++) {
    char dir[] = "/tmp/l1k_tokvar_XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    CHECK(make_variant(dir, flags) == 0);
    const char *name = flags ? "tokenizer_edge_flags.jsonl" : "tokenizer_edge_gpt2.jsonl";
    char rel[128];
    snprintf(rel, sizeof rel, "tests/text/data/%s", name);
    snprintf(p, sizeof p, "%s", src_path(rel));
    run_corpus(dir, p, name);
    char tj[600];
    snprintf(tj, sizeof tj, "%s/tokenizer.json", dir);
    unlink(tj);
    rmdir(dir);
  }
  CHECK_DONE();
}
