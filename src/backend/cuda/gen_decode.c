/* long1k — generation on the CUDA backend (issue 15): the ops table's decode entries
 * (src/backend/ops.h): a paged KV cache, prefill of many prompts in one pass, batched decode.
 *
 * The cache (gen.h has its layout): one pool of blocks of `bs` positions, float32 in the
 * float32 mode and bf16 in the bf16 mode, each block holding every layer's K and V of its
 * positions; a host free list and per-slot block tables (mirrored on the device, a slot's row
 * uploaded when it changes). Blocks are taken only by kv_reserve, so memory never exceeds the
 * pool and the generator (src/model/generate_run.c) admits a sequence only when its prompt and
 * longest completion fit.
 *
 * The step. The same layer as cuda_model.c's forward, with its kernels (RMSNorm, RoPE, SwiGLU,
 * residual adds, cuBLAS products; the bf16 mode's products in bf16 with float32 accumulation)
 * on n rows (one token of one sequence each), one set of step buffers for all layers (no
 * backward: nothing is kept), and after RoPE each row's K / V written into the cache. Then:
 *  - prefill: the prompts of a pass are packed one after another; a prompt starting an empty
 *    slot attends within itself through the training attention (l1kcu_attention_fw, or
 *    flash_bf16 when chosen: attention.h), one launch per prompt so that its arithmetic does
 *    not depend on where it sits in the pack; a prompt continuing a slot (one longer than a
 *    pass, or fed onto earlier tokens) attends through the paged kernel;
 *  - decode: every row attends through the paged kernel (gen_kernels.cu).
 * Only the last position of each prompt goes through the lm_head; logits come back to the host
 * as float32, in chunks of at most 256 rows. Compiled; run on the emulated device
 * (tests/cuda/test_cuda_gen.c), not yet on a GPU. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/cuda/attention.h"
#include "backend/cuda/cuda_internal.h"
#include "backend/cuda/flash_bf16.h"
#include "backend/cuda/gen.h"

#define TRY(x)           \
  do {                   \
    int rc_ = (x);       \
    if (rc_) return rc_; \
  } while (0)
/* launches (kernels, cuBLAS calls, copies) issued from the host: process-wide counters read by
 * l1kcu_gen_counters (the decode benchmark prints launches per token) */
static l1kcu_gen_counters cnt;
#define KER(call, name)                            \
  do {                                             \
    cnt.host_launches++;                           \
    TRY(l1kcu_launch((call), (name), err));        \
  } while (0)
#define CU(call, what) TRY(l1kcu_check((call), (what), err))

#define GEN_BLOCK 16       /* positions per block (default) */
#define GEN_ROWS 2048      /* rows of one prefill pass (default; LONG1K_GEN_PREFILL_ROWS) */
#define GEN_LOGIT_ROWS 256 /* lm_head rows per chunk */

struct l1k_kv_cache {
  l1k_model *m;
  cu_state *s;
  int L, C, FF, H, KVH, hd, QD, KD, V;
  int bf16;                  /* the pool's dtype */
  int bs, n_blocks, mbps, max_seqs, max_ctx;
  size_t layer_elems;        /* elements of one layer's K (or V) pool */
  void *kc, *vc;             /* [L][n_blocks][KVH][bs][hd] */
  int32_t *d_table;          /* [max_seqs][mbps] */
  int32_t *h_table;
  int *h_nblk, *h_len;       /* blocks held and positions filled per slot */
  int *free_list, n_free, peak;
  /* step buffers for R rows */
  int R, part_rows, nsplit;
  int fixed_m;               /* products in blocks of exactly this many rows (0: all at once) */
  void *arena;
  float *x, *ln, *rstd, *qn_rstd, *kn_rstd, *q, *qr, *k, *kr, *v, *att, *lse, *gate, *up;
  float *cos_t, *sin_t, *xl, *lnl, *lnl_rstd, *logits, *part;
  int32_t *ids, *pos, *seq, *zero, *last;
  uint16_t *abf, *fa;        /* bf16 operand of a product; flash_bf16's q, k, v, o */
  size_t abf_elems;
  int att_kind;              /* attention.h: L1KCU_ATT_F32 | L1KCU_ATT_FLASH_BF16 */
  /* host staging */
  int32_t *h_ids, *h_pos, *h_seq, *h_last;
  int *pc_row, *pc_n, *pc_seq, *pc_fresh, *pc_out, *pc_end; /* the pieces of a prefill pass */
  /* the decode step (docs/gpu.md "Generation"): its stream, batch buckets and split buckets,
   * one graph per (batch bucket, split bucket) captured at its first use */
  cudaStream_t stream;
  int use_graph;             /* LONG1K_GEN_GRAPH (default 1); 0 after a capture failed */
  int nbk, bk[16];           /* batch buckets: 1, 2, 4, ... (< max_seqs), max_seqs */
  int nlb, lb[32];           /* split buckets: 1, 2, 4, ... (< nsplit), nsplit */
  cudaGraphExec_t *graph;    /* [nbk][nlb][2]: logits | greedy tokens */
  int *gnodes;               /* the nodes of each graph */
  int32_t *h_in;             /* pinned: a step's [3][bucket] ids, positions, slots */
  int32_t *h_tok, *d_tok;    /* greedy steps' tokens: pinned host, device [R] */
  int pad_blk;               /* the block of the inert slot max_seqs (padding rows) */
  uint16_t *wqkv;            /* bf16 mode: [L][QD + 2 KD][C], each layer's q, k, v weights as one
                              * matrix (decode: one product; LONG1K_GEN_QKV=0: three) */
};

/* ---------------------------------------------------------------- products */

/* y[N, out] (+)= x[N, in] W[out, in]^T (+ b); acc: y += (the residual stream, as the CPU
 * engine's accumulate). float32 mode: the backend's product (cublasSgemm, no TF32); bf16 mode:
 * x rounded to bf16 here, W's bf16 working copy, float32 accumulation. */
/* bf16 mode: y[N, out] (+)= x16[N, in] (bf16) W^T (+ b), W's bf16 working copy */
static int gen_gemm16(struct l1k_kv_cache *kv, float *y, const uint16_t *x16, const uint16_t *Wb,
                      const float *b, int N, int in, int out, int acc, l1k_err *err) {
  cu_state *s = kv->s;
  float one = 1.0f, beta = acc ? 1.0f : 0.0f;
  int M = kv->fixed_m ? kv->fixed_m : N; /* fixed_m: always one shape (rows past N: padding) */
  for (int a = 0; a < N; a += M, cnt.host_launches++)
    TRY(l1kcu_blas(cublasGemmEx(s->blas, CUBLAS_OP_T, CUBLAS_OP_N, out, M, in, &one, Wb, CUDA_R_16BF,
                                in, x16 + (size_t)a * in, CUDA_R_16BF, in, &beta, y + (size_t)a * out,
                                CUDA_R_32F, out, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT),
                   "bf16 GemmEx (generation)", err));
  if (b) KER(l1kcu_bias_fw(y, b, N, out), "bias_fw");
  return 0;
}

