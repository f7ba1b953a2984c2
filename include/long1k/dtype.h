/* long1k — tensor element types and float conversions (bf16 / fp16 / fp32).
 *
 * Conversions to the narrow types round to nearest, ties to even (as PyTorch's .to() does).
 * NaN stays NaN (quiet, sign kept); infinities stay infinite; values beyond the narrow type's
 * range become infinity (fp16 also produces subnormals). Element reads go through memcpy, so
 * source buffers need no alignment (safetensors data often is not 4-byte aligned).
 */
#ifndef LONG1K_DTYPE_H
#define LONG1K_DTYPE_H

#include <stddef.h>
#include <stdint.h>

typedef enum l1k_dtype {
  L1K_DT_INVALID = 0,
  L1K_DT_F32,
  L1K_DT_BF16,
  L1K_DT_F16,
  L1K_DT_I32,
  L1K_DT_I64,
} l1k_dtype;

/* Size of one element in bytes (0 for L1K_DT_INVALID). */
size_t l1k_dtype_size(l1k_dtype t);
/* safetensors spelling: "F32", "BF16", "F16", "I32", "I64". */
const char *l1k_dtype_name(l1k_dtype t);
/* Parses the safetensors spelling; L1K_DT_INVALID when unknown. */
l1k_dtype l1k_dtype_parse(const char *s);
/* Also accepts "f32"/"float32", "bf16"/"bfloat16", "f16"/"fp16"/"float16" (CLI, config). */
l1k_dtype l1k_dtype_parse_loose(const char *s);
int l1k_dtype_is_float(l1k_dtype t);

float l1k_bf16_to_f32(uint16_t h);
uint16_t l1k_f32_to_bf16(float f);
float l1k_f16_to_f32(uint16_t h);
uint16_t l1k_f32_to_f16(float f);

/* Converts n elements of src (any dtype, unaligned, little-endian) to float32. Integer
 * types convert exactly when |v| < 2^24. */
void l1k_to_f32(float *dst, const void *src, l1k_dtype src_type, size_t n);
/* Converts n float32 values into dst of a float dtype (F32, BF16, F16), unaligned OK. */
void l1k_from_f32(void *dst, l1k_dtype dst_type, const float *src, size_t n);

#endif
