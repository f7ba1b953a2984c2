/* long1k — the built-in chat templates (src/text/chat_builtin.c, generated from
 * data/chat_templates/NAME.jinja by scripts/embed_chat_templates.py). */
#ifndef LONG1K_TEXT_CHAT_BUILTIN_H
#define LONG1K_TEXT_CHAT_BUILTIN_H

#include <stddef.h>

typedef struct l1k_builtin_template {
  const char *name;
  const char *file; /* the source file, relative to the repository root */
  const char *text;
  size_t len;
  const char *bos_token, *eos_token; /* the family's; NULL = undefined */
  const char *aliases;               /* other names, ", "-separated */
} l1k_builtin_template;

extern const l1k_builtin_template L1K_BUILTIN_TEMPLATES[];
extern const size_t L1K_N_BUILTIN_TEMPLATES;

#endif
