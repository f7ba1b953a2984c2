/* long1k — data parallelism for the CUDA backend over NCCL (issue 14): libnccl.so.2 opened at
 * run time (dlopen; LONG1K_NCCL_LIB names another file), so neither the build nor a one-GPU
 * run needs NCCL. One communicator per process (one GPU per rank), made from a ncclUniqueId
 * that the trainer creates on rank 0 and broadcasts over MPI (src/train/dist.c). The
 * collectives run on the default stream over the trainable space's flat float32 arrays:
 *   - ZeRO-0/1: ncclAllReduce of the gradients in place;
 *   - ZeRO-2: ncclReduceScatter bucket by bucket (src/backend/zero_plan.h: every rank's piece
 *     packed and zero-padded to `bucket` values), each rank keeping its shard's sums in place,
 *     and the sum of squares of its shard (for the global norm the trainer adds up);
 *   - ZeRO-1/2: ncclAllGather of the updated parameter shards, bucket by bucket.
 * Compiled, not yet run with NCCL on any GPU (docs/gpu.md "Many GPUs"). Internal. */
#ifndef LONG1K_BACKEND_CUDA_NCCL_H
#define LONG1K_BACKEND_CUDA_NCCL_H

#include "backend/cuda/cuda_internal.h"

#define L1KCU_NCCL_ID_BYTES 128

int l1kcu_nccl_id(l1k_model *m, void *id, l1k_err *err);
int l1kcu_nccl_init(l1k_model *m, const void *id, int rank, int world, l1k_err *err);
int l1kcu_nccl_reduce(l1k_model *m, const size_t *shard, size_t bucket, double *shard_sumsq,
                      l1k_err *err);
int l1kcu_nccl_gather(l1k_model *m, const size_t *shard, size_t bucket, l1k_err *err);
void l1kcu_nccl_free(cu_state *s);

#endif
