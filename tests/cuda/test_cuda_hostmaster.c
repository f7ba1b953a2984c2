/* optim_offload in the bf16 mode without float32 parameters on the device (src/backend/cuda/
 * hostmaster.h; issue 14, memory).
 *
 * For each golden tiny model (llama: tied lm_head; qwen2: q/k/v biases; qwen3: q/k norms), in
 * the bf16 mode, the same 3 training steps (params_set of perturbed weights after optim_init, as
 * a resume does; then zero_grads, forward_backward on the golden batch, clipping at 1.0, AdamW)
 * run four ways:
 *   dev    AdamW on the device (float32 parameters and moments on the device);
 *   off32  optim_offload with the float32 device parameters kept (LONG1K_OFFLOAD_DEVICE_PARAMS=1,
 *          the arrangement before issue 14's memory item);
 *   off    optim_offload, the host master the only float32 copy, in one piece;
 *   offp   the same through the pipeline in pieces of 1000 values (a copy thread uploads bf16
 *          pieces that split tensors, the float32 norms / embedding included).
 * Required: every loss and gradient norm, the final parameters (params_get) and the logits of
 * a forward after the steps BIT-identical across the four (every kernel reads the same values:
 * bf16 rounded on the host the same way as on the device, float32 norms, biases and embedding);
 * in `off` the device holds no float32 parameters (cu_state.params NULL), and its device memory
 * (cudaMemGetInfo of the emulated device) is smaller than dev's by exactly the parameters and
 * the two moments (4 + 4 + 4 B/param) less the float32 copies of the 1-D tensors and the
 * embedding, and smaller than off32's by the parameters less those copies (sizes printed).
 * offe (LONG1K_OFFLOAD_EMBED_BF16=1: no float32 embedding on the device, its rows gathered from
 * the bf16 copy) changes bits: its first loss and gradient norm against the float32 CPU run of
 * the same steps within the bf16 parity bound 2e-2 (the bf16 mode's own distance printed
 * beside), and 4 V C bytes less on the device.
 * Also the memory plan (include/long1k/memplan.h): its weights + gradients + optimizer bytes
 * against what attach + optim_init allocate, fp32 / bf16, with and without offload: within 1%.
 * Runs on the CUDA emulation (tests/cuda/test_cuda_emulated.sh) and, unchanged, on a GPU (where
 * the device AdamW may differ from the host's in the last bit: nvcc's fused multiply-adds; the
 * three offload runs must still agree bit for bit; the byte counts are printed, checked on the
 * emulation only); without the backend or a device: SKIP. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "long1k/adapter.h"
#include "long1k/io.h"
#include "long1k/model.h"
#include "long1k/safetensors.h"

#ifdef LONG1K_HAVE_CUDA
#include "backend/cuda/cuda_internal.h"
/* the memory plan's arithmetic itself (include/long1k/memplan.h): compiled in, since the CUDA
 * tests link the model and core libraries only (long1k_cuda: no yaml / MPI on a GPU machine) */
#include "train/memplan.c"
#endif

#ifdef LONG1K_HAVE_CUDA
static const char *const MODELS[] = {"llama_tiny", "qwen2_tiny", "qwen3_tiny"};
#define STEPS 3

static void *xmalloc(size_t n) {
  void *p = malloc(n ? n : 1);
  if (!p) exit(1);
  return p;
}

static int32_t *st_ids(const l1k_safetensors *st, const char *name, int *B, int *T) {
  const l1k_st_tensor *t = l1k_st_find(st, name);
  if (!t || (t->dtype != L1K_DT_I32 && t->dtype != L1K_DT_I64) || t->ndim != 2) return NULL;
  int32_t *out = xmalloc(t->numel * sizeof *out);
  for (size_t i = 0; i < t->numel; i++) {
    if (t->dtype == L1K_DT_I32) memcpy(&out[i], (const char *)t->data + 4 * i, 4);
    else {
      int64_t v;
      memcpy(&v, (const char *)t->data + 8 * i, 8);
      out[i] = (int32_t)v;
    }
  }
  *B = (int)t->shape[0];
  *T = (int)t->shape[1];
  return out;
}

typedef struct run_out {
  double loss[STEPS], norm[STEPS];
  float *params, *logits;
  uint64_t used; /* device bytes after the steps */
  int no_f32;    /* cu_state.params was NULL */
} run_out;

static size_t r256(size_t b) { return b ? (b + 255) & ~(size_t)255 : 256; }

enum { DEV, OFF32, OFF, OFFP, OFFE, CPU, NMODES };
static const char *const MODE[] = {"dev", "off32", "off", "offp", "offe", "cpu"};

