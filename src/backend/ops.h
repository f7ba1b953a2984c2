/* long1k — the backend seam: one table of operations per device, private to the model library.
 *
 * The seam is drawn at the granularity of llm.c's per-backend functions (forward, backward,
 * update), not at single kernels: the CPU backend keeps its fused OpenMP loops and its lm_head
 * kernel unchanged, and the CUDA backend is free to fuse (flash attention, chunked lm_head +
 * cross-entropy, recomputation) without the other side knowing. Kernels inside a backend follow
 * llm.c's rule instead: one launcher per op, forward and backward side by side, each checked
 * against the CPU backend's function of the same name.
 *
 * Ownership. The model (struct l1k_model, src/model/model_internal.h) keeps what every backend shares:
 * the config, the tensor table (names, shapes, offsets into the flat layout, no-decay flags,
 * storage dtype), the rotary inverse frequencies, and a host float32 copy of the parameters as
 * loaded (the CPU backend trains that copy in place; a device backend may drop it after
 * attach() and recreate it in params_get). Gradients and AdamW state live where the backend
 * keeps them: callers outside the model library see them only through l1k_model_* calls
 * (include/long1k/model.h), never as raw pointers, except the CPU backend's host gradient
 * buffer that the MPI all-reduce still uses (grads_host; NULL on a device backend, which
 * reduces with NCCL itself).
 *
 * Offsets and counts below are in parameters of the flat layout (l1k_tensor_info.offset).
 * Every entry returns 0 or an L1K_E* code with err set; none aborts.
 */
#ifndef LONG1K_BACKEND_OPS_H
#define LONG1K_BACKEND_OPS_H

#include <stddef.h>
#include <stdint.h>

#include "long1k/error.h"
#include "long1k/model.h"

/* Numeric mode of a device backend. The CPU backend is always float32. */
typedef enum l1k_precision {
  L1K_PREC_F32 = 0,  /* float32 weights, activations and products (parity mode; no TF32) */
  L1K_PREC_BF16 = 1, /* bf16 weights and activations, float32 accumulation, float32 master
                        weights and AdamW moments */
} l1k_precision;

/* What a device backend is asked to do when it attaches to a model. */
typedef struct l1k_backend_opts {
  l1k_precision precision;
  int deterministic;      /* same bits on every run (no atomics whose order varies) */
  int recompute;          /* per-layer activation recomputation (gradient_checkpointing) */
  int device_index;       /* which GPU (CUDA_VISIBLE_DEVICES applies first) */
  int inference_only;     /* (appended) forward / generation only: no gradient buffer; bf16 mode:
                             no float32 parameters but what the forward reads (CUDA:
                             hostmaster.h); forward_backward, zero_grads, optim_init, step and
                             the gradient copies refuse */
} l1k_backend_opts;

/* One AdamW + clipping step, torch.optim.AdamW with transformers' grouping (include/long1k/
 * optim.h states the arithmetic). The backend updates parameters [lo, hi) only (ZeRO-1 shard;
 * 0, n_params for all); the global gradient norm is over ALL parameters' gradients as they
 * are when step() is called (already summed over ranks by the caller or by the backend). */
typedef struct l1k_step_args {
  double lr;
  double max_grad_norm;   /* 0 = no clipping */
  size_t lo, hi;
  /* ZeRO-2 (appended): the caller computed the global norm (the gradients were reduce-
   * scattered, so only [lo, hi) holds summed gradients): the backend uses `norm` and clips
   * and updates [lo, hi) only. 0: the backend computes the norm over all gradients. */
  int norm_given;
  double norm;
} l1k_step_args;

/* The paged KV cache of a device backend's generation entries (below): opaque, backend-owned. */
struct l1k_kv_cache;
typedef struct l1k_kv_stats {
  int block_size;     /* positions per block */
  int n_blocks;       /* blocks in the pool */
  int used_blocks;    /* held by sequences now */
  int peak_blocks;    /* most ever held at once */
  int max_seqs, max_ctx;
  uint64_t pool_bytes; /* device bytes of the pool (K and V of every layer) */
  const char *dtype;  /* "F32" | "BF16" */
} l1k_kv_stats;

