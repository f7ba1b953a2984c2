/* long1k demo — the whole Long1K loop on a built-in toy task, on a laptop CPU, in minutes.
 *
 * Stages (each one is a long1k subcommand run as a child process, so the demo exercises
 * exactly what users run):
 *   1. pool      the built-in generator writes solved toy problems (pool.jsonl) and a disjoint
 *                set of held-out problems (heldout.jsonl)
 *   2. synth     training sets at several reasoning lengths by joining k problems per sample
 *                (the paper's recipe), lengths counted with the real Qwen tokenizer
 *   3. init      a tiny Qwen2-architecture model with the demo's small tokenizer
 *   4. train     one fine-tuning run per set (same recipe, same number of optimizer steps)
 *   5. eval      every trained model and the untrained one on the held-out problems, graded
 *   6. fit       accuracy against training length: y = a + b ln x
 *   7. report    report.html gathering all of the above
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli/cli.h"
#include "long1k/demo.h"
#include "long1k/io.h"
#include "long1k/jsonl.h"
#include "long1k/log.h"
#include "long1k/tokenizer.h"

#define MAX_SETS 6

typedef struct {
  const char *out;
  double minutes;
  int quick;
  uint64_t seed;
  int pool_size, heldout;
  int samples;           /* per training set */
  int ks[MAX_SETS], n_sets;
  int steps;             /* optimizer steps per run */
  int batch;             /* per-device batch (rows) */
  int accum;
  int layers, hidden, inter, heads, kv_heads;
  int max_new_tokens;
  int threads;
  double lr;
  double mix_single;
  int min_digits, max_digits;
} demo_opts;

static const char *self_exe(void) {
  static char buf[4096];
  ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) return "long1k";
  buf[n] = 0;
  return buf;
}

/* This executable, opened when the demo starts: the stages run it through the descriptor, so
 * a rebuild or reinstall of long1k while the demo runs does not break them. */
static int self_fd = -1;

/* In a forked child: replaces it with `long1k args...`. Never returns. */
static void exec_long1k(char *const args[]) __attribute__((noreturn));
static void exec_long1k(char *const args[]) {
  int n = 0;
  while (args[n]) n++;
  char **argv = l1k_calloc((size_t)n + 2, sizeof *argv, NULL);
  if (!argv) _exit(1);
  argv[0] = (char *)"long1k";
  for (int i = 0; i < n; i++) argv[i + 1] = args[i];
  if (self_fd >= 0) fexecve(self_fd, argv, environ);
  execv(self_exe(), argv);
  _exit(127);
}

/* Runs `long1k args...` in the foreground. Returns the child's exit code. */
static int run_cmd(char *const args[]) {
  fflush(stdout);
  fflush(stderr);
  pid_t pid = fork();
  if (pid < 0) return 1;
  if (pid == 0) exec_long1k(args);
  int st;
  while (waitpid(pid, &st, 0) < 0)
    if (errno != EINTR) return 1;
  if (WIFEXITED(st)) return WEXITSTATUS(st);
  return 1;
}

/* Starts `long1k args...` in the background, single-threaded (tiny models gain nothing from
 * threads, and the runs share the cores instead), stdout and stderr to log_path. Returns the
 * child's pid, or -1 if it could not be started. */
static pid_t spawn_bg(const char *log_path, char *const args[]) {
  fflush(stdout);
  fflush(stderr);
  pid_t pid = fork();
  if (pid != 0) return pid < 0 ? -1 : pid;
  FILE *f = freopen(log_path, "w", stdout);
  if (!f || dup2(fileno(stdout), 2) < 0) _exit(1);
  setenv("OMP_NUM_THREADS", "1", 1);
  setenv("OPENBLAS_NUM_THREADS", "1", 1);
  exec_long1k(args);
}

/* Counts the lines of a file and returns the last one (malloc'ed) if wanted. */
static long count_lines(const char *path, char **last) {
  FILE *f = fopen(path, "r");
  if (last) *last = NULL;
  if (!f) return 0;
  long n = 0;
  char *line = NULL;
  size_t cap = 0;
  ssize_t len;
  while ((len = getline(&line, &cap, f)) > 0) {
    if (line[len - 1] != '\n') break; /* a line still being written */
    n++;
    if (last) {
      free(*last);
      *last = strdup(line);
    }
  }
  free(line);
  fclose(f);
  return n;
}

static void print_log_tail(const char *path) {
  char *text = l1k_read_file(path, NULL, NULL);
  if (!text) return;
  size_t n = strlen(text);
  const char *p = n > 2000 ? text + n - 2000 : text;
  fprintf(stderr, "--- last lines of %s ---\n%s\n", path, p);
  free(text);
}

