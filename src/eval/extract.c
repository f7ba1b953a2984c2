/* long1k grader — answer extraction from long reasoning responses (include/long1k/grade.h).
 *
 * Order: the final part of the response (after </think>); <answer> tags; the last \boxed{} /
 * \fbox{} (with the boxed answers just before it when only a short connector such as ", ",
 * "and", "\quad\text{and}\quad" separates them: composite answers); "final answer is ...";
 * "answer is ..." / "Answer: ..." (also French, Spanish, German, Chinese, Arabic forms); the
 * last math segment ($...$, \[...\], \(...\)); the last number. Every scan is linear. */
#define _GNU_SOURCE
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "eval/grade_internal.h"
#include "eval/mathexpr.h"
#include "long1k/grade.h"

typedef struct {
  size_t s, e;   /* whole span (\boxed{...}) */
  size_t cs, ce; /* content */
} span;

#define MAX_SPANS 512

/* ASCII lowercase (bytes >= 0x80 unchanged: UTF-8 phrases compare exactly) */
static inline unsigned char lower(unsigned char c) { return (c >= 'A' && c <= 'Z') ? (unsigned char)(c + 32) : c; }

/* case-insensitive search for the last occurrence of pat in [a, b) */
static long rfind_ci(const char *s, size_t a, size_t b, const char *pat) {
  size_t m = strlen(pat);
  if (b < a + m || m == 0) return -1;
  unsigned char f = lower((unsigned char)pat[0]);
  for (size_t i = b - m + 1; i-- > a;) {
    if (lower((unsigned char)s[i]) != f) continue;
    size_t k = 1;
    while (k < m && lower((unsigned char)s[i + k]) == lower((unsigned char)pat[k])) k++;
    if (k == m) return (long)i;
  }
  return -1;
}
static long rfind(const char *s, size_t a, size_t b, const char *pat) {
  size_t m = strlen(pat);
  if (b < a + m || m == 0) return -1;
  const char *base = s + a;
  size_t len = b - a - m + 1; /* candidate starts */
  while (len > 0) {
    const char *p = memrchr(base, pat[0], len);
    if (!p) return -1;
    if (memcmp(p, pat, m) == 0) return (long)(p - s);
    len = (size_t)(p - base);
  }
  return -1;
}
static long find(const char *s, size_t a, size_t b, const char *pat) {
  size_t m = strlen(pat);
  if (b < a + m) return -1;
  const char *p = memmem(s + a, b - a, pat, m);
  return p ? (long)(p - s) : -1;
}

void l1k_grade_final_part(const char *s, size_t n, size_t *start, size_t *end) {
  *start = 0;
  *end = n;
  static const char *const marks[] = {"</think>", "<|end_of_thought|>"};
  for (int k = 0; k < 2; k++) {
    long i = rfind(s, 0, n, marks[k]);
    if (i >= 0) {
      size_t a = (size_t)i + strlen(marks[k]);
      size_t j = a;
      while (j < n && isspace((unsigned char)s[j])) j++;
      if (j < n) *start = a;
    }
  }
  long b = rfind(s, *start, n, "<|begin_of_solution|>");
  if (b >= 0) {
    *start = (size_t)b + strlen("<|begin_of_solution|>");
    long e = find(s, *start, n, "<|end_of_solution|>");
    if (e >= 0) *end = (size_t)e;
  }
}

static char *dup_range(const char *s, size_t a, size_t b) {
  while (a < b && isspace((unsigned char)s[a])) a++;
  while (b > a && isspace((unsigned char)s[b - 1])) b--;
  char *r = malloc(b - a + 1);
  if (!r) return NULL;
  memcpy(r, s + a, b - a);
  r[b - a] = 0;
  return r;
}

/* all \boxed{...} / \fbox{...} / \boxed 5 in [a, b) */
static int find_boxed(const char *s, size_t a, size_t b, span *out, int max) {
  int n = 0;
  for (size_t i = a; i + 5 < b && n < max; i++) {
    if (s[i] != '\\') continue;
    size_t j = i;
    while (j < b && s[j] == '\\') j++;
    if (j + 5 <= b && memcmp(s + j, "boxed", 5) == 0) j += 5;
    else if (j + 4 <= b && memcmp(s + j, "fbox", 4) == 0) j += 4;
    else {
      i = j - 1;
      continue;
    }
    if (j < b && isalpha((unsigned char)s[j])) {
      i = j;
      continue;
    }
    size_t k = j;
    while (k < b && (s[k] == ' ' || s[k] == '\t')) k++;
    if (k < b && s[k] == '{') {
      int d = 0;
      size_t e = k;
      for (; e < b; e++) {
        if (s[e] == '\\' && e + 1 < b && (s[e + 1] == '{' || s[e + 1] == '}')) {
          e++;
          continue;
        }
        if (s[e] == '{') d++;
        else if (s[e] == '}' && --d == 0) break;
      }
      if (e >= b) { /* unbalanced: take the rest (truncated responses) */
        out[n++] = (span){i, b, k + 1, b};
        break;
      }
      out[n++] = (span){i, e + 1, k + 1, e};
      i = e;
    } else if (k > j && k < b) { /* \boxed 5 */
      size_t e = k;
      while (e < b && !isspace((unsigned char)s[e]) && s[e] != '$' && s[e] != '.' && s[e] != ',') e++;
      if (e > k) out[n++] = (span){i, e, k, e};
      i = e > i ? e - 1 : i;
    }
  }
  return n;
}

