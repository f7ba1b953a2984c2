/* long1k — parameter-efficient fine-tuning on a loaded model: LoRA adapters (saved and loaded in
 * PEFT's format) and freeze tuning (LLaMA-Factory's finetuning_type: freeze). Owned by the model
 * module (src/model/adapter*.c, src/backend/cpu/lora.c); docs/model.md, docs/DESIGN.md.
 *
 * An adapter gives the model a SECOND flat parameter space, the trainable one: its own tensor
 * table (PEFT names: "base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight", ...,
 * or the Hugging Face names of the tensors freeze tuning trains), float32 parameters, gradients
 * and AdamW moments. While an adapter is attached, the optimizer and gradient calls of model.h
 * (l1k_model_zero_grads, _optim_init, _step, _params_get/_set, _grads_get/_set, _optim_get/_set,
 * _grads_host, _optim_host) address that space, with offsets into l1k_model_trainable_tensors();
 * the base stays as loaded (float32 here), has no gradient buffer and no optimizer state.
 * l1k_model_params / _num_params / _tensors keep naming the base model.
 *
 * LoRA: y = x W^T (+ b) + scale * (x A^T) B^T for every target linear module, A [r, in],
 * B [out, r], scale = alpha / r (alpha / sqrt(r) with use_rslora), as PEFT's LoraLayer. With
 * lora_dropout p > 0, l1k_model_forward_backward (training) feeds each module's A the input
 * with elements dropped with probability p and the rest scaled by 1 / (1 - p), as nn.Dropout;
 * the mask of every element is a hash of the key set by l1k_model_lora_dropout_key, the layer,
 * the module and the element (deterministic for any thread count; not torch's stream).
 * l1k_model_forward (evaluation) never drops. */
#ifndef LONG1K_ADAPTER_H
#define LONG1K_ADAPTER_H

#include <stddef.h>
#include <stdint.h>

#include "long1k/error.h"
#include "long1k/model.h"

/* The linear modules of a decoder layer a LoRA can target (PEFT / LLaMA-Factory names). */
enum {
  L1K_LORA_Q = 0, L1K_LORA_K, L1K_LORA_V, L1K_LORA_O, L1K_LORA_GATE, L1K_LORA_UP, L1K_LORA_DOWN,
  L1K_LORA_NMOD
};
extern const char *const l1k_lora_module_names[L1K_LORA_NMOD]; /* "q_proj", ... "down_proj" */

typedef struct l1k_lora_opts {
  int rank;            /* r > 0 */
  double alpha;        /* lora_alpha (LLaMA-Factory's default: 2 x rank) */
  int use_rslora;      /* scale alpha / sqrt(r) instead of alpha / r */
  unsigned targets;    /* bit L1K_LORA_* per target module */
  unsigned save;       /* modules_to_save: bit 0 embed_tokens, bit 1 lm_head */
  double dropout;      /* lora_dropout p in [0, 1) */
} l1k_lora_opts;
#define L1K_SAVE_EMBED 1u
#define L1K_SAVE_LM_HEAD 2u

/* Parses lora_target ("all", or a comma list of module names) into *targets, and
 * additional_target / modules_to_save (comma list of embed_tokens, lm_head) into *save;
 * `what` names the setting in messages. Unknown names: one line, L1K_EINPUT. */
int l1k_lora_parse_targets(const char *text, const char *what, unsigned *targets, l1k_err *err);
int l1k_lora_parse_save(const char *text, const char *what, unsigned *save, l1k_err *err);

/* A new LoRA on model m, initialized as PEFT does: every lora_A Kaiming-uniform with a = sqrt(5)
 * (nn.Linear's default: U(-1/sqrt(in), 1/sqrt(in))), every lora_B zero, from `seed`
 * (deterministic; not torch's stream). modules_to_save start as copies of the base tensors. */
int l1k_model_lora_new(l1k_model *m, const l1k_lora_opts *o, uint64_t seed, l1k_err *err);
/* Loads a PEFT LoRA directory (adapter_config.json + adapter_model.safetensors) as the model's
 * trainable adapter. Settings long1k does not run (DoRA, bias, rank_pattern, fan_in_fan_out,
 * layers_to_transform, other peft_type, ...) and missing / extra / mis-shaped tensors are refused
 * with one line naming the file and the key or tensor. */
int l1k_model_lora_load(l1k_model *m, const char *dir, l1k_err *err);
/* Merges the attached LoRA into the base weights (W += scale * B A; modules_to_save copied in)
 * and detaches it: afterwards the model is a plain model again. No adapter: no-op. */
int l1k_model_adapter_merge(l1k_model *m, l1k_err *err);
/* Detaches the adapter without merging it (the base as loaded). No adapter: no-op. */
void l1k_model_adapter_detach(l1k_model *m);
/* Loads a PEFT directory and merges it at once (generate / eval --adapter, stacking). */
int l1k_model_lora_merge_dir(l1k_model *m, const char *dir, l1k_err *err);
/* Writes dir/adapter_model.safetensors (float32, PEFT's tensor names) and dir/adapter_config.json
 * (the keys PEFT 0.21 writes) of the attached LoRA; base_name names the base model in the config. */
int l1k_model_lora_save(l1k_model *m, const char *dir, const char *base_name, l1k_err *err);

/* Freeze tuning as LLaMA-Factory: trainable_layers N > 0 = the last N decoder layers, N < 0 =
 * the first |N|; modules "all" or a comma list of module names inside a layer (self_attn, mlp,
 * q_proj, ..., input_layernorm, post_attention_layernorm); extra = comma list of modules
 * outside the layers (embed_tokens, norm, lm_head) or NULL. Only those tensors get gradients and
 * optimizer state. */
int l1k_model_freeze(l1k_model *m, int trainable_layers, const char *modules, const char *extra,
                     l1k_err *err);

/* The dropout masks of the next l1k_model_forward_backward calls (the trainer sets one key per
 * micro-batch from the seed, the step and the micro-batch's first row). No-op without a LoRA. */
void l1k_model_lora_dropout_key(l1k_model *m, uint64_t key);

/* "none", "lora" or "freeze". */
const char *l1k_model_adapter_kind(const l1k_model *m);
/* The trainable flat space: the adapter's when one is attached, else the whole model's. */
size_t l1k_model_num_trainable(const l1k_model *m);
const l1k_tensor_info *l1k_model_trainable_tensors(const l1k_model *m, size_t *n);
/* Host float32 trainable parameters (CPU backend), NULL on a device backend. */
float *l1k_model_trainable_params(l1k_model *m);
/* Writes what a training run produces: a PEFT adapter directory (LoRA), or a full model
 * directory in dtype (freeze: the trained tensors written back first; no adapter: the model). */
int l1k_model_save_trained(l1k_model *m, const char *dir, const char *dtype,
                           const char *base_name, l1k_err *err);

#endif
