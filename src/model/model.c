/* long1k — model: parameter layout, loading Hugging Face checkpoints (single or sharded
 * safetensors; F32/BF16/F16) into one float32 buffer, saving, accessors. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "long1k/io.h"
#include "long1k/jsonl.h"
#include "long1k/log.h"
#include "long1k/safetensors.h"
#include "model/adapter_internal.h"

/* ---------------------------------------------------------------- layout */

static int add_tensor(l1k_model *m, size_t *cap, size_t *off, const char *name, int ndim,
                      int64_t d0, int64_t d1, int no_decay, l1k_err *err) {
  if (m->n_tensors == *cap) {
    size_t nc = *cap ? *cap * 2 : 64;
    l1k_tensor_info *t = l1k_realloc(m->tensors, nc * sizeof *t, err);
    if (!t) return L1K_ENOMEM;
    m->tensors = t;
    *cap = nc;
  }
  l1k_tensor_info *t = &m->tensors[m->n_tensors++];
  memset(t, 0, sizeof *t);
  snprintf(t->name, sizeof t->name, "%s", name);
  t->ndim = ndim;
  t->shape[0] = d0;
  t->shape[1] = ndim > 1 ? d1 : 0;
  t->numel = (size_t)d0 * (ndim > 1 ? (size_t)d1 : 1);
  t->offset = *off;
  t->no_decay = no_decay;
  *off += t->numel;
  return 0;
}

int model_layout(l1k_model *m, l1k_err *err) {
  const l1k_model_config *c = &m->cfg;
  int64_t C = c->hidden_size, I = c->intermediate_size, V = c->vocab_size;
  int64_t QD = (int64_t)c->num_attention_heads * c->head_dim;
  int64_t KD = (int64_t)c->num_key_value_heads * c->head_dim;
  size_t cap = 0, off = 0;
  char nm[96];
  free(m->tensors);
  m->tensors = NULL;
  m->n_tensors = 0;
#define ADD(name, nd, a, b, nodecay) \
  if (add_tensor(m, &cap, &off, name, nd, a, b, nodecay, err)) return L1K_ENOMEM
  ADD("model.embed_tokens.weight", 2, V, C, 0);
  for (int l = 0; l < c->num_hidden_layers; l++) {
#define L(suffix, nd, a, b, nodecay)                                    \
  snprintf(nm, sizeof nm, "model.layers.%d.%s", l, suffix);            \
  ADD(nm, nd, a, b, nodecay)
    L("input_layernorm.weight", 1, C, 0, 1);
    L("self_attn.q_proj.weight", 2, QD, C, 0);
    if (c->attention_bias) { L("self_attn.q_proj.bias", 1, QD, 0, 1); }
    L("self_attn.k_proj.weight", 2, KD, C, 0);
    if (c->attention_bias) { L("self_attn.k_proj.bias", 1, KD, 0, 1); }
    L("self_attn.v_proj.weight", 2, KD, C, 0);
    if (c->attention_bias) { L("self_attn.v_proj.bias", 1, KD, 0, 1); }
    L("self_attn.o_proj.weight", 2, C, QD, 0);
    if (c->qk_norm) {
      L("self_attn.q_norm.weight", 1, c->head_dim, 0, 1);
      L("self_attn.k_norm.weight", 1, c->head_dim, 0, 1);
    }
    L("post_attention_layernorm.weight", 1, C, 0, 1);
    L("mlp.gate_proj.weight", 2, I, C, 0);
    L("mlp.up_proj.weight", 2, I, C, 0);
    L("mlp.down_proj.weight", 2, C, I, 0);
#undef L
  }
  ADD("model.norm.weight", 1, C, 0, 1);
  if (!c->tie_word_embeddings) { ADD("lm_head.weight", 2, V, C, 0); }
#undef ADD
  m->n_params = off;
  return 0;
}

