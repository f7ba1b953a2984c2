/* long1k — CPU kernels: see include/long1k/backend.h. */
#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "long1k/backend.h"

/* ---- OpenBLAS core selection -------------------------------------------------------------
 * OpenBLAS 0.3.21 (Debian 12) does not know Sapphire Rapids and newer Xeons and falls back to
 * its Prescott (SSE3) kernels: sgemm runs 3-4x slower than it should. When the CPU has AVX-512
 * (or AVX2), OpenBLAS picked Prescott and the user did not choose a core with
 * OPENBLAS_CORETYPE, we redo its core selection once with SkylakeX (or Haswell). The hooks are
 * weak: a build of OpenBLAS without them (no DYNAMIC_ARCH) is left alone. */
extern char *openblas_get_corename(void) __attribute__((weak));
extern void gotoblas_dynamic_init(void) __attribute__((weak));
extern void gotoblas_dynamic_quit(void) __attribute__((weak));

static void pick_blas_core(void) {
  if (!openblas_get_corename || !gotoblas_dynamic_init || !gotoblas_dynamic_quit) return;
  if (getenv("OPENBLAS_CORETYPE")) return;
  const char *core = openblas_get_corename();
  if (!core || strcasecmp(core, "prescott") != 0) return;
  __builtin_cpu_init();
  const char *want = NULL;
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
      __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq"))
    want = "SkylakeX";
  else if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
    want = "Haswell";
  if (!want) return;
  setenv("OPENBLAS_CORETYPE", want, 0);
  gotoblas_dynamic_quit();
  gotoblas_dynamic_init();
}

int l1k_cpu_isa(void) {
  int isa = 0;
#if defined(__x86_64__)
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) isa = 1;
  if (isa && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw")) isa = 2;
#endif
  const char *cap = getenv("LONG1K_CPU_ISA");
  if (cap && *cap >= '0' && *cap <= '2' && *cap - '0' < isa) isa = *cap - '0';
  return isa;
}

void l1k_backend_init(void) {
  static pthread_once_t once = PTHREAD_ONCE_INIT;
  pthread_once(&once, pick_blas_core);
}

/* ---- matrix products ----------------------------------------------------------------------
 * One threading runtime: OpenMP splits a large product into row / column blocks and each thread
 * runs a single-threaded OpenBLAS sgemm on its block. (Letting OpenBLAS's own pthreads run
 * between OpenMP regions makes the two pools spin against each other: 2x slower on 2 cores.) */
