/* Unit math of the length scaling law fit (src/analysis/fit.c). The references here are coded
 * separately from the library: the least-squares line by Cramer's rule on the normal equations,
 * the binomial weights from their formula. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "long1k/fit.h"

/* Independent closed form: minimise sum w (y - a - b ln x)^2 via the 2x2 normal equations
 *   [S0 S1][a]   [T0]
 *   [S1 S2][b] = [T1]   with S_k = sum w l^k, T_k = sum w l^k y, solved by Cramer's rule. */
static void ref_wls(const double *x, const double *y, const double *w, int n, double *a, double *b) {
  double S0 = 0, S1 = 0, S2 = 0, T0 = 0, T1 = 0;
  for (int i = 0; i < n; i++) {
    double wi = w ? w[i] : 1.0, li = log(x[i]);
    S0 += wi;
    S1 += wi * li;
    S2 += wi * li * li;
    T0 += wi * y[i];
    T1 += wi * li * y[i];
  }
  double det = S0 * S2 - S1 * S1;
  *a = (T0 * S2 - S1 * T1) / det;
  *b = (S0 * T1 - S1 * T0) / det;
}

static void test_paper_points(void) {
  /* MATH500 accuracy against training length, read off the Long1K paper's figure. */
  double x[] = {1000, 1500, 2000, 3000, 6000, 12000};
  double y[] = {85.8, 87.4, 88.9, 90.2, 92.6, 94.1};
  double ra, rb;
  ref_wls(x, y, NULL, 6, &ra, &rb);
  l1k_fit_data d = {.x = x, .y = y, .count = 6};
  l1k_fit_opts o;
  l1k_fit_opts_default(&o);
  o.bootstrap = 500;
  l1k_fit_result r;
  l1k_err err = {0};
  CHECK(l1k_fit_run(&d, &o, &r, &err) == 0);
  CHECK_CLOSE(r.b, rb, 1e-9);
  CHECK_CLOSE(r.a, ra, 1e-7);
  CHECK_CLOSE(r.per_decade, rb * log(10.0), 1e-9);
  CHECK_CLOSE(r.per_decade, 7.7, 0.1); /* the paper's ~7.7 points per decade */
  CHECK_CLOSE(r.per_doubling, rb * log(2.0), 1e-9);
  CHECK(r.y_scale == 100);
  CHECK(!r.weighted);
  CHECK(r.r2 > 0.98 && r.r2 <= 1.0);
  /* R^2 independently */
  double my = 0, tss = 0, rss = 0;
  for (int i = 0; i < 6; i++) my += y[i] / 6;
  for (int i = 0; i < 6; i++) {
    double e = y[i] - (ra + rb * log(x[i]));
    rss += e * e;
    tss += (y[i] - my) * (y[i] - my);
  }
  CHECK_CLOSE(r.r2, 1 - rss / tss, 1e-12);
  CHECK(r.boot_ok == 500);
  CHECK(r.b_ci[0] < r.b && r.b < r.b_ci[1]);
  CHECK(r.b_ci[1] - r.b_ci[0] < 1.5);
  CHECK(r.boot_method == L1K_BOOT_RESIDUAL);
  double lo, hi;
  double p = l1k_fit_predict(&r, 4000, &lo, &hi);
  CHECK_CLOSE(p, ra + rb * log(4000.0), 1e-9);
  CHECK(lo < p && p < hi);
  int und = -1;
  double xt = l1k_fit_x_for_y(&r, p, &lo, &hi, &und);
  CHECK_CLOSE(xt, 4000, 1e-6);
  CHECK(und == 0 && lo < 4000 && 4000 < hi);
  /* all three forms fit; the log law beats the power law on these points (the interpolated
   * read-offs bend a little, so the 3-parameter saturating form has the lowest AIC) */
  CHECK(r.models[0].ok && r.models[1].ok && r.models[2].ok);
  CHECK(r.models[r.best_model].delta_aic == 0);
  CHECK(r.models[0].aic < r.models[1].aic);
  for (int k = 0; k < 3; k++) CHECK(r.models[k].wrss <= r.models[0].wrss * 1.5);
  /* same seed -> same intervals, other seed -> other replicates */
  l1k_fit_result r2;
  CHECK(l1k_fit_run(&d, &o, &r2, &err) == 0);
  CHECK(r2.b_ci[0] == r.b_ci[0] && r2.b_ci[1] == r.b_ci[1]);
  l1k_fit_result_free(&r2);
  o.seed = 7;
  CHECK(l1k_fit_run(&d, &o, &r2, &err) == 0);
  CHECK(r2.b_ci[0] != r.b_ci[0]);
  l1k_fit_result_free(&r2);
  /* the same data as fractions: coefficients scale by 1/100 */
  double yf[6];
  for (int i = 0; i < 6; i++) yf[i] = y[i] / 100;
  d.y = yf;
  CHECK(l1k_fit_run(&d, &o, &r2, &err) == 0);
  CHECK(r2.y_scale == 1);
  CHECK_CLOSE(r2.b * 100, r.b, 1e-9);
  l1k_fit_result_free(&r2);
  l1k_fit_result_free(&r);
}

