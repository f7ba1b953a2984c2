/* Generation on the CUDA backend (issue 15): the paged KV cache's kernels against the CPU
 * engine's attention (l1k_gen_attend) on random inputs, then whole generation through the
 * backend's decode entries against the CPU engine on every golden model.
 *
 *  1. kernels: K / V rows written into a paged cache whose block tables are shuffled (ragged
 *     lengths 1 .. 4100 across block and split boundaries; GQA 7:1, 6:1, 2:1, 1:1, 8:1; head_dim 16,
 *     32, 64, 128; block sizes 16 and 5), then the decode attention of every sequence's last
 *     position and of a few inner positions, against l1k_gen_attend on the same K / V (in the
 *     bf16 cache: on the bf16-rounded values); a row alone gives the same bits as in the batch;
 *     a copied sequence attends to the same bits.
 *  2. golden models (../shared/golden), float32 mode: greedy tokens of several prompts (batch
 *     3, continuous batching, an identical prompt copied) IDENTICAL to the CPU engine, and the
 *     prompt logits within 1e-5; the same with prefill passes of 8 rows (long prompts in pieces
 *     through the paged cache); sampling gives the same tokens at batch 1 and batch 6 (the
 *     latter sampled on all host threads).
 *  3. bf16 mode: the first 16 greedy tokens agree with the CPU engine's (float32).
 *  4. a small pool (room for about two sequences): waiting and refilling, the peak within the
 *     pool, the same tokens as the CPU; a prompt the pool can never hold: one line, ENOMEM.
 * Without the CUDA backend or a device: one "SKIP:" line, exit 77. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "long1k/generate.h"
#include "long1k/io.h"
#include "long1k/model.h"
#include "long1k/safetensors.h"

#ifdef LONG1K_HAVE_CUDA
#include <cuda_runtime_api.h>

#include "backend/cuda/gen.h"
#include "backend/cuda/kernels.h"
#include "backend/ops.h"
#include "model/generate_internal.h"

static const char *const MODELS[] = {"llama_tiny", "qwen2_tiny", "qwen3_tiny"};

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static double urand(void) { /* [-1, 1) */
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 7;
  rng_state ^= rng_state << 17;
  return (double)(rng_state >> 11) / (double)(1ull << 52) - 1.0;
}

static float bf16_round(float x) {
  uint32_t u;
  memcpy(&u, &x, 4);
  u += 0x7fff + ((u >> 16) & 1);
  u &= 0xffff0000u;
  memcpy(&x, &u, 4);
  return x;
}

static double bf16_val(uint16_t u) {
  uint32_t w = (uint32_t)u << 16;
  float f;
  memcpy(&f, &w, 4);
  return f;
}

static void *dev(size_t bytes) {
  void *p = NULL;
  if (cudaMalloc(&p, bytes ? bytes : 16) != cudaSuccess) {
    fprintf(stderr, "cudaMalloc failed\n");
    exit(1);
  }
  return p;
}
static void up(void *d, const void *h, size_t b) { cudaMemcpy(d, h, b, cudaMemcpyHostToDevice); }
static void down(void *h, const void *d, size_t b) { cudaMemcpy(h, d, b, cudaMemcpyDeviceToHost); }

/* ---------------------------------------------------------------- 1. kernels */

typedef struct shape {
  int H, KVH, hd, bs, bf16;
  int nseq;
  int len[6];
} shape;

