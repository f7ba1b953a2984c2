/* long1k — OpenAI-compatible HTTP client over the libcurl multi interface (see long1k/eval.h).
 *
 * One job = one POST. Jobs wait in a queue (each with the earliest time it may start, for
 * backoff); up to `concurrency` are in flight. A finished try is classified:
 *   - 2xx with a well-formed completion           -> done(ok)
 *   - 429, 408, 409, 425, 5xx                     -> retry (Retry-After respected)
 *   - connection errors, timeouts, empty replies  -> retry
 *   - 2xx whose body is not a well-formed reply   -> retry (counted as malformed)
 *   - 401/403/404                                 -> done(fatal): the endpoint refuses all
 *   - other 4xx (e.g. a prompt over the context)  -> done(failed), no retry
 * After max_retries retries a job is done(failed) with the last reason.
 *
 * Built without libcurl (CMake LONG1K_CURL=OFF, or AUTO without it: the GPU machine of
 * scripts/gpu-check.sh), the URL / reply / backoff helpers stay and l1k_oai_new refuses with one
 * line (L1K_EINPUT, exit 2): see the no-curl path at the end of this file.
 */
#ifdef LONG1K_HAVE_CURL
#include <curl/curl.h>
#endif
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "long1k/eval.h"
#include "long1k/jsonl.h"
#include "long1k/log.h"

#define MAX_BODY (256u << 20) /* a reply larger than this is refused (256 MiB) */

#ifdef LONG1K_HAVE_CURL
typedef struct job {
  char *url;
  char *auth; /* own "Authorization: ..." header, or NULL for the client's */
  int no_auth;
  char *body;
  int completions;
  void *user;
  int attempts;
  double t_first, t_ready;
  char last_error[384];
  long last_status;
  /* in flight */
  CURL *easy;
  struct curl_slist *headers;
  l1k_buf reply;
  int too_big;
} job;

struct l1k_oai_client {
  l1k_http_opts o;
  CURLM *multi;
  job **queue; /* waiting, in submission order */
  size_t nq, capq;
  size_t active;
  job **fly; /* in flight (active of them) */
  l1k_oai_stats st;
  uint64_t rng;
  char *auth;
};

#endif /* LONG1K_HAVE_CURL */

void l1k_http_opts_default(l1k_http_opts *o) {
  memset(o, 0, sizeof *o);
  o->concurrency = 8;
  o->max_retries = 6;
  o->timeout_s = 1800;
  o->connect_timeout_s = 30;
  o->backoff_s = 1;
  o->backoff_max_s = 60;
  o->retry_after_max_s = 300;
}

double l1k_http_backoff(const l1k_http_opts *o, int attempt, double retry_after) {
  double w = o->backoff_s * pow(2.0, attempt > 0 ? attempt - 1 : 0);
  if (w > o->backoff_max_s) w = o->backoff_max_s;
  if (retry_after >= 0) {
    double ra = retry_after > o->retry_after_max_s ? o->retry_after_max_s : retry_after;
    if (ra > w) w = ra;
  }
  return w;
}

char *l1k_oai_url(const char *endpoint, int completions) {
  if (strstr(endpoint, "/completions?")) { /* a full URL with a query (api-version=...) */
    l1k_err e;
    return l1k_strdup(endpoint, &e);
  }
  size_t n = strlen(endpoint);
  while (n > 0 && endpoint[n - 1] == '/') n--;
  const char *tail = completions ? "/completions" : "/chat/completions";
  l1k_buf b = {0};
  l1k_buf_append(&b, endpoint, n);
  l1k_buf_append(&b, "", 0);
  if (!b.data) return NULL;
  size_t len = b.len;
  int ends_compl = len >= 12 && !strcmp(b.data + len - 12, "/completions");
  int ends_v1 = len >= 3 && !strcmp(b.data + len - 3, "/v1");
  if (!ends_compl) {
    if (!ends_v1) l1k_buf_puts(&b, "/v1");
    l1k_buf_puts(&b, tail);
  }
  return b.data;
}

