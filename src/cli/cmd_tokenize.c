/* long1k tokenize — JSONL text (or chat messages) to token ids, streaming, multi-threaded.
 *
 * The main thread reads a batch of lines while a pool of workers encodes the previous batch,
 * then writes that batch's results in input order while the workers go on with the next one.
 * Memory is bounded by two batches (at most BATCH_LINES lines or about BATCH_BYTES bytes each,
 * or one line if a single line is larger), whatever the size of the input.
 */
#include <getopt.h>
#include <stdarg.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "long1k/chat.h"
#include "long1k/io.h"
#include "long1k/jsonl.h"
#include "long1k/log.h"
#include "long1k/tokenizer.h"

#define BATCH_LINES 2048
#define BATCH_BYTES (4u << 20)
#define GRAB 8 /* records a worker takes at a time */

typedef enum { MODE_TEXT, MODE_CHAT, MODE_DECODE } mode_t_;

typedef struct {
  const l1k_tokenizer *tok;
  mode_t_ mode;
  const char *field;
  const char *path; /* input path for messages */
  l1k_template tmpl;
  l1k_chat_opts copts;
  int want_mask;
  int want_output;
} job_cfg;

typedef struct {
  char *line;
  size_t len, cap;
  int64_t line_no;
  l1k_buf out;     /* formatted output line */
  int64_t ntok;    /* tokens (or, with --decode, ids) of this record */
  int64_t nbytes;  /* text bytes */
  int rc;          /* 0 ok, else error code */
  char *msg;       /* error message (malloc'ed) */
} record;

typedef struct {
  record *rec;
  size_t n;
  size_t bytes;
  _Atomic size_t next;
} batch;

typedef struct {
  const job_cfg *cfg;
  pthread_mutex_t mu;
  pthread_cond_t cv_work, cv_done;
  batch *cur;
  uint64_t gen;
  int nthreads, finished, quit;
  pthread_t *th;
} pool;

/* ---- one record ---- */

/* sets the record's error: "<path>:<line>: <message>" */
static void fail_rec(record *r, int code, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void fail_rec(record *r, int code, const char *path, const char *fmt, ...) {
  char buf[1400];
  int k = snprintf(buf, sizeof buf, "%s:%lld: ", path, (long long)r->line_no);
  if (k < 0 || (size_t)k >= sizeof buf) k = 0;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf + k, sizeof buf - (size_t)k, fmt, ap);
  va_end(ap);
  free(r->msg);
  r->msg = l1k_strdup(buf, NULL);
  r->rc = code;
}

static int put_ids(l1k_buf *o, const char *key, const int32_t *ids, size_t n, int first) {
  char tmp[16];
  if (l1k_buf_puts(o, first ? "{\"" : ",\"") || l1k_buf_puts(o, key) || l1k_buf_puts(o, "\":["))
    return L1K_ENOMEM;
  for (size_t i = 0; i < n; i++) {
    /* itoa */
    int32_t v = ids[i];
    char *p = tmp + sizeof tmp;
    uint32_t u = v < 0 ? (uint32_t)(-(int64_t)v) : (uint32_t)v;
    do {
      *--p = (char)('0' + u % 10);
      u /= 10;
    } while (u);
    if (v < 0) *--p = '-';
    if (i && l1k_buf_append(o, ",", 1)) return L1K_ENOMEM;
    if (l1k_buf_append(o, p, (size_t)(tmp + sizeof tmp - p))) return L1K_ENOMEM;
  }
  return l1k_buf_append(o, "]", 1);
}

