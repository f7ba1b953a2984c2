/* Agreement of l1k_math_equal with the `equal` verdicts of the 249 dev cases taken from the
 * test suites of public graders (../shared/eval/grader_cases.dev.jsonl). Fails below 97%.
 * The cases we still disagree with are listed in docs/grader.md with the reason; this test
 * prints them. Gold and pred may be JSON numbers or null (null never equals anything). */
#include <cjson/cJSON.h>

#include "check.h"
#include "long1k/grade.h"
#include "long1k/jsonl.h"

static char *str_of(const cJSON *v) {
  if (!v || cJSON_IsNull(v)) return NULL;
  if (cJSON_IsString(v)) return strdup(v->valuestring);
  return cJSON_PrintUnformatted(v);
}

int main(void) {
  const char *path = shared_path("eval/grader_cases.dev.jsonl");
  l1k_err err = {0};
  l1k_jsonl *r = l1k_jsonl_open(path, &err);
  if (!r) SKIP("%s", err.msg);
  cJSON *rec;
  int rc, n = 0, agree = 0, n_true = 0, agree_true = 0;
  while ((rc = l1k_jsonl_next(r, &rec, &err)) == 1) {
    const cJSON *eqf = cJSON_GetObjectItemCaseSensitive(rec, "equal");
    CHECK_MSG(cJSON_IsBool(eqf), "line %lld: no boolean 'equal'", (long long)l1k_jsonl_line_no(r));
    char *g = str_of(cJSON_GetObjectItemCaseSensitive(rec, "gold"));
    char *p = str_of(cJSON_GetObjectItemCaseSensitive(rec, "pred"));
    int want = cJSON_IsTrue(eqf);
    int got = l1k_math_equal(g, p);
    /* symmetry of the decision is not required (gold is the reference), but determinism is */
    CHECK(l1k_math_equal(g, p) == got);
    n++;
    n_true += want;
    if (got == want) {
      agree++;
      agree_true += want;
    } else {
      fprintf(stderr, "disagree line %lld: equal=%s, we say %s\n", (long long)l1k_jsonl_line_no(r),
              want ? "true" : "false", got ? "true" : "false");
    }
    free(g);
    free(p);
    cJSON_Delete(rec);
  }
  CHECK_MSG(rc == 0, "%s", err.msg);
  l1k_jsonl_close(r);
  CHECK(n == 249);
  double pct = n ? 100.0 * agree / n : 0;
  fprintf(stderr, "agreement: %d/%d = %.2f%% (on equal=true: %d/%d)\n", agree, n, pct, agree_true, n_true);
  CHECK_MSG(pct >= 97.0, "agreement %.2f%% is below 97%%", pct);
  CHECK_DONE();
}
