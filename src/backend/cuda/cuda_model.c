/* long1k — the CUDA backend's forward and backward (float32 parity mode).
 *
 * The same sequence of operations as the CPU's src/model/forward.c, layer by layer, with the
 * kernels of kernels.cu and cublasSgemm: packed rows whose documents start where doc[]
 * changes (or pos[] does not increase), attention isolated per document, the target of
 * position i is labels[i+1] of the same document, and the lm_head + cross-entropy computed
 * chunk by chunk on the rows with a target only. The batch arrives as host int32 arrays; the
 * host derives positions, document bounds, targets and the embedding-gradient grouping, and
 * uploads them. Compiled, not yet run on a GPU. */
#include <string.h>

#include "backend/cuda/acts_bf16.h"
#include "backend/cuda/attention.h"
#include "backend/cuda/cublaslt.h"
#include "backend/cuda/cuda_internal.h"
#include "model/adapter_internal.h"

#define TRY(x)                 \
  do {                         \
    int rc_ = (x);             \
    if (rc_) return rc_;       \
  } while (0)
#define KER(call, name) TRY(l1kcu_launch((call), (name), err))
#define CU(call, what) TRY(l1kcu_check((call), (what), err))

/* ---------------------------------------------------------------- batch preparation */

/* Positions, document starts / ends, targets (model_batch_layout, as the CPU backend), then
 * each document's end and the rows with a target. */
static int prep_rows(const l1k_model *m, cu_state *s, const l1k_batch *b, l1k_err *err) {
  int B = b->B, T = b->T;
  int rc = model_batch_layout(b, m->cfg.vocab_size, s->h_pos, s->h_seg, s->h_target, err);
  if (rc) return rc;
  for (int r = 0; r < B; r++)
    for (int t = T - 1; t >= 0; t--) {
      size_t i = (size_t)r * T + t;
      int last = t == T - 1 || s->h_seg[i + 1] != s->h_seg[i];
      s->h_seg_end[i] = last ? t + 1 : s->h_seg_end[i + 1];
    }
  int nr = 0;
  for (size_t i = 0; i < (size_t)B * T; i++)
    if (s->h_target[i] >= 0) {
      s->h_trow[nr] = (int32_t)i;
      s->h_ttg[nr++] = s->h_target[i];
    }
  s->n_trow = nr;
  return 0;
}

/* Rows grouped by token id (counting sort, rows ascending within an id), pad_token_id left
 * out: the embedding backward's ownership lists (kernels.h). */
static void prep_embedding_groups(const l1k_model *m, cu_state *s, const l1k_batch *b) {
  size_t N = (size_t)b->B * b->T;
  int V = m->cfg.vocab_size, pad = m->cfg.pad_token_id;
  int32_t *cnt = s->h_count;
  memset(cnt, 0, (size_t)V * sizeof *cnt);
  for (size_t i = 0; i < N; i++)
    if (b->ids[i] != pad) cnt[b->ids[i]]++;
  int U = 0;
  s->h_off[0] = 0;
  for (int id = 0; id < V; id++) {
    if (!cnt[id]) continue;
    s->h_uniq[U] = id;
    s->h_off[U + 1] = s->h_off[U] + cnt[id];
    cnt[id] = s->h_off[U]; /* next free slot of this id */
    U++;
  }
  for (size_t i = 0; i < N; i++)
    if (b->ids[i] != pad) s->h_rows[cnt[b->ids[i]]++] = (int32_t)i;
  s->n_uniq = U;
}

static int upload(void *dst, const void *src, size_t n, const char *what, l1k_err *err) {
  if (!n) return 0;
  return l1kcu_check(cudaMemcpy(dst, src, n * sizeof(int32_t), cudaMemcpyHostToDevice), what, err);
}