/* JSON string with invalid UTF-8 replaced by U+FFFD (JSON cannot carry raw bytes). */
static int put_json_text(l1k_buf *o, const char *s, size_t n, int64_t *replaced) {
  l1k_buf tmp = {0};
  const unsigned char *u = (const unsigned char *)s;
  size_t i = 0, start = 0;
  int rc = 0;
  while (i < n && !rc) {
    unsigned char c = u[i];
    size_t k = 0;
    if (c < 0x80) k = 1;
    else if (c >= 0xC2 && c < 0xE0 && i + 1 < n && (u[i + 1] & 0xC0) == 0x80) k = 2;
    else if (c >= 0xE0 && c < 0xF0 && i + 2 < n && (u[i + 1] & 0xC0) == 0x80 &&
             (u[i + 2] & 0xC0) == 0x80 && !(c == 0xE0 && u[i + 1] < 0xA0) &&
             !(c == 0xED && u[i + 1] >= 0xA0))
      k = 3;
    else if (c >= 0xF0 && c < 0xF5 && i + 3 < n && (u[i + 1] & 0xC0) == 0x80 &&
             (u[i + 2] & 0xC0) == 0x80 && (u[i + 3] & 0xC0) == 0x80 &&
             !(c == 0xF0 && u[i + 1] < 0x90) && !(c == 0xF4 && u[i + 1] >= 0x90))
      k = 4;
    if (k) {
      i += k;
      continue;
    }
    rc = l1k_buf_append(&tmp, s + start, i - start) || l1k_buf_puts(&tmp, "\xEF\xBF\xBD");
    (*replaced)++;
    start = ++i;
  }
  if (!rc && tmp.data) rc = l1k_buf_append(&tmp, s + start, n - start);
  if (!rc) rc = tmp.data ? l1k_buf_json_string(o, tmp.data, tmp.len) : l1k_buf_json_string(o, s, n);
  l1k_buf_free(&tmp);
  return rc ? L1K_ENOMEM : 0;
}

static int has_escaped_nul(const char *s, size_t n) {
  for (size_t i = 0; i + 5 < n; i++)
    if (s[i] == '\\' && s[i + 1] == 'u' && s[i + 2] == '0' && s[i + 3] == '0' && s[i + 4] == '0' &&
        s[i + 5] == '0') {
      /* make sure the backslash is not itself escaped */
      size_t k = i;
      int bs = 0;
      while (k > 0 && s[k - 1] == '\\') k--, bs++;
      if (bs % 2 == 0) return 1;
    }
  return 0;
}

