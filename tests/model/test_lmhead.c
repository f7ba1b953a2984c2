/* l1k_lm_logits (the AVX-512 lm_head forward) against a double-precision reference, on shapes
 * that exercise every edge of its tiling: rows not a multiple of the 14-row tile, vocabularies
 * not a multiple of the 32-column panel or of the 512-column group, hidden sizes above the
 * 256-wide k-block. Also: nothing outside y[N, V] is written, the bits do not depend on the
 * number of threads, and the OpenBLAS fallback (work = NULL) agrees. */
#include <stdint.h>

#include "check.h"
#include "long1k/backend.h"

static uint32_t seed = 12345;
static float frand(void) {
  seed = seed * 1664525u + 1013904223u;
  return (float)((seed >> 8) * (1.0 / 16777216.0) - 0.5);
}

static void check_shape(int N, int C, int V) {
  float *x = malloc((size_t)N * C * sizeof *x), *W = malloc((size_t)V * C * sizeof *W);
  size_t n = (size_t)N * V, guard = 64;
  float *y1 = malloc((n + 2 * guard) * sizeof *y1), *y3 = malloc(n * sizeof *y3),
        *yb = malloc(n * sizeof *yb);
  for (size_t i = 0; i < (size_t)N * C; i++) x[i] = frand();
  for (size_t i = 0; i < (size_t)V * C; i++) W[i] = frand();
  for (size_t i = 0; i < n + 2 * guard; i++) y1[i] = 1234.5f;
  float *work = malloc(l1k_lm_work_floats(N, C, 3) * sizeof *work);
  l1k_lm_logits(y1 + guard, x, W, N, C, V, work, 1);
  l1k_lm_logits(y3, x, W, N, C, V, work, 3);
  l1k_lm_logits(yb, x, W, N, C, V, NULL, 1);
  int untouched = 1;
  for (size_t i = 0; i < guard; i++) untouched &= y1[i] == 1234.5f && y1[guard + n + i] == 1234.5f;
  CHECK_MSG(untouched, "N=%d C=%d V=%d: wrote outside y", N, C, V);
  double worst = 0, worst_blas = 0;
  for (int i = 0; i < N; i++)
    for (int v = 0; v < V; v++) {
      double ref = 0, mag = 0;
      for (int k = 0; k < C; k++) {
        ref += (double)x[(size_t)i * C + k] * W[(size_t)v * C + k];
        mag += fabs((double)x[(size_t)i * C + k] * W[(size_t)v * C + k]);
      }
      double e = fabs(y1[guard + (size_t)i * V + v] - ref) / (mag + 1e-30);
      double eb = fabs(yb[(size_t)i * V + v] - ref) / (mag + 1e-30);
      if (e > worst) worst = e;
      if (eb > worst_blas) worst_blas = eb;
    }
  /* float32 sums of C products: error bounded by ~C * 2^-24 of the sum of magnitudes */
  double bound = (C + 2) * 6e-8;
  CHECK_MSG(worst <= bound, "N=%d C=%d V=%d: error %.3g > %.3g", N, C, V, worst, bound);
  CHECK_MSG(worst_blas <= bound, "N=%d C=%d V=%d: fallback error %.3g", N, C, V, worst_blas);
  CHECK_MSG(memcmp(y1 + guard, y3, n * sizeof *y3) == 0, "N=%d C=%d V=%d: 1 and 3 threads differ",
            N, C, V);
  free(x), free(W), free(y1), free(y3), free(yb), free(work);
}

int main(void) {
  static const int shapes[][3] = {
      {1, 1, 1},    {1, 8, 32},    {14, 16, 512},  {13, 24, 33},   {15, 64, 517},
      {29, 256, 750}, {28, 257, 64}, {3, 520, 100}, {71, 40, 1100}, {2, 3, 31},
  };
  for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
    check_shape(shapes[s][0], shapes[s][1], shapes[s][2]);
  CHECK(l1k_lm_work_floats(0, 8, 2) == 0);
  CHECK_DONE();
}
