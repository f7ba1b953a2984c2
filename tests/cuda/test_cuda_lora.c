/* LoRA and freeze tuning on the CUDA backend (src/backend/cuda/lora.c), against the CPU backend
 * (itself equal to PEFT: tests/train/test_lora_parity.c) and against the PEFT goldens of
 * tests/train/gen_lora_golden.py (peft 0.21.2, transformers 5.25, float64 references) on the
 * three golden tiny models, each with its own setting (qwen2: all linear modules; qwen3:
 * use_rslora; llama: q/v/down, rank 2, embed_tokens and lm_head as modules_to_save):
 *   - float32 mode: the logits with the adapter, the gradient of every adapter tensor, a 5-step
 *     AdamW trajectory over the adapter (loss, gradient norm, adapter after 5 steps), each
 *     within 1e-4 of the CPU backend and of PEFT; the saved adapter equals the CPU's;
 *   - LoRA dropout: the CUDA gradients with a mask key equal the CPU's under the same key;
 *   - freeze tuning (the last layer, and the final norm): logits, gradients, trajectory
 *     against the CPU backend within 1e-4;
 *   - bf16 mode (bf16 frozen base, bf16 products): logits and gradients within 2e-2;
 *   - memory: the device bytes of a LoRA model (cudaMemGetInfo before and after attach,
 *     reserve and optim_init) are smaller than full fine-tuning's by at least the base's
 *     gradient and moment bytes (float32) and also its float32 master (bf16), less what the
 *     adapter itself holds: a base gradient buffer or master copy fails it.
 * The same program runs on the CUDA emulation (tests/cuda/test_cuda_emulated.sh) and, unchanged,
 * on a GPU. Without the CUDA backend or a device: the CPU half, then SKIP (exit 77). */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "long1k/adapter.h"
#include "long1k/io.h"
#include "long1k/model.h"
#include "long1k/safetensors.h"

#ifdef LONG1K_HAVE_CUDA
#include <cuda_runtime_api.h>

#include "backend/ops.h"
#endif

#define TOL 1e-4
#define BF16_TOL 2e-2

static const char *const MODELS[] = {"qwen2_tiny", "qwen3_tiny", "llama_tiny"};

static double rel_l2(const float *a, const float *ref, size_t n) {
  double d2 = 0, r2 = 0;
  for (size_t i = 0; i < n; i++) {
    double d = (double)a[i] - ref[i];
    d2 += d * d;
    r2 += (double)ref[i] * ref[i];
  }
  if (!(d2 == d2)) return INFINITY;
  return r2 > 0 ? sqrt(d2 / r2) : sqrt(d2);
}

static double rel1(double a, double b) { return fabs(a - b) / (fabs(b) > 1e-30 ? fabs(b) : 1e-30); }

static void report(const char *who, const char *model, const char *what, double e, double tol) {
  fprintf(stderr, "%-10s %-11s %-40s rel_err %.3e%s\n", who, model, what, e, e <= tol ? "" : "  FAIL");
  CHECK_MSG(e <= tol, "%s %s %s: relative error %.3e > %g", who, model, what, e, tol);
}

static void *xmalloc(size_t n) {
  void *p = malloc(n ? n : 1);
  if (!p) exit(1);
  return p;
}

/* ---------------------------------------------------------------- goldens */

typedef struct golden {
  const char *name;
  char dir[600], mdir[600];
  l1k_safetensors st;
  cJSON *meta;
  int32_t *ids, *labels;
  int B, T;
} golden;

static int32_t *ids_of(const l1k_safetensors *st, const char *name, int *B, int *T) {
  const l1k_st_tensor *t = l1k_st_find(st, name);
  CHECK_MSG(t && t->ndim == 2, "%s: tensor %s: expected 2-D ids", st->path, name);
  if (!t || t->ndim != 2) return NULL;
  *B = (int)t->shape[0];
  *T = (int)t->shape[1];
  int32_t *v = xmalloc(t->numel * sizeof *v);
  for (size_t i = 0; i < t->numel; i++) {
    int64_t x = 0;
    if (t->dtype == L1K_DT_I64) memcpy(&x, (const char *)t->data + 8 * i, 8);
    else {
      int32_t y;
      memcpy(&y, (const char *)t->data + 4 * i, 4);
      x = y;
    }
    v[i] = (int32_t)x;
  }
  return v;
}

