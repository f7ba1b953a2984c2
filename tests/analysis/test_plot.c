/* SVG plots: every kind of series, log and linear axes, nice ticks, escaping, points that
 * cannot be drawn, an empty plot. Each SVG must parse as XML (python3 xml.etree). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "long1k/io.h"
#include "long1k/plot.h"

static char dir[256];

static int count(const char *s, const char *needle) {
  int n = 0;
  for (const char *p = strstr(s, needle); p; p = strstr(p + 1, needle)) n++;
  return n;
}

/* Writes the SVG and checks that it parses as XML with an <svg> root. */
static char *render(const l1k_plot *p, const char *name) {
  char path[512], cmd[1200];
  snprintf(path, sizeof path, "%s/%s.svg", dir, name);
  l1k_err err = {0};
  CHECK(l1k_plot_write_svg(p, path, &err) == 0);
  snprintf(cmd, sizeof cmd,
           "python3 -c 'import sys, xml.etree.ElementTree as E; r = E.parse(sys.argv[1]).getroot(); "
           "sys.exit(0 if r.tag == \"{http://www.w3.org/2000/svg}svg\" else 3)' '%s'",
           path);
  int rc = system(cmd);
  CHECK_MSG(rc == 0, "%s does not parse as SVG (rc %d)", path, rc);
  return l1k_read_file(path, NULL, &err);
}

