/* The embedding's pad_token_id rule against transformers (issue 17 (b)): nn.Embedding(
 * padding_idx=pad_token_id) gives the row pad_token_id no gradient from the positions whose
 * input id is pad_token_id. Goldens: tests/model/golden/pad_{llama,qwen2}/, made by
 * tests/model/make_pad_golden.py (transformers 5.25.0): an untied Llama (the pad row's
 * gradient is exactly 0) and a tied Qwen2 whose pad_token_id is its EOS id (the pad row gets
 * the lm_head's gradient only). Without the rule the pad row takes the gradient of its input
 * positions and both checks of that row fail. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "../check.h"
#include "long1k/model.h"
#include "long1k/safetensors.h"

static double rel_l2(const float *a, const float *b, size_t n) {
  double d = 0, r = 0;
  for (size_t i = 0; i < n; i++) {
    d += ((double)a[i] - b[i]) * ((double)a[i] - b[i]);
    r += (double)b[i] * b[i];
  }
  return r > 0 ? sqrt(d / r) : sqrt(d);
}

static int32_t *ids_of(const l1k_safetensors *st, const char *name, size_t want) {
  const l1k_st_tensor *t = l1k_st_find(st, name);
  if (!t || t->dtype != L1K_DT_I32 || t->numel != want) return NULL;
  int32_t *v = malloc(want * sizeof *v);
  if (v) memcpy(v, t->data, want * sizeof *v);
  return v;
}

static void check_model(const char *name, int pad, int tied) {
  const char *src = getenv("LONG1K_SRC") ? getenv("LONG1K_SRC") : ".";
  char dir[4096], refp[4200];
  snprintf(dir, sizeof dir, "%s/tests/model/golden/pad_%s", src, name);
  snprintf(refp, sizeof refp, "%s/reference.safetensors", dir);
  l1k_err err = {0};
  l1k_model *m = l1k_model_load(dir, &err);
  CHECK_MSG(m != NULL, "%s", err.msg);
  if (!m) return;
  CHECK(l1k_model_cfg(m)->pad_token_id == pad);
  CHECK(l1k_model_cfg(m)->tie_word_embeddings == tied);
  l1k_safetensors st;
  CHECK_MSG(l1k_st_open(&st, refp, &err) == 0, "%s", err.msg);
  const int B = 2, T = 14;
  int32_t *ids = ids_of(&st, "input_ids", B * T), *labels = ids_of(&st, "labels", B * T);
  CHECK(ids && labels);
  int pads = 0;
  for (int i = 0; ids && i < B * T; i++) pads += ids[i] == pad;
  CHECK(pads >= 5); /* the rule is exercised (5 placed by the generator, maybe more drawn) */
  l1k_batch b = {B, T, ids, labels, NULL, NULL};
  int64_t nt = l1k_batch_count_targets(&b, &err), nt2 = 0;
  double loss_sum = 0;
  l1k_model_zero_grads(m);
  CHECK_MSG(l1k_model_forward_backward(m, &b, 1.0 / (double)nt, &loss_sum, &nt2, &err) == 0, "%s",
            err.msg);
  float ref_loss = 0;
  l1k_st_to_f32(l1k_st_find(&st, "loss"), &ref_loss);
  CHECK_CLOSE(loss_sum / (double)nt, ref_loss, 1e-5 * ref_loss);
  size_t n = l1k_model_num_params(m), ntens = 0;
  const l1k_tensor_info *ti = l1k_model_tensors(m, &ntens);
  float *g = malloc(n * sizeof *g), *ref = malloc(n * sizeof *ref);
  CHECK(l1k_model_grads_get(m, g, 0, n, &err) == 0);
  for (size_t i = 0; i < ntens; i++) {
    char gname[128];
    snprintf(gname, sizeof gname, "grad.%s", ti[i].name);
    const l1k_st_tensor *t = l1k_st_find(&st, gname);
    CHECK_MSG(t && t->numel == ti[i].numel, "%s: %s missing", name, gname);
    if (!t || t->numel != ti[i].numel) continue;
    l1k_st_to_f32(t, ref + ti[i].offset);
    double e = rel_l2(g + ti[i].offset, ref + ti[i].offset, ti[i].numel);
    CHECK_MSG(e < 1e-5, "%s: %s rel err %.3g", name, ti[i].name, e);
  }
  /* the pad row itself, element by element */
  const l1k_tensor_info *emb = l1k_model_tensor(m, "model.embed_tokens.weight");
  int C = l1k_model_cfg(m)->hidden_size;
  const float *gp = g + emb->offset + (size_t)pad * C, *rp = ref + emb->offset + (size_t)pad * C;
  double worst = 0, rnorm = 0;
  for (int j = 0; j < C; j++) {
    worst = fmax(worst, fabs((double)gp[j] - rp[j]));
    rnorm += (double)rp[j] * rp[j];
  }
  CHECK_MSG(worst <= 1e-6 + 1e-5 * sqrt(rnorm), "%s: pad row %d differs by %.3g", name, pad, worst);
  if (!tied) { /* no lm_head share: transformers' pad row gradient is exactly zero */
    int zero = 1;
    for (int j = 0; j < C; j++) zero &= gp[j] == 0.0f;
    CHECK_MSG(zero && rnorm == 0, "%s: the pad row got a gradient", name);
  } else {
    CHECK(rnorm > 0); /* the tied lm_head's part is kept */
  }
  free(g);
  free(ref);
  free(ids);
  free(labels);
  l1k_st_close(&st);
  l1k_model_free(m);
}

int main(void) {
  check_model("llama", 5, 0);
  check_model("qwen2", 2, 1);
  CHECK_DONE();
}
