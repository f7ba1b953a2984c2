/* long1k — the matrix rate of this GPU: an n^3 product (default 8192) through cuBLAS in bf16
 * (bf16 inputs and output, float32 accumulation: cublasGemmEx, CUBLAS_COMPUTE_32F) and in
 * float32 without TF32 (the parity mode's cublasSgemm, CUBLAS_PEDANTIC_MATH).
 *
 *   gpu_matmul_bench [n]             one JSON line per precision on stdout
 *
 * Peer: bench/gpu_peers.py matmul (torch.matmul, same n). */
#include <cublas_v2.h>
#include <stdlib.h>
#include <string.h>

#include "gpu_bench_common.h"

static void report(const char *prec, int n, double ms) {
  printf("{\"bench\":\"matmul\",\"impl\":\"cublas-%s\",\"n\":%d,\"ms\":%.3f,\"tflops\":%.1f}\n", prec, n,
         ms, 2.0 * n * (double)n * n / ms / 1e9);
  fflush(stdout);
}

static double time_gemm(cublasHandle_t h, int n, int bf16, void *A, void *B, void *C) {
  const float one = 1.0f, zero = 0.0f;
  cudaEvent_t e0, e1;
  GB_CHECK(cudaEventCreate(&e0));
  GB_CHECK(cudaEventCreate(&e1));
  double ms = 0;
  int reps = 10;
  for (int r = -2; r < reps; r++) {
    GB_CHECK(cudaEventRecord(e0, 0));
    cublasStatus_t st;
    if (bf16)
      st = cublasGemmEx(h, CUBLAS_OP_N, CUBLAS_OP_N, n, n, n, &one, A, CUDA_R_16BF, n, B, CUDA_R_16BF,
                        n, &zero, C, CUDA_R_16BF, n, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT);
    else
      st = cublasSgemm(h, CUBLAS_OP_N, CUBLAS_OP_N, n, n, n, &one, A, n, B, n, &zero, C, n);
    GB_CHECK(cudaEventRecord(e1, 0));
    if (st != CUBLAS_STATUS_SUCCESS) {
      printf("{\"bench\":\"matmul\",\"impl\":\"cublas-%s\",\"status\":\"%s\"}\n", bf16 ? "bf16" : "f32",
             cublasGetStatusString(st));
      return -1;
    }
    if (r >= 0) ms += gb_ms(e0, e1) / reps;
  }
  return ms;
}

int main(int argc, char **argv) {
  int n = argc > 1 ? atoi(argv[1]) : 8192;
  if (!gb_have_device("matmul")) return 0;
  cublasHandle_t h;
  if (cublasCreate(&h) != CUBLAS_STATUS_SUCCESS) return 1;
  size_t nn = (size_t)n * n;
  /* random operands (zeros can run faster); bf16 = the upper 16 bits of a float32 */
  float *A = gb_rand(nn, -1, 1, 21), *B = gb_rand(nn, -1, 1, 22), *C = gb_alloc(nn * 4);
  uint16_t *hb = malloc(nn * sizeof *hb);
  float *hf = malloc(nn * sizeof *hf);
  void *Ab = gb_alloc(nn * 2), *Bb = gb_alloc(nn * 2), *Cb = gb_alloc(nn * 2);
  if (!hb || !hf) return 1;
  for (int which = 0; which < 2; which++) {
    GB_CHECK(cudaMemcpy(hf, which ? B : A, nn * 4, cudaMemcpyDeviceToHost));
    for (size_t i = 0; i < nn; i++) {
      uint32_t u;
      memcpy(&u, &hf[i], 4);
      hb[i] = (uint16_t)(u >> 16);
    }
    GB_CHECK(cudaMemcpy(which ? Bb : Ab, hb, nn * 2, cudaMemcpyHostToDevice));
  }
  free(hb), free(hf);
  double ms = time_gemm(h, n, 1, Ab, Bb, Cb);
  if (ms > 0) report("bf16", n, ms);
  cublasSetMathMode(h, CUBLAS_PEDANTIC_MATH);
  ms = time_gemm(h, n, 0, A, B, C);
  if (ms > 0) report("f32", n, ms);
  cublasDestroy(h);
  return 0;
}
