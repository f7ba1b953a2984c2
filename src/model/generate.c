/* long1k — generation: KV cache and the cached (incremental) forward.
 *
 * Sections: weights (found by Hugging Face name in the flat float32 parameters), generator
 * state (KV cache + scratch carved at creation; nothing is allocated per token), kernels
 * (RMSNorm, RoPE, attention over the cache), the row forward, feed / step.
 *
 * A "row" is one token of one sequence: (slot, position, id). The forward runs any set of rows
 * at once — a prefill chunk of one slot, or one token from each of several slots — so prefill
 * and batched decode share one code path. Per layer: all rows' K and V are written into the
 * cache first, then each row attends to positions 0..pos of its own slot, which is causal for
 * rows of the same slot fed together.
 *
 * Math, as transformers computes it (Qwen2 / Qwen3 / Llama):
 *   x = embed[id]
 *   per layer: h = rmsnorm(x) * ln1
 *              q = h Wq^T (+bq)  [nh*hd]   k = h Wk^T (+bk) [nkv*hd]   v = h Wv^T (+bv)
 *              qwen3: q, k each head rmsnorm'ed with q_norm / k_norm
 *              q, k rotated (rotate_half RoPE; llama3 frequency scaling)
 *              a_h = softmax(q_h K_g^T / sqrt(hd)) V_g      g = h / (nh / nkv)   (GQA)
 *              x += a Wo^T
 *              h = rmsnorm(x) * ln2;  x += (silu(h Wg^T) * (h Wu^T)) Wd^T
 *   logits = (rmsnorm(x) * norm) E^T       E = lm_head, or embed when tied
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "long1k/adapter.h"
#include "long1k/backend.h"
#include "long1k/dtype.h"
#include "long1k/generate.h"
#include "backend/ops.h"
#include "model/generate_internal.h"
#include "model/model_internal.h"

/* ---------------------------------------------------------------------------------------- */
/* weights                                                                                  */
/* ---------------------------------------------------------------------------------------- */

typedef struct layer_w {
  const float *ln1;            /* [H] input_layernorm */
  const float *wq, *wk, *wv;   /* [nh*hd, H], [nkv*hd, H], [nkv*hd, H] */
  const float *bq, *bk, *bv;   /* qwen2 bias or NULL */
  const float *qn, *kn;        /* [hd] qwen3 q_norm / k_norm or NULL */
  const float *wo;             /* [H, nh*hd] */
  const float *ln2;            /* [H] post_attention_layernorm */
  const float *wg, *wu;        /* [FF, H] gate_proj, up_proj */
  const float *wd;             /* [H, FF] down_proj */
  /* bf16 copies for decoding when the weights are exactly bf16 (else NULL) */
  const uint16_t *hq, *hk, *hv, *ho, *hg, *hu, *hd;
} layer_w;

struct l1k_generator {
  l1k_model *m;
  l1k_model_config cfg;
  int L, H, nh, nkv, hd, FF, V, qdim, kvdim;
  float eps;
  const float *emb;     /* [V, H] */
  const float *norm;    /* [H] */
  const float *lm_head; /* [V, H] */
  layer_w *lw;          /* [L] */
  uint16_t *bf16;       /* one block with every bf16 weight copy, or NULL */
  const uint16_t *lm_head16;
  int isa;              /* l1k_cpu_isa() */
  l1k_gen_pool *pool;   /* threads of the decode kernels and the attention */
  /* steps of at most bf16_rows rows use the bf16 copies, else steps of at most f32_rows rows
   * the float32 kernels, else OpenBLAS sgemm. Default: always our kernels and pool (OpenBLAS's
   * own threads spin and yield; on a shared machine that cost more than its faster sgemm
   * gains); LONG1K_GEN_BF16_ROWS / LONG1K_GEN_F32_ROWS lower the limits. */
  int bf16_rows;
  int f32_rows;

  int max_batch, max_ctx, max_rows;
  float *kc, *vc;       /* [L][max_batch][nkv][max_ctx][hd] */
  int *slot_len;        /* [max_batch] */
  float *slot_logits;   /* [max_batch][V] */
  float *rope_cos, *rope_sin; /* [max_ctx][hd/2] */

  /* scratch for max_rows rows */
  float *x, *xn;        /* [R, H] */
  float *q, *att;       /* [R, qdim] */
  float *k, *v;         /* [R, kvdim] */
  float *gate, *up;     /* [R, FF] */
  float *logits;        /* [max_batch, V] step output */
  float *scores;        /* [nthreads][nh/nkv][max_ctx] */
  int nthreads;
  int *row_slot, *row_pos; /* [R] */

  /* device mode (the model attached to a backend with decode entries, src/backend/ops.h):
   * none of the CPU buffers above exist; the backend owns the paged KV cache */
  const l1k_backend_ops *dev;
  struct l1k_kv_cache *kv;
  const int32_t **f_ids; /* [max_batch] prefill arguments */
  int *f_n;
  /* each slot's next-token logits: its row of slot_logits (after a feed) or, after a step into
   * the generator's own buffer, that step's row of `logits` (no copy of [n, V] per step) */
  const float **slot_lp;
  float *pre_logits;     /* [max_batch][V] prefill output (logits holds the last step's) */
};

