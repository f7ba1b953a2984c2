/* Training config: defaults are the paper's recipe; a LLaMA-Factory YAML (comments, quoting,
 * ignored keys) loads; values are checked with the key and YAML line in the message; the
 * dump of the effective config loads back to the same config. */
#include <unistd.h>

#include "check.h"
#include "long1k/io.h"
#include "long1k/train.h"

int main(void) {
  l1k_train_config c;
  l1k_train_config_default(&c);
  /* the paper: lr 1e-5, cosine, 5% warmup, wd 1e-4, betas 0.9/0.95, clip 1.0, batch 16, 5 epochs */
  CHECK(c.learning_rate == 1e-5 && !strcmp(c.lr_scheduler_type, "cosine") && c.warmup_ratio == 0.05);
  CHECK(c.weight_decay == 1e-4 && c.adam_beta1 == 0.9 && c.adam_beta2 == 0.95 && c.max_grad_norm == 1.0);
  CHECK(c.per_device_train_batch_size * c.gradient_accumulation_steps == 16 && c.num_train_epochs == 5);
  CHECK(c.bf16 == 1 && c.cutoff_len == 32768 && !strcmp(c.overlength, "drop"));
  char dir[] = "/tmp/l1k_test_config_XXXXXX";
  CHECK(mkdtemp(dir) != NULL);
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