static int gen_linear16(struct l1k_kv_cache *kv, float *y, const uint16_t *x16, const float *W,
                        const float *b, int N, int in, int out, int acc, l1k_err *err) {
  const uint16_t *Wb = l1kcu_weight_bf16(kv->s, W);
  if (!Wb) return l1k_errf(err, L1K_EINTERNAL, "CUDA generation: a weight without its bf16 copy");
  return gen_gemm16(kv, y, x16, Wb, b, N, in, out, acc, err);
}

static int gen_linear_acc(struct l1k_kv_cache *kv, float *y, const float *x, const float *W,
                          const float *b, int N, int in, int out, int acc, l1k_err *err) {
  cu_state *s = kv->s;
  if (s->opts.precision == L1K_PREC_BF16) {
    if ((size_t)(kv->fixed_m ? (N + kv->fixed_m - 1) / kv->fixed_m * kv->fixed_m : N) * in > kv->abf_elems)
      return l1k_errf(err, L1K_EINTERNAL, "CUDA generation: %d x %d operand exceeds the scratch", N, in);
    KER(l1kcu_to_bf16(kv->abf, x, (size_t)N * in), "to_bf16 (generation)");
    return gen_linear16(kv, y, kv->abf, W, b, N, in, out, acc, err);
  }
  int M = kv->fixed_m ? kv->fixed_m : N;
  for (int a = 0; a < N; a += M, cnt.host_launches++)
    TRY(l1kcu_gemm(s, 0, 1, M, out, in, 1.0f, x + (size_t)a * in, in, W, in, acc ? 1.0f : 0.0f,
                   y + (size_t)a * out, out, err));
  if (b) KER(l1kcu_bias_fw(y, b, N, out), "bias_fw");
  return 0;
}

static int gen_linear(struct l1k_kv_cache *kv, float *y, const float *x, const float *W, const float *b,
                      int N, int in, int out, l1k_err *err) {
  return gen_linear_acc(kv, y, x, W, b, N, in, out, 0, err);
}

/* ---------------------------------------------------------------- memory */

static int gen_alloc(void **p, size_t bytes, const char *what, l1k_err *err) {
  *p = NULL;
  cudaError_t e = cudaMalloc(p, bytes ? bytes : 16);
  if (e == cudaSuccess) return 0;
  *p = NULL;
  cudaGetLastError();
  return l1k_errf(err, L1K_ENOMEM, "CUDA generation: out of device memory for %s (%.3f GB)", what,
                  (double)bytes / 1e9);
}

/* the step buffers of R rows (base NULL: sizes); returns bytes */
static size_t step_layout(struct l1k_kv_cache *kv, char *base) {
  size_t R = (size_t)kv->R, C = kv->C, FF = kv->FF, QD = kv->QD, KD = kv->KD, H = kv->H;
  size_t LR = (size_t)(kv->max_seqs < GEN_LOGIT_ROWS ? kv->max_seqs : GEN_LOGIT_ROWS);
  size_t off = 0, M = (size_t)kv->fixed_m;
  if (M) { /* the products' last block of rows is padded to M: the row buffers hold it */
    R = (R + M - 1) / M * M;
    LR = (LR + M - 1) / M * M;
  }
#define TAKE(ptr, n)                                              \
  do {                                                            \
    size_t bytes_ = (size_t)(n) * sizeof(*(ptr));                 \
    if (base) (ptr) = (void *)(base + off);                       \
    off += (bytes_ + 255) & ~(size_t)255;                         \
  } while (0)
  TAKE(kv->x, R * C);
  TAKE(kv->ln, R * C);
  TAKE(kv->rstd, R);
  TAKE(kv->qn_rstd, R * H);
  TAKE(kv->kn_rstd, R * kv->KVH);
  TAKE(kv->q, R * QD);
  TAKE(kv->qr, R * QD);
  TAKE(kv->k, R * KD);
  TAKE(kv->kr, R * KD);
  TAKE(kv->v, R * KD);
  TAKE(kv->att, R * QD);
  TAKE(kv->lse, R * H);
  TAKE(kv->gate, R * 2 * FF); /* [gate | up] of one product */
  TAKE(kv->up, R * FF);
  TAKE(kv->cos_t, R * kv->hd / 2);
  TAKE(kv->sin_t, R * kv->hd / 2);
  TAKE(kv->xl, LR * C);
  TAKE(kv->lnl, LR * C);
  TAKE(kv->lnl_rstd, LR);
  TAKE(kv->logits, LR * kv->V);
  TAKE(kv->part, (size_t)kv->part_rows * H * kv->nsplit * (kv->hd + 2));
  TAKE(kv->ids, 3 * R); /* a step's ids, pos and seq, packed: one upload (upload_rows) */
  TAKE(kv->zero, R);
  TAKE(kv->last, R);
  TAKE(kv->d_tok, R);
  size_t w = C > FF ? C : FF;
  w = w > QD ? w : QD;
  if (base) kv->abf_elems = kv->bf16 ? R * w : 0;
  TAKE(kv->abf, kv->bf16 ? R * w : 1);
  TAKE(kv->fa, kv->att_kind == L1KCU_ATT_FLASH_BF16 ? R * (2 * QD + 2 * KD) : 1);
#undef TAKE
  return off;
}

void l1kcu_kv_free(l1k_model *m, struct l1k_kv_cache *kv) {
  (void)m;
  if (!kv) return;
  if (kv->graph)
    for (int i = 0; i < 2 * kv->nbk * kv->nlb; i++)
      if (kv->graph[i]) cudaGraphExecDestroy(kv->graph[i]);
  free(kv->graph);
  free(kv->gnodes);
  if (kv->stream) cudaStreamDestroy(kv->stream);
  if (kv->h_in) cudaFreeHost(kv->h_in);
  void *dev[] = {kv->kc, kv->vc, kv->d_table, kv->arena, kv->wqkv};
  for (size_t i = 0; i < sizeof dev / sizeof dev[0]; i++)
    if (dev[i]) cudaFree(dev[i]);
  free(kv->h_table);
  free(kv->h_nblk);
  free(kv->h_len);
  free(kv->free_list);
  free(kv->h_ids);
  free(kv->h_last);
  free(kv->pc_row);
  free(kv->pc_n);
  free(kv->pc_seq);
  free(kv->pc_fresh);
  free(kv->pc_out);
  free(kv->pc_end);
  free(kv);
}

