/* long1k — supervised fine-tuning (the Long1K recipe), configured like LLaMA-Factory.
 *
 *   l1k_train_config c;  l1k_train_config_default(&c);
 *   l1k_train_config_load_yaml(&c, "sft.yaml", &err);       // keys as LLaMA-Factory names them
 *   l1k_train_config_set(&c, "learning_rate", "2e-5", "--learning_rate", &err);
 *   l1k_train_config_finish(&c, &err);                      // checks cross-field rules
 *   l1k_train_run(&c, &result, &err);
 *   l1k_train_config_free(&c);
 *
 * Defaults are LLaMA-Factory's (and transformers' TrainingArguments' where LLaMA-Factory
 * defers to it): lr 5e-5, linear, no warmup, weight_decay 0, betas 0.9 / 0.999, clipping 1.0,
 * 3 epochs, batch 8 x accumulation 1, cutoff_len 2048, logging_steps 500, float32 checkpoints.
 * `recipe: long1k` sets the paper's values (lr 1e-5, cosine, warmup_ratio 0.05, weight_decay
 * 1e-4, betas 0.9 / 0.95, 5 epochs, batch 1 x accumulation 16, cutoff_len 32768, bf16,
 * logging_steps 1) for every key the configuration does not set itself. See docs/train.md.
 */
#ifndef LONG1K_TRAIN_H
#define LONG1K_TRAIN_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "long1k/error.h"

typedef struct l1k_train_config {
  /* model / data */
  char *model_name_or_path;
  char *tokenizer_name_or_path;   /* default: model_name_or_path */
  char *dataset;                  /* names in dataset_dir/dataset_info.json or paths, comma-separated */
  char *dataset_dir;              /* "data" (LLaMA-Factory's default) */
  char *mix_strategy;             /* "concat" (interleave_* refused) */
  char *template_name;            /* "template": qwen|qwen2.5|qwen3|llama3; NULL = detect */
  int64_t cutoff_len;
  int64_t max_samples;            /* 0 = all */
  char *formatting;               /* auto|openai|sharegpt|alpaca|fields|tokenized */
  char *question_field, *reasoning_field, *answer_field, *system_field;
  char *response_format;          /* "<think>\n{reasoning}\n</think>\n\n{answer}" */
  char *default_system;
  int enable_thinking;            /* -1 = template default */
  char *overlength;               /* drop|truncate */
  int skip_bad_records;
  char *tokenized_cache_dir;      /* default $XDG_CACHE_HOME/long1k or ~/.cache/long1k */
  int overwrite_cache;
  /* optimization */
  double learning_rate;
  double num_train_epochs;
  int64_t max_steps;              /* > 0 overrides num_train_epochs */
  int64_t per_device_train_batch_size;
  int64_t gradient_accumulation_steps;
  char *lr_scheduler_type;
  double warmup_ratio;
  int64_t warmup_steps;
  double weight_decay, adam_beta1, adam_beta2, adam_epsilon, max_grad_norm;
  int bf16;
  int64_t seed;
  int neat_packing;
  int group_by_length;
  int gradient_checkpointing;
  double val_size;                /* < 1: fraction, >= 1: number of samples */
  int64_t eval_steps;             /* 0: evaluate at the end only */
  /* output */
  char *output_dir;
  int64_t logging_steps;
  int64_t save_steps;             /* 0: only at the end */
  int64_t save_total_limit;       /* 0: keep all */
  char *resume_from_checkpoint;   /* NULL, "true" (latest) or a checkpoint directory */
  int64_t num_threads;            /* 0: OpenMP default */
  int64_t zero_stage;             /* 1: AdamW moments sharded across MPI ranks; 2: gradients too */
  int overwrite_output_dir;
  /* the backend (include/long1k/model.h l1k_model_attach) */
  char *device;                   /* auto|cpu|cuda */
  char *precision;                /* auto|fp32|bf16 (auto: cpu fp32, cuda bf16) */
  int deterministic;              /* device backends: same bits on every run */

  /* bookkeeping */
  char *recipe;                   /* "long1k" or NULL */
  unsigned char key_set[128];     /* key table index -> set by the config itself (not a recipe) */
  uint64_t warned;                /* LLaMA-Factory keys already warned about */
  /* parameter-efficient fine-tuning, LLaMA-Factory's keys (include/long1k/adapter.h) */
  char *finetuning_type;          /* full|lora|freeze (default full) */
  int64_t lora_rank;              /* 8 */
  double lora_alpha;              /* 0 = 2 x lora_rank */
  double lora_dropout;            /* 0; p < 1 */
  char *lora_target;              /* all | comma list of q_proj, ..., down_proj */
  int use_rslora;
  char *additional_target;        /* PEFT modules_to_save: embed_tokens, lm_head */
  int create_new_adapter;
  char *adapter_name_or_path;     /* comma list of PEFT adapters: merged, the last resumed */
  int64_t freeze_trainable_layers;   /* 2: the last 2 layers; < 0: the first |N| */
  char *freeze_trainable_modules;    /* all | self_attn, mlp, input_layernorm, ... */
  char *freeze_extra_modules;        /* embed_tokens, norm, lm_head */
  /* device backends: float32 master weights and AdamW moments in host memory, AdamW on the
   * CPU cores (ZeRO-Offload; the cpu backend's optimizer is in host memory anyway) */
  int optim_offload;
} l1k_train_config;

void l1k_train_config_default(l1k_train_config *c);
void l1k_train_config_free(l1k_train_config *c);
/* Sets one key from its text value. `where` names the place for messages ("sft.yaml:12" or
 * "--learning_rate"). Unknown key or bad value: L1K_EINPUT naming where, the key and what is
 * expected. Keys LLaMA-Factory has but that mean nothing here are accepted with a note (or
 * refused when their value asks for something long1k does not do, e.g. finetuning_type lora). */
int l1k_train_config_set(l1k_train_config *c, const char *key, const char *value,
                         const char *where, l1k_err *err);
/* A flat YAML mapping of scalars (LLaMA-Factory's format). */
int l1k_train_config_load_yaml(l1k_train_config *c, const char *path, l1k_err *err);
/* Required keys present, cross-field rules; fills derived defaults. */
int l1k_train_config_finish(l1k_train_config *c, l1k_err *err);
/* Writes the effective configuration as YAML text (malloc'ed). */
char *l1k_train_config_dump(const l1k_train_config *c);
/* Prints the key reference (name, default, meaning) for --help. */
void l1k_train_config_help(FILE *f);

typedef struct l1k_train_result {
  int64_t steps;              /* optimizer steps done in total */
  double last_loss;
  double eval_loss;           /* NaN when no val split */
  int64_t tokens;             /* tokens processed in this run */
  char last_checkpoint[4096];
} l1k_train_result;

int l1k_train_run(const l1k_train_config *c, l1k_train_result *res, l1k_err *err);

#endif
