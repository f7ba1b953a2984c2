/* Agreement of l1k_math_equal with the grader's own test set (tests/eval/data/, built by
 * gen_grader_cases.py from Math-Verify's test suite, other graders' conventions and MATH500
 * golds phrased as models write them). The set is split by a fixed hash: the dev part is
 * tuned on (>= 97% required, misses printed), the held-out part only measured (>= 95%
 * required; its misses are printed only with LONG1K_SHOW_HELDOUT=1, so tuning does not look
 * at them). Every line must carry gold, pred, equal, source and reason. */
#include <cjson/cJSON.h>

#include "check.h"
#include "long1k/grade.h"
#include "long1k/jsonl.h"

static const char *field(const cJSON *rec, const char *name) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(rec, name);
  return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* percent agreement over one file; *n gets the number of cases */
static double agreement(const char *path, int show, int *n_out) {
  l1k_err err = {0};
  l1k_jsonl *r = l1k_jsonl_open(path, &err);
  CHECK_MSG(r != NULL, "%s", err.msg);
  if (!r) return 0;
  cJSON *rec;
  int rc, n = 0, agree = 0;
  while ((rc = l1k_jsonl_next(r, &rec, &err)) == 1) {
    long long line = (long long)l1k_jsonl_line_no(r);
    const char *g = field(rec, "gold"), *p = field(rec, "pred");
    const cJSON *eqf = cJSON_GetObjectItemCaseSensitive(rec, "equal");
    CHECK_MSG(g && p && cJSON_IsBool(eqf) && field(rec, "source") && field(rec, "reason"),
              "%s:%lld: needs string gold, pred, source, reason and boolean equal", path, line);
    if (g && p && cJSON_IsBool(eqf)) {
      int want = cJSON_IsTrue(eqf), got = l1k_math_equal(g, p);
      n++;
      if (got == want) agree++;
      else if (show)
        fprintf(stderr, "miss %s:%lld: equal=%s, we say %s (%s)\n", path, line, want ? "true" : "false",
                got ? "true" : "false", field(rec, "reason") ? field(rec, "reason") : "");
    }
    cJSON_Delete(rec);
  }
  CHECK_MSG(rc == 0, "%s", err.msg);
  l1k_jsonl_close(r);
  *n_out = n;
  return n ? 100.0 * agree / n : 0;
}

int main(void) {
  int nd = 0, nh = 0;
  double dev = agreement("tests/eval/data/grader_cases.dev.jsonl", 1, &nd);
  const char *show = getenv("LONG1K_SHOW_HELDOUT");
  double held = agreement("tests/eval/data/grader_cases.heldout.jsonl", show && *show == '1', &nh);
  fprintf(stderr, "dev: %.2f%% of %d; held-out: %.2f%% of %d\n", dev, nd, held, nh);
  CHECK_MSG(nd >= 400 && nh >= 150, "the set is smaller than built (%d dev, %d held-out)", nd, nh);
  CHECK_MSG(dev >= 97.0, "dev agreement %.2f%% is below 97%%", dev);
  CHECK_MSG(held >= 95.0, "held-out agreement %.2f%% is below 95%%", held);
  CHECK_DONE();
}
