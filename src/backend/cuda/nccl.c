/* long1k — NCCL data parallelism for the CUDA backend: see nccl.h. */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/cuda/nccl.h"
#include "backend/zero_plan.h"

/* The part of nccl.h this file uses (NCCL 2.x ABI: these values have not changed since 2.0). */
typedef struct nccl_comm *nccl_comm_t;
typedef struct { char internal[L1KCU_NCCL_ID_BYTES]; } nccl_id_t;
enum { NCCL_OK = 0, NCCL_FLOAT32 = 7, NCCL_SUM = 0 };

typedef struct nccl_api {
  void *lib;
  int (*get_unique_id)(nccl_id_t *);
  int (*comm_init_rank)(nccl_comm_t *, int, nccl_id_t, int);
  int (*comm_destroy)(nccl_comm_t);
  int (*all_reduce)(const void *, void *, size_t, int, int, nccl_comm_t, cudaStream_t);
  int (*reduce_scatter)(const void *, void *, size_t, int, int, nccl_comm_t, cudaStream_t);
  int (*all_gather)(const void *, void *, size_t, int, nccl_comm_t, cudaStream_t);
  const char *(*error_string)(int);
} nccl_api;

typedef struct cu_nccl {
  nccl_api api;
  nccl_comm_t comm;
  int rank, world;
  float *scratch; /* (world + 1) * bucket floats: the packed bucket and this rank's piece */
  size_t scratch_bucket;
} cu_nccl;

