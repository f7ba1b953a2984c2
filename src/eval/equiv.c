/* long1k grader — mathematical equivalence of two answers (include/long1k/grade.h).
 *
 * Both answers are parsed into trees (mathexpr.h) and compared structurally, recursing into
 * lists, tuples, sets, intervals, matrices and relations; scalars are compared by value:
 * exactly when both sides are exact rationals, otherwise with a relative tolerance, at several
 * deterministic random points when variables occur (symbolic equality by evaluation). A
 * decimal with at least 2 significant digits equals a never-ending exact value rounded or
 * truncated to the digits shown. Labels ("x = ", "f(x) = ", "(p, q) = ", "x \in", "AB = ",
 * "|AB| = ") are dropped when only one side has them; "\approx ..." tails are dropped;
 * degrees and percent at the top level match the bare number; computations with written
 * matrices are evaluated. Rules: docs/grader.md. */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eval/grade_internal.h"
#include "eval/mathexpr.h"
#include "long1k/grade.h"

#define NPOINTS 5
#define REL_TOL 1e-9L
#define MAX_EVAL_STEPS 2000000L /* all evaluations of one comparison */

typedef struct {
  mx_ctx *c;
  int budget; /* comparisons left (bounds set matching) */
} cmpctx;

static int eq(cmpctx *k, const mx_node *a, const mx_node *b, int top);

/* ------------------------------------------------------------------ scalars */
static int close_z(long double complex a, long double complex b, long double tol) {
  long double ar = creall(a), ai = cimagl(a), br = creall(b), bi = cimagl(b);
  if (isinf(ar) || isinf(br)) return isinf(ar) && isinf(br) && (ar > 0) == (br > 0) && fabsl(ai - bi) <= tol;
  if (!isfinite(ar) || !isfinite(ai) || !isfinite(br) || !isfinite(bi)) return 0;
  long double d = cabsl(a - b), m = fmaxl(cabsl(a), cabsl(b));
  return d <= tol * m || d <= 1e-15L;
}

/* ------------------------------------------------------------------ rounded decimals */
/* A decimal as written: its value and the unit of its last shown digit. "1.414" (0.001),
 * "-0.33", "2.3148e-3" and "2.3148 \times 10^{-3}" (1e-7); at least 2 significant digits. */
typedef struct {
  long double v, ulp;
} shown_decimal;

static int int_power_of_ten(const mx_node *n, int *e) {
  if (n->kind != MX_POW || n->kids[0]->kind != MX_NUM || !(n->kids[0]->flags & MXF_EXACT) ||
      n->kids[0]->p != 10 || n->kids[0]->q != 1)
    return 0;
  mx_val x;
  if (!mx_eval(n->kids[1], 0, &x) || !x.exact || x.q != 1 || x.p < -400 || x.p > 400) return 0;
  *e = (int)x.p;
  return 1;
}

static int decimal_shown(const mx_node *n, shown_decimal *d) {
  int neg = 0, e = 0;
  while (n && n->kind == MX_NEG) {
    neg = !neg;
    n = n->kids[0];
  }
  if (!n) return 0;
  if (n->kind == MX_MUL && n->nkids == 2 && n->kids[0]->kind == MX_NUM && int_power_of_ten(n->kids[1], &e))
    n = n->kids[0]; /* 2.3148 \times 10^{-3} */
  else if (n->kind != MX_NUM)
    return 0;
  if (n->sig < 2 || n->sig >= 99 || (n->places < 1 && n->exp10 == 0 && e == 0)) return 0;
  int places = (n->places > 0 ? n->places : 0) - n->exp10 - e;
  d->v = (neg ? -n->v : n->v) * powl(10.0L, (long double)e);
  d->ulp = powl(10.0L, -(long double)places);
  return 1;
}

/* an exact value whose decimal expansion never ends: irrational (not an exact rational), or
 * a fraction whose denominator has a prime factor other than 2 and 5 */
static int nonterminating(const mx_val *x) {
  if (!x->exact) return 1;
  int64_t q = x->q < 0 ? -x->q : x->q;
  while (q > 1 && q % 2 == 0) q /= 2;
  while (q > 1 && q % 5 == 0) q /= 5;
  return q != 1;
}

/* a number written as digits (not a computation): no rounding against another literal */
static int is_literal(const mx_node *n) {
  shown_decimal d;
  while (n->kind == MX_NEG) n = n->kids[0];
  return (n->kind == MX_NUM && n->sig < 99) || decimal_shown(n, &d); /* sig 99: a \frac of integers */
}

/* The rounding rule: a decimal equals an exact value with a never-ending expansion when it
 * is that value rounded or truncated to the digits shown (1.414 and 1.4142 = sqrt 2, 0.666
 * and 0.667 = 2/3; 0.665 and 1.415 are not). */
static int rounds_to(const mx_node *lit_side, const mx_node *other, const mx_val *ox) {
  shown_decimal d;
  if (!decimal_shown(lit_side, &d) || is_literal(other) || !nonterminating(ox)) return 0;
  long double complex z = mx_val_z(ox);
  if (cimagl(z) != 0 || !isfinite(creall(z))) return 0;
  long double x = creall(z);
  if ((x < 0) != (d.v < 0) && d.v != 0) return 0;
  long double diff = fabsl(x) - fabsl(d.v), tol = 1e-9L * d.ulp + 1e-17L * fabsl(x);
  return diff >= -0.5L * d.ulp - tol && diff < d.ulp - tol;
}

static int is_scalar(const mx_node *n) {
  switch (n->kind) {
    case MX_TUPLE: case MX_BLIST: case MX_LIST: case MX_SET: case MX_INTERVAL: case MX_UNION:
    case MX_MATRIX: case MX_REL: case MX_TEXT: case MX_EMPTY: case MX_PM:
      return 0;
    default:
      break;
  }
  for (int i = 0; i < n->nkids; i++)
    if (!is_scalar(n->kids[i])) return 0;
  return 1;
}

static int has_inf(const mx_node *n) {
  if (n->kind == MX_INF) return 1;
  for (int i = 0; i < n->nkids; i++)
    if (has_inf(n->kids[i])) return 1;
  return 0;
}

static int overflowed(long double complex z) { return !isfinite(creall(z)) || !isfinite(cimagl(z)); }

/* A value too large for long double (100000000!, 10^{10^{6}}): equal when exact modular
 * arithmetic says so, else only when both trees are written the same; never by value. */
static int huge_eq(const mx_node *a, const mx_node *b) {
  int f = mx_fingerprint_cmp(a, b);
  if (f >= 0) return f;
  char pa[512], pb[512];
  mx_print(a, pa, sizeof pa);
  mx_print(b, pb, sizeof pb);
  return strlen(pa) < sizeof pa - 1 && !strcmp(pa, pb);
}

