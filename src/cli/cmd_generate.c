/* long1k generate — completions from a local model directory (KV cache, greedy or sampling). */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#ifdef _OPENMP
#include <omp.h>
#endif
#include <cblas.h>

#include "cli/cli.h"
#include "long1k/chat.h"
#include "long1k/generate.h"
#include "long1k/io.h"
#include "long1k/jsonl.h"
#include "long1k/log.h"
#include "long1k/model.h"
#include "long1k/tokenizer.h"

static const char *GEN_USAGE =
    "usage: long1k generate --model DIR (--prompt TEXT | --input FILE.jsonl) [options]\n"
    "\n"
    "Generates completions with a Hugging Face model directory (config.json, model.safetensors\n"
    "or sharded, tokenizer.json) on the CPU: prompts are prefilled, then decoded one token per\n"
    "step with a KV cache; up to --batch prompts decode together and a finished prompt's slot\n"
    "takes the next one (continuous batching).\n"
    "\n"
    "input:\n"
    "  -m, --model DIR         model directory\n"
    "  -p, --prompt TEXT       one prompt; the completion streams to stdout as it is generated\n"
    "  -i, --input FILE        JSONL, one record per line with \"prompt\" (text) or \"messages\"\n"
    "                          ([{\"role\", \"content\"}], always rendered with the chat template);\n"
    "                          \"-\" = stdin, .gz accepted\n"
    "  -o, --output FILE       JSONL results (default stdout), in input order, written atomically:\n"
    "                          the input record plus \"completion\", \"completion_tokens\",\n"
    "                          \"prompt_tokens\", \"finish_reason\" (stop | length) and \"stop\" (the\n"
    "                          stop string that ended it, if one did)\n"
    "      --chat              render \"prompt\" as a user message with the chat template and the\n"
    "                          generation prompt (the template comes from the model's\n"
    "                          tokenizer_config.json; see --template)\n"
    "      --system TEXT       system message for --chat prompts\n"
    "      --template NAME     chat template: qwen2.5 | qwen3 | llama3 (default: detected)\n"
    "      --no-think          qwen3 template with enable_thinking = false\n"
    "      --tokenizer PATH    tokenizer.json (or its directory) instead of the model's\n"
    "\n"
    "decoding:\n"
    "  -n, --max-new-tokens N  at most N new tokens per prompt (default 256)\n"
    "  -t, --temperature T     0 = greedy (default); > 0 samples\n"
    "      --top-k K           keep the K most likely tokens (0 = off, default)\n"
    "      --top-p P           nucleus: the most likely tokens with mass >= P (1 = off, default)\n"
    "      --min-p P           keep tokens with p >= P * p_max (0 = off, default)\n"
    "  -s, --seed S            random seed (default 0); the same seed gives the same text, whatever\n"
    "                          the batch size (each prompt has its own random stream)\n"
    "      --stop STR          stop when the text contains STR (repeatable); the completion ends\n"
    "                          before it. C escapes \\n \\t \\\\ are understood\n"
    "      --ignore-eos        do not stop at the model's end-of-sequence ids\n"
    "  -b, --batch N           prompts decoded together (default 8; 1 with --prompt)\n"
    "      --max-context N     KV cache positions per prompt (default: longest prompt +\n"
    "                          max-new-tokens, at most the model's max_position_embeddings)\n"
    "      --threads N         CPU threads (default: all)\n"
    "  -q, --quiet             no progress or statistics on stderr\n"
    "  -h, --help              this text\n"
    "\n"
    "Stops: the model's EOS ids (config.json and generation_config.json), a stop string,\n"
    "max-new-tokens, or the context. completion_tokens counts generated ids including the EOS id.\n"
    "Bad input (a record without \"prompt\"/\"messages\", a malformed option) stops with the file,\n"
    "line and field, exit code 2.\n";

enum { OPT_TOPK = 256, OPT_TOPP, OPT_MINP, OPT_STOP, OPT_IGNORE_EOS, OPT_CTX, OPT_THREADS, OPT_CHAT,
       OPT_SYSTEM, OPT_TEMPLATE, OPT_NOTHINK, OPT_TOKENIZER };