void model_point(const l1k_model *m, float *base, model_params *p) {
  const l1k_model_config *c = &m->cfg;
  size_t k = 0;
#define NEXT() (base + m->tensors[k++].offset)
  p->embed = NEXT();
  for (int l = 0; l < c->num_hidden_layers; l++) {
    layer_params *L = &p->layer[l];
    memset(L, 0, sizeof *L);
    L->ln1_w = NEXT();
    L->q_w = NEXT();
    if (c->attention_bias) L->q_b = NEXT();
    L->k_w = NEXT();
    if (c->attention_bias) L->k_b = NEXT();
    L->v_w = NEXT();
    if (c->attention_bias) L->v_b = NEXT();
    L->o_w = NEXT();
    if (c->qk_norm) {
      L->q_norm = NEXT();
      L->k_norm = NEXT();
    }
    L->ln2_w = NEXT();
    L->gate_w = NEXT();
    L->up_w = NEXT();
    L->down_w = NEXT();
  }
  p->norm = NEXT();
  p->lm_head = c->tie_word_embeddings ? p->embed : NEXT();
#undef NEXT
}
/* model_internal.h: every parameter pointer field, in one order for all walkers */
size_t model_param_fields(const l1k_model *m, model_params *p, float ***f) {
  size_t k = 0;
  f[k++] = &p->embed;
  f[k++] = &p->norm;
  f[k++] = &p->lm_head;
  for (int l = 0; l < m->cfg.num_hidden_layers; l++) {
    layer_params *L = &p->layer[l];
    float **v[] = {&L->ln1_w, &L->q_w, &L->q_b,    &L->k_w,  &L->k_b,  &L->v_w,   &L->v_b,
                   &L->o_w,   &L->q_norm, &L->k_norm, &L->ln2_w, &L->gate_w, &L->up_w, &L->down_w};
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) f[k++] = v[i];
  }
  return k;
}

l1k_model *l1k_model_create(const l1k_model_config *cfg, l1k_err *err) {
  if (l1k_config_validate(cfg, "config", err)) return NULL;
  l1k_backend_init();
  l1k_model *m = l1k_calloc(1, sizeof *m, err);
  if (!m) return NULL;
  m->cfg = *cfg;
  snprintf(m->stored_dtype, sizeof m->stored_dtype, "F32");
  if (model_layout(m, err)) goto fail;
  m->params = l1k_alloc_big(m->n_params * sizeof(float));
  m->p.layer = calloc((size_t)cfg->num_hidden_layers, sizeof(layer_params));
  m->g.layer = calloc((size_t)cfg->num_hidden_layers, sizeof(layer_params));
  m->inv_freq = calloc((size_t)cfg->head_dim / 2, sizeof(float));
  if (!m->params || !m->p.layer || !m->g.layer || !m->inv_freq) {
    l1k_errf(err, L1K_ENOMEM, "out of memory for %zu parameters (%.1f GB)", m->n_params,
             m->n_params * 4.0 / 1e9);
    goto fail;
  }
  model_point(m, m->params, &m->p);
  l1k_rope_inv_freq(&m->cfg, m->inv_freq);
  if (model_attach_default(m, err)) goto fail;
  return m;
fail:
  l1k_model_free(m);
  return NULL;
}

void l1k_model_free(l1k_model *m) {
  if (!m) return;
  model_detach(m);
  model_adapter_free(m->ad);
  free(m->params);
  free(m->grads);
  free(m->tensors);
  free(m->p.layer);
  free(m->g.layer);
  free(m->inv_freq);
  free(m->a.mem);
  free(m->a.layer);
  free(m->orig_config);
  free(m->orig_genconfig);
  free(m);
}

const l1k_model_config *l1k_model_cfg(const l1k_model *m) { return &m->cfg; }
size_t l1k_model_num_params(const l1k_model *m) { return m->n_params; }
const char *l1k_model_stored_dtype(const l1k_model *m) { return m->stored_dtype; }
const float *l1k_model_inv_freq(const l1k_model *m) { return m->inv_freq; }

const l1k_tensor_info *l1k_model_tensors(const l1k_model *m, size_t *n) {
  if (n) *n = m->n_tensors;
  return m->tensors;
}

const l1k_tensor_info *l1k_model_tensor(const l1k_model *m, const char *name) {
  for (size_t i = 0; i < m->n_tensors; i++)
    if (!strcmp(m->tensors[i].name, name)) return &m->tensors[i];
  return NULL;
}

float *model_grads_alloc(l1k_model *m) {
  if (m->ad) return NULL; /* the base is frozen: no gradient buffer (include/long1k/adapter.h) */
  if (!m->grads) {
    m->grads = l1k_alloc_big(m->n_params * sizeof(float));
    if (!m->grads) return NULL;
    model_point(m, m->grads, &m->g);
  }
  return m->grads;
}

/* ---------------------------------------------------------------- loading */

typedef struct shard {
  char *file;
  l1k_safetensors st;
  int used;
} shard;

static int is_ignored_buffer(const char *name) {
  size_t n = strlen(name);
  const char *suf = ".rotary_emb.inv_freq";
  size_t s = strlen(suf);
  return n > s && !strcmp(name + n - s, suf);
}