static void do_record(const job_cfg *c, record *r) {
  r->rc = 0;
  r->ntok = 0;
  r->nbytes = 0;
  r->out.len = 0;
  const char *end = NULL;
  cJSON *j = cJSON_ParseWithLengthOpts(r->line, r->len, &end, 0);
  if (!j) {
    char col[32];
    snprintf(col, sizeof col, "%ld",
             end && end >= r->line && end <= r->line + r->len ? (long)(end - r->line) + 1 : 1L);
    fail_rec(r, L1K_EINPUT, c->path, "invalid JSON near column %s", col);
    return;
  }
  while (end && end < r->line + r->len && (*end == ' ' || *end == '\t' || *end == '\r')) end++;
  if (end && end < r->line + r->len) {
    fail_rec(r, L1K_EINPUT, c->path, "invalid JSON: unexpected text after the value");
    goto done;
  }
  if (!cJSON_IsObject(j)) {
    fail_rec(r, L1K_EINPUT, c->path, "expected a JSON object");
    goto done;
  }
  const cJSON *f = cJSON_GetObjectItemCaseSensitive(j, c->field);
  l1k_err err = {0};
  if (c->mode == MODE_TEXT) {
    if (!f) {
      fail_rec(r, L1K_EINPUT, c->path, "missing field '%s' (expected a string)", c->field);
      goto done;
    }
    if (!cJSON_IsString(f)) {
      fail_rec(r, L1K_EINPUT, c->path, "field '%s': expected a string", c->field);
      goto done;
    }
    if (has_escaped_nul(r->line, r->len)) {
      fail_rec(r, L1K_EINPUT, c->path,
               "the record contains \\u0000 (NUL), which long1k cannot pass through cJSON "
               "without truncating field '%s'",
               c->field);
      goto done;
    }
    size_t n = strlen(f->valuestring);
    l1k_ids ids = {0};
    if (l1k_tokenizer_encode(c->tok, f->valuestring, n, &ids, NULL, &err)) {
      fail_rec(r, err.code, c->path, "%s", err.msg);
      l1k_ids_free(&ids);
      goto done;
    }
    r->ntok = (int64_t)ids.len;
    r->nbytes = (int64_t)n;
    if (c->want_output &&
        (put_ids(&r->out, "ids", ids.data, ids.len, 1) || l1k_buf_puts(&r->out, "}\n")))
      fail_rec(r, L1K_ENOMEM, c->path, "out of memory");
    l1k_ids_free(&ids);
  } else if (c->mode == MODE_CHAT) {
    if (!f) {
      fail_rec(r, L1K_EINPUT, c->path, "missing field '%s' (expected a list of messages)", c->field);
      goto done;
    }
    if (has_escaped_nul(r->line, r->len)) {
      fail_rec(r, L1K_EINPUT, c->path,
               "the record contains \\u0000 (NUL), which long1k cannot pass through cJSON "
               "without truncating field '%s'",
               c->field);
      goto done;
    }
    char where[600];
    snprintf(where, sizeof where, "field '%s'", c->field);
    l1k_chat_msg *m = NULL;
    size_t nm = 0;
    if (l1k_chat_msgs_from_json(f, &m, &nm, where, &err)) {
      fail_rec(r, err.code, c->path, "%s", err.msg);
      goto done;
    }
    l1k_ids ids = {0};
    uint8_t *mask = NULL;
    if (l1k_chat_encode(c->tok, c->tmpl, m, nm, &c->copts, &ids, c->want_mask ? &mask : NULL,
                        &err)) {
      fail_rec(r, err.code, c->path, "field '%s': %s", c->field, err.msg);
      free(m);
      l1k_ids_free(&ids);
      goto done;
    }
    r->ntok = (int64_t)ids.len;
    for (size_t i = 0; i < nm; i++) r->nbytes += (int64_t)strlen(m[i].content);
    int bad = 0;
    if (c->want_output) {
      bad = put_ids(&r->out, "ids", ids.data, ids.len, 1);
      if (!bad && mask) {
        int32_t *mv = l1k_malloc((ids.len ? ids.len : 1) * sizeof *mv, NULL);
        if (!mv) bad = 1;
        for (size_t i = 0; mv && i < ids.len; i++) mv[i] = mask[i];
        if (!bad) bad = put_ids(&r->out, "mask", mv, ids.len, 0);
        free(mv);
      }
      if (!bad) bad = l1k_buf_puts(&r->out, "}\n");
    }
    if (bad) fail_rec(r, L1K_ENOMEM, c->path, "out of memory");
    free(mask);
    free(m);
    l1k_ids_free(&ids);
  } else { /* decode */
    if (!f || !cJSON_IsArray(f)) {
      fail_rec(r, L1K_EINPUT, c->path, "field '%s': expected a list of token ids", c->field);
      goto done;
    }
    size_t n = (size_t)cJSON_GetArraySize(f), k = 0;
    int32_t *ids = l1k_malloc((n ? n : 1) * sizeof *ids, NULL);
    if (!ids) {
      fail_rec(r, L1K_ENOMEM, c->path, "out of memory");
      goto done;
    }
    const cJSON *it;
    cJSON_ArrayForEach(it, f) {
      if (!cJSON_IsNumber(it) || it->valuedouble < 0 || it->valuedouble > 2147483647.0 ||
          it->valuedouble != (double)(int32_t)it->valuedouble) {
        char idx[32];
        snprintf(idx, sizeof idx, "%zu", k);
        fail_rec(r, L1K_EINPUT, c->path, "field '%s'[%s]: expected a non-negative integer token id", c->field, idx);
        free(ids);
        goto done;
      }
      ids[k++] = (int32_t)it->valuedouble;
    }
    size_t tl = 0;
    char *text = l1k_tokenizer_decode(c->tok, ids, n, &tl, &err);
    free(ids);
    if (!text) {
      fail_rec(r, err.code, c->path, "field '%s': %s", c->field, err.msg);
      goto done;
    }
    r->ntok = (int64_t)n;
    r->nbytes = (int64_t)tl;
    int64_t repl = 0;
    if (c->want_output &&
        (l1k_buf_puts(&r->out, "{\"text\":") || put_json_text(&r->out, text, tl, &repl) ||
         l1k_buf_puts(&r->out, "}\n")))
      fail_rec(r, L1K_ENOMEM, c->path, "out of memory");
    free(text);
  }
done:
  cJSON_Delete(j);
}

/* ---- pool ---- */

static void run_batch(const job_cfg *c, batch *b) {
  for (;;) {
    size_t i = atomic_fetch_add(&b->next, GRAB);
    if (i >= b->n) break;
    size_t e = i + GRAB < b->n ? i + GRAB : b->n;
    for (; i < e; i++) do_record(c, &b->rec[i]);
  }
}

