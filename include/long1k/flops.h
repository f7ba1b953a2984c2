/* long1k — model FLOPs and MFU for the training progress line and trainer_log.jsonl.
 *
 * The count is ../shared/bench/hf_sft_reference.py's (the same as bench/gpu_step_bench.c's):
 * 6 FLOPs per token per matrix parameter (forward 2, backward 4; the lm_head counts even when
 * tied to the embedding, the embedding lookup does not), plus causal attention's
 * 6 x layers x (heads x head_dim) x n per token of a document of n tokens, i.e.
 * 6 x L x d_attn x n^2 per document: packed rows count each document alone (their attention is
 * isolated). Recomputation (gradient_checkpointing) is not counted: model FLOPs, not hardware
 * FLOPs. With an adapter (LoRA / freeze) the frozen weights need no weight gradient: 4 FLOPs per
 * token per frozen matrix parameter, 6 per trainable one.
 *
 * MFU is those FLOPs per second over the device's peak: LONG1K_PEAK_TFLOPS when set (per
 * device, dense), else NVIDIA's published dense peak for a known data-center GPU by its name
 * (bf16 tensor-core rate in the bf16 mode, plain float32 in the float32 mode, which uses no
 * TF32), else unknown (no MFU is printed).
 */
#ifndef LONG1K_FLOPS_H
#define LONG1K_FLOPS_H

#include <stdint.h>

#include "long1k/model.h"

typedef struct l1k_flops_shape {
  double trainable_matmul; /* matrix parameters that get weight gradients (6 FLOPs / token) */
  double frozen_matmul;    /* matrix parameters without them (4 FLOPs / token) */
  int layers;
  int attn_width;          /* heads x head_dim */
} l1k_flops_shape;

enum { L1K_FLOPS_FULL = 0, L1K_FLOPS_LORA = 1, L1K_FLOPS_FREEZE = 2 };

/* The shape of a model config. kind L1K_FLOPS_FULL: every matrix trains (trainable ignored);
 * L1K_FLOPS_LORA: the base is frozen and `trainable` adapter parameters add their own
 * products; L1K_FLOPS_FREEZE: `trainable` of the base's parameters train, the rest are frozen. */
l1k_flops_shape l1k_flops_shape_of(const l1k_model_config *c, int kind, double trainable);

/* FLOPs of a forward + backward over `tokens` tokens whose documents' squared lengths sum to
 * sum_doc_sq. */
double l1k_flops_step(const l1k_flops_shape *s, double tokens, double sum_doc_sq);

/* Peak dense FLOP/s of one device for MFU; 0 when unknown. device_name: the CUDA device's
 * name (NULL for the CPU: only LONG1K_PEAK_TFLOPS gives one). *source (optional) gets
 * "LONG1K_PEAK_TFLOPS" or the table row's name. */
double l1k_peak_flops(const char *device_name, int bf16, const char **source);

#endif
