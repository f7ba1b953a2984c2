/* JSONL reader: BOM, CRLF, blank lines, long lines, invalid JSON with line numbers, gzip. */
#include <unistd.h>
#include <zlib.h>

#include "check.h"
#include "long1k/io.h"
#include "long1k/jsonl.h"

static const char *tmpfile_with(const char *name, const char *data, size_t n) {
  static char path[256];
  snprintf(path, sizeof path, "/tmp/l1k_test_%d_%s", (int)getpid(), name);
  FILE *f = fopen(path, "wb");
  fwrite(data, 1, n, f);
  fclose(f);
  return path;
}

int main(void) {
  l1k_err err = {0};
  const char data[] = "\xEF\xBB\xBF{\"a\":1}\r\n\n   \n{\"a\":2}\n{bad}\n{\"a\":3} x\n{\"a\":4}";
  const char *p = tmpfile_with("a.jsonl", data, sizeof data - 1);
  l1k_jsonl *r = l1k_jsonl_open(p, &err);
  CHECK(r != NULL);
  cJSON *j;
  CHECK(l1k_jsonl_next(r, &j, &err) == 1);
  CHECK(j && cJSON_GetObjectItem(j, "a")->valueint == 1);
  CHECK(l1k_jsonl_line_no(r) == 1);
  cJSON_Delete(j);
  CHECK(l1k_jsonl_next(r, &j, &err) == 1);
  CHECK(l1k_jsonl_line_no(r) == 4);
  cJSON_Delete(j);
  CHECK(l1k_jsonl_next(r, &j, &err) == -1);
  CHECK_MSG(strstr(err.msg, ":5: invalid JSON") != NULL, "%s", err.msg);
  CHECK(l1k_jsonl_next(r, &j, &err) == -1);
  CHECK_MSG(strstr(err.msg, ":6: invalid JSON: unexpected text") != NULL, "%s", err.msg);
  CHECK(l1k_jsonl_next(r, &j, &err) == 1); /* last line without newline */
  CHECK(j && cJSON_GetObjectItem(j, "a")->valueint == 4);
  cJSON_Delete(j);
  CHECK(l1k_jsonl_next(r, &j, &err) == 0);
  CHECK(l1k_jsonl_blank_lines(r) == 2);
  l1k_jsonl_close(r);
  unlink(p);

  /* a 5 MB line */
  size_t big = 5 << 20;
  char *s = malloc(big + 32);
  strcpy(s, "{\"t\":\"");
  memset(s + 6, 'x', big);
  strcpy(s + 6 + big, "\"}\n");
  p = tmpfile_with("big.jsonl", s, strlen(s));
  r = l1k_jsonl_open(p, &err);
  CHECK(l1k_jsonl_next(r, &j, &err) == 1);
  CHECK(j && strlen(cJSON_GetObjectItem(j, "t")->valuestring) == big);
  cJSON_Delete(j);
  l1k_jsonl_close(r);
  unlink(p);
  free(s);

  /* gzip, and a truncated gzip */
  char gzpath[256];
  snprintf(gzpath, sizeof gzpath, "/tmp/l1k_test_%d.jsonl.gz", (int)getpid());
  gzFile g = gzopen(gzpath, "wb");
  for (int i = 0; i < 1000; i++) gzprintf(g, "{\"i\":%d}\n", i);
  gzclose(g);
  r = l1k_jsonl_open(gzpath, &err);
  int n = 0, rc;
  while ((rc = l1k_jsonl_next(r, &j, &err)) == 1) {
    CHECK(cJSON_GetObjectItem(j, "i")->valueint == n);
    n++;
    cJSON_Delete(j);
  }
  CHECK(rc == 0 && n == 1000);
  l1k_jsonl_close(r);
  size_t glen;
  char *gz = l1k_read_file(gzpath, &glen, &err);
  p = tmpfile_with("trunc.jsonl.gz", gz, glen / 2);
  r = l1k_jsonl_open(p, &err);
  while ((rc = l1k_jsonl_next(r, &j, &err)) == 1) cJSON_Delete(j);
  CHECK_MSG(rc == -1 && strstr(err.msg, "gzip"), "rc=%d %s", rc, err.msg);
  l1k_jsonl_close(r);
  unlink(p);
  unlink(gzpath);
  free(gz);

  /* missing file */
  CHECK(l1k_jsonl_open("/nonexistent/x.jsonl", &err) == NULL);
  CHECK(err.code == L1K_EINPUT && strstr(err.msg, "/nonexistent/x.jsonl"));

  /* JSON string escaping */
  l1k_buf b = {0};
  l1k_buf_json_string(&b, "a\"b\\c\n\x01", 7);
  CHECK_STR(b.data, "\"a\\\"b\\\\c\\n\\u0001\"");
  l1k_buf_free(&b);
  CHECK_DONE();
}