int main(void) {
  snprintf(dir, sizeof dir, "/tmp/l1k_plot_%d", (int)getpid());
  l1k_err err = {0};
  CHECK(l1k_mkdir_p(dir, &err) == 0);

  /* training curves: a line with a NaN gap, linear axes */
  {
    enum { N = 200 };
    double x[N], y[N], lr[N];
    for (int i = 0; i < N; i++) {
      x[i] = i + 1;
      y[i] = 2.5 * exp(-i / 60.0) + 0.3;
      lr[i] = 1e-5 * (i < 20 ? i / 20.0 : 0.5 * (1 + cos(M_PI * (i - 20) / (N - 20))));
    }
    y[50] = NAN;
    l1k_plot *p = l1k_plot_new("Training loss <run \"a\" & b>", "step", "loss");
    CHECK(p != NULL);
    CHECK(l1k_plot_line(p, "loss", x, y, N, NULL) == 0);
    CHECK(l1k_plot_note(p, "tokens/s: 1234") == 0);
    char *s = render(p, "loss");
    CHECK(s && strstr(s, "Training loss &lt;run &quot;a&quot; &amp; b&gt;"));
    CHECK(s && count(s, "<polyline") == 2); /* the NaN breaks the line */
    CHECK(s && strstr(s, "1 point not drawn"));
    CHECK(s && strstr(s, "tokens/s: 1234"));
    CHECK(s && strstr(s, ">200<")); /* nice ticks on the step axis */
    free(s);
    l1k_plot_free(p);
    p = l1k_plot_new("Learning rate", "step", "lr");
    CHECK(l1k_plot_line(p, "lr", x, lr, N, "#D55E00") == 0);
    s = render(p, "lr");
    CHECK(s && strstr(s, "#D55E00"));
    free(s);
    l1k_plot_free(p);
  }

  /* histograms: overlaid bars on a log x axis, with a zero-count bin */
  {
    double edges[] = {250, 500, 1000, 2000, 4000, 8000, 16000};
    double h1[] = {3, 10, 25, 40, 0, 2}, h2[] = {1, 4, 12, 30, 22, 9};
    l1k_plot *p = l1k_plot_new("Response length", "tokens", "responses");
    l1k_plot_log_x(p, 1);
    CHECK(l1k_plot_bars(p, "correct", edges, h1, 6, NULL) == 0);
    CHECK(l1k_plot_bars(p, "wrong", edges, h2, 6, NULL) == 0);
    char *s = render(p, "hist");
    CHECK(s && count(s, "<rect x=") >= 12 + 2); /* 12 bars (+ background, frame, legend) */
    CHECK(s && strstr(s, ">1k<") && strstr(s, ">10k<"));
    CHECK(s && strstr(s, ">correct<") && strstr(s, ">wrong<"));
    CHECK(s && !strstr(s, "not drawn"));
    free(s);
    l1k_plot_free(p);
  }

  /* the fit: points with error bars, line, band on a log axis */
  {
    double x[] = {1000, 1500, 2000, 3000, 6000, 12000}, y[] = {85.8, 87.4, 88.9, 90.2, 92.6, 94.1};
    double n[] = {500, 500, 500, 500, 500, 500};
    l1k_fit_data d = {.x = x, .y = y, .n = n, .count = 6};
    l1k_fit_opts o;
    l1k_fit_opts_default(&o);
    o.bootstrap = 200;
    l1k_fit_result r;
    CHECK(l1k_fit_run(&d, &o, &r, &err) == 0);
    l1k_plot *p = l1k_plot_new("MATH500", "training length (tokens)", "pass@1 (%)");
    CHECK(l1k_plot_fit(p, &r, &d, "MATH500") == 0);
    char *s = render(p, "fit");
    CHECK(s && strstr(s, "(log scale)"));
    CHECK(s && strstr(s, "fill-opacity=\"0.18\"")); /* the band */
    CHECK(s && strstr(s, "95% band"));
    CHECK(s && strstr(s, "\xc2\xb1" "1.96 SE"));
    CHECK(s && strstr(s, ">2k<") && strstr(s, ">5k<"));
    free(s);
    l1k_plot_free(p);
    l1k_fit_result_free(&r);
  }

  /* scatter on log-log with non-positive values, fixed ranges, small size */
  {
    double x[] = {0, 1, 10, 100, 1000}, y[] = {1, 2, -3, 4, 5};
    l1k_plot *p = l1k_plot_new(NULL, "x", NULL);
    l1k_plot_log_x(p, 1);
    l1k_plot_log_y(p, 1);
    l1k_plot_size(p, 320, 200);
    CHECK(l1k_plot_scatter(p, "pts", x, y, 5, NULL) == 0);
    char *s = render(p, "loglog");
    CHECK(s && strstr(s, "2 points not drawn"));
    CHECK(s && strstr(s, "width=\"320\""));
    free(s);
    l1k_plot_free(p);
    p = l1k_plot_new("fixed", "x", "y");
    l1k_plot_x_range(p, 0, 10);
    l1k_plot_y_range(p, 0, 1);
    CHECK(l1k_plot_scatter(p, NULL, x, y, 5, NULL) == 0);
    s = render(p, "fixed");
    CHECK(s && strstr(s, ">0.2<") && strstr(s, ">10<"));
    free(s);
    l1k_plot_free(p);
  }

  /* extreme values: no overflow into nan/inf coordinates, exponent labels */
  {
    double x[] = {1, 2, 3}, y[] = {-1e308, 0, 1e308}, xl[] = {1e-300, 1, 1e300}, yl[] = {1e-300, 1e300, 5};
    l1k_plot *p = l1k_plot_new("extreme", "x", "y");
    CHECK(l1k_plot_line(p, "a", x, y, 3, NULL) == 0);
    char *s = render(p, "extreme");
    CHECK(s && !strstr(s, "nan") && !strstr(s, "inf"));
    CHECK(s && strstr(s, "2 points not drawn"));
    free(s);
    l1k_plot_free(p);
    p = l1k_plot_new("extreme log", "x", "y");
    l1k_plot_log_x(p, 1);
    l1k_plot_log_y(p, 1);
    CHECK(l1k_plot_line(p, "a", xl, yl, 3, NULL) == 0);
    s = render(p, "extremelog");
    CHECK(s && !strstr(s, "nan") && !strstr(s, "inf"));
    CHECK(s && strstr(s, ">1e-300<") && strstr(s, ">1e300<") && strstr(s, ">1e150<"));
    free(s);
    l1k_plot_free(p);
  }

  /* nothing to draw: an empty plot says so */
  {
    l1k_plot *p = l1k_plot_new("empty", "x", "y");
    char *s = render(p, "empty");
    CHECK(s && strstr(s, "no data"));
    free(s);
    double one[] = {5}, v[] = {7};
    CHECK(l1k_plot_line(p, "one point", one, v, 1, NULL) == 0);
    s = render(p, "one");
    CHECK(s && !strstr(s, "no data"));
    free(s);
    l1k_plot_free(p);
  }

  /* training curves straight from a trainer log (the trainer's training_loss.svg) */
  {
    char logp[512], cmd[1400];
    snprintf(logp, sizeof logp, "%s/trainer_log.jsonl", dir);
    FILE *f = fopen(logp, "w");
    CHECK(f != NULL);
    if (f) {
      for (int s = 1; s <= 50; s++) fprintf(f, "{\"step\": %d, \"loss\": %.4f, \"lr\": %.3e, \"tokens_per_s\": 100}\n", s, 2.0 / s + 0.5, 1e-5 * s / 50);
      fprintf(f, "{\"event\": \"save\", \"step\": 50}\n{\"step\": 51, \"lo");
      fclose(f);
    }
    int written = -1;
    long skipped = -1;
    CHECK(l1k_plot_train_log(logp, dir, &written, &skipped, &err) == 0);
    CHECK(written == 2 && skipped == 1);
    char path[600];
    snprintf(path, sizeof path, "%s/training_loss.svg", dir);
    char *s = l1k_read_file(path, NULL, &err);
    CHECK(s && strstr(s, "Training loss") && strstr(s, "1 line of the log skipped"));
    free(s);
    snprintf(path, sizeof path, "%s/learning_rate.svg", dir);
    s = l1k_read_file(path, NULL, &err);
    CHECK(s && strstr(s, "e-6<")); /* small values get exponent ticks */
    free(s);
    snprintf(cmd, sizeof cmd, "python3 -c 'import sys, xml.etree.ElementTree as E; [E.parse(a) for a in sys.argv[1:]]' '%s/training_loss.svg' '%s/learning_rate.svg'", dir, dir);
    CHECK(system(cmd) == 0);
    snprintf(path, sizeof path, "%s/no_such_log.jsonl", dir);
    CHECK(l1k_plot_train_log(path, dir, &written, NULL, &err) != 0 && strstr(err.msg, "no_such_log"));
    CHECK(l1k_plot_train_log(path, dir, NULL, NULL, NULL) != 0);
  }

  /* escaping helper */
  {
    l1k_buf b = {0};
    l1k_xml_escape(&b, "a<b>&\"c'\x01");
    CHECK(b.data && !strcmp(b.data, "a&lt;b&gt;&amp;&quot;c&#39; "));
    l1k_buf_free(&b);
  }

  l1k_rm_rf(dir, &err);
  CHECK_DONE();
}
