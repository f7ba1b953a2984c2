/* long1k — the paged KV cache's kernels (contracts in gen.h; issue 15).
 *
 * Decode attention reads the cache once per kv head for its whole group of query heads: a
 * block = 4 warps owns one (split, kv head, row); its scores live in shared memory (at most
 * L1KCU_GEN_SPLIT positions x L1KCU_GEN_MAX_GROUP heads), a warp per key for the scores (the
 * lanes split head_dim, so a key's K row is one coalesced read), then a thread per (head,
 * dimension) sums p * V in position order. Long contexts give a row many splits, each its
 * own block, merged by a second kernel in split order: the arithmetic of a row depends only
 * on its own length, never on the batch. Compiled for sm_90; run on the emulated device
 * (tests/cuda/test_cuda_gen.c), not yet on a GPU. */
#include <cuda_bf16.h>
#include <cuda_runtime.h>
#include <math.h>
#include <stdint.h>

#include "backend/cuda/gen.h"
#include "backend/cuda/kernels.h" /* l1kcu_stream */

#define ON_STREAM 0, (cudaStream_t)l1kcu_stream /* a launch's shared bytes and stream */

#define GW 32
#define GFULL 0xffffffffu
#define GEN_THREADS 128
#ifdef L1K_CUDA_EMU
#define GEN_UNROLL
#else
#define GEN_UNROLL _Pragma("unroll")
#endif

static int glaunched(void) { return (int)cudaGetLastError(); }

static __device__ __forceinline__ float g_bf16_f(uint16_t u) { return __uint_as_float((uint32_t)u << 16); }
static __device__ __forceinline__ uint16_t g_f_bf16(float f) {
  return __bfloat16_as_ushort(__float2bfloat16_rn(f));
}
static __device__ __forceinline__ float g_load(const void *p, int bf16, size_t i) {
  return bf16 ? g_bf16_f(((const uint16_t *)p)[i]) : ((const float *)p)[i];
}
static __device__ __forceinline__ void g_store(void *p, int bf16, size_t i, float x) {
  if (bf16)
    ((uint16_t *)p)[i] = g_f_bf16(x);
  else
    ((float *)p)[i] = x;
}
__device__ static float g_warp_sum(float v) {
  for (int o = GW / 2; o > 0; o /= 2) v += __shfl_xor_sync(GFULL, v, o);
  return v;
}
__device__ static float g_warp_max(float v) {
  for (int o = GW / 2; o > 0; o /= 2) v = fmaxf(v, __shfl_xor_sync(GFULL, v, o));
  return v;
}

/* element offset of (block, kvh, position in block, d) within one layer's pool */
static __device__ __forceinline__ size_t g_off(int blk, int kvh, int off, int d, int KVH, int hd, int bs) {
  return (((size_t)blk * KVH + kvh) * bs + off) * hd + d;
}

/* ---------------------------------------------------------------- writing and copying */

__global__ static void kv_write_k(void *kc, void *vc, int bf16, const float *k, const float *v,
                                  const int32_t *row_seq, const int32_t *row_pos,
                                  const int32_t *table, int mbps, int n, int KVH, int hd, int bs) {
  size_t KD = (size_t)KVH * hd, total = (size_t)n * KD;
  for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < total;
       i += (size_t)gridDim.x * blockDim.x) {
    int r = (int)(i / KD), rem = (int)(i % KD), kvh = rem / hd, d = rem % hd;
    int p = row_pos[r];
    int blk = table[(size_t)row_seq[r] * mbps + p / bs];
    size_t o = g_off(blk, kvh, p % bs, d, KVH, hd, bs);
    g_store(kc, bf16, o, k[i]);
    g_store(vc, bf16, o, v[i]);
  }
}

extern "C" int l1kcu_kvcache_write(void *kc, void *vc, int bf16, const float *k, const float *v,
                              const int32_t *row_seq, const int32_t *row_pos, const int32_t *table,
                              int mbps, int n, int KVH, int hd, int bs) {
  if (n <= 0) return 0;
  size_t total = (size_t)n * KVH * hd, b = (total + 255) / 256;
  kv_write_k<<<(unsigned)(b < 65535u * 16u ? b : 65535u * 16u), 256, ON_STREAM>>>(kc, vc, bf16, k, v, row_seq,
                                                                      row_pos, table, mbps, n, KVH,
                                                                      hd, bs);
  return glaunched();
}

