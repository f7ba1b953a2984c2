/* long1k — Jinja2 parser: tokens -> AST (statements and expressions).
 *
 * Expression precedence, as Jinja2's parser has it (lowest first):
 *   a if c else b  <  or  <  and  <  not  <  comparisons, in, not in  <  + -  <  ~  <
 *   * / // %  <  **  <  unary - +  <  primary with .attr [key] (call) | filter, is test
 * Statements: if/elif/else, for (targets, "if" filter, else), set (name, tuple, ns.attr, block
 * set), macro, break, continue, generation. Anything else ({% include %}, {% extends %},
 * {% call %}, {% raw %}, ...) is refused with the tag's name.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "text/jinja_internal.h"

#define MAX_DEPTH 200

typedef struct parser {
  jenv *e;
  const jtoks *tk;
  size_t i;
  int depth;
  int has_generation;
} parser;

static const jtok *peek(parser *P) { return &P->tk->t[P->i]; }
static const jtok *peek2(parser *P) {
  return P->i + 1 < P->tk->n ? &P->tk->t[P->i + 1] : &P->tk->t[P->tk->n - 1];
}
static const jtok *next(parser *P) {
  const jtok *t = &P->tk->t[P->i];
  if (t->k != TK_EOF) P->i++;
  return t;
}

static int is_op(const jtok *t, const char *op) {
  return t->k == TK_OP && t->n == strlen(op) && memcmp(t->s, op, t->n) == 0;
}
static int is_name(const jtok *t, const char *nm) {
  return t->k == TK_NAME && t->n == strlen(nm) && memcmp(t->s, nm, t->n) == 0;
}

static const char *tokdesc(const jtok *t) {
  switch (t->k) {
    case TK_EOF: return "end of template";
    case TK_DATA: return "template text";
    case TK_VAR_BEGIN: return "'{{'";
    case TK_VAR_END: return "'}}'";
    case TK_BLOCK_BEGIN: return "'{%'";
    case TK_BLOCK_END: return "'%}'";
    case TK_NAME: return "a name";
    case TK_STRING: return "a string";
    case TK_INT: case TK_FLOAT: return "a number";
    default: return "an operator";
  }
}

static _Noreturn void perr(parser *P, const jtok *t, const char *what) {
  if (t->k == TK_NAME || t->k == TK_OP)
    jfail(P->e, t->line, t->col, "expected %s, got '%.*s'", what, (int)(t->n > 40 ? 40 : t->n), t->s);
  jfail(P->e, t->line, t->col, "expected %s, got %s", what, tokdesc(t));
}

static void expect_op(parser *P, const char *op) {
  const jtok *t = next(P);
  if (!is_op(t, op)) {
    char what[16];
    snprintf(what, sizeof what, "'%s'", op);
    perr(P, t, what);
  }
}

static const char *expect_name(parser *P) {
  const jtok *t = next(P);
  if (t->k != TK_NAME) perr(P, t, "a name");
  return jstrndup(P->e, t->s, t->n);
}

static jnode *mk(parser *P, jnode_kind k, const jtok *at) {
  jnode *n = jalloc(P->e, sizeof *n);
  n->kind = k;
  n->line = at->line;
  n->col = at->col;
  return n;
}

typedef struct nvec {
  jnode **v;
  size_t n, cap;
} nvec;
static void nv_push(parser *P, nvec *a, jnode *x) {
  if (a->n == a->cap) {
    size_t nc = a->cap ? 2 * a->cap : 4;
    jnode **nv = jalloc(P->e, nc * sizeof *nv);
    if (a->n) memcpy(nv, a->v, a->n * sizeof *nv);
    a->v = nv;
    a->cap = nc;
  }
  a->v[a->n++] = x;
}

static jnode *p_expr(parser *P);
static jnode *p_or(parser *P);
static jnode *p_unary(parser *P, int with_filter);

static void enter(parser *P) {
  if (++P->depth > MAX_DEPTH) {
    const jtok *t = peek(P);
    jfail(P->e, t->line, t->col, "expression or blocks nested more than %d deep", MAX_DEPTH);
  }
}

/* (args, k=v) after '(' was consumed */
static void p_call_args(parser *P, jnode *n) {
  nvec args = {0}, kwv = {0};
  const char **kwn = NULL;
  size_t nkw = 0, capkw = 0;
  while (!is_op(peek(P), ")")) {
    if (args.n + nkw) expect_op(P, ",");
    if (is_op(peek(P), ")")) break;
    if (peek(P)->k == TK_NAME && is_op(peek2(P), "=")) {
      const char *k = expect_name(P);
      next(P);
      if (nkw == capkw) {
        capkw = capkw ? 2 * capkw : 4;
        const char **nk = jalloc(P->e, capkw * sizeof *nk);
        if (nkw) memcpy(nk, kwn, nkw * sizeof *nk);
        kwn = nk;
      }
      kwn[nkw++] = k;
      nv_push(P, &kwv, p_expr(P));
    } else {
      if (nkw) perr(P, peek(P), "a keyword argument (positional after keyword)");
      nv_push(P, &args, p_expr(P));
    }
  }
  expect_op(P, ")");
  n->args = args.v;
  n->nargs = args.n;
  n->kwnames = kwn;
  n->kwvals = kwv.v;
  n->nkw = nkw;
}