/* A short connector between two answers: ", ", " and ", "\quad \text{and} \quad",
 * "\) and \(", "papers and": at most 3 words, no sentence end, no blank line. */
static int is_connector(const char *s, size_t a, size_t b) {
  if (b < a) return 0;
  if (b - a > 60) return 0;
  int words = 0, connectors = 0;
  for (size_t i = a; i < b;) {
    char c = s[i];
    if (c == '\n' && i + 1 < b && s[i + 1] == '\n') return 0;
    if ((c == '.' || c == '?' || c == '!') && (i + 1 >= b || isspace((unsigned char)s[i + 1]))) {
      /* a period right after the box ("\boxed{1}.") is fine only at the end */
      return 0;
    }
    if (c == '\\') {
      size_t j = i + 1;
      while (j < b && isalpha((unsigned char)s[j])) j++;
      if (j == i + 1) j++;
      i = j;
      continue;
    }
    if (isalpha((unsigned char)c)) {
      size_t j = i;
      while (j < b && isalpha((unsigned char)s[j])) j++;
      if (j - i >= 2) {
        words++;
        size_t l = j - i;
        const char *w = s + i;
        if ((l == 3 && !strncasecmp(w, "and", 3)) || (l == 2 && !strncasecmp(w, "or", 2)) ||
            (l == 3 && !strncasecmp(w, "und", 3)) || (l == 2 && !strncasecmp(w, "et", 2)))
          connectors++;
      }
      i = j;
      continue;
    }
    if ((unsigned char)c >= 0x80) { /* CJK: 和 与 及 are connectors */
      size_t j = i + 1;
      while (j < b && ((unsigned char)s[j] & 0xc0) == 0x80) j++;
      words++;
      if (j - i == 3 && (!memcmp(s + i, "\xe5\x92\x8c", 3) || !memcmp(s + i, "\xe4\xb8\x8e", 3) ||
                         !memcmp(s + i, "\xe5\x8f\x8a", 3) || !memcmp(s + i, "\xef\xbc\x8c", 3) ||
                         !memcmp(s + i, "\xe3\x80\x81", 3))) {
        connectors++;
        words--;
      }
      i = j;
      continue;
    }
    i++;
  }
  /* only punctuation (", ", "; ", "\quad"), or a connector word among at most 3 words */
  return words == 0 || (connectors > 0 && words <= 3);
}

/* joins spans [first..last] contents with ", ", dropping repeats */
static char *join_spans(const char *s, const span *sp, int first, int last) {
  size_t cap = 1;
  for (int k = first; k <= last; k++) cap += sp[k].ce - sp[k].cs + 2;
  char *r = malloc(cap);
  if (!r) return NULL;
  size_t len = 0;
  for (int k = first; k <= last; k++) {
    size_t a = sp[k].cs, b = sp[k].ce;
    while (a < b && isspace((unsigned char)s[a])) a++;
    while (b > a && isspace((unsigned char)s[b - 1])) b--;
    int dup = 0;
    for (int j = first; j < k && !dup; j++) {
      size_t c = sp[j].cs, d = sp[j].ce;
      while (c < d && isspace((unsigned char)s[c])) c++;
      while (d > c && isspace((unsigned char)s[d - 1])) d--;
      dup = (d - c == b - a) && memcmp(s + a, s + c, b - a) == 0;
    }
    if (dup || a == b) continue;
    if (len) {
      memcpy(r + len, ", ", 2);
      len += 2;
    }
    memcpy(r + len, s + a, b - a);
    len += b - a;
  }
  r[len] = 0;
  if (!len) {
    free(r);
    return NULL;
  }
  return r;
}

static char *group_last(const char *s, const span *sp, int n) {
  int first = n - 1;
  while (first > 0 && is_connector(s, sp[first - 1].e, sp[first].s)) first--;
  return join_spans(s, sp, first, n - 1);
}

/* math segments: $$...$$, $...$, \[...\], \(...\) */
static int find_math(const char *s, size_t a, size_t b, span *out, int max) {
  int n = 0;
  int no_close[2] = {0, 0}; /* no "\]" / "\)" after here: later openers cannot close either */
  for (size_t i = a; i < b && n < max; i++) {
    if (s[i] == '$') {
      int dbl = i + 1 < b && s[i + 1] == '$';
      if (i > a && s[i - 1] == '\\') continue; /* \$ */
      size_t cs = i + (dbl ? 2 : 1), j = cs;
      while (j < b) {
        if (s[j] == '\\' && j + 1 < b) {
          j += 2;
          continue;
        }
        if (s[j] == '$') break;
        j++;
      }
      if (j >= b) break;
      size_t e = j + ((dbl && j + 1 < b && s[j + 1] == '$') ? 2 : 1);
      if (j > cs) out[n++] = (span){i, e, cs, j};
      i = e - 1;
    } else if (s[i] == '\\' && i + 1 < b && (s[i + 1] == '[' || s[i + 1] == '(')) {
      int kind = s[i + 1] == '[' ? 0 : 1;
      if (no_close[kind]) continue;
      const char *close = kind == 0 ? "\\]" : "\\)";
      long j = find(s, i + 2, b, close);
      if (j < 0) {
        no_close[kind] = 1;
        continue;
      }
      if ((size_t)j > i + 2) out[n++] = (span){i, (size_t)j + 2, i + 2, (size_t)j};
      i = (size_t)j + 1;
    }
  }
  return n;
}

