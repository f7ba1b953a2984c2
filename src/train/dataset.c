/* long1k — SFT datasets: see include/long1k/dataset.h. */
#include "long1k/dataset.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#include "long1k/jsonl.h"
#include "long1k/log.h"

/* cache/ds-<key>.bin: a 128-byte header, then off (i64 [n+1]), ids (i32 [n_tokens]) and mask
 * (u8 [n_tokens]). crc: zlib's crc32 of the header (crc field zero) and the payload. */
#define CACHE_MAGIC "L1KDS003"
#define CACHE_VERSION 3u

typedef struct cache_header {
  char magic[8];
  uint32_t version, crc;
  uint64_t key;
  int64_t n, n_tokens;
  int64_t records, bad, too_long, truncated, no_target, not_read;
  int64_t reserved[5];
} cache_header; /* 128 bytes */
_Static_assert(sizeof(cache_header) == 128, "cache header is 128 bytes");

void l1k_data_opts_default(l1k_data_opts *o) {
  memset(o, 0, sizeof *o);
  o->enable_thinking = -1;
  o->cutoff_len = 32768;
  o->question_field = "question";
  o->reasoning_field = "deepseek_thinking_trajectory";
  o->answer_field = "deepseek_attempt";
  o->system_field = "system";
  o->response_format = "<think>\n{reasoning}\n</think>\n\n{answer}";
}

/* ---- records to messages ---------------------------------------------------------------- */

typedef struct msgs {
  l1k_chat_msg m[512];
  char *owned[512]; /* strings we built */
  size_t n, n_owned;
} msgs;

static int add_msg(msgs *ms, const char *role, const char *content, l1k_err *err) {
  if (ms->n >= 512) return l1k_errf(err, L1K_EUNSUPPORTED, "more than 512 messages");
  memset(&ms->m[ms->n], 0, sizeof ms->m[ms->n]);
  ms->m[ms->n].role = role;
  ms->m[ms->n].content = content;
  ms->n++;
  return 0;
}

static char *own(msgs *ms, char *s) {
  if (s && ms->n_owned < 512) ms->owned[ms->n_owned++] = s;
  else if (s) {
    free(s);
    return NULL;
  }
  return s;
}

static void msgs_free(msgs *ms) {
  for (size_t i = 0; i < ms->n_owned; i++) free(ms->owned[i]);
  ms->n_owned = 0;
}

static const char *str_field(const cJSON *rec, const char *name, int required, l1k_err *err,
                             int *rc) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(rec, name);
  if (!v || cJSON_IsNull(v)) {
    if (required) *rc = l1k_errf(err, L1K_EINPUT, "field '%s': missing", name);
    return NULL;
  }
  if (!cJSON_IsString(v)) {
    *rc = l1k_errf(err, L1K_EINPUT, "field '%s': expected a string", name);
    return NULL;
  }
  return v->valuestring;
}

/* OpenAI content: a string or an array of {"type": "text", "text": ...} parts. */
static const char *content_of(const cJSON *c, msgs *ms, const char *where, l1k_err *err) {
  if (cJSON_IsString(c)) return c->valuestring;
  if (cJSON_IsArray(c)) {
    l1k_buf b = {0};
    l1k_buf_puts(&b, "");
    const cJSON *p;
    cJSON_ArrayForEach(p, c) {
      const cJSON *t = cJSON_GetObjectItemCaseSensitive(p, "type");
      const cJSON *x = cJSON_GetObjectItemCaseSensitive(p, "text");
      if (!cJSON_IsString(t) || strcmp(t->valuestring, "text") != 0 || !cJSON_IsString(x)) {
        l1k_buf_free(&b);
        l1k_errf(err, L1K_EINPUT, "%s: content parts must be {\"type\": \"text\", \"text\": ...}",
                 where);
        return NULL;
      }
      l1k_buf_puts(&b, x->valuestring);
    }
    return own(ms, b.data);
  }
  l1k_errf(err, L1K_EINPUT, "%s: expected a string", where);
  return NULL;
}

static const char *norm_role(const char *r) {
  if (!strcmp(r, "system")) return "system";
  if (!strcmp(r, "user") || !strcmp(r, "human")) return "user";
  if (!strcmp(r, "assistant") || !strcmp(r, "gpt")) return "assistant";
  return NULL;
}

