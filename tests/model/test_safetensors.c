/* safetensors reader and writer: round trip, and malformed / truncated / hostile files, each
 * refused with a message naming the file and the tensor. */
#include <stdint.h>
#include <unistd.h>

#include "check.h"
#include "long1k/io.h"
#include "long1k/safetensors.h"

/* Builds a file image: 8-byte length + header + data_len bytes of data. */
static unsigned char *image(const char *hdr, size_t data_len, size_t *size, uint64_t fake_len) {
  size_t h = strlen(hdr);
  *size = 8 + h + data_len;
  unsigned char *p = calloc(1, *size + 1);
  uint64_t n = fake_len ? fake_len : h;
  for (int i = 0; i < 8; i++) p[i] = (unsigned char)(n >> (8 * i));
  memcpy(p + 8, hdr, h);
  for (size_t i = 0; i < data_len; i++) p[8 + h + i] = (unsigned char)i;
  return p;
}

static int bad(const char *hdr, size_t data_len, const char *expect_in_msg) {
  size_t size;
  unsigned char *p = image(hdr, data_len, &size, 0);
  l1k_safetensors st;
  l1k_err err = {0};
  int rc = l1k_st_parse(&st, p, size, "x.safetensors", &err);
  free(p);
  if (rc == 0) {
    fprintf(stderr, "accepted: %s\n", hdr);
    l1k_st_close(&st);
    return 0;
  }
  if (!strstr(err.msg, "x.safetensors") || (expect_in_msg && !strstr(err.msg, expect_in_msg))) {
    fprintf(stderr, "message '%s' lacks '%s'\n", err.msg, expect_in_msg ? expect_in_msg : "");
    return 0;
  }
  return 1;
}

