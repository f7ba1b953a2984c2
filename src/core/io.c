/* long1k — files: see include/long1k/io.h. */
#include "long1k/io.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

char *l1k_read_file(const char *path, size_t *len, l1k_err *err) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    l1k_errf(err, errno == ENOENT ? L1K_EINPUT : L1K_EIO, "%s: cannot open: %s", path, strerror(errno));
    return NULL;
  }
  struct stat st;
  if (fstat(fileno(f), &st) == 0 && S_ISDIR(st.st_mode)) {
    fclose(f);
    l1k_errf(err, L1K_EINPUT, "%s: is a directory, expected a file", path);
    return NULL;
  }
  size_t cap = 1 << 16, n = 0;
  char *buf = l1k_malloc(cap, err);
  if (!buf) {
    fclose(f);
    return NULL;
  }
  for (;;) {
    if (n + 1 >= cap) {
      char *nb = l1k_realloc(buf, cap * 2, err);
      if (!nb) {
        free(buf);
        fclose(f);
        return NULL;
      }
      buf = nb;
      cap *= 2;
    }
    size_t r = fread(buf + n, 1, cap - n - 1, f);
    n += r;
    if (r == 0) break;
  }
  if (ferror(f)) {
    l1k_errf(err, L1K_EIO, "%s: read error: %s", path, strerror(errno));
    free(buf);
    fclose(f);
    return NULL;
  }
  fclose(f);
  buf[n] = 0;
  if (len) *len = n;
  return buf;
}

int l1k_mmap_open(l1k_mmap *m, const char *path, l1k_err *err) {
  m->data = NULL;
  m->size = 0;
  int fd = open(path, O_RDONLY);
  if (fd < 0)
    return l1k_errf(err, errno == ENOENT ? L1K_EINPUT : L1K_EIO, "%s: cannot open: %s", path,
                    strerror(errno));
  struct stat st;
  if (fstat(fd, &st) != 0) {
    close(fd);
    return l1k_errf(err, L1K_EIO, "%s: cannot stat: %s", path, strerror(errno));
  }
  if (S_ISDIR(st.st_mode)) {
    close(fd);
    return l1k_errf(err, L1K_EINPUT, "%s: is a directory, expected a file", path);
  }
  if (st.st_size > 0) {
    void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED) {
      close(fd);
      return l1k_errf(err, L1K_EIO, "%s: cannot mmap: %s", path, strerror(errno));
    }
    m->data = p;
    m->size = (size_t)st.st_size;
  }
  close(fd);
  return 0;
}

void l1k_mmap_close(l1k_mmap *m) {
  if (m->data) munmap(m->data, m->size);
  m->data = NULL;
  m->size = 0;
}

int l1k_fsync_dir(const char *dir, l1k_err *err) {
  int fd = open(dir, O_RDONLY | O_DIRECTORY);
  if (fd < 0) return l1k_errf(err, L1K_EIO, "%s: cannot open directory: %s", dir, strerror(errno));
  fsync(fd); /* some file systems refuse fsync on directories; that is not an error */
  close(fd);
  return 0;
}

static char *dir_of(const char *path) {
  char *tmp = l1k_strdup(path, NULL);
  if (!tmp) return NULL;
  char *d = l1k_strdup(dirname(tmp), NULL);
  free(tmp);
  return d;
}

/* "/dev/stdout", "/dev/stderr", "/dev/fd/N", "/proc/self/fd/N": the descriptor to write to
 * (dup'ed), or -1 for any other path. */
static int std_stream_fd(const char *path) {
  if (!strcmp(path, "/dev/stdout")) return dup(1);
  if (!strcmp(path, "/dev/stderr")) return dup(2);
  const char *n = NULL;
  if (!strncmp(path, "/dev/fd/", 8)) n = path + 8;
  else if (!strncmp(path, "/proc/self/fd/", 14)) n = path + 14;
  if (!n || !*n || strspn(n, "0123456789") != strlen(n) || strlen(n) > 6) return -1;
  return dup(atoi(n));
}

