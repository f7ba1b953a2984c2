/* long1k — Jinja values: the arena, errors, constructors, truth and equality, Python's str()
 * and repr(), and json.dumps as transformers' tojson calls it. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "text/jinja_internal.h"

struct jchunk {
  jchunk *next;
  size_t used, cap;
  _Alignas(16) unsigned char data[];
};

void jfail(jenv *e, int line, int col, const char *fmt, ...) {
  char msg[768];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  /* one line: newlines (from a raise_exception message, a quoted token) are written as \n */
  char one[1024];
  size_t k = 0;
  for (const char *p = msg; *p && k + 3 < sizeof one; p++) {
    if (*p == '\n' || *p == '\r') {
      one[k++] = '\\';
      one[k++] = *p == '\n' ? 'n' : 'r';
    } else {
      one[k++] = (unsigned char)*p < 0x20 ? ' ' : *p;
    }
  }
  one[k] = 0;
  if (line > 0)
    l1k_errf(e->err, L1K_EINPUT, "template '%s' line %d column %d: %s", e->name, line, col, one);
  else
    l1k_errf(e->err, L1K_EINPUT, "template '%s': %s", e->name, one);
  longjmp(e->jb, 1);
}

void *jalloc(jenv *e, size_t n) {
  jarena *a = e->ar;
  n = (n + 15) & ~(size_t)15;
  if (!a->head || a->head->cap - a->head->used < n) {
    size_t cap = n > 65536 ? n : 65536;
    if (a->limit && a->total + cap > a->limit)
      jfail(e, 0, 0, "more than %zu MiB of memory used (a runaway template?)", a->limit >> 20);
    jchunk *c = malloc(sizeof *c + cap);
    if (!c) {
      l1k_errf(e->err, L1K_ENOMEM, "template '%s': out of memory", e->name);
      longjmp(e->jb, 1);
    }
    c->next = a->head;
    c->used = 0;
    c->cap = cap;
    a->head = c;
    a->total += cap;
  }
  void *p = a->head->data + a->head->used;
  a->head->used += n;
  memset(p, 0, n);
  return p;
}

void jarena_free(jarena *a) {
  jchunk *c = a->head;
  while (c) {
    jchunk *nx = c->next;
    free(c);
    c = nx;
  }
  a->head = NULL;
  a->total = 0;
}

char *jstrndup(jenv *e, const char *s, size_t n) {
  char *p = jalloc(e, n + 1);
  if (n) memcpy(p, s, n);
  p[n] = 0;
  return p;
}

void jsb_put(jenv *e, jsb *b, const char *s, size_t n) {
  if (b->n + n + 1 > b->cap) {
    size_t nc = b->cap ? b->cap : 64;
    while (nc < b->n + n + 1) nc *= 2;
    char *np = jalloc(e, nc);
    if (b->n) memcpy(np, b->p, b->n);
    b->p = np;
    b->cap = nc;
  }
  if (n) memcpy(b->p + b->n, s, n);
  b->n += n;
  b->p[b->n] = 0;
}
void jsb_puts(jenv *e, jsb *b, const char *s) { jsb_put(e, b, s, strlen(s)); }

/* ---- constructors ---- */
jv jv_undef(void) { return (jv){.t = JV_UNDEF}; }
jv jv_none(void) { return (jv){.t = JV_NONE}; }
jv jv_bool(int b) { return (jv){.t = JV_BOOL, .u.b = b != 0}; }
jv jv_int(int64_t i) { return (jv){.t = JV_INT, .u.i = i}; }
jv jv_float(double f) { return (jv){.t = JV_FLOAT, .u.f = f}; }
jv jv_strref(const char *s, size_t n) {
  jv v = {.t = JV_STR};
  v.u.s.s = s;
  v.u.s.n = n;
  return v;
}
jv jv_cstr(const char *s) { return jv_strref(s, strlen(s)); }
jv jv_str(jenv *e, const char *s, size_t n) { return jv_strref(jstrndup(e, s, n), n); }

jv jv_newlist(jenv *e, size_t cap) {
  jv v = {.t = JV_LIST};
  v.u.l = jalloc(e, sizeof *v.u.l);
  if (cap) {
    v.u.l->v = jalloc(e, cap * sizeof(jv));
    v.u.l->cap = cap;
  }
  return v;
}
jv jv_newdict(jenv *e) {
  jv v = {.t = JV_DICT};
  v.u.d = jalloc(e, sizeof *v.u.d);
  return v;
}

void jlist_push(jenv *e, jlist *l, jv v) {
  if (l->n == l->cap) {
    size_t nc = l->cap ? 2 * l->cap : 4;
    jv *nv = jalloc(e, nc * sizeof *nv);
    if (l->n) memcpy(nv, l->v, l->n * sizeof *nv);
    l->v = nv;
    l->cap = nc;
  }
  l->v[l->n++] = v;
}