typedef struct {
  pid_t pid;
  const char *name;
  char *log;
  char *progress_file; /* JSONL whose line count (or last "step") shows progress */
  long total;
  int use_step;        /* progress = "step" of the last line (trainer_log.jsonl) */
  int done, rc;
} bg_job;

/* Waits for all jobs, drawing one progress line for them together. Returns the first
 * non-zero exit code (after printing that job's log tail), or 0. */
static int wait_jobs(bg_job *jobs, int n, const char *label) {
  l1k_progress pr;
  long total = 0;
  for (int i = 0; i < n; i++) total += jobs[i].total;
  l1k_progress_begin(&pr, label, total);
  int left = n;
  while (left > 0) {
    for (int i = 0; i < n; i++) {
      if (jobs[i].done) continue;
      int st;
      /* a job that never started (pid -1) must not wait for "any child" */
      pid_t r = jobs[i].pid > 0 ? waitpid(jobs[i].pid, &st, WNOHANG) : -1;
      if (r == jobs[i].pid || (r < 0 && errno != EINTR)) {
        jobs[i].done = 1;
        jobs[i].rc = r == jobs[i].pid && WIFEXITED(st) ? WEXITSTATUS(st) : 1;
        left--;
      }
    }
    long done = 0;
    char extra[256] = "", *e = extra;
    for (int i = 0; i < n; i++) {
      char *last = NULL;
      long lines = count_lines(jobs[i].progress_file, jobs[i].use_step ? &last : NULL);
      long d = lines;
      double loss = NAN;
      if (jobs[i].use_step) {
        d = 0;
        if (last) {
          cJSON *j = cJSON_Parse(last);
          if (j) {
            cJSON *st = cJSON_GetObjectItem(j, "step"), *lo = cJSON_GetObjectItem(j, "loss");
            if (cJSON_IsNumber(st)) d = (long)st->valuedouble;
            if (cJSON_IsNumber(lo)) loss = lo->valuedouble;
            cJSON_Delete(j);
          }
          free(last);
        }
      }
      if (jobs[i].done && !jobs[i].rc) d = jobs[i].total;
      if (d > jobs[i].total) d = jobs[i].total;
      done += d;
      size_t room = sizeof extra - (size_t)(e - extra);
      int w = isfinite(loss) ? snprintf(e, room, "%s%s %ld/%ld loss %.3f", i ? " | " : "", jobs[i].name, d, jobs[i].total, loss)
                             : snprintf(e, room, "%s%s %ld/%ld", i ? " | " : "", jobs[i].name, d, jobs[i].total);
      if (w > 0 && (size_t)w < room) e += w;
    }
    l1k_progress_update(&pr, done, extra);
    if (left > 0) usleep(200000);
  }
  l1k_progress_end(&pr);
  for (int i = 0; i < n; i++)
    if (jobs[i].rc) {
      fprintf(stderr, "long1k demo: %s %s failed (exit %d)\n", label, jobs[i].name, jobs[i].rc);
      print_log_tail(jobs[i].log);
      return jobs[i].rc;
    }
  return 0;
}

static char *fmt(const char *f, ...) __attribute__((format(printf, 1, 2)));
static char *fmt(const char *f, ...) {
  va_list ap;
  va_start(ap, f);
  char *s = NULL;
  if (vasprintf(&s, f, ap) < 0) s = NULL;
  va_end(ap);
  return s;
}

static void stage(int i, int n, const char *what) {
  fprintf(stderr, "\n\033[1m[%d/%d] %s\033[0m\n", i, n, what);
  if (!isatty(2)) fprintf(stderr, "%s\n", "------------------------------------------------");
}

/* Reads a numeric field (dotted path) from a JSON file. */
static int json_file_number(const char *path, const char *dotted, double *out) {
  char *text = l1k_read_file(path, NULL, NULL);
  if (!text) return -1;
  cJSON *j = cJSON_Parse(text);
  free(text);
  if (!j) return -1;
  cJSON *cur = j;
  char key[128];
  const char *p = dotted;
  while (cur && *p) {
    const char *dot = strchr(p, '.');
    size_t n = dot ? (size_t)(dot - p) : strlen(p);
    if (n >= sizeof key) n = sizeof key - 1;
    memcpy(key, p, n);
    key[n] = 0;
    if (cJSON_IsArray(cur) && key[0] >= '0' && key[0] <= '9')
      cur = cJSON_GetArrayItem(cur, atoi(key));
    else
      cur = cJSON_GetObjectItemCaseSensitive(cur, key);
    p = dot ? dot + 1 : p + n;
  }
  int rc = -1;
  if (cur && cJSON_IsNumber(cur)) {
    *out = cur->valuedouble;
    rc = 0;
  }
  cJSON_Delete(j);
  return rc;
}

