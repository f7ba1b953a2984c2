/* long1k — config.json / generation_config.json for qwen2, qwen3, llama and mistral, in both the
 * transformers 4.x spelling (rope_theta, rope_scaling, torch_dtype) and the 5.x spelling
 * (rope_parameters, dtype). Anything we do not compute exactly is refused by name. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "long1k/io.h"
#include "long1k/jsonl.h"
#include "long1k/model.h"

static const cJSON *field(const cJSON *o, const char *k) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
  return (v && !cJSON_IsNull(v)) ? v : NULL;
}

static int get_int(const cJSON *o, const char *k, int *out, int required, const char *where,
                   l1k_err *err) {
  const cJSON *v = field(o, k);
  if (!v) {
    if (required)
      return l1k_errf(err, L1K_EINPUT, "%s: missing field '%s' (expected an integer)", where, k);
    return 0;
  }
  if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble) ||
      fabs(v->valuedouble) > 2147483647.0)
    return l1k_errf(err, L1K_EINPUT, "%s: field '%s': expected an integer", where, k);
  *out = (int)v->valuedouble;
  return 0;
}

static int get_num(const cJSON *o, const char *k, double *out, const char *where, l1k_err *err) {
  const cJSON *v = field(o, k);
  if (!v) return 0;
  if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble))
    return l1k_errf(err, L1K_EINPUT, "%s: field '%s': expected a number", where, k);
  *out = v->valuedouble;
  return 0;
}

static int get_bool(const cJSON *o, const char *k, int *out, const char *where, l1k_err *err) {
  const cJSON *v = field(o, k);
  if (!v) return 0;
  if (!cJSON_IsBool(v))
    return l1k_errf(err, L1K_EINPUT, "%s: field '%s': expected true or false", where, k);
  *out = cJSON_IsTrue(v);
  return 0;
}

static void add_eos(l1k_model_config *c, int id) {
  for (int i = 0; i < c->n_eos; i++)
    if (c->eos_token_ids[i] == id) return;
  if (c->n_eos < (int)(sizeof c->eos_token_ids / sizeof c->eos_token_ids[0]))
    c->eos_token_ids[c->n_eos++] = id;
}

static int read_eos(const cJSON *o, l1k_model_config *c, const char *where, l1k_err *err) {
  const cJSON *v = field(o, "eos_token_id");
  if (!v) return 0;
  if (cJSON_IsNumber(v)) {
    add_eos(c, (int)v->valuedouble);
    return 0;
  }
  if (cJSON_IsArray(v)) {
    int n = cJSON_GetArraySize(v);
    if (n > 8)
      return l1k_errf(err, L1K_EUNSUPPORTED, "%s: field 'eos_token_id': %d ids, at most 8 supported",
                      where, n);
    for (const cJSON *e = v->child; e; e = e->next) {
      if (!cJSON_IsNumber(e))
        return l1k_errf(err, L1K_EINPUT, "%s: field 'eos_token_id': expected integers", where);
      add_eos(c, (int)e->valuedouble);
    }
    return 0;
  }
  return l1k_errf(err, L1K_EINPUT, "%s: field 'eos_token_id': expected an integer or a list", where);
}

/* rope_parameters (5.x) or rope_scaling (4.x): type and llama3 factors. */
static int read_rope(const cJSON *r, const char *fname, l1k_model_config *c, const char *where,
                     l1k_err *err) {
  if (!r) return 0;
  if (!cJSON_IsObject(r))
    return l1k_errf(err, L1K_EINPUT, "%s: field '%s': expected an object", where, fname);
  const cJSON *t = field(r, "rope_type");
  if (!t) t = field(r, "type");
  const char *type = t && cJSON_IsString(t) ? t->valuestring : "default";
  if (t && !cJSON_IsString(t))
    return l1k_errf(err, L1K_EINPUT, "%s: field '%s.rope_type': expected a string", where, fname);
  char w[600];
  snprintf(w, sizeof w, "%s: field '%s'", where, fname);
  if (get_num(r, "rope_theta", &c->rope_theta, w, err)) return err ? err->code : L1K_EINPUT;
  if (!strcmp(type, "default")) {
    c->rope_type = 0;
    return 0;
  }
  if (!strcmp(type, "llama3")) {
    c->rope_type = 1;
    c->rope_factor = 8, c->rope_low_freq_factor = 1, c->rope_high_freq_factor = 4;
    c->rope_original_max_position = 8192;
    if (get_num(r, "factor", &c->rope_factor, w, err) ||
        get_num(r, "low_freq_factor", &c->rope_low_freq_factor, w, err) ||
        get_num(r, "high_freq_factor", &c->rope_high_freq_factor, w, err) ||
        get_int(r, "original_max_position_embeddings", &c->rope_original_max_position, 0, w, err))
      return err ? err->code : L1K_EINPUT;
    if (!(c->rope_factor > 0) || !(c->rope_high_freq_factor > c->rope_low_freq_factor) ||
        !(c->rope_low_freq_factor > 0) || c->rope_original_max_position <= 0)
      return l1k_errf(err, L1K_EINPUT,
                      "%s.rope_type 'llama3': expected factor > 0, 0 < low_freq_factor < "
                      "high_freq_factor, original_max_position_embeddings > 0", w);
    return 0;
  }
  return l1k_errf(err, L1K_EUNSUPPORTED,
                  "%s.rope_type: '%.40s' is not supported (supported: default, llama3)", w, type);
}

