/* long1k grader — evaluation of expression trees (mathexpr.h): exact 64-bit rationals while
 * no operation overflows, complex long double otherwise. Variables take deterministic
 * pseudo-random values per point; uninterpreted functions (f(x), F_{n-k}) are deterministic
 * pseudo-random functions of their arguments. Work is bounded by a step budget. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "eval/mathexpr.h"
#include "long1k/rng.h"

#define MX_EVAL_BUDGET 400000

typedef struct {
  int point;
  const char *bname[8];
  mx_val bval[8];
  int nb;
  long steps;
} env;

static uint64_t fnv(const void *d, size_t n, uint64_t h) {
  const unsigned char *p = d;
  for (size_t i = 0; i < n; i++) {
    h ^= p[i];
    h *= 1099511628211ULL;
  }
  return h;
}
static long double unit01(uint64_t h) { return (long double)(l1k_fmix64(h) >> 11) / (long double)(1ULL << 53); }

static mx_val vz(long double complex z) {
  mx_val v = {0, 0, 1, z};
  return v;
}
static mx_val vq(int64_t p, int64_t q) {
  mx_val v;
  if (q == 0) return vz(p == 0 ? NAN : (p > 0 ? INFINITY : -INFINITY));
  if (q < 0) {
    if (p == INT64_MIN || q == INT64_MIN) return vz((long double)p / (long double)q);
    p = -p;
    q = -q;
  }
  int64_t g = mx_gcd64(p, q);
  v.exact = 1;
  v.p = p / g;
  v.q = q / g;
  v.z = (long double)v.p / (long double)v.q;
  return v;
}

long double complex mx_val_z(const mx_val *v) {
  return v->exact ? (long double)v->p / (long double)v->q : v->z;
}

static mx_val add(mx_val a, mx_val b) {
  if (a.exact && b.exact) {
    int64_t g = mx_gcd64(a.q, b.q), l, x, y, p;
    if (!__builtin_mul_overflow(a.q / g, b.q, &l) && !__builtin_mul_overflow(a.p, l / a.q, &x) &&
        !__builtin_mul_overflow(b.p, l / b.q, &y) && !__builtin_add_overflow(x, y, &p))
      return vq(p, l);
  }
  return vz(mx_val_z(&a) + mx_val_z(&b));
}
static mx_val mul(mx_val a, mx_val b) {
  if (a.exact && b.exact) {
    int64_t g1 = mx_gcd64(a.p, b.q), g2 = mx_gcd64(b.p, a.q), p, q;
    if (!__builtin_mul_overflow(a.p / g1, b.p / g2, &p) && !__builtin_mul_overflow(a.q / g2, b.q / g1, &q))
      return vq(p, q);
  }
  return vz(mx_val_z(&a) * mx_val_z(&b));
}
static mx_val neg(mx_val a) {
  if (a.exact && a.p != INT64_MIN) return vq(-a.p, a.q);
  return vz(-mx_val_z(&a));
}
static mx_val recip_v(mx_val a) {
  if (a.exact) {
    if (a.p == 0) return vz(INFINITY);
    return vq(a.q, a.p);
  }
  return vz(1.0L / mx_val_z(&a));
}

static int is_real(long double complex z) { return cimagl(z) == 0; }

static mx_val powv(mx_val a, mx_val b) {
  if (b.exact && b.q == 1 && a.exact && b.p >= -64 && b.p <= 64) {
    mx_val r = vq(1, 1);
    int64_t e = b.p < 0 ? -b.p : b.p;
    for (int64_t k = 0; k < e; k++) r = mul(r, a);
    return b.p < 0 ? recip_v(r) : r;
  }
  long double complex x = mx_val_z(&a), y = mx_val_z(&b);
  if (is_real(x) && is_real(y)) {
    long double xr = creall(x), yr = creall(y);
    if (xr > 0 || (xr == 0 && yr > 0)) return vz(powl(xr, yr));
    if (xr < 0 && b.exact && b.q == 1) return vz(powl(xr, yr));
    if (xr < 0 && b.exact && (b.q % 2) == 1) { /* odd root of a negative number: real */
      long double r = powl(-xr, yr);
      return vz((b.p % 2) ? -r : r);
    }
  }
  if (x == 0) return vz(0);
  return vz(cpowl(x, y));
}

