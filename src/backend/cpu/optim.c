/* long1k — AdamW and gradient clipping: see include/long1k/optim.h. The CPU backend's step
 * (backend_cpu.c) runs these on the host buffers. */
#include "long1k/optim.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

int l1k_adamw_init(l1k_adamw *o, size_t n, const l1k_param_seg *segs, size_t n_segs, double beta1,
                   double beta2, double eps, double weight_decay, l1k_err *err) {
  memset(o, 0, sizeof *o);
  o->beta1 = beta1;
  o->beta2 = beta2;
  o->eps = eps;
  o->weight_decay = weight_decay;
  o->n = n;
  o->lo = 0;
  o->hi = n;
  o->m = l1k_calloc(n ? n : 1, sizeof(float), err);
  o->v = l1k_calloc(n ? n : 1, sizeof(float), err);
  o->segs = l1k_calloc(n_segs ? n_segs : 1, sizeof *segs, err);
  if (!o->m || !o->v || !o->segs) {
    l1k_adamw_free(o);
    return L1K_ENOMEM;
  }
  for (size_t i = 0; i < n_segs; i++) {
    if (segs[i].offset + segs[i].numel > n) {
      l1k_adamw_free(o);
      return l1k_errf(err, L1K_EINTERNAL, "adamw: segment %zu [%zu, +%zu) outside %zu parameters",
                      i, segs[i].offset, segs[i].numel, n);
    }
    o->segs[i] = segs[i];
  }
  o->n_segs = n_segs;
  return 0;
}

int l1k_adamw_shard(l1k_adamw *o, size_t lo, size_t hi, l1k_err *err) {
  if (lo > hi || hi > o->n)
    return l1k_errf(err, L1K_EINTERNAL, "adamw: shard [%zu, %zu) outside %zu parameters", lo, hi, o->n);
  size_t k = hi - lo;
  float *m = l1k_calloc(k ? k : 1, sizeof(float), err), *v = l1k_calloc(k ? k : 1, sizeof(float), err);
  if (!m || !v) {
    free(m);
    free(v);
    return L1K_ENOMEM;
  }
  free(o->m);
  free(o->v);
  o->m = m;
  o->v = v;
  o->lo = lo;
  o->hi = hi;
  return 0;
}

void l1k_adamw_free(l1k_adamw *o) {
  free(o->m);
  free(o->v);
  free(o->segs);
  o->m = o->v = NULL;
  o->segs = NULL;
}

/* p, g: parameter i at p[i - off] (off 0: whole arrays; o->lo: shard-sized ones) */
static void update_range(l1k_adamw *o, float *p, const float *g, size_t off, size_t lo, size_t hi,
                         double lr, double wd, double step_size, double bc2_sqrt, size_t clo,
                         size_t chi) {
  if (lo < o->lo) lo = o->lo;
  if (hi > o->hi) hi = o->hi;
  if (lo < clo) lo = clo;
  if (hi > chi) hi = chi;
  if (lo >= hi) return;
  const double b1 = o->beta1, b2 = o->beta2, eps = o->eps, decay = 1.0 - lr * wd;
  float *m = o->m, *v = o->v; /* moments of the shard: parameter i at i - base */
  const long long base = (long long)o->lo, po = (long long)off;
  long long l = (long long)lo, h = (long long)hi;
#pragma omp parallel for schedule(static) if (h - l > 65536)
  for (long long i = l; i < h; i++) {
    double gi = g[i - po];
    long long j = i - base;
    double mi = b1 * m[j] + (1.0 - b1) * gi;
    double vi = b2 * v[j] + (1.0 - b2) * gi * gi;
    m[j] = (float)mi;
    v[j] = (float)vi;
    double pi = (double)p[i - po] * decay;
    pi -= step_size * (double)m[j] / (sqrt((double)v[j]) / bc2_sqrt + eps);
    p[i - po] = (float)pi;
  }
}

/* the update of parameters [clo, chi) at step o->step (already counted) */
static void adamw_walk(l1k_adamw *o, float *params, const float *grads, size_t off, double lr,
                       size_t clo, size_t chi) {
  double t = (double)o->step;
  double bc1 = 1.0 - pow(o->beta1, t), bc2 = 1.0 - pow(o->beta2, t);
  double step_size = lr / bc1, bc2_sqrt = sqrt(bc2);
  /* walk [0, n) in order: no_decay segments with wd 0, gaps with wd */
  size_t at = 0;
  /* segments may come in any order: sort indices by offset (small n) */
  size_t ns = o->n_segs;
  for (;;) {
    size_t best = (size_t)-1, best_off = o->n;
    for (size_t i = 0; i < ns; i++)
      if (o->segs[i].offset >= at && o->segs[i].offset < best_off && o->segs[i].numel) {
        best = i;
        best_off = o->segs[i].offset;
      }
    if (best_off > at)
      update_range(o, params, grads, off, at, best_off, lr, o->weight_decay, step_size, bc2_sqrt,
                   clo, chi);
    if (best == (size_t)-1) break;
    const l1k_param_seg *s = &o->segs[best];
    update_range(o, params, grads, off, s->offset, s->offset + s->numel, lr,
                 s->no_decay ? 0.0 : o->weight_decay, step_size, bc2_sqrt, clo, chi);
    at = s->offset + s->numel;
  }
}

void l1k_adamw_step(l1k_adamw *o, float *params, const float *grads, double lr) {
  o->step++;
  adamw_walk(o, params, grads, 0, lr, 0, o->n);
}

void l1k_adamw_step_shard(l1k_adamw *o, float *params, const float *grads, double lr) {
  o->step++;
  adamw_walk(o, params, grads, o->lo, lr, 0, o->n);
}

void l1k_adamw_begin(l1k_adamw *o) { o->step++; }

void l1k_adamw_update_shard(l1k_adamw *o, float *params, const float *grads, size_t a, size_t b,
                            double lr) {
  adamw_walk(o, params, grads, o->lo, lr, a, b);
}

#define NORM_CHUNKS 256

double l1k_l2norm(const float *x, size_t n) {
  double part[NORM_CHUNKS];
  size_t chunk = (n + NORM_CHUNKS - 1) / NORM_CHUNKS;
#pragma omp parallel for schedule(static) if (n > 65536)
  for (int c = 0; c < NORM_CHUNKS; c++) {
    size_t lo = (size_t)c * chunk, hi = lo + chunk;
    if (hi > n) hi = n;
    double s = 0;
    for (size_t i = lo; i < hi; i++) s += (double)x[i] * (double)x[i];
    part[c] = s;
  }
  double s = 0;
  for (int c = 0; c < NORM_CHUNKS; c++) s += part[c];
  return sqrt(s);
}

double l1k_clip_grad_norm(float *grads, size_t n, double max_norm) {
  double norm = l1k_l2norm(grads, n);
  if (max_norm <= 0 || !isfinite(norm)) return norm;
  double coef = max_norm / (norm + 1e-6);
  if (coef < 1.0) {
    long long nn = (long long)n;
#pragma omp parallel for schedule(static) if (nn > 65536)
    for (long long i = 0; i < nn; i++) grads[i] = (float)((double)grads[i] * coef);
  }
  return norm;
}
