/* long1k — the bf16 mode's optim_offload without float32 device parameters: see hostmaster.h.
 * Compiled and run on the CUDA emulation (tests/cuda/test_cuda_hostmaster.c,
 * tests/cuda/emu_train_plan.sh); not yet run on a GPU. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "backend/cuda/hostmaster.h"
#include "backend/cuda/offload.h"
#include "long1k/dtype.h"

#define TRY(x)           \
  do {                   \
    int rc_ = (x);       \
    if (rc_) return rc_; \
  } while (0)

int l1kcu_hm_wanted(const l1k_model *m, const cu_state *s, size_t lo, size_t hi) {
  const char *e = getenv("LONG1K_OFFLOAD_DEVICE_PARAMS");
  if (e && !strcmp(e, "1")) return 0;
  return s->want_offload && s->opts.precision == L1K_PREC_BF16 && !m->ad && !s->ad && !s->nccl &&
         s->wbf && lo == 0 && hi == s->tn && s->tn == m->n_params;
}

static void host_free(void *p, int pinned) {
  if (!p) return;
  if (pinned) cudaFreeHost(p);
  else free(p);
}

/* pinned when cudaMallocHost works, plain memory otherwise */
static void *host_alloc(size_t bytes, int *pinned, l1k_err *err) {
  void *p = NULL;
  if (cudaMallocHost(&p, bytes ? bytes : 16) == cudaSuccess) {
    *pinned = 1;
    return p;
  }
  cudaGetLastError();
  *pinned = 0;
  return l1k_malloc(bytes ? bytes : 16, err);
}

void l1kcu_hm_free(cu_state *s) {
  cu_hostmaster *h = s->hm;
  if (!h) return;
  if (!h->borrowed) host_free(h->master, h->pinned);
  host_free(h->stage, h->stage_pinned);
  if (h->f32) cudaFree(h->f32);
  free(h->f32_of);
  free(h);
  s->hm = NULL;
}

/* The tensors the kernels read as float32: 1-D ones and the embedding (emb 0: the embedding
 * read from the bf16 copy instead, LONG1K_OFFLOAD_EMBED_BF16=1). */
static int is_f32(const l1k_model *m, size_t i, int emb) {
  const l1k_tensor_info *t = &m->tensors[i];
  return t->ndim == 1 || (emb && m->p.embed && t->offset == (size_t)(m->p.embed - m->params));
}

/* Tensor index starting at flat offset off, or SIZE_MAX. */
static size_t tensor_at(const l1k_model *m, size_t off) {
  for (size_t i = 0; i < m->n_tensors; i++)
    if (m->tensors[i].offset == off && m->tensors[i].numel) return i;
  return SIZE_MAX;
}

static int repoint(l1k_model *m, cu_state *s, const float *old_base, l1k_err *err) {
  size_t cap = MODEL_PARAM_FIELDS_MAX(m);
  float ***f = l1k_calloc(cap, sizeof *f, err);
  if (!f) return L1K_ENOMEM;
  size_t nf = model_param_fields(m, &s->P, f);
  cu_hostmaster *h = s->hm;
  int rc = 0;
  for (size_t k = 0; k < nf && !rc; k++) {
    if (!*f[k]) continue;
    size_t off = (size_t)(*f[k] - old_base), i = tensor_at(m, off);
    if (i == SIZE_MAX) {
      rc = l1k_errf(err, L1K_EINTERNAL, "CUDA backend: parameter at offset %zu is no tensor", off);
      break;
    }
    *f[k] = h->f32_of[i] != SIZE_MAX ? h->f32 + h->f32_of[i] : (float *)(void *)(s->wbf + off);
  }
  free(f);
  return rc;
}

