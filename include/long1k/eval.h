/* long1k — benchmark evaluation: metrics, an OpenAI-compatible client, the runner and judge.
 *
 * Owned by the eval runner (src/eval/eval_*.c, client*.c, judge*.c, metrics*.c). The grader
 * (answer extraction and equivalence) has its own contract in long1k/grade.h.
 *
 *   metrics  — pass@k (unbiased estimator of Chen et al. 2021), maj@k, mean and standard error
 *   client   — libcurl multi: N requests in flight, retries with exponential backoff on
 *              429/5xx/connection errors/timeouts (Retry-After respected), replies parsed as
 *              OpenAI /v1/chat/completions or /v1/completions
 *   runner   — problems (shipped benchmarks or any JSONL, multiple choice shuffled with a fixed
 *              seed), prompt templates, results.jsonl (append-only, resumable), summary.json
 *   judge    — asks a judge model whether the tail of a response matches the reference
 */
#ifndef LONG1K_EVAL_H
#define LONG1K_EVAL_H

#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdint.h>
#include <cjson/cJSON.h>
#include "long1k/error.h"

/* ---------------------------------------------------------------------------------------
 * Metrics
 * --------------------------------------------------------------------------------------- */

/* Unbiased pass@k for one problem with n samples of which c are correct:
 * 1 - C(n-c, k) / C(n, k), computed as a stable product. Returns NAN if k < 1 or k > n. */
double l1k_pass_at_k(int n, int c, int k);

/* Mean and standard error of the mean (sample standard deviation / sqrt(n)); se = 0 for
 * n == 1, both NAN for n == 0. */
void l1k_mean_se(const double *x, size_t n, double *mean, double *se);

/* maj@k for one problem. cluster[i] is the answer class of sample i (samples with equal
 * answers share a class; -1 = no answer extracted), correct[i] its verdict. The n samples are
 * cut into floor(n/k) disjoint blocks of k in order; in each block the class with most votes
 * wins (ties: the class seen first in the block) and the block scores 1 if the winner's
 * first sample is correct. Returns the mean over blocks; NAN if k < 1 or k > n. A block
 * without any extracted answer scores 0. */
double l1k_maj_at_k(const int *cluster, const int *correct, int n, int k);

/* ---------------------------------------------------------------------------------------
 * OpenAI-compatible client (libcurl multi interface)
 * --------------------------------------------------------------------------------------- */

typedef struct l1k_http_opts {
  int concurrency;          /* requests in flight (default 8) */
  int max_retries;          /* further tries after the first (default 6) */
  double timeout_s;         /* whole request (default 1800) */
  double connect_timeout_s; /* default 30 */
  double backoff_s;         /* first wait before a retry (default 1), doubled each retry */
  double backoff_max_s;     /* cap of the exponential wait (default 60) */
  double retry_after_max_s; /* cap of a server's Retry-After (default 300) */
  const char *api_key;      /* "Authorization: Bearer <key>" when not NULL/empty */
} l1k_http_opts;
void l1k_http_opts_default(l1k_http_opts *o);

/* The parsed reply of one request (valid during the done callback only). */
typedef struct l1k_oai_reply {
  int ok;                   /* 1: a well-formed completion */
  int fatal;                /* 1: the endpoint refuses every request (401/403/404): stop */
  long http_status;         /* of the last try (0: no HTTP answer) */
  int attempts;             /* tries made */
  double seconds;           /* first try to the end, waits included */
  const char *text;         /* choices[0].message.content (chat) or choices[0].text */
  const char *reasoning;    /* choices[0].message.reasoning_content, if the server splits it */
  const char *finish_reason;/* may be NULL */
  long prompt_tokens;       /* usage; -1 when absent */
  long completion_tokens;
  char error[512];          /* why it failed (ok == 0) */
} l1k_oai_reply;

/* Parses an OpenAI reply body. completions: 1 for /v1/completions (choices[0].text), 0 for
 * chat (choices[0].message.content). Returns 0 and fills text/reasoning/finish_reason/usage
 * (pointing into json), or L1K_EINPUT with the reason in why. */
int l1k_oai_parse_reply(const cJSON *json, int completions, l1k_oai_reply *out, char *why,
                        size_t why_n);

/* Resolves an --endpoint into the full URL: "http://h:p" and "http://h:p/v1" get
 * "/v1/chat/completions" (or "/v1/completions"); a URL already ending in /completions (or
 * with "/completions?" and a query) is kept. Returns a malloc'ed string. */
char *l1k_oai_url(const char *endpoint, int completions);

