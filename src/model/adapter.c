/* long1k — LoRA and freeze tuning: the adapter's flat trainable space beside the base model
 * (include/long1k/adapter.h). Loading and saving PEFT directories: adapter_io.c. The CPU
 * backend's LoRA products: src/backend/cpu/lora.c.
 *
 * How it sits in the model: m->ad holds a second flat parameter space (tensor table, float32
 * parameters, gradients). LoRA tensors are new; "full" tensors (PEFT's modules_to_save, freeze
 * tuning's trainable tensors) are copies of base tensors, and the model's parameter pointers
 * (m->p) are redirected to the copies, so the forward reads the trained values. The gradient
 * pointers (m->g) are NULL for every frozen tensor (forward.c skips those products) and point
 * into the adapter's gradients for full tensors. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "long1k/backend.h"
#include "long1k/rng.h"
#include "model/adapter_internal.h"

const char *const l1k_lora_module_names[L1K_LORA_NMOD] = {
    "q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"};

void lora_module_dims(const l1k_model_config *c, int mod, int *in, int *out) {
  int C = c->hidden_size, FF = c->intermediate_size;
  int QD = c->num_attention_heads * c->head_dim, KD = c->num_key_value_heads * c->head_dim;
  static const int kind[L1K_LORA_NMOD] = {0, 1, 1, 2, 3, 3, 4};
  switch (kind[mod]) {
  case 0: *in = C, *out = QD; break;
  case 1: *in = C, *out = KD; break;
  case 2: *in = QD, *out = C; break;
  case 3: *in = C, *out = FF; break;
  default: *in = FF, *out = C; break;
  }
}

float *lora_base_weight(l1k_model *m, int l, int mod) {
  layer_params *P = &m->p.layer[l];
  float *w[L1K_LORA_NMOD] = {P->q_w, P->k_w, P->v_w, P->o_w, P->gate_w, P->up_w, P->down_w};
  return w[mod];
}

/* ---------------------------------------------------------------- settings */

static int split_names(const char *text, const char *what, const char *const *names, int n,
                       const char *all_name, unsigned *bits, l1k_err *err) {
  *bits = 0;
  if (!text) return 0;
  const char *p = text;
  while (*p) {
    while (*p == ' ' || *p == ',') p++;
    if (!*p) break;
    size_t len = strcspn(p, ", ");
    int found = 0;
    if (all_name && len == strlen(all_name) && !strncmp(p, all_name, len)) {
      *bits = (1u << n) - 1, found = 1;
    }
    for (int i = 0; i < n && !found; i++)
      if (len == strlen(names[i]) && !strncmp(p, names[i], len)) *bits |= 1u << i, found = 1;
    if (!found) {
      char list[200] = "";
      for (int i = 0; i < n; i++)
        snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", i ? ", " : "", names[i]);
      return l1k_errf(err, L1K_EINPUT, "%s: unknown module '%.*s' (expected %s%s%s)", what,
                      (int)len, p, all_name ? all_name : "", all_name ? " or " : "", list);
    }
    p += len;
  }
  return 0;
}

int l1k_lora_parse_targets(const char *text, const char *what, unsigned *targets, l1k_err *err) {
  int rc = split_names(text, what, l1k_lora_module_names, L1K_LORA_NMOD, "all", targets, err);
  if (!rc && !*targets)
    rc = l1k_errf(err, L1K_EINPUT, "%s: empty (expected all or module names)", what);
  return rc;
}

int l1k_lora_parse_save(const char *text, const char *what, unsigned *save, l1k_err *err) {
  static const char *const names[] = {"embed_tokens", "lm_head"};
  return split_names(text, what, names, 2, NULL, save, err);
}

/* ---------------------------------------------------------------- the trainable space */

static int add_tensor(model_adapter *ad, size_t *cap, const char *name, int64_t d0, int64_t d1,
                      int no_decay, size_t base, l1k_err *err) {
  if (ad->n_tensors == *cap) {
    size_t nc = *cap ? *cap * 2 : 64;
    l1k_tensor_info *t = realloc(ad->tensors, nc * sizeof *t);
    size_t *b = t ? realloc(ad->base_of, nc * sizeof *b) : NULL;
    if (t) ad->tensors = t;
    if (!t || !b) return l1k_errf(err, L1K_ENOMEM, "out of memory for the adapter's tensor table");
    ad->base_of = b;
    *cap = nc;
  }
  l1k_tensor_info *t = &ad->tensors[ad->n_tensors];
  memset(t, 0, sizeof *t);
  snprintf(t->name, sizeof t->name, "%s", name);
  t->ndim = d1 > 0 ? 2 : 1;
  t->shape[0] = d0;
  t->shape[1] = d1 > 0 ? d1 : 0;
  t->numel = (size_t)d0 * (size_t)(d1 > 0 ? d1 : 1);
  t->offset = ad->n;
  t->no_decay = no_decay;
  snprintf(t->dtype, sizeof t->dtype, "F32");
  ad->base_of[ad->n_tensors++] = base;
  ad->n += (t->numel + 15) & ~(size_t)15;
  return 0;
}

