/* long1k — small SVG plots (see include/long1k/plot.h). */
#include "long1k/plot.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "long1k/io.h"

enum { S_LINE, S_SCATTER, S_ERR, S_BAND, S_BARS };

typedef struct series {
  int kind;
  char *label;
  char color[32];
  int style; /* index for dash / marker */
  size_t n;
  double *x, *y, *lo, *hi; /* BAND: y unused; BARS: x = edges (n+1), y = heights */
} series;

struct l1k_plot {
  char *title, *xlabel, *ylabel;
  int w, h;
  int logx, logy;
  double xr[2], yr[2];
  series *s;
  size_t ns;
  char **notes;
  size_t nnotes;
  int next_color;
};

/* Okabe-Ito: distinguishable with colour blindness and in grey print (with dashes/markers). */
static const char *PALETTE[] = {"#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#F0E442"};
#define NPAL (sizeof PALETTE / sizeof PALETTE[0])
static const char *DASHES[] = {"", "6 3", "2 3", "8 3 2 3", "1 2", "10 4"};
#define NDASH (sizeof DASHES / sizeof DASHES[0])

static char *dup_or_null(const char *s) { return s ? strdup(s) : NULL; }

l1k_plot *l1k_plot_new(const char *title, const char *xlabel, const char *ylabel) {
  l1k_plot *p = calloc(1, sizeof *p);
  if (!p) return NULL;
  p->title = dup_or_null(title);
  p->xlabel = dup_or_null(xlabel);
  p->ylabel = dup_or_null(ylabel);
  if ((title && !p->title) || (xlabel && !p->xlabel) || (ylabel && !p->ylabel)) {
    l1k_plot_free(p);
    return NULL;
  }
  p->w = 640;
  p->h = 400;
  p->xr[0] = p->xr[1] = p->yr[0] = p->yr[1] = NAN;
  return p;
}

void l1k_plot_free(l1k_plot *p) {
  if (!p) return;
  for (size_t i = 0; i < p->ns; i++) {
    free(p->s[i].label);
    free(p->s[i].x);
    free(p->s[i].y);
    free(p->s[i].lo);
    free(p->s[i].hi);
  }
  for (size_t i = 0; i < p->nnotes; i++) free(p->notes[i]);
  free(p->notes);
  free(p->s);
  free(p->title);
  free(p->xlabel);
  free(p->ylabel);
  free(p);
}

void l1k_plot_size(l1k_plot *p, int width, int height) {
  if (width >= 120) p->w = width;
  if (height >= 100) p->h = height;
}
void l1k_plot_log_x(l1k_plot *p, int on) { p->logx = !!on; }
void l1k_plot_log_y(l1k_plot *p, int on) { p->logy = !!on; }
void l1k_plot_x_range(l1k_plot *p, double lo, double hi) {
  p->xr[0] = lo;
  p->xr[1] = hi;
}
void l1k_plot_y_range(l1k_plot *p, double lo, double hi) {
  p->yr[0] = lo;
  p->yr[1] = hi;
}

int l1k_plot_note(l1k_plot *p, const char *text) {
  char **q = realloc(p->notes, (p->nnotes + 1) * sizeof *q);
  if (!q) return L1K_ENOMEM;
  p->notes = q;
  if (!(q[p->nnotes] = strdup(text ? text : ""))) return L1K_ENOMEM;
  p->nnotes++;
  return 0;
}

static double *copy_arr(const double *a, size_t n) {
  if (!a) return NULL;
  double *c = malloc((n ? n : 1) * sizeof *c);
  if (c && n) memcpy(c, a, n * sizeof *c);
  return c;
}

static series *add_series(l1k_plot *p, int kind, const char *label, const char *color) {
  series *q = realloc(p->s, (p->ns + 1) * sizeof *q);
  if (!q) return NULL;
  p->s = q;
  series *s = &q[p->ns];
  memset(s, 0, sizeof *s);
  s->kind = kind;
  if (label && !(s->label = strdup(label))) return NULL;
  if (color) snprintf(s->color, sizeof s->color, "%s", color);
  else snprintf(s->color, sizeof s->color, "%s", PALETTE[p->next_color++ % NPAL]);
  int style = 0;
  for (size_t i = 0; i < p->ns; i++) style += p->s[i].kind == kind;
  s->style = style;
  p->ns++;
  return s;
}

static void drop_last(l1k_plot *p) {
  series *s = &p->s[--p->ns];
  free(s->label);
  free(s->x);
  free(s->y);
  free(s->lo);
  free(s->hi);
}