static int load_weights(l1k_model *m, const char *dir, l1k_err *err) {
  int rc = 0;
  shard *sh = NULL;
  size_t n_sh = 0;
  cJSON *index = NULL;
  char *index_path = l1k_path_join(dir, "model.safetensors.index.json");
  char *single_path = l1k_path_join(dir, "model.safetensors");
  if (!index_path || !single_path) {
    rc = l1k_errf(err, L1K_ENOMEM, "out of memory");
    goto done;
  }
  if (l1k_file_exists(single_path)) {
    sh = calloc(1, sizeof *sh);
    if (!sh) {
      rc = l1k_errf(err, L1K_ENOMEM, "out of memory");
      goto done;
    }
    sh[0].file = strdup(single_path);
    n_sh = 1;
  } else if (l1k_file_exists(index_path)) {
    char *txt = l1k_read_file(index_path, NULL, err);
    if (!txt) {
      rc = err ? err->code : L1K_EIO;
      goto done;
    }
    index = cJSON_Parse(txt);
    free(txt);
    const cJSON *wm = index ? cJSON_GetObjectItemCaseSensitive(index, "weight_map") : NULL;
    if (!cJSON_IsObject(wm)) {
      rc = l1k_errf(err, L1K_EINPUT, "%s: expected a JSON object with a 'weight_map' object",
                    index_path);
      goto done;
    }
    int nmap = cJSON_GetArraySize(wm);
    sh = calloc((size_t)(nmap > 0 ? nmap : 1), sizeof *sh);
    if (!sh) {
      rc = l1k_errf(err, L1K_ENOMEM, "out of memory");
      goto done;
    }
    for (const cJSON *e = wm->child; e; e = e->next) {
      if (!cJSON_IsString(e) || strchr(e->valuestring, '/') || !e->valuestring[0]) {
        rc = l1k_errf(err, L1K_EINPUT,
                      "%s: weight_map['%.100s']: expected a shard file name in the same directory",
                      index_path, e->string ? e->string : "");
        goto done;
      }
      size_t k;
      for (k = 0; k < n_sh; k++)
        if (!strcmp(sh[k].file, e->valuestring)) break;
      if (k == n_sh) {
        sh[n_sh].file = strdup(e->valuestring);
        if (!sh[n_sh].file) {
          rc = l1k_errf(err, L1K_ENOMEM, "out of memory");
          goto done;
        }
        n_sh++;
      }
    }
    for (size_t k = 0; k < n_sh; k++) {
      char *full = l1k_path_join(dir, sh[k].file);
      free(sh[k].file);
      sh[k].file = full;
      if (!full) {
        rc = l1k_errf(err, L1K_ENOMEM, "out of memory");
        goto done;
      }
    }
  } else {
    rc = l1k_errf(err, L1K_EINPUT,
                  "%s: no model.safetensors or model.safetensors.index.json (expected a Hugging "
                  "Face model directory with safetensors weights)", dir);
    goto done;
  }
  for (size_t k = 0; k < n_sh; k++)
    if ((rc = l1k_st_open(&sh[k].st, sh[k].file, err))) goto done;

  /* every expected tensor: present once, right shape, float dtype */
  size_t counts[3] = {0, 0, 0};
  for (size_t i = 0; i < m->n_tensors; i++) {
    const l1k_tensor_info *ti = &m->tensors[i];
    const l1k_st_tensor *t = NULL;
    const char *file = NULL;
    for (size_t k = 0; k < n_sh; k++) {
      const l1k_st_tensor *x = l1k_st_find(&sh[k].st, ti->name);
      if (x && t) {
        rc = l1k_errf(err, L1K_EINPUT, "%s: tensor '%s' is stored twice (also in %s)", sh[k].file,
                      ti->name, file);
        goto done;
      }
      if (x) t = x, file = sh[k].file;
    }
    if (!t) {
      /* count all missing ones for the message */
      size_t missing = 0;
      for (size_t j = i; j < m->n_tensors; j++) {
        int found = 0;
        for (size_t k = 0; k < n_sh && !found; k++) found = l1k_st_find(&sh[k].st, m->tensors[j].name) != NULL;
        missing += !found;
      }
      rc = l1k_errf(err, L1K_EINPUT,
                    "%s: missing tensor '%s' (%zu expected tensor%s missing in all; config says %s "
                    "with %d layers%s)", dir, ti->name, missing, missing == 1 ? " is" : "s are",
                    m->cfg.model_type, m->cfg.num_hidden_layers,
                    m->cfg.tie_word_embeddings ? ", tied embeddings" : "");
      goto done;
    }
    int shape_ok = t->ndim == ti->ndim && t->shape[0] == ti->shape[0] &&
                   (ti->ndim == 1 || t->shape[1] == ti->shape[1]);
    if (!shape_ok) {
      char got[128] = "[", want[64];
      for (int d = 0; d < t->ndim; d++)
        snprintf(got + strlen(got), sizeof got - strlen(got), "%s%lld", d ? ", " : "",
                 (long long)t->shape[d]);
      strcat(got, "]");
      if (ti->ndim == 1) snprintf(want, sizeof want, "[%lld]", (long long)ti->shape[0]);
      else snprintf(want, sizeof want, "[%lld, %lld]", (long long)ti->shape[0], (long long)ti->shape[1]);
      rc = l1k_errf(err, L1K_EINPUT, "%s: tensor '%s' has shape %s, expected %s from config.json",
                    file, ti->name, got, want);
      goto done;
    }
    if (!l1k_dtype_is_float(t->dtype)) {
      rc = l1k_errf(err, L1K_EINPUT, "%s: tensor '%s' has dtype %s, expected F32, BF16 or F16",
                    file, ti->name, l1k_dtype_name(t->dtype));
      goto done;
    }
    counts[t->dtype == L1K_DT_F32 ? 0 : t->dtype == L1K_DT_BF16 ? 1 : 2]++;
  }
  /* extra tensors */
  for (size_t k = 0; k < n_sh; k++) {
    for (size_t j = 0; j < sh[k].st.n; j++) {
      const char *nm = sh[k].st.t[j].name;
      if (l1k_model_tensor(m, nm) || is_ignored_buffer(nm)) continue;
      if (m->cfg.tie_word_embeddings && !strcmp(nm, "lm_head.weight")) continue; /* tied copy */
      size_t extra = 0;
      for (size_t kk = 0; kk < n_sh; kk++)
        for (size_t jj = 0; jj < sh[kk].st.n; jj++) {
          const char *x = sh[kk].st.t[jj].name;
          extra += !(l1k_model_tensor(m, x) || is_ignored_buffer(x) ||
                     (m->cfg.tie_word_embeddings && !strcmp(x, "lm_head.weight")));
        }
      rc = l1k_errf(err, L1K_EINPUT,
                    "%s: unexpected tensor '%s' (%zu unexpected in all; config.json says %s with %d "
                    "layers — wrong config?)", sh[k].file, nm, extra, m->cfg.model_type,
                    m->cfg.num_hidden_layers);
      goto done;
    }
  }
  /* convert into the flat float32 buffer */
#pragma omp parallel for schedule(dynamic, 1) if (m->n_params > ((size_t)1 << 22))
  for (size_t i = 0; i < m->n_tensors; i++) {
    for (size_t k = 0; k < n_sh; k++) {
      const l1k_st_tensor *t = l1k_st_find(&sh[k].st, m->tensors[i].name);
      if (t) {
        l1k_st_to_f32(t, m->params + m->tensors[i].offset);
        break;
      }
    }
  }
  const char *names[3] = {"F32", "BF16", "F16"};
  int best = 0;
  for (int d = 1; d < 3; d++)
    if (counts[d] > counts[best]) best = d;
  snprintf(m->stored_dtype, sizeof m->stored_dtype, "%s", names[best]);
  /* transformers casts the rotary inv_freq buffer to the model dtype when it runs a bf16 / f16
   * checkpoint in its own dtype; the reference logits of such checkpoints include that
   * rounding, so we do the same (float32 checkpoints keep float32 inv_freq). */
  if (best) {
    l1k_dtype dt = best == 1 ? L1K_DT_BF16 : L1K_DT_F16;
    for (int i = 0; i < m->cfg.head_dim / 2; i++) {
      uint16_t h = dt == L1K_DT_BF16 ? l1k_f32_to_bf16(m->inv_freq[i]) : l1k_f32_to_f16(m->inv_freq[i]);
      m->inv_freq[i] = dt == L1K_DT_BF16 ? l1k_bf16_to_f32(h) : l1k_f16_to_f32(h);
    }
  }
done:
  for (size_t k = 0; k < n_sh; k++) {
    l1k_st_close(&sh[k].st);
    free(sh[k].file);
  }
  free(sh);
  cJSON_Delete(index);
  free(index_path);
  free(single_path);
  return rc;
}

