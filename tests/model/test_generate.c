/* Generation: the cached forward against the transformers reference and l1k_model_forward,
 * greedy ids against transformers' 16-token greedy generation, batching, sampling, stops. */
#include <stdint.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "long1k/generate.h"
#include "long1k/model.h"
#include "long1k/safetensors.h"

static double rel_err(const float *a, const float *b, size_t n) {
  double num = 0, den = 0;
  for (size_t i = 0; i < n; i++) {
    double d = (double)a[i] - b[i];
    num += d * d;
    den += (double)b[i] * b[i];
  }
  return den > 0 ? sqrt(num / den) : sqrt(num);
}

static float *ref_f32(const l1k_safetensors *st, const char *name, size_t *n) {
  const l1k_st_tensor *t = l1k_st_find(st, name);
  if (!t) return NULL;
  float *p = malloc(t->numel * sizeof(float));
  l1k_st_to_f32(t, p);
  if (n) *n = t->numel;
  return p;
}

static int32_t *ref_i32(const l1k_safetensors *st, const char *name, size_t *n) {
  const l1k_st_tensor *t = l1k_st_find(st, name);
  if (!t || t->dtype != L1K_DT_I32) return NULL;
  int32_t *p = malloc(t->numel * sizeof(int32_t));
  memcpy(p, t->data, t->numel * sizeof(int32_t));
  if (n) *n = t->numel;
  return p;
}

/* a toy decoder: id -> two letters, so stop strings can span tokens */
static char *toy_decode(void *ctx, const int32_t *ids, size_t n, size_t *len) {
  (void)ctx;
  char *s = malloc(2 * n + 1);
  for (size_t i = 0; i < n; i++) {
    s[2 * i] = (char)('a' + ids[i] % 26);
    s[2 * i + 1] = (char)('A' + (ids[i] / 26) % 26);
  }
  s[2 * n] = 0;
  *len = 2 * n;
  return s;
}

/* a scripted decoder: the n-th decoded token gives the n-th chunk of bytes, ill-formed UTF-8
 * included */
typedef struct {
  int calls;
} script_ctx;
static const char *SCRIPT[16] = {"A", "\xE2\x82", "\xAC", "\xFF", "B", "\xE0\x80", "C", "\xF0\x9F",
                                 "\x98", "\x80", "\xED\xA0\x80", "D", "\xC3", "\xA9", "\xE2\x82", "E"};
static char *script_decode(void *ctx, const int32_t *ids, size_t n, size_t *len) {
  script_ctx *c = ctx;
  (void)ids;
  (void)n;
  const char *s = SCRIPT[c->calls++ % 16];
  *len = strlen(s);
  return strdup(s);
}

typedef struct {
  char text[8][4096];
  size_t len[8];
  int done[8];
  int calls;
} stream_acc;
static int on_token(void *user, int index, int32_t token, const char *text, size_t len, int done,
                    const l1k_gen_result *r) {
  stream_acc *a = user;
  (void)token;
  (void)r;
  a->calls++;
  if (index < 0 || index >= 8) return 1;
  memcpy(a->text[index] + a->len[index], text, len);
  a->len[index] += len;
  a->text[index][a->len[index]] = 0;
  a->done[index] += done;
  return 0;
}

