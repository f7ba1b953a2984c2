/* long1k — the Long1K data synthesizer (src/synth/).
 *
 * Turns a pool of solved problems (JSONL, plain or gzip, in the OpenThoughts-114k, s1K-1.1 or a
 * user-mapped schema) into long reasoning samples: k problems per sample, their reasoning traces
 * joined by linking phrases, then each solution with its final answer boxed, in order. Length is
 * controlled with a token counter (the real tokenizer in the CLI). See docs/synth.md.
 *
 * Layers, each usable on its own:
 *   records   l1k_synth_detect / l1k_synth_parse  (one JSON record -> problem, reasoning, ...)
 *   answers   l1k_synth_last_boxed                (last \boxed{...} with nested braces)
 *   hygiene   l1k_synth_normalize, l1k_synth_ngram_* (dedup, 13-gram decontamination)
 *   template  l1k_synth_template_*                (prompt wording, linking phrases)
 *   driver    l1k_synth_run                       (the whole `long1k synth`)
 */
#ifndef LONG1K_SYNTH_H
#define LONG1K_SYNTH_H

#include <stddef.h>
#include <stdint.h>
#include <cjson/cJSON.h>
#include "long1k/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------ records ------------ */

typedef enum {
  L1K_SCHEMA_AUTO = 0,
  L1K_SCHEMA_OPENTHOUGHTS,      /* system + conversations (thought / solution tags) */
  L1K_SCHEMA_OT_METADATA,       /* problem, deepseek_reasoning, deepseek_solution, ... */
  L1K_SCHEMA_S1K,               /* question, solution, deepseek_thinking_trajectory, ... */
  L1K_SCHEMA_FIELDS,            /* only the --field mapping */
} l1k_synth_schema;

const char *l1k_synth_schema_name(l1k_synth_schema s);
/* "auto", "openthoughts", "openthoughts-metadata", "s1k", "fields"; -1 if unknown. */
int l1k_synth_schema_parse(const char *name);

enum {
  L1K_SF_PROBLEM = 0,
  L1K_SF_REASONING,
  L1K_SF_SOLUTION,
  L1K_SF_ANSWER,
  L1K_SF_DIFFICULTY,
  L1K_SF_DOMAIN,
  L1K_SF_ID,
  L1K_SF_COUNT
};
const char *l1k_synth_field_name(int f); /* "problem", "reasoning", ... */

/* A field mapping: JSON paths (dotted, numeric parts index arrays: "conversations.0.value"),
 * NULL where not mapped. Overrides the schema's own paths field by field. */
typedef struct l1k_synth_fields {
  char *path[L1K_SF_COUNT];
} l1k_synth_fields;
/* Parses "problem=q,reasoning=trace,answer=meta.ans". Unknown names: L1K_EINPUT. */
int l1k_synth_fields_parse(l1k_synth_fields *f, const char *spec, l1k_err *err);
void l1k_synth_fields_free(l1k_synth_fields *f);

/* One solved problem. Strings are owned (malloc'ed, NUL-terminated); answer is the answer
 * field or, when none is mapped/present, the content of the last \boxed{} of the solution
 * (then of the ground-truth solution for the schemas that have one). */
typedef struct l1k_synth_record {
  char *problem, *reasoning, *solution, *answer, *domain, *id;
  size_t reasoning_len; /* strlen(reasoning) (set even when the text is not kept) */
  double difficulty;  /* NAN when the record has none */
} l1k_synth_record;
void l1k_synth_record_free(l1k_synth_record *r);

/* Schema of a record from its keys; L1K_SCHEMA_AUTO when it matches none. */
l1k_synth_schema l1k_synth_detect(const cJSON *rec);
/* Extracts a record. `where` ("file:line") prefixes error messages. answer may come out NULL
 * (no answer field and no \boxed{}): the caller decides (the driver skips and counts it).
 * Returns 0 or L1K_EINPUT ("file:line: field 'deepseek_reasoning': expected a string"). */
int l1k_synth_parse(const cJSON *rec, l1k_synth_schema schema, const l1k_synth_fields *fields,
                    const char *where, l1k_synth_record *out, l1k_err *err);

/* Content of the last \boxed{...} (or \fbox{...}) in s, braces balanced, backslash-escaped
 * braces skipped. Returns 1 and sets *begin and *len, 0 if there is none (or it is unclosed). */
int l1k_synth_last_boxed(const char *s, size_t n, size_t *begin, size_t *len);

/* ------------------------------------------------------------------ hygiene ------------ */

/* Normalized text for matching: Unicode NFKC + case fold + marks stripped; every run of
 * characters that are not letters or digits becomes one space; trimmed. malloc'ed. */
char *l1k_synth_normalize(const char *s, size_t n, size_t *out_len);

