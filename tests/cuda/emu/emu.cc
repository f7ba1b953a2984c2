// long1k — CPU emulation of the CUDA runtime, cuBLAS and kernel execution for
// tests/cuda/test_cuda_emulated.sh (see l1k_cuda_emu.h). x86-64 only: the fibers of a block
// switch with a few lines of assembly (no system call per switch, unlike swapcontext).
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <functional>
#include <map>
#include <unordered_map>
#include <vector>

#include "cublasLt.h"
#include "l1k_cuda_emu.h"

// ------------------------------------------------------------------ runtime

static cudaError_t last_err = cudaSuccess;
/* the emulated device's 141 GB: cudaMemGetInfo reports what cudaMalloc handed out as used, so
 * that a backend's device memory can be measured here as on a GPU (tests/cuda/test_cuda_lora.c) */
static size_t emu_total(void) { /* LONG1K_EMU_MEM_TOTAL=bytes: a smaller device (plan tests) */
  static size_t t = 0;
  if (!t) {
    const char *e = getenv("LONG1K_EMU_MEM_TOTAL");
    t = e && *e && strtoull(e, NULL, 10) ? (size_t)strtoull(e, NULL, 10) : (size_t)141 * 1000 * 1000 * 1000;
  }
  return t;
}
#define EMU_TOTAL emu_total()
static std::unordered_map<void *, size_t> live;
static size_t used_bytes;

// ------------------------------------------------------------------ streams and graphs
// Work runs at once, in order, on whatever stream it is given, unless that stream captures: then
// it is recorded (a closure holding its arguments as they are now) and run by cudaGraphLaunch.
// The rules of CUDA's stream capture (programming guide, "CUDA Graphs"; the runtime API of
// cudaStreamBeginCapture / cudaThreadExchangeStreamCaptureMode) that can be broken from one host
// thread are enforced: potentially unsafe calls (cudaMalloc, cudaFree, cudaMallocHost,
// synchronization) during a capture not begun in relaxed mode fail with
// cudaErrorStreamCaptureUnsupported; work on the legacy stream while a blocking stream (or any
// stream in global mode) captures fails with cudaErrorStreamCaptureImplicit (its implicit
// synchronization would join the capture); a copy between a capturing stream and pageable host
// memory fails with Unsupported. Each failure invalidates the capture: cudaStreamEndCapture then
// returns cudaErrorStreamCaptureInvalidated and no graph.
struct emu_graph {
  std::vector<std::function<void()>> nodes;
};
struct emu_graph_exec {
  std::vector<std::function<void()>> nodes;
};
struct emu_stream {
  unsigned flags;
  bool capturing, invalid;
  int mode;
  emu_graph *g;
};
static std::vector<emu_stream *> captures; /* the capture sequences under way */
static std::map<uintptr_t, size_t> pinned;  /* cudaMallocHost ranges */

static cudaError_t fail(cudaError_t e) {
  last_err = e;
  return e;
}
static void invalidate_captures() {
  for (emu_stream *c : captures) c->invalid = true;
}
/* a potentially unsafe call: refused while a capture not begun in relaxed mode is under way */
static cudaError_t unsafe_call() {
  for (emu_stream *c : captures)
    if (c->mode != cudaStreamCaptureModeRelaxed) {
      invalidate_captures();
      return fail(cudaErrorStreamCaptureUnsupported);
    }
  return cudaSuccess;
}
/* work on the legacy stream: refused while a blocking stream (or a global-mode one) captures */
static cudaError_t legacy_use() {
  for (emu_stream *c : captures)
    if (!(c->flags & cudaStreamNonBlocking) || c->mode == cudaStreamCaptureModeGlobal) {
      invalidate_captures();
      return fail(cudaErrorStreamCaptureImplicit);
    }
  return cudaSuccess;
}
/* work for stream s: recorded if s captures, else run now */
static cudaError_t enqueue(cudaStream_t s, std::function<void()> fn) {
  if (!s) {
    cudaError_t e = legacy_use();
    if (e) return e;
    fn();
    return cudaSuccess;
  }
  if (s->capturing) {
    if (s->invalid) return fail(cudaErrorStreamCaptureInvalidated);
    s->g->nodes.push_back(std::move(fn));
    return cudaSuccess;
  }
  fn();
  return cudaSuccess;
}
static bool is_pinned(const void *p, size_t n) {
  auto it = pinned.upper_bound((uintptr_t)p);
  if (it == pinned.begin()) return false;
  --it;
  return (uintptr_t)p + n <= it->first + it->second;
}

