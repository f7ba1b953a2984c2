/* long1k synth — prompt/response templates: built-in defaults, JSON file, placeholder fill. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "long1k/io.h"
#include "long1k/jsonl.h"
#include "long1k/synth.h"
#include "synth/synth_internal.h"

static const char *default_links[] = {
    "Okay, that settles problem {prev}. Now let's move on to problem {i}.",
    "Alright, with problem {prev} done, let me turn to the {ordinal} problem.",
    "Now, on to problem {i}.",
    "That finishes the {prev_ordinal} problem. Next, problem {i}.",
    "Good, that takes care of problem {prev}. Let me now work through problem {i}.",
    "So much for problem {prev}. Moving on to the {ordinal} problem, problem {i}.",
    "With that answer in hand, let me look at problem {i}.",
    "Let me now switch to problem {i} and think it through from the start.",
    "Problem {prev} is done. Turning to the {ordinal} one now.",
    "Next up is problem {i}. Let me read it carefully.",
};

typedef struct {
  const char *key;
  size_t off;
  const char *def;
} tpl_field;

#define F(name, def) {#name, offsetof(l1k_synth_template, name), def}
static const tpl_field fields[] = {
    F(prompt_intro, "Solve the following {k} problems. Work through them in order, and give "
                    "the final answer to each one in \\boxed{}."),
    F(problem_label, "Problem {i}: "),
    F(prompt_outro, ""),
    F(single_prompt, "{problem}\n\nPlease reason step by step, and put your final answer "
                     "within \\boxed{}."),
    F(first_link, "Let me start with problem 1."),
    F(solution_label, "**Problem {i}.**\n\n"),
    F(final_answer, "The final answer to problem {i} is $\\boxed{{answer}}$."),
    F(single_final_answer, "The final answer is $\\boxed{{answer}}$."),
};
#undef F
#define NFIELDS (sizeof fields / sizeof fields[0])

static char **slot(l1k_synth_template *t, size_t i) { return (char **)((char *)t + fields[i].off); }

int l1k_synth_template_default(l1k_synth_template *t, l1k_err *err) {
  memset(t, 0, sizeof *t);
  for (size_t i = 0; i < NFIELDS; i++) {
    *slot(t, i) = l1k_strdup(fields[i].def, err);
    if (!*slot(t, i)) goto oom;
  }
  size_t nl = sizeof default_links / sizeof default_links[0];
  t->links = l1k_calloc(nl, sizeof(char *), err);
  if (!t->links) goto oom;
  t->n_links = nl; /* only now: the free walks links[0, n_links) */
  for (size_t i = 0; i < t->n_links; i++) {
    t->links[i] = l1k_strdup(default_links[i], err);
    if (!t->links[i]) goto oom;
  }
  return 0;
oom:
  l1k_synth_template_free(t);
  return L1K_ENOMEM;
}

void l1k_synth_template_free(l1k_synth_template *t) {
  for (size_t i = 0; i < NFIELDS; i++) free(*slot(t, i));
  for (size_t i = 0; i < t->n_links; i++) free(t->links[i]);
  free(t->links);
  memset(t, 0, sizeof *t);
}

