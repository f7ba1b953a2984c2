/* long1k — the CUDA backend's ops table (src/backend/ops.h): device selection, attach /
 * detach, the activation arena, AdamW + clipping on the device, host copies.
 *
 * Modes (docs/gpu.md): parameters, gradients, activations and AdamW moments are float32 device
 * arrays in the model's flat layout. float32 parity mode: products are cublasSgemm with
 * CUBLAS_PEDANTIC_MATH (no TF32). bf16 mode: the products take bf16 inputs (a bf16 working
 * copy of the weights, activations rounded on the way in) with float32 accumulation and
 * output; the float32 parameters are the master weights. The forward and backward are in
 * cuda_model.c. Compiled, not yet run on a GPU. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/cuda/attn_cudnn.h"
#include "backend/cuda/attention.h"
#include "backend/cuda/cublaslt.h"
#include "backend/cuda/cuda_internal.h"
#include "backend/cuda/hostmaster.h"
#include "backend/cuda/nccl.h"
#include "backend/cuda/offload.h"

/* ---------------------------------------------------------------- errors */

int l1kcu_check(cudaError_t e, const char *what, l1k_err *err) {
  if (e == cudaSuccess) return 0;
  return l1k_errf(err, e == cudaErrorMemoryAllocation ? L1K_ENOMEM : L1K_EINTERNAL,
                  "CUDA backend: %s: %s (%s)", what, cudaGetErrorString(e), cudaGetErrorName(e));
}

int l1kcu_launch(int code, const char *what, l1k_err *err) {
  if (!code) return 0;
  return l1k_errf(err, L1K_EINTERNAL, "CUDA backend: kernel %s: %s", what,
                  l1kcu_error_string(code));
}

int l1kcu_blas(cublasStatus_t st, const char *what, l1k_err *err) {
  if (st == CUBLAS_STATUS_SUCCESS) return 0;
  return l1k_errf(err, st == CUBLAS_STATUS_ALLOC_FAILED ? L1K_ENOMEM : L1K_EINTERNAL,
                  "CUDA backend: cuBLAS %s: %s", what, cublasGetStatusString(st));
}

static int dev_alloc(void **p, size_t bytes, const char *what, l1k_err *err) {
  *p = NULL;
  cudaError_t e = cudaMalloc(p, bytes ? bytes : 16);
  if (e == cudaSuccess) return 0;
  *p = NULL;
  cudaGetLastError(); /* clear the sticky-free error state of a failed allocation */
  return l1k_errf(err, L1K_ENOMEM, "CUDA backend: out of device memory for %s (%.3f GB): %s",
                  what, (double)bytes / 1e9, cudaGetErrorString(e));
}

/* The bf16 view of a product operand X stored as `rows` rows of ld floats (the last row
 * `cols` long): the working copy when X is a parameter, else X rounded into scratch[slot]. */
static const uint16_t *bf16_operand(cu_state *s, const float *X, int rows, int cols, int ld,
                                    int slot, l1k_err *err) {
  const uint16_t *w = l1kcu_weight_bf16(s, X);
  if (w) return w;
  if ((const char *)X >= s->act_lo && (const char *)X < s->act_hi) /* a bf16 activation */
    return (const uint16_t *)(const void *)X;
  size_t extent = (size_t)(rows - 1) * ld + cols;
  if (extent > s->scr_elems) {
    l1k_errf(err, L1K_EINTERNAL, "CUDA backend: bf16 operand of %zu values exceeds the %zu-value "
             "scratch", extent, s->scr_elems);
    return NULL;
  }
  if (l1kcu_launch(l1kcu_to_bf16(s->scr[slot], X, extent), "to_bf16", err)) return NULL;
  return s->scr[slot];
}

static int gemm_bf16(cu_state *s, int ta, int tb, int M, int N, int K, float alpha,
                     const float *A, int lda, const float *B, int ldb, float beta, float *C,
                     int ldc, int epi, float *epi_ptr, int *epi_done, l1k_err *err) {
  /* stored shapes: A is [M, K] (or [K, M] when ta), B is [K, N] (or [N, K] when tb) */
  const uint16_t *Ab = bf16_operand(s, A, ta ? K : M, ta ? M : K, lda, 0, err);
  if (!Ab) return err ? err->code : L1K_EINTERNAL;
  const uint16_t *Bb = bf16_operand(s, B, tb ? N : K, tb ? K : N, ldb, 1, err);
  if (!Bb) return err ? err->code : L1K_EINTERNAL;
  /* cuBLASLt first (cached descriptors and algorithm per shape, the epilogue fused); a shape it
   * has no algorithm for goes to cublasGemmEx, the caller applying the epilogue */
  int rc = l1kcu_lt_matmul(s->lt, ta, tb, M, N, K, alpha, Ab, lda, Bb, ldb, beta, C, ldc, epi,
                           epi_ptr, err);
  if (rc != L1K_EUNSUPPORTED) {
    if (!rc) *epi_done = epi != L1KCU_LT_NONE;
    return rc;
  }
  cublasStatus_t st = cublasGemmEx(s->blas, tb ? CUBLAS_OP_T : CUBLAS_OP_N,
                                   ta ? CUBLAS_OP_T : CUBLAS_OP_N, N, M, K, &alpha, Bb,
                                   CUDA_R_16BF, ldb, Ab, CUDA_R_16BF, lda, &beta, C, CUDA_R_32F,
                                   ldc, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT);
  return l1kcu_blas(st, "bf16 GemmEx", err);
}

