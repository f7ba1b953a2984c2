/* long1k init — write a random-initialized model directory in Hugging Face format. */
#include <dirent.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "long1k/dtype.h"
#include "long1k/io.h"
#include "long1k/model.h"

static void list_presets_sep(FILE *f, const char *pre, const char *sep, const char *post);
static void list_presets(FILE *f) { list_presets_sep(f, "  ", "\n  ", "\n"); }

static void list_presets_sep(FILE *f, const char *pre, const char *sep, const char *post) {
  char *dir = l1k_path_join(cli_data_dir(), "configs");
  DIR *d = dir ? opendir(dir) : NULL;
  if (d) {
    struct dirent *e;
    char names[64][128];
    int n = 0;
    while ((e = readdir(d)) && n < 64) {
      size_t l = strlen(e->d_name);
      if (l > 5 && !strcmp(e->d_name + l - 5, ".json") && l - 5 < 128) {
        snprintf(names[n], sizeof names[n], "%.*s", (int)(l - 5), e->d_name);
        n++;
      }
    }
    closedir(d);
    qsort(names, (size_t)n, sizeof names[0], (int (*)(const void *, const void *))strcmp);
    for (int i = 0; i < n; i++) fprintf(f, "%s%s", i ? sep : pre, names[i]);
    fputs(post, f);
  } else {
    fprintf(f, "  (none found in %s)\n", dir ? dir : "data/configs");
  }
  free(dir);
}

static void usage(FILE *f) {
  fprintf(f,
          "usage: long1k init (--config FILE | --preset NAME) --out DIR [options]\n"
          "\n"
          "Writes a random-initialized model directory that transformers can load:\n"
          "config.json (transformers 4.x spelling), generation_config.json, model.safetensors\n"
          "and, with --tokenizer, the tokenizer files. Initialization follows transformers:\n"
          "Linear and embedding weights ~ Normal(0, initializer_range), norms 1, biases 0.\n"
          "\n"
          "options:\n"
          "  --config FILE              a config.json (qwen2, qwen3 or llama)\n"
          "  --preset NAME              a shipped config (see below)\n"
          "  --out DIR                  output directory (created; existing files replaced)\n"
          "  --seed N                   random seed (default 0)\n"
          "  --dtype bf16|f32           weight dtype (default: the config's torch_dtype)\n"
          "  --tokenizer PATH           tokenizer.json or a directory with tokenizer files to copy\n"
          "overrides (small variants for tests and demos):\n"
          "  --layers N  --hidden-size N  --intermediate-size N  --heads N  --kv-heads N\n"
          "  --head-dim N  --vocab-size N  --max-position-embeddings N  --rope-theta X\n"
          "  --tie-word-embeddings true|false  --initializer-range X\n"
          "  --eos-token-id N  --bos-token-id N\n"
          "  Changing --hidden-size or --heads without --head-dim sets head_dim = hidden/heads.\n"
          "  -h, --help                 this text\n"
          "\n"
          "presets:\n");
  list_presets(f);
  fprintf(f,
          "\nexample:\n"
          "  long1k init --preset qwen2.5-0.5b-instruct --layers 2 --hidden-size 64 \\\n"
          "      --intermediate-size 128 --heads 4 --kv-heads 2 --out /tmp/tiny --dtype f32\n");
}

static int parse_int(const char *opt, const char *s, int *out) {
  char *end;
  long v = strtol(s, &end, 10);
  if (!*s || *end || v <= 0 || v > 1 << 30) return cli_usage_error("init", "%s: expected a positive integer, got '%s'", opt, s);
  *out = (int)v;
  return 0;
}

static int parse_int0(const char *opt, const char *s, int *out) {
  char *end;
  long v = strtol(s, &end, 10);
  if (!*s || *end || v < 0 || v > 1 << 30) return cli_usage_error("init", "%s: expected a non-negative integer, got '%s'", opt, s);
  *out = (int)v;
  return 0;
}

