/* long1k plan — GPU memory of a training run, planned before there is a GPU (memplan.h). */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "long1k/io.h"
#include "long1k/jsonl.h"
#include "long1k/memplan.h"
#include "long1k/model.h"

#define GIB (1024.0 * 1024.0 * 1024.0)
#define H200_MEM "143771MiB" /* an H200's memory as nvidia-smi reports it */

static const char *PLAN_USAGE =
    "usage: long1k plan --config DIR|FILE|PRESET [--seq T] [options]\n"
    "\n"
    "Plans the GPU memory of `long1k train` on the CUDA backend for one model and sequence\n"
    "length: weights, gradients, optimizer state, activations at T tokens per micro-batch,\n"
    "the fused lm_head + cross-entropy chunk and the cuBLASLt workspace; and the largest T\n"
    "that fits. Planned, not measured: docs/gpu-memory.md lists every tensor it counts.\n"
    "\n"
    "options:\n"
    "  -c, --config X      config.json, a model directory, or a shipped preset name\n"
    "                      (qwen2.5-7b-instruct, qwen3-0.6b, llama-3.2-1b, ...)\n"
    "  -s, --seq T         tokens per micro-batch (32768, 32k); default: the largest that fits\n"
    "      --gpu-mem SIZE  device memory (141GiB, 80GB, ...; default " H200_MEM ", an H200)\n"
    "      --reserve SIZE  kept back for the CUDA context, NCCL and the allocator (default 1GiB)\n"
    "      --precision P   bf16 (bf16 working weights and activations; float32 gradients,\n"
    "                      master weights and AdamW moments; the default) or f32\n"
    "      --recompute     per-layer activation recomputation (gradient_checkpointing: true)\n"
    "      --offload       float32 master weights and moments in host memory (optim_offload;\n"
    "                      bf16 on one rank: no float32 weights on the GPU but the embedding\n"
    "                      and the norms / biases)\n"
    "      --zero N        0 (default), 1 (optimizer state sharded) or 2 (gradients too)\n"
    "      --world N       data-parallel ranks (default 1)\n"
    "      --chunk ROWS    lm_head + cross-entropy rows per chunk (default 4096)\n"
    "      --json          one JSON object instead of the table\n"
    "  -h, --help          this text\n"
    "\n"
    "Exit status: 0 when the plan fits, 2 when it does not (one line on stderr naming the\n"
    "largest T that fits) or on bad options.\n"
    "\n"
    "example:\n"
    "  long1k plan --config qwen2.5-1.5b-instruct --seq 32k --recompute\n";

typedef struct plan_args {
  const char *config;
  int64_t T;                /* 0 = the largest that fits */
  uint64_t gpu_mem, reserve;
  l1k_memplan_opts o;
  int json;
} plan_args;

/* One line on stderr, exit 2. */
static int bad(const char *fmt, const char *a) {
  fprintf(stderr, "long1k plan: ");
  fprintf(stderr, fmt, a);
  fprintf(stderr, " (see 'long1k plan --help')\n");
  return 2;
}

/* A path (file or directory) as given, else a preset in the data directory. */
static int load_config(const char *x, l1k_model_config *cfg, l1k_err *err) {
  if (l1k_is_dir(x)) return l1k_config_load(x, cfg, err);
  if (l1k_file_exists(x)) return l1k_config_load_file(x, cfg, err);
  if (!strchr(x, '/')) {
    char path[4096];
    const char *suffix[2] = {".json", "-instruct.json"};
    for (int i = 0; i < 2; i++) {
      snprintf(path, sizeof path, "%s/configs/%s%s", cli_data_dir(), x, suffix[i]);
      if (l1k_file_exists(path)) return l1k_config_load_file(path, cfg, err);
    }
  }
  return l1k_errf(err, L1K_EINPUT,
                  "--config: '%s' is neither a config.json, a model directory nor a preset in "
                  "%s/configs", x, cli_data_dir());
}

static int parse_int(const char *s, int lo, int hi, int *out) {
  char *end;
  long v = strtol(s, &end, 10);
  if (!*s || *end || v < lo || v > hi) return -1;
  *out = (int)v;
  return 0;
}

enum { O_GPU = 1000, O_RESERVE, O_PREC, O_RECOMP, O_OFFLOAD, O_ZERO, O_WORLD, O_CHUNK, O_JSON };