static void kernel_case(const shape *sh) {
  int H = sh->H, KVH = sh->KVH, hd = sh->hd, bs = sh->bs, ns = sh->nseq, grp = H / KVH;
  int QD = H * hd, KD = KVH * hd, maxlen = 0, total = 0;
  for (int s = 0; s < ns; s++) {
    total += sh->len[s];
    if (sh->len[s] > maxlen) maxlen = sh->len[s];
  }
  int mbps = (maxlen + bs - 1) / bs + 1;
  int nblocks = ns * mbps + 3;
  /* shuffled block tables */
  int32_t *table = calloc((size_t)ns * mbps, sizeof(int32_t));
  int *perm = malloc(nblocks * sizeof(int));
  for (int i = 0; i < nblocks; i++) perm[i] = i;
  for (int i = nblocks - 1; i > 0; i--) {
    int j = (int)((urand() + 1.0) * 0.5 * (i + 1)) % (i + 1);
    int t = perm[i];
    perm[i] = perm[j];
    perm[j] = t;
  }
  for (int i = 0; i < ns * mbps; i++) table[i] = perm[i];
  /* every position's K / V rows (the host keeps them, rounded when the cache is bf16) */
  float *k = malloc((size_t)total * KD * sizeof(float)), *v = malloc((size_t)total * KD * sizeof(float));
  int32_t *rseq = malloc(total * sizeof(int32_t)), *rpos = malloc(total * sizeof(int32_t));
  int *first = malloc(ns * sizeof(int));
  for (int s = 0, r = 0; s < ns; s++) {
    first[s] = r;
    for (int p = 0; p < sh->len[s]; p++, r++) {
      rseq[r] = s;
      rpos[r] = p;
    }
  }
  for (size_t i = 0; i < (size_t)total * KD; i++) {
    k[i] = (float)urand();
    v[i] = (float)urand();
  }
  size_t layer_elems = (size_t)nblocks * KVH * bs * hd, el = sh->bf16 ? 2 : 4;
  void *kc = dev(layer_elems * el), *vc = dev(layer_elems * el);
  float *dk = dev((size_t)total * KD * 4), *dv = dev((size_t)total * KD * 4);
  int32_t *dtab = dev((size_t)ns * mbps * 4), *dseq = dev(total * 4), *dpos = dev(total * 4);
  up(dk, k, (size_t)total * KD * 4);
  up(dv, v, (size_t)total * KD * 4);
  up(dtab, table, (size_t)ns * mbps * 4);
  up(dseq, rseq, total * 4);
  up(dpos, rpos, total * 4);
  CHECK(l1kcu_kvcache_write(kc, vc, sh->bf16, dk, dv, dseq, dpos, dtab, mbps, total, KVH, hd, bs) == 0);
  if (sh->bf16)
    for (size_t i = 0; i < (size_t)total * KD; i++) {
      k[i] = bf16_round(k[i]);
      v[i] = bf16_round(v[i]);
    }
  /* queries: each sequence's last position and, for the longer ones, an inner one */
  int nq = 0;
  int32_t qseq[12], qpos[12];
  for (int s = 0; s < ns; s++) {
    qseq[nq] = s;
    qpos[nq++] = sh->len[s] - 1;
    if (sh->len[s] > 40) {
      qseq[nq] = s;
      qpos[nq++] = sh->len[s] / 2 + 3;
    }
  }
  float *q = malloc((size_t)nq * QD * sizeof(float));
  for (size_t i = 0; i < (size_t)nq * QD; i++) q[i] = (float)urand() * 2.0f;
  int nsplit = (maxlen + L1KCU_GEN_SPLIT - 1) / L1KCU_GEN_SPLIT;
  float *dq = dev((size_t)nq * QD * 4), *dout = dev((size_t)nq * QD * 4);
  float *part = dev((size_t)nq * H * nsplit * (hd + 2) * 4);
  int32_t *dqs = dev(nq * 4), *dqp = dev(nq * 4);
  up(dq, q, (size_t)nq * QD * 4);
  up(dqs, qseq, nq * 4);
  up(dqp, qpos, nq * 4);
  float *out = malloc((size_t)nq * QD * sizeof(float));
  for (size_t i = 0; i < (size_t)nq * QD; i++) out[i] = NAN;
  up(dout, out, (size_t)nq * QD * 4);
  CHECK(l1kcu_paged_attention(dout, NULL, part, dq, kc, vc, sh->bf16, dqs, dqp, dtab, mbps, nq, nsplit, H, KVH,
                              hd, bs) == 0);
  down(out, dout, (size_t)nq * QD * 4);
  /* the CPU engine's attention over contiguous K / V of the sequence */
  float *Kh = malloc((size_t)maxlen * hd * 4), *Vh = malloc((size_t)maxlen * hd * 4);
  float *sc = malloc((size_t)grp * maxlen * 4), *ref = malloc((size_t)grp * hd * 4);
  double worst = 0;
  for (int r = 0; r < nq; r++) {
    int s = qseq[r], npos = qpos[r] + 1;
    for (int g = 0; g < KVH; g++) {
      for (int p = 0; p < npos; p++) {
        memcpy(Kh + (size_t)p * hd, k + ((size_t)(first[s] + p) * KD + (size_t)g * hd), hd * 4);
        memcpy(Vh + (size_t)p * hd, v + ((size_t)(first[s] + p) * KD + (size_t)g * hd), hd * 4);
      }
      const float *qq = q + (size_t)r * QD + (size_t)g * grp * hd;
      l1k_gen_attend(0, qq, Kh, Vh, npos, hd, grp, 1.0f / sqrtf((float)hd), sc, ref);
      const float *o = out + (size_t)r * QD + (size_t)g * grp * hd;
      double num = 0, den = 0;
      for (int i = 0; i < grp * hd; i++) {
        double d = (double)o[i] - ref[i];
        num += d * d;
        den += (double)ref[i] * ref[i];
        if (o[i] != o[i]) num = INFINITY;
      }
      double e = sqrt(num / (den > 0 ? den : 1));
      if (e > worst || e != e) worst = e != e ? INFINITY : e;
    }
  }
  CHECK_MSG(worst < 1e-5, "paged attention H %d KVH %d hd %d bs %d bf16 %d: rel err %.3g", H, KVH, hd, bs,
            sh->bf16, worst);
  /* the merge's bf16 output (the bf16 mode's o_proj operand) = the float output rounded */
  {
    uint16_t *d16 = dev((size_t)nq * QD * 2), *h16 = malloc((size_t)nq * QD * 2);
    CHECK(l1kcu_paged_attention(dout, d16, part, dq, kc, vc, sh->bf16, dqs, dqp, dtab, mbps, nq, nsplit, H, KVH,
                                hd, bs) == 0);
    down(h16, d16, (size_t)nq * QD * 2);
    int eq = 1;
    for (size_t i = 0; i < (size_t)nq * QD; i++) eq &= bf16_val(h16[i]) == (double)bf16_round(out[i]);
    CHECK_MSG(eq, "paged attention: the bf16 output is not the float output rounded");
    cudaFree(d16);
    free(h16);
  }
  /* one row alone: the same bits as in the batch (the last query) */
  float *alone = malloc((size_t)QD * 4);
  CHECK(l1kcu_paged_attention(dout, NULL, part, dq + (size_t)(nq - 1) * QD, kc, vc, sh->bf16, dqs + nq - 1,
                              dqp + nq - 1, dtab, mbps, 1, nsplit, H, KVH, hd, bs) == 0);
  down(alone, dout, (size_t)QD * 4);
  CHECK_MSG(!memcmp(alone, out + (size_t)(nq - 1) * QD, (size_t)QD * 4), "a row alone differs from the batch");
  /* copy sequence 0 into a fresh table row (the spare blocks and seq 0's), attend again */
  if (ns >= 2 && sh->len[0] <= 3 * bs) {
    int32_t *t2 = malloc((size_t)ns * mbps * 4);
    memcpy(t2, table, (size_t)ns * mbps * 4);
    for (int b = 0; b < 3 && b < mbps; b++) t2[(size_t)1 * mbps + b] = perm[ns * mbps + b];
    up(dtab, t2, (size_t)ns * mbps * 4);
    CHECK(l1kcu_kvcache_copy(kc, vc, sh->bf16, dtab, mbps, 0, 1, sh->len[0], 1, layer_elems, KVH, hd, bs) == 0);
    int32_t one_seq = 1, one_pos = sh->len[0] - 1;
    up(dqs, &one_seq, 4);
    up(dqp, &one_pos, 4);
    CHECK(l1kcu_paged_attention(dout, NULL, part, dq, kc, vc, sh->bf16, dqs, dqp, dtab, mbps, 1, nsplit, H, KVH,
                                hd, bs) == 0);
    down(alone, dout, (size_t)QD * 4);
    CHECK_MSG(!memcmp(alone, out, (size_t)QD * 4), "a copied sequence attends differently");
    free(t2);
  }
  fprintf(stderr, "paged attention H %2d KVH %d hd %3d bs %2d %s lens", H, KVH, hd, bs, sh->bf16 ? "bf16" : "f32 ");
  for (int s = 0; s < ns; s++) fprintf(stderr, " %d", sh->len[s]);
  fprintf(stderr, ": rel err %.2g\n", worst);
  void *frees[] = {kc, vc, dk, dv, dtab, dseq, dpos, dq, dout, part, dqs, dqp};
  for (size_t i = 0; i < sizeof frees / sizeof frees[0]; i++) cudaFree(frees[i]);
  free(table), free(perm), free(k), free(v), free(rseq), free(rpos), free(first), free(q), free(out);
  free(Kh), free(Vh), free(sc), free(ref), free(alone);
}

/* l1kcu_qkv_post against the separate launches it replaces: l1kcu_bias_fw on q, k, v,
 * l1kcu_rope_fw on q and k, l1kcu_kvcache_write; q, k, v and both caches compared bit for bit */
