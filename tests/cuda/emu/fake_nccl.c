/* A stand-in for libnccl.so.2 on the emulated CUDA device (tests only): the emulated device's
 * memory is host memory, so NCCL's collectives can be MPI's on the same pointers. It lets
 * tests/cuda/emu_train_nccl.sh run the CUDA backend's NCCL path (src/backend/cuda/nccl.c: the
 * dlopen, the id exchange, the bucket packing, the reduce-scatter / all-gather sequence) on
 * several ranks without a GPU. It is not NCCL: what only a GPU shows (NCCL itself, streams,
 * P2P / NVLink) is left to scripts/gpu-check.d/zero.sh. Semantics as nccl.h states them:
 *   ncclAllReduce(send, recv, count)        recv = sum over ranks of send (in place when equal)
 *   ncclReduceScatter(send, recv, rcount)   recv = block `rank` of the sum of send[W * rcount]
 *   ncclAllGather(send, recv, scount)       recv[r * scount ...] = rank r's send
 * CommInitRank checks that every rank was given rank 0's id and its MPI rank and size.
 * Build: mpicc -shared -fPIC fake_nccl.c -o libfakenccl.so */
#include <mpi.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

typedef struct { char internal[128]; } ncclUniqueId;
typedef struct fake_comm { int rank, world; } *ncclComm_t;
static struct fake_comm the_comm;

int ncclGetUniqueId(ncclUniqueId *id) {
  uint64_t x = (uint64_t)getpid() * 0x9E3779B97F4A7C15ULL ^ 0x6e63636cULL;
  for (int i = 0; i < 128; i++) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    id->internal[i] = (char)(x >> 56);
  }
  return 0;
}

int ncclCommInitRank(ncclComm_t *comm, int nranks, ncclUniqueId id, int rank) {
  int r, w;
  MPI_Comm_rank(MPI_COMM_WORLD, &r);
  MPI_Comm_size(MPI_COMM_WORLD, &w);
  if (r != rank || w != nranks) return 4; /* ncclInvalidArgument */
  ncclUniqueId root = id;
  MPI_Bcast(root.internal, 128, MPI_BYTE, 0, MPI_COMM_WORLD);
  int bad = memcmp(root.internal, id.internal, 128) != 0, any = 0;
  MPI_Allreduce(&bad, &any, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
  if (any) return 4;
  the_comm.rank = rank;
  the_comm.world = nranks;
  *comm = &the_comm;
  return 0;
}

int ncclCommDestroy(ncclComm_t comm) {
  (void)comm;
  return 0;
}

enum { F32 = 7, SUM = 0 };

int ncclAllReduce(const void *send, void *recv, size_t count, int dt, int op, ncclComm_t c, void *stream) {
  (void)c, (void)stream;
  if (dt != F32 || op != SUM || count > 0x7fffffff) return 4;
  return MPI_Allreduce(send == recv ? MPI_IN_PLACE : send, recv, (int)count, MPI_FLOAT, MPI_SUM,
                       MPI_COMM_WORLD) == MPI_SUCCESS ? 0 : 2;
}

int ncclReduceScatter(const void *send, void *recv, size_t rcount, int dt, int op, ncclComm_t c, void *stream) {
  (void)c, (void)stream;
  if (dt != F32 || op != SUM || rcount > 0x7fffffff) return 4;
  return MPI_Reduce_scatter_block(send, recv, (int)rcount, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD) ==
                 MPI_SUCCESS ? 0 : 2;
}

int ncclAllGather(const void *send, void *recv, size_t scount, int dt, ncclComm_t c, void *stream) {
  (void)c, (void)stream;
  if (dt != F32 || scount > 0x7fffffff) return 4;
  return MPI_Allgather(send, (int)scount, MPI_FLOAT, recv, (int)scount, MPI_FLOAT, MPI_COMM_WORLD) ==
                 MPI_SUCCESS ? 0 : 2;
}

const char *ncclGetErrorString(int r) {
  return r == 0 ? "no error" : r == 4 ? "invalid argument (fake NCCL)" : "MPI failed (fake NCCL)";
}
