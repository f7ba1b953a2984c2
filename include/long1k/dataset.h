/* long1k — SFT datasets: JSONL records -> chat messages -> token ids + loss mask, cached in a
 * memory-mapped binary file; rows (packed or not) and padded micro-batches.
 *
 * Record formats (formatting: auto picks by the fields present):
 *   openai    {"messages": [{"role": "system|user|assistant", "content": "..."}]}
 *   sharegpt  {"conversations": [{"from": "human|user|gpt|assistant|system", "value": "..."}],
 *              "system": "..." (optional, OpenThoughts)}
 *   alpaca    {"instruction": "...", "input": "...", "output": "...", "system": "...",
 *              "history": [["q", "a"], ...]}
 *   fields    {question_field, reasoning_field, answer_field} (s1K-1.1: question,
 *              deepseek_thinking_trajectory, deepseek_attempt), the reply built from
 *              response_format ("<think>\n{reasoning}\n</think>\n\n{answer}")
 *   tokenized {"input_ids": [...], "labels": [... -100 ...]} or {"input_ids", "loss_mask"}
 * The loss mask comes from l1k_chat_encode: every assistant turn's tokens and its end-of-turn
 * token.
 */
#ifndef LONG1K_DATASET_H
#define LONG1K_DATASET_H

#include <stddef.h>
#include <stdint.h>
#include "long1k/chat.h"
#include "long1k/error.h"
#include "long1k/io.h"
#include "long1k/tokenizer.h"

typedef enum {
  L1K_FMT_AUTO = 0,
  L1K_FMT_OPENAI,
  L1K_FMT_SHAREGPT,
  L1K_FMT_ALPACA,
  L1K_FMT_FIELDS,
  L1K_FMT_TOKENIZED,
} l1k_data_format;

typedef struct l1k_data_opts {
  l1k_data_format format;
  const l1k_tokenizer *tok;       /* may be NULL when every record is tokenized */
  const char *tokenizer_path;     /* hashed into the cache key */
  l1k_template tmpl;
  int enable_thinking;            /* -1 = template default */
  int64_t cutoff_len;
  int truncate;                   /* 0: drop over-length samples, 1: cut them at cutoff_len */
  int skip_bad_records;
  int64_t max_samples;            /* 0 = all */
  const char *question_field, *reasoning_field, *answer_field, *system_field;
  const char *response_format;
  const char *default_system;
  const char *cache_dir;          /* NULL: no cache (tokenize in memory) */
  int overwrite_cache;
} l1k_data_opts;

void l1k_data_opts_default(l1k_data_opts *o);

typedef struct l1k_dataset_stats {
  int64_t records;      /* non-blank lines read */
  int64_t bad;          /* malformed records skipped (skip_bad_records) */
  int64_t too_long;     /* dropped: longer than cutoff_len */
  int64_t truncated;    /* cut to cutoff_len */
  int64_t no_target;    /* dropped: no loss token (after truncation) */
  int64_t not_read;     /* records past max_samples */
} l1k_dataset_stats;

typedef struct l1k_dataset {
  int64_t n;            /* samples */
  int64_t n_tokens;
  const int64_t *off;   /* [n+1] token offsets of each sample */
  const int32_t *ids;   /* [n_tokens] */
  const uint8_t *mask;  /* [n_tokens] 1 = loss on this token */
  l1k_dataset_stats stats;
  int from_cache;       /* 1 when read from an existing cache file */
  char cache_path[4096];
  /* storage: a mapped cache file, or heap memory */
  l1k_mmap map;
  void *heap;
} l1k_dataset;

/* paths: one JSONL file or several separated by commas. */
int l1k_dataset_load(const char *paths, const l1k_data_opts *o, l1k_dataset *ds, l1k_err *err);
void l1k_dataset_free(l1k_dataset *ds);
static inline int64_t l1k_dataset_len(const l1k_dataset *ds, int64_t i) {
  return ds->off[i + 1] - ds->off[i];
}
/* Checks a cache file's bytes (magic, version, key, sizes, crc32, offsets, ids, mask): 0 when it
 * can be used, else L1K_EINPUT with "<path>: <field> ..." (the loader then rebuilds it). */
int l1k_dataset_cache_check(const void *data, size_t size, uint64_t key, const char *path,
                            l1k_err *err);

/* Loss positions of sample i as the model counts them (mask at positions 1..len-1). */
int64_t l1k_dataset_targets(const l1k_dataset *ds, int64_t i);

/* One record (parsed JSON) to ids + mask; used by load and by tests. *why gets a message for
 * a malformed record (prefixed by the caller with file:line). */
struct cJSON;
int l1k_record_encode(const struct cJSON *rec, const l1k_data_opts *o, l1k_ids *ids,
                      uint8_t **mask, l1k_err *err);

/* ---- rows and micro-batches ---------------------------------------------------------------
 * A row holds one sample, or several (neat_packing) whose total length fits cutoff_len. */
typedef struct l1k_rows {
  int64_t n;            /* rows */
  int64_t *start;       /* [n+1] into item */
  int64_t *item;        /* sample indices */
  int64_t *len;         /* [n] tokens per row */
  int64_t *targets;     /* [n] loss positions per row */
} l1k_rows;

/* One row per sample in `samples` (order kept). */
int l1k_rows_single(const l1k_dataset *ds, const int64_t *samples, int64_t n, l1k_rows *r,
                    l1k_err *err);
/* First-fit-decreasing packing of `samples` into rows of at most cap tokens (deterministic:
 * ties by sample index). */
int l1k_rows_pack(const l1k_dataset *ds, const int64_t *samples, int64_t n, int64_t cap,
                  l1k_rows *r, l1k_err *err);
void l1k_rows_free(l1k_rows *r);

/* Fills a batch of the given rows (row indices into r), padded to the longest: ids 0,
 * labels -100, positions restarting per sample, a distinct doc id per sample and for the
 * padding. Buffers must hold nrows * T entries; returns T (0 for no rows). */
int l1k_batch_fill(const l1k_dataset *ds, const l1k_rows *r, const int64_t *rows, int nrows,
                   int32_t *ids, int32_t *labels, int32_t *pos, int32_t *doc);

#endif
