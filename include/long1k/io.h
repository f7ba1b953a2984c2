/* long1k — files: whole-file reads, memory maps, atomic writes, directories. */
#ifndef LONG1K_IO_H
#define LONG1K_IO_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "long1k/error.h"

/* Reads a whole file into a NUL-terminated buffer (free with free()). *len may be NULL. */
char *l1k_read_file(const char *path, size_t *len, l1k_err *err);

/* Read-only memory map of a whole file. An empty file maps to data=NULL, size=0. */
typedef struct l1k_mmap {
  void *data;
  size_t size;
} l1k_mmap;
int l1k_mmap_open(l1k_mmap *m, const char *path, l1k_err *err);
void l1k_mmap_close(l1k_mmap *m);

/* Atomic write: data goes to "<path>.tmp.<pid>", is fsync'ed, then renamed over path and the
 * directory fsync'ed. A crash leaves either the old file or the new one, never half of it.
 * This holds for an absent path or a regular file; a symlink is resolved first (its target is
 * replaced, the link kept). A path that is not a regular file (character device such as
 * /dev/null, FIFO, socket, /dev/stdout, /dev/stderr, /dev/fd/N) is opened and written directly;
 * a directory is refused (L1K_EINPUT). Every -o / --out of the CLI goes through here. */
int l1k_write_file_atomic(const char *path, const void *data, size_t len, l1k_err *err);

/* Streaming atomic writer for large outputs (same guarantees as above). */
typedef struct l1k_atomic_file {
  FILE *f;
  char *path;     /* the file replaced (symlinks resolved) */
  char *tmp_path; /* the temp file written (== path when direct) */
  int direct;     /* 1: not a regular file, written in place */
} l1k_atomic_file;
int l1k_atomic_open(l1k_atomic_file *a, const char *path, l1k_err *err);
int l1k_atomic_commit(l1k_atomic_file *a, l1k_err *err); /* fsync + rename; closes */
/* Flushes, fsyncs and closes the temp file without renaming it: for outputs that commit
 * together (write and sync every one, then l1k_atomic_commit each: only renames remain). */
int l1k_atomic_sync(l1k_atomic_file *a, l1k_err *err);
void l1k_atomic_abort(l1k_atomic_file *a);                 /* removes the temp file */

/* path with every symlink of its last component followed (the target may be absent);
 * malloc'ed. NULL on a loop (L1K_EINPUT) or out of memory. */
char *l1k_resolve_links(const char *path, l1k_err *err);
/* Checks an output path before the work starts: L1K_EINPUT when it is a directory, or the same
 * file (device and inode) as one of the n inputs (NULL entries are skipped). NULL or "-" pass. */
int l1k_output_check(const char *out, const char *const *inputs, size_t n, l1k_err *err);

/* Exclusive lock on DIR/.long1k.lock (flock; the file keeps the holder's pid). Returns the
 * descriptor (>= 0) to pass to l1k_dir_unlock; -1 with L1K_EINPUT "<dir>: in use by another
 * long1k run (pid N)" when another process holds it. The kernel drops the lock when the holder
 * exits, even by SIGKILL. */
int l1k_dir_lock(const char *dir, l1k_err *err);
void l1k_dir_unlock(int fd);

int l1k_mkdir_p(const char *path, l1k_err *err);
int l1k_fsync_dir(const char *dir, l1k_err *err);
int l1k_file_exists(const char *path);
int l1k_is_dir(const char *path);
/* Removes a directory tree (like rm -rf). */
int l1k_rm_rf(const char *path, l1k_err *err);
/* "a" + "/" + "b" into a malloc'ed string. */
char *l1k_path_join(const char *a, const char *b);

/* 64-bit FNV-1a, for cache keys and hashing. */
uint64_t l1k_fnv1a64(const void *data, size_t len, uint64_t seed);

#endif
