/* Tokenizer unit tests: lossless invalid UTF-8, NFC by pieces == NFC of the whole text,
 * offsets, lookups, threads, and errors for bad or unsupported tokenizer.json files. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <utf8proc.h>

#include "check.h"
#include "long1k/io.h"
#include "long1k/tokenizer.h"
#include "text/tok_internal.h"

static uint64_t rng_state = 0x1234567;
static uint32_t rnd(void) {
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 7;
  rng_state ^= rng_state << 17;
  return (uint32_t)(rng_state >> 11);
}

static int roundtrip(const l1k_tokenizer *t, const uint8_t *s, size_t n) {
  l1k_ids ids = {0};
  size_t *off = NULL;
  l1k_err err = {0};
  if (l1k_tokenizer_encode(t, (const char *)s, n, &ids, &off, &err)) return 0;
  size_t dl = 0;
  char *d = l1k_tokenizer_decode(t, ids.data, ids.len, &dl, &err);
  int ok = d && dl == n && memcmp(d, s, n) == 0;
  /* without NFC changes, token i's offsets cover exactly its decoded bytes */
  size_t pos = 0;
  for (size_t i = 0; ok && i < ids.len; i++) {
    size_t tl = 0;
    char *td = l1k_tokenizer_decode(t, &ids.data[i], 1, &tl, &err);
    if (!td || off[2 * i] != pos || off[2 * i + 1] != pos + tl) ok = 0;
    pos += tl;
    free(td);
  }
  free(d);
  free(off);
  l1k_ids_free(&ids);
  return ok;
}

static void test_lossless(const l1k_tokenizer *q) {
  /* invalid UTF-8: stray continuation bytes, truncated sequences, overlongs, surrogates,
   * > U+10FFFF, 0xFF, embedded NUL -- all must come back byte for byte */
  const char *cases[] = {"\x80", "a\xC3", "\xC3(", "\xE2\x82", "\xED\xA0\x80x", "\xC0\xAF",
                         "\xF4\x90\x80\x80", "\xFF\xFE", "<|im_\xFF", "\xE4\xB8\xAD" "a\xB8", "e\xCC"};
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
    CHECK_MSG(roundtrip(q, (const uint8_t *)cases[i], strlen(cases[i])), "case %zu", i);
  const uint8_t nul[] = {'a', 0, 'b', 0, 0, ' ', 0xC3};
  CHECK(roundtrip(q, nul, sizeof nul));
  /* each invalid byte is its own token: "\xFF" -> the byte token of 0xFF */
  l1k_ids ids = {0};
  CHECK(l1k_tokenizer_encode(q, "a\xFF" "b", 3, &ids, NULL, NULL) == 0);
  CHECK(ids.len == 3);
  if (ids.len == 3) CHECK_STR(l1k_tokenizer_id_to_token(q, ids.data[1]), "\xC3\xBF"); /* ÿ */
  l1k_ids_free(&ids);
  /* random bytes (no NFC-changing text can appear: mostly invalid) */
  uint8_t buf[300];
  int bad = 0;
  for (int it = 0; it < 300; it++) {
    size_t n = rnd() % sizeof buf;
    for (size_t i = 0; i < n; i++) {
      uint32_t r = rnd() % 10;
      buf[i] = r < 5 ? (uint8_t)(' ' + rnd() % 95) : (uint8_t)rnd();
    }
    /* skip texts that NFC changes (their round trip gives NFC(x)) */
    uint8_t *norm = NULL;
    size_t nl = 0;
    if (l1k_nfc(buf, n, &norm, &nl, NULL) == 0 && norm) {
      free(norm);
      continue;
    }
    if (!roundtrip(q, buf, n)) bad++;
  }
  CHECK_MSG(bad == 0, "%d random byte strings did not round-trip", bad);
}

/* l1k_nfc (stable pieces) must equal utf8proc's NFC of the whole string (for characters that
 * HF's Unicode 9.0 NFC data knows; later marks are starters there, see unicode.c) */
