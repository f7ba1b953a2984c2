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
#include "long1k/adapter.h"
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
    "or sharded, tokenizer.json) on the CPU or a GPU (--device): prompts are prefilled, then decoded one token per\n"
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
    "      --template NAME     chat template: a name (qwen, qwen3, llama3, deepseekr1, mistral,\n"
    "                          phi4, gemma3, ...) or a .jinja file (default: the model's own)\n"
    "      --no-think          enable_thinking = false (Qwen3's template)\n"
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
    "  -b, --batch N           prompts decoded together (default 8 on the cpu, 128 on cuda; 1\n"
    "                          with --prompt)\n"
    "      --max-context N     KV cache positions per prompt (default: longest prompt +\n"
    "                          max-new-tokens, at most the model's max_position_embeddings)\n"
    "      --threads N         CPU threads (default: all)\n"
    "      --adapter DIR       a PEFT LoRA adapter (adapter_config.json + adapter_model.safetensors,\n"
    "                          e.g. a LoRA checkpoint of long1k train) on top of --model; merged\n"
    "                          into the weights in memory at load (nothing written)\n"
    "      --device NAME       cpu | cuda | auto (default auto: cuda when a GPU and the CUDA\n"
    "                          backend are present, else cpu). On cuda: a paged KV cache sized\n"
    "                          from free GPU memory ($LONG1K_KV_MIB sets it), prefill of many\n"
    "                          prompts at once, batched decode; the same sampler, so a seed\n"
    "                          gives the same text at any batch size (docs/generate.md)\n"
    "      --precision P       on cuda: bf16 (default: bf16 weights, products and KV cache,\n"
    "                          float32 accumulation) | fp32 (the float32 parity mode)\n"
    "  -q, --quiet             no progress or statistics on stderr\n"
    "  -h, --help              this text\n"
    "\n"
    "Stops: the model's EOS ids (config.json and generation_config.json), a stop string,\n"
    "max-new-tokens, or the context. completion_tokens counts generated ids including the EOS id.\n"
    "Bad input (a record without \"prompt\"/\"messages\", a malformed option) stops with the file,\n"
    "line and field, exit code 2.\n";

enum { OPT_TOPK = 256, OPT_TOPP, OPT_MINP, OPT_STOP, OPT_IGNORE_EOS, OPT_CTX, OPT_THREADS, OPT_CHAT,
       OPT_SYSTEM, OPT_TEMPLATE, OPT_NOTHINK, OPT_TOKENIZER, OPT_DEVICE, OPT_PRECISION,
       OPT_ADAPTER };

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

/* the command line */
typedef struct gen_args {
  const char *model_dir, *prompt, *input, *output, *system_msg, *template_name, *tok_path;
  const char *device;  /* cpu | cuda | auto */
  int precision;       /* l1k_device_precision (cuda) */
  const char *adapter; /* PEFT LoRA dir, merged in memory at load */
  int chat, no_think, quiet, batch, max_ctx, threads;
  l1k_gen_opts o;
  char **stops;
  int n_stop;
} gen_args;

static const char *cmd = "generate";

static int oom(void) {
  fprintf(stderr, "long1k generate: out of memory\n");
  return 1;
}