int l1k_config_validate(const l1k_model_config *c, const char *where, l1k_err *err) {
  struct { const char *k; int v; } pos[] = {
      {"vocab_size", c->vocab_size},
      {"hidden_size", c->hidden_size},
      {"intermediate_size", c->intermediate_size},
      {"num_hidden_layers", c->num_hidden_layers},
      {"num_attention_heads", c->num_attention_heads},
      {"num_key_value_heads", c->num_key_value_heads},
      {"head_dim", c->head_dim},
  };
  for (size_t i = 0; i < sizeof pos / sizeof pos[0]; i++)
    if (pos[i].v <= 0)
      return l1k_errf(err, L1K_EINPUT, "%s: field '%s': expected a positive integer, got %d",
                      where, pos[i].k, pos[i].v);
  if (c->num_attention_heads % c->num_key_value_heads)
    return l1k_errf(err, L1K_EINPUT,
                    "%s: num_attention_heads (%d) must be a multiple of num_key_value_heads (%d)",
                    where, c->num_attention_heads, c->num_key_value_heads);
  if (c->head_dim % 2)
    return l1k_errf(err, L1K_EINPUT, "%s: head_dim (%d) must be even for rotary embeddings", where,
                    c->head_dim);
  if (c->num_hidden_layers > 1000 || c->head_dim > 4096 ||
      (double)c->vocab_size * c->hidden_size > 4e11 ||
      (double)c->intermediate_size * c->hidden_size > 4e11 ||
      (double)c->num_attention_heads * c->head_dim > 1e6)
    return l1k_errf(err, L1K_EINPUT, "%s: model dimensions are implausibly large", where);
  if (!(c->rms_norm_eps > 0) || !(c->rope_theta > 0))
    return l1k_errf(err, L1K_EINPUT, "%s: rms_norm_eps and rope_theta must be positive", where);
  return 0;
}

/* Mistral: sliding_window (MistralConfig's default 4096 when absent) must be null or cover every
 * position the model accepts (max_position_embeddings), so attention is full attention. */
static int check_mistral_window(const cJSON *root, const l1k_model_config *c, const char *where,
                                l1k_err *err) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, "sliding_window");
  if (v && cJSON_IsNull(v)) return 0;
  int w = 4096;
  int rc = get_int(root, "sliding_window", &w, 0, where, err);
  if (rc) return rc;
  if (w >= c->max_position_embeddings) return 0;
  return l1k_errf(err, L1K_EUNSUPPORTED,
                  "%s: field 'sliding_window': %d%s is less than max_position_embeddings (%d): "
                  "sliding-window attention is not supported (null or >= %d means full attention)",
                  where, w, v ? "" : " (MistralConfig's default)", c->max_position_embeddings,
                  c->max_position_embeddings);
}

