/* long1k — evaluation metrics: pass@k, maj@k, mean and standard error (see long1k/eval.h). */
#include <math.h>
#include <stdlib.h>

#include "long1k/eval.h"

/* pass@k = 1 - C(n-c, k) / C(n, k). The ratio is prod_{i=n-c+1}^{n} (1 - k/i), which never
 * forms a large binomial (Chen et al. 2021, "Evaluating Large Language Models Trained on
 * Code", the numerically stable form). */
double l1k_pass_at_k(int n, int c, int k) {
  if (k < 1 || k > n || c < 0 || c > n) return NAN;
  if (n - c < k) return 1.0;
  double r = 1.0;
  for (int i = n - c + 1; i <= n; i++) r *= 1.0 - (double)k / (double)i;
  return 1.0 - r;
}

void l1k_mean_se(const double *x, size_t n, double *mean, double *se) {
  if (n == 0) {
    *mean = NAN;
    *se = NAN;
    return;
  }
  double s = 0;
  for (size_t i = 0; i < n; i++) s += x[i];
  double m = s / (double)n;
  *mean = m;
  if (n == 1) {
    *se = 0;
    return;
  }
  double v = 0;
  for (size_t i = 0; i < n; i++) v += (x[i] - m) * (x[i] - m);
  v /= (double)(n - 1);
  *se = sqrt(v / (double)n);
}

double l1k_maj_at_k(const int *cluster, const int *correct, int n, int k) {
  if (k < 1 || k > n) return NAN;
  int blocks = n / k;
  double score = 0;
  for (int b = 0; b < blocks; b++) {
    const int *cl = cluster + (size_t)b * k, *co = correct + (size_t)b * k;
    int best = -1, best_votes = 0;
    /* O(k^2) within a block: k is the number of samples per problem (tens, hundreds). */
    for (int i = 0; i < k; i++) {
      if (cl[i] < 0) continue;
      int seen_before = 0;
      for (int j = 0; j < i; j++)
        if (cl[j] == cl[i]) {
          seen_before = 1;
          break;
        }
      if (seen_before) continue;
      int votes = 0;
      for (int j = i; j < k; j++) votes += cl[j] == cl[i];
      if (votes > best_votes) { /* strict: a tie keeps the class seen first */
        best_votes = votes;
        best = i;
      }
    }
    if (best >= 0 && co[best]) score += 1;
  }
  return score / blocks;
}
