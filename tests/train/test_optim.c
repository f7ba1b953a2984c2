/* AdamW (torch.optim.AdamW semantics) and clip_grad_norm_ on small arrays against values
 * worked out by hand from torch's update rule:
 *   step 1: m^ = g, v^ = g^2, so p1 = p0 (1 - lr wd) - lr g / (|g| + eps)
 *   p0 = 1, g = 0.5, -0.25, 2.0, lr 0.1, wd 0.01, betas 0.9/0.95, eps 1e-8:
 *     decay:    0.899000002, 0.8712640578738273, 0.8047594376347552
 *     no decay: 0.900000002, 0.8731630578758274, 0.8075297016946291 */
#include "check.h"
#include "long1k/optim.h"

int main(void) {
  l1k_err err = {0};
  /* 6 parameters: [0,1] decay, [2,3] no_decay, [4] decay, [5] no_decay; segments given out
   * of order to check the walk */
  l1k_param_seg segs[] = {{5, 1, 1}, {2, 2, 1}, {0, 2, 0}};
  l1k_adamw o;
  CHECK(l1k_adamw_init(&o, 6, segs, 3, 0.9, 0.95, 1e-8, 0.01, &err) == 0);
  float p[6] = {1, 1, 1, 1, 1, 1}, g[6];
  const float gs[3] = {0.5f, -0.25f, 2.0f};
  const double want_d[3] = {0.899000002, 0.8712640578738273, 0.8047594376347552};
  const double want_n[3] = {0.900000002, 0.8731630578758274, 0.8075297016946291};
  for (int t = 0; t < 3; t++) {
    for (int i = 0; i < 6; i++) g[i] = gs[t];
    l1k_adamw_step(&o, p, g, 0.1);
    CHECK(o.step == t + 1);
    const int decay[6] = {1, 1, 0, 0, 1, 0};
    for (int i = 0; i < 6; i++)
      CHECK_MSG(fabs(p[i] - (decay[i] ? want_d[t] : want_n[t])) <= 2e-7, "step %d p[%d] %.9g", t + 1,
                i, p[i]);
  }
  /* moments after step 1 with g = 0.5: m = 0.05, v = 0.0125 */
  l1k_adamw_free(&o);
  CHECK(l1k_adamw_init(&o, 2, NULL, 0, 0.9, 0.95, 1e-8, 0.0, &err) == 0);
  float q[2] = {0, 0}, h[2] = {0.5f, -2.0f};
  l1k_adamw_step(&o, q, h, 1e-3);
  CHECK_CLOSE(o.m[0], 0.05, 1e-8);
  CHECK_CLOSE(o.v[0], 0.0125, 1e-9);
  CHECK_CLOSE(o.m[1], -0.2, 1e-8);
  CHECK_CLOSE(o.v[1], 0.2, 1e-8);
  CHECK_CLOSE(q[0], -1e-3, 1e-10); /* first step moves by lr * sign(g) */
  CHECK_CLOSE(q[1], 1e-3, 1e-10);
  l1k_adamw_free(&o);
  /* a segment outside the parameters is refused */
  l1k_param_seg bad = {4, 4, 1};
  CHECK(l1k_adamw_init(&o, 6, &bad, 1, 0.9, 0.95, 1e-8, 0.0, &err) == L1K_EINTERNAL);

  /* ZeRO-1 shards: two optimizers over [0, 3) and [3, 6) give the full optimizer's result */
  {
    l1k_param_seg sg[] = {{2, 2, 1}};
    l1k_adamw full, s0, s1;
    CHECK(l1k_adamw_init(&full, 6, sg, 1, 0.9, 0.95, 1e-8, 0.1, &err) == 0);
    CHECK(l1k_adamw_init(&s0, 6, sg, 1, 0.9, 0.95, 1e-8, 0.1, &err) == 0);
    CHECK(l1k_adamw_init(&s1, 6, sg, 1, 0.9, 0.95, 1e-8, 0.1, &err) == 0);
    CHECK(l1k_adamw_shard(&s0, 0, 3, &err) == 0 && l1k_adamw_shard(&s1, 3, 6, &err) == 0);
    CHECK(l1k_adamw_shard(&s1, 4, 7, &err) == L1K_EINTERNAL);
    float pf[6] = {1, -1, 0.5f, 2, -3, 0.25f}, ps[6], gg[6];
    memcpy(ps, pf, sizeof pf);
    for (int t = 0; t < 4; t++) {
      for (int i = 0; i < 6; i++) gg[i] = (float)((i + 1) * (t % 2 ? -0.1 : 0.3));
      l1k_adamw_step(&full, pf, gg, 0.01);
      float a[6], b[6];
      memcpy(a, ps, sizeof a);
      memcpy(b, ps, sizeof b);
      l1k_adamw_step(&s0, a, gg, 0.01);
      l1k_adamw_step(&s1, b, gg, 0.01);
      for (int i = 0; i < 3; i++) CHECK(b[i] == ps[i]); /* outside the shard: untouched */
      for (int i = 3; i < 6; i++) CHECK(a[i] == ps[i]);
      for (int i = 0; i < 6; i++) ps[i] = i < 3 ? a[i] : b[i];
    }
    CHECK(memcmp(pf, ps, sizeof pf) == 0);
    CHECK(s1.m[0] == full.m[3] && s1.v[2] == full.v[5]);
    l1k_adamw_free(&full);
    l1k_adamw_free(&s0);
    l1k_adamw_free(&s1);
  }

  /* clipping: norm 5 clipped to 1 -> scaled by 1 / (5 + 1e-6) */
  float c[2] = {3, 4};
  double n = l1k_clip_grad_norm(c, 2, 1.0);
  CHECK_CLOSE(n, 5.0, 1e-12);
  CHECK_CLOSE(c[0], 3.0 / (5.0 + 1e-6), 1e-7);
  CHECK_CLOSE(c[1], 4.0 / (5.0 + 1e-6), 1e-7);
  /* below max_norm: unchanged; the pre-clip norm is reported */
  float d[3] = {0.1f, 0.2f, 0.2f};
  n = l1k_clip_grad_norm(d, 3, 1.0);
  CHECK_CLOSE(n, 0.3, 1e-7);
  CHECK(d[0] == 0.1f && d[1] == 0.2f);
  /* large array: fixed-order reduction equals a sequential double sum closely */
  size_t N = 1000003;
  float *x = malloc(N * sizeof *x);
  double ref = 0;
  for (size_t i = 0; i < N; i++) {
    x[i] = (float)((double)(i % 97) / 97.0 - 0.5);
    ref += (double)x[i] * x[i];
  }
  CHECK_CLOSE(l1k_l2norm(x, N), sqrt(ref), 1e-9 * sqrt(ref));
  CHECK(l1k_l2norm(x, N) == l1k_l2norm(x, N));
  /* non-finite gradient: norm reported as non-finite, grads untouched */
  x[7] = NAN;
  n = l1k_clip_grad_norm(x, N, 1.0);
  CHECK(!isfinite(n));
  CHECK(x[8] == (float)((double)(8 % 97) / 97.0 - 0.5));
  free(x);
  /* optim_offload's shard-sized arrays: l1k_adamw_step_shard on params[lo, hi) copied out
   * gives l1k_adamw_step's bits on the whole arrays (3 steps, a no-decay segment across lo) */
  {
    enum { NP = 1000, LO = 300, HI = 700 };
    l1k_param_seg segs[2] = {{0, 250, 0}, {250, 100, 1}};
    l1k_adamw fa, sa;
    CHECK(l1k_adamw_init(&fa, NP, segs, 2, 0.9, 0.95, 1e-8, 0.1, NULL) == 0);
    CHECK(l1k_adamw_shard(&fa, LO, HI, NULL) == 0);
    CHECK(l1k_adamw_init(&sa, NP, segs, 2, 0.9, 0.95, 1e-8, 0.1, NULL) == 0);
    CHECK(l1k_adamw_shard(&sa, LO, HI, NULL) == 0);
    l1k_adamw pa; /* the same in pieces of 37 (the offload pipeline) */
    CHECK(l1k_adamw_init(&pa, NP, segs, 2, 0.9, 0.95, 1e-8, 0.1, NULL) == 0);
    CHECK(l1k_adamw_shard(&pa, LO, HI, NULL) == 0);
    float P[NP], G[NP], sp[HI - LO], sg[HI - LO], pp[HI - LO];
    for (int i = 0; i < NP; i++) P[i] = (float)sin(i * 0.37);
    memcpy(sp, P + LO, sizeof sp);
    memcpy(pp, P + LO, sizeof pp);
    for (int s = 0; s < 3; s++) {
      for (int i = 0; i < NP; i++) G[i] = (float)cos(i * 0.11 + s);
      memcpy(sg, G + LO, sizeof sg);
      l1k_adamw_step(&fa, P, G, 1e-3);
      l1k_adamw_step_shard(&sa, sp, sg, 1e-3);
      l1k_adamw_begin(&pa);
      for (size_t a = LO; a < HI; a += 37)
        l1k_adamw_update_shard(&pa, pp, sg, a, a + 37 < HI ? a + 37 : HI, 1e-3);
    }
    CHECK(memcmp(sp, P + LO, sizeof sp) == 0);
    CHECK(memcmp(pp, P + LO, sizeof pp) == 0);
    CHECK(memcmp(sa.m, fa.m, (HI - LO) * sizeof(float)) == 0 && sa.step == 3);
    CHECK(memcmp(pa.v, fa.v, (HI - LO) * sizeof(float)) == 0 && pa.step == 3);
    l1k_adamw_free(&fa);
    l1k_adamw_free(&sa);
    l1k_adamw_free(&pa);
  }
  CHECK_DONE();
}
