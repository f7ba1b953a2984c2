/* long1k — attention through cuDNN's fused SDPA (attn_cudnn.h). The host logic (documents as
 * a ragged batch, offsets, the choice of implementation) is compiled in every build; the
 * cuDNN part needs cudnn.h at build time (LONG1K_HAVE_CUDNN, set by CMake when it finds it)
 * and libcudnn.so.9 at run time. The graphs follow the operation pattern of cuDNN's SDPA
 * support (learned from NVIDIA/cudnn-frontend's composite SDPA nodes; no code taken): the
 * forward is S = Q K^T * scale, padding mask (per-document lengths), causal mask, softmax with
 * statistics max + log(sum exp), O = P V; the backward recomputes P from the statistics and
 * forms dV = P^T dO, dS = P * (dO V^T - rowsum(dO * O)) * scale, dK = dS^T Q, dQ = dS K
 * (through a float32 accumulator), with dK / dV of a kv head summed over its query heads.
 * Compiled, not yet run on a GPU. */
#include "backend/cuda/attn_cudnn.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- documents (host logic) */

static int docs_grow(l1kcu_docs *d, int need, l1k_err *err) {
  if (need <= d->cap) return 0;
  int cap = d->cap ? d->cap : 16;
  while (cap < need) cap *= 2;
  int32_t *s = l1k_realloc(d->start, (size_t)(cap + 1) * sizeof *s, err);
  if (!s) return L1K_ENOMEM;
  d->start = s;
  int32_t *l = l1k_realloc(d->len, (size_t)cap * sizeof *l, err);
  if (!l) return L1K_ENOMEM;
  d->len = l;
  d->cap = cap;
  return 0;
}

/* One document of row b starting at position t: checks that every token of it names the
 * same bounds; returns its end (exclusive) or -1 with one line in err. */
static int doc_at(const int32_t *seg, const int32_t *seg_end, int b, int t, int T, l1k_err *err) {
  size_t r = (size_t)b * T + t;
  int e = seg_end[r];
  if (seg[r] != t || e <= t || e > T) {
    l1k_errf(err, L1K_EINPUT,
             "cuDNN attention: row %d position %d: document bounds [%d, %d) (expected a document "
             "starting at %d and ending within the row of %d tokens)", b, t, seg[r], e, t, T);
    return -1;
  }
  for (int u = t + 1; u < e; u++)
    if (seg[r + (size_t)(u - t)] != t || seg_end[r + (size_t)(u - t)] != e) {
      l1k_errf(err, L1K_EINPUT,
               "cuDNN attention: row %d position %d: document bounds [%d, %d) (expected [%d, %d) "
               "as the token before)", b, u, seg[r + (size_t)(u - t)], seg_end[r + (size_t)(u - t)],
               t, e);
      return -1;
    }
  return e;
}

int l1kcu_docs_layout(l1kcu_docs *d, const int32_t *seg, const int32_t *seg_end, int B, int T,
                      int bucket, l1k_err *err) {
  if (B <= 0 || T <= 0 || (int64_t)B * T > INT32_MAX)
    return l1k_errf(err, L1K_EINPUT, "cuDNN attention: batch of %d rows x %d tokens (expected "
                    "positive sizes, at most 2^31 tokens)", B, T);
  int n = 0, max_len = 0;
  for (int b = 0; b < B; b++)
    for (int t = 0; t < T;) {
      int e = doc_at(seg, seg_end, b, t, T, err);
      if (e < 0) return L1K_EINPUT;
      int rc = docs_grow(d, n + 1, err);
      if (rc) return rc;
      d->start[n] = (int32_t)((size_t)b * T + t);
      d->len[n++] = e - t;
      if (e - t > max_len) max_len = e - t;
      t = e;
    }
  int nb = n;
  if (bucket)
    for (nb = 1; nb < n; nb *= 2) {
    }
  int rc = docs_grow(d, nb, err);
  if (rc) return rc;
  for (int i = n; i < nb; i++) d->start[i] = B * T, d->len[i] = 0;
  d->start[nb] = B * T;
  d->n = n, d->nb = nb, d->max_len = max_len;
  return 0;
}

void l1kcu_docs_free(l1kcu_docs *d) {
  free(d->start);
  free(d->len);
  memset(d, 0, sizeof *d);
}

int l1kcu_docs_offsets(const l1kcu_docs *d, int64_t width, int32_t *off, l1k_err *err) {
  for (int i = 0; i <= d->nb; i++) {
    int64_t o = (int64_t)d->start[i] * width;
    if (o > INT32_MAX)
      return l1k_errf(err, L1K_EINPUT, "cuDNN attention: ragged offset %lld of document %d does "
                      "not fit in int32 (tokens x %lld elements)", (long long)o, i, (long long)width);
    off[i] = (int32_t)o;
  }
  return 0;
}

int l1kcu_attn_choice(int bf16, int deterministic, l1k_err *err) {
  const char *e = getenv("LONG1K_ATTN");
  if (!bf16) return 0;
  /* auto: not yet (the first GPU run decides between cuDNN, flash_bf16 and the float32 kernels;
   * docs/gpu.md) */
  if (!e || !*e || !strcmp(e, "auto")) return 0;
  if (!strcmp(e, "own") || !strcmp(e, "f32") || !strcmp(e, "flash_bf16")) return 0; /* attention.c */
  if (!strcmp(e, "cudnn")) return 1;
  l1k_errf(err, L1K_EINPUT, "LONG1K_ATTN=%s (expected own, f32, flash_bf16, cudnn or auto)", e);
  return -1;
}

#ifdef LONG1K_HAVE_CUDNN
/* ================================================================ the cuDNN part */
#include <cuda_runtime_api.h>
#include <cudnn.h>
#include <dlfcn.h>
#include <float.h>
#include <math.h>
#include <pthread.h>
#include <stdbool.h>

#include "backend/cuda/kernels.h"

/* ---------------------------------------------------------------- the library */

typedef struct dnn_fns {
  size_t (*version)(void);
  cudnnStatus_t (*create)(cudnnHandle_t *);
  cudnnStatus_t (*destroy)(cudnnHandle_t);
  const char *(*errstr)(cudnnStatus_t);
  void (*lasterr)(char *, size_t);
  cudnnStatus_t (*bcreate)(cudnnBackendDescriptorType_t, cudnnBackendDescriptor_t *);
  cudnnStatus_t (*bdestroy)(cudnnBackendDescriptor_t);
  cudnnStatus_t (*bset)(cudnnBackendDescriptor_t, cudnnBackendAttributeName_t,
                        cudnnBackendAttributeType_t, int64_t, const void *);
  cudnnStatus_t (*bget)(cudnnBackendDescriptor_t const, cudnnBackendAttributeName_t,
                        cudnnBackendAttributeType_t, int64_t, int64_t *, void *);
  cudnnStatus_t (*bfinal)(cudnnBackendDescriptor_t);
  cudnnStatus_t (*bexec)(cudnnHandle_t, cudnnBackendDescriptor_t, cudnnBackendDescriptor_t);
} dnn_fns;

static int load_fns(void *lib, dnn_fns *f, char *why, size_t n) {
  struct { const char *name; void *slot; } tab[] = {
      {"cudnnGetVersion", &f->version},
      {"cudnnCreate", &f->create},
      {"cudnnDestroy", &f->destroy},
      {"cudnnGetErrorString", &f->errstr},
      {"cudnnGetLastErrorString", &f->lasterr},
      {"cudnnBackendCreateDescriptor", &f->bcreate},
      {"cudnnBackendDestroyDescriptor", &f->bdestroy},
      {"cudnnBackendSetAttribute", &f->bset},
      {"cudnnBackendGetAttribute", &f->bget},
      {"cudnnBackendFinalize", &f->bfinal},
      {"cudnnBackendExecute", &f->bexec},
  };
  for (size_t i = 0; i < sizeof tab / sizeof tab[0]; i++) {
    void *p = dlsym(lib, tab[i].name);
    if (!p) {
      snprintf(why, n, "libcudnn has no %s", tab[i].name);
      return 1;
    }
    memcpy(tab[i].slot, &p, sizeof p); /* POSIX: object and function pointers convert */
  }
  return 0;
}

/* ---------------------------------------------------------------- graph building */

