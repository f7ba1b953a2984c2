/* long1k — optim_offload for the CUDA backend (ZeRO-Offload's split, DeepSpeed's CPU Adam):
 * the float32 master weights, gradients and AdamW moments of the optimizer's range [olo, ohi)
 * in host memory, AdamW on the CPU cores with the CPU backend's code (src/backend/cpu/optim.c,
 * l1k_adamw_step_shard: same arithmetic, the same bits as the device kernel's double-precision
 * update). Each step: the global norm and clipping on the device, then the range in pieces of
 * 2^22 values: a copy thread brings piece c's gradients down and takes piece c - 1's parameters
 * up while this thread runs AdamW on piece c (the bf16 working copy is refreshed after). Not
 * overlapped with the next step's forward and backward, which need the new weights (DeepSpeed's
 * delayed update would change the trajectory). Internal to src/backend/cuda. */
#ifndef LONG1K_BACKEND_CUDA_OFFLOAD_H
#define LONG1K_BACKEND_CUDA_OFFLOAD_H

#include "backend/cuda/cuda_internal.h"
#include "long1k/optim.h"

typedef struct cu_offload {
  l1k_adamw opt;  /* moments of [opt.lo, opt.hi) and the step counter */
  float *master;  /* float32 master weights of the range (pinned when cudaMallocHost works) */
  float *grads;   /* the range's gradients, copied down each step */
  int pinned;
  int borrowed;   /* master is the host master's [lo, hi) (hostmaster.h), not owned */
} cu_offload;

/* Host optimizer for [lo, hi) of the trainable space; the master copied from the device. */
int l1kcu_offload_init(cu_state *s, double beta1, double beta2, double eps, double weight_decay,
                       size_t lo, size_t hi, l1k_err *err);
void l1kcu_offload_free(cu_state *s);
/* After clipping on the device: gradients down, AdamW on the host, parameters up. */
int l1kcu_offload_step(cu_state *s, double lr, l1k_err *err);
/* params_set of [lo, lo + n): the master's overlap follows (a resume, a ZeRO broadcast). */
void l1kcu_offload_params_set(cu_state *s, const float *src, size_t lo, size_t n);

#endif
