/* long1k synth — declarations shared by the files of src/synth (not a public header). */
#ifndef LONG1K_SYNTH_INTERNAL_H
#define LONG1K_SYNTH_INTERNAL_H

#include "long1k/jsonl.h"
#include "long1k/synth.h"

typedef struct l1k_synth_vars {
  int k, i;
  const char *answer, *problem;
} l1k_synth_vars;

/* Appends tpl with placeholders filled ({k} {i} {prev} {ordinal} {prev_ordinal} {answer}
 * {problem}); unknown {...} are copied literally. */
int l1k_synth_fill(l1k_buf *b, const char *tpl, const l1k_synth_vars *v);

/* l1k_synth_parse; with lengths_only the reasoning text is not copied (r->reasoning stays NULL,
 * r->reasoning_len is set): the first pass over a pool needs only its length. */
int l1k_synth_parse_ex(const cJSON *rec, l1k_synth_schema schema, const l1k_synth_fields *fields,
                       const char *where, l1k_synth_record *out, int lengths_only, l1k_err *err);

#endif
