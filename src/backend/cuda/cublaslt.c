/* long1k — the bf16 mode's products through cuBLASLt (contract in cublaslt.h). Compiled, run on
 * the CUDA emulation (tests/cuda/emu: a CPU cuBLASLt subset), not yet run on a GPU.
 *
 * Row-major C[M, N] = op(A) op(B) is cuBLASLt's column-major D[N, M] = op(B') op(A') with B'
 * and A' the same memory read column-major, so cuBLASLt's "A" is our B and its "B" our A. Its
 * BIAS epilogue adds a vector of D's rows (N values: our columns, the output features), and its
 * BGRADB epilogue reduces its B (our A) over K into D's columns (M values): with ta = 1 that is
 * colsum of our A, i.e. the bias gradient of the product dW = dy^T x. */
#include "backend/cuda/cublaslt.h"

#include <cublasLt.h>
#include <cuda_runtime_api.h>
#include <stdlib.h>
#include <string.h>

#include "backend/cuda/kernels.h" /* l1kcu_stream: the launchers' stream */

#define LT_WORKSPACE ((size_t)32 << 20) /* cuBLAS's advice for Hopper */
#define LT_CACHE 96

typedef struct lt_key {
  int ta, tb, M, N, K, lda, ldb, ldc, epi;
  int beta0;                    /* beta == 0: C is not read */
  uint32_t al_a, al_b, al_c;   /* pointer alignments the algorithm may assume */
} lt_key;

typedef struct lt_entry {
  lt_key k;
  int refused; /* the heuristic had no algorithm: the caller falls back */
  cublasLtMatmulDesc_t desc;
  cublasLtMatrixLayout_t la, lb, lc;
  cublasLtMatmulAlgo_t algo;
} lt_entry;

struct l1kcu_lt {
  cublasLtHandle_t h;
  void *ws;
  lt_entry cache[LT_CACHE];
  int n;
  uint64_t runs;
};

static int lt_fail(cublasStatus_t st, const char *what, l1k_err *err) {
  return l1k_errf(err, st == CUBLAS_STATUS_ALLOC_FAILED ? L1K_ENOMEM : L1K_EINTERNAL,
                  "CUDA backend: cuBLASLt %s: status %d", what, (int)st);
}

int l1kcu_lt_open(struct l1kcu_lt **out, l1k_err *err) {
  *out = NULL;
  const char *e = getenv("LONG1K_CUBLASLT");
  if (e && !strcmp(e, "0")) return 0;
  struct l1kcu_lt *lt = calloc(1, sizeof *lt);
  if (!lt) return l1k_errf(err, L1K_ENOMEM, "CUDA backend: out of memory for the cuBLASLt cache");
  cublasStatus_t st = cublasLtCreate(&lt->h);
  if (st != CUBLAS_STATUS_SUCCESS) {
    free(lt);
    return lt_fail(st, "cublasLtCreate", err);
  }
  if (cudaMalloc(&lt->ws, LT_WORKSPACE) != cudaSuccess) {
    cudaGetLastError();
    cublasLtDestroy(lt->h);
    free(lt);
    return l1k_errf(err, L1K_ENOMEM, "CUDA backend: out of device memory for the cuBLASLt "
                    "workspace (%.0f MiB)", LT_WORKSPACE / 1048576.0);
  }
  *out = lt;
  return 0;
}

static void entry_free(lt_entry *c) {
  if (c->la) cublasLtMatrixLayoutDestroy(c->la);
  if (c->lb) cublasLtMatrixLayoutDestroy(c->lb);
  if (c->lc) cublasLtMatrixLayoutDestroy(c->lc);
  if (c->desc) cublasLtMatmulDescDestroy(c->desc);
  memset(c, 0, sizeof *c);
}

void l1kcu_lt_close(struct l1kcu_lt *lt) {
  if (!lt) return;
  for (int i = 0; i < lt->n; i++) entry_free(&lt->cache[i]);
  if (lt->ws) cudaFree(lt->ws);
  if (lt->h) cublasLtDestroy(lt->h);
  free(lt);
}