int l1k_oai_parse_reply(const cJSON *json, int completions, l1k_oai_reply *out, char *why,
                        size_t why_n) {
  out->text = out->reasoning = out->finish_reason = NULL;
  out->prompt_tokens = out->completion_tokens = -1;
  if (!cJSON_IsObject(json)) {
    snprintf(why, why_n, "reply is not a JSON object");
    return L1K_EINPUT;
  }
  const cJSON *errj = cJSON_GetObjectItemCaseSensitive(json, "error");
  if (errj && !cJSON_IsNull(errj)) {
    const cJSON *m = cJSON_IsObject(errj) ? cJSON_GetObjectItemCaseSensitive(errj, "message") : errj;
    snprintf(why, why_n, "server error in reply: %.300s",
             cJSON_IsString(m) ? m->valuestring : "(no message)");
    return L1K_EINPUT;
  }
  const cJSON *ch = cJSON_GetObjectItemCaseSensitive(json, "choices");
  if (!cJSON_IsArray(ch) || cJSON_GetArraySize(ch) < 1) {
    snprintf(why, why_n, "reply has no 'choices' array");
    return L1K_EINPUT;
  }
  const cJSON *c0 = cJSON_GetArrayItem(ch, 0);
  if (!cJSON_IsObject(c0)) {
    snprintf(why, why_n, "reply 'choices[0]' is not an object");
    return L1K_EINPUT;
  }
  if (completions) {
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(c0, "text");
    if (!cJSON_IsString(t)) {
      snprintf(why, why_n, "reply 'choices[0].text': expected a string");
      return L1K_EINPUT;
    }
    out->text = t->valuestring;
  } else {
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(c0, "message");
    if (!cJSON_IsObject(m)) {
      snprintf(why, why_n, "reply 'choices[0].message': expected an object");
      return L1K_EINPUT;
    }
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(m, "content");
    const cJSON *r = cJSON_GetObjectItemCaseSensitive(m, "reasoning_content");
    if (!cJSON_IsString(r)) r = cJSON_GetObjectItemCaseSensitive(m, "reasoning");
    if (cJSON_IsString(r)) out->reasoning = r->valuestring;
    if (cJSON_IsString(t))
      out->text = t->valuestring;
    else if (cJSON_IsNull(t) && out->reasoning)
      out->text = ""; /* a reasoning server cut off before the answer */
    else {
      snprintf(why, why_n, "reply 'choices[0].message.content': expected a string");
      return L1K_EINPUT;
    }
  }
  const cJSON *fr = cJSON_GetObjectItemCaseSensitive(c0, "finish_reason");
  if (cJSON_IsString(fr)) out->finish_reason = fr->valuestring;
  const cJSON *u = cJSON_GetObjectItemCaseSensitive(json, "usage");
  if (cJSON_IsObject(u)) {
    const cJSON *pt = cJSON_GetObjectItemCaseSensitive(u, "prompt_tokens");
    const cJSON *ct = cJSON_GetObjectItemCaseSensitive(u, "completion_tokens");
    if (cJSON_IsNumber(pt) && pt->valuedouble >= 0) out->prompt_tokens = (long)pt->valuedouble;
    if (cJSON_IsNumber(ct) && ct->valuedouble >= 0) out->completion_tokens = (long)ct->valuedouble;
  }
  return 0;
}

