/* long1k grader — internal: LaTeX / plain math parser into an expression tree, and its
 * evaluation (exact 64-bit rationals with overflow checks, falling back to complex long
 * double). Used by equiv.c and extract.c; not a public API.
 *
 * Every function does bounded work: inputs longer than MX_MAX_LEN bytes are refused, trees are
 * limited to MX_MAX_NODES nodes and MX_MAX_DEPTH nesting, lists to MX_MAX_ITEMS items, sums to
 * MX_MAX_SUM_TERMS terms. All memory lives in an arena owned by the caller's mx_ctx.
 */
#ifndef LONG1K_EVAL_MATHEXPR_H
#define LONG1K_EVAL_MATHEXPR_H

#include <complex.h>
#include <stddef.h>
#include <stdint.h>

#define MX_MAX_LEN 8192
#define MX_MAX_NODES 6000
#define MX_MAX_DEPTH 96
#define MX_MAX_ITEMS 256
#define MX_MAX_SUM_TERMS 2000

typedef enum {
  MX_NUM = 1,  /* number literal (exact p/q when it fits, else v) */
  MX_SYM,      /* variable: name (subscripts folded into the name: a_3, F_n) */
  MX_CONST,    /* op: 'p' pi, 'e' Euler, 'i' imaginary unit */
  MX_INF,      /* infinity */
  MX_ADD,      /* n-ary sum */
  MX_MUL,      /* n-ary product */
  MX_POW,      /* kids[0] ^ kids[1] */
  MX_NEG,      /* -kids[0] */
  MX_FUNC,     /* name(kids...), known functions (sin, sqrt, ...) */
  MX_APPLY,    /* uninterpreted function: name(kids...) or indexed name_{kid} */
  MX_REL,      /* chain kids[0] ops[0] kids[1] ops[1] ... */
  MX_TUPLE,    /* (a, b, ...) ordered */
  MX_BLIST,    /* [a, b, c] ordered bracket list (not a 2-interval) */
  MX_LIST,     /* bare list a, b; c and d (unordered: solutions) */
  MX_SET,      /* \{a, b\} */
  MX_INTERVAL, /* kids[0], kids[1]; flags: MXF_LO_CLOSED, MXF_HI_CLOSED */
  MX_UNION,    /* n-ary union of sets/intervals */
  MX_MATRIX,   /* rows x cols, kids row-major */
  MX_PM,       /* kids[0] \pm kids[1] (op '+' for \pm, '-' for \mp); unary when nkids == 1 */
  MX_TEXT,     /* a word or words: name (lowercased, normalized) */
  MX_RATIO,    /* kids[0] : kids[1] (also a clock time when MXF_TIME; p = seconds of h:mm:ss) */
  MX_PCT,      /* kids[0] % */
  MX_DEG,      /* kids[0] degrees */
  MX_FACT,     /* kids[0]! */
  MX_ABS,      /* |kids[0]| */
  MX_SUM,      /* name = index variable, kids: lo, hi, body; op 's' sum or 'p' product */
  MX_EMPTY,    /* empty set */
} mx_kind;

/* relation operators (ops of MX_REL) */
enum { MXR_EQ = 1, MXR_LT, MXR_LE, MXR_GT, MXR_GE, MXR_NE, MXR_IN, MXR_APPROX };

/* node flags */
#define MXF_LO_CLOSED 1
#define MXF_HI_CLOSED 2
#define MXF_TIME 4       /* ratio written as a clock time h:mm */
#define MXF_PM_TIME 8    /* followed by p.m. */
#define MXF_AM_TIME 16   /* followed by a.m. */
#define MXF_UNIT 32      /* a unit word was dropped after this node (top level) */
#define MXF_PAREN 64     /* written in parentheses */
#define MXF_EXACT 128    /* MX_NUM: p/q is exact */
#define MXF_BASE 256     /* MX_NUM: written with a base subscript (2516_8); name = the digits */

