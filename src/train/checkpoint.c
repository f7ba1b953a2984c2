/* long1k — trainer checkpoints: output_dir/checkpoint-<step>/ holds a Hugging Face model
 * directory (config.json, generation_config.json, model.safetensors, tokenizer files) and the
 * trainer state (train_state.bin: float32 master weights, AdamW moments, counters, the
 * epoch's data order; trainer_state.json; trainer_log.jsonl up to this step). A checkpoint is
 * built in output_dir/.tmp-checkpoint-<step>-<pid>, every file fsync'ed, then renamed into
 * place, so a crash leaves either no checkpoint-<step> or a complete one. */
#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>
#include <math.h>

#include "long1k/adapter.h"
#include "long1k/io.h"
#include "long1k/log.h"
#include "train/train_internal.h"

/* train_state.bin: a 128-byte header, then params, m, v (f32 [n_params] each) and the epoch's
 * row order (i64 [n_rows]). crc is zlib's crc32 of the header (crc field zero) and the payload.
 * Version 2 added the version, the checksum and the logging window. */
#define STATE_MAGIC "L1KTS002"
#define STATE_VERSION 2u
#define STATE_FILE "train_state.bin"

typedef struct state_header {
  char magic[8];
  uint32_t version, crc;
  uint64_t n_params;
  int64_t adam_step, global_step, tokens, perm_epoch, n_rows;
  uint64_t seed;
  int64_t rows_per_step;
  int64_t win_steps, win_tokens;
  double win_loss;
  int64_t reserved[3];
} state_header; /* 128 bytes */
_Static_assert(sizeof(state_header) == 128, "train_state.bin header is 128 bytes");

static int is_ckpt_name(const char *name, int64_t *step) {
  if (strncmp(name, "checkpoint-", 11) != 0) return 0;
  const char *p = name + 11;
  if (!*p) return 0;
  int64_t v = 0;
  for (; *p; p++) {
    if (*p < '0' || *p > '9') return 0;
    v = v * 10 + (*p - '0');
  }
  *step = v;
  return 1;
}

static int complete(const char *dir) {
  char *p = l1k_path_join(dir, STATE_FILE);
  int ok = p && l1k_file_exists(p);
  free(p);
  return ok;
}

typedef struct ck {
  int64_t step;
  char name[256];
} ck;

static int cmp_ck(const void *a, const void *b) {
  const ck *x = a, *y = b;
  return x->step < y->step ? -1 : x->step > y->step;
}

/* checkpoint-N directories of dir, sorted by N */
static int list_ckpts(const char *dir, ck **out, size_t *n) {
  *out = NULL;
  *n = 0;
  DIR *d = opendir(dir);
  if (!d) return 0;
  size_t cap = 0;
  struct dirent *e;
  while ((e = readdir(d))) {
    int64_t s;
    if (!is_ckpt_name(e->d_name, &s) || strlen(e->d_name) >= 256) continue;
    if (*n == cap) {
      cap = cap ? cap * 2 : 16;
      ck *nv = l1k_realloc(*out, cap * sizeof *nv, NULL);
      if (!nv) break;
      *out = nv;
    }
    (*out)[*n].step = s;
    snprintf((*out)[*n].name, 256, "%s", e->d_name);
    (*n)++;
  }
  closedir(d);
  if (*n) qsort(*out, *n, sizeof **out, cmp_ck);
  return 0;
}

int64_t l1k_ckpt_latest(const char *dir, char *path, size_t cap) {
  ck *v;
  size_t n;
  list_ckpts(dir, &v, &n);
  int64_t best = -1;
  for (size_t i = n; i-- > 0;) {
    char *p = l1k_path_join(dir, v[i].name);
    if (p && complete(p)) {
      best = v[i].step;
      snprintf(path, cap, "%s", p);
      free(p);
      break;
    }
    free(p);
  }
  free(v);
  return best;
}

