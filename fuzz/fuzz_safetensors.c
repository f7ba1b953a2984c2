/* libFuzzer target: the safetensors header parser and validator (l1k_st_parse) on any bytes.
 * Invariants checked on every accepted file: each tensor's data lies inside the buffer, its
 * byte size is numel * element size, no two non-empty tensors overlap, and converting every
 * tensor to float32 touches only its own bytes (ASan catches any overrun). A refused file
 * must come with a message that names the file. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "long1k/safetensors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  /* copy so that ASan sees the exact end of the buffer */
  uint8_t *buf = malloc(size ? size : 1);
  if (!buf) return 0;
  if (size) memcpy(buf, data, size);
  l1k_safetensors st;
  l1k_err err = {0};
  int rc = l1k_st_parse(&st, buf, size, "fuzz.safetensors", &err);
  if (rc) {
    if (!strstr(err.msg, "fuzz.safetensors")) abort();
    if (rc != L1K_EINPUT && rc != L1K_EUNSUPPORTED && rc != L1K_ENOMEM) abort();
    free(buf);
    return 0;
  }
  for (size_t i = 0; i < st.n; i++) {
    const l1k_st_tensor *t = &st.t[i];
    const uint8_t *p = t->data;
    if (p < buf || p + t->nbytes > buf + size) abort();
    if (t->nbytes != t->numel * l1k_dtype_size(t->dtype)) abort();
    if (l1k_st_find(&st, t->name) != t) abort(); /* names unique */
    for (size_t j = 0; j < i; j++) {
      const l1k_st_tensor *u = &st.t[j];
      if (!t->nbytes || !u->nbytes) continue;
      const uint8_t *a = t->data, *b = u->data;
      if (a < b + u->nbytes && b < a + t->nbytes) abort();
    }
    if (t->numel <= (1u << 20)) {
      float *f = malloc((t->numel ? t->numel : 1) * sizeof *f);
      if (f) {
        l1k_st_to_f32(t, f);
        free(f);
      }
    }
  }
  l1k_st_close(&st);
  free(buf);
  return 0;
}
