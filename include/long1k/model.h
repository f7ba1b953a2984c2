/* long1k — transformer models (Qwen2 / Qwen2.5 / Qwen3 / Llama-3) in Hugging Face format.
 *
 * Contract used by train, eval, demo and the CLI. Owned by the model module (src/model,
 * src/backend). It may grow; these functions keep their meaning.
 *
 * Memory: all trainable parameters have ONE flat layout (l1k_model_tensors() names every
 * parameter with its offset and shape, Hugging Face names, e.g.
 * "model.layers.0.self_attn.q_proj.weight"), and gradients and AdamW moments use the same
 * layout, so that the optimizer, gradient clipping and MPI/NCCL all-reduce work on flat
 * arrays. WHERE they live is the backend's business (the seam, docs/DESIGN.md "The backend
 * seam"): the CPU backend keeps them in host float32 buffers; a device backend keeps them in
 * device memory. Callers reach them through l1k_model_params_get/set, grads_get/set,
 * optim_get/set (host copies, offsets in parameters of the flat layout) and run the optimizer
 * with l1k_model_step; the raw host pointers (l1k_model_params, l1k_model_grads,
 * l1k_model_grads_host) exist only on the CPU backend.
 *
 * Reusable CPU kernels (RMSNorm, RoPE tables, softmax, SiLU, sgemm wrappers) for other code in
 * the model library (e.g. generation) are declared in include/long1k/backend.h.
 */
#ifndef LONG1K_MODEL_H
#define LONG1K_MODEL_H

#include <stddef.h>
#include <stdint.h>
#include "long1k/error.h"

typedef struct l1k_model_config {
  char model_type[32];        /* "qwen2" | "qwen3" | "llama" */
  int vocab_size;
  int hidden_size;
  int intermediate_size;
  int num_hidden_layers;
  int num_attention_heads;
  int num_key_value_heads;
  int head_dim;               /* explicit or hidden_size / num_attention_heads */
  int max_position_embeddings;
  double rope_theta;
  double rms_norm_eps;
  int tie_word_embeddings;
  int attention_bias;         /* q/k/v bias (Qwen2: 1) */
  int qk_norm;                /* Qwen3 q_norm / k_norm */
  /* rope scaling: 0 = default, 1 = llama3 */
  int rope_type;
  double rope_factor, rope_low_freq_factor, rope_high_freq_factor;
  int rope_original_max_position;
  char torch_dtype[16];       /* "bfloat16", "float32", "float16" */
  int bos_token_id;
  int eos_token_ids[8];       /* from config.json and generation_config.json */
  int n_eos;
  /* additions (model module) */
  double initializer_range;   /* 0.02 default; used by init */
  int pad_token_id;           /* -1 when null / absent */
} l1k_model_config;

/* Reads DIR/config.json (transformers 4.x or 5.x spelling) and DIR/generation_config.json if
 * present. Unsupported settings are refused with a message naming the field. */
int l1k_config_load(const char *dir, l1k_model_config *cfg, l1k_err *err);
/* Same for one config.json file (generation_config.json next to it is read when present) and
 * for JSON text (`where` names the source in messages). */
int l1k_config_load_file(const char *path, l1k_model_config *cfg, l1k_err *err);
int l1k_config_parse(const char *json, const char *where, l1k_model_config *cfg, l1k_err *err);
/* Checks sizes and consistency (heads divide, head_dim even, ...). Called by the loaders. */
int l1k_config_validate(const l1k_model_config *cfg, const char *where, l1k_err *err);
/* config.json text in the transformers 4.x spelling (rope_theta, rope_scaling, torch_dtype)
 * with torch_dtype = dtype_name ("bfloat16" | "float32"); malloc'ed. And
 * generation_config.json text. */
char *l1k_config_to_json(const l1k_model_config *cfg, const char *dtype_name);
char *l1k_generation_config_to_json(const l1k_model_config *cfg);
/* Number of parameters a config implies (for sizing / reporting). */
size_t l1k_config_num_params(const l1k_model_config *cfg);

typedef struct l1k_tensor_info {
  char name[96];
  int ndim;
  int64_t shape[2];
  size_t offset;     /* in floats, into params / grads */
  size_t numel;
  int no_decay;      /* bias or norm weight: AdamW weight decay 0 (transformers' grouping) */
  char dtype[8];     /* where the backend keeps it: "F32" (CPU; CUDA float32 mode) or "BF16"
                        (CUDA bf16 mode: working copy; the float32 master stays in the
                        optimizer) */
} l1k_tensor_info;

