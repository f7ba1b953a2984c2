/* long1k — decode kernels on bf16 weights in panel layout (AVX-512).
 *
 * The row-major kernels in generate_kernels.c take dot products: every output is a vector of
 * 16 partial sums reduced at the end, and every weight vector is widened from bf16 by a
 * shuffle and a shift before its 4 products. With batches of 8-16 rows those two costs take a
 * third of the FMA ports. Here the weights are stored once, at generator creation, in panels
 * of 16 output rows: panel p, pair q holds 16 lanes of 32 bits, lane j = (W[16p+j][2q],
 * W[16p+j][2q+1]) with the even column in the low half. One 64-byte load gives two columns of
 * 16 rows: the odd one is the word with its low half cleared, the even one the word shifted
 * left by 16 (two ALU operations for 32 weights, no shuffle). Each output row's sum is then a
 * chain of FMAs over k = 0, 1, ..., id-1 against x[b][k] broadcast from memory: no horizontal
 * sums, and the order of additions is the same whatever the batch, the blocking or the number
 * of threads (a sequence decodes to the same bits alone or batched).
 *
 * Blocking: G panels x B batch rows, G*B <= 16 accumulators, so that at least 8 independent
 * chains hide the FMA latency: (G, B) = (8, 1), (8, 2), (4, 4), (2, 8), (1, 16). The panel
 * group stays in L1 while the batch blocks pass over it.
 */
#include <stdint.h>
#include <string.h>
#include <immintrin.h>

#include "model/generate_internal.h"

size_t l1k_gen_panels_size(int od, int id) { return (size_t)((od + 15) / 16) * 16 * (size_t)id; }

int l1k_gen_to_bf16_panels(const float *src, uint16_t *dst, int od, int id) {
  if (id % 2) return 0;
  int np = (od + 15) / 16;
  for (int p = 0; p < np; p++)
    for (int q = 0; q < id / 2; q++)
      for (int j = 0; j < 16; j++)
        for (int h = 0; h < 2; h++) {
          int row = 16 * p + j, k = 2 * q + h;
          uint32_t u = 0;
          if (row < od) {
            memcpy(&u, &src[(size_t)row * id + k], 4);
            if (u & 0xFFFFu) return 0;
          }
          dst[(((size_t)p * (id / 2) + q) * 16 + j) * 2 + h] = (uint16_t)(u >> 16);
        }
  return 1;
}

/* One block: panels p0..p0+G-1 (rows 16*p0 ...), batch rows r0..r0+B-1. Rows past od (the
 * last panel's padding) are computed on zero weights and not stored. */
#define DEFINE_PANEL_BLOCK(G, B)                                                                      \
  __attribute__((target("avx512f"))) static void block_##G##x##B(                                     \
      float *y, const float *x, const uint16_t *P, int od, int id, int p0, int r0, int accumulate) {  \
    __m512 acc[G][B];                                                                                 \
    _Pragma("GCC unroll 16") for (int g = 0; g < G; g++)                                              \
        _Pragma("GCC unroll 16") for (int b = 0; b < B; b++) acc[g][b] = _mm512_setzero_ps();         \
    const __m512i hi_mask = _mm512_set1_epi32((int)0xFFFF0000u);                                      \
    const size_t pstride = (size_t)16 * id; /* bf16 per panel */                                      \
    const uint16_t *w0 = P + (size_t)p0 * pstride;                                                    \
    const float *xr = x + (size_t)r0 * id;                                                            \
    for (int q = 0; q < id / 2; q++) {                                                                \
      __m512 lo[G], hi[G];                                                                            \
      _Pragma("GCC unroll 16") for (int g = 0; g < G; g++) {                                          \
        __m512i v = _mm512_loadu_si512((const void *)(w0 + g * pstride + (size_t)q * 32));            \
        lo[g] = _mm512_castsi512_ps(_mm512_slli_epi32(v, 16));                                        \
        hi[g] = _mm512_castsi512_ps(_mm512_and_si512(v, hi_mask));                                    \
      }                                                                                               \
      _Pragma("GCC unroll 16") for (int b = 0; b < B; b++) {                                          \
        __m512 x0 = _mm512_set1_ps(xr[(size_t)b * id + 2 * q]);                                       \
        __m512 x1 = _mm512_set1_ps(xr[(size_t)b * id + 2 * q + 1]);                                   \
        _Pragma("GCC unroll 16") for (int g = 0; g < G; g++) {                                        \
          acc[g][b] = _mm512_fmadd_ps(lo[g], x0, acc[g][b]);                                          \
          acc[g][b] = _mm512_fmadd_ps(hi[g], x1, acc[g][b]);                                          \
        }                                                                                             \
      }                                                                                               \
    }                                                                                                 \
    _Pragma("GCC unroll 16") for (int g = 0; g < G; g++) {                                            \
      int j = 16 * (p0 + g);                                                                          \
      if (j >= od) break;                                                                             \
      __mmask16 m = od - j >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (od - j)) - 1);             \
      _Pragma("GCC unroll 16") for (int b = 0; b < B; b++) {                                          \
        float *o = y + (size_t)(r0 + b) * od + j;                                                     \
        __m512 s = acc[g][b];                                                                         \
        if (accumulate) s = _mm512_add_ps(s, _mm512_maskz_loadu_ps(m, o));                            \
        _mm512_mask_storeu_ps(o, m, s);                                                               \
      }                                                                                               \
    }                                                                                                 \
  }