static int from_openai(const cJSON *rec, msgs *ms, const l1k_data_opts *o, l1k_err *err) {
  const cJSON *arr = cJSON_GetObjectItemCaseSensitive(rec, "messages");
  if (!cJSON_IsArray(arr)) return l1k_errf(err, L1K_EINPUT, "field 'messages': expected an array");
  int i = 0;
  const cJSON *m;
  cJSON_ArrayForEach(m, arr) {
    char where[96];
    snprintf(where, sizeof where, "messages[%d]", i);
    const cJSON *r = cJSON_GetObjectItemCaseSensitive(m, "role");
    if (!cJSON_IsString(r))
      return l1k_errf(err, L1K_EINPUT, "%s.role: expected a string", where);
    const char *role = norm_role(r->valuestring);
    if (!role)
      return l1k_errf(err, L1K_EINPUT, "%s.role: '%s' is not system, user or assistant", where,
                      r->valuestring);
    char w2[112];
    snprintf(w2, sizeof w2, "%s.content", where);
    const char *c = content_of(cJSON_GetObjectItemCaseSensitive(m, "content"), ms, w2, err);
    if (!c) return err ? err->code : L1K_EINPUT;
    if (add_msg(ms, role, c, err)) return L1K_EINPUT;
    const cJSON *rc = cJSON_GetObjectItemCaseSensitive(m, "reasoning_content");
    if (rc && !cJSON_IsNull(rc)) {
      if (!cJSON_IsString(rc))
        return l1k_errf(err, L1K_EINPUT, "%s.reasoning_content: expected a string", where);
      ms->m[ms->n - 1].reasoning_content = rc->valuestring;
    }
    i++;
  }
  return 0;
}

static int from_sharegpt(const cJSON *rec, msgs *ms, const l1k_data_opts *o, l1k_err *err) {
  const cJSON *arr = cJSON_GetObjectItemCaseSensitive(rec, "conversations");
  if (!cJSON_IsArray(arr))
    return l1k_errf(err, L1K_EINPUT, "field 'conversations': expected an array");
  int rc = 0;
  const char *sys = str_field(rec, o->system_field ? o->system_field : "system", 0, err, &rc);
  if (rc) return rc;
  if (sys && *sys && add_msg(ms, "system", sys, err)) return L1K_EINPUT;
  int i = 0;
  const cJSON *m;
  cJSON_ArrayForEach(m, arr) {
    const cJSON *f = cJSON_GetObjectItemCaseSensitive(m, "from");
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(m, "value");
    if (!cJSON_IsString(f))
      return l1k_errf(err, L1K_EINPUT, "conversations[%d].from: expected a string", i);
    if (!cJSON_IsString(v))
      return l1k_errf(err, L1K_EINPUT, "conversations[%d].value: expected a string", i);
    const char *role = norm_role(f->valuestring);
    if (!role)
      return l1k_errf(err, L1K_EINPUT,
                      "conversations[%d].from: '%s' is not human, gpt, user, assistant or system",
                      i, f->valuestring);
    if (add_msg(ms, role, v->valuestring, err)) return L1K_EINPUT;
    i++;
  }
  return 0;
}

static int from_alpaca(const cJSON *rec, msgs *ms, const l1k_data_opts *o, l1k_err *err) {
  int rc = 0;
  const char *ins = str_field(rec, "instruction", 1, err, &rc);
  if (rc) return rc;
  const char *inp = str_field(rec, "input", 0, err, &rc);
  if (rc) return rc;
  const char *out = str_field(rec, "output", 1, err, &rc);
  if (rc) return rc;
  const char *sys = str_field(rec, o->system_field ? o->system_field : "system", 0, err, &rc);
  if (rc) return rc;
  if (sys && *sys && add_msg(ms, "system", sys, err)) return L1K_EINPUT;
  const cJSON *hist = cJSON_GetObjectItemCaseSensitive(rec, "history");
  if (hist && !cJSON_IsNull(hist)) {
    if (!cJSON_IsArray(hist))
      return l1k_errf(err, L1K_EINPUT, "field 'history': expected [[query, response], ...]");
    int i = 0;
    const cJSON *h;
    cJSON_ArrayForEach(h, hist) {
      if (!cJSON_IsArray(h) || cJSON_GetArraySize(h) != 2 ||
          !cJSON_IsString(cJSON_GetArrayItem(h, 0)) || !cJSON_IsString(cJSON_GetArrayItem(h, 1)))
        return l1k_errf(err, L1K_EINPUT, "history[%d]: expected [query, response] strings", i);
      if (add_msg(ms, "user", cJSON_GetArrayItem(h, 0)->valuestring, err) ||
          add_msg(ms, "assistant", cJSON_GetArrayItem(h, 1)->valuestring, err))
        return L1K_EINPUT;
      i++;
    }
  }
  const char *user = ins;
  if (inp && *inp) {
    size_t a = strlen(ins), b = strlen(inp);
    char *u = malloc(a + b + 2);
    if (!u) return l1k_errf(err, L1K_ENOMEM, "out of memory");
    memcpy(u, ins, a);
    u[a] = '\n';
    memcpy(u + a + 1, inp, b + 1);
    if (!(user = own(ms, u))) return l1k_errf(err, L1K_ENOMEM, "out of memory");
  }
  if (add_msg(ms, "user", user, err) || add_msg(ms, "assistant", out, err)) return L1K_EINPUT;
  return 0;
}

