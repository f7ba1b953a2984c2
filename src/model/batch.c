/* long1k — the host side of a batch that every backend shares: validation and the per-token
 * layout (position ids, documents inside packed rows, targets). */
#include "model/model_internal.h"

int model_batch_layout(const l1k_batch *b, int vocab, int32_t *pos, int32_t *seg, int32_t *target,
                       l1k_err *err) {
  int B = b->B, T = b->T, V = vocab;
  for (int r = 0; r < B; r++) {
    for (int t = 0; t < T; t++) {
      size_t i = (size_t)r * T + t;
      int32_t id = b->ids[i];
      if (id < 0 || id >= V)
        return l1k_errf(err, L1K_EINPUT,
                        "batch row %d position %d: token id %d out of range (vocab_size is %d)", r,
                        t, id, V);
      if (b->labels) {
        int32_t lb = b->labels[i];
        if (lb != -100 && (lb < 0 || lb >= V))
          return l1k_errf(err, L1K_EINPUT,
                          "batch row %d position %d: label %d out of range (expected -100 or 0..%d)",
                          r, t, lb, V - 1);
      }
      int32_t p = b->pos ? b->pos[i] : t;
      if (p < 0)
        return l1k_errf(err, L1K_EINPUT, "batch row %d position %d: negative position id %d", r, t, p);
      pos[i] = p;
      int newdoc;
      if (t == 0) newdoc = 1;
      else if (b->doc) newdoc = b->doc[i] != b->doc[i - 1];
      else newdoc = !(p > pos[i - 1]);
      seg[i] = newdoc ? t : seg[i - 1];
    }
    for (int t = 0; t < T; t++) {
      size_t i = (size_t)r * T + t;
      int32_t tg = -1;
      if (b->labels && t + 1 < T && seg[i + 1] == seg[i] && b->labels[i + 1] != -100)
        tg = b->labels[i + 1];
      target[i] = tg;
    }
  }
  return 0;
}
