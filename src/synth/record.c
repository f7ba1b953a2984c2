/* long1k synth — pool records: schemas, field mapping, final-answer extraction. */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "long1k/synth.h"
#include "synth/synth_internal.h"

static const char *schema_names[] = {"auto", "openthoughts", "openthoughts-metadata", "s1k",
                                     "fields"};
static const char *field_names[L1K_SF_COUNT] = {"problem", "reasoning", "solution", "answer",
                                                "difficulty", "domain", "id"};

const char *l1k_synth_schema_name(l1k_synth_schema s) {
  return (s >= 0 && s <= L1K_SCHEMA_FIELDS) ? schema_names[s] : "?";
}

int l1k_synth_schema_parse(const char *name) {
  for (int i = 0; i <= L1K_SCHEMA_FIELDS; i++)
    if (!strcmp(name, schema_names[i])) return i;
  if (!strcmp(name, "s1k-1.1") || !strcmp(name, "s1")) return L1K_SCHEMA_S1K;
  if (!strcmp(name, "openthoughts-default")) return L1K_SCHEMA_OPENTHOUGHTS;
  return -1;
}

const char *l1k_synth_field_name(int f) {
  return (f >= 0 && f < L1K_SF_COUNT) ? field_names[f] : "?";
}

void l1k_synth_fields_free(l1k_synth_fields *f) {
  for (int i = 0; i < L1K_SF_COUNT; i++) {
    free(f->path[i]);
    f->path[i] = NULL;
  }
}

int l1k_synth_fields_parse(l1k_synth_fields *f, const char *spec, l1k_err *err) {
  const char *p = spec;
  while (*p) {
    const char *end = strchr(p, ',');
    size_t n = end ? (size_t)(end - p) : strlen(p);
    const char *eq = memchr(p, '=', n);
    if (!eq || eq == p || eq == p + n - 1)
      return l1k_errf(err, L1K_EINPUT, "--field '%.*s': expected NAME=JSON_FIELD (names: problem, "
                      "reasoning, solution, answer, difficulty, domain, id)", (int)n, p);
    size_t kn = (size_t)(eq - p);
    int which = -1;
    for (int i = 0; i < L1K_SF_COUNT; i++)
      if (strlen(field_names[i]) == kn && !strncmp(field_names[i], p, kn)) which = i;
    if (which < 0)
      return l1k_errf(err, L1K_EINPUT, "--field: unknown name '%.*s' (expected one of problem, "
                      "reasoning, solution, answer, difficulty, domain, id)", (int)kn, p);
    size_t vn = n - kn - 1;
    char *v = l1k_malloc(vn + 1, NULL);
    if (!v) return l1k_errf(err, L1K_ENOMEM, "out of memory");
    memcpy(v, eq + 1, vn);
    v[vn] = 0;
    free(f->path[which]);
    f->path[which] = v;
    p += n;
    if (*p == ',') p++;
  }
  return 0;
}

void l1k_synth_record_free(l1k_synth_record *r) {
  free(r->problem);
  free(r->reasoning);
  free(r->solution);
  free(r->answer);
  free(r->domain);
  free(r->id);
  memset(r, 0, sizeof *r);
  r->difficulty = NAN;
}

l1k_synth_schema l1k_synth_detect(const cJSON *rec) {
  if (!cJSON_IsObject(rec)) return L1K_SCHEMA_AUTO;
  if (cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(rec, "conversations")))
    return L1K_SCHEMA_OPENTHOUGHTS;
  if (cJSON_GetObjectItemCaseSensitive(rec, "deepseek_reasoning") &&
      cJSON_GetObjectItemCaseSensitive(rec, "problem"))
    return L1K_SCHEMA_OT_METADATA;
  if (cJSON_GetObjectItemCaseSensitive(rec, "deepseek_thinking_trajectory") &&
      cJSON_GetObjectItemCaseSensitive(rec, "question"))
    return L1K_SCHEMA_S1K;
  return L1K_SCHEMA_AUTO;
}

/* Follows a dotted path; numeric parts index arrays. */
static const cJSON *json_path(const cJSON *obj, const char *path) {
  const cJSON *cur = obj;
  const char *p = path;
  char part[256];
  while (cur && *p) {
    const char *dot = strchr(p, '.');
    size_t n = dot ? (size_t)(dot - p) : strlen(p);
    if (n >= sizeof part) return NULL;
    memcpy(part, p, n);
    part[n] = 0;
    const cJSON *next = NULL;
    if (cJSON_IsObject(cur)) next = cJSON_GetObjectItemCaseSensitive(cur, part);
    if (!next && cJSON_IsArray(cur) && n > 0) {
      int all_digits = 1;
      for (size_t i = 0; i < n; i++) all_digits &= isdigit((unsigned char)part[i]) != 0;
      if (all_digits) next = cJSON_GetArrayItem(cur, atoi(part));
    }
    cur = next;
    p += n;
    if (*p == '.') p++;
  }
  return cur;
}

