/* long1k — evaluation problems (JSONL, multiple choice shuffled with a fixed seed) and prompt
 * templates (see long1k/eval.h). */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "long1k/eval.h"
#include "long1k/io.h"
#include "long1k/jsonl.h"
#include "long1k/rng.h"

#define MAX_CHOICES 5 /* A..E: what the grader's multiple-choice extraction reads */

void l1k_eval_data_opts_default(l1k_eval_data_opts *o) {
  memset(o, 0, sizeof *o);
  o->problem_field = "problem";
  o->answer_field = "answer";
  o->id_field = "id";
}

void l1k_eval_problems_free(l1k_eval_problem *p, size_t n) {
  if (!p) return;
  for (size_t i = 0; i < n; i++) {
    free(p[i].id);
    free(p[i].problem);
    free(p[i].answer);
    free(p[i].choices);
  }
  free(p);
}

/* A JSON scalar as text: strings as they are, numbers in their shortest exact form (27.0 ->
 * "27"), booleans as true/false. NULL for anything else. */
static char *scalar_text(const cJSON *v, l1k_err *err) {
  char tmp[64];
  if (cJSON_IsString(v)) return l1k_strdup(v->valuestring, err);
  if (cJSON_IsNumber(v)) {
    double d = v->valuedouble;
    if (isfinite(d) && d == floor(d) && fabs(d) < 1e15)
      snprintf(tmp, sizeof tmp, "%.0f", d);
    else {
      snprintf(tmp, sizeof tmp, "%.15g", d);
      if (strtod(tmp, NULL) != d) snprintf(tmp, sizeof tmp, "%.17g", d);
    }
    return l1k_strdup(tmp, err);
  }
  if (cJSON_IsBool(v)) return l1k_strdup(cJSON_IsTrue(v) ? "true" : "false", err);
  return NULL;
}

static char *trimmed(const char *s, l1k_err *err) {
  while (*s && isspace((unsigned char)*s)) s++;
  size_t n = strlen(s);
  while (n > 0 && isspace((unsigned char)s[n - 1])) n--;
  char *r = l1k_malloc(n + 1, err);
  if (!r) return NULL;
  memcpy(r, s, n);
  r[n] = 0;
  return r;
}

/* "A) text\nB) text" */
static char *format_choices(char **opts, int k, l1k_err *err) {
  l1k_buf b = {0};
  for (int i = 0; i < k; i++)
    if (l1k_buf_printf(&b, "%s%c) %s", i ? "\n" : "", 'A' + i, opts[i])) {
      l1k_buf_free(&b);
      l1k_errf(err, L1K_ENOMEM, "out of memory");
      return NULL;
    }
  return b.data;
}

/* GPQA style: the correct text and the wrong texts in separate fields, shuffled. */
static int load_mc_split(const cJSON *rec, const l1k_eval_data_opts *o, const char *where,
                         l1k_eval_problem *p, l1k_err *err) {
  char *opts[MAX_CHOICES + 1] = {0};
  int k = 0, rc = 0;
  const char *t = l1k_json_get_string(rec, o->correct_field, where, err);
  if (!t) return L1K_EINPUT;
  if (!(opts[k++] = trimmed(t, err))) return L1K_ENOMEM;
  const char *f = o->incorrect_fields;
  while (*f) {
    const char *e = strchr(f, ',');
    size_t n = e ? (size_t)(e - f) : strlen(f);
    char name[256];
    if (n >= sizeof name) n = sizeof name - 1;
    memcpy(name, f, n);
    name[n] = 0;
    f += n + (e ? 1 : 0);
    if (!name[0]) continue;
    if (k == MAX_CHOICES) {
      rc = l1k_errf(err, L1K_EINPUT, "%s: more than %d options (the grader reads A-%c)", where,
                    MAX_CHOICES, 'A' + MAX_CHOICES - 1);
      goto out;
    }
    const char *w = l1k_json_get_string(rec, name, where, err);
    if (!w) {
      rc = L1K_EINPUT;
      goto out;
    }
    if (!(opts[k++] = trimmed(w, err))) {
      rc = L1K_ENOMEM;
      goto out;
    }
  }
  if (k < 2) {
    rc = l1k_errf(err, L1K_EINPUT, "%s: multiple choice needs at least one wrong option (--incorrect-fields)", where);
    goto out;
  }
  /* Fisher-Yates with a generator seeded by (seed, id): the same order on every run and
   * whatever the order of the file. */
  uint64_t s = l1k_fnv1a64(p->id, strlen(p->id), o->shuffle_seed ^ 0x6C6F6E67316Bull);
  int correct_at = 0;
  for (int i = k - 1; i > 0; i--) {
    int j = (int)(l1k_splitmix64(&s) % (uint64_t)(i + 1));
    char *tmp = opts[i];
    opts[i] = opts[j];
    opts[j] = tmp;
    if (correct_at == i)
      correct_at = j;
    else if (correct_at == j)
      correct_at = i;
  }
  p->n_choices = k;
  p->choices = format_choices(opts, k, err);
  char letter[2] = {(char)('A' + correct_at), 0};
  p->answer = l1k_strdup(letter, err);
  if (!p->choices || !p->answer) rc = L1K_ENOMEM;
out:
  for (int i = 0; i < k; i++) free(opts[i]);
  return rc;
}

