/* long1k grader — tokenizer for LaTeX and plain math answers (see mathexpr.h).
 *
 * Normalizes while it reads: \left/\right and spacing commands vanish, \dfrac/\tfrac become
 * \frac, \text{...} becomes words (or a letter, or an "and"), unicode operators map to their
 * ASCII forms, thousands separators (1,000 / 1{,}000 / 1,\!000) fold into the number,
 * ^\circ becomes a degree mark, \% / pct / percent a percent mark, \$ disappears. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "eval/mathexpr_internal.h"

static int is_letter(int c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
static int is_digit(int c) { return c >= '0' && c <= '9'; }

static int push(mx_lexer *L, int kind, const char *s, size_t n) {
  if (L->ntok >= L->cap) {
    L->failed = 1;
    return -1;
  }
  mx_tok *t = &L->tok[L->ntok++];
  memset(t, 0, sizeof *t);
  t->kind = kind;
  t->s = s;
  t->n = n;
  t->space = L->space;
  L->space = 0;
  return L->ntok - 1;
}

static const char *const k_funcs[] = {"sin", "cos", "tan", "sec", "csc", "cot", "arcsin",
                                      "arccos", "arctan", "sinh", "cosh", "tanh", "ln", "log",
                                      "exp", "sqrt", "lg", "arcsec", "arccsc", "arccot", "det",
                                      "gcd", "lcm", "max", "min", "cosec", "cbrt", NULL};
static const char *const k_greek[] = {
    "alpha", "beta", "gamma", "delta", "epsilon", "varepsilon", "zeta", "eta", "theta",
    "vartheta", "iota", "kappa", "lambda", "mu", "nu", "xi", "rho", "sigma", "tau", "upsilon",
    "phi", "varphi", "chi", "psi", "omega", "Gamma", "Delta", "Theta", "Lambda", "Xi", "Sigma",
    "Phi", "Psi", "Omega", "Pi", "ell", NULL};

static int in_list(const char *const *list, const char *s, size_t n) {
  for (int i = 0; list[i]; i++)
    if (strlen(list[i]) == n && memcmp(list[i], s, n) == 0) return 1;
  return 0;
}
static int eq_ci(const char *s, size_t n, const char *lit) {
  size_t m = strlen(lit);
  if (m != n) return 0;
  for (size_t i = 0; i < n; i++)
    if (tolower((unsigned char)s[i]) != lit[i]) return 0;
  return 1;
}
static int eq(const char *s, size_t n, const char *lit) {
  return strlen(lit) == n && memcmp(s, lit, n) == 0;
}

/* end of a balanced {...} starting at s[i] == '{'; returns index after '}' or -1 */
static long brace_end(const char *s, size_t n, size_t i) {
  int d = 0;
  for (size_t j = i; j < n; j++) {
    if (s[j] == '\\' && j + 1 < n) {
      j++;
      continue;
    }
    if (s[j] == '{') d++;
    else if (s[j] == '}') {
      d--;
      if (d == 0) return (long)j + 1;
    }
  }
  return -1;
}

/* words of a \text{...} body or a plain letter run: emits T_AND / T_IN / T_PCT / T_DEG /
 * T_ID (single letter) / T_WORD */
static void emit_word(mx_lexer *L, const char *w, size_t n, int from_text) {
  while (n && w[n - 1] == '.' && !(n >= 2 && (w[n - 2] == 'm' || w[n - 2] == 'M'))) n--;
  if (!n) return;
  if (eq_ci(w, n, "and") || eq_ci(w, n, "or") || eq_ci(w, n, "und") || eq_ci(w, n, "et") ||
      eq_ci(w, n, "y")) {
    if (n == 1 && !from_text) { /* plain 'y' is a variable */
      push(L, T_ID, w, n);
      return;
    }
    push(L, T_AND, w, n);
    return;
  }
  if (eq_ci(w, n, "in")) {
    push(L, T_IN, w, n);
    return;
  }
  if (eq_ci(w, n, "pct") || eq_ci(w, n, "percent")) {
    push(L, T_PCT, w, n);
    return;
  }
  if (eq_ci(w, n, "degrees") || eq_ci(w, n, "degree") || eq_ci(w, n, "deg")) {
    push(L, T_DEG, w, n);
    return;
  }
  if (!from_text) {
    if (eq_ci(w, n, "infinity") || eq_ci(w, n, "inf") || eq_ci(w, n, "oo")) {
      push(L, T_INF, w, n);
      return;
    }
    if (eq(w, n, "pi")) {
      push(L, T_CMD, w, n);
      return;
    }
    if (in_list(k_funcs, w, n)) {
      push(L, T_CMD, w, n);
      return;
    }
  }
  if (n == 1) {
    push(L, T_ID, w, n);
    return;
  }
  int t = push(L, T_WORD, w, n);
  if (t >= 0) L->tok[t].from_text = from_text;
}

