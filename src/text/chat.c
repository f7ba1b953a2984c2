/* long1k — chat templates: loading (model directory, built-in name, text), rendering through
 * the Jinja interpreter (src/text/jinja*.c), assistant spans and loss masks.
 *
 * Assistant spans (what a trainer puts the loss on), for each assistant message i:
 *  - templates with {% generation %} blocks: the byte ranges those blocks rendered;
 *  - otherwise derived by rendering prefixes (as TRL / LLaMA-Factory derive prompt and
 *    response), with T the whole rendering:
 *      begin: the end of P = render(messages[0..i), add_generation_prompt=true) when T starts
 *             with P and add_generation_prompt changes P; else the first byte where T and the
 *             rendering with a sentinel put before message i's content differ (templates that
 *             ignore add_generation_prompt: the content's first byte); else the end of P when
 *             T starts with it; else, when T starts with P0 = P without the generation prompt,
 *             the first byte after P0 where T and P differ (Qwen3 with enable_thinking=false
 *             and a turn that has its own reasoning: after "<|im_start|>assistant\n<think>\n");
 *      end:   k = the first byte where T and the rendering with a sentinel appended to message
 *             i's content differ (the end of the content as rendered); the turn's closer is
 *             what the template writes after that content whatever follows it: the common
 *             prefix of what follows the sentinel when message i is the last message and when
 *             a user message follows, with trailing whitespace removed and, when it starts
 *             with '<', cut after its first '>' (one end-of-turn marker such as <|im_end|>,
 *             <|eot_id|>, </s>, <end_of_turn>); the span ends after that closer in T.
 *    So the span is the assistant content as rendered plus its end-of-turn marker; the header
 *    before it and the newline after it are not in it.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "long1k/chat.h"
#include "long1k/io.h"
#include "long1k/jsonl.h"
#include "long1k/log.h"
#include "text/chat_builtin.h"
#include "text/jinja.h"

struct l1k_chat_template {
  char *name;
  char *text;
  size_t len;
  char *bos, *eos;
  jinja_tmpl *jt;
};

static char *dup_or_null(const char *s, int *oom) {
  if (!s) return NULL;
  char *d = strdup(s);
  if (!d) *oom = 1;
  return d;
}

int l1k_chat_template_from_text(const char *text, size_t len, const char *name, const char *bos,
                                const char *eos, l1k_template *out, l1k_err *err) {
  *out = NULL;
  l1k_template t = calloc(1, sizeof *t);
  if (!t) return l1k_errf(err, L1K_ENOMEM, "out of memory");
  int oom = 0;
  t->name = dup_or_null(name ? name : "chat_template", &oom);
  t->bos = dup_or_null(bos, &oom);
  t->eos = dup_or_null(eos, &oom);
  t->text = malloc(len + 1);
  if (!t->text || oom) {
    l1k_chat_template_free(t);
    return l1k_errf(err, L1K_ENOMEM, "out of memory");
  }
  memcpy(t->text, text, len);
  t->text[len] = 0;
  t->len = len;
  t->jt = jinja_parse(text, len, t->name, err);
  if (!t->jt) {
    l1k_chat_template_free(t);
    return err ? err->code : L1K_EINPUT;
  }
  *out = t;
  return 0;
}

void l1k_chat_template_free(l1k_template t) {
  if (!t) return;
  jinja_free(t->jt);
  free(t->name);
  free(t->text);
  free(t->bos);
  free(t->eos);
  free(t);
}

const char *l1k_chat_template_name(l1k_template t) { return t ? t->name : "none"; }

int l1k_chat_template_uses(l1k_template t, const char *var) {
  return t && var && strstr(t->text, var) != NULL;
}

uint64_t l1k_chat_template_hash(l1k_template t) {
  uint64_t h = 1469598103934665603ULL;
  if (!t) return h;
  const char *parts[3] = {t->text, t->bos ? t->bos : "\x01", t->eos ? t->eos : "\x01"};
  for (int p = 0; p < 3; p++) {
    for (const char *s = parts[p]; *s; s++) {
      h ^= (unsigned char)*s;
      h *= 1099511628211ULL;
    }
    h ^= 0xff;
    h *= 1099511628211ULL;
  }
  return h;
}

/* ---- names ---- */
static int name_matches(const l1k_builtin_template *b, const char *name) {
  if (!strcmp(b->name, name)) return 1;
  const char *a = b->aliases;
  size_t n = strlen(name);
  while (*a) {
    const char *comma = strchr(a, ',');
    size_t k = comma ? (size_t)(comma - a) : strlen(a);
    if (k == n && !strncmp(a, name, n)) return 1;
    if (!comma) break;
    a = comma + 1;
    while (*a == ' ') a++;
  }
  return 0;
}