#ifdef LONG1K_HAVE_CURL
l1k_oai_client *l1k_oai_new(const l1k_http_opts *opts, l1k_err *err) {
  static int curl_ready = 0; /* curl_global_init once per process (the CLI is one thread) */
  if (!curl_ready) {
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
      l1k_errf(err, L1K_EINTERNAL, "libcurl: global initialization failed");
      return NULL;
    }
    curl_ready = 1;
  }
  l1k_oai_client *c = l1k_calloc(1, sizeof *c, err);
  if (!c) return NULL;
  c->o = *opts;
  if (c->o.concurrency < 1) c->o.concurrency = 1;
  if (c->o.max_retries < 0) c->o.max_retries = 0;
  c->rng = 0x9E3779B97F4A7C15ull;
  c->fly = l1k_calloc((size_t)c->o.concurrency, sizeof *c->fly, err);
  if (!c->fly) {
    free(c);
    return NULL;
  }
  c->multi = curl_multi_init();
  if (!c->multi) {
    free(c->fly);
    free(c);
    l1k_errf(err, L1K_EINTERNAL, "libcurl: curl_multi_init failed");
    return NULL;
  }
  if (opts->api_key && *opts->api_key) {
    size_t n = strlen(opts->api_key) + 32;
    c->auth = l1k_malloc(n, err);
    if (!c->auth) {
      l1k_oai_free(c);
      return NULL;
    }
    snprintf(c->auth, n, "Authorization: Bearer %s", opts->api_key);
  }
  return c;
}

static void job_free(job *j) {
  if (!j) return;
  free(j->url);
  free(j->auth);
  free(j->body);
  l1k_buf_free(&j->reply);
  if (j->headers) curl_slist_free_all(j->headers);
  free(j);
}

static void job_detach(l1k_oai_client *c, job *j) {
  if (j->easy) {
    curl_multi_remove_handle(c->multi, j->easy);
    curl_easy_cleanup(j->easy);
    j->easy = NULL;
  }
  if (j->headers) {
    curl_slist_free_all(j->headers);
    j->headers = NULL;
  }
}

void l1k_oai_free(l1k_oai_client *c) {
  if (!c) return;
  for (size_t i = 0; i < c->nq; i++) job_free(c->queue[i]);
  free(c->queue);
  /* jobs still in flight (after a stop) */
  for (size_t i = 0; i < c->active; i++) {
    job_detach(c, c->fly[i]);
    job_free(c->fly[i]);
  }
  free(c->fly);
  if (c->multi) curl_multi_cleanup(c->multi);
  free(c->auth);
  free(c);
}

void l1k_oai_each_pending(l1k_oai_client *c, void (*fn)(void *user)) {
  for (size_t i = 0; i < c->nq; i++) {
    fn(c->queue[i]->user);
    c->queue[i]->user = NULL;
  }
  for (size_t i = 0; i < c->active; i++) {
    fn(c->fly[i]->user);
    c->fly[i]->user = NULL;
  }
}

static int queue_push(l1k_oai_client *c, job *j, l1k_err *err) {
  if (c->nq == c->capq) {
    size_t nc = c->capq ? 2 * c->capq : 64;
    job **q = l1k_realloc(c->queue, nc * sizeof *q, err);
    if (!q) return L1K_ENOMEM;
    c->queue = q;
    c->capq = nc;
  }
  c->queue[c->nq++] = j;
  return 0;
}

int l1k_oai_submit(l1k_oai_client *c, const char *url, char *body, int completions, void *user,
                   l1k_err *err) {
  return l1k_oai_submit_key(c, url, NULL, body, completions, user, err);
}

int l1k_oai_submit_key(l1k_oai_client *c, const char *url, const char *api_key, char *body,
                       int completions, void *user, l1k_err *err) {
  job *j = l1k_calloc(1, sizeof *j, err);
  if (!j) {
    free(body);
    return L1K_ENOMEM;
  }
  if (api_key && *api_key) {
    size_t n = strlen(api_key) + 32;
    j->auth = l1k_malloc(n, err);
    if (!j->auth) {
      free(j);
      free(body);
      return L1K_ENOMEM;
    }
    snprintf(j->auth, n, "Authorization: Bearer %s", api_key);
  } else if (api_key)
    j->no_auth = 1;
  j->url = l1k_strdup(url, err);
  j->body = body;
  j->completions = completions;
  j->user = user;
  j->t_first = -1;
  j->t_ready = 0;
  if (!j->url) {
    job_free(j);
    return L1K_ENOMEM;
  }
  int rc = queue_push(c, j, err);
  if (rc) job_free(j);
  return rc;
}

