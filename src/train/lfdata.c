/* long1k — LLaMA-Factory datasets: `dataset:` names resolved through
 * dataset_dir/dataset_info.json, record files that are a JSON array or JSON Lines (gzip
 * either), and the alpaca / sharegpt / openai converters of LLaMA-Factory
 * (src/llamafactory/data/{parser,converter}.py of hiyouga/LLaMA-Factory, commit ff6d4d12).
 * See include/long1k/dataset.h and docs/train.md. */
#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "long1k/dataset.h"
#include "long1k/jsonl.h"
#include "long1k/log.h"

/* ---- dataset_info.json entries ----------------------------------------------------------- */

/* LLaMA-Factory's DatasetAttr column and tag names with their defaults. */
static const char *const COL_NAMES[L1K_LF_NCOL] = {"prompt", "query",    "response",
                                                   "history", "messages", "system"};
static const char *const COL_DEFAULT[L1K_LF_NCOL] = {"instruction", "input", "output",
                                                     NULL,          "conversations", NULL};
static const char *const TAG_NAMES[L1K_LF_NTAG] = {"role_tag",        "content_tag",
                                                   "user_tag",        "assistant_tag",
                                                   "observation_tag", "function_tag",
                                                   "system_tag"};
static const char *const TAG_DEFAULT[L1K_LF_NTAG] = {"from",        "value",         "human", "gpt",
                                                     "observation", "function_call", "system"};

/* columns LLaMA-Factory has that long1k refuses (with the reason) */
static const char *const COL_REFUSED[][2] = {
    {"tools", "tool descriptions"},   {"images", "images (multimodal)"},
    {"videos", "videos (multimodal)"}, {"audios", "audios (multimodal)"},
    {"chosen", "preference pairs"},   {"rejected", "preference pairs"},
    {"kto_tag", "KTO labels"},
};

static char *dupz(const char *s) {
  return s ? strdup(s) : NULL;
}

void l1k_data_sources_free(l1k_data_source *s, int n) {
  for (int i = 0; s && i < n; i++) {
    free(s[i].spec);
    free(s[i].canon);
    for (int k = 0; k < s[i].n_files; k++) free(s[i].files[k]);
    free(s[i].files);
    for (int k = 0; k < L1K_LF_NCOL; k++) free(s[i].col[k]);
    for (int k = 0; k < L1K_LF_NTAG; k++) free(s[i].tag[k]);
  }
  free(s);
}

/* A string-or-null member of an entry object. */
static int entry_str(const cJSON *obj, const char *key, const char *where, char **out,
                     const char *def, l1k_err *err) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
  free(*out);
  *out = NULL;
  if (!v) return (*out = dupz(def), def && !*out) ? l1k_errf(err, L1K_ENOMEM, "out of memory") : 0;
  if (cJSON_IsNull(v)) return 0;
  if (!cJSON_IsString(v)) return l1k_errf(err, L1K_EINPUT, "%s: '%s': expected a string", where, key);
  return (*out = strdup(v->valuestring)) ? 0 : l1k_errf(err, L1K_ENOMEM, "out of memory");
}

/* Refuses what long1k does not do, naming the dataset and the key. */
static int entry_refuse(const cJSON *e, const char *where, l1k_err *err) {
  static const char *const remote[] = {"hf_hub_url", "ms_hub_url", "om_hub_url", "script_url",
                                       "cloud_file_name"};
  for (size_t i = 0; i < sizeof remote / sizeof *remote; i++)
    if (cJSON_GetObjectItemCaseSensitive(e, remote[i]))
      return l1k_errf(err, L1K_EUNSUPPORTED,
                      "%s: '%s': hub, script and cloud datasets are not supported (long1k reads "
                      "local files: download it and give 'file_name')",
                      where, remote[i]);
  const cJSON *r = cJSON_GetObjectItemCaseSensitive(e, "ranking");
  if (r && !cJSON_IsFalse(r) && !cJSON_IsNull(r))
    return l1k_errf(err, L1K_EUNSUPPORTED,
                    "%s: 'ranking': preference (ranking) datasets are for reward modeling / DPO; "
                    "long1k train does SFT only",
                    where);
  if (cJSON_GetObjectItemCaseSensitive(e, "num_samples"))
    return l1k_errf(err, L1K_EUNSUPPORTED,
                    "%s: 'num_samples': random (re)sampling of a dataset is not supported (use "
                    "max_samples for the first N records)",
                    where);
  const cJSON *sp = cJSON_GetObjectItemCaseSensitive(e, "split");
  if (sp && !(cJSON_IsString(sp) && !strcmp(sp->valuestring, "train")))
    return l1k_errf(err, L1K_EUNSUPPORTED,
                    "%s: 'split': a local file has only the split 'train'", where);
  const cJSON *cols = cJSON_GetObjectItemCaseSensitive(e, "columns");
  for (size_t i = 0; cols && i < sizeof COL_REFUSED / sizeof *COL_REFUSED; i++) {
    const cJSON *c = cJSON_GetObjectItemCaseSensitive(cols, COL_REFUSED[i][0]);
    if (c && !cJSON_IsNull(c))
      return l1k_errf(err, L1K_EUNSUPPORTED, "%s: 'columns.%s': %s are not supported by long1k train",
                      where, COL_REFUSED[i][0], COL_REFUSED[i][1]);
  }
  static const char *const known[] = {"file_name", "formatting", "ranking", "subset", "split",
                                      "folder",    "columns",    "tags",    "num_samples"};
  const cJSON *k;
  cJSON_ArrayForEach(k, e) {
    int ok = 0;
    for (size_t i = 0; i < sizeof known / sizeof *known; i++) ok |= !strcmp(k->string, known[i]);
    if (!ok)
      l1k_warn("%s: '%s' is not a LLaMA-Factory dataset key; ignored", where, k->string);
  }
  return 0;
}

