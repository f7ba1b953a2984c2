/* long1k — the fit as JSON and as a printed table. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "long1k/fit.h"

static void jnum(l1k_buf *b, double v) {
  if (!isfinite(v)) {
    l1k_buf_puts(b, "null");
    return;
  }
  char t[64];
  snprintf(t, sizeof t, "%.10g", v);
  l1k_buf_puts(b, t);
}

static void jpair(l1k_buf *b, const double v[2]) {
  l1k_buf_puts(b, "[");
  jnum(b, v[0]);
  l1k_buf_puts(b, ",");
  jnum(b, v[1]);
  l1k_buf_puts(b, "]");
}

static void jkey(l1k_buf *b, const char *k, int *first) {
  if (!*first) l1k_buf_puts(b, ",");
  *first = 0;
  l1k_buf_json_string(b, k, strlen(k));
  l1k_buf_puts(b, ":");
}

static void jkstr(l1k_buf *b, const char *k, const char *v, int *first) {
  jkey(b, k, first);
  if (v) l1k_buf_json_string(b, v, strlen(v));
  else l1k_buf_puts(b, "null");
}

static void jknum(l1k_buf *b, const char *k, double v, int *first) {
  jkey(b, k, first);
  jnum(b, v);
}

static const char *param_names[L1K_MODEL_COUNT][3] = {{"a", "b", NULL}, {"c", "d", NULL}, {"L", "c", "d"}};

int l1k_fit_to_json(const l1k_fit_result *r, const l1k_fit_report *rep, l1k_buf *b) {
  l1k_fit_report none = {0};
  if (!rep) rep = &none;
  int f = 1;
  l1k_buf_puts(b, "{");
  if (rep->group) jkstr(b, "group", rep->group, &f);
  if (rep->input) jkstr(b, "input", rep->input, &f);
  if (rep->x_field) jkstr(b, "x_field", rep->x_field, &f);
  if (rep->y_field) jkstr(b, "y_field", rep->y_field, &f);
  if (rep->n_field) jkstr(b, "n_field", rep->n_field, &f);
  jkstr(b, "law", "y = a + b ln x", &f);
  jknum(b, "points", (double)r->count, &f);
  jknum(b, "distinct_x", (double)r->distinct_x, &f);
  jkey(b, "weighted", &f);
  l1k_buf_puts(b, r->weighted ? "true" : "false");
  jknum(b, "y_scale", r->y_scale, &f);
  jkey(b, "x_range", &f);
  double xr[2] = {r->x_min, r->x_max};
  jpair(b, xr);
  jknum(b, "a", r->a, &f);
  jknum(b, "b", r->b, &f);
  jknum(b, "b_se", r->b_se, &f);
  jknum(b, "per_doubling", r->per_doubling, &f);
  jknum(b, "per_decade", r->per_decade, &f);
  jknum(b, "r2", r->r2, &f);
  jkey(b, "ci", &f);
  {
    int g = 1;
    l1k_buf_puts(b, "{");
    jknum(b, "level", r->level, &g);
    jkstr(b, "method", l1k_fit_boot_name(r->boot_method), &g);
    jknum(b, "replicates", r->boot_requested, &g);
    jknum(b, "replicates_ok", r->boot_ok, &g);
    jkey(b, "seed", &g);
    l1k_buf_printf(b, "%llu", (unsigned long long)r->seed);
    jkey(b, "a", &g);
    jpair(b, r->a_ci);
    jkey(b, "b", &g);
    jpair(b, r->b_ci);
    jkey(b, "per_doubling", &g);
    jpair(b, r->per_doubling_ci);
    jkey(b, "per_decade", &g);
    jpair(b, r->per_decade_ci);
    l1k_buf_puts(b, "}");
  }
  jkey(b, "predict", &f);
  l1k_buf_puts(b, "[");
  for (size_t i = 0; i < rep->n_predict; i++) {
    double ci[2];
    double y = l1k_fit_predict(r, rep->predict_x[i], &ci[0], &ci[1]);
    int g = 1;
    l1k_buf_puts(b, i ? ",{" : "{");
    jknum(b, "x", rep->predict_x[i], &g);
    jknum(b, "y", y, &g);
    jkey(b, "ci", &g);
    jpair(b, ci);
    l1k_buf_puts(b, "}");
  }
  l1k_buf_puts(b, "]");
  jkey(b, "target", &f);
  l1k_buf_puts(b, "[");
  for (size_t i = 0; i < rep->n_target; i++) {
    double ci[2];
    int und = 0;
    double x = l1k_fit_x_for_y(r, rep->target_y[i], &ci[0], &ci[1], &und);
    int g = 1;
    l1k_buf_puts(b, i ? ",{" : "{");
    jknum(b, "y", rep->target_y[i], &g);
    jknum(b, "x", x, &g);
    jkey(b, "ci", &g);
    jpair(b, ci);
    jknum(b, "replicates_without_x", und, &g);
    l1k_buf_puts(b, "}");
  }
  l1k_buf_puts(b, "]");
  jkey(b, "models", &f);
  l1k_buf_puts(b, "[");
  for (int k = 0; k < L1K_MODEL_COUNT; k++) {
    const l1k_fit_model *m = &r->models[k];
    int g = 1;
    l1k_buf_puts(b, k ? ",{" : "{");
    jkstr(b, "name", m->name, &g);
    jkstr(b, "formula", m->formula, &g);
    jkey(b, "ok", &g);
    l1k_buf_puts(b, m->ok ? "true" : "false");
    jknum(b, "k", m->k, &g);
    jkey(b, "params", &g);
    {
      int h = 1;
      l1k_buf_puts(b, "{");
      for (int j = 0; j < 3 && param_names[k][j]; j++) jknum(b, param_names[k][j], m->ok ? m->p[j] : NAN, &h);
      l1k_buf_puts(b, "}");
    }
    jknum(b, "wrss", m->ok ? m->wrss : NAN, &g);
    jknum(b, "aic", m->aic, &g);
    jknum(b, "aicc", m->aicc, &g);
    jknum(b, "delta_aic", m->delta_aic, &g);
    if (m->note[0]) jkstr(b, "note", m->note, &g);
    l1k_buf_puts(b, "}");
  }
  l1k_buf_puts(b, "]");
  jkstr(b, "best_model", r->best_model >= 0 ? r->models[r->best_model].name : NULL, &f);
  if (rep->data) {
    jkey(b, "data", &f);
    l1k_buf_puts(b, "[");
    for (size_t i = 0; i < rep->data->count; i++) {
      int g = 1;
      l1k_buf_puts(b, i ? ",{" : "{");
      jknum(b, "x", rep->data->x[i], &g);
      jknum(b, "y", rep->data->y[i], &g);
      if (rep->data->n) jknum(b, "n", rep->data->n[i], &g);
      l1k_buf_puts(b, "}");
    }
    l1k_buf_puts(b, "]");
  }
  return l1k_buf_puts(b, "}");
}

static const char *fmtn(char *t, size_t n, double v, int prec) {
  if (!isfinite(v)) snprintf(t, n, "-");
  else if (fabs(v) >= 1e8) snprintf(t, n, "%.3g", v); /* far extrapolations */
  else snprintf(t, n, "%.*f", prec, v);
  return t;
}