static int train(l1k_model *m, const l1k_batch *b, const float *start, int mode, run_out *r,
                 l1k_err *err) {
  size_t n = l1k_model_num_trainable(m);
  const l1k_model_config *c = l1k_model_cfg(m);
  if (mode == OFF32) setenv("LONG1K_OFFLOAD_DEVICE_PARAMS", "1", 1);
  if (mode == OFFE) setenv("LONG1K_OFFLOAD_EMBED_BF16", "1", 1);
  setenv("LONG1K_OFFLOAD_CHUNK", mode == OFFP ? "1000" : "0", 1);
  l1k_device_opts o = {L1K_DEVICE_PREC_BF16, 1, 0, 0, "device", 0};
  int rc = mode == CPU ? l1k_model_attach(m, "cpu", NULL, err) : l1k_model_attach(m, "cuda", &o, err);
  if (!rc && mode != DEV && mode != CPU) rc = l1k_model_optim_offload(m, 1, err);
  if (!rc) rc = l1k_model_optim_init(m, 0.9, 0.95, 1e-8, 0.1, 0, n, err);
  if (!rc) rc = l1k_model_params_set(m, start, 0, n, err);
  for (int s = 0; s < STEPS && !rc; s++) {
    int64_t nt = 0;
    l1k_model_zero_grads(m);
    rc = l1k_model_forward_backward(m, b, 1.0 / 40.0, &r->loss[s], &nt, err);
    if (!rc) rc = l1k_model_step(m, 2e-2, 1.0, 0, n, &r->norm[s], err);
  }
  r->params = xmalloc(n * sizeof(float));
  r->logits = xmalloc((size_t)b->B * b->T * c->vocab_size * sizeof(float));
  if (!rc) rc = l1k_model_params_get(m, r->params, 0, n, err);
  if (!rc) rc = l1k_model_forward(m, b, r->logits, NULL, NULL, err);
  uint64_t fr = 0, tot = 0;
  if (mode != CPU && !rc) rc = l1k_model_mem_info(m, &fr, &tot, err);
  r->used = tot - fr;
  r->no_f32 = !rc && mode != CPU && ((cu_state *)m->be_state)->params == NULL;
  unsetenv("LONG1K_OFFLOAD_DEVICE_PARAMS");
  unsetenv("LONG1K_OFFLOAD_EMBED_BF16");
  unsetenv("LONG1K_OFFLOAD_CHUNK");
  l1k_model_attach(m, "cpu", NULL, NULL); /* back to the host: frees the device's memory */
  return rc;
}

