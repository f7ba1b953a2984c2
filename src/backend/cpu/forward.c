/* long1k — forward and backward of the decoder on the CPU (float32).
 *
 * llm.c style: the activations of a batch live in one arena (model_acts) sized by
 * l1k_cpu_reserve; each layer's forward and backward sit side by side below. A batch row may
 * hold several documents: a document starts where doc[] changes (or, without doc[], where
 * pos[] does not increase); attention is causal inside a document and never crosses it, and
 * the target of position i is labels[i+1] only when i+1 is in the same document. */
#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "backend/cpu/cpu.h"
#include "model/adapter_internal.h"

/* ---------------------------------------------------------------- arena */

static size_t acts_layout(l1k_model *m, int B, int T, float *base) {
  const l1k_model_config *c = &m->cfg;
  size_t N = (size_t)B * T, C = c->hidden_size, FF = c->intermediate_size, V = c->vocab_size;
  size_t H = c->num_attention_heads, KVH = c->num_key_value_heads, hd = c->head_dim;
  size_t QD = H * hd, KD = KVH * hd;
  size_t off = 0;
  model_acts *a = &m->a;
#define TAKE(ptr, n)                                \
  do {                                              \
    if (base) (ptr) = (void *)(base + off);         \
    off += ((size_t)(n) + 15) & ~(size_t)15;        \
  } while (0)
  for (int l = 0; l < c->num_hidden_layers; l++) {
    layer_acts *L = base ? &a->layer[l] : NULL;
    layer_acts dummy;
    if (!L) L = &dummy;
    TAKE(L->x, N * C);
    TAKE(L->ln1, N * C);
    TAKE(L->ln1_rstd, N);
    TAKE(L->q, N * QD);
    TAKE(L->k, N * KD);
    TAKE(L->v, N * KD);
    if (c->qk_norm) {
      TAKE(L->qn_rstd, N * H);
      TAKE(L->kn_rstd, N * KVH);
    } else {
      L->qn_rstd = L->kn_rstd = NULL;
    }
    TAKE(L->qr, N * QD);
    TAKE(L->kr, N * KD);
    TAKE(L->lse, N * H);
    TAKE(L->ao, N * QD);
    TAKE(L->xm, N * C);
    TAKE(L->ln2, N * C);
    TAKE(L->ln2_rstd, N);
    TAKE(L->gate, N * FF);
    TAKE(L->up, N * FF);
    TAKE(L->h, N * FF);
  }
  TAKE(a->xf, N * C);
  TAKE(a->lnf, N * C);
  TAKE(a->lnf_rstd, N);
  TAKE(a->cos_t, N * hd / 2);
  TAKE(a->sin_t, N * hd / 2);
  TAKE(a->seg, N);
  TAKE(a->target, N);
  TAKE(a->pos, N);
  size_t ch = L1K_LOGIT_BUDGET / (V * sizeof(float));
  if (ch < 64) ch = 64;
  if (ch > N) ch = N;
  if (base) a->chunk = (int)ch;
  TAKE(a->logits, ch * V);
  TAKE(a->lmwork, l1k_lm_work_floats((int)ch, (int)C, a->n_threads));
  TAKE(a->trow, N);
  TAKE(a->ttg, N);
  TAKE(a->lnfc, N * C);
  TAKE(a->dcc, N * C);
  TAKE(a->dres, N * C);
  TAKE(a->dc, N * C);
  TAKE(a->dq, N * QD);
  TAKE(a->dq2, N * QD);
  TAKE(a->dk, N * KD);
  TAKE(a->dk2, N * KD);
  TAKE(a->dv, N * KD);
  TAKE(a->dao, N * QD);
  TAKE(a->dgate, N * FF);
  TAKE(a->dup, N * FF);
  TAKE(a->dh, N * FF);
  TAKE(a->segs, 3 * N);
  TAKE(a->scr, (size_t)a->n_threads * 2 * ATT_RB * T);
#undef TAKE
  return off;
}

