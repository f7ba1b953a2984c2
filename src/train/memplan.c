/* long1k — GPU memory planning (include/long1k/memplan.h; every tensor in docs/gpu-memory.md). */
#include "long1k/memplan.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GIB (1024.0 * 1024.0 * 1024.0)

/* Saturating arithmetic: a plan that overflows 64 bits is refused, never wrapped. */
static uint64_t add_sat(uint64_t a, uint64_t b) { return a > UINT64_MAX - b ? UINT64_MAX : a + b; }
static uint64_t mul_sat(uint64_t a, uint64_t b) {
  return a && b > UINT64_MAX / a ? UINT64_MAX : a * b;
}

typedef struct dims {
  uint64_t C, I, V, QD, KD, H, KVH, hd, L, qk;
} dims;

static dims get_dims(const l1k_model_config *c) {
  dims d;
  d.C = (uint64_t)c->hidden_size;
  d.I = (uint64_t)c->intermediate_size;
  d.V = (uint64_t)c->vocab_size;
  d.H = (uint64_t)c->num_attention_heads;
  d.KVH = (uint64_t)c->num_key_value_heads;
  d.hd = (uint64_t)c->head_dim;
  d.QD = d.H * d.hd;
  d.KD = d.KVH * d.hd;
  d.L = (uint64_t)c->num_hidden_layers;
  d.qk = c->qk_norm != 0;
  return d;
}

/* ---------------------------------------------------------------- per-token bytes */

/* One layer's struct layer_acts per token: s-byte activations (x ln1 q k v qr kr ao xm ln2
 * gate up h) and float32 row statistics (ln1_rstd ln2_rstd lse [+ qn_rstd kn_rstd]). */
static uint64_t layer_token_bytes(const dims *d, uint64_t s) {
  uint64_t act = 4 * d->C + 3 * d->QD + 3 * d->KD + 3 * d->I;
  uint64_t stats = 2 + d->H + (d->qk ? d->H + d->KVH : 0);
  return s * act + 4 * stats;
}

/* Activation gradients of the layer being differentiated (model_acts' backward scratch: dres dc
 * dq dq2 dk dk2 dv dao dgate dup dh) + flash attention's float32 D = rowsum(dO * O) [H]. */
static uint64_t backward_token_bytes(const dims *d, uint64_t s) {
  return s * (2 * d->C + 3 * d->QD + 3 * d->KD + 3 * d->I) + 4 * d->H;
}

/* Whole-model per-token state: xf lnf (s), lnf_rstd, cos/sin tables [hd/2] each (float32), and
 * int32 ids labels pos seg target trow ttg + segs [3]. */
static uint64_t model_token_bytes(const dims *d, uint64_t s) {
  return s * 2 * d->C + 4 * (1 + d->hd) + 4 * 10;
}

/* ---------------------------------------------------------------- model states */

uint64_t l1k_memplan_states(uint64_t P, const l1k_memplan_opts *o, uint64_t zero2_bucket) {
  uint64_t W = o->world > 1 ? (uint64_t)o->world : 1;
  uint64_t shard = o->zero >= 1 ? (P + W - 1) / W : P;
  uint64_t wb = o->bf16 ? 2 : 4;
  uint64_t weights = mul_sat(wb, P);
  uint64_t grads = o->zero == 2 ? add_sat(mul_sat(wb, shard), zero2_bucket) : mul_sat(wb, P);
  /* bf16: float32 master + 2 moments; float32: the weights are the master, 2 moments */
  uint64_t opt = o->offload ? 0 : mul_sat(o->bf16 ? 12 : 8, shard);
  return add_sat(add_sat(weights, grads), opt);
}

