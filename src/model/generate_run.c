/* long1k — l1k_generate: many prompts, continuous batching, stop rules, streaming.
 *
 * Slots of the generator hold running sequences. Each round: free slots take the next prompts
 * (prefill), then every running sequence advances one token in one batched step. A sequence
 * that stops (EOS id, stop string, max_new_tokens, full context) frees its slot at once.
 *
 * Text: with a decoder the completion text is built one token at a time (byte-level BPE
 * decodes by concatenation). Stop strings are searched only where a new match can end (the
 * last max(len)-1 old bytes plus the new ones). Streaming holds back bytes that could still
 * become a stop string and the bytes of an unfinished UTF-8 character.
 */
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "long1k/generate.h"
#include "long1k/jsonl.h"
#include "long1k/log.h"
#include "model/generate_internal.h"

void l1k_gen_opts_default(l1k_gen_opts *o) {
  memset(o, 0, sizeof *o);
  o->max_new_tokens = 256;
  o->temperature = 0.0f;
  o->top_k = 0;
  o->top_p = 1.0f;
  o->min_p = 0.0f;
}

const char *l1k_finish_name(l1k_finish f) {
  switch (f) {
    case L1K_FINISH_LENGTH: return "length";
    case L1K_FINISH_EOS:
    case L1K_FINISH_STOP: return "stop";
    default: return "none";
  }
}

void l1k_gen_results_free(l1k_gen_result *r, int n) {
  if (!r) return;
  for (int i = 0; i < n; i++) {
    free(r[i].ids);
    free(r[i].text);
    r[i].ids = NULL;
    r[i].text = NULL;
  }
}

typedef struct seq {
  int index;          /* prompt index, -1 = slot free */
  l1k_rng rng;
  int cap;
  l1k_buf text;
  size_t emitted;     /* bytes streamed */
  double t0;
} seq;

/* length of the longest suffix of text that is a proper prefix of some stop string */
static size_t stop_holdback(const char *text, size_t len, const char *const *stop, int n_stop) {
  size_t best = 0;
  for (int k = 0; k < n_stop; k++) {
    size_t sl = strlen(stop[k]);
    size_t maxl = sl - 1 < len ? sl - 1 : len;
    for (size_t l = maxl; l > best; l--)
      if (memcmp(text + len - l, stop[k], l) == 0) {
        best = l;
        break;
      }
  }
  return best;
}