static const float *find_tensor(l1k_model *m, const char *name, int64_t d0, int64_t d1,
                                int required, l1k_err *err, int *failed) {
  size_t n = 0;
  const l1k_tensor_info *t = l1k_model_tensors(m, &n);
  for (size_t i = 0; i < n; i++) {
    if (strcmp(t[i].name, name) != 0) continue;
    size_t want = (size_t)d0 * (size_t)(d1 > 0 ? d1 : 1);
    if (t[i].numel != want || t[i].shape[0] != d0 || (d1 > 0 && (t[i].ndim != 2 || t[i].shape[1] != d1))) {
      if (!*failed)
        l1k_errf(err, L1K_EINPUT, "generate: tensor %s has shape [%lld%s%lld], expected [%lld%s%lld]",
                 name, (long long)t[i].shape[0], t[i].ndim == 2 ? ", " : "",
                 t[i].ndim == 2 ? (long long)t[i].shape[1] : 0LL, (long long)d0, d1 > 0 ? ", " : "",
                 d1 > 0 ? (long long)d1 : 0LL);
      *failed = 1;
      return NULL;
    }
    return l1k_model_params(m) + t[i].offset;
  }
  if (required && !*failed) {
    l1k_errf(err, L1K_EINPUT, "generate: model has no tensor %s", name);
    *failed = 1;
  }
  return NULL;
}

static int bind_weights(l1k_generator *g, l1k_err *err) {
  l1k_model *m = g->m;
  int H = g->H, FF = g->FF, qd = g->qdim, kvd = g->kvdim, hd = g->hd;
  int failed = 0;
  char nm[160];
  g->emb = find_tensor(m, "model.embed_tokens.weight", g->V, H, 1, err, &failed);
  g->norm = find_tensor(m, "model.norm.weight", H, 0, 1, err, &failed);
  g->lm_head = find_tensor(m, "lm_head.weight", g->V, H, !g->cfg.tie_word_embeddings, err, &failed);
  if (!g->lm_head) g->lm_head = g->emb;
  for (int l = 0; l < g->L && !failed; l++) {
    layer_w *w = &g->lw[l];
#define T(field, suffix, d0, d1, req)                                                  \
  snprintf(nm, sizeof nm, "model.layers.%d.%s", l, suffix);                            \
  w->field = find_tensor(m, nm, d0, d1, req, err, &failed)
    T(ln1, "input_layernorm.weight", H, 0, 1);
    T(wq, "self_attn.q_proj.weight", qd, H, 1);
    T(wk, "self_attn.k_proj.weight", kvd, H, 1);
    T(wv, "self_attn.v_proj.weight", kvd, H, 1);
    T(bq, "self_attn.q_proj.bias", qd, 0, g->cfg.attention_bias);
    T(bk, "self_attn.k_proj.bias", kvd, 0, g->cfg.attention_bias);
    T(bv, "self_attn.v_proj.bias", kvd, 0, g->cfg.attention_bias);
    T(qn, "self_attn.q_norm.weight", hd, 0, g->cfg.qk_norm);
    T(kn, "self_attn.k_norm.weight", hd, 0, g->cfg.qk_norm);
    T(wo, "self_attn.o_proj.weight", H, qd, 1);
    T(ln2, "post_attention_layernorm.weight", H, 0, 1);
    T(wg, "mlp.gate_proj.weight", FF, H, 1);
    T(wu, "mlp.up_proj.weight", FF, H, 1);
    T(wd, "mlp.down_proj.weight", H, FF, 1);
#undef T
  }
  return failed ? (err && err->code ? err->code : L1K_EINPUT) : 0;
}

static void *xalloc(size_t count, size_t size, l1k_err *err, int *failed) {
  if (*failed) return NULL;
  void *p = l1k_calloc(count ? count : 1, size, err);
  if (!p) *failed = 1;
  return p;
}

/* Decoding reads every weight once per step. When the checkpoint was bf16 and the weights
 * still are exactly bf16 values, keep bf16 copies of the matrices (exact; half the bytes).
 * LONG1K_GEN_F32=1 in the environment turns this off. Returns 0, or -1 out of memory. */
static int bf16_copies(l1k_generator *g) {
  const char *sd = l1k_model_stored_dtype(g->m);
  const char *off = getenv("LONG1K_GEN_F32");
  if (!sd || strcmp(sd, "BF16") != 0 || (off && *off && strcmp(off, "0") != 0)) return 0;
  if (g->H % 8 || g->qdim % 8 || g->FF % 8) return 0;
  /* with AVX-512 the copies are in the panel layout of generate_panels.c */
  int pan = g->isa >= 2;
#define SZ(od, id) (pan ? l1k_gen_panels_size(od, id) : (size_t)(od) * (size_t)(id))
  size_t per = SZ(g->qdim, g->H) + 2 * SZ(g->kvdim, g->H) + SZ(g->H, g->qdim) + 2 * SZ(g->FF, g->H) +
               SZ(g->H, g->FF);
  size_t total = per * g->L + SZ(g->V, g->H);
  uint16_t *b = malloc(total * sizeof(uint16_t));
  if (!b) return -1;
  uint16_t *p = b;
  int exact = 1;
#define CP(dst, src, od, id)                                                                        \
  do {                                                                                             \
    exact = exact && (pan ? l1k_gen_to_bf16_panels(src, p, od, id)                                 \
                          : l1k_gen_to_bf16_exact(src, p, (size_t)(od) * (size_t)(id)));           \
    dst = p;                                                                                       \
    p += SZ(od, id);                                                                               \
  } while (0)
  for (int l = 0; l < g->L && exact; l++) {
    layer_w *w = &g->lw[l];
    CP(w->hq, w->wq, g->qdim, g->H);
    CP(w->hk, w->wk, g->kvdim, g->H);
    CP(w->hv, w->wv, g->kvdim, g->H);
    CP(w->ho, w->wo, g->H, g->qdim);
    CP(w->hg, w->wg, g->FF, g->H);
    CP(w->hu, w->wu, g->FF, g->H);
    CP(w->hd, w->wd, g->H, g->FF);
  }
  if (exact) CP(g->lm_head16, g->lm_head, g->V, g->H);
#undef CP
#undef SZ
  if (!exact) { /* trained or edited weights: the float32 path */
    free(b);
    for (int l = 0; l < g->L; l++) {
      layer_w *w = &g->lw[l];
      w->hq = w->hk = w->hv = w->ho = w->hg = w->hu = w->hd = NULL;
    }
    g->lm_head16 = NULL;
    return 0;
  }
  g->bf16 = b;
  const char *e = getenv("LONG1K_GEN_BF16_ROWS");
  g->bf16_rows = e && *e ? atoi(e) : 1 << 30;
  return 0;
}