static void *worker(void *arg) {
  pool *p = arg;
  uint64_t seen = 0;
  for (;;) {
    pthread_mutex_lock(&p->mu);
    while (!p->quit && p->gen == seen) pthread_cond_wait(&p->cv_work, &p->mu);
    if (p->quit) {
      pthread_mutex_unlock(&p->mu);
      return NULL;
    }
    seen = p->gen;
    batch *b = p->cur;
    pthread_mutex_unlock(&p->mu);
    run_batch(p->cfg, b);
    pthread_mutex_lock(&p->mu);
    if (++p->finished == p->nthreads) pthread_cond_signal(&p->cv_done);
    pthread_mutex_unlock(&p->mu);
  }
}

static void pool_start(pool *p, batch *b) {
  atomic_store(&b->next, 0);
  pthread_mutex_lock(&p->mu);
  p->cur = b;
  p->finished = 0;
  p->gen++;
  pthread_cond_broadcast(&p->cv_work);
  pthread_mutex_unlock(&p->mu);
}

static void pool_wait(pool *p);

/* starts encoding b: in the pool, or right here without one */
static void batch_start(pool *p, int pool_up, const job_cfg *c, batch *b) {
  if (pool_up) {
    pool_start(p, b);
  } else {
    atomic_store(&b->next, 0);
    run_batch(c, b);
  }
}

static void pool_wait(pool *p) {
  pthread_mutex_lock(&p->mu);
  while (p->finished < p->nthreads) pthread_cond_wait(&p->cv_done, &p->mu);
  pthread_mutex_unlock(&p->mu);
}

/* ---- reading ---- */

/* Fills b with up to BATCH_LINES lines / BATCH_BYTES bytes. Returns -1 on a read error. */
static int read_batch(l1k_jsonl *rd, batch *b, l1k_err *err) {
  b->n = 0;
  b->bytes = 0;
  while (b->n < BATCH_LINES && b->bytes < BATCH_BYTES) {
    const char *line;
    size_t len;
    int rc = l1k_jsonl_next_line(rd, &line, &len, err);
    if (rc < 0) return -1;
    if (rc == 0) break;
    record *r = &b->rec[b->n];
    if (len + 1 > r->cap) {
      size_t nc = len + 1 > 256 ? len + 1 : 256;
      char *nl = l1k_realloc(r->line, nc, NULL);
      if (!nl) {
        l1k_errf(err, L1K_ENOMEM, "out of memory");
        return -1;
      }
      r->line = nl;
      r->cap = nc;
    }
    memcpy(r->line, line, len);
    r->line[len] = 0;
    r->len = len;
    r->line_no = l1k_jsonl_line_no(rd);
    b->bytes += len;
    b->n++;
  }
  return 0;
}

/* ---- stats ----
 * Token counts are kept as a histogram (count -> number of documents, open addressing), so the
 * memory is bounded by the number of distinct counts, not by the number of documents. */

typedef struct {
  int64_t key; /* -1: empty */
  uint64_t n;
} hist_ent;

typedef struct {
  hist_ent *h;
  size_t cap, used;
  uint64_t n; /* documents */
  int64_t total, bytes;
} stats;

static int stats_add(stats *s, int64_t x, int64_t bytes) {
  if (2 * (s->used + 1) > s->cap) {
    size_t nc = s->cap ? s->cap * 2 : 1024;
    hist_ent *nh = l1k_malloc(nc * sizeof *nh, NULL);
    if (!nh) return L1K_ENOMEM;
    for (size_t i = 0; i < nc; i++) nh[i].key = -1;
    for (size_t i = 0; i < s->cap; i++) {
      if (s->h[i].key < 0) continue;
      size_t j = (size_t)((uint64_t)s->h[i].key * 0x9E3779B97F4A7C15ULL) & (nc - 1);
      while (nh[j].key >= 0) j = (j + 1) & (nc - 1);
      nh[j] = s->h[i];
    }
    free(s->h);
    s->h = nh;
    s->cap = nc;
  }
  size_t j = (size_t)((uint64_t)x * 0x9E3779B97F4A7C15ULL) & (s->cap - 1);
  while (s->h[j].key >= 0 && s->h[j].key != x) j = (j + 1) & (s->cap - 1);
  if (s->h[j].key < 0) {
    s->h[j].key = x;
    s->h[j].n = 0;
    s->used++;
  }
  s->h[j].n++;
  s->n++;
  s->total += x;
  s->bytes += bytes;
  return 0;
}

static int cmp_hist(const void *a, const void *b) {
  int64_t x = ((const hist_ent *)a)->key, y = ((const hist_ent *)b)->key;
  return (x > y) - (x < y);
}