static float *tensor_f32(const l1k_safetensors *st, const char *name, size_t numel) {
  const l1k_st_tensor *t = l1k_st_find(st, name);
  CHECK_MSG(t && t->numel == numel, "%s: tensor %s: expected %zu values", st->path, name, numel);
  if (!t || t->numel != numel) return NULL;
  float *v = xmalloc(numel * sizeof *v);
  l1k_st_to_f32(t, v);
  return v;
}

static int golden_open(golden *g, const char *name) {
  memset(g, 0, sizeof *g);
  g->name = name;
  const char *src = getenv("LONG1K_SRC");
  snprintf(g->dir, sizeof g->dir, "%s/tests/train/golden/lora/%s", src && *src ? src : ".", name);
  snprintf(g->mdir, sizeof g->mdir, "%s/%s/f32", shared_path("golden/models"), name);
  char p[700];
  l1k_err err = {0};
  snprintf(p, sizeof p, "%s/reference.safetensors", g->dir);
  if (l1k_st_open(&g->st, p, &err)) {
    CHECK_MSG(0, "%s", err.msg);
    return -1;
  }
  snprintf(p, sizeof p, "%s/reference.json", g->dir);
  char *txt = l1k_read_file(p, NULL, &err);
  g->meta = txt ? cJSON_Parse(txt) : NULL;
  free(txt);
  CHECK_MSG(cJSON_IsObject(g->meta), "%s: expected a JSON object", p);
  int B2 = 0, T2 = 0;
  g->ids = ids_of(&g->st, "input_ids", &g->B, &g->T);
  g->labels = ids_of(&g->st, "labels", &B2, &T2);
  CHECK(g->B == B2 && g->T == T2);
  return g->ids && g->labels && g->meta ? 0 : -1;
}

static void golden_close(golden *g) {
  l1k_st_close(&g->st);
  cJSON_Delete(g->meta);
  free(g->ids), free(g->labels);
}

/* The golden model with the golden PEFT adapter (lora) or freeze tuning of its last layer. */
static l1k_model *load(const golden *g, int freeze) {
  l1k_err err = {0};
  l1k_model *m = l1k_model_load(g->mdir, &err);
  CHECK_MSG(m != NULL, "%s", err.msg);
  if (!m) return NULL;
  char adir[700];
  snprintf(adir, sizeof adir, "%s/adapter", g->dir);
  int rc = freeze ? l1k_model_freeze(m, 1, "all", "norm", &err) : l1k_model_lora_load(m, adir, &err);
  CHECK_MSG(rc == 0, "%s: %s", g->name, err.msg);
  if (rc) {
    l1k_model_free(m);
    return NULL;
  }
  return m;
}

/* ---------------------------------------------------------------- what a backend computes */

typedef struct result {
  float *logits, *grads, *after; /* after: the trainable space after the trajectory */
  double loss[8], gnorm[8];
  size_t n_logits, n;
} result;

static void result_free(result *r) { free(r->logits), free(r->grads), free(r->after); }

static int run_grads(l1k_model *m, const golden *g, float *out, l1k_err *err) {
  l1k_batch b = {g->B, g->T, g->ids, g->labels, NULL, NULL};
  int64_t targets = l1k_batch_count_targets(&b, err);
  l1k_model_zero_grads(m);
  int rc = l1k_model_forward_backward(m, &b, 1.0 / (double)targets, NULL, NULL, err);
  if (!rc) rc = l1k_model_grads_get(m, out, 0, l1k_model_num_trainable(m), err);
  return rc;
}

