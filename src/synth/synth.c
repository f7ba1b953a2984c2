/* long1k synth — the driver: scan the pool, clean it, compose samples under length control,
 * write JSONL + stats + removal report. Design and memory bounds: docs/synth.md.
 *
 * Pass 1 streams every pool file once and keeps, per record, only small metadata (file, line,
 * byte lengths, difficulty, domain, id, a MinHash signature). Record texts are loaded later in
 * batches (one streaming pass per batch, reading only the wanted lines), their tokens counted
 * once, and freed as soon as the sample that uses them is written. */
#define _GNU_SOURCE 1 /* qsort_r */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <sys/stat.h>

#include "long1k/io.h"
#include "long1k/jsonl.h"
#include "long1k/log.h"
#include "long1k/rng.h"
#include "long1k/synth.h"
#include "synth/synth_internal.h"

#define NPERM 64
#define NBANDS 16
#define ROWS (NPERM / NBANDS)

enum { ST_ELIGIBLE = 0, ST_REMOVED, ST_USED };
enum { CL_ALL = 0, CL_EASY, CL_HARD, CL_SINGLE, CL_N };

typedef struct {
  uint32_t file, line;
  uint32_t prob_bytes, reas_bytes, sol_bytes;
  float difficulty;
  uint32_t domain;   /* index into domains (0: none) */
  uint32_t id_off;   /* into ids arena */
  int32_t tok_reason, tok_sol; /* -1: not counted yet */
  uint8_t state;
  uint8_t loaded_once;
  int32_t avail_pos; /* position in the available list, -1 if not there */
  l1k_synth_record *rec; /* text, while loaded */
} rmeta;

typedef struct {
  uint32_t *v;
  size_t len, cap;
} u32vec;

static int u32_push(u32vec *a, uint32_t x) {
  if (a->len == a->cap) {
    size_t nc = a->cap ? a->cap * 2 : 256;
    uint32_t *p = l1k_realloc(a->v, nc * sizeof *p, NULL);
    if (!p) return L1K_ENOMEM;
    a->v = p;
    a->cap = nc;
  }
  a->v[a->len++] = x;
  return 0;
}

typedef struct {
  const l1k_synth_opts *o;
  l1k_err *err;
  uint64_t rng;
  /* pool */
  rmeta *r;
  size_t n, cap;
  l1k_buf ids;           /* NUL-separated ids */
  char **domains;        /* domains[0] = "" */
  size_t n_domains;
  l1k_synth_schema *file_schema;
  /* hygiene */
  l1k_synth_hashset exact, eval_grams, eval_exact, bands[NBANDS];
  uint32_t *sigs;        /* NPERM per record */
  uint32_t *band_next;   /* NBANDS per record: chain of records with the same band key */
  char **eval_where;     /* "file:line" of each eval problem */
  uint64_t short_mask;   /* bit w: an eval problem has w words, 5 <= w < n */
  size_t n_eval;
  FILE *removed;         /* removal report */
  l1k_atomic_file removed_af;
  int64_t n_lines, n_malformed, n_no_answer, n_exact, n_near, n_contam, n_domain, n_parsed;
  int64_t n_blank, n_hard_unmatched;
  int64_t n_utf8_repaired; /* output strings whose invalid UTF-8 became U+FFFD */
  int oom;                 /* a list could not grow: the run fails (nothing is committed) */
  double t_scan, t_compose, t_count; /* seconds: pass 1, composition, inside the counter */
  /* composition */
  u32vec cls[CL_N];      /* random order of each class */
  size_t cursor[CL_N];
  size_t class_size[CL_N];   /* records in the class at the start (before requeues) */
  size_t loaded_total[CL_N]; /* records loaded for the class, requeued ones again */
  u32vec avail;          /* loaded, eligible, not used */
  size_t loaded_bytes, budget;
  double bytes_per_tok;
  double link_tokens;    /* average tokens of a filled link phrase */
  double sum_tok_bytes, sum_tok;
  int64_t n_counted, n_loads;
  l1k_synth_template tpl;
  int64_t *used_per_file;
  double t0;
} ctx;

/* u32_push for lists whose callers cannot stop on the spot: a failure is remembered and ends
 * the run at the next phase boundary (no output is committed) */
static int cpush(ctx *c, u32vec *a, uint32_t x) {
  if (u32_push(a, x)) c->oom = 1;
  return c->oom;
}

/* ---------------------------------------------------------------- rng ---------------- */

static uint64_t rnd(ctx *c) { return l1k_splitmix64(&c->rng); }
static size_t rnd_below(ctx *c, size_t n) { return n ? (size_t)(rnd(c) % n) : 0; }

static void shuffle(ctx *c, uint32_t *a, size_t n) {
  for (size_t i = n; i > 1; i--) {
    size_t j = rnd_below(c, i);
    uint32_t t = a[i - 1];
    a[i - 1] = a[j];
    a[j] = t;
  }
}

/* ---------------------------------------------------------------- small helpers ------ */

static const char *rid(const ctx *c, uint32_t i) { return c->ids.data + c->r[i].id_off; }

static const char *base_name(const char *p) {
  const char *s = strrchr(p, '/');
  return s ? s + 1 : p;
}

static uint32_t intern_domain(ctx *c, const char *d) {
  if (!d || !*d) return 0;
  for (size_t i = 1; i < c->n_domains; i++)
    if (!strcmp(c->domains[i], d)) return (uint32_t)i;
  char **nd = l1k_realloc(c->domains, (c->n_domains + 1) * sizeof *nd, NULL);
  if (!nd) return 0;
  c->domains = nd;
  c->domains[c->n_domains] = l1k_strdup(d, NULL);
  if (!c->domains[c->n_domains]) return 0;
  return (uint32_t)c->n_domains++;
}

static int ieq(const char *a, const char *b) {
  for (; *a && *b; a++, b++)
    if (tolower((unsigned char)*a) != tolower((unsigned char)*b)) return 0;
  return *a == *b;
}

static void report_removed(ctx *c, const char *file, int64_t line, const char *id,
                           const char *reason, const char *detail) {
  if (!c->removed) return;
  l1k_buf b = {0};
  l1k_buf_puts(&b, "{\"file\":");
  l1k_buf_json_string(&b, file, strlen(file));
  l1k_buf_printf(&b, ",\"line\":%lld,\"id\":", (long long)line);
  if (id) l1k_buf_json_string(&b, id, strlen(id));
  else l1k_buf_puts(&b, "null");
  l1k_buf_puts(&b, ",\"reason\":");
  l1k_buf_json_string(&b, reason, strlen(reason));
  l1k_buf_puts(&b, ",\"detail\":");
  l1k_buf_json_string(&b, detail ? detail : "", detail ? strlen(detail) : 0);
  l1k_buf_puts(&b, "}\n");
  if (b.data) fwrite(b.data, 1, b.len, c->removed);
  l1k_buf_free(&b);
}

/* ---------------------------------------------------------------- eval sets ---------- */

typedef struct {
  ctx *c;
  uint32_t val;
  int hit;
  uint32_t hit_val;
} gram_ctx;

static int add_gram(void *p, uint64_t h) {
  gram_ctx *g = p;
  return l1k_synth_hashset_add(&g->c->eval_grams, h, g->val);
}

static int find_gram(void *p, uint64_t h) {
  gram_ctx *g = p;
  uint32_t v;
  if (l1k_synth_hashset_get(&g->c->eval_grams, h, &v)) {
    g->hit = 1;
    g->hit_val = v;
    return 1;
  }
  return 0;
}

static uint64_t text_hash(const char *s, size_t n) {
  return l1k_fnv1a64(s, n, 0x51ab1e5eedULL) ^ (n * 0x9e3779b97f4a7c15ULL);
}

static int load_eval(ctx *c, const char *path) {
  l1k_err *err = c->err;
  l1k_jsonl *r = l1k_jsonl_open(path, err);
  if (!r) return err->code ? err->code : L1K_EINPUT;
  cJSON *j;
  int rc;
  int64_t n = 0;
  while ((rc = l1k_jsonl_next(r, &j, err)) == 1) {
    int64_t line = l1k_jsonl_line_no(r);
    static const char *keys[] = {"problem", "question", "Problem", "Question", "prompt"};
    const cJSON *p = NULL;
    for (size_t k = 0; k < 5 && !p; k++) {
      p = cJSON_GetObjectItemCaseSensitive(j, keys[k]);
      if (p && !cJSON_IsString(p)) p = NULL;
    }
    if (!p) {
      cJSON_Delete(j);
      l1k_jsonl_close(r);
      return l1k_errf(err, L1K_EINPUT, "%s:%lld: decontamination set: expected a string field "
                      "'problem' or 'question'", path, (long long)line);
    }
    size_t nl;
    char *norm = l1k_synth_normalize(p->valuestring, strlen(p->valuestring), &nl);
    cJSON_Delete(j);
    if (!norm) {
      l1k_jsonl_close(r);
      return l1k_errf(err, L1K_ENOMEM, "out of memory");
    }
    char where[600];
    snprintf(where, sizeof where, "%s:%lld", base_name(path), (long long)line);
    char **ew = l1k_realloc(c->eval_where, (c->n_eval + 1) * sizeof *ew, NULL);
    if (!ew) {
      free(norm);
      l1k_jsonl_close(r);
      return l1k_errf(err, L1K_ENOMEM, "out of memory");
    }
    c->eval_where = ew;
    ew[c->n_eval] = l1k_strdup(where, NULL);
    gram_ctx g = {c, (uint32_t)c->n_eval, 0, 0};
    c->n_eval++;
    if (nl) {
      size_t words = 1;
      for (size_t q = 0; q < nl; q++) words += norm[q] == ' ';
      if (words >= 5 && words < (size_t)c->o->decontam_n) c->short_mask |= 1ULL << words;
      l1k_synth_ngrams(norm, nl, c->o->decontam_n, add_gram, &g);
      l1k_synth_hashset_add(&c->eval_exact, text_hash(norm, nl), g.val);
    }
    free(norm);
    n++;
  }
  l1k_jsonl_close(r);
  if (rc < 0) return err->code;
  if (n == 0)
    return l1k_errf(err, L1K_EINPUT, "%s: decontamination set has no records", path);
  return 0;
}

/* ---------------------------------------------------------------- pass 1 ------------- */

static int push_meta(ctx *c, rmeta *m) {
  if (c->n == c->cap) {
    size_t nc = c->cap ? c->cap * 2 : 4096;
    rmeta *p = l1k_realloc(c->r, nc * sizeof *p, NULL);
    uint32_t *s = l1k_realloc(c->sigs, nc * NPERM * sizeof *s, NULL);
    if (s) c->sigs = s;
    uint32_t *bn = l1k_realloc(c->band_next, nc * NBANDS * sizeof *bn, NULL);
    if (bn) c->band_next = bn;
    if (!p || !s || !bn) {
      if (p) c->r = p;
      return l1k_errf(c->err, L1K_ENOMEM, "out of memory (pool metadata)");
    }
    c->r = p;
    c->cap = nc;
  }
  c->r[c->n++] = *m;
  return 0;
}

static uint64_t band_key(const uint32_t *sig, int b) {
  return l1k_fnv1a64(sig + b * ROWS, ROWS * sizeof(uint32_t), 0xba0d + (uint64_t)b);
}

/* Near-duplicate of an earlier kept record? Returns its index or -1; *jac the estimate. */
static int64_t near_dup(ctx *c, uint32_t idx, double *jac) {
  const uint32_t *s = c->sigs + (size_t)idx * NPERM;
  for (int b = 0; b < NBANDS; b++) {
    uint32_t head;
    if (!l1k_synth_hashset_get(&c->bands[b], band_key(s, b), &head)) continue;
    int steps = 0;
    for (uint32_t j = head; j != UINT32_MAX && steps < 64; j = c->band_next[(size_t)j * NBANDS + b], steps++) {
      const uint32_t *t = c->sigs + (size_t)j * NPERM;
      int eq = 0;
      for (int p = 0; p < NPERM; p++) eq += s[p] == t[p];
      double e = (double)eq / NPERM;
      if (e >= c->o->near_dup) {
        *jac = e;
        return j;
      }
    }
  }
  return -1;
}

static int add_bands(ctx *c, uint32_t idx) {
  const uint32_t *s = c->sigs + (size_t)idx * NPERM;
  for (int b = 0; b < NBANDS; b++) {
    uint64_t k = band_key(s, b);
    uint32_t head = UINT32_MAX;
    l1k_synth_hashset *h = &c->bands[b];
    /* replace the head: find the slot */
    if (l1k_synth_hashset_get(h, k, &head)) {
      uint64_t key = k ? k : 0x9e3779b97f4a7c15ULL;
      size_t j = (size_t)(key & (h->cap - 1));
      while (h->slots[j] != key) j = (j + 1) & (h->cap - 1);
      h->vals[j] = idx;
    } else if (l1k_synth_hashset_add(h, k, idx)) {
      return l1k_errf(c->err, L1K_ENOMEM, "out of memory");
    }
    c->band_next[(size_t)idx * NBANDS + b] = head;
  }
  return 0;
}

