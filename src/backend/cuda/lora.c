/* long1k — LoRA and freeze tuning on the CUDA backend: the device side of the adapter's flat
 * trainable space, the frozen base without gradients, and the LoRA products (contracts and
 * the fusion in lora.h). Compiled and run on the CUDA emulation (tests/cuda/test_cuda_lora.c);
 * not yet run on a GPU. */
#include <stdlib.h>
#include <string.h>

#include "backend/cuda/cuda_internal.h"
#include "backend/cuda/hostmaster.h"
#include "backend/cuda/lora.h"
#include "model/adapter_internal.h"

#define TRY(x)           \
  do {                   \
    int rc_ = (x);       \
    if (rc_) return rc_; \
  } while (0)
#define KER(call, name) TRY(l1kcu_launch((call), (name), err))

/* One module's LoRA on the device. */
typedef struct cu_lmod {
  float *A, *B, *gA, *gB; /* device, in the trainable space; A == NULL: not a target */
  int in, out;
  int col;  /* first of its r columns in the layer's u [N, width] */
  int g;    /* leader of a fused group: its modules (>= 1); member: 0 */
  int lead; /* module index of its group's leader */
  int last; /* 1 on the group's last module: the backward's group products run there */
} cu_lmod;

struct cu_adapter {
  int bf16_base;         /* the base kept as bf16 only (bf16 mode) */
  float *small;          /* bf16 mode: float32 copy of the base's 1-D tensors (norms, biases) */
  float *params, *grads; /* trainable space [n] */
  uint16_t *wbf;         /* its bf16 working copy (bf16 mode) */
  size_t n;
  /* LoRA */
  int rank;
  float scale;
  cu_lmod *mods;   /* [layers * L1K_LORA_NMOD] */
  int *width;      /* [layers]: columns of the layer's u (r per target) */
  float **u;       /* [layers]: u of the layer's targets, [rows, width] */
  float *acts, *du, *xd;
  size_t rows;
};

static int dalloc(void **p, size_t bytes, const char *what, l1k_err *err) {
  *p = NULL;
  cudaError_t e = cudaMalloc(p, bytes ? bytes : 16);
  if (e == cudaSuccess) return 0;
  *p = NULL;
  cudaGetLastError();
  return l1k_errf(err, L1K_ENOMEM, "CUDA backend: out of device memory for %s (%.3f GB): %s",
                  what, (double)bytes / 1e9, cudaGetErrorString(e));
}

static int upload(void *dst, const void *src, size_t bytes, const char *what, l1k_err *err) {
  if (!bytes) return 0;
  return l1kcu_check(cudaMemcpy(dst, src, bytes, cudaMemcpyHostToDevice), what, err);
}

void l1kcu_adapter_free(cu_state *s) {
  struct cu_adapter *ca = s->ad;
  if (!ca) return;
  void *dev[] = {ca->small, ca->params, ca->grads, ca->wbf, ca->acts};
  for (size_t i = 0; i < sizeof dev / sizeof dev[0]; i++)
    if (dev[i]) cudaFree(dev[i]);
  free(ca->mods);
  free(ca->width);
  free(ca->u);
  free(ca);
  s->ad = NULL;
}

/* ---------------------------------------------------------------- the base */

/* host float32 -> device bf16 through a float32 staging buffer (the base never exists on the
 * device as float32 in the bf16 mode) */
static int upload_bf16(uint16_t *dst, const float *src, size_t n, l1k_err *err) {
  size_t chunk = n < ((size_t)16 << 20) ? n : ((size_t)16 << 20);
  float *stage = NULL;
  int rc = dalloc((void **)&stage, chunk * sizeof(float), "bf16 upload staging", err);
  for (size_t at = 0; !rc && at < n; at += chunk) {
    size_t k = n - at < chunk ? n - at : chunk;
    rc = upload(stage, src + at, k * sizeof(float), "upload of the base weights", err);
    if (!rc) rc = l1kcu_launch(l1kcu_to_bf16(dst + at, stage, k), "to_bf16 (base)", err);
  }
  if (stage) cudaFree(stage);
  return rc;
}

