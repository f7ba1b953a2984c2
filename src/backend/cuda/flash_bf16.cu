/* long1k — flash attention on tensor cores (bf16 in, float32 accumulation), FlashAttention-2
 * style: the contract is in flash_bf16.h, the instructions in mma.h, the design in docs/gpu.md.
 *
 * Forward: a block = 4 warps = 64 query rows of one head (16 per warp); it walks the key tiles
 * (64 keys) from the document start of its first query to its last query, skipping every key
 * before that: S = Q K^T (mma m16n8k16, Q's fragments held in registers, K's read by ldmatrix),
 * masked only in the tiles that need it (the diagonal, a document boundary), online softmax on
 * the accumulators (exp2, the running max and sum per row), P rounded to bf16 and reused as
 * the A fragment of O += P V (V by ldmatrix.trans). K of the next tile is fetched (cp.async)
 * while P V runs, V of the next while S runs. Blocks with the most keys start first.
 *
 * Backward (deterministic, no atomics): D = rowsum(dO * O); dQ: like the forward, a block of
 * 64 queries over key tiles recomputes P and dP = dO V^T and adds dS K; dK / dV: a block of 64
 * keys of one kv head (16 per warp) walks the 32-query tiles of each query head of its group
 * in order, from its first key to the end of its last key's document, and adds P^T dO and
 * dS^T Q. Each recomputes S instead of sharing it: 7 products instead of 5, no atomics. */
#include <cuda_bf16.h>
#include <cuda_runtime.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "backend/cuda/flash_bf16.h"
#include "backend/cuda/mma.h"

#define FA_THREADS 128 /* 4 warps */
/* the forward: MT = 1 or 2 16-row mma tiles per warp, 64 MT query rows per block */
#define FA_BM 64       /* query rows of a dQ block (16 per warp) */
#define FA_BN 64       /* keys of a forward / dQ tile; keys of a dK / dV block (16 per warp) */
#define FA_BQ 32       /* query rows of a dK / dV tile */
#define FA_FULL 0xffffffffu
#define FA_LOG2E 1.4426950408889634f

static __device__ __forceinline__ int imin(int a, int b) { return a < b ? a : b; }

static __device__ __forceinline__ uint32_t pack_bf16(float lo, float hi) {
  return (uint32_t)__bfloat16_as_ushort(__float2bfloat16_rn(lo)) |
         (uint32_t)__bfloat16_as_ushort(__float2bfloat16_rn(hi)) << 16;
}
static __device__ __forceinline__ float bf16_f(uint16_t u) { return __uint_as_float((uint32_t)u << 16); }

/* Rows r0 .. r0+R-1 (those < rend, the others zero) of head column col of src[., ld] into a
 * shared tile of rows of D + 8 bf16 (the 16-byte pad puts ldmatrix's 8 rows in 8 bank groups). */
template <int D, int R>
static __device__ __forceinline__ void load_rows(uint16_t *sm, const uint16_t *src, size_t row0,
                                                 int r0, int rend, int ld, int col) {
  constexpr int CPR = D / 8;
  for (int i = threadIdx.x; i < R * CPR; i += FA_THREADS) {
    int rr = i / CPR, c = (i % CPR) * 8, r = r0 + rr;
    uint16_t *dst = sm + rr * (D + 8) + c;
    if (r < rend) l1k_cp_async16(dst, src + (row0 + r) * (size_t)ld + col + c);
    else l1k_st_zero16(dst);
  }
}

/* A fragment (16 x 16) at rows r0.., columns c0.. of a tile with row stride SD. */
template <int SD>
static __device__ __forceinline__ void frag_a(uint32_t *a, const uint16_t *sm, int r0, int c0) {
  int lane = threadIdx.x % 32;
  l1k_ldmatrix_x4(a, sm + (r0 + lane % 8 + 8 * ((lane / 8) % 2)) * SD + c0 + 8 * (lane / 16));
}
/* B fragments of the 8 columns n0.. of B = X^T, X stored [n][k] (keys' rows for S = Q K^T):
 * b[0..1] the k-step at k0, b[2..3] the one at k0 + 16 (when k0 + 16 is past D, an odd
 * count of k-steps, b[2..3] repeat b[0..1] and are not used). */
template <int D>
static __device__ __forceinline__ void frag_b_nk(uint32_t *b, const uint16_t *sm, int n0, int k0) {
  int lane = threadIdx.x % 32, c = k0 + 8 * (lane / 8);
  if (c >= D) c -= 16;
  l1k_ldmatrix_x4(b, sm + (n0 + lane % 8) * (D + 8) + c);
}
/* B fragments of the k-step at k0 of B = X stored [k][n] (V's rows for O = P V): b[0..1] the
 * 8 columns n0.., b[2..3] the 8 columns n0 + 8.. */
