/* long1k — the CUDA backend's LoRA kernels (contracts in lora.h): the dropout mask of a LoRA
 * input (the CPU's counter hash, so both backends drop the same elements for the same key) and
 * the embedding lookup from a bf16-only frozen base. The LoRA products themselves are cuBLAS
 * calls (lora.c). */
#include <cuda_bf16.h>
#include <cuda_runtime.h>
#include <stdint.h>

#include "backend/cuda/lora.h"

static int launched(void) { return (int)cudaGetLastError(); }

static unsigned blocks_for(size_t n, unsigned threads) {
  size_t b = (n + threads - 1) / threads;
  if (b > 65535u * 16u) b = 65535u * 16u; /* grid-stride loops cover the rest */
  return (unsigned)(b ? b : 1);
}

/* include/long1k/rng.h's l1k_mix64 (splitmix64's finalizer) */
__device__ static uint64_t mix64(uint64_t x) {
  x ^= x >> 30;
  x *= 0xBF58476D1CE4E5B9ULL;
  x ^= x >> 27;
  x *= 0x94D049BB133111EBULL;
  x ^= x >> 31;
  return x;
}

__global__ static void lora_dropout_k(float *out, const float *x, size_t n, uint64_t key,
                                      uint64_t id, double p, float inv, int add) {
  for (size_t k = blockIdx.x * (size_t)blockDim.x + threadIdx.x; k < n;
       k += (size_t)gridDim.x * blockDim.x) {
    uint64_t h = mix64(key ^ mix64(id * 0x9E3779B97F4A7C15ULL + k));
    float keep = (double)(h >> 11) * (1.0 / 9007199254740992.0) < p ? 0.0f : inv;
    float v = x[k] * keep;
    out[k] = add ? out[k] + v : v;
  }
}

extern "C" int l1kcu_lora_dropout(float *out, const float *x, int N, int in, uint64_t key,
                                  uint64_t id, double p, int add) {
  size_t n = (size_t)N * in;
  if (!n) return 0;
  float inv = (float)(1.0 / (1.0 - p));
  lora_dropout_k<<<blocks_for(n, 256), 256>>>(out, x, n, key, id, p, inv, add);
  return launched();
}

__global__ static void embedding_fw_bf16_k(float *x, const int32_t *ids, const uint16_t *emb,
                                           int N, int C) {
  size_t n = (size_t)N * C;
  for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n;
       i += (size_t)gridDim.x * blockDim.x) {
    size_t r = i / C, c = i % C;
    uint32_t u = (uint32_t)emb[(size_t)ids[r] * C + c] << 16;
    x[i] = __uint_as_float(u);
  }
}

extern "C" int l1kcu_embedding_fw_bf16(float *x, const int32_t *ids, const uint16_t *emb, int N,
                                       int C) {
  if (N <= 0) return 0;
  embedding_fw_bf16_k<<<blocks_for((size_t)N * C, 256), 256>>>(x, ids, emb, N, C);
  return launched();
}