/* every option, parsed and checked; -1 when the run goes on, else the exit code */
static int parse_args(gen_args *a, int argc, char **argv) {
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
      {"device", required_argument, 0, OPT_DEVICE},
      {"precision", required_argument, 0, OPT_PRECISION},
      {"adapter", required_argument, 0, OPT_ADAPTER},
      {"quiet", no_argument, 0, 'q'},
      {"help", no_argument, 0, 'h'},
      {0, 0, 0, 0}};
  memset(a, 0, sizeof *a);
  a->device = "auto";
  l1k_gen_opts_default(&a->o);
  long lv;
  double dv;
  optind = 1;
  int c;
  while ((c = getopt_long(argc, argv, "m:p:i:o:n:t:s:b:qh", longopts, NULL)) != -1) {
    switch (c) {
      case 'm': a->model_dir = optarg; break;
      case 'p': a->prompt = optarg; break;
      case 'i': a->input = optarg; break;
      case 'o': a->output = optarg; break;
      case OPT_CHAT: a->chat = 1; break;
      case OPT_SYSTEM: a->system_msg = optarg; break;
      case OPT_TEMPLATE: a->template_name = optarg; a->chat = 1; break;
      case OPT_NOTHINK: a->no_think = 1; break;
      case OPT_TOKENIZER: a->tok_path = optarg; break;
      case 'n':
        if (parse_int(optarg, 0, 1 << 30, &lv)) return cli_usage_error(cmd, "--max-new-tokens: expected an integer >= 0, got '%s'", optarg);
        a->o.max_new_tokens = (int)lv;
        break;
      case 't':
        if (parse_float(optarg, 0, 1e6, &dv)) return cli_usage_error(cmd, "--temperature: expected a number >= 0, got '%s'", optarg);
        a->o.temperature = (float)dv;
        break;
      case OPT_TOPK:
        if (parse_int(optarg, 0, 1 << 30, &lv)) return cli_usage_error(cmd, "--top-k: expected an integer >= 0, got '%s'", optarg);
        a->o.top_k = (int)lv;
        break;
      case OPT_TOPP:
        if (parse_float(optarg, 1e-9, 1, &dv)) return cli_usage_error(cmd, "--top-p: expected a number in (0, 1], got '%s'", optarg);
        a->o.top_p = (float)dv;
        break;
      case OPT_MINP:
        if (parse_float(optarg, 0, 1, &dv)) return cli_usage_error(cmd, "--min-p: expected a number in [0, 1], got '%s'", optarg);
        a->o.min_p = (float)dv;
        break;
      case 's': {
        char *end;
        errno = 0;
        unsigned long long v = strtoull(optarg, &end, 10);
        if (errno || end == optarg || *end || optarg[0] == '-') return cli_usage_error(cmd, "--seed: expected a non-negative integer, got '%s'", optarg);
        a->o.seed = (uint64_t)v;
        break;
      }
      case OPT_STOP: {
        char **ns = l1k_realloc(a->stops, (size_t)(a->n_stop + 1) * sizeof *ns, NULL);
        if (!ns) return oom();
        a->stops = ns;
        a->stops[a->n_stop] = unescape(optarg);
        if (!a->stops[a->n_stop] || !a->stops[a->n_stop][0]) {
          free(a->stops[a->n_stop]); /* the others: freed by the caller */
          return cli_usage_error(cmd, "--stop: expected a non-empty string");
        }
        a->n_stop++;
        break;
      }
      case OPT_IGNORE_EOS: a->o.ignore_eos = 1; break;
      case 'b':
        if (parse_int(optarg, 1, 4096, &lv)) return cli_usage_error(cmd, "--batch: expected an integer in 1..4096, got '%s'", optarg);
        a->batch = (int)lv;
        break;
      case OPT_CTX:
        if (parse_int(optarg, 2, 1 << 24, &lv)) return cli_usage_error(cmd, "--max-context: expected an integer >= 2, got '%s'", optarg);
        a->max_ctx = (int)lv;
        break;
      case OPT_THREADS:
        if (parse_int(optarg, 1, 1024, &lv)) return cli_usage_error(cmd, "--threads: expected an integer in 1..1024, got '%s'", optarg);
        a->threads = (int)lv;
        break;
      case OPT_DEVICE: a->device = optarg; break;
      case OPT_PRECISION:
        if (cli_parse_precision(optarg, &a->precision))
          return cli_usage_error(cmd, "--precision %s: expected auto, fp32 or bf16", optarg);
        break;
      case OPT_ADAPTER: a->adapter = optarg; break;
      case 'q': a->quiet = 1; break;
      case 'h': fputs(GEN_USAGE, stdout); return 0;
      default: return cli_usage_error(cmd, "unknown option");
    }
  }
  if (optind < argc) return cli_usage_error(cmd, "unexpected argument '%s'", argv[optind]);
  if (!a->model_dir) return cli_usage_error(cmd, "--model DIR is required");
  {
    l1k_err derr = {0};
    if (cli_generation_device(a->device, &derr)) return cli_fail(cmd, &derr);
  }
  if (!!a->prompt + !!a->input != 1) return cli_usage_error(cmd, "give exactly one of --prompt TEXT or --input FILE.jsonl");
  {
    l1k_err oe = {0};
    const char *ins[] = {a->input, a->model_dir, a->tok_path};
    if (l1k_output_check(a->output, ins, 3, &oe)) return cli_fail(cmd, &oe);
  }
  return -1;
}