__global__ static void kv_copy_k(void *kc, void *vc, int bf16, const int32_t *table, int mbps,
                                 int src, int dst, int n, int L, size_t layer_elems, int KVH, int hd,
                                 int bs) {
  size_t per_layer = (size_t)n * KVH * hd, total = per_layer * L;
  for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < total;
       i += (size_t)gridDim.x * blockDim.x) {
    int l = (int)(i / per_layer);
    size_t rem = i % per_layer;
    int p = (int)(rem / ((size_t)KVH * hd)), kvh = (int)(rem / hd % KVH), d = (int)(rem % hd);
    size_t so = l * layer_elems + g_off(table[(size_t)src * mbps + p / bs], kvh, p % bs, d, KVH, hd, bs);
    size_t dO = l * layer_elems + g_off(table[(size_t)dst * mbps + p / bs], kvh, p % bs, d, KVH, hd, bs);
    if (bf16) {
      ((uint16_t *)kc)[dO] = ((const uint16_t *)kc)[so];
      ((uint16_t *)vc)[dO] = ((const uint16_t *)vc)[so];
    } else {
      ((float *)kc)[dO] = ((const float *)kc)[so];
      ((float *)vc)[dO] = ((const float *)vc)[so];
    }
  }
}

extern "C" int l1kcu_kvcache_copy(void *kc, void *vc, int bf16, const int32_t *table, int mbps, int src,
                             int dst, int n, int L, size_t layer_elems, int KVH, int hd, int bs) {
  if (n <= 0 || L <= 0) return 0;
  size_t total = (size_t)n * KVH * hd * L, b = (total + 255) / 256;
  kv_copy_k<<<(unsigned)(b < 65535u * 16u ? b : 65535u * 16u), 256, ON_STREAM>>>(kc, vc, bf16, table, mbps, src,
                                                                     dst, n, L, layer_elems, KVH,
                                                                     hd, bs);
  return glaunched();
}

/* ---------------------------------------------------------------- decode attention */

/* One (split sp, kv head, row): scores of the group's heads for the split's positions, their
 * max and sum of exp, and the unnormalized sum of p * V. part row (r, h, sp): hd floats of
 * that sum, then (max, sum) in the last two. */
__global__ static void paged_attn_k(float *part, const float *q, const void *kc, const void *vc,
                                    int bf16, const int32_t *row_seq, const int32_t *row_pos,
                                    const int32_t *table, int mbps, int nsplit, int H, int KVH,
                                    int hd, int bs) {
  __shared__ float qs[L1KCU_GEN_MAX_GROUP * 128];
  __shared__ float sc[L1KCU_GEN_MAX_GROUP * L1KCU_GEN_SPLIT];
  int sp = blockIdx.x, kvh = blockIdx.y, r = blockIdx.z;
  int grp = H / KVH, len = row_pos[r] + 1, seq = row_seq[r];
  int j0 = sp * L1KCU_GEN_SPLIT;
  if (j0 >= len) return; /* the merge reads only the splits a row has */
  int cnt = len - j0 < L1KCU_GEN_SPLIT ? len - j0 : L1KCU_GEN_SPLIT;
  int w = threadIdx.x / GW, lane = threadIdx.x % GW, nw = blockDim.x / GW;
  float scale = 1.0f / sqrtf((float)hd);
  const float *qr = q + (size_t)r * H * hd + (size_t)kvh * grp * hd;
  for (int i = threadIdx.x; i < grp * hd; i += blockDim.x) qs[i] = qr[i];
  __syncthreads();
  const int32_t *tab = table + (size_t)seq * mbps;
  /* scores: a warp per position, lanes over head_dim (4 values each at hd 128) */
  for (int j = w; j < cnt; j += nw) {
    int p = j0 + j;
    size_t base = g_off(tab[p / bs], kvh, p % bs, 0, KVH, hd, bs);
    float kv[4];
    for (int c = 0; c < 4; c++) {
      int d = lane + GW * c;
      kv[c] = d < hd ? g_load(kc, bf16, base + d) : 0.0f;
    }
    for (int g = 0; g < grp; g++) {
      float s = 0.0f;
      for (int c = 0; c < 4; c++) {
        int d = lane + GW * c;
        if (d < hd) s = fmaf(qs[g * hd + d], kv[c], s);
      }
      s = g_warp_sum(s);
      if (lane == 0) sc[g * L1KCU_GEN_SPLIT + j] = s * scale;
    }
  }
  __syncthreads();
  /* softmax statistics of the split: a warp per head */
  size_t prow = ((size_t)r * H + (size_t)kvh * grp) * nsplit + sp; /* (r, first head, sp) */
  for (int g = w; g < grp; g += nw) {
    float *s = sc + g * L1KCU_GEN_SPLIT;
    float m = -INFINITY;
    for (int j = lane; j < cnt; j += GW) m = fmaxf(m, s[j]);
    m = g_warp_max(m);
    float l = 0.0f;
    for (int j = lane; j < cnt; j += GW) {
      float e = expf(s[j] - m);
      s[j] = e;
      l += e;
    }
    l = g_warp_sum(l);
    if (lane == 0) {
      float *pr = part + (prow + (size_t)g * nsplit) * (hd + 2);
      pr[hd] = m;
      pr[hd + 1] = l;
    }
  }
  __syncthreads();
  /* sum of p * V: a thread per dimension and run of `per` heads of the group (at head_dim 128
   * the whole group: each V element read once), positions in order */
  int slots = (int)blockDim.x / hd, per = (grp + slots - 1) / slots;
  for (int i = threadIdx.x; i < hd * ((grp + per - 1) / per); i += blockDim.x) {
    int d = i % hd, g0 = (i / hd) * per, ng = grp - g0 < per ? grp - g0 : per;
    const float *s0 = sc + g0 * L1KCU_GEN_SPLIT;
    float acc[L1KCU_GEN_MAX_GROUP];
GEN_UNROLL
    for (int g = 0; g < L1KCU_GEN_MAX_GROUP; g++) acc[g] = 0.0f;
    for (int j = 0; j < cnt; j++) {
      int p = j0 + j;
      float vv = g_load(vc, bf16, g_off(tab[p / bs], kvh, p % bs, d, KVH, hd, bs));
GEN_UNROLL
      for (int g = 0; g < L1KCU_GEN_MAX_GROUP; g++)
        if (g < ng) acc[g] = fmaf(s0[g * L1KCU_GEN_SPLIT + j], vv, acc[g]);
    }
GEN_UNROLL
    for (int g = 0; g < L1KCU_GEN_MAX_GROUP; g++)
      if (g < ng) part[(prow + (size_t)(g0 + g) * nsplit) * (hd + 2) + d] = acc[g];
  }
}