/* bf16 mode: the 1-D tensors (read by norms and bias kernels, never by a product) as float32;
 * small_of[i]: offset of tensor i in that copy, or SIZE_MAX. */
static int upload_small(l1k_model *m, struct cu_adapter *ca, size_t *small_of, l1k_err *err) {
  size_t n = 0;
  for (size_t i = 0; i < m->n_tensors; i++) {
    small_of[i] = m->tensors[i].ndim == 1 ? n : SIZE_MAX;
    if (m->tensors[i].ndim == 1) n += m->tensors[i].numel;
  }
  TRY(dalloc((void **)&ca->small, n * sizeof(float), "the base's norms and biases", err));
  for (size_t i = 0; i < m->n_tensors; i++)
    if (small_of[i] != SIZE_MAX)
      TRY(upload(ca->small + small_of[i], m->params + m->tensors[i].offset,
                 m->tensors[i].numel * sizeof(float), "upload of the base's norms", err));
  return 0;
}

static int attach_base(l1k_model *m, cu_state *s, size_t *small_of, l1k_err *err) {
  size_t n = m->n_params;
  s->n_params = n;
  if (!s->ad->bf16_base) {
    TRY(dalloc((void **)&s->params, n * sizeof(float), "parameters (frozen base)", err));
    return upload(s->params, m->params, n * sizeof(float), "upload of the parameters", err);
  }
  TRY(dalloc((void **)&s->wbf, n * sizeof(uint16_t), "bf16 weights (frozen base)", err));
  TRY(upload_bf16(s->wbf, m->params, n, err));
  return upload_small(m, s->ad, small_of, err);
}

/* ---------------------------------------------------------------- pointers */

/* Device address of base value at flat offset off. */
static float *base_ptr(l1k_model *m, cu_state *s, const size_t *small_of, size_t off) {
  if (!s->ad->bf16_base) return s->params + off;
  for (size_t i = 0; i < m->n_tensors; i++)
    if (m->tensors[i].offset == off && small_of[i] != SIZE_MAX) return s->ad->small + small_of[i];
  return (float *)(void *)(s->wbf + off); /* bf16 values; see lora.h */
}

/* s->P / s->G from the host pointers m->p (redirected to the adapter for trained tensors). */
static int point(l1k_model *m, cu_state *s, const size_t *small_of, l1k_err *err) {
  size_t cap = MODEL_PARAM_FIELDS_MAX(m);
  float ***hf = l1k_calloc(cap, sizeof *hf, err), ***pf = l1k_calloc(cap, sizeof *pf, err);
  float ***gf = l1k_calloc(cap, sizeof *gf, err);
  if (!hf || !pf || !gf) {
    free(hf), free(pf), free(gf);
    return L1K_ENOMEM;
  }
  size_t nf = model_param_fields(m, &m->p, hf);
  model_param_fields(m, &s->P, pf);
  model_param_fields(m, &s->G, gf);
  const model_adapter *ad = m->ad;
  for (size_t i = 0; i < nf; i++) {
    const float *hp = *hf[i];
    *pf[i] = *gf[i] = NULL;
    if (!hp) continue;
    if (hp >= ad->params && hp < ad->params + ad->n) {
      *pf[i] = s->ad->params + (hp - ad->params);
      *gf[i] = s->ad->grads + (hp - ad->params);
    } else {
      *pf[i] = base_ptr(m, s, small_of, (size_t)(hp - m->params));
    }
  }
  free(hf), free(pf), free(gf);
  return 0;
}

/* ---------------------------------------------------------------- LoRA modules */

/* Fused groups: within q, k, v (input ln1) and gate, up (input ln2), runs of targets whose A's
 * follow each other in the flat space. */
