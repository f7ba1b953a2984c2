/* long1k — training curves from trainer_log.jsonl as SVG (for the trainer and the CLI). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "long1k/io.h"
#include "long1k/jsonl.h"
#include "long1k/plot.h"

static double num_or_nan(const cJSON *o, const char *k) {
  const cJSON *v = cJSON_IsObject(o) ? cJSON_GetObjectItemCaseSensitive(o, k) : NULL;
  return cJSON_IsNumber(v) && isfinite(v->valuedouble) ? v->valuedouble : NAN;
}

int l1k_plot_train_log(const char *log_path, const char *out_dir, int *written, long *skipped, l1k_err *err) {
  l1k_err local = {0};
  if (!err) err = &local;
  if (written) *written = 0;
  if (skipped) *skipped = 0;
  l1k_jsonl *r = l1k_jsonl_open(log_path, err);
  if (!r) return err ? err->code : L1K_EIO;
  double *ls = NULL, *lv = NULL, *rs = NULL, *rv = NULL;
  size_t nl = 0, nr = 0, cl = 0, cr = 0;
  long bad = 0, idx = 0;
  int rc = 0, st;
  cJSON *rec;
  while ((st = l1k_jsonl_next(r, &rec, err)) != 0) {
    if (st < 0) {
      if (strstr(err->msg, "invalid JSON")) {
        bad++;
        continue;
      }
      rc = err->code;
      break;
    }
    idx++;
    double step = num_or_nan(rec, "step"), loss = num_or_nan(rec, "loss"), lr = num_or_nan(rec, "lr");
    cJSON_Delete(rec);
    if (isnan(step)) step = (double)idx;
    if (isfinite(loss)) {
      if (nl == cl) {
        cl = cl ? cl * 2 : 256;
        double *a = realloc(ls, cl * sizeof *a), *b = a ? realloc(lv, cl * sizeof *b) : NULL;
        if (a) ls = a;
        if (b) lv = b;
        if (!a || !b) {
          rc = l1k_errf(err, L1K_ENOMEM, "out of memory");
          break;
        }
      }
      ls[nl] = step;
      lv[nl++] = loss;
    }
    if (isfinite(lr)) {
      if (nr == cr) {
        cr = cr ? cr * 2 : 256;
        double *a = realloc(rs, cr * sizeof *a), *b = a ? realloc(rv, cr * sizeof *b) : NULL;
        if (a) rs = a;
        if (b) rv = b;
        if (!a || !b) {
          rc = l1k_errf(err, L1K_ENOMEM, "out of memory");
          break;
        }
      }
      rs[nr] = step;
      rv[nr++] = lr;
    }
  }
  l1k_jsonl_close(r);
  if (!rc) l1k_err_clear(err);
  if (skipped) *skipped = bad;
  char note[128] = "";
  if (bad) snprintf(note, sizeof note, "%ld line%s of %s skipped (invalid JSON)", bad, bad == 1 ? "" : "s", "the log");
  for (int k = 0; k < 2 && !rc; k++) {
    size_t n = k ? nr : nl;
    if (!n) continue;
    l1k_plot *p = l1k_plot_new(k ? "Learning rate" : "Training loss", "step", k ? "learning rate" : "loss");
    char *path = l1k_path_join(out_dir, k ? "learning_rate.svg" : "training_loss.svg");
    if (!p || !path || (note[0] && l1k_plot_note(p, note)) ||
        l1k_plot_line(p, NULL, k ? rs : ls, k ? rv : lv, n, k ? "#D55E00" : "#0072B2"))
      rc = l1k_errf(err, L1K_ENOMEM, "out of memory");
    else if (!(rc = l1k_plot_write_svg(p, path, err)) && written)
      (*written)++;
    l1k_plot_free(p);
    free(path);
  }
  free(ls);
  free(lv);
  free(rs);
  free(rv);
  return rc;
}
