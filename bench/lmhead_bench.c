/* The lm_head forward product, logits[N, V] = x[N, C] W[V, C]^T: long1k's AVX-512 kernel
 * (l1k_lm_logits) against OpenBLAS's sgemm through l1k_linear_fw, alternated, best of R runs
 * each; also checks that the two agree.
 *
 *   cc -O2 -fopenmp -I include bench/lmhead_bench.c build/liblong1k_model.a \
 *      build/liblong1k_core.a -lcjson -lz -lm $(pkg-config --cflags --libs openblas) -o /tmp/lmb
 *   OMP_NUM_THREADS=1 /tmp/lmb [N C V R]      (default 1024 256 151936 5)
 *
 * Buffers are 2 MiB-aligned with MADV_HUGEPAGE, as the model's are (l1k_alloc_big). */
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "long1k/backend.h"

static void *big(size_t n) {
  size_t a = (size_t)2 << 20;
  void *p = aligned_alloc(a, (n + a - 1) / a * a);
  if (!p) exit(1);
  madvise(p, n, MADV_HUGEPAGE);
  memset(p, 0, n);
  return p;
}

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec * 1e-9;
}

int main(int argc, char **argv) {
  int N = argc > 1 ? atoi(argv[1]) : 1024, C = argc > 2 ? atoi(argv[2]) : 256;
  int V = argc > 3 ? atoi(argv[3]) : 151936, R = argc > 4 ? atoi(argv[4]) : 5;
  int nt = omp_get_max_threads();
  l1k_backend_init();
  int prev = l1k_blas_single_begin();
  float *x = big((size_t)N * C * 4), *W = big((size_t)V * C * 4);
  float *y = big((size_t)N * V * 4), *y2 = big((size_t)N * V * 4);
  float *work = big(l1k_lm_work_floats(N, C, nt) * 4);
  unsigned s = 1;
  for (size_t i = 0; i < (size_t)N * C; i++) x[i] = (float)((s = s * 1664525u + 1013904223u) >> 8) / 16777216.0f - 0.5f;
  for (size_t i = 0; i < (size_t)V * C; i++) W[i] = (float)((s = s * 1664525u + 1013904223u) >> 8) / 16777216.0f - 0.5f;
  double best_blas = 1e9, best_ours = 1e9;
  for (int r = 0; r < R; r++) {
    double t0 = now();
    l1k_linear_fw(y, x, W, NULL, N, C, V);
    double t1 = now();
    l1k_lm_logits(y2, x, W, N, C, V, work, nt);
    double t2 = now();
    if (t1 - t0 < best_blas) best_blas = t1 - t0;
    if (t2 - t1 < best_ours) best_ours = t2 - t1;
  }
  double d = 0, r2 = 0;
  for (size_t i = 0; i < (size_t)N * V; i++) {
    d += ((double)y2[i] - y[i]) * ((double)y2[i] - y[i]);
    r2 += (double)y[i] * y[i];
  }
  double gf = 2.0 * N * C * (double)V / 1e9;
  printf("lm_head forward N=%d C=%d V=%d, %d threads, best of %d: OpenBLAS %.3f s (%.0f GF/s), "
         "long1k %.3f s (%.0f GF/s), %.2fx; relative difference %.2g\n",
         N, C, V, nt, R, best_blas, gf / best_blas, best_ours, gf / best_ours, best_blas / best_ours,
         sqrt(d / r2));
  l1k_blas_single_end(prev);
  return 0;
}