static jnode *p_literal_list(parser *P, const jtok *at, const char *close, jnode_kind k) {
  jnode *n = mk(P, k, at);
  nvec items = {0};
  while (!is_op(peek(P), close)) {
    if (items.n) expect_op(P, ",");
    if (is_op(peek(P), close)) break;
    nv_push(P, &items, p_expr(P));
  }
  expect_op(P, close);
  n->args = items.v;
  n->nargs = items.n;
  return n;
}

static jnode *p_dict(parser *P, const jtok *at) {
  jnode *n = mk(P, E_DICT, at);
  nvec keys = {0}, vals = {0};
  while (!is_op(peek(P), "}")) {
    if (keys.n) expect_op(P, ",");
    if (is_op(peek(P), "}")) break;
    nv_push(P, &keys, p_expr(P));
    expect_op(P, ":");
    nv_push(P, &vals, p_expr(P));
  }
  expect_op(P, "}");
  n->args = keys.v;
  n->nargs = keys.n;
  n->kwvals = vals.v;
  n->nkw = vals.n;
  return n;
}

static jnode *p_primary(parser *P) {
  const jtok *t = next(P);
  jnode *n;
  switch (t->k) {
    case TK_STRING: {
      n = mk(P, E_LIT, t);
      n->lit = jv_strref(t->s, t->n);
      /* adjacent string literals concatenate */
      while (peek(P)->k == TK_STRING) {
        const jtok *u = next(P);
        char *s = jalloc(P->e, n->lit.u.s.n + u->n + 1);
        memcpy(s, n->lit.u.s.s, n->lit.u.s.n);
        memcpy(s + n->lit.u.s.n, u->s, u->n);
        n->lit = jv_strref(s, n->lit.u.s.n + u->n);
      }
      return n;
    }
    case TK_INT:
      n = mk(P, E_LIT, t);
      n->lit = jv_int(t->i);
      return n;
    case TK_FLOAT:
      n = mk(P, E_LIT, t);
      n->lit = jv_float(t->f);
      return n;
    case TK_NAME:
      n = mk(P, E_LIT, t);
      if (is_name(t, "true") || is_name(t, "True")) n->lit = jv_bool(1);
      else if (is_name(t, "false") || is_name(t, "False")) n->lit = jv_bool(0);
      else if (is_name(t, "none") || is_name(t, "None")) n->lit = jv_none();
      else {
        n->kind = E_NAME;
        n->name = jstrndup(P->e, t->s, t->n);
      }
      return n;
    case TK_OP:
      if (is_op(t, "(")) {
        if (is_op(peek(P), ")")) {
          next(P);
          n = mk(P, E_TUPLE, t);
          return n;
        }
        jnode *x = p_expr(P);
        if (is_op(peek(P), ",")) {
          n = mk(P, E_TUPLE, t);
          nvec items = {0};
          nv_push(P, &items, x);
          while (is_op(peek(P), ",")) {
            next(P);
            if (is_op(peek(P), ")")) break;
            nv_push(P, &items, p_expr(P));
          }
          n->args = items.v;
          n->nargs = items.n;
          x = n;
        }
        expect_op(P, ")");
        return x;
      }
      if (is_op(t, "[")) return p_literal_list(P, t, "]", E_LIST);
      if (is_op(t, "{")) return p_dict(P, t);
      break;
    default: break;
  }
  P->i--;
  perr(P, t, "an expression");
}