enum { GB_MAX_DESC = 192, GB_MAX_OPS = 64, MAX_PLANS = 8 };

/* The tensors a graph reads or writes (the variant pack's unique ids); virtual tensors take
 * ids from UID_VIRTUAL up. */
enum {
  UID_Q = 1, UID_K, UID_V, UID_O, UID_STATS, UID_DO, UID_DQ, UID_DK, UID_DV,
  UID_SCALE, UID_NEG_INF, UID_ONE, UID_SEQ_Q, UID_SEQ_KV, UID_OFF_Q, UID_OFF_KV, UID_OFF_ST,
  UID_SOFTSUM, UID_DQ_ACC, UID_DK_FULL, UID_DV_FULL, UID_VIRTUAL = 100
};

typedef struct shape {
  int dir; /* 0 forward, 1 backward */
  int64_t b, H, G, s, d; /* batch entries, query heads, kv heads, longest entry, head_dim */
} shape;

typedef struct gb {
  const dnn_fns *f;
  long version;
  shape p;
  cudnnBackendDescriptor_t desc[GB_MAX_DESC]; /* every descriptor made, kept with the plan */
  int nd;
  cudnnBackendDescriptor_t ops[GB_MAX_OPS];
  int nops;
  int64_t vuid;
  int failed;
  char what[400]; /* the first failing step, cuDNN's status and its last error message */
} gb;

static void gb_fail(gb *g, const char *step, cudnnStatus_t st) {
  if (g->failed) return;
  g->failed = 1;
  char last[256] = "";
  g->f->lasterr(last, sizeof last);
  for (char *c = last; *c; c++)
    if (*c == '\n') *c = ' ';
  snprintf(g->what, sizeof g->what, "%s: %s%s%s", step, g->f->errstr(st), last[0] ? ": " : "", last);
}

static cudnnBackendDescriptor_t gb_new(gb *g, cudnnBackendDescriptorType_t t, const char *step) {
  if (g->failed) return NULL;
  if (g->nd == GB_MAX_DESC) {
    snprintf(g->what, sizeof g->what, "%s: more than %d descriptors", step, GB_MAX_DESC);
    g->failed = 1;
    return NULL;
  }
  cudnnBackendDescriptor_t d = NULL;
  cudnnStatus_t st = g->f->bcreate(t, &d);
  if (st != CUDNN_STATUS_SUCCESS) {
    char s[160];
    snprintf(s, sizeof s, "%s: create descriptor type %d", step, (int)t);
    gb_fail(g, s, st);
    return NULL;
  }
  g->desc[g->nd++] = d;
  return d;
}

static void gb_set(gb *g, cudnnBackendDescriptor_t d, cudnnBackendAttributeName_t a,
                   cudnnBackendAttributeType_t t, int64_t n, const void *v, const char *step) {
  if (g->failed) return;
  cudnnStatus_t st = g->f->bset(d, a, t, n, v);
  if (st != CUDNN_STATUS_SUCCESS) {
    char s[160];
    snprintf(s, sizeof s, "%s: set attribute %d", step, (int)a);
    gb_fail(g, s, st);
  }
}

static void gb_fin(gb *g, cudnnBackendDescriptor_t d, const char *step) {
  if (g->failed) return;
  cudnnStatus_t st = g->f->bfinal(d);
  if (st != CUDNN_STATUS_SUCCESS) {
    char s[160];
    snprintf(s, sizeof s, "%s: finalize", step);
    gb_fail(g, s, st);
  }
}

static void gb_setd(gb *g, cudnnBackendDescriptor_t d, cudnnBackendAttributeName_t a,
                    cudnnBackendDescriptor_t v, const char *step) {
  gb_set(g, d, a, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &v, step);
}

/* A tensor: uid 0 = the next virtual id. ragged: its ragged-offset tensor, or NULL. */
static cudnnBackendDescriptor_t gb_tensor(gb *g, const char *name, int64_t uid, cudnnDataType_t dt,
                                          const int64_t dim[4], const int64_t str[4], int virt,
                                          int byval, cudnnBackendDescriptor_t ragged) {
  cudnnBackendDescriptor_t t = gb_new(g, CUDNN_BACKEND_TENSOR_DESCRIPTOR, name);
  if (!t) return NULL;
  int64_t id = uid ? uid : g->vuid++, align = 16;
  bool v = virt != 0, bv = byval != 0;
  gb_set(g, t, CUDNN_ATTR_TENSOR_DATA_TYPE, CUDNN_TYPE_DATA_TYPE, 1, &dt, name);
  gb_set(g, t, CUDNN_ATTR_TENSOR_DIMENSIONS, CUDNN_TYPE_INT64, 4, dim, name);
  gb_set(g, t, CUDNN_ATTR_TENSOR_STRIDES, CUDNN_TYPE_INT64, 4, str, name);
  gb_set(g, t, CUDNN_ATTR_TENSOR_UNIQUE_ID, CUDNN_TYPE_INT64, 1, &id, name);
  gb_set(g, t, CUDNN_ATTR_TENSOR_BYTE_ALIGNMENT, CUDNN_TYPE_INT64, 1, &align, name);
  gb_set(g, t, CUDNN_ATTR_TENSOR_IS_VIRTUAL, CUDNN_TYPE_BOOLEAN, 1, &v, name);
  if (byval) gb_set(g, t, CUDNN_ATTR_TENSOR_IS_BY_VALUE, CUDNN_TYPE_BOOLEAN, 1, &bv, name);
  if (ragged) gb_setd(g, t, CUDNN_ATTR_TENSOR_RAGGED_OFFSET_DESC, ragged, name);
  gb_fin(g, t, name);
  return t;
}

/* Virtual tensors of the graphs' shapes: scores [b, H, s, s], their transpose (a reshape's
 * view), per-row values [b, H, s, 1]. */
static cudnnBackendDescriptor_t v_scores(gb *g, const char *name, cudnnDataType_t dt) {
  const shape *p = &g->p;
  int64_t dim[4] = {p->b, p->H, p->s, p->s}, str[4] = {p->H * p->s * p->s, p->s * p->s, p->s, 1};
  return gb_tensor(g, name, 0, dt, dim, str, 1, 0, NULL);
}
static cudnnBackendDescriptor_t v_scores_t(gb *g, const char *name, cudnnDataType_t dt) {
  const shape *p = &g->p;
  int64_t dim[4] = {p->b, p->H, p->s, p->s}, str[4] = {p->H * p->s * p->s, p->s * p->s, 1, p->s};
  return gb_tensor(g, name, 0, dt, dim, str, 1, 0, NULL);
}
static cudnnBackendDescriptor_t v_rows(gb *g, const char *name) {
  const shape *p = &g->p;
  int64_t dim[4] = {p->b, p->H, p->s, 1}, str[4] = {p->H * p->s, p->s, 1, 1};
  return gb_tensor(g, name, 0, CUDNN_DATA_FLOAT, dim, str, 1, 0, NULL);
}

static void gb_op(gb *g, cudnnBackendDescriptor_t op, const char *name) {
  gb_fin(g, op, name);
  if (g->failed) return;
  if (g->nops == GB_MAX_OPS) {
    snprintf(g->what, sizeof g->what, "%s: more than %d operations", name, GB_MAX_OPS);
    g->failed = 1;
    return;
  }
  g->ops[g->nops++] = op;
}

