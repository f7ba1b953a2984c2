/* long1k — attention forward / backward throughput of the CUDA backend's kernels, causal, one
 * document per row, B = 1, H = 28 query heads over 4 kv heads (GQA 7:1), head_dim 128, at the
 * sequence lengths given (default 4096 16384 32768):
 *   long1k-f32         the float32 kernels (kernels.cu: the simple tiled online softmax)
 *   long1k-flash-bf16  the tensor-core flash attention (flash_bf16.cu), bf16 q, k, v, o, dO
 *
 *   gpu_attention_bench [--impl f32|flash_bf16|all] [T ...]   one JSON line per impl and T
 *   gpu_attention_bench --check T                             flash_bf16 against the float32
 *        kernels on the same bf16-rounded inputs at this T (5 documents per row, GQA 7:1,
 *        head_dim 128): one JSON line of relative errors; exit 1 beyond test_cuda_flash's
 *        bounds (o 5e-3, lse 1e-5, dq / dk / dv 1e-2)
 *
 * FLOPs as FlashAttention's benchmarks count them (causal: half of 4 B H T^2 hd forward,
 * 2.5x that backward), the same formula as the peer, bench/gpu_peers.py attention. The
 * default impl is f32 (what scripts/gpu-check.sh's core step runs); the flash part
 * (scripts/gpu-check.d/flash.sh) runs flash_bf16. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "backend/cuda/flash_bf16.h"
#include "backend/cuda/kernels.h"
#include "gpu_bench_common.h"

enum { H = 28, KVH = 4, HD = 128 };

typedef struct att_bufs {
  size_t N, QD, KD;
  float *q, *k, *v, *dout, *o, *lse, *dsum, *dq, *dk, *dv;
  uint16_t *qb, *kb, *vb, *dob, *ob; /* bf16 copies (flash) */
  int32_t *seg, *se;
} att_bufs;

static uint16_t *to_bf16_dev(const float *x, size_t n) {
  uint16_t *d = gb_alloc(n * sizeof *d);
  int rc = l1kcu_to_bf16(d, x, n);
  if (rc) {
    fprintf(stderr, "to_bf16: %s\n", l1kcu_error_string(rc));
    exit(1);
  }
  return d;
}

/* inputs in [-1, 1); ndocs documents of (nearly) equal length per row */
static void bufs_make(att_bufs *a, int T, int ndocs) {
  size_t N = a->N = (size_t)T, QD = a->QD = (size_t)H * HD, KD = a->KD = (size_t)KVH * HD;
  a->q = gb_rand(N * QD, -1, 1, 1), a->k = gb_rand(N * KD, -1, 1, 2), a->v = gb_rand(N * KD, -1, 1, 3);
  a->dout = gb_rand(N * QD, -1, 1, 4);
  a->qb = to_bf16_dev(a->q, N * QD), a->kb = to_bf16_dev(a->k, N * KD);
  a->vb = to_bf16_dev(a->v, N * KD), a->dob = to_bf16_dev(a->dout, N * QD);
  a->ob = gb_alloc(N * QD * 2);
  a->o = gb_alloc(N * QD * 4), a->lse = gb_alloc(N * H * 4), a->dsum = gb_alloc(N * H * 4);
  a->dq = gb_alloc(N * QD * 4), a->dk = gb_alloc(N * KD * 4), a->dv = gb_alloc(N * KD * 4);
  a->seg = gb_alloc(N * 4), a->se = gb_alloc(N * 4);
  int32_t *hs = malloc(N * 4), *he = malloc(N * 4);
  if (!hs || !he) exit(1);
  int len = (T + ndocs - 1) / ndocs;
  for (size_t i = 0; i < N; i++) {
    int d0 = (int)(i / len) * len, d1 = d0 + len < T ? d0 + len : T;
    hs[i] = d0, he[i] = d1;
  }
  GB_CHECK(cudaMemcpy(a->seg, hs, N * 4, cudaMemcpyHostToDevice));
  GB_CHECK(cudaMemcpy(a->se, he, N * 4, cudaMemcpyHostToDevice));
  free(hs), free(he);
}

static void bufs_free(att_bufs *a) {
  void *p[] = {a->q, a->k, a->v, a->dout, a->o, a->lse, a->dsum, a->dq, a->dk, a->dv,
               a->qb, a->kb, a->vb, a->dob, a->ob, a->seg, a->se};
  for (size_t i = 0; i < sizeof p / sizeof p[0]; i++) cudaFree(p[i]);
}

