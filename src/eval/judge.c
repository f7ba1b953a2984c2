/* long1k — judge mode: the tail of a response, the judge prompt, the judge's verdict
 * (see long1k/eval.h). The paper grades by showing a judge model the last five lines of each
 * response beside the reference answer. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "long1k/eval.h"
#include "long1k/jsonl.h"

static const char *find_last(const char *s, const char *needle) {
  const char *last = NULL, *p = s;
  while ((p = strstr(p, needle))) last = p++;
  return last;
}

char *l1k_judge_tail(const char *response, int lines, size_t max_bytes) {
  const char *s = response ? response : "";
  const char *th = find_last(s, "</think>");
  if (th) {
    const char *after = th + 8;
    const char *q = after;
    while (*q && isspace((unsigned char)*q)) q++;
    if (*q) s = after; /* an answer follows the reasoning: judge only that */
  }
  size_t n = strlen(s);
  while (n > 0 && isspace((unsigned char)s[n - 1])) n--;
  /* walk back over `lines` non-blank lines */
  size_t start = n, pos = n;
  int got = 0;
  while (pos > 0 && got < lines) {
    size_t e = pos, b = e; /* the line is [b, e) */
    while (b > 0 && s[b - 1] != '\n') b--;
    int blank = 1;
    for (size_t i = b; i < e; i++)
      if (!isspace((unsigned char)s[i])) blank = 0;
    if (!blank) {
      got++;
      start = b;
    }
    if (b == 0) break;
    pos = b - 1;
  }
  if (n - start > max_bytes) {
    start = n - max_bytes;
    while (start < n && ((unsigned char)s[start] & 0xC0) == 0x80) start++; /* UTF-8 boundary */
  }
  while (start < n && (s[start] == '\n' || s[start] == '\r')) start++;
  char *r = malloc(n - start + 1);
  if (!r) return NULL;
  memcpy(r, s + start, n - start);
  r[n - start] = 0;
  return r;
}

const char *l1k_judge_default_prompt(void) {
  return "You are checking a student's answer to a problem against the reference answer.\n\n"
         "Problem:\n{problem}\n\n"
         "Reference answer:\n{reference}\n\n"
         "The last lines of the student's response:\n{response_tail}\n\n"
         "Does the final answer in the student's response match the reference answer? Count "
         "mathematically equivalent forms as a match (a fraction and its decimal value, equal "
         "expressions written differently, the same value with or without units, the letter "
         "of the right option). A response that gives no final answer, or several different "
         "ones, does not match. Answer with one line: VERDICT: CORRECT or VERDICT: INCORRECT.";
}

char *l1k_judge_render(const char *prompt, const char *problem, const char *reference,
                       const char *tail) {
  l1k_buf b = {0};
  const char *s = prompt;
  while (*s) {
    if (!strncmp(s, "{problem}", 9)) {
      l1k_buf_puts(&b, problem);
      s += 9;
    } else if (!strncmp(s, "{reference}", 11)) {
      l1k_buf_puts(&b, reference);
      s += 11;
    } else if (!strncmp(s, "{response_tail}", 15)) {
      l1k_buf_puts(&b, tail);
      s += 15;
    } else {
      const char *e = s + 1;
      while (*e && *e != '{') e++;
      l1k_buf_append(&b, s, (size_t)(e - s));
      s = e;
    }
  }
  l1k_buf_append(&b, "", 0);
  return b.data;
}

/* Verdict words: 1 correct, 0 incorrect. */
static int word_verdict(const char *w, size_t n) {
  static const struct {
    const char *w;
    int v;
  } words[] = {{"correct", 1}, {"incorrect", 0}, {"yes", 1},  {"no", 0},
               {"true", 1},    {"false", 0},     {"wrong", 0}, {"right", 1}};
  for (size_t i = 0; i < sizeof words / sizeof *words; i++)
    if (strlen(words[i].w) == n && !strncasecmp(w, words[i].w, n)) return words[i].v;
  return -1;
}

int l1k_judge_parse(const char *reply) {
  if (!reply) return -1;
  const char *s = reply;
  const char *th = find_last(s, "</think>");
  if (th) s = th + 8;
  /* "VERDICT: X", last one wins */
  int v = -1;
  for (const char *p = s; *p; p++) {
    if (strncasecmp(p, "verdict", 7)) continue;
    const char *q = p + 7;
    while (*q == '*' || *q == ' ' || *q == ':' || *q == '"' || *q == '\'' || *q == '[') q++;
    const char *w = q;
    while (isalpha((unsigned char)*q)) q++;
    int x = word_verdict(w, (size_t)(q - w));
    if (x >= 0) v = x;
  }
  if (v >= 0) return v;
  /* else the last verdict word anywhere */
  for (const char *p = s; *p;) {
    if (!isalpha((unsigned char)*p)) {
      p++;
      continue;
    }
    const char *w = p;
    while (isalpha((unsigned char)*p)) p++;
    int x = word_verdict(w, (size_t)(p - w));
    if (x >= 0) v = x;
  }
  return v;
}