/* value of rank r (0-based) in the sorted histogram h[0..k) */
static int64_t hist_at(const hist_ent *h, size_t k, uint64_t r) {
  for (size_t i = 0; i < k; i++) {
    if (r < h[i].n) return h[i].key;
    r -= h[i].n;
  }
  return k ? h[k - 1].key : 0;
}

/* linear interpolation between closest ranks (numpy's default, Python's
 * statistics.quantiles(method="inclusive")) */
static double quantile(const hist_ent *h, size_t k, uint64_t n, double q) {
  if (n == 0) return 0;
  double pos = q * (double)(n - 1);
  uint64_t lo = (uint64_t)pos;
  double frac = pos - (double)lo;
  double a = (double)hist_at(h, k, lo);
  if (lo + 1 >= n) return a;
  return a + frac * ((double)hist_at(h, k, lo + 1) - a);
}

static double cpu_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void print_stats(FILE *f, stats *s, mode_t_ mode, double secs, double cpu) {
  size_t k = 0;
  for (size_t i = 0; i < s->cap; i++) /* compact the histogram, then sort it by count */
    if (s->h[i].key >= 0) s->h[k++] = s->h[i];
  if (k) qsort(s->h, k, sizeof *s->h, cmp_hist);
  const char *unit = mode == MODE_DECODE ? "ids" : "tokens";
  fprintf(f, "documents      %llu\n", (unsigned long long)s->n);
  fprintf(f, "%-14s %lld\n", unit, (long long)s->total);
  fprintf(f, "mean           %.2f\n", s->n ? (double)s->total / (double)s->n : 0.0);
  fprintf(f, "median         %.1f\n", quantile(s->h, k, s->n, 0.5));
  fprintf(f, "p90            %.1f\n", quantile(s->h, k, s->n, 0.9));
  fprintf(f, "max            %lld\n", k ? (long long)s->h[k - 1].key : 0LL);
  fprintf(f, "%-14s %lld\n", mode == MODE_DECODE ? "text bytes" : "input bytes",
          (long long)s->bytes);
  if (mode != MODE_DECODE && s->total)
    fprintf(f, "bytes/token    %.3f\n", (double)s->bytes / (double)s->total);
  fprintf(f, "seconds        %.3f\n", secs);
  fprintf(f, "cpu seconds    %.3f\n", cpu); /* all threads, after loading the tokenizer */
}

/* ---- command ---- */

/* Text without a symbol in the vocabulary is dropped as HF tokenizers drops it: said once. */
static void report_dropped(const l1k_tokenizer *tok, const char *tok_path) {
  uint64_t n = l1k_tokenizer_dropped_bytes(tok);
  if (!n) return;
  int miss = l1k_tokenizer_missing_bytes(tok);
  char why[96] = "";
  if (miss) snprintf(why, sizeof why, " (its vocabulary lacks %d of the 256 byte symbols)", miss);
  l1k_warn("dropped %llu input byte(s) that have no token in %s%s, as Hugging Face tokenizers "
           "drops them", (unsigned long long)n, tok_path, why);
}