/* renames to a hidden trash name first (atomic), then deletes */
static int remove_dir(const char *outdir, const char *name, l1k_err *err) {
  char *src = l1k_path_join(outdir, name);
  char trash[4200];
  snprintf(trash, sizeof trash, "%s/.trash-%s-%d", outdir, name, (int)getpid());
  int rc = 0;
  if (rename(src, trash) != 0)
    rc = l1k_errf(err, L1K_EIO, "%s: cannot rename: %s", src, strerror(errno));
  else {
    l1k_fsync_dir(outdir, NULL);
    rc = l1k_rm_rf(trash, err);
  }
  free(src);
  return rc;
}

int l1k_ckpt_prepare_output(const l1k_train_config *c, int rank, char *resume_dir, size_t cap,
                            l1k_err *err) {
  resume_dir[0] = 0;
  const char *out = c->output_dir;
  if (rank == 0) {
    DIR *d = opendir(out);
    if (d) {
      struct dirent *e;
      while ((e = readdir(d))) {
        if (strncmp(e->d_name, ".tmp-checkpoint-", 16) && strncmp(e->d_name, ".trash-", 7))
          continue;
        char *p = l1k_path_join(out, e->d_name);
        if (p) {
          l1k_info("removing an unfinished checkpoint write: %s", p);
          l1k_rm_rf(p, NULL);
        }
        free(p);
      }
      closedir(d);
    }
  }
  const char *r = c->resume_from_checkpoint;
  int want = r && strcmp(r, "false") && strcmp(r, "False") && strcmp(r, "no");
  if (want && (!strcmp(r, "true") || !strcmp(r, "True") || !strcmp(r, "latest") || !strcmp(r, "yes"))) {
    if (l1k_ckpt_latest(out, resume_dir, cap) < 0)
      return l1k_errf(err, L1K_EINPUT,
                      "resume_from_checkpoint: true, but %s has no complete checkpoint-<step>", out);
    return 0;
  }
  if (want) {
    if (!l1k_is_dir(r))
      return l1k_errf(err, L1K_EINPUT, "resume_from_checkpoint: '%s' is not a directory", r);
    if (!complete(r))
      return l1k_errf(err, L1K_EINPUT,
                      "resume_from_checkpoint: '%s' has no %s (not a long1k training checkpoint)", r,
                      STATE_FILE);
    snprintf(resume_dir, cap, "%s", r);
    return 0;
  }
  ck *v;
  size_t n;
  list_ckpts(out, &v, &n);
  int rc = 0;
  if (n && !c->overwrite_output_dir)
    rc = l1k_errf(err, L1K_EINPUT,
                  "output_dir: %s already has %s; set resume_from_checkpoint: true to continue "
                  "it, or overwrite_output_dir: true to start over",
                  out, v[n - 1].name);
  else if (n && rank == 0)
    for (size_t i = 0; i < n && !rc; i++) rc = remove_dir(out, v[i].name, err);
  free(v);
  return rc;
}

static int write_blob(const char *dir, const char *name, const void *data, size_t len,
                      l1k_err *err) {
  char *p = l1k_path_join(dir, name);
  if (!p) return l1k_errf(err, L1K_ENOMEM, "out of memory");
  int rc = l1k_write_file_atomic(p, data, len, err);
  free(p);
  return rc;
}

static int copy_file(const char *src_dir, const char *dst_dir, const char *name, l1k_err *err) {
  char *s = l1k_path_join(src_dir, name);
  int rc = 0;
  if (s && l1k_file_exists(s)) {
    size_t len;
    char *data = l1k_read_file(s, &len, err);
    rc = data ? write_blob(dst_dir, name, data, len, err) : L1K_EIO;
    free(data);
  }
  free(s);
  return rc;
}

/* first occurrence of the 6-byte string k in s[0, n) */
/* ---- train_state.bin: format ------------------------------------------------------------ */