static void test_nfc(void) {
  {
    /* U+25C2 U+1ACC(230, Unicode 14) U+032A(220): utf8proc reorders, HF does not */
    const uint8_t s[] = "\xE2\x97\x82\xE1\xAB\x8C\xCC\xAA";
    uint8_t *out = NULL;
    size_t ol = 0;
    CHECK(l1k_nfc(s, sizeof s - 1, &out, &ol, NULL) == 0);
    CHECK(out == NULL || (ol == sizeof s - 1 && memcmp(out, s, ol) == 0));
    free(out);
    /* U+11935 U+11930: composes to U+11938 in Unicode 13+, not in HF */
    const uint8_t d[] = "\xF0\x91\xA4\xB5\xF0\x91\xA4\xB0";
    CHECK(l1k_nfc(d, sizeof d - 1, &out, &ol, NULL) == 0);
    CHECK(out == NULL || (ol == sizeof d - 1 && memcmp(out, d, ol) == 0));
    free(out);
    /* and a known pair still composes: e + U+0301 -> U+00E9 */
    const uint8_t e[] = "e\xCC\x81";
    CHECK(l1k_nfc(e, 3, &out, &ol, NULL) == 0 && out && ol == 2 && out[0] == 0xC3 && out[1] == 0xA9);
    free(out);
  }
  static const uint32_t pool[] = {
      'a', 'e', 'o', ' ', 'A', 0x0301, 0x0308, 0x0323, 0x0302, 0x031B, 0x0345, 0x00E9, 0x00C5,
      0x212B, 0x2126, 0x1100, 0x1161, 0x11A8, 0xAC00, 0xD55C, 0x0915, 0x093C, 0x0958, 0x0F71,
      0x0F72, 0x0F73, 0x0344, 0x4E2D, 0x1F600, 0x05B0, 0x0CD5, 0x0CBF, 0x0B47, 0x0B3E, 0x3099,
      0x304B, 0x1E0B, 0x0307, 0x03B1, 0x0313, 0xFB2A, 0x1D15E, 0x11099, 0x110BA};
  size_t np = sizeof pool / sizeof pool[0];
  int bad = 0;
  for (int it = 0; it < 3000; it++) {
    uint8_t s[200];
    size_t n = 0;
    int len = 1 + (int)(rnd() % 12);
    for (int i = 0; i < len; i++) n += (size_t)utf8proc_encode_char((int32_t)pool[rnd() % np], s + n);
    uint8_t *out = NULL;
    size_t ol = 0, *map = NULL;
    s[n] = 0;
    uint8_t *ref = utf8proc_NFC(s); /* the whole string at once */
    CHECK(l1k_nfc(s, n, &out, &ol, &map) == 0);
    const uint8_t *got = out ? out : s;
    if (!ref || strlen((char *)ref) != ol || memcmp(ref, got, ol) != 0) {
      if (bad < 3) fprintf(stderr, "nfc mismatch on case %d (%zu bytes)\n", it, n);
      bad++;
    }
    if (out && map) /* every output byte maps into the input, ranges non-decreasing */
      for (size_t i = 0; i < ol; i++)
        if (map[2 * i] >= map[2 * i + 1] || map[2 * i + 1] > n || (i && map[2 * i] < map[2 * i - 2]))
          bad++;
    free(ref);
    free(out);
    free(map);
  }
  CHECK_MSG(bad == 0, "%d NFC mismatches", bad);
}