/* logits, gradients, and (steps > 0) reference.json's AdamW trajectory */
static int run(l1k_model *m, const golden *g, int steps, result *r, l1k_err *err) {
  memset(r, 0, sizeof *r);
  l1k_batch b = {g->B, g->T, g->ids, g->labels, NULL, NULL};
  r->n_logits = (size_t)g->B * g->T * l1k_model_cfg(m)->vocab_size;
  r->n = l1k_model_num_trainable(m);
  r->logits = xmalloc(r->n_logits * sizeof(float));
  r->grads = xmalloc(r->n * sizeof(float));
  r->after = xmalloc(r->n * sizeof(float));
  int rc = l1k_model_forward(m, &b, r->logits, NULL, NULL, err);
  if (!rc) rc = run_grads(m, g, r->grads, err);
  if (rc || !steps) return rc;
  const cJSON *aw = cJSON_GetObjectItem(g->meta, "adamw");
  const cJSON *betas = cJSON_GetObjectItem(aw, "betas");
  double lr = cJSON_GetObjectItem(aw, "lr")->valuedouble;
  double clip = cJSON_GetObjectItem(aw, "clip_grad_norm")->valuedouble;
  rc = l1k_model_optim_init(m, cJSON_GetArrayItem(betas, 0)->valuedouble,
                            cJSON_GetArrayItem(betas, 1)->valuedouble,
                            cJSON_GetObjectItem(aw, "eps")->valuedouble,
                            cJSON_GetObjectItem(aw, "weight_decay")->valuedouble, 0, r->n, err);
  int64_t targets = l1k_batch_count_targets(&b, err);
  for (int s = 0; s < steps && !rc; s++) {
    double ls = 0;
    l1k_model_zero_grads(m);
    rc = l1k_model_forward_backward(m, &b, 1.0 / (double)targets, &ls, NULL, err);
    if (!rc) rc = l1k_model_step(m, lr, clip, 0, r->n, &r->gnorm[s], err);
    r->loss[s] = ls / (double)targets;
  }
  if (!rc) rc = l1k_model_params_get(m, r->after, 0, r->n, err);
  return rc;
}

/* Every trainable tensor of ours against ref (a result, or the golden's "grad.<name>"). */
static void check_grads(const char *who, l1k_model *m, const golden *g, const float *ours,
                        const float *ref, double tol) {
  size_t nt = 0;
  const l1k_tensor_info *ti = l1k_model_trainable_tensors(m, &nt);
  double worst = 0;
  const char *wn = "";
  for (size_t i = 0; i < nt; i++) {
    float *r = NULL;
    const float *rv = ref ? ref + ti[i].offset : NULL;
    if (!ref) {
      char key[200];
      snprintf(key, sizeof key, "grad.%s", ti[i].name);
      if (!(rv = r = tensor_f32(&g->st, key, ti[i].numel))) continue;
    }
    double e = rel_l2(ours + ti[i].offset, rv, ti[i].numel);
    if (e > worst || i == 0) worst = e, wn = ti[i].name;
    free(r);
  }
  char what[200];
  snprintf(what, sizeof what, "%zu grads vs %s (worst %.40s)", nt, ref ? "cpu" : "peft",
           strrchr(wn, '.') ? wn + (strlen(wn) > 40 ? strlen(wn) - 40 : 0) : wn);
  report(who, g->name, what, worst, tol);
}

static void check_trajectory(const char *who, const golden *g, const result *ours,
                             const result *cpu, int vs_peft) {
  double wl = 0, wg = 0, wlc = 0, wgc = 0;
  const cJSON *tr = cJSON_GetObjectItem(g->meta, "trajectory");
  for (int s = 0; s < 5; s++) {
    if (vs_peft) {
      const cJSON *e = cJSON_GetArrayItem(tr, s);
      wl = fmax(wl, rel1(ours->loss[s], cJSON_GetObjectItem(e, "loss")->valuedouble));
      wg = fmax(wg, rel1(ours->gnorm[s], cJSON_GetObjectItem(e, "grad_norm_before_clip")->valuedouble));
    }
    wlc = fmax(wlc, rel1(ours->loss[s], cpu->loss[s]));
    wgc = fmax(wgc, rel1(ours->gnorm[s], cpu->gnorm[s]));
  }
  report(who, g->name, "5 AdamW steps: loss vs cpu", wlc, TOL);
  report(who, g->name, "5 AdamW steps: grad norm vs cpu", wgc, TOL);
  report(who, g->name, "5 AdamW steps: trained tensors vs cpu", rel_l2(ours->after, cpu->after, ours->n), TOL);
  if (!vs_peft) return;
  report(who, g->name, "5 AdamW steps: loss vs peft", wl, TOL);
  report(who, g->name, "5 AdamW steps: grad norm vs peft", wg, TOL);
}

