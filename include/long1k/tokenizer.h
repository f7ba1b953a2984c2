/* long1k — Hugging Face tokenizer.json: byte-level BPE (Qwen2 / Qwen2.5 / Qwen3, Llama-3,
 * GPT-2 / SmolLM2 style, also vocabularies that lack some of the 256 byte symbols) and
 * SentencePiece-style BPE (Llama-2 / Mistral: Metaspace or Prepend + Replace, byte_fallback).
 *
 * Contract used by synth, train, eval and the CLI. Owned by the tokenizer module
 * (src/text/); it may grow, but these functions keep their meaning.
 *
 * Thread safety: a loaded tokenizer is immutable; encode/decode may be called from many
 * threads at once on the same l1k_tokenizer (each thread gets its own small cache, owned by
 * the tokenizer and freed with it).
 *
 * Invalid UTF-8 in the input is encoded losslessly: each invalid byte is treated as a lone
 * byte (its own pre-token piece) and mapped through the byte-level alphabet (SentencePiece
 * style: one character of its own, which byte_fallback encodes as <0xNN>), so
 * decode(encode(x)) returns the original bytes when the vocabulary has a symbol for every
 * byte (see docs/tokenizer.md for the exact rule).
 */
#ifndef LONG1K_TOKENIZER_H
#define LONG1K_TOKENIZER_H

#include <stddef.h>
#include <stdint.h>
#include "long1k/error.h"

typedef struct l1k_tokenizer l1k_tokenizer;

/* A growable id list. Free with l1k_ids_free. */
typedef struct l1k_ids {
  int32_t *data;
  size_t len, cap;
} l1k_ids;
int l1k_ids_push(l1k_ids *v, int32_t id);
void l1k_ids_free(l1k_ids *v);

/* path: a tokenizer.json file, or a directory containing one. */
l1k_tokenizer *l1k_tokenizer_load(const char *path, l1k_err *err);
void l1k_tokenizer_free(l1k_tokenizer *t);

/* Encodes text (added/special tokens written in the text are matched as tokens, as HF does
 * with add_special_tokens=False). Appends to *out. If offsets is not NULL, appends for each
 * token the [begin,end) byte range of text it came from (2 entries per token, as size_t). */
int l1k_tokenizer_encode(const l1k_tokenizer *t, const char *text, size_t len, l1k_ids *out,
                         size_t **offsets, l1k_err *err);
/* Number of tokens text encodes to (no allocation visible to the caller). */
int64_t l1k_tokenizer_count(const l1k_tokenizer *t, const char *text, size_t len, l1k_err *err);
/* Decodes ids to a malloc'ed NUL-terminated string (skip_special_tokens = false, as the
 * goldens): the tokens' bytes concatenated, *len of them (the text may contain NUL bytes or,
 * for ids that split a character, invalid UTF-8; HF would show U+FFFD there). Returns NULL
 * with err set for an id outside the vocabulary. */
char *l1k_tokenizer_decode(const l1k_tokenizer *t, const int32_t *ids, size_t n, size_t *len,
                           l1k_err *err);

int32_t l1k_tokenizer_vocab_size(const l1k_tokenizer *t);       /* max id + 1 */
int32_t l1k_tokenizer_token_to_id(const l1k_tokenizer *t, const char *token); /* -1 if none */
const char *l1k_tokenizer_id_to_token(const l1k_tokenizer *t, int32_t id); /* NULL if none */
int l1k_tokenizer_is_special(const l1k_tokenizer *t, int32_t id);

/* Text that has no symbol in the vocabulary (a byte-level vocabulary without some of the 256
 * byte tokens, or a SentencePiece vocabulary without byte_fallback and without unk_token) is
 * dropped, as Hugging Face tokenizers drops it. This counts the input bytes dropped by every
 * encode on t so far (all threads; atomic), so that a caller can say once how many were. */
uint64_t l1k_tokenizer_dropped_bytes(const l1k_tokenizer *t);
/* Byte-level vocabularies: how many of the 256 byte symbols the vocabulary lacks (0 for a
 * complete one and for SentencePiece-style tokenizers). */
int l1k_tokenizer_missing_bytes(const l1k_tokenizer *t);

#endif
