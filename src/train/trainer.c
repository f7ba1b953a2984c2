/* long1k — the SFT trainer loop: data order, micro-batches, gradient accumulation with
 * transformers' token-count normalization, clipping, AdamW, schedule, evaluation, logging,
 * checkpoints and resume, data parallelism. See docs/train.md. */
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "long1k/adapter.h"
#include "long1k/chat.h"
#include "long1k/dataset.h"
#include "long1k/flops.h"
#include "long1k/io.h"
#include "long1k/jsonl.h"
#include "long1k/log.h"
#include "long1k/model.h"
#include "long1k/optim.h"
#include "long1k/plot.h"
#include "long1k/memplan.h"
#include "long1k/rng.h"
#include "long1k/sched.h"
#include "long1k/tokenizer.h"
#include "long1k/train.h"
#include "backend/zero_plan.h"
#include "train/dist.h"
#include "train/train_internal.h"

/* ---- deterministic random permutations (splitmix64) --------------------------------------- */

void l1k_train_shuffle(int64_t *v, int64_t n, uint64_t seed, uint64_t stream) {
  uint64_t s = seed * 0x9E3779B97F4A7C15ULL ^ (stream + 1) * 0xD1B54A32D192ED03ULL;
  for (int64_t i = n - 1; i > 0; i--) {
    uint64_t r = l1k_splitmix64(&s);
    int64_t j = (int64_t)(((unsigned __int128)r * (uint64_t)(i + 1)) >> 64);
    int64_t t = v[i];
    v[i] = v[j];
    v[j] = t;
  }
}

/* ---- trainer state ------------------------------------------------------------------------ */

typedef struct trainer {
  const l1k_train_config *c;
  l1k_dist d;
  l1k_model *m;
  l1k_tokenizer *tok;
  l1k_template tmpl; /* the chat template (o.tmpl of the dataset options) */
  char *tok_dir;
  l1k_dataset ds;
  l1k_rows rows, val;
  int64_t B, accum, spe, total_steps, warmup, rows_per_step;
  l1k_sched_type sched;
  size_t n_params;     /* the model's; AdamW (in the backend) updates [opt_lo, opt_hi) */
  size_t opt_lo, opt_hi;
  size_t *shard;       /* ZeRO-1: rank r updates parameters [shard[r], shard[r+1]); else NULL */
  int64_t step;        /* optimizer steps done */
  int64_t perm_epoch;  /* epoch the permutation belongs to */
  int64_t *perm;
  int32_t *b_ids, *b_labels, *b_pos, *b_doc;
  int64_t Tmax;
  l1k_buf log;         /* trainer_log.jsonl text so far */
  l1k_log_window win;  /* steps since the last logged one (saved in checkpoints) */
  FILE *logf;
  int64_t tokens;      /* tokens trained on, all ranks, since step 0 (restored on resume) */
  double t_start;
  char last_ckpt[4096];
  int lock_fd;         /* rank 0: output_dir/.long1k.lock (one run per output_dir) */
  int dev_dp;          /* the device backend reduces and gathers itself (NCCL) */
  double shard_ss;     /* ZeRO-2 on the device: this rank's shard sum of squares */
  l1k_flops_shape fl;  /* model FLOPs per step (include/long1k/flops.h) */
  double peak;         /* the device's peak FLOP/s for MFU; 0 = unknown (no MFU shown) */
  double step_flops;   /* the last step's model FLOPs, all ranks */
} trainer;

static int fail_all(trainer *t, int rc) {
  /* every rank must learn that one failed, or the others hang in a collective */
  return l1k_dist_max_int(&t->d, rc);
}

static void make_perm(trainer *t, int64_t epoch) {
  for (int64_t i = 0; i < t->rows.n; i++) t->perm[i] = i;
  l1k_train_shuffle(t->perm, t->rows.n, (uint64_t)t->c->seed, (uint64_t)epoch + 1);
  if (t->c->group_by_length && !t->c->neat_packing) {
    /* inside each optimizer step's rows, longest first: micro-batches of similar length */
    for (int64_t a = 0; a < t->rows.n; a += t->rows_per_step) {
      int64_t b = a + t->rows_per_step < t->rows.n ? a + t->rows_per_step : t->rows.n;
      for (int64_t i = a + 1; i < b; i++) { /* insertion sort: small ranges */
        int64_t x = t->perm[i], j = i;
        while (j > a && t->rows.len[t->perm[j - 1]] < t->rows.len[x]) {
          t->perm[j] = t->perm[j - 1];
          j--;
        }
        t->perm[j] = x;
      }
    }
  }
  t->perm_epoch = epoch;
}

/* The micro-batches of optimizer step `step`: rows [lo, hi) of the epoch's permutation, cut
 * into micro-batches of B rows; micro-batch q belongs to rank q % world. */
static void step_range(trainer *t, int64_t step, int64_t *lo, int64_t *hi) {
  int64_t j = step % t->spe;
  *lo = j * t->rows_per_step;
  *hi = *lo + t->rows_per_step;
  if (*hi > t->rows.n) *hi = t->rows.n;
}

static int run_batch(trainer *t, const l1k_rows *r, const int64_t *rows, int nrows, int backward,
                     double scale, double *loss_sum, int64_t *n_targets, l1k_err *err) {
  int T = l1k_batch_fill(&t->ds, r, rows, nrows, t->b_ids, t->b_labels, t->b_pos, t->b_doc);
  l1k_batch b = {nrows, T, t->b_ids, t->b_labels, t->b_pos, t->b_doc};
  if (backward) return l1k_model_forward_backward(t->m, &b, scale, loss_sum, n_targets, err);
  return l1k_model_forward(t->m, &b, NULL, loss_sum, n_targets, err);
}

static int evaluate(trainer *t, double *out, l1k_err *err) {
  double acc[2] = {0, 0};
  int rc = 0;
  int64_t *idx = malloc((size_t)(t->B + 1) * sizeof *idx);
  if (!idx) return l1k_errf(err, L1K_ENOMEM, "out of memory");
  int64_t q = 0;
  for (int64_t a = 0; a < t->val.n && !rc; a += t->B, q++) {
    if (q % t->d.world != t->d.rank) continue;
    int n = 0;
    for (int64_t i = a; i < t->val.n && i < a + t->B; i++) idx[n++] = i;
    double ls = 0;
    int64_t nt = 0;
    rc = run_batch(t, &t->val, idx, n, 0, 0, &ls, &nt, err);
    acc[0] += ls;
    acc[1] += (double)nt;
  }
  free(idx);
  if ((rc = fail_all(t, rc))) return rc;
  if ((rc = l1k_dist_sum_f64(&t->d, acc, 2, err))) return rc;
  *out = acc[1] > 0 ? acc[0] / acc[1] : NAN;
  return 0;
}

/* ---- logging ------------------------------------------------------------------------------ */

