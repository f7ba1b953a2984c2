/* long1k — the fused, chunked lm_head + cross-entropy forward + backward of the CUDA backend
 * (l1kcu_lm_head_ce, float32 mode: cublasSgemm without TF32), at T rows, hidden C, vocab V
 * (default 16384 1536 151936, the Qwen2.5-1.5B shape at 16k tokens): time and the device
 * memory it allocates (inputs, weight gradient and the one chunk of logits included).
 *
 *   gpu_lmhead_bench [T C V [bf16]]  one JSON line on stdout
 *
 * bf16: the backend's bf16 mode (cublasGemmEx, bf16 inputs: W's bf16 working copy, x and the
 * logits gradient rounded into two scratch buffers; float32 accumulation, logits and loss).
 *
 * Peer: bench/gpu_peers.py lmhead (torch linear + cross_entropy, same shapes). */
#include <stdlib.h>
#include <string.h>

#include "backend/cuda/cuda_internal.h"
#include "gpu_bench_common.h"

#define LOGIT_BUDGET ((size_t)512 << 20) /* the backend's chunk budget (backend_cuda.c) */

int main(int argc, char **argv) {
  int T = argc > 3 ? atoi(argv[1]) : 16384, C = argc > 3 ? atoi(argv[2]) : 1536;
  int V = argc > 3 ? atoi(argv[3]) : 151936, bf16 = argc > 4 && !strcmp(argv[4], "bf16");
  const char *impl = bf16 ? "long1k-bf16" : "long1k-f32";
  if (!gb_have_device("lmhead_ce")) return 0;
  cu_state s;
  memset(&s, 0, sizeof s);
  l1k_err err = {0};
  if (cublasCreate(&s.blas) != CUBLAS_STATUS_SUCCESS ||
      cublasSetMathMode(s.blas, bf16 ? CUBLAS_DEFAULT_MATH : CUBLAS_PEDANTIC_MATH) !=
          CUBLAS_STATUS_SUCCESS) {
    printf("{\"bench\":\"lmhead_ce\",\"impl\":\"%s\",\"status\":\"cublasCreate failed\"}\n", impl);
    return 0;
  }
  size_t ch = LOGIT_BUDGET / ((size_t)V * sizeof(float));
  if (ch < 64) ch = 64;
  if (ch > (size_t)T) ch = (size_t)T;
  s.chunk = (int)ch;
  float *x = gb_rand((size_t)T * C, -1, 1, 11), *W = gb_rand((size_t)V * C, -0.02f, 0.02f, 12);
  float *dW = gb_alloc((size_t)V * C * 4), *dx = gb_alloc((size_t)T * C * 4);
  GB_CHECK(cudaMemset(dW, 0, (size_t)V * C * 4));
  s.logits = gb_alloc(ch * V * 4);
  s.xc = gb_alloc(ch * C * 4);
  s.dxc = gb_alloc(ch * C * 4);
  s.lossrow = gb_alloc((size_t)T * sizeof(double));
  if (bf16) { /* W plays the parameters: its bf16 working copy; two scratch operands */
    s.opts.precision = L1K_PREC_BF16;
    s.params = W;
    s.n_params = (size_t)V * C;
    s.wbf = gb_alloc(s.n_params * 2);
    s.scr_elems = ch * V > (size_t)T * C ? ch * V : (size_t)T * C;
    s.scr[0] = gb_alloc(s.scr_elems * 2);
    s.scr[1] = gb_alloc(s.scr_elems * 2);
    if (l1kcu_refresh_bf16(&s, &err)) {
      printf("{\"bench\":\"lmhead_ce\",\"impl\":\"%s\",\"status\":\"%s\"}\n", impl, err.msg);
      return 0;
    }
  }
  int32_t *tg = gb_alloc((size_t)T * 4), *ht = malloc((size_t)T * 4);
  if (!ht) return 1;
  for (int i = 0; i < T; i++) ht[i] = (int32_t)(((uint64_t)i * 2654435761u) % (uint64_t)V);
  GB_CHECK(cudaMemcpy(tg, ht, (size_t)T * 4, cudaMemcpyHostToDevice));
  cudaEvent_t e0, e1;
  GB_CHECK(cudaEventCreate(&e0));
  GB_CHECK(cudaEventCreate(&e1));
  double ms = 0;
  int reps = 3;
  for (int r = -1; r < reps; r++) {
    GB_CHECK(cudaEventRecord(e0, 0));
    int rc = l1kcu_lm_head_ce(&s, x, NULL, tg, T, C, V, W, dW, dx, NULL, 1.0f / T, &err);
    GB_CHECK(cudaEventRecord(e1, 0));
    if (rc || cudaDeviceSynchronize() != cudaSuccess) {
      printf("{\"bench\":\"lmhead_ce\",\"impl\":\"%s\",\"status\":\"%s\"}\n", impl,
             rc ? err.msg : "kernel failed");
      return 0;
    }
    if (r >= 0) ms += gb_ms(e0, e1) / reps;
  }
  double *loss = malloc((size_t)T * sizeof *loss), sum = 0;
  if (!loss) return 1;
  GB_CHECK(cudaMemcpy(loss, s.lossrow, (size_t)T * sizeof *loss, cudaMemcpyDeviceToHost));
  for (int i = 0; i < T; i++) sum += loss[i];
  printf("{\"bench\":\"lmhead_ce\",\"impl\":\"%s\",\"T\":%d,\"C\":%d,\"V\":%d,\"chunk\":%d,"
         "\"fwbw_ms\":%.2f,\"device_bytes\":%zu,\"mean_loss\":%.6f}\n",
         impl, T, C, V, s.chunk, ms, gb_allocated, sum / T);
  cublasDestroy(s.blas);
  free(ht), free(loss);
  return 0;
}
