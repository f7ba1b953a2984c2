/* long1k — Jinja evaluator: statements, expressions, scopes, macros, the parse and render
 * entry points.
 *
 * Scopes as in Jinja2: the template's top level is one scope; each for-loop iteration and each
 * macro call opens a new one (a set inside a loop does not outlive the iteration: templates
 * use namespace() for that). Limits keep a hostile template from hanging or exhausting memory:
 * macro calls nest at most 64 deep, a render takes at most 10 million steps (statements and
 * loop iterations), the output and the arena are capped (jinja_render).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "text/jinja_internal.h"

#define MAX_MACRO_DEPTH 64
#define MAX_STEPS 10000000ull
#define MAX_OUTPUT ((size_t)256 << 20)

static void step(jrender *r, const jnode *n) {
  if (++r->steps > MAX_STEPS)
    JFAIL(r, n, "more than %llu steps (a runaway loop?)", (unsigned long long)MAX_STEPS);
}

/* ---- variables ---- */
static jv lookup(jrender *r, jframe *f, const char *name) {
  for (; f; f = f->parent) {
    jv *v = jdict_get(f->vars, name, strlen(name));
    if (v) return *v;
  }
  int fn = jglobal_func(name);
  if (fn) return (jv){.t = JV_FUNC, .u.fn = fn};
  return jv_undef();
}

static jframe *push_frame(jrender *r, jframe *parent) {
  jframe *f = jalloc(&r->e, sizeof *f);
  f->vars = jv_newdict(&r->e).u.d;
  f->parent = parent;
  return f;
}

/* ---- expressions ---- */
static jv eval_in(jrender *r, jframe *f, const jnode *n);

static int cmp_values(jrender *r, const jnode *n, jv a, jv b) {
  int an = a.t == JV_BOOL || a.t == JV_INT || a.t == JV_FLOAT;
  int bn = b.t == JV_BOOL || b.t == JV_INT || b.t == JV_FLOAT;
  if (an && bn) {
    if (a.t != JV_FLOAT && b.t != JV_FLOAT) {
      int64_t x = a.t == JV_INT ? a.u.i : a.u.b, y = b.t == JV_INT ? b.u.i : b.u.b;
      return (x > y) - (x < y);
    }
    double x = a.t == JV_FLOAT ? a.u.f : a.t == JV_INT ? (double)a.u.i : a.u.b;
    double y = b.t == JV_FLOAT ? b.u.f : b.t == JV_INT ? (double)b.u.i : b.u.b;
    return (x > y) - (x < y);
  }
  if (a.t == JV_STR && b.t == JV_STR) {
    size_t m = a.u.s.n < b.u.s.n ? a.u.s.n : b.u.s.n;
    int c = memcmp(a.u.s.s, b.u.s.s, m);
    if (c) return c < 0 ? -1 : 1;
    return (a.u.s.n > b.u.s.n) - (a.u.s.n < b.u.s.n);
  }
  if (a.t == JV_LIST && b.t == JV_LIST) {
    for (size_t i = 0; i < a.u.l->n && i < b.u.l->n; i++) {
      if (jv_equal(a.u.l->v[i], b.u.l->v[i])) continue;
      return cmp_values(r, n, a.u.l->v[i], b.u.l->v[i]);
    }
    return (a.u.l->n > b.u.l->n) - (a.u.l->n < b.u.l->n);
  }
  JFAIL(r, n, "cannot compare %s with %s", jv_typename(a), jv_typename(b));
}