static int add_xy(l1k_plot *p, int kind, const char *label, const double *x, const double *y,
                  const double *lo, const double *hi, size_t n, size_t nx, const char *color) {
  series *s = add_series(p, kind, label, color);
  if (!s) return L1K_ENOMEM;
  s->n = n;
  s->x = copy_arr(x, nx);
  s->y = copy_arr(y, n);
  s->lo = copy_arr(lo, n);
  s->hi = copy_arr(hi, n);
  if (!s->x || (y && !s->y) || (lo && !s->lo) || (hi && !s->hi)) {
    drop_last(p);
    return L1K_ENOMEM;
  }
  return 0;
}

int l1k_plot_line(l1k_plot *p, const char *label, const double *x, const double *y, size_t n, const char *color) {
  return add_xy(p, S_LINE, label, x, y, NULL, NULL, n, n, color);
}
int l1k_plot_scatter(l1k_plot *p, const char *label, const double *x, const double *y, size_t n, const char *color) {
  return add_xy(p, S_SCATTER, label, x, y, NULL, NULL, n, n, color);
}
int l1k_plot_errorbars(l1k_plot *p, const char *label, const double *x, const double *y, const double *lo,
                       const double *hi, size_t n, const char *color) {
  return add_xy(p, S_ERR, label, x, y, lo, hi, n, n, color);
}
int l1k_plot_band(l1k_plot *p, const char *label, const double *x, const double *lo, const double *hi, size_t n,
                  const char *color) {
  return add_xy(p, S_BAND, label, x, NULL, lo, hi, n, n, color);
}
int l1k_plot_bars(l1k_plot *p, const char *label, const double *edges, const double *h, size_t n, const char *color) {
  return add_xy(p, S_BARS, label, edges, h, NULL, NULL, n, n + 1, color);
}

/* ---- text ------------------------------------------------------------------------------ */

int l1k_xml_escape(l1k_buf *b, const char *s) {
  if (!s) return 0;
  const char *run = s;
  for (; *s; s++) {
    const char *rep = NULL;
    switch (*s) {
      case '&': rep = "&amp;"; break;
      case '<': rep = "&lt;"; break;
      case '>': rep = "&gt;"; break;
      case '"': rep = "&quot;"; break;
      case '\'': rep = "&#39;"; break;
      default:
        /* control characters are not allowed in XML 1.0 */
        if ((unsigned char)*s < 0x20 && *s != '\n' && *s != '\t' && *s != '\r') rep = " ";
    }
    if (rep) {
      if (l1k_buf_append(b, run, (size_t)(s - run))) return L1K_ENOMEM;
      if (l1k_buf_puts(b, rep)) return L1K_ENOMEM;
      run = s + 1;
    }
  }
  return l1k_buf_append(b, run, (size_t)(s - run));
}

/* Compact tick label: 1500 -> "1.5k", 2e6 -> "2M", 0.25 -> "0.25". */
static void fmt_tick(char *t, size_t n, double v, double step) {
  double a = fabs(v);
  if (a < 1e-12 * (fabs(step) + 1e-300)) {
    snprintf(t, n, "0");
    return;
  }
  const char *suf = "";
  double div = 1;
  if (a >= 1e9 && fabs(step) >= 1e8) suf = "G", div = 1e9;
  else if (a >= 1e6 && fabs(step) >= 1e5) suf = "M", div = 1e6;
  else if (a >= 1e3 && fabs(step) >= 100) suf = "k", div = 1e3;
  if ((div == 1 && fabs(step) < 1e-3 && a < 1e-1) || a >= 1e12) { /* 1.2e-5 rather than 0.000012; 1e15 */
    int e = (int)floor(log10(a) + 1e-9);
    double m = v / pow(10, e);
    double sm = fabs(step) / pow(10, e);
    int dec = sm < 1 ? (int)ceil(-log10(sm) - 1e-9) : 0;
    if (dec > 4) dec = 4;
    snprintf(t, n, "%.*fe%d", dec, m, e);
    char *dot = strchr(t, '.');
    if (dot) {
      char *ee = strchr(t, 'e'), *q = ee;
      while (q > dot + 1 && q[-1] == '0') q--;
      if (q == dot + 1) q = dot;
      memmove(q, ee, strlen(ee) + 1);
    }
    return;
  }
  double sv = v / div, ss = fabs(step) / div;
  int dec = 0;
  if (ss > 0 && ss < 1) dec = (int)ceil(-log10(ss) - 1e-9);
  if (dec > 8) dec = 8;
  snprintf(t, n, "%.*f%s", dec, sv, suf);
  /* trim "1.50k" style zeros */
  char *dot = strchr(t, '.');
  if (dot) {
    size_t sl = strlen(suf);
    char *end = t + strlen(t) - sl;
    char *q = end;
    while (q > dot + 1 && q[-1] == '0') q--;
    if (q == dot + 1) q = dot;
    memmove(q, end, sl + 1);
  }
}

