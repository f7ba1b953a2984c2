/* long1k — the CUDA backend's private state, shared by backend_cuda.c (the ops table, memory,
 * optimizer, host copies) and cuda_model.c (batch preparation, forward, backward). */
#ifndef LONG1K_BACKEND_CUDA_INTERNAL_H
#define LONG1K_BACKEND_CUDA_INTERNAL_H

#include <cublas_v2.h>
#include <cuda_runtime_api.h>

#include "backend/cuda/kernels.h"
#include "backend/cuda/lora.h"
#include "backend/ops.h"
#include "model/model_internal.h"

/* Device activations of one layer for N = B*T rows: the CPU's layer_acts (forward.c). */
typedef struct cu_layer {
  float *x, *ln1, *ln1_rstd, *q, *k, *v, *qn_rstd, *kn_rstd, *qr, *kr, *lse, *ao;
  float *xm, *ln2, *ln2_rstd, *gate, *up, *h;
} cu_layer;

/* A contiguous range of parameters with one weight decay (AdamW grouping). */
typedef struct cu_range {
  size_t lo, hi;
  double wd;
} cu_range;

typedef struct cu_state {
  l1k_backend_opts opts;
  cublasHandle_t blas;
  /* parameters and gradients: flat float32 on the device, the model's layout */
  float *params, *grads, *inv_freq;
  size_t n_params;
  model_params P, G; /* pointers into params / grads (device addresses) */
  /* bf16 mode: the bf16 working copy of params (same layout; refreshed after attach,
   * params_set and every step) and two scratch buffers of scr_elems bf16 values for the
   * activation operands of a product */
  uint16_t *wbf, *scr[2];
  size_t scr_elems;
  /* activations, one device arena for up to cap_rows = B*T rows */
  size_t cap_rows;
  int chunk;         /* lm_head rows per chunk */
  void *arena;
  size_t arena_bytes;
  cu_layer *L;
  float *xf, *lnf, *lnf_rstd, *cos_t, *sin_t, *logits, *xc, *dxc;
  float *dres, *dc, *dq, *dq2, *dk, *dk2, *dv, *dao, *dgate, *dup, *dh, *dsum;
  double *lossrow, *norm_part, *norm_out;
  int32_t *ids, *pos, *seg, *seg_end, *target, *trow, *ttg, *e_uniq, *e_off, *e_rows;
  /* host side of batch preparation (sizes: cap_rows, the counting sort: vocab) */
  int32_t *h_pos, *h_seg, *h_seg_end, *h_target, *h_trow, *h_ttg, *h_uniq, *h_off, *h_rows;
  int32_t *h_count;
  double *h_loss;
  int n_trow; /* rows of the current batch with a target */
  int n_uniq; /* distinct non-pad token ids of the current batch */
  /* AdamW over [olo, ohi) */
  float *m1, *m2;
  size_t olo, ohi;
  double b1, b2, eps, wd;
  int64_t step;
  int have_optim;
  cu_range *ranges;
  size_t n_ranges;
  /* attention through cuDNN (attn_cudnn.h, attn_select.c; bf16 mode): NULL = own kernels */
  struct l1kcu_dnn *dnn;
  /* LoRA / freeze (lora.c, lora.h). The trainable space the optimizer, zero_grads and the host
   * copies address: the whole model (params, grads, wbf, m->tensors) without an adapter, the
   * adapter's space with one (then grads is NULL: the base has no gradients). */
  float *tp, *tg;
  uint16_t *twbf;
  size_t tn;
  const l1k_tensor_info *tt;
  size_t ntt;
  struct cu_adapter *ad; /* device side of m->ad, or NULL */
  /* attention (attention.c): flash_bf16's bf16 copies of q, k, v, o, dO, in the arena */
  uint16_t *fa_buf;
  size_t fa_elems;
  /* optim_offload (offload.c): the optimizer's range in host memory, NULL when on the device */
  struct cu_offload *off;
  int want_offload; /* set by the optim_offload entry; optim_init reads it */
  /* data parallelism over NCCL (nccl.c), NULL with one process */
  struct cu_nccl *nccl;
  /* bf16 mode: products through cuBLASLt (cublaslt.h; NULL: cublasGemmEx only) */
  struct l1kcu_lt *lt;
  /* bf16 mode: ln1, ln2, h stored as bf16 (acts_bf16.h) in the arena's [act_lo, act_hi) */
  int act_bf16;
  const char *act_lo, *act_hi;
  /* bf16 mode + optim_offload over the whole model (hostmaster.h): the float32 parameters on
   * the host only (then params and tp are NULL); NULL otherwise */
  struct cu_hostmaster *hm;
} cu_state;

/* Error helpers: 0, or an L1K_E* code with one line in err naming what failed. */
int l1kcu_check(cudaError_t e, const char *what, l1k_err *err);
int l1kcu_launch(int code, const char *what, l1k_err *err);
int l1kcu_blas(cublasStatus_t st, const char *what, l1k_err *err);

/* Row-major C[M,N] = alpha op(A) op(B) + beta C. float32 mode: cublasSgemm (no TF32). bf16
 * mode: cublasGemmEx with bf16 A and B and float32 C and accumulation; an operand inside the
 * parameters is read from the bf16 working copy, any other is rounded to bf16 into a scratch
 * buffer first (so every kernel around the products stays float32, as torch autocast). */