static int contains(jrender *r, const jnode *n, jv hay, jv x) {
  switch (hay.t) {
    case JV_STR:
      if (x.t != JV_STR) JFAIL(r, n, "'in <string>' requires a string, not %s", jv_typename(x));
      if (x.u.s.n == 0) return 1;
      for (size_t i = 0; i + x.u.s.n <= hay.u.s.n; i++)
        if (memcmp(hay.u.s.s + i, x.u.s.s, x.u.s.n) == 0) return 1;
      return 0;
    case JV_LIST:
      for (size_t i = 0; i < hay.u.l->n; i++)
        if (jv_equal(hay.u.l->v[i], x)) return 1;
      return 0;
    case JV_DICT:
      return x.t == JV_STR && jdict_get(hay.u.d, x.u.s.s, x.u.s.n) != NULL;
    case JV_UNDEF: /* Jinja's Undefined iterates as nothing */
      return 0;
    default:
      JFAIL(r, n, "argument of type %s is not iterable (for 'in')", jv_typename(hay));
  }
}

static int64_t as_int(jv v) { return v.t == JV_INT ? v.u.i : v.u.b; }
static double as_num(jv v) { return v.t == JV_FLOAT ? v.u.f : (double)as_int(v); }
static int numeric(jv v) { return v.t == JV_INT || v.t == JV_BOOL || v.t == JV_FLOAT; }

static jv repeat(jrender *r, const jnode *n, jv seq, int64_t times) {
  if (times < 0) times = 0;
  size_t len = seq.t == JV_STR ? seq.u.s.n : seq.u.l->n;
  if (len && (uint64_t)times > MAX_OUTPUT / len) JFAIL(r, n, "repetition too large");
  if (seq.t == JV_STR) {
    jsb b = {0};
    jsb_put(&r->e, &b, "", 0);
    for (int64_t i = 0; i < times; i++) jsb_put(&r->e, &b, seq.u.s.s, seq.u.s.n);
    return jv_strref(b.p, b.n);
  }
  jv out = jv_newlist(&r->e, len * (size_t)times);
  for (int64_t i = 0; i < times; i++)
    for (size_t k = 0; k < len; k++) jlist_push(&r->e, out.u.l, seq.u.l->v[k]);
  return out;
}

