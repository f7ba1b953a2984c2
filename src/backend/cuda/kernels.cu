/* long1k — CUDA kernels, float32 parity mode (see kernels.h for every contract).
 *
 * CUDA C in plain C style (llm.c): one kernel and one extern "C" launcher per op, forward and
 * backward side by side. Simple and obviously correct first: warp-per-row reductions in a
 * fixed order, one owner per output element, no atomics, no fast-math. Speed comes later
 * (bf16, tensor-core attention), checked against these. */
#include <cuda_bf16.h>
#include <cuda_runtime.h>
#include <math.h>
#include <stdint.h>

#include "backend/cuda/kernels.h"

#define WARP 32
#define FULL_MASK 0xffffffffu

static int launched(void) { return (int)cudaGetLastError(); }

extern "C" {
void *l1kcu_stream = 0; /* kernels.h */
}
#define ON_STREAM 0, (cudaStream_t)l1kcu_stream /* a launch's shared bytes and stream */

static unsigned blocks_for(size_t n, unsigned threads) {
  size_t b = (n + threads - 1) / threads;
  if (b > 65535u * 16u) b = 65535u * 16u; /* grid-stride loops cover the rest */
  return (unsigned)(b ? b : 1);
}

extern "C" const char *l1kcu_error_string(int code) {
  return cudaGetErrorString((cudaError_t)code);
}

/* Sums of a warp, the same tree on every run. */
__device__ static double warp_sum_d(double v) {
  for (int o = WARP / 2; o > 0; o /= 2) v += __shfl_xor_sync(FULL_MASK, v, o);
  return v;
}
__device__ static float warp_sum_f(float v) {
  for (int o = WARP / 2; o > 0; o /= 2) v += __shfl_xor_sync(FULL_MASK, v, o);
  return v;
}
__device__ static float warp_max_f(float v) {
  for (int o = WARP / 2; o > 0; o /= 2) v = fmaxf(v, __shfl_xor_sync(FULL_MASK, v, o));
  return v;
}

/* Sum over a block of up to 1024 threads (blockDim.x a multiple of 32); every thread gets
 * the result. sh: WARP doubles of shared memory. */
__device__ static double block_sum_d(double v, double *sh) {
  int lane = threadIdx.x % WARP, w = threadIdx.x / WARP, nw = blockDim.x / WARP;
  v = warp_sum_d(v);
  __syncthreads();
  if (lane == 0) sh[w] = v;
  __syncthreads();
  double s = lane < nw ? sh[lane] : 0.0;
  return warp_sum_d(s);
}
__device__ static float block_max_f(float v, float *sh) {
  int lane = threadIdx.x % WARP, w = threadIdx.x / WARP, nw = blockDim.x / WARP;
  v = warp_max_f(v);
  __syncthreads();
  if (lane == 0) sh[w] = v;
  __syncthreads();
  float s = lane < nw ? sh[lane] : -INFINITY;
  return warp_max_f(s);
}

/* ================================================================ embedding */

__global__ static void embedding_fw_k(float *x, const int32_t *ids, const float *emb, int N, int C) {
  size_t n = (size_t)N * C;
  for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n;
       i += (size_t)gridDim.x * blockDim.x) {
    size_t r = i / C, c = i % C;
    x[i] = emb[(size_t)ids[r] * C + c];
  }
}

extern "C" int l1kcu_embedding_fw(float *x, const int32_t *ids, const float *emb, int N, int C) {
  if (N <= 0) return 0;
  embedding_fw_k<<<blocks_for((size_t)N * C, 256), 256, ON_STREAM>>>(x, ids, emb, N, C);
  return launched();
}

__global__ static void embedding_bw_k(float *demb, const float *dx, const int32_t *uniq,
                                      const int32_t *off, const int32_t *rows, int C) {
  int u = blockIdx.x;
  float *g = demb + (size_t)uniq[u] * C;
  for (int c = threadIdx.x; c < C; c += blockDim.x) {
    float acc = g[c];
    for (int k = off[u]; k < off[u + 1]; k++) acc += dx[(size_t)rows[k] * C + c];
    g[c] = acc;
  }
}

extern "C" int l1kcu_embedding_bw(float *demb, const float *dx, const int32_t *uniq,
                                  const int32_t *off, const int32_t *rows, int U, int C) {
  if (U <= 0) return 0;
  embedding_bw_k<<<U, 256>>>(demb, dx, uniq, off, rows, C);
  return launched();
}

