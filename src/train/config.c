/* long1k — training configuration: LLaMA-Factory-style keys from YAML and --key value. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "long1k/chat.h"
#include "long1k/adapter.h"
#include "long1k/io.h"
#include "long1k/jsonl.h"
#include "long1k/log.h"
#include "long1k/sched.h"
#include "long1k/train.h"

enum { T_STR, T_INT, T_FLOAT, T_BOOL, T_TRISTATE, T_ENUM };

typedef struct key_spec {
  const char *name;
  int type;
  size_t off;
  const char *enums; /* T_ENUM: "a|b|c" */
  double lo, hi;     /* T_INT / T_FLOAT range (inclusive) */
  const char *def;   /* default as text, for help */
  const char *help;
} key_spec;

#define F(x) offsetof(l1k_train_config, x)
#define BIG 9e18
static const key_spec KEYS[] = {
    {"model_name_or_path", T_STR, F(model_name_or_path), 0, 0, 0, "(required)",
     "Hugging Face model directory to fine-tune"},
    {"tokenizer_name_or_path", T_STR, F(tokenizer_name_or_path), 0, 0, 0, "model dir",
     "directory or tokenizer.json (not needed for formatting: tokenized)"},
    {"dataset", T_STR, F(dataset), 0, 0, 0, "(required)",
     "comma-separated: names in dataset_dir/dataset_info.json, or JSON / JSONL files"},
    {"dataset_dir", T_STR, F(dataset_dir), 0, 0, 0, "data",
     "folder of dataset_info.json (relative to the working directory)"},
    {"mix_strategy", T_ENUM, F(mix_strategy), "concat|interleave_under|interleave_over|interleave_once",
     0, 0, "concat", "several datasets: concatenated in the order given (interleave_*: refused)"},
    {"template", T_STR, F(template_name), 0, 0, 0, "detect",
     "chat template by name (qwen, qwen3, qwen3_nothink, llama3, deepseekr1, mistral, phi4, gemma3, "
     "smollm2, chatml, default, ...: LLaMA-Factory's names); default: the model's own template"},
    {"cutoff_len", T_INT, F(cutoff_len), 0, 2, 1 << 24, "2048", "max tokens per sample"},
    {"max_samples", T_INT, F(max_samples), 0, 0, BIG, "0",
     "use only the first N records of each dataset (0 = all)"},
    {"formatting", T_ENUM, F(formatting), "auto|openai|sharegpt|alpaca|fields|tokenized", 0, 0,
     "auto", "record format (auto: by the fields present)"},
    {"question_field", T_STR, F(question_field), 0, 0, 0, "question", "fields format: user turn"},
    {"reasoning_field", T_STR, F(reasoning_field), 0, 0, 0, "deepseek_thinking_trajectory",
     "fields format: reasoning"},
    {"answer_field", T_STR, F(answer_field), 0, 0, 0, "deepseek_attempt", "fields format: answer"},
    {"system_field", T_STR, F(system_field), 0, 0, 0, "system",
     "fields / sharegpt / alpaca: top-level system prompt field"},
    {"response_format", T_STR, F(response_format), 0, 0, 0,
     "<think>\\n{reasoning}\\n</think>\\n\\n{answer}", "fields format: assistant reply"},
    {"default_system", T_STR, F(default_system), 0, 0, 0, "(none)",
     "system prompt for records without one"},
    {"enable_thinking", T_TRISTATE, F(enable_thinking), 0, 0, 0, "template default",
     "the template variable enable_thinking (Qwen3)"},
    {"overlength", T_ENUM, F(overlength), "drop|truncate", 0, 0, "drop",
     "samples longer than cutoff_len: drop or truncate (always counted)"},
    {"skip_bad_records", T_BOOL, F(skip_bad_records), 0, 0, 0, "false",
     "skip and count malformed records instead of stopping"},
    {"tokenized_cache_dir", T_STR, F(tokenized_cache_dir), 0, 0, 0, "~/.cache/long1k/tokenized",
     "where tokenized datasets are cached"},
    {"overwrite_cache", T_BOOL, F(overwrite_cache), 0, 0, 0, "false", "re-tokenize"},
    {"learning_rate", T_FLOAT, F(learning_rate), 0, 0, 1e3, "5e-5", "peak learning rate"},
    {"num_train_epochs", T_FLOAT, F(num_train_epochs), 0, 0, 1e6, "3", "epochs"},
    {"max_steps", T_INT, F(max_steps), 0, -1, BIG, "-1", "optimizer steps (> 0 overrides epochs)"},
    {"per_device_train_batch_size", T_INT, F(per_device_train_batch_size), 0, 1, 1 << 20, "8",
     "rows per micro-batch per process"},
    {"gradient_accumulation_steps", T_INT, F(gradient_accumulation_steps), 0, 1, 1 << 20, "1",
     "micro-batches per optimizer step"},
    {"lr_scheduler_type", T_ENUM, F(lr_scheduler_type), "cosine|linear|constant_with_warmup|constant",
     0, 0, "linear", "schedule"},
    {"warmup_ratio", T_FLOAT, F(warmup_ratio), 0, 0, 1, "0",
     "warmup = ceil(ratio * total steps)"},
    {"warmup_steps", T_INT, F(warmup_steps), 0, 0, BIG, "0", "warmup steps (> 0 overrides ratio)"},
    {"weight_decay", T_FLOAT, F(weight_decay), 0, 0, 1e3, "0", "AdamW decoupled weight decay"},
    {"adam_beta1", T_FLOAT, F(adam_beta1), 0, 0, 0.999999999, "0.9", "AdamW beta1"},
    {"adam_beta2", T_FLOAT, F(adam_beta2), 0, 0, 0.999999999, "0.999", "AdamW beta2"},
    {"adam_epsilon", T_FLOAT, F(adam_epsilon), 0, 0, 1, "1e-8", "AdamW epsilon"},
    {"max_grad_norm", T_FLOAT, F(max_grad_norm), 0, 0, 1e9, "1.0", "global grad-norm clip (0 = off)"},
    {"bf16", T_BOOL, F(bf16), 0, 0, 0, "false",
     "save checkpoints in bfloat16 (master weights and moments stay float32)"},
    {"seed", T_INT, F(seed), 0, 0, BIG, "42", "data order and split seed"},
    {"neat_packing", T_BOOL, F(neat_packing), 0, 0, 0, "false",
     "pack several samples per row (positions restart, attention isolated)"},
    {"group_by_length", T_BOOL, F(group_by_length), 0, 0, 0, "false",
     "unpacked: batch samples of similar length"},
    {"gradient_checkpointing", T_BOOL, F(gradient_checkpointing), 0, 0, 0, "false",
     "accepted; the CPU backend keeps activations (noted when true)"},
    {"val_size", T_FLOAT, F(val_size), 0, 0, 1e12, "0",
     "evaluation split: fraction (< 1) or number of samples"},
    {"eval_steps", T_INT, F(eval_steps), 0, 0, BIG, "0", "evaluate every N steps (0: at the end)"},
    {"output_dir", T_STR, F(output_dir), 0, 0, 0, "(required)", "checkpoints and logs"},
    {"logging_steps", T_INT, F(logging_steps), 0, 1, BIG, "500", "log every N steps"},
    {"save_steps", T_INT, F(save_steps), 0, 0, BIG, "500", "checkpoint every N steps (0: end only)"},
    {"save_total_limit", T_INT, F(save_total_limit), 0, 0, BIG, "0",
     "keep the newest N checkpoints (0: all)"},
    {"resume_from_checkpoint", T_STR, F(resume_from_checkpoint), 0, 0, 0, "(none)",
     "checkpoint directory, or true for the latest in output_dir"},
    {"zero_stage", T_INT, F(zero_stage), 0, 0, 2, "0",
     "1: shard the AdamW moments across MPI ranks (ZeRO-1); 2: the gradients too (ZeRO-2)"},
    {"num_threads", T_INT, F(num_threads), 0, 0, 4096, "0", "OpenMP threads (0: default)"},
    {"overwrite_output_dir", T_BOOL, F(overwrite_output_dir), 0, 0, 0, "false",
     "allow an output_dir that already holds checkpoints without resuming"},
    {"device", T_ENUM, F(device), "auto|cpu|cuda", 0, 0, "auto",
     "backend: cpu, cuda, or auto (cuda when a GPU and the CUDA backend are present)"},
    {"precision", T_ENUM, F(precision), "auto|fp32|bf16", 0, 0, "auto",
     "device arithmetic: fp32 or bf16 (auto: cpu fp32, cuda bf16; the cpu backend is fp32 only)"},
    {"deterministic", T_BOOL, F(deterministic), 0, 0, 0, "false",
     "device backends: same bits on every run (the cpu backend always is)"},
    {"optim_offload", T_BOOL, F(optim_offload), 0, 0, 0, "false",
     "device backends: float32 master weights and AdamW moments in host memory, AdamW on the CPU"},
    /* LoRA / freeze (include/long1k/adapter.h, docs/train.md) */
    {"finetuning_type", T_ENUM, F(finetuning_type), "full|lora|freeze", 0, 0, "lora",
     "what is trained: every parameter, a LoRA adapter, or the last layers"},
    {"lora_rank", T_INT, F(lora_rank), 0, 1, 1 << 16, "8", "LoRA rank r"},
    {"lora_alpha", T_FLOAT, F(lora_alpha), 0, 0, 1e9, "2 x lora_rank",
     "LoRA scale numerator (scale alpha / r)"},
    {"lora_dropout", T_FLOAT, F(lora_dropout), 0, 0, 1, "0",
     "LoRA dropout p on each target's input (training only; p < 1)"},
    {"lora_target", T_STR, F(lora_target), 0, 0, 0, "all",
     "all, or a comma list of q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj"},
    {"use_rslora", T_BOOL, F(use_rslora), 0, 0, 0, "false", "scale alpha / sqrt(r)"},
    {"additional_target", T_STR, F(additional_target), 0, 0, 0, "(none)",
     "modules trained in full beside the LoRA (PEFT modules_to_save): embed_tokens, lm_head"},
    {"create_new_adapter", T_BOOL, F(create_new_adapter), 0, 0, 0, "false",
     "merge every adapter_name_or_path and train a new LoRA on top"},
    {"adapter_name_or_path", T_STR, F(adapter_name_or_path), 0, 0, 0, "(none)",
     "PEFT adapter dir(s), comma-separated: all but the last merged, the last trained further"},
    {"freeze_trainable_layers", T_INT, F(freeze_trainable_layers), 0, -(1 << 20), 1 << 20, "2",
     "freeze: train the last N layers (N < 0: the first |N|)"},
    {"freeze_trainable_modules", T_STR, F(freeze_trainable_modules), 0, 0, 0, "all",
     "freeze: all, or self_attn, mlp, input_layernorm, post_attention_layernorm"},
    {"freeze_extra_modules", T_STR, F(freeze_extra_modules), 0, 0, 0, "(none)",
     "freeze: also train embed_tokens, norm, lm_head (names matched as LLaMA-Factory does)"},
};
#undef F
#define N_KEYS (sizeof KEYS / sizeof KEYS[0])

