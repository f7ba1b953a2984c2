/* long1k — decode kernels: y = x W^T with W stored as bfloat16.
 *
 * Decoding a few rows at a time is bound by reading the weights. A checkpoint stored in
 * bfloat16 (as Qwen and Llama ship) holds weights whose float32 values have zero low halves,
 * so keeping them as bf16 is exact and halves the bytes read per token; the products are
 * computed in float32 from the widened values (the same numbers the float32 path multiplies,
 * summed in another order). The generator only takes this path after checking that every
 * weight of a matrix is exactly representable.
 *
 * Threads of the generator's pool split the output rows in chunks of multiples of 4; a tile of weight rows stays in L1
 * while every block of 4 batch rows passes over it, so a step reads each weight once whatever
 * the batch. AVX-512 (4x4 tiles, float32 weights only: bf16 weights on AVX-512 use the panel
 * layout of generate_panels.c) or AVX2+FMA (2x4 tiles) are chosen at run time; the sums of a
 * row do not depend on the batch size, so a sequence decodes to the same bits alone or batched.
 * LONG1K_CPU_ISA=1 (AVX2) or 0 (portable C) caps the choice (l1k_cpu_isa).
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <immintrin.h>

#include "long1k/backend.h"
#include "model/generate_internal.h"

int l1k_gen_to_bf16_exact(const float *src, uint16_t *dst, size_t n) {
  for (size_t i = 0; i < n; i++) {
    uint32_t u;
    memcpy(&u, &src[i], 4);
    if (u & 0xFFFFu) return 0;
    dst[i] = (uint16_t)(u >> 16);
  }
  return 1;
}

static inline float bf16f(uint16_t h) {
  uint32_t u = (uint32_t)h << 16;
  float f;
  memcpy(&f, &u, 4);
  return f;
}

/* scalar reference path */
static void rows_scalar(float *y, const float *x, const uint16_t *W, int n, int od, int id, int j0, int j1,
                        int accumulate) {
  for (int j = j0; j < j1; j++) {
    const uint16_t *w = W + (size_t)j * id;
    for (int r = 0; r < n; r++) {
      const float *xr = x + (size_t)r * id;
      float s = 0.0f;
      for (int k = 0; k < id; k++) s += bf16f(w[k]) * xr[k];
      float *o = y + (size_t)r * od + j;
      *o = accumulate ? *o + s : s;
    }
  }
}

static void rows_scalar_f32(float *y, const float *x, const float *W, int n, int od, int id, int j0, int j1,
                            int accumulate) {
  for (int j = j0; j < j1; j++) {
    const float *w = W + (size_t)j * id;
    for (int r = 0; r < n; r++) {
      const float *xr = x + (size_t)r * id;
      float s = 0.0f;
      for (int k = 0; k < id; k++) s += w[k] * xr[k];
      float *o = y + (size_t)r * od + j;
      *o = accumulate ? *o + s : s;
    }
  }
}

__attribute__((target("avx2,fma"))) static inline float hsum256(__m256 v) {
  __m128 lo = _mm256_castps256_ps128(v), hi = _mm256_extractf128_ps(v, 1);
  lo = _mm_add_ps(lo, hi);
  lo = _mm_add_ps(lo, _mm_movehl_ps(lo, lo));
  lo = _mm_add_ss(lo, _mm_shuffle_ps(lo, lo, 1));
  return _mm_cvtss_f32(lo);
}

__attribute__((target("avx2,fma"))) static inline __m256 load_bf16x8(const uint16_t *p) {
  __m128i h = _mm_loadu_si128((const __m128i *)p);
  return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
}

/* AVX2 tiles: two weight rows (j, j+1) against up to 4 batch rows, 8 accumulators. The
 * weight-row pair stays in L1 while every block of batch rows passes over it, so a step reads
 * each weight once whatever the batch. id must be a multiple of 8 (checked by the caller). */