static int prepare_batch(l1k_model *m, cu_state *s, const l1k_batch *b, int grad, l1k_err *err) {
  size_t N = (size_t)b->B * b->T;
  TRY(prep_rows(m, s, b, err));
  TRY(upload(s->ids, b->ids, N, "upload of token ids", err));
  TRY(upload(s->pos, s->h_pos, N, "upload of positions", err));
  TRY(upload(s->seg, s->h_seg, N, "upload of document starts", err));
  TRY(upload(s->seg_end, s->h_seg_end, N, "upload of document ends", err));
  TRY(upload(s->target, s->h_target, N, "upload of targets", err));
  TRY(upload(s->trow, s->h_trow, (size_t)s->n_trow, "upload of target rows", err));
  TRY(upload(s->ttg, s->h_ttg, (size_t)s->n_trow, "upload of target rows", err));
  if (grad) {
    prep_embedding_groups(m, s, b);
    TRY(upload(s->e_uniq, s->h_uniq, (size_t)s->n_uniq, "upload of embedding groups", err));
    TRY(upload(s->e_off, s->h_off, (size_t)s->n_uniq + 1, "upload of embedding groups", err));
    TRY(upload(s->e_rows, s->h_rows, (size_t)s->h_off[s->n_uniq], "upload of embedding groups", err));
  }
  return 0;
}

/* ---------------------------------------------------------------- linear layers */

/* y[N, out] = x[N, in] W[out, in]^T (+ b): l1k_linear_fw. The bf16 mode adds b in the
 * product's epilogue when cuBLASLt takes it (cublaslt.h). */
static int linear_fw(cu_state *s, float *y, const float *x, const float *W, const float *b, int N,
                     int in, int out, l1k_err *err) {
  int done = 0;
  TRY(l1kcu_gemm_epi(s, 0, 1, N, out, in, 1.0f, x, in, W, in, 0.0f, y, out,
                     b ? L1KCU_LT_BIAS : L1KCU_LT_NONE, (float *)b, &done, err));
  if (b && !done) KER(l1kcu_bias_fw(y, b, N, out), "bias_fw");
  return 0;
}

/* l1k_linear_bw: dx = dy W (or +=), dW += dy^T x, db += colsum(dy). colsum(dy) stays the float32
 * kernel's in the bf16 mode too, not cuBLASLt's BGRADB epilogue: that sums the bf16-rounded dy,
 * and k_proj's bias gradient (0 in exact arithmetic: a key bias shifts a whole softmax row)
 * then loses its cancellation; AdamW turns that noise into full steps (docs/gpu.md, cuBLASLt). */
static int linear_bw(cu_state *s, float *dx, float *dW, float *db, const float *dy, const float *x,
                     const float *W, int N, int in, int out, int acc, l1k_err *err) {
  if (dx) TRY(l1kcu_gemm(s, 0, 0, N, in, out, 1.0f, dy, out, W, in, acc ? 1.0f : 0.0f, dx, in, err));
  if (dW) TRY(l1kcu_gemm(s, 1, 0, out, in, N, 1.0f, dy, out, x, in, 1.0f, dW, in, err));
  if (db) KER(l1kcu_bias_bw(db, dy, N, out), "bias_bw");
  return 0;
}

/* ---------------------------------------------------------------- one layer */

/* Layer l's forward from L->x into its activations and x_out (the next layer's input). x_out
 * NULL: the recomputation before the layer's backward (s->opts.recompute), which needs the
 * activations but not the output, so it stops before the down projection (its LoRA u is kept
 * per layer from the forward: lora.c). */