/* An array of options with the answer as a letter, a 0-based index or the option's text. */
static int load_mc_array(const cJSON *rec, const l1k_eval_data_opts *o, const char *where,
                         l1k_eval_problem *p, l1k_err *err) {
  const cJSON *arr = cJSON_GetObjectItemCaseSensitive(rec, o->choices_field);
  if (!cJSON_IsArray(arr))
    return l1k_errf(err, L1K_EINPUT, "%s: field '%s': expected an array of options", where,
                    o->choices_field);
  int k = cJSON_GetArraySize(arr);
  if (k < 2 || k > MAX_CHOICES)
    return l1k_errf(err, L1K_EINPUT, "%s: field '%s': expected 2 to %d options, got %d", where,
                    o->choices_field, MAX_CHOICES, k);
  char *opts[MAX_CHOICES] = {0};
  int rc = 0;
  for (int i = 0; i < k; i++) {
    const cJSON *v = cJSON_GetArrayItem(arr, i);
    char *t = scalar_text(v, err);
    if (!t) {
      rc = l1k_errf(err, L1K_EINPUT, "%s: field '%s'[%d]: expected a string", where,
                    o->choices_field, i);
      goto out;
    }
    opts[i] = trimmed(t, err);
    free(t);
    if (!opts[i]) {
      rc = L1K_ENOMEM;
      goto out;
    }
  }
  const cJSON *a = cJSON_GetObjectItemCaseSensitive(rec, o->answer_field);
  int at = -1;
  if (cJSON_IsNumber(a) && a->valuedouble == floor(a->valuedouble))
    at = (int)a->valuedouble;
  else if (cJSON_IsString(a)) {
    const char *s = a->valuestring;
    while (*s == ' ' || *s == '(') s++;
    char c = (char)toupper((unsigned char)*s);
    size_t rest = strlen(s);
    if (c >= 'A' && c < 'A' + k && (rest == 1 || (rest == 2 && s[1] == ')'))) at = c - 'A';
    for (int i = 0; at < 0 && i < k; i++) {
      char *t = trimmed(a->valuestring, err);
      if (t && !strcmp(t, opts[i])) at = i;
      free(t);
    }
  }
  if (at < 0 || at >= k) {
    rc = l1k_errf(err, L1K_EINPUT,
                  "%s: field '%s': expected the correct option as a letter A-%c, a 0-based "
                  "index or the option's text",
                  where, o->answer_field, 'A' + k - 1);
    goto out;
  }
  p->n_choices = k;
  p->choices = format_choices(opts, k, err);
  char letter[2] = {(char)('A' + at), 0};
  p->answer = l1k_strdup(letter, err);
  if (!p->choices || !p->answer) rc = L1K_ENOMEM;
out:
  for (int i = 0; i < k; i++) free(opts[i]);
  return rc;
}