int l1kcu_gemm(cu_state *s, int ta, int tb, int M, int N, int K, float alpha, const float *A,
               int lda, const float *B, int ldb, float beta, float *C, int ldc, l1k_err *err) {
  int done = 0;
  return l1kcu_gemm_epi(s, ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, L1KCU_LT_NONE,
                        NULL, &done, err);
}

int l1kcu_gemm_epi(cu_state *s, int ta, int tb, int M, int N, int K, float alpha, const float *A,
                   int lda, const float *B, int ldb, float beta, float *C, int ldc, int epi,
                   float *epi_ptr, int *epi_done, l1k_err *err) {
  *epi_done = 0;
  if (M <= 0 || N <= 0) return 0;
  if (s->opts.precision == L1K_PREC_BF16 && K > 0)
    return gemm_bf16(s, ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, epi, epi_ptr,
                     epi_done, err);
  /* row-major C = op(A) op(B)  <=>  column-major C^T = op(B)^T op(A)^T */
  cublasStatus_t st = cublasSgemm(s->blas, tb ? CUBLAS_OP_T : CUBLAS_OP_N,
                                  ta ? CUBLAS_OP_T : CUBLAS_OP_N, N, M, K, &alpha, B, ldb, A,
                                  lda, &beta, C, ldc);
  return l1kcu_blas(st, "sgemm", err);
}

static cu_state *state(l1k_model *m) { return (cu_state *)m->be_state; }

/* ---------------------------------------------------------------- availability */

static int cuda_available(char *why, size_t why_len) {
  int n = 0;
  cudaError_t e = cudaGetDeviceCount(&n);
  if (e != cudaSuccess) {
    cudaGetLastError();
    if (why && why_len)
      snprintf(why, why_len, "no usable CUDA device (cudaGetDeviceCount: %s)", cudaGetErrorString(e));
    return 0;
  }
  if (n <= 0) {
    if (why && why_len) snprintf(why, why_len, "no CUDA device");
    return 0;
  }
  if (why && why_len) why[0] = 0;
  return 1;
}

/* ---------------------------------------------------------------- activation arena */

