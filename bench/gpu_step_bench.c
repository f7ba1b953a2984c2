/* long1k — one training step of a real model shape on the CUDA backend (issue 13's third
 * benchmark): bf16 mode, per-layer recomputation (gradient_checkpointing), one sequence of T
 * tokens (a quarter of them prompt: labels -100, as the peer), random weights. Per T, after one
 * warm-up step, the median of the timed steps of
 *   - forward + backward (l1k_model_forward_backward), and separately
 *   - clipping + AdamW over all parameters (l1k_model_step),
 * tokens/s, the FLOPs of ../shared/bench/hf_sft_reference.py (6 x matmul parameters + 6 x
 * layers x hidden x T per token), and MFU: those FLOPs per second over the bf16 matrix rate
 * measured in the same run (an n^3 cublasGemmEx product, bf16 in, float32 accumulation; n =
 * 8192), for forward + backward and for the whole step (the peer's step includes AdamW). The
 * device memory: cudaMemGetInfo after the steps less before the attach (the backend allocates
 * nothing during a step, so this is its peak), and the activation arena alone.
 *
 *   gpu_step_bench [SHAPE [T ...]]    SHAPE 1.5b (Qwen2.5-1.5B, default) | tiny (the emulation's
 *                                     smoke test); T 16384. One JSON line per T.
 * Environment: LONG1K_ATTN (the attention; the benchmark sets flash_bf16 when unset),
 * GPU_STEP_MATMUL_N (the rate's n; 8192), GPU_STEP_STEPS (timed steps; 3), GPU_STEP_OFFLOAD=1
 * (optim_offload: AdamW on the host, and in this bf16 mode no float32 parameters on the device:
 * src/backend/cuda/hostmaster.h; the JSON gets "offload":true and the device bytes).
 * Peer: bench/step_peer.py (hf_sft_reference.py's model step, same shape and T). */
#include <cublas_v2.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "backend/cuda/cuda_internal.h"
#include "gpu_bench_common.h"
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
  if (!strcmp(name, "1.5b")) { /* Qwen2.5-1.5B (hf_sft_reference.py's qwen2.5-1.5b) */
    c->vocab_size = 151936, c->hidden_size = 1536, c->intermediate_size = 8960;
    c->num_hidden_layers = 28, c->num_attention_heads = 12, c->num_key_value_heads = 2;
    c->head_dim = 128, c->tie_word_embeddings = 1;
  } else if (!strcmp(name, "tiny")) {
    c->vocab_size = 512, c->hidden_size = 64, c->intermediate_size = 128;
    c->num_hidden_layers = 3, c->num_attention_heads = 4, c->num_key_value_heads = 2;
    c->head_dim = 16, c->tie_word_embeddings = 1;
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
  fflush(stdout);
}