/* what the run holds between its phases */
typedef struct gen_run {
  const gen_args *a;
  l1k_err err;
  l1k_tokenizer *tok;
  l1k_model *model;
  l1k_generator *g;
  job *jobs;
  int n_jobs, cap_jobs, need_tmpl, longest, batch, max_ctx;
  l1k_gen_prompt *prompts;
  l1k_gen_result *res;
  l1k_jsonl *rd;
  char *sys_text;
  l1k_template tmpl;
  cli_state st;
  double seconds;
} gen_run;

static int load_tokenizer(gen_run *R) {
  const gen_args *a = R->a;
  char *tpath = a->tok_path ? l1k_strdup(a->tok_path, NULL) : l1k_path_join(a->model_dir, "tokenizer.json");
  if (!tpath) return oom();
  if (!a->tok_path && !l1k_file_exists(tpath)) {
    free(tpath);
    return cli_usage_error(cmd, "%s: no tokenizer.json in the model directory (give --tokenizer PATH)",
                           a->model_dir);
  }
  R->tok = l1k_tokenizer_load(tpath, &R->err);
  free(tpath);
  return R->tok ? -1 : cli_fail(cmd, &R->err);
}

/* --prompt is one job; --input FILE one per record */
static int read_prompts(gen_run *R) {
  const gen_args *a = R->a;
  R->need_tmpl = a->chat;
  if (a->prompt) {
    R->cap_jobs = 1;
    R->jobs = l1k_calloc(1, sizeof *R->jobs, NULL);
    if (!R->jobs) return oom();
    R->n_jobs = 1;
    return -1;
  }
  R->rd = l1k_jsonl_open(a->input, &R->err);
  if (!R->rd) return cli_fail(cmd, &R->err);
  cJSON *rec;
  int r;
  while ((r = l1k_jsonl_next(R->rd, &rec, &R->err)) == 1) {
    if (!cJSON_IsObject(rec)) {
      l1k_errf(&R->err, L1K_EINPUT, "%s:%lld: expected a JSON object", a->input,
               (long long)l1k_jsonl_line_no(R->rd));
      cJSON_Delete(rec);
      return cli_fail(cmd, &R->err);
    }
    if (R->n_jobs == R->cap_jobs) {
      int nc = R->cap_jobs ? 2 * R->cap_jobs : 64;
      job *nj = l1k_realloc(R->jobs, (size_t)nc * sizeof *nj, NULL);
      if (!nj) {
        cJSON_Delete(rec);
        return oom();
      }
      R->jobs = nj;
      R->cap_jobs = nc;
    }
    memset(&R->jobs[R->n_jobs], 0, sizeof R->jobs[R->n_jobs]);
    R->jobs[R->n_jobs].line = (long long)l1k_jsonl_line_no(R->rd);
    R->jobs[R->n_jobs++].rec = rec;
    if (cJSON_GetObjectItemCaseSensitive(rec, "messages")) R->need_tmpl = 1;
  }
  return r < 0 ? cli_fail(cmd, &R->err) : -1;
}

static int pick_template(gen_run *R) {
  const gen_args *a = R->a;
  if (!R->need_tmpl) return -1;
  int trc = a->template_name ? l1k_chat_template_named(a->template_name,
                                                      a->tok_path ? a->tok_path : a->model_dir,
                                                      &R->tmpl, &R->err)
                             : l1k_chat_template_detect(a->tok_path ? a->tok_path : a->model_dir,
                                                        &R->tmpl, &R->err);
  if (!trc) return -1;
  if (!a->template_name) l1k_err_prefix(&R->err, "chat template (give --template NAME)");
  return cli_fail(cmd, &R->err);
}

