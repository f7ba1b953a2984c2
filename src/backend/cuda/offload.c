/* long1k — optim_offload: see offload.h. */
#include <stdlib.h>
#include <string.h>

#include "backend/cuda/offload.h"

static void host_free(cu_offload *o, float *p) {
  if (!p) return;
  if (o->pinned) cudaFreeHost(p);
  else free(p);
}

static float *host_alloc(cu_offload *o, size_t n, l1k_err *err) {
  void *p = NULL;
  size_t bytes = (n ? n : 1) * sizeof(float);
  if (o->pinned && cudaMallocHost(&p, bytes) == cudaSuccess) return p;
  if (o->pinned) { /* pinned memory refused: plain memory, slower copies */
    cudaGetLastError();
    return NULL;
  }
  return l1k_malloc(bytes, err);
}

void l1kcu_offload_free(cu_state *s) {
  cu_offload *o = s->off;
  if (!o) return;
  l1k_adamw_free(&o->opt);
  host_free(o, o->master);
  host_free(o, o->grads);
  free(o);
  s->off = NULL;
}

int l1kcu_offload_init(cu_state *s, double beta1, double beta2, double eps, double weight_decay,
                       size_t lo, size_t hi, l1k_err *err) {
  l1kcu_offload_free(s);
  cu_offload *o = l1k_calloc(1, sizeof *o, err);
  if (!o) return L1K_ENOMEM;
  s->off = o;
  l1k_param_seg *segs = l1k_calloc(s->ntt + 1, sizeof *segs, err);
  if (!segs) return L1K_ENOMEM;
  for (size_t i = 0; i < s->ntt; i++)
    segs[i] = (l1k_param_seg){s->tt[i].offset, s->tt[i].numel, s->tt[i].no_decay};
  int rc = l1k_adamw_init(&o->opt, s->tn, segs, s->ntt, beta1, beta2, eps, weight_decay, err);
  free(segs);
  if (!rc && (lo != 0 || hi != s->tn)) rc = l1k_adamw_shard(&o->opt, lo, hi, err);
  if (rc) {
    memset(&o->opt, 0, sizeof o->opt);
    return rc;
  }
  size_t k = hi - lo;
  o->pinned = 1;
  o->master = host_alloc(o, k, err);
  o->grads = o->master ? host_alloc(o, k, err) : NULL;
  if (!o->grads) { /* pinned memory refused: plain memory for both */
    host_free(o, o->master);
    o->pinned = 0;
    o->master = host_alloc(o, k, err);
    o->grads = o->master ? host_alloc(o, k, err) : NULL;
    if (!o->grads)
      return l1k_errf(err, L1K_ENOMEM, "optim_offload: out of host memory for %zu master "
                      "weights and gradients", k);
  }
  if (!k) return 0;
  return l1kcu_check(cudaMemcpy(o->master, s->tp + lo, k * sizeof(float), cudaMemcpyDeviceToHost),
                     "optim_offload: master weights down", err);
}

int l1kcu_offload_step(cu_state *s, double lr, l1k_err *err) {
  cu_offload *o = s->off;
  size_t lo = o->opt.lo, k = o->opt.hi - o->opt.lo;
  int rc = k ? l1kcu_check(cudaMemcpy(o->grads, s->tg + lo, k * sizeof(float),
                                      cudaMemcpyDeviceToHost), "optim_offload: gradients down", err)
             : 0;
  if (rc) return rc;
  l1k_adamw_step_shard(&o->opt, o->master, o->grads, lr);
  if (!k) return 0;
  return l1kcu_check(cudaMemcpy(s->tp + lo, o->master, k * sizeof(float), cudaMemcpyHostToDevice),
                     "optim_offload: parameters up", err);
}

void l1kcu_offload_params_set(cu_state *s, const float *src, size_t lo, size_t n) {
  cu_offload *o = s->off;
  if (!o) return;
  size_t a = lo > o->opt.lo ? lo : o->opt.lo, e = lo + n < o->opt.hi ? lo + n : o->opt.hi;
  if (a < e) memcpy(o->master + (a - o->opt.lo), src + (a - lo), (e - a) * sizeof(float));
}