static l1k_generator *create_device(l1k_generator *g, uint64_t budget, l1k_err *err);

l1k_generator *l1k_generator_create(l1k_model *m, int max_batch, int max_ctx, l1k_err *err) {
  const char *e = getenv("LONG1K_KV_MIB");
  double mib = e && *e ? strtod(e, NULL) : 0.0; /* fractions allowed (tests: a few blocks) */
  uint64_t budget = mib > 0 ? (uint64_t)(mib * 1048576.0) : 0;
  return l1k_generator_create_ex(m, max_batch, max_ctx, budget, err);
}

l1k_generator *l1k_generator_create_ex(l1k_model *m, int max_batch, int max_ctx,
                                       uint64_t kv_budget_bytes, l1k_err *err) {
  if (!m) {
    l1k_errf(err, L1K_EINTERNAL, "generate: no model");
    return NULL;
  }
  if (!l1k_model_params(m) && !(m->be && m->be->kv_create)) {
    l1k_errf(err, L1K_EUNSUPPORTED, "generate: the model is on device %s, which has no "
             "generation entries; attach it to cpu", l1k_model_device(m));
    return NULL;
  }
  if (strcmp(l1k_model_adapter_kind(m), "none")) { /* it reads the base weights only */
    l1k_errf(err, L1K_EUNSUPPORTED, "generate: the model has a %s adapter attached; merge it "
             "first (l1k_model_adapter_merge; the CLI's --adapter does)", l1k_model_adapter_kind(m));
    return NULL;
  }
  if (max_batch < 1 || max_batch > 4096) {
    l1k_errf(err, L1K_EINPUT, "generate: batch size %d out of range (1..4096)", max_batch);
    return NULL;
  }
  const l1k_model_config *c = l1k_model_cfg(m);
  if (max_ctx <= 0) max_ctx = c->max_position_embeddings > 0 ? c->max_position_embeddings : 4096;
  if (max_ctx > 32768 && c->max_position_embeddings > 0) {
    /* an explicit large max_ctx is allowed; the default is capped */
  }
  if (max_ctx > 32768 && max_ctx == c->max_position_embeddings) max_ctx = 32768;
  if (max_ctx < 2) {
    l1k_errf(err, L1K_EINPUT, "generate: context size %d too small (need >= 2)", max_ctx);
    return NULL;
  }
  if (c->num_key_value_heads <= 0 || c->num_attention_heads % c->num_key_value_heads != 0 ||
      c->head_dim <= 0 || c->head_dim % 2 != 0) {
    l1k_errf(err, L1K_EINPUT,
             "generate: unsupported attention shape (heads %d, kv heads %d, head_dim %d)",
             c->num_attention_heads, c->num_key_value_heads, c->head_dim);
    return NULL;
  }
  l1k_generator *g = l1k_calloc(1, sizeof *g, err);
  if (!g) return NULL;
  g->m = m;
  g->cfg = *c;
  g->L = c->num_hidden_layers;
  g->H = c->hidden_size;
  g->nh = c->num_attention_heads;
  g->nkv = c->num_key_value_heads;
  g->hd = c->head_dim;
  g->FF = c->intermediate_size;
  g->V = c->vocab_size;
  g->qdim = g->nh * g->hd;
  g->kvdim = g->nkv * g->hd;
  g->eps = (float)c->rms_norm_eps;
  g->max_batch = max_batch;
  g->max_ctx = max_ctx;
  g->isa = l1k_cpu_isa();
  if (!l1k_model_params(m)) return create_device(g, kv_budget_bytes, err);
  g->max_rows = max_batch > 128 ? max_batch : 128;
  {
    const char *e = getenv("LONG1K_GEN_F32_ROWS");
    g->f32_rows = e && *e ? atoi(e) : 1 << 30;
  }
  if (g->max_rows > max_ctx && max_ctx >= max_batch) g->max_rows = max_ctx;
#ifdef _OPENMP
  g->nthreads = omp_get_max_threads();
#else
  g->nthreads = 1;
#endif
  int failed = 0;
  g->lw = xalloc((size_t)g->L, sizeof *g->lw, err, &failed);
  if (!failed && bind_weights(g, err) != 0) failed = 1;
  size_t R = (size_t)g->max_rows;
  size_t cache = (size_t)g->L * max_batch * g->nkv * (size_t)max_ctx * g->hd;
  if (!failed) {
    g->kc = malloc(cache * sizeof(float));
    g->vc = malloc(cache * sizeof(float));
    if (!g->kc || !g->vc) {
      l1k_errf(err, L1K_ENOMEM,
               "generate: cannot allocate the KV cache (%.1f MiB for batch %d x context %d); "
               "use a smaller batch or context",
               2.0 * cache * sizeof(float) / 1048576.0, max_batch, max_ctx);
      failed = 1;
    }
  }
  g->slot_len = xalloc((size_t)max_batch, sizeof(int), err, &failed);
  g->slot_logits = xalloc((size_t)max_batch * g->V, sizeof(float), err, &failed);
  g->logits = xalloc((size_t)max_batch * g->V, sizeof(float), err, &failed);
  g->rope_cos = xalloc((size_t)max_ctx * (g->hd / 2), sizeof(float), err, &failed);
  g->rope_sin = xalloc((size_t)max_ctx * (g->hd / 2), sizeof(float), err, &failed);
  g->x = xalloc(R * g->H, sizeof(float), err, &failed);
  g->xn = xalloc(R * g->H, sizeof(float), err, &failed);
  g->q = xalloc(R * g->qdim, sizeof(float), err, &failed);
  g->att = xalloc(R * g->qdim, sizeof(float), err, &failed);
  g->k = xalloc(R * g->kvdim, sizeof(float), err, &failed);
  g->v = xalloc(R * g->kvdim, sizeof(float), err, &failed);
  g->gate = xalloc(R * g->FF, sizeof(float), err, &failed);
  g->up = xalloc(R * g->FF, sizeof(float), err, &failed);
  g->scores = xalloc((size_t)g->nthreads * (g->nh / g->nkv) * max_ctx, sizeof(float), err, &failed);
  g->row_slot = xalloc(R, sizeof(int), err, &failed);
  g->row_pos = xalloc(R, sizeof(int), err, &failed);
  if (!failed) {
    g->pool = l1k_gen_pool_create(g->nthreads);
    if (!g->pool) {
      l1k_errf(err, L1K_ENOMEM, "generate: cannot start the worker threads");
      failed = 1;
    }
  }
  if (failed) {
    l1k_generator_free(g);
    return NULL;
  }
  /* RoPE table for positions 0..max_ctx-1, with the model library's kernels (float32 angles
   * as transformers computes them), so the cached forward rotates exactly like the full one */
  int half = g->hd / 2;
  float *inv = malloc((size_t)half * sizeof(float));
  int32_t *pos = malloc((size_t)max_ctx * sizeof(int32_t));
  if (!inv || !pos) {
    free(inv);
    free(pos);
    l1k_errf(err, L1K_ENOMEM, "generate: out of memory");
    l1k_generator_free(g);
    return NULL;
  }
  for (int p = 0; p < max_ctx; p++) pos[p] = p;
  l1k_rope_inv_freq(&g->cfg, inv);
  /* like l1k_model_load (and transformers running a bf16 / f16 checkpoint in its own dtype):
   * the inverse frequencies of a half-precision checkpoint are rounded to that dtype */
  const char *sd = l1k_model_stored_dtype(m);
  if (sd && (!strcmp(sd, "BF16") || !strcmp(sd, "F16")))
    for (int i = 0; i < half; i++)
      inv[i] = !strcmp(sd, "BF16") ? l1k_bf16_to_f32(l1k_f32_to_bf16(inv[i])) : l1k_f16_to_f32(l1k_f32_to_f16(inv[i]));
  l1k_rope_table(g->rope_cos, g->rope_sin, pos, max_ctx, inv, half);
  free(inv);
  free(pos);
  if (bf16_copies(g) < 0) {
    l1k_errf(err, L1K_ENOMEM, "generate: out of memory for the bf16 weight copies");
    l1k_generator_free(g);
    return NULL;
  }
  return g;
}

