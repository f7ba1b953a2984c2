/* The ZeRO partition and bucket plan (src/backend/zero_plan.h) that the MPI path and the CUDA
 * backend's NCCL path share, and the NCCL id exchange over MPI (l1k_dist_share_blob):
 *  - shards: contiguous, in order, covering [0, n), each a multiple of 16 but the last;
 *  - buckets: every rank's shard cut into pieces of at most `bucket` values, each value in
 *    exactly one piece of one bucket; for W simulated ranks, packing every rank's gradients
 *    bucket by bucket (zero-padded), summing the packed buffers (what ncclReduceScatter and
 *    MPI_Reduce_scatter_block compute) and unpacking each rank's piece gives each rank its
 *    shard of the full sum, bit for bit equal to summing the ranks' arrays in the same order;
 *    the all-gather's pack / unpack rebuilds the whole array from the shards;
 *  - the id exchange: under `mpirun -np 3` (this program re-runs itself when mpirun exists),
 *    rank 0's 128 bytes reach every rank, and a failure on rank 0 reaches every rank as an
 *    error instead of a hang. */
#include <stdint.h>
#include <unistd.h>

#include "backend/zero_plan.h"
#include "check.h"
#include "train/dist.h"

static float val(int rank, size_t i) { return (float)((double)((i * 2654435761u + (size_t)rank * 40503u) % 1000) / 7.0 - 70.0); }

static void plan_case(size_t n, int W, size_t bucket) {
  size_t shard[17];
  l1k_zero_shards(n, W, shard);
  CHECK(shard[0] == 0 && shard[W] == n);
  for (int r = 0; r < W; r++) {
    CHECK(shard[r] <= shard[r + 1]);
    if (r + 1 < W && shard[r + 1] < n) CHECK((shard[r + 1] - shard[r]) % 16 == 0);
  }
  size_t nb = l1k_zero_n_buckets(shard, W, bucket);
  CHECK(nb >= 1);
  /* coverage: each value in exactly one piece */
  unsigned char *seen = calloc(n + 1, 1);
  for (size_t j = 0; j < nb; j++)
    for (int r = 0; r < W; r++) {
      size_t lo, len;
      l1k_zero_piece(shard, r, bucket, j, &lo, &len);
      CHECK(len <= bucket);
      CHECK(len == 0 || (lo >= shard[r] && lo + len <= shard[r + 1]));
      for (size_t i = lo; i < lo + len; i++) seen[i]++;
    }
  int once = 1;
  for (size_t i = 0; i < n; i++) once &= seen[i] == 1;
  CHECK_MSG(once, "n %zu W %d bucket %zu: a value not in exactly one piece", n, W, bucket);
  free(seen);
  /* simulated reduce-scatter: W ranks' gradients, packed, summed in rank order, unpacked */
  float *g = malloc(sizeof(float) * (size_t)W * (n + 1)), *pack = malloc(sizeof(float) * (size_t)W * (size_t)W * bucket);
  float *sum = calloc((size_t)W * bucket, sizeof(float));
  for (int r = 0; r < W; r++)
    for (size_t i = 0; i < n; i++) g[(size_t)r * (n + 1) + i] = val(r, i);
  int exact = 1;
  for (size_t j = 0; j < nb; j++) {
    for (int q = 0; q < W; q++) /* rank q packs its array */
      for (int r = 0; r < W; r++) {
        size_t lo, len;
        l1k_zero_piece(shard, r, bucket, j, &lo, &len);
        float *dst = pack + ((size_t)q * W + r) * bucket;
        for (size_t i = 0; i < bucket; i++) dst[i] = i < len ? g[(size_t)q * (n + 1) + lo + i] : 0.0f;
      }
    for (size_t i = 0; i < (size_t)W * bucket; i++) {
      float s = 0;
      for (int q = 0; q < W; q++) s += pack[(size_t)q * W * bucket + i];
      sum[i] = s;
    }
    for (int r = 0; r < W; r++) { /* rank r keeps its piece of the sum */
      size_t lo, len;
      l1k_zero_piece(shard, r, bucket, j, &lo, &len);
      for (size_t i = 0; i < len; i++) {
        float want = 0;
        for (int q = 0; q < W; q++) want += val(q, lo + i);
        exact &= sum[(size_t)r * bucket + i] == want;
      }
    }
  }
  CHECK_MSG(exact, "n %zu W %d bucket %zu: reduce-scatter sums differ", n, W, bucket);
  /* all-gather: each rank's shard (rank r's values = val(r, i)) rebuilds the array */
  float *full = calloc(n + 1, sizeof(float));
  for (size_t j = 0; j < nb; j++)
    for (int r = 0; r < W; r++) {
      size_t lo, len;
      l1k_zero_piece(shard, r, bucket, j, &lo, &len);
      for (size_t i = 0; i < len; i++) full[lo + i] = val(r, lo + i);
    }
  int ok = 1;
  for (int r = 0; r < W; r++)
    for (size_t i = shard[r]; i < shard[r + 1]; i++) ok &= full[i] == val(r, i);
  CHECK(ok);
  free(full);
  free(g);
  free(pack);
  free(sum);
}