static void check_model(l1k_model *m, const char *model, const l1k_batch *b) {
  size_t n = l1k_model_num_trainable(m), nt = 0, n_f32 = 0;
  const l1k_model_config *c = l1k_model_cfg(m);
  const l1k_tensor_info *ti = l1k_model_tensors(m, &nt);
  for (size_t i = 0; i < nt; i++)
    if (ti[i].ndim == 1 || !strcmp(ti[i].name, "model.embed_tokens.weight")) n_f32 += ti[i].numel;
  float *start = xmalloc(n * sizeof(float));
  l1k_err err = {0};
  CHECK(l1k_model_params_get(m, start, 0, n, &err) == 0);
  uint32_t s = 12345; /* a perturbed start: the steps begin from params_set's values */
  for (size_t i = 0; i < n; i++)
    start[i] += 1e-3f * (((s = s * 1664525u + 1013904223u) >> 8) / 16777216.0f - 0.5f);
  run_out r[NMODES];
  memset(r, 0, sizeof r);
  int ok = 1;
  for (int k = 0; k < NMODES && ok; k++) {
    int rc = train(m, b, start, k, &r[k], &err);
    CHECK_MSG(rc == 0, "%s %s: %s", model, MODE[k], err.msg);
    ok = rc == 0;
  }
  size_t nl = (size_t)b->B * b->T * c->vocab_size;
  /* on a GPU the device AdamW may differ from the host's in the last bit (fused multiply-adds):
   * there the offload runs are compared with off32 by bits and dev is only printed */
  int emu = getenv("LONG1K_CUDA_EMULATED") != NULL;
  for (int k = 1; k <= OFFP && ok; k++) {
    int ref = emu || k == OFF32 ? DEV : OFF32;
    int same = !memcmp(r[k].loss, r[ref].loss, sizeof r[0].loss) &&
               !memcmp(r[k].norm, r[ref].norm, sizeof r[0].norm) &&
               !memcmp(r[k].params, r[ref].params, n * sizeof(float)) &&
               !memcmp(r[k].logits, r[ref].logits, nl * sizeof(float));
    fprintf(stderr, "%-12s %-6s vs %-5s: losses %.6f %.6f %.6f, norms, %zu params, logits: %s\n",
            model, MODE[k], MODE[ref], r[k].loss[0], r[k].loss[1], r[k].loss[2], n,
            same ? "same bits" : "DIFFER");
    if (ref != DEV || emu)
      CHECK_MSG(same, "%s: %s differs from the %s run", model, MODE[k], MODE[ref]);
  }
  if (ok) {
    CHECK_MSG(!r[DEV].no_f32 && !r[OFF32].no_f32 && r[OFF].no_f32 && r[OFFP].no_f32,
              "%s: float32 device parameters: dev %d off32 %d off %d offp %d (1 = none)", model,
              !r[DEV].no_f32, !r[OFF32].no_f32, !r[OFF].no_f32, !r[OFFP].no_f32);
    uint64_t want_dev = 3 * r256(n * 4) - r256(n_f32 * 4), want_32 = r256(n * 4) - r256(n_f32 * 4);
    fprintf(stderr, "%-12s device bytes: dev %llu, off32 %llu, off %llu (%zu params, %zu float32 "
            "norms/biases/embedding): saved %llu vs dev (want %llu), %llu vs off32 (want %llu)%s\n",
            model, (unsigned long long)r[DEV].used, (unsigned long long)r[OFF32].used,
            (unsigned long long)r[OFF].used, n, n_f32,
            (unsigned long long)(r[DEV].used - r[OFF].used), (unsigned long long)want_dev,
            (unsigned long long)(r[OFF32].used - r[OFF].used), (unsigned long long)want_32,
            emu ? "" : " (not checked on a GPU: its allocator rounds up)");
    if (emu)
      CHECK_MSG(r[DEV].used - r[OFF].used == want_dev && r[OFF32].used - r[OFF].used == want_32 &&
                    r[OFFP].used == r[OFF].used,
                "%s: device bytes not as expected", model);
  }
  /* LONG1K_OFFLOAD_EMBED_BF16=1: the embedding rows gathered from the bf16 copy (no float32
   * embedding on the device): other bits, so measured against the float32 CPU run: the first
   * step's loss and gradient norm (the forward and backward from the same weights) within the
   * bf16 parity bound 2e-2, beside the bf16 mode's own distance; the 3-step trajectory at this
   * large learning rate only printed */
  if (ok) {
    double l0 = fabs(r[OFFE].loss[0] - r[CPU].loss[0]) / fabs(r[CPU].loss[0]);
    double g0 = fabs(r[OFFE].norm[0] - r[CPU].norm[0]) / fabs(r[CPU].norm[0]);
    double l0d = fabs(r[DEV].loss[0] - r[CPU].loss[0]) / fabs(r[CPU].loss[0]);
    double g0d = fabs(r[DEV].norm[0] - r[CPU].norm[0]) / fabs(r[CPU].norm[0]);
    double p_dev = 0, p_offe = 0, p2 = 0;
    for (size_t i = 0; i < n; i++) {
      double c0 = r[CPU].params[i];
      p_dev += (r[DEV].params[i] - c0) * (r[DEV].params[i] - c0);
      p_offe += (r[OFFE].params[i] - c0) * (r[OFFE].params[i] - c0);
      p2 += c0 * c0;
    }
    p_dev = sqrt(p_dev / p2), p_offe = sqrt(p_offe / p2);
    size_t emb = (size_t)c->vocab_size * c->hidden_size;
    uint64_t want = r256(n_f32 * 4) - r256((n_f32 - emb) * 4);
    fprintf(stderr, "%-12s offe (bf16 embedding rows) vs cpu fp32: first loss %.3e, first grad "
            "norm %.3e (bf16 mode with float32 rows: %.3e, %.3e); params after %d steps %.3e "
            "(%.3e); device bytes %llu less than off (want %llu)\n", model, l0, g0, l0d, g0d,
            STEPS, p_offe, p_dev, (unsigned long long)(r[OFF].used - r[OFFE].used),
            (unsigned long long)want);
    CHECK_MSG(l0 <= 2e-2 && g0 <= 2e-2, "%s: bf16 embedding rows beyond the bf16 bound", model);
    if (emu) CHECK_MSG(r[OFF].used - r[OFFE].used == want, "%s: offe device bytes", model);
  }
  for (int k = 0; k < NMODES; k++) free(r[k].params), free(r[k].logits);
  free(start);
}

