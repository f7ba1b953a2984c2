/* long1k — the backend registry (src/backend/backend.c): picks a backend of the seam
 * (src/backend/ops.h) by name. Private to the model library. */
#ifndef LONG1K_BACKEND_REGISTRY_H
#define LONG1K_BACKEND_REGISTRY_H

#include "backend/ops.h"

/* "cpu", "cuda" or "auto" (NULL or "" = "auto": cuda when its available() says yes, else
 * cpu). Returns the backend, or NULL with err set (L1K_EINPUT) to one line naming the setting
 * (`what`, e.g. "--device" or "device") and why: an unknown name, or a backend that cannot
 * run here ("--device cuda: long1k was built without the CUDA backend (no nvcc at build
 * time)"). *chose_auto (optional) is set when "auto" picked cuda. */
const l1k_backend_ops *l1k_backend_pick(const char *name, const char *what, int *chose_auto,
                                        l1k_err *err);

#endif