static int write_text(const char *path, const char *text) {
  l1k_err err = {0};
  if (l1k_write_file_atomic(path, text, strlen(text), &err)) {
    fprintf(stderr, "long1k demo: %s\n", err.msg);
    return 1;
  }
  return 0;
}

static void usage(void) {
  printf(
      "usage: long1k demo [--out DIR] [--minutes N] [--quick] [options]\n\n"
      "Runs the whole Long1K loop on a built-in toy task, with no downloads: generates a pool of\n"
      "solved arithmetic and algebra problems with step-by-step reasoning, synthesizes training\n"
      "sets at several reasoning lengths by joining k problems per sample (lengths counted with\n"
      "the Qwen tokenizer), initializes a tiny Qwen2-architecture model, fine-tunes one copy per\n"
      "set, evaluates each (and the untrained model) on held-out problems with the grader, fits\n"
      "accuracy = a + b ln(training length), and writes DIR/report.html.\n\n"
      "options:\n"
      "  -o, --out DIR         output directory (default long1k-demo)\n"
      "  -m, --minutes N       training budget on 2 cores: 125 steps a minute (default 8 = 1000\n"
      "                        steps; the whole demo took 9 min on an idle 2-core machine)\n"
      "      --quick           a shortened run for tests (about a minute)\n"
      "      --seed S          seed of the pool, sets, init and training (default 1)\n"
      "      --sets K1,K2,..   problems joined per sample for each set (default 1,2,3)\n"
      "      --samples N       samples per training set (default 1000, the paper's 1K)\n"
      "      --mix-single R    fraction of single-problem samples in the k > 1 sets (default\n"
      "                        0.25), so every set holds the held-out problems' format\n"
      "      --steps N         optimizer steps per run (default: from --minutes)\n"
      "      --heldout N       held-out problems to evaluate (default 100)\n"
      "      --digits MIN:MAX  digits of the toy problems' numbers (default 2:2)\n"
      "      --threads N       CPU threads (default: all)\n"
      "  -h, --help            this text\n\n"
      "Everything lands in DIR: pool.jsonl, heldout.jsonl, sets/, base/ (the untrained model),\n"
      "runs/k<K>/ (train config, checkpoints, trainer_log.jsonl, eval/), fit.json,\n"
      "summary.json and report.html. Rerunning with the same DIR starts over.\n");
}

static int parse_sets(const char *s, demo_opts *o) {
  o->n_sets = 0;
  while (*s) {
    char *end;
    long k = strtol(s, &end, 10);
    if (end == s || k < 1 || k > 16 || o->n_sets >= MAX_SETS) return -1;
    o->ks[o->n_sets++] = (int)k;
    s = end;
    if (*s == ',') s++;
    else if (*s) return -1;
  }
  return o->n_sets >= 2 ? 0 : -1;
}

/* Every string the demo builds is kept here and freed when it ends. */
typedef struct {
  char **s;
  size_t n, cap;
} strpool;

static char *keep(strpool *sp, char *s) {
  if (!s) return NULL;
  if (sp->n == sp->cap) {
    size_t nc = sp->cap ? sp->cap * 2 : 64;
    char **ns = l1k_realloc(sp->s, nc * sizeof *ns, NULL);
    if (!ns) return s; /* not kept: a leak at worst, never a crash */
    sp->s = ns;
    sp->cap = nc;
  }
  sp->s[sp->n++] = s;
  return s;
}

#define F(...) keep(sp, fmt(__VA_ARGS__))

enum { NST = 7 }; /* the stages the demo announces */

/* everything the demo holds between its stages */
typedef struct demo {
  demo_opts o;
  strpool *sp;
  l1k_err err;
  double t0;
  char *qwen_tok, *tiny_tok, *sets_dir, *runs_dir, *pool, *held, *base, *points, *fitjson, *fitsvg,
      *report;
  char seed_s[32], threads_s[16];
  char *set_path[MAX_SETS], *run_dir[MAX_SETS], *ckpt[MAX_SETS], *names[MAX_SETS + 1];
  char *edirs[MAX_SETS + 1];
  bg_job jobs[MAX_SETS + 1];
  double acc[MAX_SETS + 1], xlen[MAX_SETS];
} demo;

