/* long1k — model internals shared by the files in src/model (not a public header). */
#ifndef LONG1K_MODEL_INTERNAL_H
#define LONG1K_MODEL_INTERNAL_H

#include "long1k/backend.h"
#include "long1k/model.h"

/* Pointers into the flat parameter (or gradient) buffer. C = hidden_size, I =
 * intermediate_size, V = vocab_size, QD = heads * head_dim, KD = kv_heads * head_dim. */
typedef struct layer_params {
  float *ln1_w;   /* [C]      input_layernorm.weight */
  float *q_w;     /* [QD, C]  self_attn.q_proj.weight */
  float *q_b;     /* [QD]     self_attn.q_proj.bias (qwen2; else NULL) */
  float *k_w;     /* [KD, C] */
  float *k_b;     /* [KD] */
  float *v_w;     /* [KD, C] */
  float *v_b;     /* [KD] */
  float *o_w;     /* [C, QD]  self_attn.o_proj.weight */
  float *q_norm;  /* [hd]     self_attn.q_norm.weight (qwen3; else NULL) */
  float *k_norm;  /* [hd] */
  float *ln2_w;   /* [C]      post_attention_layernorm.weight */
  float *gate_w;  /* [I, C]   mlp.gate_proj.weight */
  float *up_w;    /* [I, C]   mlp.up_proj.weight */
  float *down_w;  /* [C, I]   mlp.down_proj.weight */
} layer_params;

typedef struct model_params {
  float *embed;        /* [V, C]  model.embed_tokens.weight */
  layer_params *layer; /* [L] */
  float *norm;         /* [C]     model.norm.weight */
  float *lm_head;      /* [V, C]  lm_head.weight (== embed when tied) */
} model_params;

/* Activations of one layer for a batch of N = B*T rows (kept for the backward). */
typedef struct layer_acts {
  float *x;        /* [N, C]   residual stream entering the layer */
  float *ln1;      /* [N, C]   input_layernorm(x) */
  float *ln1_rstd; /* [N] */
  float *q;        /* [N, QD]  q_proj output (+bias), before q_norm / rope */
  float *k;        /* [N, KD] */
  float *v;        /* [N, KD] */
  float *qn_rstd;  /* [N, H]   q_norm rstd (qwen3) */
  float *kn_rstd;  /* [N, KVH] */
  float *qr;       /* [N, QD]  after q_norm and rope */
  float *kr;       /* [N, KD] */
  float *lse;      /* [N, H]   log-sum-exp of each query row's scores (P is recomputed) */
  float *ao;       /* [N, QD]  attention output before o_proj */
  float *xm;       /* [N, C]   residual after attention */
  float *ln2;      /* [N, C] */
  float *ln2_rstd; /* [N] */
  float *gate;     /* [N, I]   gate_proj output */
  float *up;       /* [N, I]   up_proj output */
  float *h;        /* [N, I]   silu(gate) * up */
} layer_acts;

typedef struct model_acts {
  int B, T;            /* reserved sizes */
  size_t n_floats;
  float *mem;
  layer_acts *layer;   /* [L] */
  float *xf;           /* [N, C] residual after the last layer */
  float *lnf;          /* [N, C] final norm output */
  float *lnf_rstd;     /* [N] */
  float *cos_t, *sin_t;/* [N, hd/2] rope tables of this batch */
  int32_t *seg;        /* [N] start index (within the row) of each token's document */
  int32_t *target;     /* [N] target token of each position, or -1 */
  int32_t *pos;        /* [N] positions */
  float *logits;       /* [CH, V] logits chunk */
  float *lmwork;       /* [l1k_lm_work_floats(CH, C, threads)] for the lm_head forward */
  int chunk;           /* CH */
  int32_t *trow, *ttg; /* [N] rows with a target and their targets (lm_head rows) */
  float *lnfc, *dcc;   /* [N, C] those rows of lnf and their gradient, gathered */
  /* backward scratch */
  float *dres;         /* [N, C] gradient of the residual stream */
  float *dc;           /* [N, C] */
  float *dq, *dq2;     /* [N, QD] */
  float *dk, *dk2, *dv;/* [N, KD] */
  float *dao;          /* [N, QD] */
  float *dgate, *dup, *dh; /* [N, I] */
  float *scr;          /* [threads, 2, ATT_RB, T] attention scratch (scores / probabilities
                          and their gradient for one block of query rows), one per thread */
  int n_threads;       /* threads the scratch was sized for */
  int32_t *segs;       /* [N, 3] documents of the batch: row, start, end */
  int n_segs;
} model_acts;