int l1kcu_kv_create(l1k_model *m, int max_seqs, int max_ctx, int block_size, uint64_t budget,
                     struct l1k_kv_cache **out, l1k_err *err) {
  *out = NULL;
  cu_state *s = (cu_state *)m->be_state;
  const l1k_model_config *c = &m->cfg;
  if (!s) return l1k_errf(err, L1K_EINTERNAL, "CUDA generation: the model is not attached");
  if (m->ad)
    return l1k_errf(err, L1K_EUNSUPPORTED, "CUDA generation: merge the adapter into the model "
                    "first (the CLI's --adapter does)");
  if (max_seqs < 1 || max_seqs > 4096 || max_ctx < 2)
    return l1k_errf(err, L1K_EINPUT, "CUDA generation: %d sequences of %d positions (expected "
                    "1..4096 sequences of at least 2)", max_seqs, max_ctx);
  int grp = c->num_attention_heads / c->num_key_value_heads;
  if (grp > L1KCU_GEN_MAX_GROUP || c->head_dim > 128)
    return l1k_errf(err, L1K_EUNSUPPORTED, "CUDA generation: %d query heads per kv head and "
                    "head_dim %d (at most %d and 128)", grp, c->head_dim, L1KCU_GEN_MAX_GROUP);
  struct l1k_kv_cache *kv = l1k_calloc(1, sizeof *kv, err);
  if (!kv) return L1K_ENOMEM;
  kv->m = m;
  kv->s = s;
  kv->L = c->num_hidden_layers;
  kv->C = c->hidden_size;
  kv->FF = c->intermediate_size;
  kv->H = c->num_attention_heads;
  kv->KVH = c->num_key_value_heads;
  kv->hd = c->head_dim;
  kv->QD = kv->H * kv->hd;
  kv->KD = kv->KVH * kv->hd;
  kv->V = c->vocab_size;
  kv->bf16 = s->opts.precision == L1K_PREC_BF16;
  kv->bs = block_size > 0 ? block_size : GEN_BLOCK;
  kv->max_seqs = max_seqs;
  kv->max_ctx = max_ctx;
  kv->mbps = (max_ctx + kv->bs - 1) / kv->bs;
  const char *e = getenv("LONG1K_GEN_PREFILL_ROWS");
  kv->R = e && *e && atoi(e) > 0 ? atoi(e) : GEN_ROWS;
  if (kv->R < max_seqs) kv->R = max_seqs;
  kv->part_rows = max_seqs > 64 ? max_seqs : 64;
  if (kv->part_rows > kv->R) kv->part_rows = kv->R;
  kv->nsplit = (max_ctx + L1KCU_GEN_SPLIT - 1) / L1KCU_GEN_SPLIT;
  e = getenv("LONG1K_GEN_FIXED_ROWS");
  kv->fixed_m = e && *e && atoi(e) > 0 ? atoi(e) : 0;
  e = getenv("LONG1K_GEN_GRAPH");
  kv->use_graph = !(e && !strcmp(e, "0"));
  /* batch buckets 1, 2, 4, ... below max_seqs, then max_seqs; split buckets likewise */
  for (int b = 1; b < max_seqs; b *= 2) kv->bk[kv->nbk++] = b;
  kv->bk[kv->nbk++] = max_seqs;
  for (int b = 1; b < kv->nsplit && kv->nlb < 31; b *= 2) kv->lb[kv->nlb++] = b;
  kv->lb[kv->nlb++] = kv->nsplit;
  int rc = l1kcu_attention_kind(s, kv->hd, &kv->att_kind, err);
  size_t ms = (size_t)max_seqs, R = (size_t)kv->R;
  if (!rc) {
    kv->h_table = l1k_calloc(ms * kv->mbps, sizeof(int32_t), err);
    kv->h_nblk = l1k_calloc(ms, sizeof(int), err);
    kv->h_len = l1k_calloc(ms, sizeof(int), err);
    kv->h_ids = l1k_calloc(4 * R, sizeof(int32_t), err); /* ids, pos, seq; the packed upload */
    kv->h_pos = kv->h_ids ? kv->h_ids + R : NULL;
    kv->h_seq = kv->h_ids ? kv->h_ids + 2 * R : NULL;
    kv->h_last = l1k_calloc(R, sizeof(int32_t), err);
    kv->pc_row = l1k_calloc(R + ms, sizeof(int), err);
    kv->pc_n = l1k_calloc(R + ms, sizeof(int), err);
    kv->pc_seq = l1k_calloc(R + ms, sizeof(int), err);
    kv->pc_fresh = l1k_calloc(R + ms, sizeof(int), err);
    kv->pc_out = l1k_calloc(R + ms, sizeof(int), err);
    kv->pc_end = l1k_calloc(R + ms, sizeof(int), err);
    if (!kv->h_table || !kv->h_nblk || !kv->h_len || !kv->h_ids || !kv->h_pos || !kv->h_seq ||
        !kv->h_last || !kv->pc_row || !kv->pc_n || !kv->pc_seq || !kv->pc_fresh || !kv->pc_out ||
        !kv->pc_end)
      rc = L1K_ENOMEM;
  }
  size_t step_bytes = rc ? 0 : step_layout(kv, NULL);
  if (!rc) rc = gen_alloc(&kv->arena, step_bytes, "the generation step buffers", err);
  if (!rc) {
    step_layout(kv, (char *)kv->arena);
    rc = l1kcu_check(cudaMemset(kv->zero, 0, R * sizeof(int32_t)), "zeroing", err);
    /* the block tables, and one row more: the inert slot max_seqs of the padding rows */
    if (!rc) rc = gen_alloc((void **)&kv->d_table, (ms + 1) * kv->mbps * sizeof(int32_t), "the block tables", err);
  }
  /* bf16 mode, no q / k norms: the decode step's q, k, v products as one (a copy of the bf16
   * weights, 2 (QD + 2 KD) C L bytes; its output [n, QD + 2 KD] in the [gate | up] buffer) */
  e = getenv("LONG1K_GEN_QKV");
  if (!rc && kv->bf16 && !c->qk_norm && kv->QD + 2 * kv->KD <= 2 * kv->FF && !(e && !strcmp(e, "0"))) {
    size_t per = (size_t)(kv->QD + 2 * kv->KD) * kv->C;
    if (cudaMalloc((void **)&kv->wqkv, per * kv->L * sizeof(uint16_t)) != cudaSuccess) {
      kv->wqkv = NULL; /* no room: three products */
      cudaGetLastError();
    }
    for (int l = 0; kv->wqkv && l < kv->L && !rc; l++) {
      layer_params *P = &s->P.layer[l];
      const float *w3[3] = {P->q_w, P->k_w, P->v_w};
      size_t rows[3] = {(size_t)kv->QD, (size_t)kv->KD, (size_t)kv->KD}, off = (size_t)l * per;
      for (int j = 0; j < 3 && !rc; j++) {
        const uint16_t *wb = l1kcu_weight_bf16(s, w3[j]);
        if (!wb) rc = l1k_errf(err, L1K_EINTERNAL, "CUDA generation: a weight without its bf16 copy");
        if (!rc) rc = l1kcu_check(cudaMemcpy(kv->wqkv + off, wb, rows[j] * kv->C * sizeof(uint16_t),
                                             cudaMemcpyDeviceToDevice), "packing q / k / v", err);
        off += rows[j] * kv->C;
      }
    }
  }
  if (!rc) rc = l1kcu_check(cudaStreamCreateWithFlags(&kv->stream, cudaStreamDefault), "cudaStreamCreate", err);
  if (!rc) rc = l1kcu_check(cudaMallocHost((void **)&kv->h_in, 4 * ms * sizeof(int32_t)), "cudaMallocHost", err);
  if (!rc) kv->h_tok = kv->h_in + 3 * ms;
  if (!rc && (!(kv->graph = l1k_calloc(2 * (size_t)kv->nbk * kv->nlb, sizeof *kv->graph, err)) ||
              !(kv->gnodes = l1k_calloc(2 * (size_t)kv->nbk * kv->nlb, sizeof(int), err))))
    rc = L1K_ENOMEM;
  /* the pool: the budget, or 90% of what is free now less 256 MiB for cuBLAS and the rest;
   * never more than every slot at full context */
  size_t el = kv->bf16 ? 2 : 4;
  size_t per_block = 2 * (size_t)kv->L * kv->KVH * kv->bs * kv->hd * el;
  if (!rc) {
    uint64_t want = budget;
    if (!want) {
      size_t fr = 0, tot = 0;
      rc = l1kcu_check(cudaMemGetInfo(&fr, &tot), "cudaMemGetInfo", err);
      uint64_t room = (uint64_t)(fr * 0.9);
      want = room > ((uint64_t)256 << 20) ? room - ((uint64_t)256 << 20) : 0;
      want = want > per_block ? want - per_block : 0; /* the inert block of the padding rows */
    }
    uint64_t nb = want / per_block, cap = (uint64_t)ms * kv->mbps;
    if (nb > cap) nb = cap;
    if (nb > 0x7fffffff) nb = 0x7fffffff;
    if (!rc && nb == 0)
      rc = l1k_errf(err, L1K_ENOMEM, "CUDA generation: a KV cache of %.1f MiB holds no block of "
                    "%d positions (%.2f MiB each)", (double)want / 1048576.0, kv->bs,
                    (double)per_block / 1048576.0);
    kv->n_blocks = (int)nb;
  }
  /* one block more than the free list holds (beyond a given budget): the padding rows'
   * (pad_blk, never handed out) */
  kv->pad_blk = kv->n_blocks;
  kv->layer_elems = (size_t)(kv->n_blocks + 1) * kv->KVH * kv->bs * kv->hd;
  if (!rc) rc = gen_alloc(&kv->kc, kv->layer_elems * kv->L * el, "the KV cache (K)", err);
  if (!rc) rc = gen_alloc(&kv->vc, kv->layer_elems * kv->L * el, "the KV cache (V)", err);
  if (!rc && !(kv->free_list = l1k_calloc((size_t)kv->n_blocks, sizeof(int), err))) rc = L1K_ENOMEM;
  if (!rc) { /* the inert slot's table: every entry its block (only position 0 is ever written) */
    for (int i = 0; i < kv->mbps; i++) kv->h_in[i % (3 * max_seqs)] = kv->pad_blk;
    for (int i = 0; i < kv->mbps && !rc; i += 3 * max_seqs) {
      int k = kv->mbps - i < 3 * max_seqs ? kv->mbps - i : 3 * max_seqs;
      rc = l1kcu_check(cudaMemcpy(kv->d_table + ms * kv->mbps + i, kv->h_in, (size_t)k * sizeof(int32_t),
                                  cudaMemcpyHostToDevice), "upload of the inert block table", err);
    }
  }
  if (rc) {
    l1kcu_kv_free(m, kv);
    return rc;
  }
  /* taken from the end: block 0 first */
  for (int i = 0; i < kv->n_blocks; i++) kv->free_list[i] = kv->n_blocks - 1 - i;
  kv->n_free = kv->n_blocks;
  *out = kv;
  return 0;
}

