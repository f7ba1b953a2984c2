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
  const char *dataset_dir;        /* where dataset_info.json is looked up; NULL = "data" */
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

/* paths: datasets separated by commas, each a name in dataset_dir/dataset_info.json or a file
 * (see l1k_data_sources_resolve); concatenated in that order, max_samples records each. */
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

/* ---- LLaMA-Factory datasets (src/train/lfdata.c) -------------------------------------------
 * `dataset: identity,alpaca_en_demo` names entries of dataset_dir/dataset_info.json
 * (LLaMA-Factory's format: file_name (a file or a directory of files), formatting alpaca |
 * sharegpt | openai, columns, tags); a name that is not an entry is a file path (long1k's own
 * record formats, `formatting:`). Hub, script and cloud datasets, ranking, num_samples, tools
 * and multimodal columns are refused naming the dataset and the key. */
enum { L1K_LF_PROMPT, L1K_LF_QUERY, L1K_LF_RESPONSE, L1K_LF_HISTORY, L1K_LF_MESSAGES,
       L1K_LF_SYSTEM, L1K_LF_NCOL };
enum { L1K_LF_ROLE_TAG, L1K_LF_CONTENT_TAG, L1K_LF_USER_TAG, L1K_LF_ASSISTANT_TAG,
       L1K_LF_OBSERVATION_TAG, L1K_LF_FUNCTION_TAG, L1K_LF_SYSTEM_TAG, L1K_LF_NTAG };

typedef struct l1k_data_source {
  char *spec;                     /* the name or path as written in dataset: */
  int lf;                         /* 1: a dataset_info.json entry, 0: a path */
  char **files;                   /* lf: file_name, or the files of that directory (sorted) */
  int n_files;
  l1k_data_format formatting;     /* lf: ALPACA | SHAREGPT | OPENAI */
  char *col[L1K_LF_NCOL];         /* lf: column names; NULL = None (as LLaMA-Factory's attrs) */
  char *tag[L1K_LF_NTAG];         /* lf: sharegpt / openai tags; NULL = None */
  char *canon;                    /* the entry as JSON text (lf) or "path:..." (cache key) */
} l1k_data_source;

int l1k_data_sources_resolve(const char *spec, const char *dataset_dir, l1k_data_source **out,
                             int *n, l1k_err *err);
void l1k_data_sources_free(l1k_data_source *s, int n);

/* Records of one file: a JSON array (the first non-blank byte is '['), else JSON Lines;
 * either may be gzip-compressed. Returns 1 (caller cJSON_Delete's *rec), 0 at the end, -1
 * with a message naming the file and line. where: "file:LINE" or "file: record INDEX". */
typedef struct l1k_records l1k_records;
l1k_records *l1k_records_open(const char *path, l1k_err *err);
int l1k_records_next(l1k_records *r, struct cJSON **rec, l1k_err *err);
int l1k_records_is_array(const l1k_records *r);
const char *l1k_records_where(const l1k_records *r);
void l1k_records_close(l1k_records *r);

/* One record converted as LLaMA-Factory's converter for s->formatting does: messages with
 * roles "system" (first, only when non-empty), "user", "assistant". Strings point into rec or
 * into ms->owned. Records LLaMA-Factory would skip with a warning (bad role order, odd
 * message count, no response) are errors naming the field. */
typedef struct l1k_lf_msgs {
  l1k_chat_msg *m;
  size_t n;
  char **owned;
  size_t n_owned;
} l1k_lf_msgs;
int l1k_lf_convert(const struct cJSON *rec, const l1k_data_source *s, l1k_lf_msgs *ms,
                   l1k_err *err);
void l1k_lf_msgs_free(l1k_lf_msgs *ms);
/* l1k_lf_convert, default_system when the record has no system prompt, l1k_chat_encode. */
int l1k_lf_record_encode(const struct cJSON *rec, const l1k_data_source *s,
                         const l1k_data_opts *o, l1k_ids *ids, uint8_t **mask, l1k_err *err);

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