static void log_record(trainer *t, const char *json) {
  if (t->d.rank != 0) return;
  l1k_buf_puts(&t->log, json);
  l1k_buf_puts(&t->log, "\n");
  if (t->logf) {
    fputs(json, t->logf);
    fputc('\n', t->logf);
    fflush(t->logf);
  }
}

/* grows the four series to cap2 (the old buffers stay valid on failure) */
static int grow4(double **v, size_t cap2) {
  for (int i = 0; i < 4; i++) {
    double *q = l1k_realloc(v[i], cap2 * sizeof *q, NULL);
    if (!q) return -1;
    v[i] = q;
  }
  return 0;
}

static void write_plot(trainer *t) {
  if (t->d.rank != 0 || !t->log.len) return;
  size_t cap = 1024, n = 0, ne = 0;
  double *v[4] = {NULL, NULL, NULL, NULL};
  char *copy = grow4(v, cap) ? NULL : strndup(t->log.data, t->log.len);
  double *x = v[0], *y = v[1], *ex = v[2], *ey = v[3];
  if (!copy) l1k_warn("training_loss.svg: out of memory; not drawn");
  for (char *save = NULL, *line = copy ? strtok_r(copy, "\n", &save) : NULL; line;
       line = strtok_r(NULL, "\n", &save)) {
    cJSON *j = cJSON_Parse(line);
    if (!j) continue;
    cJSON *s = cJSON_GetObjectItem(j, "step"), *l = cJSON_GetObjectItem(j, "loss");
    cJSON *e = cJSON_GetObjectItem(j, "eval_loss");
    if (n == cap || ne == cap) {
      if (grow4(v, cap * 2)) {
        cJSON_Delete(j);
        l1k_warn("training_loss.svg: out of memory; the plot stops at step %zu", n);
        break;
      }
      cap *= 2;
      x = v[0], y = v[1], ex = v[2], ey = v[3];
    }
    if (cJSON_IsNumber(s) && cJSON_IsNumber(l)) {
      x[n] = s->valuedouble;
      y[n++] = l->valuedouble;
    }
    if (cJSON_IsNumber(s) && cJSON_IsNumber(e)) {
      ex[ne] = s->valuedouble;
      ey[ne++] = e->valuedouble;
    }
    cJSON_Delete(j);
  }
  l1k_plot *p = l1k_plot_new("Training loss", "step", "loss");
  if (p) {
    l1k_plot_line(p, "train loss", x, y, n, NULL);
    if (ne) l1k_plot_scatter(p, "eval loss", ex, ey, ne, NULL);
    char *path = l1k_path_join(t->c->output_dir, "training_loss.svg");
    l1k_err e = {0};
    if (path && l1k_plot_write_svg(p, path, &e)) l1k_warn("training_loss.svg: %s", e.msg);
    free(path);
    l1k_plot_free(p);
  }
  free(copy);
  for (int i = 0; i < 4; i++) free(v[i]);
}

/* ---- setup -------------------------------------------------------------------------------- */

static int cmp_i64(const void *a, const void *b) {
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return x < y ? -1 : x > y;
}

static int setup_data(trainer *t, l1k_err *err) {
  const l1k_train_config *c = t->c;
  l1k_data_opts o;
  l1k_data_opts_default(&o);
  static const char *fmts[] = {"auto", "openai", "sharegpt", "alpaca", "fields", "tokenized"};
  for (int i = 0; i < 6; i++)
    if (c->formatting && !strcmp(c->formatting, fmts[i])) o.format = (l1k_data_format)i;
  const char *tok_path = c->tokenizer_name_or_path ? c->tokenizer_name_or_path
                                                   : c->model_name_or_path;
  char *tj = l1k_is_dir(tok_path) ? l1k_path_join(tok_path, "tokenizer.json") : strdup(tok_path);
  int have_tok = tj && l1k_file_exists(tj);
  free(tj);
  if (!have_tok && c->tokenizer_name_or_path)
    return l1k_errf(err, L1K_EINPUT, "tokenizer_name_or_path: no tokenizer.json at '%s'",
                    c->tokenizer_name_or_path);
  if (have_tok && o.format != L1K_FMT_TOKENIZED) {
    t->tok = l1k_tokenizer_load(tok_path, err);
    if (!t->tok) return err ? err->code : L1K_EINPUT;
    if (!(t->tok_dir = l1k_strdup(tok_path, err))) return L1K_ENOMEM;
    if (c->template_name) {
      if (l1k_chat_template_named(c->template_name, tok_path, &t->tmpl, err))
        return l1k_err_prefix(err, "template");
    } else if (l1k_chat_template_detect(tok_path, &t->tmpl, err)) {
      return l1k_err_prefix(err, "template (not set; reading the model's from %s)", tok_path);
    }
    o.tmpl = t->tmpl;
  } else if (have_tok) {
    if (!(t->tok_dir = l1k_strdup(tok_path, err))) return L1K_ENOMEM;
  }
  o.tok = t->tok;
  o.tokenizer_path = t->tok ? tok_path : NULL;
  o.enable_thinking = c->enable_thinking;
  o.cutoff_len = c->cutoff_len;
  o.truncate = c->overlength && !strcmp(c->overlength, "truncate");
  o.skip_bad_records = c->skip_bad_records;
  o.max_samples = c->max_samples;
  o.question_field = c->question_field;
  o.reasoning_field = c->reasoning_field;
  o.answer_field = c->answer_field;
  o.system_field = c->system_field;
  o.response_format = c->response_format;
  o.default_system = c->default_system;
  o.overwrite_cache = c->overwrite_cache;
  o.dataset_dir = c->dataset_dir;
  char cache_dir[4096];
  if (c->tokenized_cache_dir) {
    snprintf(cache_dir, sizeof cache_dir, "%s", c->tokenized_cache_dir);
  } else if (getenv("XDG_CACHE_HOME") && *getenv("XDG_CACHE_HOME")) {
    snprintf(cache_dir, sizeof cache_dir, "%s/long1k/tokenized", getenv("XDG_CACHE_HOME"));
  } else {
    snprintf(cache_dir, sizeof cache_dir, "%s/.cache/long1k/tokenized",
             getenv("HOME") ? getenv("HOME") : ".");
  }
  o.cache_dir = cache_dir;
  /* rank 0 tokenizes and writes the cache; the others then map it */
  int rc = 0;
  if (t->d.rank == 0) rc = l1k_dataset_load(c->dataset, &o, &t->ds, err);
  if ((rc = fail_all(t, rc))) return rc ? rc : L1K_EINPUT;
  if (t->d.rank != 0) {
    o.overwrite_cache = 0;
    if ((rc = l1k_dataset_load(c->dataset, &o, &t->ds, err))) return fail_all(t, rc);
    fail_all(t, 0);
  } else {
    fail_all(t, 0);
  }
  const l1k_dataset_stats *s = &t->ds.stats;
  if (t->d.rank == 0)
    l1k_info("dataset: %lld records -> %lld samples, %lld tokens%s; dropped %lld longer than "
             "cutoff_len=%lld, %lld without loss tokens; truncated %lld; malformed skipped %lld%s",
             (long long)s->records, (long long)t->ds.n, (long long)t->ds.n_tokens,
             t->ds.from_cache ? " (cached)" : "", (long long)s->too_long,
             (long long)c->cutoff_len, (long long)s->no_target, (long long)s->truncated,
             (long long)s->bad,
             s->not_read ? " (records past max_samples not read)" : "");
  if (t->ds.n == 0) {
    if (s->records == 0)
      return l1k_errf(err, L1K_EINPUT, "dataset %s: no records", c->dataset);
    if (s->too_long == s->records - s->bad - s->no_target && s->too_long)
      return l1k_errf(err, L1K_EINPUT,
                      "dataset %s: all %lld samples are longer than cutoff_len=%lld (raise "
                      "cutoff_len or set overlength: truncate)",
                      c->dataset, (long long)s->too_long, (long long)c->cutoff_len);
    return l1k_errf(err, L1K_EINPUT,
                    "dataset %s: no usable samples (%lld records: %lld too long, %lld without "
                    "loss tokens, %lld malformed)",
                    c->dataset, (long long)s->records, (long long)s->too_long,
                    (long long)s->no_target, (long long)s->bad);
  }
  /* validation split (seeded), the rest trains */
  int64_t n = t->ds.n, n_val = 0;
  if (c->val_size > 0)
    n_val = c->val_size < 1 ? (int64_t)ceil(c->val_size * (double)n) : (int64_t)c->val_size;
  if (n_val >= n)
    return l1k_errf(err, L1K_EINPUT, "val_size: %g leaves no training samples (of %lld)",
                    c->val_size, (long long)n);
  int64_t *idx = malloc((size_t)n * sizeof *idx);
  if (!idx) return l1k_errf(err, L1K_ENOMEM, "out of memory");
  for (int64_t i = 0; i < n; i++) idx[i] = i;
  if (n_val) l1k_train_shuffle(idx, n, (uint64_t)c->seed, 0);
  int64_t *tr = idx + n_val;
  /* training samples in index order, so the split does not change the data order's basis */
  qsort(tr, (size_t)(n - n_val), sizeof *tr, cmp_i64);
  if (c->neat_packing) {
    rc = l1k_rows_pack(&t->ds, tr, n - n_val, c->cutoff_len, &t->rows, err);
    if (!rc) rc = l1k_rows_pack(&t->ds, idx, n_val, c->cutoff_len, &t->val, err);
  } else {
    rc = l1k_rows_single(&t->ds, tr, n - n_val, &t->rows, err);
    if (!rc) rc = l1k_rows_single(&t->ds, idx, n_val, &t->val, err);
  }
  free(idx);
  if (rc) return rc;
  if (t->d.rank == 0 && c->neat_packing)
    l1k_info("neat_packing: %lld samples in %lld rows of up to %lld tokens (%.1f%% filled)",
             (long long)(n - n_val), (long long)t->rows.n, (long long)c->cutoff_len,
             100.0 * (double)(t->ds.n_tokens) / ((double)(t->rows.n + t->val.n) * (double)c->cutoff_len));
  if (n_val && t->d.rank == 0) l1k_info("val_size: %lld samples held out for eval loss", (long long)n_val);
  return 0;
}

