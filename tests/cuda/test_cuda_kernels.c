/* CUDA kernels (src/backend/cuda/kernels.h) against the CPU functions of the same op
 * (include/long1k/backend.h) and, for attention and cross-entropy, against float64 references
 * written here. Fresh random inputs, ragged sizes (T not a multiple of the tiles, one-token
 * documents, 1-3 documents per row, GQA 7:1 and 1:1, head_dim 16, 64 and 128), outputs
 * poisoned with NaN before each launch, ||out - ref|| / ||ref|| < 1e-5.
 *
 * The float64 references are checked first, on every machine: attention of a packed row
 * equals attention of each document alone, and the attention and cross-entropy backward
 * references match central finite differences of their forward. Without the CUDA backend
 * or a device the test then prints one "SKIP: ..." line and exits 77. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "long1k/backend.h"

#ifdef LONG1K_HAVE_CUDA
#include "backend/cuda/cuda_internal.h"
#endif

#define TOL 1e-5

/* ---------------------------------------------------------------- helpers */

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static double urand(void) { /* [0, 1) */
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 7;
  rng_state ^= rng_state << 17;
  return (double)(rng_state >> 11) / 9007199254740992.0;
}
static float *frand(size_t n, double lo, double hi) {
  float *x = malloc((n ? n : 1) * sizeof *x);
  if (!x) exit(1);
  for (size_t i = 0; i < n; i++) x[i] = (float)(lo + (hi - lo) * urand());
  return x;
}
static double *dalloc(size_t n) {
  double *x = calloc(n ? n : 1, sizeof *x);
  if (!x) exit(1);
  return x;
}
#ifdef LONG1K_HAVE_CUDA /* helpers of the GPU checks */
static float *falloc(size_t n) {
  float *x = calloc(n ? n : 1, sizeof *x);
  if (!x) exit(1);
  return x;
}
static double rel_err_fd(const float *a, const double *ref, size_t n) {
  double d = 0, r = 0;
  for (size_t i = 0; i < n; i++) {
    double x = (double)a[i] - ref[i];
    d += x * x;
    r += ref[i] * ref[i];
  }
  if (!(d == d)) return INFINITY; /* NaN: a poisoned output not written */
  return r == 0 ? sqrt(d) : sqrt(d / r);
}
static double rel_err_ff(const float *a, const float *ref, size_t n) {
  double d = 0, r = 0;
  for (size_t i = 0; i < n; i++) {
    double x = (double)a[i] - ref[i];
    d += x * x;
    r += (double)ref[i] * ref[i];
  }
  if (!(d == d)) return INFINITY;
  return r == 0 ? sqrt(d) : sqrt(d / r);
}
#endif

/* ---------------------------------------------------------------- attention reference */

typedef struct att_case {
  int B, T, H, KVH, hd;
  int docs[2][4]; /* document lengths per row (0-terminated; sum = T) */
} att_case;

/* seg / seg_end from document lengths (the backend derives them the same way from pos). */
static void att_segs(const att_case *c, int32_t *seg, int32_t *seg_end) {
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
  }
}

static double att_scale(int hd) { return (double)(1.0f / sqrtf((float)hd)); }

/* o[N, H*hd], lse[N, H] in double. */
static void att_ref_fw(const att_case *c, const float *q, const float *k, const float *v,
                       const int32_t *seg, double *o, double *lse) {
  int T = c->T, H = c->H, KVH = c->KVH, hd = c->hd, QD = H * hd, KD = KVH * hd, rep = H / KVH;
  double sc = att_scale(hd);
  double *s = dalloc((size_t)T);
  for (int b = 0; b < c->B; b++)
    for (int h = 0; h < H; h++)
      for (int t = 0; t < T; t++) {
        size_t r = (size_t)b * T + t;
        int j0 = seg[r], g = h / rep;
        double mx = -INFINITY, sum = 0;
        for (int j = j0; j <= t; j++) {
          double d = 0;
          for (int e = 0; e < hd; e++)
            d += (double)q[r * QD + h * hd + e] * k[((size_t)b * T + j) * KD + g * hd + e];
          s[j] = d * sc;
          mx = s[j] > mx ? s[j] : mx;
        }
        for (int j = j0; j <= t; j++) sum += exp(s[j] - mx);
        for (int e = 0; e < hd; e++) {
          double acc = 0;
          for (int j = j0; j <= t; j++)
            acc += exp(s[j] - mx) / sum * v[((size_t)b * T + j) * KD + g * hd + e];
          o[r * QD + h * hd + e] = acc;
        }
        lse[r * H + h] = mx + log(sum);
      }
  free(s);
}