static int from_fields(const cJSON *rec, msgs *ms, const l1k_data_opts *o, l1k_err *err) {
  int rc = 0;
  const char *q = str_field(rec, o->question_field, 1, err, &rc);
  if (rc) return rc;
  const char *r = NULL;
  if (strstr(o->response_format, "{reasoning}")) {
    r = str_field(rec, o->reasoning_field, 1, err, &rc);
    if (rc) return rc;
  }
  const char *a = str_field(rec, o->answer_field, 1, err, &rc);
  if (rc) return rc;
  const char *sys = str_field(rec, o->system_field ? o->system_field : "system", 0, err, &rc);
  if (rc) return rc;
  if (sys && *sys && add_msg(ms, "system", sys, err)) return L1K_EINPUT;
  l1k_buf b = {0};
  l1k_buf_puts(&b, "");
  for (const char *p = o->response_format; *p;) {
    if (!strncmp(p, "{reasoning}", 11)) {
      l1k_buf_puts(&b, r ? r : "");
      p += 11;
    } else if (!strncmp(p, "{answer}", 8)) {
      l1k_buf_puts(&b, a);
      p += 8;
    } else {
      l1k_buf_append(&b, p, 1);
      p++;
    }
  }
  const char *reply = own(ms, b.data);
  if (!reply) return l1k_errf(err, L1K_ENOMEM, "out of memory");
  if (add_msg(ms, "user", q, err) || add_msg(ms, "assistant", reply, err)) return L1K_EINPUT;
  return 0;
}

static int from_tokenized(const cJSON *rec, const l1k_data_opts *o, l1k_ids *ids, uint8_t **mask,
                          l1k_err *err) {
  const cJSON *in = cJSON_GetObjectItemCaseSensitive(rec, "input_ids");
  const cJSON *lab = cJSON_GetObjectItemCaseSensitive(rec, "labels");
  const cJSON *lm = cJSON_GetObjectItemCaseSensitive(rec, "loss_mask");
  if (!cJSON_IsArray(in)) return l1k_errf(err, L1K_EINPUT, "field 'input_ids': expected an array");
  if (!lab && !lm)
    return l1k_errf(err, L1K_EINPUT, "tokenized record: needs 'labels' or 'loss_mask'");
  const cJSON *other = lab ? lab : lm;
  int n = cJSON_GetArraySize(in);
  if (!cJSON_IsArray(other) || cJSON_GetArraySize(other) != n)
    return l1k_errf(err, L1K_EINPUT, "field '%s': expected an array as long as input_ids (%d)",
                    lab ? "labels" : "loss_mask", n);
  *mask = malloc(n ? (size_t)n : 1);
  if (!*mask) return l1k_errf(err, L1K_ENOMEM, "out of memory");
  int32_t vocab = o->tok ? l1k_tokenizer_vocab_size(o->tok) : INT32_MAX;
  const cJSON *a = in->child, *b = other->child;
  for (int i = 0; i < n; i++, a = a->next, b = b->next) {
    double v = a->valuedouble;
    if (!cJSON_IsNumber(a) || v != (double)(int32_t)v || v < 0 || v >= vocab)
      return l1k_errf(err, L1K_EINPUT, "input_ids[%d]: expected a token id in [0, %d)", i, vocab);
    if (l1k_ids_push(ids, (int32_t)v)) return l1k_errf(err, L1K_ENOMEM, "out of memory");
    double w = b->valuedouble;
    if (!cJSON_IsNumber(b))
      return l1k_errf(err, L1K_EINPUT, "%s[%d]: expected a number", lab ? "labels" : "loss_mask", i);
    if (lab) {
      if (w == -100) (*mask)[i] = 0;
      else if (w == v) (*mask)[i] = 1;
      else
        return l1k_errf(err, L1K_EINPUT,
                        "labels[%d]: expected -100 or input_ids[%d] (%d), got %g", i, i,
                        (int)v, w);
    } else {
      if (w != 0 && w != 1)
        return l1k_errf(err, L1K_EINPUT, "loss_mask[%d]: expected 0 or 1", i);
      (*mask)[i] = (uint8_t)w;
    }
  }
  return 0;
}