static char known_buf[1024];
static pthread_once_t known_once = PTHREAD_ONCE_INIT;

static void build_known(void) {
  size_t k = 0;
  for (size_t i = 0; i < L1K_N_BUILTIN_TEMPLATES && k < sizeof known_buf; i++) {
    const l1k_builtin_template *b = &L1K_BUILTIN_TEMPLATES[i];
    k += (size_t)snprintf(known_buf + k, sizeof known_buf - k, "%s%s", i ? ", " : "", b->name);
    if (*b->aliases && k < sizeof known_buf)
      k += (size_t)snprintf(known_buf + k, sizeof known_buf - k, " (= %s)", b->aliases);
  }
}

const char *l1k_chat_template_known(void) {
  pthread_once(&known_once, build_known);
  return known_buf;
}

static const l1k_builtin_template *find_builtin(const char *name) {
  for (size_t i = 0; i < L1K_N_BUILTIN_TEMPLATES; i++)
    if (name_matches(&L1K_BUILTIN_TEMPLATES[i], name)) return &L1K_BUILTIN_TEMPLATES[i];
  return NULL;
}

int l1k_chat_template_by_name(const char *name, l1k_template *out, l1k_err *err) {
  return l1k_chat_template_named(name, NULL, out, err);
}

/* ---- loading from a model directory ---- */
typedef struct found {
  char *text, *bos, *eos, *where; /* malloc'ed; text NULL when none */
  size_t len;
} found;

static void found_free(found *f) {
  free(f->text);
  free(f->bos);
  free(f->eos);
  free(f->where);
  memset(f, 0, sizeof *f);
}

/* tokenizer_config.json's token fields are a string or an AddedToken {"content": ...} */
static char *token_field(const cJSON *root, const char *key) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, key);
  if (cJSON_IsObject(v)) v = cJSON_GetObjectItemCaseSensitive(v, "content");
  return cJSON_IsString(v) ? strdup(v->valuestring) : NULL;
}

static const char *template_in_config(const cJSON *root) {
  const cJSON *ct = cJSON_GetObjectItemCaseSensitive(root, "chat_template");
  if (cJSON_IsString(ct)) return ct->valuestring;
  if (cJSON_IsArray(ct)) { /* [{"name": "default", "template": ...}, ...] */
    const cJSON *it;
    cJSON_ArrayForEach(it, ct) {
      const cJSON *nm = cJSON_GetObjectItemCaseSensitive(it, "name");
      const cJSON *tp = cJSON_GetObjectItemCaseSensitive(it, "template");
      if (cJSON_IsString(nm) && !strcmp(nm->valuestring, "default") && cJSON_IsString(tp))
        return tp->valuestring;
    }
  }
  return NULL;
}

/* Reads cfg (tokenizer_config.json; may be missing when jinja is given) and the
 * chat_template.jinja beside it, which takes priority over the config's chat_template as in
 * transformers' from_pretrained. Returns 0 (f->text NULL when neither has a template). */