/* LLaMA-Factory keys long1k accepts without a key of its own. refuse_unless: the values
 * long1k does (others are refused); same: values that ask for what long1k does anyway (quiet);
 * any other value prints ONE warning: "<key>: ignored; <why>". */
static const struct {
  const char *name, *refuse_unless, *same, *why;
} IGNORED[] = {
    {"stage", "sft", 0, 0},
    {"do_train", "true", 0, 0},
    {"optim", "adamw_torch|adamw_torch_fused", 0, 0},
    {"fp16", "false", 0, 0},
    {"deepspeed", 0, 0, "long1k shards with its own ZeRO (zero_stage: 1 or 2 under mpirun; see docs/train.md)"},
    {"report_to", 0, "none", "long1k logs to output_dir/trainer_log.jsonl and trainer_state.json only"},
    {"ddp_timeout", 0, 0, "MPI collectives have no timeout here"},
    {"plot_loss", 0, "true", "training_loss.svg is always written"},
    {"preprocessing_num_workers", 0, 0,
     "records are tokenized in one process, once (tokenized_cache_dir keeps the result)"},
    {"dataloader_num_workers", 0, 0,
     "batches are read from the memory-mapped token cache inside the training loop"},
    {"flash_attn", 0, "disabled|eager", "long1k computes exact attention with its own kernels"},
    {"trust_remote_code", 0, "false", "long1k runs no code from the model directory"},
    {"logging_dir", 0, 0, "logs go to output_dir"},
    {"run_name", 0, 0, "there is no experiment tracker"},
    {"save_only_model", 0, "false", "checkpoints always hold the optimizer state (train_state.bin)"},
    {"per_device_eval_batch_size", 0, 0,
     "the val_size split is evaluated in micro-batches of per_device_train_batch_size"},
    {"eval_strategy", 0, "no|steps", "with val_size > 0 long1k evaluates every eval_steps (0: at the end)"},
    {"do_eval", 0, "false", "with val_size > 0 long1k evaluates every eval_steps (0: at the end)"},
    {"use_fast_tokenizer", 0, "true", "long1k's tokenizer reads tokenizer.json (the fast tokenizer's file)"},
    {"tf32", 0, "false", "compute is float32"},
    {"ddp_find_unused_parameters", 0, 0, "MPI all-reduces every gradient"},
    {"save_strategy", 0, "steps", "long1k saves every save_steps and at the end"},
    {"logging_strategy", 0, "steps", "long1k logs every logging_steps"},
    {"disable_tqdm", 0, "false", "the progress bar shows only on a terminal (-q hides it)"},
    {"include_num_input_tokens_seen", 0, "true|false|all|non_padding",
     "num_input_tokens_seen is always recorded"},
    {"use_v1_kernels", 0, "false", "long1k uses its own kernels"},
};
#define N_IGNORED (sizeof IGNORED / sizeof IGNORED[0])