static int scalar_eq(const mx_node *a, const mx_node *b) {
  const char *va[8], *vb[8];
  int na = mx_vars(a, va, 8), nb = mx_vars(b, vb, 8);
  if (na == 0 && nb == 0) {
    mx_val x, y;
    if (!mx_eval(a, 0, &x) || !mx_eval(b, 0, &y)) return 0;
    long double complex zx = mx_val_z(&x), zy = mx_val_z(&y);
    if ((overflowed(zx) || overflowed(zy)) && !has_inf(a) && !has_inf(b)) return huge_eq(a, b);
    if (x.exact && y.exact) {
      if (x.p == y.p && x.q == y.q) return 1;
    } else if (close_z(zx, zy, REL_TOL) && !mx_fingerprints_differ(a, b)) {
      return 1; /* close in floating point and not told apart by exact modular arithmetic */
    }
    return rounds_to(a, b, &y) || rounds_to(b, a, &x);
  }
  int valid = 0;
  for (int pt = 0; pt < NPOINTS; pt++) {
    mx_val x, y;
    int okx = mx_eval(a, pt, &x), oky = mx_eval(b, pt, &y);
    if (!okx || !oky) return 0;
    long double complex zx = mx_val_z(&x), zy = mx_val_z(&y);
    int fx = isfinite(creall(zx)) && isfinite(cimagl(zx)), fy = isfinite(creall(zy)) && isfinite(cimagl(zy));
    if (!fx && !fy) continue;
    if (fx != fy) return 0;
    if (x.exact && y.exact) {
      if (x.p != y.p || x.q != y.q) return 0;
    } else if (!close_z(zx, zy, 1e-8L)) {
      return 0;
    }
    valid++;
  }
  return valid >= 2;
}

/* ------------------------------------------------------------------ helpers */
static int is_label(const mx_node *n) {
  if (!n) return 0;
  switch (n->kind) {
    case MX_SYM:
      return 1;
    case MX_APPLY:
      for (int i = 0; i < n->nkids; i++)
        if (n->kids[i]->kind != MX_SYM && n->kids[i]->kind != MX_NUM) return 0;
      return 1;
    case MX_TUPLE: case MX_RATIO:
      for (int i = 0; i < n->nkids; i++)
        if (!is_label(n->kids[i])) return 0;
      return 1;
    default:
      return 0;
  }
}

static const char *label_arg(const mx_node *n);
static int uses_sym(const mx_node *n, const char *name, int depth);

/* A composite name made of symbols only: products "AB", ratios "NO/BO", sums "m+n", absolute
 * values "|AB|", "m \angle B", f(x). No numbers (except the -1 of a division). */
static int is_name_expr(const mx_node *n, int depth) {
  if (!n || depth > 8) return 0;
  switch (n->kind) {
    case MX_SYM: return 1;
    case MX_APPLY: return is_label(n);
    case MX_ABS: case MX_NEG: return is_name_expr(n->kids[0], depth + 1);
    case MX_MUL: case MX_ADD:
      for (int i = 0; i < n->nkids; i++)
        if (!is_name_expr(n->kids[i], depth + 1)) return 0;
      return 1;
    case MX_POW:
      return is_name_expr(n->kids[0], depth + 1) && n->kids[1]->kind == MX_NUM &&
             (n->kids[1]->flags & MXF_EXACT) && n->kids[1]->p == -1 && n->kids[1]->q == 1;
    default: return 0;
  }
}

/* "label = value": a plain label (x, f(x), (p, q)) before any value, or a composite name
 * (AB, |AB|, NO/BO, m+n) before a value without variables */
static int is_label_eq(const mx_node *n) {
  if (!n || n->kind != MX_REL || n->nkids != 2 || (n->ops[0] != MXR_EQ && n->ops[0] != MXR_IN)) return 0;
  if (is_label(n->kids[0])) return 1;
  if (n->ops[0] != MXR_EQ) return 0;
  if (is_name_expr(n->kids[0], 0) && mx_is_numeric(n->kids[1])) return 1;
  /* "P(x) = x^2 - 1": a function of the variable named on the left */
  const char *arg = label_arg(n->kids[0]);
  return arg && n->kids[0]->kind == MX_MUL && uses_sym(n->kids[1], arg, 0);
}

static mx_node *mk(cmpctx *k, int kind, int nk, mx_node **kids) {
  mx_node *n = mx_new(k->c, kind);
  if (!n) return NULL;
  n->nkids = nk;
  n->kids = mx_alloc(k->c, sizeof(mx_node *) * (size_t)(nk ? nk : 1));
  if (!n->kids) return NULL;
  memcpy(n->kids, kids, sizeof(mx_node *) * (size_t)nk);
  return n;
}

/* "a \approx b" -> a; numeric chains "35 + 70 = 105" -> 105; "x = 5+5+1 = 1/3" -> x = 1/3 */
static const mx_node *simplify_rel(cmpctx *k, const mx_node *n) {
  if (!n || n->kind != MX_REL) return n;
  int cut = n->nkids;
  for (int i = 0; i < n->nkids - 1; i++)
    if (n->ops[i] == MXR_APPROX) {
      cut = i + 1;
      break;
    }
  int all_eq = 1;
  for (int i = 0; i < cut - 1; i++) all_eq &= n->ops[i] == MXR_EQ;
  if (cut == 1) return is_name_expr(n->kids[0], 0) && !mx_is_numeric(n->kids[0]) ? n->kids[1] : n->kids[0];
  if (all_eq && cut >= 2) {
    int numeric_first = mx_is_numeric(n->kids[0]) && is_scalar(n->kids[0]);
    if (numeric_first && mx_is_numeric(n->kids[cut - 1])) return n->kids[cut - 1];
    if (cut >= 3) {
      mx_node *kids[2] = {n->kids[0], n->kids[cut - 1]};
      if (!is_label(n->kids[0])) return n->kids[cut - 1];
      mx_node *r = mk(k, MX_REL, 2, kids);
      if (!r) return n;
      r->ops = mx_alloc(k->c, 1);
      if (!r->ops) return n;
      r->ops[0] = MXR_EQ;
      return r;
    }
  }
  if (cut == n->nkids) return n;
  mx_node *r = mk(k, MX_REL, cut, n->kids);
  if (!r) return n;
  r->ops = n->ops;
  return r;
}

/* elements of a list-like node */
static int elems(const mx_node *n, const mx_node **out, int max) {
  if (n->kind == MX_LIST || n->kind == MX_TUPLE || n->kind == MX_SET || n->kind == MX_BLIST) {
    int m = n->nkids < max ? n->nkids : max;
    for (int i = 0; i < m; i++) out[i] = n->kids[i];
    return m;
  }
  out[0] = n;
  return 1;
}

/* drops labels in a bare list; repeated labels start a new group:
 * "p=5, q=2; p=7, q=2" -> (5,2), (7,2) */
