/* long1k — a CPU emulation of the small part of the CUDA runtime, cuBLAS and the device
 * language that src/backend/cuda uses, so that its real sources (kernels.cu, backend_cuda.c,
 * cuda_model.c) run on a machine without a GPU: tests/cuda/test_cuda_emulated.sh. Device
 * memory is host memory; a kernel launch runs its blocks one after the other, each block's
 * threads as cooperative fibers that switch at __syncthreads and at warp shuffles (emu.cc).
 * Slow and only as faithful as this file: a check of the indexing, tiling and barriers of the
 * kernels and of the backend's host logic, not of the GPU. Not part of the library. */
#ifndef L1K_CUDA_EMU_H
#define L1K_CUDA_EMU_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum cudaError {
  cudaSuccess = 0,
  cudaErrorInvalidValue = 1,
  cudaErrorMemoryAllocation = 2,
  cudaErrorNoDevice = 100,
  cudaErrorLaunchFailure = 719,
  cudaErrorNotSupported = 801,
  cudaErrorStreamCaptureUnsupported = 900, /* an operation stream capture does not permit */
  cudaErrorStreamCaptureInvalidated = 901, /* the capture was invalidated by an earlier error */
  cudaErrorStreamCaptureImplicit = 906     /* implicit dependency on a capturing stream (legacy stream) */
} cudaError_t;
enum cudaMemcpyKind {
  cudaMemcpyHostToHost = 0,
  cudaMemcpyHostToDevice = 1,
  cudaMemcpyDeviceToHost = 2,
  cudaMemcpyDeviceToDevice = 3
};
cudaError_t cudaMalloc(void **p, size_t n);
cudaError_t cudaFree(void *p);
cudaError_t cudaMallocHost(void **p, size_t n); /* pinned host memory: plain memory here */
cudaError_t cudaFreeHost(void *p);
cudaError_t cudaMemcpy(void *dst, const void *src, size_t n, enum cudaMemcpyKind kind);
cudaError_t cudaMemset(void *dst, int v, size_t n);
cudaError_t cudaGetLastError(void);
cudaError_t cudaDeviceSynchronize(void);
cudaError_t cudaGetDeviceCount(int *n);
cudaError_t cudaMemGetInfo(size_t *free_b, size_t *total_b);
cudaError_t cudaSetDevice(int d);
/* the fields the backend reads; name: "long1k emulated device", or LONG1K_EMU_DEVICE_NAME (the
 * MFU table's tests) */
struct cudaDeviceProp {
  char name[256];
  size_t totalGlobalMem;
  int multiProcessorCount, major, minor;
};
cudaError_t cudaGetDeviceProperties(struct cudaDeviceProp *p, int d);
const char *cudaGetErrorString(cudaError_t e);
/* streams and events: work runs synchronously here, so an event is the host time at which it
 * was recorded (the benchmarks' timing, bench/gpu_bench_common.h) */
typedef struct emu_stream *cudaStream_t;
typedef struct emu_event *cudaEvent_t;
cudaError_t cudaEventCreate(cudaEvent_t *e);
cudaError_t cudaEventDestroy(cudaEvent_t e);
cudaError_t cudaEventRecord(cudaEvent_t e, cudaStream_t s);
cudaError_t cudaEventSynchronize(cudaEvent_t e);
cudaError_t cudaEventElapsedTime(float *ms, cudaEvent_t a, cudaEvent_t b);
const char *cudaGetErrorName(cudaError_t e);
/* Streams and graphs (emu.cc "streams and graphs"). Work on a stream runs at once (in order) unless
 * the stream is capturing: then it is recorded, not run, with its arguments as they are at the
 * call (a kernel's by-value arguments, a copy's pointers and size, cuBLAS's alpha / beta values),
 * and replayed as recorded by cudaGraphLaunch. CUDA's capture rules are enforced: while a capture
 * is active (modes global / thread-local: one host thread here), cudaMalloc, cudaMallocHost,
 * cudaFree, cudaMemcpy / cudaMemset (legacy stream), a launch on the legacy stream,
 * cudaDeviceSynchronize and cudaStreamSynchronize of the capturing stream fail (Unsupported, or
 * Implicit for legacy-stream work) and invalidate the capture; a cudaMemcpyAsync between device
 * and pageable host memory fails the same way (only cudaMallocHost memory may be captured). */
