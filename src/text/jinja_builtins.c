#define _GNU_SOURCE
/* long1k — Jinja builtins: attribute and item access, slicing, iteration, filters, tests,
 * string/dict methods and global functions (range, namespace, dict, raise_exception,
 * strftime_now), with Jinja2/Python semantics. Names not listed here are refused by name. */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <utf8proc.h>

#include "text/jinja_internal.h"
#include "text/tok_internal.h"

#define E (&r->e)

jv *jarg(jv *args, size_t nargs, const char **kwn, jv *kwv, size_t nkw, size_t pos,
         const char *k) {
  for (size_t i = 0; i < nkw; i++)
    if (k && !strcmp(kwn[i], k)) return &kwv[i];
  return pos < nargs ? &args[pos] : NULL;
}

static jv need_str(jrender *r, const jnode *n, jv v, const char *what) {
  if (v.t != JV_STR) JFAIL(r, n, "%s: expected a string, got %s", what, jv_typename(v));
  return v;
}

static int64_t need_int(jrender *r, const jnode *n, jv v, const char *what) {
  if (v.t == JV_INT) return v.u.i;
  if (v.t == JV_BOOL) return v.u.b;
  JFAIL(r, n, "%s: expected an integer, got %s", what, jv_typename(v));
}

/* ---- access ---- */
jv jgetattr(jrender *r, const jnode *n, jv obj, const char *name, size_t nlen) {
  if (obj.t == JV_UNDEF) JFAIL(r, n, "'%.*s' of an undefined value", (int)nlen, name);
  if (obj.t == JV_DICT) {
    jv *v = jdict_get(obj.u.d, name, nlen);
    return v ? *v : jv_undef();
  }
  return jv_undef();
}

static int norm_index(int64_t i, size_t len, size_t *out) {
  if (i < 0) i += (int64_t)len;
  if (i < 0 || (uint64_t)i >= len) return 0;
  *out = (size_t)i;
  return 1;
}

jv jgetitem(jrender *r, const jnode *n, jv obj, jv key) {
  if (obj.t == JV_UNDEF) JFAIL(r, n, "subscript of an undefined value");
  size_t k;
  switch (obj.t) {
    case JV_DICT:
      if (key.t != JV_STR) return jv_undef();
      return jgetattr(r, n, obj, key.u.s.s, key.u.s.n);
    case JV_LIST:
      if (key.t != JV_INT && key.t != JV_BOOL) return jv_undef();
      return norm_index(need_int(r, n, key, "index"), obj.u.l->n, &k) ? obj.u.l->v[k] : jv_undef();
    case JV_STR: {
      if (key.t != JV_INT && key.t != JV_BOOL) return jv_undef();
      size_t len = jutf8_len(obj.u.s.s, obj.u.s.n);
      if (!norm_index(need_int(r, n, key, "index"), len, &k)) return jv_undef();
      size_t b = jutf8_offset(obj.u.s.s, obj.u.s.n, k), e = jutf8_offset(obj.u.s.s, obj.u.s.n, k + 1);
      return jv_strref(obj.u.s.s + b, e - b);
    }
    default: return jv_undef();
  }
}

/* Python slice indices for a sequence of length len */
static void slice_bounds(jrender *r, const jnode *n, size_t len, jv a, jv b, jv c, int64_t *start,
                         int64_t *stop, int64_t *stepv) {
  int64_t st = c.t == JV_NONE ? 1 : need_int(r, n, c, "slice step");
  if (st == 0) JFAIL(r, n, "slice step cannot be zero");
  int64_t L = (int64_t)len, lo, hi;
  if (st > 0) lo = 0, hi = L;
  else lo = -1, hi = L - 1;
  int64_t s0 = st > 0 ? lo : hi, s1 = st > 0 ? hi : lo;
  if (a.t != JV_NONE) {
    s0 = need_int(r, n, a, "slice start");
    if (s0 < 0) s0 += L;
    if (s0 < lo) s0 = lo;
    if (s0 > hi) s0 = hi;
  }
  if (b.t != JV_NONE) {
    s1 = need_int(r, n, b, "slice stop");
    if (s1 < 0) s1 += L;
    if (s1 < lo) s1 = lo;
    if (s1 > hi) s1 = hi;
  }
  *start = s0, *stop = s1, *stepv = st;
}

jv jslice(jrender *r, const jnode *n, jv obj, jv a, jv b, jv c) {
  int64_t s0, s1, st;
  if (obj.t == JV_LIST) {
    slice_bounds(r, n, obj.u.l->n, a, b, c, &s0, &s1, &st);
    jv out = jv_newlist(E, 0);
    for (int64_t i = s0; st > 0 ? i < s1 : i > s1; i += st) jlist_push(E, out.u.l, obj.u.l->v[i]);
    out.tuple = obj.tuple;
    return out;
  }
  if (obj.t == JV_STR) {
    size_t len = jutf8_len(obj.u.s.s, obj.u.s.n);
    slice_bounds(r, n, len, a, b, c, &s0, &s1, &st);
    if (st == 1) {
      if (s1 <= s0) return jv_cstr("");
      size_t bo = jutf8_offset(obj.u.s.s, obj.u.s.n, (size_t)s0);
      size_t eo = jutf8_offset(obj.u.s.s, obj.u.s.n, (size_t)s1);
      return jv_strref(obj.u.s.s + bo, eo - bo);
    }
    jsb sb = {0};
    jsb_put(E, &sb, "", 0);
    for (int64_t i = s0; st > 0 ? i < s1 : i > s1; i += st) {
      size_t bo = jutf8_offset(obj.u.s.s, obj.u.s.n, (size_t)i);
      size_t eo = jutf8_offset(obj.u.s.s, obj.u.s.n, (size_t)i + 1);
      jsb_put(E, &sb, obj.u.s.s + bo, eo - bo);
    }
    return jv_strref(sb.p, sb.n);
  }
  JFAIL(r, n, "cannot slice %s", jv_typename(obj));
}

static jlist *chars(jrender *r, jv s) {
  jlist *l = jv_newlist(E, 0).u.l;
  size_t i = 0;
  while (i < s.u.s.n) {
    size_t j = i + 1;
    while (j < s.u.s.n && ((unsigned char)s.u.s.s[j] & 0xC0) == 0x80) j++;
    jlist_push(E, l, jv_strref(s.u.s.s + i, j - i));
    i = j;
  }
  return l;
}

jlist *jiterate(jrender *r, const jnode *n, jv x) {
  switch (x.t) {
    case JV_UNDEF: return jv_newlist(E, 0).u.l;
    case JV_LIST: return x.u.l;
    case JV_STR: return chars(r, x);
    case JV_DICT: {
      jlist *l = jv_newlist(E, x.u.d->n).u.l;
      for (size_t i = 0; i < x.u.d->n; i++) jlist_push(E, l, jv_strref(x.u.d->k[i], x.u.d->klen[i]));
      return l;
    }
    default: JFAIL(r, n, "%s is not iterable", jv_typename(x));
  }
}

