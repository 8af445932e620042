/*
 * ops.c — kernel dispatch (which ISA the SIMD kernels use) and row-wise ops:
 * LayerNorm, GELU (erf form; the AVX2 variant uses a polynomial erf within
 * 1.5e-7 of erff). The dense product is in gemm.c.
 */
#include "kern/kern.h"
#include "base/base.h"
#include "kern/simd_math.h"

#include <immintrin.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static int force_scalar, force_avx2;

void tcf_kern_force_scalar(int on) { force_scalar = on; }
void tcf_kern_force_avx2(int on) { force_avx2 = on; }

static int has_dq, has_vnni; /* AVX-512 DQ; AVX-512 BW + VNNI (set with the level) */

/* 0 scalar, 1 AVX2 + FMA, 2 AVX-512F as well; capped by TCF_ISA */
static int cpu_level(void) {
    static int cached = -1;
    if (cached < 0) {
        __builtin_cpu_init();
        int lv = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
        if (lv && __builtin_cpu_supports("avx512f")) lv = 2;
        has_dq = __builtin_cpu_supports("avx512dq");
        has_vnni = __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vnni");
        const char *e = getenv("TCF_ISA");
        if (e && !strcmp(e, "scalar")) lv = 0;
        else if (e && !strcmp(e, "avx2") && lv > 1) lv = 1;
        cached = lv;
    }
    return cached;
}

int tcf_kern_avx512dq(void) { return !strcmp(tcf_kern_isa(), "avx512") && has_dq; }
int tcf_kern_avx512vnni(void) { return !strcmp(tcf_kern_isa(), "avx512") && has_vnni; }

const char *tcf_kern_isa(void) {
    const int lv = force_scalar ? 0 : cpu_level();
    return lv == 2 && !force_avx2 ? "avx512" : lv >= 1 ? "avx2" : "scalar";
}

/* ---- dot product ---------------------------------------------------------- */

__attribute__((target("avx2,fma"))) static float dot_avx2(const float *a, const float *b, int n) {
    __m256 s0 = _mm256_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
    int i = 0;
    for (; i + 32 <= n; i += 32) {
        s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
        s1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), s1);
        s2 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 16), _mm256_loadu_ps(b + i + 16), s2);
        s3 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 24), _mm256_loadu_ps(b + i + 24), s3);
    }
    const __m256 s = _mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3));
    __m128 h = _mm_add_ps(_mm256_castps256_ps128(s), _mm256_extractf128_ps(s, 1));
    h = _mm_add_ps(h, _mm_movehl_ps(h, h));
    h = _mm_add_ss(h, _mm_movehdup_ps(h));
    float acc = _mm_cvtss_f32(h);
    for (; i < n; i++) acc += a[i] * b[i];
    return acc;
}

float tcf_dot(const float *a, const float *b, int n) {
    if (tcf_kern_isa()[0] == 'a') return dot_avx2(a, b, n);
    float acc = 0;
    for (int i = 0; i < n; i++) acc += a[i] * b[i];
    return acc;
}

/* ---- row-wise ops ------------------------------------------------------- */

/* The AVX2 form: the mean and variance summed in double over 4 lanes x 2
 * chains (the scalar form sums in order: the two can differ in the last
 * bits of a double, which rarely survives the rounding to float), the
 * output with the scalar form's operations per element. */