/* f32_of, n_f32, the float32 copies' device buffer and the embedding's place in it */
static int layout_f32(l1k_model *m, cu_hostmaster *h, int emb, l1k_err *err) {
  for (size_t i = 0; i < m->n_tensors; i++) {
    h->f32_of[i] = is_f32(m, i, emb) ? h->n_f32 : SIZE_MAX;
    if (h->f32_of[i] != SIZE_MAX) h->n_f32 += m->tensors[i].numel;
    if (h->f32_of[i] != SIZE_MAX && m->p.embed && m->tensors[i].offset == (size_t)(m->p.embed - m->params))
      h->emb_off = m->tensors[i].offset, h->emb_n = m->tensors[i].numel;
  }
  if (cudaMalloc((void **)&h->f32, (h->n_f32 ? h->n_f32 : 1) * sizeof(float)) != cudaSuccess) {
    cudaGetLastError();
    h->f32 = NULL;
    return l1k_errf(err, L1K_ENOMEM, "CUDA backend: out of device memory for the float32 norms, "
                    "biases and embedding (%.3f GB)", (double)h->n_f32 * 4 / 1e9);
  }
  for (size_t i = 0; i < m->n_tensors; i++)
    if (h->f32_of[i] != SIZE_MAX && h->emb_n && m->tensors[i].offset == h->emb_off)
      h->emb = h->f32 + h->f32_of[i];
  return 0;
}

int l1kcu_hm_enter(l1k_model *m, cu_state *s, l1k_err *err) {
  if (s->hm) return 0;
  size_t n = s->n_params;
  cu_hostmaster *h = l1k_calloc(1, sizeof *h, err);
  if (!h) return L1K_ENOMEM;
  s->hm = h;
  int rc = 0;
  h->f32_of = l1k_calloc(m->n_tensors ? m->n_tensors : 1, sizeof *h->f32_of, err);
  h->master = h->f32_of ? host_alloc(n * sizeof(float), &h->pinned, err) : NULL;
  if (!h->master) {
    l1kcu_hm_free(s);
    return l1k_errf(err, L1K_ENOMEM, "optim_offload: out of host memory for %zu float32 master "
                    "weights", n);
  }
  rc = l1kcu_check(cudaMemcpy(h->master, s->params, n * sizeof(float), cudaMemcpyDeviceToHost),
                   "optim_offload: master weights down", err);
  /* LONG1K_OFFLOAD_EMBED_BF16=1: no float32 embedding (4 V C bytes less); its rows are then
   * gathered from the bf16 copy, which changes the run's bits (docs/gpu.md, "Memory layout") */
  const char *eb = getenv("LONG1K_OFFLOAD_EMBED_BF16");
  if (!rc) rc = layout_f32(m, h, !(eb && !strcmp(eb, "1")), err);
  for (size_t i = 0; i < m->n_tensors && !rc; i++)
    if (h->f32_of[i] != SIZE_MAX)
      rc = l1kcu_check(cudaMemcpy(h->f32 + h->f32_of[i], s->params + m->tensors[i].offset,
                                  m->tensors[i].numel * sizeof(float), cudaMemcpyDeviceToDevice),
                       "float32 tensor copies", err);
  if (!rc) rc = repoint(m, s, s->params, err);
  if (!rc) rc = l1kcu_check(cudaDeviceSynchronize(), "optim_offload: host master", err);
  if (rc) {
    model_point(m, s->params, &s->P); /* back as it was */
    l1kcu_hm_free(s);
    return rc;
  }
  cudaFree(s->params);
  s->params = NULL;
  s->tp = NULL;
  return 0;
}

int l1kcu_hm_attach_inference(l1k_model *m, cu_state *s, l1k_err *err) {
  size_t n = m->n_params;
  cu_hostmaster *h = l1k_calloc(1, sizeof *h, err);
  if (!h) return L1K_ENOMEM;
  s->hm = h;
  s->n_params = n;
  s->tn = n, s->tt = m->tensors, s->ntt = m->n_tensors;
  h->borrowed = 1;
  h->master = m->params;
  h->f32_of = l1k_calloc(m->n_tensors ? m->n_tensors : 1, sizeof *h->f32_of, err);
  if (!h->f32_of) return L1K_ENOMEM;
  if (cudaMalloc((void **)&s->wbf, (n ? n : 1) * sizeof(uint16_t)) != cudaSuccess) {
    cudaGetLastError();
    s->wbf = NULL;
    return l1k_errf(err, L1K_ENOMEM, "CUDA backend: out of device memory for bf16 weights "
                    "(%.3f GB)", (double)n * 2 / 1e9);
  }
  TRY(layout_f32(m, h, 1, err)); /* gen_decode.c gathers float32 embedding rows */
  TRY(l1kcu_hm_upload(s, m->params, 0, n, err));
  model_point(m, m->params, &s->P); /* host addresses, then their device places */
  return repoint(m, s, m->params, err);
}