static int keys_of(const cJSON *j, char *out, size_t cap) {
  size_t n = 0;
  out[0] = 0;
  const cJSON *it;
  cJSON_ArrayForEach(it, j) {
    if (!it->string) continue;
    int w = snprintf(out + n, cap - n, "%s%s", n ? ", " : "", it->string);
    if (w < 0 || (size_t)w >= cap - n) break;
    n += (size_t)w;
  }
  return 0;
}

/* Pass 1 is split in two: workers parse lines and compute everything that depends on one
 * record alone (fields, normalized-problem hash, contamination, MinHash); the main thread reads
 * the file into batches and merges the results in file order (ids, duplicates, the report), so
 * the outcome does not depend on the number of threads. */
typedef struct {
  int status;              /* 0 ok, 1 malformed (msg), 2 fatal (out of memory) */
  char *msg;
  int64_t line;
  uint32_t prob_bytes, reas_bytes, sol_bytes;
  float difficulty;
  char *domain, *id;
  int has_answer, domain_ok;
  uint64_t th;
  size_t norm_len;
  int contam;              /* 0, 1 = equal text, 2 = shared n-gram, 3 = contains a short one */
  uint32_t contam_val;
  uint32_t sig[NPERM];
} line_res;

typedef struct {
  ctx *c;
  uint32_t fi;
  l1k_synth_schema schema;
  char *buf;
  size_t buf_len, buf_cap;
  size_t *off, *len;
  int64_t *ln;
  size_t n, cap;
  line_res *res;
  pthread_t th;
  int running, processed;
} batch;

static void res_clear(line_res *r) {
  free(r->msg);
  free(r->domain);
  free(r->id);
  r->msg = r->domain = r->id = NULL;
}

static void process_line(ctx *c, batch *b, size_t li) {
  const l1k_synth_opts *o = c->o;
  line_res *r = &b->res[li];
  memset(r, 0, sizeof *r);
  r->line = b->ln[li];
  const char *line = b->buf + b->off[li];
  size_t len = b->len[li];
  char where[700];
  snprintf(where, sizeof where, "%s:%lld", o->pools[b->fi], (long long)r->line);
  const char *end = NULL;
  cJSON *j = cJSON_ParseWithLengthOpts(line, len, &end, 0);
  if (j && end) {
    while (end < line + len && (*end == ' ' || *end == '\t')) end++;
    if (end < line + len) {
      cJSON_Delete(j);
      j = NULL;
    }
  }
  if (!j || !cJSON_IsObject(j)) {
    r->status = 1;
    size_t n = strlen(where) + 48;
    r->msg = l1k_malloc(n, NULL);
    if (r->msg) snprintf(r->msg, n, "%s: %s", where, j ? "expected a JSON object" : "invalid JSON");
    cJSON_Delete(j);
    return;
  }
  l1k_synth_record rec;
  l1k_err e2 = {0};
  int prc = b->schema == L1K_SCHEMA_AUTO ? L1K_EINPUT
                                          : l1k_synth_parse_ex(j, b->schema, o->fields, where, &rec, 1, &e2);
  if (prc) {
    r->status = prc == L1K_ENOMEM ? 2 : 1;
    char keys[400];
    keys_of(j, keys, sizeof keys);
    cJSON_Delete(j);
    size_t n = strlen(e2.msg) + strlen(keys) + 32;
    r->msg = l1k_malloc(n, NULL);
    if (r->msg) snprintf(r->msg, n, "%s (record keys: %s)", e2.msg[0] ? e2.msg : where, keys);
    return;
  }
  cJSON_Delete(j);
  r->prob_bytes = (uint32_t)strlen(rec.problem);
  r->reas_bytes = (uint32_t)rec.reasoning_len;
  r->sol_bytes = (uint32_t)strlen(rec.solution);
  r->difficulty = (float)rec.difficulty;
  r->domain = rec.domain;
  r->id = rec.id;
  rec.domain = rec.id = NULL;
  r->has_answer = rec.answer != NULL;
  r->domain_ok = !o->domain || (r->domain && ieq(r->domain, o->domain));
  if (r->has_answer && r->domain_ok) {
    size_t nl;
    char *norm = l1k_synth_normalize(rec.problem, strlen(rec.problem), &nl);
    if (!norm) {
      r->status = 2;
      l1k_synth_record_free(&rec);
      return;
    }
    r->th = text_hash(norm, nl);
    r->norm_len = nl;
    uint32_t other;
    gram_ctx g = {c, 0, 0, 0};
    if (c->n_eval && nl && l1k_synth_hashset_get(&c->eval_exact, r->th, &other)) {
      r->contam = 1;
      r->contam_val = other;
    } else if (c->n_eval && nl && l1k_synth_ngrams(norm, nl, o->decontam_n, find_gram, &g) && g.hit) {
      r->contam = 2;
      r->contam_val = g.hit_val;
    } else {
      /* an eval problem shorter than n words (at least 5) inside a longer pool problem */
      for (int w = 5; w < o->decontam_n && w < 64 && !r->contam; w++)
        if ((c->short_mask >> w) & 1 && c->n_eval && nl &&
            l1k_synth_ngrams(norm, nl, w, find_gram, &g) && g.hit) {
          r->contam = 3;
          r->contam_val = g.hit_val;
        }
      if (!r->contam && o->near_dup > 0) l1k_synth_minhash(norm, nl, r->sig, NPERM);
    }
    free(norm);
  }
  l1k_synth_record_free(&rec);
}

static void *batch_worker(void *p) {
  batch *b = p;
  for (size_t i = 0; i < b->n; i++) process_line(b->c, b, i);
  return NULL;
}

static int batch_push(batch *b, const char *line, size_t len, int64_t ln) {
  if (b->n == b->cap) {
    size_t nc = b->cap ? b->cap * 2 : 256;
    size_t *no = l1k_realloc(b->off, nc * sizeof *no, NULL);
    if (no) b->off = no;
    size_t *nl = l1k_realloc(b->len, nc * sizeof *nl, NULL);
    if (nl) b->len = nl;
    int64_t *nn = l1k_realloc(b->ln, nc * sizeof *nn, NULL);
    if (nn) b->ln = nn;
    line_res *nr = l1k_realloc(b->res, nc * sizeof *nr, NULL);
    if (nr) b->res = nr;
    if (!no || !nl || !nn || !nr) return L1K_ENOMEM;
    b->cap = nc;
  }
  if (b->buf_len + len + 1 > b->buf_cap) {
    size_t nc = b->buf_cap ? b->buf_cap : (1 << 20);
    while (b->buf_len + len + 1 > nc) nc *= 2;
    char *nb = l1k_realloc(b->buf, nc, NULL);
    if (!nb) return L1K_ENOMEM;
    b->buf = nb;
    b->buf_cap = nc;
  }
  memcpy(b->buf + b->buf_len, line, len);
  b->buf[b->buf_len + len] = 0;
  b->off[b->n] = b->buf_len;
  b->len[b->n] = len;
  b->ln[b->n] = ln;
  b->n++;
  b->buf_len += len + 1;
  return 0;
}

static void batch_free(batch *b) {
  free(b->buf);
  free(b->off);
  free(b->len);
  free(b->ln);
  free(b->res);
  memset(b, 0, sizeof *b);
}

typedef struct {
  int64_t ok, bad;
  char first_err[1024];
} merge_state;

/* Merges a processed batch in order. */
static int merge_batch(ctx *c, batch *b, merge_state *ms) {
  const l1k_synth_opts *o = c->o;
  const char *path = o->pools[b->fi];
  int rc = 0;
  for (size_t li = 0; li < b->n; li++) {
    line_res *r = &b->res[li];
    if (rc) {
      res_clear(r);
      continue;
    }
    if (r->status == 2 || (r->status == 1 && !r->msg)) {
      rc = l1k_errf(c->err, L1K_ENOMEM, "out of memory");
      res_clear(r);
      continue;
    }
    if (r->status == 1) {
      ms->bad++;
      c->n_malformed++;
      if (!ms->first_err[0]) snprintf(ms->first_err, sizeof ms->first_err, "%s", r->msg);
      /* the keys are for the first error only: cut them from the warning and report */
      char *k = strstr(r->msg, " (record keys: ");
      if (k) *k = 0;
      if (c->n_malformed <= 20)
        l1k_warn("skipping malformed record: %s", r->msg);
      else if (c->n_malformed == 21)
        l1k_warn("more malformed records are skipped without a warning (all are counted and "
                 "listed in the removal report)");
      report_removed(c, path, r->line, NULL, "malformed", r->msg);
      res_clear(r);
      if (ms->ok == 0 && ms->bad >= 100) rc = -1; /* a mapping problem, not a bad record */
      continue;
    }
    ms->ok++;
    c->n_parsed++;
    rmeta m = {0};
    m.file = b->fi;
    m.line = (uint32_t)r->line;
    m.prob_bytes = r->prob_bytes;
    m.reas_bytes = r->reas_bytes;
    m.sol_bytes = r->sol_bytes;
    m.difficulty = r->difficulty;
    m.domain = intern_domain(c, r->domain);
    m.tok_reason = m.tok_sol = -1;
    m.avail_pos = -1;
    m.id_off = (uint32_t)c->ids.len;
    if (r->id && *r->id)
      l1k_buf_puts(&c->ids, r->id);
    else
      l1k_buf_printf(&c->ids, "%s:%lld", base_name(path), (long long)r->line);
    if (l1k_buf_append(&c->ids, "", 1)) {
      rc = l1k_errf(c->err, L1K_ENOMEM, "out of memory");
      res_clear(r);
      continue;
    }
    m.state = ST_ELIGIBLE;
    if ((rc = push_meta(c, &m))) {
      res_clear(r);
      continue;
    }
    uint32_t idx = (uint32_t)(c->n - 1);
    const char *id = rid(c, idx);
    char detail[900];
    uint32_t other;
    if (!r->has_answer) {
      c->r[idx].state = ST_REMOVED;
      c->n_no_answer++;
      report_removed(c, path, r->line, id, "no-final-answer",
                     "no answer field and no \\boxed{} in the solution");
    } else if (!r->domain_ok) {
      c->r[idx].state = ST_REMOVED;
      c->n_domain++;
      snprintf(detail, sizeof detail, "domain '%s' is not '%s'", r->domain ? r->domain : "",
               o->domain);
      report_removed(c, path, r->line, id, "domain", detail);
    } else if (r->contam) {
      c->r[idx].state = ST_REMOVED;
      c->n_contam++;
      if (r->contam == 1)
        snprintf(detail, sizeof detail, "problem text equals %s", c->eval_where[r->contam_val]);
      else if (r->contam == 3)
        snprintf(detail, sizeof detail, "contains the whole (short) problem text of %s",
                 c->eval_where[r->contam_val]);
      else
        snprintf(detail, sizeof detail, "shares a %d-gram of normalized text with %s",
                 o->decontam_n, c->eval_where[r->contam_val]);
      report_removed(c, path, r->line, id, "contaminated", detail);
    } else if (l1k_synth_hashset_get(&c->exact, r->th, &other)) {
      c->r[idx].state = ST_REMOVED;
      c->n_exact++;
      snprintf(detail, sizeof detail, "same normalized problem as %s", rid(c, other));
      report_removed(c, path, r->line, id, "exact-duplicate", detail);
    } else {
      int64_t nd = -1;
      double jac = 0;
      if (o->near_dup > 0) {
        memcpy(c->sigs + (size_t)idx * NPERM, r->sig, sizeof r->sig);
        nd = near_dup(c, idx, &jac);
      }
      if (nd >= 0) {
        c->r[idx].state = ST_REMOVED;
        c->n_near++;
        snprintf(detail, sizeof detail, "near-duplicate of %s (MinHash Jaccard %.2f >= %.2f)",
                 rid(c, (uint32_t)nd), jac, o->near_dup);
        report_removed(c, path, r->line, id, "near-duplicate", detail);
      } else if (l1k_synth_hashset_add(&c->exact, r->th, idx) ||
                 (o->near_dup > 0 && add_bands(c, idx))) {
        rc = l1k_errf(c->err, L1K_ENOMEM, "out of memory");
      }
    }
    res_clear(r);
  }
  b->n = 0;
  b->buf_len = 0;
  b->processed = 0;
  return rc;
}

static int batch_start(batch *b, int threaded) {
  b->running = 0;
  b->processed = 1;
  if (threaded && pthread_create(&b->th, NULL, batch_worker, b) == 0) {
    b->running = 1;
    return 0;
  }
  batch_worker(b); /* one thread, or the thread could not start */
  return 0;
}

static void batch_wait(batch *b) {
  if (b->running) pthread_join(b->th, NULL);
  b->running = 0;
}

