/* long1k — safetensors reader (memory-mapped, validated) and atomic writer.
 * See include/long1k/safetensors.h for the rules enforced. */
#include "long1k/safetensors.h"

#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "long1k/jsonl.h"

#define ST_MAX_HEADER ((uint64_t)100 * 1000 * 1000)
#define ST_MAX_INT 9007199254740992.0 /* 2^53: largest exactly representable JSON integer */

void l1k_st_close(l1k_safetensors *st) {
  if (!st) return;
  for (size_t i = 0; i < st->n; i++) free(st->t[i].name);
  free(st->t);
  for (size_t i = 0; i < st->n_meta; i++) {
    free(st->meta[i].key);
    free(st->meta[i].value);
  }
  free(st->meta);
  free(st->path);
  l1k_mmap_close(&st->map);
  memset(st, 0, sizeof *st);
}

static int get_uint(const cJSON *v, uint64_t *out) {
  if (!cJSON_IsNumber(v)) return -1;
  double d = v->valuedouble;
  if (!isfinite(d) || d < 0 || d > ST_MAX_INT || d != floor(d)) return -1;
  *out = (uint64_t)d;
  return 0;
}

typedef struct {
  uint64_t begin, end;
  size_t idx;
} span;

static int span_cmp(const void *a, const void *b) {
  const span *x = a, *y = b;
  if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
  if (x->end != y->end) return x->end < y->end ? -1 : 1;
  return 0;
}

static int name_cmp(const void *a, const void *b) {
  const l1k_st_tensor *const *x = a, *const *y = b;
  return strcmp((*x)->name, (*y)->name);
}

