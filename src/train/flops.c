/* Model FLOPs and the peak for MFU (include/long1k/flops.h). */
#include "long1k/flops.h"

#include <stdlib.h>
#include <string.h>

l1k_flops_shape l1k_flops_shape_of(const l1k_model_config *c, int kind, double trainable) {
  double C = c->hidden_size, I = c->intermediate_size, V = c->vocab_size;
  double hd = c->head_dim, qw = (double)c->num_attention_heads * hd,
         kvw = (double)c->num_key_value_heads * hd;
  /* per layer: q, k, v, o and the three MLP matrices; then the lm_head */
  double layer = C * qw + 2.0 * C * kvw + qw * C + 3.0 * C * I;
  double base = layer * c->num_hidden_layers + V * C;
  l1k_flops_shape s;
  if (trainable < 0) trainable = 0;
  if (kind == L1K_FLOPS_LORA) {
    s.frozen_matmul = base;
    s.trainable_matmul = trainable;
  } else if (kind == L1K_FLOPS_FREEZE) {
    s.trainable_matmul = trainable < base ? trainable : base;
    s.frozen_matmul = base - s.trainable_matmul;
  } else {
    s.trainable_matmul = base;
    s.frozen_matmul = 0;
  }
  s.layers = c->num_hidden_layers;
  s.attn_width = (int)qw;
  return s;
}

double l1k_flops_step(const l1k_flops_shape *s, double tokens, double sum_doc_sq) {
  return 6.0 * s->trainable_matmul * tokens + 4.0 * s->frozen_matmul * tokens +
         6.0 * s->layers * (double)s->attn_width * sum_doc_sq;
}

/* NVIDIA's data sheets, dense (no sparsity), per GPU, in TFLOP/s: BF16 tensor core, FP32.
 * Longer names first where one contains another. */
static const struct {
  const char *match, *row;
  double bf16, fp32;
} PEAKS[] = {
    {"H100 PCIe", "H100 PCIe", 756.0, 51.0},
    {"H100 NVL", "H100 NVL", 835.0, 60.0},
    {"H200 NVL", "H200 NVL", 835.0, 60.0},
    {"GH200", "GH200", 989.0, 67.0},
    {"H100", "H100 SXM", 989.0, 67.0},
    {"H200", "H200 SXM", 989.0, 67.0},
    {"H800", "H800 SXM", 989.0, 67.0},
    {"A100", "A100", 312.0, 19.5},
    {"A800", "A800", 312.0, 19.5},
    {"L40S", "L40S", 362.0, 91.6},
};

double l1k_peak_flops(const char *device_name, int bf16, const char **source) {
  const char *e = getenv("LONG1K_PEAK_TFLOPS");
  if (e && *e) {
    char *end;
    double v = strtod(e, &end);
    if (end != e && !*end && v > 0) {
      if (source) *source = "LONG1K_PEAK_TFLOPS";
      return v * 1e12;
    }
  }
  if (source) *source = NULL;
  if (!device_name) return 0;
  for (size_t i = 0; i < sizeof PEAKS / sizeof PEAKS[0]; i++)
    if (strstr(device_name, PEAKS[i].match)) {
      if (source) *source = PEAKS[i].row;
      return (bf16 ? PEAKS[i].bf16 : PEAKS[i].fp32) * 1e12;
    }
  return 0;
}
