/* long1k — generation on the CUDA backend (issue 15; src/backend/cuda/gen_decode.c), bf16 mode
 * (bf16 weights in the products, bf16 paged KV cache), a random model of a real shape:
 *
 *  - copy: the device's memory rate, cudaMemcpy device-to-device of 1 GiB (bytes read + bytes
 *    written per second), measured first in the same run: the bandwidth limit below uses it;
 *  - decode at batch 1: one prompt of P tokens (prefill, timed apart), then N greedy steps
 *    (l1k_gen_step + argmax on the host), twice: eager steps (LONG1K_GEN_GRAPH=0) and CUDA
 *    graph steps (the default), with the launches per token of each (host-issued; device
 *    kernels): tokens/s, and the fraction of the bandwidth limit =
 *    (weight bytes + KV bytes per token) x tokens/s / copy rate, the weight bytes being every
 *    matrix a step reads in bf16 (q, k, v, o, gate, up, down of every layer and the lm_head),
 *    the KV bytes those of the mean context P + N/2 (K and V of every layer, bf16);
 *  - the decode attention's grid: one layer at batch 128 (and 1) with the grid of the live
 *    splits, of their power-of-two bucket (what a graph launches) and of a 32k capacity (the
 *    cost of idle blocks);
 *  - throughput at batch B: B prompts of P tokens, N new tokens each, through l1k_generate
 *    (continuous batching, host sampling, greedy, EOS ignored): generated tokens/s of the whole
 *    call (prefill included); then the last prompt alone at batch 1: how many of its first
 *    (up to 128) greedy tokens equal its tokens in the batch (batch invariance on this GPU).
 *
 *   gpu_decode_bench [SHAPE [P N [B P2 N2]]]   SHAPE 1.5b (Qwen2.5-1.5B, default), 0.5b, 7b, tiny
 *                                              (the emulation's smoke test); defaults: P 1024,
 *                                              N 1024, B 128, P2 512, N2 4096 (B 0: no batch run)
 * One JSON line per measurement. Peer: bench/gpu_decode_peer.py (transformers' generate, the
 * same shapes in the same run). Random weights: the speed of a step does not depend on them. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "backend/cuda/gen.h"
#include "gpu_bench_common.h"
#include "long1k/generate.h"
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
  } else if (!strcmp(name, "0.5b")) { /* Qwen2.5-0.5B */
    c->vocab_size = 151936, c->hidden_size = 896, c->intermediate_size = 4864;
    c->num_hidden_layers = 24, c->num_attention_heads = 14, c->num_key_value_heads = 2;
    c->head_dim = 64, c->tie_word_embeddings = 1;
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

/* Weights ~ U(-0.05, 0.05), norms 1 (xorshift per block of 1M values, in parallel). */
static void fill(l1k_model *m) {
  float *p = l1k_model_params(m);
  size_t n = l1k_model_num_params(m), nt = 0, blocks = (n + (1u << 20) - 1) >> 20;
#pragma omp parallel for schedule(static)
  for (size_t b = 0; b < blocks; b++) {
    uint64_t x = (b + 1) * 0x9E3779B97F4A7C15ull;
    size_t hi = (b + 1) << 20 < n ? (b + 1) << 20 : n;
    for (size_t i = b << 20; i < hi; i++) {
      x ^= x << 13, x ^= x >> 7, x ^= x << 17;
      p[i] = 0.1f * (float)((double)(x >> 11) / 9007199254740992.0) - 0.05f;
    }
  }
  const l1k_tensor_info *ti = l1k_model_tensors(m, &nt);
  for (size_t i = 0; i < nt; i++)
    if (ti[i].ndim == 1 && !strstr(ti[i].name, "bias"))
      for (size_t k = 0; k < ti[i].numel; k++) p[ti[i].offset + k] = 1.0f;
}

static void fail(const char *bench, const char *msg) {
  printf("{\"bench\":\"%s\",\"impl\":\"long1k-bf16\",\"status\":\"%s\"}\n", bench, msg);
  fflush(stdout);
}