/* Every rank must hold the same parameters (they apply the same all-reduced gradients). A
 * hash of rank 0's parameters is broadcast and compared; LONG1K_TRAIN_DUMP_PARAMS=PREFIX also
 * writes each rank's parameters to PREFIX.rank<N> (for tests). */
static int check_ranks_agree(trainer *t, l1k_err *err) {
  size_t n = t->n_params; /* the trainable space (adapter.h) */
  const char *dump = getenv("LONG1K_TRAIN_DUMP_PARAMS");
  if (t->d.world == 1 && !(dump && *dump)) return 0;
  float *own = NULL;
  const float *p = l1k_model_trainable_params(t->m); /* host parameters (cpu), else a copy */
  if (!p) {
    if (!(own = malloc((n ? n : 1) * sizeof *own)))
      return l1k_errf(err, L1K_ENOMEM, "out of memory for a host copy of the parameters");
    int rc = l1k_model_params_get(t->m, own, 0, n, err);
    if (rc) {
      free(own);
      return rc;
    }
    p = own;
  }
  int rc = 0;
  if (dump && *dump) {
    char path[4200];
    snprintf(path, sizeof path, "%s.rank%d", dump, t->d.rank);
    rc = l1k_write_file_atomic(path, p, n * sizeof *p, err);
  }
  uint64_t h = l1k_fnv1a64(p, n * sizeof *p, 0), h0 = h;
  free(own);
  if (rc || t->d.world == 1) return rc;
  rc = l1k_dist_bcast(&t->d, &h0, sizeof h0, err);
  if (rc) return rc;
  int bad = l1k_dist_max_int(&t->d, h != h0);
  if (bad)
    return l1k_errf(err, L1K_EINTERNAL, "the ranks' parameters differ after step %lld",
                    (long long)t->step);
  return 0;
}

/* This rank's moments in host memory: in place on the CPU backend, else copied into *own
 * (free it). */
static int host_moments(trainer *t, float **m1, float **m2, float **own, int64_t *adam_step,
                        l1k_err *err) {
  size_t k = t->opt_hi - t->opt_lo;
  *own = NULL;
  if (l1k_model_optim_host(t->m, m1, m2) == 0) /* cpu: in place; read the step counter */
    return l1k_model_optim_get(t->m, NULL, NULL, adam_step, err);
  if (!(*own = malloc((k ? 2 * k : 1) * sizeof **own)))
    return l1k_errf(err, L1K_ENOMEM, "out of memory for a host copy of the moments");
  *m1 = *own;
  *m2 = *own + k;
  return l1k_model_optim_get(t->m, *m1, *m2, adam_step, err);
}

/* Writes checkpoint-<step> (rank 0). With ZeRO-1 every rank takes part: the moment shards
 * are gathered on rank 0 first, so the file always holds all moments. */