static void test_weighted(void) {
  double x[] = {1000, 2000, 4000, 8000, 16000};
  double y[] = {50.0, 56.0, 60.0, 64.0, 100.0}; /* percent; the last at 100% uses the floor */
  double n[] = {500, 30, 500, 30, 40};
  double w[5];
  for (int i = 0; i < 5; i++) {
    double p = y[i] / 100, f = 0.5 / n[i];
    if (p > 1 - f) p = 1 - f;
    if (p < f) p = f;
    w[i] = 1.0 / (100.0 * 100.0 * p * (1 - p) / n[i]);
  }
  double ra, rb, ua, ub;
  ref_wls(x, y, w, 5, &ra, &rb);
  ref_wls(x, y, NULL, 5, &ua, &ub);
  l1k_fit_data d = {.x = x, .y = y, .n = n, .count = 5};
  l1k_fit_opts o;
  l1k_fit_opts_default(&o);
  o.bootstrap = 300;
  l1k_fit_result r;
  l1k_err err = {0};
  CHECK(l1k_fit_run(&d, &o, &r, &err) == 0);
  CHECK(r.weighted);
  CHECK_CLOSE(r.b, rb, 1e-9);
  CHECK_CLOSE(r.a, ra, 1e-7);
  CHECK(fabs(rb - ub) > 1.0); /* the weights matter for this data */
  CHECK(r.boot_method == L1K_BOOT_BINOMIAL);
  CHECK(r.boot_ok == 300);
  CHECK(r.b_ci[0] < r.b && r.b < r.b_ci[1]);
  /* weights through the library call match too */
  double la, lb;
  CHECK(l1k_fit_loglin(x, y, w, 5, &la, &lb, &err) == 0);
  CHECK_CLOSE(lb, rb, 1e-9);
  l1k_fit_result_free(&r);
  o.boot_method = L1K_BOOT_PAIRS;
  CHECK(l1k_fit_run(&d, &o, &r, &err) == 0);
  CHECK(r.boot_ok == 300);
  l1k_fit_result_free(&r);
}