size_t l1k_oai_pending(const l1k_oai_client *c) { return c->nq + c->active; }
const l1k_oai_stats *l1k_oai_get_stats(const l1k_oai_client *c) { return &c->st; }

static size_t on_data(char *p, size_t sz, size_t nm, void *ud) {
  job *j = ud;
  size_t n = sz * nm;
  if (j->reply.len + n > MAX_BODY) {
    j->too_big = 1;
    return 0; /* aborts the transfer */
  }
  if (l1k_buf_append(&j->reply, p, n)) return 0;
  return n;
}

static int job_start(l1k_oai_client *c, job *j, l1k_err *err) {
  j->reply.len = 0;
  j->too_big = 0;
  j->easy = curl_easy_init();
  if (!j->easy) return l1k_errf(err, L1K_EINTERNAL, "libcurl: curl_easy_init failed");
  j->headers = curl_slist_append(NULL, "Content-Type: application/json");
  j->headers = curl_slist_append(j->headers, "Accept: application/json");
  j->headers = curl_slist_append(j->headers, "Expect:"); /* no 100-continue round trip */
  if (j->auth)
    j->headers = curl_slist_append(j->headers, j->auth);
  else if (c->auth && !j->no_auth)
    j->headers = curl_slist_append(j->headers, c->auth);
  CURL *e = j->easy;
  curl_easy_setopt(e, CURLOPT_URL, j->url);
  curl_easy_setopt(e, CURLOPT_POST, 1L);
  curl_easy_setopt(e, CURLOPT_POSTFIELDS, j->body);
  curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(j->body));
  curl_easy_setopt(e, CURLOPT_HTTPHEADER, j->headers);
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_data);
  curl_easy_setopt(e, CURLOPT_WRITEDATA, j);
  curl_easy_setopt(e, CURLOPT_PRIVATE, (char *)j);
  curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)(c->o.timeout_s * 1000));
  curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)(c->o.connect_timeout_s * 1000));
  curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
  curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "");
  curl_easy_setopt(e, CURLOPT_USERAGENT, "long1k-eval/" LONG1K_VERSION);
  CURLMcode mc = curl_multi_add_handle(c->multi, e);
  if (mc != CURLM_OK)
    return l1k_errf(err, L1K_EINTERNAL, "libcurl: %s", curl_multi_strerror(mc));
  if (j->t_first < 0) j->t_first = l1k_now();
  j->attempts++;
  c->fly[c->active++] = j;
  c->st.tries++;
  return 0;
}

/* Pseudo-random factor in [0.8, 1.2) so that retries of many jobs do not arrive together. */
static double jitter(l1k_oai_client *c) {
  c->rng ^= c->rng << 13;
  c->rng ^= c->rng >> 7;
  c->rng ^= c->rng << 17;
  return 0.8 + 0.4 * (double)(c->rng >> 11) / 9007199254740992.0;
}

enum { OUT_OK, OUT_RETRY, OUT_FAIL, OUT_FATAL };