int l1k_config_parse(const char *json, const char *where, l1k_model_config *c, l1k_err *err) {
  memset(c, 0, sizeof *c);
  c->pad_token_id = -1;
  c->bos_token_id = -1;
  c->initializer_range = 0.02;
  c->rms_norm_eps = 1e-6;
  c->rope_theta = 10000.0;
  c->max_position_embeddings = 32768;
  snprintf(c->torch_dtype, sizeof c->torch_dtype, "float32");
  cJSON *root = l1k_json_parse_doc(json, strlen(json), where, err);
  if (!root) return L1K_EINPUT; /* err says where */
  if (!cJSON_IsObject(root)) {
    cJSON_Delete(root);
    return l1k_errf(err, L1K_EINPUT, "%s: expected a config.json object", where);
  }
  int rc = 0;
  const cJSON *mt = field(root, "model_type");
  if (!mt || !cJSON_IsString(mt)) {
    rc = l1k_errf(err, L1K_EINPUT,
                  "%s: missing field 'model_type' (expected qwen2, qwen3, llama or mistral)", where);
    goto done;
  }
  if (strcmp(mt->valuestring, "qwen2") && strcmp(mt->valuestring, "qwen3") &&
      strcmp(mt->valuestring, "llama") && strcmp(mt->valuestring, "mistral")) {
    rc = l1k_errf(err, L1K_EUNSUPPORTED,
                  "%s: model_type '%.40s' is not supported (supported: qwen2, qwen3, llama, mistral)",
                  where, mt->valuestring);
    goto done;
  }
  snprintf(c->model_type, sizeof c->model_type, "%s", mt->valuestring);
  int is_llama = !strcmp(c->model_type, "llama"), is_qwen3 = !strcmp(c->model_type, "qwen3");
  int is_mistral = !strcmp(c->model_type, "mistral");
  if (is_llama) c->max_position_embeddings = 2048;
  c->num_key_value_heads = -1;
  if (is_mistral) { /* MistralConfig's defaults (Llama-like otherwise) */
    c->max_position_embeddings = 4096 * 32;
    c->num_key_value_heads = 8;
  }
  c->head_dim = -1;
  if ((rc = get_int(root, "vocab_size", &c->vocab_size, 1, where, err)) ||
      (rc = get_int(root, "hidden_size", &c->hidden_size, 1, where, err)) ||
      (rc = get_int(root, "intermediate_size", &c->intermediate_size, 1, where, err)) ||
      (rc = get_int(root, "num_hidden_layers", &c->num_hidden_layers, 1, where, err)) ||
      (rc = get_int(root, "num_attention_heads", &c->num_attention_heads, 1, where, err)) ||
      (rc = get_int(root, "num_key_value_heads", &c->num_key_value_heads, 0, where, err)) ||
      (rc = get_int(root, "head_dim", &c->head_dim, 0, where, err)) ||
      (rc = get_int(root, "max_position_embeddings", &c->max_position_embeddings, 0, where, err)) ||
      (rc = get_int(root, "bos_token_id", &c->bos_token_id, 0, where, err)) ||
      (rc = get_int(root, "pad_token_id", &c->pad_token_id, 0, where, err)) ||
      (rc = get_num(root, "rms_norm_eps", &c->rms_norm_eps, where, err)) ||
      (rc = get_num(root, "initializer_range", &c->initializer_range, where, err)) ||
      (rc = get_num(root, "rope_theta", &c->rope_theta, where, err)) ||
      (rc = get_bool(root, "tie_word_embeddings", &c->tie_word_embeddings, where, err)))
    goto done;
  if (c->num_key_value_heads < 0) c->num_key_value_heads = c->num_attention_heads;
  if (c->head_dim < 0) {
    if (c->num_attention_heads <= 0 || c->hidden_size % c->num_attention_heads) {
      rc = l1k_errf(err, L1K_EINPUT,
                    "%s: hidden_size (%d) is not divisible by num_attention_heads (%d) and no head_dim "
                    "is given", where, c->hidden_size, c->num_attention_heads);
      goto done;
    }
    c->head_dim = c->hidden_size / c->num_attention_heads;
  }
  /* activation */
  const cJSON *act = field(root, "hidden_act");
  if (act && (!cJSON_IsString(act) || strcmp(act->valuestring, "silu"))) {
    rc = l1k_errf(err, L1K_EUNSUPPORTED, "%s: field 'hidden_act': only 'silu' is supported", where);
    goto done;
  }
  /* biases */
  int ab = 0, mb = 0;
  if ((rc = get_bool(root, "attention_bias", &ab, where, err)) ||
      (rc = get_bool(root, "mlp_bias", &mb, where, err)))
    goto done;
  if (!strcmp(c->model_type, "qwen2")) {
    c->attention_bias = 1; /* Qwen2 always has q/k/v biases and none on o_proj */
  } else if (ab) {
    rc = l1k_errf(err, L1K_EUNSUPPORTED,
                  "%s: field 'attention_bias': true is not supported for %s (no such checkpoints "
                  "in the supported families)", where, c->model_type);
    goto done;
  }
  if (mb) {
    rc = l1k_errf(err, L1K_EUNSUPPORTED, "%s: field 'mlp_bias': true is not supported", where);
    goto done;
  }
  c->qk_norm = is_qwen3;
  /* sliding window */
  int sw = 0;
  if ((rc = get_bool(root, "use_sliding_window", &sw, where, err))) goto done;
  if (sw) {
    rc = l1k_errf(err, L1K_EUNSUPPORTED,
                  "%s: field 'use_sliding_window': sliding-window attention is not supported "
                  "(set it to false to use full attention)", where);
    goto done;
  }
  if (is_mistral && (rc = check_mistral_window(root, c, where, err))) goto done;
  const cJSON *lt = field(root, "layer_types");
  if (lt) {
    for (const cJSON *e = cJSON_IsArray(lt) ? lt->child : NULL; e; e = e->next) {
      if (!cJSON_IsString(e) || strcmp(e->valuestring, "full_attention")) {
        rc = l1k_errf(err, L1K_EUNSUPPORTED,
                      "%s: field 'layer_types': only 'full_attention' layers are supported", where);
        goto done;
      }
    }
  }
  /* rope: 5.x rope_parameters wins over 4.x rope_scaling */
  const cJSON *rp = field(root, "rope_parameters");
  if (rp) {
    if ((rc = read_rope(rp, "rope_parameters", c, where, err))) goto done;
  } else if ((rc = read_rope(field(root, "rope_scaling"), "rope_scaling", c, where, err))) {
    goto done;
  }
  const cJSON *dt = field(root, "dtype");
  if (!dt) dt = field(root, "torch_dtype");
  if (dt) {
    if (!cJSON_IsString(dt)) {
      rc = l1k_errf(err, L1K_EINPUT, "%s: field 'dtype': expected a string", where);
      goto done;
    }
    snprintf(c->torch_dtype, sizeof c->torch_dtype, "%s", dt->valuestring);
  }
  if ((rc = read_eos(root, c, where, err))) goto done;
  rc = l1k_config_validate(c, where, err);
done:
  cJSON_Delete(root);
  return rc;
}