int l1kcu_hm_leave(l1k_model *m, cu_state *s, l1k_err *err) {
  cu_hostmaster *h = s->hm;
  if (!h) return 0;
  size_t n = s->n_params;
  float *p = NULL;
  if (cudaMalloc((void **)&p, (n ? n : 1) * sizeof(float)) != cudaSuccess) {
    cudaGetLastError();
    return l1k_errf(err, L1K_ENOMEM, "CUDA backend: out of device memory for the parameters "
                    "(%.3f GB)", (double)n * 4 / 1e9);
  }
  int rc = l1kcu_check(cudaMemcpy(p, h->master, n * sizeof(float), cudaMemcpyHostToDevice),
                       "upload of the parameters", err);
  if (rc) {
    cudaFree(p);
    return rc;
  }
  s->params = s->tp = p;
  model_point(m, s->params, &s->P);
  l1kcu_hm_free(s);
  return l1kcu_refresh_bf16(s, err);
}

/* bf16 of src[0, n) rounded on the host into the staging buffer, then to wbf + lo */
static int upload_bf16(cu_state *s, const float *src, size_t lo, size_t n, l1k_err *err) {
  cu_hostmaster *h = s->hm;
  size_t cap = (size_t)1 << 22;
  if (!h->stage) {
    h->stage_n = s->n_params < cap ? (s->n_params ? s->n_params : 1) : cap;
    h->stage = host_alloc(h->stage_n * sizeof(uint16_t), &h->stage_pinned, err);
    if (!h->stage) return L1K_ENOMEM;
  }
  for (size_t at = 0; at < n;) {
    size_t k = n - at < h->stage_n ? n - at : h->stage_n;
    for (size_t i = 0; i < k; i++) h->stage[i] = l1k_f32_to_bf16(src[at + i]);
    TRY(l1kcu_check(cudaMemcpy(s->wbf + lo + at, h->stage, k * sizeof(uint16_t),
                               cudaMemcpyHostToDevice), "optim_offload: bf16 parameters up", err));
    at += k;
  }
  return 0;
}

int l1kcu_hm_upload(cu_state *s, const float *src, size_t lo, size_t n, l1k_err *err) {
  if (!n) return 0;
  cu_hostmaster *h = s->hm;
  if (!h)
    return l1kcu_check(cudaMemcpy(s->tp + lo, src, n * sizeof(float), cudaMemcpyHostToDevice),
                       "parameters up", err);
  TRY(upload_bf16(s, src, lo, n, err));
  /* the float32 tensors overlapping [lo, lo + n) */
  for (size_t i = 0; i < s->ntt; i++) {
    if (h->f32_of[i] == SIZE_MAX) continue;
    size_t a = s->tt[i].offset, b = a + s->tt[i].numel;
    if (a < lo) a = lo;
    if (b > lo + n) b = lo + n;
    if (a >= b) continue;
    TRY(l1kcu_check(cudaMemcpy(h->f32 + h->f32_of[i] + (a - s->tt[i].offset), src + (a - lo),
                               (b - a) * sizeof(float), cudaMemcpyHostToDevice),
                    "optim_offload: float32 tensors up", err));
  }
  return 0;
}

const uint16_t *l1kcu_hm_weight_bf16(const cu_state *s, const float *X) {
  const cu_hostmaster *h = s->hm;
  if (!h) return NULL;
  const uint16_t *b = (const uint16_t *)(const void *)X;
  if (b >= s->wbf && b < s->wbf + s->n_params) return b; /* a matrix's bf16 values */
  if (h->emb && X >= h->emb && X < h->emb + h->emb_n) return s->wbf + h->emb_off + (X - h->emb);
  return NULL;
}