void l1kcu_kv_stats(const struct l1k_kv_cache *kv, l1k_kv_stats *st) {
  memset(st, 0, sizeof *st);
  if (!kv) return;
  st->block_size = kv->bs;
  st->n_blocks = kv->n_blocks;
  st->used_blocks = kv->n_blocks - kv->n_free;
  st->peak_blocks = kv->peak;
  st->max_seqs = kv->max_seqs;
  st->max_ctx = kv->max_ctx;
  st->pool_bytes = 2 * (uint64_t)kv->layer_elems * kv->L * (kv->bf16 ? 2 : 4);
  st->dtype = kv->bf16 ? "BF16" : "F32";
}

static int bad_seq(const struct l1k_kv_cache *kv, int seq, l1k_err *err) {
  return l1k_errf(err, L1K_EINPUT, "CUDA generation: sequence slot %d out of range (0..%d)", seq,
                  kv->max_seqs - 1);
}

static int upload_table(struct l1k_kv_cache *kv, int seq, l1k_err *err) {
  size_t o = (size_t)seq * kv->mbps;
  CU(cudaMemcpy(kv->d_table + o, kv->h_table + o, (size_t)kv->mbps * sizeof(int32_t),
                cudaMemcpyHostToDevice), "upload of a block table");
  return 0;
}

int l1kcu_kv_reserve(l1k_model *m, struct l1k_kv_cache *kv, int seq, int n_tokens, l1k_err *err) {
  (void)m;
  if (seq < 0 || seq >= kv->max_seqs) return bad_seq(kv, seq, err);
  if (n_tokens < 0 || n_tokens > kv->max_ctx)
    return l1k_errf(err, L1K_EINPUT, "CUDA generation: %d positions exceed the context of %d",
                    n_tokens, kv->max_ctx);
  int need = (n_tokens + kv->bs - 1) / kv->bs - kv->h_nblk[seq];
  if (need <= 0) return 0;
  if (need > kv->n_free) return 1;
  int32_t *t = kv->h_table + (size_t)seq * kv->mbps;
  for (int i = 0; i < need; i++) t[kv->h_nblk[seq]++] = kv->free_list[--kv->n_free];
  int used = kv->n_blocks - kv->n_free;
  if (used > kv->peak) kv->peak = used;
  return upload_table(kv, seq, err);
}

void l1kcu_kv_release(l1k_model *m, struct l1k_kv_cache *kv, int seq) {
  (void)m;
  if (!kv || seq < 0 || seq >= kv->max_seqs) return;
  int32_t *t = kv->h_table + (size_t)seq * kv->mbps;
  /* back in reverse, so a slot refilled at once gets the same blocks */
  for (int i = kv->h_nblk[seq] - 1; i >= 0; i--) kv->free_list[kv->n_free++] = t[i];
  kv->h_nblk[seq] = 0;
  kv->h_len[seq] = 0;
}