static int save_ckpt(trainer *t, l1k_err *err) {
  const l1k_train_config *c = t->c;
  size_t n = t->n_params;
  float *m1 = NULL, *m2 = NULL, *own = NULL, *fm = NULL, *fv = NULL;
  int64_t adam_step = 0;
  if (!t->shard && t->d.rank != 0) return 0;
  int rc = host_moments(t, &m1, &m2, &own, &adam_step, err);
  if (t->shard) { /* ZeRO-1: gather every rank's shard of the moments on rank 0 */
    if (!rc && t->d.rank == 0) {
      fm = malloc((n ? n : 1) * sizeof *fm);
      fv = malloc((n ? n : 1) * sizeof *fv);
      if (!fm || !fv) rc = l1k_errf(err, L1K_ENOMEM, "out of memory gathering the moments");
    }
    if ((rc = fail_all(t, rc))) goto done;
    if ((rc = l1k_dist_gather_f32(&t->d, m1, fm, t->shard, err))) goto done;
    if ((rc = l1k_dist_gather_f32(&t->d, m2, fv, t->shard, err))) goto done;
  }
  if (!rc && t->d.rank == 0) {
    l1k_adamw full = {0}; /* what l1k_ckpt_save reads: n, step and all moments */
    full.n = n;
    full.step = adam_step;
    full.m = t->shard ? fm : m1;
    full.v = t->shard ? fv : m2;
    full.hi = n;
    rc = l1k_ckpt_save(c, t->m, t->tok_dir, &full, t->step, t->tokens, t->spe, t->total_steps,
                       t->perm_epoch, t->perm, t->rows.n, t->rows_per_step, &t->win,
                       &t->log, t->last_ckpt, sizeof t->last_ckpt, err);
  }
done:
  free(own);
  free(fm);
  free(fv);
  return rc;
}

/* Restores parameters, moments (this rank's range) and the data position from a checkpoint. */
static int resume_state(trainer *t, const char *dir, l1k_err *err) {
  float *own = NULL;
  int64_t s0 = 0;
  l1k_adamw host = {0}; /* the file's moments of [opt_lo, opt_hi), read where they live */
  host.n = t->n_params;
  host.lo = t->opt_lo;
  host.hi = t->opt_hi;
  int rc = host_moments(t, &host.m, &host.v, &own, &s0, err);
  if (!rc)
    rc = l1k_ckpt_load_state(dir, t->m, &host, &t->step, &t->tokens, &t->perm_epoch, t->perm,
                             t->rows.n, (uint64_t)t->c->seed, t->rows_per_step, &t->win, &t->log,
                             err);
  /* the step counter always, the moments when they were read into a copy */
  if (!rc) rc = l1k_model_optim_set(t->m, own ? host.m : NULL, own ? host.v : NULL, host.step, err);
  free(own);
  return rc;
}

/* The backend of the YAML's device / precision / deterministic keys (cpu by default when no
 * GPU is present; l1k_model_attach says so when auto picks cuda). */
static int attach_device(trainer *t, l1k_err *err) {
  const l1k_train_config *c = t->c;
  l1k_device_opts o = {0};
  const char *pr = c->precision ? c->precision : "auto";
  o.precision = !strcmp(pr, "bf16")   ? L1K_DEVICE_PREC_BF16
                : !strcmp(pr, "fp32") ? L1K_DEVICE_PREC_FP32
                                      : L1K_DEVICE_PREC_DEFAULT;
  o.deterministic = c->deterministic;
  o.recompute = c->gradient_checkpointing;
  o.what = "device";
  /* several processes on a node: one GPU each, by node-local rank (CUDA_VISIBLE_DEVICES
   * applies first, so a launcher that gives each rank its own GPU gets index 0 everywhere) */
  if (t->d.world > 1) {
    const char *v[] = {"OMPI_COMM_WORLD_LOCAL_RANK", "MPI_LOCALRANKID", "MV2_COMM_WORLD_LOCAL_RANK",
                       "SLURM_LOCALID"};
    const char *cvd = getenv("CUDA_VISIBLE_DEVICES");
    int single = cvd && *cvd && !strchr(cvd, ',');
    for (int i = 0; i < 4 && !single; i++)
      if (getenv(v[i]) && *getenv(v[i])) {
        o.device_index = atoi(getenv(v[i]));
        break;
      }
  }
  int rc = l1k_model_attach(t->m, c->device, &o, err);
  /* device cpu named in the YAML: config.c has warned already */
  if (!rc && c->gradient_checkpointing && !strcmp(l1k_model_device(t->m), "cpu") &&
      (!c->device || strcmp(c->device, "cpu")))
    l1k_warn("gradient_checkpointing: true has no effect on device cpu (device %s chose the cpu); "
             "the CPU trainer keeps all activations (same numbers, more memory)",
             c->device ? c->device : "auto");
  return rc;
}

/* The planner names `long1k plan`'s options; in a training run they are YAML keys. */
static l1k_err *plan_words(l1k_err *err) {
  static const char *from[] = {"--recompute", "--offload"};
  static const char *to[] = {"gradient_checkpointing: true", "optim_offload: true"};
  if (!err) return err;
  for (int k = 0; k < 2; k++) {
    char *p;
    while ((p = strstr(err->msg, from[k]))) {
      char tail[sizeof err->msg];
      snprintf(tail, sizeof tail, "%s", p + strlen(from[k]));
      snprintf(p, sizeof err->msg - (size_t)(p - err->msg), "%s%s", to[k], tail);
    }
  }
  return err;
}

/* Device backends: the run's memory planned before the first step (include/long1k/memplan.h),
 * printed as one line, and refused with the largest T that would fit instead of running into
 * out-of-memory. T = the micro-batch's tokens at most (per_device_train_batch_size x
 * cutoff_len); the budget is the device's whole memory (the plan counts the weights the backend
 * already holds). Host backends: nothing to plan. */
static int plan_device_memory(trainer *t, l1k_err *err) {
  const l1k_train_config *c = t->c;
  uint64_t free_b = 0, total_b = 0;
  int rc = l1k_model_mem_info(t->m, &free_b, &total_b, err);
  if (rc) return rc == 1 ? 0 : rc;
  const char *pr = c->precision ? c->precision : "auto";
  l1k_memplan_opts o = {0};
  o.bf16 = strcmp(pr, "fp32") != 0; /* auto = bf16 on a device */
  o.recompute = c->gradient_checkpointing;
  o.offload = c->optim_offload;
  o.zero = t->d.world > 1 ? (int)c->zero_stage : 0;
  o.world = t->d.world;
  if (strcmp(l1k_model_adapter_kind(t->m), "none")) o.trainable = l1k_model_num_trainable(t->m);
  int64_t T = (int64_t)c->per_device_train_batch_size * c->cutoff_len;
  uint64_t budget = total_b > L1K_MEMPLAN_RESERVE ? total_b - L1K_MEMPLAN_RESERVE : 0;
  l1k_memplan p;
  if ((rc = l1k_memplan_check(l1k_model_cfg(t->m), T, &o, budget, &p, err)))
    return l1k_err_prefix(plan_words(err), "memory plan");
  char line[512];
  l1k_memplan_line(&p, budget, line, sizeof line);
  if (t->d.rank == 0) l1k_info("memory plan: %s", line);
  return 0;
}

/* Data parallelism of a device backend (NCCL): with several processes, or with one when
 * LONG1K_DP=nccl (the GPU check runs one rank through NCCL and compares). Rank 0 makes the
 * communicator's id, MPI broadcasts it, every rank joins. The cpu backend: nothing to do (the
 * trainer all-reduces its host gradients over MPI). */