template <int SD>
static __device__ __forceinline__ void frag_b_kn(uint32_t *b, const uint16_t *sm, int k0, int n0) {
  int lane = threadIdx.x % 32;
  l1k_ldmatrix_x4_trans(b, sm + (k0 + lane % 8 + 8 * ((lane / 8) % 2)) * SD + n0 + 8 * (lane / 16));
}

/* The A fragment of k-step kk of a 16-row product from the accumulators of the 8-column blocks
 * 2kk and 2kk+1 (FlashAttention-2's register reuse of P). */
static __device__ __forceinline__ void acc_to_a(uint32_t *a, const float *c0, const float *c1) {
  a[0] = pack_bf16(c0[0], c0[1]);
  a[1] = pack_bf16(c0[2], c0[3]);
  a[2] = pack_bf16(c1[0], c1[1]);
  a[3] = pack_bf16(c1[2], c1[3]);
}

/* acc[NB][4] += X(16 x D, A fragments by frag_a from xs at row r0) Y^T (Y's rows n in ys). */
template <int D, int NB>
static __device__ __forceinline__ void mma_abt(float (*acc)[4], const uint16_t *xs, int r0,
                                               const uint16_t *ys) {
  constexpr int KS = D / 16;
  L1K_UNROLL
  for (int kk = 0; kk < KS; kk += 2) {
    uint32_t a0[4], a1[4], b[4];
    frag_a<D + 8>(a0, xs, r0, kk * 16);
    if (kk + 1 < KS) frag_a<D + 8>(a1, xs, r0, kk * 16 + 16);
    L1K_UNROLL
    for (int nb = 0; nb < NB; nb++) {
      frag_b_nk<D>(b, ys, nb * 8, kk * 16);
      l1k_mma16816(acc[nb], a0, b);
      if (kk + 1 < KS) l1k_mma16816(acc[nb], a1, b + 2);
    }
  }
}

/* acc[DB][4] += P (16 x 16*KP, bf16 A fragments pa[KP]) Y (Y's rows k in ys, DB 8-blocks). */
template <int SD, int KP, int DB>
static __device__ __forceinline__ void mma_pv(float (*acc)[4], const uint32_t (*pa)[4],
                                              const uint16_t *ys) {
  L1K_UNROLL
  for (int kk = 0; kk < KP; kk++)
    L1K_UNROLL
    for (int db = 0; db < DB; db += 2) {
      uint32_t b[4];
      frag_b_kn<SD>(b, ys, kk * 16, db * 8);
      l1k_mma16816(acc[db], pa[kk], b);
      l1k_mma16816(acc[db + 1], pa[kk], b + 2);
    }
}

/* Row-of-queries masking (forward, dQ): accumulator (nb, i) is query row (i < 2 ? ra : ra + 8),
 * key j0 + 8 nb + 2 (lane % 4) + i % 2; visible iff seg(row) <= key <= row. */
template <int NB>
static __device__ __forceinline__ void mask_rows(float (*s)[4], int j0, int ra, int sa, int sb) {
  int tq = threadIdx.x % 4;
  L1K_UNROLL
  for (int nb = 0; nb < NB; nb++)
    L1K_UNROLL
    for (int i = 0; i < 4; i++) {
      int key = j0 + nb * 8 + 2 * tq + (i & 1), row = ra + 8 * (i >> 1);
      if (key < (i < 2 ? sa : sb) || key > row) s[nb][i] = -INFINITY;
    }
}

static __device__ __forceinline__ float quad_max(float x) {
  x = fmaxf(x, __shfl_xor_sync(FA_FULL, x, 1));
  return fmaxf(x, __shfl_xor_sync(FA_FULL, x, 2));
}
static __device__ __forceinline__ float quad_sum(float x) {
  x += __shfl_xor_sync(FA_FULL, x, 1);
  return x + __shfl_xor_sync(FA_FULL, x, 2);
}

/* Online softmax of the half hf (0: rows ra, accumulators 0, 1; 1: rows ra + 8, 2, 3) of a
 * score tile s (raw dot products; sc = log2(e) / sqrt(hd)): running max m (raw), the lane's
 * partial sum l, the output accumulators rescaled; s becomes P. */
template <int NB, int DB>
static __device__ __forceinline__ void online_softmax(float (*s)[4], float (*acc)[4], float *m,
                                                      float *l, int hf, float sc) {
  float mx = -INFINITY;
  L1K_UNROLL
  for (int nb = 0; nb < NB; nb++) mx = fmaxf(mx, fmaxf(s[nb][2 * hf], s[nb][2 * hf + 1]));
  float mn = fmaxf(*m, quad_max(mx));
  float base = mn == -INFINITY ? 0.0f : mn * sc; /* every key so far masked: P = 0 */
  float corr = exp2f(*m * sc - base), sum = 0.0f;
  L1K_UNROLL
  for (int nb = 0; nb < NB; nb++)
    L1K_UNROLL
    for (int e = 0; e < 2; e++) {
      float p = exp2f(fmaf(s[nb][2 * hf + e], sc, -base));
      s[nb][2 * hf + e] = p;
      sum += p;
    }
  *l = *l * corr + sum;
  L1K_UNROLL
  for (int db = 0; db < DB; db++) acc[db][2 * hf] *= corr, acc[db][2 * hf + 1] *= corr;
  *m = mn;
}