/* ---- strings ---- */
static int is_space_cp(uint32_t cp) { return l1k_uc_py_isspace(cp); }

static size_t prev_cp(const char *s, size_t e) {
  size_t j = e - 1;
  while (j > 0 && ((unsigned char)s[j] & 0xC0) == 0x80) j--;
  return j;
}

static uint32_t cp_at(const char *s, size_t n, size_t i, size_t *len) {
  uint32_t cp;
  int k = l1k_utf8_decode((const uint8_t *)s + i, n - i, &cp);
  if (k <= 0) {
    *len = 1;
    return 0xFFFD;
  }
  *len = (size_t)k;
  return cp;
}

/* Python str.strip/lstrip/rstrip: chars = NULL -> whitespace */
static jv py_strip(jv s, jv *chars_, int left, int right) {
  const char *p = s.u.s.s;
  size_t b = 0, e = s.u.s.n;
  const char *cs = chars_ && chars_->t == JV_STR ? chars_->u.s.s : NULL;
  size_t cn = cs ? chars_->u.s.n : 0;
  while (left && b < e) {
    size_t k;
    uint32_t cp = cp_at(p, e, b, &k);
    int strip = cs ? memmem(cs, cn, p + b, k) != NULL : is_space_cp(cp);
    if (!strip) break;
    b += k;
  }
  while (right && e > b) {
    size_t j = prev_cp(p, e);
    if (j < b) j = b;
    size_t k;
    uint32_t cp = cp_at(p, e, j, &k);
    int strip = cs ? memmem(cs, cn, p + j, e - j) != NULL : is_space_cp(cp);
    if (!strip) break;
    e = j;
  }
  return jv_strref(p + b, e - b);
}

static jv map_case(jrender *r, jv s, int mode) { /* 0 lower, 1 upper, 2 title, 3 capitalize */
  jsb b = {0};
  jsb_put(E, &b, "", 0);
  int prev_cased = 0, first = 1;
  for (size_t i = 0; i < s.u.s.n;) {
    size_t k;
    uint32_t cp = cp_at(s.u.s.s, s.u.s.n, i, &k);
    int up;
    if (mode == 0) up = 0;
    else if (mode == 1) up = 1;
    else if (mode == 2) up = !prev_cased;
    else up = first;
    utf8proc_int32_t m = up ? utf8proc_toupper((utf8proc_int32_t)cp) : utf8proc_tolower((utf8proc_int32_t)cp);
    if (l1k_utf8_decode((const uint8_t *)s.u.s.s + i, s.u.s.n - i, &cp) <= 0) {
      jsb_put(E, &b, s.u.s.s + i, 1);
    } else {
      utf8proc_uint8_t enc[4];
      utf8proc_ssize_t el = utf8proc_encode_char(m, enc);
      jsb_put(E, &b, (const char *)enc, (size_t)el);
    }
    utf8proc_category_t cat = utf8proc_category((utf8proc_int32_t)cp);
    prev_cased = cat == UTF8PROC_CATEGORY_LU || cat == UTF8PROC_CATEGORY_LL || cat == UTF8PROC_CATEGORY_LT;
    first = 0;
    i += k;
  }
  return jv_strref(b.p, b.n);
}

static const char *find_sub(const char *h, size_t hn, const char *nd, size_t nn) {
  if (nn == 0) return h;
  if (nn > hn) return NULL;
  return memmem(h, hn, nd, nn);
}

static jv py_replace(jrender *r, const jnode *n, jv s, jv old, jv nw, int64_t count) {
  need_str(r, n, old, "replace");
  nw = jv_tostr(E, nw);
  jsb b = {0};
  jsb_put(E, &b, "", 0);
  if (old.u.s.n == 0) { /* Python inserts between characters */
    jlist *cs = chars(r, s);
    for (size_t i = 0; i <= cs->n; i++) {
      if (count < 0 || (int64_t)i < count) jsb_put(E, &b, nw.u.s.s, nw.u.s.n);
      if (i < cs->n) jsb_put(E, &b, cs->v[i].u.s.s, cs->v[i].u.s.n);
    }
    return jv_strref(b.p, b.n);
  }
  size_t i = 0;
  int64_t done = 0;
  while (i <= s.u.s.n) {
    const char *hit = (count < 0 || done < count) ? find_sub(s.u.s.s + i, s.u.s.n - i, old.u.s.s, old.u.s.n) : NULL;
    if (!hit) {
      jsb_put(E, &b, s.u.s.s + i, s.u.s.n - i);
      break;
    }
    jsb_put(E, &b, s.u.s.s + i, (size_t)(hit - (s.u.s.s + i)));
    jsb_put(E, &b, nw.u.s.s, nw.u.s.n);
    i = (size_t)(hit - s.u.s.s) + old.u.s.n;
    done++;
  }
  return jv_strref(b.p, b.n);
}

static jv py_split(jrender *r, const jnode *n, jv s, jv *sep, int64_t maxsplit) {
  jv out = jv_newlist(E, 0);
  const char *p = s.u.s.s;
  size_t len = s.u.s.n;
  if (!sep || sep->t == JV_NONE) { /* whitespace runs, no empty strings */
    size_t i = 0;
    int64_t splits = 0;
    for (;;) {
      size_t k;
      while (i < len && is_space_cp(cp_at(p, len, i, &k))) i += k;
      if (i >= len) break;
      if (maxsplit >= 0 && splits >= maxsplit) {
        size_t e = len;
        while (e > i) {
          size_t j = prev_cp(p, e);
          if (!is_space_cp(cp_at(p, len, j, &k))) break;
          e = j;
        }
        jlist_push(E, out.u.l, jv_strref(p + i, e - i));
        break;
      }
      size_t b = i;
      while (i < len && !is_space_cp(cp_at(p, len, i, &k))) i += k;
      jlist_push(E, out.u.l, jv_strref(p + b, i - b));
      splits++;
    }
    return out;
  }
  jv sp = need_str(r, n, *sep, "split");
  if (sp.u.s.n == 0) JFAIL(r, n, "split: empty separator");
  size_t i = 0;
  int64_t splits = 0;
  for (;;) {
    const char *hit = (maxsplit < 0 || splits < maxsplit) ? find_sub(p + i, len - i, sp.u.s.s, sp.u.s.n) : NULL;
    if (!hit) {
      jlist_push(E, out.u.l, jv_strref(p + i, len - i));
      return out;
    }
    jlist_push(E, out.u.l, jv_strref(p + i, (size_t)(hit - (p + i))));
    i = (size_t)(hit - p) + sp.u.s.n;
    splits++;
  }
}

