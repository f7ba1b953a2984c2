/* long1k — the length scaling law: y = a + b·ln(x), with bootstrap confidence intervals and a
 * comparison against a power law and a saturating form by AIC.
 *
 *   l1k_fit_data d = {.x = xs, .y = ys, .n = ns_or_NULL, .count = k};
 *   l1k_fit_opts o; l1k_fit_opts_default(&o);
 *   l1k_fit_result r;
 *   if (l1k_fit_run(&d, &o, &r, &err)) -> err.msg
 *   ... r.a, r.b, r.per_decade, r.b_ci[0..1], l1k_fit_predict(&r, 4000, &lo, &hi) ...
 *   l1k_fit_result_free(&r);
 *
 * Weights: when the number of graded samples n_i of each point is known, each point is weighted
 * by 1/var_i with var_i = p'(1-p')/n_i (the binomial variance of a proportion), p' = y_i/scale
 * clamped to [1/(2n_i), 1-1/(2n_i)] so that a point at 0% or 100% keeps a finite weight. The
 * scale is 1 when every y is in [0,1] and 100 (percent) otherwise (see l1k_fit_detect_scale).
 * Without n every point has weight 1.
 *
 * Models (all fitted by weighted least squares in y, so their AICs compare):
 *   log        y = a + b ln x                      (closed form, k = 2)
 *   power      y = c x^d                           (k = 2; for each d the best c is linear,
 *                                                   d found by a grid + golden-section search)
 *   saturating y = L - c x^(-d), d > 0             (k = 3; for each d, L and c are linear,
 *                                                   d found the same way)
 * AIC = N ln(WRSS/N) + 2k with weights normalised to mean 1; AICc adds 2k(k+1)/(N-k-1).
 *
 * Bootstrap (seeded, reproducible): "binomial" redraws each point's count from Binomial(n_i,
 * p_i) (default when n is given), "residual" adds resampled weighted residuals to the fitted
 * line (default otherwise), "pairs" resamples points with replacement. Intervals are the
 * percentile intervals of the replicates.
 */
#ifndef LONG1K_FIT_H
#define LONG1K_FIT_H

#include <stddef.h>
#include <stdint.h>
#include "long1k/error.h"
#include "long1k/jsonl.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct l1k_fit_data {
  const double *x;  /* > 0, finite */
  const double *y;  /* finite */
  const double *n;  /* graded samples per point (>= 1), or NULL for an unweighted fit */
  size_t count;
} l1k_fit_data;

enum { L1K_BOOT_AUTO = 0, L1K_BOOT_BINOMIAL, L1K_BOOT_RESIDUAL, L1K_BOOT_PAIRS };

typedef struct l1k_fit_opts {
  int bootstrap;      /* replicates; 0 = no intervals (default 2000) */
  int boot_method;    /* L1K_BOOT_* */
  uint64_t seed;      /* default 1 */
  double level;       /* confidence level, default 0.95 */
  double y_scale;     /* 0 = detect (1 or 100); else 1 or 100 */
} l1k_fit_opts;

void l1k_fit_opts_default(l1k_fit_opts *o);

enum { L1K_MODEL_LOG = 0, L1K_MODEL_POWER = 1, L1K_MODEL_SAT = 2, L1K_MODEL_COUNT = 3 };

typedef struct l1k_fit_model {
  const char *name;    /* "log", "power", "saturating" */
  const char *formula; /* "y = a + b ln x", ... */
  int ok;              /* 0 if it could not be fitted (reason in note) */
  int k;               /* parameters */
  double p[3];         /* log: a, b; power: c, d; saturating: L, c, d */
  double wrss, aic, aicc, delta_aic;
  char note[160];
} l1k_fit_model;

typedef struct l1k_fit_result {
  size_t count;        /* points */
  size_t distinct_x;
  int weighted;
  double y_scale;      /* 1 or 100 */
  double x_min, x_max;
  double a, b, per_doubling, per_decade;
  double b_se;         /* classical standard error of b (weighted when weighted) */
  double r2;           /* weighted R^2 when weighted */
  double level;
  /* bootstrap */
  int boot_method;     /* the one used */
  int boot_requested, boot_ok; /* replicates asked, replicates that gave a fit */
  uint64_t seed;
  double a_ci[2], b_ci[2], per_doubling_ci[2], per_decade_ci[2];
  double *boot_a, *boot_b; /* boot_ok replicates (owned) */
  l1k_fit_model models[L1K_MODEL_COUNT];
  int best_model;      /* index with the lowest AIC among ok models */
} l1k_fit_result;

/* Weighted least squares for y = a + b ln x (w may be NULL). Needs >= 2 distinct x. */
int l1k_fit_loglin(const double *x, const double *y, const double *w, size_t n, double *a,
                   double *b, l1k_err *err);

/* 1 if every y is in [0,1], else 100. */
double l1k_fit_detect_scale(const double *y, size_t n);

/* Validates the data (x > 0 finite, y finite, n >= 1, >= 2 distinct x, y within [0, scale]
 * when n is given) and fits everything. Messages name the point index (0-based "point i"). */
int l1k_fit_run(const l1k_fit_data *d, const l1k_fit_opts *o, l1k_fit_result *r, l1k_err *err);
void l1k_fit_result_free(l1k_fit_result *r);

/* y at x from the log law, with the bootstrap interval (lo/hi may be NULL; NAN without
 * bootstrap). */
double l1k_fit_predict(const l1k_fit_result *r, double x, double *lo, double *hi);
/* x at which the log law reaches y (NAN if b == 0), with the bootstrap interval over the
 * replicates whose b has the same sign; *n_undefined counts the replicates left out. */
double l1k_fit_x_for_y(const l1k_fit_result *r, double y, double *lo, double *hi,
                       int *n_undefined);

const char *l1k_fit_boot_name(int method);

/* What to report besides the fit: predictions, targets, the points, names of the fields. */
typedef struct l1k_fit_report {
  const char *group;        /* value of the --by field, or NULL */
  const char *input;        /* file name, or NULL */
  const char *x_field, *y_field, *n_field; /* may be NULL */
  const double *predict_x;  /* x values to predict y at */
  size_t n_predict;
  const double *target_y;   /* y values to find x for */
  size_t n_target;
  const l1k_fit_data *data; /* the points (echoed as "data"), or NULL */
} l1k_fit_report;

/* One JSON object (no trailing newline) describing the fit; non-finite numbers are null. See
 * docs/fit.md for the fields. */
int l1k_fit_to_json(const l1k_fit_result *r, const l1k_fit_report *rep, l1k_buf *out);
/* A human table of the same. */
int l1k_fit_to_table(const l1k_fit_result *r, const l1k_fit_report *rep, l1k_buf *out);

#ifdef __cplusplus
}
#endif
#endif