/* `recipe: long1k`: the paper's setup (the defaults long1k had before it took LLaMA-Factory's).
 * Applied to every key the configuration does not set itself, wherever `recipe` appears. */
static const char *const RECIPE_LONG1K[][2] = {
    {"learning_rate", "1e-5"},
    {"num_train_epochs", "5"},
    {"per_device_train_batch_size", "1"},
    {"gradient_accumulation_steps", "16"},
    {"lr_scheduler_type", "cosine"},
    {"warmup_ratio", "0.05"},
    {"weight_decay", "1e-4"},
    {"adam_beta1", "0.9"},
    {"adam_beta2", "0.95"},
    {"adam_epsilon", "1e-8"},
    {"max_grad_norm", "1.0"},
    {"cutoff_len", "32768"},
    {"bf16", "true"},
    {"seed", "42"},
    {"logging_steps", "1"},
    {"save_steps", "500"},
    {"finetuning_type", "full"},
};

static char *xstrdup(const char *s) {
  return s ? strdup(s) : NULL;
}

_Static_assert(N_KEYS <= sizeof ((l1k_train_config *)0)->key_set, "key_set too small");
_Static_assert(N_IGNORED <= 64, "warned mask too small");

/* Defaults are LLaMA-Factory's (DataArguments) and transformers' TrainingArguments' where
 * LLaMA-Factory defers to it; `recipe: long1k` gives the paper's values. */