/* A number in prose that is part of a word is not an answer: "covid19", "x2", "3x3" (a
 * letter right before the digits, or a letter and a digit right after them). */
static int inside_word(const char *s, size_t a, size_t b, size_t st, size_t e) {
  if (st > a && isalpha((unsigned char)s[st - 1])) return 1;
  return e + 1 < b && isalpha((unsigned char)s[e]) && isdigit((unsigned char)s[e + 1]);
}

/* digits [i, j) then ",dd" (not a group of 3 after at most 3 digits: that is a thousands
 * separator) and no further ",d": a decimal comma ("2,74 $", "12,75 Euro"). Returns the end. */
static size_t decimal_comma_end(const char *s, size_t i, size_t j, size_t b) {
  if (j + 2 >= b || s[j] != ',' || !isdigit((unsigned char)s[j + 1])) return 0;
  size_t k = j + 1;
  while (k < b && isdigit((unsigned char)s[k])) k++;
  size_t fl = k - j - 1, il = j - i;
  if (fl < 2 || (fl == 3 && il <= 3)) return 0;
  if (k + 1 < b && (s[k] == ',' || s[k] == '.') && isdigit((unsigned char)s[k + 1])) return 0;
  return k;
}

/* "1.234,5" / "12.345.678,9" / "1 234,5": dot (or space) thousands groups then a decimal
 * comma. Returns the end. */
static size_t dot_thousands_end(const char *s, size_t i, size_t j, size_t b) {
  if (j - i > 3 || j - i == 0) return 0;
  size_t k = j;
  int groups = 0;
  char sep = s[j] == ' ' ? ' ' : '.';
  while (k + 3 < b && s[k] == sep && isdigit((unsigned char)s[k + 1]) && isdigit((unsigned char)s[k + 2]) &&
         isdigit((unsigned char)s[k + 3]) && !(k + 4 < b && isdigit((unsigned char)s[k + 4]))) {
    k += 4;
    groups++;
  }
  if (!groups || k + 1 >= b || s[k] != ',' || !isdigit((unsigned char)s[k + 1])) return 0;
  k++;
  while (k < b && isdigit((unsigned char)s[k])) k++;
  return k;
}

/* the number [st, e) with dots dropped and the comma made a decimal point */
static char *european_number(const char *s, size_t st, size_t e) {
  char *r = malloc(e - st + 1);
  if (!r) return NULL;
  size_t n = 0;
  for (size_t i = st; i < e; i++)
    if (s[i] != '.' && s[i] != ' ') r[n++] = s[i] == ',' ? '.' : s[i];
  r[n] = 0;
  return r;
}

/* the last number in [a, b): -1,234.5, 3/4, .5, 2,74 (decimal comma), 1.234,5 */
static char *last_number(const char *s, size_t a, size_t b) {
  long best_s = -1, best_e = -1;
  int european = 0;
  for (size_t i = a; i < b;) {
    if (isdigit((unsigned char)s[i]) || (s[i] == '.' && i + 1 < b && isdigit((unsigned char)s[i + 1]))) {
      size_t st = i;
      if (st > a && s[st - 1] == '-') st--;
      size_t j = i;
      while (j < b && isdigit((unsigned char)s[j])) j++;
      size_t eu = (i == st || s[st] == '-') ? dot_thousands_end(s, i, j, b) : 0;
      int in_list = st >= a + 2 && s[st - 1] == ',' && isdigit((unsigned char)s[st - 2]); /* 3,12,45 */
      if (!eu && !in_list) eu = decimal_comma_end(s, i, j, b);
      if (eu) {
        if (!inside_word(s, a, b, st, eu)) {
          best_s = (long)st;
          best_e = (long)eu;
          european = 1;
        }
        i = eu;
        continue;
      }
      for (;;) {
        if (j + 3 < b + 0 && s[j] == ',' && isdigit((unsigned char)s[j + 1]) && isdigit((unsigned char)s[j + 2]) &&
            isdigit((unsigned char)s[j + 3]) && !(j + 4 < b && isdigit((unsigned char)s[j + 4]))) {
          j += 4;
          continue;
        }
        break;
      }
      if (j + 1 < b && s[j] == '.' && isdigit((unsigned char)s[j + 1])) {
        j++;
        while (j < b && isdigit((unsigned char)s[j])) j++;
      }
      if (j + 1 < b && s[j] == '/' && isdigit((unsigned char)s[j + 1])) {
        j++;
        while (j < b && isdigit((unsigned char)s[j])) j++;
      }
      if (!inside_word(s, a, b, st, j)) {
        best_s = (long)st;
        best_e = (long)j;
        european = 0;
      }
      i = j;
      continue;
    }
    i++;
  }
  if (best_s < 0) return NULL;
  if (european) return european_number(s, (size_t)best_s, (size_t)best_e);
  return dup_range(s, (size_t)best_s, (size_t)best_e);
}

static char *first_number(const char *s, size_t a, size_t b) {
  for (size_t i = a; i < b; i++) {
    if (isdigit((unsigned char)s[i])) {
      size_t e = i;
      while (e < b && (isdigit((unsigned char)s[e]) || ((s[e] == '.' || s[e] == ',' || s[e] == '/') &&
                                                       e + 1 < b && isdigit((unsigned char)s[e + 1]))))
        e++;
      size_t st = (i > a && s[i - 1] == '-') ? i - 1 : i;
      return last_number(s, st, e);
    }
  }
  return NULL;
}

