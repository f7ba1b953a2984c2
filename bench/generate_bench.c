/* long1k generation benchmark driver (built and run by bench/generate_bench.py).
 *
 *   generate_bench MODEL_DIR PROMPT_LEN NEW_TOKENS BATCH [REPEATS]
 *
 * Prefill: BATCH prompts of PROMPT_LEN pseudo-random ids, each fed into its slot in one call.
 * Decode: NEW_TOKENS greedy steps for all BATCH slots at once (l1k_gen_step + argmax), the same
 * work a generate loop does per token. Prints one JSON line with tokens/s and peak RSS.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "long1k/generate.h"
#include "long1k/log.h"
#include "long1k/model.h"

int main(int argc, char **argv) {
  if (argc < 5) {
    fprintf(stderr, "usage: %s MODEL_DIR PROMPT_LEN NEW_TOKENS BATCH [REPEATS]\n", argv[0]);
    return 2;
  }
  const char *dir = argv[1];
  int P = atoi(argv[2]), N = atoi(argv[3]), B = atoi(argv[4]);
  int reps = argc > 5 ? atoi(argv[5]) : 1;
  l1k_err err = {0};
  double t = l1k_now();
  l1k_model *m = l1k_model_load(dir, &err);
  if (!m) {
    fprintf(stderr, "%s\n", err.msg);
    return 1;
  }
  double t_load = l1k_now() - t;
  l1k_generator *g = l1k_generator_create(m, B, P + N + 1, &err);
  if (!g) {
    fprintf(stderr, "%s\n", err.msg);
    return 1;
  }
  int V = l1k_model_cfg(m)->vocab_size;
  int32_t *ids = malloc((size_t)B * P * sizeof(int32_t));
  uint64_t x = 12345;
  for (int i = 0; i < B * P; i++) {
    x = x * 6364136223846793005ULL + 1442695040888963407ULL;
    ids[i] = (int32_t)((x >> 33) % (uint64_t)(V < 150000 ? V : 150000));
  }
  int *slots = malloc(B * sizeof(int));
  int32_t *next = malloc(B * sizeof(int32_t));
  float *logits = malloc((size_t)B * V * sizeof(float));
  double best_pf = 1e30, best_dec = 1e30;
  for (int r = 0; r < reps; r++) {
    for (int b = 0; b < B; b++) l1k_gen_slot_reset(g, b);
    t = l1k_now();
    for (int b = 0; b < B; b++)
      if (l1k_gen_feed(g, b, ids + (size_t)b * P, P, NULL, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
      }
    double pf = l1k_now() - t;
    for (int b = 0; b < B; b++) {
      slots[b] = b;
      next[b] = l1k_argmax(l1k_gen_slot_logits(g, b), V);
    }
    t = l1k_now();
    for (int s = 0; s < N; s++) {
      if (l1k_gen_step(g, slots, next, B, logits, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
      }
      for (int b = 0; b < B; b++) next[b] = l1k_argmax(logits + (size_t)b * V, V);
    }
    double dec = l1k_now() - t;
    if (pf < best_pf) best_pf = pf;
    if (dec < best_dec) best_dec = dec;
  }
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  printf("{\"impl\": \"long1k\", \"batch\": %d, \"prompt_len\": %d, \"new_tokens\": %d, "
         "\"load_s\": %.3f, \"prefill_tok_s\": %.1f, \"decode_tok_s\": %.1f, \"peak_rss_mb\": %.1f, "
         "\"last_token\": %d}\n",
         B, P, N, t_load, (double)B * P / best_pf, (double)B * N / best_dec, ru.ru_maxrss / 1024.0, (int)next[0]);
  free(ids);
  free(slots);
  free(next);
  free(logits);
  l1k_generator_free(g);
  l1k_model_free(m);
  return 0;
}