/* the options; -1 when the demo goes on, else the exit code */
static int demo_args(demo *d, int argc, char **argv) {
  d->o = (demo_opts){.out = "long1k-demo", .minutes = 8, .seed = 1, .pool_size = 3000, .heldout = 100,
                 .samples = 1000, .ks = {1, 2, 3}, .n_sets = 3, .steps = 0, .batch = 2, .accum = 1,
                 .layers = 2, .hidden = 128, .inter = 384, .heads = 4, .kv_heads = 2,
                 .max_new_tokens = 256, .threads = 0, .lr = 3e-3, .mix_single = 0.25,
                 .min_digits = 2, .max_digits = 2};
  static const struct option lopts[] = {{"out", required_argument, 0, 'o'},
                                        {"minutes", required_argument, 0, 'm'},
                                        {"quick", no_argument, 0, 'Q'},
                                        {"seed", required_argument, 0, 'S'},
                                        {"sets", required_argument, 0, 'K'},
                                        {"samples", required_argument, 0, 'N'},
                                        {"steps", required_argument, 0, 'T'},
                                        {"heldout", required_argument, 0, 'H'},
                                        {"threads", required_argument, 0, 'j'},
                                        {"digits", required_argument, 0, 'D'},
                                        {"mix-single", required_argument, 0, 'X'},
                                        {"help", no_argument, 0, 'h'},
                                        {0, 0, 0, 0}};
  int c;
  optind = 1;
  while ((c = getopt_long(argc, argv, "o:m:h", lopts, NULL)) != -1) {
    char *end = NULL;
    switch (c) {
      case 'o': d->o.out = optarg; break;
      case 'm':
        d->o.minutes = strtod(optarg, &end);
        if (*end || !(d->o.minutes > 0)) return cli_usage_error("demo", "--minutes '%s': expected a positive number", optarg);
        break;
      case 'Q': d->o.quick = 1; break;
      case 'S': d->o.seed = strtoull(optarg, &end, 10);
        if (*end) return cli_usage_error("demo", "--seed '%s': expected an integer", optarg);
        break;
      case 'K':
        if (parse_sets(optarg, &d->o)) return cli_usage_error("demo", "--sets '%s': expected 2 to 6 integers 1..16 separated by commas", optarg);
        break;
      case 'N': d->o.samples = (int)strtol(optarg, &end, 10);
        if (*end || d->o.samples < 8) return cli_usage_error("demo", "--samples '%s': expected an integer >= 8", optarg);
        break;
      case 'T': d->o.steps = (int)strtol(optarg, &end, 10);
        if (*end || d->o.steps < 1) return cli_usage_error("demo", "--steps '%s': expected a positive integer", optarg);
        break;
      case 'H': d->o.heldout = (int)strtol(optarg, &end, 10);
        if (*end || d->o.heldout < 1) return cli_usage_error("demo", "--heldout '%s': expected a positive integer", optarg);
        break;
      case 'j': d->o.threads = (int)strtol(optarg, &end, 10);
        if (*end || d->o.threads < 1) return cli_usage_error("demo", "--threads '%s': expected a positive integer", optarg);
        break;
      case 'D':
        if (sscanf(optarg, "%d:%d", &d->o.min_digits, &d->o.max_digits) != 2 || d->o.min_digits < 1 ||
            d->o.max_digits > 7 || d->o.min_digits > d->o.max_digits)
          return cli_usage_error("demo", "--digits '%s': expected MIN:MAX within 1:7", optarg);
        break;
      case 'X':
        d->o.mix_single = strtod(optarg, &end);
        if (*end || !(d->o.mix_single >= 0 && d->o.mix_single < 1))
          return cli_usage_error("demo", "--mix-single '%s': expected a fraction in [0, 1)", optarg);
        break;
      case 'h': usage(); return 0;
      default: return cli_usage_error("demo", "unknown option");
    }
  }
  if (optind < argc) return cli_usage_error("demo", "unexpected argument '%s'", argv[optind]);
  if (d->o.quick) {
    d->o.pool_size = 600;
    if (d->o.samples == 1000) d->o.samples = 32;
    if (d->o.heldout == 100) d->o.heldout = 12;
    if (!d->o.steps) d->o.steps = 8;
    d->o.max_new_tokens = 96;
    d->o.hidden = 64;
    d->o.inter = 192;
  }
  if (!d->o.steps) d->o.steps = (int)(d->o.minutes * 125.0 + 0.5); /* 1000 at the default 8 minutes */
  if (d->o.steps < 1) d->o.steps = 1;
  int need = 0;
  for (int i = 0; i < d->o.n_sets; i++) need += d->o.samples * d->o.ks[i];
  /* exact duplicates and problems equal to held-out ones are removed by synth: room for them */
  if (need * 3 + 1000 > d->o.pool_size) d->o.pool_size = need * 3 + 1000;

  return -1;
}

