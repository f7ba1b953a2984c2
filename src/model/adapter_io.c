/* long1k — PEFT LoRA directories: adapter_config.json + adapter_model.safetensors, read and
 * written as peft 0.21 does (tensor names "base_model.model.model.layers.0.self_attn.q_proj.
 * lora_A.weight", modules_to_save as "base_model.model.lm_head.weight"), so that
 * peft.PeftModel.from_pretrained loads what long1k writes unchanged. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "long1k/io.h"
#include "long1k/jsonl.h"
#include "long1k/safetensors.h"
#include "model/adapter_internal.h"

/* ---------------------------------------------------------------- adapter_config.json */

static int cfg_bool(const cJSON *j, const char *key, int *v, const char *path, l1k_err *err) {
  const cJSON *x = cJSON_GetObjectItemCaseSensitive(j, key);
  *v = 0;
  if (!x || cJSON_IsNull(x)) return 0;
  if (!cJSON_IsBool(x))
    return l1k_errf(err, L1K_EINPUT, "%s: \"%s\": expected true or false", path, key);
  *v = cJSON_IsTrue(x);
  return 0;
}

/* A key whose only supported value is "absent, null, false, empty" (what long1k runs). */
static int cfg_refuse_set(const cJSON *j, const char *key, const char *path, l1k_err *err) {
  const cJSON *x = cJSON_GetObjectItemCaseSensitive(j, key);
  if (!x || cJSON_IsNull(x) || cJSON_IsFalse(x)) return 0;
  if ((cJSON_IsObject(x) || cJSON_IsArray(x)) && !x->child) return 0;
  if (cJSON_IsString(x) && (!strcmp(x->valuestring, "none") || !x->valuestring[0])) return 0;
  return l1k_errf(err, L1K_EUNSUPPORTED, "%s: \"%s\" is set; long1k runs plain LoRA only", path,
                  key);
}

static int cfg_names(const cJSON *j, const char *key, int targets, unsigned *bits,
                     const char *path, l1k_err *err) {
  const cJSON *x = cJSON_GetObjectItemCaseSensitive(j, key);
  char what[300];
  snprintf(what, sizeof what, "%s: \"%s\"", path, key);
  *bits = 0;
  if (!x || cJSON_IsNull(x)) {
    if (targets) return l1k_errf(err, L1K_EINPUT, "%s: missing", what);
    return 0;
  }
  if (cJSON_IsString(x) && targets && !strcmp(x->valuestring, "all-linear")) {
    *bits = (1u << L1K_LORA_NMOD) - 1;
    return 0;
  }
  if (!cJSON_IsArray(x))
    return l1k_errf(err, L1K_EINPUT, "%s: expected a list of module names%s", what,
                    targets ? " (or \"all-linear\"; regular expressions are not supported)" : "");
  const cJSON *e;
  cJSON_ArrayForEach(e, x) {
    unsigned b = 0;
    if (!cJSON_IsString(e)) return l1k_errf(err, L1K_EINPUT, "%s: expected strings", what);
    int rc = targets ? l1k_lora_parse_targets(e->valuestring, what, &b, err)
                     : l1k_lora_parse_save(e->valuestring, what, &b, err);
    if (rc) return rc;
    *bits |= b;
  }
  return 0;
}

