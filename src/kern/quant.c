/*
 * quant.c — scalar decoders for ggml's block formats (layouts in quant.h),
 * transcribed from ggml-quants.c (dequantize_row_q4_0 ... _q6_K). The tests
 * compare them with gguf-py's numpy decoders (tests/ref/gen_gguf_fixtures.py)
 * for exact equality.
 */
#include "kern/quant.h"
#include "kern/convert.h"

#include <string.h>

static float f16_at(const uint8_t *p) { return tcf_f16_to_f32((uint16_t)(p[0] | (p[1] << 8))); }

void tcf_dequant_q4_0(const uint8_t *src, float *dst, int64_t nb) {
    for (int64_t i = 0; i < nb; i++, src += 18, dst += 32) {
        const float d = f16_at(src);
        const uint8_t *qs = src + 2;
        for (int j = 0; j < 16; j++) {
            dst[j] = (float)((qs[j] & 0x0f) - 8) * d;
            dst[j + 16] = (float)((qs[j] >> 4) - 8) * d;
        }
    }
}

void tcf_dequant_q4_1(const uint8_t *src, float *dst, int64_t nb) {
    for (int64_t i = 0; i < nb; i++, src += 20, dst += 32) {
        const float d = f16_at(src), m = f16_at(src + 2);
        const uint8_t *qs = src + 4;
        for (int j = 0; j < 16; j++) {
            float a = (float)(qs[j] & 0x0f) * d;
            float b = (float)(qs[j] >> 4) * d;
            dst[j] = a + m;
            dst[j + 16] = b + m;
        }
    }
}

void tcf_dequant_q5_0(const uint8_t *src, float *dst, int64_t nb) {
    for (int64_t i = 0; i < nb; i++, src += 22, dst += 32) {
        const float d = f16_at(src);
        uint32_t qh = (uint32_t)src[2] | (uint32_t)src[3] << 8 | (uint32_t)src[4] << 16 |
                      (uint32_t)src[5] << 24;
        const uint8_t *qs = src + 6;
        for (int j = 0; j < 16; j++) {
            int xh0 = (int)(((qh >> j) << 4) & 0x10);
            int xh1 = (int)((qh >> (j + 12)) & 0x10);
            dst[j] = (float)(((qs[j] & 0x0f) | xh0) - 16) * d;
            dst[j + 16] = (float)(((qs[j] >> 4) | xh1) - 16) * d;
        }
    }
}

void tcf_dequant_q5_1(const uint8_t *src, float *dst, int64_t nb) {
    for (int64_t i = 0; i < nb; i++, src += 24, dst += 32) {
        const float d = f16_at(src), m = f16_at(src + 2);
        uint32_t qh = (uint32_t)src[4] | (uint32_t)src[5] << 8 | (uint32_t)src[6] << 16 |
                      (uint32_t)src[7] << 24;
        const uint8_t *qs = src + 8;
        for (int j = 0; j < 16; j++) {
            int xh0 = (int)(((qh >> j) << 4) & 0x10);
            int xh1 = (int)((qh >> (j + 12)) & 0x10);
            float a = (float)((qs[j] & 0x0f) | xh0) * d;
            float b = (float)((qs[j] >> 4) | xh1) * d;
            dst[j] = a + m;
            dst[j + 16] = b + m;
        }
    }
}

void tcf_dequant_q8_0(const uint8_t *src, float *dst, int64_t nb) {
    for (int64_t i = 0; i < nb; i++, src += 34, dst += 32) {
        const float d = f16_at(src);
        for (int j = 0; j < 32; j++) dst[j] = (float)(int8_t)src[2 + j] * d;
    }
}

/* The 6-bit scale and min of sub-block j (0..7) from Q4_K's 12 packed bytes:
 * bytes 0-3 hold sc[0..3] (low 6 bits) and the top 2 bits of sc[4..7],
 * bytes 4-7 the same for the mins, bytes 8-11 the low 4 bits of sc[4..7]
 * (low nibble) and m[4..7] (high nibble). */
static void scale_min_k4(int j, const uint8_t *q, uint8_t *sc, uint8_t *m) {
    if (j < 4) {
        *sc = q[j] & 63;
        *m = q[j + 4] & 63;
    } else {
        *sc = (uint8_t)((q[j + 4] & 0x0f) | ((q[j - 4] >> 6) << 4));
        *m = (uint8_t)((q[j + 4] >> 4) | ((q[j] >> 6) << 4));
    }
}

void tcf_dequant_q4_k(const uint8_t *src, float *dst, int64_t nb) {
    for (int64_t i = 0; i < nb; i++, src += 144) {
        const float d = f16_at(src), dmin = f16_at(src + 2);
        const uint8_t *scales = src + 4, *q = src + 16;
        for (int is = 0; is < 8; is += 2, q += 32) {
            uint8_t sc, m;
            scale_min_k4(is, scales, &sc, &m);
            const float d1 = d * (float)sc, m1 = dmin * (float)m;
            scale_min_k4(is + 1, scales, &sc, &m);
            const float d2 = d * (float)sc, m2 = dmin * (float)m;
            for (int l = 0; l < 32; l++) {
                float a = d1 * (float)(q[l] & 0x0f);
                *dst++ = a - m1;
            }
            for (int l = 0; l < 32; l++) {
                float a = d2 * (float)(q[l] >> 4);
                *dst++ = a - m2;
            }
        }
    }
}

void tcf_dequant_q6_k(const uint8_t *src, float *dst, int64_t nb) {
    for (int64_t i = 0; i < nb; i++, src += 210) {
        const float d = f16_at(src + 208);
        const uint8_t *ql = src, *qh = src + 128;
        const int8_t *sc = (const int8_t *)(src + 192);
        for (int n = 0; n < 256; n += 128, dst += 128, ql += 64, qh += 32, sc += 8) {
            for (int l = 0; l < 32; l++) {
                int is = l / 16;
                int q1 = ((ql[l] & 0x0f) | (((qh[l] >> 0) & 3) << 4)) - 32;
                int q2 = ((ql[l + 32] & 0x0f) | (((qh[l] >> 2) & 3) << 4)) - 32;
                int q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
                int q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
                float s1 = d * (float)sc[is + 0], s2 = d * (float)sc[is + 2];
                float s3 = d * (float)sc[is + 4], s4 = d * (float)sc[is + 6];
                dst[l + 0] = s1 * (float)q1;
                dst[l + 32] = s2 * (float)q2;
                dst[l + 64] = s3 * (float)q3;
                dst[l + 96] = s4 * (float)q4;
            }
        }
    }
}