static int check_opts(const l1k_memplan_opts *o, int64_t T, l1k_err *err) {
  if (T < 1) return l1k_errf(err, L1K_EINPUT, "plan: sequence length %" PRId64 ": expected at least 1 token", T);
  if (o->zero < 0 || o->zero > 2)
    return l1k_errf(err, L1K_EINPUT, "plan: ZeRO stage %d: expected 0, 1 or 2", o->zero);
  if (o->world < 1) return l1k_errf(err, L1K_EINPUT, "plan: world size %d: expected at least 1", o->world);
  if (o->chunk_rows < 0)
    return l1k_errf(err, L1K_EINPUT, "plan: lm_head chunk of %" PRId64 " rows: expected at least 1", o->chunk_rows);
  return 0;
}

/* The largest gradient a ZeRO-2 rank holds whole before reduce-scattering it: one layer's, or
 * the embedding / lm_head matrix. */
static uint64_t zero2_bucket(const dims *d, const l1k_model_config *c, uint64_t wb) { /* wb: 4 */
  uint64_t per_layer = (l1k_config_num_params(c) - d->V * d->C * (c->tie_word_embeddings ? 1 : 2) - d->C) /
                       (d->L ? d->L : 1);
  uint64_t big = per_layer > d->V * d->C ? per_layer : d->V * d->C;
  return wb * big;
}

/* Float32 values the CUDA backend keeps beside the bf16 working copy when the host master is
 * the only float32 copy (bf16 + optim_offload on one rank, src/backend/cuda/hostmaster.h): the
 * embedding (its forward gathers float32 rows) and every 1-D tensor (norms, biases, q/k norms). */
static uint64_t f32_resident(const dims *d, const l1k_model_config *c) {
  uint64_t per_layer = 2 * d->C + (c->attention_bias ? d->QD + 2 * d->KD : 0) + (d->qk ? 2 * d->hd : 0);
  return d->V * d->C + d->L * per_layer + d->C;
}

int l1k_memplan_compute(const l1k_model_config *cfg, int64_t T, const l1k_memplan_opts *o,
                        l1k_memplan *p, l1k_err *err) {
  int rc = check_opts(o, T, err);
  if (rc) return rc;
  memset(p, 0, sizeof *p);
  dims d = get_dims(cfg);
  uint64_t s = o->bf16 ? 2 : 4, N = (uint64_t)T, W = (uint64_t)o->world;
  uint64_t P = l1k_config_num_params(cfg);
  p->T = T;
  p->n_params = P;
  p->n_shard = o->zero >= 1 ? (P + W - 1) / W : P;
  uint64_t bucket = o->zero == 2 ? zero2_bucket(&d, cfg, 4) : 0;
  /* what the CUDA backend holds (src/backend/cuda; docs/gpu-memory.md, "Model states"): the
   * working weights (bf16 copy, or the float32 parameters); float32 gradients of every
   * parameter (ZeRO-2 reduce-scatters them, the buffer stays whole; + its bucket); the float32
   * parameters in the bf16 mode (the master, or with offload over several ranks the all-gather's
   * target) and the AdamW moments of the shard. bf16 + offload on one rank: no float32
   * parameters, only float32 copies of the embedding and the 1-D tensors (hostmaster.h). */
  int host_master = o->bf16 && o->offload && W == 1 && !o->trainable;
  p->weights = mul_sat(s, P);
  if (host_master) p->weights = add_sat(p->weights, mul_sat(4, f32_resident(&d, cfg)));
  p->grads = add_sat(mul_sat(4, P), bucket);
  p->optimizer = add_sat(o->bf16 && !host_master ? mul_sat(4, P) : 0,
                         o->offload ? 0 : mul_sat(8, p->n_shard));
  if (o->trainable) { /* an adapter (src/backend/cuda/lora.h): the base is frozen */
    p->grads = mul_sat(4, o->trainable);
    p->optimizer = mul_sat(o->bf16 ? 14 : 12, o->trainable);
  }
  /* host: float32 master (bf16) or its copy (float32) + 2 moments + the float32 gradients */
  p->host = o->offload ? mul_sat(16, p->n_shard) : 0;
  /* activations */
  p->layer_per_token = layer_token_bytes(&d, s);
  p->checkpoint_per_token = s * d.C;
  uint64_t per_token_layers =
      o->recompute ? add_sat(mul_sat(d.L, p->checkpoint_per_token), p->layer_per_token - p->checkpoint_per_token)
                   : mul_sat(d.L, p->layer_per_token);
  p->act_layers = mul_sat(per_token_layers, N);
  p->act_backward = mul_sat(backward_token_bytes(&d, s), N);
  p->act_model = mul_sat(model_token_bytes(&d, s), N);
  uint64_t chunk = (uint64_t)(o->chunk_rows ? o->chunk_rows : L1K_MEMPLAN_CHUNK_ROWS);
  uint64_t rows = chunk < N ? chunk : N;
  p->lm_chunk = add_sat(mul_sat(mul_sat(rows, d.V), 4), mul_sat(mul_sat(rows, d.C), 2 * s));
  p->activations = add_sat(add_sat(p->act_layers, p->act_backward), add_sat(p->act_model, p->lm_chunk));
  p->workspace = o->workspace ? o->workspace : L1K_MEMPLAN_WORKSPACE;
  p->total = add_sat(add_sat(add_sat(p->weights, p->grads), add_sat(p->optimizer, p->activations)),
                     p->workspace);
  if (p->total == UINT64_MAX)
    return l1k_errf(err, L1K_EINPUT, "plan: %" PRId64 " tokens overflow a 64-bit byte count", T);
  return 0;
}