/* y = mode(x, b) (t: the condition of a binary select); axis >= 0 for GEN_INDEX. */
static cudnnBackendDescriptor_t gb_pw(gb *g, const char *name, cudnnPointwiseMode_t mode,
                                      cudnnDataType_t prec, cudnnBackendDescriptor_t x,
                                      cudnnBackendDescriptor_t b, cudnnBackendDescriptor_t t,
                                      cudnnBackendDescriptor_t y, int64_t axis) {
  cudnnBackendDescriptor_t pw = gb_new(g, CUDNN_BACKEND_POINTWISE_DESCRIPTOR, name);
  if (!pw) return NULL;
  gb_set(g, pw, CUDNN_ATTR_POINTWISE_MODE, CUDNN_TYPE_POINTWISE_MODE, 1, &mode, name);
  gb_set(g, pw, CUDNN_ATTR_POINTWISE_MATH_PREC, CUDNN_TYPE_DATA_TYPE, 1, &prec, name);
  if (axis >= 0) gb_set(g, pw, CUDNN_ATTR_POINTWISE_AXIS, CUDNN_TYPE_INT64, 1, &axis, name);
  gb_fin(g, pw, name);
  cudnnBackendDescriptor_t op = gb_new(g, CUDNN_BACKEND_OPERATION_POINTWISE_DESCRIPTOR, name);
  if (!op) return NULL;
  float one = 1.0f;
  gb_setd(g, op, CUDNN_ATTR_OPERATION_POINTWISE_PW_DESCRIPTOR, pw, name);
  gb_setd(g, op, CUDNN_ATTR_OPERATION_POINTWISE_XDESC, x, name);
  if (b) gb_setd(g, op, CUDNN_ATTR_OPERATION_POINTWISE_BDESC, b, name);
  if (t) gb_setd(g, op, CUDNN_ATTR_OPERATION_POINTWISE_TDESC, t, name);
  gb_setd(g, op, CUDNN_ATTR_OPERATION_POINTWISE_YDESC, y, name);
  gb_set(g, op, CUDNN_ATTR_OPERATION_POINTWISE_ALPHA1, CUDNN_TYPE_FLOAT, 1, &one, name);
  gb_set(g, op, CUDNN_ATTR_OPERATION_POINTWISE_ALPHA2, CUDNN_TYPE_FLOAT, 1, &one, name);
  gb_op(g, op, name);
  return y;
}

/* A pointwise op whose output is a new virtual tensor of the scores' shape. */
static cudnnBackendDescriptor_t pw_s(gb *g, const char *name, cudnnPointwiseMode_t mode,
                                     cudnnDataType_t prec, cudnnDataType_t out,
                                     cudnnBackendDescriptor_t x, cudnnBackendDescriptor_t b,
                                     cudnnBackendDescriptor_t t, int64_t axis) {
  return gb_pw(g, name, mode, prec, x, b, t, v_scores(g, name, out), axis);
}

/* c = a b over the last two dimensions, with the GEMM's m / n / k limited per batch entry. */
static void gb_mm(gb *g, const char *name, cudnnBackendDescriptor_t a, cudnnBackendDescriptor_t b,
                  cudnnBackendDescriptor_t c, cudnnBackendDescriptor_t m_ovr,
                  cudnnBackendDescriptor_t n_ovr, cudnnBackendDescriptor_t k_ovr) {
  cudnnBackendDescriptor_t mm = gb_new(g, CUDNN_BACKEND_MATMUL_DESCRIPTOR, name);
  if (!mm) return;
  cudnnDataType_t f32 = CUDNN_DATA_FLOAT;
  gb_set(g, mm, CUDNN_ATTR_MATMUL_COMP_TYPE, CUDNN_TYPE_DATA_TYPE, 1, &f32, name);
  gb_fin(g, mm, name);
  cudnnBackendDescriptor_t op = gb_new(g, CUDNN_BACKEND_OPERATION_MATMUL_DESCRIPTOR, name);
  if (!op) return;
  gb_setd(g, op, CUDNN_ATTR_OPERATION_MATMUL_ADESC, a, name);
  gb_setd(g, op, CUDNN_ATTR_OPERATION_MATMUL_BDESC, b, name);
  gb_setd(g, op, CUDNN_ATTR_OPERATION_MATMUL_CDESC, c, name);
  gb_setd(g, op, CUDNN_ATTR_OPERATION_MATMUL_DESC, mm, name);
  if (m_ovr) gb_setd(g, op, CUDNN_ATTR_OPERATION_MATMUL_GEMM_M_OVERRIDE_DESC, m_ovr, name);
  if (n_ovr) gb_setd(g, op, CUDNN_ATTR_OPERATION_MATMUL_GEMM_N_OVERRIDE_DESC, n_ovr, name);
  if (k_ovr) gb_setd(g, op, CUDNN_ATTR_OPERATION_MATMUL_GEMM_K_OVERRIDE_DESC, k_ovr, name);
  gb_op(g, op, name);
}

static void gb_red(gb *g, const char *name, cudnnReduceTensorOp_t mode, cudnnBackendDescriptor_t x,
                   cudnnBackendDescriptor_t y) {
  cudnnBackendDescriptor_t r = gb_new(g, CUDNN_BACKEND_REDUCTION_DESCRIPTOR, name);
  if (!r) return;
  cudnnDataType_t f32 = CUDNN_DATA_FLOAT;
  gb_set(g, r, CUDNN_ATTR_REDUCTION_COMP_TYPE, CUDNN_TYPE_DATA_TYPE, 1, &f32, name);
  gb_set(g, r, CUDNN_ATTR_REDUCTION_OPERATOR, CUDNN_TYPE_REDUCTION_OPERATOR_TYPE, 1, &mode, name);
  gb_fin(g, r, name);
  cudnnBackendDescriptor_t op = gb_new(g, CUDNN_BACKEND_OPERATION_REDUCTION_DESCRIPTOR, name);
  if (!op) return;
  gb_setd(g, op, CUDNN_ATTR_OPERATION_REDUCTION_XDESC, x, name);
  gb_setd(g, op, CUDNN_ATTR_OPERATION_REDUCTION_YDESC, y, name);
  gb_setd(g, op, CUDNN_ATTR_OPERATION_REDUCTION_DESC, r, name);
  gb_op(g, op, name);
}

static void gb_reshape(gb *g, const char *name, cudnnBackendDescriptor_t x, cudnnBackendDescriptor_t y) {
  cudnnBackendDescriptor_t op = gb_new(g, CUDNN_BACKEND_OPERATION_RESHAPE_DESCRIPTOR, name);
  if (!op) return;
  gb_setd(g, op, CUDNN_ATTR_OPERATION_RESHAPE_XDESC, x, name);
  gb_setd(g, op, CUDNN_ATTR_OPERATION_RESHAPE_YDESC, y, name);
  gb_op(g, op, name);
}

/* ---------------------------------------------------------------- the SDPA graphs */

/* The tensors both graphs share. */
typedef struct io_t {
  cudnnBackendDescriptor_t q, kt, v, vt, o, stats, scale, ninf, one, seq_q, seq_kv, off_q,
      off_kv, off_st;
} io_t;

static void common_tensors(gb *g, io_t *t) {
  const shape *p = &g->p;
  int64_t b = p->b, H = p->H, G = p->G, s = p->s, d = p->d;
  int64_t one4[4] = {1, 1, 1, 1}, db1[4] = {b + 1, 1, 1, 1}, db[4] = {b, 1, 1, 1};
  cudnnDataType_t i32 = CUDNN_DATA_INT32, f32 = CUDNN_DATA_FLOAT, bf = CUDNN_DATA_BFLOAT16;
  t->off_q = gb_tensor(g, "ragged offsets of Q / O", UID_OFF_Q, i32, db1, one4, 0, 0, NULL);
  t->off_kv = gb_tensor(g, "ragged offsets of K / V", UID_OFF_KV, i32, db1, one4, 0, 0, NULL);
  t->off_st = gb_tensor(g, "ragged offsets of the statistics", UID_OFF_ST, i32, db1, one4, 0, 0, NULL);
  t->seq_q = gb_tensor(g, "document lengths (q)", UID_SEQ_Q, i32, db, one4, 0, 0, NULL);
  t->seq_kv = gb_tensor(g, "document lengths (kv)", UID_SEQ_KV, i32, db, one4, 0, 0, NULL);
  t->scale = gb_tensor(g, "attention scale", UID_SCALE, f32, one4, one4, 0, 1, NULL);
  t->ninf = gb_tensor(g, "mask value", UID_NEG_INF, f32, one4, one4, 0, 1, NULL);
  int64_t qdim[4] = {b, H, s, d}, qstr[4] = {s * H * d, d, H * d, 1};
  int64_t ktdim[4] = {b, G, d, s}, ktstr[4] = {s * G * d, d, 1, G * d};
  int64_t vdim[4] = {b, G, s, d}, vstr[4] = {s * G * d, d, G * d, 1};
  int64_t sdim[4] = {b, H, s, 1}, sstr[4] = {s * H, 1, H, 1};
  t->q = gb_tensor(g, "Q", UID_Q, bf, qdim, qstr, 0, 0, t->off_q);
  t->kt = gb_tensor(g, "K^T", UID_K, bf, ktdim, ktstr, 0, 0, t->off_kv);
  t->o = gb_tensor(g, "O", UID_O, bf, qdim, qstr, 0, 0, t->off_q);
  t->stats = gb_tensor(g, "statistics (log-sum-exp)", UID_STATS, f32, sdim, sstr, 0, 0, t->off_st);
  if (p->dir == 0)
    t->v = gb_tensor(g, "V", UID_V, bf, vdim, vstr, 0, 0, t->off_kv);
  else {
    t->vt = gb_tensor(g, "V^T", UID_V, bf, ktdim, ktstr, 0, 0, t->off_kv);
    t->one = gb_tensor(g, "one", UID_ONE, f32, one4, one4, 0, 1, NULL);
  }
}