void model_adapter_free(model_adapter *ad) {
  if (!ad) return;
  free(ad->params);
  free(ad->grads);
  free(ad->tensors);
  free(ad->base_of);
  free(ad->mods);
  free(ad->acts);
  free(ad->xd);
  free(ad);
}



/* Allocates the space for the table built so far, copies the full tensors from the base, and
 * points m->p / m->g at the adapter (m->g NULL for everything frozen). */
static int adapter_finish(l1k_model *m, model_adapter *ad, l1k_err *err) {
  size_t n = ad->n ? ad->n : 1;
  ad->params = l1k_alloc_big(n * sizeof(float));
  ad->grads = l1k_alloc_big(n * sizeof(float));
  size_t cap = MODEL_PARAM_FIELDS_MAX(m);
  float ***pf = calloc(cap, sizeof *pf), ***gf = calloc(cap, sizeof *gf);
  if (!ad->params || !ad->grads || !pf || !gf) {
    free(pf);
    free(gf);
    return l1k_errf(err, L1K_ENOMEM, "out of memory for %zu adapter parameters", ad->n);
  }
  memset(ad->params, 0, n * sizeof(float));
  memset(ad->grads, 0, n * sizeof(float));
  size_t nf = model_param_fields(m, &m->p, pf);
  model_param_fields(m, &m->g, gf);
  for (size_t i = 0; i < nf; i++) *gf[i] = NULL;
  for (size_t t = 0; t < ad->n_tensors; t++) {
    if (ad->base_of[t] == SIZE_MAX) continue;
    const l1k_tensor_info *b = &m->tensors[ad->base_of[t]];
    float *src = m->params + b->offset, *dst = ad->params + ad->tensors[t].offset;
    memcpy(dst, src, b->numel * sizeof(float));
    for (size_t i = 0; i < nf; i++)
      if (*pf[i] == src) {
        *pf[i] = dst;
        *gf[i] = ad->grads + ad->tensors[t].offset;
      }
  }
  free(pf);
  free(gf);
  return 0;
}

/* Lets go of the adapter: base pointers back to m->params, gradient pointers to m->grads. */
void model_adapter_drop(l1k_model *m) {
  model_adapter *ad = m->ad;
  m->ad = NULL;
  model_adapter_free(ad);
  model_point(m, m->params, &m->p);
  if (m->grads) model_point(m, m->grads, &m->g);
}

static int need_cpu(l1k_model *m, const char *what, l1k_err *err) {
  if (m->ad)
    return l1k_errf(err, L1K_EINPUT, "%s: the model already has a %s adapter", what,
                    l1k_model_adapter_kind(m));
  if (strcmp(l1k_model_device(m), "cpu")) /* built on the host, then taken by attach */
    return l1k_errf(err, L1K_EUNSUPPORTED,
                    "%s: the model already runs on the %s backend (create the adapter first, "
                    "then attach the device)", what, l1k_model_device(m));
  return 0;
}

static const char *group_of(int mod) { return mod <= L1K_LORA_O ? "self_attn" : "mlp"; }

/* The LoRA table: per layer, the lora_A of every target (module order), then their lora_B;
 * then modules_to_save. A's of modules that read the same input (q, k, v; gate, up) are thus
 * adjacent in the flat space, so a device backend can run their down-projections as one product
 * with the A's stacked (src/backend/cuda/lora.c). PEFT files are read and written by name. */