/* dq, dk, dv (double, overwritten) for output gradient dout. */
static void att_ref_bw(const att_case *c, const float *q, const float *k, const float *v,
                       const int32_t *seg, const float *dout, double *dq, double *dk, double *dv) {
  int T = c->T, H = c->H, KVH = c->KVH, hd = c->hd, QD = H * hd, KD = KVH * hd, rep = H / KVH;
  size_t N = (size_t)c->B * T;
  double sc = att_scale(hd);
  double *p = dalloc((size_t)T), *dp = dalloc((size_t)T);
  memset(dq, 0, N * QD * sizeof *dq);
  memset(dk, 0, N * KD * sizeof *dk);
  memset(dv, 0, N * KD * sizeof *dv);
  for (int b = 0; b < c->B; b++)
    for (int h = 0; h < H; h++)
      for (int t = 0; t < T; t++) {
        size_t r = (size_t)b * T + t;
        int j0 = seg[r], g = h / rep;
        double mx = -INFINITY, sum = 0, D = 0;
        for (int j = j0; j <= t; j++) {
          size_t kr = ((size_t)b * T + j) * KD + g * hd;
          double d = 0, e2 = 0;
          for (int e = 0; e < hd; e++) {
            d += (double)q[r * QD + h * hd + e] * k[kr + e];
            e2 += (double)dout[r * QD + h * hd + e] * v[kr + e];
          }
          p[j] = d * sc;
          dp[j] = e2;
          mx = p[j] > mx ? p[j] : mx;
        }
        for (int j = j0; j <= t; j++) sum += exp(p[j] - mx);
        for (int j = j0; j <= t; j++) {
          p[j] = exp(p[j] - mx) / sum;
          D += p[j] * dp[j];
        }
        for (int j = j0; j <= t; j++) {
          size_t kr = ((size_t)b * T + j) * KD + g * hd;
          double ds = p[j] * (dp[j] - D) * sc;
          for (int e = 0; e < hd; e++) {
            dv[kr + e] += p[j] * dout[r * QD + h * hd + e];
            dq[r * QD + h * hd + e] += ds * k[kr + e];
            dk[kr + e] += ds * q[r * QD + h * hd + e];
          }
        }
      }
  free(p);
  free(dp);
}

/* Reference check 1: a packed row's attention equals each document's attention alone. */
static void check_att_ref_packing(void) {
  att_case c = {1, 12, 4, 2, 8, {{1, 4, 7, 0}}};
  size_t N = 12, QD = 32, KD = 16;
  float *q = frand(N * QD, -1, 1), *k = frand(N * KD, -1, 1), *v = frand(N * KD, -1, 1);
  int32_t seg[12], se[12];
  att_segs(&c, seg, se);
  double *o = dalloc(N * QD), *lse = dalloc(N * 4);
  att_ref_fw(&c, q, k, v, seg, o, lse);
  int t0 = 0;
  double worst = 0;
  for (int d = 0; d < 3; d++) {
    int len = c.docs[0][d];
    att_case one = {1, len, 4, 2, 8, {{len, 0}}};
    int32_t s1[12] = {0}, e1[12];
    att_segs(&one, s1, e1);
    double *o1 = dalloc((size_t)len * QD), *l1 = dalloc((size_t)len * 4);
    att_ref_fw(&one, q + (size_t)t0 * QD, k + (size_t)t0 * KD, v + (size_t)t0 * KD, s1, o1, l1);
    for (size_t i = 0; i < (size_t)len * QD; i++) {
      double e = fabs(o1[i] - o[(size_t)t0 * QD + i]);
      worst = e > worst ? e : worst;
    }
    free(o1);
    free(l1);
    t0 += len;
  }
  CHECK_MSG(worst < 1e-12, "packed vs per-document attention reference differ by %g", worst);
  /* a one-token document attends to itself only: o = v */
  double e1 = 0;
  for (int h = 0; h < 4; h++)
    for (int e = 0; e < 8; e++) e1 += fabs(o[h * 8 + e] - v[(h / 2) * 8 + e]);
  CHECK_MSG(e1 < 1e-12, "one-token document: attention output is not its own value (%g)", e1);
  free(q), free(k), free(v), free(o), free(lse);
}

/* Reference check 2: the backward reference is the gradient of L = sum(dout * O). */
static double att_loss(const att_case *c, const float *q, const float *k, const float *v,
                       const int32_t *seg, const float *dout) {
  size_t N = (size_t)c->B * c->T, QD = (size_t)c->H * c->hd;
  double *o = dalloc(N * QD), *lse = dalloc(N * c->H), L = 0;
  att_ref_fw(c, q, k, v, seg, o, lse);
  for (size_t i = 0; i < N * QD; i++) L += o[i] * dout[i];
  free(o);
  free(lse);
  return L;
}

static double fd_worst(const att_case *c, float *x, const double *g, size_t n, const float *q,
                       const float *k, const float *v, const int32_t *seg, const float *dout) {
  double worst = 0, gmax = 0;
  for (size_t i = 0; i < n; i++) {
    float x0 = x[i], h = 1e-2f;
    x[i] = x0 + h;
    double lp = att_loss(c, q, k, v, seg, dout);
    x[i] = x0 - h;
    double lm = att_loss(c, q, k, v, seg, dout);
    x[i] = x0;
    double fd = (lp - lm) / ((double)(x0 + h) - (double)(x0 - h));
    double e = fabs(fd - g[i]);
    worst = e > worst ? e : worst;
    gmax = fabs(g[i]) > gmax ? fabs(g[i]) : gmax;
  }
  return worst / (gmax > 0 ? gmax : 1);
}

static void check_att_ref_grad(void) {
  att_case c = {2, 6, 4, 2, 4, {{2, 4, 0}, {1, 1, 4, 0}}};
  size_t N = 12, QD = 16, KD = 8;
  float *q = frand(N * QD, -1, 1), *k = frand(N * KD, -1, 1), *v = frand(N * KD, -1, 1);
  float *dout = frand(N * QD, -1, 1);
  int32_t seg[12], se[12];
  att_segs(&c, seg, se);
  double *dq = dalloc(N * QD), *dk = dalloc(N * KD), *dv = dalloc(N * KD);
  att_ref_bw(&c, q, k, v, seg, dout, dq, dk, dv);
  /* central differences with step 1e-2 in float inputs: O(h^2) error ~1e-5 of the scale */
  double eq = fd_worst(&c, q, dq, N * QD, q, k, v, seg, dout);
  double ek = fd_worst(&c, k, dk, N * KD, q, k, v, seg, dout);
  double ev = fd_worst(&c, v, dv, N * KD, q, k, v, seg, dout);
  CHECK_MSG(eq < 1e-3 && ek < 1e-3 && ev < 1e-3,
            "attention backward reference vs finite differences: dq %g dk %g dv %g", eq, ek, ev);
  free(q), free(k), free(v), free(dout), free(dq), free(dk), free(dv);
}