/* Scores outside each entry's length set to the mask value. */
static cudnnBackendDescriptor_t padding_mask(gb *g, const io_t *t, cudnnBackendDescriptor_t S) {
  cudnnDataType_t i32 = CUDNN_DATA_INT32, bo = CUDNN_DATA_BOOLEAN, f32 = CUDNN_DATA_FLOAT;
  cudnnBackendDescriptor_t r = pw_s(g, "padding: row index", CUDNN_POINTWISE_GEN_INDEX, i32, i32, S, NULL, NULL, 2);
  cudnnBackendDescriptor_t c = pw_s(g, "padding: column index", CUDNN_POINTWISE_GEN_INDEX, i32, i32, S, NULL, NULL, 3);
  cudnnBackendDescriptor_t rm = pw_s(g, "padding: row < length", CUDNN_POINTWISE_CMP_LT, bo, bo, r, t->seq_q, NULL, -1);
  cudnnBackendDescriptor_t cm = pw_s(g, "padding: column < length", CUDNN_POINTWISE_CMP_LT, bo, bo, c, t->seq_kv, NULL, -1);
  cudnnBackendDescriptor_t m = pw_s(g, "padding: and", CUDNN_POINTWISE_LOGICAL_AND, bo, bo, rm, cm, NULL, -1);
  return pw_s(g, "padding: select", CUDNN_POINTWISE_BINARY_SELECT, f32, f32, S, t->ninf, m, -1);
}

/* Scores above the diagonal (key after query, top-left aligned) set to the mask value. */
static cudnnBackendDescriptor_t causal_mask(gb *g, const io_t *t, cudnnBackendDescriptor_t S) {
  cudnnDataType_t i32 = CUDNN_DATA_INT32, bo = CUDNN_DATA_BOOLEAN, f32 = CUDNN_DATA_FLOAT;
  cudnnBackendDescriptor_t r = pw_s(g, "causal: row index", CUDNN_POINTWISE_GEN_INDEX, f32, i32, S, NULL, NULL, 2);
  cudnnBackendDescriptor_t c = pw_s(g, "causal: column index", CUDNN_POINTWISE_GEN_INDEX, f32, i32, S, NULL, NULL, 3);
  cudnnBackendDescriptor_t ge = pw_s(g, "causal: row >= column", CUDNN_POINTWISE_CMP_GE, bo, bo, r, c, NULL, -1);
  return pw_s(g, "causal: select", CUDNN_POINTWISE_BINARY_SELECT, f32, f32, S, t->ninf, ge, -1);
}

/* S = mask(Q K^T * scale) (the part both graphs share). */
static cudnnBackendDescriptor_t masked_scores(gb *g, const io_t *t, int stats_sub) {
  cudnnDataType_t f32 = CUDNN_DATA_FLOAT;
  cudnnBackendDescriptor_t S = v_scores(g, "scores", f32);
  gb_mm(g, "Q K^T", t->q, t->kt, S, t->seq_q, t->seq_kv, NULL);
  S = pw_s(g, "scale", CUDNN_POINTWISE_MUL, f32, f32, S, t->scale, NULL, -1);
  S = padding_mask(g, t, S);
  if (stats_sub) {
    S = pw_s(g, "scores - statistics", CUDNN_POINTWISE_SUB, f32, f32, S, t->stats, NULL, -1);
    /* cuDNN 9.0-9.9 wants the padding value again after the statistics (as the frontend) */
    if (g->version >= 90000 && g->version < 91000) S = padding_mask(g, t, S);
  }
  return causal_mask(g, t, S);
}

static void build_fw(gb *g) {
  io_t t = {0};
  common_tensors(g, &t);
  cudnnDataType_t f32 = CUDNN_DATA_FLOAT;
  cudnnBackendDescriptor_t S = masked_scores(g, &t, 0);
  cudnnBackendDescriptor_t M = v_rows(g, "row max");
  gb_red(g, "row max", CUDNN_REDUCE_TENSOR_MAX, S, M);
  cudnnBackendDescriptor_t X = pw_s(g, "scores - max", CUDNN_POINTWISE_SUB, f32, f32, S, M, NULL, -1);
  cudnnBackendDescriptor_t E = pw_s(g, "exp", CUDNN_POINTWISE_EXP, f32, f32, X, NULL, NULL, -1);
  cudnnBackendDescriptor_t Z = v_rows(g, "row sum");
  gb_red(g, "row sum", CUDNN_REDUCE_TENSOR_ADD, E, Z);
  cudnnBackendDescriptor_t LZ = gb_pw(g, "log of the sum", CUDNN_POINTWISE_LOG, f32, Z, NULL, NULL,
                                      v_rows(g, "log of the sum"), -1);
  gb_pw(g, "statistics = max + log(sum)", CUDNN_POINTWISE_ADD, f32, M, LZ, NULL, t.stats, -1);
  cudnnBackendDescriptor_t P = pw_s(g, "softmax", CUDNN_POINTWISE_DIV, f32, CUDNN_DATA_BFLOAT16, E, Z, NULL, -1);
  gb_mm(g, "P V", P, t.v, t.o, t.seq_q, NULL, t.seq_kv);
}

/* dX (kv head) = A B summed over the query heads of its group: directly when H == G, else
 * through a full-head bf16 tensor with ragged offsets (cuDNN scales the kv offsets by H / G). */
static void kv_grad(gb *g, const io_t *t, const char *name, cudnnBackendDescriptor_t A,
                    cudnnBackendDescriptor_t B, cudnnBackendDescriptor_t out, int64_t full_uid) {
  const shape *p = &g->p;
  if (p->H == p->G) {
    gb_mm(g, name, A, B, out, t->seq_kv, NULL, t->seq_q);
    return;
  }
  int64_t dim[4] = {p->b, p->H, p->s, p->d}, str[4] = {p->s * p->H * p->d, p->d, p->H * p->d, 1};
  cudnnBackendDescriptor_t full = gb_tensor(g, name, full_uid, CUDNN_DATA_BFLOAT16, dim, str, 0, 0, t->off_kv);
  gb_mm(g, name, A, B, full, t->seq_kv, NULL, t->seq_q);
  gb_red(g, name, CUDNN_REDUCE_TENSOR_ADD, full, out);
}