int l1k_config_load_file(const char *path, l1k_model_config *cfg, l1k_err *err) {
  char *txt = l1k_read_file(path, NULL, err);
  if (!txt) return err ? err->code : L1K_EIO;
  int rc = l1k_config_parse(txt, path, cfg, err);
  free(txt);
  if (rc) return rc;
  /* generation_config.json beside it: its EOS ids come first (generate() uses them) */
  const char *slash = strrchr(path, '/');
  char *dir = slash ? strndup(path, (size_t)(slash - path)) : strdup(".");
  char *gp = dir ? l1k_path_join(dir, "generation_config.json") : NULL;
  free(dir);
  if (!gp) return l1k_errf(err, L1K_ENOMEM, "out of memory");
  if (l1k_file_exists(gp)) {
    char *g = l1k_read_file(gp, NULL, err);
    if (!g) {
      free(gp);
      return err ? err->code : L1K_EIO;
    }
    cJSON *root = cJSON_Parse(g);
    free(g);
    if (!root || !cJSON_IsObject(root)) {
      cJSON_Delete(root);
      rc = l1k_errf(err, L1K_EINPUT, "%s: invalid JSON (expected an object)", gp);
      free(gp);
      return rc;
    }
    l1k_model_config tmp = *cfg;
    tmp.n_eos = 0;
    rc = read_eos(root, &tmp, gp, err);
    cJSON_Delete(root);
    if (!rc) {
      for (int i = 0; i < cfg->n_eos; i++) add_eos(&tmp, cfg->eos_token_ids[i]);
      memcpy(cfg->eos_token_ids, tmp.eos_token_ids, sizeof cfg->eos_token_ids);
      cfg->n_eos = tmp.n_eos;
    }
  }
  free(gp);
  return rc;
}

