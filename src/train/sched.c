/* long1k — learning-rate schedules: see include/long1k/sched.h. */
#include "long1k/sched.h"

#include <math.h>
#include <string.h>

static const char *const names[] = {"cosine", "linear", "constant_with_warmup", "constant"};

int l1k_sched_by_name(const char *name, l1k_sched_type *out, l1k_err *err) {
  for (int i = 0; i < 4; i++)
    if (strcmp(name, names[i]) == 0) {
      *out = (l1k_sched_type)i;
      return 0;
    }
  return l1k_errf(err, L1K_EINPUT,
                  "unknown lr_scheduler_type '%s' (expected cosine, linear, constant_with_warmup "
                  "or constant)",
                  name);
}

const char *l1k_sched_name(l1k_sched_type t) {
  return (unsigned)t < 4 ? names[t] : "?";
}

int64_t l1k_sched_warmup_steps(int64_t total_steps, double warmup_ratio, int64_t warmup_steps) {
  if (warmup_steps > 0) return warmup_steps;
  if (warmup_ratio <= 0) return 0;
  return (int64_t)ceil((double)total_steps * warmup_ratio);
}

double l1k_sched_lr(l1k_sched_type t, double peak_lr, int64_t warmup, int64_t total,
                    int64_t step) {
  if (t == L1K_SCHED_CONSTANT) return peak_lr;
  double s = (double)step, w = (double)warmup, n = (double)total;
  if (step < warmup) return peak_lr * (s / (w > 1.0 ? w : 1.0));
  double f = 1.0;
  if (t == L1K_SCHED_COSINE) {
    double d = n - w;
    double progress = (s - w) / (d > 1.0 ? d : 1.0);
    f = 0.5 * (1.0 + cos(M_PI * 0.5 * 2.0 * progress));
    if (f < 0) f = 0;
  } else if (t == L1K_SCHED_LINEAR) {
    double d = n - w;
    f = (n - s) / (d > 1.0 ? d : 1.0);
    if (f < 0) f = 0;
  }
  return peak_lr * f;
}