static int layer_fw(l1k_model *m, cu_state *s, int l, int B, int T, float *x_out, l1k_err *err) {
  const l1k_model_config *c = &m->cfg;
  layer_params *P = &s->P.layer[l];
  cu_layer *L = &s->L[l];
  int N = B * T, C = c->hidden_size, FF = c->intermediate_size;
  int H = c->num_attention_heads, KVH = c->num_key_value_heads, hd = c->head_dim;
  int QD = H * hd, KD = KVH * hd;
  float eps = (float)c->rms_norm_eps;
  if (s->act_bf16) /* ln1, ln2, h as bf16: acts_bf16.h */
    KER(l1kcu_rmsnorm_fw_bf16((uint16_t *)(void *)L->ln1, L->ln1_rstd, L->x, P->ln1_w, N, C, eps),
        "rmsnorm_fw_bf16");
  else
    KER(l1kcu_rmsnorm_fw(L->ln1, L->ln1_rstd, L->x, P->ln1_w, N, C, eps), "rmsnorm_fw");
  TRY(linear_fw(s, L->q, L->ln1, P->q_w, P->q_b, N, C, QD, err));
  TRY(linear_fw(s, L->k, L->ln1, P->k_w, P->k_b, N, C, KD, err));
  TRY(linear_fw(s, L->v, L->ln1, P->v_w, P->v_b, N, C, KD, err));
  TRY(l1kcu_lora_fw(m, s, l, L1K_LORA_Q, L->q, L->ln1, N, err)); /* LoRA: lora.c */
  TRY(l1kcu_lora_fw(m, s, l, L1K_LORA_K, L->k, L->ln1, N, err));
  TRY(l1kcu_lora_fw(m, s, l, L1K_LORA_V, L->v, L->ln1, N, err));
  if (c->qk_norm) {
    KER(l1kcu_rmsnorm_fw(L->qr, L->qn_rstd, L->q, P->q_norm, N * H, hd, eps), "q_norm");
    KER(l1kcu_rmsnorm_fw(L->kr, L->kn_rstd, L->k, P->k_norm, N * KVH, hd, eps), "k_norm");
  } else {
    CU(cudaMemcpy(L->qr, L->q, (size_t)N * QD * sizeof(float), cudaMemcpyDeviceToDevice), "copy q");
    CU(cudaMemcpy(L->kr, L->k, (size_t)N * KD * sizeof(float), cudaMemcpyDeviceToDevice), "copy k");
  }
  KER(l1kcu_rope_fw(L->qr, N, QD, H, hd, s->cos_t, s->sin_t), "rope_fw q");
  KER(l1kcu_rope_fw(L->kr, N, KD, KVH, hd, s->cos_t, s->sin_t), "rope_fw k");
  TRY(l1kcu_attn_fw(s, L, B, T, H, KVH, hd, err));
  TRY(linear_fw(s, L->xm, L->ao, P->o_w, NULL, N, QD, C, err));
  TRY(l1kcu_lora_fw(m, s, l, L1K_LORA_O, L->xm, L->ao, N, err));
  KER(l1kcu_add(L->xm, L->xm, L->x, (size_t)N * C), "residual");
  if (s->act_bf16)
    KER(l1kcu_rmsnorm_fw_bf16((uint16_t *)(void *)L->ln2, L->ln2_rstd, L->xm, P->ln2_w, N, C, eps),
        "rmsnorm_fw_bf16");
  else
    KER(l1kcu_rmsnorm_fw(L->ln2, L->ln2_rstd, L->xm, P->ln2_w, N, C, eps), "rmsnorm_fw");
  TRY(linear_fw(s, L->gate, L->ln2, P->gate_w, NULL, N, C, FF, err));
  TRY(linear_fw(s, L->up, L->ln2, P->up_w, NULL, N, C, FF, err));
  TRY(l1kcu_lora_fw(m, s, l, L1K_LORA_GATE, L->gate, L->ln2, N, err));
  TRY(l1kcu_lora_fw(m, s, l, L1K_LORA_UP, L->up, L->ln2, N, err));
  if (s->act_bf16)
    KER(l1kcu_swiglu_fw_bf16((uint16_t *)(void *)L->h, L->gate, L->up, (size_t)N * FF),
        "swiglu_fw_bf16");
  else
    KER(l1kcu_swiglu_fw(L->h, L->gate, L->up, (size_t)N * FF), "swiglu_fw");
  if (!x_out) return 0;
  TRY(linear_fw(s, x_out, L->h, P->down_w, NULL, N, FF, C, err));
  TRY(l1kcu_lora_fw(m, s, l, L1K_LORA_DOWN, x_out, L->h, N, err));
  KER(l1kcu_add(x_out, x_out, L->xm, (size_t)N * C), "residual");
  return 0;
}

