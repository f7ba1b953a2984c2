/* `eval --model DIR` (long1k's own engine) on a tiny random Qwen2 model with the shipped tiny
 * tokenizer: every sample is generated, graded and written; the texts are the same whatever
 * the batch size, after a resume (a sample's random stream is (seed, p * n + i)) and between
 * runs; greedy decoding gives n equal samples; a prompt the model's vocabulary cannot hold is
 * refused by name. */
#include <unistd.h>

#include "check.h"
#include "long1k/eval.h"
#include "long1k/io.h"
#include "long1k/jsonl.h"
#include "long1k/model.h"

static char tmpdir[256];

static char *path_in(const char *name) {
  static char p[8][512];
  static int k = 0;
  char *r = p[k++ % 8];
  snprintf(r, 512, "%s/%s", tmpdir, name);
  return r;
}

static int copy_file(const char *from, const char *to) {
  size_t n;
  l1k_err err = {0};
  char *d = l1k_read_file(from, &n, &err);
  if (!d) return -1;
  int rc = l1k_write_file_atomic(to, d, n, &err);
  free(d);
  return rc;
}

/* responses[pi * n + si] from a results file (last line wins); returns lines read */
static int read_results(const char *dir, char **resp, int np, int n, int *tokens_ok, int max_tok) {
  char *p = l1k_path_join(dir, "results.jsonl");
  l1k_err err = {0};
  l1k_jsonl *r = l1k_jsonl_open(p, &err);
  free(p);
  if (!r) return -1;
  cJSON *rec;
  int lines = 0;
  while (l1k_jsonl_next(r, &rec, &err) == 1) {
    lines++;
    int pi = cJSON_GetObjectItem(rec, "problem_index")->valueint;
    int si = cJSON_GetObjectItem(rec, "sample_index")->valueint;
    const cJSON *t = cJSON_GetObjectItem(rec, "tokens");
    const cJSON *fr = cJSON_GetObjectItem(rec, "finish_reason");
    const cJSON *co = cJSON_GetObjectItem(rec, "correct");
    if (!(cJSON_IsNumber(t) && t->valueint >= 1 && t->valueint <= max_tok && cJSON_IsString(fr) &&
          (!strcmp(fr->valuestring, "length") || !strcmp(fr->valuestring, "stop")) &&
          cJSON_IsBool(co)))
      *tokens_ok = 0;
    if (pi >= 0 && pi < np && si >= 0 && si < n) {
      free(resp[pi * n + si]);
      resp[pi * n + si] = strdup(cJSON_GetObjectItem(rec, "response")->valuestring);
    }
    cJSON_Delete(rec);
  }
  l1k_jsonl_close(r);
  return lines;
}

static void free_resp(char **r, int k) {
  for (int i = 0; i < k; i++) {
    free(r[i]);
    r[i] = NULL;
  }
}

static int run_eval(const char *model, const char *data, const char *out, int n, int batch,
                    double temp, l1k_err *err) {
  l1k_eval_config c;
  l1k_eval_config_default(&c);
  c.model_dir = model;
  c.data_path = data;
  c.out_dir = out;
  c.n = n;
  c.batch = batch;
  c.temperature = temp;
  c.max_tokens = 12;
  c.seed = 5;
  c.quiet = 1;
  l1k_eval_outcome o;
  return l1k_eval_run(&c, &o, err);
}

