/* long1k — Unicode character classes for the pre-tokenizer, and NFC with byte alignment.
 *
 * Categories come from utf8proc (Unicode 15.0 in Debian 12's utf8proc 2.8). Hugging Face
 * tokenizers 0.23 matches \p{L} / \p{N} with Oniguruma's Unicode 16.0 tables; the code points
 * that Unicode 16.0 added as letters or numbers (unassigned in 15.0) are listed below and
 * used only where utf8proc says "unassigned", so a newer utf8proc simply takes over.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "text/tok_internal.h"

/* Letters and numbers new in Unicode 16.0 (ranges, inclusive). */
static const uint32_t u16_letters[][2] = {
    {0x1C89, 0x1C8A},   {0xA7CB, 0xA7CD},   {0xA7DA, 0xA7DC},   {0x105C0, 0x105F3},
    {0x10D4A, 0x10D65}, {0x10D6F, 0x10D85}, {0x10EC2, 0x10EC4}, {0x11380, 0x11389},
    {0x1138B, 0x1138B}, {0x1138E, 0x1138E}, {0x11390, 0x113B5}, {0x113B7, 0x113B7},
    {0x113D1, 0x113D1}, {0x113D3, 0x113D3}, {0x11BC0, 0x11BE0}, {0x13460, 0x143FA},
    {0x16100, 0x1611D}, {0x16D40, 0x16D6C}, {0x18CFF, 0x18CFF}, {0x1E5D0, 0x1E5ED},
    {0x1E5F0, 0x1E5F0}, {0x2EBF0, 0x2EE5D},
};
static const uint32_t u16_numbers[][2] = {
    {0x10D40, 0x10D49}, {0x116D0, 0x116E3}, {0x11BF0, 0x11BF9}, {0x16130, 0x16139},
    {0x16D70, 0x16D79}, {0x1CCF0, 0x1CCF9}, {0x1E5F1, 0x1E5FA},
};

/* NFC as Hugging Face tokenizers does it. Its normalizer (the unicode-normalization-alignments
 * crate) carries Unicode 9.0 data: characters added later have no combining class and no
 * decomposition there. The ones for which that matters -- later combining marks (utf8proc
 * gives them a class, HF treats them as starters that block reordering and composition) and
 * U+11930, the second half of the Unicode 13 composite U+11938 -- are listed here (found by
 * running HF's NFC over every code point with a combining class or a canonical
 * decomposition; nothing else differs). */
static const uint32_t hf_nfc_starters[][2] = {
    {0x7FD, 0x7FD}, {0x898, 0x89F}, {0x8CA, 0x8D3}, {0x9FE, 0x9FE},
    {0xC3C, 0xC3C}, {0xD3B, 0xD3C}, {0xEBA, 0xEBA}, {0x1715, 0x1715},
    {0x1ABF, 0x1ACE}, {0x1DF6, 0x1DFA}, {0xA82C, 0xA82C}, {0x10D24, 0x10D27},
    {0x10EAB, 0x10EAC}, {0x10EFD, 0x10EFF}, {0x10F46, 0x10F50}, {0x10F82, 0x10F85},
    {0x11070, 0x11070}, {0x1133B, 0x1133B}, {0x1145E, 0x1145E}, {0x11839, 0x1183A},
    {0x1193D, 0x1193E}, {0x11943, 0x11943}, {0x119E0, 0x119E0}, {0x11A34, 0x11A34},
    {0x11A47, 0x11A47}, {0x11A99, 0x11A99}, {0x11D42, 0x11D42}, {0x11D44, 0x11D45},
    {0x11D97, 0x11D97}, {0x11F41, 0x11F42}, {0x16FF0, 0x16FF1}, {0x1E08F, 0x1E08F},
    {0x1E130, 0x1E136}, {0x1E2AE, 0x1E2AE}, {0x1E2EC, 0x1E2EF}, {0x1E4EC, 0x1E4EF},
    {0x11930, 0x11930},
};

#define UC_MAX 0x110000
/* Planes 3 (after CJK Ext. H) to 13 have nothing assigned in Unicode 15 or 16: no letters,
 * numbers, spaces, marks or decompositions. The table build skips them. */
#define UC_EMPTY_BEGIN 0x323B0
#define UC_EMPTY_END 0xE0000
static uint8_t uc_table[UC_MAX]; /* written once under pthread_once, read-only after */
static pthread_once_t uc_once = PTHREAD_ONCE_INIT;