#define DEFINE_ROWS_AVX2(NAME, WT, LOAD)                                                               \
  __attribute__((target("avx2,fma"))) static void NAME(float *y, const float *x, const WT *W, int n, int od, \
                                                       int id, int j0, int j1, int accumulate) {        \
    int j = j0;                                                                                        \
    for (; j + 1 < j1; j += 2) {                                                                       \
      const WT *w0 = W + (size_t)j * id, *w1 = w0 + id;                                                \
      for (int r0 = 0; r0 < n; r0 += 4) {                                                              \
        int nb = n - r0 < 4 ? n - r0 : 4;                                                              \
        const float *xb = x + (size_t)r0 * id;                                                         \
        /* rows past nb read row 0 again (always valid memory); their sums are dropped */              \
        const float *x1p = xb + (nb > 1 ? (size_t)id : 0), *x2p = xb + (nb > 2 ? 2 * (size_t)id : 0);  \
        const float *x3p = xb + (nb > 3 ? 3 * (size_t)id : 0);                                         \
        __m256 a00 = _mm256_setzero_ps(), a01 = a00, a02 = a00, a03 = a00;                             \
        __m256 a10 = a00, a11 = a00, a12 = a00, a13 = a00;                                             \
        for (int k = 0; k < id; k += 8) {                                                              \
          __m256 v0 = LOAD(w0 + k), v1 = LOAD(w1 + k);                                                 \
          __m256 x0 = _mm256_loadu_ps(xb + k), x1 = _mm256_loadu_ps(x1p + k);                          \
          __m256 x2 = _mm256_loadu_ps(x2p + k), x3 = _mm256_loadu_ps(x3p + k);                         \
          a00 = _mm256_fmadd_ps(v0, x0, a00);                                                          \
          a01 = _mm256_fmadd_ps(v0, x1, a01);                                                          \
          a02 = _mm256_fmadd_ps(v0, x2, a02);                                                          \
          a03 = _mm256_fmadd_ps(v0, x3, a03);                                                          \
          a10 = _mm256_fmadd_ps(v1, x0, a10);                                                          \
          a11 = _mm256_fmadd_ps(v1, x1, a11);                                                          \
          a12 = _mm256_fmadd_ps(v1, x2, a12);                                                          \
          a13 = _mm256_fmadd_ps(v1, x3, a13);                                                          \
        }                                                                                              \
        float s0[4] = {hsum256(a00), hsum256(a01), hsum256(a02), hsum256(a03)};                        \
        float s1[4] = {hsum256(a10), hsum256(a11), hsum256(a12), hsum256(a13)};                        \
        for (int b = 0; b < nb; b++) {                                                                 \
          float *o = y + (size_t)(r0 + b) * od + j;                                                    \
          o[0] = accumulate ? o[0] + s0[b] : s0[b];                                                    \
          o[1] = accumulate ? o[1] + s1[b] : s1[b];                                                    \
        }                                                                                              \
      }                                                                                                \
    }                                                                                                  \
    if (j < j1) ROWS_SCALAR_##WT(y, x, W, n, od, id, j, j1, accumulate);                               \
  }

#define ROWS_SCALAR_uint16_t rows_scalar
#define ROWS_SCALAR_float rows_scalar_f32
DEFINE_ROWS_AVX2(rows_avx2, uint16_t, load_bf16x8)
DEFINE_ROWS_AVX2(rows_avx2_f32, float, _mm256_loadu_ps)

/* AVX-512 tiles: four weight rows against up to 4 batch rows (16 accumulators of 16 floats);
 * id must be a multiple of 16. Rows of a thread's range past the last multiple of 4 go through
 * the AVX2 path. */
__attribute__((target("avx512f,avx512bw"))) static inline __m512 load16_f32(const float *p) {
  return _mm512_loadu_ps(p);
}

__attribute__((target("avx512f"))) static inline __m256 hi256(__m512 v) {
  return _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1));
}

/* the four horizontal sums of a, b, c, d as one vector {sum a, sum b, sum c, sum d} (a fixed
 * order of additions, the same for every batch size) */
