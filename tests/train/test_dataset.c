/* SFT data: OpenAI messages, ShareGPT (with OpenThoughts' top-level system), Alpaca and the
 * s1K-1.1 question/reasoning/answer fields all become the same chat; the loss mask covers
 * every assistant turn and its end-of-turn token and nothing else; malformed records name the
 * field; the memory-mapped cache is reused, keyed by the inputs, and rebuilt when they change;
 * over-length samples are dropped or truncated and counted. */
#include <fcntl.h>
#include <sys/stat.h>
#include <cjson/cJSON.h>
#include <unistd.h>

#include "check.h"
#include "long1k/dataset.h"
#include "long1k/io.h"
#include "long1k/jsonl.h"

static l1k_tokenizer *tok;
static l1k_data_opts O;

static int enc(const char *json, l1k_ids *ids, uint8_t **mask, l1k_err *err) {
  cJSON *r = cJSON_Parse(json);
  if (!r) return -1;
  ids->len = 0;
  free(*mask);
  *mask = NULL;
  int rc = l1k_record_encode(r, &O, ids, mask, err);
  cJSON_Delete(r);
  return rc;
}

/* the text of the masked tokens, runs separated by '|' */
static char *masked_text(const l1k_ids *ids, const uint8_t *mask) {
  l1k_buf b = {0};
  l1k_buf_puts(&b, "");
  for (size_t i = 0; i < ids->len;) {
    if (!mask[i]) {
      i++;
      continue;
    }
    size_t j = i;
    while (j < ids->len && mask[j]) j++;
    size_t len;
    char *s = l1k_tokenizer_decode(tok, ids->data + i, j - i, &len, NULL);
    if (b.len) l1k_buf_puts(&b, "|");
    l1k_buf_puts(&b, s ? s : "?");
    free(s);
    i = j;
  }
  return b.data;
}

static int same(const l1k_ids *a, const uint8_t *ma, const l1k_ids *b, const uint8_t *mb) {
  return a->len == b->len && !memcmp(a->data, b->data, a->len * 4) && !memcmp(ma, mb, a->len);
}

