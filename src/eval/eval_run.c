/* long1k — the benchmark runner: requests, grading, judge, resumable results (see eval.h).
 *
 * out_dir/
 *   run.json       the settings that decide the samples (model, prompt, sampling); a later run
 *                  into the same directory must use the same ones
 *   results.jsonl  one line per finished sample, appended and flushed as each one completes;
 *                  a later run skips every (problem_index, sample_index) already there. A torn
 *                  last line (a kill during the write) is cut off and counted. When the same
 *                  sample appears twice (a judge verdict added later), the last line wins.
 *   errors.jsonl   samples that failed after all retries (not in results: a rerun retries them)
 *   summary.json   the metrics over results.jsonl
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "long1k/adapter.h"
#include "long1k/chat.h"
#include "long1k/eval.h"
#include "long1k/generate.h"
#include "long1k/grade.h"
#include "long1k/model.h"
#include "long1k/tokenizer.h"
#include "long1k/io.h"
#include "long1k/jsonl.h"
#include "long1k/log.h"

void l1k_eval_config_default(l1k_eval_config *c) {
  memset(c, 0, sizeof *c);
  l1k_eval_data_opts_default(&c->data);
  l1k_http_opts_default(&c->http);
  c->template_spec = NULL;
  c->n = 1;
  c->temperature = 0.6;
  c->top_p = 0.95;
  c->max_tokens = 32768;
  c->seed = 0;
  c->judge_lines = 5;
  c->batch = 8;
  c->judge_max_tokens = 1024;
}

/* ---------------------------------------------------------------------------------------
 * The run
 * --------------------------------------------------------------------------------------- */

enum { HAVE_NONE = 0, HAVE_DONE = 1, HAVE_NEEDS_JUDGE = 2 };

typedef struct sample {
  size_t pi;
  int si;
  cJSON *rec; /* the results line being built (or the resumed one, for judge-only) */
} sample;

typedef struct run {
  const l1k_eval_config *cfg;
  l1k_eval_problem *P;
  size_t np;
  size_t np_data; /* problems in the data file (np, or more with --limit) */
  int n;
  l1k_prompt_template tpl;
  char *gen_url, *judge_url;
  char *judge_prompt;
  cJSON *extra_body;
  uint8_t *have;   /* np * n */
  cJSON **resumed; /* np * n: resumed records that still need a judge verdict */
  size_t cur;      /* refill cursor over np * n */
  FILE *res, *errs;
  char *res_path, *err_path;
  double last_sync;
  l1k_progress prog;
  int64_t todo, done, failed, correct, judged, judge_failed;
  int64_t gen_ok, gen_refused; /* generation replies: usable / refused without retry (4xx) */
  int fatal;
} run;

static uint64_t sample_seed(long seed, size_t pi, int si) {
  uint64_t k[3] = {(uint64_t)seed, (uint64_t)pi, (uint64_t)si};
  return l1k_fnv1a64(k, sizeof k, 0x5EED) & 0x7fffffffull; /* servers take a 31-bit seed */
}

static char *gen_body(run *R, size_t pi, int si, l1k_err *err) {
  const l1k_eval_config *c = R->cfg;
  char *user = l1k_prompt_render(&R->tpl, &R->P[pi]);
  if (!user) {
    l1k_errf(err, L1K_ENOMEM, "out of memory");
    return NULL;
  }
  cJSON *b = cJSON_CreateObject();
  cJSON_AddStringToObject(b, "model", c->model_name);
  if (c->completions) {
    l1k_buf p = {0};
    if (R->tpl.system && *R->tpl.system) {
      l1k_buf_puts(&p, R->tpl.system);
      l1k_buf_puts(&p, "\n\n");
    }
    l1k_buf_puts(&p, user);
    cJSON_AddStringToObject(b, "prompt", p.data ? p.data : "");
    l1k_buf_free(&p);
  } else {
    cJSON *msgs = cJSON_AddArrayToObject(b, "messages");
    if (R->tpl.system && *R->tpl.system) {
      cJSON *m = cJSON_CreateObject();
      cJSON_AddStringToObject(m, "role", "system");
      cJSON_AddStringToObject(m, "content", R->tpl.system);
      cJSON_AddItemToArray(msgs, m);
    }
    cJSON *m = cJSON_CreateObject();
    cJSON_AddStringToObject(m, "role", "user");
    cJSON_AddStringToObject(m, "content", user);
    cJSON_AddItemToArray(msgs, m);
  }
  free(user);
  cJSON_AddNumberToObject(b, "temperature", c->temperature);
  cJSON_AddNumberToObject(b, "top_p", c->top_p);
  if (c->max_tokens > 0) cJSON_AddNumberToObject(b, "max_tokens", (double)c->max_tokens);
  cJSON_AddNumberToObject(b, "seed", (double)sample_seed(c->seed, pi, si));
  cJSON_AddNumberToObject(b, "n", 1);
  cJSON_AddFalseToObject(b, "stream");
  if (R->extra_body)
    for (cJSON *e = R->extra_body->child; e; e = e->next) {
      cJSON_DeleteItemFromObjectCaseSensitive(b, e->string);
      cJSON_AddItemToObject(b, e->string, cJSON_Duplicate(e, 1));
    }
  char *s = cJSON_PrintUnformatted(b);
  cJSON_Delete(b);
  if (!s) l1k_errf(err, L1K_ENOMEM, "out of memory");
  return s;
}

static char *judge_body(run *R, size_t pi, const char *response, l1k_err *err) {
  const l1k_eval_config *c = R->cfg;
  char *tail = l1k_judge_tail(response, c->judge_lines, 8192);
  if (!tail) {
    l1k_errf(err, L1K_ENOMEM, "out of memory");
    return NULL;
  }
  const l1k_eval_problem *p = &R->P[pi];
  l1k_buf q = {0};
  l1k_buf_puts(&q, p->problem);
  if (p->choices) {
    l1k_buf_puts(&q, "\n\n");
    l1k_buf_puts(&q, p->choices);
  }
  char *prompt = l1k_judge_render(R->judge_prompt, q.data ? q.data : "", p->answer, tail);
  l1k_buf_free(&q);
  free(tail);
  if (!prompt) {
    l1k_errf(err, L1K_ENOMEM, "out of memory");
    return NULL;
  }
  cJSON *b = cJSON_CreateObject();
  cJSON_AddStringToObject(b, "model", c->judge_model);
  cJSON *msgs = cJSON_AddArrayToObject(b, "messages");
  cJSON *m = cJSON_CreateObject();
  cJSON_AddStringToObject(m, "role", "user");
  cJSON_AddStringToObject(m, "content", prompt);
  cJSON_AddItemToArray(msgs, m);
  free(prompt);
  cJSON_AddNumberToObject(b, "temperature", 0);
  if (c->judge_max_tokens > 0) cJSON_AddNumberToObject(b, "max_tokens", (double)c->judge_max_tokens);
  cJSON_AddFalseToObject(b, "stream");
  char *s = cJSON_PrintUnformatted(b);
  cJSON_Delete(b);
  if (!s) l1k_errf(err, L1K_ENOMEM, "out of memory");
  return s;
}

