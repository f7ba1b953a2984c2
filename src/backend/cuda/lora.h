/* long1k — LoRA and freeze tuning on the CUDA backend (include/long1k/adapter.h; docs/gpu.md,
 * "LoRA and freeze"). Private to src/backend/cuda.
 *
 * When the model has an adapter at attach (m->ad), the backend holds:
 *   - the frozen base, WITHOUT gradients, master copy or moments: float32 in the parity mode;
 *     in the bf16 mode bf16 only (its norms and biases, which no product reads, as a small
 *     float32 copy), so a base costs 2 bytes per parameter;
 *   - the trainable space (the adapter's flat layout, offsets of l1k_model_trainable_tensors):
 *     float32 parameters, gradients and AdamW moments, and in the bf16 mode its bf16 working
 *     copy. The optimizer and host-copy entries of the ops table address this space through
 *     cu_state's tp / tg / tn fields (backend_cuda.c), exactly as they address the whole model
 *     without an adapter.
 * Parameter pointers of cu_state.P: trained tensors (modules_to_save, freeze tuning's layers)
 * point into the trainable space, frozen ones into the base; gradient pointers (cu_state.G)
 * are NULL for every frozen tensor, which the forward / backward read as "no gradient". In the
 * bf16 mode a frozen matrix's P pointer is the address of its bf16 values (a float * that is
 * never dereferenced as float: products take it through l1kcu_weight_bf16, the embedding
 * through l1kcu_embedding_fw_bf16).
 *
 * LoRA products, beside each targeted base product (PEFT's LoraLayer, as src/backend/cpu/lora.c):
 *   forward   u = d(x) A^T,  y += scale u B^T
 *   backward  dB += scale dy^T u,  du = scale dy B,  dA += du^T d(x),  dx += d'(du A)
 * Fused: modules that read the same input (q, k, v; gate, up) and whose A's are adjacent in the
 * flat space (src/model/adapter.c lays them out so) run their down-projection as ONE product
 * with the A's stacked ([A_q; A_k; A_v], r x 3 rows), and in the backward dA and dx as one
 * product each for the group. u of every module is kept for the backward (N x r floats per
 * module). With lora_dropout > 0 in training every module has its own mask, so nothing is
 * fused; the mask is the CPU's counter hash, recomputed in the backward. */
#ifndef LONG1K_BACKEND_CUDA_LORA_H
#define LONG1K_BACKEND_CUDA_LORA_H

#include <stddef.h>
#include <stdint.h>

#include "long1k/error.h"
#include "long1k/model.h"

struct cu_state;

/* Device memory of an adapter-attached model (base, trainable space, pointers P / G). Called
 * by attach instead of the full model's allocation when m->ad is set. */
int l1kcu_adapter_attach(l1k_model *m, struct cu_state *s, l1k_err *err);
void l1kcu_adapter_free(struct cu_state *s);

/* The bf16 values of product operand X when X is a weight the backend keeps in bf16 (the base's
 * working copy, a bf16-only frozen base, the trainable space's working copy), else NULL. */
const uint16_t *l1kcu_weight_bf16(const struct cu_state *s, const float *X);

/* LoRA activations for N rows (reserve); no-op without a LoRA. */
int l1kcu_lora_reserve(l1k_model *m, struct cu_state *s, size_t N, l1k_err *err);
/* Forward hook after the base product of (layer l, module mod): y[N, out] += scale u B^T. */
int l1kcu_lora_fw(l1k_model *m, struct cu_state *s, int l, int mod, float *y, const float *x,
                  int N, l1k_err *err);
/* Backward hook after the base's backward of (l, mod): dA, dB accumulate, dx += ... */
int l1kcu_lora_bw(l1k_model *m, struct cu_state *s, int l, int mod, float *dx, const float *dy,
                  const float *x, int N, l1k_err *err);
/* The embedding forward, from a bf16-only base when that is where the embedding lives. */
int l1kcu_lora_embedding_fw(struct cu_state *s, float *x, const int32_t *ids, int N, int C,
                            l1k_err *err);
/* The lowest layer the backward has to reach (0 without an adapter). */
int l1kcu_bw_lowest_layer(const l1k_model *m);

/* ---- kernels (lora.cu) */
#ifdef __cplusplus
extern "C" {
#endif
/* out[i, j] (+)= x[i, j] * keep(key, id, i * in + j) for N x in values: keep = 0 with
 * probability p, else 1 / (1 - p); the CPU's hash (src/backend/cpu/lora.c keep_factor). */
int l1kcu_lora_dropout(float *out, const float *x, int N, int in, uint64_t key, uint64_t id,
                       double p, int add);
/* x[N, C] = emb[ids[i]] from bf16 rows. */
int l1kcu_embedding_fw_bf16(float *x, const int32_t *ids, const uint16_t *emb, int N, int C);
#ifdef __cplusplus
}
#endif

#endif