int l1k_config_load(const char *dir, l1k_model_config *cfg, l1k_err *err) {
  if (!l1k_is_dir(dir))
    return l1k_errf(err, L1K_EINPUT, "%s: not a directory (expected a model directory with config.json)", dir);
  char *p = l1k_path_join(dir, "config.json");
  if (!p) return l1k_errf(err, L1K_ENOMEM, "out of memory");
  if (!l1k_file_exists(p)) {
    int rc = l1k_errf(err, L1K_EINPUT, "%s: missing (expected a Hugging Face model directory)", p);
    free(p);
    return rc;
  }
  int rc = l1k_config_load_file(p, cfg, err);
  free(p);
  return rc;
}

size_t l1k_config_num_params(const l1k_model_config *c) {
  size_t C = (size_t)c->hidden_size, V = (size_t)c->vocab_size, I = (size_t)c->intermediate_size;
  size_t qd = (size_t)c->num_attention_heads * c->head_dim;
  size_t kvd = (size_t)c->num_key_value_heads * c->head_dim;
  size_t layer = C + qd * C + 2 * kvd * C + C * qd + C + 3 * I * C;
  if (c->attention_bias) layer += qd + 2 * kvd;
  if (c->qk_norm) layer += 2 * (size_t)c->head_dim;
  return V * C + (size_t)c->num_hidden_layers * layer + C + (c->tie_word_embeddings ? 0 : V * C);
}

static void jnum(l1k_buf *b, const char *k, double v, int last) {
  char tmp[64];
  snprintf(tmp, sizeof tmp, "%.15g", v); /* shortest form that reads back exactly */
  if (strtod(tmp, NULL) != v) snprintf(tmp, sizeof tmp, "%.17g", v);
  if (!strchr(tmp, '.') && !strchr(tmp, 'e') && !strchr(tmp, 'n')) strcat(tmp, ".0");
  l1k_buf_printf(b, "  \"%s\": %s%s\n", k, tmp, last ? "" : ",");
}

