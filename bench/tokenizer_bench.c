/* long1k tokenizer throughput: encodes every "text" of a JSONL file, REPEAT times, with
 * 1..N threads (documents dealt out dynamically), and prints bytes/s. Built and run by
 * bench/tokenizer_bench.sh next to Hugging Face tokenizers.
 *
 *   tokenizer_bench TOKENIZER CORPUS.jsonl THREADS REPEAT
 * prints: threads=<n> bytes=<b> tokens=<t> seconds=<s> MBps=<x> cpu_s=<c> cpu_MBps=<y> load_s=<l>
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "long1k/jsonl.h"
#include "long1k/log.h"
#include "long1k/tokenizer.h"

typedef struct {
  char **text;
  size_t *len;
  size_t n;
  int repeat;
  const l1k_tokenizer *tok;
  _Atomic size_t next;
  _Atomic long long tokens;
} work;

static double cpu_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void *run(void *arg) {
  work *w = arg;
  l1k_ids ids = {0};
  long long ntok = 0;
  for (;;) {
    size_t i = atomic_fetch_add(&w->next, 1);
    if (i >= w->n * (size_t)w->repeat) break;
    size_t d = i % w->n;
    ids.len = 0;
    if (l1k_tokenizer_encode(w->tok, w->text[d], w->len[d], &ids, NULL, NULL) != 0) {
      fprintf(stderr, "encode failed\n");
      exit(1);
    }
    ntok += (long long)ids.len;
  }
  atomic_fetch_add(&w->tokens, ntok);
  l1k_ids_free(&ids);
  return NULL;
}

int main(int argc, char **argv) {
  if (argc != 5) {
    fprintf(stderr, "usage: tokenizer_bench TOKENIZER CORPUS.jsonl THREADS REPEAT\n");
    return 2;
  }
  l1k_err err = {0};
  double t0 = l1k_now();
  l1k_tokenizer *tok = l1k_tokenizer_load(argv[1], &err);
  if (!tok) {
    fprintf(stderr, "%s\n", err.msg);
    return 2;
  }
  double t_load = l1k_now() - t0;
  int threads = atoi(argv[3]), repeat = atoi(argv[4]);
  l1k_jsonl *r = l1k_jsonl_open(argv[2], &err);
  if (!r) {
    fprintf(stderr, "%s\n", err.msg);
    return 2;
  }
  work w = {0};
  size_t cap = 0;
  cJSON *rec;
  while (l1k_jsonl_next(r, &rec, &err) == 1) {
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(rec, "text");
    if (cJSON_IsString(t)) {
      if (w.n == cap) {
        cap = cap ? cap * 2 : 1024;
        w.text = realloc(w.text, cap * sizeof *w.text);
        w.len = realloc(w.len, cap * sizeof *w.len);
      }
      w.len[w.n] = strlen(t->valuestring);
      w.text[w.n++] = strdup(t->valuestring);
    }
    cJSON_Delete(rec);
  }
  l1k_jsonl_close(r);
  size_t bytes = 0;
  for (size_t i = 0; i < w.n; i++) bytes += w.len[i];
  w.repeat = repeat;
  w.tok = tok;
  pthread_t *th = calloc((size_t)threads, sizeof *th);
  double t1 = l1k_now(), c1 = cpu_now();
  for (int i = 0; i < threads; i++) pthread_create(&th[i], NULL, run, &w);
  for (int i = 0; i < threads; i++) pthread_join(th[i], NULL);
  double secs = l1k_now() - t1, cpu = cpu_now() - c1;
  double total = (double)bytes * repeat;
  /* cpu_MBps: bytes per CPU-second of all threads (what one core does when the machine is
   * shared and wall time is not all ours) */
  printf("threads=%d bytes=%.0f tokens=%lld seconds=%.3f MBps=%.2f cpu_s=%.3f cpu_MBps=%.2f "
         "load_s=%.3f\n",
         threads, total, (long long)w.tokens, secs, total / secs / 1e6, cpu, total / cpu / 1e6,
         t_load);
  for (size_t i = 0; i < w.n; i++) free(w.text[i]);
  free(w.text);
  free(w.len);
  free(th);
  l1k_tokenizer_free(tok);
  return 0;
}