int64_t l1k_memplan_max_T(const l1k_model_config *cfg, const l1k_memplan_opts *o,
                          uint64_t free_bytes, l1k_err *err) {
  l1k_memplan p;
  if (check_opts(o, 1, err)) return -1;
  if (l1k_memplan_compute(cfg, 1, o, &p, err) || p.total > free_bytes) return 0;
  int64_t lo = 1, hi = L1K_MEMPLAN_MAX_T; /* fits(lo); look for the last that fits in (lo, hi] */
  if (!l1k_memplan_compute(cfg, hi, o, &p, NULL) && p.total <= free_bytes) return hi;
  while (hi - lo > 1) {
    int64_t mid = lo + (hi - lo) / 2;
    int fits = !l1k_memplan_compute(cfg, mid, o, &p, NULL) && p.total <= free_bytes;
    if (fits) lo = mid;
    else hi = mid;
  }
  return lo;
}

/* ", --recompute would allow 123456 tokens" when an option that is off would let more fit. */
static void alternatives(const l1k_model_config *cfg, const l1k_memplan_opts *o,
                         uint64_t free_bytes, char *buf, size_t len) {
  buf[0] = 0;
  l1k_memplan_opts a = *o;
  if (!o->recompute) {
    a.recompute = 1;
    int64_t t = l1k_memplan_max_T(cfg, &a, free_bytes, NULL);
    snprintf(buf + strlen(buf), len - strlen(buf), "; with --recompute: %" PRId64, t);
  }
  if (!o->offload) {
    a.offload = 1;
    int64_t t = l1k_memplan_max_T(cfg, &a, free_bytes, NULL);
    snprintf(buf + strlen(buf), len - strlen(buf), "; with%s --offload: %" PRId64,
             o->recompute ? "" : " --recompute and", t);
  }
}

