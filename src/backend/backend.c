/* long1k — the backend registry: see src/backend/registry.h. */
#include <string.h>

#include "backend/registry.h"

const l1k_backend_ops *l1k_backend_pick(const char *name, const char *what, int *chose_auto,
                                        l1k_err *err) {
  char why[256] = "";
  if (!what) what = "device";
  if (chose_auto) *chose_auto = 0;
  if (!name || !*name || !strcmp(name, "auto")) {
    if (l1k_backend_cuda_ops.available && l1k_backend_cuda_ops.available(why, sizeof why)) {
      if (chose_auto) *chose_auto = 1;
      return &l1k_backend_cuda_ops;
    }
    return &l1k_backend_cpu_ops;
  }
  const l1k_backend_ops *all[] = {&l1k_backend_cpu_ops, &l1k_backend_cuda_ops};
  for (size_t i = 0; i < sizeof all / sizeof *all; i++) {
    if (strcmp(name, all[i]->name)) continue;
    if (all[i]->available && all[i]->available(why, sizeof why)) return all[i];
    l1k_errf(err, L1K_EINPUT, "%s %s: %s", what, name,
             why[0] ? why : "this backend cannot run here");
    return NULL;
  }
  l1k_errf(err, L1K_EINPUT, "%s %.64s: unknown device (expected cpu, cuda or auto)", what, name);
  return NULL;
}
