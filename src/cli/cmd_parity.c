/* long1k parity — compare our forward / backward / greedy generation with a reference dump
 * produced by transformers (../shared/golden/models/<name>/reference.safetensors). */
#include <cjson/cJSON.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "long1k/adapter.h"
#include "long1k/io.h"
#include "long1k/jsonl.h"
#include "long1k/model.h"
#include "long1k/safetensors.h"
#include "long1k/trajectory.h"

#define PARITY_TOL 1e-4      /* float32 (the parity mode, any backend) */
#define PARITY_TOL_BF16 2e-2 /* --precision bf16 on a device: bf16 products (issue 13's bound) */

static void usage(FILE *f) {
  fprintf(f,
          "usage: long1k parity --model DIR --reference FILE.safetensors [--meta reference.json]\n"
          "\n"
          "Runs the model in DIR on the inputs stored in a reference dump (as in\n"
          "../shared/golden/models/*/reference.safetensors) and prints one JSON object with the\n"
          "relative error |ours - ref| / |ref| of:\n"
          "  logits, loss, the gradient of every parameter (by name), the logits of the long\n"
          "  (300-token) sequence, and whether the 16-token greedy generation matches.\n"
          "For a bf16 / f16 checkpoint the logits are compared with 'logits_bf16_checkpoint'\n"
          "(the reference loss, gradients and generation come from the float32 weights and are\n"
          "reported for information only).\n"
          "\"ok\": true and exit 0 only when every check passes: relative error <= %g and\n"
          "identical greedy ids (relative error <= %g with --precision bf16, whose products\n"
          "round to bfloat16; \"tolerance\" in the output says which). Exit 1 when a check\n"
          "fails, 2 for bad input.\n"
          "\n"
          "options:\n"
          "  --model DIR          Hugging Face model directory (config.json, *.safetensors)\n"
          "  --reference FILE     reference.safetensors with input_ids, labels, logits, loss,\n"
          "                       grad.<name>, long_input_ids, long_logits, greedy_prompt,\n"
          "                       greedy_output, logits_bf16_checkpoint\n"
          "  --meta FILE          reference.json (settings; its 'family' is echoed)\n"
          CLI_DEVICE_HELP
          "  --precision P        fp32 | bf16 on a device backend (default fp32, the parity mode;\n"
          "                       the cpu backend is fp32 only)\n"
          "  --adapter DIR        a PEFT LoRA adapter on top of --model (reference made with\n"
          "                       peft): the gradients compared are the adapter's, by its names\n"
          "                       (grad.base_model.model....lora_A.weight), and the trajectory\n"
          "                       trains the adapter only\n"
          "  -h, --help           this text\n",
          PARITY_TOL, PARITY_TOL_BF16);
}

/* Reads an integer tensor (I32 or I64) as int32. */
static int32_t *read_ids(const l1k_safetensors *st, const char *name, int64_t *d0, int64_t *d1,
                         l1k_err *err) {
  const l1k_st_tensor *t = l1k_st_find(st, name);
  if (!t) {
    l1k_errf(err, L1K_EINPUT, "%s: missing tensor '%s'", st->path, name);
    return NULL;
  }
  if ((t->dtype != L1K_DT_I32 && t->dtype != L1K_DT_I64) || t->ndim != 2) {
    l1k_errf(err, L1K_EINPUT, "%s: tensor '%s': expected a 2-D I32 or I64 tensor", st->path, name);
    return NULL;
  }
  int32_t *out = malloc((t->numel ? t->numel : 1) * sizeof *out);
  if (!out) {
    l1k_errf(err, L1K_ENOMEM, "out of memory");
    return NULL;
  }
  for (size_t i = 0; i < t->numel; i++) {
    if (t->dtype == L1K_DT_I32) memcpy(&out[i], (const char *)t->data + 4 * i, 4);
    else {
      int64_t v;
      memcpy(&v, (const char *)t->data + 8 * i, 8);
      out[i] = (int32_t)v;
    }
  }
  *d0 = t->shape[0];
  *d1 = t->shape[1];
  return out;
}

static float *read_f32(const l1k_safetensors *st, const char *name, size_t numel, l1k_err *err) {
  const l1k_st_tensor *t = l1k_st_find(st, name);
  if (!t) {
    l1k_errf(err, L1K_EINPUT, "%s: missing tensor '%s'", st->path, name);
    return NULL;
  }
  if (!l1k_dtype_is_float(t->dtype) || t->numel != numel) {
    l1k_errf(err, L1K_EINPUT, "%s: tensor '%s': expected %zu float values, found %zu (%s)",
             st->path, name, numel, t->numel, l1k_dtype_name(t->dtype));
    return NULL;
  }
  float *out = malloc((numel ? numel : 1) * sizeof *out);
  if (!out) {
    l1k_errf(err, L1K_ENOMEM, "out of memory");
    return NULL;
  }
  l1k_st_to_f32(t, out);
  return out;
}