/* Seconds to wait before try number `attempt` (1 = the first retry): backoff * 2^(attempt-1)
 * capped at backoff_max, at least retry_after (capped at retry_after_max) when >= 0. */
double l1k_http_backoff(const l1k_http_opts *o, int attempt, double retry_after);

typedef struct l1k_oai_client l1k_oai_client;
typedef struct l1k_oai_stats {
  int64_t requests;   /* requests completed (ok or failed for good) */
  int64_t tries;      /* HTTP tries, retries included */
  int64_t retries;
  int64_t failed;     /* requests given up after the retries */
  int64_t r_429, r_5xx, r_conn, r_timeout, r_malformed; /* causes of failed tries */
} l1k_oai_stats;

l1k_oai_client *l1k_oai_new(const l1k_http_opts *opts, l1k_err *err);
void l1k_oai_free(l1k_oai_client *c);
/* Calls fn(user) for every request still queued or in flight (after a stop), e.g. to free
 * what the user pointers own. */
void l1k_oai_each_pending(l1k_oai_client *c, void (*fn)(void *user));
/* Queues a request. body (malloc'ed JSON) is owned by the client from here on. */
int l1k_oai_submit(l1k_oai_client *c, const char *url, char *body, int completions, void *user,
                   l1k_err *err);
/* The same with its own bearer token (NULL: the client's opts.api_key; "": none). */
int l1k_oai_submit_key(l1k_oai_client *c, const char *url, const char *api_key, char *body,
                       int completions, void *user, l1k_err *err);
/* Requests queued or in flight. */
size_t l1k_oai_pending(const l1k_oai_client *c);

/* Called when the queue runs low (fewer than 2 x concurrency requests pending); submits more
 * with l1k_oai_submit. Returns 0, or an error code to stop the run. */
typedef int (*l1k_oai_refill_fn)(void *ctx, l1k_oai_client *c, l1k_err *err);
/* Called once per request, when it succeeded or failed for good (r->ok). May submit more.
 * Returns 0, or an error code to stop the run. */
typedef int (*l1k_oai_done_fn)(void *ctx, l1k_oai_client *c, void *user, const l1k_oai_reply *r,
                               l1k_err *err);
/* Called about 5 times a second while the run goes on (may be NULL). */
typedef void (*l1k_oai_tick_fn)(void *ctx, const l1k_oai_stats *s);

/* Runs until nothing is queued or in flight, a callback returns an error, or *stop becomes
 * non-zero (then the requests in flight are abandoned and 0 is returned). */
int l1k_oai_run(l1k_oai_client *c, l1k_oai_refill_fn refill, l1k_oai_done_fn done,
                l1k_oai_tick_fn tick, void *ctx, volatile sig_atomic_t *stop, l1k_err *err);
const l1k_oai_stats *l1k_oai_get_stats(const l1k_oai_client *c);

/* ---------------------------------------------------------------------------------------
 * Problems and prompts
 * --------------------------------------------------------------------------------------- */

typedef struct l1k_eval_problem {
  char *id;        /* the record's id (or its 0-based index) as a string */
  char *problem;   /* question text */
  char *answer;    /* gold: an expression, or a letter for multiple choice */
  char *choices;   /* multiple choice: "A) ...\nB) ..." in the shuffled order; NULL otherwise */
  int n_choices;   /* 0 unless multiple choice */
} l1k_eval_problem;

typedef struct l1k_eval_data_opts {
  const char *problem_field;  /* default "problem" (falls back to "question") */
  const char *answer_field;   /* default "answer" */
  const char *id_field;       /* default "id" (falls back to "unique_id", then the index) */
  /* Multiple choice, GPQA style: the correct option's text and the wrong options' texts in
   * separate fields (e.g. "Correct Answer" and "Incorrect Answer 1,...") */
  const char *correct_field;
  const char *incorrect_fields; /* comma-separated */
  /* ... or an array of options with the answer as a letter or 0-based index. */
  const char *choices_field;
  uint64_t shuffle_seed;      /* options are shuffled with this seed (per problem) */
  long limit;                 /* 0: all */
} l1k_eval_data_opts;
void l1k_eval_data_opts_default(l1k_eval_data_opts *o);

/* Loads problems from a JSONL file. Records without the needed fields are an error naming
 * file, line and field (exit 2), never silently dropped. */
int l1k_eval_load(const char *path, const l1k_eval_data_opts *o, l1k_eval_problem **out,
                  size_t *n, l1k_err *err);
void l1k_eval_problems_free(l1k_eval_problem *p, size_t n);