static jv arith(jrender *r, const jnode *n, int op, jv a, jv b) {
  if (op == JOP_ADD && a.t == JV_STR && b.t == JV_STR) {
    char *s = jalloc(&r->e, a.u.s.n + b.u.s.n + 1);
    memcpy(s, a.u.s.s, a.u.s.n);
    memcpy(s + a.u.s.n, b.u.s.s, b.u.s.n);
    return jv_strref(s, a.u.s.n + b.u.s.n);
  }
  if (op == JOP_ADD && a.t == JV_LIST && b.t == JV_LIST) {
    jv out = jv_newlist(&r->e, a.u.l->n + b.u.l->n);
    for (size_t i = 0; i < a.u.l->n; i++) jlist_push(&r->e, out.u.l, a.u.l->v[i]);
    for (size_t i = 0; i < b.u.l->n; i++) jlist_push(&r->e, out.u.l, b.u.l->v[i]);
    out.tuple = a.tuple && b.tuple;
    return out;
  }
  if (op == JOP_MUL && (a.t == JV_STR || a.t == JV_LIST) && (b.t == JV_INT || b.t == JV_BOOL))
    return repeat(r, n, a, as_int(b));
  if (op == JOP_MUL && (b.t == JV_STR || b.t == JV_LIST) && (a.t == JV_INT || a.t == JV_BOOL))
    return repeat(r, n, b, as_int(a));
  if (!numeric(a) || !numeric(b)) {
    static const char *sym[] = {"", "+", "-", "*", "/", "//", "%", "**"};
    if (op == JOP_MOD && a.t == JV_STR)
      JFAIL(r, n, "printf-style string formatting ('...' %% x) is not supported");
    JFAIL(r, n, "unsupported operand types for %s: %s and %s", sym[op], jv_typename(a),
          jv_typename(b));
  }
  int ints = a.t != JV_FLOAT && b.t != JV_FLOAT;
  if (ints) {
    int64_t x = as_int(a), y = as_int(b), z;
    int ovf = 0;
    switch (op) {
      case JOP_ADD: ovf = __builtin_add_overflow(x, y, &z); break;
      case JOP_SUB: ovf = __builtin_sub_overflow(x, y, &z); break;
      case JOP_MUL: ovf = __builtin_mul_overflow(x, y, &z); break;
      case JOP_FLOORDIV:
      case JOP_MOD: {
        if (y == 0) JFAIL(r, n, "integer division or modulo by zero");
        if (x == INT64_MIN && y == -1) {
          ovf = op == JOP_FLOORDIV, z = 0;
          break;
        }
        int64_t q = x / y, m = x % y;
        if (m != 0 && ((m < 0) != (y < 0))) q--, m += y;
        z = op == JOP_MOD ? m : q;
        break;
      }
      case JOP_POW:
        if (y < 0) goto floating;
        z = 1;
        for (int64_t i = 0; i < y && !ovf; i++) {
          ovf = __builtin_mul_overflow(z, x, &z);
          if (z == 0 || z == 1) break; /* 0 ** y, 1 ** y */
          if (z == -1) { z = (y % 2) ? -1 : 1; break; }
        }
        break;
      default: goto floating;
    }
    if (ovf) JFAIL(r, n, "integer overflow (integers here are 64-bit; Python's are not)");
    return jv_int(z);
  }
floating:;
  double x = as_num(a), y = as_num(b);
  switch (op) {
    case JOP_ADD: return jv_float(x + y);
    case JOP_SUB: return jv_float(x - y);
    case JOP_MUL: return jv_float(x * y);
    case JOP_DIV:
      if (y == 0) JFAIL(r, n, "division by zero");
      return jv_float(x / y);
    case JOP_FLOORDIV:
      if (y == 0) JFAIL(r, n, "float floor division by zero");
      return jv_float(floor(x / y));
    case JOP_MOD: {
      if (y == 0) JFAIL(r, n, "float modulo by zero");
      double m = fmod(x, y);
      if (m != 0 && ((m < 0) != (y < 0))) m += y;
      return jv_float(m);
    }
    default: return jv_float(pow(x, y));
  }
}

static jv eval_bin(jrender *r, jframe *f, const jnode *n) {
  jv a = eval_in(r, f, n->a), b = eval_in(r, f, n->b);
  switch (n->op) {
    case JOP_CONCAT: {
      jsb s = {0};
      jsb_put(&r->e, &s, "", 0);
      jv_str_into(&r->e, &s, a);
      jv_str_into(&r->e, &s, b);
      return jv_strref(s.p, s.n);
    }
    case JOP_EQ: return jv_bool(jv_equal(a, b));
    case JOP_NE: return jv_bool(!jv_equal(a, b));
    case JOP_LT: return jv_bool(cmp_values(r, n, a, b) < 0);
    case JOP_LE: return jv_bool(cmp_values(r, n, a, b) <= 0);
    case JOP_GT: return jv_bool(cmp_values(r, n, a, b) > 0);
    case JOP_GE: return jv_bool(cmp_values(r, n, a, b) >= 0);
    case JOP_IN: return jv_bool(contains(r, n, b, a));
    case JOP_NOTIN: return jv_bool(!contains(r, n, b, a));
    default:
      if (a.t == JV_UNDEF || b.t == JV_UNDEF)
        JFAIL(r, n, "an undefined value in arithmetic");
      return arith(r, n, n->op, a, b);
  }
}

typedef struct argv_ {
  jv *args;
  size_t nargs;
  jv *kwv;
} argv_;

static argv_ eval_args(jrender *r, jframe *f, const jnode *n) {
  argv_ a = {NULL, n->nargs, NULL};
  if (n->nargs) a.args = jalloc(&r->e, n->nargs * sizeof *a.args);
  for (size_t i = 0; i < n->nargs; i++) a.args[i] = eval_in(r, f, n->args[i]);
  if (n->nkw) a.kwv = jalloc(&r->e, n->nkw * sizeof *a.kwv);
  for (size_t i = 0; i < n->nkw; i++) a.kwv[i] = eval_in(r, f, n->kwvals[i]);
  return a;
}