/* ---- scales and ticks ------------------------------------------------------------------- */

typedef struct {
  int log;
  double lo, hi; /* in data units */
  double p0, p1; /* pixel ends */
} scale;

static double sc(const scale *s, double v) {
  double t = s->log ? (log10(v) - log10(s->lo)) / (log10(s->hi) - log10(s->lo)) : (v - s->lo) / (s->hi - s->lo);
  return s->p0 + t * (s->p1 - s->p0);
}

static double nice_step(double range, int target) {
  double raw = range / target, mag = pow(10, floor(log10(raw))), f = raw / mag;
  double nf = f < 1.5 ? 1 : f < 3 ? 2 : f < 7 ? 5 : 10;
  return nf * mag;
}

/* Ticks in [lo, hi]; returns count (<= max). step_out gets a representative step for labels. */
static int make_ticks(const scale *s, double *t, int max, double *step_out, int *minor_flags) {
  int n = 0;
  minor_flags[0] = 0; /* set to 1 below when these are log ticks (labels per decade) */
  if (!s->log) {
    double st = nice_step(s->hi - s->lo, 5);
    *step_out = st;
    double v = ceil(s->lo / st - 1e-9) * st;
    for (; v <= s->hi + st * 1e-9 && n < max; v += st) {
      minor_flags[n] = 0;
      t[n++] = fabs(v) < st * 1e-9 ? 0 : v;
    }
    return n;
  }
  double d0 = floor(log10(s->lo)), d1 = ceil(log10(s->hi)), span = log10(s->hi) - log10(s->lo);
  static const double m125[] = {1, 2, 5}, m1_9[] = {1, 2, 3, 4, 5, 6, 7, 8, 9}, m1[] = {1};
  const double *ms;
  int nm;
  if (span > 4) ms = m1, nm = 1;
  else if (span > 0.8) ms = m125, nm = 3;
  else ms = m1_9, nm = 9;
  double dstep = span > 10 ? ceil(span / 8) : 1;
  d0 = floor(d0 / dstep) * dstep;
  for (double d = d0; d <= d1 && n < max; d += dstep) {
    for (int k = 0; k < nm && n < max; k++) {
      double v = ms[k] * pow(10, d);
      if (v < s->lo * (1 - 1e-9) || v > s->hi * (1 + 1e-9)) continue;
      minor_flags[n] = 0;
      t[n++] = v;
    }
  }
  if (n < 2 && span <= 0.8) {
    /* a very narrow log range: fall back to linear nice ticks */
    scale lin = *s;
    lin.log = 0;
    return make_ticks(&lin, t, max, step_out, minor_flags);
  }
  minor_flags[0] = 1;
  /* label precision: the smallest gap between ticks */
  double st = INFINITY;
  for (int i = 1; i < n; i++)
    if (t[i] - t[i - 1] < st) st = t[i] - t[i - 1];
  *step_out = isfinite(st) ? st : t[0];
  return n;
}

/* Drawable: finite, within +-1e300 (so that ranges and padding never overflow), and >= 1e-300 on
 * a log axis. */
static int usable(const l1k_plot *p, int axis_log, double v) {
  return isfinite(v) && fabs(v) <= 1e300 && (!axis_log || v >= 1e-300);
}

/* Data extent of all series; counts points that cannot be drawn. */
static void extent(const l1k_plot *p, double xr[2], double yr[2], size_t *skipped) {
  xr[0] = yr[0] = INFINITY;
  xr[1] = yr[1] = -INFINITY;
  *skipped = 0;
#define XT(v)                                \
  do {                                       \
    if (v < xr[0]) xr[0] = v;                \
    if (v > xr[1]) xr[1] = v;                \
  } while (0)
#define YT(v)                                \
  do {                                       \
    if (v < yr[0]) yr[0] = v;                \
    if (v > yr[1]) yr[1] = v;                \
  } while (0)
  for (size_t k = 0; k < p->ns; k++) {
    const series *s = &p->s[k];
    if (s->kind == S_BARS) {
      for (size_t i = 0; i < s->n; i++) {
        double x0 = s->x[i], x1 = s->x[i + 1], h = s->y[i];
        if (!usable(p, p->logx, x0) || !usable(p, p->logx, x1) || !usable(p, p->logy, h)) {
          if (!(isfinite(h) && h == 0 && p->logy)) (*skipped)++;
          continue;
        }
        XT(x0);
        XT(x1);
        YT(h);
        if (!p->logy) YT(0.0);
      }
      continue;
    }
    for (size_t i = 0; i < s->n; i++) {
      double x = s->x[i];
      if (s->kind == S_BAND) {
        if (!usable(p, p->logx, x) || !usable(p, p->logy, s->lo[i]) || !usable(p, p->logy, s->hi[i])) {
          (*skipped)++;
          continue;
        }
        XT(x);
        YT(s->lo[i]);
        YT(s->hi[i]);
        continue;
      }
      if (!usable(p, p->logx, x) || !usable(p, p->logy, s->y[i])) {
        (*skipped)++;
        continue;
      }
      XT(x);
      YT(s->y[i]);
      if (s->kind == S_ERR) {
        if (s->lo && usable(p, p->logy, s->lo[i])) YT(s->lo[i]);
        if (s->hi && usable(p, p->logy, s->hi[i])) YT(s->hi[i]);
      }
    }
  }
#undef XT
#undef YT
}

