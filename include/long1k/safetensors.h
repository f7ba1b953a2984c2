/* long1k — safetensors files: memory-mapped reader and atomic writer.
 *
 * Format: 8-byte little-endian header length N, N bytes of JSON
 *   {"name": {"dtype": "F32", "shape": [2, 3], "data_offsets": [begin, end]}, ...,
 *    "__metadata__": {"key": "string value"}}
 * then the data buffer; offsets are relative to the start of the data buffer.
 *
 * The reader checks everything before handing out a pointer: header length within the file
 * (and at most 100 MB), valid JSON object, known dtype (F32 BF16 F16 I32 I64), shape of
 * non-negative integers whose product times the element size equals end - begin without
 * overflow, offsets inside the file, no two tensors overlapping, no duplicate names,
 * __metadata__ values strings. Every error names the file and the tensor / field.
 * Gaps between tensors are allowed (never read).
 */
#ifndef LONG1K_SAFETENSORS_H
#define LONG1K_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>
#include "long1k/dtype.h"
#include "long1k/error.h"
#include "long1k/io.h"

#define L1K_ST_MAX_DIMS 8

typedef struct l1k_st_tensor {
  char *name;
  l1k_dtype dtype;
  int ndim;
  int64_t shape[L1K_ST_MAX_DIMS];
  size_t numel;
  size_t nbytes;
  const void *data;   /* into the mapped file; NOT aligned in general */
} l1k_st_tensor;

typedef struct l1k_st_meta {
  char *key, *value;
} l1k_st_meta;

typedef struct l1k_safetensors {
  char *path;
  l1k_mmap map;          /* whole file (reader) */
  size_t n;              /* tensors, in header order */
  l1k_st_tensor *t;
  size_t n_meta;
  l1k_st_meta *meta;
} l1k_safetensors;

/* Maps and validates a file. On error everything is released and st is zeroed. */
int l1k_st_open(l1k_safetensors *st, const char *path, l1k_err *err);
/* Validates an in-memory file image (data must outlive st; not copied). `name` is used in
 * messages. This is what l1k_st_open uses and what the fuzzer drives. */
int l1k_st_parse(l1k_safetensors *st, const void *data, size_t size, const char *name,
                 l1k_err *err);
void l1k_st_close(l1k_safetensors *st);

const l1k_st_tensor *l1k_st_find(const l1k_safetensors *st, const char *name);
const char *l1k_st_meta_get(const l1k_safetensors *st, const char *key);

/* Copies a float tensor (F32/BF16/F16; I32/I64 too) into float32 dst of t->numel elements. */
void l1k_st_to_f32(const l1k_st_tensor *t, float *dst);

/* Writer: tensors are written in the given order, contiguous, header padded with spaces to a
 * multiple of 8. Each entry gives its data either already in `dtype` (data) or as float32
 * (f32, converted on the fly to the float dtype `dtype`). Atomic (temp file, fsync, rename). */
typedef struct l1k_st_entry {
  const char *name;
  l1k_dtype dtype;
  int ndim;
  int64_t shape[L1K_ST_MAX_DIMS];
  const void *data;   /* raw bytes in dtype, or NULL */
  const float *f32;   /* float32 source converted to dtype, or NULL */
} l1k_st_entry;

int l1k_st_write(const char *path, const l1k_st_entry *e, size_t n,
                 const l1k_st_meta *meta, size_t n_meta, l1k_err *err);

/* Sharded writer, as transformers' save_pretrained (5.25) writes a model it loaded with
 * from_pretrained:
 *  - the state dict is walked in transformers' "dot natural" key order (split on '.', numbers
 *    compared as numbers, words alphabetically: layers.2 before layers.10; l1k_st_natural_cmp);
 *  - tensors are added to the current shard until the next one would take it over
 *    max_shard_size bytes, then a new shard starts; a tensor bigger than max_shard_size alone
 *    goes into a shard of its own at once (so it may come BEFORE the shard still being filled,
 *    exactly as huggingface_hub's split_state_dict_into_shards_factory does);
 *  - one shard: dir/<stem>.safetensors and no index; several: dir/<stem>-00001-of-0000N.
 *    safetensors ... and dir/<stem>.safetensors.index.json =
 *    json.dumps({"metadata": {"total_parameters": P, "total_size": S}, "weight_map": {...}},
 *    indent=2, sort_keys=True) + "\n", S the sum of the tensors' bytes;
 *  - inside each file tensors are laid out sorted by name, as the safetensors library does.
 * Each file is written atomically, the shards before the index; shard files of an earlier save
 * that the new one does not use (<stem>-NNNNN-of-NNNNN.safetensors), and the single file or the
 * index the new save does not write, are removed afterwards, so the directory never mixes two
 * saves (transformers leaves a stale index behind when a sharded directory is resaved whole).
 * Entries must not share storage (tied weights are the caller's to drop). */
#define L1K_ST_DEFAULT_MAX_SHARD ((uint64_t)5 * 1000 * 1000 * 1000) /* "5GB": the Hub's size,
   transformers 4.x's default and huggingface_hub's (5.x defaults to 50GB; both load either) */
int l1k_st_natural_cmp(const char *a, const char *b);
/* Shard of each entry (shard_of[i], 0-based, in file-name order) and the shard count. */
int l1k_st_plan_shards(const l1k_st_entry *e, size_t n, uint64_t max_shard_size,
                       size_t *shard_of, size_t *n_shards, l1k_err *err);
int l1k_st_write_sharded(const char *dir, const char *stem, const l1k_st_entry *e, size_t n,
                         uint64_t max_shard_size, uint64_t total_parameters,
                         const l1k_st_meta *meta, size_t n_meta, l1k_err *err);

#endif