int l1kcu_kv_copy(l1k_model *m, struct l1k_kv_cache *kv, int dst, int src, int n, l1k_err *err) {
  (void)m;
  if (dst < 0 || dst >= kv->max_seqs) return bad_seq(kv, dst, err);
  if (src < 0 || src >= kv->max_seqs) return bad_seq(kv, src, err);
  if (dst == src || n < 0 || n > kv->h_len[src] || kv->h_len[dst] != 0 || n > kv->h_nblk[dst] * kv->bs)
    return l1k_errf(err, L1K_EINPUT, "CUDA generation: cannot copy %d positions of slot %d (holding "
                    "%d) to slot %d (holding %d, room for %d)", n, src, kv->h_len[src], dst,
                    kv->h_len[dst], kv->h_nblk[dst] * kv->bs);
  KER(l1kcu_kvcache_copy(kv->kc, kv->vc, kv->bf16, kv->d_table, kv->mbps, src, dst, n, kv->L,
                    kv->layer_elems, kv->KVH, kv->hd, kv->bs), "kv_copy");
  kv->h_len[dst] = n;
  return 0;
}

/* ---------------------------------------------------------------- the step */

static void *layer_pool(const struct l1k_kv_cache *kv, void *pool, int l) {
  return (char *)pool + (size_t)l * kv->layer_elems * (kv->bf16 ? 2 : 4);
}

/* Attention of rows [r0, r0 + n) over the paged cache of layer l, in groups the partial-sum
 * scratch holds; into att, or (out16) as bf16 into the products' operand. */
static int paged(struct l1k_kv_cache *kv, int l, int r0, int n, int max_len, int out16, l1k_err *err) {
  int ns = (max_len + L1KCU_GEN_SPLIT - 1) / L1KCU_GEN_SPLIT;
  for (int a = 0; a < n; a += kv->part_rows) {
    int c = n - a < kv->part_rows ? n - a : kv->part_rows;
    int r = r0 + a;
    KER(l1kcu_paged_attention(kv->att + (size_t)r * kv->QD, out16 ? kv->abf + (size_t)r * kv->QD : NULL, kv->part, kv->qr + (size_t)r * kv->QD,
                              layer_pool(kv, kv->kc, l), layer_pool(kv, kv->vc, l), kv->bf16,
                              kv->seq + r, kv->pos + r, kv->d_table, kv->mbps, c, ns, kv->H,
                              kv->KVH, kv->hd, kv->bs),
        "paged_attention");
    cnt.host_launches++; /* its two kernels: the splits, the merge */
  }
  return 0;
}

/* Attention of one prompt starting an empty slot, rows [r0, r0 + n): the training kernels on
 * this prompt alone (the pieces of a pack do not see each other). */
static int fresh(struct l1k_kv_cache *kv, int r0, int n, l1k_err *err) {
  size_t QD = kv->QD, KD = kv->KD;
  float *o = kv->att + (size_t)r0 * QD, *lse = kv->lse + (size_t)r0 * kv->H;
  const float *q = kv->qr + (size_t)r0 * QD, *k = kv->kr + (size_t)r0 * KD, *v = kv->v + (size_t)r0 * KD;
  if (kv->att_kind != L1KCU_ATT_FLASH_BF16) {
    KER(l1kcu_attention_fw(o, lse, q, k, v, kv->zero, 1, n, kv->H, kv->KVH, kv->hd), "attention_fw");
    return 0;
  }
  size_t N = (size_t)n;
  uint16_t *fq = kv->fa, *fk = fq + N * QD, *fv = fk + N * KD, *fo = fv + N * KD;
  KER(l1kcu_to_bf16(fq, q, N * QD), "to_bf16 (q)");
  KER(l1kcu_to_bf16(fk, k, N * KD), "to_bf16 (k)");
  KER(l1kcu_to_bf16(fv, v, N * KD), "to_bf16 (v)");
  KER(l1kcu_flash_bf16_fw(fo, lse, fq, fk, fv, kv->zero, 1, n, kv->H, kv->KVH, kv->hd), "flash_bf16_fw");
  KER(l1kcu_bf16_to_f32(o, fo, N * QD), "bf16_to_f32 (o)");
  return 0;
}

/* n rows (ids, pos, seq uploaded; cos / sin of their positions) through every layer; K / V
 * into the cache. Pieces: npc runs of rows; a fresh piece attends within itself, the others
 * through the paged cache (pieces NULL: all rows paged, max_len their longest). */