static void finish_range(double r[2], const double fixed[2], int log) {
  if (!(r[0] <= r[1])) { /* no data */
    r[0] = log ? 1 : 0;
    r[1] = log ? 10 : 1;
  }
  if (log) {
    double a = log10(r[0]), b = log10(r[1]);
    if (b - a < 1e-9) a -= 0.5, b += 0.5;
    double pad = 0.05 * (b - a);
    r[0] = pow(10, a - pad > -300 ? a - pad : -300);
    r[1] = pow(10, b + pad < 300 ? b + pad : 300);
  } else {
    if (r[1] - r[0] < 1e-12 * (fabs(r[0]) + 1)) {
      double d = fabs(r[0]) > 0 ? fabs(r[0]) * 0.1 : 1;
      r[0] -= d;
      r[1] += d;
    }
    double pad = 0.05 * (r[1] - r[0]);
    int zero_based = r[0] == 0;
    r[0] = zero_based ? 0 : r[0] - pad;
    r[1] += pad;
  }
  if (isfinite(fixed[0])) r[0] = fixed[0];
  if (isfinite(fixed[1])) r[1] = fixed[1];
  if (!(r[1] > r[0])) r[1] = r[0] + 1;
  if (log && !(r[0] > 0)) {
    r[0] = 1e-12;
    if (!(r[1] > r[0])) r[1] = 1;
  }
}

/* ---- rendering ------------------------------------------------------------------------- */

static void fnv(uint64_t *h, const void *d, size_t n) { *h = l1k_fnv1a64(d, n, *h); }

static void marker(l1k_buf *b, int style, double x, double y, const char *color) {
  double r = 3.8;
  switch (style % 4) {
    case 0: l1k_buf_printf(b, "<circle cx=\"%.2f\" cy=\"%.2f\" r=\"%.1f\" fill=\"%s\" stroke=\"#fff\" stroke-width=\"0.8\"/>", x, y, r, color); break;
    case 1: l1k_buf_printf(b, "<rect x=\"%.2f\" y=\"%.2f\" width=\"%.1f\" height=\"%.1f\" fill=\"%s\" stroke=\"#fff\" stroke-width=\"0.8\"/>", x - r, y - r, 2 * r, 2 * r, color); break;
    case 2: l1k_buf_printf(b, "<path d=\"M%.2f %.2fL%.2f %.2fL%.2f %.2fZ\" fill=\"%s\" stroke=\"#fff\" stroke-width=\"0.8\"/>", x, y - r * 1.2, x + r * 1.1, y + r * 0.8, x - r * 1.1, y + r * 0.8, color); break;
    default: l1k_buf_printf(b, "<path d=\"M%.2f %.2fL%.2f %.2fL%.2f %.2fL%.2f %.2fZ\" fill=\"%s\" stroke=\"#fff\" stroke-width=\"0.8\"/>", x, y - r * 1.3, x + r * 1.3, y, x, y + r * 1.3, x - r * 1.3, y, color); break;
  }
}

