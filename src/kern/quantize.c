/*
 * quantize.c — scalar encoders for ggml's block formats (rules in
 * quantize.h), transcribed from the description of quantize_row_q8_0_ref /
 * quantize_row_q4_0_ref and checked against gguf-py's quantizers for exact
 * equality (tests/test_quantize.c, fixtures from tests/ref/
 * gen_quant_fixtures.py).
 */
#include "kern/quantize.h"
#include "kern/convert.h"

#include <math.h>

static void put_f16(uint8_t *p, float v) {
    uint16_t h = tcf_f32_to_f16(v);
    p[0] = (uint8_t)(h & 0xff);
    p[1] = (uint8_t)(h >> 8);
}

void tcf_quantize_q8_0(const float *x, uint8_t *dst, int64_t n) {
    for (int64_t i = 0; i < n / 32; i++, x += 32, dst += 34) {
        float amax = 0.0f;
        for (int j = 0; j < 32; j++) {
            float a = fabsf(x[j]);
            if (a > amax) amax = a;
        }
        const float d = amax / 127.0f;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        put_f16(dst, d);
        for (int j = 0; j < 32; j++) {
            float v = x[j] * id;
            dst[2 + j] = (uint8_t)(int8_t)roundf(v);
        }
    }
}

void tcf_quantize_q4_0(const float *x, uint8_t *dst, int64_t n) {
    for (int64_t i = 0; i < n / 32; i++, x += 32, dst += 18) {
        float amax = 0.0f, max = 0.0f;
        for (int j = 0; j < 32; j++) {
            float a = fabsf(x[j]);
            if (a > amax) amax = a, max = x[j];
        }
        const float d = max / -8.0f;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        put_f16(dst, d);
        for (int j = 0; j < 16; j++) {
            float v0 = x[j] * id, v1 = x[j + 16] * id;
            v0 = v0 + 8.5f;
            v1 = v1 + 8.5f;
            int q0 = (int)v0, q1 = (int)v1;
            if (q0 > 15) q0 = 15;
            if (q1 > 15) q1 = 15;
            dst[2 + j] = (uint8_t)(q0 | (q1 << 4));
        }
    }
}

void tcf_quantize_f16(const float *x, uint8_t *dst, int64_t n) {
    for (int64_t i = 0; i < n; i++) put_f16(dst + 2 * i, x[i]);
}

void tcf_quantize_bf16(const float *x, uint8_t *dst, int64_t n) {
    for (int64_t i = 0; i < n; i++) {
        uint16_t b = tcf_f32_to_bf16(x[i]);
        dst[2 * i] = (uint8_t)(b & 0xff);
        dst[2 * i + 1] = (uint8_t)(b >> 8);
    }
}