static int lora_build(l1k_model *m, const l1k_lora_opts *o, model_adapter **out, l1k_err *err) {
  const l1k_model_config *c = &m->cfg;
  if (o->rank <= 0) return l1k_errf(err, L1K_EINPUT, "lora_rank: %d (expected > 0)", o->rank);
  if (!(o->dropout >= 0 && o->dropout < 1))
    return l1k_errf(err, L1K_EINPUT, "lora_dropout: %g (expected 0 <= p < 1)", o->dropout);
  if (!(o->alpha > 0)) return l1k_errf(err, L1K_EINPUT, "lora_alpha: %g (expected > 0)", o->alpha);
  if (!o->targets) return l1k_errf(err, L1K_EINPUT, "lora_target: no module");
  if (o->save && c->tie_word_embeddings)
    return l1k_errf(err, L1K_EUNSUPPORTED,
                    "additional_target: %s on a model with tie_word_embeddings (PEFT unties "
                    "them; long1k does not)", o->save & L1K_SAVE_EMBED ? "embed_tokens" : "lm_head");
  model_adapter *ad = l1k_calloc(1, sizeof *ad, err);
  if (!ad) return L1K_ENOMEM;
  ad->kind = ADAPTER_LORA;
  ad->o = *o;
  ad->scale = (float)(o->use_rslora ? o->alpha / sqrt((double)o->rank) : o->alpha / o->rank);
  int L = c->num_hidden_layers, rc = 0;
  ad->mods = l1k_calloc((size_t)L * L1K_LORA_NMOD, sizeof *ad->mods, err);
  if (!ad->mods) rc = L1K_ENOMEM;
  size_t cap = 0;
  char name[96];
  for (int l = 0; l < L && !rc; l++)
    for (int ab = 0; ab < 2 && !rc; ab++)
      for (int k = 0; k < L1K_LORA_NMOD && !rc; k++) {
        if (!(o->targets & (1u << k))) continue;
        int in, outd;
        lora_module_dims(c, k, &in, &outd);
        snprintf(name, sizeof name, "base_model.model.model.layers.%d.%s.%s.lora_%c.weight", l,
                 group_of(k), l1k_lora_module_names[k], ab ? 'B' : 'A');
        rc = add_tensor(ad, &cap, name, ab ? outd : o->rank, ab ? o->rank : in, 0, SIZE_MAX, err);
        ad->mods[(size_t)l * L1K_LORA_NMOD + k].in = in;
        ad->mods[(size_t)l * L1K_LORA_NMOD + k].out = outd;
      }
  const char *full[2][2] = {{"model.embed_tokens.weight", "base_model.model.model.embed_tokens.weight"},
                            {"lm_head.weight", "base_model.model.lm_head.weight"}};
  for (int i = 0; i < 2 && !rc; i++) {
    if (!(o->save & (1u << i))) continue;
    const l1k_tensor_info *b = l1k_model_tensor(m, full[i][0]);
    rc = add_tensor(ad, &cap, full[i][1], b->shape[0], b->shape[1], 0, (size_t)(b - m->tensors), err);
  }
  if (!rc) rc = adapter_finish(m, ad, err);
  if (rc) {
    model_adapter_free(ad);
    model_point(m, m->params, &m->p);
    if (m->grads) model_point(m, m->grads, &m->g);
    return rc;
  }
  /* module pointers into the space, in table order */
  size_t t = 0;
  for (int l = 0; l < L; l++)
    for (int ab = 0; ab < 2; ab++)
      for (int k = 0; k < L1K_LORA_NMOD; k++) {
        if (!(o->targets & (1u << k))) continue;
        lora_mod *lm = &ad->mods[(size_t)l * L1K_LORA_NMOD + k];
        size_t off = ad->tensors[t++].offset;
        if (ab) lm->B = ad->params + off, lm->gB = ad->grads + off;
        else lm->A = ad->params + off, lm->gA = ad->grads + off;
      }
  *out = ad;
  return 0;
}

int l1k_model_lora_new(l1k_model *m, const l1k_lora_opts *o, uint64_t seed, l1k_err *err) {
  int rc = need_cpu(m, "finetuning_type lora", err);
  model_adapter *ad = NULL;
  if (!rc) rc = lora_build(m, o, &ad, err);
  if (rc) return rc;
  /* PEFT: nn.init.kaiming_uniform_(lora_A, a=sqrt(5)) = U(-1/sqrt(in), 1/sqrt(in)); B = 0 */
  uint64_t st = l1k_mix64(seed ^ 0x4C6F5241ULL); /* "LoRA" */
  for (int i = 0; i < m->cfg.num_hidden_layers * L1K_LORA_NMOD; i++) {
    lora_mod *lm = &ad->mods[i];
    if (!lm->A) continue;
    float bound = (float)(1.0 / sqrt((double)lm->in));
    for (size_t j = 0; j < (size_t)o->rank * lm->in; j++) {
      double u = (double)(l1k_splitmix64(&st) >> 11) * (1.0 / 9007199254740992.0);
      lm->A[j] = (float)((2.0 * u - 1.0) * bound);
    }
  }
  m->ad = ad;
  return 0;
}

