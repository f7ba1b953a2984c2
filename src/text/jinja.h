/* long1k — a Jinja2 interpreter for the subset Hugging Face chat templates use (private to
 * src/text; the public face is include/long1k/chat.h). Renders as transformers'
 * apply_chat_template does: trim_blocks, lstrip_blocks, no autoescape, loop controls,
 * {% generation %} spans, raise_exception, strftime_now, transformers' tojson.
 * See docs/tokenizer.md ("Chat templates") for the subset and what is refused.
 */
#ifndef LONG1K_TEXT_JINJA_H
#define LONG1K_TEXT_JINJA_H

#include <stddef.h>

#include "long1k/error.h"

struct cJSON;
typedef struct jinja_tmpl jinja_tmpl;

/* Parses a template; name is used in error messages ("template 'NAME' line L col C: ...").
 * NULL with err set on a syntax error or an unsupported construct. */
jinja_tmpl *jinja_parse(const char *src, size_t len, const char *name, l1k_err *err);
void jinja_free(jinja_tmpl *t);
/* 1 when the template has {% generation %} blocks. */
int jinja_has_generation(const jinja_tmpl *t);

typedef struct jinja_span {
  size_t begin, end; /* byte range of the output */
} jinja_span;

/* One message as the template sees it: a dict {"role", "content"[, "reasoning_content"]}. */
typedef struct jinja_msg {
  const char *role, *content, *reasoning_content; /* reasoning_content may be NULL */
} jinja_msg;

typedef struct jinja_opts {
  const jinja_msg *msgs;
  size_t n_msgs;
  int add_generation_prompt;
  const char *bos_token, *eos_token;  /* NULL: undefined */
  const struct cJSON *vars;           /* object of more variables (enable_thinking, ...) or NULL */
} jinja_opts;

typedef struct jinja_result {
  char *text; /* malloc'ed, NUL-terminated */
  size_t len;
  jinja_span *spans; /* the {% generation %} spans, malloc'ed */
  size_t n_spans;
} jinja_result;

int jinja_render(const jinja_tmpl *t, const jinja_opts *o, jinja_result *out, l1k_err *err);
void jinja_result_free(jinja_result *r);

#endif