/* ================================================================ forward */

/* B fragments of the k-step at k0 for the two 8-column blocks n0.. and n0 + 8.. of B = X^T,
 * X stored [n][k]: b[0..1] block n0, b[2..3] block n0 + 8 (one ldmatrix.x4 feeds 4 mma of the
 * two 16-row tiles of a warp). */
template <int SD>
static __device__ __forceinline__ void frag_b_nn(uint32_t *b, const uint16_t *sm, int n0, int k0) {
  int lane = threadIdx.x % 32;
  l1k_ldmatrix_x4(b, sm + (n0 + lane % 8 + 8 * (lane / 16)) * SD + k0 + 8 * ((lane / 8) % 2));
}

/* One warp's 16 MT query rows (MT 16-row tiles) against one key tile: S = Q K^T. */
template <int D, int MT>
static __device__ __forceinline__ void fw_scores(float (*s)[FA_BN / 8][4], const uint16_t *Qs,
                                                 int r0, const uint16_t *Ks) {
  constexpr int SD = D + 8;
  L1K_UNROLL
  for (int mt = 0; mt < MT; mt++)
    L1K_UNROLL
    for (int nb = 0; nb < FA_BN / 8; nb++) s[mt][nb][0] = s[mt][nb][1] = s[mt][nb][2] = s[mt][nb][3] = 0.0f;
  L1K_LOOP
  for (int kk = 0; kk < D / 16; kk++) { /* not unrolled: fewer live fragments */
    uint32_t a[MT][4];
    L1K_UNROLL
    for (int mt = 0; mt < MT; mt++) frag_a<SD>(a[mt], Qs, r0 + 16 * mt, kk * 16);
    L1K_UNROLL
    for (int nb = 0; nb < FA_BN / 8; nb += 2) {
      uint32_t b[4];
      frag_b_nn<SD>(b, Ks, nb * 8, kk * 16);
      L1K_UNROLL
      for (int mt = 0; mt < MT; mt++) {
        l1k_mma16816(s[mt][nb], a[mt], b);
        l1k_mma16816(s[mt][nb + 1], a[mt], b + 2);
      }
    }
  }
}

/* O += P V for one warp's MT row tiles (P: bf16 A fragments pa[mt][k-step]). */
template <int D, int MT>
static __device__ __forceinline__ void fw_pv(float (*acc)[D / 8][4], const uint32_t (*pa)[FA_BN / 16][4],
                                             const uint16_t *Vs) {
  L1K_UNROLL
  for (int kk = 0; kk < FA_BN / 16; kk++)
    L1K_UNROLL
    for (int db = 0; db < D / 8; db += 2) {
      uint32_t b[4];
      frag_b_kn<D + 8>(b, Vs, kk * 16, db * 8);
      L1K_UNROLL
      for (int mt = 0; mt < MT; mt++) {
        l1k_mma16816(acc[mt][db], pa[mt][kk], b);
        l1k_mma16816(acc[mt][db + 1], pa[mt][kk], b + 2);
      }
    }
}

/* A block = 4 warps = 64 MT query rows of one head, 16 MT per warp (with MT = 2 each K and V
 * fragment read from shared memory feeds two mma: half the shared-memory traffic per product,
 * more live registers). */
