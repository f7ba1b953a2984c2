/* long1k — CUDA kernels of the CUDA backend (float32 parity mode), llm.c style: one launcher
 * per op, forward and backward side by side (kernels.cu), each checked against the CPU
 * function of the same op (include/long1k/backend.h) by tests/cuda/test_cuda_kernels.c.
 *
 * Plain C interface. Every pointer is a DEVICE pointer; every launcher runs on the default
 * stream and returns 0 or the cudaError_t of the launch (cudaGetLastError right after it).
 * Shapes follow the CPU kernels: row-major, rows of a batch r = b * T + t. No launcher uses
 * floating-point atomics: every output element has one owner thread and a fixed summation
 * order, so results are the same bits on every run (the deterministic mode is the only mode).
 */
#ifndef LONG1K_BACKEND_CUDA_KERNELS_H
#define LONG1K_BACKEND_CUDA_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Largest head_dim the attention kernels take (their shared-memory tiles are sized for it). */
#define L1KCU_MAX_HEAD_DIM 128
/* Blocks of the first pass of l1kcu_sumsq (its partial sums: double[L1KCU_NORM_BLOCKS]). */
#define L1KCU_NORM_BLOCKS 1024

/* The stream of the launchers generation uses (embedding_fw, rmsnorm_fw, rope_table, swiglu_fw,
 * bias_fw, gather_rows, to_bf16 here; every launcher of gen.h): gen_decode.c points it at its
 * own stream while it runs (so that a decode step can be captured into a CUDA graph) and back
 * to 0, the legacy default stream, after; training never changes it. A cudaStream_t. */
extern void *l1kcu_stream;

/* ---- embedding: x[N, C] = emb[ids[i]]. Backward without atomics: the host groups the rows
 * by token id (uniq[U] ids, rows[off[u] .. off[u+1]) the rows holding uniq[u], ascending;
 * rows whose id is pad_token_id left out, as nn.Embedding(padding_idx)); one block owns one
 * gradient row and adds dx of its rows in ascending order: demb[uniq[u]] += dx[rows[k]]. */
int l1kcu_embedding_fw(float *x, const int32_t *ids, const float *emb, int N, int C);
int l1kcu_embedding_bw(float *demb, const float *dx, const int32_t *uniq, const int32_t *off,
                       const int32_t *rows, int U, int C);

/* ---- RMSNorm (l1k_rmsnorm_fw / _bw): y = w * (x * rstd), rstd = 1/sqrt(mean(x^2) + eps)
 * summed in double. Backward: dx += ..., dw += ... (dw may be NULL). */
int l1kcu_rmsnorm_fw(float *y, float *rstd, const float *x, const float *w, int N, int C, float eps);
int l1kcu_rmsnorm_bw(float *dx, float *dw, const float *dy, const float *x, const float *w,
                     const float *rstd, int N, int C);

/* ---- RoPE (l1k_rope_table / l1k_rope_apply): cos/sin[n, half] of float32 angles
 * inv_freq[i] * pos[r] (evaluated in double, as the CPU); rotate_half in place on
 * x[n_rows][stride] holding n_heads heads; the backward is the inverse rotation. */
int l1kcu_rope_table(float *cos_t, float *sin_t, const int32_t *pos, int n, const float *inv_freq,
                     int half);
int l1kcu_rope_fw(float *x, int n_rows, int stride, int n_heads, int head_dim, const float *cos_t,
                  const float *sin_t);
int l1kcu_rope_bw(float *x, int n_rows, int stride, int n_heads, int head_dim, const float *cos_t,
                  const float *sin_t);

/* ---- SwiGLU: h = silu(gate) * up; backward overwrites dgate and dup. */
int l1kcu_swiglu_fw(float *h, const float *gate, const float *up, size_t n);
int l1kcu_swiglu_bw(float *dgate, float *dup, const float *dh, const float *gate, const float *up,
                    size_t n);

/* ---- elementwise: y = a + b (y may alias a or b); x *= coef (coef in double, as the CPU's
 * gradient clipping: x = (float)((double)x * coef)). */
int l1kcu_add(float *y, const float *a, const float *b, size_t n);
int l1kcu_scale(float *x, size_t n, double coef);

/* ---- linear-layer bias (the products themselves are cuBLAS calls in the backend):
 * y[i, :] += b; db[j] += sum over rows of dy[:, j] (double, rows in order). */
int l1kcu_bias_fw(float *y, const float *b, int N, int out);
int l1kcu_bias_bw(float *db, const float *dy, int N, int out);

/* ---- attention: causal, grouped-query (H query heads over KVH kv heads, H % KVH == 0),
 * documents isolated inside packed rows. q[N, H*hd], k and v [N, KVH*hd], o[N, H*hd],
 * lse[N, H] (natural log-sum-exp of each query row's scaled scores). seg[r] is the first
 * position (within its batch row) of token r's document, seg_end[r] one past its last: the
 * query at t attends to the keys seg[t] .. t. Online softmax over tiles of keys in shared
 * memory; no T x T matrix exists. hd <= L1KCU_MAX_HEAD_DIM. The backward overwrites dq, dk,
 * dv and uses dsum[N, H] as scratch (rowsum of dO * O); dk / dv of a kv head sum its query
 * heads in order, without atomics. */
int l1kcu_attention_fw(float *o, float *lse, const float *q, const float *k, const float *v,
                       const int32_t *seg, int B, int T, int H, int KVH, int hd);
int l1kcu_attention_bw(float *dq, float *dk, float *dv, float *dsum, const float *dout,
                       const float *o, const float *lse, const float *q, const float *k,
                       const float *v, const int32_t *seg, const int32_t *seg_end, int B, int T,
                       int H, int KVH, int hd);

/* ---- row moves for the chunked lm_head: dst[r] = src[rows[r]]; dst[rows[r]] = src[r]. */
int l1kcu_gather_rows(float *dst, const float *src, const int32_t *rows, int R, int C);
int l1kcu_scatter_rows(float *dst, const float *src, const int32_t *rows, int R, int C);

/* ---- cross-entropy of R rows of logits[R, V] with target[r] (-1 = no target: loss 0 and,
 * with grad, a zero row). loss[r] = lse - logit[target] in double. With grad the row is
 * replaced by scale * (softmax - onehot(target)), the CPU's arithmetic. */
int l1kcu_cross_entropy(float *logits, double *loss, const int32_t *target, int R, int V,
                        int grad, float scale);

/* ---- global gradient norm, deterministic two passes: out[0] = sum of x[i]^2 in double,
 * part[L1KCU_NORM_BLOCKS] the first pass's partial sums (fixed grid, fixed tree order). */
int l1kcu_sumsq(double *out, double *part, const float *x, size_t n);

/* ---- AdamW (include/long1k/optim.h), one contiguous range of n parameters with one weight
 * decay: p, g at the range, m, v the moments of the same parameters. Arithmetic in double,
 * moments rounded to float before use, as src/train/optim.c. */
int l1kcu_adamw(float *p, const float *g, float *m, float *v, size_t n, double lr, double b1,
                double b2, double eps, double wd, double step_size, double bc2_sqrt);

/* ---- bf16 mode: dst[i] = bf16(src[i]), rounded to nearest even (bf16 bits in uint16_t),
 * the inputs of its cuBLAS products. */
int l1kcu_to_bf16(uint16_t *dst, const float *src, size_t n);

/* The message of a cudaError_t code returned by a launcher. */
const char *l1kcu_error_string(int code);

#ifdef __cplusplus
}
#endif

#endif