static int affix(jrender *r, const jnode *n, jv s, jv x, int end) {
  if (x.t == JV_LIST) {
    for (size_t i = 0; i < x.u.l->n; i++)
      if (affix(r, n, s, x.u.l->v[i], end)) return 1;
    return 0;
  }
  need_str(r, n, x, end ? "endswith" : "startswith");
  if (x.u.s.n > s.u.s.n) return 0;
  return memcmp(s.u.s.s + (end ? s.u.s.n - x.u.s.n : 0), x.u.s.s, x.u.s.n) == 0;
}

static int64_t py_count(jv s, jv x) {
  if (x.u.s.n == 0) return (int64_t)jutf8_len(s.u.s.s, s.u.s.n) + 1;
  int64_t c = 0;
  size_t i = 0;
  const char *h;
  while ((h = find_sub(s.u.s.s + i, s.u.s.n - i, x.u.s.s, x.u.s.n))) {
    c++;
    i = (size_t)(h - s.u.s.s) + x.u.s.n;
  }
  return c;
}

static jv join_values(jrender *r, jlist *l, jv sep, const char *attr) {
  jsb b = {0};
  jsb_put(E, &b, "", 0);
  for (size_t i = 0; i < l->n; i++) {
    if (i) jsb_put(E, &b, sep.u.s.s, sep.u.s.n);
    jv v = l->v[i];
    if (attr) v = v.t == JV_DICT ? (jdict_get(v.u.d, attr, strlen(attr)) ? *jdict_get(v.u.d, attr, strlen(attr)) : jv_undef()) : jv_undef();
    jv_str_into(E, &b, v);
  }
  return jv_strref(b.p, b.n);
}

static jv string_method(jrender *r, const jnode *n, jv s, const char *m, jv *a, size_t na,
                        const char **kwn, jv *kwv, size_t nkw) {
  jv *a0 = jarg(a, na, kwn, kwv, nkw, 0, NULL), *a1 = jarg(a, na, kwn, kwv, nkw, 1, NULL);
  if (!strcmp(m, "strip")) return py_strip(s, a0, 1, 1);
  if (!strcmp(m, "lstrip")) return py_strip(s, a0, 1, 0);
  if (!strcmp(m, "rstrip")) return py_strip(s, a0, 0, 1);
  if (!strcmp(m, "upper")) return map_case(r, s, 1);
  if (!strcmp(m, "lower")) return map_case(r, s, 0);
  if (!strcmp(m, "title")) return map_case(r, s, 2);
  if (!strcmp(m, "capitalize")) return map_case(r, map_case(r, s, 0), 3);
  if (!strcmp(m, "split")) {
    jv *ms = jarg(a, na, kwn, kwv, nkw, 1, "maxsplit");
    return py_split(r, n, s, jarg(a, na, kwn, kwv, nkw, 0, "sep"), ms ? need_int(r, n, *ms, "maxsplit") : -1);
  }
  if (!strcmp(m, "startswith") || !strcmp(m, "endswith")) {
    if (!a0) JFAIL(r, n, "%s() needs an argument", m);
    return jv_bool(affix(r, n, s, *a0, m[0] == 'e'));
  }
  if (!strcmp(m, "replace")) {
    if (!a0 || !a1) JFAIL(r, n, "replace() needs two arguments");
    jv *c = jarg(a, na, kwn, kwv, nkw, 2, "count");
    return py_replace(r, n, s, *a0, *a1, c ? need_int(r, n, *c, "count") : -1);
  }
  if (!strcmp(m, "find") || !strcmp(m, "rfind") || !strcmp(m, "index") || !strcmp(m, "count")) {
    if (!a0) JFAIL(r, n, "%s() needs an argument", m);
    jv x = need_str(r, n, *a0, m);
    if (!strcmp(m, "count")) return jv_int(py_count(s, x));
    const char *h = NULL;
    if (m[0] == 'r') {
      for (size_t i = s.u.s.n + 1; i-- > 0;)
        if (i + x.u.s.n <= s.u.s.n && memcmp(s.u.s.s + i, x.u.s.s, x.u.s.n) == 0) {
          h = s.u.s.s + i;
          break;
        }
    } else {
      h = find_sub(s.u.s.s, s.u.s.n, x.u.s.s, x.u.s.n);
    }
    if (!h && m[0] == 'i') JFAIL(r, n, "index(): substring not found");
    return jv_int(h ? (int64_t)jutf8_len(s.u.s.s, (size_t)(h - s.u.s.s)) : -1);
  }
  if (!strcmp(m, "join")) {
    if (!a0) JFAIL(r, n, "join() needs an argument");
    return join_values(r, jiterate(r, n, *a0), s, NULL);
  }
  if (!strcmp(m, "splitlines")) {
    jv out = jv_newlist(E, 0);
    size_t i = 0;
    while (i < s.u.s.n) {
      const char *nl = memchr(s.u.s.s + i, '\n', s.u.s.n - i);
      size_t e = nl ? (size_t)(nl - s.u.s.s) : s.u.s.n;
      size_t ce = e > i && s.u.s.s[e - 1] == '\r' ? e - 1 : e;
      jlist_push(E, out.u.l, jv_strref(s.u.s.s + i, ce - i));
      i = nl ? e + 1 : e;
    }
    return out;
  }
  if (!strcmp(m, "isdigit") || !strcmp(m, "isalpha") || !strcmp(m, "isspace") || !strcmp(m, "isalnum") ||
      !strcmp(m, "islower") || !strcmp(m, "isupper")) {
    if (!s.u.s.n) return jv_bool(0);
    int ok = 1, cased = 0;
    for (size_t i = 0; i < s.u.s.n;) {
      size_t k;
      uint32_t cp = cp_at(s.u.s.s, s.u.s.n, i, &k);
      utf8proc_category_t c = utf8proc_category((utf8proc_int32_t)cp);
      int alpha = c >= UTF8PROC_CATEGORY_LU && c <= UTF8PROC_CATEGORY_LO;
      int digit = c == UTF8PROC_CATEGORY_ND;
      if (m[2] == 'd') ok &= digit;
      else if (m[2] == 'a' && m[3] == 'l' && m[4] == 'p') ok &= alpha;
      else if (m[2] == 'a') ok &= alpha || digit;
      else if (m[2] == 's') ok &= is_space_cp(cp);
      else if (m[2] == 'l') ok &= c != UTF8PROC_CATEGORY_LU && c != UTF8PROC_CATEGORY_LT, cased |= c == UTF8PROC_CATEGORY_LL;
      else ok &= c != UTF8PROC_CATEGORY_LL && c != UTF8PROC_CATEGORY_LT, cased |= c == UTF8PROC_CATEGORY_LU;
      i += k;
    }
    return jv_bool(ok && (m[2] == 'l' || m[2] == 'u' ? cased : 1));
  }
  if (!strcmp(m, "format")) JFAIL(r, n, "str.format() is not supported; use '~' or '+'");
  JFAIL(r, n, "unknown string method '%s'", m);
}