/* The device engine: the backend's paged KV cache and step buffers; host: lengths, logits. */
static l1k_generator *create_device(l1k_generator *g, uint64_t budget, l1k_err *err) {
  int failed = 0;
  g->dev = g->m->be;
  g->slot_len = xalloc((size_t)g->max_batch, sizeof(int), err, &failed);
  g->slot_logits = xalloc((size_t)g->max_batch * g->V, sizeof(float), err, &failed);
  g->logits = xalloc((size_t)g->max_batch * g->V, sizeof(float), err, &failed);
  g->f_ids = xalloc((size_t)g->max_batch, sizeof *g->f_ids, err, &failed);
  g->f_n = xalloc((size_t)g->max_batch, sizeof *g->f_n, err, &failed);
  g->slot_lp = xalloc((size_t)g->max_batch, sizeof *g->slot_lp, err, &failed);
  g->pre_logits = xalloc((size_t)g->max_batch * g->V, sizeof(float), err, &failed);
  if (!failed)
    for (int sl = 0; sl < g->max_batch; sl++) g->slot_lp[sl] = g->slot_logits + (size_t)sl * g->V;
  if (!failed && g->dev->kv_create(g->m, g->max_batch, g->max_ctx, 0, budget, &g->kv, err)) failed = 1;
  if (failed) {
    l1k_generator_free(g);
    return NULL;
  }
  return g;
}

void l1k_generator_cache_info(const l1k_generator *g, l1k_gen_cache_info *ci) {
  memset(ci, 0, sizeof *ci);
  if (g->dev) {
    l1k_kv_stats st;
    memset(&st, 0, sizeof st);
    g->dev->kv_stats(g->kv, &st);
    ci->device = g->dev->name;
    ci->dtype = st.dtype;
    ci->block_size = st.block_size;
    ci->n_blocks = st.n_blocks;
    ci->used_blocks = st.used_blocks;
    ci->peak_blocks = st.peak_blocks;
    ci->bytes = st.pool_bytes;
    return;
  }
  ci->device = "cpu";
  ci->dtype = "F32";
  ci->block_size = g->max_ctx;
  ci->n_blocks = ci->used_blocks = ci->peak_blocks = g->max_batch;
  ci->bytes = l1k_generator_cache_bytes(g);
}

