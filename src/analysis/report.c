/* long1k — the HTML report (see include/long1k/report.h and docs/report.md).
 *
 * Sections, in order: runs (what was found where, and what is missing), the length law,
 * datasets (synth stats), training (trainer_log.jsonl), evaluation (summary.json and
 * results.jsonl), notes (files or lines that could not be used).
 */
#include "long1k/report.h"

#include <dirent.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "long1k/fit.h"
#include "long1k/io.h"
#include "long1k/log.h"
#include "long1k/plot.h"

#ifndef LONG1K_VERSION
#define LONG1K_VERSION "0.0.0"
#endif

#define MAX_DEPTH 4

/* ---- data --------------------------------------------------------------------------------- */

typedef struct {
  char **v;
  size_t n;
} strlist;

typedef struct {
  char *path;
  cJSON *j;
} jdoc;

typedef struct {
  char *path;
  double *step, *loss, *lr, *gnorm, *tps, *elapsed, *tokens, *epoch;
  size_t n, cap;
  double *estep, *eloss; /* validation records: {"step", "eval_loss"} */
  size_t ne, ecap;
  long bad_lines, other_records;
  int checkpoints;
} trainlog;

typedef struct {
  double pi, si; /* key */
  long seq;
  double tokens; /* NAN: no usage */
  int correct;   /* -1 ungraded */
  int trunc;
} sample;

typedef struct {
  char *dir, *bench;
  cJSON *summary; /* NULL if missing or unreadable */
  int have_results;
  sample *s;
  size_t ns;
  long res_bad, res_dups;
} evalrun;

typedef struct {
  char *path, *name;
  double train_len;
  char len_src[320];
  cJSON *meta;
  char *meta_path;
  jdoc *stats;
  size_t nstats;
  trainlog *train;
  size_t ntrain;
  evalrun *evals;
  size_t nevals;
  jdoc *fits;
  size_t nfits;
} run;

typedef struct {
  const l1k_report_opts *o;
  run *runs;
  size_t nruns;
  jdoc *xfits; /* from opts.fit_files */
  size_t nxfits;
  strlist warnings;
  l1k_report_info info;
  l1k_err *err;
  int failed; /* strict mode hit a warning, or out of memory */
  size_t svg_count;
  const char *figtag; /* prefixes --svg-dir file names (the run of a dataset figure) */
  l1k_buf *b;
} ctx;

static void *grow(void *p, size_t *cap, size_t need, size_t elem) {
  if (need <= *cap) return p;
  size_t nc = *cap ? *cap * 2 : 8;
  while (nc < need) nc *= 2;
  void *q = realloc(p, nc * elem);
  if (q) *cap = nc;
  return q;
}

static void oom(ctx *c) {
  if (!c->failed) l1k_errf(c->err, L1K_ENOMEM, "out of memory while building the report");
  c->failed = 1;
}