int l1k_memplan_check(const l1k_model_config *cfg, int64_t T, const l1k_memplan_opts *o,
                      uint64_t free_bytes, l1k_memplan *p, l1k_err *err) {
  int rc = l1k_memplan_compute(cfg, T, o, p, err);
  if (rc || p->total <= free_bytes) return rc;
  int64_t best = l1k_memplan_max_T(cfg, o, free_bytes, NULL);
  char alt[160], fit[160];
  alternatives(cfg, o, free_bytes, alt, sizeof alt);
  if (best) snprintf(fit, sizeof fit, "the largest T that fits is %" PRId64 " tokens", best);
  else snprintf(fit, sizeof fit, "not even 1 token fits (the model states alone take %.2f GiB)",
                (p->weights + p->grads + p->optimizer) / GIB);
  return l1k_errf(err, L1K_EINPUT,
                  "%" PRId64 " tokens per micro-batch need %.2f GiB of GPU memory (weights %.2f, "
                  "gradients %.2f, optimizer %.2f, activations %.2f GiB) but %.2f GiB are free: "
                  "%s%s",
                  T, p->total / GIB, p->weights / GIB, p->grads / GIB, p->optimizer / GIB,
                  p->activations / GIB, free_bytes / GIB, fit, alt);
}

void l1k_memplan_line(const l1k_memplan *p, uint64_t free_bytes, char *buf, size_t len) {
  int n = snprintf(buf, len,
                   "weights %.2f GiB, optimizer %.2f GiB, activations %.2f GiB at %" PRId64
                   " tokens (gradients %.2f GiB, workspace %.2f GiB)",
                   p->weights / GIB, p->optimizer / GIB, p->activations / GIB, p->T,
                   p->grads / GIB, p->workspace / GIB);
  if (free_bytes && n > 0 && (size_t)n < len)
    snprintf(buf + n, len - (size_t)n, ": %.2f GiB of %.2f GiB free", p->total / GIB,
             free_bytes / GIB);
}

/* ---------------------------------------------------------------- parsing */

/* Number and unit of "141GiB" / "2.5 GB" / "32k"; unit is what follows the number, trimmed. */
static int split_number(const char *s, double *v, const char **unit) {
  char *end;
  errno = 0;
  while (isspace((unsigned char)*s)) s++;
  if (!isdigit((unsigned char)*s) && *s != '.') return -1;
  *v = strtod(s, &end);
  if (errno || end == s || !(*v >= 0)) return -1;
  while (isspace((unsigned char)*end)) end++;
  *unit = end;
  return 0;
}

int l1k_parse_bytes(const char *s, uint64_t *out, const char *what, l1k_err *err) {
  static const struct { const char *u; double m; } units[] = {
      {"", 1},          {"B", 1},           {"KiB", 1024.0},      {"MiB", 1048576.0},
      {"GiB", GIB},     {"TiB", GIB * 1024}, {"KB", 1e3},          {"MB", 1e6},
      {"GB", 1e9},      {"TB", 1e12}};
  double v;
  const char *u;
  if (s && !split_number(s, &v, &u))
    for (size_t i = 0; i < sizeof units / sizeof *units; i++)
      if (!strcmp(u, units[i].u)) {
        double b = v * units[i].m;
        if (b >= 1.8e19) break;
        *out = (uint64_t)b;
        return 0;
      }
  return l1k_errf(err, L1K_EINPUT,
                  "%s: '%s' is not a size: expected a number with GiB, MiB, KiB, TiB (binary), "
                  "GB, MB, KB, TB (decimal) or no unit (bytes)", what, s ? s : "");
}

int l1k_parse_tokens(const char *s, int64_t *out, const char *what, l1k_err *err) {
  double v;
  const char *u;
  if (s && !split_number(s, &v, &u)) {
    double m = !*u ? 1 : (!strcmp(u, "k") || !strcmp(u, "K")) ? 1024 : !strcmp(u, "M") ? 1048576 : 0;
    double t = v * m;
    if (m && t >= 1 && t <= (double)L1K_MEMPLAN_MAX_T && t == (double)(int64_t)t) {
      *out = (int64_t)t;
      return 0;
    }
  }
  return l1k_errf(err, L1K_EINPUT,
                  "%s: '%s' is not a token count: expected a whole number from 1 to %" PRId64
                  ", optionally with k (1024) or M (1048576)", what, s ? s : "", L1K_MEMPLAN_MAX_T);
}