static l1k_data_format detect(const cJSON *rec, const l1k_data_opts *o) {
  if (cJSON_GetObjectItemCaseSensitive(rec, "messages")) return L1K_FMT_OPENAI;
  if (cJSON_GetObjectItemCaseSensitive(rec, "conversations")) return L1K_FMT_SHAREGPT;
  if (cJSON_GetObjectItemCaseSensitive(rec, "input_ids")) return L1K_FMT_TOKENIZED;
  if (cJSON_GetObjectItemCaseSensitive(rec, "instruction") &&
      cJSON_GetObjectItemCaseSensitive(rec, "output"))
    return L1K_FMT_ALPACA;
  if (cJSON_GetObjectItemCaseSensitive(rec, o->question_field)) return L1K_FMT_FIELDS;
  return L1K_FMT_AUTO;
}

int l1k_record_encode(const cJSON *rec, const l1k_data_opts *o, l1k_ids *ids, uint8_t **mask,
                      l1k_err *err) {
  *mask = NULL;
  if (!cJSON_IsObject(rec)) return l1k_errf(err, L1K_EINPUT, "expected a JSON object");
  l1k_data_format f = o->format == L1K_FMT_AUTO ? detect(rec, o) : o->format;
  if (f == L1K_FMT_AUTO)
    return l1k_errf(err, L1K_EINPUT,
                    "record has none of 'messages', 'conversations', 'instruction'+'output', "
                    "'input_ids' or '%s'",
                    o->question_field);
  if (f == L1K_FMT_TOKENIZED) return from_tokenized(rec, o, ids, mask, err);
  msgs ms;
  ms.n = ms.n_owned = 0;
  int rc;
  if (o->default_system && *o->default_system) add_msg(&ms, "system", o->default_system, err);
  size_t base = ms.n;
  switch (f) {
  case L1K_FMT_OPENAI: rc = from_openai(rec, &ms, o, err); break;
  case L1K_FMT_SHAREGPT: rc = from_sharegpt(rec, &ms, o, err); break;
  case L1K_FMT_ALPACA: rc = from_alpaca(rec, &ms, o, err); break;
  default: rc = from_fields(rec, &ms, o, err); break;
  }
  if (!rc) {
    /* a record's own system message replaces default_system */
    if (base == 1 && ms.n > 1 && !strcmp(ms.m[1].role, "system")) {
      memmove(ms.m, ms.m + 1, (ms.n - 1) * sizeof ms.m[0]);
      ms.n--;
    }
    int n_asst = 0;
    for (size_t i = 0; i < ms.n; i++) n_asst += !strcmp(ms.m[i].role, "assistant");
    if (!n_asst) rc = l1k_errf(err, L1K_EINPUT, "no assistant message (nothing to train on)");
  }
  if (!rc && !o->tok)
    rc = l1k_errf(err, L1K_EINPUT,
                  "chat records need a tokenizer (set tokenizer_name_or_path or put tokenizer.json "
                  "in the model directory)");
  if (!rc) {
    l1k_chat_opts co = {0, o->enable_thinking, NULL};
    rc = l1k_chat_encode(o->tok, o->tmpl, ms.m, ms.n, &co, ids, mask, err);
  }
  msgs_free(&ms);
  return rc;
}

/* ---- loading with a cache --------------------------------------------------------------- */


static uint64_t hash_str(uint64_t h, const char *s) {
  h = l1k_fnv1a64(s ? s : "\x01(null)", s ? strlen(s) + 1 : 8, h);
  return h;
}

static uint64_t hash_i64(uint64_t h, int64_t v) {
  return l1k_fnv1a64(&v, sizeof v, h);
}

/* the key hashes the bytes of the data, not its file metadata: a rewrite of the same size is
 * seen, a touch or a copy is not a change */