static int read_config(const char *cfg, const char *jinja, found *f, l1k_err *err) {
  if (jinja && l1k_file_exists(jinja)) {
    f->text = l1k_read_file(jinja, &f->len, err);
    if (!f->text) return err ? err->code : L1K_EIO;
    f->where = strdup(jinja);
    if (!f->where) return l1k_errf(err, L1K_ENOMEM, "out of memory");
  }
  if (cfg && l1k_file_exists(cfg)) {
    size_t len = 0;
    char *text = l1k_read_file(cfg, &len, err);
    if (!text) return err ? err->code : L1K_EIO;
    cJSON *root = cJSON_ParseWithLength(text, len);
    free(text);
    if (!root) return l1k_errf(err, L1K_EINPUT, "%s: invalid JSON (expected a tokenizer_config.json)", cfg);
    f->bos = token_field(root, "bos_token");
    f->eos = token_field(root, "eos_token");
    const char *t = f->text ? NULL : template_in_config(root);
    if (t) {
      f->text = strdup(t);
      f->len = strlen(t);
      f->where = strdup(cfg);
      if (!f->text || !f->where) {
        cJSON_Delete(root);
        return l1k_errf(err, L1K_ENOMEM, "out of memory");
      }
    }
    cJSON_Delete(root);
  }
  return 0;
}

/* path: a directory, a tokenizer.json, a tokenizer_config.json or a .jinja file */
static int find_template(const char *path, found *f, l1k_err *err) {
  memset(f, 0, sizeof *f);
  char *dir = NULL, *cfg = NULL, *jinja = NULL;
  const char *slash = strrchr(path, '/');
  const char *base = slash ? slash + 1 : path;
  size_t bl = strlen(base);
  int rc = 0;
  if (l1k_is_dir(path)) {
    dir = strdup(path);
  } else if (!strcmp(base, "tokenizer.json") || (bl > 6 && !strcmp(base + bl - 6, ".jinja"))) {
    size_t dl = (size_t)(base - path);
    dir = dl ? strndup(path, dl) : strdup(".");
  }
  if (dir) {
    cfg = l1k_path_join(dir, "tokenizer_config.json");
    jinja = bl > 6 && !strcmp(base + bl - 6, ".jinja") ? strdup(path) : l1k_path_join(dir, "chat_template.jinja");
    if (!cfg || !jinja) rc = l1k_errf(err, L1K_ENOMEM, "out of memory");
    else if (!strcmp(base + (bl > 6 ? bl - 6 : 0), ".jinja")) { /* a template file: tokens from beside it */
      rc = read_config(NULL, jinja, f, err);
      if (!rc && l1k_file_exists(cfg)) {
        found g;
        memset(&g, 0, sizeof g);
        rc = read_config(cfg, NULL, &g, err);
        f->bos = g.bos, f->eos = g.eos;
        g.bos = g.eos = NULL;
        found_free(&g);
      }
    } else {
      rc = read_config(cfg, jinja, f, err);
    }
  } else {
    rc = l1k_file_exists(path) ? read_config(path, NULL, f, err)
                               : l1k_errf(err, L1K_EINPUT, "%s: no such file or directory", path);
  }
  free(dir);
  free(cfg);
  free(jinja);
  if (rc) found_free(f);
  return rc;
}

int l1k_chat_template_detect(const char *path, l1k_template *out, l1k_err *err) {
  *out = NULL;
  found f;
  int rc = find_template(path, &f, err);
  if (rc) return rc;
  if (!f.text) {
    found_free(&f);
    return l1k_errf(err, L1K_EINPUT,
                    "%s: no chat template (no 'chat_template' in tokenizer_config.json and no "
                    "chat_template.jinja); choose one by name: %s",
                    path, l1k_chat_template_known());
  }
  rc = l1k_chat_template_from_text(f.text, f.len, f.where, f.bos, f.eos, out, err);
  found_free(&f);
  return rc;
}

int l1k_chat_template_named(const char *name, const char *tok_path, l1k_template *out,
                            l1k_err *err) {
  *out = NULL;
  size_t nl = strlen(name);
  if (nl > 6 && !strcmp(name + nl - 6, ".jinja")) return l1k_chat_template_detect(name, out, err);
  const l1k_builtin_template *b = find_builtin(name);
  if (!b)
    return l1k_errf(err, L1K_EINPUT, "unknown chat template '%s' (known: %s)", name,
                    l1k_chat_template_known());
  found f;
  memset(&f, 0, sizeof f);
  if (tok_path && find_template(tok_path, &f, NULL) != 0) memset(&f, 0, sizeof f);
  if (f.text && (f.len != b->len || memcmp(f.text, b->text, b->len) != 0))
    l1k_warn("chat template '%s' (%s) is used, not the model's own template in %s", b->name,
             b->file, f.where);
  int rc = l1k_chat_template_from_text(b->text, b->len, b->name, f.bos ? f.bos : b->bos_token,
                                       f.eos ? f.eos : b->eos_token, out, err);
  found_free(&f);
  return rc;
}