int l1k_eval_load(const char *path, const l1k_eval_data_opts *o, l1k_eval_problem **out,
                  size_t *n_out, l1k_err *err) {
  *out = NULL;
  *n_out = 0;
  l1k_jsonl *r = l1k_jsonl_open(path, err);
  if (!r) return err ? err->code : L1K_EIO;
  l1k_eval_problem *ps = NULL;
  size_t n = 0, cap = 0;
  int rc = 0;
  cJSON *rec;
  int got = 0;
  while ((o->limit <= 0 || (long)n < o->limit) && (got = l1k_jsonl_next(r, &rec, err)) == 1) {
    char where[512];
    snprintf(where, sizeof where, "%s:%lld", path, (long long)l1k_jsonl_line_no(r));
    if (n == cap) {
      size_t nc = cap ? 2 * cap : 64;
      l1k_eval_problem *np = l1k_realloc(ps, nc * sizeof *np, err);
      if (!np) {
        cJSON_Delete(rec);
        rc = L1K_ENOMEM;
        goto fail;
      }
      ps = np;
      cap = nc;
    }
    l1k_eval_problem *p = &ps[n++];
    memset(p, 0, sizeof *p);
    if (!cJSON_IsObject(rec)) {
      cJSON_Delete(rec);
      rc = l1k_errf(err, L1K_EINPUT, "%s: expected a JSON object", where);
      goto fail;
    }
    /* id */
    const cJSON *idv = cJSON_GetObjectItemCaseSensitive(rec, o->id_field);
    if (!idv && !strcmp(o->id_field, "id")) idv = cJSON_GetObjectItemCaseSensitive(rec, "unique_id");
    p->id = idv ? scalar_text(idv, err) : NULL;
    if (!p->id) {
      char tmp[32];
      snprintf(tmp, sizeof tmp, "%zu", n - 1);
      p->id = l1k_strdup(tmp, err);
    }
    /* problem */
    const cJSON *pv = cJSON_GetObjectItemCaseSensitive(rec, o->problem_field);
    if (!pv && !strcmp(o->problem_field, "problem")) {
      pv = cJSON_GetObjectItemCaseSensitive(rec, "question");
      if (!pv) pv = cJSON_GetObjectItemCaseSensitive(rec, "Question");
    }
    if (!cJSON_IsString(pv)) {
      rc = l1k_errf(err, L1K_EINPUT, "%s: field '%s': expected a string (set --problem-field)",
                    where, o->problem_field);
      cJSON_Delete(rec);
      goto fail;
    }
    p->problem = l1k_strdup(pv->valuestring, err);
    if (!p->id || !p->problem) {
      cJSON_Delete(rec);
      rc = L1K_ENOMEM;
      goto fail;
    }
    /* answer */
    if (o->correct_field && *o->correct_field)
      rc = load_mc_split(rec, o, where, p, err);
    else if (o->choices_field && *o->choices_field)
      rc = load_mc_array(rec, o, where, p, err);
    else {
      const cJSON *av = cJSON_GetObjectItemCaseSensitive(rec, o->answer_field);
      p->answer = av ? scalar_text(av, err) : NULL;
      if (!p->answer && av && (cJSON_IsString(av) || cJSON_IsNumber(av) || cJSON_IsBool(av)))
        rc = L1K_ENOMEM; /* scalar_text said so in err */
      else if (!p->answer)
        rc = l1k_errf(err, L1K_EINPUT,
                      "%s: field '%s': expected a string or number (set --answer-field)", where,
                      o->answer_field);
    }
    cJSON_Delete(rec);
    if (rc) goto fail;
  }
  if (o->limit <= 0 || (long)n < o->limit) {
    if (got < 0) {
      rc = err ? err->code : L1K_EINPUT;
      goto fail;
    }
  }
  l1k_jsonl_close(r);
  if (n == 0) {
    l1k_eval_problems_free(ps, 0);
    return l1k_errf(err, L1K_EINPUT, "%s: no problems in the file", path);
  }
  /* ids must be unique: results are matched back to problems by index and id */
  for (size_t i = 0; i < n; i++)
    for (size_t j = i + 1; j < n && n <= 20000; j++)
      if (!strcmp(ps[i].id, ps[j].id)) {
        rc = l1k_errf(err, L1K_EINPUT, "%s: id '%s' appears twice (records %zu and %zu; set --id-field)",
                      path, ps[i].id, i + 1, j + 1);
        l1k_eval_problems_free(ps, n);
        return rc;
      }
  *out = ps;
  *n_out = n;
  return 0;
fail:
  l1k_jsonl_close(r);
  l1k_eval_problems_free(ps, n);
  return rc ? rc : L1K_EINPUT;
}

/* --------------------------------------------------------------------------------------- */

#define BOXED_SENTENCE "Please reason step by step, and put your final answer within \\boxed{}."