static jv eval_call(jrender *r, jframe *f, const jnode *n) {
  const jnode *callee = n->a;
  if (callee->kind == E_ATTR) { /* obj.method(...) */
    jv obj = eval_in(r, f, callee->a);
    argv_ a = eval_args(r, f, n);
    if (obj.t == JV_UNDEF) JFAIL(r, n, "'%s' called on an undefined value", callee->name);
    if (obj.t == JV_DICT && !obj.u.d->ns) {
      jv *m = jdict_get(obj.u.d, callee->name, strlen(callee->name));
      if (m && m->t == JV_MACRO)
        return jcall_macro(r, m->u.macro, a.args, a.nargs, n->kwnames, a.kwv, n->nkw, n);
    }
    return jmethod(r, n, obj, callee->name, a.args, a.nargs, n->kwnames, a.kwv, n->nkw);
  }
  jv fn = eval_in(r, f, callee);
  argv_ a = eval_args(r, f, n);
  if (fn.t == JV_MACRO)
    return jcall_macro(r, fn.u.macro, a.args, a.nargs, n->kwnames, a.kwv, n->nkw, n);
  if (fn.t == JV_FUNC)
    return jcall_global(r, n, fn.u.fn, a.args, a.nargs, n->kwnames, a.kwv, n->nkw);
  if (callee->kind == E_NAME)
    JFAIL(r, n, "'%s' is %s, not a function", callee->name,
          fn.t == JV_UNDEF ? "undefined" : jv_typename(fn));
  JFAIL(r, n, "a %s value is not callable", jv_typename(fn));
}

static jv eval_in(jrender *r, jframe *f, const jnode *n) {
  switch (n->kind) {
    case E_LIT: return n->lit;
    case E_NAME: return lookup(r, f, n->name);
    case E_ATTR: {
      jv obj = eval_in(r, f, n->a);
      return jgetattr(r, n, obj, n->name, strlen(n->name));
    }
    case E_ITEM: {
      jv obj = eval_in(r, f, n->a);
      return jgetitem(r, n, obj, eval_in(r, f, n->b));
    }
    case E_SLICE: {
      jv obj = eval_in(r, f, n->a);
      jv p[3];
      for (int i = 0; i < 3; i++) p[i] = n->args[i] ? eval_in(r, f, n->args[i]) : jv_none();
      return jslice(r, n, obj, p[0], p[1], p[2]);
    }
    case E_CALL: return eval_call(r, f, n);
    case E_FILTER: {
      jv x = eval_in(r, f, n->a);
      argv_ a = eval_args(r, f, n);
      return jfilter(r, n, x, a.args, a.nargs, n->kwnames, a.kwv, n->nkw);
    }
    case E_TEST: {
      jv x = eval_in(r, f, n->a);
      argv_ a = eval_args(r, f, n);
      int t = jtest(r, n, n->name, x, a.args, a.nargs);
      return jv_bool(n->op ? !t : t);
    }
    case E_NEG:
    case E_POS: {
      jv x = eval_in(r, f, n->a);
      if (!numeric(x)) JFAIL(r, n, "bad operand type for unary %c: %s", n->kind == E_NEG ? '-' : '+', jv_typename(x));
      if (n->kind == E_POS) return x.t == JV_BOOL ? jv_int(x.u.b) : x;
      if (x.t != JV_FLOAT && as_int(x) == INT64_MIN) JFAIL(r, n, "integer overflow (integers here are 64-bit)");
      return x.t == JV_FLOAT ? jv_float(-x.u.f) : jv_int(-as_int(x));
    }
    case E_NOT: return jv_bool(!jv_truthy(eval_in(r, f, n->a)));
    case E_AND: {
      jv a = eval_in(r, f, n->a);
      return jv_truthy(a) ? eval_in(r, f, n->b) : a;
    }
    case E_OR: {
      jv a = eval_in(r, f, n->a);
      return jv_truthy(a) ? a : eval_in(r, f, n->b);
    }
    case E_COND:
      if (jv_truthy(eval_in(r, f, n->b))) return eval_in(r, f, n->a);
      return n->c ? eval_in(r, f, n->c) : jv_undef();
    case E_BIN: return eval_bin(r, f, n);
    case E_LIST:
    case E_TUPLE: {
      jv l = jv_newlist(&r->e, n->nargs);
      for (size_t i = 0; i < n->nargs; i++) jlist_push(&r->e, l.u.l, eval_in(r, f, n->args[i]));
      l.tuple = n->kind == E_TUPLE;
      return l;
    }
    case E_DICT: {
      jv d = jv_newdict(&r->e);
      for (size_t i = 0; i < n->nargs; i++) {
        jv k = eval_in(r, f, n->args[i]);
        if (k.t != JV_STR) JFAIL(r, n, "dict keys must be strings here, not %s", jv_typename(k));
        jdict_set(&r->e, d.u.d, k.u.s.s, k.u.s.n, eval_in(r, f, n->kwvals[i]));
      }
      return d;
    }
    default: JFAIL(r, n, "internal: not an expression");
  }
}