static void warn(ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void warn(ctx *c, const char *fmt, ...) {
  char msg[1200];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  l1k_warn("report: %s", msg);
  c->info.warnings++;
  char **q = realloc(c->warnings.v, (c->warnings.n + 1) * sizeof *q);
  if (!q || !(q[c->warnings.n] = strdup(msg))) {
    if (q) c->warnings.v = q;
    oom(c);
    return;
  }
  c->warnings.v = q;
  c->warnings.n++;
  if (c->o->strict && !c->failed) {
    l1k_errf(c->err, L1K_EINPUT, "%s (--strict)", msg);
    c->failed = 1;
  }
}

static const char *base_name(const char *p) {
  const char *s = strrchr(p, '/');
  return s ? s + 1 : p;
}

static int ends_with(const char *s, const char *suf) {
  size_t a = strlen(s), b = strlen(suf);
  return a >= b && !strcmp(s + a - b, suf);
}

static const cJSON *jget(const cJSON *o, const char *k) { return cJSON_IsObject(o) ? cJSON_GetObjectItemCaseSensitive(o, k) : NULL; }

static double jnum(const cJSON *o, const char *k) {
  const cJSON *v = jget(o, k);
  return cJSON_IsNumber(v) && isfinite(v->valuedouble) ? v->valuedouble : NAN;
}

static const char *jstr(const cJSON *o, const char *k) {
  const cJSON *v = jget(o, k);
  return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* Dotted path; numeric parts index arrays. */
static const cJSON *jpath(const cJSON *o, const char *path) {
  char buf[256];
  snprintf(buf, sizeof buf, "%s", path);
  const cJSON *cur = o;
  for (char *tok = strtok(buf, "."); tok && cur; tok = strtok(NULL, ".")) {
    if (cJSON_IsArray(cur)) {
      char *end;
      long i = strtol(tok, &end, 10);
      cur = (*end || i < 0) ? NULL : cJSON_GetArrayItem(cur, (int)i);
    } else {
      cur = jget(cur, tok);
    }
  }
  return cur;
}

static cJSON *read_json(ctx *c, const char *path) {
  l1k_err e = {0};
  size_t len;
  char *text = l1k_read_file(path, &len, &e);
  if (!text) {
    warn(c, "%s", e.msg);
    return NULL;
  }
  const char *end = NULL;
  cJSON *j = cJSON_ParseWithLengthOpts(text, len, &end, 0);
  if (!j) {
    long line = 1, col = 1;
    for (const char *p = text; end && p < end && *p; p++) {
      if (*p == '\n') line++, col = 1;
      else col++;
    }
    warn(c, "%s:%ld: invalid JSON near column %ld (file left out)", path, line, col);
  }
  free(text);
  return j;
}

/* ---- loading ------------------------------------------------------------------------------ */

static int load_trainlog(ctx *c, run *r, const char *path, const char *dir) {
  trainlog *q = realloc(r->train, (r->ntrain + 1) * sizeof *q);
  if (!q) return oom(c), -1;
  r->train = q;
  trainlog *t = &q[r->ntrain];
  memset(t, 0, sizeof *t);
  r->ntrain++;
  if (!(t->path = strdup(path))) return oom(c), -1;
  l1k_err e = {0};
  l1k_jsonl *rd = l1k_jsonl_open(path, &e);
  if (!rd) {
    warn(c, "%s", e.msg);
    return 0;
  }
  cJSON *rec;
  int st;
  size_t idx = 0;
  while ((st = l1k_jsonl_next(rd, &rec, &e)) != 0) {
    if (st < 0) {
      if (strstr(e.msg, "invalid JSON")) {
        t->bad_lines++;
        continue;
      }
      warn(c, "%s", e.msg);
      break;
    }
    idx++;
    double loss = jnum(rec, "loss"), lr = jnum(rec, "lr"), el = jnum(rec, "eval_loss");
    if (isfinite(el)) {
      double st = jnum(rec, "step");
      double *a = grow(t->estep, &t->ecap, t->ne + 1, sizeof *a);
      if (a) t->estep = a;
      double *b = a ? realloc(t->eloss, t->ecap * sizeof *b) : NULL;
      if (b) t->eloss = b;
      if (!a || !b) {
        cJSON_Delete(rec);
        l1k_jsonl_close(rd);
        return oom(c), -1;
      }
      t->estep[t->ne] = isnan(st) ? (double)idx : st;
      t->eloss[t->ne++] = el;
    }
    if (!cJSON_IsObject(rec) || (isnan(loss) && isnan(lr))) {
      t->other_records++;
      cJSON_Delete(rec);
      continue;
    }
    size_t cap = t->cap;
    double **arrs[] = {&t->step, &t->loss, &t->lr, &t->gnorm, &t->tps, &t->elapsed, &t->tokens, &t->epoch};
    if (t->n + 1 > cap) {
      size_t nc = cap ? cap * 2 : 256;
      for (size_t k = 0; k < sizeof arrs / sizeof *arrs; k++) {
        double *p = realloc(*arrs[k], nc * sizeof(double));
        if (!p) {
          cJSON_Delete(rec);
          l1k_jsonl_close(rd);
          return oom(c), -1;
        }
        *arrs[k] = p;
      }
      t->cap = nc;
    }
    double step = jnum(rec, "step");
    t->step[t->n] = isnan(step) ? (double)idx : step;
    t->loss[t->n] = loss;
    t->lr[t->n] = lr;
    t->gnorm[t->n] = jnum(rec, "grad_norm");
    t->tps[t->n] = jnum(rec, "tokens_per_s");
    t->elapsed[t->n] = jnum(rec, "elapsed");
    t->tokens[t->n] = jnum(rec, "tokens");
    t->epoch[t->n] = jnum(rec, "epoch");
    t->n++;
    cJSON_Delete(rec);
  }
  l1k_jsonl_close(rd);
  if (t->bad_lines) warn(c, "%s: %ld line%s of invalid JSON skipped", path, t->bad_lines, t->bad_lines == 1 ? "" : "s");
  /* checkpoints beside the log */
  DIR *d = opendir(dir);
  if (d) {
    struct dirent *de;
    while ((de = readdir(d)))
      if (!strncmp(de->d_name, "checkpoint-", 11)) t->checkpoints++;
    closedir(d);
  }
  return 0;
}

static int cmp_sample(const void *a, const void *b) {
  const sample *x = a, *y = b;
  if (x->pi != y->pi) return x->pi < y->pi ? -1 : 1;
  if (x->si != y->si) return x->si < y->si ? -1 : 1;
  return (x->seq > y->seq) - (x->seq < y->seq);
}

static int load_eval(ctx *c, run *r, const char *dir) {
  evalrun *q = realloc(r->evals, (r->nevals + 1) * sizeof *q);
  if (!q) return oom(c), -1;
  r->evals = q;
  evalrun *ev = &q[r->nevals];
  memset(ev, 0, sizeof *ev);
  r->nevals++;
  if (!(ev->dir = strdup(dir))) return oom(c), -1;
  char *sp = l1k_path_join(dir, "summary.json"), *rp = l1k_path_join(dir, "results.jsonl");
  if (!sp || !rp) {
    free(sp);
    free(rp);
    return oom(c), -1;
  }
  if (l1k_file_exists(sp)) {
    ev->summary = read_json(c, sp);
    if (ev->summary && !cJSON_IsObject(ev->summary)) {
      warn(c, "%s: expected a JSON object (file left out)", sp);
      cJSON_Delete(ev->summary);
      ev->summary = NULL;
    }
  }
  const char *bench = jstr(ev->summary, "data");
  if (!bench) bench = jstr(ev->summary, "benchmark");
  char name[256];
  snprintf(name, sizeof name, "%s", bench ? base_name(bench) : base_name(dir));
  if (ends_with(name, ".jsonl")) name[strlen(name) - 6] = 0;
  if (!(ev->bench = strdup(name[0] ? name : "eval"))) {
    free(sp);
    free(rp);
    return oom(c), -1;
  }
  if (l1k_file_exists(rp)) {
    l1k_err e = {0};
    l1k_jsonl *rd = l1k_jsonl_open(rp, &e);
    if (!rd) warn(c, "%s", e.msg);
    else {
      ev->have_results = 1;
      size_t cap = 0;
      cJSON *rec;
      int st;
      long seq = 0;
      while ((st = l1k_jsonl_next(rd, &rec, &e)) != 0) {
        if (st < 0) {
          if (strstr(e.msg, "invalid JSON")) {
            ev->res_bad++;
            continue;
          }
          warn(c, "%s", e.msg);
          break;
        }
        if (!cJSON_IsObject(rec)) {
          ev->res_bad++;
          cJSON_Delete(rec);
          continue;
        }
        sample *ns = grow(ev->s, &cap, ev->ns + 1, sizeof *ns);
        if (!ns) {
          cJSON_Delete(rec);
          l1k_jsonl_close(rd);
          free(sp);
          free(rp);
          return oom(c), -1;
        }
        ev->s = ns;
        sample *s = &ns[ev->ns++];
        double pi = jnum(rec, "problem_index"), si = jnum(rec, "sample_index");
        s->pi = isnan(pi) ? (double)seq : pi;
        s->si = isnan(si) ? 0 : si;
        s->seq = seq++;
        double tk = jnum(rec, "tokens");
        s->tokens = tk >= 0 ? tk : NAN;
        const cJSON *cv = jget(rec, "correct");
        s->correct = cJSON_IsBool(cv) ? cJSON_IsTrue(cv) : cJSON_IsNumber(cv) ? (cv->valuedouble != 0) : -1;
        const char *fr = jstr(rec, "finish_reason");
        s->trunc = fr && !strcmp(fr, "length");
        cJSON_Delete(rec);
      }
      l1k_jsonl_close(rd);
      /* the same (problem, sample) twice: the last line wins */
      if (ev->ns) qsort(ev->s, ev->ns, sizeof *ev->s, cmp_sample);
      size_t w = 0;
      for (size_t i = 0; i < ev->ns; i++) {
        if (i + 1 < ev->ns && ev->s[i + 1].pi == ev->s[i].pi && ev->s[i + 1].si == ev->s[i].si) {
          ev->res_dups++;
          continue;
        }
        ev->s[w++] = ev->s[i];
      }
      ev->ns = w;
      if (ev->res_bad) warn(c, "%s: %ld line%s that are not JSON objects skipped", rp, ev->res_bad, ev->res_bad == 1 ? "" : "s");
    }
  }
  free(sp);
  free(rp);
  return 0;
}

static int add_doc(ctx *c, jdoc **arr, size_t *n, const char *path, cJSON *j) {
  jdoc *q = realloc(*arr, (*n + 1) * sizeof *q);
  if (!q) {
    cJSON_Delete(j);
    return oom(c), -1;
  }
  *arr = q;
  q[*n].j = j;
  if (!(q[*n].path = strdup(path))) {
    cJSON_Delete(j);
    return oom(c), -1;
  }
  (*n)++;
  return 0;
}

/* A `long1k fit` output: JSON lines (or one pretty-printed object / an array of them). */
static int load_fit(ctx *c, jdoc **arr, size_t *n, const char *path) {
  l1k_err e = {0};
  size_t len;
  char *text = l1k_read_file(path, &len, &e);
  if (!text) {
    warn(c, "%s", e.msg);
    return 0;
  }
  const char *p = text, *end = text + len;
  long line = 1;
  int found = 0;
  while (p < end) {
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')) line += *p++ == '\n';
    if (p >= end) break;
    const char *stop = NULL;
    cJSON *j = cJSON_ParseWithLengthOpts(p, (size_t)(end - p), &stop, 0);
    if (!j) {
      warn(c, "%s:%ld: invalid JSON (the rest of the file is left out)", path, line);
      break;
    }
    for (const char *q = p; q < stop; q++) line += *q == '\n';
    p = stop;
    cJSON *items = j;
    int is_arr = cJSON_IsArray(j);
    int cnt = is_arr ? cJSON_GetArraySize(j) : 1;
    for (int i = 0; i < cnt; i++) {
      cJSON *it = is_arr ? cJSON_GetArrayItem(items, i) : j;
      if (!cJSON_IsObject(it) || isnan(jnum(it, "a")) || isnan(jnum(it, "b"))) {
        warn(c, "%s:%ld: not a `long1k fit` result (needs numbers a and b; left out)", path, line);
        continue;
      }
      cJSON *dup = cJSON_Duplicate(it, 1);
      if (!dup || add_doc(c, arr, n, path, dup)) {
        cJSON_Delete(j);
        free(text);
        return oom(c), -1;
      }
      found++;
    }
    cJSON_Delete(j);
  }
  free(text);
  return 0;
}

static int is_fit_name(const char *n) {
  return !strcmp(n, "fit.json") || !strcmp(n, "fit.jsonl") || ends_with(n, ".fit.json") || ends_with(n, ".fit.jsonl");
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static int scan(ctx *c, run *r, const char *dir, int depth) {
  DIR *d = opendir(dir);
  if (!d) {
    warn(c, "%s: cannot list the directory", dir);
    return 0;
  }
  char **names = NULL;
  size_t nn = 0, cap = 0;
  struct dirent *de;
  while ((de = readdir(d))) {
    if (de->d_name[0] == '.') continue;
    char **q = grow(names, &cap, nn + 1, sizeof *q);
    if (!q || !(q[nn] = strdup(de->d_name))) {
      if (q) names = q;
      closedir(d);
      for (size_t i = 0; i < nn; i++) free(names[i]);
      free(names);
      return oom(c), -1;
    }
    names = q;
    nn++;
  }
  closedir(d);
  if (nn) qsort(names, nn, sizeof *names, cmp_str);
  int rc = 0, has_summary = 0, has_results = 0;
  for (size_t i = 0; i < nn && !rc && !c->failed; i++) {
    const char *nm = names[i];
    char *full = l1k_path_join(dir, nm);
    if (!full) {
      rc = -1;
      oom(c);
      break;
    }
    struct stat lst, st;
    if (lstat(full, &lst) || stat(full, &st)) {
      free(full);
      continue; /* dangling link */
    }
    if (S_ISDIR(st.st_mode)) {
      if (!S_ISLNK(lst.st_mode) && strncmp(nm, "checkpoint-", 11) && depth < MAX_DEPTH) rc = scan(c, r, full, depth + 1);
    } else if (S_ISREG(st.st_mode)) {
      if (!strcmp(nm, "long1k.json") && !r->meta) {
        r->meta = read_json(c, full);
        if (r->meta && !cJSON_IsObject(r->meta)) {
          warn(c, "%s: expected a JSON object (left out)", full);
          cJSON_Delete(r->meta);
          r->meta = NULL;
        }
        if (r->meta && !(r->meta_path = strdup(full))) rc = -1, oom(c);
      } else if (!strcmp(nm, "trainer_log.jsonl")) {
        rc = load_trainlog(c, r, full, dir);
        c->info.train_logs++;
      } else if (!strcmp(nm, "summary.json")) {
        has_summary = 1;
      } else if (!strcmp(nm, "results.jsonl")) {
        has_results = 1;
      } else if (ends_with(nm, ".stats.json") || !strcmp(nm, "stats.json")) {
        cJSON *j = read_json(c, full);
        if (j && !cJSON_IsObject(j)) {
          warn(c, "%s: expected a JSON object (left out)", full);
          cJSON_Delete(j);
          j = NULL;
        }
        if (j) {
          rc = add_doc(c, &r->stats, &r->nstats, full, j);
          c->info.stats_files++;
        }
      } else if (is_fit_name(nm)) {
        size_t before = r->nfits;
        rc = load_fit(c, &r->fits, &r->nfits, full);
        c->info.fits += r->nfits - before;
      }
    }
    free(full);
  }
  if (!rc && !c->failed && (has_summary || has_results)) {
    rc = load_eval(c, r, dir);
    c->info.evals++;
  }
  for (size_t i = 0; i < nn; i++) free(names[i]);
  free(names);
  return rc;
}

/* The run's training length: long1k.json, else the synth stats. */
static void find_train_len(run *r) {
  r->train_len = NAN;
  static const char *meta_keys[] = {"train_length", "train_length_tokens", "training_length"};
  for (size_t k = 0; k < sizeof meta_keys / sizeof *meta_keys; k++) {
    double v = jnum(r->meta, meta_keys[k]);
    if (v > 0) {
      r->train_len = v;
      snprintf(r->len_src, sizeof r->len_src, "%s: %s", r->meta_path, meta_keys[k]);
      return;
    }
  }
  /* long1k synth: "sets" [{name, measured: reasoning_tokens|response_tokens, mean_..._tokens}];
   * one set (or the one named "all") gives the length; several bins are ambiguous. */
  for (size_t i = 0; i < r->nstats; i++) {
    const cJSON *sets = jget(r->stats[i].j, "sets");
    if (!cJSON_IsArray(sets)) continue;
    const cJSON *pick = cJSON_GetArraySize(sets) == 1 ? sets->child : NULL;
    int idx = 0, pi = 0;
    for (const cJSON *st = sets->child; st && !pick; st = st->next, idx++) {
      const char *nm = jstr(st, "name");
      if (nm && !strcmp(nm, "all")) pick = st, pi = idx;
    }
    if (!pick) continue;
    const char *meas = jstr(pick, "measured");
    const char *key = meas && !strcmp(meas, "response_tokens") ? "mean_response_tokens" : "mean_reasoning_tokens";
    double v = jnum(pick, key);
    if (v > 0) {
      r->train_len = v;
      snprintf(r->len_src, sizeof r->len_src, "%s: sets[%d].%s", r->stats[i].path, pi, key);
      return;
    }
  }
  static const char *stats_keys[] = {"train_length", "mean_tokens", "tokens.mean", "length.mean"};
  for (size_t i = 0; i < r->nstats; i++)
    for (size_t k = 0; k < sizeof stats_keys / sizeof *stats_keys; k++) {
      const cJSON *v = jpath(r->stats[i].j, stats_keys[k]);
      if (cJSON_IsNumber(v) && v->valuedouble > 0 && isfinite(v->valuedouble)) {
        r->train_len = v->valuedouble;
        snprintf(r->len_src, sizeof r->len_src, "%s: %s", r->stats[i].path, stats_keys[k]);
        return;
      }
    }
}

static void free_run(run *r) {
  free(r->path);
  free(r->name);
  free(r->meta_path);
  cJSON_Delete(r->meta);
  for (size_t i = 0; i < r->nstats; i++) {
    free(r->stats[i].path);
    cJSON_Delete(r->stats[i].j);
  }
  free(r->stats);
  for (size_t i = 0; i < r->ntrain; i++) {
    trainlog *t = &r->train[i];
    free(t->path);
    free(t->step);
    free(t->loss);
    free(t->lr);
    free(t->gnorm);
    free(t->tps);
    free(t->elapsed);
    free(t->tokens);
    free(t->epoch);
    free(t->estep);
    free(t->eloss);
  }
  free(r->train);
  for (size_t i = 0; i < r->nevals; i++) {
    free(r->evals[i].dir);
    free(r->evals[i].bench);
    cJSON_Delete(r->evals[i].summary);
    free(r->evals[i].s);
  }
  free(r->evals);
  for (size_t i = 0; i < r->nfits; i++) {
    free(r->fits[i].path);
    cJSON_Delete(r->fits[i].j);
  }
  free(r->fits);
}

/* ---- HTML helpers ------------------------------------------------------------------------- */

#define P(...) l1k_buf_printf(c->b, __VA_ARGS__)
#define S(s) l1k_buf_puts(c->b, s)
#define E(s) l1k_xml_escape(c->b, s)

static void missing(ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void missing(ctx *c, const char *fmt, ...) {
  char msg[1200];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  S("<p class=\"missing\"><strong>Missing:</strong> ");
  E(msg);
  S("</p>\n");
  c->info.missing++;
}

/* A plot into the page, and with opts.svg_dir also into DIR/NNN-name.svg. Nonzero on failure
 * (the error is set). */
static int emit(ctx *c, const l1k_plot *p, const char *name) {
  if (l1k_plot_svg(p, c->b)) {
    oom(c);
    return -1;
  }
  if (!c->o->svg_dir) return 0;
  char slug[120], full[600];
  snprintf(full, sizeof full, "%s%s%s", c->figtag ? c->figtag : "", c->figtag ? " " : "", name);
  size_t k = 0;
  for (const char *q = full; *q && k + 1 < sizeof slug; q++) {
    unsigned char ch = (unsigned char)*q;
    if ((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '.' || ch == '_') slug[k++] = (char)ch;
    else if (ch >= 'A' && ch <= 'Z') slug[k++] = (char)(ch - 'A' + 'a');
    else if (k && slug[k - 1] != '-') slug[k++] = '-';
  }
  while (k && slug[k - 1] == '-') k--;
  slug[k] = 0;
  char file[1200];
  snprintf(file, sizeof file, "%s/%03zu-%s.svg", c->o->svg_dir, ++c->svg_count, slug[0] ? slug : "plot");
  l1k_err e = {0};
  if (l1k_plot_write_svg(p, file, &e)) {
    if (!c->failed) {
      *c->err = e;
      c->failed = 1;
    }
    return -1;
  }
  return 0;
}

static void num_cell(ctx *c, double v, const char *fmt) {
  if (!isfinite(v)) {
    S("<td class=\"na\">&ndash;</td>");
    return;
  }
  char t[64];
  snprintf(t, sizeof t, fmt, v);
  P("<td>%s</td>", t);
}

/* "v [lo, hi]" with a dash for anything not finite (no interval without a bootstrap). */
static void ci_cell(ctx *c, double v, const double ci[2], const char *fmt) {
  if (!isfinite(v)) {
    S("<td class=\"na\">&ndash;</td>");
    return;
  }
  char t[64], a[64], b[64];
  snprintf(t, sizeof t, fmt, v);
  if (!isfinite(ci[0]) || !isfinite(ci[1])) {
    P("<td>%s</td>", t);
    return;
  }
  snprintf(a, sizeof a, fmt, ci[0]);
  snprintf(b, sizeof b, fmt, ci[1]);
  P("<td>%s <span class=\"ci\">[%s, %s]</span></td>", t, a, b);
}

static void fmt_count(char *t, size_t n, double v) {
  if (!isfinite(v)) snprintf(t, n, "–");
  else if (fabs(v) >= 1e9) snprintf(t, n, "%.2fG", v / 1e9);
  else if (fabs(v) >= 1e6) snprintf(t, n, "%.2fM", v / 1e6);
  else if (fabs(v) >= 1e4) snprintf(t, n, "%.1fk", v / 1e3);
  else if (fabs(v) >= 100) snprintf(t, n, "%.0f", v);
  else snprintf(t, n, "%.3g", v);
}

static void fmt_duration(char *t, size_t n, double s) {
  if (!isfinite(s)) snprintf(t, n, "–");
  else if (s >= 3600) snprintf(t, n, "%.0fh %02.0fm", floor(s / 3600), fmod(floor(s / 60), 60));
  else if (s >= 60) snprintf(t, n, "%.0fm %02.0fs", floor(s / 60), fmod(floor(s), 60));
  else snprintf(t, n, "%.1fs", s);
}

/* A JSON scalar as text (strings escaped by the caller). */
static void scalar_text(char *t, size_t n, const cJSON *v) {
  if (cJSON_IsNumber(v)) {
    double d = v->valuedouble;
    if (d == floor(d) && fabs(d) < 1e15) snprintf(t, n, "%.0f", d);
    else snprintf(t, n, "%.6g", d);
  } else if (cJSON_IsBool(v)) snprintf(t, n, "%s", cJSON_IsTrue(v) ? "true" : "false");
  else if (cJSON_IsNull(v)) snprintf(t, n, "null");
  else if (cJSON_IsString(v)) snprintf(t, n, "%s", v->valuestring);
  else snprintf(t, n, "?");
}

/* ---- generic JSON: key/value rows and histograms --------------------------------------------- */

typedef struct {
  ctx *c;
  int rows, max_rows, hidden;
} kv_state;

/* An array of (up to 50) objects as a table: one row per object, one column per scalar field
 * (nested values are summarised). Returns 0 when the array is not of that shape. */
static int subtable(ctx *c, const cJSON *arr) {
  int n = cJSON_GetArraySize(arr);
  if (n < 1 || n > 50) return 0;
  const char *cols[24];
  int nc = 0;
  for (const cJSON *o = arr->child; o; o = o->next) {
    if (!cJSON_IsObject(o)) return 0;
    for (const cJSON *f = o->child; f; f = f->next) {
      int seen = 0;
      for (int q = 0; q < nc && !seen; q++) seen = !strcmp(cols[q], f->string);
      if (!seen && nc < 24) cols[nc++] = f->string;
    }
  }
  S("<table class=\"grid sub\"><thead><tr>");
  for (int q = 0; q < nc; q++) {
    S("<th>");
    E(cols[q]);
    S("</th>");
  }
  S("</tr></thead><tbody>\n");
  for (const cJSON *o = arr->child; o; o = o->next) {
    S("<tr>");
    for (int q = 0; q < nc; q++) {
      const cJSON *v = jget(o, cols[q]);
      char t[512];
      if (!v) t[0] = 0;
      else if (cJSON_IsArray(v)) snprintf(t, sizeof t, "[%d]", cJSON_GetArraySize(v));
      else if (cJSON_IsObject(v)) snprintf(t, sizeof t, "{%d}", cJSON_GetArraySize(v));
      else scalar_text(t, sizeof t, v);
      S("<td>");
      E(t);
      S("</td>");
    }
    S("</tr>\n");
  }
  S("</tbody></table>");
  return 1;
}

static void kv_rows(kv_state *k, const cJSON *o, const char *prefix, int depth) {
  ctx *c = k->c;
  for (const cJSON *it = o->child; it; it = it->next) {
    char key[512];
    snprintf(key, sizeof key, "%s%s%s", prefix, prefix[0] ? "." : "", it->string ? it->string : "?");
    if (cJSON_IsObject(it)) {
      if (depth < 3) kv_rows(k, it, key, depth + 1);
      else if (k->rows++ < k->max_rows) {
        S("<tr><th>");
        E(key);
        P("</th><td>{object with %d fields}</td></tr>\n", cJSON_GetArraySize(it));
      } else k->hidden++;
      continue;
    }
    if (k->rows++ >= k->max_rows) {
      k->hidden++;
      continue;
    }
    S("<tr><th>");
    E(key);
    S("</th><td>");
    if (cJSON_IsArray(it) && subtable(c, it)) {
      /* done */
    } else if (cJSON_IsArray(it)) {
      int n = cJSON_GetArraySize(it), scal = 1;
      for (const cJSON *e = it->child; e; e = e->next) scal &= !(cJSON_IsArray(e) || cJSON_IsObject(e));
      if (scal && n <= 12) {
        S("[");
        int first = 1;
        for (const cJSON *e = it->child; e; e = e->next) {
          char t[256];
          scalar_text(t, sizeof t, e);
          if (!first) S(", ");
          first = 0;
          E(t);
        }
        S("]");
      } else {
        P("[%d %s]", n, scal ? "values" : "items");
      }
    } else {
      char t[1024];
      scalar_text(t, sizeof t, it);
      E(t);
    }
    S("</td></tr>\n");
  }
}

static void kv_table(ctx *c, const cJSON *o, int max_rows) {
  kv_state k = {c, 0, max_rows, 0};
  S("<div class=\"scroll\"><table class=\"kv\">\n");
  kv_rows(&k, o, "", 0);
  S("</table></div>\n");
  if (k.hidden) P("<p class=\"small\">%d more fields not shown (see the file).</p>\n", k.hidden);
}

/* Histogram shapes understood (anywhere in a stats object, at most 3 levels deep):
 *   {"edges": [n+1 numbers], "counts": [n numbers]}                    (also bin_edges / hist)
 *   [{"lo": a, "hi": b, "count": n}, ...]  contiguous bins, under a key containing "hist" or
 *                                          "bins" (also min/max, from/to inclusive, n)
 *   {"1000": n, "2000": m, ...} under a key containing "hist"        (keys: bin lower edges) */
static int hist_of(const cJSON *v, const char *key, double **edges, double **counts, size_t *n) {
  *edges = *counts = NULL;
  *n = 0;
  if (cJSON_IsObject(v)) {
    const cJSON *e = jget(v, "edges"), *k = jget(v, "counts");
    if (!e) e = jget(v, "bin_edges");
    if (!k) k = jget(v, "hist");
    if (cJSON_IsArray(e) && cJSON_IsArray(k)) {
      int ne = cJSON_GetArraySize(e), nk = cJSON_GetArraySize(k);
      if (nk < 1 || ne != nk + 1) return 0;
      *edges = malloc((size_t)ne * sizeof(double));
      *counts = malloc((size_t)nk * sizeof(double));
      if (!*edges || !*counts) goto fail;
      int i = 0;
      for (const cJSON *x = e->child; x; x = x->next, i++) {
        if (!cJSON_IsNumber(x)) goto fail;
        (*edges)[i] = x->valuedouble;
      }
      i = 0;
      for (const cJSON *x = k->child; x; x = x->next, i++) {
        if (!cJSON_IsNumber(x)) goto fail;
        (*counts)[i] = x->valuedouble;
      }
      *n = (size_t)nk;
      return 1;
    }
    if (key && strstr(key, "hist")) {
      int m = cJSON_GetArraySize(v);
      if (m < 1) return 0;
      *edges = malloc((size_t)(m + 1) * sizeof(double));
      *counts = malloc((size_t)m * sizeof(double));
      if (!*edges || !*counts) goto fail;
      int i = 0;
      for (const cJSON *x = v->child; x; x = x->next, i++) {
        char *end;
        double lo = strtod(x->string, &end);
        if (*end || !cJSON_IsNumber(x) || (i > 0 && !(lo > (*edges)[i - 1]))) goto fail;
        (*edges)[i] = lo;
        (*counts)[i] = x->valuedouble;
      }
      (*edges)[m] = (*edges)[m - 1] + (m > 1 ? (*edges)[m - 1] - (*edges)[m - 2] : 1); /* last bin as wide as the one before */
      *n = (size_t)m;
      return 1;
    }
    return 0;
  }
  if (cJSON_IsArray(v) && key && (strstr(key, "hist") || strstr(key, "bins"))) {
    int m = cJSON_GetArraySize(v);
    if (m < 1) return 0;
    *edges = malloc((size_t)(m + 1) * sizeof(double));
    *counts = malloc((size_t)m * sizeof(double));
    if (!*edges || !*counts) goto fail;
    int i = 0, mode = -1;
    for (const cJSON *x = v->child; x; x = x->next, i++) {
      static const char *los[] = {"lo", "min", "from", "low"}, *his[] = {"hi", "max", "to", "high"},
                        *cns[] = {"count", "n", "samples"};
      double lo = NAN, hi = NAN, cn = NAN;
      for (int q = 0; q < 4 && isnan(lo); q++) lo = jnum(x, los[q]);
      for (int q = 0; q < 4 && isnan(hi); q++) hi = jnum(x, his[q]);
      for (int q = 0; q < 3 && isnan(cn); q++) cn = jnum(x, cns[q]);
      if (isnan(lo) || isnan(hi) || isnan(cn) || !(hi >= lo)) goto fail;
      if (i > 0) {
        double prev_hi = (*edges)[i];
        int md;
        if (fabs(prev_hi - lo) <= 1e-9 * (fabs(lo) + 1)) md = 0;
        else if (fabs(prev_hi + 1 - lo) <= 1e-9 * (fabs(lo) + 1) && lo == floor(lo)) md = 1;
        else goto fail; /* not contiguous */
        if (mode >= 0 && md != mode) goto fail;
        mode = md;
      }
      (*edges)[i] = lo;
      (*edges)[i + 1] = hi;
      (*counts)[i] = cn;
    }
    /* integer bins "from".."to" inclusive: the upper edge is to + 1 */
    if (mode == 1 || (m == 1 && (*edges)[1] == (*edges)[0])) (*edges)[m] += 1;
    *n = (size_t)m;
    return 1;
  }
  return 0;
fail:
  free(*edges);
  free(*counts);
  *edges = *counts = NULL;
  return 0;
}

static void hist_figs(ctx *c, const cJSON *o, const char *prefix, int depth, int *nfig) {
  for (const cJSON *it = o->child; it; it = it->next) {
    char key[512];
    snprintf(key, sizeof key, "%s%s%s", prefix, prefix[0] ? "." : "", it->string ? it->string : "?");
    double *e, *k;
    size_t n;
    if (hist_of(it, it->string, &e, &k, &n)) {
      /* leave out empty bins at both ends (said under the plot) */
      size_t lo = 0, hi = n, total = 0;
      while (lo < hi && k[lo] == 0) lo++;
      while (hi > lo && k[hi - 1] == 0) hi--;
      for (size_t q = 0; q < n; q++) total += k[q] > 0;
      if (hi == lo) lo = 0, hi = n;
      char note[200] = "";
      if (lo > 0 || hi < n)
        snprintf(note, sizeof note, "%zu empty bin%s at the ends not drawn", lo + (n - hi), lo + (n - hi) == 1 ? "" : "s");
      double *ee = e + lo, *kk = k + lo;
      size_t m = hi - lo;
      double save = ee[0];
      int logx = 0;
      if (ee[m] > 0 && ee[0] >= 0 && m >= 3) {
        double first = ee[0] > 0 ? ee[0] : ee[1] / 2;
        logx = ee[1] > 0 && ee[m] / first >= 16;
        if (logx && ee[0] == 0) {
          ee[0] = first;
          snprintf(note + strlen(note), sizeof note - strlen(note), "%sthe first bin starts at 0 (drawn from %g on the log axis)",
                   note[0] ? "; " : "", first);
        }
      }
      const char *nm = it->string ? it->string : "";
      int tokens = strstr(nm, "len") || strstr(nm, "tok");
      int kh = !strncmp(nm, "k_hist", 6);
      l1k_plot *p = l1k_plot_new(key, tokens ? "tokens" : kh ? "problems per sample (k)" : nm, "samples");
      if (!p) {
        free(e);
        free(k);
        oom(c);
        return;
      }
      l1k_plot_size(p, 560, 320);
      l1k_plot_log_x(p, logx);
      if ((note[0] && l1k_plot_note(p, note)) || l1k_plot_bars(p, NULL, ee, kk, m, NULL) || emit(c, p, key)) oom(c);
      ee[0] = save;
      (void)total;
      l1k_plot_free(p);
      free(e);
      free(k);
      (*nfig)++;
      continue;
    }
    if (cJSON_IsObject(it) && depth < 3) hist_figs(c, it, key, depth + 1, nfig);
    if (cJSON_IsArray(it) && depth < 3) {
      int i = 0;
      for (const cJSON *e2 = it->child; e2 && i < 64; e2 = e2->next, i++) {
        if (!cJSON_IsObject(e2)) continue;
        char k2[600];
        const char *nm = jstr(e2, "name");
        if (nm) snprintf(k2, sizeof k2, "%s[%s]", key, nm);
        else snprintf(k2, sizeof k2, "%s[%d]", key, i);
        hist_figs(c, e2, k2, depth + 1, nfig);
      }
    }
  }
}

/* ---- sections ----------------------------------------------------------------------------- */

static double summary_pass1(const cJSON *s, double *se) {
  double p = jnum(s, "pass@1");
  if (isnan(p)) p = jnum(jget(s, "pass@k"), "1");
  if (isnan(p)) p = jnum(s, "accuracy");
  *se = jnum(s, "pass@1_se");
  return p;
}

/* Percent when the value is a fraction (the eval summary uses fractions). */
static double as_pct(double v) { return isfinite(v) && fabs(v) <= 1.0 ? 100 * v : v; }

static void section_runs(ctx *c) {
  S("<section id=\"runs\"><h2>Runs</h2>\n<table class=\"grid\"><thead><tr><th>run</th><th class=\"t\">directory</th><th>training length</th>"
    "<th>dataset stats</th><th>training log</th><th class=\"t\">evaluations</th><th>fits</th></tr></thead><tbody>\n");
  for (size_t i = 0; i < c->nruns; i++) {
    run *r = &c->runs[i];
    S("<tr><td>");
    E(r->name);
    S("</td><td class=\"t\"><code>");
    E(r->path);
    S("</code></td>");
    if (isfinite(r->train_len)) {
      P("<td title=\"");
      E(r->len_src);
      P("\">%.0f tokens</td>", r->train_len);
    } else {
      S("<td class=\"na\">not declared</td>");
    }
    P("<td>%s</td>", r->nstats ? "yes" : "<span class=\"na\">none</span>");
    if (r->ntrain) {
      size_t recs = 0;
      for (size_t k = 0; k < r->ntrain; k++) recs += r->train[k].n;
      P("<td>%zu record%s</td>", recs, recs == 1 ? "" : "s");
    } else S("<td class=\"na\">none</td>");
    if (r->nevals) {
      S("<td class=\"t\">");
      for (size_t k = 0; k < r->nevals; k++) {
        if (k) S(", ");
        E(r->evals[k].bench);
      }
      S("</td>");
    } else S("<td class=\"na\">none</td>");
    P("<td>%s</td></tr>\n", r->nfits ? "yes" : "<span class=\"na\">none</span>");
  }
  S("</tbody></table>\n");
  for (size_t i = 0; i < c->nruns; i++) {
    run *r = &c->runs[i];
    if (!r->nstats && !r->ntrain && !r->nevals && !r->nfits && !r->meta)
      missing(c, "%s: nothing long1k writes was found in this directory (no *.stats.json, trainer_log.jsonl, summary.json, fit output or long1k.json).",
              r->path);
  }
  S("</section>\n");
}

typedef struct {
  char *name;
  double *x, *y, *n;
  size_t cnt;
  char **runs;
} bench_pts;

static void section_law(ctx *c) {
  S("<section id=\"law\"><h2>Length scaling law</h2>\n"
    "<p>The Long1K finding: accuracy grows linearly in the logarithm of the length of the training reasoning, "
    "<em>y = a + b&#183;ln x</em>. Fitted by least squares weighted by the binomial variance of each point "
    "(n = the benchmark's problems), with 95% bootstrap intervals; compared with a power law and a saturating form by AIC.</p>\n");
  /* gather pass@1 by benchmark over runs with a training length */
  bench_pts *bp = NULL;
  size_t nb = 0;
  size_t no_len_evals = 0;
  for (size_t i = 0; i < c->nruns && !c->failed; i++) {
    run *r = &c->runs[i];
    for (size_t k = 0; k < r->nevals; k++) {
      evalrun *ev = &r->evals[k];
      double se, p = summary_pass1(ev->summary, &se);
      if (isnan(p)) continue;
      if (isnan(r->train_len)) {
        no_len_evals++;
        continue;
      }
      size_t b = 0;
      while (b < nb && strcmp(bp[b].name, ev->bench)) b++;
      if (b == nb) {
        bench_pts *q = realloc(bp, (nb + 1) * sizeof *q);
        if (!q) {
          oom(c);
          break;
        }
        bp = q;
        memset(&bp[nb], 0, sizeof bp[nb]);
        if (!(bp[nb].name = strdup(ev->bench))) {
          oom(c);
          break;
        }
        nb++;
      }
      bench_pts *B = &bp[b];
      double *x = realloc(B->x, (B->cnt + 1) * sizeof *x);
      if (x) B->x = x;
      double *y = realloc(B->y, (B->cnt + 1) * sizeof *y);
      if (y) B->y = y;
      double *n = realloc(B->n, (B->cnt + 1) * sizeof *n);
      if (n) B->n = n;
      char **rn = realloc(B->runs, (B->cnt + 1) * sizeof *rn);
      if (rn) B->runs = rn;
      if (!x || !y || !n || !rn) {
        oom(c);
        break;
      }
      double np = jnum(ev->summary, "problems");
      if (!(np >= 1)) np = jnum(ev->summary, "samples");
      B->x[B->cnt] = r->train_len;
      B->y[B->cnt] = as_pct(p);
      B->n[B->cnt] = np >= 1 ? np : NAN;
      B->runs[B->cnt] = r->name;
      B->cnt++;
    }
  }
  int any = 0;
  if (nb) {
    S("<table class=\"grid\"><thead><tr><th>benchmark</th><th>runs</th><th>a</th><th>b</th><th>per doubling</th>"
      "<th>per decade</th><th>R&#178;</th><th>best form (AIC)</th></tr></thead><tbody>\n");
  }
  l1k_fit_result *fr = nb ? calloc(nb, sizeof *fr) : NULL;
  l1k_fit_data *fd = nb ? calloc(nb, sizeof *fd) : NULL;
  int *ok = nb ? calloc(nb, sizeof *ok) : NULL;
  if (nb && (!fr || !fd || !ok)) oom(c);
  for (size_t b = 0; b < nb && !c->failed; b++) {
    bench_pts *B = &bp[b];
    int weighted = 1;
    for (size_t i = 0; i < B->cnt; i++) weighted &= isfinite(B->n[i]) && B->y[i] >= 0 && B->y[i] <= 100;
    fd[b] = (l1k_fit_data){.x = B->x, .y = B->y, .n = weighted ? B->n : NULL, .count = B->cnt};
    l1k_fit_opts fo;
    l1k_fit_opts_default(&fo);
    fo.bootstrap = c->o->bootstrap;
    fo.seed = c->o->seed;
    fo.y_scale = 100;
    l1k_err e = {0};
    if (l1k_fit_run(&fd[b], &fo, &fr[b], &e)) {
      S("<tr><td>");
      E(B->name);
      P("</td><td>%zu</td><td colspan=\"6\" class=\"na\">not fitted: ", B->cnt);
      E(e.msg);
      S("</td></tr>\n");
      continue;
    }
    ok[b] = 1;
    any = 1;
    c->info.laws++;
    l1k_fit_result *R = &fr[b];
    S("<tr><td>");
    E(B->name);
    P("</td><td>%zu</td>", B->cnt);
    num_cell(c, R->a, "%.2f");
    num_cell(c, R->b, "%.3f");
    ci_cell(c, R->per_doubling, R->per_doubling_ci, "%.2f");
    ci_cell(c, R->per_decade, R->per_decade_ci, "%.2f");
    num_cell(c, R->r2, "%.3f");
    S("<td>");
    if (R->best_model < 0) S("<span class=\"na\">too few points</span>");
    if (R->best_model >= 0) {
      E(R->models[R->best_model].name);
      for (int k = 0; k < L1K_MODEL_COUNT; k++)
        if (k == R->best_model || !R->models[k].ok) continue;
        else if (isfinite(R->models[k].delta_aic)) P(" <span class=\"ci\">(%s +%.1f)</span>", R->models[k].name, R->models[k].delta_aic);
        else P(" <span class=\"ci\">(%s: too few points)</span>", R->models[k].name);
    }
    S("</td></tr>\n");
  }
  if (nb) S("</tbody></table>\n<p class=\"small\">Points in percent; per doubling = b&#183;ln 2, per decade = b&#183;ln 10 (points of accuracy). "
            "Brackets: 95% bootstrap intervals. AIC differences of the other forms in parentheses (lower is better).</p>\n");
  if (any) {
    S("<div class=\"figs\">\n");
    for (size_t b = 0; b < nb && !c->failed; b++) {
      if (!ok[b]) continue;
      char title[300];
      snprintf(title, sizeof title, "%s: accuracy against training length", bp[b].name);
      l1k_plot *p = l1k_plot_new(title, "training reasoning length (tokens)", "pass@1 (%)");
      if (!p || l1k_plot_fit(p, &fr[b], &fd[b], NULL) || emit(c, p, title)) oom(c);
      l1k_plot_free(p);
    }
    S("</div>\n");
  }
  for (size_t b = 0; b < nb; b++) {
    if (!ok[b]) {
      size_t distinct = 0;
      for (size_t i = 0; i < bp[b].cnt; i++) {
        int seen = 0;
        for (size_t j = 0; j < i; j++) seen |= bp[b].x[j] == bp[b].x[i];
        distinct += !seen;
      }
      if (distinct < 2)
        missing(c, "%s: the law needs evaluations of at least 2 runs with different training lengths; found %zu run%s with %zu distinct length%s.",
                bp[b].name, bp[b].cnt, bp[b].cnt == 1 ? "" : "s", distinct, distinct == 1 ? "" : "s");
    }
    if (fr && ok[b]) l1k_fit_result_free(&fr[b]);
    free(bp[b].name);
    free(bp[b].x);
    free(bp[b].y);
    free(bp[b].n);
    free(bp[b].runs);
  }
  free(bp);
  free(fr);
  free(fd);
  free(ok);
  if (!nb) {
    if (no_len_evals)
      missing(c, "no fit across runs: %zu evaluation%s found, but no run declares its training length. Put {\"train_length\": TOKENS} in RUN_DIR/long1k.json "
                 "(or let the synth stats carry mean_tokens).",
              no_len_evals, no_len_evals == 1 ? "" : "s");
    else
      missing(c, "no fit across runs: no evaluation summary (summary.json with pass@1) was found.");
  } else if (no_len_evals) {
    missing(c, "%zu evaluation%s left out of the law: their run declares no training length (RUN_DIR/long1k.json train_length).", no_len_evals,
            no_len_evals == 1 ? "" : "s");
  }

  /* fits written by `long1k fit` */
  size_t nf = c->nxfits;
  for (size_t i = 0; i < c->nruns; i++) nf += c->runs[i].nfits;
  if (nf) {
    S("<h3>Fits from <code>long1k fit</code></h3>\n<table class=\"grid\"><thead><tr><th>file</th><th>group</th><th>points</th><th>a</th><th>b</th>"
      "<th>per decade</th><th>R&#178;</th><th>best form</th></tr></thead><tbody>\n");
    for (size_t pass = 0; pass < 2; pass++) {
      for (size_t i = 0; i <= c->nruns && !c->failed; i++) {
        jdoc *fits = i < c->nruns ? c->runs[i].fits : c->xfits;
        size_t n = i < c->nruns ? c->runs[i].nfits : c->nxfits;
        for (size_t k = 0; k < n; k++) {
          const cJSON *j = fits[k].j;
          if (pass == 0) {
            S("<tr><td><code>");
            E(fits[k].path);
            S("</code></td><td>");
            E(jstr(j, "group") ? jstr(j, "group") : "");
            S("</td>");
            num_cell(c, jnum(j, "points"), "%.0f");
            num_cell(c, jnum(j, "a"), "%.4g");
            num_cell(c, jnum(j, "b"), "%.4g");
            const cJSON *ci = jpath(j, "ci.per_decade");
            double lo = NAN, hi = NAN;
            if (cJSON_IsArray(ci) && cJSON_GetArraySize(ci) == 2) {
              const cJSON *l0 = cJSON_GetArrayItem(ci, 0), *h0 = cJSON_GetArrayItem(ci, 1);
              lo = cJSON_IsNumber(l0) ? l0->valuedouble : NAN;
              hi = cJSON_IsNumber(h0) ? h0->valuedouble : NAN;
            }
            double pd = jnum(j, "per_decade");
            double lh[2] = {lo, hi};
            ci_cell(c, pd, lh, "%.3g");
            num_cell(c, jnum(j, "r2"), "%.3f");
            S("<td>");
            E(jstr(j, "best_model") ? jstr(j, "best_model") : "");
            S("</td></tr>\n");
            continue;
          }
          /* pass 1: plots, refitted from the echoed points with the file's bootstrap settings */
          const cJSON *data = jget(j, "data");
          int m = cJSON_GetArraySize(data);
          if (!cJSON_IsArray(data) || m < 2) continue;
          double *x = calloc((size_t)m, sizeof *x), *y = calloc((size_t)m, sizeof *y), *nn = calloc((size_t)m, sizeof *nn);
          int has_n = 1, good = x && y && nn;
          int q = 0;
          for (const cJSON *pt = data->child; pt && good; pt = pt->next, q++) {
            x[q] = jnum(pt, "x");
            y[q] = jnum(pt, "y");
            nn[q] = jnum(pt, "n");
            has_n &= isfinite(nn[q]);
            good &= isfinite(x[q]) && isfinite(y[q]);
          }
          if (good) {
            l1k_fit_data d = {.x = x, .y = y, .n = has_n ? nn : NULL, .count = (size_t)m};
            l1k_fit_opts fo;
            l1k_fit_opts_default(&fo);
            double bs = jnum(jget(j, "ci"), "replicates"), sd = jnum(jget(j, "ci"), "seed");
            double ys = jnum(j, "y_scale");
            if (bs >= 0 && bs <= 100000) fo.bootstrap = (int)bs;
            /* a JSON number is exact below 2^53; larger seeds redraw the band with a nearby seed */
            if (sd >= 0 && sd < 18446744073709551616.0) fo.seed = (uint64_t)sd;
            if (ys == 1 || ys == 100) fo.y_scale = ys;
            const char *meth = jstr(jget(j, "ci"), "method");
            if (meth && !strcmp(meth, "pairs")) fo.boot_method = L1K_BOOT_PAIRS;
            else if (meth && !strcmp(meth, "residual")) fo.boot_method = L1K_BOOT_RESIDUAL;
            l1k_fit_result R;
            l1k_err e = {0};
            if (l1k_fit_run(&d, &fo, &R, &e) == 0) {
              char title[400];
              const char *g = jstr(j, "group");
              snprintf(title, sizeof title, "%s%s%s", base_name(fits[k].path), g ? ": " : "", g ? g : "");
              l1k_plot *p = l1k_plot_new(title, jstr(j, "x_field") ? jstr(j, "x_field") : "x", jstr(j, "y_field") ? jstr(j, "y_field") : "y");
              if (!p || l1k_plot_fit(p, &R, &d, NULL) || emit(c, p, title)) oom(c);
              l1k_plot_free(p);
              l1k_fit_result_free(&R);
            } else {
              warn(c, "%s: the points in \"data\" cannot be refitted for the plot: %s", fits[k].path, e.msg);
            }
          }
          free(x);
          free(y);
          free(nn);
        }
      }
      if (pass == 0) S("</tbody></table>\n<div class=\"figs\">\n");
      else S("</div>\n");
    }
  }
  S("</section>\n");
}

static void section_data(ctx *c) {
  S("<section id=\"data\"><h2>Datasets</h2>\n");
  size_t n = 0;
  for (size_t i = 0; i < c->nruns; i++) {
    run *r = &c->runs[i];
    for (size_t k = 0; k < r->nstats; k++) {
      n++;
      S("<h3>");
      E(r->name);
      S(": <code>");
      E(base_name(r->stats[k].path));
      S("</code></h3>\n<div class=\"figs\">\n");
      int nfig = 0;
      c->figtag = r->name;
      hist_figs(c, r->stats[k].j, "", 0, &nfig);
      c->figtag = NULL;
      S("</div>\n");
      if (!nfig) S("<p class=\"small\">No length histogram in this file.</p>\n");
      S("<details open><summary>all fields</summary>\n");
      kv_table(c, r->stats[k].j, 80);
      S("</details>\n");
    }
  }
  if (!n) missing(c, "no dataset statistics: no *.stats.json (written by long1k synth next to its output) in any run directory.");
  S("</section>\n");
}

static double median_of(const double *v, size_t n, size_t skip_first) {
  double *t = malloc((n ? n : 1) * sizeof *t);
  if (!t) return NAN;
  size_t m = 0;
  for (size_t i = skip_first < n ? skip_first : 0; i < n; i++)
    if (isfinite(v[i])) t[m++] = v[i];
  double r = NAN;
  if (m) {
    for (size_t i = 1; i < m; i++) /* insertion sort: logs are small */
      for (size_t j = i; j > 0 && t[j - 1] > t[j]; j--) {
        double x = t[j];
        t[j] = t[j - 1];
        t[j - 1] = x;
      }
    r = m % 2 ? t[m / 2] : 0.5 * (t[m / 2 - 1] + t[m / 2]);
  }
  free(t);
  return r;
}

static double last_finite(const double *v, size_t n) {
  for (size_t i = n; i-- > 0;)
    if (isfinite(v[i])) return v[i];
  return NAN;
}

static int count_finite(const double *v, size_t n) {
  int k = 0;
  for (size_t i = 0; i < n; i++) k += isfinite(v[i]) != 0;
  return k;
}

static void section_train(ctx *c) {
  S("<section id=\"train\"><h2>Training</h2>\n");
  size_t nlogs = 0;
  for (size_t i = 0; i < c->nruns; i++) nlogs += c->runs[i].ntrain;
  if (!nlogs) {
    missing(c, "no training log: no trainer_log.jsonl (written by long1k train in its output_dir) in any run directory.");
    S("</section>\n");
    return;
  }
  S("<table class=\"grid\"><thead><tr><th>run</th><th>records</th><th>last step</th><th>epochs</th><th>first loss</th><th>last loss</th>"
    "<th>min loss</th><th>last eval loss</th><th>tokens/s (median)</th><th>tokens (last)</th><th>elapsed</th><th>checkpoints</th></tr></thead><tbody>\n");
  for (size_t i = 0; i < c->nruns; i++) {
    run *r = &c->runs[i];
    for (size_t k = 0; k < r->ntrain; k++) {
      trainlog *t = &r->train[k];
      S("<tr><td>");
      E(r->name);
      P("</td><td>%zu</td>", t->n);
      num_cell(c, last_finite(t->step, t->n), "%.0f");
      num_cell(c, last_finite(t->epoch, t->n), "%.2f");
      double first = NAN, mn = NAN;
      for (size_t q = 0; q < t->n; q++) {
        if (isnan(first) && isfinite(t->loss[q])) first = t->loss[q];
        if (isfinite(t->loss[q]) && !(mn <= t->loss[q])) mn = t->loss[q];
      }
      num_cell(c, first, "%.4f");
      num_cell(c, last_finite(t->loss, t->n), "%.4f");
      num_cell(c, mn, "%.4f");
      num_cell(c, t->ne ? t->eloss[t->ne - 1] : NAN, "%.4f");
      char a[64];
      double tps = median_of(t->tps, t->n, 1);
      fmt_count(a, sizeof a, tps);
      P("<td>%s</td>", a);
      fmt_count(a, sizeof a, last_finite(t->tokens, t->n));
      P("<td>%s</td>", a);
      fmt_duration(a, sizeof a, last_finite(t->elapsed, t->n));
      P("<td>%s</td><td>%d</td></tr>\n", a, t->checkpoints);
    }
  }
  S("</tbody></table>\n<p class=\"small\">tokens/s: median over the log's records after the first (warm-up).</p>\n");
  for (size_t i = 0; i < c->nruns; i++) {
    run *r = &c->runs[i];
    for (size_t k = 0; k < r->ntrain; k++) {
      trainlog *t = &r->train[k];
      if (!t->n) {
        missing(c, "%s: the training log has no records with loss or lr.", t->path);
        continue;
      }
    }
  }
  if (nlogs > 1) {
    l1k_plot *p = l1k_plot_new("Training loss, all runs", "step", "loss");
    if (!p) {
      oom(c);
      return;
    }
    l1k_plot_size(p, 900, 380);
    for (size_t i = 0; i < c->nruns; i++)
      for (size_t k = 0; k < c->runs[i].ntrain; k++) {
        trainlog *t = &c->runs[i].train[k];
        if (count_finite(t->loss, t->n) && l1k_plot_line(p, c->runs[i].name, t->step, t->loss, t->n, NULL)) oom(c);
      }
    if (emit(c, p, "training loss all runs")) oom(c);
    l1k_plot_free(p);
  }
  for (size_t i = 0; i < c->nruns && !c->failed; i++) {
    run *r = &c->runs[i];
    for (size_t k = 0; k < r->ntrain; k++) {
      trainlog *t = &r->train[k];
      if (!t->n) continue;
      S("<h3>");
      E(r->name);
      S(" <span class=\"small\"><code>");
      E(t->path);
      S("</code></span></h3>\n<div class=\"figs\">\n");
      struct {
        const char *title, *ylab;
        double *v;
      } figs[] = {{"Training loss", "loss", t->loss}, {"Learning rate", "lr", t->lr}, {"Gradient norm", "grad norm", t->gnorm},
                  {"Throughput", "tokens/s", t->tps}};
      for (size_t f = 0; f < sizeof figs / sizeof *figs; f++) {
        if (!count_finite(figs[f].v, t->n)) {
          if (f < 2) missing(c, "%s: no '%s' values in the training log.", t->path, f == 0 ? "loss" : "lr");
          continue;
        }
        l1k_plot *p = l1k_plot_new(figs[f].title, "step", figs[f].ylab);
        if (!p) {
          oom(c);
          return;
        }
        l1k_plot_size(p, 440, 280);
        char fname[400];
        snprintf(fname, sizeof fname, "%s %s", r->name, figs[f].title);
        /* only the records that carry this value: a gap is not a missing point */
        size_t m = 0;
        double *xs = malloc(t->n * sizeof *xs), *ys = malloc(t->n * sizeof *ys);
        if (!xs || !ys) oom(c);
        else {
          for (size_t q = 0; q < t->n; q++)
            if (isfinite(figs[f].v[q])) {
              xs[m] = t->step[q];
              ys[m++] = figs[f].v[q];
            }
          int with_eval = f == 0 && t->ne > 0;
          if (l1k_plot_line(p, with_eval ? "train" : NULL, xs, ys, m, f == 1 ? "#D55E00" : f == 2 ? "#009E73" : f == 3 ? "#CC79A7" : NULL) ||
              (with_eval && (l1k_plot_line(p, "eval", t->estep, t->eloss, t->ne, "#E69F00") ||
                             l1k_plot_scatter(p, NULL, t->estep, t->eloss, t->ne, "#E69F00"))) ||
              emit(c, p, fname))
            oom(c);
        }
        free(xs);
        free(ys);
        l1k_plot_free(p);
      }
      S("</div>\n");
    }
  }
  S("</section>\n");
}

static const double BIN_EDGES[] = {0, 1024, 2048, 4096, 8192, 16384, 32768, INFINITY};
#define NBINS (sizeof BIN_EDGES / sizeof *BIN_EDGES - 1)

static void eval_detail(ctx *c, run *r, evalrun *ev) {
  S("<h4>");
  E(r->name);
  S(" &middot; ");
  E(ev->bench);
  S(" <span class=\"small\"><code>");
  E(ev->dir);
  S("</code></span></h4>\n");
  if (!ev->have_results) {
    missing(c, "%s: no results.jsonl, so no breakdown by response length.", ev->dir);
    return;
  }
  long cnt[NBINS + 1] = {0}, cor[NBINS + 1] = {0}, trc[NBINS + 1] = {0}, ung[NBINS + 1] = {0};
  double maxtok = 0, mintok = INFINITY;
  for (size_t i = 0; i < ev->ns; i++) {
    sample *s = &ev->s[i];
    size_t b = NBINS; /* no usage */
    if (isfinite(s->tokens)) {
      for (b = 0; b + 1 < NBINS && !(s->tokens < BIN_EDGES[b + 1]); b++) {
      }
      if (s->tokens > maxtok) maxtok = s->tokens;
      if (s->tokens < mintok) mintok = s->tokens;
    }
    cnt[b]++;
    cor[b] += s->correct == 1;
    ung[b] += s->correct < 0;
    trc[b] += s->trunc;
  }
  S("<div class=\"row\"><div><table class=\"grid\"><thead><tr><th>response length (tokens)</th><th>samples</th><th>correct</th><th>accuracy</th>"
    "<th>truncated</th></tr></thead><tbody>\n");
  long tot = 0, tcor = 0, tung = 0, ttr = 0;
  for (size_t b = 0; b <= NBINS; b++) {
    if (!cnt[b]) continue;
    char lab[64];
    if (b == NBINS) snprintf(lab, sizeof lab, "no token count");
    else if (isinf(BIN_EDGES[b + 1])) snprintf(lab, sizeof lab, "&ge; %gk", BIN_EDGES[b] / 1024);
    else if (b == 0) snprintf(lab, sizeof lab, "&lt; %gk", BIN_EDGES[1] / 1024);
    else snprintf(lab, sizeof lab, "%gk &ndash; %gk", BIN_EDGES[b] / 1024, BIN_EDGES[b + 1] / 1024);
    P("<tr><td>%s</td><td>%ld</td><td>%ld</td>", lab, cnt[b], cor[b]);
    long graded = cnt[b] - ung[b];
    num_cell(c, graded ? 100.0 * cor[b] / graded : NAN, "%.1f%%");
    P("<td>%ld</td></tr>\n", trc[b]);
    tot += cnt[b];
    tcor += cor[b];
    tung += ung[b];
    ttr += trc[b];
  }
  P("<tr class=\"total\"><td>all</td><td>%ld</td><td>%ld</td>", tot, tcor);
  num_cell(c, tot - tung ? 100.0 * tcor / (tot - tung) : NAN, "%.1f%%");
  P("<td>%ld</td></tr>\n</tbody></table>\n", ttr);
  if (tung) P("<p class=\"small\">%ld sample%s not graded (correct: null) are counted as not correct and left out of the accuracy.</p>\n", tung, tung == 1 ? "" : "s");
  if (ev->res_dups) P("<p class=\"small\">%ld earlier line%s for the same (problem, sample) replaced by the later one.</p>\n", ev->res_dups, ev->res_dups == 1 ? "" : "s");
  S("</div>\n");
  if (!tot) missing(c, "%s: results.jsonl holds no samples.", ev->dir);
  /* correct vs wrong response lengths: log-spaced bins, 2 per octave */
  if (maxtok > 0 && tot) {
    double lo = mintok > 1 ? mintok : 1;
    double e0 = pow(2, floor(2 * log2(lo)) / 2), e1 = pow(2, ceil(2 * log2(maxtok + 1)) / 2);
    size_t nb = (size_t)llround(2 * log2(e1 / e0));
    if (nb < 1) nb = 1;
    if (nb > 64) nb = 64;
    double edges[65], hc[64] = {0}, hw[64] = {0};
    for (size_t b = 0; b <= nb; b++) edges[b] = e0 * pow(2, b / 2.0);
    edges[nb] = e1;
    for (size_t i = 0; i < ev->ns; i++) {
      sample *s = &ev->s[i];
      if (!isfinite(s->tokens) || s->correct < 0) continue;
      double t = s->tokens < 1 ? 1 : s->tokens;
      size_t b = 0;
      while (b + 1 < nb && t >= edges[b + 1]) b++;
      if (s->correct) hc[b]++;
      else hw[b]++;
    }
    l1k_plot *p = l1k_plot_new("Response length: correct vs wrong", "response tokens", "samples");
    if (!p) {
      oom(c);
      return;
    }
    l1k_plot_size(p, 520, 300);
    l1k_plot_log_x(p, 1);
    char fname[600];
    snprintf(fname, sizeof fname, "%s %s response length", r->name, ev->bench);
    if (l1k_plot_bars(p, "correct", edges, hc, nb, "#009E73") || l1k_plot_bars(p, "wrong", edges, hw, nb, "#D55E00") ||
        emit(c, p, fname))
      oom(c);
    l1k_plot_free(p);
  }
  S("</div>\n");
}

static void section_eval(ctx *c) {
  S("<section id=\"eval\"><h2>Evaluation</h2>\n");
  /* benchmarks in order of appearance */
  char **names = NULL;
  size_t nb = 0;
  for (size_t i = 0; i < c->nruns; i++)
    for (size_t k = 0; k < c->runs[i].nevals; k++) {
      const char *bn = c->runs[i].evals[k].bench;
      size_t b = 0;
      while (b < nb && strcmp(names[b], bn)) b++;
      if (b == nb) {
        char **q = realloc(names, (nb + 1) * sizeof *q);
        if (!q) {
          oom(c);
          free(names);
          return;
        }
        names = q;
        names[nb++] = (char *)bn;
      }
    }
  if (!nb) missing(c, "no evaluations: no summary.json or results.jsonl (written by long1k eval in its output directory) in any run directory.");
  for (size_t b = 0; b < nb && !c->failed; b++) {
    S("<h3>");
    E(names[b]);
    S("</h3>\n");
    /* the pass@k / maj@k columns any run has */
    int kmax = 0, judge = 0;
    for (size_t i = 0; i < c->nruns; i++)
      for (size_t k = 0; k < c->runs[i].nevals; k++) {
        evalrun *ev = &c->runs[i].evals[k];
        if (strcmp(ev->bench, names[b])) continue;
        const cJSON *pk = jget(ev->summary, "pass@k");
        for (const cJSON *it = cJSON_IsObject(pk) ? pk->child : NULL; it; it = it->next) {
          int kk = it->string ? atoi(it->string) : 0;
          if (kk > kmax && cJSON_IsNumber(it)) kmax = kk;
        }
        judge |= isfinite(jnum(jget(ev->summary, "judge"), "pass@1"));
      }
    S("<table class=\"grid\"><thead><tr><th>run</th><th>training length</th><th>pass@1</th><th>&plusmn; SE</th>");
    if (kmax > 1) P("<th>pass@%d</th><th>maj@%d</th>", kmax, kmax);
    if (judge) S("<th>judge pass@1</th><th>judge agreement</th>");
    S("<th>problems</th><th>samples</th><th>missing</th><th>truncated</th><th>no answer</th><th>mean tokens correct</th>"
      "<th>mean tokens wrong</th><th class=\"t\">model</th></tr></thead><tbody>\n");
    for (size_t i = 0; i < c->nruns; i++)
      for (size_t k = 0; k < c->runs[i].nevals; k++) {
        run *r = &c->runs[i];
        evalrun *ev = &r->evals[k];
        if (strcmp(ev->bench, names[b])) continue;
        const cJSON *s = ev->summary;
        S("<tr><td>");
        E(r->name);
        S("</td>");
        num_cell(c, r->train_len, "%.0f");
        if (!s) {
          P("<td colspan=\"%d\" class=\"na\">no summary.json</td></tr>\n", 10 + (kmax > 1) * 2 + judge * 2);
          continue;
        }
        double se, p = summary_pass1(s, &se);
        num_cell(c, as_pct(p), "%.2f%%");
        num_cell(c, isfinite(p) && fabs(p) <= 1 ? 100 * se : se, "%.2f");
        if (kmax > 1) {
          char key[16];
          snprintf(key, sizeof key, "%d", kmax);
          num_cell(c, as_pct(jnum(jget(s, "pass@k"), key)), "%.2f%%");
          num_cell(c, as_pct(jnum(jget(s, "maj@k"), key)), "%.2f%%");
        }
        if (judge) {
          num_cell(c, as_pct(jnum(jget(s, "judge"), "pass@1")), "%.2f%%");
          num_cell(c, as_pct(jnum(jget(s, "judge"), "agreement")), "%.1f%%");
        }
        num_cell(c, jnum(s, "problems"), "%.0f");
        num_cell(c, jnum(s, "samples"), "%.0f");
        double miss = jnum(s, "samples_missing");
        if (miss > 0) P("<td class=\"warn\">%.0f</td>", miss);
        else num_cell(c, miss, "%.0f");
        num_cell(c, as_pct(jnum(s, "truncated_rate")), "%.1f%%");
        num_cell(c, as_pct(jnum(s, "no_answer_rate")), "%.1f%%");
        num_cell(c, jnum(s, "mean_tokens_correct"), "%.0f");
        num_cell(c, jnum(s, "mean_tokens_wrong"), "%.0f");
        S("<td class=\"t\">");
        E(jstr(s, "model_name") ? jstr(s, "model_name") : "");
        S("</td></tr>\n");
      }
    S("</tbody></table>\n");
    for (size_t i = 0; i < c->nruns; i++)
      for (size_t k = 0; k < c->runs[i].nevals; k++) {
        evalrun *ev = &c->runs[i].evals[k];
        if (strcmp(ev->bench, names[b])) continue;
        if (!ev->summary) missing(c, "%s: no readable summary.json (run long1k eval again to write it).", ev->dir);
        else if (cJSON_IsFalse(jget(ev->summary, "complete"))) {
          double sm = jnum(ev->summary, "samples_missing");
          if (isfinite(sm))
            missing(c, "%s: the evaluation is incomplete (%.0f samples missing); rerun long1k eval to finish it.", ev->dir, sm);
          else
            missing(c, "%s: the evaluation is incomplete; rerun long1k eval to finish it.", ev->dir);
        }
      }
    for (size_t i = 0; i < c->nruns && !c->failed; i++)
      for (size_t k = 0; k < c->runs[i].nevals; k++)
        if (!strcmp(c->runs[i].evals[k].bench, names[b])) eval_detail(c, &c->runs[i], &c->runs[i].evals[k]);
  }
  free(names);
  S("</section>\n");
}

static const char *CSS =
    "body{font-family:Helvetica,Arial,sans-serif;color:#222;margin:0 auto;max-width:1180px;padding:0 18px 40px;line-height:1.4;background:#fff}\n"
    "header{border-bottom:2px solid #0072B2;margin-bottom:8px}h1{font-size:26px;margin:18px 0 4px}\n"
    "h2{font-size:20px;margin:28px 0 8px;border-bottom:1px solid #ccc;padding-bottom:3px}h3{font-size:16px;margin:18px 0 6px}h4{font-size:14px;margin:14px 0 4px}\n"
    "nav a{margin-right:14px;color:#0072B2;text-decoration:none}nav{margin:6px 0 10px}\n"
    "table{border-collapse:collapse;font-size:13px;margin:6px 0}th,td{padding:3px 8px;text-align:right;vertical-align:top}\n"
    "table.grid th{background:#f0f3f7;border-bottom:1px solid #aab}table.grid td{border-bottom:1px solid #e4e4e4}\n"
    "table.grid td:first-child,table.grid th:first-child{text-align:left}table.kv th{text-align:left;font-weight:normal;color:#555}\n"
    "table.kv td{text-align:left;overflow-wrap:anywhere}.scroll{overflow-x:auto;max-width:100%}td.t,th.t{text-align:left}tr.total td{font-weight:bold;border-top:1px solid #888}\n"
    ".na{color:#999}.warn{color:#b00;font-weight:bold}.ci{color:#666;font-size:12px}.small{font-size:12px;color:#555}\n"
    ".missing{background:#fff6dd;border-left:4px solid #e69f00;padding:6px 10px;margin:6px 0;font-size:13px}\n"
    ".figs,.row{display:flex;flex-wrap:wrap;gap:14px;align-items:flex-start}svg.l1k-plot{max-width:100%;height:auto;border:1px solid #eee}\n"
    "code{font-size:12px;background:#f5f5f5;padding:0 3px}details summary{cursor:pointer;color:#0072B2;font-size:13px}\n"
    "footer{margin-top:30px;font-size:12px;color:#777;border-top:1px solid #ddd;padding-top:6px}\n"
    "@media print{body{max-width:none;padding:0}nav{display:none}section{break-inside:auto}svg.l1k-plot{break-inside:avoid;border:none}"
    "h2,h3{break-after:avoid}.missing{border:1px solid #e69f00}a{color:#000}}\n";

void l1k_report_opts_default(l1k_report_opts *o) {
  memset(o, 0, sizeof *o);
  o->bootstrap = 2000;
  o->seed = 1;
}

int l1k_report_build(const char *const *dirs, size_t n, const l1k_report_opts *opts, l1k_buf *out, l1k_report_info *info,
                     l1k_err *err) {
  l1k_report_opts def;
  if (!opts) {
    l1k_report_opts_default(&def);
    opts = &def;
  }
  ctx C = {.o = opts, .err = err, .b = out}, *c = &C;
  for (size_t i = 0; i < n; i++)
    if (!l1k_is_dir(dirs[i])) return l1k_errf(err, L1K_EINPUT, "%s: not a directory (expected a run directory)", dirs[i]);
  if (opts->svg_dir && l1k_mkdir_p(opts->svg_dir, err)) return err ? err->code : L1K_EIO;
  C.runs = calloc(n ? n : 1, sizeof *C.runs);
  if (!C.runs) return l1k_errf(err, L1K_ENOMEM, "out of memory");
  C.nruns = n;
  for (size_t i = 0; i < n && !C.failed; i++) {
    run *r = &C.runs[i];
    r->train_len = NAN;
    size_t len = strlen(dirs[i]);
    while (len > 1 && dirs[i][len - 1] == '/') len--;
    r->path = strndup(dirs[i], len);
    if (!r->path) {
      oom(c);
      break;
    }
    if (scan(c, r, r->path, 0)) break;
    const char *nm = jstr(r->meta, "name");
    r->name = strdup(nm ? nm : base_name(r->path)[0] ? base_name(r->path) : r->path);
    if (!r->name) oom(c);
    find_train_len(r);
    const cJSON *tl = jget(r->meta, "train_length");
    if (tl && !(cJSON_IsNumber(tl) && tl->valuedouble > 0))
      warn(c, "%s: train_length: expected a number of tokens > 0 (ignored)", r->meta_path);
  }
  C.info.runs = n;
  for (size_t i = 0; i < opts->n_fit_files && !C.failed; i++) {
    size_t before = C.nxfits;
    if (!l1k_file_exists(opts->fit_files[i])) {
      warn(c, "%s: no such file (--fit)", opts->fit_files[i]);
      continue;
    }
    load_fit(c, &C.xfits, &C.nxfits, opts->fit_files[i]);
    C.info.fits += C.nxfits - before;
  }
  if (!C.failed) {
    char date[64];
    if (opts->date) snprintf(date, sizeof date, "%s", opts->date);
    else {
      const char *sde = getenv("SOURCE_DATE_EPOCH");
      time_t now = sde && *sde ? (time_t)strtoll(sde, NULL, 10) : time(NULL);
      struct tm tmv;
      gmtime_r(&now, &tmv);
      strftime(date, sizeof date, "%Y-%m-%d %H:%M UTC", &tmv);
    }
    const char *title = opts->title ? opts->title : "long1k report";
    S("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>");
    E(title);
    P("</title>\n<style>\n%s</style>\n</head>\n<body>\n<header><h1>", CSS);
    E(title);
    P("</h1><p class=\"small\">Generated by long1k %s on %s from %zu run director%s.</p></header>\n", LONG1K_VERSION, date, n, n == 1 ? "y" : "ies");
    S("<nav><a href=\"#runs\">Runs</a><a href=\"#law\">Length law</a><a href=\"#data\">Datasets</a><a href=\"#train\">Training</a>"
      "<a href=\"#eval\">Evaluation</a><a href=\"#notes\">Notes</a></nav>\n");
    section_runs(c);
    if (!C.failed) section_law(c);
    if (!C.failed) section_data(c);
    if (!C.failed) section_train(c);
    if (!C.failed) section_eval(c);
    S("<section id=\"notes\"><h2>Notes</h2>\n");
    if (C.warnings.n) {
      P("<p>%zu file%s or line%s could not be used:</p>\n<ul>\n", C.warnings.n, C.warnings.n == 1 ? "" : "s", C.warnings.n == 1 ? "" : "s");
      for (size_t i = 0; i < C.warnings.n; i++) {
        S("<li><code>");
        E(C.warnings.v[i]);
        S("</code></li>\n");
      }
      S("</ul>\n");
    } else {
      S("<p>Every file found was read in full.</p>\n");
    }
    S("</section>\n<footer>long1k report &middot; self-contained: inline SVG and CSS, no scripts, no network.</footer>\n</body>\n</html>\n");
    if (!out->data) oom(c);
  }
  for (size_t i = 0; i < C.nruns; i++) free_run(&C.runs[i]);
  free(C.runs);
  for (size_t i = 0; i < C.nxfits; i++) {
    free(C.xfits[i].path);
    cJSON_Delete(C.xfits[i].j);
  }
  free(C.xfits);
  for (size_t i = 0; i < C.warnings.n; i++) free(C.warnings.v[i]);
  free(C.warnings.v);
  if (info) *info = C.info;
  return C.failed ? (err && err->code ? err->code : L1K_EINTERNAL) : 0;
}