static const mx_node *strip_list_labels(cmpctx *k, const mx_node *n) {
  if (n->kind != MX_LIST) return n;
  mx_node *groups[MX_MAX_ITEMS], *cur[MX_MAX_ITEMS];
  const char *labels[MX_MAX_ITEMS];
  int ng = 0, nc = 0, nl = 0, any = 0, repeated = 0;
  char buf1[256];
  for (int i = 0; i < n->nkids; i++) {
    const mx_node *e = simplify_rel(k, n->kids[i]);
    if (is_label_eq(e)) {
      any = 1;
      mx_print(e->kids[0], buf1, sizeof buf1);
      int rep = 0;
      for (int j = 0; j < nl && !rep; j++) rep = !strcmp(labels[j], buf1);
      if (rep && nc) {
        repeated = 1;
        groups[ng++] = nc == 1 ? cur[0] : mk(k, MX_TUPLE, nc, cur);
        nc = 0;
        nl = 0;
      }
      const char *lab = mx_strdup(k->c, buf1, strlen(buf1));
      if (lab && nl < MX_MAX_ITEMS) labels[nl++] = lab;
      cur[nc++] = e->kids[1];
    } else {
      cur[nc++] = (mx_node *)e;
    }
  }
  if (!any) return n;
  /* every element labeled, labels distinct: the values in the order written, as a tuple
   * ("x = 3, y = 2" is the point (3, 2), not the set {2, 3}) */
  if (!repeated && nl == n->nkids && nc >= 2) {
    mx_node *t = mk(k, MX_TUPLE, nc, cur);
    return t ? t : n;
  }
  if (repeated) {
    if (nc) groups[ng++] = nc == 1 ? cur[0] : mk(k, MX_TUPLE, nc, cur);
    for (int i = 0; i < ng; i++)
      if (!groups[i]) return n;
    return mk(k, MX_LIST, ng, groups);
  }
  mx_node *r = mk(k, MX_LIST, nc, cur);
  return r ? r : n;
}

/* n with the symbol `from` renamed `to` (copies only what changes); NULL when out of memory */
static const mx_node *rename_sym(cmpctx *k, const mx_node *n, const char *from, const char *to, int depth) {
  if (depth > MX_MAX_DEPTH) return NULL;
  if (n->kind == MX_SYM && n->name && !strcmp(n->name, from)) {
    mx_node *r = mx_new(k->c, MX_SYM);
    if (r) r->name = to;
    return r;
  }
  if (!n->nkids) return n;
  mx_node **kids = mx_alloc(k->c, sizeof(mx_node *) * (size_t)n->nkids);
  if (!kids) return NULL;
  int changed = 0;
  for (int i = 0; i < n->nkids; i++) {
    const mx_node *c = rename_sym(k, n->kids[i], from, to, depth + 1);
    if (!c) return NULL;
    kids[i] = (mx_node *)c;
    changed |= c != n->kids[i];
  }
  if (!changed) return n;
  mx_node *r = mx_new(k->c, n->kind);
  if (!r) return NULL;
  *r = *n;
  r->kids = kids;
  return r;
}

/* the argument of a one-argument function label f(x), else NULL */
static const char *label_arg(const mx_node *n) {
  if (n->kind == MX_APPLY && n->nkids == 1 && n->kids[0]->kind == MX_SYM) return n->kids[0]->name;
  /* P(x), W(n): a letter applied to a variable in parentheses (parsed as a product) */
  if (n->kind == MX_MUL && n->nkids == 2 && n->kids[0]->kind == MX_SYM && n->kids[1]->kind == MX_SYM &&
      (n->kids[1]->flags & MXF_PAREN) && !(n->kids[0]->flags & MXF_PAREN))
    return n->kids[1]->name;
  return NULL;
}

static int uses_sym(const mx_node *n, const char *name, int depth) {
  if (depth > MX_MAX_DEPTH) return 0;
  if (n->kind == MX_SYM) return n->name && !strcmp(n->name, name);
  for (int i = 0; i < n->nkids; i++)
    if (uses_sym(n->kids[i], name, depth + 1)) return 1;
  return 0;
}

/* two definitions "P(x) = ..." and "P(t) = ...": the values with the arguments renamed alike */
static int same_function(cmpctx *k, const mx_node *a, const mx_node *b, int top) {
  const char *xa = label_arg(a->kids[0]), *xb = label_arg(b->kids[0]);
  if (!xa || !xb || !strcmp(xa, xb)) return 0;
  const mx_node *vb = rename_sym(k, b->kids[1], xb, xa, 0);
  return vb && eq(k, a->kids[1], vb, top);
}

/* -1: not two fully labeled lists; else 1/0 */
static int labeled_map_eq(cmpctx *k, const mx_node *a, const mx_node *b) {
  if (a->kind != MX_LIST || b->kind != MX_LIST || a->nkids != b->nkids || a->nkids > 32) return -1;
  char la[32][128], lb[32][128];
  const mx_node *va[32], *vb[32];
  for (int side = 0; side < 2; side++) {
    const mx_node *l = side ? b : a;
    for (int i = 0; i < l->nkids; i++) {
      const mx_node *e = simplify_rel(k, l->kids[i]);
      if (!is_label_eq(e) || e->ops[0] != MXR_EQ) return -1;
      char *buf = side ? lb[i] : la[i];
      mx_print(e->kids[0], buf, 128);
      for (int j = 0; j < i; j++)
        if (!strcmp(side ? lb[j] : la[j], buf)) return -1; /* repeated label: groups */
      if (side) vb[i] = e->kids[1];
      else va[i] = e->kids[1];
    }
  }
  for (int i = 0; i < a->nkids; i++) {
    int j = 0;
    while (j < b->nkids && strcmp(la[i], lb[j])) j++;
    if (j == b->nkids) return -1; /* different labels: compare the values instead */
    if (!eq(k, va[i], vb[j], 0)) return 0;
  }
  return 1;
}

/* a \pm b -> {a + b, a - b} (one level) */
static int has_pm(const mx_node *n) {
  if (n->kind == MX_PM) return 1;
  for (int i = 0; i < n->nkids; i++)
    if (has_pm(n->kids[i])) return 1;
  return 0;
}
static mx_node *expand_pm(cmpctx *k, const mx_node *n, int sign) {
  if (n->kind == MX_PM) {
    mx_node *b = n->nkids == 2 ? n->kids[1] : n->kids[0];
    int s = (n->op == '-') ? -sign : sign;
    if (s < 0) b = mk(k, MX_NEG, 1, &b);
    if (!b) return NULL;
    if (n->nkids == 1) return b;
    mx_node *kids[2] = {n->kids[0], b};
    return mk(k, MX_ADD, 2, kids);
  }
  if (!n->nkids) return (mx_node *)n;
  mx_node *kids[MX_MAX_ITEMS];
  int changed = 0;
  for (int i = 0; i < n->nkids && i < MX_MAX_ITEMS; i++) {
    kids[i] = expand_pm(k, n->kids[i], sign);
    if (!kids[i]) return NULL;
    changed |= kids[i] != n->kids[i];
  }
  if (!changed) return (mx_node *)n;
  mx_node *r = mx_new(k->c, n->kind);
  if (!r) return NULL;
  *r = *n;
  r->kids = mx_alloc(k->c, sizeof(mx_node *) * (size_t)n->nkids);
  if (!r->kids) return NULL;
  memcpy(r->kids, kids, sizeof(mx_node *) * (size_t)n->nkids);
  return r;
}