template <int D, int MT>
__global__ static void __launch_bounds__(FA_THREADS)
    flash_fw_k(uint16_t *o, float *lse, const uint16_t *q, const uint16_t *k, const uint16_t *v,
               const int32_t *seg, int T, int H, int KVH) {
  constexpr int SD = D + 8, NB = FA_BN / 8, DB = D / 8, BMF = 64 * MT;
  L1K_DYN_SMEM(smem);
  uint16_t *Qs = (uint16_t *)smem, *Ks = Qs + BMF * SD, *Vs = Ks + FA_BN * SD;
  const int m0 = (gridDim.x - 1 - blockIdx.x) * BMF, h = blockIdx.y, g = h / (H / KVH);
  const int w = threadIdx.x / 32, lane = threadIdx.x % 32, tq = lane % 4;
  const int QD = H * D, KD = KVH * D;
  const size_t row0 = (size_t)blockIdx.z * T;
  const int mlast = imin(m0 + BMF, T) - 1;
  const int kstart = seg[row0 + m0], kend = mlast + 1;
  /* this warp's rows: the tiles it may skip masking in (wholly visible to all of them) */
  const int wfirst = m0 + w * 16 * MT, wlast = imin(wfirst + 16 * MT - 1, T - 1);
  const int wseg_last = wfirst < T ? seg[row0 + wlast] : T;
  int ra[MT], sa[MT][2];
  L1K_UNROLL
  for (int mt = 0; mt < MT; mt++) {
    ra[mt] = wfirst + 16 * mt + lane / 4;
    L1K_UNROLL
    for (int hf = 0; hf < 2; hf++) {
      int r = ra[mt] + 8 * hf;
      sa[mt][hf] = r < T ? seg[row0 + r] : T;
    }
  }
  const float scale = 1.0f / sqrtf((float)D), sc = scale * FA_LOG2E;

  load_rows<D, BMF>(Qs, q, row0, m0, T, QD, h * D);
  l1k_cp_async_commit();
  load_rows<D, FA_BN>(Ks, k, row0, kstart, kend, KD, g * D);
  l1k_cp_async_commit();
  load_rows<D, FA_BN>(Vs, v, row0, kstart, kend, KD, g * D);
  l1k_cp_async_commit();

  float acc[MT][DB][4], m[MT][2], l[MT][2];
  L1K_UNROLL
  for (int mt = 0; mt < MT; mt++) {
    m[mt][0] = m[mt][1] = -INFINITY, l[mt][0] = l[mt][1] = 0.0f;
    L1K_UNROLL
    for (int db = 0; db < DB; db++) acc[mt][db][0] = acc[mt][db][1] = acc[mt][db][2] = acc[mt][db][3] = 0.0f;
  }
  for (int j0 = kstart; j0 < kend; j0 += FA_BN) {
    l1k_cp_async_wait<1>(); /* Q and K(j0) */
    __syncthreads();
    float s[MT][NB][4];
    fw_scores<D, MT>(s, Qs, w * 16 * MT, Ks);
    __syncthreads(); /* Ks free: the next tile's K comes while P V runs */
    if (j0 + FA_BN < kend) load_rows<D, FA_BN>(Ks, k, row0, j0 + FA_BN, kend, KD, g * D);
    l1k_cp_async_commit();
    int need_mask = !(j0 + FA_BN - 1 <= wfirst && j0 >= wseg_last);
    uint32_t pa[MT][FA_BN / 16][4];
    L1K_UNROLL
    for (int mt = 0; mt < MT; mt++) {
      if (need_mask) mask_rows<NB>(s[mt], j0, ra[mt], sa[mt][0], sa[mt][1]);
      online_softmax<NB, DB>(s[mt], acc[mt], &m[mt][0], &l[mt][0], 0, sc);
      online_softmax<NB, DB>(s[mt], acc[mt], &m[mt][1], &l[mt][1], 1, sc);
      L1K_UNROLL
      for (int kk = 0; kk < FA_BN / 16; kk++) acc_to_a(pa[mt][kk], s[mt][2 * kk], s[mt][2 * kk + 1]);
    }
    l1k_cp_async_wait<1>(); /* V(j0) */
    __syncthreads();
    fw_pv<D, MT>(acc, pa, Vs);
    __syncthreads(); /* Vs free */
    if (j0 + FA_BN < kend) load_rows<D, FA_BN>(Vs, v, row0, j0 + FA_BN, kend, KD, g * D);
    l1k_cp_async_commit();
  }
  l1k_cp_async_wait<0>();
  L1K_UNROLL
  for (int mt = 0; mt < MT; mt++)
    L1K_UNROLL
    for (int hf = 0; hf < 2; hf++) {
      float lt = quad_sum(l[mt][hf]);
      int row = ra[mt] + 8 * hf;
      if (row >= T) continue;
      float inv = 1.0f / lt;
      uint16_t *dst = o + (row0 + row) * (size_t)QD + (size_t)h * D + 2 * tq;
      L1K_UNROLL
      for (int db = 0; db < DB; db++)
        *(uint32_t *)(dst + db * 8) = pack_bf16(acc[mt][db][2 * hf] * inv, acc[mt][db][2 * hf + 1] * inv);
      if (tq == 0) lse[(row0 + row) * H + h] = m[mt][hf] * scale + logf(lt);
    }
}

/* ================================================================ backward */

/* dsum[r, h] = sum_d dO[r, h, d] O[r, h, d]: one warp per (r, h). */
__global__ static void flash_dsum_k(float *dsum, const uint16_t *dout, const uint16_t *o,
                                    size_t items, int hd) {
  size_t item = blockIdx.x * (size_t)(blockDim.x / 32) + threadIdx.x / 32;
  int lane = threadIdx.x % 32;
  if (item >= items) return;
  const uint16_t *a = dout + item * hd, *b = o + item * hd;
  float s = 0.0f;
  for (int d = lane; d < hd; d += 32) s = fmaf(bf16_f(a[d]), bf16_f(b[d]), s);
  for (int x = 16; x > 0; x /= 2) s += __shfl_xor_sync(FA_FULL, s, x);
  if (lane == 0) dsum[item] = s;
}

