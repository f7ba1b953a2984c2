/* long1k analysis — a small seeded generator (splitmix64 seeding + xoshiro256**), so that a
 * bootstrap with the same seed gives the same intervals on every machine. Private to
 * src/analysis. */
#ifndef LONG1K_ANALYSIS_XOSHIRO_H
#define LONG1K_ANALYSIS_XOSHIRO_H

#include <math.h>
#include <stdint.h>

#include "long1k/rng.h"

typedef struct l1k_xoshiro {
  uint64_t s[4];
} l1k_xoshiro;

static inline void l1k_xoshiro_seed(l1k_xoshiro *g, uint64_t seed) {
  for (int i = 0; i < 4; i++) g->s[i] = l1k_splitmix64(&seed);
}

static inline uint64_t l1k_xoshiro_rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

static inline uint64_t l1k_xoshiro_next(l1k_xoshiro *g) {
  uint64_t *s = g->s;
  uint64_t r = l1k_xoshiro_rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
  s[2] ^= s[0];
  s[3] ^= s[1];
  s[1] ^= s[2];
  s[0] ^= s[3];
  s[2] ^= t;
  s[3] = l1k_xoshiro_rotl(s[3], 45);
  return r;
}

/* Uniform in [0, 1) with 53 random bits. */
static inline double l1k_xoshiro_uniform(l1k_xoshiro *g) { return (double)(l1k_xoshiro_next(g) >> 11) * 0x1.0p-53; }

/* Uniform integer in [0, n) without modulo bias (n >= 1). */
static inline uint64_t l1k_xoshiro_below(l1k_xoshiro *g, uint64_t n) {
  uint64_t lim = -n % n; /* 2^64 mod n */
  for (;;) {
    uint64_t v = l1k_xoshiro_next(g);
    if (v >= lim) return v % n;
  }
}

/* Standard normal (Box-Muller). */
static inline double l1k_xoshiro_normal(l1k_xoshiro *g) {
  double u = 1.0 - l1k_xoshiro_uniform(g), v = l1k_xoshiro_uniform(g);
  return sqrt(-2.0 * log(u)) * cos(6.283185307179586 * v);
}

#endif