int l1k_cpu_reserve(l1k_model *m, int B, int T, l1k_err *err) {
  if (B <= 0 || T <= 0)
    return l1k_errf(err, L1K_EINPUT, "batch of %d rows x %d tokens: expected positive sizes", B, T);
  if (m->a.mem && B * (size_t)T <= (size_t)m->a.B * m->a.T && T <= m->a.T &&
      (size_t)B * T * T <= (size_t)m->a.B * m->a.T * m->a.T)
    return 0; /* fits */
  /* grow to cover both the old and the new shape */
  int nB = B, nT = T;
  if (m->a.mem) {
    if (m->a.T > nT) nT = m->a.T;
    if (m->a.B > nB) nB = m->a.B;
  }
  m->a.n_threads = omp_get_max_threads() > 0 ? omp_get_max_threads() : 1;
  size_t n = acts_layout(m, nB, nT, NULL);
  free(m->a.mem);
  m->a.mem = NULL;
  if (!m->a.layer) {
    m->a.layer = calloc((size_t)m->cfg.num_hidden_layers, sizeof(layer_acts));
    if (!m->a.layer) return l1k_errf(err, L1K_ENOMEM, "out of memory for activations");
  }
  m->a.mem = l1k_alloc_big(n * sizeof(float));
  if (!m->a.mem) {
    m->a.B = m->a.T = 0;
    return l1k_errf(err, L1K_ENOMEM,
                    "out of memory for activations of %d x %d tokens (%.2f GB); use smaller batches",
                    nB, nT, n * 4.0 / 1e9);
  }
  m->a.n_floats = n;
  m->a.B = nB;
  m->a.T = nT;
  acts_layout(m, nB, nT, m->a.mem);
  return 0;
}

/* ---------------------------------------------------------------- batch prep */

/* Fills seg, pos, target; checks ids and labels. */
static int prepare_batch(l1k_model *m, const l1k_batch *b, l1k_err *err) {
  model_acts *a = &m->a;
  int B = b->B, T = b->T;
  int rc = model_batch_layout(b, m->cfg.vocab_size, a->pos, a->seg, a->target, err);
  if (rc) return rc;
  a->n_segs = 0;
  for (int r = 0; r < B; r++)
    for (int t = 0; t < T;) {
      int e = t + 1;
      while (e < T && a->seg[(size_t)r * T + e] == t) e++;
      int32_t *sg = a->segs + 3 * a->n_segs++;
      sg[0] = r, sg[1] = t, sg[2] = e;
      t = e;
    }
  return 0;
}

int64_t l1k_batch_count_targets(const l1k_batch *b, l1k_err *err) {
  int64_t n = 0;
  if (!b->labels) return 0;
  for (int r = 0; r < b->B; r++) {
    for (int t = 0; t + 1 < b->T; t++) {
      size_t i = (size_t)r * b->T + t;
      int32_t lb = b->labels[i + 1];
      if (lb == -100) continue;
      if (lb < 0) {
        l1k_errf(err, L1K_EINPUT, "batch row %d position %d: label %d (expected -100 or a token id)",
                 r, t + 1, lb);
        return -1;
      }
      int same;
      if (b->doc) same = b->doc[i + 1] == b->doc[i];
      else if (b->pos) same = b->pos[i + 1] > b->pos[i];
      else same = 1;
      n += same;
    }
  }
  return n;
}

/* ---------------------------------------------------------------- attention */

/* Attention, flash-style on the CPU: per (document, head) the query rows go in blocks of
 * ATT_RB; a block [r0, r1) needs the keys [0, r1) only (causal), so the masked upper half is
 * never computed. The forward keeps only the log-sum-exp of each row; the backward recomputes
 * the probabilities P = exp(S - lse) block by block. Memory: O(N·H) per layer plus a
 * [2, ATT_RB, T] scratch per thread, instead of H·T² per layer. */

