/* long1k — the CPU backend behind the seam (src/backend/ops.h).
 *
 * Parameters and gradients stay in the model's host float32 buffers (m->params, m->grads),
 * which the forward / backward of forward.c and the generator read in place; the backend's
 * own state is the AdamW optimizer of include/long1k/optim.h (moments of the shard [lo, hi)).
 * A step is exactly what the trainer did before the seam: l1k_clip_grad_norm over all
 * gradients, then l1k_adamw_step on the shard, so the numbers are bit-identical.
 * Optimizer and gradient entries address the trainable space (model_train_space): the whole
 * model, or a LoRA / freeze adapter's own flat space (include/long1k/adapter.h). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/cpu/cpu.h"
#include "backend/ops.h"
#include "long1k/optim.h"
#include "model/model_internal.h"

typedef struct cpu_state {
  l1k_adamw opt;
  int have_opt;
} cpu_state;

static int cpu_available(char *why, size_t why_len) {
  if (why && why_len) why[0] = 0;
  return 1;
}

static int cpu_attach(l1k_model *m, const l1k_backend_opts *o, l1k_err *err) {
  if (o && o->precision != L1K_PREC_F32)
    return l1k_errf(err, L1K_EINPUT,
                    "precision bf16: the cpu backend computes in float32 only (use precision: "
                    "fp32, or --device cuda)");
  cpu_state *s = l1k_calloc(1, sizeof *s, err);
  if (!s) return L1K_ENOMEM;
  for (size_t i = 0; i < m->n_tensors; i++)
    snprintf(m->tensors[i].dtype, sizeof m->tensors[i].dtype, "F32");
  m->be_state = s;
  return 0;
}

static void cpu_detach(l1k_model *m) {
  cpu_state *s = m->be_state;
  if (!s) return;
  if (s->have_opt) l1k_adamw_free(&s->opt);
  free(s);
  m->be_state = NULL;
}

static int cpu_zero_grads(l1k_model *m, l1k_err *err) {
  (void)err;
  train_space sp = model_train_space(m, 0);
  if (sp.grads) memset(sp.grads, 0, sp.n * sizeof(float));
  return 0;
}

static int cpu_optim_init(l1k_model *m, double beta1, double beta2, double eps,
                          double weight_decay, size_t lo, size_t hi, l1k_err *err) {
  cpu_state *s = m->be_state;
  train_space sp = model_train_space(m, 0);
  if (lo > hi || hi > sp.n)
    return l1k_errf(err, L1K_EINTERNAL, "optim_init: shard [%zu, %zu) outside %zu parameters",
                    lo, hi, sp.n);
  l1k_param_seg *segs = l1k_calloc(sp.n_tensors + 1, sizeof *segs, err);
  if (!segs) return L1K_ENOMEM;
  for (size_t i = 0; i < sp.n_tensors; i++)
    segs[i] = (l1k_param_seg){sp.tensors[i].offset, sp.tensors[i].numel, sp.tensors[i].no_decay};
  if (s->have_opt) l1k_adamw_free(&s->opt);
  s->have_opt = 0;
  int rc = l1k_adamw_init(&s->opt, sp.n, segs, sp.n_tensors, beta1, beta2, eps, weight_decay,
                          err);
  free(segs);
  if (!rc && (lo != 0 || hi != sp.n)) {
    rc = l1k_adamw_shard(&s->opt, lo, hi, err);
    if (rc) l1k_adamw_free(&s->opt);
  }
  s->have_opt = !rc;
  return rc;
}

static int need_opt(const l1k_model *m, const char *what, l1k_err *err) {
  const cpu_state *s = m->be_state;
  if (!s || !s->have_opt)
    return l1k_errf(err, L1K_EINTERNAL, "%s: the optimizer is not initialized (call "
                    "l1k_model_optim_init first)", what);
  return 0;
}

static int cpu_step(l1k_model *m, const l1k_step_args *a, double *grad_norm, l1k_err *err) {
  int rc = need_opt(m, "step", err);
  if (rc) return rc;
  cpu_state *s = m->be_state;
  if (a->lo != s->opt.lo || a->hi != s->opt.hi)
    return l1k_errf(err, L1K_EINTERNAL,
                    "step: parameters [%zu, %zu) but the optimizer holds the shard [%zu, %zu)",
                    a->lo, a->hi, s->opt.lo, s->opt.hi);
  train_space sp = model_train_space(m, 1);
  if (!sp.grads) return l1k_errf(err, L1K_ENOMEM, "out of memory for gradients");
  double gn;
  if (a->norm_given) { /* ZeRO-2: only the shard's gradients are summed; clip those */
    gn = a->norm;
    if (a->max_grad_norm > 0 && isfinite(gn)) {
      double coef = a->max_grad_norm / (gn + 1e-6);
      if (coef < 1.0) {
        float *g = sp.grads;
        long long l = (long long)a->lo, h = (long long)a->hi;
#pragma omp parallel for schedule(static) if (h - l > 65536)
        for (long long i = l; i < h; i++) g[i] = (float)((double)g[i] * coef);
      }
    }
  } else {
    gn = l1k_clip_grad_norm(sp.grads, sp.n, a->max_grad_norm);
  }
  if (grad_norm) *grad_norm = gn;
  if (!isfinite(gn)) return 0; /* parameters and state untouched */
  l1k_adamw_step(&s->opt, sp.params, sp.grads, a->lr);
  return 0;
}

