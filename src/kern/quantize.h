/*
 * quantize.h — f32 to ggml's storage types (scalar reference), the inverse
 * of the decoders in quant.h. Used by the GGUF exporter (src/model/export.c).
 *
 * Each function encodes n floats (n a multiple of the type's block size:
 * 32 for Q8_0 / Q4_0, 256 for Q4_K, 1 for F16 / BF16) and matches
 * ggml-quants.c's quantize_row_<type>_ref (and, but for Q4_K, gguf-py's
 * gguf.quants.quantize 0.19) bit for bit: the same f32 operations in the same order, one rounding each (no
 * fused multiply-add; -std=c11 keeps GCC from contracting), f16 scales
 * rounded to nearest even.
 *
 *   Q8_0  per block of 32: amax = max |x|, d = amax / 127, id = d ? 1/d : 0,
 *         q = roundf(x * id) (half away from zero); stores f16(d), i8 q[32]
 *   Q4_0  per block of 32: m = the x of largest |x| (the first one on ties),
 *         d = m / -8, id = d ? 1/d : 0, q = min(15, (int)(x * id + 8.5f));
 *         stores f16(d), then byte j = q[j] | q[j + 16] << 4
 *   Q4_K  per super-block of 256 (quantize_row_q4_K_ref): per sub-block of
 *         32, weights w = sqrt(mean x^2) + |x|, then make_qkx2_quants(nmax
 *         15, rmin -1, rdelta 0.1, nstep 20, squared error) fits x ~ s*L - m
 *         (L 0..15, m >= 0; a candidate kept moves the origin min of the
 *         candidates after it, as in ggml); the 8 scales s and mins m are quantized to 6
 *         bits against their maxima (ls = min(63, nearest(63/max_s * s)),
 *         lm likewise), d = f16(max_s / 63), dmin = f16(max_m / 63); codes
 *         are then recomputed from the stored scales, L = clamp(nearest((x +
 *         dmin*lm) / (d*ls)), 0, 15), except in sub-blocks whose d*ls is 0
 *         (they keep the fit's codes). nearest = ggml's nearest_int (ties to
 *         even). 144 bytes each, layout in quant.h. gguf-py has no Q4_K
 *         quantizer: checked against ggml's own (ggml_quantize_chunk).
 *   F16 / BF16  round to nearest even (kern/convert.h)
 *
 * Inputs must be finite (the exporter checks); NaN or inf give whatever
 * ggml's reference gives.
 */
#ifndef TCF_KERN_QUANTIZE_H
#define TCF_KERN_QUANTIZE_H

#include <stdint.h>

void tcf_quantize_q8_0(const float *x, uint8_t *dst, int64_t n); /* dst: n / 32 * 34 bytes */
void tcf_quantize_q4_0(const float *x, uint8_t *dst, int64_t n); /* dst: n / 32 * 18 bytes */
void tcf_quantize_q4_k(const float *x, uint8_t *dst, int64_t n); /* n % 256 == 0; dst: n / 256 * 144 bytes */
void tcf_quantize_f16(const float *x, uint8_t *dst, int64_t n);  /* dst: 2n bytes, LE */
void tcf_quantize_bf16(const float *x, uint8_t *dst, int64_t n); /* dst: 2n bytes, LE */

#endif /* TCF_KERN_QUANTIZE_H */