static char *dupn(const char *s, size_t n) {
  char *d = l1k_malloc(n + 1, NULL);
  if (!d) return NULL;
  memcpy(d, s, n);
  d[n] = 0;
  return d;
}

static size_t trimmed_len(const char *s, size_t n) {
  while (n && isspace((unsigned char)*s)) s++, n--;
  while (n && isspace((unsigned char)s[n - 1])) n--;
  return n;
}

/* Copies s without leading/trailing whitespace. */
static char *dup_trim(const char *s, size_t n) {
  while (n && isspace((unsigned char)*s)) s++, n--;
  while (n && isspace((unsigned char)s[n - 1])) n--;
  return dupn(s, n);
}

/* A string field (numbers are accepted for answer/id/domain and printed). req: missing is an
 * error. *out stays NULL when absent/null and not required. */
static int get_str(const cJSON *rec, const char *path, const char *what, int req, int allow_num,
                   const char *where, char **out, l1k_err *err) {
  *out = NULL;
  const cJSON *v = json_path(rec, path);
  if (!v || cJSON_IsNull(v)) {
    if (req)
      return l1k_errf(err, L1K_EINPUT, "%s: missing field '%s' (the %s, expected a string)", where,
                      path, what);
    return 0;
  }
  if (cJSON_IsString(v)) {
    *out = dup_trim(v->valuestring, strlen(v->valuestring));
  } else if (allow_num && cJSON_IsNumber(v)) {
    char b[64];
    double d = v->valuedouble;
    if (d == floor(d) && fabs(d) < 1e15)
      snprintf(b, sizeof b, "%lld", (long long)d);
    else
      snprintf(b, sizeof b, "%.17g", d);
    *out = dupn(b, strlen(b));
  } else {
    return l1k_errf(err, L1K_EINPUT, "%s: field '%s' (the %s): expected a string", where, path,
                    what);
  }
  if (!*out) return l1k_errf(err, L1K_ENOMEM, "out of memory");
  return 0;
}

/* Difficulty: a number, or a string with a number in it ("Level 3", "4/10"). */
static int get_difficulty(const cJSON *rec, const char *path, const char *where, double *out,
                          l1k_err *err) {
  *out = NAN;
  const cJSON *v = json_path(rec, path);
  if (!v || cJSON_IsNull(v)) return 0;
  if (cJSON_IsNumber(v)) {
    *out = v->valuedouble;
    return 0;
  }
  if (cJSON_IsString(v)) {
    const char *s = v->valuestring;
    while (*s && !isdigit((unsigned char)*s) &&
           !((*s == '-' || *s == '.') && isdigit((unsigned char)s[1])))
      s++;
    if (*s) {
      *out = strtod(s, NULL);
      return 0;
    }
  }
  return l1k_errf(err, L1K_EINPUT, "%s: field '%s' (the difficulty): expected a number or a "
                  "string with a number (e.g. \"Level 3\")", where, path);
}

static const char *find_tag(const char *s, size_t n, const char *tag) {
  size_t tn = strlen(tag);
  if (n < tn) return NULL;
  for (const char *p = s; p + tn <= s + n; p++) {
    p = memchr(p, tag[0], (size_t)(s + n - p));
    if (!p || p + tn > s + n) return NULL;
    if (!memcmp(p, tag, tn)) return p;
  }
  return NULL;
}