/* Appends one line; flushed at once, fsync'ed at most every 2 s. */
static int append_line(run *R, FILE *f, const char *path, cJSON *rec, l1k_err *err) {
  char *s = cJSON_PrintUnformatted(rec);
  if (!s) return l1k_errf(err, L1K_ENOMEM, "out of memory");
  size_t n = strlen(s);
  s[n] = '\n'; /* cJSON allocates exactly n+1: replace the NUL and write n+1 bytes */
  int bad = fwrite(s, 1, n + 1, f) != n + 1 || fflush(f) != 0;
  free(s);
  if (bad) return l1k_errf(err, L1K_EIO, "%s: write failed: %s", path, strerror(errno));
  double now = l1k_now();
  if (now - R->last_sync > 2) {
    fsync(fileno(f));
    R->last_sync = now;
  }
  return 0;
}

static void progress(run *R) {
  if (R->cfg->quiet) return;
  char extra[200];
  int l = snprintf(extra, sizeof extra, "acc %.1f%%", R->done ? 100.0 * R->correct / R->done : 0.0);
  if (R->failed && l > 0)
    snprintf(extra + l, sizeof extra - l, "  failed %lld", (long long)R->failed);
  l1k_progress_update(&R->prog, R->done + R->failed, extra);
}

static int finish_sample(run *R, sample *s, l1k_err *err) {
  int rc = append_line(R, R->res, R->res_path, s->rec, err);
  if (!rc) {
    R->done++;
    const cJSON *c = cJSON_GetObjectItemCaseSensitive(s->rec, "correct");
    if (cJSON_IsTrue(c)) R->correct++;
  }
  cJSON_Delete(s->rec);
  free(s);
  progress(R);
  return rc;
}

static void free_pending(void *user) {
  sample *s = (sample *)((uintptr_t)user & ~(uintptr_t)1u);
  if (!s) return;
  cJSON_Delete(s->rec);
  free(s);
}

static int submit_judge(run *R, l1k_oai_client *cl, sample *s, l1k_err *err) {
  const cJSON *resp = cJSON_GetObjectItemCaseSensitive(s->rec, "response");
  char *body = judge_body(R, s->pi, cJSON_IsString(resp) ? resp->valuestring : "", err);
  if (!body) return L1K_ENOMEM;
  /* the user pointer is tagged: odd = a judge request */
  return l1k_oai_submit_key(cl, R->judge_url, R->cfg->judge_api_key ? R->cfg->judge_api_key : "",
                            body, 0, (void *)((uintptr_t)s | 1u), err);
}

static int refill(void *ctx, l1k_oai_client *cl, l1k_err *err) {
  run *R = ctx;
  size_t target = 3 * (size_t)(R->cfg->http.concurrency > 0 ? R->cfg->http.concurrency : 1);
  size_t total = R->np * (size_t)R->n;
  while (R->cur < total && l1k_oai_pending(cl) < target) {
    size_t k = R->cur++;
    if (R->have[k] == HAVE_DONE || (R->have[k] == HAVE_NONE && !R->gen_url)) continue;
    sample *s = l1k_calloc(1, sizeof *s, err);
    if (!s) return L1K_ENOMEM;
    s->pi = k / (size_t)R->n;
    s->si = (int)(k % (size_t)R->n);
    int rc;
    if (R->have[k] == HAVE_NEEDS_JUDGE) {
      s->rec = R->resumed[k];
      R->resumed[k] = NULL;
      cJSON_DeleteItemFromObjectCaseSensitive(s->rec, "judge_error");
      rc = submit_judge(R, cl, s, err);
    } else {
      char *body = gen_body(R, s->pi, s->si, err);
      if (!body) {
        free(s);
        return L1K_ENOMEM;
      }
      rc = l1k_oai_submit(cl, R->gen_url, body, R->cfg->completions, s, err);
    }
    if (rc) {
      cJSON_Delete(s->rec);
      free(s);
      return rc;
    }
  }
  return 0;
}

static void set_item(cJSON *o, const char *k, cJSON *v) {
  cJSON_DeleteItemFromObjectCaseSensitive(o, k);
  cJSON_AddItemToObject(o, k, v);
}

static void add_str_or_null(cJSON *o, const char *k, const char *v) {
  if (v)
    cJSON_AddStringToObject(o, k, v);
  else
    cJSON_AddNullToObject(o, k);
}

/* The results line of a generated sample, graded. */
static cJSON *make_record(run *R, size_t pi, int si, const char *text, const char *reasoning,
                          const char *finish_reason, long prompt_tokens, long completion_tokens,
                          int attempts, double seconds) {
  const l1k_eval_problem *p = &R->P[pi];
  cJSON *o = cJSON_CreateObject();
  if (!o) return NULL;
  cJSON_AddStringToObject(o, "id", p->id);
  cJSON_AddNumberToObject(o, "problem_index", (double)pi);
  cJSON_AddNumberToObject(o, "sample_index", si);
  cJSON_AddStringToObject(o, "answer", p->answer);
  cJSON_AddStringToObject(o, "response", text);
  if (reasoning) cJSON_AddStringToObject(o, "reasoning", reasoning);
  add_str_or_null(o, "finish_reason", finish_reason);
  if (completion_tokens >= 0)
    cJSON_AddNumberToObject(o, "tokens", (double)completion_tokens);
  else
    cJSON_AddNullToObject(o, "tokens");
  if (prompt_tokens >= 0) cJSON_AddNumberToObject(o, "prompt_tokens", (double)prompt_tokens);
  l1k_grade_result g = {0};
  int grc = l1k_grade_response(p->answer, text, strlen(text), p->n_choices, &g);
  if (grc == 0) {
    add_str_or_null(o, "extracted", g.extracted);
    cJSON_AddBoolToObject(o, "correct", g.correct != 0);
  } else {
    cJSON_AddNullToObject(o, "extracted");
    cJSON_AddBoolToObject(o, "correct", 0);
    cJSON_AddStringToObject(o, "grade_error", "the grader failed on this response");
  }
  l1k_grade_result_free(&g);
  cJSON_AddNumberToObject(o, "attempts", attempts);
  cJSON_AddNumberToObject(o, "seconds", round(seconds * 1000) / 1000);
  return o;
}

static int on_done(void *ctx, l1k_oai_client *cl, void *user, const l1k_oai_reply *r,
                   l1k_err *err) {
  run *R = ctx;
  int is_judge = ((uintptr_t)user & 1u) != 0;
  sample *s = (sample *)((uintptr_t)user & ~(uintptr_t)1u);
  const l1k_eval_problem *p = &R->P[s->pi];
  if (r->fatal) {
    R->fatal = 1;
    int rc = l1k_errf(err, L1K_EINPUT, "%s endpoint refused the request: %s",
                      is_judge ? "judge" : "model", r->error);
    cJSON_Delete(s->rec);
    free(s);
    return rc;
  }
  if (is_judge) {
    cJSON_DeleteItemFromObjectCaseSensitive(s->rec, "judge_error");
    if (r->ok) {
      int v = l1k_judge_parse(r->text);
      set_item(s->rec, "judge_correct", v < 0 ? cJSON_CreateNull() : cJSON_CreateBool(v));
      set_item(s->rec, "judge_reply", cJSON_CreateString(r->text));
      R->judged++;
    } else {
      set_item(s->rec, "judge_correct", cJSON_CreateNull());
      set_item(s->rec, "judge_error", cJSON_CreateString(r->error));
      R->judge_failed++;
    }
    return finish_sample(R, s, err);
  }
  if (r->ok)
    R->gen_ok++;
  else if (r->http_status >= 400 && r->http_status < 500)
    R->gen_refused++;
  if (!r->ok && R->gen_ok == 0 && R->gen_refused >= 8) {
    /* the server refuses the requests themselves (e.g. max_tokens over its context): stop
     * instead of failing every sample one by one */
    int rc = l1k_errf(err, L1K_EINPUT,
                      "the first %lld requests were all refused: %s (check --max-tokens, "
                      "--model-name and --extra-body against the server)",
                      (long long)R->gen_refused, r->error);
    free(s);
    return rc;
  }
  if (!r->ok) {
    cJSON *e = cJSON_CreateObject();
    cJSON_AddStringToObject(e, "id", p->id);
    cJSON_AddNumberToObject(e, "problem_index", (double)s->pi);
    cJSON_AddNumberToObject(e, "sample_index", s->si);
    cJSON_AddStringToObject(e, "error", r->error);
    cJSON_AddNumberToObject(e, "http_status", (double)r->http_status);
    cJSON_AddNumberToObject(e, "attempts", r->attempts);
    int rc = append_line(R, R->errs, R->err_path, e, err);
    cJSON_Delete(e);
    R->failed++;
    if (R->failed <= 3) l1k_warn("problem %zu sample %d failed: %s", s->pi, s->si, r->error);
    free(s);
    progress(R);
    return rc;
  }
  s->rec = make_record(R, s->pi, s->si, r->text, r->reasoning, r->finish_reason,
                       r->prompt_tokens, r->completion_tokens, r->attempts, r->seconds);
  if (!s->rec) {
    free(s);
    return l1k_errf(err, L1K_ENOMEM, "out of memory");
  }
  if (R->judge_url) return submit_judge(R, cl, s, err);
  return finish_sample(R, s, err);
}

