/* The tensor-core flash attention (src/backend/cuda/flash_bf16.h) against the float32
 * attention kernels (kernels.h, themselves checked against a float64 reference in
 * test_cuda_kernels.c) on the same inputs: random q, k, v, dO rounded to bf16, the float32
 * kernels given those rounded values. Ragged sizes (T not a multiple of the 64-row tiles, more
 * than one tile, one-token documents, 1-3 documents per row), GQA 7:1, 2:1 and 1:1, head_dim
 * 16, 32 (the golden models'), 64 and 128; outputs poisoned with NaN before each launch.
 * Bounds (||x - ref|| / ||ref||): lse 1e-5 (scores are exact products of bf16 values summed
 * in float32), O 5e-3 (P and O are rounded to bf16: ~2e-3 measured), dQ / dK / dV 1e-2 (P and
 * dS rounded to bf16: ~2e-3 measured; issue 13's bf16 bound for the model is 2e-2). The
 * forward in both block sizes (64 and 128 query rows: LONG1K_FLASH_FW_ROWS); the backward
 * twice: identical bits. Shapes the kernels do not take are refused.
 * Without the CUDA backend or a device: one "SKIP: ..." line, exit 77. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "long1k/backend.h"

#ifdef LONG1K_HAVE_CUDA
#include "backend/cuda/cuda_internal.h"
#include "backend/cuda/flash_bf16.h"

static uint64_t rng_state = 0x243F6A8885A308D3ull;
static double urand(void) { /* [0, 1) */
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 7;
  rng_state ^= rng_state << 17;
  return (double)(rng_state >> 11) / 9007199254740992.0;
}

/* bf16 bits of x, rounded to nearest even (x finite), and their float value */
static uint16_t bf16_bits(float x) {
  uint32_t u;
  memcpy(&u, &x, 4);
  u += 0x7fffu + ((u >> 16) & 1u);
  return (uint16_t)(u >> 16);
}
static float bf16_val(uint16_t b) {
  uint32_t u = (uint32_t)b << 16;
  float f;
  memcpy(&f, &u, 4);
  return f;
}

static void *xalloc(size_t bytes) {
  void *p = calloc(1, bytes ? bytes : 1);
  if (!p) exit(1);
  return p;
}

/* n random values in [-1, 1): their bf16 bits and the float32 of those bits */
static void rand_bf16(size_t n, uint16_t **bits, float **vals) {
  *bits = xalloc(n * sizeof **bits);
  *vals = xalloc(n * sizeof **vals);
  for (size_t i = 0; i < n; i++) {
    (*bits)[i] = bf16_bits((float)(2 * urand() - 1));
    (*vals)[i] = bf16_val((*bits)[i]);
  }
}