/* ================================================================ RMSNorm */

/* One warp per row; 8 rows per block. */
__global__ static void rmsnorm_fw_k(float *y, float *rstd, const float *x, const float *w, int N,
                                    int C, float eps) {
  int row = blockIdx.x * (blockDim.x / WARP) + threadIdx.x / WARP, lane = threadIdx.x % WARP;
  if (row >= N) return;
  const float *xr = x + (size_t)row * C;
  float *yr = y + (size_t)row * C;
  double ss = 0;
  for (int j = lane; j < C; j += WARP) ss += (double)xr[j] * xr[j];
  ss = warp_sum_d(ss);
  float r = (float)(1.0 / sqrt(ss / C + (double)eps));
  if (rstd && lane == 0) rstd[row] = r;
  for (int j = lane; j < C; j += WARP) yr[j] = w[j] * (xr[j] * r);
}

extern "C" int l1kcu_rmsnorm_fw(float *y, float *rstd, const float *x, const float *w, int N,
                                int C, float eps) {
  if (N <= 0) return 0;
  rmsnorm_fw_k<<<(N + 7) / 8, 256, ON_STREAM>>>(y, rstd, x, w, N, C, eps);
  return launched();
}

__global__ static void rmsnorm_bw_dx_k(float *dx, const float *dy, const float *x, const float *w,
                                       const float *rstd, int N, int C) {
  int row = blockIdx.x * (blockDim.x / WARP) + threadIdx.x / WARP, lane = threadIdx.x % WARP;
  if (row >= N) return;
  const float *xr = x + (size_t)row * C, *dyr = dy + (size_t)row * C;
  float *dxr = dx + (size_t)row * C;
  float r = rstd[row];
  double dot = 0;
  for (int j = lane; j < C; j += WARP) dot += (double)dyr[j] * w[j] * xr[j] * r;
  dot = warp_sum_d(dot);
  float m = (float)(dot / C);
  for (int j = lane; j < C; j += WARP) {
    float xh = xr[j] * r;
    dxr[j] += r * (dyr[j] * w[j] - xh * m);
  }
}

/* One thread per column, rows in order (the CPU's order and precision). */
__global__ static void rmsnorm_bw_dw_k(float *dw, const float *dy, const float *x,
                                       const float *rstd, int N, int C) {
  int j = blockIdx.x * blockDim.x + threadIdx.x;
  if (j >= C) return;
  double s = 0;
  for (int i = 0; i < N; i++) s += (double)dy[(size_t)i * C + j] * x[(size_t)i * C + j] * rstd[i];
  dw[j] += (float)s;
}

extern "C" int l1kcu_rmsnorm_bw(float *dx, float *dw, const float *dy, const float *x,
                                const float *w, const float *rstd, int N, int C) {
  if (N <= 0) return 0;
  rmsnorm_bw_dx_k<<<(N + 7) / 8, 256>>>(dx, dy, x, w, rstd, N, C);
  int e = launched();
  if (e || !dw) return e;
  rmsnorm_bw_dw_k<<<(C + 127) / 128, 128>>>(dw, dy, x, rstd, N, C);
  return launched();
}

/* ================================================================ RoPE */

__global__ static void rope_table_k(float *cos_t, float *sin_t, const int32_t *pos, int n,
                                    const float *inv_freq, int half) {
  size_t total = (size_t)n * half;
  for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < total;
       i += (size_t)gridDim.x * blockDim.x) {
    size_t r = i / half, k = i % half;
    float a = inv_freq[k] * (float)pos[r];
    cos_t[i] = (float)cos((double)a);
    sin_t[i] = (float)sin((double)a);
  }
}

extern "C" int l1kcu_rope_table(float *cos_t, float *sin_t, const int32_t *pos, int n,
                                const float *inv_freq, int half) {
  if (n <= 0) return 0;
  rope_table_k<<<blocks_for((size_t)n * half, 256), 256, ON_STREAM>>>(cos_t, sin_t, pos, n, inv_freq, half);
  return launched();
}

