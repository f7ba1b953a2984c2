/* long1k eval — run a benchmark against an OpenAI-compatible server (or, later, our engine),
 * grade every sample, optionally ask a judge model, and summarize (see long1k/eval.h). */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "long1k/eval.h"
#include "long1k/io.h"
#include "long1k/log.h"

static volatile sig_atomic_t g_stop = 0;
static void on_signal(int sig) {
  (void)sig;
  g_stop = 1;
}

static void usage(FILE *f) {
  fprintf(f,
"usage: long1k eval (--benchmark NAME | --data FILE) (--endpoint URL --model-name NAME | --model DIR)\n"
"                   --out DIR [options]\n"
"\n"
"Generates n samples per problem, grades each (answer extraction + math equivalence, or the\n"
"letter for multiple choice), optionally asks a judge model, and writes DIR/results.jsonl\n"
"(one line per sample), DIR/summary.json and a table. Rerunning the same command resumes:\n"
"samples already in results.jsonl are not requested again.\n"
"\n"
"data:\n"
"  --benchmark NAME         math500 | aime24 | aime25 | amc23 (shipped with long1k)\n"
"  --data FILE              any JSONL (.gz too) with a problem and an answer per line\n"
"  --problem-field F        default problem (falls back to question / Question)\n"
"  --answer-field F         default answer (strings or numbers)\n"
"  --id-field F             default id (falls back to unique_id, then the line's index)\n"
"  --limit N                only the first N problems\n"
"multiple choice (answers graded as letters A-E):\n"
"  --gpqa                   GPQA-Diamond fields: Question, Correct Answer, Incorrect Answer 1-3\n"
"  --correct-field F        the correct option's text ...\n"
"  --incorrect-fields F,..  ... and the wrong ones'; options are shuffled with --shuffle-seed\n"
"  --choices-field F        or: an array of options, the answer a letter / 0-based index / text\n"
"  --shuffle-seed N         default 0 (the order depends only on the seed and the problem id)\n"
"model:\n"
"  --endpoint URL           OpenAI-compatible server, e.g. http://127.0.0.1:8000 (/v1/chat/completions\n"
"                           is appended; a URL ending in /completions is used as is)\n"
"  --model-name NAME        the model field of each request\n"
"  --completions            use /v1/completions (prompt = system + \"\\n\\n\" + user text)\n"
"  --api-key KEY            bearer token (default: $OPENAI_API_KEY when set)\n"
"  --model DIR              generate with long1k's own engine (CPU or GPU, KV cache, continuous\n"
"                           batching) from a Hugging Face model directory; the prompt goes\n"
"                           through the model's chat template (raw with --completions)\n"
"  --tokenizer PATH         local: tokenizer.json or its directory (default: the model's)\n"
"  --chat-template NAME     local: a template name (qwen, qwen3, llama3, mistral, ...) or a .jinja\n"
"                           file (default: the model's own template)\n"
"  --batch N                local: sequences decoded together (default 8 on the cpu, 128 on cuda)\n"
"  --adapter DIR            local: a PEFT LoRA adapter on top of --model (merged in memory at\n"
"                           load; nothing written)\n"
"  --device NAME            local: cpu | cuda | auto (default auto: cuda when a GPU and the CUDA\n"
"                           backend are present); cuda: paged KV cache from free GPU memory\n"
"                           ($LONG1K_KV_MIB sets it), batched prefill and decode\n"
"  --precision P            local, cuda: bf16 (default) | fp32\n"
"prompt and sampling:\n"
"  --prompt-template T      boxed (default; system: \"Please reason step by step, and put your\n"
"                           final answer within \\boxed{}.\"), boxed-user, long1k, mc (default for\n"
"                           multiple choice), plain, or a file: JSON {\"system\",\"user\"} or the\n"
"                           user text; {problem} and {choices} are filled in\n"
"  --n N                    samples per problem (default 1)\n"
"  --temperature T          default 0.6\n"
"  --top-p P                default 0.95\n"
"  --max-tokens N           default 32768 (0: leave it to the server / the model's context)\n"
"  --seed N                 default 0; sample i of problem p gets a seed derived from (N, p, i)\n"
"                           (local: the random stream (N, p * n + i))\n"
"  --extra-body JSON        merged into every request, e.g. '{\"top_k\": 20}'\n"
"client:\n"
"  --concurrency N          requests in flight (default 8)\n"
"  --retries N              retries on 429/5xx/connection errors/timeouts/malformed replies (6)\n"
"  --timeout S              per request, seconds (default 1800)\n"
"  --backoff S              first retry wait, doubled each time (default 1; Retry-After wins)\n"
"  --backoff-max S          cap of the exponential wait (default 60)\n"
"judge (the paper's protocol: a model compares the response's last lines with the reference):\n"
"  --judge-endpoint URL     OpenAI-compatible server of the judge\n"
"  --judge-model NAME\n"
"  --judge-prompt FILE      prompt with {problem}, {reference}, {response_tail}\n"
"  --judge-lines N          lines of the response's tail shown to the judge (default 5)\n"
"  --judge-max-tokens N     default 1024\n"
"  --judge-api-key KEY      default: --api-key\n"
"output:\n"
"  --out DIR                results.jsonl, errors.jsonl, run.json, summary.json\n"
"  --summary-only           recompute summary.json and the table from DIR, no requests\n"
"  -q, --quiet              no progress bar or table\n"
"  -h, --help\n"
"\n"
"Exit status: 0 done; 1 some samples failed after retries (errors.jsonl; rerun to retry) or\n"
"an internal error; 2 bad input; 130 interrupted (rerun to resume).\n");
}