/* unordered comparison: every element of a matches one of b and vice versa (sizes equal
 * after dropping repeats) */
static int unordered_eq(cmpctx *k, const mx_node **a, int na, const mx_node **b, int nb) {
  if (na > 64 || nb > 64) return 0;
  int used_b[64] = {0};
  int matched = 0;
  for (int i = 0; i < na; i++) {
    int found = 0;
    for (int j = 0; j < nb && !found; j++) {
      if (k->budget-- <= 0) return 0;
      if (eq(k, a[i], b[j], 0)) {
        found = 1;
        if (!used_b[j]) {
          used_b[j] = 1;
          matched++;
        }
      }
    }
    if (!found) return 0;
  }
  /* every element of b must be matched by some element of a */
  for (int j = 0; j < nb; j++) {
    if (used_b[j]) continue;
    int found = 0;
    for (int i = 0; i < na && !found; i++) {
      if (k->budget-- <= 0) return 0;
      found = eq(k, a[i], b[j], 0);
    }
    if (!found) return 0;
  }
  return 1;
}

static int ordered_eq(cmpctx *k, const mx_node *a, const mx_node *b) {
  if (a->nkids != b->nkids) return 0;
  for (int i = 0; i < a->nkids; i++)
    if (!eq(k, a->kids[i], b->kids[i], 0)) return 0;
  return 1;
}

static int flip(int op) {
  switch (op) {
    case MXR_LT: return MXR_GT;
    case MXR_GT: return MXR_LT;
    case MXR_LE: return MXR_GE;
    case MXR_GE: return MXR_LE;
    default: return op;
  }
}

/* a0 op a1 vs b0 op b1 as scalar relations: (a0 - a1) = c (b0 - b1), c > 0 for inequalities */
static int rel_scaled_eq(cmpctx *k, const mx_node *a, const mx_node *b) {
  if (a->nkids != 2 || b->nkids != 2) return 0;
  int oa = a->ops[0], ob = b->ops[0];
  int sign = 1;
  if (oa != ob) {
    if (flip(oa) == ob) sign = -1;
    else return 0;
  }
  if (oa == MXR_IN || oa == MXR_APPROX) return 0;
  if (!is_scalar(a->kids[0]) || !is_scalar(a->kids[1]) || !is_scalar(b->kids[0]) || !is_scalar(b->kids[1]))
    return 0;
  long double complex ratio = 0;
  int valid = 0;
  for (int pt = 0; pt < NPOINTS; pt++) {
    mx_val x0, x1, y0, y1;
    if (!mx_eval(a->kids[0], pt, &x0) || !mx_eval(a->kids[1], pt, &x1) || !mx_eval(b->kids[0], pt, &y0) ||
        !mx_eval(b->kids[1], pt, &y1))
      return 0;
    long double complex da = mx_val_z(&x0) - mx_val_z(&x1), db = mx_val_z(&y0) - mx_val_z(&y1);
    if (!isfinite(creall(da)) || !isfinite(creall(db))) continue;
    if (cabsl(da) < 1e-12L && cabsl(db) < 1e-12L) continue;
    if (cabsl(db) < 1e-12L || cabsl(da) < 1e-12L) return 0;
    long double complex r = da / db;
    if (valid == 0) ratio = r;
    else if (!close_z(r, ratio, 1e-8L)) return 0;
    valid++;
  }
  if (valid < 2) return 0;
  if (oa == MXR_EQ || oa == MXR_NE) return 1;
  return creall(ratio) * sign > 0;
}

/* ------------------------------------------------------------------ sets on the real line */
/* membership of x in a one-variable set description: interval, union, finite set, relation
 * (chain) over one variable, "x \in S". Returns -1 when n is not such a description. */
static int member(const mx_node *n, const char *var, long double x, int depth);

static int eval_at(const mx_node *n, const char *var, long double x, long double *out) {
  /* substitute var = x by evaluating with a one-binding trick: build nothing, use numeric
   * evaluation when the node has no variables; otherwise the variable must be var */
  const char *names[2];
  int nv = mx_vars(n, names, 2);
  if (nv > 1 || (nv == 1 && strcmp(names[0], var) != 0)) return 0;
  if (nv == 0) {
    mx_val v;
    if (!mx_eval(n, 0, &v)) return 0;
    long double complex z = mx_val_z(&v);
    if (cimagl(z) != 0) return 0;
    *out = creall(z);
    return 1;
  }
  /* evaluate with var bound: wrap in a one-term sum from x to x is not possible for reals;
   * instead temporarily evaluate through mx_eval on a substituted copy */
  mx_val v;
  if (!mx_eval_bind(n, var, x, &v)) return 0;
  long double complex z = mx_val_z(&v);
  if (fabsl(cimagl(z)) > 1e-12L) return 0;
  *out = creall(z);
  return 1;
}

static int cmp_op(int op, long double l, long double r) {
  long double eps = 1e-12L * (1 + fabsl(l) + fabsl(r));
  switch (op) {
    case MXR_LT: return l < r - eps;
    case MXR_LE: return l <= r + eps;
    case MXR_GT: return l > r + eps;
    case MXR_GE: return l >= r - eps;
    case MXR_EQ: return fabsl(l - r) <= eps;
    case MXR_NE: return fabsl(l - r) > eps;
    default: return -1;
  }
}

static int member(const mx_node *n, const char *var, long double x, int depth) {
  if (depth > 16) return -1;
  switch (n->kind) {
    case MX_INTERVAL: {
      long double lo, hi;
      if (n->kids[0]->kind == MX_NEG && n->kids[0]->kids[0]->kind == MX_INF) lo = -INFINITY;
      else if (!eval_at(n->kids[0], var, 0, &lo)) return -1;
      if (n->kids[1]->kind == MX_INF) hi = INFINITY;
      else if (!eval_at(n->kids[1], var, 0, &hi)) return -1;
      int okl = (n->flags & MXF_LO_CLOSED) ? x >= lo : x > lo;
      int okh = (n->flags & MXF_HI_CLOSED) ? x <= hi : x < hi;
      return okl && okh;
    }
    case MX_TUPLE:
      if (n->nkids != 2) return -1;
      {
        mx_node tmp = *n;
        tmp.kind = MX_INTERVAL;
        tmp.flags = 0;
        return member(&tmp, var, x, depth + 1);
      }
    case MX_UNION: {
      int any = 0;
      for (int i = 0; i < n->nkids; i++) {
        int m = member(n->kids[i], var, x, depth + 1);
        if (m < 0) return -1;
        any |= m;
      }
      return any;
    }
    case MX_SET: {
      for (int i = 0; i < n->nkids; i++) {
        long double v;
        if (!eval_at(n->kids[i], var, 0, &v)) return -1;
        if (fabsl(v - x) <= 1e-12L * (1 + fabsl(x))) return 1;
      }
      return 0;
    }
    case MX_EMPTY:
      return 0;
    case MX_LIST: { /* "x < -2 or x > 3" */
      int any = 0;
      for (int i = 0; i < n->nkids; i++) {
        int m = member(n->kids[i], var, x, depth + 1);
        if (m < 0) return -1;
        any |= m;
      }
      return any;
    }
    case MX_REL: {
      if (n->nkids == 2 && n->ops[0] == MXR_IN) {
        if (n->kids[0]->kind != MX_SYM || strcmp(n->kids[0]->name, var)) return -1;
        return member(n->kids[1], var, x, depth + 1);
      }
      for (int i = 0; i + 1 < n->nkids; i++) {
        long double l, r;
        if (n->ops[i] == MXR_IN || n->ops[i] == MXR_APPROX) return -1;
        if (!eval_at(n->kids[i], var, x, &l) || !eval_at(n->kids[i + 1], var, x, &r)) return -1;
        int c = cmp_op(n->ops[i], l, r);
        if (c < 0) return -1;
        if (!c) return 0;
      }
      return 1;
    }
    default:
      return -1;
  }
}