static int parse_int(const char *s, long lo, long hi, long *out) {
  char *end;
  errno = 0;
  long v = strtol(s, &end, 10);
  if (errno || end == s || *end || v < lo || v > hi) return -1;
  *out = v;
  return 0;
}
static int parse_float(const char *s, double lo, double hi, double *out) {
  char *end;
  errno = 0;
  double v = strtod(s, &end);
  if (errno || end == s || *end || !(v >= lo && v <= hi)) return -1;
  *out = v;
  return 0;
}

/* \n \t \r \\ \" escapes in --stop / --system */
static char *unescape(const char *s) {
  size_t n = strlen(s);
  char *o = l1k_malloc(n + 1, NULL), *p = o;
  if (!o) return NULL;
  for (size_t i = 0; i < n; i++) {
    if (s[i] == '\\' && i + 1 < n) {
      char c = s[++i];
      *p++ = c == 'n' ? '\n' : c == 't' ? '\t' : c == 'r' ? '\r' : c;
    } else {
      *p++ = s[i];
    }
  }
  *p = 0;
  return o;
}

typedef struct job {
  cJSON *rec;      /* input record (NULL for --prompt) */
  long long line;  /* its line in the input */
  l1k_ids ids;
} job;

typedef struct cli_state {
  int stream_stdout;
  int quiet;
  l1k_progress prog;
  int finished;
} cli_state;

static int on_token(void *user, int index, int32_t token, const char *text, size_t len, int done,
                    const l1k_gen_result *r) {
  cli_state *st = user;
  (void)token;
  (void)index;
  (void)r;
  if (st->stream_stdout) {
    if (len) fwrite(text, 1, len, stdout);
    if (done) fputc('\n', stdout);
    fflush(stdout);
  }
  if (done) {
    st->finished++;
    if (!st->quiet && !st->stream_stdout) l1k_progress_update(&st->prog, st->finished, NULL);
  }
  return 0;
}

/* Renders messages (cJSON array) with the chat template; returns malloc'ed text. */
static char *render_messages(const cJSON *msgs, l1k_template tmpl, int no_think, const char *where,
                             l1k_err *err) {
  int n = cJSON_GetArraySize(msgs);
  if (!cJSON_IsArray(msgs) || n == 0) {
    l1k_errf(err, L1K_EINPUT, "%s: field 'messages': expected a non-empty array", where);
    return NULL;
  }
  l1k_chat_msg *m = l1k_calloc((size_t)n, sizeof *m, NULL);
  if (!m) {
    l1k_errf(err, L1K_ENOMEM, "out of memory");
    return NULL;
  }
  int i = 0;
  const cJSON *it;
  cJSON_ArrayForEach(it, msgs) {
    const cJSON *role = cJSON_GetObjectItemCaseSensitive(it, "role");
    const cJSON *content = cJSON_GetObjectItemCaseSensitive(it, "content");
    if (!cJSON_IsString(role) || !cJSON_IsString(content)) {
      l1k_errf(err, L1K_EINPUT, "%s: messages[%d]: expected {\"role\": string, \"content\": string}", where, i);
      free(m);
      return NULL;
    }
    m[i].role = role->valuestring;
    m[i].content = content->valuestring;
    i++;
  }
  l1k_chat_opts co = {.add_generation_prompt = 1, .enable_thinking = no_think ? 0 : -1};
  l1k_chat_rendered r;
  memset(&r, 0, sizeof r);
  int rc = l1k_chat_render(tmpl, m, (size_t)n, &co, &r, err);
  free(m);
  if (rc) {
    l1k_err_prefix(err, "%s", where);
    return NULL;
  }
  char *text = r.text;
  r.text = NULL;
  l1k_chat_rendered_free(&r);
  return text;
}

