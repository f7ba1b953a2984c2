/* long1k — chat templates (built-in renderers equal to the Jinja templates shipped with the
 * Qwen2.5 and Qwen3 tokenizers, and Llama-3's).
 *
 * Contract used by train, synth and eval. Owned by the tokenizer module (src/text/).
 */
#ifndef LONG1K_CHAT_H
#define LONG1K_CHAT_H

#include <stddef.h>
#include <stdint.h>
#include "long1k/error.h"
#include "long1k/tokenizer.h"

typedef enum {
  L1K_TMPL_NONE = 0,
  L1K_TMPL_QWEN25, /* "qwen2.5" (also Qwen2 instruct) */
  L1K_TMPL_QWEN3,  /* "qwen3" */
  L1K_TMPL_LLAMA3, /* "llama3" */
} l1k_template;

typedef struct l1k_chat_msg {
  const char *role;    /* "system", "user", "assistant", "tool" */
  const char *content; /* UTF-8 */
  /* qwen3 only, optional: the assistant's reasoning given apart from its content (the
   * template's message.reasoning_content); NULL = not given, then "<think>...</think>" is
   * taken out of the content as the template does. Zero-initialize the struct (or use
   * designated initializers) so that it is NULL when not used. */
  const char *reasoning_content;
} l1k_chat_msg;

typedef struct l1k_chat_opts {
  int add_generation_prompt;
  int enable_thinking; /* qwen3: 1 (default) or 0; -1 = not given */
} l1k_chat_opts;

/* A byte range of the rendered text. */
typedef struct l1k_span {
  size_t begin, end;
} l1k_span;

typedef struct l1k_chat_rendered {
  char *text;
  size_t len;
  /* For each assistant message (in order): the range of its content as rendered plus its
   * end-of-turn marker (e.g. "...<|im_end|>"), the part a trainer puts the loss on. */
  l1k_span *assistant;
  size_t n_assistant;
} l1k_chat_rendered;

/* "qwen2.5" | "qwen3" | "llama3" -> template; unknown name: error listing the built-in ones. */
int l1k_chat_template_by_name(const char *name, l1k_template *out, l1k_err *err);
/* Detects the template from tokenizer_config.json's chat_template (path to the file or to a
 * model/tokenizer directory). Unknown template: error naming the built-in ones. */
int l1k_chat_template_detect(const char *path, l1k_template *out, l1k_err *err);
const char *l1k_chat_template_name(l1k_template t);

/* Messages from a JSON array of {"role": ..., "content": ..., ["reasoning_content": ...]}
 * objects (the "messages" field of a record). The strings point into the cJSON tree, which
 * must outlive *msgs; free *msgs with free(). where names the record in errors, e.g.
 * "data.jsonl:12: field 'messages'". */
struct cJSON;
int l1k_chat_msgs_from_json(const struct cJSON *messages, l1k_chat_msg **msgs, size_t *n,
                            const char *where, l1k_err *err);

int l1k_chat_render(l1k_template t, const l1k_chat_msg *msgs, size_t n, const l1k_chat_opts *opts,
                    l1k_chat_rendered *out, l1k_err *err);
void l1k_chat_rendered_free(l1k_chat_rendered *r);

/* Renders and tokenizes; mask[i] = 1 for tokens that fall in an assistant span (the loss
 * tokens), else 0. *mask is malloc'ed, one byte per id appended to ids.
 * The ids are exactly the encoding of the whole rendered text (encoded once); a token is
 * marked when any of its bytes lies in an assistant span. The spans start after the header
 * ("<|im_start|>assistant\n") and end with the end-of-turn token, so the end-of-turn token
 * is marked and the header, the following "\n" and the next turn are not. (A token that
 * straddles the start of a span, such as "\n\n" when the content begins with "\n", is
 * marked.) */
int l1k_chat_encode(const l1k_tokenizer *tok, l1k_template t, const l1k_chat_msg *msgs, size_t n,
                    const l1k_chat_opts *opts, l1k_ids *ids, uint8_t **mask, l1k_err *err);

#endif
