/* OpenAI client pieces without a server: reply parsing (chat, completions, reasoning_content,
 * missing usage, error objects, wrong shapes), endpoint URLs, the backoff schedule with
 * Retry-After, and a run against a port where nothing listens (connection errors retried,
 * then reported through the done callback). */
#include <unistd.h>

#include "check.h"
#include "long1k/eval.h"
#include "long1k/log.h"

static int parse(const char *json, int completions, l1k_oai_reply *r, char *why) {
  cJSON *j = cJSON_Parse(json);
  memset(r, 0, sizeof *r);
  int rc = l1k_oai_parse_reply(j, completions, r, why, 300);
  /* keep the strings valid: copy what the checks read */
  static char text[256], fr[64], rs[256];
  text[0] = fr[0] = rs[0] = 0;
  if (!rc) {
    snprintf(text, sizeof text, "%s", r->text);
    if (r->finish_reason) snprintf(fr, sizeof fr, "%s", r->finish_reason);
    if (r->reasoning) snprintf(rs, sizeof rs, "%s", r->reasoning);
    r->text = text;
    r->finish_reason = r->finish_reason ? fr : NULL;
    r->reasoning = r->reasoning ? rs : NULL;
  }
  cJSON_Delete(j);
  return rc;
}

typedef struct {
  int done, ok, failed;
  long attempts;
  char error[512];
} ctx_t;

static int on_done(void *ctx, l1k_oai_client *c, void *user, const l1k_oai_reply *r, l1k_err *err) {
  ctx_t *x = ctx;
  x->done++;
  x->ok += r->ok;
  x->failed += !r->ok;
  x->attempts += r->attempts;
  snprintf(x->error, sizeof x->error, "%s", r->error);
  return 0;
}

