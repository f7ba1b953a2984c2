/* End-to-end checks of the synthesizer (l1k_synth_run, the code behind `long1k synth`) on pools
 * generated in every schema by bench/synth_gen_pool.py, with lengths re-counted by the real Qwen
 * tokenizer (data/tokenizers/qwen): every sample has the wanted number of problems, the answers
 * in order, its length within the target, no problem is used twice, no planted duplicate,
 * near-duplicate or contaminated problem is kept; bad input gives clear errors. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "long1k/io.h"
#include "long1k/jsonl.h"
#include "long1k/synth.h"
#include "long1k/tokenizer.h"

static l1k_tokenizer *TOK;
static char DIR_[512];
static const char *SRC;
static int SAN;

static int64_t count_fn(void *ctx, const char *t, size_t n, l1k_err *err) {
  return l1k_tokenizer_count((const l1k_tokenizer *)ctx, t, n, err);
}

static int64_t ntok(const char *s, size_t n) {
  l1k_err e = {0};
  return l1k_tokenizer_count(TOK, s, n, &e);
}

/* ---- generated pool + its answer key ---- */
typedef struct {
  char id[128];
  char answer[256];
  char problem[512];
  char kind[16];
  double difficulty;
} key_t_;
typedef struct {
  key_t_ *v;
  size_t n;
} answer_key;

static const key_t_ *key_find(const answer_key *k, const char *id) {
  for (size_t i = 0; i < k->n; i++)
    if (!strcmp(k->v[i].id, id)) return &k->v[i];
  return NULL;
}

static int gen(const char *schema, const char *name, const char *extra, answer_key *key) {
  char cmd[2048];
  snprintf(cmd, sizeof cmd,
           "python3 %s/bench/synth_gen_pool.py --schema %s --out %s/%s --answers-out %s/%s.key %s",
           SRC, schema, DIR_, name, DIR_, name, extra);
  if (system(cmd) != 0) return -1;
  char kp[700];
  snprintf(kp, sizeof kp, "%s/%s.key", DIR_, name);
  l1k_err e = {0};
  l1k_jsonl *r = l1k_jsonl_open(kp, &e);
  if (!r) return -1;
  key->v = NULL;
  key->n = 0;
  cJSON *j;
  while (l1k_jsonl_next(r, &j, &e) == 1) {
    key->v = realloc(key->v, (key->n + 1) * sizeof *key->v);
    key_t_ *k = &key->v[key->n++];
    memset(k, 0, sizeof *k);
    snprintf(k->id, sizeof k->id, "%s", cJSON_GetObjectItem(j, "id")->valuestring);
    snprintf(k->kind, sizeof k->kind, "%s", cJSON_GetObjectItem(j, "kind")->valuestring);
    cJSON *a = cJSON_GetObjectItem(j, "answer");
    if (cJSON_IsString(a)) snprintf(k->answer, sizeof k->answer, "%s", a->valuestring);
    cJSON *pr = cJSON_GetObjectItem(j, "problem");
    if (cJSON_IsString(pr)) snprintf(k->problem, sizeof k->problem, "%s", pr->valuestring);
    cJSON *d = cJSON_GetObjectItem(j, "difficulty");
    k->difficulty = cJSON_IsNumber(d) ? d->valuedouble : NAN;
    cJSON_Delete(j);
  }
  l1k_jsonl_close(r);
  return 0;
}

static char *path_in(const char *name) {
  static char b[4][700];
  static int i;
  i = (i + 1) % 4;
  snprintf(b[i], sizeof b[i], "%s/%s", DIR_, name);
  return b[i];
}

/* ---- checking an output file ---- */
typedef struct {
  int k;                 /* expected k (0: any >= kmin) */
  int kmin;
  int64_t lo, hi;        /* 0,0: no target */
  int count_response;
  l1k_synth_format fmt;
  int sharegpt;
  const char *set;       /* expected meta.set or NULL */
} expect;

typedef struct {
  char **ids;
  size_t n;
} idset;

