/* long1k — the length scaling law (see include/long1k/fit.h for the models and weights). */
#include "long1k/fit.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/xoshiro.h"

void l1k_fit_opts_default(l1k_fit_opts *o) {
  memset(o, 0, sizeof *o);
  o->bootstrap = 2000;
  o->boot_method = L1K_BOOT_AUTO;
  o->seed = 1;
  o->level = 0.95;
  o->y_scale = 0;
}

const char *l1k_fit_boot_name(int method) {
  switch (method) {
    case L1K_BOOT_BINOMIAL: return "binomial";
    case L1K_BOOT_RESIDUAL: return "residual";
    case L1K_BOOT_PAIRS: return "pairs";
    default: return "auto";
  }
}

double l1k_fit_detect_scale(const double *y, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (!(y[i] >= 0 && y[i] <= 1)) return 100;
  return 1;
}

/* ---- weighted linear least squares with one regressor: y = a + b g ------------------- */

/* Returns 0, or -1 when g has no spread (under the weights). Sets *wrss when not NULL. */
static int wls1(const double *g, const double *y, const double *w, size_t n, double *a,
                double *b, double *wrss) {
  double sw = 0, sg = 0, sy = 0;
  for (size_t i = 0; i < n; i++) {
    double wi = w ? w[i] : 1;
    sw += wi;
    sg += wi * g[i];
    sy += wi * y[i];
  }
  if (!(sw > 0)) return -1;
  double mg = sg / sw, my = sy / sw, sgg = 0, sgy = 0;
  for (size_t i = 0; i < n; i++) {
    double wi = w ? w[i] : 1, dg = g[i] - mg;
    sgg += wi * dg * dg;
    sgy += wi * dg * (y[i] - my);
  }
  /* relative spread test: g constant up to rounding */
  double scale = fabs(mg) + 1e-300;
  if (!(sgg > 0) || sqrt(sgg / sw) < 1e-13 * scale) return -1;
  *b = sgy / sgg;
  *a = my - *b * mg;
  if (wrss) {
    double s = 0;
    for (size_t i = 0; i < n; i++) {
      double wi = w ? w[i] : 1, e = y[i] - (*a + *b * g[i]);
      s += wi * e * e;
    }
    *wrss = s;
  }
  return 0;
}

int l1k_fit_loglin(const double *x, const double *y, const double *w, size_t n, double *a,
                   double *b, l1k_err *err) {
  double *g = malloc((n ? n : 1) * sizeof *g);
  if (!g) return l1k_errf(err, L1K_ENOMEM, "out of memory");
  for (size_t i = 0; i < n; i++) g[i] = log(x[i]);
  int rc = wls1(g, y, w, n, a, b, NULL);
  free(g);
  if (rc) return l1k_errf(err, L1K_EINPUT, "need at least 2 distinct x values to fit y = a + b ln x");
  return 0;
}

/* ---- profiled fits: power law and saturating form -------------------------------------- */

typedef struct {
  const double *x, *y, *w;
  size_t n;
  int model; /* L1K_MODEL_POWER / L1K_MODEL_SAT */
  double *g; /* scratch */
} prof;

/* WRSS of the best linear parameters for exponent d; p gets the parameters. */
static double prof_eval(prof *P, double d, double p[3]) {
  size_t n = P->n;
  if (P->model == L1K_MODEL_POWER) {
    double sgy = 0, sgg = 0;
    for (size_t i = 0; i < n; i++) {
      double g = pow(P->x[i], d), wi = P->w[i];
      sgy += wi * g * P->y[i];
      sgg += wi * g * g;
    }
    if (!(sgg > 0) || !isfinite(sgg)) return INFINITY;
    double c = sgy / sgg, s = 0;
    for (size_t i = 0; i < n; i++) {
      double e = P->y[i] - c * pow(P->x[i], d);
      s += P->w[i] * e * e;
    }
    p[0] = c;
    p[1] = d;
    return s;
  }
  for (size_t i = 0; i < n; i++) P->g[i] = -pow(P->x[i], -d);
  double L, c, s;
  if (wls1(P->g, P->y, P->w, n, &L, &c, &s)) return INFINITY;
  p[0] = L;
  p[1] = c;
  p[2] = d;
  return s;
}