static void on_tick(void *ctx, const l1k_oai_stats *st) {
  run *R = ctx;
  (void)st;
  progress(R);
}

/* ---------------------------------------------------------------------------------------
 * Local generation (long1k's own engine, include/long1k/generate.h)
 * --------------------------------------------------------------------------------------- */

typedef struct local_prog {
  run *R;
  const size_t *keys; /* global sample index of each prompt of the l1k_generate call */
  uint8_t *written;
  int rc;
  l1k_err *err;
} local_prog;

/* Writes a finished local sample. */
static int local_write(run *R, size_t key, const l1k_gen_result *r, l1k_err *err) {
  size_t pi = key / (size_t)R->n;
  int si = (int)(key % (size_t)R->n);
  sample *s = l1k_calloc(1, sizeof *s, err);
  if (!s) return L1K_ENOMEM;
  s->pi = pi;
  s->si = si;
  s->rec = make_record(R, pi, si, r->text ? r->text : "", NULL, l1k_finish_name(r->finish),
                       r->prompt_tokens, r->n_ids, 1, r->seconds);
  if (!s->rec) {
    free(s);
    return l1k_errf(err, L1K_ENOMEM, "out of memory");
  }
  if (R->judge_url) { /* judged after the generation, through the judge endpoint */
    R->resumed[key] = cJSON_Duplicate(s->rec, 1);
    R->have[key] = HAVE_NEEDS_JUDGE;
  } else
    R->have[key] = HAVE_DONE;
  return finish_sample(R, s, err);
}

/* Called by the engine after every token; a finished sample is graded and written at once. */
static int local_stream(void *user, int index, int32_t token, const char *text, size_t len,
                        int done, const l1k_gen_result *r) {
  local_prog *lp = user;
  run *R = lp->R;
  if (done && !lp->written[index]) {
    lp->written[index] = 1;
    if ((lp->rc = local_write(R, lp->keys[index], r, lp->err))) return 1;
  }
  if (R->cfg->stop && *R->cfg->stop) return 1; /* cancels l1k_generate */
  return 0;
}

/* The prompt of problem pi as token ids: the chat template with the generation prompt, or
 * (--completions) the system and user text as they are. */
static int local_prompt(run *R, const l1k_tokenizer *tok, l1k_template tmpl, size_t pi,
                        l1k_ids *ids, l1k_err *err) {
  char *user = l1k_prompt_render(&R->tpl, &R->P[pi]);
  if (!user) return l1k_errf(err, L1K_ENOMEM, "out of memory");
  int rc;
  if (R->cfg->completions) {
    l1k_buf b = {0};
    if (R->tpl.system && *R->tpl.system) {
      l1k_buf_puts(&b, R->tpl.system);
      l1k_buf_puts(&b, "\n\n");
    }
    l1k_buf_puts(&b, user);
    rc = b.data ? l1k_tokenizer_encode(tok, b.data, b.len, ids, NULL, err)
                : l1k_errf(err, L1K_ENOMEM, "out of memory");
    l1k_buf_free(&b);
  } else {
    l1k_chat_msg m[2];
    size_t nm = 0;
    if (R->tpl.system && *R->tpl.system) m[nm++] = (l1k_chat_msg){.role = "system", .content = R->tpl.system};
    m[nm++] = (l1k_chat_msg){.role = "user", .content = user};
    l1k_chat_opts co = {.add_generation_prompt = 1, .enable_thinking = -1};
    l1k_chat_rendered cr;
    rc = l1k_chat_render(tmpl, m, nm, &co, &cr, err);
    if (!rc) {
      rc = l1k_tokenizer_encode(tok, cr.text, cr.len, ids, NULL, err);
      l1k_chat_rendered_free(&cr);
    }
  }
  free(user);
  return rc;
}

/* Generates every sample that results.jsonl lacks. Sample i of problem p draws from the random
 * stream (seed, p * n + i), so a sample's text does not depend on the batch or on resuming. */
