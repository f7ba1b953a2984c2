/* Unit checks of the synth building blocks: \boxed{} extraction, record schemas, field maps,
 * normalization, n-grams, MinHash, templates. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "long1k/io.h"
#include "long1k/synth.h"
#include "synth/synth_internal.h"

static char *boxed(const char *s) {
  size_t b, l;
  static char out[256];
  if (!l1k_synth_last_boxed(s, strlen(s), &b, &l)) return NULL;
  snprintf(out, sizeof out, "%.*s", (int)l, s + b);
  return out;
}

static int count_cb(void *ctx, uint64_t h) {
  (void)h;
  (*(int *)ctx)++;
  return 0;
}

static double jaccard_est(const char *a, const char *b) {
  size_t la, lb;
  char *na = l1k_synth_normalize(a, strlen(a), &la), *nb = l1k_synth_normalize(b, strlen(b), &lb);
  uint32_t sa[128], sb[128];
  l1k_synth_minhash(na, la, sa, 128);
  l1k_synth_minhash(nb, lb, sb, 128);
  int eq = 0;
  for (int i = 0; i < 128; i++) eq += sa[i] == sb[i];
  free(na);
  free(nb);
  return eq / 128.0;
}

/* Deterministic mutation loop: records of every schema with bytes flipped, cut, braces and
 * backslashes inserted go through cJSON and every parser; \boxed{} extraction and normalization
 * get random bytes (invalid UTF-8 included). Checks bounds and that nothing crashes (ASan). */
static uint64_t fz_state = 12345;
static uint32_t fz(void) {
  fz_state ^= fz_state << 13;
  fz_state ^= fz_state >> 7;
  fz_state ^= fz_state << 17;
  return (uint32_t)fz_state;
}

static void mutation_loop(int iters) {
  static const char *seeds[] = {
      "{\"system\":\"s\",\"conversations\":[{\"from\":\"user\",\"value\":\"Q?\"},{\"from\":"
      "\"assistant\",\"value\":\"<|begin_of_thought|>\\n\\nt\\n\\n<|end_of_thought|>\\n\\n"
      "<|begin_of_solution|>\\n\\n\\\\boxed{\\\\frac{1}{2}}\\n\\n<|end_of_solution|>\"}]}",
      "{\"problem\":\"p\",\"deepseek_reasoning\":\"r\",\"deepseek_solution\":\"\\\\boxed{3}\","
      "\"ground_truth_solution\":\"g\",\"domain\":\"math\",\"source\":\"x\"}",
      "{\"question\":\"q\",\"solution\":\"9\",\"deepseek_thinking_trajectory\":\"t\","
      "\"deepseek_attempt\":\"\\\\boxed{9}\",\"cot_type\":\"math\",\"source_type\":\"x\"}",
      "{\"q\":{\"a\":[\"x\",\"y\"]},\"trace\":\"t\",\"sol\":\"s \\\\fbox{1}\",\"level\":\"Level 2\"}",
  };
  l1k_synth_fields f = {0};
  l1k_err err = {0};
  l1k_synth_fields_parse(&f, "problem=q.a.1,reasoning=trace,solution=sol,difficulty=level", &err);
  static const char ins[] = "{}\\\"[]:,0a\x80\xff\xc3 ";
  char buf[1024];
  int parsed_ok = 0, seeds_ok = 0;
  for (int i = 0; i < 4; i++) {
    cJSON *j = cJSON_Parse(seeds[i]);
    l1k_synth_record r;
    l1k_synth_schema sc = i == 3 ? L1K_SCHEMA_FIELDS : l1k_synth_detect(j);
    if (j && l1k_synth_parse(j, sc, i == 3 ? &f : NULL, "seed", &r, &err) == 0 && r.answer) {
      seeds_ok++;
      l1k_synth_record_free(&r);
    }
    cJSON_Delete(j);
  }
  CHECK_MSG(seeds_ok == 4, "%d seeds parse: %s", seeds_ok, err.msg);
  for (int it = 0; it < iters; it++) {
    const char *sd = seeds[fz() % 4];
    size_t n = strlen(sd);
    memcpy(buf, sd, n);
    int muts = 1 + (int)(fz() % 4);
    for (int m = 0; m < muts; m++) {
      uint32_t op = fz() % 3, pos = n ? fz() % (uint32_t)n : 0;
      if (op == 0 && n) buf[pos] = ins[fz() % (sizeof ins - 1)];
      else if (op == 1 && n + 1 < sizeof buf) {
        memmove(buf + pos + 1, buf + pos, n - pos);
        buf[pos] = ins[fz() % (sizeof ins - 1)];
        n++;
      } else if (op == 2) n = pos;
    }
    buf[n] = 0;
    cJSON *j = cJSON_ParseWithLength(buf, n);
    if (j) {
      (void)l1k_synth_detect(j);
      for (int sc = L1K_SCHEMA_OPENTHOUGHTS; sc <= L1K_SCHEMA_FIELDS; sc++) {
        l1k_synth_record r;
        int rc = l1k_synth_parse(j, (l1k_synth_schema)sc, sc == L1K_SCHEMA_FIELDS ? &f : NULL,
                                 "fz:1", &r, &err);
        if (rc == 0) {
          parsed_ok++;
          CHECK(r.problem && r.reasoning && r.solution && r.reasoning_len == strlen(r.reasoning));
          l1k_synth_record_free(&r);
        } else {
          CHECK(rc == L1K_EINPUT && strncmp(err.msg, "fz:1", 4) == 0);
        }
      }
      cJSON_Delete(j);
    }
    size_t b, l;
    if (l1k_synth_last_boxed(buf, n, &b, &l)) CHECK(b + l <= n && l > 0);
    size_t nl;
    char *nm = l1k_synth_normalize(buf, n, &nl);
    CHECK(nm != NULL);
    if (nm) {
      CHECK(nl == strlen(nm) && (nl == 0 || (nm[0] != ' ' && nm[nl - 1] != ' ')));
      uint32_t sig[8];
      l1k_synth_minhash(nm, nl, sig, 8);
      free(nm);
    }
  }
  CHECK_MSG(parsed_ok > iters / 20, "only %d mutated records parsed", parsed_ok);
  l1k_synth_fields_free(&f);
}