/* LLaMA-Factory's DatasetAttr.join: with "columns" (or "tags") present, every column (tag)
 * it does not name is None, not its default. */
static int entry_attrs(const cJSON *e, const char *where, l1k_data_source *s, l1k_err *err) {
  char *fmt = NULL;
  if (entry_str(e, "formatting", where, &fmt, "alpaca", err)) return L1K_EINPUT;
  if (!fmt) fmt = strdup("alpaca");
  if (!fmt) return l1k_errf(err, L1K_ENOMEM, "out of memory");
  s->formatting = !strcmp(fmt, "alpaca")     ? L1K_FMT_ALPACA
                  : !strcmp(fmt, "sharegpt") ? L1K_FMT_SHAREGPT
                  : !strcmp(fmt, "openai")   ? L1K_FMT_OPENAI
                                             : L1K_FMT_AUTO;
  if (s->formatting == L1K_FMT_AUTO) {
    int rc = l1k_errf(err, L1K_EUNSUPPORTED,
                      "%s: 'formatting': '%s' is not alpaca, sharegpt or openai", where, fmt);
    free(fmt);
    return rc;
  }
  free(fmt);
  const cJSON *cols = cJSON_GetObjectItemCaseSensitive(e, "columns");
  const cJSON *tags = cJSON_GetObjectItemCaseSensitive(e, "tags");
  if (cols && !cJSON_IsObject(cols))
    return l1k_errf(err, L1K_EINPUT, "%s: 'columns': expected an object", where);
  if (tags && !cJSON_IsObject(tags))
    return l1k_errf(err, L1K_EINPUT, "%s: 'tags': expected an object", where);
  char w[600];
  for (int k = 0; k < L1K_LF_NCOL; k++) {
    snprintf(w, sizeof w, "%s: 'columns'", where);
    if (cols ? entry_str(cols, COL_NAMES[k], w, &s->col[k], NULL, err)
             : !!(COL_DEFAULT[k] && !(s->col[k] = strdup(COL_DEFAULT[k]))))
      return err && err->code ? err->code : l1k_errf(err, L1K_ENOMEM, "out of memory");
  }
  for (int k = 0; k < L1K_LF_NTAG; k++) {
    snprintf(w, sizeof w, "%s: 'tags'", where);
    if (tags ? entry_str(tags, TAG_NAMES[k], w, &s->tag[k], NULL, err)
             : !(s->tag[k] = strdup(TAG_DEFAULT[k])))
      return err && err->code ? err->code : l1k_errf(err, L1K_ENOMEM, "out of memory");
  }
  return 0;
}

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

static int push_file(l1k_data_source *s, char *path, l1k_err *err) {
  char **v = realloc(s->files, (size_t)(s->n_files + 1) * sizeof *v);
  if (!v || !path) {
    free(path);
    if (v) s->files = v;
    return l1k_errf(err, L1K_ENOMEM, "out of memory");
  }
  s->files = v;
  s->files[s->n_files++] = path;
  return 0;
}

/* "json" for .json / .jsonl (optionally .gz), else the extension as written. */
static const char *file_type(const char *path, char *ext, size_t cap) {
  const char *base = strrchr(path, '/');
  base = base ? base + 1 : path;
  size_t n = strlen(base);
  if (n > 3 && !strcmp(base + n - 3, ".gz")) n -= 3;
  const char *dot = NULL;
  for (size_t i = 0; i < n; i++)
    if (base[i] == '.') dot = base + i;
  size_t el = dot ? n - (size_t)(dot + 1 - base) : 0;
  snprintf(ext, cap, "%.*s", (int)el, dot ? dot + 1 : "");
  return (!strcmp(ext, "json") || !strcmp(ext, "jsonl")) ? "json" : ext;
}

