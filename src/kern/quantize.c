/*
 * quantize.c — scalar encoders for ggml's block formats (rules in
 * quantize.h), transcribed from the description of quantize_row_q8_0_ref /
 * quantize_row_q4_0_ref and checked against gguf-py's quantizers for exact
 * equality (tests/test_quantize.c, fixtures from tests/ref/
 * gen_quant_fixtures.py); Q4_K after ggml's quantize_row_q4_K_ref (its
 * make_qkx2_quants search, then 6-bit scales), checked against ggml itself
 * (tests/ref/gen_q4k_fixtures.py: gguf-py has no Q4_K quantizer).
 */
#include "kern/quantize.h"
#include "kern/convert.h"

#include <math.h>
#include <string.h>

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

/* ggml's nearest_int: adding 1.5 * 2^23 leaves round-to-nearest-even(v) in
 * the low mantissa bits (valid for |v| <= 2^22; outside that range the same
 * bits come out as in ggml, whose assert is compiled out). */
static int nearest_int(float v) {
    float t = v + 12582912.0f;
    int32_t i;
    memcpy(&i, &t, sizeof i);
    return (i & 0x007fffff) - 0x00400000;
}

static int clamp_q(int l, int hi) { return l < 0 ? 0 : l > hi ? hi : l; }

/* ggml's make_qkx2_quants for n = 32 values with nmax = 15 and Q4_K's
 * search (rmin = -1, rdelta = 0.1, nstep = 20, squared error): fit
 * x ~ scale * L - min_out with L in 0..15, weights w. Starts from the plain
 * range fit (min = min(x, 0), scale = (max - min) / 15), then tries 21
 * candidate inverse scales (15 - 1 + 0.1 is) / (max - min): each rounds
 * (x - min) to L, takes the weighted least-squares scale and offset for that
 * L (offset clamped to <= 0, the scale refitted then) and is kept if its
 * weighted error is strictly lower; a kept offset becomes the min of the
 * candidates after it. Returns the scale, *min_out = -min >= 0. */
static float fit_q4k_sub(const float *x, const float *w, uint8_t *L, float *min_out) {
    enum { n = 32, nmax = 15, nstep = 20 };
    const float rmin = -1.0f, rdelta = 0.1f;
    float min = x[0], max = x[0], sum_w = w[0], sum_x = sum_w * x[0];
    for (int i = 1; i < n; i++) {
        if (x[i] < min) min = x[i];
        if (x[i] > max) max = x[i];
        const float wx = w[i] * x[i];
        sum_w += w[i];
        sum_x += wx;
    }
    if (min > 0.0f) min = 0.0f;
    if (max == min) {
        memset(L, 0, n);
        *min_out = -min;
        return 0.0f;
    }
    const float range0 = max - min;
    float iscale = (float)nmax / range0, scale = 1.0f / iscale, best = 0.0f;
    for (int i = 0; i < n; i++) {
        const float t = x[i] - min, s = iscale * t;
        L[i] = (uint8_t)clamp_q(nearest_int(s), nmax);
        const float sl = scale * (float)L[i], a = sl + min, diff = a - x[i], d2 = diff * diff, e = w[i] * d2;
        best += e;
    }
    uint8_t Laux[n];
    for (int is = 0; is <= nstep; is++) {
        /* min is the best fit's so far (as in ggml): it moves the origin
         * and the range of the candidates after it */
        const float step = rdelta * (float)is, r = rmin + step, num = r + (float)nmax, range = max - min;
        iscale = num / range;
        float sum_l = 0.0f, sum_l2 = 0.0f, sum_xl = 0.0f;
        for (int i = 0; i < n; i++) {
            const float t = x[i] - min, s = iscale * t;
            const int l = clamp_q(nearest_int(s), nmax);
            Laux[i] = (uint8_t)l;
            const float wl = w[i] * (float)l, wll = wl * (float)l, wlx = wl * x[i];
            sum_l += wl;
            sum_l2 += wll;
            sum_xl += wlx;
        }
        const float p = sum_w * sum_l2, q = sum_l * sum_l, D = p - q;
        if (D > 0.0f) {
            const float a1 = sum_w * sum_xl, a2 = sum_x * sum_l, a = a1 - a2;
            const float b1 = sum_l2 * sum_x, b2 = sum_l * sum_xl, b = b1 - b2;
            float this_scale = a / D, this_min = b / D;
            if (this_min > 0.0f) {
                this_min = 0.0f;
                this_scale = sum_xl / sum_l2;
            }
            float cur = 0.0f;
            for (int i = 0; i < n; i++) {
                const float sl = this_scale * (float)Laux[i], c = sl + this_min, diff = c - x[i];
                const float d2 = diff * diff, e = w[i] * d2;
                cur += e;
            }
            if (cur < best) {
                memcpy(L, Laux, n);
                best = cur;
                scale = this_scale;
                min = this_min;
            }
        }
    }
    *min_out = -min;
    return scale;
}

