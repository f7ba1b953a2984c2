/* long1k — attention through cuDNN's fused scaled-dot-product attention (flash) for the
 * CUDA backend's bf16 mode (issue 13; docs/gpu.md "Attention: own kernels or cuDNN").
 *
 * cuDNN is loaded at run time (dlopen "libcudnn.so.9", or $LONG1K_CUDNN_LIB), so the build
 * needs only cudnn.h and a machine without the library still runs the own kernels. The
 * graphs are expressed through cuDNN's backend C API (tensor, pointwise, matmul, reduction
 * and reshape descriptors, the pattern cuDNN's runtime fusion engine recognizes as SDPA):
 * bf16 Q/K/V/O/dO, float32 statistics (the natural log-sum-exp of each query row's scaled
 * scores, as the own kernels' lse), causal, grouped-query heads (H % KVH == 0), head_dim a
 * multiple of 8 up to 128 (the 64 and 128; the golden test models' 16 and 32). Documents inside packed rows are isolated by turning every document into one entry
 * of a variable-length ("ragged", THD) batch: Q/K/V/O/dO/dQ/dK/dV and the statistics carry
 * ragged offsets (the element offset of each document's first token), and a padding mask
 * with per-document lengths limits every entry to its own tokens; the causal mask is the
 * top-left diagonal of each entry. Graphs are built once per shape (batch entries rounded up
 * to a power of two, the row length, heads, head_dim) and cached with their plans.
 *
 * Compiled, emulated only in its host logic (the layout of documents), not yet run on a
 * GPU. Every pointer below is a DEVICE pointer unless it says host. */
#ifndef LONG1K_BACKEND_CUDA_ATTN_CUDNN_H
#define LONG1K_BACKEND_CUDA_ATTN_CUDNN_H

#include <stddef.h>
#include <stdint.h>

#include "long1k/error.h"

/* ---- the documents of a packed batch as a variable-length batch (host logic, every build).
 * From seg[r] (first position of token r's document within its row) and seg_end[r] (one past
 * its last), r = b * T + t: n documents in row order, each starting at token start[i]
 * (global row index) with len[i] tokens; nb >= n batch entries (n rounded up to a power of
 * two when bucket is set, so that a few graph shapes serve every batch), the entries past n
 * have length 0 and start at B*T; start[nb] = B*T. max_len: the longest document. */
typedef struct l1kcu_docs {
  int n, nb, max_len;
  int32_t *start; /* nb + 1 */
  int32_t *len;   /* nb */
  int cap;        /* entries allocated in start / len */
} l1kcu_docs;

/* Fills d (growing its arrays); 0, or L1K_EINPUT with one line when seg / seg_end do not
 * describe documents (a token outside its document, a document crossing a row), L1K_ENOMEM. */
int l1kcu_docs_layout(l1kcu_docs *d, const int32_t *seg, const int32_t *seg_end, int B, int T,
                      int bucket, l1k_err *err);
void l1kcu_docs_free(l1kcu_docs *d);

/* The ragged offsets of one tensor of row width `width` elements per token (H*hd for Q, O,
 * dO, dQ; KVH*hd for K, V, dK, dV; H for the statistics): off[i] = start[i] * width, i in
 * [0, nb]. 0, or L1K_EINPUT when an offset does not fit in int32. */
int l1kcu_docs_offsets(const l1kcu_docs *d, int64_t width, int32_t *off, l1k_err *err);

/* ---- cuDNN attention. An opaque handle: the library, a cuDNN handle, the cached graphs and
 * plans, the documents of the current batch and scratch (bf16 copies for the float32 entry
 * points, the backward's float32 row sums and full-head dK / dV, the workspace). */
typedef struct l1kcu_dnn l1kcu_dnn;

/* Loads cuDNN and creates its handle. 0 and *out, or nonzero with one line in why (the
 * library is missing, too old (< 9.6: grouped-query heads with ragged offsets need it),
 * built without cudnn.h, no device). */