static jv items_of(jrender *r, jdict *d) {
  jv out = jv_newlist(E, d->n);
  for (size_t i = 0; i < d->n; i++) {
    jv p = jv_newlist(E, 2);
    p.tuple = 1;
    jlist_push(E, p.u.l, jv_strref(d->k[i], d->klen[i]));
    jlist_push(E, p.u.l, d->v[i]);
    jlist_push(E, out.u.l, p);
  }
  return out;
}

jv jmethod(jrender *r, const jnode *n, jv obj, const char *m, jv *a, size_t na, const char **kwn,
           jv *kwv, size_t nkw) {
  if (obj.t == JV_STR) return string_method(r, n, obj, m, a, na, kwn, kwv, nkw);
  if (obj.t == JV_DICT && !obj.u.d->ns) {
    jdict *d = obj.u.d;
    if (!strcmp(m, "get")) {
      jv *k = jarg(a, na, kwn, kwv, nkw, 0, NULL), *def = jarg(a, na, kwn, kwv, nkw, 1, NULL);
      if (!k) JFAIL(r, n, "get() needs a key");
      jv *v = k->t == JV_STR ? jdict_get(d, k->u.s.s, k->u.s.n) : NULL;
      return v ? *v : def ? *def : jv_none();
    }
    if (!strcmp(m, "items")) return items_of(r, d);
    if (!strcmp(m, "keys") || !strcmp(m, "values")) {
      jv out = jv_newlist(E, d->n);
      for (size_t i = 0; i < d->n; i++)
        jlist_push(E, out.u.l, m[0] == 'k' ? jv_strref(d->k[i], d->klen[i]) : d->v[i]);
      return out;
    }
  }
  if (obj.t == JV_LIST && (!strcmp(m, "index") || !strcmp(m, "count"))) {
    jv *x = jarg(a, na, kwn, kwv, nkw, 0, NULL);
    if (!x) JFAIL(r, n, "%s() needs an argument", m);
    int64_t c = 0;
    for (size_t i = 0; i < obj.u.l->n; i++)
      if (jv_equal(obj.u.l->v[i], *x)) {
        if (m[0] == 'i') return jv_int((int64_t)i);
        c++;
      }
    if (m[0] == 'i') JFAIL(r, n, "index(): value not in list");
    return jv_int(c);
  }
  if (obj.t == JV_LIST && (!strcmp(m, "append") || !strcmp(m, "pop") || !strcmp(m, "extend")))
    JFAIL(r, n, "list.%s() changes a list, which transformers' sandbox forbids", m);
  JFAIL(r, n, "%s has no method '%s'", jv_typename(obj), m);
}

/* ---- tests ---- */
static int is_numeric(jv v) { return v.t == JV_INT || v.t == JV_FLOAT || v.t == JV_BOOL; }

int jtest(jrender *r, const jnode *n, const char *t, jv x, jv *a, size_t na) {
  jv arg = na ? a[0] : jv_undef();
  if (!strcmp(t, "defined")) return x.t != JV_UNDEF;
  if (!strcmp(t, "undefined")) return x.t == JV_UNDEF;
  if (!strcmp(t, "none")) return x.t == JV_NONE;
  if (!strcmp(t, "boolean")) return x.t == JV_BOOL;
  if (!strcmp(t, "true")) return x.t == JV_BOOL && x.u.b;
  if (!strcmp(t, "false")) return x.t == JV_BOOL && !x.u.b;
  if (!strcmp(t, "integer")) return x.t == JV_INT;
  if (!strcmp(t, "float")) return x.t == JV_FLOAT;
  if (!strcmp(t, "number")) return is_numeric(x);
  if (!strcmp(t, "string")) return x.t == JV_STR;
  if (!strcmp(t, "mapping")) return x.t == JV_DICT;
  if (!strcmp(t, "sequence")) return x.t == JV_STR || x.t == JV_LIST || x.t == JV_DICT;
  if (!strcmp(t, "iterable")) return x.t == JV_STR || x.t == JV_LIST || x.t == JV_DICT;
  if (!strcmp(t, "callable")) return x.t == JV_MACRO || x.t == JV_FUNC;
  if (!strcmp(t, "sameas")) return x.t == arg.t && jv_equal(x, arg);
  if (!strcmp(t, "eq") || !strcmp(t, "equalto") || !strcmp(t, "==")) return jv_equal(x, arg);
  if (!strcmp(t, "ne") || !strcmp(t, "!=")) return !jv_equal(x, arg);
  if (!strcmp(t, "in")) {
    if (arg.t == JV_STR && x.t == JV_STR) return find_sub(arg.u.s.s, arg.u.s.n, x.u.s.s, x.u.s.n) != NULL;
    jlist *l = jiterate(r, n, arg);
    for (size_t i = 0; i < l->n; i++)
      if (jv_equal(l->v[i], x)) return 1;
    return 0;
  }
  if (!strcmp(t, "odd") || !strcmp(t, "even")) {
    int64_t v = need_int(r, n, x, t);
    return ((v % 2) != 0) == (t[0] == 'o');
  }
  if (!strcmp(t, "divisibleby")) {
    int64_t d = need_int(r, n, arg, "divisibleby");
    if (!d) JFAIL(r, n, "divisibleby(0)");
    if (d == -1) return 1; /* INT64_MIN % -1 would trap */
    return need_int(r, n, x, "divisibleby") % d == 0;
  }
  if (!strcmp(t, "lower") || !strcmp(t, "upper")) {
    if (x.t != JV_STR) return 0;
    jv s = map_case(r, x, t[0] == 'u');
    return s.u.s.n == x.u.s.n && memcmp(s.u.s.s, x.u.s.s, s.u.s.n) == 0;
  }
  if (!strcmp(t, "lt") || !strcmp(t, "gt") || !strcmp(t, "le") || !strcmp(t, "ge")) {
    if (!is_numeric(x) || !is_numeric(arg)) JFAIL(r, n, "test '%s' needs numbers", t);
    double p = x.t == JV_FLOAT ? x.u.f : x.t == JV_INT ? (double)x.u.i : x.u.b;
    double q = arg.t == JV_FLOAT ? arg.u.f : arg.t == JV_INT ? (double)arg.u.i : arg.u.b;
    return t[0] == 'l' ? (t[1] == 't' ? p < q : p <= q) : (t[1] == 't' ? p > q : p >= q);
  }
  if (!strcmp(t, "escaped")) return 0;
  JFAIL(r, n, "unknown test '%s'", t);
}

/* ---- filters ---- */
static jv attr_of(jrender *r, const jnode *n, jv v, const char *attr) {
  /* "a.b" walks nested attributes; a number is an index */
  const char *p = attr;
  while (*p) {
    const char *dot = strchr(p, '.');
    size_t k = dot ? (size_t)(dot - p) : strlen(p);
    char *end;
    long idx = strtol(p, &end, 10);
    if (end == p + k && k > 0 && v.t == JV_LIST) v = jgetitem(r, n, v, jv_int(idx));
    else if (v.t == JV_UNDEF) return v;
    else v = jgetattr(r, n, v, p, k);
    p += k + (dot ? 1 : 0);
  }
  return v;
}