void l1kcu_lt_stats(const struct l1kcu_lt *lt, uint64_t *runs, int *cached, int *refused) {
  int r = 0;
  for (int i = 0; lt && i < lt->n; i++) r += lt->cache[i].refused;
  if (runs) *runs = lt ? lt->runs : 0;
  if (cached) *cached = lt ? lt->n : 0;
  if (refused) *refused = r;
}

/* the largest power of two (at most 256) dividing the address */
static uint32_t align_of(const void *p) {
  uintptr_t a = (uintptr_t)p;
  uint32_t al = 256;
  while (al > 1 && a % al) al >>= 1;
  return al;
}

/* Descriptors, layouts and the heuristic's first algorithm for k (c->refused when none). */
static int entry_build(struct l1kcu_lt *lt, lt_entry *c, const lt_key *k, l1k_err *err) {
  memset(c, 0, sizeof *c);
  c->k = *k;
  cublasStatus_t st;
  const char *what = "matmul descriptor";
  int32_t opA = k->tb ? CUBLAS_OP_T : CUBLAS_OP_N, opB = k->ta ? CUBLAS_OP_T : CUBLAS_OP_N;
  uint32_t epi = k->epi == L1KCU_LT_BIAS    ? CUBLASLT_EPILOGUE_BIAS
                 : k->epi == L1KCU_LT_BGRAD ? CUBLASLT_EPILOGUE_BGRADB
                                            : CUBLASLT_EPILOGUE_DEFAULT;
  int32_t bias_type = CUDA_R_32F;
  /* stored (column-major) shapes: Lt's A = our B: [N, K] (tb = 0) or [K, N]; Lt's B = our A:
   * [K, M] (ta = 0) or [M, K]; D = C: [N, M] */
  uint64_t ar = k->tb ? k->K : k->N, ac = k->tb ? k->N : k->K;
  uint64_t br = k->ta ? k->M : k->K, bc = k->ta ? k->K : k->M;
  if ((st = cublasLtMatmulDescCreate(&c->desc, CUBLAS_COMPUTE_32F, CUDA_R_32F)) ||
      (st = cublasLtMatmulDescSetAttribute(c->desc, CUBLASLT_MATMUL_DESC_TRANSA, &opA, sizeof opA)) ||
      (st = cublasLtMatmulDescSetAttribute(c->desc, CUBLASLT_MATMUL_DESC_TRANSB, &opB, sizeof opB)) ||
      (st = cublasLtMatmulDescSetAttribute(c->desc, CUBLASLT_MATMUL_DESC_EPILOGUE, &epi, sizeof epi)))
    goto fail;
  if (k->epi != L1KCU_LT_NONE &&
      (st = cublasLtMatmulDescSetAttribute(c->desc, CUBLASLT_MATMUL_DESC_BIAS_DATA_TYPE, &bias_type,
                                           sizeof bias_type)))
    goto fail;
  what = "matrix layout";
  if ((st = cublasLtMatrixLayoutCreate(&c->la, CUDA_R_16BF, ar, ac, k->ldb)) ||
      (st = cublasLtMatrixLayoutCreate(&c->lb, CUDA_R_16BF, br, bc, k->lda)) ||
      (st = cublasLtMatrixLayoutCreate(&c->lc, CUDA_R_32F, (uint64_t)k->N, (uint64_t)k->M, k->ldc)))
    goto fail;
  what = "preference";
  cublasLtMatmulPreference_t pref = NULL;
  size_t wsb = LT_WORKSPACE;
  if ((st = cublasLtMatmulPreferenceCreate(&pref))) goto fail;
  /* the algorithms may assume only the alignment these pointers have (Lt's A is our B) */
  if ((st = cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES,
                                                 &wsb, sizeof wsb)) ||
      (st = cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES,
                                                 &k->al_b, sizeof k->al_b)) ||
      (st = cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES,
                                                 &k->al_a, sizeof k->al_a)) ||
      (st = cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES,
                                                 &k->al_c, sizeof k->al_c)) ||
      (st = cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES,
                                                 &k->al_c, sizeof k->al_c))) {
    cublasLtMatmulPreferenceDestroy(pref);
    goto fail;
  }
  cublasLtMatmulHeuristicResult_t res;
  int got = 0;
  memset(&res, 0, sizeof res);
  st = cublasLtMatmulAlgoGetHeuristic(lt->h, c->desc, c->la, c->lb, c->lc, c->lc, pref, 1, &res, &got);
  cublasLtMatmulPreferenceDestroy(pref);
  /* no algorithm is not an error: the caller falls back to cublasGemmEx. Any status of the
   * heuristic counts as that (a cuBLASLt version may answer INVALID_VALUE rather than
   * NOT_SUPPORTED for an epilogue or type it lacks); test_cuda_cublaslt requires the plain
   * products of every shape the backend uses to be taken, so a wrong layout still fails there */
  if (st != CUBLAS_STATUS_SUCCESS || got < 1 || res.state != CUBLAS_STATUS_SUCCESS ||
      res.workspaceSize > LT_WORKSPACE) {
    c->refused = 1;
    return 0;
  }
  c->algo = res.algo;
  return 0;