static int run_local(run *R, l1k_eval_outcome *outc, l1k_err *err) {
  const l1k_eval_config *c = R->cfg;
  size_t total = R->np * (size_t)R->n;
  int rc = 0;
  l1k_tokenizer *tok = NULL;
  l1k_model *model = NULL;
  l1k_generator *g = NULL;
  l1k_ids *pids = NULL;
  l1k_gen_prompt *prompts = NULL;
  l1k_gen_result *res = NULL;
  size_t *keys = NULL;
  uint8_t *written = NULL;
  int chunk_cap = 0;
  const char *tpath = c->tokenizer_path ? c->tokenizer_path : c->model_dir;
  l1k_template tmpl = L1K_TMPL_NONE;
  tok = l1k_tokenizer_load(tpath, err);
  if (!tok) return err ? err->code : L1K_EINPUT;
  if (!c->completions) {
    rc = c->chat_template ? l1k_chat_template_named(c->chat_template, tpath, &tmpl, err)
                          : l1k_chat_template_detect(tpath, &tmpl, err);
    if (rc) {
      l1k_err_prefix(err, "eval --model (set --chat-template, or --completions for a raw prompt)");
      goto out;
    }
  }
  /* prompts of the problems that still need samples */
  pids = l1k_calloc(R->np, sizeof *pids, err);
  if (!pids) {
    rc = L1K_ENOMEM;
    goto out;
  }
  int longest = 0;
  for (size_t pi = 0; pi < R->np; pi++) {
    int need = 0;
    for (int si = 0; si < R->n; si++) need |= R->have[pi * (size_t)R->n + si] == HAVE_NONE;
    if (!need) continue;
    if ((rc = local_prompt(R, tok, tmpl, pi, &pids[pi], err))) {
      l1k_err_prefix(err, "problem %zu (id %s)", pi, R->P[pi].id);
      goto out;
    }
    if ((int)pids[pi].len > longest) longest = (int)pids[pi].len;
  }
  model = l1k_model_load(c->model_dir, err);
  if (model && c->adapter_dir && (rc = l1k_model_lora_merge_dir(model, c->adapter_dir, err)))
    l1k_err_prefix(err, "--adapter");
  if (!model || rc) {
    rc = rc ? rc : err ? err->code : L1K_EINPUT;
    goto out;
  }
  if (c->device && strcmp(c->device, "cpu")) {
    const char *resolved = NULL;
    if ((rc = l1k_device_check(c->device, "--device", &resolved, err))) goto out;
    if (!strcmp(resolved, "cuda")) {
      l1k_device_opts dopt = {.precision = (l1k_device_precision)c->precision, .deterministic = 1,
                              .what = "--device", .inference_only = 1};
      if ((rc = l1k_model_attach(model, c->device, &dopt, err))) {
        if (rc == L1K_ENOMEM || strcmp(c->device, "auto")) goto out;
        /* auto: a model the GPU engine does not take runs on the CPU */
        l1k_info("device auto: %s; generating on the CPU", err ? err->msg : "cuda cannot run this model");
        if (err) memset(err, 0, sizeof *err);
        rc = 0;
      }
    }
  }
  const l1k_model_config *mc = l1k_model_cfg(model);
  for (size_t pi = 0; pi < R->np; pi++)
    for (size_t i = 0; i < pids[pi].len; i++)
      if (pids[pi].data[i] < 0 || pids[pi].data[i] >= mc->vocab_size) {
        rc = l1k_errf(err, L1K_EINPUT,
                      "problem %zu (id %s): the prompt has token id %d but the model's "
                      "vocabulary has %d (tokenizer %s does not belong to model %s?)",
                      pi, R->P[pi].id, (int)pids[pi].data[i], mc->vocab_size, tpath, c->model_dir);
        goto out;
      }
  long maxpos = mc->max_position_embeddings > 0 ? mc->max_position_embeddings : 32768;
  long max_new = c->max_tokens > 0 ? c->max_tokens : maxpos - longest;
  if (max_new > 32768 && c->max_tokens <= 0) max_new = 32768;
  long ctx = (long)longest + max_new;
  if (ctx > maxpos) ctx = maxpos;
  if (longest >= ctx) {
    rc = l1k_errf(err, L1K_EINPUT, "the longest prompt has %d tokens: no room to generate in the "
                  "model's context of %ld", longest, maxpos);
    goto out;
  }
  int64_t todo = 0;
  for (size_t k = 0; k < total; k++) todo += R->have[k] == HAVE_NONE;
  int batch = c->batch > 0 ? c->batch : strcmp(l1k_model_device(model), "cpu") ? 128 : 8;
  if (todo < batch) batch = (int)todo;
  g = l1k_generator_create(model, batch, (int)ctx, err);
  if (!g) {
    rc = err ? err->code : L1K_EINTERNAL;
    goto out;
  }
  if (!c->quiet)
  {
    l1k_gen_cache_info ci;
    l1k_generator_cache_info(g, &ci);
    l1k_info("model %s: %s, %zu parameters; device %s; batch %d, context %ld (KV cache %.1f MiB, "
             "%s, %d blocks of %d positions)", c->model_dir, mc->model_type,
             l1k_model_num_params(model), ci.device, batch, ctx, ci.bytes / 1048576.0, ci.dtype,
             ci.n_blocks, ci.block_size);
  }
  l1k_gen_opts o;
  l1k_gen_opts_default(&o);
  o.max_new_tokens = (int)max_new;
  o.temperature = (float)c->temperature;
  o.top_p = (float)c->top_p;
  o.seed = (uint64_t)c->seed;
  l1k_gen_opts_use_tokenizer(&o, tok);
  chunk_cap = 4 * batch;
  prompts = l1k_calloc((size_t)chunk_cap, sizeof *prompts, err);
  res = l1k_calloc((size_t)chunk_cap, sizeof *res, err);
  keys = l1k_calloc((size_t)chunk_cap, sizeof *keys, err);
  written = l1k_calloc((size_t)chunk_cap, 1, err);
  if (!prompts || !res || !keys || !written) {
    rc = L1K_ENOMEM;
    goto out;
  }
  local_prog lp = {R, keys, written, 0, err};
  if (!c->quiet) l1k_progress_begin(&R->prog, "eval (local)", todo);
  size_t k = 0;
  while (k < total) {
    if (R->have[k] != HAVE_NONE) {
      k++;
      continue;
    }
    /* a chunk of consecutive missing samples: their streams are k0, k0+1, ... */
    size_t k0 = k;
    int m = 0;
    while (k < total && m < chunk_cap && R->have[k] == HAVE_NONE) {
      size_t pi = k / (size_t)R->n;
      prompts[m].ids = pids[pi].data;
      prompts[m].n = (int)pids[pi].len;
      keys[m++] = k++;
    }
    o.seed_offset = (uint64_t)k0;
    memset(written, 0, (size_t)chunk_cap);
    int grc = l1k_generate(g, prompts, m, &o, res, local_stream, &lp, err);
    if (lp.rc) { /* writing a result failed inside the callback */
      rc = lp.rc;
      l1k_gen_results_free(res, m);
      break;
    }
    if (grc) {
      l1k_gen_results_free(res, m);
      if (c->stop && *c->stop) {
        outc->interrupted = 1;
        l1k_err_clear(err);
        break;
      }
      rc = grc;
      break;
    }
    for (int i = 0; i < m && !rc; i++)
      if (!written[i]) rc = local_write(R, keys[i], &res[i], err);
    l1k_gen_results_free(res, m);
    memset(res, 0, (size_t)chunk_cap * sizeof *res);
    if (rc) break;
  }
  if (!c->quiet) l1k_progress_end(&R->prog);
out:
  if (pids)
    for (size_t pi = 0; pi < R->np; pi++) l1k_ids_free(&pids[pi]);
  free(pids);
  free(prompts);
  free(res);
  free(keys);
  free(written);
  if (g) l1k_generator_free(g);
  if (model) l1k_model_free(model);
  l1k_chat_template_free(tmpl);
  l1k_tokenizer_free(tok);
  return rc;
}

/* ---------------------------------------------------------------------------------------
 * run.json: the settings a resumed run must share
 * --------------------------------------------------------------------------------------- */

static cJSON *run_info(const run *R) {
  const l1k_eval_config *c = R->cfg;
  cJSON *j = cJSON_CreateObject();
  cJSON_AddStringToObject(j, "data", c->benchmark ? c->benchmark : c->data_path);
  cJSON_AddStringToObject(j, "model_name", c->model_name ? c->model_name : c->model_dir);
  cJSON_AddStringToObject(j, "api", c->model_dir ? (c->completions ? "local-completions" : "local-chat")
                                                : (c->completions ? "completions" : "chat"));
  cJSON_AddStringToObject(j, "prompt_template", R->tpl.name);
  if (R->tpl.system)
    cJSON_AddStringToObject(j, "system_prompt", R->tpl.system);
  else
    cJSON_AddNullToObject(j, "system_prompt");
  cJSON_AddStringToObject(j, "user_prompt", R->tpl.user);
  cJSON_AddNumberToObject(j, "temperature", c->temperature);
  cJSON_AddNumberToObject(j, "top_p", c->top_p);
  cJSON_AddNumberToObject(j, "max_tokens", (double)c->max_tokens);
  cJSON_AddNumberToObject(j, "seed", (double)c->seed);
  cJSON_AddNumberToObject(j, "shuffle_seed", (double)c->data.shuffle_seed);
  if (R->extra_body)
    cJSON_AddItemToObject(j, "extra_body", cJSON_Duplicate(R->extra_body, 1));
  else
    cJSON_AddNullToObject(j, "extra_body");
  /* informational, may change between runs */
  if (c->endpoint)
    cJSON_AddStringToObject(j, "endpoint", c->endpoint);
  else
    cJSON_AddStringToObject(j, "model_dir", c->model_dir);
  cJSON_AddNumberToObject(j, "n", R->n);
  cJSON_AddNumberToObject(j, "problems", (double)R->np);
  if (c->judge_endpoint) {
    cJSON_AddStringToObject(j, "judge_endpoint", c->judge_endpoint);
    cJSON_AddStringToObject(j, "judge_model", c->judge_model);
    cJSON_AddNumberToObject(j, "judge_lines", c->judge_lines);
  }
  return j;
}