/* ---------------------------------------------------------------- cross-entropy reference */

/* loss[r] (0 without target) and, with grad, dl[r, V] = scale (softmax - onehot). */
static void ce_ref(const float *lg, const int32_t *tg, int R, int V, double scale, double *loss,
                   double *dl) {
  for (int r = 0; r < R; r++) {
    const float *x = lg + (size_t)r * V;
    double *d = dl + (size_t)r * V;
    if (tg[r] < 0) {
      loss[r] = 0;
      for (int j = 0; j < V; j++) d[j] = 0;
      continue;
    }
    double mx = -INFINITY, s = 0;
    for (int j = 0; j < V; j++) mx = x[j] > mx ? x[j] : mx;
    for (int j = 0; j < V; j++) s += exp(x[j] - mx);
    loss[r] = mx + log(s) - x[tg[r]];
    for (int j = 0; j < V; j++) d[j] = scale * (exp(x[j] - mx) / s - (j == tg[r]));
  }
}

static void check_ce_ref_grad(void) {
  int R = 3, V = 11;
  float *lg = frand((size_t)R * V, -3, 3);
  int32_t tg[3] = {4, -1, 10};
  double loss[3], *dl = dalloc((size_t)R * V), worst = 0;
  ce_ref(lg, tg, R, V, 1.0, loss, dl);
  for (int i = 0; i < R * V; i++) {
    float x0 = lg[i], h = 1e-2f;
    double lp[3], lm[3], *tmp = dalloc((size_t)R * V);
    lg[i] = x0 + h;
    ce_ref(lg, tg, R, V, 1.0, lp, tmp);
    lg[i] = x0 - h;
    ce_ref(lg, tg, R, V, 1.0, lm, tmp);
    lg[i] = x0;
    free(tmp);
    double fd = (lp[0] + lp[1] + lp[2] - lm[0] - lm[1] - lm[2]) /
                ((double)(x0 + h) - (double)(x0 - h));
    worst = fabs(fd - dl[i]) > worst ? fabs(fd - dl[i]) : worst;
  }
  CHECK_MSG(worst < 1e-4, "cross-entropy reference gradient vs finite differences: %g", worst);
  CHECK(loss[1] == 0);
  free(lg);
  free(dl);
}

/* ---------------------------------------------------------------- GPU checks */

#ifdef LONG1K_HAVE_CUDA

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

static void *dup_dev(const void *h, size_t bytes) {
  void *d = NULL;
  CK(cudaMalloc(&d, bytes ? bytes : 16));
  if (bytes) CK(cudaMemcpy(d, h, bytes, cudaMemcpyHostToDevice));
  return d;
}
static float *dev_f(const float *h, size_t n) { return dup_dev(h, n * sizeof(float)); }
static int32_t *dev_i(const int32_t *h, size_t n) { return dup_dev(h, n * sizeof(int32_t)); }
static float *dev_nan(size_t n) { /* all bits set: a NaN in every float */
  float *d = NULL;
  CK(cudaMalloc((void **)&d, (n ? n : 1) * sizeof(float)));
  CK(cudaMemset(d, 0xFF, (n ? n : 1) * sizeof(float)));
  return d;
}
static float *host_of(const float *d, size_t n) {
  float *h = falloc(n);
  CK(cudaMemcpy(h, d, n * sizeof(float), cudaMemcpyDeviceToHost));
  return h;
}
#define REPORT(name, e) \
  CHECK_MSG((e) < TOL, "%s: relative error %.3g (tolerance %g)", (name), (double)(e), TOL)

static void gpu_embedding(void) {
  int N = 41, C = 96, V = 50, pad = 7;
  int32_t ids[41];
  for (int i = 0; i < N; i++) ids[i] = i % 5 == 0 ? pad : (int32_t)(urand() * 12); /* repeats */
  float *emb = frand((size_t)V * C, -1, 1), *dx = frand((size_t)N * C, -1, 1);
  float *de = falloc((size_t)V * C), *de_ref = falloc((size_t)V * C);
  for (size_t i = 0; i < (size_t)V * C; i++) de[i] = de_ref[i] = (float)(urand() - 0.5);
  /* fw */
  float *d_emb = dev_f(emb, (size_t)V * C), *d_x = dev_nan((size_t)N * C);
  int32_t *d_ids = dev_i(ids, N);
  LAUNCH(l1kcu_embedding_fw(d_x, d_ids, d_emb, N, C));
  float *x = host_of(d_x, (size_t)N * C), *x_ref = falloc((size_t)N * C);
  for (int i = 0; i < N; i++) memcpy(x_ref + (size_t)i * C, emb + (size_t)ids[i] * C, C * sizeof(float));
  REPORT("embedding_fw", rel_err_ff(x, x_ref, (size_t)N * C));
  /* bw: groups by id, pad left out; reference = forward.c's serial scatter-add minus pad rows */
  int32_t uniq[41], off[42], rows[41];
  int U = 0, k = 0;
  off[0] = 0;
  for (int id = 0; id < V; id++) {
    int n0 = k;
    for (int i = 0; i < N; i++)
      if (ids[i] == id && id != pad) rows[k++] = i;
    if (k > n0) uniq[U] = id, off[++U] = k;
  }
  for (int i = 0; i < N; i++)
    if (ids[i] != pad)
      for (int j = 0; j < C; j++) de_ref[(size_t)ids[i] * C + j] += dx[(size_t)i * C + j];
  float *d_de = dev_f(de, (size_t)V * C), *d_dx = dev_f(dx, (size_t)N * C);
  int32_t *d_u = dev_i(uniq, U), *d_o = dev_i(off, U + 1), *d_r = dev_i(rows, k);
  LAUNCH(l1kcu_embedding_bw(d_de, d_dx, d_u, d_o, d_r, U, C));
  float *de_gpu = host_of(d_de, (size_t)V * C);
  REPORT("embedding_bw", rel_err_ff(de_gpu, de_ref, (size_t)V * C));
  CHECK_MSG(memcmp(de_gpu + (size_t)pad * C, de + (size_t)pad * C, C * sizeof(float)) == 0,
            "embedding_bw: the pad_token_id row changed");
  cudaFree(d_emb), cudaFree(d_x), cudaFree(d_ids), cudaFree(d_de), cudaFree(d_dx);
  cudaFree(d_u), cudaFree(d_o), cudaFree(d_r);
  free(emb), free(dx), free(de), free(de_ref), free(x), free(x_ref), free(de_gpu);
}

