/*
 * quant.h — ggml's quantized block formats, decoded to f32 (scalar reference).
 *
 * Each function decodes `nb` consecutive blocks at `src` into dst[nb * QK]
 * and matches ggml-quants.c's dequantize_row_<type> bit for bit: the same
 * products in the same order, one rounding each (no fused multiply-add; each
 * product and sum is its own statement so no compiler contracts them).
 * Block layouts (ggml-common.h), all little-endian, f16 = IEEE binary16:
 *
 *   Q4_0  32 weights, 18 bytes: f16 d, u8 qs[16]        w = d*(q - 8)
 *   Q4_1  32 weights, 20 bytes: f16 d, f16 m, u8 qs[16] w = d*q + m
 *         (weight j < 16 is the low nibble of qs[j], weight j+16 the high one)
 *   Q5_0  32 weights, 22 bytes: f16 d, u32 qh, u8 qs[16] w = d*(q - 16), q's
 *         fifth bit for weight j is bit j of qh
 *   Q5_1  32 weights, 24 bytes: f16 d, f16 m, u32 qh, u8 qs[16]  w = d*q + m
 *   Q8_0  32 weights, 34 bytes: f16 d, i8 qs[32]        w = d*q
 *   Q4_K  256 weights, 144 bytes: f16 d, f16 dmin, u8 scales[12], u8 qs[128];
 *         8 sub-blocks of 32 with 6-bit scale sc and min m packed in scales
 *         (get_scale_min_k4), w = (d*sc)*q - (dmin*m); qs holds 4 chunks of
 *         32 bytes, low nibbles = sub-block 2k, high nibbles = sub-block 2k+1
 *   Q6_K  256 weights, 210 bytes: u8 ql[128], u8 qh[64], i8 scales[16], f16 d;
 *         q = (4 low bits from ql | 2 high bits from qh) - 32, 16 sub-blocks
 *         of 16, w = (d*scales[s])*q
 */
#ifndef TCF_KERN_QUANT_H
#define TCF_KERN_QUANT_H

#include <stddef.h>
#include <stdint.h>

void tcf_dequant_q4_0(const uint8_t *src, float *dst, int64_t nb);
void tcf_dequant_q4_1(const uint8_t *src, float *dst, int64_t nb);
void tcf_dequant_q5_0(const uint8_t *src, float *dst, int64_t nb);
void tcf_dequant_q5_1(const uint8_t *src, float *dst, int64_t nb);
void tcf_dequant_q8_0(const uint8_t *src, float *dst, int64_t nb);
void tcf_dequant_q4_k(const uint8_t *src, float *dst, int64_t nb);
void tcf_dequant_q6_k(const uint8_t *src, float *dst, int64_t nb);

#endif /* TCF_KERN_QUANT_H */