int l1k_st_parse(l1k_safetensors *st, const void *data, size_t size, const char *name,
                 l1k_err *err) {
  memset(st, 0, sizeof *st);
  const unsigned char *p = data;
  if (!name) name = "<memory>";
  if (size < 8)
    return l1k_errf(err, L1K_EINPUT,
                    "%s: not a safetensors file: %zu bytes, expected at least 8 (header length)",
                    name, size);
  uint64_t hlen = 0;
  for (int i = 7; i >= 0; i--) hlen = (hlen << 8) | p[i];
  if (hlen > ST_MAX_HEADER)
    return l1k_errf(err, L1K_EINPUT,
                    "%s: safetensors header length %llu exceeds the 100 MB limit (corrupt file?)",
                    name, (unsigned long long)hlen);
  if (hlen > size - 8)
    return l1k_errf(err, L1K_EINPUT,
                    "%s: safetensors header length %llu points past the end of the file (%zu "
                    "bytes; truncated?)",
                    name, (unsigned long long)hlen, size);
  if (hlen < 2 || p[8] != '{')
    return l1k_errf(err, L1K_EINPUT, "%s: safetensors header must be a JSON object starting with '{'",
                    name);
  const char *hdr = (const char *)p + 8;
  const char *end = NULL;
  cJSON *root = cJSON_ParseWithLengthOpts(hdr, (size_t)hlen, &end, 0);
  if (!root || !cJSON_IsObject(root)) {
    size_t col = end ? (size_t)(end - hdr) : 0;
    if (!root) {
      const char *e = cJSON_GetErrorPtr();
      if (e && e >= hdr && e <= hdr + hlen) col = (size_t)(e - hdr);
    }
    cJSON_Delete(root);
    return l1k_errf(err, L1K_EINPUT, "%s: safetensors header is not valid JSON (near byte %zu)",
                    name, col + 8);
  }
  for (const char *q = end; q && q < hdr + hlen; q++) {
    if (*q != ' ' && *q != '\t' && *q != '\n' && *q != '\r' && *q != 0) {
      cJSON_Delete(root);
      return l1k_errf(err, L1K_EINPUT,
                      "%s: safetensors header has trailing bytes after the JSON object (byte %zu)",
                      name, (size_t)(q - hdr) + 8);
    }
  }
  const unsigned char *buf = p + 8 + hlen;
  uint64_t buf_size = size - 8 - hlen;
  int n = cJSON_GetArraySize(root);
  int rc = 0;
  st->t = l1k_calloc((size_t)(n > 0 ? n : 1), sizeof *st->t, NULL);
  span *sp = l1k_calloc((size_t)(n > 0 ? n : 1), sizeof *sp, NULL);
  if (!st->t || !sp) {
    rc = l1k_errf(err, L1K_ENOMEM, "%s: out of memory reading the safetensors header", name);
    goto done;
  }
  for (const cJSON *it = root->child; it; it = it->next) {
    const char *tn = it->string ? it->string : "";
    if (!strcmp(tn, "__metadata__")) {
      if (st->meta) {
        rc = l1k_errf(err, L1K_EINPUT, "%s: duplicate __metadata__ in safetensors header", name);
        goto done;
      }
      if (!cJSON_IsObject(it)) {
        rc = l1k_errf(err, L1K_EINPUT, "%s: __metadata__: expected an object of strings", name);
        goto done;
      }
      int m = cJSON_GetArraySize(it);
      st->meta = l1k_calloc((size_t)(m > 0 ? m : 1), sizeof *st->meta, NULL);
      if (!st->meta) {
        rc = l1k_errf(err, L1K_ENOMEM, "%s: out of memory", name);
        goto done;
      }
      for (const cJSON *kv = it->child; kv; kv = kv->next) {
        if (!cJSON_IsString(kv)) {
          rc = l1k_errf(err, L1K_EINPUT, "%s: __metadata__ field '%.100s': expected a string",
                        name, kv->string ? kv->string : "");
          goto done;
        }
        l1k_st_meta *md = &st->meta[st->n_meta++];
        md->key = l1k_strdup(kv->string ? kv->string : "", NULL);
        md->value = l1k_strdup(kv->valuestring, NULL);
        if (!md->key || !md->value) {
          rc = l1k_errf(err, L1K_ENOMEM, "%s: out of memory", name);
          goto done;
        }
      }
      continue;
    }
    if (!cJSON_IsObject(it)) {
      rc = l1k_errf(err, L1K_EINPUT, "%s: tensor '%.200s': expected an object with dtype, shape, "
                    "data_offsets", name, tn);
      goto done;
    }
    l1k_st_tensor *t = &st->t[st->n];
    t->name = l1k_strdup(tn, NULL);
    if (!t->name) {
      rc = l1k_errf(err, L1K_ENOMEM, "%s: out of memory", name);
      goto done;
    }
    st->n++;
    const cJSON *dt = cJSON_GetObjectItemCaseSensitive(it, "dtype");
    const cJSON *sh = cJSON_GetObjectItemCaseSensitive(it, "shape");
    const cJSON *off = cJSON_GetObjectItemCaseSensitive(it, "data_offsets");
    if (!cJSON_IsString(dt)) {
      rc = l1k_errf(err, L1K_EINPUT, "%s: tensor '%.200s': field 'dtype': expected a string", name, tn);
      goto done;
    }
    t->dtype = l1k_dtype_parse(dt->valuestring);
    if (t->dtype == L1K_DT_INVALID) {
      rc = l1k_errf(err, L1K_EUNSUPPORTED,
                    "%s: tensor '%.200s': dtype '%.32s' not supported (expected F32, BF16, F16, "
                    "I32 or I64)", name, tn, dt->valuestring);
      goto done;
    }
    if (!cJSON_IsArray(sh)) {
      rc = l1k_errf(err, L1K_EINPUT, "%s: tensor '%.200s': field 'shape': expected an array", name, tn);
      goto done;
    }
    int nd = cJSON_GetArraySize(sh);
    if (nd > L1K_ST_MAX_DIMS) {
      rc = l1k_errf(err, L1K_EUNSUPPORTED, "%s: tensor '%.200s': %d dimensions, at most %d supported",
                    name, tn, nd, L1K_ST_MAX_DIMS);
      goto done;
    }
    t->ndim = nd;
    uint64_t numel = 1;
    int k = 0;
    for (const cJSON *d = sh->child; d; d = d->next, k++) {
      uint64_t v;
      if (get_uint(d, &v) != 0) {
        rc = l1k_errf(err, L1K_EINPUT,
                      "%s: tensor '%.200s': shape[%d]: expected a non-negative integer", name, tn, k);
        goto done;
      }
      t->shape[k] = (int64_t)v;
      if (v != 0 && numel > UINT64_MAX / v) {
        rc = l1k_errf(err, L1K_EINPUT, "%s: tensor '%.200s': shape overflows", name, tn);
        goto done;
      }
      numel *= v;
    }
    uint64_t es = l1k_dtype_size(t->dtype);
    if (numel > UINT64_MAX / es) {
      rc = l1k_errf(err, L1K_EINPUT, "%s: tensor '%.200s': shape overflows", name, tn);
      goto done;
    }
    uint64_t nbytes = numel * es;
    if (!cJSON_IsArray(off) || cJSON_GetArraySize(off) != 2) {
      rc = l1k_errf(err, L1K_EINPUT,
                    "%s: tensor '%.200s': field 'data_offsets': expected [begin, end]", name, tn);
      goto done;
    }
    uint64_t b0, b1;
    if (get_uint(off->child, &b0) != 0 || get_uint(off->child->next, &b1) != 0 || b1 < b0) {
      rc = l1k_errf(err, L1K_EINPUT,
                    "%s: tensor '%.200s': data_offsets must be integers with begin <= end", name, tn);
      goto done;
    }
    if (b1 - b0 != nbytes) {
      rc = l1k_errf(err, L1K_EINPUT,
                    "%s: tensor '%.200s': data_offsets span %llu bytes but shape and dtype %s need %llu",
                    name, tn, (unsigned long long)(b1 - b0), l1k_dtype_name(t->dtype),
                    (unsigned long long)nbytes);
      goto done;
    }
    if (b1 > buf_size) {
      rc = l1k_errf(err, L1K_EINPUT,
                    "%s: tensor '%.200s': data [%llu, %llu) lies past the end of the data (%llu "
                    "bytes; truncated file?)", name, tn, (unsigned long long)b0,
                    (unsigned long long)b1, (unsigned long long)buf_size);
      goto done;
    }
    t->numel = (size_t)numel;
    t->nbytes = (size_t)nbytes;
    t->data = buf + b0;
    sp[st->n - 1] = (span){b0, b1, st->n - 1};
  }
  /* overlaps */
  qsort(sp, st->n, sizeof *sp, span_cmp);
  uint64_t prev_end = 0;
  size_t prev = (size_t)-1;
  for (size_t i = 0; i < st->n; i++) {
    if (sp[i].begin == sp[i].end) continue; /* empty tensors occupy nothing */
    if (prev != (size_t)-1 && sp[i].begin < prev_end) {
      rc = l1k_errf(err, L1K_EINPUT, "%s: tensors '%.200s' and '%.200s' overlap in the data buffer",
                    name, st->t[prev].name, st->t[sp[i].idx].name);
      goto done;
    }
    prev_end = sp[i].end;
    prev = sp[i].idx;
  }
  /* duplicate names (cJSON keeps both copies of a repeated key) */
  if (st->n > 1) {
    l1k_st_tensor **ptrs = l1k_malloc(st->n * sizeof *ptrs, NULL);
    if (!ptrs) {
      rc = l1k_errf(err, L1K_ENOMEM, "%s: out of memory", name);
      goto done;
    }
    for (size_t i = 0; i < st->n; i++) ptrs[i] = &st->t[i];
    qsort(ptrs, st->n, sizeof *ptrs, name_cmp);
    for (size_t i = 1; i < st->n && !rc; i++)
      if (!strcmp(ptrs[i]->name, ptrs[i - 1]->name))
        rc = l1k_errf(err, L1K_EINPUT, "%s: tensor '%.200s' appears twice in the header", name,
                      ptrs[i]->name);
    free(ptrs);
  }
done:
  free(sp);
  cJSON_Delete(root);
  if (rc) {
    l1k_mmap keep = st->map;
    st->map = (l1k_mmap){0};
    l1k_st_close(st);
    st->map = keep;
  }
  return rc;
}

