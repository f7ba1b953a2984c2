/* CUDA stream capture and graphs as src/backend/cuda/gen_decode.c uses them (issue 15: the
 * decode step as one graph). The same program runs on the emulated device (tests/cuda/emu: this
 * checks that the emulation records, replays and refuses as CUDA does) and on a GPU (where it
 * checks the emulation's rules against the real runtime: a difference fails here first).
 *
 *  1. capture records and does not run; cudaGraphLaunch replays the work with the arguments
 *     as they were at capture (a kernel's size, cuBLAS's alpha), reading the memory (the
 *     pinned input of a copy) as it is at launch; the node count;
 *  2. what capture refuses: the legacy stream (a launcher left on stream 0, cudaMemcpy),
 *     cudaDeviceSynchronize, cudaStreamSynchronize of the capturing stream, a copy to pageable
 *     host memory, cudaMalloc in global mode (allowed in relaxed mode); each invalidates the
 *     capture: cudaStreamEndCapture returns cudaErrorStreamCaptureInvalidated and no graph. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

#ifdef LONG1K_HAVE_CUDA
#include <cublas_v2.h>
#include <cuda_runtime_api.h>

#include "backend/cuda/kernels.h"
#include "backend/ops.h"

enum { N = 4, C = 8 };

static void *dev(size_t bytes) {
  void *p = NULL;
  if (cudaMalloc(&p, bytes) != cudaSuccess) {
    fprintf(stderr, "cudaMalloc failed\n");
    exit(1);
  }
  return p;
}

/* y[rows, C] += b[C] (l1kcu_bias_fw, a launcher on l1kcu_stream) captured with rows = 2, then
 * replayed: the rows are those of the capture whatever the host's variable says at launch */
