/* long1k — optim_offload in the bf16 mode without float32 parameters on the device (issue 14,
 * memory; docs/gpu.md "Memory layout"). Private to src/backend/cuda.
 *
 * When optim_init asks for optim_offload over the whole model in the bf16 mode (no adapter, no
 * NCCL; LONG1K_OFFLOAD_DEVICE_PARAMS=1 keeps the older arrangement), the backend gives up its
 * float32 device parameters (4 B/param): the host master (pinned, the model's flat layout) is
 * then the only float32 copy of every parameter. The device keeps
 *   - the bf16 working copy (wbf, 2 B/param), which every product reads (l1kcu_weight_bf16);
 *   - float32 copies of what kernels read as float32: every 1-D tensor (norm weights, q/k
 *     norms, biases: read by the norm and bias kernels) and the token embedding (its forward
 *     gathers float32 rows; reading bf16 rows instead would change the first activations' bits
 *     against the float32-parameter runs). A tied lm_head is the embedding: its products still
 *     read the bf16 copy, mapped by offset.
 * s->P points at those copies (matrices: their bf16 values cast to float *, never dereferenced
 * as float, as lora.h's bf16-only base); s->params and s->tp are NULL. After the CPU AdamW the
 * offload pipeline uploads each piece as bf16 rounded on the host (l1k_f32_to_bf16: the same
 * rounding as the device's to_bf16, so the same bits) plus the float32 tensors it overlaps. */
#ifndef LONG1K_BACKEND_CUDA_HOSTMASTER_H
#define LONG1K_BACKEND_CUDA_HOSTMASTER_H

#include "backend/cuda/cuda_internal.h"

typedef struct cu_hostmaster {
  float *master; /* host, n_params floats (pinned when cudaMallocHost works) */
  int pinned;
  float *f32;       /* device: the float32 tensors, one after the other */
  size_t n_f32;     /* floats in f32 */
  size_t *f32_of;   /* per tensor of m->tensors: its offset in f32, or SIZE_MAX (bf16 only) */
  const float *emb; /* the embedding's float32 copy (inside f32), its flat offset and size */
  size_t emb_off, emb_n;
  uint16_t *stage; /* host bf16 staging of one upload piece (pinned when possible) */
  size_t stage_n;
  int stage_pinned;
  int borrowed; /* master is the model's host m->params (inference_only attach), not owned */
} cu_hostmaster;

/* Whether optim_init over [lo, hi) should drop the float32 device parameters. */
int l1kcu_hm_wanted(const l1k_model *m, const cu_state *s, size_t lo, size_t hi);
/* Moves the float32 parameters to the host master (s->hm) and frees them on the device. */
int l1kcu_hm_enter(l1k_model *m, cu_state *s, l1k_err *err);
/* inference_only attach in the bf16 mode (l1k_backend_opts): the same layout without gradients,
 * the model's host parameters (m->params, unchanged by generation) as the master: bf16 weights,
 * float32 embedding and 1-D tensors uploaded from them. Allocates s->wbf; sets s->P. */
int l1kcu_hm_attach_inference(l1k_model *m, cu_state *s, l1k_err *err);
/* Back to float32 device parameters (an optim_init that does not want the host master). */
int l1kcu_hm_leave(l1k_model *m, cu_state *s, l1k_err *err);
void l1kcu_hm_free(cu_state *s);
/* Parameters [lo, lo + n) from host float32 src to the device: float32 into s->tp without the
 * host master; with it, bf16 into wbf and float32 into the copies of the float32 tensors.
 * Called from one thread at a time (it uses the one staging buffer). */
int l1kcu_hm_upload(cu_state *s, const float *src, size_t lo, size_t n, l1k_err *err);
/* The bf16 values behind X when X lies in the embedding's float32 copy, else NULL. */
const uint16_t *l1kcu_hm_weight_bf16(const cu_state *s, const float *X);

#endif