int main(void) {
  snprintf(tmpdir, sizeof tmpdir, "/tmp/l1k_eval_local_%d", (int)getpid());
  l1k_err err = {0};
  CHECK(l1k_mkdir_p(tmpdir, &err) == 0);
  const char *src = getenv("LONG1K_SRC");
  char tok_dir[1024];
  snprintf(tok_dir, sizeof tok_dir, "%s/data/tokenizers/tiny", src ? src : ".");
  /* a tiny Qwen2 with the tiny tokenizer's 750 ids; <|im_end|> (747) ends a turn */
  const char *cfg_json =
      "{\"model_type\":\"qwen2\",\"vocab_size\":750,\"hidden_size\":32,\"intermediate_size\":64,"
      "\"num_hidden_layers\":2,\"num_attention_heads\":4,\"num_key_value_heads\":2,"
      "\"max_position_embeddings\":512,\"rope_theta\":10000.0,\"rms_norm_eps\":1e-6,"
      "\"tie_word_embeddings\":true,\"torch_dtype\":\"float32\",\"bos_token_id\":745,"
      "\"eos_token_id\":747,\"initializer_range\":0.5}";
  l1k_model_config mc;
  int rc = l1k_config_parse(cfg_json, "test config", &mc, &err);
  CHECK_MSG(rc == 0, "%s", err.msg);
  if (rc) CHECK_DONE();
  l1k_model *m = l1k_model_create(&mc, &err);
  CHECK(m != NULL);
  if (!m) CHECK_DONE();
  l1k_model_init_random(m, 11);
  char *model = strdup(path_in("model"));
  CHECK_MSG(l1k_model_save(m, model, "f32", &err) == 0, "%s", err.msg);
  l1k_model_free(m);
  char from[1200], to[1200];
  snprintf(from, sizeof from, "%s/tokenizer.json", tok_dir);
  snprintf(to, sizeof to, "%s/tokenizer.json", model);
  CHECK(copy_file(from, to) == 0);
  snprintf(from, sizeof from, "%s/tokenizer_config.json", tok_dir);
  snprintf(to, sizeof to, "%s/tokenizer_config.json", model);
  CHECK(copy_file(from, to) == 0);

  char *data = strdup(path_in("data.jsonl"));
  FILE *f = fopen(data, "w");
  fputs("{\"id\":\"a\",\"problem\":\"What is 2+2?\",\"answer\":\"4\"}\n"
        "{\"id\":\"b\",\"problem\":\"Add 17 and 25.\",\"answer\":42}\n"
        "{\"id\":\"c\",\"problem\":\"Multiply 3 by 5.\",\"answer\":\"15\"}\n",
        f);
  fclose(f);
  enum { NP = 3, N = 3, K = NP * N };
  char *a[K] = {0}, *b[K] = {0}, *c[K] = {0};
  int ok = 1;

  /* batch 8 */
  rc = run_eval(model, data, path_in("o1"), N, 8, 0.9, &err);
  CHECK_MSG(rc == 0, "%s", err.msg);
  CHECK(read_results(path_in("o1"), a, NP, N, &ok, 12) == K);
  CHECK(ok);
  for (int i = 0; i < K; i++) CHECK(a[i] != NULL);
  int differ = 0;
  for (int i = 1; i < N; i++) differ += a[0] && a[i] && strcmp(a[0], a[i]) != 0;
  CHECK(differ > 0); /* sampling: the samples of a problem are not all equal */
  char *sum = l1k_path_join(path_in("o1"), "summary.json");
  CHECK(l1k_file_exists(sum));
  free(sum);

  /* batch 1: the same texts */
  rc = run_eval(model, data, path_in("o2"), N, 1, 0.9, &err);
  CHECK_MSG(rc == 0, "%s", err.msg);
  CHECK(read_results(path_in("o2"), b, NP, N, &ok, 12) == K);
  for (int i = 0; i < K; i++) CHECK_MSG(a[i] && b[i] && !strcmp(a[i], b[i]), "sample %d differs with batch 1", i);

  /* resume: keep the first 4 lines and a torn fifth, rerun: the rest regenerates the same */
  char *res = l1k_path_join(path_in("o2"), "results.jsonl");
  size_t len;
  char *text = l1k_read_file(res, &len, &err);
  size_t cut = 0;
  for (int nl = 0; cut < len && nl < 4; cut++)
    if (text[cut] == '\n') nl++;
  size_t torn = cut + 30 < len ? cut + 30 : cut;
  CHECK(l1k_write_file_atomic(res, text, torn, &err) == 0);
  free(text);
  rc = run_eval(model, data, path_in("o2"), N, 2, 0.9, &err);
  CHECK_MSG(rc == 0, "%s", err.msg);
  free_resp(b, K);
  CHECK(read_results(path_in("o2"), b, NP, N, &ok, 12) == K);
  for (int i = 0; i < K; i++) CHECK_MSG(a[i] && b[i] && !strcmp(a[i], b[i]), "sample %d differs after resume", i);
  free(res);

  /* greedy: n equal samples */
  rc = run_eval(model, data, path_in("o3"), N, 4, 0.0, &err);
  CHECK_MSG(rc == 0, "%s", err.msg);
  CHECK(read_results(path_in("o3"), c, NP, N, &ok, 12) == K);
  for (int p = 0; p < NP; p++)
    for (int i = 1; i < N; i++)
      CHECK(c[p * N] && c[p * N + i] && !strcmp(c[p * N], c[p * N + i]));
  CHECK(ok);

  /* a tokenizer whose ids do not fit the model is refused by name */
  l1k_eval_config cc;
  l1k_eval_config_default(&cc);
  char qtok[1024];
  snprintf(qtok, sizeof qtok, "%s/data/tokenizers/qwen", src ? src : ".");
  cc.model_dir = model;
  cc.tokenizer_path = qtok;
  cc.chat_template = "qwen2.5";
  cc.data_path = data;
  cc.out_dir = path_in("o4");
  cc.max_tokens = 4;
  cc.quiet = 1;
  rc = l1k_eval_run(&cc, NULL, &err);
  CHECK(rc == L1K_EINPUT);
  CHECK_MSG(strstr(err.msg, "vocabulary") != NULL, "%s", err.msg);

  free_resp(a, K);
  free_resp(b, K);
  free_resp(c, K);
  l1k_rm_rf(tmpdir, &err);
  free(model);
  free(data);
  CHECK_DONE();
}