/* file_name: a file, or a directory whose files (sorted by name) all have one type. */
static int entry_files(const char *dir, const char *file_name, const char *where,
                       l1k_data_source *s, l1k_err *err) {
  char *p = l1k_path_join(dir, file_name);
  if (!p) return l1k_errf(err, L1K_ENOMEM, "out of memory");
  if (l1k_is_dir(p)) {
    DIR *d = opendir(p);
    if (!d) {
      int rc = l1k_errf(err, L1K_EINPUT, "%s: %s: cannot open: %s", where, p, strerror(errno));
      free(p);
      return rc;
    }
    struct dirent *de;
    int rc = 0;
    while (!rc && (de = readdir(d)))
      if (de->d_name[0] != '.') {
        char *f = l1k_path_join(p, de->d_name);
        if (f && l1k_is_dir(f)) free(f);
        else rc = push_file(s, f, err);
      }
    closedir(d);
    if (!rc && s->n_files == 0) rc = l1k_errf(err, L1K_EINPUT, "%s: %s: no files", where, p);
    free(p);
    if (rc) return rc;
    qsort(s->files, (size_t)s->n_files, sizeof *s->files, cmp_str);
  } else if (l1k_file_exists(p)) {
    if (push_file(s, p, err)) return L1K_ENOMEM;
  } else {
    int rc = l1k_errf(err, L1K_EINPUT, "%s: 'file_name': %s not found", where, p);
    free(p);
    return rc;
  }
  char e0[64], e1[64];
  const char *t0 = file_type(s->files[0], e0, sizeof e0);
  if (strcmp(t0, "json") != 0)
    return l1k_errf(err, L1K_EUNSUPPORTED,
                    "%s: %s: file type '%s' is not supported (json or jsonl, optionally .gz)", where,
                    s->files[0], e0);
  for (int i = 1; i < s->n_files; i++)
    if (strcmp(file_type(s->files[i], e1, sizeof e1), t0) != 0)
      return l1k_errf(err, L1K_EINPUT, "%s: %s: file types should be identical (%s, %s)", where,
                      s->files[i], e0, e1);
  return 0;
}

static int resolve_entry(const cJSON *info, const char *info_path, const char *dir,
                         const char *name, l1k_data_source *s, l1k_err *err) {
  const cJSON *e = cJSON_GetObjectItemCaseSensitive(info, name);
  char where[600];
  snprintf(where, sizeof where, "%s: dataset '%s'", info_path, name);
  if (!cJSON_IsObject(e)) return l1k_errf(err, L1K_EINPUT, "%s: expected an object", where);
  int rc = entry_refuse(e, where, err);
  if (!rc) rc = entry_attrs(e, where, s, err);
  char *fname = NULL;
  if (!rc) rc = entry_str(e, "file_name", where, &fname, NULL, err);
  if (!rc && !fname) rc = l1k_errf(err, L1K_EINPUT, "%s: 'file_name': missing", where);
  if (!rc) rc = entry_files(dir, fname, where, s, err);
  free(fname);
  if (rc) return rc;
  s->lf = 1;
  s->canon = cJSON_PrintUnformatted(e);
  return s->canon ? 0 : l1k_errf(err, L1K_ENOMEM, "out of memory");
}

static void trim(char **t) {
  while (**t == ' ' || **t == '\t') (*t)++;
  char *e = *t + strlen(*t);
  while (e > *t && (e[-1] == ' ' || e[-1] == '\t')) *--e = 0;
}

/* dataset_dir/dataset_info.json, or NULL (with *missing = 1 when it does not exist). */
static cJSON *load_info(const char *dir, char **path, int *missing, l1k_err *err) {
  *path = l1k_path_join(dir ? dir : "data", "dataset_info.json");
  *missing = 0;
  if (!*path) return l1k_errf(err, L1K_ENOMEM, "out of memory"), NULL;
  if (!l1k_file_exists(*path)) return *missing = 1, NULL;
  size_t len = 0;
  char *txt = l1k_read_file(*path, &len, err);
  if (!txt) return NULL;
  const char *end = NULL;
  cJSON *j = cJSON_ParseWithLengthOpts(txt, len, &end, 0);
  if (!j || !cJSON_IsObject(j)) {
    size_t line = 1, col = 1;
    for (const char *p = txt; end && p < end; p++) line += *p == '\n', col = *p == '\n' ? 1 : col + 1;
    l1k_errf(err, L1K_EINPUT, "%s:%zu: %s near column %zu", *path, line,
             j ? "expected an object of datasets" : "invalid JSON", col);
    cJSON_Delete(j);
    j = NULL;
  }
  free(txt);
  return j;
}

