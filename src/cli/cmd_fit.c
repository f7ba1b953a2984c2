/* long1k fit — the length scaling law y = a + b ln x from a JSONL file of points. */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "long1k/fit.h"
#include "long1k/io.h"
#include "long1k/jsonl.h"
#include "long1k/plot.h"

static const char *FIT_USAGE =
    "usage: long1k fit --input FILE.jsonl --x FIELD --y FIELD [options]\n"
    "\n"
    "Fits y = a + b ln x by least squares (the Long1K length law: accuracy against the length\n"
    "of the training reasoning) and compares it with a power law y = c x^d and a saturating\n"
    "form y = L - c x^(-d) by AIC. Each line of FILE is a JSON object (one point); FIELD may be\n"
    "a dotted path into nested objects (\"summary.pass@1\").\n"
    "\n"
    "options:\n"
    "  -i, --input FILE      JSONL points (\"-\" for stdin, .gz accepted)\n"
    "  -x, --x FIELD         x (> 0), e.g. the training length in tokens\n"
    "  -y, --y FIELD         y, e.g. accuracy: fractions in [0,1] or percent (any y > 1 means\n"
    "                        percent; force with --y-scale)\n"
    "  -n, --n FIELD         graded samples behind each y: weights each point by 1/var with\n"
    "                        var = p(1-p)/n (p clamped to [1/2n, 1-1/2n]); y must be a proportion\n"
    "  -b, --by FIELD        fit each group of points sharing this field's value separately\n"
    "      --predict X,...   predict y at these x (with the bootstrap interval)\n"
    "      --target Y,...    the x at which the law reaches these y\n"
    "      --bootstrap N     bootstrap replicates for the intervals (default 2000, 0 = none)\n"
    "      --boot-method M   binomial (default with --n), residual (default without), pairs\n"
    "      --seed S          bootstrap seed (default 1)\n"
    "      --level L         confidence level (default 0.95)\n"
    "      --y-scale S       1 (fractions) or 100 (percent); default: detected\n"
    "  -o, --out FILE        write the JSON there (atomically) instead of stdout\n"
    "      --svg FILE        plot: y against x on a log axis, the fitted law and its band\n"
    "  -q, --quiet           no table on stderr\n"
    "  -h, --help            this text\n"
    "\n"
    "Output: one JSON object per group (one line each) on stdout, a table on stderr.\n"
    "Bad input (missing or non-numeric field, x <= 0, non-finite numbers, fewer than 2 distinct\n"
    "x in a group) stops with FILE:LINE and the field, exit code 2.\n";

/* Field lookup by dotted path; an exact key with dots wins over the path. */
static const cJSON *get_path(const cJSON *obj, const char *path) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, path);
  if (v) return v;
  const char *s = path;
  const cJSON *cur = obj;
  while (cur && *s) {
    const char *dot = strchr(s, '.');
    size_t len = dot ? (size_t)(dot - s) : strlen(s);
    char key[256];
    if (len >= sizeof key) return NULL;
    memcpy(key, s, len);
    key[len] = 0;
    if (!cJSON_IsObject(cur)) return NULL;
    cur = cJSON_GetObjectItemCaseSensitive(cur, key);
    s = dot ? dot + 1 : s + len;
    if (!dot) break;
  }
  return cur;
}

static const char *json_type_name(const cJSON *v) {
  if (cJSON_IsNull(v)) return "null";
  if (cJSON_IsBool(v)) return "a boolean";
  if (cJSON_IsString(v)) return "a string";
  if (cJSON_IsArray(v)) return "an array";
  if (cJSON_IsObject(v)) return "an object";
  return "something else";
}

static int get_num(const cJSON *rec, const char *field, double *out, const char *file, long line, l1k_err *err) {
  const cJSON *v = get_path(rec, field);
  if (!v) return l1k_errf(err, L1K_EINPUT, "%s:%ld: missing field '%s' (expected a number)", file, line, field);
  if (!cJSON_IsNumber(v))
    return l1k_errf(err, L1K_EINPUT, "%s:%ld: field '%s': expected a number, got %s", file, line, field, json_type_name(v));
  if (!isfinite(v->valuedouble))
    return l1k_errf(err, L1K_EINPUT, "%s:%ld: field '%s': expected a finite number", file, line, field);
  *out = v->valuedouble;
  return 0;
}

