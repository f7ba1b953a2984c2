/* long1k synth — Long1K data synthesizer (see include/long1k/synth.h, docs/synth.md). */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "long1k/io.h"
#include "long1k/log.h"
#include "long1k/synth.h"
#include "long1k/tokenizer.h"

static void usage(FILE *f) {
  fprintf(f,
"usage: long1k synth --pool FILE... --out FILE [options]\n"
"\n"
"Joins solved problems from a pool into long reasoning samples (the Long1K recipe): k problems\n"
"per sample in the prompt, their reasoning traces joined by linking phrases, then each\n"
"solution with its final answer boxed, in order. Output: JSONL for `long1k train`.\n"
"\n"
"pool:\n"
"  --pool FILE...            JSONL pool(s), plain or gzip (repeatable)\n"
"  --schema S                auto (default, detected per file) | openthoughts |\n"
"                            openthoughts-metadata | s1k | fields\n"
"  --field MAP               JSON fields for any JSONL, e.g. problem=q,reasoning=trace,\n"
"                            solution=sol,answer=ans,difficulty=level,domain=subject,id=uid\n"
"                            (dotted paths reach nested fields; overrides the schema's own)\n"
"  --domain D                only records of this domain\n"
"\n"
"composition:\n"
"  --samples N               samples to make\n"
"  -k, --problems-per-sample K\n"
"                            problems per sample (default 2; with a length target and no -k\n"
"                            problems are added until the sample is in range)\n"
"  --format F                reasoning format: think (<think>...</think>, default) |\n"
"                            openthoughts (<|begin_of_thought|> tags) | plain\n"
"  --output-format F         messages (OpenAI, default) | sharegpt\n"
"  --system TEXT             add a system message\n"
"  --template FILE           JSON with prompt wording and linking phrases (docs/synth.md)\n"
"\n"
"length (counted with the tokenizer):\n"
"  --tokenizer PATH          tokenizer.json or its directory (default: the shipped Qwen one)\n"
"  --target-tokens MIN:MAX   every sample's length in [MIN, MAX] tokens\n"
"  --count WHAT              reasoning (default: the joined reasoning) | response\n"
"  --bins B1,B2,...          scaling-law sets: one set per length B (within --bin-tolerance)\n"
"  --per-bin N               samples per bin\n"
"  --bin-tolerance F         relative width of a bin (default 0.1: B*0.9..B*1.1)\n"
"  --mix-single RATIO        this fraction of each set is single records (with a length\n"
"                            target: single records already in range)\n"
"  --single-pool FILE...     take the single records only from these pools (the paper used\n"
"                            s1K-1.1); the --pool files then give only the joined samples\n"
"  --difficulty-study        two sets matched in length (pairs within 5%%): easy problems\n"
"                            joined vs single difficult ones -> OUT.easy.jsonl, OUT.hard.jsonl\n"
"  --difficulty-threshold T  easy: difficulty < T; difficult: > T (default 3)\n"
"\n"
"hygiene:\n"
"  --decontaminate FILE...   evaluation sets to decontaminate against (problem/question field;\n"
"                            default: the shipped benchmarks math500, aime24, aime25, amc23)\n"
"  --no-decontaminate        skip decontamination\n"
"  --ngram N                 n-gram size for decontamination (default 13)\n"
"  --near-dup J              MinHash Jaccard threshold for near-duplicates (default 0.8; 0 off)\n"
"  --seed S                  random seed (default 0); same inputs + seed = same output\n"
"  --memory-budget MB        record text held in memory at once (default 256)\n"
"  --threads N               1: parse the pool on one thread; 2 (default): two parsing\n"
"                            workers (same output either way)\n"
"\n"
"output:\n"
"  --out FILE, -o FILE       JSONL samples; with --bins, a {bin} in FILE writes one file per\n"
"                            bin. Also written: FILE.stats.json (counts, length histograms,\n"
"                            sources, removals) and FILE.removed.jsonl (every removed record\n"
"                            and why)\n"
"  --no-progress, --quiet    no progress bar / no summary\n"
"  -h, --help\n"
"\n"
"example:\n"
"  long1k synth --pool OpenThoughts-114k.jsonl.gz --pool s1K-1.1.jsonl --samples 1000 \\\n"
"      --target-tokens 7000:9000 --mix-single 0.1 --out long1k.jsonl\n");
}

