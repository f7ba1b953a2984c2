/* LR schedules against transformers' get_scheduler (../shared/golden/train/lr_schedules.json),
 * every step of every schedule. */
#include <cjson/cJSON.h>

#include "check.h"
#include "long1k/io.h"
#include "long1k/sched.h"

int main(void) {
  l1k_err err = {0};
  char *text = l1k_read_file(shared_path("golden/train/lr_schedules.json"), NULL, &err);
  if (!text) {
    fprintf(stderr, "%s\n", err.msg);
    return 1;
  }
  cJSON *root = cJSON_Parse(text);
  CHECK(root && cJSON_IsArray(root));
  int n_sched = 0;
  long n_steps = 0;
  cJSON *e;
  cJSON_ArrayForEach(e, root) {
    const char *name = cJSON_GetObjectItem(e, "schedule")->valuestring;
    double peak = cJSON_GetObjectItem(e, "peak_lr")->valuedouble;
    int64_t w = (int64_t)cJSON_GetObjectItem(e, "warmup_steps")->valuedouble;
    int64_t total = (int64_t)cJSON_GetObjectItem(e, "total_steps")->valuedouble;
    cJSON *lrs = cJSON_GetObjectItem(e, "lr_per_step");
    l1k_sched_type t;
    /* transformers' "constant" rows with warmup are constant_with_warmup */
    const char *ours = strcmp(name, "constant") == 0 ? "constant_with_warmup" : name;
    CHECK(l1k_sched_by_name(ours, &t, &err) == 0);
    CHECK(cJSON_GetArraySize(lrs) == total);
    int64_t s = 0;
    cJSON *v;
    cJSON_ArrayForEach(v, lrs) {
      double want = v->valuedouble, got = l1k_sched_lr(t, peak, w, total, s);
      CHECK_MSG(fabs(got - want) <= 1e-12 * peak, "%s W=%lld N=%lld step %lld: %.17g vs %.17g",
                name, (long long)w, (long long)total, (long long)s, got, want);
      s++;
      n_steps++;
    }
    n_sched++;
  }
  CHECK(n_sched == 9);
  fprintf(stderr, "%d schedules, %ld steps compared\n", n_sched, n_steps);
  /* warmup steps from a ratio: transformers rounds up */
  CHECK(l1k_sched_warmup_steps(310, 0.05, 0) == 16);
  CHECK(l1k_sched_warmup_steps(100, 0.05, 0) == 5);
  CHECK(l1k_sched_warmup_steps(101, 0.05, 0) == 6);
  CHECK(l1k_sched_warmup_steps(310, 0.05, 3) == 3);
  CHECK(l1k_sched_warmup_steps(310, 0.0, 0) == 0);
  /* "constant": no warmup at all */
  CHECK(l1k_sched_lr(L1K_SCHED_CONSTANT, 2e-5, 5, 10, 0) == 2e-5);
  CHECK(l1k_sched_by_name("cosine_with_restarts", &(l1k_sched_type){0}, &err) == L1K_EINPUT);
  CHECK(strstr(err.msg, "cosine_with_restarts") != NULL);
  cJSON_Delete(root);
  free(text);
  CHECK_DONE();
}