static void lex_range(mx_lexer *L, const char *s, size_t n, int text_mode);

static void lex_text_body(mx_lexer *L, const char *s, size_t n) {
  /* a single letter or a single known token: math meaning; otherwise words */
  size_t a = 0, b = n;
  while (a < b && isspace((unsigned char)s[a])) a++;
  while (b > a && isspace((unsigned char)s[b - 1])) b--;
  if (a == b) {
    L->space = 1;
    return;
  }
  L->space = L->space || a > 0;
  lex_range(L, s + a, b - a, 1);
  if (b < n) L->space = 1;
}

static int prev_is_cmd(const mx_lexer *L, int back, const char *name) {
  int k = L->ntok - back;
  if (k < 0) return 0;
  const mx_tok *t = &L->tok[k];
  return t->kind == T_CMD && eq(t->s, t->n, name);
}

/* A repeating decimal: digits (with k places) then \overline{r digits} or \dot{d}, e.g.
 * 0.\overline{3} = 1/3, 0.1\overline{6} = 1/6. `digits` holds the written digits (a '.' among
 * them); s[i] is where "\overline" may start. On success: *p / *q exact, *end after '}'. */
static int repeating_decimal(const char *s, size_t n, size_t i, const char *digits, int64_t *p, int64_t *q,
                             size_t *end) {
  size_t j = i;
  if (j < n && s[j] == '.') j++;
  size_t cl = 0;
  if (j + 9 < n && !memcmp(s + j, "\\overline", 9)) cl = 9;
  else if (j + 4 < n && !memcmp(s + j, "\\dot", 4)) cl = 4;
  if (!cl) return 0;
  j += cl;
  while (j < n && s[j] == ' ') j++;
  if (j >= n || s[j] != '{') return 0;
  size_t r0 = ++j;
  while (j < n && is_digit(s[j])) j++;
  size_t r = j - r0;
  if (r == 0 || r > 9 || j >= n || s[j] != '}') return 0;
  int64_t ip = 0, a = 0, rep = 0, pk = 1, pr = 1;
  int k = 0, frac = 0;
  for (const char *d = digits; *d; d++) {
    if (*d == '.') {
      frac = 1;
      continue;
    }
    if (frac) {
      if (k >= 9) return 0;
      a = a * 10 + (*d - '0');
      pk *= 10;
      k++;
    } else if (__builtin_mul_overflow(ip, 10, &ip) || __builtin_add_overflow(ip, *d - '0', &ip)) {
      return 0;
    }
  }
  for (size_t t = 0; t < r; t++) {
    rep = rep * 10 + (s[r0 + t] - '0');
    pr *= 10;
  }
  /* x = ip + (a (10^r - 1) + rep) / (10^k (10^r - 1)) */
  int64_t den = pk * (pr - 1), num = a * (pr - 1) + rep, whole;
  if (__builtin_mul_overflow(ip, den, &whole) || __builtin_add_overflow(whole, num, &num)) return 0;
  *p = num;
  *q = den;
  *end = j + 1;
  return 1;
}