/* The memory plan's model-state terms (weights + gradients + optimizer, include/long1k/
 * memplan.h) against what the backend allocates at attach + optim_init on the emulated device,
 * less the rope table and (bf16 mode) the 32 MiB cuBLASLt workspace: within 1%. */
static void check_plan(l1k_model *m, const char *model) {
  const l1k_model_config *c = l1k_model_cfg(m);
  size_t n = l1k_model_num_trainable(m);
  static const struct { int bf16, offload; const char *name; } modes[] = {
      {0, 0, "fp32"}, {0, 1, "fp32 + offload"}, {1, 0, "bf16"}, {1, 1, "bf16 + offload"}};
  for (size_t k = 0; k < sizeof modes / sizeof modes[0]; k++) {
    l1k_err err = {0};
    l1k_device_opts o = {modes[k].bf16 ? L1K_DEVICE_PREC_BF16 : L1K_DEVICE_PREC_FP32, 1, 0, 0,
                         "device", 0};
    int rc = l1k_model_attach(m, "cuda", &o, &err);
    uint64_t fr = 0, tot = 0, other = r256((size_t)c->head_dim / 2 * 4) +
                                       (modes[k].bf16 ? ((uint64_t)32 << 20) : 0);
    /* the attach holds no gradients yet (they come after optim_init has dropped the float32
     * parameters: never parameters, gradients and the bf16 copy at once) */
    if (!rc) rc = l1k_model_mem_info(m, &fr, &tot, &err);
    uint64_t at_attach = tot - fr - other, want_attach = r256(n * 4) + (modes[k].bf16 ? r256(n * 2) : 0);
    if (!rc && getenv("LONG1K_CUDA_EMULATED"))
      CHECK_MSG(at_attach == want_attach, "%s %s: %llu bytes after attach, want %llu (no gradients)",
                model, modes[k].name, (unsigned long long)at_attach, (unsigned long long)want_attach);
    if (!rc && modes[k].offload) rc = l1k_model_optim_offload(m, 1, &err);
    if (!rc) rc = l1k_model_optim_init(m, 0.9, 0.95, 1e-8, 0.1, 0, n, &err);
    if (!rc) rc = l1k_model_mem_info(m, &fr, &tot, &err);
    CHECK_MSG(rc == 0, "%s plan %s: %s", model, modes[k].name, err.msg);
    l1k_model_attach(m, "cpu", NULL, NULL);
    if (rc) continue;
    uint64_t held = tot - fr - other;
    l1k_memplan_opts po = {.bf16 = modes[k].bf16, .offload = modes[k].offload, .world = 1};
    l1k_memplan p;
    CHECK(l1k_memplan_compute(c, 1, &po, &p, &err) == 0);
    uint64_t plan = p.weights + p.grads + p.optimizer;
    double rel = fabs((double)held - (double)plan) / (double)plan;
    fprintf(stderr, "%-12s plan %-15s weights %llu + gradients %llu + optimizer %llu = %llu B "
            "(%.2f B/param); backend holds %llu B: %.3f%%\n", model, modes[k].name,
            (unsigned long long)p.weights, (unsigned long long)p.grads,
            (unsigned long long)p.optimizer, (unsigned long long)plan, (double)plan / n,
            (unsigned long long)held, 100 * rel);
    if (getenv("LONG1K_CUDA_EMULATED")) /* a GPU's allocator and cuBLAS add their own */
      CHECK_MSG(rel <= 0.01, "%s %s: the plan's %llu bytes vs %llu held", model, modes[k].name,
              (unsigned long long)plan, (unsigned long long)held);
  }
}

/* inference_only attach (generate, eval --model): the forward's logits the same bits as the
 * training attach's, forward_backward refused with one line, and the device holding less: the
 * gradients (4 B/param), and in the bf16 mode also the float32 parameters less the float32
 * embedding and 1-D tensors (emulated device: exactly). */
