/* long1k — trainer internals shared by trainer.c, checkpoint.c and parity.c. */
#ifndef LONG1K_TRAIN_INTERNAL_H
#define LONG1K_TRAIN_INTERNAL_H

#include <stdint.h>
#include "long1k/jsonl.h"
#include "long1k/model.h"
#include "long1k/optim.h"
#include "long1k/train.h"

/* Fisher-Yates with splitmix64 seeded from (seed, stream); stream = epoch + 1, 0 = val split. */
void l1k_train_shuffle(int64_t *v, int64_t n, uint64_t seed, uint64_t stream);

/* The partial logging window: losses, steps and tokens since the last logged step (carried in
 * the checkpoint, so a resume logs the uninterrupted run's mean loss). */
typedef struct l1k_log_window {
  double loss_sum;
  int64_t steps, tokens;
} l1k_log_window;

/* train_state.bin, parsed and checked (see checkpoint.c for the layout). The arrays point into
 * the parsed buffer (perm unaligned: read with memcpy). */
typedef struct l1k_train_state {
  uint64_t n_params, seed;
  int64_t adam_step, global_step, tokens, perm_epoch, n_rows, rows_per_step;
  l1k_log_window win;
  const unsigned char *params, *m, *v, *perm; /* [n_params] f32 x3, [n_rows] i64 */
} l1k_train_state;
/* Checks magic, version, size, checksum and every field's range (the permutation is one);
 * L1K_EINPUT with "<path>: <field> ..." on damage. */
int l1k_train_state_parse(const void *data, size_t size, const char *path, l1k_train_state *s,
                          l1k_err *err);

/* Removes stale temporary / trash directories (rank 0), resolves resume_from_checkpoint
 * into resume_dir ("" = fresh start) and refuses to start over existing checkpoints unless
 * overwrite_output_dir (then they are removed by rank 0). */
int l1k_ckpt_prepare_output(const l1k_train_config *c, int rank, char *resume_dir, size_t cap,
                            l1k_err *err);
/* Latest complete checkpoint-<N> in dir (returns N, or -1 with path untouched). */
int64_t l1k_ckpt_latest(const char *dir, char *path, size_t cap);
/* Writes output_dir/checkpoint-<step>/ atomically (temp dir, fsync, rename) and applies
 * save_total_limit. path receives the final directory. */
int l1k_ckpt_save(const l1k_train_config *c, const l1k_model *m, const char *tok_dir,
                  const l1k_adamw *opt, int64_t step, int64_t tokens, int64_t spe,
                  int64_t total_steps, int64_t perm_epoch, const int64_t *perm, int64_t n_rows,
                  int64_t rows_per_step, const l1k_log_window *win, const l1k_buf *log,
                  char *path, size_t cap, l1k_err *err);
/* Restores parameters, moments, step counters, the epoch's data order and the log. */
int l1k_ckpt_load_state(const char *dir, l1k_model *m, l1k_adamw *opt, int64_t *step,
                        int64_t *tokens, int64_t *perm_epoch, int64_t *perm, int64_t n_rows,
                        uint64_t seed, int64_t rows_per_step, l1k_log_window *win, l1k_buf *log,
                        l1k_err *err);

#endif
