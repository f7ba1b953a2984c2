/* long1k merge — a PEFT LoRA adapter merged into its base model (include/long1k/adapter.h):
 * W + scale * B A for every target, modules_to_save copied in, written as a Hugging Face model
 * directory in the base's dtype, as peft's merge_and_unload() + save_pretrained would. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "long1k/adapter.h"
#include "long1k/io.h"
#include "long1k/log.h"
#include "long1k/model.h"

static const char *MERGE_USAGE =
    "usage: long1k merge --base DIR --adapter DIR --out DIR [--dtype f32|bf16|f16]\n"
    "\n"
    "Merges a PEFT LoRA adapter (adapter_config.json + adapter_model.safetensors, as\n"
    "`long1k train` with finetuning_type: lora or PEFT's save_pretrained writes it) into its\n"
    "base model: W + scale * B A (scale = lora_alpha / r, or lora_alpha / sqrt(r) with\n"
    "use_rslora), computed in float32, and writes a model directory transformers loads\n"
    "(config.json, generation_config.json, model.safetensors, the base's tokenizer files).\n"
    "\n"
    "options:\n"
    "  -b, --base DIR      the base model directory\n"
    "  -a, --adapter DIR   the adapter directory (a LoRA checkpoint-<step> of long1k train)\n"
    "  -o, --out DIR       where the merged model goes\n"
    "      --dtype D       f32, bf16 or f16 (default: the base's dtype)\n"
    "  -h, --help          this text\n"
    "\n"
    "example:\n"
    "  long1k merge --base Qwen2.5-7B-Instruct --adapter out/checkpoint-500 --out merged\n";

static int copy_tokenizer(const char *src, const char *dst, l1k_err *err) {
  static const char *names[] = {"tokenizer.json",    "tokenizer_config.json", "special_tokens_map.json",
                                "vocab.json",        "merges.txt",            "added_tokens.json",
                                "chat_template.jinja"};
  int rc = 0;
  for (size_t i = 0; i < sizeof names / sizeof names[0] && !rc; i++) {
    char *s = l1k_path_join(src, names[i]), *d = l1k_path_join(dst, names[i]);
    if (!s || !d) rc = l1k_errf(err, L1K_ENOMEM, "out of memory");
    if (!rc && l1k_file_exists(s)) {
      size_t len = 0;
      char *data = l1k_read_file(s, &len, err);
      rc = data ? l1k_write_file_atomic(d, data, len, err) : L1K_EIO;
      free(data);
    }
    free(s);
    free(d);
  }
  return rc;
}

static const char *base_dtype(const l1k_model *m) {
  const char *d = l1k_model_stored_dtype(m);
  return !strcmp(d, "BF16") ? "bf16" : !strcmp(d, "F16") ? "f16" : "f32";
}

int cmd_merge(int argc, char **argv) {
  static const struct option opts[] = {{"base", required_argument, 0, 'b'},
                                       {"adapter", required_argument, 0, 'a'},
                                       {"out", required_argument, 0, 'o'},
                                       {"dtype", required_argument, 0, 'd'},
                                       {"help", no_argument, 0, 'h'},
                                       {0, 0, 0, 0}};
  const char *base = NULL, *adapter = NULL, *out = NULL, *dtype = NULL;
  int c;
  optind = 1;
  while ((c = getopt_long(argc, argv, "b:a:o:h", opts, NULL)) != -1) {
    switch (c) {
    case 'b': base = optarg; break;
    case 'a': adapter = optarg; break;
    case 'o': out = optarg; break;
    case 'd': dtype = optarg; break;
    case 'h': fputs(MERGE_USAGE, stdout); return 0;
    default: return cli_usage_error("merge", "see 'long1k merge --help'");
    }
  }
  if (optind < argc) return cli_usage_error("merge", "unexpected argument '%s'", argv[optind]);
  if (!base || !adapter || !out)
    return cli_usage_error("merge", "--base, --adapter and --out are required (see --help)");
  if (dtype && strcmp(dtype, "f32") && strcmp(dtype, "bf16") && strcmp(dtype, "f16"))
    return cli_usage_error("merge", "--dtype: '%s' (expected f32, bf16 or f16)", dtype);
  l1k_err err = {0};
  l1k_model *m = l1k_model_load(base, &err);
  if (!m) {
    l1k_err_prefix(&err, "--base");
    return cli_fail("merge", &err);
  }
  int rc = l1k_model_lora_merge_dir(m, adapter, &err);
  if (rc) l1k_err_prefix(&err, "--adapter");
  if (!rc) rc = l1k_model_save(m, out, dtype ? dtype : base_dtype(m), &err);
  if (!rc) rc = copy_tokenizer(base, out, &err);
  if (!rc) l1k_info("merged %s into %s: %s (%s)", adapter, base, out, dtype ? dtype : base_dtype(m));
  l1k_model_free(m);
  return rc ? cli_fail("merge", &err) : 0;
}
