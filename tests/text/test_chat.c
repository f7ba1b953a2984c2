/* Chat templates: every conversation of ../shared/golden/chat/chat_templates.jsonl (rendered by
 * transformers' apply_chat_template) gives identical text and ids; assistant spans and loss
 * masks; template detection; errors. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "long1k/chat.h"
#include "long1k/io.h"
#include "long1k/jsonl.h"
#include "long1k/tokenizer.h"

static l1k_template QWEN25, QWEN3, LLAMA3; /* the built-in templates, loaded in main() */

static const char *src_path(const char *rel) {
  static char buf[4096];
  const char *root = getenv("LONG1K_SRC");
  snprintf(buf, sizeof buf, "%s/%s", root && *root ? root : ".", rel);
  return buf;
}

/* Checks spans and mask of one rendered conversation: each span ends with the end-of-turn
 * marker; token positions are recomputed from the decoded length of each token; a token is
 * masked iff it overlaps a span; the masked tokens cover every span completely, and start
 * before a span only when the span's text begins with whitespace that merges with the
 * header's "\n" (e.g. content "\n\n21" -> token "\n\n\n"). */
static void check_mask(const l1k_tokenizer *tok, l1k_template t, const l1k_chat_msg *m, size_t n,
                       const l1k_chat_opts *opts, const char *what) {
  l1k_chat_rendered r;
  l1k_err err = {0};
  CHECK_MSG(l1k_chat_render(t, m, n, opts, &r, &err) == 0, "%s: %s", what, err.msg);
  size_t n_asst = 0;
  for (size_t i = 0; i < n; i++) n_asst += strcmp(m[i].role, "assistant") == 0;
  CHECK_MSG(r.n_assistant == n_asst, "%s: %zu spans for %zu assistant messages", what,
            r.n_assistant, n_asst);
  const char *eot = strstr(l1k_chat_template_name(t), "llama") ? "<|eot_id|>" : "<|im_end|>";
  for (size_t s = 0; s < r.n_assistant; s++) {
    l1k_span sp = r.assistant[s];
    CHECK(sp.begin < sp.end && sp.end <= r.len);
    CHECK_MSG(sp.end - sp.begin >= strlen(eot) &&
                  memcmp(r.text + sp.end - strlen(eot), eot, strlen(eot)) == 0,
              "%s: span %zu does not end with %s", what, s, eot);
  }
  l1k_ids ids = {0};
  uint8_t *mask = NULL;
  CHECK(l1k_chat_encode(tok, t, m, n, opts, &ids, &mask, &err) == 0);
  /* the ids are the whole-text encoding */
  l1k_ids whole = {0};
  CHECK(l1k_tokenizer_encode(tok, r.text, r.len, &whole, NULL, NULL) == 0);
  CHECK_MSG(whole.len == ids.len &&
                (ids.len == 0 || memcmp(whole.data, ids.data, ids.len * sizeof(int32_t)) == 0),
            "%s: chat ids differ from encoding the rendered text", what);
  size_t pos = 0;
  int bad = 0;
  for (size_t i = 0; i < ids.len; i++) {
    size_t tl = 0;
    char *d = l1k_tokenizer_decode(tok, &ids.data[i], 1, &tl, NULL);
    free(d);
    size_t b = pos, e = pos + tl;
    int in = 0;
    for (size_t s = 0; s < r.n_assistant; s++) {
      l1k_span sp = r.assistant[s];
      if (b < sp.end && sp.begin < e) {
        in = 1;
        /* straddling the start: only whitespace of the span may be merged with the header */
        if (b < sp.begin && !(r.text[sp.begin] == '\n' || r.text[sp.begin] == ' ')) bad++;
        if (e > sp.end) bad++; /* never straddles the end (the end-of-turn token) */
      }
    }
    if (mask[i] != in) bad++;
    pos = e;
  }
  CHECK_MSG(pos == r.len, "%s: tokens cover %zu of %zu bytes", what, pos, r.len);
  CHECK_MSG(bad == 0, "%s: %d mask errors", what, bad);
  free(mask);
  l1k_ids_free(&ids);
  l1k_ids_free(&whole);
  l1k_chat_rendered_free(&r);
}

