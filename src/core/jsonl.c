/* long1k — streaming JSONL reader and small JSON helpers: see include/long1k/jsonl.h. */
#include "long1k/jsonl.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

struct l1k_jsonl {
  gzFile gz;
  char *path;
  unsigned char *buf; /* read buffer */
  size_t buf_len, buf_pos, buf_cap;
  int eof;
  char *line; /* current line */
  size_t line_len, line_cap;
  int64_t line_no, rec_line, blank;
  int64_t bytes;
};

l1k_jsonl *l1k_jsonl_open(const char *path, l1k_err *err) {
  l1k_jsonl *r = l1k_calloc(1, sizeof *r, err);
  if (!r) return NULL;
  r->path = l1k_strdup(path, err);
  r->buf_cap = 1 << 16;
  r->buf = l1k_malloc(r->buf_cap, err);
  r->line_cap = 4096;
  r->line = l1k_malloc(r->line_cap, err);
  if (!r->path || !r->buf || !r->line) {
    l1k_jsonl_close(r);
    return NULL;
  }
  struct stat st;
  if (strcmp(path, "-") && stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
    l1k_errf(err, L1K_EINPUT, "%s: is a directory, expected a file", path);
    l1k_jsonl_close(r);
    return NULL;
  }
  if (!strcmp(path, "-"))
    r->gz = gzdopen(0, "rb");
  else
    r->gz = gzopen(path, "rb");
  if (!r->gz) {
    l1k_errf(err, errno == ENOENT ? L1K_EINPUT : L1K_EIO, "%s: cannot open: %s", path,
             errno ? strerror(errno) : "gzopen failed");
    l1k_jsonl_close(r);
    return NULL;
  }
  gzbuffer(r->gz, 1 << 17);
  return r;
}

void l1k_jsonl_close(l1k_jsonl *r) {
  if (!r) return;
  if (r->gz) gzclose(r->gz);
  free(r->path);
  free(r->buf);
  free(r->line);
  free(r);
}

static int fill(l1k_jsonl *r, l1k_err *err) {
  if (r->eof) return 0;
  int n = gzread(r->gz, r->buf, (unsigned)r->buf_cap);
  if (n < 0) {
    int e;
    const char *m = gzerror(r->gz, &e);
    l1k_errf(err, L1K_EINPUT, "%s:%lld: read error: %s", r->path, (long long)(r->line_no + 1), m);
    return -1;
  }
  if (n == 0) {
    /* a truncated gzip stream reads as EOF with an error state */
    int e = 0;
    const char *m = gzerror(r->gz, &e);
    if (e != Z_OK && e != Z_STREAM_END) {
      l1k_errf(err, L1K_EINPUT, "%s: truncated or corrupt gzip data: %s", r->path, m);
      return -1;
    }
    r->eof = 1;
  }
  r->buf_len = (size_t)n;
  r->buf_pos = 0;
  r->bytes += n;
  return n;
}

/* Reads one physical line into r->line (without \n or \r\n). 1 = got line, 0 = EOF. */
static int read_line(l1k_jsonl *r, l1k_err *err) {
  r->line_len = 0;
  int got_any = 0;
  for (;;) {
    if (r->buf_pos >= r->buf_len) {
      int n = fill(r, err);
      if (n < 0) return -1;
      if (n == 0) break;
    }
    unsigned char *start = r->buf + r->buf_pos;
    size_t avail = r->buf_len - r->buf_pos;
    unsigned char *nl = memchr(start, '\n', avail);
    size_t take = nl ? (size_t)(nl - start) : avail;
    if (r->line_len + take > L1K_JSONL_MAX_LINE) {
      l1k_errf(err, L1K_EINPUT,
               "%s:%lld: line longer than %zu MiB (the record size limit, L1K_JSONL_MAX_LINE "
               "in include/long1k/jsonl.h)",
               r->path, (long long)(r->line_no + 1), (size_t)(L1K_JSONL_MAX_LINE >> 20));
      return -1;
    }
    if (r->line_len + take + 1 > r->line_cap) {
      size_t nc = r->line_cap;
      while (r->line_len + take + 1 > nc) nc *= 2;
      char *p = l1k_realloc(r->line, nc, err);
      if (!p) return -1;
      r->line = p;
      r->line_cap = nc;
    }
    memcpy(r->line + r->line_len, start, take);
    r->line_len += take;
    got_any = 1;
    if (nl) {
      r->buf_pos += take + 1;
      break;
    }
    r->buf_pos += take;
  }
  if (!got_any && r->eof) return 0;
  r->line_no++;
  if (r->line_len && r->line[r->line_len - 1] == '\r') r->line_len--;
  r->line[r->line_len] = 0;
  if (r->line_no == 1 && r->line_len >= 3 && (unsigned char)r->line[0] == 0xEF &&
      (unsigned char)r->line[1] == 0xBB && (unsigned char)r->line[2] == 0xBF) {
    memmove(r->line, r->line + 3, r->line_len - 2);
    r->line_len -= 3;
  }
  return 1;
}