/* the shipped tokenizers, a fresh output directory and its sets/ and runs/ */
static int demo_prepare(demo *d) {
  strpool *sp = d->sp;
  d->t0 = l1k_now();
  const char *data = cli_data_dir();
  d->qwen_tok = keep(sp, l1k_path_join(data, "tokenizers/qwen"));
  d->tiny_tok = keep(sp, l1k_path_join(data, "tokenizers/tiny"));
  if (!l1k_is_dir(d->tiny_tok) || !l1k_is_dir(d->qwen_tok)) {
    fprintf(stderr, "long1k demo: shipped tokenizers not found under %s (set LONG1K_DATA)\n", data);
    return 2;
  }
  if (l1k_rm_rf(d->o.out, &d->err) || l1k_mkdir_p(d->o.out, &d->err)) return cli_fail("demo", &d->err);
  d->sets_dir = F("%s/sets", d->o.out);
  d->runs_dir = F("%s/runs", d->o.out);
  if (l1k_mkdir_p(d->sets_dir, &d->err) || l1k_mkdir_p(d->runs_dir, &d->err)) return cli_fail("demo", &d->err);
  snprintf(d->threads_s, sizeof d->threads_s, "%d", d->o.threads > 0 ? d->o.threads : (int)sysconf(_SC_NPROCESSORS_ONLN));
  return -1;
}

/* 1. pool: solved toy problems, and the held-out ones */
static int stage_pool(demo *d) {
  strpool *sp = d->sp;
  stage(1, NST, "pool: solved toy problems with step-by-step reasoning");
  d->pool = F("%s/pool.jsonl", d->o.out);
  d->held = F("%s/heldout.jsonl", d->o.out);
  l1k_toy_opts topt;
  l1k_toy_default_opts(&topt);
  topt.min_digits = d->o.min_digits;
  topt.max_digits = d->o.max_digits;
  topt.kinds = 7; /* addition, subtraction, multiplication: every step is written out */
  FILE *f = fopen(d->pool, "w");
  if (!f || l1k_toy_write_pool(f, d->o.seed, 0, d->o.pool_size, &topt, &d->err)) {
    if (f) fclose(f);
    return d->err.code ? cli_fail("demo", &d->err) : (fprintf(stderr, "long1k demo: cannot write %s\n", d->pool), 1);
  }
  fclose(f);
  f = fopen(d->held, "w");
  if (!f || l1k_toy_write_pool(f, d->o.seed, 1000000000ULL, d->o.heldout, &topt, &d->err)) {
    if (f) fclose(f);
    return d->err.code ? cli_fail("demo", &d->err) : (fprintf(stderr, "long1k demo: cannot write %s\n", d->held), 1);
  }
  fclose(f);
  fprintf(stderr, "%d pool problems -> %s; %d held-out problems -> %s\n", d->o.pool_size, d->pool, d->o.heldout, d->held);
  return -1;
}

/* 2. synth: one training set per k */
static int stage_synth(demo *d) {
  strpool *sp = d->sp;
  /* 2. synth: one set per k, problems never shared between sets (disjoint pool slices are
   * not needed: each set draws without reuse inside itself; sets may overlap, as the paper's
   * sets drawn from one pool do). */
  stage(2, NST, "synth: join k problems per sample (lengths counted with the Qwen tokenizer)");
  snprintf(d->seed_s, sizeof d->seed_s, "%" PRIu64, d->o.seed);
  for (int i = 0; i < d->o.n_sets; i++) {
    d->set_path[i] = F("%s/k%d.jsonl", d->sets_dir, d->o.ks[i]);
    char ks[8], ns[16], mix[32];
    snprintf(ks, sizeof ks, "%d", d->o.ks[i]);
    snprintf(ns, sizeof ns, "%d", d->o.samples);
    snprintf(mix, sizeof mix, "%g", d->o.ks[i] > 1 ? d->o.mix_single : 0.0);
    char *args[] = {"synth", "--pool", d->pool, "--schema", "fields",
                    "--field", "problem=problem,reasoning=reasoning,solution=solution,answer=answer,difficulty=difficulty,domain=domain,id=id",
                    "--tokenizer", d->qwen_tok, "--samples", ns, "--problems-per-sample", ks,
                    "--mix-single", mix, "--decontaminate", d->held, "--seed", d->seed_s, "--out", d->set_path[i], NULL};
    int rc = run_cmd(args);
    if (rc) {
      fprintf(stderr, "long1k demo: synth failed for k=%d (exit %d)\n", d->o.ks[i], rc);
      return rc == 2 ? 2 : 1;
    }
  }
  return -1;
}