static void test_golden(const l1k_tokenizer *tok) {
  l1k_err err = {0};
  l1k_jsonl *rd = l1k_jsonl_open(shared_path("golden/chat/chat_templates.jsonl"), &err);
  CHECK_MSG(rd != NULL, "%s", err.msg);
  if (!rd) return;
  cJSON *rec;
  int rc, n = 0, bad_text = 0, bad_ids = 0;
  while ((rc = l1k_jsonl_next(rd, &rec, &err)) == 1) {
    n++;
    const char *name = cJSON_GetObjectItem(rec, "template")->valuestring;
    l1k_template t = NULL;
    CHECK(l1k_chat_template_by_name(name, &t, &err) == 0);
    l1k_chat_msg *m = NULL;
    size_t nm = 0;
    CHECK(l1k_chat_msgs_from_json(cJSON_GetObjectItem(rec, "messages"), &m, &nm, "messages",
                                  &err) == 0);
    const cJSON *et = cJSON_GetObjectItem(rec, "enable_thinking");
    l1k_chat_opts o = {cJSON_IsTrue(cJSON_GetObjectItem(rec, "add_generation_prompt")),
                       cJSON_IsBool(et) ? cJSON_IsTrue(et) : -1, NULL};
    l1k_chat_rendered r;
    CHECK_MSG(l1k_chat_render(t, m, nm, &o, &r, &err) == 0, "%s", err.msg);
    const char *want = cJSON_GetObjectItem(rec, "text")->valuestring;
    if (strcmp(r.text, want) != 0) {
      if (bad_text < 3)
        fprintf(stderr, "line %d (%s): text differs\n--- ours\n%s\n--- HF\n%s\n", n, name, r.text,
                want);
      bad_text++;
    }
    l1k_ids ids = {0};
    uint8_t *mask = NULL;
    CHECK(l1k_chat_encode(tok, t, m, nm, &o, &ids, &mask, &err) == 0);
    const cJSON *gi = cJSON_GetObjectItem(rec, "ids");
    int same = (size_t)cJSON_GetArraySize(gi) == ids.len;
    size_t k = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, gi) {
      if (same && k < ids.len && ids.data[k] != (int32_t)it->valuedouble) same = 0;
      k++;
    }
    if (!same) {
      if (bad_ids < 3) fprintf(stderr, "line %d (%s): ids differ\n", n, name);
      bad_ids++;
    }
    char what[64];
    snprintf(what, sizeof what, "golden line %d", n);
    check_mask(tok, t, m, nm, &o, what);
    free(mask);
    l1k_ids_free(&ids);
    l1k_chat_rendered_free(&r);
    free(m);
    l1k_chat_template_free(t);
    cJSON_Delete(rec);
  }
  CHECK(rc == 0);
  CHECK_MSG(n == 30, "%d conversations", n);
  CHECK_MSG(bad_text == 0 && bad_ids == 0, "%d texts and %d id lists differ of %d", bad_text,
            bad_ids, n);
  fprintf(stderr, "chat goldens: %d conversations, %d text and %d id mismatches\n", n, bad_text,
          bad_ids);
  l1k_jsonl_close(rd);
}

/* Llama-3 references made with transformers by tests/text/gen_chat_llama3.py. */
static void test_llama3_refs(void) {
  const char *p = src_path("tests/text/data/chat_llama3.jsonl");
  CHECK_MSG(access(p, R_OK) == 0, "missing %s", p);
  l1k_err err = {0};
  l1k_tokenizer *tok = l1k_tokenizer_load(shared_path("tokenizers/llama3"), &err);
  CHECK_MSG(tok != NULL, "%s", err.msg);
  l1k_jsonl *rd = l1k_jsonl_open(p, &err);
  CHECK(rd != NULL);
  if (!tok || !rd) return;
  cJSON *rec;
  int n = 0, bad = 0;
  while (l1k_jsonl_next(rd, &rec, &err) == 1) {
    n++;
    l1k_chat_msg *m = NULL;
    size_t nm = 0;
    CHECK(l1k_chat_msgs_from_json(cJSON_GetObjectItem(rec, "messages"), &m, &nm, "messages",
                                  &err) == 0);
    l1k_chat_opts o = {cJSON_IsTrue(cJSON_GetObjectItem(rec, "add_generation_prompt")), -1, NULL};
    l1k_chat_rendered r;
    CHECK_MSG(l1k_chat_render(LLAMA3, m, nm, &o, &r, &err) == 0, "%s", err.msg);
    l1k_ids ids = {0};
    CHECK(l1k_chat_encode(tok, LLAMA3, m, nm, &o, &ids, NULL, &err) == 0);
    const cJSON *gi = cJSON_GetObjectItem(rec, "ids");
    int same = strcmp(r.text, cJSON_GetObjectItem(rec, "text")->valuestring) == 0 &&
               (size_t)cJSON_GetArraySize(gi) == ids.len;
    size_t k = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, gi) {
      if (same && ids.data[k] != (int32_t)it->valuedouble) same = 0;
      k++;
    }
    if (!same) {
      if (bad < 3) fprintf(stderr, "chat_llama3.jsonl line %d differs:\n%s\n", n, r.text);
      bad++;
    }
    check_mask(tok, LLAMA3, m, nm, &o, "llama3 ref");
    l1k_ids_free(&ids);
    l1k_chat_rendered_free(&r);
    free(m);
    cJSON_Delete(rec);
  }
  CHECK_MSG(n > 0 && bad == 0, "llama3 references: %d of %d differ", bad, n);
  fprintf(stderr, "llama3 chat references: %d conversations, %d mismatches\n", n, bad);
  l1k_jsonl_close(rd);
  l1k_tokenizer_free(tok);
}