static jv html_escape(jrender *r, jv s) {
  jsb b = {0};
  jsb_put(E, &b, "", 0);
  for (size_t i = 0; i < s.u.s.n; i++) {
    char c = s.u.s.s[i];
    const char *rep = c == '&' ? "&amp;" : c == '<' ? "&lt;" : c == '>' ? "&gt;" : c == '"' ? "&#34;" : c == '\'' ? "&#39;" : NULL;
    if (rep) jsb_puts(E, &b, rep);
    else jsb_put(E, &b, &c, 1);
  }
  return jv_strref(b.p, b.n);
}

static jv do_indent(jrender *r, jv s, jv *width, int first, int blank) {
  jv ind = width && width->t == JV_STR ? *width : jv_undef();
  char sp[256];
  if (ind.t != JV_STR) {
    int64_t w = width ? (width->t == JV_INT ? width->u.i : 4) : 4;
    if (w < 0) w = 0;
    if (w > 255) w = 255;
    memset(sp, ' ', (size_t)w);
    ind = jv_str(E, sp, (size_t)w);
  }
  jsb b = {0};
  jsb_put(E, &b, "", 0);
  if (first) jsb_put(E, &b, ind.u.s.s, ind.u.s.n);
  /* Jinja appends "\n" and splits lines: a trailing newline is dropped */
  size_t i = 0, line_no = 0;
  while (i < s.u.s.n || (i == s.u.s.n && line_no == 0)) {
    const char *nl = memchr(s.u.s.s + i, '\n', s.u.s.n - i);
    size_t e = nl ? (size_t)(nl - s.u.s.s) : s.u.s.n;
    if (line_no) {
      jsb_put(E, &b, "\n", 1);
      if (blank || e > i) jsb_put(E, &b, ind.u.s.s, ind.u.s.n);
    }
    jsb_put(E, &b, s.u.s.s + i, e - i);
    line_no++;
    if (!nl) break;
    i = e + 1;
    if (i == s.u.s.n) break;
  }
  return jv_strref(b.p, b.n);
}

static jv to_list(jrender *r, const jnode *n, jv x) {
  jlist *l = jiterate(r, n, x);
  jv out = jv_newlist(E, l->n);
  for (size_t i = 0; i < l->n; i++) jlist_push(E, out.u.l, l->v[i]);
  return out;
}

static jv select_items(jrender *r, const jnode *n, jv x, jv *a, size_t na, int by_attr, int keep) {
  jlist *l = jiterate(r, n, x);
  jv out = jv_newlist(E, 0);
  size_t k = 0;
  const char *attr = NULL;
  if (by_attr) {
    if (!na || a[0].t != JV_STR) JFAIL(r, n, "%s: expected an attribute name", n->name);
    attr = jstrndup(E, a[0].u.s.s, a[0].u.s.n);
    k = 1;
  }
  const char *test = NULL;
  if (na > k) {
    if (a[k].t != JV_STR) JFAIL(r, n, "%s: expected a test name", n->name);
    test = jstrndup(E, a[k].u.s.s, a[k].u.s.n);
  }
  for (size_t i = 0; i < l->n; i++) {
    jv v = attr ? attr_of(r, n, l->v[i], attr) : l->v[i];
    int t = test ? jtest(r, n, test, v, na > k + 1 ? a + k + 1 : NULL, na > k + 1 ? na - k - 1 : 0) : jv_truthy(v);
    if (t == keep) jlist_push(E, out.u.l, l->v[i]);
  }
  return out;
}

static jv to_int(jrender *r, jv x, jv def) {
  switch (x.t) {
    case JV_INT: return x;
    case JV_BOOL: return jv_int(x.u.b);
    case JV_FLOAT: return isfinite(x.u.f) && fabs(x.u.f) < 9.2e18 ? jv_int((int64_t)x.u.f) : def;
    case JV_STR: {
      char buf[64];
      jv t = py_strip(x, NULL, 1, 1);
      if (t.u.s.n == 0 || t.u.s.n >= sizeof buf) return def;
      memcpy(buf, t.u.s.s, t.u.s.n);
      buf[t.u.s.n] = 0;
      char *end;
      long long v = strtoll(buf, &end, 10);
      if (*end == 0) return jv_int(v);
      if (strpbrk(buf, "xXpP")) return def; /* Python's float() reads no hexadecimal */
      double d = strtod(buf, &end);
      if (*end == 0 && isfinite(d) && fabs(d) < 9.2e18) return jv_int((int64_t)d);
      return def;
    }
    default: return def;
  }
}

static jv to_float(jv x, jv def) {
  switch (x.t) {
    case JV_INT: return jv_float((double)x.u.i);
    case JV_BOOL: return jv_float(x.u.b);
    case JV_FLOAT: return x;
    case JV_STR: {
      char buf[64];
      if (x.u.s.n == 0 || x.u.s.n >= sizeof buf) return def;
      memcpy(buf, x.u.s.s, x.u.s.n);
      buf[x.u.s.n] = 0;
      char *end;
      double d = strtod(buf, &end);
      while (*end == ' ' || *end == '\n' || *end == '\t') end++;
      return *end == 0 && end != buf ? jv_float(d) : def;
    }
    default: return def;
  }
}

/* Python's round(v, p): the correctly rounded decimal (printf rounds the exact binary value,
 * ties to even), as CPython does with its dtoa */
static double py_round(double v, int64_t p) {
  if (!isfinite(v)) return v;
  if (p < 0 || p > 300) {
    double scale = pow(10.0, (double)p);
    return nearbyint(v * scale) / scale;
  }
  char buf[512];
  snprintf(buf, sizeof buf, "%.*f", (int)p, v);
  return strtod(buf, NULL);
}

static jv do_round(jrender *r, const jnode *n, jv x, jv *prec, jv *method) {
  double v = x.t == JV_FLOAT ? x.u.f : x.t == JV_INT ? (double)x.u.i : x.t == JV_BOOL ? x.u.b : NAN;
  if (isnan(v) && x.t != JV_FLOAT) JFAIL(r, n, "round: expected a number, got %s", jv_typename(x));
  int64_t p = prec ? need_int(r, n, *prec, "round precision") : 0;
  double scale = pow(10.0, (double)p);
  const char *m = method && method->t == JV_STR ? method->u.s.s : "common";
  double y;
  if (!strncmp(m, "ceil", 4)) y = ceil(v * scale) / scale;
  else if (!strncmp(m, "floor", 5)) y = floor(v * scale) / scale;
  else if (!strncmp(m, "common", 6)) y = py_round(v, p); /* Python's round() */
  else JFAIL(r, n, "round: method must be common, ceil or floor");
  return jv_float(y);
}