void l1k_train_config_default(l1k_train_config *c) {
  memset(c, 0, sizeof *c);
  c->cutoff_len = 2048;
  c->dataset_dir = xstrdup("data");
  c->mix_strategy = xstrdup("concat");
  c->formatting = xstrdup("auto");
  c->question_field = xstrdup("question");
  c->reasoning_field = xstrdup("deepseek_thinking_trajectory");
  c->answer_field = xstrdup("deepseek_attempt");
  c->system_field = xstrdup("system");
  c->response_format = xstrdup("<think>\n{reasoning}\n</think>\n\n{answer}");
  c->enable_thinking = -1;
  c->overlength = xstrdup("drop");
  c->learning_rate = 5e-5;
  c->num_train_epochs = 3;
  c->max_steps = -1;
  c->per_device_train_batch_size = 8;
  c->gradient_accumulation_steps = 1;
  c->lr_scheduler_type = xstrdup("linear");
  c->warmup_ratio = 0;
  c->weight_decay = 0;
  c->adam_beta1 = 0.9;
  c->adam_beta2 = 0.999;
  c->adam_epsilon = 1e-8;
  c->max_grad_norm = 1.0;
  c->bf16 = 0;
  c->seed = 42;
  c->logging_steps = 500;
  c->save_steps = 500;
  c->device = xstrdup("auto");
  c->precision = xstrdup("auto");
  c->finetuning_type = xstrdup("lora"); /* LLaMA-Factory's FinetuningArguments default */
  c->lora_rank = 8;
  c->lora_target = xstrdup("all");
  c->freeze_trainable_layers = 2;
  c->freeze_trainable_modules = xstrdup("all");
}

void l1k_train_config_free(l1k_train_config *c) {
  for (size_t i = 0; i < N_KEYS; i++)
    if (KEYS[i].type == T_STR || KEYS[i].type == T_ENUM) {
      char **p = (char **)((char *)c + KEYS[i].off);
      free(*p);
      *p = NULL;
    }
  free(c->recipe);
  c->recipe = NULL;
}

