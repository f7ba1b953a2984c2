/* long1k — the adapter's private state (include/long1k/adapter.h), shared by src/model/adapter*.c
 * and the CPU backend's LoRA products (src/backend/cpu/lora.c). Not a public header. */
#ifndef LONG1K_MODEL_ADAPTER_INTERNAL_H
#define LONG1K_MODEL_ADAPTER_INTERNAL_H

#include "long1k/adapter.h"
#include "model/model_internal.h"

enum { ADAPTER_LORA = 1, ADAPTER_FREEZE = 2 };

/* One LoRA'd linear module of one layer: A [r, in], B [out, r] and their gradients (pointers
 * into the adapter's flat space), u = x A^T [N, r] kept from the forward for the backward. */
typedef struct lora_mod {
  float *A, *B, *gA, *gB;
  float *u;
  int in, out;
} lora_mod;

typedef struct model_adapter {
  int kind;
  l1k_lora_opts o;        /* LoRA settings (kind LORA) */
  float scale;            /* alpha / r or alpha / sqrt(r) */
  size_t n;               /* floats in the trainable space */
  float *params, *grads;  /* [n] each */
  l1k_tensor_info *tensors;
  size_t n_tensors;
  size_t *base_of;        /* [n_tensors]: base tensor a full tensor copies, or SIZE_MAX (lora) */
  lora_mod *mods;         /* [layers * L1K_LORA_NMOD]; A == NULL: not a target */
  float *acts;            /* u of every module, [rows * r] each */
  float *du;              /* [rows * r] backward scratch */
  size_t rows;            /* rows the activations are sized for */
  float *xd;              /* [rows * max in] dropout scratch (dropout > 0) */
  uint64_t drop_key;      /* l1k_model_lora_dropout_key */
  int training;           /* set during forward_backward: dropout applies */
} model_adapter;

void model_adapter_free(model_adapter *ad);
/* Detaches and frees m's adapter without merging (base pointers back to m->params). */
void model_adapter_drop(l1k_model *m);
/* An attached LoRA of these settings with all parameters zero (adapter_io.c fills it). */
int model_lora_attach_empty(l1k_model *m, const l1k_lora_opts *o, l1k_err *err);

/* The module's input / output sizes in a layer of cfg. */
void lora_module_dims(const l1k_model_config *c, int mod, int *in, int *out);
/* The base weight [out, in] of module mod in layer l (current pointers of m->p). */
float *lora_base_weight(l1k_model *m, int l, int mod);

/* CPU backend (src/backend/cpu/lora.c): activations for N rows; y += scale (x A^T) B^T after the
 * base product of (l, mod); in the backward, with dy the gradient of that output: dA, dB
 * accumulate and dx += scale (dy B) A. All no-ops when the model has no LoRA on (l, mod). */
int l1k_cpu_lora_reserve(l1k_model *m, size_t N, l1k_err *err);
void l1k_cpu_lora_fw(l1k_model *m, int l, int mod, float *y, const float *x, int N);
void l1k_cpu_lora_bw(l1k_model *m, int l, int mod, float *dx, const float *dy, const float *x,
                     int N);
/* Dropout on (training, inside forward_backward) or off. */
void l1k_cpu_lora_training(l1k_model *m, int on);
/* The lowest layer the backward must reach (0 without an adapter; see lora.c). */
int l1k_cpu_bw_lowest_layer(const l1k_model *m);

#endif