__attribute__((target("avx2,fma"))) static void layernorm_avx2(float *y, const float *x, const float *g,
                                                              const float *b, int64_t rows, int C, float eps) {
    for (int64_t r = 0; r < rows; r++) {
        const float *xr = x + r * C;
        float *yr = y + r * C;
        __m256d m0 = _mm256_setzero_pd(), m1 = m0;
        int i = 0;
        for (; i + 8 <= C; i += 8) {
            m0 = _mm256_add_pd(m0, _mm256_cvtps_pd(_mm_loadu_ps(xr + i)));
            m1 = _mm256_add_pd(m1, _mm256_cvtps_pd(_mm_loadu_ps(xr + i + 4)));
        }
        double t[4];
        _mm256_storeu_pd(t, _mm256_add_pd(m0, m1));
        double mean = (t[0] + t[1]) + (t[2] + t[3]);
        for (; i < C; i++) mean += xr[i];
        mean /= C;
        const __m256d vm = _mm256_set1_pd(mean);
        __m256d v0 = _mm256_setzero_pd(), v1 = v0;
        for (i = 0; i + 8 <= C; i += 8) {
            const __m256d d0 = _mm256_sub_pd(_mm256_cvtps_pd(_mm_loadu_ps(xr + i)), vm);
            const __m256d d1 = _mm256_sub_pd(_mm256_cvtps_pd(_mm_loadu_ps(xr + i + 4)), vm);
            v0 = _mm256_add_pd(v0, _mm256_mul_pd(d0, d0));
            v1 = _mm256_add_pd(v1, _mm256_mul_pd(d1, d1));
        }
        _mm256_storeu_pd(t, _mm256_add_pd(v0, v1));
        double var = (t[0] + t[1]) + (t[2] + t[3]);
        for (; i < C; i++) var += (xr[i] - mean) * (xr[i] - mean);
        var /= C;
        const float rstd = (float)(1.0 / sqrt(var + eps)), mu = (float)mean;
        const __m256 vmu = _mm256_set1_ps(mu), vr = _mm256_set1_ps(rstd);
        for (i = 0; i + 8 <= C; i += 8) {
            const __m256 d = _mm256_mul_ps(_mm256_sub_ps(_mm256_loadu_ps(xr + i), vmu), vr);
            _mm256_storeu_ps(yr + i, _mm256_add_ps(_mm256_mul_ps(d, _mm256_loadu_ps(g + i)), _mm256_loadu_ps(b + i)));
        }
        for (; i < C; i++) yr[i] = (xr[i] - mu) * rstd * g[i] + b[i];
    }
}

void tcf_layernorm(float *y, const float *x, const float *g, const float *b, int64_t rows, int C,
                   float eps) {
    if (tcf_kern_isa()[0] == 'a') {
        layernorm_avx2(y, x, g, b, rows, C, eps);
        return;
    }
    for (int64_t r = 0; r < rows; r++) {
        const float *xr = x + r * C;
        float *yr = y + r * C;
        double mean = 0, var = 0;
        for (int i = 0; i < C; i++) mean += xr[i];
        mean /= C;
        for (int i = 0; i < C; i++) var += (xr[i] - mean) * (xr[i] - mean);
        var /= C;
        float rstd = (float)(1.0 / sqrt(var + eps)), mu = (float)mean;
        for (int i = 0; i < C; i++) yr[i] = (xr[i] - mu) * rstd * g[i] + b[i];
    }
}

void tcf_gelu_ref(float *y, const float *x, int64_t n) {
    for (int64_t i = 0; i < n; i++) y[i] = 0.5f * x[i] * (1.0f + erff(x[i] * (float)M_SQRT1_2));
}

__attribute__((target("avx2,fma"))) static void gelu_avx2(float *y, const float *x, int64_t n) {
    int64_t i = 0;
    const __m256 half = _mm256_set1_ps(0.5f), one = _mm256_set1_ps(1.0f),
                 rs2 = _mm256_set1_ps((float)M_SQRT1_2);
    for (; i + 8 <= n; i += 8) {
        __m256 v = _mm256_loadu_ps(x + i);
        __m256 e = erf256(_mm256_mul_ps(v, rs2));
        _mm256_storeu_ps(y + i, _mm256_mul_ps(_mm256_mul_ps(half, v), _mm256_add_ps(one, e)));
    }
    tcf_gelu_ref(y + i, x + i, n - i);
}

void tcf_gelu(float *y, const float *x, int64_t n) {
    if (tcf_kern_isa()[0] == 'a') gelu_avx2(y, x, n);
    else tcf_gelu_ref(y, x, n);
}

int tcf_pack_offsets(int B, int T, const uint8_t *mask, int32_t *off) {
    int n = 0;
    for (int b = 0; b < B; b++) {
        off[b] = n;
        for (int t = 0; t < T; t++) n += mask[(int64_t)b * T + t] != 0;
    }
    off[B] = n;
    return n;
}

/* From the last position down: packed row r lands at flat position >= r,
 * and every row still to move is below the one written, so nothing is
 * overwritten before it is read. */
void tcf_unpack_rows(float *x, int C, int B, int T, const uint8_t *mask) {
    int64_t r = -1;
    for (int64_t p = 0; p < (int64_t)B * T; p++) r += mask[p] != 0;
    for (int64_t p = (int64_t)B * T - 1; p >= 0; p--) {
        float *dst = x + p * C;
        if (!mask[p]) {
            memset(dst, 0, sizeof(float) * (size_t)C);
        } else {
            if (r != p) memmove(dst, x + r * C, sizeof(float) * (size_t)C);
            r--;
        }
    }
}