#define CK(call)                                                                            \
  do {                                                                                      \
    cudaError_t e_ = (call);                                                                \
    if (e_ != cudaSuccess) {                                                                \
      fprintf(stderr, "%s:%d: %s: %s\n", __FILE__, __LINE__, #call, cudaGetErrorString(e_)); \
      exit(1);                                                                              \
    }                                                                                       \
  } while (0)
#define LAUNCH(call)                                                                        \
  do {                                                                                      \
    int e_ = (call);                                                                        \
    if (!e_) e_ = (int)cudaDeviceSynchronize();                                             \
    CHECK_MSG(e_ == 0, "%s: %s", #call, l1kcu_error_string(e_));                           \
  } while (0)

static void *dev_copy(const void *h, size_t bytes) {
  void *d = NULL;
  CK(cudaMalloc(&d, bytes ? bytes : 16));
  if (bytes) CK(cudaMemcpy(d, h, bytes, cudaMemcpyHostToDevice));
  return d;
}
static void *dev_nan(size_t bytes) { /* all bits set: NaN as float and as bf16 */
  void *d = NULL;
  CK(cudaMalloc(&d, bytes ? bytes : 16));
  CK(cudaMemset(d, 0xFF, bytes ? bytes : 16));
  return d;
}
static float *host_f(const float *d, size_t n) {
  float *h = xalloc(n * sizeof *h);
  CK(cudaMemcpy(h, d, n * sizeof *h, cudaMemcpyDeviceToHost));
  return h;
}
static float *host_bf16(const uint16_t *d, size_t n) {
  uint16_t *b = xalloc(n * sizeof *b);
  float *h = xalloc(n * sizeof *h);
  CK(cudaMemcpy(b, d, n * sizeof *b, cudaMemcpyDeviceToHost));
  for (size_t i = 0; i < n; i++) h[i] = bf16_val(b[i]);
  free(b);
  return h;
}
static double rel_err(const float *a, const float *ref, size_t n) {
  double d = 0, r = 0;
  for (size_t i = 0; i < n; i++) {
    double x = (double)a[i] - ref[i];
    d += x * x;
    r += (double)ref[i] * ref[i];
  }
  if (!(d == d)) return INFINITY; /* NaN: a poisoned output not written */
  return r == 0 ? sqrt(d) : sqrt(d / r);
}

typedef struct fa_case {
  int B, T, H, KVH, hd;
  int docs[2][4]; /* document lengths per row (0-terminated; sum = T) */
} fa_case;

static void fa_segs(const fa_case *c, int32_t *seg, int32_t *seg_end) {
  for (int b = 0; b < c->B; b++) {
    int t = 0;
    for (int k = 0; k < 4 && c->docs[b][k]; k++) {
      int len = c->docs[b][k];
      for (int i = 0; i < len; i++) {
        seg[(size_t)b * c->T + t + i] = t;
        seg_end[(size_t)b * c->T + t + i] = t + len;
      }
      t += len;
    }
    if (t != c->T) {
      fprintf(stderr, "test case: documents of row %d sum to %d, not T = %d\n", b, t, c->T);
      exit(1);
    }
  }
}

/* device inputs of one case: float32 (for the reference kernels) and bf16 (for flash) */
typedef struct fa_dev {
  float *q, *k, *v, *dout;
  uint16_t *qb, *kb, *vb, *dob;
  int32_t *seg, *se;
} fa_dev;

static void fa_dev_make(const fa_case *c, fa_dev *d) {
  size_t N = (size_t)c->B * c->T, QD = (size_t)c->H * c->hd, KD = (size_t)c->KVH * c->hd;
  size_t n[4] = {N * QD, N * KD, N * KD, N * QD};
  float **f[4] = {&d->q, &d->k, &d->v, &d->dout};
  uint16_t **b[4] = {&d->qb, &d->kb, &d->vb, &d->dob};
  for (int i = 0; i < 4; i++) {
    uint16_t *hb;
    float *hf;
    rand_bf16(n[i], &hb, &hf);
    *f[i] = dev_copy(hf, n[i] * sizeof(float));
    *b[i] = dev_copy(hb, n[i] * sizeof(uint16_t));
    free(hb), free(hf);
  }
  int32_t *seg = xalloc(N * sizeof *seg), *se = xalloc(N * sizeof *se);
  fa_segs(c, seg, se);
  d->seg = dev_copy(seg, N * sizeof *seg);
  d->se = dev_copy(se, N * sizeof *se);
  free(seg), free(se);
}

static void fa_dev_free(fa_dev *d) {
  void *p[] = {d->q, d->k, d->v, d->dout, d->qb, d->kb, d->vb, d->dob, d->seg, d->se};
  for (size_t i = 0; i < sizeof p / sizeof p[0]; i++) cudaFree(p[i]);
}

#define BOUND(name, what, e, tol) \
  CHECK_MSG((e) < (tol), "%s: %s relative error %.3g (bound %g)", (name), (what), (double)(e), (tol))

static void flash_case(const fa_case *c) {
  size_t N = (size_t)c->B * c->T, QD = (size_t)c->H * c->hd, KD = (size_t)c->KVH * c->hd;
  size_t NH = N * c->H;
  int B = c->B, T = c->T, H = c->H, KVH = c->KVH, hd = c->hd;
  char name[96];
  snprintf(name, sizeof name, "flash_bf16 B=%d T=%d H=%d KVH=%d hd=%d", B, T, H, KVH, hd);
  fa_dev d;
  fa_dev_make(c, &d);
  /* the float32 kernels: the reference */
  float *ro = dev_nan(N * QD * 4), *rl = dev_nan(NH * 4), *rs = dev_nan(NH * 4);
  float *rq = dev_nan(N * QD * 4), *rk = dev_nan(N * KD * 4), *rv = dev_nan(N * KD * 4);
  LAUNCH(l1kcu_attention_fw(ro, rl, d.q, d.k, d.v, d.seg, B, T, H, KVH, hd));
  LAUNCH(l1kcu_attention_bw(rq, rk, rv, rs, d.dout, ro, rl, d.q, d.k, d.v, d.seg, d.se, B, T, H,
                            KVH, hd));
  /* flash */
  uint16_t *fo = dev_nan(N * QD * 2);
  float *fl = dev_nan(NH * 4), *fs = dev_nan(NH * 4);
  float *fq = dev_nan(N * QD * 4), *fk = dev_nan(N * KD * 4), *fv = dev_nan(N * KD * 4);
  /* the forward in both block sizes (LONG1K_FLASH_FW_ROWS), the backward after the second */
  static const char *rows[] = {"64", "128"};
  for (int r = 0; r < 2; r++) {
    setenv("LONG1K_FLASH_FW_ROWS", rows[r], 1);
    CK(cudaMemset(fo, 0xFF, N * QD * 2));
    CK(cudaMemset(fl, 0xFF, NH * 4));
    LAUNCH(l1kcu_flash_bf16_fw(fo, fl, d.qb, d.kb, d.vb, d.seg, B, T, H, KVH, hd));
    float *h_o = host_bf16(fo, N * QD), *h_l = host_f(fl, NH), *h_ro = host_f(ro, N * QD);
    float *h_rl = host_f(rl, NH);
    double eo = rel_err(h_o, h_ro, N * QD), el = rel_err(h_l, h_rl, NH);
    fprintf(stderr, "%s forward, %s-row blocks: o %.2e lse %.2e\n", name, rows[r], eo, el);
    BOUND(name, "o", eo, 5e-3);
    BOUND(name, "lse", el, 1e-5);
    free(h_o), free(h_l), free(h_ro), free(h_rl);
  }
  unsetenv("LONG1K_FLASH_FW_ROWS");
  LAUNCH(l1kcu_flash_bf16_bw(fq, fk, fv, fs, d.dob, fo, fl, d.qb, d.kb, d.vb, d.seg, d.se, B, T, H,
                             KVH, hd));
  float *h_rq = host_f(rq, N * QD), *h_rk = host_f(rk, N * KD), *h_rv = host_f(rv, N * KD);
  float *h_fq = host_f(fq, N * QD), *h_fk = host_f(fk, N * KD), *h_fv = host_f(fv, N * KD);
  double eq = rel_err(h_fq, h_rq, N * QD), ek = rel_err(h_fk, h_rk, N * KD);
  double ev = rel_err(h_fv, h_rv, N * KD);
  fprintf(stderr, "%s backward: dq %.2e dk %.2e dv %.2e\n", name, eq, ek, ev);
  BOUND(name, "dq", eq, 1e-2);
  BOUND(name, "dk", ek, 1e-2);
  BOUND(name, "dv", ev, 1e-2);
  /* deterministic: the same bits on a second backward (outputs poisoned again) */
  CK(cudaMemset(fq, 0xFF, N * QD * 4));
  CK(cudaMemset(fk, 0xFF, N * KD * 4));
  CK(cudaMemset(fv, 0xFF, N * KD * 4));
  LAUNCH(l1kcu_flash_bf16_bw(fq, fk, fv, fs, d.dob, fo, fl, d.qb, d.kb, d.vb, d.seg, d.se, B, T, H,
                             KVH, hd));
  float *h_fq2 = host_f(fq, N * QD), *h_fk2 = host_f(fk, N * KD), *h_fv2 = host_f(fv, N * KD);
  CHECK_MSG(!memcmp(h_fq, h_fq2, N * QD * 4) && !memcmp(h_fk, h_fk2, N * KD * 4) &&
                !memcmp(h_fv, h_fv2, N * KD * 4),
            "%s: the backward's second run gave different bits", name);
  void *dev[] = {ro, rl, rs, rq, rk, rv, fo, fl, fs, fq, fk, fv};
  for (size_t i = 0; i < sizeof dev / sizeof dev[0]; i++) cudaFree(dev[i]);
  float *host[] = {h_rq, h_rk, h_rv, h_fq, h_fk, h_fv, h_fq2, h_fk2, h_fv2};
  for (size_t i = 0; i < sizeof host / sizeof host[0]; i++) free(host[i]);
  fa_dev_free(&d);
}

/* head_dim 48, H % KVH != 0 and a misaligned pointer are refused, nothing launched */
static void flash_refusals(void) {
  const fa_case c = {1, 8, 2, 1, 64, {{8, 0}}};
  fa_dev d;
  fa_dev_make(&c, &d);
  uint16_t *o = dev_nan(8 * 2 * 64 * 2);
  float *l = dev_nan(8 * 2 * 4);
  CHECK(l1kcu_flash_bf16_fw(o, l, d.qb, d.kb, d.vb, d.seg, 1, 8, 2, 1, 48) != 0);
  CHECK(l1kcu_flash_bf16_fw(o, l, d.qb, d.kb, d.vb, d.seg, 1, 8, 3, 2, 64) != 0);
  CHECK(l1kcu_flash_bf16_fw(o, l, d.qb + 1, d.kb, d.vb, d.seg, 1, 8, 2, 1, 64) != 0);
  CHECK(l1kcu_flash_bf16_bw(NULL, NULL, NULL, NULL, d.dob, o, l, d.qb, d.kb, d.vb, d.seg, d.se, 1,
                            8, 2, 1, 96) != 0);
  cudaGetLastError();
  cudaFree(o), cudaFree(l);
  fa_dev_free(&d);
}

static void flash_checks(void) {
  static const fa_case cases[] = {
      {2, 37, 7, 1, 64, {{37, 0}, {1, 20, 16, 0}}},   /* GQA 7:1, one-token document */
      {1, 70, 4, 4, 128, {{33, 37, 0}}},               /* 1:1, head_dim 128, two query tiles */
      {2, 45, 14, 2, 128, {{1, 1, 43, 0}, {45, 0}}},   /* 7:1, two one-token documents */
      {1, 150, 4, 2, 64, {{150, 0}}},                  /* unmasked tiles (off the diagonal) */
      {1, 140, 2, 1, 128, {{70, 1, 69, 0}}},           /* 3 documents across tiles */
      {2, 24, 4, 2, 16, {{8, 16, 0}, {5, 19, 0}}},     /* the golden models' head_dim 16 */
      {1, 67, 4, 2, 32, {{66, 1, 0}}},                 /* qwen3_tiny's head_dim 32 */
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) flash_case(&cases[i]);
  flash_refusals();
}
#endif

int main(void) {
#ifndef LONG1K_HAVE_CUDA
  SKIP("long1k was built without the CUDA backend (no nvcc at build time)");
#else
  char why[256];
  if (!l1k_backend_cuda_ops.available(why, sizeof why)) SKIP("%s", why);
  flash_checks();
#endif
  CHECK_DONE();
}