/* job i's prompt text: *text (malloc'ed, rendered with the template) or *ptext (borrowed) */
static int prompt_text(gen_run *R, int i, const char *where, char **text, const char **ptext) {
  const gen_args *a = R->a;
  *text = NULL;
  *ptext = NULL;
  if (a->prompt) {
    *ptext = a->prompt;
  } else {
    const cJSON *p = cJSON_GetObjectItemCaseSensitive(R->jobs[i].rec, "prompt");
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(R->jobs[i].rec, "messages");
    if (m) {
      *text = render_messages(m, R->tmpl, a->no_think, where, &R->err);
      return *text ? -1 : cli_fail(cmd, &R->err);
    }
    if (!cJSON_IsString(p))
      return cli_usage_error(cmd, "%s: expected a string field \"prompt\" or an array \"messages\"%s",
                             where, p ? " (\"prompt\" is not a string)" : "");
    *ptext = p->valuestring;
  }
  if (!a->chat) return -1;
  cJSON *msgs = cJSON_CreateArray();
  if (R->sys_text) {
    cJSON *s = cJSON_CreateObject();
    cJSON_AddStringToObject(s, "role", "system");
    cJSON_AddStringToObject(s, "content", R->sys_text);
    cJSON_AddItemToArray(msgs, s);
  }
  cJSON *u = cJSON_CreateObject();
  cJSON_AddStringToObject(u, "role", "user");
  cJSON_AddStringToObject(u, "content", *ptext);
  cJSON_AddItemToArray(msgs, u);
  *text = render_messages(msgs, R->tmpl, a->no_think, where, &R->err);
  cJSON_Delete(msgs);
  return *text ? -1 : cli_fail(cmd, &R->err);
}

static int tokenize_prompts(gen_run *R) {
  const gen_args *a = R->a;
  for (int i = 0; i < R->n_jobs; i++) {
    char where[512];
    if (a->prompt) snprintf(where, sizeof where, "--prompt");
    else snprintf(where, sizeof where, "%s:%lld", a->input, R->jobs[i].line);
    char *text;
    const char *ptext;
    int rc = prompt_text(R, i, where, &text, &ptext);
    if (rc >= 0) return rc;
    const char *src = text ? text : ptext;
    int erc = l1k_tokenizer_encode(R->tok, src, strlen(src), &R->jobs[i].ids, NULL, &R->err);
    free(text);
    if (erc) {
      l1k_err_prefix(&R->err, "%s", where);
      return cli_fail(cmd, &R->err);
    }
    if (R->jobs[i].ids.len == 0) return cli_usage_error(cmd, "%s: the prompt is empty (no tokens)", where);
    if ((int)R->jobs[i].ids.len > R->longest) R->longest = (int)R->jobs[i].ids.len;
  }
  return -1;
}