static int parse_pos_double(const char *opt, const char *s, double *out) {
  char *end;
  double v = strtod(s, &end);
  if (!*s || *end || !(v > 0)) return cli_usage_error("init", "%s: expected a positive number, got '%s'", opt, s);
  *out = v;
  return 0;
}

static int copy_file(const char *src, const char *dst, l1k_err *err) {
  size_t n;
  char *data = l1k_read_file(src, &n, err);
  if (!data) return err->code;
  int rc = l1k_write_file_atomic(dst, data, n, err);
  free(data);
  return rc;
}

/* Copies tokenizer files from PATH (file or directory) into out; returns count or -1. */
static int copy_tokenizer(const char *path, const char *out, l1k_err *err) {
  static const char *files[] = {"tokenizer.json", "tokenizer_config.json", "special_tokens_map.json",
                                "vocab.json", "merges.txt", "added_tokens.json"};
  int n = 0;
  if (l1k_is_dir(path)) {
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
      char *s = l1k_path_join(path, files[i]), *d = l1k_path_join(out, files[i]);
      int rc = 0;
      if (s && d && l1k_file_exists(s)) {
        rc = copy_file(s, d, err);
        n++;
      }
      free(s);
      free(d);
      if (rc) return -1;
    }
    if (n == 0) {
      l1k_errf(err, L1K_EINPUT, "%s: no tokenizer.json or other tokenizer files in this directory", path);
      return -1;
    }
    return n;
  }
  if (!l1k_file_exists(path)) {
    l1k_errf(err, L1K_EINPUT, "%s: no such tokenizer file or directory", path);
    return -1;
  }
  char *d = l1k_path_join(out, "tokenizer.json");
  int rc = d ? copy_file(path, d, err) : L1K_ENOMEM;
  free(d);
  if (rc) return -1;
  n = 1;
  /* tokenizer_config.json beside the file */
  const char *slash = strrchr(path, '/');
  char *dir = slash ? strndup(path, (size_t)(slash - path)) : strdup(".");
  char *s = dir ? l1k_path_join(dir, "tokenizer_config.json") : NULL;
  free(dir);
  if (s && l1k_file_exists(s)) {
    char *dd = l1k_path_join(out, "tokenizer_config.json");
    rc = dd ? copy_file(s, dd, err) : L1K_ENOMEM;
    free(dd);
    n++;
  }
  free(s);
  return rc ? -1 : n;
}

enum {
  O_CONFIG = 256, O_PRESET, O_OUT, O_SEED, O_DTYPE, O_TOK, O_LAYERS, O_HIDDEN, O_INTER, O_HEADS,
  O_KV, O_HEADDIM, O_VOCAB, O_MAXPOS, O_THETA, O_TIE, O_INITR, O_EOS, O_BOS
};