/* dQ of 64 query rows of head h over the key tiles it sees: dQ = scale sum_j dS_ij K_j,
 * dS = P (dP - D), P = exp(scale S - lse), dP = dO V^T. */
template <int D>
__global__ static void __launch_bounds__(FA_THREADS)
    flash_dq_k(float *dq, const uint16_t *dout, const float *lse, const float *dsum,
               const uint16_t *q, const uint16_t *k, const uint16_t *v, const int32_t *seg, int T,
               int H, int KVH) {
  constexpr int SD = D + 8, NB = FA_BN / 8, DB = D / 8;
  L1K_DYN_SMEM(smem);
  /* Q, dO, then two stages of (K, V): the next key tile loads while this one is used */
  uint16_t *Qs = (uint16_t *)smem, *Os = Qs + FA_BM * SD, *KV = Os + FA_BM * SD;
  const int m0 = (gridDim.x - 1 - blockIdx.x) * FA_BM, h = blockIdx.y, g = h / (H / KVH);
  const int w = threadIdx.x / 32, lane = threadIdx.x % 32, tq = lane % 4;
  const int QD = H * D, KD = KVH * D;
  const size_t row0 = (size_t)blockIdx.z * T;
  const int mlast = imin(m0 + FA_BM, T) - 1;
  const int kstart = seg[row0 + m0], kend = mlast + 1, seg_last = seg[row0 + mlast];
  const int ra = m0 + w * 16 + lane / 4, rb = ra + 8;
  const int sa = ra < T ? seg[row0 + ra] : T, sb = rb < T ? seg[row0 + rb] : T;
  const float scale = 1.0f / sqrtf((float)D), sc = scale * FA_LOG2E;
  float l2[2], dd[2];
  L1K_UNROLL
  for (int hf = 0; hf < 2; hf++) {
    int row = hf ? rb : ra;
    l2[hf] = row < T ? lse[(row0 + row) * H + h] * FA_LOG2E : 0.0f;
    dd[hf] = row < T ? dsum[(row0 + row) * H + h] : 0.0f;
  }
  load_rows<D, FA_BM>(Qs, q, row0, m0, T, QD, h * D);
  load_rows<D, FA_BM>(Os, dout, row0, m0, T, QD, h * D);
  load_rows<D, FA_BN>(KV, k, row0, kstart, kend, KD, g * D);
  load_rows<D, FA_BN>(KV + FA_BN * SD, v, row0, kstart, kend, KD, g * D);
  l1k_cp_async_commit();

  float acc[DB][4];
  L1K_UNROLL
  for (int db = 0; db < DB; db++) acc[db][0] = acc[db][1] = acc[db][2] = acc[db][3] = 0.0f;
  int st = 0;
  for (int j0 = kstart; j0 < kend; j0 += FA_BN, st ^= 1) {
    const uint16_t *Ks = KV + st * 2 * FA_BN * SD, *Vs = Ks + FA_BN * SD;
    if (j0 + FA_BN < kend) { /* the other stage was freed by the last iteration's barrier */
      uint16_t *nk = KV + (st ^ 1) * 2 * FA_BN * SD;
      load_rows<D, FA_BN>(nk, k, row0, j0 + FA_BN, kend, KD, g * D);
      load_rows<D, FA_BN>(nk + FA_BN * SD, v, row0, j0 + FA_BN, kend, KD, g * D);
    }
    l1k_cp_async_commit();
    l1k_cp_async_wait<1>(); /* all but the tile just requested */
    __syncthreads();
    float s[NB][4], dp[NB][4];
    L1K_UNROLL
    for (int nb = 0; nb < NB; nb++)
      L1K_UNROLL
      for (int i = 0; i < 4; i++) s[nb][i] = dp[nb][i] = 0.0f;
    mma_abt<D, NB>(s, Qs, w * 16, Ks);
    mma_abt<D, NB>(dp, Os, w * 16, Vs);
    if (!(j0 + FA_BN - 1 <= m0 && j0 >= seg_last)) mask_rows<NB>(s, j0, ra, sa, sb);
    L1K_UNROLL
    for (int nb = 0; nb < NB; nb++)
      L1K_UNROLL
      for (int i = 0; i < 4; i++) {
        float p = exp2f(fmaf(s[nb][i], sc, -l2[i >> 1]));
        s[nb][i] = p * (dp[nb][i] - dd[i >> 1]); /* dS / scale */
      }
    uint32_t da[FA_BN / 16][4];
    L1K_UNROLL
    for (int kk = 0; kk < FA_BN / 16; kk++) acc_to_a(da[kk], s[2 * kk], s[2 * kk + 1]);
    mma_pv<SD, FA_BN / 16, DB>(acc, da, Ks);
    __syncthreads(); /* this stage is free */
  }
  l1k_cp_async_wait<0>();
  L1K_UNROLL
  for (int hf = 0; hf < 2; hf++) {
    int row = hf ? rb : ra;
    if (row >= T) continue;
    float *dst = dq + (row0 + row) * (size_t)QD + (size_t)h * D + 2 * tq;
    L1K_UNROLL
    for (int db = 0; db < DB; db++)
      dst[db * 8] = acc[db][2 * hf] * scale, dst[db * 8 + 1] = acc[db][2 * hf + 1] * scale;
  }
}