/* params_after_5_steps.safetensors (PEFT's adapter after the trajectory), per tensor */
static void check_after_peft(const char *who, l1k_model *m, const golden *g, const result *r) {
  char p[700];
  l1k_err err = {0};
  snprintf(p, sizeof p, "%s/params_after_5_steps.safetensors", g->dir);
  l1k_safetensors st;
  if (l1k_st_open(&st, p, &err)) {
    CHECK_MSG(0, "%s", err.msg);
    return;
  }
  size_t nt = 0;
  const l1k_tensor_info *ti = l1k_model_trainable_tensors(m, &nt);
  double worst = 0;
  for (size_t i = 0; i < nt; i++) {
    float *ref = tensor_f32(&st, ti[i].name, ti[i].numel);
    if (!ref) continue;
    worst = fmax(worst, rel_l2(r->after + ti[i].offset, ref, ti[i].numel));
    free(ref);
  }
  report(who, g->name, "adapter after 5 steps vs peft", worst, TOL);
  l1k_st_close(&st);
}

#ifdef LONG1K_HAVE_CUDA
/* ---------------------------------------------------------------- the CUDA backend */

static int to_cuda(l1k_model *m, int bf16, l1k_err *err) {
  l1k_device_opts o = {bf16 ? L1K_DEVICE_PREC_BF16 : L1K_DEVICE_PREC_FP32, 1, 0, 0, "device", 0};
  return l1k_model_attach(m, "cuda", &o, err);
}

static void lora_f32(const golden *g, const result *cpu) {
  l1k_err err = {0};
  l1k_model *m = load(g, 0);
  if (!m) return;
  result r;
  int rc = to_cuda(m, 0, &err);
  CHECK_MSG(rc == 0, "attach: %s", err.msg);
  CHECK_STR(l1k_model_device(m), "cuda");
  CHECK(l1k_model_grads_host(m) == NULL && l1k_model_grads(m) == NULL);
  if (!rc) rc = run(m, g, 5, &r, &err);
  CHECK_MSG(rc == 0, "%s: cuda lora: %s", g->name, err.msg);
  if (!rc) {
    float *ref = tensor_f32(&g->st, "logits", r.n_logits);
    if (ref) report("cuda", g->name, "logits vs peft", rel_l2(r.logits, ref, r.n_logits), TOL);
    free(ref);
    report("cuda", g->name, "logits vs cpu", rel_l2(r.logits, cpu->logits, r.n_logits), TOL);
    check_grads("cuda", m, g, r.grads, NULL, TOL);
    check_grads("cuda", m, g, r.grads, cpu->grads, TOL);
    check_trajectory("cuda", g, &r, cpu, 1);
    check_after_peft("cuda", m, g, &r);
    /* what train saves: the PEFT files of the device's adapter equal the CPU's */
    char tmpl[] = "/tmp/l1k_culora_XXXXXX";
    char *dir = mkdtemp(tmpl);
    CHECK(dir != NULL);
    if (dir) {
      CHECK_MSG(l1k_model_save_trained(m, dir, "f32", "base", &err) == 0, "save: %s", err.msg);
      l1k_model *m2 = load(g, 0);
      if (m2) {
        l1k_model_adapter_detach(m2);
        CHECK_MSG(l1k_model_lora_load(m2, dir, &err) == 0, "reload: %s", err.msg);
        const float *p2 = l1k_model_trainable_params(m2);
        CHECK(p2 && rel_l2(p2, cpu->after, r.n) <= TOL);
        l1k_model_free(m2);
      }
      l1k_rm_rf(dir, NULL);
    }
    result_free(&r);
  }
  l1k_model_free(m);
}

static void bf16_mode(const golden *g, int freeze, const result *cpu) {
  l1k_err err = {0};
  l1k_model *m = load(g, freeze);
  if (!m) return;
  result r;
  int rc = to_cuda(m, 1, &err);
  if (!rc) rc = run(m, g, 0, &r, &err);
  CHECK_MSG(rc == 0, "%s: cuda bf16: %s", g->name, err.msg);
  if (!rc) {
    const char *who = freeze ? "cuda-bf16 freeze" : "cuda-bf16";
    report(who, g->name, "logits vs cpu", rel_l2(r.logits, cpu->logits, r.n_logits), BF16_TOL);
    check_grads(who, m, g, r.grads, cpu->grads, BF16_TOL);
    result_free(&r);
  }
  l1k_model_free(m);
}