static int parses(const char *s, size_t a, size_t b) {
  while (a < b && isspace((unsigned char)s[a])) a++;
  while (b > a && (isspace((unsigned char)s[b - 1]) || s[b - 1] == '.')) b--;
  if (a >= b) return 0;
  mx_ctx c;
  mx_init(&c);
  mx_node *n = mx_parse(&c, s + a, b - a);
  int ok = n != NULL && n->kind != MX_TEXT;
  mx_free(&c);
  return ok;
}

/* [a, b) is one to four words of letters, possibly in \\text{} (a text answer) */
static int text_words(const char *s, size_t a, size_t b) {
  mx_ctx c;
  mx_init(&c);
  mx_node *n = mx_parse(&c, s + a, b - a);
  int ok = n && n->kind == MX_TEXT;
  mx_free(&c);
  return ok;
}

/* an empty math block or box at s[a]: "$$", "$ $", "\\( \\)", "\\[\\]", "\\boxed{}" */
static int empty_block(const char *s, size_t a, size_t b) {
  size_t i = a;
  int dollars = 0, opener = 0;
  while (i < b && (s[i] == '$' || s[i] == ' ')) dollars += s[i++] == '$';
  if (i + 1 < b && s[i] == '\\' && (s[i + 1] == '(' || s[i + 1] == '[')) {
    i += 2;
    opener = 1;
  } else if (i + 7 <= b && !memcmp(s + i, "\\boxed{", 7)) {
    i += 7;
    opener = 1;
  }
  while (i < b && isspace((unsigned char)s[i])) i++;
  if (!opener) return dollars >= 2 && (i >= b || strchr(".,;:!?", s[i]));
  return i < b && (s[i] == '}' || (s[i] == '\\' && i + 1 < b && (s[i + 1] == ')' || s[i + 1] == ']')));
}

/* The answer after a phrase such as "the answer is": a math segment, else the sentence; when
 * the sentence is prose, what follows its last " is ", else its first math run or number. */
static char *phrase_answer(const char *s, size_t a, size_t b) {
  while (a < b && (isspace((unsigned char)s[a]) || s[a] == ':' || s[a] == '*' || s[a] == '"' ||
                   s[a] == '`' || (s[a] == '\\' && a + 1 < b && s[a + 1] == '"')))
    a += (s[a] == '\\') ? 2 : 1;
  /* full-width colon */
  if (a + 3 <= b && memcmp(s + a, "\xef\xbc\x9a", 3) == 0) a += 3;
  while (a < b && isspace((unsigned char)s[a])) a++;
  if (a >= b) return NULL;
  if (empty_block(s, a, b)) return dup_range(s, a, a); /* stated, but empty: no answer */
  if (s[a] == '$' || (s[a] == '\\' && a + 1 < b && (s[a + 1] == '[' || s[a + 1] == '('))) {
    span ms[64];
    int k = find_math(s, a, b, ms, 64);
    if (k > 0) {
      int last = 0;
      while (last + 1 < k && is_connector(s, ms[last].e, ms[last + 1].s)) last++;
      return join_spans(s, ms, 0, last);
    }
  }
  /* the sentence */
  size_t e = a;
  while (e < b) {
    if (s[e] == '\n') break;
    if (s[e] == '.' && (e + 1 >= b || isspace((unsigned char)s[e + 1])) &&
        !(e > a && isdigit((unsigned char)s[e - 1]) && e + 1 < b && isdigit((unsigned char)s[e + 1])))
      break;
    if (e + 3 <= b && memcmp(s + e, "\xe3\x80\x82", 3) == 0) break; /* 。 */
    if (e + 6 < b && (memcmp(s + e, " I hope", 7) == 0)) break;
    e++;
  }
  if (e == a) return NULL;
  if (parses(s, a, e)) {
    size_t z = e;
    while (z > a && s[z - 1] == '.') z--;
    return dup_range(s, a, z);
  }
  long is = rfind(s, a, e, " is ");
  if (is >= 0 && parses(s, (size_t)is + 4, e)) return dup_range(s, (size_t)is + 4, e);
  span ms[64];
  int k = find_math(s, a, e, ms, 64);
  if (k > 0) {
    int last = 0;
    while (last + 1 < k && is_connector(s, ms[last].e, ms[last + 1].s)) last++;
    return join_spans(s, ms, 0, last);
  }
  /* ASCII runs between non-ASCII text: "每份应该是 (\frac{2}{5}) 吨" */
  for (size_t i = a; i < e;) {
    if ((unsigned char)s[i] >= 0x80) {
      i++;
      continue;
    }
    size_t j = i;
    while (j < e && (unsigned char)s[j] < 0x80) j++;
    if (j > i && parses(s, i, j) && i > a) return dup_range(s, i, j);
    i = j;
  }
  char *num = first_number(s, a, e);
  if (num) return num;
  /* a text answer: "Answer: \text{Evelyn}" */
  size_t z = e;
  while (z > a && (s[z - 1] == '.' || isspace((unsigned char)s[z - 1]))) z--;
  return z - a <= 60 && text_words(s, a, z) ? dup_range(s, a, z) : NULL;
}

static const char *const k_final_phrases[] = {"final answer is", "final answer:", "final answer**",
                                              "final answer**:", NULL};