static int parse_args(int argc, char **argv, plan_args *a, l1k_err *err) {
  static const struct option opts[] = {
      {"config", required_argument, 0, 'c'},   {"seq", required_argument, 0, 's'},
      {"gpu-mem", required_argument, 0, O_GPU}, {"reserve", required_argument, 0, O_RESERVE},
      {"precision", required_argument, 0, O_PREC}, {"recompute", no_argument, 0, O_RECOMP},
      {"offload", no_argument, 0, O_OFFLOAD},  {"zero", required_argument, 0, O_ZERO},
      {"world", required_argument, 0, O_WORLD}, {"chunk", required_argument, 0, O_CHUNK},
      {"json", no_argument, 0, O_JSON},        {"help", no_argument, 0, 'h'},
      {0, 0, 0, 0}};
  memset(a, 0, sizeof *a);
  a->o.bf16 = 1;
  a->o.world = 1;
  a->reserve = L1K_MEMPLAN_RESERVE;
  l1k_parse_bytes(H200_MEM, &a->gpu_mem, "--gpu-mem", NULL);
  opterr = 0;
  optind = 1;
  int c, chunk = 0;
  while ((c = getopt_long(argc, argv, ":c:s:h", opts, NULL)) != -1) {
    switch (c) {
      case 'h': fputs(PLAN_USAGE, stdout); return -1;
      case 'c': a->config = optarg; break;
      case 's': if (l1k_parse_tokens(optarg, &a->T, "--seq", err)) return 2; break;
      case O_GPU: if (l1k_parse_bytes(optarg, &a->gpu_mem, "--gpu-mem", err)) return 2; break;
      case O_RESERVE: if (l1k_parse_bytes(optarg, &a->reserve, "--reserve", err)) return 2; break;
      case O_PREC:
        if (!strcmp(optarg, "bf16")) a->o.bf16 = 1;
        else if (!strcmp(optarg, "f32") || !strcmp(optarg, "fp32")) a->o.bf16 = 0;
        else return bad("--precision: '%s': expected bf16 or f32", optarg);
        break;
      case O_RECOMP: a->o.recompute = 1; break;
      case O_OFFLOAD: a->o.offload = 1; break;
      case O_ZERO:
        if (parse_int(optarg, 0, 2, &a->o.zero)) return bad("--zero: '%s': expected 0, 1 or 2", optarg);
        break;
      case O_WORLD:
        if (parse_int(optarg, 1, 1 << 20, &a->o.world))
          return bad("--world: '%s': expected a number of ranks >= 1", optarg);
        break;
      case O_CHUNK:
        if (parse_int(optarg, 1, 1 << 24, &chunk)) return bad("--chunk: '%s': expected rows >= 1", optarg);
        a->o.chunk_rows = chunk;
        break;
      case O_JSON: a->json = 1; break;
      case ':': return bad("%s needs a value", argv[optind - 1]);
      default: return bad("unknown option '%s'", argv[optind - 1]);
    }
  }
  if (optind < argc) return bad("unexpected argument '%s'", argv[optind]);
  if (!a->config) return bad("%s", "--config is required");
  if (a->o.zero && a->o.world == 1) return bad("%s", "--zero 1 or 2 shards over ranks: give --world N (N > 1)");
  if (a->gpu_mem <= a->reserve) return bad("%s", "--gpu-mem must exceed --reserve");
  return 0;
}

static void print_table(const plan_args *a, const l1k_model_config *cfg, const l1k_memplan *p,
                        uint64_t free_b, int64_t best) {
  const l1k_memplan_opts *o = &a->o;
  const char *dt = o->bf16 ? "bf16" : "float32";
  printf("%s: %s, %" PRIu64 " parameters, %d layers, hidden %d, vocab %d\n", a->config,
         cfg->model_type, p->n_params, cfg->num_hidden_layers, cfg->hidden_size, cfg->vocab_size);
  printf("T = %" PRId64 " tokens per micro-batch, %s, recompute %s, optimizer %s, ZeRO-%d on %d rank%s\n\n",
         p->T, dt, o->recompute ? "on" : "off", o->offload ? "offloaded to host" : "on the GPU",
         o->zero, o->world, o->world > 1 ? "s" : "");
  printf("  %-15s %10s\n", "", "GiB");
  int host_master = o->bf16 && o->offload && o->world == 1 && !o->trainable;
  printf("  %-15s %10.2f  %s weights, whole model on every rank%s\n", "weights", p->weights / GIB, dt,
         host_master ? " + float32 embedding, norms, biases" : "");
  printf("  %-15s %10.2f  float32, whole model%s\n", "gradients", p->grads / GIB,
         o->zero == 2 ? " + one layer's reduce-scatter bucket" : "");
  printf("  %-15s %10.2f  %s\n", "optimizer", p->optimizer / GIB,
         host_master ? "on the host (no float32 weights on the GPU)"
         : o->offload ? (o->bf16 ? "float32 weights (all-gather target); moments on the host" : "on the host")
         : o->bf16 ? "float32 master + 2 AdamW moments" : "2 float32 AdamW moments");
  printf("  %-15s %10.2f  %s\n", "activations", p->activations / GIB, "the four lines below");
  printf("  %-15s %10.2f  %s\n", "  layers", p->act_layers / GIB,
         o->recompute ? "per-layer checkpoints + one layer recomputed" : "every layer's activations");
  printf("  %-15s %10.2f  %s\n", "  backward", p->act_backward / GIB, "activation gradients of one layer");
  printf("  %-15s %10.2f  %s\n", "  model", p->act_model / GIB, "final norm, RoPE tables, ids");
  printf("  %-15s %10.2f  %s\n", "  lm_head chunk", p->lm_chunk / GIB, "float32 logits of one chunk + its rows");
  printf("  %-15s %10.2f  %s\n", "workspace", p->workspace / GIB, "cuBLASLt");
  printf("  %-15s %10.2f\n", "total", p->total / GIB);
  printf("  %-15s %10.2f  %.2f GiB of GPU memory minus %.2f GiB reserved (context, NCCL)\n",
         "free (assumed)", free_b / GIB, a->gpu_mem / GIB, a->reserve / GIB);
  if (o->offload) printf("  %-15s %10.2f  master, moments and float32 gradients of this rank's shard\n", "host memory", p->host / GIB);
  char line[512];
  l1k_memplan_line(p, free_b, line, sizeof line);
  printf("\n%s\nlargest T that fits: %" PRId64 " tokens\n", line, best);
  if (p->T > cfg->max_position_embeddings)
    printf("note: T is above max_position_embeddings (%d) of this config\n", cfg->max_position_embeddings);
}