int l1k_plot_svg(const l1k_plot *p, l1k_buf *b) {
  double xr[2], yr[2];
  size_t skipped;
  extent(p, xr, yr, &skipped);
  int have_data = xr[0] <= xr[1];
  finish_range(xr, p->xr, p->logx);
  finish_range(yr, p->yr, p->logy);

  /* legend entries */
  size_t nleg = 0;
  for (size_t k = 0; k < p->ns; k++) nleg += p->s[k].label != NULL;

  double W = p->w, H = p->h;
  double ml = 68, mr = 18, mt = p->title ? 34 : 14, mb = 50 + 14.0 * (double)(p->nnotes + (skipped > 0));
  if (H - mt - mb < 60) mb = H - mt - 60;
  scale sx = {p->logx, xr[0], xr[1], ml, W - mr};
  scale sy = {p->logy, yr[0], yr[1], H - mb, mt};
  if (!p->logy && !isfinite(p->yr[0]) && !isfinite(p->yr[1])) {
    /* snap a linear y axis to nice tick bounds */
    double st = nice_step(yr[1] - yr[0], 5);
    sy.lo = floor(yr[0] / st + 1e-9) * st;
    sy.hi = ceil(yr[1] / st - 1e-9) * st;
    if (!(sy.hi > sy.lo)) sy.hi = sy.lo + st;
  }

  /* legend: in the corner of the plot area with the fewest data points */
  double lw = 0, lh = 0, lx = 0, ly = 0, extra_h = 0;
  if (nleg) {
    for (size_t k = 0; k < p->ns; k++)
      if (p->s[k].label) {
        double wl = 34 + 6.3 * (double)strlen(p->s[k].label);
        if (wl > lw) lw = wl;
      }
    if (lw > W - ml - mr - 10) lw = W - ml - mr - 10;
    lh = 8 + 17.0 * (double)nleg;
    size_t cnt[4] = {0, 0, 0, 0};
    double cx0 = ml + 4, cx1 = W - mr - 4 - lw, cy0 = mt + 4, cy1 = H - mb - 4 - lh;
    for (size_t k = 0; k < p->ns; k++) {
      const series *s = &p->s[k];
      for (size_t i = 0; i < s->n; i++) {
        double yv = s->kind == S_BAND ? s->hi[i] : s->y[i];
        if (!usable(p, p->logx, s->x[i]) || !usable(p, p->logy, yv)) continue;
        double X = sc(&sx, s->x[i]), Y = sc(&sy, yv);
        for (int c = 0; c < 4; c++) {
          double qx = (c & 1) ? cx1 : cx0, qy = (c & 2) ? cy1 : cy0;
          if (X >= qx - 4 && X <= qx + lw + 4 && Y >= qy - 4 && Y <= qy + lh + 4) cnt[c]++;
          if (s->kind == S_BARS && X >= qx && X <= qx + lw && Y <= qy + lh) cnt[c]++;
        }
      }
    }
    static const int pref[4] = {0, 1, 3, 2}; /* top-left, top-right, bottom-right, bottom-left */
    int best = pref[0];
    for (int q = 1; q < 4; q++)
      if (cnt[pref[q]] < cnt[best]) best = pref[q];
    lx = (best & 1) ? cx1 : cx0;
    ly = (best & 2) ? cy1 : cy0;
    if (cnt[best] > 0) { /* every corner covers data: put the legend under the plot */
      lx = ml;
      ly = H + 2;
      extra_h = lh + 8;
    }
  }

  uint64_t h = 1469598103934665603ULL;
  fnv(&h, &p->w, sizeof p->w);
  if (p->title) fnv(&h, p->title, strlen(p->title));
  for (size_t k = 0; k < p->ns; k++) {
    const series *s = &p->s[k];
    fnv(&h, &s->kind, sizeof s->kind);
    fnv(&h, s->x, (s->n + (s->kind == S_BARS)) * sizeof(double));
    if (s->y) fnv(&h, s->y, s->n * sizeof(double));
  }
  char cid[32];
  snprintf(cid, sizeof cid, "l1kc%016llx", (unsigned long long)h);

  l1k_buf_printf(b,
                 "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" "
                 "role=\"img\" font-family=\"Helvetica, Arial, sans-serif\" class=\"l1k-plot\">\n",
                 p->w, (int)(H + extra_h), p->w, (int)(H + extra_h));
  if (p->title) {
    l1k_buf_puts(b, "<title>");
    l1k_xml_escape(b, p->title);
    l1k_buf_puts(b, "</title>\n");
  }
  l1k_buf_printf(b, "<rect x=\"0\" y=\"0\" width=\"%d\" height=\"%d\" fill=\"#ffffff\"/>\n", p->w, (int)(H + extra_h));
  l1k_buf_printf(b, "<defs><clipPath id=\"%s\"><rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\"/></clipPath></defs>\n",
                 cid, ml, mt, W - ml - mr, H - mt - mb);
  if (p->title) {
    l1k_buf_printf(b, "<text x=\"%.1f\" y=\"22\" font-size=\"15\" font-weight=\"bold\" fill=\"#222\">", ml);
    l1k_xml_escape(b, p->title);
    l1k_buf_puts(b, "</text>\n");
  }

  /* grid and ticks */
  double t[64], stx, sty;
  int mf[64];
  int ntx = make_ticks(&sx, t, 64, &stx, mf), ntx_log = mf[0];
  l1k_buf_puts(b, "<g class=\"grid\" stroke=\"#e3e3e3\" stroke-width=\"1\">\n");
  for (int i = 0; i < ntx; i++) {
    double X = sc(&sx, t[i]);
    l1k_buf_printf(b, "<line x1=\"%.2f\" y1=\"%.1f\" x2=\"%.2f\" y2=\"%.1f\"/>", X, mt, X, H - mb);
  }
  double ty[64];
  int nty = make_ticks(&sy, ty, 64, &sty, mf), nty_log = mf[0];
  for (int i = 0; i < nty; i++) {
    double Y = sc(&sy, ty[i]);
    l1k_buf_printf(b, "<line x1=\"%.1f\" y1=\"%.2f\" x2=\"%.1f\" y2=\"%.2f\"/>", ml, Y, W - mr, Y);
  }
  l1k_buf_puts(b, "\n</g>\n<g class=\"ticks\" font-size=\"11\" fill=\"#333\">\n");
  char lab[64];
  for (int i = 0; i < ntx; i++) {
    double X = sc(&sx, t[i]);
    fmt_tick(lab, sizeof lab, t[i], sx.log && ntx_log ? pow(10, floor(log10(t[i]) + 1e-9)) : stx);
    l1k_buf_printf(b, "<line x1=\"%.2f\" y1=\"%.1f\" x2=\"%.2f\" y2=\"%.1f\" stroke=\"#333\"/>", X, H - mb, X, H - mb + 4);
    l1k_buf_printf(b, "<text x=\"%.2f\" y=\"%.1f\" text-anchor=\"middle\">%s</text>\n", X, H - mb + 16, lab);
  }
  for (int i = 0; i < nty; i++) {
    double Y = sc(&sy, ty[i]);
    fmt_tick(lab, sizeof lab, ty[i], sy.log && nty_log ? pow(10, floor(log10(ty[i]) + 1e-9)) : sty);
    l1k_buf_printf(b, "<line x1=\"%.1f\" y1=\"%.2f\" x2=\"%.1f\" y2=\"%.2f\" stroke=\"#333\"/>", ml - 4, Y, ml, Y);
    l1k_buf_printf(b, "<text x=\"%.1f\" y=\"%.2f\" text-anchor=\"end\">%s</text>\n", ml - 7, Y + 3.8, lab);
  }
  l1k_buf_puts(b, "</g>\n");
  l1k_buf_printf(b, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"none\" stroke=\"#555\" stroke-width=\"1\"/>\n",
                 ml, mt, W - ml - mr, H - mt - mb);
  if (p->xlabel) {
    l1k_buf_printf(b, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"13\" text-anchor=\"middle\" fill=\"#222\">", (ml + W - mr) / 2, H - mb + 36);
    l1k_xml_escape(b, p->xlabel);
    if (p->logx) l1k_buf_puts(b, " (log scale)");
    l1k_buf_puts(b, "</text>\n");
  }
  if (p->ylabel) {
    double cy = (mt + H - mb) / 2;
    l1k_buf_printf(b, "<text x=\"16\" y=\"%.1f\" font-size=\"13\" text-anchor=\"middle\" fill=\"#222\" transform=\"rotate(-90 16 %.1f)\">", cy, cy);
    l1k_xml_escape(b, p->ylabel);
    if (p->logy) l1k_buf_puts(b, " (log scale)");
    l1k_buf_puts(b, "</text>\n");
  }

  /* data: bands and bars first, then lines, then markers */
  l1k_buf_printf(b, "<g clip-path=\"url(#%s)\">\n", cid);
  static const int order[] = {S_BAND, S_BARS, S_LINE, S_ERR, S_SCATTER};
  for (int oi = 0; oi < 5; oi++) {
    for (size_t k = 0; k < p->ns; k++) {
      const series *s = &p->s[k];
      if (s->kind != order[oi]) continue;
      if (s->kind == S_BAND) {
        /* each run of drawable points becomes one polygon */
        size_t i = 0;
        while (i < s->n) {
          while (i < s->n && !(usable(p, p->logx, s->x[i]) && usable(p, p->logy, s->lo[i]) && usable(p, p->logy, s->hi[i]))) i++;
          size_t j = i;
          while (j < s->n && usable(p, p->logx, s->x[j]) && usable(p, p->logy, s->lo[j]) && usable(p, p->logy, s->hi[j])) j++;
          if (j > i) {
            l1k_buf_printf(b, "<path fill=\"%s\" fill-opacity=\"0.18\" stroke=\"none\" d=\"", s->color);
            for (size_t q = i; q < j; q++) l1k_buf_printf(b, "%s%.2f %.2f", q == i ? "M" : "L", sc(&sx, s->x[q]), sc(&sy, s->hi[q]));
            for (size_t q = j; q-- > i;) l1k_buf_printf(b, "L%.2f %.2f", sc(&sx, s->x[q]), sc(&sy, s->lo[q]));
            l1k_buf_puts(b, "Z\"/>\n");
          }
          i = j;
        }
      } else if (s->kind == S_BARS) {
        l1k_buf_printf(b, "<g fill=\"%s\" fill-opacity=\"0.45\" stroke=\"%s\" stroke-width=\"1\">", s->color, s->color);
        double base = p->logy ? sy.lo : 0;
        for (size_t i = 0; i < s->n; i++) {
          double x0 = s->x[i], x1 = s->x[i + 1], hh = s->y[i];
          if (!usable(p, p->logx, x0) || !usable(p, p->logx, x1) || !usable(p, p->logy, hh)) continue;
          double X0 = sc(&sx, x0), X1 = sc(&sx, x1), Y0 = sc(&sy, base < sy.lo ? sy.lo : base), Y1 = sc(&sy, hh);
          if (X1 < X0) {
            double tt = X0;
            X0 = X1;
            X1 = tt;
          }
          l1k_buf_printf(b, "<rect x=\"%.2f\" y=\"%.2f\" width=\"%.2f\" height=\"%.2f\"/>", X0, Y1 < Y0 ? Y1 : Y0, X1 - X0,
                         fabs(Y0 - Y1));
        }
        l1k_buf_puts(b, "</g>\n");
      } else if (s->kind == S_LINE) {
        const char *dash = DASHES[s->style % NDASH];
        int open = 0;
        for (size_t i = 0; i < s->n; i++) {
          if (!usable(p, p->logx, s->x[i]) || !usable(p, p->logy, s->y[i])) {
            if (open) l1k_buf_puts(b, "\"/>\n");
            open = 0;
            continue;
          }
          if (!open) {
            l1k_buf_printf(b, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2\" stroke-linejoin=\"round\"%s%s%s points=\"",
                           s->color, dash[0] ? " stroke-dasharray=\"" : "", dash, dash[0] ? "\"" : "");
            open = 1;
          } else {
            l1k_buf_puts(b, " ");
          }
          l1k_buf_printf(b, "%.2f,%.2f", sc(&sx, s->x[i]), sc(&sy, s->y[i]));
        }
        if (open) l1k_buf_puts(b, "\"/>\n");
      } else {
        for (size_t i = 0; i < s->n; i++) {
          if (!usable(p, p->logx, s->x[i]) || !usable(p, p->logy, s->y[i])) continue;
          double X = sc(&sx, s->x[i]), Y = sc(&sy, s->y[i]);
          if (s->kind == S_ERR && s->lo && s->hi && usable(p, p->logy, s->lo[i]) && usable(p, p->logy, s->hi[i])) {
            double Ylo = sc(&sy, s->lo[i]), Yhi = sc(&sy, s->hi[i]);
            l1k_buf_printf(b,
                           "<path d=\"M%.2f %.2fL%.2f %.2fM%.2f %.2fL%.2f %.2fM%.2f %.2fL%.2f %.2f\" stroke=\"%s\" stroke-width=\"1.3\" fill=\"none\"/>",
                           X, Ylo, X, Yhi, X - 4, Ylo, X + 4, Ylo, X - 4, Yhi, X + 4, Yhi, s->color);
          }
          marker(b, s->style, X, Y, s->color);
        }
        l1k_buf_puts(b, "\n");
      }
    }
  }
  l1k_buf_puts(b, "</g>\n");
  if (!have_data) {
    l1k_buf_printf(b, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"14\" text-anchor=\"middle\" fill=\"#888\">no data</text>\n",
                   (ml + W - mr) / 2, (mt + H - mb) / 2);
  }

  if (nleg) {
    l1k_buf_printf(b, "<g class=\"legend\" font-size=\"11.5\" fill=\"#222\">\n<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"#ffffff\" fill-opacity=\"0.88\" stroke=\"#bbb\"/>\n",
                   lx, ly, lw, lh);
    double yy = ly + 4 + 8.5;
    for (size_t k = 0; k < p->ns; k++) {
      const series *s = &p->s[k];
      if (!s->label) continue;
      double x0 = lx + 6, x1 = lx + 26;
      if (s->kind == S_LINE) {
        const char *dash = DASHES[s->style % NDASH];
        l1k_buf_printf(b, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" stroke-width=\"2\"%s%s%s/>", x0, yy, x1, yy,
                       s->color, dash[0] ? " stroke-dasharray=\"" : "", dash, dash[0] ? "\"" : "");
      } else if (s->kind == S_BAND || s->kind == S_BARS) {
        l1k_buf_printf(b, "<rect x=\"%.1f\" y=\"%.1f\" width=\"20\" height=\"10\" fill=\"%s\" fill-opacity=\"%s\" stroke=\"%s\" stroke-opacity=\"%s\"/>",
                       x0, yy - 5, s->color, s->kind == S_BAND ? "0.18" : "0.45", s->color, s->kind == S_BAND ? "0" : "1");
      } else {
        marker(b, s->style, (x0 + x1) / 2, yy, s->color);
      }
      l1k_buf_printf(b, "<text x=\"%.1f\" y=\"%.1f\">", x1 + 6, yy + 4);
      l1k_xml_escape(b, s->label);
      l1k_buf_puts(b, "</text>\n");
      yy += 17;
    }
    l1k_buf_puts(b, "</g>\n");
  }

  /* notes */
  double ny = H - mb + 50;
  if (skipped) {
    l1k_buf_printf(b, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"11\" fill=\"#a33\">%zu point%s not drawn (not finite, beyond 1e300%s)</text>\n", ml, ny,
                   skipped, skipped == 1 ? "" : "s", p->logx || p->logy ? ", or not positive on a log axis" : "");
    ny += 14;
  }
  for (size_t i = 0; i < p->nnotes; i++) {
    l1k_buf_printf(b, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"11\" fill=\"#555\">", ml, ny);
    l1k_xml_escape(b, p->notes[i]);
    l1k_buf_puts(b, "</text>\n");
    ny += 14;
  }
  return l1k_buf_puts(b, "</svg>\n") ? L1K_ENOMEM : 0;
}