static void qkv_post_case(int H, int KVH, int hd, int bf16) {
  int n = 7, bs = 4, mbps = 8, QD = H * hd, KD = KVH * hd, half = hd / 2;
  int32_t seq[7] = {0, 0, 0, 1, 1, 1, 1}, pos[7] = {0, 1, 2, 5, 9, 13, 30};
  int32_t table[16];
  for (int i = 0; i < 16; i++) table[i] = (i * 5 + 3) % 16;
  size_t le = (size_t)16 * KVH * bs * hd, el = bf16 ? 2 : 4;
  float *hq = malloc((size_t)n * QD * 4), *hk = malloc((size_t)n * KD * 4), *hv = malloc((size_t)n * KD * 4);
  float *hb = malloc((size_t)(QD + 2 * KD) * 4), inv[64];
  for (size_t i = 0; i < (size_t)n * QD; i++) hq[i] = (float)urand();
  for (size_t i = 0; i < (size_t)n * KD; i++) hk[i] = (float)urand(), hv[i] = (float)urand();
  for (int i = 0; i < QD + 2 * KD; i++) hb[i] = (float)urand() * 0.1f;
  for (int i = 0; i < half; i++) inv[i] = powf(10000.0f, -2.0f * i / hd);
  float *q[2], *k[2], *v[2];
  void *kc[2], *vc[2];
  float *b = dev((size_t)(QD + 2 * KD) * 4), *dinv = dev(64 * 4), *cs = dev((size_t)n * half * 4),
        *sn = dev((size_t)n * half * 4);
  int32_t *dseq = dev(n * 4), *dpos = dev(n * 4), *dtab = dev(16 * 4);
  up(b, hb, (size_t)(QD + 2 * KD) * 4), up(dinv, inv, (size_t)half * 4), up(dseq, seq, n * 4);
  up(dpos, pos, n * 4), up(dtab, table, 16 * 4);
  CHECK(l1kcu_rope_table(cs, sn, dpos, n, dinv, half) == 0);
  for (int w = 0; w < 2; w++) {
    q[w] = dev((size_t)n * QD * 4), k[w] = dev((size_t)n * KD * 4), v[w] = dev((size_t)n * KD * 4);
    kc[w] = dev(le * el), vc[w] = dev(le * el);
    cudaMemset(kc[w], 0, le * el), cudaMemset(vc[w], 0, le * el);
    up(q[w], hq, (size_t)n * QD * 4), up(k[w], hk, (size_t)n * KD * 4), up(v[w], hv, (size_t)n * KD * 4);
  }
  CHECK(l1kcu_bias_fw(q[0], b, n, QD) == 0 && l1kcu_bias_fw(k[0], b + QD, n, KD) == 0 &&
        l1kcu_bias_fw(v[0], b + QD + KD, n, KD) == 0);
  CHECK(l1kcu_rope_fw(q[0], n, QD, H, hd, cs, sn) == 0 && l1kcu_rope_fw(k[0], n, KD, KVH, hd, cs, sn) == 0);
  CHECK(l1kcu_kvcache_write(kc[0], vc[0], bf16, k[0], v[0], dseq, dpos, dtab, mbps, n, KVH, hd, bs) == 0);
  CHECK(l1kcu_qkv_post(q[1], k[1], v[1], b, b + QD, b + QD + KD, cs, sn, kc[1], vc[1], bf16, dseq, dpos, dtab, mbps, n,
                       H, KVH, hd, bs) == 0);
  int same = 1;
  double worst = 0;
  void *h0 = malloc(le * el > (size_t)n * QD * 4 ? le * el : (size_t)n * QD * 4);
  void *h1 = malloc(le * el > (size_t)n * QD * 4 ? le * el : (size_t)n * QD * 4);
  struct { void *a, *b; size_t bytes; } cmp[5] = {{q[0], q[1], (size_t)n * QD * 4}, {k[0], k[1], (size_t)n * KD * 4},
                                                  {v[0], v[1], (size_t)n * KD * 4}, {kc[0], kc[1], le * el},
                                                  {vc[0], vc[1], le * el}};
  for (int i = 0; i < 5; i++) {
    down(h0, cmp[i].a, cmp[i].bytes), down(h1, cmp[i].b, cmp[i].bytes);
    same &= !memcmp(h0, h1, cmp[i].bytes);
    int is16 = bf16 && i >= 3;
    for (size_t j = 0; j < cmp[i].bytes / (is16 ? 2 : 4); j++) {
      double x = is16 ? bf16_val(((uint16_t *)h0)[j]) : ((float *)h0)[j];
      double y = is16 ? bf16_val(((uint16_t *)h1)[j]) : ((float *)h1)[j];
      double d = fabs(x - y) / (fabs(x) > 1 ? fabs(x) : 1);
      if (d > worst || d != d) worst = d != d ? INFINITY : d;
    }
  }
  /* (a GPU may contract a * c - b * s into an FMA differently in the two kernels: the bound
   * allows that; the emulation gives the same bits) */
  CHECK_MSG(worst <= (bf16 ? 8e-3 : 1e-6), "qkv_post H %d KVH %d hd %d bf16 %d: %.3g from bias + rope + cache write",
            H, KVH, hd, bf16, worst);
  fprintf(stderr, "qkv_post H %2d KVH %d hd %3d %s: %s the separate bias / RoPE / cache-write launches (%.2g)\n", H,
          KVH, hd, bf16 ? "bf16" : "f32 ", same ? "same bits as" : "within bounds of", worst);
  for (int w = 0; w < 2; w++) cudaFree(q[w]), cudaFree(k[w]), cudaFree(v[w]), cudaFree(kc[w]), cudaFree(vc[w]);
  cudaFree(b), cudaFree(dinv), cudaFree(cs), cudaFree(sn), cudaFree(dseq), cudaFree(dpos), cudaFree(dtab);
  free(hq), free(hk), free(hv), free(hb), free(h0), free(h1);
}

/* l1kcu_argmax_rows against l1k_argmax (the host's greedy choice): rows with ties (the lower id
 * wins), NaNs (never chosen; all NaN: 0), -inf only, the maximum at either end, vocabulary
 * sizes below, at and above the block's 256 threads */