static void freeze_f32(const golden *g, const result *cpu) {
  l1k_err err = {0};
  l1k_model *m = load(g, 1);
  if (!m) return;
  result r;
  int rc = to_cuda(m, 0, &err);
  if (!rc) rc = run(m, g, 5, &r, &err);
  CHECK_MSG(rc == 0, "%s: cuda freeze: %s", g->name, err.msg);
  if (!rc) {
    report("cuda freeze", g->name, "logits vs cpu", rel_l2(r.logits, cpu->logits, r.n_logits), TOL);
    check_grads("cuda freeze", m, g, r.grads, cpu->grads, TOL);
    check_trajectory("cuda freeze", g, &r, cpu, 0);
    result_free(&r);
  }
  l1k_model_free(m);
}

/* LoRA dropout: the same key draws the same masks on both backends. */
static void dropout_grads(const golden *g) {
  l1k_err err = {0};
  float *gr[2] = {NULL, NULL};
  size_t n = 0;
  for (int dev = 0; dev < 2; dev++) {
    l1k_model *m = l1k_model_load(g->mdir, &err);
    if (!m) continue;
    l1k_lora_opts o = {4, 8, 0, 0x7f, 0, 0.3};
    CHECK_MSG(l1k_model_lora_new(m, &o, 5, &err) == 0, "%s", err.msg);
    n = l1k_model_num_trainable(m);
    float *p = xmalloc(n * sizeof *p); /* B != 0, so every A gets a gradient */
    uint32_t s = 99;
    for (size_t i = 0; i < n; i++) p[i] = ((s = s * 1664525u + 1013904223u) >> 8) / 16777216.0f - 0.5f;
    CHECK(l1k_model_params_set(m, p, 0, n, &err) == 0);
    free(p);
    if (dev && to_cuda(m, 0, &err)) CHECK_MSG(0, "attach: %s", err.msg);
    l1k_model_lora_dropout_key(m, 1234);
    gr[dev] = xmalloc(n * sizeof(float));
    CHECK_MSG(run_grads(m, g, gr[dev], &err) == 0, "%s", err.msg);
    l1k_model_free(m);
  }
  if (gr[0] && gr[1]) report("cuda", g->name, "lora_dropout 0.3 grads vs cpu", rel_l2(gr[1], gr[0], n), TOL);
  free(gr[0]), free(gr[1]);
}

/* ---------------------------------------------------------------- memory */

static uint64_t used_after(l1k_model *m, int lora, int bf16, size_t *n_ad, l1k_err *err) {
  size_t fr0 = 0, fr1 = 0, tot = 0;
  cudaMemGetInfo(&fr0, &tot);
  if (lora) {
    l1k_lora_opts o = {8, 16, 0, 0x7f, 0, 0};
    if (l1k_model_lora_new(m, &o, 1, err)) return 0;
  }
  int rc = to_cuda(m, bf16, err);
  size_t n = l1k_model_num_trainable(m);
  if (!rc) rc = l1k_model_reserve(m, 1, 64, err);
  if (!rc) rc = l1k_model_optim_init(m, 0.9, 0.95, 1e-8, 0.0, 0, n, err);
  if (!rc) {
    int32_t ids[64];
    for (int i = 0; i < 64; i++) ids[i] = (i * 13 + 5) % 1000;
    l1k_batch b = {1, 64, ids, ids, NULL, NULL};
    rc = l1k_model_forward_backward(m, &b, 1e-2, NULL, NULL, err); /* the LoRA activations too */
  }
  cudaMemGetInfo(&fr1, &tot);
  *n_ad = lora ? n : 0;
  l1k_model_attach(m, "cpu", NULL, NULL); /* the device memory goes back */
  if (lora) l1k_model_adapter_detach(m);
  return rc ? 0 : (uint64_t)(fr0 - fr1);
}

