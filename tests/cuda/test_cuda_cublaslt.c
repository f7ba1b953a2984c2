/* The bf16 mode's products through cuBLASLt (src/backend/cuda/cublaslt.c) against a float64
 * reference computed here from the same bf16 values:
 *   - every product shape the backend runs, with its transposes (y = x W^T, dx = dy W,
 *     dW += dy^T x), ragged sizes (rows not a multiple of any tile: 1, 37, 133), leading
 *     dimensions larger than the rows, beta 0 and 1, operands at 2-byte-aligned addresses (a
 *     tensor inside the flat bf16 parameters), C poisoned with NaN where beta = 0;
 *   - the BIAS epilogue (y = x W^T + b) and the BGRAD epilogue (colsum(dy) from dW's product,
 *     written, not accumulated; the module has it, the backend does not use it: cublaslt.h);
 *   - the cache: a second product of a shape asks no heuristic again (cached shapes counted);
 *     a refused shape (an epilogue pointer that is not 16-byte aligned) answers
 *     L1K_EUNSUPPORTED without an error, so the backend falls back;
 *   - the model: qwen2_tiny (q/k/v biases) in the bf16 mode with cuBLASLt and with
 *     LONG1K_CUBLASLT=0 (cublasGemmEx + the bias kernels): both within 2e-2 of transformers'
 *     float32 reference, their difference reported, and cuBLASLt really ran; with cuBLASLt,
 *     reference.json's 5 AdamW steps and the parameters after them within 2e-2.
 * Relative L2 errors; bound 1e-5 for the products (float32 accumulation of exact bf16 products).
 * Runs on the CUDA emulation (tests/cuda/test_cuda_emulated.sh: its cuBLASLt subset) and,
 * unchanged, on a GPU; without the CUDA backend or a device: SKIP (exit 77). */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "check.h"
#include "long1k/io.h"
#include "long1k/model.h"
#include "long1k/safetensors.h"

#ifdef LONG1K_HAVE_CUDA
#include <cuda_runtime_api.h>

#include "backend/cuda/cublaslt.h"
#include "backend/cuda/cuda_internal.h"
#endif

#define TOL 1e-5
#define BF16_TOL 2e-2

static void *xmalloc(size_t n) {
  void *p = malloc(n ? n : 1);
  if (!p) exit(1);
  return p;
}

static uint32_t rng = 12345;
static float frand(void) { return ((rng = rng * 1664525u + 1013904223u) >> 8) / 16777216.0f - 0.5f; }

static uint16_t to_bf16(float f) {
  uint32_t u;
  memcpy(&u, &f, 4);
  u += 0x7fffu + ((u >> 16) & 1u);
  return (uint16_t)(u >> 16);
}
static float from_bf16(uint16_t b) {
  uint32_t u = (uint32_t)b << 16;
  float f;
  memcpy(&f, &u, 4);
  return f;
}

static double rel_l2(const float *a, const double *ref, size_t n) {
  double d2 = 0, r2 = 0;
  for (size_t i = 0; i < n; i++) {
    double d = (double)a[i] - ref[i];
    d2 += d * d;
    r2 += ref[i] * ref[i];
  }
  if (!(d2 == d2)) return INFINITY;
  return r2 > 0 ? sqrt(d2 / r2) : sqrt(d2);
}

static void report(const char *what, double e, double tol) {
  fprintf(stderr, "%-64s rel_err %.3e%s\n", what, e, e <= tol ? "" : "  FAIL");
  CHECK_MSG(e <= tol, "%s: relative error %.3e > %g", what, e, tol);
}

#ifdef LONG1K_HAVE_CUDA
/* One product C[M, N] = op(A) op(B) + beta C (+ epilogue) through l1kcu_lt_matmul, against the
 * float64 reference. off: the bf16 operands start `off` values into their buffers. */