/* 3. init: the base model */
static int stage_init(demo *d) {
  strpool *sp = d->sp;
  stage(3, NST, "init: a tiny Qwen2-architecture model (random weights)");
  d->base = F("%s/base", d->o.out);
  {
    /* vocabulary size and special ids from the tiny tokenizer itself */
    l1k_tokenizer *tk = l1k_tokenizer_load(d->tiny_tok, &d->err);
    if (!tk) return cli_fail("demo", &d->err);
    int32_t vocab = l1k_tokenizer_vocab_size(tk), eos = l1k_tokenizer_token_to_id(tk, "<|im_end|>"),
            bos = l1k_tokenizer_token_to_id(tk, "<|endoftext|>");
    l1k_tokenizer_free(tk);
    if (eos < 0 || bos < 0) {
      fprintf(stderr, "long1k demo: %s has no <|im_end|> or <|endoftext|> token\n", d->tiny_tok);
      return 2;
    }
    char L[16], Hs[16], I[16], Hd[16], KV[16], V[16], E[16], Bo[16], IR[32];
    snprintf(L, sizeof L, "%d", d->o.layers);
    snprintf(Hs, sizeof Hs, "%d", d->o.hidden);
    snprintf(I, sizeof I, "%d", d->o.inter);
    snprintf(Hd, sizeof Hd, "%d", d->o.heads);
    snprintf(KV, sizeof KV, "%d", d->o.kv_heads);
    snprintf(V, sizeof V, "%d", (int)vocab);
    snprintf(E, sizeof E, "%d", (int)eos);
    snprintf(Bo, sizeof Bo, "%d", (int)bos);
    /* weights ~ N(0, 1/sqrt(hidden)): transformers' 0.02 is tuned for hidden sizes near 2500;
     * at 128 it starts attention so flat that a 2-layer model never learns to copy digits
     * within the demo's budget (measured: docs/demo.md) */
    snprintf(IR, sizeof IR, "%.4f", 1.0 / sqrt((double)d->o.hidden));
    char *args[] = {"init", "--preset", "qwen2.5-0.5b-instruct", "--out", d->base, "--seed", d->seed_s,
                    "--dtype", "f32", "--tokenizer", d->tiny_tok, "--layers", L, "--hidden-size", Hs,
                    "--intermediate-size", I, "--heads", Hd, "--kv-heads", KV, "--vocab-size", V,
                    "--max-position-embeddings", "4096", "--eos-token-id", E, "--bos-token-id", Bo,
                    "--rope-theta", "10000", "--initializer-range", IR, NULL};
    int rc = run_cmd(args);
    if (rc) {
      fprintf(stderr, "long1k demo: init failed (exit %d)\n", rc);
      return rc == 2 ? 2 : 1;
    }
  }
  return -1;
}

/* 4. train: one run per set, in parallel */
static int stage_train(demo *d) {
  strpool *sp = d->sp;
  stage(4, NST, "train: fine-tune one copy per training set (runs in parallel, one thread each)");
  memset(d->jobs, 0, sizeof d->jobs);
  for (int i = 0; i < d->o.n_sets; i++) {
    d->run_dir[i] = F("%s/k%d", d->runs_dir, d->o.ks[i]);
    if (l1k_mkdir_p(d->run_dir[i], &d->err)) return cli_fail("demo", &d->err);
    char *cfg = F(
        "# written by long1k demo\n"
        "model_name_or_path: %s\n"
        "dataset: %s\n"
        "template: qwen2.5\n"
        "finetuning_type: full\n"
        "cutoff_len: 2048\n"
        "overlength: truncate\n"
        "learning_rate: %g\n"
        "max_steps: %d\n"
        "per_device_train_batch_size: %d\n"
        "gradient_accumulation_steps: %d\n"
        "lr_scheduler_type: cosine\n"
        "warmup_ratio: 0.05\n"
        "weight_decay: 0.0001\n"
        "adam_beta1: 0.9\n"
        "adam_beta2: 0.95\n"
        "max_grad_norm: 1.0\n"
        "bf16: false\n"
        "seed: %" PRIu64 "\n"
        "neat_packing: true\n"
        "output_dir: %s/out\n"
        "logging_steps: 1\n"
        "save_steps: 0\n"
        "save_total_limit: 1\n"
        "tokenized_cache_dir: %s/cache\n",
        d->base, d->set_path[i], d->o.lr, d->o.steps, d->o.batch, d->o.accum, d->o.seed, d->run_dir[i], d->o.out);
    char *cfg_path = F("%s/train.yaml", d->run_dir[i]);
    if (write_text(cfg_path, cfg)) return 1;
    fprintf(stderr, "run k=%d: %s (log: %s/train.log)\n", d->o.ks[i], cfg_path, d->run_dir[i]);
    char *args[] = {"train", cfg_path, NULL};
    d->names[i] = F("k%d", d->o.ks[i]);
    d->jobs[i].name = d->names[i];
    d->jobs[i].log = F("%s/train.log", d->run_dir[i]);
    d->jobs[i].progress_file = F("%s/out/trainer_log.jsonl", d->run_dir[i]);
    d->jobs[i].total = d->o.steps;
    d->jobs[i].use_step = 1;
    d->jobs[i].pid = spawn_bg(d->jobs[i].log, args);
    d->ckpt[i] = F("%s/out/checkpoint-%d", d->run_dir[i], d->o.steps);
  }
  {
    int rc = wait_jobs(d->jobs, d->o.n_sets, "train");
    if (rc) return rc == 2 ? 2 : 1;
    for (int i = 0; i < d->o.n_sets; i++) {
      char *last = NULL;
      count_lines(d->jobs[i].progress_file, &last);
      cJSON *j = last ? cJSON_Parse(last) : NULL;
      cJSON *lo = j ? cJSON_GetObjectItem(j, "loss") : NULL;
      fprintf(stderr, "  k=%d: %d steps, final training loss %.4f\n", d->o.ks[i], d->o.steps,
              cJSON_IsNumber(lo) ? lo->valuedouble : NAN);
      cJSON_Delete(j);
      free(last);
    }
  }
  return -1;
}

