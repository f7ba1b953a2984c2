/* long1k — GPU memory planning for training (issue 14, item 2).
 *
 * Before the first GPU step (and in `long1k plan`, with no GPU at all) the planner adds up the
 * device bytes a training run will hold: weights, gradients, optimizer state, activations at T
 * tokens per micro-batch, the chunk of the fused lm_head + cross-entropy, and the cuBLASLt
 * workspace; and finds the largest T that fits a given amount of free device memory.
 * docs/gpu-memory.md writes down every tensor and assumption; the per-layer activations are
 * the list of struct layer_acts (src/model/model_internal.h) as the CUDA backend keeps it, in bf16
 * (2 bytes) or float32, with the row statistics (rstd, log-sum-exp) always float32.
 *
 * These are PLANNED sizes, not measured ones: a sum over everything alive at the peak (the
 * backward of the first layer), not an allocator trace.
 */
#ifndef LONG1K_MEMPLAN_H
#define LONG1K_MEMPLAN_H

#include <stddef.h>
#include <stdint.h>

#include "long1k/error.h"
#include "long1k/model.h"

#define L1K_MEMPLAN_CHUNK_ROWS 4096                  /* lm_head + CE rows at once (default) */
#define L1K_MEMPLAN_WORKSPACE ((uint64_t)32 << 20)   /* cuBLASLt workspace: 32 MiB (Hopper) */
#define L1K_MEMPLAN_RESERVE ((uint64_t)1 << 30)      /* CUDA context, NCCL, allocator: 1 GiB */
#define L1K_MEMPLAN_MAX_T ((int64_t)1 << 28)         /* the largest T the search considers */

typedef struct l1k_memplan_opts {
  int bf16;           /* 1: bf16 working weights (+ bf16 activations) beside float32
                         gradients, master and moments; 0: float32 everything (the weights
                         are the master) */
  int offload;        /* float32 master weights and AdamW moments in host memory (bf16 on
                         one rank: no float32 parameters on the device but the embedding and
                         the 1-D tensors, src/backend/cuda/hostmaster.h)
                         (optim_offload: true; AdamW on the CPU cores) */
  int zero;           /* 0, 1 (optimizer state sharded) or 2 (gradients too) */
  int world;          /* data-parallel ranks (>= 1) */
  int recompute;      /* per-layer activation recomputation (gradient_checkpointing) */
  int64_t chunk_rows; /* lm_head rows per chunk; 0 = L1K_MEMPLAN_CHUNK_ROWS */
  uint64_t workspace; /* 0 = L1K_MEMPLAN_WORKSPACE */
  uint64_t trainable; /* LoRA / freeze: parameters of the adapter's trainable space (float32
                         master, gradients, moments, bf16 copy in bf16); the base then has no
                         gradients or optimizer state. 0 = every parameter trains */
} l1k_memplan_opts;

typedef struct l1k_memplan {
  int64_t T;                 /* tokens per micro-batch */
  uint64_t n_params;         /* unique parameters (the tied lm_head once) */
  uint64_t n_shard;          /* parameters whose optimizer state (and, ZeRO-2, gradients) this
                                rank keeps: ceil(n_params / world), or n_params */
  /* device bytes */
  /* model states as the CUDA backend holds them (exact for one rank: tests/cuda/
   * test_cuda_hostmaster.c compares them with the emulated device's allocations) */
  uint64_t weights;          /* working weights (bf16, or float32), whole model on every rank;
                                bf16 + offload on one rank: + the float32 embedding and 1-D
                                tensors */
  uint64_t grads;            /* float32 gradients of every parameter (+ the ZeRO-2 bucket) */
  uint64_t optimizer;        /* on the device: the float32 parameters in the bf16 mode (the
                                master; kept with offload over several ranks) + the shard's
                                moments (0 with offload) */
  uint64_t act_layers;       /* bf16/f32 activations of the layers kept for the backward */
  uint64_t act_backward;     /* activation gradients of the layer being differentiated */
  uint64_t act_model;        /* final norm, RoPE tables, token ids and indices */
  uint64_t lm_chunk;         /* float32 logits chunk (gradient in place) + its input rows */
  uint64_t activations;      /* act_layers + act_backward + act_model + lm_chunk */
  uint64_t workspace;
  uint64_t total;            /* weights + grads + optimizer + activations + workspace */
  /* host bytes (offload): master + moments and the float32 gradient copy AdamW reads */
  uint64_t host;
  /* per-token bytes, for the docs and --json */
  uint64_t layer_per_token;      /* one layer's layer_acts */
  uint64_t checkpoint_per_token; /* one layer's checkpoint (x) */
} l1k_memplan;

/* Fills p for cfg at T tokens. Refuses T < 1, zero not in {0,1,2}, world < 1, chunk < 1,
 * or sizes that overflow 64 bits (one line naming the option). */
int l1k_memplan_compute(const l1k_model_config *cfg, int64_t T, const l1k_memplan_opts *o,
                        l1k_memplan *p, l1k_err *err);
/* Bytes of the model states alone for P parameters (weights + gradients + optimizer on the
 * device), the ZeRO paper's arithmetic (a reference: l1k_memplan_compute counts what the CUDA
 * backend holds, float32 gradients and an unsharded float32 copy included): 2P + 2P + 12P at stage 0 in bf16, 2P + 2P + 12P/W at
 * stage 1, 2P + (2P + 12P)/W at stage 2 (+ the bucket given). */
uint64_t l1k_memplan_states(uint64_t P, const l1k_memplan_opts *o, uint64_t zero2_bucket);
/* The largest T whose plan fits in free_bytes (0 if not even T = 1 fits), by bisection; the
 * total grows with T. Returns -1 on bad options (err set). */
int64_t l1k_memplan_max_T(const l1k_model_config *cfg, const l1k_memplan_opts *o,
                          uint64_t free_bytes, l1k_err *err);
/* Plans T and checks it against free_bytes. When it does not fit: L1K_EINPUT and one line
 * naming what is needed, what is free, the largest T that fits and what --recompute /
 * --offload would allow when they are off. */
int l1k_memplan_check(const l1k_model_config *cfg, int64_t T, const l1k_memplan_opts *o,
                      uint64_t free_bytes, l1k_memplan *p, l1k_err *err);
/* "weights 2.87 GiB, optimizer 17.25 GiB, activations 9.41 GiB at 32768 tokens (gradients
 * 2.87 GiB, workspace 0.03 GiB): 32.44 GiB of 139.40 GiB free" — the line printed before the
 * first step. free_bytes 0 leaves out the last part. */
void l1k_memplan_line(const l1k_memplan *p, uint64_t free_bytes, char *buf, size_t len);

/* "141GiB", "80 GB", "512MiB", "1073741824": binary units KiB MiB GiB TiB, decimal units
 * KB MB GB TB (as transformers' max_shard_size), or plain bytes. */
int l1k_parse_bytes(const char *s, uint64_t *out, const char *what, l1k_err *err);
/* "32768", "32k" (k = 1024 tokens), "1M" (1024 k). */
int l1k_parse_tokens(const char *s, int64_t *out, const char *what, l1k_err *err);

#endif