typedef struct l1k_model l1k_model;

/* Loads a model directory (model.safetensors or model.safetensors.index.json shards; F32,
 * BF16 or F16) into float32 parameters. Missing / extra / mis-shaped tensors: error by name.
 * max_rows x max_seq sizes the activation arena for training (0,0 = inference only). */
l1k_model *l1k_model_load(const char *dir, l1k_err *err);
void l1k_model_free(l1k_model *m);
/* A model with the given config and parameters all zero (init fills them). */
l1k_model *l1k_model_create(const l1k_model_config *cfg, l1k_err *err);
/* Random initialization as transformers' _init_weights: every Linear and the embedding
 * ~ Normal(0, initializer_range) (the pad_token_id row of the embedding zeroed), RMSNorm
 * weights 1, biases 0. Deterministic for a seed (any thread count). */
void l1k_model_init_random(l1k_model *m, uint64_t seed);
/* The dtype the weights were stored in ("F32", "BF16", "F16"; the most common one). */
const char *l1k_model_stored_dtype(const l1k_model *m);
/* The rotary inverse frequencies [head_dim/2] this model uses: transformers' float32 values
 * (llama3 scaling applied), rounded to bf16 / f16 for a bf16 / f16 checkpoint, because
 * transformers casts its inv_freq buffer to the model dtype. Use these (not a fresh
 * l1k_rope_inv_freq) to match transformers on bf16 checkpoints. */
const float *l1k_model_inv_freq(const l1k_model *m);
/* Looks up a parameter by Hugging Face name (NULL if absent). */
const l1k_tensor_info *l1k_model_tensor(const l1k_model *m, const char *name);
const l1k_model_config *l1k_model_cfg(const l1k_model *m);

/* Flat float32 host parameters / gradients (gradients allocated on first use) on the CPU
 * backend, which computes on them in place; NULL on a device backend (use the _get / _set
 * copies below). The CPU generator and l1k_model_save read the host parameters. */
float *l1k_model_params(l1k_model *m);
float *l1k_model_grads(l1k_model *m);
size_t l1k_model_num_params(const l1k_model *m);
const l1k_tensor_info *l1k_model_tensors(const l1k_model *m, size_t *n);

/* A batch of B rows of T tokens. Several documents may be packed in one row: pos[] restarts
 * at 0 for each document and attention never crosses into another document (doc boundaries
 * are where pos restarts, or given explicitly by doc[]). labels[] are the targets already
 * aligned to inputs as Hugging Face gives them (labels[i] is the token at i; the loss at
 * position i predicts labels[i+1] of the same document); -100 = ignored. Padding: ids 0,
 * labels -100, and its own doc id. */
typedef struct l1k_batch {
  int B, T;
  const int32_t *ids;     /* [B*T] */
  const int32_t *labels;  /* [B*T] */
  const int32_t *pos;     /* [B*T] position ids, or NULL = 0..T-1 in each row */
  const int32_t *doc;     /* [B*T] document id per token, or NULL = derived from pos */
} l1k_batch;

/* Sets the activation arena for batches up to B x T (allocated once; no allocation during
 * steps). Called automatically with the first batch's size if not called. */
int l1k_model_reserve(l1k_model *m, int B, int T, l1k_err *err);

/* Forward only. logits (optional, [B*T*vocab]) receive the float32 logits. *loss_sum gets the
 * sum of cross-entropy over target positions and *n_targets their count. */
int l1k_model_forward(l1k_model *m, const l1k_batch *b, float *logits, double *loss_sum,
                      int64_t *n_targets, l1k_err *err);

/* Forward + backward. ADDS d(grad_scale * loss_sum)/d(params) into grads (call
 * l1k_model_zero_grads before a new optimizer step). With grad_scale = 1 / (number of target
 * tokens in the whole optimizer step, across micro-batches and ranks) this is transformers'
 * loss normalization. */
int l1k_model_forward_backward(l1k_model *m, const l1k_batch *b, double grad_scale,
                               double *loss_sum, int64_t *n_targets, l1k_err *err);
