/* GPU memory planner (src/train/memplan.c): the arithmetic on a small config worked out by hand
 * below (from the tensor lists in docs/gpu-memory.md, not by calling the planner twice), the
 * ZeRO paper's published numbers, monotonicity in T, the largest-T bisection, the error line,
 * and the size / token parsers. */
#include <inttypes.h>

#include "check.h"
#include "long1k/memplan.h"
#include "long1k/model.h"

/* ../shared/golden/models/qwen2_tiny: C 64, I 176, V 512, 4 heads of 16, 2 kv heads, 2 layers,
 * q/k/v biases, tied embeddings. */
static l1k_model_config tiny_qwen2(void) {
  l1k_model_config c;
  memset(&c, 0, sizeof c);
  snprintf(c.model_type, sizeof c.model_type, "qwen2");
  c.vocab_size = 512;
  c.hidden_size = 64;
  c.intermediate_size = 176;
  c.num_hidden_layers = 2;
  c.num_attention_heads = 4;
  c.num_key_value_heads = 2;
  c.head_dim = 16;
  c.max_position_embeddings = 4096;
  c.rope_theta = 1e6;
  c.rms_norm_eps = 1e-6;
  c.tie_word_embeddings = 1;
  c.attention_bias = 1;
  c.pad_token_id = -1;
  return c;
}

/* By hand, qwen2_tiny: QD = 64, KD = 32.
 * one layer's parameters: ln1 64 + q 64*64 + q bias 64 + k 32*64 + k bias 32 + v 32*64 + v bias 32
 *   + o 64*64 + ln2 64 + gate/up/down 3*176*64 = 46336; P = 512*64 + 2*46336 + 64 = 125504
 *   (transformers' total_parameters for this model: tests/model/data/sharded/qwen2_tiny).
 * per token, bf16 (2 bytes):
 *   layer_acts: x ln1 xm ln2 (4*64) + q qr ao (3*64) + k v kr (3*32) + gate up h (3*176) = 1072
 *     values = 2144 bytes, + float32 ln1_rstd ln2_rstd lse[4] = 6 * 4 = 24 -> 2168;
 *   checkpoint x: 64 * 2 = 128;
 *   backward: dres dc (2*64) + dq dq2 dao (3*64) + dk dk2 dv (3*32) + dgate dup dh (3*176) = 944
 *     values = 1888 bytes, + float32 D[4] = 16 -> 1904;
 *   model: xf lnf 2*64*2 = 256, + float32 lnf_rstd and cos/sin 2*8 = 17*4 = 68, + 10 int32 = 40
 *     -> 364;
 *   lm_head chunk at T = 100 (< 4096 rows): 100*512*4 = 204800 + lnfc, dcc 2*100*64*2 = 25600. */
#define P_TINY 125504ull
#define WS L1K_MEMPLAN_WORKSPACE

static void check_tiny_bf16(void) {
  l1k_model_config c = tiny_qwen2();
  CHECK(l1k_config_num_params(&c) == P_TINY);
  l1k_memplan_opts o = {.bf16 = 1, .world = 1};
  l1k_memplan p;
  l1k_err err = {0};
  CHECK(l1k_memplan_compute(&c, 100, &o, &p, &err) == 0);
  CHECK(p.n_params == P_TINY);
  CHECK(p.weights == 251008);          /* bf16 working copy: 2 * P */
  CHECK(p.grads == 502016);            /* float32 gradients: 4 * P */
  CHECK(p.optimizer == 1506048);       /* float32 parameters + 2 moments: 12 * P */
  CHECK(p.layer_per_token == 2168);
  CHECK(p.checkpoint_per_token == 128);
  CHECK(p.act_layers == 2 * 2168 * 100);
  CHECK(p.act_backward == 1904 * 100);
  CHECK(p.act_model == 364 * 100);
  CHECK(p.lm_chunk == 204800 + 25600);
  CHECK(p.activations == 433600 + 190400 + 36400 + 230400);
  CHECK(p.workspace == WS);
  CHECK(p.total == 251008 + 502016 + 1506048 + 890800 + WS);
  CHECK(p.host == 0);
  /* recomputation: 2 checkpoints (2*128) + one layer without its x (2168 - 128) = 2296 */
  o.recompute = 1;
  CHECK(l1k_memplan_compute(&c, 100, &o, &p, &err) == 0);
  CHECK(p.act_layers == 2296 * 100);
  /* a chunk smaller than T: 16 rows */
  o.chunk_rows = 16;
  CHECK(l1k_memplan_compute(&c, 100, &o, &p, &err) == 0);
  CHECK(p.lm_chunk == 16 * 512 * 4 + 2 * 16 * 64 * 2);
}