static void product(struct l1kcu_lt *lt, int ta, int tb, int M, int N, int K, int pad, int off,
                    float beta, int epi) {
  int lda = (ta ? M : K) + pad, ldb = (tb ? K : N) + pad, ldc = N + pad;
  size_t na = (size_t)(ta ? K : M) * lda, nb = (size_t)(tb ? N : K) * ldb, nc = (size_t)M * ldc;
  uint16_t *ha = xmalloc((na + off) * 2), *hb = xmalloc((nb + off) * 2);
  float *hc = xmalloc(nc * 4), *hbias = xmalloc((size_t)(M > N ? M : N) * 4), *out = xmalloc(nc * 4);
  for (size_t i = 0; i < na + off; i++) ha[i] = to_bf16(frand());
  for (size_t i = 0; i < nb + off; i++) hb[i] = to_bf16(frand());
  for (size_t i = 0; i < nc; i++) hc[i] = beta == 0.0f ? NAN : frand();
  for (int i = 0; i < N; i++) hbias[i] = frand();
  const uint16_t *A = ha + off, *B = hb + off;
  /* reference, float64 */
  double *ref = xmalloc(nc * sizeof *ref), *rbias = xmalloc((size_t)M * sizeof *rbias);
  for (int i = 0; i < M; i++) {
    rbias[i] = 0;
    for (int k = 0; k < K; k++) rbias[i] += from_bf16(ta ? A[(size_t)k * lda + i] : A[(size_t)i * lda + k]);
    for (int j = 0; j < N; j++) {
      double s = 0;
      for (int k = 0; k < K; k++)
        s += (double)from_bf16(ta ? A[(size_t)k * lda + i] : A[(size_t)i * lda + k]) *
             from_bf16(tb ? B[(size_t)j * ldb + k] : B[(size_t)k * ldb + j]);
      size_t c = (size_t)i * ldc + j;
      ref[c] = s + (beta == 0.0f ? 0.0 : (double)beta * hc[c]) + (epi == L1KCU_LT_BIAS ? hbias[j] : 0.0);
    }
    for (int j = N; j < ldc; j++) ref[(size_t)i * ldc + j] = hc[(size_t)i * ldc + j]; /* untouched */
  }
  /* device */
  uint16_t *da = NULL, *db = NULL;
  float *dc = NULL, *dbias = NULL;
  int ok = cudaMalloc((void **)&da, (na + off) * 2) == cudaSuccess &&
           cudaMalloc((void **)&db, (nb + off) * 2) == cudaSuccess &&
           cudaMalloc((void **)&dc, nc * 4) == cudaSuccess &&
           cudaMalloc((void **)&dbias, (size_t)(M > N ? M : N) * 4) == cudaSuccess;
  CHECK(ok);
  if (ok) {
    cudaMemcpy(da, ha, (na + off) * 2, cudaMemcpyHostToDevice);
    cudaMemcpy(db, hb, (nb + off) * 2, cudaMemcpyHostToDevice);
    cudaMemcpy(dc, hc, nc * 4, cudaMemcpyHostToDevice);
    cudaMemcpy(dbias, hbias, (size_t)N * 4, cudaMemcpyHostToDevice);
    l1k_err err = {0};
    int rc = l1kcu_lt_matmul(lt, ta, tb, M, N, K, 1.0f, da + off, lda, db + off, ldb, beta, dc, ldc,
                             epi, epi == L1KCU_LT_NONE ? NULL : dbias, &err);
    char what[160];
    snprintf(what, sizeof what, "lt %s%s M=%d N=%d K=%d pad=%d off=%d beta=%g%s", ta ? "T" : "N",
             tb ? "T" : "N", M, N, K, pad, off, beta,
             epi == L1KCU_LT_BIAS ? " +bias" : epi == L1KCU_LT_BGRAD ? " +bgrad" : "");
    /* a GPU's cuBLASLt may have no algorithm for an epilogue (the backend then falls back and
     * says nothing); the emulation and every plain product must run */
    int may_refuse = epi != L1KCU_LT_NONE && !getenv("LONG1K_CUDA_EMULATED");
    if (rc == L1K_EUNSUPPORTED && may_refuse)
      fprintf(stderr, "%-64s refused by this cuBLASLt (the backend falls back)\n", what);
    else CHECK_MSG(rc == 0, "%s: rc %d: %s", what, rc, err.msg);
    if (!rc && cudaDeviceSynchronize() == cudaSuccess) {
      cudaMemcpy(out, dc, nc * 4, cudaMemcpyDeviceToHost);
      /* the [M, N] product; the padding columns of C left as they were (bit for bit) */
      float *o2 = calloc((size_t)M * N, 4);
      double *r2 = calloc((size_t)M * N, sizeof *r2);
      if (!o2 || !r2) exit(1);
      int pad_same = 1;
      for (int i = 0; i < M; i++) {
        for (int j = 0; j < N; j++) {
          o2[(size_t)i * N + j] = out[(size_t)i * ldc + j];
          r2[(size_t)i * N + j] = ref[(size_t)i * ldc + j];
        }
        pad_same &= !memcmp(out + (size_t)i * ldc + N, hc + (size_t)i * ldc + N, (size_t)pad * 4);
      }
      report(what, rel_l2(o2, r2, (size_t)M * N), TOL);
      CHECK_MSG(pad_same, "%s: wrote into C's padding", what);
      free(o2), free(r2);
      if (epi == L1KCU_LT_BGRAD) {
        cudaMemcpy(hbias, dbias, (size_t)M * 4, cudaMemcpyDeviceToHost);
        strncat(what, ": bias gradient", sizeof what - strlen(what) - 1);
        report(what, rel_l2(hbias, rbias, (size_t)M), TOL);
      }
    }
  }
  cudaFree(da), cudaFree(db), cudaFree(dc), cudaFree(dbias);
  free(ha), free(hb), free(hc), free(hbias), free(out), free(ref), free(rbias);
}