void l1k_model_zero_grads(l1k_model *m);
/* Number of target positions of a batch (labels[i+1] != -100 within the same document):
 * the denominator of transformers' mean loss. Returns -1 and sets err on invalid labels. */
int64_t l1k_batch_count_targets(const l1k_batch *b, l1k_err *err);

/* ---- the backend seam (src/backend/ops.h; docs/DESIGN.md "The backend seam") ---------------
 *
 * A model runs on one backend. l1k_model_load / l1k_model_create attach the CPU backend, so
 * callers that never call l1k_model_attach run on the CPU as before. */

typedef enum l1k_device_precision {
  L1K_DEVICE_PREC_DEFAULT = 0, /* the backend's default: cpu float32, cuda bf16 */
  L1K_DEVICE_PREC_FP32 = 1,    /* float32 everywhere (parity mode) */
  L1K_DEVICE_PREC_BF16 = 2,    /* bf16 weights and activations, float32 accumulation and master
                                  weights (device backends; the cpu backend refuses it) */
} l1k_device_precision;

typedef struct l1k_device_opts {
  l1k_device_precision precision;
  int deterministic;  /* same bits on every run (device backends; the CPU always is) */
  int recompute;      /* per-layer activation recomputation (device backends) */
  int device_index;   /* which GPU */
  const char *what;   /* how the user named the setting, for messages ("--device", "device");
                         NULL = "device" */
  int inference_only; /* generation / evaluation only (device backends): no gradients, and in
                         the bf16 mode no float32 weights but what the forward reads; the
                         training entries then refuse */
} l1k_device_opts;

/* Moves the model onto backend `device`: "cpu", "cuda", or "auto" (NULL too) = cuda when a GPU
 * and the CUDA backend are present, else cpu (one info line says so when auto picks cuda).
 * o may be NULL (defaults). An unknown name, a backend absent from this build or without a
 * device, or a precision the backend lacks: one line naming the setting, L1K_EINPUT (the
 * model stays on its previous backend). Call it after loading, before reserve / training;
 * gradients and optimizer state are not carried over. */
int l1k_model_attach(l1k_model *m, const char *device, const l1k_device_opts *o, l1k_err *err);
/* The backend the model runs on: "cpu" or "cuda". */
const char *l1k_model_device(const l1k_model *m);
/* Checks a device name without a model: resolves "auto" and reports, as l1k_model_attach
 * would, why a named backend cannot run here. *resolved (optional) gets "cpu" or "cuda". */
int l1k_device_check(const char *device, const char *what, const char **resolved, l1k_err *err);

/* AdamW (include/long1k/optim.h arithmetic, transformers' no-decay grouping from the tensor
 * table) for parameters [lo, hi) (ZeRO-1 shard; 0, n_params for all): zeroed moments, step 0. */
int l1k_model_optim_init(l1k_model *m, double beta1, double beta2, double eps,
                         double weight_decay, size_t lo, size_t hi, l1k_err *err);
/* One optimizer step in the backend: *grad_norm (optional) = the global L2 norm of ALL
 * gradients as they are (sum over ranks first); if finite, clip to max_grad_norm (0 = no
 * clipping; torch's clip_grad_norm_) and run AdamW with lr on [lo, hi), which must be the
 * range given to l1k_model_optim_init. A non-finite norm leaves parameters and moments
 * untouched (returns 0; the caller decides). */
int l1k_model_step(l1k_model *m, double lr, double max_grad_norm, size_t lo, size_t hi,
                   double *grad_norm, l1k_err *err);
/* optim_offload: on = the float32 master weights and AdamW moments of the optimizer's range
 * live in host memory and AdamW runs on the CPU cores (device backends; call before
 * l1k_model_optim_init). Returns 0, 1 when the backend's optimizer is in host memory anyway
 * (cpu), or an error code. */
int l1k_model_optim_offload(l1k_model *m, int on, l1k_err *err);
/* Data parallelism inside a device backend (CUDA: NCCL; src/backend/ops.h). dp_id (rank 0)
 * writes the communicator id (L1K_DP_ID_BYTES) the trainer broadcasts over MPI; dp_init joins
 * the world with it. Both return 1 when the backend has none (cpu: the trainer all-reduces
 * host gradients). dp_reduce: the gradients summed over the ranks, all of them (shard NULL),
 * or ZeRO-2's reduce-scatter, each rank keeping its shard [shard[rank], shard[rank+1]) and
 * its sum of squares; dp_gather: every rank's parameter shard to all. */
