/* long1k — the model's side of the backend seam: l1k_model_* calls that run on whichever
 * backend the model is attached to (src/backend/ops.h). One table call per model operation;
 * the arithmetic lives in the backends. */
#include <stdlib.h>
#include <string.h>

#include "backend/ops.h"
#include "backend/registry.h"
#include "long1k/log.h"
#include "model/adapter_internal.h"
#include "model/model_internal.h"

static int is_host(const l1k_model *m) { return m->be == &l1k_backend_cpu_ops; }

int model_attach_default(l1k_model *m, l1k_err *err) {
  l1k_backend_opts o = {L1K_PREC_F32, 1, 0, 0, 0};
  int rc = l1k_backend_cpu_ops.attach(m, &o, err);
  if (!rc) m->be = &l1k_backend_cpu_ops;
  return rc;
}

void model_detach(l1k_model *m) {
  if (m->be && m->be->detach) m->be->detach(m);
  m->be = NULL;
}

static l1k_backend_opts backend_opts(const l1k_backend_ops *be, const l1k_device_opts *o) {
  l1k_backend_opts bo = {L1K_PREC_F32, 0, 0, 0, 0};
  int cpu = be == &l1k_backend_cpu_ops;
  l1k_device_precision p = o ? o->precision : L1K_DEVICE_PREC_DEFAULT;
  bo.precision = p == L1K_DEVICE_PREC_BF16 || (p == L1K_DEVICE_PREC_DEFAULT && !cpu)
                     ? L1K_PREC_BF16 : L1K_PREC_F32;
  if (o) {
    bo.deterministic = o->deterministic;
    bo.recompute = o->recompute;
    bo.device_index = o->device_index;
    bo.inference_only = o->inference_only;
  }
  return bo;
}

int l1k_device_check(const char *device, const char *what, const char **resolved,
                     l1k_err *err) {
  const l1k_backend_ops *be = l1k_backend_pick(device, what, NULL, err);
  if (!be) return L1K_EINPUT;
  if (resolved) *resolved = be->name;
  return 0;
}

/* Brings a device backend's parameters back into m->params before it lets go of them. */
static int leave_backend(l1k_model *m, l1k_err *err) {
  if (!m->be) return 0;
  if (!is_host(m) && m->params) { /* the trained space: the adapter's when one is attached */
    int rc = m->ad ? m->be->params_get(m, m->ad->params, 0, m->ad->n, err)
                   : m->be->params_get(m, m->params, 0, m->n_params, err);
    if (rc) return rc;
  }
  if (m->be->detach) m->be->detach(m);
  m->be = NULL;
  return 0;
}

int l1k_model_attach(l1k_model *m, const char *device, const l1k_device_opts *o, l1k_err *err) {
  const char *what = o && o->what ? o->what : "device";
  int chose_auto = 0;
  const l1k_backend_ops *be = l1k_backend_pick(device, what, &chose_auto, err);
  if (!be) return L1K_EINPUT;
  if (!m->params)
    return l1k_errf(err, L1K_EINTERNAL, "%s %s: the model has no host parameters to attach",
                    what, be->name);
  l1k_backend_opts bo = backend_opts(be, o);
  const l1k_backend_ops *prev = m->be;
  int rc = leave_backend(m, err);
  if (rc) return rc;
  if ((rc = be->attach(m, &bo, err))) {
    l1k_err keep = err ? *err : (l1k_err){0};
    if (prev && prev->attach) { /* back where it was: prev is the CPU or the same device */
      l1k_backend_opts po = backend_opts(prev, NULL);
      if (!prev->attach(m, &po, NULL)) m->be = prev;
    }
    if (!m->be) model_attach_default(m, NULL);
    if (err) *err = keep;
    return rc;
  }
  m->be = be;
  if (chose_auto)
    l1k_info("device: cuda (auto: a CUDA device is present; --device cpu to run on the CPU)");
  return 0;
}

const char *l1k_model_device(const l1k_model *m) { return m->be ? m->be->name : "none"; }

float *l1k_model_params(l1k_model *m) { return is_host(m) ? m->params : NULL; }
float *l1k_model_grads(l1k_model *m) { return is_host(m) ? model_grads_alloc(m) : NULL; }
float *l1k_model_grads_host(l1k_model *m) { return m->be->grads_host ? m->be->grads_host(m) : NULL; }
int l1k_model_mem_info(l1k_model *m, uint64_t *free_b, uint64_t *total_b, l1k_err *err) {
  if (!m->be || !m->be->mem_info) return 1;
  return m->be->mem_info(m, free_b, total_b, err);
}

int l1k_model_device_name(l1k_model *m, char *name, size_t name_len) {
  if (!m->be || !m->be->device_name) return 1;
  return m->be->device_name(m, name, name_len);
}

int l1k_model_optim_host(l1k_model *m, float **m1, float **m2) {
  return m->be->optim_host ? m->be->optim_host(m, m1, m2) : 1;
}

