/* long1k training-step benchmark driver (built and run by bench/model_train_step.py).
 *
 *   model_train_step MODEL_DIR SEQ STEPS [SEED]
 *
 * One row of SEQ pseudo-random token ids (labels = ids, the first 16 masked like a prompt).
 * Runs one warm-up step, then STEPS timed steps of zero_grads + forward + backward, and prints
 * one JSON line: mean seconds per step, tokens/s, loss, and the gradient norm (a checksum the
 * peer's can be compared with). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "long1k/log.h"
#include "long1k/model.h"

int main(int argc, char **argv) {
  if (argc < 4) {
    fprintf(stderr, "usage: %s MODEL_DIR SEQ STEPS [SEED]\n", argv[0]);
    return 2;
  }
  int T = atoi(argv[2]), steps = atoi(argv[3]);
  unsigned seed = argc > 4 ? (unsigned)atoi(argv[4]) : 1;
  l1k_err err = {0};
  l1k_model *m = l1k_model_load(argv[1], &err);
  if (!m) {
    fprintf(stderr, "%s\n", err.msg);
    return 1;
  }
  int V = l1k_model_cfg(m)->vocab_size;
  int32_t *ids = malloc((size_t)T * sizeof *ids), *lab = malloc((size_t)T * sizeof *lab);
  for (int i = 0; i < T; i++) {
    seed = seed * 1664525u + 1013904223u;
    ids[i] = (int32_t)((seed >> 8) % (unsigned)V);
    lab[i] = i < 16 ? -100 : ids[i];
  }
  l1k_batch b = {1, T, ids, lab, NULL, NULL};
  if (l1k_model_reserve(m, 1, T, &err) || !l1k_model_grads(m)) {
    fprintf(stderr, "%s\n", err.msg);
    return 1;
  }
  int64_t nt = l1k_batch_count_targets(&b, &err);
  double loss = 0;
  int64_t n;
  double t0 = 0;
  clock_t c0 = 0;
  for (int s = 0; s <= steps; s++) {
    if (s == 1) t0 = l1k_now(), c0 = clock();
    l1k_model_zero_grads(m);
    if (l1k_model_forward_backward(m, &b, 1.0 / (double)nt, &loss, &n, &err)) {
      fprintf(stderr, "%s\n", err.msg);
      return 1;
    }
  }
  double dt = (l1k_now() - t0) / steps;
  double cpu = (double)(clock() - c0) / CLOCKS_PER_SEC / steps;
  const float *g = l1k_model_grads(m);
  double gn = 0;
  for (size_t i = 0; i < l1k_model_num_params(m); i++) gn += (double)g[i] * g[i];
  printf("{\"step_s\": %.4f, \"cpu_s\": %.4f, \"tokens_per_s\": %.1f, \"loss\": %.6f, \"grad_norm\": %.6f, \"params\": %zu}\n",
         dt, cpu, T / dt, loss / (double)nt, sqrt(gn), l1k_model_num_params(m));
  l1k_model_free(m);
  free(ids);
  free(lab);
  return 0;
}