static void lex_number(mx_lexer *L, const char *s, size_t n, size_t *pi) {
  size_t i = *pi, start = i;
  /* \frac12, \sqrt3, \binom52: single-digit arguments */
  /* LaTeX arguments are single tokens: \frac 59 = 5/9 (spaces do not matter) */
  int single = (prev_is_cmd(L, 1, "frac") || prev_is_cmd(L, 1, "binom") || prev_is_cmd(L, 1, "sqrt")) ||
               ((prev_is_cmd(L, 2, "frac") || prev_is_cmd(L, 2, "binom")) &&
                L->tok[L->ntok - 1].kind == T_NUM && L->tok[L->ntok - 1].n == 1);
  char digits[80];
  size_t nd = 0;
  int places = -1, sig = 0, seen_nonzero = 0, overflow = 0;
  if (single) {
    digits[nd++] = s[i++];
    sig = s[i - 1] != '0';
  } else {
    size_t int_start = i;
    while (i < n && is_digit(s[i])) {
      if (nd < 60) digits[nd++] = s[i];
      else overflow = 1;
      i++;
    }
    /* thousands groups: 1,000  1{,}000  1{, }000  1,\!000  1\,000 */
    size_t intlen = i - int_start;
    if (intlen >= 1 && intlen <= 3 && !(intlen > 1 && s[int_start] == '0') && s[int_start] != '0') {
      for (;;) {
        size_t j = i, k = 0;
        size_t js = j;
        while (js < n && s[js] == ' ') js++;
        if (js + 2 < n && s[js] == '{' && s[js + 1] == ',') j = js; /* 14 {,}916 */
        if (j < n && s[j] == ',' && j + 1 < n && is_digit((unsigned char)s[j + 1])) k = j + 1;
        else if (j + 2 < n && s[j] == '{' && s[j + 1] == ',' && s[j + 2] == '}') k = j + 3;
        else if (j + 3 < n && s[j] == '{' && s[j + 1] == ',' && s[j + 2] == ' ' && s[j + 3] == '}') k = j + 4;
        else if (j + 2 < n && s[j] == ',' && s[j + 1] == '\\' && s[j + 2] == '!') k = j + 3;
        else if (j + 1 < n && s[j] == '\\' && s[j + 1] == ',') k = j + 2;
        else break;
        while (k < n && s[k] == ' ' && s[j] != ',') k++;
        if (s[j] == ',' && s[j + 1] == '\\') while (k < n && s[k] == ' ') k++;
        if (k + 3 <= n && is_digit(s[k]) && is_digit(s[k + 1]) && is_digit(s[k + 2]) &&
            !(k + 3 < n && is_digit(s[k + 3]))) {
          for (int d = 0; d < 3; d++) {
            if (nd < 60) digits[nd++] = s[k + d];
            else overflow = 1;
          }
          i = k + 3;
        } else break;
      }
    }
    if (i + 1 < n && s[i] == '.' && is_digit(s[i + 1])) {
      i++;
      places = 0;
      digits[nd < 60 ? nd++ : nd] = '.';
      while (i < n && is_digit(s[i])) {
        if (nd < 70) digits[nd++] = s[i];
        else overflow = 1;
        places++;
        i++;
      }
    } else if (i < n && s[i] == '.' && nd == 0) {
      /* unreachable: caller checks */
    }
  }
  digits[nd] = 0;
  for (size_t k = 0; k < nd; k++) {
    if (digits[k] == '.') continue;
    if (digits[k] != '0') seen_nonzero = 1;
    if (seen_nonzero) sig++;
  }
  /* scientific notation: 1.5e3, 2E-4 */
  int exp10 = 0, has_exp = 0;
  if (!single && i + 1 < n && (s[i] == 'e' || s[i] == 'E')) {
    size_t j = i + 1;
    int neg = 0;
    if (j < n && (s[j] == '+' || s[j] == '-')) neg = s[j++] == '-';
    if (j < n && is_digit(s[j]) && !(j + 1 < n && is_letter(s[j + 1]))) {
      int e = 0;
      while (j < n && is_digit(s[j])) {
        if (e < 10000) e = e * 10 + (s[j] - '0');
        j++;
      }
      exp10 = neg ? -e : e;
      has_exp = 1;
      i = j;
    }
  }
  int64_t rp, rq;
  size_t rend;
  if (!single && !has_exp && !overflow && repeating_decimal(s, n, i, digits, &rp, &rq, &rend)) {
    int t = push(L, T_NUM, s + start, rend - start);
    *pi = rend;
    if (t < 0) return;
    mx_tok *tk = &L->tok[t];
    tk->places = -1;
    tk->sig = 99; /* an exact value, not digits shown (like a \frac of integers) */
    tk->exact = 1;
    tk->p = rp;
    tk->q = rq;
    tk->v = (long double)rp / (long double)rq;
    return;
  }
  /* "0.333..." / "0.333\ldots": a decimal that goes on; its digits are what is shown */
  if (places > 0 && i + 2 < n && s[i] == '.' && s[i + 1] == '.' && s[i + 2] == '.') i += 3;
  else if (places > 0 && i + 6 <= n && (!memcmp(s + i, "\\ldots", 6) || !memcmp(s + i, "\\cdots", 6))) i += 6;
  else if (places > 0 && i + 5 <= n && !memcmp(s + i, "\\dots", 5) && !(i + 5 < n && is_letter(s[i + 5]))) i += 5;
  int t = push(L, T_NUM, s + start, i - start);
  *pi = i;
  if (t < 0) return;
  mx_tok *tk = &L->tok[t];
  tk->places = places;
  tk->sig = sig;
  tk->exp10 = exp10;
  tk->v = strtold(digits, NULL);
  if (has_exp) {
    long double m = 1;
    int e = exp10 < 0 ? -exp10 : exp10;
    if (e > 4000) e = 4000;
    for (int k = 0; k < e; k++) m *= 10;
    tk->v = exp10 < 0 ? tk->v / m : tk->v * m;
  }
  /* exact rational */
  int64_t p = 0, q = 1;
  int ok = !overflow;
  for (size_t k = 0; k < nd && ok; k++) {
    if (digits[k] == '.') continue;
    if (__builtin_mul_overflow(p, 10, &p) || __builtin_add_overflow(p, digits[k] - '0', &p)) ok = 0;
  }
  for (int k = 0; k < (places > 0 ? places : 0) && ok; k++)
    if (__builtin_mul_overflow(q, 10, &q)) ok = 0;
  if (has_exp && ok) {
    for (int k = 0; k < (exp10 < 0 ? -exp10 : exp10) && ok; k++) {
      if (exp10 > 0) ok = !__builtin_mul_overflow(p, 10, &p);
      else ok = !__builtin_mul_overflow(q, 10, &q);
    }
  }
  tk->exact = ok;
  tk->p = p;
  tk->q = q;
}