static int resolve_one(char *t, const char *dir, cJSON **info, char **info_path, int *missing,
                       l1k_data_source *s, l1k_err *err) {
  if (!*info && !*missing) {
    *info = load_info(dir, info_path, missing, err);
    if (!*info && !*missing) return err ? err->code : L1K_EINPUT;
  }
  if (!(s->spec = strdup(t))) return l1k_errf(err, L1K_ENOMEM, "out of memory");
  if (*info && cJSON_GetObjectItemCaseSensitive(*info, t))
    return resolve_entry(*info, *info_path, dir ? dir : "data", t, s, err);
  if (!strcmp(t, "-") || (l1k_file_exists(t) && !l1k_is_dir(t))) {
    size_t n = strlen(t) + 6;
    s->canon = malloc(n);
    if (!s->canon) return l1k_errf(err, L1K_ENOMEM, "out of memory");
    snprintf(s->canon, n, "path:%s", t);
    char *f = strdup(t);
    return push_file(s, f, err);
  }
  if (*missing && !strchr(t, '/') && !strchr(t, '.'))
    return l1k_errf(err, L1K_EINPUT,
                    "dataset: '%s' is not a file, and there is no %s to look it up in (set "
                    "dataset_dir)",
                    t, *info_path);
  if (*missing) return l1k_errf(err, L1K_EINPUT, "dataset: %s: cannot open: %s", t, strerror(ENOENT));
  return l1k_errf(err, L1K_EINPUT, "dataset: '%s' is neither a dataset in %s nor a file", t,
                  *info_path);
}

int l1k_data_sources_resolve(const char *spec, const char *dataset_dir, l1k_data_source **out,
                             int *n_out, l1k_err *err) {
  *out = NULL;
  *n_out = 0;
  char *dup = strdup(spec ? spec : "");
  if (!dup) return l1k_errf(err, L1K_ENOMEM, "out of memory");
  cJSON *info = NULL;
  char *info_path = NULL;
  int missing = 0, rc = 0, n = 0;
  l1k_data_source *v = NULL;
  for (char *save = NULL, *t = strtok_r(dup, ",", &save); t && !rc; t = strtok_r(NULL, ",", &save)) {
    trim(&t);
    if (!*t) continue;
    l1k_data_source *nv = realloc(v, (size_t)(n + 1) * sizeof *nv);
    if (!nv) {
      rc = l1k_errf(err, L1K_ENOMEM, "out of memory");
      break;
    }
    v = nv;
    memset(&v[n], 0, sizeof v[n]);
    n++;
    rc = resolve_one(t, dataset_dir, &info, &info_path, &missing, &v[n - 1], err);
  }
  if (!rc && n == 0) rc = l1k_errf(err, L1K_EINPUT, "dataset: no file given");
  cJSON_Delete(info);
  free(info_path);
  free(dup);
  if (rc) {
    l1k_data_sources_free(v, n);
    return rc;
  }
  *out = v;
  *n_out = n;
  return 0;
}

/* ---- record files: a JSON array or JSON Lines --------------------------------------------- */

struct l1k_records {
  char *path;
  l1k_jsonl *jl;  /* JSON Lines */
  cJSON *arr;     /* a JSON array */
  cJSON *next;
  int64_t index;  /* 0-based index of the last record returned */
  char where[4200];
};

/* Reads the whole (possibly gzip-compressed) file. */
static char *slurp_gz(const char *path, size_t *len, l1k_err *err) {
  gzFile g = gzopen(path, "rb");
  if (!g) return l1k_errf(err, L1K_EINPUT, "%s: cannot open: %s", path, strerror(errno ? errno : ENOENT)), NULL;
  size_t cap = 1 << 16, n = 0;
  char *b = malloc(cap + 1);
  int got = 0;
  while (b && (got = gzread(g, b + n, (unsigned)(cap - n))) > 0) {
    n += (size_t)got;
    if (n == cap) {
      char *nb = realloc(b, cap * 2 + 1);
      if (!nb) free(b);
      b = nb;
      cap *= 2;
    }
  }
  int bad = got < 0;
  gzclose(g);
  if (!b) return l1k_errf(err, L1K_ENOMEM, "%s: out of memory reading it", path), NULL;
  if (bad) {
    free(b);
    return l1k_errf(err, L1K_EIO, "%s: read error (corrupt gzip data?)", path), NULL;
  }
  b[n] = 0;
  *len = n;
  return b;
}

/* First non-blank byte after an optional UTF-8 BOM ('[' means a JSON array). */
static int first_byte(const char *path, l1k_err *err) {
  gzFile g = gzopen(path, "rb");
  if (!g) return l1k_errf(err, L1K_EINPUT, "%s: cannot open: %s", path, strerror(errno ? errno : ENOENT)), -2;
  unsigned char b[4096];
  int n = gzread(g, b, sizeof b), i = 0;
  gzclose(g);
  if (n >= 3 && b[0] == 0xEF && b[1] == 0xBB && b[2] == 0xBF) i = 3;
  while (i < n && (b[i] == ' ' || b[i] == '\t' || b[i] == '\r' || b[i] == '\n')) i++;
  return i < n ? b[i] : -1;
}

