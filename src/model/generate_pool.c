/* long1k — a small work pool for the decode kernels.
 *
 * Why not an OpenMP parallel-for: a decode step runs ~7 parallel loops per layer, each ending in
 * a barrier that waits for every thread. On a machine shared with other busy processes a helper
 * thread is often not running when a loop starts, and every barrier then waits for the
 * scheduler to give it a slice: decoding got 10x slower than with one thread. Here the caller
 * never waits for a helper that has not started: work is cut into chunks that threads claim
 * from a counter; the caller claims too, and at the end waits only for chunks already claimed.
 * A helper that is late simply finds no work left.
 *
 * Protocol: a job (fn, ctx, n) is published under the mutex with a new generation number;
 * helpers join it under the mutex (active++), claim chunks with an atomic counter, and leave
 * (active--). The caller publishes the next job only when no helper is still inside the
 * previous one, so a chunk is always run with its own job's fn and ctx.
 */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "model/generate_internal.h"

static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

typedef struct helper_arg {
  struct l1k_gen_pool *p;
  int self;
} helper_arg;

struct l1k_gen_pool {
  int nthreads; /* including the caller */
  pthread_t *th;
  struct helper_arg *args;
  pthread_mutex_t mu;
  pthread_cond_t wake, idle;
  /* job, written under mu while active == 0 */
  l1k_gen_pool_fn fn;
  void *ctx;
  int n;
  unsigned gen;
  int active, stop;
  atomic_int next, done;
  atomic_uint gen_seen; /* gen, readable without the mutex (helpers spin on it briefly) */
};

static void run_chunks(l1k_gen_pool *p, l1k_gen_pool_fn fn, void *ctx, int n, int self) {
  for (;;) {
    int c = atomic_fetch_add(&p->next, 1);
    if (c >= n) return;
    fn(ctx, c, self);
    atomic_fetch_add(&p->done, 1);
  }
}

static void *helper(void *arg) {
  l1k_gen_pool *p = ((helper_arg *)arg)->p;
  int self = ((helper_arg *)arg)->self;
  unsigned seen = 0;
  for (;;) {
    /* a short spin (~tens of microseconds) for back-to-back jobs, then sleep */
    for (int i = 0; i < 4000 && atomic_load(&p->gen_seen) == seen; i++) cpu_relax();
    pthread_mutex_lock(&p->mu);
    while (p->gen == seen && !p->stop) pthread_cond_wait(&p->wake, &p->mu);
    if (p->stop) {
      pthread_mutex_unlock(&p->mu);
      return NULL;
    }
    seen = p->gen;
    l1k_gen_pool_fn fn = p->fn;
    void *ctx = p->ctx;
    int n = p->n;
    p->active++;
    pthread_mutex_unlock(&p->mu);
    run_chunks(p, fn, ctx, n, self);
    pthread_mutex_lock(&p->mu);
    if (--p->active == 0) pthread_cond_signal(&p->idle);
    pthread_mutex_unlock(&p->mu);
  }
}

l1k_gen_pool *l1k_gen_pool_create(int nthreads) {
  if (nthreads < 1) nthreads = 1;
  l1k_gen_pool *p = calloc(1, sizeof *p);
  if (!p) return NULL;
  p->nthreads = 1; /* grows with each helper that starts */
  pthread_mutex_init(&p->mu, NULL);
  pthread_cond_init(&p->wake, NULL);
  pthread_cond_init(&p->idle, NULL);
  atomic_init(&p->next, 0);
  atomic_init(&p->done, 0);
  atomic_init(&p->gen_seen, 0);
  if (nthreads > 1) {
    p->th = calloc((size_t)nthreads - 1, sizeof *p->th);
    p->args = calloc((size_t)nthreads - 1, sizeof *p->args);
    if (!p->th || !p->args) {
      l1k_gen_pool_free(p);
      return NULL;
    }
    for (int i = 0; i < nthreads - 1; i++) {
      p->args[i].p = p;
      p->args[i].self = i + 1;
      if (pthread_create(&p->th[i], NULL, helper, &p->args[i]) != 0) break;
      p->nthreads++;
    }
  }
  return p;
}

void l1k_gen_pool_free(l1k_gen_pool *p) {
  if (!p) return;
  pthread_mutex_lock(&p->mu);
  p->stop = 1;
  pthread_cond_broadcast(&p->wake);
  pthread_mutex_unlock(&p->mu);
  if (p->th)
    for (int i = 0; i < p->nthreads - 1; i++) pthread_join(p->th[i], NULL);
  free(p->th);
  free(p->args);
  pthread_mutex_destroy(&p->mu);
  pthread_cond_destroy(&p->wake);
  pthread_cond_destroy(&p->idle);
  free(p);
}

int l1k_gen_pool_threads(const l1k_gen_pool *p) { return p ? p->nthreads : 1; }

void l1k_gen_pool_run(l1k_gen_pool *p, l1k_gen_pool_fn fn, void *ctx, int n) {
  if (n <= 0) return;
  if (!p || p->nthreads == 1 || n == 1) {
    for (int c = 0; c < n; c++) fn(ctx, c, 0);
    return;
  }
  pthread_mutex_lock(&p->mu);
  while (p->active > 0) pthread_cond_wait(&p->idle, &p->mu); /* helpers leaving the last job */
  p->fn = fn;
  p->ctx = ctx;
  p->n = n;
  atomic_store(&p->next, 0);
  atomic_store(&p->done, 0);
  p->gen++;
  atomic_store(&p->gen_seen, p->gen);
  pthread_cond_broadcast(&p->wake);
  pthread_mutex_unlock(&p->mu);
  run_chunks(p, fn, ctx, n, 0);
  /* only chunks a helper claimed can still be running: spin a little, then let it run */
  for (int i = 0; atomic_load(&p->done) < n; i++)
    if (i < 4000)
      cpu_relax();
    else
      sched_yield();
}