static void test_replay(cudaStream_t s) {
  float *x = dev(N * C * sizeof(float)), *y = dev(N * C * sizeof(float)), *b = dev(C * sizeof(float));
  float *hin = NULL, *hout = NULL, hb[C], ref[N * C];
  CHECK(cudaMallocHost((void **)&hin, N * C * sizeof(float)) == cudaSuccess);
  CHECK(cudaMallocHost((void **)&hout, N * C * sizeof(float)) == cudaSuccess);
  for (int j = 0; j < C; j++) hb[j] = (float)(j + 1);
  cudaMemcpy(b, hb, sizeof hb, cudaMemcpyHostToDevice);
  for (int i = 0; i < N * C; i++) hin[i] = 100.0f, hout[i] = -1.0f;
  cudaMemset(y, 0, N * C * sizeof(float));
  int rows = 2;
  cudaGraph_t g = NULL;
  cudaGraphExec_t ge = NULL;
  l1kcu_stream = (void *)s;
  CHECK(cudaStreamBeginCapture(s, cudaStreamCaptureModeGlobal) == cudaSuccess);
  enum cudaStreamCaptureStatus st;
  CHECK(cudaStreamIsCapturing(s, &st) == cudaSuccess && st == cudaStreamCaptureStatusActive);
  CHECK(cudaMemcpyAsync(y, hin, N * C * sizeof(float), cudaMemcpyHostToDevice, s) == cudaSuccess);
  CHECK(l1kcu_bias_fw(y, b, rows, C) == 0);
  CHECK(cudaMemcpyAsync(hout, y, N * C * sizeof(float), cudaMemcpyDeviceToHost, s) == cudaSuccess);
  CHECK(cudaStreamEndCapture(s, &g) == cudaSuccess && g);
  l1kcu_stream = 0;
  /* recorded, not run: the output is untouched */
  CHECK_MSG(hout[0] == -1.0f, "the capture ran its copy (out[0] %g)", hout[0]);
  size_t nodes = 0;
  CHECK(cudaGraphGetNodes(g, NULL, &nodes) == cudaSuccess);
  CHECK_MSG(nodes == 3, "%zu nodes (expected 3: copy, kernel, copy)", nodes);
  CHECK(cudaGraphInstantiate(&ge, g, 0) == cudaSuccess && ge);
  CHECK(cudaGraphDestroy(g) == cudaSuccess); /* the executable graph stands alone */
  /* the input changes after capture: the replay's copy reads it now; rows stay 2 */
  rows = N;
  for (int i = 0; i < N * C; i++) hin[i] = (float)i;
  CHECK(cudaGraphLaunch(ge, s) == cudaSuccess);
  CHECK(cudaStreamSynchronize(s) == cudaSuccess);
  for (int i = 0; i < N * C; i++) ref[i] = (float)i + (i / C < 2 ? hb[i % C] : 0.0f);
  CHECK_MSG(!memcmp(hout, ref, sizeof ref), "replay: out[%d] %g (expected %g; rows %d at launch)", C * 2,
            hout[C * 2], ref[C * 2], rows);
  /* twice: the same work again */
  for (int i = 0; i < N * C; i++) hin[i] = 1.0f;
  CHECK(cudaGraphLaunch(ge, s) == cudaSuccess && cudaStreamSynchronize(s) == cudaSuccess);
  CHECK_MSG(hout[0] == 1.0f + hb[0] && hout[2 * C] == 1.0f, "second replay: %g %g", hout[0], hout[2 * C]);
  CHECK(cudaGraphExecDestroy(ge) == cudaSuccess);

  /* cuBLAS on the stream: alpha is read at the call (host pointer mode), so the graph keeps 1 */
  cublasHandle_t h;
  CHECK(cublasCreate(&h) == CUBLAS_STATUS_SUCCESS);
  CHECK(cublasSetStream(h, s) == CUBLAS_STATUS_SUCCESS);
  float alpha = 1.0f, beta = 0.0f, one[C * C];
  for (int i = 0; i < C * C; i++) one[i] = i % (C + 1) == 0 ? 1.0f : 0.0f; /* identity */
  float *I = dev(sizeof one);
  cudaMemcpy(I, one, sizeof one, cudaMemcpyHostToDevice);
  for (int i = 0; i < N * C; i++) hin[i] = (float)(i % 7);
  cudaMemcpy(x, hin, N * C * sizeof(float), cudaMemcpyHostToDevice);
  CHECK(cudaStreamBeginCapture(s, cudaStreamCaptureModeGlobal) == cudaSuccess);
  CHECK(cublasSgemm(h, CUBLAS_OP_N, CUBLAS_OP_N, C, N, C, &alpha, I, C, x, C, &beta, y, C) ==
        CUBLAS_STATUS_SUCCESS);
  CHECK(cudaMemcpyAsync(hout, y, N * C * sizeof(float), cudaMemcpyDeviceToHost, s) == cudaSuccess);
  CHECK(cudaStreamEndCapture(s, &g) == cudaSuccess && g);
  CHECK(cudaGraphInstantiate(&ge, g, 0) == cudaSuccess);
  alpha = 2.0f;
  CHECK(cudaGraphLaunch(ge, s) == cudaSuccess && cudaStreamSynchronize(s) == cudaSuccess);
  int ok = 1;
  for (int i = 0; i < N * C; i++) ok &= hout[i] == (float)(i % 7);
  CHECK_MSG(ok, "cuBLAS in a graph: alpha as at capture (1): out[1] %g", hout[1]);
  cudaGraphExecDestroy(ge);
  cudaGraphDestroy(g);
  cublasDestroy(h);
  fprintf(stderr, "graph replay: %zu nodes; copies read their memory at launch, kernels and cuBLAS "
          "keep their capture-time arguments\n", nodes);
  cudaFree(I);
  cudaFree(x), cudaFree(y), cudaFree(b);
  cudaFreeHost(hin), cudaFreeHost(hout);
}

/* begin a capture on s with one recorded kernel, run `bad` (expected to fail with want), then
 * end: invalidated, no graph */
static void refused(cudaStream_t s, enum cudaStreamCaptureMode mode, const char *what, int got_ok_allowed,
                    int (*bad)(cudaStream_t, void *), void *arg, cudaError_t want) {
  float *y = dev(C * sizeof(float)), *b = dev(C * sizeof(float));
  cudaMemset(y, 0, C * sizeof(float));
  cudaMemset(b, 0, C * sizeof(float));
  l1kcu_stream = (void *)s;
  CHECK(cudaStreamBeginCapture(s, mode) == cudaSuccess);
  CHECK(l1kcu_bias_fw(y, b, 1, C) == 0);
  int got = bad(s, arg);
  cudaGraph_t g = NULL;
  cudaError_t end = cudaStreamEndCapture(s, &g);
  l1kcu_stream = 0;
  cudaGetLastError();
  if (got_ok_allowed) {
    CHECK_MSG(got == cudaSuccess && end == cudaSuccess && g, "%s: %d then %d (expected allowed)", what, got,
              (int)end);
    fprintf(stderr, "capture: %s allowed\n", what);
  } else {
    CHECK_MSG(got == (int)want, "%s during capture: error %d (expected %d)", what, got, (int)want);
    CHECK_MSG(end == cudaErrorStreamCaptureInvalidated && !g, "%s: end of capture %d (expected %d, "
              "invalidated)", what, (int)end, (int)cudaErrorStreamCaptureInvalidated);
    fprintf(stderr, "capture: %s refused (%s), capture invalidated\n", what, cudaGetErrorName((cudaError_t)got));
  }
  if (g) cudaGraphDestroy(g);
  cudaFree(y), cudaFree(b);
}