/* One (head, row): the row's splits merged in order. */
__global__ static void paged_merge_k(float *out, uint16_t *out16, const float *part,
                                     const int32_t *row_pos, int nsplit, int H, int hd) {
  int h = blockIdx.x, r = blockIdx.y;
  int len = row_pos[r] + 1, ns = (len + L1KCU_GEN_SPLIT - 1) / L1KCU_GEN_SPLIT;
  const float *pr = part + ((size_t)r * H + h) * nsplit * (hd + 2);
  float M = -INFINITY;
  for (int sp = 0; sp < ns; sp++) M = fmaxf(M, pr[(size_t)sp * (hd + 2) + hd]);
  float L = 0.0f;
  for (int sp = 0; sp < ns; sp++) {
    const float *p = pr + (size_t)sp * (hd + 2);
    L += p[hd + 1] * expf(p[hd] - M);
  }
  for (int d = threadIdx.x; d < hd; d += blockDim.x) {
    float o = 0.0f;
    for (int sp = 0; sp < ns; sp++) {
      const float *p = pr + (size_t)sp * (hd + 2);
      o = fmaf(p[d], expf(p[hd] - M), o);
    }
    if (out16)
      out16[((size_t)r * H + h) * hd + d] = g_f_bf16(o / L);
    else
      out[((size_t)r * H + h) * hd + d] = o / L;
  }
}

extern "C" int l1kcu_paged_attention(float *out, uint16_t *out16, float *part, const float *q, const void *kc,
                                     const void *vc, int bf16, const int32_t *row_seq,
                                     const int32_t *row_pos, const int32_t *table, int mbps, int n,
                                     int nsplit, int H, int KVH, int hd, int bs) {
  if (n <= 0) return 0;
  if (hd <= 0 || hd > 128 || KVH <= 0 || H % KVH || H / KVH > L1KCU_GEN_MAX_GROUP || nsplit <= 0 ||
      n > 65535 || KVH > 65535 || bs <= 0)
    return (int)cudaErrorInvalidValue;
  dim3 grid((unsigned)nsplit, (unsigned)KVH, (unsigned)n);
  paged_attn_k<<<grid, GEN_THREADS, ON_STREAM>>>(part, q, kc, vc, bf16, row_seq, row_pos, table, mbps, nsplit,
                                      H, KVH, hd, bs);
  int rc = glaunched();
  if (rc) return rc;
  dim3 g2((unsigned)H, (unsigned)n);
  paged_merge_k<<<g2, 128, ON_STREAM>>>(out, out16, part, row_pos, nsplit, H, hd);
  return glaunched();
}

/* ---------------------------------------------------------------- SwiGLU on [gate | up] rows */

