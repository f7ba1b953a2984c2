/* long1k — AdamW and gradient clipping on flat float32 arrays.
 *
 * Equal to torch.optim.AdamW (decoupled weight decay, bias correction, eps added after the
 * bias-corrected square root) with transformers' parameter grouping: segments flagged
 * no_decay (biases and norm weights, from the model's tensor table) get weight decay 0.
 * Master weights and both moments are float32; the arithmetic of one update is done in
 * double and rounded once.
 *
 *   p <- p * (1 - lr * wd)
 *   m <- b1 m + (1 - b1) g ;  v <- b2 v + (1 - b2) g^2
 *   p <- p - lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)
 *
 * All reductions are done in a fixed order (fixed chunks, independent of the number of
 * threads), so results are bitwise reproducible.
 */
#ifndef LONG1K_OPTIM_H
#define LONG1K_OPTIM_H

#include <stddef.h>
#include <stdint.h>
#include "long1k/error.h"

typedef struct l1k_param_seg {
  size_t offset, numel;
  int no_decay;
} l1k_param_seg;

typedef struct l1k_adamw {
  double beta1, beta2, eps, weight_decay;
  int64_t step;          /* optimizer steps taken so far */
  size_t n;              /* number of parameters */
  size_t lo, hi;         /* the parameters this optimizer updates: [lo, hi) (ZeRO-1 shard;
                            0, n by default) */
  float *m, *v;          /* first and second moments of [lo, hi): m[i - lo] */
  l1k_param_seg *segs;   /* decay grouping; parameters outside any segment get decay */
  size_t n_segs;
} l1k_adamw;

/* Zeroed moments for n parameters; segs (copied) flag the no-decay ranges. */
int l1k_adamw_init(l1k_adamw *o, size_t n, const l1k_param_seg *segs, size_t n_segs, double beta1,
                   double beta2, double eps, double weight_decay, l1k_err *err);
void l1k_adamw_free(l1k_adamw *o);

/* Restricts the optimizer to parameters [lo, hi) (ZeRO-1: each rank keeps and updates the
 * moments of its shard only); reallocates zeroed moments. Call right after init. */
int l1k_adamw_shard(l1k_adamw *o, size_t lo, size_t hi, l1k_err *err);

/* One AdamW step with learning rate lr (increments o->step first, as torch does). Only
 * params[lo, hi) change. */
void l1k_adamw_step(l1k_adamw *o, float *params, const float *grads, double lr);

/* The same step on shard-sized arrays: params[i - lo] and grads[i - lo] for i in [lo, hi)
 * (optim_offload: the host keeps only the shard's master weights and gradients). Same
 * arithmetic, same bits. */
void l1k_adamw_step_shard(l1k_adamw *o, float *params, const float *grads, double lr);
/* The same step in pieces (optim_offload's pipeline: a piece's update overlaps the copies of
 * the next piece's gradients and the last piece's parameters): l1k_adamw_begin counts the step
 * once, then l1k_adamw_update_shard updates parameters [a, b) of the shard (shard-sized arrays
 * as above); pieces covering [lo, hi) give l1k_adamw_step_shard's bits. */
void l1k_adamw_begin(l1k_adamw *o);
void l1k_adamw_update_shard(l1k_adamw *o, float *params, const float *grads, size_t a, size_t b,
                            double lr);

/* Global L2 norm of x[n], accumulated in double in a fixed order. */
double l1k_l2norm(const float *x, size_t n);

/* torch.nn.utils.clip_grad_norm_: returns the norm before clipping; if max_norm > 0 scales
 * grads by min(1, max_norm / (norm + 1e-6)). A non-finite norm leaves grads unchanged. */
double l1k_clip_grad_norm(float *grads, size_t n, double max_norm);

#endif