static int idset_add(idset *s, const char *id) {
  for (size_t i = 0; i < s->n; i++)
    if (!strcmp(s->ids[i], id)) return 0;
  s->ids = realloc(s->ids, (s->n + 1) * sizeof *s->ids);
  s->ids[s->n++] = strdup(id);
  return 1;
}
static void idset_free(idset *s) {
  for (size_t i = 0; i < s->n; i++) free(s->ids[i]);
  free(s->ids);
  memset(s, 0, sizeof *s);
}

/* Returns the number of samples; fills measured[] (if not NULL) with the measured counts. */
static int check_output(const char *path, const answer_key *key, const expect *x, idset *used,
                        int64_t *measured, size_t cap) {
  l1k_err e = {0};
  l1k_jsonl *r = l1k_jsonl_open(path, &e);
  CHECK_MSG(r != NULL, "%s", e.msg);
  if (!r) return 0;
  cJSON *j;
  int n = 0;
  while (l1k_jsonl_next(r, &j, &e) == 1) {
    const char *prompt = NULL, *resp = NULL;
    if (x->sharegpt) {
      cJSON *conv = cJSON_GetObjectItem(j, "conversations");
      CHECK(cJSON_GetArraySize(conv) == 2);
      cJSON *u = cJSON_GetArrayItem(conv, 0), *a = cJSON_GetArrayItem(conv, 1);
      CHECK_STR(cJSON_GetObjectItem(u, "from")->valuestring, "human");
      CHECK_STR(cJSON_GetObjectItem(a, "from")->valuestring, "gpt");
      prompt = cJSON_GetObjectItem(u, "value")->valuestring;
      resp = cJSON_GetObjectItem(a, "value")->valuestring;
    } else {
      cJSON *msgs = cJSON_GetObjectItem(j, "messages");
      CHECK(cJSON_GetArraySize(msgs) == 2);
      cJSON *u = cJSON_GetArrayItem(msgs, 0), *a = cJSON_GetArrayItem(msgs, 1);
      CHECK_STR(cJSON_GetObjectItem(u, "role")->valuestring, "user");
      CHECK_STR(cJSON_GetObjectItem(a, "role")->valuestring, "assistant");
      prompt = cJSON_GetObjectItem(u, "content")->valuestring;
      resp = cJSON_GetObjectItem(a, "content")->valuestring;
    }
    cJSON *meta = cJSON_GetObjectItem(j, "meta");
    cJSON *src = cJSON_GetObjectItem(meta, "sources");
    int k = cJSON_GetObjectItem(meta, "k")->valueint;
    CHECK(k == cJSON_GetArraySize(src));
    if (x->k) CHECK_MSG(k == x->k, "sample %d has k=%d, wanted %d", n, k, x->k);
    else CHECK_MSG(k >= x->kmin, "sample %d has k=%d < %d", n, k, x->kmin);
    if (x->set) CHECK_STR(cJSON_GetObjectItem(meta, "set")->valuestring, x->set);
    /* problems numbered in the prompt, each problem's text present in order */
    const char *pp = prompt;
    for (int i = 0; i < k; i++) {
      const char *id = cJSON_GetArrayItem(src, i)->valuestring;
      const key_t_ *kk = key_find(key, id);
      CHECK_MSG(kk != NULL, "source id %s not in the pool", id);
      if (!kk) continue;
      CHECK_MSG(!strcmp(kk->kind, "orig"), "%s is a planted %s record and must have been removed",
                id, kk->kind);
      CHECK_MSG(idset_add(used, id), "problem %s used twice", id);
      if (k > 1) {
        char label[64];
        snprintf(label, sizeof label, "Problem %d: ", i + 1);
        const char *q = strstr(pp, label);
        CHECK_MSG(q != NULL, "prompt lacks '%s'", label);
        if (q) pp = q + strlen(label);
      }
      /* the problem's own text follows its label (OpenThoughts' instruction prefix removed) */
      CHECK_MSG(!strncmp(pp, kk->problem, strlen(kk->problem)), "sample %d: problem %d text", n, i + 1);
    }
    CHECK(strstr(prompt, "Return your final response") == NULL);
    /* answers in order */
    const char *rp = resp;
    for (int i = 0; i < k; i++) {
      const key_t_ *kk = key_find(key, cJSON_GetArrayItem(src, i)->valuestring);
      if (!kk) continue;
      char want[512];
      if (k > 1)
        snprintf(want, sizeof want, "The final answer to problem %d is $\\boxed{%s}$.", i + 1,
                 kk->answer);
      else
        snprintf(want, sizeof want, "The final answer is $\\boxed{%s}$.", kk->answer);
      const char *q = strstr(rp, want);
      CHECK_MSG(q != NULL, "sample %d: answer %d ('%s') missing or out of order", n, i + 1, want);
      if (q) rp = q + strlen(want);
    }
    /* reasoning section and token counts */
    const char *rb = resp, *re = NULL;
    if (x->fmt == L1K_FMT_THINK) {
      CHECK(!strncmp(resp, "<think>\n", 8));
      rb = resp + 8;
      re = strstr(rb, "\n</think>\n\n");
    } else if (x->fmt == L1K_FMT_OPENTHOUGHTS) {
      const char *o = "<|begin_of_thought|>\n\n";
      CHECK(!strncmp(resp, o, strlen(o)));
      rb = resp + strlen(o);
      re = strstr(rb, "\n\n<|end_of_thought|>\n\n<|begin_of_solution|>\n\n");
      CHECK(strstr(resp, "<|end_of_solution|>") != NULL);
    } else {
      /* plain: the reasoning ends where the first solution starts */
      re = strstr(rb, k > 1 ? "\n\n**Problem 1.**" : "\n\nTo solve this");
    }
    CHECK_MSG(re != NULL, "sample %d: reasoning section not found", n);
    if (re) {
      int64_t rt = ntok(rb, (size_t)(re - rb));
      CHECK_MSG(rt == (int64_t)cJSON_GetObjectItem(meta, "reasoning_tokens")->valuedouble,
                "sample %d: reasoning re-counted %lld vs meta %g", n, (long long)rt,
                cJSON_GetObjectItem(meta, "reasoning_tokens")->valuedouble);
      int64_t st = ntok(resp, strlen(resp));
      int64_t pt = ntok(prompt, strlen(prompt));
      CHECK(st == (int64_t)cJSON_GetObjectItem(meta, "response_tokens")->valuedouble);
      CHECK(pt == (int64_t)cJSON_GetObjectItem(meta, "prompt_tokens")->valuedouble);
      int64_t m = x->count_response ? st : rt;
      if (x->hi > 0)
        CHECK_MSG(m >= x->lo && m <= x->hi, "sample %d: %lld tokens outside %lld..%lld", n,
                  (long long)m, (long long)x->lo, (long long)x->hi);
      if (measured && (size_t)n < cap) measured[n] = m;
    }
    cJSON_Delete(j);
    n++;
  }
  l1k_jsonl_close(r);
  return n;
}