/* TFLOP/s of an n^3 bf16 product (bf16 in, float32 accumulation and out), best of 10. */
static double matmul_rate(int n) {
  cublasHandle_t h;
  if (cublasCreate(&h) != CUBLAS_STATUS_SUCCESS) return -1;
  size_t nn = (size_t)n * n;
  uint16_t *hb = malloc(nn * 2);
  void *A = gb_alloc(nn * 2), *B = gb_alloc(nn * 2), *C = gb_alloc(nn * 4);
  if (!hb) exit(1);
  uint64_t x = 88172645463325252ull;
  for (size_t i = 0; i < nn; i++) { /* random bf16 in [-1, 1) (zeros can run faster) */
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    float f = 2.0f * (float)((double)(x >> 11) / 9007199254740992.0) - 1.0f;
    uint32_t u;
    memcpy(&u, &f, 4);
    hb[i] = (uint16_t)(u >> 16);
  }
  GB_CHECK(cudaMemcpy(A, hb, nn * 2, cudaMemcpyHostToDevice));
  GB_CHECK(cudaMemcpy(B, hb, nn * 2, cudaMemcpyHostToDevice));
  free(hb);
  const float one = 1.0f, zero = 0.0f;
  cudaEvent_t e0, e1;
  GB_CHECK(cudaEventCreate(&e0));
  GB_CHECK(cudaEventCreate(&e1));
  double best = 0;
  for (int r = -2; r < 10; r++) {
    GB_CHECK(cudaEventRecord(e0, 0));
    cublasStatus_t st = cublasGemmEx(h, CUBLAS_OP_N, CUBLAS_OP_N, n, n, n, &one, A, CUDA_R_16BF, n, B,
                                     CUDA_R_16BF, n, &zero, C, CUDA_R_32F, n, CUBLAS_COMPUTE_32F,
                                     CUBLAS_GEMM_DEFAULT);
    GB_CHECK(cudaEventRecord(e1, 0));
    if (st != CUBLAS_STATUS_SUCCESS) {
      best = -1;
      break;
    }
    double ms = gb_ms(e0, e1), tf = 2.0 * n * (double)n * n / (ms > 0 ? ms : 1e-9) / 1e9;
    if (r >= 0 && tf > best) best = tf;
  }
  cudaEventDestroy(e0), cudaEventDestroy(e1);
  cudaFree(A), cudaFree(B), cudaFree(C);
  cublasDestroy(h);
  return best;
}