static void fill_header(state_header *h, const l1k_train_config *c, const l1k_adamw *opt,
                        int64_t step, int64_t tokens, int64_t perm_epoch, int64_t n_rows,
                        int64_t rows_per_step, const l1k_log_window *win) {
  memset(h, 0, sizeof *h);
  memcpy(h->magic, STATE_MAGIC, 8);
  h->version = STATE_VERSION;
  h->n_params = opt->n;
  h->adam_step = opt->step;
  h->global_step = step;
  h->tokens = tokens;
  h->perm_epoch = perm_epoch;
  h->n_rows = n_rows;
  h->seed = (uint64_t)c->seed;
  h->rows_per_step = rows_per_step;
  if (win) {
    h->win_steps = win->steps;
    h->win_tokens = win->tokens;
    h->win_loss = win->loss_sum;
  }
}

static uint32_t state_crc(const state_header *h, const void *const *parts, const size_t *lens,
                          int n) {
  state_header z = *h;
  z.crc = 0;
  uLong crc = crc32_z(0, (const Bytef *)&z, sizeof z);
  for (int i = 0; i < n; i++) crc = crc32_z(crc, (const Bytef *)parts[i], lens[i]);
  return (uint32_t)crc;
}

static int write_state(const char *dir, state_header *h, const float *params, const float *m,
                       const float *v, const int64_t *perm, l1k_err *err) {
  size_t n = h->n_params, nr = (size_t)h->n_rows;
  const void *parts[4] = {params, m, v, perm};
  size_t lens[4] = {4 * n, 4 * n, 4 * n, 8 * nr};
  h->crc = state_crc(h, parts, lens, 4);
  char *p = l1k_path_join(dir, STATE_FILE);
  l1k_atomic_file af;
  int rc = p ? l1k_atomic_open(&af, p, err) : l1k_errf(err, L1K_ENOMEM, "out of memory");
  if (!rc) {
    int bad = fwrite(h, sizeof *h, 1, af.f) != 1;
    for (int i = 0; i < 4 && !bad; i++) bad = lens[i] && fwrite(parts[i], 1, lens[i], af.f) != lens[i];
    if (bad) {
      l1k_atomic_abort(&af);
      rc = l1k_errf(err, L1K_EIO, "%s: write failed: %s", p, strerror(errno));
    } else {
      rc = l1k_atomic_commit(&af, err);
    }
  }
  free(p);
  return rc;
}

/* the row order must be a permutation of [0, n_rows) */
static int check_perm(const unsigned char *perm, int64_t n_rows, const char *path, l1k_err *err) {
  unsigned char *seen = l1k_calloc((size_t)n_rows + 1, 1, NULL);
  if (!seen) return l1k_errf(err, L1K_ENOMEM, "out of memory checking %s", path);
  int rc = 0;
  for (int64_t i = 0; i < n_rows && !rc; i++) {
    int64_t r;
    memcpy(&r, perm + 8 * i, 8);
    if (r < 0 || r >= n_rows || seen[r])
      rc = l1k_errf(err, L1K_EINPUT, "%s: row order entry %lld is %lld, expected a permutation of 0..%lld",
                    path, (long long)i, (long long)r, (long long)n_rows - 1);
    else
      seen[r] = 1;
  }
  free(seen);
  return rc;
}

static int check_header_ranges(const state_header *h, const char *path, l1k_err *err) {
  const char *field = NULL;
  /* the row order saved is the one of the last step done: epoch (global_step - 1) / spe */
  int64_t spe = h->rows_per_step > 0 ? (h->n_rows + h->rows_per_step - 1) / h->rows_per_step : 0;
  int64_t epoch = h->global_step > 0 && spe > 0 ? (h->global_step - 1) / spe : -1;
  if (h->global_step < 0) field = "global_step";
  else if (h->adam_step < 0 || h->adam_step > h->global_step) field = "adam_step";
  else if (h->tokens < 0) field = "tokens";
  else if (h->rows_per_step < 1) field = "rows_per_step";
  else if (h->perm_epoch != epoch) field = "perm_epoch (or global_step)";
  else if (h->win_steps < 0 || h->win_steps > h->global_step) field = "win_steps";
  else if (h->win_tokens < 0 || h->win_tokens > h->tokens) field = "win_tokens";
  else if (!isfinite(h->win_loss)) field = "win_loss";
  if (field) return l1k_errf(err, L1K_EINPUT, "%s: %s is out of range (damaged train state)", path, field);
  return 0;
}