static void argmax_case(int V) {
  enum { ROWS = 9 };
  float *h = malloc((size_t)ROWS * V * sizeof(float));
  for (int r = 0; r < ROWS; r++)
    for (int i = 0; i < V; i++) h[(size_t)r * V + i] = (float)urand() * 4.0f;
  float big = 7.5f;
  h[0 * V + V / 3] = big, h[0 * V + (2 * V) / 3] = big, h[0 * V + V - 1] = big;   /* ties */
  for (int i = 0; i < V; i++) h[1 * V + i] = 1.0f;                                /* all equal */
  for (int i = 0; i < V; i += 2) h[2 * V + i] = NAN;                              /* NaNs */
  for (int i = 0; i < V; i++) h[3 * V + i] = NAN;                                 /* all NaN */
  for (int i = 0; i < V; i++) h[4 * V + i] = -INFINITY;                           /* -inf only */
  h[5 * V + V - 1] = big;                                                         /* at the end */
  h[6 * V + 0] = big;                                                             /* at 0 */
  h[7 * V + 0] = NAN, h[7 * V + V / 2] = big, h[7 * V + V - 1] = big;             /* NaN first */
  h[8 * V + 0] = -0.0f * big;                                                     /* random row */
  float *d = dev((size_t)ROWS * V * sizeof(float));
  int32_t *dt = dev(ROWS * sizeof(int32_t)), got[ROWS];
  up(d, h, (size_t)ROWS * V * sizeof(float));
  CHECK(l1kcu_argmax_rows(dt, d, ROWS, V) == 0);
  down(got, dt, sizeof got);
  int same = 1;
  for (int r = 0; r < ROWS; r++) {
    int32_t want = l1k_argmax(h + (size_t)r * V, V);
    CHECK_MSG(got[r] == want, "argmax V %d row %d: %d (host %d)", V, r, (int)got[r], (int)want);
    same &= got[r] == want;
  }
  fprintf(stderr, "argmax rows V %6d: %d rows (ties, NaNs, -inf) %s l1k_argmax\n", V, ROWS,
          same ? "identical to" : "DIFFER from");
  cudaFree(d), cudaFree(dt);
  free(h);
}

static void test_kernels(void) {
  argmax_case(1);
  argmax_case(200);
  argmax_case(1000);
  argmax_case(151936);
  qkv_post_case(12, 2, 128, 1);
  qkv_post_case(4, 4, 16, 0);
  qkv_post_case(14, 2, 64, 0);
  const shape shapes[] = {
      {14, 2, 64, 16, 0, 4, {1, 16, 257, 700}},
      {4, 4, 32, 16, 0, 3, {17, 255, 256}},
      {8, 1, 128, 5, 0, 3, {3, 64, 300}},
      {4, 2, 16, 16, 0, 2, {2, 33}},
      {14, 2, 64, 16, 1, 3, {5, 100, 513}},
      {12, 2, 128, 16, 1, 2, {31, 260}},
      {12, 2, 128, 16, 1, 1, {4100}}, /* the Qwen2.5-1.5B head shape, 17 splits */
  };
  for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) kernel_case(&shapes[i]);
  /* refused shapes */
  CHECK(l1kcu_paged_attention(NULL, NULL, NULL, NULL, NULL, NULL, 0, NULL, NULL, NULL, 1, 1, 1, 34, 2, 64, 16) != 0);
  cudaGetLastError();
  CHECK(l1kcu_paged_attention(NULL, NULL, NULL, NULL, NULL, NULL, 0, NULL, NULL, NULL, 1, 1, 1, 4, 2, 256, 16) != 0);
  cudaGetLastError();
}

/* ---------------------------------------------------------------- 2-4. golden models */

static l1k_model *load(const char *name, const char *device, l1k_device_precision prec) {
  char dir[512];
  snprintf(dir, sizeof dir, "%s/%s/f32", shared_path("golden/models"), name);
  l1k_err err = {0};
  l1k_model *m = l1k_model_load(dir, &err);
  CHECK_MSG(m != NULL, "%s: %s", dir, err.msg);
  if (!m || !strcmp(device, "cpu")) return m;
  l1k_device_opts o = {.precision = prec, .deterministic = 1};
  int rc = l1k_model_attach(m, device, &o, &err);
  CHECK_MSG(rc == 0, "%s: attach %s: %s", name, device, err.msg);
  if (rc) {
    l1k_model_free(m);
    return NULL;
  }
  return m;
}

enum { NP = 6, NEW = 20 };
static int32_t PIDS[NP][40];
static const int PLEN[NP] = {6, 23, 23, 37, 1, 12};

static void prompts(l1k_gen_prompt *ps) {
  for (int i = 0; i < NP; i++) {
    for (int t = 0; t < PLEN[i]; t++) PIDS[i][t] = (int32_t)((i * 131 + t * 37 + 5) % 509);
    ps[i].ids = PIDS[i];
    ps[i].n = PLEN[i];
  }
  memcpy(PIDS[2], PIDS[1], sizeof PIDS[1]); /* prompt 2 = prompt 1: prefix sharing */
}

static int run(l1k_model *m, int batch, uint64_t budget, const l1k_gen_opts *o, l1k_gen_result *r,
               l1k_gen_cache_info *ci, l1k_err *err) {
  l1k_gen_prompt ps[NP];
  prompts(ps);
  l1k_generator *g = l1k_generator_create_ex(m, batch, 64, budget, err);
  if (!g) return err->code ? err->code : 1;
  int rc = l1k_generate(g, ps, NP, o, r, NULL, NULL, err);
  if (ci) l1k_generator_cache_info(g, ci);
  l1k_generator_free(g);
  return rc;
}

static int same_ids(const l1k_gen_result *a, const l1k_gen_result *b, int upto) {
  int n = a->n_ids < b->n_ids ? a->n_ids : b->n_ids;
  if (upto && n > upto) n = upto;
  if (!upto && a->n_ids != b->n_ids) return 0;
  for (int i = 0; i < n; i++)
    if (a->ids[i] != b->ids[i]) return 0;
  return 1;
}

/* the prompt logits of the device against the CPU engine's */
static double prompt_logits_err(l1k_model *cpu, l1k_model *cu) {
  l1k_err err = {0};
  l1k_gen_prompt ps[NP];
  prompts(ps);
  l1k_generator *a = l1k_generator_create(cpu, 2, 64, &err), *b = l1k_generator_create(cu, 2, 64, &err);
  double worst = INFINITY;
  if (a && b && !l1k_gen_feed(a, 0, ps[3].ids, ps[3].n, NULL, &err)) {
    int slots[1] = {1};
    if (!l1k_gen_feed_many(b, slots, &ps[3], 1, &err)) {
      int V = l1k_generator_vocab(a);
      const float *x = l1k_gen_slot_logits(a, 0), *y = l1k_gen_slot_logits(b, 1);
      double num = 0, den = 0;
      for (int i = 0; i < V; i++) {
        num += ((double)x[i] - y[i]) * ((double)x[i] - y[i]);
        den += (double)x[i] * x[i];
      }
      worst = sqrt(num / den);
    }
  }
  /* every position's logits (l1k_gen_feed with a buffer: one token at a time on the device) */
  if (a && b && worst < INFINITY) {
    int V = l1k_generator_vocab(a), n = ps[0].n;
    float *la = malloc((size_t)n * V * sizeof(float)), *lb = malloc((size_t)n * V * sizeof(float));
    l1k_gen_slot_reset(a, 0);
    l1k_gen_slot_reset(b, 0);
    if (!l1k_gen_feed(a, 0, ps[0].ids, n, la, &err) && !l1k_gen_feed(b, 0, ps[0].ids, n, lb, &err)) {
      double num = 0, den = 0;
      for (size_t i = 0; i < (size_t)n * V; i++) {
        num += ((double)la[i] - lb[i]) * ((double)la[i] - lb[i]);
        den += (double)la[i] * la[i];
      }
      double e = sqrt(num / den);
      CHECK_MSG(e < 1e-5 && l1k_gen_slot_len(b, 0) == n, "every position's logits: rel err %.3g", e);
      if (e > worst) worst = e;
    } else {
      CHECK_MSG(0, "feed with logits: %s", err.msg);
    }
    free(la);
    free(lb);
  }
  if (err.code) fprintf(stderr, "prompt logits: %s\n", err.msg);
  l1k_generator_free(a);
  l1k_generator_free(b);
  return worst;
}

