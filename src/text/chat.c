/* long1k — chat templates: built-in renderers that produce exactly what the Jinja templates of
 * Qwen2.5, Qwen3 and Llama-3 produce (transformers' apply_chat_template, no tools), plus the
 * byte spans of the assistant turns for loss masks.
 *
 * qwen2.5: a default system prompt when the first message is not a system message.
 * qwen3:   assistant turns after the last user query get "<think>\n...\n</think>\n\n" (the
 *          reasoning taken out of the content, or reasoning_content); earlier ones lose their
 *          reasoning. enable_thinking=false adds an empty think block to the generation prompt.
 * llama3:  "<|begin_of_text|>" before the first turn, content trimmed (Python str.strip()),
 *          and the template always ends with the assistant header, whatever
 *          add_generation_prompt says (that is how the shipped template is written).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "long1k/chat.h"
#include "long1k/io.h"
#include "long1k/jsonl.h"
#include "text/tok_internal.h"

static const char *BUILTIN = "qwen2.5, qwen3, llama3";

int l1k_chat_template_by_name(const char *name, l1k_template *out, l1k_err *err) {
  if (!strcmp(name, "qwen2.5") || !strcmp(name, "qwen2_5") || !strcmp(name, "qwen25"))
    *out = L1K_TMPL_QWEN25;
  else if (!strcmp(name, "qwen3"))
    *out = L1K_TMPL_QWEN3;
  else if (!strcmp(name, "llama3") || !strcmp(name, "llama-3"))
    *out = L1K_TMPL_LLAMA3;
  else
    return l1k_errf(err, L1K_EINPUT, "unknown chat template '%s' (built-in: %s)", name, BUILTIN);
  return 0;
}

const char *l1k_chat_template_name(l1k_template t) {
  switch (t) {
    case L1K_TMPL_QWEN25: return "qwen2.5";
    case L1K_TMPL_QWEN3: return "qwen3";
    case L1K_TMPL_LLAMA3: return "llama3";
    default: return "none";
  }
}

/* ---- detection ----
 * The template text is compared with the shipped templates with all whitespace (space, tab,
 * CR, LF) removed, through a 64-bit FNV-1a hash: reformatting does not matter, any other
 * change does (a changed template would render differently from the built-in renderer). */
static const struct {
  uint64_t hash;
  l1k_template t;
} KNOWN[] = {
    {0x2bfa7d4e9336df4dULL, L1K_TMPL_QWEN25}, /* Qwen2.5 Instruct (tokenizer_config.qwen2.5.json) */
    {0x2eaba2124ec0fa42ULL, L1K_TMPL_QWEN3},  /* Qwen3 (tokenizer_config.json) */
    {0x9fd20dcae82c82baULL, L1K_TMPL_LLAMA3}, /* Llama-3 Instruct */
};

static uint64_t template_hash(const char *s) {
  uint64_t h = 1469598103934665603ULL;
  for (; *s; s++) {
    unsigned char c = (unsigned char)*s;
    if (c == ' ' || c == '\t' || c == '\r' || c == '\n') continue;
    h ^= c;
    h *= 1099511628211ULL;
  }
  return h;
}

static int detect_from_string(const char *tmpl, const char *where, l1k_template *out,
                              l1k_err *err) {
  uint64_t h = template_hash(tmpl);
  for (size_t i = 0; i < sizeof KNOWN / sizeof KNOWN[0]; i++)
    if (KNOWN[i].hash == h) {
      *out = KNOWN[i].t;
      return 0;
    }
  const char *hint = strstr(tmpl, "<|im_start|>")          ? " (a ChatML/Qwen-style template)"
                     : strstr(tmpl, "<|start_header_id|>") ? " (a Llama-3-style template)"
                                                           : "";
  return l1k_errf(err, L1K_EINPUT,
                  "%s: chat_template is not one of the built-in templates%s; built-in: %s "
                  "(choose one by name if it renders the same)",
                  where, hint, BUILTIN);
}

