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
  const char *resolved = NULL;
  int rc = l1k_device_check(device, "--device", &resolved, err);
  if (rc) return rc;
  if (strcmp(resolved, "cuda")) return 0;
  if (device && !strcmp(device, "cuda"))
    return l1k_errf(err, L1K_EUNSUPPORTED,
                    "--device cuda: generation runs on the CPU engine only (GPU decoding is "
                    "planned as the backend's decode entries, docs/DESIGN.md); use --device cpu");
  l1k_info("device auto: generating on the CPU (GPU decoding is not implemented yet)");
  return 0;
}