static int setup_device_dp(trainer *t, l1k_err *err) {
  const char *f = getenv("LONG1K_DP");
  int force = f && !strcmp(f, "nccl");
  if (!strcmp(l1k_model_device(t->m), "cpu") || (t->d.world == 1 && !force)) return 0;
  unsigned char id[L1K_DP_ID_BYTES];
  memset(id, 0, sizeof id);
  int rc = t->d.rank == 0 ? l1k_model_dp_id(t->m, id, err) : 0;
  if (rc == 1)
    rc = l1k_errf(err, L1K_EUNSUPPORTED, "device %s: no data parallelism over %d processes",
                  l1k_model_device(t->m), t->d.world);
  if ((rc = l1k_dist_share_blob(&t->d, rc, id, sizeof id, err))) return rc;
  rc = l1k_model_dp_init(t->m, id, t->d.rank, t->d.world, err);
  if (rc == 1) rc = l1k_errf(err, L1K_EUNSUPPORTED, "device %s: no data parallelism", l1k_model_device(t->m));
  if ((rc = fail_all(t, rc))) return rc;
  t->dev_dp = 1;
  if (t->d.rank == 0)
    l1k_info("data parallelism: %d process%s on device %s over NCCL (zero_stage %d)", t->d.world,
             t->d.world > 1 ? "es" : "", l1k_model_device(t->m), (int)t->c->zero_stage);
  return 0;
}

/* finetuning_type lora / freeze (include/long1k/adapter.h): LLaMA-Factory's adapter.py order:
 * every adapter_name_or_path but the last merged into the base (all of them with
 * create_new_adapter), the last one trained further, else a new LoRA from the seed. */
static int setup_lora(trainer *t, l1k_err *err) {
  const l1k_train_config *c = t->c;
  char *list = c->adapter_name_or_path ? strdup(c->adapter_name_or_path) : NULL;
  if (c->adapter_name_or_path && !list) return l1k_errf(err, L1K_ENOMEM, "out of memory");
  char *resume = NULL, *save = NULL;
  int rc = 0;
  for (char *a = list ? strtok_r(list, ",", &save) : NULL; a && !rc; a = strtok_r(NULL, ",", &save)) {
    while (*a == ' ') a++;
    if (resume) rc = l1k_model_lora_merge_dir(t->m, resume, err);
    resume = a;
  }
  if (!rc && resume && c->create_new_adapter) rc = l1k_model_lora_merge_dir(t->m, resume, err);
  if (!rc && resume && !c->create_new_adapter) {
    rc = l1k_model_lora_load(t->m, resume, err);
    if (!rc && t->d.rank == 0)
      l1k_info("lora: training %s further (its adapter_config.json sets rank, alpha, targets)",
               resume);
  } else if (!rc) {
    l1k_lora_opts o = {(int)c->lora_rank, c->lora_alpha, c->use_rslora, 0, 0, c->lora_dropout};
    rc = l1k_lora_parse_targets(c->lora_target ? c->lora_target : "all", "lora_target", &o.targets,
                                err);
    if (!rc) rc = l1k_lora_parse_save(c->additional_target, "additional_target", &o.save, err);
    if (!rc) rc = l1k_model_lora_new(t->m, &o, (uint64_t)c->seed, err);
  }
  if (rc) l1k_err_prefix(err, "adapter_name_or_path");
  free(list);
  return rc;
}

static int setup_adapter(trainer *t, l1k_err *err) {
  const l1k_train_config *c = t->c;
  const char *ft = c->finetuning_type ? c->finetuning_type : "full";
  int rc = 0;
  if (!strcmp(ft, "lora")) rc = setup_lora(t, err);
  else if (!strcmp(ft, "freeze"))
    rc = l1k_model_freeze(t->m, (int)c->freeze_trainable_layers, c->freeze_trainable_modules,
                          c->freeze_extra_modules, err);
  if (!rc && strcmp(ft, "full") && t->d.rank == 0) {
    size_t nt = 0, k = 0;
    const l1k_tensor_info *ti = l1k_model_trainable_tensors(t->m, &nt);
    for (size_t i = 0; i < nt; i++) k += ti[i].numel;
    l1k_info("finetuning_type %s: %zu trainable parameters in %zu tensors (base model: %zu)", ft,
             k, nt, l1k_model_num_params(t->m));
  }
  return rc;
}

/* ---- the run ----------------------------------------------------------------------------- */

/* ZeRO-2's bucket: values per rank in one reduce-scatter (LONG1K_ZERO2_BUCKET, for tests that
 * need several buckets on a tiny model; default 2^24 = 64 MiB of float32 per rank). */
static size_t zero2_bucket(void) {
  const char *e = getenv("LONG1K_ZERO2_BUCKET");
  long long v = e && *e ? atoll(e) : 0;
  return v > 0 ? (size_t)v : (size_t)1 << 24;
}

/* Sums the gradients over the ranks: a device backend with its own data parallelism (NCCL)
 * reduces on the device; the cpu backend's host buffer is reduced here over MPI, in place
 * (all-reduce, or ZeRO-2's bucketed reduce-scatter). */
static int reduce_grads(trainer *t, l1k_err *err) {
  if (t->dev_dp) /* NCCL in the device backend: all-reduce, or ZeRO-2's reduce-scatter */
    return l1k_model_dp_reduce(t->m, t->c->zero_stage >= 2 ? t->shard : NULL, zero2_bucket(),
                               &t->shard_ss, err);
  if (t->d.world == 1) return 0;
  float *g = l1k_model_grads_host(t->m);
  if (!g)
    return l1k_errf(err, L1K_EUNSUPPORTED,
                    "device %s: data parallelism over %d processes reduces host gradients; run "
                    "with device: cpu (the device backend does not all-reduce yet)",
                    l1k_model_device(t->m), t->d.world);
  if (t->c->zero_stage >= 2 && t->shard) /* ZeRO-2: each rank keeps its shard's sum */
    return l1k_dist_reduce_scatter_f32(&t->d, g, t->shard, zero2_bucket(), err);
  return l1k_dist_sum_f32(&t->d, g, t->n_params, err);
}

/* ZeRO-2: the global gradient norm from the ranks' shard sums of squares, then clipping and
 * AdamW on this rank's shard (the rest of its gradient buffer is not summed). */
static int step_zero2(trainer *t, double lr, double *gn, l1k_err *err) {
  double ss = t->shard_ss; /* the device's (dp_reduce), else summed here from host memory */
  if (!t->dev_dp) {
    const float *g = l1k_model_grads_host(t->m);
    if (!g) return l1k_errf(err, L1K_EINTERNAL, "zero_stage 2: no host gradients");
    ss = l1k_dist_sumsq_f32(g + t->opt_lo, t->opt_hi - t->opt_lo);
  }
  int rc = l1k_dist_sum_f64(&t->d, &ss, 1, err);
  if (rc) return rc;
  *gn = sqrt(ss);
  return l1k_model_step_normed(t->m, lr, t->c->max_grad_norm, t->opt_lo, t->opt_hi, *gn, err);
}

