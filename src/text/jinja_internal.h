/* long1k — Jinja2 interpreter internals (src/text/jinja*.c): arena, values, tokens, AST.
 *
 * Layout: jinja_lex.c (template text -> tokens, with whitespace control), jinja_parse.c (tokens
 * -> AST), jinja_eval.c (statements and expressions), jinja_value.c (values, str()/repr(),
 * tojson), jinja_builtins.c (filters, tests, methods, global functions).
 * Errors leave through longjmp to the entry point (jinja_parse / jinja_render), which turns
 * them into one l1k_err line; everything allocated on the way lives in an arena that the entry
 * point frees, so a failure leaks nothing.
 */
#ifndef LONG1K_TEXT_JINJA_INT_H
#define LONG1K_TEXT_JINJA_INT_H

#include <setjmp.h>
#include <stddef.h>
#include <stdint.h>

#include "long1k/error.h"
#include "text/jinja.h"

/* ---- arena ---- */
typedef struct jchunk jchunk;
typedef struct jarena {
  jchunk *head;
  size_t total, limit; /* bytes allocated; the most allowed */
} jarena;

/* ---- values ---- */
typedef enum {
  JV_UNDEF = 0,
  JV_NONE,
  JV_BOOL,
  JV_INT,
  JV_FLOAT,
  JV_STR,
  JV_LIST,
  JV_DICT,
  JV_MACRO,
  JV_FUNC, /* a global function (range, namespace, ...) */
} jv_type;

typedef struct jlist jlist;
typedef struct jdict jdict;
struct jnode;

typedef struct jv {
  uint8_t t;
  uint8_t tuple; /* JV_LIST: written as (a, b) */
  union {
    int b;
    int64_t i;
    double f;
    struct {
      const char *s;
      size_t n;
    } s;
    jlist *l;
    jdict *d;
    const struct jnode *macro;
    int fn;
  } u;
} jv;

struct jlist {
  jv *v;
  size_t n, cap;
};
struct jdict {
  const char **k; /* string keys (NUL-terminated, may hold NUL inside: klen) */
  size_t *klen;
  jv *v;
  size_t n, cap;
  int ns; /* a namespace(): attributes may be set */
};

/* ---- environment shared by lexer, parser and evaluator ---- */
typedef struct jenv {
  jmp_buf jb;
  l1k_err *err;
  const char *name; /* the template's name in messages */
  jarena *ar;
} jenv;

