/* long1k — the bf16 mode's matrix products through cuBLASLt (issue 13: "matrix products through
 * cuBLASLt (bias epilogue for Qwen2's q/k/v)"). Private to src/backend/cuda.
 *
 * One cuBLASLt handle per attached model, a 32 MiB workspace, and a cache of matmul
 * descriptors, layouts and the heuristic's algorithm per shape (transposes, sizes, leading
 * dimensions, epilogue, pointer alignments): the first product of a shape asks cuBLASLt's
 * heuristic once, later ones reuse the answer. A shape the heuristic refuses is remembered as
 * refused and the caller falls back to cublasGemmEx (and its own bias kernels), so the products
 * never depend on what this cuBLASLt version supports.
 *
 * Products are row-major, as l1kcu_gemm's: C[M, N] = alpha op(A) op(B) + beta C, A and B bf16,
 * C float32, float32 accumulation (CUBLAS_COMPUTE_32F). Epilogues:
 *   L1KCU_LT_BIAS    C[i, j] += bias[j] (float32; N values): y = x W^T + b in one product;
 *   L1KCU_LT_BGRAD   with ta = 1 (C = A^T B, reduction over K rows), bgrad[i] = sum_k A[k, i]
 *                    (M float32 values, written, not accumulated; not scaled by alpha): the
 *                    bias gradient colsum(dy) from the same product as dW += dy^T x
 *                    (cuBLASLt's CUBLASLT_EPILOGUE_BGRADB in its column-major terms). Tested
 *                    (test_cuda_cublaslt) but not used by the backend: summed from bf16 dy, the
 *                    k_proj bias gradient (0 in exact arithmetic) loses its cancellation and
 *                    AdamW makes steps of that noise (qwen2_tiny's bf16 trajectory: 3.4e-2).
 * Disabled (every call answers L1K_EUNSUPPORTED) with LONG1K_CUBLASLT=0. */
#ifndef LONG1K_BACKEND_CUDA_CUBLASLT_H
#define LONG1K_BACKEND_CUDA_CUBLASLT_H

#include <stddef.h>
#include <stdint.h>

#include "long1k/error.h"

enum { L1KCU_LT_NONE = 0, L1KCU_LT_BIAS = 1, L1KCU_LT_BGRAD = 2 };

struct l1kcu_lt;

/* A handle, its workspace and an empty cache; *out = NULL (and 0) when LONG1K_CUBLASLT=0.
 * Errors: L1K_ENOMEM (workspace), L1K_EINTERNAL (cublasLtCreate). */
int l1kcu_lt_open(struct l1kcu_lt **out, l1k_err *err);
void l1kcu_lt_close(struct l1kcu_lt *lt);

/* The product above. 0; L1K_EUNSUPPORTED when cuBLASLt has no algorithm for it (the caller
 * falls back, err untouched); another L1K_E* code with one line when cuBLASLt fails. epi_ptr:
 * the bias (L1KCU_LT_BIAS) or the bias gradient's output (L1KCU_LT_BGRAD), else NULL. */
int l1kcu_lt_matmul(struct l1kcu_lt *lt, int ta, int tb, int M, int N, int K, float alpha,
                    const uint16_t *A, int lda, const uint16_t *B, int ldb, float beta, float *C,
                    int ldc, int epi, float *epi_ptr, l1k_err *err);

/* Counters (tests, benchmarks): products run by cuBLASLt, shapes cached, shapes refused. */
void l1kcu_lt_stats(const struct l1kcu_lt *lt, uint64_t *runs, int *cached, int *refused);

#endif