static int scan_file(ctx *c, uint32_t fi, l1k_progress *pg, int64_t *bytes_before) {
  const l1k_synth_opts *o = c->o;
  l1k_err *err = c->err;
  const char *path = o->pools[fi];
  l1k_jsonl *jr = l1k_jsonl_open(path, err);
  if (!jr) {
    if (err->code == L1K_EIO) err->code = L1K_EINPUT;
    return err->code ? err->code : L1K_EINPUT;
  }
  l1k_synth_schema schema = o->schema;
  int schema_known = schema != L1K_SCHEMA_AUTO;
  if (schema_known) c->file_schema[fi] = schema;
  int threaded = o->threads != 1;
  batch bt[2];
  memset(bt, 0, sizeof bt);
  int cur = 0;
  merge_state ms;
  memset(&ms, 0, sizeof ms);
  int rc = 0, rrc;
  const char *line;
  size_t len;
  int64_t last_draw = 0;
  const size_t batch_bytes = (size_t)8 << 20;
  for (;;) {
    rrc = l1k_jsonl_next_line(jr, &line, &len, err);
    if (rrc < 0) {
      rc = err->code ? err->code : L1K_EINPUT;
      break;
    }
    if (rrc == 1) {
      int64_t ln = l1k_jsonl_line_no(jr);
      c->n_lines++;
      if (pg && c->n_lines - last_draw >= 256) {
        last_draw = c->n_lines;
        l1k_progress_update(pg, *bytes_before + l1k_jsonl_bytes_read(jr), NULL);
      }
      if (!schema_known) {
        cJSON *j = cJSON_ParseWithLength(line, len);
        if (j && !cJSON_IsObject(j)) {
          cJSON_Delete(j); /* not a record: malformed, the schema waits for an object */
          j = NULL;
        }
        if (j) {
          schema = l1k_synth_detect(j);
          if (schema == L1K_SCHEMA_AUTO) {
            if (o->fields) {
              schema = L1K_SCHEMA_FIELDS;
            } else {
              char keys[400];
              keys_of(j, keys, sizeof keys);
              cJSON_Delete(j);
              rc = l1k_errf(err, L1K_EINPUT, "%s:%lld: cannot tell the pool's schema from the "
                            "keys (%s); expected OpenThoughts-114k (system, conversations), its "
                            "metadata config (problem, deepseek_reasoning, deepseek_solution), "
                            "s1K-1.1 (question, deepseek_thinking_trajectory, deepseek_attempt), "
                            "or a mapping: --field problem=...,reasoning=...,solution=...", path,
                            (long long)ln, keys);
              break;
            }
          }
          cJSON_Delete(j);
          schema_known = 1;
          c->file_schema[fi] = schema;
          /* lines before this one were not JSON: the batch can take the schema now */
          bt[cur].schema = schema;
        }
      }
      batch *b = &bt[cur];
      b->c = c;
      b->fi = fi;
      b->schema = schema;
      if (batch_push(b, line, len, ln)) {
        rc = l1k_errf(err, L1K_ENOMEM, "out of memory");
        break;
      }
      if (b->buf_len < batch_bytes && b->n < 4096) continue;
    }
    /* batch full or end of file: merge the older batch first (file order), start this one */
    batch *other = &bt[cur ^ 1];
    batch_wait(other);
    if (other->n && (rc = merge_batch(c, other, &ms))) break;
    if (bt[cur].n) batch_start(&bt[cur], threaded);
    cur ^= 1;
    if (rrc == 0) {
      batch *last = &bt[cur ^ 1];
      batch_wait(last);
      if (last->n && (rc = merge_batch(c, last, &ms))) break;
      break;
    }
  }
  for (int i = 0; i < 2; i++) {
    batch_wait(&bt[i]);
    for (size_t li = 0; li < bt[i].n; li++) {
      /* results of a batch processed but not merged (error path) */
      if (bt[i].processed) res_clear(&bt[i].res[li]);
    }
    batch_free(&bt[i]);
  }
  if (rc == -1) rc = 0; /* stopped early after 100 bad records: reported below */
  if (rc) {
    l1k_jsonl_close(jr);
    return rc;
  }
  c->n_blank += l1k_jsonl_blank_lines(jr);
  *bytes_before += l1k_jsonl_bytes_read(jr);
  l1k_jsonl_close(jr);
  if (ms.ok == 0 && ms.bad == 0) return 0; /* empty file: the empty pool check is global */
  if (ms.ok == 0)
    return l1k_errf(err, L1K_EINPUT, "%s: no usable record in the first %lld (schema %s); the "
                    "first problem was: %s", path, (long long)ms.bad, l1k_synth_schema_name(schema),
                    ms.first_err);
  return 0;
}

/* ---------------------------------------------------------------- loading ------------ */

static int cmp_idx(const void *a, const void *b, void *p) {
  const ctx *sc = p;
  const rmeta *x = &sc->r[*(const uint32_t *)a], *y = &sc->r[*(const uint32_t *)b];
  if (x->file != y->file) return x->file < y->file ? -1 : 1;
  return x->line < y->line ? -1 : x->line > y->line;
}

static int64_t count_text(ctx *c, const char *s, size_t n) {
  double t0 = l1k_now();
  int64_t t = c->o->count(c->o->count_ctx, s, n, c->err);
  c->t_count += l1k_now() - t0;
  if (t < 0 && !c->err->code) l1k_errf(c->err, L1K_EINTERNAL, "token counter failed");
  return t;
}

static void avail_add(ctx *c, uint32_t i) {
  if (c->r[i].avail_pos >= 0) return;
  if (cpush(c, &c->avail, i)) return;
  c->r[i].avail_pos = (int32_t)(c->avail.len - 1);
}

static void avail_del(ctx *c, uint32_t i) {
  int32_t p = c->r[i].avail_pos;
  if (p < 0) return;
  uint32_t last = c->avail.v[--c->avail.len];
  c->avail.v[p] = last;
  c->r[last].avail_pos = p;
  c->r[i].avail_pos = -1;
}

static void unload(ctx *c, uint32_t i) {
  if (!c->r[i].rec) return;
  c->loaded_bytes -= (size_t)c->r[i].prob_bytes + c->r[i].reas_bytes + c->r[i].sol_bytes;
  l1k_synth_record_free(c->r[i].rec);
  free(c->r[i].rec);
  c->r[i].rec = NULL;
}

/* Loads the texts of idx[0..n) (one streaming pass per file), counts their tokens. */
static int load_set(ctx *c, uint32_t *idx, size_t n) {
  if (!n) return 0;
  l1k_err *err = c->err;
  qsort_r(idx, n, sizeof *idx, cmp_idx, c);
  c->n_loads++;
  size_t k = 0;
  while (k < n) {
    uint32_t fi = c->r[idx[k]].file;
    const char *path = c->o->pools[fi];
    l1k_jsonl *jr = l1k_jsonl_open(path, err);
    if (!jr) return err->code ? err->code : L1K_EIO;
    const char *line;
    size_t len;
    int rc;
    while (k < n && c->r[idx[k]].file == fi && (rc = l1k_jsonl_next_line(jr, &line, &len, err)) == 1) {
      int64_t ln = l1k_jsonl_line_no(jr);
      if (ln != (int64_t)c->r[idx[k]].line) continue;
      uint32_t i = idx[k++];
      cJSON *j = cJSON_ParseWithLength(line, len);
      char where[700];
      snprintf(where, sizeof where, "%s:%lld", path, (long long)ln);
      l1k_synth_record *rec = l1k_calloc(1, sizeof *rec, NULL);
      if (!j || !rec) {
        cJSON_Delete(j);
        free(rec);
        l1k_jsonl_close(jr);
        return l1k_errf(err, j ? L1K_ENOMEM : L1K_EINPUT, "%s: the record changed since it was "
                        "read (the pool file must not change during a run)", where);
      }
      int prc = l1k_synth_parse(j, c->file_schema[fi], c->o->fields, where, rec, err);
      cJSON_Delete(j);
      if (prc) {
        free(rec);
        l1k_jsonl_close(jr);
        return prc;
      }
      if (rec->reasoning_len != c->r[i].reas_bytes) {
        l1k_synth_record_free(rec);
        free(rec);
        l1k_jsonl_close(jr);
        return l1k_errf(err, L1K_EINPUT, "%s: the record changed since it was read (the pool "
                        "file must not change during a run)", where);
      }
      c->r[i].rec = rec;
      c->r[i].loaded_once = 1;
      c->loaded_bytes += (size_t)c->r[i].prob_bytes + c->r[i].reas_bytes + c->r[i].sol_bytes;
      if (c->r[i].tok_reason < 0) {
        int64_t t = count_text(c, rec->reasoning, c->r[i].reas_bytes);
        if (t < 0) {
          l1k_jsonl_close(jr);
          return err->code;
        }
        c->r[i].tok_reason = (int32_t)t;
        c->sum_tok_bytes += c->r[i].reas_bytes;
        c->sum_tok += (double)t;
        c->n_counted++;
        if (c->o->count_mode == L1K_COUNT_RESPONSE) {
          t = count_text(c, rec->solution, c->r[i].sol_bytes);
          if (t < 0) {
            l1k_jsonl_close(jr);
            return err->code;
          }
          c->r[i].tok_sol = (int32_t)t;
        }
      }
      if (c->r[i].state == ST_ELIGIBLE) avail_add(c, i);
    }
    l1k_jsonl_close(jr);
    if (k < n && c->r[idx[k]].file == fi)
      return l1k_errf(err, L1K_EINPUT, "%s:%u: record not found on a second read (the pool "
                      "file must not change during a run)", path, c->r[idx[k]].line);
  }
  if (c->sum_tok > 0) c->bytes_per_tok = c->sum_tok_bytes / c->sum_tok;
  return 0;
}

static int in_class(ctx *c, uint32_t i, int cl);

/* Evicts loaded, unused records (oldest first in the available list) to make room. */
static void make_room(ctx *c, size_t want) {
  size_t i = 0;
  while (c->loaded_bytes + want > c->budget && i < c->avail.len) {
    uint32_t r = c->avail.v[i];
    avail_del(c, r);
    unload(c, r); /* still eligible: a later batch may load it again */
  }
}

/* Loads up to `want` more records of class cl. Returns the number loaded (0: exhausted). */
static double plan_tok(ctx *c, uint32_t i);

static int64_t grow(ctx *c, int cl, size_t want, double max_tok) {
  u32vec sel = {0};
  size_t bytes = 0;
  /* a class gone through three times without making progress counts as exhausted (a memory
   * budget too small for one sample: loaded records get evicted and loaded again) */
  if (c->loaded_total[cl] > 3 * c->class_size[cl] + 256) return 0;
  size_t L = c->cls[cl].len;
  if (!L) return 0;
  double bpt = c->bytes_per_tok > 0 ? c->bytes_per_tok : 3.5;
  int resp = c->o->count_mode == L1K_COUNT_RESPONSE;
  /* a ring over the class' random order: records skipped (too long for this target) or
   * evicted stay for later batches and later bins */
  size_t start = c->cursor[cl] % L, q = 0;
  for (; q < L && sel.len < want; q++) {
    uint32_t i = c->cls[cl].v[(start + q) % L];
    const rmeta *m = &c->r[i];
    if (m->state != ST_ELIGIBLE || m->rec) continue;
    if (max_tok > 0) {
      double t = m->tok_reason >= 0 ? plan_tok(c, i)
                                    : (m->reas_bytes + (resp ? m->sol_bytes : 0)) / bpt / 1.3;
      if (t > max_tok) continue;
    }
    size_t rb = (size_t)m->prob_bytes + m->reas_bytes + m->sol_bytes;
    if (sel.len >= 64 && bytes + rb > c->budget) break; /* the rest in a later batch */
    if (u32_push(&sel, i)) {
      free(sel.v);
      l1k_errf(c->err, L1K_ENOMEM, "out of memory");
      return -1;
    }
    bytes += rb;
  }
  c->cursor[cl] = (start + q) % L;
  if (!sel.len) {
    free(sel.v);
    return 0;
  }
  if (c->loaded_bytes + bytes > c->budget) make_room(c, bytes);
  int rc = load_set(c, sel.v, sel.len);
  int64_t got = (int64_t)sel.len;
  c->loaded_total[cl] += sel.len;
  free(sel.v);
  if (rc) return -1;
  return got;
}

static int in_class(ctx *c, uint32_t i, int cl) {
  const rmeta *m = &c->r[i];
  double T = c->o->difficulty_threshold;
  switch (cl) {
    case CL_EASY: return !isnan(m->difficulty) && m->difficulty < T;
    case CL_HARD: return !isnan(m->difficulty) && m->difficulty > T;
    case CL_SINGLE:
      return !c->o->n_single_pools || m->file >= c->o->n_pools - c->o->n_single_pools;
    default: return m->file < c->o->n_pools - c->o->n_single_pools;
  }
}

/* ---------------------------------------------------------------- composition -------- */

typedef struct {
  l1k_buf prompt, reasoning, response;
  int64_t prompt_tok, reasoning_tok, response_tok;
} sample_text;

static void sample_free(sample_text *s) {
  l1k_buf_free(&s->prompt);
  l1k_buf_free(&s->reasoning);
  l1k_buf_free(&s->response);
}