/* A set of 64-bit hashes of word n-grams (of normalized text). */
typedef struct l1k_synth_hashset {
  uint64_t *slots;   /* 0 = empty */
  uint32_t *vals;    /* value stored with each hash (e.g. index of the eval file/line) */
  size_t cap, len;
} l1k_synth_hashset;
int l1k_synth_hashset_add(l1k_synth_hashset *h, uint64_t key, uint32_t val);
/* 1 and *val if present. */
int l1k_synth_hashset_get(const l1k_synth_hashset *h, uint64_t key, uint32_t *val);
void l1k_synth_hashset_free(l1k_synth_hashset *h);

/* Calls fn for the hash of every n-gram of words of normalized text t (words separated by
 * single spaces); a text of fewer than n words yields one hash of the whole text. Returns
 * the first nonzero value fn returns, else 0. */
int l1k_synth_ngrams(const char *t, size_t len, int n, int (*fn)(void *ctx, uint64_t h),
                     void *ctx);

/* MinHash signature (nperm values) of the word 3-gram shingles of normalized text. */
void l1k_synth_minhash(const char *t, size_t len, uint32_t *sig, int nperm);

/* ------------------------------------------------------------------ template ----------- */

/* Prompt wording and linking phrases. Placeholders: {k} {i} {prev} {ordinal} {prev_ordinal}
 * {answer} {problem}; other braces are literal. */
typedef struct l1k_synth_template {
  char *prompt_intro;       /* before the numbered problems, k >= 2 */
  char *problem_label;      /* before each problem, k >= 2 ("Problem {i}: ") */
  char *prompt_outro;       /* after the problems, k >= 2 (may be "") */
  char *single_prompt;      /* k == 1 ("{problem}\n\n...") */
  char *first_link;         /* before the first reasoning trace, k >= 2 (may be "") */
  char **links;             /* between traces; one is drawn at random for each join */
  size_t n_links;
  char *solution_label;     /* before each solution, k >= 2 */
  char *final_answer;       /* after each solution, k >= 2 */
  char *single_final_answer;/* after the solution, k == 1 */
} l1k_synth_template;
/* Built-in defaults. */
int l1k_synth_template_default(l1k_synth_template *t, l1k_err *err);
/* JSON object with any of the keys above ("links": array of strings); keys not given keep
 * the defaults; an unknown key or a wrong type is an error naming it. */
int l1k_synth_template_load(l1k_synth_template *t, const char *path, l1k_err *err);
void l1k_synth_template_free(l1k_synth_template *t);

/* ------------------------------------------------------------------ driver ------------- */

/* Token counter: returns the count of text, or -1 with err set. */
typedef int64_t (*l1k_synth_count_fn)(void *ctx, const char *text, size_t len, l1k_err *err);

typedef enum { L1K_FMT_THINK = 0, L1K_FMT_OPENTHOUGHTS, L1K_FMT_PLAIN } l1k_synth_format;
typedef enum { L1K_OUT_MESSAGES = 0, L1K_OUT_SHAREGPT } l1k_synth_outfmt;
typedef enum { L1K_COUNT_REASONING = 0, L1K_COUNT_RESPONSE } l1k_synth_countmode;

typedef struct l1k_synth_opts {
  const char **pools;  size_t n_pools;
  l1k_synth_schema schema;         /* AUTO: detected per file from its first record */
  const l1k_synth_fields *fields;  /* may be NULL */
  l1k_synth_count_fn count; void *count_ctx;
  const char *out;                 /* output JSONL; stats at <out>.stats.json, removals at
                                      <out>.removed.jsonl (see docs/synth.md) */
  int64_t samples;                 /* samples to make (per bin with --bins: per_bin) */
  int k;                           /* problems per sample; 0 = adaptive (with a target) */
  int64_t target_min, target_max;  /* 0,0 = no length target */
  l1k_synth_countmode count_mode;
  const int64_t *bins; size_t n_bins; double bin_tolerance; int64_t per_bin;
  double mix_single;               /* fraction of each set made of single records */
  size_t n_single_pools;           /* the last n_single_pools of pools[] give only the single
                                      records (as the paper took them from s1.1); 0: singles
                                      come from every pool */
  int difficulty_study; double difficulty_threshold;
  const char *domain;              /* NULL: all domains */
  const char **decontam; size_t n_decontam; int decontam_n; /* n-gram size (13) */
  double near_dup;                 /* MinHash Jaccard threshold; <= 0 disables */
  uint64_t seed;
  l1k_synth_format format;
  l1k_synth_outfmt outfmt;
  const char *system;              /* optional system message */
  const char *template_path;       /* NULL: built-in template */
  size_t memory_budget;            /* bytes of record text held at once (0 = 256 MiB) */
  int threads;                     /* 1: read the pool on one thread; else 2 parsing workers */
  int progress;                    /* show progress bars */
  int quiet;                       /* no summary on stderr */
} l1k_synth_opts;

void l1k_synth_opts_init(l1k_synth_opts *o);
/* Runs the synthesizer. 0 on success; L1K_EINPUT for bad input (message names file:line or
 * option). Writes the outputs atomically. */
int l1k_synth_run(const l1k_synth_opts *o, l1k_err *err);

#ifdef __cplusplus
}
#endif
#endif