extern "C" cudaError_t cudaStreamCreateWithFlags(cudaStream_t *s, unsigned flags) {
  if (!s) return fail(cudaErrorInvalidValue);
  *s = new emu_stream{flags, false, false, 0, nullptr};
  return cudaSuccess;
}
extern "C" cudaError_t cudaStreamCreate(cudaStream_t *s) { return cudaStreamCreateWithFlags(s, 0); }
extern "C" cudaError_t cudaStreamDestroy(cudaStream_t s) {
  if (!s) return fail(cudaErrorInvalidValue);
  if (s->capturing) { /* CUDA ends the capture (invalidated) */
    for (size_t i = 0; i < captures.size(); i++)
      if (captures[i] == s) captures.erase(captures.begin() + (long)i);
    delete s->g;
  }
  delete s;
  return cudaSuccess;
}
extern "C" cudaError_t cudaStreamSynchronize(cudaStream_t s) {
  if (s && s->capturing) {
    invalidate_captures();
    return fail(cudaErrorStreamCaptureUnsupported);
  }
  if (!s) {
    cudaError_t e = legacy_use();
    if (e) return e;
  }
  cudaError_t e = unsafe_call();
  return e ? e : last_err;
}
extern "C" cudaError_t cudaMemcpyAsync(void *d, const void *src, size_t n, enum cudaMemcpyKind kind,
                                       cudaStream_t s) {
  if (s && s->capturing && n &&
      ((kind == cudaMemcpyHostToDevice && !is_pinned(src, n)) ||
       (kind == cudaMemcpyDeviceToHost && !is_pinned(d, n)))) {
    invalidate_captures();
    return fail(cudaErrorStreamCaptureUnsupported);
  }
  return enqueue(s, [=]() {
    if (n) memmove(d, src, n);
  });
}
extern "C" cudaError_t cudaMemsetAsync(void *d, int v, size_t n, cudaStream_t s) {
  return enqueue(s, [=]() { memset(d, v, n); });
}
extern "C" cudaError_t cudaStreamBeginCapture(cudaStream_t s, cudaStreamCaptureMode mode) {
  if (!s) return fail(cudaErrorStreamCaptureUnsupported); /* the legacy stream cannot capture */
  if (s->capturing) return fail(cudaErrorStreamCaptureUnsupported);
  s->capturing = true;
  s->invalid = false;
  s->mode = (int)mode;
  s->g = new emu_graph;
  captures.push_back(s);
  return cudaSuccess;
}
extern "C" cudaError_t cudaStreamEndCapture(cudaStream_t s, cudaGraph_t *g) {
  if (!s || !g || !s->capturing) return fail(cudaErrorInvalidValue);
  for (size_t i = 0; i < captures.size(); i++)
    if (captures[i] == s) captures.erase(captures.begin() + (long)i);
  s->capturing = false;
  if (s->invalid) {
    delete s->g;
    s->g = nullptr;
    *g = nullptr;
    return fail(cudaErrorStreamCaptureInvalidated);
  }
  *g = s->g;
  s->g = nullptr;
  return cudaSuccess;
}
extern "C" cudaError_t cudaStreamIsCapturing(cudaStream_t s, cudaStreamCaptureStatus *st) {
  if (!st) return fail(cudaErrorInvalidValue);
  *st = !s || !s->capturing ? cudaStreamCaptureStatusNone
        : s->invalid        ? cudaStreamCaptureStatusInvalidated
                            : cudaStreamCaptureStatusActive;
  return cudaSuccess;
}
extern "C" cudaError_t cudaGraphInstantiate(cudaGraphExec_t *e, cudaGraph_t g, unsigned long long) {
  if (!e || !g) return fail(cudaErrorInvalidValue);
  const char *f = getenv("LONG1K_EMU_GRAPH_FAIL");
  if (f && !strcmp(f, "1")) {
    *e = nullptr;
    return fail(cudaErrorNotSupported);
  }
  *e = new emu_graph_exec{g->nodes}; /* a copy: the graph may be destroyed after this */
  return cudaSuccess;
}
extern "C" cudaError_t cudaGraphLaunch(cudaGraphExec_t e, cudaStream_t s) {
  if (!e) return fail(cudaErrorInvalidValue);
  if (s && s->capturing) { /* launched into a capture: its nodes join it */
    if (s->invalid) return fail(cudaErrorStreamCaptureInvalidated);
    for (auto &n : e->nodes) s->g->nodes.push_back(n);
    return cudaSuccess;
  }
  if (!s) {
    cudaError_t r = legacy_use();
    if (r) return r;
  }
  for (auto &n : e->nodes) n();
  return cudaSuccess;
}
extern "C" cudaError_t cudaGraphExecDestroy(cudaGraphExec_t e) {
  delete e;
  return cudaSuccess;
}
extern "C" cudaError_t cudaGraphDestroy(cudaGraph_t g) {
  delete g;
  return cudaSuccess;
}
extern "C" cudaError_t cudaGraphGetNodes(cudaGraph_t g, cudaGraphNode_t *nodes, size_t *n) {
  if (!g || !n || nodes) return fail(cudaErrorInvalidValue); /* the count only, here */
  *n = g->nodes.size();
  return cudaSuccess;
}