static void check_memory(void) {
  l1k_model_config c;
  memset(&c, 0, sizeof c);
  snprintf(c.model_type, sizeof c.model_type, "qwen2");
  c.vocab_size = 4096, c.hidden_size = 256, c.intermediate_size = 768, c.num_hidden_layers = 4;
  c.num_attention_heads = 4, c.num_key_value_heads = 2, c.head_dim = 64;
  c.max_position_embeddings = 512, c.rope_theta = 1e4, c.rms_norm_eps = 1e-6;
  c.initializer_range = 0.02, c.pad_token_id = -1, c.n_eos = 1, c.attention_bias = 1;
  snprintf(c.torch_dtype, sizeof c.torch_dtype, "float32");
  l1k_err err = {0};
  l1k_model *m = l1k_model_create(&c, &err);
  CHECK_MSG(m != NULL, "%s", err.msg);
  if (!m) return;
  uint64_t n = l1k_model_num_params(m), slack = (uint64_t)4 << 20;
  for (int bf16 = 0; bf16 < 2; bf16++) {
    size_t nad = 0, none = 0;
    uint64_t full = used_after(m, 0, bf16, &none, &err);
    CHECK_MSG(full > 0, "full fine-tuning: %s", err.msg);
    uint64_t lora = used_after(m, 1, bf16, &nad, &err);
    CHECK_MSG(lora > 0, "lora: %s", err.msg);
    /* full: weights + gradients + 2 moments (+ bf16 copy); LoRA: the base alone (bf16: 2 bytes,
     * norms and biases float32) + the adapter's own master, gradients, moments (+ bf16 copy) */
    uint64_t base_saved = bf16 ? 16 * n : 12 * n, adapter = (bf16 ? 18 : 16) * (uint64_t)nad;
    fprintf(stderr, "memory %s: full fine-tuning %.2f MB, LoRA r8 all %.2f MB (%zu adapter "
            "parameters, %llu base)\n", bf16 ? "bf16" : "f32 ", full / 1e6, lora / 1e6, nad,
            (unsigned long long)n);
    CHECK_MSG(lora + base_saved <= full + adapter + slack,
              "%s: LoRA holds %.2f MB, full fine-tuning %.2f MB: expected at most %.2f MB",
              bf16 ? "bf16" : "f32", lora / 1e6, full / 1e6,
              (full + adapter + slack - base_saved) / 1e6);
  }
  l1k_model_free(m);
}
#endif

/* ---------------------------------------------------------------- main */

static golden g[3];
static result cpu[3], cpu_fz[3];

static void cleanup(void) {
  for (int i = 0; i < 3; i++) {
    result_free(&cpu[i]);
    result_free(&cpu_fz[i]);
    golden_close(&g[i]);
  }
}

int main(void) {
  setenv("OMP_NUM_THREADS", "1", 0);
  char probe[512];
  snprintf(probe, sizeof probe, "%s/qwen2_tiny/f32", shared_path("golden/models"));
  if (!l1k_is_dir(probe)) SKIP("no golden models at %s", shared_path("golden/models"));
  int nm = (int)(sizeof MODELS / sizeof MODELS[0]);
  l1k_err err = {0};
  atexit(cleanup);
  /* 1. the CPU backend, checked against PEFT here too: what the device is judged by */
  for (int i = 0; i < nm; i++) {
    memset(&cpu[i], 0, sizeof cpu[i]);
    memset(&cpu_fz[i], 0, sizeof cpu_fz[i]);
    if (golden_open(&g[i], MODELS[i])) continue;
    for (int fz = 0; fz < 2; fz++) {
      l1k_model *m = load(&g[i], fz);
      if (!m) continue;
      result *r = fz ? &cpu_fz[i] : &cpu[i];
      CHECK_MSG(run(m, &g[i], 5, r, &err) == 0, "cpu: %s", err.msg);
      if (!fz) {
        float *ref = tensor_f32(&g[i].st, "logits", r->n_logits);
        if (ref) report("cpu", g[i].name, "logits vs peft", rel_l2(r->logits, ref, r->n_logits), TOL);
        free(ref);
        check_grads("cpu", m, &g[i], r->grads, NULL, TOL);
        check_after_peft("cpu", m, &g[i], r);
      }
      l1k_model_free(m);
    }
  }
  if (check_failures) CHECK_DONE();
#ifndef LONG1K_HAVE_CUDA
  SKIP("long1k was built without the CUDA backend (no nvcc at build time)");
#else
  char why[256];
  if (!l1k_backend_cuda_ops.available(why, sizeof why)) {
    fprintf(stderr, "(%d CPU checks passed)\n", check_count);
    SKIP("%s", why);
  }
  /* 2. the CUDA backend */
  for (int i = 0; i < nm; i++) {
    if (!cpu[i].logits) continue;
    lora_f32(&g[i], &cpu[i]);
    freeze_f32(&g[i], &cpu_fz[i]);
    bf16_mode(&g[i], 0, &cpu[i]);
    bf16_mode(&g[i], 1, &cpu_fz[i]);
  }
  dropout_grads(&g[0]);
  check_memory();
#endif
  CHECK_DONE();
}