/* UTF-8 sequences with a math meaning */
/* the digit of a superscript character at s[i] (⁰¹²³⁴⁵⁶⁷⁸⁹), -2 for ⁻, else -1; *len its bytes */
static int superscript_at(const char *s, size_t n, size_t i, size_t *len) {
  const unsigned char *u = (const unsigned char *)s + i;
  if (i + 1 < n && u[0] == 0xc2 && (u[1] == 0xb2 || u[1] == 0xb3 || u[1] == 0xb9)) {
    *len = 2;
    return u[1] == 0xb2 ? 2 : u[1] == 0xb3 ? 3 : 1;
  }
  if (i + 2 < n && u[0] == 0xe2 && u[1] == 0x81 && (u[2] == 0xb0 || (u[2] >= 0xb4 && u[2] <= 0xb9) || u[2] == 0xbb)) {
    *len = 3;
    return u[2] == 0xbb ? -2 : u[2] == 0xb0 ? 0 : u[2] - 0xb0;
  }
  return -1;
}

/* ^{-digits} or ^{digits} from a run of superscripts that is more than one lone ² or ³ */
static int superscript_run(mx_lexer *L, const char *s, size_t n, size_t *pi) {
  size_t i = *pi, len = 0;
  int neg = 0, nd = 0;
  int64_t v = 0;
  int d = superscript_at(s, n, i, &len);
  if (d == -2) {
    neg = 1;
    i += len;
    d = superscript_at(s, n, i, &len);
  }
  while (d >= 0 && nd < 18) {
    v = v * 10 + d;
    nd++;
    i += len;
    d = superscript_at(s, n, i, &len);
  }
  if (nd == 0 || (!neg && nd == 1 && (v == 2 || v == 3))) return 0; /* ² ³: the single-digit path */
  push(L, T_OP, "^", 1);
  push(L, T_OP, "{", 1);
  if (neg) push(L, T_OP, "-", 1);
  static const char *const digits[] = {"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"};
  int tk = push(L, T_NUM, v < 10 ? digits[v] : "10", v < 10 ? 1 : 2);
  if (tk >= 0) {
    mx_tok *t = &L->tok[tk];
    t->exact = 1;
    t->p = v;
    t->q = 1;
    t->v = (long double)v;
    t->places = -1;
    t->sig = nd;
  }
  push(L, T_OP, "}", 1);
  *pi = i;
  return 1;
}

static int lex_utf8(mx_lexer *L, const char *s, size_t n, size_t *pi) {
  static const struct {
    const char *u;
    int kind;
    const char *as;
  } map[] = {
      {"\xe2\x88\x92", T_OP, "-"},  {"\xc3\x97", T_OP, "*"},   {"\xc3\xb7", T_OP, "/"},
      {"\xc2\xb7", T_OP, "*"},      {"\xe2\x8b\x85", T_OP, "*"}, {"\xe2\x89\xa4", T_LE, "<="},
      {"\xe2\x89\xa5", T_GE, ">="}, {"\xe2\x89\xa0", T_NE, "!="}, {"\xcf\x80", T_CMD, "pi"},
      {"\xe2\x88\x9e", T_INF, "oo"}, {"\xe2\x88\x9a", T_CMD, "sqrt"}, {"\xc2\xb1", T_PM, "+-"},
      {"\xc2\xb0", T_DEG, "deg"},   {"\xe2\x88\x88", T_IN, "in"}, {"\xe2\x88\xaa", T_CUP, "cup"},
      {"\xe2\x88\x85", T_EMPTY, "0"}, {"\xe2\x88\xa9", T_CAP, "cap"}, {"\xe2\x89\x88", T_APPROX, "~"},
      {"\xe2\x80\x93", T_OP, "-"},  {"\xef\xbc\x8c", T_OP, ","},   {"\xef\xbc\x9b", T_OP, ";"},
      {"\xef\xbc\x88", T_OP, "("},  {"\xef\xbc\x89", T_OP, ")"},   {"\xe3\x80\x81", T_OP, ","},
      {"\xef\xbc\x9a", T_OP, ":"},
  };
  for (size_t k = 0; k < sizeof map / sizeof map[0]; k++) {
    size_t m = strlen(map[k].u);
    if (*pi + m <= n && memcmp(s + *pi, map[k].u, m) == 0) {
      push(L, map[k].kind, map[k].as, strlen(map[k].as));
      *pi += m;
      return 1;
    }
  }
  /* a run of superscripts with a minus or several digits: 10⁻³, 2¹⁰ -> ^{-3}, ^{10} */
  if (superscript_run(L, s, n, pi)) return 1;
  /* superscript digits ² ³ */
  if (*pi + 1 < n && (unsigned char)s[*pi] == 0xc2 &&
      ((unsigned char)s[*pi + 1] == 0xb2 || (unsigned char)s[*pi + 1] == 0xb3)) {
    push(L, T_OP, "^", 1);
    int tk = push(L, T_NUM, (unsigned char)s[*pi + 1] == 0xb2 ? "2" : "3", 1);
    if (tk >= 0) {
      mx_tok *t = &L->tok[tk];
      t->exact = 1;
      t->p = (unsigned char)s[*pi + 1] == 0xb2 ? 2 : 3;
      t->q = 1;
      t->v = (long double)t->p;
      t->places = -1;
      t->sig = 1;
    }
    *pi += 2;
    return 1;
  }
  /* full stop (。) ends like '.' */
  if (*pi + 2 < n && memcmp(s + *pi, "\xe3\x80\x82", 3) == 0) {
    push(L, T_PERIOD, ".", 1);
    *pi += 3;
    return 1;
  }
  return 0;
}