/* bytes read + written per second by a 1 GiB device-to-device copy (median of 5) */
static double copy_rate(const char *shape) {
  size_t n = (size_t)1 << 30;
  if (!strcmp(shape, "tiny")) n = (size_t)1 << 20;
  void *a = gb_alloc(n), *b = gb_alloc(n);
  GB_CHECK(cudaMemset(a, 1, n));
  cudaEvent_t e0, e1;
  GB_CHECK(cudaEventCreate(&e0));
  GB_CHECK(cudaEventCreate(&e1));
  float ms[5];
  GB_CHECK(cudaMemcpy(b, a, n, cudaMemcpyDeviceToDevice));
  for (int i = 0; i < 5; i++) {
    GB_CHECK(cudaEventRecord(e0, 0));
    GB_CHECK(cudaMemcpy(b, a, n, cudaMemcpyDeviceToDevice));
    GB_CHECK(cudaEventRecord(e1, 0));
    ms[i] = gb_ms(e0, e1);
  }
  for (int i = 0; i < 5; i++)
    for (int j = i + 1; j < 5; j++)
      if (ms[j] < ms[i]) {
        float t = ms[i];
        ms[i] = ms[j], ms[j] = t;
      }
  cudaFree(a);
  cudaFree(b);
  cudaEventDestroy(e0);
  cudaEventDestroy(e1);
  double rate = 2.0 * (double)n / (ms[2] * 1e-3);
  printf("{\"bench\":\"copy-d2d\",\"impl\":\"cudaMemcpy\",\"bytes\":%zu,\"ms\":%.3f,\"tb_per_s\":%.3f}\n", n,
         ms[2], rate / 1e12);
  fflush(stdout);
  return rate;
}

static int32_t tok(size_t i, int V) { return (int32_t)((i * 2654435761u + 7) % (uint64_t)V); }

static void decode_b1(l1k_model *m, const char *shape, int P, int N, double rate, int graph) {
  char bench[64];
  const char *impl = graph ? "long1k-bf16-graph" : "long1k-bf16-eager";
  snprintf(bench, sizeof bench, "decode-%s-b1-p%d-n%d", shape, P, N);
  const l1k_model_config *c = l1k_model_cfg(m);
  int V = c->vocab_size;
  l1k_err err = {0};
  setenv("LONG1K_GEN_GRAPH", graph ? "1" : "0", 1); /* read when the generator's cache is made */
  l1k_generator *g = l1k_generator_create_ex(m, 1, P + N + 1, 0, &err);
  unsetenv("LONG1K_GEN_GRAPH");
  if (!g) {
    fail(bench, err.msg);
    return;
  }
  int32_t *ids = malloc((size_t)P * sizeof *ids);
  float *logits = malloc((size_t)V * sizeof *logits);
  if (!ids || !logits) exit(1);
  for (int i = 0; i < P; i++) ids[i] = tok((size_t)i, V);
  double t0 = now_s();
  int rc = l1k_gen_feed(g, 0, ids, P, NULL, &err);
  double t_pre = now_s() - t0;
  int32_t next = rc ? 0 : l1k_argmax(l1k_gen_slot_logits(g, 0), V);
  int slot = 0;
  /* two warm-up steps, then N - 2 timed */
  for (int s = 0; s < 2 && !rc; s++) {
    rc = l1k_gen_step(g, &slot, &next, 1, logits, &err);
    next = l1k_argmax(logits, V);
  }
  t0 = now_s();
  for (int s = 2; s < N && !rc; s++) {
    rc = l1k_gen_step(g, &slot, &next, 1, logits, &err);
    next = l1k_argmax(logits, V);
  }
  double dt = now_s() - t0;
  l1kcu_gen_counters k;
  l1kcu_gen_get_counters(&k);
  l1k_generator_free(g);
  free(ids);
  free(logits);
  if (rc) {
    fail(bench, err.msg);
    return;
  }
  double L = c->num_hidden_layers, C = c->hidden_size, FF = c->intermediate_size;
  double QD = (double)c->num_attention_heads * c->head_dim, KD = (double)c->num_key_value_heads * c->head_dim;
  double w = 2.0 * (L * (C * QD * 2 + 2 * C * KD + 3 * C * FF) + (double)V * C);
  double kvb = 2.0 * 2.0 * L * KD * (P + N / 2.0);
  double tps = (N - 2) / dt;
  /* launches_per_token: what the host issues per step (graph: the input copy, cudaGraphLaunch,
   * the logits copy); kernels_per_token: what runs on the device (graph: its nodes) */
  printf("{\"bench\":\"%s\",\"impl\":\"%s\",\"prompt\":%d,\"new\":%d,\"prefill_ms\":%.1f,"
         "\"step_ms\":%.3f,\"tokens_per_s\":%.1f,\"weight_gb\":%.3f,\"kv_gb_per_token\":%.4f,"
         "\"limit_tokens_per_s\":%.1f,\"fraction_of_limit\":%.3f,\"graph\":%d,"
         "\"launches_per_token\":%d,\"kernels_per_token\":%d}\n",
         bench, impl, P, N, 1e3 * t_pre, 1e3 * dt / (N - 2), tps, w / 1e9, kvb / 1e9, rate / (w + kvb),
         tps * (w + kvb) / rate, k.graph_on, k.step_launches, k.step_kernels);
  fflush(stdout);
}