static int hash_file(uint64_t *h, const char *file, l1k_err *err) {
  struct stat st;
  if (stat(file, &st) != 0)
    return l1k_errf(err, L1K_EINPUT, "%s: cannot open: %s", file, strerror(errno));
  *h = hash_str(*h, file);
  *h = hash_i64(*h, (int64_t)st.st_size);
  FILE *f = fopen(file, "rb");
  if (!f) return l1k_errf(err, L1K_EINPUT, "%s: cannot open: %s", file, strerror(errno));
  enum { CHUNK = 1 << 20 };
  unsigned char *buf = malloc(CHUNK);
  if (!buf) {
    fclose(f);
    return l1k_errf(err, L1K_ENOMEM, "out of memory hashing %s", file);
  }
  size_t got;
  while ((got = fread(buf, 1, CHUNK, f)) > 0) *h = l1k_fnv1a64(buf, got, *h);
  int bad = ferror(f);
  free(buf);
  fclose(f);
  if (bad) return l1k_errf(err, L1K_EIO, "%s: read error while hashing it for the cache", file);
  return 0;
}

static int cache_key(const l1k_data_source *src, int ns, const l1k_data_opts *o, uint64_t *key,
                     l1k_err *err) {
  uint64_t h = hash_str(0xcbf29ce484222325ULL, CACHE_MAGIC);
  /* sources: LLaMA-Factory entries (their JSON text) or paths; max_samples per source */
  h = hash_str(h, "sources-v1");
  for (int i = 0; i < ns; i++) {
    h = hash_str(h, src[i].canon);
    for (int k = 0; k < src[i].n_files; k++)
      if (hash_file(&h, src[i].files[k], err))
        return err ? err->code : L1K_EINPUT;
  }
  if (o->tokenizer_path) {
    const char *names[] = {"tokenizer.json", "tokenizer_config.json"};
    for (int i = 0; i < 2; i++) {
      char *p = l1k_is_dir(o->tokenizer_path) ? l1k_path_join(o->tokenizer_path, names[i])
                                              : strdup(o->tokenizer_path);
      size_t len = 0;
      char *txt = p ? l1k_read_file(p, &len, NULL) : NULL;
      h = txt ? l1k_fnv1a64(txt, len, h) : hash_i64(h, -1);
      free(txt);
      free(p);
      if (!l1k_is_dir(o->tokenizer_path)) break;
    }
  }
  h = hash_i64(h, o->tok ? 1 : 0);
  h = hash_i64(h, o->format);
  h = hash_i64(h, (int64_t)l1k_chat_template_hash(o->tmpl));
  h = hash_i64(h, o->enable_thinking);
  h = hash_i64(h, o->cutoff_len);
  h = hash_i64(h, o->truncate);
  h = hash_i64(h, o->skip_bad_records);
  h = hash_i64(h, o->max_samples);
  h = hash_str(h, o->question_field);
  h = hash_str(h, o->reasoning_field);
  h = hash_str(h, o->answer_field);
  h = hash_str(h, o->system_field);
  h = hash_str(h, o->response_format);
  h = hash_str(h, o->default_system);
  *key = h;
  return 0;
}

typedef struct grow {
  int64_t *off;
  int32_t *ids;
  uint8_t *mask;
  int64_t n, ntok, cap_n, cap_tok;
} grow;

static int grow_push(grow *g, const int32_t *ids, const uint8_t *mask, int64_t len, l1k_err *err) {
  if (g->n + 2 > g->cap_n) {
    int64_t c = g->cap_n ? g->cap_n * 2 : 1024;
    int64_t *p = realloc(g->off, (size_t)c * sizeof *p);
    if (!p) return l1k_errf(err, L1K_ENOMEM, "out of memory");
    g->off = p;
    g->cap_n = c;
  }
  if (g->ntok + len > g->cap_tok) {
    int64_t c = g->cap_tok ? g->cap_tok : 1 << 16;
    while (c < g->ntok + len) c *= 2;
    int32_t *a = realloc(g->ids, (size_t)c * sizeof *a);
    if (!a) return l1k_errf(err, L1K_ENOMEM, "out of memory");
    g->ids = a;
    uint8_t *b = realloc(g->mask, (size_t)c);
    if (!b) return l1k_errf(err, L1K_ENOMEM, "out of memory");
    g->mask = b;
    g->cap_tok = c;
  }
  if (g->n == 0) g->off[0] = 0;
  memcpy(g->ids + g->ntok, ids, (size_t)len * sizeof *ids);
  memcpy(g->mask + g->ntok, mask, (size_t)len);
  g->ntok += len;
  g->off[++g->n] = g->ntok;
  return 0;
}