typedef struct mx_node {
  uint8_t kind, op;
  uint16_t flags;
  int16_t places; /* MX_NUM: digits after the decimal point as written, -1 for none */
  int16_t sig;    /* MX_NUM: significant digits as written */
  int16_t exp10;  /* MX_NUM: e-notation exponent as written (2.5e-3: -3), else 0 */
  int nkids;
  int rows, cols; /* MX_MATRIX */
  struct mx_node **kids;
  uint8_t *ops;   /* MX_REL: nkids-1 operators */
  const char *name;
  int64_t p, q;   /* exact value of MX_NUM when MXF_EXACT */
  long double v;  /* value of MX_NUM */
} mx_node;

typedef struct mx_chunk mx_chunk;
typedef struct mx_ctx {
  mx_chunk *chunks;
  size_t used_in_chunk;
  int nodes;
  int failed; /* out of budget / memory */
} mx_ctx;

void mx_init(mx_ctx *c);
void mx_free(mx_ctx *c);
void *mx_alloc(mx_ctx *c, size_t n);
mx_node *mx_new(mx_ctx *c, int kind);
mx_node *mx_new_num(mx_ctx *c, int64_t p, int64_t q);
const char *mx_strdup(mx_ctx *c, const char *s, size_t n);

/* Parses one answer (LaTeX or plain). Returns NULL when the text is not a math answer
 * (prose, unbalanced, over the limits). */
mx_node *mx_parse(mx_ctx *c, const char *s, size_t n);

/* Value: exact rational when exact != 0, else z. */
typedef struct mx_val {
  int exact;
  int64_t p, q;
  long double complex z;
} mx_val;

/* Evaluates a scalar tree at random point `point` (0..): every variable gets a deterministic
 * pseudo-random value from its name and the point; uninterpreted functions a deterministic
 * pseudo-random function of their arguments. `deg_top`: not used inside. Returns 0 if the
 * tree is not a scalar (tuple, set, relation...). */
int mx_eval(const mx_node *n, int point, mx_val *out);
long double complex mx_val_z(const mx_val *v);
/* mx_eval with the variable `var` bound to x (other variables as at point 0). */
int mx_eval_bind(const mx_node *n, const char *var, long double x, mx_val *out);

/* Shared evaluation budget (steps) for the calling thread, for all following mx_eval calls
 * together, until reset; a negative value removes it. Each single evaluation is also limited
 * to 400,000 steps. */
void mx_set_budget(long steps);

/* 1 when two variable-free trees are certainly different: their exact values modulo large
 * primes differ (integers and rationals of any size under + - * /, integer powers, n!,
 * binomials). 0 when equal modulo the primes or when a tree is outside that arithmetic. */
int mx_fingerprints_differ(const mx_node *a, const mx_node *b);
/* 1: equal modulo all the primes; 0: different; -1: a tree is outside that arithmetic. */
int mx_fingerprint_cmp(const mx_node *a, const mx_node *b);

/* Number of distinct free variables (up to 8 collected into names). */
int mx_vars(const mx_node *n, const char **names, int max);
/* 1 if no variables (only numbers and constants). */
int mx_is_numeric(const mx_node *n);

/* Debug rendering of a tree (for tests and --explain). */
void mx_print(const mx_node *n, char *buf, size_t cap);

/* Greatest common divisor of |a| and |b| (1 when both are 0 or the result does not fit). */
static inline int64_t mx_gcd64(int64_t a, int64_t b) {
  /* in unsigned arithmetic: |INT64_MIN| does not fit an int64_t */
  uint64_t x = a < 0 ? (uint64_t)0 - (uint64_t)a : (uint64_t)a;
  uint64_t y = b < 0 ? (uint64_t)0 - (uint64_t)b : (uint64_t)b;
  while (y) {
    uint64_t t = x % y;
    x = y;
    y = t;
  }
  return x == 0 ? 1 : x > (uint64_t)INT64_MAX ? 1 : (int64_t)x;
}

#endif