static mx_val var_value(const char *name, int point) {
  uint64_t h = fnv(name, strlen(name), 1469598103934665603ULL);
  h = fnv(&point, sizeof point, h);
  return vz(1.5L + 3.0L * unit01(h));
}

static int eval_rec(const mx_node *n, env *e, mx_val *out);

static int eval_real(const mx_node *n, env *e, long double *out) {
  mx_val v;
  if (!eval_rec(n, e, &v)) return 0;
  long double complex z = mx_val_z(&v);
  if (fabsl(cimagl(z)) > 1e-12L * (1 + fabsl(creall(z)))) return 0;
  *out = creall(z);
  return 1;
}

static long double complex cfun(const char *f, long double complex x, int *ok) {
  int real = is_real(x);
  long double r = creall(x);
#define R1(name, rf, cf)                          \
  if (!strcmp(f, name)) return real ? (long double complex)rf(r) : cf(x);
  R1("sin", sinl, csinl)
  R1("cos", cosl, ccosl)
  R1("tan", tanl, ctanl)
  R1("sinh", sinhl, csinhl)
  R1("cosh", coshl, ccoshl)
  R1("tanh", tanhl, ctanhl)
  R1("exp", expl, cexpl)
  R1("arctan", atanl, catanl)
#undef R1
  if (!strcmp(f, "sec")) return 1.0L / (real ? cosl(r) : ccosl(x));
  if (!strcmp(f, "csc")) return 1.0L / (real ? sinl(r) : csinl(x));
  if (!strcmp(f, "cot")) return 1.0L / (real ? tanl(r) : ctanl(x));
  if (!strcmp(f, "arcsin")) return real && fabsl(r) <= 1 ? asinl(r) : casinl(x);
  if (!strcmp(f, "arccos")) return real && fabsl(r) <= 1 ? acosl(r) : cacosl(x);
  if (!strcmp(f, "arcsec")) return cacosl(1.0L / x);
  if (!strcmp(f, "arccsc")) return casinl(1.0L / x);
  if (!strcmp(f, "arccot")) return catanl(1.0L / x);
  if (!strcmp(f, "ln") || !strcmp(f, "log")) return real && r > 0 ? logl(r) : clogl(x);
  if (!strcmp(f, "sqrt")) return real && r >= 0 ? sqrtl(r) : csqrtl(x);
  if (!strcmp(f, "cbrt")) return real ? cbrtl(r) : cpowl(x, 1.0L / 3);
  if (!strcmp(f, "floor")) return floorl(r + 1e-12L);
  if (!strcmp(f, "ceil")) return ceill(r - 1e-12L);
  if (!strcmp(f, "det")) return x;
  *ok = 0;
  return 0;
}

/* steps left for the current comparison (all evaluations together); < 0: no shared limit */
static _Thread_local long shared_steps = -1;
void mx_set_budget(long steps) { shared_steps = steps; }