char *l1k_resolve_links(const char *path, l1k_err *err) {
  char *cur = l1k_strdup(path, err);
  for (int hops = 0; cur && hops < 40; hops++) {
    struct stat st;
    if (lstat(cur, &st) != 0 || !S_ISLNK(st.st_mode)) return cur;
    char target[4096];
    ssize_t n = readlink(cur, target, sizeof target - 1);
    if (n < 0) return cur;
    target[n] = 0;
    char *next = NULL;
    if (target[0] == '/') {
      next = l1k_strdup(target, err);
    } else {
      char *d = dir_of(cur);
      next = d ? l1k_path_join(d, target) : NULL;
      free(d);
      if (!next) l1k_errf(err, L1K_ENOMEM, "out of memory");
    }
    free(cur);
    cur = next;
  }
  if (cur) {
    l1k_errf(err, L1K_EINPUT, "%s: too many levels of symbolic links", path);
    free(cur);
  }
  return NULL;
}

/* Written directly (no temp file, no rename): a descriptor that is not a regular file. */
static int open_direct(l1k_atomic_file *a, int fd, const char *target, l1k_err *err) {
  a->direct = 1;
  a->tmp_path = l1k_strdup(a->path, err);
  if (!a->tmp_path) {
    if (fd >= 0) close(fd);
    return L1K_ENOMEM;
  }
  a->f = fd >= 0 ? fdopen(fd, "wb") : fopen(target, "wb");
  if (!a->f) {
    int rc = l1k_errf(err, L1K_EIO, "%s: cannot open for writing: %s", a->path, strerror(errno));
    if (fd >= 0) close(fd);
    return rc;
  }
  return 0;
}

static int open_temp(l1k_atomic_file *a, l1k_err *err) {
  size_t n = strlen(a->path) + 64;
  a->tmp_path = l1k_malloc(n, err);
  if (!a->tmp_path) return L1K_ENOMEM;
  snprintf(a->tmp_path, n, "%s.tmp.%ld", a->path, (long)getpid());
  a->f = fopen(a->tmp_path, "wb");
  if (!a->f) return l1k_errf(err, L1K_EIO, "%s: cannot create: %s", a->tmp_path, strerror(errno));
  return 0;
}

/* The rule for every output: an absent path or a regular file is replaced atomically (temp +
 * rename; a symlink is resolved first and its target replaced, the link kept); a character
 * device, FIFO, socket or /dev/std* is opened and written directly; a directory is refused. */
int l1k_atomic_open(l1k_atomic_file *a, const char *path, l1k_err *err) {
  memset(a, 0, sizeof *a);
  int fd = std_stream_fd(path), rc;
  a->path = fd >= 0 ? l1k_strdup(path, err) : l1k_resolve_links(path, err);
  if (!a->path) {
    if (fd >= 0) close(fd);
    return err && err->code ? err->code : L1K_ENOMEM;
  }
  struct stat st;
  if (fd >= 0) {
    rc = open_direct(a, fd, NULL, err);
  } else if (stat(a->path, &st) == 0 && S_ISDIR(st.st_mode)) {
    rc = l1k_errf(err, L1K_EINPUT, "%s: is a directory, expected a file", path);
  } else if (stat(a->path, &st) == 0 && !S_ISREG(st.st_mode)) {
    rc = open_direct(a, -1, a->path, err);
  } else {
    rc = open_temp(a, err);
  }
  if (rc) {
    if (a->f) fclose(a->f);
    free(a->path);
    free(a->tmp_path);
    memset(a, 0, sizeof *a);
  }
  return rc;
}

static int commit_direct(l1k_atomic_file *a, l1k_err *err) {
  int rc = 0;
  if (fflush(a->f) != 0 || ferror(a->f))
    rc = l1k_errf(err, L1K_EIO, "%s: write error: %s", a->path, strerror(errno));
  if (fclose(a->f) != 0 && !rc)
    rc = l1k_errf(err, L1K_EIO, "%s: close failed: %s", a->path, strerror(errno));
  free(a->path);
  free(a->tmp_path);
  memset(a, 0, sizeof *a);
  return rc;
}