static void test_model(const char *name) {
  char dir[512], refp[512];
  snprintf(dir, sizeof dir, "%s", shared_path("golden/models"));
  snprintf(refp, sizeof refp, "%s/%s/reference.safetensors", dir, name);
  char mdir[512];
  snprintf(mdir, sizeof mdir, "%s/%s/f32", dir, name);
  l1k_err err = {0};
  l1k_model *m = l1k_model_load(mdir, &err);
  CHECK_MSG(m != NULL, "%s: %s", mdir, err.msg);
  if (!m) return;
  l1k_safetensors st;
  int rc = l1k_st_open(&st, refp, &err);
  CHECK_MSG(rc == 0, "%s", err.msg);
  if (rc) return;
  const int V = l1k_model_cfg(m)->vocab_size;

  /* 1. 300-token sequence fed in uneven chunks == transformers' long_logits, and == our full
   *    forward */
  size_t nlong = 0;
  int32_t *lids = ref_i32(&st, "long_input_ids", &nlong);
  float *lref = ref_f32(&st, "long_logits", NULL);
  CHECK(lids && lref && nlong == 300);
  l1k_generator *g = l1k_generator_create(m, 4, 320, &err);
  CHECK_MSG(g != NULL, "%s", err.msg);
  if (!g || !lids || !lref) return;
  float *got = malloc(nlong * V * sizeof(float));
  int chunks[] = {1, 37, 1, 1, 1, 130, 1, 128}; /* 300 in all; 130 > the 128-row pass */
  size_t at = 0;
  for (size_t c = 0; c < sizeof chunks / sizeof *chunks; c++) {
    rc = l1k_gen_feed(g, 2, lids + at, chunks[c], got + at * V, &err);
    CHECK_MSG(rc == 0, "%s", err.msg);
    at += chunks[c];
  }
  CHECK(at == 300);
  CHECK(l1k_gen_slot_len(g, 2) == 300);
  double e_ref = rel_err(got, lref, nlong * V);
  CHECK_MSG(e_ref <= 1e-4, "%s: cached logits vs transformers: rel err %.3g", name, e_ref);
  /* the last row is also the slot's logits */
  CHECK(memcmp(l1k_gen_slot_logits(g, 2), got + 299 * V, V * sizeof(float)) == 0);
  float *full = malloc(nlong * V * sizeof(float));
  l1k_batch b = {.B = 1, .T = 300, .ids = lids, .labels = NULL, .pos = NULL, .doc = NULL};
  int32_t *labels = malloc(300 * sizeof(int32_t));
  for (int i = 0; i < 300; i++) labels[i] = -100;
  b.labels = labels;
  double loss = 0;
  int64_t nt = 0;
  rc = l1k_model_forward(m, &b, full, &loss, &nt, &err);
  CHECK_MSG(rc == 0, "%s", err.msg);
  if (rc == 0) {
    double e_full = rel_err(got, full, nlong * V);
    CHECK_MSG(e_full <= 1e-5, "%s: cached vs full forward: rel err %.3g", name, e_full);
    fprintf(stderr, "%s: cached logits rel err vs transformers %.2e, vs l1k_model_forward %.2e\n", name, e_ref,
            e_full);
  }

  /* 1b. the same through each kernel family (AVX-512, AVX2, portable C), token by token for the
   *     first 40 positions then one chunk; isa 3 = AVX-512 with chunks through OpenBLAS */
  for (int isa = 0; isa <= 3; isa++) {
    char v[2] = {(char)('0' + (isa < 3 ? isa : 2)), 0};
    setenv("LONG1K_CPU_ISA", v, 1);
    if (isa == 3) setenv("LONG1K_GEN_F32_ROWS", "16", 1);
    l1k_generator *gi = l1k_generator_create(m, 1, 320, &err);
    CHECK(gi != NULL);
    if (!gi) break;
    for (int t = 0; t < 40; t++) CHECK(l1k_gen_feed(gi, 0, lids + t, 1, got + (size_t)t * V, &err) == 0);
    CHECK(l1k_gen_feed(gi, 0, lids + 40, 260, got + 40 * (size_t)V, &err) == 0);
    double e = rel_err(got, lref, nlong * V);
    CHECK_MSG(e <= 1e-4, "%s: isa %d: cached logits vs transformers: rel err %.3g", name, isa, e);
    l1k_generator_free(gi);
  }
  unsetenv("LONG1K_CPU_ISA");
  unsetenv("LONG1K_GEN_F32_ROWS");

  /* 2. two sequences decoded together, one token per step == reference logits [2, 24] */
  size_t nin = 0;
  int32_t *ids = ref_i32(&st, "input_ids", &nin);
  float *lg = ref_f32(&st, "logits", NULL);
  CHECK(ids && lg && nin == 48);
  l1k_gen_slot_reset(g, 0);
  l1k_gen_slot_reset(g, 3);
  float *two = malloc(2 * 24 * V * sizeof(float));
  float *step = malloc(2 * V * sizeof(float));
  /* slot 0 gets row 0 with a 3-token prefill first; slot 3 row 1 token by token */
  rc = l1k_gen_feed(g, 0, ids, 3, two, &err);
  CHECK(rc == 0);
  for (int t = 0; t < 3; t++) {
    rc = l1k_gen_feed(g, 3, ids + 24 + t, 1, two + (size_t)(24 + t) * V, &err);
    CHECK(rc == 0);
  }
  for (int t = 3; t < 24; t++) {
    int slots[2] = {3, 0};
    int32_t tk[2] = {ids[24 + t], ids[t]};
    rc = l1k_gen_step(g, slots, tk, 2, step, &err);
    CHECK_MSG(rc == 0, "%s", err.msg);
    memcpy(two + (size_t)(24 + t) * V, step, V * sizeof(float));
    memcpy(two + (size_t)t * V, step + V, V * sizeof(float));
  }
  double e2 = rel_err(two, lg, 48 * (size_t)V);
  CHECK_MSG(e2 <= 1e-4, "%s: batched decode logits vs transformers: rel err %.3g", name, e2);

  /* 3. greedy generation == transformers' 16 new tokens */
  size_t np = 0, no = 0;
  int32_t *gp = ref_i32(&st, "greedy_prompt", &np);
  int32_t *go = ref_i32(&st, "greedy_output", &no);
  CHECK(gp && go && no == np + 16);
  l1k_gen_opts o;
  l1k_gen_opts_default(&o);
  o.max_new_tokens = 16;
  o.ignore_eos = 1;
  l1k_gen_prompt pr = {gp, (int)np};
  l1k_gen_result r;
  rc = l1k_generate(g, &pr, 1, &o, &r, NULL, NULL, &err);
  CHECK_MSG(rc == 0, "%s", err.msg);
  CHECK(r.n_ids == 16 && r.finish == L1K_FINISH_LENGTH && r.prompt_tokens == (int)np);
  int same = r.n_ids == 16;
  for (int i = 0; i < 16 && same; i++) same = r.ids[i] == go[np + i];
  CHECK_MSG(same, "%s: greedy ids differ from transformers", name);
  l1k_gen_results_free(&r, 1);

  /* 4. many prompts, batch 3 with continuous batching == one at a time (greedy and sampled);
   *    prompts 1 and 2 are the same (and 5 equals 1 by content, another copy): prefix sharing */
  enum { NP = 7 };
  l1k_gen_prompt ps[NP];
  int lens[NP] = {6, 24, 24, 1, 17, 24, 12};
  int32_t copy24[24];
  memcpy(copy24, ids + 24, sizeof copy24);
  for (int i = 0; i < NP; i++) {
    ps[i].ids = i == 0 ? gp : ids + (i % 2) * 24;
    ps[i].n = i == 0 ? (int)np : lens[i];
  }
  ps[2].ids = ids + 24;
  ps[5].ids = copy24;
  for (int mode = 0; mode < 2; mode++) {
    l1k_gen_opts q;
    l1k_gen_opts_default(&q);
    q.ignore_eos = 1;
    if (mode == 1) {
      q.temperature = 0.9f;
      q.top_p = 0.95f;
      q.top_k = 50;
      q.seed = 1234;
    }
    l1k_gen_result rb[NP];
    l1k_generator *g3 = l1k_generator_create(m, 3, 64, &err);
    l1k_generator *g1 = l1k_generator_create(m, 1, 64, &err);
    CHECK(g3 && g1);
    if (!g3 || !g1) break;
    q.max_new_tokens = 16;
    rc = l1k_generate(g3, ps, NP, &q, rb, NULL, NULL, &err);
    CHECK_MSG(rc == 0, "%s", err.msg);
    /* prompt 2 started next to its twin 1 */
    CHECK(rb[1].cached_prompt_tokens == 0 && rb[2].cached_prompt_tokens == 24);
    /* prompt i of a batch samples from stream (seed, i): a single run with seed_offset i
     * must give the same ids */
    for (int i = 0; i < NP; i++) {
      l1k_gen_result one;
      q.seed_offset = (uint64_t)i;
      rc = l1k_generate(g1, &ps[i], 1, &q, &one, NULL, NULL, &err);
      CHECK(rc == 0);
      int eq = one.n_ids == rb[i].n_ids && memcmp(one.ids, rb[i].ids, one.n_ids * sizeof(int32_t)) == 0;
      CHECK_MSG(eq, "%s: mode %d prompt %d: batched result differs from single", name, mode, i);
      l1k_gen_results_free(&one, 1);
    }
    q.seed_offset = 0;
    if (mode == 1) {
      /* same seed, same ids; another seed, other ids */
      l1k_gen_result again[NP], other[NP];
      rc = l1k_generate(g3, ps, NP, &q, again, NULL, NULL, &err);
      CHECK(rc == 0);
      q.seed = 99;
      rc = l1k_generate(g3, ps, NP, &q, other, NULL, NULL, &err);
      CHECK(rc == 0);
      int all_same = 1, any_diff = 0;
      for (int i = 0; i < NP; i++) {
        all_same &= again[i].n_ids == rb[i].n_ids && !memcmp(again[i].ids, rb[i].ids, rb[i].n_ids * 4);
        any_diff |= other[i].n_ids != rb[i].n_ids || memcmp(other[i].ids, rb[i].ids, rb[i].n_ids * 4);
      }
      CHECK_MSG(all_same, "%s: same seed gave other ids", name);
      CHECK_MSG(any_diff, "%s: seeds 1234 and 99 gave the same ids", name);
      l1k_gen_results_free(again, NP);
      l1k_gen_results_free(other, NP);
    } else {
      for (int i = 0; i < NP; i++) CHECK(rb[i].n_ids == 16 && rb[i].finish == L1K_FINISH_LENGTH);
      CHECK(rb[1].n_ids == rb[2].n_ids && !memcmp(rb[1].ids, rb[2].ids, rb[1].n_ids * 4));
    }
    l1k_gen_results_free(rb, NP);
    l1k_generator_free(g3);
    l1k_generator_free(g1);
  }

  /* 5. stops: EOS id, stop strings (spanning tokens), max tokens, full context, streaming */
  {
    int32_t want[16];
    for (int i = 0; i < 16; i++) want[i] = go[np + i];
    char full_text[64];
    size_t fl;
    char *t = toy_decode(NULL, want, 16, &fl);
    snprintf(full_text, sizeof full_text, "%s", t);
    free(t);
    l1k_gen_opts q;
    l1k_gen_opts_default(&q);
    q.max_new_tokens = 16;
    q.decode = toy_decode;
    /* EOS = the 3rd greedy token: stops there, the id is kept, its text is not */
    int32_t eos = want[2];
    int first = 0;
    while (want[first] != eos) first++;
    q.eos_ids = &eos;
    q.n_eos = 1;
    l1k_gen_result r1;
    stream_acc acc;
    memset(&acc, 0, sizeof acc);
    rc = l1k_generate(g, &pr, 1, &q, &r1, on_token, &acc, &err);
    CHECK(rc == 0);
    CHECK(r1.finish == L1K_FINISH_EOS && r1.n_ids == first + 1 && r1.ids[first] == eos);
    CHECK(r1.text && r1.text_len == (size_t)2 * first && !strncmp(r1.text, full_text, 2 * first));
    CHECK(acc.done[0] == 1 && acc.len[0] == r1.text_len && !strcmp(acc.text[0], r1.text ? r1.text : ""));
    CHECK(!strcmp(l1k_finish_name(r1.finish), "stop"));
    l1k_gen_results_free(&r1, 1);
    /* stop string made of the 2nd letter of token 4 and the 1st of token 5 */
    q.eos_ids = NULL;
    q.n_eos = 0;
    q.ignore_eos = 1;
    char stop[3] = {full_text[9], full_text[10], 0};
    const char *stops[2] = {"no-such-stop", stop};
    q.stop = stops;
    q.n_stop = 2;
    memset(&acc, 0, sizeof acc);
    rc = l1k_generate(g, &pr, 1, &q, &r1, on_token, &acc, &err);
    CHECK(rc == 0);
    char *hit = strstr(full_text, stop);
    size_t cut = (size_t)(hit - full_text);
    CHECK(r1.finish == L1K_FINISH_STOP && r1.stop_hit == stops[1]);
    CHECK_MSG(r1.text_len == cut && !strncmp(r1.text, full_text, cut), "text '%s' cut %zu", r1.text, cut);
    CHECK((size_t)r1.n_ids == (cut + 1) / 2 + 1);
    CHECK_MSG(acc.len[0] == r1.text_len && !strcmp(acc.text[0], r1.text), "streamed '%s' vs '%s'", acc.text[0],
              r1.text);
    l1k_gen_results_free(&r1, 1);
    q.include_stop = 1;
    rc = l1k_generate(g, &pr, 1, &q, &r1, NULL, NULL, &err);
    CHECK(rc == 0 && r1.text_len == cut + 2 && !strncmp(r1.text, full_text, cut + 2));
    l1k_gen_results_free(&r1, 1);
    /* max new tokens */
    q.n_stop = 0;
    q.max_new_tokens = 5;
    rc = l1k_generate(g, &pr, 1, &q, &r1, NULL, NULL, &err);
    CHECK(rc == 0 && r1.n_ids == 5 && r1.finish == L1K_FINISH_LENGTH && r1.text_len == 10);
    CHECK(!strcmp(l1k_finish_name(r1.finish), "length"));
    l1k_gen_results_free(&r1, 1);
    q.max_new_tokens = 0;
    rc = l1k_generate(g, &pr, 1, &q, &r1, NULL, NULL, &err);
    CHECK(rc == 0 && r1.n_ids == 0 && r1.finish == L1K_FINISH_LENGTH && r1.text && r1.text_len == 0);
    l1k_gen_results_free(&r1, 1);
    /* the context: 10 positions, a 6-token prompt -> 4 new tokens */
    l1k_generator *gs = l1k_generator_create(m, 1, 10, &err);
    CHECK(gs != NULL);
    q.max_new_tokens = 100;
    rc = l1k_generate(gs, &pr, 1, &q, &r1, NULL, NULL, &err);
    CHECK(rc == 0 && r1.n_ids == 10 - (int)np && r1.finish == L1K_FINISH_LENGTH);
    CHECK(r1.n_ids > 0 && !memcmp(r1.ids, want, r1.n_ids * sizeof(int32_t)));
    l1k_gen_results_free(&r1, 1);
    /* errors: prompt too long, id out of range, bad options, stop without decoder */
    l1k_gen_prompt big = {lids, 10};
    rc = l1k_generate(gs, &big, 1, &q, &r1, NULL, NULL, &err);
    CHECK_MSG(rc == L1K_EINPUT && strstr(err.msg, "prompt 0 has 10 tokens"), "%s", err.msg);
    int32_t bad[2] = {1, V};
    l1k_gen_prompt bp = {bad, 2};
    rc = l1k_generate(gs, &bp, 1, &q, &r1, NULL, NULL, &err);
    CHECK_MSG(rc == L1K_EINPUT && strstr(err.msg, "outside the vocabulary"), "%s", err.msg);
    q.top_p = 0.0f;
    rc = l1k_generate(gs, &pr, 1, &q, &r1, NULL, NULL, &err);
    CHECK_MSG(rc == L1K_EINPUT && strstr(err.msg, "top_p"), "%s", err.msg);
    q.top_p = 1.0f;
    q.decode = NULL;
    q.stop = stops;
    q.n_stop = 1;
    rc = l1k_generate(gs, &pr, 1, &q, &r1, NULL, NULL, &err);
    CHECK_MSG(rc == L1K_EINPUT && strstr(err.msg, "tokenizer"), "%s", err.msg);
    rc = l1k_gen_feed(gs, 0, bad, 2, NULL, &err);
    CHECK(rc == L1K_EINPUT);
    l1k_generator_free(gs);
  }

  /* 7. ill-formed UTF-8 from the decoder: text and stream carry U+FFFD as Python's
   *    bytes.decode("utf-8", "replace") gives (expected bytes computed with Python) */
  {
    l1k_gen_opts q;
    l1k_gen_opts_default(&q);
    q.ignore_eos = 1;
    script_ctx sc = {0};
    q.decode = script_decode;
    q.decode_ctx = &sc;
    const char *want16 = "\x41\xe2\x82\xac\xef\xbf\xbd\x42\xef\xbf\xbd\xef\xbf\xbd\x43\xf0\x9f\x98\x80"
                         "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\x44\xc3\xa9\xef\xbf\xbd\x45";
    const char *want15 = "\x41\xe2\x82\xac\xef\xbf\xbd\x42\xef\xbf\xbd\xef\xbf\xbd\x43\xf0\x9f\x98\x80"
                         "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\x44\xc3\xa9\xef\xbf\xbd";
    for (int k = 15; k <= 16; k++) {
      sc.calls = 0;
      q.max_new_tokens = k;
      stream_acc acc;
      memset(&acc, 0, sizeof acc);
      l1k_gen_result r1;
      rc = l1k_generate(g, &pr, 1, &q, &r1, on_token, &acc, &err);
      CHECK(rc == 0);
      const char *want = k == 16 ? want16 : want15;
      CHECK_MSG(r1.text && r1.text_len == strlen(want) && !memcmp(r1.text, want, strlen(want)), "k=%d text '%s'", k,
                r1.text ? r1.text : "(null)");
      CHECK_MSG(acc.len[0] == strlen(want) && !memcmp(acc.text[0], want, acc.len[0]), "k=%d streamed '%s'", k,
                acc.text[0]);
      l1k_gen_results_free(&r1, 1);
    }
  }

  /* 6. the bf16 checkpoint: runs, and its logits match transformers' for that checkpoint */
  {
    char bdir[512];
    snprintf(bdir, sizeof bdir, "%s/%s/bf16", dir, name);
    l1k_model *mb = l1k_model_load(bdir, &err);
    CHECK_MSG(mb != NULL, "%s: %s", bdir, err.msg);
    float *lb = ref_f32(&st, "logits_bf16_checkpoint", NULL);
    if (mb && lb) {
      l1k_generator *gb = l1k_generator_create(mb, 2, 64, &err);
      CHECK(gb != NULL);
      float *o2 = malloc(48 * (size_t)V * sizeof(float));
      CHECK(l1k_gen_feed(gb, 0, ids, 24, o2, &err) == 0);
      /* row 1 one token at a time: the decode path (bf16 weight copies) */
      for (int t = 0; t < 24; t++) CHECK(l1k_gen_feed(gb, 1, ids + 24 + t, 1, o2 + (size_t)(24 + t) * V, &err) == 0);
      /* against our full forward on the same bf16 weights, and transformers' logits of the
       * bf16 checkpoint (RoPE inverse frequencies rounded to bf16, as transformers does) */
      float *fb = malloc(48 * (size_t)V * sizeof(float));
      int32_t lab[48];
      for (int i = 0; i < 48; i++) lab[i] = -100;
      l1k_batch bb = {.B = 2, .T = 24, .ids = ids, .labels = lab};
      double ls;
      int64_t ntg;
      CHECK(l1k_model_forward(mb, &bb, fb, &ls, &ntg, &err) == 0);
      double ef = rel_err(o2, fb, 48 * (size_t)V);
      CHECK_MSG(ef <= 1e-5, "%s bf16: cached vs full forward rel err %.3g", name, ef);
      double eb = rel_err(o2, lb, 48 * (size_t)V);
      CHECK_MSG(eb <= 1e-4, "%s bf16: rel err vs transformers %.3g", name, eb);
      fprintf(stderr, "%s bf16: cached vs full forward %.2e, vs transformers' bf16 logits %.2e\n", name, ef, eb);
      free(fb);
      l1k_gen_opts q;
      l1k_gen_opts_default(&q);
      q.max_new_tokens = 16;
      l1k_gen_result rb;
      CHECK(l1k_generate(gb, &pr, 1, &q, &rb, NULL, NULL, &err) == 0);
      CHECK(rb.n_ids >= 1 && rb.n_ids <= 16);
      l1k_gen_results_free(&rb, 1);
      free(o2);
      l1k_generator_free(gb);
    }
    free(lb);
    l1k_model_free(mb);
  }

  free(two);
  free(step);
  free(ids);
  free(lg);
  free(gp);
  free(go);
  free(full);
  free(labels);
  free(got);
  free(lids);
  free(lref);
  l1k_generator_free(g);
  l1k_st_close(&st);
  l1k_model_free(m);
}