static int parse_config(const char *path, l1k_lora_opts *o, l1k_err *err) {
  size_t len = 0;
  char *txt = l1k_read_file(path, &len, err);
  if (!txt) return err && err->code ? err->code : L1K_EIO;
  cJSON *j = cJSON_Parse(txt);
  free(txt);
  if (!cJSON_IsObject(j)) {
    cJSON_Delete(j);
    return l1k_errf(err, L1K_EINPUT, "%s: not a JSON object", path);
  }
  memset(o, 0, sizeof *o);
  int rc = 0;
  const cJSON *pt = cJSON_GetObjectItemCaseSensitive(j, "peft_type");
  const cJSON *r = cJSON_GetObjectItemCaseSensitive(j, "r");
  const cJSON *a = cJSON_GetObjectItemCaseSensitive(j, "lora_alpha");
  if (!cJSON_IsString(pt) || strcmp(pt->valuestring, "LORA"))
    rc = l1k_errf(err, L1K_EUNSUPPORTED, "%s: \"peft_type\": expected \"LORA\"", path);
  else if (!cJSON_IsNumber(r) || r->valuedouble < 1 || r->valuedouble != floor(r->valuedouble))
    rc = l1k_errf(err, L1K_EINPUT, "%s: \"r\": expected a positive integer", path);
  else if (!cJSON_IsNumber(a) || !(a->valuedouble > 0))
    rc = l1k_errf(err, L1K_EINPUT, "%s: \"lora_alpha\": expected a positive number", path);
  const char *refused[] = {"use_dora", "rank_pattern", "alpha_pattern", "layers_to_transform",
                           "fan_in_fan_out", "lora_bias", "bias", "use_qalora",
                           "trainable_token_indices", "target_parameters", "layer_replication"};
  for (size_t i = 0; i < sizeof refused / sizeof refused[0] && !rc; i++)
    rc = cfg_refuse_set(j, refused[i], path, err);
  if (!rc) rc = cfg_bool(j, "use_rslora", &o->use_rslora, path, err);
  const cJSON *dp = cJSON_GetObjectItemCaseSensitive(j, "lora_dropout");
  if (!rc && dp && !cJSON_IsNull(dp) && (!cJSON_IsNumber(dp) || !(dp->valuedouble >= 0) ||
                                        !(dp->valuedouble < 1)))
    rc = l1k_errf(err, L1K_EINPUT, "%s: \"lora_dropout\": expected a number in [0, 1)", path);
  if (!rc && cJSON_IsNumber(dp)) o->dropout = dp->valuedouble;
  if (!rc) rc = cfg_names(j, "target_modules", 1, &o->targets, path, err);
  if (!rc) rc = cfg_names(j, "modules_to_save", 0, &o->save, path, err);
  if (!rc) {
    o->rank = (int)r->valuedouble;
    o->alpha = a->valuedouble;
  }
  cJSON_Delete(j);
  return rc;
}

static void put_alpha(l1k_buf *b, double alpha) {
  if (alpha == floor(alpha) && fabs(alpha) < 1e15) l1k_buf_printf(b, "%.0f", alpha);
  else l1k_buf_printf(b, "%.17g", alpha);
}

/* Python's repr of a float (json.dump): 0.0, 0.05, 0.1 */
static void put_float(l1k_buf *b, double v) {
  char t[40];
  for (int prec = 1; prec <= 17; prec++) { /* the shortest text that reads back as v */
    snprintf(t, sizeof t, "%.*g", prec, v);
    if (strtod(t, NULL) == v) break;
  }
  l1k_buf_puts(b, t);
  if (!strpbrk(t, ".eEn")) l1k_buf_puts(b, ".0");
}

/* The keys, values and order of peft 0.21.2's save_pretrained for a plain LoRA (sorted keys,
 * indent 2). */