static void collect_consts(const mx_node *n, long double *pts, int *np, int max) {
  if (*np >= max) return;
  if (n->kind != MX_INF && mx_is_numeric(n) && is_scalar(n)) {
    mx_val v;
    if (mx_eval(n, 0, &v)) {
      long double complex z = mx_val_z(&v);
      if (cimagl(z) == 0 && isfinite(creall(z))) {
        pts[(*np)++] = creall(z);
        if (*np < max) pts[(*np)++] = -creall(z);
      }
    }
    return;
  }
  for (int i = 0; i < n->nkids; i++) collect_consts(n->kids[i], pts, np, max);
}

static int cmp_ld(const void *a, const void *b) {
  long double x = *(const long double *)a, y = *(const long double *)b;
  return x < y ? -1 : x > y;
}

/* both sides describe subsets of the real line in (at most) one variable: compare membership
 * at every constant of either side, just beside it, between constants and far out */
static int has_apply(const mx_node *n) {
  if (n->kind == MX_APPLY) return 1;
  for (int i = 0; i < n->nkids; i++)
    if (has_apply(n->kids[i])) return 1;
  return 0;
}

static int is_ineq(int op) { return op == MXR_LT || op == MXR_LE || op == MXR_GT || op == MXR_GE; }

/* The set a side describes: "x \in S" is S; a chain of inequalities whose non-numeric terms
 * are all one name that cannot be evaluated in one variable ("0 < f(x) < 1", "|AB| \ge 2")
 * constrains the values of that name (renamed to one common variable); lists map. */
static const char *const k_subject = "\x01";
static const mx_node *as_set(cmpctx *k, const mx_node *n, int depth) {
  if (depth > 8) return n;
  if (n->kind == MX_REL && n->nkids == 2 && n->ops[0] == MXR_IN && is_label(n->kids[0])) return n->kids[1];
  if (n->kind == MX_LIST) {
    mx_node *kids[MX_MAX_ITEMS];
    for (int i = 0; i < n->nkids && i < MX_MAX_ITEMS; i++) kids[i] = (mx_node *)as_set(k, n->kids[i], depth + 1);
    mx_node *r = mk(k, MX_LIST, n->nkids < MX_MAX_ITEMS ? n->nkids : MX_MAX_ITEMS, kids);
    return r ? r : n;
  }
  if (n->kind != MX_REL) return n;
  char first[256] = "", cur[256];
  const mx_node *subj = NULL;
  for (int i = 0; i + 1 < n->nkids; i++)
    if (!is_ineq(n->ops[i])) return n;
  for (int i = 0; i < n->nkids; i++) {
    if (mx_is_numeric(n->kids[i])) continue;
    if (!is_name_expr(n->kids[i], 0)) return n;
    mx_print(n->kids[i], cur, sizeof cur);
    if (!subj) {
      subj = n->kids[i];
      memcpy(first, cur, sizeof first);
    } else if (strcmp(first, cur)) {
      return n;
    }
  }
  const char *vars[2];
  /* a subject in one variable (x, |z|, 2x) is evaluated: the set is one of that variable */
  if (!subj || (!has_apply(subj) && mx_vars(subj, vars, 2) < 2)) return n;
  mx_node *x = mx_new(k->c, MX_SYM), *r = mx_new(k->c, MX_REL);
  mx_node **kids = mx_alloc(k->c, sizeof(mx_node *) * (size_t)n->nkids);
  if (!x || !r || !kids) return n;
  x->name = k_subject;
  *r = *n;
  for (int i = 0; i < n->nkids; i++) kids[i] = mx_is_numeric(n->kids[i]) ? n->kids[i] : x;
  r->kids = kids;
  return r;
}

static int realset_eq(cmpctx *k, const mx_node *a, const mx_node *b) {
  const char *va[3], *vb[3];
  a = as_set(k, a, 0);
  b = as_set(k, b, 0);
  if (has_apply(a) || has_apply(b)) return 0;
  int na = mx_vars(a, va, 3), nb = mx_vars(b, vb, 3);
  if (na > 1 || nb > 1) return 0;
  /* "0 < f(x) < 1" against "0 < y < 1": the values of a label against a plain variable */
  if (na && nb && strcmp(va[0], vb[0]) && (va[0] == k_subject || vb[0] == k_subject)) {
    if (va[0] == k_subject) b = rename_sym(k, b, vb[0], k_subject, 0);
    else a = rename_sym(k, a, va[0], k_subject, 0);
    if (!a || !b) return 0;
    vb[0] = va[0] = k_subject;
  }
  const char *var = na ? va[0] : nb ? vb[0] : "x";
  if (na && nb && strcmp(va[0], vb[0])) return 0;
  long double c[128];
  int nc = 0;
  collect_consts(a, c, &nc, 60);
  collect_consts(b, c, &nc, 120);
  qsort(c, (size_t)nc, sizeof c[0], cmp_ld);
  long double pts[600];
  int np = 0;
  pts[np++] = -1e9L;
  pts[np++] = 1e9L;
  pts[np++] = 0.123456789L;
  for (int i = 0; i < nc; i++) {
    long double d = 1e-7L * (1 + fabsl(c[i]));
    pts[np++] = c[i];
    pts[np++] = c[i] - d;
    pts[np++] = c[i] + d;
    if (i + 1 < nc) pts[np++] = (c[i] + c[i + 1]) / 2;
  }
  int checked = 0;
  for (int i = 0; i < np; i++) {
    int ma = member(a, var, pts[i], 0), mb = member(b, var, pts[i], 0);
    if (ma < 0 || mb < 0) return 0;
    if (ma != mb) return 0;
    checked++;
  }
  return checked > 0;
}

