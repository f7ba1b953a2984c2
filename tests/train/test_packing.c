/* neat_packing: a packed batch (several samples per row, positions restarting, attention
 * isolated) gives the loss and gradients of the same samples unpacked (<= 1e-5), on the
 * golden tiny models; and the packer's rows hold every sample once within the cap. */
#include "check.h"
#include "long1k/dataset.h"
#include "long1k/model.h"

static double rel_l2(const float *a, const float *b, size_t n) {
  double d = 0, r = 0;
  for (size_t i = 0; i < n; i++) {
    d += ((double)a[i] - b[i]) * ((double)a[i] - b[i]);
    r += (double)b[i] * b[i];
  }
  return r > 0 ? sqrt(d / r) : sqrt(d);
}

static int run(l1k_model *m, const l1k_dataset *ds, const l1k_rows *r, double *loss, int64_t *nt,
               float *grads) {
  int64_t rows[64], T = 0;
  for (int64_t i = 0; i < r->n; i++) {
    rows[i] = i;
    if (r->len[i] > T) T = r->len[i];
  }
  size_t bt = (size_t)r->n * T;
  int32_t *ids = malloc(bt * 4), *lab = malloc(bt * 4), *pos = malloc(bt * 4), *doc = malloc(bt * 4);
  int TT = l1k_batch_fill(ds, r, rows, (int)r->n, ids, lab, pos, doc);
  l1k_batch b = {(int)r->n, TT, ids, lab, pos, doc};
  l1k_err err = {0};
  int64_t targets = 0;
  for (int64_t i = 0; i < r->n; i++) targets += r->targets[i];
  l1k_model_zero_grads(m);
  int rc = l1k_model_forward_backward(m, &b, 1.0 / (double)targets, loss, nt, &err);
  if (rc) fprintf(stderr, "%s\n", err.msg);
  memcpy(grads, l1k_model_grads(m), l1k_model_num_params(m) * sizeof(float));
  free(ids);
  free(lab);
  free(pos);
  free(doc);
  return rc;
}

int main(void) {
  /* tiny models: one thread is fastest, and the box is shared (keeps an explicit setting) */
  setenv("OMP_NUM_THREADS", "1", 0);
  const char *models[] = {"qwen2_tiny", "qwen3_tiny", "llama_tiny"};
  enum { NS = 7 };
  const int lens[NS] = {37, 12, 25, 40, 9, 30, 18};
  int64_t off[NS + 1] = {0};
  for (int i = 0; i < NS; i++) off[i + 1] = off[i] + lens[i];
  int32_t ids[256];
  uint8_t mask[256];
  uint64_t s = 12345;
  for (int i = 0; i < NS; i++)
    for (int j = 0; j < lens[i]; j++) {
      s = s * 6364136223846793005ULL + 1442695040888963407ULL;
      ids[off[i] + j] = (int32_t)((s >> 33) % 500);
      mask[off[i] + j] = j >= lens[i] / 3; /* prompt, then the reply */
    }
  l1k_dataset ds;
  memset(&ds, 0, sizeof ds);
  ds.n = NS;
  ds.n_tokens = off[NS];
  ds.off = off;
  ds.ids = ids;
  ds.mask = mask;
  int64_t all[NS] = {0, 1, 2, 3, 4, 5, 6};
  l1k_rows single, packed;
  l1k_err err = {0};
  CHECK(l1k_rows_single(&ds, all, NS, &single, &err) == 0);
  CHECK(l1k_rows_pack(&ds, all, NS, 64, &packed, &err) == 0);
  /* FFD: 40+18 | 37+25 | 30+12+9 -> 3 rows, each sample once, none over the cap */
  CHECK(packed.n == 3);
  int seen[NS] = {0};
  int64_t tsum = 0;
  for (int64_t r = 0; r < packed.n; r++) {
    CHECK(packed.len[r] <= 64);
    int64_t l = 0;
    for (int64_t k = packed.start[r]; k < packed.start[r + 1]; k++) {
      seen[packed.item[k]]++;
      l += lens[packed.item[k]];
    }
    CHECK(l == packed.len[r]);
    tsum += packed.targets[r];
  }
  for (int i = 0; i < NS; i++) CHECK(seen[i] == 1);
  int64_t tsingle = 0;
  for (int i = 0; i < NS; i++) tsingle += single.targets[i];
  CHECK(tsum == tsingle);
  for (int k = 0; k < 3; k++) {
    char dir[512];
    snprintf(dir, sizeof dir, "%s/%s/f32", shared_path("golden/models"), models[k]);
    l1k_model *m = l1k_model_load(dir, &err);
    CHECK_MSG(m != NULL, "%s", err.msg);
    if (!m) continue;
    size_t n = l1k_model_num_params(m);
    float *g1 = malloc(n * 4), *g2 = malloc(n * 4);
    double l1 = 0, l2 = 0;
    int64_t n1 = 0, n2 = 0;
    CHECK(run(m, &ds, &single, &l1, &n1, g1) == 0);
    CHECK(run(m, &ds, &packed, &l2, &n2, g2) == 0);
    CHECK(n1 == tsingle && n2 == tsingle);
    double el = fabs(l1 - l2) / fabs(l1), eg = rel_l2(g2, g1, n);
    fprintf(stderr, "%s: loss unpacked %.9g packed %.9g (rel %.2g), grads rel %.2g\n", models[k],
            l1 / n1, l2 / n2, el, eg);
    CHECK_MSG(el <= 1e-5, "%s loss rel err %g", models[k], el);
    CHECK_MSG(eg <= 1e-5, "%s grad rel err %g", models[k], eg);
    free(g1);
    free(g2);
    l1k_model_free(m);
  }
  l1k_rows_free(&single);
  l1k_rows_free(&packed);
  CHECK_DONE();
}