/* ---- statements ---- */
static void exec_body(jrender *r, jframe *f, jnode *const *body, size_t n);

static void out_put(jrender *r, const jnode *n, const char *s, size_t len) {
  if (r->out->n + len > MAX_OUTPUT) JFAIL(r, n, "output larger than %zu MiB", MAX_OUTPUT >> 20);
  jsb_put(&r->e, r->out, s, len);
}

static void assign(jrender *r, jframe *f, const jnode *n, jv v) {
  if (n->nnames == 1) {
    jdict_set(&r->e, f->vars, n->names[0], strlen(n->names[0]), v);
    return;
  }
  if (v.t != JV_LIST || v.u.l->n != n->nnames)
    JFAIL(r, n, "cannot unpack %s into %zu names", jv_typename(v), n->nnames);
  for (size_t i = 0; i < n->nnames; i++)
    jdict_set(&r->e, f->vars, n->names[i], strlen(n->names[i]), v.u.l->v[i]);
}

static void exec_set(jrender *r, jframe *f, const jnode *n) {
  jv v = eval_in(r, f, n->a);
  if (!n->attr) {
    assign(r, f, n, v);
    return;
  }
  jv ns = lookup(r, f, n->names[0]);
  if (ns.t != JV_DICT || !ns.u.d->ns)
    JFAIL(r, n, "cannot set attribute '%s' of '%s' (%s): only a namespace() has settable attributes",
          n->attr, n->names[0], jv_typename(ns));
  jdict_set(&r->e, ns.u.d, n->attr, strlen(n->attr), v);
}

static jv capture(jrender *r, jframe *f, jnode *const *body, size_t nbody) {
  jsb *saved = r->out;
  jsb cap = {0};
  jsb_put(&r->e, &cap, "", 0);
  r->out = &cap;
  exec_body(r, f, body, nbody);
  r->out = saved;
  return jv_strref(cap.p, cap.n);
}