/* Softmax of row[0..n) in place; returns its log-sum-exp (NaN when a score is NaN / inf). */
static float softmax_lse(float *row, int n) {
  float mx = -INFINITY;
  int bad = 0;
  for (int j = 0; j < n; j++) {
    mx = row[j] > mx ? row[j] : mx;
    bad |= !(fabsf(row[j]) <= 3.0e38f);
  }
  if (bad) {
    for (int j = 0; j < n; j++) row[j] = NAN;
    return NAN;
  }
  l1k_softmax_inplace(row, n);
  /* lse = mx + log(sum exp(x - mx)); recompute the sum from the normalizer is not possible
   * after normalization, so take it from the largest probability: p_max = exp(mx - lse). */
  float pmax = 0.0f;
  for (int j = 0; j < n; j++) pmax = row[j] > pmax ? row[j] : pmax;
  return mx - logf(pmax);
}

static void attention_fw(l1k_model *m, layer_acts *L, int B, int T) {
  const l1k_model_config *c = &m->cfg;
  int H = c->num_attention_heads, KVH = c->num_key_value_heads, hd = c->head_dim;
  int QD = H * hd, KD = KVH * hd, rep = H / KVH;
  float scale = 1.0f / sqrtf((float)hd);
  const int32_t *segs = m->a.segs;
  int ntask = m->a.n_segs * H;
  (void)B;
#pragma omp parallel for schedule(dynamic, 1) num_threads(m->a.n_threads) if (ntask > 1 && (size_t)B * T * T * hd > L1K_PAR_MIN)
  for (int task = 0; task < ntask; task++) {
    const int32_t *sg = segs + 3 * (task / H);
    int b = sg[0], s = sg[1], len = sg[2] - sg[1], h = task % H, g = h / rep;
    float *S = m->a.scr + (size_t)omp_get_thread_num() * 2 * ATT_RB * T; /* [rb, kn], ld kn */
    size_t r0 = (size_t)b * T + s;
    const float *K = L->kr + r0 * KD + (size_t)g * hd;
    const float *Vv = L->v + r0 * KD + (size_t)g * hd;
    for (int q0 = 0; q0 < len; q0 += ATT_RB) {
      int q1 = q0 + ATT_RB < len ? q0 + ATT_RB : len, rb = q1 - q0, kn = q1;
      const float *Q = L->qr + (r0 + q0) * QD + (size_t)h * hd;
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, rb, kn, hd, scale, Q, QD, K, KD, 0.0f,
                  S, kn);
      for (int i = 0; i < rb; i++) {
        float *row = S + (size_t)i * kn;
        int n = q0 + i + 1;
        L->lse[(r0 + q0 + i) * H + h] = softmax_lse(row, n);
        memset(row + n, 0, (size_t)(kn - n) * sizeof(float));
      }
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, rb, hd, kn, 1.0f, S, kn, Vv, KD, 0.0f,
                  L->ao + (r0 + q0) * QD + (size_t)h * hd, QD);
    }
  }
}

/* Backward: dao -> dq, dk, dv (all overwritten). One task per (document, kv head): the query
 * heads sharing a kv head accumulate into its dk / dv one after the other. */