static int run_layers(struct l1k_kv_cache *kv, int n, int npc, int max_len, l1k_err *err) {
  cu_state *s = kv->s;
  l1k_model *m = kv->m;
  const l1k_model_config *c = &m->cfg;
  int C = kv->C, FF = kv->FF, H = kv->H, KVH = kv->KVH, hd = kv->hd, QD = kv->QD, KD = kv->KD;
  float eps = (float)c->rms_norm_eps;
  KER(l1kcu_embedding_fw(kv->x, kv->ids, s->P.embed, n, C), "embedding_fw");
  for (int l = 0; l < kv->L; l++) {
    layer_params *P = &s->P.layer[l];
    /* without q/k norms the products write straight into qr / kr; their biases, RoPE and the
     * cache writes are one launch after them (l1kcu_qkv_post) */
    float *qo = c->qk_norm ? kv->q : kv->qr, *ko = c->qk_norm ? kv->k : kv->kr;
    int fq = kv->bf16 && kv->wqkv && npc == 0;
    if (fq) { /* decode: q, k, v as one product, then one post (no q / k norms here) */
      size_t ld = (size_t)QD + 2 * KD;
      KER(l1kcu_rmsnorm_bf16(kv->abf, kv->x, P->ln1_w, n, C, eps), "rmsnorm_bf16");
      TRY(gen_gemm16(kv, kv->gate, kv->abf, kv->wqkv + (size_t)l * ld * C, NULL, n, C, (int)ld, 0, err));
      KER(l1kcu_qkv_post_ld(kv->gate, kv->gate + QD, kv->gate + QD + KD, ld, kv->qr, P->q_b, P->k_b, P->v_b,
                            kv->cos_t, kv->sin_t, layer_pool(kv, kv->kc, l), layer_pool(kv, kv->vc, l),
                            kv->bf16, kv->seq, kv->pos, kv->d_table, kv->mbps, n, H, KVH, hd, kv->bs),
          "qkv_post");
    } else if (kv->bf16) { /* the norm writes the bf16 operand of the three products */
      KER(l1kcu_rmsnorm_bf16(kv->abf, kv->x, P->ln1_w, n, C, eps), "rmsnorm_bf16");
      TRY(gen_linear16(kv, qo, kv->abf, P->q_w, NULL, n, C, QD, 0, err));
      TRY(gen_linear16(kv, ko, kv->abf, P->k_w, NULL, n, C, KD, 0, err));
      TRY(gen_linear16(kv, kv->v, kv->abf, P->v_w, NULL, n, C, KD, 0, err));
    } else {
      KER(l1kcu_rmsnorm_fw(kv->ln, kv->rstd, kv->x, P->ln1_w, n, C, eps), "rmsnorm_fw");
      TRY(gen_linear(kv, qo, kv->ln, P->q_w, NULL, n, C, QD, err));
      TRY(gen_linear(kv, ko, kv->ln, P->k_w, NULL, n, C, KD, err));
      TRY(gen_linear(kv, kv->v, kv->ln, P->v_w, NULL, n, C, KD, err));
    }
    if (c->qk_norm && !fq) { /* Qwen3 (no q/k/v biases): the head norms come before RoPE */
      if (P->q_b || P->k_b) {
        KER(l1kcu_bias_fw(kv->q, P->q_b, n, QD), "bias_fw");
        KER(l1kcu_bias_fw(kv->k, P->k_b, n, KD), "bias_fw");
      }
      KER(l1kcu_rmsnorm_fw(kv->qr, kv->qn_rstd, kv->q, P->q_norm, n * H, hd, eps), "q_norm");
      KER(l1kcu_rmsnorm_fw(kv->kr, kv->kn_rstd, kv->k, P->k_norm, n * KVH, hd, eps), "k_norm");
    }
    if (!fq)
      KER(l1kcu_qkv_post(kv->qr, kv->kr, kv->v, c->qk_norm ? NULL : P->q_b, c->qk_norm ? NULL : P->k_b,
                         P->v_b, kv->cos_t, kv->sin_t, layer_pool(kv, kv->kc, l), layer_pool(kv, kv->vc, l),
                         kv->bf16, kv->seq, kv->pos, kv->d_table, kv->mbps, n, H, KVH, hd, kv->bs),
          "qkv_post");
    int att16 = npc == 0 && kv->bf16; /* decode, bf16: the merge writes o_proj's operand */
    if (npc == 0) {
      TRY(paged(kv, l, 0, n, max_len, att16, err));
    } else {
      for (int p = 0; p < npc; p++) {
        int r0 = kv->pc_row[p], pn = kv->pc_n[p];
        if (kv->pc_fresh[p])
          TRY(fresh(kv, r0, pn, err));
        else
          TRY(paged(kv, l, r0, pn, kv->pc_end[p], 0, err));
      }
    }
    /* the residual stream x accumulates each block's output in the product itself (beta 1) */
    if (att16)
      TRY(gen_linear16(kv, kv->x, kv->abf, P->o_w, NULL, n, QD, C, 1, err));
    else
      TRY(gen_linear_acc(kv, kv->x, kv->att, P->o_w, NULL, n, QD, C, 1, err));
    int fused = P->up_w == P->gate_w + (size_t)FF * C; /* adjacent (the flat layout) */
    if (kv->bf16 && fused) { /* norm -> bf16 operand; [gate | up]; SwiGLU -> bf16 operand */
      KER(l1kcu_rmsnorm_bf16(kv->abf, kv->x, P->ln2_w, n, C, eps), "rmsnorm_bf16");
      TRY(gen_linear16(kv, kv->gate, kv->abf, P->gate_w, NULL, n, C, 2 * FF, 0, err));
      KER(l1kcu_swiglu_rows_bf16(kv->abf, kv->gate, n, FF), "swiglu_rows_bf16");
      TRY(gen_linear16(kv, kv->x, kv->abf, P->down_w, NULL, n, FF, C, 1, err));
      continue;
    }
    KER(l1kcu_rmsnorm_fw(kv->ln, kv->rstd, kv->x, P->ln2_w, n, C, eps), "rmsnorm_fw");
    if (fused) { /* one product */
      TRY(gen_linear(kv, kv->gate, kv->ln, P->gate_w, NULL, n, C, 2 * FF, err));
      KER(l1kcu_swiglu_rows(kv->up, kv->gate, n, FF), "swiglu_rows");
    } else {
      TRY(gen_linear(kv, kv->gate, kv->ln, P->gate_w, NULL, n, C, FF, err));
      TRY(gen_linear(kv, kv->up, kv->ln, P->up_w, NULL, n, C, FF, err));
      KER(l1kcu_swiglu_fw(kv->up, kv->gate, kv->up, (size_t)n * FF), "swiglu_fw");
    }
    TRY(gen_linear_acc(kv, kv->x, kv->up, P->down_w, NULL, n, FF, C, 1, err));
  }
  return 0;
}

/* rows' ids / positions / slots to the device and their RoPE table */
static int upload_rows(struct l1k_kv_cache *kv, int n, l1k_err *err) {
  /* ids, positions and slots packed [3][n] (n <= R: the staging quarter holds 3n when the
   * rows are few; otherwise the three host arrays are contiguous already), one copy */
  size_t b = (size_t)n * sizeof(int32_t), R = (size_t)kv->R;
  int32_t *stage = kv->h_ids + 3 * R;
  if ((size_t)n == R) {
    stage = kv->h_ids;
  } else if (3 * (size_t)n <= R) {
    memcpy(stage, kv->h_ids, b);
    memcpy(stage + n, kv->h_pos, b);
    memcpy(stage + 2 * (size_t)n, kv->h_seq, b);
  } else { /* R/3 < n < R: move pos and seq down behind ids (they are not read again) */
    memmove(kv->h_ids + n, kv->h_pos, b);
    memmove(kv->h_ids + 2 * (size_t)n, kv->h_seq, b);
    stage = kv->h_ids;
  }
  CU(cudaMemcpy(kv->ids, stage, 3 * b, cudaMemcpyHostToDevice), "upload of rows");
  kv->pos = kv->ids + n;
  kv->seq = kv->ids + 2 * (size_t)n;
  KER(l1kcu_rope_table(kv->cos_t, kv->sin_t, kv->pos, n, kv->s->inv_freq, kv->hd / 2), "rope_table");
  return 0;
}

/* logits of the nl rows h_last[0..nl) (final norm, lm_head) into host out[nl, V] */
static int last_logits(struct l1k_kv_cache *kv, int nl, float *out, l1k_err *err) {
  cu_state *s = kv->s;
  const l1k_model_config *c = &kv->m->cfg;
  int C = kv->C, V = kv->V;
  int LR = kv->max_seqs < GEN_LOGIT_ROWS ? kv->max_seqs : GEN_LOGIT_ROWS;
  CU(cudaMemcpy(kv->last, kv->h_last, (size_t)nl * sizeof(int32_t), cudaMemcpyHostToDevice),
     "upload of the last rows");
  for (int a = 0; a < nl; a += LR) {
    int r = nl - a < LR ? nl - a : LR;
    KER(l1kcu_gather_rows(kv->xl, kv->x, kv->last + a, r, C), "gather_rows");
    KER(l1kcu_rmsnorm_fw(kv->lnl, kv->lnl_rstd, kv->xl, s->P.norm, r, C, (float)c->rms_norm_eps),
        "final norm");
    TRY(gen_linear(kv, kv->logits, kv->lnl, s->P.lm_head, NULL, r, C, V, err));
    CU(cudaMemcpy(out + (size_t)a * V, kv->logits, (size_t)r * V * sizeof(float), cudaMemcpyDeviceToHost),
       "download of logits");
  }
  return 0;
}