/* transformers' 16 greedy tokens of the golden prompt (reference.safetensors) */
static void golden_greedy(const char *name, l1k_model *m, const char *mode) {
  char refp[512];
  snprintf(refp, sizeof refp, "%s/%s/reference.safetensors", shared_path("golden/models"), name);
  l1k_err err = {0};
  l1k_safetensors st;
  if (l1k_st_open(&st, refp, &err)) {
    CHECK_MSG(0, "%s", err.msg);
    return;
  }
  const l1k_st_tensor *tp = l1k_st_find(&st, "greedy_prompt"), *to = l1k_st_find(&st, "greedy_output");
  CHECK(tp && to && tp->dtype == L1K_DT_I32 && to->dtype == L1K_DT_I32 && to->numel == tp->numel + 16);
  if (!tp || !to || to->numel != tp->numel + 16) {
    l1k_st_close(&st);
    return;
  }
  int np = (int)tp->numel;
  int32_t *pid = malloc(np * sizeof(int32_t)), *out = malloc(to->numel * sizeof(int32_t));
  memcpy(pid, tp->data, np * sizeof(int32_t));
  memcpy(out, to->data, to->numel * sizeof(int32_t));
  l1k_st_close(&st);
  l1k_generator *g = l1k_generator_create(m, 1, np + 17, &err);
  l1k_gen_opts o;
  l1k_gen_opts_default(&o);
  o.max_new_tokens = 16;
  o.ignore_eos = 1;
  l1k_gen_prompt pr = {pid, np};
  l1k_gen_result r;
  memset(&r, 0, sizeof r);
  int rc = g ? l1k_generate(g, &pr, 1, &o, &r, NULL, NULL, &err) : 1;
  CHECK_MSG(rc == 0, "%s", err.msg);
  int same = rc == 0 && r.n_ids == 16;
  for (int i = 0; i < 16 && same; i++) same = r.ids[i] == out[np + i];
  CHECK_MSG(same, "%s %s: the golden prompt's 16 greedy tokens differ from transformers'", name, mode);
  fprintf(stderr, "%-10s %-7s golden prompt: 16 greedy tokens %s transformers'\n", name, mode,
          same ? "identical to" : "DIFFER from");
  l1k_gen_results_free(&r, 1);
  l1k_generator_free(g);
  free(pid);
  free(out);
}

static void test_model(const char *name) {
  l1k_err err = {0};
  l1k_model *cpu = load(name, "cpu", L1K_DEVICE_PREC_FP32);
  l1k_model *cu = load(name, "cuda", L1K_DEVICE_PREC_FP32);
  l1k_model *cb = load(name, "cuda", L1K_DEVICE_PREC_BF16);
  if (!cpu || !cu || !cb) goto out;
  l1k_gen_opts o;
  l1k_gen_opts_default(&o);
  o.max_new_tokens = NEW;
  o.ignore_eos = 1;
  l1k_gen_result rc_[NP], rg[NP], rp[NP], rb[NP], rs[NP];
  memset(rc_, 0, sizeof rc_), memset(rg, 0, sizeof rg), memset(rp, 0, sizeof rp);
  memset(rb, 0, sizeof rb), memset(rs, 0, sizeof rs);
  /* 2. float32 mode: greedy, batch 3 */
  CHECK_MSG(run(cpu, 3, 0, &o, rc_, NULL, &err) == 0, "%s cpu: %s", name, err.msg);
  l1k_gen_cache_info ci;
  CHECK_MSG(run(cu, 3, 0, &o, rg, &ci, &err) == 0, "%s cuda: %s", name, err.msg);
  int same = 1;
  for (int i = 0; i < NP; i++) same &= same_ids(&rc_[i], &rg[i], 0);
  CHECK_MSG(same, "%s: cuda float32 greedy tokens differ from the CPU engine", name);
  CHECK(rg[2].cached_prompt_tokens == 23 && !strcmp(ci.device, "cuda") && !strcmp(ci.dtype, "F32"));
  double le = prompt_logits_err(cpu, cu);
  CHECK_MSG(le < 1e-5, "%s: prompt logits rel err %.3g", name, le);
  fprintf(stderr, "%-10s float32: %d prompts x %d greedy tokens %s the CPU engine; prompt logits %.2g; "
          "pool %d blocks of %d, peak %d\n", name, NP, NEW, same ? "identical to" : "DIFFER from", le,
          ci.n_blocks, ci.block_size, ci.peak_blocks);
  /* prefill passes of 8 rows: long prompts in pieces through the paged cache */
  setenv("LONG1K_GEN_PREFILL_ROWS", "8", 1);
  CHECK_MSG(run(cu, 3, 0, &o, rp, NULL, &err) == 0, "%s cuda pieces: %s", name, err.msg);
  unsetenv("LONG1K_GEN_PREFILL_ROWS");
  same = 1;
  for (int i = 0; i < NP; i++) same &= same_ids(&rc_[i], &rp[i], 0);
  CHECK_MSG(same, "%s: greedy tokens with 8-row prefill passes differ", name);
  /* products in fixed blocks of 4 rows (LONG1K_GEN_FIXED_ROWS: one cuBLAS shape, the last block
   * padded), in both modes */
  setenv("LONG1K_GEN_FIXED_ROWS", "4", 1);
  l1k_gen_result rf[NP], rfb[NP], rb0[NP];
  memset(rf, 0, sizeof rf), memset(rfb, 0, sizeof rfb), memset(rb0, 0, sizeof rb0);
  CHECK_MSG(run(cu, 3, 0, &o, rf, NULL, &err) == 0, "%s cuda fixed rows: %s", name, err.msg);
  CHECK_MSG(run(cb, 3, 0, &o, rfb, NULL, &err) == 0, "%s cuda bf16 fixed rows: %s", name, err.msg);
  unsetenv("LONG1K_GEN_FIXED_ROWS");
  CHECK_MSG(run(cb, 3, 0, &o, rb0, NULL, &err) == 0, "%s cuda bf16: %s", name, err.msg);
  same = 1;
  for (int i = 0; i < NP; i++) same &= same_ids(&rc_[i], &rf[i], 0) && same_ids(&rb0[i], &rfb[i], 0);
  CHECK_MSG(same, "%s: greedy tokens with products in 4-row blocks differ", name);
  l1k_gen_results_free(rf, NP);
  l1k_gen_results_free(rfb, NP);
  l1k_gen_results_free(rb0, NP);
  /* sampling: batch 1 and batch 3 give the same tokens (one stream per prompt) */
  l1k_gen_opts so = o;
  so.temperature = 0.9f;
  so.top_p = 0.95f;
  so.seed = 7;
  l1k_gen_result s1[NP], s3[NP];
  memset(s1, 0, sizeof s1), memset(s3, 0, sizeof s3);
  CHECK_MSG(run(cu, 1, 0, &so, s1, NULL, &err) == 0, "%s: %s", name, err.msg);
  CHECK_MSG(run(cu, 6, 0, &so, s3, NULL, &err) == 0, "%s: %s", name, err.msg); /* host threads sample */
  int sb = 1, sc = 1;
  for (int i = 0; i < NP; i++) sb &= same_ids(&s1[i], &s3[i], 0);
  CHECK_MSG(sb, "%s: sampled tokens depend on the batch size", name);
  CHECK_MSG(run(cpu, 3, 0, &so, rs, NULL, &err) == 0, "%s: %s", name, err.msg);
  for (int i = 0; i < NP; i++) sc &= same_ids(&rs[i], &s3[i], 0);
  fprintf(stderr, "%-10s sampling (T 0.9, top-p 0.95, seed 7): batch 1 %s batch 6; %s the CPU engine\n", name,
          sb ? "==" : "!=", sc ? "same tokens as" : "differs from (reported only)");
  l1k_gen_results_free(s1, NP);
  l1k_gen_results_free(s3, NP);
  /* 3. bf16 mode: the golden greedy prompt's 16 tokens (transformers' greedy_output) must
   *    agree in both modes; the other prompts' agreement with the CPU engine is reported */
  golden_greedy(name, cu, "float32");
  golden_greedy(name, cb, "bf16");
  CHECK_MSG(run(cb, 3, 0, &o, rb, &ci, &err) == 0, "%s cuda bf16: %s", name, err.msg);
  CHECK(!strcmp(ci.dtype, "BF16"));
  int agree = 0;
  fprintf(stderr, "%-10s bf16 (bf16 cache), other prompts: first difference from the CPU engine at token", name);
  for (int i = 0; i < NP; i++) {
    int k = 0;
    while (k < rc_[i].n_ids && k < rb[i].n_ids && rc_[i].ids[k] == rb[i].ids[k]) k++;
    agree += k >= 16;
    if (k < NEW) fprintf(stderr, " %d", k); else fprintf(stderr, " -");
  }
  fprintf(stderr, " (-: none in %d); %d of %d agree on 16 (reported)\n", NEW, agree, NP);
out:
  l1k_gen_results_free(rc_, NP);
  l1k_gen_results_free(rg, NP);
  l1k_gen_results_free(rp, NP);
  l1k_gen_results_free(rb, NP);
  l1k_gen_results_free(rs, NP);
  l1k_model_free(cpu);
  l1k_model_free(cu);
  l1k_model_free(cb);
}

