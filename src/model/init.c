/* long1k — random initialization of a model like transformers' _init_weights. */
#include <math.h>
#include <string.h>

#include "model/model_internal.h"
#include "long1k/rng.h"

static double uniform01(uint64_t *s) { /* (0, 1) */
  return ((double)(l1k_splitmix64(s) >> 11) + 0.5) * (1.0 / 9007199254740992.0);
}

void l1k_model_init_random(l1k_model *m, uint64_t seed) {
  double std = m->cfg.initializer_range > 0 ? m->cfg.initializer_range : 0.02;
  for (size_t i = 0; i < m->n_tensors; i++) {
    const l1k_tensor_info *t = &m->tensors[i];
    float *p = m->params + t->offset;
    size_t n = t->numel;
    const char *nm = t->name;
    size_t len = strlen(nm);
    int is_bias = len > 5 && !strcmp(nm + len - 5, ".bias");
    if (t->ndim == 1) { /* norms -> 1, biases -> 0 */
      float v = is_bias ? 0.0f : 1.0f;
      for (size_t j = 0; j < n; j++) p[j] = v;
      continue;
    }
    /* an independent-looking starting point per (seed, tensor): hash both */
    uint64_t h = seed ^ 0x6a09e667f3bcc909ull;
    uint64_t s = l1k_splitmix64(&h);
    h = s ^ ((uint64_t)(i + 1) * 0xd1b54a32d192ed03ull);
    s = l1k_splitmix64(&h);
    for (size_t j = 0; j < n; j += 2) { /* Box-Muller, two normals per draw */
      double u1 = uniform01(&s), u2 = uniform01(&s);
      double r = sqrt(-2.0 * log(u1));
      p[j] = (float)(std * r * cos(2.0 * M_PI * u2));
      if (j + 1 < n) p[j + 1] = (float)(std * r * sin(2.0 * M_PI * u2));
    }
    if (!strcmp(nm, "model.embed_tokens.weight") && m->cfg.pad_token_id >= 0 &&
        m->cfg.pad_token_id < m->cfg.vocab_size)
      memset(p + (size_t)m->cfg.pad_token_id * t->shape[1], 0, (size_t)t->shape[1] * sizeof(float));
  }
}
