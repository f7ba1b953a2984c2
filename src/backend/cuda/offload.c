/* long1k — optim_offload: see offload.h. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "backend/cuda/hostmaster.h"
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
  if (!o->borrowed) host_free(o, o->master);
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
  if (s->hm) { /* the host master holds every parameter already: the range is a view of it */
    o->borrowed = 1;
    o->master = s->hm->master + lo;
    o->pinned = 1;
    o->grads = host_alloc(o, k, err);
    if (!o->grads) o->pinned = 0, o->grads = host_alloc(o, k, err);
    if (!o->grads)
      return l1k_errf(err, L1K_ENOMEM, "optim_offload: out of host memory for %zu gradients", k);
    return 0;
  }
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

/* Values per piece of the pipeline (LONG1K_OFFLOAD_CHUNK for tests; default 2^22 = 16 MiB). */
static size_t piece_size(void) {
  const char *e = getenv("LONG1K_OFFLOAD_CHUNK");
  long long v = e && *e ? atoll(e) : 0;
  return v > 0 ? (size_t)v : (size_t)1 << 22;
}

/* The copy thread of the pipeline: piece c's gradients down, then (once the host has updated
 * it) piece c - 1's parameters up; the main thread runs AdamW on piece c meanwhile. */
typedef struct pipe_state {
  cu_state *s;
  size_t lo, k, piece, n;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  size_t down, done; /* pieces whose gradients are on the host / whose update is done */
  cudaError_t e;
  const char *what;
  int urc;      /* an upload's L1K_E* code (hostmaster.h), its line in uerr */
  l1k_err uerr;
} pipe_state;

static void pipe_fail(pipe_state *p, cudaError_t e, const char *what) {
  pthread_mutex_lock(&p->mu);
  if (p->e == cudaSuccess) p->e = e, p->what = what;
  pthread_cond_broadcast(&p->cv);
  pthread_mutex_unlock(&p->mu);
}

static int pipe_up(pipe_state *p, size_t c) { /* waits for piece c's update, then uploads it */
  pthread_mutex_lock(&p->mu);
  while (p->done <= c && p->e == cudaSuccess) pthread_cond_wait(&p->cv, &p->mu);
  int bad = p->e != cudaSuccess;
  pthread_mutex_unlock(&p->mu);
  if (bad) return -1;
  size_t a = c * p->piece, len = a + p->piece < p->k ? p->piece : p->k - a;
  /* float32 into the device parameters, or bf16 + the float32 tensors (hostmaster.h) */
  int rc = l1kcu_hm_upload(p->s, p->s->off->master + a, p->lo + a, len, &p->uerr);
  if (rc) {
    p->urc = rc;
    pipe_fail(p, cudaErrorInvalidValue, "optim_offload: parameters up"); /* stops the pipeline; urc is reported */
  }
  return rc ? -1 : 0;
}

static void *pipe_copier(void *arg) {
  pipe_state *p = arg;
  cudaError_t e = cudaSetDevice(p->s->opts.device_index); /* the device is per host thread */
  if (e != cudaSuccess) {
    pipe_fail(p, e, "optim_offload: cudaSetDevice in the copy thread");
    return NULL;
  }
  for (size_t c = 0; c < p->n; c++) {
    size_t a = c * p->piece, len = a + p->piece < p->k ? p->piece : p->k - a;
    e = cudaMemcpy(p->s->off->grads + a, p->s->tg + p->lo + a, len * sizeof(float),
                   cudaMemcpyDeviceToHost);
    if (e != cudaSuccess) {
      pipe_fail(p, e, "optim_offload: gradients down");
      return NULL;
    }
    pthread_mutex_lock(&p->mu);
    p->down = c + 1;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    if (c > 0 && pipe_up(p, c - 1)) return NULL;
  }
  pipe_up(p, p->n - 1);
  return NULL;
}

/* Pieces of the range: a copy thread moves gradients down and parameters up while this thread
 * updates (the same bits as one l1k_adamw_step_shard: the update is elementwise). With one
 * piece, or when the thread cannot start, everything in turn on this thread. */
int l1kcu_offload_step(cu_state *s, double lr, l1k_err *err) {
  cu_offload *o = s->off;
  size_t lo = o->opt.lo, k = o->opt.hi - o->opt.lo, piece = piece_size();
  pipe_state p = {s, lo, k, piece, (k + piece - 1) / piece, PTHREAD_MUTEX_INITIALIZER,
                  PTHREAD_COND_INITIALIZER, 0, 0, cudaSuccess, NULL, 0, {0}};
  pthread_t th;
  if (p.n > 1 && pthread_create(&th, NULL, pipe_copier, &p) == 0) {
    l1k_adamw_begin(&o->opt);
    for (size_t c = 0; c < p.n; c++) {
      pthread_mutex_lock(&p.mu);
      while (p.down <= c && p.e == cudaSuccess) pthread_cond_wait(&p.cv, &p.mu);
      int bad = p.e != cudaSuccess;
      pthread_mutex_unlock(&p.mu);
      if (bad) break;
      size_t a = lo + c * piece, b = a + piece < lo + k ? a + piece : lo + k;
      l1k_adamw_update_shard(&o->opt, o->master, o->grads, a, b, lr);
      pthread_mutex_lock(&p.mu);
      p.done = c + 1;
      pthread_cond_broadcast(&p.cv);
      pthread_mutex_unlock(&p.mu);
    }
    pthread_join(th, NULL);
    pthread_mutex_destroy(&p.mu);
    pthread_cond_destroy(&p.cv);
    if (p.urc) {
      if (err) *err = p.uerr;
      return p.urc;
    }
    return p.e == cudaSuccess ? 0 : l1kcu_check(p.e, p.what, err);
  }
  int rc = k ? l1kcu_check(cudaMemcpy(o->grads, s->tg + lo, k * sizeof(float),
                                      cudaMemcpyDeviceToHost), "optim_offload: gradients down", err)
             : 0;
  if (rc) return rc;
  l1k_adamw_step_shard(&o->opt, o->master, o->grads, lr);
  return l1kcu_hm_upload(s, o->master, lo, k, err);
}

void l1kcu_offload_params_set(cu_state *s, const float *src, size_t lo, size_t n) {
  cu_offload *o = s->off;
  if (!o || o->borrowed) return; /* borrowed: params_set wrote the host master itself */
  size_t a = lo > o->opt.lo ? lo : o->opt.lo, e = lo + n < o->opt.hi ? lo + n : o->opt.hi;
  if (a < e) memcpy(o->master + (a - o->opt.lo), src + (a - lo), (e - a) * sizeof(float));
}