static void test_spans(const l1k_tokenizer *tok) {
  /* qwen2.5: the span is exactly "content<|im_end|>" */
  l1k_chat_msg m[] = {{"user", "Hi", NULL}, {"assistant", "Hello there!", NULL},
                      {"user", "More?", NULL}, {"assistant", "Yes.", NULL}};
  l1k_chat_rendered r;
  l1k_chat_opts o = {0, -1, NULL};
  CHECK(l1k_chat_render(QWEN25, m, 4, &o, &r, NULL) == 0);
  CHECK(r.n_assistant == 2);
  if (r.n_assistant == 2) {
    CHECK(r.assistant[0].end - r.assistant[0].begin == strlen("Hello there!<|im_end|>"));
    CHECK(memcmp(r.text + r.assistant[0].begin, "Hello there!<|im_end|>", 22) == 0);
    CHECK(memcmp(r.text + r.assistant[1].begin, "Yes.<|im_end|>", 14) == 0);
    CHECK(r.assistant[1].end == r.len - 1); /* only the final "\n" follows */
  }
  l1k_chat_rendered_free(&r);
  check_mask(tok, QWEN25, m, 4, &o, "qwen2.5 two turns");
  /* mask values: count masked tokens = tokens of "Hello there!" + im_end + "Yes." + im_end */
  l1k_ids ids = {0};
  uint8_t *mask = NULL;
  CHECK(l1k_chat_encode(tok, QWEN25, m, 4, &o, &ids, &mask, NULL) == 0);
  int64_t want = l1k_tokenizer_count(tok, "Hello there!", 12, NULL) +
                 l1k_tokenizer_count(tok, "Yes.", 4, NULL) + 2;
  size_t got = 0;
  for (size_t i = 0; i < ids.len; i++) got += mask[i];
  CHECK_MSG((int64_t)got == want, "masked %zu, want %lld", got, (long long)want);
  /* the last masked token is <|im_end|>, the token after it ("\n") is not masked */
  size_t last = 0;
  for (size_t i = 0; i < ids.len; i++)
    if (mask[i]) last = i;
  CHECK(ids.data[last] == 151645 && last + 1 == ids.len - 1 && !mask[ids.len - 1]);
  free(mask);
  l1k_ids_free(&ids);

  /* qwen3: reasoning of earlier turns is stripped; the last turn keeps it; spans cover the
   * think block of the last turn */
  l1k_chat_msg q[] = {{"user", "Q1", NULL},
                      {"assistant", "<think>\nold reasoning\n</think>\n\nA1", NULL},
                      {"user", "Q2", NULL},
                      {"assistant", "<think>\nnew reasoning\n</think>\n\nA2", NULL}};
  CHECK(l1k_chat_render(QWEN3, q, 4, &o, &r, NULL) == 0);
  CHECK(strstr(r.text, "old reasoning") == NULL);
  CHECK(strstr(r.text, "<|im_start|>assistant\nA1<|im_end|>") != NULL);
  CHECK(strstr(r.text, "<|im_start|>assistant\n<think>\nnew reasoning\n</think>\n\nA2<|im_end|>\n") !=
        NULL);
  if (r.n_assistant == 2)
    CHECK(memcmp(r.text + r.assistant[1].begin, "<think>\nnew reasoning", 21) == 0);
  l1k_chat_rendered_free(&r);
  check_mask(tok, QWEN3, q, 4, &o, "qwen3 reasoning");
  /* reasoning_content given apart */
  l1k_chat_msg rc[] = {{"user", "Q", NULL}, {"assistant", "A", "because"}};
  CHECK(l1k_chat_render(QWEN3, rc, 2, &o, &r, NULL) == 0);
  CHECK(strstr(r.text, "<|im_start|>assistant\n<think>\nbecause\n</think>\n\nA<|im_end|>") != NULL);
  l1k_chat_rendered_free(&r);
  /* a tool round: the user query before the tool call stays the last query */
  l1k_chat_msg tl[] = {{"user", "Q", NULL},
                       {"assistant", "<think>\nplan\n</think>\n\ncalling", NULL},
                       {"tool", "42", NULL},
                       {"assistant", "<think>\ngot it\n</think>\n\nThe answer is 42.", NULL}};
  CHECK(l1k_chat_render(QWEN3, tl, 4, &o, &r, NULL) == 0);
  CHECK(strstr(r.text, "<think>\nplan\n</think>\n\ncalling<|im_end|>") != NULL);
  CHECK(strstr(r.text, "<|im_start|>user\n<tool_response>\n42\n</tool_response><|im_end|>\n") !=
        NULL);
  l1k_chat_rendered_free(&r);
  /* enable_thinking=false adds the empty think block to the generation prompt only */
  l1k_chat_opts nt = {1, 0, NULL};
  CHECK(l1k_chat_render(QWEN3, q, 3, &nt, &r, NULL) == 0);
  const char *tail = "<|im_start|>assistant\n<think>\n\n</think>\n\n";
  CHECK(r.len > strlen(tail) && strcmp(r.text + r.len - strlen(tail), tail) == 0);
  CHECK(r.n_assistant == 1);
  l1k_chat_rendered_free(&r);
}