static int run_fw(att_bufs *a, int flash, int T) {
  if (flash) return l1kcu_flash_bf16_fw(a->ob, a->lse, a->qb, a->kb, a->vb, a->seg, 1, T, H, KVH, HD);
  return l1kcu_attention_fw(a->o, a->lse, a->q, a->k, a->v, a->seg, 1, T, H, KVH, HD);
}
static int run_bw(att_bufs *a, int flash, int T) {
  if (flash)
    return l1kcu_flash_bf16_bw(a->dq, a->dk, a->dv, a->dsum, a->dob, a->ob, a->lse, a->qb, a->kb,
                               a->vb, a->seg, a->se, 1, T, H, KVH, HD);
  return l1kcu_attention_bw(a->dq, a->dk, a->dv, a->dsum, a->dout, a->o, a->lse, a->q, a->k, a->v,
                            a->seg, a->se, 1, T, H, KVH, HD);
}

static void run(int T, int flash) {
  const char *impl = flash ? "long1k-flash-bf16" : "long1k-f32";
  att_bufs a;
  bufs_make(&a, T, 1);
  cudaEvent_t e0, e1, e2;
  GB_CHECK(cudaEventCreate(&e0));
  GB_CHECK(cudaEventCreate(&e1));
  GB_CHECK(cudaEventCreate(&e2));
  int reps = flash ? (T <= 4096 ? 10 : 3) : (T <= 4096 ? 3 : 1);
  double fw_ms = 0, bw_ms = 0;
  for (int r = -1; r < reps; r++) { /* r = -1: warm-up */
    GB_CHECK(cudaEventRecord(e0, 0));
    int rc = run_fw(&a, flash, T);
    GB_CHECK(cudaEventRecord(e1, 0));
    if (!rc) rc = run_bw(&a, flash, T);
    GB_CHECK(cudaEventRecord(e2, 0));
    if (rc || (rc = (int)cudaDeviceSynchronize())) {
      printf("{\"bench\":\"attention\",\"impl\":\"%s\",\"T\":%d,\"status\":\"%s\"}\n", impl, T,
             l1kcu_error_string(rc));
      bufs_free(&a);
      return;
    }
    if (r >= 0) fw_ms += gb_ms(e0, e1) / reps, bw_ms += gb_ms(e1, e2) / reps;
  }
  double fw_flop = 4.0 * H * (double)T * T * HD / 2, bw_flop = 2.5 * fw_flop;
  const char *rows = getenv("LONG1K_FLASH_FW_ROWS"); /* flash's forward block (flash_bf16.cu) */
  printf("{\"bench\":\"attention\",\"impl\":\"%s\",\"T\":%d,\"H\":%d,\"KVH\":%d,\"hd\":%d,"
         "\"fw_ms\":%.3f,\"bw_ms\":%.3f,\"fw_tflops\":%.2f,\"bw_tflops\":%.2f%s%s%s}\n",
         impl, T, H, KVH, HD, fw_ms, bw_ms, fw_flop / fw_ms / 1e9, bw_flop / bw_ms / 1e9,
         flash ? ",\"fw_rows\":\"" : "", flash ? (rows ? rows : "default") : "", flash ? "\"" : "");
  fflush(stdout);
  cudaEventDestroy(e0), cudaEventDestroy(e1), cudaEventDestroy(e2);
  bufs_free(&a);
}

/* ||x - ref|| / ||ref|| of two device arrays of n values (bf16 when xb) */
static double rel_dev(const void *x, int xb, const float *ref, size_t n) {
  float *h = malloc(n * 4), *r = malloc(n * 4);
  uint16_t *hb = xb ? malloc(n * 2) : NULL;
  if (!h || !r || (xb && !hb)) exit(1);
  if (xb) {
    GB_CHECK(cudaMemcpy(hb, x, n * 2, cudaMemcpyDeviceToHost));
    for (size_t i = 0; i < n; i++) {
      uint32_t u = (uint32_t)hb[i] << 16;
      memcpy(&h[i], &u, 4);
    }
  } else {
    GB_CHECK(cudaMemcpy(h, x, n * 4, cudaMemcpyDeviceToHost));
  }
  GB_CHECK(cudaMemcpy(r, ref, n * 4, cudaMemcpyDeviceToHost));
  double d = 0, s = 0;
  for (size_t i = 0; i < n; i++) d += ((double)h[i] - r[i]) * ((double)h[i] - r[i]), s += (double)r[i] * r[i];
  free(h), free(r), free(hb);
  return d == d && s > 0 ? sqrt(d / s) : INFINITY;
}