const float *model_host_params(l1k_model *m, float **owned, l1k_err *err) {
  *owned = NULL;
  /* with an adapter the base is frozen: its host copy is current (trained full tensors are
   * written back by l1k_model_save_trained) */
  if (is_host(m) || m->ad) return m->params;
  float *p = malloc((m->n_params ? m->n_params : 1) * sizeof *p);
  if (!p) {
    l1k_errf(err, L1K_ENOMEM, "out of memory for a host copy of %zu parameters", m->n_params);
    return NULL;
  }
  if (m->be->params_get(m, p, 0, m->n_params, err)) {
    free(p);
    return NULL;
  }
  *owned = p;
  return p;
}

int l1k_model_reserve(l1k_model *m, int B, int T, l1k_err *err) {
  return m->be->reserve(m, B, T, err);
}

int l1k_model_forward(l1k_model *m, const l1k_batch *b, float *logits, double *loss_sum,
                      int64_t *n_targets, l1k_err *err) {
  return m->be->forward(m, b, logits, loss_sum, n_targets, err);
}

int l1k_model_forward_backward(l1k_model *m, const l1k_batch *b, double grad_scale,
                               double *loss_sum, int64_t *n_targets, l1k_err *err) {
  return m->be->forward_backward(m, b, grad_scale, loss_sum, n_targets, err);
}

void l1k_model_zero_grads(l1k_model *m) { m->be->zero_grads(m, NULL); }

int l1k_model_optim_init(l1k_model *m, double beta1, double beta2, double eps,
                         double weight_decay, size_t lo, size_t hi, l1k_err *err) {
  return m->be->optim_init(m, beta1, beta2, eps, weight_decay, lo, hi, err);
}

int l1k_model_step(l1k_model *m, double lr, double max_grad_norm, size_t lo, size_t hi,
                   double *grad_norm, l1k_err *err) {
  l1k_step_args a = {lr, max_grad_norm, lo, hi, 0, 0};
  double gn = 0;
  int rc = m->be->step(m, &a, &gn, err);
  if (grad_norm) *grad_norm = gn;
  return rc;
}

int l1k_model_optim_offload(l1k_model *m, int on, l1k_err *err) {
  if (!m->be->optim_offload) return 1;
  return m->be->optim_offload(m, on, err);
}

int l1k_model_dp_id(l1k_model *m, void *id, l1k_err *err) {
  if (!m->be->dp_id) return 1;
  return m->be->dp_id(m, id, err);
}
int l1k_model_dp_init(l1k_model *m, const void *id, int rank, int world, l1k_err *err) {
  if (!m->be->dp_init) return 1;
  return m->be->dp_init(m, id, rank, world, err);
}
int l1k_model_dp_reduce(l1k_model *m, const size_t *shard, size_t bucket, double *shard_sumsq,
                        l1k_err *err) {
  if (!m->be->dp_reduce)
    return l1k_errf(err, L1K_EINTERNAL, "device %s: no data parallelism in the backend", m->be->name);
  return m->be->dp_reduce(m, shard, bucket, shard_sumsq, err);
}
int l1k_model_dp_gather(l1k_model *m, const size_t *shard, size_t bucket, l1k_err *err) {
  if (!m->be->dp_gather)
    return l1k_errf(err, L1K_EINTERNAL, "device %s: no data parallelism in the backend", m->be->name);
  return m->be->dp_gather(m, shard, bucket, err);
}

int l1k_model_step_normed(l1k_model *m, double lr, double max_grad_norm, size_t lo, size_t hi,
                          double norm, l1k_err *err) {
  l1k_step_args a = {lr, max_grad_norm, lo, hi, 1, norm};
  double gn = 0;
  return m->be->step(m, &a, &gn, err);
}

int l1k_model_params_get(l1k_model *m, float *dst, size_t lo, size_t n, l1k_err *err) {
  return m->be->params_get(m, dst, lo, n, err);
}
int l1k_model_params_set(l1k_model *m, const float *src, size_t lo, size_t n, l1k_err *err) {
  return m->be->params_set(m, src, lo, n, err);
}
int l1k_model_grads_get(l1k_model *m, float *dst, size_t lo, size_t n, l1k_err *err) {
  return m->be->grads_get(m, dst, lo, n, err);
}
int l1k_model_grads_set(l1k_model *m, const float *src, size_t lo, size_t n, l1k_err *err) {
  return m->be->grads_set(m, src, lo, n, err);
}
/* NULL moments (only the step counter) are a CPU-backend convenience; the table's contract
 * gives device backends real buffers. */
static int moments_given(const l1k_model *m, const void *m1, const void *m2, const char *what,
                         l1k_err *err) {
  if ((m1 && m2) || is_host(m)) return 0;
  return l1k_errf(err, L1K_EINTERNAL, "%s: device %s needs both moment buffers", what,
                  m->be->name);
}
int l1k_model_optim_get(l1k_model *m, float *m1, float *m2, int64_t *step, l1k_err *err) {
  int rc = moments_given(m, m1, m2, "optim_get", err);
  if (!rc) rc = m->be->optim_get(m, m1, m2, step, err);
  return rc;
}
int l1k_model_optim_set(l1k_model *m, const float *m1, const float *m2, int64_t step,
                        l1k_err *err) {
  int rc = moments_given(m, m1, m2, "optim_set", err);
  if (!rc) rc = m->be->optim_set(m, m1, m2, step, err);
  return rc;
}
