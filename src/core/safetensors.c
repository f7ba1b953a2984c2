/* long1k — safetensors reader (memory-mapped, validated) and atomic writer.
 * See include/long1k/safetensors.h for the rules enforced. */
#include "long1k/safetensors.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

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