__attribute__((target("avx512f,avx512bw"))) static inline __m128 hsum4x512(__m512 a, __m512 b, __m512 c, __m512 d) {
  __m256 a8 = _mm256_add_ps(_mm512_castps512_ps256(a), hi256(a));
  __m256 b8 = _mm256_add_ps(_mm512_castps512_ps256(b), hi256(b));
  __m256 c8 = _mm256_add_ps(_mm512_castps512_ps256(c), hi256(c));
  __m256 d8 = _mm256_add_ps(_mm512_castps512_ps256(d), hi256(d));
  __m256 ab = _mm256_hadd_ps(a8, b8); /* a01 a23 b01 b23 | a45 a67 b45 b67 */
  __m256 cd = _mm256_hadd_ps(c8, d8);
  __m256 abcd = _mm256_hadd_ps(ab, cd); /* a0-3 b0-3 c0-3 d0-3 | a4-7 b4-7 c4-7 d4-7 */
  return _mm_add_ps(_mm256_castps256_ps128(abcd), _mm256_extractf128_ps(abcd, 1));
}

#define DEFINE_ROWS_AVX512(NAME, WT, LOAD, TAIL)                                                        \
  __attribute__((target("avx512f,avx512bw"))) static void NAME(float *y, const float *x, const WT *W, int n, \
                                                              int od, int id, int j0, int j1, int accumulate) { \
    int j = j0;                                                                                          \
    for (; j + 3 < j1; j += 4) {                                                                         \
      const WT *w0 = W + (size_t)j * id, *w1 = w0 + id, *w2 = w1 + id, *w3 = w2 + id;                   \
      for (int r0 = 0; r0 < n; r0 += 4) {                                                                \
        int nb = n - r0 < 4 ? n - r0 : 4;                                                                \
        const float *xb = x + (size_t)r0 * id;                                                           \
        if (nb == 1) { /* one row (batch-1 decode): 4 accumulators, no wasted products */               \
          __m512 c0 = _mm512_setzero_ps(), c1 = c0, c2 = c0, c3 = c0;                                    \
          for (int k = 0; k < id; k += 16) {                                                             \
            __m512 x0 = _mm512_loadu_ps(xb + k);                                                         \
            c0 = _mm512_fmadd_ps(LOAD(w0 + k), x0, c0);                                                  \
            c1 = _mm512_fmadd_ps(LOAD(w1 + k), x0, c1);                                                  \
            c2 = _mm512_fmadd_ps(LOAD(w2 + k), x0, c2);                                                  \
            c3 = _mm512_fmadd_ps(LOAD(w3 + k), x0, c3);                                                  \
          }                                                                                              \
          float *o = y + (size_t)r0 * od + j;                                                            \
          __m128 s4 = hsum4x512(c0, c1, c2, c3);                                                         \
          if (accumulate) s4 = _mm_add_ps(s4, _mm_loadu_ps(o));                                          \
          _mm_storeu_ps(o, s4);                                                                          \
          continue;                                                                                      \
        }                                                                                                \
        const float *x1p = xb + (nb > 1 ? (size_t)id : 0), *x2p = xb + (nb > 2 ? 2 * (size_t)id : 0);    \
        const float *x3p = xb + (nb > 3 ? 3 * (size_t)id : 0);                                           \
        __m512 a[4][4];                                                                                  \
        for (int u = 0; u < 4; u++)                                                                      \
          for (int b = 0; b < 4; b++) a[u][b] = _mm512_setzero_ps();                                     \
        for (int k = 0; k < id; k += 16) {                                                               \
          __m512 x0 = _mm512_loadu_ps(xb + k), x1 = _mm512_loadu_ps(x1p + k);                            \
          __m512 x2 = _mm512_loadu_ps(x2p + k), x3 = _mm512_loadu_ps(x3p + k);                           \
          __m512 v;                                                                                      \
          v = LOAD(w0 + k);                                                                              \
          a[0][0] = _mm512_fmadd_ps(v, x0, a[0][0]);                                                     \
          a[0][1] = _mm512_fmadd_ps(v, x1, a[0][1]);                                                     \
          a[0][2] = _mm512_fmadd_ps(v, x2, a[0][2]);                                                     \
          a[0][3] = _mm512_fmadd_ps(v, x3, a[0][3]);                                                     \
          v = LOAD(w1 + k);                                                                              \
          a[1][0] = _mm512_fmadd_ps(v, x0, a[1][0]);                                                     \
          a[1][1] = _mm512_fmadd_ps(v, x1, a[1][1]);                                                     \
          a[1][2] = _mm512_fmadd_ps(v, x2, a[1][2]);                                                     \
          a[1][3] = _mm512_fmadd_ps(v, x3, a[1][3]);                                                     \
          v = LOAD(w2 + k);                                                                              \
          a[2][0] = _mm512_fmadd_ps(v, x0, a[2][0]);                                                     \
          a[2][1] = _mm512_fmadd_ps(v, x1, a[2][1]);                                                     \
          a[2][2] = _mm512_fmadd_ps(v, x2, a[2][2]);                                                     \
          a[2][3] = _mm512_fmadd_ps(v, x3, a[2][3]);                                                     \
          v = LOAD(w3 + k);                                                                              \
          a[3][0] = _mm512_fmadd_ps(v, x0, a[3][0]);                                                     \
          a[3][1] = _mm512_fmadd_ps(v, x1, a[3][1]);                                                     \
          a[3][2] = _mm512_fmadd_ps(v, x2, a[3][2]);                                                     \
          a[3][3] = _mm512_fmadd_ps(v, x3, a[3][3]);                                                     \
        }                                                                                                \
        for (int b = 0; b < nb; b++) {                                                                   \
          float *o = y + (size_t)(r0 + b) * od + j;                                                      \
          __m128 s4 = hsum4x512(a[0][b], a[1][b], a[2][b], a[3][b]);                                     \
          if (accumulate) s4 = _mm_add_ps(s4, _mm_loadu_ps(o));                                          \
          _mm_storeu_ps(o, s4);                                                                          \
        }                                                                                                \
      }                                                                                                  \
    }                                                                                                    \
    if (j < j1) TAIL(y, x, W, n, od, id, j, j1, accumulate);                                             \
  }