/* Keeps or drops one encoded sample (over-length, no loss token) and counts it. */
static int keep_sample(l1k_ids *ids, uint8_t *mask, const l1k_data_opts *o, grow *g,
                       l1k_dataset_stats *st, l1k_err *err) {
  int64_t len = (int64_t)ids->len;
  if (len > o->cutoff_len) {
    if (!o->truncate) {
      st->too_long++;
      return 0;
    }
    st->truncated++;
    len = o->cutoff_len;
  }
  int64_t t = 0;
  for (int64_t j = 1; j < len; j++) t += mask[j];
  if (t == 0) {
    st->no_target++;
    return 0;
  }
  return grow_push(g, ids->data, mask, len, err);
}

/* One file of a source; *taken counts the source's records so far (max_samples applies to
 * each dataset, as LLaMA-Factory truncates each before mixing). */
static int read_file_records(const l1k_data_source *src, const char *path,
                             const l1k_data_opts *o, grow *g, l1k_dataset_stats *st,
                             int64_t *taken, l1k_err *err) {
  l1k_records *r = l1k_records_open(path, err);
  if (!r) return err && err->code ? err->code : L1K_EINPUT;
  int rc = 0;
  for (;;) {
    cJSON *rec = NULL;
    l1k_err e2 = {0};
    int k = l1k_records_next(r, &rec, &e2);
    if (k == 0) break;
    if (o->max_samples > 0 && *taken >= o->max_samples) {
      cJSON_Delete(rec);
      if (k == 1 || e2.code == L1K_EINPUT) {
        st->not_read++;
        continue;
      }
    }
    if (k < 0) {
      if (e2.code == L1K_EINPUT && o->skip_bad_records && !l1k_records_is_array(r)) {
        st->records++;
        st->bad++;
        (*taken)++;
        l1k_debug("%s (skipped)", e2.msg);
        continue;
      }
      if (err) *err = e2;
      rc = e2.code ? e2.code : L1K_EIO;
      break;
    }
    st->records++;
    (*taken)++;
    l1k_ids ids = {0};
    uint8_t *mask = NULL;
    int e = src->lf ? l1k_lf_record_encode(rec, src, o, &ids, &mask, &e2)
                    : l1k_record_encode(rec, o, &ids, &mask, &e2);
    cJSON_Delete(rec);
    if (e && (e == L1K_EINPUT || e == L1K_EUNSUPPORTED) && o->skip_bad_records) {
      st->bad++;
      l1k_debug("%s: %s (skipped)", l1k_records_where(r), e2.msg);
    } else if (e) {
      rc = l1k_errf(err, e, "%s: %s", l1k_records_where(r), e2.msg);
    } else {
      rc = keep_sample(&ids, mask, o, g, st, err);
    }
    free(ids.data);
    free(mask);
    if (rc) break;
  }
  l1k_records_close(r);
  return rc;
}

static int read_sources(const l1k_data_source *src, int ns, const l1k_data_opts *o, grow *g,
                        l1k_dataset_stats *st, l1k_err *err) {
  int rc = 0;
  for (int i = 0; i < ns && !rc; i++) {
    int64_t taken = 0;
    for (int k = 0; k < src[i].n_files && !rc; k++)
      rc = read_file_records(&src[i], src[i].files[k], o, g, st, &taken, err);
  }
  return rc;
}

static uint32_t cache_crc(const cache_header *h, const void *payload, size_t len) {
  cache_header z = *h;
  z.crc = 0;
  uLong crc = crc32_z(0, (const Bytef *)&z, sizeof z);
  return (uint32_t)crc32_z(crc, (const Bytef *)payload, len);
}