static const char *const k_answer_phrases[] = {
    "answer is",     "answer:",        "answer :",        "réponse est", "réponse :",
    "réponse:",      "respuesta es",   "respuesta:",      "antwort ist", "antwort:",
    "\xe7\xad\x94\xe6\xa1\x88\xe6\x98\xaf" /* 答案是 */, "\xe7\xad\x94\xe6\xa1\x88\xef\xbc\x9a" /* 答案： */,
    "\xe7\xad\x94\xe6\xa1\x88:", "answer would be", "answer should be", "answer**:", "**answer**", NULL};

static char *from_phrases(const char *s, size_t a, size_t b, const char *const *phr) {
  long best = -1;
  size_t blen = 0;
  for (int k = 0; phr[k]; k++) {
    long i = rfind_ci(s, a, b, phr[k]);
    if (i > best) {
      best = i;
      blen = strlen(phr[k]);
    }
  }
  if (best < 0) return NULL;
  return phrase_answer(s, (size_t)best + blen, b);
}

static long last_phrase(const char *s, size_t a, size_t b) {
  long best = -1;
  for (int k = 0; k_final_phrases[k]; k++) {
    long i = rfind_ci(s, a, b, k_final_phrases[k]);
    if (i > best) best = i;
  }
  for (int k = 0; k_answer_phrases[k]; k++) {
    long i = rfind_ci(s, a, b, k_answer_phrases[k]);
    if (i > best) best = i;
  }
  return best;
}

/* With no number written in digits: the last number word (zero to twenty, the tens) as whole
 * word in the last sentence ("There are six ways." -> 6). */
static char *number_word(const char *s, size_t a, size_t b) {
  static const char *const w[] = {"zero", "one", "two", "three", "four", "five", "six", "seven", "eight",
                                  "nine", "ten", "eleven", "twelve", "thirteen", "fourteen", "fifteen",
                                  "sixteen", "seventeen", "eighteen", "nineteen", "twenty", NULL};
  static const char *const tens[] = {"thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety", NULL};
  size_t e = b;
  while (e > a && (isspace((unsigned char)s[e - 1]) || s[e - 1] == '.')) e--;
  size_t st = e;
  while (st > a && s[st - 1] != '.' && s[st - 1] != '\n') st--;
  for (size_t i = e; i > st;) { /* words, last first */
    size_t we = i;
    while (we > st && !isalpha((unsigned char)s[we - 1])) we--;
    size_t ws = we;
    while (ws > st && isalpha((unsigned char)s[ws - 1])) ws--;
    if (ws == we) break;
    for (int k = 0; w[k]; k++)
      if (we - ws == strlen(w[k]) && !strncasecmp(s + ws, w[k], we - ws)) {
        char buf[8];
        snprintf(buf, sizeof buf, "%d", k);
        return strdup(buf);
      }
    for (int k = 0; tens[k]; k++)
      if (we - ws == strlen(tens[k]) && !strncasecmp(s + ws, tens[k], we - ws)) {
        char buf[8];
        snprintf(buf, sizeof buf, "%d", 30 + 10 * k);
        return strdup(buf);
      }
    i = ws;
  }
  return NULL;
}

/* the math segment starting at m follows a condition word: "at", "when", "where", "for",
 * "if", "with", "whenever" (then it states where, not what) */
static int is_condition(const char *s, size_t a, size_t m) {
  static const char *const w[] = {"at", "when", "where", "for", "if", "with", "whenever", NULL};
  size_t e = m;
  while (e > a && isspace((unsigned char)s[e - 1])) e--;
  size_t st = e;
  while (st > a && isalpha((unsigned char)s[st - 1])) st--;
  if (st == e || (st > a && !isspace((unsigned char)s[st - 1]) && s[st - 1] != ',')) return 0;
  for (int k = 0; w[k]; k++)
    if (e - st == strlen(w[k]) && !strncasecmp(s + st, w[k], e - st)) return 1;
  return 0;
}

/* A concluding sentence ("Therefore, there are 12 ...", "Thus ... increases by 100%.") after
 * the last math segment (which ends at m): its first number. */
static char *conclusion_number(const char *s, size_t m, size_t b) {
  static const char *const k_concl[] = {"therefore", "thus", "hence", "in conclusion", "so, ", NULL};
  long best = -1;
  for (int k = 0; k_concl[k]; k++) {
    long i = rfind_ci(s, m, b, k_concl[k]);
    if (i > best && ((size_t)i == m || !isalpha((unsigned char)s[i - 1]))) best = i;
  }
  if (best < 0) return NULL;
  size_t e = (size_t)best;
  while (e < b && s[e] != '\n' && !(s[e] == '.' && (e + 1 >= b || isspace((unsigned char)s[e + 1])))) e++;
  return first_number(s, (size_t)best, e);
}

