/* long1k — the Split pre-tokenizer regexes of Qwen2/2.5/3, Llama-3 and GPT-2, matched by hand.
 *
 * Qwen (Llama-3 differs only in \p{N}{1,3}):
 *   (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|
 *   \s*[\r\n]+|\s+(?!\S)|\s+
 * GPT-2:
 *   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
 *
 * Hugging Face runs these with Oniguruma: at each position the alternatives are tried in order
 * (leftmost-first), each with greedy backtracking. Every character is matched by some
 * alternative, so the pieces tile the text. What each alternative matches at position i:
 *
 *  1 contraction: ' followed by s|t|m|d or re|ve|ll, case-insensitive (Oniguruma folds U+017F
 *    LATIN SMALL LETTER LONG S to s, so '\u017f matches too; no other character folds to one
 *    of these letters). GPT-2's version is case-sensitive.
 *  2 [^\r\n\p{L}\p{N}]?\p{L}+ : one optional char that is not CR/LF/letter/number, then the
 *    longest run of letters (the optional char is taken only if a letter follows).
 *  3 \p{N} : one number char (Llama-3: up to three).
 *  4 ' ?[^\s\p{L}\p{N}]+[\r\n]*' : optional space, run of "other" chars, then CR/LF run.
 *  5 \s*[\r\n]+ : within the whitespace run starting at i, up to and including its last CR/LF.
 *  6 \s+(?!\S) : the whole whitespace run if it ends the text, else the run minus its last
 *    char (needs at least two chars).
 *  7 \s+ : the whole whitespace run.
 */
#include "text/tok_internal.h"

/* class of the char at s[i], its length in *k */
static inline int cls_at(const uint8_t *s, size_t n, size_t i, int *k, uint32_t *cpo) {
  static const uint8_t ascii[128] = {
      /* filled at first use would need state; spelled out instead */
      0, 0, 0, 0, 0, 0, 0, 0, 0, UC_S, UC_S | UC_NL, UC_S, UC_S, UC_S | UC_NL, 0, 0, /* 0x00 */
      0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,                               /* 0x10 */
      UC_S, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,                            /* 0x20 */
      UC_N, UC_N, UC_N, UC_N, UC_N, UC_N, UC_N, UC_N, UC_N, UC_N, 0, 0, 0, 0, 0, 0, /* 0x30 */
      0, UC_L, UC_L, UC_L, UC_L, UC_L, UC_L, UC_L, UC_L, UC_L, UC_L, UC_L, UC_L, UC_L, UC_L,
      UC_L, /* 0x40 */
      UC_L, UC_L, UC_L, UC_L, UC_L, UC_L, UC_L, UC_L, UC_L, UC_L, UC_L, 0, 0, 0, 0, 0, /* 0x50 */
      0, UC_L, UC_L, UC_L, UC_L, UC_L, UC_L, UC_L, UC_L, UC_L, UC_L, UC_L, UC_L, UC_L, UC_L,
      UC_L, /* 0x60 */
      UC_L, UC_L, UC_L, UC_L, UC_L, UC_L, UC_L, UC_L, UC_L, UC_L, UC_L, 0, 0, 0, 0, 0, /* 0x70 */
  };
  uint8_t c = s[i];
  if (c < 0x80) {
    *k = 1;
    if (cpo) *cpo = c;
    return ascii[c];
  }
  uint32_t cp;
  int len = l1k_utf8_decode(s + i, n - i, &cp);
  if (len == 0) { /* not reached: callers pass valid UTF-8 */
    *k = 1;
    if (cpo) *cpo = 0xFFFD;
    return 0;
  }
  *k = len;
  if (cpo) *cpo = cp;
  return l1k_uc_class(cp);
}

#define OTHER(c) (!((c) & (UC_S | UC_L | UC_N)))

/* contraction at i (s[i] == '\''): length in bytes, or 0 */
static size_t contraction(const uint8_t *s, size_t n, size_t i, int fold) {
  if (i + 1 >= n) return 0;
  uint8_t a = s[i + 1];
  if (fold) {
    if (a == 0xC5 && i + 2 < n && s[i + 2] == 0xBF) return 3; /* '\u017f (long s) */
    if (a >= 'A' && a <= 'Z') a = (uint8_t)(a - 'A' + 'a');
  }
  if (a == 's' || a == 't' || a == 'm' || a == 'd') return 2;
  if (i + 2 >= n) return 0;
  uint8_t b = s[i + 2];
  if (fold && b >= 'A' && b <= 'Z') b = (uint8_t)(b - 'A' + 'a');
  if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l')) return 3;
  return 0;
}

