/* Adapters without references: PEFT's LoRA initialization (lora_A ~ U(-1/sqrt(in), 1/sqrt(in)),
 * the bounds and moments of the uniform law; lora_B zero, so the model computes the base
 * function), determinism per seed, lora_target subsets, the trainable space (only the adapter
 * gets gradients; the base none), a finite-difference check of the LoRA gradients with B != 0,
 * freeze tuning's LLaMA-Factory rules, and the PEFT loader's refusals (one line each). */
#include <cjson/cJSON.h>
#include <math.h>
#include <unistd.h>

#include "check.h"
#include "long1k/adapter.h"
#include "long1k/generate.h"
#include "long1k/io.h"
#include "long1k/safetensors.h"
#include "model/tiny.h"

static void batch_of(l1k_batch *b, int32_t *ids, int32_t *labels, int T, int V) {
  for (int i = 0; i < T; i++) {
    ids[i] = (i * 7 + 3) % V;
    labels[i] = i < 3 ? -100 : ids[i];
  }
  *b = (l1k_batch){1, T, ids, labels, NULL, NULL};
}

static double loss_of(l1k_model *m, const l1k_batch *b) {
  double ls = 0;
  int64_t nt = 0;
  l1k_err err = {0};
  l1k_model_forward(m, b, NULL, &ls, &nt, &err);
  return ls / (double)nt;
}

static void test_init(void) {
  l1k_model *m = tiny_model("qwen2", 5);
  l1k_err err = {0};
  int32_t ids[12], labels[12];
  l1k_batch b;
  batch_of(&b, ids, labels, 12, l1k_model_cfg(m)->vocab_size);
  double base = loss_of(m, &b);
  l1k_lora_opts o = {4, 8, 0, 0, 0, 0};
  CHECK(l1k_lora_parse_targets("all", "lora_target", &o.targets, &err) == 0);
  CHECK(o.targets == 0x7f);
  CHECK(l1k_model_lora_new(m, &o, 42, &err) == 0);
  CHECK_STR(l1k_model_adapter_kind(m), "lora");
  CHECK(loss_of(m, &b) == base); /* B = 0: exactly the base function */
  size_t nt = 0;
  const l1k_tensor_info *ti = l1k_model_trainable_tensors(m, &nt);
  const float *p = l1k_model_trainable_params(m);
  CHECK(nt == 2 * 7 * 2);
  int nA = 0;
  for (size_t i = 0; i < nt; i++) {
    const float *v = p + ti[i].offset;
    if (strstr(ti[i].name, "lora_B")) {
      for (size_t k = 0; k < ti[i].numel; k++) CHECK(v[k] == 0.0f);
      continue;
    }
    nA++;
    double bound = 1.0 / sqrt((double)ti[i].shape[1]), s1 = 0, s2 = 0, mx = 0;
    for (size_t k = 0; k < ti[i].numel; k++) {
      CHECK(fabs(v[k]) <= bound);
      s1 += v[k];
      s2 += (double)v[k] * v[k];
      mx = fabs(v[k]) > mx ? fabs(v[k]) : mx;
    }
    double n = (double)ti[i].numel, mean = s1 / n, var = s2 / n;
    /* U(-b, b): mean 0, variance b^2 / 3; with n >= 64 samples, loose 5-sigma-ish bounds */
    CHECK_MSG(fabs(mean) < 5 * bound / sqrt(3 * n), "%s mean %g", ti[i].name, mean);
    CHECK_MSG(fabs(var / (bound * bound / 3) - 1) < 0.5, "%s var %g", ti[i].name, var);
    CHECK_MSG(mx > 0.8 * bound, "%s max %g of %g", ti[i].name, mx, bound);
  }
  CHECK(nA == 14);
  /* the same seed gives the same bytes; another seed other bytes */
  size_t n = l1k_model_num_trainable(m);
  float *a = malloc(n * sizeof *a);
  memcpy(a, p, n * sizeof *a);
  l1k_model_adapter_detach(m);
  CHECK(l1k_model_lora_new(m, &o, 42, &err) == 0);
  CHECK(memcmp(a, l1k_model_trainable_params(m), n * sizeof *a) == 0);
  l1k_model_adapter_detach(m);
  CHECK(l1k_model_lora_new(m, &o, 43, &err) == 0);
  CHECK(memcmp(a, l1k_model_trainable_params(m), n * sizeof *a) != 0);
  /* the CPU generator reads the base weights: refused until the adapter is merged */
  CHECK(l1k_generator_create(m, 1, 16, &err) == NULL);
  CHECK(strstr(err.msg, "merge it first") != NULL);
  /* a second adapter is refused */
  CHECK(l1k_model_lora_new(m, &o, 1, &err) == L1K_EINPUT);
  CHECK(strstr(err.msg, "already has a lora adapter") != NULL);
  free(a);
  l1k_model_free(m);
}

