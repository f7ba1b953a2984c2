/* Finite-difference gradient check of every parameter tensor — and so of every layer type:
 * embedding, RMSNorm, q/k/v projections with bias (qwen2), q/k RMSNorm (qwen3), RoPE (default
 * and llama3), causal GQA attention over packed documents, o_proj, SwiGLU MLP, final norm,
 * lm_head (tied and untied) and the masked cross-entropy. For each tensor W and a random
 * direction D: (L(W + eps D) - L(W - eps D)) / 2 eps must equal <dL/dW, D>. */
#include <stdint.h>

#include "check.h"
#include "tiny.h"

static double loss_of(l1k_model *m, const l1k_batch *b) {
  double ls;
  int64_t nt;
  l1k_err err = {0};
  if (l1k_model_forward(m, b, NULL, &ls, &nt, &err)) {
    fprintf(stderr, "forward: %s\n", err.msg);
    exit(1);
  }
  return ls / (double)nt;
}

/* long = 0: rows of 9 tokens (row 1 packs two documents); long = 1: one row of 300 tokens
 * holding documents of 170 and 130 tokens, so attention runs over several query blocks. */
static int check_family(const char *family, int long_row) {
  l1k_model *m = tiny_model(family, 42);
  const l1k_model_config *c = l1k_model_cfg(m);
  int B = long_row ? 1 : 2, T = long_row ? 300 : 9;
  int32_t ids[600], labels[600], pos[600];
  uint32_t s = 99;
  for (int i = 0; i < B * T; i++) {
    s = s * 1664525u + 1013904223u;
    ids[i] = (int32_t)((s >> 8) % (uint32_t)c->vocab_size);
    labels[i] = ids[i];
    if (long_row) pos[i] = i < 170 ? i : i - 170;
    else pos[i] = i < T ? i : (i - T < 4 ? i - T : i - T - 4);
  }
  labels[0] = labels[1] = -100; /* a masked prompt */
  labels[T + 5 < B * T ? T + 5 : 7] = -100;
  l1k_batch b = {B, T, ids, labels, pos, NULL};
  l1k_err err = {0};
  int64_t nt = l1k_batch_count_targets(&b, &err);
  l1k_model_zero_grads(m);
  double ls;
  int64_t nt2;
  CHECK(l1k_model_forward_backward(m, &b, 1.0 / (double)nt, &ls, &nt2, &err) == 0);
  CHECK(nt2 == nt);
  size_t ntens;
  const l1k_tensor_info *ti = l1k_model_tensors(m, &ntens);
  float *p = l1k_model_params(m), *g = l1k_model_grads(m);
  int failures = 0;
  for (size_t k = 0; k < ntens; k++) {
    size_t n = ti[k].numel;
    float *w = p + ti[k].offset;
    float *save = malloc(n * sizeof *save), *dir = malloc(n * sizeof *dir);
    memcpy(save, w, n * sizeof *w);
    double ana = 0, dn = 0;
    for (size_t j = 0; j < n; j++) {
      s = s * 1664525u + 1013904223u;
      dir[j] = (float)((s >> 8) * (1.0 / 16777216.0) - 0.5);
      dn += (double)dir[j] * dir[j];
    }
    for (size_t j = 0; j < n; j++) dir[j] = (float)(dir[j] / sqrt(dn));
    for (size_t j = 0; j < n; j++) ana += (double)g[ti[k].offset + j] * dir[j];
    /* Richardson extrapolation of two central differences: O(eps^4) truncation */
    double num[2], eps[2] = {5e-2, 2.5e-2};
    for (int e = 0; e < 2; e++) {
      for (size_t j = 0; j < n; j++) w[j] = save[j] + (float)eps[e] * dir[j];
      double lp = loss_of(m, &b);
      for (size_t j = 0; j < n; j++) w[j] = save[j] - (float)eps[e] * dir[j];
      double lm = loss_of(m, &b);
      num[e] = (lp - lm) / (2 * eps[e]);
    }
    memcpy(w, save, n * sizeof *w);
    double numr = (4 * num[1] - num[0]) / 3;
    double err_abs = fabs(numr - ana), scale = fabs(ana) > 1e-2 ? fabs(ana) : 1e-2;
    if (getenv("GC_VERBOSE")) fprintf(stderr, "  %s rel %.2e\n", ti[k].name, err_abs / scale);
    if (err_abs / scale > 5e-3) {
      failures++;
      fprintf(stderr, "%s %s: analytic %.7g numeric %.7g\n", family, ti[k].name, ana, numr);
    }
    free(save);
    free(dir);
  }
  CHECK_MSG(failures == 0, "%s: %d tensors with wrong gradients", family, failures);
  fprintf(stderr, "%s%s: %zu tensors checked\n", family, long_row ? " (300-token row)" : "", ntens);
  l1k_model_free(m);
  return failures;
}

int main(void) {
  check_family("qwen2", 0);
  check_family("qwen3", 0);
  check_family("llama", 0);
  check_family("qwen3", 1); /* several attention query blocks, two documents */
  check_family("llama", 1);
  CHECK_DONE();
}
