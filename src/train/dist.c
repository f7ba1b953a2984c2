/* long1k — data-parallel collectives: see dist.h. */
#include "train/dist.h"

#include <stdlib.h>
#include <string.h>

#ifdef LONG1K_HAVE_MPI
#include <mpi.h>
#endif

static int launched_by_mpi(void) {
  const char *v[] = {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK", "MPI_LOCALNRANKS"};
  for (int i = 0; i < 4; i++)
    if (getenv(v[i])) return 1;
  return 0;
}

int l1k_dist_init(l1k_dist *d, l1k_err *err) {
  memset(d, 0, sizeof *d);
  d->world = 1;
#ifdef LONG1K_HAVE_MPI
  if (launched_by_mpi()) {
    int inited = 0;
    MPI_Initialized(&inited);
    if (!inited) {
      if (MPI_Init(NULL, NULL) != MPI_SUCCESS)
        return l1k_errf(err, L1K_EIO, "MPI_Init failed");
      d->mpi = 1;
    } else {
      d->mpi = 2; /* initialized by someone else: do not finalize */
    }
    MPI_Comm_rank(MPI_COMM_WORLD, &d->rank);
    MPI_Comm_size(MPI_COMM_WORLD, &d->world);
  }
#else
  if (launched_by_mpi() && getenv("OMPI_COMM_WORLD_SIZE") && atoi(getenv("OMPI_COMM_WORLD_SIZE")) > 1)
    return l1k_errf(err, L1K_EUNSUPPORTED,
                    "started by mpirun with several processes, but this long1k was built without "
                    "MPI (install libopenmpi-dev and rebuild)");
#endif
  return 0;
}

void l1k_dist_finalize(l1k_dist *d) {
#ifdef LONG1K_HAVE_MPI
  if (d->mpi == 1) MPI_Finalize();
#endif
  d->mpi = 0;
}

#ifdef LONG1K_HAVE_MPI
static int allreduce(l1k_dist *d, void *x, size_t n, MPI_Datatype t, size_t esz, MPI_Op op,
                     l1k_err *err) {
  const size_t chunk = (size_t)1 << 28;
  for (size_t i = 0; i < n; i += chunk) {
    size_t k = n - i < chunk ? n - i : chunk;
    if (MPI_Allreduce(MPI_IN_PLACE, (char *)x + i * esz, (int)k, t, op, MPI_COMM_WORLD) !=
        MPI_SUCCESS)
      return l1k_errf(err, L1K_EIO, "MPI_Allreduce failed");
  }
  return 0;
}
#endif

int l1k_dist_sum_f32(l1k_dist *d, float *x, size_t n, l1k_err *err) {
#ifdef LONG1K_HAVE_MPI
  if (d->world > 1) return allreduce(d, x, n, MPI_FLOAT, 4, MPI_SUM, err);
#endif
  return 0;
}

int l1k_dist_sum_f64(l1k_dist *d, double *x, size_t n, l1k_err *err) {
#ifdef LONG1K_HAVE_MPI
  if (d->world > 1) return allreduce(d, x, n, MPI_DOUBLE, 8, MPI_SUM, err);
#endif
  return 0;
}

int l1k_dist_sum_i64(l1k_dist *d, int64_t *x, size_t n, l1k_err *err) {
#ifdef LONG1K_HAVE_MPI
  if (d->world > 1) return allreduce(d, x, n, MPI_INT64_T, 8, MPI_SUM, err);
#endif
  return 0;
}

int l1k_dist_max_int(l1k_dist *d, int v) {
#ifdef LONG1K_HAVE_MPI
  if (d->world > 1) {
    int out = v;
    MPI_Allreduce(&v, &out, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    return out;
  }
#endif
  return v;
}

void l1k_dist_barrier(l1k_dist *d) {
#ifdef LONG1K_HAVE_MPI
  if (d->world > 1) MPI_Barrier(MPI_COMM_WORLD);
#endif
}

int l1k_dist_bcast_from(l1k_dist *d, void *buf, size_t bytes, int root, l1k_err *err) {
#ifdef LONG1K_HAVE_MPI
  if (d->world > 1) {
    const size_t chunk = (size_t)1 << 30;
    for (size_t i = 0; i < bytes; i += chunk) {
      size_t k = bytes - i < chunk ? bytes - i : chunk;
      if (MPI_Bcast((char *)buf + i, (int)k, MPI_BYTE, root, MPI_COMM_WORLD) != MPI_SUCCESS)
        return l1k_errf(err, L1K_EIO, "MPI_Bcast failed");
    }
  }
#endif
  return 0;
}

int l1k_dist_gather_f32(l1k_dist *d, const float *mine, float *full, const size_t *lo, l1k_err *err) {
#ifdef LONG1K_HAVE_MPI
  if (d->world > 1) {
    int *cnt = malloc(sizeof(int) * (size_t)d->world), *dsp = malloc(sizeof(int) * (size_t)d->world);
    if (!cnt || !dsp) {
      free(cnt);
      free(dsp);
      return l1k_errf(err, L1K_ENOMEM, "out of memory");
    }
    for (int r = 0; r < d->world; r++) {
      cnt[r] = (int)(lo[r + 1] - lo[r]);
      dsp[r] = (int)lo[r];
    }
    int rc = MPI_Gatherv(mine, cnt[d->rank], MPI_FLOAT, full, cnt, dsp, MPI_FLOAT, 0, MPI_COMM_WORLD);
    free(cnt);
    free(dsp);
    if (rc != MPI_SUCCESS) return l1k_errf(err, L1K_EIO, "MPI_Gatherv failed");
    return 0;
  }
#endif
  if (full != mine) memcpy(full + lo[0], mine, (lo[1] - lo[0]) * sizeof(float));
  return 0;
}

int l1k_dist_bcast(l1k_dist *d, void *buf, size_t bytes, l1k_err *err) {
#ifdef LONG1K_HAVE_MPI
  if (d->world > 1) {
    const size_t chunk = (size_t)1 << 30;
    for (size_t i = 0; i < bytes; i += chunk) {
      size_t k = bytes - i < chunk ? bytes - i : chunk;
      if (MPI_Bcast((char *)buf + i, (int)k, MPI_BYTE, 0, MPI_COMM_WORLD) != MPI_SUCCESS)
        return l1k_errf(err, L1K_EIO, "MPI_Bcast failed");
    }
  }
#endif
  return 0;
}