/* ---- messages from JSON ---- */
int l1k_chat_msgs_from_json(const cJSON *messages, l1k_chat_msg **msgs, size_t *n,
                            const char *where, l1k_err *err) {
  *msgs = NULL;
  *n = 0;
  if (!cJSON_IsArray(messages))
    return l1k_errf(err, L1K_EINPUT, "%s: expected a list of {\"role\", \"content\"} objects",
                    where);
  size_t cnt = (size_t)cJSON_GetArraySize(messages);
  l1k_chat_msg *m = calloc(cnt ? cnt : 1, sizeof *m);
  if (!m) return l1k_errf(err, L1K_ENOMEM, "out of memory");
  size_t i = 0;
  const cJSON *it;
  cJSON_ArrayForEach(it, messages) {
    const cJSON *role = cJSON_GetObjectItemCaseSensitive(it, "role");
    const cJSON *content = cJSON_GetObjectItemCaseSensitive(it, "content");
    const cJSON *rc = cJSON_GetObjectItemCaseSensitive(it, "reasoning_content");
    if (!cJSON_IsObject(it) || !cJSON_IsString(role)) {
      free(m);
      return l1k_errf(err, L1K_EINPUT, "%s[%zu]: expected an object with a string 'role'", where,
                      i);
    }
    if (!cJSON_IsString(content)) {
      free(m);
      return l1k_errf(err, L1K_EINPUT, "%s[%zu]: field 'content': expected a string", where, i);
    }
    if (rc && !cJSON_IsNull(rc) && !cJSON_IsString(rc)) {
      free(m);
      return l1k_errf(err, L1K_EINPUT,
                      "%s[%zu]: field 'reasoning_content': expected a string or null", where, i);
    }
    m[i].role = role->valuestring;
    m[i].content = content->valuestring;
    m[i].reasoning_content = cJSON_IsString(rc) ? rc->valuestring : NULL;
    i++;
  }
  *msgs = m;
  *n = i;
  return 0;
}

/* ---- rendering ---- */
typedef struct renderer {
  l1k_template t;
  const l1k_chat_opts *opts;
  cJSON *vars; /* opts->vars plus enable_thinking */
  jinja_msg *msgs;
  size_t n;
} renderer;

static int render_msgs(renderer *R, const jinja_msg *m, size_t n, int agp, jinja_result *res,
                       l1k_err *err) {
  jinja_opts o = {m, n, agp, R->t->bos, R->t->eos, R->vars};
  return jinja_render(R->t->jt, &o, res, err);
}

static int check_msgs(l1k_template t, const l1k_chat_msg *m, size_t n, l1k_err *err) {
  if (n == 0) return l1k_errf(err, L1K_EINPUT, "chat: no messages to render");
  if (!m) return l1k_errf(err, L1K_EINTERNAL, "chat: NULL messages");
  for (size_t i = 0; i < n; i++) {
    if (!m[i].role || !m[i].content)
      return l1k_errf(err, L1K_EINPUT, "chat: message %zu: role and content are required", i);
    if (m[i].reasoning_content && !l1k_chat_template_uses(t, "reasoning_content") &&
        !l1k_chat_template_uses(t, "thinking"))
      return l1k_errf(err, L1K_EINPUT,
                      "chat: message %zu: reasoning_content is given but chat template '%s' does "
                      "not render it (put the reasoning in the content)",
                      i, t->name);
  }
  return 0;
}

static size_t common_prefix(const char *a, size_t an, const char *b, size_t bn) {
  size_t k = 0;
  while (k < an && k < bn && a[k] == b[k]) k++;
  return k;
}

static const char SENTINEL[] = "\x01l1k-turn\x01";

/* renders messages[0..upto] (inclusive) with message i's content = content + sentinel
 * (after = 1) or sentinel + content (after = 0); optional extra user message after upto */