/* The decode attention's idle blocks (docs/gpu.md "The attention grid inside a graph"): one
 * layer's l1kcu_paged_attention (bf16 cache) for B rows of ctx positions, with the grid of the
 * live splits, of their split bucket (the next power of two: what a graph launches) and of the
 * capacity (cap positions: one grid for every length); microseconds, median of 9 runs of 10. */
static double attn_us(float *out, float *part, const float *q, const void *kc, const void *vc,
                      const int32_t *seq, const int32_t *pos, const int32_t *tab, int mbps, int B,
                      int ns, int H, int KVH, int hd, int bs) {
  cudaEvent_t e0, e1;
  GB_CHECK(cudaEventCreate(&e0));
  GB_CHECK(cudaEventCreate(&e1));
  float ms[9];
  for (int k = 0; k < 9; k++) {
    GB_CHECK(cudaEventRecord(e0, 0));
    for (int i = 0; i < 10; i++)
      if (l1kcu_paged_attention(out, NULL, part, q, kc, vc, 1, seq, pos, tab, mbps, B, ns, H, KVH, hd, bs))
        return -1;
    GB_CHECK(cudaEventRecord(e1, 0));
    ms[k] = gb_ms(e0, e1) / 10;
  }
  for (int i = 0; i < 9; i++)
    for (int j = i + 1; j < 9; j++)
      if (ms[j] < ms[i]) {
        float t = ms[i];
        ms[i] = ms[j], ms[j] = t;
      }
  cudaEventDestroy(e0);
  cudaEventDestroy(e1);
  return 1e3 * ms[4];
}

