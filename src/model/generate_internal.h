/* long1k — generation internals shared by src/model/generate*.c (not a public header). */
#ifndef LONG1K_GENERATE_INTERNAL_H
#define LONG1K_GENERATE_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

/* dst = src as bfloat16 when every value is exactly a bf16 (low 16 bits zero): returns 1;
 * otherwise 0 (dst partly written). */
int l1k_gen_to_bf16_exact(const float *src, uint16_t *dst, size_t n);

/* y[n, od] = x[n, id] W[od, id]^T (+ bias) (+ y when accumulate), W bfloat16, float32 math.
 * OpenMP over output rows. */
void l1k_gen_linear_bf16(float *y, const float *x, const uint16_t *W, const float *bias, int n, int od, int id,
                         int accumulate);

/* The same with float32 weights (decode steps of float32 checkpoints). */
void l1k_gen_linear_f32(float *y, const float *x, const float *W, const float *bias, int n, int od, int id,
                        int accumulate);

#endif