static float *g_dev, *g_pinned, g_pageable[C];
static void *g_tmp;
static int legacy_launch(cudaStream_t s, void *a) {
  (void)s, (void)a;
  l1kcu_stream = 0; /* a launcher left on the legacy stream */
  return l1kcu_bias_fw(g_dev, g_dev, 1, C);
}
static int legacy_copy(cudaStream_t s, void *a) {
  (void)s, (void)a;
  return cudaMemcpy(g_dev, g_pinned, C * sizeof(float), cudaMemcpyHostToDevice);
}
static int dev_sync(cudaStream_t s, void *a) {
  (void)s, (void)a;
  return cudaDeviceSynchronize();
}
static int stream_sync(cudaStream_t s, void *a) {
  (void)a;
  return cudaStreamSynchronize(s);
}
static int pageable_copy(cudaStream_t s, void *a) {
  (void)a;
  return cudaMemcpyAsync(g_pageable, g_dev, C * sizeof(float), cudaMemcpyDeviceToHost, s);
}
static int malloc_in(cudaStream_t s, void *a) {
  (void)s, (void)a;
  int rc = cudaMalloc(&g_tmp, 256);
  if (rc == cudaSuccess) cudaFree(g_tmp);
  return rc;
}

static void test_refused(cudaStream_t s) {
  g_dev = dev(C * sizeof(float));
  CHECK(cudaMallocHost((void **)&g_pinned, C * sizeof(float)) == cudaSuccess);
  cudaMemset(g_dev, 0, C * sizeof(float));
  refused(s, cudaStreamCaptureModeGlobal, "a launch on the legacy stream", 0, legacy_launch, NULL,
          cudaErrorStreamCaptureImplicit);
  refused(s, cudaStreamCaptureModeGlobal, "cudaMemcpy (legacy stream)", 0, legacy_copy, NULL,
          cudaErrorStreamCaptureImplicit);
  refused(s, cudaStreamCaptureModeGlobal, "cudaDeviceSynchronize", 0, dev_sync, NULL,
          cudaErrorStreamCaptureUnsupported);
  refused(s, cudaStreamCaptureModeGlobal, "cudaStreamSynchronize of the capturing stream", 0, stream_sync,
          NULL, cudaErrorStreamCaptureUnsupported);
  refused(s, cudaStreamCaptureModeGlobal, "cudaMemcpyAsync to pageable host memory", 0, pageable_copy, NULL,
          cudaErrorStreamCaptureUnsupported);
  refused(s, cudaStreamCaptureModeGlobal, "cudaMalloc (global mode)", 0, malloc_in, NULL,
          cudaErrorStreamCaptureUnsupported);
  refused(s, cudaStreamCaptureModeRelaxed, "cudaMalloc (relaxed mode)", 1, malloc_in, NULL, cudaSuccess);
  /* after all of these the stream and the device work as before */
  CHECK(cudaStreamSynchronize(s) == cudaSuccess);
  CHECK(cudaDeviceSynchronize() == cudaSuccess);
  cudaFree(g_dev);
  cudaFreeHost(g_pinned);
}
#endif

int main(void) {
#ifndef LONG1K_HAVE_CUDA
  SKIP("long1k was built without the CUDA backend (no nvcc at build time)");
#else
  char why[256];
  if (!l1k_backend_cuda_ops.available(why, sizeof why)) SKIP("%s", why);
  cudaStream_t s;
  CHECK(cudaStreamCreate(&s) == cudaSuccess);
  test_replay(s);
  test_refused(s);
  cudaStreamDestroy(s);
  CHECK_DONE();
#endif
}