/* OpenThoughts default: conversations [user, assistant] with thought/solution tags. */
static int parse_openthoughts(const cJSON *rec, const char *where, l1k_synth_record *r,
                              int lengths_only, l1k_err *err) {
  const cJSON *conv = cJSON_GetObjectItemCaseSensitive(rec, "conversations");
  if (!cJSON_IsArray(conv))
    return l1k_errf(err, L1K_EINPUT, "%s: field 'conversations': expected an array of "
                    "{from, value} turns", where);
  const char *user = NULL, *asst = NULL;
  int i = 0;
  const cJSON *turn;
  cJSON_ArrayForEach(turn, conv) {
    const cJSON *from = cJSON_GetObjectItemCaseSensitive(turn, "from");
    const cJSON *val = cJSON_GetObjectItemCaseSensitive(turn, "value");
    if (!cJSON_IsString(from) || !cJSON_IsString(val))
      return l1k_errf(err, L1K_EINPUT, "%s: conversations[%d]: expected {\"from\": string, "
                      "\"value\": string}", where, i);
    const char *f = from->valuestring;
    if (!user && (!strcmp(f, "user") || !strcmp(f, "human"))) user = val->valuestring;
    else if (!asst && (!strcmp(f, "assistant") || !strcmp(f, "gpt"))) asst = val->valuestring;
    i++;
  }
  if (!user) return l1k_errf(err, L1K_EINPUT, "%s: conversations: no turn from 'user'", where);
  if (!asst)
    return l1k_errf(err, L1K_EINPUT, "%s: conversations: no turn from 'assistant'", where);
  size_t n = strlen(asst);
  static const char *bt = "<|begin_of_thought|>", *et = "<|end_of_thought|>",
                    *bs = "<|begin_of_solution|>", *es = "<|end_of_solution|>";
  const char *b1 = find_tag(asst, n, bt);
  const char *e1 = b1 ? find_tag(b1, n - (size_t)(b1 - asst), et) : NULL;
  if (!b1 || !e1)
    return l1k_errf(err, L1K_EINPUT, "%s: conversations: assistant turn has no "
                    "<|begin_of_thought|>...<|end_of_thought|> section", where);
  const char *b2 = find_tag(e1, n - (size_t)(e1 - asst), bs);
  if (!b2)
    return l1k_errf(err, L1K_EINPUT, "%s: conversations: assistant turn has no "
                    "<|begin_of_solution|> section", where);
  const char *s0 = b2 + strlen(bs);
  const char *e2 = find_tag(s0, n - (size_t)(s0 - asst), es);
  size_t sl = e2 ? (size_t)(e2 - s0) : n - (size_t)(s0 - asst);
  /* OpenThoughts-114k's user turns start with this instruction; the composed prompt asks for
   * boxed answers itself, so the problem text is kept without it */
  static const char *ot_prefix = "Return your final response within \\boxed{}.";
  while (isspace((unsigned char)*user)) user++;
  if (!strncmp(user, ot_prefix, strlen(ot_prefix))) user += strlen(ot_prefix);
  r->problem = dup_trim(user, strlen(user));
  const char *rs = b1 + strlen(bt);
  size_t rl = (size_t)(e1 - b1) - strlen(bt);
  r->reasoning_len = trimmed_len(rs, rl);
  if (!lengths_only) r->reasoning = dup_trim(rs, rl);
  r->solution = dup_trim(s0, sl);
  if (!r->problem || (!lengths_only && !r->reasoning) || !r->solution)
    return l1k_errf(err, L1K_ENOMEM, "out of memory");
  return 0;
}

int l1k_synth_last_boxed(const char *s, size_t n, size_t *begin, size_t *len) {
  static const char *kw[] = {"\\boxed", "\\fbox"};
  const char *best = NULL;
  size_t bb = 0, bl = 0;
  for (size_t i = 0; i < n; i++) {
    if (s[i] != '\\') continue;
    for (int k = 0; k < 2; k++) {
      size_t kl = strlen(kw[k]);
      if (i + kl > n || memcmp(s + i, kw[k], kl)) continue;
      size_t j = i + kl;
      while (j < n && (s[j] == ' ')) j++;
      if (j >= n || s[j] != '{') continue;
      size_t start = ++j;
      int depth = 1;
      while (j < n && depth) {
        if (s[j] == '\\' && j + 1 < n) {
          j += 2;
          continue;
        }
        if (s[j] == '{') depth++;
        else if (s[j] == '}') depth--;
        if (depth) j++;
      }
      if (depth) continue; /* unclosed */
      best = s + i;
      bb = start;
      bl = j - start;
    }
  }
  if (!best) return 0;
  /* trim spaces */
  while (bl && isspace((unsigned char)s[bb])) bb++, bl--;
  while (bl && isspace((unsigned char)s[bb + bl - 1])) bl--;
  if (!bl) return 0;
  *begin = bb;
  *len = bl;
  return 1;
}

static char *boxed_of(const char *s) {
  if (!s) return NULL;
  size_t b, l;
  if (!l1k_synth_last_boxed(s, strlen(s), &b, &l)) return NULL;
  return dupn(s + b, l);
}

int l1k_synth_parse(const cJSON *rec, l1k_synth_schema schema, const l1k_synth_fields *fields,
                    const char *where, l1k_synth_record *r, l1k_err *err) {
  return l1k_synth_parse_ex(rec, schema, fields, where, r, 0, err);
}