/* Key-row masking (dK / dV): accumulator (nb, i) is key row (i < 2 ? ka : ka + 8), query
 * i0 + 8 nb + 2 (lane % 4) + i % 2; visible iff key <= query < seg_end(key). */
template <int NQ>
static __device__ __forceinline__ void mask_keys(float (*s)[4], int i0, int ka, int ea, int eb) {
  int tq = threadIdx.x % 4;
  L1K_UNROLL
  for (int nb = 0; nb < NQ; nb++)
    L1K_UNROLL
    for (int i = 0; i < 4; i++) {
      int qi = i0 + nb * 8 + 2 * tq + (i & 1), key = ka + 8 * (i >> 1);
      if (qi < key || qi >= (i < 2 ? ea : eb)) s[nb][i] = -INFINITY;
    }
}

/* Query tile rows i0 .. i0 + FA_BQ - 1 (those < qend) of head h: Q and dO into qo (two tiles of
 * rows), log2-scaled lse and D into ld[2 FA_BQ] (0 past qend). */
template <int D>
static __device__ __forceinline__ void qtile_load(uint16_t *qo, float *ld, const uint16_t *q,
                                                  const uint16_t *dout, const float *lse,
                                                  const float *dsum, size_t row0, int i0, int qend,
                                                  int QD, int H, int h) {
  load_rows<D, FA_BQ>(qo, q, row0, i0, qend, QD, h * D);
  load_rows<D, FA_BQ>(qo + FA_BQ * (D + 8), dout, row0, i0, qend, QD, h * D);
  for (int ii = threadIdx.x; ii < FA_BQ; ii += FA_THREADS) {
    int i = i0 + ii;
    ld[ii] = i < qend ? lse[(row0 + i) * H + h] * FA_LOG2E : 0.0f;
    ld[FA_BQ + ii] = i < qend ? dsum[(row0 + i) * H + h] : 0.0f;
  }
}

/* dK, dV of 64 keys of kv head g: the 32-query tiles of each query head of the group, in order:
 * dV = sum_i P_ij dO_i, dK = scale sum_i dS_ij Q_i (S^T = K Q^T computed per warp: 16 keys). */