void l1k_generator_free(l1k_generator *g) {
  if (!g) return;
  if (g->dev && g->kv) g->dev->kv_free(g->m, g->kv);
  free(g->f_ids);
  free(g->f_n);
  free(g->slot_lp);
  free(g->pre_logits);
  l1k_gen_pool_free(g->pool);
  free(g->lw);
  free(g->bf16);
  free(g->kc);
  free(g->vc);
  free(g->slot_len);
  free(g->slot_logits);
  free(g->logits);
  free(g->rope_cos);
  free(g->rope_sin);
  free(g->x);
  free(g->xn);
  free(g->q);
  free(g->att);
  free(g->k);
  free(g->v);
  free(g->gate);
  free(g->up);
  free(g->scores);
  free(g->row_slot);
  free(g->row_pos);
  free(g);
}

int l1k_generator_max_batch(const l1k_generator *g) { return g->max_batch; }
int l1k_generator_max_ctx(const l1k_generator *g) { return g->max_ctx; }
size_t l1k_generator_cache_bytes(const l1k_generator *g) {
  if (g->dev) {
    l1k_kv_stats st;
    memset(&st, 0, sizeof st);
    g->dev->kv_stats(g->kv, &st);
    return (size_t)st.pool_bytes;
  }
  return 2 * (size_t)g->L * g->max_batch * g->nkv * (size_t)g->max_ctx * g->hd * sizeof(float);
}
const l1k_model_config *l1k_generator_cfg(const l1k_generator *g) { return &g->cfg; }

/* ---------------------------------------------------------------------------------------- */
/* kernels                                                                                  */
/* ---------------------------------------------------------------------------------------- */

/* out[n] = x[n] / sqrt(mean(x^2) + eps) * w  (variance accumulated in double, like a float32
 * mean within rounding) */
static inline void rmsnorm(float *out, const float *x, const float *w, int n, float eps) {
  double ss = 0.0;
  for (int i = 0; i < n; i++) ss += (double)x[i] * x[i];
  float r = (float)(1.0 / sqrt(ss / n + (double)eps));
  for (int i = 0; i < n; i++) out[i] = x[i] * r * w[i];
}

/* rotate_half RoPE on one head: v[i], v[i+half] rotated by angle pos * inv_freq[i]. */
static inline void rope(float *v, const float *c, const float *s, int half) {
  for (int i = 0; i < half; i++) {
    float a = v[i], b = v[i + half];
    v[i] = a * c[i] - b * s[i];
    v[i + half] = b * c[i] + a * s[i];
  }
}

/* out[n, od] = in[n, id] W[od, id]^T (+ bias)  (+ out if accumulate) */
static void linear(float *out, const float *in, const float *W, const float *bias, int n, int od,
                   int id, int accumulate) {
  float beta = accumulate ? 1.0f : 0.0f;
  if (n == 1)
    cblas_sgemv(CblasRowMajor, CblasNoTrans, od, id, 1.0f, W, id, in, 1, beta, out, 1);
  else
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, od, id, 1.0f, in, id, W, id, beta,
                out, od);
  if (bias)
    for (int r = 0; r < n; r++) {
      float *o = out + (size_t)r * od;
      for (int j = 0; j < od; j++) o[j] += bias[j];
    }
}

/* linear with the bf16 copy when there is one and the step is small (decode) */
static inline void lin(const l1k_generator *g, float *out, const float *in, const float *W, const uint16_t *W16,
                       const float *bias, int n, int od, int id, int accumulate) {
  if (W16 && n <= g->bf16_rows && g->isa >= 2)
    l1k_gen_linear_panels(g->pool, out, in, W16, bias, n, od, id, accumulate);
  else if (W16 && n <= g->bf16_rows)
    l1k_gen_linear_bf16(g->isa, g->pool, out, in, W16, bias, n, od, id, accumulate);
  else if (n <= g->f32_rows)
    l1k_gen_linear_f32(g->isa, g->pool, out, in, W, bias, n, od, id, accumulate);
  else
    linear(out, in, W, bias, n, od, id, accumulate);
}

static inline size_t cache_off(const l1k_generator *g, int l, int slot, int kvh, int pos) {
  return ((((size_t)l * g->max_batch + slot) * g->nkv + kvh) * g->max_ctx + pos) * g->hd;
}

typedef struct att_job {
  l1k_generator *g;
  int l;
} att_job;

/* one (row, KV head) pair: c = row * nkv + kv head; each pool thread has its scores block */
static void att_chunk(void *arg, int c, int thread) {
  const att_job *A = arg;
  l1k_generator *g = A->g;
  int grp = g->nh / g->nkv, r = c / g->nkv, kvh = c % g->nkv;
  int pos = g->row_pos[r], slot = g->row_slot[r];
  float *sc = g->scores + (size_t)thread * grp * g->max_ctx;
  size_t qo = (size_t)r * g->qdim + (size_t)kvh * grp * g->hd;
  l1k_gen_attend(g->isa, g->q + qo, g->kc + cache_off(g, A->l, slot, kvh, 0), g->vc + cache_off(g, A->l, slot, kvh, 0),
                 pos + 1, g->hd, grp, 1.0f / sqrtf((float)g->hd), sc, g->att + qo);
}

/* Runs n rows (row_slot / row_pos set, ids given) through all layers; K/V go into the cache.
 * Leaves the final-normed hidden states in g->xn. */