DEFINE_ROWS_AVX512(rows_avx512_f32, float, load16_f32, rows_avx2_f32)

typedef struct lin_job {
  int isa, n, od, id, accumulate, rows; /* rows per chunk, a multiple of 4 */
  float *y;
  const float *x;
  const uint16_t *W16;
  const float *W32;
} lin_job;

static void lin_chunk(void *arg, int c, int thread) {
  (void)thread;
  const lin_job *L = arg;
  int j0 = c * L->rows, j1 = j0 + L->rows < L->od ? j0 + L->rows : L->od;
  int simd = L->isa >= 1 && L->id % 8 == 0, wide = L->isa >= 2 && L->id % 16 == 0;
  /* bf16 weights on AVX-512 machines are in panel layout (generate_panels.c), never here */
  if (!L->W16 && wide)
    rows_avx512_f32(L->y, L->x, L->W32, L->n, L->od, L->id, j0, j1, L->accumulate);
  else if (L->W16 && simd)
    rows_avx2(L->y, L->x, L->W16, L->n, L->od, L->id, j0, j1, L->accumulate);
  else if (L->W16)
    rows_scalar(L->y, L->x, L->W16, L->n, L->od, L->id, j0, j1, L->accumulate);
  else if (simd)
    rows_avx2_f32(L->y, L->x, L->W32, L->n, L->od, L->id, j0, j1, L->accumulate);
  else
    rows_scalar_f32(L->y, L->x, L->W32, L->n, L->od, L->id, j0, j1, L->accumulate);
}

/* Chunks of output rows are multiples of 4, so the rows that fall to the narrower tail paths
 * (od % 4 at the very end) are the same whatever the number of threads. */
static void linear_any(int isa, l1k_gen_pool *pool, float *y, const float *x, const uint16_t *W16, const float *W32,
                       const float *bias, int n, int od, int id, int accumulate) {
  lin_job L = {isa, n, od, id, accumulate, od, y, x, W16, W32};
  long work = (long)n * od * id;
  int nt = l1k_gen_pool_threads(pool);
  int chunks = work < 65536 || nt == 1 ? 1 : nt * 8;
  int rows = (od + chunks - 1) / chunks;
  rows = (rows + 3) & ~3;
  if (rows < 16 && chunks > 1) rows = 16;
  L.rows = rows;
  l1k_gen_pool_run(pool, lin_chunk, &L, (od + rows - 1) / rows);
  if (bias)
    for (int r = 0; r < n; r++) {
      float *o = y + (size_t)r * od;
      for (int j = 0; j < od; j++) o[j] += bias[j];
    }
}