/* 4. a pool of a few blocks: sequences wait, slots refill, the peak stays within the pool */
static void test_small_pool(void) {
  l1k_err err = {0};
  l1k_model *cpu = load("qwen2_tiny", "cpu", L1K_DEVICE_PREC_FP32);
  l1k_model *cu = load("qwen2_tiny", "cuda", L1K_DEVICE_PREC_FP32);
  if (!cpu || !cu) goto out;
  l1k_gen_opts o;
  l1k_gen_opts_default(&o);
  o.max_new_tokens = NEW;
  o.ignore_eos = 1;
  const l1k_model_config *c = l1k_model_cfg(cu);
  uint64_t per_block = 2ull * c->num_hidden_layers * c->num_key_value_heads * 16 * c->head_dim * 4;
  /* prompts 0-3 need 2, 3, 3 and 4 blocks of 16 ((prompt + 20) / 16 rounded up): 9 blocks hold
   * the first three, and prompt 3 waits for one of them to finish */
  l1k_gen_result ra[NP], rb[NP];
  memset(ra, 0, sizeof ra), memset(rb, 0, sizeof rb);
  CHECK_MSG(run(cpu, 4, 0, &o, ra, NULL, &err) == 0, "%s", err.msg);
  l1k_gen_cache_info ci;
  CHECK_MSG(run(cu, 4, 9 * per_block, &o, rb, &ci, &err) == 0, "small pool: %s", err.msg);
  int same = 1;
  for (int i = 0; i < NP; i++) same &= same_ids(&ra[i], &rb[i], 0);
  CHECK_MSG(same, "small pool: tokens differ from the CPU engine");
  CHECK(ci.n_blocks == 9 && ci.peak_blocks <= ci.n_blocks && ci.used_blocks == 0);
  /* batch 4 without waiting would hold prompts 0-3 at once: 2 + 3 + 3 + 4 = 12 blocks > 9 */
  CHECK(ci.peak_blocks >= 7);
  fprintf(stderr, "small pool: %d blocks, peak %d, batch 4, %d prompts: tokens %s the CPU engine\n",
          ci.n_blocks, ci.peak_blocks, NP, same ? "identical to" : "DIFFER from");
  l1k_gen_results_free(rb, NP);
  /* a pool that can never hold the longest prompt: one line, ENOMEM */
  int rc = run(cu, 2, 3 * per_block, &o, rb, NULL, &err);
  CHECK_MSG(rc == L1K_ENOMEM && strstr(err.msg, "prompt 3") && !strchr(err.msg, '\n'), "rc %d: %s", rc, err.msg);
  fprintf(stderr, "pool too small: %s\n", err.msg);
  l1k_gen_results_free(rb, NP);
  l1k_gen_results_free(ra, NP);
out:
  l1k_model_free(cpu);
  l1k_model_free(cu);
}

/* 5. the decode step as CUDA graphs (LONG1K_GEN_GRAPH, default on) against the eager steps
 * (LONG1K_GEN_GRAPH=0): the same logits bit for bit and the same tokens, through a scripted
 * run of the low-level API that changes buckets (batch 3 padded to 4; a sequence finishing so
 * the batch shrinks to bucket 2; a slot refilled; 4 rows, no padding) and crosses split
 * boundaries (a long prompt: 256 and, with long_ctx, 512 positions), then l1k_generate's
 * continuous batching (6 prompts at batch 4) with greedy and sampled tokens. */