/* The training loss (forward_backward: LoRA dropout on, with the key set) of the batch. */
static double train_loss(l1k_model *m, const l1k_batch *b, int64_t targets) {
  double ls = 0;
  l1k_err err = {0};
  l1k_model_zero_grads(m);
  l1k_model_forward_backward(m, b, 1.0 / (double)targets, &ls, NULL, &err);
  return ls / (double)targets;
}

/* The order the draws below walk the tensors in: per layer and module, lora_A then lora_B (the
 * table's order before src/model/adapter.c put a layer's A's together), so that the points and
 * directions of the check do not depend on the flat layout. */
static const l1k_tensor_info *order_ti;
static long order_key(const l1k_tensor_info *t) {
  const char *p = strstr(t->name, "layers.");
  if (!p) return 1L << 30; /* modules_to_save: last, in table order */
  long key = atol(p + 7) * 64;
  for (int k = 0; k < L1K_LORA_NMOD; k++)
    if (strstr(t->name, l1k_lora_module_names[k])) key += 2 * k;
  return key + (strstr(t->name, "lora_B") != NULL);
}
static int order_cmp(const void *a, const void *b) {
  const l1k_tensor_info *x = &order_ti[*(const size_t *)a], *y = &order_ti[*(const size_t *)b];
  long kx = order_key(x), ky = order_key(y);
  if (kx != ky) return kx < ky ? -1 : 1;
  return x->offset < y->offset ? -1 : x->offset > y->offset;
}
static size_t *draw_order(const l1k_tensor_info *ti, size_t nt) {
  size_t *idx = malloc((nt ? nt : 1) * sizeof *idx);
  for (size_t i = 0; i < nt; i++) idx[i] = i;
  order_ti = ti;
  qsort(idx, nt, sizeof *idx, order_cmp);
  return idx;
}

/* Finite differences on the adapter with B randomized (the tiny model has q/k/v biases); with
 * dropout, of the training loss under one fixed mask (the key). */