static int open_array(l1k_records *r, l1k_err *err) {
  size_t len = 0;
  char *txt = slurp_gz(r->path, &len, err);
  if (!txt) return -1;
  const char *s = txt, *end = NULL;
  if (len >= 3 && !memcmp(s, "\xEF\xBB\xBF", 3)) s += 3;
  r->arr = cJSON_ParseWithLengthOpts(s, len - (size_t)(s - txt), &end, 0);
  if (!r->arr) {
    size_t line = 1, col = 1;
    for (const char *p = txt; end && p < end; p++) line += *p == '\n', col = *p == '\n' ? 1 : col + 1;
    l1k_errf(err, L1K_EINPUT, "%s:%zu: invalid JSON near column %zu (the file is a JSON array)",
             r->path, line, col);
    free(txt);
    return -1;
  }
  free(txt);
  r->next = r->arr->child;
  return 0;
}

l1k_records *l1k_records_open(const char *path, l1k_err *err) {
  l1k_records *r = calloc(1, sizeof *r);
  if (!r || !(r->path = strdup(path))) {
    free(r);
    return l1k_errf(err, L1K_ENOMEM, "out of memory"), NULL;
  }
  r->index = -1;
  int c = strcmp(path, "-") ? first_byte(path, err) : -1;
  int rc = c == -2 ? -1 : c == '[' ? open_array(r, err) : 0;
  if (!rc && c != '[' && !(r->jl = l1k_jsonl_open(path, err))) rc = -1;
  if (rc) {
    l1k_records_close(r);
    return NULL;
  }
  return r;
}

int l1k_records_next(l1k_records *r, cJSON **out, l1k_err *err) {
  *out = NULL;
  if (r->jl) {
    int k = l1k_jsonl_next(r->jl, out, err);
    if (k != 0) r->index++;
    snprintf(r->where, sizeof r->where, "%s:%lld", r->path, (long long)l1k_jsonl_line_no(r->jl));
    return k;
  }
  if (!r->next) return 0;
  *out = r->next;
  r->next = r->next->next;
  cJSON_DetachItemViaPointer(r->arr, *out);
  r->index++;
  snprintf(r->where, sizeof r->where, "%s: record %lld", r->path, (long long)r->index);
  return 1;
}

int l1k_records_is_array(const l1k_records *r) {
  return r->arr != NULL;
}

const char *l1k_records_where(const l1k_records *r) {
  return r->where;
}

void l1k_records_close(l1k_records *r) {
  if (!r) return;
  if (r->jl) l1k_jsonl_close(r->jl);
  cJSON_Delete(r->arr);
  free(r->path);
  free(r);
}

/* ---- LLaMA-Factory's converters ----------------------------------------------------------- */

void l1k_lf_msgs_free(l1k_lf_msgs *m) {
  free(m->m);
  for (size_t i = 0; i < m->n_owned; i++) free(m->owned[i]);
  free(m->owned);
  memset(m, 0, sizeof *m);
}

static int msg_push(l1k_lf_msgs *ms, const char *role, const char *content, l1k_err *err) {
  l1k_chat_msg *v = realloc(ms->m, (ms->n + 1) * sizeof *v);
  if (!v) return l1k_errf(err, L1K_ENOMEM, "out of memory");
  ms->m = v;
  memset(&v[ms->n], 0, sizeof v[ms->n]);
  v[ms->n].role = role;
  v[ms->n].content = content;
  ms->n++;
  return 0;
}

static const char *msg_own(l1k_lf_msgs *ms, char *s) {
  char **v = s ? realloc(ms->owned, (ms->n_owned + 1) * sizeof *v) : NULL;
  if (!v) {
    free(s);
    return NULL;
  }
  ms->owned = v;
  v[ms->n_owned++] = s;
  return s;
}

/* example[col] as datasets gives it: a missing column is None. */
static const cJSON *col_val(const cJSON *rec, const char *col) {
  const cJSON *v = col ? cJSON_GetObjectItemCaseSensitive(rec, col) : NULL;
  return v && !cJSON_IsNull(v) ? v : NULL;
}

/* A column that must be a string or null (None -> NULL). */
static int col_str(const cJSON *rec, const char *col, const char **out, l1k_err *err) {
  const cJSON *v = col_val(rec, col);
  *out = NULL;
  if (v && !cJSON_IsString(v))
    return l1k_errf(err, L1K_EINPUT, "field '%s': expected a string", col);
  if (v) *out = v->valuestring;
  return 0;
}

/* AlpacaDatasetConverter: history pairs, then prompt + "\n" + query (each only when
 * non-empty) as the user turn, the response column as the reply; system from its column. */