static void build_bw(gb *g) {
  const shape *p = &g->p;
  int64_t b = p->b, H = p->H, G = p->G, s = p->s, d = p->d;
  io_t t = {0};
  common_tensors(g, &t);
  cudnnDataType_t f32 = CUDNN_DATA_FLOAT, bf = CUDNN_DATA_BFLOAT16;
  int64_t qdim[4] = {b, H, s, d}, qstr[4] = {s * H * d, d, H * d, 1};
  int64_t vdim[4] = {b, G, s, d}, vstr[4] = {s * G * d, d, G * d, 1};
  int64_t sdim[4] = {b, H, s, 1}, sstr[4] = {s * H, 1, H, 1};
  cudnnBackendDescriptor_t dO = gb_tensor(g, "dO", UID_DO, bf, qdim, qstr, 0, 0, t.off_q);
  cudnnBackendDescriptor_t dQ = gb_tensor(g, "dQ", UID_DQ, bf, qdim, qstr, 0, 0, t.off_q);
  cudnnBackendDescriptor_t dK = gb_tensor(g, "dK", UID_DK, bf, vdim, vstr, 0, 0, t.off_kv);
  cudnnBackendDescriptor_t dV = gb_tensor(g, "dV", UID_DV, bf, vdim, vstr, 0, 0, t.off_kv);
  cudnnBackendDescriptor_t acc = gb_tensor(g, "dQ accumulator", UID_DQ_ACC, f32, qdim, qstr, 0, 0, t.off_q);
  cudnnBackendDescriptor_t ssum = gb_tensor(g, "rowsum(dO * O)", UID_SOFTSUM, f32, sdim, sstr, 0, 0, t.off_st);
  /* rowsum(dO * O) */
  int64_t pstr[4] = {H * s * d, s * d, H * d, 1};
  cudnnBackendDescriptor_t DOO = gb_pw(g, "dO * O", CUDNN_POINTWISE_MUL, f32, dO, t.o, NULL,
                                       gb_tensor(g, "dO * O", 0, f32, qdim, pstr, 1, 0, NULL), -1);
  cudnnBackendDescriptor_t D0 = v_rows(g, "rowsum(dO * O)");
  gb_red(g, "rowsum(dO * O)", CUDNN_REDUCE_TENSOR_ADD, DOO, D0);
  gb_pw(g, "rowsum(dO * O) stored", CUDNN_POINTWISE_MUL, f32, D0, t.one, NULL, ssum, -1);
  /* P from the statistics; dV = P^T dO */
  cudnnBackendDescriptor_t S = masked_scores(g, &t, 1);
  cudnnBackendDescriptor_t P = pw_s(g, "P = exp(S - stats)", CUDNN_POINTWISE_EXP, f32, f32, S, NULL, NULL, -1);
  cudnnBackendDescriptor_t PT = v_scores_t(g, "P^T", bf);
  gb_reshape(g, "P^T", P, PT);
  kv_grad(g, &t, "dV = P^T dO", PT, dO, dV, UID_DV_FULL);
  /* dS = P * (dO V^T - rowsum) * scale */
  cudnnBackendDescriptor_t dP = v_scores(g, "dO V^T", f32);
  gb_mm(g, "dO V^T", dO, t.vt, dP, t.seq_q, t.seq_kv, NULL);
  dP = pw_s(g, "dP - rowsum", CUDNN_POINTWISE_SUB, f32, f32, dP, ssum, NULL, -1);
  cudnnBackendDescriptor_t dS = pw_s(g, "dS = P * (dP - rowsum)", CUDNN_POINTWISE_MUL, f32, f32, dP, P, NULL, -1);
  dS = pw_s(g, "dS * scale", CUDNN_POINTWISE_MUL, f32, f32, dS, t.scale, NULL, -1);
  cudnnBackendDescriptor_t dST = v_scores_t(g, "dS^T", bf);
  gb_reshape(g, "dS^T", dS, dST);
  kv_grad(g, &t, "dK = dS^T Q", dST, t.q, dK, UID_DK_FULL);
  /* dQ = dS K through the float32 accumulator */
  cudnnBackendDescriptor_t K = gb_tensor(g, "K (view of K^T)", 0, bf, vdim, vstr, 1, 0, t.off_kv);
  gb_reshape(g, "K (view of K^T)", t.kt, K);
  gb_mm(g, "dQ = dS K", dS, K, acc, t.seq_q, NULL, t.seq_kv);
  gb_pw(g, "dQ from its accumulator", CUDNN_POINTWISE_IDENTITY, f32, acc, NULL, NULL, dQ, -1);
}

/* The operation graph and heuristics (mode A) for the handle h, or deviceless for the device
 * properties dp: up to MAX_PLANS engine configurations that passed cuDNN's support checks in
 * cfg, their number (0 after a failure: g->what says the step). */
static int64_t gb_heur(gb *g, cudnnHandle_t h, cudnnBackendDescriptor_t dp,
                       cudnnBackendDescriptor_t cfg[MAX_PLANS]) {
  cudnnBackendDescriptor_t og = gb_new(g, CUDNN_BACKEND_OPERATIONGRAPH_DESCRIPTOR, "operation graph");
  if (!og) return 0;
  if (h) gb_set(g, og, CUDNN_ATTR_OPERATIONGRAPH_HANDLE, CUDNN_TYPE_HANDLE, 1, &h, "operation graph");
  gb_set(g, og, CUDNN_ATTR_OPERATIONGRAPH_OPS, CUDNN_TYPE_BACKEND_DESCRIPTOR, g->nops, g->ops,
         "operation graph");
  gb_fin(g, og, "operation graph");
  cudnnBackendDescriptor_t heur = gb_new(g, CUDNN_BACKEND_ENGINEHEUR_DESCRIPTOR, "heuristics");
  if (!heur) return 0;
  cudnnBackendHeurMode_t mode = CUDNN_HEUR_MODE_A;
  gb_setd(g, heur, CUDNN_ATTR_ENGINEHEUR_OPERATION_GRAPH, og, "heuristics");
  gb_set(g, heur, CUDNN_ATTR_ENGINEHEUR_MODE, CUDNN_TYPE_HEUR_MODE, 1, &mode, "heuristics");
  if (dp) gb_setd(g, heur, CUDNN_ATTR_ENGINEHEUR_DEVICEPROP, dp, "heuristics");
  gb_fin(g, heur, "heuristics");
  for (int i = 0; i < MAX_PLANS; i++) cfg[i] = gb_new(g, CUDNN_BACKEND_ENGINECFG_DESCRIPTOR, "engine configs");
  if (g->failed) return 0;
  int64_t n = 0;
  cudnnStatus_t st = g->f->bget(heur, CUDNN_ATTR_ENGINEHEUR_RESULTS, CUDNN_TYPE_BACKEND_DESCRIPTOR,
                                MAX_PLANS, &n, cfg);
  if (st != CUDNN_STATUS_SUCCESS) {
    gb_fail(g, "heuristics: results", st);
    return 0;
  }
  if (n == 0) {
    snprintf(g->what, sizeof g->what, "heuristics: no engine configuration supports this graph "
             "(CUDNN_LOGLEVEL_DBG=2 CUDNN_LOGDEST_DBG=stderr shows cuDNN's reasons)");
    g->failed = 1;
  }
  return n;
}

/* The first engine configuration whose plan finalizes, and its workspace size. */
static cudnnBackendDescriptor_t gb_plan(gb *g, cudnnHandle_t h, int64_t *ws) {
  cudnnBackendDescriptor_t cfg[MAX_PLANS];
  int64_t n = gb_heur(g, h, NULL, cfg);
  if (!n) return NULL;
  cudnnStatus_t st;
  cudnnStatus_t first = CUDNN_STATUS_SUCCESS;
  char first_msg[256] = "";
  for (int64_t i = 0; i < n; i++) {
    cudnnBackendDescriptor_t plan = NULL;
    if ((st = g->f->bcreate(CUDNN_BACKEND_EXECUTION_PLAN_DESCRIPTOR, &plan)) != CUDNN_STATUS_SUCCESS) {
      gb_fail(g, "execution plan: create", st);
      return NULL;
    }
    st = g->f->bset(plan, CUDNN_ATTR_EXECUTION_PLAN_HANDLE, CUDNN_TYPE_HANDLE, 1, &h);
    if (st == CUDNN_STATUS_SUCCESS)
      st = g->f->bset(plan, CUDNN_ATTR_EXECUTION_PLAN_ENGINE_CONFIG, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &cfg[i]);
    if (st == CUDNN_STATUS_SUCCESS) st = g->f->bfinal(plan);
    if (st == CUDNN_STATUS_SUCCESS) {
      int64_t got = 0;
      st = g->f->bget(plan, CUDNN_ATTR_EXECUTION_PLAN_WORKSPACE_SIZE, CUDNN_TYPE_INT64, 1, &got, ws);
      if (st == CUDNN_STATUS_SUCCESS) return plan;
    }
    if (first == CUDNN_STATUS_SUCCESS) {
      first = st;
      g->f->lasterr(first_msg, sizeof first_msg);
    }
    g->f->bdestroy(plan);
  }
  snprintf(g->what, sizeof g->what, "execution plan: none of %lld engine configs finalized; the "
           "first: %s%s%s", (long long)n, g->f->errstr(first), first_msg[0] ? ": " : "", first_msg);
  g->failed = 1;
  return NULL;
}

static void gb_release(gb *g) {
  for (int i = g->nd - 1; i >= 0; i--) g->f->bdestroy(g->desc[i]);
  g->nd = g->nops = 0;
}

