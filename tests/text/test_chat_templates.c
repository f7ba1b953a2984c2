/* Real chat templates (tests/text/data/templates, sources in SOURCES.md) against transformers:
 * every record of tests/text/data/chat_template_goldens.jsonl (made by
 * tests/text/gen_chat_templates.py) renders byte for byte as apply_chat_template does, and,
 * where the family's tokenizer is in ../shared/tokenizers, gives the same ids as HF tokenizers
 * and the assistant mask computed there by the documented span rule. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "check.h"
#include "long1k/chat.h"
#include "long1k/io.h"
#include "long1k/jsonl.h"
#include "long1k/tokenizer.h"

static const char *src_path(const char *rel) {
  static char buf[4096];
  const char *root = getenv("LONG1K_SRC");
  snprintf(buf, sizeof buf, "%s/%s", root && *root ? root : ".", rel);
  return buf;
}

static l1k_template load_template(const cJSON *rec) {
  const char *fn = cJSON_GetObjectItem(rec, "template")->valuestring;
  char rel[512];
  snprintf(rel, sizeof rel, "tests/text/data/templates/%s", fn);
  l1k_err err = {0};
  size_t len = 0;
  char *text = l1k_read_file(src_path(rel), &len, &err);
  CHECK_MSG(text != NULL, "%s", err.msg);
  if (!text) return NULL;
  const cJSON *bos = cJSON_GetObjectItem(rec, "bos_token"), *eos = cJSON_GetObjectItem(rec, "eos_token");
  l1k_template t = NULL;
  CHECK_MSG(l1k_chat_template_from_text(text, len, fn, cJSON_IsString(bos) ? bos->valuestring : NULL,
                                        cJSON_IsString(eos) ? eos->valuestring : NULL, &t, &err) == 0,
            "%s: %s", fn, err.msg);
  free(text);
  return t;
}

static int same_ints(const cJSON *want, const int32_t *got, size_t n) {
  if ((size_t)cJSON_GetArraySize(want) != n) return 0;
  size_t k = 0;
  const cJSON *it;
  cJSON_ArrayForEach(it, want) if ((int32_t)it->valuedouble != got[k++]) return 0;
  return 1;
}

static int check_record(const cJSON *rec, l1k_tokenizer *const *toks, int line) {
  l1k_template t = load_template(rec);
  if (!t) return 1;
  l1k_err err = {0};
  l1k_chat_msg *m = NULL;
  size_t nm = 0;
  CHECK(l1k_chat_msgs_from_json(cJSON_GetObjectItem(rec, "messages"), &m, &nm, "messages", &err) == 0);
  l1k_chat_opts o = {cJSON_IsTrue(cJSON_GetObjectItem(rec, "add_generation_prompt")), -1,
                     cJSON_GetObjectItem(rec, "vars")};
  l1k_chat_rendered r;
  int bad = 0;
  const char *fn = l1k_chat_template_name(t);
  if (l1k_chat_render(t, m, nm, &o, &r, &err)) {
    fprintf(stderr, "line %d (%s): %s\n", line, fn, err.msg);
    bad = 1;
  } else {
    const char *want = cJSON_GetObjectItem(rec, "text")->valuestring;
    if (strcmp(r.text, want) != 0) {
      fprintf(stderr, "line %d (%s): text differs\n--- ours\n%s\n--- HF\n%s\n", line, fn, r.text, want);
      bad = 1;
    }
    l1k_chat_rendered_free(&r);
  }
  const cJSON *tk = cJSON_GetObjectItem(rec, "tokenizer");
  if (!bad && cJSON_IsString(tk)) {
    l1k_tokenizer *tok = toks[strcmp(tk->valuestring, "qwen") == 0 ? 0 : 1];
    l1k_ids ids = {0};
    uint8_t *mask = NULL;
    CHECK(l1k_chat_encode(tok, t, m, nm, &o, &ids, &mask, &err) == 0);
    if (!same_ints(cJSON_GetObjectItem(rec, "ids"), ids.data, ids.len)) {
      fprintf(stderr, "line %d (%s): ids differ\n", line, fn);
      bad = 1;
    }
    int32_t *mk = malloc((ids.len ? ids.len : 1) * sizeof *mk);
    for (size_t i = 0; mk && i < ids.len; i++) mk[i] = mask[i];
    if (!mk || !same_ints(cJSON_GetObjectItem(rec, "mask"), mk, ids.len)) {
      fprintf(stderr, "line %d (%s): mask differs\n", line, fn);
      bad = 1;
    }
    free(mk);
    free(mask);
    l1k_ids_free(&ids);
  }
  free(m);
  l1k_chat_template_free(t);
  return bad;
}

int main(void) {
  setenv("LONG1K_TEMPLATE_DATE", "2024-07-26", 1); /* strftime_now, as the generator pinned it */
  l1k_err err = {0};
  l1k_tokenizer *toks[2] = {l1k_tokenizer_load(shared_path("tokenizers/qwen"), &err),
                            l1k_tokenizer_load(shared_path("tokenizers/llama3"), &err)};
  CHECK_MSG(toks[0] && toks[1], "%s", err.msg);
  l1k_jsonl *rd = l1k_jsonl_open(src_path("tests/text/data/chat_template_goldens.jsonl"), &err);
  CHECK_MSG(rd != NULL, "%s", err.msg);
  if (!rd || !toks[0] || !toks[1]) CHECK_DONE();
  cJSON *rec;
  int n = 0, bad = 0, with_ids = 0;
  while (l1k_jsonl_next(rd, &rec, &err) == 1) {
    n++;
    with_ids += cJSON_GetObjectItem(rec, "ids") != NULL;
    bad += check_record(rec, toks, n);
    cJSON_Delete(rec);
  }
  l1k_jsonl_close(rd);
  CHECK_MSG(n >= 100 && with_ids >= 50 && bad == 0, "%d of %d template goldens differ", bad, n);
  fprintf(stderr, "chat template goldens: %d records (%d with ids and masks), %d mismatches\n", n,
          with_ids, bad);
  l1k_tokenizer_free(toks[0]);
  l1k_tokenizer_free(toks[1]);
  CHECK_DONE();
}