/* bytes at the end of text[0..len) that form an unfinished UTF-8 character */
static size_t utf8_incomplete_tail(const char *text, size_t len) {
  for (size_t back = 1; back <= 4 && back <= len; back++) {
    unsigned char c = (unsigned char)text[len - back];
    if ((c & 0xC0) == 0x80) continue; /* continuation byte */
    size_t need = c < 0x80 ? 1 : (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 1;
    return need > back ? back : 0;
  }
  return 0;
}

/* Appends s[0..n) to out with each ill-formed UTF-8 subsequence replaced by U+FFFD (one per
 * maximal subpart, as Python's bytes.decode("utf-8", "replace") and so transformers' decode
 * with errors="replace"). Returns 0 or -1 out of memory. */
static int utf8_sanitize(l1k_buf *out, const char *s, size_t n) {
  const unsigned char *u = (const unsigned char *)s;
  size_t i = 0, run = 0; /* run: start of the current stretch of valid bytes */
  while (i < n) {
    unsigned c = u[i];
    size_t len = 0;
    unsigned lo = 0x80, hi = 0xBF;
    if (c < 0x80) len = 1;
    else if (c >= 0xC2 && c <= 0xDF) len = 2;
    else if (c >= 0xE0 && c <= 0xEF) {
      len = 3;
      if (c == 0xE0) lo = 0xA0;
      if (c == 0xED) hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      len = 4;
      if (c == 0xF0) lo = 0x90;
      if (c == 0xF4) hi = 0x8F;
    }
    size_t k = 1;
    if (len > 1) {
      /* the second byte has the lead's own range, the others 80..BF */
      if (i + 1 < n && u[i + 1] >= lo && u[i + 1] <= hi) {
        k = 2;
        while (k < len && i + k < n && (u[i + k] & 0xC0) == 0x80) k++;
      }
    }
    if (len != 0 && k == len) {
      i += len;
      continue;
    }
    /* ill-formed: bytes i..i+k (k >= 1) become one U+FFFD */
    if (l1k_buf_append(out, s + run, i - run)) return -1;
    if (l1k_buf_append(out, "\xEF\xBF\xBD", 3)) return -1;
    i += k;
    run = i;
  }
  return l1k_buf_append(out, s + run, n - run) ? -1 : 0;
}

/* the result's text: the raw completion bytes made well-formed UTF-8 */
static int set_text(l1k_gen_result *r, const l1k_buf *raw) {
  l1k_buf b = {0};
  if (utf8_sanitize(&b, raw->data ? raw->data : "", raw->len) || l1k_buf_append(&b, "", 1)) {
    l1k_buf_free(&b);
    return -1;
  }
  r->text = b.data;
  r->text_len = b.len - 1;
  return 0;
}

/* first occurrence of any stop string that ends after byte `from_end` (searching from
 * from_end - (len-1)); returns its start or (size_t)-1, and which string in *which */
static size_t find_stop(const char *text, size_t len, size_t old_len, const char *const *stop, int n_stop,
                        int *which) {
  size_t best = (size_t)-1;
  for (int k = 0; k < n_stop; k++) {
    size_t sl = strlen(stop[k]);
    if (sl == 0 || sl > len) continue;
    size_t start = old_len >= sl - 1 ? old_len - (sl - 1) : 0;
    for (size_t p = start; p + sl <= len && p < best; p++)
      if (text[p] == stop[k][0] && memcmp(text + p, stop[k], sl) == 0) {
        best = p;
        *which = k;
        break;
      }
  }
  return best;
}

int l1k_generate(l1k_generator *g, const l1k_gen_prompt *prompts, int n, const l1k_gen_opts *opts_in,
                 l1k_gen_result *res, l1k_gen_stream_fn stream, void *user, l1k_err *err) {
  l1k_gen_opts opts;
  if (opts_in)
    opts = *opts_in;
  else
    l1k_gen_opts_default(&opts);
  if (n < 0) return l1k_errf(err, L1K_EINPUT, "generate: negative prompt count");
  for (int i = 0; i < n; i++) memset(&res[i], 0, sizeof res[i]);
  if (n == 0) return 0;
  const int V = l1k_generator_vocab(g), max_ctx = l1k_generator_max_ctx(g);
  const int B = l1k_generator_max_batch(g);
  if (opts.max_new_tokens < 0)
    return l1k_errf(err, L1K_EINPUT, "generate: max_new_tokens must be >= 0 (got %d)", opts.max_new_tokens);
  if (opts.top_k < 0) return l1k_errf(err, L1K_EINPUT, "generate: top_k must be >= 0 (got %d)", opts.top_k);
  if (!(opts.top_p > 0.0f && opts.top_p <= 1.0f))
    return l1k_errf(err, L1K_EINPUT, "generate: top_p must be in (0, 1] (got %g)", (double)opts.top_p);
  if (!(opts.temperature >= 0.0f) || opts.temperature != opts.temperature)
    return l1k_errf(err, L1K_EINPUT, "generate: temperature must be >= 0 (got %g)", (double)opts.temperature);
  if (!(opts.min_p >= 0.0f && opts.min_p <= 1.0f))
    return l1k_errf(err, L1K_EINPUT, "generate: min_p must be in [0, 1] (got %g)", (double)opts.min_p);
  if (opts.n_stop > 0 && !opts.decode)
    return l1k_errf(err, L1K_EINPUT, "generate: stop strings need a tokenizer to decode the text");
  for (int k = 0; k < opts.n_stop; k++)
    if (!opts.stop[k] || !opts.stop[k][0]) return l1k_errf(err, L1K_EINPUT, "generate: stop string %d is empty", k);
  for (int i = 0; i < n; i++) {
    if (prompts[i].n <= 0)
      return l1k_errf(err, L1K_EINPUT, "generate: prompt %d is empty (a prompt needs at least one token)", i);
    if (prompts[i].n >= max_ctx)
      return l1k_errf(err, L1K_EINPUT,
                      "generate: prompt %d has %d tokens; the context holds %d (prompt + completion)", i,
                      prompts[i].n, max_ctx);
    for (int j = 0; j < prompts[i].n; j++)
      if (prompts[i].ids[j] < 0 || prompts[i].ids[j] >= V)
        return l1k_errf(err, L1K_EINPUT, "generate: prompt %d: token id %d at %d is outside the vocabulary (size %d)",
                        i, (int)prompts[i].ids[j], j, V);
  }
  const l1k_model_config *cfg = l1k_generator_cfg(g);
  const int32_t *eos = opts.eos_ids ? opts.eos_ids : cfg->eos_token_ids;
  int n_eos = opts.eos_ids ? opts.n_eos : cfg->n_eos;
  if (opts.ignore_eos) n_eos = 0;

  seq *S = calloc((size_t)B, sizeof *S);
  int *rows_slot = calloc((size_t)B, sizeof(int));
  int32_t *rows_id = calloc((size_t)B, sizeof(int32_t));
  float *plog = malloc((size_t)B * V * sizeof(float)); /* each slot's prompt logits */
  /* this round's admissions: slot, and the slot whose identical prompt it copies (-1: none) */
  int *adm_slot = malloc((size_t)B * sizeof(int)), *adm_src = malloc((size_t)B * sizeof(int));
  l1k_gen_prompt *adm_p = malloc((size_t)B * sizeof *adm_p);
  l1k_sampler sampler = {.temperature = opts.temperature, .top_k = opts.top_k, .top_p = opts.top_p,
                         .min_p = opts.min_p};
  int rc = 0;
  l1k_buf chunk = {0};
  /* a device generator samples its running sequences on all host threads (step 2) */
  int n_par = 1;
#ifdef _OPENMP
  n_par = omp_get_max_threads();
#endif
  int32_t *par_tok = NULL;
  l1k_sampler *par_smp = NULL;
  if (l1k_gen_is_device(g) && n_par > 1 && B >= 4) {
    par_tok = malloc((size_t)B * sizeof *par_tok);
    par_smp = calloc((size_t)n_par, sizeof *par_smp);
    if (!par_tok || !par_smp) {
      free(par_tok);
      free(par_smp);
      par_tok = NULL;
      par_smp = NULL;
    } else {
      for (int t = 0; t < n_par; t++) par_smp[t] = (l1k_sampler){.temperature = opts.temperature,
                                                                 .top_k = opts.top_k, .top_p = opts.top_p,
                                                                 .min_p = opts.min_p};
    }
  }
  /* greedy on a device: the step returns each row's argmax (n ints, not n x V floats; the
   * same tokens as l1k_argmax on the logits); LONG1K_GEN_DEVICE_GREEDY=0 keeps the logits */
  const char *dg = getenv("LONG1K_GEN_DEVICE_GREEDY");
  int dev_greedy = l1k_gen_is_device(g) && (opts.temperature <= 0.0f || opts.top_k == 1) && !(dg && !strcmp(dg, "0"));
  int32_t *dtok = calloc((size_t)B, sizeof *dtok), *step_tok = calloc((size_t)B, sizeof *step_tok);
  unsigned char *has_tok = calloc((size_t)B, 1); /* slot s's next token is dtok[s] */
  if (!S || !rows_slot || !rows_id || !plog || !adm_slot || !adm_src || !adm_p || !dtok || !step_tok || !has_tok) {
    rc = l1k_errf(err, L1K_ENOMEM, "generate: out of memory");
    goto done;
  }
  for (int s = 0; s < B; s++) S[s].index = -1;

  int next = 0, active = 0;
  while (next < n || active > 0) {
    /* 1. free slots take new prompts (on a device only while its KV pool can hold the prompt
     *    and its longest completion: else they wait for a running sequence to finish), then
     *    one prefill for all of them; the first token is sampled below */
    int n_adm = 0, pool_full = 0;
    for (int s = 0; s < B && next < n && !pool_full; s++) {
      while (S[s].index < 0 && next < n) {
        int i = next;
        int cap = opts.max_new_tokens < max_ctx - prompts[i].n ? opts.max_new_tokens : max_ctx - prompts[i].n;
        if (cap > 0) {
          l1k_gen_slot_reset(g, s);
          int ar = l1k_gen_slot_admit(g, s, prompts[i].n + cap, err);
          if (ar == 1 && active + n_adm == 0) {
            l1k_gen_cache_info ci;
            l1k_generator_cache_info(g, &ci);
            rc = l1k_errf(err, L1K_ENOMEM,
                          "generate: prompt %d needs the KV cache for %d positions (%d prompt + %d "
                          "new tokens); the %s pool holds %d blocks of %d; use a larger pool "
                          "(LONG1K_KV_MIB) or fewer new tokens", i, prompts[i].n + cap, prompts[i].n,
                          cap, ci.device, ci.n_blocks, ci.block_size);
            goto done;
          }
          if (ar == 1) { /* wait: admission resumes with prompt i when blocks come back */
            pool_full = 1;
            break;
          }
          if (ar) {
            rc = ar;
            goto done;
          }
        }
        next++;
        seq *q = &S[s];
        l1k_buf_free(&q->text);
        memset(q, 0, sizeof *q);
        q->index = i;
        has_tok[s] = 0;
        q->t0 = l1k_now();
        l1k_rng_seed(&q->rng, opts.seed, (uint64_t)i + opts.seed_offset);
        res[i].prompt_tokens = prompts[i].n;
        q->cap = cap;
        res[i].ids = malloc((size_t)(cap > 0 ? cap : 1) * sizeof(int32_t));
        if (!res[i].ids) {
          rc = l1k_errf(err, L1K_ENOMEM, "generate: out of memory");
          goto done;
        }
        if (cap == 0) {
          res[i].finish = L1K_FINISH_LENGTH;
          if (opts.decode) {
            res[i].text = calloc(1, 1);
            if (!res[i].text) {
              rc = l1k_errf(err, L1K_ENOMEM, "generate: out of memory");
              goto done;
            }
          }
          if (stream && stream(user, i, -1, "", 0, 1, &res[i])) {
            rc = l1k_errf(err, L1K_EINPUT, "generate: cancelled");
            goto done;
          }
          q->index = -1;
          continue;
        }
        /* prefix sharing: an identical prompt in a slot (running, or admitted this round and
         * prefilled below before the copy) has its whole prompt cached and its logits saved */
        int src = -1;
        for (int s2 = 0; s2 < B && src < 0; s2++) {
          if (s2 == s || S[s2].index < 0) continue;
          const l1k_gen_prompt *o2 = &prompts[S[s2].index];
          if (o2->n == prompts[i].n &&
              (o2->ids == prompts[i].ids || !memcmp(o2->ids, prompts[i].ids, (size_t)o2->n * sizeof(int32_t))))
            src = s2;
        }
        adm_slot[n_adm] = s;
        adm_src[n_adm] = src;
        adm_p[n_adm] = prompts[i];
        n_adm++;
        active++;
      }
    }
    if (n_adm > 0) {
      /* the prompts that need computing, in one call, then the copies */
      int nf = 0;
      for (int k = 0; k < n_adm; k++)
        if (adm_src[k] < 0) {
          rows_slot[nf] = adm_slot[k];
          adm_p[nf] = adm_p[k];
          nf++;
        }
      if ((rc = l1k_gen_feed_many(g, rows_slot, adm_p, nf, err))) goto done;
      for (int k = 0; k < nf; k++)
        memcpy(plog + (size_t)rows_slot[k] * V, l1k_gen_slot_logits(g, rows_slot[k]), (size_t)V * sizeof(float));
      for (int k = 0; k < n_adm; k++) {
        int s = adm_slot[k], src = adm_src[k];
        if (src < 0) continue;
        int i = S[s].index;
        if ((rc = l1k_gen_slot_copy_prefix(g, s, src, prompts[i].n, err))) goto done;
        memcpy(plog + (size_t)s * V, plog + (size_t)src * V, (size_t)V * sizeof(float));
        l1k_gen_slot_set_logits(g, s, plog + (size_t)s * V);
        res[i].cached_prompt_tokens = prompts[i].n;
      }
    }
    if (active == 0) continue;

    /* 2. sample the next token of every running sequence from its slot's logits, apply the
     *    stop rules, and collect the rows for the next step. With a device generator the
     *    host's sampling (a pass over the vocabulary per sequence) is the step's largest host
     *    cost at large batches: it runs first, on all threads (each sequence has its own
     *    random stream, so the tokens are the same in any order) */
    int use_par = par_tok && active >= 4; /* fixed for the round: active changes below */
    if (use_par) {
#ifdef _OPENMP
#pragma omp parallel for schedule(dynamic, 1) num_threads(n_par)
#endif
      for (int s = 0; s < B; s++) {
        if (S[s].index < 0) continue;
        int t = 0;
#ifdef _OPENMP
        t = omp_get_thread_num();
#endif
        par_tok[s] = has_tok[s] ? dtok[s] : l1k_sample(&par_smp[t], l1k_gen_slot_logits(g, s), V, &S[s].rng);
      }
    }
    int nrows = 0;
    for (int s = 0; s < B; s++) {
      seq *q = &S[s];
      if (q->index < 0) continue;
      int i = q->index;
      l1k_gen_result *r = &res[i];
      int32_t tok = use_par     ? par_tok[s]
                    : has_tok[s] ? dtok[s]
                                 : l1k_sample(&sampler, l1k_gen_slot_logits(g, s), V, &q->rng);
      if (tok < 0) {
        rc = l1k_errf(err, L1K_ENOMEM, "generate: out of memory in the sampler");
        goto done;
      }
      r->ids[r->n_ids++] = tok;
      int is_eos = 0;
      for (int e = 0; e < n_eos; e++) is_eos |= eos[e] == tok;
      size_t old_len = q->text.len;
      if (opts.decode && (!is_eos || opts.include_stop)) {
        size_t tl = 0;
        char *t = opts.decode(opts.decode_ctx, &tok, 1, &tl);
        if (!t) {
          rc = l1k_errf(err, L1K_EINPUT, "generate: cannot decode token id %d", (int)tok);
          goto done;
        }
        int ok = l1k_buf_append(&q->text, t, tl);
        free(t);
        if (ok) {
          rc = l1k_errf(err, L1K_ENOMEM, "generate: out of memory");
          goto done;
        }
      }
      if (is_eos) r->finish = L1K_FINISH_EOS;
      if (!r->finish && opts.n_stop > 0) {
        int which = -1;
        size_t at = find_stop(q->text.data, q->text.len, old_len, opts.stop, opts.n_stop, &which);
        if (at != (size_t)-1) {
          r->finish = L1K_FINISH_STOP;
          r->stop_hit = opts.stop[which];
          q->text.len = opts.include_stop ? at + strlen(opts.stop[which]) : at;
        }
      }
      if (!r->finish && r->n_ids >= q->cap) r->finish = L1K_FINISH_LENGTH;

      if (r->finish) {
        r->seconds = l1k_now() - q->t0;
        if (opts.decode && set_text(r, &q->text)) {
          rc = l1k_errf(err, L1K_ENOMEM, "generate: out of memory");
          goto done;
        }
      }
      if (stream) {
        size_t final_len = q->text.len;
        if (!r->finish) {
          final_len -= stop_holdback(q->text.data, q->text.len, opts.stop, opts.n_stop);
          final_len -= utf8_incomplete_tail(q->text.data, final_len);
        }
        if (final_len < q->emitted) final_len = q->emitted;
        chunk.len = 0;
        if (final_len > q->emitted && utf8_sanitize(&chunk, q->text.data + q->emitted, final_len - q->emitted)) {
          rc = l1k_errf(err, L1K_ENOMEM, "generate: out of memory");
          goto done;
        }
        int stop_all = stream(user, i, tok, chunk.len ? chunk.data : "", chunk.len, r->finish != L1K_FINISH_NONE, r);
        q->emitted = final_len;
        if (stop_all) {
          rc = l1k_errf(err, L1K_EINPUT, "generate: cancelled");
          goto done;
        }
      }
      if (r->finish) {
        l1k_buf_free(&q->text);
        q->index = -1;
        active--;
        l1k_gen_slot_reset(g, s); /* its KV blocks go back to the pool at once */
        continue;
      }
      rows_slot[nrows] = s;
      rows_id[nrows] = tok;
      nrows++;
    }
    /* 3. one batched decode step */
    if (nrows > 0 && dev_greedy) {
      rc = l1k_gen_step_greedy(g, rows_slot, rows_id, nrows, step_tok, err);
      if (rc == L1K_EUNSUPPORTED) { /* the backend has no greedy decode: logits from here on */
        dev_greedy = 0;
        rc = 0;
      } else if (rc) {
        goto done;
      } else {
        for (int r = 0; r < nrows; r++) {
          dtok[rows_slot[r]] = step_tok[r];
          has_tok[rows_slot[r]] = 1;
        }
        continue;
      }
    }
    if (nrows > 0 && (rc = l1k_gen_step(g, rows_slot, rows_id, nrows, NULL, err))) goto done;
    for (int r = 0; r < nrows; r++) has_tok[rows_slot[r]] = 0;
  }

done:
  if (S)
    for (int s = 0; s < B; s++) l1k_buf_free(&S[s].text);
  free(S);
  free(rows_slot);
  free(rows_id);
  free(dtok);
  free(step_tok);
  free(has_tok);
  free(plog);
  free(adm_slot);
  free(adm_src);
  free(adm_p);
  l1k_sampler_free(&sampler);
  if (par_smp)
    for (int t = 0; t < n_par; t++) l1k_sampler_free(&par_smp[t]);
  free(par_smp);
  free(par_tok);
  l1k_buf_free(&chunk);
  return rc;
}