typedef struct {
  const char **v;
  size_t n, cap;
} strlist;

static int sl_push(strlist *l, const char *s) {
  if (l->n == l->cap) {
    size_t nc = l->cap ? l->cap * 2 : 8;
    const char **p = l1k_realloc(l->v, nc * sizeof *p, NULL);
    if (!p) return -1;
    l->v = p;
    l->cap = nc;
  }
  l->v[l->n++] = s;
  return 0;
}

static int parse_i64(const char *s, int64_t *out) {
  char *e;
  errno = 0;
  long long v = strtoll(s, &e, 10);
  if (errno || e == s || *e) return -1;
  *out = v;
  return 0;
}

static int parse_f(const char *s, double *out) {
  char *e;
  errno = 0;
  double v = strtod(s, &e);
  if (errno || e == s || *e) return -1;
  *out = v;
  return 0;
}

static int64_t tok_count(void *ctx, const char *text, size_t len, l1k_err *err) {
  return l1k_tokenizer_count((const l1k_tokenizer *)ctx, text, len, err);
}

enum {
  O_POOL = 1000, O_SCHEMA, O_FIELD, O_DOMAIN, O_SAMPLES, O_FORMAT, O_OUTFMT, O_SYSTEM,
  O_TEMPLATE, O_TOKENIZER, O_TARGET, O_COUNT, O_BINS, O_PERBIN, O_BINTOL, O_MIX, O_STUDY,
  O_DTHRESH, O_DECON, O_NODECON, O_NGRAM, O_NEARDUP, O_SEED, O_MEM, O_NOPROG, O_QUIET,
  O_SPOOL, O_THREADS
};

/* everything cmd_synth holds between its phases */
typedef struct synth_cli {
  l1k_synth_opts o;
  strlist pools, decon, spools;
  l1k_synth_fields fields;
  int have_fields, k_given, no_decon;
  const char *tok_path;
  int64_t *bins;
  size_t n_bins;
  char *default_decon[4];
  l1k_tokenizer *tok;
  l1k_err err;
  int last_multi; /* O_POOL or O_DECON: bare arguments that follow belong to it */
  char tok_default[4096];
} synth_cli;

static const char *cmd = "synth";

static int oom(void) {
  l1k_err e = {0};
  l1k_errf(&e, L1K_ENOMEM, "out of memory");
  return cli_fail(cmd, &e);
}