int l1k_st_open(l1k_safetensors *st, const char *path, l1k_err *err) {
  memset(st, 0, sizeof *st);
  l1k_mmap map;
  int rc = l1k_mmap_open(&map, path, err);
  if (rc) return rc;
  rc = l1k_st_parse(st, map.data, map.size, path, err);
  if (rc) {
    l1k_mmap_close(&map);
    memset(st, 0, sizeof *st);
    return rc;
  }
  st->map = map;
  st->path = l1k_strdup(path, NULL);
  if (!st->path) {
    l1k_st_close(st);
    return l1k_errf(err, L1K_ENOMEM, "out of memory");
  }
  return 0;
}

const l1k_st_tensor *l1k_st_find(const l1k_safetensors *st, const char *name) {
  for (size_t i = 0; i < st->n; i++)
    if (!strcmp(st->t[i].name, name)) return &st->t[i];
  return NULL;
}

const char *l1k_st_meta_get(const l1k_safetensors *st, const char *key) {
  for (size_t i = 0; i < st->n_meta; i++)
    if (!strcmp(st->meta[i].key, key)) return st->meta[i].value;
  return NULL;
}

void l1k_st_to_f32(const l1k_st_tensor *t, float *dst) {
  l1k_to_f32(dst, t->data, t->dtype, t->numel);
}