static int parse_bool(const char *v, int *out) {
  static const char *t[] = {"true", "True", "TRUE", "yes", "Yes", "on", "1"};
  static const char *f[] = {"false", "False", "FALSE", "no", "No", "off", "0"};
  for (size_t i = 0; i < 7; i++) {
    if (strcmp(v, t[i]) == 0) return *out = 1, 0;
    if (strcmp(v, f[i]) == 0) return *out = 0, 0;
  }
  return -1;
}

static int is_null(const char *v) {
  return !*v || strcmp(v, "null") == 0 || strcmp(v, "~") == 0 || strcmp(v, "None") == 0 ||
         strcmp(v, "Null") == 0 || strcmp(v, "NULL") == 0;
}

/* value is one of "a|b|c" (booleans compared as booleans, "null" as "none") */
static int in_list(const char *list, const char *value) {
  int bv, bl;
  int vb = parse_bool(value, &bv) == 0;
  for (const char *e = list; e && *e;) {
    const char *bar = strchr(e, '|');
    size_t n = bar ? (size_t)(bar - e) : strlen(e);
    char one[64];
    snprintf(one, sizeof one, "%.*s", (int)n, e);
    if (!strcmp(one, value) || (vb && parse_bool(one, &bl) == 0 && bl == bv) ||
        (!strcmp(one, "none") && is_null(value)))
      return 1;
    e += n + (bar ? 1 : 0);
    if (!bar) break;
  }
  return 0;
}

static int set_ignored(l1k_train_config *c, size_t i, const char *value, const char *where,
                       l1k_err *err) {
  const char *key = IGNORED[i].name;
  if (IGNORED[i].refuse_unless) {
    if (!in_list(IGNORED[i].refuse_unless, value))
      return l1k_errf(err, L1K_EUNSUPPORTED,
                      "%s: %s: '%s' is not supported (long1k train does only %s: %s)", where, key,
                      value, key, IGNORED[i].refuse_unless);
    return 0;
  }
  if (is_null(value) || in_list(IGNORED[i].same, value)) {
    l1k_debug("%s: %s: %s (what long1k does anyway)", where, key, value);
    return 0;
  }
  if (!(c->warned & (1ull << i))) l1k_warn("%s: %s: ignored; %s", where, key, IGNORED[i].why);
  c->warned |= 1ull << i;
  return 0;
}

static int set_value(l1k_train_config *c, const key_spec *k, const char *key, const char *value,
                     const char *where, l1k_err *err);

static int apply_recipe(l1k_train_config *c, const char *value, const char *where, l1k_err *err) {
  if (strcmp(value, "long1k") != 0)
    return l1k_errf(err, L1K_EINPUT, "%s: recipe: '%s' is not a recipe (known: long1k)", where, value);
  free(c->recipe);
  if (!(c->recipe = strdup(value))) return l1k_errf(err, L1K_ENOMEM, "out of memory");
  for (size_t r = 0; r < sizeof RECIPE_LONG1K / sizeof RECIPE_LONG1K[0]; r++)
    for (size_t i = 0; i < N_KEYS; i++)
      if (!strcmp(KEYS[i].name, RECIPE_LONG1K[r][0]) && !c->key_set[i]) {
        int rc = set_value(c, &KEYS[i], KEYS[i].name, RECIPE_LONG1K[r][1], where, err);
        if (rc) return rc;
      }
  return 0;
}

static int key_index(const char *key) {
  for (size_t i = 0; i < N_KEYS; i++)
    if (strcmp(KEYS[i].name, key) == 0) return (int)i;
  return -1;
}

int l1k_train_config_set(l1k_train_config *c, const char *key, const char *value,
                         const char *where, l1k_err *err) {
  if (!strcmp(key, "modules_to_save")) key = "additional_target"; /* PEFT's name */
  if (!strcmp(key, "packing")) {
    /* LLaMA-Factory's packing lets packed samples attend to each other; long1k always packs
     * with isolated attention (neat_packing), which gives each sample its unpacked loss */
    int b;
    if (parse_bool(value, &b))
      return l1k_errf(err, L1K_EINPUT, "%s: packing: expected true or false, got '%s'", where, value);
    if (b) c->neat_packing = 1;
    c->key_set[key_index("neat_packing")] |= b;
    return 0;
  }
  if (!strcmp(key, "recipe")) return apply_recipe(c, value, where, err);
  if (!strcmp(key, "interleave_probs") && !is_null(value))
    return l1k_errf(err, L1K_EUNSUPPORTED,
                    "%s: interleave_probs: interleaved mixing is not supported (datasets are "
                    "concatenated: mix_strategy: concat)",
                    where);
  int ki = key_index(key);
  if (ki < 0) {
    for (size_t i = 0; i < N_IGNORED; i++)
      if (strcmp(IGNORED[i].name, key) == 0) return set_ignored(c, i, value, where, err);
    if (!strcmp(key, "interleave_probs")) return 0;
    return l1k_errf(err, L1K_EINPUT, "%s: unknown key '%s' (see 'long1k train --help' for the keys)",
                    where, key);
  }
  int rc = set_value(c, &KEYS[ki], key, value, where, err);
  if (!rc) c->key_set[ki] = 1;
  if (!rc && !strcmp(key, "warmup_steps")) c->key_set[key_index("warmup_ratio")] = 1;
  return rc;
}