__global__ static void rope_apply_k(float *x, int n_rows, int stride, int n_heads, int head_dim,
                                    const float *cos_t, const float *sin_t, float sgn) {
  int half = head_dim / 2;
  size_t total = (size_t)n_rows * n_heads * half;
  for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < total;
       i += (size_t)gridDim.x * blockDim.x) {
    size_t k = i % half, h = (i / half) % n_heads, r = i / ((size_t)half * n_heads);
    float *v = x + r * stride + h * head_dim;
    float c = cos_t[r * half + k], si = sgn * sin_t[r * half + k];
    float a = v[k], b = v[k + half];
    v[k] = a * c - b * si;
    v[k + half] = b * c + a * si;
  }
}

static int rope_apply(float *x, int n_rows, int stride, int n_heads, int head_dim,
                      const float *cos_t, const float *sin_t, float sgn) {
  if (n_rows <= 0) return 0;
  size_t total = (size_t)n_rows * n_heads * (head_dim / 2);
  rope_apply_k<<<blocks_for(total, 256), 256>>>(x, n_rows, stride, n_heads, head_dim, cos_t,
                                                sin_t, sgn);
  return launched();
}

extern "C" int l1kcu_rope_fw(float *x, int n_rows, int stride, int n_heads, int head_dim,
                             const float *cos_t, const float *sin_t) {
  return rope_apply(x, n_rows, stride, n_heads, head_dim, cos_t, sin_t, 1.0f);
}

extern "C" int l1kcu_rope_bw(float *x, int n_rows, int stride, int n_heads, int head_dim,
                             const float *cos_t, const float *sin_t) {
  return rope_apply(x, n_rows, stride, n_heads, head_dim, cos_t, sin_t, -1.0f);
}

/* ================================================================ SwiGLU, elementwise */

__global__ static void swiglu_fw_k(float *h, const float *gate, const float *up, size_t n) {
  for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n;
       i += (size_t)gridDim.x * blockDim.x) {
    float g = gate[i];
    h[i] = g / (1.0f + expf(-g)) * up[i];
  }
}

extern "C" int l1kcu_swiglu_fw(float *h, const float *gate, const float *up, size_t n) {
  if (!n) return 0;
  swiglu_fw_k<<<blocks_for(n, 256), 256, ON_STREAM>>>(h, gate, up, n);
  return launched();
}

__global__ static void swiglu_bw_k(float *dgate, float *dup, const float *dh, const float *gate,
                                   const float *up, size_t n) {
  for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n;
       i += (size_t)gridDim.x * blockDim.x) {
    float g = gate[i], sg = 1.0f / (1.0f + expf(-g)), d = dh[i];
    dup[i] = d * g * sg;
    dgate[i] = d * up[i] * sg * (1.0f + g * (1.0f - sg));
  }
}

extern "C" int l1kcu_swiglu_bw(float *dgate, float *dup, const float *dh, const float *gate,
                               const float *up, size_t n) {
  if (!n) return 0;
  swiglu_bw_k<<<blocks_for(n, 256), 256>>>(dgate, dup, dh, gate, up, n);
  return launched();
}

__global__ static void add_k(float *y, const float *a, const float *b, size_t n) {
  for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n;
       i += (size_t)gridDim.x * blockDim.x)
    y[i] = a[i] + b[i];
}

extern "C" int l1kcu_add(float *y, const float *a, const float *b, size_t n) {
  if (!n) return 0;
  add_k<<<blocks_for(n, 256), 256>>>(y, a, b, n);
  return launched();
}

__global__ static void scale_k(float *x, size_t n, double coef) {
  for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n;
       i += (size_t)gridDim.x * blockDim.x)
    x[i] = (float)((double)x[i] * coef);
}

extern "C" int l1kcu_scale(float *x, size_t n, double coef) {
  if (!n) return 0;
  scale_k<<<blocks_for(n, 256), 256>>>(x, n, coef);
  return launched();
}

/* ================================================================ bias */

__global__ static void bias_fw_k(float *y, const float *b, int N, int out) {
  size_t n = (size_t)N * out;
  for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n;
       i += (size_t)gridDim.x * blockDim.x)
    y[i] += b[i % out];
}

extern "C" int l1kcu_bias_fw(float *y, const float *b, int N, int out) {
  if (N <= 0 || out <= 0) return 0;
  bias_fw_k<<<blocks_for((size_t)N * out, 256), 256, ON_STREAM>>>(y, b, N, out);
  return launched();
}

__global__ static void bias_bw_k(float *db, const float *dy, int N, int out) {
  int j = blockIdx.x * blockDim.x + threadIdx.x;
  if (j >= out) return;
  double s = 0;
  for (int i = 0; i < N; i++) s += dy[(size_t)i * out + j];
  db[j] += (float)s;
}