/* An adapter (LoRA / freeze on a device, src/backend/cuda/lora.h): the base weights only; the
 * trainable parameters' gradients (float32) and their master + moments (+ bf16 copy). */
static void check_adapter(void) {
  l1k_model_config c = tiny_qwen2();
  l1k_memplan p;
  for (int bf16 = 0; bf16 < 2; bf16++) {
    l1k_memplan_opts o = {.bf16 = bf16, .world = 1, .trainable = 1000};
    CHECK(l1k_memplan_compute(&c, 100, &o, &p, NULL) == 0);
    CHECK(p.weights == (bf16 ? 2 : 4) * P_TINY);
    CHECK(p.grads == 4000);
    CHECK(p.optimizer == (bf16 ? 14000u : 12000u));
    CHECK(p.total == p.weights + 4000 + p.optimizer + p.activations + WS);
  }
}

static void check_tiny_f32_offload_zero(void) {
  l1k_model_config c = tiny_qwen2();
  l1k_memplan_opts o = {.bf16 = 0, .world = 1};
  l1k_memplan p;
  CHECK(l1k_memplan_compute(&c, 10, &o, &p, NULL) == 0);
  CHECK(p.weights == 4 * P_TINY && p.grads == 4 * P_TINY);
  CHECK(p.optimizer == 8 * P_TINY);  /* the weights are the master: 2 moments */
  CHECK(p.layer_per_token == 4 * 1072 + 24);
  CHECK(p.act_backward == (4 * 944 + 16) * 10);
  CHECK(p.lm_chunk == 10 * 512 * 4 + 2 * 10 * 64 * 4);
  /* bf16, offload, ZeRO-1 on 3 ranks: shard = ceil(125504 / 3) = 41835 */
  o = (l1k_memplan_opts){.bf16 = 1, .offload = 1, .zero = 1, .world = 3};
  CHECK(l1k_memplan_compute(&c, 10, &o, &p, NULL) == 0);
  CHECK(p.n_shard == 41835);
  CHECK(p.optimizer == 4 * P_TINY); /* the float32 parameters stay (the all-gather's target) */
  CHECK(p.host == 16 * 41835);
  CHECK(p.grads == 4 * P_TINY);
  /* bf16, offload, one rank: no float32 parameters on the device but the embedding (512 x 64)
   * and the 1-D tensors (2 layers x (2 norms of 64 + biases 64 + 2 x 32) + the final norm 64):
   * 32768 + 512 + 64 = 33344 float32 values (src/backend/cuda/hostmaster.h) */
  o = (l1k_memplan_opts){.bf16 = 1, .offload = 1, .world = 1};
  CHECK(l1k_memplan_compute(&c, 10, &o, &p, NULL) == 0);
  CHECK(p.weights == 2 * P_TINY + 4 * 33344);
  CHECK(p.grads == 4 * P_TINY);
  CHECK(p.optimizer == 0);
  CHECK(p.host == 16 * P_TINY);
  /* ZeRO-2: this rank's gradient shard + the largest whole gradient (one layer's 46336
   * parameters, more than the 512 x 64 = 32768 of the embedding) */
  o = (l1k_memplan_opts){.bf16 = 1, .zero = 2, .world = 3};
  CHECK(l1k_memplan_compute(&c, 10, &o, &p, NULL) == 0);
  CHECK(p.grads == 4 * P_TINY + 4 * 46336); /* the buffer stays whole, + the bucket */
  CHECK(p.optimizer == 4 * P_TINY + 8 * 41835);
}

/* Qwen3: q/k norms keep float32 rstd per head: + H + KVH statistics per token and layer. */
static void check_qk_norm(void) {
  l1k_model_config c = tiny_qwen2();
  snprintf(c.model_type, sizeof c.model_type, "qwen3");
  c.attention_bias = 0;
  c.qk_norm = 1;
  l1k_memplan_opts o = {.bf16 = 1, .world = 1};
  l1k_memplan p;
  CHECK(l1k_memplan_compute(&c, 1, &o, &p, NULL) == 0);
  CHECK(p.layer_per_token == 2144 + 4 * (2 + 4 + 4 + 2));
}

/* ZeRO (Rajbhandari et al., 2020), Figure 1: a 7.5B model, 64 ranks, mixed-precision Adam
 * (K = 12): 120 GB baseline, 31.4 GB with P_os (stage 1), 16.6 GB with P_os+g (stage 2). */
