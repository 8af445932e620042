/*
 * grad.c — backward kernels for fine-tuning (see grad.h for the contracts):
 * LayerNorm, GELU, masked softmax, per-head self-attention, linear, LoRA
 * linear, cross-entropy, pooling, tanh, counter-based dropout.
 *
 * Scalar code plus tcf_gemm for the dense products; transposed operands are
 * written into the caller's scratch first, since tcf_gemm reads row-major A
 * and B only. Row reductions (LayerNorm, cross-entropy) accumulate in double.
 * Formulas: LayerNorm backward as in llm.c's layernorm_backward; softmax
 * backward dS = P (dP - <dP, P>); cross-entropy with weights and label
 * smoothing as torch's cross_entropy_loss_label_smoothing (LossNLL.cpp).
 */
#include "kern/grad.h"
#include "kern/kern.h"
#include "kern/simd_math.h"

#include <assert.h>
#include <math.h>
#include <string.h>

/* dst (cols, rows) = src (rows, cols)^T * alpha, src with row stride lds. */
static void transpose(float *dst, const float *src, int rows, int cols, int lds, float alpha) {
    for (int i = 0; i < rows; i++)
        for (int j = 0; j < cols; j++) dst[(int64_t)j * rows + i] = src[(int64_t)i * lds + j] * alpha;
}

/* ---- 1. LayerNorm ---------------------------------------------------------- */

void tcf_layernorm_forward(float *y, float *mean, float *rstd, const float *x, const float *g,
                           const float *b, int64_t rows, int C, float eps) {
    for (int64_t r = 0; r < rows; r++) {
        const float *xr = x + r * C;
        float *yr = y + r * C;
        double mu = 0, var = 0;
        for (int i = 0; i < C; i++) mu += xr[i];
        mu /= C;
        for (int i = 0; i < C; i++) var += (xr[i] - mu) * (xr[i] - mu);
        var /= C;
        float rs = (float)(1.0 / sqrt(var + eps)), m = (float)mu;
        mean[r] = m;
        rstd[r] = rs;
        for (int i = 0; i < C; i++) yr[i] = (xr[i] - m) * rs * g[i] + b[i];
    }
}

void tcf_layernorm_backward(float *dx, float *dg, float *db, const float *dy, const float *x,
                            const float *mean, const float *rstd, const float *g, int64_t rows,
                            int C) {
    for (int64_t r = 0; r < rows; r++) {
        const float *xr = x + r * C, *dyr = dy + r * C;
        float *dxr = dx + r * C;
        const float m = mean[r], rs = rstd[r];
        /* dxhat = dy * g; dx = rstd * (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat)) */
        double s1 = 0, s2 = 0;
        for (int i = 0; i < C; i++) {
            float xh = (xr[i] - m) * rs, dxh = dyr[i] * g[i];
            s1 += dxh;
            s2 += (double)dxh * xh;
            if (dg) dg[i] += dyr[i] * xh;
            if (db) db[i] += dyr[i];
        }
        const float m1 = (float)(s1 / C), m2 = (float)(s2 / C);
        for (int i = 0; i < C; i++) {
            float xh = (xr[i] - m) * rs;
            dxr[i] = rs * (dyr[i] * g[i] - m1 - xh * m2);
        }
    }
}

/* ---- 2. GELU ------------------------------------------------------------------ */

void tcf_gelu_backward_ref(float *dx, const float *dy, const float *x, int64_t n) {
    const float inv_sqrt_2pi = 0.398942280401432678f;
    for (int64_t i = 0; i < n; i++) {
        float v = x[i];
        float cdf = 0.5f * (1.0f + erff(v * (float)M_SQRT1_2));
        float pdf = inv_sqrt_2pi * expf(-0.5f * v * v);
        dx[i] = dy[i] * (cdf + v * pdf);
    }
}

/* AVX2: erf and exp from simd_math.h (|erf error| <= 1.5e-7). */
__attribute__((target("avx2,fma"))) static void gelu_backward_avx2(float *dx, const float *dy,
                                                                   const float *x, int64_t n) {
    const __m256 half = _mm256_set1_ps(0.5f), one = _mm256_set1_ps(1.0f),
                 rs2 = _mm256_set1_ps((float)M_SQRT1_2), c = _mm256_set1_ps(0.398942280401432678f),
                 mhalf = _mm256_set1_ps(-0.5f);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 v = _mm256_loadu_ps(x + i);
        __m256 cdf = _mm256_mul_ps(half, _mm256_add_ps(one, erf256(_mm256_mul_ps(v, rs2))));
        __m256 pdf = _mm256_mul_ps(c, exp256(_mm256_mul_ps(mhalf, _mm256_mul_ps(v, v))));
        _mm256_storeu_ps(dx + i, _mm256_mul_ps(_mm256_loadu_ps(dy + i), _mm256_fmadd_ps(v, pdf, cdf)));
    }
    tcf_gelu_backward_ref(dx + i, dy + i, x + i, n - i);
}