/* Lays out (base NULL: sizes) the activations of N rows; returns bytes. */
static size_t arena_layout(l1k_model *m, cu_state *s, size_t N, char *base) {
  const l1k_model_config *c = &m->cfg;
  size_t C = c->hidden_size, FF = c->intermediate_size, V = c->vocab_size;
  size_t H = c->num_attention_heads, KVH = c->num_key_value_heads, hd = c->head_dim;
  size_t QD = H * hd, KD = KVH * hd, CH = (size_t)s->chunk;
  size_t off = 0;
#define TAKE_E(ptr, n, esz)                                          \
  do {                                                               \
    size_t bytes_ = (size_t)(n) * (esz);                             \
    if (base) (ptr) = (void *)(base + off);                          \
    off += (bytes_ + 255) & ~(size_t)255;                            \
  } while (0)
#define TAKE(ptr, n) TAKE_E(ptr, n, sizeof(*(ptr)))
  /* each layer's input x (the residual stream); then the rest of a layer's activations: one
   * set per layer, or with recomputation ONE set that every layer's pointers share (the
   * forward writes it layer after layer, the backward re-runs a layer's forward into it just
   * before that layer's backward: cuda_model.c) */
  int Lc = c->num_hidden_layers, sets = s->opts.recompute && Lc > 0 ? 1 : Lc;
  cu_layer dummy;
  for (int l = 0; l < Lc; l++) {
    cu_layer *L = base ? &s->L[l] : &dummy;
    TAKE(L->x, N * C);
  }
  /* the bf16 activations (acts_bf16.h: ln1, ln2, h of every set, 2 bytes a value) in one
   * region, so that a product recognizes them by address; float32 otherwise */
  size_t ab = s->act_bf16 ? 2 : 4;
  if (base) s->act_lo = s->act_bf16 ? base + off : NULL;
  for (int l = 0; l < sets; l++) {
    cu_layer *L = base ? &s->L[l] : &dummy;
    TAKE_E(L->ln1, N * C, ab);
    TAKE_E(L->ln2, N * C, ab);
    TAKE_E(L->h, N * FF, ab);
  }
  if (base) s->act_hi = s->act_bf16 ? base + off : NULL;
  for (int l = 0; l < sets; l++) {
    cu_layer *L = base ? &s->L[l] : &dummy;
    TAKE(L->ln1_rstd, N);
    TAKE(L->q, N * QD);
    TAKE(L->k, N * KD);
    TAKE(L->v, N * KD);
    TAKE(L->qn_rstd, c->qk_norm ? N * H : 1);
    TAKE(L->kn_rstd, c->qk_norm ? N * KVH : 1);
    TAKE(L->qr, N * QD);
    TAKE(L->kr, N * KD);
    TAKE(L->lse, N * H);
    TAKE(L->ao, N * QD);
    TAKE(L->xm, N * C);
    TAKE(L->ln2_rstd, N);
    TAKE(L->gate, N * FF);
    TAKE(L->up, N * FF);
  }
  if (base)
    for (int l = sets; l < Lc; l++) { /* recomputation: the shared set, the layer's own x */
      float *x = s->L[l].x;
      s->L[l] = s->L[0];
      s->L[l].x = x;
    }
  TAKE(s->xf, N * C);
  TAKE(s->lnf, N * C);
  TAKE(s->lnf_rstd, N);
  TAKE(s->cos_t, N * hd / 2);
  TAKE(s->sin_t, N * hd / 2);
  TAKE(s->logits, CH * V);
  TAKE(s->xc, CH * C);
  TAKE(s->dxc, CH * C);
  TAKE(s->dres, N * C);
  TAKE(s->dc, N * C);
  TAKE(s->dq, N * QD);
  TAKE(s->dq2, N * QD);
  TAKE(s->dk, N * KD);
  TAKE(s->dk2, N * KD);
  TAKE(s->dv, N * KD);
  TAKE(s->dao, N * QD);
  TAKE(s->dgate, N * FF);
  TAKE(s->dup, N * FF);
  TAKE(s->dh, N * FF);
  TAKE(s->dsum, N * H);
  TAKE(s->lossrow, N);
  TAKE(s->norm_part, L1KCU_NORM_BLOCKS);
  TAKE(s->norm_out, 1);
  TAKE(s->ids, N);
  TAKE(s->pos, N);
  TAKE(s->seg, N);
  TAKE(s->seg_end, N);
  TAKE(s->target, N);
  TAKE(s->trow, N);
  TAKE(s->ttg, N);
  TAKE(s->e_uniq, N);
  TAKE(s->e_off, N + 1);
  TAKE(s->e_rows, N);
  /* bf16 mode: two scratch operands, as large as the largest activation operand of a product
   * (N rows of the widest layer, or one chunk of logits) */
  size_t se = 1;
  if (s->opts.precision == L1K_PREC_BF16) {
    size_t w = C > FF ? C : FF;
    w = w > QD ? w : QD;
    se = N * w > CH * V ? N * w : CH * V;
  }
  if (base) s->scr_elems = se;
  TAKE(s->scr[0], se);
  TAKE(s->scr[1], se);
  /* attention: flash_bf16's bf16 scratch (attention.c) */
  size_t fa = l1kcu_attention_scratch(s, c, N);
  if (base) s->fa_elems = fa;
  TAKE(s->fa_buf, fa);
#undef TAKE
#undef TAKE_E
  return off;
}

static void host_prep_free(cu_state *s) {
  int32_t **h[] = {&s->h_pos, &s->h_seg, &s->h_seg_end, &s->h_target, &s->h_trow,
                   &s->h_ttg, &s->h_uniq, &s->h_off, &s->h_rows, &s->h_count};
  for (size_t i = 0; i < sizeof h / sizeof h[0]; i++) {
    free(*h[i]);
    *h[i] = NULL;
  }
  free(s->h_loss);
  s->h_loss = NULL;
}

static int host_prep_alloc(cu_state *s, size_t N, int V, l1k_err *err) {
  int32_t **h[] = {&s->h_pos, &s->h_seg, &s->h_seg_end, &s->h_target, &s->h_trow,
                   &s->h_ttg, &s->h_uniq, &s->h_off, &s->h_rows};
  host_prep_free(s);
  for (size_t i = 0; i < sizeof h / sizeof h[0]; i++)
    if (!(*h[i] = l1k_calloc(N + 1, sizeof(int32_t), err))) return L1K_ENOMEM;
  if (!(s->h_count = l1k_calloc((size_t)V, sizeof(int32_t), err))) return L1K_ENOMEM;
  if (!(s->h_loss = l1k_calloc(N, sizeof(double), err))) return L1K_ENOMEM;
  return 0;
}

/* lm_head rows per chunk: logits of one chunk in at most this many bytes (at least 64 rows). */
#define CU_LOGIT_BUDGET ((size_t)512 << 20)

int l1kcu_reserve(l1k_model *m, int B, int T, l1k_err *err) {
  cu_state *s = state(m);
  if (!s) return l1k_errf(err, L1K_EINTERNAL, "CUDA backend: reserve before attach");
  if (B <= 0 || T <= 0)
    return l1k_errf(err, L1K_EINPUT, "batch of %d rows x %d tokens: expected positive sizes", B, T);
  size_t N = (size_t)B * T, V = (size_t)m->cfg.vocab_size;
  if (s->arena && N <= s->cap_rows) return 0;
  if (N > 0x7fffffff) return l1k_errf(err, L1K_EINPUT, "batch of %zu tokens: at most 2^31 - 1", N);
  if (s->arena) cudaFree(s->arena);
  s->arena = NULL;
  s->cap_rows = 0;
  size_t ch = CU_LOGIT_BUDGET / (V * sizeof(float));
  if (ch < 64) ch = 64;
  if (ch > N) ch = N;
  s->chunk = (int)ch;
  size_t bytes = arena_layout(m, s, N, NULL);
  int rc = dev_alloc(&s->arena, bytes, "activations", err);
  if (rc) {
    l1k_err_prefix(err, "batch of %d x %d tokens", B, T);
    return rc;
  }
  arena_layout(m, s, N, (char *)s->arena);
  s->arena_bytes = bytes;
  if ((rc = host_prep_alloc(s, N, (int)V, err))) return rc;
  s->cap_rows = N;
  return 0;
}

