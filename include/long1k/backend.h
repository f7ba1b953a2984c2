/* long1k — CPU kernels of the model library (float32, OpenMP + OpenBLAS).
 *
 * Shared by the training forward/backward (src/backend/cpu/forward.c) and generation. Shapes
 * are in the comments; all matrices are row-major. Weight matrices use the PyTorch Linear layout
 * W[out, in], so a linear layer is y = x W^T (+ b). Functions that "accumulate" (+=) say so.
 * Threading is OpenMP only: l1k_gemm splits a large product over the OpenMP threads, each
 * running single-threaded OpenBLAS. Wrap a sequence of calls in l1k_blas_single_begin/end so that
 * OpenBLAS's own thread pool stays idle meanwhile (it would spin against OpenMP's). Inside an
 * OpenMP parallel region l1k_gemm runs on the calling thread.
 */
#ifndef LONG1K_BACKEND_H
#define LONG1K_BACKEND_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include "long1k/model.h"

/* Loops with less work than this many elements run on one thread: OpenMP fork/join costs
 * more than it saves there, and badly so on a loaded machine. */
#define L1K_PAR_MIN ((size_t)1 << 16)

/* Once per process, before the first matrix product (l1k_model_create calls it): makes sure
 * OpenBLAS uses the vector kernels this CPU supports (see kernels.c). */
void l1k_backend_init(void);

/* Which family of long1k's hand-written kernels this CPU runs (decode products and attention,
 * the lm_head forward, argmax): 2 = AVX-512 (F and BW), 1 = AVX2 + FMA, 0 = portable C.
 * LONG1K_CPU_ISA=0|1 in the environment caps it (tests and benchmarks); read at every call. */
int l1k_cpu_isa(void);

/* C[M,N] = alpha * op(A) op(B) + beta * C, row-major, op = transpose when ta / tb. */
void l1k_gemm(int ta, int tb, int M, int N, int K, float alpha, const float *A, int lda,
              const float *B, int ldb, float beta, float *C, int ldc);
/* Sets OpenBLAS to one thread; returns the previous count for l1k_blas_single_end. */
int l1k_blas_single_begin(void);
void l1k_blas_single_end(int prev);

/* y[N, out] = x[N, in] W[out, in]^T (+ b[out] when b != NULL). Overwrites y. */
void l1k_linear_fw(float *y, const float *x, const float *W, const float *b, int N, int in, int out);
/* Backward of l1k_linear_fw. dx[N,in] = dy W (overwritten when accumulate_dx == 0, else +=);
 * dW[out,in] += dy^T x; db[out] += column sums of dy. Any of dx, dW, db may be NULL. */
void l1k_linear_bw(float *dx, float *dW, float *db, const float *dy, const float *x, const float *W,
                   int N, int in, int out, int accumulate_dx);

/* The lm_head forward, y[N, V] = x[N, C] W[V, C]^T (overwritten), for the large vocabularies:
 * AVX-512 kernels (lmhead.c) with at most `threads` OpenMP threads and a work area of
 * l1k_lm_work_floats(N, C, threads) floats; l1k_linear_fw where l1k_cpu_isa() < 2 or work is
 * NULL. Same bits whatever the number of threads. */
size_t l1k_lm_work_floats(int N, int C, int threads);
void l1k_lm_logits(float *y, const float *x, const float *W, int N, int C, int V, float *work,
                   int threads);

/* RMSNorm (transformers): y = w * x / sqrt(mean(x^2) + eps), per row of C. rstd[N] (optional)
 * receives 1/sqrt(mean(x^2)+eps) for the backward. */
void l1k_rmsnorm_fw(float *y, float *rstd, const float *x, const float *w, int N, int C, float eps);
/* dx[N,C] += d/dx, dw[C] += d/dw (dw may be NULL). */
void l1k_rmsnorm_bw(float *dx, float *dw, const float *dy, const float *x, const float *w,
                    const float *rstd, int N, int C);

/* Rotary embedding. Inverse frequencies [head_dim/2] exactly as transformers computes them
 * (float32; llama3 scaling applied when cfg->rope_type == 1). */
void l1k_rope_inv_freq(const l1k_model_config *cfg, float *inv_freq);
/* cos/sin [n, head_dim/2] for positions pos[n] (float32 angle, as transformers). */
void l1k_rope_table(float *cos_t, float *sin_t, const int32_t *pos, int n, const float *inv_freq,
                    int half);
/* In place on x[n_rows][stride] holding n_heads heads of head_dim at column 0: rotate_half
 * convention (x1, x2 halves). Row r uses cos_t/sin_t row r. Backward: inverse = 1. */
void l1k_rope_apply(float *x, int n_rows, int stride, int n_heads, int head_dim,
                    const float *cos_t, const float *sin_t, int inverse);

/* e^x, vectorizable: round-to-nearest range reduction x = n ln2 + r, |r| <= ln2/2, a degree-6
 * polynomial for e^r (relative error < 2e-7) and 2^n from the exponent bits. x is clamped to
 * [-87, 88] (so e^-inf gives 1.6e-38, not 0); NaN in, NaN out. */
static inline float l1k_exp_fast(float x) {
  float xc = x != x ? 0.0f : x; /* NaN: computed on 0, returned as NaN (no UB conversion) */
  xc = xc < -87.0f ? -87.0f : (xc > 88.0f ? 88.0f : xc);
  float t = xc * 1.44269504088896341f;
  float n = (t + 12582912.0f) - 12582912.0f; /* rint(t) without fast-math */
  float r = xc - n * 0.693359375f - n * -2.12194440e-4f;
  float p = 1.0f + r * (1.0f + r * (0.5f + r * (0.166666672f + r * (0.0416666679f +
                                                    r * (0.00833333377f + r * 0.00138888892f)))));
  int32_t e = ((int32_t)n + 127) << 23;
  float sc;
  memcpy(&sc, &e, 4);
  return x != x ? x : p * sc;
}

/* Numerically stable softmax of x[n] in place (only the first n entries); NaN in, NaN out. */
void l1k_softmax_inplace(float *x, int n);
static inline float l1k_silu(float x) { return x / (1.0f + __builtin_expf(-x)); }

#endif