int l1k_synth_template_load(l1k_synth_template *t, const char *path, l1k_err *err) {
  int rc = l1k_synth_template_default(t, err);
  if (rc) return rc;
  char *text = l1k_read_file(path, NULL, err);
  if (!text) {
    l1k_synth_template_free(t);
    if (err && err->code == L1K_EIO) err->code = L1K_EINPUT;
    return err ? err->code : L1K_EINPUT;
  }
  cJSON *j = cJSON_Parse(text);
  free(text);
  if (!cJSON_IsObject(j)) {
    cJSON_Delete(j);
    l1k_synth_template_free(t);
    return l1k_errf(err, L1K_EINPUT, "%s: expected a JSON object with template keys "
                    "(prompt_intro, problem_label, links, ...)", path);
  }
  const cJSON *it;
  cJSON_ArrayForEach(it, j) {
    const char *k = it->string;
    if (!strcmp(k, "links")) {
      int n = cJSON_GetArraySize(it);
      if (!cJSON_IsArray(it) || n == 0) {
        rc = l1k_errf(err, L1K_EINPUT, "%s: key 'links': expected a non-empty array of strings", path);
        goto fail;
      }
      for (size_t i = 0; i < t->n_links; i++) free(t->links[i]);
      free(t->links);
      t->links = l1k_calloc((size_t)n, sizeof(char *), NULL);
      t->n_links = 0;
      if (!t->links) {
        rc = l1k_errf(err, L1K_ENOMEM, "out of memory");
        goto fail;
      }
      const cJSON *s;
      cJSON_ArrayForEach(s, it) {
        if (!cJSON_IsString(s)) {
          rc = l1k_errf(err, L1K_EINPUT, "%s: key 'links'[%zu]: expected a string", path, t->n_links);
          goto fail;
        }
        t->links[t->n_links] = l1k_strdup(s->valuestring, NULL);
        if (!t->links[t->n_links]) {
          rc = l1k_errf(err, L1K_ENOMEM, "out of memory");
          goto fail;
        }
        t->n_links++;
      }
      continue;
    }
    size_t f = 0;
    while (f < NFIELDS && strcmp(fields[f].key, k)) f++;
    if (f == NFIELDS) {
      rc = l1k_errf(err, L1K_EINPUT, "%s: unknown template key '%s' (expected prompt_intro, "
                    "problem_label, prompt_outro, single_prompt, first_link, links, "
                    "solution_label, final_answer, single_final_answer)", path, k);
      goto fail;
    }
    if (!cJSON_IsString(it)) {
      rc = l1k_errf(err, L1K_EINPUT, "%s: key '%s': expected a string", path, k);
      goto fail;
    }
    char *v = l1k_strdup(it->valuestring, NULL);
    if (!v) {
      rc = l1k_errf(err, L1K_ENOMEM, "out of memory");
      goto fail;
    }
    free(*slot(t, f));
    *slot(t, f) = v;
  }
  cJSON_Delete(j);
  return 0;
fail:
  cJSON_Delete(j);
  l1k_synth_template_free(t);
  return rc;
}

static const char *ordinals[] = {"zeroth", "first", "second", "third", "fourth", "fifth",
                                 "sixth", "seventh", "eighth", "ninth", "tenth", "eleventh",
                                 "twelfth"};

static void put_ordinal(l1k_buf *b, int i) {
  if (i >= 0 && i <= 12) {
    l1k_buf_puts(b, ordinals[i]);
    return;
  }
  const char *suf = "th";
  if (i % 100 < 11 || i % 100 > 13) {
    if (i % 10 == 1) suf = "st";
    else if (i % 10 == 2) suf = "nd";
    else if (i % 10 == 3) suf = "rd";
  }
  l1k_buf_printf(b, "%d%s", i, suf);
}

int l1k_synth_fill(l1k_buf *b, const char *tpl, const l1k_synth_vars *v) {
  const char *p = tpl;
  while (*p) {
    const char *o = strchr(p, '{');
    if (!o) {
      if (l1k_buf_puts(b, p)) return L1K_ENOMEM;
      break;
    }
    if (l1k_buf_append(b, p, (size_t)(o - p))) return L1K_ENOMEM;
    const char *c = strchr(o, '}');
    size_t kn = c ? (size_t)(c - o - 1) : 0;
    const char *k = o + 1;
#define IS(name) (kn == strlen(name) && !strncmp(k, name, kn))
    if (c && IS("k")) l1k_buf_printf(b, "%d", v->k);
    else if (c && IS("i")) l1k_buf_printf(b, "%d", v->i);
    else if (c && IS("prev")) l1k_buf_printf(b, "%d", v->i - 1);
    else if (c && IS("ordinal")) put_ordinal(b, v->i);
    else if (c && IS("prev_ordinal")) put_ordinal(b, v->i - 1);
    else if (c && IS("answer")) l1k_buf_puts(b, v->answer ? v->answer : "");
    else if (c && IS("problem")) l1k_buf_puts(b, v->problem ? v->problem : "");
    else {
      if (l1k_buf_append(b, "{", 1)) return L1K_ENOMEM;
      p = o + 1;
      continue;
    }
#undef IS
    p = c + 1;
  }
  return l1k_buf_append(b, NULL, 0);
}