static void print_json(const plan_args *a, const l1k_memplan *p, uint64_t free_b, int64_t best) {
  const l1k_memplan_opts *o = &a->o;
  l1k_buf name = {0};
  l1k_buf_json_string(&name, a->config, strlen(a->config));
  printf("{\"config\": %s, \"T\": %" PRId64 ", \"precision\": \"%s\", \"recompute\": %s, "
         "\"offload\": %s, \"zero\": %d, \"world\": %d, \"chunk_rows\": %" PRId64 ", "
         "\"params\": %" PRIu64 ", \"shard_params\": %" PRIu64 ", ",
         name.data ? name.data : "null", p->T, o->bf16 ? "bf16" : "f32", o->recompute ? "true" : "false",
         o->offload ? "true" : "false", o->zero, o->world,
         o->chunk_rows ? o->chunk_rows : L1K_MEMPLAN_CHUNK_ROWS, p->n_params, p->n_shard);
  printf("\"bytes\": {\"weights\": %" PRIu64 ", \"gradients\": %" PRIu64 ", \"optimizer\": %" PRIu64
         ", \"activations\": %" PRIu64 ", \"act_layers\": %" PRIu64 ", \"act_backward\": %" PRIu64
         ", \"act_model\": %" PRIu64 ", \"lm_head_chunk\": %" PRIu64 ", \"workspace\": %" PRIu64
         ", \"total\": %" PRIu64 ", \"host\": %" PRIu64 "}, ",
         p->weights, p->grads, p->optimizer, p->activations, p->act_layers, p->act_backward,
         p->act_model, p->lm_chunk, p->workspace, p->total, p->host);
  printf("\"layer_bytes_per_token\": %" PRIu64 ", \"gpu_mem\": %" PRIu64 ", \"reserve\": %" PRIu64
         ", \"free\": %" PRIu64 ", \"fits\": %s, \"max_T\": %" PRId64 "}\n",
         p->layer_per_token, a->gpu_mem, a->reserve, free_b, p->total <= free_b ? "true" : "false",
         best);
  l1k_buf_free(&name);
}

int cmd_plan(int argc, char **argv) {
  plan_args a;
  l1k_err err = {0};
  int rc = parse_args(argc, argv, &a, &err);
  if (rc < 0) return 0;
  if (rc) return err.msg[0] ? cli_fail("plan", &err) : rc;
  l1k_model_config cfg;
  if (load_config(a.config, &cfg, &err)) return cli_fail("plan", &err);
  uint64_t free_b = a.gpu_mem - a.reserve;
  int64_t best = l1k_memplan_max_T(&cfg, &a.o, free_b, &err);
  if (best < 0) return cli_fail("plan", &err);
  if (!a.T && !best) {
    l1k_errf(&err, L1K_EINPUT, "not even 1 token fits in %.2f GiB free (try --zero, --offload or "
             "a larger --gpu-mem)", free_b / GIB);
    return cli_fail("plan", &err);
  }
  l1k_memplan p;
  if (l1k_memplan_compute(&cfg, a.T ? a.T : best, &a.o, &p, &err)) return cli_fail("plan", &err);
  if (a.json) print_json(&a, &p, free_b, best);
  else print_table(&a, &cfg, &p, free_b, best);
  fflush(stdout);
  if (l1k_memplan_check(&cfg, p.T, &a.o, free_b, &p, &err)) return cli_fail("plan", &err);
  return 0;
}