static int mpi_child(void) {
  l1k_dist d;
  l1k_err err = {0};
  if (l1k_dist_init(&d, &err)) {
    fprintf(stderr, "%s\n", err.msg);
    return 1;
  }
  unsigned char id[128];
  for (int i = 0; i < 128; i++) id[i] = d.rank == 0 ? (unsigned char)(i * 7 + 3) : 0;
  int rc = l1k_dist_share_blob(&d, 0, id, sizeof id, &err);
  CHECK(rc == 0);
  int same = 1;
  for (int i = 0; i < 128; i++) same &= id[i] == (unsigned char)(i * 7 + 3);
  CHECK_MSG(same, "rank %d: the id differs from rank 0's", d.rank);
  /* rank 0 fails: every rank gets an error, nobody waits for the blob */
  rc = l1k_dist_share_blob(&d, d.rank == 0 ? L1K_EUNSUPPORTED : 0, id, sizeof id, &err);
  CHECK_MSG(rc == L1K_EUNSUPPORTED, "rank %d: rc %d", d.rank, rc);
  CHECK(d.rank == 0 || strstr(err.msg, "rank 0") != NULL);
  int bad = l1k_dist_max_int(&d, check_failures);
  if (d.rank == 0) printf("id exchange over %d ranks: %s\n", d.world, bad ? "FAILED" : "ok");
  l1k_dist_finalize(&d);
  return bad ? 1 : 0;
}

int main(int argc, char **argv) {
  if (argc > 1 && !strcmp(argv[1], "--mpi-child")) return mpi_child();
  size_t ns[] = {0, 1, 15, 16, 17, 100, 1000, 4099, 100000};
  size_t bs[] = {0, 1, 7, 16, 100, 1 << 20};
  int cases = 0;
  for (size_t a = 0; a < sizeof ns / sizeof *ns; a++)
    for (int W = 1; W <= 5; W++)
      for (size_t b = 0; b < sizeof bs / sizeof *bs; b++) {
        if (bs[b] == 0 || (bs[b] == 1 && ns[a] > 4099)) continue;
        plan_case(ns[a], W, bs[b]);
        cases++;
      }
  printf("zero plan: %d cases (n x ranks x bucket)\n", cases);
  /* the id exchange over MPI, when mpirun is here */
  if (system("command -v mpirun >/dev/null 2>&1") == 0) {
    char cmd[8192], asan[4096];
    /* OpenMPI's own allocations are not ours: leak checking off in the ranks under ASan, as the
     * other mpirun tests do */
    const char *ao = getenv("ASAN_OPTIONS");
    snprintf(asan, sizeof asan, "%s%sdetect_leaks=0", ao ? ao : "", ao && *ao ? ":" : "");
    setenv("ASAN_OPTIONS", asan, 1);
    snprintf(cmd, sizeof cmd,
             "mpirun -np 3 --oversubscribe --allow-run-as-root --mca btl self,vader -x ASAN_OPTIONS "
             "'%s' --mpi-child",
             argv[0]);
    int rc = system(cmd);
    CHECK_MSG(rc == 0, "mpirun -np 3: exit %d", rc);
  } else {
    printf("id exchange: mpirun not installed, not run\n");
  }
  return check_failures ? 1 : 0;
}