extern "C" int l1kcu_bias_bw(float *db, const float *dy, int N, int out) {
  if (N <= 0 || out <= 0) return 0;
  bias_bw_k<<<(out + 127) / 128, 128>>>(db, dy, N, out);
  return launched();
}

/* ================================================================ attention */

/* Tiles: ATT_ROWS warps per block, one query row (forward, dQ) or one key row (dK/dV) per
 * warp; ATT_KT = 32 keys (or queries) per shared-memory tile, lane j of a warp scoring tile
 * entry j. Rows of a tile are padded by one float so that lanes reading entry j's row at the
 * same d hit different banks. A lane owns output dims d = lane + 32 c. */
#define ATT_ROWS 8
#define ATT_KT 32
#define ATT_PAD (L1KCU_MAX_HEAD_DIM + 1)
#define ATT_DPL (L1KCU_MAX_HEAD_DIM / WARP) /* output dims per lane, at most */

/* Scores of the query (in shared qs, hd floats) with tile entry `lane` (shared ks row). */
__device__ static float dot_sh(const float *a, const float *b, int hd) {
  float s = 0.0f;
  for (int d = 0; d < hd; d++) s = fmaf(a[d], b[d], s);
  return s;
}

/* Loads rows [j0, j0 + ATT_KT) (those < jend) of head column col of src[.., ld] into
 * dst[ATT_KT][ATT_PAD]; rows past jend are zero. */
__device__ static void load_tile(float *dst, const float *src, size_t row0, int j0, int jend,
                                 int ld, int col, int hd) {
  for (int i = threadIdx.x; i < ATT_KT * hd; i += blockDim.x) {
    int jj = i / hd, d = i % hd, j = j0 + jj;
    dst[jj * ATT_PAD + d] = j < jend ? src[(row0 + j) * (size_t)ld + col + d] : 0.0f;
  }
}

__global__ static void attention_fw_k(float *o, float *lse, const float *q, const float *k,
                                      const float *v, const int32_t *seg, int T, int H, int KVH,
                                      int hd) {
  __shared__ float Ks[ATT_KT * ATT_PAD], Vs[ATT_KT * ATT_PAD], qs[ATT_ROWS * L1KCU_MAX_HEAD_DIM];
  int h = blockIdx.y, b = blockIdx.z, g = h / (H / KVH);
  int w = threadIdx.x / WARP, lane = threadIdx.x % WARP;
  int t0 = blockIdx.x * ATT_ROWS, t = t0 + w;
  int QD = H * hd, KD = KVH * hd;
  size_t row0 = (size_t)b * T;
  int valid = t < T;
  int last = t0 + ATT_ROWS - 1 < T ? t0 + ATT_ROWS - 1 : T - 1;
  int kstart = seg[row0 + t0], kend = last + 1, my_start = valid ? seg[row0 + t] : 0;
  float scale = 1.0f / sqrtf((float)hd);
  for (int i = threadIdx.x; i < ATT_ROWS * hd; i += blockDim.x) {
    int ww = i / hd, d = i % hd, tt = t0 + ww;
    qs[ww * L1KCU_MAX_HEAD_DIM + d] = tt < T ? q[(row0 + tt) * QD + (size_t)h * hd + d] : 0.0f;
  }
  float m = -INFINITY, l = 0.0f, acc[ATT_DPL];
  for (int c = 0; c < ATT_DPL; c++) acc[c] = 0.0f;
  for (int j0 = kstart; j0 < kend; j0 += ATT_KT) {
    __syncthreads();
    load_tile(Ks, k, row0, j0, kend, KD, g * hd, hd);
    load_tile(Vs, v, row0, j0, kend, KD, g * hd, hd);
    __syncthreads();
    if (!valid) continue;
    int j = j0 + lane;
    int ok = j >= my_start && j <= t;
    float s = ok ? scale * dot_sh(qs + w * L1KCU_MAX_HEAD_DIM, Ks + lane * ATT_PAD, hd) : -INFINITY;
    float mt = warp_max_f(s);
    if (mt == -INFINITY) continue; /* no key of this tile is visible to this query */
    float mn = fmaxf(m, mt), corr = expf(m - mn);
    float p = ok ? expf(s - mn) : 0.0f;
    l = l * corr + warp_sum_f(p);
    for (int c = 0; c < ATT_DPL; c++) {
      int d = lane + WARP * c;
      float a = acc[c] * corr;
      for (int jj = 0; jj < ATT_KT; jj++) {
        float pj = __shfl_sync(FULL_MASK, p, jj);
        if (d < hd) a = fmaf(pj, Vs[jj * ATT_PAD + d], a);
      }
      acc[c] = a;
    }
    m = mn;
  }
  if (!valid) return;
  for (int c = 0; c < ATT_DPL; c++) {
    int d = lane + WARP * c;
    if (d < hd) o[(row0 + t) * QD + (size_t)h * hd + d] = acc[c] / l;
  }
  if (lane == 0) lse[(row0 + t) * H + h] = m + logf(l);
}