/* 5. eval: every run and the untrained base on the held-out problems */
static int stage_eval(demo *d) {
  strpool *sp = d->sp;
  stage(5, NST, "eval: held-out problems, greedy, graded (in parallel, one thread each)");
  char *prompt_file = F("%s/prompt.json", d->o.out);
  if (write_text(prompt_file,
                 "{\"user\": \"{problem}\\n\\nPlease reason step by step, and put your final answer within \\\\boxed{}.\"}\n"))
    return 1;
  char mnt[16];
  snprintf(mnt, sizeof mnt, "%d", d->o.max_new_tokens);
  memset(d->jobs, 0, sizeof d->jobs);
  for (int i = 0; i <= d->o.n_sets; i++) {
    const char *model = i < d->o.n_sets ? d->ckpt[i] : d->base;
    d->edirs[i] = i < d->o.n_sets ? F("%s/eval", d->run_dir[i]) : F("%s/base_eval", d->o.out);
    char *args[] = {"eval", "--data", d->held, "--model", (char *)model, "--out", d->edirs[i],
                    "--prompt-template", prompt_file, "--temperature", "0", "--max-tokens", mnt,
                    "--n", "1", "--quiet", NULL};
    d->jobs[i].name = i < d->o.n_sets ? d->names[i] : "untrained";
    d->jobs[i].log = F("%s.log", d->edirs[i]);
    d->jobs[i].progress_file = F("%s/results.jsonl", d->edirs[i]);
    d->jobs[i].total = d->o.heldout;
    d->jobs[i].pid = spawn_bg(d->jobs[i].log, args);
  }
  {
    int rc = wait_jobs(d->jobs, d->o.n_sets + 1, "eval");
    if (rc) return rc == 2 ? 2 : 1;
  }
  for (int i = 0; i <= d->o.n_sets; i++) {
    char *sum = F("%s/summary.json", d->edirs[i]);
    if (json_file_number(sum, "pass@1", &d->acc[i]))
      d->acc[i] = NAN;
  }
  return -1;
}

/* 6. fit: accuracy against the sets' reasoning lengths */
static int stage_fit(demo *d) {
  strpool *sp = d->sp;
  stage(6, NST, "fit: accuracy = a + b ln(training reasoning length)");
  d->points = F("%s/points.jsonl", d->o.out);
  l1k_buf pb = {0};
  for (int i = 0; i < d->o.n_sets; i++) {
    char *st = F("%s.stats.json", d->set_path[i]);
    if (json_file_number(st, "sets.0.mean_reasoning_tokens", &d->xlen[i]))
      d->xlen[i] = NAN;
    l1k_buf_printf(&pb, "{\"run\":\"k%d\",\"train_length\":%.1f,\"accuracy\":%.6f,\"n\":%d}\n", d->o.ks[i],
                   d->xlen[i], d->acc[i], d->o.heldout);
    char *meta = F("%s/long1k.json", d->run_dir[i]);
    char *mt = F("{\"name\": \"k%d\", \"train_length\": %.1f}\n", d->o.ks[i], d->xlen[i]);
    write_text(meta, mt);
    /* the set's statistics beside its run, so that the report shows them in the run's row */
    size_t sl = 0;
    char *stx = l1k_read_file(st, &sl, &d->err);
    if (stx) {
      write_text(F("%s/dataset.stats.json", d->run_dir[i]), stx);
      free(stx);
    } else {
      fprintf(stderr, "long1k demo: %s (the report will show no dataset stats for k=%d)\n",
              d->err.msg, d->o.ks[i]);
    }
  }
  if (write_text(d->points, pb.data ? pb.data : "")) return 1;
  l1k_buf_free(&pb);
  d->fitjson = F("%s/fit.json", d->o.out);
  d->fitsvg = F("%s/fit.svg", d->o.out);
  {
    char *args[] = {"fit", "--input", d->points, "--x", "train_length", "--y", "accuracy", "--n", "n",
                    "--bootstrap", d->o.quick ? "200" : "2000", "--out", d->fitjson, "--svg", d->fitsvg, NULL};
    int rc = run_cmd(args);
    if (rc) fprintf(stderr, "long1k demo: fit failed (exit %d); the report will say so\n", rc);
  }
  return -1;
}