int cmd_init(int argc, char **argv) {
  static const struct option opts[] = {
      {"config", required_argument, 0, O_CONFIG},
      {"preset", required_argument, 0, O_PRESET},
      {"out", required_argument, 0, O_OUT},
      {"seed", required_argument, 0, O_SEED},
      {"dtype", required_argument, 0, O_DTYPE},
      {"tokenizer", required_argument, 0, O_TOK},
      {"layers", required_argument, 0, O_LAYERS},
      {"hidden-size", required_argument, 0, O_HIDDEN},
      {"intermediate-size", required_argument, 0, O_INTER},
      {"heads", required_argument, 0, O_HEADS},
      {"kv-heads", required_argument, 0, O_KV},
      {"head-dim", required_argument, 0, O_HEADDIM},
      {"vocab-size", required_argument, 0, O_VOCAB},
      {"max-position-embeddings", required_argument, 0, O_MAXPOS},
      {"rope-theta", required_argument, 0, O_THETA},
      {"tie-word-embeddings", required_argument, 0, O_TIE},
      {"initializer-range", required_argument, 0, O_INITR},
      {"eos-token-id", required_argument, 0, O_EOS},
      {"bos-token-id", required_argument, 0, O_BOS},
      {"help", no_argument, 0, 'h'},
      {0, 0, 0, 0}};
  const char *config = NULL, *preset = NULL, *out = NULL, *dtype = NULL, *tok = NULL;
  unsigned long long seed = 0;
  int layers = 0, hidden = 0, inter = 0, heads = 0, kv = 0, head_dim = 0, vocab = 0, maxpos = 0;
  int tie = -1, eos = -1, bos = -1;
  double theta = 0, initr = 0;
  int c;
  optind = 1;
  while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
    int rc = 0;
    switch (c) {
      case O_CONFIG: config = optarg; break;
      case O_PRESET: preset = optarg; break;
      case O_OUT: out = optarg; break;
      case O_SEED: {
        char *end;
        seed = strtoull(optarg, &end, 10);
        if (!*optarg || *end || optarg[0] == '-')
          return cli_usage_error("init", "--seed: expected a non-negative integer, got '%s'", optarg);
        break;
      }
      case O_DTYPE: dtype = optarg; break;
      case O_TOK: tok = optarg; break;
      case O_LAYERS: rc = parse_int("--layers", optarg, &layers); break;
      case O_HIDDEN: rc = parse_int("--hidden-size", optarg, &hidden); break;
      case O_INTER: rc = parse_int("--intermediate-size", optarg, &inter); break;
      case O_HEADS: rc = parse_int("--heads", optarg, &heads); break;
      case O_KV: rc = parse_int("--kv-heads", optarg, &kv); break;
      case O_HEADDIM: rc = parse_int("--head-dim", optarg, &head_dim); break;
      case O_VOCAB: rc = parse_int("--vocab-size", optarg, &vocab); break;
      case O_MAXPOS: rc = parse_int("--max-position-embeddings", optarg, &maxpos); break;
      case O_THETA: rc = parse_pos_double("--rope-theta", optarg, &theta); break;
      case O_INITR: rc = parse_pos_double("--initializer-range", optarg, &initr); break;
      case O_EOS: rc = parse_int0("--eos-token-id", optarg, &eos); break;
      case O_BOS: rc = parse_int0("--bos-token-id", optarg, &bos); break;
      case O_TIE:
        if (!strcmp(optarg, "true")) tie = 1;
        else if (!strcmp(optarg, "false")) tie = 0;
        else return cli_usage_error("init", "--tie-word-embeddings: expected true or false, got '%s'", optarg);
        break;
      case 'h': usage(stdout); return 0;
      default: return cli_usage_error("init", "unknown option");
    }
    if (rc) return rc;
  }
  if (optind < argc) return cli_usage_error("init", "unexpected argument '%s'", argv[optind]);
  if (!!config == !!preset) return cli_usage_error("init", "give exactly one of --config FILE or --preset NAME");
  if (!out) return cli_usage_error("init", "--out DIR is required");

  l1k_err err = {0};
  l1k_model_config cfg;
  char *cfg_path = NULL;
  if (preset) {
    if (strchr(preset, '/') || strchr(preset, '.') == preset) {
      return cli_usage_error("init", "--preset: '%s' is not a preset name", preset);
    }
    char *dir = l1k_path_join(cli_data_dir(), "configs");
    size_t n = strlen(preset) + 8;
    char *fn = malloc(n);
    if (fn) snprintf(fn, n, "%s.json", preset);
    cfg_path = dir && fn ? l1k_path_join(dir, fn) : NULL;
    if (cfg_path && !l1k_file_exists(cfg_path)) { /* allow dropping "-instruct" */
      snprintf(fn, n, "%s", preset);
      char *alt = NULL;
      size_t m2 = strlen(preset) + 20;
      alt = malloc(m2);
      if (alt) snprintf(alt, m2, "%s-instruct.json", preset);
      char *p2 = alt ? l1k_path_join(dir, alt) : NULL;
      free(alt);
      if (p2 && l1k_file_exists(p2)) {
        free(cfg_path);
        cfg_path = p2;
      } else {
        free(p2);
      }
    }
    free(dir);
    free(fn);
    if (!cfg_path || !l1k_file_exists(cfg_path)) {
      fprintf(stderr, "long1k init: unknown preset '%s' (presets: ", preset);
      list_presets_sep(stderr, "", ", ", ")\n");
      free(cfg_path);
      return 2;
    }
  } else {
    cfg_path = strdup(config);
    if (!cfg_path) {
      fprintf(stderr, "long1k init: out of memory\n");
      return 1;
    }
  }
  int rc = l1k_config_load_file(cfg_path, &cfg, &err);
  free(cfg_path);
  if (rc) return cli_fail("init", &err);
  if (layers) cfg.num_hidden_layers = layers;
  if (hidden) cfg.hidden_size = hidden;
  if (inter) cfg.intermediate_size = inter;
  if (heads) cfg.num_attention_heads = heads;
  if (kv) cfg.num_key_value_heads = kv;
  else if (heads && cfg.num_key_value_heads > heads) cfg.num_key_value_heads = heads;
  if (head_dim) cfg.head_dim = head_dim;
  else if (hidden || heads) {
    if (cfg.hidden_size % cfg.num_attention_heads)
      return cli_usage_error("init", "hidden size %d is not divisible by %d heads; give --head-dim",
                             cfg.hidden_size, cfg.num_attention_heads);
    cfg.head_dim = cfg.hidden_size / cfg.num_attention_heads;
  }
  if (vocab) cfg.vocab_size = vocab;
  if (maxpos) cfg.max_position_embeddings = maxpos;
  if (theta > 0) cfg.rope_theta = theta;
  if (initr > 0) cfg.initializer_range = initr;
  if (tie >= 0) cfg.tie_word_embeddings = tie;
  if (eos >= 0) {
    cfg.n_eos = 1;
    cfg.eos_token_ids[0] = eos;
  }
  if (bos >= 0) cfg.bos_token_id = bos;
  if (l1k_config_validate(&cfg, "init", &err)) return cli_fail("init", &err);
  for (int i = 0; i < cfg.n_eos; i++)
    if (cfg.eos_token_ids[i] >= cfg.vocab_size)
      fprintf(stderr, "long1k init: warning: eos_token_id %d >= vocab_size %d (never generated)\n",
              cfg.eos_token_ids[i], cfg.vocab_size);
  l1k_dtype dt = l1k_dtype_parse_loose(dtype ? dtype : cfg.torch_dtype);
  if (dt != L1K_DT_F32 && dt != L1K_DT_BF16) {
    if (dtype) return cli_usage_error("init", "--dtype: expected bf16 or f32, got '%s'", dtype);
    dt = L1K_DT_BF16;
  }
  size_t np = l1k_config_num_params(&cfg);
  long pages = sysconf(_SC_PHYS_PAGES), psz = sysconf(_SC_PAGE_SIZE);
  if (pages > 0 && psz > 0 && (double)np * 4 > 0.8 * (double)pages * psz)
    return cli_usage_error("init",
                           "%zu parameters need %.1f GB as float32, more than this machine's memory; "
                           "use --layers / --hidden-size to make a smaller variant",
                           np, np * 4.0 / 1e9);
  l1k_model *m = l1k_model_create(&cfg, &err);
  if (!m) return cli_fail("init", &err);
  l1k_model_init_random(m, (uint64_t)seed);
  rc = l1k_model_save(m, out, dt == L1K_DT_F32 ? "f32" : "bf16", &err);
  int ntok = 0;
  if (!rc && tok) {
    ntok = copy_tokenizer(tok, out, &err);
    if (ntok < 0) rc = err.code ? err.code : L1K_EIO;
  }
  if (rc) {
    l1k_model_free(m);
    return cli_fail("init", &err);
  }
  printf("{\"out\":\"%s\",\"model_type\":\"%s\",\"parameters\":%zu,\"layers\":%d,\"hidden_size\":%d,"
         "\"vocab_size\":%d,\"dtype\":\"%s\",\"seed\":%llu,\"tokenizer_files\":%d}\n",
         out, cfg.model_type, l1k_model_num_params(m), cfg.num_hidden_layers, cfg.hidden_size,
         cfg.vocab_size, dt == L1K_DT_F32 ? "float32" : "bfloat16", seed, ntok);
  l1k_model_free(m);
  return 0;
}