_Noreturn void jfail(jenv *e, int line, int col, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void *jalloc(jenv *e, size_t n); /* zeroed; fails through jfail when out of memory */
char *jstrndup(jenv *e, const char *s, size_t n);
void jarena_free(jarena *a);

/* ---- tokens ---- */
typedef enum {
  TK_EOF = 0,
  TK_DATA,        /* template text */
  TK_VAR_BEGIN,   /* {{ */
  TK_VAR_END,     /* }} */
  TK_BLOCK_BEGIN, /* {% */
  TK_BLOCK_END,   /* %} */
  TK_NAME,
  TK_STRING, /* unescaped value in s/n */
  TK_INT,
  TK_FLOAT,
  TK_OP, /* s/n: the operator text */
} jtok_kind;

typedef struct jtok {
  jtok_kind k;
  int line, col;
  const char *s;
  size_t n;
  int64_t i;
  double f;
} jtok;

typedef struct jtoks {
  jtok *t;
  size_t n, cap;
} jtoks;

void jinja_lex(jenv *e, const char *src, size_t len, jtoks *out);

/* ---- AST ---- */
typedef enum {
  /* statements */
  N_TEXT = 1, /* lit */
  N_OUTPUT,   /* a */
  N_IF,       /* a = cond, body, body2 = else */
  N_FOR,      /* names/nnames = targets, a = iterable, b = filter, body, body2 = else */
  N_SET,      /* names (target; a "ns.attr" target has attr), a = value */
  N_SETBLOCK, /* names, body */
  N_MACRO,    /* name, params in names (defaults in args), body */
  N_BREAK,
  N_CONTINUE,
  N_GENERATION, /* body */
  /* expressions */
  E_LIT, /* lit */
  E_NAME,
  E_ATTR,   /* a.name */
  E_ITEM,   /* a[b] */
  E_SLICE,  /* a[args[0]:args[1]:args[2]] (NULL = omitted) */
  E_CALL,   /* a(args, kw) */
  E_FILTER, /* a | name(args, kw) */
  E_TEST,   /* a is [not] name(args); op = 1 when negated */
  E_NEG,
  E_POS,
  E_NOT,
  E_BIN, /* op: one of the JOP_* below */
  E_AND,
  E_OR,
  E_COND,  /* a if b else c */
  E_LIST,  /* args */
  E_TUPLE, /* args */
  E_DICT,  /* args = keys, kwvals = values */
} jnode_kind;

enum { JOP_ADD = 1, JOP_SUB, JOP_MUL, JOP_DIV, JOP_FLOORDIV, JOP_MOD, JOP_POW, JOP_CONCAT,
       JOP_EQ, JOP_NE, JOP_LT, JOP_LE, JOP_GT, JOP_GE, JOP_IN, JOP_NOTIN };

typedef struct jnode {
  jnode_kind kind;
  int line, col;
  int op;
  const char *name;
  const char *attr; /* N_SET on "ns.attr" */
  jv lit;
  struct jnode *a, *b, *c;
  struct jnode **args;
  size_t nargs;
  const char **kwnames;
  struct jnode **kwvals;
  size_t nkw;
  struct jnode **body, **body2;
  size_t nbody, nbody2;
  const char **names;
  size_t nnames;
} jnode;

struct jinja_tmpl {
  jarena ar;
  char *name;
  jnode **body;
  size_t nbody;
  int has_generation;
};

/* parser entry (jinja_parse.c) */
void jinja_parse_tokens(jenv *e, const jtoks *tk, jinja_tmpl *t);

/* ---- values (jinja_value.c) ---- */
typedef struct jsb { /* string builder in the arena */
  char *p;
  size_t n, cap;
} jsb;
void jsb_put(jenv *e, jsb *b, const char *s, size_t n);
void jsb_puts(jenv *e, jsb *b, const char *s);

jv jv_str(jenv *e, const char *s, size_t n); /* copies */
jv jv_cstr(const char *s);                   /* static string, not copied */
jv jv_strref(const char *s, size_t n);       /* refers to s */
jv jv_int(int64_t i);
jv jv_float(double f);
jv jv_bool(int b);
jv jv_none(void);
jv jv_undef(void);
jv jv_newlist(jenv *e, size_t cap);
jv jv_newdict(jenv *e);
void jlist_push(jenv *e, jlist *l, jv v);
void jdict_set(jenv *e, jdict *d, const char *k, size_t kn, jv v);
jv *jdict_get(const jdict *d, const char *k, size_t kn);
int jv_truthy(jv v);
int jv_equal(jv a, jv b);
const char *jv_typename(jv v);
void jv_str_into(jenv *e, jsb *b, jv v);  /* Python str() */
void jv_repr_into(jenv *e, jsb *b, jv v); /* Python repr() */
jv jv_tostr(jenv *e, jv v);
void jv_float_repr(double f, char *buf, size_t cap);
/* json.dumps(v, ensure_ascii=False, indent=indent (<0: None), separators, sort_keys) */
void jv_tojson(jenv *e, jsb *b, jv v, int indent, const char *item_sep, const char *key_sep,
               int sort_keys, int depth, int line, int col);
size_t jutf8_len(const char *s, size_t n);                 /* code points */
size_t jutf8_offset(const char *s, size_t n, size_t cp_i); /* byte offset of code point i */

/* ---- evaluator state (jinja_eval.c) ---- */
typedef struct jframe {
  jdict *vars;
  struct jframe *parent;
} jframe;

typedef struct jspan_list {
  jinja_span *v;
  size_t n, cap;
} jspan_list;

typedef struct jrender {
  jenv e;
  jarena ar;
  const jinja_tmpl *t;
  jsb *out;   /* current output (a capture buffer inside macros and set blocks) */
  jsb main;   /* the template's output */
  jspan_list spans;
  jframe *root;
  int ctl; /* 1 = break, 2 = continue */
  int depth; /* macro call depth */
  uint64_t steps;
  const jinja_opts *opts;
} jrender;

jv jeval(jrender *r, const jnode *n);
jv jcall_macro(jrender *r, const jnode *m, jv *args, size_t nargs, const char **kwn, jv *kwv,
               size_t nkw, const jnode *at);

/* ---- builtins (jinja_builtins.c) ---- */
jv jfilter(jrender *r, const jnode *n, jv x, jv *args, size_t nargs, const char **kwn, jv *kwv,
           size_t nkw);
int jtest(jrender *r, const jnode *n, const char *name, jv x, jv *args, size_t nargs);
jv jmethod(jrender *r, const jnode *n, jv obj, const char *name, jv *args, size_t nargs,
           const char **kwn, jv *kwv, size_t nkw);
int jglobal_func(const char *name); /* id > 0 of a global function, 0 if none */
jv jcall_global(jrender *r, const jnode *n, int fn, jv *args, size_t nargs, const char **kwn,
                jv *kwv, size_t nkw);
jv jgetattr(jrender *r, const jnode *n, jv obj, const char *name, size_t nlen);
jv jgetitem(jrender *r, const jnode *n, jv obj, jv key);
jv jslice(jrender *r, const jnode *n, jv obj, jv a, jv b, jv c);
/* the items a for loop walks over (dict: keys, string: characters, undefined: none) */
jlist *jiterate(jrender *r, const jnode *n, jv x);
/* the first keyword argument named k, or else positional argument pos, or else NULL */
jv *jarg(jv *args, size_t nargs, const char **kwn, jv *kwv, size_t nkw, size_t pos,
         const char *k);

#define JFAIL(r, n, ...) jfail(&(r)->e, (n)->line, (n)->col, __VA_ARGS__)

#endif