static jnode *p_subscript(parser *P, jnode *obj, const jtok *at) {
  jnode *parts[3] = {NULL, NULL, NULL};
  int k = 0, is_slice = 0;
  for (;;) {
    if (is_op(peek(P), ":")) {
      next(P);
      is_slice = 1;
      if (++k > 2) perr(P, peek(P), "']'");
      continue;
    }
    if (is_op(peek(P), "]")) break;
    if (parts[k]) perr(P, peek(P), "':' or ']'");
    parts[k] = p_expr(P);
  }
  expect_op(P, "]");
  jnode *n = mk(P, is_slice ? E_SLICE : E_ITEM, at);
  n->a = obj;
  if (is_slice) {
    n->args = jalloc(P->e, 3 * sizeof *n->args);
    for (int i = 0; i < 3; i++) n->args[i] = parts[i];
    n->nargs = 3;
  } else {
    if (!parts[0]) perr(P, at, "a subscript");
    n->b = parts[0];
  }
  return n;
}

static jnode *p_postfix(parser *P, jnode *x) {
  for (;;) {
    const jtok *t = peek(P);
    if (is_op(t, ".")) {
      next(P);
      const jtok *nm = next(P);
      jnode *n = mk(P, E_ATTR, t);
      n->a = x;
      if (nm->k == TK_NAME) {
        n->name = jstrndup(P->e, nm->s, nm->n);
      } else if (nm->k == TK_INT) { /* x.0 = x[0] */
        n->kind = E_ITEM;
        n->b = mk(P, E_LIT, nm);
        n->b->lit = jv_int(nm->i);
      } else {
        perr(P, nm, "an attribute name");
      }
      x = n;
    } else if (is_op(t, "[")) {
      next(P);
      x = p_subscript(P, x, t);
    } else if (is_op(t, "(")) {
      next(P);
      jnode *n = mk(P, E_CALL, t);
      n->a = x;
      p_call_args(P, n);
      x = n;
    } else {
      return x;
    }
  }
}

/* a test's single argument without parentheses ("is sameas false", "is in [1, 2]"): Jinja2
 * takes one when a name (but else/or/and), string, number, '[' or '{' follows */
static int starts_bare_arg(const jtok *t) {
  if (t->k == TK_STRING || t->k == TK_INT || t->k == TK_FLOAT) return 1;
  if (t->k == TK_OP) return is_op(t, "[") || is_op(t, "{");
  if (t->k != TK_NAME) return 0;
  return !is_name(t, "else") && !is_name(t, "or") && !is_name(t, "and");
}

static jnode *p_filters(parser *P, jnode *x) {
  for (;;) {
    const jtok *t = peek(P);
    if (is_op(t, "|")) {
      next(P);
      jnode *n = mk(P, E_FILTER, t);
      n->a = x;
      n->name = expect_name(P);
      while (is_op(peek(P), ".")) { /* dotted filter names are not used by chat templates */
        perr(P, peek(P), "a filter name without '.'");
      }
      if (is_op(peek(P), "(")) {
        next(P);
        p_call_args(P, n);
      }
      x = n;
    } else if (is_name(t, "is")) {
      next(P);
      jnode *n = mk(P, E_TEST, t);
      n->a = x;
      if (is_name(peek(P), "not")) {
        next(P);
        n->op = 1;
      }
      const jtok *nm = next(P);
      if (nm->k != TK_NAME) perr(P, nm, "a test name");
      n->name = jstrndup(P->e, nm->s, nm->n);
      if (is_op(peek(P), "(")) {
        next(P);
        p_call_args(P, n);
      } else if (starts_bare_arg(peek(P))) {
        n->args = jalloc(P->e, sizeof *n->args);
        n->args[0] = p_postfix(P, p_primary(P));
        n->nargs = 1;
      }
      x = n;
    } else {
      return x;
    }
  }
}

static jnode *p_unary(parser *P, int with_filter) {
  enter(P);
  const jtok *t = peek(P);
  jnode *x;
  if (is_op(t, "-") || is_op(t, "+")) {
    next(P);
    x = mk(P, is_op(t, "-") ? E_NEG : E_POS, t);
    x->a = p_unary(P, 0);
  } else {
    x = p_postfix(P, p_primary(P));
  }
  if (with_filter) x = p_filters(P, x);
  P->depth--;
  return x;
}

static jnode *bin(parser *P, const jtok *t, int op, jnode *a, jnode *b) {
  jnode *n = mk(P, E_BIN, t);
  n->op = op;
  n->a = a;
  n->b = b;
  return n;
}