static char *extract_range(const char *s, size_t a, size_t b, int unfinished) {
  /* <answer> tags */
  long t = rfind(s, a, b, "<answer>");
  if (t >= 0) {
    size_t cs = (size_t)t + 8;
    long te = find(s, cs, b, "</answer>");
    size_t ce = te >= 0 ? (size_t)te : b;
    span bx[MAX_SPANS];
    int n = find_boxed(s, cs, ce, bx, MAX_SPANS);
    if (n > 0) return group_last(s, bx, n);
    char *r = dup_range(s, cs, ce);
    if (r && *r) return r;
    free(r);
  }
  span *sp = malloc(sizeof(span) * MAX_SPANS);
  if (!sp) return NULL;
  char *r = NULL;
  int n = find_boxed(s, a, b, sp, MAX_SPANS);
  /* an answer phrase after the last box wins over it ("... \boxed{130} ... The answer is 8") */
  size_t after = n > 0 ? sp[n - 1].e : a;
  if (n > 0 && last_phrase(s, after, b) >= 0) {
    r = from_phrases(s, after, b, k_final_phrases);
    if (!r) r = from_phrases(s, after, b, k_answer_phrases);
  }
  if (!r && n > 0) {
    size_t c0 = sp[n - 1].cs, c1 = sp[n - 1].ce;
    while (c0 < c1 && isspace((unsigned char)s[c0])) c0++;
    r = c0 < c1 ? group_last(s, sp, n) : dup_range(s, c0, c0); /* an empty last box: no answer */
  }
  if (!r) r = from_phrases(s, a, b, k_final_phrases);
  if (!r) r = from_phrases(s, a, b, k_answer_phrases);
  /* a response cut inside its reasoning (<think> never closed) has no final statement: only
   * an explicit box or answer phrase counts, not the last number of the reasoning */
  if (!r && !unfinished) {
    n = find_math(s, a, b, sp, MAX_SPANS);
    /* a $...$ span that is prose ("how many $? just about 1$": dollar signs) is not math */
    while (n > 0 && l1k_is_prose(s + sp[n - 1].cs, sp[n - 1].ce - sp[n - 1].cs) &&
           !parses(s, sp[n - 1].cs, sp[n - 1].ce) && !text_words(s, sp[n - 1].cs, sp[n - 1].ce))
      n--;
    /* a last segment that is only a condition ("... is $-1$, attained at $x=0$") */
    while (n > 1 && is_condition(s, a, sp[n - 1].s)) n--;
    r = n > 0 ? conclusion_number(s, sp[n - 1].e, b) : NULL;
    if (!r && n > 0) r = group_last(s, sp, n);
  }
  if (!r && !unfinished) r = last_number(s, a, b);
  if (!r && !unfinished) r = number_word(s, a, b);
  free(sp);
  if (r && !*r) { /* an empty box or math block where the answer is stated: no answer */
    free(r);
    r = NULL;
  }
  return r;
}

char *l1k_extract_boxed(const char *text, size_t len) {
  if (!text) return NULL;
  span sp[MAX_SPANS];
  int n = find_boxed(text, 0, len, sp, MAX_SPANS);
  if (n == 0) return NULL;
  return dup_range(text, sp[n - 1].cs, sp[n - 1].ce);
}

char *l1k_extract_answer(const char *response, size_t len) {
  if (!response) return NULL;
  size_t a, b;
  l1k_grade_final_part(response, len, &a, &b);
  int unfinished = (find(response, 0, len, "<think>") >= 0 && rfind(response, 0, len, "</think>") < 0) ||
                   (find(response, 0, len, "<|begin_of_thought|>") >= 0 &&
                    rfind(response, 0, len, "<|end_of_thought|>") < 0);
  return extract_range(response, a, b, unfinished);
}

/* ------------------------------------------------------------------ helpers */
int l1k_is_prose(const char *s, size_t n) {
  for (size_t i = 0; i < n;) {
    unsigned char c = (unsigned char)s[i];
    if (c == '\\') { /* a command and its \text{} argument are not prose */
      size_t j = i + 1;
      while (j < n && isalpha((unsigned char)s[j])) j++;
      i = j > i + 1 ? j : i + 2;
      continue;
    }
    if (c >= 0x80) return 1;
    if (isalpha(c)) {
      size_t j = i;
      while (j < n && isalpha((unsigned char)s[j])) j++;
      if (j - i >= 2) return 1;
      i = j;
      continue;
    }
    i++;
  }
  return 0;
}

int l1k_bare_letter(const char *s, size_t n) {
  /* strip $ ( ) * { } spaces . and \text \mathrm \textbf \boxed */
  int letter = 0;
  for (size_t i = 0; i < n;) {
    char c = s[i];
    if (c == '\\') {
      size_t j = i + 1;
      while (j < n && isalpha((unsigned char)s[j])) j++;
      size_t l = j - i - 1;
      if (!((l == 4 && !memcmp(s + i + 1, "text", 4)) || (l == 6 && !memcmp(s + i + 1, "mathrm", 6)) ||
            (l == 6 && !memcmp(s + i + 1, "textbf", 6)) || (l == 5 && !memcmp(s + i + 1, "boxed", 5)) ||
            (l == 6 && !memcmp(s + i + 1, "mathbf", 6)) || l == 0))
        return 0;
      i = j > i + 1 ? j : i + 2;
      continue;
    }
    if (strchr("$()*{}. \t\n:[]", c)) {
      i++;
      continue;
    }
    if (c >= 'A' && c <= 'J' && !letter) {
      letter = c;
      i++;
      continue;
    }
    return 0;
  }
  return letter;
}

/* multiple choice */
/* a letter at s[i] named in a negated clause: "it can't be A or B", "not C", "rule out D"
 * (the clause starts after the last . ; , ! ? or line break before it) */
