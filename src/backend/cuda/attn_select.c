/* long1k — which attention the CUDA backend runs (attn_cudnn.h): the own float32 kernels
 * (kernels.cu) or cuDNN's fused SDPA in the bf16 mode. Chosen at attach (l1kcu_attn_choice:
 * $LONG1K_ATTN, the precision, deterministic); when cuDNN is missing, or refuses a graph, one
 * line on stderr says why and the own kernels take over for the rest of the model's life. */
#include <stdio.h>

#include "backend/cuda/attention.h"
#include "backend/cuda/attn_cudnn.h"
#include "backend/cuda/cuda_internal.h"

static void fall_back(cu_state *s, const char *why) {
  fprintf(stderr, "long1k: cuDNN attention unavailable: %s; using the own attention kernels\n", why);
  l1kcu_dnn_close(s->dnn);
  s->dnn = NULL;
}

int l1kcu_attn_attach(cu_state *s, l1k_err *err) {
  s->dnn = NULL;
  int c = l1kcu_attn_choice(s->opts.precision == L1K_PREC_BF16, s->opts.deterministic, err);
  if (c <= 0) return c < 0 ? L1K_EINPUT : 0;
  char why[512];
  if (l1kcu_dnn_open(&s->dnn, why, sizeof why)) fall_back(s, why);
  return 0;
}

int l1kcu_attn_batch(const l1k_model *m, cu_state *s, int B, int T, l1k_err *err) {
  if (!s->dnn) return 0;
  const l1k_model_config *c = &m->cfg;
  int rc = l1kcu_dnn_set_docs(s->dnn, s->h_seg, s->h_seg_end, B, T, c->num_attention_heads,
                              c->num_key_value_heads, c->head_dim, err);
  if (rc == L1K_EUNSUPPORTED) {
    fall_back(s, err->msg);
    l1k_err_clear(err);
    return 0;
  }
  return rc;
}

int l1kcu_attn_fw(cu_state *s, cu_layer *L, int B, int T, int H, int KVH, int hd, l1k_err *err) {
  if (s->dnn) {
    int rc = l1kcu_dnn_attention_fw(s->dnn, L->ao, L->lse, L->qr, L->kr, L->v, err);
    if (rc != L1K_EUNSUPPORTED) return rc;
    fall_back(s, err->msg);
    l1k_err_clear(err);
  }
  return l1kcu_own_attn_fw(s, L, B, T, H, KVH, hd, err);
}

int l1kcu_attn_bw(cu_state *s, cu_layer *L, int B, int T, int H, int KVH, int hd, l1k_err *err) {
  if (s->dnn) {
    int rc = l1kcu_dnn_attention_bw(s->dnn, s->dq, s->dk, s->dv, s->dao, L->ao, L->lse, L->qr,
                                    L->kr, L->v, err);
    if (rc != L1K_EUNSUPPORTED) return rc;
    fall_back(s, err->msg);
    l1k_err_clear(err);
  }
  return l1kcu_own_attn_bw(s, L, B, T, H, KVH, hd, err);
}