/* offsets start at 0, never decrease, end at n_tokens; ids >= 0; mask 0 or 1 */
static int check_cache_arrays(const cache_header *h, const unsigned char *d, const char *path,
                              l1k_err *err) {
  const unsigned char *ids = d + 8 * (size_t)(h->n + 1), *mask = ids + 4 * (size_t)h->n_tokens;
  int64_t prev = 0;
  for (int64_t i = 0; i <= h->n; i++) {
    int64_t o;
    memcpy(&o, d + 8 * i, 8);
    if ((i == 0 && o != 0) || o < prev || o > h->n_tokens || (i == h->n && o != h->n_tokens))
      return l1k_errf(err, L1K_EINPUT, "%s: offset %lld is %lld, out of range", path, (long long)i,
                      (long long)o);
    prev = o;
  }
  for (int64_t j = 0; j < h->n_tokens; j++) {
    int32_t id;
    memcpy(&id, ids + 4 * j, 4);
    if (id < 0) return l1k_errf(err, L1K_EINPUT, "%s: token %lld has id %d", path, (long long)j, id);
    if (mask[j] > 1)
      return l1k_errf(err, L1K_EINPUT, "%s: mask %lld is %u, expected 0 or 1", path, (long long)j, mask[j]);
  }
  return 0;
}

int l1k_dataset_cache_check(const void *data, size_t size, uint64_t key, const char *path,
                            l1k_err *err) {
  cache_header h;
  if (size < sizeof h) return l1k_errf(err, L1K_EINPUT, "%s: %zu bytes, shorter than the header", path, size);
  memcpy(&h, data, sizeof h);
  if (memcmp(h.magic, CACHE_MAGIC, 8) != 0 || h.version != CACHE_VERSION)
    return l1k_errf(err, L1K_EINPUT, "%s: magic %.8s, expected %s (another version)", path, h.magic, CACHE_MAGIC);
  if (h.key != key) return l1k_errf(err, L1K_EINPUT, "%s: key differs (stale: the data or options changed)", path);
  if (h.n < 0 || h.n_tokens < 0 || h.n > (int64_t)1 << 40 || h.n_tokens > (int64_t)1 << 42)
    return l1k_errf(err, L1K_EINPUT, "%s: n %lld / n_tokens %lld out of range", path, (long long)h.n,
                    (long long)h.n_tokens);
  size_t want = sizeof h + (size_t)(h.n + 1) * 8 + (size_t)h.n_tokens * 5;
  if (size != want)
    return l1k_errf(err, L1K_EINPUT, "%s: size %zu bytes, the header says %zu", path, size, want);
  const unsigned char *d = (const unsigned char *)data + sizeof h;
  uint32_t crc = cache_crc(&h, d, size - sizeof h);
  if (crc != h.crc)
    return l1k_errf(err, L1K_EINPUT, "%s: checksum mismatch (crc32 %08x, header says %08x)", path, crc, h.crc);
  int64_t st[6] = {h.records, h.bad, h.too_long, h.truncated, h.no_target, h.not_read};
  for (int i = 0; i < 6; i++)
    if (st[i] < 0) return l1k_errf(err, L1K_EINPUT, "%s: a record count is negative", path);
  return check_cache_arrays(&h, d, path, err);
}

/* 0: mapped; -1: absent, stale or damaged (said on the log when present): rebuild */
static int open_cache(l1k_dataset *ds, const char *path, uint64_t key, l1k_err *err) {
  l1k_err e = {0};
  if (l1k_mmap_open(&ds->map, path, &e)) {
    if (err) *err = e;
    return -1;
  }
  if (l1k_dataset_cache_check(ds->map.data, ds->map.size, key, path, &e)) {
    l1k_mmap_close(&ds->map);
    if (err) *err = e;
    else l1k_warn("%s; rebuilding the cache", e.msg);
    return -1;
  }
  const cache_header *h = ds->map.data;
  ds->n = h->n;
  ds->n_tokens = h->n_tokens;
  ds->off = (const int64_t *)((const char *)ds->map.data + sizeof *h);
  ds->ids = (const int32_t *)(ds->off + h->n + 1);
  ds->mask = (const uint8_t *)(ds->ids + h->n_tokens);
  ds->stats = (l1k_dataset_stats){h->records, h->bad, h->too_long, h->truncated, h->no_target,
                                  h->not_read};
  return 0;
}