/* What a LaTeX command does in the lexer. PUSH: one token (kind, text; text NULL keeps the
 * name); DELIM: \left/\big... vanish with a following "."; SPACE: spacing and style commands
 * vanish; SKIP_ARG: the command and its {argument} vanish; DECOR: the argument that follows is
 * an ordinary group (\boxed, \overline, \mathbf...); BLACKBOARD: \mathbb{R} is the real line,
 * else DECOR; TEXT: \text{...} and friends; ENV: \begin/\end; MATHFONT: \operatorname/\mathrm
 * (a function name or a single letter keeps its math meaning, else TEXT). Commands not in the
 * table are T_CMD tokens (functions, greek letters, \sqrt, \frac...). */
enum { C_PUSH = 1, C_DELIM, C_SPACE, C_SKIP_ARG, C_DECOR, C_BLACKBOARD, C_TEXT, C_MATHFONT, C_ENV };

typedef struct {
  const char *name;
  uint8_t action;
  uint8_t kind;     /* C_PUSH */
  const char *text; /* C_PUSH; NULL: the command's own name */
} cmd_rule;

#define P(name, kind, text) {name, C_PUSH, kind, text}
#define A(name, action) {name, action, 0, NULL}
static const cmd_rule k_cmds[] = {
    A("left", C_DELIM), A("right", C_DELIM), A("bigl", C_DELIM), A("bigr", C_DELIM),
    A("big", C_DELIM), A("Big", C_DELIM), A("Bigl", C_DELIM), A("Bigr", C_DELIM),
    A("bigg", C_DELIM), A("Bigg", C_DELIM), A("biggl", C_DELIM), A("biggr", C_DELIM),
    A("Biggl", C_DELIM), A("Biggr", C_DELIM), A("middle", C_DELIM),
    A("quad", C_SPACE), A("qquad", C_SPACE), A("displaystyle", C_SPACE), A("textstyle", C_SPACE),
    A("limits", C_SPACE), A("nolimits", C_SPACE), A("scriptstyle", C_SPACE), A("enspace", C_SPACE),
    A("thinspace", C_SPACE), A("space", C_SPACE), A("hfill", C_SPACE), A("nonumber", C_SPACE),
    A("notag", C_SPACE), A("cdotp", C_SPACE), A("allowbreak", C_SPACE),
    A("angle", C_SPACE), /* m\angle B = 65^\circ: the name of an angle */
    A("hspace", C_SKIP_ARG), A("vspace", C_SKIP_ARG), A("phantom", C_SKIP_ARG), A("label", C_SKIP_ARG),
    A("tag", C_SKIP_ARG), A("color", C_SKIP_ARG), A("hspace*", C_SKIP_ARG),
    P("dfrac", T_CMD, "frac"), P("tfrac", T_CMD, "frac"), P("cfrac", T_CMD, "frac"), P("frac", T_CMD, "frac"),
    P("dbinom", T_CMD, "binom"), P("tbinom", T_CMD, "binom"), P("binom", T_CMD, "binom"),
    P("cdot", T_OP, "*"), P("times", T_OP, "*"), P("ast", T_OP, "*"), P("bullet", T_OP, "*"),
    P("div", T_OP, "/"),
    P("le", T_LE, "<="), P("leq", T_LE, "<="), P("leqslant", T_LE, "<="), P("leqq", T_LE, "<="),
    P("ge", T_GE, ">="), P("geq", T_GE, ">="), P("geqslant", T_GE, ">="), P("geqq", T_GE, ">="),
    P("ne", T_NE, "!="), P("neq", T_NE, "!="), P("lt", T_OP, "<"), P("gt", T_OP, ">"),
    P("approx", T_APPROX, "~"), P("simeq", T_APPROX, "~"), P("thickapprox", T_APPROX, "~"),
    P("sim", T_APPROX, "~"),
    P("equiv", T_OP, "="), P("coloneqq", T_OP, "="), P("eqqcolon", T_OP, "="),
    P("pm", T_PM, "+-"), P("mp", T_MP, "-+"),
    P("infty", T_INF, "oo"), P("infin", T_INF, "oo"), P("infinity", T_INF, "oo"),
    P("emptyset", T_EMPTY, "0"), P("varnothing", T_EMPTY, "0"),
    P("in", T_IN, "in"), P("cup", T_CUP, "cup"), P("cap", T_CAP, NULL), P("setminus", T_CAP, NULL),
    P("circ", T_DEG, "deg"), P("degree", T_DEG, "deg"), P("prime", T_OP, "'"),
    P("colon", T_OP, ":"), P("mid", T_OP, "|"),
    P("vert", T_OP, "|"), P("lvert", T_OP, "|"), P("rvert", T_OP, "|"),
    P("langle", T_OP, "("), P("rangle", T_OP, ")"),
    P("lbrace", T_SETOPEN, "{"), P("rbrace", T_SETCLOSE, "}"),
    P("lfloor", T_FLOOR, NULL), P("rfloor", T_FLOOR, NULL), P("lceil", T_FLOOR, NULL), P("rceil", T_FLOOR, NULL),
    P("dots", T_DOTS, "..."), P("ldots", T_DOTS, "..."), P("cdots", T_DOTS, "..."),
    P("dotsc", T_DOTS, "..."), P("dotsb", T_DOTS, "..."), P("vdots", T_DOTS, "..."),
    A("mathbb", C_BLACKBOARD), A("mathbf", C_BLACKBOARD), A("Bbb", C_BLACKBOARD),
    P("R", T_REALS, "R"), P("reals", T_REALS, "R"),
    A("boxed", C_DECOR), A("fbox", C_DECOR), A("overline", C_DECOR), A("bar", C_DECOR), A("vec", C_DECOR),
    A("hat", C_DECOR), A("tilde", C_DECOR), A("widehat", C_DECOR), A("widetilde", C_DECOR),
    A("overrightarrow", C_DECOR), A("underline", C_DECOR), A("boldsymbol", C_DECOR), A("bm", C_DECOR),
    A("mathit", C_DECOR), A("mathsf", C_DECOR), A("mathcal", C_DECOR), A("mathfrak", C_DECOR),
    A("dot", C_DECOR), A("ddot", C_DECOR), A("underbrace", C_DECOR), A("overbrace", C_DECOR),
    A("mathring", C_DECOR), A("mathscr", C_DECOR),
    A("text", C_TEXT), A("textbf", C_TEXT), A("textit", C_TEXT), A("textrm", C_TEXT),
    A("textnormal", C_TEXT), A("mbox", C_TEXT), A("textsf", C_TEXT), A("texttt", C_TEXT),
    A("emph", C_TEXT), A("textup", C_TEXT), A("hbox", C_TEXT), A("textsc", C_TEXT),
    A("operatorname", C_MATHFONT), A("mathrm", C_MATHFONT),
    A("begin", C_ENV), A("end", C_ENV),
    P("pmod", T_WORD, "mod"), P("bmod", T_WORD, "mod"), P("mod", T_WORD, "mod"),
    /* logic, arrows, calculus, geometry: not an answer we compare */
    P("to", T_BAD, NULL), P("rightarrow", T_BAD, NULL), P("Rightarrow", T_BAD, NULL),
    P("implies", T_BAD, NULL), P("iff", T_BAD, NULL), P("Longrightarrow", T_BAD, NULL),
    P("longrightarrow", T_BAD, NULL), P("therefore", T_BAD, NULL), P("because", T_BAD, NULL),
    P("forall", T_BAD, NULL), P("exists", T_BAD, NULL), P("neg", T_BAD, NULL), P("land", T_BAD, NULL),
    P("lor", T_BAD, NULL), P("wedge", T_BAD, NULL), P("vee", T_BAD, NULL), P("subset", T_BAD, NULL),
    P("subseteq", T_BAD, NULL), P("supset", T_BAD, NULL), P("perp", T_BAD, NULL),
    P("parallel", T_BAD, NULL), P("cong", T_BAD, NULL), P("triangle", T_BAD, NULL),
    P("partial", T_BAD, NULL), P("int", T_BAD, NULL), P("lim", T_BAD, NULL),
    P("nabla", T_BAD, NULL),
};
#undef P
#undef A