/* Grid over [lo, hi] (log-spaced when logspace), then golden-section refinement around the
 * best grid point. Returns the WRSS; p gets the parameters; *at_bound is set when the best d
 * sits on an end of the range. */
static double prof_search(prof *P, double lo, double hi, int logspace, double p[3],
                          int *at_bound) {
  enum { GRID = 801 };
  double best = INFINITY, bd = lo;
  int bi = 0;
  for (int i = 0; i < GRID; i++) {
    double t = (double)i / (GRID - 1);
    double d = logspace ? exp(log(lo) + t * (log(hi) - log(lo))) : lo + t * (hi - lo);
    double q[3];
    double s = prof_eval(P, d, q);
    if (s < best) {
      best = s;
      bd = d;
      bi = i;
    }
  }
  if (!isfinite(best)) return INFINITY;
  *at_bound = (bi == 0 || bi == GRID - 1);
  double tl = (double)(bi > 0 ? bi - 1 : 0) / (GRID - 1), th = (double)(bi < GRID - 1 ? bi + 1 : bi) / (GRID - 1);
  double a = logspace ? log(lo) + tl * (log(hi) - log(lo)) : lo + tl * (hi - lo);
  double b = logspace ? log(lo) + th * (log(hi) - log(lo)) : lo + th * (hi - lo);
  const double gr = 0.6180339887498949;
  double c = b - gr * (b - a), e = a + gr * (b - a), q[3];
#define D_OF(u) (logspace ? exp(u) : (u))
  double fc = prof_eval(P, D_OF(c), q), fe = prof_eval(P, D_OF(e), q);
  for (int it = 0; it < 100 && fabs(b - a) > 1e-12 * (1 + fabs(a)); it++) {
    if (fc < fe) {
      b = e;
      e = c;
      fe = fc;
      c = b - gr * (b - a);
      fc = prof_eval(P, D_OF(c), q);
    } else {
      a = c;
      c = e;
      fc = fe;
      e = a + gr * (b - a);
      fe = prof_eval(P, D_OF(e), q);
    }
  }
  double dm = D_OF(0.5 * (a + b));
#undef D_OF
  double sm = prof_eval(P, dm, q);
  if (sm <= best) {
    best = sm;
    memcpy(p, q, sizeof q);
  } else {
    prof_eval(P, bd, p);
  }
  return best;
}

/* ---- bootstrap ------------------------------------------------------------------------ */

static double binom_var_weight(double y, double n, double scale) {
  double p = y / scale, lo = 0.5 / n;
  if (p < lo) p = lo;
  if (p > 1 - lo) p = 1 - lo;
  if (lo >= 0.5) p = 0.5; /* n == 1 */
  double var = scale * scale * p * (1 - p) / n;
  return 1.0 / var;
}

