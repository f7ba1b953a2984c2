/* long1k — chat templates: any Hugging Face chat template (a Jinja2 text), rendered exactly as
 * transformers' apply_chat_template(tokenize=False) renders it, plus the byte spans of the
 * assistant turns for loss masks.
 *
 * A template comes from a model/tokenizer directory (tokenizer_config.json's chat_template, or
 * chat_template.jinja beside it), from a name (the built-in texts of data/chat_templates/ and
 * LLaMA-Factory's template names), or from a text. Contract used by train, synth and eval.
 * Owned by the tokenizer module (src/text/); the interpreter is src/text/jinja*.c and the
 * supported Jinja subset is in docs/tokenizer.md.
 */
#ifndef LONG1K_CHAT_H
#define LONG1K_CHAT_H

#include <stddef.h>
#include <stdint.h>
#include "long1k/error.h"
#include "long1k/tokenizer.h"

/* A parsed chat template with its bos_token / eos_token. NULL (L1K_TMPL_NONE) = none chosen.
 * Free with l1k_chat_template_free. Rendering does not change it: one template may be used
 * from several threads at once. */
typedef struct l1k_chat_template *l1k_template;
#define L1K_TMPL_NONE ((l1k_template)0)

typedef struct l1k_chat_msg {
  const char *role;    /* "system", "user", "assistant", "tool", ... (the template decides) */
  const char *content; /* UTF-8 */
  /* optional: the assistant's reasoning given apart from its content (message.reasoning_content
   * in the template, also given as message.thinking as transformers does); NULL = not given.
   * Refused by templates that never read it. Zero-initialize the struct (or use designated
   * initializers) so that it is NULL when not used. */
  const char *reasoning_content;
} l1k_chat_msg;

struct cJSON;
typedef struct l1k_chat_opts {
  int add_generation_prompt;
  int enable_thinking; /* 1 or 0: the template variable enable_thinking; -1 = not given */
  /* optional: a JSON object of more template variables (date_string, custom_instructions,
   * ...), as extra keyword arguments of apply_chat_template; NULL = none */
  const struct cJSON *vars;
} l1k_chat_opts;

/* A byte range of the rendered text. */
typedef struct l1k_span {
  size_t begin, end;
} l1k_span;

typedef struct l1k_chat_rendered {
  char *text;
  size_t len;
  /* For each assistant message (in order): the range of its turn as rendered plus its
   * end-of-turn marker (e.g. "...<|im_end|>"), the part a trainer puts the loss on. From the
   * template's {% generation %} blocks when it has them, else derived by rendering prefixes
   * (docs/tokenizer.md, "Loss masks"). */
  l1k_span *assistant;
  size_t n_assistant;
} l1k_chat_rendered;

/* A built-in template or one of LLaMA-Factory's template names (qwen, qwen2.5, qwen3,
 * qwen3_nothink, llama3, deepseekr1, mistral, phi4, gemma3, smollm2, chatml, default, ...),
 * or a path ending in .jinja (read as l1k_chat_template_detect reads it).
 * Unknown name: error listing the known ones. bos_token/eos_token are the model family's. */
int l1k_chat_template_by_name(const char *name, l1k_template *out, l1k_err *err);
/* The same, for a model whose tokenizer is at tok_path (a directory or its tokenizer.json;
 * may be NULL): its tokenizer_config.json's bos_token/eos_token replace the family's, and
 * when the directory has its own chat template that differs, one warning line says so. */
int l1k_chat_template_named(const char *name, const char *tok_path, l1k_template *out,
                            l1k_err *err);
/* Loads the template of a model/tokenizer directory (or of a tokenizer_config.json or a
 * tokenizer.json path): chat_template.jinja beside it (transformers 5; it takes priority, as in
 * transformers), else tokenizer_config.json's chat_template (a string, or the list of
 * {name, template} with "default" picked).
 * Errors name the file; a template that does not parse names its line and column. */
int l1k_chat_template_detect(const char *path, l1k_template *out, l1k_err *err);
/* A template from its text; name is used in messages; bos/eos may be NULL (undefined). */
int l1k_chat_template_from_text(const char *text, size_t len, const char *name, const char *bos,
                                const char *eos, l1k_template *out, l1k_err *err);
void l1k_chat_template_free(l1k_template t);
/* The name given (built-in name, or the file it was read from); "none" for NULL. */
const char *l1k_chat_template_name(l1k_template t);
/* 1 if the template's text mentions the variable (e.g. "enable_thinking"). */
int l1k_chat_template_uses(l1k_template t, const char *var);
/* A hash of the template's text and tokens (for caches keyed on the rendering). */
uint64_t l1k_chat_template_hash(l1k_template t);
/* The known names, ", "-separated. */
const char *l1k_chat_template_known(void);

/* Messages from a JSON array of {"role": ..., "content": ..., ["reasoning_content": ...]}
 * objects (the "messages" field of a record). The strings point into the cJSON tree, which
 * must outlive *msgs; free *msgs with free(). where names the record in errors, e.g.
 * "data.jsonl:12: field 'messages'". */
int l1k_chat_msgs_from_json(const struct cJSON *messages, l1k_chat_msg **msgs, size_t *n,
                            const char *where, l1k_err *err);

int l1k_chat_render(l1k_template t, const l1k_chat_msg *msgs, size_t n, const l1k_chat_opts *opts,
                    l1k_chat_rendered *out, l1k_err *err);
void l1k_chat_rendered_free(l1k_chat_rendered *r);

/* Renders and tokenizes; mask[i] = 1 for tokens that fall in an assistant span (the loss
 * tokens), else 0. *mask is malloc'ed, one byte per id appended to ids.
 * The ids are exactly the encoding of the whole rendered text (encoded once); a token is
 * marked when any of its bytes lies in an assistant span. The spans start after the
 * assistant header (e.g. "<|im_start|>assistant\n") and end with the end-of-turn marker, so
 * the end-of-turn token is marked and the header, the following "\n" and the next turn are
 * not. (A token that straddles the start of a span, such as "\n\n" when the content begins
 * with "\n", is marked.) */
int l1k_chat_encode(const l1k_tokenizer *tok, l1k_template t, const l1k_chat_msg *msgs, size_t n,
                    const l1k_chat_opts *opts, l1k_ids *ids, uint8_t **mask, l1k_err *err);

#endif