static void check_inference(l1k_model *m, const char *model, const l1k_batch *b) {
  const l1k_model_config *c = l1k_model_cfg(m);
  size_t n = l1k_model_num_trainable(m), nt = 0, n_f32 = 0;
  const l1k_tensor_info *ti = l1k_model_tensors(m, &nt);
  for (size_t i = 0; i < nt; i++)
    if (ti[i].ndim == 1 || !strcmp(ti[i].name, "model.embed_tokens.weight")) n_f32 += ti[i].numel;
  size_t nl = (size_t)b->B * b->T * c->vocab_size;
  int emu = getenv("LONG1K_CUDA_EMULATED") != NULL;
  for (int bf16 = 0; bf16 < 2; bf16++) {
    float *lg[2] = {xmalloc(nl * sizeof(float)), xmalloc(nl * sizeof(float))};
    uint64_t used[2] = {0, 0};
    int ok = 1;
    for (int inf = 0; inf < 2 && ok; inf++) {
      l1k_err err = {0};
      l1k_device_opts o = {bf16 ? L1K_DEVICE_PREC_BF16 : L1K_DEVICE_PREC_FP32, 1, 0, 0, "device", inf};
      uint64_t fr = 0, tot = 0;
      int rc = l1k_model_attach(m, "cuda", &o, &err);
      if (!rc && !inf) l1k_model_zero_grads(m); /* the training attach's gradients come on need */
      if (!rc) rc = l1k_model_mem_info(m, &fr, &tot, &err);
      used[inf] = tot - fr;
      if (!rc) rc = l1k_model_forward(m, b, lg[inf], NULL, NULL, &err);
      CHECK_MSG(rc == 0, "%s inference_only=%d bf16=%d: %s", model, inf, bf16, err.msg);
      ok = rc == 0;
      if (ok && inf) {
        double loss = 0;
        int64_t ntg = 0;
        l1k_err e2 = {0};
        rc = l1k_model_forward_backward(m, b, 1.0, &loss, &ntg, &e2);
        CHECK_MSG(rc != 0 && strstr(e2.msg, "generation only") && !strchr(e2.msg, '\n'),
                  "%s: forward_backward on an inference_only attach: rc %d '%s'", model, rc, e2.msg);
      }
      l1k_model_attach(m, "cpu", NULL, NULL);
    }
    if (ok) {
      int same = !memcmp(lg[0], lg[1], nl * sizeof(float));
      uint64_t want = r256(n * 4) + (bf16 ? r256(n * 4) - r256(n_f32 * 4) : 0);
      fprintf(stderr, "%-12s inference_only %s: logits %s; device bytes %llu -> %llu (saved %llu, "
              "want %llu: gradients%s)\n", model, bf16 ? "bf16" : "fp32",
              same ? "same bits" : "DIFFER", (unsigned long long)used[0],
              (unsigned long long)used[1], (unsigned long long)(used[0] - used[1]),
              (unsigned long long)want, bf16 ? " + float32 parameters - float32 copies" : "");
      CHECK_MSG(same, "%s: inference_only changed the logits", model);
      if (emu) CHECK_MSG(used[0] - used[1] == want, "%s: inference_only device bytes", model);
      else CHECK(used[1] < used[0]);
    }
    free(lg[0]), free(lg[1]);
  }
}
#endif

int main(void) {
  setenv("OMP_NUM_THREADS", "1", 0);
#ifndef LONG1K_HAVE_CUDA
  SKIP("long1k was built without the CUDA backend (no nvcc at build time)");
#else
  char why[256];
  if (!l1k_backend_cuda_ops.available(why, sizeof why)) SKIP("%s", why);
  char probe[512];
  snprintf(probe, sizeof probe, "%s/llama_tiny/f32", shared_path("golden/models"));
  if (!l1k_is_dir(probe)) SKIP("no golden models under %s", shared_path("golden/models"));
  for (size_t i = 0; i < sizeof MODELS / sizeof MODELS[0]; i++) {
    char dir[600], path[700];
    l1k_err err = {0};
    snprintf(dir, sizeof dir, "%s/%s/f32", shared_path("golden/models"), MODELS[i]);
    l1k_model *m = l1k_model_load(dir, &err);
    CHECK_MSG(m != NULL, "%s", err.msg);
    snprintf(path, sizeof path, "%s/%s/reference.safetensors", shared_path("golden/models"), MODELS[i]);
    l1k_safetensors st;
    int have_st = m && l1k_st_open(&st, path, &err) == 0;
    CHECK_MSG(have_st, "%s", err.msg);
    if (have_st) {
      l1k_batch b;
      memset(&b, 0, sizeof b);
      int B2 = 0, T2 = 0;
      int32_t *ids = st_ids(&st, "input_ids", &b.B, &b.T), *labels = st_ids(&st, "labels", &B2, &T2);
      CHECK_MSG(ids && labels && B2 == b.B && T2 == b.T, "%s: golden batch", MODELS[i]);
      if (ids && labels && B2 == b.B && T2 == b.T) {
        b.ids = ids, b.labels = labels;
        check_model(m, MODELS[i], &b);
        check_plan(m, MODELS[i]);
        check_inference(m, MODELS[i], &b);
      }
      free(ids), free(labels);
      l1k_st_close(&st);
    }
    l1k_model_free(m);
  }
  CHECK_DONE();
#endif
}