static void test_gradcheck(const char *family, const char *mods, int rslora, double dropout) {
  l1k_model *m = tiny_model(family, 9);
  l1k_err err = {0};
  l1k_lora_opts o = {3, 5, rslora, 0, 0, dropout};
  CHECK(l1k_lora_parse_targets(mods, "lora_target", &o.targets, &err) == 0);
  CHECK(l1k_model_lora_new(m, &o, 1, &err) == 0);
  size_t n = l1k_model_num_trainable(m), nt = 0;
  const l1k_tensor_info *ti = l1k_model_trainable_tensors(m, &nt);
  float *p = l1k_model_trainable_params(m);
  uint32_t s = 12345;
  size_t *ord = draw_order(ti, nt);
  for (size_t j = 0; j < nt; j++) {
    size_t i = ord[j];
    if (strstr(ti[i].name, "lora_B"))
      for (size_t k = 0; k < ti[i].numel; k++) {
        s = s * 1664525u + 1013904223u;
        p[ti[i].offset + k] = ((float)(s >> 8) / 16777216.0f - 0.5f) * 0.6f;
      }
  }
  int32_t ids[10], labels[10];
  l1k_batch b;
  batch_of(&b, ids, labels, 10, l1k_model_cfg(m)->vocab_size);
  int64_t targets = l1k_batch_count_targets(&b, &err);
  l1k_model_lora_dropout_key(m, 77);
  l1k_model_zero_grads(m);
  CHECK(l1k_model_forward_backward(m, &b, 1.0 / (double)targets, NULL, NULL, &err) == 0);
  float *g = malloc(n * sizeof *g);
  CHECK(l1k_model_grads_get(m, g, 0, n, &err) == 0);
  CHECK(l1k_model_grads(m) == NULL); /* no base gradient buffer */
  /* per tensor: the derivative along a random direction v of that tensor, central
   * differences with Richardson extrapolation (as test_gradcheck), against g . v */
  double worst = 0;
  float *p0 = malloc(n * sizeof *p0);
  memcpy(p0, p, n * sizeof *p0);
  for (size_t j = 0; j < nt; j++) {
    size_t i = ord[j], off = ti[i].offset, len = ti[i].numel;
    float *v = malloc(len * sizeof *v);
    double gv = 0;
    for (size_t k = 0; k < len; k++) {
      s = s * 1664525u + 1013904223u;
      v[k] = (float)(s >> 8) / 16777216.0f - 0.5f;
      gv += (double)g[off + k] * v[k];
    }
    double d[2];
    for (int q = 0; q < 2; q++) {
      float h = q ? 5e-3f : 1e-2f;
      double l2[2];
      for (int sg = 0; sg < 2; sg++) {
        for (size_t k = 0; k < len; k++) p[off + k] = p0[off + k] + (sg ? -h : h) * v[k];
        l2[sg] = train_loss(m, &b, targets);
      }
      d[q] = (l2[0] - l2[1]) / (2.0 * h);
    }
    memcpy(p + off, p0 + off, len * sizeof *p);
    double fd = (4 * d[1] - d[0]) / 3, e = fabs(fd - gv) / (fabs(fd) + 1e-6);
    worst = e > worst ? e : worst;
    free(v);
  }
  free(p0);
  free(ord);
  CHECK_MSG(worst < 1e-2, "%s %s p %g: directional derivative rel err %.3g", family, mods, dropout,
            worst);
  fprintf(stderr, "gradcheck %s %s p %g: worst directional rel err %.3g\n", family, mods, dropout,
          worst);
  if (dropout > 0) { /* masks: the same key the same loss, another key another; eval: none */
    double l77 = train_loss(m, &b, targets);
    l1k_model_lora_dropout_key(m, 78);
    double l78 = train_loss(m, &b, targets);
    l1k_model_lora_dropout_key(m, 77);
    CHECK(train_loss(m, &b, targets) == l77 && l78 != l77);
    double ev = loss_of(m, &b);
    l1k_lora_opts o0 = o;
    o0.dropout = 0;
    size_t nn = l1k_model_num_trainable(m);
    float *keep = malloc(nn * sizeof *keep);
    memcpy(keep, p, nn * sizeof *keep);
    l1k_model_adapter_detach(m);
    CHECK(l1k_model_lora_new(m, &o0, 1, &err) == 0);
    memcpy(l1k_model_trainable_params(m), keep, nn * sizeof *keep);
    CHECK(loss_of(m, &b) == ev && train_loss(m, &b, targets) == ev && ev != l77);
    free(keep);
  }
  free(g);
  l1k_model_free(m);
}

/* The dropout mask: the kept fraction is 1 - p, kept elements scaled by 1 / (1 - p), seen
 * through u = d(x) A^T with A = identity rows: the LoRA's output on a one-hot basis. Checked on
 * the saved config instead: lora_dropout written as PEFT writes it and read back. */