static size_t letters_from(const uint8_t *s, size_t n, size_t j) {
  while (j < n) {
    uint8_t c = s[j];
    if (c < 0x80) {
      if (!(((c | 0x20) >= 'a') && ((c | 0x20) <= 'z'))) break;
      j++;
      continue;
    }
    int k;
    if (!(cls_at(s, n, j, &k, 0) & UC_L)) break;
    j += (size_t)k;
  }
  return j;
}

static size_t others_from(const uint8_t *s, size_t n, size_t j) {
  while (j < n) {
    int k;
    if (!OTHER(cls_at(s, n, j, &k, 0))) break;
    j += (size_t)k;
  }
  return j;
}

/* whitespace run from i: its end, the start of its last char, and the end of its last CR/LF
 * (0 if none) */
static size_t ws_run(const uint8_t *s, size_t n, size_t i, size_t *last_start, size_t *nl_end) {
  size_t j = i;
  *last_start = i;
  *nl_end = 0;
  while (j < n) {
    int k;
    int c = cls_at(s, n, j, &k, 0);
    if (!(c & UC_S)) break;
    *last_start = j;
    j += (size_t)k;
    if (c & UC_NL) *nl_end = j;
  }
  return j;
}

static size_t ws_tail(const uint8_t *s, size_t n, size_t i) {
  size_t last, nl;
  size_t j = ws_run(s, n, i, &last, &nl);
  if (j == n) return n;          /* \s+(?!\S) at the end of the text */
  if (last > i) return last;     /* \s+(?!\S): all but the last char */
  return j;                      /* \s+ */
}

size_t l1k_pretok_next(l1k_pre_kind kind, const uint8_t *s, size_t n, size_t i) {
  int k0;
  int c0 = cls_at(s, n, i, &k0, 0);
  size_t j;
  if (kind == L1K_PRE_GPT2) {
    if (s[i] == '\'') {
      size_t m = contraction(s, n, i, 0);
      if (m) return i + m;
    }
    size_t st = i;
    int c = c0, k = k0;
    if (s[i] == ' ' && i + 1 < n) {
      c = cls_at(s, n, i + 1, &k, 0);
      st = i + 1;
      if (c & UC_S) st = i, c = c0, k = k0;
    }
    if (c & UC_L) return letters_from(s, n, st + (size_t)k);
    if (c & UC_N) {
      j = st + (size_t)k;
      while (j < n) {
        int kk;
        if (!(cls_at(s, n, j, &kk, 0) & UC_N)) break;
        j += (size_t)kk;
      }
      return j;
    }
    if (OTHER(c)) return others_from(s, n, st + (size_t)k);
    return ws_tail(s, n, i);
  }

  /* 1: contractions */
  if (s[i] == '\'') {
    size_t m = contraction(s, n, i, 1);
    if (m) return i + m;
  }
  /* 2: [^\r\n\p{L}\p{N}]?\p{L}+ */
  if (c0 & UC_L) return letters_from(s, n, i + (size_t)k0);
  if (!(c0 & (UC_NL | UC_L | UC_N)) && i + (size_t)k0 < n) {
    int k1;
    int c1 = cls_at(s, n, i + (size_t)k0, &k1, 0);
    if (c1 & UC_L) return letters_from(s, n, i + (size_t)k0 + (size_t)k1);
  }
  /* 3: \p{N} or \p{N}{1,3} */
  if (c0 & UC_N) {
    j = i + (size_t)k0;
    if (kind == L1K_PRE_LLAMA3) {
      for (int r = 1; r < 3 && j < n; r++) {
        int kk;
        if (!(cls_at(s, n, j, &kk, 0) & UC_N)) break;
        j += (size_t)kk;
      }
    }
    return j;
  }
  /* 4: ' ?[^\s\p{L}\p{N}]+[\r\n]*' */
  j = (size_t)-1;
  if (OTHER(c0)) {
    j = others_from(s, n, i + (size_t)k0);
  } else if (s[i] == ' ' && i + 1 < n) {
    int k1;
    int c1 = cls_at(s, n, i + 1, &k1, 0);
    if (OTHER(c1)) j = others_from(s, n, i + 1 + (size_t)k1);
  }
  if (j != (size_t)-1) {
    while (j < n && (s[j] == '\r' || s[j] == '\n')) j++;
    return j;
  }
  /* c0 is whitespace from here on. */
  {
    size_t last, nl;
    size_t e = ws_run(s, n, i, &last, &nl);
    if (nl) return nl; /* 5: \s*[\r\n]+ */
    if (e == n) return n;     /* 6 */
    if (last > i) return last; /* 6: all but the last whitespace char */
    return e;                  /* 7 */
  }
}
