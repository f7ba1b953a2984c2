/* long1k — flash attention on tensor cores, bf16 inputs, float32 accumulation
 * (FlashAttention-2 style; flash_bf16.cu; issue 13). The same contract as l1kcu_attention_*
 * (kernels.h): causal, grouped-query (H % KVH == 0), documents isolated inside packed rows
 * (seg[r] / seg_end[r]: the first / one past the last position of token r's document within its
 * batch row; the query at t sees the keys seg[t] .. t), no T x T matrix in memory; but
 * q[N, H*hd], k, v [N, KVH*hd], o[N, H*hd] and dout are bf16 (bits in uint16_t, 16-byte
 * aligned), hd is 64 or 128, lse[N, H] is float32 (natural log-sum-exp of the scaled scores),
 * and the gradients dq[N, H*hd], dk, dv [N, KVH*hd] are float32. The backward is
 * deterministic (every output element has one owner and a fixed order of additions, no
 * atomics): dsum[N, H] (rowsum of dO * O) is its scratch, one kernel computes dQ over key tiles
 * and one dK / dV over the query tiles of every query head of the kv head's group.
 * Each returns 0 or a cudaError_t code (cudaErrorInvalidValue for a shape it does not take). */
#ifndef LONG1K_BACKEND_CUDA_FLASH_BF16_H
#define LONG1K_BACKEND_CUDA_FLASH_BF16_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

int l1kcu_flash_bf16_fw(uint16_t *o, float *lse, const uint16_t *q, const uint16_t *k,
                        const uint16_t *v, const int32_t *seg, int B, int T, int H, int KVH,
                        int hd);
int l1kcu_flash_bf16_bw(float *dq, float *dk, float *dv, float *dsum, const uint16_t *dout,
                        const uint16_t *o, const float *lse, const uint16_t *q, const uint16_t *k,
                        const uint16_t *v, const int32_t *seg, const int32_t *seg_end, int B,
                        int T, int H, int KVH, int hd);

/* dst[i] = float(src[i]) for bf16 bits src (exact). */
int l1kcu_bf16_to_f32(float *dst, const uint16_t *src, size_t n);

#ifdef __cplusplus
}
#endif

#endif