static int check_room(struct l1k_kv_cache *kv, int seq, int n, l1k_err *err) {
  if (seq < 0 || seq >= kv->max_seqs) return bad_seq(kv, seq, err);
  if (n <= 0) return l1k_errf(err, L1K_EINPUT, "CUDA generation: nothing to feed to slot %d", seq);
  if ((int64_t)kv->h_len[seq] + n > (int64_t)kv->h_nblk[seq] * kv->bs)
    return l1k_errf(err, L1K_EINTERNAL, "CUDA generation: slot %d holds %d positions and has blocks "
                    "for %d; %d more were not reserved", seq, kv->h_len[seq], kv->h_nblk[seq] * kv->bs, n);
  return 0;
}

int l1kcu_kv_prefill(l1k_model *m, struct l1k_kv_cache *kv, const int *seqs, const int32_t *const *ids,
                      const int *n, int count, float *logits, l1k_err *err) {
  (void)m;
  for (int i = 0; i < count; i++) {
    TRY(check_room(kv, seqs[i], n[i], err));
    for (int j = 0; j < i; j++)
      if (seqs[j] == seqs[i])
        return l1k_errf(err, L1K_EINPUT, "CUDA generation: slot %d twice in one prefill", seqs[i]);
    for (int t = 0; t < n[i]; t++)
      if (ids[i][t] < 0 || ids[i][t] >= kv->V)
        return l1k_errf(err, L1K_EINPUT, "CUDA generation: token id %d outside the vocabulary (%d)",
                        (int)ids[i][t], kv->V);
  }
  /* passes of at most R rows: whole prompts packed while they fit; a longer one alone, in
   * pieces (the first fresh, the next ones continuing through the cache) */
  int i = 0, t = 0;
  while (i < count) {
    int rows = 0, npc = 0, nl = 0;
    while (i < count && rows < kv->R) {
      int seq = seqs[i], left = n[i] - t;
      int take = left <= kv->R - rows ? left : (rows == 0 ? kv->R : 0);
      if (take == 0) break; /* the next prompt waits for a pass of its own */
      int start = kv->h_len[seq];
      kv->pc_row[npc] = rows;
      kv->pc_n[npc] = take;
      kv->pc_seq[npc] = seq;
      kv->pc_fresh[npc] = start == 0;
      kv->pc_end[npc] = start + take; /* the longest row of the piece attends to this many */
      for (int k = 0; k < take; k++) {
        kv->h_ids[rows + k] = ids[i][t + k];
        kv->h_pos[rows + k] = start + k;
        kv->h_seq[rows + k] = seq;
      }
      npc++;
      rows += take;
      kv->h_len[seq] += take; /* the K / V of these positions are written in this pass */
      t += take;
      if (t == n[i]) {
        kv->pc_out[nl] = i;
        kv->h_last[nl++] = rows - 1;
        i++;
        t = 0;
      }
    }
    TRY(upload_rows(kv, rows, err));
    TRY(run_layers(kv, rows, npc, 0, err));
    if (nl > 0) {
      /* logits of the prompts that ended in this pass, to their places in the output */
      int first = kv->pc_out[0];
      int contiguous = 1;
      for (int k = 1; k < nl; k++) contiguous &= kv->pc_out[k] == first + k;
      if (!contiguous) return l1k_errf(err, L1K_EINTERNAL, "CUDA generation: prefill order");
      TRY(last_logits(kv, nl, logits + (size_t)first * kv->V, err));
    }
  }
  CU(cudaDeviceSynchronize(), "prefill");
  return 0;
}

/* ---------------------------------------------------------------- the decode step, graphs */

void l1kcu_gen_get_counters(l1kcu_gen_counters *c) { *c = cnt; }

/* the final norm and lm_head of rows [a, a + r) of x into kv->logits */
static int head_rows(struct l1k_kv_cache *kv, int a, int r, l1k_err *err) {
  cu_state *s = kv->s;
  float eps = (float)kv->m->cfg.rms_norm_eps;
  if (kv->bf16) { /* the norm writes the lm_head's bf16 operand (rmsnorm_fw + to_bf16's bits) */
    KER(l1kcu_rmsnorm_bf16(kv->abf, kv->x + (size_t)a * kv->C, s->P.norm, r, kv->C, eps), "final norm");
    return gen_linear16(kv, kv->logits, kv->abf, s->P.lm_head, NULL, r, kv->C, kv->V, 0, err);
  }
  KER(l1kcu_rmsnorm_fw(kv->lnl, kv->lnl_rstd, kv->x + (size_t)a * kv->C, s->P.norm, r, kv->C,
                       (float)kv->m->cfg.rms_norm_eps), "final norm");
  return gen_linear(kv, kv->logits, kv->lnl, s->P.lm_head, NULL, r, kv->C, kv->V, err);
}

static int logit_rows(const struct l1k_kv_cache *kv) {
  return kv->max_seqs < GEN_LOGIT_ROWS ? kv->max_seqs : GEN_LOGIT_ROWS;
}

/* What a decode step of b rows (a batch bucket) runs on the device, on kv->stream, its inputs
 * already in kv->ids ([3][b]: ids, positions, slots): the RoPE table, every layer (the decode
 * attention on ns splits: a split bucket), the final norm and lm_head of the first
 * min(b, logit_rows) rows (greedy: and their argmax into d_tok). Every pointer and size fixed by (b, ns): what a graph captures. */
static int decode_body(struct l1k_kv_cache *kv, int b, int ns, int greedy, l1k_err *err) {
  kv->pos = kv->ids + b;
  kv->seq = kv->ids + 2 * (size_t)b;
  KER(l1kcu_rope_table(kv->cos_t, kv->sin_t, kv->pos, b, kv->s->inv_freq, kv->hd / 2), "rope_table");
  TRY(run_layers(kv, b, 0, ns * L1KCU_GEN_SPLIT, err));
  int lr = logit_rows(kv), r = b < lr ? b : lr;
  TRY(head_rows(kv, 0, r, err));
  if (greedy) KER(l1kcu_argmax_rows(kv->d_tok, kv->logits, r, kv->V), "argmax_rows");
  return 0;
}

/* generation's launchers and cuBLAS on the cache's stream while a step runs, then back */
static void gen_enter(struct l1k_kv_cache *kv) {
  l1kcu_stream = (void *)kv->stream;
  cublasSetStream(kv->s->blas, kv->stream);
}
static void gen_leave(struct l1k_kv_cache *kv) {
  l1kcu_stream = 0;
  cublasSetStream(kv->s->blas, 0);
}

/* decode_body(b, ns) captured into *out (not run). A failure turns graphs off for this cache,
 * with one info line: the steps run eagerly (as LONG1K_GEN_GRAPH=0). */