void l1k_gemm(int ta, int tb, int M, int N, int K, float alpha, const float *A, int lda,
              const float *B, int ldb, float beta, float *C, int ldc) {
  if (M <= 0 || N <= 0) return;
  enum CBLAS_TRANSPOSE TA = ta ? CblasTrans : CblasNoTrans, TB = tb ? CblasTrans : CblasNoTrans;
  int nt = omp_in_parallel() ? 1 : omp_get_max_threads();
  double flops = 2.0 * M * N * (double)K;
  if (nt <= 1 || flops < 8e6) {
    cblas_sgemm(CblasRowMajor, TA, TB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    return;
  }
  int split_m = M >= N;
  int D = split_m ? M : N, unit = split_m ? 4 : 16;
  if (D < nt * unit) nt = D / unit > 0 ? D / unit : 1;
#pragma omp parallel for schedule(static) num_threads(nt)
  for (int p = 0; p < nt; p++) {
    int blocks = (D + unit - 1) / unit;
    int b0 = (int)((long)blocks * p / nt), b1 = (int)((long)blocks * (p + 1) / nt);
    int d0 = b0 * unit, d1 = b1 * unit < D ? b1 * unit : D;
    if (d1 <= d0) continue;
    if (split_m) {
      const float *Ap = ta ? A + d0 : A + (size_t)d0 * lda;
      cblas_sgemm(CblasRowMajor, TA, TB, d1 - d0, N, K, alpha, Ap, lda, B, ldb, beta,
                  C + (size_t)d0 * ldc, ldc);
    } else {
      const float *Bp = tb ? B + (size_t)d0 * ldb : B + d0;
      cblas_sgemm(CblasRowMajor, TA, TB, M, d1 - d0, K, alpha, A, lda, Bp, ldb, beta, C + d0, ldc);
    }
  }
}

int l1k_blas_single_begin(void) {
  int prev = openblas_get_num_threads();
  if (prev != 1) openblas_set_num_threads(1);
  return prev;
}

void l1k_blas_single_end(int prev) {
  if (prev != 1 && prev > 0) openblas_set_num_threads(prev);
}

void l1k_linear_fw(float *y, const float *x, const float *W, const float *b, int N, int in,
                   int out) {
  if (N <= 0 || out <= 0) return;
  l1k_gemm(0, 1, N, out, in, 1.0f, x, in, W, in, 0.0f, y, out);
  if (b) {
#pragma omp parallel for schedule(static) if ((size_t)N * out > L1K_PAR_MIN)
    for (int i = 0; i < N; i++) {
      float *r = y + (size_t)i * out;
      for (int j = 0; j < out; j++) r[j] += b[j];
    }
  }
}

void l1k_linear_bw(float *dx, float *dW, float *db, const float *dy, const float *x, const float *W,
                   int N, int in, int out, int accumulate_dx) {
  if (N <= 0) return;
  if (dx)
    l1k_gemm(0, 0, N, in, out, 1.0f, dy, out, W, in, accumulate_dx ? 1.0f : 0.0f, dx, in);
  if (dW)
    l1k_gemm(1, 0, out, in, N, 1.0f, dy, out, x, in, 1.0f, dW, in);
  if (db) {
#pragma omp parallel for schedule(static) if ((size_t)N * out > L1K_PAR_MIN)
    for (int j = 0; j < out; j++) {
      double s = 0;
      for (int i = 0; i < N; i++) s += dy[(size_t)i * out + j];
      db[j] += (float)s;
    }
  }
}

void l1k_rmsnorm_fw(float *y, float *rstd, const float *x, const float *w, int N, int C, float eps) {
#pragma omp parallel for schedule(static) if ((size_t)N * C > L1K_PAR_MIN)
  for (int i = 0; i < N; i++) {
    const float *xr = x + (size_t)i * C;
    float *yr = y + (size_t)i * C;
    double ss = 0;
    for (int j = 0; j < C; j++) ss += (double)xr[j] * xr[j];
    float r = (float)(1.0 / sqrt(ss / C + eps));
    if (rstd) rstd[i] = r;
    for (int j = 0; j < C; j++) yr[j] = w[j] * (xr[j] * r);
  }
}

void l1k_rmsnorm_bw(float *dx, float *dw, const float *dy, const float *x, const float *w,
                    const float *rstd, int N, int C) {
  /* y = w * xhat, xhat = x * r. dx = r * (g - xhat * mean(g * xhat)), g = dy * w */
#pragma omp parallel for schedule(static) if ((size_t)N * C > L1K_PAR_MIN)
  for (int i = 0; i < N; i++) {
    const float *xr = x + (size_t)i * C, *dyr = dy + (size_t)i * C;
    float *dxr = dx + (size_t)i * C;
    float r = rstd[i];
    double dot = 0;
    for (int j = 0; j < C; j++) dot += (double)dyr[j] * w[j] * xr[j] * r;
    float m = (float)(dot / C);
    for (int j = 0; j < C; j++) {
      float xh = xr[j] * r;
      dxr[j] += r * (dyr[j] * w[j] - xh * m);
    }
  }
  if (dw) {
#pragma omp parallel for schedule(static) if ((size_t)N * C > L1K_PAR_MIN)
    for (int j = 0; j < C; j++) {
      double s = 0;
      for (int i = 0; i < N; i++) s += (double)dy[(size_t)i * C + j] * x[(size_t)i * C + j] * rstd[i];
      dw[j] += (float)s;
    }
  }
}

void l1k_rope_inv_freq(const l1k_model_config *cfg, float *inv_freq) {
  int dim = cfg->head_dim, half = dim / 2;
  for (int i = 0; i < half; i++) {
    float e = (float)(2 * i) / (float)dim;
    float p = (float)pow(cfg->rope_theta, (double)e);
    inv_freq[i] = 1.0f / p;
  }
  if (cfg->rope_type == 1) { /* llama3 */
    double factor = cfg->rope_factor, lo = cfg->rope_low_freq_factor, hi = cfg->rope_high_freq_factor;
    double old = cfg->rope_original_max_position;
    double lo_wl = old / lo, hi_wl = old / hi;
    for (int i = 0; i < half; i++) {
      float f = inv_freq[i];
      float wl = (float)(2.0 * M_PI) / f;
      float out = wl > (float)lo_wl ? f / (float)factor : f;
      if (!(wl < (float)hi_wl) && !(wl > (float)lo_wl)) {
        float smooth = ((float)old / wl - (float)lo) / ((float)hi - (float)lo);
        out = (1.0f - smooth) * out / (float)factor + smooth * out;
      }
      inv_freq[i] = out;
    }
  }
}

void l1k_rope_table(float *cos_t, float *sin_t, const int32_t *pos, int n, const float *inv_freq,
                    int half) {
#pragma omp parallel for schedule(static) if ((size_t)n * half > L1K_PAR_MIN / 8)
  for (int r = 0; r < n; r++) {
    for (int i = 0; i < half; i++) {
      float a = inv_freq[i] * (float)pos[r];
      cos_t[(size_t)r * half + i] = (float)cos((double)a);
      sin_t[(size_t)r * half + i] = (float)sin((double)a);
    }
  }
}

void l1k_rope_apply(float *x, int n_rows, int stride, int n_heads, int head_dim,
                    const float *cos_t, const float *sin_t, int inverse) {
  int half = head_dim / 2;
  float sgn = inverse ? -1.0f : 1.0f;
#pragma omp parallel for schedule(static) if ((size_t)n_rows * n_heads * head_dim > L1K_PAR_MIN)
  for (int r = 0; r < n_rows; r++) {
    const float *c = cos_t + (size_t)r * half, *s = sin_t + (size_t)r * half;
    for (int h = 0; h < n_heads; h++) {
      float *v = x + (size_t)r * stride + (size_t)h * head_dim;
      for (int i = 0; i < half; i++) {
        float a = v[i], b = v[i + half], si = sgn * s[i];
        v[i] = a * c[i] - b * si;
        v[i + half] = b * c[i] + a * si;
      }
    }
  }
}

__attribute__((target_clones("avx512f", "avx2", "default")))
void l1k_softmax_inplace(float *x, int n) {
  float mx = -INFINITY;
  int bad = 0;
#pragma omp simd reduction(max : mx) reduction(| : bad)
  for (int i = 0; i < n; i++) {
    mx = x[i] > mx ? x[i] : mx;
    bad |= !(fabsf(x[i]) <= 3.0e38f);
  }
  if (bad) { /* NaN / inf scores: leave the exact path (and NaN propagates) */
    double s = 0;
    for (int i = 0; i < n; i++) s += (x[i] = expf(x[i] - mx));
    for (int i = 0; i < n; i++) x[i] = (float)(x[i] / s);
    return;
  }
  float s = 0.0f;
#pragma omp simd reduction(+ : s)
  for (int i = 0; i < n; i++) {
    float e = l1k_exp_fast(x[i] - mx);
    x[i] = e;
    s += e;
  }
  float inv = 1.0f / s;
#pragma omp simd
  for (int i = 0; i < n; i++) x[i] *= inv;
}