static void gpu_rmsnorm_case(int N, int C) {
  float eps = 1e-6f;
  float *x = frand((size_t)N * C, -2, 2), *w = frand(C, 0.5, 1.5), *dy = frand((size_t)N * C, -1, 1);
  float *y_ref = falloc((size_t)N * C), *r_ref = falloc(N);
  l1k_rmsnorm_fw(y_ref, r_ref, x, w, N, C, eps);
  float *d_x = dev_f(x, (size_t)N * C), *d_w = dev_f(w, C), *d_y = dev_nan((size_t)N * C);
  float *d_r = dev_nan(N);
  LAUNCH(l1kcu_rmsnorm_fw(d_y, d_r, d_x, d_w, N, C, eps));
  float *y = host_of(d_y, (size_t)N * C), *r = host_of(d_r, N);
  char name[64];
  snprintf(name, sizeof name, "rmsnorm_fw %dx%d", N, C);
  REPORT(name, rel_err_ff(y, y_ref, (size_t)N * C));
  REPORT(name, rel_err_ff(r, r_ref, N));
  /* bw accumulates: start both from the same random dx, dw */
  float *dx_ref = frand((size_t)N * C, -1, 1), *dw_ref = frand(C, -1, 1);
  float *d_dx = dev_f(dx_ref, (size_t)N * C), *d_dw = dev_f(dw_ref, C), *d_dy = dev_f(dy, (size_t)N * C);
  l1k_rmsnorm_bw(dx_ref, dw_ref, dy, x, w, r_ref, N, C);
  LAUNCH(l1kcu_rmsnorm_bw(d_dx, d_dw, d_dy, d_x, d_w, d_r, N, C));
  float *dx = host_of(d_dx, (size_t)N * C), *dw = host_of(d_dw, C);
  snprintf(name, sizeof name, "rmsnorm_bw %dx%d", N, C);
  REPORT(name, rel_err_ff(dx, dx_ref, (size_t)N * C));
  REPORT(name, rel_err_ff(dw, dw_ref, C));
  cudaFree(d_x), cudaFree(d_w), cudaFree(d_y), cudaFree(d_r), cudaFree(d_dx), cudaFree(d_dw), cudaFree(d_dy);
  free(x), free(w), free(dy), free(y_ref), free(r_ref), free(y), free(r), free(dx_ref), free(dw_ref);
  free(dx), free(dw);
}

static void gpu_rope(int N, int H, int hd) {
  int half = hd / 2, stride = H * hd;
  int32_t *pos = malloc(N * sizeof *pos);
  for (int i = 0, p = 0; i < N; i++, p++) {
    if (i % 13 == 5) p = 0; /* documents restart */
    pos[i] = p + (i > N / 2 ? 30000 : 0); /* and large positions */
  }
  float *inv = falloc(half);
  l1k_model_config cfg;
  memset(&cfg, 0, sizeof cfg);
  cfg.head_dim = hd;
  cfg.rope_theta = 1e6;
  l1k_rope_inv_freq(&cfg, inv);
  float *c_ref = falloc((size_t)N * half), *s_ref = falloc((size_t)N * half);
  l1k_rope_table(c_ref, s_ref, pos, N, inv, half);
  float *d_c = dev_nan((size_t)N * half), *d_s = dev_nan((size_t)N * half), *d_inv = dev_f(inv, half);
  int32_t *d_pos = dev_i(pos, N);
  LAUNCH(l1kcu_rope_table(d_c, d_s, d_pos, N, d_inv, half));
  float *cg = host_of(d_c, (size_t)N * half), *sg = host_of(d_s, (size_t)N * half);
  REPORT("rope_table cos", rel_err_ff(cg, c_ref, (size_t)N * half));
  REPORT("rope_table sin", rel_err_ff(sg, s_ref, (size_t)N * half));
  float *x = frand((size_t)N * stride, -1, 1), *x_ref = falloc((size_t)N * stride);
  memcpy(x_ref, x, (size_t)N * stride * sizeof(float));
  float *d_x = dev_f(x, (size_t)N * stride);
  l1k_rope_apply(x_ref, N, stride, H, hd, c_ref, s_ref, 0);
  LAUNCH(l1kcu_rope_fw(d_x, N, stride, H, hd, d_c, d_s));
  float *xg = host_of(d_x, (size_t)N * stride);
  REPORT("rope_fw", rel_err_ff(xg, x_ref, (size_t)N * stride));
  l1k_rope_apply(x_ref, N, stride, H, hd, c_ref, s_ref, 1);
  LAUNCH(l1kcu_rope_bw(d_x, N, stride, H, hd, d_c, d_s));
  free(xg);
  xg = host_of(d_x, (size_t)N * stride);
  REPORT("rope_bw", rel_err_ff(xg, x_ref, (size_t)N * stride));
  cudaFree(d_c), cudaFree(d_s), cudaFree(d_inv), cudaFree(d_pos), cudaFree(d_x);
  free(pos), free(inv), free(c_ref), free(s_ref), free(cg), free(sg), free(x), free(x_ref), free(xg);
}