static int eval_rec(const mx_node *n, env *e, mx_val *out) {
  if (!n || ++e->steps > MX_EVAL_BUDGET) return 0;
  if (shared_steps >= 0 && shared_steps-- == 0) return 0;
  switch (n->kind) {
    case MX_NUM:
      *out = (n->flags & MXF_EXACT) ? vq(n->p, n->q) : vz(n->v);
      return 1;
    case MX_CONST:
      if (n->op == 'p') *out = vz(3.14159265358979323846264338327950288L);
      else if (n->op == 'e') *out = vz(2.71828182845904523536028747135266250L);
      else *out = vz(I);
      return 1;
    case MX_INF:
      *out = vz(INFINITY);
      return 1;
    case MX_SYM: {
      for (int k = e->nb - 1; k >= 0; k--)
        if (!strcmp(e->bname[k], n->name)) {
          *out = e->bval[k];
          return 1;
        }
      *out = var_value(n->name, e->point);
      return 1;
    }
    case MX_APPLY: {
      uint64_t h = fnv(n->name, strlen(n->name), 88172645463325252ULL);
      h = fnv(&e->point, sizeof e->point, h);
      for (int k = 0; k < n->nkids; k++) {
        mx_val a;
        if (!eval_rec(n->kids[k], e, &a)) return 0;
        long double complex z = mx_val_z(&a);
        long double re = creall(z), im = cimagl(z);
        if (!isfinite(re) || !isfinite(im)) return 0;
        int64_t qr = (int64_t)llroundl(re * 1e6L), qi = (int64_t)llroundl(im * 1e6L);
        h = fnv(&qr, sizeof qr, h);
        h = fnv(&qi, sizeof qi, h);
      }
      *out = vz(1.0L + 2.0L * unit01(h));
      return 1;
    }
    case MX_ADD: {
      mx_val acc = vq(0, 1);
      for (int k = 0; k < n->nkids; k++) {
        mx_val a;
        if (!eval_rec(n->kids[k], e, &a)) return 0;
        acc = add(acc, a);
      }
      *out = acc;
      return 1;
    }
    case MX_MUL: {
      mx_val acc = vq(1, 1);
      for (int k = 0; k < n->nkids; k++) {
        mx_val a;
        if (!eval_rec(n->kids[k], e, &a)) return 0;
        acc = mul(acc, a);
      }
      *out = acc;
      return 1;
    }
    case MX_NEG: {
      mx_val a;
      if (!eval_rec(n->kids[0], e, &a)) return 0;
      *out = neg(a);
      return 1;
    }
    case MX_POW: {
      mx_val a, b;
      if (!eval_rec(n->kids[0], e, &a) || !eval_rec(n->kids[1], e, &b)) return 0;
      *out = powv(a, b);
      return 1;
    }
    case MX_RATIO: {
      mx_val a, b;
      if (!eval_rec(n->kids[0], e, &a) || !eval_rec(n->kids[1], e, &b)) return 0;
      *out = mul(a, recip_v(b));
      return 1;
    }
    case MX_PCT: {
      mx_val a;
      if (!eval_rec(n->kids[0], e, &a)) return 0;
      *out = mul(a, vq(1, 100));
      return 1;
    }
    case MX_DEG: {
      mx_val a;
      if (!eval_rec(n->kids[0], e, &a)) return 0;
      *out = vz(mx_val_z(&a) * 3.14159265358979323846264338327950288L / 180.0L);
      return 1;
    }
    case MX_ABS: {
      mx_val a;
      if (!eval_rec(n->kids[0], e, &a)) return 0;
      if (a.exact && a.p != INT64_MIN) *out = a.p < 0 ? vq(-a.p, a.q) : a;
      else *out = vz(cabsl(a.z));
      return 1;
    }
    case MX_FACT: {
      mx_val a;
      if (!eval_rec(n->kids[0], e, &a)) return 0;
      if (a.exact && a.q == 1 && a.p >= 0 && a.p <= 20) {
        int64_t f = 1;
        for (int64_t k = 2; k <= a.p; k++) f *= k;
        *out = vq(f, 1);
        return 1;
      }
      long double complex z = mx_val_z(&a);
      if (!is_real(z)) return 0;
      *out = vz(tgammal(creall(z) + 1));
      return 1;
    }
    case MX_FUNC: {
      if (!strcmp(n->name, "binom") && n->nkids == 2) {
        mx_val a, b;
        if (!eval_rec(n->kids[0], e, &a) || !eval_rec(n->kids[1], e, &b)) return 0;
        if (a.exact && b.exact && a.q == 1 && b.q == 1 && b.p >= 0 && a.p >= 0 && b.p <= a.p &&
            (b.p <= 200 || a.p - b.p <= 200)) {
          int64_t k = b.p < a.p - b.p ? b.p : a.p - b.p;
          mx_val r = vq(1, 1);
          for (int64_t j = 1; j <= k; j++) r = mul(r, vq(a.p - k + j, j));
          *out = r;
          return 1;
        }
        long double x = creall(mx_val_z(&a)), y = creall(mx_val_z(&b));
        *out = vz(expl(lgammal(x + 1) - lgammal(y + 1) - lgammal(x - y + 1)));
        return 1;
      }
      if (!strcmp(n->name, "logb") && n->nkids == 2) {
        mx_val a, b;
        if (!eval_rec(n->kids[0], e, &a) || !eval_rec(n->kids[1], e, &b)) return 0;
        *out = vz(clogl(mx_val_z(&a)) / clogl(mx_val_z(&b)));
        return 1;
      }
      if ((!strcmp(n->name, "max") || !strcmp(n->name, "min") || !strcmp(n->name, "gcd") ||
           !strcmp(n->name, "lcm")) && n->nkids >= 1) {
        long double best = 0;
        for (int k = 0; k < n->nkids; k++) {
          long double x;
          if (!eval_real(n->kids[k], e, &x)) return 0;
          if (k == 0) best = x;
          else if (n->name[1] == 'a') best = x > best ? x : best;
          else if (n->name[1] == 'i') best = x < best ? x : best;
          else {
            if (fabsl(best) > 1e15L || fabsl(x) > 1e15L) return 0;
            long long a = llroundl(best), b = llroundl(x);
            long long g = mx_gcd64(a, b);
            best = n->name[0] == 'g' ? (long double)g : (long double)(a / g) * (long double)b;
          }
        }
        *out = vz(best);
        return 1;
      }
      if (n->nkids != 1) return 0;
      mx_val a;
      if (!eval_rec(n->kids[0], e, &a)) return 0;
      if (!strcmp(n->name, "sqrt") && a.exact && a.p >= 0) {
        long double rp = sqrtl((long double)a.p), rq = sqrtl((long double)a.q);
        int64_t ip = llroundl(rp), iq = llroundl(rq);
        int64_t pp, qq;
        if (!__builtin_mul_overflow(ip, ip, &pp) && !__builtin_mul_overflow(iq, iq, &qq) && pp == a.p &&
            qq == a.q) {
          *out = vq(ip, iq);
          return 1;
        }
      }
      int ok = 1;
      long double complex z = cfun(n->name, mx_val_z(&a), &ok);
      if (!ok) return 0;
      *out = vz(z);
      return 1;
    }
    case MX_SUM: {
      long double lo, hi;
      if (!eval_real(n->kids[0], e, &lo) || !eval_real(n->kids[1], e, &hi)) return 0;
      if (!isfinite(lo) || !isfinite(hi) || fabsl(lo) > 1e15L || fabsl(hi) > 1e15L) return 0;
      long long a = (long long)floorl(lo + 1e-9L), b = (long long)floorl(hi + 1e-9L);
      if (b - a > MX_MAX_SUM_TERMS || e->nb >= 8) return 0;
      mx_val acc = n->op == 'p' ? vq(1, 1) : vq(0, 1);
      e->bname[e->nb] = n->name;
      e->nb++;
      for (long long k = a; k <= b; k++) {
        e->bval[e->nb - 1] = vq(k, 1);
        mx_val t;
        if (!eval_rec(n->kids[2], e, &t)) {
          e->nb--;
          return 0;
        }
        acc = n->op == 'p' ? mul(acc, t) : add(acc, t);
      }
      e->nb--;
      *out = acc;
      return 1;
    }
    default:
      return 0; /* not a scalar */
  }
}