int l1k_atomic_sync(l1k_atomic_file *a, l1k_err *err) {
  if (!a->f) return 0;
  int rc = 0;
  if (fflush(a->f) != 0 || ferror(a->f))
    rc = l1k_errf(err, L1K_EIO, "%s: write error: %s", a->tmp_path, strerror(errno));
  if (!rc && !a->direct && fsync(fileno(a->f)) != 0)
    rc = l1k_errf(err, L1K_EIO, "%s: fsync failed: %s", a->tmp_path, strerror(errno));
  if (fclose(a->f) != 0 && !rc)
    rc = l1k_errf(err, L1K_EIO, "%s: close failed: %s", a->tmp_path, strerror(errno));
  a->f = NULL;
  return rc;
}

int l1k_atomic_commit(l1k_atomic_file *a, l1k_err *err) {
  if (a->direct && a->f) return commit_direct(a, err);
  if (a->direct) {
    free(a->path);
    free(a->tmp_path);
    memset(a, 0, sizeof *a);
    return 0;
  }
  int rc = l1k_atomic_sync(a, err);
  if (!rc && rename(a->tmp_path, a->path) != 0)
    rc = l1k_errf(err, L1K_EIO, "%s: cannot rename to %s: %s", a->tmp_path, a->path, strerror(errno));
  if (rc) {
    unlink(a->tmp_path);
  } else {
    char *d = dir_of(a->path);
    if (d) l1k_fsync_dir(d, NULL);
    free(d);
  }
  free(a->path);
  free(a->tmp_path);
  a->path = a->tmp_path = NULL;
  return rc;
}

void l1k_atomic_abort(l1k_atomic_file *a) {
  if (a->f) fclose(a->f);
  if (a->tmp_path && !a->direct) unlink(a->tmp_path);
  free(a->path);
  free(a->tmp_path);
  memset(a, 0, sizeof *a);
}

int l1k_write_file_atomic(const char *path, const void *data, size_t len, l1k_err *err) {
  l1k_atomic_file a;
  int rc = l1k_atomic_open(&a, path, err);
  if (rc) return rc;
  if (len && fwrite(data, 1, len, a.f) != len) {
    rc = l1k_errf(err, L1K_EIO, "%s: write error: %s", a.tmp_path, strerror(errno));
    l1k_atomic_abort(&a);
    return rc;
  }
  return l1k_atomic_commit(&a, err);
}

int l1k_output_check(const char *out, const char *const *inputs, size_t n, l1k_err *err) {
  if (!out || !strcmp(out, "-")) return 0;
  struct stat so, si;
  if (stat(out, &so) != 0) return 0; /* absent: created by the write */
  if (S_ISDIR(so.st_mode)) return l1k_errf(err, L1K_EINPUT, "%s: is a directory, expected a file", out);
  if (!S_ISREG(so.st_mode)) return 0; /* /dev/null, a FIFO: written directly, inputs untouched */
  for (size_t i = 0; i < n; i++)
    if (inputs[i] && stat(inputs[i], &si) == 0 && si.st_dev == so.st_dev && si.st_ino == so.st_ino)
      return l1k_errf(err, L1K_EINPUT,
                      "%s: is the same file as the input %s; refusing to overwrite an input", out,
                      inputs[i]);
  return 0;
}