/* ZeRO-1: every rank updated its shard of the parameters; each broadcasts it to the others. */
static int share_shards(trainer *t, l1k_err *err) {
  if (t->dev_dp) return l1k_model_dp_gather(t->m, t->shard, zero2_bucket(), err);
  float *params = l1k_model_trainable_params(t->m); /* host parameters on the cpu backend */
  int rc = 0;
  for (int r = 0; r < t->d.world && !rc; r++) {
    size_t lo = t->shard[r], k = t->shard[r + 1] - lo;
    float *buf = params ? params + lo : malloc((k ? k : 1) * sizeof *buf);
    if (!buf) return l1k_errf(err, L1K_ENOMEM, "out of memory sharing the parameter shards");
    if (!params && r == t->d.rank) rc = l1k_model_params_get(t->m, buf, lo, k, err);
    if (!rc) rc = l1k_dist_bcast_from(&t->d, buf, k * sizeof(float), r, err);
    if (!rc && !params && r != t->d.rank) rc = l1k_model_params_set(t->m, buf, lo, k, err);
    if (!params) free(buf);
  }
  return rc;
}

/* MFU: the model FLOPs of all ranks over `seconds`, per device, over the device's peak. */
static double mfu(const trainer *t, double flops, double seconds) {
  return flops / (seconds + 1e-9) / ((double)t->d.world * t->peak);
}

/* The FLOP count's shape (full / LoRA / freeze) and the device's peak: LONG1K_PEAK_TFLOPS, or
 * the table of include/long1k/flops.h by the device's name; unknown: no MFU. */
static void setup_mfu(trainer *t) {
  const char *k = l1k_model_adapter_kind(t->m);
  int kind = !strcmp(k, "lora") ? L1K_FLOPS_LORA : !strcmp(k, "freeze") ? L1K_FLOPS_FREEZE
                                                                        : L1K_FLOPS_FULL;
  t->fl = l1k_flops_shape_of(l1k_model_cfg(t->m), kind, (double)l1k_model_num_trainable(t->m));
  char name[256];
  const char *src = NULL, *pr = t->c->precision ? t->c->precision : "auto";
  int dev = l1k_model_device_name(t->m, name, sizeof name) == 0;
  int bf16 = dev && strcmp(pr, "fp32") != 0; /* the device's mode; the cpu computes in float32 */
  t->peak = l1k_peak_flops(dev ? name : NULL, bf16, &src);
  if (t->d.rank != 0) return;
  if (t->peak > 0)
    l1k_info("MFU against %.4g TFLOP/s per device (%s%s%s, %s)", t->peak / 1e12, src,
             dev ? ": " : "", dev ? name : "", bf16 ? "bf16 dense" : "float32");
  else if (dev)
    l1k_info("MFU: the peak of \"%s\" is not in long1k's table; LONG1K_PEAK_TFLOPS=<dense "
             "TFLOP/s per device> shows it", name);
}

static int do_step(trainer *t, double *loss_out, double *gnorm_out, int64_t *tok_out,
                   l1k_err *err) {
  int64_t lo, hi;
  if (t->perm_epoch != t->step / t->spe) make_perm(t, t->step / t->spe);
  step_range(t, t->step, &lo, &hi);
  /* targets in the whole optimizer step (all ranks) and tokens, known from the rows */
  int64_t targets = 0, tokens = 0;
  for (int64_t i = lo; i < hi; i++) {
    targets += t->rows.targets[t->perm[i]];
    tokens += t->rows.len[t->perm[i]];
  }
  if (targets <= 0) return l1k_errf(err, L1K_EINTERNAL, "step %lld has no loss tokens", (long long)t->step + 1);
  double scale = 1.0 / (double)targets;
  l1k_model_zero_grads(t->m);
  double acc[2] = {0, 0};
  int rc = 0;
  int64_t q = 0;
  for (int64_t a = lo; a < hi && !rc; a += t->B, q++) {
    if (q % t->d.world != t->d.rank) continue;
    int n = (int)((hi - a) < t->B ? (hi - a) : t->B);
    double ls = 0;
    int64_t nt = 0;
    /* LoRA dropout masks: one key per micro-batch (seed, step, first row), so a resumed run
     * and any number of ranks draw the same masks */
    l1k_model_lora_dropout_key(t->m, l1k_mix64(l1k_mix64((uint64_t)t->c->seed ^ 0x6C6F7261ULL) +
                                               (uint64_t)t->step * 0x9E3779B97F4A7C15ULL +
                                               (uint64_t)a));
    rc = run_batch(t, &t->rows, t->perm + a, n, 1, scale, &ls, &nt, err);
    acc[0] += ls;
    acc[1] += (double)nt;
  }
  if ((rc = fail_all(t, rc))) return rc;
  if ((rc = reduce_grads(t, err))) return rc;
  if ((rc = l1k_dist_sum_f64(&t->d, acc, 2, err))) return rc;
  if ((int64_t)acc[1] != targets)
    return l1k_errf(err, L1K_EINTERNAL, "step %lld: the model counted %lld loss tokens, the data %lld",
                    (long long)t->step + 1, (long long)acc[1], (long long)targets);
  double loss = acc[0] / (double)targets;
  const char *fault = getenv("LONG1K_TRAIN_FAULT");
  if (fault && !strncmp(fault, "nan-at-step:", 12) && atoll(fault + 12) == t->step + 1) loss = NAN;
  *loss_out = loss;
  *tok_out = tokens;
  double sq = 0; /* attention FLOPs grow with each document's length squared */
  for (int64_t i = lo; i < hi; i++) {
    int64_t r = t->perm[i];
    for (int64_t k = t->rows.start[r]; k < t->rows.start[r + 1]; k++) {
      double n = (double)l1k_dataset_len(&t->ds, t->rows.item[k]);
      sq += n * n;
    }
  }
  t->step_flops = l1k_flops_step(&t->fl, (double)tokens, sq);
  if (!isfinite(loss)) { /* caller stops; parameters untouched */
    const float *g = l1k_model_grads_host(t->m);
    *gnorm_out = g ? l1k_l2norm(g, t->n_params) : NAN;
    return 1;
  }
  double lr = l1k_sched_lr(t->sched, t->c->learning_rate, t->warmup, t->total_steps, t->step);
  double gn = NAN;
  if (t->c->zero_stage >= 2 && t->shard)
    rc = step_zero2(t, lr, &gn, err);
  else
    rc = l1k_model_step(t->m, lr, t->c->max_grad_norm, t->opt_lo, t->opt_hi, &gn, err);
  *gnorm_out = gn;
  if (rc) return rc;
  if (!isfinite(gn)) return 1; /* the backend left parameters and moments untouched */
  if (t->shard && (rc = share_shards(t, err))) return rc;
  t->step++;
  return 0;
}

