/*
 * convert.h — scalar conversions between f32 and the 16-bit float formats
 * found in checkpoints: IEEE 754 binary16 ("F16", 1+5+10 bits) and bfloat16
 * ("BF16", the top 16 bits of an f32, 1+8+7 bits).
 *
 * Narrowing rounds to nearest, ties to even, like torch's .half() /
 * .bfloat16() and the hardware converters (F16C vcvtps2ph, AVX512-BF16).
 * These are the scalar reference; any SIMD variant is tested against them.
 */
#ifndef TCF_KERN_CONVERT_H
#define TCF_KERN_CONVERT_H

#include <stdint.h>

/* Exact: every binary16 value (subnormals, ±inf, NaN payloads) is an f32. */
float tcf_f16_to_f32(uint16_t h);
/* Round to nearest even; overflow gives ±inf, values below half the smallest
 * subnormal (2^-25) give ±0; NaN stays NaN (quietened, top payload bits kept). */
uint16_t tcf_f32_to_f16(float f);
/* Exact. */
float tcf_bf16_to_f32(uint16_t b);
/* Round to nearest even; NaN stays NaN (quietened, so a payload in the low
 * bits cannot round it to inf). */
uint16_t tcf_f32_to_bf16(float f);

#endif /* TCF_KERN_CONVERT_H */