static char *config_json(const model_adapter *ad, const char *base_name) {
  l1k_buf b = {0};
  l1k_buf_puts(&b, "{\n  \"alora_invocation_tokens\": null,\n  \"alpha_pattern\": {},\n"
                   "  \"arrow_config\": null,\n  \"auto_mapping\": null,\n"
                   "  \"base_model_name_or_path\": ");
  l1k_buf_json_string(&b, base_name ? base_name : "", strlen(base_name ? base_name : ""));
  l1k_buf_puts(&b, ",\n  \"bias\": \"none\",\n  \"corda_config\": null,\n"
                   "  \"ensure_weight_tying\": false,\n  \"eva_config\": null,\n"
                   "  \"exclude_modules\": null,\n  \"fan_in_fan_out\": false,\n"
                   "  \"inference_mode\": true,\n  \"init_lora_weights\": true,\n"
                   "  \"kasa_config\": null,\n  \"layer_replication\": null,\n"
                   "  \"layers_pattern\": null,\n  \"layers_to_transform\": null,\n"
                   "  \"loftq_config\": {},\n  \"lora_alpha\": ");
  put_alpha(&b, ad->o.alpha);
  l1k_buf_puts(&b, ",\n  \"lora_bias\": false,\n  \"lora_dropout\": ");
  put_float(&b, ad->o.dropout);
  l1k_buf_puts(&b, ",\n  \"lora_ga_config\": null,\n  \"megatron_config\": null,\n"
                   "  \"megatron_core\": \"megatron.core\",\n  \"modules_to_save\": ");
  if (!ad->o.save) {
    l1k_buf_puts(&b, "null");
  } else {
    l1k_buf_puts(&b, "[");
    if (ad->o.save & L1K_SAVE_EMBED) l1k_buf_puts(&b, "\n    \"embed_tokens\"");
    if (ad->o.save & L1K_SAVE_LM_HEAD)
      l1k_buf_printf(&b, "%s\n    \"lm_head\"", ad->o.save & L1K_SAVE_EMBED ? "," : "");
    l1k_buf_puts(&b, "\n  ]");
  }
  l1k_buf_printf(&b, ",\n  \"monteclora_config\": null,\n  \"peft_type\": \"LORA\",\n"
                     "  \"peft_version\": \"0.21.2\",\n  \"qalora_group_size\": 16,\n"
                     "  \"r\": %d,\n  \"rank_pattern\": {},\n  \"revision\": null,\n"
                     "  \"target_modules\": [",
                 ad->o.rank);
  int first = 1;
  for (int k = 0; k < L1K_LORA_NMOD; k++)
    if (ad->o.targets & (1u << k)) {
      l1k_buf_printf(&b, "%s\n    \"%s\"", first ? "" : ",", l1k_lora_module_names[k]);
      first = 0;
    }
  l1k_buf_printf(&b, "\n  ],\n  \"target_parameters\": null,\n  \"task_type\": \"CAUSAL_LM\",\n"
                     "  \"trainable_token_indices\": null,\n  \"use_bdlora\": null,\n"
                     "  \"use_dora\": false,\n  \"use_qalora\": false,\n  \"use_rslora\": %s,\n"
                     "  \"velora_config\": null\n}",
                 ad->o.use_rslora ? "true" : "false");
  return b.data;
}

/* ---------------------------------------------------------------- adapter_model.safetensors */

static int read_tensors(model_adapter *ad, const char *path, l1k_err *err) {
  l1k_safetensors st;
  int rc = l1k_st_open(&st, path, err);
  if (rc) return rc;
  for (size_t i = 0; i < st.n && !rc; i++) {
    const l1k_st_tensor *t = &st.t[i];
    const l1k_tensor_info *d = NULL;
    for (size_t k = 0; k < ad->n_tensors && !d; k++)
      if (!strcmp(ad->tensors[k].name, t->name)) d = &ad->tensors[k];
    if (!d)
      rc = l1k_errf(err, L1K_EINPUT, "%s: tensor '%s' is not part of the adapter its "
                    "adapter_config.json describes", path, t->name);
    else if (t->ndim != d->ndim || t->shape[0] != d->shape[0] ||
             (d->ndim > 1 && t->shape[1] != d->shape[1]))
      rc = l1k_errf(err, L1K_EINPUT, "%s: tensor '%s': shape [%lld, %lld], expected [%lld, %lld]",
                    path, t->name, (long long)t->shape[0], (long long)(t->ndim > 1 ? t->shape[1] : 0),
                    (long long)d->shape[0], (long long)d->shape[1]);
    else if (t->dtype != L1K_DT_F32 && t->dtype != L1K_DT_BF16 && t->dtype != L1K_DT_F16)
      rc = l1k_errf(err, L1K_EINPUT, "%s: tensor '%s': expected F32, BF16 or F16", path, t->name);
    else
      l1k_st_to_f32(t, ad->params + d->offset);
  }
  for (size_t k = 0; k < ad->n_tensors && !rc; k++)
    if (!l1k_st_find(&st, ad->tensors[k].name))
      rc = l1k_errf(err, L1K_EINPUT, "%s: missing tensor '%s'", path, ad->tensors[k].name);
  l1k_st_close(&st);
  return rc;
}