template <int D>
__global__ static void __launch_bounds__(FA_THREADS)
    flash_dkv_k(float *dk, float *dv, const uint16_t *dout, const float *lse, const float *dsum,
                const uint16_t *q, const uint16_t *k, const uint16_t *v, const int32_t *seg_end,
                int T, int H, int KVH) {
  constexpr int SD = D + 8, NQ = FA_BQ / 8, DB = D / 8;
  L1K_DYN_SMEM(smem);
  /* K, V, then two stages of (Q, dO, lse, D) of a query tile: the next loads while this one
   * is used */
  uint16_t *Ks = (uint16_t *)smem, *Vs = Ks + FA_BN * SD, *QO = Vs + FA_BN * SD;
  float *LD = (float *)(QO + 4 * FA_BQ * SD);
  const int n0 = blockIdx.x * FA_BN, g = blockIdx.y, rep = H / KVH;
  const int w = threadIdx.x / 32, lane = threadIdx.x % 32, tq = lane % 4;
  const int QD = H * D, KD = KVH * D;
  const size_t row0 = (size_t)blockIdx.z * T;
  const int nlast = imin(n0 + FA_BN, T) - 1;
  const int qend = seg_end[row0 + nlast], e_first = seg_end[row0 + n0];
  const int ka = n0 + w * 16 + lane / 4, kb = ka + 8;
  const int ea = ka < T ? seg_end[row0 + ka] : 0, eb = kb < T ? seg_end[row0 + kb] : 0;
  const float scale = 1.0f / sqrtf((float)D), sc = scale * FA_LOG2E;
  load_rows<D, FA_BN>(Ks, k, row0, n0, T, KD, g * D);
  load_rows<D, FA_BN>(Vs, v, row0, n0, T, KD, g * D);
  l1k_cp_async_commit();

  float ak[DB][4], av[DB][4];
  L1K_UNROLL
  for (int db = 0; db < DB; db++)
    L1K_UNROLL
    for (int i = 0; i < 4; i++) ak[db][i] = av[db][i] = 0.0f;
  /* the query tiles of every head of the group, in order: tile t is head g rep + t / per,
   * rows n0 + (t % per) FA_BQ .. */
  const int per = (qend - n0 + FA_BQ - 1) / FA_BQ, nt = rep * per;
  qtile_load<D>(QO, LD, q, dout, lse, dsum, row0, n0, qend, QD, H, g * rep);
  l1k_cp_async_commit();
  for (int t = 0; t < nt; t++) {
    const int st = t & 1, i0 = n0 + (t % per) * FA_BQ;
    if (t + 1 < nt) /* the other stage was freed by the last iteration's barrier */
      qtile_load<D>(QO + (st ^ 1) * 2 * FA_BQ * SD, LD + (st ^ 1) * 2 * FA_BQ, q, dout, lse, dsum,
                    row0, n0 + ((t + 1) % per) * FA_BQ, qend, QD, H, g * rep + (t + 1) / per);
    l1k_cp_async_commit();
    l1k_cp_async_wait<1>(); /* all but the tile just requested */
    __syncthreads();
    const uint16_t *Qs = QO + st * 2 * FA_BQ * SD, *Os = Qs + FA_BQ * SD;
    const float *ls = LD + st * 2 * FA_BQ, *ds = ls + FA_BQ;
    float s[NQ][4], dp[NQ][4];
    L1K_UNROLL
    for (int nb = 0; nb < NQ; nb++)
      L1K_UNROLL
      for (int i = 0; i < 4; i++) s[nb][i] = dp[nb][i] = 0.0f;
    mma_abt<D, NQ>(s, Ks, w * 16, Qs);
    mma_abt<D, NQ>(dp, Vs, w * 16, Os);
    if (!(i0 >= n0 + FA_BN - 1 && i0 + FA_BQ - 1 < e_first)) mask_keys<NQ>(s, i0, ka, ea, eb);
    L1K_UNROLL
    for (int nb = 0; nb < NQ; nb++)
      L1K_UNROLL
      for (int i = 0; i < 4; i++) {
        int c = nb * 8 + 2 * tq + (i & 1);
        float p = exp2f(fmaf(s[nb][i], sc, -ls[c]));
        s[nb][i] = p;
        dp[nb][i] = p * (dp[nb][i] - ds[c]); /* dS / scale */
      }
    uint32_t pa[FA_BQ / 16][4], da[FA_BQ / 16][4];
    L1K_UNROLL
    for (int kk = 0; kk < FA_BQ / 16; kk++) {
      acc_to_a(pa[kk], s[2 * kk], s[2 * kk + 1]);
      acc_to_a(da[kk], dp[2 * kk], dp[2 * kk + 1]);
    }
    mma_pv<SD, FA_BQ / 16, DB>(av, pa, Os);
    mma_pv<SD, FA_BQ / 16, DB>(ak, da, Qs);
    __syncthreads(); /* this stage is free */
  }
  l1k_cp_async_wait<0>();
  L1K_UNROLL
  for (int hf = 0; hf < 2; hf++) {
    int key = hf ? kb : ka;
    if (key >= T) continue;
    size_t at = (row0 + key) * (size_t)KD + (size_t)g * D + 2 * tq;
    L1K_UNROLL
    for (int db = 0; db < DB; db++) {
      dk[at + db * 8] = ak[db][2 * hf] * scale, dk[at + db * 8 + 1] = ak[db][2 * hf + 1] * scale;
      dv[at + db * 8] = av[db][2 * hf], dv[at + db * 8 + 1] = av[db][2 * hf + 1];
    }
  }
}

/* ================================================================ launchers */

static int shape_ok(const void *const *p, int n, int B, int T, int H, int KVH, int hd) {
  if (B <= 0 || T <= 0 || KVH <= 0 || H % KVH || (hd != 16 && hd != 32 && hd != 64 && hd != 128))
    return 0;
  for (int i = 0; i < n; i++)
    if ((uintptr_t)p[i] % 16) return 0;
  return 1;
}

static size_t tile_bytes(int rows, int D) { return (size_t)rows * (D + 8) * sizeof(uint16_t); }

template <int D, int MT>
static int fw_launch(uint16_t *o, float *lse, const uint16_t *q, const uint16_t *k,
                     const uint16_t *v, const int32_t *seg, int B, int T, int H, int KVH) {
  auto *kern = flash_fw_k<D, MT>;
  size_t sm = tile_bytes(64 * MT + 2 * FA_BN, D);
  cudaError_t e = cudaFuncSetAttribute(kern, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)sm);
  if (e != cudaSuccess) return (int)e;
  dim3 grid((T + 64 * MT - 1) / (64 * MT), H, B);
  kern<<<grid, FA_THREADS, sm>>>(o, lse, q, k, v, seg, T, H, KVH);
  return (int)cudaGetLastError();
}