static void attention_bw(l1k_model *m, layer_acts *L, int B, int T, const float *dao, float *dq,
                         float *dk, float *dv) {
  const l1k_model_config *c = &m->cfg;
  int H = c->num_attention_heads, KVH = c->num_key_value_heads, hd = c->head_dim;
  int QD = H * hd, KD = KVH * hd, rep = H / KVH;
  float scale = 1.0f / sqrtf((float)hd);
  const int32_t *segs = m->a.segs;
  int ntask = m->a.n_segs * KVH;
  memset(dk, 0, (size_t)B * T * KD * sizeof(float));
  memset(dv, 0, (size_t)B * T * KD * sizeof(float));
#pragma omp parallel for schedule(dynamic, 1) num_threads(m->a.n_threads) if (ntask > 1 && (size_t)B * T * T * hd > L1K_PAR_MIN)
  for (int task = 0; task < ntask; task++) {
    const int32_t *sg = segs + 3 * (task / KVH);
    int b = sg[0], s = sg[1], len = sg[2] - sg[1], g = task % KVH;
    float *P = m->a.scr + (size_t)omp_get_thread_num() * 2 * ATT_RB * T;
    float *dS = P + (size_t)ATT_RB * T;
    size_t r0 = (size_t)b * T + s;
    const float *K = L->kr + r0 * KD + (size_t)g * hd;
    const float *Vv = L->v + r0 * KD + (size_t)g * hd;
    float *dKg = dk + r0 * KD + (size_t)g * hd, *dVg = dv + r0 * KD + (size_t)g * hd;
    for (int h = g * rep; h < (g + 1) * rep; h++) {
      for (int q0 = 0; q0 < len; q0 += ATT_RB) {
        int q1 = q0 + ATT_RB < len ? q0 + ATT_RB : len, rb = q1 - q0, kn = q1;
        const float *Q = L->qr + (r0 + q0) * QD + (size_t)h * hd;
        const float *dO = dao + (r0 + q0) * QD + (size_t)h * hd;
        /* recompute P = exp(scale Q K^T - lse), causal */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, rb, kn, hd, scale, Q, QD, K, KD, 0.0f,
                    P, kn);
        for (int i = 0; i < rb; i++) {
          float *row = P + (size_t)i * kn;
          int n = q0 + i + 1;
          float lse = L->lse[(r0 + q0 + i) * H + h];
          for (int j = 0; j < n; j++) row[j] = l1k_exp_fast(row[j] - lse);
          memset(row + n, 0, (size_t)(kn - n) * sizeof(float));
        }
        /* dV[0:kn] += P^T dO */
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, kn, hd, rb, 1.0f, P, kn, dO, QD, 1.0f,
                    dVg, KD);
        /* dP = dO V^T; dS = P * (dP - rowsum(P * dP)) * scale */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, rb, kn, hd, 1.0f, dO, QD, Vv, KD, 0.0f,
                    dS, kn);
        for (int i = 0; i < rb; i++) {
          const float *pr = P + (size_t)i * kn;
          float *dr = dS + (size_t)i * kn;
          int n = q0 + i + 1;
          double dot = 0;
          for (int j = 0; j < n; j++) dot += (double)pr[j] * dr[j];
          float fd = (float)dot;
          for (int j = 0; j < n; j++) dr[j] = pr[j] * (dr[j] - fd) * scale;
          memset(dr + n, 0, (size_t)(kn - n) * sizeof(float));
        }
        /* dQ = dS K ; dK[0:kn] += dS^T Q */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, rb, hd, kn, 1.0f, dS, kn, K, KD, 0.0f,
                    dq + (r0 + q0) * QD + (size_t)h * hd, QD);
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, kn, hd, rb, 1.0f, dS, kn, Q, QD, 1.0f,
                    dKg, KD);
      }
    }
  }
}

/* ---------------------------------------------------------------- layer */