l1k_model *l1k_model_load(const char *dir, l1k_err *err) {
  l1k_model_config cfg;
  if (l1k_config_load(dir, &cfg, err)) return NULL;
  l1k_model *m = l1k_model_create(&cfg, err);
  if (!m) return NULL;
  char *cp = l1k_path_join(dir, "config.json");
  char *gp = l1k_path_join(dir, "generation_config.json");
  if (cp) m->orig_config = l1k_read_file(cp, NULL, NULL);
  if (gp && l1k_file_exists(gp)) m->orig_genconfig = l1k_read_file(gp, NULL, NULL);
  free(cp);
  free(gp);
  if (load_weights(m, dir, err)) {
    l1k_model_free(m);
    return NULL;
  }
  return m;
}

/* ---------------------------------------------------------------- saving */

static char *config_with_dtype(const char *orig, const char *dtype_name) {
  cJSON *root = cJSON_Parse(orig);
  if (!root) return NULL;
  int set = 0;
  if (cJSON_GetObjectItemCaseSensitive(root, "dtype")) {
    cJSON_ReplaceItemInObjectCaseSensitive(root, "dtype", cJSON_CreateString(dtype_name));
    set = 1;
  }
  if (cJSON_GetObjectItemCaseSensitive(root, "torch_dtype")) {
    cJSON_ReplaceItemInObjectCaseSensitive(root, "torch_dtype", cJSON_CreateString(dtype_name));
    set = 1;
  }
  if (!set) cJSON_AddStringToObject(root, "torch_dtype", dtype_name);
  char *s = cJSON_Print(root);
  cJSON_Delete(root);
  if (!s) return NULL;
  size_t n = strlen(s);
  char *t = realloc(s, n + 2);
  if (!t) {
    free(s);
    return NULL;
  }
  t[n] = '\n';
  t[n + 1] = 0;
  return t;
}

