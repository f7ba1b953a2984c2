/* libFuzzer target: the dataset cache checker (l1k_dataset_cache_check) on any bytes. The first
 * input byte is a flag: bit 0 recomputes the crc32, bit 1 takes the expected key from the
 * header itself, so that mutations reach the offset / id / mask checks. Invariants on every
 * accepted file: the offsets start at 0, never decrease and end at n_tokens, and every sample's
 * ids and mask lie inside the buffer (read through the l1k_dataset view as the trainer does:
 * ASan catches any overrun). A refused file comes with L1K_EINPUT and a message naming it.
 * Seeds: fuzz/seeds/dataset_cache (made by fuzz/make_seeds.py). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "long1k/dataset.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  size_t n = size - 1;
  uint8_t *buf = malloc(n ? n : 1);
  if (!buf) return 0;
  if (n) memcpy(buf, data + 1, n);
  if ((data[0] & 1) && n >= 128) {
    memset(buf + 12, 0, 4);
    uint32_t crc = (uint32_t)crc32_z(0, buf, n);
    memcpy(buf + 12, &crc, 4);
  }
  uint64_t key = 0;
  if ((data[0] & 2) && n >= 24) memcpy(&key, buf + 16, 8);
  l1k_err err = {0};
  int rc = l1k_dataset_cache_check(buf, n, key, "fuzz.bin", &err);
  if (rc) {
    if (rc != L1K_EINPUT || !strstr(err.msg, "fuzz.bin")) abort();
    free(buf);
    return 0;
  }
  int64_t ns, ntok;
  memcpy(&ns, buf + 24, 8);
  memcpy(&ntok, buf + 32, 8);
  /* the view the loader builds over the mapped file (8-byte aligned copy) */
  size_t pay = n - 128;
  uint64_t *al = malloc(pay / 8 + 1 > 0 ? (pay / 8 + 1) * 8 : 8);
  if (!al) abort();
  memcpy(al, buf + 128, pay);
  l1k_dataset ds;
  memset(&ds, 0, sizeof ds);
  ds.n = ns;
  ds.n_tokens = ntok;
  ds.off = (const int64_t *)al;
  ds.ids = (const int32_t *)(ds.off + ns + 1);
  ds.mask = (const uint8_t *)(ds.ids + ntok);
  if (ds.off[0] != 0 || ds.off[ns] != ntok) abort();
  int64_t t = 0;
  for (int64_t i = 0; i < ns; i++) {
    if (l1k_dataset_len(&ds, i) < 0) abort();
    t += l1k_dataset_targets(&ds, i);
    for (int64_t j = ds.off[i]; j < ds.off[i + 1]; j++) t += ds.ids[j] < 0;
  }
  free(al);
  free(buf);
  return t < 0 ? 0 : 0;
}
