/* long1k — the lm_head forward product with AVX-512 kernels (see backend.h).
 *
 *   logits[N, V] = x[N, C] W[V, C]^T
 *
 * With the real vocabularies this product and its two backward products against the [V, C]
 * output embedding are three quarters of a training step's arithmetic. For the forward one,
 * OpenBLAS (0.3.21, SkylakeX kernels) first clears the logits (beta = 0: a 622 MB memset at
 * N = 1024, V = 151,936) and writes them in 128-byte pieces of many rows. Here:
 *
 * - one register tile: 14 rows x 32 columns of logits (28 accumulators); per k two 16-float
 *   loads of W^T and 14 broadcasts of x; result columns past V are masked, rows past N are
 *   computed on zero padding and not stored;
 * - x is packed once as [row block][C][14], so the 14 values of one k are contiguous;
 * - W^T is packed per group of 16 panels of 32 vocabulary columns (512 KB: it stays in L2) and
 *   every row block sweeps the whole group, so each row of logits is written in 2 KB runs;
 * - threads (OpenMP) take contiguous ranges of groups: each writes its own logits columns, and
 *   every logit is one chain of FMAs over k in order (the bits do not depend on the threads).
 *
 * bench/lmhead_bench.c, N = 1024, C = 256, V = 151,936, best of 5, one thread: 150-154 GF/s
 * against OpenBLAS's 137-146 (this CPU's FMA peak: ~170). The same design for the two backward
 * products (one pass over the [N, V] gradient feeding both) reached 124-143 GF/s against
 * OpenBLAS's 143 and was dropped; docs/bench/model.md has the numbers.
 */
#include <omp.h>
#include <stdint.h>
#include <string.h>
#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include "long1k/backend.h"

#define MR 14  /* rows of the register tile */
#define NR 32  /* columns of the register tile */
#define KC 256 /* k-block of the forward */
#define FG 16  /* panels of NR vocabulary columns per packed group of W^T */

static size_t round_up(size_t n, size_t m) { return (n + m - 1) / m * m; }

/* work: [x packed: N rounded up to MR, times C] [per thread: one packed group of W^T] */
static size_t xpack_floats(int N, int C) { return round_up(round_up((size_t)N, MR) * (size_t)C, 16); }
static size_t thread_floats(void) { return (size_t)FG * KC * NR; }
size_t l1k_lm_work_floats(int N, int C, int threads) {
  if (N <= 0 || C <= 0) return 0;
  return xpack_floats(N, C) + (size_t)(threads > 0 ? threads : 1) * thread_floats();
}

#if defined(__x86_64__)
#define AVX512 __attribute__((target("avx512f")))

static void col_masks(int n, __mmask16 *m0, __mmask16 *m1) {
  *m0 = n >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << n) - 1u);
  *m1 = n >= 32 ? (__mmask16)0xFFFF : (n <= 16 ? 0 : (__mmask16)((1u << (n - 16)) - 1u));
}

/* C[r][0..32) (+)= sum over k < K of Ap[k * 14 + r] * B[k * ldb + 0..32), for r < mr; the
 * columns masked by m0 (0..15) and m1 (16..31). */
#define TILE_DECL                                                                             \
  __m512 c00, c01, c10, c11, c20, c21, c30, c31, c40, c41, c50, c51, c60, c61, c70, c71, c80, \
      c81, c90, c91, ca0, ca1, cb0, cb1, cc0, cc1, cd0, cd1;                                  \
  c00 = c01 = c10 = c11 = c20 = c21 = c30 = c31 = c40 = c41 = c50 = c51 = c60 = c61 = c70 =   \
      c71 = c80 = c81 = c90 = c91 = ca0 = ca1 = cb0 = cb1 = cc0 = cc1 = cd0 = cd1 =           \
          _mm512_setzero_ps();
#define TILE_ROWS(X)                                                                          \
  X(0, c00, c01) X(1, c10, c11) X(2, c20, c21) X(3, c30, c31) X(4, c40, c41) X(5, c50, c51)   \
  X(6, c60, c61) X(7, c70, c71) X(8, c80, c81) X(9, c90, c91) X(10, ca0, ca1) X(11, cb0, cb1) \
  X(12, cc0, cc1) X(13, cd0, cd1)
#define TILE_LOAD(i, x0, x1)                                       \
  if (i < mr) {                                                    \
    x0 = _mm512_maskz_loadu_ps(m0, C + (size_t)(i) * ldc);         \
    x1 = _mm512_maskz_loadu_ps(m1, C + (size_t)(i) * ldc + 16);    \
  }
#define TILE_STORE(i, x0, x1)                                   \
  if (i < mr) {                                                 \
    _mm512_mask_storeu_ps(C + (size_t)(i) * ldc, m0, x0);       \
    _mm512_mask_storeu_ps(C + (size_t)(i) * ldc + 16, m1, x1);  \
  }
#define LOAD_B(Bk)                               \
  if (masked) {                                  \
    b0 = _mm512_maskz_loadu_ps(m0, (Bk));        \
    b1 = _mm512_maskz_loadu_ps(m1, (Bk) + 16);   \
  } else {                                       \
    b0 = _mm512_loadu_ps(Bk);                    \
    b1 = _mm512_loadu_ps((Bk) + 16);             \
  }