static int is_blank(const char *s, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r') return 0;
  return 1;
}

int l1k_jsonl_next_line(l1k_jsonl *r, const char **line, size_t *len, l1k_err *err) {
  for (;;) {
    int rc = read_line(r, err);
    if (rc <= 0) return rc;
    if (is_blank(r->line, r->line_len)) {
      r->blank++;
      continue;
    }
    r->rec_line = r->line_no;
    *line = r->line;
    *len = r->line_len;
    return 1;
  }
}

int l1k_jsonl_next(l1k_jsonl *r, cJSON **out, l1k_err *err) {
  const char *line;
  size_t len;
  *out = NULL;
  int rc = l1k_jsonl_next_line(r, &line, &len, err);
  if (rc <= 0) return rc;
  const char *end = NULL;
  cJSON *j = cJSON_ParseWithLengthOpts(line, len, &end, 0);
  if (!j) {
    const char *ep = cJSON_GetErrorPtr();
    long col = (ep && ep >= line && ep <= line + len) ? (long)(ep - line) + 1 : 0;
    if (col)
      l1k_errf(err, L1K_EINPUT, "%s:%lld: invalid JSON near column %ld", r->path, (long long)r->rec_line, col);
    else
      l1k_errf(err, L1K_EINPUT, "%s:%lld: invalid JSON", r->path, (long long)r->rec_line);
    return -1;
  }
  /* trailing garbage after the value */
  if (end) {
    while (end < line + len && (*end == ' ' || *end == '\t' || *end == '\r')) end++;
    if (end < line + len) {
      l1k_errf(err, L1K_EINPUT, "%s:%lld: invalid JSON: unexpected text after the value at column %ld",
               r->path, (long long)r->rec_line, (long)(end - line) + 1);
      cJSON_Delete(j);
      return -1;
    }
  }
  *out = j;
  return 1;
}

int64_t l1k_jsonl_line_no(const l1k_jsonl *r) { return r->rec_line; }
int64_t l1k_jsonl_blank_lines(const l1k_jsonl *r) { return r->blank; }
const char *l1k_jsonl_path(const l1k_jsonl *r) { return r->path; }
int64_t l1k_jsonl_bytes_read(const l1k_jsonl *r) { return r->bytes; }

const char *l1k_json_get_string(const cJSON *obj, const char *field, const char *where, l1k_err *err) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, field);
  if (!v) {
    l1k_errf(err, L1K_EINPUT, "%s: missing field '%s' (expected a string)", where, field);
    return NULL;
  }
  if (!cJSON_IsString(v)) {
    l1k_errf(err, L1K_EINPUT, "%s: field '%s': expected a string", where, field);
    return NULL;
  }
  return v->valuestring;
}

int l1k_json_get_number(const cJSON *obj, const char *field, double *out, const char *where, l1k_err *err) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, field);
  if (!v) return l1k_errf(err, L1K_EINPUT, "%s: missing field '%s' (expected a number)", where, field);
  if (!cJSON_IsNumber(v)) return l1k_errf(err, L1K_EINPUT, "%s: field '%s': expected a number", where, field);
  *out = v->valuedouble;
  return 0;
}

int l1k_buf_append(l1k_buf *b, const void *data, size_t n) {
  if (b->len + n + 1 > b->cap) {
    size_t nc = b->cap ? b->cap : 256;
    while (b->len + n + 1 > nc) nc *= 2;
    char *p = l1k_realloc(b->data, nc, NULL);
    if (!p) return L1K_ENOMEM;
    b->data = p;
    b->cap = nc;
  }
  if (n) memcpy(b->data + b->len, data, n);
  b->len += n;
  b->data[b->len] = 0;
  return 0;
}

int l1k_buf_puts(l1k_buf *b, const char *s) { return l1k_buf_append(b, s, strlen(s)); }