/* Used by adapter_io.c: an empty (zero) LoRA of these settings, attached. */
int model_lora_attach_empty(l1k_model *m, const l1k_lora_opts *o, l1k_err *err) {
  int rc = need_cpu(m, "adapter", err);
  model_adapter *ad = NULL;
  if (!rc) rc = lora_build(m, o, &ad, err);
  if (!rc) m->ad = ad;
  return rc;
}

int l1k_model_adapter_merge(l1k_model *m, l1k_err *err) {
  model_adapter *ad = m->ad;
  if (!ad) return 0;
  if (strcmp(l1k_model_device(m), "cpu")) /* the device holds the trained values */
    return l1k_errf(err, L1K_EUNSUPPORTED, "adapter merge: the model runs on the %s backend "
                    "(merge on the cpu: device cpu)", l1k_model_device(m));
  if (ad->kind == ADAPTER_LORA)
    for (int l = 0; l < m->cfg.num_hidden_layers; l++)
      for (int k = 0; k < L1K_LORA_NMOD; k++) {
        lora_mod *lm = &ad->mods[(size_t)l * L1K_LORA_NMOD + k];
        if (!lm->A) continue;
        /* PEFT's get_delta_weight: (B @ A) * scaling, added to W */
        l1k_gemm(0, 0, lm->out, lm->in, ad->o.rank, ad->scale, lm->B, ad->o.rank, lm->A, lm->in,
                 1.0f, lora_base_weight(m, l, k), lm->in);
      }
  for (size_t t = 0; t < ad->n_tensors; t++) /* full tensors: the trained copy into the base */
    if (ad->base_of[t] != SIZE_MAX)
      memcpy(m->params + m->tensors[ad->base_of[t]].offset, ad->params + ad->tensors[t].offset,
             ad->tensors[t].numel * sizeof(float));
  model_adapter_drop(m);
  return 0;
}

void l1k_model_lora_dropout_key(l1k_model *m, uint64_t key) {
  if (m->ad) m->ad->drop_key = key;
}

void l1k_model_adapter_detach(l1k_model *m) {
  if (!m->ad) return;
  /* a device backend holds the adapter's space: the model goes back to the cpu first */
  if (strcmp(l1k_model_device(m), "cpu") && l1k_model_attach(m, "cpu", NULL, NULL)) return;
  model_adapter_drop(m);
}

/* ---------------------------------------------------------------- freeze */

/* LLaMA-Factory's rule (model/adapter.py, _setup_freeze_tuning): a parameter is trainable when
 * its name contains ".<i>.<module>" for a trainable layer i and module (".<i>." for all), or
 * one of the extra module names. */
static int freeze_patterns(const l1k_model *m, int layers, const char *modules, const char *extra,
                           char ***pat, size_t *np, l1k_err *err) {
  static const char *const hidden[] = {"self_attn", "mlp", "input_layernorm",
                                       "post_attention_layernorm"};
  static const char *const outer[] = {"embed_tokens", "norm", "lm_head"};
  int L = m->cfg.num_hidden_layers, lo = layers > 0 ? (L - layers > 0 ? L - layers : 0) : 0;
  int hi = layers > 0 ? L : (-layers < L ? -layers : L);
  unsigned mods = 0, ext = 0;
  int rc = split_names(modules ? modules : "all", "freeze_trainable_modules", hidden, 4, "all",
                       &mods, err);
  if (!rc) rc = split_names(extra, "freeze_extra_modules", outer, 3, NULL, &ext, err);
  if (!rc && (ext & 4u) && m->cfg.tie_word_embeddings)
    rc = l1k_errf(err, L1K_EINPUT, "freeze_extra_modules: lm_head is tied to embed_tokens in this "
                  "model (name embed_tokens)");
  if (rc) return rc;
  int all = !modules || !strcmp(modules, "all");
  size_t cap = (size_t)(hi - lo) * 4 + 4, n = 0;
  char **p = l1k_calloc(cap, sizeof *p, err);
  if (!p) return L1K_ENOMEM;
  char buf[96];
  for (int i = lo; i < hi && !rc; i++)
    for (int k = 0; k < (all ? 1 : 4) && !rc; k++) {
      if (!all && !(mods & (1u << k))) continue;
      snprintf(buf, sizeof buf, ".%d.%s", i, all ? "" : hidden[k]);
      if (!(p[n++] = strdup(buf))) rc = l1k_errf(err, L1K_ENOMEM, "out of memory");
    }
  for (int k = 0; k < 3 && !rc; k++)
    if ((ext & (1u << k)) && !(p[n++] = strdup(outer[k])))
      rc = l1k_errf(err, L1K_ENOMEM, "out of memory");
  *pat = p;
  *np = n;
  return rc;
}

