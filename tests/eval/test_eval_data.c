/* Problems, prompt templates and the judge helpers: the shipped benchmarks load with their
 * ids and answers (numbers as text), GPQA-style options are shuffled by seed with the correct
 * letter tracked, option arrays with letter/index answers, bad records named by line, the
 * built-in and file templates, the response tail and the judge's verdict. */
#include <unistd.h>

#include "check.h"
#include "long1k/eval.h"

static const char *write_tmp(const char *name, const char *text) {
  static char path[4][256];
  static int k = 0;
  char *p = path[k++ % 4];
  snprintf(p, 256, "/tmp/l1k_evaldata_%d_%s", (int)getpid(), name);
  FILE *f = fopen(p, "wb");
  fputs(text, f);
  fclose(f);
  return p;
}

int main(void) {
  l1k_err err = {0};
  l1k_eval_data_opts o;
  l1k_eval_problem *P;
  size_t n;
  const char *src = getenv("LONG1K_SRC");
  char path[4096];

  /* shipped benchmarks */
  struct {
    const char *name;
    size_t count;
    const char *id0, *ans0;
  } b[] = {{"math500", 500, "test/precalculus/807.json", "\\left( 3, \\frac{\\pi}{2} \\right)"},
           {"aime24", 30, "60", "204"},
           {"aime25", 30, "0", "70"},
           {"amc23", 40, "0", "27"}};
  for (size_t i = 0; i < 4; i++) {
    snprintf(path, sizeof path, "%s/data/benchmarks/%s.jsonl", src ? src : ".", b[i].name);
    l1k_eval_data_opts_default(&o);
    int rc = l1k_eval_load(path, &o, &P, &n, &err);
    CHECK_MSG(rc == 0, "%s: %s", b[i].name, err.msg);
    if (rc) continue;
    CHECK(n == b[i].count);
    CHECK_STR(P[0].id, b[i].id0);
    CHECK_STR(P[0].answer, b[i].ans0);
    CHECK(P[0].n_choices == 0 && P[0].choices == NULL && strlen(P[0].problem) > 20);
    l1k_eval_problems_free(P, n);
  }
  l1k_eval_data_opts_default(&o);
  o.limit = 7;
  snprintf(path, sizeof path, "%s/data/benchmarks/math500.jsonl", src ? src : ".");
  CHECK(l1k_eval_load(path, &o, &P, &n, &err) == 0 && n == 7);
  l1k_eval_problems_free(P, n);

  /* numbers as answers, custom fields, index ids */
  const char *p1 = write_tmp("a.jsonl",
                             "{\"q\":\"one\",\"gold\":2.5}\n\n{\"q\":\"two\",\"gold\":1e21}\n"
                             "{\"q\":\"three\",\"gold\":-3.0}\n");
  l1k_eval_data_opts_default(&o);
  o.problem_field = "q";
  o.answer_field = "gold";
  CHECK(l1k_eval_load(p1, &o, &P, &n, &err) == 0 && n == 3);
  if (n == 3) {
    CHECK_STR(P[0].answer, "2.5");
    CHECK_STR(P[1].answer, "1e+21");
    CHECK_STR(P[2].answer, "-3");
    CHECK_STR(P[0].id, "0");
    CHECK_STR(P[2].id, "2");
    l1k_eval_problems_free(P, n);
  }
  /* bad records: named by file, line and field */
  const char *p2 = write_tmp("b.jsonl", "{\"problem\":\"x\",\"answer\":\"1\"}\n{\"problem\":\"y\"}\n");
  l1k_eval_data_opts_default(&o);
  CHECK(l1k_eval_load(p2, &o, &P, &n, &err) == L1K_EINPUT);
  CHECK(strstr(err.msg, "b.jsonl:2") && strstr(err.msg, "'answer'"));
  const char *p3 = write_tmp("c.jsonl", "{\"problem\":\"x\",\"answer\":\"1\"}\n{\"problem\": oops}\n");
  CHECK(l1k_eval_load(p3, &o, &P, &n, &err) != 0);
  CHECK(strstr(err.msg, "c.jsonl:2") != NULL);
  const char *p4 = write_tmp("d.jsonl", "{\"id\":1,\"problem\":\"x\",\"answer\":\"1\"}\n"
                                        "{\"id\":\"1\",\"problem\":\"y\",\"answer\":\"2\"}\n");
  CHECK(l1k_eval_load(p4, &o, &P, &n, &err) == L1K_EINPUT);
  CHECK(strstr(err.msg, "twice") != NULL);
  const char *p5 = write_tmp("e.jsonl", "\n");
  CHECK(l1k_eval_load(p5, &o, &P, &n, &err) == L1K_EINPUT);

  /* GPQA style: shuffled with the seed, correct letter tracked */
  char buf[8192] = "";
  for (int i = 0; i < 20; i++) {
    char line[512];
    snprintf(line, sizeof line,
             "{\"Record ID\":\"r%d\",\"Question\":\"Q%d?\",\"Correct Answer\":\" good %d \","
             "\"Incorrect Answer 1\":\"bad1\",\"Incorrect Answer 2\":\"bad2\","
             "\"Incorrect Answer 3\":\"bad3\"}\n", i, i, i);
    strcat(buf, line);
  }
  const char *g = write_tmp("g.jsonl", buf);
  int pos_count[4] = {0};
  char order0[21] = "", order0b[21] = "", order9[21] = "";
  for (int pass = 0; pass < 3; pass++) {
    l1k_eval_data_opts_default(&o);
    o.problem_field = "Question";
    o.id_field = "Record ID";
    o.correct_field = "Correct Answer";
    o.incorrect_fields = "Incorrect Answer 1,Incorrect Answer 2,Incorrect Answer 3";
    o.shuffle_seed = pass == 2 ? 9 : 0;
    CHECK(l1k_eval_load(g, &o, &P, &n, &err) == 0 && n == 20);
    char *ord = pass == 0 ? order0 : pass == 1 ? order0b : order9;
    for (size_t i = 0; i < n; i++) {
      CHECK(P[i].n_choices == 4);
      CHECK(strlen(P[i].answer) == 1 && P[i].answer[0] >= 'A' && P[i].answer[0] <= 'D');
      char want[64];
      snprintf(want, sizeof want, "%c) good %zu", P[i].answer[0], i);
      CHECK_MSG(strstr(P[i].choices, want) != NULL, "%s in %s", want, P[i].choices);
      CHECK(strstr(P[i].choices, "A) ") == P[i].choices);
      ord[i] = P[i].answer[0];
      if (pass == 0) pos_count[P[i].answer[0] - 'A']++;
    }
    ord[n] = 0;
    l1k_eval_problems_free(P, n);
  }
  CHECK_STR(order0, order0b);
  CHECK(strcmp(order0, order9) != 0);
  int used = 0;
  for (int i = 0; i < 4; i++) used += pos_count[i] > 0;
  CHECK(used >= 3); /* 20 problems: the correct option moves around */

  /* option arrays with letters, indices, texts */
  const char *h = write_tmp("h.jsonl",
                            "{\"problem\":\"p\",\"options\":[\"x\",\"y\",\"z\"],\"answer\":\"B\"}\n"
                            "{\"problem\":\"p\",\"options\":[\"x\",\"y\",\"z\"],\"answer\":2}\n"
                            "{\"problem\":\"p\",\"options\":[\"x\",\"y\",\"z\"],\"answer\":\"x\"}\n"
                            "{\"problem\":\"p\",\"options\":[\"x\",\"y\",\"z\"],\"answer\":\"(c)\"}\n");
  l1k_eval_data_opts_default(&o);
  o.choices_field = "options";
  CHECK(l1k_eval_load(h, &o, &P, &n, &err) == 0 && n == 4);
  if (n == 4) {
    CHECK_STR(P[0].answer, "B");
    CHECK_STR(P[1].answer, "C");
    CHECK_STR(P[2].answer, "A");
    CHECK_STR(P[3].answer, "C");
    CHECK_STR(P[0].choices, "A) x\nB) y\nC) z");
    l1k_eval_problems_free(P, n);
  }
  const char *h2 = write_tmp("h2.jsonl", "{\"problem\":\"p\",\"options\":[\"x\",\"y\"],\"answer\":\"D\"}\n");
  CHECK(l1k_eval_load(h2, &o, &P, &n, &err) == L1K_EINPUT);
  CHECK(strstr(err.msg, "h2.jsonl:1") != NULL);

  /* templates */
  l1k_prompt_template t;
  l1k_eval_problem pr = {.id = "1", .problem = "What is $\\frac{1}{2}$?", .answer = "0.5"};
  CHECK(l1k_prompt_template_load("boxed", &t, &err) == 0);
  CHECK_STR(t.system, "Please reason step by step, and put your final answer within \\boxed{}.");
  char *u = l1k_prompt_render(&t, &pr);
  CHECK_STR(u, "What is $\\frac{1}{2}$?");
  free(u);
  l1k_prompt_template_free(&t);
  CHECK(l1k_prompt_template_load("boxed-user", &t, &err) == 0 && t.system == NULL);
  u = l1k_prompt_render(&t, &pr);
  CHECK_STR(u, "What is $\\frac{1}{2}$?\nPlease reason step by step, and put your final answer "
               "within \\boxed{}.");
  free(u);
  l1k_prompt_template_free(&t);
  for (const char *const *nm = l1k_prompt_template_names(); *nm; nm++) {
    CHECK(l1k_prompt_template_load(*nm, &t, &err) == 0);
    CHECK(strstr(t.user, "{problem}") != NULL);
    l1k_prompt_template_free(&t);
  }
  l1k_eval_problem mc = {.id = "2", .problem = "Pick one.", .answer = "B",
                         .choices = "A) x\nB) y", .n_choices = 2};
  CHECK(l1k_prompt_template_load("plain", &t, &err) == 0);
  u = l1k_prompt_render(&t, &mc); /* no {choices}: appended */
  CHECK_STR(u, "Pick one.\n\nA) x\nB) y");
  free(u);
  l1k_prompt_template_free(&t);
  CHECK(l1k_prompt_template_load("mc", &t, &err) == 0);
  u = l1k_prompt_render(&t, &mc);
  CHECK(strstr(u, "Pick one.\n\nA) x\nB) y") != NULL && strstr(u, "\\boxed{A}") != NULL);
  free(u);
  l1k_prompt_template_free(&t);
  const char *tf = write_tmp("t.json", "{\"system\": \"Be brief.\", \"user\": \"Q: {problem}\\nA:\"}");
  CHECK(l1k_prompt_template_load(tf, &t, &err) == 0);
  CHECK_STR(t.system, "Be brief.");
  u = l1k_prompt_render(&t, &pr);
  CHECK_STR(u, "Q: What is $\\frac{1}{2}$?\nA:");
  free(u);
  l1k_prompt_template_free(&t);
  const char *tt = write_tmp("t.txt", "Solve {problem} now, answer in \\boxed{}.");
  CHECK(l1k_prompt_template_load(tt, &t, &err) == 0 && t.system == NULL);
  u = l1k_prompt_render(&t, &pr);
  CHECK_STR(u, "Solve What is $\\frac{1}{2}$? now, answer in \\boxed{}.");
  free(u);
  l1k_prompt_template_free(&t);
  const char *tb = write_tmp("tb.txt", "no placeholder");
  CHECK(l1k_prompt_template_load(tb, &t, &err) == L1K_EINPUT);
  CHECK(l1k_prompt_template_load("nonexistent-template", &t, &err) == L1K_EINPUT);
  CHECK(strstr(err.msg, "boxed") != NULL);

  /* judge: tail, render, verdicts */
  char *tail = l1k_judge_tail("a\nb\n\nc\nd\ne\nf\n\n", 5, 1000);
  CHECK_STR(tail, "b\n\nc\nd\ne\nf");
  free(tail);
  tail = l1k_judge_tail("<think>\nx\ny\n</think>\nThe answer is 3.", 5, 1000);
  CHECK_STR(tail, "The answer is 3.");
  free(tail);
  tail = l1k_judge_tail("<think>never closed\n1\n2", 5, 1000);
  CHECK_STR(tail, "<think>never closed\n1\n2");
  free(tail);
  tail = l1k_judge_tail("one line only", 5, 1000);
  CHECK_STR(tail, "one line only");
  free(tail);
  tail = l1k_judge_tail("0123456789", 5, 4);
  CHECK_STR(tail, "6789");
  free(tail);
  tail = l1k_judge_tail("", 5, 100);
  CHECK_STR(tail, "");
  free(tail);
  char *jr = l1k_judge_render(l1k_judge_default_prompt(), "P?", "12", "so \\boxed{12}");
  CHECK(strstr(jr, "P?") && strstr(jr, "\n12\n") && strstr(jr, "so \\boxed{12}"));
  CHECK(strstr(jr, "{problem}") == NULL);
  free(jr);
  CHECK(l1k_judge_parse("VERDICT: CORRECT") == 1);
  CHECK(l1k_judge_parse("VERDICT: INCORRECT") == 0);
  CHECK(l1k_judge_parse("**Verdict:** correct") == 1);
  CHECK(l1k_judge_parse("It looks correct at first, but VERDICT: INCORRECT") == 0);
  CHECK(l1k_judge_parse("<think>maybe yes</think>No") == 0);
  CHECK(l1k_judge_parse("Yes") == 1);
  CHECK(l1k_judge_parse("The answer is incorrect.") == 0);
  CHECK(l1k_judge_parse("I cannot tell.") == -1);
  CHECK(l1k_judge_parse("") == -1);
  CHECK(l1k_judge_parse("Incorrectly formatted but correct") == 1);
  CHECK_DONE();
}