char *l1k_config_to_json(const l1k_model_config *c, const char *dtype_name) {
  l1k_buf b = {0};
  const char *arch = !strcmp(c->model_type, "qwen2")     ? "Qwen2ForCausalLM"
                     : !strcmp(c->model_type, "qwen3")   ? "Qwen3ForCausalLM"
                     : !strcmp(c->model_type, "mistral") ? "MistralForCausalLM"
                                                         : "LlamaForCausalLM";
  l1k_buf_printf(&b, "{\n  \"architectures\": [\"%s\"],\n", arch);
  if (strcmp(c->model_type, "qwen2") && strcmp(c->model_type, "mistral"))
    l1k_buf_puts(&b, "  \"attention_bias\": false,\n");
  l1k_buf_puts(&b, "  \"attention_dropout\": 0.0,\n");
  if (c->bos_token_id >= 0) l1k_buf_printf(&b, "  \"bos_token_id\": %d,\n", c->bos_token_id);
  if (c->n_eos == 1) l1k_buf_printf(&b, "  \"eos_token_id\": %d,\n", c->eos_token_ids[0]);
  else if (c->n_eos > 1) {
    l1k_buf_puts(&b, "  \"eos_token_id\": [");
    for (int i = 0; i < c->n_eos; i++) l1k_buf_printf(&b, "%s%d", i ? ", " : "", c->eos_token_ids[i]);
    l1k_buf_puts(&b, "],\n");
  }
  l1k_buf_printf(&b, "  \"head_dim\": %d,\n", c->head_dim);
  l1k_buf_puts(&b, "  \"hidden_act\": \"silu\",\n");
  l1k_buf_printf(&b, "  \"hidden_size\": %d,\n", c->hidden_size);
  jnum(&b, "initializer_range", c->initializer_range, 0);
  l1k_buf_printf(&b, "  \"intermediate_size\": %d,\n", c->intermediate_size);
  l1k_buf_printf(&b, "  \"max_position_embeddings\": %d,\n", c->max_position_embeddings);
  if (!strcmp(c->model_type, "llama")) l1k_buf_puts(&b, "  \"mlp_bias\": false,\n");
  l1k_buf_printf(&b, "  \"model_type\": \"%s\",\n", c->model_type);
  l1k_buf_printf(&b, "  \"num_attention_heads\": %d,\n", c->num_attention_heads);
  l1k_buf_printf(&b, "  \"num_hidden_layers\": %d,\n", c->num_hidden_layers);
  l1k_buf_printf(&b, "  \"num_key_value_heads\": %d,\n", c->num_key_value_heads);
  if (c->pad_token_id >= 0) l1k_buf_printf(&b, "  \"pad_token_id\": %d,\n", c->pad_token_id);
  jnum(&b, "rms_norm_eps", c->rms_norm_eps, 0);
  if (c->rope_type == 1) {
    l1k_buf_puts(&b, "  \"rope_scaling\": {\n");
    l1k_buf_printf(&b, "    \"factor\": %.17g,\n    \"high_freq_factor\": %.17g,\n", c->rope_factor,
                   c->rope_high_freq_factor);
    l1k_buf_printf(&b, "    \"low_freq_factor\": %.17g,\n", c->rope_low_freq_factor);
    l1k_buf_printf(&b, "    \"original_max_position_embeddings\": %d,\n",
                   c->rope_original_max_position);
    l1k_buf_puts(&b, "    \"rope_type\": \"llama3\"\n  },\n");
  } else {
    l1k_buf_puts(&b, "  \"rope_scaling\": null,\n");
  }
  jnum(&b, "rope_theta", c->rope_theta, 0);
  if (!strcmp(c->model_type, "mistral"))
    l1k_buf_puts(&b, "  \"sliding_window\": null,\n");
  else if (strcmp(c->model_type, "llama"))
    l1k_buf_puts(&b, "  \"sliding_window\": null,\n  \"use_sliding_window\": false,\n");
  l1k_buf_printf(&b, "  \"tie_word_embeddings\": %s,\n", c->tie_word_embeddings ? "true" : "false");
  l1k_buf_printf(&b, "  \"torch_dtype\": \"%s\",\n", dtype_name);
  l1k_buf_puts(&b, "  \"transformers_version\": \"4.51.0\",\n  \"use_cache\": true,\n");
  l1k_buf_printf(&b, "  \"vocab_size\": %d\n}\n", c->vocab_size);
  return b.data;
}

char *l1k_generation_config_to_json(const l1k_model_config *c) {
  l1k_buf b = {0};
  l1k_buf_puts(&b, "{\n");
  if (c->bos_token_id >= 0) l1k_buf_printf(&b, "  \"bos_token_id\": %d,\n", c->bos_token_id);
  if (c->n_eos == 1) l1k_buf_printf(&b, "  \"eos_token_id\": %d,\n", c->eos_token_ids[0]);
  else if (c->n_eos > 1) {
    l1k_buf_puts(&b, "  \"eos_token_id\": [");
    for (int i = 0; i < c->n_eos; i++) l1k_buf_printf(&b, "%s%d", i ? ", " : "", c->eos_token_ids[i]);
    l1k_buf_puts(&b, "],\n");
  }
  if (c->pad_token_id >= 0) l1k_buf_printf(&b, "  \"pad_token_id\": %d,\n", c->pad_token_id);
  l1k_buf_puts(&b, "  \"transformers_version\": \"4.51.0\"\n}\n");
  return b.data;
}
