/* long1k — rows (one sample, or several packed) and padded micro-batches: see
 * include/long1k/dataset.h. */
#include <stdlib.h>
#include <string.h>

#include "long1k/dataset.h"

int64_t l1k_dataset_targets(const l1k_dataset *ds, int64_t i) {
  int64_t t = 0;
  for (int64_t j = ds->off[i] + 1; j < ds->off[i + 1]; j++) t += ds->mask[j];
  return t;
}

/* ---- rows --------------------------------------------------------------------------------- */

static int rows_alloc(l1k_rows *r, int64_t nrows, int64_t nitems, l1k_err *err) {
  memset(r, 0, sizeof *r);
  r->start = l1k_calloc((size_t)nrows + 1, sizeof *r->start, NULL);
  r->item = l1k_calloc((size_t)nitems + 1, sizeof *r->item, NULL);
  r->len = l1k_calloc((size_t)nrows + 1, sizeof *r->len, NULL);
  r->targets = l1k_calloc((size_t)nrows + 1, sizeof *r->targets, NULL);
  if (!r->start || !r->item || !r->len || !r->targets) {
    l1k_rows_free(r);
    return l1k_errf(err, L1K_ENOMEM, "out of memory");
  }
  r->n = nrows;
  return 0;
}

void l1k_rows_free(l1k_rows *r) {
  free(r->start);
  free(r->item);
  free(r->len);
  free(r->targets);
  memset(r, 0, sizeof *r);
}

int l1k_rows_single(const l1k_dataset *ds, const int64_t *samples, int64_t n, l1k_rows *r,
                    l1k_err *err) {
  if (rows_alloc(r, n, n, err)) return L1K_ENOMEM;
  for (int64_t i = 0; i < n; i++) {
    r->start[i] = i;
    r->item[i] = samples[i];
    r->len[i] = l1k_dataset_len(ds, samples[i]);
    r->targets[i] = l1k_dataset_targets(ds, samples[i]);
  }
  r->start[n] = n;
  return 0;
}

typedef struct {
  int64_t len, idx;
} len_idx;

static int cmp_len_desc(const void *a, const void *b) {
  const len_idx *x = a, *y = b;
  if (x->len != y->len) return x->len > y->len ? -1 : 1;
  return x->idx < y->idx ? -1 : x->idx > y->idx;
}

int l1k_rows_pack(const l1k_dataset *ds, const int64_t *samples, int64_t n, int64_t cap,
                  l1k_rows *r, l1k_err *err) {
  len_idx *li = l1k_malloc((size_t)(n ? n : 1) * sizeof *li, NULL);
  int64_t *bin_of = l1k_malloc((size_t)(n ? n : 1) * sizeof *bin_of, NULL);
  int64_t *fill = l1k_malloc((size_t)(n ? n : 1) * sizeof *fill, NULL);
  if (!li || !bin_of || !fill) {
    free(li);
    free(bin_of);
    free(fill);
    return l1k_errf(err, L1K_ENOMEM, "out of memory");
  }
  for (int64_t i = 0; i < n; i++) li[i] = (len_idx){l1k_dataset_len(ds, samples[i]), samples[i]};
  qsort(li, (size_t)n, sizeof *li, cmp_len_desc);
  int64_t nb = 0, first_open = 0;
  for (int64_t i = 0; i < n; i++) {
    int64_t b = first_open;
    while (b < nb && fill[b] + li[i].len > cap) b++;
    if (b == nb) fill[nb++] = 0;
    fill[b] += li[i].len;
    bin_of[i] = b;
    while (first_open < nb && cap - fill[first_open] < 1) first_open++;
  }
  int rc = rows_alloc(r, nb, n, err);
  if (!rc) {
    /* counting sort of items by bin, keeping the length-descending order inside a row */
    for (int64_t i = 0; i < n; i++) r->start[bin_of[i] + 1]++;
    for (int64_t b = 0; b < nb; b++) r->start[b + 1] += r->start[b];
    int64_t *pos = l1k_calloc((size_t)nb + 1, sizeof *pos, NULL);
    if (!pos) rc = l1k_errf(err, L1K_ENOMEM, "out of memory");
    for (int64_t i = 0; !rc && i < n; i++) {
      int64_t b = bin_of[i];
      r->item[r->start[b] + pos[b]++] = li[i].idx;
      r->len[b] += li[i].len;
      r->targets[b] += l1k_dataset_targets(ds, li[i].idx);
    }
    free(pos);
  }
  free(li);
  free(bin_of);
  free(fill);
  return rc;
}

int l1k_batch_fill(const l1k_dataset *ds, const l1k_rows *r, const int64_t *rows, int nrows,
                   int32_t *ids, int32_t *labels, int32_t *pos, int32_t *doc) {
  int64_t T = 0;
  for (int i = 0; i < nrows; i++)
    if (r->len[rows[i]] > T) T = r->len[rows[i]];
  for (int i = 0; i < nrows; i++) {
    int64_t row = rows[i], t = 0;
    int32_t d = 0;
    int32_t *id = ids + i * T, *lb = labels + i * T, *ps = pos + i * T, *dc = doc + i * T;
    for (int64_t k = r->start[row]; k < r->start[row + 1]; k++, d++) {
      int64_t s = r->item[k], a = ds->off[s], len = l1k_dataset_len(ds, s);
      for (int64_t j = 0; j < len; j++, t++) {
        id[t] = ds->ids[a + j];
        lb[t] = ds->mask[a + j] ? ds->ids[a + j] : -100;
        ps[t] = (int32_t)j;
        dc[t] = d;
      }
    }
    for (int32_t j = 0; t < T; t++, j++) {
      id[t] = 0;
      lb[t] = -100;
      ps[t] = j;
      dc[t] = d;
    }
  }
  return (int)T;
}