int main(void) {
  l1k_err err = {0};
  char dir[128], path[256];
  snprintf(dir, sizeof dir, "/tmp/l1k_st_%d", (int)getpid());
  CHECK(l1k_mkdir_p(dir, &err) == 0);
  snprintf(path, sizeof path, "%s/a.safetensors", dir);

  /* round trip: F32 raw, BF16 from float32, I32, empty tensor, metadata */
  float w[6] = {1, -2, 3.5f, 0.25f, -0.125f, 1e-3f};
  int32_t ids[4] = {1, 2, 3, -100};
  l1k_st_entry e[4] = {
      {"w", L1K_DT_F32, 2, {2, 3}, w, NULL},
      {"w.bf16", L1K_DT_BF16, 2, {3, 2}, NULL, w},
      {"ids", L1K_DT_I32, 1, {4}, ids, NULL},
      {"empty", L1K_DT_F16, 2, {0, 5}, NULL, w},
  };
  l1k_st_meta meta = {"format", "pt"};
  CHECK(l1k_st_write(path, e, 4, &meta, 1, &err) == 0);
  l1k_safetensors st;
  CHECK_MSG(l1k_st_open(&st, path, &err) == 0, "%s", err.msg);
  CHECK(st.n == 4);
  const l1k_st_tensor *t = l1k_st_find(&st, "w.bf16");
  CHECK(t && t->dtype == L1K_DT_BF16 && t->ndim == 2 && t->shape[0] == 3 && t->numel == 6);
  float back[6];
  if (t) l1k_st_to_f32(t, back);
  CHECK(back[0] == 1 && back[2] == 3.5f && fabsf(back[5] - 1e-3f) < 1e-5f);
  t = l1k_st_find(&st, "w");
  if (t) l1k_st_to_f32(t, back);
  CHECK(t && !memcmp(back, w, sizeof w));
  t = l1k_st_find(&st, "ids");
  CHECK(t && t->dtype == L1K_DT_I32 && !memcmp(t->data, ids, sizeof ids));
  t = l1k_st_find(&st, "empty");
  CHECK(t && t->numel == 0 && t->nbytes == 0);
  CHECK(l1k_st_meta_get(&st, "format") && !strcmp(l1k_st_meta_get(&st, "format"), "pt"));
  CHECK(l1k_st_find(&st, "nope") == NULL);
  CHECK((8 + *(uint64_t *)st.map.data) % 8 == 0); /* header padded: data 8-aligned */
  l1k_st_close(&st);

  /* truncated copies of the valid file: every prefix must be refused cleanly */
  size_t full;
  char *bytes = l1k_read_file(path, &full, &err);
  CHECK(bytes != NULL);
  int accepted = 0;
  for (size_t cut = 0; bytes && cut < full; cut++) {
    l1k_safetensors s2;
    if (l1k_st_parse(&s2, bytes, cut, path, &err) == 0) {
      accepted++;
      l1k_st_close(&s2);
    } else if (!strstr(err.msg, path)) {
      accepted += 1000;
    }
  }
  CHECK_MSG(accepted == 0, "%d truncated prefixes accepted or badly reported", accepted);
  /* a truncated file on disk */
  char tpath[300];
  snprintf(tpath, sizeof tpath, "%s/trunc.safetensors", dir);
  CHECK(l1k_write_file_atomic(tpath, bytes, full - 3, &err) == 0);
  CHECK(l1k_st_open(&st, tpath, &err) == L1K_EINPUT);
  CHECK(strstr(err.msg, "trunc.safetensors") && strstr(err.msg, "past the end"));
  free(bytes);

  /* header length past the end of the file */
  size_t size;
  unsigned char *p = image("{}", 0, &size, 1000);
  CHECK(l1k_st_parse(&st, p, size, "x.safetensors", &err) == L1K_EINPUT && strstr(err.msg, "past the end"));
  free(p);
  p = image("{}", 0, &size, (uint64_t)1 << 62); /* absurd length */
  CHECK(l1k_st_parse(&st, p, size, "x.safetensors", &err) == L1K_EINPUT);
  free(p);
  CHECK(l1k_st_parse(&st, "abc", 3, "x.safetensors", &err) == L1K_EINPUT);
  CHECK(l1k_st_parse(&st, NULL, 0, "x.safetensors", &err) == L1K_EINPUT);

  /* malformed headers */
  CHECK(bad("not json", 0, NULL));
  CHECK(bad("[1,2]", 0, "JSON object"));
  CHECK(bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}} x", 4, "trailing"));
  CHECK(bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}", 4, NULL));
  CHECK(bad("{\"a\":{\"dtype\":\"F64\",\"shape\":[1],\"data_offsets\":[0,8]}}", 8, "'a'"));
  CHECK(bad("{\"a\":{\"dtype\":7,\"shape\":[1],\"data_offsets\":[0,4]}}", 4, "dtype"));
  CHECK(bad("{\"a\":{\"shape\":[1],\"data_offsets\":[0,4]}}", 4, "dtype"));
  CHECK(bad("{\"a\":{\"dtype\":\"F32\",\"data_offsets\":[0,4]}}", 4, "shape"));
  CHECK(bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[1]}}", 4, "data_offsets"));
  CHECK(bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", 4, "shape[0]"));
  CHECK(bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[1.5],\"data_offsets\":[0,4]}}", 4, "shape[0]"));
  CHECK(bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[\"1\"],\"data_offsets\":[0,4]}}", 4, "shape"));
  CHECK(bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,4]}}", 8, "need 8"));
  CHECK(bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,0]}}", 4, "begin <= end"));
  CHECK(bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0]}}", 4, "data_offsets"));
  CHECK(bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[-4,0]}}", 4, NULL));
  CHECK(bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 4, "past the end"));
  CHECK(bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296],\"data_offsets\":[0,4]}}", 4,
            "overflow"));
  CHECK(bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[9007199254740993],\"data_offsets\":[0,4]}}", 4, NULL));
  CHECK(bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1,1,1],\"data_offsets\":[0,4]}}", 4,
            "dimensions"));
  CHECK(bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
            "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 12, "overlap"));
  CHECK(bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
            "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8, "twice"));
  CHECK(bad("{\"a\":5}", 0, "'a'"));
  CHECK(bad("{\"__metadata__\":{\"k\":1}}", 0, "__metadata__"));
  CHECK(bad("{\"__metadata__\":[]}", 0, "__metadata__"));
  /* accepted: empty header, gaps, zero-size tensors sharing an offset */
  p = image("{}", 0, &size, 0);
  CHECK(l1k_st_parse(&st, p, size, "x", &err) == 0 && st.n == 0);
  l1k_st_close(&st);
  free(p);
  p = image("{\"a\":{\"dtype\":\"BF16\",\"shape\":[1],\"data_offsets\":[4,6]},"
            "\"z\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[4,4]},"
            "\"y\":{\"dtype\":\"I64\",\"shape\":[0, 3],\"data_offsets\":[4,4]}}    ", 6, &size, 0);
  CHECK_MSG(l1k_st_parse(&st, p, size, "x", &err) == 0, "%s", err.msg);
  CHECK(st.n == 3);
  l1k_st_close(&st);
  free(p);

  /* writer: the destination directory does not exist -> error, nothing left behind */
  char bad_path[300];
  snprintf(bad_path, sizeof bad_path, "%s/no/such/dir/x.safetensors", dir);
  CHECK(l1k_st_write(bad_path, e, 1, NULL, 0, &err) != 0);
  CHECK(l1k_rm_rf(dir, &err) == 0);
  CHECK_DONE();
}