void tcf_gelu_backward(float *dx, const float *dy, const float *x, int64_t n) {
    if (tcf_kern_isa()[0] == 'a') gelu_backward_avx2(dx, dy, x, n);
    else tcf_gelu_backward_ref(dx, dy, x, n);
}

/* ---- 3. Softmax ---------------------------------------------------------------- */

void tcf_softmax_forward(float *P, const float *S, const uint8_t *key_mask, int64_t rows,
                         int cols) {
    for (int64_t r = 0; r < rows; r++) {
        const float *s = S + r * cols;
        float *p = P + r * cols, mx = -INFINITY, sum = 0;
        for (int j = 0; j < cols; j++)
            if ((!key_mask || key_mask[j]) && s[j] > mx) mx = s[j];
        for (int j = 0; j < cols; j++) {
            p[j] = (!key_mask || key_mask[j]) ? expf(s[j] - mx) : 0.0f;
            sum += p[j];
        }
        float inv = sum > 0 ? 1.0f / sum : 0.0f;
        for (int j = 0; j < cols; j++) p[j] *= inv;
    }
}

void tcf_softmax_backward(float *dS, const float *P, const float *dP, int64_t rows, int cols) {
    for (int64_t r = 0; r < rows; r++) {
        const float *p = P + r * cols, *dp = dP + r * cols;
        float *ds = dS + r * cols, dot = 0;
        for (int j = 0; j < cols; j++) dot += dp[j] * p[j];
        for (int j = 0; j < cols; j++) ds[j] = p[j] * (dp[j] - dot);
    }
}

/* ---- 4. Attention, one (batch row, head) ----------------------------------------- */

size_t tcf_attn_forward_scratch(int T, int D) { return (size_t)D * T + (size_t)T * T; }

void tcf_attn_head_forward(int T, int D, const float *Q, const float *K, const float *V, int ld,
                           const uint8_t *key_mask, float scale, const tcf_attn_dropout *drop, float *ctx,
                           int ldc, float *P, float *scratch) {
    float *kt = scratch; /* (D, T) = scale * K^T, as bert.c's forward */
    transpose(kt, K, T, D, ld, scale);
    tcf_gemm(T, T, D, Q, ld, kt, T, P, T, NULL, 0, 1);
    tcf_softmax_forward(P, P, key_mask, T, T);
    const float *Pd = P;
    if (drop && drop->p > 0) {
        float *pd = kt + (int64_t)D * T; /* (T, T) dropout(P) */
        tcf_dropout_forward(pd, P, (int64_t)T * T, drop->p, drop->seed, drop->step, drop->offset);
        Pd = pd;
    }
    tcf_gemm(T, D, T, Pd, T, V, ld, ctx, ldc, NULL, 0, 1);
}

size_t tcf_attn_backward_scratch(int T, int D) { return 2 * (size_t)T * T + (size_t)D * T; }

void tcf_attn_head_backward(int T, int D, const float *Q, const float *K, const float *V, int ld,
                            const float *P, const uint8_t *key_mask, float scale,
                            const tcf_attn_dropout *drop, const float *dctx, int lddc, float *dQ, float *dK,
                            float *dV, int ldd, float *scratch) {
    (void)key_mask; /* masked keys have P = 0: no gradient reaches them */
    float *tt = scratch;                    /* (T, T): Pd^T, later dS^T */
    float *vt = tt + (int64_t)T * T;        /* (D, T): V^T */
    float *dS = vt + (int64_t)D * T;        /* (T, T): Pd, then dP, then dS in place */
    const int dropped = drop && drop->p > 0;
    if (dropped) tcf_dropout_forward(dS, P, (int64_t)T * T, drop->p, drop->seed, drop->step, drop->offset);
    transpose(tt, dropped ? dS : P, T, T, T, 1.0f);
    tcf_gemm(T, D, T, tt, T, dctx, lddc, dV, ldd, NULL, 0, 1); /* dV = Pd^T dctx */
    transpose(vt, V, T, D, ld, 1.0f);
    tcf_gemm(T, T, D, dctx, lddc, vt, T, dS, T, NULL, 0, 1); /* dPd = dctx V^T */
    if (dropped) tcf_dropout_backward(dS, dS, (int64_t)T * T, drop->p, drop->seed, drop->step, drop->offset, 0);
    tcf_softmax_backward(dS, P, dS, T, T);
    for (int64_t i = 0; i < (int64_t)T * T; i++) dS[i] *= scale; /* S = scale Q K^T */
    tcf_gemm(T, D, T, dS, T, K, ld, dQ, ldd, NULL, 0, 1); /* dQ = dS K */
    transpose(tt, dS, T, T, T, 1.0f);
    tcf_gemm(T, D, T, tt, T, Q, ld, dK, ldd, NULL, 0, 1); /* dK = dS^T Q */
}