int cmd_generate(int argc, char **argv) {
  static const struct option longopts[] = {
      {"model", required_argument, 0, 'm'},
      {"prompt", required_argument, 0, 'p'},
      {"input", required_argument, 0, 'i'},
      {"output", required_argument, 0, 'o'},
      {"chat", no_argument, 0, OPT_CHAT},
      {"system", required_argument, 0, OPT_SYSTEM},
      {"template", required_argument, 0, OPT_TEMPLATE},
      {"no-think", no_argument, 0, OPT_NOTHINK},
      {"tokenizer", required_argument, 0, OPT_TOKENIZER},
      {"max-new-tokens", required_argument, 0, 'n'},
      {"temperature", required_argument, 0, 't'},
      {"top-k", required_argument, 0, OPT_TOPK},
      {"top-p", required_argument, 0, OPT_TOPP},
      {"min-p", required_argument, 0, OPT_MINP},
      {"seed", required_argument, 0, 's'},
      {"stop", required_argument, 0, OPT_STOP},
      {"ignore-eos", no_argument, 0, OPT_IGNORE_EOS},
      {"batch", required_argument, 0, 'b'},
      {"max-context", required_argument, 0, OPT_CTX},
      {"threads", required_argument, 0, OPT_THREADS},
      {"quiet", no_argument, 0, 'q'},
      {"help", no_argument, 0, 'h'},
      {0, 0, 0, 0}};
  const char *cmd = "generate";
  const char *model_dir = NULL, *prompt = NULL, *input = NULL, *output = NULL, *system_msg = NULL;
  const char *template_name = NULL, *tok_path = NULL;
  int chat = 0, no_think = 0, quiet = 0, batch = 0, max_ctx = 0, threads = 0;
  l1k_gen_opts o;
  l1k_gen_opts_default(&o);
  char **stops = NULL;
  int n_stop = 0, rc = 0;
  long lv;
  double dv;
  optind = 1;
  int c;
  while ((c = getopt_long(argc, argv, "m:p:i:o:n:t:s:b:qh", longopts, NULL)) != -1) {
    switch (c) {
      case 'm': model_dir = optarg; break;
      case 'p': prompt = optarg; break;
      case 'i': input = optarg; break;
      case 'o': output = optarg; break;
      case OPT_CHAT: chat = 1; break;
      case OPT_SYSTEM: system_msg = optarg; break;
      case OPT_TEMPLATE: template_name = optarg; chat = 1; break;
      case OPT_NOTHINK: no_think = 1; break;
      case OPT_TOKENIZER: tok_path = optarg; break;
      case 'n':
        if (parse_int(optarg, 0, 1 << 30, &lv)) return cli_usage_error(cmd, "--max-new-tokens: expected an integer >= 0, got '%s'", optarg);
        o.max_new_tokens = (int)lv;
        break;
      case 't':
        if (parse_float(optarg, 0, 1e6, &dv)) return cli_usage_error(cmd, "--temperature: expected a number >= 0, got '%s'", optarg);
        o.temperature = (float)dv;
        break;
      case OPT_TOPK:
        if (parse_int(optarg, 0, 1 << 30, &lv)) return cli_usage_error(cmd, "--top-k: expected an integer >= 0, got '%s'", optarg);
        o.top_k = (int)lv;
        break;
      case OPT_TOPP:
        if (parse_float(optarg, 1e-9, 1, &dv)) return cli_usage_error(cmd, "--top-p: expected a number in (0, 1], got '%s'", optarg);
        o.top_p = (float)dv;
        break;
      case OPT_MINP:
        if (parse_float(optarg, 0, 1, &dv)) return cli_usage_error(cmd, "--min-p: expected a number in [0, 1], got '%s'", optarg);
        o.min_p = (float)dv;
        break;
      case 's': {
        char *end;
        errno = 0;
        unsigned long long v = strtoull(optarg, &end, 10);
        if (errno || end == optarg || *end || optarg[0] == '-') return cli_usage_error(cmd, "--seed: expected a non-negative integer, got '%s'", optarg);
        o.seed = (uint64_t)v;
        break;
      }
      case OPT_STOP: {
        char **ns = l1k_realloc(stops, (size_t)(n_stop + 1) * sizeof *ns, NULL);
        if (!ns) return cli_usage_error(cmd, "out of memory");
        stops = ns;
        stops[n_stop] = unescape(optarg);
        if (!stops[n_stop] || !stops[n_stop][0]) {
          free(stops[n_stop]);
          for (int k = 0; k < n_stop; k++) free(stops[k]);
          free(stops);
          return cli_usage_error(cmd, "--stop: expected a non-empty string");
        }
        n_stop++;
        break;
      }
      case OPT_IGNORE_EOS: o.ignore_eos = 1; break;
      case 'b':
        if (parse_int(optarg, 1, 4096, &lv)) return cli_usage_error(cmd, "--batch: expected an integer in 1..4096, got '%s'", optarg);
        batch = (int)lv;
        break;
      case OPT_CTX:
        if (parse_int(optarg, 2, 1 << 24, &lv)) return cli_usage_error(cmd, "--max-context: expected an integer >= 2, got '%s'", optarg);
        max_ctx = (int)lv;
        break;
      case OPT_THREADS:
        if (parse_int(optarg, 1, 1024, &lv)) return cli_usage_error(cmd, "--threads: expected an integer in 1..1024, got '%s'", optarg);
        threads = (int)lv;
        break;
      case 'q': quiet = 1; break;
      case 'h': fputs(GEN_USAGE, stdout); return 0;
      default: return cli_usage_error(cmd, "unknown option");
    }
  }
  if (optind < argc) return cli_usage_error(cmd, "unexpected argument '%s'", argv[optind]);
  if (!model_dir) return cli_usage_error(cmd, "--model DIR is required");
  if (!!prompt + !!input != 1) return cli_usage_error(cmd, "give exactly one of --prompt TEXT or --input FILE.jsonl");
  {
    l1k_err oe = {0};
    const char *ins[] = {input, model_dir, tok_path};
    if (l1k_output_check(output, ins, 3, &oe)) return cli_fail(cmd, &oe);
  }
  if (threads > 0) {
#ifdef _OPENMP
    omp_set_num_threads(threads);
#endif
    openblas_set_num_threads(threads);
  }
  if (!quiet) l1k_log_set_level(L1K_LOG_INFO);

  l1k_err err = {0};
  l1k_model *model = NULL;
  l1k_tokenizer *tok = NULL;
  l1k_generator *g = NULL;
  job *jobs = NULL;
  int n_jobs = 0, cap_jobs = 0;
  l1k_gen_prompt *prompts = NULL;
  l1k_gen_result *res = NULL;
  l1k_jsonl *rd = NULL;
  char *sys_text = system_msg ? unescape(system_msg) : NULL;
  l1k_template tmpl = L1K_TMPL_NONE;
  int need_tmpl = chat;

  char *tpath = tok_path ? l1k_strdup(tok_path, NULL) : l1k_path_join(model_dir, "tokenizer.json");
  if (!tok_path && !l1k_file_exists(tpath)) {
    rc = cli_usage_error(cmd, "%s: no tokenizer.json in the model directory (give --tokenizer PATH)", model_dir);
    free(tpath);
    goto out;
  }
  tok = l1k_tokenizer_load(tpath, &err);
  free(tpath);
  if (!tok) {
    rc = cli_fail(cmd, &err);
    goto out;
  }

  /* read the prompts */
  if (prompt) {
    cap_jobs = 1;
    jobs = l1k_calloc(1, sizeof *jobs, NULL);
    if (!jobs) goto oom;
    n_jobs = 1;
  } else {
    rd = l1k_jsonl_open(input, &err);
    if (!rd) {
      rc = cli_fail(cmd, &err);
      goto out;
    }
    cJSON *rec;
    int r;
    while ((r = l1k_jsonl_next(rd, &rec, &err)) == 1) {
      if (!cJSON_IsObject(rec)) {
        l1k_errf(&err, L1K_EINPUT, "%s:%lld: expected a JSON object", input, (long long)l1k_jsonl_line_no(rd));
        cJSON_Delete(rec);
        rc = cli_fail(cmd, &err);
        goto out;
      }
      if (n_jobs == cap_jobs) {
        cap_jobs = cap_jobs ? 2 * cap_jobs : 64;
        job *nj = l1k_realloc(jobs, (size_t)cap_jobs * sizeof *nj, NULL);
        if (!nj) {
          cJSON_Delete(rec);
          goto oom;
        }
        jobs = nj;
      }
      memset(&jobs[n_jobs], 0, sizeof jobs[n_jobs]);
      jobs[n_jobs].line = (long long)l1k_jsonl_line_no(rd);
      jobs[n_jobs++].rec = rec;
      if (cJSON_GetObjectItemCaseSensitive(rec, "messages")) need_tmpl = 1;
    }
    if (r < 0) {
      rc = cli_fail(cmd, &err);
      goto out;
    }
  }
  if (need_tmpl) {
    int trc = template_name ? l1k_chat_template_by_name(template_name, &tmpl, &err)
                            : l1k_chat_template_detect(tok_path ? tok_path : model_dir, &tmpl, &err);
    if (trc) {
      if (!template_name) l1k_err_prefix(&err, "chat template (give --template NAME)");
      rc = cli_fail(cmd, &err);
      goto out;
    }
  }

  /* tokenize */
  int longest = 0;
  for (int i = 0; i < n_jobs; i++) {
    char where[512];
    char *text = NULL;
    const char *ptext = NULL;
    if (prompt) {
      snprintf(where, sizeof where, "--prompt");
      ptext = prompt;
    } else {
      snprintf(where, sizeof where, "%s:%lld", input, jobs[i].line);
      const cJSON *p = cJSON_GetObjectItemCaseSensitive(jobs[i].rec, "prompt");
      const cJSON *m = cJSON_GetObjectItemCaseSensitive(jobs[i].rec, "messages");
      if (m) {
        text = render_messages(m, tmpl, no_think, where, &err);
        if (!text) {
          rc = cli_fail(cmd, &err);
          goto out;
        }
      } else if (cJSON_IsString(p)) {
        ptext = p->valuestring;
      } else {
        rc = cli_usage_error(cmd, "%s: expected a string field \"prompt\" or an array \"messages\"%s", where,
                             p ? " (\"prompt\" is not a string)" : "");
        goto out;
      }
    }
    if (ptext && chat) {
      cJSON *msgs = cJSON_CreateArray();
      if (sys_text) {
        cJSON *s = cJSON_CreateObject();
        cJSON_AddStringToObject(s, "role", "system");
        cJSON_AddStringToObject(s, "content", sys_text);
        cJSON_AddItemToArray(msgs, s);
      }
      cJSON *u = cJSON_CreateObject();
      cJSON_AddStringToObject(u, "role", "user");
      cJSON_AddStringToObject(u, "content", ptext);
      cJSON_AddItemToArray(msgs, u);
      text = render_messages(msgs, tmpl, no_think, where, &err);
      cJSON_Delete(msgs);
      if (!text) {
        rc = cli_fail(cmd, &err);
        goto out;
      }
    }
    const char *src = text ? text : ptext;
    int erc = l1k_tokenizer_encode(tok, src, strlen(src), &jobs[i].ids, NULL, &err);
    free(text);
    if (erc) {
      l1k_err_prefix(&err, "%s", where);
      rc = cli_fail(cmd, &err);
      goto out;
    }
    if (jobs[i].ids.len == 0) {
      rc = cli_usage_error(cmd, "%s: the prompt is empty (no tokens)", where);
      goto out;
    }
    if ((int)jobs[i].ids.len > longest) longest = (int)jobs[i].ids.len;
  }

  /* model and generator */
  double t_load = l1k_now();
  model = l1k_model_load(model_dir, &err);
  if (!model) {
    rc = cli_fail(cmd, &err);
    goto out;
  }
  const l1k_model_config *cfg = l1k_model_cfg(model);
  if (l1k_tokenizer_vocab_size(tok) > cfg->vocab_size)
    l1k_warn("tokenizer has %d ids but the model's vocabulary is %d: prompts with higher ids are refused",
             (int)l1k_tokenizer_vocab_size(tok), cfg->vocab_size);
  if (max_ctx == 0) {
    long want = (long)longest + o.max_new_tokens;
    if (want < 2) want = 2;
    if (cfg->max_position_embeddings > 0 && want > cfg->max_position_embeddings) want = cfg->max_position_embeddings;
    max_ctx = (int)want;
  }
  if (batch == 0) batch = prompt ? 1 : 8;
  if (batch > n_jobs && n_jobs > 0) batch = n_jobs;
  g = l1k_generator_create(model, batch, max_ctx, &err);
  if (!g) {
    rc = cli_fail(cmd, &err);
    goto out;
  }
  if (!quiet)
    l1k_info("model %s: %s, %zu parameters, loaded in %.2fs; batch %d, context %d (KV cache %.1f MiB)", model_dir,
             cfg->model_type, l1k_model_num_params(model), l1k_now() - t_load, batch, max_ctx,
             l1k_generator_cache_bytes(g) / 1048576.0);

  prompts = l1k_calloc((size_t)n_jobs, sizeof *prompts, NULL);
  res = l1k_calloc((size_t)n_jobs, sizeof *res, NULL);
  if (!prompts || !res) goto oom;
  for (int i = 0; i < n_jobs; i++) {
    prompts[i].ids = jobs[i].ids.data;
    prompts[i].n = (int)jobs[i].ids.len;
  }
  l1k_gen_opts_use_tokenizer(&o, tok);
  o.stop = (const char *const *)stops;
  o.n_stop = n_stop;

  cli_state st = {.stream_stdout = prompt != NULL && output == NULL, .quiet = quiet};
  if (!quiet && !st.stream_stdout) l1k_progress_begin(&st.prog, "generate", n_jobs);
  double t0 = l1k_now();
  int grc = l1k_generate(g, prompts, n_jobs, &o, res, on_token, &st, &err);
  double dt = l1k_now() - t0;
  if (!quiet && !st.stream_stdout) l1k_progress_end(&st.prog);
  if (grc) {
    rc = cli_fail(cmd, &err);
    goto out;
  }
  long long ntok = 0, nprompt = 0;
  for (int i = 0; i < n_jobs; i++) {
    ntok += res[i].n_ids;
    nprompt += res[i].prompt_tokens;
  }

  /* results */
  if (!st.stream_stdout) {
    l1k_buf b = {0};
    for (int i = 0; i < n_jobs; i++) {
      cJSON *rec = jobs[i].rec ? jobs[i].rec : cJSON_CreateObject();
      if (!jobs[i].rec) {
        cJSON_AddStringToObject(rec, "prompt", prompt);
        jobs[i].rec = rec;
      }
      cJSON_DeleteItemFromObjectCaseSensitive(rec, "completion");
      cJSON_DeleteItemFromObjectCaseSensitive(rec, "completion_tokens");
      cJSON_DeleteItemFromObjectCaseSensitive(rec, "prompt_tokens");
      cJSON_DeleteItemFromObjectCaseSensitive(rec, "finish_reason");
      cJSON_DeleteItemFromObjectCaseSensitive(rec, "stop");
      char *js = cJSON_PrintUnformatted(rec);
      if (!js) goto oom;
      size_t jl = strlen(js);
      /* the record without its closing brace, then our fields (the completion escaped by
       * l1k_buf_json_string so that any bytes are kept) */
      l1k_buf_append(&b, js, jl - 1);
      l1k_buf_puts(&b, jl > 2 ? ",\"completion\":" : "\"completion\":");
      free(js);
      l1k_buf_json_string(&b, res[i].text ? res[i].text : "", res[i].text_len);
      l1k_buf_printf(&b, ",\"completion_tokens\":%d,\"prompt_tokens\":%d,\"finish_reason\":\"%s\"", res[i].n_ids,
                     res[i].prompt_tokens, l1k_finish_name(res[i].finish));
      if (res[i].stop_hit) {
        l1k_buf_puts(&b, ",\"stop\":");
        l1k_buf_json_string(&b, res[i].stop_hit, strlen(res[i].stop_hit));
      }
      l1k_buf_puts(&b, "}\n");
    }
    if (!b.data && n_jobs > 0) goto oom;
    if (output && strcmp(output, "-") != 0) {
      if (l1k_write_file_atomic(output, b.data ? b.data : "", b.len, &err)) {
        l1k_buf_free(&b);
        rc = cli_fail(cmd, &err);
        goto out;
      }
    } else if (b.len) {
      fwrite(b.data, 1, b.len, stdout);
      fflush(stdout);
    }
    l1k_buf_free(&b);
  }
  if (!quiet) {
    const char *fr = n_jobs == 1 ? l1k_finish_name(res[0].finish) : NULL;
    fprintf(stderr, "long1k generate: %d prompt%s, %lld prompt tokens, %lld new tokens in %.2fs (%.1f tokens/s)%s%s\n",
            n_jobs, n_jobs == 1 ? "" : "s", nprompt, ntok, dt, dt > 0 ? ntok / dt : 0.0, fr ? ", finish: " : "",
            fr ? fr : "");
  }
  goto out;

oom:
  fprintf(stderr, "long1k generate: out of memory\n");
  rc = 1;
out:
  if (res) l1k_gen_results_free(res, n_jobs);
  free(res);
  free(prompts);
  for (int i = 0; i < n_jobs; i++) {
    cJSON_Delete(jobs[i].rec);
    l1k_ids_free(&jobs[i].ids);
  }
  free(jobs);
  if (rd) l1k_jsonl_close(rd);
  for (int k = 0; k < n_stop; k++) free(stops[k]);
  free(stops);
  free(sys_text);
  l1k_generator_free(g);
  l1k_model_free(model);
  l1k_tokenizer_free(tok);
  return rc;
}
