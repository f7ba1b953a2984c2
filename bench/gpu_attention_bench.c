/* long1k — attention forward / backward throughput of the CUDA backend's kernels
 * (src/backend/cuda/kernels.cu, float32 mode: the simple tiled online-softmax kernels),
 * causal, one document per row, B = 1, H = 28 query heads over 4 kv heads (GQA 7:1),
 * head_dim 128, at the sequence lengths given (default 4096 16384 32768).
 *
 *   gpu_attention_bench [T ...]      one JSON line per T on stdout
 *
 * FLOPs as FlashAttention's benchmarks count them (causal: half of 4 B H T^2 hd forward,
 * 2.5x that backward), the same formula as the peer, bench/gpu_peers.py attention. */
#include <math.h>
#include <stdlib.h>

#include "backend/cuda/kernels.h"
#include "gpu_bench_common.h"

enum { H = 28, KVH = 4, HD = 128 };

static void run(int T) {
  size_t N = (size_t)T, QD = (size_t)H * HD, KD = (size_t)KVH * HD;
  float *q = gb_rand(N * QD, -1, 1, 1), *k = gb_rand(N * KD, -1, 1, 2), *v = gb_rand(N * KD, -1, 1, 3);
  float *dout = gb_rand(N * QD, -1, 1, 4);
  float *o = gb_alloc(N * QD * 4), *lse = gb_alloc(N * H * 4), *dsum = gb_alloc(N * H * 4);
  float *dq = gb_alloc(N * QD * 4), *dk = gb_alloc(N * KD * 4), *dv = gb_alloc(N * KD * 4);
  int32_t *seg = gb_alloc(N * 4), *se = gb_alloc(N * 4);
  int32_t *hs = malloc(N * 4), *he = malloc(N * 4);
  if (!hs || !he) exit(1);
  for (size_t i = 0; i < N; i++) hs[i] = 0, he[i] = T;
  GB_CHECK(cudaMemcpy(seg, hs, N * 4, cudaMemcpyHostToDevice));
  GB_CHECK(cudaMemcpy(se, he, N * 4, cudaMemcpyHostToDevice));
  cudaEvent_t e0, e1, e2;
  GB_CHECK(cudaEventCreate(&e0));
  GB_CHECK(cudaEventCreate(&e1));
  GB_CHECK(cudaEventCreate(&e2));
  int reps = T <= 4096 ? 3 : 1;
  double fw_ms = 0, bw_ms = 0;
  for (int r = -1; r < reps; r++) { /* r = -1: warm-up */
    GB_CHECK(cudaEventRecord(e0, 0));
    int rc = l1kcu_attention_fw(o, lse, q, k, v, seg, 1, T, H, KVH, HD);
    GB_CHECK(cudaEventRecord(e1, 0));
    if (!rc) rc = l1kcu_attention_bw(dq, dk, dv, dsum, dout, o, lse, q, k, v, seg, se, 1, T, H, KVH, HD);
    GB_CHECK(cudaEventRecord(e2, 0));
    if (rc || (rc = (int)cudaDeviceSynchronize())) {
      printf("{\"bench\":\"attention\",\"impl\":\"long1k-f32\",\"T\":%d,\"status\":\"%s\"}\n", T,
             l1kcu_error_string(rc));
      return;
    }
    if (r >= 0) fw_ms += gb_ms(e0, e1) / reps, bw_ms += gb_ms(e1, e2) / reps;
  }
  double fw_flop = 4.0 * H * (double)T * T * HD / 2, bw_flop = 2.5 * fw_flop;
  printf("{\"bench\":\"attention\",\"impl\":\"long1k-f32\",\"T\":%d,\"H\":%d,\"KVH\":%d,\"hd\":%d,"
         "\"fw_ms\":%.3f,\"bw_ms\":%.3f,\"fw_tflops\":%.2f,\"bw_tflops\":%.2f}\n",
         T, H, KVH, HD, fw_ms, bw_ms, fw_flop / fw_ms / 1e9, bw_flop / bw_ms / 1e9);
  fflush(stdout);
  void *bufs[] = {q, k, v, dout, o, lse, dsum, dq, dk, dv, seg, se};
  for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) cudaFree(bufs[i]);
  free(hs), free(he);
}

int main(int argc, char **argv) {
  if (!gb_have_device("attention")) return 0;
  if (argc < 2) {
    run(4096), run(16384), run(32768);
    return 0;
  }
  for (int i = 1; i < argc; i++) run(atoi(argv[i]));
  return 0;
}
