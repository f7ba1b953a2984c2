/* The OpenAI client's no-curl path (CMake LONG1K_CURL=OFF: the GPU machine of
 * scripts/gpu-check.sh has no libcurl), compiled here whatever this build chose: client.c is
 * included without LONG1K_HAVE_CURL, so its definitions replace the library's. l1k_oai_new must
 * refuse with the one line the user sees (L1K_EINPUT -> exit 2), the other entry points must
 * refuse the same way, and the helpers that need no network must keep working. */
#include "check.h"
#include "eval/client.c"

#define WANT "long1k was built without libcurl: --endpoint is not available; use --model"

int main(void) {
  l1k_http_opts o;
  l1k_http_opts_default(&o);
  CHECK(o.concurrency == 8);
  l1k_err err = {0};
  l1k_oai_client *c = l1k_oai_new(&o, &err);
  CHECK(c == NULL);
  CHECK(err.code == L1K_EINPUT);
  CHECK(l1k_exit_code(err.code) == 2);
  CHECK_STR(err.msg, WANT);
  CHECK(strchr(err.msg, '\n') == NULL);

  l1k_err e2 = {0};
  char body[] = "{}";
  CHECK(l1k_oai_submit(NULL, "http://x/v1/chat/completions", body, 0, NULL, &e2) == L1K_EINPUT);
  CHECK_STR(e2.msg, WANT);
  l1k_err e3 = {0};
  CHECK(l1k_oai_run(NULL, NULL, NULL, NULL, NULL, NULL, &e3) == L1K_EINPUT);
  CHECK_STR(e3.msg, WANT);
  CHECK(l1k_oai_pending(NULL) == 0);
  l1k_oai_free(NULL);

  /* no network needed: still there */
  char *u = l1k_oai_url("http://127.0.0.1:8000", 0);
  CHECK(u != NULL);
  if (u) CHECK_STR(u, "http://127.0.0.1:8000/v1/chat/completions");
  free(u);
  CHECK(l1k_http_backoff(&o, 1, -1) > 0);
  CHECK_DONE();
}
