/* long1k — small SVG plots: lines, markers, error bars, shaded bands and histogram bars on
 * linear or log axes, with nice ticks, axis labels and a legend. Output is a standalone SVG
 * (readable in a browser, inline in HTML, and in print: series differ by dash and marker shape
 * as well as colour).
 *
 *   l1k_plot *p = l1k_plot_new("Training loss", "step", "loss");
 *   l1k_plot_line(p, "loss", steps, losses, n, NULL);
 *   l1k_plot_write_svg(p, "training_loss.svg", &err);
 *   l1k_plot_free(p);
 *
 * Series copy their data. Points that cannot be drawn (non-finite, beyond +-1e300, or below
 * 1e-300 on a log axis) are skipped, counted, and named in a footnote on the plot; a line
 * breaks at them.
 */
#ifndef LONG1K_PLOT_H
#define LONG1K_PLOT_H

#include <stddef.h>
#include "long1k/error.h"
#include "long1k/fit.h"
#include "long1k/jsonl.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct l1k_plot l1k_plot;

/* Any text may be NULL. Default size 640 x 400 (CSS pixels). NULL on out of memory. */
l1k_plot *l1k_plot_new(const char *title, const char *xlabel, const char *ylabel);
void l1k_plot_free(l1k_plot *p);
void l1k_plot_size(l1k_plot *p, int width, int height);
void l1k_plot_log_x(l1k_plot *p, int on);
void l1k_plot_log_y(l1k_plot *p, int on);
/* Fixed axis ranges (NAN for automatic on either end). */
void l1k_plot_x_range(l1k_plot *p, double lo, double hi);
void l1k_plot_y_range(l1k_plot *p, double lo, double hi);
/* A line of small text under the plot (may be called several times). */
int l1k_plot_note(l1k_plot *p, const char *text);

/* Series. label NULL: no legend entry. color NULL: the next colour of the palette (a CSS
 * colour otherwise, e.g. "#0072B2"). Return 0 or L1K_ENOMEM. */
int l1k_plot_line(l1k_plot *p, const char *label, const double *x, const double *y, size_t n,
                  const char *color);
int l1k_plot_scatter(l1k_plot *p, const char *label, const double *x, const double *y, size_t n,
                     const char *color);
/* Markers at (x, y) with vertical bars from lo to hi (lo/hi entries may be NAN: no bar). */
int l1k_plot_errorbars(l1k_plot *p, const char *label, const double *x, const double *y,
                       const double *lo, const double *hi, size_t n, const char *color);
/* Shaded area between lo and hi along x. */
int l1k_plot_band(l1k_plot *p, const char *label, const double *x, const double *lo,
                  const double *hi, size_t n, const char *color);
/* Histogram bars: bin i spans [edges[i], edges[i+1]) with height h[i] (edges has n+1 values).
 * Several bar series overlay translucently. */
int l1k_plot_bars(l1k_plot *p, const char *label, const double *edges, const double *h,
                  size_t n, const char *color);

/* The fitted log law of a l1k_fit_run result: its points (with binomial 95% error bars when
 * n is known), the fitted line over the data's x range (log x axis) and, when the fit has
 * bootstrap replicates, the pointwise interval as a band. label prefixes the legend. */
int l1k_plot_fit(l1k_plot *p, const l1k_fit_result *r, const l1k_fit_data *d, const char *label);

/* Training curves from a trainer_log.jsonl (one JSON object per line with "step" and "loss"
 * and/or "lr"; other records are ignored): writes out_dir/training_loss.svg and
 * out_dir/learning_rate.svg (each only when the log has such values; *written gets how many,
 * may be NULL). Invalid JSON lines (e.g. a torn last line) are skipped and counted in
 * *skipped (may be NULL) and named in a note on the plot. */
int l1k_plot_train_log(const char *log_path, const char *out_dir, int *written, long *skipped,
                       l1k_err *err);

/* Appends the <svg> element (no XML declaration, so it can be inlined in HTML). */
int l1k_plot_svg(const l1k_plot *p, l1k_buf *out);
/* Writes a standalone .svg file (with the XML declaration), atomically. */
int l1k_plot_write_svg(const l1k_plot *p, const char *path, l1k_err *err);

/* Appends s with XML/HTML special characters escaped (for SVG text and HTML). */
int l1k_xml_escape(l1k_buf *out, const char *s);

#ifdef __cplusplus
}
#endif
#endif