/* ---------------------------------------------------------------------------------------- */

int l1k_st_write(const char *path, const l1k_st_entry *e, size_t n, const l1k_st_meta *meta,
                 size_t n_meta, l1k_err *err) {
  l1k_buf h = {0};
  int rc = 0;
  uint64_t off = 0;
  l1k_buf_puts(&h, "{");
  if (n_meta) {
    l1k_buf_puts(&h, "\"__metadata__\":{");
    for (size_t i = 0; i < n_meta; i++) {
      if (i) l1k_buf_puts(&h, ",");
      l1k_buf_json_string(&h, meta[i].key, strlen(meta[i].key));
      l1k_buf_puts(&h, ":");
      l1k_buf_json_string(&h, meta[i].value, strlen(meta[i].value));
    }
    l1k_buf_puts(&h, "}");
  }
  for (size_t i = 0; i < n; i++) {
    size_t es = l1k_dtype_size(e[i].dtype);
    if (!es || e[i].ndim < 0 || e[i].ndim > L1K_ST_MAX_DIMS || (!e[i].data && !e[i].f32) ||
        (e[i].f32 && !l1k_dtype_is_float(e[i].dtype))) {
      l1k_buf_free(&h);
      return l1k_errf(err, L1K_EINTERNAL, "%s: tensor '%s': invalid writer entry", path, e[i].name);
    }
    uint64_t numel = 1;
    for (int d = 0; d < e[i].ndim; d++) numel *= (uint64_t)e[i].shape[d];
    if (n_meta || i) l1k_buf_puts(&h, ",");
    l1k_buf_json_string(&h, e[i].name, strlen(e[i].name));
    l1k_buf_printf(&h, ":{\"dtype\":\"%s\",\"shape\":[", l1k_dtype_name(e[i].dtype));
    for (int d = 0; d < e[i].ndim; d++)
      l1k_buf_printf(&h, "%s%lld", d ? "," : "", (long long)e[i].shape[d]);
    l1k_buf_printf(&h, "],\"data_offsets\":[%llu,%llu]}", (unsigned long long)off,
                   (unsigned long long)(off + numel * es));
    off += numel * es;
  }
  l1k_buf_puts(&h, "}");
  while (h.len % 8) l1k_buf_puts(&h, " ");
  if (!h.data) return l1k_errf(err, L1K_ENOMEM, "out of memory");

  l1k_atomic_file a;
  rc = l1k_atomic_open(&a, path, err);
  if (rc) {
    l1k_buf_free(&h);
    return rc;
  }
  unsigned char len8[8];
  for (int i = 0; i < 8; i++) len8[i] = (unsigned char)(((uint64_t)h.len >> (8 * i)) & 0xff);
  int ok = fwrite(len8, 1, 8, a.f) == 8 && fwrite(h.data, 1, h.len, a.f) == h.len;
  l1k_buf_free(&h);
  enum { CHUNK = 1 << 16 };
  unsigned char *tmp = ok ? l1k_malloc(CHUNK * 4, NULL) : NULL;
  if (ok && !tmp) {
    l1k_atomic_abort(&a);
    return l1k_errf(err, L1K_ENOMEM, "out of memory");
  }
  for (size_t i = 0; i < n && ok; i++) {
    size_t es = l1k_dtype_size(e[i].dtype);
    size_t numel = 1;
    for (int d = 0; d < e[i].ndim; d++) numel *= (size_t)e[i].shape[d];
    if (e[i].data) {
      ok = numel == 0 || fwrite(e[i].data, es, numel, a.f) == numel;
    } else {
      for (size_t j = 0; j < numel && ok; j += CHUNK) {
        size_t m = numel - j < CHUNK ? numel - j : CHUNK;
        l1k_from_f32(tmp, e[i].dtype, e[i].f32 + j, m);
        ok = fwrite(tmp, es, m, a.f) == m;
      }
    }
  }
  free(tmp);
  if (!ok) {
    l1k_atomic_abort(&a);
    return l1k_errf(err, L1K_EIO, "%s: write failed (disk full?)", path);
  }
  return l1k_atomic_commit(&a, err);
}

