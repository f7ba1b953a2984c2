/* long1k — kernels of the bf16 activations (contracts in acts_bf16.h): the float32 kernels'
 * arithmetic (kernels.cu: rmsnorm_fw_k, swiglu_fw_k), the result rounded to bf16 as
 * l1kcu_to_bf16 rounds it, so a product reading these values sees the bits it saw before. */
#include <cuda_bf16.h>
#include <cuda_runtime.h>
#include <math.h>
#include <stdint.h>

#include "backend/cuda/acts_bf16.h"

#define WARP 32
#define FULL_MASK 0xffffffffu

static int launched(void) { return (int)cudaGetLastError(); }

static unsigned blocks_for(size_t n, unsigned threads) {
  size_t b = (n + threads - 1) / threads;
  if (b > 65535u * 16u) b = 65535u * 16u; /* grid-stride loops cover the rest */
  return (unsigned)(b ? b : 1);
}

__device__ static double warp_sum_d(double v) {
  for (int o = WARP / 2; o > 0; o /= 2) v += __shfl_xor_sync(FULL_MASK, v, o);
  return v;
}

__device__ static uint16_t bf16_rn(float f) { return __bfloat16_as_ushort(__float2bfloat16_rn(f)); }

/* a warp per row: the sum of squares in double, as rmsnorm_fw_k */
__global__ static void rmsnorm_fw_bf16_k(uint16_t *y, float *rstd, const float *x, const float *w,
                                         int N, int C, float eps) {
  int row = blockIdx.x * (blockDim.x / WARP) + threadIdx.x / WARP, lane = threadIdx.x % WARP;
  if (row >= N) return;
  const float *xr = x + (size_t)row * C;
  uint16_t *yr = y + (size_t)row * C;
  double ss = 0;
  for (int j = lane; j < C; j += WARP) ss += (double)xr[j] * xr[j];
  ss = warp_sum_d(ss);
  float r = (float)(1.0 / sqrt(ss / C + (double)eps));
  if (rstd && lane == 0) rstd[row] = r;
  for (int j = lane; j < C; j += WARP) {
    float v = w[j] * (xr[j] * r);
    yr[j] = bf16_rn(v);
  }
}

extern "C" int l1kcu_rmsnorm_fw_bf16(uint16_t *y, float *rstd, const float *x, const float *w,
                                     int N, int C, float eps) {
  if (N <= 0) return 0;
  rmsnorm_fw_bf16_k<<<(N + 7) / 8, 256>>>(y, rstd, x, w, N, C, eps);
  return launched();
}

__global__ static void swiglu_fw_bf16_k(uint16_t *h, const float *gate, const float *up, size_t n) {
  for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n;
       i += (size_t)gridDim.x * blockDim.x) {
    float g = gate[i];
    float v = g / (1.0f + expf(-g)) * up[i];
    h[i] = bf16_rn(v);
  }
}

extern "C" int l1kcu_swiglu_fw_bf16(uint16_t *h, const float *gate, const float *up, size_t n) {
  if (!n) return 0;
  swiglu_fw_bf16_k<<<blocks_for(n, 256), 256>>>(h, gate, up, n);
  return launched();
}
