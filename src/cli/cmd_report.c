/* long1k report — gather run directories into one self-contained HTML page. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "long1k/io.h"
#include "long1k/report.h"

static const char *REPORT_USAGE =
    "usage: long1k report RUN_DIR... --out report.html [options]\n"
    "\n"
    "Gathers what synth, train, eval and fit left in the run directories into one self-contained\n"
    "HTML page (inline SVG and CSS; no scripts, no network): dataset statistics, training\n"
    "curves and throughput, tables per benchmark and per response-length bin, and the length\n"
    "law fitted across runs. Each run directory is searched (4 levels deep) for:\n"
    "  long1k.json         {\"name\": \"...\", \"train_length\": TOKENS}: the run's name and its\n"
    "                      training reasoning length (the x of the law)\n"
    "  *.stats.json        from long1k synth (its mean_tokens is the fallback training length)\n"
    "  trainer_log.jsonl   from long1k train (checkpoint-* beside it are counted)\n"
    "  summary.json        an eval directory (results.jsonl beside it): long1k eval\n"
    "  fit.json[l], *.fit.json[l]   from long1k fit\n"
    "The page says plainly what is missing.\n"
    "\n"
    "options:\n"
    "  -o, --out FILE      the HTML file to write (atomically); required\n"
    "      --title TEXT    page title (default \"long1k report\")\n"
    "      --fit FILE      also include this `long1k fit` output (repeatable)\n"
    "      --bootstrap N   replicates for the law's intervals (default 2000)\n"
    "      --seed S        bootstrap seed (default 1)\n"
    "      --strict        a file that cannot be read is an error (exit 2), not a warning\n"
    "      --svg-dir DIR   also write every plot as DIR/NNN-name.svg (for papers and slides)\n"
    "  -q, --quiet         no summary line on stderr\n"
    "  -h, --help          this text\n";

int cmd_report(int argc, char **argv) {
  static const struct option opts[] = {{"out", required_argument, 0, 'o'},   {"title", required_argument, 0, 1},
                                       {"fit", required_argument, 0, 2},     {"bootstrap", required_argument, 0, 3},
                                       {"seed", required_argument, 0, 4},    {"strict", no_argument, 0, 5},       {"svg-dir", required_argument, 0, 6},
                                       {"quiet", no_argument, 0, 'q'},       {"help", no_argument, 0, 'h'},
                                       {0, 0, 0, 0}};
  l1k_report_opts ro;
  l1k_report_opts_default(&ro);
  const char *out = NULL;
  const char **fits = NULL;
  size_t nfits = 0;
  int quiet = 0, rc = 0, c;
  optind = 1;
  opterr = 0;
  while ((c = getopt_long(argc, argv, ":o:qh", opts, NULL)) != -1) {
    char *end;
    switch (c) {
      case 'o': out = optarg; break;
      case 'q': quiet = 1; break;
      case 1: ro.title = optarg; break;
      case 2: {
        const char **q = realloc(fits, (nfits + 1) * sizeof *q);
        if (!q) {
          rc = 1;
          goto done;
        }
        fits = q;
        fits[nfits++] = optarg;
        break;
      }
      case 3: {
        long v = strtol(optarg, &end, 10);
        if (*end || end == optarg || v < 0 || v > 1000000) {
          rc = cli_usage_error("report", "--bootstrap: '%s', expected a count from 0 to 1000000", optarg);
          goto done;
        }
        ro.bootstrap = (int)v;
        break;
      }
      case 4: {
        errno = 0;
        unsigned long long v = strtoull(optarg, &end, 10);
        if (*end || end == optarg || errno || optarg[0] == '-') {
          rc = cli_usage_error("report", "--seed: '%s', expected a non-negative integer", optarg);
          goto done;
        }
        ro.seed = v;
        break;
      }
      case 5: ro.strict = 1; break;
      case 6: ro.svg_dir = optarg; break;
      case 'h': fputs(REPORT_USAGE, stdout); goto done;
      case ':': rc = cli_usage_error("report", "option '%s' needs a value", argv[optind - 1]); goto done;
      default: rc = cli_usage_error("report", "unknown option '%s'", argv[optind - 1]); goto done;
    }
  }
  if (!out) {
    rc = cli_usage_error("report", "--out FILE is required");
    goto done;
  }
  if (optind >= argc) {
    rc = cli_usage_error("report", "give at least one RUN_DIR");
    goto done;
  }
  ro.fit_files = fits;
  ro.n_fit_files = nfits;
  l1k_err err = {0};
  if (l1k_output_check(out, fits, nfits, &err) ||
      l1k_output_check(out, (const char *const *)(argv + optind), (size_t)(argc - optind), &err)) {
    rc = cli_fail("report", &err);
    goto done;
  }
  l1k_buf html = {0};
  l1k_report_info info;
  if (l1k_report_build((const char *const *)(argv + optind), (size_t)(argc - optind), &ro, &html, &info, &err) ||
      l1k_write_file_atomic(out, html.data, html.len, &err)) {
    rc = cli_fail("report", &err);
    l1k_buf_free(&html);
    goto done;
  }
  l1k_buf_free(&html);
  if (!quiet)
    fprintf(stderr,
            "long1k report: wrote %s: %zu run%s, %zu dataset stats, %zu training log%s, %zu evaluation%s, %zu fit%s, %zu law%s fitted; "
            "%zu missing part%s, %zu warning%s\n",
            out, info.runs, info.runs == 1 ? "" : "s", info.stats_files, info.train_logs, info.train_logs == 1 ? "" : "s", info.evals,
            info.evals == 1 ? "" : "s", info.fits, info.fits == 1 ? "" : "s", info.laws, info.laws == 1 ? "" : "s", info.missing,
            info.missing == 1 ? "" : "s", info.warnings, info.warnings == 1 ? "" : "s");
done:
  free(fits);
  return rc;
}