int l1k_buf_printf(l1k_buf *b, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  if (n < 0) return L1K_EINTERNAL;
  if (l1k_buf_append(b, NULL, 0)) return L1K_ENOMEM;
  if (b->len + (size_t)n + 1 > b->cap) {
    size_t nc = b->cap;
    while (b->len + (size_t)n + 1 > nc) nc *= 2;
    char *p = l1k_realloc(b->data, nc, NULL);
    if (!p) return L1K_ENOMEM;
    b->data = p;
    b->cap = nc;
  }
  va_start(ap, fmt);
  vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
  va_end(ap);
  b->len += (size_t)n;
  return 0;
}

int l1k_buf_json_string(l1k_buf *b, const char *s, size_t n) {
  static const char hex[] = "0123456789abcdef";
  if (l1k_buf_append(b, "\"", 1)) return L1K_ENOMEM;
  size_t start = 0;
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    const char *esc = NULL;
    char u[7];
    switch (c) {
      case '"': esc = "\\\""; break;
      case '\\': esc = "\\\\"; break;
      case '\n': esc = "\\n"; break;
      case '\r': esc = "\\r"; break;
      case '\t': esc = "\\t"; break;
      case '\b': esc = "\\b"; break;
      case '\f': esc = "\\f"; break;
      default:
        if (c < 0x20) {
          u[0] = '\\'; u[1] = 'u'; u[2] = '0'; u[3] = '0'; u[4] = hex[c >> 4]; u[5] = hex[c & 15]; u[6] = 0;
          esc = u;
        }
    }
    if (esc) {
      if (l1k_buf_append(b, s + start, i - start) || l1k_buf_puts(b, esc)) return L1K_ENOMEM;
      start = i + 1;
    }
  }
  if (l1k_buf_append(b, s + start, n - start) || l1k_buf_append(b, "\"", 1)) return L1K_ENOMEM;
  return 0;
}

void l1k_buf_free(l1k_buf *b) {
  free(b->data);
  b->data = NULL;
  b->len = b->cap = 0;
}

int l1k_utf8_repair(l1k_buf *out, const char *s, size_t n) {
  const unsigned char *u = (const unsigned char *)s;
  size_t i = 0, run = 0; /* run: start of the current stretch of valid bytes */
  int fixed = 0;
  while (i < n) {
    unsigned c = u[i];
    size_t len = 0, k = 1;
    unsigned lo = 0x80, hi = 0xBF;
    if (c < 0x80) len = 1;
    else if (c >= 0xC2 && c <= 0xDF) len = 2;
    else if (c >= 0xE0 && c <= 0xEF) len = 3, lo = c == 0xE0 ? 0xA0 : 0x80, hi = c == 0xED ? 0x9F : 0xBF;
    else if (c >= 0xF0 && c <= 0xF4) len = 4, lo = c == 0xF0 ? 0x90 : 0x80, hi = c == 0xF4 ? 0x8F : 0xBF;
    if (len > 1 && i + 1 < n && u[i + 1] >= lo && u[i + 1] <= hi) {
      k = 2;
      while (k < len && i + k < n && (u[i + k] & 0xC0) == 0x80) k++;
    }
    if (len != 0 && k == len) {
      i += len;
      continue;
    }
    if (l1k_buf_append(out, s + run, i - run) || l1k_buf_append(out, "\xEF\xBF\xBD", 3)) return -1;
    fixed++;
    i += k;
    run = i;
  }
  if (fixed && l1k_buf_append(out, s + run, n - run)) return -1;
  return fixed;
}

static size_t line_at(const char *text, size_t off) {
  size_t line = 1;
  for (size_t i = 0; i < off; i++) line += text[i] == '\n';
  return line;
}

cJSON *l1k_json_parse_doc(const char *text, size_t len, const char *where, l1k_err *err) {
  const char *end = NULL;
  cJSON *j = cJSON_ParseWithLengthOpts(text, len, &end, 0);
  if (!j) {
    const char *ep = cJSON_GetErrorPtr();
    size_t off = ep && ep >= text && ep <= text + len ? (size_t)(ep - text) : 0;
    l1k_errf(err, L1K_EINPUT, "%s:%zu: invalid JSON", where, line_at(text, off));
    return NULL;
  }
  size_t off = end && end >= text && end <= text + len ? (size_t)(end - text) : len;
  while (off < len && (text[off] == ' ' || text[off] == '\t' || text[off] == '\n' ||
                       text[off] == '\r' || text[off] == 0))
    off++;
  if (off < len) {
    cJSON_Delete(j);
    l1k_errf(err, L1K_EINPUT, "%s:%zu: text after the JSON value (expected one JSON document)",
             where, line_at(text, off));
    return NULL;
  }
  return j;
}
