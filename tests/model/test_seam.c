/* The backend seam (src/backend/ops.h, include/long1k/model.h): the registry (cpu available,
 * cuda refused with its one line in a build without it, unknown names refused), attach, the
 * step in the backend equal bit for bit to the trainer's former path (l1k_clip_grad_norm +
 * l1k_adamw_step on host arrays, whole and ZeRO-1 shard), and the host copies (params, grads,
 * moments) with offsets, ranges and errors. */
#include <stdint.h>

#include "check.h"
#include "long1k/optim.h"
#include "tiny.h"

static void registry(void) {
  l1k_err err = {0};
  const char *r = NULL;
  CHECK(l1k_device_check("cpu", "--device", &r, &err) == 0 && r && !strcmp(r, "cpu"));
  CHECK(l1k_device_check("gpu", "--device", &r, &err) == L1K_EINPUT);
  CHECK_STR(err.msg, "--device gpu: unknown device (expected cpu, cuda or auto)");
  int cuda = l1k_device_check("cuda", "--device", &r, &err) == 0;
  if (!cuda) {
    CHECK(err.code == L1K_EINPUT && !strncmp(err.msg, "--device cuda: ", 15) && !strchr(err.msg, '\n'));
    if (strstr(err.msg, "built without")) /* this build: no nvcc */
      CHECK_STR(err.msg, "--device cuda: long1k was built without the CUDA backend (no nvcc at "
                         "build time)");
  }
  CHECK(l1k_device_check("auto", "--device", &r, &err) == 0 && !strcmp(r, cuda ? "cuda" : "cpu"));
  CHECK(l1k_device_check(NULL, "device", &r, &err) == 0 && !strcmp(r, cuda ? "cuda" : "cpu"));

  l1k_model *m = tiny_model("qwen2", 3);
  CHECK_STR(l1k_model_device(m), "cpu"); /* attached by default */
  l1k_device_opts o = {L1K_DEVICE_PREC_BF16, 0, 0, 0, "--device", 0};
  CHECK(l1k_model_attach(m, "cpu", &o, &err) == L1K_EINPUT && strstr(err.msg, "bf16"));
  CHECK_STR(l1k_model_device(m), "cpu");
  if (!cuda) {
    CHECK(l1k_model_attach(m, "cuda", NULL, &err) == L1K_EINPUT);
    CHECK_STR(l1k_model_device(m), "cpu"); /* stays where it was, still usable */
  }
  CHECK(l1k_model_attach(m, "cpu", NULL, &err) == 0 && l1k_model_params(m) != NULL);
  CHECK(l1k_model_grads_host(m) == l1k_model_grads(m) && l1k_model_grads(m) != NULL);
  l1k_model_free(m);
}

/* A batch of 2 rows x 9 tokens with a masked prompt. */
static l1k_batch batch(int32_t *ids, int32_t *lab, int V) {
  uint32_t s = 11;
  for (int i = 0; i < 18; i++) {
    s = s * 1664525u + 1013904223u;
    ids[i] = (int32_t)((s >> 8) % (uint32_t)V);
    lab[i] = i % 9 < 2 ? -100 : ids[i];
  }
  return (l1k_batch){2, 9, ids, lab, NULL, NULL};
}

/* k steps through l1k_model_step vs the former trainer path on a twin model, range [lo, hi). */
static void step_equal(const char *fam, double clip, int shard) {
  l1k_err err = {0};
  l1k_model *a = tiny_model(fam, 5), *b = tiny_model(fam, 5);
  size_t n = l1k_model_num_params(a), nt = 0;
  size_t lo = shard ? n / 3 : 0, hi = shard ? n - n / 5 : n;
  const l1k_tensor_info *ti = l1k_model_tensors(a, &nt);
  l1k_param_seg *segs = calloc(nt, sizeof *segs);
  for (size_t i = 0; i < nt; i++) segs[i] = (l1k_param_seg){ti[i].offset, ti[i].numel, ti[i].no_decay};
  l1k_adamw opt;
  CHECK(l1k_adamw_init(&opt, n, segs, nt, 0.9, 0.95, 1e-8, 0.1, &err) == 0);
  if (shard) CHECK(l1k_adamw_shard(&opt, lo, hi, &err) == 0);
  CHECK(l1k_model_optim_init(b, 0.9, 0.95, 1e-8, 0.1, lo, hi, &err) == 0);
  int32_t ids[18], lab[18];
  l1k_batch bt = batch(ids, lab, l1k_model_cfg(a)->vocab_size);
  for (int s = 0; s < 4; s++) {
    double ls, gb = -1;
    int64_t ntg;
    l1k_model_zero_grads(a);
    l1k_model_zero_grads(b);
    CHECK(l1k_model_forward_backward(a, &bt, 1.0 / 14, &ls, &ntg, &err) == 0);
    CHECK(l1k_model_forward_backward(b, &bt, 1.0 / 14, &ls, &ntg, &err) == 0);
    double ga = l1k_clip_grad_norm(l1k_model_grads(a), n, clip);
    l1k_adamw_step(&opt, l1k_model_params(a), l1k_model_grads(a), 1e-2);
    CHECK_MSG(l1k_model_step(b, 1e-2, clip, lo, hi, &gb, &err) == 0, "%s", err.msg);
    CHECK_MSG(ga == gb, "%s step %d: grad norm %.17g vs %.17g", fam, s, ga, gb);
    if (clip > 0 && clip < 1e-2) CHECK(ga > clip); /* clipping did happen */
  }
  CHECK_MSG(!memcmp(l1k_model_params(a), l1k_model_params(b), n * sizeof(float)),
            "%s clip %g shard %d: parameters differ", fam, clip, shard);
  size_t k = hi - lo;
  float *m1 = malloc(k * sizeof *m1), *m2 = malloc(k * sizeof *m2);
  int64_t st = -1;
  CHECK(l1k_model_optim_get(b, m1, m2, &st, &err) == 0 && st == 4 && opt.step == 4);
  CHECK(!memcmp(m1, opt.m, k * sizeof *m1) && !memcmp(m2, opt.v, k * sizeof *m2));
  /* a step over another range than the optimizer's is refused */
  double g = 0;
  CHECK(l1k_model_step(b, 1e-2, clip, lo, hi - 1, &g, &err) == L1K_EINTERNAL);
  free(m1);
  free(m2);
  free(segs);
  l1k_adamw_free(&opt);
  l1k_model_free(a);
  l1k_model_free(b);
}

