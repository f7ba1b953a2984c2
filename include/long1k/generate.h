/* long1k — text generation with a KV cache (prefill, then one token per step).
 *
 * Used by `long1k generate`, `long1k eval --model DIR` and the demo. Owned by the model
 * module (src/model/generate*.c, src/model/sample.c).
 *
 *   l1k_generator *g = l1k_generator_create(model, 16, 4096, &err);  // 16 sequences at once
 *   l1k_gen_opts o;  l1k_gen_opts_default(&o);
 *   o.temperature = 0.7f; o.top_p = 0.95f; o.seed = 42; o.max_new_tokens = 512;
 *   l1k_gen_opts_use_tokenizer(&o, tok);          // optional: text output + stop strings
 *   l1k_gen_prompt p[2] = {{ids0, n0}, {ids1, n1}};
 *   l1k_gen_result r[2];
 *   l1k_generate(g, p, 2, &o, r, NULL, NULL, &err);  // r[i].ids, r[i].text, r[i].finish
 *   l1k_gen_results_free(r, 2); l1k_generator_free(g);
 *
 * The cached forward is written here against the flat float32 parameters of l1k_model (found
 * by their Hugging Face tensor names); it computes what l1k_model_forward computes for the
 * same tokens (tests compare both with the transformers reference logits).
 *
 * Many prompts are served with continuous batching: up to max_batch sequences decode together
 * (one matrix product over the batch per layer); when one finishes its slot takes the next
 * prompt. A prompt identical to one still running (n samples of one problem) copies that
 * prompt's KV cache and final logits instead of prefilling again. Sampling uses one random stream per prompt, derived from (seed, prompt index), so a
 * prompt's completion does not depend on which other prompts share the batch.
 *
 * Thread safety: one generator is used by one thread at a time (it owns the KV cache and
 * scratch buffers). Several generators may share one l1k_model.
 */
#ifndef LONG1K_GENERATE_H
#define LONG1K_GENERATE_H

#include <stddef.h>
#include <stdint.h>
#include "long1k/error.h"
#include "long1k/model.h"
#include "long1k/tokenizer.h"

typedef struct l1k_generator l1k_generator;

/* max_batch: sequences decoded at once (>= 1). max_ctx: prompt + completion tokens per
 * sequence (0 = the model's max_position_embeddings, capped at 32768). The KV cache holds
 * max_batch * max_ctx positions per layer (float32 K and V): its size is
 * l1k_generator_cache_bytes(). */
l1k_generator *l1k_generator_create(l1k_model *m, int max_batch, int max_ctx, l1k_err *err);
/* The same with the KV cache's memory given: on a device backend (the model attached to cuda,
 * l1k_model_attach) the generator runs on the device through the backend's decode entries
 * (src/backend/ops.h): a paged KV cache whose pool holds kv_budget_bytes (0: sized from the
 * device's free memory; l1k_generator_create reads $LONG1K_KV_MIB, else 0), prefill of many
 * prompts in one pass, batched decode steps; logits come back as float32 and are sampled on
 * the host by the same sampler, so everything below works the same. A sequence is admitted
 * only when the pool can hold its prompt and its longest completion; otherwise it waits for
 * a running one to finish. On the CPU engine kv_budget_bytes is ignored (the cache is
 * max_batch x max_ctx positions). */
l1k_generator *l1k_generator_create_ex(l1k_model *m, int max_batch, int max_ctx,
                                       uint64_t kv_budget_bytes, l1k_err *err);
void l1k_generator_free(l1k_generator *g);
/* Where the generator runs and its KV cache: device "cpu" (blocks = max_batch slots of max_ctx
 * positions, all allocated) or the backend's name with its pool's blocks. */