__global__ static void swiglu_rows_k(float *h, const float *gu, int n, int FF) {
  size_t total = (size_t)n * FF;
  for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < total;
       i += (size_t)gridDim.x * blockDim.x) {
    size_t r = i / FF, j = i % FF;
    float g = gu[r * 2 * FF + j], u = gu[r * 2 * FF + FF + j];
    h[i] = g / (1.0f + expf(-g)) * u;
  }
}

extern "C" int l1kcu_swiglu_rows(float *h, const float *gu, int n, int FF) {
  if (n <= 0 || FF <= 0) return 0;
  size_t total = (size_t)n * FF, b = (total + 255) / 256;
  swiglu_rows_k<<<(unsigned)(b < 65535u * 16u ? b : 65535u * 16u), 256, ON_STREAM>>>(h, gu, n, FF);
  return glaunched();
}

/* ---------------------------------------------------------------- bf16 operands, fused */

/* RMSNorm with l1kcu_rmsnorm_fw's arithmetic (a warp per row, the sum of squares in double),
 * the output rounded to bf16: the next products' operand, without a float copy. */
__global__ static void rmsnorm_bf16_k(uint16_t *y, const float *x, const float *w, int N, int C,
                                      float eps) {
  int row = blockIdx.x * (blockDim.x / GW) + threadIdx.x / GW, lane = threadIdx.x % GW;
  if (row >= N) return;
  const float *xr = x + (size_t)row * C;
  uint16_t *yr = y + (size_t)row * C;
  double ss = 0;
  for (int j = lane; j < C; j += GW) ss += (double)xr[j] * xr[j];
  for (int o = GW / 2; o > 0; o /= 2) ss += __shfl_xor_sync(GFULL, ss, o);
  float r = (float)(1.0 / sqrt(ss / C + (double)eps));
  for (int j = lane; j < C; j += GW) yr[j] = g_f_bf16(w[j] * (xr[j] * r));
}

extern "C" int l1kcu_rmsnorm_bf16(uint16_t *y, const float *x, const float *w, int N, int C, float eps) {
  if (N <= 0) return 0;
  rmsnorm_bf16_k<<<(N + 7) / 8, 256, ON_STREAM>>>(y, x, w, N, C, eps);
  return glaunched();
}

__global__ static void swiglu_rows_bf16_k(uint16_t *h, const float *gu, int n, int FF) {
  size_t total = (size_t)n * FF;
  for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < total;
       i += (size_t)gridDim.x * blockDim.x) {
    size_t r = i / FF, j = i % FF;
    float g = gu[r * 2 * FF + j], u = gu[r * 2 * FF + FF + j];
    h[i] = g_f_bf16(g / (1.0f + expf(-g)) * u);
  }
}

extern "C" int l1kcu_swiglu_rows_bf16(uint16_t *h, const float *gu, int n, int FF) {
  if (n <= 0 || FF <= 0) return 0;
  size_t total = (size_t)n * FF, b = (total + 255) / 256;
  swiglu_rows_bf16_k<<<(unsigned)(b < 65535u * 16u ? b : 65535u * 16u), 256, ON_STREAM>>>(h, gu, n, FF);
  return glaunched();
}

/* ---------------------------------------------------------------- q / k / v after the products */

/* One thread per (row, head slot, i < hd/2) over the H query heads, KVH key heads and KVH value
 * heads of a row: q and k get their bias (optional) and RoPE (l1kcu_bias_fw and l1kcu_rope_fw's
 * arithmetic), k and v (with its bias) are written back and into the cache. */