static float *dev_copy_f(const float *d, size_t n) {
  float *c = gb_alloc(n * 4);
  GB_CHECK(cudaMemcpy(c, d, n * 4, cudaMemcpyDeviceToDevice));
  return c;
}

/* flash_bf16 against the float32 kernels given the same bf16-rounded inputs */
static int check(int T) {
  att_bufs a;
  bufs_make(&a, T, 5);
  size_t N = a.N, QD = a.QD, KD = a.KD;
  int rc = 0;
  /* the float32 kernels read the rounded values */
  if (!rc) rc = l1kcu_bf16_to_f32(a.q, a.qb, N * QD);
  if (!rc) rc = l1kcu_bf16_to_f32(a.k, a.kb, N * KD);
  if (!rc) rc = l1kcu_bf16_to_f32(a.v, a.vb, N * KD);
  if (!rc) rc = l1kcu_bf16_to_f32(a.dout, a.dob, N * QD);
  if (!rc) rc = run_fw(&a, 0, T);
  if (!rc) rc = run_bw(&a, 0, T);
  if (!rc) rc = (int)cudaDeviceSynchronize();
  if (rc) {
    printf("{\"bench\":\"attention-check\",\"impl\":\"long1k-f32\",\"T\":%d,\"status\":\"%s\"}\n", T,
           l1kcu_error_string(rc));
    return 1;
  }
  float *ro = dev_copy_f(a.o, N * QD), *rl = dev_copy_f(a.lse, N * H), *rq = dev_copy_f(a.dq, N * QD);
  float *rk = dev_copy_f(a.dk, N * KD), *rv = dev_copy_f(a.dv, N * KD);
  GB_CHECK(cudaMemset(a.lse, 0xFF, N * H * 4));
  GB_CHECK(cudaMemset(a.dq, 0xFF, N * QD * 4));
  GB_CHECK(cudaMemset(a.dk, 0xFF, N * KD * 4));
  GB_CHECK(cudaMemset(a.dv, 0xFF, N * KD * 4));
  rc = run_fw(&a, 1, T);
  if (!rc) rc = run_bw(&a, 1, T);
  if (!rc) rc = (int)cudaDeviceSynchronize();
  if (rc) {
    printf("{\"bench\":\"attention-check\",\"impl\":\"long1k-flash-bf16\",\"T\":%d,\"status\":\"%s\"}\n",
           T, l1kcu_error_string(rc));
    return 1;
  }
  double eo = rel_dev(a.ob, 1, ro, N * QD), el = rel_dev(a.lse, 0, rl, N * H);
  double eq = rel_dev(a.dq, 0, rq, N * QD), ek = rel_dev(a.dk, 0, rk, N * KD);
  double ev = rel_dev(a.dv, 0, rv, N * KD);
  int ok = eo < 5e-3 && el < 1e-5 && eq < 1e-2 && ek < 1e-2 && ev < 1e-2;
  printf("{\"bench\":\"attention-check\",\"impl\":\"long1k-flash-bf16\",\"T\":%d,\"docs\":5,"
         "\"o_rel\":%.3g,\"lse_rel\":%.3g,\"dq_rel\":%.3g,\"dk_rel\":%.3g,\"dv_rel\":%.3g,"
         "\"status\":\"%s\"}\n",
         T, eo, el, eq, ek, ev, ok ? "ok" : "beyond bounds (o 5e-3, lse 1e-5, grads 1e-2)");
  cudaFree(ro), cudaFree(rl), cudaFree(rq), cudaFree(rk), cudaFree(rv);
  bufs_free(&a);
  return !ok;
}

int main(int argc, char **argv) {
  if (!gb_have_device("attention")) return 0;
  if (argc == 3 && !strcmp(argv[1], "--check")) return check(atoi(argv[2]));
  int f32 = 1, flash = 0, i = 1;
  if (argc > 2 && !strcmp(argv[1], "--impl")) {
    f32 = !strcmp(argv[2], "f32") || !strcmp(argv[2], "all");
    flash = !strcmp(argv[2], "flash_bf16") || !strcmp(argv[2], "all");
    if (!f32 && !flash) {
      fprintf(stderr, "gpu_attention_bench: --impl %s: expected f32, flash_bf16 or all\n", argv[2]);
      return 2;
    }
    i = 3;
  }
  int Ts[16], n = 0;
  for (; i < argc && n < 16; i++) Ts[n++] = atoi(argv[i]);
  if (!n) Ts[0] = 4096, Ts[1] = 16384, Ts[2] = 32768, n = 3;
  for (int j = 0; j < n; j++) {
    if (f32) run(Ts[j], 0);
    if (flash) run(Ts[j], 1);
  }
  return 0;
}
