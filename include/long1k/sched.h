/* long1k — learning-rate schedules, equal to transformers' get_scheduler (LambdaLR).
 *
 * Step s (0-based) is the learning rate used by the (s+1)-th optimizer step, as the
 * scheduler returns it before that step: with warmup, step 0 runs at lr 0.
 *   warmup (s < W):   peak * s / max(1, W)
 *   cosine:           peak * max(0, 0.5 * (1 + cos(pi * (s - W) / max(1, N - W))))
 *   linear:           peak * max(0, (N - s) / max(1, N - W))
 *   constant_with_warmup / constant: peak after warmup
 */
#ifndef LONG1K_SCHED_H
#define LONG1K_SCHED_H

#include <stdint.h>
#include "long1k/error.h"

typedef enum {
  L1K_SCHED_COSINE = 0,
  L1K_SCHED_LINEAR,
  L1K_SCHED_CONSTANT_WITH_WARMUP,
  L1K_SCHED_CONSTANT, /* no warmup at all (transformers' "constant") */
} l1k_sched_type;

/* "cosine" | "linear" | "constant_with_warmup" | "constant"; else an error listing them. */
int l1k_sched_by_name(const char *name, l1k_sched_type *out, l1k_err *err);
const char *l1k_sched_name(l1k_sched_type t);

/* transformers' TrainingArguments.get_warmup_steps: warmup_steps if > 0, else
 * ceil(total_steps * warmup_ratio). */
int64_t l1k_sched_warmup_steps(int64_t total_steps, double warmup_ratio, int64_t warmup_steps);

/* Learning rate at 0-based step s of total_steps with warmup_steps of warmup. */
double l1k_sched_lr(l1k_sched_type t, double peak_lr, int64_t warmup_steps, int64_t total_steps,
                    int64_t step);

#endif