DEFINE_PANEL_BLOCK(8, 1)
DEFINE_PANEL_BLOCK(8, 2)
DEFINE_PANEL_BLOCK(4, 4)
DEFINE_PANEL_BLOCK(2, 8)
DEFINE_PANEL_BLOCK(1, 16)
DEFINE_PANEL_BLOCK(1, 1)
DEFINE_PANEL_BLOCK(1, 2)
DEFINE_PANEL_BLOCK(1, 4)
DEFINE_PANEL_BLOCK(1, 8)

typedef void (*block_fn)(float *, const float *, const uint16_t *, int, int, int, int, int);

/* panels [pa, pb) against all n batch rows */
static void panels_range(float *y, const float *x, const uint16_t *P, int n, int od, int id, int pa, int pb,
                         int accumulate) {
  /* batch blocks: 16, then 8, 4, 2, 1 for the rest; each with the widest panel group */
  static const int bs[5] = {16, 8, 4, 2, 1};
  static const int gs[5] = {1, 2, 4, 8, 8};
  static const block_fn wide[5] = {block_1x16, block_2x8, block_4x4, block_8x2, block_8x1};
  static const block_fn one[5] = {block_1x16, block_1x8, block_1x4, block_1x2, block_1x1};
  int p = pa;
  /* panel groups of 8 (or fewer at the end); within a group, every batch block */
  while (p < pb) {
    int gp = pb - p < 8 ? pb - p : 8;
    int r = 0;
    for (int t = 0; t < 5; t++)
      while (n - r >= bs[t]) {
        int q = 0;
        for (; q + gs[t] <= gp; q += gs[t]) wide[t](y, x, P, od, id, p + q, r, accumulate);
        for (; q < gp; q++) one[t](y, x, P, od, id, p + q, r, accumulate);
        r += bs[t];
      }
    p += gp;
  }
}

typedef struct pan_job {
  int n, od, id, accumulate, per; /* panels per chunk */
  float *y;
  const float *x;
  const uint16_t *P;
} pan_job;

static void pan_chunk(void *arg, int c, int thread) {
  (void)thread;
  const pan_job *J = arg;
  int np = (J->od + 15) / 16;
  int pa = c * J->per, pb = pa + J->per < np ? pa + J->per : np;
  panels_range(J->y, J->x, J->P, J->n, J->od, J->id, pa, pb, J->accumulate);
}

void l1k_gen_linear_panels(l1k_gen_pool *pool, float *y, const float *x, const uint16_t *P, const float *bias, int n,
                           int od, int id, int accumulate) {
  int np = (od + 15) / 16;
  int nt = l1k_gen_pool_threads(pool);
  long work = (long)n * od * id;
  int chunks = work < 65536 || nt == 1 ? 1 : nt * 4;
  int per = (np + chunks - 1) / chunks;
  if (per < 1) per = 1;
  pan_job J = {n, od, id, accumulate, per, y, x, P};
  l1k_gen_pool_run(pool, pan_chunk, &J, (np + per - 1) / per);
  if (bias)
    for (int r = 0; r < n; r++) {
      float *o = y + (size_t)r * od;
      for (int j = 0; j < od; j++) o[j] += bias[j];
    }
}