static void capture(struct l1k_kv_cache *kv, int b, int ns, int greedy, cudaGraphExec_t *out, int *nodes) {
  l1k_err e2 = {0};
  cudaGraph_t g = NULL;
  long long h0 = cnt.host_launches; /* recorded, not issued */
  cudaError_t ce = cudaStreamBeginCapture(kv->stream, cudaStreamCaptureModeGlobal);
  int rc = ce ? 0 : decode_body(kv, b, ns, greedy, &e2);
  if (!ce) {
    cudaError_t ee = cudaStreamEndCapture(kv->stream, &g);
    if (!rc) ce = ee;
  }
  cnt.host_launches = h0;
  size_t nn = 0;
  if (!ce && !rc) ce = cudaGraphGetNodes(g, NULL, &nn);
  if (!ce && !rc) ce = cudaGraphInstantiate(out, g, 0);
  if (g) cudaGraphDestroy(g);
  if (ce || rc) {
    *out = NULL;
    kv->use_graph = 0;
    cudaGetLastError();
    fprintf(stderr, "long1k: CUDA generation: the decode step could not be captured or instantiated "
            "as a CUDA graph (%s); steps run eagerly\n", rc ? e2.msg : cudaGetErrorString(ce));
    return;
  }
  *nodes = (int)nn;
  cnt.captures++;
}

/* One decode step. The rows are padded to the batch bucket b (inert rows: token 0 at position
 * 0 of the slot max_seqs, whose every block is pad_blk) and the attention's split count to the
 * split bucket of the longest row, in both modes, so that a graph step and an eager step run
 * the same shapes; the first step of a (b, ns) runs eagerly and then captures its graph, the
 * next ones launch it. */
static int decode_step(struct l1k_kv_cache *kv, int n, int max_len, float *logits, int32_t *tokens,
                       l1k_err *err) {
  int bi = 0, li = 0, need = (max_len + L1KCU_GEN_SPLIT - 1) / L1KCU_GEN_SPLIT, greedy = tokens != NULL;
  while (kv->bk[bi] < n) bi++;
  while (kv->lb[li] < need) li++;
  int b = kv->bk[bi], ns = kv->lb[li], lr = logit_rows(kv), V = kv->V;
  int32_t *in = kv->h_in;
  for (int r = 0; r < b; r++) {
    in[r] = r < n ? kv->h_ids[r] : 0;
    in[b + r] = r < n ? kv->h_pos[r] : 0;
    in[2 * b + r] = r < n ? kv->h_seq[r] : kv->max_seqs;
  }
  long long h0 = cnt.host_launches;
  int kernels = 0, gi = (bi * kv->nlb + li) * 2 + greedy;
  cudaGraphExec_t *g = &kv->graph[gi];
  cnt.host_launches++;
  CU(cudaMemcpyAsync(kv->ids, in, 3 * (size_t)b * sizeof(int32_t), cudaMemcpyHostToDevice, kv->stream),
     "upload of a step's rows");
  if (kv->use_graph && *g) {
    cnt.host_launches++;
    CU(cudaGraphLaunch(*g, kv->stream), "cudaGraphLaunch (decode step)");
    cnt.graph_steps++;
    kernels = kv->gnodes[gi];
  } else {
    long long k0 = cnt.host_launches;
    TRY(decode_body(kv, b, ns, greedy, err));
    kernels = (int)(cnt.host_launches - k0);
    if (kv->use_graph) capture(kv, b, ns, greedy, g, &kv->gnodes[gi]);
  }
  /* the first chunk of rows came from the step; the rest (more rows than logit_rows) here */
  for (int a = 0; a < n; a += lr) {
    int r = n - a < lr ? n - a : lr;
    if (a > 0) {
      long long k0 = cnt.host_launches;
      TRY(head_rows(kv, a, r, err));
      if (greedy) KER(l1kcu_argmax_rows(kv->d_tok + a, kv->logits, r, V), "argmax_rows");
      kernels += (int)(cnt.host_launches - k0);
    }
    if (!greedy) {
      cnt.host_launches++;
      CU(cudaMemcpyAsync(logits + (size_t)a * V, kv->logits, (size_t)r * V * sizeof(float),
                         cudaMemcpyDeviceToHost, kv->stream), "download of logits");
    }
  }
  if (greedy) {
    cnt.host_launches++;
    CU(cudaMemcpyAsync(kv->h_tok, kv->d_tok, (size_t)n * sizeof(int32_t), cudaMemcpyDeviceToHost,
                       kv->stream), "download of tokens");
  }
  CU(cudaStreamSynchronize(kv->stream), "decode");
  if (greedy) {
    memcpy(tokens, kv->h_tok, (size_t)n * sizeof(int32_t));
    cnt.greedy_steps++;
  }
  cnt.steps++;
  cnt.step_launches = (int)(cnt.host_launches - h0);
  cnt.step_kernels = kernels;
  cnt.graph_on = kv->use_graph;
  return 0;
}

static int kv_decode(struct l1k_kv_cache *kv, const int *seqs, const int32_t *ids, int n, float *logits,
                     int32_t *tokens, l1k_err *err) {
  if (n <= 0) return 0;
  if (n > kv->max_seqs)
    return l1k_errf(err, L1K_EINPUT, "CUDA generation: %d rows exceed the %d slots", n, kv->max_seqs);
  int max_len = 0;
  for (int r = 0; r < n; r++) {
    int s = seqs[r];
    TRY(check_room(kv, s, 1, err));
    for (int q = 0; q < r; q++)
      if (seqs[q] == s) return l1k_errf(err, L1K_EINPUT, "CUDA generation: slot %d twice in one step", s);
    if (ids[r] < 0 || ids[r] >= kv->V)
      return l1k_errf(err, L1K_EINPUT, "CUDA generation: token id %d outside the vocabulary (%d)",
                      (int)ids[r], kv->V);
    kv->h_ids[r] = ids[r];
    kv->h_pos[r] = kv->h_len[s];
    kv->h_seq[r] = s;
    if (kv->h_len[s] + 1 > max_len) max_len = kv->h_len[s] + 1;
  }
  gen_enter(kv);
  int rc = decode_step(kv, n, max_len, logits, tokens, err);
  gen_leave(kv);
  if (rc) return rc;
  for (int r = 0; r < n; r++) kv->h_len[seqs[r]]++;
  return 0;
}

int l1kcu_kv_decode(l1k_model *m, struct l1k_kv_cache *kv, const int *seqs, const int32_t *ids, int n,
                     float *logits, l1k_err *err) {
  (void)m;
  return kv_decode(kv, seqs, ids, n, logits, NULL, err);
}

int l1kcu_kv_decode_greedy(l1k_model *m, struct l1k_kv_cache *kv, const int *seqs, const int32_t *ids,
                           int n, int32_t *tokens, l1k_err *err) {
  (void)m;
  return kv_decode(kv, seqs, ids, n, NULL, tokens, err);
}