static void products(void) {
  l1k_err err = {0};
  struct l1kcu_lt *lt = NULL;
  int rc = l1kcu_lt_open(&lt, &err);
  CHECK_MSG(rc == 0 && lt, "l1kcu_lt_open: %s", err.msg);
  if (!lt) return;
  /* the backend's shapes (cuda_model.c): rows x in -> out, with N tokens ragged */
  int rows[] = {1, 37, 133};
  for (int r = 0; r < 3; r++) {
    int T = rows[r];
    product(lt, 0, 1, T, 96, 64, 0, 0, 0.0f, L1KCU_LT_BIAS);  /* q = x Wq^T + b */
    product(lt, 0, 1, T, 40, 72, 0, 1, 0.0f, L1KCU_LT_BIAS);  /* odd out, 2-byte aligned W */
    product(lt, 0, 1, T, 176, 64, 0, 0, 0.0f, L1KCU_LT_NONE); /* gate / up */
    product(lt, 0, 0, T, 64, 176, 0, 0, 0.0f, L1KCU_LT_NONE); /* dx = dy W */
    product(lt, 0, 0, T, 64, 96, 0, 1, 1.0f, L1KCU_LT_NONE);  /* dx += dy W (k, v) */
    product(lt, 1, 0, 96, 64, T, 0, 0, 1.0f, L1KCU_LT_BGRAD); /* dW += dy^T x, db */
    product(lt, 1, 0, 40, 72, T, 0, 1, 1.0f, L1KCU_LT_NONE);
    product(lt, 0, 1, T, 50, 24, 3, 0, 0.0f, L1KCU_LT_NONE);  /* ld > rows */
  }
  product(lt, 0, 1, 64, 512, 64, 0, 0, 0.0f, L1KCU_LT_NONE); /* lm_head chunk */
  product(lt, 0, 0, 64, 64, 512, 0, 0, 0.0f, L1KCU_LT_NONE);
  product(lt, 1, 0, 512, 64, 64, 0, 0, 1.0f, L1KCU_LT_NONE);
  uint64_t runs = 0;
  int cached = 0, refused = 0;
  l1kcu_lt_stats(lt, &runs, &cached, &refused);
  /* the same shape again: no new cache entry */
  product(lt, 0, 1, 37, 96, 64, 0, 0, 0.0f, L1KCU_LT_BIAS);
  int cached2 = 0;
  l1kcu_lt_stats(lt, NULL, &cached2, NULL);
  fprintf(stderr, "cuBLASLt: %llu products, %d shapes cached, %d refused; a repeated shape: %d "
          "cached\n", (unsigned long long)runs, cached, refused, cached2);
  CHECK(cached2 == cached);
  if (getenv("LONG1K_CUDA_EMULATED")) CHECK(runs == 27 && refused == 0);
  /* an epilogue pointer that is not 16-byte aligned: refused without an error (the caller
   * falls back to cublasGemmEx and its own bias kernel) */
  float *bias = NULL, *c = NULL;
  uint16_t *a = NULL;
  if (cudaMalloc((void **)&bias, 64) == cudaSuccess && cudaMalloc((void **)&c, 64 * 4) == cudaSuccess &&
      cudaMalloc((void **)&a, 64 * 2) == cudaSuccess) {
    cudaMemset(a, 0, 64 * 2);
    l1k_err e2 = {0};
    rc = l1kcu_lt_matmul(lt, 0, 1, 8, 8, 8, 1.0f, a, 8, a, 8, 0.0f, c, 8, L1KCU_LT_BIAS, bias + 1, &e2);
    CHECK_MSG(rc == L1K_EUNSUPPORTED && e2.code == 0, "misaligned bias: rc %d (%s)", rc, e2.msg);
    rc = l1kcu_lt_matmul(lt, 0, 1, 8, 8, 8, 1.0f, a, 8, a, 8, 0.0f, c, 8, L1KCU_LT_BGRAD, bias, &e2);
    CHECK_MSG(rc == L1K_EUNSUPPORTED && e2.code == 0, "bgrad without ta: rc %d (%s)", rc, e2.msg);
  }
  cudaFree(bias), cudaFree(c), cudaFree(a);
  l1kcu_lt_close(lt);
}