static void check_zero_paper(void) {
  uint64_t P = 7500000000ull;
  l1k_memplan_opts o = {.bf16 = 1, .world = 64};
  CHECK(l1k_memplan_states(P, &o, 0) == 16 * P); /* 2 + 2 + 12 bytes per parameter */
  CHECK_CLOSE(l1k_memplan_states(P, &o, 0) / 1e9, 120.0, 0.05);
  o.zero = 1;
  CHECK_CLOSE(l1k_memplan_states(P, &o, 0) / 1e9, 31.4, 0.05);
  o.zero = 2;
  CHECK_CLOSE(l1k_memplan_states(P, &o, 0) / 1e9, 16.6, 0.05);
}

/* The Qwen2.5-1.5B config: the parameter count transformers reports
 * (../shared/bench/hf_sft_reference.h200.json) and 18 bytes per parameter of model states as the
 * CUDA backend holds them in the bf16 mode (bf16 copy, float32 gradients, parameters, moments). */
static void check_real_config(void) {
  l1k_model_config c;
  l1k_err err = {0};
  if (l1k_config_load_file(shared_path("configs/qwen2.5-1.5b-instruct.json"), &c, &err)) {
    fprintf(stderr, "(no ../shared/configs: %s)\n", err.msg);
    return;
  }
  l1k_memplan_opts o = {.bf16 = 1, .world = 1, .recompute = 1};
  l1k_memplan p;
  CHECK(l1k_memplan_compute(&c, 32768, &o, &p, &err) == 0);
  CHECK(p.n_params == 1543714304ull);
  CHECK(p.weights + p.grads + p.optimizer == 18 * 1543714304ull); /* 2 + 4 + 4 + 8 */
  /* 28 checkpoints of 1536 bf16 values per token, + one layer without its x */
  CHECK(p.act_layers == (28ull * 3072 + p.layer_per_token - 3072) * 32768);
}

static int fits(const l1k_model_config *c, const l1k_memplan_opts *o, int64_t T, uint64_t free_b) {
  l1k_memplan p;
  return l1k_memplan_compute(c, T, o, &p, NULL) == 0 && p.total <= free_b;
}

static void check_monotone_and_search(void) {
  const char *names[] = {"qwen2.5-0.5b-instruct", "qwen2.5-7b-instruct", "qwen3-0.6b", "llama-3.2-1b"};
  for (int k = 0; k < 4; k++) {
    char rel[128];
    snprintf(rel, sizeof rel, "configs/%s.json", names[k]);
    l1k_model_config c;
    if (l1k_config_load_file(shared_path(rel), &c, NULL)) c = tiny_qwen2();
    for (int v = 0; v < 8; v++) {
      l1k_memplan_opts o = {.bf16 = !(v & 1), .recompute = !!(v & 2), .offload = !!(v & 4), .world = 1};
      l1k_memplan a, b;
      uint64_t prev = 0;
      for (int64_t T = 1; T <= (1 << 20); T = T * 3 + 1) {
        CHECK(l1k_memplan_compute(&c, T, &o, &a, NULL) == 0);
        CHECK(l1k_memplan_compute(&c, T + 1, &o, &b, NULL) == 0);
        CHECK_MSG(b.total > a.total && a.total > prev && b.activations > a.activations,
                  "%s variant %d: not increasing at T = %" PRId64, names[k], v, T);
        prev = a.total;
      }
      /* bisection: T fits, T + 1 does not */
      uint64_t free_b = (uint64_t)40 << 30;
      l1k_err err = {0};
      int64_t t = l1k_memplan_max_T(&c, &o, free_b, &err);
      if (t > 0) {
        CHECK_MSG(fits(&c, &o, t, free_b) && !fits(&c, &o, t + 1, free_b), "%s variant %d: max T %" PRId64,
                  names[k], v, t);
      } else {
        CHECK(t == 0 && !fits(&c, &o, 1, free_b));
      }
      /* recomputation never needs more */
      l1k_memplan_opts r = o;
      r.recompute = 1;
      CHECK(l1k_memplan_max_T(&c, &r, free_b, NULL) >= t);
    }
  }
  /* the tiny model in a budget worked out by hand: states 18 * P = 2259072 + workspace; per token
   * without recompute 4336 + 1904 + 364 + chunk (2048 + 256) = 8908 bytes while T <= 4096 */
  l1k_model_config c = tiny_qwen2();
  l1k_memplan_opts o = {.bf16 = 1, .world = 1};
  uint64_t base = 2259072 + WS;
  CHECK(l1k_memplan_max_T(&c, &o, base + 8908 * 1000, NULL) == 1000);
  CHECK(l1k_memplan_max_T(&c, &o, base + 8908 * 1000 - 1, NULL) == 999);
  CHECK(l1k_memplan_max_T(&c, &o, base, NULL) == 0);
}