static void gpu_swiglu_add_scale(void) {
  size_t n = 10007;
  float *g = frand(n, -6, 6), *u = frand(n, -2, 2), *dh = frand(n, -1, 1);
  float *h_ref = falloc(n), *dg_ref = falloc(n), *du_ref = falloc(n);
  for (size_t i = 0; i < n; i++) {
    h_ref[i] = l1k_silu(g[i]) * u[i];
    float sg = 1.0f / (1.0f + expf(-g[i]));
    du_ref[i] = dh[i] * g[i] * sg;
    dg_ref[i] = dh[i] * u[i] * sg * (1.0f + g[i] * (1.0f - sg));
  }
  float *d_g = dev_f(g, n), *d_u = dev_f(u, n), *d_dh = dev_f(dh, n);
  float *d_h = dev_nan(n), *d_dg = dev_nan(n), *d_du = dev_nan(n);
  LAUNCH(l1kcu_swiglu_fw(d_h, d_g, d_u, n));
  LAUNCH(l1kcu_swiglu_bw(d_dg, d_du, d_dh, d_g, d_u, n));
  float *h = host_of(d_h, n), *dg = host_of(d_dg, n), *du = host_of(d_du, n);
  REPORT("swiglu_fw", rel_err_ff(h, h_ref, n));
  REPORT("swiglu_bw dgate", rel_err_ff(dg, dg_ref, n));
  REPORT("swiglu_bw dup", rel_err_ff(du, du_ref, n));
  /* add (aliased output) and scale */
  LAUNCH(l1kcu_add(d_g, d_g, d_u, n));
  LAUNCH(l1kcu_scale(d_g, n, 0.37));
  float *s = host_of(d_g, n);
  for (size_t i = 0; i < n; i++) h_ref[i] = (float)((double)(g[i] + u[i]) * 0.37);
  REPORT("add + scale", rel_err_ff(s, h_ref, n));
  cudaFree(d_g), cudaFree(d_u), cudaFree(d_dh), cudaFree(d_h), cudaFree(d_dg), cudaFree(d_du);
  free(g), free(u), free(dh), free(h_ref), free(dg_ref), free(du_ref), free(h), free(dg), free(du), free(s);
}

/* cuBLAS products (l1kcu_gemm in the backend's row-major convention) + bias launchers
 * against l1k_linear_fw / l1k_linear_bw. */
static void gpu_linear(int N, int in, int out) {
  cu_state s;
  memset(&s, 0, sizeof s);
  l1k_err err = {0};
  CHECK(cublasCreate(&s.blas) == CUBLAS_STATUS_SUCCESS);
  CHECK(cublasSetMathMode(s.blas, CUBLAS_PEDANTIC_MATH) == CUBLAS_STATUS_SUCCESS);
  float *x = frand((size_t)N * in, -1, 1), *W = frand((size_t)out * in, -1, 1), *b = frand(out, -1, 1);
  float *dy = frand((size_t)N * out, -1, 1), *y_ref = falloc((size_t)N * out);
  l1k_linear_fw(y_ref, x, W, b, N, in, out);
  float *d_x = dev_f(x, (size_t)N * in), *d_W = dev_f(W, (size_t)out * in), *d_b = dev_f(b, out);
  float *d_y = dev_nan((size_t)N * out);
  CHECK(l1kcu_gemm(&s, 0, 1, N, out, in, 1.0f, d_x, in, d_W, in, 0.0f, d_y, out, &err) == 0);
  LAUNCH(l1kcu_bias_fw(d_y, d_b, N, out));
  float *y = host_of(d_y, (size_t)N * out);
  REPORT("linear_fw", rel_err_ff(y, y_ref, (size_t)N * out));
  float *dx_ref = falloc((size_t)N * in), *dW_ref = frand((size_t)out * in, -1, 1), *db_ref = frand(out, -1, 1);
  float *d_dW = dev_f(dW_ref, (size_t)out * in), *d_db = dev_f(db_ref, out);
  float *d_dy = dev_f(dy, (size_t)N * out), *d_dx = dev_nan((size_t)N * in);
  l1k_linear_bw(dx_ref, dW_ref, db_ref, dy, x, W, N, in, out, 0);
  CHECK(l1kcu_gemm(&s, 0, 0, N, in, out, 1.0f, d_dy, out, d_W, in, 0.0f, d_dx, in, &err) == 0);
  CHECK(l1kcu_gemm(&s, 1, 0, out, in, N, 1.0f, d_dy, out, d_x, in, 1.0f, d_dW, in, &err) == 0);
  LAUNCH(l1kcu_bias_bw(d_db, d_dy, N, out));
  float *dx = host_of(d_dx, (size_t)N * in), *dW = host_of(d_dW, (size_t)out * in), *db = host_of(d_db, out);
  REPORT("linear_bw dx", rel_err_ff(dx, dx_ref, (size_t)N * in));
  REPORT("linear_bw dW", rel_err_ff(dW, dW_ref, (size_t)out * in));
  REPORT("linear_bw db", rel_err_ff(db, db_ref, out));
  cublasDestroy(s.blas);
  cudaFree(d_x), cudaFree(d_W), cudaFree(d_b), cudaFree(d_y), cudaFree(d_dW), cudaFree(d_db);
  cudaFree(d_dy), cudaFree(d_dx);
  free(x), free(W), free(b), free(dy), free(y_ref), free(y), free(dx_ref), free(dW_ref), free(db_ref);
  free(dx), free(dW), free(db);
}