static int set_value(l1k_train_config *c, const key_spec *k, const char *key, const char *value,
                     const char *where, l1k_err *err) {
  void *p = (char *)c + k->off;
  char *end;
  if (!strcmp(key, "warmup_steps")) {
    /* transformers 5: a warmup_steps below 1 is a ratio */
    double d = strtod(value, &end);
    if (end != value && !*end && d > 0 && d < 1) {
      c->warmup_ratio = d;
      c->warmup_steps = 0;
      return 0;
    }
  }
  switch (k->type) {
  case T_STR: {
    char **s = p;
    free(*s);
    *s = NULL;
    if (is_null(value)) return 0;
    if (!(*s = strdup(value))) return l1k_errf(err, L1K_ENOMEM, "out of memory");
    return 0;
  }
  case T_ENUM: {
    const char *e = k->enums;
    size_t vl = strlen(value);
    while (*e) {
      const char *bar = strchr(e, '|');
      size_t n = bar ? (size_t)(bar - e) : strlen(e);
      if (n == vl && strncmp(e, value, n) == 0) {
        char **s = p;
        free(*s);
        *s = strdup(value);
        return *s ? 0 : l1k_errf(err, L1K_ENOMEM, "out of memory");
      }
      e += n + (bar ? 1 : 0);
      if (!bar) break;
    }
    return l1k_errf(err, L1K_EINPUT, "%s: %s: '%s' is not one of %s", where, key, value, k->enums);
  }
  case T_BOOL:
  case T_TRISTATE: {
    int b;
    if (k->type == T_TRISTATE && is_null(value)) return *(int *)p = -1, 0;
    if (parse_bool(value, &b))
      return l1k_errf(err, L1K_EINPUT, "%s: %s: expected true or false, got '%s'", where, key,
                      value);
    *(int *)p = b;
    return 0;
  }
  case T_INT: {
    errno = 0;
    double d = strtod(value, &end);
    if (end == value || *end || errno || d != floor(d) || !isfinite(d))
      return l1k_errf(err, L1K_EINPUT, "%s: %s: expected an integer, got '%s'", where, key, value);
    if (d < k->lo || d > k->hi)
      return l1k_errf(err, L1K_EINPUT, "%s: %s: %s is out of range [%.0f, %.0f]", where, key,
                      value, k->lo, k->hi);
    *(int64_t *)p = (int64_t)d;
    return 0;
  }
  case T_FLOAT: {
    errno = 0;
    double d = strtod(value, &end);
    if (end == value || *end || errno || !isfinite(d))
      return l1k_errf(err, L1K_EINPUT, "%s: %s: expected a number, got '%s'", where, key, value);
    if (d < k->lo || d > k->hi)
      return l1k_errf(err, L1K_EINPUT, "%s: %s: %s is out of range [%g, %g]", where, key, value,
                      k->lo, k->hi);
    *(double *)p = d;
    return 0;
  }
  }
  return l1k_errf(err, L1K_EINTERNAL, "config: bad key type");
}