static int write_cache(const char *path, cache_header *h, const grow *g, l1k_err *err) {
  size_t lens[3] = {((size_t)g->n + 1) * 8, (size_t)g->ntok * 4, (size_t)g->ntok};
  const void *parts[3] = {g->off, g->ids, g->mask};
  cache_header z = *h;
  z.crc = 0;
  uLong crc = crc32_z(0, (const Bytef *)&z, sizeof z);
  for (int i = 0; i < 3; i++)
    if (lens[i]) crc = crc32_z(crc, (const Bytef *)parts[i], lens[i]);
  h->crc = (uint32_t)crc;
  l1k_atomic_file af;
  int rc = l1k_atomic_open(&af, path, err);
  if (rc) return rc;
  int bad = fwrite(h, sizeof *h, 1, af.f) != 1;
  for (int i = 0; i < 3 && !bad; i++) bad = lens[i] && fwrite(parts[i], 1, lens[i], af.f) != lens[i];
  if (bad) {
    l1k_atomic_abort(&af);
    return l1k_errf(err, L1K_EIO, "%s: write failed: %s", path, strerror(errno));
  }
  return l1k_atomic_commit(&af, err);
}

int l1k_dataset_load(const char *paths, const l1k_data_opts *o, l1k_dataset *ds, l1k_err *err) {
  memset(ds, 0, sizeof *ds);
  l1k_data_source *src = NULL;
  int ns = 0, rc = l1k_data_sources_resolve(paths, o->dataset_dir, &src, &ns, err);
  if (rc) return rc;
  uint64_t key = 0;
  rc = cache_key(src, ns, o, &key, err);
  if (!rc && o->cache_dir) {
    snprintf(ds->cache_path, sizeof ds->cache_path, "%s/ds-%016llx.bin", o->cache_dir,
             (unsigned long long)key);
    if (!o->overwrite_cache && l1k_file_exists(ds->cache_path) &&
        open_cache(ds, ds->cache_path, key, NULL) == 0) {
      ds->from_cache = 1;
      goto done;
    }
  }
  if (!rc) {
    grow g = {0};
    rc = read_sources(src, ns, o, &g, &ds->stats, err);
    if (!rc && g.n == 0) {
      g.off = g.off ? g.off : calloc(1, sizeof *g.off);
      if (!g.off) rc = l1k_errf(err, L1K_ENOMEM, "out of memory");
    }
    if (!rc && o->cache_dir) {
      cache_header h;
      memset(&h, 0, sizeof h);
      memcpy(h.magic, CACHE_MAGIC, 8);
      h.version = CACHE_VERSION;
      h.key = key;
      h.n = g.n;
      h.n_tokens = g.ntok;
      h.records = ds->stats.records;
      h.bad = ds->stats.bad;
      h.too_long = ds->stats.too_long;
      h.truncated = ds->stats.truncated;
      h.no_target = ds->stats.no_target;
      h.not_read = ds->stats.not_read;
      rc = l1k_mkdir_p(o->cache_dir, err);
      if (!rc) rc = write_cache(ds->cache_path, &h, &g, err);
      free(g.off);
      free(g.ids);
      free(g.mask);
      if (!rc && open_cache(ds, ds->cache_path, key, err) != 0)
        rc = l1k_errf(err, L1K_EIO, "%s: cannot read back the cache just written", ds->cache_path);
    } else if (!rc) {
      /* in memory: one block */
      size_t bytes = (size_t)(g.n + 1) * 8 + (size_t)g.ntok * 5 + 8;
      char *blk = malloc(bytes);
      if (!blk) rc = l1k_errf(err, L1K_ENOMEM, "out of memory");
      else {
        memcpy(blk, g.off, (size_t)(g.n + 1) * 8);
        if (g.ntok) {
          memcpy(blk + (g.n + 1) * 8, g.ids, (size_t)g.ntok * 4);
          memcpy(blk + (g.n + 1) * 8 + g.ntok * 4, g.mask, (size_t)g.ntok);
        }
        ds->heap = blk;
        ds->n = g.n;
        ds->n_tokens = g.ntok;
        ds->off = (const int64_t *)blk;
        ds->ids = (const int32_t *)(blk + (g.n + 1) * 8);
        ds->mask = (const uint8_t *)(blk + (g.n + 1) * 8 + g.ntok * 4);
      }
      free(g.off);
      free(g.ids);
      free(g.mask);
    } else {
      free(g.off);
      free(g.ids);
      free(g.mask);
    }
  }
done:
  l1k_data_sources_free(src, ns);
  if (rc) l1k_dataset_free(ds);
  return rc;
}

void l1k_dataset_free(l1k_dataset *ds) {
  if (ds->map.data) l1k_mmap_close(&ds->map);
  free(ds->heap);
  ds->heap = NULL;
  ds->off = NULL;
  ds->ids = NULL;
  ds->mask = NULL;
  ds->n = 0;
}