static void test_llama3_render(void) {
  l1k_chat_msg m[] = {{"system", "  Be brief. \n", NULL}, {"user", "\tHi\u3000", NULL},
                      {"assistant", "Hello.", NULL}};
  l1k_chat_rendered r;
  l1k_chat_opts o = {0, -1, NULL};
  CHECK(l1k_chat_render(LLAMA3, m, 3, &o, &r, NULL) == 0);
  CHECK_STR(r.text,
            "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nBe brief.<|eot_id|>"
            "<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>"
            "<|start_header_id|>assistant<|end_header_id|>\n\nHello.<|eot_id|>"
            "<|start_header_id|>assistant<|end_header_id|>\n\n");
  CHECK(r.n_assistant == 1);
  if (r.n_assistant == 1)
    CHECK(memcmp(r.text + r.assistant[0].begin, "Hello.<|eot_id|>", 16) == 0 &&
          r.assistant[0].end - r.assistant[0].begin == 16);
  l1k_chat_rendered_free(&r);
}

static void write_file(const char *path, const char *s) {
  FILE *f = fopen(path, "w");
  CHECK(f != NULL);
  if (!f) return;
  fputs(s, f);
  fclose(f);
}

/* t renders this conversation as the built-in template named want does */
static int renders_like(l1k_template t, l1k_template want) {
  l1k_chat_msg m[] = {{"system", "S", NULL}, {"user", "Q", NULL}, {"assistant", "<think>\nr\n</think>\n\nA", NULL}};
  l1k_chat_opts o = {1, -1, NULL};
  l1k_chat_rendered a, b;
  if (!t || l1k_chat_render(t, m, 3, &o, &a, NULL)) return 0;
  if (l1k_chat_render(want, m, 3, &o, &b, NULL)) {
    l1k_chat_rendered_free(&a);
    return 0;
  }
  int same = a.len == b.len && memcmp(a.text, b.text, a.len) == 0;
  l1k_chat_rendered_free(&a);
  l1k_chat_rendered_free(&b);
  return same;
}

static void detect_ok(const char *path, l1k_template want) {
  l1k_template t = NULL;
  l1k_err err = {0};
  CHECK_MSG(l1k_chat_template_detect(path, &t, &err) == 0, "%s: %s", path, err.msg);
  CHECK_MSG(renders_like(t, want), "%s renders differently from %s", path, l1k_chat_template_name(want));
  l1k_chat_template_free(t);
}