typedef struct l1k_prompt_template {
  char name[64];
  char *system;  /* may be NULL/empty: no system message */
  char *user;    /* with {problem} and optionally {choices} */
} l1k_prompt_template;
/* Built-in names: "boxed" (system prompt "Please reason step by step, and put your final
 * answer within \boxed{}."), "boxed-user" (the same sentence after the problem in the user
 * message), "long1k" (a long-thinking system prompt as used for Long1K-style models), "mc"
 * (multiple choice, the letter in \boxed{}), "plain" (the problem only). Otherwise spec is a
 * file: JSON {"system": ..., "user": ...} or plain text (the user message). */
int l1k_prompt_template_load(const char *spec, l1k_prompt_template *t, l1k_err *err);
void l1k_prompt_template_free(l1k_prompt_template *t);
const char *const *l1k_prompt_template_names(void); /* NULL-terminated */
/* Fills the user message for a problem (malloc'ed). When the problem has choices and the
 * template has no {choices}, they are appended after the problem. */
char *l1k_prompt_render(const l1k_prompt_template *t, const l1k_eval_problem *p);

/* ---------------------------------------------------------------------------------------
 * Judge
 * --------------------------------------------------------------------------------------- */

/* The last `lines` non-blank lines of a response (after the reasoning, if it is closed by
 * </think>), at most max_bytes from its end. malloc'ed. */
char *l1k_judge_tail(const char *response, int lines, size_t max_bytes);
/* Default judge prompt, with {problem}, {reference} and {response_tail}. */
const char *l1k_judge_default_prompt(void);
char *l1k_judge_render(const char *prompt, const char *problem, const char *reference,
                       const char *tail);
/* The verdict in a judge's reply: 1 correct, 0 incorrect, -1 none found. Reads after a closing
 * </think>; the last "VERDICT: X" wins, else the last of the words correct / incorrect /
 * yes / no / true / false (whole words, any case). */
int l1k_judge_parse(const char *reply);

/* ---------------------------------------------------------------------------------------
 * The runner
 * --------------------------------------------------------------------------------------- */

typedef struct l1k_eval_config {
  const char *benchmark;      /* name under <data dir>/benchmarks, or NULL */
  const char *data_path;      /* the JSONL actually read */
  l1k_eval_data_opts data;
  const char *endpoint;       /* OpenAI-compatible server ... */
  const char *model_dir;      /* ... or a model directory for long1k's own engine */
  const char *tokenizer_path; /* local: tokenizer.json or its directory (default model_dir) */
  const char *adapter_dir;    /* local: a PEFT LoRA adapter merged at load (adapter.h), or NULL */
  const char *chat_template;  /* local: qwen2.5 | qwen3 | llama3 (default: detected) */
  int batch;                  /* local: sequences decoded together (default 8) */
  const char *model_name;     /* endpoint: the request's model field; local: a label */
  int completions;            /* /v1/completions instead of chat */
  const char *template_spec;  /* built-in name or file */
  int n;                      /* samples per problem */
  double temperature, top_p;
  long max_tokens;
  long seed;
  const char *extra_body;     /* JSON object merged into every generation request, or NULL */
  const char *out_dir;
  l1k_http_opts http;
  /* judge */
  const char *judge_endpoint, *judge_model, *judge_prompt_file, *judge_api_key;
  int judge_lines;
  long judge_max_tokens;
  int quiet;
  volatile sig_atomic_t *stop; /* set by a signal handler: stop, keep what is written */
  /* local: where the engine generates: "cpu", "cuda", "auto" (NULL = cpu) and, on a device,
   * its l1k_device_precision (0 = default: bf16) */
  const char *device;
  int precision;
} l1k_eval_config;
void l1k_eval_config_default(l1k_eval_config *c);

typedef struct l1k_eval_outcome {
  int interrupted;            /* stopped by *stop */
  int64_t samples_total, samples_done, samples_failed, samples_resumed;
  int64_t partial_lines_dropped;
} l1k_eval_outcome;

/* Generates (through the endpoint, or with the local engine when model_dir is set), grades
 * (and judges) what results.jsonl in out_dir does not hold yet, then writes summary.json and
 * prints the table on stdout (unless quiet). Returns 0 also when some samples failed after
 * the retries (out->samples_failed; they are in errors.jsonl) or the run was interrupted
 * (out->interrupted). */
int l1k_eval_run(const l1k_eval_config *cfg, l1k_eval_outcome *out, l1k_err *err);

/* Recomputes summary.json (and the printed table, when f != NULL) from out_dir/results.jsonl
 * for problems [0, n_problems) and samples [0, n). */
int l1k_eval_summarize(const char *out_dir, size_t n_problems, int n, cJSON *run_info,
                       FILE *f, l1k_err *err);

#endif