jv *jdict_get(const jdict *d, const char *k, size_t kn) {
  for (size_t i = 0; i < d->n; i++)
    if (d->klen[i] == kn && memcmp(d->k[i], k, kn) == 0) return &d->v[i];
  return NULL;
}

void jdict_set(jenv *e, jdict *d, const char *k, size_t kn, jv v) {
  jv *old = jdict_get(d, k, kn);
  if (old) {
    *old = v;
    return;
  }
  if (d->n == d->cap) {
    size_t nc = d->cap ? 2 * d->cap : 8;
    const char **nk = jalloc(e, nc * sizeof *nk);
    size_t *nl = jalloc(e, nc * sizeof *nl);
    jv *nv = jalloc(e, nc * sizeof *nv);
    if (d->n) {
      memcpy(nk, d->k, d->n * sizeof *nk);
      memcpy(nl, d->klen, d->n * sizeof *nl);
      memcpy(nv, d->v, d->n * sizeof *nv);
    }
    d->k = nk, d->klen = nl, d->v = nv, d->cap = nc;
  }
  d->k[d->n] = k; /* keys live as long as the render (template, arena or caller's JSON) */
  d->klen[d->n] = kn;
  d->v[d->n++] = v;
}

int jv_truthy(jv v) {
  switch (v.t) {
    case JV_UNDEF: case JV_NONE: return 0;
    case JV_BOOL: return v.u.b;
    case JV_INT: return v.u.i != 0;
    case JV_FLOAT: return v.u.f != 0.0;
    case JV_STR: return v.u.s.n > 0;
    case JV_LIST: return v.u.l->n > 0;
    case JV_DICT: return v.u.d->n > 0;
    default: return 1;
  }
}

static int is_num(jv v) { return v.t == JV_BOOL || v.t == JV_INT || v.t == JV_FLOAT; }
static double num(jv v) {
  return v.t == JV_FLOAT ? v.u.f : v.t == JV_INT ? (double)v.u.i : (double)v.u.b;
}

int jv_equal(jv a, jv b) {
  if (is_num(a) && is_num(b)) {
    if (a.t != JV_FLOAT && b.t != JV_FLOAT)
      return (a.t == JV_INT ? a.u.i : a.u.b) == (b.t == JV_INT ? b.u.i : b.u.b);
    return num(a) == num(b);
  }
  if (a.t != b.t) return 0;
  switch (a.t) {
    case JV_UNDEF: case JV_NONE: return 1;
    case JV_STR: return a.u.s.n == b.u.s.n && memcmp(a.u.s.s, b.u.s.s, a.u.s.n) == 0;
    case JV_LIST:
      if (a.tuple != b.tuple || a.u.l->n != b.u.l->n) return 0;
      for (size_t i = 0; i < a.u.l->n; i++)
        if (!jv_equal(a.u.l->v[i], b.u.l->v[i])) return 0;
      return 1;
    case JV_DICT:
      if (a.u.d->n != b.u.d->n) return 0;
      for (size_t i = 0; i < a.u.d->n; i++) {
        jv *o = jdict_get(b.u.d, a.u.d->k[i], a.u.d->klen[i]);
        if (!o || !jv_equal(a.u.d->v[i], *o)) return 0;
      }
      return 1;
    case JV_MACRO: return a.u.macro == b.u.macro;
    case JV_FUNC: return a.u.fn == b.u.fn;
    default: return 0;
  }
}

const char *jv_typename(jv v) {
  static const char *names[] = {"undefined", "none", "bool", "int", "float", "string",
                                "list", "dict", "macro", "function"};
  if (v.t == JV_LIST && v.tuple) return "tuple";
  if (v.t == JV_DICT && v.u.d->ns) return "namespace";
  return v.t < sizeof names / sizeof *names ? names[v.t] : "?";
}

/* Python repr(float): the shortest digits that read back the same; exponent form when the
 * decimal exponent is < -4 or >= 16. */