/* ---- 5. Linear ------------------------------------------------------------------- */

size_t tcf_linear_backward_scratch(int M, int N) { return (size_t)M * N; }

void tcf_linear_backward(int M, int N, int K, const float *dy, int lddy, const float *x, int ldx,
                         const float *W, float *dx, int lddx, int accumulate_dx, float *dW,
                         float *db, float *scratch, int n_threads) {
    if (dx) tcf_gemm(M, K, N, dy, lddy, W, K, dx, lddx, NULL, accumulate_dx, n_threads);
    if (dW) {
        float *dyt = scratch; /* (N, M) */
        transpose(dyt, dy, M, N, lddy, 1.0f);
        tcf_gemm(N, K, M, dyt, M, x, ldx, dW, K, NULL, 1, n_threads);
    }
    if (db)
        for (int m = 0; m < M; m++)
            for (int n = 0; n < N; n++) db[n] += dy[(int64_t)m * lddy + n];
}

/* ---- 6. LoRA linear ---------------------------------------------------------------- */

size_t tcf_lora_forward_scratch(int N, int K, int r) { return (size_t)r * ((size_t)K + N); }

void tcf_lora_forward(int M, int N, int K, int r, float s, const float *x, int ldx,
                      const float *x_drop, int ldxd, const float *Wp, const float *b,
                      const float *A, const float *B, float *y, int ldy, float *u, float *scratch,
                      int n_threads) {
    if (!x_drop) x_drop = x, ldxd = ldx;
    float *at = scratch;                  /* (K, r) = A^T */
    float *bt = at + (int64_t)K * r;      /* (r, N) = s * B^T */
    transpose(at, A, r, K, K, 1.0f);
    transpose(bt, B, N, r, r, s);
    if (Wp) tcf_gemm_packed(M, N, K, x, ldx, Wp, y, ldy, b, 0, n_threads);
    tcf_gemm(M, r, K, x_drop, ldxd, at, r, u, r, NULL, 0, n_threads);
    tcf_gemm(M, N, r, u, r, bt, N, y, ldy, NULL, 1, n_threads);
}

size_t tcf_lora_backward_scratch(int M, int N, int r) { return 3 * (size_t)M * r + (size_t)r * N; }

void tcf_lora_backward(int M, int N, int K, int r, float s, const float *dy, int lddy,
                       const float *x_drop, int ldxd, const float *u, const float *A,
                       const float *B, float *dA, float *dB, float *dxa, int lddxa, int accumulate,
                       float *scratch, int n_threads) {
    float *v = scratch;                 /* (M, r) = s * dy B */
    float *vt = v + (int64_t)M * r;     /* (r, M) = v^T */
    float *ust = vt + (int64_t)M * r;   /* (r, M) = s * u^T */
    float *dbt = ust + (int64_t)M * r;  /* (r, N) = s * u^T dy = dB^T increment */
    tcf_gemm(M, r, N, dy, lddy, B, r, v, r, NULL, 0, n_threads);
    for (int64_t i = 0; i < (int64_t)M * r; i++) v[i] *= s;
    if (dA) {
        transpose(vt, v, M, r, r, 1.0f);
        tcf_gemm(r, K, M, vt, M, x_drop, ldxd, dA, K, NULL, 1, n_threads);
    }
    if (dxa) tcf_gemm(M, K, r, v, r, A, K, dxa, lddxa, NULL, accumulate, n_threads);
    if (dB) {
        transpose(ust, u, M, r, r, s);
        tcf_gemm(r, N, M, ust, M, dy, lddy, dbt, N, NULL, 0, n_threads);
        for (int n = 0; n < N; n++)
            for (int j = 0; j < r; j++) dB[(int64_t)n * r + j] += dbt[(int64_t)j * N + n];
    }
}

/* ---- 7. Cross-entropy ------------------------------------------------------------ */