extern "C" int l1kcu_attention_fw(float *o, float *lse, const float *q, const float *k,
                                  const float *v, const int32_t *seg, int B, int T, int H, int KVH,
                                  int hd) {
  if (B <= 0 || T <= 0) return 0;
  if (hd > L1KCU_MAX_HEAD_DIM || hd <= 0 || KVH <= 0 || H % KVH) return (int)cudaErrorInvalidValue;
  dim3 grid((T + ATT_ROWS - 1) / ATT_ROWS, H, B);
  attention_fw_k<<<grid, ATT_ROWS * WARP>>>(o, lse, q, k, v, seg, T, H, KVH, hd);
  return launched();
}

/* dsum[r, h] = sum_d dO[r, h, d] * O[r, h, d] (one warp per (r, h), double). */
__global__ static void attention_dsum_k(float *dsum, const float *dout, const float *o, int N,
                                        int H, int hd) {
  size_t item = blockIdx.x * (size_t)(blockDim.x / WARP) + threadIdx.x / WARP;
  int lane = threadIdx.x % WARP;
  if (item >= (size_t)N * H) return;
  const float *a = dout + item * hd, *b = o + item * hd; /* [N, H*hd]: (r, h) at (r*H + h)*hd */
  double s = 0;
  for (int d = lane; d < hd; d += WARP) s += (double)a[d] * b[d];
  s = warp_sum_d(s);
  if (lane == 0) dsum[item] = (float)s;
}

/* dQ: one warp per query row, tiles of keys; ds = p (dp - D) scale, dq = sum_j ds_j k_j. */
__global__ static void attention_dq_k(float *dq, const float *dsum, const float *dout,
                                      const float *lse, const float *q, const float *k,
                                      const float *v, const int32_t *seg, int T, int H, int KVH,
                                      int hd) {
  __shared__ float Ks[ATT_KT * ATT_PAD], Vs[ATT_KT * ATT_PAD];
  __shared__ float qs[ATT_ROWS * L1KCU_MAX_HEAD_DIM], dos[ATT_ROWS * L1KCU_MAX_HEAD_DIM];
  int h = blockIdx.y, b = blockIdx.z, g = h / (H / KVH);
  int w = threadIdx.x / WARP, lane = threadIdx.x % WARP;
  int t0 = blockIdx.x * ATT_ROWS, t = t0 + w;
  int QD = H * hd, KD = KVH * hd;
  size_t row0 = (size_t)b * T;
  int valid = t < T;
  int last = t0 + ATT_ROWS - 1 < T ? t0 + ATT_ROWS - 1 : T - 1;
  int kstart = seg[row0 + t0], kend = last + 1, my_start = valid ? seg[row0 + t] : 0;
  float scale = 1.0f / sqrtf((float)hd);
  for (int i = threadIdx.x; i < ATT_ROWS * hd; i += blockDim.x) {
    int ww = i / hd, d = i % hd, tt = t0 + ww;
    size_t at = (row0 + tt) * QD + (size_t)h * hd + d;
    qs[ww * L1KCU_MAX_HEAD_DIM + d] = tt < T ? q[at] : 0.0f;
    dos[ww * L1KCU_MAX_HEAD_DIM + d] = tt < T ? dout[at] : 0.0f;
  }
  float my_lse = valid ? lse[(row0 + t) * H + h] : 0.0f;
  float my_d = valid ? dsum[(row0 + t) * H + h] : 0.0f;
  float acc[ATT_DPL];
  for (int c = 0; c < ATT_DPL; c++) acc[c] = 0.0f;
  for (int j0 = kstart; j0 < kend; j0 += ATT_KT) {
    __syncthreads();
    load_tile(Ks, k, row0, j0, kend, KD, g * hd, hd);
    load_tile(Vs, v, row0, j0, kend, KD, g * hd, hd);
    __syncthreads();
    if (!valid) continue;
    int j = j0 + lane;
    int ok = j >= my_start && j <= t;
    float ds = 0.0f;
    if (ok) {
      float s = scale * dot_sh(qs + w * L1KCU_MAX_HEAD_DIM, Ks + lane * ATT_PAD, hd);
      float p = expf(s - my_lse);
      float dp = dot_sh(dos + w * L1KCU_MAX_HEAD_DIM, Vs + lane * ATT_PAD, hd);
      ds = p * (dp - my_d) * scale;
    }
    for (int c = 0; c < ATT_DPL; c++) {
      int d = lane + WARP * c;
      float a = acc[c];
      for (int jj = 0; jj < ATT_KT; jj++) {
        float sj = __shfl_sync(FULL_MASK, ds, jj);
        if (d < hd) a = fmaf(sj, Ks[jj * ATT_PAD + d], a);
      }
      acc[c] = a;
    }
  }
  if (!valid) return;
  for (int c = 0; c < ATT_DPL; c++) {
    int d = lane + WARP * c;
    if (d < hd) dq[(row0 + t) * QD + (size_t)h * hd + d] = acc[c];
  }
}