static void usage(FILE *f) {
  fprintf(f,
          "usage: long1k tokenize [--tokenizer PATH] --input FILE.jsonl [options]\n"
          "\n"
          "Tokenizes one JSONL record per line with a Hugging Face tokenizer.json (byte-level BPE:\n"
          "Qwen2/2.5/3, Llama-3, SmolLM2; SentencePiece-style BPE: Llama-2, Mistral) and writes\n"
          "one line {\"ids\":[...]} per record, in input order. Text that has no token in the\n"
          "vocabulary is dropped as Hugging Face does; the count is reported once at the end.\n"
          "Ids are those of Hugging Face tokenizers with add_special_tokens=False (special tokens\n"
          "written in the text, like <|im_end|>, are matched as tokens).\n"
          "\n"
          "options:\n"
          "  -t, --tokenizer PATH     tokenizer.json, or a directory with one (default: the shipped\n"
          "                           Qwen tokenizer, <data>/tokenizers/qwen)\n"
          "  -i, --input FILE         JSONL input (.gz read transparently; '-' = stdin)\n"
          "  -f, --field NAME         field holding the text (default: text; with a chat template:\n"
          "                           messages; with --decode: ids)\n"
          "  -c, --chat-template NAME render the field, a list of {\"role\",\"content\"} messages, with\n"
          "                           a template: 'auto' (the tokenizer's own: tokenizer_config.json\n"
          "                           or chat_template.jinja next to it), a name (qwen, qwen3, llama3,\n"
          "                           deepseekr1, mistral, phi4, gemma3, ...) or a .jinja file\n"
          "      --add-generation-prompt  end with the assistant header (chat)\n"
          "      --enable-thinking BOOL   the template variable enable_thinking (Qwen3: false adds\n"
          "                           an empty think block to the generation prompt)\n"
          "      --mask               chat: also write \"mask\":[0/1,...] (1 = assistant tokens, the\n"
          "                           loss positions)\n"
          "  -d, --decode             the other way: the field holds token ids; writes\n"
          "                           {\"text\":\"...\"} (invalid UTF-8 becomes U+FFFD in JSON output)\n"
          "  -j, --threads N          worker threads (default: all cores); output order is kept\n"
          "  -s, --stats              print documents, tokens, mean/median/p90/max tokens per\n"
          "                           document (instead of the ids, unless --output is given)\n"
          "  -o, --output FILE        write the ids to FILE (atomically) instead of stdout\n"
          "  -h, --help               this help\n"
          "\n"
          "Bad records stop the run with 'FILE:LINE: what was expected' and exit code 2.\n"
          "\n"
          "examples:\n"
          "  long1k tokenize --input data/samples/sample.jsonl --stats\n"
          "  long1k tokenize -t ../shared/tokenizers/llama3 -i docs.jsonl -j 2 > ids.jsonl\n"
          "  long1k tokenize -c auto -i chats.jsonl --mask -o train_ids.jsonl\n"
          "  long1k tokenize --decode -i ids.jsonl\n");
}