extern "C" cudaError_t cudaMalloc(void **p, size_t n) {
  if (cudaError_t e = unsafe_call()) {
    *p = NULL;
    return e;
  }
  size_t r = (n + 255) & ~(size_t)255;
  if (r == 0) r = 256;
  *p = used_bytes + r > EMU_TOTAL ? NULL : aligned_alloc(256, r);
  if (!*p) return cudaErrorMemoryAllocation;
  live[*p] = r;
  used_bytes += r;
  return cudaSuccess;
}
extern "C" cudaError_t cudaFree(void *p) {
  if (cudaError_t e = unsafe_call()) return e;
  auto it = live.find(p);
  if (p && it == live.end()) return cudaErrorInvalidValue;
  if (p) {
    used_bytes -= it->second;
    live.erase(it);
  }
  free(p);
  return cudaSuccess;
}
extern "C" cudaError_t cudaMemcpy(void *d, const void *s, size_t n, enum cudaMemcpyKind) {
  if (cudaError_t e = legacy_use()) return e; /* the legacy stream's work */
  if (cudaError_t e = unsafe_call()) return e; /* and a synchronization */
  if (n) memmove(d, s, n);
  return cudaSuccess;
}
extern "C" cudaError_t cudaMemset(void *d, int v, size_t n) {
  if (cudaError_t e = legacy_use()) return e;
  memset(d, v, n);
  return cudaSuccess;
}
extern "C" cudaError_t cudaGetLastError(void) {
  cudaError_t e = last_err;
  last_err = cudaSuccess;
  return e;
}
extern "C" cudaError_t cudaDeviceSynchronize(void) {
  if (!captures.empty()) { /* conflicts with any capture, relaxed included */
    invalidate_captures();
    return fail(cudaErrorStreamCaptureUnsupported);
  }
  return last_err;
}
/* the emulated device: an H200's 141 GB less what is allocated (device memory is host memory) */
extern "C" cudaError_t cudaMallocHost(void **p, size_t n) {
  if (cudaError_t e = unsafe_call()) {
    *p = NULL;
    return e;
  }
  size_t r = (n + 63) & ~(size_t)63;
  *p = aligned_alloc(64, r ? r : 64);
  if (*p) pinned[(uintptr_t)*p] = r ? r : 64;
  return *p ? cudaSuccess : cudaErrorMemoryAllocation;
}
extern "C" cudaError_t cudaFreeHost(void *p) {
  if (cudaError_t e = unsafe_call()) return e;
  if (p) pinned.erase((uintptr_t)p);
  free(p);
  return cudaSuccess;
}
extern "C" cudaError_t cudaMemGetInfo(size_t *free_b, size_t *total_b) {
  *total_b = EMU_TOTAL;
  *free_b = EMU_TOTAL - used_bytes;
  return cudaSuccess;
}