static void check_error_line(void) {
  l1k_model_config c = tiny_qwen2();
  l1k_memplan_opts o = {.bf16 = 1, .world = 1};
  uint64_t base = 2259072 + WS;
  l1k_memplan p;
  l1k_err err = {0};
  CHECK(l1k_memplan_check(&c, 1000, &o, base + 8908 * 1000, &p, &err) == 0);
  CHECK(l1k_memplan_check(&c, 1001, &o, base + 8908 * 1000, &p, &err) == L1K_EINPUT);
  CHECK_MSG(strstr(err.msg, "the largest T that fits is 1000 tokens") && strstr(err.msg, "--recompute") &&
                !strchr(err.msg, '\n'), "%s", err.msg);
  CHECK(l1k_memplan_check(&c, 1, &o, base, &p, &err) == L1K_EINPUT);
  CHECK_MSG(strstr(err.msg, "not even 1 token fits"), "%s", err.msg);
  /* bad options, named */
  o.zero = 3;
  CHECK(l1k_memplan_compute(&c, 1, &o, &p, &err) == L1K_EINPUT && strstr(err.msg, "ZeRO"));
  o.zero = 0;
  CHECK(l1k_memplan_compute(&c, 0, &o, &p, &err) == L1K_EINPUT && strstr(err.msg, "at least 1 token"));
  o.world = 0;
  CHECK(l1k_memplan_max_T(&c, &o, base, &err) == -1 && strstr(err.msg, "world"));
  /* the line printed before the first step */
  o.world = 1;
  char line[512];
  CHECK(l1k_memplan_compute(&c, 100, &o, &p, &err) == 0);
  l1k_memplan_line(&p, (uint64_t)1 << 30, line, sizeof line);
  CHECK_MSG(!strncmp(line, "weights 0.00 GiB, optimizer 0.00 GiB, activations 0.00 GiB at 100 tokens", 70) &&
                strstr(line, "of 1.00 GiB free"), "%s", line);
}

static void check_parsers(void) {
  uint64_t b = 0;
  int64_t t = 0;
  CHECK(l1k_parse_bytes("141GiB", &b, "x", NULL) == 0 && b == 141ull << 30);
  CHECK(l1k_parse_bytes("80 GB", &b, "x", NULL) == 0 && b == 80000000000ull);
  CHECK(l1k_parse_bytes("143771MiB", &b, "x", NULL) == 0 && b == 143771ull << 20);
  CHECK(l1k_parse_bytes("0.5GiB", &b, "x", NULL) == 0 && b == 1ull << 29);
  CHECK(l1k_parse_bytes("4096", &b, "x", NULL) == 0 && b == 4096);
  l1k_err err = {0};
  CHECK(l1k_parse_bytes("12G", &b, "--gpu-mem", &err) == L1K_EINPUT && strstr(err.msg, "--gpu-mem: '12G'"));
  CHECK(l1k_parse_bytes("-1GiB", &b, "x", NULL) == L1K_EINPUT);
  CHECK(l1k_parse_bytes("GiB", &b, "x", NULL) == L1K_EINPUT);
  CHECK(l1k_parse_bytes("1e30", &b, "x", NULL) == L1K_EINPUT);
  CHECK(l1k_parse_tokens("32k", &t, "x", NULL) == 0 && t == 32768);
  CHECK(l1k_parse_tokens("1M", &t, "x", NULL) == 0 && t == 1048576);
  CHECK(l1k_parse_tokens("32768", &t, "x", NULL) == 0 && t == 32768);
  CHECK(l1k_parse_tokens("0", &t, "--seq", &err) == L1K_EINPUT && strstr(err.msg, "--seq"));
  CHECK(l1k_parse_tokens("1.5", &t, "x", NULL) == L1K_EINPUT);
  CHECK(l1k_parse_tokens("32kb", &t, "x", NULL) == L1K_EINPUT);
}

int main(void) {
  check_tiny_bf16();
  check_tiny_f32_offload_zero();
  check_qk_norm();
  check_adapter();
  check_zero_paper();
  check_real_config();
  check_monotone_and_search();
  check_error_line();
  check_parsers();
  CHECK_DONE();
}
