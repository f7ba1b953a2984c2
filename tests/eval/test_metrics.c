/* Metrics: pass@k (unbiased estimator) against hand-computed binomials, maj@k on hand-made
 * votes, mean and standard error. */
#include "check.h"
#include "long1k/eval.h"

static double binom(int n, int k) {
  if (k < 0 || k > n) return 0;
  double r = 1;
  for (int i = 1; i <= k; i++) r = r * (n - k + i) / i;
  return r;
}

int main(void) {
  /* pass@k = 1 - C(n-c,k)/C(n,k), by hand */
  CHECK_CLOSE(l1k_pass_at_k(5, 2, 1), 0.4, 1e-12);
  CHECK_CLOSE(l1k_pass_at_k(5, 2, 2), 1.0 - 3.0 / 10.0, 1e-12);   /* C(3,2)=3, C(5,2)=10 */
  CHECK_CLOSE(l1k_pass_at_k(5, 2, 3), 1.0 - 1.0 / 10.0, 1e-12);   /* C(3,3)=1, C(5,3)=10 */
  CHECK_CLOSE(l1k_pass_at_k(5, 2, 4), 1.0, 1e-12);                /* C(3,4)=0 */
  CHECK_CLOSE(l1k_pass_at_k(10, 3, 5), 1.0 - 21.0 / 252.0, 1e-12); /* C(7,5)=21, C(10,5)=252 */
  CHECK_CLOSE(l1k_pass_at_k(16, 1, 4), 0.25, 1e-12);              /* one correct: k/n */
  CHECK_CLOSE(l1k_pass_at_k(4, 0, 2), 0.0, 1e-15);
  CHECK_CLOSE(l1k_pass_at_k(4, 4, 1), 1.0, 1e-15);
  CHECK_CLOSE(l1k_pass_at_k(1, 1, 1), 1.0, 1e-15);
  CHECK_CLOSE(l1k_pass_at_k(1, 0, 1), 0.0, 1e-15);
  CHECK(isnan(l1k_pass_at_k(4, 2, 5)));
  CHECK(isnan(l1k_pass_at_k(4, 2, 0)));
  CHECK(isnan(l1k_pass_at_k(4, 5, 1)));
  /* the stable product agrees with the binomial ratio on a grid; pass@1 is always c/n */
  for (int n = 1; n <= 40; n++)
    for (int c = 0; c <= n; c++)
      for (int k = 1; k <= n; k++) {
        double want = 1.0 - binom(n - c, k) / binom(n, k);
        CHECK_MSG(fabs(l1k_pass_at_k(n, c, k) - want) < 1e-9, "n=%d c=%d k=%d", n, c, k);
        if (k == 1) CHECK_CLOSE(l1k_pass_at_k(n, c, 1), (double)c / n, 1e-12);
      }
  /* large n without overflow: n=1024, c=10, k=512 */
  double big = l1k_pass_at_k(1024, 10, 512);
  CHECK(big > 0.99 && big <= 1.0);

  /* mean and standard error: {1,0,1,1} -> mean 0.75, sample var 0.25, se sqrt(0.25/4) */
  double x[] = {1, 0, 1, 1}, m, se;
  l1k_mean_se(x, 4, &m, &se);
  CHECK_CLOSE(m, 0.75, 1e-15);
  CHECK_CLOSE(se, 0.25, 1e-15);
  double y[] = {0.2, 0.4, 0.6}; /* var = 0.04, se = 0.2/sqrt(3) */
  l1k_mean_se(y, 3, &m, &se);
  CHECK_CLOSE(m, 0.4, 1e-15);
  CHECK_CLOSE(se, 0.2 / sqrt(3.0), 1e-12);
  l1k_mean_se(x, 1, &m, &se);
  CHECK_CLOSE(m, 1.0, 0);
  CHECK_CLOSE(se, 0.0, 0);
  l1k_mean_se(x, 0, &m, &se);
  CHECK(isnan(m) && isnan(se));

  /* maj@k: classes and verdicts by hand */
  int cl[] = {0, 1, 1, 2, -1, 0};
  int co[] = {1, 0, 0, 0, 0, 1};
  CHECK_CLOSE(l1k_maj_at_k(cl, co, 6, 6), 1.0, 0);       /* tie 0 vs 1 (2 votes): 0 seen first */
  CHECK_CLOSE(l1k_maj_at_k(cl, co, 6, 3), 0.0, 0);       /* [0,1,1] -> 1; [2,-1,0] -> tie, 2 */
  CHECK_CLOSE(l1k_maj_at_k(cl, co, 6, 2), 2.0 / 3, 1e-15); /* [0,1]->0 ok, [1,2]->1, [-1,0]->0 ok */
  CHECK_CLOSE(l1k_maj_at_k(cl, co, 6, 1), 2.0 / 6, 1e-15);
  CHECK_CLOSE(l1k_maj_at_k(cl, co, 6, 4), 0.0, 0);       /* one block [0,1,1,2] -> 1 wrong */
  CHECK(isnan(l1k_maj_at_k(cl, co, 6, 7)));
  int cl2[] = {3, 3, 5, 5, 5}, co2[] = {0, 0, 1, 1, 1};
  CHECK_CLOSE(l1k_maj_at_k(cl2, co2, 5, 5), 1.0, 0);     /* majority beats the first seen */
  int cl3[] = {-1, -1}, co3[] = {0, 0};
  CHECK_CLOSE(l1k_maj_at_k(cl3, co3, 2, 2), 0.0, 0);     /* no answer at all */
  CHECK_DONE();
}