static void test_detect(void) {
  detect_ok(shared_path("tokenizers/qwen"), QWEN3);
  detect_ok(shared_path("tokenizers/qwen/tokenizer_config.qwen2.5.json"), QWEN25);
  detect_ok(shared_path("tokenizers/llama3/tokenizer_config.json"), LLAMA3);
  detect_ok(shared_path("tokenizers/qwen/tokenizer.json"), QWEN3);
  detect_ok(src_path("data/tokenizers/qwen"), QWEN3);
  l1k_template t = NULL;
  l1k_err err = {0};
  char dir[] = "/tmp/l1k_chat_XXXXXX";
  CHECK(mkdtemp(dir) != NULL);
  char p[512], pj[512];
  snprintf(p, sizeof p, "%s/tokenizer_config.json", dir);
  snprintf(pj, sizeof pj, "%s/chat_template.jinja", dir);
  /* any template: rendered by the interpreter, with the config's tokens */
  write_file(p, "{\"bos_token\": {\"content\": \"<B>\"}, \"eos_token\": \"<E>\", \"chat_template\": "
                "\"{{ bos_token }}{% for m in messages %}[{{ m.role }}]{{ m.content }}{{ eos_token }}{% endfor %}\"}");
  CHECK(l1k_chat_template_detect(dir, &t, &err) == 0);
  l1k_chat_msg m[] = {{"user", "Q", NULL}, {"assistant", "A", NULL}};
  l1k_chat_rendered r;
  CHECK(t && l1k_chat_render(t, m, 2, NULL, &r, &err) == 0);
  if (t) {
    CHECK_STR(r.text, "<B>[user]Q<E>[assistant]A<E>");
    CHECK(r.n_assistant == 1 && r.assistant[0].end == r.len &&
          r.assistant[0].end - r.assistant[0].begin == strlen("A<E>"));
    l1k_chat_rendered_free(&r);
  }
  l1k_chat_template_free(t);
  /* {% generation %} marks give the spans, whatever the derivation would find */
  {
    const char *g = "{% for m in messages %}<{{ m.role }}>{% if m.role == 'assistant' %}{% generation %}"
                    "{{ m.content }}{% endgeneration %}<end>{% else %}{{ m.content }}{% endif %}{% endfor %}";
    l1k_template gt = NULL;
    CHECK(l1k_chat_template_from_text(g, strlen(g), "gen", NULL, NULL, &gt, &err) == 0);
    CHECK(gt && l1k_chat_render(gt, m, 2, NULL, &r, &err) == 0);
    if (gt) {
      CHECK_STR(r.text, "<user>Q<assistant>A<end>");
      CHECK(r.n_assistant == 1 && r.assistant[0].end - r.assistant[0].begin == 1 &&
            r.text[r.assistant[0].begin] == 'A');
      l1k_chat_rendered_free(&r);
    }
    l1k_chat_template_free(gt);
  }
  /* the list form: "default" is picked */
  write_file(p, "{\"chat_template\": [{\"name\": \"tool_use\", \"template\": \"T\"}, {\"name\": \"default\", "
                "\"template\": \"D{{ messages | length }}\"}]}");
  CHECK(l1k_chat_template_detect(dir, &t, &err) == 0 && l1k_chat_render(t, m, 1, NULL, &r, &err) == 0);
  if (t) {
    CHECK_STR(r.text, "D1");
    l1k_chat_rendered_free(&r);
  }
  l1k_chat_template_free(t);
  /* transformers 5: the template in chat_template.jinja, tokens still in the config */
  write_file(p, "{\"eos_token\": \"<E>\"}");
  write_file(pj, "{% for m in messages %}{{ m.content }}{{ eos_token }}{% endfor %}\n");
  CHECK(l1k_chat_template_detect(dir, &t, &err) == 0 && l1k_chat_render(t, m, 2, NULL, &r, &err) == 0);
  if (t) {
    CHECK_STR(r.text, "Q<E>A<E>");
    CHECK(strstr(l1k_chat_template_name(t), "chat_template.jinja") != NULL);
    l1k_chat_rendered_free(&r);
  }
  l1k_chat_template_free(t);
  /* both: chat_template.jinja wins, as in transformers */
  write_file(p, "{\"eos_token\": \"<E>\", \"chat_template\": \"CONFIG\"}");
  CHECK(l1k_chat_template_detect(dir, &t, &err) == 0 && l1k_chat_render(t, m, 2, NULL, &r, &err) == 0);
  if (t) {
    CHECK_STR(r.text, "Q<E>A<E>");
    l1k_chat_rendered_free(&r);
  }
  l1k_chat_template_free(t);
  /* a syntax error names the file, line and column */
  write_file(pj, "{% for m in messages %}\n{{ m.content }\n{% endfor %}");
  CHECK(l1k_chat_template_detect(dir, &t, &err) == L1K_EINPUT && t == NULL);
  CHECK_MSG(strstr(err.msg, "chat_template.jinja' line 2 column 1: '{{' is never closed") != NULL, "%s", err.msg);
  unlink(pj);
  write_file(p, "{\"eos_token\": \"<E>\"}");
  CHECK(l1k_chat_template_detect(dir, &t, &err) == L1K_EINPUT && strstr(err.msg, "no chat template") &&
        strstr(err.msg, "qwen3"));
  write_file(p, "{not json");
  CHECK(l1k_chat_template_detect(dir, &t, &err) == L1K_EINPUT && strstr(err.msg, "invalid JSON"));
  unlink(p);
  CHECK(l1k_chat_template_detect(dir, &t, &err) == L1K_EINPUT && strstr(err.msg, "no chat template"));
  rmdir(dir);
  /* names: built-in and LLaMA-Factory's */
  CHECK(l1k_chat_template_by_name("chatml-x", &t, &err) == L1K_EINPUT &&
        strstr(err.msg, "qwen2.5") && strstr(err.msg, "deepseekr1") && strstr(err.msg, "gemma3"));
  static const char *names[] = {"qwen", "qwen2.5", "qwen3", "qwen3_nothink", "llama3", "llama3.1", "llama3.2",
                                "deepseekr1", "mistral", "phi4", "gemma3", "smollm2", "smollm",
                                "chatml", "default"};
  for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
    CHECK_MSG(l1k_chat_template_by_name(names[i], &t, &err) == 0, "%s: %s", names[i], err.msg);
    l1k_chat_template_free(t);
  }
  CHECK(l1k_chat_template_by_name("qwen", &t, &err) == 0 && renders_like(t, QWEN25));
  l1k_chat_template_free(t);
  CHECK_STR(l1k_chat_template_name(QWEN25), "qwen2.5");
  /* named for a model directory: the directory's tokens, and a warning when it differs */
  CHECK(l1k_chat_template_named("qwen3", shared_path("tokenizers/qwen"), &t, &err) == 0 &&
        renders_like(t, QWEN3));
  l1k_chat_template_free(t);
  CHECK(l1k_chat_template_uses(QWEN3, "enable_thinking") && !l1k_chat_template_uses(QWEN25, "enable_thinking"));
  CHECK(l1k_chat_template_hash(QWEN3) != l1k_chat_template_hash(QWEN25));
}