int l1k_train_config_load_yaml(l1k_train_config *c, const char *path, l1k_err *err) {
  FILE *f = fopen(path, "rb");
  if (!f) return l1k_errf(err, L1K_EINPUT, "%s: cannot open: %s", path, strerror(errno));
  yaml_parser_t ps;
  yaml_parser_initialize(&ps);
  yaml_parser_set_input_file(&ps, f);
  int rc = 0, depth = 0, state = 0; /* state: 0 expect key, 1 expect value */
  char *key = NULL, where[4200];
  size_t key_line = 0;
  for (;;) {
    yaml_event_t ev;
    if (!yaml_parser_parse(&ps, &ev)) {
      rc = l1k_errf(err, L1K_EINPUT, "%s:%zu: invalid YAML: %s", path,
                    (size_t)ps.problem_mark.line + 1, ps.problem ? ps.problem : "syntax error");
      break;
    }
    size_t line = ev.start_mark.line + 1;
    int type = ev.type;
    if (type == YAML_STREAM_END_EVENT) {
      yaml_event_delete(&ev);
      break;
    }
    if (type == YAML_MAPPING_START_EVENT) {
      if (depth == 0) {
        depth = 1;
      } else {
        rc = l1k_errf(err, L1K_EINPUT, "%s:%zu: %s: expected a scalar value, got a mapping", path,
                      line, key ? key : "?");
      }
    } else if (type == YAML_SEQUENCE_START_EVENT) {
      if (depth == 1 && state == 1)
        rc = l1k_errf(err, L1K_EINPUT,
                      "%s:%zu: %s: expected a scalar value, got a list (write several datasets as "
                      "'a.jsonl,b.jsonl')",
                      path, line, key);
      else
        rc = l1k_errf(err, L1K_EINPUT, "%s:%zu: expected a mapping of key: value", path, line);
    } else if (type == YAML_SCALAR_EVENT) {
      const char *v = (const char *)ev.data.scalar.value;
      if (depth != 1) {
        rc = l1k_errf(err, L1K_EINPUT, "%s:%zu: expected a mapping of key: value", path, line);
      } else if (state == 0) {
        free(key);
        if (!(key = strdup(v))) {
          rc = l1k_errf(err, L1K_ENOMEM, "%s: out of memory", path);
          yaml_event_delete(&ev);
          break;
        }
        key_line = line;
        state = 1;
      } else {
        snprintf(where, sizeof where, "%s:%zu", path, key_line);
        rc = l1k_train_config_set(c, key, v, where, err);
        state = 0;
      }
    } else if (type == YAML_MAPPING_END_EVENT) {
      depth = 0;
    }
    yaml_event_delete(&ev);
    if (rc) break;
  }
  free(key);
  yaml_parser_delete(&ps);
  fclose(f);
  return rc;
}

static int file_exists_in(const char *dir, const char *name) {
  char *p = l1k_path_join(dir, name);
  int r = p && l1k_file_exists(p);
  free(p);
  return r;
}

/* Keys that long1k honours only in part: one warning line each, saying what differs. */
static void warn_partial_effects(const l1k_train_config *c) {
  /* device auto: the trainer warns once the backend is known (trainer.c attach_device) */
  if (c->gradient_checkpointing && c->device && !strcmp(c->device, "cpu"))
    l1k_warn("gradient_checkpointing: true has no effect on device cpu; the CPU trainer keeps all "
             "activations (same numbers, more memory); device cuda recomputes each layer");
  if (c->bf16)
    l1k_warn("bf16: true only saves checkpoints in bfloat16; compute, master weights and moments "
             "stay float32 on the CPU (LLaMA-Factory trains in bfloat16 mixed precision)");
  if (c->val_size > 0)
    l1k_warn("val_size: the held-out samples are drawn by long1k's seeded shuffle, not by "
             "datasets' train_test_split: same count, other samples than LLaMA-Factory's");
}

/* LoRA / freeze keys: what long1k runs, refused otherwise with one line. */
static int finish_adapter(l1k_train_config *c, l1k_err *err) {
  const char *ft = c->finetuning_type ? c->finetuning_type : "full";
  unsigned bits = 0;
  if (c->adapter_name_or_path && strcmp(ft, "lora"))
    return l1k_errf(err, L1K_EINPUT, "adapter_name_or_path: needs finetuning_type: lora (it is %s)",
                    ft);
  if (strcmp(ft, "lora")) return 0;
  if (c->lora_dropout >= 1)
    return l1k_errf(err, L1K_EINPUT, "lora_dropout: %g (expected 0 <= p < 1)", c->lora_dropout);
  if (c->lora_alpha <= 0) c->lora_alpha = 2.0 * (double)c->lora_rank; /* LLaMA-Factory */
  int rc = l1k_lora_parse_targets(c->lora_target ? c->lora_target : "all", "lora_target", &bits,
                                  err);
  if (!rc) rc = l1k_lora_parse_save(c->additional_target, "additional_target", &bits, err);
  return rc;
}