/* the sampler alone: frequencies follow the distribution after temperature / top-k / top-p */
static void test_sampler(void) {
  float lg[5] = {logf(0.5f), logf(0.3f), logf(0.15f), logf(0.05f), -INFINITY};
  l1k_rng rng;
  l1k_rng_seed(&rng, 7, 0);
  l1k_sampler s = {.temperature = 1.0f, .top_p = 1.0f};
  int cnt[5] = {0};
  const int N = 40000;
  for (int i = 0; i < N; i++) cnt[l1k_sample(&s, lg, 5, &rng)]++;
  CHECK_CLOSE(cnt[0] / (double)N, 0.5, 0.015);
  CHECK_CLOSE(cnt[1] / (double)N, 0.3, 0.015);
  CHECK_CLOSE(cnt[2] / (double)N, 0.15, 0.015);
  CHECK_CLOSE(cnt[3] / (double)N, 0.05, 0.01);
  CHECK(cnt[4] == 0);
  /* top-p 0.75: {0.5, 0.3} kept (0.5 < 0.75 <= 0.8), renormalized 5:3 */
  memset(cnt, 0, sizeof cnt);
  s.top_p = 0.75f;
  for (int i = 0; i < N; i++) cnt[l1k_sample(&s, lg, 5, &rng)]++;
  CHECK(cnt[2] == 0 && cnt[3] == 0 && cnt[4] == 0);
  CHECK_CLOSE(cnt[0] / (double)N, 0.625, 0.015);
  /* top-k 3 */
  memset(cnt, 0, sizeof cnt);
  s.top_p = 1.0f;
  s.top_k = 3;
  for (int i = 0; i < N; i++) cnt[l1k_sample(&s, lg, 5, &rng)]++;
  CHECK(cnt[3] == 0 && cnt[4] == 0);
  CHECK_CLOSE(cnt[2] / (double)N, 0.15 / 0.95, 0.015);
  /* temperature 0.5 squares the odds: p ~ {0.25, 0.09, 0.0225, 0.0025} / 0.365 */
  memset(cnt, 0, sizeof cnt);
  s.top_k = 0;
  s.temperature = 0.5f;
  for (int i = 0; i < N; i++) cnt[l1k_sample(&s, lg, 5, &rng)]++;
  CHECK_CLOSE(cnt[0] / (double)N, 0.25 / 0.365, 0.015);
  /* min-p 0.5: keeps p >= 0.25 -> only {0.5, 0.3} */
  memset(cnt, 0, sizeof cnt);
  s.temperature = 1.0f;
  s.min_p = 0.5f;
  for (int i = 0; i < N; i++) cnt[l1k_sample(&s, lg, 5, &rng)]++;
  CHECK(cnt[2] == 0 && cnt[3] == 0);
  s.min_p = 0;
  /* greedy: argmax, first index on ties; top_k = 1 is greedy too */
  float tie[4] = {1, 3, 3, 2};
  s.temperature = 0;
  CHECK(l1k_sample(&s, tie, 4, &rng) == 1);
  s.temperature = 1;
  s.top_k = 1;
  CHECK(l1k_sample(&s, tie, 4, &rng) == 1);
  /* argmax (vectorized where the CPU allows): first index of the maximum on ties, at any
   * length and position, -inf everywhere, and with NaN (skipped, as the scalar rule says) */
  {
    float v[101];
    for (int len = 1; len <= 101; len += 4)
      for (int pos = 0; pos < len; pos += 3) {
        for (int i = 0; i < len; i++) v[i] = (float)((i * 37) % 11) - 20.0f;
        v[pos] = 5.0f;
        if (pos + 17 < len) v[pos + 17] = 5.0f; /* a later tie */
        CHECK(l1k_argmax(v, len) == pos);
        for (int i = 0; i < len; i++) v[i] = -INFINITY;
        CHECK(l1k_argmax(v, len) == 0);
      }
    for (int i = 0; i < 40; i++) v[i] = (float)i;
    v[3] = NAN;
    CHECK(l1k_argmax(v, 40) == 39);
    v[0] = NAN;
    CHECK(l1k_argmax(v, 40) == 39);
  }
  /* top-p over a large flat-ish vocabulary (exercises the threshold passes) */
  enum { BIG = 151936 };
  float *big = malloc(BIG * sizeof(float));
  for (int i = 0; i < BIG; i++) big[i] = (float)((i * 7919) % 1000) / 100.0f;
  s.top_k = 0;
  s.top_p = 0.9f;
  l1k_rng r2 = rng;
  int32_t a = l1k_sample(&s, big, BIG, &rng);
  int32_t b2 = l1k_sample(&s, big, BIG, &r2);
  CHECK(a == b2 && a >= 0 && a < BIG);
  /* the draw is among the top tokens: its logit is within the nucleus */
  CHECK(big[a] > 5.0f);
  free(big);
  l1k_sampler_free(&s);
  /* the stream: same (seed, stream) same numbers; another stream differs */
  l1k_rng x, y, z;
  l1k_rng_seed(&x, 42, 3);
  l1k_rng_seed(&y, 42, 3);
  l1k_rng_seed(&z, 42, 4);
  uint64_t vx = l1k_rng_next(&x), vy = l1k_rng_next(&y), vz = l1k_rng_next(&z);
  CHECK(vx == vy && vx != vz);
  double u = l1k_rng_uniform(&x);
  CHECK(u >= 0.0 && u < 1.0);
}

int main(void) {
  test_sampler();
  const char *models[] = {"qwen2_tiny", "qwen3_tiny", "llama_tiny"};
  char p[512];
  snprintf(p, sizeof p, "%s", shared_path("golden/models/qwen2_tiny/reference.safetensors"));
  FILE *f = fopen(p, "rb");
  if (!f) SKIP("no golden models at %s", p);
  fclose(f);
  for (int i = 0; i < 3; i++) test_model(models[i]);
  CHECK_DONE();
}