int l1k_plot_write_svg(const l1k_plot *p, const char *path, l1k_err *err) {
  l1k_buf b = {0};
  if (l1k_buf_puts(&b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n") || l1k_plot_svg(p, &b)) {
    l1k_buf_free(&b);
    return l1k_errf(err, L1K_ENOMEM, "%s: out of memory while drawing the plot", path);
  }
  int rc = l1k_write_file_atomic(path, b.data, b.len, err);
  l1k_buf_free(&b);
  return rc;
}

/* ---- the fitted law --------------------------------------------------------------------- */

int l1k_plot_fit(l1k_plot *p, const l1k_fit_result *r, const l1k_fit_data *d, const char *label) {
  enum { NL = 60 };
  l1k_plot_log_x(p, 1);
  const char *color = PALETTE[p->next_color++ % NPAL];
  char lab[256];
  double *xs = malloc(NL * sizeof *xs), *ys = malloc(NL * sizeof *ys), *lo = malloc(NL * sizeof *lo), *hi = malloc(NL * sizeof *hi);
  size_t n = d->count;
  double *py = malloc((n ? n : 1) * sizeof *py), *plo = malloc((n ? n : 1) * sizeof *plo), *phi = malloc((n ? n : 1) * sizeof *phi);
  int rc = 0;
  if (!xs || !ys || !lo || !hi || !py || !plo || !phi) {
    rc = L1K_ENOMEM;
    goto done;
  }
  double l0 = log(r->x_min), l1 = log(r->x_max);
  for (int i = 0; i < NL; i++) {
    xs[i] = exp(l0 + (l1 - l0) * i / (NL - 1));
    ys[i] = l1k_fit_predict(r, xs[i], &lo[i], &hi[i]);
  }
  int lv = (int)llround(r->level * 100);
  if (r->boot_ok > 0) {
    snprintf(lab, sizeof lab, "%s%s%d%% band (bootstrap)", label ? label : "", label ? ": " : "", lv);
    if ((rc = l1k_plot_band(p, lab, xs, lo, hi, NL, color))) goto done;
  }
  snprintf(lab, sizeof lab, "%s%sy = %.4g %s %.4g ln x (R\xc2\xb2 %.3f)", label ? label : "", label ? ": " : "", r->a,
           r->b < 0 ? "-" : "+", fabs(r->b), r->r2);
  if ((rc = l1k_plot_line(p, lab, xs, ys, NL, color))) goto done;
  for (size_t i = 0; i < n; i++) {
    py[i] = d->y[i];
    plo[i] = phi[i] = NAN;
    if (d->n) { /* normal-approximation 95% interval of the proportion */
      double s = r->y_scale, pp = d->y[i] / s, se = sqrt(pp * (1 - pp) / d->n[i]) * s;
      plo[i] = d->y[i] - 1.96 * se;
      phi[i] = d->y[i] + 1.96 * se;
    }
  }
  snprintf(lab, sizeof lab, "%s%s%s", label ? label : "", label ? ": " : "", d->n ? "measured (\xc2\xb1" "1.96 SE)" : "measured");
  rc = l1k_plot_errorbars(p, lab, d->x, py, plo, phi, n, color);
done:
  free(xs);
  free(ys);
  free(lo);
  free(hi);
  free(py);
  free(plo);
  free(phi);
  return rc;
}