float tcf_cross_entropy(int rows, int n_classes, const float *logits, const int32_t *labels,
                        const float *class_w, float label_smoothing, float *dlogits) {
    const int n = n_classes;
    const double eps = label_smoothing;
    double wsum = 0, wall = 0; /* sum_i w[y_i]; sum_c w[c] */
    for (int c = 0; c < n; c++) wall += class_w ? class_w[c] : 1.0;
    for (int i = 0; i < rows; i++) {
        assert(labels[i] < n);
        if (labels[i] >= 0) wsum += class_w ? class_w[labels[i]] : 1.0;
    }
    const double inv = wsum > 0 ? 1.0 / wsum : 0.0;
    double loss = 0;
    for (int i = 0; i < rows; i++) {
        const float *z = logits + (int64_t)i * n;
        float *dz = dlogits ? dlogits + (int64_t)i * n : NULL;
        const int y = labels[i];
        if (y < 0) {
            if (dz) memset(dz, 0, sizeof(float) * n);
            continue;
        }
        double mx = z[0], se = 0;
        for (int c = 1; c < n; c++) mx = z[c] > mx ? z[c] : mx;
        for (int c = 0; c < n; c++) se += exp(z[c] - mx);
        const double lse = mx + log(se), wy = class_w ? class_w[y] : 1.0;
        double smooth = 0; /* sum_c w[c] * -logp[c] */
        for (int c = 0; c < n; c++) smooth += (class_w ? class_w[c] : 1.0) * (lse - z[c]);
        loss += (1 - eps) * wy * (lse - z[y]) + eps / n * smooth;
        if (dz)
            for (int c = 0; c < n; c++) {
                double p = exp(z[c] - lse), wc = class_w ? class_w[c] : 1.0;
                double g = (1 - eps) * wy * (p - (c == y)) + eps / n * (p * wall - wc);
                dz[c] = (float)(g * inv);
            }
    }
    return (float)(loss * inv);
}

/* ---- 8. Pooling, tanh ------------------------------------------------------------- */

void tcf_mean_pool_backward(int B, int T, int C, const uint8_t *mask, const float *dpooled,
                            float *dhidden, int accumulate) {
    for (int b = 0; b < B; b++) {
        int cnt = 0;
        for (int t = 0; t < T; t++) cnt += mask[(int64_t)b * T + t] != 0;
        const float inv = 1.0f / (float)(cnt > 0 ? cnt : 1);
        const float *dp = dpooled + (int64_t)b * C;
        for (int t = 0; t < T; t++) {
            float *dh = dhidden + ((int64_t)b * T + t) * C;
            if (!mask[(int64_t)b * T + t]) {
                if (!accumulate) memset(dh, 0, sizeof(float) * C);
                continue;
            }
            for (int i = 0; i < C; i++) dh[i] = (accumulate ? dh[i] : 0.0f) + dp[i] * inv;
        }
    }
}

void tcf_cls_pool_backward(int B, int T, int C, const float *dpooled, float *dhidden,
                           int accumulate) {
    for (int b = 0; b < B; b++) {
        float *dh = dhidden + (int64_t)b * T * C;
        const float *dp = dpooled + (int64_t)b * C;
        if (!accumulate) memset(dh, 0, sizeof(float) * (size_t)T * C);
        for (int i = 0; i < C; i++) dh[i] += dp[i];
    }
}

void tcf_tanh_forward(float *y, const float *x, int64_t n) {
    for (int64_t i = 0; i < n; i++) y[i] = tanhf(x[i]);
}

void tcf_tanh_backward(float *dx, const float *dy, const float *y, int64_t n) {
    for (int64_t i = 0; i < n; i++) dx[i] = dy[i] * (1.0f - y[i] * y[i]);
}

/* ---- 9. Dropout --------------------------------------------------------------------- */