int l1k_train_state_parse(const void *data, size_t size, const char *path, l1k_train_state *s,
                          l1k_err *err) {
  memset(s, 0, sizeof *s);
  state_header h;
  if (size < sizeof h || memcmp(data, STATE_MAGIC, 7) != 0)
    return l1k_errf(err, L1K_EINPUT, "%s: not a long1k train state (bad magic)", path);
  memcpy(&h, data, sizeof h);
  if (memcmp(h.magic, STATE_MAGIC, 8) != 0 || h.version != STATE_VERSION)
    return l1k_errf(err, L1K_EINPUT, "%s: train state version %.8s, expected %s (version %u)",
                    path, h.magic, STATE_MAGIC, STATE_VERSION);
  if (h.n_params == 0 || h.n_params > (uint64_t)1 << 40 || h.n_rows < 0 || h.n_rows > (int64_t)1 << 40)
    return l1k_errf(err, L1K_EINPUT, "%s: n_params %llu / n_rows %lld out of range", path,
                    (unsigned long long)h.n_params, (long long)h.n_rows);
  size_t n = h.n_params;
  if (size != sizeof h + 12 * n + 8 * (size_t)h.n_rows)
    return l1k_errf(err, L1K_EINPUT, "%s: size %zu bytes, the header says %zu (truncated?)", path,
                    size, sizeof h + 12 * n + 8 * (size_t)h.n_rows);
  const unsigned char *d = (const unsigned char *)data + sizeof h;
  const void *parts[1] = {d};
  size_t lens[1] = {size - sizeof h};
  uint32_t crc = state_crc(&h, parts, lens, 1);
  if (crc != h.crc)
    return l1k_errf(err, L1K_EINPUT, "%s: checksum mismatch (crc32 %08x, header says %08x): damaged",
                    path, crc, h.crc);
  int rc = check_header_ranges(&h, path, err);
  if (!rc) rc = check_perm(d + 12 * n, h.n_rows, path, err);
  if (rc) return rc;
  s->n_params = h.n_params;
  s->seed = h.seed;
  s->adam_step = h.adam_step;
  s->global_step = h.global_step;
  s->tokens = h.tokens;
  s->perm_epoch = h.perm_epoch;
  s->n_rows = h.n_rows;
  s->rows_per_step = h.rows_per_step;
  s->win = (l1k_log_window){h.win_loss, h.win_steps, h.win_tokens};
  s->params = d;
  s->m = d + 4 * n;
  s->v = d + 8 * n;
  s->perm = d + 12 * n;
  return 0;
}

static int fault_at(const char *what, int64_t step) {
  const char *f = getenv("LONG1K_TRAIN_FAULT");
  size_t n = strlen(what);
  return f && !strncmp(f, what, n) && f[n] == ':' && atoll(f + n + 1) == step;
}

/* One trainer_log.jsonl record as transformers' Trainer logs it: training steps {epoch,
 * grad_norm, learning_rate, loss, num_input_tokens_seen, step}, evaluations {epoch, eval_loss,
 * step}. */
static cJSON *log_entry(const cJSON *r) {
  static const char *const map[][2] = {{"epoch", "epoch"},         {"grad_norm", "grad_norm"},
                                       {"lr", "learning_rate"},    {"loss", "loss"},
                                       {"eval_loss", "eval_loss"}, {"tokens", "num_input_tokens_seen"},
                                       {"step", "step"},           {"elapsed", "train_runtime"}};
  cJSON *e = cJSON_CreateObject();
  for (size_t i = 0; e && i < sizeof map / sizeof map[0]; i++) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(r, map[i][0]);
    if (cJSON_IsNumber(v) && !cJSON_AddNumberToObject(e, map[i][1], v->valuedouble)) {
      cJSON_Delete(e);
      return NULL;
    }
  }
  const cJSON *t = cJSON_GetObjectItemCaseSensitive(r, "tokens");
  const cJSON *el = cJSON_GetObjectItemCaseSensitive(r, "elapsed");
  if (e && cJSON_IsNumber(t) && cJSON_IsNumber(el) && el->valuedouble > 0 &&
      !cJSON_AddNumberToObject(e, "train_tokens_per_second",
                               round(t->valuedouble / el->valuedouble * 1000) / 1000)) {
    cJSON_Delete(e);
    return NULL;
  }
  return e;
}

