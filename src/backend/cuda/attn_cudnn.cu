/* long1k — the one kernel the cuDNN attention path adds (attn_cudnn.h): bf16 -> float32, the
 * outputs of cuDNN's bf16 attention widened into the backend's float32 activations (exact:
 * every bf16 value is a float32). The rounding the other way is l1kcu_to_bf16 (kernels.cu). */
#include <cuda_bf16.h>
#include <cuda_runtime.h>
#include <stdint.h>

#include "backend/cuda/attn_cudnn.h"

__global__ static void from_bf16_k(float *dst, const uint16_t *src, size_t n) {
  for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n;
       i += (size_t)gridDim.x * blockDim.x)
    dst[i] = __bfloat162float(__ushort_as_bfloat16(src[i]));
}

extern "C" int l1kcu_from_bf16(float *dst, const uint16_t *src, size_t n) {
  if (!n) return 0;
  size_t b = (n + 255) / 256;
  if (b > 65535u * 16u) b = 65535u * 16u; /* the grid-stride loop covers the rest */
  from_bf16_k<<<(unsigned)b, 256>>>(dst, src, n);
  return (int)cudaGetLastError();
}
