/* LoRA parity against PEFT (goldens of tests/train/gen_lora_golden.py: peft 0.21.2,
 * transformers 5.25, torch 2.15, float64 references) on the three golden tiny models, each with
 * its own setting (qwen2: all linear modules; qwen3: use_rslora; llama: q/v/down subset, alpha
 * 5, rank 2, embed_tokens and lm_head as modules_to_save), an adapter PEFT saved with B (and the
 * modules_to_save copies) randomized:
 *   - the logits with the adapter (||ours - ref|| / ||ref|| <= 1e-4),
 *   - the gradient of every lora_A and lora_B (same metric, per tensor),
 *   - a 5-step AdamW trajectory over the adapter only (loss, grad norm, adapter after 5 steps),
 *   - the base untouched and without a gradient buffer,
 *   - merge = PEFT's merge_and_unload (every tensor), and the merged model's logits,
 *   - the check is sensitive: the same adapter with lora_alpha doubled fails it,
 *   - save -> load round trip is exact. */
#include <cjson/cJSON.h>
#include <math.h>
#include <unistd.h>

#include "check.h"
#include "long1k/adapter.h"
#include "long1k/io.h"
#include "long1k/safetensors.h"
#include "long1k/trajectory.h"


static double rel_l2(const float *a, const float *ref, size_t n) {
  double d2 = 0, r2 = 0;
  for (size_t i = 0; i < n; i++) {
    double d = (double)a[i] - ref[i];
    d2 += d * d;
    r2 += (double)ref[i] * ref[i];
  }
  return r2 > 0 ? sqrt(d2 / r2) : sqrt(d2);
}

static float *tensor_f32(const l1k_safetensors *st, const char *name, size_t *n) {
  const l1k_st_tensor *t = l1k_st_find(st, name);
  if (!t) return NULL;
  float *v = malloc(t->numel * sizeof *v);
  l1k_st_to_f32(t, v);
  if (n) *n = t->numel;
  return v;
}