static int parse_long(const char *cmd, const char *opt, const char *s, long lo, long *out) {
  char *e;
  errno = 0;
  long v = strtol(s, &e, 10);
  if (errno || e == s || *e || v < lo)
    return cli_usage_error(cmd, "%s: expected an integer >= %ld, got '%s'", opt, lo, s);
  *out = v;
  return 0;
}

static int parse_double(const char *cmd, const char *opt, const char *s, double lo, double hi,
                        double *out) {
  char *e;
  errno = 0;
  double v = strtod(s, &e);
  if (errno || e == s || *e || !(v >= lo && v <= hi))
    return cli_usage_error(cmd, "%s: expected a number in [%g, %g], got '%s'", opt, lo, hi, s);
  *out = v;
  return 0;
}

enum {
  O_BENCH = 256, O_DATA, O_PFIELD, O_AFIELD, O_IDFIELD, O_LIMIT, O_GPQA, O_CORRECT, O_INCORRECT,
  O_CHOICES, O_SHUFFLE, O_ENDPOINT, O_MNAME, O_COMPL, O_APIKEY, O_MODEL, O_TEMPLATE, O_N, O_TEMP,
  O_TOPP, O_MAXTOK, O_SEED, O_EXTRA, O_CONC, O_RETRIES, O_TIMEOUT, O_BACKOFF, O_BACKOFFMAX,
  O_JEND, O_JMODEL, O_JPROMPT, O_JLINES, O_JMAXTOK, O_JKEY, O_OUT, O_SUMONLY, O_TOKENIZER,
  O_CHATTMPL, O_BATCH, O_DEVICE, O_ADAPTER, O_PRECISION
};