static void forward_rows(l1k_generator *g, const int32_t *ids, int n) {
  const int H = g->H, hd = g->hd, half = hd / 2, nh = g->nh, nkv = g->nkv, FF = g->FF;
  const int qd = g->qdim, kvd = g->kvdim;
  const float eps = g->eps;
  float *x = g->x, *xn = g->xn;
  for (int r = 0; r < n; r++) memcpy(x + (size_t)r * H, g->emb + (size_t)ids[r] * H, H * sizeof(float));

  for (int l = 0; l < g->L; l++) {
    const layer_w *w = &g->lw[l];
    for (int r = 0; r < n; r++) rmsnorm(xn + (size_t)r * H, x + (size_t)r * H, w->ln1, H, eps);
    lin(g, g->q, xn, w->wq, w->hq, w->bq, n, qd, H, 0);
    lin(g, g->k, xn, w->wk, w->hk, w->bk, n, kvd, H, 0);
    lin(g, g->v, xn, w->wv, w->hv, w->bv, n, kvd, H, 0);
    for (int r = 0; r < n; r++) {
      int pos = g->row_pos[r], slot = g->row_slot[r];
      const float *c = g->rope_cos + (size_t)pos * half, *s = g->rope_sin + (size_t)pos * half;
      float *qr = g->q + (size_t)r * qd, *kr = g->k + (size_t)r * kvd, *vr = g->v + (size_t)r * kvd;
      for (int h = 0; h < nh; h++) {
        float *qh = qr + (size_t)h * hd;
        if (w->qn) rmsnorm(qh, qh, w->qn, hd, eps);
        rope(qh, c, s, half);
      }
      for (int h = 0; h < nkv; h++) {
        float *kh = kr + (size_t)h * hd;
        if (w->kn) rmsnorm(kh, kh, w->kn, hd, eps);
        rope(kh, c, s, half);
        memcpy(g->kc + cache_off(g, l, slot, h, pos), kh, hd * sizeof(float));
        memcpy(g->vc + cache_off(g, l, slot, h, pos), vr + (size_t)h * hd, hd * sizeof(float));
      }
    }
    /* attention: each (row, KV head) with its group of query heads over positions 0..pos */
    att_job A = {g, l};
    long work = 0;
    for (int r = 0; r < n; r++) work += (long)(g->row_pos[r] + 1) * nh * hd;
    if (work < 32768) {
      for (int c = 0; c < n * nkv; c++) att_chunk(&A, c, 0);
    } else {
      l1k_gen_pool_run(g->pool, att_chunk, &A, n * nkv);
    }
    lin(g, x, g->att, w->wo, w->ho, NULL, n, H, qd, 1);

    for (int r = 0; r < n; r++) rmsnorm(xn + (size_t)r * H, x + (size_t)r * H, w->ln2, H, eps);
    lin(g, g->gate, xn, w->wg, w->hg, NULL, n, FF, H, 0);
    lin(g, g->up, xn, w->wu, w->hu, NULL, n, FF, H, 0);
    size_t ni = (size_t)n * FF;
    for (size_t i = 0; i < ni; i++) {
      float a = g->gate[i];
      g->gate[i] = a / (1.0f + expf(-a)) * g->up[i];
    }
    lin(g, x, g->gate, w->wd, w->hd, NULL, n, H, FF, 1);
  }
  for (int r = 0; r < n; r++) rmsnorm(xn + (size_t)r * H, x + (size_t)r * H, g->norm, H, eps);
}

static void lm_head(l1k_generator *g, const float *xn, int n, float *out) {
  lin(g, out, xn, g->lm_head, g->lm_head16, NULL, n, g->V, g->H, 0);
}

/* ---------------------------------------------------------------------------------------- */
/* feed / step                                                                              */
/* ---------------------------------------------------------------------------------------- */

static int check_ids(const l1k_generator *g, const int32_t *ids, int n, l1k_err *err) {
  for (int i = 0; i < n; i++)
    if (ids[i] < 0 || ids[i] >= g->V)
      return l1k_errf(err, L1K_EINPUT, "generate: token id %d (at %d) is outside the vocabulary (size %d)",
                      (int)ids[i], i, g->V);
  return 0;
}

/* ---- the device engine: the backend's prefill / decode (src/backend/ops.h) ---- */

/* blocks for n positions of slot (kv_reserve keeps what it has); a full pool is an error here
 * (l1k_generate admits through l1k_gen_slot_admit and never gets here without room) */
static int dev_room(l1k_generator *g, int slot, int n, l1k_err *err) {
  int rc = g->dev->kv_reserve(g->m, g->kv, slot, n, err);
  if (rc == 1) {
    l1k_kv_stats st;
    memset(&st, 0, sizeof st);
    g->dev->kv_stats(g->kv, &st);
    return l1k_errf(err, L1K_ENOMEM, "generate: the KV cache pool (%d blocks of %d positions, "
                    "%d free) cannot hold %d positions for slot %d; use a larger pool "
                    "(LONG1K_KV_MIB) or a smaller batch", st.n_blocks, st.block_size,
                    st.n_blocks - st.used_blocks, n, slot);
  }
  return rc;
}

