/* The trainer really learns: a tiny random Qwen2-shaped model (the tiny byte-level BPE of
 * data/tokenizers/tiny, Qwen2.5 chat template) is fine-tuned with `long1k train`'s library
 * entry point on a small reasoning dataset (s1K-style question / thinking / answer records).
 * The loss falls, and greedy generation from the saved checkpoint then reproduces a
 * training reply token for token. */
#include <cjson/cJSON.h>

#include "check.h"
#include "long1k/chat.h"
#include "long1k/generate.h"
#include "long1k/io.h"
#include "long1k/model.h"
#include "long1k/train.h"

static const char *Q[] = {"What is 3+4?", "What is 6*7?", "What is 10-2?", "What is 9/3?",
                          "What is 5+5?", "What is 2*8?"};
static const char *R[] = {"3 plus 4 is 7.", "6 times 7 is 42.", "10 minus 2 is 8.",
                          "9 over 3 is 3.", "5 plus 5 is 10.", "2 times 8 is 16."};
static const char *A[] = {"7", "42", "8", "3", "10", "16"};

int main(void) {
  /* tiny models: one thread is fastest, and the box is shared (keeps an explicit setting) */
  setenv("OMP_NUM_THREADS", "1", 0);
  l1k_err err = {0};
  int san = getenv("LONG1K_SANITIZER") != NULL;
  char dir[] = "/tmp/l1k_test_learn_XXXXXX";
  if (!mkdtemp(dir)) return 1;
  char src[4096], p[4300], mdir[4300];
  snprintf(src, sizeof src, "%s/data/tokenizers/tiny",
           getenv("LONG1K_SRC") ? getenv("LONG1K_SRC") : ".");
  l1k_tokenizer *tok = l1k_tokenizer_load(src, &err);
  CHECK_MSG(tok != NULL, "%s", err.msg);
  if (!tok) return 1;
  /* a tiny random model with the tokenizer's vocabulary */
  l1k_model_config c;
  memset(&c, 0, sizeof c);
  snprintf(c.model_type, sizeof c.model_type, "qwen2");
  c.vocab_size = l1k_tokenizer_vocab_size(tok);
  c.hidden_size = 64;
  c.intermediate_size = 128;
  c.num_hidden_layers = 2;
  c.num_attention_heads = 4;
  c.num_key_value_heads = 2;
  c.head_dim = 16;
  c.max_position_embeddings = 1024;
  c.rope_theta = 10000;
  c.rms_norm_eps = 1e-6;
  c.tie_word_embeddings = 1;
  c.attention_bias = 1;
  c.initializer_range = 0.02;
  c.pad_token_id = -1;
  snprintf(c.torch_dtype, sizeof c.torch_dtype, "float32");
  c.bos_token_id = -1;
  c.eos_token_ids[0] = l1k_tokenizer_token_to_id(tok, "<|im_end|>");
  c.n_eos = 1;
  l1k_model *m = l1k_model_create(&c, &err);
  CHECK_MSG(m != NULL, "%s", err.msg);
  if (!m) return 1;
  l1k_model_init_random(m, 1);
  snprintf(mdir, sizeof mdir, "%s/model", dir);
  CHECK_MSG(l1k_model_save(m, mdir, "f32", &err) == 0, "%s", err.msg);
  l1k_model_free(m);
  const char *files[] = {"tokenizer.json", "tokenizer_config.json"};
  for (int i = 0; i < 2; i++) {
    char a[4400], b[4400];
    snprintf(a, sizeof a, "%s/%s", src, files[i]);
    snprintf(b, sizeof b, "%s/%s", mdir, files[i]);
    size_t len;
    char *txt = l1k_read_file(a, &len, &err);
    CHECK(txt && l1k_write_file_atomic(b, txt, len, &err) == 0);
    free(txt);
  }
  /* the dataset */
  snprintf(p, sizeof p, "%s/data.jsonl", dir);
  FILE *f = fopen(p, "w");
  for (int i = 0; i < 6; i++)
    fprintf(f,
            "{\"question\": \"%s\", \"deepseek_thinking_trajectory\": \"%s\", "
            "\"deepseek_attempt\": \"The answer is \\\\boxed{%s}.\"}\n",
            Q[i], R[i], A[i]);
  fclose(f);
  /* train */
  l1k_train_config tc;
  l1k_train_config_default(&tc);
  char out[4400], cache[4400];
  snprintf(out, sizeof out, "%s/out", dir);
  snprintf(cache, sizeof cache, "%s/cache", dir);
  const char *kv[][2] = {
      {"recipe", "long1k"}, {"model_name_or_path", mdir}, {"dataset", p}, {"output_dir", out},
      {"tokenized_cache_dir", cache}, {"default_system", "Solve."}, {"cutoff_len", "256"},
      {"learning_rate", "3e-3"}, {"max_steps", san ? "200" : "250"}, {"warmup_ratio", "0.05"},
      {"per_device_train_batch_size", "3"}, {"gradient_accumulation_steps", "1"},
      {"weight_decay", "0"}, {"logging_steps", "10"}, {"save_steps", "0"},
      {"num_threads", "1"}, {"bf16", "false"},
  };
  for (size_t i = 0; i < sizeof kv / sizeof kv[0]; i++)
    CHECK_MSG(l1k_train_config_set(&tc, kv[i][0], kv[i][1], kv[i][0], &err) == 0, "%s", err.msg);
  CHECK_MSG(l1k_train_config_finish(&tc, &err) == 0, "%s", err.msg);
  l1k_train_result res;
  int rc = l1k_train_run(&tc, &res, &err);
  CHECK_MSG(rc == 0, "%s", err.msg);
  /* the loss falls */
  snprintf(p, sizeof p, "%s/trainer_log.jsonl", out);
  char *log = l1k_read_file(p, NULL, &err);
  double first = -1, last = -1;
  int n_rec = 0;
  for (char *save = NULL, *line = log ? strtok_r(log, "\n", &save) : NULL; line;
       line = strtok_r(NULL, "\n", &save)) {
    cJSON *j = cJSON_Parse(line);
    cJSON *l = cJSON_GetObjectItem(j, "loss");
    if (cJSON_IsNumber(l)) {
      if (first < 0) first = l->valuedouble;
      last = l->valuedouble;
      n_rec++;
    }
    cJSON_Delete(j);
  }
  free(log);
  fprintf(stderr, "loss %.4f -> %.4f over %d log records\n", first, last, n_rec);
  CHECK(first > 3.0);
  CHECK(last < 0.1 * first && last < 0.3);
  /* greedy generation from the checkpoint reproduces a training reply */
  l1k_model *tm = l1k_model_load(res.last_checkpoint, &err);
  CHECK_MSG(tm != NULL, "%s", err.msg);
  l1k_template tmpl = NULL;
  CHECK(l1k_chat_template_detect(res.last_checkpoint, &tmpl, &err) == 0);
  int exact = 0;
  for (int i = 0; tm && i < 6; i++) {
    l1k_chat_msg msgs[2] = {{"system", "Solve.", NULL}, {"user", Q[i], NULL}};
    l1k_chat_opts co = {1, -1, NULL};
    l1k_ids ids = {0};
    CHECK(l1k_chat_encode(tok, tmpl, msgs, 2, &co, &ids, NULL, &err) == 0);
    l1k_generator *g = l1k_generator_create(tm, 1, 512, &err);
    CHECK_MSG(g != NULL, "%s", err.msg);
    if (!g) break;
    l1k_gen_opts o;
    l1k_gen_opts_default(&o);
    o.max_new_tokens = 80;
    l1k_gen_opts_use_tokenizer(&o, tok);
    l1k_gen_prompt pr = {ids.data, (int)ids.len};
    l1k_gen_result r;
    CHECK_MSG(l1k_generate(g, &pr, 1, &o, &r, NULL, NULL, &err) == 0, "%s", err.msg);
    char want[256];
    snprintf(want, sizeof want, "<think>\n%s\n</think>\n\nThe answer is \\boxed{%s}.", R[i], A[i]);
    int ok = r.text && !strcmp(r.text, want) && r.finish == L1K_FINISH_EOS;
    fprintf(stderr, "%s -> %s%s\n", Q[i], r.text ? r.text : "(null)", ok ? "  [exact]" : "");
    exact += ok;
    l1k_gen_results_free(&r, 1);
    l1k_generator_free(g);
    free(ids.data);
  }
  CHECK_MSG(exact >= 3, "only %d of 6 training replies reproduced greedily", exact);
  if (tm) l1k_model_free(tm);
  l1k_chat_template_free(tmpl);
  l1k_train_config_free(&tc);
  l1k_tokenizer_free(tok);
  l1k_rm_rf(dir, NULL);
  CHECK_DONE();
}