int main(void) {
  l1k_err err = {0};
  mutation_loop(getenv("LONG1K_SANITIZER") ? 3000 : 20000);
  /* --- last \boxed{} --- */
  char *b = boxed("so $\\boxed{\\frac{1}{2}}$ and later \\boxed{42}.");
  CHECK(b && !strcmp(b, "42"));
  b = boxed("x = \\boxed{\\frac{\\sqrt{3}}{2}} done");
  CHECK(b && !strcmp(b, "\\frac{\\sqrt{3}}{2}"));
  b = boxed("\\boxed {7} then \\fbox{ 8 }");
  CHECK(b && !strcmp(b, "8"));
  b = boxed("escaped \\boxed{\\{1,2\\}}");
  CHECK(b && !strcmp(b, "\\{1,2\\}"));
  CHECK(boxed("no answer here") == NULL);
  CHECK(boxed("unclosed \\boxed{12") == NULL);
  b = boxed("\\boxed{3} and an unclosed \\boxed{4");
  CHECK(b && !strcmp(b, "3"));
  CHECK(boxed("\\boxed{}") == NULL);
  CHECK(boxed("\\boxedx{1}") == NULL);

  /* --- schemas --- */
  cJSON *ot = cJSON_Parse(
      "{\"system\":\"s\",\"conversations\":[{\"from\":\"user\",\"value\":\"  What is 1+1? \"},"
      "{\"from\":\"assistant\",\"value\":\"<|begin_of_thought|>\\n\\nthink hard\\n\\n"
      "<|end_of_thought|>\\n\\n<|begin_of_solution|>\\n\\nIt is $\\\\boxed{2}$.\\n\\n"
      "<|end_of_solution|>\"}]}");
  CHECK(l1k_synth_detect(ot) == L1K_SCHEMA_OPENTHOUGHTS);
  l1k_synth_record r;
  CHECK(l1k_synth_parse(ot, L1K_SCHEMA_OPENTHOUGHTS, NULL, "f:1", &r, &err) == 0);
  CHECK_STR(r.problem, "What is 1+1?");
  CHECK_STR(r.reasoning, "think hard");
  CHECK_STR(r.solution, "It is $\\boxed{2}$.");
  CHECK_STR(r.answer, "2");
  CHECK(isnan(r.difficulty));
  CHECK(r.reasoning_len == 10);
  l1k_synth_record_free(&r);
  /* the first pass keeps only the reasoning's length */
  CHECK(l1k_synth_parse_ex(ot, L1K_SCHEMA_OPENTHOUGHTS, NULL, "f:1", &r, 1, &err) == 0);
  CHECK(r.reasoning == NULL && r.reasoning_len == 10);
  CHECK_STR(r.answer, "2");
  l1k_synth_record_free(&r);
  cJSON_Delete(ot);

  /* the OpenThoughts instruction prefix is not part of the problem */
  ot = cJSON_Parse("{\"conversations\":[{\"from\":\"user\",\"value\":\"Return your final response "
                   "within \\\\boxed{}. Find $x$.\"},{\"from\":\"assistant\",\"value\":"
                   "\"<|begin_of_thought|>t<|end_of_thought|><|begin_of_solution|>\\\\boxed{1}\"}]}");
  CHECK(ot != NULL);
  CHECK(l1k_synth_parse(ot, L1K_SCHEMA_OPENTHOUGHTS, NULL, "f:2", &r, &err) == 0);
  CHECK_STR(r.problem, "Find $x$.");
  CHECK_STR(r.answer, "1");
  l1k_synth_record_free(&r);
  cJSON_Delete(ot);

  ot = cJSON_Parse("{\"conversations\":[{\"from\":\"user\",\"value\":\"q\"},"
                   "{\"from\":\"assistant\",\"value\":\"no tags\"}]}");
  CHECK(l1k_synth_parse(ot, L1K_SCHEMA_OPENTHOUGHTS, NULL, "f.jsonl:7", &r, &err) == L1K_EINPUT);
  CHECK_MSG(strstr(err.msg, "f.jsonl:7") && strstr(err.msg, "begin_of_thought"), "%s", err.msg);
  cJSON_Delete(ot);

  cJSON *md = cJSON_Parse("{\"problem\":\"p\",\"deepseek_reasoning\":\"r\",\"deepseek_solution\":"
                          "\"no box\",\"ground_truth_solution\":\"gt \\\\boxed{5}\",\"domain\":"
                          "\"math\",\"source\":\"x\"}");
  CHECK(l1k_synth_detect(md) == L1K_SCHEMA_OT_METADATA);
  CHECK(l1k_synth_parse(md, L1K_SCHEMA_OT_METADATA, NULL, "f:2", &r, &err) == 0);
  CHECK_STR(r.answer, "5"); /* from the ground truth when the solution has no box */
  CHECK_STR(r.domain, "math");
  l1k_synth_record_free(&r);
  cJSON_Delete(md);

  cJSON *s1 = cJSON_Parse("{\"question\":\"q\",\"solution\":\"9\",\"deepseek_thinking_trajectory\":"
                          "\"t\",\"deepseek_attempt\":\"so \\\\boxed{9}\",\"cot_type\":\"math\","
                          "\"source_type\":\"x\"}");
  CHECK(l1k_synth_detect(s1) == L1K_SCHEMA_S1K);
  CHECK(l1k_synth_parse(s1, L1K_SCHEMA_S1K, NULL, "f:3", &r, &err) == 0);
  CHECK_STR(r.answer, "9");
  CHECK_STR(r.reasoning, "t");
  l1k_synth_record_free(&r);
  /* wrong type names the field */
  cJSON_ReplaceItemInObject(s1, "deepseek_thinking_trajectory", cJSON_CreateNumber(3));
  CHECK(l1k_synth_parse(s1, L1K_SCHEMA_S1K, NULL, "s1k.jsonl:3", &r, &err) == L1K_EINPUT);
  CHECK_MSG(strstr(err.msg, "s1k.jsonl:3") && strstr(err.msg, "deepseek_thinking_trajectory") &&
            strstr(err.msg, "expected a string"), "%s", err.msg);
  cJSON_Delete(s1);

  /* field maps: nested paths, numbers, difficulty strings */
  l1k_synth_fields f = {0};
  CHECK(l1k_synth_fields_parse(&f, "problem=data.q,reasoning=data.steps.1,solution=sol,"
                               "answer=ans,difficulty=level,domain=subj,id=uid", &err) == 0);
  cJSON *fj = cJSON_Parse("{\"data\":{\"q\":\"Q\",\"steps\":[\"a\",\"B\"]},\"sol\":\"S\","
                          "\"ans\":12,\"level\":\"Level 4\",\"subj\":\"Algebra\",\"uid\":77}");
  CHECK(l1k_synth_detect(fj) == L1K_SCHEMA_AUTO);
  CHECK(l1k_synth_parse(fj, L1K_SCHEMA_FIELDS, &f, "f:4", &r, &err) == 0);
  CHECK_STR(r.problem, "Q");
  CHECK_STR(r.reasoning, "B");
  CHECK_STR(r.answer, "12");
  CHECK_STR(r.id, "77");
  CHECK_STR(r.domain, "Algebra");
  CHECK(r.difficulty == 4);
  l1k_synth_record_free(&r);
  cJSON_Delete(fj);
  fj = cJSON_Parse("{\"data\":{\"q\":\"Q\"},\"sol\":\"S\"}");
  CHECK(l1k_synth_parse(fj, L1K_SCHEMA_FIELDS, &f, "g.jsonl:9", &r, &err) == L1K_EINPUT);
  CHECK_MSG(strstr(err.msg, "g.jsonl:9: missing field 'data.steps.1'"), "%s", err.msg);
  cJSON_Delete(fj);
  l1k_synth_fields_free(&f);
  CHECK(l1k_synth_fields_parse(&f, "problem", &err) == L1K_EINPUT);
  CHECK(l1k_synth_fields_parse(&f, "level=x", &err) == L1K_EINPUT);
  CHECK(strstr(err.msg, "unknown name 'level'") != NULL);
  l1k_synth_fields_free(&f);
  CHECK(l1k_synth_schema_parse("s1k") == L1K_SCHEMA_S1K);
  CHECK(l1k_synth_schema_parse("nope") == -1);

  /* --- normalization, n-grams --- */
  size_t nl;
  char *n = l1k_synth_normalize("  What's  THE value of $x^2+1$?\n", 32, &nl);
  CHECK_STR(n, "what s the value of x ^ 2 + 1");
  CHECK(nl == strlen(n));
  free(n);
  /* operators are words: problems that differ only in one are different problems */
  n = l1k_synth_normalize("Compute 62 - 3.", 15, &nl);
  CHECK_STR(n, "compute 62 - 3");
  free(n);
  n = l1k_synth_normalize("(2*3)+4=10", 10, &nl);
  CHECK_STR(n, "( 2 * 3 ) + 4 = 10");
  CHECK(nl == strlen(n));
  free(n);
  const char *um = "6 \xC3\x97 7 \xE2\x89\xA4 50"; /* 6 × 7 ≤ 50 */
  n = l1k_synth_normalize(um, strlen(um), &nl);
  CHECK_STR(n, "6 \xC3\x97 7 \xE2\x89\xA4 50");
  free(n);
  const char *u = "\xC3\x89tude de la FONCTION \xEF\xAC\x81n"; /* Étude, ﬁ ligature */
  n = l1k_synth_normalize(u, strlen(u), &nl);
  CHECK_STR(n, "etude de la fonction fin");
  free(n);
  n = l1k_synth_normalize("!!!", 3, &nl);
  CHECK(nl == 0);
  free(n);
  int cnt = 0;
  const char *t = "a b c d e f";
  l1k_synth_ngrams(t, strlen(t), 3, count_cb, &cnt);
  CHECK(cnt == 4);
  cnt = 0;
  l1k_synth_ngrams(t, strlen(t), 13, count_cb, &cnt); /* shorter than n: one hash of it all */
  CHECK(cnt == 1);
  l1k_synth_hashset hs = {0};
  for (uint32_t i = 0; i < 5000; i++) CHECK(l1k_synth_hashset_add(&hs, i * 0x9e3779b97f4a7c15ULL, i) == 0);
  uint32_t v = 0;
  CHECK(l1k_synth_hashset_get(&hs, 1234 * 0x9e3779b97f4a7c15ULL, &v) && v == 1234);
  CHECK(l1k_synth_hashset_get(&hs, 0, &v) && v == 0);
  CHECK(!l1k_synth_hashset_get(&hs, 77, &v));
  l1k_synth_hashset_free(&hs);

  /* MinHash: near-duplicates score high, different problems low */
  const char *p1 = "Find the number of ordered pairs of positive integers (a, b) such that a + b = 1000 "
                   "and neither a nor b has a zero digit.";
  const char *p2 = "Find the number of ordered pairs of positive integers (a, b) such that a + b = 1000 "
                   "and neither a nor b has a zero digit. Explain.";
  const char *p3 = "Let triangle ABC have side lengths 13, 14 and 15. Compute the radius of its "
                   "inscribed circle.";
  CHECK(jaccard_est(p1, p2) > 0.85);
  CHECK(jaccard_est(p1, p3) < 0.2);
  CHECK(jaccard_est(p1, p1) == 1.0);

  /* --- templates --- */
  l1k_synth_template tp;
  CHECK(l1k_synth_template_default(&tp, &err) == 0);
  CHECK(tp.n_links >= 5);
  l1k_buf bb = {0};
  l1k_synth_vars vars = {3, 2, "\\frac{1}{2}", "P"};
  CHECK(l1k_synth_fill(&bb, tp.final_answer, &vars) == 0);
  CHECK_STR(bb.data, "The final answer to problem 2 is $\\boxed{\\frac{1}{2}}$.");
  bb.len = 0;
  CHECK(l1k_synth_fill(&bb, "{ordinal}/{prev_ordinal}/{prev}/{k}/{unknown}/{", &vars) == 0);
  CHECK_STR(bb.data, "second/first/1/3/{unknown}/{");
  l1k_buf_free(&bb);
  l1k_synth_template_free(&tp);
  char path[256];
  snprintf(path, sizeof path, "/tmp/l1k_synth_tpl_%d.json", (int)getpid());
  FILE *fp = fopen(path, "w");
  fputs("{\"links\": [\"Next: {i}.\"], \"prompt_intro\": \"Do these {k}.\"}", fp);
  fclose(fp);
  CHECK(l1k_synth_template_load(&tp, path, &err) == 0);
  CHECK(tp.n_links == 1 && !strcmp(tp.links[0], "Next: {i}."));
  CHECK_STR(tp.prompt_intro, "Do these {k}.");
  CHECK(strstr(tp.final_answer, "{answer}") != NULL); /* default kept */
  l1k_synth_template_free(&tp);
  fp = fopen(path, "w");
  fputs("{\"linkz\": []}", fp);
  fclose(fp);
  CHECK(l1k_synth_template_load(&tp, path, &err) == L1K_EINPUT);
  CHECK_MSG(strstr(err.msg, "unknown template key 'linkz'") != NULL, "%s", err.msg);
  fp = fopen(path, "w");
  fputs("{\"links\": [1]}", fp);
  fclose(fp);
  CHECK(l1k_synth_template_load(&tp, path, &err) == L1K_EINPUT);
  CHECK(strstr(err.msg, "links") != NULL);
  fp = fopen(path, "w");
  fputs("not json", fp);
  fclose(fp);
  CHECK(l1k_synth_template_load(&tp, path, &err) == L1K_EINPUT);
  unlink(path);
  CHECK(l1k_synth_template_load(&tp, path, &err) != 0);
  CHECK_DONE();
}