static int lf_alpaca(const cJSON *rec, const l1k_data_source *s, l1k_lf_msgs *ms, l1k_err *err) {
  const char *const *c = (const char *const *)s->col;
  const char *sys, *p, *q, *resp;
  if (col_str(rec, c[L1K_LF_SYSTEM], &sys, err) || col_str(rec, c[L1K_LF_PROMPT], &p, err) ||
      col_str(rec, c[L1K_LF_QUERY], &q, err))
    return L1K_EINPUT;
  if (sys && *sys && msg_push(ms, "system", sys, err)) return L1K_ENOMEM;
  const cJSON *h = col_val(rec, c[L1K_LF_HISTORY]);
  if (h && !cJSON_IsArray(h))
    return l1k_errf(err, L1K_EINPUT, "field '%s': expected [[query, response], ...]",
                    c[L1K_LF_HISTORY]);
  int i = 0;
  const cJSON *pair;
  cJSON_ArrayForEach(pair, h) {
    const cJSON *a = cJSON_GetArrayItem(pair, 0), *b = cJSON_GetArrayItem(pair, 1);
    if (!cJSON_IsArray(pair) || cJSON_GetArraySize(pair) != 2 || !cJSON_IsString(a) ||
        !cJSON_IsString(b))
      return l1k_errf(err, L1K_EINPUT, "field '%s'[%d]: expected [query, response] strings",
                      c[L1K_LF_HISTORY], i);
    if (msg_push(ms, "user", a->valuestring, err) || msg_push(ms, "assistant", b->valuestring, err))
      return L1K_ENOMEM;
    i++;
  }
  const cJSON *rv = col_val(rec, c[L1K_LF_RESPONSE]);
  if (!c[L1K_LF_RESPONSE] || !rv)
    return l1k_errf(err, L1K_EINPUT,
                    "field '%s': missing (a record without a response is not a supervised "
                    "example; LLaMA-Factory drops it)",
                    c[L1K_LF_RESPONSE] ? c[L1K_LF_RESPONSE] : "(columns.response not set)");
  if (!cJSON_IsString(rv))
    return l1k_errf(err, L1K_EINPUT, "field '%s': expected a string", c[L1K_LF_RESPONSE]);
  resp = rv->valuestring;
  size_t a = p && *p ? strlen(p) : 0, b = q && *q ? strlen(q) : 0;
  char *u = malloc(a + b + 2);
  if (!u) return l1k_errf(err, L1K_ENOMEM, "out of memory");
  memcpy(u, a ? p : "", a);
  if (a && b) u[a++] = '\n';
  memcpy(u + a, b ? q : "", b);
  u[a + b] = 0;
  const char *user = msg_own(ms, u);
  if (!user) return l1k_errf(err, L1K_ENOMEM, "out of memory");
  if (msg_push(ms, "user", user, err) || msg_push(ms, "assistant", resp, err)) return L1K_ENOMEM;
  return 0;
}

enum { R_USER, R_ASSISTANT, R_OBSERVATION, R_FUNCTION, R_SYSTEM, R_UNKNOWN };

static int role_of(const l1k_data_source *s, const char *v) {
  static const int order[] = {L1K_LF_USER_TAG, L1K_LF_ASSISTANT_TAG, L1K_LF_OBSERVATION_TAG,
                              L1K_LF_FUNCTION_TAG, L1K_LF_SYSTEM_TAG};
  for (int r = 0; r < 5; r++)
    if (s->tag[order[r]] && !strcmp(s->tag[order[r]], v)) return r;
  return R_UNKNOWN;
}

/* One message's role and content tags, as strings. */
static int msg_fields(const cJSON *m, const l1k_data_source *s, const char *field, int i,
                      const char **role, const cJSON **content, l1k_err *err) {
  const char *rt = s->tag[L1K_LF_ROLE_TAG], *ct = s->tag[L1K_LF_CONTENT_TAG];
  const cJSON *r = rt ? cJSON_GetObjectItemCaseSensitive(m, rt) : NULL;
  if (!cJSON_IsObject(m)) return l1k_errf(err, L1K_EINPUT, "field '%s'[%d]: expected an object", field, i);
  if (!cJSON_IsString(r))
    return l1k_errf(err, L1K_EINPUT, "field '%s'[%d].%s: expected a string", field, i,
                    rt ? rt : "(tags.role_tag not set)");
  *role = r->valuestring;
  *content = ct ? cJSON_GetObjectItemCaseSensitive(m, ct) : NULL;
  if (!*content)
    return l1k_errf(err, L1K_EINPUT, "field '%s'[%d].%s: missing", field, i,
                    ct ? ct : "(tags.content_tag not set)");
  return 0;
}