static int parse_list(const char *s, double **out, size_t *n, const char *opt) {
  char *end;
  const char *p = s;
  while (*p) {
    errno = 0;
    double v = strtod(p, &end);
    if (end == p || errno || !isfinite(v)) return cli_usage_error("fit", "%s: '%s' is not a comma-separated list of numbers", opt, s);
    double *q = realloc(*out, (*n + 1) * sizeof *q);
    if (!q) return 1;
    *out = q;
    q[(*n)++] = v;
    p = end;
    while (*p == ' ') p++;
    if (*p == ',') p++;
    else if (*p) return cli_usage_error("fit", "%s: '%s' is not a comma-separated list of numbers", opt, s);
  }
  if (!*n) return cli_usage_error("fit", "%s: empty list", opt);
  return 0;
}

typedef struct {
  char *key;
  double *x, *y, *n;
  long *line;
  size_t count, cap;
} group;

static int group_add(group *g, double x, double y, double n, long line) {
  if (g->count == g->cap) {
    size_t nc = g->cap ? g->cap * 2 : 16;
    double *a = realloc(g->x, nc * sizeof *a);
    if (a) g->x = a;
    double *b = realloc(g->y, nc * sizeof *b);
    if (b) g->y = b;
    double *c = realloc(g->n, nc * sizeof *c);
    if (c) g->n = c;
    long *d = realloc(g->line, nc * sizeof *d);
    if (d) g->line = d;
    if (!a || !b || !c || !d) return -1;
    g->cap = nc;
  }
  g->x[g->count] = x;
  g->y[g->count] = y;
  g->n[g->count] = n;
  g->line[g->count] = line;
  g->count++;
  return 0;
}