/* ---------------------------------------------------------------- the handle */

typedef struct plan_entry {
  gb *g; /* its descriptors (kept alive with the plan) */
  cudnnBackendDescriptor_t plan;
  int64_t ws;
} plan_entry;

struct l1kcu_dnn {
  void *lib;
  dnn_fns f;
  cudnnHandle_t h;
  long version;
  plan_entry cache[MAX_PLANS];
  int n_cache, next_evict;
  /* the documents of the current batch */
  l1kcu_docs docs;
  int B, T, H, G, hd;
  int32_t *h_meta; /* host: lengths, then offsets of Q, KV and the statistics */
  int32_t *meta;   /* device copy */
  size_t meta_cap;
  float scale, ninf, one;
  /* scratch, grown on demand */
  void *ws, *softsum, *dk_full, *dv_full, *bf;
  size_t ws_cap, softsum_cap, dk_full_cap, dv_full_cap, bf_cap;
};

static void dnn_fail(char *why, size_t n, const char *fmt, const char *a) {
  snprintf(why, n, fmt, a);
}

/* The library, loaded once per process and never unloaded. NVRTC too, while cuDNN is in use:
 * cuDNN's runtime-compiled engines dlopen and dlclose libnvrtc for every graph they check
 * (10 times in test_cuda_cudnn), and each unload loses the 71 KiB emergency exception pool of
 * the libstdc++ that NVRTC links statically (LeakSanitizer, CI 2026-12-05); holding one
 * reference keeps it loaded once (and saves the reloads). Best effort: a cuDNN for CUDA 12
 * loads libnvrtc.so.12. */
static pthread_mutex_t lib_mu = PTHREAD_MUTEX_INITIALIZER;
static void *lib_handle;

static void *dnn_lib(char *why, size_t why_len) {
  pthread_mutex_lock(&lib_mu);
  if (!lib_handle) {
    const char *path = getenv("LONG1K_CUDNN_LIB");
    if (!path || !*path) path = "libcudnn.so.9";
    lib_handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (lib_handle && !dlopen("libnvrtc.so.13", RTLD_NOW | RTLD_LOCAL))
      (void)dlopen("libnvrtc.so.12", RTLD_NOW | RTLD_LOCAL);
    if (!lib_handle) {
      const char *e = dlerror();
      dnn_fail(why, why_len, "cannot load cuDNN: %s (set LD_LIBRARY_PATH or LONG1K_CUDNN_LIB)",
               e ? e : path);
    }
  }
  void *lib = lib_handle;
  pthread_mutex_unlock(&lib_mu);
  return lib;
}

/* The library and its entry points (no device needed). */
static l1kcu_dnn *dnn_load(char *why, size_t why_len) {
  void *lib = dnn_lib(why, why_len);
  if (!lib) return NULL;
  l1kcu_dnn *a = calloc(1, sizeof *a);
  if (!a) {
    dnn_fail(why, why_len, "%s", "out of memory");
    return NULL;
  }
  a->lib = lib;
  if (load_fns(lib, &a->f, why, why_len)) {
    l1kcu_dnn_close(a);
    return NULL;
  }
  a->version = (long)a->f.version();
  a->ninf = a->version < 91000 ? -FLT_MAX : -INFINITY; /* as the frontend: lowest before 9.10 */
  a->one = 1.0f;
  return a;
}

int l1kcu_dnn_open(l1kcu_dnn **out, char *why, size_t why_len) {
  *out = NULL;
  l1kcu_dnn *a = dnn_load(why, why_len);
  if (!a) return 1;
  if (a->version < 90600) {
    snprintf(why, why_len, "cuDNN %ld is older than 9.6.0 (ragged offsets with grouped-query "
             "heads need it)", a->version);
    l1kcu_dnn_close(a);
    return 1;
  }
  cudnnStatus_t st = a->f.create(&a->h);
  if (st != CUDNN_STATUS_SUCCESS) {
    snprintf(why, why_len, "cudnnCreate: %s", a->f.errstr(st));
    a->h = NULL;
    l1kcu_dnn_close(a);
    return 1;
  }
  *out = a;
  return 0;
}

/* cuDNN's engine support checks need a CUDA driver library (they load libcuda.so.1, nothing
 * runs). In a process without one (a CPU machine), the toolkit's stub driver, whose SONAME is
 * libcuda.so.1, is loaded first so that cuDNN finds it: $LONG1K_CUDA_STUB, else the stubs/
 * folder of the toolkit this was built with. A machine with a driver keeps its driver. */
static void load_stub_driver(void) {
  if (dlopen("libcuda.so.1", RTLD_NOW | RTLD_GLOBAL)) return;
  const char *stub = getenv("LONG1K_CUDA_STUB");
#ifdef LONG1K_CUDA_STUB_DIR
  if (!stub || !*stub) stub = LONG1K_CUDA_STUB_DIR "/libcuda.so";
#endif
  if (stub && *stub) dlopen(stub, RTLD_NOW | RTLD_GLOBAL);
}

/* A device-properties descriptor from its JSON (cuDNN >= 9.8: deviceless planning). */
static cudnnBackendDescriptor_t devprop(gb *g, const char *json) {
  cudnnBackendDescriptor_t dp = gb_new(g, CUDNN_BACKEND_DEVICEPROP_DESCRIPTOR, "device properties");
  if (!dp) return NULL;
  gb_set(g, dp, CUDNN_ATTR_DEVICEPROP_JSON_REPRESENTATION, CUDNN_TYPE_CHAR, (int64_t)strlen(json),
         json, "device properties");
  gb_fin(g, dp, "device properties");
  return g->failed ? NULL : dp;
}

int l1kcu_dnn_check_ops(int b, int s, int H, int KVH, int hd, const char *devprop_json, char *msg,
                        size_t n) {
  l1kcu_dnn *a = dnn_load(msg, n);
  if (!a) return 2;
  int rc = 0;
  int64_t n_cfg[2] = {0, 0};
  const char *note = devprop_json ? "" : " (no device properties: heuristics not run)";
  if (devprop_json && a->version < 90800)
    devprop_json = NULL, note = " (cuDNN < 9.8 has no device properties: heuristics not run)";
  if (devprop_json) load_stub_driver();
  for (int dir = 0; dir < 2 && !rc; dir++) {
    gb *g = calloc(1, sizeof *g);
    if (!g) {
      snprintf(msg, n, "out of memory");
      rc = 1;
      break;
    }
    g->f = &a->f, g->version = a->version, g->vuid = UID_VIRTUAL;
    g->p = (shape){dir, b, H, KVH, s, hd};
    if (dir == 0) build_fw(g);
    else build_bw(g);
    if (devprop_json && !g->failed) {
      cudnnBackendDescriptor_t dp = devprop(g, devprop_json), cfg[MAX_PLANS];
      if (dp) n_cfg[dir] = gb_heur(g, NULL, dp, cfg);
    }
    if (g->failed) {
      snprintf(msg, n, "cuDNN %ld %s graph: %s", a->version, dir ? "backward" : "forward", g->what);
      rc = 1;
    } else if (dir == 1) {
      snprintf(msg, n, "cuDNN %ld: forward and backward operations finalized (%d descriptors, %d "
               "operations in the backward); engine configurations passing cuDNN's support "
               "checks for the given device: %lld forward, %lld backward%s", a->version, g->nd,
               g->nops, (long long)n_cfg[0], (long long)n_cfg[1], note);
    }
    gb_release(g);
    free(g);
  }
  l1kcu_dnn_close(a);
  return rc;
}

void l1kcu_dnn_close(l1kcu_dnn *a) {
  if (!a) return;
  for (int i = 0; i < a->n_cache; i++) {
    a->f.bdestroy(a->cache[i].plan);
    gb_release(a->cache[i].g);
    free(a->cache[i].g);
  }
  if (a->h) a->f.destroy(a->h);
  void *dev[] = {a->meta, a->ws, a->softsum, a->dk_full, a->dv_full, a->bf};
  for (size_t i = 0; i < sizeof dev / sizeof dev[0]; i++)
    if (dev[i]) cudaFree(dev[i]);
  free(a->h_meta);
  l1kcu_docs_free(&a->docs);
  /* a->lib stays loaded (dnn_lib) */
  free(a);
}

long l1kcu_dnn_version(const l1kcu_dnn *a) { return a ? a->version : 0; }