/* Rows of logits computed at once in training: as many as fit in this many bytes (at least 64):
 * fewer chunks mean fewer passes of OpenBLAS packing the [V, C] lm_head matrix. */
/* Query rows per attention block: a block attends to keys 0..its last row only (causal). */
#define ATT_RB 128
#define L1K_LOGIT_BUDGET ((size_t)640 << 20)

struct l1k_model {
  l1k_model_config cfg;
  size_t n_params;
  float *params;
  float *grads;
  size_t n_tensors;
  l1k_tensor_info *tensors;
  model_params p, g;     /* pointers into params / grads */
  float *inv_freq;       /* [hd/2] */
  model_acts a;
  char stored_dtype[8];
  char *orig_config;     /* config.json text as loaded (kept on save), or NULL */
  char *orig_genconfig;  /* generation_config.json text, or NULL */
  /* the backend seam (src/backend/ops.h): which backend runs this model, and its private
   * state (device buffers, optimizer state, streams); NULL until attached */
  const struct l1k_backend_ops *be;
  void *be_state;
  /* LoRA / freeze (src/model/adapter.c): the trainable flat space when attached, else NULL */
  struct model_adapter *ad;
};

/* The host gradient buffer, allocated (zeroed) on first use; NULL when out of memory. */
float *model_grads_alloc(l1k_model *m);
/* Attaches the CPU backend (l1k_model_create); lets go of the backend (l1k_model_free). */
int model_attach_default(l1k_model *m, l1k_err *err);
void model_detach(l1k_model *m);
/* The parameters in host memory: m->params on the CPU backend, else a malloc'ed copy from the
 * backend returned in *owned (free it). NULL with err set on failure. */
const float *model_host_params(l1k_model *m, float **owned, l1k_err *err);

/* The flat space the optimizer trains (include/long1k/adapter.h): the adapter's when one is
 * attached, else the whole model's. grads: allocated on demand when want_grads (NULL when out
 * of memory, or not yet allocated without want_grads). */
typedef struct train_space {
  float *params, *grads;
  size_t n;
  const l1k_tensor_info *tensors;
  size_t n_tensors;
} train_space;
train_space model_train_space(l1k_model *m, int want_grads);

/* Builds tensors[] and the offsets for cfg; points p into base (may be NULL for sizing). */
int model_layout(l1k_model *m, l1k_err *err);
void model_point(const l1k_model *m, float *base, model_params *p);
/* Every parameter pointer field of p (embed, norm, lm_head, then each layer's 14), for code
 * that walks or re-points them all (adapters, the CUDA backend's views); f holds at least
 * MODEL_PARAM_FIELDS_MAX(m) entries. Returns the count. */
#define MODEL_PARAM_FIELDS_MAX(m) (3 + 14 * (size_t)(m)->cfg.num_hidden_layers)
size_t model_param_fields(const l1k_model *m, model_params *p, float ***f);
/* Checks a batch's ids, labels and positions (one line naming row and position) and fills, for
 * each token i of the B x T grid, pos[i], seg[i] (the row-local start of its document: a new
 * document where doc[] changes or, without doc[], where the position does not increase) and
 * target[i] (labels[i+1] of the same document, or -1). Host side, shared by every backend. */
int model_batch_layout(const l1k_batch *b, int vocab, int32_t *pos, int32_t *seg, int32_t *target,
                       l1k_err *err);

#endif