static int range_ok(l1k_model *m, size_t lo, size_t n, const char *what, l1k_err *err) {
  size_t np = model_train_space(m, 0).n;
  if (lo > np || n > np - lo)
    return l1k_errf(err, L1K_EINPUT, "%s: [%zu, +%zu) outside the %zu parameters", what, lo, n,
                    np);
  return 0;
}

static int cpu_params_get(l1k_model *m, float *dst, size_t lo, size_t n, l1k_err *err) {
  int rc = range_ok(m, lo, n, "params_get", err);
  if (!rc && n) memcpy(dst, model_train_space(m, 0).params + lo, n * sizeof(float));
  return rc;
}

static int cpu_params_set(l1k_model *m, const float *src, size_t lo, size_t n, l1k_err *err) {
  int rc = range_ok(m, lo, n, "params_set", err);
  if (!rc && n) memmove(model_train_space(m, 0).params + lo, src, n * sizeof(float));
  return rc;
}

static int cpu_grads_get(l1k_model *m, float *dst, size_t lo, size_t n, l1k_err *err) {
  int rc = range_ok(m, lo, n, "grads_get", err);
  if (rc || !n) return rc;
  const float *g = model_train_space(m, 0).grads;
  if (g) memcpy(dst, g + lo, n * sizeof(float));
  else memset(dst, 0, n * sizeof(float)); /* no backward yet: all zero */
  return 0;
}

static int cpu_grads_set(l1k_model *m, const float *src, size_t lo, size_t n, l1k_err *err) {
  int rc = range_ok(m, lo, n, "grads_set", err);
  if (rc || !n) return rc;
  float *g = model_train_space(m, 1).grads;
  if (!g) return l1k_errf(err, L1K_ENOMEM, "out of memory for gradients");
  memmove(g + lo, src, n * sizeof(float));
  return 0;
}

static int cpu_optim_get(l1k_model *m, float *m1, float *m2, int64_t *step, l1k_err *err) {
  int rc = need_opt(m, "optim_get", err);
  if (rc) return rc;
  const l1k_adamw *o = &((cpu_state *)m->be_state)->opt;
  size_t k = o->hi - o->lo;
  if (m1 && k) memcpy(m1, o->m, k * sizeof(float));
  if (m2 && k) memcpy(m2, o->v, k * sizeof(float));
  if (step) *step = o->step;
  return 0;
}

static int cpu_optim_set(l1k_model *m, const float *m1, const float *m2, int64_t step,
                         l1k_err *err) {
  int rc = need_opt(m, "optim_set", err);
  if (rc) return rc;
  if (step < 0) return l1k_errf(err, L1K_EINPUT, "optim_set: step %lld < 0", (long long)step);
  l1k_adamw *o = &((cpu_state *)m->be_state)->opt;
  size_t k = o->hi - o->lo;
  if (m1 && k) memmove(o->m, m1, k * sizeof(float));
  if (m2 && k) memmove(o->v, m2, k * sizeof(float));
  o->step = step;
  return 0;
}

static float *cpu_grads_host(l1k_model *m) { return model_train_space(m, 1).grads; }

static int cpu_optim_host(l1k_model *m, float **m1, float **m2) {
  cpu_state *s = m->be_state;
  if (!s || !s->have_opt) return 1;
  *m1 = s->opt.m;
  *m2 = s->opt.v;
  return 0;
}

const l1k_backend_ops l1k_backend_cpu_ops = {
    .name = "cpu",
    .available = cpu_available,
    .attach = cpu_attach,
    .detach = cpu_detach,
    .reserve = l1k_cpu_reserve,
    .forward = l1k_cpu_forward,
    .forward_backward = l1k_cpu_forward_backward,
    .zero_grads = cpu_zero_grads,
    .optim_init = cpu_optim_init,
    .step = cpu_step,
    .params_get = cpu_params_get,
    .params_set = cpu_params_set,
    .grads_get = cpu_grads_get,
    .grads_set = cpu_grads_set,
    .optim_get = cpu_optim_get,
    .optim_set = cpu_optim_set,
    .grads_host = cpu_grads_host,
    .optim_host = cpu_optim_host,
};
