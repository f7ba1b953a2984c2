/* Files: atomic writes, mkdir -p, rm -rf, mmap. */
#include <unistd.h>

#include "check.h"
#include "long1k/io.h"

int main(void) {
  l1k_err err = {0};
  char dir[256], path[300];
  snprintf(dir, sizeof dir, "/tmp/l1k_io_%d/a/b", (int)getpid());
  CHECK(l1k_mkdir_p(dir, &err) == 0);
  CHECK(l1k_is_dir(dir));
  snprintf(path, sizeof path, "%s/f.bin", dir);
  CHECK(l1k_write_file_atomic(path, "hello", 5, &err) == 0);
  size_t n;
  char *s = l1k_read_file(path, &n, &err);
  CHECK(s && n == 5 && !strcmp(s, "hello"));
  free(s);
  l1k_mmap m;
  CHECK(l1k_mmap_open(&m, path, &err) == 0 && m.size == 5 && !memcmp(m.data, "hello", 5));
  l1k_mmap_close(&m);
  CHECK(l1k_mmap_open(&m, dir, &err) == L1K_EINPUT);
  l1k_atomic_file a;
  CHECK(l1k_atomic_open(&a, path, &err) == 0);
  fputs("partial", a.f);
  l1k_atomic_abort(&a);
  s = l1k_read_file(path, &n, &err);
  CHECK(s && !strcmp(s, "hello")); /* aborted write leaves the old file */
  free(s);
  snprintf(dir, sizeof dir, "/tmp/l1k_io_%d", (int)getpid());
  CHECK(l1k_rm_rf(dir, &err) == 0);
  CHECK(!l1k_file_exists(dir));
  CHECK(l1k_read_file("/nonexistent", NULL, &err) == NULL && err.code == L1K_EINPUT);
  CHECK_DONE();
}