static int negated(const char *s, size_t a, size_t i) {
  static const char *const neg[] = {"not ", "n't ", "cannot ", "never ", "no ", "nor ", "neither ",
                                    "rule out ", "ruled out ", "eliminate ", "exclude ", "except ", NULL};
  size_t c = i;
  while (c > a && !strchr(".;,!?\n", s[c - 1])) c--;
  for (int k = 0; neg[k]; k++)
    if (rfind_ci(s, c, i, neg[k]) >= 0) return 1;
  return 0;
}

/* "A is the answer since B fails", "(C) is correct": the last letter named right before such
 * an affirmation */
static int letter_before_affirmation(const char *s, size_t a, size_t b, int maxc) {
  static const char *const aff[] = {" is the answer", " is correct", " is the correct", " is right", NULL};
  long best = -1;
  int best_c = 0;
  for (int k = 0; aff[k]; k++) {
    long i = rfind_ci(s, a, b, aff[k]);
    if (i <= (long)a || i <= best) continue;
    size_t j = (size_t)i;
    if (s[j - 1] == ')' || s[j - 1] == '*') j--;
    char c = s[j - 1];
    int alone = j - 1 == a || !isalnum((unsigned char)s[j - 2]);
    if (c >= 'A' && c < 'A' + maxc && alone && !negated(s, a, j - 1)) {
      best = i;
      best_c = c;
    }
  }
  return best_c;
}

static int choice_at(const char *s, size_t i, size_t b, int maxc) {
  /* skip spaces, '(', '*', '$', '\text{', '\boxed{', '{' and read one letter */
  for (int guard = 0; i < b && guard < 40; guard++) {
    char c = s[i];
    if (isspace((unsigned char)c) || c == '(' || c == '*' || c == '$' || c == '{' || c == '[' || c == ':') {
      i++;
      continue;
    }
    if (c == '\\') {
      size_t j = i + 1;
      while (j < b && isalpha((unsigned char)s[j])) j++;
      if (j == i + 1) j++;
      i = j;
      continue;
    }
    if (i + 3 <= b && memcmp(s + i, "\xef\xbc\x9a", 3) == 0) { /* ： */
      i += 3;
      continue;
    }
    if (c >= 'A' && c < 'A' + maxc) {
      char d = i + 1 < b ? s[i + 1] : ' ';
      if (!isalnum((unsigned char)d)) return c;
      if ((unsigned char)d >= 0x80) return c;
    }
    return 0;
  }
  return 0;
}

int l1k_extract_choice(const char *response, size_t len, int n_choices) {
  if (!response) return 0;
  if (n_choices <= 0 || n_choices > 10) n_choices = 5;
  size_t a, b;
  l1k_grade_final_part(response, len, &a, &b);
  const char *s = response;
  /* answer phrases, last first */
  static const char *const phr[] = {"answer is", "answer:", "answer :", "réponse est", "réponse :",
                                    "réponse:", "respuesta es", "respuesta:",
                                    "\xe7\xad\x94\xe6\xa1\x88\xe6\x98\xaf", "\xe7\xad\x94\xe6\xa1\x88",
                                    "answer would be", "correct option is", "option", "choice is",
                                    /* affirmations: "for sure D, it can't be A or B" */
                                    "must be", "should be", "pick", "choose", "go with", "for sure",
                                    "certainly", "definitely", "clearly", NULL};
  long best = -1;
  int best_c = 0;
  for (int k = 0; phr[k]; k++) {
    long i = rfind_ci(s, a, b, phr[k]);
    if (i > best) {
      int c = choice_at(s, (size_t)i + strlen(phr[k]), b, n_choices);
      if (c) {
        best = i;
        best_c = c;
      }
    }
  }
  if (best_c) return best_c;
  if ((best_c = letter_before_affirmation(s, a, b, n_choices))) return best_c;
  span sp[MAX_SPANS];
  int n = find_boxed(s, a, b, sp, MAX_SPANS);
  if (n > 0) {
    int c = choice_at(s, sp[n - 1].cs, sp[n - 1].ce, n_choices);
    if (c) return c;
  }
  /* a letter opening the response: "D. it can't be A", "B。不是 A" */
  {
    int c = 0;
    size_t i = a;
    while (i < b && (isspace((unsigned char)s[i]) || s[i] == '(' || s[i] == '*')) i++;
    if (i < b && s[i] >= 'A' && s[i] < 'A' + n_choices) {
      char d = i + 1 < b ? s[i + 1] : ' ';
      if (d == '.' || d == ')' || d == ':' || d == ',' || d == '*' || (unsigned char)d >= 0x80 ||
          (isspace((unsigned char)d) && i + 2 < b && !islower((unsigned char)s[i + 2]) &&
           !(s[i] == 'A' || s[i] == 'I')) ||
          i + 1 >= b)
        c = s[i];
    }
    if (c) return c;
  }
  /* (B) or **B** anywhere, last */
  for (size_t i = b; i-- > a;) {
    if (s[i] >= 'A' && s[i] < 'A' + n_choices && i > a && i + 1 < b) {
      if ((s[i - 1] == '(' && s[i + 1] == ')') || (s[i - 1] == '*' && s[i + 1] == '*')) return s[i];
    }
  }
  /* the last standalone capital letter; "A" followed by a lowercase word is the article */
  for (size_t i = b; i-- > a;) {
    char c = s[i];
    if (c < 'A' || c >= 'A' + n_choices) continue;
    if (i > a && (isalnum((unsigned char)s[i - 1]) || s[i - 1] == '\\' || s[i - 1] == '\'')) continue;
    if (i + 1 < b && (isalnum((unsigned char)s[i + 1]) || s[i + 1] == '\'')) continue;
    if (negated(s, a, i)) continue;
    if (c == 'A' && i + 2 < b && s[i + 1] == ' ' && islower((unsigned char)s[i + 2])) {
      /* "A man", but not "not A because" inside a sentence: article only at a sentence start */
      size_t k = i;
      while (k > a && s[k - 1] == ' ') k--;
      if (k == a || s[k - 1] == '.' || s[k - 1] == '\n' || s[k - 1] == '!' || s[k - 1] == '?') continue;
    }
    return c;
  }
  return 0;
}

