/* long1k — the LoRA products of the CPU backend (include/long1k/adapter.h), hooked after each
 * base product of forward.c. PEFT's LoraLayer:
 *   forward   y  += scale * u B^T,        u = d(x) A^T            (u kept for the backward)
 *   backward  dB += scale * dy^T u,       du = scale * dy B,
 *             dA += du^T d(x),            dx += d'(du A)
 * d = dropout while training (p > 0): d(x)[i,j] = x[i,j] * k[i,j] / (1 - p), k[i,j] in {0, 1} a
 * hash of (key, layer, module, i, j), recomputed in the backward instead of stored; else d = id.
 * The base weight gets no gradient: forward.c's base products see NULL gradient pointers for
 * every frozen tensor. */
#include <stdlib.h>

#include "long1k/backend.h"
#include "long1k/rng.h"
#include "model/adapter_internal.h"

int l1k_cpu_lora_reserve(l1k_model *m, size_t N, l1k_err *err) {
  model_adapter *ad = m->ad;
  if (!ad || ad->kind != ADAPTER_LORA || N <= ad->rows) return 0;
  int L = m->cfg.num_hidden_layers, r = ad->o.rank, nmod = 0;
  for (int i = 0; i < L * L1K_LORA_NMOD; i++) nmod += ad->mods[i].A != NULL;
  size_t per = N * (size_t)r, max_in = 0;
  for (int i = 0; i < L * L1K_LORA_NMOD; i++)
    if (ad->mods[i].A && (size_t)ad->mods[i].in > max_in) max_in = (size_t)ad->mods[i].in;
  float *mem = l1k_alloc_big(((size_t)nmod + 1) * per * sizeof(float));
  float *xd = ad->o.dropout > 0 ? l1k_alloc_big(N * max_in * sizeof(float)) : NULL;
  if (!mem || (ad->o.dropout > 0 && !xd)) {
    free(mem);
    free(xd);
    return l1k_errf(err, L1K_ENOMEM, "out of memory for the LoRA activations of %zu rows", N);
  }
  free(ad->xd);
  ad->xd = xd;
  free(ad->acts);
  ad->acts = mem;
  ad->du = mem;
  size_t k = 1;
  for (int i = 0; i < L * L1K_LORA_NMOD; i++)
    if (ad->mods[i].A) ad->mods[i].u = mem + per * k++;
  ad->rows = N;
  return 0;
}

static lora_mod *mod_of(l1k_model *m, int l, int mod) {
  model_adapter *ad = m->ad;
  if (!ad || ad->kind != ADAPTER_LORA) return NULL;
  lora_mod *lm = &ad->mods[(size_t)l * L1K_LORA_NMOD + mod];
  return lm->A ? lm : NULL;
}

void l1k_cpu_lora_training(l1k_model *m, int on) {
  if (m->ad) m->ad->training = on;
}

static int dropping(const model_adapter *ad) { return ad->training && ad->o.dropout > 0; }

/* 1 / (1 - p) or 0 for element idx of module (l, mod): the dropout mask, from the key. */
static inline float keep_factor(const model_adapter *ad, uint64_t id, size_t idx, float inv) {
  uint64_t h = l1k_mix64(ad->drop_key ^ l1k_mix64(id * 0x9E3779B97F4A7C15ULL + idx));
  return (double)(h >> 11) * (1.0 / 9007199254740992.0) < ad->o.dropout ? 0.0f : inv;
}

/* out[i, j] = x[i, j] * keep (mul = 0), or out[i, j] += x[i, j] * keep (mul = 1: dx). */
static void apply_dropout(const model_adapter *ad, int l, int mod, float *out, const float *x,
                          int N, int in, int add) {
  uint64_t id = (uint64_t)l * L1K_LORA_NMOD + (uint64_t)mod;
  float inv = (float)(1.0 / (1.0 - ad->o.dropout));
#pragma omp parallel for schedule(static) if ((size_t)N * in > L1K_PAR_MIN)
  for (int i = 0; i < N; i++)
    for (int j = 0; j < in; j++) {
      size_t k = (size_t)i * in + j;
      float v = x[k] * keep_factor(ad, id, k, inv);
      out[k] = add ? out[k] + v : v;
    }
}

void l1k_cpu_lora_fw(l1k_model *m, int l, int mod, float *y, const float *x, int N) {
  lora_mod *lm = mod_of(m, l, mod);
  if (!lm || N <= 0) return;
  int r = m->ad->o.rank;
  if (dropping(m->ad)) {
    apply_dropout(m->ad, l, mod, m->ad->xd, x, N, lm->in, 0);
    x = m->ad->xd;
  }
  l1k_gemm(0, 1, N, r, lm->in, 1.0f, x, lm->in, lm->A, lm->in, 0.0f, lm->u, r);
  l1k_gemm(0, 1, N, lm->out, r, m->ad->scale, lm->u, r, lm->B, r, 1.0f, y, lm->out);
}

void l1k_cpu_lora_bw(l1k_model *m, int l, int mod, float *dx, const float *dy, const float *x,
                     int N) {
  lora_mod *lm = mod_of(m, l, mod);
  if (!lm || N <= 0) return;
  int r = m->ad->o.rank, in = lm->in, out = lm->out;
  float s = m->ad->scale, *du = m->ad->du;
  l1k_gemm(1, 0, out, r, N, s, dy, out, lm->u, r, 1.0f, lm->gB, r);
  l1k_gemm(0, 0, N, r, out, s, dy, out, lm->B, r, 0.0f, du, r);
  if (!dropping(m->ad)) {
    l1k_gemm(1, 0, r, in, N, 1.0f, du, r, x, in, 1.0f, lm->gA, in);
    if (dx) l1k_gemm(0, 0, N, in, r, 1.0f, du, r, lm->A, in, 1.0f, dx, in);
    return;
  }
  float *xd = m->ad->xd; /* the forward's dropped input again, then the masked dx */
  apply_dropout(m->ad, l, mod, xd, x, N, in, 0);
  l1k_gemm(1, 0, r, in, N, 1.0f, du, r, xd, in, 1.0f, lm->gA, in);
  if (!dx) return;
  l1k_gemm(0, 0, N, in, r, 1.0f, du, r, lm->A, in, 0.0f, xd, in);
  apply_dropout(m->ad, l, mod, dx, xd, N, in, 1);
}

/* The lowest layer whose backward is needed: the lowest layer with a trained tensor or a LoRA
 * module, or 0 when the embedding is trained (and always without an adapter). Layers below it
 * only carry the gradient down to frozen weights, so the backward stops there. */
int l1k_cpu_bw_lowest_layer(const l1k_model *m) {
  const model_adapter *ad = m->ad;
  int L = m->cfg.num_hidden_layers;
  if (!ad || m->g.embed) return 0;
  for (int l = 0; l < L; l++) {
    const layer_params *G = &m->g.layer[l];
    const float *g[] = {G->ln1_w, G->q_w, G->q_b,    G->k_w,  G->k_b,  G->v_w,   G->v_b,
                        G->o_w,   G->q_norm, G->k_norm, G->ln2_w, G->gate_w, G->up_w, G->down_w};
    for (size_t i = 0; i < sizeof g / sizeof g[0]; i++)
      if (g[i]) return l;
    if (ad->kind == ADAPTER_LORA)
      for (int k = 0; k < L1K_LORA_NMOD; k++)
        if (ad->mods[(size_t)l * L1K_LORA_NMOD + k].A) return l;
  }
  return L;
}
