/* long1k CLI — the --device and --precision options (see cli.h). */
#include <string.h>

#include "cli/cli.h"
#include "long1k/log.h"
#include "long1k/model.h"

int cli_parse_precision(const char *s, int *out) {
  if (!strcmp(s, "auto")) *out = L1K_DEVICE_PREC_DEFAULT;
  else if (!strcmp(s, "fp32")) *out = L1K_DEVICE_PREC_FP32;
  else if (!strcmp(s, "bf16")) *out = L1K_DEVICE_PREC_BF16;
  else return -1;
  return 0;
}

int cli_generation_device(const char *device, l1k_err *err) {
  return l1k_device_check(device, "--device", NULL, err);
}

int cli_generation_attach(l1k_model *m, const char *device, int precision, l1k_err *err) {
  const char *resolved = NULL;
  int rc = l1k_device_check(device, "--device", &resolved, err);
  if (rc || strcmp(resolved, "cuda")) return rc;
  l1k_device_opts o = {.precision = (l1k_device_precision)precision, .deterministic = 1,
                       .what = "--device", .inference_only = 1};
  rc = l1k_model_attach(m, device, &o, err);
  if (rc && rc != L1K_ENOMEM && (!device || !strcmp(device, "auto"))) {
    /* auto: a model the GPU engine does not take (head_dim, grouping) runs on the CPU */
    l1k_info("device auto: %s; generating on the CPU", err ? err->msg : "cuda cannot run this model");
    if (err) memset(err, 0, sizeof *err);
    return 0;
  }
  return rc;
}