/* Builds prompt, joined reasoning and response for records sel[0..k). */
static int assemble(ctx *c, const uint32_t *sel, int k, sample_text *s) {
  const l1k_synth_template *t = &c->tpl;
  s->prompt.len = s->reasoning.len = s->response.len = 0;
  l1k_buf_append(&s->prompt, NULL, 0);
  l1k_buf_append(&s->reasoning, NULL, 0);
  l1k_buf_append(&s->response, NULL, 0);
  int rc = 0;
  l1k_synth_vars v = {k, 1, NULL, NULL};
  if (k == 1) {
    v.problem = c->r[sel[0]].rec->problem;
    rc |= l1k_synth_fill(&s->prompt, t->single_prompt, &v);
    rc |= l1k_buf_puts(&s->reasoning, c->r[sel[0]].rec->reasoning);
  } else {
    rc |= l1k_synth_fill(&s->prompt, t->prompt_intro, &v);
    for (int i = 0; i < k; i++) {
      v.i = i + 1;
      v.problem = c->r[sel[i]].rec->problem;
      rc |= l1k_buf_puts(&s->prompt, "\n\n");
      rc |= l1k_synth_fill(&s->prompt, t->problem_label, &v);
      rc |= l1k_buf_puts(&s->prompt, c->r[sel[i]].rec->problem);
    }
    if (t->prompt_outro[0]) {
      rc |= l1k_buf_puts(&s->prompt, "\n\n");
      rc |= l1k_synth_fill(&s->prompt, t->prompt_outro, &v);
    }
    /* linking phrases: a random order of the phrases, so a sample repeats none while it can */
    size_t nl = t->n_links;
    uint32_t order[64];
    size_t no = nl < 64 ? nl : 64;
    for (size_t i = 0; i < no; i++) order[i] = (uint32_t)i;
    shuffle(c, order, no);
    if (t->first_link[0]) {
      v.i = 1;
      v.problem = c->r[sel[0]].rec->problem;
      rc |= l1k_synth_fill(&s->reasoning, t->first_link, &v);
      rc |= l1k_buf_puts(&s->reasoning, "\n\n");
    }
    for (int i = 0; i < k; i++) {
      if (i) {
        v.i = i + 1;
        v.problem = c->r[sel[i]].rec->problem;
        rc |= l1k_buf_puts(&s->reasoning, "\n\n");
        rc |= l1k_synth_fill(&s->reasoning, t->links[order[(size_t)(i - 1) % no]], &v);
        rc |= l1k_buf_puts(&s->reasoning, "\n\n");
      }
      rc |= l1k_buf_puts(&s->reasoning, c->r[sel[i]].rec->reasoning);
    }
  }
  const char *open = "", *mid = "\n\n", *close = "";
  if (c->o->format == L1K_FMT_THINK) {
    open = "<think>\n";
    mid = "\n</think>\n\n";
  } else if (c->o->format == L1K_FMT_OPENTHOUGHTS) {
    open = "<|begin_of_thought|>\n\n";
    mid = "\n\n<|end_of_thought|>\n\n<|begin_of_solution|>\n\n";
    close = "\n\n<|end_of_solution|>";
  }
  rc |= l1k_buf_puts(&s->response, open);
  rc |= l1k_buf_append(&s->response, s->reasoning.data, s->reasoning.len);
  rc |= l1k_buf_puts(&s->response, mid);
  for (int i = 0; i < k; i++) {
    const l1k_synth_record *r = c->r[sel[i]].rec;
    v.i = i + 1;
    v.answer = r->answer;
    v.problem = r->problem;
    if (i) rc |= l1k_buf_puts(&s->response, "\n\n");
    if (k > 1) rc |= l1k_synth_fill(&s->response, t->solution_label, &v);
    rc |= l1k_buf_puts(&s->response, r->solution);
    rc |= l1k_buf_puts(&s->response, "\n\n");
    rc |= l1k_synth_fill(&s->response, k > 1 ? t->final_answer : t->single_final_answer, &v);
  }
  rc |= l1k_buf_puts(&s->response, close);
  if (rc) return l1k_errf(c->err, L1K_ENOMEM, "out of memory");
  return 0;
}

/* Planned tokens of one record (the measured part). */
static double plan_tok(ctx *c, uint32_t i) {
  const rmeta *m = &c->r[i];
  double t = m->tok_reason;
  if (c->o->count_mode == L1K_COUNT_RESPONSE) t += m->tok_sol + 25;
  return t;
}

static double plan_overhead(ctx *c, int k) {
  double t = k > 1 ? c->link_tokens * k : 0; /* first link + k-1 links */
  if (c->o->count_mode == L1K_COUNT_RESPONSE) t += 12;
  return t;
}

typedef struct {
  int64_t lo, hi;   /* 0,0: no length control */
  int k;            /* fixed count, 0 = adaptive */
  int kmin;         /* adaptive: at least this many */
  int cl;           /* class */
} want_t;

static int usable(ctx *c, uint32_t i, const want_t *w, const uint32_t *sel, int ns) {
  if (!in_class(c, i, w->cl)) return 0;
  for (int j = 0; j < ns; j++)
    if (sel[j] == i) return 0;
  return 1;
}

/* A random available record of the class with planned tokens in [a,b]; -1 if none. */
/* A random available record of the class with planned tokens in [a,b] but not strictly inside
 * the gap (ga,gb) (an empty gap when ga >= gb); -1 if none. */
static int64_t pick(ctx *c, const want_t *w, double a, double b, double ga, double gb,
                    const uint32_t *sel, int ns) {
  size_t n = c->avail.len;
  if (!n || a > b) return -1;
#define FITS(p) ((p) >= a && (p) <= b && !((p) > ga && (p) < gb))
  for (int t = 0; t < 48; t++) {
    uint32_t i = c->avail.v[rnd_below(c, n)];
    double p = plan_tok(c, i);
    if (FITS(p) && usable(c, i, w, sel, ns)) return i;
  }
  size_t cnt = 0;
  for (size_t q = 0; q < n; q++) {
    uint32_t i = c->avail.v[q];
    double p = plan_tok(c, i);
    if (FITS(p) && usable(c, i, w, sel, ns)) cnt++;
  }
  if (!cnt) return -1;
  size_t want = rnd_below(c, cnt);
  for (size_t q = 0; q < n; q++) {
    uint32_t i = c->avail.v[q];
    double p = plan_tok(c, i);
    if (FITS(p) && usable(c, i, w, sel, ns) && want-- == 0) return i;
  }
#undef FITS
  return -1;
}

#define KMAX 64

/* Tries to compose one sample from the available records. 1: made (sel, k, text, counts set),
 * 0: not possible with what is loaded now, <0: error. */
static int try_sample(ctx *c, const want_t *w, uint32_t *sel, int *kout, sample_text *s) {
  int tries = 64;
  int has_target = w->hi > 0;
  /* shortest and longest available records of the class: a pick must leave the rest of the
   * sample completable (no dead ends such as a first problem too long to add a second) */
  double minv = 1e18, maxv = 0;
  for (size_t q = 0; q < c->avail.len; q++) {
    uint32_t i = c->avail.v[q];
    if (!in_class(c, i, w->cl)) continue;
    double p = plan_tok(c, i);
    if (p < minv) minv = p;
    if (p > maxv) maxv = p;
  }
  for (int t = 0; t < tries; t++) {
    int k = 0;
    if (!has_target) {
      int kk = w->k ? w->k : 2;
      for (k = 0; k < kk; k++) {
        int64_t i = pick(c, w, -1, 1e18, 0, 0, sel, k);
        if (i < 0) return 0;
        sel[k] = (uint32_t)i;
      }
    } else {
      double m = fmin(4.0 + 2.0 * (w->k ? w->k : 4), (double)(w->hi - w->lo) / 4.0);
      double lo = (double)w->lo + m, hi = (double)w->hi - m;
      if (w->k) {
        double s0 = plan_overhead(c, w->k);
        for (k = 0; k < w->k - 1; k++) {
          double r = (double)(w->k - 1 - k); /* picks still to come after this one */
          int64_t i = pick(c, w, lo - s0 - r * maxv, hi - s0 - r * minv, 0, 0, sel, k);
          if (i < 0) break;
          sel[k] = (uint32_t)i;
          s0 += plan_tok(c, (uint32_t)i);
        }
        if (k < w->k - 1) continue;
        int64_t i = pick(c, w, lo - s0, hi - s0, 0, 0, sel, k);
        if (i < 0) continue;
        sel[k++] = (uint32_t)i;
      } else {
        double s0 = 0;
        int kmin = w->kmin ? w->kmin : 1;
        while (k < KMAX) {
          double ov1 = plan_overhead(c, k + 1), ov2 = plan_overhead(c, k + 2);
          if (k >= kmin && s0 + plan_overhead(c, k) >= lo) break;
          double cont_hi = hi - s0 - ov2 - minv; /* at most this: another problem still fits */
          double upper = hi - s0 - ov1;
          int64_t i;
          if (k + 1 < kmin) {
            i = pick(c, w, 0, cont_hi, 0, 0, sel, k);
          } else {
            double done_lo = lo - s0 - ov1; /* at least this: the sample is complete */
            i = pick(c, w, 0, upper, cont_hi, done_lo, sel, k);
          }
          if (i < 0) break;
          sel[k++] = (uint32_t)i;
          s0 += plan_tok(c, (uint32_t)i);
        }
        if (k < kmin || s0 + plan_overhead(c, k) < lo) continue;
      }
    }
    if (assemble(c, sel, k, s)) return -1;
    int64_t rt = count_text(c, s->reasoning.data, s->reasoning.len);
    if (rt < 0) return -1;
    int64_t pt = count_text(c, s->prompt.data, s->prompt.len);
    if (pt < 0) return -1;
    int64_t st = count_text(c, s->response.data, s->response.len);
    if (st < 0) return -1;
    int64_t measured = c->o->count_mode == L1K_COUNT_RESPONSE ? st : rt;
    if (has_target && (measured < w->lo || measured > w->hi)) continue;
    s->reasoning_tok = rt;
    s->prompt_tok = pt;
    s->response_tok = st;
    *kout = k;
    return 1;
  }
  return 0;
}

/* ---------------------------------------------------------------- output ------------- */

typedef struct {
  int64_t bin;       /* -1 none */
  const char *set;   /* NULL, "easy", "hard" */
  int64_t pair;      /* -1 none */
  int single;
} sample_tags;

/* a JSON string of s[0, n) with invalid UTF-8 repaired (each ill-formed sequence -> U+FFFD,
 * counted): JSON readers reject raw bytes */
static int jstr(ctx *c, l1k_buf *b, const char *s, size_t n) {
  l1k_buf fixed = {0};
  int r = l1k_utf8_repair(&fixed, s, n);
  if (r < 0) return -1;
  if (r > 0) c->n_utf8_repaired++;
  int rc = r > 0 ? l1k_buf_json_string(b, fixed.data, fixed.len) : l1k_buf_json_string(b, s, n);
  l1k_buf_free(&fixed);
  return rc;
}

static int write_sample(ctx *c, FILE *f, const uint32_t *sel, int k, const sample_text *s,
                        const sample_tags *tg) {
  l1k_buf b = {0};
  const char *sys = c->o->system;
  int rc = 0;
  if (c->o->outfmt == L1K_OUT_SHAREGPT) {
    rc |= l1k_buf_puts(&b, "{");
    if (sys) {
      rc |= l1k_buf_puts(&b, "\"system\":");
      rc |= jstr(c, &b, sys, strlen(sys));
      rc |= l1k_buf_puts(&b, ",");
    }
    rc |= l1k_buf_puts(&b, "\"conversations\":[{\"from\":\"human\",\"value\":");
    rc |= jstr(c, &b, s->prompt.data, s->prompt.len);
    rc |= l1k_buf_puts(&b, "},{\"from\":\"gpt\",\"value\":");
    rc |= jstr(c, &b, s->response.data, s->response.len);
    rc |= l1k_buf_puts(&b, "}]");
  } else {
    rc |= l1k_buf_puts(&b, "{\"messages\":[");
    if (sys) {
      rc |= l1k_buf_puts(&b, "{\"role\":\"system\",\"content\":");
      rc |= jstr(c, &b, sys, strlen(sys));
      rc |= l1k_buf_puts(&b, "},");
    }
    rc |= l1k_buf_puts(&b, "{\"role\":\"user\",\"content\":");
    rc |= jstr(c, &b, s->prompt.data, s->prompt.len);
    rc |= l1k_buf_puts(&b, "},{\"role\":\"assistant\",\"content\":");
    rc |= jstr(c, &b, s->response.data, s->response.len);
    rc |= l1k_buf_puts(&b, "}]");
  }
  rc |= l1k_buf_puts(&b, ",\"meta\":{\"sources\":[");
  for (int i = 0; i < k; i++) {
    const char *id = rid(c, sel[i]);
    if (i) rc |= l1k_buf_puts(&b, ",");
    rc |= jstr(c, &b, id, strlen(id));
  }
  rc |= l1k_buf_puts(&b, "],\"answers\":[");
  for (int i = 0; i < k; i++) {
    const char *a = c->r[sel[i]].rec->answer;
    if (i) rc |= l1k_buf_puts(&b, ",");
    rc |= jstr(c, &b, a, strlen(a));
  }
  rc |= l1k_buf_printf(&b, "],\"k\":%d,\"prompt_tokens\":%lld,\"reasoning_tokens\":%lld,"
                       "\"response_tokens\":%lld,\"count\":\"%s\",\"format\":\"%s\"",
                       k, (long long)s->prompt_tok, (long long)s->reasoning_tok,
                       (long long)s->response_tok,
                       c->o->count_mode == L1K_COUNT_RESPONSE ? "response" : "reasoning",
                       c->o->format == L1K_FMT_THINK ? "think"
                       : c->o->format == L1K_FMT_OPENTHOUGHTS ? "openthoughts" : "plain");
  if (tg->bin >= 0) rc |= l1k_buf_printf(&b, ",\"bin\":%lld", (long long)tg->bin);
  else rc |= l1k_buf_puts(&b, ",\"bin\":null");
  if (tg->single) rc |= l1k_buf_puts(&b, ",\"single\":true");
  if (tg->set) rc |= l1k_buf_printf(&b, ",\"set\":\"%s\",\"pair\":%lld", tg->set, (long long)tg->pair);
  double dsum = 0;
  int dn = 0;
  for (int i = 0; i < k; i++)
    if (!isnan(c->r[sel[i]].difficulty)) dsum += c->r[sel[i]].difficulty, dn++;
  if (dn) rc |= l1k_buf_printf(&b, ",\"difficulty\":%.6g", dsum / dn);
  rc |= l1k_buf_puts(&b, "}}\n");
  if (rc) {
    l1k_buf_free(&b);
    return l1k_errf(c->err, L1K_ENOMEM, "out of memory");
  }
  size_t len = b.len, w = fwrite(b.data, 1, len, f);
  l1k_buf_free(&b);
  if (w != len) return l1k_errf(c->err, L1K_EIO, "writing the output: %s", strerror(errno));
  return 0;
}