/* ---------------------------------------------------------------- the model */

typedef struct mrun {
  float *logits, *grads;
  size_t nl, n;
  uint64_t lt_runs;
} mrun;

static int model_run(l1k_model *m, const l1k_batch *b, mrun *r, l1k_err *err) {
  memset(r, 0, sizeof *r);
  r->nl = (size_t)b->B * b->T * l1k_model_cfg(m)->vocab_size;
  r->n = l1k_model_num_params(m);
  r->logits = xmalloc(r->nl * 4);
  r->grads = xmalloc(r->n * 4);
  l1k_device_opts o = {L1K_DEVICE_PREC_BF16, 1, 0, 0, "device", 0};
  int64_t nt = l1k_batch_count_targets(b, err);
  int rc = l1k_model_attach(m, "cuda", &o, err);
  if (!rc) rc = l1k_model_forward(m, b, r->logits, NULL, NULL, err);
  if (!rc) l1k_model_zero_grads(m);
  if (!rc) rc = l1k_model_forward_backward(m, b, 1.0 / (double)nt, NULL, NULL, err);
  if (!rc) rc = l1k_model_grads_get(m, r->grads, 0, r->n, err);
  if (!rc) l1kcu_lt_stats(((cu_state *)m->be_state)->lt, &r->lt_runs, NULL, NULL);
  l1k_model_attach(m, "cpu", NULL, NULL);
  return rc;
}

static double rel_f(const float *a, const float *b, size_t n);

/* reference.json's 5 AdamW steps in the bf16 mode through cuBLASLt; the parameters after them
 * against params_after_5_steps.safetensors at the bf16 bound (what `long1k parity --precision
 * bf16` checks; it caught the BGRADB bias gradient, cublaslt.h) */