/* dK, dV: one warp per key row j of kv head g, tiles of the queries that see it (j .. the
 * end of its document), the group's query heads one after the other:
 * dv_j = sum_i p_ij dO_i, dk_j = sum_i ds_ij q_i. */
__global__ static void attention_dkv_k(float *dk, float *dv, const float *dsum, const float *dout,
                                       const float *lse, const float *q, const float *k,
                                       const float *v, const int32_t *seg_end, int T, int H,
                                       int KVH, int hd) {
  __shared__ float Qs[ATT_KT * ATT_PAD], Ds[ATT_KT * ATT_PAD];
  __shared__ float ks[ATT_ROWS * L1KCU_MAX_HEAD_DIM], vs[ATT_ROWS * L1KCU_MAX_HEAD_DIM];
  __shared__ float lse_s[ATT_KT], dsum_s[ATT_KT];
  int g = blockIdx.y, b = blockIdx.z, rep = H / KVH;
  int w = threadIdx.x / WARP, lane = threadIdx.x % WARP;
  int j0 = blockIdx.x * ATT_ROWS, j = j0 + w;
  int QD = H * hd, KD = KVH * hd;
  size_t row0 = (size_t)b * T;
  int valid = j < T;
  int last = j0 + ATT_ROWS - 1 < T ? j0 + ATT_ROWS - 1 : T - 1;
  int qend = seg_end[row0 + last], my_end = valid ? seg_end[row0 + j] : 0;
  float scale = 1.0f / sqrtf((float)hd);
  for (int i = threadIdx.x; i < ATT_ROWS * hd; i += blockDim.x) {
    int ww = i / hd, d = i % hd, jj = j0 + ww;
    size_t at = (row0 + jj) * KD + (size_t)g * hd + d;
    ks[ww * L1KCU_MAX_HEAD_DIM + d] = jj < T ? k[at] : 0.0f;
    vs[ww * L1KCU_MAX_HEAD_DIM + d] = jj < T ? v[at] : 0.0f;
  }
  float ak[ATT_DPL], av[ATT_DPL];
  for (int c = 0; c < ATT_DPL; c++) ak[c] = av[c] = 0.0f;
  for (int h = g * rep; h < (g + 1) * rep; h++) {
    for (int i0 = j0; i0 < qend; i0 += ATT_KT) {
      __syncthreads();
      load_tile(Qs, q, row0, i0, qend, QD, h * hd, hd);
      load_tile(Ds, dout, row0, i0, qend, QD, h * hd, hd);
      for (int ii = threadIdx.x; ii < ATT_KT; ii += blockDim.x) {
        int i = i0 + ii;
        lse_s[ii] = i < qend ? lse[(row0 + i) * H + h] : 0.0f;
        dsum_s[ii] = i < qend ? dsum[(row0 + i) * H + h] : 0.0f;
      }
      __syncthreads();
      if (!valid) continue;
      int i = i0 + lane;
      int ok = i >= j && i < my_end;
      float p = 0.0f, ds = 0.0f;
      if (ok) {
        float s = scale * dot_sh(Qs + lane * ATT_PAD, ks + w * L1KCU_MAX_HEAD_DIM, hd);
        p = expf(s - lse_s[lane]);
        float dp = dot_sh(Ds + lane * ATT_PAD, vs + w * L1KCU_MAX_HEAD_DIM, hd);
        ds = p * (dp - dsum_s[lane]) * scale;
      }
      for (int c = 0; c < ATT_DPL; c++) {
        int d = lane + WARP * c;
        float a = av[c], e = ak[c];
        for (int ii = 0; ii < ATT_KT; ii++) {
          float pi = __shfl_sync(FULL_MASK, p, ii), si = __shfl_sync(FULL_MASK, ds, ii);
          if (d < hd) {
            a = fmaf(pi, Ds[ii * ATT_PAD + d], a);
            e = fmaf(si, Qs[ii * ATT_PAD + d], e);
          }
        }
        av[c] = a;
        ak[c] = e;
      }
    }
  }
  if (!valid) return;
  for (int c = 0; c < ATT_DPL; c++) {
    int d = lane + WARP * c;
    if (d < hd) {
      size_t at = (row0 + j) * KD + (size_t)g * hd + d;
      dk[at] = ak[c];
      dv[at] = av[c];
    }
  }
}

