/* long1k — the CUDA backend's table in a build without nvcc (CMake compiles this file only
 * when LONG1K_HAVE_CUDA is off; src/backend/cuda/ defines the real table otherwise). It says
 * why it cannot run; every other entry is NULL and is never called (the registry checks
 * available() first). */
#include <stdio.h>

#include "backend/ops.h"

static int cuda_absent_available(char *why, size_t why_len) {
  if (why && why_len)
    snprintf(why, why_len, "long1k was built without the CUDA backend (no nvcc at build time)");
  return 0;
}

const l1k_backend_ops l1k_backend_cuda_ops = {
    .name = "cuda",
    .available = cuda_absent_available,
};