/* ------------------------------------------------------------------ answer_of */
static int has_marker(const char *s, size_t n) {
  static const char *const m[] = {"boxed", "fbox", "<answer>", "</think>", "<|end_of_thought|>",
                                  "answer is", "answer:", "final answer", NULL};
  for (int k = 0; m[k]; k++)
    if (rfind_ci(s, 0, n, m[k]) >= 0) return 1;
  return 0;
}

/* "1,22" / "0,111" / "1000,99": a decimal comma (not a thousands separator, not a pair) */
static char *decimal_comma(const char *s) {
  size_t a = 0, b = strlen(s);
  while (a < b && (isspace((unsigned char)s[a]) || s[a] == '$')) a++;
  while (b > a && (isspace((unsigned char)s[b - 1]) || s[b - 1] == '$')) b--;
  size_t i = a;
  if (i < b && s[i] == '-') i++;
  size_t d0 = i;
  while (i < b && isdigit((unsigned char)s[i])) i++;
  size_t intlen = i - d0;
  if (intlen && dot_thousands_end(s, d0, i, b) == b) return european_number(s, a, b); /* 1 234,5 */
  if (!intlen || i >= b || s[i] != ',') return NULL;
  size_t c = i++;
  size_t f0 = i;
  while (i < b && isdigit((unsigned char)s[i])) i++;
  size_t fl = i - f0;
  if (i != b || fl < 2) return NULL;
  int thousands = fl == 3 && intlen <= 3 && s[d0] != '0';
  if (thousands) return NULL;
  char *r = dup_range(s, a, b);
  if (r) r[c - a] = '.';
  return r;
}

/* at most 4 words, 60 bytes, no sentence punctuation */
static int short_text(const char *s, size_t n) {
  if (n > 60) return 0;
  int words = 0, in_word = 0;
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c == '.' || c == '?' || c == '!' || c == ';' || c == '\n') return 0;
    int w = !isspace(c);
    if (w && !in_word) words++;
    in_word = w;
  }
  return words > 0 && words <= 4;
}

char *l1k_answer_of(const char *s, size_t n) {
  if (!s) return NULL;
  char *r;
  if (has_marker(s, n)) {
    r = l1k_extract_answer(s, n);
  } else if (!l1k_is_prose(s, n) || (parses(s, 0, n) && !memchr(s, '$', n))) {
    /* a bare answer ("10 weeks"); prose around $...$ ("Thus $x = 5$.") is extracted */
    r = dup_range(s, 0, n);
  } else {
    /* prose without markers: a single math segment, else extraction */
    r = l1k_extract_answer(s, n);
    /* a short text answer ("\text{Evelyn}", "no solution"), not a sentence */
    if (!r && short_text(s, n)) r = dup_range(s, 0, n);
  }
  if (r) {
    char *d = decimal_comma(r);
    if (d) {
      free(r);
      r = d;
    }
  }
  return r;
}

/* ------------------------------------------------------------------ text answers in prose */
static int word_before_is_negation(const char *s, size_t a, size_t i) {
  static const char *const neg[] = {"not", "no", "nor", "never", "neither", "n't", NULL};
  while (i > a && isspace((unsigned char)s[i - 1])) i--;
  size_t e = i;
  while (i > a && (isalpha((unsigned char)s[i - 1]) || s[i - 1] == '\'')) i--;
  for (int k = 0; neg[k]; k++) {
    size_t l = strlen(neg[k]);
    if (e - i >= l && !strncasecmp(s + e - l, neg[k], l) && (e - i == l || !strcmp(neg[k], "n't")))
      return 1;
  }
  return 0;
}

int l1k_prose_ends_with(const char *s, size_t n, const char *words) {
  if (!s || !words || !*words) return 0;
  size_t a, b;
  l1k_grade_final_part(s, n, &a, &b);
  while (b > a && (isspace((unsigned char)s[b - 1]) || strchr(".!$*\"'}", s[b - 1]))) b--;
  size_t i = b, w = strlen(words);
  while (w > 0 && i > a) { /* match backwards; a space in words matches any run of spaces */
    char c = words[w - 1];
    if (c == ' ') {
      if (!isspace((unsigned char)s[i - 1])) return 0;
      while (i > a && isspace((unsigned char)s[i - 1])) i--;
    } else {
      if (lower((unsigned char)s[i - 1]) != (unsigned char)c) return 0;
      i--;
    }
    w--;
  }
  if (w > 0) return 0;
  if (i > a && (isalnum((unsigned char)s[i - 1]) || (unsigned char)s[i - 1] >= 0x80)) return 0;
  if (i >= 7 && !strncmp(s + i - 6, "\\text{", 6)) i -= 6;
  return !word_before_is_negation(s, a, i);
}