/* what transformers' TrainerControl holds when it saves a checkpoint */
static cJSON *trainer_control(int last) {
  cJSON *tc = cJSON_CreateObject(), *a = cJSON_AddObjectToObject(tc, "args");
  cJSON_AddBoolToObject(a, "should_epoch_stop", 0);
  cJSON_AddBoolToObject(a, "should_evaluate", 0);
  cJSON_AddBoolToObject(a, "should_log", 0);
  cJSON_AddBoolToObject(a, "should_save", 1);
  cJSON_AddBoolToObject(a, "should_training_stop", last);
  cJSON_AddObjectToObject(tc, "attributes");
  cJSON *sc = cJSON_CreateObject();
  cJSON_AddItemToObject(sc, "TrainerControl", tc);
  return sc;
}

/* trainer_state.json with exactly the fields of transformers' TrainerState, so that
 * TrainerState.load_from_json (cls(**json)) loads it. long1k's own counters are in
 * train_state.bin. */
static char *trainer_state_json(const l1k_train_config *c, const l1k_buf *log, int64_t step,
                                int64_t spe, int64_t total_steps, int64_t tokens) {
  cJSON *o = cJSON_CreateObject(), *h = cJSON_CreateArray();
  if (!o || !h) {
    cJSON_Delete(o);
    cJSON_Delete(h);
    return NULL;
  }
  cJSON_AddItemToObject(o, "log_history", h);
  cJSON_AddNullToObject(o, "best_global_step");
  cJSON_AddNullToObject(o, "best_metric");
  cJSON_AddNullToObject(o, "best_model_checkpoint");
  cJSON_AddNumberToObject(o, "epoch", (double)step / (double)(spe > 0 ? spe : 1));
  cJSON_AddNumberToObject(o, "eval_steps", (double)(c->eval_steps > 0 ? c->eval_steps : c->logging_steps));
  cJSON_AddNumberToObject(o, "global_step", (double)step);
  cJSON_AddBoolToObject(o, "is_hyper_param_search", 0);
  cJSON_AddBoolToObject(o, "is_local_process_zero", 1);
  cJSON_AddBoolToObject(o, "is_world_process_zero", 1);
  cJSON_AddNumberToObject(o, "logging_steps", (double)c->logging_steps);
  cJSON_AddNumberToObject(o, "max_steps", (double)total_steps);
  cJSON_AddNumberToObject(o, "num_input_tokens_seen", (double)tokens);
  cJSON_AddNumberToObject(o, "num_train_epochs",
                          c->max_steps > 0 ? ceil((double)total_steps / (double)(spe > 0 ? spe : 1))
                                           : ceil(c->num_train_epochs));
  cJSON_AddNumberToObject(o, "save_steps", (double)c->save_steps);
  cJSON_AddItemToObject(o, "stateful_callbacks", trainer_control(step >= total_steps));
  cJSON_AddNumberToObject(o, "total_flos", 0);
  cJSON_AddNumberToObject(o, "train_batch_size", (double)c->per_device_train_batch_size);
  cJSON_AddNullToObject(o, "trial_name");
  cJSON_AddNullToObject(o, "trial_params");
  int bad = 0;
  for (size_t a = 0; log && log->data && a < log->len && !bad;) {
    const char *nl = memchr(log->data + a, '\n', log->len - a);
    size_t b = nl ? (size_t)(nl - log->data) : log->len;
    cJSON *r = b > a ? cJSON_ParseWithLength(log->data + a, b - a) : NULL;
    cJSON *e = r ? log_entry(r) : NULL;
    bad = (b > a && !e) || (e && !cJSON_AddItemToArray(h, e));
    cJSON_Delete(r);
    a = b + 1;
  }
  char *txt = bad ? NULL : cJSON_Print(o);
  cJSON_Delete(o);
  return txt;
}

