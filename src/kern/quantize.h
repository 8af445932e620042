/*
 * quantize.h — f32 to ggml's storage types (scalar reference), the inverse
 * of the decoders in quant.h. Used by the GGUF exporter (src/model/export.c).
 *
 * Each function encodes n floats (n a multiple of the type's block size:
 * 32 for Q8_0 / Q4_0, 1 for F16 / BF16) and matches ggml-quants.c's
 * quantize_row_<type>_ref and gguf-py's gguf.quants.quantize (0.19) bit for
 * bit: the same f32 operations in the same order, one rounding each (no
 * fused multiply-add; -std=c11 keeps GCC from contracting), f16 scales
 * rounded to nearest even.
 *
 *   Q8_0  per block of 32: amax = max |x|, d = amax / 127, id = d ? 1/d : 0,
 *         q = roundf(x * id) (half away from zero); stores f16(d), i8 q[32]
 *   Q4_0  per block of 32: m = the x of largest |x| (the first one on ties),
 *         d = m / -8, id = d ? 1/d : 0, q = min(15, (int)(x * id + 8.5f));
 *         stores f16(d), then byte j = q[j] | q[j + 16] << 4
 *   F16 / BF16  round to nearest even (kern/convert.h)
 *
 * Inputs must be finite (the exporter checks); NaN or inf give whatever
 * ggml's reference gives. Q4_K is not here (gguf-py 0.19 has no Q4_K
 * quantizer to check one against).
 */
#ifndef TCF_KERN_QUANTIZE_H
#define TCF_KERN_QUANTIZE_H

#include <stdint.h>

void tcf_quantize_q8_0(const float *x, uint8_t *dst, int64_t n); /* dst: n / 32 * 34 bytes */
void tcf_quantize_q4_0(const float *x, uint8_t *dst, int64_t n); /* dst: n / 32 * 18 bytes */
void tcf_quantize_f16(const float *x, uint8_t *dst, int64_t n);  /* dst: 2n bytes, LE */
void tcf_quantize_bf16(const float *x, uint8_t *dst, int64_t n); /* dst: 2n bytes, LE */

#endif /* TCF_KERN_QUANTIZE_H */