int main(void) {
  l1k_oai_reply r;
  char why[300];
  /* chat */
  CHECK(parse("{\"choices\":[{\"message\":{\"role\":\"assistant\",\"content\":\"x = \\\\boxed{4}\"},"
              "\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":12,\"completion_tokens\":5}}",
              0, &r, why) == 0);
  CHECK_STR(r.text, "x = \\boxed{4}");
  CHECK_STR(r.finish_reason, "stop");
  CHECK(r.prompt_tokens == 12 && r.completion_tokens == 5);
  CHECK(r.reasoning == NULL);
  /* reasoning split off by the server; no usage */
  CHECK(parse("{\"choices\":[{\"message\":{\"content\":\"42\",\"reasoning_content\":\"think\"},"
              "\"finish_reason\":\"length\"}]}", 0, &r, why) == 0);
  CHECK_STR(r.reasoning, "think");
  CHECK_STR(r.finish_reason, "length");
  CHECK(r.completion_tokens == -1 && r.prompt_tokens == -1);
  /* content null with reasoning: cut off before the answer */
  CHECK(parse("{\"choices\":[{\"message\":{\"content\":null,\"reasoning_content\":\"long\"},"
              "\"finish_reason\":\"length\"}]}", 0, &r, why) == 0);
  CHECK_STR(r.text, "");
  /* completions */
  CHECK(parse("{\"choices\":[{\"text\":\"abc\",\"finish_reason\":null}],\"usage\":{\"completion_tokens\":3}}",
              1, &r, why) == 0);
  CHECK_STR(r.text, "abc");
  CHECK(r.finish_reason == NULL && r.completion_tokens == 3);
  /* wrong shapes */
  CHECK(parse("{\"choices\":[]}", 0, &r, why) == L1K_EINPUT);
  CHECK(strstr(why, "choices") != NULL);
  CHECK(parse("{\"choices\":[{\"text\":\"abc\"}]}", 0, &r, why) == L1K_EINPUT);
  CHECK(strstr(why, "message") != NULL);
  CHECK(parse("{\"choices\":[{\"message\":{\"content\":\"x\"}}]}", 1, &r, why) == L1K_EINPUT);
  CHECK(parse("{\"error\":{\"message\":\"overloaded\"}}", 0, &r, why) == L1K_EINPUT);
  CHECK(strstr(why, "overloaded") != NULL);
  CHECK(parse("[1,2]", 0, &r, why) == L1K_EINPUT);
  CHECK(parse("{\"choices\":[{\"message\":{\"content\":7}}]}", 0, &r, why) == L1K_EINPUT);

  /* URLs */
  struct {
    const char *in;
    int compl;
    const char *out;
  } urls[] = {
      {"http://h:8000", 0, "http://h:8000/v1/chat/completions"},
      {"http://h:8000/", 0, "http://h:8000/v1/chat/completions"},
      {"http://h:8000/v1", 0, "http://h:8000/v1/chat/completions"},
      {"http://h:8000/v1/", 1, "http://h:8000/v1/completions"},
      {"https://api.x.com/v1/chat/completions", 0, "https://api.x.com/v1/chat/completions"},
      {"http://h/proxy/v1/completions", 1, "http://h/proxy/v1/completions"},
      {"http://h:1", 1, "http://h:1/v1/completions"},
      {"https://x.azure.com/openai/deployments/d/chat/completions?api-version=2024-06-01", 0,
       "https://x.azure.com/openai/deployments/d/chat/completions?api-version=2024-06-01"},
  };
  for (size_t i = 0; i < sizeof urls / sizeof *urls; i++) {
    char *u = l1k_oai_url(urls[i].in, urls[i].compl);
    CHECK_STR(u, urls[i].out);
    free(u);
  }

  /* backoff: 0.5, 1, 2, 4 capped at 3; Retry-After wins when longer, capped at 10 */
  l1k_http_opts o;
  l1k_http_opts_default(&o);
  CHECK(o.concurrency == 8 && o.max_retries == 6);
  o.backoff_s = 0.5;
  o.backoff_max_s = 3;
  o.retry_after_max_s = 10;
  CHECK_CLOSE(l1k_http_backoff(&o, 1, -1), 0.5, 1e-12);
  CHECK_CLOSE(l1k_http_backoff(&o, 2, -1), 1.0, 1e-12);
  CHECK_CLOSE(l1k_http_backoff(&o, 3, -1), 2.0, 1e-12);
  CHECK_CLOSE(l1k_http_backoff(&o, 4, -1), 3.0, 1e-12);
  CHECK_CLOSE(l1k_http_backoff(&o, 1, 5), 5.0, 1e-12);
  CHECK_CLOSE(l1k_http_backoff(&o, 4, 1), 3.0, 1e-12);
  CHECK_CLOSE(l1k_http_backoff(&o, 1, 600), 10.0, 1e-12);

  /* nothing listens on port 1: each request is retried twice, then fails */
  l1k_err err = {0};
  o.backoff_s = 0.01;
  o.backoff_max_s = 0.02;
  o.max_retries = 2;
  o.concurrency = 2;
  o.connect_timeout_s = 2;
  l1k_oai_client *c = l1k_oai_new(&o, &err);
  CHECK(c != NULL);
  for (int i = 0; i < 3; i++) {
    char *body = strdup("{\"model\":\"m\",\"messages\":[]}");
    CHECK(l1k_oai_submit(c, "http://127.0.0.1:1/v1/chat/completions", body, 0, NULL, &err) == 0);
  }
  CHECK(l1k_oai_pending(c) == 3);
  ctx_t x = {0};
  double t0 = l1k_now();
  CHECK(l1k_oai_run(c, NULL, on_done, NULL, &x, NULL, &err) == 0);
  CHECK(l1k_now() - t0 < 10);
  CHECK(x.done == 3 && x.failed == 3 && x.ok == 0);
  CHECK(x.attempts == 9);
  CHECK(strstr(x.error, "retries exhausted") != NULL);
  const l1k_oai_stats *st = l1k_oai_get_stats(c);
  CHECK_MSG(st->tries == 9 && st->retries == 6 && st->failed == 3 && st->r_conn == 9,
            "tries %lld retries %lld failed %lld conn %lld", (long long)st->tries,
            (long long)st->retries, (long long)st->failed, (long long)st->r_conn);
  CHECK(l1k_oai_pending(c) == 0);
  l1k_oai_free(c);

  /* a malformed URL is fatal at once, no retry */
  c = l1k_oai_new(&o, &err);
  memset(&x, 0, sizeof x);
  CHECK(l1k_oai_submit(c, "nope://x", strdup("{}"), 0, NULL, &err) == 0);
  CHECK(l1k_oai_run(c, NULL, on_done, NULL, &x, NULL, &err) == 0);
  CHECK(x.done == 1 && x.failed == 1 && x.attempts == 1);
  l1k_oai_free(c);
  CHECK_DONE();
}