__global__ static void qkv_post_k(float *q, float *k, float *v, size_t ldq, size_t ldkv, float *qo,
                                  const float *bq, const float *bk,
                                  const float *bv, const float *cos_t, const float *sin_t, void *kc,
                                  void *vc, int bf16, const int32_t *row_seq, const int32_t *row_pos,
                                  const int32_t *table, int mbps, int n, int H, int KVH, int hd,
                                  int bs) {
  int half = hd / 2, slots = H + 2 * KVH;
  size_t total = (size_t)n * slots * half;
  for (size_t t = blockIdx.x * (size_t)blockDim.x + threadIdx.x; t < total;
       t += (size_t)gridDim.x * blockDim.x) {
    int i = (int)(t % half), hs = (int)(t / half % slots);
    size_t r = t / ((size_t)half * slots);
    float c = cos_t[r * half + i], si = 1.0f * sin_t[r * half + i];
    if (hs < H) { /* a query head */
      const float *x = q + r * ldq + (size_t)hs * hd;
      float *y = qo + r * (size_t)H * hd + (size_t)hs * hd;
      float a = x[i], b = x[i + half];
      if (bq) a += bq[hs * hd + i], b += bq[hs * hd + i + half];
      y[i] = a * c - b * si;
      y[i + half] = b * c + a * si;
      continue;
    }
    int kv = hs - H, isv = kv >= KVH;
    if (isv) kv -= KVH;
    float *x = (isv ? v : k) + r * ldkv + (size_t)kv * hd;
    const float *bb = isv ? bv : bk;
    float a = x[i], b = x[i + half];
    if (bb) a += bb[kv * hd + i], b += bb[kv * hd + i + half];
    if (!isv) {
      float a2 = a * c - b * si, b2 = b * c + a * si;
      a = a2, b = b2;
    }
    x[i] = a;
    x[i + half] = b;
    int p = row_pos[r];
    int blk = table[(size_t)row_seq[r] * mbps + p / bs];
    size_t o = g_off(blk, kv, p % bs, 0, KVH, hd, bs);
    g_store(isv ? vc : kc, bf16, o + i, a);
    g_store(isv ? vc : kc, bf16, o + i + half, b);
  }
}

extern "C" int l1kcu_qkv_post(float *q, float *k, float *v, const float *bq, const float *bk,
                              const float *bv, const float *cos_t, const float *sin_t, void *kc,
                              void *vc, int bf16, const int32_t *row_seq, const int32_t *row_pos,
                              const int32_t *table, int mbps, int n, int H, int KVH, int hd, int bs) {
  return l1kcu_qkv_post_ld(q, k, v, (size_t)H * hd, q, bq, bk, bv, cos_t, sin_t, kc, vc, bf16, row_seq,
                           row_pos, table, mbps, n, H, KVH, hd, bs);
}

extern "C" int l1kcu_qkv_post_ld(float *q, float *k, float *v, size_t ld, float *qo, const float *bq,
                                 const float *bk, const float *bv, const float *cos_t, const float *sin_t,
                                 void *kc, void *vc, int bf16, const int32_t *row_seq, const int32_t *row_pos,
                                 const int32_t *table, int mbps, int n, int H, int KVH, int hd, int bs) {
  if (n <= 0) return 0;
  size_t total = (size_t)n * (H + 2 * KVH) * (hd / 2), b = (total + 255) / 256;
  size_t ldq = ld, ldkv = ld == (size_t)H * hd ? (size_t)KVH * hd : ld; /* separate arrays or one */
  qkv_post_k<<<(unsigned)(b < 65535u * 16u ? b : 65535u * 16u), 256, ON_STREAM>>>(
      q, k, v, ldq, ldkv, qo, bq, bk, bv, cos_t, sin_t, kc, vc, bf16, row_seq, row_pos, table, mbps, n, H,
      KVH, hd, bs);
  return glaunched();
}

/* ---------------------------------------------------------------- greedy tokens on the device */

/* (v, i) before (bv, bi): l1k_argmax's order (src/model/sample.c): NaN never wins, a larger
 * value wins, equal values go to the lower id; bi < 0: nothing yet */
__device__ static bool g_before(float v, int i, float bv, int bi) {
  return i >= 0 && !isnan(v) && (bi < 0 || v > bv || (v == bv && i < bi));
}

/* one block per row: a strided scan per thread, then a tree over the block */
__global__ static void argmax_rows_k(int32_t *out, const float *x, int V) {
  __shared__ float sv[256];
  __shared__ int si[256];
  int t = threadIdx.x;
  const float *row = x + (size_t)blockIdx.x * V;
  float bv = 0.0f;
  int bi = -1;
  for (int i = t; i < V; i += blockDim.x) {
    float v = row[i];
    if (g_before(v, i, bv, bi)) bv = v, bi = i;
  }
  sv[t] = bv;
  si[t] = bi;
  __syncthreads();
  for (int o = blockDim.x / 2; o > 0; o /= 2) {
    if (t < o && g_before(sv[t + o], si[t + o], sv[t], si[t])) {
      sv[t] = sv[t + o];
      si[t] = si[t + o];
    }
    __syncthreads();
  }
  if (t == 0) out[blockIdx.x] = si[0] < 0 ? 0 : si[0]; /* every value NaN: 0, as l1k_argmax */
}

extern "C" int l1kcu_argmax_rows(int32_t *out, const float *x, int n, int V) {
  if (n <= 0) return 0;
  if (V <= 0) return (int)cudaErrorInvalidValue;
  argmax_rows_k<<<(unsigned)n, 256, ON_STREAM>>>(out, x, V);
  return glaunched();
}