#define L1K_DP_ID_BYTES 128
int l1k_model_dp_id(l1k_model *m, void *id, l1k_err *err);
int l1k_model_dp_init(l1k_model *m, const void *id, int rank, int world, l1k_err *err);
int l1k_model_dp_reduce(l1k_model *m, const size_t *shard, size_t bucket, double *shard_sumsq,
                        l1k_err *err);
int l1k_model_dp_gather(l1k_model *m, const size_t *shard, size_t bucket, l1k_err *err);
/* The same step when the caller already knows the global gradient norm (ZeRO-2: the
 * gradients were reduce-scattered, so only [lo, hi) holds the summed gradients; the norm is
 * the square root of the ranks' summed shard sums of squares): clips and updates [lo, hi)
 * only, with `norm` as the norm; a non-finite norm changes nothing. */
int l1k_model_step_normed(l1k_model *m, double lr, double max_grad_norm, size_t lo, size_t hi,
                          double norm, l1k_err *err);
/* Host copies of n values from flat offset lo (checkpoints, parity, broadcasts). */
int l1k_model_params_get(l1k_model *m, float *dst, size_t lo, size_t n, l1k_err *err);
int l1k_model_params_set(l1k_model *m, const float *src, size_t lo, size_t n, l1k_err *err);
int l1k_model_grads_get(l1k_model *m, float *dst, size_t lo, size_t n, l1k_err *err);
int l1k_model_grads_set(l1k_model *m, const float *src, size_t lo, size_t n, l1k_err *err);
/* The AdamW moments of the optimizer's range [lo, hi) (hi - lo floats each) and its step
 * counter. On the CPU backend m1 / m2 may be NULL (the step counter alone). */
int l1k_model_optim_get(l1k_model *m, float *m1, float *m2, int64_t *step, l1k_err *err);
int l1k_model_optim_set(l1k_model *m, const float *m1, const float *m2, int64_t step,
                        l1k_err *err);
/* The host gradient buffer that the MPI all-reduce sums in place (CPU backend; allocated on
 * first use), or NULL on a device backend (which reduces its gradients itself). */
float *l1k_model_grads_host(l1k_model *m);
/* The AdamW moments of the optimizer's range in host memory (CPU backend, after
 * l1k_model_optim_init): *m1, *m2 point at hi - lo floats each, read and written in place by
 * checkpoints. Returns 0, or 1 when they are not in host memory (device backend, or no
 * optimizer yet): use l1k_model_optim_get / _set. */
int l1k_model_optim_host(l1k_model *m, float **m1, float **m2);
/* Bytes free now and in all on the device the model is attached to. Returns 0, 1 when the
 * backend computes in host memory (cpu: nothing to plan), or an error code with err set. */
int l1k_model_mem_info(l1k_model *m, uint64_t *free_b, uint64_t *total_b, l1k_err *err);
/* The device's name as its driver gives it ("NVIDIA H200"); returns 1 (name untouched) for the
 * CPU backend or when the device does not say. */
int l1k_model_device_name(l1k_model *m, char *name, size_t name_len);

/* Writes a Hugging Face model directory: config.json, generation_config.json and
 * model.safetensors in dtype "f32" | "bf16" (each file atomically), or shards and an index
 * above 5 GB in transformers' layout (l1k_model_save_sharded). Tokenizer files are the
 * caller's. */
int l1k_model_save(const l1k_model *m, const char *dir, const char *dtype, l1k_err *err);
/* The same, with the weights split as transformers' save_pretrained(max_shard_size=...)
 * splits them (l1k_st_write_sharded in safetensors.h): model-00001-of-0000N.safetensors and
 * model.safetensors.index.json when they exceed max_shard_size bytes, else one
 * model.safetensors. max_shard_size 0 = 5 GB (5e9 bytes: the Hub's shard size and
 * transformers 4.x's default; 5.x defaults to 50 GB), which l1k_model_save uses. */
int l1k_model_save_sharded(const l1k_model *m, const char *dir, const char *dtype,
                           uint64_t max_shard_size, l1k_err *err);

#endif