static jnode *p_pow(parser *P) {
  jnode *x = p_unary(P, 1);
  while (is_op(peek(P), "**")) {
    const jtok *t = next(P);
    x = bin(P, t, JOP_POW, x, p_unary(P, 1));
  }
  return x;
}

static jnode *p_math2(parser *P) {
  jnode *x = p_pow(P);
  for (;;) {
    const jtok *t = peek(P);
    int op = is_op(t, "*") ? JOP_MUL : is_op(t, "/") ? JOP_DIV : is_op(t, "//") ? JOP_FLOORDIV
             : is_op(t, "%") ? JOP_MOD : 0;
    if (!op) return x;
    next(P);
    x = bin(P, t, op, x, p_pow(P));
  }
}

static jnode *p_concat(parser *P) {
  jnode *x = p_math2(P);
  while (is_op(peek(P), "~")) {
    const jtok *t = next(P);
    x = bin(P, t, JOP_CONCAT, x, p_math2(P));
  }
  return x;
}

static jnode *p_math1(parser *P) {
  jnode *x = p_concat(P);
  for (;;) {
    const jtok *t = peek(P);
    int op = is_op(t, "+") ? JOP_ADD : is_op(t, "-") ? JOP_SUB : 0;
    if (!op) return x;
    next(P);
    x = bin(P, t, op, x, p_concat(P));
  }
}

static jnode *p_compare(parser *P) {
  jnode *x = p_math1(P);
  for (;;) {
    const jtok *t = peek(P);
    int op = is_op(t, "==") ? JOP_EQ : is_op(t, "!=") ? JOP_NE : is_op(t, "<") ? JOP_LT
             : is_op(t, "<=") ? JOP_LE : is_op(t, ">") ? JOP_GT : is_op(t, ">=") ? JOP_GE
             : is_name(t, "in") ? JOP_IN : 0;
    if (!op && is_name(t, "not") && is_name(peek2(P), "in")) {
      next(P);
      op = JOP_NOTIN;
    }
    if (!op) return x;
    next(P);
    /* a < b < c is (a < b) and (b < c) in Jinja; chat templates do not chain, so refuse */
    jnode *y = p_math1(P);
    x = bin(P, t, op, x, y);
    const jtok *u = peek(P);
    if (is_op(u, "==") || is_op(u, "!=") || is_op(u, "<") || is_op(u, "<=") || is_op(u, ">") ||
        is_op(u, ">="))
      jfail(P->e, u->line, u->col, "chained comparisons (a < b < c) are not supported");
  }
}

static jnode *p_not(parser *P) {
  const jtok *t = peek(P);
  if (is_name(t, "not")) {
    next(P);
    enter(P);
    jnode *n = mk(P, E_NOT, t);
    n->a = p_not(P);
    P->depth--;
    return n;
  }
  return p_compare(P);
}

static jnode *p_and(parser *P) {
  jnode *x = p_not(P);
  while (is_name(peek(P), "and")) {
    const jtok *t = next(P);
    jnode *n = mk(P, E_AND, t);
    n->a = x;
    n->b = p_not(P);
    x = n;
  }
  return x;
}

static jnode *p_or(parser *P) {
  jnode *x = p_and(P);
  while (is_name(peek(P), "or")) {
    const jtok *t = next(P);
    jnode *n = mk(P, E_OR, t);
    n->a = x;
    n->b = p_and(P);
    x = n;
  }
  return x;
}

static jnode *p_expr(parser *P) {
  enter(P);
  jnode *x = p_or(P);
  while (is_name(peek(P), "if")) {
    const jtok *t = next(P);
    jnode *n = mk(P, E_COND, t);
    n->a = x;
    n->b = p_or(P);
    if (is_name(peek(P), "else")) {
      next(P);
      n->c = p_expr(P);
    }
    x = n;
  }
  P->depth--;
  return x;
}

/* ---- statements ---- */

static void expect_block_end(parser *P) {
  const jtok *t = next(P);
  if (t->k != TK_BLOCK_END) perr(P, t, "'%}'");
}

/* body until one of the end tags (names, NULL-terminated); returns which one (index) and
 * leaves the parser after that tag's name. */
static int p_body(parser *P, nvec *body, const char *const *ends, const jtok *opener);

