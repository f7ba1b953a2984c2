/* long1k — generation internals shared by src/model/generate*.c (not a public header). */
#ifndef LONG1K_GENERATE_INTERNAL_H
#define LONG1K_GENERATE_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "long1k/error.h"
#include "long1k/generate.h"

/* Work pool (generate_pool.c): l1k_gen_pool_run calls fn(ctx, c, thread) for c in [0, n) on the
 * caller and the pool's helper threads; it returns when all n calls are done. The caller never
 * waits for a helper that has not started (late helpers find no work). */
typedef struct l1k_gen_pool l1k_gen_pool;
typedef void (*l1k_gen_pool_fn)(void *ctx, int chunk, int thread); /* thread: 0 = caller */
l1k_gen_pool *l1k_gen_pool_create(int nthreads); /* nthreads includes the caller */
void l1k_gen_pool_free(l1k_gen_pool *p);
int l1k_gen_pool_threads(const l1k_gen_pool *p);
void l1k_gen_pool_run(l1k_gen_pool *p, l1k_gen_pool_fn fn, void *ctx, int n);

/* The kernels below take the instruction set from l1k_cpu_isa() (long1k/backend.h): 2 =
 * AVX-512, 1 = AVX2 + FMA, 0 = portable C. Each also falls back when a size does not fit the
 * vector width. */

/* dst = src as bfloat16 when every value is exactly a bf16 (low 16 bits zero): returns 1;
 * otherwise 0 (dst partly written). */
int l1k_gen_to_bf16_exact(const float *src, uint16_t *dst, size_t n);

/* y[n, od] = x[n, id] W[od, id]^T (+ bias) (+ y when accumulate), W bfloat16, float32 math.
 * Output rows are split into chunks of the pool. */
void l1k_gen_linear_bf16(int isa, l1k_gen_pool *pool, float *y, const float *x, const uint16_t *W, const float *bias, int n, int od, int id,
                         int accumulate);

/* bf16 weights in panel layout (generate_panels.c, AVX-512 only): l1k_gen_panels_size
 * elements hold W[od, id] (id even); l1k_gen_to_bf16_panels writes them, returning 0 when a
 * value is not exactly a bf16 or id is odd. l1k_gen_linear_panels computes what
 * l1k_gen_linear_bf16 does, each output summed in order k = 0..id-1. */
size_t l1k_gen_panels_size(int od, int id);
int l1k_gen_to_bf16_panels(const float *src, uint16_t *dst, int od, int id);
void l1k_gen_linear_panels(l1k_gen_pool *pool, float *y, const float *x, const uint16_t *P, const float *bias, int n,
                           int od, int id, int accumulate);

/* The same with float32 weights (decode steps of float32 checkpoints). */
void l1k_gen_linear_f32(int isa, l1k_gen_pool *pool, float *y, const float *x, const float *W, const float *bias, int n, int od, int id,
                        int accumulate);

/* Attention of grp query heads q[grp][hd] sharing one KV head over npos cached positions
 * K, V [npos][hd]: out[grp][hd] = softmax(q K^T * scale) V. sc: [grp][npos] scratch. */
void l1k_gen_attend(int isa, const float *q, const float *K, const float *V, int npos, int hd, int grp, float scale, float *sc,
                    float *out);

/* Continuous batching's admission (generate.c; l1k_generate): slot takes a sequence that will
 * hold up to n_tokens positions. 0: admitted (on a device, its KV blocks are reserved now);
 * 1: the device's KV pool cannot hold it now (wait for a running sequence to finish); else an
 * L1K_E* code. Always 0 on the CPU engine (its cache has max_ctx positions per slot). */
int l1k_gen_slot_admit(l1k_generator *g, int slot, int n_tokens, l1k_err *err);
/* l1k_gen_step for greedy rows on a device backend that offers decode_greedy (src/backend/ops.h):
 * next[n] receive each row's argmax, computed on the device (l1k_argmax's ties and NaNs); the
 * logits stay there (l1k_gen_slot_logits gives NULL for these slots until they are fed or
 * stepped again). L1K_EUNSUPPORTED, nothing done, elsewhere. */
int l1k_gen_step_greedy(l1k_generator *g, const int *slots, const int32_t *ids, int n, int32_t *next,
                        l1k_err *err);
/* 1 when the generator runs on a device backend's decode entries. */
int l1k_gen_is_device(const l1k_generator *g);
/* Prefill of count empty slots at once (slots[i] takes prompts[i]); each slot's logits then
 * hold its last prompt position's. On a device one pass for as many prompts as fit. */
int l1k_gen_feed_many(l1k_generator *g, const int *slots, const l1k_gen_prompt *prompts, int count,
                      l1k_err *err);

#endif