/* the model, the context and batch sizes, the generator (its KV cache) */
static int load_generator(gen_run *R) {
  const gen_args *a = R->a;
  double t_load = l1k_now();
  R->model = l1k_model_load(a->model_dir, &R->err);
  if (R->model && a->adapter && l1k_model_lora_merge_dir(R->model, a->adapter, &R->err))
    l1k_err_prefix(&R->err, "--adapter");
  if (!R->model || R->err.code) return cli_fail(cmd, &R->err);
  if (cli_generation_attach(R->model, a->device, a->precision, &R->err)) return cli_fail(cmd, &R->err);
  const l1k_model_config *cfg = l1k_model_cfg(R->model);
  if (l1k_tokenizer_vocab_size(R->tok) > cfg->vocab_size)
    l1k_warn("tokenizer has %d ids but the model's vocabulary is %d: prompts with higher ids are refused",
             (int)l1k_tokenizer_vocab_size(R->tok), cfg->vocab_size);
  R->max_ctx = a->max_ctx;
  if (R->max_ctx == 0) {
    long want = (long)R->longest + a->o.max_new_tokens;
    if (want < 2) want = 2;
    if (cfg->max_position_embeddings > 0 && want > cfg->max_position_embeddings) want = cfg->max_position_embeddings;
    R->max_ctx = (int)want;
  }
  R->batch = a->batch ? a->batch : a->prompt ? 1 : strcmp(l1k_model_device(R->model), "cpu") ? 128 : 8;
  if (R->batch > R->n_jobs && R->n_jobs > 0) R->batch = R->n_jobs;
  R->g = l1k_generator_create(R->model, R->batch, R->max_ctx, &R->err);
  if (!R->g) return cli_fail(cmd, &R->err);
  if (!a->quiet) {
    l1k_gen_cache_info ci;
    l1k_generator_cache_info(R->g, &ci);
    l1k_info("model %s: %s, %zu parameters, loaded in %.2fs; device %s; batch %d, context %d "
             "(KV cache %.1f MiB, %s, %d blocks of %d positions)",
             a->model_dir, cfg->model_type, l1k_model_num_params(R->model), l1k_now() - t_load,
             ci.device, R->batch, R->max_ctx, ci.bytes / 1048576.0, ci.dtype, ci.n_blocks,
             ci.block_size);
  }
  return -1;
}

static int run_generation(gen_run *R) {
  const gen_args *a = R->a;
  R->prompts = l1k_calloc((size_t)R->n_jobs, sizeof *R->prompts, NULL);
  R->res = l1k_calloc((size_t)R->n_jobs, sizeof *R->res, NULL);
  if (!R->prompts || !R->res) return oom();
  for (int i = 0; i < R->n_jobs; i++) {
    R->prompts[i].ids = R->jobs[i].ids.data;
    R->prompts[i].n = (int)R->jobs[i].ids.len;
  }
  l1k_gen_opts o = a->o;
  l1k_gen_opts_use_tokenizer(&o, R->tok);
  o.stop = (const char *const *)a->stops;
  o.n_stop = a->n_stop;
  R->st = (cli_state){.stream_stdout = a->prompt != NULL && a->output == NULL, .quiet = a->quiet};
  if (!a->quiet && !R->st.stream_stdout) l1k_progress_begin(&R->st.prog, "generate", R->n_jobs);
  double t0 = l1k_now();
  int grc = l1k_generate(R->g, R->prompts, R->n_jobs, &o, R->res, on_token, &R->st, &R->err);
  R->seconds = l1k_now() - t0;
  if (!a->quiet && !R->st.stream_stdout) l1k_progress_end(&R->st.prog);
  return grc ? cli_fail(cmd, &R->err) : -1;
}

/* job i's record with the completion fields added (any bytes of the completion kept) */
static int result_line(gen_run *R, int i, l1k_buf *b) {
  job *jb = &R->jobs[i];
  const l1k_gen_result *r = &R->res[i];
  if (!jb->rec) {
    jb->rec = cJSON_CreateObject();
    if (!jb->rec) return -1;
    cJSON_AddStringToObject(jb->rec, "prompt", R->a->prompt);
  }
  static const char *ours[] = {"completion", "completion_tokens", "prompt_tokens", "finish_reason", "stop"};
  for (int k = 0; k < 5; k++) cJSON_DeleteItemFromObjectCaseSensitive(jb->rec, ours[k]);
  char *js = cJSON_PrintUnformatted(jb->rec);
  if (!js) return -1;
  size_t jl = strlen(js);
  /* the record without its closing brace, then our fields */
  l1k_buf_append(b, js, jl - 1);
  l1k_buf_puts(b, jl > 2 ? ",\"completion\":" : "\"completion\":");
  free(js);
  l1k_buf_json_string(b, r->text ? r->text : "", r->text_len);
  l1k_buf_printf(b, ",\"completion_tokens\":%d,\"prompt_tokens\":%d,\"finish_reason\":\"%s\"", r->n_ids,
                 r->prompt_tokens, l1k_finish_name(r->finish));
  if (r->stop_hit) {
    l1k_buf_puts(b, ",\"stop\":");
    l1k_buf_json_string(b, r->stop_hit, strlen(r->stop_hit));
  }
  return l1k_buf_puts(b, "}\n") ? -1 : 0;
}