static const cmd_rule *find_cmd(const char *name, size_t nl) {
  for (size_t k = 0; k < sizeof k_cmds / sizeof k_cmds[0]; k++)
    if (k_cmds[k].name[0] == name[0] && eq(name, nl, k_cmds[k].name)) return &k_cmds[k];
  return NULL;
}

/* i after the {argument} that starts at s[i] (spaces first), or i when there is none */
static size_t skip_group(const char *s, size_t n, size_t i) {
  while (i < n && s[i] == ' ') i++;
  if (i < n && s[i] == '{') {
    long e = brace_end(s, n, i);
    if (e > 0) i = (size_t)e;
  }
  return i;
}

/* \text{...}, \mathrm{...}, \operatorname{...} */
static void lex_text_command(mx_lexer *L, const char *s, size_t n, size_t *pi, int mathfont) {
  size_t i = *pi;
  while (i < n && s[i] == ' ') i++;
  if (i >= n || s[i] != '{') return;
  long e = brace_end(s, n, i);
  if (e < 0) {
    L->failed = 1;
    *pi = n;
    return;
  }
  if (mathfont) {
    /* \operatorname{sin} is a function; \mathrm{e} the constant: math meaning */
    size_t a = i + 1, b = (size_t)e - 1;
    while (a < b && s[a] == ' ') a++;
    while (b > a && s[b - 1] == ' ') b--;
    int letters = 1;
    for (size_t k = a; k < b; k++) letters &= is_letter(s[k]);
    if (letters && b > a && (in_list(k_funcs, s + a, b - a) || b - a == 1)) {
      lex_range(L, s + a, b - a, 0);
      *pi = (size_t)e;
      return;
    }
  }
  lex_text_body(L, s + i + 1, (size_t)e - i - 2);
  *pi = (size_t)e;
}