static void test_dropout_stats(void) {
  l1k_model *m = tiny_model("qwen3", 4);
  l1k_err err = {0};
  l1k_lora_opts o = {2, 4, 0, 1u << L1K_LORA_Q, 0, 0.05};
  CHECK(l1k_model_lora_new(m, &o, 3, &err) == 0);
  char tmpl[] = "/tmp/l1k_drop_XXXXXX";
  const char *dir = mkdtemp(tmpl);
  CHECK(dir && l1k_model_lora_save(m, dir, "base", &err) == 0);
  char p[600];
  snprintf(p, sizeof p, "%s/adapter_config.json", dir);
  char *txt = l1k_read_file(p, NULL, &err);
  CHECK(txt && strstr(txt, "\"lora_dropout\": 0.05,"));
  free(txt);
  l1k_model_adapter_detach(m);
  CHECK(l1k_model_lora_load(m, dir, &err) == 0);
  o.dropout = 1.0;
  l1k_model_adapter_detach(m);
  CHECK(l1k_model_lora_new(m, &o, 3, &err) == L1K_EINPUT);
  l1k_rm_rf(dir, NULL);
  l1k_model_free(m);
}

static void test_freeze(void) {
  l1k_model *m = tiny_model("qwen3", 3);
  l1k_err err = {0};
  size_t nb = l1k_model_num_params(m);
  float *base0 = malloc(nb * sizeof *base0);
  memcpy(base0, l1k_model_params(m), nb * sizeof *base0);
  int32_t gids[12], glabels[12];
  l1k_batch gb;
  batch_of(&gb, gids, glabels, 12, l1k_model_cfg(m)->vocab_size);
  int64_t gt = l1k_batch_count_targets(&gb, &err);
  /* the full model's gradients of layer 1, to compare with freeze's (which stops the backward
   * at layer 1) */
  l1k_model_zero_grads(m);
  CHECK(l1k_model_forward_backward(m, &gb, 1.0 / (double)gt, NULL, NULL, &err) == 0);
  float *gfull = malloc(nb * sizeof *gfull);
  memcpy(gfull, l1k_model_grads(m), nb * sizeof *gfull);
  CHECK(l1k_model_freeze(m, 1, "all", NULL, &err) == 0);
  CHECK_STR(l1k_model_adapter_kind(m), "freeze");
  {
    l1k_model_zero_grads(m);
    CHECK(l1k_model_forward_backward(m, &gb, 1.0 / (double)gt, NULL, NULL, &err) == 0);
    size_t n = l1k_model_num_trainable(m), k = 0;
    float *g = malloc(n * sizeof *g);
    CHECK(l1k_model_grads_get(m, g, 0, n, &err) == 0);
    const l1k_tensor_info *tt = l1k_model_trainable_tensors(m, &k);
    for (size_t i = 0; i < k; i++) {
      const l1k_tensor_info *bt = l1k_model_tensor(m, tt[i].name);
      CHECK_MSG(bt && !memcmp(g + tt[i].offset, gfull + bt->offset, bt->numel * sizeof(float)),
                "freeze gradient of %s differs from the full model's", tt[i].name);
    }
    free(g);
  }
  free(gfull);
  size_t nt = 0;
  const l1k_tensor_info *ti = l1k_model_trainable_tensors(m, &nt);
  for (size_t i = 0; i < nt; i++)
    CHECK_MSG(!strncmp(ti[i].name, "model.layers.1.", 15), "trainable %s", ti[i].name);
  CHECK(nt == 11); /* ln1, q, k, v, o, q_norm, k_norm, ln2, gate, up, down */
  int32_t ids[12], labels[12];
  l1k_batch b;
  batch_of(&b, ids, labels, 12, l1k_model_cfg(m)->vocab_size);
  int64_t targets = l1k_batch_count_targets(&b, &err);
  CHECK(l1k_model_optim_init(m, 0.9, 0.95, 1e-8, 0.0, 0, l1k_model_num_trainable(m), &err) == 0);
  double l0 = loss_of(m, &b);
  for (int step = 0; step < 3; step++) {
    l1k_model_zero_grads(m);
    CHECK(l1k_model_forward_backward(m, &b, 1.0 / (double)targets, NULL, NULL, &err) == 0);
    CHECK(l1k_model_step(m, 1e-2, 1.0, 0, l1k_model_num_trainable(m), NULL, &err) == 0);
  }
  CHECK(loss_of(m, &b) < l0);
  CHECK(memcmp(base0, l1k_model_params(m), nb * sizeof *base0) == 0); /* copies trained */
  char tmpl[] = "/tmp/l1k_freeze_XXXXXX";
  const char *dir = mkdtemp(tmpl);
  CHECK(dir && l1k_model_save_trained(m, dir, "f32", NULL, &err) == 0);
  l1k_model *m2 = l1k_model_load(dir, &err);
  CHECK(m2 != NULL);
  if (m2) {
    size_t n = 0;
    const l1k_tensor_info *bt = l1k_model_tensors(m2, &n);
    for (size_t i = 0; i < n; i++) {
      int same = !memcmp(base0 + bt[i].offset, l1k_model_params(m2) + bt[i].offset,
                         bt[i].numel * sizeof(float));
      int trained = !strncmp(bt[i].name, "model.layers.1.", 15);
      CHECK_MSG(same != trained, "%s: %s", bt[i].name, same ? "unchanged" : "changed");
    }
    CHECK(fabs(loss_of(m2, &b) - loss_of(m, &b)) < 1e-6);
    l1k_model_free(m2);
  }
  if (dir) l1k_rm_rf(dir, NULL);
  l1k_model_adapter_detach(m);
  /* first layer, mlp only, plus LLaMA-Factory's "norm" (a substring: every norm weight) */
  CHECK(l1k_model_freeze(m, -1, "mlp", "norm", &err) == 0);
  ti = l1k_model_trainable_tensors(m, &nt);
  int mlp0 = 0, norms = 0;
  for (size_t i = 0; i < nt; i++) {
    if (!strncmp(ti[i].name, "model.layers.0.mlp.", 19)) mlp0++;
    else if (strstr(ti[i].name, "norm")) norms++;
    else CHECK_MSG(0, "unexpected trainable %s", ti[i].name);
  }
  CHECK(mlp0 == 3 && norms == 1 + 2 * 4);
  l1k_model_adapter_detach(m);
  CHECK(l1k_model_freeze(m, 1, "attn", NULL, &err) == L1K_EINPUT);
  CHECK(strstr(err.msg, "freeze_trainable_modules: unknown module 'attn'") != NULL);
  CHECK(l1k_model_freeze(m, 0, "all", NULL, &err) == L1K_EINPUT);
  free(base0);
  l1k_model_free(m);
}