static const char *const fixed_keys[] = {"model_name", "api", "system_prompt",
                                         "user_prompt", "temperature", "top_p", "max_tokens",
                                         "seed", "shuffle_seed", "extra_body", NULL};

static int check_run_json(const char *path, const char *results, const cJSON *now, l1k_err *err) {
  struct stat st; /* no results yet: nothing to mix, the settings may change */
  if (stat(results, &st) != 0 || st.st_size == 0) return 0;
  if (!l1k_file_exists(path))
    return l1k_errf(err, L1K_EINPUT,
                    "%s: missing, but %s holds results: which model and settings made them is "
                    "unknown, so they cannot be resumed (use another --out, or remove %s)",
                    path, results, results);
  size_t len;
  char *text = l1k_read_file(path, &len, err);
  if (!text) return err ? err->code : L1K_EIO;
  cJSON *old = cJSON_ParseWithLength(text, len);
  free(text);
  if (!cJSON_IsObject(old)) {
    cJSON_Delete(old);
    return l1k_errf(err, L1K_EINPUT, "%s: invalid JSON (not written by long1k eval?)", path);
  }
  int rc = 0;
  for (int i = 0; fixed_keys[i]; i++) {
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(old, fixed_keys[i]);
    const cJSON *b = cJSON_GetObjectItemCaseSensitive(now, fixed_keys[i]);
    if (!a || !cJSON_Compare(a, b, 1)) {
      char *sa = a ? cJSON_PrintUnformatted(a) : NULL, *sb = cJSON_PrintUnformatted(b);
      rc = l1k_errf(err, L1K_EINPUT,
                    "%s: this output directory holds a run with %s = %.200s, this command asks "
                    "%.200s; results would mix (use another --out)",
                    path, fixed_keys[i], sa ? sa : "(missing)", sb ? sb : "?");
      free(sa);
      free(sb);
      break;
    }
  }
  cJSON_Delete(old);
  return rc;
}

/* ---------------------------------------------------------------------------------------
 * Resume: what results.jsonl already holds
 * --------------------------------------------------------------------------------------- */

/* non-blank lines of a JSONL file (the problems a --limit left out count too) */
static int count_records(const char *path, size_t *n, l1k_err *err) {
  l1k_jsonl *r = l1k_jsonl_open(path, err);
  if (!r) return err && err->code ? err->code : L1K_EIO;
  const char *line;
  size_t len, k = 0;
  int got;
  while ((got = l1k_jsonl_next_line(r, &line, &len, err)) == 1) k++;
  l1k_jsonl_close(r);
  if (got < 0) return err && err->code ? err->code : L1K_EIO;
  if (k > *n) *n = k;
  return 0;
}

static int get_index(const cJSON *rec, const char *k, long *out) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(rec, k);
  if (!cJSON_IsNumber(v) || v->valuedouble < 0 || v->valuedouble != floor(v->valuedouble))
    return -1;
  *out = (long)v->valuedouble;
  return 0;
}

/* Reads path line by line; calls fn for each complete record. A torn last line (no newline,
 * or not valid JSON) is cut off the file; invalid JSON elsewhere is an error. */
typedef int (*record_fn)(void *ctx, cJSON *rec, long line, const char *path, l1k_err *err);

static int scan_results(const char *path, int truncate_torn, record_fn fn, void *ctx,
                        int64_t *torn, l1k_err *err) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    if (errno == ENOENT) return 0;
    return l1k_errf(err, L1K_EIO, "%s: cannot open: %s", path, strerror(errno));
  }
  char *line = NULL;
  size_t cap = 0;
  ssize_t got;
  long line_no = 0;
  off_t off = 0, good_end = 0;
  int rc = 0;
  while ((got = getline(&line, &cap, f)) > 0) {
    line_no++;
    off_t start = off;
    off += got;
    int has_nl = line[got - 1] == '\n';
    size_t n = (size_t)got - (has_nl ? 1 : 0);
    if (n > 0 && line[n - 1] == '\r') n--;
    size_t k = 0;
    while (k < n && (line[k] == ' ' || line[k] == '\t')) k++;
    if (k == n) {
      if (has_nl) good_end = off;
      continue;
    }
    cJSON *rec = cJSON_ParseWithLength(line, n);
    int at_end = !has_nl || fgetc(f) == EOF;
    if (!at_end) fseeko(f, off, SEEK_SET);
    if (!rec || !has_nl) {
      if (at_end) { /* torn by a kill during the write: cut it off, the sample reruns */
        cJSON_Delete(rec);
        if (torn) (*torn)++;
        l1k_warn("%s:%ld: incomplete last line (%zu bytes) dropped; that sample runs again",
                 path, line_no, n);
        fclose(f);
        f = NULL;
        if (truncate_torn && truncate(path, start) != 0)
          rc = l1k_errf(err, L1K_EIO, "%s: cannot truncate the torn last line: %s", path,
                        strerror(errno));
        goto out;
      }
      rc = l1k_errf(err, L1K_EINPUT,
                    "%s:%ld: invalid JSON in the middle of the results file (damaged? move it "
                    "away or fix the line)",
                    path, line_no);
      goto out;
    }
    good_end = off;
    rc = fn(ctx, rec, line_no, path, err);
    if (rc) goto out;
  }
  (void)good_end;
out:
  free(line);
  if (f) fclose(f);
  return rc;
}

static int resume_record(void *ctx, cJSON *rec, long line, const char *path, l1k_err *err) {
  run *R = ctx;
  long pi, si;
  const cJSON *id = cJSON_GetObjectItemCaseSensitive(rec, "id");
  const cJSON *resp = cJSON_GetObjectItemCaseSensitive(rec, "response");
  if (get_index(rec, "problem_index", &pi) || get_index(rec, "sample_index", &si) ||
      !cJSON_IsString(id) || !cJSON_IsString(resp)) {
    cJSON_Delete(rec);
    return l1k_errf(err, L1K_EINPUT,
                    "%s:%ld: expected a results record with id, problem_index, sample_index "
                    "and response",
                    path, line);
  }
  if ((size_t)pi >= R->np_data) {
    cJSON_Delete(rec);
    return l1k_errf(err, L1K_EINPUT,
                    "%s:%ld: problem_index %ld, but the data has %zu problems: a line from another "
                    "run (use another --out)",
                    path, line, pi, R->np_data);
  }
  if ((size_t)pi >= R->np || si >= R->n) { /* outside this run's --limit / --n: kept */
    cJSON_Delete(rec);
    return 0;
  }
  if (strcmp(id->valuestring, R->P[pi].id)) {
    int rc = l1k_errf(err, L1K_EINPUT,
                      "%s:%ld: problem_index %ld has id '%.100s' but problem %ld of the data has "
                      "id '%.100s': this output directory belongs to other data (use another --out)",
                      path, line, pi, id->valuestring, pi, R->P[pi].id);
    cJSON_Delete(rec);
    return rc;
  }
  size_t k = (size_t)pi * (size_t)R->n + (size_t)si;
  int needs_judge = R->judge_url && !cJSON_GetObjectItemCaseSensitive(rec, "judge_reply");
  cJSON_Delete(R->resumed[k]);
  R->resumed[k] = NULL;
  if (needs_judge) {
    R->have[k] = HAVE_NEEDS_JUDGE;
    R->resumed[k] = rec;
  } else {
    R->have[k] = HAVE_DONE;
    cJSON_Delete(rec);
  }
  return 0;
}

