/* long1k — logging and progress bars.
 *
 * Messages go to stderr. Progress bars redraw in place on a terminal and print plain lines
 * (at most every few seconds) otherwise, so logs in files stay readable. The only mutable
 * global state in the library is the log level here.
 */
#ifndef LONG1K_LOG_H
#define LONG1K_LOG_H

#include <stdint.h>
#include <stdio.h>

enum { L1K_LOG_QUIET = 0, L1K_LOG_INFO = 1, L1K_LOG_DEBUG = 2 };
void l1k_log_set_level(int level);
int l1k_log_level(void);
void l1k_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void l1k_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void l1k_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Monotonic wall clock in seconds. */
double l1k_now(void);

typedef struct l1k_progress {
  char label[64];
  int64_t total;       /* <= 0: unknown total */
  int64_t done;
  double t_start, t_last_draw;
  int tty;             /* stderr is a terminal */
  int active;
  char extra[256];     /* free text shown after the bar, e.g. "loss 1.23 lr 1e-5" */
} l1k_progress;

void l1k_progress_begin(l1k_progress *p, const char *label, int64_t total);
/* Sets done and redraws if due. extra may be NULL (keeps the previous text). */
void l1k_progress_update(l1k_progress *p, int64_t done, const char *extra);
void l1k_progress_end(l1k_progress *p);

#endif