static void p_targets(parser *P, jnode *n) {
  const char **names = NULL;
  size_t cnt = 0, cap = 0;
  int paren = is_op(peek(P), "(");
  if (paren) next(P);
  for (;;) {
    if (cnt == cap) {
      cap = cap ? 2 * cap : 2;
      const char **nn = jalloc(P->e, cap * sizeof *nn);
      if (cnt) memcpy(nn, names, cnt * sizeof *nn);
      names = nn;
    }
    names[cnt++] = expect_name(P);
    if (!is_op(peek(P), ",")) break;
    next(P);
  }
  if (paren) expect_op(P, ")");
  n->names = names;
  n->nnames = cnt;
}

/* The else branch of an if / for, after its `else` tag: the body up to `end` (endif, endfor)
 * into n->body2. */
static void p_else_body(parser *P, jnode *n, const char *end, const jtok *at) {
  expect_block_end(P);
  const char *const ends[] = {end, NULL};
  nvec eb = {0};
  p_body(P, &eb, ends, at);
  n->body2 = eb.v;
  n->nbody2 = eb.n;
}

static jnode *p_if(parser *P, const jtok *at) {
  jnode *n = mk(P, N_IF, at);
  n->a = p_expr(P);
  expect_block_end(P);
  static const char *const ends[] = {"elif", "else", "endif", NULL};
  nvec body = {0};
  int w = p_body(P, &body, ends, at);
  n->body = body.v;
  n->nbody = body.n;
  if (w == 0) { /* elif: a nested if in the else branch */
    const jtok *t = &P->tk->t[P->i - 1];
    jnode *e = p_if(P, t);
    n->body2 = jalloc(P->e, sizeof *n->body2);
    n->body2[0] = e;
    n->nbody2 = 1;
    return n;
  }
  if (w == 1) p_else_body(P, n, "endif", at);
  expect_block_end(P);
  return n;
}

static jnode *p_for(parser *P, const jtok *at) {
  jnode *n = mk(P, N_FOR, at);
  p_targets(P, n);
  const jtok *t = next(P);
  if (!is_name(t, "in")) perr(P, t, "'in'");
  n->a = p_or(P); /* Jinja parses the iterable without a conditional, so "if" filters */
  if (is_name(peek(P), "if")) {
    next(P);
    n->b = p_expr(P);
  }
  if (is_name(peek(P), "recursive"))
    jfail(P->e, peek(P)->line, peek(P)->col, "recursive for loops are not supported");
  expect_block_end(P);
  static const char *const ends[] = {"else", "endfor", NULL};
  nvec body = {0};
  int w = p_body(P, &body, ends, at);
  n->body = body.v;
  n->nbody = body.n;
  if (w == 0) p_else_body(P, n, "endfor", at);
  expect_block_end(P);
  return n;
}

static jnode *p_set(parser *P, const jtok *at) {
  jnode *n = mk(P, N_SET, at);
  if (peek(P)->k == TK_NAME && is_op(peek2(P), ".")) {
    n->names = jalloc(P->e, sizeof *n->names);
    n->names[0] = expect_name(P);
    n->nnames = 1;
    next(P);
    n->attr = expect_name(P);
  } else {
    p_targets(P, n);
  }
  if (is_op(peek(P), "=")) {
    next(P);
    jnode *v = p_expr(P);
    if (is_op(peek(P), ",")) { /* set a, b = x, y */
      jnode *tu = mk(P, E_TUPLE, at);
      nvec items = {0};
      nv_push(P, &items, v);
      while (is_op(peek(P), ",")) {
        next(P);
        nv_push(P, &items, p_expr(P));
      }
      tu->args = items.v;
      tu->nargs = items.n;
      v = tu;
    }
    n->a = v;
    expect_block_end(P);
    return n;
  }
  if (n->attr || n->nnames != 1) perr(P, peek(P), "'='");
  if (is_op(peek(P), "|"))
    jfail(P->e, peek(P)->line, peek(P)->col, "filtered block set is not supported");
  expect_block_end(P);
  n->kind = N_SETBLOCK;
  static const char *const ends[] = {"endset", NULL};
  nvec body = {0};
  p_body(P, &body, ends, at);
  n->body = body.v;
  n->nbody = body.n;
  expect_block_end(P);
  return n;
}