int mx_eval(const mx_node *n, int point, mx_val *out) {
  env e;
  memset(&e, 0, sizeof e);
  e.point = point;
  return eval_rec(n, &e, out);
}

static int vars_rec(const mx_node *n, const char **names, int max, int count) {
  if (!n) return count;
  if (n->kind == MX_SYM) {
    for (int k = 0; k < count && k < max; k++)
      if (!strcmp(names[k], n->name)) return count;
    if (count < max) names[count] = n->name;
    return count + 1;
  }
  if (n->kind == MX_APPLY) {
    for (int k = 0; k < count && k < max; k++)
      if (!strcmp(names[k], n->name)) goto kids;
    if (count < max) names[count] = n->name;
    count++;
  }
kids:
  for (int k = 0; k < n->nkids; k++) count = vars_rec(n->kids[k], names, max, count);
  return count;
}

int mx_vars(const mx_node *n, const char **names, int max) { return vars_rec(n, names, max, 0); }

int mx_is_numeric(const mx_node *n) {
  const char *names[1];
  return mx_vars(n, names, 1) == 0;
}

/* ---------------------------------------------------------------- printing */
typedef struct {
  char *b;
  size_t cap, len;
} sb;
static void put(sb *s, const char *t) {
  size_t n = strlen(t);
  if (s->len + n + 1 > s->cap) n = s->cap > s->len + 1 ? s->cap - s->len - 1 : 0;
  memcpy(s->b + s->len, t, n);
  s->len += n;
  s->b[s->len] = 0;
}
static void print_rec(const mx_node *n, sb *s, int depth) {
  char tmp[80];
  if (!n || depth > 64) {
    put(s, "?");
    return;
  }
  static const char *kn[] = {"", "num", "sym", "const", "inf", "add", "mul", "pow", "neg", "func",
                             "apply", "rel", "tuple", "blist", "list", "set", "interval", "union",
                             "matrix", "pm", "text", "ratio", "pct", "deg", "fact", "abs", "sum",
                             "empty"};
  switch (n->kind) {
    case MX_NUM:
      if (n->flags & MXF_EXACT) {
        if (n->q == 1) snprintf(tmp, sizeof tmp, "%lld", (long long)n->p);
        else snprintf(tmp, sizeof tmp, "%lld/%lld", (long long)n->p, (long long)n->q);
      } else {
        snprintf(tmp, sizeof tmp, "%.12Lg", n->v);
      }
      put(s, tmp);
      return;
    case MX_SYM: put(s, n->name); return;
    case MX_TEXT: put(s, "\""); put(s, n->name); put(s, "\""); return;
    case MX_CONST: tmp[0] = (char)n->op; tmp[1] = 0; put(s, n->op == 'p' ? "pi" : tmp); return;
    case MX_INF: put(s, "oo"); return;
    case MX_EMPTY: put(s, "{}"); return;
    default: break;
  }
  put(s, n->kind < sizeof kn / sizeof kn[0] ? kn[n->kind] : "?");
  if (n->name) {
    put(s, ":");
    put(s, n->name);
  }
  if (n->kind == MX_INTERVAL) put(s, (n->flags & MXF_LO_CLOSED) ? "[" : "(");
  if (n->kind == MX_REL) {
    static const char *ro[] = {"", "=", "<", "<=", ">", ">=", "!=", "in", "~"};
    put(s, "{");
    for (int k = 0; k < n->nkids; k++) {
      if (k) put(s, ro[n->ops[k - 1] < 9 ? n->ops[k - 1] : 0]);
      print_rec(n->kids[k], s, depth + 1);
    }
    put(s, "}");
    return;
  }
  put(s, "(");
  for (int k = 0; k < n->nkids; k++) {
    if (k) put(s, ", ");
    print_rec(n->kids[k], s, depth + 1);
  }
  put(s, ")");
  if (n->kind == MX_INTERVAL) put(s, (n->flags & MXF_HI_CLOSED) ? "]" : ")");
}

