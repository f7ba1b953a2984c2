/* The 5-step AdamW trajectory of reference.json (transformers + torch.optim.AdamW, same batch
 * every step, clipping 1.0, no decay on biases / norm weights) on every golden model: loss and
 * pre-clip gradient norm per step and all parameters after the 5 steps, relative error <= 1e-4. */
#include <cjson/cJSON.h>

#include "check.h"
#include "long1k/io.h"
#include "long1k/safetensors.h"
#include "long1k/trajectory.h"

static int32_t *ids_of(const l1k_safetensors *st, const char *name, int *B, int *T) {
  const l1k_st_tensor *t = l1k_st_find(st, name);
  if (!t || t->ndim != 2) return NULL;
  *B = (int)t->shape[0];
  *T = (int)t->shape[1];
  int32_t *v = malloc(t->numel * sizeof *v);
  for (size_t i = 0; i < t->numel; i++)
    v[i] = t->dtype == L1K_DT_I64 ? (int32_t)((const int64_t *)t->data)[i]
                                  : ((const int32_t *)t->data)[i];
  return v;
}

int main(void) {
  /* tiny models: one thread is fastest, and the box is shared (keeps an explicit setting) */
  setenv("OMP_NUM_THREADS", "1", 0);
  const char *models[] = {"qwen2_tiny", "qwen3_tiny", "llama_tiny"};
  for (int k = 0; k < 3; k++) {
    char dir[512], ref[512], js[512], after[512];
    snprintf(dir, sizeof dir, "%s", shared_path("golden/models"));
    snprintf(ref, sizeof ref, "%s/%s/reference.safetensors", dir, models[k]);
    snprintf(js, sizeof js, "%s/%s/reference.json", dir, models[k]);
    snprintf(after, sizeof after, "%s/%s/params_after_5_steps.safetensors", dir, models[k]);
    char mdir[600];
    snprintf(mdir, sizeof mdir, "%s/%s/f32", dir, models[k]);
    l1k_err err = {0};
    l1k_model *m = l1k_model_load(mdir, &err);
    CHECK_MSG(m != NULL, "%s", err.msg);
    if (!m) continue;
    l1k_safetensors st;
    CHECK_MSG(l1k_st_open(&st, ref, &err) == 0, "%s", err.msg);
    int B = 0, T = 0, B2 = 0, T2 = 0;
    int32_t *ids = ids_of(&st, "input_ids", &B, &T), *labels = ids_of(&st, "labels", &B2, &T2);
    CHECK(ids && labels && B == B2 && T == T2);
    char *text = l1k_read_file(js, NULL, &err);
    cJSON *meta = text ? cJSON_Parse(text) : NULL;
    CHECK(meta != NULL);
    l1k_batch b = {B, T, ids, labels, NULL, NULL};
    l1k_buf out = {0};
    int ok = 1;
    float p0 = l1k_model_params(m)[123];
    int rc = l1k_parity_trajectory(m, &b, meta, after, 1e-4, &out, &ok, &err);
    CHECK_MSG(rc == 0, "%s: %s", models[k], err.msg);
    CHECK_MSG(ok, "%s: %s", models[k], out.data);
    fprintf(stderr, "%s: %s\n", models[k], out.data);
    CHECK(l1k_model_params(m)[123] == p0); /* parameters restored */
    /* a corrupted reference is caught: scale one reference loss */
    cJSON *step3 = cJSON_GetArrayItem(cJSON_GetObjectItem(meta, "trajectory"), 2);
    cJSON_SetNumberValue(cJSON_GetObjectItem(step3, "loss"),
                         cJSON_GetObjectItem(step3, "loss")->valuedouble * 1.001);
    out.len = 0;
    ok = 1;
    CHECK(l1k_parity_trajectory(m, &b, meta, NULL, 1e-4, &out, &ok, &err) == 0);
    CHECK(ok == 0);
    l1k_buf_free(&out);
    cJSON_Delete(meta);
    free(text);
    free(ids);
    free(labels);
    l1k_st_close(&st);
    l1k_model_free(m);
  }
  CHECK_DONE();
}
