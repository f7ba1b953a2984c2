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

#endif