/* ---------------------------------------------------------------- sharded writer */

/* One '.'-separated part of a key as transformers' dot_natural_key sees it: a number
 * (all digits), or a word with an optional numeric suffix. */
typedef struct nat_part {
  int is_num;
  const char *w; size_t wn;   /* word (without its trailing digits) */
  const char *d; size_t dn;   /* digits (leading zeros skipped), or dn = 0 and has_d = 0 */
  int has_d;
} nat_part;

static const char *nat_next(const char *s, nat_part *p) {
  const char *e = strchr(s, '.');
  size_t n = e ? (size_t)(e - s) : strlen(s), t = n;
  while (t > 0 && s[t - 1] >= '0' && s[t - 1] <= '9') t--;
  p->is_num = n > 0 && t == 0;
  p->w = s;
  p->wn = t;
  p->has_d = t < n;
  p->d = s + t;
  p->dn = n - t;
  while (p->dn > 1 && *p->d == '0') p->d++, p->dn--;
  return e ? e + 1 : NULL;
}

static int num_cmp(const char *a, size_t an, const char *b, size_t bn) {
  if (an != bn) return an < bn ? -1 : 1;
  int c = memcmp(a, b, an);
  return (c > 0) - (c < 0);
}

static int word_cmp(const char *a, size_t an, const char *b, size_t bn) {
  int c = memcmp(a, b, an < bn ? an : bn);
  if (c) return (c > 0) - (c < 0);
  return an == bn ? 0 : an < bn ? -1 : 1;
}

/* Python's ordering of the lists of tuples (0, int) / (1, word) / (1, word, int). */
int l1k_st_natural_cmp(const char *a, const char *b) {
  while (a && b) {
    nat_part x, y;
    a = nat_next(a, &x);
    b = nat_next(b, &y);
    if (x.is_num != y.is_num) return x.is_num ? -1 : 1;
    int c = x.is_num ? num_cmp(x.d, x.dn, y.d, y.dn) : word_cmp(x.w, x.wn, y.w, y.wn);
    if (!c && !x.is_num) {
      if (x.has_d != y.has_d) c = x.has_d ? 1 : -1; /* (1, w) < (1, w, n) */
      else if (x.has_d) c = num_cmp(x.d, x.dn, y.d, y.dn);
    }
    if (c) return c;
  }
  return a ? 1 : b ? -1 : 0; /* the shorter list first */
}

typedef struct keyed {
  const char *name;
  size_t i;
} keyed;

static int by_natural_key(const void *pa, const void *pb) {
  const keyed *x = pa, *y = pb;
  int c = l1k_st_natural_cmp(x->name, y->name);
  return c ? c : (x->i > y->i) - (x->i < y->i);
}

/* safetensors' own layout inside a file: wider dtypes first, then by name. */
static int by_file_order(const void *pa, const void *pb) {
  const l1k_st_entry *x = pa, *y = pb;
  size_t a = l1k_dtype_size(x->dtype), b = l1k_dtype_size(y->dtype);
  if (a != b) return a > b ? -1 : 1;
  return strcmp(x->name, y->name);
}

static uint64_t entry_bytes(const l1k_st_entry *e) {
  uint64_t n = l1k_dtype_size(e->dtype);
  for (int d = 0; d < e->ndim; d++) n *= (uint64_t)e->shape[d];
  return n;
}