/* s->dres: gradient wrt the layer output on entry, wrt the layer input on exit. */
static int layer_bw(l1k_model *m, cu_state *s, int l, int B, int T, l1k_err *err) {
  const l1k_model_config *c = &m->cfg;
  layer_params *P = &s->P.layer[l], *G = &s->G.layer[l];
  cu_layer *L = &s->L[l];
  int N = B * T, C = c->hidden_size, FF = c->intermediate_size;
  int H = c->num_attention_heads, KVH = c->num_key_value_heads, hd = c->head_dim;
  int QD = H * hd, KD = KVH * hd;
  /* MLP: out = xm + down(h) */
  TRY(linear_bw(s, s->dh, G->down_w, NULL, s->dres, L->h, P->down_w, N, FF, C, 0, err));
  TRY(l1kcu_lora_bw(m, s, l, L1K_LORA_DOWN, s->dh, s->dres, L->h, N, err));
  KER(l1kcu_swiglu_bw(s->dgate, s->dup, s->dh, L->gate, L->up, (size_t)N * FF), "swiglu_bw");
  TRY(linear_bw(s, s->dc, G->gate_w, NULL, s->dgate, L->ln2, P->gate_w, N, C, FF, 0, err));
  TRY(l1kcu_lora_bw(m, s, l, L1K_LORA_GATE, s->dc, s->dgate, L->ln2, N, err));
  TRY(linear_bw(s, s->dc, G->up_w, NULL, s->dup, L->ln2, P->up_w, N, C, FF, 1, err));
  TRY(l1kcu_lora_bw(m, s, l, L1K_LORA_UP, s->dc, s->dup, L->ln2, N, err));
  KER(l1kcu_rmsnorm_bw(s->dres, G->ln2_w, s->dc, L->xm, P->ln2_w, L->ln2_rstd, N, C), "rmsnorm_bw");
  /* attention: xm = x + o(ao) */
  TRY(linear_bw(s, s->dao, G->o_w, NULL, s->dres, L->ao, P->o_w, N, QD, C, 0, err));
  TRY(l1kcu_lora_bw(m, s, l, L1K_LORA_O, s->dao, s->dres, L->ao, N, err));
  TRY(l1kcu_attn_bw(s, L, B, T, H, KVH, hd, err));
  KER(l1kcu_rope_bw(s->dq, N, QD, H, hd, s->cos_t, s->sin_t), "rope_bw q");
  KER(l1kcu_rope_bw(s->dk, N, KD, KVH, hd, s->cos_t, s->sin_t), "rope_bw k");
  float *dq = s->dq, *dk = s->dk;
  if (c->qk_norm) {
    CU(cudaMemset(s->dq2, 0, (size_t)N * QD * sizeof(float)), "zeroing dq");
    CU(cudaMemset(s->dk2, 0, (size_t)N * KD * sizeof(float)), "zeroing dk");
    KER(l1kcu_rmsnorm_bw(s->dq2, G->q_norm, s->dq, L->q, P->q_norm, L->qn_rstd, N * H, hd), "q_norm_bw");
    KER(l1kcu_rmsnorm_bw(s->dk2, G->k_norm, s->dk, L->k, P->k_norm, L->kn_rstd, N * KVH, hd), "k_norm_bw");
    dq = s->dq2, dk = s->dk2;
  }
  TRY(linear_bw(s, s->dc, G->q_w, G->q_b, dq, L->ln1, P->q_w, N, C, QD, 0, err));
  TRY(l1kcu_lora_bw(m, s, l, L1K_LORA_Q, s->dc, dq, L->ln1, N, err));
  TRY(linear_bw(s, s->dc, G->k_w, G->k_b, dk, L->ln1, P->k_w, N, C, KD, 1, err));
  TRY(l1kcu_lora_bw(m, s, l, L1K_LORA_K, s->dc, dk, L->ln1, N, err));
  TRY(linear_bw(s, s->dc, G->v_w, G->v_b, s->dv, L->ln1, P->v_w, N, C, KD, 1, err));
  TRY(l1kcu_lora_bw(m, s, l, L1K_LORA_V, s->dc, s->dv, L->ln1, N, err));
  KER(l1kcu_rmsnorm_bw(s->dres, G->ln1_w, s->dc, L->x, P->ln1_w, L->ln1_rstd, N, C), "rmsnorm_bw");
  return 0;
}