/* ---------------------------------------------------------------------------------------
 * Summary
 * --------------------------------------------------------------------------------------- */

typedef struct srec {
  int present;
  int correct;
  int judge; /* -1 none */
  int truncated;
  long tokens; /* -1 none */
  char *extracted;
} srec;

typedef struct sum_ctx {
  size_t np;
  int n;
  srec *s;
} sum_ctx;

static int sum_record(void *ctx, cJSON *rec, long line, const char *path, l1k_err *err) {
  sum_ctx *S = ctx;
  long pi, si;
  if (get_index(rec, "problem_index", &pi) || get_index(rec, "sample_index", &si)) {
    cJSON_Delete(rec);
    return l1k_errf(err, L1K_EINPUT, "%s:%ld: field problem_index / sample_index: expected a "
                    "non-negative integer", path, line);
  }
  if ((size_t)pi < S->np && si < S->n) {
    srec *r = &S->s[(size_t)pi * S->n + si];
    free(r->extracted);
    memset(r, 0, sizeof *r);
    r->present = 1;
    r->correct = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(rec, "correct"));
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(rec, "judge_correct");
    r->judge = cJSON_IsBool(j) ? cJSON_IsTrue(j) : -1;
    const cJSON *fr = cJSON_GetObjectItemCaseSensitive(rec, "finish_reason");
    r->truncated = cJSON_IsString(fr) && !strcmp(fr->valuestring, "length");
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(rec, "tokens");
    r->tokens = cJSON_IsNumber(t) ? (long)t->valuedouble : -1;
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(rec, "extracted");
    if (cJSON_IsString(e)) r->extracted = l1k_strdup(e->valuestring, NULL);
  }
  cJSON_Delete(rec);
  return 0;
}

/* Answer classes for maj@k: equal strings share a class; distinct strings are compared with
 * the grader's equivalence. */
static void answer_classes(srec *s, int n, int *cl) {
  int next = 0;
  for (int i = 0; i < n; i++) {
    cl[i] = -1;
    if (!s[i].present || !s[i].extracted) continue;
    for (int j = 0; j < i && cl[i] < 0; j++) {
      if (cl[j] < 0) continue;
      if (!strcmp(s[i].extracted, s[j].extracted)) cl[i] = cl[j];
    }
    for (int j = 0; j < i && cl[i] < 0; j++) {
      if (cl[j] < 0) continue;
      int first_of_class = 1;
      for (int q = 0; q < j; q++)
        if (cl[q] == cl[j]) first_of_class = 0;
      if (first_of_class && l1k_math_equal(s[j].extracted, s[i].extracted)) cl[i] = cl[j];
    }
    if (cl[i] < 0) cl[i] = next++;
  }
}

static void add_num_or_null(cJSON *o, const char *k, double v) {
  if (isfinite(v))
    cJSON_AddNumberToObject(o, k, v);
  else
    cJSON_AddNullToObject(o, k);
}