/* one option; -1 when parsing goes on, else the exit code */
static int parse_option(synth_cli *s, int ch, const char *optarg) {
  int64_t iv;
  double dv;
  if (ch != 1) s->last_multi = 0;
  switch (ch) {
    case 1:
      if (s->last_multi == O_POOL) {
        if (sl_push(&s->pools, optarg)) return oom();
      } else if (s->last_multi == O_SPOOL) {
        if (sl_push(&s->spools, optarg)) return oom();
      } else if (s->last_multi == O_DECON) {
        if (sl_push(&s->decon, optarg)) return oom();
      } else {
        return cli_usage_error(cmd, "unexpected argument '%s'", optarg);
      }
      break;
    case O_POOL:
      if (sl_push(&s->pools, optarg)) return oom();
      s->last_multi = O_POOL;
      break;
    case O_SPOOL:
      if (sl_push(&s->spools, optarg)) return oom();
      s->last_multi = O_SPOOL;
      break;
    case O_DECON:
      if (sl_push(&s->decon, optarg)) return oom();
      s->last_multi = O_DECON;
      break;
    case O_SCHEMA: {
      int sc = l1k_synth_schema_parse(optarg);
      if (sc < 0) {
        return cli_usage_error(cmd, "--schema '%s': expected auto, openthoughts, "
                             "openthoughts-metadata, s1k or fields", optarg);
      }
      s->o.schema = (l1k_synth_schema)sc;
      break;
    }
    case O_FIELD:
      if (l1k_synth_fields_parse(&s->fields, optarg, &s->err)) {
        return cli_fail(cmd, &s->err);
      }
      s->have_fields = 1;
      break;
    case O_DOMAIN: s->o.domain = optarg; break;
    case O_SAMPLES:
      if (parse_i64(optarg, &iv) || iv < 1) {
        return cli_usage_error(cmd, "--samples '%s': expected a positive integer", optarg);
      }
      s->o.samples = iv;
      break;
    case 'k':
      if (parse_i64(optarg, &iv) || iv < 1 || iv > 64) {
        return cli_usage_error(cmd, "--problems-per-sample '%s': expected an integer 1..64", optarg);
      }
      s->o.k = (int)iv;
      s->k_given = 1;
      break;
    case O_FORMAT:
      if (!strcmp(optarg, "think")) s->o.format = L1K_FMT_THINK;
      else if (!strcmp(optarg, "openthoughts")) s->o.format = L1K_FMT_OPENTHOUGHTS;
      else if (!strcmp(optarg, "plain")) s->o.format = L1K_FMT_PLAIN;
      else {
        return cli_usage_error(cmd, "--format '%s': expected think, openthoughts or plain", optarg);
      }
      break;
    case O_OUTFMT:
      if (!strcmp(optarg, "messages") || !strcmp(optarg, "openai")) s->o.outfmt = L1K_OUT_MESSAGES;
      else if (!strcmp(optarg, "sharegpt")) s->o.outfmt = L1K_OUT_SHAREGPT;
      else {
        return cli_usage_error(cmd, "--output-format '%s': expected messages or sharegpt", optarg);
      }
      break;
    case O_SYSTEM: s->o.system = optarg; break;
    case O_TEMPLATE: s->o.template_path = optarg; break;
    case O_TOKENIZER: s->tok_path = optarg; break;
    case O_TARGET: {
      const char *colon = strchr(optarg, ':');
      int64_t a, b;
      char buf[64];
      if (!colon || (size_t)(colon - optarg) >= sizeof buf) {
        return cli_usage_error(cmd, "--target-tokens '%s': expected MIN:MAX", optarg);
      }
      memcpy(buf, optarg, (size_t)(colon - optarg));
      buf[colon - optarg] = 0;
      if (parse_i64(buf, &a) || parse_i64(colon + 1, &b) || a < 0 || b < 1 || a > b) {
        return cli_usage_error(cmd, "--target-tokens '%s': expected MIN:MAX with 0 <= MIN <= MAX, "
                             "MAX >= 1", optarg);
      }
      s->o.target_min = a;
      s->o.target_max = b;
      break;
    }
    case O_COUNT:
      if (!strcmp(optarg, "reasoning")) s->o.count_mode = L1K_COUNT_REASONING;
      else if (!strcmp(optarg, "response")) s->o.count_mode = L1K_COUNT_RESPONSE;
      else {
        return cli_usage_error(cmd, "--count '%s': expected reasoning or response", optarg);
      }
      break;
    case O_BINS: {
      free(s->bins);
      s->bins = NULL;
      s->n_bins = 0;
      size_t cap = 1;
      for (const char *p = optarg; *p; p++) cap += *p == ',';
      s->bins = l1k_calloc(cap, sizeof *s->bins, NULL);
      if (!s->bins) {
        return oom();
      }
      char *dup = l1k_strdup(optarg, NULL), *save = NULL;
      if (!dup) return oom();
      for (char *t = strtok_r(dup, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        if (parse_i64(t, &iv) || iv < 1) {
          free(dup);
          return cli_usage_error(cmd, "--bins '%s': expected positive integers separated by commas "
                               "(e.g. 1000,1500,2000)", optarg);
        }
        s->bins[s->n_bins++] = iv;
      }
      free(dup);
      if (!s->n_bins) {
        return cli_usage_error(cmd, "--bins: no bin given");
      }
      break;
    }
    case O_PERBIN:
      if (parse_i64(optarg, &iv) || iv < 1) {
        return cli_usage_error(cmd, "--per-bin '%s': expected a positive integer", optarg);
      }
      s->o.per_bin = iv;
      break;
    case O_BINTOL:
      if (parse_f(optarg, &dv) || dv <= 0 || dv >= 1) {
        return cli_usage_error(cmd, "--bin-tolerance '%s': expected a fraction in (0,1)", optarg);
      }
      s->o.bin_tolerance = dv;
      break;
    case O_MIX:
      if (parse_f(optarg, &dv) || dv < 0 || dv > 1) {
        return cli_usage_error(cmd, "--mix-single '%s': expected a fraction in [0,1]", optarg);
      }
      s->o.mix_single = dv;
      break;
    case O_STUDY: s->o.difficulty_study = 1; break;
    case O_DTHRESH:
      if (parse_f(optarg, &dv)) {
        return cli_usage_error(cmd, "--difficulty-threshold '%s': expected a number", optarg);
      }
      s->o.difficulty_threshold = dv;
      break;
    case O_NODECON: s->no_decon = 1; break;
    case O_NGRAM:
      if (parse_i64(optarg, &iv) || iv < 1 || iv > 64) {
        return cli_usage_error(cmd, "--ngram '%s': expected an integer 1..64", optarg);
      }
      s->o.decontam_n = (int)iv;
      break;
    case O_NEARDUP:
      if (parse_f(optarg, &dv) || dv > 1) {
        return cli_usage_error(cmd, "--near-dup '%s': expected a Jaccard threshold <= 1 (0: off)", optarg);
      }
      s->o.near_dup = dv;
      break;
    case O_SEED:
      if (parse_i64(optarg, &iv) || iv < 0) {
        return cli_usage_error(cmd, "--seed '%s': expected a non-negative integer", optarg);
      }
      s->o.seed = (uint64_t)iv;
      break;
    case O_MEM:
      if (parse_i64(optarg, &iv) || iv < 1) {
        return cli_usage_error(cmd, "--memory-budget '%s': expected megabytes >= 1", optarg);
      }
      s->o.memory_budget = (size_t)iv << 20;
      break;
    case O_THREADS:
      if (parse_i64(optarg, &iv) || iv < 1 || iv > 2) {
        return cli_usage_error(cmd, "--threads '%s': expected 1 or 2", optarg);
      }
      s->o.threads = (int)iv;
      break;
    case O_NOPROG: s->o.progress = 0; break;
    case O_QUIET: s->o.quiet = 1; s->o.progress = 0; break;
    case 'o': s->o.out = optarg; break;
    case 'h':
      usage(stdout);
      return 0;
    default:
      return cli_usage_error(cmd, "unknown option");
  }
  return -1;
}

static int parse_args(synth_cli *s, int argc, char **argv) {
  static const struct option lo[] = {
      {"pool", required_argument, 0, O_POOL},
      {"single-pool", required_argument, 0, O_SPOOL},
      {"schema", required_argument, 0, O_SCHEMA},
      {"field", required_argument, 0, O_FIELD},
      {"fields", required_argument, 0, O_FIELD},
      {"domain", required_argument, 0, O_DOMAIN},
      {"samples", required_argument, 0, O_SAMPLES},
      {"problems-per-sample", required_argument, 0, 'k'},
      {"format", required_argument, 0, O_FORMAT},
      {"output-format", required_argument, 0, O_OUTFMT},
      {"system", required_argument, 0, O_SYSTEM},
      {"template", required_argument, 0, O_TEMPLATE},
      {"tokenizer", required_argument, 0, O_TOKENIZER},
      {"target-tokens", required_argument, 0, O_TARGET},
      {"count", required_argument, 0, O_COUNT},
      {"bins", required_argument, 0, O_BINS},
      {"per-bin", required_argument, 0, O_PERBIN},
      {"bin-tolerance", required_argument, 0, O_BINTOL},
      {"mix-single", required_argument, 0, O_MIX},
      {"difficulty-study", no_argument, 0, O_STUDY},
      {"difficulty-threshold", required_argument, 0, O_DTHRESH},
      {"decontaminate", required_argument, 0, O_DECON},
      {"no-decontaminate", no_argument, 0, O_NODECON},
      {"ngram", required_argument, 0, O_NGRAM},
      {"near-dup", required_argument, 0, O_NEARDUP},
      {"seed", required_argument, 0, O_SEED},
      {"memory-budget", required_argument, 0, O_MEM},
      {"threads", required_argument, 0, O_THREADS},
      {"no-progress", no_argument, 0, O_NOPROG},
      {"quiet", no_argument, 0, O_QUIET},
      {"out", required_argument, 0, 'o'},
      {"help", no_argument, 0, 'h'},
      {0, 0, 0, 0}};
  optind = 1;
  int ch;
  while ((ch = getopt_long(argc, argv, "-k:o:h", lo, NULL)) != -1) {
    int rc = parse_option(s, ch, optarg);
    if (rc >= 0) return rc;
  }
  return -1;
}

/* the option combinations, then the pools and bins into the library's options */
static int check_args(synth_cli *s) {
  if (!s->pools.n) {
    return cli_usage_error(cmd, s->spools.n ? "--single-pool needs a --pool for the joined samples"
                                       : "no pool given (--pool FILE)");
  }
  if (!s->o.out) {
    return cli_usage_error(cmd, "no output given (--out FILE)");
  }
  if (s->o.schema == L1K_SCHEMA_FIELDS && !s->have_fields) {
    return cli_usage_error(cmd, "--schema fields needs --field problem=...,reasoning=...,solution=...");
  }
  if (!s->k_given && (s->o.target_max > 0 || s->n_bins)) s->o.k = 0; /* adaptive */
  if (s->o.difficulty_study && !s->k_given) s->o.k = 0;
  for (size_t i = 0; i < s->spools.n; i++)
    if (sl_push(&s->pools, s->spools.v[i])) return oom();
  s->o.n_single_pools = s->spools.n;
  s->o.pools = s->pools.v;
  s->o.n_pools = s->pools.n;
  s->o.fields = s->have_fields ? &s->fields : NULL;
  s->o.bins = s->bins;
  s->o.n_bins = s->n_bins;
  return -1;
}

/* the shipped benchmarks, unless --decontaminate or --no-decontaminate */
static int default_decontam(synth_cli *s) {
  if (!s->no_decon && !s->decon.n) {
    static const char *names[] = {"math500", "aime24", "aime25", "amc23"};
    const char *dd = cli_data_dir();
    for (int i = 0; i < 4; i++) {
      char p[4096];
      snprintf(p, sizeof p, "%s/benchmarks/%s.jsonl", dd, names[i]);
      if (l1k_file_exists(p)) {
        s->default_decon[i] = l1k_strdup(p, NULL);
        if (!s->default_decon[i] || sl_push(&s->decon, s->default_decon[i]))
          return oom();
      }
    }
    if (!s->decon.n)
      l1k_warn("synth: no shipped benchmark files under %s/benchmarks: not decontaminating "
               "(give --decontaminate FILE... or set LONG1K_DATA)", dd);
  }
  if (s->no_decon) s->decon.n = 0;
  s->o.decontam = s->decon.v;
  s->o.n_decontam = s->decon.n;
  return -1;
}

/* --tokenizer (default: the shipped Qwen one) counts the lengths */
static int load_tokenizer(synth_cli *s) {
  if (!s->tok_path) {
    snprintf(s->tok_default, sizeof s->tok_default, "%s/tokenizers/qwen", cli_data_dir());
    s->tok_path = s->tok_default;
  }
  s->tok = l1k_tokenizer_load(s->tok_path, &s->err);
  if (!s->tok) {
    if (s->err.code == L1K_EIO) s->err.code = L1K_EINPUT;
    return cli_fail(cmd, &s->err);
  }
  s->o.count = tok_count;
  s->o.count_ctx = s->tok;
  return -1;
}

static void synth_cli_free(synth_cli *s) {
  l1k_tokenizer_free(s->tok);
  l1k_synth_fields_free(&s->fields);
  for (int i = 0; i < 4; i++) free(s->default_decon[i]);
  free(s->pools.v);
  free(s->spools.v);
  free(s->decon.v);
  free(s->bins);
}

int cmd_synth(int argc, char **argv) {
  synth_cli S;
  memset(&S, 0, sizeof S);
  l1k_synth_opts_init(&S.o);
  S.o.progress = 1;
  int rc = parse_args(&S, argc, argv);
  if (rc < 0) rc = check_args(&S);
  if (rc < 0) rc = default_decontam(&S);
  if (rc < 0) rc = load_tokenizer(&S);
  if (rc < 0) rc = l1k_synth_run(&S.o, &S.err) ? cli_fail(cmd, &S.err) : 0;
  synth_cli_free(&S);
  return rc;
}