/* ---------------------------------------------------------------- attach / detach */

static void free_state(cu_state *s) {
  if (!s) return;
  l1kcu_adapter_free(s);
  l1kcu_offload_free(s);
  l1kcu_hm_free(s);
  l1kcu_nccl_free(s);
  void *dev[] = {s->params, s->grads, s->inv_freq, s->arena, s->m1, s->m2, s->wbf};
  l1kcu_lt_close(s->lt);
  for (size_t i = 0; i < sizeof dev / sizeof dev[0]; i++)
    if (dev[i]) cudaFree(dev[i]);
  if (s->blas) cublasDestroy(s->blas);
  l1kcu_dnn_close(s->dnn);
  host_prep_free(s);
  free(s->P.layer);
  free(s->G.layer);
  free(s->L);
  free(s->ranges);
  free(s);
}

static void cuda_detach(l1k_model *m) {
  if (!m || !m->be_state) return;
  free_state(state(m));
  m->be_state = NULL;
}

static int attach_memory(l1k_model *m, cu_state *s, l1k_err *err) {
  size_t n = m->n_params, half = (size_t)m->cfg.head_dim / 2;
  int Lc = m->cfg.num_hidden_layers;
  /* the gradients come with the first entry that needs them (l1kcu_need_grads): after
   * optim_init, which may drop the float32 parameters first (hostmaster.h), so that the bf16 +
   * offload attach never holds parameters, gradients and the bf16 copy at once (10 B/param) */
  int rc = dev_alloc((void **)&s->params, n * sizeof(float), "parameters", err);
  if (!rc) rc = dev_alloc((void **)&s->inv_freq, half * sizeof(float), "rope table", err);
  if (!rc && s->opts.precision == L1K_PREC_BF16)
    rc = dev_alloc((void **)&s->wbf, n * sizeof(uint16_t), "bf16 weights", err);
  if (rc) return rc;
  s->n_params = n;
  s->tp = s->params, s->twbf = s->wbf, s->tn = n; /* the whole model trains */
  s->tt = m->tensors, s->ntt = m->n_tensors;
  if ((rc = l1kcu_check(cudaMemcpy(s->params, m->params, n * sizeof(float), cudaMemcpyHostToDevice),
                        "upload of the parameters", err)))
    return rc;
  if ((rc = l1kcu_refresh_bf16(s, err))) return rc;
  if ((rc = l1kcu_check(cudaMemcpy(s->inv_freq, m->inv_freq, half * sizeof(float),
                                   cudaMemcpyHostToDevice), "upload of the rope table", err)))
    return rc;
  s->P.layer = l1k_calloc((size_t)(Lc ? Lc : 1), sizeof(layer_params), err);
  s->G.layer = l1k_calloc((size_t)(Lc ? Lc : 1), sizeof(layer_params), err);
  s->L = l1k_calloc((size_t)(Lc ? Lc : 1), sizeof(cu_layer), err);
  if (!s->P.layer || !s->G.layer || !s->L) return L1K_ENOMEM;
  model_point(m, s->params, &s->P); /* s->G stays NULL until l1kcu_need_grads */
  return 0;
}

int l1kcu_need_grads(l1k_model *m, cu_state *s, const char *what, l1k_err *err) {
  if (s->tg) return 0;
  if (s->opts.inference_only || s->ad)
    return l1k_errf(err, L1K_EINTERNAL, "CUDA backend: %s: the model is attached for generation "
                    "only (inference_only: no gradients)", what);
  size_t n = s->n_params;
  int rc = dev_alloc((void **)&s->grads, n * sizeof(float), "gradients", err);
  if (!rc) rc = l1kcu_check(cudaMemset(s->grads, 0, n * sizeof(float)), "zeroing gradients", err);
  if (rc) {
    if (s->grads) cudaFree(s->grads);
    s->grads = NULL;
    return rc;
  }
  s->tg = s->grads;
  model_point(m, s->grads, &s->G);
  return 0;
}

/* inference_only (generate, eval --model): no gradients; the bf16 mode keeps the bf16 weights
 * and float32 copies of the embedding and 1-D tensors only (hostmaster.h), the float32 mode its
 * float32 parameters. The memory goes to the KV pool (gen_decode.c sizes it from what is free). */