static int32_t *ids_of(const l1k_safetensors *st, const char *name, int *B, int *T) {
  const l1k_st_tensor *t = l1k_st_find(st, name);
  if (!t || t->ndim != 2) return NULL;
  *B = (int)t->shape[0];
  *T = (int)t->shape[1];
  int32_t *v = malloc(t->numel * sizeof *v);
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

static double logits_err(l1k_model *m, const l1k_batch *b, const float *ref) {
  size_t n = (size_t)b->B * b->T * l1k_model_cfg(m)->vocab_size;
  float *lg = malloc(n * sizeof *lg);
  l1k_err err = {0};
  double e = 1e9;
  if (l1k_model_forward(m, b, lg, NULL, NULL, &err) == 0) e = rel_l2(lg, ref, n);
  else fprintf(stderr, "forward: %s\n", err.msg);
  free(lg);
  return e;
}

/* Copies the golden adapter to tmp with lora_alpha replaced. */
static void write_alpha_variant(const char *src, const char *dst, double alpha) {
  char p[700], q[700];
  snprintf(p, sizeof p, "%s/adapter_config.json", src);
  char *txt = l1k_read_file(p, NULL, NULL);
  cJSON *j = cJSON_Parse(txt);
  cJSON_ReplaceItemInObject(j, "lora_alpha", cJSON_CreateNumber(alpha));
  char *out = cJSON_Print(j);
  l1k_mkdir_p(dst, NULL);
  snprintf(q, sizeof q, "%s/adapter_config.json", dst);
  l1k_write_file_atomic(q, out, strlen(out), NULL);
  size_t len;
  snprintf(p, sizeof p, "%s/adapter_model.safetensors", src);
  char *w = l1k_read_file(p, &len, NULL);
  snprintf(q, sizeof q, "%s/adapter_model.safetensors", dst);
  l1k_write_file_atomic(q, w, len, NULL);
  free(w);
  free(out);
  cJSON_Delete(j);
  free(txt);
}

static void check_grads(l1k_model *m, const l1k_batch *b, const l1k_safetensors *ref,
                        const char *name) {
  l1k_err err = {0};
  int64_t targets = l1k_batch_count_targets(b, &err);
  l1k_model_zero_grads(m);
  double ls = 0;
  CHECK(l1k_model_forward_backward(m, b, 1.0 / (double)targets, &ls, NULL, &err) == 0);
  size_t n = l1k_model_num_trainable(m), nt = 0;
  const l1k_tensor_info *ti = l1k_model_trainable_tensors(m, &nt);
  float *g = malloc(n * sizeof *g);
  CHECK(l1k_model_grads_get(m, g, 0, n, &err) == 0);
  double worst = 0;
  for (size_t i = 0; i < nt; i++) {
    char key[160];
    snprintf(key, sizeof key, "grad.%s", ti[i].name);
    size_t k = 0;
    float *r = tensor_f32(ref, key, &k);
    CHECK_MSG(r && k == ti[i].numel, "%s: %s", name, key);
    if (!r) continue;
    double e = rel_l2(g + ti[i].offset, r, k);
    CHECK_MSG(e <= 1e-4, "%s: %s rel err %.3g", name, key, e);
    worst = e > worst ? e : worst;
    free(r);
  }
  fprintf(stderr, "%s: %zu adapter gradients, max rel err %.3g\n", name, nt, worst);
  CHECK(l1k_model_grads(m) == NULL); /* no gradient buffer for the frozen base */
  free(g);
}

static void check_merge(l1k_model *m, const l1k_batch *b, const float *ref_logits,
                        const char *gdir, const char *name) {
  l1k_err err = {0};
  char p[700];
  snprintf(p, sizeof p, "%s/merged.safetensors", gdir);
  l1k_safetensors st;
  CHECK(l1k_st_open(&st, p, &err) == 0);
  CHECK(l1k_model_adapter_merge(m, &err) == 0);
  CHECK_STR(l1k_model_adapter_kind(m), "none");
  size_t nt = 0;
  const l1k_tensor_info *ti = l1k_model_tensors(m, &nt);
  const float *params = l1k_model_params(m);
  double worst = 0;
  for (size_t i = 0; i < nt; i++) {
    size_t k = 0;
    float *r = tensor_f32(&st, ti[i].name, &k);
    if (!r && !strcmp(ti[i].name, "lm_head.weight")) continue; /* tied */
    CHECK_MSG(r && k == ti[i].numel, "%s: merged %s", name, ti[i].name);
    if (!r) continue;
    double e = rel_l2(params + ti[i].offset, r, k);
    worst = e > worst ? e : worst;
    free(r);
  }
  CHECK_MSG(worst <= 1e-6, "%s: merge vs merge_and_unload rel err %.3g", name, worst);
  double le = logits_err(m, b, ref_logits);
  CHECK_MSG(le <= 1e-4, "%s: merged logits rel err %.3g", name, le);
  fprintf(stderr, "%s: merge max rel err %.3g, merged logits %.3g\n", name, worst, le);
  l1k_st_close(&st);
}

static void check_roundtrip(l1k_model *m, const char *tmp, const char *name) {
  l1k_err err = {0};
  size_t n = l1k_model_num_trainable(m);
  float *a = malloc(n * sizeof *a), *c = malloc(n * sizeof *c);
  CHECK(l1k_model_params_get(m, a, 0, n, &err) == 0);
  CHECK_MSG(l1k_model_save_trained(m, tmp, "f32", "base", &err) == 0, "%s", err.msg);
  l1k_model_adapter_detach(m);
  CHECK_STR(l1k_model_adapter_kind(m), "none");
  CHECK_MSG(l1k_model_lora_load(m, tmp, &err) == 0, "%s: reload: %s", name, err.msg);
  CHECK(l1k_model_num_trainable(m) == n);
  CHECK(l1k_model_params_get(m, c, 0, n, &err) == 0);
  CHECK_MSG(memcmp(a, c, n * sizeof *a) == 0, "%s: save/load not exact", name);
  free(a);
  free(c);
}

int main(void) {
  setenv("OMP_NUM_THREADS", "1", 0);
  const char *models[] = {"qwen2_tiny", "qwen3_tiny", "llama_tiny"};
  char tmpl[] = "/tmp/l1k_lora_XXXXXX";
  const char *tmp = mkdtemp(tmpl);
  CHECK(tmp != NULL);
  for (int k = 0; k < 3; k++) {
    char mdir[600], gdir[600], p[700], adir[700];
    snprintf(mdir, sizeof mdir, "%s/%s/f32", shared_path("golden/models"), models[k]);
    const char *src = getenv("LONG1K_SRC");
    snprintf(gdir, sizeof gdir, "%s/tests/train/golden/lora/%s", src && *src ? src : ".", models[k]);
    snprintf(adir, sizeof adir, "%s/adapter", gdir);
    l1k_err err = {0};
    l1k_model *m = l1k_model_load(mdir, &err);
    CHECK_MSG(m != NULL, "%s", err.msg);
    if (!m) continue;
    size_t nb = l1k_model_num_params(m);
    float *base0 = malloc(nb * sizeof *base0);
    memcpy(base0, l1k_model_params(m), nb * sizeof *base0);
    CHECK_MSG(l1k_model_lora_load(m, adir, &err) == 0, "%s: %s", models[k], err.msg);
    CHECK_STR(l1k_model_adapter_kind(m), "lora");
    l1k_safetensors ref;
    snprintf(p, sizeof p, "%s/reference.safetensors", gdir);
    CHECK_MSG(l1k_st_open(&ref, p, &err) == 0, "%s", err.msg);
    int B = 0, T = 0, B2 = 0, T2 = 0;
    int32_t *ids = ids_of(&ref, "input_ids", &B, &T), *labels = ids_of(&ref, "labels", &B2, &T2);
    CHECK(ids && labels && B == B2 && T == T2);
    l1k_batch b = {B, T, ids, labels, NULL, NULL};
    float *ref_logits = tensor_f32(&ref, "logits", NULL);
    double le = logits_err(m, &b, ref_logits);
    CHECK_MSG(le <= 1e-4, "%s: logits rel err %.3g", models[k], le);
    fprintf(stderr, "%s: logits rel err %.3g\n", models[k], le);
    check_grads(m, &b, &ref, models[k]);
    /* trajectory over the adapter only */
    snprintf(p, sizeof p, "%s/reference.json", gdir);
    char *text = l1k_read_file(p, NULL, &err);
    cJSON *meta = text ? cJSON_Parse(text) : NULL;
    CHECK(meta != NULL);
    snprintf(p, sizeof p, "%s/params_after_5_steps.safetensors", gdir);
    l1k_buf out = {0};
    int ok = 1;
    CHECK_MSG(l1k_parity_trajectory(m, &b, meta, p, 1e-4, &out, &ok, &err) == 0, "%s", err.msg);
    CHECK_MSG(ok, "%s: %s", models[k], out.data);
    fprintf(stderr, "%s: %s\n", models[k], out.data);
    l1k_buf_free(&out);
    CHECK_MSG(memcmp(base0, l1k_model_params(m), nb * sizeof *base0) == 0,
              "%s: the frozen base changed", models[k]);
    /* save / reload, then merge against merge_and_unload */
    char rt[700];
    snprintf(rt, sizeof rt, "%s/%s_rt", tmp, models[k]);
    check_roundtrip(m, rt, models[k]);
    check_merge(m, &b, ref_logits, gdir, models[k]);
    /* a wrong scale (alpha doubled) is caught by the logits check */
    memcpy(l1k_model_params(m), base0, nb * sizeof *base0);
    char bad[700];
    snprintf(bad, sizeof bad, "%s/%s_alpha2", tmp, models[k]);
    const cJSON *ls = cJSON_GetObjectItem(cJSON_GetObjectItem(meta, "lora"), "lora_alpha");
    write_alpha_variant(adir, bad, 2 * ls->valuedouble);
    CHECK_MSG(l1k_model_lora_load(m, bad, &err) == 0, "%s", err.msg);
    double be = logits_err(m, &b, ref_logits);
    CHECK_MSG(be > 1e-3, "%s: doubled alpha not detected (%.3g)", models[k], be);
    cJSON_Delete(meta);
    free(text);
    free(ref_logits);
    free(ids);
    free(labels);
    free(base0);
    l1k_st_close(&ref);
    l1k_model_free(m);
  }
  if (tmp) l1k_rm_rf(tmp, NULL);
  CHECK_DONE();
}