static void layer_fw(l1k_model *m, int l, int B, int T, float *x_out) {
  const l1k_model_config *c = &m->cfg;
  layer_params *P = &m->p.layer[l];
  layer_acts *L = &m->a.layer[l];
  int N = B * T, C = c->hidden_size, FF = c->intermediate_size;
  int H = c->num_attention_heads, KVH = c->num_key_value_heads, hd = c->head_dim;
  int QD = H * hd, KD = KVH * hd;
  float eps = (float)c->rms_norm_eps;
  /* attention block */
  l1k_rmsnorm_fw(L->ln1, L->ln1_rstd, L->x, P->ln1_w, N, C, eps);
  l1k_linear_fw(L->q, L->ln1, P->q_w, P->q_b, N, C, QD);
  l1k_cpu_lora_fw(m, l, L1K_LORA_Q, L->q, L->ln1, N);
  l1k_linear_fw(L->k, L->ln1, P->k_w, P->k_b, N, C, KD);
  l1k_cpu_lora_fw(m, l, L1K_LORA_K, L->k, L->ln1, N);
  l1k_linear_fw(L->v, L->ln1, P->v_w, P->v_b, N, C, KD);
  l1k_cpu_lora_fw(m, l, L1K_LORA_V, L->v, L->ln1, N);
  if (c->qk_norm) {
    l1k_rmsnorm_fw(L->qr, L->qn_rstd, L->q, P->q_norm, N * H, hd, eps);
    l1k_rmsnorm_fw(L->kr, L->kn_rstd, L->k, P->k_norm, N * KVH, hd, eps);
  } else {
    memcpy(L->qr, L->q, (size_t)N * QD * sizeof(float));
    memcpy(L->kr, L->k, (size_t)N * KD * sizeof(float));
  }
  l1k_rope_apply(L->qr, N, QD, H, hd, m->a.cos_t, m->a.sin_t, 0);
  l1k_rope_apply(L->kr, N, KD, KVH, hd, m->a.cos_t, m->a.sin_t, 0);
  attention_fw(m, L, B, T);
  /* xm = x + o_proj(ao) */
  l1k_linear_fw(L->xm, L->ao, P->o_w, NULL, N, QD, C);
  l1k_cpu_lora_fw(m, l, L1K_LORA_O, L->xm, L->ao, N);
  size_t NC = (size_t)N * C;
#pragma omp parallel for schedule(static) if (NC > L1K_PAR_MIN)
  for (size_t i = 0; i < NC; i++) L->xm[i] += L->x[i];
  /* MLP block */
  l1k_rmsnorm_fw(L->ln2, L->ln2_rstd, L->xm, P->ln2_w, N, C, eps);
  l1k_linear_fw(L->gate, L->ln2, P->gate_w, NULL, N, C, FF);
  l1k_cpu_lora_fw(m, l, L1K_LORA_GATE, L->gate, L->ln2, N);
  l1k_linear_fw(L->up, L->ln2, P->up_w, NULL, N, C, FF);
  l1k_cpu_lora_fw(m, l, L1K_LORA_UP, L->up, L->ln2, N);
  size_t NI = (size_t)N * FF;
#pragma omp parallel for schedule(static) if (NI > L1K_PAR_MIN)
  for (size_t i = 0; i < NI; i++) L->h[i] = l1k_silu(L->gate[i]) * L->up[i];
  l1k_linear_fw(x_out, L->h, P->down_w, NULL, N, FF, C);
  l1k_cpu_lora_fw(m, l, L1K_LORA_DOWN, x_out, L->h, N);
#pragma omp parallel for schedule(static) if (NC > L1K_PAR_MIN)
  for (size_t i = 0; i < NC; i++) x_out[i] += L->xm[i];
}