static int is_realset(const mx_node *n) {
  switch (n->kind) {
    case MX_INTERVAL: case MX_UNION: return 1;
    case MX_LIST:
      for (int i = 0; i < n->nkids; i++)
        if (!is_realset(n->kids[i])) return 0;
      return n->nkids > 0;
    case MX_REL:
      for (int i = 0; i + 1 < n->nkids; i++)
        if (n->ops[i] == MXR_LT || n->ops[i] == MXR_LE || n->ops[i] == MXR_GT || n->ops[i] == MXR_GE ||
            n->ops[i] == MXR_IN)
          return 1;
      return 0;
    default: return 0;
  }
}

/* ------------------------------------------------------------------ matrix arithmetic */
/* "A + B", "2A", "AB", "-A" with written matrices: the matrix they compute, entries left as
 * trees (compared by value later). NULL when n is not such a computation or shapes differ. */
static int has_matrix(const mx_node *n, int depth) {
  if (n->kind == MX_MATRIX) return 1;
  if (depth > 8 || (n->kind != MX_ADD && n->kind != MX_MUL && n->kind != MX_NEG)) return 0;
  for (int i = 0; i < n->nkids; i++)
    if (has_matrix(n->kids[i], depth + 1)) return 1;
  return 0;
}

static mx_node *new_matrix(cmpctx *k, int rows, int cols) {
  if (rows <= 0 || cols <= 0 || rows * cols > MX_MAX_ITEMS) return NULL;
  mx_node *m = mx_new(k->c, MX_MATRIX);
  if (!m) return NULL;
  m->rows = rows;
  m->cols = cols;
  m->nkids = rows * cols;
  m->kids = mx_alloc(k->c, sizeof(mx_node *) * (size_t)m->nkids);
  return m->kids ? m : NULL;
}

static mx_node *bin(cmpctx *k, int kind, mx_node *x, mx_node *y) {
  mx_node *kids[2] = {x, y};
  return x && y ? mk(k, kind, 2, kids) : NULL;
}

/* x + y or x * y where either may be a matrix (a scalar times a matrix scales it) */
static mx_node *mat_op(cmpctx *k, int kind, mx_node *x, mx_node *y) {
  int mx = x->kind == MX_MATRIX, my = y->kind == MX_MATRIX;
  if (!mx && !my) return bin(k, kind, x, y);
  if (kind == MX_ADD) {
    if (!mx || !my || x->rows != y->rows || x->cols != y->cols) return NULL;
    mx_node *r = new_matrix(k, x->rows, x->cols);
    for (int i = 0; r && i < r->nkids; i++)
      if (!(r->kids[i] = bin(k, MX_ADD, x->kids[i], y->kids[i]))) return NULL;
    return r;
  }
  if (!mx || !my) { /* scalar * matrix */
    mx_node *m = mx ? x : y, *c = mx ? y : x, *r = new_matrix(k, m->rows, m->cols);
    for (int i = 0; r && i < r->nkids; i++)
      if (!(r->kids[i] = bin(k, MX_MUL, c, m->kids[i]))) return NULL;
    return r;
  }
  if (x->cols != y->rows || x->cols > 16) return NULL;
  mx_node *r = new_matrix(k, x->rows, y->cols);
  for (int i = 0; r && i < x->rows; i++)
    for (int j = 0; j < y->cols; j++) {
      mx_node *terms[16];
      for (int t = 0; t < x->cols; t++)
        if (!(terms[t] = bin(k, MX_MUL, x->kids[i * x->cols + t], y->kids[t * y->cols + j]))) return NULL;
      if (!(r->kids[i * r->cols + j] = mk(k, MX_ADD, x->cols, terms))) return NULL;
    }
  return r;
}

static mx_node *matrix_value(cmpctx *k, const mx_node *n, int depth) {
  if (n->kind == MX_MATRIX) return (mx_node *)n;
  if (depth > 8 || !has_matrix(n, 0)) return NULL;
  if (n->kind == MX_NEG) {
    mx_node *m = matrix_value(k, n->kids[0], depth + 1), *r = m ? new_matrix(k, m->rows, m->cols) : NULL;
    for (int i = 0; r && i < r->nkids; i++)
      if (!(r->kids[i] = mk(k, MX_NEG, 1, &m->kids[i]))) return NULL;
    return r;
  }
  mx_node *acc = NULL;
  for (int i = 0; i < n->nkids; i++) {
    mx_node *x = has_matrix(n->kids[i], 0) ? matrix_value(k, n->kids[i], depth + 1) : n->kids[i];
    if (!x) return NULL;
    acc = acc ? mat_op(k, n->kind, acc, x) : x;
    if (!acc) return NULL;
  }
  return acc && acc->kind == MX_MATRIX ? acc : NULL;
}

/* ------------------------------------------------------------------ structure */
/* a clock time in seconds after midnight: h:mm, h:mm:ss, with a.m./p.m. */
static int time_seconds(const mx_node *n, long *out) {
  if (n->kind != MX_RATIO || !(n->flags & MXF_TIME)) return 0;
  long h = (long)n->kids[0]->p, m = (long)n->kids[1]->p;
  if (n->flags & MXF_PM_TIME && h < 12) h += 12;
  if (n->flags & MXF_AM_TIME && h == 12) h = 0;
  *out = (h * 60 + m) * 60 + (long)n->p;
  return 1;
}

/* "2516_8" against "2516": a number with a base subscript equals its digits written bare
 * (the base is the question's), as well as its value (1011_2 = 11) */
static int base_digits_match(const mx_node *based, const mx_node *bare) {
  if (based->kind != MX_NUM || !(based->flags & MXF_BASE) || !based->name) return 0;
  if (bare->kind != MX_NUM || (bare->flags & MXF_BASE) || bare->places >= 0 || bare->exp10 ||
      !(bare->flags & MXF_EXACT) || bare->q != 1 || bare->p < 0)
    return 0;
  char digits[32];
  snprintf(digits, sizeof digits, "%lld", (long long)bare->p);
  const char *d = based->name;
  while (d[0] == '0' && d[1]) d++;
  return !strcmp(d, digits);
}

/* The phases of eq(): each returns UNDECIDED when its rule does not apply, else 0 or 1. */
#define UNDECIDED (-1)

/* "a \approx b", numeric chains; a computation with written matrices is the matrix it computes */
static void normalize_side(cmpctx *k, const mx_node **n) {
  *n = simplify_rel(k, *n);
  if (*n && (*n)->kind != MX_MATRIX && has_matrix(*n, 0)) {
    const mx_node *m = matrix_value(k, *n, 0);
    if (m) *n = m;
  }
}