int l1k_ckpt_save(const l1k_train_config *c, const l1k_model *m, const char *tok_dir,
                  const l1k_adamw *opt, int64_t step, int64_t tokens, int64_t spe,
                  int64_t total_steps, int64_t perm_epoch, const int64_t *perm, int64_t n_rows,
                  int64_t rows_per_step, const l1k_log_window *win, const l1k_buf *log,
                  char *path, size_t cap, l1k_err *err) {
  const char *out = c->output_dir;
  char tmp[4200], fin[4200];
  snprintf(tmp, sizeof tmp, "%s/.tmp-checkpoint-%lld-%d", out, (long long)step, (int)getpid());
  snprintf(fin, sizeof fin, "%s/checkpoint-%lld", out, (long long)step);
  l1k_rm_rf(tmp, NULL);
  int rc = l1k_mkdir_p(tmp, err);
  /* a full model, or a PEFT adapter under finetuning_type lora (include/long1k/adapter.h) */
  if (!rc)
    rc = l1k_model_save_trained((l1k_model *)m, tmp, c->bf16 ? "bf16" : "f32",
                                c->model_name_or_path, err);
  if (!rc && fault_at("kill-in-checkpoint", step)) raise(SIGKILL);
  /* tokenizer files (from the tokenizer directory, else the model directory) */
  const char *names[] = {"tokenizer.json",   "tokenizer_config.json", "special_tokens_map.json",
                         "vocab.json",       "merges.txt",            "added_tokens.json",
                         "chat_template.jinja"};
  const char *src = tok_dir && l1k_is_dir(tok_dir) ? tok_dir : c->model_name_or_path;
  for (size_t i = 0; i < sizeof names / sizeof names[0] && !rc; i++)
    rc = copy_file(src, tmp, names[i], err);
  if (!rc && tok_dir && !l1k_is_dir(tok_dir) && l1k_file_exists(tok_dir)) {
    size_t len;
    char *data = l1k_read_file(tok_dir, &len, err);
    rc = data ? write_blob(tmp, "tokenizer.json", data, len, err) : L1K_EIO;
    free(data);
  }
  /* train_state.bin */
  if (!rc) {
    state_header h;
    fill_header(&h, c, opt, step, tokens, perm_epoch, n_rows, rows_per_step, win);
    /* the trained parameters in host memory: in place on the cpu backend, else a copy */
    float *own = NULL;
    const float *params = l1k_model_trainable_params((l1k_model *)m);
    if (!params) {
      own = l1k_malloc((opt->n ? opt->n : 1) * sizeof *own, err);
      rc = own ? l1k_model_params_get((l1k_model *)m, own, 0, opt->n, err) : L1K_ENOMEM;
      params = own;
    }
    if (!rc) rc = write_state(tmp, &h, params, opt->m, opt->v, perm, err); /* full moments */
    free(own);
  }
  if (!rc) rc = write_blob(tmp, "trainer_log.jsonl", log->data ? log->data : "", log->len, err);
  if (!rc) {
    char *j = trainer_state_json(c, log, step, spe, total_steps, tokens);
    rc = j ? write_blob(tmp, "trainer_state.json", j, strlen(j), err)
           : l1k_errf(err, L1K_ENOMEM, "out of memory writing trainer_state.json");
    free(j);
  }
  if (!rc && fault_at("kill-before-rename", step)) raise(SIGKILL);
  if (!rc) rc = l1k_fsync_dir(tmp, err);
  if (!rc && l1k_is_dir(fin)) rc = remove_dir(out, strrchr(fin, '/') + 1, err);
  if (!rc && rename(tmp, fin) != 0)
    rc = l1k_errf(err, L1K_EIO, "%s: cannot rename to %s: %s", tmp, fin, strerror(errno));
  if (!rc) rc = l1k_fsync_dir(out, err);
  if (rc) {
    l1k_rm_rf(tmp, NULL);
    return rc;
  }
  snprintf(path, cap, "%s", fin);
  if (c->save_total_limit > 0) {
    ck *v;
    size_t n;
    list_ckpts(out, &v, &n);
    for (size_t i = 0; n > (size_t)c->save_total_limit && i < n - (size_t)c->save_total_limit; i++)
      if (v[i].step != step) remove_dir(out, v[i].name, NULL);
    free(v);
  }
  return 0;
}

