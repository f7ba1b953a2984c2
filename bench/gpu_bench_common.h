/* long1k — helpers shared by the CUDA benchmarks bench/gpu_*.c (timing with CUDA events,
 * random device buffers, one JSON line per measurement). Compiled only with the CUDA backend. */
#ifndef LONG1K_BENCH_GPU_COMMON_H
#define LONG1K_BENCH_GPU_COMMON_H

#include <cuda_runtime_api.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define GB_CHECK(call)                                                                       \
  do {                                                                                       \
    cudaError_t e_ = (call);                                                                 \
    if (e_ != cudaSuccess) {                                                                 \
      fprintf(stderr, "%s:%d: %s: %s\n", __FILE__, __LINE__, #call, cudaGetErrorString(e_)); \
      exit(1);                                                                               \
    }                                                                                        \
  } while (0)

static size_t gb_allocated; /* bytes this benchmark allocated on the device */

/* n floats, uniform in [lo, hi) from a fixed seed (filled on the host, copied once). */
static float *gb_rand(size_t n, float lo, float hi, uint64_t seed) {
  float *h = malloc((n ? n : 1) * sizeof *h), *d = NULL;
  if (!h) {
    fprintf(stderr, "out of host memory (%zu floats)\n", n);
    exit(1);
  }
  uint64_t x = seed * 0x9E3779B97F4A7C15ull + 1;
  for (size_t i = 0; i < n; i++) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    h[i] = lo + (hi - lo) * (float)((double)(x >> 11) / 9007199254740992.0);
  }
  GB_CHECK(cudaMalloc((void **)&d, (n ? n : 1) * sizeof *d));
  GB_CHECK(cudaMemcpy(d, h, n * sizeof *d, cudaMemcpyHostToDevice));
  gb_allocated += n * sizeof *d;
  free(h);
  return d;
}

static void *gb_alloc(size_t bytes) {
  void *d = NULL;
  GB_CHECK(cudaMalloc(&d, bytes ? bytes : 16));
  gb_allocated += bytes;
  return d;
}

/* Milliseconds of the GPU work between two events. */
static float gb_ms(cudaEvent_t a, cudaEvent_t b) {
  float ms = 0;
  GB_CHECK(cudaEventSynchronize(b));
  GB_CHECK(cudaEventElapsedTime(&ms, a, b));
  return ms;
}

/* 0 with one line on stdout when there is no device (the benchmark is then "not run"). */
static int gb_have_device(const char *bench) {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess || n <= 0) {
    printf("{\"bench\":\"%s\",\"impl\":\"long1k\",\"status\":\"no CUDA device\"}\n", bench);
    return 0;
  }
  return 1;
}

#endif
