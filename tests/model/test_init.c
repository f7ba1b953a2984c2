/* Random init like transformers, save (f32 / bf16) and load back (single file and sharded
 * index), then run a forward pass on the loaded model. */
#include <unistd.h>

#include "check.h"
#include "long1k/io.h"
#include "long1k/jsonl.h"
#include "long1k/safetensors.h"
#include "tiny.h"

int main(void) {
  l1k_err err = {0};
  char dir[128], p[300];
  snprintf(dir, sizeof dir, "/tmp/l1k_init_%d", (int)getpid());
  const char *fams[3] = {"qwen2", "qwen3", "llama"};
  for (int f = 0; f < 3; f++) {
    l1k_model_config c = tiny_config(fams[f]);
    c.initializer_range = 0.02;
    c.vocab_size = 300;
    c.hidden_size = 32;
    c.pad_token_id = 5;
    l1k_model *m = l1k_model_create(&c, &err);
    CHECK(m != NULL);
    if (!m) continue;
    l1k_model_init_random(m, 1234);
    size_t n;
    const l1k_tensor_info *t = l1k_model_tensors(m, &n);
    float *w = l1k_model_params(m);
    /* statistics: weights ~ N(0, 0.02), norms 1, biases 0, pad row zero */
    for (size_t i = 0; i < n; i++) {
      const float *x = w + t[i].offset;
      if (t[i].ndim == 1) {
        int bias = strstr(t[i].name, ".bias") != NULL, good = 1;
        for (size_t j = 0; j < t[i].numel; j++) good &= x[j] == (bias ? 0.0f : 1.0f);
        CHECK_MSG(good, "%s", t[i].name);
        CHECK(t[i].no_decay);
      } else {
        double s = 0, s2 = 0;
        for (size_t j = 0; j < t[i].numel; j++) s += x[j], s2 += (double)x[j] * x[j];
        double mean = s / t[i].numel, sd = sqrt(s2 / t[i].numel - mean * mean);
        double tol = 4 * 0.02 / sqrt((double)t[i].numel); /* 4 sigma */
        CHECK_MSG(fabs(sd - 0.02) < tol && fabs(mean) < tol, "%s: mean %g sd %g", t[i].name, mean, sd);
        CHECK(!t[i].no_decay);
      }
    }
    const l1k_tensor_info *emb = l1k_model_tensor(m, "model.embed_tokens.weight");
    int zero = 1;
    for (int j = 0; j < c.hidden_size; j++) zero &= w[emb->offset + 5 * c.hidden_size + j] == 0.0f;
    CHECK(zero);
    CHECK((l1k_model_tensor(m, "lm_head.weight") == NULL) == (c.tie_word_embeddings != 0));
    /* same seed -> same weights; another seed -> different */
    l1k_model *m2 = l1k_model_create(&c, &err);
    l1k_model_init_random(m2, 1234);
    CHECK(!memcmp(l1k_model_params(m2), w, l1k_model_num_params(m) * 4));
    l1k_model_init_random(m2, 1235);
    CHECK(memcmp(l1k_model_params(m2), w, l1k_model_num_params(m) * 4) != 0);
    l1k_model_free(m2);

    /* save f32 -> load -> identical; forward runs */
    CHECK_MSG(l1k_model_save(m, dir, "f32", &err) == 0, "%s", err.msg);
    l1k_model *r = l1k_model_load(dir, &err);
    CHECK_MSG(r != NULL, "%s", err.msg);
    if (r) {
      CHECK(l1k_model_num_params(r) == l1k_model_num_params(m));
      CHECK(!memcmp(l1k_model_params(r), w, l1k_model_num_params(m) * 4));
      CHECK_STR(l1k_model_cfg(r)->model_type, fams[f]);
      CHECK(l1k_model_cfg(r)->rope_type == c.rope_type && l1k_model_cfg(r)->head_dim == c.head_dim);
      int32_t ids[8] = {1, 7, 9, 299, 0, 3, 5, 8}, lab[8] = {1, 7, 9, 299, 0, 3, 5, 8};
      l1k_batch b = {1, 8, ids, lab, NULL, NULL};
      float *lg = malloc(8 * 300 * sizeof *lg);
      double ls;
      int64_t nt;
      CHECK(l1k_model_forward(r, &b, lg, &ls, &nt, &err) == 0);
      CHECK(nt == 7 && isfinite(ls) && fabs(ls / nt - log(300.0)) < 0.5); /* near-uniform */
      free(lg);
      /* saving a loaded model keeps its config.json, with the new dtype */
      char d2[200];
      snprintf(d2, sizeof d2, "%s_re", dir);
      CHECK(l1k_model_save(r, d2, "bf16", &err) == 0);
      l1k_model *r2 = l1k_model_load(d2, &err);
      CHECK(r2 != NULL);
      if (r2) {
        CHECK_STR(l1k_model_stored_dtype(r2), "BF16");
        CHECK_STR(l1k_model_cfg(r2)->torch_dtype, "bfloat16");
        const float *a = l1k_model_params(r2);
        int ok = 1;
        for (size_t j = 0; j < l1k_model_num_params(m); j++)
          ok &= a[j] == l1k_bf16_to_f32(l1k_f32_to_bf16(w[j]));
        CHECK(ok);
        l1k_model_free(r2);
      }
      l1k_rm_rf(d2, &err);
      l1k_model_free(r);
    }
    /* sharded: split model.safetensors into two shards + index */
    l1k_safetensors st;
    snprintf(p, sizeof p, "%s/model.safetensors", dir);
    CHECK(l1k_st_open(&st, p, &err) == 0);
    l1k_st_entry *e = calloc(st.n, sizeof *e);
    for (size_t i = 0; i < st.n; i++) {
      e[i].name = st.t[i].name;
      e[i].dtype = st.t[i].dtype;
      e[i].ndim = st.t[i].ndim;
      memcpy(e[i].shape, st.t[i].shape, sizeof e[i].shape);
      e[i].data = st.t[i].data;
    }
    size_t half = st.n / 2;
    char s1[300], s2[300];
    snprintf(s1, sizeof s1, "%s/model-00001-of-00002.safetensors", dir);
    snprintf(s2, sizeof s2, "%s/model-00002-of-00002.safetensors", dir);
    CHECK(l1k_st_write(s1, e, half, NULL, 0, &err) == 0);
    CHECK(l1k_st_write(s2, e + half, st.n - half, NULL, 0, &err) == 0);
    l1k_buf ix = {0};
    l1k_buf_puts(&ix, "{\"metadata\":{},\"weight_map\":{");
    for (size_t i = 0; i < st.n; i++)
      l1k_buf_printf(&ix, "%s\"%s\":\"model-0000%d-of-00002.safetensors\"", i ? "," : "", st.t[i].name,
                     i < half ? 1 : 2);
    l1k_buf_puts(&ix, "}}");
    free(e);
    l1k_st_close(&st);
    unlink(p);
    snprintf(p, sizeof p, "%s/model.safetensors.index.json", dir);
    CHECK(l1k_write_file_atomic(p, ix.data, ix.len, &err) == 0);
    l1k_buf_free(&ix);
    r = l1k_model_load(dir, &err);
    CHECK_MSG(r != NULL, "sharded: %s", err.msg);
    if (r) {
      CHECK(!memcmp(l1k_model_params(r), w, l1k_model_num_params(m) * 4));
      l1k_model_free(r);
    }
    l1k_rm_rf(dir, &err);
    l1k_model_free(m);
  }
  CHECK_DONE();
}
