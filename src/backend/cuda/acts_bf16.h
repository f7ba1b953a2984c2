/* long1k — the bf16 mode's activations kept in bf16 (issue 13: "bf16 weights and activations"),
 * one op at a time. Private to src/backend/cuda.
 *
 * Today: the activations that only feed matrix products, RMSNorm's outputs ln1 (q, k, v) and ln2
 * (gate, up) and SwiGLU's h (down), are written as bf16 by the kernel that makes them and read by
 * the products directly (their forward and their weight-gradient products). The bf16 mode
 * rounded exactly these values to bf16 before every product anyway, so the results keep their
 * bits and the arena loses 2 bytes per value (cu_state.act_lo / act_hi: the region of the
 * arena that holds them; a product operand inside it is bf16). Off in the float32 mode, with an
 * adapter attached (LoRA's hooks read these inputs as float32), and with LONG1K_BF16_ACTS=0. */
#ifndef LONG1K_BACKEND_CUDA_ACTS_BF16_H
#define LONG1K_BACKEND_CUDA_ACTS_BF16_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif
/* l1kcu_rmsnorm_fw's arithmetic, y rounded to bf16 (round to nearest even) */
int l1kcu_rmsnorm_fw_bf16(uint16_t *y, float *rstd, const float *x, const float *w, int N, int C,
                          float eps);
/* l1kcu_swiglu_fw's arithmetic, h rounded to bf16 */
int l1kcu_swiglu_fw_bf16(uint16_t *h, const float *gate, const float *up, size_t n);
#ifdef __cplusplus
}
#endif

#endif