/* Query rows per forward block: LONG1K_FLASH_FW_ROWS = 64 | 128 (benchmarks, tests), else 128
 * below head_dim 128 and 64 at 128 (where 32 rows per warp spill registers; see docs/gpu.md). */
static int fw_rows(int hd) {
  const char *e = getenv("LONG1K_FLASH_FW_ROWS");
  if (e && !strcmp(e, "64")) return 64;
  if (e && !strcmp(e, "128")) return 128;
  return hd < 128 ? 128 : 64;
}

extern "C" int l1kcu_flash_bf16_fw(uint16_t *o, float *lse, const uint16_t *q, const uint16_t *k,
                                   const uint16_t *v, const int32_t *seg, int B, int T, int H,
                                   int KVH, int hd) {
  if (B <= 0 || T <= 0) return 0;
  const void *p[] = {o, q, k, v};
  if (!shape_ok(p, 4, B, T, H, KVH, hd)) return (int)cudaErrorInvalidValue;
#define FA_FW(D, MT) fw_launch<D, MT>(o, lse, q, k, v, seg, B, T, H, KVH)
  int two = fw_rows(hd) == 128;
  switch (hd) {
    case 16: return two ? FA_FW(16, 2) : FA_FW(16, 1);
    case 32: return two ? FA_FW(32, 2) : FA_FW(32, 1);
    case 64: return two ? FA_FW(64, 2) : FA_FW(64, 1);
    default: return two ? FA_FW(128, 2) : FA_FW(128, 1);
  }
#undef FA_FW
}

template <int D>
static int bw_launch(float *dq, float *dk, float *dv, const float *dsum, const uint16_t *dout,
                     const float *lse, const uint16_t *q, const uint16_t *k, const uint16_t *v,
                     const int32_t *seg, const int32_t *seg_end, int B, int T, int H, int KVH) {
  auto *kq = flash_dq_k<D>;
  auto *kkv = flash_dkv_k<D>;
  size_t smq = tile_bytes(2 * FA_BM + 4 * FA_BN, D);
  size_t smkv = tile_bytes(2 * FA_BN + 4 * FA_BQ, D) + 4 * FA_BQ * sizeof(float);
  cudaError_t e = cudaFuncSetAttribute(kq, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smq);
  if (e == cudaSuccess)
    e = cudaFuncSetAttribute(kkv, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smkv);
  if (e != cudaSuccess) return (int)e;
  dim3 gq((T + FA_BM - 1) / FA_BM, H, B), gkv((T + FA_BN - 1) / FA_BN, KVH, B);
  kq<<<gq, FA_THREADS, smq>>>(dq, dout, lse, dsum, q, k, v, seg, T, H, KVH);
  if ((e = cudaGetLastError()) != cudaSuccess) return (int)e;
  kkv<<<gkv, FA_THREADS, smkv>>>(dk, dv, dout, lse, dsum, q, k, v, seg_end, T, H, KVH);
  return (int)cudaGetLastError();
}

extern "C" int l1kcu_flash_bf16_bw(float *dq, float *dk, float *dv, float *dsum,
                                   const uint16_t *dout, const uint16_t *o, const float *lse,
                                   const uint16_t *q, const uint16_t *k, const uint16_t *v,
                                   const int32_t *seg, const int32_t *seg_end, int B, int T, int H,
                                   int KVH, int hd) {
  if (B <= 0 || T <= 0) return 0;
  const void *p[] = {dout, o, q, k, v};
  if (!shape_ok(p, 5, B, T, H, KVH, hd)) return (int)cudaErrorInvalidValue;
  size_t items = (size_t)B * T * H;
  flash_dsum_k<<<(unsigned)((items + 7) / 8), 256>>>(dsum, dout, o, items, hd);
  cudaError_t e = cudaGetLastError();
  if (e != cudaSuccess) return (int)e;
#define FA_BW(D) bw_launch<D>(dq, dk, dv, dsum, dout, lse, q, k, v, seg, seg_end, B, T, H, KVH)
  switch (hd) {
    case 16: return FA_BW(16);
    case 32: return FA_BW(32);
    case 64: return FA_BW(64);
    default: return FA_BW(128);
  }
#undef FA_BW
}

__global__ static void bf16_to_f32_k(float *dst, const uint16_t *src, size_t n) {
  for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n;
       i += (size_t)gridDim.x * blockDim.x)
    dst[i] = bf16_f(src[i]);
}

extern "C" int l1kcu_bf16_to_f32(float *dst, const uint16_t *src, size_t n) {
  if (!n) return 0;
  size_t b = (n + 255) / 256;
  bf16_to_f32_k<<<(unsigned)(b < 65535u * 16u ? b : 65535u * 16u), 256>>>(dst, src, n);
  return (int)cudaGetLastError();
}
