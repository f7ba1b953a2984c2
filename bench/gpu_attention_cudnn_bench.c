/* long1k — attention forward / backward throughput through cuDNN's fused SDPA
 * (src/backend/cuda/attn_cudnn.h: the bf16 attention of the CUDA backend's bf16 mode), the
 * shapes of bench/gpu_attention_bench.c (the own float32 kernels) and of the torch peers
 * (bench/gpu_peers.py attention): causal, B = 1, H = 28 query heads over 4 kv heads (GQA
 * 7:1), head_dim 128, one document per row, bf16 inputs, float32 statistics.
 *
 *   gpu_attention_cudnn_bench [T[xD] ...] one JSON line per T on stdout (default 4096 16384
 *                                         32768); the first call of each direction (graph
 *                                         and plan building) is a warm-up, not timed; exit
 *                                         1 when cuDNN is missing or a T failed. TxD: the
 *                                         row packed with D documents of T/D tokens (the
 *                                         ragged path; FLOPs those of the D causal blocks)
 *
 * Times the bf16 entry points (l1kcu_dnn_fw / _bw) alone, like the peer's sdpa on bf16
 * tensors; "plan_ms" is the first forward + backward (building both graphs and plans).
 * FLOPs as FlashAttention's benchmarks count them (causal: half of 4 B H T^2 hd forward,
 * 2.5x that backward). Without cuDNN: one line with its reason in "status". */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "backend/cuda/attn_cudnn.h"
#include "backend/cuda/kernels.h"
#include "gpu_bench_common.h"

enum { H = 28, KVH = 4, HD = 128 };

static uint16_t *bf16_rand(size_t n, uint64_t seed) {
  float *f = gb_rand(n, -1, 1, seed);
  uint16_t *b = gb_alloc(n * sizeof *b);
  if (l1kcu_to_bf16(b, f, n)) exit(1);
  GB_CHECK(cudaFree(f));
  return b;
}

static void status(int T, const char *msg) {
  printf("{\"bench\":\"attention\",\"impl\":\"long1k-cudnn-bf16\",\"T\":%d,\"status\":\"", T);
  for (const char *c = msg; *c; c++) putchar(*c == '"' || *c == '\\' ? '\'' : *c);
  printf("\"}\n");
  fflush(stdout);
}

static int run(l1kcu_dnn *a, int T, int D) { /* 0, or 1 after a status line */
  size_t N = (size_t)T, QD = (size_t)H * HD, KD = (size_t)KVH * HD;
  uint16_t *q = bf16_rand(N * QD, 1), *k = bf16_rand(N * KD, 2), *v = bf16_rand(N * KD, 3);
  uint16_t *dout = bf16_rand(N * QD, 4), *o = gb_alloc(N * QD * 2), *dq = gb_alloc(N * QD * 2);
  uint16_t *dk = gb_alloc(N * KD * 2), *dv = gb_alloc(N * KD * 2);
  float *lse = gb_alloc(N * H * 4), *dq_acc = gb_alloc(N * QD * 4);
  int32_t *seg = malloc(N * 4), *se = malloc(N * 4);
  if (!seg || !se) exit(1);
  if (D < 1 || D > T) D = 1;
  int len = T / D; /* the last document takes the remainder */
  double pairs = 0; /* causal (query, key) pairs of the documents */
  for (int d = 0; d < D; d++) {
    int s0 = d * len, e = d + 1 == D ? T : s0 + len;
    for (int t = s0; t < e; t++) seg[t] = s0, se[t] = e;
    pairs += (double)(e - s0) * (e - s0);
  }
  l1k_err err = {0};
  int rc = l1kcu_dnn_set_docs(a, seg, se, 1, T, H, KVH, HD, &err);
  cudaEvent_t e0, e1, e2;
  GB_CHECK(cudaEventCreate(&e0));
  GB_CHECK(cudaEventCreate(&e1));
  GB_CHECK(cudaEventCreate(&e2));
  int reps = T <= 4096 ? 10 : 3;
  double fw_ms = 0, bw_ms = 0, plan_ms = 0;
  for (int r = -1; r < reps && !rc; r++) { /* r = -1: warm-up (graphs and plans built) */
    GB_CHECK(cudaEventRecord(e0, 0));
    rc = l1kcu_dnn_fw(a, o, lse, q, k, v, &err);
    GB_CHECK(cudaEventRecord(e1, 0));
    if (!rc) rc = l1kcu_dnn_bw(a, dq_acc, dq, dk, dv, q, k, v, o, dout, lse, &err);
    GB_CHECK(cudaEventRecord(e2, 0));
    if (!rc && cudaDeviceSynchronize() != cudaSuccess) rc = 1, snprintf(err.msg, sizeof err.msg, "%s", "device error");
    if (rc) break;
    if (r < 0) plan_ms = gb_ms(e0, e2);
    else fw_ms += gb_ms(e0, e1) / reps, bw_ms += gb_ms(e1, e2) / reps;
  }
  if (rc) {
    status(T, err.msg);
  } else {
    double fw_flop = 4.0 * H * pairs * HD / 2, bw_flop = 2.5 * fw_flop;
    printf("{\"bench\":\"attention\",\"impl\":\"long1k-cudnn-bf16\",\"cudnn\":%ld,\"T\":%d,"
           "\"docs\":%d,\"H\":%d,"
           "\"KVH\":%d,\"hd\":%d,\"fw_ms\":%.3f,\"bw_ms\":%.3f,\"fw_tflops\":%.2f,"
           "\"bw_tflops\":%.2f,\"plan_ms\":%.1f}\n",
           l1kcu_dnn_version(a), T, D, H, KVH, HD, fw_ms, bw_ms, fw_flop / fw_ms / 1e9,
           bw_flop / bw_ms / 1e9, plan_ms);
    fflush(stdout);
  }
  void *bufs[] = {q, k, v, dout, o, dq, dk, dv, lse, dq_acc};
  for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) cudaFree(bufs[i]);
  cudaEventDestroy(e0), cudaEventDestroy(e1), cudaEventDestroy(e2);
  free(seg), free(se);
  return rc != 0;
}

int main(int argc, char **argv) {
  if (!gb_have_device("attention")) return 0;
  char why[512];
  l1kcu_dnn *a = NULL;
  if (l1kcu_dnn_open(&a, why, sizeof why)) {
    status(0, why);
    return 1; /* loudly: gpu-check's step fails */
  }
  int bad = 0;
  if (argc < 2) {
    bad += run(a, 4096, 1), bad += run(a, 16384, 1), bad += run(a, 32768, 1);
  } else {
    for (int i = 1; i < argc; i++) {
      const char *x = strchr(argv[i], 'x');
      bad += run(a, atoi(argv[i]), x ? atoi(x + 1) : 1);
    }
  }
  l1kcu_dnn_close(a);
  return bad ? 1 : 0;
}
