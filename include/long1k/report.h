/* long1k — one self-contained HTML page (inline SVG and CSS, no script, no network) that
 * gathers what the other commands left in their output directories. See docs/report.md.
 *
 * Each run directory is searched (at most 4 levels deep; hidden entries and the insides of
 * checkpoint-* directories are skipped) for:
 *   long1k.json          the run's own description: {"name": "...", "train_length": 3000, ...}
 *                        (train_length: the training reasoning length in tokens, the x of the
 *                        length law)
 *   *.stats.json         statistics written by `long1k synth` (next to OUT.jsonl)
 *   trainer_log.jsonl    the trainer's log (step, epoch, loss, lr, grad_norm, tokens,
 *                        tokens_per_s, elapsed); checkpoint-* directories beside it are counted
 *   summary.json         an eval directory (with results.jsonl beside it): `long1k eval`
 *   *.fit.json, fit.json, fit.jsonl   output of `long1k fit`
 * Unknown fields are ignored; what is missing is said on the page; files that cannot be read are
 * listed as warnings (an error with opts.strict).
 */
#ifndef LONG1K_REPORT_H
#define LONG1K_REPORT_H

#include <stddef.h>
#include <stdint.h>
#include "long1k/error.h"
#include "long1k/jsonl.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct l1k_report_opts {
  const char *title;        /* NULL: "long1k report" */
  const char *const *fit_files; /* extra `long1k fit` outputs to include */
  size_t n_fit_files;
  int bootstrap;            /* replicates for the law's band (default 2000) */
  uint64_t seed;            /* default 1 */
  int strict;               /* unreadable files are errors (L1K_EINPUT) instead of warnings */
  const char *date;         /* shown in the header; NULL: now (UTC), or $SOURCE_DATE_EPOCH */
  const char *svg_dir;      /* also write every plot as DIR/NNN-name.svg (created), or NULL */
} l1k_report_opts;

void l1k_report_opts_default(l1k_report_opts *o);

typedef struct l1k_report_info {
  size_t runs, stats_files, train_logs, evals, fits, laws;
  size_t warnings;          /* files or lines that could not be used */
  size_t missing;           /* "missing" statements on the page */
} l1k_report_info;

/* Builds the page into out. Fails (L1K_EINPUT) when a run directory does not exist, and with
 * opts.strict on the first warning. info may be NULL. Warnings also go to stderr (l1k_warn). */
int l1k_report_build(const char *const *dirs, size_t n, const l1k_report_opts *o, l1k_buf *out,
                     l1k_report_info *info, l1k_err *err);

#ifdef __cplusplus
}
#endif
#endif
