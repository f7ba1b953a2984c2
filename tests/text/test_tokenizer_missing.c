/* A byte-level vocabulary that lacks some of the 256 byte symbols (as SmolLM2's lacks 21): it
 * loads; bytes without a symbol are dropped as Hugging Face tokenizers drops them (and the
 * symbols around them merge), ids and decoded text identical to HF on
 * tests/text/data/tokenizer_edge_missing.jsonl (made by tests/text/gen_tokenizer_missing.py from
 * Qwen's tokenizer with SmolLM2's 21 missing byte tokens renamed and their merges removed; this
 * test builds the same file); the dropped bytes are counted exactly. */
#include <unistd.h>

#include "tok_golden.h"

static const int MISSING[21] = {0x04, 0x06, 0x13, 0x14, 0x16, 0x1D, 0xC0, 0xC1, 0xF1, 0xF2, 0xF5,
                                0xF6, 0xF7, 0xF8, 0xF9, 0xFA, 0xFB, 0xFC, 0xFD, 0xFE, 0xFF};

/* the GPT-2 byte-level character of byte b, as UTF-8 */
static void alphabet_char(int b, char out[4]) {
  int n = 0, cp = -1;
  for (int x = 0; x < 256 && cp < 0; x++) {
    int printable = (x >= '!' && x <= '~') || (x >= 0xA1 && x <= 0xAC) || (x >= 0xAE && x <= 0xFF);
    if (x == b) cp = printable ? x : 256 + n;
    if (!printable) n++;
  }
  if (cp < 0x80) {
    out[0] = (char)cp, out[1] = 0;
  } else {
    out[0] = (char)(0xC0 | (cp >> 6)), out[1] = (char)(0x80 | (cp & 0x3F)), out[2] = 0;
  }
}

static int gone_index(const char *s, char chars[21][4]) {
  for (int k = 0; k < 21; k++)
    if (!strcmp(s, chars[k])) return k;
  return -1;
}

/* Qwen's tokenizer.json with the 21 byte tokens renamed to <unused_byte_XX> and the merges
 * that use them removed (as gen_tokenizer_missing.py) */
static int make_missing(const char *dir) {
  cJSON *j = golden_read_json(shared_path("tokenizers/qwen/tokenizer.json"));
  if (!j) return -1;
  char chars[21][4];
  for (int k = 0; k < 21; k++) alphabet_char(MISSING[k], chars[k]);
  cJSON *model = cJSON_GetObjectItemCaseSensitive(j, "model");
  cJSON *vocab = cJSON_GetObjectItemCaseSensitive(model, "vocab");
  for (int k = 0; k < 21; k++) {
    cJSON *it = cJSON_DetachItemFromObjectCaseSensitive(vocab, chars[k]);
    if (!it) continue;
    char name[32];
    snprintf(name, sizeof name, "<unused_byte_%02X>", MISSING[k]);
    cJSON_AddItemToObject(vocab, name, it);
  }
  cJSON *merges = cJSON_GetObjectItemCaseSensitive(model, "merges");
  for (cJSON *m = merges->child; m;) {
    cJSON *next = m->next;
    char a[256] = "", b[256] = "";
    if (cJSON_IsString(m)) {
      const char *sp = strchr(m->valuestring, ' ');
      if (sp) snprintf(a, sizeof a, "%.*s", (int)(sp - m->valuestring), m->valuestring);
      if (sp) snprintf(b, sizeof b, "%s", sp + 1);
    } else if (cJSON_GetArraySize(m) == 2) {
      snprintf(a, sizeof a, "%s", cJSON_GetArrayItem(m, 0)->valuestring);
      snprintf(b, sizeof b, "%s", cJSON_GetArrayItem(m, 1)->valuestring);
    }
    if (gone_index(a, chars) >= 0 || gone_index(b, chars) >= 0)
      cJSON_Delete(cJSON_DetachItemViaPointer(merges, m));
    m = next;
  }
  return golden_write_tokenizer(dir, j);
}