int l1k_model_save(const l1k_model *m, const char *dir, const char *dtype, l1k_err *err) {
  return l1k_model_save_sharded(m, dir, dtype, 0, err);
}

int l1k_model_save_sharded(const l1k_model *m, const char *dir, const char *dtype,
                           uint64_t max_shard_size, l1k_err *err) {
  l1k_dtype dt = l1k_dtype_parse_loose(dtype ? dtype : "f32");
  if (dt != L1K_DT_F32 && dt != L1K_DT_BF16 && dt != L1K_DT_F16)
    return l1k_errf(err, L1K_EINPUT, "save: dtype '%s' not supported (expected f32, bf16 or f16)",
                    dtype ? dtype : "");
  const char *tname = dt == L1K_DT_F32 ? "float32" : dt == L1K_DT_BF16 ? "bfloat16" : "float16";
  int rc = l1k_mkdir_p(dir, err);
  if (rc) return rc;
  float *host = NULL; /* a device backend's parameters, copied to the host for the file */
  const float *params = model_host_params((l1k_model *)m, &host, err);
  if (!params) return err && err->code ? err->code : L1K_ENOMEM;
  l1k_st_entry *e = l1k_calloc(m->n_tensors, sizeof *e, err);
  if (!e) {
    free(host);
    return L1K_ENOMEM;
  }
  for (size_t i = 0; i < m->n_tensors; i++) {
    e[i].name = m->tensors[i].name;
    e[i].dtype = dt;
    e[i].ndim = m->tensors[i].ndim;
    e[i].shape[0] = m->tensors[i].shape[0];
    e[i].shape[1] = m->tensors[i].shape[1];
    e[i].f32 = params + m->tensors[i].offset;
  }
  l1k_st_meta meta = {"format", "pt"};
  rc = l1k_st_write_sharded(dir, "model", e, m->n_tensors,
                            max_shard_size ? max_shard_size : L1K_ST_DEFAULT_MAX_SHARD,
                            m->n_params, &meta, 1, err);
  free(e);
  free(host);
  if (rc) return rc;
  char *cfg = m->orig_config ? config_with_dtype(m->orig_config, tname) : NULL;
  if (!cfg) cfg = l1k_config_to_json(&m->cfg, tname);
  char *gen = m->orig_genconfig ? strdup(m->orig_genconfig) : l1k_generation_config_to_json(&m->cfg);
  char *cp = l1k_path_join(dir, "config.json"), *gp = l1k_path_join(dir, "generation_config.json");
  if (!cfg || !gen || !cp || !gp) rc = l1k_errf(err, L1K_ENOMEM, "out of memory");
  if (!rc) rc = l1k_write_file_atomic(cp, cfg, strlen(cfg), err);
  if (!rc) rc = l1k_write_file_atomic(gp, gen, strlen(gen), err);
  free(cfg);
  free(gen);
  free(cp);
  free(gp);
  return rc;
}