static int cmp_d(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static void one_T(l1k_model *m, const char *shape, int T, size_t used0, double rate) {
  char bench[64];
  snprintf(bench, sizeof bench, "step-%s-T%d", shape, T);
  const l1k_model_config *c = l1k_model_cfg(m);
  l1k_err err = {0};
  int V = c->vocab_size, steps = getenv("GPU_STEP_STEPS") ? atoi(getenv("GPU_STEP_STEPS")) : 3;
  if (steps < 1) steps = 1;
  if (steps > 16) steps = 16;
  int32_t *ids = malloc((size_t)T * sizeof *ids), *labels = malloc((size_t)T * sizeof *labels);
  if (!ids || !labels) exit(1);
  for (int i = 0; i < T; i++) {
    ids[i] = (int32_t)(((uint64_t)i * 2654435761u + 7) % (uint64_t)V);
    labels[i] = i < T / 4 ? -100 : ids[i]; /* the peer masks the first quarter */
  }
  l1k_batch b = {1, T, ids, labels, NULL, NULL};
  int64_t targets = l1k_batch_count_targets(&b, &err);
  size_t n = l1k_model_num_params(m);
  double fb[16], st[16], loss = 0;
  int rc = l1k_model_reserve(m, 1, T, &err);
  for (int s = 0; s <= steps && !rc; s++) { /* step 0: warm-up (cuBLASLt's heuristics, caches) */
    double ls = 0, gn = 0, t0 = now_s();
    int64_t nt = 0;
    l1k_model_zero_grads(m);
    rc = l1k_model_forward_backward(m, &b, 1.0 / (double)targets, &ls, &nt, &err); /* synchronizes */
    double t1 = now_s();
    if (!rc) rc = l1k_model_step(m, 1e-5, 1.0, 0, n, &gn, &err); /* synchronizes */
    double t2 = now_s();
    if (s) fb[s - 1] = t1 - t0, st[s - 1] = t2 - t1;
    loss = nt ? ls / (double)nt : 0;
  }
  size_t fr = 0, tot = 0;
  cudaMemGetInfo(&fr, &tot);
  size_t arena = ((cu_state *)m->be_state)->arena_bytes;
  free(ids), free(labels);
  if (rc) {
    fail(bench, err.msg);
    return;
  }
  qsort(fb, (size_t)steps, sizeof fb[0], cmp_d);
  qsort(st, (size_t)steps, sizeof st[0], cmp_d);
  double t_fb = fb[steps / 2], t_opt = st[steps / 2];
  /* hf_sft_reference.py's count: 6 x matmul parameters (the tied lm_head once, the lookup not
   * again) + 6 x layers x hidden x T, per token */
  double n_matmul = (double)n - (c->tie_word_embeddings ? 0.0 : (double)V * c->hidden_size);
  double fpt = 6.0 * n_matmul + 6.0 * c->num_hidden_layers * (double)c->hidden_size * T;
  double tf_fb = fpt * T / t_fb / 1e12, tf_step = fpt * T / (t_fb + t_opt) / 1e12;
  const char *attn = getenv("LONG1K_ATTN");
  const char *off = getenv("GPU_STEP_OFFLOAD");
  printf("{\"bench\":\"%s\",\"impl\":\"long1k-bf16\",\"T\":%d,\"recompute\":true,\"offload\":%s,"
         "\"attn\":\"%s\","
         "\"fwd_bwd_ms\":%.1f,\"adamw_ms\":%.1f,\"step_ms\":%.1f,\"tokens_per_s\":%.0f,"
         "\"tflops_fwd_bwd\":%.4g,\"tflops_step\":%.4g,\"matmul_tflops\":%.4g,\"mfu_fwd_bwd\":%.4g,"
         "\"mfu_step\":%.4g,\"device_gib\":%.4g,\"arena_gib\":%.4g,\"loss\":%.4f}\n",
         bench, T, off && !strcmp(off, "1") ? "true" : "false", attn ? attn : "", 1e3 * t_fb, 1e3 * t_opt, 1e3 * (t_fb + t_opt),
         T / (t_fb + t_opt), tf_fb, tf_step, rate, rate > 0 ? tf_fb / rate : 0,
         rate > 0 ? tf_step / rate : 0, (double)((tot - fr) - used0) / 1073741824.0,
         (double)arena / 1073741824.0, loss);
  fflush(stdout);
}

int main(int argc, char **argv) {
  const char *shape = argc > 1 ? argv[1] : "1.5b";
  (void)gb_rand;
  if (!gb_have_device("step")) return 0;
  l1k_model_config c;
  if (shape_of(shape, &c)) {
    fprintf(stderr, "usage: gpu_step_bench [1.5b|tiny [T ...]]\n");
    return 2;
  }
  if (!getenv("LONG1K_ATTN")) setenv("LONG1K_ATTN", "flash_bf16", 1);
  int mn = getenv("GPU_STEP_MATMUL_N") ? atoi(getenv("GPU_STEP_MATMUL_N")) : 8192;
  double rate = matmul_rate(mn > 0 ? mn : 8192);
  printf("{\"bench\":\"step-matmul\",\"impl\":\"cublas-bf16\",\"n\":%d,\"tflops\":%.4g}\n", mn, rate);
  fflush(stdout);
  l1k_err err = {0};
  l1k_model *m = l1k_model_create(&c, &err);
  if (!m) {
    fail("step", err.msg);
    return 0;
  }
  fill(m);
  size_t fr = 0, tot = 0;
  GB_CHECK(cudaMemGetInfo(&fr, &tot));
  l1k_device_opts d = {L1K_DEVICE_PREC_BF16, 1, 1 /* recompute */, 0, "device", 0};
  int rc = l1k_model_attach(m, "cuda", &d, &err);
  size_t n = l1k_model_num_params(m);
  const char *off = getenv("GPU_STEP_OFFLOAD");
  if (!rc && off && !strcmp(off, "1")) rc = l1k_model_optim_offload(m, 1, &err);
  if (!rc) rc = l1k_model_optim_init(m, 0.9, 0.999, 1e-8, 0.0, 0, n, &err);
  if (rc) {
    fail("step", err.msg);
    l1k_model_free(m);
    return 0;
  }
  for (int i = 2; i < argc || i == 2; i++) one_T(m, shape, argc > i ? atoi(argv[i]) : 16384, tot - fr, rate);
  l1k_model_free(m);
  return 0;
}