static int content_str(const cJSON *c, const char *field, int i, const l1k_data_source *s,
                       const char **out, l1k_err *err) {
  if (!cJSON_IsString(c))
    return l1k_errf(err, L1K_EINPUT, "field '%s'[%d].%s: expected a string", field, i,
                    s->tag[L1K_LF_CONTENT_TAG]);
  *out = c->valuestring;
  return 0;
}

/* The roles after the system prompt alternate user (or observation) / assistant (or function
 * call), an even number of them: LLaMA-Factory skips other records with a warning; long1k
 * names them. Tool calls and observations are refused (the templates here have no tools). */
static int check_turn(int role, const char *tagv, const char *field, int i, int turn,
                      l1k_err *err) {
  if (role == R_UNKNOWN)
    return l1k_errf(err, L1K_EINPUT, "field '%s'[%d]: role '%s' is none of the dataset's tags",
                    field, i, tagv);
  int want_user = turn % 2 == 0;
  int ok = want_user ? (role == R_USER || role == R_OBSERVATION)
                     : (role == R_ASSISTANT || role == R_FUNCTION);
  if (!ok)
    return l1k_errf(err, L1K_EINPUT,
                    "field '%s'[%d]: role '%s' where %s turn is expected (turns must alternate "
                    "user/assistant; LLaMA-Factory skips such records)",
                    field, i, tagv, want_user ? "a user" : "an assistant");
  if (role == R_OBSERVATION || role == R_FUNCTION)
    return l1k_errf(err, L1K_EUNSUPPORTED,
                    "field '%s'[%d]: role '%s': tool calls and observations are not supported by "
                    "long1k train",
                    field, i, tagv);
  return 0;
}

static int lf_sharegpt(const cJSON *rec, const l1k_data_source *s, l1k_lf_msgs *ms, l1k_err *err) {
  const char *field = s->col[L1K_LF_MESSAGES];
  const cJSON *arr = field ? cJSON_GetObjectItemCaseSensitive(rec, field) : NULL;
  if (!cJSON_IsArray(arr))
    return l1k_errf(err, L1K_EINPUT, "field '%s': expected an array of messages",
                    field ? field : "(columns.messages not set)");
  int n = cJSON_GetArraySize(arr), i0 = 0;
  const char *sys = NULL, *role0 = NULL;
  const cJSON *c0 = NULL, *m = arr->child;
  if (n && s->tag[L1K_LF_SYSTEM_TAG]) {
    if (msg_fields(m, s, field, 0, &role0, &c0, err)) return L1K_EINPUT;
    if (!strcmp(role0, s->tag[L1K_LF_SYSTEM_TAG])) {
      if (content_str(c0, field, 0, s, &sys, err)) return L1K_EINPUT;
      i0 = 1;
      m = m->next;
    }
  }
  if (!i0 && s->col[L1K_LF_SYSTEM] && col_str(rec, s->col[L1K_LF_SYSTEM], &sys, err))
    return L1K_EINPUT;
  if (sys && *sys && msg_push(ms, "system", sys, err)) return L1K_ENOMEM;
  for (int i = i0; m; m = m->next, i++) {
    const char *tagv = NULL, *content = NULL;
    const cJSON *c;
    if (msg_fields(m, s, field, i, &tagv, &c, err)) return L1K_EINPUT;
    int role = role_of(s, tagv);
    if (check_turn(role, tagv, field, i, i - i0, err)) return err ? err->code : L1K_EINPUT;
    if (content_str(c, field, i, s, &content, err)) return L1K_EINPUT;
    if (msg_push(ms, role == R_USER ? "user" : "assistant", content, err)) return L1K_ENOMEM;
  }
  if ((n - i0) % 2 != 0 || n - i0 == 0)
    return l1k_errf(err, L1K_EINPUT,
                    "field '%s': %d messages after the system prompt; expected an even number "
                    "> 0 (user, assistant, ...; LLaMA-Factory skips such records)",
                    field, n - i0);
  return 0;
}

/* OpenAIDatasetConverter (LLaMA-Factory >= 0.9.4): sharegpt with the system message taken
 * from the first message, tool_calls turned into function calls, and the Nemotron-style
 * "detailed thinking off" system prompt that converter adds. */
