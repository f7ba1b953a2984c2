/* bf16 / fp16 / fp32 conversions: exhaustive round trips, round-to-nearest-even ties, NaN,
 * infinities, overflow, subnormals. */
#include <stdint.h>

#include "check.h"
#include "long1k/dtype.h"

static float u2f(uint32_t u) {
  float f;
  memcpy(&f, &u, 4);
  return f;
}

int main(void) {
  /* names */
  CHECK(l1k_dtype_parse("BF16") == L1K_DT_BF16 && l1k_dtype_parse("F32") == L1K_DT_F32);
  CHECK(l1k_dtype_parse("F64") == L1K_DT_INVALID && l1k_dtype_parse("bf16") == L1K_DT_INVALID);
  CHECK(l1k_dtype_parse_loose("bfloat16") == L1K_DT_BF16 && l1k_dtype_parse_loose("fp16") == L1K_DT_F16);
  CHECK(l1k_dtype_size(L1K_DT_I64) == 8 && l1k_dtype_size(L1K_DT_BF16) == 2);

  /* every bf16 / fp16 value survives a round trip through float32 (NaNs stay NaN) */
  int bad_bf = 0, bad_h = 0;
  for (uint32_t h = 0; h < 65536; h++) {
    float f = l1k_bf16_to_f32((uint16_t)h);
    uint16_t back = l1k_f32_to_bf16(f);
    if (isnan(f) ? !isnan(l1k_bf16_to_f32(back)) : back != h) bad_bf++;
    float g = l1k_f16_to_f32((uint16_t)h);
    uint16_t hb = l1k_f32_to_f16(g);
    if (isnan(g) ? !isnan(l1k_f16_to_f32(hb)) : hb != h) bad_h++;
  }
  CHECK_MSG(bad_bf == 0, "%d bf16 values do not round-trip", bad_bf);
  CHECK_MSG(bad_h == 0, "%d fp16 values do not round-trip", bad_h);

  /* fp16 decoding of known values */
  CHECK(l1k_f16_to_f32(0x3c00) == 1.0f);
  CHECK(l1k_f16_to_f32(0xc000) == -2.0f);
  CHECK(l1k_f16_to_f32(0x7bff) == 65504.0f);
  CHECK(l1k_f16_to_f32(0x0001) == ldexpf(1.0f, -24)); /* smallest subnormal */
  CHECK(l1k_f16_to_f32(0x0400) == ldexpf(1.0f, -14)); /* smallest normal */
  CHECK(isinf(l1k_f16_to_f32(0x7c00)) && isnan(l1k_f16_to_f32(0x7e00)));

  /* bf16 rounding: ties to even */
  CHECK(l1k_f32_to_bf16(u2f(0x3f808000u)) == 0x3f80); /* tie, even below */
  CHECK(l1k_f32_to_bf16(u2f(0x3f818000u)) == 0x3f82); /* tie, odd below -> up */
  CHECK(l1k_f32_to_bf16(u2f(0x3f808001u)) == 0x3f81); /* above half */
  CHECK(l1k_f32_to_bf16(u2f(0x3f807fffu)) == 0x3f80); /* below half */
  CHECK(l1k_f32_to_bf16(u2f(0x7f7fffffu)) == 0x7f80); /* FLT_MAX rounds to inf */
  CHECK(l1k_f32_to_bf16(-INFINITY) == 0xff80);
  uint16_t nb = l1k_f32_to_bf16(u2f(0x7f800001u)); /* NaN with payload only in low bits */
  CHECK(isnan(l1k_bf16_to_f32(nb)));
  CHECK((l1k_f32_to_bf16(u2f(0xffc00000u)) & 0x8000) == 0x8000); /* sign of NaN kept */

  /* fp16 rounding */
  CHECK(l1k_f32_to_f16(1.0f + ldexpf(1.0f, -11)) == 0x3c00);                      /* tie -> even */
  CHECK(l1k_f32_to_f16(1.0f + 3 * ldexpf(1.0f, -11)) == 0x3c02);                  /* tie -> even up */
  CHECK(l1k_f32_to_f16(1.0f + ldexpf(1.0f, -11) + ldexpf(1.0f, -20)) == 0x3c01);  /* above tie */
  CHECK(l1k_f32_to_f16(65520.0f) == 0x7c00); /* halfway to 2^16 -> inf */
  CHECK(l1k_f32_to_f16(65519.0f) == 0x7bff);
  CHECK(l1k_f32_to_f16(1e10f) == 0x7c00 && l1k_f32_to_f16(-1e10f) == 0xfc00);
  CHECK(l1k_f32_to_f16(ldexpf(1.0f, -25)) == 0x0000);                    /* tie to even (0) */
  CHECK(l1k_f32_to_f16(ldexpf(1.0f, -25) * 1.5f) == 0x0001);
  CHECK(l1k_f32_to_f16(ldexpf(3.0f, -25)) == 0x0002);                    /* 1.5 units: tie -> 2 */
  CHECK(l1k_f32_to_f16(ldexpf(1023.0f, -24) + ldexpf(1.0f, -25)) == 0x0400); /* carries to normal */
  CHECK(l1k_f32_to_f16(1e-30f) == 0 && l1k_f32_to_f16(-1e-30f) == 0x8000);
  CHECK(isnan(l1k_f16_to_f32(l1k_f32_to_f16(NAN))));

  /* brute-force check against exact rounding for many float32 values */
  uint32_t state = 12345;
  int bad = 0;
  for (int i = 0; i < 200000; i++) {
    state = state * 1664525u + 1013904223u;
    float f = u2f((state & 0x807fffffu) | ((100u + (state >> 24) % 40u) << 23)); /* |f| ~ 2^-27..2^12 */
    float b = l1k_bf16_to_f32(l1k_f32_to_bf16(f));
    float h = l1k_f16_to_f32(l1k_f32_to_f16(f));
    /* nearest candidates: compare against neighbours */
    uint16_t hb = l1k_f32_to_bf16(f);
    float up = l1k_bf16_to_f32((uint16_t)(hb + 1)), dn = l1k_bf16_to_f32((uint16_t)(hb - 1));
    if (fabsf(up - f) < fabsf(b - f) || fabsf(dn - f) < fabsf(b - f)) bad++;
    uint16_t hh = l1k_f32_to_f16(f);
    if ((hh & 0x7fff) != 0 && (hh & 0x7fff) < 0x7bff) {
      float hu = l1k_f16_to_f32((uint16_t)(hh + 1)), hd = l1k_f16_to_f32((uint16_t)(hh - 1));
      if (fabsf(hu - f) < fabsf(h - f) || fabsf(hd - f) < fabsf(h - f)) bad++;
    }
  }
  CHECK_MSG(bad == 0, "%d values not rounded to nearest", bad);

  /* bulk conversions with unaligned buffers */
  unsigned char buf[1 + 4 * 3];
  float src[3] = {1.5f, -2.25f, 3.0f}, dst[3];
  l1k_from_f32(buf + 1, L1K_DT_BF16, src, 3);
  l1k_to_f32(dst, buf + 1, L1K_DT_BF16, 3);
  CHECK(dst[0] == 1.5f && dst[1] == -2.25f && dst[2] == 3.0f);
  l1k_from_f32(buf + 1, L1K_DT_F16, src, 3);
  l1k_to_f32(dst, buf + 1, L1K_DT_F16, 3);
  CHECK(dst[0] == 1.5f && dst[1] == -2.25f && dst[2] == 3.0f);
  int64_t iv[2] = {-7, 1 << 20};
  memcpy(buf + 1, iv, 8); /* unaligned I64 read */
  l1k_to_f32(dst, buf + 1, L1K_DT_I64, 1);
  CHECK(dst[0] == -7.0f);
  CHECK_DONE();
}