void jv_float_repr(double f, char *buf, size_t cap) {
  if (isnan(f)) {
    snprintf(buf, cap, "nan");
    return;
  }
  if (isinf(f)) {
    snprintf(buf, cap, f < 0 ? "-inf" : "inf");
    return;
  }
  char tmp[64];
  int prec;
  for (prec = 1; prec <= 17; prec++) {
    snprintf(tmp, sizeof tmp, "%.*e", prec - 1, f);
    if (strtod(tmp, NULL) == f) break;
  }
  /* tmp = [-]d[.ddd]e[+-]XX */
  char digits[32];
  size_t nd = 0;
  const char *p = tmp;
  int neg = *p == '-';
  if (neg) p++;
  for (; *p && *p != 'e'; p++)
    if (*p != '.') digits[nd++] = *p;
  int exp10 = atoi(p + 1);
  while (nd > 1 && digits[nd - 1] == '0') nd--;
  char out[64];
  size_t k = 0;
  if (neg) out[k++] = '-';
  if (exp10 < -4 || exp10 >= 16) {
    out[k++] = digits[0];
    if (nd > 1) {
      out[k++] = '.';
      for (size_t i = 1; i < nd; i++) out[k++] = digits[i];
    }
    k += (size_t)snprintf(out + k, sizeof out - k, "e%c%02d", exp10 < 0 ? '-' : '+', abs(exp10));
  } else if (exp10 < 0) {
    out[k++] = '0';
    out[k++] = '.';
    for (int i = 0; i < -exp10 - 1; i++) out[k++] = '0';
    for (size_t i = 0; i < nd; i++) out[k++] = digits[i];
  } else {
    for (int i = 0; i <= exp10; i++) out[k++] = (size_t)i < nd ? digits[i] : '0';
    out[k++] = '.';
    if ((size_t)exp10 + 1 < nd)
      for (size_t i = (size_t)exp10 + 1; i < nd; i++) out[k++] = digits[i];
    else
      out[k++] = '0';
  }
  out[k] = 0;
  snprintf(buf, cap, "%s", out);
}

static void repr_str(jenv *e, jsb *b, const char *s, size_t n) {
  char q = memchr(s, '\'', n) && !memchr(s, '"', n) ? '"' : '\'';
  jsb_put(e, b, &q, 1);
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    char esc[8];
    if (c == '\\') jsb_puts(e, b, "\\\\");
    else if (c == (unsigned char)q) {
      esc[0] = '\\', esc[1] = q;
      jsb_put(e, b, esc, 2);
    } else if (c == '\n') jsb_puts(e, b, "\\n");
    else if (c == '\r') jsb_puts(e, b, "\\r");
    else if (c == '\t') jsb_puts(e, b, "\\t");
    else if (c < 0x20 || c == 0x7f) {
      snprintf(esc, sizeof esc, "\\x%02x", c);
      jsb_puts(e, b, esc);
    } else jsb_put(e, b, (const char *)&c, 1);
  }
  jsb_put(e, b, &q, 1);
}

static void str_or_repr(jenv *e, jsb *b, jv v, int repr) {
  char num_buf[64];
  switch (v.t) {
    case JV_UNDEF: return;
    case JV_NONE: jsb_puts(e, b, "None"); return;
    case JV_BOOL: jsb_puts(e, b, v.u.b ? "True" : "False"); return;
    case JV_INT:
      snprintf(num_buf, sizeof num_buf, "%lld", (long long)v.u.i);
      jsb_puts(e, b, num_buf);
      return;
    case JV_FLOAT:
      jv_float_repr(v.u.f, num_buf, sizeof num_buf);
      jsb_puts(e, b, num_buf);
      return;
    case JV_STR:
      if (repr) repr_str(e, b, v.u.s.s, v.u.s.n);
      else jsb_put(e, b, v.u.s.s, v.u.s.n);
      return;
    case JV_LIST:
      jsb_puts(e, b, v.tuple ? "(" : "[");
      for (size_t i = 0; i < v.u.l->n; i++) {
        if (i) jsb_puts(e, b, ", ");
        str_or_repr(e, b, v.u.l->v[i], 1);
      }
      if (v.tuple && v.u.l->n == 1) jsb_puts(e, b, ",");
      jsb_puts(e, b, v.tuple ? ")" : "]");
      return;
    case JV_DICT:
      jsb_puts(e, b, v.u.d->ns ? "<Namespace {" : "{");
      for (size_t i = 0; i < v.u.d->n; i++) {
        if (i) jsb_puts(e, b, ", ");
        repr_str(e, b, v.u.d->k[i], v.u.d->klen[i]);
        jsb_puts(e, b, ": ");
        str_or_repr(e, b, v.u.d->v[i], 1);
      }
      jsb_puts(e, b, v.u.d->ns ? "}>" : "}");
      return;
    case JV_MACRO: jsb_puts(e, b, "<Macro>"); return;
    default: jsb_puts(e, b, "<function>"); return;
  }
}

void jv_str_into(jenv *e, jsb *b, jv v) { str_or_repr(e, b, v, 0); }
void jv_repr_into(jenv *e, jsb *b, jv v) { str_or_repr(e, b, v, 1); }

jv jv_tostr(jenv *e, jv v) {
  if (v.t == JV_STR) return v;
  jsb b = {0};
  jsb_put(e, &b, "", 0);
  jv_str_into(e, &b, v);
  return jv_strref(b.p, b.n);
}

