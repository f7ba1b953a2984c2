/* long1k — data-parallel collectives: see dist.h. */
#include "train/dist.h"

#include "backend/zero_plan.h"

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

int l1k_dist_reduce_scatter_f32(l1k_dist *d, float *g, const size_t *shard, size_t bucket,
                                l1k_err *err) {
  if (d->world <= 1) return 0;
#ifdef LONG1K_HAVE_MPI
  int W = d->world;
  size_t big = 0;
  for (int r = 0; r < W; r++)
    if (shard[r + 1] - shard[r] > big) big = shard[r + 1] - shard[r];
  if (!bucket || bucket > big) bucket = big ? big : 1;
  if (bucket > 0x7fffffff) bucket = 0x7fffffff;
  size_t nb = l1k_zero_n_buckets(shard, W, bucket);
  float *pack = l1k_calloc(((size_t)W + 1) * bucket, sizeof *pack, err);
  if (!pack) return L1K_ENOMEM;
  float *recv = pack + (size_t)W * bucket;
  int rc = 0;
  for (size_t j = 0; j < nb && !rc; j++) {
    for (int r = 0; r < W; r++) {
      size_t lo, len;
      l1k_zero_piece(shard, r, bucket, j, &lo, &len);
      float *dst = pack + (size_t)r * bucket;
      if (len) memcpy(dst, g + lo, len * sizeof *g);
      if (len < bucket) memset(dst + len, 0, (bucket - len) * sizeof *g);
    }
    if (MPI_Reduce_scatter_block(pack, recv, (int)bucket, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD) !=
        MPI_SUCCESS) {
      rc = l1k_errf(err, L1K_EIO, "MPI_Reduce_scatter_block failed (bucket %zu of %zu)", j, nb);
      break;
    }
    size_t lo, len;
    l1k_zero_piece(shard, d->rank, bucket, j, &lo, &len);
    if (len) memcpy(g + lo, recv, len * sizeof *g);
  }
  free(pack);
  return rc;
#else
  (void)g, (void)shard, (void)bucket;
  return l1k_errf(err, L1K_EUNSUPPORTED, "reduce-scatter over %d processes needs MPI", d->world);
#endif
}

double l1k_dist_sumsq_f32(const float *x, size_t n) {
  double total = 0;
  for (size_t a = 0; a < n; a += 4096) {
    size_t e = a + 4096 < n ? a + 4096 : n;
    double s = 0;
    for (size_t i = a; i < e; i++) s += (double)x[i] * (double)x[i];
    total += s;
  }
  return total;
}

int l1k_dist_share_blob(l1k_dist *d, int rc0, void *blob, size_t n, l1k_err *err) {
  if (d->world <= 1) return rc0;
  int32_t v = rc0;
  int rc = l1k_dist_bcast(d, &v, sizeof v, err);
  if (rc) return rc;
  if (v) {
    if (d->rank == 0) return rc0;
    return l1k_errf(err, v, "rank 0 could not set up the communicator (its message says why)");
  }
  return l1k_dist_bcast(d, blob, n, err);
}