static int in_ranges(uint32_t cp, const uint32_t (*r)[2], size_t n) {
  for (size_t i = 0; i < n; i++)
    if (cp >= r[i][0] && cp <= r[i][1]) return 1;
  return 0;
}

/* White_Space (what Oniguruma's \s matches in UTF-8 mode; checked against HF). */
static int is_white_space(uint32_t cp) {
  return (cp >= 0x09 && cp <= 0x0D) || cp == 0x20 || cp == 0x85 || cp == 0xA0 || cp == 0x1680 ||
         (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 || cp == 0x202F ||
         cp == 0x205F || cp == 0x3000;
}

/* Word characters for HF's single_word added tokens (the regex crate's \w: Alphabetic, marks,
 * Nd, Pc, Join_Control), checked against HF over every code point. Beyond the categories:
 * the alphabetic symbols (circled / squared Latin letters), ZWNJ/ZWJ, and Unicode 16 additions
 * (used only where utf8proc says unassigned). */
static const uint32_t word_extra[][2] = {
    {0x24B6, 0x24E9}, {0x1F130, 0x1F149}, {0x1F150, 0x1F169}, {0x1F170, 0x1F189}, {0x200C, 0x200D},
};
static const uint32_t word_u16[][2] = {
    {0x897, 0x897},     {0x1C89, 0x1C8A},   {0xA7CB, 0xA7CD},   {0xA7DA, 0xA7DC},
    {0x105C0, 0x105F3}, {0x10D40, 0x10D65}, {0x10D69, 0x10D6D}, {0x10D6F, 0x10D85},
    {0x10EC2, 0x10EC4}, {0x10EFC, 0x10EFC}, {0x11380, 0x11389}, {0x1138B, 0x1138B},
    {0x1138E, 0x1138E}, {0x11390, 0x113B5}, {0x113B7, 0x113C0}, {0x113C2, 0x113C2},
    {0x113C5, 0x113C5}, {0x113C7, 0x113CA}, {0x113CC, 0x113D3}, {0x113E1, 0x113E2},
    {0x116D0, 0x116E3}, {0x11BC0, 0x11BE0}, {0x11BF0, 0x11BF9}, {0x11F5A, 0x11F5A},
    {0x13460, 0x143FA}, {0x16100, 0x16139}, {0x16D40, 0x16D6C}, {0x16D70, 0x16D79},
    {0x18CFF, 0x18CFF}, {0x1CCF0, 0x1CCF9}, {0x1E5D0, 0x1E5FA}, {0x2EBF0, 0x2EE5D},
};

int l1k_uc_is_word(uint32_t cp) {
  if (cp >= UC_MAX) return 0;
  int cat = utf8proc_category((utf8proc_int32_t)cp);
  if ((cat >= UTF8PROC_CATEGORY_LU && cat <= UTF8PROC_CATEGORY_ME) ||
      cat == UTF8PROC_CATEGORY_ND || cat == UTF8PROC_CATEGORY_NL || cat == UTF8PROC_CATEGORY_PC)
    return 1;
  if (in_ranges(cp, word_extra, sizeof word_extra / sizeof word_extra[0])) return 1;
  return cat == UTF8PROC_CATEGORY_CN && in_ranges(cp, word_u16, sizeof word_u16 / sizeof word_u16[0]);
}

int l1k_uc_py_isspace(uint32_t cp) {
  /* Python's str.isspace(): bidi class WS/B/S or category Zs. */
  return is_white_space(cp) || (cp >= 0x1C && cp <= 0x1F);
}

static void uc_build(void) {
  /* 1. code points that occur after the first position of a canonical decomposition: they may
   *    be the second half of a composition. */
  static uint8_t second[UC_MAX];
  for (uint32_t cp = 0; cp < UC_MAX; cp++) {
    if (cp >= 0xD800 && cp < 0xE000) continue;
    if (cp == UC_EMPTY_BEGIN) cp = UC_EMPTY_END;
    const utf8proc_property_t *p = utf8proc_get_property((utf8proc_int32_t)cp);
    if (p->decomp_seqindex == UINT16_MAX || p->decomp_type != 0) continue;
    utf8proc_int32_t buf[32];
    int bc = 0;
    utf8proc_ssize_t k =
        utf8proc_decompose_char((utf8proc_int32_t)cp, buf, 32, UTF8PROC_DECOMPOSE, &bc);
    for (utf8proc_ssize_t j = 1; j < k && j < 32; j++)
      if (buf[j] >= 0 && buf[j] < UC_MAX) second[buf[j]] = 1;
  }
  /* Hangul: vowels and trailing consonants compose algorithmically. */
  for (uint32_t cp = 0x1161; cp <= 0x1175; cp++) second[cp] = 1;
  for (uint32_t cp = 0x11A8; cp <= 0x11C2; cp++) second[cp] = 1;

  for (uint32_t cp = 0; cp < UC_MAX; cp++) {
    if (cp >= 0xD800 && cp < 0xE000) {
      uc_table[cp] = 0;
      continue;
    }
    if (cp >= UC_EMPTY_BEGIN && cp < UC_EMPTY_END) {
      uc_table[cp] = UC_STABLE;
      continue;
    }
    const utf8proc_property_t *p = utf8proc_get_property((utf8proc_int32_t)cp);
    int c = 0;
    int cat = p->category;
    if (cat >= UTF8PROC_CATEGORY_LU && cat <= UTF8PROC_CATEGORY_LO) c |= UC_L;
    if (cat == UTF8PROC_CATEGORY_ND || cat == UTF8PROC_CATEGORY_NL || cat == UTF8PROC_CATEGORY_NO)
      c |= UC_N;
    if (cat == UTF8PROC_CATEGORY_CN) {
      if (in_ranges(cp, u16_letters, sizeof u16_letters / sizeof u16_letters[0])) c |= UC_L;
      if (in_ranges(cp, u16_numbers, sizeof u16_numbers / sizeof u16_numbers[0])) c |= UC_N;
    }
    if (is_white_space(cp)) c |= UC_S;
    if (cp == '\r' || cp == '\n') c |= UC_NL;
    /* NFC-stable: combining class 0, not a second half, and either no canonical decomposition
     * or one that NFC recomposes to the character itself and that starts with a starter that
     * is not a second half either (e.g. U+00E9 -> e + U+0301 -> U+00E9). */
    int stable = p->combining_class == 0 && !second[cp];
    if (stable && p->decomp_seqindex != UINT16_MAX && p->decomp_type == 0) {
      utf8proc_int32_t buf[32];
      int bc = 0;
      utf8proc_ssize_t k =
          utf8proc_decompose_char((utf8proc_int32_t)cp, buf, 32, UTF8PROC_DECOMPOSE, &bc);
      stable = 0;
      if (k >= 1 && k <= 32 && buf[0] >= 0 && buf[0] < UC_MAX && !second[buf[0]] &&
          utf8proc_get_property(buf[0])->combining_class == 0) {
        uint8_t in[4], *norm = NULL;
        utf8proc_ssize_t n = utf8proc_encode_char((utf8proc_int32_t)cp, in);
        utf8proc_ssize_t r = utf8proc_map(in, n, &norm, UTF8PROC_STABLE | UTF8PROC_COMPOSE);
        stable = r == n && memcmp(norm, in, (size_t)n) == 0;
        free(norm);
      }
    }
    if (in_ranges(cp, hf_nfc_starters, sizeof hf_nfc_starters / sizeof hf_nfc_starters[0]))
      stable = 1, c |= UC_HFNEW;
    if (stable) c |= UC_STABLE;
    uc_table[cp] = (uint8_t)c;
  }
}

void l1k_uc_init(void) { pthread_once(&uc_once, uc_build); }

int l1k_uc_class(uint32_t cp) { return cp < UC_MAX ? uc_table[cp] : 0; }

/* ---- NFC ----
 * A text is cut before every NFC-stable character; each piece is a stable character followed
 * by unstable ones (combining marks, decomposable letters, ...). Pieces made of one stable
 * character stay as they are; the others go through utf8proc's NFC. Cutting there cannot
 * change the result: a stable character never composes with what precedes it and, being a
 * starter, stops canonical reordering. Every output byte of a changed piece maps to the whole
 * input piece. */

typedef struct {
  uint8_t *d;
  size_t len, cap;
  size_t *map; /* 2 per byte, or NULL */
  int want_map;
} nbuf;

static int nb_reserve(nbuf *b, size_t extra) {
  if (b->len + extra <= b->cap) return 0;
  size_t nc = b->cap ? b->cap : 256;
  while (nc < b->len + extra) nc *= 2;
  uint8_t *nd = realloc(b->d, nc);
  if (!nd) return -1;
  b->d = nd;
  if (b->want_map) {
    size_t *nm = realloc(b->map, nc * 2 * sizeof(size_t));
    if (!nm) return -1;
    b->map = nm;
  }
  b->cap = nc;
  return 0;
}

/* Appends bytes that map one to one onto input bytes starting at src_off. */
static int nb_copy(nbuf *b, const uint8_t *src, size_t n, size_t src_off) {
  if (nb_reserve(b, n)) return -1;
  memcpy(b->d + b->len, src, n);
  if (b->want_map)
    for (size_t i = 0; i < n; i++) {
      b->map[2 * (b->len + i)] = src_off + i;
      b->map[2 * (b->len + i) + 1] = src_off + i + 1;
    }
  b->len += n;
  return 0;
}

static int nb_span(nbuf *b, const uint8_t *src, size_t n, size_t beg, size_t end) {
  if (nb_reserve(b, n)) return -1;
  memcpy(b->d + b->len, src, n);
  if (b->want_map)
    for (size_t i = 0; i < n; i++) {
      b->map[2 * (b->len + i)] = beg;
      b->map[2 * (b->len + i) + 1] = end;
    }
  b->len += n;
  return 0;
}

int l1k_nfc(const uint8_t *s, size_t n, uint8_t **out, size_t *out_len, size_t **map) {
  l1k_uc_init();
  *out = NULL;
  *out_len = n;
  if (map) *map = NULL;
  /* fast check: all stable? */
  size_t i = 0;
  while (i < n) {
    if (s[i] < 0x80) {
      i++;
      continue;
    }
    uint32_t cp;
    int k = l1k_utf8_decode(s + i, n - i, &cp);
    if (k == 0) k = 1, cp = 0; /* callers pass valid UTF-8; a stray byte stays as it is */
    if (!(uc_table[cp] & UC_STABLE)) break;
    i += (size_t)k;
  }
  if (i >= n) return 0;

  nbuf b = {0};
  b.want_map = map != NULL;
  size_t copied = 0, piece = 0;
  int unstable = 0;
  /* restart from the stable char before the first unstable one */
  if (i > 0) {
    size_t j = i - 1;
    while (j > 0 && (s[j] & 0xC0) == 0x80) j--;
    piece = copied = 0;
    i = j;
  }
  while (i <= n) {
    int st = 1, k = 1;
    if (i < n) {
      uint32_t cp;
      k = l1k_utf8_decode(s + i, n - i, &cp);
      if (k == 0) k = 1, cp = 0;
      st = (uc_table[cp] & UC_STABLE) != 0;
    }
    if (st) {
      if (unstable) { /* normalize the piece [piece, i) */
        if (piece > copied && nb_copy(&b, s + copied, piece - copied, copied)) goto oom;
        /* a starter for HF that utf8proc would reorder or compose: keep it, normalize the rest */
        uint32_t c0;
        int k0 = l1k_utf8_decode(s + piece, i - piece, &c0);
        if (k0 > 0 && (uc_table[c0] & UC_HFNEW)) {
          if (nb_copy(&b, s + piece, (size_t)k0, piece)) goto oom;
          piece += (size_t)k0;
        }
        utf8proc_uint8_t *norm = NULL;
        utf8proc_ssize_t r = utf8proc_map(s + piece, (utf8proc_ssize_t)(i - piece), &norm,
                                          UTF8PROC_STABLE | UTF8PROC_COMPOSE);
        int bad;
        if (r < 0) {
          if (r == UTF8PROC_ERROR_NOMEM) goto oom;
          bad = nb_copy(&b, s + piece, i - piece, piece); /* not reached for valid UTF-8 */
        } else if ((size_t)r == i - piece && memcmp(norm, s + piece, (size_t)r) == 0) {
          bad = nb_copy(&b, s + piece, i - piece, piece);
        } else {
          bad = nb_span(&b, norm, (size_t)r, piece, i);
        }
        free(norm);
        if (bad) goto oom;
        copied = i;
      }
      piece = i;
      unstable = 0;
    } else {
      unstable = 1;
    }
    if (i == n) break;
    i += (size_t)k;
  }
  if (n > copied && nb_copy(&b, s + copied, n - copied, copied)) goto oom;
  *out = b.d;
  *out_len = b.len;
  if (map) *map = b.map;
  else free(b.map);
  return 0;
oom:
  free(b.d);
  free(b.map);
  return -1;
}