typedef struct l1k_backend_ops {
  const char *name; /* "cpu" | "cuda" */

  /* 1 when this backend can run in this process; else 0 and why[] holds one line
   * ("long1k was built without the CUDA backend (no nvcc at build time)", "no CUDA device"). */
  int (*available)(char *why, size_t why_len);

  /* Takes over a loaded (or created) model: m->params holds float32 host parameters. Moves or
   * copies them where the backend keeps them and records the storage dtype in each tensor's
   * l1k_tensor_info.dtype. */
  int (*attach)(l1k_model *m, const l1k_backend_opts *o, l1k_err *err);
  void (*detach)(l1k_model *m);

  /* Activation memory for batches up to B x T (planned once; no allocation during steps). */
  int (*reserve)(l1k_model *m, int B, int T, l1k_err *err);

  /* Same contracts as l1k_model_forward / l1k_model_forward_backward (model.h); logits, when
   * not NULL, is a HOST float32 buffer [B*T*vocab]. */
  int (*forward)(l1k_model *m, const l1k_batch *b, float *logits, double *loss_sum,
                 int64_t *n_targets, l1k_err *err);
  int (*forward_backward)(l1k_model *m, const l1k_batch *b, double grad_scale, double *loss_sum,
                          int64_t *n_targets, l1k_err *err);
  int (*zero_grads)(l1k_model *m, l1k_err *err);

  /* AdamW state for parameters [lo, hi) (float32 moments), zeroed; step counter 0. */
  int (*optim_init)(l1k_model *m, double beta1, double beta2, double eps, double weight_decay,
                    size_t lo, size_t hi, l1k_err *err);
  /* Global gradient norm (before clipping) -> *grad_norm; if finite, clip and run AdamW on
   * [a->lo, a->hi). A non-finite norm leaves parameters and state untouched. */
  int (*step)(l1k_model *m, const l1k_step_args *a, double *grad_norm, l1k_err *err);

  /* Host copies (checkpoints, parity, ZeRO broadcasts): n parameters from offset lo. */
  int (*params_get)(l1k_model *m, float *dst, size_t lo, size_t n, l1k_err *err);
  int (*params_set)(l1k_model *m, const float *src, size_t lo, size_t n, l1k_err *err);
  int (*grads_get)(l1k_model *m, float *dst, size_t lo, size_t n, l1k_err *err);
  int (*grads_set)(l1k_model *m, const float *src, size_t lo, size_t n, l1k_err *err);
  /* AdamW moments of the backend's shard [lo, hi) and its step counter (checkpoints). */
  int (*optim_get)(l1k_model *m, float *m1, float *m2, int64_t *step, l1k_err *err);
  int (*optim_set)(l1k_model *m, const float *m1, const float *m2, int64_t step, l1k_err *err);

  /* The host gradient buffer when gradients live in host memory (CPU backend), else NULL. */
  float *(*grads_host)(l1k_model *m);

  /* ---- added after the first version of the table; a backend may leave these NULL ---- */

  /* The AdamW moments of the backend's range [lo, hi) when they live in host memory (CPU
   * backend): *m1, *m2 point at hi - lo floats each (checkpoints write and read them in place,
   * without a second copy of both moments). NULL entry, or 1 returned: not in host memory
   * (callers use optim_get / optim_set). */
  int (*optim_host)(l1k_model *m, float **m1, float **m2);

  /* Device memory of the attached model's device: bytes free now and in all. NULL entry:
   * host memory (nothing to plan against). The trainer plans a run against total_b before
   * its first step (include/long1k/memplan.h). */
  int (*mem_info)(l1k_model *m, uint64_t *free_b, uint64_t *total_b, l1k_err *err);

  /* optim_offload (call before optim_init): on = float32 master weights and AdamW moments of
   * the optimizer's range in host memory, AdamW on the CPU cores (src/backend/cpu/optim.c),
   * gradients copied down and parameters up each step. NULL entry: the optimizer already
   * lives in host memory (cpu). */
  int (*optim_offload)(l1k_model *m, int on, l1k_err *err);

  /* Data parallelism inside the backend (CUDA: NCCL, src/backend/cuda/nccl.h); NULL entries:
   * the trainer reduces host gradients over MPI itself (cpu). dp_id (rank 0) makes the
   * communicator's id (L1K_DP_ID_BYTES), which the trainer broadcasts; dp_init joins it.
   * dp_reduce sums the gradients over the ranks: all of them (shard NULL), or ZeRO-2's
   * reduce-scatter (shard[world + 1], src/backend/zero_plan.h; bucket values per rank, 0 =
   * one bucket) leaving each rank its shard's sums and their sum of squares in *shard_sumsq.
   * dp_gather shares every rank's updated parameter shard with all. */
  int (*dp_id)(l1k_model *m, void *id, l1k_err *err);
  int (*dp_init)(l1k_model *m, const void *id, int rank, int world, l1k_err *err);
  int (*dp_reduce)(l1k_model *m, const size_t *shard, size_t bucket, double *shard_sumsq,
                   l1k_err *err);
  int (*dp_gather)(l1k_model *m, const size_t *shard, size_t bucket, l1k_err *err);
  /* ---- generation (issue 15; docs/DESIGN.md "How generation fits"). NULL on a backend
   * without them (the CPU: its generator, src/model/generate*.c, is an engine of its own that
   * reads the host weights). A paged KV cache owned by the backend: one pool of fixed-size
   * blocks of block_size positions (every layer's K and V of those positions), a block table
   * per sequence slot. Slots 0 .. max_seqs-1 hold one sequence each; a slot's length grows by
   * prefill / decode, its blocks are taken from the pool by kv_reserve (never by prefill or
   * decode, which refuse a position beyond what was reserved), so memory never exceeds the
   * pool and running out shows at admission, not in the middle of a step. */

  /* Creates the cache for up to max_seqs sequences of up to max_ctx positions. budget_bytes
   * sizes the pool (0: from the device's free memory, leaving room for the step buffers);
   * block_size 0 = the backend's default. Also plans the step buffers: nothing is allocated
   * in prefill / decode. */
  int (*kv_create)(l1k_model *m, int max_seqs, int max_ctx, int block_size, uint64_t budget_bytes,
                   struct l1k_kv_cache **kv, l1k_err *err);
  void (*kv_free)(l1k_model *m, struct l1k_kv_cache *kv);
  void (*kv_stats)(const struct l1k_kv_cache *kv, struct l1k_kv_stats *st);
  /* Gives slot seq blocks for n_tokens positions in all (keeping what it has). Returns 0, or
   * 1 with nothing taken when the pool has too few free blocks now (the caller waits for a
   * sequence to finish), or an L1K_E* code. */
  int (*kv_reserve)(l1k_model *m, struct l1k_kv_cache *kv, int seq, int n_tokens, l1k_err *err);
  /* Empties slot seq: length 0, its blocks back to the pool. */
  void (*kv_release)(l1k_model *m, struct l1k_kv_cache *kv, int seq);
  /* Slot dst (empty, with blocks reserved for >= n positions) gets positions [0, n) of src. */
  int (*kv_copy)(l1k_model *m, struct l1k_kv_cache *kv, int dst, int src, int n, l1k_err *err);
  /* Prefill: count sequences seqs[i] take n[i] tokens ids[i] at positions len .. len+n[i]-1
   * (len: what the slot holds), many prompts in one pass where they fit, documents isolated;
   * logits[count, vocab] (host float32) receive each sequence's last fed position. */
  int (*prefill)(l1k_model *m, struct l1k_kv_cache *kv, const int *seqs, const int32_t *const *ids,
                 const int *n, int count, float *logits, l1k_err *err);
  /* One decode step: sequence seqs[i] (distinct) takes token ids[i]; logits[n, vocab] (host
   * float32) receive the next-token logits. */
  int (*decode)(l1k_model *m, struct l1k_kv_cache *kv, const int *seqs, const int32_t *ids, int n,
                float *logits, l1k_err *err);
  /* decode for greedy sequences: tokens[n] receive each row's argmax (l1k_argmax's: the lowest
   * id among equal maxima) instead of the logits. NULL: not offered (decode + l1k_argmax). */
  int (*decode_greedy)(l1k_model *m, struct l1k_kv_cache *kv, const int *seqs, const int32_t *ids,
                       int n, int32_t *tokens, l1k_err *err);

  /* The attached model's device as its driver names it ("NVIDIA H200"): the training progress
   * line's MFU looks its peak up by name (include/long1k/flops.h). NULL entry: the host CPU. */
  int (*device_name)(l1k_model *m, char *name, size_t name_len);
} l1k_backend_ops;

/* The backends compiled into this binary. l1k_backend_cuda_ops is always defined: without
 * nvcc at build time its available() says so and every other entry is NULL. */
extern const l1k_backend_ops l1k_backend_cpu_ops;
extern const l1k_backend_ops l1k_backend_cuda_ops;

#endif