/* ---------------------------------------------------------------- whole model */

static int forward_body(l1k_model *m, cu_state *s, const l1k_batch *b, int grad, l1k_err *err) {
  if (!b || !b->ids || b->B <= 0 || b->T <= 0)
    return l1k_errf(err, L1K_EINPUT, "empty batch (expected B > 0 rows of T > 0 tokens)");
  TRY(l1kcu_reserve(m, b->B, b->T, err));
  TRY(l1kcu_lora_reserve(m, s, (size_t)b->B * b->T, err));
  TRY(prepare_batch(m, s, b, grad, err));
  TRY(l1kcu_attn_batch(m, s, b->B, b->T, err));
  const l1k_model_config *c = &m->cfg;
  int N = b->B * b->T, C = c->hidden_size, Lc = c->num_hidden_layers;
  KER(l1kcu_rope_table(s->cos_t, s->sin_t, s->pos, N, s->inv_freq, c->head_dim / 2), "rope_table");
  float *x0 = Lc > 0 ? s->L[0].x : s->xf;
  TRY(l1kcu_lora_embedding_fw(s, x0, s->ids, N, C, err)); /* a bf16-only base: lora.c */
  for (int l = 0; l < Lc; l++)
    TRY(layer_fw(m, s, l, b->B, b->T, l + 1 < Lc ? s->L[l + 1].x : s->xf, err));
  KER(l1kcu_rmsnorm_fw(s->lnf, s->lnf_rstd, s->xf, s->P.norm, N, C, (float)c->rms_norm_eps),
      "final norm");
  return 0;
}

int l1kcu_lm_head_ce(cu_state *s, const float *x, const int32_t *rows, const int32_t *tg, int nr,
                     int C, int V, const float *W, float *dW, float *dx, float *host_logits,
                     float scale, l1k_err *err) {
  int grad = dW != NULL || dx != NULL; /* dW NULL: a frozen lm_head (adapters), dx still wanted */
  for (int r0 = 0; r0 < nr; r0 += s->chunk) {
    int R = nr - r0 < s->chunk ? nr - r0 : s->chunk;
    const float *xin = x + (size_t)r0 * C;
    if (rows) {
      KER(l1kcu_gather_rows(s->xc, x, rows + r0, R, C), "gather_rows");
      xin = s->xc;
    }
    TRY(l1kcu_gemm(s, 0, 1, R, V, C, 1.0f, xin, C, W, C, 0.0f, s->logits, V, err));
    if (host_logits)
      CU(cudaMemcpy(host_logits + (size_t)r0 * V, s->logits, (size_t)R * V * sizeof(float),
                    cudaMemcpyDeviceToHost), "download of logits");
    KER(l1kcu_cross_entropy(s->logits, s->lossrow + r0, tg + r0, R, V, grad, scale),
        "cross_entropy");
    if (!grad) continue;
    float *d = rows ? s->dxc : dx + (size_t)r0 * C;
    TRY(l1kcu_gemm(s, 0, 0, R, C, V, 1.0f, s->logits, V, W, C, 0.0f, d, C, err));
    if (rows) KER(l1kcu_scatter_rows(dx, s->dxc, rows + r0, R, C), "scatter_rows");
    if (dW) TRY(l1kcu_gemm(s, 1, 0, V, C, R, 1.0f, s->logits, V, xin, C, 1.0f, dW, C, err));
  }
  return 0;
}

/* Sum of the first n per-row losses, in row order. */
static int loss_total(cu_state *s, int n, double *out, l1k_err *err) {
  *out = 0;
  if (n <= 0) return 0;
  CU(cudaMemcpy(s->h_loss, s->lossrow, (size_t)n * sizeof(double), cudaMemcpyDeviceToHost),
     "download of losses");
  double sum = 0;
  for (int i = 0; i < n; i++) sum += s->h_loss[i];
  *out = sum;
  return 0;
}

