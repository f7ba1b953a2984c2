/* long1k — dtypes and bf16/fp16/fp32 conversions: see include/long1k/dtype.h. */
#include "long1k/dtype.h"

#include <string.h>
#include <strings.h>

size_t l1k_dtype_size(l1k_dtype t) {
  switch (t) {
    case L1K_DT_F32: return 4;
    case L1K_DT_BF16: return 2;
    case L1K_DT_F16: return 2;
    case L1K_DT_I32: return 4;
    case L1K_DT_I64: return 8;
    default: return 0;
  }
}

const char *l1k_dtype_name(l1k_dtype t) {
  switch (t) {
    case L1K_DT_F32: return "F32";
    case L1K_DT_BF16: return "BF16";
    case L1K_DT_F16: return "F16";
    case L1K_DT_I32: return "I32";
    case L1K_DT_I64: return "I64";
    default: return "INVALID";
  }
}

l1k_dtype l1k_dtype_parse(const char *s) {
  if (!s) return L1K_DT_INVALID;
  if (!strcmp(s, "F32")) return L1K_DT_F32;
  if (!strcmp(s, "BF16")) return L1K_DT_BF16;
  if (!strcmp(s, "F16")) return L1K_DT_F16;
  if (!strcmp(s, "I32")) return L1K_DT_I32;
  if (!strcmp(s, "I64")) return L1K_DT_I64;
  return L1K_DT_INVALID;
}

l1k_dtype l1k_dtype_parse_loose(const char *s) {
  if (!s) return L1K_DT_INVALID;
  if (!strcasecmp(s, "f32") || !strcasecmp(s, "float32") || !strcasecmp(s, "fp32"))
    return L1K_DT_F32;
  if (!strcasecmp(s, "bf16") || !strcasecmp(s, "bfloat16")) return L1K_DT_BF16;
  if (!strcasecmp(s, "f16") || !strcasecmp(s, "fp16") || !strcasecmp(s, "float16"))
    return L1K_DT_F16;
  if (!strcasecmp(s, "i32") || !strcasecmp(s, "int32")) return L1K_DT_I32;
  if (!strcasecmp(s, "i64") || !strcasecmp(s, "int64")) return L1K_DT_I64;
  return L1K_DT_INVALID;
}

int l1k_dtype_is_float(l1k_dtype t) {
  return t == L1K_DT_F32 || t == L1K_DT_BF16 || t == L1K_DT_F16;
}

static inline uint32_t f2u(float f) {
  uint32_t u;
  memcpy(&u, &f, 4);
  return u;
}
static inline float u2f(uint32_t u) {
  float f;
  memcpy(&f, &u, 4);
  return f;
}

float l1k_bf16_to_f32(uint16_t h) { return u2f((uint32_t)h << 16); }

uint16_t l1k_f32_to_bf16(float f) {
  uint32_t u = f2u(f);
  if ((u & 0x7fffffffu) > 0x7f800000u) /* NaN: keep sign, force a quiet mantissa bit */
    return (uint16_t)((u >> 16) | 0x0040u);
  /* round to nearest even: add 0x7fff plus the lowest kept bit; overflow goes to inf */
  uint32_t lsb = (u >> 16) & 1u;
  u += 0x7fffu + lsb;
  return (uint16_t)(u >> 16);
}

float l1k_f16_to_f32(uint16_t h) {
  uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
  uint32_t exp = (h >> 10) & 0x1fu;
  uint32_t man = h & 0x3ffu;
  if (exp == 0x1f) return u2f(sign | 0x7f800000u | (man << 13) | (man ? 0x400000u : 0));
  if (exp == 0) {
    if (man == 0) return u2f(sign);
    /* subnormal: man * 2^-24 */
    float v = (float)man * (1.0f / 16777216.0f);
    return sign ? -v : v;
  }
  return u2f(sign | ((exp + 112u) << 23) | (man << 13));
}

uint16_t l1k_f32_to_f16(float f) {
  uint32_t u = f2u(f);
  uint16_t sign = (uint16_t)((u >> 16) & 0x8000u);
  uint32_t a = u & 0x7fffffffu;
  if (a > 0x7f800000u) return (uint16_t)(sign | 0x7e00u | ((a >> 13) & 0x3ffu)); /* NaN */
  if (a == 0x7f800000u) return (uint16_t)(sign | 0x7c00u);                       /* inf */
  int32_t e = (int32_t)(a >> 23) - 127; /* unbiased exponent */
  if (e > 15) return (uint16_t)(sign | 0x7c00u); /* too large even before rounding */
  if (e >= -14) {
    /* normal range: keep 10 mantissa bits, round to nearest even on the 13 dropped bits */
    uint32_t m = a & 0x7fffffu;
    uint32_t r = ((uint32_t)(e + 15) << 10) | (m >> 13);
    uint32_t rem = m & 0x1fffu;
    if (rem > 0x1000u || (rem == 0x1000u && (r & 1u))) r++; /* may carry into exp / inf */
    return (uint16_t)(sign | r);
  }
  if (e < -25) return sign; /* below half the smallest subnormal: rounds to zero */
  /* subnormal: value = m24 * 2^(e-23), result units of 2^-24 */
  uint32_t m24 = (a & 0x7fffffu) | 0x800000u;
  int shift = -e - 1; /* e=-15 -> shift 14, ..., e=-25 -> shift 24 */
  uint32_t r = m24 >> shift;
  uint32_t rem = m24 & ((1u << shift) - 1u);
  uint32_t half = 1u << (shift - 1);
  if (rem > half || (rem == half && (r & 1u))) r++;
  return (uint16_t)(sign | r);
}

void l1k_to_f32(float *dst, const void *src, l1k_dtype t, size_t n) {
  const unsigned char *s = src;
  switch (t) {
    case L1K_DT_F32: memcpy(dst, src, n * 4); break;
    case L1K_DT_BF16:
      for (size_t i = 0; i < n; i++) {
        uint16_t h;
        memcpy(&h, s + 2 * i, 2);
        dst[i] = l1k_bf16_to_f32(h);
      }
      break;
    case L1K_DT_F16:
      for (size_t i = 0; i < n; i++) {
        uint16_t h;
        memcpy(&h, s + 2 * i, 2);
        dst[i] = l1k_f16_to_f32(h);
      }
      break;
    case L1K_DT_I32:
      for (size_t i = 0; i < n; i++) {
        int32_t v;
        memcpy(&v, s + 4 * i, 4);
        dst[i] = (float)v;
      }
      break;
    case L1K_DT_I64:
      for (size_t i = 0; i < n; i++) {
        int64_t v;
        memcpy(&v, s + 8 * i, 8);
        dst[i] = (float)v;
      }
      break;
    default: memset(dst, 0, n * sizeof *dst); break;
  }
}

void l1k_from_f32(void *dst, l1k_dtype t, const float *src, size_t n) {
  unsigned char *d = dst;
  switch (t) {
    case L1K_DT_F32: memcpy(dst, src, n * 4); break;
    case L1K_DT_BF16:
      for (size_t i = 0; i < n; i++) {
        uint16_t h = l1k_f32_to_bf16(src[i]);
        memcpy(d + 2 * i, &h, 2);
      }
      break;
    case L1K_DT_F16:
      for (size_t i = 0; i < n; i++) {
        uint16_t h = l1k_f32_to_f16(src[i]);
        memcpy(d + 2 * i, &h, 2);
      }
      break;
    default: break;
  }
}
