/* long1k — AdamW trajectory parity: see include/long1k/trajectory.h. */
#include "long1k/trajectory.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "long1k/adapter.h"
#include "long1k/safetensors.h"

static int num(const cJSON *o, const char *k, double *v, l1k_err *err) {
  const cJSON *x = cJSON_GetObjectItemCaseSensitive(o, k);
  if (!cJSON_IsNumber(x))
    return l1k_errf(err, L1K_EINPUT, "reference.json: adamw.%s: expected a number", k);
  *v = x->valuedouble;
  return 0;
}

static double rel(double a, double b) {
  return fabs(a - b) / (fabs(b) > 1e-30 ? fabs(b) : 1e-30);
}

static int name_no_decay(const char *n) {
  size_t l = strlen(n);
  return (l >= 4 && !strcmp(n + l - 4, "bias")) || strstr(n, "norm") != NULL;
}

int l1k_parity_trajectory(l1k_model *m, const l1k_batch *b, const cJSON *meta,
                          const char *params_path, double tol, l1k_buf *out, int *ok,
                          l1k_err *err) {
  const cJSON *aw = cJSON_GetObjectItemCaseSensitive(meta, "adamw");
  const cJSON *tr = cJSON_GetObjectItemCaseSensitive(meta, "trajectory");
  if (!cJSON_IsObject(aw) || !cJSON_IsArray(tr))
    return l1k_errf(err, L1K_EINPUT, "reference.json: expected \"adamw\" and \"trajectory\"");
  double lr = 0, wd = 0, eps = 0, clip = 0, steps_d = 0;
  int rc = num(aw, "lr", &lr, err);
  if (!rc) rc = num(aw, "weight_decay", &wd, err);
  if (!rc) rc = num(aw, "eps", &eps, err);
  if (!rc) rc = num(aw, "clip_grad_norm", &clip, err);
  if (!rc) rc = num(aw, "steps", &steps_d, err);
  if (rc) return rc;
  const cJSON *betas = cJSON_GetObjectItemCaseSensitive(aw, "betas");
  if (!cJSON_IsArray(betas) || cJSON_GetArraySize(betas) != 2 ||
      !cJSON_IsNumber(cJSON_GetArrayItem(betas, 0)) || !cJSON_IsNumber(cJSON_GetArrayItem(betas, 1)))
    return l1k_errf(err, L1K_EINPUT, "reference.json: adamw.betas: expected [beta1, beta2]");
  int steps = (int)steps_d;
  if (steps < 1 || steps > 1000 || cJSON_GetArraySize(tr) < steps)
    return l1k_errf(err, L1K_EINPUT, "reference.json: trajectory: expected %d steps", steps);

  /* the trainable space: the whole model, or its LoRA / freeze adapter (adapter.h) */
  size_t n = l1k_model_num_trainable(m), nt = 0;
  const l1k_tensor_info *ti = l1k_model_trainable_tensors(m, &nt);
  /* host copies: the parameters before (restored at the end) and after the steps */
  float *saved = malloc((n ? n : 1) * sizeof *saved), *params = malloc((n ? n : 1) * sizeof *params);
  if (!saved || !params) {
    free(saved);
    free(params);
    return l1k_errf(err, L1K_ENOMEM, "out of memory");
  }
  int grouping_ok = 1;
  for (size_t i = 0; i < nt; i++)
    if (ti[i].no_decay != name_no_decay(ti[i].name)) grouping_ok = 0;
  /* AdamW in the model's backend (its optimizer state is reset) */
  rc = l1k_model_params_get(m, saved, 0, n, err);
  if (!rc)
    rc = l1k_model_optim_init(m, cJSON_GetArrayItem(betas, 0)->valuedouble,
                              cJSON_GetArrayItem(betas, 1)->valuedouble, eps, wd, 0, n, err);
  if (rc) {
    free(saved);
    free(params);
    return rc;
  }
  /* loss positions in the batch (labels shifted inside each row, -100 ignored) */
  int64_t targets = 0;
  for (int r = 0; r < b->B; r++)
    for (int j = 1; j < b->T; j++) targets += b->labels[(size_t)r * b->T + j] != -100;
  double worst_loss = 0, worst_gn = 0;
  l1k_buf_puts(out, "\"adamw\":{\"steps\":[");
  for (int s = 0; s < steps && !rc; s++) {
    const cJSON *e = cJSON_GetArrayItem(tr, s);
    const cJSON *rl = cJSON_GetObjectItemCaseSensitive(e, "loss");
    const cJSON *rg = cJSON_GetObjectItemCaseSensitive(e, "grad_norm_before_clip");
    if (!cJSON_IsNumber(rl) || !cJSON_IsNumber(rg)) {
      rc = l1k_errf(err, L1K_EINPUT,
                    "reference.json: trajectory[%d]: expected loss and grad_norm_before_clip", s);
      break;
    }
    l1k_model_zero_grads(m);
    double ls = 0;
    int64_t nts = 0;
    rc = l1k_model_forward_backward(m, b, targets ? 1.0 / (double)targets : 0.0, &ls, &nts, err);
    if (rc) break;
    if (nts != targets) {
      rc = l1k_errf(err, L1K_EINTERNAL, "trajectory: model counted %lld targets, labels %lld",
                    (long long)nts, (long long)targets);
      break;
    }
    double loss = ls / (double)targets, gn = 0;
    if ((rc = l1k_model_step(m, lr, clip, 0, n, &gn, err))) break;
    double el = rel(loss, rl->valuedouble), eg = rel(gn, rg->valuedouble);
    worst_loss = el > worst_loss ? el : worst_loss;
    worst_gn = eg > worst_gn ? eg : worst_gn;
    l1k_buf_printf(out,
                   "%s{\"step\":%d,\"loss\":%.9g,\"ref_loss\":%.9g,\"rel_err_loss\":%.3g,"
                   "\"grad_norm\":%.9g,\"ref_grad_norm\":%.9g,\"rel_err_grad_norm\":%.3g}",
                   s ? "," : "", s + 1, loss, rl->valuedouble, el, gn, rg->valuedouble, eg);
  }
  l1k_buf_printf(out, "],\"max_rel_err_loss\":%.3g,\"max_rel_err_grad_norm\":%.3g", worst_loss,
                 worst_gn);
  int pass = !rc && worst_loss <= tol && worst_gn <= tol && grouping_ok;
  if (!grouping_ok) l1k_buf_puts(out, ",\"no_decay_grouping\":\"differs from the reference rule\"");
  if (!rc && params_path) rc = l1k_model_params_get(m, params, 0, n, err);
  if (!rc && params_path) {
    l1k_safetensors st;
    rc = l1k_st_open(&st, params_path, err);
    if (!rc) {
      double worst = 0, max_abs = 0;
      const char *worst_name = "";
      size_t cmp = 0;
      float *tmp = NULL;
      for (size_t i = 0; i < nt && !rc; i++) {
        const l1k_st_tensor *t = l1k_st_find(&st, ti[i].name);
        if (!t) {
          /* tied lm_head is not stored separately */
          if (!strcmp(ti[i].name, "lm_head.weight")) continue;
          rc = l1k_errf(err, L1K_EINPUT, "%s: missing tensor '%s'", params_path, ti[i].name);
          break;
        }
        if (t->numel != ti[i].numel) {
          rc = l1k_errf(err, L1K_EINPUT, "%s: tensor '%s': %zu elements, expected %zu", params_path,
                        ti[i].name, t->numel, ti[i].numel);
          break;
        }
        float *nb = realloc(tmp, t->numel * sizeof *tmp);
        if (!nb) {
          rc = l1k_errf(err, L1K_ENOMEM, "out of memory");
          break;
        }
        tmp = nb;
        l1k_st_to_f32(t, tmp);
        /* relative L2 error ||ours - ref|| / ||ref|| (as parity's other checks); the largest
         * element difference is reported for information */
        double d2 = 0, r2 = 0;
        for (size_t k = 0; k < t->numel; k++) {
          double d = (double)params[ti[i].offset + k] - tmp[k];
          d2 += d * d;
          r2 += (double)tmp[k] * tmp[k];
          if (fabs(d) > max_abs) max_abs = fabs(d);
        }
        double e = r2 > 0 ? sqrt(d2 / r2) : sqrt(d2);
        if (e > worst) {
          worst = e;
          worst_name = l1k_st_find(&st, ti[i].name)->name;
        }
        cmp++;
      }
      if (!rc) {
        l1k_buf_printf(out,
                       ",\"params_after\":{\"tensors\":%zu,\"max_rel_err\":%.3g,"
                       "\"max_abs_diff\":%.3g,\"worst\":",
                       cmp, worst, max_abs);
        l1k_buf_json_string(out, worst_name, strlen(worst_name));
        l1k_buf_puts(out, "}");
        if (worst > tol) pass = 0;
      }
      free(tmp);
      l1k_st_close(&st);
    }
  }
  l1k_buf_printf(out, ",\"ok\":%s},", pass ? "true" : "false");
  if (!pass) *ok = 0;
  int rc2 = l1k_model_params_set(m, saved, 0, n, rc ? NULL : err);
  if (!rc) rc = rc2;
  l1k_model_zero_grads(m);
  free(saved);
  free(params);
  return rc;
}