static void make_groups(cu_lmod *row) {
  static const int sets[][3] = {{L1K_LORA_Q, L1K_LORA_K, L1K_LORA_V},
                                {L1K_LORA_O, -1, -1},
                                {L1K_LORA_GATE, L1K_LORA_UP, -1},
                                {L1K_LORA_DOWN, -1, -1}};
  for (size_t si = 0; si < sizeof sets / sizeof sets[0]; si++) {
    cu_lmod *lead = NULL, *prev = NULL;
    for (int j = 0; j < 3 && sets[si][j] >= 0; j++) {
      cu_lmod *c = &row[sets[si][j]];
      if (!c->A) continue;
      /* joins the run when its A starts where the previous one ends (one column block of r
       * further in u means r rows of A further in the flat space) */
      int joins = lead && c->in == prev->in &&
                  c->A == prev->A + (size_t)(c->col - prev->col) * (size_t)prev->in;
      if (joins) {
        lead->g++;
        prev->last = 0;
        c->g = 0;
        c->lead = (int)(lead - row);
      } else {
        lead = c;
        c->g = 1;
        c->lead = (int)(c - row);
      }
      c->last = 1;
      prev = c;
    }
  }
}

static int lora_modules(l1k_model *m, struct cu_adapter *ca, l1k_err *err) {
  const model_adapter *ad = m->ad;
  int L = m->cfg.num_hidden_layers, r = ad->o.rank;
  ca->rank = r;
  ca->scale = ad->scale;
  ca->mods = l1k_calloc((size_t)(L ? L : 1) * L1K_LORA_NMOD, sizeof *ca->mods, err);
  ca->width = l1k_calloc((size_t)(L ? L : 1), sizeof *ca->width, err);
  ca->u = l1k_calloc((size_t)(L ? L : 1), sizeof *ca->u, err);
  if (!ca->mods || !ca->width || !ca->u) return L1K_ENOMEM;
  for (int l = 0; l < L; l++) {
    cu_lmod *row = &ca->mods[(size_t)l * L1K_LORA_NMOD];
    for (int k = 0; k < L1K_LORA_NMOD; k++) {
      const lora_mod *h = &ad->mods[(size_t)l * L1K_LORA_NMOD + k];
      if (!h->A) continue;
      cu_lmod *c = &row[k];
      c->A = ca->params + (h->A - ad->params);
      c->B = ca->params + (h->B - ad->params);
      c->gA = ca->grads + (h->A - ad->params);
      c->gB = ca->grads + (h->B - ad->params);
      c->in = h->in;
      c->out = h->out;
      c->col = ca->width[l];
      ca->width[l] += r;
    }
    make_groups(row);
  }
  return 0;
}

/* ---------------------------------------------------------------- attach */

int l1kcu_adapter_attach(l1k_model *m, cu_state *s, l1k_err *err) {
  const model_adapter *ad = m->ad;
  size_t half = (size_t)m->cfg.head_dim / 2;
  int Lc = m->cfg.num_hidden_layers;
  struct cu_adapter *ca = l1k_calloc(1, sizeof *ca, err);
  if (!ca) return L1K_ENOMEM;
  s->ad = ca;
  ca->bf16_base = s->opts.precision == L1K_PREC_BF16;
  ca->n = ad->n;
  size_t *small_of = l1k_calloc(m->n_tensors ? m->n_tensors : 1, sizeof *small_of, err);
  if (!small_of) return L1K_ENOMEM;
  int rc = attach_base(m, s, small_of, err);
  if (!rc) rc = dalloc((void **)&s->inv_freq, half * sizeof(float), "rope table", err);
  if (!rc) rc = upload(s->inv_freq, m->inv_freq, half * sizeof(float), "upload of the rope table", err);
  /* the trainable space: float32 master, gradients, bf16 working copy */
  if (!rc) rc = dalloc((void **)&ca->params, ad->n * sizeof(float), "adapter parameters", err);
  if (!rc) rc = dalloc((void **)&ca->grads, ad->n * sizeof(float), "adapter gradients", err);
  if (!rc && ca->bf16_base)
    rc = dalloc((void **)&ca->wbf, ad->n * sizeof(uint16_t), "adapter bf16 weights", err);
  if (!rc) rc = upload(ca->params, ad->params, ad->n * sizeof(float), "upload of the adapter", err);
  if (!rc) rc = l1kcu_check(cudaMemset(ca->grads, 0, ad->n * sizeof(float)), "zeroing gradients", err);
  if (!rc) {
    s->tp = ca->params, s->tg = ca->grads, s->tn = ad->n, s->twbf = ca->wbf;
    s->tt = ad->tensors, s->ntt = ad->n_tensors;
    rc = l1kcu_refresh_bf16(s, err);
  }
  if (!rc) {
    s->P.layer = l1k_calloc((size_t)(Lc ? Lc : 1), sizeof(layer_params), err);
    s->G.layer = l1k_calloc((size_t)(Lc ? Lc : 1), sizeof(layer_params), err);
    s->L = l1k_calloc((size_t)(Lc ? Lc : 1), sizeof(cu_layer), err);
    if (!s->P.layer || !s->G.layer || !s->L) rc = L1K_ENOMEM;
  }
  if (!rc) rc = point(m, s, small_of, err);
  if (!rc && ad->kind == ADAPTER_LORA) rc = lora_modules(m, ca, err);
  free(small_of);
  return rc;
}