/* the loop variable: one dict per loop, updated in place each iteration */
static void set_loop(jrender *r, jframe *it, jv loop, jlist *items, size_t i) {
  jenv *e = &r->e;
  jdict *d = loop.u.d;
  size_t n = items->n;
  jdict_set(e, d, "index", 5, jv_int((int64_t)i + 1));
  jdict_set(e, d, "index0", 6, jv_int((int64_t)i));
  jdict_set(e, d, "revindex", 8, jv_int((int64_t)(n - i)));
  jdict_set(e, d, "revindex0", 9, jv_int((int64_t)(n - i - 1)));
  jdict_set(e, d, "first", 5, jv_bool(i == 0));
  jdict_set(e, d, "last", 4, jv_bool(i + 1 == n));
  jdict_set(e, d, "length", 6, jv_int((int64_t)n));
  jdict_set(e, d, "depth", 5, jv_int(1));
  jdict_set(e, d, "depth0", 6, jv_int(0));
  jdict_set(e, d, "previtem", 8, i > 0 ? items->v[i - 1] : jv_undef());
  jdict_set(e, d, "nextitem", 8, i + 1 < n ? items->v[i + 1] : jv_undef());
  jdict_set(e, it->vars, "loop", 4, loop);
}

static void exec_for(jrender *r, jframe *f, const jnode *n) {
  jlist *all = jiterate(r, n, eval_in(r, f, n->a));
  jlist *items = all;
  jframe *it = push_frame(r, f); /* each iteration's scope: emptied before the next one */
  if (n->b) { /* for x in xs if cond: filter first, so loop.length counts the kept ones */
    items = jv_newlist(&r->e, all->n).u.l;
    for (size_t i = 0; i < all->n; i++) {
      step(r, n);
      it->vars->n = 0;
      assign(r, it, n, all->v[i]);
      if (jv_truthy(eval_in(r, it, n->b))) jlist_push(&r->e, items, all->v[i]);
    }
  }
  jv loop = jv_newdict(&r->e);
  for (size_t i = 0; i < items->n; i++) {
    step(r, n);
    it->vars->n = 0;
    assign(r, it, n, items->v[i]);
    set_loop(r, it, loop, items, i);
    exec_body(r, it, n->body, n->nbody);
    if (r->ctl == 1) {
      r->ctl = 0;
      break;
    }
    r->ctl = 0;
  }
  if (items->n == 0) exec_body(r, f, n->body2, n->nbody2);
}

static void exec_one(jrender *r, jframe *f, const jnode *n) {
  step(r, n);
  switch (n->kind) {
    case N_TEXT: out_put(r, n, n->lit.u.s.s, n->lit.u.s.n); return;
    case N_OUTPUT: {
      jv v = eval_in(r, f, n->a);
      if (v.t == JV_STR) {
        out_put(r, n, v.u.s.s, v.u.s.n);
      } else {
        jv s = jv_tostr(&r->e, v);
        out_put(r, n, s.u.s.s, s.u.s.n);
      }
      return;
    }
    case N_IF:
      if (jv_truthy(eval_in(r, f, n->a))) exec_body(r, f, n->body, n->nbody);
      else exec_body(r, f, n->body2, n->nbody2);
      return;
    case N_FOR: exec_for(r, f, n); return;
    case N_SET: exec_set(r, f, n); return;
    case N_SETBLOCK: {
      jv v = capture(r, f, n->body, n->nbody);
      jdict_set(&r->e, f->vars, n->names[0], strlen(n->names[0]), v);
      return;
    }
    case N_MACRO: {
      jv m = {.t = JV_MACRO};
      m.u.macro = n;
      jdict_set(&r->e, f->vars, n->name, strlen(n->name), m);
      return;
    }
    case N_BREAK: r->ctl = 1; return;
    case N_CONTINUE: r->ctl = 2; return;
    case N_GENERATION: {
      int top = r->out == &r->main;
      size_t b = r->out->n;
      exec_body(r, f, n->body, n->nbody);
      if (top) {
        jspan_list *s = &r->spans;
        if (s->n == s->cap) {
          size_t nc = s->cap ? 2 * s->cap : 8;
          jinja_span *ns = jalloc(&r->e, nc * sizeof *ns);
          if (s->n) memcpy(ns, s->v, s->n * sizeof *ns);
          s->v = ns;
          s->cap = nc;
        }
        s->v[s->n++] = (jinja_span){b, r->out->n};
      }
      return;
    }
    default: JFAIL(r, n, "internal: not a statement");
  }
}