static jv do_tojson(jrender *r, const jnode *n, jv x, jv *a, size_t na, const char **kwn, jv *kwv,
                    size_t nkw) {
  jv *ind = jarg(a, na, kwn, kwv, nkw, 0, "indent");
  jv *seps = jarg(a, na, kwn, kwv, nkw, 99, "separators");
  jv *sk = jarg(a, na, kwn, kwv, nkw, 99, "sort_keys");
  jv *ea = jarg(a, na, kwn, kwv, nkw, 99, "ensure_ascii");
  if (ea && jv_truthy(*ea)) JFAIL(r, n, "tojson(ensure_ascii=True) is not supported");
  int indent = ind && ind->t != JV_NONE ? (int)need_int(r, n, *ind, "tojson indent") : -1;
  const char *item_sep = indent >= 0 ? "," : ", ", *key_sep = ": ";
  if (seps && seps->t != JV_NONE) {
    if (seps->t != JV_LIST || seps->u.l->n != 2 || seps->u.l->v[0].t != JV_STR || seps->u.l->v[1].t != JV_STR)
      JFAIL(r, n, "tojson separators: expected (item_separator, key_separator)");
    item_sep = jstrndup(E, seps->u.l->v[0].u.s.s, seps->u.l->v[0].u.s.n);
    key_sep = jstrndup(E, seps->u.l->v[1].u.s.s, seps->u.l->v[1].u.s.n);
  }
  jsb b = {0};
  jsb_put(E, &b, "", 0);
  jv_tojson(E, &b, x, indent, item_sep, key_sep, sk && jv_truthy(*sk), 0, n->line, n->col);
  return jv_strref(b.p, b.n);
}

static int cmp_sort(jrender *r, const jnode *n, jv a, jv b, int ci) {
  if (ci && a.t == JV_STR && b.t == JV_STR) {
    a = map_case(r, a, 0);
    b = map_case(r, b, 0);
  }
  if (a.t == JV_STR && b.t == JV_STR) {
    size_t m = a.u.s.n < b.u.s.n ? a.u.s.n : b.u.s.n;
    int c = memcmp(a.u.s.s, b.u.s.s, m);
    return c ? c : (a.u.s.n > b.u.s.n) - (a.u.s.n < b.u.s.n);
  }
  if (is_numeric(a) && is_numeric(b)) {
    double x = a.t == JV_FLOAT ? a.u.f : a.t == JV_INT ? (double)a.u.i : a.u.b;
    double y = b.t == JV_FLOAT ? b.u.f : b.t == JV_INT ? (double)b.u.i : b.u.b;
    return (x > y) - (x < y);
  }
  JFAIL(r, n, "cannot sort %s with %s", jv_typename(a), jv_typename(b));
}

static jv do_sort(jrender *r, const jnode *n, jv x, int reverse, int ci, const char *attr, int dict_pairs) {
  jv l = to_list(r, n, x);
  jv *v = l.u.l->v;
  for (size_t i = 1; i < l.u.l->n; i++) /* stable insertion sort */
    for (size_t j = i; j > 0; j--) {
      jv p = v[j - 1], q = v[j];
      jv kp = dict_pairs ? p.u.l->v[0] : attr ? attr_of(r, n, p, attr) : p;
      jv kq = dict_pairs ? q.u.l->v[0] : attr ? attr_of(r, n, q, attr) : q;
      int c = cmp_sort(r, n, kp, kq, ci);
      if (reverse ? c >= 0 : c <= 0) break;
      v[j - 1] = q, v[j] = p;
    }
  return l;
}

static jv filter_str(jrender *r, const jnode *n, jv x, const char *f) {
  if (x.t == JV_UNDEF) x = jv_cstr("");
  return jv_tostr(E, x);
  (void)n, (void)f;
}

/* string filters (and tojson, default, length); 0 when f is not one of them */
static int filter_text(jrender *r, const jnode *n, const char *f, jv x, jv *a, size_t na, const char **kwn, jv *kwv, size_t nkw, jv *out) {
  jv *a0 = jarg(a, na, kwn, kwv, nkw, 0, NULL);
  (void)a0;
  if (!strcmp(f, "safe") || !strcmp(f, "string")) return *out = (filter_str(r, n, x, f)), 1;
  if (!strcmp(f, "trim")) return *out = (py_strip(filter_str(r, n, x, f), jarg(a, na, kwn, kwv, nkw, 0, "chars"), 1, 1)), 1;
  if (!strcmp(f, "upper")) return *out = (map_case(r, filter_str(r, n, x, f), 1)), 1;
  if (!strcmp(f, "lower")) return *out = (map_case(r, filter_str(r, n, x, f), 0)), 1;
  if (!strcmp(f, "title")) return *out = (map_case(r, filter_str(r, n, x, f), 2)), 1;
  if (!strcmp(f, "capitalize")) return *out = (map_case(r, map_case(r, filter_str(r, n, x, f), 0), 3)), 1;
  if (!strcmp(f, "escape") || !strcmp(f, "e")) return *out = (html_escape(r, filter_str(r, n, x, f))), 1;
  if (!strcmp(f, "length") || !strcmp(f, "count")) {
    if (x.t == JV_STR) return *out = (jv_int((int64_t)jutf8_len(x.u.s.s, x.u.s.n))), 1;
    if (x.t == JV_LIST) return *out = (jv_int((int64_t)x.u.l->n)), 1;
    if (x.t == JV_DICT) return *out = (jv_int((int64_t)x.u.d->n)), 1;
    if (x.t == JV_UNDEF) return *out = (jv_int(0)), 1;
    JFAIL(r, n, "length of %s", jv_typename(x));
  }
  if (!strcmp(f, "tojson")) return *out = (do_tojson(r, n, x, a, na, kwn, kwv, nkw)), 1;
  if (!strcmp(f, "default") || !strcmp(f, "d")) {
    jv *b = jarg(a, na, kwn, kwv, nkw, 1, "boolean");
    jv def = a0 ? *a0 : jv_cstr("");
    if (x.t == JV_UNDEF || (b && jv_truthy(*b) && !jv_truthy(x))) return *out = (def), 1;
    return *out = (x), 1;
  }
  if (!strcmp(f, "replace")) {
    jv *a1 = jarg(a, na, kwn, kwv, nkw, 1, NULL), *c = jarg(a, na, kwn, kwv, nkw, 2, "count");
    if (!a0 || !a1) JFAIL(r, n, "replace needs two arguments");
    return *out = (py_replace(r, n, filter_str(r, n, x, f), *a0, *a1, c && c->t != JV_NONE ? need_int(r, n, *c, "count") : -1)), 1;
  }
  if (!strcmp(f, "join")) {
    jv *sep = jarg(a, na, kwn, kwv, nkw, 0, "d");
    jv *at = jarg(a, na, kwn, kwv, nkw, 1, "attribute");
    return *out = (join_values(r, jiterate(r, n, x), sep ? jv_tostr(E, *sep) : jv_cstr(""),
                       at ? jv_tostr(E, *at).u.s.s : NULL)), 1;
  }
  return 0;
}