/* ---------------------------------------------------------------- stats -------------- */

typedef struct {
  char name[64];     /* "all", "1000", "easy", ... */
  int64_t lo, hi;
  int64_t n, singles;
  int64_t k_hist[KMAX + 1];
  int64_t *vals;     /* measured tokens of each sample */
  size_t nv, cv;
  int64_t sum_reason, sum_resp, sum_prompt;
} set_stats;

static int stats_add(set_stats *st, int k, const sample_text *s, int64_t measured, int single) {
  if (st->nv == st->cv) {
    size_t nc = st->cv ? st->cv * 2 : 64;
    int64_t *p = l1k_realloc(st->vals, nc * sizeof *p, NULL);
    if (!p) return L1K_ENOMEM;
    st->vals = p;
    st->cv = nc;
  }
  st->vals[st->nv++] = measured;
  st->n++;
  st->singles += single;
  st->k_hist[k <= KMAX ? k : KMAX]++;
  st->sum_reason += s->reasoning_tok;
  st->sum_resp += s->response_tok;
  st->sum_prompt += s->prompt_tok;
  return 0;
}

/* ---------------------------------------------------------------- sets --------------- */

typedef struct {
  FILE *f;
  l1k_atomic_file af;
  char *path;
  int open;
} out_file;

static int open_out(ctx *c, out_file *of, const char *path) {
  of->path = l1k_strdup(path, NULL);
  if (!of->path) return l1k_errf(c->err, L1K_ENOMEM, "out of memory");
  if (l1k_atomic_open(&of->af, path, c->err)) {
    if (c->err->code == L1K_EIO) c->err->code = L1K_EINPUT;
    return c->err->code;
  }
  of->f = of->af.f;
  of->open = 1;
  return 0;
}

static void close_out(out_file *of, int commit, l1k_err *err) {
  if (of->open) {
    if (commit) l1k_atomic_commit(&of->af, err);
    else l1k_atomic_abort(&of->af);
  }
  of->open = 0;
  free(of->path);
  of->path = NULL;
}

/* "dir/x.jsonl" + "easy" -> "dir/x.easy.jsonl"; "{bin}" placeholders replaced. */
static char *derive_path(const char *out, const char *tag) {
  const char *ph = strstr(out, "{bin}");
  size_t n = strlen(out) + strlen(tag) + 16;
  char *p = l1k_malloc(n, NULL);
  if (!p) return NULL;
  if (ph) {
    snprintf(p, n, "%.*s%s%s", (int)(ph - out), out, tag, ph + 5);
    return p;
  }
  const char *slash = strrchr(out, '/');
  const char *dot = strrchr(out, '.');
  if (dot && (!slash || dot > slash + 1) && !strcmp(dot, ".gz")) {
    const char *d2 = dot - 1;
    while (d2 > out && *d2 != '.' && *d2 != '/') d2--;
    if (*d2 == '.' && (!slash || d2 > slash + 1)) dot = d2;
  }
  if (!dot || (slash && dot < slash) || (slash && dot == slash + 1) || dot == out)
    snprintf(p, n, "%s.%s", out, tag);
  else
    snprintf(p, n, "%.*s.%s%s", (int)(dot - out), out, tag, dot);
  return p;
}

static void mark_used(ctx *c, const uint32_t *sel, int k) {
  for (int i = 0; i < k; i++) {
    uint32_t r = sel[i];
    c->r[r].state = ST_USED;
    c->used_per_file[c->r[r].file]++;
    avail_del(c, r);
  }
}

static void release(ctx *c, const uint32_t *sel, int k) {
  for (int i = 0; i < k; i++) unload(c, sel[i]);
}

static int cmp_bytes(const void *a, const void *b, void *p) {
  const ctx *sc = p;
  const rmeta *x = &sc->r[*(const uint32_t *)a], *y = &sc->r[*(const uint32_t *)b];
  int resp = sc->o->count_mode == L1K_COUNT_RESPONSE;
  uint32_t u = resp ? x->reas_bytes + x->sol_bytes : x->reas_bytes;
  uint32_t v = resp ? y->reas_bytes + y->sol_bytes : y->reas_bytes;
  return u < v ? -1 : u > v;
}

/* Reachable range of the measured tokens for a class (exact counts of the longest and
 * shortest records by bytes, which are loaded for it). */
static int reach_check(ctx *c, const want_t *w, const char *what) {
  if (w->hi <= 0) return 0;
  /* collect the class' eligible records ordered by reasoning bytes */
  u32vec all = {0};
  for (size_t i = 0; i < c->n; i++)
    if (c->r[i].state == ST_ELIGIBLE && in_class(c, (uint32_t)i, w->cl)) cpush(c, &all, (uint32_t)i);
  if (!all.len) {
    free(all.v);
    return 0;
  }
  int k = w->k ? w->k : KMAX;
  int kmin = w->k ? w->k : (w->kmin ? w->kmin : 1);
  /* partial selection: the kx longest and kx shortest by bytes */
  size_t kx = (size_t)(k + 8) < all.len ? (size_t)(k + 8) : all.len;
  size_t kn = (size_t)(kmin + 8) < all.len ? (size_t)(kmin + 8) : all.len;
  /* sort all by reasoning bytes (n log n on the pool; cheap next to pass 1) */
  qsort_r(all.v, all.len, sizeof *all.v, cmp_bytes, c);
  u32vec need = {0};
  for (size_t i = 0; i < kx; i++) {
    uint32_t r = all.v[all.len - 1 - i];
    if (c->r[r].tok_reason < 0 && !c->r[r].rec) cpush(c, &need, r);
  }
  for (size_t i = 0; i < kn; i++) {
    uint32_t r = all.v[i];
    if (c->r[r].tok_reason < 0 && !c->r[r].rec) {
      int dup = 0;
      for (size_t q = 0; q < need.len; q++) dup |= need.v[q] == r;
      if (!dup) cpush(c, &need, r);
    }
  }
  int rc = load_set(c, need.v, need.len);
  /* these were loaded only to measure: keep them available (they are valid candidates) */
  free(need.v);
  if (rc) {
    free(all.v);
    return rc;
  }
  /* exact extremes among the measured ones */
  double maxsum = 0, minsum = 0;
  {
    double tops[KMAX + 8];
    size_t nt = 0;
    for (size_t i = 0; i < kx; i++) tops[nt++] = plan_tok(c, all.v[all.len - 1 - i]);
    for (size_t a = 0; a < nt; a++)
      for (size_t b = a + 1; b < nt; b++)
        if (tops[b] > tops[a]) {
          double t = tops[a];
          tops[a] = tops[b];
          tops[b] = t;
        }
    for (int i = 0; i < k && (size_t)i < nt; i++) maxsum += tops[i];
    maxsum += plan_overhead(c, k < (int)all.len ? k : (int)all.len);
    double bots[KMAX + 8];
    size_t nb = 0;
    for (size_t i = 0; i < kn; i++) bots[nb++] = plan_tok(c, all.v[i]);
    for (size_t a = 0; a < nb; a++)
      for (size_t b = a + 1; b < nb; b++)
        if (bots[b] < bots[a]) {
          double t = bots[a];
          bots[a] = bots[b];
          bots[b] = t;
        }
    for (int i = 0; i < kmin && (size_t)i < nb; i++) minsum += bots[i];
    minsum += plan_overhead(c, kmin);
  }
  size_t have = all.len;
  free(all.v);
  if ((size_t)kmin > have)
    return l1k_errf(c->err, L1K_EINPUT, "%s: the pool has %zu eligible records, fewer than the "
                    "%d problems a sample needs", what, have, kmin);
  if (maxsum < (double)w->lo * 0.98 || minsum > (double)w->hi * 1.02) {
    if (w->k)
      return l1k_errf(c->err, L1K_EINPUT, "%s: target %lld:%lld %s tokens cannot be reached "
                      "with %d problems per sample: reachable is about %.0f..%.0f tokens",
                      what, (long long)w->lo, (long long)w->hi,
                      c->o->count_mode == L1K_COUNT_RESPONSE ? "response" : "reasoning", w->k,
                      minsum, maxsum);
    return l1k_errf(c->err, L1K_EINPUT, "%s: target %lld:%lld %s tokens cannot be reached: "
                    "reachable is about %.0f..%.0f tokens (%d to %d problems per sample)", what,
                    (long long)w->lo, (long long)w->hi,
                    c->o->count_mode == L1K_COUNT_RESPONSE ? "response" : "reasoning", minsum,
                    maxsum, kmin, k);
  }
  return 0;
}

/* Loads records of class cl whose estimated length suits [lo,hi] (for single samples). */
static int64_t grow_targeted(ctx *c, int cl, int64_t lo, int64_t hi, size_t want) {
  u32vec sel = {0};
  double bpt = c->bytes_per_tok > 0 ? c->bytes_per_tok : 3.5;
  for (size_t q = 0; q < c->cls[cl].len && sel.len < want; q++) {
    uint32_t i = c->cls[cl].v[q];
    const rmeta *m = &c->r[i];
    if (m->state != ST_ELIGIBLE || m->rec || m->tok_reason >= 0) continue;
    double b = m->reas_bytes + (c->o->count_mode == L1K_COUNT_RESPONSE ? m->sol_bytes : 0);
    double est = b / bpt;
    /* wide: a record's bytes per token varies; exact counts decide after loading */
    if (est >= lo * 0.6 && est <= hi * 1.6) cpush(c, &sel, i);
  }
  if (!sel.len) {
    free(sel.v);
    return 0;
  }
  int rc = load_set(c, sel.v, sel.len);
  int64_t n = (int64_t)sel.len;
  free(sel.v);
  return rc ? -1 : n;
}

/* Makes n samples for want w into f. singles: how many of them are single records meeting the
 * target. */