int cmd_fit(int argc, char **argv) {
  static const struct option opts[] = {
      {"input", required_argument, 0, 'i'}, {"x", required_argument, 0, 'x'},
      {"y", required_argument, 0, 'y'},     {"n", required_argument, 0, 'n'},
      {"by", required_argument, 0, 'b'},    {"predict", required_argument, 0, 1},
      {"target", required_argument, 0, 2},  {"bootstrap", required_argument, 0, 3},
      {"seed", required_argument, 0, 4},    {"level", required_argument, 0, 5},
      {"y-scale", required_argument, 0, 6}, {"boot-method", required_argument, 0, 7},
      {"svg", required_argument, 0, 8},     {"out", required_argument, 0, 'o'},
      {"quiet", no_argument, 0, 'q'},       {"help", no_argument, 0, 'h'},
      {0, 0, 0, 0}};
  const char *input = NULL, *xf = NULL, *yf = NULL, *nf = NULL, *by = NULL, *out = NULL, *svg = NULL;
  double *pred = NULL, *targ = NULL;
  size_t npred = 0, ntarg = 0;
  int quiet = 0, rc = 0;
  l1k_fit_opts fo;
  l1k_fit_opts_default(&fo);
  optind = 1;
  opterr = 0;
  int c;
  while ((c = getopt_long(argc, argv, ":i:x:y:n:b:o:qh", opts, NULL)) != -1) {
    char *end;
    switch (c) {
      case 'i': input = optarg; break;
      case 'x': xf = optarg; break;
      case 'y': yf = optarg; break;
      case 'n': nf = optarg; break;
      case 'b': by = optarg; break;
      case 'o': out = optarg; break;
      case 'q': quiet = 1; break;
      case 1:
        if ((rc = parse_list(optarg, &pred, &npred, "--predict"))) goto done;
        for (size_t i = 0; i < npred; i++)
          if (!(pred[i] > 0)) {
            rc = cli_usage_error("fit", "--predict: x = %g, expected x > 0", pred[i]);
            goto done;
          }
        break;
      case 2:
        if ((rc = parse_list(optarg, &targ, &ntarg, "--target"))) goto done;
        break;
      case 3: {
        long v = strtol(optarg, &end, 10);
        if (*end || end == optarg || v < 0 || v > 10000000) {
          rc = cli_usage_error("fit", "--bootstrap: '%s', expected a count from 0 to 10000000", optarg);
          goto done;
        }
        fo.bootstrap = (int)v;
        break;
      }
      case 4: {
        errno = 0;
        unsigned long long v = strtoull(optarg, &end, 10);
        if (*end || end == optarg || errno || optarg[0] == '-') {
          rc = cli_usage_error("fit", "--seed: '%s', expected a non-negative integer", optarg);
          goto done;
        }
        fo.seed = v;
        break;
      }
      case 5:
        fo.level = strtod(optarg, &end);
        if (*end || end == optarg || !(fo.level > 0 && fo.level < 1)) {
          rc = cli_usage_error("fit", "--level: '%s', expected a number between 0 and 1 (e.g. 0.95)", optarg);
          goto done;
        }
        break;
      case 6:
        if (!strcmp(optarg, "1")) fo.y_scale = 1;
        else if (!strcmp(optarg, "100")) fo.y_scale = 100;
        else {
          rc = cli_usage_error("fit", "--y-scale: '%s', expected 1 or 100", optarg);
          goto done;
        }
        break;
      case 7:
        if (!strcmp(optarg, "binomial")) fo.boot_method = L1K_BOOT_BINOMIAL;
        else if (!strcmp(optarg, "residual")) fo.boot_method = L1K_BOOT_RESIDUAL;
        else if (!strcmp(optarg, "pairs")) fo.boot_method = L1K_BOOT_PAIRS;
        else {
          rc = cli_usage_error("fit", "--boot-method: '%s', expected binomial, residual or pairs", optarg);
          goto done;
        }
        break;
      case 8: svg = optarg; break;
      case 'h': fputs(FIT_USAGE, stdout); goto done;
      case ':': rc = cli_usage_error("fit", "option '%s' needs a value", argv[optind - 1]); goto done;
      default: rc = cli_usage_error("fit", "unknown option '%s'", argv[optind - 1]); goto done;
    }
  }
  if (optind < argc) {
    rc = cli_usage_error("fit", "unexpected argument '%s'", argv[optind]);
    goto done;
  }
  if (!input || !xf || !yf) {
    rc = cli_usage_error("fit", "--input, --x and --y are required");
    goto done;
  }
  if (fo.boot_method == L1K_BOOT_BINOMIAL && !nf) {
    rc = cli_usage_error("fit", "--boot-method binomial needs --n (the sample count of each point)");
    goto done;
  }

  l1k_err err = {0};
  if (l1k_output_check(out, &input, 1, &err) || l1k_output_check(svg, &input, 1, &err)) {
    rc = cli_fail("fit", &err);
    goto done;
  }
  if (out && svg && l1k_output_check(svg, &out, 1, &err)) {
    rc = cli_fail("fit", &err);
    goto done;
  }
  group *gs = NULL;
  size_t ng = 0;
  l1k_jsonl *r = l1k_jsonl_open(input, &err);
  if (!r) {
    rc = cli_fail("fit", &err);
    goto done;
  }
  cJSON *rec;
  int st;
  long nrec = 0;
  while ((st = l1k_jsonl_next(r, &rec, &err)) == 1) {
    long line = (long)l1k_jsonl_line_no(r);
    nrec++;
    double x, y, n = 0;
    char keybuf[256];
    const char *key = "";
    int e = 0;
    if (!cJSON_IsObject(rec)) e = l1k_errf(&err, L1K_EINPUT, "%s:%ld: expected a JSON object per line", input, line);
    if (!e) e = get_num(rec, xf, &x, input, line, &err);
    if (!e) e = get_num(rec, yf, &y, input, line, &err);
    if (!e && nf) e = get_num(rec, nf, &n, input, line, &err);
    if (!e && !(x > 0)) e = l1k_errf(&err, L1K_EINPUT, "%s:%ld: field '%s' = %g: expected x > 0 (the law uses ln x)", input, line, xf, x);
    if (!e && nf && !(n >= 1))
      e = l1k_errf(&err, L1K_EINPUT, "%s:%ld: field '%s' = %g: expected a sample count >= 1", input, line, nf, n);
    if (!e && by) {
      const cJSON *v = get_path(rec, by);
      if (!v) e = l1k_errf(&err, L1K_EINPUT, "%s:%ld: missing field '%s' (the --by group)", input, line, by);
      else if (cJSON_IsString(v)) key = v->valuestring;
      else if (cJSON_IsNumber(v)) snprintf(keybuf, sizeof keybuf, "%.15g", v->valuedouble), key = keybuf;
      else if (cJSON_IsBool(v)) key = cJSON_IsTrue(v) ? "true" : "false";
      else e = l1k_errf(&err, L1K_EINPUT, "%s:%ld: field '%s': expected a string or number to group by, got %s", input, line, by, json_type_name(v));
    }
    if (!e) {
      size_t gi = 0;
      while (gi < ng && strcmp(gs[gi].key, key)) gi++;
      if (gi == ng) {
        group *q = realloc(gs, (ng + 1) * sizeof *q);
        if (!q) e = l1k_errf(&err, L1K_ENOMEM, "out of memory");
        else {
          gs = q;
          memset(&gs[ng], 0, sizeof gs[ng]);
          gs[ng].key = strdup(key);
          ng++;
          if (!gs[gi].key) e = l1k_errf(&err, L1K_ENOMEM, "out of memory");
        }
      }
      if (!e && group_add(&gs[gi], x, y, n, line)) e = l1k_errf(&err, L1K_ENOMEM, "out of memory");
    }
    cJSON_Delete(rec);
    if (e) {
      st = -1;
      break;
    }
  }
  l1k_jsonl_close(r);
  if (st < 0) {
    rc = cli_fail("fit", &err);
    goto free_groups;
  }
  if (ng == 0) {
    l1k_errf(&err, L1K_EINPUT, "%s: no points (%ld records): need at least 2 distinct x to fit", input, nrec);
    rc = cli_fail("fit", &err);
    goto free_groups;
  }

  l1k_buf js = {0}, tab = {0};
  l1k_fit_result *res = calloc(ng, sizeof *res);
  l1k_fit_data *data = calloc(ng, sizeof *data);
  if (!res || !data) {
    l1k_errf(&err, L1K_ENOMEM, "out of memory");
    rc = cli_fail("fit", &err);
    goto free_all;
  }
  for (size_t gi = 0; gi < ng; gi++) {
    group *g = &gs[gi];
    data[gi] = (l1k_fit_data){.x = g->x, .y = g->y, .n = nf ? g->n : NULL, .count = g->count};
    if (nf) {
      double scale = fo.y_scale > 0 ? fo.y_scale : l1k_fit_detect_scale(g->y, g->count);
      for (size_t i = 0; i < g->count; i++)
        if (g->y[i] < 0 || g->y[i] > scale) {
          l1k_errf(&err, L1K_EINPUT, "%s:%ld: field '%s' = %g: with --n, y must be a proportion in [0,1] or a percentage in [0,100]",
                   input, g->line[i], yf, g->y[i]);
          rc = cli_fail("fit", &err);
          goto free_all;
        }
    }
    if (l1k_fit_run(&data[gi], &fo, &res[gi], &err)) {
      if (by) l1k_err_prefix(&err, "%s: group %s='%s'", input, by, g->key);
      else l1k_err_prefix(&err, "%s", input);
      rc = cli_fail("fit", &err);
      goto free_all;
    }
    l1k_fit_report rep = {.group = by ? g->key : NULL, .input = input, .x_field = xf, .y_field = yf,
                          .n_field = nf, .predict_x = pred, .n_predict = npred, .target_y = targ,
                          .n_target = ntarg, .data = &data[gi]};
    l1k_fit_to_json(&res[gi], &rep, &js);
    l1k_buf_puts(&js, "\n");
    if (!quiet) {
      l1k_fit_to_table(&res[gi], &rep, &tab);
      if (gi + 1 < ng) l1k_buf_puts(&tab, "\n");
    }
  }
  if (!js.data) {
    l1k_errf(&err, L1K_ENOMEM, "out of memory");
    rc = cli_fail("fit", &err);
    goto free_all;
  }
  if (!quiet && tab.data) fputs(tab.data, stderr);
  if (svg) {
    l1k_plot *p = l1k_plot_new(NULL, xf, yf);
    if (!p) {
      l1k_errf(&err, L1K_ENOMEM, "out of memory");
      rc = cli_fail("fit", &err);
      goto free_all;
    }
    for (size_t gi = 0; gi < ng; gi++)
      l1k_plot_fit(p, &res[gi], &data[gi], by ? gs[gi].key : NULL);
    int e = l1k_plot_write_svg(p, svg, &err);
    l1k_plot_free(p);
    if (e) {
      rc = cli_fail("fit", &err);
      goto free_all;
    }
  }
  if (out) {
    if (l1k_write_file_atomic(out, js.data, js.len, &err)) {
      rc = cli_fail("fit", &err);
      goto free_all;
    }
  } else {
    fputs(js.data, stdout);
    if (fflush(stdout)) {
      l1k_errf(&err, L1K_EIO, "writing stdout failed");
      rc = cli_fail("fit", &err);
    }
  }
free_all:
  for (size_t gi = 0; gi < ng && res; gi++) l1k_fit_result_free(&res[gi]);
  free(res);
  free(data);
  l1k_buf_free(&js);
  l1k_buf_free(&tab);
free_groups:
  for (size_t gi = 0; gi < ng; gi++) {
    free(gs[gi].key);
    free(gs[gi].x);
    free(gs[gi].y);
    free(gs[gi].n);
    free(gs[gi].line);
  }
  free(gs);
done:
  free(pred);
  free(targ);
  return rc;
}