/* filters of sequences and mappings; 0 when f is not one of them */
static int filter_seq(jrender *r, const jnode *n, const char *f, jv x, jv *a, size_t na, const char **kwn, jv *kwv, size_t nkw, jv *out) {
  jv *a0 = jarg(a, na, kwn, kwv, nkw, 0, NULL);
  (void)a0;
  if (!strcmp(f, "first") || !strcmp(f, "last")) {
    jlist *l = jiterate(r, n, x);
    return *out = (l->n ? l->v[f[0] == 'f' ? 0 : l->n - 1] : jv_undef()), 1;
  }
  if (!strcmp(f, "list")) return *out = (to_list(r, n, x)), 1;
  if (!strcmp(f, "reverse")) {
    if (x.t == JV_STR) return *out = (jslice(r, n, x, jv_none(), jv_none(), jv_int(-1))), 1;
    jv l = to_list(r, n, x);
    for (size_t i = 0, j = l.u.l->n; i + 1 < j; i++, j--) {
      jv t = l.u.l->v[i];
      l.u.l->v[i] = l.u.l->v[j - 1];
      l.u.l->v[j - 1] = t;
    }
    return *out = (l), 1;
  }
  if (!strcmp(f, "items")) {
    if (x.t == JV_UNDEF) return *out = (jv_newlist(E, 0)), 1;
    if (x.t != JV_DICT) JFAIL(r, n, "items: expected a mapping, got %s", jv_typename(x));
    return *out = (items_of(r, x.u.d)), 1;
  }
  if (!strcmp(f, "dictsort")) {
    if (x.t != JV_DICT) JFAIL(r, n, "dictsort: expected a mapping, got %s", jv_typename(x));
    jv *cs = jarg(a, na, kwn, kwv, nkw, 0, "case_sensitive"), *rv = jarg(a, na, kwn, kwv, nkw, 2, "reverse");
    return *out = (do_sort(r, n, items_of(r, x.u.d), rv && jv_truthy(*rv), !(cs && jv_truthy(*cs)), NULL, 1)), 1;
  }
  if (!strcmp(f, "sort")) {
    jv *rv = jarg(a, na, kwn, kwv, nkw, 0, "reverse"), *cs = jarg(a, na, kwn, kwv, nkw, 1, "case_sensitive");
    jv *at = jarg(a, na, kwn, kwv, nkw, 2, "attribute");
    return *out = (do_sort(r, n, x, rv && jv_truthy(*rv), !(cs && jv_truthy(*cs)),
                   at && at->t == JV_STR ? jstrndup(E, at->u.s.s, at->u.s.n) : NULL, 0)), 1;
  }
  if (!strcmp(f, "unique")) {
    jlist *l = jiterate(r, n, x);
    jv *cs = jarg(a, na, kwn, kwv, nkw, 0, "case_sensitive");
    int ci = !(cs && jv_truthy(*cs));
    jv res = jv_newlist(E, 0);
    for (size_t i = 0; i < l->n; i++) {
      jv ki = ci && l->v[i].t == JV_STR ? map_case(r, l->v[i], 0) : l->v[i];
      int seen = 0;
      for (size_t j = 0; j < res.u.l->n && !seen; j++) {
        jv kj = ci && res.u.l->v[j].t == JV_STR ? map_case(r, res.u.l->v[j], 0) : res.u.l->v[j];
        seen = jv_equal(ki, kj);
      }
      if (!seen) jlist_push(E, res.u.l, l->v[i]);
    }
    return *out = (res), 1;
  }
  if (!strcmp(f, "map")) {
    jlist *l = jiterate(r, n, x);
    jv res = jv_newlist(E, l->n);
    jv *at = jarg(a, na, kwn, kwv, nkw, 99, "attribute");
    jv *def = jarg(a, na, kwn, kwv, nkw, 99, "default");
    if (at) {
      const char *an = jv_tostr(E, *at).u.s.s;
      for (size_t i = 0; i < l->n; i++) {
        jv v = attr_of(r, n, l->v[i], an);
        jlist_push(E, res.u.l, v.t == JV_UNDEF && def ? *def : v);
      }
      return *out = (res), 1;
    }
    if (!a0 || a0->t != JV_STR) JFAIL(r, n, "map: expected a filter name or attribute=");
    jnode sub = *n;
    sub.name = jstrndup(E, a0->u.s.s, a0->u.s.n);
    for (size_t i = 0; i < l->n; i++)
      jlist_push(E, res.u.l, jfilter(r, &sub, l->v[i], a + 1, na - 1, kwn, kwv, nkw));
    return *out = (res), 1;
  }
  if (!strcmp(f, "selectattr") || !strcmp(f, "rejectattr")) return *out = (select_items(r, n, x, a, na, 1, f[0] == 's')), 1;
  if (!strcmp(f, "select") || !strcmp(f, "reject")) return *out = (select_items(r, n, x, a, na, 0, f[0] == 's')), 1;
  return 0;
}

/* numeric and attribute filters; 0 when f is not one of them */
static int filter_num(jrender *r, const jnode *n, const char *f, jv x, jv *a, size_t na, const char **kwn, jv *kwv, size_t nkw, jv *out) {
  jv *a0 = jarg(a, na, kwn, kwv, nkw, 0, NULL);
  (void)a0;
  if (!strcmp(f, "attr")) return *out = (a0 ? attr_of(r, n, x, jv_tostr(E, *a0).u.s.s) : jv_undef()), 1;
  if (!strcmp(f, "int")) return *out = (to_int(r, x, a0 ? *a0 : jv_int(0))), 1;
  if (!strcmp(f, "float")) return *out = (to_float(x, a0 ? *a0 : jv_float(0.0))), 1;
  if (!strcmp(f, "abs")) {
    if (x.t == JV_INT && x.u.i == INT64_MIN) JFAIL(r, n, "abs: integer overflow (integers here are 64-bit)");
    if (x.t == JV_INT) return *out = (jv_int(x.u.i < 0 ? -x.u.i : x.u.i)), 1;
    if (x.t == JV_BOOL) return *out = (jv_int(x.u.b)), 1;
    if (x.t == JV_FLOAT) return *out = (jv_float(fabs(x.u.f))), 1;
    JFAIL(r, n, "abs: expected a number, got %s", jv_typename(x));
  }
  if (!strcmp(f, "round"))
    return *out = (do_round(r, n, x, jarg(a, na, kwn, kwv, nkw, 0, "precision"), jarg(a, na, kwn, kwv, nkw, 1, "method"))), 1;
  if (!strcmp(f, "indent")) {
    jv *fi = jarg(a, na, kwn, kwv, nkw, 1, "first"), *bl = jarg(a, na, kwn, kwv, nkw, 2, "blank");
    return *out = (do_indent(r, filter_str(r, n, x, f), jarg(a, na, kwn, kwv, nkw, 0, "width"), fi && jv_truthy(*fi),
                     bl && jv_truthy(*bl))), 1;
  }
  if (!strcmp(f, "sum")) {
    jlist *l = jiterate(r, n, x);
    jv *at = jarg(a, na, kwn, kwv, nkw, 0, "attribute"), *st = jarg(a, na, kwn, kwv, nkw, 1, "start");
    jv acc = st ? *st : jv_int(0);
    for (size_t i = 0; i < l->n; i++) {
      jv v = at ? attr_of(r, n, l->v[i], jv_tostr(E, *at).u.s.s) : l->v[i];
      if (!is_numeric(v) || !is_numeric(acc)) JFAIL(r, n, "sum: expected numbers");
      if (v.t == JV_FLOAT || acc.t == JV_FLOAT)
        acc = jv_float((acc.t == JV_FLOAT ? acc.u.f : (double)(acc.t == JV_INT ? acc.u.i : acc.u.b)) +
                       (v.t == JV_FLOAT ? v.u.f : (double)(v.t == JV_INT ? v.u.i : v.u.b)));
      else {
        int64_t z;
        if (__builtin_add_overflow(acc.t == JV_INT ? acc.u.i : acc.u.b, v.t == JV_INT ? v.u.i : v.u.b, &z))
          JFAIL(r, n, "sum: integer overflow (integers here are 64-bit)");
        acc = jv_int(z);
      }
    }
    return *out = (acc), 1;
  }
  if (!strcmp(f, "wordcount")) return *out = (jv_int((int64_t)py_split(r, n, filter_str(r, n, x, f), NULL, -1).u.l->n)), 1;
  return 0;
}