static void exec_body(jrender *r, jframe *f, jnode *const *body, size_t n) {
  for (size_t i = 0; i < n && !r->ctl; i++) exec_one(r, f, body[i]);
}

jv jcall_macro(jrender *r, const jnode *m, jv *args, size_t nargs, const char **kwn, jv *kwv,
               size_t nkw, const jnode *at) {
  if (r->depth >= MAX_MACRO_DEPTH)
    JFAIL(r, at, "macro '%s': calls nested more than %d deep", m->name, MAX_MACRO_DEPTH);
  if (nargs > m->nnames)
    JFAIL(r, at, "macro '%s' takes %zu arguments, %zu given", m->name, m->nnames, nargs);
  jframe *f = push_frame(r, r->root);
  for (size_t i = 0; i < m->nnames; i++) {
    jv v = jv_undef();
    int have = 0;
    if (i < nargs) v = args[i], have = 1;
    for (size_t k = 0; k < nkw; k++)
      if (!strcmp(kwn[k], m->names[i])) v = kwv[k], have = 1;
    if (!have && m->args[i]) v = eval_in(r, f, m->args[i]);
    jdict_set(&r->e, f->vars, m->names[i], strlen(m->names[i]), v);
  }
  for (size_t k = 0; k < nkw; k++) {
    int known = 0;
    for (size_t i = 0; i < m->nnames; i++) known |= !strcmp(kwn[k], m->names[i]);
    if (!known) JFAIL(r, at, "macro '%s' has no parameter '%s'", m->name, kwn[k]);
  }
  r->depth++;
  int ctl = r->ctl;
  r->ctl = 0;
  jv out = capture(r, f, m->body, m->nbody);
  r->ctl = ctl;
  r->depth--;
  return out;
}

jv jeval(jrender *r, const jnode *n) { return eval_in(r, r->root, n); }

/* ---- entry points ---- */
static int parse_guarded(jinja_tmpl *t, jenv *e, const char *src, size_t len) {
  if (setjmp(e->jb)) return -1;
  jtoks tk = {0};
  jinja_lex(e, src, len, &tk);
  jinja_parse_tokens(e, &tk, t);
  return 0;
}

jinja_tmpl *jinja_parse(const char *src, size_t len, const char *name, l1k_err *err) {
  jinja_tmpl *t = calloc(1, sizeof *t);
  if (t) t->name = strdup(name ? name : "chat_template");
  if (!t || !t->name) {
    free(t);
    l1k_errf(err, L1K_ENOMEM, "out of memory");
    return NULL;
  }
  t->ar.limit = (size_t)256 << 20;
  jenv e;
  e.err = err;
  e.ar = &t->ar;
  e.name = t->name;
  if (parse_guarded(t, &e, src, len)) {
    jinja_free(t);
    return NULL;
  }
  return t;
}

void jinja_free(jinja_tmpl *t) {
  if (!t) return;
  jarena_free(&t->ar);
  free(t->name);
  free(t);
}

int jinja_has_generation(const jinja_tmpl *t) { return t && t->has_generation; }

static jv from_json(jenv *e, const cJSON *j, int depth) {
  if (depth > 64) jfail(e, 0, 0, "template variables nested more than 64 deep");
  if (cJSON_IsNull(j)) return jv_none();
  if (cJSON_IsBool(j)) return jv_bool(cJSON_IsTrue(j));
  if (cJSON_IsNumber(j)) {
    double d = j->valuedouble;
    if (d == floor(d) && fabs(d) < 9.007199254740992e15) return jv_int((int64_t)d);
    return jv_float(d);
  }
  if (cJSON_IsString(j)) return jv_cstr(j->valuestring);
  if (cJSON_IsArray(j)) {
    jv l = jv_newlist(e, 0);
    const cJSON *it;
    cJSON_ArrayForEach(it, j) jlist_push(e, l.u.l, from_json(e, it, depth + 1));
    return l;
  }
  jv d = jv_newdict(e);
  const cJSON *it;
  cJSON_ArrayForEach(it, j) jdict_set(e, d.u.d, it->string, strlen(it->string), from_json(e, it, depth + 1));
  return d;
}