int l1k_dir_lock(const char *dir, l1k_err *err) {
  char *p = l1k_path_join(dir, ".long1k.lock");
  if (!p) {
    l1k_errf(err, L1K_ENOMEM, "out of memory");
    return -1;
  }
  int fd = open(p, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) {
    l1k_errf(err, L1K_EIO, "%s: cannot open the lock file: %s", p, strerror(errno));
    free(p);
    return -1;
  }
  if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
    int e = errno;
    char buf[32] = {0};
    ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
    long pid = n > 0 ? strtol(buf, NULL, 10) : 0;
    if (e == EWOULDBLOCK)
      l1k_errf(err, L1K_EINPUT, "%s: in use by another long1k run (pid %ld, lock %s); wait for it or "
               "choose another directory", dir, pid, p);
    else
      l1k_errf(err, L1K_EIO, "%s: cannot lock: %s", p, strerror(e));
    close(fd);
    free(p);
    return -1;
  }
  char buf[32];
  int len = snprintf(buf, sizeof buf, "%ld\n", (long)getpid());
  if (ftruncate(fd, 0) != 0 || pwrite(fd, buf, (size_t)len, 0) != len) {
    l1k_errf(err, L1K_EIO, "%s: cannot write the lock file: %s", p, strerror(errno));
    close(fd);
    free(p);
    return -1;
  }
  free(p);
  return fd;
}

void l1k_dir_unlock(int fd) {
  if (fd >= 0) close(fd);
}

int l1k_mkdir_p(const char *path, l1k_err *err) {
  char *p = l1k_strdup(path, err);
  if (!p) return L1K_ENOMEM;
  size_t n = strlen(p);
  for (size_t i = 1; i <= n; i++) {
    if (p[i] == '/' || p[i] == 0) {
      char c = p[i];
      p[i] = 0;
      if (mkdir(p, 0755) != 0 && errno != EEXIST) {
        int rc = l1k_errf(err, L1K_EIO, "%s: cannot create directory: %s", p, strerror(errno));
        free(p);
        return rc;
      }
      p[i] = c;
    }
  }
  free(p);
  if (!l1k_is_dir(path)) return l1k_errf(err, L1K_EINPUT, "%s: exists and is not a directory", path);
  return 0;
}

int l1k_file_exists(const char *path) {
  struct stat st;
  return stat(path, &st) == 0;
}

int l1k_is_dir(const char *path) {
  struct stat st;
  return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

int l1k_rm_rf(const char *path, l1k_err *err) {
  struct stat st;
  if (lstat(path, &st) != 0) return errno == ENOENT ? 0 : l1k_errf(err, L1K_EIO, "%s: %s", path, strerror(errno));
  if (S_ISDIR(st.st_mode)) {
    DIR *d = opendir(path);
    if (!d) return l1k_errf(err, L1K_EIO, "%s: cannot open directory: %s", path, strerror(errno));
    struct dirent *e;
    int rc = 0;
    while (!rc && (e = readdir(d))) {
      if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
      char *sub = l1k_path_join(path, e->d_name);
      if (!sub) {
        rc = l1k_errf(err, L1K_ENOMEM, "out of memory");
        break;
      }
      rc = l1k_rm_rf(sub, err);
      free(sub);
    }
    closedir(d);
    if (rc) return rc;
    if (rmdir(path) != 0) return l1k_errf(err, L1K_EIO, "%s: cannot remove: %s", path, strerror(errno));
    return 0;
  }
  if (unlink(path) != 0) return l1k_errf(err, L1K_EIO, "%s: cannot remove: %s", path, strerror(errno));
  return 0;
}

char *l1k_path_join(const char *a, const char *b) {
  size_t la = strlen(a), lb = strlen(b);
  /* plain malloc (not counted by LONG1K_FAIL_ALLOC): many callers read NULL as "absent" */
  char *p = malloc(la + lb + 2);
  if (!p) return NULL;
  memcpy(p, a, la);
  size_t n = la;
  if (la && a[la - 1] != '/') p[n++] = '/';
  memcpy(p + n, b, lb + 1);
  return p;
}

uint64_t l1k_fnv1a64(const void *data, size_t len, uint64_t seed) {
  const unsigned char *p = data;
  uint64_t h = 1469598103934665603ULL ^ seed;
  for (size_t i = 0; i < len; i++) {
    h ^= p[i];
    h *= 1099511628211ULL;
  }
  return h;
}