int l1k_eval_summarize(const char *out_dir, size_t np, int n, cJSON *info, FILE *f, l1k_err *err) {
  char *res_path = l1k_path_join(out_dir, "results.jsonl");
  char *sum_path = l1k_path_join(out_dir, "summary.json");
  sum_ctx S = {np, n, NULL};
  double *pp = NULL, *jp = NULL, *runacc = NULL;
  int *cl = NULL, *co = NULL, *cls = NULL;
  cJSON *j = NULL;
  int rc = 0;
  if (!res_path || !sum_path) {
    rc = l1k_errf(err, L1K_ENOMEM, "out of memory");
    goto out;
  }
  S.s = l1k_calloc(np * (size_t)n, sizeof *S.s, err);
  pp = l1k_calloc(np + 1, sizeof *pp, err);
  jp = l1k_calloc(np + 1, sizeof *jp, err);
  runacc = l1k_calloc((size_t)n, sizeof *runacc, err);
  cl = l1k_calloc((size_t)n, sizeof *cl, err);
  co = l1k_calloc((size_t)n, sizeof *co, err);
  cls = l1k_calloc(np * (size_t)n, sizeof *cls, err);
  if (!S.s || !pp || !jp || !runacc || !cl || !co || !cls) {
    rc = L1K_ENOMEM;
    goto out;
  }
  if ((rc = scan_results(res_path, 0, sum_record, &S, NULL, err))) goto out;

  int64_t present = 0, n_correct = 0, trunc = 0, no_answer = 0;
  int64_t tok_c = 0, tok_w = 0, ntok_c = 0, ntok_w = 0, no_tokens = 0;
  int64_t both = 0, agree = 0, rule_only = 0, judge_only = 0, judge_none = 0;
  size_t nprob = 0, njprob = 0, complete = 0;
  for (size_t p = 0; p < np; p++) {
    srec *s = S.s + p * (size_t)n;
    int m = 0, c = 0, jm = 0, jc = 0;
    for (int i = 0; i < n; i++) {
      if (!s[i].present) continue;
      m++;
      c += s[i].correct;
      present++;
      n_correct += s[i].correct;
      trunc += s[i].truncated;
      no_answer += s[i].extracted == NULL;
      if (s[i].tokens >= 0) {
        if (s[i].correct) {
          tok_c += s[i].tokens;
          ntok_c++;
        } else {
          tok_w += s[i].tokens;
          ntok_w++;
        }
      } else
        no_tokens++;
      if (s[i].judge >= 0) {
        jm++;
        jc += s[i].judge;
        both++;
        agree += s[i].judge == s[i].correct;
        rule_only += s[i].correct && !s[i].judge;
        judge_only += !s[i].correct && s[i].judge;
      } else
        judge_none++;
    }
    if (m > 0) pp[nprob++] = (double)c / m;
    if (jm > 0) jp[njprob++] = (double)jc / jm;
    if (m == n) complete++;
  }
  /* accuracy of each run (sample index) over the problems that have it */
  int nruns = 0;
  for (int i = 0; i < n; i++) {
    int64_t m = 0, c = 0;
    for (size_t p = 0; p < np; p++) {
      srec *r = &S.s[p * (size_t)n + i];
      if (r->present) {
        m++;
        c += r->correct;
      }
    }
    if (m > 0) runacc[nruns++] = (double)c / m;
  }
  double mean, se, jmean, jse, rmean, rse;
  l1k_mean_se(pp, nprob, &mean, &se);
  l1k_mean_se(jp, njprob, &jmean, &jse);
  l1k_mean_se(runacc, (size_t)nruns, &rmean, &rse);
  double run_sd = nruns > 1 ? rse * sqrt((double)nruns) : 0;

  j = info ? cJSON_Duplicate(info, 1) : cJSON_CreateObject();
  cJSON_DeleteItemFromObjectCaseSensitive(j, "problems"); /* run.json's; once, from here */
  cJSON_AddNumberToObject(j, "problems", (double)np);
  cJSON_AddNumberToObject(j, "samples_per_problem", n);
  cJSON_AddNumberToObject(j, "samples", (double)present);
  cJSON_AddNumberToObject(j, "samples_missing", (double)((int64_t)np * n - present));
  cJSON_AddNumberToObject(j, "problems_complete", (double)complete);
  cJSON_AddBoolToObject(j, "complete", present == (int64_t)np * n);
  cJSON_AddNumberToObject(j, "correct", (double)n_correct);
  add_num_or_null(j, "pass@1", mean);
  add_num_or_null(j, "pass@1_se", se);
  cJSON_AddStringToObject(j, "pass@1_se_over", "problems");
  add_num_or_null(j, "pass@1_run_sd", nruns ? run_sd : NAN);
  add_num_or_null(j, "pass@1_run_se", nruns ? rse : NAN);
  /* ks: 1, 2, 4, ... and n */
  int ks[40], nk = 0;
  for (int k = 1; k <= n && nk < 38; k *= 2) ks[nk++] = k;
  if (ks[nk - 1] != n) ks[nk++] = n;
  /* answer classes of the present samples of each problem, in order (for maj@k) */
  for (size_t p = 0; p < np; p++) {
    srec *s = S.s + p * (size_t)n;
    answer_classes(s, n, cl);
    int m2 = 0;
    for (int i = 0; i < n; i++)
      if (s[i].present) cls[p * (size_t)n + m2++] = cl[i];
  }
  cJSON *pk = cJSON_AddObjectToObject(j, "pass@k");
  cJSON *mk = cJSON_AddObjectToObject(j, "maj@k");
  double passk[40], majk[40];
  for (int q = 0; q < nk; q++) {
    int k = ks[q];
    double sp = 0, sm = 0;
    size_t cnt = 0;
    for (size_t p = 0; p < np; p++) {
      srec *s = S.s + p * (size_t)n;
      /* present samples in order */
      int m = 0, c = 0;
      for (int i = 0; i < n; i++)
        if (s[i].present) {
          co[m] = s[i].correct;
          c += s[i].correct;
          m++;
        }
      if (m < k) continue;
      sp += l1k_pass_at_k(m, c, k);
      sm += l1k_maj_at_k(cls + p * (size_t)n, co, m, k);
      cnt++;
    }
    char key[16];
    snprintf(key, sizeof key, "%d", k);
    passk[q] = cnt ? sp / cnt : NAN;
    majk[q] = cnt ? sm / cnt : NAN;
    add_num_or_null(pk, key, passk[q]);
    add_num_or_null(mk, key, majk[q]);
  }
  double mtc = ntok_c ? (double)tok_c / ntok_c : NAN, mtw = ntok_w ? (double)tok_w / ntok_w : NAN;
  add_num_or_null(j, "mean_tokens_correct", mtc);
  add_num_or_null(j, "mean_tokens_wrong", mtw);
  cJSON_AddNumberToObject(j, "samples_without_usage", (double)no_tokens);
  add_num_or_null(j, "truncated_rate", present ? (double)trunc / present : NAN);
  cJSON_AddNumberToObject(j, "truncated", (double)trunc);
  add_num_or_null(j, "no_answer_rate", present ? (double)no_answer / present : NAN);
  if (both > 0) {
    cJSON *jj = cJSON_AddObjectToObject(j, "judge");
    add_num_or_null(jj, "pass@1", jmean);
    add_num_or_null(jj, "pass@1_se", jse);
    cJSON_AddNumberToObject(jj, "verdicts", (double)both);
    cJSON_AddNumberToObject(jj, "without_verdict", (double)judge_none);
    cJSON_AddNumberToObject(jj, "agreement", (double)agree / both);
    cJSON_AddNumberToObject(jj, "rule_correct_judge_wrong", (double)rule_only);
    cJSON_AddNumberToObject(jj, "rule_wrong_judge_correct", (double)judge_only);
  }
  char *text = cJSON_Print(j);
  if (!text) {
    rc = l1k_errf(err, L1K_ENOMEM, "out of memory");
    goto out;
  }
  size_t tl = strlen(text);
  text[tl] = '\n';
  rc = l1k_write_file_atomic(sum_path, text, tl + 1, err);
  free(text);
  if (rc) goto out;

  if (f) {
    const cJSON *d = cJSON_GetObjectItemCaseSensitive(j, "data");
    const cJSON *mn = cJSON_GetObjectItemCaseSensitive(j, "model_name");
    fprintf(f, "\n%s  ·  %s  ·  %zu problems x %d samples (%lld present%s)\n",
            cJSON_IsString(d) ? d->valuestring : "?", cJSON_IsString(mn) ? mn->valuestring : "?",
            np, n, (long long)present,
            present == (int64_t)np * n ? "" : ", INCOMPLETE: rerun the command to finish");
    fprintf(f, "  %-24s %s\n", "metric", "value");
    if (isfinite(mean))
      fprintf(f, "  %-24s %6.2f%% ± %.2f  (SE over %zu problems", "pass@1 (mean over n)",
              100 * mean, 100 * se, nprob);
    else
      fprintf(f, "  %-24s %s", "pass@1 (mean over n)", "-  (no samples");
    if (nruns > 1) fprintf(f, "; sd over %d runs %.2f", nruns, 100 * run_sd);
    fprintf(f, ")\n");
    for (int q = 1; q < nk; q++) {
      char key[32];
      snprintf(key, sizeof key, "pass@%d", ks[q]);
      if (isfinite(passk[q])) fprintf(f, "  %-24s %6.2f%%\n", key, 100 * passk[q]);
    }
    for (int q = 1; q < nk; q++) {
      char key[32];
      snprintf(key, sizeof key, "maj@%d", ks[q]);
      if (isfinite(majk[q])) fprintf(f, "  %-24s %6.2f%%\n", key, 100 * majk[q]);
    }
    if (ntok_c) fprintf(f, "  %-24s %8.0f  (%lld samples)\n", "mean tokens, correct", mtc, (long long)ntok_c);
    if (ntok_w) fprintf(f, "  %-24s %8.0f  (%lld samples)\n", "mean tokens, wrong", mtw, (long long)ntok_w);
    if (present) {
      fprintf(f, "  %-24s %6.2f%%  (%lld)\n", "truncated (length)", 100.0 * trunc / present, (long long)trunc);
      fprintf(f, "  %-24s %6.2f%%  (%lld)\n", "no answer extracted", 100.0 * no_answer / present,
              (long long)no_answer);
    }
    if (both > 0) {
      fprintf(f, "  %-24s %6.2f%% ± %.2f  (%lld verdicts, %lld without)\n", "judge pass@1",
              100 * jmean, 100 * jse, (long long)both, (long long)judge_none);
      fprintf(f, "  %-24s %6.2f%%  (rule yes/judge no %lld, rule no/judge yes %lld)\n",
              "rule vs judge agreement", 100.0 * agree / both, (long long)rule_only,
              (long long)judge_only);
    }
  }
out:
  if (S.s)
    for (size_t i = 0; i < np * (size_t)n; i++) free(S.s[i].extracted);
  free(S.s);
  free(pp);
  free(jp);
  free(runacc);
  free(cl);
  free(co);
  free(cls);
  cJSON_Delete(j);
  free(res_path);
  free(sum_path);
  return rc;
}

/* ---------------------------------------------------------------------------------------
 * Entry point
 * --------------------------------------------------------------------------------------- */