static const struct {
  const char *name, *system, *user;
} builtin[] = {
    {"boxed", BOXED_SENTENCE, "{problem}"},
    {"boxed-user", NULL, "{problem}\n" BOXED_SENTENCE},
    {"long1k",
     "You are a careful reasoning assistant. Before you answer, think the problem through at "
     "length: explore approaches, check every step, notice and correct your mistakes, and "
     "verify the result. Then state the solution clearly and put your final answer within "
     "\\boxed{}.",
     "{problem}"},
    {"mc", NULL,
     "Answer the following multiple-choice question. Think step by step, then give the letter "
     "of the correct option within \\boxed{} (for example \\boxed{A}).\n\n{problem}\n\n{choices}"},
    {"plain", NULL, "{problem}"},
};

const char *const *l1k_prompt_template_names(void) {
  static const char *names[] = {"boxed", "boxed-user", "long1k", "mc", "plain", NULL};
  return names;
}

void l1k_prompt_template_free(l1k_prompt_template *t) {
  free(t->system);
  free(t->user);
  t->system = t->user = NULL;
}

int l1k_prompt_template_load(const char *spec, l1k_prompt_template *t, l1k_err *err) {
  memset(t, 0, sizeof *t);
  for (size_t i = 0; i < sizeof builtin / sizeof *builtin; i++)
    if (!strcmp(spec, builtin[i].name)) {
      snprintf(t->name, sizeof t->name, "%s", spec);
      if (builtin[i].system && !(t->system = l1k_strdup(builtin[i].system, err))) return L1K_ENOMEM;
      if (!(t->user = l1k_strdup(builtin[i].user, err))) return L1K_ENOMEM;
      return 0;
    }
  if (!l1k_file_exists(spec))
    return l1k_errf(err, L1K_EINPUT,
                    "--prompt-template '%s': not a built-in template (boxed, boxed-user, long1k, "
                    "mc, plain) nor a file",
                    spec);
  size_t len;
  char *text = l1k_read_file(spec, &len, err);
  if (!text) return err ? err->code : L1K_EIO;
  const char *base = strrchr(spec, '/');
  snprintf(t->name, sizeof t->name, "file:%s", base ? base + 1 : spec);
  size_t off = 0;
  while (off < len && isspace((unsigned char)text[off])) off++;
  if (text[off] == '{' && len > 5 && strstr(spec, ".json")) {
    cJSON *j = cJSON_ParseWithLength(text, len);
    if (!j || !cJSON_IsObject(j)) {
      cJSON_Delete(j);
      free(text);
      return l1k_errf(err, L1K_EINPUT, "%s: invalid JSON (expected {\"system\": ..., \"user\": ...})", spec);
    }
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(j, "system");
    const cJSON *u = cJSON_GetObjectItemCaseSensitive(j, "user");
    int rc = 0;
    if (s && !cJSON_IsString(s) && !cJSON_IsNull(s))
      rc = l1k_errf(err, L1K_EINPUT, "%s: field 'system': expected a string", spec);
    else if (!cJSON_IsString(u))
      rc = l1k_errf(err, L1K_EINPUT, "%s: field 'user': expected a string with {problem}", spec);
    else {
      if (cJSON_IsString(s) && s->valuestring[0]) t->system = l1k_strdup(s->valuestring, err);
      t->user = l1k_strdup(u->valuestring, err);
      if (!t->user) rc = L1K_ENOMEM;
    }
    cJSON_Delete(j);
    free(text);
    if (rc) {
      l1k_prompt_template_free(t);
      return rc;
    }
  } else {
    t->user = text;
  }
  if (!strstr(t->user, "{problem}")) {
    l1k_prompt_template_free(t);
    return l1k_errf(err, L1K_EINPUT, "%s: the user prompt has no {problem} placeholder", spec);
  }
  return 0;
}

char *l1k_prompt_render(const l1k_prompt_template *t, const l1k_eval_problem *p) {
  l1k_buf b = {0};
  const char *s = t->user;
  int had_choices = 0;
  while (*s) {
    if (!strncmp(s, "{problem}", 9)) {
      l1k_buf_puts(&b, p->problem);
      s += 9;
    } else if (!strncmp(s, "{choices}", 9)) {
      if (p->choices) l1k_buf_puts(&b, p->choices);
      had_choices = 1;
      s += 9;
    } else {
      const char *e = s + 1;
      while (*e && *e != '{') e++;
      l1k_buf_append(&b, s, (size_t)(e - s));
      s = e;
    }
  }
  if (p->choices && !had_choices) {
    l1k_buf_puts(&b, "\n\n");
    l1k_buf_puts(&b, p->choices);
  }
  l1k_buf_append(&b, "", 0);
  return b.data;
}