static void copies(void) {
  l1k_err err = {0};
  l1k_model *m = tiny_model("qwen3", 9);
  size_t n = l1k_model_num_params(m), lo = 37, k = 101;
  float *buf = malloc(n * sizeof *buf), *back = malloc(n * sizeof *back);
  const float *p = l1k_model_params(m);
  /* params: get with an offset is the host slice; set then get round-trips; others untouched */
  CHECK(l1k_model_params_get(m, buf, lo, k, &err) == 0 && !memcmp(buf, p + lo, k * sizeof *buf));
  float *before = malloc(n * sizeof *before);
  memcpy(before, p, n * sizeof *before);
  for (size_t i = 0; i < k; i++) buf[i] = (float)i * 0.25f - 3.0f;
  CHECK(l1k_model_params_set(m, buf, lo, k, &err) == 0);
  CHECK(l1k_model_params_get(m, back, lo, k, &err) == 0 && !memcmp(back, buf, k * sizeof *buf));
  CHECK(!memcmp(p, before, lo * sizeof *p) &&
        !memcmp(p + lo + k, before + lo + k, (n - lo - k) * sizeof *p));
  CHECK(l1k_model_params_get(m, buf, n - 3, 4, &err) == L1K_EINPUT && strstr(err.msg, "outside"));
  CHECK(l1k_model_params_set(m, buf, n + 1, 0, &err) == L1K_EINPUT);
  CHECK(l1k_model_params_get(m, buf, n, 0, &err) == 0); /* empty range at the end */
  /* grads */
  l1k_model_zero_grads(m);
  CHECK(l1k_model_grads_get(m, back, 0, n, &err) == 0);
  int zero = 1;
  for (size_t i = 0; i < n; i++) zero &= back[i] == 0.0f;
  CHECK(zero);
  CHECK(l1k_model_grads_set(m, buf, lo, k, &err) == 0);
  CHECK(l1k_model_grads_get(m, back, lo, k, &err) == 0 && !memcmp(back, buf, k * sizeof *buf));
  CHECK(!memcmp(l1k_model_grads(m) + lo, buf, k * sizeof *buf));
  CHECK(l1k_model_grads_set(m, buf, n - 1, 2, &err) == L1K_EINPUT);
  /* moments: need optim_init; shard-sized; the step counter round-trips */
  CHECK(l1k_model_optim_get(m, back, back, NULL, &err) == L1K_EINTERNAL);
  float *h1 = NULL, *h2 = NULL;
  CHECK(l1k_model_optim_host(m, &h1, &h2) == 1); /* no optimizer yet */
  CHECK(l1k_model_optim_init(m, 0.9, 0.999, 1e-8, 0.0, lo, lo + k, &err) == 0);
  CHECK(l1k_model_optim_host(m, &h1, &h2) == 0 && h1 && h2);
  int64_t st = -1;
  CHECK(l1k_model_optim_get(m, back, back + k, &st, &err) == 0 && st == 0);
  zero = 1;
  for (size_t i = 0; i < 2 * k; i++) zero &= back[i] == 0.0f;
  CHECK(zero);
  CHECK(l1k_model_optim_set(m, buf, buf, 17, &err) == 0);
  CHECK(l1k_model_optim_get(m, back, back + k, &st, &err) == 0 && st == 17);
  CHECK(!memcmp(back, buf, k * sizeof *buf) && !memcmp(back + k, buf, k * sizeof *buf));
  CHECK(!memcmp(h1, buf, k * sizeof *buf) && !memcmp(h2, buf, k * sizeof *buf)); /* in place */
  CHECK(l1k_model_optim_init(m, 0.9, 0.999, 1e-8, 0.0, 5, n + 1, &err) == L1K_EINTERNAL);
  /* a non-finite gradient norm: parameters and moments untouched, counter not advanced */
  CHECK(l1k_model_optim_init(m, 0.9, 0.999, 1e-8, 0.0, 0, n, &err) == 0);
  memcpy(before, p, n * sizeof *before);
  float nan = NAN;
  CHECK(l1k_model_grads_set(m, &nan, 3, 1, &err) == 0);
  double gn = 0;
  CHECK(l1k_model_step(m, 1e-2, 1.0, 0, n, &gn, &err) == 0 && isnan(gn));
  CHECK(!memcmp(p, before, n * sizeof *p));
  CHECK(l1k_model_optim_get(m, NULL, NULL, &st, &err) == 0 && st == 0);
  free(buf);
  free(back);
  free(before);
  l1k_model_free(m);
}

int main(void) {
  registry();
  step_equal("qwen2", 1.0, 0);
  step_equal("qwen3", 1e-3, 0); /* clipping active */
  step_equal("llama", 0.0, 0);  /* clipping off; tied embeddings */
  step_equal("qwen2", 1e-3, 1); /* ZeRO-1 shard [n/3, 4n/5) */
  copies();
  CHECK_DONE();
}