int l1k_chat_template_detect(const char *path, l1k_template *out, l1k_err *err) {
  char *cfg = NULL;
  if (l1k_is_dir(path)) {
    cfg = l1k_path_join(path, "tokenizer_config.json");
    if (cfg && !l1k_file_exists(cfg)) {
      /* newer transformers save the template next to it */
      char *jinja = l1k_path_join(path, "chat_template.jinja");
      if (jinja && l1k_file_exists(jinja)) {
        char *tmpl = l1k_read_file(jinja, NULL, err);
        int rc = tmpl ? detect_from_string(tmpl, jinja, out, err) : L1K_EIO;
        free(tmpl);
        free(jinja);
        free(cfg);
        return rc;
      }
      free(jinja);
      int rc = l1k_errf(err, L1K_EINPUT,
                        "%s: no tokenizer_config.json (or chat_template.jinja) to detect the chat "
                        "template from; built-in: %s",
                        path, BUILTIN);
      free(cfg);
      return rc;
    }
  } else {
    /* a tokenizer.json given: look next to it */
    const char *slash = strrchr(path, '/');
    const char *base = slash ? slash + 1 : path;
    if (strcmp(base, "tokenizer.json") == 0) {
      size_t dl = (size_t)(base - path);
      char *dir = malloc(dl + 2);
      if (!dir) return l1k_errf(err, L1K_ENOMEM, "out of memory");
      if (dl) memcpy(dir, path, dl);
      else dir[dl++] = '.';
      dir[dl] = 0;
      int rc = l1k_chat_template_detect(dir, out, err);
      free(dir);
      return rc;
    }
    cfg = l1k_strdup(path, err);
  }
  if (!cfg) return l1k_errf(err, L1K_ENOMEM, "out of memory");
  size_t len = 0;
  char *text = l1k_read_file(cfg, &len, err);
  if (!text) {
    free(cfg);
    return err ? err->code : L1K_EIO;
  }
  cJSON *root = cJSON_ParseWithLength(text, len);
  free(text);
  int rc;
  if (!root) {
    rc = l1k_errf(err, L1K_EINPUT, "%s: invalid JSON (expected a tokenizer_config.json)", cfg);
  } else {
    const cJSON *ct = cJSON_GetObjectItemCaseSensitive(root, "chat_template");
    const char *tmpl = NULL;
    if (cJSON_IsString(ct)) {
      tmpl = ct->valuestring;
    } else if (cJSON_IsArray(ct)) { /* [{"name": "default", "template": ...}, ...] */
      const cJSON *it;
      cJSON_ArrayForEach(it, ct) {
        const cJSON *nm = cJSON_GetObjectItemCaseSensitive(it, "name");
        const cJSON *tp = cJSON_GetObjectItemCaseSensitive(it, "template");
        if (cJSON_IsString(nm) && !strcmp(nm->valuestring, "default") && cJSON_IsString(tp))
          tmpl = tp->valuestring;
      }
    }
    if (!tmpl)
      rc = l1k_errf(err, L1K_EINPUT,
                    "%s: field 'chat_template': missing (expected a string); built-in templates: "
                    "%s",
                    cfg, BUILTIN);
    else
      rc = detect_from_string(tmpl, cfg, out, err);
    cJSON_Delete(root);
  }
  free(cfg);
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
typedef struct {
  l1k_buf b;
  l1k_span *sp;
  size_t nsp, capsp;
  int oom;
} out_t;

static void put(out_t *o, const char *s, size_t n) {
  if (!o->oom && l1k_buf_append(&o->b, s, n)) o->oom = 1;
}
static void puts_(out_t *o, const char *s) { put(o, s, strlen(s)); }

static void add_span(out_t *o, size_t begin, size_t end) {
  if (o->oom) return;
  if (o->nsp == o->capsp) {
    size_t nc = o->capsp ? o->capsp * 2 : 8;
    l1k_span *ns = realloc(o->sp, nc * sizeof *ns);
    if (!ns) {
      o->oom = 1;
      return;
    }
    o->sp = ns;
    o->capsp = nc;
  }
  o->sp[o->nsp++] = (l1k_span){begin, end};
}

typedef struct {
  const char *s;
  size_t n;
} str;

static int starts_with(str a, const char *p) {
  size_t k = strlen(p);
  return a.n >= k && memcmp(a.s, p, k) == 0;
}
static int ends_with(str a, const char *p) {
  size_t k = strlen(p);
  return a.n >= k && memcmp(a.s + a.n - k, p, k) == 0;
}
static const char *find(str a, const char *p) { /* first occurrence */
  size_t k = strlen(p);
  if (k > a.n) return NULL;
  for (size_t i = 0; i + k <= a.n; i++)
    if (memcmp(a.s + i, p, k) == 0) return a.s + i;
  return NULL;
}
static const char *rfind(str a, const char *p) { /* last occurrence */
  size_t k = strlen(p);
  if (k > a.n) return NULL;
  for (size_t i = a.n - k + 1; i-- > 0;)
    if (memcmp(a.s + i, p, k) == 0) return a.s + i;
  return NULL;
}
static str lstrip_nl(str a) {
  while (a.n && a.s[0] == '\n') a.s++, a.n--;
  return a;
}
static str rstrip_nl(str a) {
  while (a.n && a.s[a.n - 1] == '\n') a.n--;
  return a;
}

/* Python str.strip() (no argument): what Jinja's |trim does */
static str py_strip(str a) {
  const uint8_t *s = (const uint8_t *)a.s;
  size_t b = 0, e = a.n;
  while (b < e) {
    uint32_t cp;
    int k = l1k_utf8_decode(s + b, e - b, &cp);
    if (k == 0 || !l1k_uc_py_isspace(cp)) break;
    b += (size_t)k;
  }
  while (e > b) {
    size_t j = e - 1;
    while (j > b && (s[j] & 0xC0) == 0x80 && e - j < 4) j--;
    uint32_t cp;
    int k = l1k_utf8_decode(s + j, e - j, &cp);
    if (k != (int)(e - j) || !l1k_uc_py_isspace(cp)) break;
    e = j;
  }
  return (str){a.s + b, e - b};
}

static str S(const char *s) { return (str){s, strlen(s)}; }
static void puts_str(out_t *o, str a) { put(o, a.s, a.n); }

static int check_roles(l1k_template t, const l1k_chat_msg *m, size_t n, l1k_err *err) {
  if (n == 0) return l1k_errf(err, L1K_EINPUT, "chat: no messages to render");
  for (size_t i = 0; i < n; i++) {
    if (!m[i].role || !m[i].content)
      return l1k_errf(err, L1K_EINPUT, "chat: message %zu: role and content are required", i);
    const char *r = m[i].role;
    int ok = !strcmp(r, "system") || !strcmp(r, "user") || !strcmp(r, "assistant");
    if (t != L1K_TMPL_LLAMA3 && !strcmp(r, "tool")) ok = 1;
    if (t == L1K_TMPL_LLAMA3) ok = ok || !strcmp(r, "ipython") || !strcmp(r, "tool");
    if (!ok)
      return l1k_errf(err, L1K_EINPUT,
                      "chat: message %zu: role '%s' is not rendered by the %s template (expected "
                      "system, user, assistant%s)",
                      i, r, l1k_chat_template_name(t), t == L1K_TMPL_LLAMA3 ? "" : ", tool");
    if (m[i].reasoning_content && t != L1K_TMPL_QWEN3)
      return l1k_errf(err, L1K_EINPUT,
                      "chat: message %zu: reasoning_content is only used by the qwen3 template", i);
  }
  return 0;
}

static void render_tool(out_t *o, const l1k_chat_msg *m, size_t n, size_t i) {
  if (i == 0 || strcmp(m[i - 1].role, "tool") != 0) puts_(o, "<|im_start|>user");
  puts_(o, "\n<tool_response>\n");
  puts_(o, m[i].content);
  puts_(o, "\n</tool_response>");
  if (i + 1 == n || strcmp(m[i + 1].role, "tool") != 0) puts_(o, "<|im_end|>\n");
}

static void render_qwen25(out_t *o, const l1k_chat_msg *m, size_t n, const l1k_chat_opts *op) {
  if (!strcmp(m[0].role, "system")) {
    puts_(o, "<|im_start|>system\n");
    puts_(o, m[0].content);
    puts_(o, "<|im_end|>\n");
  } else {
    puts_(o, "<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful "
             "assistant.<|im_end|>\n");
  }
  for (size_t i = 0; i < n; i++) {
    const char *r = m[i].role;
    if (!strcmp(r, "user") || (!strcmp(r, "system") && i > 0)) {
      puts_(o, "<|im_start|>");
      puts_(o, r);
      puts_(o, "\n");
      puts_(o, m[i].content);
      puts_(o, "<|im_end|>\n");
    } else if (!strcmp(r, "assistant")) {
      puts_(o, "<|im_start|>assistant\n");
      size_t b = o->b.len;
      puts_(o, m[i].content);
      puts_(o, "<|im_end|>");
      add_span(o, b, o->b.len);
      puts_(o, "\n");
    } else if (!strcmp(r, "tool")) {
      render_tool(o, m, n, i);
    }
  }
  if (op->add_generation_prompt) puts_(o, "<|im_start|>assistant\n");
}

static void render_qwen3(out_t *o, const l1k_chat_msg *m, size_t n, const l1k_chat_opts *op) {
  if (!strcmp(m[0].role, "system")) {
    puts_(o, "<|im_start|>system\n");
    puts_(o, m[0].content);
    puts_(o, "<|im_end|>\n");
  }
  /* the last user message that is not a wrapped tool response */
  size_t last_query = n - 1;
  for (size_t k = n; k-- > 0;) {
    str c = S(m[k].content);
    if (!strcmp(m[k].role, "user") &&
        !(starts_with(c, "<tool_response>") && ends_with(c, "</tool_response>"))) {
      last_query = k;
      break;
    }
  }
  for (size_t i = 0; i < n; i++) {
    const char *r = m[i].role;
    if (!strcmp(r, "user") || (!strcmp(r, "system") && i > 0)) {
      puts_(o, "<|im_start|>");
      puts_(o, r);
      puts_(o, "\n");
      puts_(o, m[i].content);
      puts_(o, "<|im_end|>\n");
    } else if (!strcmp(r, "assistant")) {
      str content = S(m[i].content), reasoning = {"", 0};
      if (m[i].reasoning_content) {
        reasoning = S(m[i].reasoning_content);
      } else if (find(content, "</think>")) {
        str full = content;
        const char *last_end = rfind(full, "</think>");
        content = lstrip_nl((str){last_end + 8, (size_t)(full.s + full.n - (last_end + 8))});
        const char *first_end = find(full, "</think>");
        str before = rstrip_nl((str){full.s, (size_t)(first_end - full.s)});
        const char *open = rfind(before, "<think>");
        if (open) before = (str){open + 7, (size_t)(before.s + before.n - (open + 7))};
        reasoning = lstrip_nl(before);
      }
      puts_(o, "<|im_start|>assistant\n");
      size_t b = o->b.len;
      if (i > last_query && (i + 1 == n || reasoning.n > 0)) {
        puts_(o, "<think>\n");
        puts_str(o, rstrip_nl(lstrip_nl(reasoning)));
        puts_(o, "\n</think>\n\n");
        puts_str(o, lstrip_nl(content));
      } else {
        puts_str(o, content);
      }
      puts_(o, "<|im_end|>");
      add_span(o, b, o->b.len);
      puts_(o, "\n");
    } else if (!strcmp(r, "tool")) {
      render_tool(o, m, n, i);
    }
  }
  if (op->add_generation_prompt) {
    puts_(o, "<|im_start|>assistant\n");
    if (op->enable_thinking == 0) puts_(o, "<think>\n\n</think>\n\n");
  }
}

static void render_llama3(out_t *o, const l1k_chat_msg *m, size_t n, const l1k_chat_opts *op) {
  (void)op; /* the template ends with the assistant header in every case */
  for (size_t i = 0; i < n; i++) {
    if (i == 0) puts_(o, "<|begin_of_text|>");
    puts_(o, "<|start_header_id|>");
    puts_(o, m[i].role);
    puts_(o, "<|end_header_id|>\n\n");
    size_t b = o->b.len;
    puts_str(o, py_strip(S(m[i].content)));
    puts_(o, "<|eot_id|>");
    if (!strcmp(m[i].role, "assistant")) add_span(o, b, o->b.len);
  }
  puts_(o, "<|start_header_id|>assistant<|end_header_id|>\n\n");
}

int l1k_chat_render(l1k_template t, const l1k_chat_msg *msgs, size_t n, const l1k_chat_opts *opts,
                    l1k_chat_rendered *out, l1k_err *err) {
  memset(out, 0, sizeof *out);
  l1k_chat_opts def = {0, -1};
  if (!opts) opts = &def;
  if (t != L1K_TMPL_QWEN25 && t != L1K_TMPL_QWEN3 && t != L1K_TMPL_LLAMA3)
    return l1k_errf(err, L1K_EINPUT, "chat: no chat template chosen (built-in: %s)", BUILTIN);
  if (!msgs && n) return l1k_errf(err, L1K_EINTERNAL, "chat: NULL messages");
  int rc = check_roles(t, msgs, n, err);
  if (rc) return rc;
  l1k_uc_init();
  out_t o = {0};
  if (t == L1K_TMPL_QWEN25) render_qwen25(&o, msgs, n, opts);
  else if (t == L1K_TMPL_QWEN3) render_qwen3(&o, msgs, n, opts);
  else render_llama3(&o, msgs, n, opts);
  if (!o.oom && !o.b.data) o.oom = l1k_buf_append(&o.b, "", 0) != 0;
  if (o.oom) {
    l1k_buf_free(&o.b);
    free(o.sp);
    return l1k_errf(err, L1K_ENOMEM, "chat: out of memory");
  }
  out->text = o.b.data;
  out->len = o.b.len;
  out->assistant = o.sp;
  out->n_assistant = o.nsp;
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