int l1k_train_config_finish(l1k_train_config *c, l1k_err *err) {
  if (!c->model_name_or_path)
    return l1k_errf(err, L1K_EINPUT, "model_name_or_path: required (a Hugging Face model directory)");
  if (!l1k_is_dir(c->model_name_or_path))
    return l1k_errf(err, L1K_EINPUT, "model_name_or_path: '%s' is not a directory",
                    c->model_name_or_path);
  if (!file_exists_in(c->model_name_or_path, "config.json"))
    return l1k_errf(err, L1K_EINPUT, "model_name_or_path: '%s' has no config.json",
                    c->model_name_or_path);
  if (!c->dataset) return l1k_errf(err, L1K_EINPUT, "dataset: required (JSONL path(s))");
  if (!c->output_dir) return l1k_errf(err, L1K_EINPUT, "output_dir: required");
  if (c->max_steps <= 0 && c->num_train_epochs <= 0)
    return l1k_errf(err, L1K_EINPUT, "num_train_epochs: must be > 0 when max_steps is not set");
  if (c->response_format && (!strstr(c->response_format, "{answer}")))
    return l1k_errf(err, L1K_EINPUT, "response_format: must contain {answer}");
  if (c->template_name) { /* a built-in or LLaMA-Factory template name */
    l1k_template tm = NULL;
    if (l1k_chat_template_by_name(c->template_name, &tm, err)) return l1k_err_prefix(err, "template");
    l1k_chat_template_free(tm);
  }
  if (c->mix_strategy && strcmp(c->mix_strategy, "concat") != 0)
    return l1k_errf(err, L1K_EUNSUPPORTED,
                    "mix_strategy: '%s' is not supported (long1k concatenates datasets in the order "
                    "given: concat)",
                    c->mix_strategy);
  warn_partial_effects(c);
  return finish_adapter(c, err);
}

char *l1k_train_config_dump(const l1k_train_config *c) {
  l1k_buf b = {0};
  for (size_t i = 0; i < N_KEYS; i++) {
    const key_spec *k = &KEYS[i];
    const void *p = (const char *)c + k->off;
    l1k_buf_printf(&b, "%s: ", k->name);
    switch (k->type) {
    case T_STR:
    case T_ENUM: {
      const char *s = *(char *const *)p;
      if (!s) l1k_buf_puts(&b, "null");
      else l1k_buf_json_string(&b, s, strlen(s));
      break;
    }
    case T_BOOL: l1k_buf_puts(&b, *(const int *)p ? "true" : "false"); break;
    case T_TRISTATE:
      l1k_buf_puts(&b, *(const int *)p < 0 ? "null" : *(const int *)p ? "true" : "false");
      break;
    case T_INT: l1k_buf_printf(&b, "%lld", (long long)*(const int64_t *)p); break;
    case T_FLOAT: l1k_buf_printf(&b, "%.17g", *(const double *)p); break;
    }
    l1k_buf_puts(&b, "\n");
  }
  return b.data;
}

void l1k_train_config_help(FILE *f) {
  for (size_t i = 0; i < N_KEYS; i++) {
    fprintf(f, "  %-28s %s", KEYS[i].name, KEYS[i].help);
    if (KEYS[i].enums) fprintf(f, ": %s", KEYS[i].enums);
    fprintf(f, " (default: %s)\n", KEYS[i].def);
  }
  fprintf(f, "  %-28s true = neat_packing (long1k never lets packed samples attend to each other)\n",
          "packing");
  fprintf(f, "  %-28s long1k: the paper's values for every key the config does not set:\n    ",
          "recipe");
  for (size_t r = 0; r < sizeof RECIPE_LONG1K / sizeof RECIPE_LONG1K[0]; r++)
    fprintf(f, "%s=%s%s", RECIPE_LONG1K[r][0], RECIPE_LONG1K[r][1],
            r + 1 < sizeof RECIPE_LONG1K / sizeof RECIPE_LONG1K[0] ? (r % 4 == 3 ? "\n    " : " ") : "\n");
  fprintf(f, "  accepted LLaMA-Factory keys (only=: other values refused; the others print a\n"
             "  warning when their value asks for something long1k does not do):");
  for (size_t i = 0; i < N_IGNORED; i++)
    fprintf(f, "%s%s%s%s", i % 5 == 0 ? "\n    " : " ", IGNORED[i].name,
            IGNORED[i].refuse_unless ? " only=" : "",
            IGNORED[i].refuse_unless ? IGNORED[i].refuse_unless : "");
  fprintf(f, "\n");
}