static int attach_inference(l1k_model *m, cu_state *s, l1k_err *err) {
  size_t n = m->n_params, half = (size_t)m->cfg.head_dim / 2;
  int Lc = m->cfg.num_hidden_layers;
  s->P.layer = l1k_calloc((size_t)(Lc ? Lc : 1), sizeof(layer_params), err);
  s->G.layer = l1k_calloc((size_t)(Lc ? Lc : 1), sizeof(layer_params), err); /* all NULL */
  s->L = l1k_calloc((size_t)(Lc ? Lc : 1), sizeof(cu_layer), err);
  if (!s->P.layer || !s->G.layer || !s->L) return L1K_ENOMEM;
  int rc = dev_alloc((void **)&s->inv_freq, half * sizeof(float), "rope table", err);
  if (!rc) rc = l1kcu_check(cudaMemcpy(s->inv_freq, m->inv_freq, half * sizeof(float),
                                       cudaMemcpyHostToDevice), "upload of the rope table", err);
  if (rc) return rc;
  if (s->opts.precision == L1K_PREC_BF16) return l1kcu_hm_attach_inference(m, s, err);
  if ((rc = dev_alloc((void **)&s->params, n * sizeof(float), "parameters", err))) return rc;
  s->n_params = n;
  s->tp = s->params, s->tn = n, s->tt = m->tensors, s->ntt = m->n_tensors;
  model_point(m, s->params, &s->P);
  return l1kcu_check(cudaMemcpy(s->params, m->params, n * sizeof(float), cudaMemcpyHostToDevice),
                     "upload of the parameters", err);
}

static int cuda_attach(l1k_model *m, const l1k_backend_opts *o, l1k_err *err) {
  char why[256];
  if (m->be_state) return l1k_errf(err, L1K_EINTERNAL, "CUDA backend: model already attached");
  l1k_backend_opts opts = {L1K_PREC_F32, 1, 0, 0, 0};
  if (o) opts = *o;
  if (opts.precision != L1K_PREC_F32 && opts.precision != L1K_PREC_BF16)
    return l1k_errf(err, L1K_EINPUT, "CUDA backend: unknown precision %d (expected f32 or bf16)",
                    (int)opts.precision);
  if (m->cfg.head_dim > L1KCU_MAX_HEAD_DIM)
    return l1k_errf(err, L1K_EUNSUPPORTED, "CUDA backend: head_dim %d: at most %d",
                    m->cfg.head_dim, L1KCU_MAX_HEAD_DIM);
  if (!cuda_available(why, sizeof why)) return l1k_errf(err, L1K_EUNSUPPORTED, "CUDA backend: %s", why);
  int rc = l1kcu_check(cudaSetDevice(opts.device_index), "cudaSetDevice", err);
  if (rc) return rc;
  cu_state *s = l1k_calloc(1, sizeof *s, err);
  if (!s) return L1K_ENOMEM;
  s->opts = opts;
  rc = l1kcu_blas(cublasCreate(&s->blas), "cublasCreate", err);
  /* float32 mode: no TF32, nothing reduced; bf16 mode: tensor cores */
  if (!rc)
    rc = l1kcu_blas(cublasSetMathMode(s->blas, opts.precision == L1K_PREC_F32
                                                   ? CUBLAS_PEDANTIC_MATH
                                                   : CUBLAS_DEFAULT_MATH), "math mode", err);
  if (!rc)
    rc = m->ad ? l1kcu_adapter_attach(m, s, err)
         : opts.inference_only ? attach_inference(m, s, err) : attach_memory(m, s, err);
  /* bf16 mode: cuBLASLt (LONG1K_CUBLASLT=0: cublasGemmEx only) */
  if (!rc && opts.precision == L1K_PREC_BF16) rc = l1kcu_lt_open(&s->lt, err);
  /* bf16 activations (acts_bf16.h): bf16 mode, no adapter (LoRA's hooks read float32 inputs) */
  const char *ba = getenv("LONG1K_BF16_ACTS");
  s->act_bf16 = opts.precision == L1K_PREC_BF16 && !m->ad && !(ba && !strcmp(ba, "0"));
  if (!rc) rc = l1kcu_attn_attach(s, err);
  if (rc) {
    free_state(s);
    return rc;
  }
  const char *dt = opts.precision == L1K_PREC_BF16 ? "BF16" : "F32";
  for (size_t i = 0; i < m->n_tensors; i++) snprintf(m->tensors[i].dtype, sizeof m->tensors[i].dtype, "%s", dt);
  m->be_state = s;
  return 0;
}

int l1kcu_refresh_bf16(cu_state *s, l1k_err *err) {
  if (s->opts.precision != L1K_PREC_BF16 || s->hm) return 0; /* hm: uploaded as bf16 */
  if (!s->tp) /* a state without the trainable-space view (bench/gpu_lmhead_bench.c): all */
    return l1kcu_launch(l1kcu_to_bf16(s->wbf, s->params, s->n_params), "to_bf16 (weights)", err);
  if (!s->twbf) return 0;
  return l1kcu_launch(l1kcu_to_bf16(s->twbf, s->tp, s->tn), "to_bf16 (weights)", err);
}

static int cuda_reserve(l1k_model *m, int B, int T, l1k_err *err) { return l1kcu_reserve(m, B, T, err); }

