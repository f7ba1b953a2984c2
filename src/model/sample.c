/* long1k — sampling: random streams, argmax, temperature / top-k / top-p / min-p.
 *
 * Each prompt gets its own stream (xoshiro256** seeded through splitmix64 from the user seed
 * and the prompt index), so a completion does not depend on what else is in the batch.
 *
 * Top-p over a 150k vocabulary without sorting all of it: the tokens with probability >= thr
 * are collected and sorted; when their mass reaches top_p the nucleus lies inside them (every
 * token left out is less likely than every token kept), otherwise thr is lowered and the
 * collection repeated (down to thr = 0, the full sort).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <immintrin.h>

#include "long1k/backend.h"
#include "long1k/generate.h"
#include "long1k/rng.h"

void l1k_rng_seed(l1k_rng *r, uint64_t seed, uint64_t stream) {
  uint64_t x = seed;
  uint64_t a = l1k_splitmix64(&x);
  x = a ^ (stream * 0xD1342543DE82EF95ULL + 0x2545F4914F6CDD1DULL);
  for (int i = 0; i < 4; i++) r->s[i] = l1k_splitmix64(&x);
  if (!(r->s[0] | r->s[1] | r->s[2] | r->s[3])) r->s[0] = 1;
}

static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t l1k_rng_next(l1k_rng *r) {
  uint64_t *s = r->s;
  uint64_t out = rotl(s[1] * 5, 7) * 9;
  uint64_t t = s[1] << 17;
  s[2] ^= s[0];
  s[3] ^= s[1];
  s[1] ^= s[2];
  s[0] ^= s[3];
  s[2] ^= t;
  s[3] = rotl(s[3], 45);
  return out;
}

double l1k_rng_uniform(l1k_rng *r) { return (double)(l1k_rng_next(r) >> 11) * 0x1.0p-53; }

/* The first index of the maximum, 16 lanes at a time: one pass for the maximum (and whether
 * any value is NaN), one for its first position. Returns -1 when a NaN is present (the scalar
 * loop below defines what happens then). */
__attribute__((target("avx512f"))) static int argmax_avx512(const float *x, int n) {
  __m512 mx = _mm512_set1_ps(-INFINITY);
  __mmask16 nan = 0;
  int i = 0;
  for (; i + 16 <= n; i += 16) {
    __m512 v = _mm512_loadu_ps(x + i);
    nan |= _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q);
    mx = _mm512_max_ps(mx, v);
  }
  float m = _mm512_reduce_max_ps(mx);
  for (int j = i; j < n; j++) {
    if (isnan(x[j])) return -1;
    if (x[j] > m) m = x[j];
  }
  if (nan) return -1;
  __m512 mv = _mm512_set1_ps(m);
  for (i = 0; i + 16 <= n; i += 16) {
    __mmask16 eq = _mm512_cmp_ps_mask(_mm512_loadu_ps(x + i), mv, _CMP_EQ_OQ);
    if (eq) return i + __builtin_ctz((unsigned)eq);
  }
  for (; i < n; i++)
    if (x[i] == m) return i;
  return 0; /* all -inf */
}

int32_t l1k_argmax(const float *x, int n) {
  if (n >= 16 && l1k_cpu_isa() >= 2) {
    int r = argmax_avx512(x, n);
    if (r >= 0) return r;
  }
  int best = 0;
  float bv = x[0];
  for (int i = 1; i < n; i++)
    if (x[i] > bv || (isnan(bv) && !isnan(x[i]))) {
      bv = x[i];
      best = i;
    }
  return best;
}

void l1k_sampler_free(l1k_sampler *s) {
  free(s->idx);
  free(s->prob);
  free(s->pairs);
  s->pairs = NULL;
  s->idx = NULL;
  s->prob = NULL;
  s->cap = 0;
}

/* sort (idx, prob) pairs by prob descending, ties by lower id first */
typedef struct {
  float p;
  int32_t i;
} pair;

static int grow(l1k_sampler *s, size_t n) {
  if (s->cap >= n) return 0;
  int32_t *i = realloc(s->idx, n * sizeof *i);
  if (!i) return -1;
  s->idx = i;
  float *p = realloc(s->prob, n * sizeof *p);
  if (!p) return -1;
  s->prob = p;
  void *q = realloc(s->pairs, n * sizeof(pair));
  if (!q) return -1;
  s->pairs = q;
  s->cap = n;
  return 0;
}

static int cmp_pair(const void *a, const void *b) {
  const pair *x = a, *y = b;
  if (x->p > y->p) return -1;
  if (x->p < y->p) return 1;
  return (x->i > y->i) - (x->i < y->i);
}