static int make_set(ctx *c, const want_t *w0, int64_t n, int64_t singles, FILE *f,
                    const sample_tags *tg0, set_stats *st, l1k_progress *pg, int64_t *done) {
  want_t w = *w0;
  /* order of singles among the samples */
  uint8_t *is_single = l1k_calloc((size_t)(n ? n : 1), 1, NULL);
  if (!is_single) return l1k_errf(c->err, L1K_ENOMEM, "out of memory");
  for (int64_t i = 0; i < singles && i < n; i++) is_single[i] = 1;
  for (int64_t i = n; i > 1; i--) {
    size_t j = rnd_below(c, (size_t)i);
    uint8_t t = is_single[i - 1];
    is_single[i - 1] = is_single[j];
    is_single[j] = t;
  }
  uint32_t sel[KMAX];
  sample_text s = {0};
  int rc = 0;
  double avg_k = w.k ? w.k : 2;
  int fails = 0;
  size_t boost = 1; /* batches double while draws keep missing */
  for (int64_t q = 0; q < n; q++) {
    want_t ww = w;
    if (is_single[q]) {
      ww.k = 1;
      ww.cl = CL_SINGLE;
    }
    int k = 0, got = 0;
    for (;;) {
      got = try_sample(c, &ww, sel, &k, &s);
      if (got < 0) {
        rc = c->err->code ? c->err->code : L1K_EINTERNAL;
        goto out;
      }
      if (got) break;
      /* need more records loaded */
      int64_t more;
      size_t left = (size_t)(n - q);
      size_t want = (size_t)(left * (ww.k ? ww.k : avg_k) * 1.3) + 64;
      if (is_single[q] && w.hi > 0) {
        /* singles: only records whose length can fit are worth loading; once all of those
         * are counted, loading random others will not help */
        more = grow_targeted(c, CL_SINGLE, w.lo, w.hi, (size_t)(left * 3) + 64);
        if (more == 0 && ++fails > 2) {
          rc = l1k_errf(c->err, L1K_EINPUT, "%s: made %lld of %lld samples: no more single "
                        "records meet the target %lld:%lld (lower --mix-single, or give "
                        "--single-pool records that long)", st->name, (long long)q,
                        (long long)n, (long long)w.lo, (long long)w.hi);
          goto out;
        }
        if (more < 0) {
          rc = c->err->code ? c->err->code : L1K_EINTERNAL;
          goto out;
        }
        continue;
      }
      more = grow(c, ww.cl, want * boost, w.hi > 0 ? (double)w.hi : 0);
      if (boost < 64) boost *= 2;
      if (more < 0) {
        rc = c->err->code ? c->err->code : L1K_EINTERNAL;
        goto out;
      }
      if (more == 0) {
        /* nothing left to load: give up */
        if (++fails > 2) {
          rc = l1k_errf(c->err, L1K_EINPUT, "%s: made %lld of %lld %ssamples: the pool has no "
                        "more unused records that fit (target %lld:%lld, %zu records loaded and "
                        "unused; a larger --memory-budget may help)", st->name, (long long)q, (long long)n,
                        is_single[q] ? "single " : "", (long long)w.lo, (long long)w.hi,
                        c->avail.len);
          goto out;
        }
      }
    }
    fails = 0;
    boost = 1;
    mark_used(c, sel, k);
    int64_t measured = c->o->count_mode == L1K_COUNT_RESPONSE ? s.response_tok : s.reasoning_tok;
    sample_tags tg = *tg0;
    tg.single = is_single[q];
    if (tg.pair >= 0) tg.pair = q;
    if ((rc = write_sample(c, f, sel, k, &s, &tg))) goto out;
    if (stats_add(st, k, &s, measured, is_single[q])) {
      rc = l1k_errf(c->err, L1K_ENOMEM, "out of memory");
      goto out;
    }
    avg_k = (avg_k * 3 + k) / 4;
    release(c, sel, k);
    (*done)++;
    if (pg) l1k_progress_update(pg, *done, NULL);
  }
out:
  sample_free(&s);
  free(is_single);
  return rc;
}

/* The controlled study: pairs (single hard record, easy records joined to its length). */
static int make_study(ctx *c, FILE *fe, FILE *fh, set_stats *se, set_stats *sh,
                      l1k_progress *pg, int64_t *done) {
  const l1k_synth_opts *o = c->o;
  int64_t n = o->samples;
  uint32_t hsel[1], esel[KMAX];
  sample_text hs = {0}, es = {0};
  int rc = 0;
  want_t wh = {o->target_max > 0 ? o->target_min : 0, o->target_max, 1, 1, CL_HARD};
  for (int64_t q = 0; q < n; q++) {
    int made = 0;
    int attempts = 0;
    while (!made) {
      int k;
      int got = try_sample(c, &wh, hsel, &k, &hs);
      if (got < 0) {
        rc = c->err->code;
        goto out;
      }
      if (!got) {
        int64_t more = grow(c, CL_HARD, (size_t)(n - q) * 2 + 16,
                            o->target_max > 0 ? (double)o->target_max : 0);
        if (more < 0) {
          rc = c->err->code;
          goto out;
        }
        if (more == 0) {
          rc = l1k_errf(c->err, L1K_EINPUT, "difficulty study: made %lld of %lld pairs: no more "
                        "difficult records (difficulty > %g%s) in the pool", (long long)q,
                        (long long)n, o->difficulty_threshold,
                        o->target_max > 0 ? " within the target" : "");
          goto out;
        }
        continue;
      }
      int64_t hv = o->count_mode == L1K_COUNT_RESPONSE ? hs.response_tok : hs.reasoning_tok;
      /* easy: joined (k >= 2) to within 5% of hv */
      want_t we = {(int64_t)ceil(hv * 0.951), (int64_t)floor(hv * 1.049), 0, 2, CL_EASY};
      /* hold the hard record out of the available list while trying */
      avail_del(c, hsel[0]);
      int eg = 0;
      for (int g = 0; g < 4 && !eg; g++) {
        eg = try_sample(c, &we, esel, &k, &es);
        if (eg < 0) {
          rc = c->err->code;
          goto out;
        }
        if (!eg) {
          int64_t more = grow(c, CL_EASY, (size_t)(n - q) * 4 + 64, (double)we.hi);
          if (more < 0) {
            rc = c->err->code;
            goto out;
          }
          if (more == 0 && g >= 1) break;
        }
      }
      if (!eg) {
        /* this hard record cannot be matched: drop it from the study, try another */
        c->r[hsel[0]].state = ST_REMOVED;
        c->n_hard_unmatched++;
        unload(c, hsel[0]);
        if (++attempts > 200) {
          rc = l1k_errf(c->err, L1K_EINPUT, "difficulty study: made %lld of %lld pairs: easy "
                        "records (difficulty < %g) cannot be joined to the length of the "
                        "difficult ones", (long long)q, (long long)n, o->difficulty_threshold);
          goto out;
        }
        continue;
      }
      mark_used(c, hsel, 1);
      mark_used(c, esel, k);
      sample_tags th = {-1, "hard", q, 0}, te = {-1, "easy", q, 0};
      if ((rc = write_sample(c, fh, hsel, 1, &hs, &th))) goto out;
      if ((rc = write_sample(c, fe, esel, k, &es, &te))) goto out;
      int64_t ev = o->count_mode == L1K_COUNT_RESPONSE ? es.response_tok : es.reasoning_tok;
      if (stats_add(sh, 1, &hs, hv, 1) || stats_add(se, k, &es, ev, 0)) {
        rc = l1k_errf(c->err, L1K_ENOMEM, "out of memory");
        goto out;
      }
      release(c, hsel, 1);
      release(c, esel, k);
      made = 1;
      (*done)++;
      if (pg) l1k_progress_update(pg, *done, NULL);
    }
  }
out:
  sample_free(&hs);
  sample_free(&es);
  return rc;
}

/* ---------------------------------------------------------------- stats output ------- */

static int cmp_i64(const void *a, const void *b) {
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return x < y ? -1 : x > y;
}

/* Histogram: 10 equal buckets over [lo,hi] (the target) or over the observed range. */
static void hist_of(const set_stats *st, int64_t *lo, int64_t *hi, int64_t h[10]) {
  memset(h, 0, 10 * sizeof *h);
  int64_t a = st->lo, b = st->hi;
  if (b <= 0 && st->nv) {
    a = b = st->vals[0];
    for (size_t i = 0; i < st->nv; i++) {
      if (st->vals[i] < a) a = st->vals[i];
      if (st->vals[i] > b) b = st->vals[i];
    }
  }
  if (b <= a) b = a + 1;
  for (size_t i = 0; i < st->nv; i++) {
    int64_t x = st->vals[i];
    int q = (int)((double)(x - a) * 10.0 / (double)(b - a + 1));
    if (q < 0) q = 0;
    if (q > 9) q = 9;
    h[q]++;
  }
  *lo = a;
  *hi = b;
}

static double mean_k(const set_stats *st) {
  double s = 0, n = 0;
  for (int k = 0; k <= KMAX; k++) s += (double)k * st->k_hist[k], n += st->k_hist[k];
  return n ? s / n : 0;
}

static void stats_json_set(l1k_buf *b, set_stats *st, int count_resp) {
  l1k_buf_puts(b, "{\"name\":");
  l1k_buf_json_string(b, st->name, strlen(st->name));
  l1k_buf_printf(b, ",\"samples\":%lld,\"singles\":%lld", (long long)st->n, (long long)st->singles);
  if (st->hi > 0) l1k_buf_printf(b, ",\"target\":[%lld,%lld]", (long long)st->lo, (long long)st->hi);
  else l1k_buf_puts(b, ",\"target\":null");
  l1k_buf_printf(b, ",\"measured\":\"%s\"", count_resp ? "response_tokens" : "reasoning_tokens");
  if (st->nv) {
    qsort(st->vals, st->nv, sizeof *st->vals, cmp_i64);
    l1k_buf_printf(b, ",\"min\":%lld,\"median\":%lld,\"max\":%lld", (long long)st->vals[0],
                   (long long)st->vals[st->nv / 2], (long long)st->vals[st->nv - 1]);
    l1k_buf_printf(b, ",\"mean_reasoning_tokens\":%.1f,\"mean_response_tokens\":%.1f,"
                   "\"mean_prompt_tokens\":%.1f", (double)st->sum_reason / st->n,
                   (double)st->sum_resp / st->n, (double)st->sum_prompt / st->n);
  }
  l1k_buf_printf(b, ",\"mean_k\":%.3f", mean_k(st));
  l1k_buf_puts(b, ",\"k_histogram\":{");
  int first = 1;
  for (int k = 0; k <= KMAX; k++)
    if (st->k_hist[k]) {
      l1k_buf_printf(b, "%s\"%d\":%lld", first ? "" : ",", k, (long long)st->k_hist[k]);
      first = 0;
    }
  l1k_buf_puts(b, "},\"length_histogram\":[");
  int64_t lo, hi, h[10];
  hist_of(st, &lo, &hi, h);
  for (int q = 0; q < 10; q++) {
    int64_t a = lo + (int64_t)((double)(hi - lo + 1) * q / 10.0);
    int64_t e = lo + (int64_t)((double)(hi - lo + 1) * (q + 1) / 10.0) - 1;
    l1k_buf_printf(b, "%s{\"from\":%lld,\"to\":%lld,\"count\":%lld}", q ? "," : "", (long long)a,
                   (long long)e, (long long)h[q]);
  }
  l1k_buf_puts(b, "]}");
}

static void print_set(FILE *f, set_stats *st) {
  fprintf(f, "  set %-8s %6lld samples", st->name, (long long)st->n);
  if (st->singles) fprintf(f, " (%lld single)", (long long)st->singles);
  if (st->hi > 0) fprintf(f, ", target %lld..%lld", (long long)st->lo, (long long)st->hi);
  if (st->nv) {
    /* vals sorted by stats_json_set */
    fprintf(f, ", tokens min %lld median %lld max %lld, mean reasoning %.0f, mean k %.2f\n",
            (long long)st->vals[0], (long long)st->vals[st->nv / 2], (long long)st->vals[st->nv - 1],
            (double)st->sum_reason / st->n, mean_k(st));
  } else {
    fprintf(f, "\n");
  }
  int64_t lo, hi, h[10], mx = 1;
  hist_of(st, &lo, &hi, h);
  for (int q = 0; q < 10; q++) mx = h[q] > mx ? h[q] : mx;
  for (int q = 0; q < 10 && st->nv; q++) {
    int64_t a = lo + (int64_t)((double)(hi - lo + 1) * q / 10.0);
    int64_t e = lo + (int64_t)((double)(hi - lo + 1) * (q + 1) / 10.0) - 1;
    int bar = (int)(40.0 * h[q] / mx);
    fprintf(f, "    %7lld..%-7lld %6lld %.*s\n", (long long)a, (long long)e, (long long)h[q], bar,
            "########################################");
  }
}

/* ---------------------------------------------------------------- run ---------------- */

void l1k_synth_opts_init(l1k_synth_opts *o) {
  memset(o, 0, sizeof *o);
  o->schema = L1K_SCHEMA_AUTO;
  o->k = 2;
  o->samples = 0;
  o->bin_tolerance = 0.1;
  o->difficulty_threshold = 3;
  o->decontam_n = 13;
  o->near_dup = 0.8;
  o->seed = 0;
}

static void ctx_free(ctx *c) {
  for (size_t i = 0; i < c->n; i++) unload(c, (uint32_t)i);
  free(c->r);
  l1k_buf_free(&c->ids);
  for (size_t i = 0; i < c->n_domains; i++) free(c->domains[i]);
  free(c->domains);
  free(c->file_schema);
  l1k_synth_hashset_free(&c->exact);
  l1k_synth_hashset_free(&c->eval_grams);
  l1k_synth_hashset_free(&c->eval_exact);
  for (int b = 0; b < NBANDS; b++) l1k_synth_hashset_free(&c->bands[b]);
  free(c->sigs);
  free(c->band_next);
  for (size_t i = 0; i < c->n_eval; i++) free(c->eval_where[i]);
  free(c->eval_where);
  for (int k = 0; k < CL_N; k++) free(c->cls[k].v);
  free(c->avail.v);
  free(c->used_per_file);
  l1k_synth_template_free(&c->tpl);
}

