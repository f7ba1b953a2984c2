/* Training config: defaults are LLaMA-Factory's / transformers' and `recipe: long1k` gives the
 * paper's values under the config's own keys; a LLaMA-Factory YAML (comments, quoting, ignored
 * keys) loads, and each key without effect warns once, naming why; values are checked with the
 * key and YAML line in the message; the dump of the effective config loads back to the same
 * config. */
#include <fcntl.h>
#include <unistd.h>

#include "check.h"
#include "long1k/io.h"
#include "long1k/train.h"

/* stderr of one l1k_train_config_set / load_yaml call, captured through a file */
static char cap_path[4200];
static int saved_fd = -1;
static void cap_begin(void) {
  fflush(stderr);
  saved_fd = dup(2);
  int fd = open(cap_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
  dup2(fd, 2);
  close(fd);
}
static char *cap_end(void) {
  fflush(stderr);
  dup2(saved_fd, 2);
  close(saved_fd);
  size_t n = 0;
  char *t = l1k_read_file(cap_path, &n, NULL);
  return t ? t : strdup("");
}
static int count_lines(const char *s) {
  int n = 0;
  for (; *s; s++) n += *s == '\n';
  return n;
}

/* LLaMA-Factory DataArguments / transformers TrainingArguments defaults (LLaMA-Factory
 * ff6d4d12 src/llamafactory/hparams/data_args.py; transformers 5.25 TrainingArguments) */
static void check_lf_defaults(const l1k_train_config *c) {
  CHECK(c->learning_rate == 5e-5 && !strcmp(c->lr_scheduler_type, "linear"));
  CHECK(c->warmup_ratio == 0 && c->warmup_steps == 0);
  CHECK(c->weight_decay == 0 && c->adam_beta1 == 0.9 && c->adam_beta2 == 0.999);
  CHECK(c->adam_epsilon == 1e-8 && c->max_grad_norm == 1.0);
  CHECK(c->per_device_train_batch_size == 8 && c->gradient_accumulation_steps == 1);
  CHECK(c->num_train_epochs == 3 && c->max_steps == -1 && c->seed == 42);
  CHECK(c->bf16 == 0 && c->cutoff_len == 2048 && c->logging_steps == 500 && c->save_steps == 500);
  CHECK(c->max_samples == 0 && c->val_size == 0 && c->save_total_limit == 0);
  CHECK(!strcmp(c->dataset_dir, "data") && !strcmp(c->mix_strategy, "concat"));
  CHECK(!strcmp(c->overlength, "drop"));
}

/* recipe: long1k wherever it appears; the config's own keys win, also when set before it */
static void check_recipe(const char *dir) {
  l1k_train_config c;
  l1k_err err = {0};
  l1k_train_config_default(&c);
  char y[4200];
  snprintf(y, sizeof y, "%s/recipe.yaml", dir);
  const char *yaml = "learning_rate: 2.0e-5\nrecipe: long1k\ncutoff_len: 4096\n";
  CHECK(l1k_write_file_atomic(y, yaml, strlen(yaml), &err) == 0);
  CHECK_MSG(l1k_train_config_load_yaml(&c, y, &err) == 0, "%s", err.msg);
  CHECK(c.learning_rate == 2e-5 && c.cutoff_len == 4096);
  CHECK(!strcmp(c.lr_scheduler_type, "cosine") && c.warmup_ratio == 0.05);
  CHECK(c.weight_decay == 1e-4 && c.adam_beta1 == 0.9 && c.adam_beta2 == 0.95);
  CHECK(c.per_device_train_batch_size == 1 && c.gradient_accumulation_steps == 16);
  CHECK(c.num_train_epochs == 5 && c.bf16 == 1 && c.logging_steps == 1);
  /* a later --recipe does not undo what the YAML set */
  l1k_train_config d;
  l1k_train_config_default(&d);
  CHECK(l1k_train_config_set(&d, "adam_beta2", "0.98", "y:1", &err) == 0);
  CHECK(l1k_train_config_set(&d, "warmup_steps", "0.2", "y:2", &err) == 0);
  CHECK(l1k_train_config_set(&d, "recipe", "long1k", "--recipe", &err) == 0);
  CHECK(d.adam_beta2 == 0.98 && d.warmup_ratio == 0.2 && d.weight_decay == 1e-4);
  CHECK(l1k_train_config_set(&d, "recipe", "paper", "w", &err) == L1K_EINPUT &&
        strstr(err.msg, "w: recipe: 'paper' is not a recipe (known: long1k)"));
  l1k_train_config_free(&c);
  l1k_train_config_free(&d);
}

/* keys without effect: one warning line each (once), quiet when the value asks for what long1k
 * does anyway; refused values; interleaved mixing refused */
static void check_warnings(void) {
  l1k_train_config c;
  l1k_err err = {0};
  l1k_train_config_default(&c);
  cap_begin();
  int rc = l1k_train_config_set(&c, "deepspeed", "ds_z3_config.json", "a.yaml:3", &err);
  rc |= l1k_train_config_set(&c, "deepspeed", "ds_z2_config.json", "--deepspeed", &err);
  rc |= l1k_train_config_set(&c, "report_to", "wandb", "a.yaml:4", &err);
  rc |= l1k_train_config_set(&c, "report_to", "none", "a.yaml:5", &err);
  rc |= l1k_train_config_set(&c, "save_strategy", "epoch", "a.yaml:6", &err);
  rc |= l1k_train_config_set(&c, "save_strategy", "steps", "a.yaml:7", &err);
  rc |= l1k_train_config_set(&c, "plot_loss", "true", "a.yaml:8", &err);
  rc |= l1k_train_config_set(&c, "optim", "adamw_torch_fused", "a.yaml:9", &err);
  rc |= l1k_train_config_set(&c, "deepspeed", "null", "a.yaml:10", &err);
  char *out = cap_end();
  CHECK(rc == 0);
  CHECK_MSG(count_lines(out) == 3, "%s", out);
  CHECK_MSG(strstr(out, "a.yaml:3: deepspeed: ignored; long1k shards with its own ZeRO") != NULL, "%s", out);
  CHECK_MSG(strstr(out, "a.yaml:4: report_to: ignored;") != NULL, "%s", out);
  CHECK_MSG(strstr(out, "a.yaml:6: save_strategy: ignored; long1k saves every save_steps") != NULL, "%s", out);
  free(out);
  CHECK(l1k_train_config_set(&c, "optim", "sgd", "w", &err) == L1K_EUNSUPPORTED &&
        strstr(err.msg, "w: optim: 'sgd' is not supported"));
  CHECK(l1k_train_config_set(&c, "interleave_probs", "0.5,0.5", "w", &err) == L1K_EUNSUPPORTED &&
        strstr(err.msg, "w: interleave_probs: interleaved mixing is not supported"));
  CHECK(l1k_train_config_set(&c, "mix_strategy", "interleave_under", "w", &err) == 0);
  l1k_train_config_free(&c);
}

int main(void) {
  l1k_train_config c;
  l1k_train_config_default(&c);
  check_lf_defaults(&c);
  char dir[] = "/tmp/l1k_test_config_XXXXXX";
  CHECK(mkdtemp(dir) != NULL);
  snprintf(cap_path, sizeof cap_path, "%s/stderr.txt", dir);
  check_recipe(dir);
  check_warnings();
  char y[4200];
  snprintf(y, sizeof y, "%s/sft.yaml", dir);
  const char *yaml =
      "### model\n"
      "model_name_or_path: Qwen/Qwen2.5-32B-Instruct\n"
      "\n"
      "### method\n"
      "stage: sft\n"
      "do_train: true\n"
      "finetuning_type: full\n"
      "deepspeed: examples/deepspeed/ds_z3_config.json  # ignored here\n"
      "### dataset\n"
      "dataset: \"a.jsonl, b.jsonl\"\n"
      "template: qwen\n"
      "cutoff_len: 16384\n"
      "overwrite_cache: true\n"
      "preprocessing_num_workers: 16\n"
      "### train\n"
      "per_device_train_batch_size: 1\n"
      "gradient_accumulation_steps: 2\n"
      "learning_rate: 1.0e-5\n"
      "num_train_epochs: 3.0\n"
      "lr_scheduler_type: linear\n"
      "warmup_ratio: 0.1\n"
      "bf16: True\n"
      "ddp_timeout: 180000000\n"
      "neat_packing: yes\n"
      "enable_thinking: false\n"
      "resume_from_checkpoint: null\n"
      "val_size: 0.1\n"
      "default_system: 'You are a helpful assistant.'\n";
  l1k_err err = {0};
  CHECK(l1k_write_file_atomic(y, yaml, strlen(yaml), &err) == 0);
  CHECK_MSG(l1k_train_config_load_yaml(&c, y, &err) == 0, "%s", err.msg);
  CHECK_STR(c.model_name_or_path, "Qwen/Qwen2.5-32B-Instruct");
  CHECK_STR(c.dataset, "a.jsonl, b.jsonl");
  CHECK_STR(c.template_name, "qwen");
  CHECK(c.cutoff_len == 16384 && c.overwrite_cache == 1 && c.gradient_accumulation_steps == 2);
  CHECK(c.num_train_epochs == 3.0 && !strcmp(c.lr_scheduler_type, "linear") && c.warmup_ratio == 0.1);
  CHECK(c.neat_packing == 1 && c.enable_thinking == 0 && c.resume_from_checkpoint == NULL);
  CHECK(c.val_size == 0.1);
  CHECK_STR(c.default_system, "You are a helpful assistant.");
  /* command-line style overrides */
  CHECK(l1k_train_config_set(&c, "max_steps", "100", "--max_steps", &err) == 0 && c.max_steps == 100);
  CHECK(l1k_train_config_set(&c, "resume_from_checkpoint", "true", "--x", &err) == 0);
  CHECK_STR(c.resume_from_checkpoint, "true");
  /* the dump loads back identically */
  char *d1 = l1k_train_config_dump(&c);
  char y2[4300];
  snprintf(y2, sizeof y2, "%s/dump.yaml", dir);
  CHECK(l1k_write_file_atomic(y2, d1, strlen(d1), &err) == 0);
  l1k_train_config c2;
  l1k_train_config_default(&c2);
  CHECK_MSG(l1k_train_config_load_yaml(&c2, y2, &err) == 0, "%s", err.msg);
  char *d2 = l1k_train_config_dump(&c2);
  CHECK_STR(d1, d2);
  free(d1);
  free(d2);
  l1k_train_config_free(&c2);
  /* errors name the key and place */
  struct {
    const char *key, *val, *msg;
    int code;
  } bad[] = {
      {"learning_rate", "1e-5x", "w: learning_rate: expected a number, got '1e-5x'", L1K_EINPUT},
      {"num_train_epochs", "-1", "w: num_train_epochs: -1 is out of range", L1K_EINPUT},
      {"cutoff_len", "2.5", "w: cutoff_len: expected an integer, got '2.5'", L1K_EINPUT},
      {"bf16", "maybe", "w: bf16: expected true or false, got 'maybe'", L1K_EINPUT},
      {"overlength", "wrap", "w: overlength: 'wrap' is not one of drop|truncate", L1K_EINPUT},
      {"formatting", "xml", "w: formatting: 'xml' is not one of", L1K_EINPUT},
      {"lr_scheduler_typ", "cosine", "w: unknown key 'lr_scheduler_typ'", L1K_EINPUT},
      {"stage", "dpo", "w: stage: 'dpo' is not supported", L1K_EUNSUPPORTED},
      {"fp16", "true", "w: fp16: 'true' is not supported", L1K_EUNSUPPORTED},
      {"adam_beta2", "1", "w: adam_beta2: 1 is out of range", L1K_EINPUT},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    int rc = l1k_train_config_set(&c, bad[i].key, bad[i].val, "w", &err);
    CHECK_MSG(rc == bad[i].code && strstr(err.msg, bad[i].msg), "%s=%s -> %d %s", bad[i].key,
              bad[i].val, rc, err.msg);
  }
  /* finish: required keys, a missing model directory */
  l1k_train_config e;
  l1k_train_config_default(&e);
  CHECK(l1k_train_config_finish(&e, &err) == L1K_EINPUT && strstr(err.msg, "model_name_or_path: required"));
  l1k_train_config_set(&e, "model_name_or_path", "/nonexistent/model", "w", &err);
  CHECK(l1k_train_config_finish(&e, &err) == L1K_EINPUT && strstr(err.msg, "is not a directory"));
  l1k_train_config_set(&e, "model_name_or_path", dir, "w", &err);
  CHECK(l1k_train_config_finish(&e, &err) == L1K_EINPUT && strstr(err.msg, "has no config.json"));
  l1k_train_config_free(&e);
  /* YAML structure errors carry the line */
  const char *nested = "learning_rate: 1e-5\nlora:\n  rank: 8\n";
  CHECK(l1k_write_file_atomic(y, nested, strlen(nested), &err) == 0);
  CHECK(l1k_train_config_load_yaml(&c, y, &err) == L1K_EINPUT);
  CHECK_MSG(strstr(err.msg, "sft.yaml:3: lora: expected a scalar value, got a mapping") != NULL, "%s", err.msg);
  l1k_train_config_free(&c);
  l1k_rm_rf(dir, NULL);
  CHECK_DONE();
}