static void trajectory_bf16(l1k_model *m, const l1k_batch *b, const char *gdir) {
  l1k_err err = {0};
  char path[700];
  snprintf(path, sizeof path, "%s/reference.json", gdir);
  char *txt = l1k_read_file(path, NULL, &err);
  cJSON *meta = txt ? cJSON_Parse(txt) : NULL;
  free(txt);
  const cJSON *aw = cJSON_GetObjectItemCaseSensitive(meta, "adamw");
  const cJSON *betas = cJSON_GetObjectItemCaseSensitive(aw, "betas");
  const char *k[] = {"lr", "eps", "weight_decay", "clip_grad_norm", "steps"};
  double v[5] = {0};
  int ok = cJSON_IsObject(aw) && cJSON_GetArraySize(betas) == 2;
  for (int i = 0; i < 5 && ok; i++) {
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(aw, k[i]);
    ok = cJSON_IsNumber(x);
    if (ok) v[i] = x->valuedouble;
  }
  CHECK_MSG(ok, "%s: adamw lr / betas / eps / weight_decay / clip_grad_norm / steps", path);
  size_t n = l1k_model_num_params(m);
  float *p = xmalloc(n * 4);
  l1k_device_opts o = {L1K_DEVICE_PREC_BF16, 1, 0, 0, "device", 0};
  int64_t nt = l1k_batch_count_targets(b, &err);
  int rc = ok ? l1k_model_attach(m, "cuda", &o, &err) : 1;
  if (!rc)
    rc = l1k_model_optim_init(m, cJSON_GetArrayItem(betas, 0)->valuedouble,
                              cJSON_GetArrayItem(betas, 1)->valuedouble, v[1], v[2], 0, n, &err);
  for (int st = 0; st < (int)v[4] && !rc; st++) {
    double gn = 0;
    l1k_model_zero_grads(m);
    rc = l1k_model_forward_backward(m, b, 1.0 / (double)nt, NULL, NULL, &err);
    if (!rc) rc = l1k_model_step(m, v[0], v[3], 0, n, &gn, &err);
  }
  if (!rc) rc = l1k_model_params_get(m, p, 0, n, &err);
  CHECK_MSG(rc == 0, "bf16 trajectory: %s", err.msg);
  l1k_safetensors st;
  snprintf(path, sizeof path, "%s/params_after_5_steps.safetensors", gdir);
  if (!rc && !l1k_st_open(&st, path, &err)) {
    size_t ntens = 0;
    const l1k_tensor_info *ti = l1k_model_tensors(m, &ntens);
    double worst = 0;
    const char *wn = "";
    for (size_t i = 0; i < ntens; i++) {
      const l1k_st_tensor *t = l1k_st_find(&st, ti[i].name);
      if (!t || t->numel != ti[i].numel) continue;
      float *ref = xmalloc(t->numel * 4);
      l1k_st_to_f32(t, ref);
      double e = rel_f(p + ti[i].offset, ref, t->numel);
      if (e > worst) worst = e, wn = ti[i].name;
      free(ref);
    }
    char what[160];
    snprintf(what, sizeof what, "qwen2_tiny bf16 (cuBLASLt): params after %d AdamW steps (worst %.40s)",
             (int)v[4], wn);
    report(what, worst, BF16_TOL);
    l1k_st_close(&st);
  } else if (!rc) CHECK_MSG(0, "%s", err.msg);
  l1k_model_attach(m, "cpu", NULL, NULL);
  free(p);
  cJSON_Delete(meta);
}

static double rel_f(const float *a, const float *b, size_t n) {
  double d2 = 0, r2 = 0;
  for (size_t i = 0; i < n; i++) {
    double d = (double)a[i] - b[i];
    d2 += d * d;
    r2 += (double)b[i] * b[i];
  }
  if (!(d2 == d2)) return INFINITY;
  return r2 > 0 ? sqrt(d2 / r2) : sqrt(d2);
}

static int32_t *ids_of(const l1k_safetensors *st, const char *name, size_t n) {
  const l1k_st_tensor *t = l1k_st_find(st, name);
  if (!t || t->numel != n || (t->dtype != L1K_DT_I32 && t->dtype != L1K_DT_I64)) return NULL;
  int32_t *o = xmalloc(n * 4);
  for (size_t i = 0; i < n; i++) {
    int64_t v = 0;
    if (t->dtype == L1K_DT_I32) {
      int32_t w;
      memcpy(&w, (const char *)t->data + 4 * i, 4);
      v = w;
    } else memcpy(&v, (const char *)t->data + 8 * i, 8);
    o[i] = (int32_t)v;
  }
  return o;
}