static void attn_grid(const l1k_model_config *c, const char *shape, int B, int ctx, int cap) {
  int H = c->num_attention_heads, KVH = c->num_key_value_heads, hd = c->head_dim, bs = 16;
  int live = (ctx + L1KCU_GEN_SPLIT - 1) / L1KCU_GEN_SPLIT, capn = (cap + L1KCU_GEN_SPLIT - 1) / L1KCU_GEN_SPLIT;
  int bucket = 1;
  while (bucket < live) bucket *= 2;
  if (bucket > capn) bucket = capn;
  int nb = (ctx + bs - 1) / bs, mbps = (cap + bs - 1) / bs;
  size_t blk = (size_t)KVH * bs * hd;
  void *kc = gb_alloc((size_t)B * nb * blk * 2), *vc = gb_alloc((size_t)B * nb * blk * 2);
  GB_CHECK(cudaMemset(kc, 0, (size_t)B * nb * blk * 2));
  GB_CHECK(cudaMemset(vc, 0, (size_t)B * nb * blk * 2));
  float *q = gb_rand((size_t)B * H * hd, -1, 1, 7), *out = gb_alloc((size_t)B * H * hd * sizeof(float));
  float *part = gb_alloc((size_t)B * H * capn * (hd + 2) * sizeof(float));
  int32_t *hseq = malloc((size_t)B * sizeof *hseq), *hpos = malloc((size_t)B * sizeof *hpos);
  int32_t *htab = calloc((size_t)B * mbps, sizeof *htab);
  if (!hseq || !hpos || !htab) exit(1);
  for (int r = 0; r < B; r++) {
    hseq[r] = r, hpos[r] = ctx - 1;
    for (int j = 0; j < nb; j++) htab[(size_t)r * mbps + j] = r * nb + j;
  }
  int32_t *seq = gb_alloc((size_t)B * 4), *pos = gb_alloc((size_t)B * 4), *tab = gb_alloc((size_t)B * mbps * 4);
  GB_CHECK(cudaMemcpy(seq, hseq, (size_t)B * 4, cudaMemcpyHostToDevice));
  GB_CHECK(cudaMemcpy(pos, hpos, (size_t)B * 4, cudaMemcpyHostToDevice));
  GB_CHECK(cudaMemcpy(tab, htab, (size_t)B * mbps * 4, cudaMemcpyHostToDevice));
  double t_live = attn_us(out, part, q, kc, vc, seq, pos, tab, mbps, B, live, H, KVH, hd, bs);
  double t_bucket = attn_us(out, part, q, kc, vc, seq, pos, tab, mbps, B, bucket, H, KVH, hd, bs);
  double t_cap = attn_us(out, part, q, kc, vc, seq, pos, tab, mbps, B, capn, H, KVH, hd, bs);
  printf("{\"bench\":\"decode-attn-grid-%s-b%d-ctx%d\",\"impl\":\"long1k-bf16\",\"batch\":%d,\"context\":%d,"
         "\"splits_live\":%d,\"us_live\":%.2f,\"splits_bucket\":%d,\"us_bucket\":%.2f,"
         "\"splits_capacity\":%d,\"capacity\":%d,\"us_capacity\":%.2f}\n",
         shape, B, ctx, B, ctx, live, t_live, bucket, t_bucket, capn, cap, t_cap);
  fflush(stdout);
  free(hseq), free(hpos), free(htab);
  cudaFree(kc), cudaFree(vc), cudaFree(q), cudaFree(out), cudaFree(part);
  cudaFree(seq), cudaFree(pos), cudaFree(tab);
}