/* bf16 mode: the rounding kernel against host round-to-nearest-even, and a product through
 * the bf16 path of l1kcu_gemm (both operands activations, so both rounded into scratch)
 * against l1k_linear_fw / _bw on the same rounded inputs (products of bf16 values are exact in
 * float32, so only the order of additions differs). */
static float bf16_round(float x) {
  uint32_t u;
  memcpy(&u, &x, 4);
  u += 0x7FFFu + ((u >> 16) & 1u); /* finite inputs only */
  u &= 0xFFFF0000u;
  memcpy(&x, &u, 4);
  return x;
}

static void gpu_bf16(int N, int in, int out) {
  size_t nx = (size_t)N * in, nw = (size_t)out * in, ny = (size_t)N * out;
  float *x = frand(nx, -1, 1), *W = frand(nw, -1, 1), *dy = frand(ny, -1, 1);
  uint16_t *bits = malloc(nx * sizeof *bits), *d_bits = NULL;
  if (!bits) exit(1);
  float *d_x = dev_f(x, nx);
  CK(cudaMalloc((void **)&d_bits, nx * sizeof *d_bits));
  LAUNCH(l1kcu_to_bf16(d_bits, d_x, nx));
  CK(cudaMemcpy(bits, d_bits, nx * sizeof *bits, cudaMemcpyDeviceToHost));
  size_t bad = 0;
  for (size_t i = 0; i < nx; i++) {
    uint32_t u = (uint32_t)bits[i] << 16;
    float f, r = bf16_round(x[i]);
    memcpy(&f, &u, 4);
    bad += f != r;
  }
  CHECK_MSG(bad == 0, "to_bf16: %zu of %zu values differ from round-to-nearest-even", bad, nx);
  cu_state s;
  memset(&s, 0, sizeof s);
  l1k_err err = {0};
  s.opts.precision = L1K_PREC_BF16;
  s.scr_elems = nx > nw ? nx : nw;
  s.scr_elems = s.scr_elems > ny ? s.scr_elems : ny;
  CK(cudaMalloc((void **)&s.scr[0], s.scr_elems * 2));
  CK(cudaMalloc((void **)&s.scr[1], s.scr_elems * 2));
  CHECK(cublasCreate(&s.blas) == CUBLAS_STATUS_SUCCESS);
  float *xr = falloc(nx), *Wr = falloc(nw), *dyr = falloc(ny), *y_ref = falloc(ny);
  for (size_t i = 0; i < nx; i++) xr[i] = bf16_round(x[i]);
  for (size_t i = 0; i < nw; i++) Wr[i] = bf16_round(W[i]);
  for (size_t i = 0; i < ny; i++) dyr[i] = bf16_round(dy[i]);
  l1k_linear_fw(y_ref, xr, Wr, NULL, N, in, out);
  float *d_W = dev_f(W, nw), *d_y = dev_nan(ny), *d_dy = dev_f(dy, ny), *d_dx = dev_nan(nx);
  float *dW_ref = falloc(nw), *dx_ref = falloc(nx), *d_dW = dev_f(dW_ref, nw);
  CHECK(l1kcu_gemm(&s, 0, 1, N, out, in, 1.0f, d_x, in, d_W, in, 0.0f, d_y, out, &err) == 0);
  l1k_linear_bw(dx_ref, dW_ref, NULL, dyr, xr, Wr, N, in, out, 0);
  CHECK(l1kcu_gemm(&s, 0, 0, N, in, out, 1.0f, d_dy, out, d_W, in, 0.0f, d_dx, in, &err) == 0);
  CHECK(l1kcu_gemm(&s, 1, 0, out, in, N, 1.0f, d_dy, out, d_x, in, 1.0f, d_dW, in, &err) == 0);
  CK(cudaDeviceSynchronize());
  float *y = host_of(d_y, ny), *dx = host_of(d_dx, nx), *dW = host_of(d_dW, nw);
  REPORT("bf16 linear_fw", rel_err_ff(y, y_ref, ny));
  REPORT("bf16 linear_bw dx", rel_err_ff(dx, dx_ref, nx));
  REPORT("bf16 linear_bw dW", rel_err_ff(dW, dW_ref, nw));
  cublasDestroy(s.blas);
  void *dev[] = {d_x, d_bits, s.scr[0], s.scr[1], d_W, d_y, d_dy, d_dx, d_dW};
  for (size_t i = 0; i < sizeof dev / sizeof dev[0]; i++) cudaFree(dev[i]);
  free(x), free(W), free(dy), free(bits), free(xr), free(Wr), free(dyr), free(y_ref), free(dW_ref);
  free(dx_ref), free(y), free(dx), free(dW);
}