static void test_exact_and_models(void) {
  double x[8], y[8], yp[8], ys[8];
  for (int i = 0; i < 8; i++) {
    x[i] = 100.0 * pow(2.0, i);
    y[i] = 2.0 + 3.0 * log(x[i]);
    yp[i] = 2.0 * pow(x[i], 0.3);
    ys[i] = 0.9 - 0.5 * pow(x[i], -0.5);
  }
  l1k_fit_opts o;
  l1k_fit_opts_default(&o);
  o.bootstrap = 0;
  l1k_fit_result r;
  l1k_err err = {0};
  l1k_fit_data d = {.x = x, .y = y, .count = 8};
  CHECK(l1k_fit_run(&d, &o, &r, &err) == 0);
  CHECK_CLOSE(r.a, 2, 1e-9);
  CHECK_CLOSE(r.b, 3, 1e-10);
  CHECK_CLOSE(r.r2, 1, 1e-12);
  CHECK(r.best_model == L1K_MODEL_LOG || r.models[r.best_model].wrss < 1e-12);
  CHECK(isnan(r.b_ci[0]) && r.boot_ok == 0);
  l1k_fit_result_free(&r);

  d.y = yp;
  CHECK(l1k_fit_run(&d, &o, &r, &err) == 0);
  CHECK(r.best_model == L1K_MODEL_POWER);
  CHECK_CLOSE(r.models[1].p[0], 2.0, 1e-5);
  CHECK_CLOSE(r.models[1].p[1], 0.3, 1e-6);
  CHECK(r.models[0].delta_aic > 10);
  l1k_fit_result_free(&r);

  d.y = ys;
  CHECK(l1k_fit_run(&d, &o, &r, &err) == 0);
  CHECK(r.best_model == L1K_MODEL_SAT);
  CHECK_CLOSE(r.models[2].p[0], 0.9, 1e-6);
  CHECK_CLOSE(r.models[2].p[1], 0.5, 1e-5);
  CHECK_CLOSE(r.models[2].p[2], 0.5, 1e-5);
  CHECK(r.y_scale == 1);
  l1k_fit_result_free(&r);

  /* repeated x: each point twice, and a spread within one x. The nonlinear fits group equal
   * x internally; the minimiser must not move and WRSS must count every point. */
  {
    double x2[16], y2[16], yn[8];
    for (int i = 0; i < 8; i++) {
      yn[i] = ys[i] + 0.01 * ((i % 3) - 1); /* not an exact fit */
      x2[2 * i] = x2[2 * i + 1] = x[i];
      y2[2 * i] = y2[2 * i + 1] = yn[i];
    }
    l1k_fit_result a1, a2;
    l1k_fit_data d1 = {.x = x, .y = yn, .count = 8}, d2 = {.x = x2, .y = y2, .count = 16};
    CHECK(l1k_fit_run(&d1, &o, &a1, &err) == 0);
    CHECK(l1k_fit_run(&d2, &o, &a2, &err) == 0);
    for (int k = 0; k < 3; k++) {
      for (int j = 0; j < 3; j++) CHECK_CLOSE(a1.models[k].p[j], a2.models[k].p[j], 1e-6 * (1 + fabs(a1.models[k].p[j])));
      CHECK_CLOSE(a2.models[k].wrss, 2 * a1.models[k].wrss, 1e-9 * (1 + a1.models[k].wrss));
    }
    /* spread within an x adds to WRSS of every model equally */
    y2[1] += 0.2;
    y2[0] -= 0.2;
    l1k_fit_result a3;
    CHECK(l1k_fit_run(&d2, &o, &a3, &err) == 0);
    for (int k = 1; k < 3; k++) CHECK_CLOSE(a3.models[k].wrss - a2.models[k].wrss, 2 * 0.2 * 0.2, 1e-6);
    l1k_fit_result_free(&a1);
    l1k_fit_result_free(&a2);
    l1k_fit_result_free(&a3);
  }

  /* two points: exact line, saturating needs 3 distinct x */
  d.y = y;
  d.count = 2;
  CHECK(l1k_fit_run(&d, &o, &r, &err) == 0);
  CHECK(!r.models[2].ok && strstr(r.models[2].note, "3 distinct"));
  CHECK(isnan(r.b_se));
  l1k_fit_result_free(&r);
}

static void test_errors(void) {
  l1k_fit_opts o;
  l1k_fit_opts_default(&o);
  o.bootstrap = 10;
  l1k_fit_result r;
  l1k_err err = {0};
  double x1[] = {1000, 1000, 1000}, y1[] = {1, 2, 3};
  l1k_fit_data d = {.x = x1, .y = y1, .count = 3};
  CHECK(l1k_fit_run(&d, &o, &r, &err) == L1K_EINPUT);
  CHECK_MSG(strstr(err.msg, "distinct") != NULL, "%s", err.msg);
  double x2[] = {1000, 0, 3000};
  d.x = x2;
  CHECK(l1k_fit_run(&d, &o, &r, &err) == L1K_EINPUT);
  CHECK_MSG(strstr(err.msg, "point 1") && strstr(err.msg, "x > 0"), "%s", err.msg);
  double x3[] = {1000, 2000, 3000}, y3[] = {1, NAN, 3};
  d.x = x3;
  d.y = y3;
  CHECK(l1k_fit_run(&d, &o, &r, &err) == L1K_EINPUT);
  CHECK_MSG(strstr(err.msg, "point 1") && strstr(err.msg, "finite"), "%s", err.msg);
  double y4[] = {50, 60, 170}, n4[] = {10, 10, 10};
  d.y = y4;
  d.n = n4;
  CHECK(l1k_fit_run(&d, &o, &r, &err) == L1K_EINPUT);
  CHECK_MSG(strstr(err.msg, "point 2") && strstr(err.msg, "proportion"), "%s", err.msg);
  double y5[] = {50, 60, 70}, n5[] = {10, 0, 10};
  d.y = y5;
  d.n = n5;
  CHECK(l1k_fit_run(&d, &o, &r, &err) == L1K_EINPUT);
  CHECK_MSG(strstr(err.msg, "point 1") && strstr(err.msg, "n = 0"), "%s", err.msg);
  d.n = NULL;
  o.boot_method = L1K_BOOT_BINOMIAL;
  CHECK(l1k_fit_run(&d, &o, &r, &err) == L1K_EINPUT);
  d.count = 0;
  o.boot_method = L1K_BOOT_AUTO;
  CHECK(l1k_fit_run(&d, &o, &r, &err) == L1K_EINPUT);
}

int main(void) {
  test_paper_points();
  test_weighted();
  test_exact_and_models();
  test_errors();
  CHECK_DONE();
}