/* The built-in texts are the files of data/chat_templates (scripts/embed_chat_templates.py). */
static void test_builtin_files(void) {
  static const char *files[][2] = {{"qwen2.5", "qwen2.5"}, {"qwen3", "qwen3"}, {"qwen3_nothink", "qwen3_nothink"},
                                   {"llama3", "llama3"}, {"llama3.1", "llama3.1"}, {"llama3.2", "llama3.2"}, {"deepseekr1", "deepseekr1"},
                                   {"mistral", "mistral"}, {"phi4", "phi4"}, {"gemma3", "gemma3"},
                                   {"smollm2", "smollm2"}, {"chatml", "chatml"}, {"default", "default"}};
  for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
    char rel[256];
    snprintf(rel, sizeof rel, "data/chat_templates/%s.jinja", files[i][1]);
    l1k_template a = NULL, b = NULL;
    l1k_err err = {0};
    CHECK(l1k_chat_template_by_name(files[i][0], &a, &err) == 0);
    CHECK_MSG(l1k_chat_template_detect(src_path(rel), &b, &err) == 0, "%s", err.msg);
    CHECK_MSG(a && b && l1k_chat_template_uses(a, "") && renders_like(a, b) == renders_like(b, a),
              "%s", rel);
    /* same text: same hash when the tokens are the same */
    l1k_template c = NULL;
    size_t len = 0;
    char *text = l1k_read_file(src_path(rel), &len, &err);
    CHECK(text && l1k_chat_template_from_text(text, len, files[i][0], NULL, NULL, &c, &err) == 0);
    l1k_template d = NULL;
    CHECK(l1k_chat_template_from_text(text, len, "x", NULL, NULL, &d, &err) == 0);
    CHECK(c && d && l1k_chat_template_hash(c) == l1k_chat_template_hash(d));
    free(text);
    l1k_chat_template_free(a);
    l1k_chat_template_free(b);
    l1k_chat_template_free(c);
    l1k_chat_template_free(d);
  }
}