/* sub-block j's 6-bit scale and min from the 12 packed bytes (quant.c's
 * scale_min_k4, the layout in quant.h) */
static void unpack_sc_m(int j, const uint8_t *q, int *sc, int *m) {
    if (j < 4) {
        *sc = q[j] & 63;
        *m = q[j + 4] & 63;
    } else {
        *sc = (q[j + 4] & 0x0f) | ((q[j - 4] >> 6) << 4);
        *m = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
    }
}

void tcf_quantize_q4_k(const float *x, uint8_t *dst, int64_t n) {
    for (int64_t i = 0; i < n / 256; i++, x += 256, dst += 144) {
        uint8_t L[256];
        float scales[8], mins[8], w[32];
        float max_scale = 0.0f, max_min = 0.0f;
        for (int j = 0; j < 8; j++) {
            const float *xs = x + 32 * j;
            float sum_x2 = 0.0f;
            for (int l = 0; l < 32; l++) {
                const float sq = xs[l] * xs[l];
                sum_x2 += sq;
            }
            const float av_x = sqrtf(sum_x2 / 32.0f);
            for (int l = 0; l < 32; l++) w[l] = av_x + fabsf(xs[l]);
            scales[j] = fit_q4k_sub(xs, w, L + 32 * j, &mins[j]);
            if (scales[j] > max_scale) max_scale = scales[j];
            if (mins[j] > max_min) max_min = mins[j];
        }
        const float inv_scale = max_scale > 0.0f ? 63.0f / max_scale : 0.0f;
        const float inv_min = max_min > 0.0f ? 63.0f / max_min : 0.0f;
        uint8_t *sc = dst + 4;
        for (int j = 0; j < 8; j++) {
            /* ggml stores nearest_int's result in a uint8_t, then caps it at 63 */
            uint8_t ls = (uint8_t)nearest_int(inv_scale * scales[j]), lm = (uint8_t)nearest_int(inv_min * mins[j]);
            if (ls > 63) ls = 63;
            if (lm > 63) lm = 63;
            if (j < 4) {
                sc[j] = ls;
                sc[j + 4] = lm;
            } else {
                sc[j + 4] = (uint8_t)((ls & 0x0f) | ((lm & 0x0f) << 4));
                sc[j - 4] |= (uint8_t)((ls >> 4) << 6);
                sc[j] |= (uint8_t)((lm >> 4) << 6);
            }
        }
        put_f16(dst, max_scale / 63.0f);
        put_f16(dst + 2, max_min / 63.0f);
        const float d16 = tcf_f16_to_f32((uint16_t)(dst[0] | dst[1] << 8));
        const float m16 = tcf_f16_to_f32((uint16_t)(dst[2] | dst[3] << 8));
        for (int j = 0; j < 8; j++) {
            int s, m;
            unpack_sc_m(j, sc, &s, &m);
            const float d = d16 * (float)s;
            if (d == 0.0f) continue; /* keeps the fit's codes, as ggml does */
            const float dm = m16 * (float)m;
            for (int l = 0; l < 32; l++) {
                const float t = x[32 * j + l] + dm, v = t / d;
                L[32 * j + l] = (uint8_t)clamp_q(nearest_int(v), 15);
            }
        }
        uint8_t *q = dst + 16;
        for (int j = 0; j < 256; j += 64, q += 32)
            for (int l = 0; l < 32; l++) q[l] = (uint8_t)(L[j + l] | (L[j + l + 32] << 4));
    }
}