jv jfilter(jrender *r, const jnode *n, jv x, jv *a, size_t na, const char **kwn, jv *kwv, size_t nkw) {
  jv out;
  if (filter_text(r, n, n->name, x, a, na, kwn, kwv, nkw, &out) || filter_seq(r, n, n->name, x, a, na, kwn, kwv, nkw, &out) ||
      filter_num(r, n, n->name, x, a, na, kwn, kwv, nkw, &out))
    return out;
  JFAIL(r, n, "unknown filter '%s'", n->name);
}

/* ---- global functions ---- */
enum { G_RANGE = 1, G_NAMESPACE, G_DICT, G_RAISE, G_STRFTIME };

int jglobal_func(const char *name) {
  if (!strcmp(name, "range")) return G_RANGE;
  if (!strcmp(name, "namespace")) return G_NAMESPACE;
  if (!strcmp(name, "dict")) return G_DICT;
  if (!strcmp(name, "raise_exception")) return G_RAISE;
  if (!strcmp(name, "strftime_now")) return G_STRFTIME;
  return 0;
}

/* transformers' strftime_now: the current local time; LONG1K_TEMPLATE_DATE=YYYY-MM-DD fixes
 * the date (midnight) so that renders are reproducible. */
static jv strftime_now(jrender *r, const jnode *n, jv fmt) {
  need_str(r, n, fmt, "strftime_now");
  struct tm tmv;
  const char *fixed = getenv("LONG1K_TEMPLATE_DATE");
  if (fixed && *fixed) {
    int y, m, d;
    if (sscanf(fixed, "%d-%d-%d", &y, &m, &d) != 3 || m < 1 || m > 12 || d < 1 || d > 31)
      JFAIL(r, n, "LONG1K_TEMPLATE_DATE='%s': expected YYYY-MM-DD", fixed);
    memset(&tmv, 0, sizeof tmv);
    tmv.tm_year = y - 1900, tmv.tm_mon = m - 1, tmv.tm_mday = d, tmv.tm_isdst = -1;
    time_t t = mktime(&tmv);
    localtime_r(&t, &tmv);
  } else {
    time_t t = time(NULL);
    localtime_r(&t, &tmv);
  }
  char buf[512];
  char *f = jstrndup(E, fmt.u.s.s, fmt.u.s.n);
  size_t k = strftime(buf, sizeof buf, f, &tmv);
  if (k == 0 && *f) JFAIL(r, n, "strftime_now: format too long");
  return jv_str(E, buf, k);
}

jv jcall_global(jrender *r, const jnode *n, int fn, jv *a, size_t na, const char **kwn, jv *kwv,
                size_t nkw) {
  switch (fn) {
    case G_RANGE: {
      if (na < 1 || na > 3) JFAIL(r, n, "range() takes 1 to 3 arguments");
      int64_t lo = 0, hi, st = 1;
      if (na == 1) hi = need_int(r, n, a[0], "range");
      else lo = need_int(r, n, a[0], "range"), hi = need_int(r, n, a[1], "range");
      if (na == 3) st = need_int(r, n, a[2], "range");
      if (st == 0) JFAIL(r, n, "range() step must not be zero");
      /* exact count in unsigned arithmetic (no overflow for any int64 bounds) */
      uint64_t span = st > 0 ? (hi > lo ? (uint64_t)hi - (uint64_t)lo : 0) : (lo > hi ? (uint64_t)lo - (uint64_t)hi : 0);
      uint64_t step = st > 0 ? (uint64_t)st : (uint64_t)0 - (uint64_t)st;
      uint64_t cnt = span ? (span - 1) / step + 1 : 0;
      if (cnt > 1000000) JFAIL(r, n, "range() of more than 1000000 items");
      jv out = jv_newlist(E, (size_t)cnt);
      for (uint64_t k = 0; k < cnt; k++) jlist_push(E, out.u.l, jv_int((int64_t)((uint64_t)lo + k * (uint64_t)st)));
      return out;
    }
    case G_NAMESPACE:
    case G_DICT: {
      jv d = jv_newdict(E);
      d.u.d->ns = fn == G_NAMESPACE;
      for (size_t i = 0; i < na; i++) {
        if (a[i].t != JV_DICT) JFAIL(r, n, "%s(): positional arguments must be mappings", fn == G_DICT ? "dict" : "namespace");
        for (size_t k = 0; k < a[i].u.d->n; k++)
          jdict_set(E, d.u.d, a[i].u.d->k[k], a[i].u.d->klen[k], a[i].u.d->v[k]);
      }
      for (size_t i = 0; i < nkw; i++) jdict_set(E, d.u.d, kwn[i], strlen(kwn[i]), kwv[i]);
      return d;
    }
    case G_RAISE: {
      jv msg = na ? jv_tostr(E, a[0]) : jv_cstr("");
      JFAIL(r, n, "raise_exception: %.*s", (int)(msg.u.s.n > 400 ? 400 : msg.u.s.n), msg.u.s.s);
    }
    case G_STRFTIME:
      if (na != 1) JFAIL(r, n, "strftime_now() takes one argument");
      return strftime_now(r, n, a[0]);
    default: JFAIL(r, n, "internal: unknown function");
  }
}
