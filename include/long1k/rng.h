/* long1k — small deterministic generators and hash mixers shared by every module.
 * Header-only (static inline): a seed gives the same stream on every platform. */
#ifndef LONG1K_RNG_H
#define LONG1K_RNG_H

#include <stdint.h>

/* splitmix64's finalizer alone: a stateless 64-bit mix. */
static inline uint64_t l1k_mix64(uint64_t x) {
  x ^= x >> 30;
  x *= 0xBF58476D1CE4E5B9ULL;
  x ^= x >> 27;
  x *= 0x94D049BB133111EBULL;
  x ^= x >> 31;
  return x;
}

/* splitmix64: advances *state by the golden gamma and returns the mixed value. */
static inline uint64_t l1k_splitmix64(uint64_t *state) {
  return l1k_mix64(*state += 0x9E3779B97F4A7C15ULL);
}

/* MurmurHash3's 64-bit finalizer (fmix64). */
static inline uint64_t l1k_fmix64(uint64_t x) {
  x ^= x >> 33;
  x *= 0xFF51AFD7ED558CCDULL;
  x ^= x >> 33;
  x *= 0xC4CEB9FE1A85EC53ULL;
  x ^= x >> 33;
  return x;
}

#endif
