/* Tiny random models for the model tests (qwen2 with q/k/v bias, qwen3 with q/k norm and an
 * explicit head_dim, llama with llama3 rope scaling and tied embeddings). */
#ifndef L1K_TEST_TINY_H
#define L1K_TEST_TINY_H
#include <stdlib.h>
#include <string.h>
#include "long1k/model.h"

static inline l1k_model_config tiny_config(const char *family) {
  l1k_model_config c;
  memset(&c, 0, sizeof c);
  snprintf(c.model_type, sizeof c.model_type, "%s", family);
  c.vocab_size = 37;
  c.hidden_size = 16;
  c.intermediate_size = 24;
  c.num_hidden_layers = 2;
  c.num_attention_heads = 4;
  c.num_key_value_heads = 2;
  c.head_dim = 4;
  c.max_position_embeddings = 128;
  c.rope_theta = 10000.0;
  c.rms_norm_eps = 1e-6;
  c.initializer_range = 0.3;
  c.pad_token_id = -1;
  c.bos_token_id = 1;
  c.n_eos = 1;
  c.eos_token_ids[0] = 2;
  snprintf(c.torch_dtype, sizeof c.torch_dtype, "float32");
  if (!strcmp(family, "qwen2")) c.attention_bias = 1;
  if (!strcmp(family, "qwen3")) {
    c.qk_norm = 1;
    c.head_dim = 6; /* explicit, != hidden_size / heads */
  }
  if (!strcmp(family, "llama")) {
    c.tie_word_embeddings = 1;
    c.num_key_value_heads = 4;
    c.rope_type = 1;
    c.rope_theta = 500000.0;
    c.rope_factor = 8;
    c.rope_low_freq_factor = 1;
    c.rope_high_freq_factor = 4;
    c.rope_original_max_position = 64;
  }
  return c;
}

/* Random init, then norm weights and biases also randomized (so their gradients matter). */
static inline l1k_model *tiny_model(const char *family, uint64_t seed) {
  l1k_model_config c = tiny_config(family);
  l1k_err err = {0};
  l1k_model *m = l1k_model_create(&c, &err);
  if (!m) {
    fprintf(stderr, "tiny_model: %s\n", err.msg);
    exit(1);
  }
  l1k_model_init_random(m, seed);
  size_t n;
  const l1k_tensor_info *t = l1k_model_tensors(m, &n);
  float *p = l1k_model_params(m);
  uint32_t s = (uint32_t)seed * 2654435761u + 7;
  for (size_t i = 0; i < n; i++) {
    if (t[i].ndim != 1) continue;
    for (size_t j = 0; j < t[i].numel; j++) {
      s = s * 1664525u + 1013904223u;
      p[t[i].offset + j] += (float)((s >> 8) * (1.0 / 16777216.0) - 0.5) * 0.6f;
    }
  }
  return m;
}
#endif
