/* long1k — the CUDA backend's choice of attention kernels (attention.c; issue 13): the float32
 * kernels of kernels.cu or the tensor-core flash_bf16 (flash_bf16.h). */
#ifndef LONG1K_BACKEND_CUDA_ATTENTION_H
#define LONG1K_BACKEND_CUDA_ATTENTION_H

#include "backend/cuda/cuda_internal.h"

enum { L1KCU_ATT_F32 = 0, L1KCU_ATT_FLASH_BF16 = 1 };

/* Which kernels a layer of head_dim hd runs: float32 mode -> L1KCU_ATT_F32; bf16 mode ->
 * L1KCU_ATT_FLASH_BF16 when flash takes hd (16, 32, 64, 128), else L1KCU_ATT_F32; the
 * environment variable LONG1K_ATTN=f32 | flash_bf16 forces one, auto | own (or unset) is the
 * default (an unknown value: L1K_EINPUT; flash_bf16 with a head_dim it does not take:
 * L1K_EUNSUPPORTED). */
int l1kcu_attention_kind(const cu_state *s, int hd, int *kind, l1k_err *err);

/* bf16 values of scratch the chosen attention needs for N rows (arena_layout reserves them as
 * s->fa_buf, s->fa_elems); 1 when it needs none. */
size_t l1kcu_attention_scratch(const cu_state *s, const l1k_model_config *c, size_t N);

/* The layer's attention forward (L->ao, L->lse from L->qr, L->kr, L->v) and backward (s->dq,
 * s->dk, s->dv from s->dao), with the own kernels chosen above. */
int l1kcu_own_attn_fw(cu_state *s, cu_layer *L, int B, int T, int H, int KVH, int hd, l1k_err *err);
int l1kcu_own_attn_bw(cu_state *s, cu_layer *L, int B, int T, int H, int KVH, int hd, l1k_err *err);
/* What the layers call, l1kcu_attn_fw / _bw (attn_cudnn.h, attn_select.c): cuDNN's fused SDPA
 * when chosen, else these. */

#endif
