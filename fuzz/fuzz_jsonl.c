/* libFuzzer target: the streaming JSONL reader (plain and gzip input, any bytes). Every
 * record either parses or yields an error naming its line; nothing crashes or leaks. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "long1k/jsonl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static char path[64];
  if (!path[0]) snprintf(path, sizeof path, "/tmp/fuzz_jsonl_%d.jsonl", (int)getpid());
  FILE *f = fopen(path, "wb");
  if (!f) return 0;
  fwrite(data, 1, size, f);
  fclose(f);
  l1k_err err = {0};
  l1k_jsonl *r = l1k_jsonl_open(path, &err);
  if (!r) return 0;
  int rc, guard = 0;
  cJSON *j;
  int64_t last_line = 0;
  while ((rc = l1k_jsonl_next(r, &j, &err)) != 0 && guard++ < 100000) {
    if (rc == 1) cJSON_Delete(j);
    else if (err.code != L1K_EINPUT) abort(); /* read errors on a regular file are bad input */
    int64_t ln = l1k_jsonl_line_no(r);
    if (ln < last_line) abort(); /* line numbers never go backwards */
    last_line = ln;
    if (rc == -1 && strstr(err.msg, "gzip")) break; /* corrupt gzip: stream ends */
  }
  l1k_jsonl_close(r);
  return 0;
}
