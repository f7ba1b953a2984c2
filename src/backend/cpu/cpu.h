/* long1k — the CPU backend's functions behind its ops table (src/backend/cpu/backend_cpu.c);
 * private to the model library. Same contracts as the table's entries (src/backend/ops.h). */
#ifndef LONG1K_BACKEND_CPU_H
#define LONG1K_BACKEND_CPU_H

#include "long1k/model.h"

/* forward.c: the training forward / backward on host float32 buffers (m->params, m->grads). */
int l1k_cpu_reserve(l1k_model *m, int B, int T, l1k_err *err);
int l1k_cpu_forward(l1k_model *m, const l1k_batch *b, float *logits, double *loss_sum,
                    int64_t *n_targets, l1k_err *err);
int l1k_cpu_forward_backward(l1k_model *m, const l1k_batch *b, double grad_scale,
                             double *loss_sum, int64_t *n_targets, l1k_err *err);

#endif