static int cuda_zero_grads(l1k_model *m, l1k_err *err) {
  cu_state *s = state(m);
  if (!s) return l1k_errf(err, L1K_EINTERNAL, "CUDA backend: zero_grads before attach");
  int ng_ = l1kcu_need_grads(m, s, "zero_grads", err);
  if (ng_) return ng_;
  return l1kcu_check(cudaMemset(s->tg, 0, s->tn * sizeof(float)), "zeroing gradients", err);
}

/* ---------------------------------------------------------------- AdamW */

static int add_range(cu_state *s, size_t lo, size_t hi, double wd, l1k_err *err) {
  if (lo < s->olo) lo = s->olo;
  if (hi > s->ohi) hi = s->ohi;
  if (lo >= hi) return 0;
  cu_range *r = l1k_realloc(s->ranges, (s->n_ranges + 1) * sizeof *r, err);
  if (!r) return L1K_ENOMEM;
  s->ranges = r;
  r[s->n_ranges++] = (cu_range){lo, hi, wd};
  return 0;
}

/* The decay grouping as src/train/optim.c walks it: tensors in offset order, no-decay ones
 * with weight decay 0, everything else (and any gap) with wd; clipped to the shard. */
static int build_ranges(cu_state *s, l1k_err *err) {
  size_t at = 0;
  free(s->ranges);
  s->ranges = NULL;
  s->n_ranges = 0;
  for (;;) {
    size_t best = (size_t)-1, best_off = s->tn;
    for (size_t i = 0; i < s->ntt; i++)
      if (s->tt[i].offset >= at && s->tt[i].offset < best_off && s->tt[i].numel) {
        best = i;
        best_off = s->tt[i].offset;
      }
    int rc = best_off > at ? add_range(s, at, best_off, s->wd, err) : 0;
    if (rc) return rc;
    if (best == (size_t)-1) return 0;
    const l1k_tensor_info *t = &s->tt[best];
    if ((rc = add_range(s, t->offset, t->offset + t->numel, t->no_decay ? 0.0 : s->wd, err)))
      return rc;
    at = t->offset + t->numel;
  }
}

static int cuda_optim_init(l1k_model *m, double beta1, double beta2, double eps,
                           double weight_decay, size_t lo, size_t hi, l1k_err *err) {
  cu_state *s = state(m);
  if (!s) return l1k_errf(err, L1K_EINTERNAL, "CUDA backend: optim_init before attach");
  if (s->opts.inference_only)
    return l1k_errf(err, L1K_EINTERNAL, "CUDA backend: optim_init: the model is attached for "
                    "generation only (inference_only: no gradients)");
  if (lo > hi || hi > s->tn)
    return l1k_errf(err, L1K_EINTERNAL, "CUDA backend: optimizer shard [%zu, %zu) outside %zu "
                    "parameters", lo, hi, s->tn);
  if (s->m1) cudaFree(s->m1);
  if (s->m2) cudaFree(s->m2);
  s->m1 = s->m2 = NULL;
  s->have_optim = 0;
  size_t k = hi - lo;
  int rc = 0;
  l1kcu_offload_free(s);
  /* bf16 mode, offload of the whole model: no float32 parameters on the device (hostmaster.h) */
  if (l1kcu_hm_wanted(m, s, lo, hi)) rc = l1kcu_hm_enter(m, s, err);
  else rc = l1kcu_hm_leave(m, s, err);
  if (rc) return rc;
  if (s->want_offload) { /* optim_offload: master, moments and AdamW on the host */
    rc = l1kcu_offload_init(s, beta1, beta2, eps, weight_decay, lo, hi, err);
  } else {
    rc = dev_alloc((void **)&s->m1, k * sizeof(float), "AdamW first moments", err);
    if (!rc) rc = dev_alloc((void **)&s->m2, k * sizeof(float), "AdamW second moments", err);
    if (!rc) rc = l1kcu_check(cudaMemset(s->m1, 0, k * sizeof(float)), "zeroing AdamW state", err);
    if (!rc) rc = l1kcu_check(cudaMemset(s->m2, 0, k * sizeof(float)), "zeroing AdamW state", err);
  }
  if (rc) return rc;
  s->olo = lo;
  s->ohi = hi;
  s->b1 = beta1;
  s->b2 = beta2;
  s->eps = eps;
  s->wd = weight_decay;
  s->step = 0;
  if ((rc = build_ranges(s, err))) return rc;
  if ((rc = l1kcu_need_grads(m, s, "optim_init", err))) return rc; /* after hm_enter: see attach */
  s->have_optim = 1;
  return 0;
}

static int grad_norm(l1k_model *m, cu_state *s, double *norm, l1k_err *err) {
  int rc = l1kcu_launch(l1kcu_sumsq(s->norm_out, s->norm_part, s->tg, s->tn), "sumsq", err);
  double ss = 0;
  if (!rc)
    rc = l1kcu_check(cudaMemcpy(&ss, s->norm_out, sizeof ss, cudaMemcpyDeviceToHost),
                     "gradient norm", err);
  *norm = sqrt(ss);
  return rc;
}