int l1k_model_lora_load(l1k_model *m, const char *dir, l1k_err *err) {
  char *cp = l1k_path_join(dir, "adapter_config.json");
  char *tp = l1k_path_join(dir, "adapter_model.safetensors");
  l1k_lora_opts o;
  int rc = cp && tp ? 0 : l1k_errf(err, L1K_ENOMEM, "out of memory");
  if (!rc && !l1k_file_exists(cp))
    rc = l1k_errf(err, L1K_EINPUT, "%s: no adapter_config.json (not a PEFT adapter directory)", dir);
  if (!rc && !l1k_file_exists(tp))
    rc = l1k_errf(err, L1K_EINPUT, "%s: no adapter_model.safetensors (long1k reads the "
                  "safetensors format only)", dir);
  if (!rc) rc = parse_config(cp, &o, err);
  if (!rc) rc = model_lora_attach_empty(m, &o, err);
  if (!rc && (rc = read_tensors(m->ad, tp, err))) {
    model_adapter_drop(m); /* the base as it was */
  }
  free(cp);
  free(tp);
  return rc;
}

int l1k_model_lora_merge_dir(l1k_model *m, const char *dir, l1k_err *err) {
  if (m->ad)
    return l1k_errf(err, L1K_EINPUT, "adapter %s: the model already has a %s adapter", dir,
                    l1k_model_adapter_kind(m));
  int rc = l1k_model_lora_load(m, dir, err);
  if (!rc) rc = l1k_model_adapter_merge(m, err);
  return rc;
}

int l1k_model_lora_save(l1k_model *m, const char *dir, const char *base_name, l1k_err *err) {
  model_adapter *ad = m->ad;
  if (!ad || ad->kind != ADAPTER_LORA)
    return l1k_errf(err, L1K_EINTERNAL, "lora save: the model has no LoRA adapter");
  int rc = l1k_mkdir_p(dir, err);
  if (rc) return rc;
  l1k_st_entry *e = l1k_calloc(ad->n_tensors ? ad->n_tensors : 1, sizeof *e, err);
  if (!e) return L1K_ENOMEM;
  for (size_t i = 0; i < ad->n_tensors; i++) {
    e[i].name = ad->tensors[i].name;
    e[i].dtype = L1K_DT_F32;
    e[i].ndim = ad->tensors[i].ndim;
    e[i].shape[0] = ad->tensors[i].shape[0];
    e[i].shape[1] = ad->tensors[i].shape[1];
    e[i].f32 = ad->params + ad->tensors[i].offset;
  }
  l1k_st_meta meta = {"format", "pt"};
  char *tp = l1k_path_join(dir, "adapter_model.safetensors");
  char *cp = l1k_path_join(dir, "adapter_config.json");
  char *cfg = config_json(ad, base_name);
  if (!tp || !cp || !cfg) rc = l1k_errf(err, L1K_ENOMEM, "out of memory");
  if (!rc) rc = l1k_st_write(tp, e, ad->n_tensors, &meta, 1, err);
  if (!rc) rc = l1k_write_file_atomic(cp, cfg, strlen(cfg), err);
  free(e);
  free(tp);
  free(cp);
  free(cfg);
  return rc;
}