/* dres: gradient wrt the layer output on entry, wrt the layer input on exit. */
static void layer_bw(l1k_model *m, int l, int B, int T) {
  const l1k_model_config *c = &m->cfg;
  layer_params *P = &m->p.layer[l], *G = &m->g.layer[l];
  layer_acts *L = &m->a.layer[l];
  model_acts *a = &m->a;
  int N = B * T, C = c->hidden_size, FF = c->intermediate_size;
  int H = c->num_attention_heads, KVH = c->num_key_value_heads, hd = c->head_dim;
  int QD = H * hd, KD = KVH * hd;
  size_t NI = (size_t)N * FF;
  /* MLP: out = xm + down(h) */
  l1k_linear_bw(a->dh, G->down_w, NULL, a->dres, L->h, P->down_w, N, FF, C, 0);
  l1k_cpu_lora_bw(m, l, L1K_LORA_DOWN, a->dh, a->dres, L->h, N);
#pragma omp parallel for schedule(static) if (NI > L1K_PAR_MIN)
  for (size_t i = 0; i < NI; i++) {
    float g = L->gate[i], sg = 1.0f / (1.0f + expf(-g));
    float dh = a->dh[i];
    a->dup[i] = dh * g * sg;
    a->dgate[i] = dh * L->up[i] * sg * (1.0f + g * (1.0f - sg));
  }
  l1k_linear_bw(a->dc, G->gate_w, NULL, a->dgate, L->ln2, P->gate_w, N, C, FF, 0);
  l1k_cpu_lora_bw(m, l, L1K_LORA_GATE, a->dc, a->dgate, L->ln2, N);
  l1k_linear_bw(a->dc, G->up_w, NULL, a->dup, L->ln2, P->up_w, N, C, FF, 1);
  l1k_cpu_lora_bw(m, l, L1K_LORA_UP, a->dc, a->dup, L->ln2, N);
  l1k_rmsnorm_bw(a->dres, G->ln2_w, a->dc, L->xm, P->ln2_w, L->ln2_rstd, N, C);
  /* attention: xm = x + o(ao) */
  l1k_linear_bw(a->dao, G->o_w, NULL, a->dres, L->ao, P->o_w, N, QD, C, 0);
  l1k_cpu_lora_bw(m, l, L1K_LORA_O, a->dao, a->dres, L->ao, N);
  attention_bw(m, L, B, T, a->dao, a->dq, a->dk, a->dv);
  l1k_rope_apply(a->dq, N, QD, H, hd, a->cos_t, a->sin_t, 1);
  l1k_rope_apply(a->dk, N, KD, KVH, hd, a->cos_t, a->sin_t, 1);
  float *dq = a->dq, *dk = a->dk;
  if (c->qk_norm) {
    memset(a->dq2, 0, (size_t)N * QD * sizeof(float));
    memset(a->dk2, 0, (size_t)N * KD * sizeof(float));
    l1k_rmsnorm_bw(a->dq2, G->q_norm, a->dq, L->q, P->q_norm, L->qn_rstd, N * H, hd);
    l1k_rmsnorm_bw(a->dk2, G->k_norm, a->dk, L->k, P->k_norm, L->kn_rstd, N * KVH, hd);
    dq = a->dq2, dk = a->dk2;
  }
  l1k_linear_bw(a->dc, G->q_w, G->q_b, dq, L->ln1, P->q_w, N, C, QD, 0);
  l1k_cpu_lora_bw(m, l, L1K_LORA_Q, a->dc, dq, L->ln1, N);
  l1k_linear_bw(a->dc, G->k_w, G->k_b, dk, L->ln1, P->k_w, N, C, KD, 1);
  l1k_cpu_lora_bw(m, l, L1K_LORA_K, a->dc, dk, L->ln1, N);
  l1k_linear_bw(a->dc, G->v_w, G->v_b, a->dv, L->ln1, P->v_w, N, C, KD, 1);
  l1k_cpu_lora_bw(m, l, L1K_LORA_V, a->dc, a->dv, L->ln1, N);
  l1k_rmsnorm_bw(a->dres, G->ln1_w, a->dc, L->x, P->ln1_w, L->ln1_rstd, N, C);
}

/* ---------------------------------------------------------------- whole model */

static int forward_body(l1k_model *m, const l1k_batch *b, l1k_err *err) {
  if (!b || !b->ids || b->B <= 0 || b->T <= 0)
    return l1k_errf(err, L1K_EINPUT, "empty batch (expected B > 0 rows of T > 0 tokens)");
  int rc = l1k_cpu_reserve(m, b->B, b->T, err);
  if (rc) return rc;
  if ((rc = l1k_cpu_lora_reserve(m, (size_t)b->B * b->T, err))) return rc;
  if ((rc = prepare_batch(m, b, err))) return rc;
  const l1k_model_config *c = &m->cfg;
  model_acts *a = &m->a;
  int N = b->B * b->T, C = c->hidden_size, Lc = c->num_hidden_layers;
  l1k_rope_table(a->cos_t, a->sin_t, a->pos, N, m->inv_freq, c->head_dim / 2);
  float *x0 = Lc > 0 ? a->layer[0].x : a->xf;
#pragma omp parallel for schedule(static) if ((size_t)N * C > L1K_PAR_MIN)
  for (int i = 0; i < N; i++)
    memcpy(x0 + (size_t)i * C, m->p.embed + (size_t)b->ids[i] * C, (size_t)C * sizeof(float));
  for (int l = 0; l < Lc; l++) layer_fw(m, l, b->B, b->T, l + 1 < Lc ? a->layer[l + 1].x : a->xf);
  l1k_rmsnorm_fw(a->lnf, a->lnf_rstd, a->xf, m->p.norm, N, C, (float)c->rms_norm_eps);
  return 0;
}

/* Cross-entropy of one row of V logits with target tg. With grad, the row is replaced by
 * scale * (softmax - onehot(tg)); otherwise it is left untouched. Returns lse - logit[tg]. */