/* ---- json.dumps ---- */
static void json_str(jenv *e, jsb *b, const char *s, size_t n) {
  jsb_put(e, b, "\"", 1);
  size_t run = 0;
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    const char *esc = NULL;
    char u[8];
    if (c == '"') esc = "\\\"";
    else if (c == '\\') esc = "\\\\";
    else if (c == '\n') esc = "\\n";
    else if (c == '\r') esc = "\\r";
    else if (c == '\t') esc = "\\t";
    else if (c == '\b') esc = "\\b";
    else if (c == '\f') esc = "\\f";
    else if (c < 0x20) {
      snprintf(u, sizeof u, "\\u%04x", c);
      esc = u;
    }
    if (esc) {
      jsb_put(e, b, s + run, i - run);
      jsb_puts(e, b, esc);
      run = i + 1;
    }
  }
  jsb_put(e, b, s + run, n - run);
  jsb_put(e, b, "\"", 1);
}

static void json_nl(jenv *e, jsb *b, int indent, int depth) {
  jsb_put(e, b, "\n", 1);
  for (int i = 0; i < indent * depth; i++) jsb_put(e, b, " ", 1);
}

void jv_tojson(jenv *e, jsb *b, jv v, int indent, const char *item_sep, const char *key_sep,
               int sort_keys, int depth, int line, int col) {
  char num_buf[64];
  if (depth > 100) jfail(e, line, col, "tojson: value nested more than 100 deep");
  switch (v.t) {
    case JV_NONE: jsb_puts(e, b, "null"); return;
    case JV_BOOL: jsb_puts(e, b, v.u.b ? "true" : "false"); return;
    case JV_INT:
      snprintf(num_buf, sizeof num_buf, "%lld", (long long)v.u.i);
      jsb_puts(e, b, num_buf);
      return;
    case JV_FLOAT:
      if (isnan(v.u.f)) jsb_puts(e, b, "NaN");
      else if (isinf(v.u.f)) jsb_puts(e, b, v.u.f < 0 ? "-Infinity" : "Infinity");
      else {
        jv_float_repr(v.u.f, num_buf, sizeof num_buf);
        jsb_puts(e, b, num_buf);
      }
      return;
    case JV_STR: json_str(e, b, v.u.s.s, v.u.s.n); return;
    case JV_LIST:
      if (!v.u.l->n) {
        jsb_puts(e, b, "[]");
        return;
      }
      jsb_puts(e, b, "[");
      for (size_t i = 0; i < v.u.l->n; i++) {
        if (i) jsb_puts(e, b, item_sep);
        if (indent >= 0) json_nl(e, b, indent, depth + 1);
        jv_tojson(e, b, v.u.l->v[i], indent, item_sep, key_sep, sort_keys, depth + 1, line, col);
      }
      if (indent >= 0) json_nl(e, b, indent, depth);
      jsb_puts(e, b, "]");
      return;
    case JV_DICT: {
      jdict *d = v.u.d;
      if (!d->n) {
        jsb_puts(e, b, "{}");
        return;
      }
      size_t *ord = jalloc(e, d->n * sizeof *ord);
      for (size_t i = 0; i < d->n; i++) ord[i] = i;
      if (sort_keys) /* insertion sort by key bytes (= code point order for UTF-8) */
        for (size_t i = 1; i < d->n; i++)
          for (size_t j = i; j > 0; j--) {
            size_t x = ord[j - 1], y = ord[j];
            size_t m = d->klen[x] < d->klen[y] ? d->klen[x] : d->klen[y];
            int c = memcmp(d->k[x], d->k[y], m);
            if (c < 0 || (c == 0 && d->klen[x] <= d->klen[y])) break;
            ord[j - 1] = y, ord[j] = x;
          }
      jsb_puts(e, b, "{");
      for (size_t i = 0; i < d->n; i++) {
        if (i) jsb_puts(e, b, item_sep);
        if (indent >= 0) json_nl(e, b, indent, depth + 1);
        json_str(e, b, d->k[ord[i]], d->klen[ord[i]]);
        jsb_puts(e, b, key_sep);
        jv_tojson(e, b, d->v[ord[i]], indent, item_sep, key_sep, sort_keys, depth + 1, line, col);
      }
      if (indent >= 0) json_nl(e, b, indent, depth);
      jsb_puts(e, b, "}");
      return;
    }
    default:
      jfail(e, line, col, "tojson: a value of type %s is not JSON serializable", jv_typename(v));
  }
}

size_t jutf8_len(const char *s, size_t n) {
  size_t k = 0;
  for (size_t i = 0; i < n; i++) k += ((unsigned char)s[i] & 0xC0) != 0x80;
  return k;
}

size_t jutf8_offset(const char *s, size_t n, size_t cp_i) {
  size_t k = 0;
  for (size_t i = 0; i < n; i++) {
    if (((unsigned char)s[i] & 0xC0) != 0x80) {
      if (k == cp_i) return i;
      k++;
    }
  }
  return n;
}