int l1k_train_run(const l1k_train_config *c, l1k_train_result *res, l1k_err *err) {
  trainer T_, *t = &T_;
  memset(t, 0, sizeof *t);
  memset(res, 0, sizeof *res);
  res->eval_loss = NAN;
  t->c = c;
  t->perm_epoch = -1;
  t->lock_fd = -1;
  int rc = l1k_dist_init(&t->d, err);
  if (rc) return rc;
#ifdef _OPENMP
  if (c->num_threads > 0) omp_set_num_threads((int)c->num_threads);
#endif
  l1k_sched_by_name(c->lr_scheduler_type ? c->lr_scheduler_type : "cosine", &t->sched, NULL);
  /* output dir and resume point */
  char resume_dir[4096] = "";
  if (t->d.rank == 0) rc = l1k_mkdir_p(c->output_dir, err);
  if (!rc && t->d.rank == 0 && (t->lock_fd = l1k_dir_lock(c->output_dir, err)) < 0)
    rc = err && err->code ? err->code : L1K_EIO;
  if (!rc) rc = l1k_ckpt_prepare_output(c, t->d.rank, resume_dir, sizeof resume_dir, err);
  if ((rc = fail_all(t, rc))) goto out;
  t->m = l1k_model_load(c->model_name_or_path, err);
  if (!t->m) rc = err && err->code ? err->code : L1K_EINPUT;
  if (rc) {
    l1k_err_prefix(err, "model_name_or_path");
    fail_all(t, rc);
    goto out;
  }
  if ((rc = fail_all(t, 0))) goto out;
  /* the adapter is built on the host model, then the device takes both (src/backend/ops.h) */
  if ((rc = setup_adapter(t, err))) {
    fail_all(t, rc);
    goto out;
  }
  if ((rc = fail_all(t, 0))) goto out;
  if ((rc = attach_device(t, err)) || (rc = plan_device_memory(t, err))) {
    fail_all(t, rc);
    goto out;
  }
  if ((rc = fail_all(t, 0)) || (rc = setup_device_dp(t, err))) goto out;
  if ((rc = setup_data(t, err))) {
    fail_all(t, rc);
    goto out;
  }
  t->B = c->per_device_train_batch_size;
  t->accum = c->gradient_accumulation_steps;
  t->rows_per_step = t->B * t->accum * t->d.world;
  t->spe = (t->rows.n + t->rows_per_step - 1) / t->rows_per_step;
  t->total_steps = c->max_steps > 0 ? c->max_steps : (int64_t)ceil(c->num_train_epochs * (double)t->spe - 1e-9);
  if (t->total_steps < 1) t->total_steps = 1;
  t->warmup = l1k_sched_warmup_steps(t->total_steps, c->warmup_ratio, c->warmup_steps);
  for (int64_t i = 0; i < t->rows.n; i++) t->Tmax = t->rows.len[i] > t->Tmax ? t->rows.len[i] : t->Tmax;
  for (int64_t i = 0; i < t->val.n; i++) t->Tmax = t->val.len[i] > t->Tmax ? t->val.len[i] : t->Tmax;
  size_t bt = (size_t)t->B * (size_t)t->Tmax;
  t->b_ids = malloc(bt * 4);
  t->b_labels = malloc(bt * 4);
  t->b_pos = malloc(bt * 4);
  t->b_doc = malloc(bt * 4);
  t->perm = malloc((size_t)(t->rows.n + 1) * sizeof *t->perm);
  if (!t->b_ids || !t->b_labels || !t->b_pos || !t->b_doc || !t->perm) {
    rc = l1k_errf(err, L1K_ENOMEM, "out of memory for batches of %lld x %lld", (long long)t->B,
                  (long long)t->Tmax);
    goto out;
  }
  if ((rc = l1k_model_reserve(t->m, (int)t->B, (int)t->Tmax, err))) goto out;
  t->n_params = l1k_model_num_trainable(t->m); /* the adapter's space under lora / freeze */
  t->opt_lo = 0;
  t->opt_hi = t->n_params;
  if (c->zero_stage >= 1 && (t->d.world > 1 || t->dev_dp)) {
    size_t n = t->n_params, W = (size_t)t->d.world;
    size_t chunk = l1k_zero_chunk(n, t->d.world);
    t->shard = malloc((W + 1) * sizeof *t->shard);
    if (!t->shard) {
      rc = l1k_errf(err, L1K_ENOMEM, "out of memory");
      goto out;
    }
    l1k_zero_shards(n, t->d.world, t->shard);
    t->opt_lo = t->shard[t->d.rank];
    t->opt_hi = t->shard[t->d.rank + 1];
    if (t->d.rank == 0 && c->zero_stage >= 2)
      l1k_info("zero_stage 2: gradients reduce-scattered and AdamW moments sharded over %d "
               "ranks (%zu parameters each, buckets of %zu)", t->d.world, chunk, zero2_bucket());
    else if (t->d.rank == 0)
      l1k_info("zero_stage 1: AdamW moments sharded over %d ranks (%zu parameters each)",
               t->d.world, chunk);
  }
  if (c->optim_offload) {
    rc = l1k_model_optim_offload(t->m, 1, err);
    if (rc == 1 && t->d.rank == 0)
      l1k_warn("optim_offload: true has no effect on device %s (its optimizer is in host memory)",
               l1k_model_device(t->m));
    else if (!rc && t->d.rank == 0)
      l1k_info("optim_offload: float32 master weights and AdamW moments of %zu parameters in "
               "host memory, AdamW on the CPU", t->opt_hi - t->opt_lo);
    if (rc == 1) rc = 0;
    if ((rc = fail_all(t, rc))) goto out;
  }
  rc = l1k_model_optim_init(t->m, c->adam_beta1, c->adam_beta2, c->adam_epsilon,
                            c->weight_decay, t->opt_lo, t->opt_hi, err);
  if ((rc = fail_all(t, rc))) goto out;
  if (resume_dir[0]) {
    rc = resume_state(t, resume_dir, err);
    if ((rc = fail_all(t, rc))) goto out;
    snprintf(t->last_ckpt, sizeof t->last_ckpt, "%s", resume_dir);
    if (t->d.rank == 0)
      l1k_info("resuming from %s at step %lld", resume_dir, (long long)t->step);
  }
  if (t->d.rank == 0) {
    char *lp = l1k_path_join(c->output_dir, "trainer_log.jsonl");
    /* the log restarts from the checkpoint's history (steps after it are redone) */
    if (lp && l1k_write_file_atomic(lp, t->log.data ? t->log.data : "", t->log.len, err) == 0)
      t->logf = fopen(lp, "ab");
    free(lp);
    if (!t->logf) {
      rc = l1k_errf(err, L1K_EIO, "%s/trainer_log.jsonl: cannot open", c->output_dir);
      fail_all(t, rc);
      goto out;
    }
    char *cfg = l1k_train_config_dump(c);
    char *cp = l1k_path_join(c->output_dir, "long1k_train_config.yaml");
    if (cfg && cp) l1k_write_file_atomic(cp, cfg, strlen(cfg), NULL);
    free(cfg);
    free(cp);
    l1k_info("training: %lld rows, %lld steps per epoch, %lld steps (warmup %lld, %s), batch %lld x "
             "accumulation %lld x %d process%s = %lld rows per step",
             (long long)t->rows.n, (long long)t->spe, (long long)t->total_steps, (long long)t->warmup,
             l1k_sched_name(t->sched), (long long)t->B, (long long)t->accum, t->d.world,
             t->d.world > 1 ? "es" : "", (long long)t->rows_per_step);
  }
  if ((rc = fail_all(t, 0))) goto out;

  setup_mfu(t);
  l1k_progress prog;
  /* after a resume the bar counts this run's steps (so the rate and ETA are right) */
  char label[64];
  if (t->step > 0)
    snprintf(label, sizeof label, "train (from step %lld)", (long long)t->step);
  else
    snprintf(label, sizeof label, "train");
  if (t->d.rank == 0) l1k_progress_begin(&prog, label, t->total_steps - t->step);
  t->t_start = l1k_now();
  double t_win = l1k_now(), loss = 0, gn = 0;
  int64_t win_tok = 0, step_tok = 0, start_step = t->step, start_tokens = t->tokens;
  double run_flops = 0, win_flops = 0; /* model FLOPs of this run's steps, all ranks */
  const char *fault = getenv("LONG1K_TRAIN_FAULT");
  while (t->step < t->total_steps) {
    int r = do_step(t, &loss, &gn, &step_tok, err);
    if (r == 1) {
      if (t->d.rank == 0) l1k_progress_end(&prog);
      rc = l1k_errf(err, L1K_EINTERNAL,
                    "step %lld: loss %g, grad norm %g is not finite; stopped without updating "
                    "(last good checkpoint: %s)",
                    (long long)t->step + 1, loss, gn, t->last_ckpt[0] ? t->last_ckpt : "none");
      goto out;
    }
    if (r) goto out_rc;
    t->tokens += step_tok;
    win_tok += step_tok; /* this process's tokens since the last record (for tokens/s) */
    run_flops += t->step_flops;
    win_flops += t->step_flops;
    t->win.tokens += step_tok;
    t->win.loss_sum += loss;
    t->win.steps++;
    res->last_loss = loss;
    double lr = l1k_sched_lr(t->sched, c->learning_rate, t->warmup, t->total_steps, t->step - 1);
    double now = l1k_now();
    if (t->d.rank == 0) {
      char extra[200];
      int k = snprintf(extra, sizeof extra, "loss %.4f lr %.3g gn %.3g %.0f tok/s", loss, lr, gn,
                       (double)(t->tokens - start_tokens) / (now - t->t_start + 1e-9));
      if (t->peak > 0 && k > 0 && (size_t)k < sizeof extra)
        snprintf(extra + k, sizeof extra - (size_t)k, " MFU %.1f%%",
                 100.0 * mfu(t, run_flops, now - t->t_start));
      l1k_progress_update(&prog, t->step - start_step, extra);
    }
    if (t->step % c->logging_steps == 0 || t->step == t->total_steps) {
      char rec[512], mf[64] = "";
      if (t->peak > 0) snprintf(mf, sizeof mf, ", \"mfu\": %.6g", mfu(t, win_flops, now - t_win));
      snprintf(rec, sizeof rec,
               "{\"step\": %lld, \"epoch\": %.6g, \"loss\": %.17g, \"lr\": %.17g, \"grad_norm\": "
               "%.17g, \"tokens\": %lld, \"tokens_per_s\": %.1f%s, \"elapsed\": %.3f}",
               (long long)t->step, (double)t->step / (double)t->spe,
               t->win.loss_sum / (double)t->win.steps, lr,
               gn, (long long)t->tokens, (double)win_tok / (now - t_win + 1e-9), mf,
               now - t->t_start);
      win_flops = 0;
      log_record(t, rec);
      t->win = (l1k_log_window){0, 0, 0};
      win_tok = 0;
      t_win = now;
    }
    if (t->val.n && c->eval_steps > 0 && t->step % c->eval_steps == 0 && t->step < t->total_steps) {
      double el;
      if ((rc = evaluate(t, &el, err))) goto out;
      char rec[160];
      snprintf(rec, sizeof rec, "{\"step\": %lld, \"epoch\": %.6g, \"eval_loss\": %.17g}",
               (long long)t->step, (double)t->step / (double)t->spe, el);
      log_record(t, rec);
      res->eval_loss = el;
    }
    if (fault && !strncmp(fault, "kill-after-step:", 16) && atoll(fault + 16) == t->step)
      raise(SIGKILL);
    if (c->save_steps > 0 && t->step % c->save_steps == 0 && t->step < t->total_steps) {
      rc = save_ckpt(t, err);
      if ((rc = fail_all(t, rc))) goto out;
    }
  }
  if (t->d.rank == 0) l1k_progress_end(&prog);
  if (t->val.n) {
    double el;
    if ((rc = evaluate(t, &el, err))) goto out;
    char rec[160];
    snprintf(rec, sizeof rec, "{\"step\": %lld, \"epoch\": %.6g, \"eval_loss\": %.17g}",
             (long long)t->step, (double)t->step / (double)t->spe, el);
    log_record(t, rec);
    res->eval_loss = el;
    if (t->d.rank == 0) l1k_info("eval loss %.6f on %lld rows", el, (long long)t->val.n);
  }
  if (t->step > start_step || !t->last_ckpt[0]) {
    rc = save_ckpt(t, err);
    if ((rc = fail_all(t, rc))) goto out;
  }
  if (!rc && (rc = check_ranks_agree(t, err))) goto out;
  write_plot(t);
  if (t->d.rank == 0)
    l1k_info("done: %lld steps, last loss %.6f, %lld tokens in %.1f s; checkpoint %s",
             (long long)t->step, res->last_loss, (long long)(t->tokens - start_tokens), l1k_now() - t->t_start,
             t->last_ckpt);
  goto out;
out_rc:
  if (!rc) rc = err && err->code ? err->code : L1K_EINTERNAL;
out:
  res->steps = t->step;
  res->tokens = t->tokens;
  snprintf(res->last_checkpoint, sizeof res->last_checkpoint, "%s", t->last_ckpt);
  if (t->logf) fclose(t->logf);
  l1k_buf_free(&t->log);
  free(t->b_ids);
  free(t->b_labels);
  free(t->b_pos);
  free(t->b_doc);
  free(t->perm);
  free(t->shard);
  l1k_rows_free(&t->rows);
  l1k_rows_free(&t->val);
  l1k_dataset_free(&t->ds);
  if (t->tok) l1k_tokenizer_free(t->tok);
  l1k_chat_template_free(t->tmpl);
  free(t->tok_dir);
  if (t->m) l1k_model_free(t->m);
  l1k_dir_unlock(t->lock_fd);
  l1k_dist_finalize(&t->d);
  return rc;
}