int l1kcu_forward(l1k_model *m, const l1k_batch *b, float *logits, double *loss_sum,
                  int64_t *n_targets, l1k_err *err) {
  cu_state *s = (cu_state *)m->be_state;
  if (!s) return l1k_errf(err, L1K_EINTERNAL, "CUDA backend: forward before attach");
  TRY(forward_body(m, s, b, 0, err));
  const l1k_model_config *c = &m->cfg;
  int N = b->B * b->T, C = c->hidden_size;
  /* with logits: every row (rows without a target get loss 0); else the target rows only */
  int nr = logits ? N : s->n_trow;
  TRY(l1kcu_lm_head_ce(s, s->lnf, logits ? NULL : s->trow, logits ? s->target : s->ttg, nr, C,
                       c->vocab_size, s->P.lm_head, NULL, NULL, logits, 0.0f, err));
  double loss = 0;
  TRY(loss_total(s, nr, &loss, err));
  CU(cudaDeviceSynchronize(), "forward");
  if (loss_sum) *loss_sum = loss;
  if (n_targets) *n_targets = s->n_trow;
  return 0;
}

static int fw_bw(l1k_model *m, cu_state *s, const l1k_batch *b, double grad_scale,
                 double *loss_sum, int64_t *n_targets, l1k_err *err) {
  TRY(forward_body(m, s, b, 1, err));
  const l1k_model_config *c = &m->cfg;
  int N = b->B * b->T, C = c->hidden_size, Lc = c->num_hidden_layers;
  size_t NC = (size_t)N * C * sizeof(float);
  CU(cudaMemset(s->dc, 0, NC), "zeroing dlnf");
  TRY(l1kcu_lm_head_ce(s, s->lnf, s->trow, s->ttg, s->n_trow, C, c->vocab_size, s->P.lm_head,
                       s->G.lm_head, s->dc, NULL, (float)grad_scale, err));
  double loss = 0;
  TRY(loss_total(s, s->n_trow, &loss, err));
  CU(cudaMemset(s->dres, 0, NC), "zeroing dres");
  KER(l1kcu_rmsnorm_bw(s->dres, s->G.norm, s->dc, s->xf, s->P.norm, s->lnf_rstd, N, C),
      "final norm bw");
  /* with an adapter, down to the lowest layer that trains something (lora.h) */
  int lowest = l1kcu_bw_lowest_layer(m);
  for (int l = Lc - 1; l >= lowest; l--) {
    /* recomputation: the layers share one activation set, which holds the top layer's from
     * the forward; every other layer's is recomputed from its input (the same kernels on the
     * same inputs: the same bits) */
    if (s->opts.recompute && l < Lc - 1) TRY(layer_fw(m, s, l, b->B, b->T, NULL, err));
    TRY(layer_bw(m, s, l, b->B, b->T, err));
  }
  if (s->G.embed)
    KER(l1kcu_embedding_bw(s->G.embed, s->dres, s->e_uniq, s->e_off, s->e_rows, s->n_uniq, C),
        "embedding_bw");
  CU(cudaDeviceSynchronize(), "forward_backward");
  if (loss_sum) *loss_sum = loss;
  if (n_targets) *n_targets = s->n_trow;
  return 0;
}

int l1kcu_forward_backward(l1k_model *m, const l1k_batch *b, double grad_scale, double *loss_sum,
                           int64_t *n_targets, l1k_err *err) {
  cu_state *s = (cu_state *)m->be_state;
  if (!s) return l1k_errf(err, L1K_EINTERNAL, "CUDA backend: forward_backward before attach");
  TRY(l1kcu_need_grads(m, s, "forward_backward", err)); /* allocated on first need */
  if (m->ad) l1k_cpu_lora_training(m, 1); /* LoRA dropout applies in training only */
  int rc = fw_bw(m, s, b, grad_scale, loss_sum, n_targets, err);
  if (m->ad) l1k_cpu_lora_training(m, 0);
  return rc;
}
