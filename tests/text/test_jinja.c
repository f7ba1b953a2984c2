/* The Jinja interpreter against transformers: every case of tests/text/data/jinja_cases.jsonl
 * (made by tests/text/gen_jinja_cases.py with transformers' render_jinja_template) renders to
 * the same text, or is refused when transformers raises; plus limits against hostile
 * templates and the shape of error messages. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "check.h"
#include "long1k/jsonl.h"
#include "text/jinja.h"

static const char *src_path(const char *rel) {
  static char buf[4096];
  const char *root = getenv("LONG1K_SRC");
  snprintf(buf, sizeof buf, "%s/%s", root && *root ? root : ".", rel);
  return buf;
}

/* renders template text with variables given as JSON (messages and add_generation_prompt
 * taken out, the rest passed as template variables) */
static int render_json(const char *tmpl, const cJSON *vars, jinja_result *res, l1k_err *err) {
  jinja_tmpl *t = jinja_parse(tmpl, strlen(tmpl), "case", err);
  if (!t) return err->code;
  cJSON *v = vars ? cJSON_Duplicate(vars, 1) : cJSON_CreateObject();
  cJSON *msgs = cJSON_DetachItemFromObject(v, "messages");
  cJSON *agp = cJSON_DetachItemFromObject(v, "add_generation_prompt");
  size_t n = (size_t)cJSON_GetArraySize(msgs);
  jinja_msg *m = calloc(n ? n : 1, sizeof *m);
  size_t i = 0;
  const cJSON *it;
  cJSON_ArrayForEach(it, msgs) {
    const cJSON *rc = cJSON_GetObjectItem(it, "reasoning_content");
    m[i++] = (jinja_msg){cJSON_GetObjectItem(it, "role")->valuestring,
                         cJSON_GetObjectItem(it, "content")->valuestring,
                         cJSON_IsString(rc) ? rc->valuestring : NULL};
  }
  jinja_opts o = {m, n, cJSON_IsTrue(agp), NULL, NULL, v};
  int rc = jinja_render(t, &o, res, err);
  free(m);
  cJSON_Delete(msgs);
  cJSON_Delete(agp);
  cJSON_Delete(v);
  jinja_free(t);
  return rc;
}

static void test_cases(void) {
  l1k_err err = {0};
  l1k_jsonl *rd = l1k_jsonl_open(src_path("tests/text/data/jinja_cases.jsonl"), &err);
  CHECK_MSG(rd != NULL, "%s", err.msg);
  if (!rd) return;
  cJSON *rec;
  int n = 0, bad = 0;
  while (l1k_jsonl_next(rd, &rec, &err) == 1) {
    n++;
    const char *tmpl = cJSON_GetObjectItem(rec, "template")->valuestring;
    const cJSON *want = cJSON_GetObjectItem(rec, "text");
    jinja_result res;
    l1k_err e = {0};
    int rc = render_json(tmpl, cJSON_GetObjectItem(rec, "vars"), &res, &e);
    if (want) {
      if (rc || strcmp(res.text, want->valuestring) != 0) {
        fprintf(stderr, "case %d: %s\n  template: %s\n  ours: %s\n  HF:   %s\n", n,
                rc ? e.msg : "differs", tmpl, rc ? "(error)" : res.text, want->valuestring);
        bad++;
      }
    } else {
      /* transformers refuses it: so must we, with one line naming the template */
      if (rc == 0) {
        fprintf(stderr, "case %d: rendered '%s' where transformers raised (%s)\n", n, res.text,
                cJSON_GetObjectItem(rec, "python_error")->valuestring);
        bad++;
      } else if (!strstr(e.msg, "template 'case'") || strchr(e.msg, '\n')) {
        fprintf(stderr, "case %d: error message not one line naming the template: %s\n", n, e.msg);
        bad++;
      }
    }
    if (!rc) jinja_result_free(&res);
    cJSON_Delete(rec);
  }
  l1k_jsonl_close(rd);
  CHECK_MSG(n >= 60 && bad == 0, "%d of %d Jinja cases differ from transformers", bad, n);
  fprintf(stderr, "jinja cases: %d, %d mismatches\n", n, bad);
}