static int cuda_step(l1k_model *m, const l1k_step_args *a, double *grad_norm_out, l1k_err *err) {
  cu_state *s = state(m);
  if (!s || !s->have_optim)
    return l1k_errf(err, L1K_EINTERNAL, "CUDA backend: step before attach / optim_init");
  if (!s->arena) {
    /* the norm's scratch lives in the arena: a step without a batch still needs one */
    int rc0 = l1kcu_reserve(m, 1, 1, err);
    if (rc0) return rc0;
  }
  double norm = a->norm;
  int rc = a->norm_given ? 0 : grad_norm(m, s, &norm, err);
  if (rc) return rc;
  if (grad_norm_out) *grad_norm_out = norm;
  if (!isfinite(norm)) return 0; /* parameters and state untouched */
  if (a->max_grad_norm > 0) {
    /* ZeRO-2 (norm given): only the shard holds summed gradients; clip it alone */
    size_t clo = a->norm_given ? a->lo : 0, chi = a->norm_given ? a->hi : s->tn;
    double coef = a->max_grad_norm / (norm + 1e-6);
    if (coef < 1.0 && chi > clo &&
        (rc = l1kcu_launch(l1kcu_scale(s->tg + clo, chi - clo, coef), "clip", err)))
      return rc;
  }
  if (s->off) { /* optim_offload: AdamW on the host (offload.c) */
    if ((rc = l1kcu_offload_step(s, a->lr, err))) return rc;
    if ((rc = l1kcu_refresh_bf16(s, err))) return rc;
    return l1kcu_check(cudaDeviceSynchronize(), "optimizer step", err);
  }
  s->step++;
  double t = (double)s->step, bc1 = 1.0 - pow(s->b1, t), bc2 = 1.0 - pow(s->b2, t);
  double step_size = a->lr / bc1, bc2_sqrt = sqrt(bc2);
  for (size_t i = 0; i < s->n_ranges; i++) {
    size_t lo = s->ranges[i].lo, hi = s->ranges[i].hi;
    if (lo < a->lo) lo = a->lo;
    if (hi > a->hi) hi = a->hi;
    if (lo >= hi) continue;
    rc = l1kcu_launch(l1kcu_adamw(s->tp + lo, s->tg + lo, s->m1 + (lo - s->olo),
                                  s->m2 + (lo - s->olo), hi - lo, a->lr, s->b1, s->b2, s->eps,
                                  s->ranges[i].wd, step_size, bc2_sqrt), "adamw", err);
    if (rc) return rc;
  }
  if ((rc = l1kcu_refresh_bf16(s, err))) return rc;
  return l1kcu_check(cudaDeviceSynchronize(), "optimizer step", err);
}

/* ---------------------------------------------------------------- host copies */

static int copy_range(l1k_model *m, void *dst, const void *src, size_t lo, size_t n, size_t total,
                      enum cudaMemcpyKind kind, const char *what, l1k_err *err) {
  if (!state(m)) return l1k_errf(err, L1K_EINTERNAL, "CUDA backend: %s before attach", what);
  if (lo > total || n > total - lo)
    return l1k_errf(err, L1K_EINTERNAL, "CUDA backend: %s [%zu, +%zu) outside %zu values", what,
                    lo, n, total);
  if (!n) return 0;
  return l1kcu_check(cudaMemcpy(dst, src, n * sizeof(float), kind), what, err);
}

static int cuda_params_get(l1k_model *m, float *dst, size_t lo, size_t n, l1k_err *err) {
  cu_state *s = state(m);
  if (s && s->hm) { /* the host master is the only float32 copy */
    if (lo > s->tn || n > s->tn - lo)
      return l1k_errf(err, L1K_EINTERNAL, "CUDA backend: params_get [%zu, +%zu) outside %zu "
                      "values", lo, n, s->tn);
    if (n && dst != s->hm->master + lo) memcpy(dst, s->hm->master + lo, n * sizeof(float));
    return 0;
  }
  return copy_range(m, dst, s ? s->tp + lo : NULL, lo, n, s ? s->tn : 0, cudaMemcpyDeviceToHost,
                    "params_get", err);
}
static int cuda_params_set(l1k_model *m, const float *src, size_t lo, size_t n, l1k_err *err) {
  cu_state *s = state(m);
  if (s && s->hm) { /* the host master, then bf16 and the float32 tensors up */
    if (lo > s->tn || n > s->tn - lo)
      return l1k_errf(err, L1K_EINTERNAL, "CUDA backend: params_set [%zu, +%zu) outside %zu "
                      "values", lo, n, s->tn);
    if (n && src != s->hm->master + lo) memcpy(s->hm->master + lo, src, n * sizeof(float));
    return l1kcu_hm_upload(s, src, lo, n, err);
  }
  int rc = copy_range(m, s ? s->tp + lo : NULL, src, lo, n, s ? s->tn : 0,
                      cudaMemcpyHostToDevice, "params_set", err);
  if (!rc) l1kcu_offload_params_set(s, src, lo, n);
  return rc ? rc : l1kcu_refresh_bf16(s, err);
}
static int cuda_grads_get(l1k_model *m, float *dst, size_t lo, size_t n, l1k_err *err) {
  cu_state *s = state(m);
  int ng_ = s ? l1kcu_need_grads(m, s, "grads_get", err) : 0;
  if (ng_) return ng_;
  return copy_range(m, dst, s ? s->tg + lo : NULL, lo, n, s ? s->tn : 0, cudaMemcpyDeviceToHost,
                    "grads_get", err);
}
static int cuda_grads_set(l1k_model *m, const float *src, size_t lo, size_t n, l1k_err *err) {
  cu_state *s = state(m);
  int ng_ = s ? l1kcu_need_grads(m, s, "grads_set", err) : 0;
  if (ng_) return ng_;
  return copy_range(m, s ? s->tg + lo : NULL, src, lo, n, s ? s->tn : 0, cudaMemcpyHostToDevice,
                    "grads_set", err);
}

