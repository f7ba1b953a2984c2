/* libFuzzer target: arbitrary bytes as a chat template (the Jinja interpreter of src/text/jinja*.c).
 *
 * The input is a template text; it is parsed and, when it parses, rendered with a small
 * conversation (system/user/assistant with a think block, a tool message), bos/eos tokens and
 * enable_thinking, with and without add_generation_prompt. Checks:
 *  - no crash, hang or runaway memory: the interpreter's step, recursion, output and arena
 *    limits end every render (a failure is an error message, never an abort);
 *  - an error is one line starting with "template '";
 *  - a successful render is NUL-terminated at its length and its {% generation %} spans lie
 *    inside the text, in order;
 *  - the same template renders the same text twice (no hidden state).
 * Seeds: fuzz/seeds/jinja/ (the real templates of tests/text/data/templates are good ones).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "text/jinja.h"

static const jinja_msg MSGS[] = {
    {"system", "You are helpful.", NULL},
    {"user", "What is 2+2?", NULL},
    {"assistant", "<think>\nadd\n</think>\n\n4", "add"},
    {"tool", "{\"x\": 1}", NULL},
    {"user", "  again\u3000", NULL},
};

static void check_error(const l1k_err *e) {
  if (strncmp(e->msg, "template '", 10) != 0 || strchr(e->msg, '\n')) {
    fprintf(stderr, "fuzz_jinja: bad error message: %s\n", e->msg);
    abort();
  }
}

static void render_twice(const jinja_tmpl *t, int agp, cJSON *vars) {
  jinja_opts o = {MSGS, sizeof MSGS / sizeof *MSGS, agp, "<s>", "</s>", vars};
  jinja_result a, b;
  l1k_err e = {0};
  if (jinja_render(t, &o, &a, &e)) {
    if (e.code == L1K_EINPUT) check_error(&e);
    return;
  }
  if (a.text[a.len] != 0) abort();
  size_t prev = 0;
  for (size_t i = 0; i < a.n_spans; i++) {
    if (a.spans[i].begin > a.spans[i].end || a.spans[i].end > a.len || a.spans[i].begin < prev) abort();
    prev = a.spans[i].begin;
  }
  if (jinja_render(t, &o, &b, &e) == 0) {
    if (b.len != a.len || memcmp(a.text, b.text, a.len) != 0) abort();
    jinja_result_free(&b);
  }
  jinja_result_free(&a);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  l1k_err e = {0};
  jinja_tmpl *t = jinja_parse((const char *)data, size, "fuzz", &e);
  if (!t) {
    if (e.code == L1K_EINPUT) check_error(&e);
    return 0;
  }
  cJSON *vars = cJSON_Parse("{\"enable_thinking\": false, \"date_string\": \"26 Jul 2024\", "
                            "\"custom\": {\"a\": [1, 2.5, \"x\", null, true]}}");
  render_twice(t, 0, vars);
  render_twice(t, 1, vars);
  cJSON_Delete(vars);
  jinja_free(t);
  return 0;
}