/* \pm: both values, as an unordered list */
static int eq_pm(cmpctx *k, const mx_node *a, const mx_node *b, int top) {
  if (!has_pm(a) && !has_pm(b)) return UNDECIDED;
  const mx_node *la[2 * MX_MAX_ITEMS], *lb[2 * MX_MAX_ITEMS];
  const mx_node *ea[MX_MAX_ITEMS], *eb[MX_MAX_ITEMS];
  int na = 0, nb = 0, ma = elems(a, ea, MX_MAX_ITEMS), mb = elems(b, eb, MX_MAX_ITEMS);
  for (int i = 0; i < ma; i++) {
    if (has_pm(ea[i])) {
      la[na++] = expand_pm(k, ea[i], 1);
      la[na++] = expand_pm(k, ea[i], -1);
    } else la[na++] = ea[i];
  }
  for (int i = 0; i < mb; i++) {
    if (has_pm(eb[i])) {
      lb[nb++] = expand_pm(k, eb[i], 1);
      lb[nb++] = expand_pm(k, eb[i], -1);
    } else lb[nb++] = eb[i];
  }
  for (int i = 0; i < na; i++)
    if (!la[i]) return 0;
  for (int i = 0; i < nb; i++)
    if (!lb[i]) return 0;
  if (na == 1 && nb == 1) return eq(k, la[0], lb[0], top);
  return unordered_eq(k, la, na, lb, nb);
}

/* labels: two labeled lists label by label; labels dropped when only one side has them
 * (lists lose theirs first: *a and *b may be replaced) */
static int eq_labels(cmpctx *k, const mx_node **pa, const mx_node **pb, int top) {
  /* "a_3 = 2, a_{37} = 19" = "a_{37} = 19, a_3 = 2" */
  int m = labeled_map_eq(k, *pa, *pb);
  if (m >= 0) return m;
  if ((*pa)->kind == MX_LIST) *pa = strip_list_labels(k, *pa);
  if ((*pb)->kind == MX_LIST) *pb = strip_list_labels(k, *pb);
  const mx_node *a = *pa, *b = *pb;
  int la = is_label_eq(a), lb = is_label_eq(b);
  if (la && lb) {
    if (a->ops[0] == b->ops[0] && eq(k, a->kids[0], b->kids[0], 0) && eq(k, a->kids[1], b->kids[1], top))
      return 1;
    if (same_function(k, a, b, top)) return 1;
    return eq(k, a->kids[1], b->kids[1], top);
  }
  if (la && b->kind != MX_REL) return eq(k, a->kids[1], b, top);
  if (lb && a->kind != MX_REL) return eq(k, a, b->kids[1], top);
  return UNDECIDED;
}

/* top-level degrees and percent: 90^\circ = 90 (never as radians: 90^\circ is not
 * \frac{\pi}{2}), 10\% = 10 = 0.1 */
static int eq_units(cmpctx *k, const mx_node *a, const mx_node *b) {
  if (a->kind == b->kind && (a->kind == MX_DEG || a->kind == MX_PCT)) return eq(k, a->kids[0], b->kids[0], 0);
  if (a->kind == MX_DEG) return eq(k, a->kids[0], b, 0);
  if (b->kind == MX_DEG) return eq(k, a, b->kids[0], 0);
  if (a->kind == MX_PCT && eq(k, a->kids[0], b, 0)) return 1;
  if (b->kind == MX_PCT && eq(k, a, b->kids[0], 0)) return 1;
  return UNDECIDED;
}

static int is_listlike(const mx_node *n) {
  return n->kind == MX_LIST || n->kind == MX_TUPLE || n->kind == MX_SET || n->kind == MX_BLIST;
}

/* bare lists: unordered against any list-like side; against a single answer, equal when every
 * element is (one element, or one answer written several ways) */
static int eq_lists(cmpctx *k, const mx_node *a, const mx_node *b, int top) {
  if (a->kind != MX_LIST && b->kind != MX_LIST) return UNDECIDED;
  /* inequalities joined by "or": "x < -2 or x > 3" = (-\infty, -2) \cup (3, \infty) */
  if (is_realset(a) && is_realset(b) && !(a->kind == MX_LIST && b->kind == MX_LIST) && realset_eq(k, a, b))
    return 1;
  if (is_listlike(a) && is_listlike(b)) {
    const mx_node *ea[MX_MAX_ITEMS], *eb[MX_MAX_ITEMS];
    int na = elems(a, ea, MX_MAX_ITEMS), nb = elems(b, eb, MX_MAX_ITEMS);
    return unordered_eq(k, ea, na, eb, nb);
  }
  const mx_node *l = a->kind == MX_LIST ? a : b, *o = a->kind == MX_LIST ? b : a;
  for (int i = 0; i < l->nkids; i++)
    if (!(l == a ? eq(k, l->kids[i], o, top) : eq(k, o, l->kids[i], top))) return 0;
  return l->nkids > 0;
}

/* tuples, bracket lists, sets, intervals, matrices, text */
static int eq_structures(cmpctx *k, const mx_node *a, const mx_node *b) {
  int vec_b = b->kind == MX_MATRIX && (b->rows == 1 || b->cols == 1);
  switch (a->kind) {
    case MX_TUPLE:
      if (b->kind == MX_TUPLE || b->kind == MX_BLIST || vec_b) return ordered_eq(k, a, b);
      if (b->kind == MX_INTERVAL && !(b->flags & (MXF_LO_CLOSED | MXF_HI_CLOSED))) return ordered_eq(k, a, b);
      return UNDECIDED;
    case MX_BLIST:
      if (b->kind == MX_TUPLE || b->kind == MX_BLIST || vec_b) return ordered_eq(k, a, b);
      return UNDECIDED;
    case MX_SET:
      if (b->kind == MX_SET) {
        const mx_node *ea[MX_MAX_ITEMS], *eb[MX_MAX_ITEMS];
        int na = elems(a, ea, MX_MAX_ITEMS), nb = elems(b, eb, MX_MAX_ITEMS);
        return unordered_eq(k, ea, na, eb, nb);
      }
      /* \{3\} against 3 */
      if (a->nkids == 1 && is_scalar(b) && eq(k, a->kids[0], b, 0)) return 1;
      if (a->nkids == 0 && b->kind == MX_EMPTY) return 1;
      return UNDECIDED;
    case MX_INTERVAL:
      if (b->kind == MX_INTERVAL) return (a->flags & 3) == (b->flags & 3) && ordered_eq(k, a, b);
      if (b->kind == MX_TUPLE && !(a->flags & 3)) return ordered_eq(k, a, b);
      return UNDECIDED;
    case MX_MATRIX:
      if (b->kind == MX_MATRIX) return a->rows == b->rows && a->cols == b->cols && ordered_eq(k, a, b);
      /* a column or row vector against a tuple: (1, 2) = \begin{pmatrix} 1 \\ 2 \end{pmatrix} */
      if ((b->kind == MX_TUPLE || b->kind == MX_BLIST) && (a->rows == 1 || a->cols == 1)) return ordered_eq(k, a, b);
      return UNDECIDED;
    case MX_TEXT:
      return b->kind == MX_TEXT && !strcmp(a->name, b->name);
    case MX_EMPTY:
      if (b->kind == MX_EMPTY || (b->kind == MX_SET && b->nkids == 0)) return 1;
      return UNDECIDED;
    default:
      if (b->kind == MX_SET && b->nkids == 1 && is_scalar(a) && eq(k, a, b->kids[0], 0)) return 1;
      return UNDECIDED;
  }
}

