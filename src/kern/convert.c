/*
 * convert.c — f16 / bf16 <-> f32 scalar conversions (see convert.h).
 *
 * binary16: sign(1) exponent(5, bias 15) mantissa(10). Exponent 0 holds zero
 * and subnormals (mantissa · 2^-24); exponent 31 holds inf (mantissa 0) and NaN.
 * bfloat16: the high half of an f32, so widening is a shift.
 * Bits move through memcpy, never through pointer casts (strict aliasing).
 */
#include "kern/convert.h"

#include <string.h>

static inline float f32_from_bits(uint32_t u) {
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

static inline uint32_t f32_bits(float f) {
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

float tcf_f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t exp = (h >> 10) & 0x1fu;
    uint32_t man = h & 0x3ffu;
    if (exp == 0) {
        /* zero or subnormal: man · 2^-24, exact in f32 */
        float mag = (float)man * 0x1p-24f;
        return sign ? -mag : mag;
    }
    if (exp == 31) return f32_from_bits(sign | 0x7f800000u | (man << 13));
    return f32_from_bits(sign | ((exp + (127 - 15)) << 23) | (man << 13));
}

uint16_t tcf_f32_to_f16(float f) {
    uint32_t x = f32_bits(f);
    uint16_t sign = (uint16_t)((x >> 16) & 0x8000u);
    uint32_t ax = x & 0x7fffffffu;
    if (ax > 0x7f800000u) /* NaN */
        return (uint16_t)(sign | 0x7e00u | ((ax >> 13) & 0x3ffu));
    if (ax >= 0x38800000u) {
        /* |f| >= 2^-14, normal in f16 unless it overflows. Rebias the
         * exponent (127 -> 15), then round the 13 dropped mantissa bits to
         * nearest even; a carry ripples into the exponent, which is right. */
        uint32_t r = ax - ((127u - 15u) << 23);
        r += 0xfffu + ((r >> 13) & 1u);
        r >>= 13;
        return (uint16_t)(sign | (r >= 0x7c00u ? 0x7c00u : r));
    }
    if (ax <= 0x33000000u) return sign; /* <= 2^-25: rounds (ties even) to 0 */
    /* Subnormal result: |f| / 2^-24 = m · 2^(e-126) with the implicit bit in
     * m; e is in [102, 112], so the shift is 14..24 bits. */
    uint32_t e = ax >> 23;
    uint32_t m = (ax & 0x7fffffu) | 0x800000u;
    uint32_t s = 126u - e;
    uint32_t q = m >> s, rem = m & ((1u << s) - 1u), half = 1u << (s - 1u);
    if (rem > half || (rem == half && (q & 1u))) q++; /* may carry to 0x400: smallest normal */
    return (uint16_t)(sign | q);
}

float tcf_bf16_to_f32(uint16_t b) { return f32_from_bits((uint32_t)b << 16); }

uint16_t tcf_f32_to_bf16(float f) {
    uint32_t x = f32_bits(f);
    if ((x & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((x >> 16) | 0x0040u);
    x += 0x7fffu + ((x >> 16) & 1u);
    return (uint16_t)(x >> 16);
}