static int cu(cudaError_t e, const char *what, l1k_err *err) {
  if (e == cudaSuccess) return 0;
  return l1k_errf(err, e == cudaErrorMemoryAllocation ? L1K_ENOMEM : L1K_EINTERNAL,
                  "cuDNN attention: %s: %s", what, cudaGetErrorString(e));
}

static int grow(void **p, size_t *cap, size_t bytes, const char *what, l1k_err *err) {
  if (bytes <= *cap && *p) return 0;
  if (*p) cudaFree(*p);
  *p = NULL;
  *cap = 0;
  int rc = cu(cudaMalloc(p, bytes ? bytes : 16), what, err);
  if (!rc) *cap = bytes;
  return rc;
}

/* Lengths and offsets of the current documents: host h_meta -> device meta. Layout:
 * len[nb] | off_q[nb+1] | off_kv[nb+1] | off_st[nb+1]. */
static int32_t *meta_at(int32_t *base, int nb, int which) {
  return which == 0 ? base : base + nb + (size_t)(which - 1) * (nb + 1);
}

int l1kcu_dnn_set_docs(l1kcu_dnn *a, const int32_t *seg, const int32_t *seg_end, int B, int T,
                       int H, int KVH, int hd, l1k_err *err) {
  if (H <= 0 || KVH <= 0 || H % KVH || hd < 8 || hd > 128 || hd % 8)
    return l1k_errf(err, L1K_EUNSUPPORTED, "cuDNN attention: %d query heads over %d kv heads, "
                    "head_dim %d (expected H %% KVH == 0, head_dim a multiple of 8 up to 128)",
                    H, KVH, hd);
  const char *bk = getenv("LONG1K_CUDNN_BUCKET");
  int rc = l1kcu_docs_layout(&a->docs, seg, seg_end, B, T, !(bk && !strcmp(bk, "0")), err);
  if (rc) return rc;
  int nb = a->docs.nb;
  size_t n = (size_t)nb + 3 * (size_t)(nb + 1);
  if (n > a->meta_cap) {
    int32_t *h = realloc(a->h_meta, n * sizeof *h);
    if (!h) return l1k_errf(err, L1K_ENOMEM, "cuDNN attention: out of memory (%zu offsets)", n);
    a->h_meta = h;
    if (a->meta) cudaFree(a->meta);
    a->meta = NULL;
    a->meta_cap = 0;
    if ((rc = cu(cudaMalloc((void **)&a->meta, n * sizeof(int32_t)), "document offsets", err))) return rc;
    a->meta_cap = n;
  }
  memcpy(a->h_meta, a->docs.len, (size_t)nb * sizeof(int32_t));
  if ((rc = l1kcu_docs_offsets(&a->docs, (int64_t)H * hd, meta_at(a->h_meta, nb, 1), err)) ||
      (rc = l1kcu_docs_offsets(&a->docs, (int64_t)KVH * hd, meta_at(a->h_meta, nb, 2), err)) ||
      (rc = l1kcu_docs_offsets(&a->docs, H, meta_at(a->h_meta, nb, 3), err)))
    return rc;
  a->B = B, a->T = T, a->H = H, a->G = KVH, a->hd = hd;
  a->scale = (float)(1.0 / sqrt((double)hd));
  return cu(cudaMemcpy(a->meta, a->h_meta, n * sizeof(int32_t), cudaMemcpyHostToDevice),
            "upload of document offsets", err);
}

/* The cached plan of this shape, built on first use. */
static int get_plan(l1kcu_dnn *a, int dir, plan_entry **out, l1k_err *err) {
  shape p = {dir, a->docs.nb, a->H, a->G, a->T, a->hd};
  for (int i = 0; i < a->n_cache; i++)
    if (!memcmp(&a->cache[i].g->p, &p, sizeof p)) {
      *out = &a->cache[i];
      return 0;
    }
  gb *g = calloc(1, sizeof *g);
  if (!g) return l1k_errf(err, L1K_ENOMEM, "cuDNN attention: out of memory (graph)");
  g->f = &a->f, g->version = a->version, g->p = p, g->vuid = UID_VIRTUAL;
  if (dir == 0) build_fw(g);
  else build_bw(g);
  int64_t ws = 0;
  cudnnBackendDescriptor_t plan = g->failed ? NULL : gb_plan(g, a->h, &ws);
  if (!plan) {
    int rc = l1k_errf(err, L1K_EUNSUPPORTED, "cuDNN %ld attention %s graph (%lld documents as "
                      "batch, row %lld, H %lld, KVH %lld, head_dim %lld): %s", a->version,
                      dir ? "backward" : "forward", (long long)p.b, (long long)p.s,
                      (long long)p.H, (long long)p.G, (long long)p.d, g->what);
    gb_release(g);
    free(g);
    return rc;
  }
  int slot = a->n_cache < MAX_PLANS ? a->n_cache++ : a->next_evict++ % MAX_PLANS;
  if (a->cache[slot].g) {
    a->f.bdestroy(a->cache[slot].plan);
    gb_release(a->cache[slot].g);
    free(a->cache[slot].g);
  }
  a->cache[slot] = (plan_entry){g, plan, ws};
  *out = &a->cache[slot];
  return 0;
}

static int execute(l1kcu_dnn *a, plan_entry *e, int n, const int64_t *uids, void **ptrs,
                   const char *what, l1k_err *err) {
  int rc = grow(&a->ws, &a->ws_cap, (size_t)e->ws, "cuDNN workspace", err);
  if (rc) return rc;
  cudnnBackendDescriptor_t vp = NULL;
  cudnnStatus_t st = a->f.bcreate(CUDNN_BACKEND_VARIANT_PACK_DESCRIPTOR, &vp);
  if (st == CUDNN_STATUS_SUCCESS)
    st = a->f.bset(vp, CUDNN_ATTR_VARIANT_PACK_UNIQUE_IDS, CUDNN_TYPE_INT64, n, uids);
  if (st == CUDNN_STATUS_SUCCESS)
    st = a->f.bset(vp, CUDNN_ATTR_VARIANT_PACK_DATA_POINTERS, CUDNN_TYPE_VOID_PTR, n, ptrs);
  if (st == CUDNN_STATUS_SUCCESS)
    st = a->f.bset(vp, CUDNN_ATTR_VARIANT_PACK_WORKSPACE, CUDNN_TYPE_VOID_PTR, 1, &a->ws);
  if (st == CUDNN_STATUS_SUCCESS) st = a->f.bfinal(vp);
  if (st == CUDNN_STATUS_SUCCESS) st = a->f.bexec(a->h, e->plan, vp);
  if (vp) a->f.bdestroy(vp);
  if (st == CUDNN_STATUS_SUCCESS) return 0;
  char last[256] = "";
  a->f.lasterr(last, sizeof last);
  return l1k_errf(err, L1K_EINTERNAL, "cuDNN attention %s: execute: %s%s%s", what,
                  a->f.errstr(st), last[0] ? ": " : "", last);
}

static int need_docs(const l1kcu_dnn *a, l1k_err *err) {
  if (a && a->docs.nb > 0) return 0;
  return l1k_errf(err, L1K_EINTERNAL, "cuDNN attention: called before l1kcu_dnn_set_docs");
}

int l1kcu_dnn_fw(l1kcu_dnn *a, uint16_t *o, float *lse, const uint16_t *q, const uint16_t *k,
                 const uint16_t *v, l1k_err *err) {
  plan_entry *e;
  int rc = need_docs(a, err);
  if (rc || (rc = get_plan(a, 0, &e, err))) return rc;
  int nb = a->docs.nb;
  int64_t uids[] = {UID_Q, UID_K, UID_V, UID_O, UID_STATS, UID_SCALE, UID_NEG_INF, UID_SEQ_Q,
                    UID_SEQ_KV, UID_OFF_Q, UID_OFF_KV, UID_OFF_ST};
  void *ptrs[] = {(void *)q, (void *)k, (void *)v, o, lse, &a->scale, &a->ninf, a->meta, a->meta,
                  meta_at(a->meta, nb, 1), meta_at(a->meta, nb, 2), meta_at(a->meta, nb, 3)};
  return execute(a, e, (int)(sizeof uids / sizeof uids[0]), uids, ptrs, "forward", err);
}

