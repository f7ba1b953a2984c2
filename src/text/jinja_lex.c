/* long1k — Jinja2 lexer: template text -> tokens, with Jinja's whitespace control as
 * transformers configures it (trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=False).
 *
 * - The source's newlines are normalized to "\n" and one trailing newline is removed.
 * - "{%-", "{{-", "{#-" strip all whitespace before the tag; "-%}", "-}}", "-#}" after it.
 * - lstrip_blocks: spaces and tabs between the start of a line and "{%" / "{#" are removed
 *   (not before "{{"; "{%+" keeps them).
 * - trim_blocks: the first newline after "%}" / "#}" is removed (not after "}}"; "+%}" keeps it).
 * - Inside a tag, "}}" / "%}" end it only outside brackets.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "text/jinja_internal.h"

typedef struct lexer {
  jenv *e;
  const char *s;
  size_t n, pos;
  int line_starting; /* the text before the next tag starts a line */
  jtoks *out;
  size_t c_at; /* position cache: line and column of c_at */
  int c_line, c_col;
} lexer;

static void pos_of(lexer *L, size_t at, int *line, int *col) {
  if (at < L->c_at) L->c_at = 0, L->c_line = 1, L->c_col = 1;
  int ln = L->c_line, c = L->c_col;
  for (size_t i = L->c_at; i < at && i < L->n; i++) {
    if (L->s[i] == '\n') {
      ln++;
      c = 1;
    } else {
      c++;
    }
  }
  L->c_at = at, L->c_line = ln, L->c_col = c;
  *line = ln;
  *col = c;
}

static jtok *push(lexer *L, jtok_kind k, size_t at) {
  jtoks *o = L->out;
  if (o->n == o->cap) {
    size_t nc = o->cap ? 2 * o->cap : 256;
    jtok *nt = jalloc(L->e, nc * sizeof *nt);
    if (o->n) memcpy(nt, o->t, o->n * sizeof *nt);
    o->t = nt;
    o->cap = nc;
  }
  jtok *t = &o->t[o->n++];
  memset(t, 0, sizeof *t);
  t->k = k;
  pos_of(L, at, &t->line, &t->col);
  return t;
}

static _Noreturn void lex_fail(lexer *L, size_t at, const char *msg) {
  int line, col;
  pos_of(L, at, &line, &col);
  jfail(L->e, line, col, "%s", msg);
}