fail:
  entry_free(c);
  return lt_fail(st, what, err);
}

static lt_entry *lookup(struct l1kcu_lt *lt, const lt_key *k, l1k_err *err, int *rc) {
  *rc = 0;
  for (int i = 0; i < lt->n; i++)
    if (!memcmp(&lt->cache[i].k, k, sizeof *k)) return &lt->cache[i];
  if (lt->n == LT_CACHE) { /* more shapes than a model has: start over */
    for (int i = 0; i < lt->n; i++) entry_free(&lt->cache[i]);
    lt->n = 0;
  }
  lt_entry *c = &lt->cache[lt->n];
  if ((*rc = entry_build(lt, c, k, err))) return NULL;
  lt->n++;
  return c;
}

int l1kcu_lt_matmul(struct l1kcu_lt *lt, int ta, int tb, int M, int N, int K, float alpha,
                    const uint16_t *A, int lda, const uint16_t *B, int ldb, float beta, float *C,
                    int ldc, int epi, float *epi_ptr, l1k_err *err) {
  if (!lt || M <= 0 || N <= 0 || K <= 0) return L1K_EUNSUPPORTED;
  if (epi == L1KCU_LT_BGRAD && !ta) return L1K_EUNSUPPORTED; /* the reduction runs over K of A */
  if (epi != L1KCU_LT_NONE && (!epi_ptr || align_of(epi_ptr) < 16)) return L1K_EUNSUPPORTED;
  lt_key k;
  memset(&k, 0, sizeof k); /* compared with memcmp: no padding garbage */
  k.ta = ta, k.tb = tb, k.M = M, k.N = N, k.K = K, k.lda = lda, k.ldb = ldb, k.ldc = ldc;
  k.epi = epi, k.beta0 = beta == 0.0f;
  k.al_a = align_of(A), k.al_b = align_of(B), k.al_c = align_of(C);
  int rc;
  lt_entry *c = lookup(lt, &k, err, &rc);
  if (!c) return rc;
  if (c->refused) return L1K_EUNSUPPORTED;
  cublasStatus_t st;
  if (epi != L1KCU_LT_NONE &&
      (st = cublasLtMatmulDescSetAttribute(c->desc, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &epi_ptr,
                                           sizeof epi_ptr)))
    return lt_fail(st, "bias pointer", err);
  st = cublasLtMatmul(lt->h, c->desc, &alpha, B, c->la, A, c->lb, &beta, C, c->lc, C, c->lc,
                      &c->algo, lt->ws, LT_WORKSPACE, (cudaStream_t)l1kcu_stream);
  if (st) return lt_fail(st, "matmul", err);
  lt->runs++;
  return 0;
}