int l1k_synth_parse_ex(const cJSON *rec, l1k_synth_schema schema, const l1k_synth_fields *fields,
                       const char *where, l1k_synth_record *r, int lengths_only, l1k_err *err) {
  memset(r, 0, sizeof *r);
  r->difficulty = NAN;
  if (!cJSON_IsObject(rec)) {
    return l1k_errf(err, L1K_EINPUT, "%s: expected a JSON object", where);
  }
  const char *path[L1K_SF_COUNT] = {0};
  const char *gt = NULL; /* ground-truth solution: second source of the final answer */
  switch (schema) {
    case L1K_SCHEMA_OT_METADATA:
      path[L1K_SF_PROBLEM] = "problem";
      path[L1K_SF_REASONING] = "deepseek_reasoning";
      path[L1K_SF_SOLUTION] = "deepseek_solution";
      path[L1K_SF_DOMAIN] = "domain";
      gt = "ground_truth_solution";
      break;
    case L1K_SCHEMA_S1K:
      path[L1K_SF_PROBLEM] = "question";
      path[L1K_SF_REASONING] = "deepseek_thinking_trajectory";
      path[L1K_SF_SOLUTION] = "deepseek_attempt";
      path[L1K_SF_DOMAIN] = "cot_type";
      gt = "solution";
      break;
    default:
      break;
  }
  int from_conv = schema == L1K_SCHEMA_OPENTHOUGHTS;
  if (fields)
    for (int i = 0; i < L1K_SF_COUNT; i++)
      if (fields->path[i]) path[i] = fields->path[i];
  int rc = 0;
  if (from_conv && !(fields && fields->path[L1K_SF_PROBLEM] && fields->path[L1K_SF_REASONING] &&
                     fields->path[L1K_SF_SOLUTION])) {
    rc = parse_openthoughts(rec, where, r, lengths_only, err);
    if (rc) goto fail;
  }
  static const int req[] = {L1K_SF_PROBLEM, L1K_SF_REASONING, L1K_SF_SOLUTION};
  for (int q = 0; q < 3; q++) {
    int f = req[q];
    char **dst = f == L1K_SF_PROBLEM ? &r->problem : f == L1K_SF_REASONING ? &r->reasoning
                                                                            : &r->solution;
    int from_fields = fields && fields->path[f];
    if (from_fields) {
      free(*dst);
      *dst = NULL;
    }
    if (*dst || (f == L1K_SF_REASONING && from_conv && !from_fields && r->problem)) continue;
    if (!path[f]) {
      rc = l1k_errf(err, L1K_EINPUT, "%s: no field is mapped to the %s (use --field %s=NAME)",
                    where, field_names[f], field_names[f]);
      goto fail;
    }
    if (f == L1K_SF_REASONING && lengths_only) {
      const cJSON *v = json_path(rec, path[f]);
      if (!v || cJSON_IsNull(v)) {
        rc = l1k_errf(err, L1K_EINPUT, "%s: missing field '%s' (the reasoning, expected a string)",
                      where, path[f]);
        goto fail;
      }
      if (!cJSON_IsString(v)) {
        rc = l1k_errf(err, L1K_EINPUT, "%s: field '%s' (the reasoning): expected a string", where,
                      path[f]);
        goto fail;
      }
      r->reasoning_len = trimmed_len(v->valuestring, strlen(v->valuestring));
      continue;
    }
    rc = get_str(rec, path[f], field_names[f], 1, 0, where, dst, err);
    if (rc) goto fail;
    if (f == L1K_SF_REASONING) r->reasoning_len = strlen(r->reasoning);
  }
  if (!r->problem[0]) {
    rc = l1k_errf(err, L1K_EINPUT, "%s: field '%s' (the problem) is empty", where,
                  path[L1K_SF_PROBLEM] ? path[L1K_SF_PROBLEM] : "conversations");
    goto fail;
  }
  if (!r->reasoning_len) {
    rc = l1k_errf(err, L1K_EINPUT, "%s: the reasoning is empty", where);
    goto fail;
  }
  if (path[L1K_SF_ANSWER]) {
    rc = get_str(rec, path[L1K_SF_ANSWER], "answer", 0, 1, where, &r->answer, err);
    if (rc) goto fail;
    if (r->answer && !r->answer[0]) {
      free(r->answer);
      r->answer = NULL;
    }
  }
  if (path[L1K_SF_DOMAIN]) {
    rc = get_str(rec, path[L1K_SF_DOMAIN], "domain", 0, 1, where, &r->domain, err);
    if (rc) goto fail;
  }
  if (path[L1K_SF_ID]) {
    rc = get_str(rec, path[L1K_SF_ID], "id", 0, 1, where, &r->id, err);
    if (rc) goto fail;
  }
  if (path[L1K_SF_DIFFICULTY]) {
    rc = get_difficulty(rec, path[L1K_SF_DIFFICULTY], where, &r->difficulty, err);
    if (rc) goto fail;
  }
  if (!r->answer) r->answer = boxed_of(r->solution);
  if (!r->answer && gt) {
    const cJSON *g = cJSON_GetObjectItemCaseSensitive(rec, gt);
    if (cJSON_IsString(g)) r->answer = boxed_of(g->valuestring);
  }
  return 0;
fail:
  l1k_synth_record_free(r);
  return rc;
}
