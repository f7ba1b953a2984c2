/* long1k — the ZeRO partition of a flat parameter space, shared by the MPI path (src/train)
 * and the CUDA backend's NCCL path (src/backend/cuda/nccl.c). Header-only, no allocation.
 *
 * Shards. n parameters over W ranks: rank r owns [shard[r], shard[r+1]) with
 * shard[r] = min(n, r * chunk), chunk = ceil(n / W) rounded up to 16 (64-byte aligned shards);
 * the last shard is shorter, and may be empty for tiny n. Rank r keeps the AdamW moments of
 * its shard (ZeRO-1) and, after the step's reduce-scatter, the summed gradients of its shard
 * (ZeRO-2).
 *
 * Buckets. The reduce-scatter (and the NCCL all-gather) run in buckets of `bucket` values per
 * rank: bucket j holds, for every rank r, the piece [shard[r] + j*bucket, min(shard[r+1],
 * shard[r] + (j+1)*bucket)) of its shard, packed at r*bucket in a W*bucket buffer and padded
 * with zeros (adding zeros is exact, so the sums are those of one unbucketed reduction). Every
 * rank's piece has the same padded size, which is what ncclReduceScatter / ncclAllGather and
 * MPI_Reduce_scatter_block need; the bucket bounds the scratch to (W + 1) * bucket values.
 */
#ifndef LONG1K_BACKEND_ZERO_PLAN_H
#define LONG1K_BACKEND_ZERO_PLAN_H

#include <stddef.h>

/* Shard size of n over world ranks (0 when n == 0). */
static inline size_t l1k_zero_chunk(size_t n, int world) {
  size_t W = world > 0 ? (size_t)world : 1;
  return ((n + W - 1) / W + 15) & ~(size_t)15;
}

/* shard[0..world]: the bounds above. */
static inline void l1k_zero_shards(size_t n, int world, size_t *shard) {
  size_t chunk = l1k_zero_chunk(n, world);
  for (int r = 0; r <= world; r++) {
    size_t a = (size_t)r * chunk;
    shard[r] = a < n ? a : n;
  }
  shard[world] = n;
}

/* Buckets needed for the largest shard (at least 1, so a collective always runs). */
static inline size_t l1k_zero_n_buckets(const size_t *shard, int world, size_t bucket) {
  size_t big = 0;
  for (int r = 0; r < world; r++)
    if (shard[r + 1] - shard[r] > big) big = shard[r + 1] - shard[r];
  if (!bucket) return 1;
  size_t nb = (big + bucket - 1) / bucket;
  return nb ? nb : 1;
}

/* Rank r's piece of bucket j: [*lo, *lo + *len) of the flat array (len 0: only padding). */
static inline void l1k_zero_piece(const size_t *shard, int r, size_t bucket, size_t j,
                                  size_t *lo, size_t *len) {
  size_t a = shard[r] + j * bucket, e = shard[r + 1];
  *lo = a < e ? a : e;
  *len = a < e ? (e - a < bucket ? e - a : bucket) : 0;
}

#endif