static int fails_with(const char *tmpl, const char *needle) {
  jinja_result res;
  l1k_err e = {0};
  int rc = render_json(tmpl, NULL, &res, &e);
  if (rc == 0) {
    jinja_result_free(&res);
    fprintf(stderr, "no error for: %s\n", tmpl);
    return 0;
  }
  if (!strstr(e.msg, needle)) fprintf(stderr, "error for %s: %s (wanted '%s')\n", tmpl, e.msg, needle);
  return strstr(e.msg, needle) != NULL;
}

/* hostile templates end with an error, not a hang or a crash */
static void test_limits(void) {
  CHECK(fails_with("{% for a in range(1000000) %}{% for b in range(1000000) %}{% endfor %}{% endfor %}", "runaway"));
  CHECK(fails_with("{% set l = range(100) %}{% for a in range(1000000) %}{% for b in l %}{% endfor %}{% endfor %}", "steps"));
  CHECK(fails_with("{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}", "nested more than"));
  CHECK(fails_with("{{ range(100000000) }}", "range()"));
  CHECK(fails_with("{{ 'x' * 1000000000000 }}", "too large"));
  CHECK(fails_with("{{ (-2) ** 107 }}", "integer overflow"));
  CHECK(fails_with("{{ 9223372036854775807 + 1 }}", "integer overflow"));
  CHECK(fails_with("{{ -(-9223372036854775807 - 1) }}", "integer overflow"));
  char deep[8192] = "{{ ";
  for (int i = 0; i < 1000; i++) strcat(deep, "(");
  strcat(deep, "1");
  for (int i = 0; i < 1000; i++) strcat(deep, ")");
  strcat(deep, " }}");
  CHECK(fails_with(deep, "nested more than"));
  CHECK(fails_with("{% include 'x' %}", "unsupported statement '{% include %}'"));
  CHECK(fails_with("{{ 'a' %}", "line 1 column"));
  CHECK(fails_with("ok\n{% if true %}\n  {{ y.z }}{% endif %}", "line 3 column"));
  CHECK(fails_with("\n\n  {{ foo( }}", "line 3 column"));
  CHECK(fails_with("{{ '%s' % 1 }}", "printf-style"));
  CHECK(fails_with("{{ [1].append(2) }}", "forbids"));
  CHECK(fails_with("{{ 'a'.format(1) }}", "format"));
  CHECK(fails_with("{{ 1 | nosuchfilter }}", "unknown filter 'nosuchfilter'"));
  CHECK(fails_with("{{ 1 is nosuchtest }}", "unknown test 'nosuchtest'"));
}

static void test_generation_spans(void) {
  jinja_result res;
  l1k_err e = {0};
  const char *t = "{% for m in messages %}<{{ m.role }}>{% if m.role == 'assistant' %}{% generation %}"
                  "{{ m.content }}<end>{% endgeneration %}{% else %}{{ m.content }}{% endif %}\n{% endfor %}";
  cJSON *v = cJSON_Parse("{\"messages\": [{\"role\": \"user\", \"content\": \"q\"}, {\"role\": "
                         "\"assistant\", \"content\": \"a1\"}, {\"role\": \"user\", \"content\": "
                         "\"q2\"}, {\"role\": \"assistant\", \"content\": \"a2\"}]}");
  CHECK(render_json(t, v, &res, &e) == 0);
  CHECK_STR(res.text, "<user>q<assistant>a1<end><user>q2<assistant>a2<end>");
  CHECK(res.n_spans == 2);
  if (res.n_spans == 2) {
    CHECK(memcmp(res.text + res.spans[0].begin, "a1<end>", 7) == 0 && res.spans[0].end - res.spans[0].begin == 7);
    CHECK(memcmp(res.text + res.spans[1].begin, "a2<end>", 7) == 0 && res.spans[1].end == res.len);
  }
  jinja_result_free(&res);
  cJSON_Delete(v);
  /* a generation block inside a macro or a set block is not a span of the output */
  CHECK(render_json("{% set x %}{% generation %}in{% endgeneration %}{% endset %}{{ x }}", NULL, &res, &e) == 0);
  CHECK(res.n_spans == 0 && strcmp(res.text, "in") == 0);
  jinja_result_free(&res);
}

int main(void) {
  setenv("LONG1K_TEMPLATE_DATE", "2024-07-26", 1);
  test_cases();
  test_limits();
  test_generation_spans();
  CHECK_DONE();
}