static int validate(const l1k_synth_opts *o, l1k_err *err) {
  if (!o->n_pools) return l1k_errf(err, L1K_EINPUT, "no --pool file given");
  for (size_t i = 0; i < o->n_pools; i++)
    if (!strcmp(o->pools[i], "-"))
      return l1k_errf(err, L1K_EINPUT, "--pool -: a pool is read twice (records are loaded "
                      "again by position), so it must be a file, not standard input");
  if (!o->out || !*o->out) return l1k_errf(err, L1K_EINPUT, "no --out file given");
  if (!o->count) return l1k_errf(err, L1K_EINPUT, "no token counter (give --tokenizer PATH)");
  if (o->k < 0 || o->k > KMAX)
    return l1k_errf(err, L1K_EINPUT, "--problems-per-sample %d: expected 1..%d", o->k, KMAX);
  if (o->n_bins) {
    if (o->per_bin <= 0) return l1k_errf(err, L1K_EINPUT, "--bins needs --per-bin N (N >= 1)");
    if (o->difficulty_study)
      return l1k_errf(err, L1K_EINPUT, "--bins and --difficulty-study cannot be combined");
    for (size_t i = 0; i < o->n_bins; i++)
      if (o->bins[i] <= 0) return l1k_errf(err, L1K_EINPUT, "--bins: expected positive token counts");
    if (o->bin_tolerance <= 0 || o->bin_tolerance >= 1)
      return l1k_errf(err, L1K_EINPUT, "--bin-tolerance %g: expected a fraction in (0,1)", o->bin_tolerance);
  } else if (o->samples <= 0) {
    return l1k_errf(err, L1K_EINPUT, "--samples N: expected N >= 1");
  }
  if (o->target_max > 0 && (o->target_min < 0 || o->target_min > o->target_max))
    return l1k_errf(err, L1K_EINPUT, "--target-tokens %lld:%lld: expected 0 <= MIN <= MAX",
                    (long long)o->target_min, (long long)o->target_max);
  if (o->mix_single < 0 || o->mix_single > 1)
    return l1k_errf(err, L1K_EINPUT, "--mix-single %g: expected a fraction in [0,1]", o->mix_single);
  if (o->n_single_pools && (o->n_single_pools >= o->n_pools || o->mix_single <= 0))
    return l1k_errf(err, L1K_EINPUT, "--single-pool needs --mix-single and at least one --pool "
                    "for the joined samples");
  if (o->k == 0 && o->target_max <= 0 && !o->n_bins && !o->difficulty_study)
    return l1k_errf(err, L1K_EINPUT, "an adaptive problem count needs --target-tokens or --bins");
  if (o->decontam_n < 1 || o->decontam_n > 64)
    return l1k_errf(err, L1K_EINPUT, "--ngram %d: expected 1..64", o->decontam_n);
  if (o->near_dup > 1) return l1k_errf(err, L1K_EINPUT, "--near-dup %g: expected <= 1", o->near_dup);
  return 0;
}

/* ---------------------------------------------------------------- the run ------------ */

/* What l1k_synth_run holds across its phases. Every output (samples, per-bin or easy/hard
 * files, the removal report, the stats) is written to a temp file and synced; they are renamed
 * together at the end, so a failed run (disk full, bad input) leaves none of them. */
typedef struct synth_run {
  ctx *c;
  const l1k_synth_opts *o;
  l1k_err *err;
  out_file *outs; /* samples: main, or one per bin, or easy + hard */
  size_t n_outs, cap_outs;
  out_file stats;
  set_stats *sets;
  size_t n_sets;
  char *stats_path, *removed_path;
  int removed_open;
  l1k_progress pg;
  int pg_on;
  size_t n_elig;
  int64_t done_n;
} synth_run;

static int run_init(synth_run *S, ctx *c, const l1k_synth_opts *o, l1k_err *err) {
  memset(c, 0, sizeof *c);
  S->c = c;
  S->o = o;
  S->err = err;
  c->o = o;
  c->err = err;
  c->rng = o->seed ^ 0x10a6c0ffee5eedULL;
  c->budget = o->memory_budget ? o->memory_budget : ((size_t)256 << 20);
  c->bytes_per_tok = 3.5;
  c->t0 = l1k_now();
  c->domains = l1k_calloc(1, sizeof *c->domains, NULL);
  c->n_domains = c->domains ? 1 : 0;
  c->file_schema = l1k_calloc(o->n_pools, sizeof *c->file_schema, NULL);
  c->used_per_file = l1k_calloc(o->n_pools, sizeof *c->used_per_file, NULL);
  S->outs = l1k_calloc(o->n_bins + 2, sizeof *S->outs, NULL);
  S->cap_outs = S->outs ? o->n_bins + 2 : 0;
  if (!c->domains || !c->file_schema || !c->used_per_file || !S->outs)
    return l1k_errf(err, L1K_ENOMEM, "out of memory");
  c->domains[0] = l1k_strdup("", NULL);
  if (!c->domains[0]) return l1k_errf(err, L1K_ENOMEM, "out of memory");
  if (o->template_path) return l1k_synth_template_load(&c->tpl, o->template_path, err);
  return l1k_synth_template_default(&c->tpl, err);
}

/* an output must not be an input (pool, evaluation set, template) nor a directory */
static int check_output(synth_run *S, const char *path) {
  const l1k_synth_opts *o = S->o;
  if (l1k_output_check(path, o->pools, o->n_pools, S->err) ||
      l1k_output_check(path, o->decontam, o->n_decontam, S->err) ||
      l1k_output_check(path, &o->template_path, 1, S->err))
    return S->err->code;
  return 0;
}

/* Names every output and checks each one before any work: FILE.stats.json, FILE.removed.jsonl
 * and the sample files. */
static int plan_outputs(synth_run *S) {
  const l1k_synth_opts *o = S->o;
  const char *ph = strstr(o->out, "{bin}");
  l1k_buf p = {0};
  if (ph) {
    l1k_buf_append(&p, o->out, (size_t)(ph - o->out));
    l1k_buf_puts(&p, "all");
    l1k_buf_puts(&p, ph + 5);
  } else {
    l1k_buf_puts(&p, o->out);
  }
  size_t n = p.len + 32;
  S->stats_path = l1k_malloc(n, NULL);
  S->removed_path = l1k_malloc(n, NULL);
  if (!S->stats_path || !S->removed_path || !p.data) {
    l1k_buf_free(&p);
    return l1k_errf(S->err, L1K_ENOMEM, "out of memory");
  }
  snprintf(S->stats_path, n, "%s.stats.json", p.data);
  snprintf(S->removed_path, n, "%s.removed.jsonl", p.data);
  l1k_buf_free(&p);
  int rc = check_output(S, S->stats_path);
  if (!rc) rc = check_output(S, S->removed_path);
  const char *tags[2] = {"easy", "hard"};
  size_t nt = o->difficulty_study ? 2 : o->n_bins && ph ? o->n_bins : 0;
  for (size_t i = 0; i < nt && !rc; i++) {
    char tag[32];
    snprintf(tag, sizeof tag, "%lld", o->difficulty_study ? 0LL : (long long)o->bins[i]);
    char *pp = derive_path(o->out, o->difficulty_study ? tags[i] : tag);
    rc = pp ? check_output(S, pp) : l1k_errf(S->err, L1K_ENOMEM, "out of memory");
    free(pp);
  }
  if (!rc && !nt) rc = check_output(S, o->out);
  return rc;
}

static int open_removed(synth_run *S) {
  ctx *c = S->c;
  if (l1k_atomic_open(&c->removed_af, S->removed_path, S->err))
    return S->err->code == L1K_EIO ? (S->err->code = L1K_EINPUT) : S->err->code;
  S->removed_open = 1;
  c->removed = c->removed_af.f;
  return 0;
}

/* pass 1: every pool record read, cleaned and measured */
static int read_pools(synth_run *S) {
  ctx *c = S->c;
  const l1k_synth_opts *o = S->o;
  int64_t total = 0;
  int gz = 0, rc = 0;
  for (size_t i = 0; i < o->n_pools; i++) {
    struct stat sb;
    if (stat(o->pools[i], &sb) != 0)
      return l1k_errf(S->err, L1K_EINPUT, "%s: cannot open: no such file", o->pools[i]);
    if (S_ISDIR(sb.st_mode))
      return l1k_errf(S->err, L1K_EINPUT, "%s: is a directory, expected a file", o->pools[i]);
    total += (int64_t)sb.st_size;
    size_t l = strlen(o->pools[i]);
    gz |= l > 3 && !strcmp(o->pools[i] + l - 3, ".gz");
  }
  if (o->progress) {
    l1k_progress_begin(&S->pg, "synth: reading pool", gz ? -1 : total);
    S->pg_on = 1;
  }
  int64_t before = 0;
  for (size_t i = 0; i < o->n_pools && !rc; i++)
    rc = scan_file(c, (uint32_t)i, S->pg_on ? &S->pg : NULL, &before);
  if (S->pg_on) {
    l1k_progress_end(&S->pg);
    S->pg_on = 0;
  }
  c->t_scan = l1k_now() - c->t0;
  return rc;
}

/* eligible records into classes (all, single, easy, hard), each shuffled */
static int build_classes(synth_run *S) {
  ctx *c = S->c;
  const l1k_synth_opts *o = S->o;
  S->n_elig = 0;
  for (size_t i = 0; i < c->n; i++) S->n_elig += c->r[i].state == ST_ELIGIBLE;
  if (S->n_elig == 0)
    return l1k_errf(S->err, L1K_EINPUT, "the pool is empty after reading %lld records from %zu "
                    "file(s): %lld malformed, %lld without a final answer, %lld outside the domain, "
                    "%lld contaminated, %lld duplicates, %lld near-duplicates",
                    (long long)c->n_lines, o->n_pools, (long long)c->n_malformed,
                    (long long)c->n_no_answer, (long long)c->n_domain, (long long)c->n_contam,
                    (long long)c->n_exact, (long long)c->n_near);
  for (size_t i = 0; i < c->n; i++) {
    if (c->r[i].state != ST_ELIGIBLE) continue;
    if (in_class(c, (uint32_t)i, CL_ALL)) cpush(c, &c->cls[CL_ALL], (uint32_t)i);
    if (o->mix_single > 0 && in_class(c, (uint32_t)i, CL_SINGLE))
      cpush(c, &c->cls[CL_SINGLE], (uint32_t)i);
    if (o->difficulty_study) {
      if (in_class(c, (uint32_t)i, CL_EASY)) cpush(c, &c->cls[CL_EASY], (uint32_t)i);
      if (in_class(c, (uint32_t)i, CL_HARD)) cpush(c, &c->cls[CL_HARD], (uint32_t)i);
    }
  }
  if (c->oom) return l1k_errf(S->err, L1K_ENOMEM, "out of memory");
  for (int k = 0; k < CL_N; k++) {
    shuffle(c, c->cls[k].v, c->cls[k].len);
    c->class_size[k] = c->cls[k].len;
  }
  return 0;
}

/* the average linking phrase's tokens (for planning lengths) */
static int measure_links(synth_run *S) {
  ctx *c = S->c;
  double sum = 0;
  l1k_buf b = {0};
  for (size_t i = 0; i < c->tpl.n_links; i++) {
    l1k_synth_vars v = {2, 2, NULL, NULL};
    b.len = 0;
    l1k_buf_puts(&b, "\n\n");
    l1k_synth_fill(&b, c->tpl.links[i], &v);
    l1k_buf_puts(&b, "\n\n");
    int64_t t = count_text(c, b.data, b.len);
    if (t < 0) {
      l1k_buf_free(&b);
      return S->err->code;
    }
    sum += (double)t;
  }
  l1k_buf_free(&b);
  c->link_tokens = c->tpl.n_links ? sum / (double)c->tpl.n_links : 0;
  return 0;
}

/* a new sample file (temp until the end); its index in S->outs */
static int add_out(synth_run *S, const char *path, size_t *idx) {
  if (S->n_outs == S->cap_outs) return l1k_errf(S->err, L1K_EINTERNAL, "synth: too many outputs");
  int rc = open_out(S->c, &S->outs[S->n_outs], path);
  if (rc) return rc;
  *idx = S->n_outs++;
  return 0;
}

static int compose_study(synth_run *S) {
  ctx *c = S->c;
  const l1k_synth_opts *o = S->o;
  if (!c->cls[CL_HARD].len || !c->cls[CL_EASY].len)
    return l1k_errf(S->err, L1K_EINPUT, "--difficulty-study: the pool has %zu easy records "
                    "(difficulty < %g) and %zu difficult ones (difficulty > %g); both are needed "
                    "(map the difficulty with --field difficulty=NAME)", c->cls[CL_EASY].len,
                    o->difficulty_threshold, c->cls[CL_HARD].len, o->difficulty_threshold);
  char *pe = derive_path(o->out, "easy"), *ph = derive_path(o->out, "hard");
  size_t ie = 0, ih = 0;
  int rc = pe && ph ? add_out(S, pe, &ie) : l1k_errf(S->err, L1K_ENOMEM, "out of memory");
  if (!rc) rc = add_out(S, ph, &ih);
  free(pe);
  free(ph);
  if (rc) return rc;
  S->sets = l1k_calloc(2, sizeof *S->sets, NULL);
  if (!S->sets) return l1k_errf(S->err, L1K_ENOMEM, "out of memory");
  S->n_sets = 2;
  set_stats *sets = S->sets;
  snprintf(sets[0].name, sizeof sets[0].name, "easy");
  snprintf(sets[1].name, sizeof sets[1].name, "hard");
  sets[1].lo = o->target_max > 0 ? o->target_min : 0;
  sets[1].hi = o->target_max;
  want_t wh = {sets[1].lo, sets[1].hi, 1, 1, CL_HARD};
  if ((rc = reach_check(c, &wh, "--difficulty-study (difficult records)"))) return rc;
  return make_study(c, S->outs[ie].f, S->outs[ih].f, &sets[0], &sets[1], S->pg_on ? &S->pg : NULL,
                    &S->done_n);
}