static void throughput(l1k_model *m, const char *shape, int B, int P, int N) {
  char bench[64];
  snprintf(bench, sizeof bench, "decode-%s-b%d-p%d-n%d", shape, B, P, N);
  int V = l1k_model_cfg(m)->vocab_size;
  l1k_err err = {0};
  l1k_generator *g = l1k_generator_create_ex(m, B, P + N + 1, 0, &err);
  if (!g) {
    fail(bench, err.msg);
    return;
  }
  int32_t *ids = malloc((size_t)B * P * sizeof *ids);
  l1k_gen_prompt *ps = malloc((size_t)B * sizeof *ps);
  l1k_gen_result *res = calloc((size_t)B, sizeof *res);
  if (!ids || !ps || !res) exit(1);
  for (size_t i = 0; i < (size_t)B * P; i++) ids[i] = tok(i + 12345, V); /* distinct prompts */
  for (int b = 0; b < B; b++) ps[b] = (l1k_gen_prompt){ids + (size_t)b * P, P};
  l1k_gen_opts o;
  l1k_gen_opts_default(&o);
  o.max_new_tokens = N;
  o.ignore_eos = 1;
  l1k_gen_cache_info ci;
  l1k_generator_cache_info(g, &ci);
  l1kcu_gen_counters k0, k1;
  l1kcu_gen_get_counters(&k0);
  double t0 = now_s();
  int rc = l1k_generate(g, ps, B, &o, res, NULL, NULL, &err);
  double dt = now_s() - t0;
  l1kcu_gen_get_counters(&k1);
  long long gen = 0;
  for (int b = 0; b < B; b++) gen += res[b].n_ids;
  l1k_generator_free(g);
  /* batch invariance: the last prompt alone (batch 1) against its tokens in the batch; up to
   * 128 tokens (cuBLAS may choose another kernel for another number of rows) */
  int same = -1, cmpn = N < 128 ? N : 128;
  if (!rc) {
    l1k_generator *g1 = l1k_generator_create_ex(m, 1, P + N + 1, 0, &err);
    l1k_gen_result one;
    memset(&one, 0, sizeof one);
    o.max_new_tokens = cmpn;
    o.seed_offset = (uint64_t)(B - 1);
    if (g1 && !l1k_generate(g1, &ps[B - 1], 1, &o, &one, NULL, NULL, &err))
      for (same = 0; same < cmpn && same < one.n_ids && one.ids[same] == res[B - 1].ids[same];) same++;
    l1k_gen_results_free(&one, 1);
    l1k_generator_free(g1);
  }
  l1k_gen_results_free(res, B);
  free(ids), free(ps), free(res);
  if (rc) {
    fail(bench, err.msg);
    return;
  }
  printf("{\"bench\":\"%s\",\"impl\":\"long1k-bf16\",\"batch\":%d,\"prompt\":%d,\"new\":%d,"
         "\"seconds\":%.2f,\"tokens_per_s\":%.0f,\"kv_pool_gb\":%.2f,\"kv_blocks\":%d,"
         "\"batch1_same_tokens\":%d,\"batch1_compared\":%d,\"steps\":%lld,\"graph_steps\":%lld,"
         "\"graphs\":%lld}\n",
         bench, B, P, N, dt, (double)gen / dt, (double)ci.bytes / 1e9, ci.n_blocks, same, cmpn,
         k1.steps - k0.steps, k1.graph_steps - k0.graph_steps, k1.captures - k0.captures);
  fflush(stdout);
}

int main(int argc, char **argv) {
  const char *shape = argc > 1 ? argv[1] : "1.5b";
  int P = argc > 2 ? atoi(argv[2]) : 1024, N = argc > 3 ? atoi(argv[3]) : 1024;
  int B = argc > 4 ? atoi(argv[4]) : 128, P2 = argc > 5 ? atoi(argv[5]) : 512;
  int N2 = argc > 6 ? atoi(argv[6]) : 4096;
  (void)gb_rand;
  if (!gb_have_device("decode")) return 0;
  l1k_model_config c;
  if (shape_of(shape, &c) || P < 1 || N < 3 || B < 0 || (B > 0 && (P2 < 1 || N2 < 1))) {
    fprintf(stderr, "usage: gpu_decode_bench [1.5b|0.5b|7b|tiny [P N [B P2 N2]]]\n");
    return 2;
  }
  double rate = copy_rate(shape);
  l1k_err err = {0};
  l1k_model *m = l1k_model_create(&c, &err);
  if (!m) {
    fail("decode", err.msg);
    return 0;
  }
  fill(m);
  l1k_device_opts d = {L1K_DEVICE_PREC_BF16, 1, 0, 0, "device", 0};
  if (l1k_model_attach(m, "cuda", &d, &err)) {
    fail("decode", err.msg);
    l1k_model_free(m);
    return 0;
  }
  decode_b1(m, shape, P, N, rate, 0); /* eager, then graphs: side by side */
  decode_b1(m, shape, P, N, rate, 1);
  if (!strcmp(shape, "tiny")) { /* the emulation: small grids */
    attn_grid(&c, shape, 2, 300, 1024);
  } else { /* batch 128 at 1k and batch 1 at 1.1k positions; slots of 32k */
    attn_grid(&c, shape, 128, 1024, 32768);
    attn_grid(&c, shape, 1, 1100, 32768);
  }
  if (B > 0) throughput(m, shape, B, P2, N2);
  l1k_model_free(m);
  return 0;
}