struct emu_event {
  double t;
};
extern "C" cudaError_t cudaEventCreate(cudaEvent_t *e) {
  *e = new emu_event{0};
  return cudaSuccess;
}
extern "C" cudaError_t cudaEventDestroy(cudaEvent_t e) {
  delete e;
  return cudaSuccess;
}
extern "C" cudaError_t cudaEventRecord(cudaEvent_t e, cudaStream_t s) {
  if (!e) return cudaErrorInvalidValue;
  return enqueue(s, [e]() {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    e->t = (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6;
  });
}
extern "C" cudaError_t cudaEventSynchronize(cudaEvent_t e) { return e ? cudaSuccess : cudaErrorInvalidValue; }
extern "C" cudaError_t cudaEventElapsedTime(float *ms, cudaEvent_t a, cudaEvent_t b) {
  if (!a || !b) return cudaErrorInvalidValue;
  *ms = (float)(b->t - a->t);
  return cudaSuccess;
}

/* LONG1K_EMU_DEVICES=n: n devices (each process has its own memory anyway; the ranks of a
 * multi-process test pick theirs by node-local rank), default 1 */
static int emu_devices(void) {
  const char *e = getenv("LONG1K_EMU_DEVICES");
  int n = e && *e ? atoi(e) : 1;
  return n > 0 ? n : 1;
}
extern "C" cudaError_t cudaGetDeviceCount(int *n) {
  *n = emu_devices();
  return cudaSuccess;
}
extern "C" cudaError_t cudaSetDevice(int d) {
  return d >= 0 && d < emu_devices() ? cudaSuccess : cudaErrorInvalidValue;
}
extern "C" cudaError_t cudaGetDeviceProperties(struct cudaDeviceProp *p, int d) {
  if (!p || d < 0 || d >= emu_devices()) return cudaErrorInvalidValue;
  memset(p, 0, sizeof *p);
  const char *nm = getenv("LONG1K_EMU_DEVICE_NAME");
  snprintf(p->name, sizeof p->name, "%s", nm && *nm ? nm : "long1k emulated device");
  size_t fr = 0, tot = 0;
  cudaMemGetInfo(&fr, &tot);
  p->totalGlobalMem = tot;
  p->multiProcessorCount = 1;
  p->major = 9;
  return cudaSuccess;
}
extern "C" const char *cudaGetErrorString(cudaError_t e) {
  switch (e) {
    case cudaSuccess: return "no error";
    case cudaErrorInvalidValue: return "invalid argument";
    case cudaErrorMemoryAllocation: return "out of memory";
    case cudaErrorNoDevice: return "no CUDA-capable device is detected";
    case cudaErrorNotSupported: return "operation not supported";
    case cudaErrorStreamCaptureUnsupported: return "operation not permitted when stream is capturing";
    case cudaErrorStreamCaptureInvalidated: return "operation failed due to a previous error during capture";
    case cudaErrorStreamCaptureImplicit:
      return "operation would make the legacy stream depend on a capturing blocking stream";
    default: return "unspecified launch failure (emulation)";
  }
}
extern "C" const char *cudaGetErrorName(cudaError_t e) {
  switch (e) {
    case cudaSuccess: return "cudaSuccess";
    case cudaErrorStreamCaptureUnsupported: return "cudaErrorStreamCaptureUnsupported";
    case cudaErrorStreamCaptureInvalidated: return "cudaErrorStreamCaptureInvalidated";
    case cudaErrorStreamCaptureImplicit: return "cudaErrorStreamCaptureImplicit";
    case cudaErrorNotSupported: return "cudaErrorNotSupported";
    default: return "cudaErrorEmulated";
  }
}

// ------------------------------------------------------------------ cuBLAS (column-major)

struct emu_cublas {
  int mode;
  cudaStream_t stream; /* cublasSetStream's: where the products run (or are captured) */
};
extern "C" cublasStatus_t cublasCreate(cublasHandle_t *h) {
  *h = new emu_cublas{0, 0};
  return CUBLAS_STATUS_SUCCESS;
}
extern "C" cublasStatus_t cublasDestroy(cublasHandle_t h) {
  delete h;
  return CUBLAS_STATUS_SUCCESS;
}
extern "C" cublasStatus_t cublasSetMathMode(cublasHandle_t h, cublasMath_t m) {
  h->mode = (int)m;
  return CUBLAS_STATUS_SUCCESS;
}
extern "C" cublasStatus_t cublasSetStream(cublasHandle_t h, cudaStream_t s) {
  if (!h) return CUBLAS_STATUS_NOT_INITIALIZED;
  h->stream = s;
  return CUBLAS_STATUS_SUCCESS;
}
extern "C" const char *cublasGetStatusString(cublasStatus_t s) {
  return s == CUBLAS_STATUS_SUCCESS ? "CUBLAS_STATUS_SUCCESS" : "CUBLAS_STATUS_EMULATED_ERROR";
}

static float bf16_to_f(uint16_t b) {
  uint32_t u = (uint32_t)b << 16;
  float f;
  memcpy(&f, &u, 4);
  return f;
}

// C = alpha op(A) op(B) + beta C; get(X, i) reads element i of an operand
template <class GA, class GB>
static void gemm(cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k, float alpha,
                 GA a, int lda, GB b, int ldb, float beta, float *C, int ldc) {
  for (int j = 0; j < n; j++)
    for (int i = 0; i < m; i++) {
      double s = 0;
      for (int l = 0; l < k; l++) {
        double x = ta == CUBLAS_OP_N ? a((size_t)i + (size_t)l * lda) : a((size_t)l + (size_t)i * lda);
        double y = tb == CUBLAS_OP_N ? b((size_t)l + (size_t)j * ldb) : b((size_t)j + (size_t)l * ldb);
        s += x * y;
      }
      float *c = C + (size_t)i + (size_t)j * ldc;
      *c = (float)(alpha * s + (beta == 0.0f ? 0.0 : (double)beta * *c)); // beta 0: C not read
    }
}

/* host pointer mode: alpha and beta are read at the call (and kept so by a capture) */
extern "C" cublasStatus_t cublasSgemm(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb,
                                      int m, int n, int k, const float *alpha, const float *A,
                                      int lda, const float *B, int ldb, const float *beta, float *C,
                                      int ldc) {
  float al = *alpha, be = *beta;
  cudaError_t e = enqueue(h ? h->stream : 0, [=]() {
    gemm(ta, tb, m, n, k, al, [A](size_t i) { return A[i]; }, lda,
         [B](size_t i) { return B[i]; }, ldb, be, C, ldc);
  });
  return e ? CUBLAS_STATUS_EXECUTION_FAILED : CUBLAS_STATUS_SUCCESS;
}

extern "C" cublasStatus_t cublasGemmEx(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb,
                                       int m, int n, int k, const void *alpha, const void *A,
                                       cudaDataType at, int lda, const void *B, cudaDataType bt,
                                       int ldb, const void *beta, void *C, cudaDataType ct, int ldc,
                                       cublasComputeType_t, cublasGemmAlgo_t) {
  if (at != CUDA_R_16BF || bt != CUDA_R_16BF || ct != CUDA_R_32F) return CUBLAS_STATUS_NOT_SUPPORTED;
  const uint16_t *a = (const uint16_t *)A, *b = (const uint16_t *)B;
  float al = *(const float *)alpha, be = *(const float *)beta;
  float *c = (float *)C;
  cudaError_t e = enqueue(h ? h->stream : 0, [=]() {
    gemm(ta, tb, m, n, k, al, [a](size_t i) { return bf16_to_f(a[i]); }, lda,
         [b](size_t i) { return bf16_to_f(b[i]); }, ldb, be, c, ldc);
  });
  return e ? CUBLAS_STATUS_EXECUTION_FAILED : CUBLAS_STATUS_SUCCESS;
}

// ------------------------------------------------------------------ cuBLASLt (column-major)
// The subset of tests/cuda/emu/cublasLt.h: D = alpha op(A) op(B) + beta C (+ bias[i] per row of D
// with EPILOGUE_BIAS), bf16 A / B, float32 C / D, sums in double rounded once; EPILOGUE_BGRADB
// also writes bias[j] = sum_l op(B)[l, j] (D's columns, reduced over k, unscaled). Checked as the
// library checks: attribute sizes, layouts against the transposes, ld >= rows, the algorithm's
// assumed pointer alignments (the preference's minimums) and its workspace.

struct emu_lt {
  int magic;
};
struct emu_lt_desc {
  int compute, scale;
  int32_t ta, tb, bias_type;
  uint32_t epi;
  const void *bias;
};
struct emu_lt_layout {
  int type;
  uint64_t rows, cols;
  int64_t ld;
};
struct emu_lt_pref {
  uint64_t ws;
  uint32_t al[4];
};
static const uint64_t EMU_LT_ALGO = 0x4c54414c474fULL;

extern "C" cublasStatus_t cublasLtCreate(cublasLtHandle_t *h) {
  *h = new emu_lt{1};
  return CUBLAS_STATUS_SUCCESS;
}
extern "C" cublasStatus_t cublasLtDestroy(cublasLtHandle_t h) {
  delete h;
  return CUBLAS_STATUS_SUCCESS;
}
extern "C" cublasStatus_t cublasLtMatmulDescCreate(cublasLtMatmulDesc_t *d,
                                                   cublasComputeType_t compute,
                                                   cudaDataType_t scale) {
  *d = new emu_lt_desc{(int)compute, (int)scale, CUBLAS_OP_N, CUBLAS_OP_N, CUDA_R_32F,
                       CUBLASLT_EPILOGUE_DEFAULT, NULL};
  return CUBLAS_STATUS_SUCCESS;
}
extern "C" cublasStatus_t cublasLtMatmulDescDestroy(cublasLtMatmulDesc_t d) {
  delete d;
  return CUBLAS_STATUS_SUCCESS;
}
extern "C" cublasStatus_t cublasLtMatmulDescSetAttribute(cublasLtMatmulDesc_t d,
                                                         cublasLtMatmulDescAttributes_t attr,
                                                         const void *buf, size_t size) {
  if (!d || !buf) return CUBLAS_STATUS_INVALID_VALUE;
  switch (attr) {
    case CUBLASLT_MATMUL_DESC_TRANSA:
    case CUBLASLT_MATMUL_DESC_TRANSB:
    case CUBLASLT_MATMUL_DESC_BIAS_DATA_TYPE: {
      if (size != sizeof(int32_t)) return CUBLAS_STATUS_INVALID_VALUE;
      int32_t v;
      memcpy(&v, buf, 4);
      if (attr == CUBLASLT_MATMUL_DESC_TRANSA) d->ta = v;
      else if (attr == CUBLASLT_MATMUL_DESC_TRANSB) d->tb = v;
      else d->bias_type = v;
      return CUBLAS_STATUS_SUCCESS;
    }
    case CUBLASLT_MATMUL_DESC_EPILOGUE:
      if (size != sizeof(uint32_t)) return CUBLAS_STATUS_INVALID_VALUE;
      memcpy(&d->epi, buf, 4);
      return CUBLAS_STATUS_SUCCESS;
    case CUBLASLT_MATMUL_DESC_BIAS_POINTER:
      if (size != sizeof(void *)) return CUBLAS_STATUS_INVALID_VALUE;
      memcpy(&d->bias, buf, sizeof(void *));
      return CUBLAS_STATUS_SUCCESS;
  }
  return CUBLAS_STATUS_INVALID_VALUE;
}
extern "C" cublasStatus_t cublasLtMatrixLayoutCreate(cublasLtMatrixLayout_t *l, cudaDataType type,
                                                     uint64_t rows, uint64_t cols, int64_t ld) {
  *l = new emu_lt_layout{(int)type, rows, cols, ld};
  return CUBLAS_STATUS_SUCCESS;
}
extern "C" cublasStatus_t cublasLtMatrixLayoutDestroy(cublasLtMatrixLayout_t l) {
  delete l;
  return CUBLAS_STATUS_SUCCESS;
}
extern "C" cublasStatus_t cublasLtMatmulPreferenceCreate(cublasLtMatmulPreference_t *p) {
  *p = new emu_lt_pref{0, {256, 256, 256, 256}};
  return CUBLAS_STATUS_SUCCESS;
}
extern "C" cublasStatus_t cublasLtMatmulPreferenceDestroy(cublasLtMatmulPreference_t p) {
  delete p;
  return CUBLAS_STATUS_SUCCESS;
}
extern "C" cublasStatus_t cublasLtMatmulPreferenceSetAttribute(
    cublasLtMatmulPreference_t p, cublasLtMatmulPreferenceAttributes_t attr, const void *buf,
    size_t size) {
  if (!p || !buf) return CUBLAS_STATUS_INVALID_VALUE;
  if (attr == CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES) {
    if (size != sizeof(uint64_t)) return CUBLAS_STATUS_INVALID_VALUE;
    memcpy(&p->ws, buf, 8);
    return CUBLAS_STATUS_SUCCESS;
  }
  if (attr >= CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES &&
      attr <= CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES) {
    if (size != sizeof(uint32_t)) return CUBLAS_STATUS_INVALID_VALUE;
    memcpy(&p->al[attr - CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES], buf, 4);
    return CUBLAS_STATUS_SUCCESS;
  }
  return CUBLAS_STATUS_INVALID_VALUE;
}

/* the shapes of a product: INVALID_VALUE when they do not fit together, NOT_SUPPORTED for what
 * the subset does not do (the backend falls back then, as with a real library that has no
 * algorithm) */
static cublasStatus_t lt_shapes(const emu_lt_desc *d, const emu_lt_layout *a,
                                const emu_lt_layout *b, const emu_lt_layout *c,
                                const emu_lt_layout *dd, uint64_t *m, uint64_t *n, uint64_t *k) {
  if (!d || !a || !b || !c || !dd) return CUBLAS_STATUS_INVALID_VALUE;
  if (d->compute != CUBLAS_COMPUTE_32F || d->scale != CUDA_R_32F || a->type != CUDA_R_16BF ||
      b->type != CUDA_R_16BF || c->type != CUDA_R_32F || dd->type != CUDA_R_32F ||
      (d->epi != CUBLASLT_EPILOGUE_DEFAULT && d->epi != CUBLASLT_EPILOGUE_BIAS &&
       d->epi != CUBLASLT_EPILOGUE_BGRADB) ||
      (d->epi != CUBLASLT_EPILOGUE_DEFAULT && d->bias_type != CUDA_R_32F))
    return CUBLAS_STATUS_NOT_SUPPORTED;
  if ((d->ta != CUBLAS_OP_N && d->ta != CUBLAS_OP_T) || (d->tb != CUBLAS_OP_N && d->tb != CUBLAS_OP_T))
    return CUBLAS_STATUS_INVALID_VALUE;
  *m = d->ta == CUBLAS_OP_N ? a->rows : a->cols;
  *k = d->ta == CUBLAS_OP_N ? a->cols : a->rows;
  uint64_t kb = d->tb == CUBLAS_OP_N ? b->rows : b->cols;
  *n = d->tb == CUBLAS_OP_N ? b->cols : b->rows;
  const emu_lt_layout *all[] = {a, b, c, dd};
  for (int i = 0; i < 4; i++)
    if (all[i]->ld < (int64_t)all[i]->rows || all[i]->rows == 0 || all[i]->cols == 0)
      return CUBLAS_STATUS_INVALID_VALUE;
  if (kb != *k || c->rows != *m || c->cols != *n || dd->rows != *m || dd->cols != *n ||
      c->ld != dd->ld)
    return CUBLAS_STATUS_INVALID_VALUE;
  return CUBLAS_STATUS_SUCCESS;
}

extern "C" cublasStatus_t cublasLtMatmulAlgoGetHeuristic(
    cublasLtHandle_t h, cublasLtMatmulDesc_t d, cublasLtMatrixLayout_t a, cublasLtMatrixLayout_t b,
    cublasLtMatrixLayout_t c, cublasLtMatrixLayout_t dd, cublasLtMatmulPreference_t p,
    int requested, cublasLtMatmulHeuristicResult_t results[], int *returned) {
  if (!h || !p || !results || !returned || requested < 1) return CUBLAS_STATUS_INVALID_VALUE;
  *returned = 0;
  uint64_t m, n, k;
  cublasStatus_t st = lt_shapes(d, a, b, c, dd, &m, &n, &k);
  if (st) return st;
  memset(&results[0], 0, sizeof results[0]);
  results[0].algo.data[0] = EMU_LT_ALGO;
  for (int i = 0; i < 4; i++) results[0].algo.data[1 + i] = p->al[i];
  results[0].algo.data[5] = 1 << 20; /* the workspace this "algorithm" wants */
  results[0].workspaceSize = 1 << 20;
  if (results[0].workspaceSize > p->ws) return CUBLAS_STATUS_NOT_SUPPORTED;
  results[0].state = CUBLAS_STATUS_SUCCESS;
  results[0].wavesCount = 1.0f;
  *returned = 1;
  return CUBLAS_STATUS_SUCCESS;
}

extern "C" cublasStatus_t cublasLtMatmul(cublasLtHandle_t h, cublasLtMatmulDesc_t d,
                                         const void *alpha, const void *A,
                                         cublasLtMatrixLayout_t la, const void *B,
                                         cublasLtMatrixLayout_t lb, const void *beta,
                                         const void *C, cublasLtMatrixLayout_t lc, void *D,
                                         cublasLtMatrixLayout_t ld, const cublasLtMatmulAlgo_t *algo,
                                         void *workspace, size_t ws_bytes, cudaStream_t stream) {
  if (!h || !algo || algo->data[0] != EMU_LT_ALGO || !A || !B || !D || !alpha || !beta)
    return CUBLAS_STATUS_INVALID_VALUE;
  uint64_t m, n, k;
  cublasStatus_t st = lt_shapes(d, la, lb, lc, ld, &m, &n, &k);
  if (st) return st;
  /* the algorithm was chosen for pointers at least this aligned, and this much workspace */
  const void *ptr[4] = {A, B, C, D};
  for (int i = 0; i < 4; i++)
    if (ptr[i] && (uintptr_t)ptr[i] % algo->data[1 + i]) return CUBLAS_STATUS_INVALID_VALUE;
  if (ws_bytes < algo->data[5] || !workspace) return CUBLAS_STATUS_INVALID_VALUE;
  if (d->epi != CUBLASLT_EPILOGUE_DEFAULT && !d->bias) return CUBLAS_STATUS_INVALID_VALUE;
  float al = *(const float *)alpha, be = *(const float *)beta;
  if (be != 0.0f && !C) return CUBLAS_STATUS_INVALID_VALUE;
  const uint16_t *a = (const uint16_t *)A, *b = (const uint16_t *)B;
  const float *cc = (const float *)C;
  float *dd = (float *)D;
  const float *bias = (const float *)d->bias;
  int ta = d->ta == CUBLAS_OP_T, tb = d->tb == CUBLAS_OP_T;
  size_t lda = (size_t)la->ld, ldb = (size_t)lb->ld, ldc = (size_t)lc->ld;
  int epi = d->epi; /* the descriptor as it is at the call (a capture keeps it so) */
  float *bias_w = (float *)d->bias;
  cudaError_t e = enqueue(stream, [=]() {
    if (epi == CUBLASLT_EPILOGUE_BGRADB) /* before D is written: B may not alias D here */
      for (uint64_t j = 0; j < n; j++) {
        double s = 0;
        for (uint64_t l = 0; l < k; l++) s += bf16_to_f(tb ? b[j + l * ldb] : b[l + j * ldb]);
        bias_w[j] = (float)s;
      }
    for (uint64_t j = 0; j < n; j++)
      for (uint64_t i = 0; i < m; i++) {
        double s = 0;
        for (uint64_t l = 0; l < k; l++)
          s += (double)bf16_to_f(ta ? a[l + i * lda] : a[i + l * lda]) *
               bf16_to_f(tb ? b[j + l * ldb] : b[l + j * ldb]);
        double v = al * s + (be == 0.0f ? 0.0 : (double)be * cc[i + j * ldc]);
        if (epi == CUBLASLT_EPILOGUE_BIAS) v += bias[i];
        dd[i + j * ldc] = (float)v;
      }
  });
  return e ? CUBLAS_STATUS_EXECUTION_FAILED : CUBLAS_STATUS_SUCCESS;
}

// ------------------------------------------------------------------ kernel execution

uint3 threadIdx, blockIdx;
dim3 blockDim, gridDim;

extern "C" void emu_switch(void **save_sp, void *load_sp);
asm(R"(
  .text
  .globl emu_switch
  .type emu_switch, @function
emu_switch:
  pushq %rbp
  pushq %rbx
  pushq %r12
  pushq %r13
  pushq %r14
  pushq %r15
  movq %rsp, (%rdi)
  movq %rsi, %rsp
  popq %r15
  popq %r14
  popq %r13
  popq %r12
  popq %rbx
  popq %rbp
  ret
  .size emu_switch, .-emu_switch
)");

enum { RUN, WAIT_WARP, WAIT_BLOCK, DONE };
struct Fiber {
  void *sp;
  int state;
};
static const size_t STACK = 128 << 10;
static std::vector<Fiber> fibers(1024);
static struct StackPool { // fiber stacks, reused by every block; freed at exit
  std::vector<char *> v;
  ~StackPool() {
    for (char *p : v) free(p);
  }
} pool;
static std::vector<char *> &stacks = pool.v;
static void *sched_sp;
static int cur;
static const std::function<void()> *cur_fn;
static double xchg[32][32];

static void fiber_entry() {
  (*cur_fn)();
  fibers[cur].state = DONE;
  emu_switch(&fibers[cur].sp, sched_sp);
  abort(); // never resumed
}

static void wait_as(int state) {
  fibers[cur].state = state;
  emu_switch(&fibers[cur].sp, sched_sp);
}
void __syncthreads() { wait_as(WAIT_BLOCK); }
void emu_warp_sync() { wait_as(WAIT_WARP); }
void emu_xchg_put(const void *v, size_t n) { memcpy(&xchg[threadIdx.x / 32][threadIdx.x % 32], v, n); }
void emu_xchg_get(void *v, size_t n, int lane) { memcpy(v, &xchg[threadIdx.x / 32][lane & 31], n); }

// ------------------------------------------------------------------ warp-wide fragments

static unsigned char xbig[32][32][64];
void emu_warp_gather(const void *mine, size_t n, void *all) {
  if (n > 64) abort();
  unsigned w = threadIdx.x / 32;
  emu_warp_sync();
  memcpy(xbig[w][threadIdx.x % 32], mine, n);
  emu_warp_sync();
  for (int l = 0; l < 32; l++) memcpy((unsigned char *)all + l * n, xbig[w][l], n);
}

static float bf16_half(uint32_t reg, int hi) { return bf16_to_f((uint16_t)(hi ? reg >> 16 : reg)); }

// mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32, PTX ISA "Matrix Fragments for
// mma.m16n8k16" (groupID = lane / 4, tid = lane % 4): A (16 x 16, row) a0..a7 in four 32-bit
// registers: reg 0 (row g, cols 2t, 2t+1), reg 1 (row g+8, same cols), reg 2 (row g, cols
// 2t+8, 2t+9), reg 3 (row g+8, cols 2t+8, 2t+9), the lower column in the lower 16 bits; B (16 x 8,
// col): reg 0 (rows 2t, 2t+1, col g), reg 1 (rows 2t+8, 2t+9, col g); C / D: c0, c1 (row g, cols
// 2t, 2t+1), c2, c3 (row g+8, same cols). Products are exact in float; summed in double.
void l1k_mma16816(float *c, const uint32_t *a, const uint32_t *b) {
  struct Frag {
    uint32_t a[4], b[2];
  } me = {{a[0], a[1], a[2], a[3]}, {b[0], b[1]}}, all[32];
  emu_warp_gather(&me, sizeof me, all);
  int lane = threadIdx.x % 32, g = lane / 4, t = lane % 4;
  for (int i = 0; i < 4; i++) {
    int r = g + 8 * (i / 2), n = 2 * t + i % 2;
    double s = c[i];
    for (int k = 0; k < 16; k++) {
      float x = bf16_half(all[(r % 8) * 4 + (k % 8) / 2].a[r / 8 + 2 * (k / 8)], k % 2);
      float y = bf16_half(all[n * 4 + (k % 8) / 2].b[k / 8], k % 2);
      s += (double)x * y;
    }
    c[i] = (float)s;
  }
}

// ldmatrix.sync.aligned.m8n8.x4[.trans].shared.b16: lanes 8i .. 8i+7 give the addresses of
// rows 0..7 of matrix i; register i of lane l receives row l/4, elements 2(l%4), 2(l%4)+1 of
// matrix i (.trans: elements (2(l%4), l/4) and (2(l%4)+1, l/4), i.e. of the transpose).
static void ldmatrix(uint32_t *r, const void *row, int trans) {
  const void *all[32];
  emu_warp_gather(&row, sizeof row, all);
  int lane = threadIdx.x % 32, g = lane / 4, t = lane % 4;
  for (int i = 0; i < 4; i++) {
    uint16_t e[2];
    for (int h = 0; h < 2; h++) {
      int rr = trans ? 2 * t + h : g, cc = trans ? g : 2 * t + h;
      memcpy(&e[h], (const uint16_t *)all[8 * i + rr] + cc, 2);
    }
    r[i] = (uint32_t)e[0] | (uint32_t)e[1] << 16;
  }
  emu_warp_sync(); // every lane has read before any lane's smem writes go on
}
void l1k_ldmatrix_x4(uint32_t *r, const void *row) { ldmatrix(r, row, 0); }
void l1k_ldmatrix_x4_trans(uint32_t *r, const void *row) { ldmatrix(r, row, 1); }

// releases a group (fibers lo..hi) whose live members all wait in `state`
static bool release(int lo, int hi, int state) {
  bool any = false;
  for (int i = lo; i < hi; i++) {
    if (fibers[i].state == DONE) continue;
    if (fibers[i].state != state) return false;
    any = true;
  }
  if (any)
    for (int i = lo; i < hi; i++)
      if (fibers[i].state == state) fibers[i].state = RUN;
  return any;
}

static bool run_block(int n) {
  while (stacks.size() < (size_t)n) stacks.push_back((char *)aligned_alloc(64, STACK));
  for (int i = 0; i < n; i++) {
    uintptr_t top = ((uintptr_t)stacks[i] + STACK) & ~(uintptr_t)15;
    void **sp = (void **)(top - 64);
    memset(sp, 0, 64);
    sp[6] = (void *)fiber_entry; // popped 6 registers, then ret
    fibers[i].sp = sp;
    fibers[i].state = RUN;
  }
  for (;;) {
    bool progress = false, done = true;
    for (int i = 0; i < n; i++)
      if (fibers[i].state == RUN) {
        cur = i;
        threadIdx = uint3{(unsigned)i, 0, 0};
        emu_switch(&sched_sp, fibers[i].sp);
        progress = true;
      }
    for (int w = 0; w < n; w += 32) progress |= release(w, w + 32 < n ? w + 32 : n, WAIT_WARP);
    progress |= release(0, n, WAIT_BLOCK);
    for (int i = 0; i < n; i++) done &= fibers[i].state == DONE;
    if (done) return true;
    if (!progress) {
      fprintf(stderr, "emu: block (%u,%u,%u) deadlocked: threads wait at different barriers\n",
              blockIdx.x, blockIdx.y, blockIdx.z);
      return false;
    }
  }
}

static std::vector<unsigned char> dyn_smem;
unsigned char *emu_dyn_smem() { return dyn_smem.data(); }

static void run_launch(const emu_cfg &c, const std::function<void()> &fn) {
  dyn_smem.assign(c.shared_bytes ? c.shared_bytes : 16, 0xff);
  gridDim = c.grid;
  blockDim = c.block;
  cur_fn = &fn;
  for (unsigned z = 0; z < c.grid.z; z++)
    for (unsigned y = 0; y < c.grid.y; y++)
      for (unsigned x = 0; x < c.grid.x; x++) {
        blockIdx = uint3{x, y, z};
        memset(dyn_smem.data(), 0xff, dyn_smem.size());
        if (!run_block((int)c.block.x)) {
          last_err = cudaErrorLaunchFailure;
          return;
        }
      }
}

/* a launch: checked now, run now or recorded (fn holds the kernel's arguments by value) */
void emu_launch(emu_cfg c, const std::function<void()> &fn) {
  if (c.shared_bytes > 227 * 1024) { // an H100 / H200 block's most
    last_err = cudaErrorInvalidValue;
    return;
  }
  if (c.block.x == 0 || c.block.x > 1024 || c.block.y != 1 || c.block.z != 1 || c.grid.x == 0) {
    last_err = cudaErrorInvalidValue;
    return;
  }
  std::function<void()> f = fn;
  enqueue(c.stream, [c, f]() { run_launch(c, f); });
}