static void gpu_attention(const att_case *c) {
  size_t N = (size_t)c->B * c->T, QD = (size_t)c->H * c->hd, KD = (size_t)c->KVH * c->hd;
  float *q = frand(N * QD, -1, 1), *k = frand(N * KD, -1, 1), *v = frand(N * KD, -1, 1);
  float *dout = frand(N * QD, -1, 1);
  int32_t *seg = malloc(N * sizeof *seg), *se = malloc(N * sizeof *se);
  att_segs(c, seg, se);
  double *o_ref = dalloc(N * QD), *lse_ref = dalloc(N * c->H);
  double *dq_ref = dalloc(N * QD), *dk_ref = dalloc(N * KD), *dv_ref = dalloc(N * KD);
  att_ref_fw(c, q, k, v, seg, o_ref, lse_ref);
  att_ref_bw(c, q, k, v, seg, dout, dq_ref, dk_ref, dv_ref);
  float *d_q = dev_f(q, N * QD), *d_k = dev_f(k, N * KD), *d_v = dev_f(v, N * KD);
  float *d_do = dev_f(dout, N * QD), *d_o = dev_nan(N * QD), *d_lse = dev_nan(N * c->H);
  float *d_dq = dev_nan(N * QD), *d_dk = dev_nan(N * KD), *d_dv = dev_nan(N * KD);
  float *d_ds = dev_nan(N * c->H);
  int32_t *d_seg = dev_i(seg, N), *d_se = dev_i(se, N);
  LAUNCH(l1kcu_attention_fw(d_o, d_lse, d_q, d_k, d_v, d_seg, c->B, c->T, c->H, c->KVH, c->hd));
  LAUNCH(l1kcu_attention_bw(d_dq, d_dk, d_dv, d_ds, d_do, d_o, d_lse, d_q, d_k, d_v, d_seg, d_se,
                            c->B, c->T, c->H, c->KVH, c->hd));
  float *o = host_of(d_o, N * QD), *lse = host_of(d_lse, N * c->H);
  float *dq = host_of(d_dq, N * QD), *dk = host_of(d_dk, N * KD), *dv = host_of(d_dv, N * KD);
  char name[96];
  snprintf(name, sizeof name, "attention B=%d T=%d H=%d KVH=%d hd=%d", c->B, c->T, c->H, c->KVH, c->hd);
  double eo = rel_err_fd(o, o_ref, N * QD), el = rel_err_fd(lse, lse_ref, N * c->H);
  double eq = rel_err_fd(dq, dq_ref, N * QD), ek = rel_err_fd(dk, dk_ref, N * KD);
  double ev = rel_err_fd(dv, dv_ref, N * KD);
  fprintf(stderr, "%s: o %.2e lse %.2e dq %.2e dk %.2e dv %.2e\n", name, eo, el, eq, ek, ev);
  REPORT(name, eo);
  REPORT(name, el);
  REPORT(name, eq);
  REPORT(name, ek);
  REPORT(name, ev);
  /* same bits on a second run (no atomics) */
  LAUNCH(l1kcu_attention_bw(d_dq, d_dk, d_dv, d_ds, d_do, d_o, d_lse, d_q, d_k, d_v, d_seg, d_se,
                            c->B, c->T, c->H, c->KVH, c->hd));
  float *dk2 = host_of(d_dk, N * KD);
  CHECK_MSG(memcmp(dk, dk2, N * KD * sizeof(float)) == 0, "%s: dk differs between runs", name);
  float *dev[] = {d_q, d_k, d_v, d_do, d_o, d_lse, d_dq, d_dk, d_dv, d_ds};
  for (size_t i = 0; i < sizeof dev / sizeof dev[0]; i++) cudaFree(dev[i]);
  cudaFree(d_seg), cudaFree(d_se);
  free(q), free(k), free(v), free(dout), free(seg), free(se), free(o_ref), free(lse_ref);
  free(dq_ref), free(dk_ref), free(dv_ref), free(o), free(lse), free(dq), free(dk), free(dv), free(dk2);
}

static void gpu_cross_entropy(int R, int V) {
  float *lg = frand((size_t)R * V, -8, 8);
  int32_t *tg = malloc(R * sizeof *tg);
  for (int r = 0; r < R; r++) tg[r] = r % 4 == 3 ? -1 : (int32_t)(urand() * V);
  double *loss_ref = dalloc(R), *dl_ref = dalloc((size_t)R * V);
  float scale = 1.0f / 37.0f;
  ce_ref(lg, tg, R, V, scale, loss_ref, dl_ref);
  float *d_lg = dev_f(lg, (size_t)R * V);
  int32_t *d_tg = dev_i(tg, R);
  double *d_loss = NULL;
  CK(cudaMalloc((void **)&d_loss, R * sizeof(double)));
  CK(cudaMemset(d_loss, 0xFF, R * sizeof(double)));
  LAUNCH(l1kcu_cross_entropy(d_lg, d_loss, d_tg, R, V, 0, 0.0f));
  double *loss = dalloc(R);
  CK(cudaMemcpy(loss, d_loss, R * sizeof(double), cudaMemcpyDeviceToHost));
  float *lg_after = host_of(d_lg, (size_t)R * V);
  CHECK_MSG(memcmp(lg, lg_after, (size_t)R * V * sizeof(float)) == 0,
            "cross_entropy without grad changed the logits");
  float *lf = falloc(R);
  for (int r = 0; r < R; r++) lf[r] = (float)loss[r];
  REPORT("cross_entropy loss", rel_err_fd(lf, loss_ref, R));
  LAUNCH(l1kcu_cross_entropy(d_lg, d_loss, d_tg, R, V, 1, scale));
  float *dl = host_of(d_lg, (size_t)R * V);
  REPORT("cross_entropy dlogits", rel_err_fd(dl, dl_ref, (size_t)R * V));
  cudaFree(d_lg), cudaFree(d_tg), cudaFree(d_loss);
  free(lg), free(tg), free(loss_ref), free(dl_ref), free(loss), free(lg_after), free(lf), free(dl);
}