static int render_marked(renderer *R, size_t i, size_t upto, int after, int extra_user, int agp,
                         jinja_result *res, l1k_err *err) {
  size_t cnt = upto + 1 + (extra_user ? 1 : 0);
  jinja_msg *m = malloc(cnt * sizeof *m);
  const char *c = R->msgs[i].content;
  size_t cl = strlen(c);
  char *mk = malloc(cl + sizeof SENTINEL);
  if (!m || !mk) {
    free(m);
    free(mk);
    return l1k_errf(err, L1K_ENOMEM, "out of memory");
  }
  if (after) {
    memcpy(mk, c, cl);
    memcpy(mk + cl, SENTINEL, sizeof SENTINEL);
  } else {
    memcpy(mk, SENTINEL, sizeof SENTINEL - 1);
    memcpy(mk + sizeof SENTINEL - 1, c, cl + 1);
  }
  memcpy(m, R->msgs, (upto + 1) * sizeof *m);
  m[i].content = mk;
  if (extra_user) m[upto + 1] = (jinja_msg){"user", "x", NULL};
  int rc = render_msgs(R, m, cnt, agp, res, err);
  free(m);
  free(mk);
  return rc;
}

static int span_fail(renderer *R, size_t i, const char *why, l1k_err *err) {
  return l1k_errf(err, L1K_EINPUT,
                  "chat template '%s': cannot find assistant message %zu in the rendering (%s); "
                  "mark the assistant turns with {%% generation %%} ... {%% endgeneration %%}",
                  R->t->name, i, why);
}

/* where the sentinel put before message i's content shows up in the whole rendering */
static int begin_by_sentinel(renderer *R, size_t i, const jinja_result *T, size_t *begin, int *found,
                             l1k_err *err) {
  jinja_result B;
  int rc = render_marked(R, i, R->n - 1, 0, 0, R->opts->add_generation_prompt, &B, err);
  if (rc) return rc;
  *begin = common_prefix(T->text, T->len, B.text, B.len);
  *found = strstr(B.text, SENTINEL) == B.text + *begin;
  jinja_result_free(&B);
  return 0;
}

static int is_prefix(const jinja_result *p, const jinja_result *t) {
  return p->len <= t->len && memcmp(p->text, t->text, p->len) == 0;
}

/* the span's begin (see the top of the file) */
static int span_begin(renderer *R, size_t i, const jinja_result *T, size_t *begin, l1k_err *err) {
  jinja_result P1, P0;
  int rc = render_msgs(R, R->msgs, i, 1, &P1, err);
  if (!rc && (rc = render_msgs(R, R->msgs, i, 0, &P0, err))) jinja_result_free(&P1);
  if (rc) return rc;
  int agp_works = P1.len != P0.len || memcmp(P1.text, P0.text, P0.len) != 0;
  int found = agp_works && is_prefix(&P1, T);
  *begin = P1.len;
  if (!found) rc = begin_by_sentinel(R, i, T, begin, &found, err);
  if (!rc && !found && is_prefix(&P1, T)) {
    *begin = P1.len;
    found = 1;
  }
  if (!rc && !found && is_prefix(&P0, T) && is_prefix(&P0, &P1)) {
    /* the turn does not start with the whole generation prompt (Qwen3 with enable_thinking
     * false and a turn with its own reasoning): the span starts where they differ */
    *begin = P0.len + common_prefix(P1.text + P0.len, P1.len - P0.len, T->text + P0.len, T->len - P0.len);
    found = 1;
  }
  jinja_result_free(&P1);
  jinja_result_free(&P0);
  if (rc) return rc;
  return found ? 0 : span_fail(R, i, "its content is not rendered as given", err);
}

