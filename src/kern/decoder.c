/*
 * decoder.c — RMSNorm, RoPE and SwiGLU kernels for Llama-family decoders
 * (formulas: transformers' modeling_llama.py LlamaRMSNorm,
 * LlamaRotaryEmbedding + apply_rotary_pos_emb, LlamaMLP with act "silu").
 * The AVX2 SwiGLU uses exp256 (~1 ulp); tests compare it with the libm
 * reference.
 */
#include "kern/decoder.h"
#include "kern/kern.h"
#include "kern/simd_math.h"

#include <immintrin.h>
#include <math.h>

void tcf_rmsnorm(float *y, const float *x, const float *w, int64_t rows, int C, float eps) {
    for (int64_t r = 0; r < rows; r++) {
        const float *xr = x + r * C;
        float *yr = y + r * C;
        double ss = 0;
        for (int i = 0; i < C; i++) ss += (double)xr[i] * xr[i];
        float inv = (float)(1.0 / sqrt(ss / C + eps));
        for (int i = 0; i < C; i++) yr[i] = w[i] * (xr[i] * inv);
    }
}

void tcf_rope_table(float *cos_t, float *sin_t, int P, int D, double theta) {
    const int half = D / 2;
    for (int i = 0; i < half; i++) {
        /* torch: 1.0 / (base ** (arange(0, D, 2).float() / D)), all in f32 */
        float e = (float)(2 * i) / (float)D;
        float inv = 1.0f / powf((float)theta, e);
        for (int p = 0; p < P; p++) {
            float a = (float)p * inv;
            cos_t[(int64_t)p * half + i] = (float)cos((double)a);
            sin_t[(int64_t)p * half + i] = (float)sin((double)a);
        }
    }
}

void tcf_rope_apply(float *x, int n_heads, int D, const float *cos_r, const float *sin_r) {
    const int half = D / 2;
    for (int h = 0; h < n_heads; h++) {
        float *q = x + (int64_t)h * D;
        for (int i = 0; i < half; i++) {
            float x1 = q[i], x2 = q[i + half], c = cos_r[i], s = sin_r[i];
            q[i] = x1 * c - x2 * s;
            q[i + half] = x2 * c + x1 * s;
        }
    }
}

void tcf_swiglu_ref(float *y, const float *gate, const float *up, int64_t n) {
    for (int64_t i = 0; i < n; i++) {
        float g = gate[i];
        y[i] = g / (1.0f + expf(-g)) * up[i];
    }
}

__attribute__((target("avx2,fma"))) static void swiglu_avx2(float *y, const float *gate,
                                                            const float *up, int64_t n) {
    int64_t i = 0;
    const __m256 one = _mm256_set1_ps(1.0f), sign = _mm256_set1_ps(-0.0f);
    for (; i + 8 <= n; i += 8) {
        __m256 g = _mm256_loadu_ps(gate + i), u = _mm256_loadu_ps(up + i);
        __m256 e = exp256(_mm256_xor_ps(g, sign)); /* e^-g */
        __m256 s = _mm256_div_ps(g, _mm256_add_ps(one, e));
        _mm256_storeu_ps(y + i, _mm256_mul_ps(s, u));
    }
    tcf_swiglu_ref(y + i, gate + i, up + i, n - i);
}

void tcf_swiglu(float *y, const float *gate, const float *up, int64_t n) {
    if (tcf_kern_isa()[0] == 'a') swiglu_avx2(y, gate, up, n);
    else tcf_swiglu_ref(y, gate, up, n);
}

void tcf_attn_causal_head_forward(int T, int D, const float *Q, const float *K, const float *V, int ld,
                                  const uint8_t *key_mask, float scale, float *ctx, int ldc, float *P,
                                  float *scratch) {
    float *kt = scratch; /* (D, T) K^T */
    for (int s = 0; s < T; s++)
        for (int d = 0; d < D; d++) kt[(int64_t)d * T + s] = K[(int64_t)s * ld + d];
    tcf_gemm(T, T, D, Q, ld, kt, T, P, T, NULL, 0, 1);
    for (int t = 0; t < T; t++) {
        float *p = P + (int64_t)t * T, mx = -INFINITY, sum = 0;
        for (int s = 0; s <= t; s++)
            if (key_mask[s] && p[s] * scale > mx) mx = p[s] * scale;
        for (int s = 0; s < T; s++) {
            p[s] = s <= t && key_mask[s] ? expf(p[s] * scale - mx) : 0.0f;
            sum += p[s];
        }
        float inv = sum > 0 ? 1.0f / sum : 0.0f;
        for (int s = 0; s <= t; s++) p[s] *= inv;
    }
    tcf_gemm(T, D, T, P, T, V, ld, ctx, ldc, NULL, 0, 1);
}

void tcf_rmsnorm_backward(float *dx, float *dw, const float *dy, const float *x, const float *w, int64_t rows,
                          int C, float eps) {
    for (int64_t r = 0; r < rows; r++) {
        const float *xr = x + r * C, *dyr = dy + r * C;
        float *dxr = dx + r * C;
        double ss = 0, dot = 0;
        for (int i = 0; i < C; i++) {
            ss += (double)xr[i] * xr[i];
            dot += (double)w[i] * dyr[i] * xr[i];
        }
        double inv = 1.0 / sqrt(ss / C + eps);
        float a = (float)inv, b = (float)(dot * inv * inv * inv / C);
        if (dw)
            for (int i = 0; i < C; i++) dw[i] += dyr[i] * xr[i] * a;
        for (int i = 0; i < C; i++) dxr[i] = a * w[i] * dyr[i] - xr[i] * b;
    }
}

void tcf_rope_backward(float *dx, int n_heads, int D, const float *cos_r, const float *sin_r) {
    const int half = D / 2;
    for (int h = 0; h < n_heads; h++) {
        float *q = dx + (int64_t)h * D;
        for (int i = 0; i < half; i++) {
            float d1 = q[i], d2 = q[i + half], c = cos_r[i], s = sin_r[i];
            q[i] = d1 * c + d2 * s;
            q[i + half] = d2 * c - d1 * s;
        }
    }
}

void tcf_swiglu_backward(float *dgate, float *dup, const float *dy, const float *gate, const float *up,
                         int64_t n) {
    for (int64_t i = 0; i < n; i++) {
        float g = gate[i], sg = 1.0f / (1.0f + expf(-g)), d = dy[i];
        dup[i] = d * g * sg;
        dgate[i] = d * up[i] * sg * (1.0f + g * (1.0f - sg));
    }
}