/* 7. report */
static int stage_report(demo *d) {
  strpool *sp = d->sp;
  stage(7, NST, "report");
  d->report = F("%s/report.html", d->o.out);
  {
    /* each run directory separately, so the report sees one run per training length */
    char *args[MAX_SETS + 12];
    int na = 0;
    args[na++] = "report";
    for (int i = 0; i < d->o.n_sets; i++) args[na++] = d->run_dir[i];
    args[na++] = "--fit";
    args[na++] = d->fitjson;
    args[na++] = "--out";
    args[na++] = d->report;
    args[na++] = "--title";
    args[na++] = "long1k demo";
    args[na] = NULL;
    int rc = run_cmd(args);
    if (rc) {
      fprintf(stderr, "long1k demo: report failed (exit %d)\n", rc);
      return rc == 2 ? 2 : 1;
    }
  }
  return -1;
}

/* the summary table and summary.json */
static int demo_summary(demo *d) {
  strpool *sp = d->sp;
  /* summary */
  double b = NAN;
  json_file_number(d->fitjson, "b", &b);
  l1k_buf sb = {0};
  l1k_buf_printf(&sb, "{\"seed\": %" PRIu64 ", \"steps\": %d, \"heldout\": %d, \"untrained_accuracy\": %.6f, \"runs\": [",
                 d->o.seed, d->o.steps, d->o.heldout, d->acc[d->o.n_sets]);
  fprintf(stderr, "\n\033[1mlong1k demo summary\033[0m (%.0f s)\n", l1k_now() - d->t0);
  fprintf(stderr, "  %-10s %12s %14s\n", "run", "train len", "held-out acc");
  fprintf(stderr, "  %-10s %12s %13.1f%%\n", "untrained", "-", 100 * d->acc[d->o.n_sets]);
  for (int i = 0; i < d->o.n_sets; i++) {
    char name[16];
    snprintf(name, sizeof name, "k=%d", d->o.ks[i]);
    fprintf(stderr, "  %-10s %12.0f %13.1f%%\n", name, d->xlen[i], 100 * d->acc[i]);
    l1k_buf_printf(&sb, "%s{\"k\": %d, \"train_length\": %.1f, \"accuracy\": %.6f}", i ? ", " : "", d->o.ks[i], d->xlen[i], d->acc[i]);
  }
  l1k_buf_printf(&sb, "], \"fit_b_per_ln\": %.6f, \"elapsed_s\": %.1f}\n", b, l1k_now() - d->t0);
  char *summary = F("%s/summary.json", d->o.out);
  write_text(summary, sb.data);
  l1k_buf_free(&sb);
  if (isfinite(b))
    fprintf(stderr, "  fitted law: accuracy = a + %.4f ln(length)  (%+.1f points per doubling)\n", b, 100 * b * log(2));
  fprintf(stderr, "  report: %s\n  summary: %s\n", d->report, summary);
  return -1;
}

static int demo_run(int argc, char **argv, strpool *sp) {
  static demo D; /* large (the job table): not on the stack */
  memset(&D, 0, sizeof D);
  demo *d = &D;
  d->sp = sp;
  int (*const stages[])(demo *) = {demo_prepare, stage_pool, stage_synth, stage_init, stage_train,
                                   stage_eval, stage_fit, stage_report, demo_summary};
  int rc = demo_args(d, argc, argv);
  for (size_t i = 0; rc < 0 && i < sizeof stages / sizeof stages[0]; i++) rc = stages[i](d);
  return rc < 0 ? 0 : rc;
}

int cmd_demo(int argc, char **argv) {
  strpool sp = {0};
  self_fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
  int rc = demo_run(argc, argv, &sp);
  for (size_t i = 0; i < sp.n; i++) free(sp.s[i]);
  free(sp.s);
  if (self_fd >= 0) close(self_fd);
  return rc;
}