int l1kcu_gemm(cu_state *s, int ta, int tb, int M, int N, int K, float alpha, const float *A,
               int lda, const float *B, int ldb, float beta, float *C, int ldc, l1k_err *err);

/* l1kcu_gemm with an epilogue (cublaslt.h: L1KCU_LT_BIAS, epi_ptr = the bias; L1KCU_LT_BGRAD,
 * ta = 1, epi_ptr = where colsum(A) goes; the backend uses BIAS only): in the bf16 mode through cuBLASLt when it takes the
 * shape, then *epi_done = 1; otherwise (float32 mode, no algorithm) the plain product and
 * *epi_done = 0: the caller applies the epilogue itself. */
int l1kcu_gemm_epi(cu_state *s, int ta, int tb, int M, int N, int K, float alpha, const float *A,
                   int lda, const float *B, int ldb, float beta, float *C, int ldc, int epi,
                   float *epi_ptr, int *epi_done, l1k_err *err);

/* The gradient buffer, allocated (zeroed) by the first entry that needs it; inference_only:
 * one line, L1K_EINTERNAL (backend_cuda.c). */
int l1kcu_need_grads(l1k_model *m, cu_state *s, const char *what, l1k_err *err);

/* bf16 mode: rounds the float32 parameters into the bf16 working copy (backend_cuda.c). */
int l1kcu_refresh_bf16(cu_state *s, l1k_err *err);

/* Activation arena for at least B x T rows (backend_cuda.c). */
int l1kcu_reserve(l1k_model *m, int B, int T, l1k_err *err);

/* The fused lm_head + cross-entropy, chunk by chunk (s->chunk rows; buffers s->logits,
 * s->xc, s->dxc, s->lossrow): logits of nr rows of x[., C] (rows[0..nr) gathered, or x's
 * first nr rows when rows is NULL) against W[V, C], targets tg[nr] (-1 = none). Losses into
 * s->lossrow[0..nr); host_logits (optional) receives each chunk's logits. With dW: the
 * logits become scale * (softmax - onehot), dx rows (scattered back to rows[], or x's layout)
 * = dlogits W, dW += dlogits^T x. Only one chunk of logits ever exists. */
int l1kcu_lm_head_ce(cu_state *s, const float *x, const int32_t *rows, const int32_t *tg, int nr,
                     int C, int V, const float *W, float *dW, float *dx, float *host_logits,
                     float scale, l1k_err *err);

/* The ops table's forward entries (cuda_model.c). */
int l1kcu_forward(l1k_model *m, const l1k_batch *b, float *logits, double *loss_sum,
                  int64_t *n_targets, l1k_err *err);
int l1kcu_forward_backward(l1k_model *m, const l1k_batch *b, double grad_scale, double *loss_sum,
                           int64_t *n_targets, l1k_err *err);

/* Which attention runs (attn_select.c): attach chooses (own kernels, or cuDNN in the bf16 mode
 * when it loads); batch hands cuDNN the documents of a prepared batch; fw / bw run layer L's
 * attention (L->ao, L->lse from L->qr, L->kr, L->v; the backward into s->dq, s->dk, s->dv
 * from s->dao), falling back to the own kernels with one line when cuDNN refuses. */
int l1kcu_attn_attach(cu_state *s, l1k_err *err);
int l1kcu_attn_batch(const l1k_model *m, cu_state *s, int B, int T, l1k_err *err);
int l1kcu_attn_fw(cu_state *s, cu_layer *L, int B, int T, int H, int KVH, int hd, l1k_err *err);
int l1kcu_attn_bw(cu_state *s, cu_layer *L, int B, int T, int H, int KVH, int hd, l1k_err *err);

/* Generation (gen_decode.c; issue 15): the ops table's decode entries (src/backend/ops.h). */
int l1kcu_kv_create(l1k_model *m, int max_seqs, int max_ctx, int block_size, uint64_t budget,
                    struct l1k_kv_cache **kv, l1k_err *err);
void l1kcu_kv_free(l1k_model *m, struct l1k_kv_cache *kv);
void l1kcu_kv_stats(const struct l1k_kv_cache *kv, l1k_kv_stats *st);
int l1kcu_kv_reserve(l1k_model *m, struct l1k_kv_cache *kv, int seq, int n_tokens, l1k_err *err);
void l1kcu_kv_release(l1k_model *m, struct l1k_kv_cache *kv, int seq);
int l1kcu_kv_copy(l1k_model *m, struct l1k_kv_cache *kv, int dst, int src, int n, l1k_err *err);
int l1kcu_kv_prefill(l1k_model *m, struct l1k_kv_cache *kv, const int *seqs,
                     const int32_t *const *ids, const int *n, int count, float *logits, l1k_err *err);
int l1kcu_kv_decode(l1k_model *m, struct l1k_kv_cache *kv, const int *seqs, const int32_t *ids,
                    int n, float *logits, l1k_err *err);
int l1kcu_kv_decode_greedy(l1k_model *m, struct l1k_kv_cache *kv, const int *seqs, const int32_t *ids,
                           int n, int32_t *tokens, l1k_err *err);

#endif