static void test_errors(void) {
  l1k_chat_rendered r;
  l1k_err err = {0};
  l1k_chat_msg bad[] = {{"user", "x", NULL}, {"narrator", "y", NULL}};
  CHECK(l1k_chat_render(QWEN3, bad, 0, NULL, &r, &err) == L1K_EINPUT);
  /* a role the template skips is refused, not dropped */
  CHECK(l1k_chat_render(QWEN3, bad, 2, NULL, &r, &err) == L1K_EINPUT && strstr(err.msg, "narrator") &&
        strstr(err.msg, "not rendered"));
  l1k_chat_msg nul[] = {{"user", NULL, NULL}};
  CHECK(l1k_chat_render(QWEN25, nul, 1, NULL, &r, &err) == L1K_EINPUT);
  CHECK(l1k_chat_render(L1K_TMPL_NONE, bad, 1, NULL, &r, &err) == L1K_EINPUT);
  /* a template's raise_exception reaches the caller as one line naming the template */
  l1k_template g = NULL;
  CHECK(l1k_chat_template_by_name("gemma3", &g, &err) == 0);
  l1k_chat_msg two_users[] = {{"user", "a", NULL}, {"user", "b", NULL}};
  CHECK(l1k_chat_render(g, two_users, 2, NULL, &r, &err) == L1K_EINPUT);
  CHECK_MSG(strstr(err.msg, "template 'gemma3' line") && strstr(err.msg, "roles must alternate"), "%s", err.msg);
  l1k_chat_template_free(g);
  cJSON *j = cJSON_Parse("[{\"role\": \"user\", \"content\": 3}]");
  l1k_chat_msg *m = NULL;
  size_t n = 0;
  CHECK(l1k_chat_msgs_from_json(j, &m, &n, "f.jsonl:3: field 'messages'", &err) == L1K_EINPUT);
  CHECK_MSG(strstr(err.msg, "f.jsonl:3: field 'messages'[0]: field 'content'") != NULL, "%s",
            err.msg);
  cJSON_Delete(j);
  j = cJSON_Parse("{\"role\": \"user\"}");
  CHECK(l1k_chat_msgs_from_json(j, &m, &n, "x", &err) == L1K_EINPUT);
  cJSON_Delete(j);
  /* reasoning_content is read; templates that never read it refuse it */
  j = cJSON_Parse("[{\"role\": \"user\", \"content\": \"Q\"}, {\"role\": \"assistant\", "
                  "\"content\": \"A\", \"reasoning_content\": \"why\"}]");
  CHECK(l1k_chat_msgs_from_json(j, &m, &n, "x", &err) == 0 && n == 2 &&
        !m[0].reasoning_content && strcmp(m[1].reasoning_content, "why") == 0);
  CHECK(l1k_chat_render(QWEN3, m, n, NULL, &r, &err) == 0 &&
        strstr(r.text, "<think>\nwhy\n</think>\n\nA<|im_end|>"));
  l1k_chat_rendered_free(&r);
  CHECK(l1k_chat_render(QWEN25, m, n, NULL, &r, &err) == L1K_EINPUT &&
        strstr(err.msg, "reasoning_content"));
  free(m);
  cJSON_Delete(j);
}

int main(void) {
  l1k_err err = {0};
  CHECK(l1k_chat_template_by_name("qwen2.5", &QWEN25, &err) == 0);
  CHECK(l1k_chat_template_by_name("qwen3", &QWEN3, &err) == 0);
  CHECK(l1k_chat_template_by_name("llama3", &LLAMA3, &err) == 0);
  l1k_tokenizer *tok = l1k_tokenizer_load(shared_path("tokenizers/qwen"), &err);
  CHECK_MSG(tok != NULL, "%s", err.msg);
  if (!tok) CHECK_DONE();
  test_golden(tok);
  test_spans(tok);
  test_llama3_render();
  test_llama3_refs();
  test_detect();
  test_builtin_files();
  test_errors();
  l1k_tokenizer_free(tok);
  l1k_chat_template_free(QWEN25);
  l1k_chat_template_free(QWEN3);
  l1k_chat_template_free(LLAMA3);
  CHECK_DONE();
}
