/* long1k — generation on the CUDA backend (issue 15): the paged KV cache's kernels
 * (gen_kernels.cu) and the decode entries of the ops table (gen_decode.c).
 *
 * The cache. One pool per layer of n_blocks blocks; a block holds bs consecutive positions of
 * one sequence for every kv head: K (and V) of layer l live at
 *   pool + l * layer_elems + ((block * KVH + kvh) * bs + pos % bs) * hd,
 * layer_elems = n_blocks * KVH * bs * hd, float32 in the float32 mode and bf16 in the bf16 mode.
 * The block table is int32 [max_seqs][mbps] (mbps = blocks per sequence at most): position p
 * of sequence s is in block table[s * mbps + p / bs].
 *
 * Rows. Prefill and decode run n rows, row r being one token: (row_seq[r], row_pos[r]).
 *
 * Every pointer is a DEVICE pointer; launchers return 0 or the cudaError_t of the launch. No
 * floating-point atomics: every output has one owner and a fixed order of additions, and a
 * row's result depends on that row's sequence only (not on the other rows of the batch). */
#ifndef LONG1K_BACKEND_CUDA_GEN_H
#define LONG1K_BACKEND_CUDA_GEN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Query heads per kv head the decode attention takes (its shared memory is sized for it). */
#define L1KCU_GEN_MAX_GROUP 16
/* Positions of one split of the decode attention (a fixed size, so a row's arithmetic does not
 * depend on the batch or on how long the other rows are). */
#define L1KCU_GEN_SPLIT 256

/* K and V of n rows (k, v: [n, KVH*hd] float32, after q/k norm and RoPE) into layer pools kc,
 * vc (bf16 != 0: bf16 pools, rounded to nearest even). */
int l1kcu_kvcache_write(void *kc, void *vc, int bf16, const float *k, const float *v,
                   const int32_t *row_seq, const int32_t *row_pos, const int32_t *table, int mbps,
                   int n, int KVH, int hd, int bs);

/* What follows the q / k / v products of n rows, in one launch: the biases (each optional:
 * l1kcu_bias_fw's arithmetic), RoPE on q [n, H*hd] and k [n, KVH*hd] (l1kcu_rope_fw's, cos / sin
 * of the rows' positions), k and v written back and into the layer pools (l1kcu_kvcache_write). */
int l1kcu_qkv_post(float *q, float *k, float *v, const float *bq, const float *bk, const float *bv,
                   const float *cos_t, const float *sin_t, void *kc, void *vc, int bf16,
                   const int32_t *row_seq, const int32_t *row_pos, const int32_t *table, int mbps,
                   int n, int H, int KVH, int hd, int bs);

/* The same on the rows of one product [q | k | v] (ld = H*hd + 2*KVH*hd floats per row: q at
 * q, k at q + H*hd, v at k + KVH*hd), RoPE'd q written to qo [n, H*hd] (k and v in place). ld
 * == H*hd means separate arrays as l1kcu_qkv_post (qo may be q then). */
int l1kcu_qkv_post_ld(float *q, float *k, float *v, size_t ld, float *qo, const float *bq,
                      const float *bk, const float *bv, const float *cos_t, const float *sin_t,
                      void *kc, void *vc, int bf16, const int32_t *row_seq, const int32_t *row_pos,
                      const int32_t *table, int mbps, int n, int H, int KVH, int hd, int bs);

/* Positions [0, n) of sequence src copied to sequence dst in every layer (pools of L layers of
 * layer_elems elements). */
int l1kcu_kvcache_copy(void *kc, void *vc, int bf16, const int32_t *table, int mbps, int src, int dst,
                  int n, int L, size_t layer_elems, int KVH, int hd, int bs);

/* Attention of n rows over the paged cache of one layer: row r's H query heads (q [n, H*hd])
 * attend to positions 0 .. row_pos[r] of sequence row_seq[r]; out [n, H*hd]. One block per
 * (split of L1KCU_GEN_SPLIT positions, kv head, row), the kv head's group of query heads
 * together (each K / V element read once per group); then one block per (head, row) merges
 * the splits in order (into out, or rounded to bf16 into out16 when it is not NULL: the bf16
 * mode's o_proj operand). part: scratch of n * H * nsplit * (hd + 2) floats, nsplit =
 * ceil(max_len / L1KCU_GEN_SPLIT) for the longest row. hd <= 128, H / KVH <= L1KCU_GEN_MAX_GROUP. */
int l1kcu_paged_attention(float *out, uint16_t *out16, float *part, const float *q, const void *kc, const void *vc,
                          int bf16, const int32_t *row_seq, const int32_t *row_pos,
                          const int32_t *table, int mbps, int n, int nsplit, int H, int KVH, int hd,
                          int bs);

/* h[n, FF] = silu(gate) * up for rows gu[n, 2 FF] = [gate | up] (one product with the adjacent
 * gate_proj and up_proj weights), the arithmetic of l1kcu_swiglu_fw. */
int l1kcu_swiglu_rows(float *h, const float *gu, int n, int FF);

/* The bf16 mode's product operands made where they are computed (one launch less each): RMSNorm
 * rows (l1kcu_rmsnorm_fw's arithmetic) and l1kcu_swiglu_rows, rounded to bf16. */
int l1kcu_rmsnorm_bf16(uint16_t *y, const float *x, const float *w, int N, int C, float eps);
int l1kcu_swiglu_rows_bf16(uint16_t *h, const float *gu, int n, int FF);

/* out[r] = the index of row r's largest value among x[n, V] (the lowest index among equal
 * maxima, NaN never chosen, 0 when every value is NaN: l1k_argmax's answer); greedy decoding
 * downloads n ints instead of n x V floats. */
int l1kcu_argmax_rows(int32_t *out, const float *x, int n, int V);

/* Counters of the decode steps of this process (gen_decode.c; the decode benchmark prints them):
 * host_launches counts every kernel launch, cuBLAS call and copy issued from the host by
 * generation (eager steps, prefill, the first run of a graph's step); step_launches is what the
 * last decode step issued (eager: its kernels, products and copies; graph: its input copy,
 * cudaGraphLaunch and logits copy), step_kernels the launches the last step executed on the
 * device (eager: = its kernels and products; graph: the nodes of its graph). */
typedef struct l1kcu_gen_counters {
  long long host_launches;
  long long steps, graph_steps; /* decode steps, and those that launched a graph */
  long long captures;           /* graphs captured and instantiated */
  long long greedy_steps;       /* steps that returned tokens (device argmax), not logits */
  int step_launches, step_kernels;
  int graph_on;                 /* the last step's generator used graphs */
} l1kcu_gen_counters;
void l1kcu_gen_get_counters(l1kcu_gen_counters *c);

#ifdef __cplusplus
}
#endif

#endif
