/* long1k — LoRA training steps on the CUDA backend (src/backend/cuda/lora.c), bf16 mode: a
 * random model of a real shape with a LoRA (rank r, alpha 2r, every linear module of every
 * layer), one sequence of T tokens per step (labels = ids), AdamW over the adapter only. Per T:
 * tokens/s of whole optimizer steps (forward + backward + AdamW, after one warm-up step; two
 * timed steps, one from T = 8192 on, as the peer) and
 * the device memory the run holds (cudaMemGetInfo after the steps, less before the attach: the
 * base in bf16, the adapter's state, activations, cuBLAS workspace).
 *
 *   gpu_lora_bench [SHAPE [RANK [T ...]]]   SHAPE 1.5b (Qwen2.5-1.5B, default), 7b (Qwen2.5-7B),
 *                                           tiny (a few MB: the emulation's smoke test);
 *                                           RANK 16; T 16384. One JSON line per T.
 *
 * Peer: bench/gpu_lora_peer.py (PEFT + transformers, bf16, same shapes and settings). Random
 * weights: the speed and memory of a step do not depend on the values. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gpu_bench_common.h"
#include "long1k/adapter.h"
#include "long1k/model.h"

static double now_s(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int shape_of(const char *name, l1k_model_config *c) {
  memset(c, 0, sizeof *c);
  snprintf(c->model_type, sizeof c->model_type, "qwen2");
  c->attention_bias = 1;
  c->max_position_embeddings = 32768, c->rope_theta = 1e6, c->rms_norm_eps = 1e-6;
  c->initializer_range = 0.02, c->pad_token_id = -1, c->n_eos = 1, c->eos_token_ids[0] = 2;
  snprintf(c->torch_dtype, sizeof c->torch_dtype, "bfloat16");
  if (!strcmp(name, "1.5b")) { /* Qwen2.5-1.5B */
    c->vocab_size = 151936, c->hidden_size = 1536, c->intermediate_size = 8960;
    c->num_hidden_layers = 28, c->num_attention_heads = 12, c->num_key_value_heads = 2;
    c->head_dim = 128, c->tie_word_embeddings = 1;
  } else if (!strcmp(name, "7b")) { /* Qwen2.5-7B */
    c->vocab_size = 152064, c->hidden_size = 3584, c->intermediate_size = 18944;
    c->num_hidden_layers = 28, c->num_attention_heads = 28, c->num_key_value_heads = 4;
    c->head_dim = 128;
  } else if (!strcmp(name, "tiny")) {
    c->vocab_size = 512, c->hidden_size = 64, c->intermediate_size = 128;
    c->num_hidden_layers = 2, c->num_attention_heads = 4, c->num_key_value_heads = 2;
    c->head_dim = 16;
  } else {
    return -1;
  }
  return 0;
}

/* Weights ~ U(-0.02, 0.02), norms 1 (xorshift per block of 1M values, in parallel). */
static void fill(l1k_model *m) {
  float *p = l1k_model_params(m);
  size_t n = l1k_model_num_params(m), nt = 0, blocks = (n + (1u << 20) - 1) >> 20;
#pragma omp parallel for schedule(static)
  for (size_t b = 0; b < blocks; b++) {
    uint64_t x = (b + 1) * 0x9E3779B97F4A7C15ull;
    size_t hi = (b + 1) << 20 < n ? (b + 1) << 20 : n;
    for (size_t i = b << 20; i < hi; i++) {
      x ^= x << 13, x ^= x >> 7, x ^= x << 17;
      p[i] = 0.04f * (float)((double)(x >> 11) / 9007199254740992.0) - 0.02f;
    }
  }
  const l1k_tensor_info *ti = l1k_model_tensors(m, &nt);
  for (size_t i = 0; i < nt; i++)
    if (ti[i].ndim == 1 && !strstr(ti[i].name, "bias"))
      for (size_t k = 0; k < ti[i].numel; k++) p[ti[i].offset + k] = 1.0f;
}

static void fail(const char *bench, const char *msg) {
  printf("{\"bench\":\"%s\",\"impl\":\"long1k-bf16\",\"status\":\"%s\"}\n", bench, msg);
}