static int cuda_optim_get(l1k_model *m, float *m1, float *m2, int64_t *step, l1k_err *err) {
  cu_state *s = state(m);
  if (!s || !s->have_optim) return l1k_errf(err, L1K_EINTERNAL, "CUDA backend: optim_get before optim_init");
  size_t k = s->ohi - s->olo;
  if (s->off) {
    if (k) memcpy(m1, s->off->opt.m, k * sizeof(float)), memcpy(m2, s->off->opt.v, k * sizeof(float));
    if (step) *step = s->off->opt.step;
    return 0;
  }
  int rc = copy_range(m, m1, s->m1, 0, k, k, cudaMemcpyDeviceToHost, "optim_get", err);
  if (!rc) rc = copy_range(m, m2, s->m2, 0, k, k, cudaMemcpyDeviceToHost, "optim_get", err);
  if (!rc && step) *step = s->step;
  return rc;
}

static int cuda_optim_set(l1k_model *m, const float *m1, const float *m2, int64_t step,
                          l1k_err *err) {
  cu_state *s = state(m);
  if (!s || !s->have_optim) return l1k_errf(err, L1K_EINTERNAL, "CUDA backend: optim_set before optim_init");
  size_t k = s->ohi - s->olo;
  if (s->off) {
    if (k) memcpy(s->off->opt.m, m1, k * sizeof(float)), memcpy(s->off->opt.v, m2, k * sizeof(float));
    s->off->opt.step = step;
    return 0;
  }
  int rc = copy_range(m, s->m1, m1, 0, k, k, cudaMemcpyHostToDevice, "optim_set", err);
  if (!rc) rc = copy_range(m, s->m2, m2, 0, k, k, cudaMemcpyHostToDevice, "optim_set", err);
  if (!rc) s->step = step;
  return rc;
}

static float *cuda_grads_host(l1k_model *m) {
  (void)m;
  return NULL;
}

static int cuda_mem_info(l1k_model *m, uint64_t *free_b, uint64_t *total_b, l1k_err *err) {
  (void)m;
  size_t fr = 0, tot = 0;
  int rc = l1kcu_check(cudaMemGetInfo(&fr, &tot), "cudaMemGetInfo", err);
  if (rc) return rc;
  *free_b = fr;
  *total_b = tot;
  return 0;
}

static int cuda_device_name(l1k_model *m, char *name, size_t name_len) {
  cu_state *s = state(m);
  struct cudaDeviceProp p;
  if (!s || !name_len || cudaGetDeviceProperties(&p, s->opts.device_index) != cudaSuccess) return 1;
  snprintf(name, name_len, "%s", p.name);
  return 0;
}

static int cuda_optim_offload(l1k_model *m, int on, l1k_err *err) {
  cu_state *s = state(m);
  if (!s) return l1k_errf(err, L1K_EINTERNAL, "CUDA backend: optim_offload before attach");
  s->want_offload = on != 0;
  return 0;
}

const l1k_backend_ops l1k_backend_cuda_ops = {
    .name = "cuda",
    .available = cuda_available,
    .attach = cuda_attach,
    .detach = cuda_detach,
    .reserve = cuda_reserve,
    .forward = l1kcu_forward,
    .forward_backward = l1kcu_forward_backward,
    .zero_grads = cuda_zero_grads,
    .optim_init = cuda_optim_init,
    .step = cuda_step,
    .params_get = cuda_params_get,
    .params_set = cuda_params_set,
    .grads_get = cuda_grads_get,
    .grads_set = cuda_grads_set,
    .optim_get = cuda_optim_get,
    .optim_set = cuda_optim_set,
    .grads_host = cuda_grads_host,
    .mem_info = cuda_mem_info,
    .optim_offload = cuda_optim_offload,
    .dp_id = l1kcu_nccl_id,
    .dp_init = l1kcu_nccl_init,
    .dp_reduce = l1kcu_nccl_reduce,
    .dp_gather = l1kcu_nccl_gather,
    .kv_create = l1kcu_kv_create,
    .kv_free = l1kcu_kv_free,
    .kv_stats = l1kcu_kv_stats,
    .kv_reserve = l1kcu_kv_reserve,
    .kv_release = l1kcu_kv_release,
    .kv_copy = l1kcu_kv_copy,
    .prefill = l1kcu_kv_prefill,
    .decode = l1kcu_kv_decode,
    .decode_greedy = l1kcu_kv_decode_greedy,
    .device_name = cuda_device_name,
};
