/* long1k grader — internal to mathexpr*.c: tokens and the lexer. */
#ifndef LONG1K_EVAL_MATHEXPR_INT_H
#define LONG1K_EVAL_MATHEXPR_INT_H

#include "eval/mathexpr.h"

#define MX_MAX_TOKENS 4096

enum {
  T_END = 0,
  T_NUM,     /* number literal */
  T_ID,      /* single-letter variable */
  T_WORD,    /* word of 2+ letters (unit, text) */
  T_CMD,     /* \command or known function word (sin, sqrt, pi) */
  T_OP,      /* one of + - * / ^ _ ( ) [ ] { } , ; : = < > | ! ' & */
  T_LE, T_GE, T_NE, T_PM, T_MP, T_APPROX, T_IN, T_CUP, T_CAP,
  T_SETOPEN, T_SETCLOSE, /* \{ \} */
  T_ROWSEP,  /* \\ */
  T_AND,     /* "and", "or" (text or plain) */
  T_PCT, T_DEG, T_INF, T_EMPTY,
  T_MBEGIN, T_MEND, /* matrix environments */
  T_FLOOR,   /* \lfloor \rfloor \lceil \rceil (s = name) */
  T_DOTS, T_PERIOD,
  T_REALS,   /* \mathbb{R}, \R: the real line */
  T_BAD,     /* anything else: not math */
};

typedef struct mx_tok {
  int kind;
  const char *s;
  size_t n;
  int space; /* whitespace before */
  int from_text; /* T_WORD from \text{} */
  /* T_NUM */
  int exact;
  int64_t p, q;
  long double v;
  int places, sig;
  int exp10; /* e-notation exponent written (1.5e-3: -3) */
} mx_tok;

typedef struct mx_lexer {
  mx_tok *tok; /* cap entries, from the arena */
  int cap;
  int ntok;
  int failed;
  int space;
} mx_lexer;

int mx_lex(mx_lexer *L, const char *s, size_t n);
int mx_tok_is(const mx_tok *t, int kind, const char *text);
int mx_is_known_func(const char *s, size_t n);
int mx_is_greek(const char *s, size_t n);

#endif