/* JSONL to --output (atomically) or stdout, unless --prompt already streamed to stdout */
static int write_results(gen_run *R) {
  const gen_args *a = R->a;
  if (R->st.stream_stdout) return -1;
  l1k_buf b = {0};
  for (int i = 0; i < R->n_jobs; i++)
    if (result_line(R, i, &b)) {
      l1k_buf_free(&b);
      return oom();
    }
  int rc = -1;
  if (a->output && strcmp(a->output, "-") != 0) {
    if (l1k_write_file_atomic(a->output, b.data ? b.data : "", b.len, &R->err)) rc = cli_fail(cmd, &R->err);
  } else if (b.len) {
    fwrite(b.data, 1, b.len, stdout);
    fflush(stdout);
  }
  l1k_buf_free(&b);
  return rc;
}

static void print_summary(gen_run *R) {
  long long ntok = 0, nprompt = 0;
  for (int i = 0; i < R->n_jobs; i++) {
    ntok += R->res[i].n_ids;
    nprompt += R->res[i].prompt_tokens;
  }
  int n = R->n_jobs;
  double dt = R->seconds;
  const char *fr = n == 1 ? l1k_finish_name(R->res[0].finish) : NULL;
  fprintf(stderr, "long1k generate: %d prompt%s, %lld prompt tokens, %lld new tokens in %.2fs (%.1f tokens/s)%s%s\n",
          n, n == 1 ? "" : "s", nprompt, ntok, dt, dt > 0 ? ntok / dt : 0.0, fr ? ", finish: " : "",
          fr ? fr : "");
}

static void gen_run_free(gen_run *R, gen_args *a) {
  if (R->res) l1k_gen_results_free(R->res, R->n_jobs);
  free(R->res);
  free(R->prompts);
  for (int i = 0; i < R->n_jobs; i++) {
    cJSON_Delete(R->jobs[i].rec);
    l1k_ids_free(&R->jobs[i].ids);
  }
  free(R->jobs);
  if (R->rd) l1k_jsonl_close(R->rd);
  for (int k = 0; k < a->n_stop; k++) free(a->stops[k]);
  free(a->stops);
  free(R->sys_text);
  l1k_chat_template_free(R->tmpl);
  l1k_generator_free(R->g);
  l1k_model_free(R->model);
  l1k_tokenizer_free(R->tok);
}

int cmd_generate(int argc, char **argv) {
  gen_args A;
  int rc = parse_args(&A, argc, argv);
  if (rc >= 0) {
    for (int k = 0; k < A.n_stop; k++) free(A.stops[k]);
    free(A.stops);
    return rc;
  }
  if (A.threads > 0) {
#ifdef _OPENMP
    omp_set_num_threads(A.threads);
#endif
    openblas_set_num_threads(A.threads);
  }
  if (!A.quiet) l1k_log_set_level(L1K_LOG_INFO);
  gen_run R;
  memset(&R, 0, sizeof R);
  R.a = &A;
  R.tmpl = L1K_TMPL_NONE;
  R.sys_text = A.system_msg ? unescape(A.system_msg) : NULL;
  if (A.system_msg && !R.sys_text) rc = oom();
  if (rc < 0) rc = load_tokenizer(&R);
  if (rc < 0) rc = read_prompts(&R);
  if (rc < 0) rc = pick_template(&R);
  if (rc < 0) rc = tokenize_prompts(&R);
  if (rc < 0) rc = load_generator(&R);
  if (rc < 0) rc = run_generation(&R);
  if (rc < 0) rc = write_results(&R);
  if (rc < 0) {
    if (!A.quiet) print_summary(&R);
    rc = 0;
  }
  gen_run_free(&R, &A);
  return rc;
}