/* the end-of-turn closer written after message i's content (see the top of the file) */
static int closer_len(renderer *R, size_t i, size_t *len, l1k_err *err) {
  jinja_result A, B;
  int rc = render_marked(R, i, i, 1, 0, 0, &A, err);
  if (rc) return rc;
  const char *a = strstr(A.text, SENTINEL);
  if (!a) {
    jinja_result_free(&A);
    return span_fail(R, i, "its content is not rendered as given", err);
  }
  a += sizeof SENTINEL - 1;
  size_t an = strlen(a);
  l1k_err ignored;
  if (render_marked(R, i, i, 1, 1, 0, &B, &ignored) == 0) { /* a template may refuse it */
    const char *b = strstr(B.text, SENTINEL);
    if (b) an = common_prefix(a, an, b + sizeof SENTINEL - 1, strlen(b + sizeof SENTINEL - 1));
    jinja_result_free(&B);
  }
  while (an && (a[an - 1] == '\n' || a[an - 1] == ' ' || a[an - 1] == '\t' || a[an - 1] == '\r')) an--;
  if (an && a[0] == '<') {
    const char *gt = memchr(a, '>', an);
    if (gt) an = (size_t)(gt - a) + 1;
  }
  *len = an;
  jinja_result_free(&A);
  return 0;
}

static int derive_span(renderer *R, size_t i, const jinja_result *T, l1k_span *sp, l1k_err *err) {
  size_t begin, close;
  int rc = span_begin(R, i, T, &begin, err);
  if (!rc) rc = closer_len(R, i, &close, err);
  if (rc) return rc;
  jinja_result E;
  rc = render_marked(R, i, R->n - 1, 1, 0, R->opts->add_generation_prompt, &E, err);
  if (rc) return rc;
  size_t k = common_prefix(T->text, T->len, E.text, E.len);
  /* content the template trims (Python whitespace such as U+001C) lies between k and the
   * sentinel in E: the content as rendered in T still ends at k */
  const char *sent = strstr(E.text + (k < E.len ? k : E.len), SENTINEL);
  int ok = sent && k >= begin && k + close <= T->len;
  jinja_result_free(&E);
  if (!ok) return span_fail(R, i, "its content is not rendered as given", err);
  *sp = (l1k_span){begin, k + close};
  return 0;
}

static int assistant_spans(renderer *R, const jinja_result *T, l1k_span **out, size_t *nout,
                           l1k_err *err) {
  size_t na = 0;
  for (size_t i = 0; i < R->n; i++) na += strcmp(R->msgs[i].role, "assistant") == 0;
  *out = NULL;
  *nout = 0;
  l1k_span *sp = calloc(na ? na : 1, sizeof *sp);
  if (!sp) return l1k_errf(err, L1K_ENOMEM, "out of memory");
  if (jinja_has_generation(R->t->jt)) {
    for (size_t i = 0; i < T->n_spans && i < na; i++) sp[i] = (l1k_span){T->spans[i].begin, T->spans[i].end};
    *out = sp;
    *nout = T->n_spans < na ? T->n_spans : na;
    return 0;
  }
  size_t k = 0;
  for (size_t i = 0; i < R->n; i++) {
    if (strcmp(R->msgs[i].role, "assistant") != 0) continue;
    int rc = derive_span(R, i, T, &sp[k], err);
    if (rc) {
      free(sp);
      return rc;
    }
    if (k && sp[k].begin < sp[k - 1].end) {
      free(sp);
      return span_fail(R, i, "it overlaps the previous assistant turn", err);
    }
    k++;
  }
  *out = sp;
  *nout = k;
  return 0;
}

/* A message whose role the template does not know may vanish from the rendering (Qwen's
 * templates skip it without a word): messages with a role other than system, user,
 * assistant and tool must show up, or the render is refused. */
static int check_unusual_roles(renderer *R, l1k_err *err) {
  for (size_t i = 0; i < R->n; i++) {
    const char *r = R->msgs[i].role;
    if (!strcmp(r, "system") || !strcmp(r, "user") || !strcmp(r, "assistant") || !strcmp(r, "tool"))
      continue;
    jinja_result M;
    int rc = render_marked(R, i, R->n - 1, 1, 0, R->opts->add_generation_prompt, &M, err);
    if (rc) return rc;
    int shown = strstr(M.text, SENTINEL) != NULL;
    jinja_result_free(&M);
    if (!shown)
      return l1k_errf(err, L1K_EINPUT, "chat: message %zu: role '%s' is not rendered by chat template '%s'",
                      i, r, R->t->name);
  }
  return 0;
}