#define cudaStreamDefault 0x0
#define cudaStreamNonBlocking 0x1
typedef enum cudaStreamCaptureMode {
  cudaStreamCaptureModeGlobal = 0,
  cudaStreamCaptureModeThreadLocal = 1,
  cudaStreamCaptureModeRelaxed = 2
} cudaStreamCaptureMode;
typedef enum cudaStreamCaptureStatus {
  cudaStreamCaptureStatusNone = 0,
  cudaStreamCaptureStatusActive = 1,
  cudaStreamCaptureStatusInvalidated = 2
} cudaStreamCaptureStatus;
typedef struct emu_graph *cudaGraph_t;
typedef struct emu_graph_exec *cudaGraphExec_t;
typedef struct emu_graph_node *cudaGraphNode_t;
cudaError_t cudaStreamCreate(cudaStream_t *s);
cudaError_t cudaStreamCreateWithFlags(cudaStream_t *s, unsigned flags);
cudaError_t cudaStreamDestroy(cudaStream_t s);
cudaError_t cudaStreamSynchronize(cudaStream_t s);
cudaError_t cudaMemcpyAsync(void *dst, const void *src, size_t n, enum cudaMemcpyKind kind, cudaStream_t s);
cudaError_t cudaMemsetAsync(void *dst, int v, size_t n, cudaStream_t s);
cudaError_t cudaStreamBeginCapture(cudaStream_t s, cudaStreamCaptureMode mode);
cudaError_t cudaStreamEndCapture(cudaStream_t s, cudaGraph_t *g);
cudaError_t cudaStreamIsCapturing(cudaStream_t s, cudaStreamCaptureStatus *st);
cudaError_t cudaGraphInstantiate(cudaGraphExec_t *e, cudaGraph_t g, unsigned long long flags);
cudaError_t cudaGraphLaunch(cudaGraphExec_t e, cudaStream_t s);
cudaError_t cudaGraphExecDestroy(cudaGraphExec_t e);
cudaError_t cudaGraphDestroy(cudaGraph_t g);
cudaError_t cudaGraphGetNodes(cudaGraph_t g, cudaGraphNode_t *nodes, size_t *n); /* nodes NULL: the count */
/* LONG1K_EMU_GRAPH_FAIL=1: cudaGraphInstantiate fails with cudaErrorNotSupported (a device that
 * cannot run the graph: the callers' fallback is tested with it) */

typedef struct emu_cublas *cublasHandle_t;
typedef enum {
  CUBLAS_STATUS_SUCCESS = 0,
  CUBLAS_STATUS_NOT_INITIALIZED = 1,
  CUBLAS_STATUS_ALLOC_FAILED = 3,
  CUBLAS_STATUS_INVALID_VALUE = 7,
  CUBLAS_STATUS_EXECUTION_FAILED = 13,
  CUBLAS_STATUS_NOT_SUPPORTED = 15
} cublasStatus_t;
typedef enum { CUBLAS_OP_N = 0, CUBLAS_OP_T = 1 } cublasOperation_t;
typedef enum { CUBLAS_DEFAULT_MATH = 0, CUBLAS_PEDANTIC_MATH = 2 } cublasMath_t;
typedef enum { CUDA_R_32F = 0, CUDA_R_16BF = 14 } cudaDataType;
typedef enum { CUBLAS_COMPUTE_32F = 68 } cublasComputeType_t;
typedef enum { CUBLAS_GEMM_DEFAULT = -1 } cublasGemmAlgo_t;
cublasStatus_t cublasCreate(cublasHandle_t *h);
cublasStatus_t cublasDestroy(cublasHandle_t h);
cublasStatus_t cublasSetMathMode(cublasHandle_t h, cublasMath_t mode);
cublasStatus_t cublasSetStream(cublasHandle_t h, cudaStream_t s);
cublasStatus_t cublasSgemm(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int m,
                           int n, int k, const float *alpha, const float *A, int lda,
                           const float *B, int ldb, const float *beta, float *C, int ldc);
cublasStatus_t cublasGemmEx(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int m,
                            int n, int k, const void *alpha, const void *A, cudaDataType at,
                            int lda, const void *B, cudaDataType bt, int ldb, const void *beta,
                            void *C, cudaDataType ct, int ldc, cublasComputeType_t compute,
                            cublasGemmAlgo_t algo);
const char *cublasGetStatusString(cublasStatus_t s);

#ifdef __cplusplus
}

/* ---- the device language, for kernels.cu compiled as C++ (kernels launched through
 * emu_launch after tests/cuda/test_cuda_emulated.sh rewrites the <<<...>>> syntax) */
#include <functional>