static int lf_openai(const cJSON *rec, const l1k_data_source *s, l1k_lf_msgs *ms, l1k_err *err) {
  const char *field = s->col[L1K_LF_MESSAGES];
  const cJSON *arr = field ? cJSON_GetObjectItemCaseSensitive(rec, field) : NULL;
  if (!cJSON_IsArray(arr))
    return l1k_errf(err, L1K_EINPUT, "field '%s': expected an array of messages",
                    field ? field : "(columns.messages not set)");
  const cJSON *m = arr->child;
  const char *sys = NULL, *role0;
  const cJSON *c0;
  int i0 = 0;
  if (m && s->tag[L1K_LF_SYSTEM_TAG]) {
    if (msg_fields(m, s, field, 0, &role0, &c0, err)) return L1K_EINPUT;
    if (!strcmp(role0, s->tag[L1K_LF_SYSTEM_TAG])) {
      if (content_str(c0, field, 0, s, &sys, err)) return L1K_EINPUT;
      i0 = 1;
      m = m->next;
    }
  }
  if (!i0 && s->col[L1K_LF_SYSTEM] && col_str(rec, s->col[L1K_LF_SYSTEM], &sys, err))
    return L1K_EINPUT;
  size_t sys_at = ms->n;
  if (msg_push(ms, "system", "", err)) return L1K_ENOMEM;
  int i = i0, turn = 0;
  for (; m; m = m->next, i++, turn++) {
    const char *tagv = NULL, *content = NULL;
    const cJSON *c;
    if (msg_fields(m, s, field, i, &tagv, &c, err)) return L1K_EINPUT;
    int role = role_of(s, tagv);
    const cJSON *tc = cJSON_GetObjectItemCaseSensitive(m, "tool_calls");
    if ((role == R_ASSISTANT || role == R_FUNCTION) && tc && !cJSON_IsNull(tc) &&
        !(cJSON_IsArray(tc) && !tc->child))
      role = R_FUNCTION;
    if (check_turn(role, tagv, field, i, turn, err)) return err ? err->code : L1K_EINPUT;
    if (content_str(c, field, i, s, &content, err)) return L1K_EINPUT;
    if (msg_push(ms, role == R_USER ? "user" : "assistant", content, err)) return L1K_ENOMEM;
  }
  if (turn % 2 != 0 || turn == 0)
    return l1k_errf(err, L1K_EINPUT,
                    "field '%s': %d messages after the system prompt; expected an even number "
                    "> 0 (user, assistant, ...; LLaMA-Factory skips such records)",
                    field, turn);
  /* no tools here: system = "detailed thinking off", or system + "\n" + that unless the
   * system already says "detailed thinking on|off" */
  const char *tail = "detailed thinking off";
  if (!sys || !*sys) {
    ms->m[sys_at].content = tail;
  } else if (strstr(sys, "detailed thinking on") || strstr(sys, tail)) {
    ms->m[sys_at].content = sys;
  } else {
    size_t a = strlen(sys), b = strlen(tail);
    char *x = malloc(a + b + 2);
    if (!x) return l1k_errf(err, L1K_ENOMEM, "out of memory");
    memcpy(x, sys, a);
    x[a] = '\n';
    memcpy(x + a + 1, tail, b + 1);
    if (!(ms->m[sys_at].content = msg_own(ms, x))) return l1k_errf(err, L1K_ENOMEM, "out of memory");
  }
  return 0;
}

int l1k_lf_convert(const cJSON *rec, const l1k_data_source *s, l1k_lf_msgs *ms, l1k_err *err) {
  memset(ms, 0, sizeof *ms);
  if (!cJSON_IsObject(rec)) return l1k_errf(err, L1K_EINPUT, "expected a JSON object");
  int rc = s->formatting == L1K_FMT_ALPACA     ? lf_alpaca(rec, s, ms, err)
           : s->formatting == L1K_FMT_SHAREGPT ? lf_sharegpt(rec, s, ms, err)
                                               : lf_openai(rec, s, ms, err);
  if (rc) l1k_lf_msgs_free(ms);
  return rc;
}

int l1k_lf_record_encode(const cJSON *rec, const l1k_data_source *s, const l1k_data_opts *o,
                         l1k_ids *ids, uint8_t **mask, l1k_err *err) {
  *mask = NULL;
  if (!o->tok)
    return l1k_errf(err, L1K_EINPUT,
                    "chat records need a tokenizer (set tokenizer_name_or_path or put "
                    "tokenizer.json in the model directory)");
  l1k_lf_msgs ms;
  int rc = l1k_lf_convert(rec, s, &ms, err);
  if (rc) return rc;
  /* default_system replaces the template's default when the record has none (LLaMA-Factory:
   * system or template.default_system, with default_system overriding the template's) */
  int has_sys = ms.n && !strcmp(ms.m[0].role, "system");
  if (!has_sys && o->default_system && *o->default_system) {
    rc = msg_push(&ms, "system", o->default_system, err);
    if (!rc) {
      l1k_chat_msg t = ms.m[ms.n - 1];
      memmove(ms.m + 1, ms.m, (ms.n - 1) * sizeof *ms.m);
      ms.m[0] = t;
    }
  }
  if (!rc) {
    l1k_chat_opts co = {0, o->enable_thinking, NULL};
    rc = l1k_chat_encode(o->tok, o->tmpl, ms.m, ms.n, &co, ids, mask, err);
  }
  l1k_lf_msgs_free(&ms);
  return rc;
}
