/* long1k train — supervised fine-tuning from a LLaMA-Factory-style YAML config. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "long1k/log.h"
#include "long1k/train.h"

static void usage(FILE *f) {
  fprintf(f,
          "usage: long1k train CONFIG.yaml [--key value | --key=value ...] [--skip-bad-records]\n"
          "       mpirun -np N long1k train CONFIG.yaml ...   (data parallel)\n\n"
          "Fine-tunes a Hugging Face model directory on chat data: loss on assistant tokens,\n"
          "AdamW, LLaMA-Factory's defaults (recipe: long1k for the paper's), gradient\n"
          "accumulation normalized by the number of loss tokens per optimizer step, clipping,\n"
          "checkpoints every save_steps in output_dir/checkpoint-<step>/ (resumable bit for\n"
          "bit), trainer_log.jsonl and training_loss.svg. CONFIG.yaml is a flat mapping of the\n"
          "keys below (LLaMA-Factory names); --key value on the command line overrides it ('-'\n"
          "in keys may be '_').\n\n"
          "options:\n"
          "  --skip-bad-records     skip (and count) malformed records instead of stopping\n"
          "  --print-config         print the effective configuration and exit\n"
          "  -q, --quiet            only errors\n"
          "  -h, --help             this text\n\n"
          "keys:\n");
  l1k_train_config_help(f);
  fprintf(f,
          "\nexample:\n"
          "  model_name_or_path: models/qwen2.5-0.5b\n"
          "  recipe: long1k\n"
          "  dataset: long1k.jsonl            # or names in data/dataset_info.json\n"
          "  template: qwen\n"
          "  cutoff_len: 16384\n"
          "  output_dir: runs/sft\n");
}

int cmd_train(int argc, char **argv) {
  const char *cmd = "train";
  l1k_train_config c;
  l1k_train_config_default(&c);
  l1k_err err = {0};
  int rc = 0, print_only = 0, i = 1;
  for (int k = 1; k < argc; k++)
    if (!strcmp(argv[k], "-h") || !strcmp(argv[k], "--help")) {
      usage(stdout);
      l1k_train_config_free(&c);
      return 0;
    }
  if (i < argc && strncmp(argv[i], "-", 1) != 0) {
    rc = l1k_train_config_load_yaml(&c, argv[i], &err);
    i++;
    if (rc) goto fail;
  }
  for (; i < argc; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "--skip-bad-records")) {
      c.skip_bad_records = 1;
      continue;
    }
    if (!strcmp(a, "--print-config")) {
      print_only = 1;
      continue;
    }
    if (!strcmp(a, "-q") || !strcmp(a, "--quiet")) {
      l1k_log_set_level(L1K_LOG_QUIET);
      continue;
    }
    if (strncmp(a, "--", 2) != 0 || !a[2]) {
      rc = cli_usage_error(cmd, "unexpected argument '%s' (config file first, then --key value)", a);
      l1k_train_config_free(&c);
      return rc;
    }
    char key[128];
    const char *eq = strchr(a + 2, '=');
    size_t kl = eq ? (size_t)(eq - a - 2) : strlen(a + 2);
    if (kl >= sizeof key) kl = sizeof key - 1;
    memcpy(key, a + 2, kl);
    key[kl] = 0;
    for (char *p = key; *p; p++)
      if (*p == '-') *p = '_';
    const char *val = eq ? eq + 1 : NULL;
    if (!val) {
      if (i + 1 >= argc) {
        rc = cli_usage_error(cmd, "--%s needs a value", key);
        l1k_train_config_free(&c);
        return rc;
      }
      val = argv[++i];
    }
    char where[160];
    snprintf(where, sizeof where, "--%s", key);
    if ((rc = l1k_train_config_set(&c, key, val, where, &err))) goto fail;
  }
  if (print_only) {
    char *d = l1k_train_config_dump(&c);
    if (d) fputs(d, stdout);
    free(d);
    l1k_train_config_free(&c);
    return 0;
  }
  if ((rc = l1k_train_config_finish(&c, &err))) goto fail;
  l1k_train_result res;
  rc = l1k_train_run(&c, &res, &err);
  if (rc) goto fail;
  l1k_train_config_free(&c);
  return 0;
fail:
  l1k_train_config_free(&c);
  return cli_fail(cmd, &err);
}