static l1k_synth_opts base_opts(const char **pool, size_t np, const char *out) {
  l1k_synth_opts o;
  l1k_synth_opts_init(&o);
  o.pools = pool;
  o.n_pools = np;
  o.out = out;
  o.count = count_fn;
  o.count_ctx = TOK;
  o.quiet = 1;
  o.seed = 5;
  return o;
}

static cJSON *read_json(const char *path) {
  char *t = l1k_read_file(path, NULL, NULL);
  if (!t) return NULL;
  cJSON *j = cJSON_Parse(t);
  free(t);
  return j;
}

static double stat_num(cJSON *st, const char *a, const char *b) {
  cJSON *x = cJSON_GetObjectItem(st, a);
  if (b) x = cJSON_GetObjectItem(x, b);
  return cJSON_IsNumber(x) ? x->valuedouble : -1;
}

int main(void) {
  SRC = getenv("LONG1K_SRC");
  if (!SRC) SRC = ".";
  SAN = getenv("LONG1K_SANITIZER") != NULL;
  char tp[600];
  snprintf(tp, sizeof tp, "%s/data/tokenizers/qwen", SRC);
  l1k_err err = {0};
  TOK = l1k_tokenizer_load(tp, &err);
  CHECK_MSG(TOK != NULL, "%s", err.msg);
  if (!TOK) CHECK_DONE();
  /* tmpfs when there is one: the outputs are fsync'ed (atomic writes), slow on some disks */
  snprintf(DIR_, sizeof DIR_, "%s/l1k_synth_test_%d", l1k_is_dir("/dev/shm") ? "/dev/shm" : "/tmp", (int)getpid());
  l1k_mkdir_p(DIR_, NULL);
  char math500[600];
  snprintf(math500, sizeof math500, "%s/data/benchmarks/math500.jsonl", SRC);
  const char *decon[] = {math500};
  int N = SAN ? 120 : 300;
  char extra[900];
  snprintf(extra, sizeof extra, "--n %d --reason-words 250 --dups 4 --near-dups 4 --bad 3 "
           "--no-answer 2 --contaminate %s:4 --seed 11", N, math500);

  /* 1. every schema (and gzip): fixed k=2 with a target; planted records removed */
  static const char *schemas[] = {"openthoughts", "openthoughts-metadata", "s1k", "fields"};
  l1k_synth_fields fmap = {0};
  CHECK(l1k_synth_fields_parse(&fmap, "problem=q,reasoning=trace,solution=sol,answer=ans,"
                               "difficulty=level,domain=subject,id=uid", &err) == 0);
  for (int s = 0; s < 5; s++) {
    const char *schema = schemas[s < 4 ? s : 0];
    char name[64], ex2[1000];
    snprintf(name, sizeof name, "pool_%d.jsonl%s", s, s == 4 ? ".gz" : "");
    snprintf(ex2, sizeof ex2, "%s%s", extra, s == 4 ? " --gzip" : "");
    answer_key key;
    CHECK(gen(schema, name, ex2, &key) == 0);
    const char *pool[] = {path_in(name)};
    char *out = strdup(path_in("out.jsonl"));
    l1k_synth_opts o = base_opts(pool, 1, out);
    if (s == 3) o.fields = &fmap;
    o.samples = SAN ? 10 : 25;
    o.k = 2;
    o.target_min = 500;
    o.target_max = 800;
    o.decontam = decon;
    o.n_decontam = 1;
    int rc = l1k_synth_run(&o, &err);
    CHECK_MSG(rc == 0, "schema %s: %s", schema, err.msg);
    idset used = {0};
    expect x = {2, 2, 500, 800, 0, L1K_FMT_THINK, 0, NULL};
    int n = check_output(out, &key, &x, &used, NULL, 0);
    CHECK_MSG(n == o.samples, "schema %s: %d samples, wanted %lld", schema, n, (long long)o.samples);
    /* stats: removals counted as planted */
    char sp[800];
    snprintf(sp, sizeof sp, "%s.stats.json", out);
    cJSON *st = read_json(sp);
    CHECK(st != NULL);
    CHECK_MSG(stat_num(st, "removed", "malformed") == 3, "malformed %g", stat_num(st, "removed", "malformed"));
    CHECK(stat_num(st, "removed", "no_final_answer") == 2);
    CHECK(stat_num(st, "removed", "contaminated") == 4);
    CHECK(stat_num(st, "removed", "exact_duplicate") == 4);
    CHECK_MSG(stat_num(st, "removed", "near_duplicate") == 4, "near %g", stat_num(st, "removed", "near_duplicate"));
    cJSON_Delete(st);
    /* the removal report lists each planted record with its reason */
    char rp[800];
    snprintf(rp, sizeof rp, "%s.removed.jsonl", out);
    char *rep = l1k_read_file(rp, NULL, NULL);
    CHECK(rep != NULL);
    if (rep) {
      /* half the planted copies are wrapped in extra text: found by a shared 13-gram */
      CHECK_MSG(strstr(rep, "shares a 13-gram of normalized text with math500.jsonl:") != NULL,
                "no 13-gram contamination in the report");
      CHECK(strstr(rep, "problem text equals math500.jsonl:") != NULL);
      /* MATH500 line 4 has 9 words: found inside the wrapped copy */
      CHECK(strstr(rep, "contains the whole (short) problem text of math500.jsonl:4") != NULL);
      for (size_t i = 0; i < key.n; i++) {
        if (!strcmp(key.v[i].kind, "orig")) continue;
        char needle[300];
        if (!strcmp(key.v[i].kind, "bad")) {
          const char *colon = strrchr(key.v[i].id, ':');
          snprintf(needle, sizeof needle, "\"line\":%s,\"id\":null,\"reason\":\"malformed\"", colon + 1);
        } else {
          snprintf(needle, sizeof needle, "\"id\":\"%s\",\"reason\":\"%s\"", key.v[i].id,
                   !strcmp(key.v[i].kind, "dup") ? "exact-duplicate"
                   : !strcmp(key.v[i].kind, "near") ? "near-duplicate"
                   : !strcmp(key.v[i].kind, "contam") ? "contaminated" : "no-final-answer");
        }
        CHECK_MSG(strstr(rep, needle) != NULL, "removal report lacks %s", needle);
      }
      free(rep);
    }
    idset_free(&used);
    free(key.v);
    free(out);
  }

  /* 2. adaptive count, bins, mix-single, formats, sharegpt, response counting */
  answer_key key;
  char ex3[1000];
  snprintf(ex3, sizeof ex3, "--n %d --reason-words 250 --spread 0.7 --seed 12 --difficulty-words",
           SAN ? 300 : 700);
  CHECK(gen("fields", "big.jsonl", ex3, &key) == 0);
  char *bigpath = strdup(path_in("big.jsonl"));
  const char *pool[] = {bigpath};
  {
    char *out = strdup(path_in("adaptive.jsonl"));
    l1k_synth_opts o = base_opts(pool, 1, out);
    o.fields = &fmap;
    o.samples = SAN ? 8 : 20;
    o.k = 0;
    o.target_min = 1500;
    o.target_max = 1700;
    o.format = L1K_FMT_OPENTHOUGHTS;
    o.outfmt = L1K_OUT_SHAREGPT;
    CHECK_MSG(l1k_synth_run(&o, &err) == 0, "%s", err.msg);
    idset used = {0};
    expect x = {0, 2, 1500, 1700, 0, L1K_FMT_OPENTHOUGHTS, 1, NULL};
    CHECK(check_output(out, &key, &x, &used, NULL, 0) == o.samples);
    idset_free(&used);
    free(out);
  }
  {
    char *out = strdup(path_in("bins.jsonl"));
    l1k_synth_opts o = base_opts(pool, 1, out);
    o.fields = &fmap;
    int64_t bins[] = {600, 1200};
    o.bins = bins;
    o.n_bins = 2;
    o.per_bin = SAN ? 5 : 12;
    o.k = 0;
    o.mix_single = 0.25;
    o.format = L1K_FMT_PLAIN;
    CHECK_MSG(l1k_synth_run(&o, &err) == 0, "%s", err.msg);
    /* all samples in one file, meta.bin tells the bin; check each bin's range */
    idset used = {0};
    expect x = {0, 1, 540, 1320, 0, L1K_FMT_PLAIN, 0, NULL};
    CHECK(check_output(out, &key, &x, &used, NULL, 0) == 2 * o.per_bin);
    idset_free(&used);
    l1k_jsonl *r = l1k_jsonl_open(out, &err);
    cJSON *j;
    int per[2] = {0, 0}, singles = 0;
    while (r && l1k_jsonl_next(r, &j, &err) == 1) {
      cJSON *m = cJSON_GetObjectItem(j, "meta");
      int b = cJSON_GetObjectItem(m, "bin")->valueint;
      double t = cJSON_GetObjectItem(m, "reasoning_tokens")->valuedouble;
      int bi = b == 600 ? 0 : 1;
      per[bi]++;
      CHECK_MSG(t >= bins[bi] * 0.9 && t <= bins[bi] * 1.1 + 1, "bin %d: %g tokens", b, t);
      int k = cJSON_GetObjectItem(m, "k")->valueint;
      if (cJSON_IsTrue(cJSON_GetObjectItem(m, "single"))) {
        singles++;
        CHECK(k == 1);
      } else {
        CHECK(k >= 2);
      }
      cJSON_Delete(j);
    }
    l1k_jsonl_close(r);
    CHECK(per[0] == o.per_bin && per[1] == o.per_bin);
    CHECK_MSG(singles == 2 * (int)llround(o.per_bin * 0.25), "singles %d", singles);
    free(out);
  }
  {
    char *out = strdup(path_in("resp.jsonl"));
    l1k_synth_opts o = base_opts(pool, 1, out);
    o.fields = &fmap;
    o.samples = SAN ? 5 : 10;
    o.k = 3;
    o.target_min = 1800;
    o.target_max = 2300;
    o.count_mode = L1K_COUNT_RESPONSE;
    CHECK_MSG(l1k_synth_run(&o, &err) == 0, "%s", err.msg);
    idset used = {0};
    expect x = {3, 3, 1800, 2300, 1, L1K_FMT_THINK, 0, NULL};
    CHECK(check_output(out, &key, &x, &used, NULL, 0) == o.samples);
    idset_free(&used);
    free(out);
  }
  /* 3. the difficulty study: pairs within 5% */
  {
    char *out = strdup(path_in("study.jsonl"));
    l1k_synth_opts o = base_opts(pool, 1, out);
    o.fields = &fmap;
    o.samples = SAN ? 5 : 12;
    o.k = 0;
    o.difficulty_study = 1;
    o.difficulty_threshold = 3;
    CHECK_MSG(l1k_synth_run(&o, &err) == 0, "%s", err.msg);
    idset used = {0};
    int64_t me[64], mh[64];
    expect xe = {0, 2, 0, 0, 0, L1K_FMT_THINK, 0, "easy"};
    expect xh = {1, 1, 0, 0, 0, L1K_FMT_THINK, 0, "hard"};
    int ne = check_output(path_in("study.easy.jsonl"), &key, &xe, &used, me, 64);
    int nh = check_output(path_in("study.hard.jsonl"), &key, &xh, &used, mh, 64);
    CHECK(ne == o.samples && nh == o.samples);
    for (int i = 0; i < ne && i < nh && i < 64; i++)
      CHECK_MSG(fabs((double)(me[i] - mh[i])) <= 0.05 * (double)mh[i],
                "pair %d: easy %lld vs hard %lld tokens", i, (long long)me[i], (long long)mh[i]);
    /* difficulty sides */
    l1k_jsonl *r = l1k_jsonl_open(path_in("study.easy.jsonl"), &err);
    cJSON *j;
    while (r && l1k_jsonl_next(r, &j, &err) == 1) {
      cJSON *src = cJSON_GetObjectItem(cJSON_GetObjectItem(j, "meta"), "sources");
      for (int i = 0; i < cJSON_GetArraySize(src); i++) {
        const key_t_ *kk = key_find(&key, cJSON_GetArrayItem(src, i)->valuestring);
        CHECK(kk && kk->difficulty < 3);
      }
      cJSON_Delete(j);
    }
    l1k_jsonl_close(r);
    r = l1k_jsonl_open(path_in("study.hard.jsonl"), &err);
    while (r && l1k_jsonl_next(r, &j, &err) == 1) {
      cJSON *src = cJSON_GetObjectItem(cJSON_GetObjectItem(j, "meta"), "sources");
      const key_t_ *kk = key_find(&key, cJSON_GetArrayItem(src, 0)->valuestring);
      CHECK(kk && kk->difficulty > 3);
      cJSON_Delete(j);
    }
    l1k_jsonl_close(r);
    idset_free(&used);
    free(out);
  }
  /* 4. reproducible: same seed, same bytes (and the same with one or two parsing threads) */
  {
    char *a = strdup(path_in("seed_a.jsonl")), *b = strdup(path_in("seed_b.jsonl"));
    for (int t = 0; t < 2; t++) {
      l1k_synth_opts o = base_opts(pool, 1, t ? b : a);
      o.fields = &fmap;
      o.samples = 6;
      o.k = 0;
      o.target_min = 900;
      o.target_max = 1100;
      o.seed = 42;
      o.threads = t ? 1 : 2;
      CHECK_MSG(l1k_synth_run(&o, &err) == 0, "%s", err.msg);
    }
    size_t la, lb;
    char *ta = l1k_read_file(a, &la, NULL), *tb = l1k_read_file(b, &lb, NULL);
    CHECK(ta && tb && la == lb && !memcmp(ta, tb, la));
    free(ta);
    free(tb);
    free(a);
    free(b);
  }
  /* 5. bad input */
  {
    char *out = strdup(path_in("bad.jsonl"));
    /* unreachable target names the reachable range */
    l1k_synth_opts o = base_opts(pool, 1, out);
    o.fields = &fmap;
    o.samples = 3;
    o.k = 2;
    o.target_min = 200000;
    o.target_max = 210000;
    CHECK(l1k_synth_run(&o, &err) == L1K_EINPUT);
    CHECK_MSG(strstr(err.msg, "cannot be reached") && strstr(err.msg, "reachable is about"), "%s", err.msg);
    CHECK(!l1k_file_exists(out));
    /* empty pool */
    FILE *f = fopen(path_in("empty.jsonl"), "w");
    fclose(f);
    const char *ep[] = {path_in("empty.jsonl")};
    o = base_opts(ep, 1, out);
    o.samples = 3;
    CHECK(l1k_synth_run(&o, &err) == L1K_EINPUT);
    CHECK_MSG(strstr(err.msg, "pool is empty") != NULL, "%s", err.msg);
    /* a mapping to fields the records do not have */
    l1k_synth_fields bad = {0};
    CHECK(l1k_synth_fields_parse(&bad, "problem=question_text,reasoning=trace,solution=sol", &err) == 0);
    o = base_opts(pool, 1, out);
    o.fields = &bad;
    o.schema = L1K_SCHEMA_FIELDS;
    o.samples = 3;
    CHECK(l1k_synth_run(&o, &err) == L1K_EINPUT);
    CHECK_MSG(strstr(err.msg, "question_text") && strstr(err.msg, "big.jsonl:1"), "%s", err.msg);
    l1k_synth_fields_free(&bad);
    /* unknown --field name */
    CHECK(l1k_synth_fields_parse(&bad, "problem=q,thoughts=t", &err) == L1K_EINPUT);
    CHECK_MSG(strstr(err.msg, "unknown name 'thoughts'") != NULL, "%s", err.msg);
    l1k_synth_fields_free(&bad);
    /* unknown schema (no mapping) */
    f = fopen(path_in("odd.jsonl"), "w");
    fputs("{\"foo\": 1, \"bar\": \"x\"}\n", f);
    fclose(f);
    const char *op[] = {path_in("odd.jsonl")};
    o = base_opts(op, 1, out);
    o.samples = 1;
    CHECK(l1k_synth_run(&o, &err) == L1K_EINPUT);
    CHECK_MSG(strstr(err.msg, "odd.jsonl:1") && strstr(err.msg, "foo, bar"), "%s", err.msg);
    /* more samples than the pool can give */
    o = base_opts(pool, 1, out);
    o.fields = &fmap;
    o.samples = 100000;
    o.k = 2;
    CHECK(l1k_synth_run(&o, &err) == L1K_EINPUT);
    CHECK_MSG(strstr(err.msg, "never reused") != NULL, "%s", err.msg);
    /* missing pool file */
    const char *mp[] = {path_in("nope.jsonl")};
    o = base_opts(mp, 1, out);
    o.samples = 1;
    CHECK(l1k_synth_run(&o, &err) == L1K_EINPUT);
    CHECK_MSG(strstr(err.msg, "nope.jsonl") != NULL, "%s", err.msg);
    free(out);
  }
  free(key.v);
  free(bigpath);
  l1k_synth_fields_free(&fmap);
  l1k_tokenizer_free(TOK);
  char cmd[700];
  snprintf(cmd, sizeof cmd, "rm -rf %s", DIR_);
  if (!check_failures) (void)!system(cmd);
  CHECK_DONE();
}