static void one_T(l1k_model *m, const char *shape, int rank, int T, size_t used0, size_t n_ad) {
  char bench[64];
  snprintf(bench, sizeof bench, "lora-%s-T%d", shape, T);
  l1k_err err = {0};
  int V = l1k_model_cfg(m)->vocab_size, steps = T >= 8192 ? 1 : 2; /* the peer times as many */
  int32_t *ids = malloc((size_t)T * sizeof *ids);
  if (!ids) exit(1);
  for (int i = 0; i < T; i++) ids[i] = (int32_t)(((uint64_t)i * 2654435761u + 7) % (uint64_t)V);
  l1k_batch b = {1, T, ids, ids, NULL, NULL};
  double t0 = 0, loss = 0;
  int rc = l1k_model_reserve(m, 1, T, &err);
  for (int s = 0; s <= steps && !rc; s++) { /* step 0: warm-up */
    if (s == 1) t0 = now_s();
    double ls = 0, gn = 0;
    int64_t nt = 0;
    l1k_model_zero_grads(m);
    rc = l1k_model_forward_backward(m, &b, 1.0 / (T - 1), &ls, &nt, &err);
    if (!rc) rc = l1k_model_step(m, 1e-4, 1.0, 0, n_ad, &gn, &err);
    loss = nt ? ls / (double)nt : 0;
  }
  double dt = now_s() - t0;
  size_t fr = 0, tot = 0;
  cudaMemGetInfo(&fr, &tot);
  free(ids);
  if (rc) {
    fail(bench, err.msg);
    return;
  }
  printf("{\"bench\":\"%s\",\"impl\":\"long1k-bf16\",\"T\":%d,\"rank\":%d,\"trainable\":%zu,"
         "\"step_ms\":%.1f,\"tokens_per_s\":%.0f,\"device_gb\":%.2f,\"loss\":%.4f}\n",
         bench, T, rank, n_ad, 1e3 * dt / steps, (double)T * steps / dt,
         (double)((tot - fr) - used0) / 1e9, loss);
  fflush(stdout);
}

int main(int argc, char **argv) {
  const char *shape = argc > 1 ? argv[1] : "1.5b";
  int rank = argc > 2 ? atoi(argv[2]) : 16;
  (void)gb_rand, (void)gb_alloc, (void)gb_ms; /* gpu_bench_common.h helpers this one needs not */
  if (!gb_have_device("lora")) return 0;
  l1k_model_config c;
  if (shape_of(shape, &c) || rank <= 0) {
    fprintf(stderr, "usage: gpu_lora_bench [1.5b|7b|tiny [RANK [T ...]]]\n");
    return 2;
  }
  l1k_err err = {0};
  l1k_model *m = l1k_model_create(&c, &err);
  if (!m) {
    fail("lora", err.msg);
    return 0;
  }
  fill(m);
  l1k_lora_opts o = {rank, 2.0 * rank, 0, 0, 0, 0.0};
  size_t fr = 0, tot = 0;
  GB_CHECK(cudaFree(0)); /* the context exists before the first measurement */
  GB_CHECK(cudaMemGetInfo(&fr, &tot));
  l1k_device_opts d = {L1K_DEVICE_PREC_BF16, 1, 0, 0, "device", 0};
  int rc = l1k_lora_parse_targets("all", "lora_target", &o.targets, &err);
  if (!rc) rc = l1k_model_lora_new(m, &o, 1, &err);
  if (!rc) rc = l1k_model_attach(m, "cuda", &d, &err);
  size_t n_ad = l1k_model_num_trainable(m);
  if (!rc) rc = l1k_model_optim_init(m, 0.9, 0.999, 1e-8, 0.0, 0, n_ad, &err);
  if (rc) {
    fail("lora", err.msg);
    l1k_model_free(m);
    return 0;
  }
  for (int i = 3; i < argc || i == 3; i++) one_T(m, shape, rank, argc > i ? atoi(argv[i]) : 16384, tot - fr, n_ad);
  l1k_model_free(m);
  return 0;
}