__attribute__((target_clones("avx512f", "avx2", "default")))
static double ce_row(float *row, int V, int tg, int grad, float scale) {
  float mx = -INFINITY;
  int bad = 0;
#pragma omp simd reduction(max : mx) reduction(| : bad)
  for (int j = 0; j < V; j++) {
    mx = row[j] > mx ? row[j] : mx;
    bad |= !(fabsf(row[j]) <= 3.0e38f); /* NaN or infinite logit */
  }
  if (bad) { /* the loss is NaN, as in transformers; never feed NaN to exp_fast */
    if (grad)
      for (int j = 0; j < V; j++) row[j] = NAN;
    return NAN;
  }
  float xt = row[tg], s = 0.0f;
  if (grad) {
#pragma omp simd reduction(+ : s)
    for (int j = 0; j < V; j++) {
      float e = l1k_exp_fast(row[j] - mx);
      row[j] = e;
      s += e;
    }
  } else {
#pragma omp simd reduction(+ : s)
    for (int j = 0; j < V; j++) s += l1k_exp_fast(row[j] - mx);
  }
  double lse = (double)mx + log((double)s);
  if (grad) {
    float inv = (float)(scale / (double)s);
#pragma omp simd
    for (int j = 0; j < V; j++) row[j] *= inv;
    row[tg] -= scale;
  }
  return lse - xt;
}

/* Cross-entropy over R rows of logits lg[R, V] (targets -1 = none); with grad the logits are
 * replaced by scale * dloss/dlogits (zero rows for positions without a target). */
static double ce_rows(const int32_t *target, float *lg, int R, int V, int64_t *n_t, int grad,
                      float scale) {
  double loss = 0;
  int64_t nt = 0;
#pragma omp parallel for schedule(static) reduction(+ : loss, nt) if ((size_t)R * V > L1K_PAR_MIN)
  for (int r = 0; r < R; r++) {
    float *row = lg + (size_t)r * V;
    int32_t tg = target[r];
    if (tg < 0) {
      if (grad) memset(row, 0, (size_t)V * sizeof(float));
      continue;
    }
    loss += ce_row(row, V, tg, grad, scale);
    nt++;
  }
  *n_t += nt;
  return loss;
}

/* The rows that reach the lm_head: with loss only (no logits wanted), just those with a target
 * (a prompt or padding position has no loss and no gradient), gathered into lnfc / ttg when
 * some rows have none. Returns their number; *x and *tg point at their rows and targets. */
static int lm_rows(model_acts *a, int N, int C, int all, const float **x, const int32_t **tg) {
  int nr = 0;
  *x = a->lnf;
  *tg = a->target;
  if (all) return N;
  for (int i = 0; i < N; i++)
    if (a->target[i] >= 0) a->trow[nr++] = i;
  if (nr < N) {
    for (int j = 0; j < nr; j++) {
      memcpy(a->lnfc + (size_t)j * C, a->lnf + (size_t)a->trow[j] * C, (size_t)C * sizeof(float));
      a->ttg[j] = a->target[a->trow[j]];
    }
    *x = a->lnfc;
    *tg = a->ttg;
  }
  return nr;
}

static int forward_impl(l1k_model *m, const l1k_batch *b, float *logits, double *loss_sum,
                        int64_t *n_targets, l1k_err *err) {
  int rc = forward_body(m, b, err);
  if (rc) return rc;
  const l1k_model_config *c = &m->cfg;
  model_acts *a = &m->a;
  int N = b->B * b->T, C = c->hidden_size, V = c->vocab_size;
  double loss = 0;
  int64_t nt = 0;
  const float *xs;
  const int32_t *tg;
  int nr = lm_rows(a, N, C, logits != NULL, &xs, &tg);
  for (int r0 = 0; r0 < nr; r0 += a->chunk) {
    int R = nr - r0 < a->chunk ? nr - r0 : a->chunk;
    float *lg = logits ? logits + (size_t)r0 * V : a->logits;
    l1k_lm_logits(lg, xs + (size_t)r0 * C, m->p.lm_head, R, C, V, a->lmwork, a->n_threads);
    loss += ce_rows(tg + r0, lg, R, V, &nt, 0, 0.0f);
  }
  if (loss_sum) *loss_sum = loss;
  if (n_targets) *n_targets = nt;
  return 0;
}