extern "C" int l1kcu_attention_bw(float *dq, float *dk, float *dv, float *dsum, const float *dout,
                                  const float *o, const float *lse, const float *q,
                                  const float *k, const float *v, const int32_t *seg,
                                  const int32_t *seg_end, int B, int T, int H, int KVH, int hd) {
  if (B <= 0 || T <= 0) return 0;
  if (hd > L1KCU_MAX_HEAD_DIM || hd <= 0 || KVH <= 0 || H % KVH) return (int)cudaErrorInvalidValue;
  size_t items = (size_t)B * T * H;
  attention_dsum_k<<<blocks_for(items * WARP, 256), 256>>>(dsum, dout, o, B * T, H, hd);
  int e = launched();
  if (e) return e;
  dim3 gq((T + ATT_ROWS - 1) / ATT_ROWS, H, B);
  attention_dq_k<<<gq, ATT_ROWS * WARP>>>(dq, dsum, dout, lse, q, k, v, seg, T, H, KVH, hd);
  if ((e = launched())) return e;
  dim3 gk((T + ATT_ROWS - 1) / ATT_ROWS, KVH, B);
  attention_dkv_k<<<gk, ATT_ROWS * WARP>>>(dk, dv, dsum, dout, lse, q, k, v, seg_end, T, H, KVH,
                                           hd);
  return launched();
}

/* ================================================================ lm_head rows, cross-entropy */

__global__ static void gather_rows_k(float *dst, const float *src, const int32_t *rows, int R,
                                     int C, int scatter) {
  size_t n = (size_t)R * C;
  for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n;
       i += (size_t)gridDim.x * blockDim.x) {
    size_t r = i / C, c = i % C, other = (size_t)rows[r] * C + c;
    if (scatter) dst[other] = src[i];
    else dst[i] = src[other];
  }
}

extern "C" int l1kcu_gather_rows(float *dst, const float *src, const int32_t *rows, int R, int C) {
  if (R <= 0) return 0;
  gather_rows_k<<<blocks_for((size_t)R * C, 256), 256, ON_STREAM>>>(dst, src, rows, R, C, 0);
  return launched();
}

extern "C" int l1kcu_scatter_rows(float *dst, const float *src, const int32_t *rows, int R, int C) {
  if (R <= 0) return 0;
  gather_rows_k<<<blocks_for((size_t)R * C, 256), 256, ON_STREAM>>>(dst, src, rows, R, C, 1);
  return launched();
}