/* Classifies a finished try. Fills r (parsed reply) for OUT_OK; j->last_error otherwise. */
static int classify(l1k_oai_client *c, job *j, CURLcode cc, cJSON **json, l1k_oai_reply *r,
                    double *retry_after) {
  long status = 0;
  curl_easy_getinfo(j->easy, CURLINFO_RESPONSE_CODE, &status);
  j->last_status = status;
  *retry_after = -1;
  if (cc != CURLE_OK) {
    if (j->too_big) {
      snprintf(j->last_error, sizeof j->last_error, "reply larger than %u MiB", MAX_BODY >> 20);
      return OUT_FAIL;
    }
    if (cc == CURLE_UNSUPPORTED_PROTOCOL || cc == CURLE_URL_MALFORMAT) {
      snprintf(j->last_error, sizeof j->last_error, "%s: %s", j->url, curl_easy_strerror(cc));
      return OUT_FATAL;
    }
    if (cc == CURLE_OPERATION_TIMEDOUT) {
      c->st.r_timeout++;
      snprintf(j->last_error, sizeof j->last_error, "timed out after %.0f s", c->o.timeout_s);
    } else {
      c->st.r_conn++;
      snprintf(j->last_error, sizeof j->last_error, "connection: %s", curl_easy_strerror(cc));
    }
    return OUT_RETRY;
  }
  if (status == 429 || status == 408 || status == 409 || status == 425 || status >= 500) {
    curl_off_t ra = -1;
    if (curl_easy_getinfo(j->easy, CURLINFO_RETRY_AFTER, &ra) == CURLE_OK && ra > 0)
      *retry_after = (double)ra;
    if (status == 429)
      c->st.r_429++;
    else
      c->st.r_5xx++;
    snprintf(j->last_error, sizeof j->last_error, "HTTP %ld: %.200s", status,
             j->reply.data ? j->reply.data : "");
    return OUT_RETRY;
  }
  if (status < 200 || status >= 300) {
    snprintf(j->last_error, sizeof j->last_error, "HTTP %ld from %s: %.250s", status, j->url,
             j->reply.data ? j->reply.data : "");
    return (status == 401 || status == 403 || status == 404 || status == 405) ? OUT_FATAL
                                                                              : OUT_FAIL;
  }
  if (l1k_buf_append(&j->reply, "", 0)) {
    snprintf(j->last_error, sizeof j->last_error, "out of memory");
    return OUT_FAIL;
  }
  *json = cJSON_ParseWithLength(j->reply.data, j->reply.len);
  char why[300];
  if (!*json) {
    c->st.r_malformed++;
    snprintf(j->last_error, sizeof j->last_error, "malformed JSON reply (%zu bytes): %.120s",
             j->reply.len, j->reply.data);
    return OUT_RETRY;
  }
  if (l1k_oai_parse_reply(*json, j->completions, r, why, sizeof why)) {
    c->st.r_malformed++;
    snprintf(j->last_error, sizeof j->last_error, "%s", why);
    cJSON_Delete(*json);
    *json = NULL;
    return OUT_RETRY;
  }
  return OUT_OK;
}