static void gpu_rows(void) {
  int R = 5, C = 33, N = 17;
  int32_t rows[5] = {16, 0, 3, 9, 4};
  float *src = frand((size_t)N * C, -1, 1), *ref = falloc((size_t)R * C);
  for (int r = 0; r < R; r++) memcpy(ref + (size_t)r * C, src + (size_t)rows[r] * C, C * sizeof(float));
  float *d_src = dev_f(src, (size_t)N * C), *d_dst = dev_nan((size_t)R * C), *d_back = dev_nan((size_t)N * C);
  int32_t *d_rows = dev_i(rows, R);
  LAUNCH(l1kcu_gather_rows(d_dst, d_src, d_rows, R, C));
  LAUNCH(l1kcu_scatter_rows(d_back, d_dst, d_rows, R, C));
  float *g = host_of(d_dst, (size_t)R * C), *b = host_of(d_back, (size_t)N * C);
  REPORT("gather_rows", rel_err_ff(g, ref, (size_t)R * C));
  float *bref = falloc((size_t)R * C);
  for (int r = 0; r < R; r++) memcpy(bref + (size_t)r * C, b + (size_t)rows[r] * C, C * sizeof(float));
  REPORT("scatter_rows", rel_err_ff(bref, ref, (size_t)R * C));
  cudaFree(d_src), cudaFree(d_dst), cudaFree(d_back), cudaFree(d_rows);
  free(src), free(ref), free(g), free(b), free(bref);
}

static void gpu_norm_adamw(void) {
  size_t n = 300007;
  float *g = frand(n, -1, 1), *p = frand(n, -1, 1), *m = frand(n, -0.1, 0.1), *v = frand(n, 0, 0.01);
  double ss = 0;
  for (size_t i = 0; i < n; i++) ss += (double)g[i] * g[i];
  float *d_g = dev_f(g, n), *d_p = dev_f(p, n), *d_m = dev_f(m, n), *d_v = dev_f(v, n);
  double *d_out = NULL, *d_part = NULL, out = 0;
  CK(cudaMalloc((void **)&d_out, sizeof(double)));
  CK(cudaMalloc((void **)&d_part, L1KCU_NORM_BLOCKS * sizeof(double)));
  LAUNCH(l1kcu_sumsq(d_out, d_part, d_g, n));
  CK(cudaMemcpy(&out, d_out, sizeof out, cudaMemcpyDeviceToHost));
  CHECK_MSG(fabs(out - ss) <= 1e-12 * ss, "sumsq %.17g vs %.17g", out, ss);
  /* AdamW: src/train/optim.c's arithmetic (include/long1k/optim.h) */
  double lr = 1e-3, b1 = 0.9, b2 = 0.95, eps = 1e-8, wd = 0.1, t = 3;
  double bc1 = 1 - pow(b1, t), bc2 = 1 - pow(b2, t), step_size = lr / bc1, bc2s = sqrt(bc2);
  float *pr = falloc(n), *mr = falloc(n), *vr = falloc(n);
  for (size_t i = 0; i < n; i++) {
    double gi = g[i], mi = b1 * m[i] + (1 - b1) * gi, vi = b2 * v[i] + (1 - b2) * gi * gi;
    mr[i] = (float)mi;
    vr[i] = (float)vi;
    double pi = (double)p[i] * (1 - lr * wd);
    pi -= step_size * (double)mr[i] / (sqrt((double)vr[i]) / bc2s + eps);
    pr[i] = (float)pi;
  }
  LAUNCH(l1kcu_adamw(d_p, d_g, d_m, d_v, n, lr, b1, b2, eps, wd, step_size, bc2s));
  float *pg = host_of(d_p, n), *mg = host_of(d_m, n), *vg = host_of(d_v, n);
  REPORT("adamw params", rel_err_ff(pg, pr, n));
  REPORT("adamw m", rel_err_ff(mg, mr, n));
  REPORT("adamw v", rel_err_ff(vg, vr, n));
  cudaFree(d_g), cudaFree(d_p), cudaFree(d_m), cudaFree(d_v), cudaFree(d_out), cudaFree(d_part);
  free(g), free(p), free(m), free(v), free(pr), free(mr), free(vr), free(pg), free(mg), free(vg);
}

static void gpu_checks(void) {
  gpu_embedding();
  gpu_rmsnorm_case(37, 64);
  gpu_rmsnorm_case(5, 1536);
  gpu_rmsnorm_case(37 * 7, 128); /* q_norm shape: N*H rows of head_dim */
  gpu_rope(37, 7, 128);
  gpu_rope(45, 2, 64);
  gpu_rope(19, 4, 16);
  gpu_swiglu_add_scale();
  gpu_linear(37, 64, 176);
  gpu_linear(45, 128, 96);
  gpu_bf16(37, 64, 176);
  gpu_bf16(45, 128, 96);
  static const att_case cases[] = {
      {2, 37, 7, 1, 64, {{37, 0}, {1, 20, 16, 0}}},       /* GQA 7:1, one-token document */
      {1, 70, 4, 4, 128, {{33, 37, 0}}},                   /* 1:1, head_dim 128 */
      {2, 45, 14, 2, 128, {{1, 1, 43, 0}, {45, 0}}},       /* 7:1, two one-token documents */
      {2, 24, 4, 2, 16, {{8, 16, 0}, {5, 19, 0}}},         /* the tiny goldens' shape */
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) gpu_attention(&cases[i]);
  gpu_cross_entropy(13, 1000);
  gpu_cross_entropy(3, 151936 / 8 + 3);
  gpu_rows();
  gpu_norm_adamw();
}
#endif

int main(void) {
  /* the float64 references, on every machine */
  check_att_ref_packing();
  check_att_ref_grad();
  check_ce_ref_grad();
  if (check_failures) CHECK_DONE();
#ifndef LONG1K_HAVE_CUDA
  fprintf(stderr, "(%d reference checks passed)\n", check_count);
  SKIP("long1k was built without the CUDA backend (no nvcc at build time)");
#else
  char why[256];
  if (!l1k_backend_cuda_ops.available(why, sizeof why)) {
    fprintf(stderr, "(%d reference checks passed)\n", check_count);
    SKIP("%s", why);
  }
  gpu_checks();
#endif
  CHECK_DONE();
}