static void test_offsets_nfc(const l1k_tokenizer *q) {
  /* "e" + combining acute becomes é: the token covering it maps back to the input bytes */
  const char *s = "caf\x65\xCC\x81 ok";
  l1k_ids ids = {0};
  size_t *off = NULL;
  CHECK(l1k_tokenizer_encode(q, s, strlen(s), &ids, &off, NULL) == 0);
  CHECK(ids.len >= 2);
  CHECK(off[0] == 0);
  CHECK(off[2 * ids.len - 1] == strlen(s));
  size_t dl;
  char *d = l1k_tokenizer_decode(q, ids.data, ids.len, &dl, NULL);
  CHECK(d && strcmp(d, "caf\xC3\xA9 ok") == 0);
  free(d);
  /* appending: offsets of a second call follow the first call's */
  size_t before = ids.len;
  CHECK(l1k_tokenizer_encode(q, "xyz", 3, &ids, &off, NULL) == 0);
  CHECK(ids.len > before && off[0] == 0 && off[2 * before] == 0 && off[2 * ids.len - 1] == 3);
  free(off);
  l1k_ids_free(&ids);
}

static void test_lookups(const l1k_tokenizer *q) {
  CHECK(l1k_tokenizer_vocab_size(q) == 151669);
  CHECK(l1k_tokenizer_token_to_id(q, "<|im_start|>") == 151644);
  CHECK(l1k_tokenizer_token_to_id(q, "<think>") == 151667);
  CHECK(l1k_tokenizer_token_to_id(q, "\xC4\xA0the") == 279); /* "Ġthe" */
  CHECK(l1k_tokenizer_token_to_id(q, "no such token here") == -1);
  CHECK_STR(l1k_tokenizer_id_to_token(q, 151645), "<|im_end|>");
  CHECK(l1k_tokenizer_id_to_token(q, -1) == NULL);
  CHECK(l1k_tokenizer_id_to_token(q, 151669) == NULL);
  CHECK(l1k_tokenizer_is_special(q, 151645));
  CHECK(!l1k_tokenizer_is_special(q, 151667)); /* <think> is added but not special */
  CHECK(!l1k_tokenizer_is_special(q, 279));
  CHECK(l1k_tokenizer_count(q, "Hello world", 11, NULL) == 2);
  l1k_err err = {0};
  int32_t bad[] = {1, 999999};
  CHECK(l1k_tokenizer_decode(q, bad, 2, NULL, &err) == NULL);
  CHECK(err.code == L1K_EINPUT && strstr(err.msg, "999999"));
  /* empty text */
  l1k_ids ids = {0};
  CHECK(l1k_tokenizer_encode(q, "", 0, &ids, NULL, NULL) == 0 && ids.len == 0);
  char *d = l1k_tokenizer_decode(q, NULL, 0, NULL, NULL);
  CHECK(d && d[0] == 0);
  free(d);
  l1k_ids_free(&ids);
}

typedef struct {
  const l1k_tokenizer *t;
  const char *text;
  size_t len;
  const l1k_ids *want;
  int ok;
} thr_arg;

static void *thr(void *p) {
  thr_arg *a = p;
  a->ok = 1;
  for (int r = 0; r < 20; r++) {
    l1k_ids ids = {0};
    if (l1k_tokenizer_encode(a->t, a->text, a->len, &ids, NULL, NULL) || ids.len != a->want->len ||
        memcmp(ids.data, a->want->data, ids.len * sizeof(int32_t)) != 0)
      a->ok = 0;
    l1k_ids_free(&ids);
  }
  return NULL;
}

static void test_threads(const l1k_tokenizer *q) {
  size_t len = 0;
  char *text = l1k_read_file(shared_path("golden/chat/chat_templates.jsonl"), &len, NULL);
  CHECK(text != NULL);
  if (!text) return;
  l1k_ids want = {0};
  CHECK(l1k_tokenizer_encode(q, text, len, &want, NULL, NULL) == 0);
  pthread_t th[4];
  thr_arg a[4];
  for (int i = 0; i < 4; i++) {
    a[i] = (thr_arg){q, text, len, &want, 0};
    CHECK(pthread_create(&th[i], NULL, thr, &a[i]) == 0);
  }
  for (int i = 0; i < 4; i++) {
    pthread_join(th[i], NULL);
    CHECK_MSG(a[i].ok, "thread %d got different ids", i);
  }
  l1k_ids_free(&want);
  free(text);
}