/* min-heap on logits for top-k selection */
static void heap_down(float *v, int32_t *id, int n, int i) {
  for (;;) {
    int l = 2 * i + 1, r = l + 1, m = i;
    if (l < n && (v[l] < v[m] || (v[l] == v[m] && id[l] > id[m]))) m = l;
    if (r < n && (v[r] < v[m] || (v[r] == v[m] && id[r] > id[m]))) m = r;
    if (m == i) return;
    float tv = v[i];
    v[i] = v[m];
    v[m] = tv;
    int32_t ti = id[i];
    id[i] = id[m];
    id[m] = ti;
    i = m;
  }
}

int32_t l1k_sample(l1k_sampler *s, const float *logits, int V, l1k_rng *rng) {
  if (s->temperature <= 0.0f || s->top_k == 1) return l1k_argmax(logits, V);
  const double invT = 1.0 / s->temperature;
  int n;
  if (s->top_k > 0 && s->top_k < V) {
    int k = s->top_k;
    if (grow(s, (size_t)k)) return -1;
    /* keep the k largest logits in a min-heap (ties: lower id wins, as a stable sort would) */
    for (int i = 0; i < k; i++) {
      s->prob[i] = logits[i];
      s->idx[i] = i;
    }
    for (int i = k / 2 - 1; i >= 0; i--) heap_down(s->prob, s->idx, k, i);
    for (int i = k; i < V; i++)
      if (logits[i] > s->prob[0]) {
        s->prob[0] = logits[i];
        s->idx[0] = i;
        heap_down(s->prob, s->idx, k, 0);
      }
    n = k;
    /* logits -> probabilities */
    float mx = -INFINITY;
    for (int i = 0; i < n; i++)
      if (s->prob[i] > mx) mx = s->prob[i];
    double sum = 0;
    for (int i = 0; i < n; i++) {
      double e = exp(((double)s->prob[i] - mx) * invT);
      s->prob[i] = (float)e;
      sum += e;
    }
    for (int i = 0; i < n; i++) s->prob[i] = (float)(s->prob[i] / sum);
  } else {
    if (grow(s, (size_t)V)) return -1;
    float mx = -INFINITY;
    for (int i = 0; i < V; i++)
      if (logits[i] > mx) mx = logits[i];
    double sum = 0;
    for (int i = 0; i < V; i++) {
      double e = exp(((double)logits[i] - mx) * invT);
      s->prob[i] = (float)e;
      s->idx[i] = i;
      sum += e;
    }
    for (int i = 0; i < V; i++) s->prob[i] = (float)(s->prob[i] / sum);
    n = V;
  }

  /* top-p: keep the most likely tokens until their mass reaches top_p */
  if (s->top_p > 0.0f && s->top_p < 1.0f) {
    pair *pp = s->pairs;
    int kept = n;
    for (double thr = 1e-3;; thr *= 1e-3) {
      if (thr < 1e-30) thr = 0.0;
      int m = 0;
      double mass = 0;
      for (int i = 0; i < n; i++)
        if (s->prob[i] >= thr) {
          pp[m].p = s->prob[i];
          pp[m].i = s->idx[i];
          m++;
          mass += s->prob[i];
        }
      if (mass < s->top_p && thr > 0.0) continue;
      qsort(pp, (size_t)m, sizeof *pp, cmp_pair);
      double c = 0;
      kept = m;
      for (int i = 0; i < m; i++) {
        c += pp[i].p;
        if (c >= s->top_p) {
          kept = i + 1;
          break;
        }
      }
      break;
    }
    for (int i = 0; i < kept; i++) {
      s->prob[i] = pp[i].p;
      s->idx[i] = pp[i].i;
    }
    n = kept;
  }

  /* min-p: keep tokens with p >= min_p * max p */
  if (s->min_p > 0.0f) {
    float pm = 0;
    for (int i = 0; i < n; i++)
      if (s->prob[i] > pm) pm = s->prob[i];
    float thr = s->min_p * pm;
    int m = 0;
    for (int i = 0; i < n; i++)
      if (s->prob[i] >= thr) {
        s->prob[m] = s->prob[i];
        s->idx[m] = s->idx[i];
        m++;
      }
    n = m;
  }

  double total = 0;
  for (int i = 0; i < n; i++) total += s->prob[i];
  double u = l1k_rng_uniform(rng) * total;
  double c = 0;
  for (int i = 0; i < n; i++) {
    c += s->prob[i];
    if (u < c) return s->idx[i];
  }
  /* rounding: the last token with non-zero probability */
  for (int i = n - 1; i >= 0; i--)
    if (s->prob[i] > 0) return s->idx[i];
  return s->idx[0];
}