/* one set: the whole run, or bin bi; its samples go to f */
static int compose_set(synth_run *S, size_t bi, FILE *f) {
  ctx *c = S->c;
  const l1k_synth_opts *o = S->o;
  set_stats *st = &S->sets[bi];
  want_t w = {0, 0, o->k, 2, CL_ALL};
  int64_t n = o->samples;
  sample_tags tg = {-1, NULL, -1, 0};
  if (o->n_bins) {
    int64_t b = o->bins[bi];
    w.lo = (int64_t)floor((double)b * (1 - o->bin_tolerance));
    w.hi = (int64_t)ceil((double)b * (1 + o->bin_tolerance));
    n = o->per_bin;
    tg.bin = b;
    snprintf(st->name, sizeof st->name, "%lld", (long long)b);
  } else {
    w.lo = o->target_max > 0 ? o->target_min : 0;
    w.hi = o->target_max;
    snprintf(st->name, sizeof st->name, "all");
  }
  st->lo = w.lo;
  st->hi = w.hi;
  if (w.hi <= 0 && w.k == 0) w.k = 2;
  int64_t singles = (int64_t)llround((double)n * o->mix_single);
  int rc = 0;
  if (w.hi <= 0) {
    size_t avail_left = 0;
    for (size_t q = 0; q < c->cls[CL_ALL].len; q++)
      avail_left += c->r[c->cls[CL_ALL].v[q]].state == ST_ELIGIBLE;
    int64_t need = (n - singles) * w.k + singles;
    if ((int64_t)avail_left < need)
      return l1k_errf(S->err, L1K_EINPUT, "the pool has %zu unused eligible records; %lld samples "
                      "of %d problems%s need %lld (problems are never reused)", avail_left,
                      (long long)n, w.k, singles ? " (some single)" : "", (long long)need);
  } else {
    char what[96];
    snprintf(what, sizeof what, o->n_bins ? "bin %s" : "--target-tokens", st->name);
    if (singles < n && (rc = reach_check(c, &w, what))) return rc;
  }
  return make_set(c, &w, n, singles, f, &tg, st, S->pg_on ? &S->pg : NULL, &S->done_n);
}

/* the sets: one file, or one per bin ({bin} in --out; each synced when its bin is done) */
static int compose_sets(synth_run *S) {
  const l1k_synth_opts *o = S->o;
  size_t nb = o->n_bins ? o->n_bins : 1, main_i = 0;
  S->sets = l1k_calloc(nb, sizeof *S->sets, NULL);
  if (!S->sets) return l1k_errf(S->err, L1K_ENOMEM, "out of memory");
  S->n_sets = nb;
  int per_bin_files = o->n_bins && strstr(o->out, "{bin}"), rc = 0;
  if (!per_bin_files && (rc = add_out(S, o->out, &main_i))) return rc;
  for (size_t bi = 0; bi < nb && !rc; bi++) {
    size_t fi = main_i;
    if (per_bin_files) {
      char tag[32];
      snprintf(tag, sizeof tag, "%lld", (long long)o->bins[bi]);
      char *pp = derive_path(o->out, tag);
      rc = pp ? add_out(S, pp, &fi) : l1k_errf(S->err, L1K_ENOMEM, "out of memory");
      free(pp);
      if (rc) return rc;
    }
    rc = compose_set(S, bi, S->outs[fi].f);
    if (!rc && per_bin_files && l1k_atomic_sync(&S->outs[fi].af, S->err)) rc = S->err->code;
  }
  return rc;
}

static int compose(synth_run *S) {
  const l1k_synth_opts *o = S->o;
  int64_t total = o->difficulty_study ? o->samples
                  : o->n_bins ? o->per_bin * (int64_t)o->n_bins : o->samples;
  if (o->progress) {
    l1k_progress_begin(&S->pg, "synth: composing", total);
    S->pg_on = 1;
  }
  int rc = o->difficulty_study ? compose_study(S) : compose_sets(S);
  if (S->pg_on) {
    l1k_progress_end(&S->pg);
    S->pg_on = 0;
  }
  S->c->t_compose = l1k_now() - S->c->t0 - S->c->t_scan;
  return rc;
}

static void stats_json_pool(synth_run *S, l1k_buf *b) {
  ctx *c = S->c;
  const l1k_synth_opts *o = S->o;
  for (size_t i = 0; i < o->n_pools; i++) {
    l1k_buf_puts(b, i ? ",{\"path\":" : "{\"path\":");
    l1k_buf_json_string(b, o->pools[i], strlen(o->pools[i]));
    l1k_buf_printf(b, ",\"schema\":\"%s\",\"records_used\":%lld}",
                   l1k_synth_schema_name(c->file_schema[i]), (long long)c->used_per_file[i]);
  }
  l1k_buf_printf(b, "],\"records_read\":%lld,\"blank_lines\":%lld,\"parsed\":%lld,"
                 "\"eligible\":%zu,\"tokens_counted_records\":%lld,\"load_passes\":%lld},",
                 (long long)c->n_lines, (long long)c->n_blank, (long long)c->n_parsed, S->n_elig,
                 (long long)c->n_counted, (long long)c->n_loads);
  /* records used per domain ("" = none given) */
  int64_t *per = l1k_calloc(c->n_domains ? c->n_domains : 1, sizeof *per, NULL);
  l1k_buf_puts(b, "\"domains_used\":{");
  if (per) {
    for (size_t i = 0; i < c->n; i++)
      if (c->r[i].state == ST_USED) per[c->r[i].domain]++;
    int first = 1;
    for (size_t d = 0; d < c->n_domains; d++) {
      if (!per[d]) continue;
      if (!first) l1k_buf_puts(b, ",");
      first = 0;
      l1k_buf_json_string(b, c->domains[d], strlen(c->domains[d]));
      l1k_buf_printf(b, ":%lld", (long long)per[d]);
    }
    free(per);
  }
  l1k_buf_puts(b, "},");
}

/* FILE.stats.json (a temp file, committed with the others) */
static int write_stats(synth_run *S) {
  ctx *c = S->c;
  const l1k_synth_opts *o = S->o;
  double secs = l1k_now() - c->t0;
  l1k_buf b = {0};
  int64_t tot = 0;
  for (size_t i = 0; i < S->n_sets; i++) tot += S->sets[i].n;
  l1k_buf_printf(&b, "{\"samples\":%lld,\"seconds\":%.3f,\"seed\":%llu,\"pool\":{\"files\":[",
                 (long long)tot, secs, (unsigned long long)o->seed);
  stats_json_pool(S, &b);
  l1k_buf_printf(&b, "\"removed\":{\"malformed\":%lld,\"no_final_answer\":%lld,\"domain\":%lld,"
                 "\"contaminated\":%lld,\"exact_duplicate\":%lld,\"near_duplicate\":%lld,"
                 "\"report\":", (long long)c->n_malformed, (long long)c->n_no_answer,
                 (long long)c->n_domain, (long long)c->n_contam, (long long)c->n_exact,
                 (long long)c->n_near);
  l1k_buf_json_string(&b, S->removed_path, strlen(S->removed_path));
  l1k_buf_puts(&b, "},\"decontamination\":[");
  for (size_t i = 0; i < o->n_decontam; i++) {
    if (i) l1k_buf_puts(&b, ",");
    l1k_buf_json_string(&b, o->decontam[i], strlen(o->decontam[i]));
  }
  l1k_buf_printf(&b, "],\"seconds_by_phase\":{\"read_and_clean\":%.3f,\"compose\":%.3f,"
                 "\"tokenizer\":%.3f},\"hard_unmatched\":%lld", c->t_scan, c->t_compose,
                 c->t_count, (long long)c->n_hard_unmatched);
  l1k_buf_printf(&b, ",\"invalid_utf8_repaired\":%lld", (long long)c->n_utf8_repaired);
  l1k_buf_printf(&b, ",\"ngram\":%d,\"near_dup_threshold\":%g,\"sets\":[", o->decontam_n,
                 o->near_dup);
  for (size_t i = 0; i < S->n_sets; i++) {
    if (i) l1k_buf_puts(&b, ",");
    stats_json_set(&b, &S->sets[i], o->count_mode == L1K_COUNT_RESPONSE);
  }
  l1k_buf_puts(&b, "]}\n");
  int rc = b.data ? open_out(c, &S->stats, S->stats_path) : l1k_errf(S->err, L1K_ENOMEM, "out of memory");
  if (!rc && fwrite(b.data, 1, b.len, S->stats.f) != b.len)
    rc = l1k_errf(S->err, L1K_EIO, "%s: write failed: %s", S->stats_path, strerror(errno));
  l1k_buf_free(&b);
  return rc;
}

/* every output synced first (a full disk fails here, with nothing renamed), then renamed */
static int commit_all(synth_run *S) {
  ctx *c = S->c;
  int rc = 0;
  for (size_t i = 0; i < S->n_outs && !rc; i++)
    if (l1k_atomic_sync(&S->outs[i].af, S->err)) rc = S->err->code;
  if (!rc && l1k_atomic_sync(&c->removed_af, S->err)) rc = S->err->code;
  if (!rc && l1k_atomic_sync(&S->stats.af, S->err)) rc = S->err->code;
  if (rc) return rc;
  for (size_t i = 0; i < S->n_outs; i++) close_out(&S->outs[i], 1, S->err);
  S->n_outs = 0;
  c->removed = NULL;
  S->removed_open = 0;
  l1k_atomic_commit(&c->removed_af, S->err);
  close_out(&S->stats, 1, S->err);
  return S->err->code;
}

static void print_summary(synth_run *S, FILE *f) {
  ctx *c = S->c;
  const l1k_synth_opts *o = S->o;
  int64_t tot = 0;
  for (size_t i = 0; i < S->n_sets; i++) tot += S->sets[i].n;
  fprintf(f, "long1k synth: %lld samples in %.1f s (reading and cleaning the pool %.1f s, "
          "composing %.1f s, of which tokenizer %.1f s) -> %s\n", (long long)tot,
          l1k_now() - c->t0, c->t_scan, c->t_compose, c->t_count, o->out);
  if (c->n_hard_unmatched)
    fprintf(f, "  difficulty study: %lld difficult records had no length-matched easy "
            "combination and were left out\n", (long long)c->n_hard_unmatched);
  fprintf(f, "  pool: %lld records read, %zu eligible; removed: %lld malformed, %lld without "
          "a final answer, %lld outside the domain, %lld contaminated, %lld duplicates, %lld "
          "near-duplicates (report: %s)\n", (long long)c->n_lines, S->n_elig,
          (long long)c->n_malformed, (long long)c->n_no_answer, (long long)c->n_domain,
          (long long)c->n_contam, (long long)c->n_exact, (long long)c->n_near, S->removed_path);
  if (c->n_utf8_repaired)
    fprintf(f, "  invalid UTF-8: %lld output strings repaired (each ill-formed sequence -> U+FFFD)\n",
            (long long)c->n_utf8_repaired);
  for (size_t i = 0; i < o->n_pools; i++)
    fprintf(f, "  source %s (%s): %lld records used\n", o->pools[i],
            l1k_synth_schema_name(c->file_schema[i]), (long long)c->used_per_file[i]);
  fprintf(f, "  %s tokens per set:\n", o->count_mode == L1K_COUNT_RESPONSE ? "response" : "reasoning");
  for (size_t i = 0; i < S->n_sets; i++) print_set(f, &S->sets[i]);
  fprintf(f, "  stats: %s\n", S->stats_path);
}

static void run_free(synth_run *S) {
  if (S->pg_on) l1k_progress_end(&S->pg);
  for (size_t i = 0; i < S->cap_outs; i++) close_out(&S->outs[i], 0, NULL);
  close_out(&S->stats, 0, NULL);
  if (S->removed_open) l1k_atomic_abort(&S->c->removed_af);
  for (size_t i = 0; i < S->n_sets; i++) free(S->sets[i].vals);
  free(S->sets);
  free(S->outs);
  free(S->stats_path);
  free(S->removed_path);
  ctx_free(S->c);
}

int l1k_synth_run(const l1k_synth_opts *o, l1k_err *err) {
  l1k_err dummy;
  if (!err) err = &dummy;
  l1k_err_clear(err);
  int rc = validate(o, err);
  if (rc) return rc;
  ctx C;
  synth_run S;
  memset(&S, 0, sizeof S);
  rc = run_init(&S, &C, o, err);
  if (!rc) rc = plan_outputs(&S);
  if (!rc) rc = open_removed(&S);
  for (size_t i = 0; i < o->n_decontam && !rc; i++) rc = load_eval(&C, o->decontam[i]);
  if (!rc) rc = read_pools(&S);
  if (!rc) rc = build_classes(&S);
  if (!rc) rc = measure_links(&S);
  if (!rc) rc = compose(&S);
  if (!rc && C.oom) rc = l1k_errf(err, L1K_ENOMEM, "out of memory");
  if (!rc) rc = write_stats(&S);
  if (!rc) rc = commit_all(&S);
  if (!rc && !o->quiet) print_summary(&S, stdout);
  run_free(&S);
  return rc;
}