static void write_file(const char *path, const char *s) {
  FILE *f = fopen(path, "w");
  fputs(s, f);
  fclose(f);
}

static void expect_load_error(const char *dir, const char *json, int code, const char *needle) {
  char path[512];
  snprintf(path, sizeof path, "%s/tokenizer.json", dir);
  write_file(path, json);
  l1k_err err = {0};
  l1k_tokenizer *t = l1k_tokenizer_load(dir, &err);
  CHECK_MSG(t == NULL, "loaded a bad tokenizer: %s", json);
  CHECK_MSG(err.code == code, "code %d, want %d (%s)", err.code, code, err.msg);
  CHECK_MSG(strstr(err.msg, needle) != NULL, "'%s' not in '%s'", needle, err.msg);
  l1k_tokenizer_free(t);
}

static void test_errors(void) {
  char dir[] = "/tmp/l1k_tok_XXXXXX";
  CHECK(mkdtemp(dir) != NULL);
  l1k_err err = {0};
  CHECK(l1k_tokenizer_load(dir, &err) == NULL && strstr(err.msg, "no tokenizer.json"));
  CHECK(l1k_tokenizer_load("/nonexistent/tokenizer.json", &err) == NULL && err.code != 0);
  expect_load_error(dir, "{\"model\": {", L1K_EINPUT, "invalid JSON");
  expect_load_error(dir, "[]", L1K_EINPUT, "'model'");
  expect_load_error(dir, "{\"model\": {\"type\": \"Unigram\"}}", L1K_EUNSUPPORTED, "only BPE");
  expect_load_error(dir,
                    "{\"normalizer\": {\"type\": \"NFKC\"}, \"model\": {\"type\": \"BPE\", "
                    "\"vocab\": {}, \"merges\": []}}",
                    L1K_EUNSUPPORTED, "normalizer");
  expect_load_error(dir,
                    "{\"pre_tokenizer\": {\"type\": \"Sequence\", \"pretokenizers\": [{\"type\": "
                    "\"Split\", \"pattern\": {\"Regex\": \"\\\\w+\"}, \"behavior\": \"Isolated\"}, "
                    "{\"type\": \"ByteLevel\"}]}, \"model\": {\"type\": \"BPE\", \"vocab\": {}, "
                    "\"merges\": []}}",
                    L1K_EUNSUPPORTED, "regex");
  expect_load_error(dir,
                    "{\"pre_tokenizer\": {\"type\": \"ByteLevel\"}, \"model\": {\"type\": \"BPE\", "
                    "\"vocab\": {\"a\": 0}, \"merges\": []}}",
                    L1K_EUNSUPPORTED, "not a byte-level BPE vocabulary");
  expect_load_error(dir,
                    "{\"pre_tokenizer\": {\"type\": \"ByteLevel\"}, \"model\": {\"type\": \"BPE\", "
                    "\"vocab\": {\"a\": 0, \"b\": 0}, \"merges\": []}}",
                    L1K_EINPUT, "used twice");
  expect_load_error(dir,
                    "{\"pre_tokenizer\": {\"type\": \"ByteLevel\"}, \"model\": {\"type\": \"BPE\", "
                    "\"vocab\": {\"a\": -3}, \"merges\": []}}",
                    L1K_EINPUT, "non-negative integer");
  char path[512];
  snprintf(path, sizeof path, "%s/tokenizer.json", dir);
  unlink(path);
  rmdir(dir);
}

int main(void) {
  l1k_err err = {0};
  l1k_tokenizer *q = l1k_tokenizer_load(shared_path("tokenizers/qwen/tokenizer.json"), &err);
  CHECK_MSG(q != NULL, "%s", err.msg);
  if (!q) CHECK_DONE();
  test_lossless(q);
  test_nfc();
  test_offsets_nfc(q);
  test_lookups(q);
  test_threads(q);
  test_errors();
  l1k_tokenizer_free(q);
  CHECK_DONE();
}