/* \begin{env} / \end{env}: matrix environments are tokens, others (align, cases) vanish */
static void lex_environment(mx_lexer *L, const char *s, size_t n, size_t *pi, int begin) {
  size_t i = *pi;
  while (i < n && s[i] == ' ') i++;
  if (i < n && s[i] == '{') {
    long e = brace_end(s, n, i);
    if (e < 0) {
      L->failed = 1;
      *pi = n;
      return;
    }
    const char *env = s + i + 1;
    size_t el = (size_t)e - i - 2;
    i = (size_t)e;
    int is_matrix = eq(env, el, "pmatrix") || eq(env, el, "bmatrix") || eq(env, el, "Bmatrix") ||
                    eq(env, el, "vmatrix") || eq(env, el, "Vmatrix") || eq(env, el, "matrix") ||
                    eq(env, el, "smallmatrix") || eq(env, el, "array");
    if (is_matrix) {
      push(L, begin ? T_MBEGIN : T_MEND, env, el);
      if (begin && eq(env, el, "array")) i = skip_group(s, n, i); /* column spec */
    } else {
      L->space = 1; /* align, aligned, cases...: ignored */
    }
  }
  *pi = i;
}

static void lex_command(mx_lexer *L, const char *s, size_t n, size_t *pi, const char *name,
                        size_t nl) {
  const cmd_rule *r = find_cmd(name, nl);
  size_t i = *pi;
  if (!r) {
    push(L, T_CMD, name, nl);
    return;
  }
  switch (r->action) {
    case C_PUSH:
      if (r->text) push(L, r->kind, r->text, strlen(r->text));
      else push(L, r->kind, name, nl);
      return;
    case C_DELIM:
      while (i < n && s[i] == ' ') i++;
      if (i < n && s[i] == '.') i++; /* \left. */
      *pi = i;
      return;
    case C_SPACE:
      L->space = 1;
      return;
    case C_SKIP_ARG:
      *pi = skip_group(s, n, i);
      L->space = 1;
      return;
    case C_BLACKBOARD: { /* \mathbb{R}: the real line */
      size_t j = i;
      while (j < n && s[j] == ' ') j++;
      if (j + 2 < n && s[j] == '{' && s[j + 1] == 'R' && s[j + 2] == '}') {
        push(L, T_REALS, "R", 1);
        *pi = j + 3;
      }
      return; /* else the argument that follows is an ordinary group */
    }
    case C_DECOR:
      return;
    case C_TEXT: case C_MATHFONT:
      lex_text_command(L, s, n, pi, r->action == C_MATHFONT);
      return;
    case C_ENV:
      lex_environment(L, s, n, pi, name[0] == 'b');
      return;
    default:
      push(L, T_CMD, name, nl);
      return;
  }
}