int main(void) {
  l1k_err err = {0};
  char tokdir[4096];
  snprintf(tokdir, sizeof tokdir, "%s/data/tokenizers/tiny",
           getenv("LONG1K_SRC") ? getenv("LONG1K_SRC") : ".");
  tok = l1k_tokenizer_load(tokdir, &err);
  if (!tok) {
    fprintf(stderr, "%s\n", err.msg);
    return 1;
  }
  l1k_data_opts_default(&O);
  O.tok = tok;
  O.tokenizer_path = tokdir;
  CHECK(l1k_chat_template_detect(tokdir, &O.tmpl, &err) == 0);
  l1k_ids a = {0}, b = {0};
  uint8_t *ma = NULL, *mb = NULL;

  /* OpenAI messages, two assistant turns: both masked, with their <|im_end|> */
  CHECK(enc("{\"messages\": [{\"role\": \"system\", \"content\": \"Be brief.\"},"
            "{\"role\": \"user\", \"content\": \"1+1?\"}, {\"role\": \"assistant\", \"content\": \"2\"},"
            "{\"role\": \"user\", \"content\": \"2+2?\"}, {\"role\": \"assistant\", \"content\": \"4 ok\"}]}",
            &a, &ma, &err) == 0);
  char *mt = masked_text(&a, ma);
  CHECK_STR(mt, "2<|im_end|>|4 ok<|im_end|>");
  free(mt);
  /* ShareGPT with a top-level system (OpenThoughts) == the same chat */
  CHECK(enc("{\"system\": \"Be brief.\", \"conversations\": [{\"from\": \"human\", \"value\": \"1+1?\"},"
            "{\"from\": \"gpt\", \"value\": \"2\"}, {\"from\": \"user\", \"value\": \"2+2?\"},"
            "{\"from\": \"assistant\", \"value\": \"4 ok\"}]}",
            &b, &mb, &err) == 0);
  CHECK(same(&a, ma, &b, mb));
  /* content as text parts */
  CHECK(enc("{\"messages\": [{\"role\": \"system\", \"content\": [{\"type\": \"text\", \"text\": \"Be \"},"
            "{\"type\": \"text\", \"text\": \"brief.\"}]}, {\"role\": \"user\", \"content\": \"1+1?\"},"
            "{\"role\": \"assistant\", \"content\": \"2\"}, {\"role\": \"user\", \"content\": \"2+2?\"},"
            "{\"role\": \"assistant\", \"content\": \"4 ok\"}]}",
            &b, &mb, &err) == 0);
  CHECK(same(&a, ma, &b, mb));
  /* Alpaca: instruction + "\n" + input, with history */
  CHECK(enc("{\"messages\": [{\"role\": \"user\", \"content\": \"h1\"}, {\"role\": \"assistant\", \"content\": \"r1\"},"
            "{\"role\": \"user\", \"content\": \"Add.\\n3 4\"}, {\"role\": \"assistant\", \"content\": \"7\"}]}",
            &a, &ma, &err) == 0);
  CHECK(enc("{\"instruction\": \"Add.\", \"input\": \"3 4\", \"output\": \"7\", \"history\": [[\"h1\", \"r1\"]]}",
            &b, &mb, &err) == 0);
  CHECK(same(&a, ma, &b, mb));
  /* s1K-1.1 fields -> "<think>\n...\n</think>\n\n..." */
  CHECK(enc("{\"messages\": [{\"role\": \"user\", \"content\": \"What is 6*7?\"},"
            "{\"role\": \"assistant\", \"content\": \"<think>\\n6*7 = 42\\n</think>\\n\\nThe answer is 42.\"}]}",
            &a, &ma, &err) == 0);
  CHECK(enc("{\"question\": \"What is 6*7?\", \"deepseek_thinking_trajectory\": \"6*7 = 42\","
            "\"deepseek_attempt\": \"The answer is 42.\", \"solution\": \"42\"}",
            &b, &mb, &err) == 0);
  CHECK(same(&a, ma, &b, mb));
  mt = masked_text(&b, mb);
  CHECK_STR(mt, "<think>\n6*7 = 42\n</think>\n\nThe answer is 42.<|im_end|>");
  free(mt);
  /* a custom mapping and response format */
  O.question_field = "problem";
  O.reasoning_field = "cot";
  O.answer_field = "final";
  O.response_format = "{reasoning}\nAnswer: {answer}";
  CHECK(enc("{\"problem\": \"p\", \"cot\": \"c\", \"final\": \"f\"}", &b, &mb, &err) == 0);
  mt = masked_text(&b, mb);
  CHECK_STR(mt, "c\nAnswer: f<|im_end|>");
  free(mt);
  l1k_chat_template_free(O.tmpl);
  l1k_data_opts_default(&O);
  O.tok = tok;
  O.tokenizer_path = tokdir;
  l1k_chat_template_detect(tokdir, &O.tmpl, &err);
  /* default_system is used only when the record has none */
  O.default_system = "Be brief.";
  CHECK(enc("{\"conversations\": [{\"from\": \"human\", \"value\": \"1+1?\"}, {\"from\": \"gpt\", \"value\": \"2\"}]}",
            &a, &ma, &err) == 0);
  CHECK(enc("{\"system\": \"Be brief.\", \"conversations\": [{\"from\": \"human\", \"value\": \"1+1?\"}, {\"from\": \"gpt\", \"value\": \"2\"}]}",
            &b, &mb, &err) == 0);
  CHECK(same(&a, ma, &b, mb));
  O.default_system = NULL;

  /* malformed records name the field */
  struct {
    const char *json, *msg;
  } bad[] = {
      {"{\"messages\": [{\"role\": \"tool\", \"content\": \"x\"}]}", "messages[0].role: 'tool'"},
      {"{\"messages\": [{\"role\": \"user\", \"content\": 5}]}", "messages[0].content: expected a string"},
      {"{\"messages\": [{\"role\": \"user\", \"content\": \"q\"}]}", "no assistant message"},
      {"{\"conversations\": [{\"from\": \"gpt\"}]}", "conversations[0].value: expected a string"},
      {"{\"conversations\": [{\"from\": \"observation\", \"value\": \"x\"}]}", "conversations[0].from: 'observation'"},
      {"{\"instruction\": \"i\", \"output\": 3}", "field 'output': expected a string"},
      {"{\"question\": \"q\", \"deepseek_attempt\": \"a\"}", "field 'deepseek_thinking_trajectory': missing"},
      {"{\"text\": \"x\"}", "record has none of"},
      {"[1, 2]", "expected a JSON object"},
      {"{\"input_ids\": [1, 2], \"labels\": [-100]}", "field 'labels': expected an array as long as input_ids"},
      {"{\"input_ids\": [1, 99999], \"labels\": [-100, 99999]}", "input_ids[1]: expected a token id in [0, 750)"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    err.msg[0] = 0;
    int rc = enc(bad[i].json, &b, &mb, &err);
    CHECK_MSG(rc == L1K_EINPUT && strstr(err.msg, bad[i].msg), "%s -> %d '%s' (want '%s')",
              bad[i].json, rc, err.msg, bad[i].msg);
  }

  /* files, cache, counts */
  char dir[] = "/tmp/l1k_test_dataset_XXXXXX";
  CHECK(mkdtemp(dir) != NULL);
  char data[4200], cache[4200];
  snprintf(data, sizeof data, "%s/d.jsonl", dir);
  snprintf(cache, sizeof cache, "%s/cache", dir);
  FILE *f = fopen(data, "w");
  fprintf(f, "{\"question\": \"short\", \"deepseek_thinking_trajectory\": \"t\", \"deepseek_attempt\": \"a\"}\n");
  fprintf(f, "\n{\"question\": \"long one\", \"deepseek_thinking_trajectory\": \"a much longer "
             "reasoning that has many many more tokens in it than the cutoff allows for this test, "
             "repeated: a much longer reasoning that has many many more tokens in it than the cutoff "
             "allows\", \"deepseek_attempt\": \"answer\"}\n");
  fprintf(f, "{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}, {\"role\": \"assistant\", \"content\": \"yo\"}]}\n");
  fclose(f);
  O.cache_dir = cache;
  O.cutoff_len = 110; /* the Qwen2.5 default system prompt alone is ~75 tiny-BPE tokens */
  l1k_dataset ds;
  CHECK_MSG(l1k_dataset_load(data, &O, &ds, &err) == 0, "%s", err.msg);
  CHECK(ds.n == 2 && ds.stats.records == 3 && ds.stats.too_long == 1 && !ds.from_cache);
  int64_t n_tok = ds.n_tokens, t0 = l1k_dataset_targets(&ds, 0);
  CHECK(t0 > 0 && l1k_dataset_len(&ds, 0) <= 110);
  l1k_dataset_free(&ds);
  CHECK(l1k_dataset_load(data, &O, &ds, &err) == 0);
  CHECK(ds.from_cache && ds.n == 2 && ds.n_tokens == n_tok && ds.stats.too_long == 1);
  CHECK(l1k_dataset_targets(&ds, 0) == t0);
  l1k_dataset_free(&ds);
  /* another option = another key; truncation counts */
  O.truncate = 1;
  CHECK(l1k_dataset_load(data, &O, &ds, &err) == 0);
  CHECK(!ds.from_cache && ds.n == 3 && ds.stats.truncated == 1 && ds.stats.too_long == 0);
  CHECK(l1k_dataset_len(&ds, 1) == 110);
  l1k_dataset_free(&ds);
  O.truncate = 0;
  /* changing the file invalidates the cache */
  sleep(0); /* mtime has ns resolution; the size changes anyway */
  f = fopen(data, "a");
  fprintf(f, "{\"messages\": [{\"role\": \"user\", \"content\": \"x\"}, {\"role\": \"assistant\", \"content\": \"y\"}]}\n");
  fclose(f);
  CHECK(l1k_dataset_load(data, &O, &ds, &err) == 0);
  CHECK(!ds.from_cache && ds.n == 3);
  l1k_dataset_free(&ds);
  /* the key is the content: a touch keeps the cache, a same-size rewrite invalidates it */
  {
    struct timespec ts[2] = {{0, UTIME_NOW}, {0, UTIME_NOW}};
    CHECK(utimensat(AT_FDCWD, data, ts, 0) == 0);
    CHECK(l1k_dataset_load(data, &O, &ds, &err) == 0);
    CHECK(ds.from_cache && ds.n == 3);
    l1k_dataset_free(&ds);
    size_t len = 0;
    char *txt = l1k_read_file(data, &len, &err);
    CHECK(txt != NULL);
    char *y = txt ? strstr(txt, "\"content\": \"y\"") : NULL;
    CHECK(y != NULL);
    if (y) {
      y[strlen("\"content\": \"")] = 'z'; /* same size, other bytes */
      CHECK(l1k_write_file_atomic(data, txt, len, &err) == 0);
      CHECK(l1k_dataset_load(data, &O, &ds, &err) == 0);
      CHECK(!ds.from_cache && ds.n == 3);
      l1k_dataset_free(&ds);
    }
    free(txt);
  }
  /* several files, comma-separated */
  char two[9000];
  snprintf(two, sizeof two, "%s, %s", data, data);
  CHECK(l1k_dataset_load(two, &O, &ds, &err) == 0);
  CHECK(ds.n == 6 && ds.stats.records == 8);
  l1k_dataset_free(&ds);
  /* a malformed line names file:line; skip_bad_records counts it */
  f = fopen(data, "a");
  fprintf(f, "{\"messages\": 7}\n");
  fclose(f);
  CHECK(l1k_dataset_load(data, &O, &ds, &err) == L1K_EINPUT);
  char want[4300];
  snprintf(want, sizeof want, "%s:6: field 'messages': expected an array", data);
  CHECK_MSG(strstr(err.msg, want) != NULL, "%s", err.msg);
  O.skip_bad_records = 1;
  CHECK(l1k_dataset_load(data, &O, &ds, &err) == 0);
  CHECK(ds.n == 3 && ds.stats.bad == 1);
  l1k_dataset_free(&ds);
  l1k_rm_rf(dir, NULL);

  free(a.data);
  free(b.data);
  free(ma);
  free(mb);
  l1k_chat_template_free(O.tmpl);
  l1k_tokenizer_free(tok);
  CHECK_DONE();
}
