/* include/long1k/flops.h: the FLOP count against ../shared/bench/hf_sft_reference.py's formula
 * for the Qwen2.5 shapes it benchmarks, packed documents, LoRA / freeze, and the peak table. */
#include <stdlib.h>

#include "check.h"
#include "long1k/flops.h"

static l1k_model_config qwen(int C, int I, int L, int H, int KV, int tied) {
  l1k_model_config c = {0};
  c.vocab_size = 151936, c.hidden_size = C, c.intermediate_size = I, c.num_hidden_layers = L;
  c.num_attention_heads = H, c.num_key_value_heads = KV, c.head_dim = C / H;
  c.tie_word_embeddings = tied, c.attention_bias = 1;
  return c;
}

int main(void) {
  /* hf_sft_reference.py: n_matmul = all parameters, less the embedding when untied (the lm
   * head counts even when tied); ours counts matrices only: the difference is the norms and
   * the q/k/v biases */
  struct { int C, I, L, H, KV, tied; } m[] = {{896, 4864, 24, 14, 2, 1}, {1536, 8960, 28, 12, 2, 1},
                                                {3584, 18944, 28, 28, 4, 0}};
  for (int i = 0; i < 3; i++) {
    l1k_model_config c = qwen(m[i].C, m[i].I, m[i].L, m[i].H, m[i].KV, m[i].tied);
    double all = (double)l1k_config_num_params(&c), VC = (double)c.vocab_size * c.hidden_size;
    double hf = all - (c.tie_word_embeddings ? 0 : VC);
    double small = (double)c.num_hidden_layers * (2.0 * c.hidden_size + c.hidden_size +
                                                  2.0 * c.num_key_value_heads * c.head_dim) +
                   c.hidden_size; /* two norms and q/k/v biases per layer, the final norm */
    l1k_flops_shape s = l1k_flops_shape_of(&c, L1K_FLOPS_FULL, -1);
    CHECK_CLOSE(s.trainable_matmul, hf - small, 0.5);
    CHECK(s.frozen_matmul == 0);
    /* one 16k document: hf's flops_per_token x T */
    double T = 16384, want = (6 * hf + 6.0 * c.num_hidden_layers * c.hidden_size * T) * T;
    double got = l1k_flops_step(&s, T, T * T);
    /* exact with hf's count less the norms and biases, within 1e-4 of it as hf counts */
    CHECK_CLOSE(got, want - 6 * small * T, 1e-9 * want);
    CHECK_MSG(fabs(got - want) / want < 1e-4, "%d: %g vs %g", i, got, want);
    /* two 8k documents packed in one row: the attention term halves */
    double two = l1k_flops_step(&s, T, 2 * (T / 2) * (T / 2));
    CHECK_CLOSE(got - two, 3.0 * c.num_hidden_layers * c.hidden_size * T * T, 1e-3 * got);
    /* LoRA: 4 per frozen, 6 per adapter parameter; freeze: part of the base trains */
    l1k_flops_shape lo = l1k_flops_shape_of(&c, L1K_FLOPS_LORA, 1e6);
    CHECK(lo.frozen_matmul == s.trainable_matmul && lo.trainable_matmul == 1e6);
    l1k_flops_shape fr = l1k_flops_shape_of(&c, L1K_FLOPS_FREEZE, 1e8);
    CHECK(fr.trainable_matmul == 1e8 && fr.frozen_matmul == s.trainable_matmul - 1e8);
    CHECK_CLOSE(l1k_flops_step(&lo, 10, 0), 10 * (4 * s.trainable_matmul + 6e6), 1);
  }
  /* peaks: NVIDIA's dense numbers by device name; the longer names first */
  unsetenv("LONG1K_PEAK_TFLOPS");
  const char *src = NULL;
  CHECK(l1k_peak_flops("NVIDIA H200", 1, &src) == 989e12 && !strcmp(src, "H200 SXM"));
  CHECK(l1k_peak_flops("NVIDIA H200 NVL", 1, &src) == 835e12 && !strcmp(src, "H200 NVL"));
  CHECK(l1k_peak_flops("NVIDIA H100 80GB HBM3", 1, NULL) == 989e12);
  CHECK(l1k_peak_flops("NVIDIA H100 80GB HBM3", 0, NULL) == 67e12);
  CHECK(l1k_peak_flops("NVIDIA H100 PCIe", 1, &src) == 756e12 && !strcmp(src, "H100 PCIe"));
  CHECK(l1k_peak_flops("NVIDIA A100-SXM4-80GB", 1, NULL) == 312e12);
  CHECK(l1k_peak_flops("NVIDIA GeForce RTX 4090", 1, &src) == 0 && src == NULL);
  CHECK(l1k_peak_flops(NULL, 1, NULL) == 0);
  setenv("LONG1K_PEAK_TFLOPS", "400", 1);
  CHECK(l1k_peak_flops(NULL, 0, &src) == 400e12 && !strcmp(src, "LONG1K_PEAK_TFLOPS"));
  CHECK(l1k_peak_flops("NVIDIA H200", 1, NULL) == 400e12);
  setenv("LONG1K_PEAK_TFLOPS", "fast", 1); /* not a number: ignored, the table answers */
  CHECK(l1k_peak_flops("NVIDIA H200", 1, NULL) == 989e12);
  printf("flops: %d checks, %d failed\n", check_count, check_failures);
  return check_failures ? 1 : 0;
}
