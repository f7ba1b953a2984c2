/* long1k — logging and progress bars: see include/long1k/log.h. */
#include "long1k/log.h"

#include <stdarg.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int g_level = L1K_LOG_INFO; /* the one piece of global mutable state (DESIGN.md) */

void l1k_log_set_level(int level) { g_level = level; }
int l1k_log_level(void) { return g_level; }

static void vlog(const char *tag, const char *fmt, va_list ap) {
  if (tag) fputs(tag, stderr);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
}

void l1k_info(const char *fmt, ...) {
  if (g_level < L1K_LOG_INFO) return;
  va_list ap;
  va_start(ap, fmt);
  vlog(NULL, fmt, ap);
  va_end(ap);
}

void l1k_warn(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vlog("warning: ", fmt, ap);
  va_end(ap);
}

void l1k_debug(const char *fmt, ...) {
  if (g_level < L1K_LOG_DEBUG) return;
  va_list ap;
  va_start(ap, fmt);
  vlog("debug: ", fmt, ap);
  va_end(ap);
}

double l1k_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void fmt_eta(char *out, size_t n, double s) {
  if (s < 0 || s > 1e7) {
    snprintf(out, n, "--:--");
    return;
  }
  int t = (int)(s + 0.5);
  if (t >= 3600)
    snprintf(out, n, "%d:%02d:%02d", t / 3600, (t / 60) % 60, t % 60);
  else
    snprintf(out, n, "%02d:%02d", t / 60, t % 60);
}

static void draw(l1k_progress *p, int final) {
  double now = l1k_now(), el = now - p->t_start;
  char eta[32], elapsed[32];
  fmt_eta(elapsed, sizeof elapsed, el);
  if (p->total > 0 && p->done > 0)
    fmt_eta(eta, sizeof eta, el * (double)(p->total - p->done) / (double)p->done);
  else
    snprintf(eta, sizeof eta, "--:--");
  if (p->tty) {
    char bar[31];
    int w = 30, fill = 0;
    if (p->total > 0) fill = (int)(w * (double)p->done / (double)p->total);
    if (fill > w) fill = w;
    for (int i = 0; i < w; i++) bar[i] = i < fill ? '#' : (p->total > 0 ? '.' : ' ');
    bar[w] = 0;
    if (p->total > 0)
      fprintf(stderr, "\r\033[K%s [%s] %lld/%lld %s<%s %s", p->label, bar, (long long)p->done,
              (long long)p->total, elapsed, eta, p->extra);
    else
      fprintf(stderr, "\r\033[K%s %lld %s %s", p->label, (long long)p->done, elapsed, p->extra);
    if (final) fputc('\n', stderr);
  } else {
    if (p->total > 0)
      fprintf(stderr, "%s %lld/%lld elapsed %s eta %s %s\n", p->label, (long long)p->done,
              (long long)p->total, elapsed, eta, p->extra);
    else
      fprintf(stderr, "%s %lld elapsed %s %s\n", p->label, (long long)p->done, elapsed, p->extra);
  }
  fflush(stderr);
  p->t_last_draw = now;
}

void l1k_progress_begin(l1k_progress *p, const char *label, int64_t total) {
  memset(p, 0, sizeof *p);
  snprintf(p->label, sizeof p->label, "%s", label);
  p->total = total;
  p->t_start = p->t_last_draw = l1k_now();
  p->tty = isatty(2);
  p->active = g_level >= L1K_LOG_INFO;
}

void l1k_progress_update(l1k_progress *p, int64_t done, const char *extra) {
  if (!p->active) return;
  p->done = done;
  if (extra) snprintf(p->extra, sizeof p->extra, "%s", extra);
  double gap = p->tty ? 0.1 : 5.0;
  if (l1k_now() - p->t_last_draw >= gap) draw(p, 0);
}

void l1k_progress_end(l1k_progress *p) {
  if (!p->active) return;
  draw(p, 1);
  p->active = 0;
}