void mx_print(const mx_node *n, char *buf, size_t cap) {
  if (!cap) return;
  sb s = {buf, cap, 0};
  buf[0] = 0;
  print_rec(n, &s, 0);
}

/* evaluation with one variable bound to a real value (sets on the real line) */
int mx_eval_bind(const mx_node *n, const char *var, long double x, mx_val *out) {
  env e;
  memset(&e, 0, sizeof e);
  e.bname[0] = var;
  e.bval[0] = vz(x);
  e.nb = 1;
  return eval_rec(n, &e, out);
}

/* ---------------------------------------------------------------- modular fingerprints */
/* Rational arithmetic modulo a prime: exact for numbers of any size built from integers with
 * + - * /, integer powers, factorials and binomials. Two values that differ modulo a prime
 * are different, however close their floating-point values are (10^{100} vs 10^{100} + 1). */
typedef unsigned __int128 u128;

static uint64_t mulm(uint64_t a, uint64_t b, uint64_t m) { return (uint64_t)((u128)a * b % m); }
static uint64_t powm(uint64_t a, uint64_t e, uint64_t m) {
  uint64_t r = 1 % m;
  a %= m;
  while (e) {
    if (e & 1) r = mulm(r, a, m);
    a = mulm(a, a, m);
    e >>= 1;
  }
  return r;
}
static uint64_t modi(int64_t v, uint64_t m) {
  int64_t r = v % (int64_t)m;
  return (uint64_t)(r < 0 ? r + (int64_t)m : r);
}