/* splitmix64's output function (Steele, Lea, Flood 2014). */
static inline uint64_t mix64(uint64_t z) {
    z += 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* The mask hash is mix64(mix64(mix64(seed) ^ step) ^ index); the first two
 * rounds depend only on (seed, step), so a tensor's loop hashes once per
 * element. Kept iff (h >> 40) * 2^-24 >= p, compared exactly as (h >> 40) >=
 * p * 2^24 (both sides exact in f32). */
static inline uint64_t mask_base(uint64_t seed, uint64_t step) { return mix64(mix64(seed) ^ step); }
static inline int keep_at(uint64_t base, uint64_t index, float thr) {
    return (float)(mix64(base ^ index) >> 40) >= thr;
}

uint64_t tcf_dropout_site_seed(uint64_t seed, uint64_t site) { return mix64(seed + 0x9E3779B97F4A7C15ull * site); }

int tcf_dropout_keep(uint64_t seed, uint64_t step, uint64_t index, float p) {
    return keep_at(mask_base(seed, step), index, p * 16777216.0f);
}

static float keep_scale(float p) { return p >= 1.0f ? 0.0f : 1.0f / (1.0f - p); }

/* The 512-bit form of the masked loops (AVX-512F + DQ for the 64-bit
 * multiplies): the same hash per element and the same test, as integers
 * ((h >> 40) is an integer below 2^24, so (float)(h >> 40) >= thr iff
 * h >> 40 >= ceil(thr)); y = keep ? x * sc : 0, or y += that (acc). */
__attribute__((target("avx512f,avx512dq"))) static inline __m512i mix64_x8(__m512i z) {
    z = _mm512_add_epi64(z, _mm512_set1_epi64((long long)0x9E3779B97F4A7C15ull));
    z = _mm512_mullo_epi64(_mm512_xor_si512(z, _mm512_srli_epi64(z, 30)),
                           _mm512_set1_epi64((long long)0xBF58476D1CE4E5B9ull));
    z = _mm512_mullo_epi64(_mm512_xor_si512(z, _mm512_srli_epi64(z, 27)),
                           _mm512_set1_epi64((long long)0x94D049BB133111EBull));
    return _mm512_xor_si512(z, _mm512_srli_epi64(z, 31));
}

__attribute__((target("avx512f,avx512dq"))) static void drop_avx512(float *y, const float *x, int64_t n, float sc,
                                                                   float thr, uint64_t base, uint64_t offset,
                                                                   int acc) {
    const __m512i vb = _mm512_set1_epi64((long long)base), step8 = _mm512_set1_epi64(8);
    const __m512i vt = _mm512_set1_epi64((long long)ceilf(thr));
    const __m512 vs = _mm512_set1_ps(sc);
    __m512i idx = _mm512_add_epi64(_mm512_set1_epi64((long long)offset), _mm512_setr_epi64(0, 1, 2, 3, 4, 5, 6, 7));
    for (int64_t i = 0; i < n; i += 16) {
        const __mmask16 live = n - i >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (n - i)) - 1);
        __m512i h0 = _mm512_srli_epi64(mix64_x8(_mm512_xor_si512(vb, idx)), 40);
        idx = _mm512_add_epi64(idx, step8);
        __m512i h1 = _mm512_srli_epi64(mix64_x8(_mm512_xor_si512(vb, idx)), 40);
        idx = _mm512_add_epi64(idx, step8);
        const __mmask16 keep =
            (__mmask16)(_mm512_cmpge_epu64_mask(h0, vt) | ((unsigned)_mm512_cmpge_epu64_mask(h1, vt) << 8)) & live;
        __m512 v = _mm512_maskz_mul_ps(keep, _mm512_maskz_loadu_ps(live, x + i), vs);
        if (acc) v = _mm512_add_ps(_mm512_maskz_loadu_ps(live, y + i), v);
        _mm512_mask_storeu_ps(y + i, live, v);
    }
}

void tcf_dropout_forward(float *y, const float *x, int64_t n, float p, uint64_t seed,
                         uint64_t step, uint64_t offset) {
    if (p <= 0) {
        if (y != x) memmove(y, x, sizeof(float) * (size_t)n);
        return;
    }
    const float sc = keep_scale(p), thr = p * 16777216.0f;
    const uint64_t base = mask_base(seed, step);
    if (tcf_kern_avx512dq()) {
        drop_avx512(y, x, n, sc, thr, base, offset, 0);
        return;
    }
    for (int64_t i = 0; i < n; i++) y[i] = keep_at(base, offset + (uint64_t)i, thr) ? x[i] * sc : 0.0f;
}

void tcf_dropout_backward(float *dx, const float *dy, int64_t n, float p, uint64_t seed,
                          uint64_t step, uint64_t offset, int accumulate) {
    const float sc = keep_scale(p), thr = p * 16777216.0f;
    const uint64_t base = mask_base(seed, step);
    if (p > 0 && tcf_kern_avx512dq()) {
        drop_avx512(dx, dy, n, sc, thr, base, offset, accumulate);
        return;
    }
    for (int64_t i = 0; i < n; i++) {
        float g = dy[i];
        if (p > 0) g = keep_at(base, offset + (uint64_t)i, thr) ? g * sc : 0.0f;
        dx[i] = accumulate ? dx[i] + g : g;
    }
}