int l1k_model_freeze(l1k_model *m, int trainable_layers, const char *modules, const char *extra,
                     l1k_err *err) {
  int rc = need_cpu(m, "finetuning_type freeze", err);
  if (rc) return rc;
  if (trainable_layers == 0)
    return l1k_errf(err, L1K_EINPUT, "freeze_trainable_layers: 0 (expected N > 0 for the last N "
                    "layers or N < 0 for the first |N|)");
  char **pat = NULL;
  size_t np = 0, cap = 0;
  rc = freeze_patterns(m, trainable_layers, modules, extra, &pat, &np, err);
  model_adapter *ad = rc ? NULL : l1k_calloc(1, sizeof *ad, err);
  if (!rc && !ad) rc = L1K_ENOMEM;
  if (!rc) ad->kind = ADAPTER_FREEZE;
  for (size_t i = 0; i < m->n_tensors && !rc; i++) {
    const l1k_tensor_info *b = &m->tensors[i];
    int on = 0;
    for (size_t k = 0; k < np && !on; k++) on = strstr(b->name, pat[k]) != NULL;
    if (on) rc = add_tensor(ad, &cap, b->name, b->shape[0], b->ndim > 1 ? b->shape[1] : 0,
                            b->no_decay, i, err);
  }
  if (!rc && ad->n_tensors == 0)
    rc = l1k_errf(err, L1K_EINPUT, "finetuning_type freeze: no parameter is trainable");
  if (!rc) rc = adapter_finish(m, ad, err);
  for (size_t k = 0; k < np; k++) free(pat[k]);
  free(pat);
  if (rc) {
    model_adapter_free(ad);
    model_point(m, m->params, &m->p);
    if (m->grads) model_point(m, m->grads, &m->g);
    return rc;
  }
  m->ad = ad;
  return 0;
}

/* ---------------------------------------------------------------- the space, seen from outside */

train_space model_train_space(l1k_model *m, int want_grads) {
  train_space s;
  if (m->ad) {
    s.params = m->ad->params;
    s.grads = m->ad->grads;
    s.n = m->ad->n;
    s.tensors = m->ad->tensors;
    s.n_tensors = m->ad->n_tensors;
    return s;
  }
  s.params = m->params;
  s.grads = want_grads ? model_grads_alloc(m) : m->grads;
  s.n = m->n_params;
  s.tensors = m->tensors;
  s.n_tensors = m->n_tensors;
  return s;
}

const char *l1k_model_adapter_kind(const l1k_model *m) {
  return !m->ad ? "none" : m->ad->kind == ADAPTER_LORA ? "lora" : "freeze";
}

size_t l1k_model_num_trainable(const l1k_model *m) { return m->ad ? m->ad->n : m->n_params; }

const l1k_tensor_info *l1k_model_trainable_tensors(const l1k_model *m, size_t *n) {
  if (!m->ad) return l1k_model_tensors(m, n);
  if (n) *n = m->ad->n_tensors;
  return m->ad->tensors;
}

float *l1k_model_trainable_params(l1k_model *m) {
  if (!l1k_model_params(m)) return NULL;
  return m->ad ? m->ad->params : m->params;
}

int l1k_model_save_trained(l1k_model *m, const char *dir, const char *dtype,
                           const char *base_name, l1k_err *err) {
  if (m->ad && !l1k_model_params(m)) { /* a device backend: its trained values to the host */
    int rc = l1k_model_params_get(m, m->ad->params, 0, m->ad->n, err);
    if (rc) return rc;
  }
  if (m->ad && m->ad->kind == ADAPTER_LORA) return l1k_model_lora_save(m, dir, base_name, err);
  if (m->ad) /* freeze: the trained copies back into the base, then a full model */
    for (size_t t = 0; t < m->ad->n_tensors; t++)
      memcpy(m->params + m->tensors[m->ad->base_of[t]].offset,
             m->ad->params + m->ad->tensors[t].offset, m->ad->tensors[t].numel * sizeof(float));
  return l1k_model_save(m, dir, dtype, err);
}