static double binomial_draw(l1k_xoshiro *g, double n, double p) {
  if (p <= 0) return 0;
  if (p >= 1) return n;
  long nn = (long)llround(n);
  if (nn <= 20000) {
    long k = 0;
    for (long i = 0; i < nn; i++) k += l1k_xoshiro_uniform(g) < p;
    return (double)k;
  }
  double k = llround(n * p + sqrt(n * p * (1 - p)) * l1k_xoshiro_normal(g));
  if (k < 0) k = 0;
  if (k > n) k = n;
  return k;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

typedef struct {
  double x;
  size_t i;
} xi_pair;

static int cmp_xi(const void *a, const void *b) {
  const xi_pair *p = a, *q = b;
  if (p->x != q->x) return p->x < q->x ? -1 : 1;
  return (p->i > q->i) - (p->i < q->i);
}

/* Sorts idx[0..n) by x[idx[i]] (stable by index). Falls back to insertion sort without memory. */
static void sort_by_x(size_t *idx, size_t n, const double *x) {
  xi_pair *t = malloc((n ? n : 1) * sizeof *t);
  if (t) {
    for (size_t i = 0; i < n; i++) t[i] = (xi_pair){x[idx[i]], idx[i]};
    if (n > 1) qsort(t, n, sizeof *t, cmp_xi);
    for (size_t i = 0; i < n; i++) idx[i] = t[i].i;
    free(t);
    return;
  }
  for (size_t i = 1; i < n; i++)
    for (size_t j = i; j > 0 && x[idx[j - 1]] > x[idx[j]]; j--) {
      size_t s = idx[j];
      idx[j] = idx[j - 1];
      idx[j - 1] = s;
    }
}

/* Percentile interval of v[0..m) (sorted in place) at the given level. */
static void pct_interval(double *v, size_t m, double level, double out[2]) {
  if (m == 0) {
    out[0] = out[1] = NAN;
    return;
  }
  if (m > 1) qsort(v, m, sizeof *v, cmp_double);
  double qs[2] = {(1 - level) / 2, 1 - (1 - level) / 2};
  for (int k = 0; k < 2; k++) {
    double pos = qs[k] * (double)(m - 1);
    size_t i = (size_t)floor(pos);
    double f = pos - (double)i;
    out[k] = (i + 1 < m) ? v[i] * (1 - f) + v[i + 1] * f : v[i];
  }
}

/* ---- the whole fit -------------------------------------------------------------------- */

void l1k_fit_result_free(l1k_fit_result *r) {
  if (!r) return;
  free(r->boot_a);
  free(r->boot_b);
  r->boot_a = r->boot_b = NULL;
}

static void set_aic(l1k_fit_model *m, size_t n) {
  double N = (double)n, wrss = m->wrss > 1e-300 ? m->wrss : 1e-300;
  m->aic = N * log(wrss / N) + 2.0 * m->k;
  m->aicc = (N - m->k - 1 > 0) ? m->aic + 2.0 * m->k * (m->k + 1) / (N - m->k - 1) : NAN;
}

int l1k_fit_run(const l1k_fit_data *d, const l1k_fit_opts *o, l1k_fit_result *r, l1k_err *err) {
  l1k_fit_opts def;
  if (!o) {
    l1k_fit_opts_default(&def);
    o = &def;
  }
  memset(r, 0, sizeof *r);
  size_t n = d->count;
  for (size_t i = 0; i < n; i++) {
    if (!isfinite(d->x[i])) return l1k_errf(err, L1K_EINPUT, "point %zu: x is not a finite number", i);
    if (!(d->x[i] > 0))
      return l1k_errf(err, L1K_EINPUT, "point %zu: x = %g, expected x > 0 (the law uses ln x)", i, d->x[i]);
    if (!isfinite(d->y[i])) return l1k_errf(err, L1K_EINPUT, "point %zu: y is not a finite number", i);
    if (d->n && !(isfinite(d->n[i]) && d->n[i] >= 1))
      return l1k_errf(err, L1K_EINPUT, "point %zu: n = %g, expected a sample count >= 1", i, d->n[i]);
  }
  size_t distinct = 0;
  if (n) {
    double *sx = malloc(n * sizeof *sx);
    if (!sx) return l1k_errf(err, L1K_ENOMEM, "out of memory");
    memcpy(sx, d->x, n * sizeof *sx);
    qsort(sx, n, sizeof *sx, cmp_double);
    distinct = 1;
    for (size_t i = 1; i < n; i++) distinct += sx[i] != sx[i - 1];
    free(sx);
  }
  if (distinct < 2)
    return l1k_errf(err, L1K_EINPUT, "%zu point%s with %zu distinct x value%s: need at least 2 distinct x to fit y = a + b ln x",
                    n, n == 1 ? "" : "s", distinct, distinct == 1 ? "" : "s");
  if (!(o->level > 0 && o->level < 1)) return l1k_errf(err, L1K_EINPUT, "confidence level %g: expected 0 < level < 1", o->level);
  if (o->bootstrap < 0) return l1k_errf(err, L1K_EINPUT, "bootstrap replicates %d: expected >= 0", o->bootstrap);
  double scale = o->y_scale > 0 ? o->y_scale : l1k_fit_detect_scale(d->y, n);
  if (scale != 1 && scale != 100) return l1k_errf(err, L1K_EINPUT, "y scale %g: expected 1 (fractions) or 100 (percent)", scale);
  if (d->n) {
    for (size_t i = 0; i < n; i++)
      if (d->y[i] < 0 || d->y[i] > scale)
        return l1k_errf(err, L1K_EINPUT, "point %zu: y = %g is not a proportion in [0, %g] (needed for binomial weights from n)",
                        i, d->y[i], scale);
  }
  if (o->boot_method == L1K_BOOT_BINOMIAL && !d->n)
    return l1k_errf(err, L1K_EINPUT, "binomial bootstrap needs the sample counts n of each point");

  int rc = 0;
  double *w = malloc(n * sizeof *w), *l = malloc(n * sizeof *l), *g = malloc(n * sizeof *g);
  double *ys = malloc(n * sizeof *ys), *ws = malloc(n * sizeof *ws), *ls = malloc(n * sizeof *ls);
  double *tmp = NULL;
  if (!w || !l || !g || !ys || !ws || !ls) {
    rc = l1k_errf(err, L1K_ENOMEM, "out of memory");
    goto done;
  }
  double sw = 0;
  for (size_t i = 0; i < n; i++) {
    w[i] = d->n ? binom_var_weight(d->y[i], d->n[i], scale) : 1.0;
    sw += w[i];
  }
  for (size_t i = 0; i < n; i++) {
    w[i] *= (double)n / sw; /* mean 1: WRSS in y units^2 comparable with unweighted */
    l[i] = log(d->x[i]);
  }
  r->count = n;
  r->distinct_x = distinct;
  r->weighted = d->n != NULL;
  r->y_scale = scale;
  r->level = o->level;
  r->seed = o->seed;
  r->x_min = r->x_max = d->x[0];
  for (size_t i = 1; i < n; i++) {
    if (d->x[i] < r->x_min) r->x_min = d->x[i];
    if (d->x[i] > r->x_max) r->x_max = d->x[i];
  }
  double wrss;
  if (wls1(l, d->y, w, n, &r->a, &r->b, &wrss)) {
    rc = l1k_errf(err, L1K_EINPUT, "the x values are too close together to fit y = a + b ln x");
    goto done;
  }
  r->per_doubling = r->b * log(2.0);
  r->per_decade = r->b * log(10.0);
  {
    double my = 0, ml = 0, tss = 0, sll = 0;
    for (size_t i = 0; i < n; i++) {
      my += w[i] * d->y[i];
      ml += w[i] * l[i];
    }
    my /= (double)n;
    ml /= (double)n;
    for (size_t i = 0; i < n; i++) {
      tss += w[i] * (d->y[i] - my) * (d->y[i] - my);
      sll += w[i] * (l[i] - ml) * (l[i] - ml);
    }
    r->r2 = tss > 0 ? 1 - wrss / tss : NAN;
    r->b_se = n > 2 ? sqrt(wrss / (double)(n - 2) / sll) : NAN;
  }

  /* model comparison */
  l1k_fit_model *M = r->models;
  M[0] = (l1k_fit_model){.name = "log", .formula = "y = a + b ln x", .ok = 1, .k = 2,
                         .p = {r->a, r->b, 0}, .wrss = wrss};
  M[1] = (l1k_fit_model){.name = "power", .formula = "y = c x^d", .k = 2};
  M[2] = (l1k_fit_model){.name = "saturating", .formula = "y = L - c x^(-d)", .k = 3};
  {
    /* Points that share an x enter the nonlinear fits as one point at their weighted mean
     * with their summed weight: the same minimiser, and WRSS = grouped WRSS + the spread
     * within the groups (a constant). Makes per-sample inputs (many points, few x) fast. */
    size_t ng = 0;
    double within = 0;
    double *gx = malloc(n * sizeof *gx), *gy = malloc(n * sizeof *gy), *gw = malloc(n * sizeof *gw);
    size_t *idx = malloc(n * sizeof *idx);
    if (!gx || !gy || !gw || !idx) {
      free(gx);
      free(gy);
      free(gw);
      free(idx);
      rc = l1k_errf(err, L1K_ENOMEM, "out of memory");
      goto done;
    }
    for (size_t i = 0; i < n; i++) idx[i] = i;
    sort_by_x(idx, n, d->x);
    for (size_t i = 0; i < n;) {
      size_t j = i;
      double sw2 = 0, swy = 0;
      while (j < n && d->x[idx[j]] == d->x[idx[i]]) {
        sw2 += w[idx[j]];
        swy += w[idx[j]] * d->y[idx[j]];
        j++;
      }
      double m = swy / sw2;
      for (size_t q = i; q < j; q++) within += w[idx[q]] * (d->y[idx[q]] - m) * (d->y[idx[q]] - m);
      gx[ng] = d->x[idx[i]];
      gy[ng] = m;
      gw[ng] = sw2;
      ng++;
      i = j;
    }
    free(idx);
    prof P = {.x = gx, .y = gy, .w = gw, .n = ng, .g = g};
    int atb = 0;
    P.model = L1K_MODEL_POWER;
    M[1].wrss = prof_search(&P, -3, 3, 0, M[1].p, &atb) + within;
    M[1].ok = isfinite(M[1].wrss);
    if (!M[1].ok) snprintf(M[1].note, sizeof M[1].note, "no finite fit");
    else if (atb) snprintf(M[1].note, sizeof M[1].note, "d at the end of the searched range [-3, 3]");
    if (distinct >= 3) {
      P.model = L1K_MODEL_SAT;
      M[2].wrss = prof_search(&P, 1e-4, 5, 1, M[2].p, &atb) + within;
      M[2].ok = isfinite(M[2].wrss);
      if (!M[2].ok) snprintf(M[2].note, sizeof M[2].note, "no finite fit");
      else if (atb && M[2].p[2] < 1e-3)
        snprintf(M[2].note, sizeof M[2].note, "d at the lower bound 1e-4: no saturation visible (the form reduces to the log law)");
      else if (atb)
        snprintf(M[2].note, sizeof M[2].note, "d at the upper bound 5 of the searched range");
    } else {
      snprintf(M[2].note, sizeof M[2].note, "needs at least 3 distinct x (has 3 parameters)");
    }
    free(gx);
    free(gy);
    free(gw);
  }
  r->best_model = -1;
  for (int k = 0; k < L1K_MODEL_COUNT; k++) {
    if (!M[k].ok) {
      M[k].aic = M[k].aicc = M[k].delta_aic = NAN;
      continue;
    }
    if ((size_t)M[k].k >= n) { /* it can pass through every point: AIC says nothing */
      M[k].aic = M[k].aicc = M[k].delta_aic = NAN;
      if (!M[k].note[0])
        snprintf(M[k].note, sizeof M[k].note, "not compared by AIC: %d parameters for %zu points", M[k].k, n);
      continue;
    }
    set_aic(&M[k], n);
    if (M[k].wrss <= 1e-300 && !M[k].note[0]) snprintf(M[k].note, sizeof M[k].note, "exact fit (residuals are zero; AIC floored)");
    if (r->best_model < 0 || M[k].aic < M[r->best_model].aic) r->best_model = k;
  }
  for (int k = 0; k < L1K_MODEL_COUNT; k++)
    if (M[k].ok && isfinite(M[k].aic)) M[k].delta_aic = M[k].aic - M[r->best_model].aic;

  /* bootstrap */
  int method = o->boot_method;
  if (method == L1K_BOOT_AUTO) method = d->n ? L1K_BOOT_BINOMIAL : L1K_BOOT_RESIDUAL;
  r->boot_method = method;
  r->boot_requested = o->bootstrap;
  for (int k = 0; k < 2; k++)
    r->a_ci[k] = r->b_ci[k] = r->per_doubling_ci[k] = r->per_decade_ci[k] = NAN;
  if (o->bootstrap > 0) {
    int B = o->bootstrap;
    r->boot_a = malloc((size_t)B * sizeof(double));
    r->boot_b = malloc((size_t)B * sizeof(double));
    tmp = malloc((size_t)B * sizeof(double));
    if (!r->boot_a || !r->boot_b || !tmp) {
      rc = l1k_errf(err, L1K_ENOMEM, "out of memory for %d bootstrap replicates", B);
      goto done;
    }
    l1k_xoshiro rng;
    l1k_xoshiro_seed(&rng, o->seed);
    double *e = g; /* weighted residuals */
    for (size_t i = 0; i < n; i++) e[i] = (d->y[i] - (r->a + r->b * l[i])) * sqrt(w[i]);
    int okc = 0;
    long tries = 0, max_tries = 20L * B + 100;
    while (okc < B && tries < max_tries) {
      tries++;
      size_t m = n;
      for (size_t i = 0; i < n; i++) {
        if (method == L1K_BOOT_BINOMIAL) {
          double k = binomial_draw(&rng, d->n[i], d->y[i] / scale);
          ys[i] = k / d->n[i] * scale;
          ws[i] = binom_var_weight(ys[i], d->n[i], scale);
          ls[i] = l[i];
        } else if (method == L1K_BOOT_RESIDUAL) {
          size_t j = (size_t)l1k_xoshiro_below(&rng, n);
          ys[i] = r->a + r->b * l[i] + e[j] / sqrt(w[i]);
          ws[i] = w[i];
          ls[i] = l[i];
        } else {
          size_t j = (size_t)l1k_xoshiro_below(&rng, n);
          ys[i] = d->y[j];
          ws[i] = w[j];
          ls[i] = l[j];
        }
      }
      double ba, bb;
      if (wls1(ls, ys, ws, m, &ba, &bb, NULL)) continue; /* pairs: < 2 distinct x drawn */
      r->boot_a[okc] = ba;
      r->boot_b[okc] = bb;
      okc++;
    }
    r->boot_ok = okc;
    memcpy(tmp, r->boot_a, (size_t)okc * sizeof *tmp);
    pct_interval(tmp, (size_t)okc, o->level, r->a_ci);
    memcpy(tmp, r->boot_b, (size_t)okc * sizeof *tmp);
    pct_interval(tmp, (size_t)okc, o->level, r->b_ci);
    for (int k = 0; k < 2; k++) {
      r->per_doubling_ci[k] = r->b_ci[k] * log(2.0);
      r->per_decade_ci[k] = r->b_ci[k] * log(10.0);
    }
  }
done:
  free(w);
  free(l);
  free(g);
  free(ys);
  free(ws);
  free(ls);
  free(tmp);
  if (rc) l1k_fit_result_free(r);
  return rc;
}

double l1k_fit_predict(const l1k_fit_result *r, double x, double *lo, double *hi) {
  double lx = log(x), y = r->a + r->b * lx;
  double ci[2] = {NAN, NAN};
  if (r->boot_ok > 0) {
    double *v = malloc((size_t)r->boot_ok * sizeof *v);
    if (v) {
      for (int i = 0; i < r->boot_ok; i++) v[i] = r->boot_a[i] + r->boot_b[i] * lx;
      pct_interval(v, (size_t)r->boot_ok, r->level, ci);
      free(v);
    }
  }
  if (lo) *lo = ci[0];
  if (hi) *hi = ci[1];
  return y;
}

double l1k_fit_x_for_y(const l1k_fit_result *r, double y, double *lo, double *hi,
                       int *n_undefined) {
  double ci[2] = {NAN, NAN};
  int und = 0;
  double x = r->b != 0 ? exp((y - r->a) / r->b) : NAN;
  if (r->boot_ok > 0 && r->b != 0) {
    double *v = malloc((size_t)r->boot_ok * sizeof *v);
    size_t m = 0;
    if (v) {
      for (int i = 0; i < r->boot_ok; i++) {
        double bb = r->boot_b[i];
        if (bb == 0 || (bb > 0) != (r->b > 0)) {
          und++;
          continue;
        }
        v[m++] = exp((y - r->boot_a[i]) / bb);
      }
      pct_interval(v, m, r->level, ci);
      free(v);
    }
  }
  if (lo) *lo = ci[0];
  if (hi) *hi = ci[1];
  if (n_undefined) *n_undefined = und;
  return x;
}