static int setup_renderer(renderer *R, l1k_template t, const l1k_chat_msg *msgs, size_t n,
                          const l1k_chat_opts *opts, l1k_err *err) {
  memset(R, 0, sizeof *R);
  R->t = t;
  R->opts = opts;
  R->n = n;
  R->msgs = malloc(n * sizeof *R->msgs);
  R->vars = opts->vars ? cJSON_Duplicate(opts->vars, 1) : cJSON_CreateObject();
  if (!R->msgs || !R->vars) return l1k_errf(err, L1K_ENOMEM, "out of memory");
  if (!cJSON_IsObject(R->vars)) return l1k_errf(err, L1K_EINPUT, "chat: template variables must be a JSON object");
  for (size_t i = 0; i < n; i++)
    R->msgs[i] = (jinja_msg){msgs[i].role, msgs[i].content, msgs[i].reasoning_content};
  if (opts->enable_thinking >= 0) {
    cJSON_DeleteItemFromObjectCaseSensitive(R->vars, "enable_thinking");
    if (!cJSON_AddBoolToObject(R->vars, "enable_thinking", opts->enable_thinking))
      return l1k_errf(err, L1K_ENOMEM, "out of memory");
  }
  return 0;
}

int l1k_chat_render(l1k_template t, const l1k_chat_msg *msgs, size_t n, const l1k_chat_opts *opts,
                    l1k_chat_rendered *out, l1k_err *err) {
  memset(out, 0, sizeof *out);
  l1k_chat_opts def = {0, -1, NULL};
  if (!opts) opts = &def;
  if (!t)
    return l1k_errf(err, L1K_EINPUT, "chat: no chat template chosen (known: %s)", l1k_chat_template_known());
  int rc = check_msgs(t, msgs, n, err);
  if (rc) return rc;
  renderer R;
  rc = setup_renderer(&R, t, msgs, n, opts, err);
  jinja_result T = {0};
  if (!rc) rc = render_msgs(&R, R.msgs, n, opts->add_generation_prompt, &T, err);
  if (!rc) rc = check_unusual_roles(&R, err);
  if (!rc) rc = assistant_spans(&R, &T, &out->assistant, &out->n_assistant, err);
  free(R.msgs);
  cJSON_Delete(R.vars);
  if (rc) {
    jinja_result_free(&T);
    return rc;
  }
  out->text = T.text;
  out->len = T.len;
  free(T.spans);
  return 0;
}

void l1k_chat_rendered_free(l1k_chat_rendered *r) {
  if (!r) return;
  free(r->text);
  free(r->assistant);
  memset(r, 0, sizeof *r);
}

int l1k_chat_encode(const l1k_tokenizer *tok, l1k_template t, const l1k_chat_msg *msgs, size_t n,
                    const l1k_chat_opts *opts, l1k_ids *ids, uint8_t **mask, l1k_err *err) {
  if (mask) *mask = NULL;
  l1k_chat_rendered r;
  int rc = l1k_chat_render(t, msgs, n, opts, &r, err);
  if (rc) return rc;
  size_t start = ids->len;
  size_t *off = NULL;
  rc = l1k_tokenizer_encode(tok, r.text, r.len, ids, mask ? &off : NULL, err);
  if (rc) {
    l1k_chat_rendered_free(&r);
    free(off);
    return rc;
  }
  if (mask) {
    size_t cnt = ids->len - start;
    uint8_t *mk = calloc(cnt ? cnt : 1, 1);
    if (!mk) {
      ids->len = start;
      free(off);
      l1k_chat_rendered_free(&r);
      return l1k_errf(err, L1K_ENOMEM, "chat: out of memory");
    }
    /* tokens and spans are both in text order */
    size_t s = 0;
    for (size_t i = 0; i < cnt; i++) {
      size_t b = off[2 * (start + i)], e = off[2 * (start + i) + 1];
      while (s < r.n_assistant && r.assistant[s].end <= b) s++;
      if (s < r.n_assistant && r.assistant[s].begin < e && b < r.assistant[s].end) mk[i] = 1;
    }
    *mask = mk;
  }
  free(off);
  l1k_chat_rendered_free(&r);
  return 0;
}