#define __global__
#define __device__
#define __shared__ static
struct dim3 {
  unsigned x, y, z;
  dim3(unsigned a = 1, unsigned b = 1, unsigned c = 1) : x(a), y(b), z(c) {}
};
struct uint3 {
  unsigned x, y, z;
};
extern uint3 threadIdx, blockIdx;
extern dim3 blockDim, gridDim;
struct emu_cfg {
  dim3 grid, block;
  size_t shared_bytes;
  cudaStream_t stream;
};
inline emu_cfg emu_make_cfg(dim3 g, dim3 b) { return emu_cfg{g, b, 0, 0}; }
inline emu_cfg emu_make_cfg(dim3 g, dim3 b, size_t shared_bytes, cudaStream_t s) {
  return emu_cfg{g, b, shared_bytes, s};
}
void emu_launch(emu_cfg c, const std::function<void()> &fn);
void __syncthreads();
void emu_warp_sync();
void emu_xchg_put(const void *v, size_t n);
void emu_xchg_get(void *v, size_t n, int lane);
template <class T> T __shfl_xor_sync(unsigned, T v, int o) {
  emu_warp_sync();
  emu_xchg_put(&v, sizeof v);
  emu_warp_sync();
  T r;
  emu_xchg_get(&r, sizeof r, (int)(threadIdx.x % 32) ^ o);
  return r;
}
template <class T> T __shfl_sync(unsigned, T v, int src) {
  emu_warp_sync();
  emu_xchg_put(&v, sizeof v);
  emu_warp_sync();
  T r;
  emu_xchg_get(&r, sizeof r, src);
  return r;
}
struct __nv_bfloat16 {
  uint16_t x;
};
inline __nv_bfloat16 __float2bfloat16_rn(float f) {
  uint32_t u;
  __builtin_memcpy(&u, &f, 4);
  if ((u & 0x7fffffffu) > 0x7f800000u) return __nv_bfloat16{(uint16_t)((u >> 16) | 0x40)};
  u += 0x7fffu + ((u >> 16) & 1u);
  return __nv_bfloat16{(uint16_t)(u >> 16)};
}
inline uint16_t __bfloat16_as_ushort(__nv_bfloat16 b) { return b.x; }
inline __nv_bfloat16 __ushort_as_bfloat16(uint16_t x) { return __nv_bfloat16{x}; }
inline float __bfloat162float(__nv_bfloat16 b) { /* exact: bf16 is float32's upper half */
  uint32_t u = (uint32_t)b.x << 16;
  float f;
  __builtin_memcpy(&f, &u, 4);
  return f;
}
inline float __uint_as_float(uint32_t u) {
  float f;
  __builtin_memcpy(&f, &u, 4);
  return f;
}
struct uint4 {
  unsigned x, y, z, w;
};

/* ---- what src/backend/cuda/flash_bf16.cu needs (issue 13's tensor-core attention) */
#define L1K_CUDA_EMU 1
#define __forceinline__
#define __launch_bounds__(...)
#define __align__(n) __attribute__((aligned(n)))
/* launches with dynamic shared memory: k<<<grid, block, bytes>>>; the bytes are a buffer
 * poisoned with 0xff (a bf16 NaN) before every block, which L1K_DYN_SMEM(name) names */
inline emu_cfg emu_make_cfg(dim3 g, dim3 b, size_t shared_bytes) { return emu_cfg{g, b, shared_bytes, 0}; }
unsigned char *emu_dyn_smem();
#define L1K_DYN_SMEM(name) unsigned char *name = emu_dyn_smem()
enum cudaFuncAttribute { cudaFuncAttributeMaxDynamicSharedMemorySize = 8 };
template <class F> cudaError_t cudaFuncSetAttribute(F *, cudaFuncAttribute, int) { return cudaSuccess; }
/* every lane of the calling warp hands n <= 64 bytes in; each gets all 32 lanes' (lane order) */
void emu_warp_gather(const void *mine, size_t n, void *all);
/* The tensor-core instructions as the PTX ISA documents their per-lane fragments (flash_bf16.cu
 * calls these; on a GPU they are inline PTX, src/backend/cuda/mma.h). */
void l1k_mma16816(float *c, const uint32_t *a, const uint32_t *b);
void l1k_ldmatrix_x4(uint32_t *r, const void *row);
void l1k_ldmatrix_x4_trans(uint32_t *r, const void *row);
inline void l1k_cp_async16(void *dst, const void *src) { __builtin_memcpy(dst, src, 16); }
inline void l1k_st_zero16(void *dst) { __builtin_memset(dst, 0, 16); }
inline void l1k_cp_async_commit() {}
template <int N> inline void l1k_cp_async_wait() {}
#endif

#endif