int cmd_tokenize(int argc, char **argv) {
  const char *cmd = "tokenize";
  const char *tok_path = NULL, *input = NULL, *field = NULL, *tmpl_name = NULL, *output = NULL;
  int threads = 0, want_stats = 0, decode = 0, agp = 0, think = -1, want_mask = 0;
  static const struct option opts[] = {{"tokenizer", required_argument, 0, 't'},
                                       {"input", required_argument, 0, 'i'},
                                       {"field", required_argument, 0, 'f'},
                                       {"chat-template", required_argument, 0, 'c'},
                                       {"threads", required_argument, 0, 'j'},
                                       {"stats", no_argument, 0, 's'},
                                       {"decode", no_argument, 0, 'd'},
                                       {"output", required_argument, 0, 'o'},
                                       {"add-generation-prompt", no_argument, 0, 'G'},
                                       {"enable-thinking", required_argument, 0, 'T'},
                                       {"mask", no_argument, 0, 'M'},
                                       {"help", no_argument, 0, 'h'},
                                       {0, 0, 0, 0}};
  optind = 1;
  opterr = 0;
  int c;
  while ((c = getopt_long(argc, argv, ":t:i:f:c:j:sdo:h", opts, NULL)) != -1) {
    switch (c) {
      case 't': tok_path = optarg; break;
      case 'i': input = optarg; break;
      case 'f': field = optarg; break;
      case 'c': tmpl_name = optarg; break;
      case 'o': output = optarg; break;
      case 's': want_stats = 1; break;
      case 'd': decode = 1; break;
      case 'G': agp = 1; break;
      case 'M': want_mask = 1; break;
      case 'T':
        if (!strcmp(optarg, "true") || !strcmp(optarg, "1")) think = 1;
        else if (!strcmp(optarg, "false") || !strcmp(optarg, "0")) think = 0;
        else return cli_usage_error(cmd, "--enable-thinking: expected true or false, got '%s'", optarg);
        break;
      case 'j': {
        char *end;
        long v = strtol(optarg, &end, 10);
        if (*end || v < 1 || v > 1024)
          return cli_usage_error(cmd, "--threads: expected a number from 1 to 1024, got '%s'",
                                 optarg);
        threads = (int)v;
        break;
      }
      case 'h': usage(stdout); return 0;
      case ':': return cli_usage_error(cmd, "option %s needs a value", argv[optind - 1]);
      default: return cli_usage_error(cmd, "unknown option '%s'", argv[optind - 1]);
    }
  }
  if (optind < argc) return cli_usage_error(cmd, "unexpected argument '%s'", argv[optind]);
  if (!input) return cli_usage_error(cmd, "--input FILE.jsonl is required");
  if (decode && tmpl_name)
    return cli_usage_error(cmd, "--decode and --chat-template cannot be combined");
  if (!tmpl_name && (agp || think >= 0 || want_mask))
    return cli_usage_error(cmd,
                           "--add-generation-prompt, --enable-thinking and --mask need "
                           "--chat-template");
  if (threads == 0) {
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    threads = n > 0 ? (int)(n > 256 ? 256 : n) : 1;
  }

  {
    l1k_err oe = {0};
    const char *ins[] = {input, tok_path};
    if (l1k_output_check(output, ins, 2, &oe)) return cli_fail(cmd, &oe);
  }
  char *default_tok = NULL;
  if (!tok_path) {
    default_tok = l1k_path_join(cli_data_dir(), "tokenizers/qwen");
    tok_path = default_tok;
  }
  l1k_err err = {0};
  int ret = 0;
  l1k_tokenizer *tok = NULL;
  l1k_jsonl *rd = NULL;
  l1k_atomic_file af = {0};
  FILE *out = NULL;
  batch b[2] = {{0}};
  pool p = {0};
  int pool_up = 0;
  stats st = {0};

  job_cfg cfg = {0};
  cfg.mode = decode ? MODE_DECODE : tmpl_name ? MODE_CHAT : MODE_TEXT;
  cfg.field = field ? field : decode ? "ids" : tmpl_name ? "messages" : "text";
  cfg.path = input;
  cfg.copts.add_generation_prompt = agp;
  cfg.copts.enable_thinking = think;
  cfg.want_mask = want_mask;
  cfg.want_output = !want_stats || output != NULL;
  if (tmpl_name) {
    int rc = !strcmp(tmpl_name, "auto") ? l1k_chat_template_detect(tok_path, &cfg.tmpl, &err)
                                        : l1k_chat_template_named(tmpl_name, tok_path, &cfg.tmpl, &err);
    if (rc) {
      ret = cli_fail(cmd, &err);
      goto end;
    }
    if (think >= 0 && !l1k_chat_template_uses(cfg.tmpl, "enable_thinking")) {
      ret = cli_usage_error(cmd, "--enable-thinking: chat template '%s' does not read enable_thinking",
                            l1k_chat_template_name(cfg.tmpl));
      goto end;
    }
  }
  tok = l1k_tokenizer_load(tok_path, &err);
  if (!tok) {
    ret = cli_fail(cmd, &err);
    goto end;
  }
  cfg.tok = tok;
  rd = l1k_jsonl_open(input, &err);
  if (!rd) {
    ret = cli_fail(cmd, &err);
    goto end;
  }
  if (cfg.want_output) {
    if (output) {
      if (l1k_atomic_open(&af, output, &err)) {
        ret = cli_fail(cmd, &err);
        goto end;
      }
      out = af.f;
    } else {
      out = stdout;
    }
    setvbuf(out, NULL, _IOFBF, 1 << 20);
  }
  for (int k = 0; k < 2; k++) {
    b[k].rec = l1k_calloc(BATCH_LINES, sizeof(record), NULL);
    if (!b[k].rec) {
      err.code = L1K_ENOMEM;
      snprintf(err.msg, sizeof err.msg, "out of memory");
      ret = cli_fail(cmd, &err);
      goto end;
    }
  }
  if (threads > 1) {
    p.cfg = &cfg;
    p.nthreads = threads;
    pthread_mutex_init(&p.mu, NULL);
    pthread_cond_init(&p.cv_work, NULL);
    pthread_cond_init(&p.cv_done, NULL);
    p.th = l1k_calloc((size_t)threads, sizeof *p.th, NULL);
    if (!p.th) {
      err.code = L1K_ENOMEM;
      snprintf(err.msg, sizeof err.msg, "out of memory");
      ret = cli_fail(cmd, &err);
      goto end;
    }
    for (int k = 0; k < threads; k++)
      if (pthread_create(&p.th[k], NULL, worker, &p) != 0) {
        p.nthreads = k;
        break;
      }
    pool_up = 1;
    if (p.nthreads == 0) {
      err.code = L1K_EINTERNAL;
      snprintf(err.msg, sizeof err.msg, "cannot start threads");
      ret = cli_fail(cmd, &err);
      goto end;
    }
  }

  double t0 = l1k_now(), c0 = cpu_now();
  l1k_progress prog;
  int show_progress = isatty(2);
  if (show_progress) l1k_progress_begin(&prog, "tokenize", -1);
  /* pipeline: A is encoded (by the pool) while B is read; then B is started and A written */
  batch *A = &b[0], *B = &b[1];
  if (read_batch(rd, A, &err)) {
    ret = cli_fail(cmd, &err);
    goto end;
  }
  if (A->n) batch_start(&p, pool_up, &cfg, A);
  while (A->n) {
    int read_fail = B->n = 0;
    if (read_batch(rd, B, &err)) read_fail = 1;
    if (pool_up) pool_wait(&p);
    if (read_fail) {
      ret = cli_fail(cmd, &err);
      goto end;
    }
    int a_bad = 0;
    for (size_t i = 0; i < A->n; i++) a_bad |= A->rec[i].rc != 0;
    int b_started = 0;
    if (!a_bad && B->n) {
      batch_start(&p, pool_up, &cfg, B);
      b_started = pool_up;
    }
    for (size_t i = 0; i < A->n; i++) {
      record *r = &A->rec[i];
      int fail = 0;
      if (r->rc) {
        fprintf(stderr, "long1k %s: %s\n", cmd, r->msg ? r->msg : "failed");
        ret = l1k_exit_code(r->rc);
        fail = 1;
      } else if (out && r->out.len && fwrite(r->out.data, 1, r->out.len, out) != r->out.len) {
        err.code = L1K_EIO;
        snprintf(err.msg, sizeof err.msg, "%s: write failed", output ? output : "stdout");
        ret = cli_fail(cmd, &err);
        fail = 1;
      } else if (stats_add(&st, r->ntok, r->nbytes)) {
        err.code = L1K_ENOMEM;
        snprintf(err.msg, sizeof err.msg, "out of memory");
        ret = cli_fail(cmd, &err);
        fail = 1;
      }
      if (fail) {
        if (b_started) pool_wait(&p);
        if (out) fflush(out);
        goto end;
      }
    }
    if (show_progress) {
      char extra[96];
      snprintf(extra, sizeof extra, "%llu docs, %lld tokens", (unsigned long long)st.n,
               (long long)st.total);
      l1k_progress_update(&prog, l1k_jsonl_bytes_read(rd), extra);
    }
    batch *t = A;
    A = B;
    B = t;
  }
  if (show_progress) l1k_progress_end(&prog);
  double secs = l1k_now() - t0, cpu = cpu_now() - c0;
  if (out && fflush(out) != 0) {
    err.code = L1K_EIO;
    snprintf(err.msg, sizeof err.msg, "%s: write failed", output ? output : "stdout");
    ret = cli_fail(cmd, &err);
    goto end;
  }
  if (output && out) {
    out = NULL;
    if (l1k_atomic_commit(&af, &err)) {
      ret = cli_fail(cmd, &err);
      goto end;
    }
  }
  if (want_stats) print_stats(stdout, &st, cfg.mode, secs, cpu);
  if (l1k_jsonl_blank_lines(rd) > 0)
    l1k_info("skipped %lld blank line(s) in %s", (long long)l1k_jsonl_blank_lines(rd), input);
  report_dropped(tok, tok_path);

end:
  if (output && af.f) l1k_atomic_abort(&af);
  if (pool_up) {
    pthread_mutex_lock(&p.mu);
    p.quit = 1;
    pthread_cond_broadcast(&p.cv_work);
    pthread_mutex_unlock(&p.mu);
    for (int k = 0; k < p.nthreads; k++) pthread_join(p.th[k], NULL);
    pthread_mutex_destroy(&p.mu);
    pthread_cond_destroy(&p.cv_work);
    pthread_cond_destroy(&p.cv_done);
  }
  free(p.th);
  for (int k = 0; k < 2; k++) {
    if (!b[k].rec) continue;
    for (size_t i = 0; i < BATCH_LINES; i++) {
      free(b[k].rec[i].line);
      free(b[k].rec[i].msg);
      l1k_buf_free(&b[k].rec[i].out);
    }
    free(b[k].rec);
  }
  free(st.h);
  l1k_jsonl_close(rd);
  l1k_tokenizer_free(tok);
  l1k_chat_template_free(cfg.tmpl);
  free(default_tok);
  return ret;
}