static int dev_feed(l1k_generator *g, int slot, const int32_t *ids, int n, float *logits, l1k_err *err) {
  int rc = dev_room(g, slot, g->slot_len[slot] + n, err);
  if (rc) return rc;
  float *last = g->slot_logits + (size_t)slot * g->V;
  g->slot_lp[slot] = last;
  if (!logits) { /* one prefill of all n tokens */
    g->f_ids[0] = ids;
    g->f_n[0] = n;
    if ((rc = g->dev->prefill(g->m, g->kv, &slot, g->f_ids, g->f_n, 1, last, err))) return rc;
    g->slot_len[slot] += n;
    return 0;
  }
  /* every position's logits: one token at a time (the device returns last positions only) */
  for (int t = 0; t < n; t++) {
    g->f_ids[0] = ids + t;
    g->f_n[0] = 1;
    if ((rc = g->dev->prefill(g->m, g->kv, &slot, g->f_ids, g->f_n, 1, logits + (size_t)t * g->V, err)))
      return rc;
    g->slot_len[slot]++;
  }
  memcpy(last, logits + (size_t)(n - 1) * g->V, (size_t)g->V * sizeof(float));
  return 0;
}

int l1k_gen_is_device(const l1k_generator *g) { return g->dev != NULL; }

int l1k_gen_slot_admit(l1k_generator *g, int slot, int n_tokens, l1k_err *err) {
  if (slot < 0 || slot >= g->max_batch)
    return l1k_errf(err, L1K_EINPUT, "generate: slot %d out of range (0..%d)", slot, g->max_batch - 1);
  if (!g->dev) return 0;
  if (n_tokens > g->max_ctx) n_tokens = g->max_ctx;
  return g->dev->kv_reserve(g->m, g->kv, slot, n_tokens, err);
}

int l1k_gen_feed_many(l1k_generator *g, const int *slots, const l1k_gen_prompt *p, int count, l1k_err *err) {
  if (count <= 0) return 0;
  if (!g->dev) {
    for (int i = 0; i < count; i++) {
      int rc = l1k_gen_feed(g, slots[i], p[i].ids, p[i].n, NULL, err);
      if (rc) return rc;
    }
    return 0;
  }
  if (count > g->max_batch)
    return l1k_errf(err, L1K_EINPUT, "generate: %d prompts exceed the batch of %d", count, g->max_batch);
  for (int i = 0; i < count; i++) {
    int s = slots[i];
    if (s < 0 || s >= g->max_batch)
      return l1k_errf(err, L1K_EINPUT, "generate: slot %d out of range (0..%d)", s, g->max_batch - 1);
    if (p[i].n <= 0) return l1k_errf(err, L1K_EINPUT, "generate: nothing to feed");
    if (g->slot_len[s] + p[i].n > g->max_ctx)
      return l1k_errf(err, L1K_EINPUT, "generate: %d + %d tokens exceed the context of %d", g->slot_len[s],
                      p[i].n, g->max_ctx);
    for (int q = 0; q < i; q++)
      if (slots[q] == s) return l1k_errf(err, L1K_EINPUT, "generate: slot %d appears twice in one prefill", s);
    if (check_ids(g, p[i].ids, p[i].n, err)) return err ? err->code : L1K_EINPUT;
    int rc = dev_room(g, s, g->slot_len[s] + p[i].n, err);
    if (rc) return rc;
    g->f_ids[i] = p[i].ids;
    g->f_n[i] = p[i].n;
  }
  /* not into `logits`: running slots may still point at the last step's rows there */
  int rc = g->dev->prefill(g->m, g->kv, slots, g->f_ids, g->f_n, count, g->pre_logits, err);
  if (rc) return rc;
  for (int i = 0; i < count; i++) {
    float *dst = g->slot_logits + (size_t)slots[i] * g->V;
    g->slot_len[slots[i]] += p[i].n;
    memcpy(dst, g->pre_logits + (size_t)i * g->V, (size_t)g->V * sizeof(float));
    g->slot_lp[slots[i]] = dst;
  }
  return 0;
}

int l1k_gen_feed(l1k_generator *g, int slot, const int32_t *ids, int n, float *logits, l1k_err *err) {
  if (slot < 0 || slot >= g->max_batch)
    return l1k_errf(err, L1K_EINPUT, "generate: slot %d out of range (0..%d)", slot, g->max_batch - 1);
  if (n <= 0) return l1k_errf(err, L1K_EINPUT, "generate: nothing to feed");
  if (g->slot_len[slot] + n > g->max_ctx)
    return l1k_errf(err, L1K_EINPUT, "generate: %d + %d tokens exceed the context of %d", g->slot_len[slot], n,
                    g->max_ctx);
  if (check_ids(g, ids, n, err)) return err ? err->code : L1K_EINPUT;
  if (g->dev) return dev_feed(g, slot, ids, n, logits, err);
  for (int done = 0; done < n;) {
    int c = n - done < g->max_rows ? n - done : g->max_rows;
    for (int r = 0; r < c; r++) {
      g->row_slot[r] = slot;
      g->row_pos[r] = g->slot_len[slot] + r;
    }
    forward_rows(g, ids + done, c);
    g->slot_len[slot] += c;
    if (logits) lm_head(g, g->xn, c, logits + (size_t)done * g->V);
    done += c;
    if (done == n) {
      float *dst = g->slot_logits + (size_t)slot * g->V;
      if (logits)
        memcpy(dst, logits + (size_t)(n - 1) * g->V, (size_t)g->V * sizeof(float));
      else
        lm_head(g, g->xn + (size_t)(c - 1) * g->H, 1, dst);
    }
  }
  return 0;
}

