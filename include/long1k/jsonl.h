/* long1k — streaming JSONL reader.
 *
 * Reads plain or gzip-compressed files (detected by content) or "-" for stdin, one record per
 * line, lines of any length. Handles a UTF-8 BOM, CRLF line ends, and skips blank lines
 * (counted in n_blank). Line numbers are 1-based physical lines of the file, so messages
 * point where an editor would.
 *
 *   l1k_jsonl *r = l1k_jsonl_open("data.jsonl", &err);
 *   cJSON *rec; int rc;
 *   while ((rc = l1k_jsonl_next(r, &rec, &err)) == 1) { ...; cJSON_Delete(rec); }
 *   if (rc < 0) -> err.msg is e.g. "data.jsonl:12: invalid JSON near column 40"
 *   l1k_jsonl_close(r);
 */
#ifndef LONG1K_JSONL_H
#define LONG1K_JSONL_H

#include <stddef.h>
#include <stdint.h>
#include <cjson/cJSON.h>
#include "long1k/error.h"

typedef struct l1k_jsonl l1k_jsonl;
/* The longest line (one record) the reader accepts: 256 MiB. A longer one (or an endless one,
 * such as /dev/zero) stops with "<file>:<line>: line longer than 256 MiB" (L1K_EINPUT). */
#define L1K_JSONL_MAX_LINE ((size_t)256 << 20)

l1k_jsonl *l1k_jsonl_open(const char *path, l1k_err *err);
void l1k_jsonl_close(l1k_jsonl *r);

/* Next non-blank line as raw text (NUL-terminated, without line end; valid until the next
 * call). Returns 1 and sets *line and *len, 0 at end of file, -1 on a read error. */
int l1k_jsonl_next_line(l1k_jsonl *r, const char **line, size_t *len, l1k_err *err);
/* Next record parsed with cJSON (caller frees with cJSON_Delete). Returns 1, 0 at EOF, or -1
 * with "<file>:<line>: invalid JSON ..." in err; after a -1 for invalid JSON the reader can
 * continue with the next line (for --skip-bad-records). */
int l1k_jsonl_next(l1k_jsonl *r, cJSON **out, l1k_err *err);

int64_t l1k_jsonl_line_no(const l1k_jsonl *r);   /* line of the last record returned */
int64_t l1k_jsonl_blank_lines(const l1k_jsonl *r);
const char *l1k_jsonl_path(const l1k_jsonl *r);
int64_t l1k_jsonl_bytes_read(const l1k_jsonl *r); /* uncompressed bytes so far */

/* Helpers for reading fields with clear errors: "<file>:<line>: field 'x': expected string". */
const char *l1k_json_get_string(const cJSON *obj, const char *field, const char *where, l1k_err *err);
int l1k_json_get_number(const cJSON *obj, const char *field, double *out, const char *where, l1k_err *err);

/* Appends s as a JSON string literal (with quotes and escapes) to a growing buffer. */
typedef struct l1k_buf {
  char *data;
  size_t len, cap;
} l1k_buf;
int l1k_buf_append(l1k_buf *b, const void *data, size_t n);
int l1k_buf_puts(l1k_buf *b, const char *s);
int l1k_buf_printf(l1k_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int l1k_buf_json_string(l1k_buf *b, const char *s, size_t n);
void l1k_buf_free(l1k_buf *b);

/* A whole JSON document (config.json, tokenizer.json, ...): one value and nothing after it but
 * white space. NULL with "<where>:<line>: invalid JSON" or "<where>:<line>: text after the JSON
 * value" (L1K_EINPUT). */
cJSON *l1k_json_parse_doc(const char *text, size_t len, const char *where, l1k_err *err);

/* Appends s[0, n) to out with each ill-formed UTF-8 subsequence replaced by U+FFFD (one per
 * maximal subpart, as Python's decode(errors="replace")) and returns how many were replaced;
 * when none (0), nothing is appended. -1: out of memory. */
int l1k_utf8_repair(l1k_buf *out, const char *s, size_t n);

#endif