/* relations: same operators and sides, the mirrored chain, or scaled two-sided relations;
 * unions piecewise */
static int eq_relations(cmpctx *k, const mx_node *a, const mx_node *b) {
  if (a->kind == MX_REL && b->kind == MX_REL && a->nkids == b->nkids) {
    int n = a->nkids, same = 1, rev = 1;
    for (int i = 0; i + 1 < n && same; i++) same = a->ops[i] == b->ops[i];
    if (same && ordered_eq(k, a, b)) return 1;
    /* reversed chain: a < b  ==  b > a */
    for (int i = 0; i + 1 < n && rev; i++) rev = a->ops[i] == flip(b->ops[n - 2 - i]);
    for (int i = 0; i < n && rev; i++) rev = eq(k, a->kids[i], b->kids[n - 1 - i], 0);
    if (rev) return 1;
    if (rel_scaled_eq(k, a, b)) return 1;
  }
  if (a->kind == MX_UNION && b->kind == MX_UNION) {
    const mx_node *ea[MX_MAX_ITEMS], *eb[MX_MAX_ITEMS];
    int na = a->nkids < MX_MAX_ITEMS ? a->nkids : MX_MAX_ITEMS, nb = b->nkids < MX_MAX_ITEMS ? b->nkids : MX_MAX_ITEMS;
    for (int i = 0; i < na; i++) ea[i] = a->kids[i];
    for (int i = 0; i < nb; i++) eb[i] = b->kids[i];
    if (unordered_eq(k, ea, na, eb, nb)) return 1;
  }
  return UNDECIDED;
}

static int is_setlike(const mx_node *n) {
  return is_realset(n) || n->kind == MX_SET || (n->kind == MX_TUPLE && n->nkids == 2);
}

static int eq(cmpctx *k, const mx_node *a, const mx_node *b, int top) {
  if (!a || !b || k->budget-- <= 0) return 0;
  normalize_side(k, &a);
  normalize_side(k, &b);
  if (!a || !b) return 0;
  int r;
  if ((r = eq_pm(k, a, b, top)) != UNDECIDED) return r;
  if ((r = eq_labels(k, &a, &b, top)) != UNDECIDED) return r;
  if ((r = eq_units(k, a, b)) != UNDECIDED) return r;
  if ((r = eq_lists(k, a, b, top)) != UNDECIDED) return r;
  if ((r = eq_structures(k, a, b)) != UNDECIDED) return r;
  if ((r = eq_relations(k, a, b)) != UNDECIDED) return r;
  /* sets of reals written differently: "-2 \le x \le 7" vs "x \in [-2, 7]" */
  if (is_setlike(a) && is_setlike(b) && (is_realset(a) || is_realset(b))) return realset_eq(k, a, b);
  if (top) { /* "x \in S" against S */
    if (a->kind == MX_REL && a->nkids == 2 && a->ops[0] == MXR_IN) return eq(k, a->kids[1], b, 0);
    if (b->kind == MX_REL && b->nkids == 2 && b->ops[0] == MXR_IN) return eq(k, a, b->kids[1], 0);
  }
  long ta, tb;
  if (time_seconds(a, &ta) && time_seconds(b, &tb)) return ta == tb;
  if (base_digits_match(a, b) || base_digits_match(b, a)) return 1;
  if (is_scalar(a) && is_scalar(b)) return scalar_eq(a, b);
  return 0;
}

/* ------------------------------------------------------------------ public */
static void strip_ws(const char *s, char *out, size_t cap) {
  size_t n = 0;
  for (; *s && n + 1 < cap; s++) {
    if (isspace((unsigned char)*s) || *s == '$') continue;
    out[n++] = *s;
  }
  out[n] = 0;
}

static int strings_equal_loose(const char *a, const char *b) {
  size_t la = strlen(a), lb = strlen(b);
  if (la > 4096 || lb > 4096) return strcmp(a, b) == 0;
  char x[4100], y[4100];
  strip_ws(a, x, sizeof x);
  strip_ws(b, y, sizeof y);
  return x[0] && strcmp(x, y) == 0;
}

int l1k_math_equal_answers(const char *ga, const char *pa) {
  if (!ga || !pa) return 0;
  if (strings_equal_loose(ga, pa)) return 1; /* the same text (spaces, $ and case aside) */
  mx_ctx c;
  mx_init(&c);
  mx_node *g = mx_parse(&c, ga, strlen(ga));
  mx_node *p = g ? mx_parse(&c, pa, strlen(pa)) : NULL;
  int r;
  if (!g || !p) {
    r = strings_equal_loose(ga, pa);
  } else {
    cmpctx k = {&c, 20000};
    mx_set_budget(MAX_EVAL_STEPS);
    r = eq(&k, g, p, 1);
    mx_set_budget(-1);
  }
  mx_free(&c);
  return r;
}

/* the words of a text answer ("\\text{Navin}" -> "navin"), malloc'ed; NULL if not text */
static char *text_words_of(const char *ans) {
  if (!ans) return NULL;
  mx_ctx c;
  mx_init(&c);
  mx_node *n = mx_parse(&c, ans, strlen(ans));
  char *w = n && n->kind == MX_TEXT && n->name ? strdup(n->name) : NULL;
  mx_free(&c);
  return w;
}

/* A text gold ("\\text{Navin}") against a prose response whose final sentence ends with it
 * ("... the one who earns the most is Navin.") */
int l1k_text_gold_in_prose(const char *gold_answer, const char *pred, size_t pn) {
  if (!l1k_is_prose(pred, pn)) return 0;
  char *w = text_words_of(gold_answer);
  int r = w && l1k_prose_ends_with(pred, pn, w);
  free(w);
  return r;
}

int l1k_math_equal(const char *gold, const char *pred) {
  if (!gold || !pred) return 0;
  size_t gn = strlen(gold), pn = strlen(pred);
  /* multiple choice: a lone letter against a response that names one */
  int gl = l1k_bare_letter(gold, gn), pl = l1k_bare_letter(pred, pn);
  if (gl && pl) return gl == pl;
  if (gl && gl <= 'E' && l1k_is_prose(pred, pn)) return l1k_extract_choice(pred, pn, 5) == gl;
  if (pl && pl <= 'E' && l1k_is_prose(gold, gn)) return l1k_extract_choice(gold, gn, 5) == pl;
  char *ga = l1k_answer_of(gold, gn);
  char *pa = l1k_answer_of(pred, pn);
  int r = 0;
  if (ga && pa) {
    gl = l1k_bare_letter(ga, strlen(ga));
    pl = l1k_bare_letter(pa, strlen(pa));
    if (gl && pl) r = gl == pl;
    else r = l1k_math_equal_answers(ga, pa);
  }
  if (!r && ga) r = l1k_text_gold_in_prose(ga, pred, pn);
  free(ga);
  free(pa);
  return r;
}