int l1k_st_plan_shards(const l1k_st_entry *e, size_t n, uint64_t max_shard_size,
                       size_t *shard_of, size_t *n_shards, l1k_err *err) {
  keyed *order = l1k_calloc(n ? n : 1, sizeof *order, err);
  size_t *cur = l1k_calloc(n ? n : 1, sizeof *cur, err);
  if (!order || !cur) {
    free(order);
    free(cur);
    return L1K_ENOMEM;
  }
  for (size_t i = 0; i < n; i++) order[i] = (keyed){e[i].name, i};
  qsort(order, n, sizeof *order, by_natural_key);
  size_t ns = 0, nc = 0;
  uint64_t cur_size = 0;
  for (size_t k = 0; k < n; k++) {
    size_t i = order[k].i;
    uint64_t sz = entry_bytes(&e[i]);
    if (sz > max_shard_size) { /* alone, in a shard appended now */
      shard_of[i] = ns++;
      continue;
    }
    if (cur_size + sz > max_shard_size) {
      for (size_t j = 0; j < nc; j++) shard_of[cur[j]] = ns;
      ns++;
      nc = 0;
      cur_size = 0;
    }
    cur[nc++] = i;
    cur_size += sz;
  }
  if (nc) {
    for (size_t j = 0; j < nc; j++) shard_of[cur[j]] = ns;
    ns++;
  }
  free(order);
  free(cur);
  *n_shards = ns;
  return 0;
}

static char *shard_name(const char *stem, size_t k, size_t ns) {
  size_t len = strlen(stem) + 64;
  char *s = malloc(len);
  if (!s) return NULL;
  if (ns == 1) snprintf(s, len, "%s.safetensors", stem);
  else snprintf(s, len, "%s-%05zu-of-%05zu.safetensors", stem, k + 1, ns);
  return s;
}

static int write_one_shard(const char *dir, const char *fname, const l1k_st_entry *e, size_t n,
                           const size_t *shard_of, size_t k, const l1k_st_meta *meta,
                           size_t n_meta, l1k_err *err) {
  size_t m = 0;
  for (size_t i = 0; i < n; i++) m += shard_of[i] == k;
  l1k_st_entry *sub = l1k_calloc(m ? m : 1, sizeof *sub, err);
  char *path = l1k_path_join(dir, fname);
  int rc = 0;
  if (!sub || !path) rc = sub ? l1k_errf(err, L1K_ENOMEM, "out of memory") : L1K_ENOMEM;
  if (!rc) {
    m = 0;
    for (size_t i = 0; i < n; i++)
      if (shard_of[i] == k) sub[m++] = e[i];
    qsort(sub, m, sizeof *sub, by_file_order);
    rc = l1k_st_write(path, sub, m, meta, n_meta, err);
  }
  free(sub);
  free(path);
  return rc;
}

typedef struct name_file {
  const char *name, *file;
} name_file;

static int by_name(const void *a, const void *b) {
  return strcmp(((const name_file *)a)->name, ((const name_file *)b)->name);
}

/* json.dumps(index, indent=2, sort_keys=True) + "\n" */
static int write_index(const char *dir, const char *stem, const l1k_st_entry *e, size_t n,
                       const size_t *shard_of, char **files, uint64_t total_parameters,
                       l1k_err *err) {
  name_file *nf = l1k_calloc(n, sizeof *nf, err);
  if (!nf) return L1K_ENOMEM;
  uint64_t total = 0;
  for (size_t i = 0; i < n; i++) {
    nf[i].name = e[i].name;
    nf[i].file = files[shard_of[i]];
    total += entry_bytes(&e[i]);
  }
  qsort(nf, n, sizeof *nf, by_name);
  l1k_buf b = {0};
  l1k_buf_printf(&b, "{\n  \"metadata\": {\n    \"total_parameters\": %llu,\n    \"total_size\": %llu\n"
                     "  },\n  \"weight_map\": {\n",
                 (unsigned long long)total_parameters, (unsigned long long)total);
  for (size_t i = 0; i < n; i++) {
    l1k_buf_puts(&b, "    ");
    l1k_buf_json_string(&b, nf[i].name, strlen(nf[i].name));
    l1k_buf_puts(&b, ": ");
    l1k_buf_json_string(&b, nf[i].file, strlen(nf[i].file));
    l1k_buf_puts(&b, i + 1 < n ? ",\n" : "\n");
  }
  int ok = l1k_buf_puts(&b, "  }\n}\n") == 0;
  free(nf);
  size_t len = strlen(stem) + 32;
  char *iname = malloc(len), *path = NULL;
  if (iname) snprintf(iname, len, "%s.safetensors.index.json", stem);
  if (iname) path = l1k_path_join(dir, iname);
  int rc = ok && b.data && path ? l1k_write_file_atomic(path, b.data, b.len, err)
                                : l1k_errf(err, L1K_ENOMEM, "out of memory");
  l1k_buf_free(&b);
  free(iname);
  free(path);
  return rc;
}