static void setup_globals(jrender *r, const jinja_opts *o) {
  jenv *e = &r->e;
  jdict *g = r->root->vars;
  jv msgs = jv_newlist(e, o->n_msgs);
  for (size_t i = 0; i < o->n_msgs; i++) {
    jv m = jv_newdict(e);
    /* transformers copies the reasoning to "thinking" too (first key) */
    if (o->msgs[i].reasoning_content)
      jdict_set(e, m.u.d, "thinking", 8, jv_cstr(o->msgs[i].reasoning_content));
    jdict_set(e, m.u.d, "role", 4, jv_cstr(o->msgs[i].role));
    jdict_set(e, m.u.d, "content", 7, jv_cstr(o->msgs[i].content));
    if (o->msgs[i].reasoning_content)
      jdict_set(e, m.u.d, "reasoning_content", 17, jv_cstr(o->msgs[i].reasoning_content));
    jlist_push(e, msgs.u.l, m);
  }
  jdict_set(e, g, "messages", 8, msgs);
  jdict_set(e, g, "tools", 5, jv_none()); /* transformers passes tools=None, documents=None */
  jdict_set(e, g, "documents", 9, jv_none());
  jdict_set(e, g, "add_generation_prompt", 21, jv_bool(o->add_generation_prompt));
  if (o->bos_token) jdict_set(e, g, "bos_token", 9, jv_cstr(o->bos_token));
  if (o->eos_token) jdict_set(e, g, "eos_token", 9, jv_cstr(o->eos_token));
  if (o->vars) {
    const cJSON *it;
    cJSON_ArrayForEach(it, o->vars) jdict_set(e, g, it->string, strlen(it->string), from_json(e, it, 0));
  }
}

static int render_guarded(jrender *r, const jinja_opts *o) {
  if (setjmp(r->e.jb)) return -1;
  r->root = push_frame(r, NULL);
  setup_globals(r, o);
  jsb_put(&r->e, &r->main, "", 0);
  exec_body(r, r->root, r->t->body, r->t->nbody);
  return 0;
}

int jinja_render(const jinja_tmpl *t, const jinja_opts *o, jinja_result *out, l1k_err *err) {
  memset(out, 0, sizeof *out);
  jrender *r = calloc(1, sizeof *r);
  if (!r) return l1k_errf(err, L1K_ENOMEM, "out of memory");
  r->ar.limit = (size_t)256 << 20;
  r->e.err = err;
  r->e.ar = &r->ar;
  r->e.name = t->name;
  r->t = t;
  r->opts = o;
  r->out = &r->main;
  int rc = render_guarded(r, o) ? (err && err->code ? err->code : L1K_EINPUT) : 0;
  if (!rc) {
    out->text = malloc(r->main.n + 1);
    out->spans = malloc((r->spans.n ? r->spans.n : 1) * sizeof *out->spans);
    if (!out->text || !out->spans) {
      free(out->text);
      free(out->spans);
      memset(out, 0, sizeof *out);
      rc = l1k_errf(err, L1K_ENOMEM, "out of memory");
    } else {
      memcpy(out->text, r->main.p, r->main.n + 1);
      out->len = r->main.n;
      if (r->spans.n) memcpy(out->spans, r->spans.v, r->spans.n * sizeof *out->spans);
      out->n_spans = r->spans.n;
    }
  }
  jarena_free(&r->ar);
  free(r);
  return rc;
}

void jinja_result_free(jinja_result *r) {
  if (!r) return;
  free(r->text);
  free(r->spans);
  memset(r, 0, sizeof *r);
}
