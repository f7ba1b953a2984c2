/* long1k — the demo's built-in pool of solved toy problems (see include/long1k/demo.h). */
#include <inttypes.h>
#include <stdarg.h>
#include <string.h>

#include "long1k/demo.h"
#include "long1k/jsonl.h"
#include "long1k/rng.h"

static int64_t rand_digits(uint64_t *s, int digits) {
  int64_t lo = 1, hi;
  for (int i = 1; i < digits; i++) lo *= 10;
  hi = lo * 10 - 1;
  if (digits == 1) lo = 0;
  return lo + (int64_t)(l1k_splitmix64(s) % (uint64_t)(hi - lo + 1));
}

typedef struct {
  char *buf;
  size_t cap, len;
} sb;

static void sb_printf(sb *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(sb *b, const char *fmt, ...) {
  if (b->len >= b->cap) return;
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(b->buf + b->len, b->cap - b->len, fmt, ap);
  va_end(ap);
  if (n > 0) b->len += (size_t)n;
  if (b->len >= b->cap) b->len = b->cap - 1;
}

/* Digits of the second operand: uniform in [min_digits, d], so that small numbers are not
 * over-represented (1-digit pairs are only 100 problems, most of which would be duplicates). */
static int other_digits(uint64_t *s, int d, const l1k_toy_opts *o) {
  int lo = o->min_digits < 1 ? 1 : o->min_digits;
  if (lo > d) lo = d;
  return lo + (int)(l1k_splitmix64(s) % (uint64_t)(d - lo + 1));
}

static const char *place[] = {"ones", "tens", "hundreds", "thousands", "ten thousands",
                              "hundred thousands", "millions", "ten millions", "hundred millions"};

static int ndigits(int64_t v) {
  int n = 1;
  while (v >= 10) {
    v /= 10;
    n++;
  }
  return n;
}

static int digit_at(int64_t v, int i) {
  while (i-- > 0) v /= 10;
  return (int)(v % 10);
}

/* The lowest `k` digits of c (leading zeros kept), then ".\n": the result as it grows column
 * by column, so that reading the answer is copying the last of these, not collecting the
 * written digits in reverse order. */
static void so_far(sb *r, int64_t c, int k) {
  for (int i = k - 1; i >= 0; i--) sb_printf(r, "%d", digit_at(c, i));
  sb_printf(r, ".\n");
}

static void gen_add(uint64_t *s, int d, const l1k_toy_opts *o, l1k_toy_problem *p) {
  int64_t a = rand_digits(s, d), b = rand_digits(s, other_digits(s, d, o));
  int64_t c = a + b;
  snprintf(p->problem, sizeof p->problem, "Compute %" PRId64 " + %" PRId64 ".", a, b);
  sb r = {p->reasoning, sizeof p->reasoning, 0};
  sb_printf(&r, "I add the numbers column by column, starting from the ones.\n");
  int carry = 0, n = ndigits(a > b ? a : b);
  for (int i = 0; i < n; i++) {
    int x = digit_at(a, i), y = digit_at(b, i), t = x + y + carry;
    sb_printf(&r, "%s: %d + %d + %d = %d, write %d, carry %d, digits so far ", place[i], x, y, carry, t, t % 10, t / 10);
    so_far(&r, c, i + 1);
    carry = t / 10;
  }
  if (carry) {
    sb_printf(&r, "The last carry %d becomes the leading digit, digits so far ", carry);
    so_far(&r, c, n + 1);
  }
  sb_printf(&r, "Reading the digits from the top: %" PRId64 ".", c);
  if (o->verbose)
    sb_printf(&r, "\nCheck: %" PRId64 " - %" PRId64 " = %" PRId64 ". Correct.", c, b, a);
  snprintf(p->solution, sizeof p->solution, "%" PRId64 " + %" PRId64 " = %" PRId64 ". The answer is \\boxed{%" PRId64 "}.", a, b, c, c);
  snprintf(p->answer, sizeof p->answer, "%" PRId64, c);
  snprintf(p->domain, sizeof p->domain, "arithmetic");
}

static void gen_sub(uint64_t *s, int d, const l1k_toy_opts *o, l1k_toy_problem *p) {
  int64_t a = rand_digits(s, d), b = rand_digits(s, other_digits(s, d, o));
  if (b > a) {
    int64_t t = a;
    a = b;
    b = t;
  }
  int64_t c = a - b;
  snprintf(p->problem, sizeof p->problem, "Compute %" PRId64 " - %" PRId64 ".", a, b);
  sb r = {p->reasoning, sizeof p->reasoning, 0};
  sb_printf(&r, "I subtract column by column, starting from the ones.\n");
  int borrow = 0, n = ndigits(a);
  for (int i = 0; i < n; i++) {
    int x = digit_at(a, i) - borrow, y = digit_at(b, i);
    if (x < y) {
      sb_printf(&r, "%s: %d - %d needs a borrow, %d - %d = %d, write %d, borrow 1, digits so far ", place[i], x, y,
                x + 10, y, x + 10 - y, x + 10 - y);
      borrow = 1;
    } else {
      sb_printf(&r, "%s: %d - %d = %d, write %d, borrow 0, digits so far ", place[i], x, y, x - y, x - y);
      borrow = 0;
    }
    so_far(&r, c, i + 1);
  }
  if (ndigits(c) < n)
    sb_printf(&r, "Dropping the leading zeros: %" PRId64 ".\n", c);
  sb_printf(&r, "Reading the digits from the top: %" PRId64 ".", c);
  if (o->verbose)
    sb_printf(&r, "\nCheck: %" PRId64 " + %" PRId64 " = %" PRId64 ". Correct.", c, b, a);
  snprintf(p->solution, sizeof p->solution, "%" PRId64 " - %" PRId64 " = %" PRId64 ". The answer is \\boxed{%" PRId64 "}.", a, b, c, c);
  snprintf(p->answer, sizeof p->answer, "%" PRId64, c);
  snprintf(p->domain, sizeof p->domain, "arithmetic");
}

static void gen_mul(uint64_t *s, int d, const l1k_toy_opts *o, l1k_toy_problem *p) {
  int64_t a = rand_digits(s, d), b = 2 + (int64_t)(l1k_splitmix64(s) % 8);
  int64_t c = a * b;
  snprintf(p->problem, sizeof p->problem, "Compute %" PRId64 " * %" PRId64 ".", a, b);
  sb r = {p->reasoning, sizeof p->reasoning, 0};
  sb_printf(&r, "I multiply each digit by %" PRId64 ", starting from the ones.\n", b);
  int carry = 0, n = ndigits(a);
  for (int i = 0; i < n; i++) {
    int x = digit_at(a, i), t = x * (int)b + carry;
    sb_printf(&r, "%s: %d * %d + %d = %d, write %d, carry %d, digits so far ", place[i], x, (int)b, carry, t, t % 10, t / 10);
    so_far(&r, c, i + 1);
    carry = t / 10;
  }
  if (carry) {
    sb_printf(&r, "The last carry %d becomes the leading digit, digits so far ", carry);
    so_far(&r, c, n + ndigits(carry));
  }
  sb_printf(&r, "Reading the digits from the top: %" PRId64 ".", c);
  if (o->verbose) sb_printf(&r, "\nCheck: %" PRId64 " / %" PRId64 " = %" PRId64 ". Correct.", c, b, a);
  snprintf(p->solution, sizeof p->solution, "%" PRId64 " * %" PRId64 " = %" PRId64 ". The answer is \\boxed{%" PRId64 "}.", a, b, c, c);
  snprintf(p->answer, sizeof p->answer, "%" PRId64, c);
  snprintf(p->domain, sizeof p->domain, "arithmetic");
}

static void gen_linear(uint64_t *s, int d, const l1k_toy_opts *o, l1k_toy_problem *p) {
  int64_t a = 2 + (int64_t)(l1k_splitmix64(s) % 8), x = rand_digits(s, d > 3 ? 3 : d);
  int64_t b = rand_digits(s, d), c = a * x + b;
  snprintf(p->problem, sizeof p->problem, "Solve %" PRId64 "x + %" PRId64 " = %" PRId64 " for x.", a, b, c);
  sb r = {p->reasoning, sizeof p->reasoning, 0};
  sb_printf(&r, "Subtract %" PRId64 " from both sides: %" PRId64 "x = %" PRId64 " - %" PRId64 " = %" PRId64 ".\n", b, a, c, b, c - b);
  sb_printf(&r, "Divide both sides by %" PRId64 ": x = %" PRId64 " / %" PRId64 " = %" PRId64 ".", a, c - b, a, x);
  if (o->verbose)
    sb_printf(&r, "\nCheck: %" PRId64 " * %" PRId64 " + %" PRId64 " = %" PRId64 " + %" PRId64 " = %" PRId64 ". Correct.", a, x, b, a * x, b, c);
  snprintf(p->solution, sizeof p->solution, "x = %" PRId64 ". The answer is \\boxed{%" PRId64 "}.", x, x);
  snprintf(p->answer, sizeof p->answer, "%" PRId64, x);
  snprintf(p->domain, sizeof p->domain, "algebra");
}

void l1k_toy_default_opts(l1k_toy_opts *o) {
  o->min_digits = 2;
  o->max_digits = 5;
  o->kinds = 15;
  o->verbose = 1;
}

void l1k_toy_generate(uint64_t seed, uint64_t index, const l1k_toy_opts *o, l1k_toy_problem *p) {
  memset(p, 0, sizeof *p);
  uint64_t s = seed * 0x9E3779B97F4A7C15ULL ^ (index + 1) * 0xD1B54A32D192ED03ULL;
  l1k_splitmix64(&s);
  int lo = o->min_digits < 1 ? 1 : o->min_digits, hi = o->max_digits > 7 ? 7 : o->max_digits;
  if (hi < lo) hi = lo;
  int d = lo + (int)(l1k_splitmix64(&s) % (uint64_t)(hi - lo + 1));
  int kinds[4], nk = 0;
  for (int k = 0; k < 4; k++)
    if (o->kinds & (1 << k)) kinds[nk++] = k;
  if (!nk) kinds[nk++] = 0;
  int kind = kinds[l1k_splitmix64(&s) % (uint64_t)nk];
  switch (kind) {
    case 0: gen_add(&s, d, o, p); break;
    case 1: gen_sub(&s, d, o, p); break;
    case 2: gen_mul(&s, d, o, p); break;
    default: gen_linear(&s, d, o, p); break;
  }
  p->difficulty = d > 5 ? 5 : d;
  snprintf(p->id, sizeof p->id, "toy-%" PRIu64 "-%" PRIu64, seed, index);
}

int l1k_toy_write_pool(FILE *f, uint64_t seed, uint64_t first, int64_t n, const l1k_toy_opts *o,
                       l1k_err *err) {
  l1k_buf b = {0};
  l1k_toy_problem p;
  for (int64_t i = 0; i < n; i++) {
    l1k_toy_generate(seed, first + (uint64_t)i, o, &p);
    b.len = 0;
    int rc = l1k_buf_puts(&b, "{\"id\":");
    rc |= l1k_buf_json_string(&b, p.id, strlen(p.id));
    rc |= l1k_buf_puts(&b, ",\"problem\":");
    rc |= l1k_buf_json_string(&b, p.problem, strlen(p.problem));
    rc |= l1k_buf_puts(&b, ",\"reasoning\":");
    rc |= l1k_buf_json_string(&b, p.reasoning, strlen(p.reasoning));
    rc |= l1k_buf_puts(&b, ",\"solution\":");
    rc |= l1k_buf_json_string(&b, p.solution, strlen(p.solution));
    rc |= l1k_buf_puts(&b, ",\"answer\":");
    rc |= l1k_buf_json_string(&b, p.answer, strlen(p.answer));
    rc |= l1k_buf_printf(&b, ",\"difficulty\":%d,\"domain\":", p.difficulty);
    rc |= l1k_buf_json_string(&b, p.domain, strlen(p.domain));
    rc |= l1k_buf_puts(&b, "}\n");
    if (rc) {
      l1k_buf_free(&b);
      return l1k_errf(err, L1K_ENOMEM, "out of memory writing the toy pool");
    }
    if (fwrite(b.data, 1, b.len, f) != b.len) {
      l1k_buf_free(&b);
      return l1k_errf(err, L1K_EIO, "write error while writing the toy pool");
    }
  }
  l1k_buf_free(&b);
  return 0;
}