static int nccl_open(nccl_api *a, l1k_err *err) {
  memset(a, 0, sizeof *a);
  const char *env = getenv("LONG1K_NCCL_LIB");
  const char *names[] = {env && *env ? env : "libnccl.so.2", "libnccl.so"};
  /* never unloaded: ncclGetUniqueId leaves a bootstrap thread running in the library, and a
   * failed ncclCommInitRank may leave others; dlclose under them crashes the process */
  for (int i = 0; i < (env && *env ? 1 : 2) && !a->lib; i++)
    a->lib = dlopen(names[i], RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
  if (!a->lib)
    return l1k_errf(err, L1K_EUNSUPPORTED,
                    "NCCL: cannot open %s (%s); install NCCL or set LONG1K_NCCL_LIB to "
                    "libnccl.so.2's path", names[0], dlerror());
#define SYM(f, name)                                                                  \
  if (!(*(void **)&a->f = dlsym(a->lib, name))) {                                     \
    dlclose(a->lib);                                                                  \
    a->lib = NULL;                                                                    \
    return l1k_errf(err, L1K_EUNSUPPORTED, "NCCL: %s lacks %s", names[0], name);      \
  }
  SYM(get_unique_id, "ncclGetUniqueId");
  SYM(comm_init_rank, "ncclCommInitRank");
  SYM(comm_destroy, "ncclCommDestroy");
  SYM(all_reduce, "ncclAllReduce");
  SYM(reduce_scatter, "ncclReduceScatter");
  SYM(all_gather, "ncclAllGather");
  SYM(error_string, "ncclGetErrorString");
#undef SYM
  return 0;
}

static int nccl_check(const nccl_api *a, int r, const char *what, l1k_err *err) {
  if (r == NCCL_OK) return 0;
  return l1k_errf(err, L1K_EIO, "NCCL: %s: %s (%d)", what,
                  a->error_string ? a->error_string(r) : "error", r);
}

static cu_state *st(l1k_model *m) { return (cu_state *)m->be_state; }

void l1kcu_nccl_free(cu_state *s) {
  cu_nccl *n = s ? s->nccl : NULL;
  if (!n) return;
  if (n->comm) n->api.comm_destroy(n->comm);
  if (n->scratch) cudaFree(n->scratch);
  free(n); /* the library stays loaded (RTLD_NODELETE) */
  s->nccl = NULL;
}

int l1kcu_nccl_id(l1k_model *m, void *id, l1k_err *err) {
  nccl_api a;
  int rc = nccl_open(&a, err);
  if (rc) return rc;
  nccl_id_t u;
  rc = nccl_check(&a, a.get_unique_id(&u), "ncclGetUniqueId", err);
  if (!rc) memcpy(id, u.internal, sizeof u.internal);
  (void)m;
  return rc;
}

int l1kcu_nccl_init(l1k_model *m, const void *id, int rank, int world, l1k_err *err) {
  cu_state *s = st(m);
  if (!s) return l1k_errf(err, L1K_EINTERNAL, "NCCL: init before attach");
  if (world < 1 || rank < 0 || rank >= world)
    return l1k_errf(err, L1K_EINTERNAL, "NCCL: rank %d of %d", rank, world);
  l1kcu_nccl_free(s);
  cu_nccl *n = l1k_calloc(1, sizeof *n, err);
  if (!n) return L1K_ENOMEM;
  int rc = nccl_open(&n->api, err);
  if (rc) {
    free(n);
    return rc;
  }
  nccl_id_t u;
  memcpy(u.internal, id, sizeof u.internal);
  rc = nccl_check(&n->api, n->api.comm_init_rank(&n->comm, world, u, rank), "ncclCommInitRank", err);
  if (rc) {
    n->comm = NULL;
    free(n);
    return rc;
  }
  n->rank = rank;
  n->world = world;
  s->nccl = n;
  return 0;
}

static int need(cu_state *s, l1k_err *err) {
  if (!s || !s->nccl) return l1k_errf(err, L1K_EINTERNAL, "NCCL: collective before init");
  return 0;
}

/* the packed-bucket scratch: (world + 1) * bucket floats on the device */
static int scratch(cu_nccl *n, size_t bucket, l1k_err *err) {
  if (n->scratch && n->scratch_bucket >= bucket) return 0;
  if (n->scratch) cudaFree(n->scratch);
  n->scratch = NULL;
  size_t bytes = ((size_t)n->world + 1) * bucket * sizeof(float);
  if (cudaMalloc((void **)&n->scratch, bytes) != cudaSuccess) {
    cudaGetLastError();
    n->scratch = NULL;
    return l1k_errf(err, L1K_ENOMEM, "NCCL: out of device memory for a %zu-value bucket", bucket);
  }
  n->scratch_bucket = bucket;
  return 0;
}

static size_t bucket_for(const size_t *shard, int world, size_t bucket) {
  size_t big = 0;
  for (int r = 0; r < world; r++)
    if (shard[r + 1] - shard[r] > big) big = shard[r + 1] - shard[r];
  if (!bucket || bucket > big) bucket = big ? big : 1;
  return bucket;
}

int l1kcu_nccl_reduce(l1k_model *m, const size_t *shard, size_t bucket, double *shard_sumsq,
                      l1k_err *err) {
  cu_state *s = st(m);
  int rc = need(s, err);
  if (rc) return rc;
  cu_nccl *n = s->nccl;
  if (!shard) { /* ZeRO-0/1: every rank gets every sum */
    rc = nccl_check(&n->api, n->api.all_reduce(s->tg, s->tg, s->tn, NCCL_FLOAT32, NCCL_SUM, n->comm, 0),
                    "ncclAllReduce (gradients)", err);
    return rc ? rc : l1kcu_check(cudaDeviceSynchronize(), "NCCL all-reduce", err);
  }
  /* ZeRO-2: bucket by bucket, every rank's piece packed at r * bucket */
  int W = n->world;
  bucket = bucket_for(shard, W, bucket);
  if ((rc = scratch(n, bucket, err))) return rc;
  float *pack = n->scratch, *recv = n->scratch + (size_t)W * bucket;
  size_t nb = l1k_zero_n_buckets(shard, W, bucket);
  for (size_t j = 0; j < nb && !rc; j++) {
    for (int r = 0; r < W && !rc; r++) {
      size_t lo, len;
      l1k_zero_piece(shard, r, bucket, j, &lo, &len);
      float *dst = pack + (size_t)r * bucket;
      if (len) rc = l1kcu_check(cudaMemcpy(dst, s->tg + lo, len * sizeof(float), cudaMemcpyDeviceToDevice), "NCCL pack", err);
      if (!rc && len < bucket)
        rc = l1kcu_check(cudaMemset(dst + len, 0, (bucket - len) * sizeof(float)), "NCCL pad", err);
    }
    if (!rc)
      rc = nccl_check(&n->api, n->api.reduce_scatter(pack, recv, bucket, NCCL_FLOAT32, NCCL_SUM, n->comm, 0),
                      "ncclReduceScatter (gradients)", err);
    size_t lo, len;
    l1k_zero_piece(shard, n->rank, bucket, j, &lo, &len);
    if (!rc && len)
      rc = l1kcu_check(cudaMemcpy(s->tg + lo, recv, len * sizeof(float), cudaMemcpyDeviceToDevice), "NCCL unpack", err);
  }
  if (rc) return rc;
  /* the shard's sum of squares (the arena holds the norm's scratch) */
  size_t lo = shard[n->rank], k = shard[n->rank + 1] - lo;
  if (!s->arena && (rc = l1kcu_reserve(m, 1, 1, err))) return rc;
  double ss = 0;
  if (k) {
    rc = l1kcu_launch(l1kcu_sumsq(s->norm_out, s->norm_part, s->tg + lo, k), "sumsq", err);
    if (!rc) rc = l1kcu_check(cudaMemcpy(&ss, s->norm_out, sizeof ss, cudaMemcpyDeviceToHost), "shard norm", err);
  }
  if (shard_sumsq) *shard_sumsq = ss;
  return rc;
}

int l1kcu_nccl_gather(l1k_model *m, const size_t *shard, size_t bucket, l1k_err *err) {
  cu_state *s = st(m);
  int rc = need(s, err);
  if (rc) return rc;
  cu_nccl *n = s->nccl;
  if (!s->tp) /* hostmaster.h: not entered with NCCL; a later dp_init is not supported */
    return l1k_errf(err, L1K_EUNSUPPORTED, "CUDA backend: NCCL all-gather without float32 "
                    "device parameters (optim_offload began before dp_init)");
  int W = n->world;
  bucket = bucket_for(shard, W, bucket);
  if ((rc = scratch(n, bucket, err))) return rc;
  float *all = n->scratch, *mine = n->scratch + (size_t)W * bucket;
  size_t nb = l1k_zero_n_buckets(shard, W, bucket);
  for (size_t j = 0; j < nb && !rc; j++) {
    size_t lo, len;
    l1k_zero_piece(shard, n->rank, bucket, j, &lo, &len);
    if (len) rc = l1kcu_check(cudaMemcpy(mine, s->tp + lo, len * sizeof(float), cudaMemcpyDeviceToDevice), "NCCL pack", err);
    if (!rc && len < bucket)
      rc = l1kcu_check(cudaMemset(mine + len, 0, (bucket - len) * sizeof(float)), "NCCL pad", err);
    if (!rc)
      rc = nccl_check(&n->api, n->api.all_gather(mine, all, bucket, NCCL_FLOAT32, n->comm, 0),
                      "ncclAllGather (parameters)", err);
    for (int r = 0; r < W && !rc; r++) {
      if (r == n->rank) continue;
      l1k_zero_piece(shard, r, bucket, j, &lo, &len);
      if (len)
        rc = l1kcu_check(cudaMemcpy(s->tp + lo, all + (size_t)r * bucket, len * sizeof(float), cudaMemcpyDeviceToDevice), "NCCL unpack", err);
    }
  }
  if (!rc) rc = l1kcu_refresh_bf16(s, err);
  return rc ? rc : l1kcu_check(cudaDeviceSynchronize(), "NCCL all-gather", err);
}