static int is_ws(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

/* Emits the text s[b..e) before a tag of the given kind ('{', '%', '#') and sign. */
static void emit_text(lexer *L, size_t b, size_t e, char kind, char sign) {
  if (sign == '-') {
    while (e > b && is_ws(L->s[e - 1])) e--;
  } else if (sign != '+' && kind != '{') {
    size_t lp = e;
    while (lp > b && L->s[lp - 1] != '\n') lp--;
    int at_line_start = lp > b || L->line_starting;
    if (at_line_start) {
      size_t k = lp;
      while (k < e && (L->s[k] == ' ' || L->s[k] == '\t' || L->s[k] == '\r' || L->s[k] == '\f' ||
                       L->s[k] == '\v'))
        k++;
      if (k == e) e = lp;
    }
  }
  if (e > b) {
    jtok *t = push(L, TK_DATA, b);
    t->s = L->s + b;
    t->n = e - b;
  }
}

/* After a tag's end at L->pos: '-' strips all whitespace, trim_blocks one newline. */
static void after_tag(lexer *L, char kind, char sign) {
  size_t start = L->pos;
  if (sign == '-') {
    while (L->pos < L->n && is_ws(L->s[L->pos])) L->pos++;
  } else if (kind != '{' && sign != '+' && L->pos < L->n && L->s[L->pos] == '\n') {
    L->pos++;
  }
  L->line_starting = L->pos > start && L->s[L->pos - 1] == '\n';
}

static void lex_comment(lexer *L) {
  size_t at = L->pos;
  const char *end = NULL;
  for (size_t i = L->pos; i + 1 < L->n; i++)
    if (L->s[i] == '#' && L->s[i + 1] == '}') {
      end = L->s + i;
      break;
    }
  if (!end) lex_fail(L, at, "unclosed comment (expected '#}')");
  char sign = (end > L->s + L->pos && end[-1] == '-') ? '-' : 0;
  L->pos = (size_t)(end - L->s) + 2;
  after_tag(L, '#', sign);
}

static unsigned hexval(char c) {
  return c >= '0' && c <= '9' ? (unsigned)(c - '0')
         : c >= 'a' && c <= 'f' ? (unsigned)(c - 'a' + 10)
         : c >= 'A' && c <= 'F' ? (unsigned)(c - 'A' + 10)
                                : 99u;
}

static void put_utf8(jenv *e, jsb *b, uint32_t cp) {
  char u[4];
  size_t k;
  if (cp < 0x80) u[0] = (char)cp, k = 1;
  else if (cp < 0x800) u[0] = (char)(0xC0 | cp >> 6), u[1] = (char)(0x80 | (cp & 63)), k = 2;
  else if (cp < 0x10000)
    u[0] = (char)(0xE0 | cp >> 12), u[1] = (char)(0x80 | ((cp >> 6) & 63)),
    u[2] = (char)(0x80 | (cp & 63)), k = 3;
  else
    u[0] = (char)(0xF0 | cp >> 18), u[1] = (char)(0x80 | ((cp >> 12) & 63)),
    u[2] = (char)(0x80 | ((cp >> 6) & 63)), u[3] = (char)(0x80 | (cp & 63)), k = 4;
  jsb_put(e, b, u, k);
}

/* A string literal at L->pos (quote q): Python's unicode-escape rules, as Jinja applies them. */
static void lex_string(lexer *L) {
  size_t at = L->pos;
  char q = L->s[L->pos++];
  jsb b = {0};
  jsb_put(L->e, &b, "", 0);
  for (;;) {
    if (L->pos >= L->n) lex_fail(L, at, "unterminated string literal");
    char c = L->s[L->pos];
    if (c == q) {
      L->pos++;
      break;
    }
    if (c != '\\' || L->pos + 1 >= L->n) {
      jsb_put(L->e, &b, &c, 1);
      L->pos++;
      continue;
    }
    char d = L->s[L->pos + 1];
    L->pos += 2;
    const char *simple = strchr("nrtabfv\\'\"\n", d);
    if (simple && d) {
      static const char from[] = "nrtabfv\\'\"";
      static const char to[] = "\n\r\t\a\b\f\v\\'\"";
      if (d == '\n') continue; /* line continuation */
      jsb_put(L->e, &b, &to[strchr(from, d) - from], 1);
    } else if (d == 'x' || d == 'u' || d == 'U') {
      int k = d == 'x' ? 2 : d == 'u' ? 4 : 8;
      uint32_t cp = 0;
      for (int i = 0; i < k; i++) {
        unsigned h = L->pos < L->n ? hexval(L->s[L->pos]) : 99u;
        if (h > 15) lex_fail(L, at, "bad \\x/\\u escape in string literal");
        cp = cp * 16 + h;
        L->pos++;
      }
      if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        lex_fail(L, at, "escape out of the Unicode range in string literal");
      put_utf8(L->e, &b, cp);
    } else if (d >= '0' && d <= '7') {
      uint32_t cp = (uint32_t)(d - '0');
      for (int i = 0; i < 2 && L->pos < L->n && L->s[L->pos] >= '0' && L->s[L->pos] <= '7'; i++)
        cp = cp * 8 + (uint32_t)(L->s[L->pos++] - '0');
      put_utf8(L->e, &b, cp);
    } else {
      jsb_put(L->e, &b, "\\", 1); /* unknown escapes stay as they are */
      jsb_put(L->e, &b, &d, 1);
    }
  }
  jtok *t = push(L, TK_STRING, at);
  t->s = b.p;
  t->n = b.n;
}

static void lex_number(lexer *L) {
  size_t at = L->pos, i = L->pos;
  char buf[128];
  size_t k = 0;
  int is_float = 0;
#define PUT(c)                                                        \
  do {                                                                \
    if (k + 1 >= sizeof buf) lex_fail(L, at, "number literal too long"); \
    buf[k++] = (c);                                                   \
  } while (0)
  while (i < L->n && ((L->s[i] >= '0' && L->s[i] <= '9') || L->s[i] == '_')) {
    if (L->s[i] != '_') PUT(L->s[i]);
    i++;
  }
  if (i + 1 < L->n && L->s[i] == '.' && L->s[i + 1] >= '0' && L->s[i + 1] <= '9') {
    is_float = 1;
    PUT('.');
    i++;
    while (i < L->n && ((L->s[i] >= '0' && L->s[i] <= '9') || L->s[i] == '_')) {
      if (L->s[i] != '_') PUT(L->s[i]);
      i++;
    }
  }
  if (i < L->n && (L->s[i] == 'e' || L->s[i] == 'E')) {
    size_t j = i + 1;
    if (j < L->n && (L->s[j] == '+' || L->s[j] == '-')) j++;
    if (j < L->n && L->s[j] >= '0' && L->s[j] <= '9') {
      is_float = 1;
      while (i < j) PUT(L->s[i++]);
      while (i < L->n && L->s[i] >= '0' && L->s[i] <= '9') PUT(L->s[i++]);
    }
  }
#undef PUT
  buf[k] = 0;
  jtok *t = push(L, is_float ? TK_FLOAT : TK_INT, at);
  if (is_float) {
    t->f = strtod(buf, NULL);
  } else {
    char *end;
    errno = 0;
    unsigned long long v = strtoull(buf, &end, 10);
    if (errno || v > (unsigned long long)INT64_MAX) lex_fail(L, at, "integer literal out of range");
    t->i = (int64_t)v;
  }
  L->pos = i;
}

static const char *OPS2[] = {"//", "**", "==", "!=", ">=", "<="};
static const char OPS1[] = "+-*/%~<>=.,:|()[]{}";

/* Tokens of one tag up to its end ("}}" or "%}"); returns the sign before the end. */
static char lex_tag(lexer *L, char kind, size_t start) {
  int depth = 0;
  for (;;) {
    while (L->pos < L->n && is_ws(L->s[L->pos])) L->pos++;
    if (L->pos >= L->n)
      lex_fail(L, start, kind == '{' ? "'{{' is never closed (expected '}}')" : "'{%' is never closed (expected '%}')");
    const char *p = L->s + L->pos;
    size_t left = L->n - L->pos;
    char close = kind == '{' ? '}' : '%';
    if (depth == 0) {
      char sign = 0;
      size_t k = 0;
      if ((p[0] == '-' || p[0] == '+') && left >= 3 && p[1] == close && p[2] == '}') sign = p[0], k = 1;
      if (left >= k + 2 && p[k] == close && p[k + 1] == '}') {
        push(L, kind == '{' ? TK_VAR_END : TK_BLOCK_END, L->pos);
        L->pos += k + 2;
        return sign;
      }
    }
    char c = p[0];
    if (c == '\'' || c == '"') {
      lex_string(L);
    } else if (c >= '0' && c <= '9') {
      lex_number(L);
    } else if (c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) {
      size_t b = L->pos;
      while (L->pos < L->n && (L->s[L->pos] == '_' || (L->s[L->pos] >= 'a' && L->s[L->pos] <= 'z') ||
                               (L->s[L->pos] >= 'A' && L->s[L->pos] <= 'Z') ||
                               (L->s[L->pos] >= '0' && L->s[L->pos] <= '9')))
        L->pos++;
      jtok *t = push(L, TK_NAME, b);
      t->s = L->s + b;
      t->n = L->pos - b;
    } else {
      size_t k = 0;
      for (size_t i = 0; i < sizeof OPS2 / sizeof *OPS2; i++)
        if (left >= 2 && p[0] == OPS2[i][0] && p[1] == OPS2[i][1]) k = 2;
      if (!k && c && strchr(OPS1, c)) k = 1;
      if (!k) lex_fail(L, L->pos, "unexpected character in tag");
      if (c == '(' || c == '[' || c == '{') depth++;
      if ((c == ')' || c == ']' || c == '}') && depth > 0) depth--;
      jtok *t = push(L, TK_OP, L->pos);
      t->s = p;
      t->n = k;
      L->pos += k;
    }
  }
}

/* Normalizes newlines (\r\n and \r -> \n) and removes one trailing newline. */
static char *normalize(jenv *e, const char *src, size_t len, size_t *out_len) {
  char *s = jalloc(e, len + 1);
  size_t k = 0;
  for (size_t i = 0; i < len; i++) {
    if (src[i] == '\r') {
      s[k++] = '\n';
      if (i + 1 < len && src[i + 1] == '\n') i++;
    } else {
      s[k++] = src[i];
    }
  }
  if (k && s[k - 1] == '\n') k--;
  s[k] = 0;
  *out_len = k;
  return s;
}

void jinja_lex(jenv *e, const char *src, size_t len, jtoks *out) {
  lexer L = {e, NULL, 0, 0, 1, out, 0, 1, 1};
  L.s = normalize(e, src, len, &L.n);
  while (L.pos < L.n) {
    size_t b = L.pos, i = L.pos;
    while (i + 1 < L.n && !(L.s[i] == '{' && (L.s[i + 1] == '{' || L.s[i + 1] == '%' || L.s[i + 1] == '#'))) i++;
    if (i + 1 >= L.n) {
      emit_text(&L, b, L.n, '{', 0);
      break;
    }
    char kind = L.s[i + 1];
    char sign = i + 2 < L.n && (L.s[i + 2] == '-' || L.s[i + 2] == '+') ? L.s[i + 2] : 0;
    if (kind == '{' && sign == '+') sign = 0;
    emit_text(&L, b, i, kind, sign);
    L.pos = i + 2 + (sign ? 1 : 0);
    if (kind == '#') {
      lex_comment(&L);
      continue;
    }
    push(&L, kind == '{' ? TK_VAR_BEGIN : TK_BLOCK_BEGIN, i);
    char end_sign = lex_tag(&L, kind == '{' ? '{' : '%', i);
    after_tag(&L, kind == '{' ? '{' : '%', end_sign);
  }
  push(&L, TK_EOF, L.n);
}