const uint16_t *l1kcu_weight_bf16(const cu_state *s, const float *X) {
  const struct cu_adapter *ca = s->ad;
  if (s->params && s->wbf && X >= s->params && X < s->params + s->n_params)
    return s->wbf + (X - s->params);
  if (s->hm) return l1kcu_hm_weight_bf16(s, X); /* float32 parameters on the host only */
  if (!ca) return NULL;
  const uint16_t *h = (const uint16_t *)(const void *)X;
  if (ca->bf16_base && h >= s->wbf && h < s->wbf + s->n_params) return h;
  if (ca->wbf && X >= ca->params && X < ca->params + ca->n) return ca->wbf + (X - ca->params);
  return NULL;
}

/* ---------------------------------------------------------------- activations */

int l1kcu_lora_reserve(l1k_model *m, cu_state *s, size_t N, l1k_err *err) {
  struct cu_adapter *ca = s->ad;
  if (!ca || !ca->mods || N <= ca->rows) return 0;
  int L = m->cfg.num_hidden_layers;
  size_t total = 0, wmax = 0, max_in = 0;
  for (int l = 0; l < L; l++) {
    total += N * (size_t)ca->width[l];
    wmax = (size_t)ca->width[l] > wmax ? (size_t)ca->width[l] : wmax;
    for (int k = 0; k < L1K_LORA_NMOD; k++) {
      const cu_lmod *c = &ca->mods[(size_t)l * L1K_LORA_NMOD + k];
      if (c->A && (size_t)c->in > max_in) max_in = (size_t)c->in;
    }
  }
  size_t xd = m->ad->o.dropout > 0 ? N * max_in : 0;
  if (ca->acts) cudaFree(ca->acts);
  ca->acts = NULL;
  ca->rows = 0;
  TRY(dalloc((void **)&ca->acts, (total + N * wmax + xd) * sizeof(float), "LoRA activations", err));
  float *p = ca->acts;
  for (int l = 0; l < L; l++) {
    ca->u[l] = p;
    p += N * (size_t)ca->width[l];
  }
  ca->du = p;
  ca->xd = xd ? p + N * wmax : NULL;
  ca->rows = N;
  return 0;
}

/* ---------------------------------------------------------------- products */

static const cu_lmod *lmod(const cu_state *s, int l, int mod) {
  if (!s->ad || !s->ad->mods) return NULL;
  const cu_lmod *c = &s->ad->mods[(size_t)l * L1K_LORA_NMOD + mod];
  return c->A ? c : NULL;
}

static int dropping(const l1k_model *m) { return m->ad->training && m->ad->o.dropout > 0; }

static int drop(l1k_model *m, float *out, const float *x, int l, int mod, int N, int in, int add,
                l1k_err *err) {
  uint64_t id = (uint64_t)l * L1K_LORA_NMOD + (uint64_t)mod;
  KER(l1kcu_lora_dropout(out, x, N, in, m->ad->drop_key, id, m->ad->o.dropout, add), "lora_dropout");
  return 0;
}