int l1k_cpu_forward(l1k_model *m, const l1k_batch *b, float *logits, double *loss_sum,
                    int64_t *n_targets, l1k_err *err) {
  int prev = l1k_blas_single_begin();
  int rc = forward_impl(m, b, logits, loss_sum, n_targets, err);
  l1k_blas_single_end(prev);
  return rc;
}

static int forward_backward_impl(l1k_model *m, const l1k_batch *b, double grad_scale,
                                 double *loss_sum, int64_t *n_targets, l1k_err *err) {
  int rc = forward_body(m, b, err);
  if (rc) return rc;
  const l1k_model_config *c = &m->cfg;
  model_acts *a = &m->a;
  int N = b->B * b->T, C = c->hidden_size, V = c->vocab_size, Lc = c->num_hidden_layers;
  double loss = 0;
  int64_t nt = 0;
  /* fused lm_head + cross-entropy + backward, chunk by chunk over the rows with a target:
   * dlnf into a->dc (zero for the other rows) */
  const float *xs;
  const int32_t *tg;
  int nr = lm_rows(a, N, C, 0, &xs, &tg);
  float *ds = nr < N ? a->dcc : a->dc;
  if (nr < N) memset(a->dc, 0, (size_t)N * C * sizeof(float));
  for (int r0 = 0; r0 < nr; r0 += a->chunk) {
    int R = nr - r0 < a->chunk ? nr - r0 : a->chunk;
    float *lg = a->logits;
    const float *xin = xs + (size_t)r0 * C;
    l1k_lm_logits(lg, xin, m->p.lm_head, R, C, V, a->lmwork, a->n_threads);
    loss += ce_rows(tg + r0, lg, R, V, &nt, 1, (float)grad_scale);
    l1k_linear_bw(ds + (size_t)r0 * C, m->g.lm_head, NULL, lg, xin, m->p.lm_head, R, C, V, 0);
  }
  if (nr < N)
    for (int j = 0; j < nr; j++)
      memcpy(a->dc + (size_t)a->trow[j] * C, a->dcc + (size_t)j * C, (size_t)C * sizeof(float));
  /* final norm */
  memset(a->dres, 0, (size_t)N * C * sizeof(float));
  l1k_rmsnorm_bw(a->dres, m->g.norm, a->dc, a->xf, m->p.norm, a->lnf_rstd, N, C);
  /* with an adapter, the layers below the lowest trained one are skipped (nothing to train) */
  for (int l = Lc - 1, lo = l1k_cpu_bw_lowest_layer(m); l >= lo; l--) layer_bw(m, l, b->B, b->T);
  /* embedding: scatter-add (serial over rows: ids repeat). transformers' nn.Embedding(
   * padding_idx=pad_token_id): the positions whose input is pad_token_id add nothing (the row
   * still gets the tied lm_head's gradient above). pad_token_id is -1 when unset. */
  const int32_t pad = m->cfg.pad_token_id;
  for (int i = 0; i < N && m->g.embed; i++) { /* a frozen embedding has no gradient */
    if (b->ids[i] == pad) continue;
    float *g = m->g.embed + (size_t)b->ids[i] * C;
    const float *d = a->dres + (size_t)i * C;
    for (int j = 0; j < C; j++) g[j] += d[j];
  }
  if (loss_sum) *loss_sum = loss;
  if (n_targets) *n_targets = nt;
  return 0;
}

int l1k_cpu_forward_backward(l1k_model *m, const l1k_batch *b, double grad_scale,
                             double *loss_sum, int64_t *n_targets, l1k_err *err) {
  /* with an adapter the gradient pointers (m->g) point into its space, NULL where frozen */
  if (!m->ad && !model_grads_alloc(m))
    return l1k_errf(err, L1K_ENOMEM, "out of memory for gradients");
  int prev = l1k_blas_single_begin();
  l1k_cpu_lora_training(m, 1); /* LoRA dropout applies in training only */
  int rc = forward_backward_impl(m, b, grad_scale, loss_sum, n_targets, err);
  l1k_cpu_lora_training(m, 0);
  l1k_blas_single_end(prev);
  return rc;
}