enum { GSTEPS = 24 };
static int graph_script(l1k_model *m, int graph, int longp, float *lg, int32_t *tok, int *nrows,
                        l1kcu_gen_counters *c0, l1kcu_gen_counters *c1) {
  setenv("LONG1K_GEN_GRAPH", graph ? "1" : "0", 1);
  l1k_err err = {0};
  int V = l1k_model_cfg(m)->vocab_size, rc = 0;
  l1k_generator *g = l1k_generator_create_ex(m, 4, longp + GSTEPS + 8, 0, &err);
  unsetenv("LONG1K_GEN_GRAPH");
  CHECK_MSG(g != NULL, "generator: %s", err.msg);
  if (!g) return 1;
  int32_t *lp = malloc((size_t)longp * sizeof *lp), next[4];
  for (int t = 0; t < longp; t++) lp[t] = (int32_t)((t * 71 + 3) % V);
  l1kcu_gen_get_counters(c0);
  /* slots 0-2: prompts 0, 1, 3; slot 3 joins at step 8 with the long prompt */
  const int first[3] = {0, 1, 3};
  for (int i = 0; i < 3 && !rc; i++) {
    rc = l1k_gen_feed(g, i, PIDS[first[i]], PLEN[first[i]], NULL, &err);
    next[i] = l1k_argmax(l1k_gen_slot_logits(g, i), V);
  }
  int live[4] = {1, 1, 1, 0};
  size_t off = 0;
  for (int st = 0; st < GSTEPS && !rc; st++) {
    if (st == 5) { /* slot 1 finishes: 2 rows (bucket 2) */
      l1k_gen_slot_reset(g, 1);
      live[1] = 0;
    }
    if (st == 8) { /* slot 3: the long prompt (4 rows from here: bucket 4, no padding) */
      rc = l1k_gen_feed(g, 3, lp, longp, NULL, &err);
      next[3] = l1k_argmax(l1k_gen_slot_logits(g, 3), V);
      live[3] = 1;
    }
    if (st == 10) { /* slot 1 refilled with prompt 5 */
      rc = rc ? rc : l1k_gen_feed(g, 1, PIDS[5], PLEN[5], NULL, &err);
      next[1] = l1k_argmax(l1k_gen_slot_logits(g, 1), V);
      live[1] = 1;
    }
    if (st == 16) { /* slot 0 finishes: 3 rows padded to 4 */
      l1k_gen_slot_reset(g, 0);
      live[0] = 0;
    }
    int slots[4], ids[4], n = 0;
    for (int i = 0; i < 4; i++)
      if (live[i]) slots[n] = i, ids[n++] = next[i];
    rc = rc ? rc : l1k_gen_step(g, slots, ids, n, lg + off, &err);
    for (int r = 0; r < n && !rc; r++) {
      next[slots[r]] = l1k_argmax(lg + off + (size_t)r * V, V);
      tok[st * 4 + slots[r]] = next[slots[r]];
    }
    nrows[st] = n;
    off += (size_t)n * V;
  }
  l1kcu_gen_get_counters(c1);
  CHECK_MSG(rc == 0, "scripted steps: %s", err.msg);
  free(lp);
  l1k_generator_free(g);
  return rc;
}