/* Is fname "<stem>-NNNNN-of-NNNNN.safetensors"? */
static int is_shard_file(const char *fname, const char *stem) {
  size_t sl = strlen(stem);
  if (strncmp(fname, stem, sl)) return 0;
  const char *p = fname + sl;
  static const char pat[] = "-#####-of-#####.safetensors";
  if (strlen(p) != sizeof pat - 1) return 0;
  for (size_t i = 0; pat[i]; i++)
    if (pat[i] == '#' ? !(p[i] >= '0' && p[i] <= '9') : p[i] != pat[i]) return 0;
  return 1;
}

/* Removes what an earlier save left that this one (files[0..ns)) does not use. */
static int remove_stale(const char *dir, const char *stem, char **files, size_t ns, l1k_err *err) {
  DIR *d = opendir(dir);
  if (!d) return l1k_errf(err, L1K_EIO, "%s: cannot list: %s", dir, strerror(errno));
  size_t len = strlen(stem) + 32;
  char single[len], index[len];
  snprintf(single, len, "%s.safetensors", stem);
  snprintf(index, len, "%s.safetensors.index.json", stem);
  int rc = 0;
  struct dirent *de;
  while (!rc && (de = readdir(d))) {
    const char *f = de->d_name;
    int stale = is_shard_file(f, stem) || (ns > 1 && !strcmp(f, single)) ||
                (ns == 1 && !strcmp(f, index));
    for (size_t k = 0; k < ns && stale; k++) stale = strcmp(f, files[k]) != 0;
    if (!stale) continue;
    char *p = l1k_path_join(dir, f);
    if (!p) rc = l1k_errf(err, L1K_ENOMEM, "out of memory");
    else if (unlink(p) != 0)
      rc = l1k_errf(err, L1K_EIO, "%s: cannot remove the stale file of an earlier save: %s", p,
                    strerror(errno));
    free(p);
  }
  closedir(d);
  return rc;
}

int l1k_st_write_sharded(const char *dir, const char *stem, const l1k_st_entry *e, size_t n,
                         uint64_t max_shard_size, uint64_t total_parameters,
                         const l1k_st_meta *meta, size_t n_meta, l1k_err *err) {
  if (!n) return l1k_errf(err, L1K_EINTERNAL, "%s: no tensors to save", dir);
  if (!max_shard_size)
    return l1k_errf(err, L1K_EINPUT, "%s: max_shard_size must be at least 1 byte", dir);
  size_t *shard_of = l1k_calloc(n, sizeof *shard_of, err), ns = 0;
  if (!shard_of) return L1K_ENOMEM;
  int rc = l1k_st_plan_shards(e, n, max_shard_size, shard_of, &ns, err);
  char **files = rc ? NULL : l1k_calloc(ns, sizeof *files, err);
  if (!rc && !files) rc = L1K_ENOMEM;
  for (size_t k = 0; !rc && k < ns; k++)
    if (!(files[k] = shard_name(stem, k, ns))) rc = l1k_errf(err, L1K_ENOMEM, "out of memory");
  for (size_t k = 0; !rc && k < ns; k++)
    rc = write_one_shard(dir, files[k], e, n, shard_of, k, meta, n_meta, err);
  if (!rc && ns > 1) rc = write_index(dir, stem, e, n, shard_of, files, total_parameters, err);
  if (!rc) rc = remove_stale(dir, stem, files, ns, err);
  if (!rc) rc = l1k_fsync_dir(dir, err);
  for (size_t k = 0; files && k < ns; k++) free(files[k]);
  free(files);
  free(shard_of);
  return rc;
}