static void model_check(void) {
  char dir[600], path[700];
  snprintf(dir, sizeof dir, "%s/qwen2_tiny/f32", shared_path("golden/models"));
  snprintf(path, sizeof path, "%s/qwen2_tiny/reference.safetensors", shared_path("golden/models"));
  if (!l1k_is_dir(dir)) {
    fprintf(stderr, "no golden models at %s: the model check is left out\n", shared_path("golden/models"));
    return;
  }
  l1k_err err = {0};
  l1k_safetensors st;
  l1k_model *m = l1k_model_load(dir, &err);
  CHECK_MSG(m != NULL, "%s", err.msg);
  if (!m) return;
  if (l1k_st_open(&st, path, &err)) {
    CHECK_MSG(0, "%s", err.msg);
    l1k_model_free(m);
    return;
  }
  const l1k_st_tensor *t = l1k_st_find(&st, "input_ids");
  int B = t ? (int)t->shape[0] : 0, T = t ? (int)t->shape[1] : 0;
  int32_t *ids = ids_of(&st, "input_ids", (size_t)B * T), *labels = ids_of(&st, "labels", (size_t)B * T);
  CHECK(ids && labels);
  mrun r[2];
  memset(r, 0, sizeof r);
  if (ids && labels) {
    l1k_batch b = {B, T, ids, labels, NULL, NULL};
    for (int lt = 0; lt < 2; lt++) {
      if (!lt) setenv("LONG1K_CUBLASLT", "0", 1);
      int rc = model_run(m, &b, &r[lt], &err);
      unsetenv("LONG1K_CUBLASLT");
      CHECK_MSG(rc == 0, "qwen2_tiny bf16 %s: %s", lt ? "cuBLASLt" : "GemmEx", err.msg);
    }
    CHECK_MSG(r[0].lt_runs == 0 && r[1].lt_runs > 0, "cuBLASLt products: %llu without, %llu with",
              (unsigned long long)r[0].lt_runs, (unsigned long long)r[1].lt_runs);
    fprintf(stderr, "qwen2_tiny bf16: %llu products through cuBLASLt\n", (unsigned long long)r[1].lt_runs);
    const l1k_st_tensor *lg = l1k_st_find(&st, "logits");
    size_t ntens = 0;
    const l1k_tensor_info *ti = l1k_model_tensors(m, &ntens);
    for (int lt = 0; lt < 2 && r[lt].logits; lt++) {
      const char *who = lt ? "cuBLASLt" : "cublasGemmEx";
      char what[128];
      if (lg && lg->numel == r[lt].nl) {
        float *ref = xmalloc(r[lt].nl * 4);
        l1k_st_to_f32(lg, ref);
        snprintf(what, sizeof what, "qwen2_tiny bf16 (%s): logits vs transformers", who);
        fprintf(stderr, "%-64s rel_err %.3e\n", what, rel_f(r[lt].logits, ref, r[lt].nl));
        CHECK(rel_f(r[lt].logits, ref, r[lt].nl) <= BF16_TOL);
        free(ref);
      }
      double worst = 0;
      for (size_t i = 0; i < ntens; i++) {
        char name[160];
        snprintf(name, sizeof name, "grad.%s", ti[i].name);
        const l1k_st_tensor *g = l1k_st_find(&st, name);
        if (!g || g->numel != ti[i].numel) continue;
        float *ref = xmalloc(g->numel * 4);
        l1k_st_to_f32(g, ref);
        double e = rel_f(r[lt].grads + ti[i].offset, ref, g->numel);
        worst = e > worst ? e : worst;
        free(ref);
      }
      snprintf(what, sizeof what, "qwen2_tiny bf16 (%s): worst gradient vs transformers", who);
      fprintf(stderr, "%-64s rel_err %.3e%s\n", what, worst, worst <= BF16_TOL ? "" : "  FAIL");
      CHECK(worst <= BF16_TOL);
    }
    char gdir[600];
    snprintf(gdir, sizeof gdir, "%s/qwen2_tiny", shared_path("golden/models"));
    trajectory_bf16(m, &b, gdir);
    if (r[0].logits && r[1].logits) {
      double wb = 0;
      for (size_t i = 0; i < ntens; i++)
        if (strstr(ti[i].name, "_proj.bias")) {
          double e = rel_f(r[1].grads + ti[i].offset, r[0].grads + ti[i].offset, ti[i].numel);
          wb = e > wb ? e : wb;
        }
      fprintf(stderr, "qwen2_tiny bf16, cuBLASLt vs cublasGemmEx: logits %.3e, gradients %.3e, "
              "worst bias gradient %.3e (reported)\n", rel_f(r[1].logits, r[0].logits, r[0].nl),
              rel_f(r[1].grads, r[0].grads, r[0].n), wb);
    }
  }
  for (int i = 0; i < 2; i++) free(r[i].logits), free(r[i].grads);
  free(ids), free(labels);
  l1k_st_close(&st);
  l1k_model_free(m);
}
#endif

int main(void) {
  setenv("OMP_NUM_THREADS", "1", 0);
#ifndef LONG1K_HAVE_CUDA
  SKIP("long1k was built without the CUDA backend (no nvcc at build time)");
#else
  char why[256];
  if (!l1k_backend_cuda_ops.available(why, sizeof why)) SKIP("%s", why);
  products();
  model_check();
#endif
  CHECK_DONE();
}