static inline __attribute__((always_inline, target("avx512f"))) void tile_packed(
    float *C, size_t ldc, const float *Ap, const float *B, size_t ldb, int K, int mr,
    __mmask16 m0, __mmask16 m1, int load_c, int masked) {
  TILE_DECL
  if (load_c) { TILE_ROWS(TILE_LOAD) }
  for (int k = 0; k < K; k++) {
    __m512 b0, b1, a;
    LOAD_B(B)
#define FMA(i, x0, x1)             \
  a = _mm512_set1_ps(Ap[i]);       \
  x0 = _mm512_fmadd_ps(a, b0, x0); \
  x1 = _mm512_fmadd_ps(a, b1, x1);
    TILE_ROWS(FMA)
#undef FMA
    Ap += MR;
    B += ldb;
  }
  TILE_ROWS(TILE_STORE)
}

AVX512 static void tile_packed_full(float *C, size_t ldc, const float *Ap, const float *B,
                                    size_t ldb, int K, int load_c) {
  tile_packed(C, ldc, Ap, B, ldb, K, MR, 0xFFFF, 0xFFFF, load_c, 0);
}
AVX512 static void tile_packed_part(float *C, size_t ldc, const float *Ap, const float *B,
                                    size_t ldb, int K, int mr, __mmask16 m0, __mmask16 m1,
                                    int load_c) {
  tile_packed(C, ldc, Ap, B, ldb, K, mr, m0, m1, load_c, 1);
}
static void tile_a(float *C, size_t ldc, const float *Ap, const float *B, size_t ldb, int K,
                   int mr, __mmask16 m0, __mmask16 m1, int load_c) {
  if (mr == MR && m0 == 0xFFFF && m1 == 0xFFFF)
    tile_packed_full(C, ldc, Ap, B, ldb, K, load_c);
  else
    tile_packed_part(C, ldc, Ap, B, ldb, K, mr, m0, m1, load_c);
}

/* Range [*lo, *hi) of n items for thread t of nt. */
static void split(int n, int t, int nt, int *lo, int *hi) {
  *lo = (int)((long)n * t / nt);
  *hi = (int)((long)n * (t + 1) / nt);
}

AVX512 static void logits_avx512(float *y, const float *x, const float *W, int N, int C, int V,
                                 float *work, int threads) {
  int nb = (N + MR - 1) / MR, np = (V + NR - 1) / NR, ng = (np + FG - 1) / FG;
  float *xp = work;
  size_t tf = thread_floats();
  float *tbase = work + xpack_floats(N, C);
  /* x packed as [row block][C][14] */
#pragma omp parallel for schedule(static) num_threads(threads) if ((size_t)N * C > L1K_PAR_MIN)
  for (int b = 0; b < nb; b++) {
    float *d = xp + (size_t)b * MR * C;
    for (int r = 0; r < MR; r++) {
      int row = b * MR + r;
      for (int k = 0; k < C; k++) d[(size_t)k * MR + r] = row < N ? x[(size_t)row * C + k] : 0.0f;
    }
  }
#pragma omp parallel num_threads(threads)
  {
    int t = omp_get_thread_num(), g0, g1;
    split(ng, t, omp_get_num_threads(), &g0, &g1);
    float *wt = tbase + (size_t)t * tf; /* [FG][kb][NR] */
    for (int g = g0; g < g1; g++) {
      int p0 = g * FG, pn = np - p0 < FG ? np - p0 : FG;
      for (int k0 = 0; k0 < C; k0 += KC) {
        int kb = C - k0 < KC ? C - k0 : KC;
        for (int p = 0; p < pn; p++)
          for (int j = 0; j < NR; j++) {
            int v = (p0 + p) * NR + j;
            float *d = wt + (size_t)p * kb * NR + j;
            if (v < V) {
              const float *s = W + (size_t)v * C + k0;
              for (int k = 0; k < kb; k++) d[(size_t)k * NR] = s[k];
            } else {
              for (int k = 0; k < kb; k++) d[(size_t)k * NR] = 0.0f;
            }
          }
        for (int b = 0; b < nb; b++) {
          int mr = N - b * MR < MR ? N - b * MR : MR;
          for (int p = 0; p < pn; p++) {
            int v0 = (p0 + p) * NR;
            __mmask16 m0, m1;
            col_masks(V - v0, &m0, &m1);
            tile_a(y + (size_t)b * MR * V + v0, (size_t)V, xp + (size_t)b * MR * C + (size_t)k0 * MR,
                   wt + (size_t)p * kb * NR, NR, kb, mr, m0, m1, k0 > 0);
          }
        }
      }
    }
  }
}

#endif

void l1k_lm_logits(float *y, const float *x, const float *W, int N, int C, int V, float *work,
                   int threads) {
  if (N <= 0 || V <= 0) return;
#if defined(__x86_64__)
  if (l1k_cpu_isa() >= 2 && C > 0 && work) {
    logits_avx512(y, x, W, N, C, V, work, threads > 0 ? threads : 1);
    return;
  }
#endif
  l1k_linear_fw(y, x, W, NULL, N, C, V);
}