static int mod_rec(const mx_node *n, uint64_t m, uint64_t *out, long *steps) {
  if (!n || ++*steps > 200000) return 0;
  switch (n->kind) {
    case MX_NUM:
      if (!(n->flags & MXF_EXACT)) {
        /* a literal too big for 64 bits: its digits / 10^places */
        if (!n->name || !n->name[0]) return 0;
        uint64_t r = 0, den = 1 % m;
        for (const char *c = n->name; *c; c++) {
          if (*c == '.') continue;
          r = (uint64_t)(((u128)r * 10 + (uint64_t)(*c - '0')) % m);
        }
        for (int k = 0; k < n->places; k++) den = mulm(den, 10, m);
        if (den == 0) return 0;
        *out = mulm(r, powm(den, m - 2, m), m);
        return 1;
      }
      if (modi(n->q, m) == 0) return 0;
      *out = mulm(modi(n->p, m), powm(modi(n->q, m), m - 2, m), m);
      return 1;
    case MX_ADD: case MX_MUL: {
      uint64_t acc = n->kind == MX_ADD ? 0 : 1 % m;
      for (int k = 0; k < n->nkids; k++) {
        uint64_t x;
        if (!mod_rec(n->kids[k], m, &x, steps)) return 0;
        acc = n->kind == MX_ADD ? (uint64_t)(((u128)acc + x) % m) : mulm(acc, x, m);
      }
      *out = acc;
      return 1;
    }
    case MX_NEG: {
      uint64_t x;
      if (!mod_rec(n->kids[0], m, &x, steps)) return 0;
      *out = x ? m - x : 0;
      return 1;
    }
    case MX_RATIO: case MX_PCT: {
      uint64_t x, y;
      if (!mod_rec(n->kids[0], m, &x, steps)) return 0;
      if (n->kind == MX_PCT) y = 100 % m;
      else if (!mod_rec(n->kids[1], m, &y, steps)) return 0;
      if (y == 0) return 0;
      *out = mulm(x, powm(y, m - 2, m), m);
      return 1;
    }
    case MX_POW: {
      mx_val e;
      uint64_t x;
      if (!mx_eval(n->kids[1], 0, &e) || !e.exact || e.q != 1) return 0;
      if (!mod_rec(n->kids[0], m, &x, steps)) return 0;
      if (e.p < 0) {
        if (x == 0 || e.p == INT64_MIN) return 0;
        x = powm(x, m - 2, m);
        *out = powm(x, (uint64_t)(-e.p), m);
      } else {
        *out = powm(x, (uint64_t)e.p, m);
      }
      return 1;
    }
    case MX_FACT: {
      mx_val v;
      if (!mx_eval(n->kids[0], 0, &v) || !v.exact || v.q != 1 || v.p < 0 || v.p > 100000) return 0;
      uint64_t r = 1 % m;
      for (int64_t k = 2; k <= v.p; k++) r = mulm(r, (uint64_t)k % m, m);
      *steps += v.p;
      *out = r;
      return 1;
    }
    case MX_FUNC:
      if (!strcmp(n->name, "binom") && n->nkids == 2) {
        mx_val a, b;
        if (!mx_eval(n->kids[0], 0, &a) || !mx_eval(n->kids[1], 0, &b) || !a.exact || !b.exact ||
            a.q != 1 || b.q != 1 || a.p < 0 || b.p < 0 || b.p > a.p || a.p > 100000)
          return 0;
        uint64_t num = 1 % m, den = 1 % m;
        for (int64_t j = 1; j <= b.p; j++) {
          num = mulm(num, (uint64_t)(a.p - b.p + j) % m, m);
          den = mulm(den, (uint64_t)j % m, m);
        }
        *steps += b.p;
        *out = mulm(num, powm(den, m - 2, m), m);
        return 1;
      }
      return 0;
    default:
      return 0;
  }
}

int mx_fingerprint_cmp(const mx_node *a, const mx_node *b) {
  static const uint64_t primes[] = {2305843009213693951ULL /* 2^61 - 1 */, 1000000007ULL, 998244353ULL};
  for (size_t i = 0; i < sizeof primes / sizeof primes[0]; i++) {
    uint64_t x, y;
    long sa = 0, sb = 0;
    if (!mod_rec(a, primes[i], &x, &sa) || !mod_rec(b, primes[i], &y, &sb)) return -1;
    if (x != y) return 0;
  }
  return 1;
}

int mx_fingerprints_differ(const mx_node *a, const mx_node *b) { return mx_fingerprint_cmp(a, b) == 0; }
