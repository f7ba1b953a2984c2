/* long1k — tokenizer internals shared by the files in src/text (not a public header). */
#ifndef LONG1K_TEXT_TOK_INTERNAL_H
#define LONG1K_TEXT_TOK_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

/* ---- Unicode character classes (unicode.c) ----
 * The pre-tokenizer regexes use \s (Unicode White_Space, as Oniguruma in HF tokenizers),
 * \p{L} and \p{N}. The NFC "stable" bit marks characters that NFC leaves alone whatever
 * their neighbours (no canonical decomposition, combining class 0, never the second part of
 * a canonical composition): a text made only of them is already NFC, and a position before
 * one of them is a safe place to cut a text for normalization. */
enum {
  UC_L = 1,      /* \p{L} */
  UC_N = 2,      /* \p{N} */
  UC_S = 4,      /* \s */
  UC_NL = 8,     /* '\r' or '\n' */
  UC_STABLE = 16, /* NFC-stable (see above) */
  UC_HFNEW = 32   /* has a combining class or composes in utf8proc, but not in HF's
                     Unicode 9.0 NFC data: a plain starter there (unicode.c) */
};

/* Initializes the lookup tables once per process (thread-safe; cheap after the first call). */
void l1k_uc_init(void);
/* Class bits of a code point. l1k_uc_init() must have run. */
int l1k_uc_class(uint32_t cp);
/* Word character for single_word added tokens (HF: the regex crate's \w). */
int l1k_uc_is_word(uint32_t cp);
/* Python str.isspace() (used by the Jinja "trim" filter in the Llama-3 template). */
int l1k_uc_py_isspace(uint32_t cp);

/* Decodes one strictly valid UTF-8 sequence at s[0..n) (no overlongs, no surrogates, at most
 * U+10FFFF). Returns its length (1-4) and sets *cp, or 0 if the bytes there are not valid. */
static inline int l1k_utf8_decode(const uint8_t *s, size_t n, uint32_t *cp) {
  uint8_t c = s[0];
  if (c < 0x80) {
    *cp = c;
    return 1;
  }
  if (c < 0xC2) return 0;
  if (c < 0xE0) {
    if (n < 2 || (s[1] & 0xC0) != 0x80) return 0;
    *cp = ((uint32_t)(c & 0x1F) << 6) | (s[1] & 0x3F);
    return 2;
  }
  if (c < 0xF0) {
    if (n < 3 || (s[1] & 0xC0) != 0x80 || (s[2] & 0xC0) != 0x80) return 0;
    if (c == 0xE0 && s[1] < 0xA0) return 0; /* overlong */
    if (c == 0xED && s[1] >= 0xA0) return 0; /* surrogate */
    *cp = ((uint32_t)(c & 0x0F) << 12) | ((uint32_t)(s[1] & 0x3F) << 6) | (s[2] & 0x3F);
    return 3;
  }
  if (c < 0xF5) {
    if (n < 4 || (s[1] & 0xC0) != 0x80 || (s[2] & 0xC0) != 0x80 || (s[3] & 0xC0) != 0x80)
      return 0;
    if (c == 0xF0 && s[1] < 0x90) return 0; /* overlong */
    if (c == 0xF4 && s[1] >= 0x90) return 0; /* > U+10FFFF */
    *cp = ((uint32_t)(c & 0x07) << 18) | ((uint32_t)(s[1] & 0x3F) << 12) |
          ((uint32_t)(s[2] & 0x3F) << 6) | (s[3] & 0x3F);
    return 4;
  }
  return 0;
}

/* ---- NFC (unicode.c) ----
 * Normalizes valid UTF-8 s[0..n). Returns 0 and sets *out = NULL when s is already NFC as
 * far as the fast check can tell (the common case: nothing to copy). Otherwise *out is a
 * malloc'ed normalized copy of length *out_len and, if map is not NULL, *map is a malloc'ed
 * array of 2 * (*out_len) size_t: for each output byte the [begin,end) range of input bytes
 * it came from. Returns -1 when out of memory. */
int l1k_nfc(const uint8_t *s, size_t n, uint8_t **out, size_t *out_len, size_t **map);

/* ---- Pre-tokenizer (pretok.c) ---- */
typedef enum {
  L1K_PRE_QWEN = 1, /* Qwen2/2.5/3: \p{N} one digit at a time */
  L1K_PRE_LLAMA3,   /* Llama-3 / cl100k: \p{N}{1,3} */
  L1K_PRE_GPT2,     /* GPT-2 ByteLevel(use_regex=true) */
} l1k_pre_kind;

/* Splits valid UTF-8 s[0..n) into pre-tokens; returns the end of the piece starting at i
 * (i < n). Call repeatedly: i = next. */
size_t l1k_pretok_next(l1k_pre_kind kind, const uint8_t *s, size_t n, size_t i);

#endif