int l1k_fit_to_table(const l1k_fit_result *r, const l1k_fit_report *rep, l1k_buf *b) {
  l1k_fit_report none = {0};
  if (!rep) rep = &none;
  char t1[64], t2[64], t3[64];
  int prec = r->y_scale == 100 ? 2 : 4;
  l1k_buf_printf(b, "fit y = a + b ln x%s%s%s: %zu points, %zu distinct x in [%g, %g], %s\n",
                 rep->group ? " for " : "", rep->group ? rep->group : "", "", r->count, r->distinct_x,
                 r->x_min, r->x_max, r->weighted ? "weighted by binomial variance" : "unweighted");
  int lv = (int)llround(r->level * 100);
  if (r->boot_ok > 0)
    l1k_buf_printf(b, "  %-14s %12s   %d%% CI (%s bootstrap, %d/%d replicates, seed %llu)\n", "", "estimate", lv,
                   l1k_fit_boot_name(r->boot_method), r->boot_ok, r->boot_requested, (unsigned long long)r->seed);
  else
    l1k_buf_printf(b, "  %-14s %12s   (no bootstrap)\n", "", "estimate");
#define ROW(name, v, ci)                                                                        \
  l1k_buf_printf(b, "  %-14s %12s   [%s, %s]\n", name, fmtn(t1, sizeof t1, v, prec + 2),     \
                 fmtn(t2, sizeof t2, (ci)[0], prec + 2), fmtn(t3, sizeof t3, (ci)[1], prec + 2))
  ROW("a", r->a, r->a_ci);
  ROW("b", r->b, r->b_ci);
  ROW("per doubling", r->per_doubling, r->per_doubling_ci);
  ROW("per decade", r->per_decade, r->per_decade_ci);
#undef ROW
  l1k_buf_printf(b, "  %-14s %12s\n", "R^2", fmtn(t1, sizeof t1, r->r2, 4));
  for (size_t i = 0; i < rep->n_predict; i++) {
    double lo, hi, y = l1k_fit_predict(r, rep->predict_x[i], &lo, &hi);
    char lab[48];
    snprintf(lab, sizeof lab, "y at x=%g", rep->predict_x[i]);
    l1k_buf_printf(b, "  %-14s %12s   [%s, %s]%s\n", lab, fmtn(t1, sizeof t1, y, prec), fmtn(t2, sizeof t2, lo, prec),
                   fmtn(t3, sizeof t3, hi, prec),
                   rep->predict_x[i] < r->x_min || rep->predict_x[i] > r->x_max ? "  (extrapolated)" : "");
  }
  for (size_t i = 0; i < rep->n_target; i++) {
    double lo, hi;
    int und;
    double x = l1k_fit_x_for_y(r, rep->target_y[i], &lo, &hi, &und);
    char lab[48];
    snprintf(lab, sizeof lab, "x for y=%g", rep->target_y[i]);
    l1k_buf_printf(b, "  %-14s %12s   [%s, %s]%s%s\n", lab, fmtn(t1, sizeof t1, x, 0), fmtn(t2, sizeof t2, lo, 0),
                   fmtn(t3, sizeof t3, hi, 0), isfinite(x) && (x < r->x_min || x > r->x_max) ? "  (extrapolated)" : "",
                   und ? "  (some replicates never reach it)" : "");
  }
  l1k_buf_printf(b, "  model comparison (weighted least squares in y; lower AIC is better):\n");
  l1k_buf_printf(b, "    %-11s %-18s %3s %12s %10s %10s %8s\n", "model", "formula", "k", "WRSS", "AIC", "AICc", "dAIC");
  for (int k = 0; k < L1K_MODEL_COUNT; k++) {
    const l1k_fit_model *m = &r->models[k];
    if (!m->ok) {
      l1k_buf_printf(b, "    %-11s %-18s %3d   not fitted: %s\n", m->name, m->formula, m->k, m->note);
      continue;
    }
    char w[64];
    snprintf(w, sizeof w, "%.4g", m->wrss);
    l1k_buf_printf(b, "    %-11s %-18s %3d %12s %10s %10s %8s%s\n", m->name, m->formula, m->k, w, fmtn(t1, sizeof t1, m->aic, 2),
                   fmtn(t2, sizeof t2, m->aicc, 2), fmtn(t3, sizeof t3, m->delta_aic, 2), k == r->best_model ? "  best" : "");
    if (m->note[0]) l1k_buf_printf(b, "      note: %s\n", m->note);
  }
  for (int k = 1; k < L1K_MODEL_COUNT; k++) {
    const l1k_fit_model *m = &r->models[k];
    if (!m->ok) continue;
    if (k == 1) l1k_buf_printf(b, "    power:      c = %.6g, d = %.6g\n", m->p[0], m->p[1]);
    else l1k_buf_printf(b, "    saturating: L = %.6g, c = %.6g, d = %.6g\n", m->p[0], m->p[1], m->p[2]);
  }
  return 0;
}