int l1kcu_dnn_open(l1kcu_dnn **out, char *why, size_t why_len);
void l1kcu_dnn_close(l1kcu_dnn *a);
/* Without a device: loads cuDNN and builds the forward and backward graphs' tensors and
 * operations for b entries of at most s tokens (every descriptor finalized). With
 * devprop_json (a device's properties as cuDNN's CUDNN_ATTR_DEVICEPROP_JSON_REPRESENTATION,
 * cuDNN >= 9.8), also the operation graphs and heuristics for that device, deviceless: at
 * least one engine configuration must pass cuDNN's support checks (without a CUDA driver the
 * toolkit's stub libcuda is loaded for them; no kernel is compiled or run). 0 with a summary
 * in msg, 1 with the failing step and cuDNN's error in msg, 2 when the library cannot be
 * loaded (msg says why). */
int l1kcu_dnn_check_ops(int b, int s, int H, int KVH, int hd, const char *devprop_json, char *msg,
                        size_t n);
/* cudnnGetVersion() of the loaded library (e.g. 91900). */
long l1kcu_dnn_version(const l1kcu_dnn *a);

/* The documents of the next calls (host seg / seg_end as in kernels.h, B rows of T tokens):
 * lays them out and uploads lengths and offsets. */
int l1kcu_dnn_set_docs(l1kcu_dnn *a, const int32_t *seg, const int32_t *seg_end, int B, int T,
                       int H, int KVH, int hd, l1k_err *err);

/* bf16 attention of the documents set last (bf16 bits in uint16_t; rows of H*hd, KVH*hd):
 * o[N, H*hd], lse[N, H] float32. The backward writes dq (bf16) and its float32 accumulator
 * dq_acc[N, H*hd] (the more precise of the two), dk, dv (bf16). */
int l1kcu_dnn_fw(l1kcu_dnn *a, uint16_t *o, float *lse, const uint16_t *q, const uint16_t *k,
                 const uint16_t *v, l1k_err *err);
int l1kcu_dnn_bw(l1kcu_dnn *a, float *dq_acc, uint16_t *dq, uint16_t *dk, uint16_t *dv,
                 const uint16_t *q, const uint16_t *k, const uint16_t *v, const uint16_t *o,
                 const uint16_t *dout, const float *lse, l1k_err *err);

/* The same with float32 tensors in the layout of l1kcu_attention_fw / _bw (kernels.h): the
 * inputs are rounded to bf16 into scratch, the outputs widened back (dq from the float32
 * accumulator). lse as the own kernels'. The backward overwrites dq, dk, dv. */
int l1kcu_dnn_attention_fw(l1kcu_dnn *a, float *o, float *lse, const float *q, const float *k,
                           const float *v, l1k_err *err);
int l1kcu_dnn_attention_bw(l1kcu_dnn *a, float *dq, float *dk, float *dv, const float *dout,
                           const float *o, const float *lse, const float *q, const float *k,
                           const float *v, l1k_err *err);

/* ---- widening (attn_cudnn.cu): dst[i] = float(src[i]) for bf16 bits src. Returns the
 * cudaError_t of the launch, like the launchers of kernels.h. */
#ifdef __cplusplus
extern "C" {
#endif
int l1kcu_from_bf16(float *dst, const uint16_t *src, size_t n);
#ifdef __cplusplus
}
#endif

/* Which attention the bf16 mode uses: $LONG1K_ATTN = "own" | "cudnn" | "auto" (default).
 * auto: cuDNN in the bf16 mode when it loads and deterministic is off (cuDNN's backward
 * accumulates dQ with atomics: its bits may differ between runs); the float32 parity mode
 * always uses the own kernels. Returns 0 own, 1 cudnn, -1 with one line in err for another
 * value of the variable. */
int l1kcu_attn_choice(int bf16, int deterministic, l1k_err *err);

#endif