/* A PEFT directory with the given config edits and tensors (float32 zeros). */
static void write_adapter(const char *dir, const char *cfg_json, const char **names,
                          const int64_t (*shapes)[2], int n) {
  l1k_mkdir_p(dir, NULL);
  char p[600];
  snprintf(p, sizeof p, "%s/adapter_config.json", dir);
  l1k_write_file_atomic(p, cfg_json, strlen(cfg_json), NULL);
  l1k_st_entry e[8];
  static float zeros[4096];
  for (int i = 0; i < n; i++)
    e[i] = (l1k_st_entry){names[i], L1K_DT_F32, 2, {shapes[i][0], shapes[i][1]}, NULL, zeros};
  snprintf(p, sizeof p, "%s/adapter_model.safetensors", dir);
  l1k_st_write(p, e, (size_t)n, NULL, 0, NULL);
}

static void test_loader_refusals(void) {
  l1k_model *m = tiny_model("llama", 2);
  l1k_err err = {0};
  char tmpl[] = "/tmp/l1k_peft_XXXXXX";
  const char *dir = mkdtemp(tmpl);
  const char *ok = "{\"peft_type\":\"LORA\",\"r\":2,\"lora_alpha\":4,\"target_modules\":[\"q_proj\"]}";
  const char *names[4];
  int64_t shapes[4][2];
  char n0[128], n1[128], n2[128], n3[128];
  int C = l1k_model_cfg(m)->hidden_size, QD = 4 * l1k_model_cfg(m)->head_dim;
  for (int l = 0; l < 2; l++) {
    snprintf(l ? n2 : n0, 128, "base_model.model.model.layers.%d.self_attn.q_proj.lora_A.weight", l);
    snprintf(l ? n3 : n1, 128, "base_model.model.model.layers.%d.self_attn.q_proj.lora_B.weight", l);
  }
  names[0] = n0, names[1] = n1, names[2] = n2, names[3] = n3;
  for (int i = 0; i < 4; i++) {
    shapes[i][0] = i % 2 ? QD : 2;
    shapes[i][1] = i % 2 ? 2 : C;
  }
  struct {
    const char *cfg;
    int n;
    const char *want;
  } cases[] = {
      {ok, 4, NULL},
      {"{\"peft_type\":\"LORA\",\"r\":2,\"lora_alpha\":4,\"target_modules\":[\"q_proj\"],\"use_dora\":true}",
       4, "\"use_dora\" is set"},
      {"{\"peft_type\":\"IA3\",\"r\":2}", 4, "\"peft_type\": expected \"LORA\""},
      {"{\"peft_type\":\"LORA\",\"r\":2,\"lora_alpha\":4,\"target_modules\":\".*q_proj\"}", 4,
       "regular expressions are not supported"},
      {"{\"peft_type\":\"LORA\",\"r\":2,\"lora_alpha\":4,\"target_modules\":[\"qkv\"]}", 4,
       "unknown module 'qkv'"},
      {ok, 3, "missing tensor 'base_model.model.model.layers.1.self_attn.q_proj.lora_B.weight'"},
      {"{\"peft_type\":\"LORA\",\"r\":3,\"lora_alpha\":4,\"target_modules\":[\"q_proj\"]}", 4,
       "shape [2, 16], expected [3, 16]"},
      {"{\"peft_type\":\"LORA\",\"r\":2,\"lora_alpha\":4,\"target_modules\":[\"k_proj\"]}", 4,
       "is not part of the adapter"},
  };
  for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
    char d[600];
    snprintf(d, sizeof d, "%s/c%zu", dir, k);
    write_adapter(d, cases[k].cfg, names, (const int64_t(*)[2])shapes, cases[k].n);
    memset(&err, 0, sizeof err);
    int rc = l1k_model_lora_load(m, d, &err);
    if (!cases[k].want) {
      CHECK_MSG(rc == 0, "case %zu: %s", k, err.msg);
      l1k_model_adapter_detach(m);
    } else {
      CHECK_MSG(rc != 0 && strstr(err.msg, cases[k].want), "case %zu: rc %d '%s'", k, rc, err.msg);
      CHECK_MSG(!strchr(err.msg, '\n'), "case %zu: one line", k);
      CHECK_STR(l1k_model_adapter_kind(m), "none");
    }
  }
  CHECK(l1k_model_lora_load(m, dir, &err) == L1K_EINPUT);
  CHECK(strstr(err.msg, "no adapter_config.json") != NULL);
  /* modules_to_save on a tied model */
  l1k_lora_opts o = {2, 4, 0, 1, L1K_SAVE_LM_HEAD, 0};
  CHECK(l1k_model_lora_new(m, &o, 1, &err) == L1K_EUNSUPPORTED);
  CHECK(strstr(err.msg, "tie_word_embeddings") != NULL);
  CHECK(l1k_model_freeze(m, 1, "all", "lm_head", &err) == L1K_EINPUT);
  CHECK(strstr(err.msg, "lm_head is tied to embed_tokens") != NULL);
  CHECK_STR(l1k_model_adapter_kind(m), "none");
  l1k_rm_rf(dir, NULL);
  l1k_model_free(m);
}

int main(void) {
  setenv("OMP_NUM_THREADS", "1", 0);
  test_init();
  test_gradcheck("qwen2", "all", 0, 0);
  test_gradcheck("qwen3", "v_proj,o_proj,up_proj", 1, 0);
  test_gradcheck("llama", "q_proj,down_proj,gate_proj", 0, 0);
  test_gradcheck("qwen2", "all", 0, 0.3);
  test_gradcheck("llama", "q_proj,down_proj,gate_proj", 1, 0.5);
  test_dropout_stats();
  test_freeze();
  test_loader_refusals();
  CHECK_DONE();
}