/* the state must belong to this run: same model size, data, seed and batch geometry */
static int check_matches(const l1k_train_state *s, const char *p, size_t n, int64_t n_rows,
                         uint64_t seed, int64_t rows_per_step, l1k_err *err) {
  if (s->n_params != n)
    return l1k_errf(err, L1K_EINPUT, "%s: %llu parameters, the model has %zu", p,
                    (unsigned long long)s->n_params, n);
  if (s->n_rows != n_rows)
    return l1k_errf(err, L1K_EINPUT,
                    "%s: trained on %lld rows, the dataset now gives %lld (dataset, cutoff_len, "
                    "val_size or neat_packing changed)",
                    p, (long long)s->n_rows, (long long)n_rows);
  if (s->seed != seed)
    return l1k_errf(err, L1K_EINPUT, "%s: seed was %llu, now %llu", p,
                    (unsigned long long)s->seed, (unsigned long long)seed);
  if (s->rows_per_step != rows_per_step)
    return l1k_errf(err, L1K_EINPUT,
                    "%s: %lld rows per step (batch x accumulation x processes), now %lld (on "
                    "another number of processes, set gradient_accumulation_steps so that the "
                    "product stays %lld)", p,
                    (long long)s->rows_per_step, (long long)rows_per_step,
                    (long long)s->rows_per_step);
  return 0;
}

int l1k_ckpt_load_state(const char *dir, l1k_model *m, l1k_adamw *opt, int64_t *step,
                        int64_t *tokens, int64_t *perm_epoch, int64_t *perm, int64_t n_rows,
                        uint64_t seed, int64_t rows_per_step, l1k_log_window *win, l1k_buf *log,
                        l1k_err *err) {
  char *p = l1k_path_join(dir, STATE_FILE);
  l1k_mmap mp;
  int rc = p ? l1k_mmap_open(&mp, p, err) : L1K_ENOMEM;
  if (rc) {
    free(p);
    return rc;
  }
  size_t n = l1k_model_num_trainable(m);
  l1k_train_state s;
  rc = l1k_train_state_parse(mp.data, mp.size, p, &s, err);
  if (!rc) rc = check_matches(&s, p, n, n_rows, seed, rows_per_step, err);
  if (!rc) rc = l1k_model_params_set(m, (const float *)s.params, 0, n, err);
  if (!rc) {
    /* the file holds all moments; a ZeRO-1 rank keeps its shard [lo, hi) */
    memcpy(opt->m, s.m + 4 * opt->lo, 4 * (opt->hi - opt->lo));
    memcpy(opt->v, s.v + 4 * opt->lo, 4 * (opt->hi - opt->lo));
    memcpy(perm, s.perm, 8 * (size_t)n_rows);
    opt->step = s.adam_step;
    *step = s.global_step;
    *tokens = s.tokens;
    *perm_epoch = s.perm_epoch;
    if (win) *win = s.win;
  }
  l1k_mmap_close(&mp);
  free(p);
  if (!rc) {
    char *lp = l1k_path_join(dir, "trainer_log.jsonl");
    size_t len = 0;
    char *txt = lp ? l1k_read_file(lp, &len, err) : NULL;
    free(lp);
    if (!txt) return err && err->code ? err->code : L1K_EIO;
    log->len = 0;
    l1k_buf_append(log, txt, len);
    free(txt);
  }
  return rc;
}
