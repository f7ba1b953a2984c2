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
 *  - the same template renders the same text twice (no hidden state);
 *  - through chat.h (l1k_chat_render, which also derives the assistant spans by rendering
 *    prefixes with sentinels): an error or spans inside the text, in order, not overlapping.
 * Seeds: fuzz/seeds/jinja/ (the real templates of tests/text/data/templates are good ones).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "long1k/chat.h"
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

static void chat_render(const uint8_t *data, size_t size, const cJSON *vars) {
  l1k_template t = NULL;
  l1k_err e = {0};
  if (l1k_chat_template_from_text((const char *)data, size, "fuzz", "<s>", "</s>", &t, &e)) return;
  static const l1k_chat_msg m[] = {{"system", "S", NULL},
                                   {"user", "Q1", NULL},
                                   {"assistant", "<think>\nr\n</think>\n\nA1", NULL},
                                   {"user", "Q2", NULL},
                                   {"assistant", " A2 ", NULL}};
  for (int agp = 0; agp < 2; agp++) {
    l1k_chat_opts o = {agp, agp ? 0 : -1, vars};
    l1k_chat_rendered r;
    if (l1k_chat_render(t, m, sizeof m / sizeof *m, &o, &r, &e)) {
      if (strchr(e.msg, '\n')) abort();
      continue;
    }
    size_t prev = 0;
    for (size_t i = 0; i < r.n_assistant; i++) {
      if (r.assistant[i].begin > r.assistant[i].end || r.assistant[i].end > r.len || r.assistant[i].begin < prev)
        abort();
      prev = r.assistant[i].end;
    }
    l1k_chat_rendered_free(&r);
  }
  l1k_chat_template_free(t);
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
  jinja_free(t);
  chat_render(data, size, vars);
  cJSON_Delete(vars);
  return 0;
}