void l1k_gen_linear_bf16(int isa, l1k_gen_pool *pool, float *y, const float *x, const uint16_t *W, const float *bias,
                         int n, int od, int id, int accumulate) {
  linear_any(isa, pool, y, x, W, NULL, bias, n, od, id, accumulate);
}

void l1k_gen_linear_f32(int isa, l1k_gen_pool *pool, float *y, const float *x, const float *W, const float *bias,
                        int n, int od, int id, int accumulate) {
  linear_any(isa, pool, y, x, NULL, W, bias, n, od, id, accumulate);
}

/* ---- attention over the cache ------------------------------------------------------------
 * One KV head and the grp query heads that share it (GQA): each cached key and value is read
 * once for the whole group. q: [grp][hd], K, V: [npos][hd], sc: [grp][npos] scratch,
 * out: [grp][hd]. Softmax in float32 with the max subtracted, as transformers' eager path. */
#define DEFINE_ATTEND(NAME, TARGET, VEC, WIDTH, SETZERO, LOADU, STOREU, FMADD, SET1, MUL, HSUM, SCORES4)          \
  TARGET static void NAME(const float *q, const float *K, const float *V, int npos, int hd, int grp,      \
                          float scale, float *sc, float *out) {                                           \
    int t0 = SCORES4(q, K, npos, hd, grp, scale, sc); /* blocks of 4 positions, or 0 */            \
    for (int t = t0; t < npos; t++) {                                                                     \
      const float *kt = K + (size_t)t * hd;                                                               \
      for (int h = 0; h < grp; h++) {                                                                     \
        const float *qh = q + (size_t)h * hd;                                                             \
        VEC acc0 = SETZERO(), acc1 = SETZERO();                                                           \
        int i = 0;                                                                                        \
        for (; i + 2 * WIDTH <= hd; i += 2 * WIDTH) {                                                     \
          acc0 = FMADD(LOADU(qh + i), LOADU(kt + i), acc0);                                               \
          acc1 = FMADD(LOADU(qh + i + WIDTH), LOADU(kt + i + WIDTH), acc1);                               \
        }                                                                                                 \
        for (; i < hd; i += WIDTH) acc0 = FMADD(LOADU(qh + i), LOADU(kt + i), acc0);                      \
        sc[(size_t)h * npos + t] = HSUM(ADD_##VEC(acc0, acc1)) * scale;                                   \
      }                                                                                                   \
    }                                                                                                     \
    for (int h = 0; h < grp; h++) {                                                                       \
      float *s = sc + (size_t)h * npos;                                                                   \
      float mx = s[0];                                                                                    \
      for (int t = 1; t < npos; t++) mx = s[t] > mx ? s[t] : mx;                                          \
      float sum = 0.0f;                                                                                   \
      for (int t = 0; t < npos; t++) {                                                                    \
        s[t] = l1k_exp_fast(s[t] - mx);                                                                   \
        sum += s[t];                                                                                      \
      }                                                                                                   \
      float inv = 1.0f / sum;                                                                             \
      for (int t = 0; t < npos; t++) s[t] *= inv;                                                         \
      for (int i = 0; i < hd; i++) out[(size_t)h * hd + i] = 0.0f;                                        \
    }                                                                                                     \
    for (int t = 0; t < npos; t++) {                                                                      \
      const float *vt = V + (size_t)t * hd;                                                               \
      for (int h = 0; h < grp; h++) {                                                                     \
        VEC p = SET1(sc[(size_t)h * npos + t]);                                                           \
        float *o = out + (size_t)h * hd;                                                                  \
        for (int i = 0; i < hd; i += WIDTH) STOREU(o + i, FMADD(p, LOADU(vt + i), LOADU(o + i)));         \
      }                                                                                                   \
    }                                                                                                     \
  }

#define ADD___m512 _mm512_add_ps
#define ADD___m256 _mm256_add_ps
/* Scores of positions [0, npos & ~3) for every head of the group, 4 positions at a time: four
 * single-chain dot products summed together by one transposing reduction (hsum4x512) instead
 * of four separate horizontal sums. Returns the first position left to the caller's loop. */
__attribute__((target("avx512f,avx512bw"))) static int scores4_avx512(const float *q, const float *K, int npos, int hd,
                                                                      int grp, float scale, float *sc) {
  int n4 = npos & ~3;
  for (int t = 0; t < n4; t += 4) {
    const float *k0 = K + (size_t)t * hd, *k1 = k0 + hd, *k2 = k1 + hd, *k3 = k2 + hd;
    for (int h = 0; h < grp; h++) {
      const float *qh = q + (size_t)h * hd;
      __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
      for (int i = 0; i < hd; i += 16) {
        __m512 qv = _mm512_loadu_ps(qh + i);
        a0 = _mm512_fmadd_ps(qv, _mm512_loadu_ps(k0 + i), a0);
        a1 = _mm512_fmadd_ps(qv, _mm512_loadu_ps(k1 + i), a1);
        a2 = _mm512_fmadd_ps(qv, _mm512_loadu_ps(k2 + i), a2);
        a3 = _mm512_fmadd_ps(qv, _mm512_loadu_ps(k3 + i), a3);
      }
      _mm_storeu_ps(sc + (size_t)h * npos + t, _mm_mul_ps(hsum4x512(a0, a1, a2, a3), _mm_set1_ps(scale)));
    }
  }
  return n4;
}
#define NO_SCORES4(q, K, npos, hd, grp, scale, sc) 0

DEFINE_ATTEND(attend_avx512, __attribute__((target("avx512f,avx512bw"))), __m512, 16, _mm512_setzero_ps, _mm512_loadu_ps,
              _mm512_storeu_ps, _mm512_fmadd_ps, _mm512_set1_ps, _mm512_mul_ps, _mm512_reduce_add_ps, scores4_avx512)
DEFINE_ATTEND(attend_avx2, __attribute__((target("avx2,fma"))), __m256, 8, _mm256_setzero_ps, _mm256_loadu_ps,
              _mm256_storeu_ps, _mm256_fmadd_ps, _mm256_set1_ps, _mm256_mul_ps, hsum256, NO_SCORES4)

static void attend_scalar(const float *q, const float *K, const float *V, int npos, int hd, int grp, float scale,
                          float *sc, float *out) {
  for (int h = 0; h < grp; h++) {
    const float *qh = q + (size_t)h * hd;
    float *s = sc + (size_t)h * npos;
    float mx = -INFINITY;
    for (int t = 0; t < npos; t++) {
      const float *kt = K + (size_t)t * hd;
      float d = 0.0f;
      for (int i = 0; i < hd; i++) d += qh[i] * kt[i];
      s[t] = d * scale;
      mx = s[t] > mx ? s[t] : mx;
    }
    float sum = 0.0f;
    for (int t = 0; t < npos; t++) {
      s[t] = l1k_exp_fast(s[t] - mx);
      sum += s[t];
    }
    float inv = 1.0f / sum;
    float *o = out + (size_t)h * hd;
    for (int i = 0; i < hd; i++) o[i] = 0.0f;
    for (int t = 0; t < npos; t++) {
      const float *vt = V + (size_t)t * hd;
      float p = s[t] * inv;
      for (int i = 0; i < hd; i++) o[i] += p * vt[i];
    }
  }
}

void l1k_gen_attend(int isa, const float *q, const float *K, const float *V, int npos, int hd, int grp, float scale, float *sc,
                    float *out) {
  if (isa >= 2 && hd % 16 == 0)
    attend_avx512(q, K, V, npos, hd, grp, scale, sc, out);
  else if (isa >= 1 && hd % 8 == 0)
    attend_avx2(q, K, V, npos, hd, grp, scale, sc, out);
  else
    attend_scalar(q, K, V, npos, hd, grp, scale, sc, out);
}