static int is_missing(uint8_t c) {
  for (int k = 0; k < 21; k++)
    if (MISSING[k] == c) return 1;
  return 0;
}

/* every byte of the golden texts without a symbol is dropped, so the counter must grow by
 * exactly their number (the added tokens of Qwen contain none of them) */
static void check_dropped(const l1k_tokenizer *t, const char *path) {
  l1k_err err = {0};
  l1k_jsonl *r = l1k_jsonl_open(path, &err);
  CHECK_MSG(r != NULL, "%s", err.msg);
  uint64_t want = 0, before = l1k_tokenizer_dropped_bytes(t);
  cJSON *rec;
  while (r && l1k_jsonl_next(r, &rec, &err) == 1) {
    const char *s = cJSON_GetObjectItemCaseSensitive(rec, "text")->valuestring;
    for (size_t i = 0; s[i]; i++) want += is_missing((uint8_t)s[i]);
    l1k_ids ids = {0};
    CHECK(l1k_tokenizer_encode(t, s, strlen(s), &ids, NULL, &err) == 0);
    l1k_ids_free(&ids);
    cJSON_Delete(rec);
  }
  if (r) l1k_jsonl_close(r);
  uint64_t got = l1k_tokenizer_dropped_bytes(t) - before;
  CHECK_MSG(want > 100 && got == want, "dropped %llu bytes, expected %llu",
            (unsigned long long)got, (unsigned long long)want);
  fprintf(stderr, "missing bytes: %llu bytes dropped, as expected\n", (unsigned long long)got);
}

int main(void) {
  char dir[] = "/tmp/l1k_tok_miss_XXXXXX";
  CHECK(mkdtemp(dir) != NULL);
  CHECK(make_missing(dir) == 0);
  l1k_err err = {0};
  l1k_tokenizer *t = l1k_tokenizer_load(dir, &err);
  CHECK_MSG(t != NULL, "load: %s", err.msg);
  if (t) {
    CHECK(l1k_tokenizer_missing_bytes(t) == 21);
    CHECK(l1k_tokenizer_dropped_bytes(t) == 0);
    const char *path = src_path("tests/text/data/tokenizer_edge_missing.jsonl");
    golden_run_file(t, path, "tokenizer_edge_missing.jsonl", 700);
    check_dropped(t, path);
    /* invalid UTF-8: a byte with a symbol stays lossless, one without is dropped */
    l1k_ids ids = {0};
    uint64_t d0 = l1k_tokenizer_dropped_bytes(t);
    CHECK(l1k_tokenizer_encode(t, "a\xff\x80\xc0z", 5, &ids, NULL, &err) == 0);
    CHECK(l1k_tokenizer_dropped_bytes(t) - d0 == 2); /* 0xFF and 0xC0 */
    size_t dl = 0;
    char *s = l1k_tokenizer_decode(t, ids.data, ids.len, &dl, &err);
    CHECK_MSG(s && dl == 3 && !memcmp(s, "a\x80z", 3), "decoded '%s'", s ? s : "");
    free(s);
    l1k_ids_free(&ids);
    l1k_tokenizer_free(t);
  }
  /* the complete Qwen vocabulary drops nothing */
  l1k_tokenizer *q = l1k_tokenizer_load(shared_path("tokenizers/qwen"), &err);
  CHECK(q && l1k_tokenizer_missing_bytes(q) == 0);
  if (q) {
    l1k_ids ids = {0};
    CHECK(l1k_tokenizer_encode(q, "a\x04\xff", 3, &ids, NULL, &err) == 0 && ids.len == 3);
    CHECK(l1k_tokenizer_dropped_bytes(q) == 0);
    l1k_ids_free(&ids);
    l1k_tokenizer_free(q);
  }
  char path[512];
  snprintf(path, sizeof path, "%s/tokenizer.json", dir);
  unlink(path);
  rmdir(dir);
  CHECK_DONE();
}