/* the checks of a step's rows (and, on a device, their KV room) */
static int step_check(l1k_generator *g, const int *slots, const int32_t *ids, int n, l1k_err *err) {
  if (n > g->max_batch) return l1k_errf(err, L1K_EINPUT, "generate: %d rows exceed the batch of %d", n, g->max_batch);
  if (check_ids(g, ids, n, err)) return err ? err->code : L1K_EINPUT;
  for (int r = 0; r < n; r++) {
    int s = slots[r];
    if (s < 0 || s >= g->max_batch)
      return l1k_errf(err, L1K_EINPUT, "generate: slot %d out of range (0..%d)", s, g->max_batch - 1);
    if (g->slot_len[s] + 1 > g->max_ctx)
      return l1k_errf(err, L1K_EINPUT, "generate: slot %d is full (context %d)", s, g->max_ctx);
    for (int q = 0; q < r; q++)
      if (slots[q] == s) return l1k_errf(err, L1K_EINPUT, "generate: slot %d appears twice in one step", s);
    if (g->dev) {
      int rc = dev_room(g, s, g->slot_len[s] + 1, err);
      if (rc) return rc;
      continue;
    }
    g->row_slot[r] = s;
    g->row_pos[r] = g->slot_len[s];
  }
  return 0;
}

int l1k_gen_step_greedy(l1k_generator *g, const int *slots, const int32_t *ids, int n, int32_t *next,
                        l1k_err *err) {
  if (!g->dev || !g->dev->decode_greedy) return L1K_EUNSUPPORTED;
  if (n <= 0) return 0;
  int rc = step_check(g, slots, ids, n, err);
  if (rc) return rc;
  if ((rc = g->dev->decode_greedy(g->m, g->kv, slots, ids, n, next, err))) return rc;
  for (int r = 0; r < n; r++) {
    g->slot_len[slots[r]]++;
    g->slot_lp[slots[r]] = NULL; /* the logits stayed on the device */
  }
  return 0;
}

int l1k_gen_step(l1k_generator *g, const int *slots, const int32_t *ids, int n, float *logits,
                 l1k_err *err) {
  if (n <= 0) return 0;
  int rc0 = step_check(g, slots, ids, n, err);
  if (rc0) return rc0;
  if (g->dev) {
    float *out = logits ? logits : g->logits;
    int rc = g->dev->decode(g->m, g->kv, slots, ids, n, out, err);
    if (rc) return rc;
    for (int r = 0; r < n; r++) {
      float *dst = g->slot_logits + (size_t)slots[r] * g->V;
      g->slot_len[slots[r]]++;
      if (logits) { /* the caller's buffer: keep a copy */
        memcpy(dst, out + (size_t)r * g->V, (size_t)g->V * sizeof(float));
        g->slot_lp[slots[r]] = dst;
      } else {
        g->slot_lp[slots[r]] = out + (size_t)r * g->V;
      }
    }
    return 0;
  }
  forward_rows(g, ids, n);
  float *out = logits ? logits : g->logits;
  lm_head(g, g->xn, n, out);
  for (int r = 0; r < n; r++) {
    g->slot_len[slots[r]]++;
    memcpy(g->slot_logits + (size_t)slots[r] * g->V, out + (size_t)r * g->V, (size_t)g->V * sizeof(float));
  }
  return 0;
}

const float *l1k_gen_slot_logits(const l1k_generator *g, int slot) {
  if (slot < 0 || slot >= g->max_batch) return NULL;
  if (g->dev) return g->slot_lp[slot];
  return g->slot_logits + (size_t)slot * g->V;
}
int l1k_gen_slot_len(const l1k_generator *g, int slot) {
  return slot >= 0 && slot < g->max_batch ? g->slot_len[slot] : -1;
}
void l1k_gen_slot_reset(l1k_generator *g, int slot) {
  if (slot < 0 || slot >= g->max_batch) return;
  g->slot_len[slot] = 0;
  if (g->dev) g->dev->kv_release(g->m, g->kv, slot);
}
int l1k_generator_vocab(const l1k_generator *g) { return g->V; }

int l1k_gen_slot_copy_prefix(l1k_generator *g, int dst, int src, int n, l1k_err *err) {
  if (dst < 0 || dst >= g->max_batch || src < 0 || src >= g->max_batch || dst == src)
    return l1k_errf(err, L1K_EINPUT, "generate: cannot copy slot %d to slot %d", src, dst);
  if (n < 0 || n > g->slot_len[src])
    return l1k_errf(err, L1K_EINPUT, "generate: slot %d holds %d positions, not %d", src, g->slot_len[src], n);
  if (g->dev) {
    if (g->slot_len[dst] != 0)
      return l1k_errf(err, L1K_EINPUT, "generate: slot %d is not empty (reset it first)", dst);
    int rc = dev_room(g, dst, n, err);
    if (!rc) rc = g->dev->kv_copy(g->m, g->kv, dst, src, n, err);
    if (!rc) g->slot_len[dst] = n;
    return rc;
  }
  size_t bytes = (size_t)n * g->hd * sizeof(float);
  for (int l = 0; l < g->L; l++)
    for (int h = 0; h < g->nkv; h++) {
      memcpy(g->kc + cache_off(g, l, dst, h, 0), g->kc + cache_off(g, l, src, h, 0), bytes);
      memcpy(g->vc + cache_off(g, l, dst, h, 0), g->vc + cache_off(g, l, src, h, 0), bytes);
    }
  g->slot_len[dst] = n;
  return 0;
}

void l1k_gen_slot_set_logits(l1k_generator *g, int slot, const float *logits) {
  if (slot >= 0 && slot < g->max_batch) {
    memcpy(g->slot_logits + (size_t)slot * g->V, logits, (size_t)g->V * sizeof(float));
    if (g->dev) g->slot_lp[slot] = g->slot_logits + (size_t)slot * g->V;
  }
}