/* One block of 256 threads per row. */
__global__ static void cross_entropy_k(float *logits, double *loss, const int32_t *target, int V,
                                       int grad, float scale) {
  __shared__ double shd[WARP];
  __shared__ float shf[WARP];
  int r = blockIdx.x, tg = target[r];
  float *row = logits + (size_t)r * V;
  if (tg < 0) {
    if (grad)
      for (int j = threadIdx.x; j < V; j += blockDim.x) row[j] = 0.0f;
    if (threadIdx.x == 0) loss[r] = 0.0;
    return;
  }
  float mx = -INFINITY;
  int bad = 0;
  for (int j = threadIdx.x; j < V; j += blockDim.x) {
    mx = fmaxf(mx, row[j]);
    bad |= !(fabsf(row[j]) <= 3.0e38f);
  }
  mx = block_max_f(mx, shf);
  bad = block_sum_d((double)bad, shd) > 0.0;
  if (bad) { /* a NaN or infinite logit: the loss is NaN, as in transformers */
    if (grad)
      for (int j = threadIdx.x; j < V; j += blockDim.x) row[j] = NAN;
    if (threadIdx.x == 0) loss[r] = NAN;
    return;
  }
  double s = 0;
  for (int j = threadIdx.x; j < V; j += blockDim.x) s += (double)expf(row[j] - mx);
  s = block_sum_d(s, shd);
  float xt = row[tg];
  __syncthreads(); /* every thread has read row[tg] before it changes */
  if (grad) {
    float inv = (float)(scale / s);
    for (int j = threadIdx.x; j < V; j += blockDim.x) {
      float p = expf(row[j] - mx) * inv;
      row[j] = j == tg ? p - scale : p;
    }
  }
  if (threadIdx.x == 0) loss[r] = (double)mx + log(s) - (double)xt;
}

extern "C" int l1kcu_cross_entropy(float *logits, double *loss, const int32_t *target, int R, int V,
                                   int grad, float scale) {
  if (R <= 0) return 0;
  cross_entropy_k<<<R, 256>>>(logits, loss, target, V, grad, scale);
  return launched();
}

/* ================================================================ gradient norm, AdamW */

__global__ static void sumsq_part_k(double *part, const float *x, size_t n) {
  __shared__ double sh[WARP];
  double s = 0;
  for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n;
       i += (size_t)gridDim.x * blockDim.x)
    s += (double)x[i] * x[i];
  s = block_sum_d(s, sh);
  if (threadIdx.x == 0) part[blockIdx.x] = s;
}

__global__ static void sumsq_final_k(double *out, const double *part) {
  __shared__ double sh[WARP];
  double s = 0;
  for (int i = threadIdx.x; i < L1KCU_NORM_BLOCKS; i += blockDim.x) s += part[i];
  s = block_sum_d(s, sh);
  if (threadIdx.x == 0) out[0] = s;
}

extern "C" int l1kcu_sumsq(double *out, double *part, const float *x, size_t n) {
  sumsq_part_k<<<L1KCU_NORM_BLOCKS, 256>>>(part, x, n);
  int e = launched();
  if (e) return e;
  sumsq_final_k<<<1, 1024>>>(out, part);
  return launched();
}

__global__ static void adamw_k(float *p, const float *g, float *m, float *v, size_t n, double lr,
                               double b1, double b2, double eps, double wd, double step_size,
                               double bc2_sqrt) {
  double decay = 1.0 - lr * wd;
  for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n;
       i += (size_t)gridDim.x * blockDim.x) {
    double gi = g[i];
    double mi = b1 * m[i] + (1.0 - b1) * gi;
    double vi = b2 * v[i] + (1.0 - b2) * gi * gi;
    m[i] = (float)mi;
    v[i] = (float)vi;
    double pi = (double)p[i] * decay;
    pi -= step_size * (double)m[i] / (sqrt((double)v[i]) / bc2_sqrt + eps);
    p[i] = (float)pi;
  }
}

extern "C" int l1kcu_adamw(float *p, const float *g, float *m, float *v, size_t n, double lr,
                           double b1, double b2, double eps, double wd, double step_size,
                           double bc2_sqrt) {
  if (!n) return 0;
  adamw_k<<<blocks_for(n, 256), 256>>>(p, g, m, v, n, lr, b1, b2, eps, wd, step_size, bc2_sqrt);
  return launched();
}

/* ================================================================ bf16 conversion */

__global__ static void to_bf16_k(uint16_t *dst, const float *src, size_t n) {
  for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n;
       i += (size_t)gridDim.x * blockDim.x)
    dst[i] = __bfloat16_as_ushort(__float2bfloat16_rn(src[i]));
}

extern "C" int l1kcu_to_bf16(uint16_t *dst, const float *src, size_t n) {
  if (!n) return 0;
  to_bf16_k<<<blocks_for(n, 256), 256, ON_STREAM>>>(dst, src, n);
  return launched();
}