static jnode *p_macro(parser *P, const jtok *at) {
  jnode *n = mk(P, N_MACRO, at);
  n->name = expect_name(P);
  expect_op(P, "(");
  const char **names = NULL;
  nvec defs = {0};
  size_t cnt = 0, cap = 0;
  while (!is_op(peek(P), ")")) {
    if (cnt) expect_op(P, ",");
    if (cnt == cap) {
      cap = cap ? 2 * cap : 4;
      const char **nn = jalloc(P->e, cap * sizeof *nn);
      if (cnt) memcpy(nn, names, cnt * sizeof *nn);
      names = nn;
    }
    names[cnt++] = expect_name(P);
    jnode *d = NULL;
    if (is_op(peek(P), "=")) {
      next(P);
      d = p_expr(P);
    } else if (defs.n && defs.v[defs.n - 1]) {
      perr(P, peek(P), "a default value (non-default parameter after a default one)");
    }
    nv_push(P, &defs, d);
  }
  expect_op(P, ")");
  expect_block_end(P);
  n->names = names;
  n->nnames = cnt;
  n->args = defs.v;
  n->nargs = defs.n;
  static const char *const ends[] = {"endmacro", NULL};
  nvec body = {0};
  p_body(P, &body, ends, at);
  n->body = body.v;
  n->nbody = body.n;
  expect_block_end(P);
  return n;
}

static jnode *p_statement(parser *P) {
  const jtok *at = next(P); /* the tag name */
  if (at->k != TK_NAME) perr(P, at, "a statement name");
  enter(P);
  jnode *n;
  if (is_name(at, "if")) n = p_if(P, at);
  else if (is_name(at, "for")) n = p_for(P, at);
  else if (is_name(at, "set")) n = p_set(P, at);
  else if (is_name(at, "macro")) n = p_macro(P, at);
  else if (is_name(at, "break") || is_name(at, "continue")) {
    n = mk(P, is_name(at, "break") ? N_BREAK : N_CONTINUE, at);
    expect_block_end(P);
  } else if (is_name(at, "generation")) {
    n = mk(P, N_GENERATION, at);
    expect_block_end(P);
    static const char *const ends[] = {"endgeneration", NULL};
    nvec body = {0};
    p_body(P, &body, ends, at);
    n->body = body.v;
    n->nbody = body.n;
    expect_block_end(P);
    P->has_generation = 1;
  } else {
    jfail(P->e, at->line, at->col, "unsupported statement '{%% %.*s %%}'", (int)(at->n > 40 ? 40 : at->n),
          at->s);
  }
  P->depth--;
  return n;
}

static int p_body(parser *P, nvec *body, const char *const *ends, const jtok *opener) {
  for (;;) {
    const jtok *t = peek(P);
    if (t->k == TK_EOF) {
      if (!ends) return -1;
      jfail(P->e, opener->line, opener->col, "'{%% %.*s %%}' is never closed (expected '{%% %s %%}')",
            (int)opener->n, opener->s, ends[0]);
    }
    if (t->k == TK_DATA) {
      next(P);
      jnode *n = mk(P, N_TEXT, t);
      n->lit = jv_strref(t->s, t->n);
      nv_push(P, body, n);
    } else if (t->k == TK_VAR_BEGIN) {
      next(P);
      jnode *n = mk(P, N_OUTPUT, t);
      n->a = p_expr(P);
      const jtok *e = next(P);
      if (e->k != TK_VAR_END) perr(P, e, "'}}'");
      nv_push(P, body, n);
    } else if (t->k == TK_BLOCK_BEGIN) {
      const jtok *nm = peek2(P);
      for (int i = 0; ends && ends[i]; i++)
        if (is_name(nm, ends[i])) {
          P->i += 2;
          return i;
        }
      if (nm->k == TK_NAME && (!strncmp(nm->s, "end", 3) || is_name(nm, "else") || is_name(nm, "elif")))
        jfail(P->e, nm->line, nm->col, "unexpected '{%% %.*s %%}'%s%s", (int)nm->n, nm->s,
              ends ? ": expected '{% " : "", ends ? ends[0] : "");
      next(P);
      nv_push(P, body, p_statement(P));
    } else {
      perr(P, t, "template text or a tag");
    }
  }
}

void jinja_parse_tokens(jenv *e, const jtoks *tk, jinja_tmpl *t) {
  parser P = {e, tk, 0, 0, 0};
  nvec body = {0};
  p_body(&P, &body, NULL, NULL);
  t->body = body.v;
  t->nbody = body.n;
  t->has_generation = P.has_generation;
}