int cmd_eval(int argc, char **argv) {
  const char *cmd = "eval";
  static const struct option opts[] = {
      {"benchmark", required_argument, 0, O_BENCH},
      {"data", required_argument, 0, O_DATA},
      {"problem-field", required_argument, 0, O_PFIELD},
      {"answer-field", required_argument, 0, O_AFIELD},
      {"id-field", required_argument, 0, O_IDFIELD},
      {"limit", required_argument, 0, O_LIMIT},
      {"gpqa", no_argument, 0, O_GPQA},
      {"correct-field", required_argument, 0, O_CORRECT},
      {"incorrect-fields", required_argument, 0, O_INCORRECT},
      {"choices-field", required_argument, 0, O_CHOICES},
      {"shuffle-seed", required_argument, 0, O_SHUFFLE},
      {"endpoint", required_argument, 0, O_ENDPOINT},
      {"model-name", required_argument, 0, O_MNAME},
      {"completions", no_argument, 0, O_COMPL},
      {"api-key", required_argument, 0, O_APIKEY},
      {"model", required_argument, 0, O_MODEL},
      {"tokenizer", required_argument, 0, O_TOKENIZER},
      {"chat-template", required_argument, 0, O_CHATTMPL},
      {"batch", required_argument, 0, O_BATCH},
      {"device", required_argument, 0, O_DEVICE},
      {"adapter", required_argument, 0, O_ADAPTER},
      {"precision", required_argument, 0, O_PRECISION},
      {"prompt-template", required_argument, 0, O_TEMPLATE},
      {"n", required_argument, 0, O_N},
      {"temperature", required_argument, 0, O_TEMP},
      {"top-p", required_argument, 0, O_TOPP},
      {"max-tokens", required_argument, 0, O_MAXTOK},
      {"seed", required_argument, 0, O_SEED},
      {"extra-body", required_argument, 0, O_EXTRA},
      {"concurrency", required_argument, 0, O_CONC},
      {"retries", required_argument, 0, O_RETRIES},
      {"timeout", required_argument, 0, O_TIMEOUT},
      {"backoff", required_argument, 0, O_BACKOFF},
      {"backoff-max", required_argument, 0, O_BACKOFFMAX},
      {"judge-endpoint", required_argument, 0, O_JEND},
      {"judge-model", required_argument, 0, O_JMODEL},
      {"judge-prompt", required_argument, 0, O_JPROMPT},
      {"judge-lines", required_argument, 0, O_JLINES},
      {"judge-max-tokens", required_argument, 0, O_JMAXTOK},
      {"judge-api-key", required_argument, 0, O_JKEY},
      {"out", required_argument, 0, O_OUT},
      {"summary-only", no_argument, 0, O_SUMONLY},
      {"quiet", no_argument, 0, 'q'},
      {"help", no_argument, 0, 'h'},
      {0, 0, 0, 0}};
  l1k_eval_config c;
  l1k_eval_config_default(&c);
  const char *model_dir = NULL, *api_key = NULL, *device = NULL;
  int summary_only = 0, rc;
  long v;
  double d;
  optind = 1;
  opterr = 0;
  int o;
  while ((o = getopt_long(argc, argv, ":qh", opts, NULL)) != -1) {
    switch (o) {
      case O_BENCH: c.benchmark = optarg; break;
      case O_DATA: c.data_path = optarg; break;
      case O_PFIELD: c.data.problem_field = optarg; break;
      case O_AFIELD: c.data.answer_field = optarg; break;
      case O_IDFIELD: c.data.id_field = optarg; break;
      case O_LIMIT:
        if ((rc = parse_long(cmd, "--limit", optarg, 1, &v))) return rc;
        c.data.limit = v;
        break;
      case O_GPQA:
        c.data.problem_field = "Question";
        c.data.correct_field = "Correct Answer";
        c.data.incorrect_fields = "Incorrect Answer 1,Incorrect Answer 2,Incorrect Answer 3";
        break;
      case O_CORRECT: c.data.correct_field = optarg; break;
      case O_INCORRECT: c.data.incorrect_fields = optarg; break;
      case O_CHOICES: c.data.choices_field = optarg; break;
      case O_SHUFFLE:
        if ((rc = parse_long(cmd, "--shuffle-seed", optarg, 0, &v))) return rc;
        c.data.shuffle_seed = (uint64_t)v;
        break;
      case O_ENDPOINT: c.endpoint = optarg; break;
      case O_MNAME: c.model_name = optarg; break;
      case O_COMPL: c.completions = 1; break;
      case O_APIKEY: api_key = optarg; break;
      case O_MODEL: model_dir = optarg; break;
      case O_DEVICE: device = optarg; break;
      case O_ADAPTER: c.adapter_dir = optarg; break;
      case O_PRECISION:
        if (cli_parse_precision(optarg, &c.precision))
          return cli_usage_error(cmd, "--precision %s: expected auto, fp32 or bf16", optarg);
        break;
      case O_TOKENIZER: c.tokenizer_path = optarg; break;
      case O_CHATTMPL: c.chat_template = optarg; break;
      case O_BATCH:
        if ((rc = parse_long(cmd, "--batch", optarg, 1, &v))) return rc;
        if (v > 1024) return cli_usage_error(cmd, "--batch: at most 1024");
        c.batch = (int)v;
        break;
      case O_TEMPLATE: c.template_spec = optarg; break;
      case O_N:
        if ((rc = parse_long(cmd, "--n", optarg, 1, &v))) return rc;
        if (v > 100000) return cli_usage_error(cmd, "--n: at most 100000");
        c.n = (int)v;
        break;
      case O_TEMP:
        if ((rc = parse_double(cmd, "--temperature", optarg, 0, 100, &c.temperature))) return rc;
        break;
      case O_TOPP:
        if ((rc = parse_double(cmd, "--top-p", optarg, 0, 1, &c.top_p))) return rc;
        break;
      case O_MAXTOK:
        if ((rc = parse_long(cmd, "--max-tokens", optarg, 0, &v))) return rc;
        c.max_tokens = v;
        break;
      case O_SEED:
        if ((rc = parse_long(cmd, "--seed", optarg, 0, &v))) return rc;
        c.seed = v;
        break;
      case O_EXTRA: c.extra_body = optarg; break;
      case O_CONC:
        if ((rc = parse_long(cmd, "--concurrency", optarg, 1, &v))) return rc;
        if (v > 4096) return cli_usage_error(cmd, "--concurrency: at most 4096");
        c.http.concurrency = (int)v;
        break;
      case O_RETRIES:
        if ((rc = parse_long(cmd, "--retries", optarg, 0, &v))) return rc;
        if (v > 100) return cli_usage_error(cmd, "--retries: at most 100");
        c.http.max_retries = (int)v;
        break;
      case O_TIMEOUT:
        if ((rc = parse_double(cmd, "--timeout", optarg, 0.001, 1e6, &c.http.timeout_s))) return rc;
        break;
      case O_BACKOFF:
        if ((rc = parse_double(cmd, "--backoff", optarg, 0, 3600, &c.http.backoff_s))) return rc;
        break;
      case O_BACKOFFMAX:
        if ((rc = parse_double(cmd, "--backoff-max", optarg, 0, 86400, &d))) return rc;
        c.http.backoff_max_s = d;
        break;
      case O_JEND: c.judge_endpoint = optarg; break;
      case O_JMODEL: c.judge_model = optarg; break;
      case O_JPROMPT: c.judge_prompt_file = optarg; break;
      case O_JLINES:
        if ((rc = parse_long(cmd, "--judge-lines", optarg, 1, &v))) return rc;
        c.judge_lines = (int)(v > 1000 ? 1000 : v);
        break;
      case O_JMAXTOK:
        if ((rc = parse_long(cmd, "--judge-max-tokens", optarg, 0, &v))) return rc;
        c.judge_max_tokens = v;
        break;
      case O_JKEY: c.judge_api_key = optarg; break;
      case O_OUT: c.out_dir = optarg; break;
      case O_SUMONLY: summary_only = 1; break;
      case 'q': c.quiet = 1; break;
      case 'h': usage(stdout); return 0;
      case ':': return cli_usage_error(cmd, "option %s needs a value", argv[optind - 1]);
      default: return cli_usage_error(cmd, "unknown option '%s'", argv[optind - 1]);
    }
  }
  if (optind < argc) return cli_usage_error(cmd, "unexpected argument '%s'", argv[optind]);
  if (!c.out_dir) return cli_usage_error(cmd, "--out DIR is required");
  if (summary_only) {
    char *rp = l1k_path_join(c.out_dir, "run.json");
    l1k_err err = {0};
    size_t len;
    char *t = rp ? l1k_read_file(rp, &len, &err) : NULL;
    free(rp);
    if (!t) return cli_fail(cmd, &err);
    cJSON *info = cJSON_ParseWithLength(t, len);
    free(t);
    const cJSON *np = cJSON_GetObjectItemCaseSensitive(info, "problems");
    const cJSON *nn = cJSON_GetObjectItemCaseSensitive(info, "n");
    if (!cJSON_IsNumber(np) || !cJSON_IsNumber(nn) || np->valuedouble < 1 || nn->valuedouble < 1) {
      cJSON_Delete(info);
      l1k_errf(&err, L1K_EINPUT, "%s/run.json: fields 'problems' and 'n': expected positive numbers",
               c.out_dir);
      return cli_fail(cmd, &err);
    }
    rc = l1k_eval_summarize(c.out_dir, (size_t)np->valuedouble, (int)nn->valuedouble, info,
                            c.quiet ? NULL : stdout, &err);
    cJSON_Delete(info);
    return rc ? cli_fail(cmd, &err) : 0;
  }
  if (!!c.benchmark + !!c.data_path != 1)
    return cli_usage_error(cmd, "give exactly one of --benchmark NAME and --data FILE");
  char *bench_path = NULL;
  if (c.benchmark) {
    static const char *known[] = {"math500", "aime24", "aime25", "amc23"};
    int ok = 0;
    for (size_t i = 0; i < 4; i++) ok |= !strcmp(c.benchmark, known[i]);
    if (!ok)
      return cli_usage_error(cmd, "--benchmark '%s': expected math500, aime24, aime25 or amc23 "
                                  "(other data: --data FILE)", c.benchmark);
    size_t n = strlen(cli_data_dir()) + strlen(c.benchmark) + 32;
    bench_path = l1k_malloc(n, NULL);
    if (!bench_path) return 1;
    snprintf(bench_path, n, "%s/benchmarks/%s.jsonl", cli_data_dir(), c.benchmark);
    if (!l1k_file_exists(bench_path)) {
      fprintf(stderr, "long1k eval: %s: benchmark file not found (set LONG1K_DATA to the data "
                      "directory)\n", bench_path);
      free(bench_path);
      return 2;
    }
    c.data_path = bench_path;
  }
  if (c.data.correct_field && !c.data.incorrect_fields) {
    free(bench_path);
    return cli_usage_error(cmd, "--correct-field needs --incorrect-fields");
  }
  if (model_dir) {
    if (c.endpoint) {
      free(bench_path);
      return cli_usage_error(cmd, "give either --model DIR or --endpoint URL, not both");
    }
    if (!l1k_is_dir(model_dir)) {
      free(bench_path);
      fprintf(stderr, "long1k eval: --model %s: not a directory (expected a Hugging Face model "
                      "directory with config.json and model.safetensors)\n", model_dir);
      return 2;
    }
    l1k_err derr = {0};
    if (cli_generation_device(device ? device : "auto", &derr)) {
      free(bench_path);
      return cli_fail(cmd, &derr);
    }
    c.model_dir = model_dir;
    c.device = device ? device : "auto";
  } else if (device || c.adapter_dir) {
    free(bench_path);
    return cli_usage_error(cmd, "%s applies to a local --model only",
                           device ? "--device" : "--adapter");
  } else if (!c.endpoint || !c.model_name) {
    free(bench_path);
    return cli_usage_error(cmd, "--endpoint URL and --model-name NAME (or --model DIR) are required");
  }
  if (!!c.judge_endpoint != !!c.judge_model) {
    free(bench_path);
    return cli_usage_error(cmd, "--judge-endpoint and --judge-model go together");
  }
  if (!api_key) {
    const char *e = getenv("OPENAI_API_KEY");
    if (e && *e) api_key = e;
  }
  c.http.api_key = api_key;
  if (!c.judge_api_key) c.judge_api_key = api_key;

  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  struct sigaction old_int, old_term;
  sigaction(SIGINT, &sa, &old_int);
  sigaction(SIGTERM, &sa, &old_term);
  c.stop = &g_stop;

  l1k_err err = {0};
  l1k_eval_outcome out;
  rc = l1k_eval_run(&c, &out, &err);
  sigaction(SIGINT, &old_int, NULL);
  sigaction(SIGTERM, &old_term, NULL);
  free(bench_path);
  if (rc) return cli_fail(cmd, &err);
  if (out.interrupted) {
    fprintf(stderr,
            "long1k eval: interrupted; the finished samples are in %s/results.jsonl (rerun the "
            "same command to resume)\n",
            c.out_dir);
    return 130;
  }
  if (out.samples_failed) {
    fprintf(stderr,
            "long1k eval: %lld samples failed after retries (see %s/errors.jsonl); rerun the "
            "same command to retry them\n",
            (long long)out.samples_failed, c.out_dir);
    return 1;
  }
  return 0;
}