int l1kcu_dnn_bw(l1kcu_dnn *a, float *dq_acc, uint16_t *dq, uint16_t *dk, uint16_t *dv,
                 const uint16_t *q, const uint16_t *k, const uint16_t *v, const uint16_t *o,
                 const uint16_t *dout, const float *lse, l1k_err *err) {
  plan_entry *e;
  int rc = need_docs(a, err);
  if (rc || (rc = get_plan(a, 1, &e, err))) return rc;
  size_t N = (size_t)a->B * a->T, QD = (size_t)a->H * a->hd;
  if ((rc = grow(&a->softsum, &a->softsum_cap, N * a->H * sizeof(float), "rowsum scratch", err)))
    return rc;
  int gqa = a->H != a->G;
  if (gqa && ((rc = grow(&a->dk_full, &a->dk_full_cap, N * QD * sizeof(float), "full-head dK", err)) ||
              (rc = grow(&a->dv_full, &a->dv_full_cap, N * QD * sizeof(float), "full-head dV", err))))
    return rc;
  if ((rc = cu(cudaMemset(dq_acc, 0, N * QD * sizeof(float)), "zeroing the dQ accumulator", err)))
    return rc;
  int nb = a->docs.nb;
  int64_t uids[] = {UID_Q, UID_K, UID_V, UID_O, UID_DO, UID_STATS, UID_DQ, UID_DK, UID_DV,
                    UID_SCALE, UID_NEG_INF, UID_ONE, UID_SEQ_Q, UID_SEQ_KV, UID_OFF_Q,
                    UID_OFF_KV, UID_OFF_ST, UID_SOFTSUM, UID_DQ_ACC, UID_DK_FULL, UID_DV_FULL};
  void *ptrs[] = {(void *)q, (void *)k, (void *)v, (void *)o, (void *)dout, (void *)lse, dq, dk,
                  dv, &a->scale, &a->ninf, &a->one, a->meta, a->meta, meta_at(a->meta, nb, 1),
                  meta_at(a->meta, nb, 2), meta_at(a->meta, nb, 3), a->softsum, dq_acc,
                  a->dk_full, a->dv_full};
  int n = (int)(sizeof uids / sizeof uids[0]) - (gqa ? 0 : 2);
  return execute(a, e, n, uids, ptrs, "backward", err);
}

/* ---------------------------------------------------------------- float32 entry points */

#define TRY(x)           \
  do {                   \
    int rc_ = (x);       \
    if (rc_) return rc_; \
  } while (0)
#define KER(call, name) \
  TRY((call) ? l1k_errf(err, L1K_EINTERNAL, "cuDNN attention: kernel %s failed", name) : 0)

/* bf16 scratch: slot i of `width` elements per token (slots 0-2 and 6-7 are KV-sized at most
 * H*hd as well: every slot has room for N * H * hd values). */
static int bf_slots(l1kcu_dnn *a, uint16_t **slot, int n, l1k_err *err) {
  size_t per = (size_t)a->B * a->T * a->H * a->hd;
  TRY(grow(&a->bf, &a->bf_cap, per * (size_t)n * sizeof(uint16_t), "bf16 scratch", err));
  for (int i = 0; i < n; i++) slot[i] = (uint16_t *)a->bf + per * (size_t)i;
  return 0;
}

int l1kcu_dnn_attention_fw(l1kcu_dnn *a, float *o, float *lse, const float *q, const float *k,
                           const float *v, l1k_err *err) {
  TRY(need_docs(a, err));
  size_t N = (size_t)a->B * a->T, QD = N * a->H * a->hd, KD = N * a->G * a->hd;
  uint16_t *b[4];
  TRY(bf_slots(a, b, 4, err));
  KER(l1kcu_to_bf16(b[0], q, QD), "to_bf16 q");
  KER(l1kcu_to_bf16(b[1], k, KD), "to_bf16 k");
  KER(l1kcu_to_bf16(b[2], v, KD), "to_bf16 v");
  TRY(l1kcu_dnn_fw(a, b[3], lse, b[0], b[1], b[2], err));
  KER(l1kcu_from_bf16(o, b[3], QD), "from_bf16 o");
  return 0;
}

int l1kcu_dnn_attention_bw(l1kcu_dnn *a, float *dq, float *dk, float *dv, const float *dout,
                           const float *o, const float *lse, const float *q, const float *k,
                           const float *v, l1k_err *err) {
  TRY(need_docs(a, err));
  size_t N = (size_t)a->B * a->T, QD = N * a->H * a->hd, KD = N * a->G * a->hd;
  uint16_t *b[8];
  TRY(bf_slots(a, b, 8, err));
  KER(l1kcu_to_bf16(b[0], q, QD), "to_bf16 q");
  KER(l1kcu_to_bf16(b[1], k, KD), "to_bf16 k");
  KER(l1kcu_to_bf16(b[2], v, KD), "to_bf16 v");
  KER(l1kcu_to_bf16(b[3], o, QD), "to_bf16 o");
  KER(l1kcu_to_bf16(b[4], dout, QD), "to_bf16 dout");
  TRY(l1kcu_dnn_bw(a, dq, b[5], b[6], b[7], b[0], b[1], b[2], b[3], b[4], lse, err));
  KER(l1kcu_from_bf16(dk, b[6], KD), "from_bf16 dk");
  KER(l1kcu_from_bf16(dv, b[7], KD), "from_bf16 dv");
  return 0;
}

#else /* !LONG1K_HAVE_CUDNN: this build found no cudnn.h */

struct l1kcu_dnn {
  int unused;
};

static int absent(l1k_err *err) {
  return l1k_errf(err, L1K_EUNSUPPORTED, "cuDNN attention: long1k was built without cudnn.h");
}

int l1kcu_dnn_open(l1kcu_dnn **out, char *why, size_t why_len) {
  *out = NULL;
  snprintf(why, why_len, "long1k was built without cudnn.h (set CUDNN_INCLUDE_DIR)");
  return 1;
}
void l1kcu_dnn_close(l1kcu_dnn *a) { (void)a; }
int l1kcu_dnn_check_ops(int b, int s, int H, int KVH, int hd, const char *devprop_json, char *msg,
                        size_t n) {
  (void)b, (void)s, (void)H, (void)KVH, (void)hd, (void)devprop_json;
  snprintf(msg, n, "long1k was built without cudnn.h");
  return 2;
}
long l1kcu_dnn_version(const l1kcu_dnn *a) { (void)a; return 0; }
int l1kcu_dnn_set_docs(l1kcu_dnn *a, const int32_t *seg, const int32_t *seg_end, int B, int T,
                       int H, int KVH, int hd, l1k_err *err) {
  (void)a, (void)seg, (void)seg_end, (void)B, (void)T, (void)H, (void)KVH, (void)hd;
  return absent(err);
}
int l1kcu_dnn_fw(l1kcu_dnn *a, uint16_t *o, float *lse, const uint16_t *q, const uint16_t *k,
                 const uint16_t *v, l1k_err *err) {
  (void)a, (void)o, (void)lse, (void)q, (void)k, (void)v;
  return absent(err);
}
int l1kcu_dnn_bw(l1kcu_dnn *a, float *dq_acc, uint16_t *dq, uint16_t *dk, uint16_t *dv,
                 const uint16_t *q, const uint16_t *k, const uint16_t *v, const uint16_t *o,
                 const uint16_t *dout, const float *lse, l1k_err *err) {
  (void)a, (void)dq_acc, (void)dq, (void)dk, (void)dv, (void)q, (void)k, (void)v, (void)o;
  (void)dout, (void)lse;
  return absent(err);
}
int l1kcu_dnn_attention_fw(l1kcu_dnn *a, float *o, float *lse, const float *q, const float *k,
                           const float *v, l1k_err *err) {
  (void)a, (void)o, (void)lse, (void)q, (void)k, (void)v;
  return absent(err);
}
int l1kcu_dnn_attention_bw(l1kcu_dnn *a, float *dq, float *dk, float *dv, const float *dout,
                           const float *o, const float *lse, const float *q, const float *k,
                           const float *v, l1k_err *err) {
  (void)a, (void)dq, (void)dk, (void)dv, (void)dout, (void)o, (void)lse, (void)q, (void)k, (void)v;
  return absent(err);
}

#endif