static void graph_vs_eager(const char *name, l1k_device_precision prec, int longp) {
  const char *mode = prec == L1K_DEVICE_PREC_BF16 ? "bf16" : "float32";
  l1k_model *m = load(name, "cuda", prec);
  if (!m) return;
  int V = l1k_model_cfg(m)->vocab_size;
  size_t cap = (size_t)GSTEPS * 4 * V;
  float *le = calloc(cap, sizeof(float)), *lgr = calloc(cap, sizeof(float));
  int32_t te[GSTEPS * 4], tg[GSTEPS * 4];
  int ne[GSTEPS], ng[GSTEPS];
  memset(te, 0xff, sizeof te), memset(tg, 0xff, sizeof tg);
  l1kcu_gen_counters a0, a1, b0, b1;
  int rc = graph_script(m, 0, longp, le, te, ne, &a0, &a1);
  rc |= graph_script(m, 1, longp, lgr, tg, ng, &b0, &b1);
  if (!rc) {
    size_t rows = 0;
    for (int i = 0; i < GSTEPS; i++) rows += (size_t)ne[i];
    CHECK(!memcmp(ne, ng, sizeof ne));
    size_t bad = 0;
    for (size_t i = 0; i < rows * V; i++) bad += memcmp(&le[i], &lgr[i], 4) != 0;
    CHECK_MSG(bad == 0, "%s %s: %zu of %zu logits differ between graph and eager steps", name, mode, bad, rows * V);
    CHECK_MSG(!memcmp(te, tg, sizeof te), "%s %s: graph and eager tokens differ", name, mode);
    long long gs = b1.graph_steps - b0.graph_steps, cap_n = b1.captures - b0.captures;
    CHECK_MSG(a1.graph_steps == a0.graph_steps && a1.captures == a0.captures, "eager run used graphs");
    /* buckets met: (4, 1 split), (2, 1), (4, 2 splits) [, (4, 3)]: a capture each, every other
     * step a graph launch */
    CHECK_MSG(cap_n >= 3 && gs == GSTEPS - cap_n && b1.graph_on, "%s %s: %lld captures, %lld graph steps",
              name, mode, cap_n, gs);
    fprintf(stderr, "%s %s graphs: %d steps (batch 3 -> 2 -> 3 -> 4 -> 3, context to %d), %lld graphs "
            "captured, %lld steps launched one: logits (%zu x %d) and tokens identical to eager steps; "
            "a step: %d launches eager, %d with its graph (%d nodes)\n", name, mode, GSTEPS,
            longp + GSTEPS - 8, cap_n, gs, rows, V, a1.step_launches, b1.step_launches, b1.step_kernels);
  }
  /* bf16 mode: the decode step's q, k, v as one product (the default without q / k norms)
   * against three (LONG1K_GEN_QKV=0): the same sums, so the same bits here; on a GPU cuBLAS may
   * sum a wider product in another order (reported there) */
  if (!rc && prec == L1K_DEVICE_PREC_BF16) {
    l1kcu_gen_counters q0, q1;
    int32_t tq[GSTEPS * 4];
    int nq[GSTEPS];
    memset(tq, 0xff, sizeof tq);
    float *lq = calloc(cap, sizeof(float));
    setenv("LONG1K_GEN_QKV", "0", 1);
    int rq = graph_script(m, 1, longp, lq, tq, nq, &q0, &q1);
    unsetenv("LONG1K_GEN_QKV");
    size_t bad = 0;
    for (size_t i = 0; i < cap; i++) bad += memcmp(&lq[i], &lgr[i], 4) != 0;
    int fused = l1k_model_cfg(m)->qk_norm == 0;
    CHECK(!rq);
#ifdef L1K_CUDA_EMU_H /* a GPU's graph may hold more than one node per cuBLAS call */
    CHECK_MSG(bad == 0 && !memcmp(tq, tg, sizeof tq), "%s bf16: q/k/v in one product: %zu logits differ", name, bad);
    CHECK_MSG(q1.step_kernels - b1.step_kernels == (fused ? 2 * l1k_model_cfg(m)->num_hidden_layers : 0),
              "%s: %d kernels fused, %d not", name, b1.step_kernels, q1.step_kernels);
#endif
    fprintf(stderr, "%s bf16: q, k, v %s: %zu logits differ from three products; a step %d kernels "
            "(three products: %d)\n", name, fused ? "as one product" : "as three (q / k norms)", bad,
            b1.step_kernels, q1.step_kernels);
    free(lq);
  }
#ifdef L1K_CUDA_EMU_H /* the emulated device (its header guard): LONG1K_EMU_GRAPH_FAIL */
  /* a device that cannot instantiate the graph (the emulation told to refuse): one line, the
   * steps run eagerly, the same logits */
  if (!rc && prec == L1K_DEVICE_PREC_FP32) {
    l1kcu_gen_counters f0, f1;
    int32_t tf[GSTEPS * 4];
    int nf[GSTEPS];
    memset(tf, 0xff, sizeof tf);
    float *lf = calloc(cap, sizeof(float));
    setenv("LONG1K_EMU_GRAPH_FAIL", "1", 1);
    int rf = graph_script(m, 1, longp, lf, tf, nf, &f0, &f1);
    unsetenv("LONG1K_EMU_GRAPH_FAIL");
    CHECK_MSG(!rf && !memcmp(lf, le, cap * sizeof(float)) && !memcmp(tf, te, sizeof te),
              "%s: fallback to eager steps differs", name);
    CHECK_MSG(f1.captures == f0.captures && f1.graph_steps == f0.graph_steps && !f1.graph_on,
              "%s: graphs used although instantiation failed", name);
    fprintf(stderr, "%s float32: graph instantiation refused: eager steps, same logits\n", name);
    free(lf);
  }
#endif
  /* l1k_generate: continuous batching (6 prompts, batch 4), greedy and sampled */
  l1k_gen_opts o;
  l1k_gen_opts_default(&o);
  o.max_new_tokens = NEW;
  o.ignore_eos = 1;
  {
    /* greedy tokens from the device's argmax (the default) == from the host's over the logits */
    l1k_gen_result r0[NP], r1[NP];
    memset(r0, 0, sizeof r0), memset(r1, 0, sizeof r1);
    l1k_err err = {0};
    l1kcu_gen_counters c0, c1, c2;
    l1kcu_gen_get_counters(&c0);
    setenv("LONG1K_GEN_DEVICE_GREEDY", "0", 1);
    int e0 = run(m, 3, 0, &o, r0, NULL, &err);
    unsetenv("LONG1K_GEN_DEVICE_GREEDY");
    l1kcu_gen_get_counters(&c1);
    int e1 = run(m, 3, 0, &o, r1, NULL, &err);
    l1kcu_gen_get_counters(&c2);
    CHECK_MSG(!e0 && !e1, "generate: %s", err.msg);
    int same = 1;
    for (int i = 0; i < NP; i++) same &= same_ids(&r0[i], &r1[i], 0) && r0[i].n_ids == NEW;
    CHECK_MSG(same, "%s %s: device argmax tokens differ from the host's", name, mode);
    CHECK_MSG(c1.greedy_steps == c0.greedy_steps && c2.greedy_steps - c1.greedy_steps == c2.steps - c1.steps &&
                  c2.steps > c1.steps, "%s %s: greedy steps %lld of %lld", name, mode,
              c2.greedy_steps - c1.greedy_steps, c2.steps - c1.steps);
    fprintf(stderr, "%s %s generate, batch 3, greedy: %lld steps downloading tokens (device argmax): tokens %s "
            "the host argmax of the logits\n", name, mode, c2.greedy_steps - c1.greedy_steps,
            same ? "identical to" : "DIFFER from");
    l1k_gen_results_free(r0, NP);
    l1k_gen_results_free(r1, NP);
  }
  for (int samp = 0; samp < 2; samp++) {
    if (samp) o.temperature = 0.9f, o.top_p = 0.95f, o.seed = 7;
    l1k_gen_result r0[NP], r1[NP];
    memset(r0, 0, sizeof r0), memset(r1, 0, sizeof r1);
    l1k_err err = {0};
    setenv("LONG1K_GEN_GRAPH", "0", 1);
    int e0 = run(m, 4, 0, &o, r0, NULL, &err);
    setenv("LONG1K_GEN_GRAPH", "1", 1);
    int e1 = run(m, 4, 0, &o, r1, NULL, &err);
    unsetenv("LONG1K_GEN_GRAPH");
    CHECK_MSG(!e0 && !e1, "generate: %s", err.msg);
    int same = 1;
    for (int i = 0; i < NP; i++) same &= same_ids(&r0[i], &r1[i], 0) && r0[i].n_ids == NEW;
    CHECK_MSG(same, "%s %s generate (%s): graph and eager tokens differ", name, mode, samp ? "sampled" : "greedy");
    fprintf(stderr, "%s %s generate, 6 prompts at batch 4 (%s): graph tokens %s eager\n", name, mode,
            samp ? "sampled" : "greedy", same ? "identical to" : "DIFFER from");
    l1k_gen_results_free(r0, NP);
    l1k_gen_results_free(r1, NP);
  }
  free(le), free(lgr);
  l1k_model_free(m);
}
#endif

int main(void) {
#ifndef LONG1K_HAVE_CUDA
  SKIP("long1k was built without the CUDA backend (no nvcc at build time)");
#else
  char why[256];
  if (!l1k_backend_cuda_ops.available(why, sizeof why)) SKIP("%s", why);
  test_kernels();
  char probe[512];
  snprintf(probe, sizeof probe, "%s", shared_path("golden/models/qwen2_tiny/f32/config.json"));
  if (!l1k_file_exists(probe)) {
    fprintf(stderr, "no golden models at %s: model checks skipped\n", shared_path("golden/models"));
  } else {
    for (size_t i = 0; i < sizeof MODELS / sizeof MODELS[0]; i++) test_model(MODELS[i]);
    test_small_pool();
    for (size_t i = 0; i < sizeof MODELS / sizeof MODELS[0]; i++) {
      int longp = i == 1 ? 505 : 250; /* qwen2_tiny: past 512 positions too */
      graph_vs_eager(MODELS[i], L1K_DEVICE_PREC_FP32, longp);
      graph_vs_eager(MODELS[i], L1K_DEVICE_PREC_BF16, longp);
    }
  }
  CHECK_DONE();
#endif
}