static void lex_range(mx_lexer *L, const char *s, size_t n, int text_mode) {
  size_t i = 0;
  while (i < n && !L->failed) {
    unsigned char c = (unsigned char)s[i];
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '~') {
      L->space = 1;
      i++;
      continue;
    }
    if (c == '$' || c == '"' || c == '`') {
      L->space = 1;
      i++;
      continue;
    }
    if (is_digit(c) || (c == '.' && i + 1 < n && is_digit((unsigned char)s[i + 1]))) {
      lex_number(L, s, n, &i);
      continue;
    }
    if (is_letter(c)) {
      size_t j = i;
      while (j < n && is_letter((unsigned char)s[j])) j++;
      int meridiem = j == i + 1 && (c == 'a' || c == 'p' || c == 'A' || c == 'P') && j + 1 < n && s[j] == '.' &&
                     (s[j + 1] == 'm' || s[j + 1] == 'M');
      if (text_mode || meridiem) { /* P.M., a.m.: letters with dots between them */
        while (j + 1 < n && s[j] == '.' && is_letter((unsigned char)s[j + 1])) {
          j++;
          while (j < n && is_letter((unsigned char)s[j])) j++;
          if (j < n && s[j] == '.') j++;
        }
      }
      emit_word(L, s + i, j - i, text_mode);
      i = j;
      continue;
    }
    if (c == '\\') {
      size_t k = i;
      while (k < n && s[k] == '\\') k++;
      size_t run = k - i;
      if (k < n && is_letter((unsigned char)s[k])) {
        /* "\\frac" is an escaped \frac; "\\\end" a row break then \end */
        if (run >= 3) push(L, T_ROWSEP, "\\\\", 2);
        size_t j = k;
        while (j < n && is_letter((unsigned char)s[j])) j++;
        if (j < n && s[j] == '*') j++; /* \hspace*, align* handled by begin/end */
        size_t nl = j - k;
        if (s[j - 1] == '*') nl--;
        i = j;
        lex_command(L, s, n, &i, s + k, nl);
        continue;
      }
      if (run >= 2) {
        push(L, T_ROWSEP, "\\\\", 2);
        i = k;
        continue;
      }
      /* escaped single character */
      if (k >= n) {
        i = k;
        continue;
      }
      char e = s[k];
      i = k + 1;
      switch (e) {
        case '{': push(L, T_SETOPEN, "{", 1); break;
        case '}': push(L, T_SETCLOSE, "}", 1); break;
        case '%': push(L, T_PCT, "%", 1); break;
        case '|': push(L, T_OP, "|", 1); break;
        case '$': case ',': case ';': case ':': case '!': case ' ': case '>': case '(':
        case ')': case '[': case ']': case '\n': case '\t':
          L->space = 1;
          break;
        default:
          push(L, T_BAD, s + k, 1);
      }
      continue;
    }
    if (c >= 0x80) {
      if (!lex_utf8(L, s, n, &i)) {
        /* other non-ASCII text (CJK, accents): a word character */
        size_t j = i + 1;
        while (j < n && ((unsigned char)s[j] & 0xc0) == 0x80) j++;
        push(L, T_BAD, s + i, j - i);
        i = j;
      }
      continue;
    }
    /* two-character operators */
    if (i + 1 < n) {
      char d = s[i + 1];
      if (c == '<' && d == '=') { push(L, T_LE, "<=", 2); i += 2; continue; }
      if (c == '>' && d == '=') { push(L, T_GE, ">=", 2); i += 2; continue; }
      if (c == '=' && d == '<') { push(L, T_LE, "<=", 2); i += 2; continue; }
      if (c == '=' && d == '>') { push(L, T_GE, ">=", 2); i += 2; continue; }
      if (c == '!' && d == '=') { push(L, T_NE, "!=", 2); i += 2; continue; }
      if (c == '<' && d == '>') { push(L, T_NE, "!=", 2); i += 2; continue; }
      if (c == '=' && d == '=') { push(L, T_OP, "=", 1); i += 2; continue; }
      if (c == '*' && d == '*') { push(L, T_OP, "^", 1); i += 2; continue; }
      if (c == '+' && d == '-') { push(L, T_PM, "+-", 2); i += 2; continue; }
      if (c == '.' && d == '.') {
        size_t j = i;
        while (j < n && s[j] == '.') j++;
        push(L, T_DOTS, "...", 3);
        i = j;
        continue;
      }
    }
    if (c == '%') { push(L, T_PCT, "%", 1); i++; continue; }
    if (c == '.') { push(L, T_PERIOD, ".", 1); i++; continue; }
    if (strchr("+-*/^_()[]{},;:=<>|!'&", c)) {
      push(L, T_OP, s + i, 1);
      i++;
      continue;
    }
    push(L, T_BAD, s + i, 1);
    i++;
  }
}

int mx_lex(mx_lexer *L, const char *s, size_t n) {
  L->ntok = 0;
  L->failed = 0;
  L->space = 0;
  lex_range(L, s, n, 0);
  if (L->failed) return -1;
  L->space = 1;
  push(L, T_END, "", 0);
  return L->failed ? -1 : 0;
}

int mx_tok_is(const mx_tok *t, int kind, const char *text) {
  return t->kind == kind && (!text || eq(t->s, t->n, text));
}

int mx_is_known_func(const char *s, size_t n) { return in_list(k_funcs, s, n); }
int mx_is_greek(const char *s, size_t n) { return in_list(k_greek, s, n); }