static double rel_err(const float *a, const float *b, size_t n) {
  double d = 0, r = 0;
  for (size_t i = 0; i < n; i++) {
    double x = (double)a[i] - b[i];
    d += x * x;
    r += (double)b[i] * b[i];
  }
  if (r == 0) return sqrt(d);
  return sqrt(d / r);
}

static int argmax(const float *x, int n) {
  int best = 0;
  for (int i = 1; i < n; i++)
    if (x[i] > x[best]) best = i;
  return best;
}

typedef struct {
  l1k_buf out;
  int ok;
  double tol; /* PARITY_TOL, or PARITY_TOL_BF16 for --precision bf16 */
} report;

static void check(report *r, const char *name, double e, int counts) {
  int pass = e <= r->tol;
  l1k_buf_printf(&r->out, "\"%s\":{\"rel_err\":%.6e,\"pass\":%s%s},", name, e,
                 pass ? "true" : "false", counts ? "" : ",\"info_only\":true");
  if (counts && !pass) r->ok = 0;
}

int cmd_parity(int argc, char **argv) {
  const char *model_dir = NULL, *ref_path = NULL, *meta_path = NULL, *device = "auto";
  const char *adapter = NULL;
  int precision = L1K_DEVICE_PREC_FP32;
  static const struct option opts[] = {{"model", required_argument, 0, 'm'},
                                       {"reference", required_argument, 0, 'r'},
                                       {"meta", required_argument, 0, 'j'},
                                       {"device", required_argument, 0, 'd'},
                                       {"precision", required_argument, 0, 'P'},
                                       {"adapter", required_argument, 0, 'A'},
                                       {"help", no_argument, 0, 'h'},
                                       {0, 0, 0, 0}};
  int c;
  optind = 1;
  while ((c = getopt_long(argc, argv, "m:r:j:h", opts, NULL)) != -1) {
    switch (c) {
      case 'm': model_dir = optarg; break;
      case 'r': ref_path = optarg; break;
      case 'j': meta_path = optarg; break;
      case 'd': device = optarg; break;
      case 'A': adapter = optarg; break;
      case 'P':
        if (cli_parse_precision(optarg, &precision))
          return cli_usage_error("parity", "--precision %s: expected fp32 or bf16", optarg);
        if (precision == L1K_DEVICE_PREC_DEFAULT) precision = L1K_DEVICE_PREC_FP32;
        break;
      case 'h': usage(stdout); return 0;
      default: return cli_usage_error("parity", "unknown option");
    }
  }
  if (optind < argc) return cli_usage_error("parity", "unexpected argument '%s'", argv[optind]);
  if (!model_dir || !ref_path)
    return cli_usage_error("parity", "--model DIR and --reference FILE are required");

  l1k_err err = {0};
  int rc = 0;
  l1k_model *m = NULL;
  l1k_safetensors st = {0};
  int32_t *ids = NULL, *labels = NULL, *lids = NULL, *gp = NULL, *go = NULL;
  float *ref = NULL, *ours = NULL, *g = NULL;
  cJSON *meta = NULL;
  report R = {{0}, 1, precision == L1K_DEVICE_PREC_BF16 ? PARITY_TOL_BF16 : PARITY_TOL};
  l1k_device_opts dopt = {(l1k_device_precision)precision, 1, 0, 0, "--device", 0};

  if (l1k_device_check(device, "--device", NULL, &err)) goto fail;
  if (meta_path) {
    char *txt = l1k_read_file(meta_path, NULL, &err);
    if (!txt) goto fail;
    meta = cJSON_Parse(txt);
    free(txt);
    if (!cJSON_IsObject(meta)) {
      l1k_errf(&err, L1K_EINPUT, "%s: invalid JSON (expected an object)", meta_path);
      goto fail;
    }
  }
  if (!(m = l1k_model_load(model_dir, &err))) goto fail;
  if (l1k_model_attach(m, device, &dopt, &err)) goto fail;
  if (adapter && l1k_model_lora_load(m, adapter, &err)) { /* trained in its own space */
    l1k_err_prefix(&err, "--adapter");
    goto fail;
  }
  if (l1k_st_open(&st, ref_path, &err)) goto fail;
  const l1k_model_config *cfg = l1k_model_cfg(m);
  int V = cfg->vocab_size;
  int lowp = strcmp(l1k_model_stored_dtype(m), "F32") != 0;

  int64_t B, T, b2, t2;
  if (!(ids = read_ids(&st, "input_ids", &B, &T, &err))) goto fail;
  if (!(labels = read_ids(&st, "labels", &b2, &t2, &err))) goto fail;
  if (b2 != B || t2 != T) {
    l1k_errf(&err, L1K_EINPUT, "%s: labels shape differs from input_ids", ref_path);
    goto fail;
  }
  l1k_buf_puts(&R.out, "{");
  l1k_buf_puts(&R.out, "\"model\":");
  l1k_buf_json_string(&R.out, model_dir, strlen(model_dir));
  l1k_buf_printf(&R.out, ",\"model_type\":\"%s\",\"stored_dtype\":\"%s\",\"tolerance\":%g,"
                 "\"precision\":\"%s\",",
                 cfg->model_type, l1k_model_stored_dtype(m), R.tol,
                 precision == L1K_DEVICE_PREC_BF16 ? "bf16" : "fp32");
  const cJSON *fam = meta ? cJSON_GetObjectItemCaseSensitive(meta, "family") : NULL;
  if (cJSON_IsString(fam)) {
    l1k_buf_puts(&R.out, "\"family\":");
    l1k_buf_json_string(&R.out, fam->valuestring, strlen(fam->valuestring));
    l1k_buf_puts(&R.out, ",");
  }

  /* 1. logits and loss of the batch */
  l1k_batch batch = {(int)B, (int)T, ids, labels, NULL, NULL};
  size_t nlog = (size_t)B * T * V;
  ours = malloc(nlog * sizeof *ours);
  if (!ours) {
    l1k_errf(&err, L1K_ENOMEM, "out of memory");
    goto fail;
  }
  double loss_sum;
  int64_t nt;
  if (l1k_model_forward(m, &batch, ours, &loss_sum, &nt, &err)) goto fail;
  if (!(ref = read_f32(&st, lowp ? "logits_bf16_checkpoint" : "logits", nlog, &err))) goto fail;
  check(&R, lowp ? "logits_bf16_checkpoint" : "logits", rel_err(ours, ref, nlog), 1);
  free(ref);
  ref = NULL;
  if (!(ref = read_f32(&st, "loss", 1, &err))) goto fail;
  float loss = nt ? (float)(loss_sum / nt) : 0.0f;
  l1k_buf_printf(&R.out, "\"loss_ours\":%.9g,\"loss_ref\":%.9g,\"n_targets\":%lld,", loss, ref[0],
                 (long long)nt);
  check(&R, "loss", rel_err(&loss, ref, 1), !lowp);
  free(ref);
  ref = NULL;

  /* 2. gradients of every parameter (mean loss: grad_scale = 1 / n_targets) */
  int64_t nt2 = l1k_batch_count_targets(&batch, &err);
  if (nt2 < 0) goto fail;
  l1k_model_zero_grads(m);
  if (l1k_model_forward_backward(m, &batch, nt2 ? 1.0 / (double)nt2 : 0.0, &loss_sum, &nt, &err))
    goto fail;
  size_t np = l1k_model_num_trainable(m); /* the whole model, or the --adapter */
  if (!(g = malloc((np ? np : 1) * sizeof *g))) {
    l1k_errf(&err, L1K_ENOMEM, "out of memory");
    goto fail;
  }
  if (l1k_model_grads_get(m, g, 0, np, &err)) goto fail;
  size_t ntens;
  const l1k_tensor_info *ti = l1k_model_trainable_tensors(m, &ntens);
  double worst = 0;
  const char *worst_name = "";
  l1k_buf_puts(&R.out, "\"grads\":{");
  for (size_t i = 0; i < ntens; i++) {
    char gname[128];
    snprintf(gname, sizeof gname, "grad.%s", ti[i].name);
    if (!(ref = read_f32(&st, gname, ti[i].numel, &err))) goto fail;
    double e = rel_err(g + ti[i].offset, ref, ti[i].numel);
    free(ref);
    ref = NULL;
    l1k_buf_printf(&R.out, "%s\"%s\":%.6e", i ? "," : "", ti[i].name, e);
    if (e > worst || i == 0) worst = e, worst_name = ti[i].name;
  }
  l1k_buf_puts(&R.out, "},");
  l1k_buf_printf(&R.out, "\"grad_worst\":{\"name\":\"%s\",\"rel_err\":%.6e,\"pass\":%s%s},",
                 worst_name, worst, worst <= R.tol ? "true" : "false",
                 lowp ? ",\"info_only\":true" : "");
  if (!lowp && worst > R.tol) R.ok = 0;

  /* 3. the long sequence: a different T than the batch above */
  int64_t lb, lt;
  if (!(lids = read_ids(&st, "long_input_ids", &lb, &lt, &err))) goto fail;
  size_t nlong = (size_t)lb * lt * V;
  free(ours);
  if (!(ours = malloc(nlong * sizeof *ours))) {
    l1k_errf(&err, L1K_ENOMEM, "out of memory");
    goto fail;
  }
  l1k_batch lbatch = {(int)lb, (int)lt, lids, NULL, NULL, NULL};
  if (l1k_model_forward(m, &lbatch, ours, NULL, NULL, &err)) goto fail;
  if (!(ref = read_f32(&st, "long_logits", nlong, &err))) goto fail;
  check(&R, "long_logits", rel_err(ours, ref, nlong), !lowp);
  free(ref);
  ref = NULL;

  /* 4. greedy generation (repeated full forwards, argmax of the last position) */
  int64_t pb, pt, ob, ot;
  if (!(gp = read_ids(&st, "greedy_prompt", &pb, &pt, &err))) goto fail;
  if (!(go = read_ids(&st, "greedy_output", &ob, &ot, &err))) goto fail;
  if (pb != 1 || ob != 1 || ot < pt) {
    l1k_errf(&err, L1K_EINPUT, "%s: greedy_prompt / greedy_output: expected [1, n] with output "
             "at least as long as the prompt", ref_path);
    goto fail;
  }
  int32_t *seq = malloc((size_t)ot * sizeof *seq);
  float *lg = malloc((size_t)ot * V * sizeof *lg);
  if (!seq || !lg) {
    free(seq);
    free(lg);
    l1k_errf(&err, L1K_ENOMEM, "out of memory");
    goto fail;
  }
  memcpy(seq, gp, (size_t)pt * sizeof *seq);
  int done = 0;
  int pad = cfg->pad_token_id >= 0 ? cfg->pad_token_id : (cfg->n_eos ? cfg->eos_token_ids[0] : 0);
  for (int64_t n = pt; n < ot; n++) {
    if (done) {
      seq[n] = pad;
      continue;
    }
    l1k_batch gb = {1, (int)n, seq, NULL, NULL, NULL};
    if (l1k_model_forward(m, &gb, lg, NULL, NULL, &err)) {
      free(seq);
      free(lg);
      goto fail;
    }
    seq[n] = argmax(lg + (size_t)(n - 1) * V, V);
    for (int k = 0; k < cfg->n_eos; k++) done |= seq[n] == cfg->eos_token_ids[k];
  }
  int same = 1;
  for (int64_t n = 0; n < ot; n++) same &= seq[n] == go[n];
  l1k_buf_printf(&R.out, "\"greedy\":{\"match\":%s%s,\"ours\":[", same ? "true" : "false",
                 lowp ? ",\"info_only\":true" : "");
  for (int64_t n = pt; n < ot; n++) l1k_buf_printf(&R.out, "%s%d", n > pt ? "," : "", seq[n]);
  l1k_buf_puts(&R.out, "],\"ref\":[");
  for (int64_t n = pt; n < ot; n++) l1k_buf_printf(&R.out, "%s%d", n > pt ? "," : "", go[n]);
  l1k_buf_puts(&R.out, "]},");
  if (!lowp && !same) R.ok = 0;
  free(seq);
  free(lg);

  /* ---- 5. AdamW trajectory (owned by src/train: l1k_parity_trajectory) ---- begin train */
  if (meta && cJSON_GetObjectItemCaseSensitive(meta, "trajectory")) {
    char *after = NULL;
    const char *slash = strrchr(meta_path, '/');
    size_t dl = slash ? (size_t)(slash - meta_path) : 1;
    after = malloc(dl + 40);
    if (after) {
      snprintf(after, dl + 40, "%.*s/params_after_5_steps.safetensors", (int)dl,
               slash ? meta_path : ".");
      if (!l1k_file_exists(after)) {
        free(after);
        after = NULL;
      }
    }
    int traj_ok = 1;
    int trc = l1k_parity_trajectory(m, &batch, meta, after, R.tol, &R.out, &traj_ok, &err);
    free(after);
    if (trc) goto fail;
    if (!lowp && !traj_ok) R.ok = 0; /* the reference trajectory starts from float32 weights */
  }
  /* ---- end train */

  l1k_buf_printf(&R.out, "\"ok\":%s}\n", R.ok ? "true" : "false");
  fputs(R.out.data, stdout);
  rc = R.ok ? 0 : 1;
  goto cleanup;
fail:
  rc = cli_fail("parity", &err);
cleanup:
  l1k_buf_free(&R.out);
  cJSON_Delete(meta);
  free(ids);
  free(labels);
  free(lids);
  free(gp);
  free(go);
  free(ref);
  free(ours);
  free(g);
  l1k_st_close(&st);
  l1k_model_free(m);
  return rc;
}
