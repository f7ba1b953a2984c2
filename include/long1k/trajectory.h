/* long1k — the optimizer-trajectory parity check used by `long1k parity` (owned by train).
 *
 * reference.json (../shared/golden/models/<name>/) holds "adamw" (lr, betas, eps,
 * weight_decay, clip_grad_norm, steps; no weight decay on biases and norm weights) and
 * "trajectory" (per step: the loss and the gradient norm before clipping), produced by
 * transformers + torch.optim.AdamW taking `steps` steps on the same batch;
 * params_after_5_steps.safetensors holds the parameters after them.
 */
#ifndef LONG1K_TRAJECTORY_H
#define LONG1K_TRAJECTORY_H

#include <cjson/cJSON.h>
#include "long1k/error.h"
#include "long1k/jsonl.h"
#include "long1k/model.h"

/* Runs the trajectory on model m and batch b (m's parameters are restored afterwards),
 * compares losses and pre-clip gradient norms (relative error) and, when params_path is not
 * NULL, every parameter after the last step (||ours - ref|| / ||ref|| per tensor, the metric
 * of parity's other checks).
 * Appends  "adamw":{...},  (one JSON member with a trailing comma) to out and clears *ok when
 * a relative error exceeds tol. Returns 0, or an error for bad reference data. */
int l1k_parity_trajectory(l1k_model *m, const l1k_batch *b, const cJSON *meta,
                          const char *params_path, double tol, l1k_buf *out, int *ok,
                          l1k_err *err);

#endif