int l1k_eval_run(const l1k_eval_config *cfg, l1k_eval_outcome *outc, l1k_err *err) {
  run R;
  memset(&R, 0, sizeof R);
  l1k_eval_outcome dummy;
  if (!outc) outc = &dummy;
  memset(outc, 0, sizeof *outc);
  R.cfg = cfg;
  R.n = cfg->n;
  int rc = 0;
  l1k_oai_client *cl = NULL;
  cJSON *info = NULL;
  char *run_path = NULL;
  int lock_fd = -1; /* out_dir/.long1k.lock: one run per output directory */
  if (!!cfg->endpoint == !!cfg->model_dir || (cfg->endpoint && !cfg->model_name) ||
      !cfg->out_dir || !cfg->data_path || cfg->n < 1)
    return l1k_errf(err, L1K_EINPUT,
                    "eval: an endpoint and model name (or a model directory), the data and an "
                    "output directory are needed");
  if ((rc = l1k_eval_load(cfg->data_path, &cfg->data, &R.P, &R.np, err))) return rc;
  R.np_data = R.np;
  if (cfg->data.limit > 0 && (rc = count_records(cfg->data_path, &R.np_data, err))) goto out;
  const char *spec = cfg->template_spec;
  if (!spec) spec = R.P[0].n_choices ? "mc" : "boxed";
  if ((rc = l1k_prompt_template_load(spec, &R.tpl, err))) goto out;
  if (cfg->endpoint) R.gen_url = l1k_oai_url(cfg->endpoint, cfg->completions);
  if (cfg->judge_endpoint) {
    R.judge_url = l1k_oai_url(cfg->judge_endpoint, 0);
    if (cfg->judge_prompt_file) {
      size_t len;
      R.judge_prompt = l1k_read_file(cfg->judge_prompt_file, &len, err);
      if (!R.judge_prompt) {
        rc = err ? err->code : L1K_EIO;
        goto out;
      }
      if (!strstr(R.judge_prompt, "{response_tail}") || !strstr(R.judge_prompt, "{reference}")) {
        rc = l1k_errf(err, L1K_EINPUT, "%s: the judge prompt needs {reference} and {response_tail}",
                      cfg->judge_prompt_file);
        goto out;
      }
    } else
      R.judge_prompt = l1k_strdup(l1k_judge_default_prompt(), err);
  }
  R.have = l1k_calloc(R.np * (size_t)R.n, 1, err);
  R.resumed = l1k_calloc(R.np * (size_t)R.n, sizeof *R.resumed, err);
  R.res_path = l1k_path_join(cfg->out_dir, "results.jsonl");
  R.err_path = l1k_path_join(cfg->out_dir, "errors.jsonl");
  run_path = l1k_path_join(cfg->out_dir, "run.json");
  if ((cfg->endpoint && !R.gen_url) || (cfg->judge_endpoint && (!R.judge_url || !R.judge_prompt)) || !R.have ||
      !R.resumed || !R.res_path || !R.err_path || !run_path) {
    rc = l1k_errf(err, L1K_ENOMEM, "out of memory");
    goto out;
  }
  if (cfg->extra_body && *cfg->extra_body) {
    R.extra_body = cJSON_Parse(cfg->extra_body);
    if (!cJSON_IsObject(R.extra_body)) {
      rc = l1k_errf(err, L1K_EINPUT, "--extra-body: expected a JSON object, e.g. '{\"top_k\": 20}'");
      goto out;
    }
  }
  if ((rc = l1k_mkdir_p(cfg->out_dir, err))) goto out;
  if ((lock_fd = l1k_dir_lock(cfg->out_dir, err)) < 0) {
    rc = err && err->code ? err->code : L1K_EIO;
    goto out;
  }
  info = run_info(&R);
  if ((rc = check_run_json(run_path, R.res_path, info, err))) goto out;
  {
    char *t = cJSON_Print(info);
    size_t tl = strlen(t);
    t[tl] = '\n';
    rc = l1k_write_file_atomic(run_path, t, tl + 1, err);
    free(t);
    if (rc) goto out;
  }
  if ((rc = scan_results(R.res_path, 1, resume_record, &R, &outc->partial_lines_dropped, err)))
    goto out;
  size_t total = R.np * (size_t)R.n;
  int64_t have = 0, need_judge = 0;
  for (size_t k = 0; k < total; k++) {
    have += R.have[k] != HAVE_NONE;
    need_judge += R.have[k] == HAVE_NEEDS_JUDGE;
  }
  R.todo = (int64_t)total - have + need_judge;
  outc->samples_total = (int64_t)total;
  outc->samples_resumed = have;
  if (have && !cfg->quiet)
    l1k_info("resuming: %lld of %lld samples already in %s%s", (long long)have,
             (long long)total, R.res_path, need_judge ? " (some still need a judge verdict)" : "");
  if (R.todo > 0) {
    R.res = fopen(R.res_path, "ab");
    R.errs = fopen(R.err_path, "ab");
    if (!R.res || !R.errs) {
      rc = l1k_errf(err, L1K_EIO, "%s: cannot open for appending: %s", cfg->out_dir, strerror(errno));
      goto out;
    }
    if (cfg->model_dir) {
      if ((rc = run_local(&R, outc, err))) goto out;
    }
    int64_t http_todo = 0;
    for (size_t k = 0; k < total; k++)
      http_todo += R.have[k] == HAVE_NEEDS_JUDGE || (R.have[k] == HAVE_NONE && R.gen_url);
    if (!outc->interrupted && http_todo > 0) {
      cl = l1k_oai_new(&cfg->http, err);
      if (!cl) {
        rc = err ? err->code : L1K_EINTERNAL;
        goto out;
      }
      int64_t done0 = R.done, correct0 = R.correct;
      R.done = R.correct = 0;
      if (!cfg->quiet) l1k_progress_begin(&R.prog, R.gen_url ? "eval" : "judge", http_todo);
      rc = l1k_oai_run(cl, refill, on_done, on_tick, &R, cfg->stop, err);
      if (!cfg->quiet) l1k_progress_end(&R.prog);
      R.done += done0;
      R.correct += correct0;
      if (rc) goto out;
      outc->interrupted = cfg->stop && *cfg->stop;
      const l1k_oai_stats *st = l1k_oai_get_stats(cl);
      if (!cfg->quiet && st->retries)
        l1k_info("retries: %lld (429: %lld, 5xx: %lld, connection: %lld, timeout: %lld, "
                 "malformed reply: %lld)",
                 (long long)st->retries, (long long)st->r_429, (long long)st->r_5xx,
                 (long long)st->r_conn, (long long)st->r_timeout, (long long)st->r_malformed);
    }
  }
  outc->samples_done = R.done;
  outc->samples_failed = R.failed;
  if (R.judge_failed) l1k_warn("%lld judge requests failed (judge_error in results.jsonl; a rerun asks again)",
                               (long long)R.judge_failed);
  if (R.res) {
    fflush(R.res);
    fsync(fileno(R.res));
  }
  if (!outc->interrupted)
    rc = l1k_eval_summarize(cfg->out_dir, R.np, R.n, info, cfg->quiet ? NULL : stdout, err);
out:
  if (cl) {
    l1k_oai_each_pending(cl, free_pending);
    l1k_oai_free(cl);
  }
  if (R.res) fclose(R.res);
  if (R.errs) fclose(R.errs);
  if (R.resumed)
    for (size_t k = 0; k < R.np * (size_t)R.n; k++) cJSON_Delete(R.resumed[k]);
  free(R.resumed);
  free(R.have);
  free(R.gen_url);
  free(R.judge_url);
  free(R.judge_prompt);
  free(R.res_path);
  free(R.err_path);
  free(run_path);
  cJSON_Delete(info);
  cJSON_Delete(R.extra_body);
  l1k_prompt_template_free(&R.tpl);
  l1k_eval_problems_free(R.P, R.np);
  l1k_dir_unlock(lock_fd);
  return rc;
}