int l1kcu_lora_fw(l1k_model *m, cu_state *s, int l, int mod, float *y, const float *x, int N,
                  l1k_err *err) {
  const cu_lmod *c = lmod(s, l, mod);
  if (!c || N <= 0) return 0;
  struct cu_adapter *ca = s->ad;
  int r = ca->rank, W = ca->width[l];
  float *u = ca->u[l] + c->col;
  if (dropping(m)) {
    TRY(drop(m, ca->xd, x, l, mod, N, c->in, 0, err));
    TRY(l1kcu_gemm(s, 0, 1, N, r, c->in, 1.0f, ca->xd, c->in, c->A, c->in, 0.0f, u, W, err));
  } else if (c->g) { /* the group's down-projection: x [A_1; ...; A_g]^T */
    TRY(l1kcu_gemm(s, 0, 1, N, c->g * r, c->in, 1.0f, x, c->in, c->A, c->in, 0.0f, u, W, err));
  }
  return l1kcu_gemm(s, 0, 1, N, c->out, r, ca->scale, u, W, c->B, r, 1.0f, y, c->out, err);
}

int l1kcu_lora_bw(l1k_model *m, cu_state *s, int l, int mod, float *dx, const float *dy,
                  const float *x, int N, l1k_err *err) {
  const cu_lmod *c = lmod(s, l, mod);
  if (!c || N <= 0) return 0;
  struct cu_adapter *ca = s->ad;
  int r = ca->rank, W = ca->width[l], in = c->in;
  float sc = ca->scale, *u = ca->u[l] + c->col, *du = ca->du + c->col;
  TRY(l1kcu_gemm(s, 1, 0, c->out, r, N, sc, dy, c->out, u, W, 1.0f, c->gB, r, err));
  TRY(l1kcu_gemm(s, 0, 0, N, r, c->out, sc, dy, c->out, c->B, r, 0.0f, du, W, err));
  if (!dropping(m)) {
    if (!c->last) return 0; /* the group's products run on its last module */
    const cu_lmod *ld = &ca->mods[(size_t)l * L1K_LORA_NMOD + c->lead];
    int gr = ld->g * r;
    float *dug = ca->du + ld->col;
    TRY(l1kcu_gemm(s, 1, 0, gr, in, N, 1.0f, dug, W, x, in, 1.0f, ld->gA, in, err));
    return dx ? l1kcu_gemm(s, 0, 0, N, in, gr, 1.0f, dug, W, ld->A, in, 1.0f, dx, in, err) : 0;
  }
  TRY(drop(m, ca->xd, x, l, mod, N, in, 0, err)); /* the forward's mask again */
  TRY(l1kcu_gemm(s, 1, 0, r, in, N, 1.0f, du, W, ca->xd, in, 1.0f, c->gA, in, err));
  if (!dx) return 0;
  TRY(l1kcu_gemm(s, 0, 0, N, in, r, 1.0f, du, W, c->A, in, 0.0f, ca->xd, in, err));
  return drop(m, dx, ca->xd, l, mod, N, in, 1, err);
}

int l1kcu_lora_embedding_fw(cu_state *s, float *x, const int32_t *ids, int N, int C, l1k_err *err) {
  const uint16_t *h = (const uint16_t *)(const void *)s->P.embed;
  /* a bf16-only base, or the host master's bf16 embedding (hostmaster.h, LONG1K_OFFLOAD_EMBED_BF16) */
  if (((s->ad && s->ad->bf16_base) || s->hm) && h >= s->wbf && h < s->wbf + s->n_params)
    KER(l1kcu_embedding_fw_bf16(x, ids, h, N, C), "embedding_fw_bf16");
  else
    KER(l1kcu_embedding_fw(x, ids, s->P.embed, N, C), "embedding_fw");
  return 0;
}

int l1kcu_bw_lowest_layer(const l1k_model *m) { return m->ad ? l1k_cpu_bw_lowest_layer(m) : 0; }