typedef struct l1k_gen_cache_info {
  const char *device;
  const char *dtype;   /* "F32" | "BF16": what the cache stores */
  int block_size;      /* positions per block */
  int n_blocks, used_blocks, peak_blocks;
  uint64_t bytes;
} l1k_gen_cache_info;
void l1k_generator_cache_info(const l1k_generator *g, l1k_gen_cache_info *ci);
int l1k_generator_max_batch(const l1k_generator *g);
int l1k_generator_max_ctx(const l1k_generator *g);
size_t l1k_generator_cache_bytes(const l1k_generator *g);
const l1k_model_config *l1k_generator_cfg(const l1k_generator *g);
int l1k_generator_vocab(const l1k_generator *g);

/* ---- low level: feed tokens into one slot's cache ----------------------------------------
 * Slot s (0 <= s < max_batch) holds one sequence. l1k_gen_feed appends n tokens at positions
 * len .. len+n-1 (len = tokens already in the slot) and, when logits is not NULL, writes the
 * logits of every fed position ([n * vocab] floats). The logits of the last fed position are
 * always available from l1k_gen_slot_logits until the slot is fed again. */
int l1k_gen_feed(l1k_generator *g, int slot, const int32_t *ids, int n, float *logits, l1k_err *err);
const float *l1k_gen_slot_logits(const l1k_generator *g, int slot);
int l1k_gen_slot_len(const l1k_generator *g, int slot);
void l1k_gen_slot_reset(l1k_generator *g, int slot);
/* Prefix sharing: slot dst gets the cached positions [0, n) of slot src (its length becomes n;
 * its logits are not touched — set them with l1k_gen_slot_set_logits if needed). */
int l1k_gen_slot_copy_prefix(l1k_generator *g, int dst, int src, int n, l1k_err *err);
void l1k_gen_slot_set_logits(l1k_generator *g, int slot, const float *logits);
/* One decode step for several slots at once: slot[i] gets token ids[i]; logits (optional,
 * [n * vocab]) receive each slot's next-token logits. Slots must be distinct. */
int l1k_gen_step(l1k_generator *g, const int *slots, const int32_t *ids, int n, float *logits,
                 l1k_err *err);

/* ---- sampling ------------------------------------------------------------------------------ */
/* A small, fast, splittable random stream (xoshiro256** seeded through splitmix64). */
typedef struct l1k_rng {
  uint64_t s[4];
} l1k_rng;
void l1k_rng_seed(l1k_rng *r, uint64_t seed, uint64_t stream);
uint64_t l1k_rng_next(l1k_rng *r);
double l1k_rng_uniform(l1k_rng *r); /* [0, 1) with 53 random bits */

typedef struct l1k_sampler {
  float temperature; /* <= 0: greedy (argmax; the first index on ties) */
  int top_k;         /* 0: off */
  float top_p;       /* >= 1: off */
  float min_p;       /* 0: off; keep tokens with p >= min_p * p_max */
  /* scratch (grown on demand) */
  int32_t *idx;
  float *prob;
  void *pairs;
  size_t cap;
} l1k_sampler;
/* Picks the next token from logits[vocab]: temperature, then top-k, then top-p (the smallest
 * set of most likely tokens whose probability reaches top_p), then min-p, then a draw from rng.
 * This is the order transformers applies its logits warpers in. Returns the id or -1 on
 * allocation failure. */
int32_t l1k_sample(l1k_sampler *s, const float *logits, int vocab, l1k_rng *rng);
void l1k_sampler_free(l1k_sampler *s);
int32_t l1k_argmax(const float *x, int n);

/* ---- high level: generate for many prompts ------------------------------------------------- */
typedef enum {
  L1K_FINISH_NONE = 0,
  L1K_FINISH_LENGTH, /* max_new_tokens reached, or the context is full */
  L1K_FINISH_EOS,    /* an end-of-sequence token (reported as "stop") */
  L1K_FINISH_STOP,   /* a stop string (reported as "stop") */
} l1k_finish;
/* "stop" (EOS or stop string) | "length" */
const char *l1k_finish_name(l1k_finish f);