int l1k_oai_run(l1k_oai_client *c, l1k_oai_refill_fn refill, l1k_oai_done_fn done,
                l1k_oai_tick_fn tick, void *ctx, volatile sig_atomic_t *stop, l1k_err *err) {
  int rc = 0;
  double last_tick = 0;
  size_t low = 2 * (size_t)c->o.concurrency;
  for (;;) {
    if (stop && *stop) return 0;
    if (refill && c->nq + c->active < low) {
      if ((rc = refill(ctx, c, err))) return rc;
    }
    double now = l1k_now();
    /* Start ready jobs, oldest first. */
    for (size_t i = 0; i < c->nq && c->active < (size_t)c->o.concurrency;) {
      job *j = c->queue[i];
      if (j->t_ready > now) {
        i++;
        continue;
      }
      memmove(c->queue + i, c->queue + i + 1, (c->nq - i - 1) * sizeof *c->queue);
      c->nq--;
      if ((rc = job_start(c, j, err))) {
        job_detach(c, j);
        job_free(j);
        return rc;
      }
    }
    if (c->active == 0 && c->nq == 0) {
      if (!refill) break;
      if ((rc = refill(ctx, c, err))) return rc;
      if (c->nq == 0) break;
      continue;
    }
    int running = 0;
    CURLMcode mc = curl_multi_perform(c->multi, &running);
    if (mc != CURLM_OK) return l1k_errf(err, L1K_EINTERNAL, "libcurl: %s", curl_multi_strerror(mc));
    CURLMsg *m;
    int left;
    while ((m = curl_multi_info_read(c->multi, &left))) {
      if (m->msg != CURLMSG_DONE) continue;
      job *j = NULL;
      curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&j);
      for (size_t i = 0; i < c->active; i++)
        if (c->fly[i] == j) {
          c->fly[i] = c->fly[--c->active];
          break;
        }
      cJSON *json = NULL;
      l1k_oai_reply r;
      memset(&r, 0, sizeof r);
      double ra;
      int out = classify(c, j, m->data.result, &json, &r, &ra);
      job_detach(c, j);
      if (out == OUT_RETRY && j->attempts <= c->o.max_retries) {
        double w = l1k_http_backoff(&c->o, j->attempts, ra);
        if (ra < 0) w *= jitter(c);
        j->t_ready = l1k_now() + w;
        c->st.retries++;
        l1k_debug("retry %d of %s in %.1f s: %s", j->attempts, j->url, w, j->last_error);
        if ((rc = queue_push(c, j, err))) {
          job_free(j);
          return rc;
        }
        continue;
      }
      r.ok = out == OUT_OK;
      r.fatal = out == OUT_FATAL;
      r.http_status = j->last_status;
      r.attempts = j->attempts;
      r.seconds = l1k_now() - j->t_first;
      if (!r.ok) {
        snprintf(r.error, sizeof r.error, "%s%s", j->last_error,
                 out == OUT_RETRY ? " (retries exhausted)" : "");
        c->st.failed++;
      }
      c->st.requests++;
      rc = done(ctx, c, j->user, &r, err);
      cJSON_Delete(json);
      job_free(j);
      if (rc) return rc;
    }
    now = l1k_now();
    if (tick && now - last_tick >= 0.2) {
      tick(ctx, &c->st);
      last_tick = now;
    }
    /* Sleep until the sockets have news, or the next queued job becomes ready. */
    int wait_ms = 200;
    if (c->active < (size_t)c->o.concurrency)
      for (size_t i = 0; i < c->nq; i++) {
        double d = (c->queue[i]->t_ready - now) * 1000;
        int w = d <= 0 ? 0 : (int)d + 1;
        if (w < wait_ms) wait_ms = w;
      }
    if (c->active > 0 || wait_ms > 0) {
      mc = curl_multi_poll(c->multi, NULL, 0, wait_ms, NULL);
      if (mc != CURLM_OK) return l1k_errf(err, L1K_EINTERNAL, "libcurl: %s", curl_multi_strerror(mc));
    }
  }
  if (tick) tick(ctx, &c->st);
  return 0;
}

#else /* the no-curl path: no client can be made, so nothing below ever gets one */

struct l1k_oai_client {
  l1k_oai_stats st;
};

#define L1K_NO_CURL_MSG "long1k was built without libcurl: --endpoint is not available; use --model"

l1k_oai_client *l1k_oai_new(const l1k_http_opts *opts, l1k_err *err) {
  l1k_errf(err, L1K_EINPUT, L1K_NO_CURL_MSG);
  return NULL;
}

void l1k_oai_free(l1k_oai_client *c) { free(c); }
void l1k_oai_each_pending(l1k_oai_client *c, void (*fn)(void *user)) {}

int l1k_oai_submit(l1k_oai_client *c, const char *url, char *body, int completions, void *user,
                   l1k_err *err) {
  return l1k_errf(err, L1K_EINPUT, L1K_NO_CURL_MSG);
}

int l1k_oai_submit_key(l1k_oai_client *c, const char *url, const char *api_key, char *body,
                       int completions, void *user, l1k_err *err) {
  return l1k_errf(err, L1K_EINPUT, L1K_NO_CURL_MSG);
}

size_t l1k_oai_pending(const l1k_oai_client *c) { return 0; }
const l1k_oai_stats *l1k_oai_get_stats(const l1k_oai_client *c) { return &c->st; }

int l1k_oai_run(l1k_oai_client *c, l1k_oai_refill_fn refill, l1k_oai_done_fn done,
                l1k_oai_tick_fn tick, void *ctx, volatile sig_atomic_t *stop, l1k_err *err) {
  return l1k_errf(err, L1K_EINPUT, L1K_NO_CURL_MSG);
}
#endif /* LONG1K_HAVE_CURL */
