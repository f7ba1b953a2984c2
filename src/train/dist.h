/* long1k — data-parallel collectives for the trainer (MPI when built with it, else one
 * process). Internal to src/train. */
#ifndef LONG1K_TRAIN_DIST_H
#define LONG1K_TRAIN_DIST_H

#include <stddef.h>
#include <stdint.h>
#include "long1k/error.h"

typedef struct l1k_dist {
  int rank, world;
  int mpi; /* 1 when MPI was initialized by us */
} l1k_dist;

/* Initializes MPI when the process was started by mpirun (OMPI / PMI environment). */
int l1k_dist_init(l1k_dist *d, l1k_err *err);
void l1k_dist_finalize(l1k_dist *d);
int l1k_dist_sum_f32(l1k_dist *d, float *x, size_t n, l1k_err *err);
int l1k_dist_sum_f64(l1k_dist *d, double *x, size_t n, l1k_err *err);
int l1k_dist_sum_i64(l1k_dist *d, int64_t *x, size_t n, l1k_err *err);
/* Maximum of an int over ranks (used to agree on errors: 0 when every rank is ok, else the
 * largest error code any rank had). */
int l1k_dist_max_int(l1k_dist *d, int v);
void l1k_dist_barrier(l1k_dist *d);
int l1k_dist_bcast(l1k_dist *d, void *buf, size_t bytes, l1k_err *err);
int l1k_dist_bcast_from(l1k_dist *d, void *buf, size_t bytes, int root, l1k_err *err);
/* Rank r's x[lo[r], lo[r+1]) of a float array -> the full array on rank 0 (in place on rank 0;
 * each shard below 2^31 floats). */
int l1k_dist_gather_f32(l1k_dist *d, const float *mine, float *full, const size_t *lo, l1k_err *err);

/* ZeRO-2's reduction (src/backend/zero_plan.h): sums g[n] over the ranks so that rank r ends
 * with the sum of its shard [shard[r], shard[r+1]) in place (the rest of g is left as it
 * was: this rank's own partial gradients), bucket by bucket with MPI_Reduce_scatter_block
 * (bucket values per rank, at most 2^31 - 1; 0 = the largest shard in one bucket). One
 * process: nothing to do. */
int l1k_dist_reduce_scatter_f32(l1k_dist *d, float *g, const size_t *shard, size_t bucket,
                                l1k_err *err);
/* Rank 0's status rc0 and then, when it is 0, its n-byte blob (an NCCL id) to every rank.
 * Returns rc0 on rank 0; on the others 0, or rc0 with one line saying rank 0 failed. */
int l1k_dist_share_blob(l1k_dist *d, int rc0, void *blob, size_t n, l1k_err *err);
/* Sum of x[i]^2 in double, in a fixed order (blocks of 4096 values, then the blocks). */
double l1k_dist_sumsq_f32(const float *x, size_t n);

#endif