/* Turns ids into text for stop strings, streaming and results. Byte-level BPE decoding is a
 * concatenation, so the generator decodes one token at a time and keeps the bytes. Returns a
 * malloc'ed buffer (NULL on error). */
typedef char *(*l1k_decode_fn)(void *ctx, const int32_t *ids, size_t n, size_t *len);

typedef struct l1k_gen_opts {
  int max_new_tokens;      /* default 256 */
  float temperature;       /* default 0 = greedy */
  int top_k;               /* default 0 = off */
  float top_p;             /* default 1 = off */
  float min_p;             /* default 0 = off */
  uint64_t seed;           /* default 0; prompt i samples from stream (seed, i + seed_offset) */
  uint64_t seed_offset;    /* for callers that split one job over several calls */
  const int32_t *eos_ids;  /* NULL: the model's EOS ids (config + generation_config) */
  int n_eos;
  int ignore_eos;          /* 1: never stop on EOS */
  const char *const *stop; /* stop strings (need decode); the completion is cut before them */
  int n_stop;
  int include_stop;        /* 1: keep the stop string / EOS text in the completion text */
  l1k_decode_fn decode;    /* NULL: no text (results carry ids only; stop strings refused) */
  void *decode_ctx;
} l1k_gen_opts;
void l1k_gen_opts_default(l1k_gen_opts *o);

/* Decoder over an l1k_tokenizer (skip_special_tokens = false). Inline so that code linking
 * only the model library does not need the tokenizer. */
static inline char *l1k_gen_tokenizer_decode(void *tok, const int32_t *ids, size_t n, size_t *len) {
  return l1k_tokenizer_decode((const l1k_tokenizer *)tok, ids, n, len, NULL);
}
static inline void l1k_gen_opts_use_tokenizer(l1k_gen_opts *o, const l1k_tokenizer *tok) {
  o->decode = tok ? l1k_gen_tokenizer_decode : NULL;
  o->decode_ctx = (void *)tok;
}

typedef struct l1k_gen_prompt {
  const int32_t *ids;
  int n;
} l1k_gen_prompt;

typedef struct l1k_gen_result {
  int32_t *ids;        /* generated ids, including the EOS id that ended it (if any) */
  int n_ids;
  char *text;          /* completion text (NULL without decode): stop string and EOS text
                          removed unless include_stop; well-formed UTF-8 (ill-formed bytes
                          become U+FFFD, as transformers' decode with errors="replace") */
  size_t text_len;
  l1k_finish finish;
  int prompt_tokens;
  int cached_prompt_tokens; /* prompt positions copied from an identical running prompt instead
                               of being computed (prefix sharing; the results are the same) */
  const char *stop_hit; /* the stop string that ended it (points into opts.stop), or NULL */
  double seconds;       /* wall time from its prefill start to its last token */
} l1k_gen_result;
void l1k_gen_results_free(l1k_gen_result *r, int n);

/* Streaming: called after every generated token of prompt `index`. text/len is the newly final
 * part of the completion text (possibly empty: bytes of an unfinished UTF-8 character, or text
 * that could still turn into a stop string, are held back and sent later); done = 1 on the
 * last call for that prompt (the finish reason is in r). Return non-zero to abort the whole
 * l1k_generate call (it then fails with L1K_EINPUT "cancelled"). */
typedef int (*l1k_gen_stream_fn)(void *user, int index, int32_t token, const char *text,
                                 size_t len, int done, const l1k_gen_result *r);

/* Generates a completion for each of n prompts, at most max_batch at a time. results[n] are
 * filled (free with l1k_gen_results_free, also after an error). A prompt that does not fit the
 * context (n >= max_ctx) or holds an id outside the vocabulary is refused up front with its
 * index. A completion is cut at max_ctx (finish "length"). */
int l1k_generate(l1k_generator *g, const l1k_gen_prompt *prompts, int n, const l1k_gen_opts *opts,
                 l1k_gen_result *results, l1k_gen_stream_fn stream, void *user, l1k_err *err);

#endif
