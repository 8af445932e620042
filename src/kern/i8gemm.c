/*
 * i8gemm.c — per-output-row int8 weights and their product (format and
 * contract in i8gemm.h).
 *
 * Cost per 32 multiply-adds of one (row of X, row of W) pair on AVX2:
 * _mm256_sign_epi8, _mm256_maddubs_epi16, _mm256_madd_epi16, _mm256_add_epi32
 * (|w| is formed once per W vector and shared by four rows of X); the sums
 * stay in int32 over the whole row and are converted once per output. The
 * Q8_0 integer path of qgemm.c spends a convert, a multiply and an FMA on
 * every block of 32 as well, which is what one scale per row saves. With
 * AVX-512 VNNI, vpdpbusd does 64 of them in one instruction (i8_task with g->xu). (A
 * first version had one activation scale per 64 inputs: 1.3x slower at
 * batch 1, and no more accurate on banking77, 92.66% vs 92.73%.)
 */
#include "kern/i8gemm.h"
#include "kern/kern.h"
#include "kern/simd_math.h"
#include "base/base.h"

#include <immintrin.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define I8M 64 /* rows of X per task */
#define I8N 16 /* rows of W per task */

typedef struct {
    int M, K, ldx, ldy, accumulate;
    const float *X, *bias;
    const tcf_i8mat *W;
    float *Y;
    int8_t *xq; /* (M, K); VNNI: the codes + 128 as bytes (x ^ 0x80) */
    float *xs;  /* (M) */
    int xu;     /* xq holds the unsigned form */
} ig_args;

/* ---- weights ------------------------------------------------------------- */

/* one row: scale = amax / 127, q = roundf(x * (1 / scale)) */
static float quantize_row(const float *x, int K, int8_t *q) {
    float amax = 0.0f;
    for (int k = 0; k < K; k++) amax = fmaxf(amax, fabsf(x[k]));
    const float d = amax / 127.0f, id = d != 0.0f ? 1.0f / d : 0.0f;
    for (int k = 0; k < K; k++) q[k] = (int8_t)roundf(x[k] * id);
    return d;
}

tcf_status tcf_i8mat_quantize(tcf_i8mat *W, int N, int K, const float *w, int64_t ldw) {
    memset(W, 0, sizeof *W);
    if (N <= 0 || K <= 0 || K % 32 || K > TCF_I8_MAX_K)
        return tcf_fail(TCF_ERR_ARG,
                        "int8 weights: shape (%d, %d): K must be a positive multiple of 32, at most %d", N, K,
                        TCF_I8_MAX_K);
    for (int n = 0; n < N; n++)
        for (int k = 0; k < K; k++)
            if (!isfinite(w[(int64_t)n * ldw + k]))
                return tcf_fail(TCF_ERR_ARG, "int8 weights: row %d holds a value that is not finite (%g at %d)", n,
                                (double)w[(int64_t)n * ldw + k], k);
    size_t bytes;
    if (!tcf_mul_ok((size_t)N, (size_t)K, &bytes)) return tcf_fail(TCF_ERR_NOMEM, "int8 weights: too large");
    float *scale = malloc((sizeof(float) + sizeof(int32_t)) * (size_t)N + bytes);
    if (!scale) return tcf_fail(TCF_ERR_NOMEM, "int8 weights: out of memory for %zu bytes", bytes);
    int32_t *wsum = (int32_t *)(scale + N);
    int8_t *q = (int8_t *)(wsum + N);
    tcf_i8_quantize_rows(w, (int)ldw, N, K, q, scale); /* the rounding of inputs: same rule, AVX2 when present */
    for (int n = 0; n < N; n++) {
        int32_t t = 0;
        for (int k = 0; k < K; k++) t += q[(int64_t)n * K + k];
        wsum[n] = t;
    }
    W->N = N, W->K = K, W->q = q, W->scale = scale, W->wsum = wsum, W->owned = scale;
    return TCF_OK;
}

void tcf_i8mat_free(tcf_i8mat *W) {
    if (!W) return;
    free(W->owned);
    memset(W, 0, sizeof *W);
}

size_t tcf_i8mat_bytes(const tcf_i8mat *W) { return (size_t)W->N * ((size_t)W->K + sizeof(float) + sizeof(int32_t)); }

void tcf_i8mat_dequant_rows(const tcf_i8mat *W, int n0, int rows, float *dst) {
    for (int r = 0; r < rows; r++) {
        const int8_t *q = W->q + (int64_t)(n0 + r) * W->K;
        const float s = W->scale[n0 + r];
        for (int k = 0; k < W->K; k++) dst[(int64_t)r * W->K + k] = s * (float)q[k];
    }
}

/* ---- inputs -------------------------------------------------------------- */

void tcf_i8_quantize_rows_ref(const float *X, int ldx, int M, int K, int8_t *q, float *scale) {
    for (int m = 0; m < M; m++) scale[m] = quantize_row(X + (int64_t)m * ldx, K, q + (int64_t)m * K);
}

size_t tcf_i8gemm_work_size(int M, int K) {
    return M <= 0 ? 0 : (size_t)M * sizeof(float) + (size_t)M * (size_t)K;
}

static void setup(ig_args *g, int M, const float *X, int ldx, const tcf_i8mat *W, const float *bias, float *Y,
                  int ldy, int accumulate, void *work) {
    *g = (ig_args){M, W->K, ldx, ldy, accumulate, X, bias, W, Y, NULL, NULL, 0};
    g->xs = work;
    g->xq = (int8_t *)(g->xs + M);
}

/* ---- scalar reference ---------------------------------------------------- */

/* y = ((float)Σ_k qx qw * scale_x) * scale_w [+ bias] [+ y]: the integer sum
 * is exact, so the order of the products does not matter. */
static void store(const ig_args *g, int m, int n, int32_t s) {
    float v = (float)s * g->xs[m] * g->W->scale[n];
    if (g->bias) v += g->bias[n];
    float *y = g->Y + (int64_t)m * g->ldy + n;
    *y = g->accumulate ? *y + v : v;
}

void tcf_i8gemm_ref(int M, const float *X, int ldx, const tcf_i8mat *W, const float *bias, float *Y, int ldy,
                    int accumulate, void *work) {
    if (M <= 0 || W->N <= 0) return;
    ig_args g;
    setup(&g, M, X, ldx, W, bias, Y, ldy, accumulate, work);
    tcf_i8_quantize_rows_ref(X, ldx, M, W->K, g.xq, g.xs);
    const int K = W->K;
    for (int n = 0; n < W->N; n++)
        for (int m = 0; m < M; m++) {
            const int8_t *xq = g.xq + (int64_t)m * K, *wq = W->q + (int64_t)n * K;
            int32_t s = 0;
            for (int k = 0; k < K; k++) s += (int32_t)xq[k] * (int32_t)wq[k];
            store(&g, m, n, s);
        }
}

/* ---- AVX2 ------------------------------------------------------------------ */

#define TGT __attribute__((target("avx2,fma")))

/* store() compiled as VEX code: calling SSE code from the kernel costs an
 * AVX-SSE transition per output on Zen 3 (40% of the time, measured) */
TGT static inline void store_avx(const ig_args *g, int m, int n, int32_t s) {
    float v = (float)s * g->xs[m] * g->W->scale[n];
    if (g->bias) v += g->bias[n];
    float *y = g->Y + (int64_t)m * g->ldy + n;
    *y = g->accumulate ? *y + v : v;
}

TGT static inline int32_t hsum_epi32(__m256i v) {
    __m128i h = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    h = _mm_add_epi32(h, _mm_shuffle_epi32(h, _MM_SHUFFLE(1, 0, 3, 2)));
    h = _mm_add_epi32(h, _mm_shuffle_epi32(h, _MM_SHUFFLE(2, 3, 0, 1)));
    return _mm_cvtsi128_si32(h);
}

static int use_avx2(void) { return tcf_kern_isa()[0] == 'a'; }

/* rows [m_lo, m_hi) of X to codes and scales (as the reference) */
TGT static void quant_rows_avx2(const float *X, int ldx, int m_lo, int m_hi, int K, int8_t *q, float *scale) {
    const __m256 sign = _mm256_set1_ps(-0.0f);
    const __m256i perm = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
    for (int m = m_lo; m < m_hi; m++) {
        const float *x = X + (int64_t)m * ldx;
        __m256 mx = _mm256_setzero_ps();
        for (int k = 0; k < K; k += 8) mx = _mm256_max_ps(mx, _mm256_andnot_ps(sign, _mm256_loadu_ps(x + k)));
        __m128 h = _mm_max_ps(_mm256_castps256_ps128(mx), _mm256_extractf128_ps(mx, 1));
        h = _mm_max_ps(h, _mm_movehl_ps(h, h));
        h = _mm_max_ss(h, _mm_movehdup_ps(h));
        const float amax = _mm_cvtss_f32(h), d = amax / 127.0f, id = d != 0.0f ? 1.0f / d : 0.0f;
        scale[m] = d;
        const __m256 vid = _mm256_set1_ps(id);
        int8_t *qr = q + (int64_t)m * K;
        for (int k = 0; k < K; k += 32) {
            __m256i i0 = _mm256_cvtps_epi32(round_away256(_mm256_mul_ps(_mm256_loadu_ps(x + k), vid)));
            __m256i i1 = _mm256_cvtps_epi32(round_away256(_mm256_mul_ps(_mm256_loadu_ps(x + k + 8), vid)));
            __m256i i2 = _mm256_cvtps_epi32(round_away256(_mm256_mul_ps(_mm256_loadu_ps(x + k + 16), vid)));
            __m256i i3 = _mm256_cvtps_epi32(round_away256(_mm256_mul_ps(_mm256_loadu_ps(x + k + 24), vid)));
            __m256i p = _mm256_packs_epi16(_mm256_packs_epi32(i0, i1), _mm256_packs_epi32(i2, i3));
            _mm256_storeu_si256((__m256i *)(qr + k), _mm256_permutevar8x32_epi32(p, perm));
        }
    }
}

void tcf_i8_quantize_rows(const float *X, int ldx, int M, int K, int8_t *q, float *scale) {
    if (use_avx2()) quant_rows_avx2(X, ldx, 0, M, K, q, scale);
    else tcf_i8_quantize_rows_ref(X, ldx, M, K, q, scale);
}

/* The loop of R rows of X (m ..) against W row n: int32 sums s[0..R) per
 * lane; R is a compile-time constant per instance so the accumulators stay
 * in registers. */
#define I8_LOOP(R)                                                                                      \
    const int K = g->K;                                                                                 \
    const int8_t *wr = g->W->q + (int64_t)n * K;                                                        \
    const int8_t *xr[R];                                                                                \
    __m256i s[R];                                                                                       \
    const __m256i ones = _mm256_set1_epi16(1);                                                          \
    _Pragma("GCC unroll 4") for (int i = 0; i < R; i++) {                                               \
        xr[i] = g->xq + (int64_t)(m + i) * K;                                                           \
        s[i] = _mm256_setzero_si256();                                                                  \
    }                                                                                                   \
    for (int c = 0; c < K; c += 32) {                                                                   \
        const __m256i w = _mm256_loadu_si256((const __m256i *)(wr + c));                                \
        const __m256i aw = _mm256_sign_epi8(w, w);                                                      \
        _Pragma("GCC unroll 4") for (int i = 0; i < R; i++) {                                           \
            const __m256i x = _mm256_loadu_si256((const __m256i *)(xr[i] + c));                         \
            const __m256i p = _mm256_maddubs_epi16(aw, _mm256_sign_epi8(x, w));                         \
            s[i] = _mm256_add_epi32(s[i], _mm256_madd_epi16(p, ones));                                  \
        }                                                                                               \
    }

#define I8_ROWS(R)                                                                                      \
    TGT static inline void rows_##R(const ig_args *g, int n, int m) {                                   \
        I8_LOOP(R)                                                                                      \
        _Pragma("GCC unroll 4") for (int i = 0; i < R; i++) store_avx(g, m + i, n, hsum_epi32(s[i]));  \
    }
I8_ROWS(1)
I8_ROWS(2)
I8_ROWS(3)

/* Four rows: the four sums reduced together and scaled as one vector (the
 * same f32 operations per lane as store()); a per-output epilogue cost as
 * much as the products at K = 384. */
/* outputs (m .. m+3, n) from the lane sums s[0..3] of four rows of X, less
 * off (the VNNI kernels' offset term; 0 for AVX2) */
TGT static inline void store_rows4(const ig_args *g, int n, int m, const __m256i *s, int32_t off) {
    const __m256i h = _mm256_hadd_epi32(_mm256_hadd_epi32(s[0], s[1]), _mm256_hadd_epi32(s[2], s[3]));
    const __m128i t = _mm_sub_epi32(_mm_add_epi32(_mm256_castsi256_si128(h), _mm256_extracti128_si256(h, 1)),
                                    _mm_set1_epi32(off));
    __m128 v = _mm_mul_ps(_mm_mul_ps(_mm_cvtepi32_ps(t), _mm_loadu_ps(g->xs + m)), _mm_set1_ps(g->W->scale[n]));
    if (g->bias) v = _mm_add_ps(v, _mm_set1_ps(g->bias[n]));
    float o[4];
    _mm_storeu_ps(o, v);
    float *y = g->Y + (int64_t)m * g->ldy + n;
    for (int i = 0; i < 4; i++) y[(int64_t)i * g->ldy] = g->accumulate ? y[(int64_t)i * g->ldy] + o[i] : o[i];
}

TGT static inline void rows_4(const ig_args *g, int n, int m) {
    I8_LOOP(4)
    store_rows4(g, n, m, s, 0);
}

/* ---- AVX-512 VNNI ------------------------------------------------------------
 * vpdpbusd adds four u8 x s8 products into each int32 lane: the codes of X
 * made unsigned (x + 128, stored so by quant_task) against the signed codes
 * of W, 64 products per instruction against 32 per four AVX2 instructions;
 * Σ x w = Σ (x + 128) w - 128 Σ w (wsum). The sums are the same exact
 * integers, and the f32 epilogue is the AVX2 one: the same bits. K % 64 = 32
 * ends with a 32-byte masked step. */
#define TGT512 __attribute__((target("avx512f,avx512bw,avx512vnni,avx2,fma")))

/* live bytes of the 64 from c on, K - c a multiple of 32 (<= 0: none) */
#define I8_LIVE(rem) ((rem) >= 64 ? ~(__mmask64)0 : (rem) >= 32 ? (__mmask64)0xFFFFFFFFu : (__mmask64)0)
/* two accumulators per row (even and odd 64-byte chunks) so that the
 * vpdpbusd chain of one row does not wait on its own latency; added at the
 * end (exact integers) */
#define I8_LOOP512(R)                                                                                   \
    const int K = g->K;                                                                                 \
    const int8_t *wr = g->W->q + (int64_t)n * K;                                                        \
    const int8_t *xr[R];                                                                                \
    __m512i s5[R], t5[R];                                                                               \
    const __m512i zero = _mm512_setzero_si512();                                                        \
    _Pragma("GCC unroll 4") for (int i = 0; i < R; i++) {                                               \
        xr[i] = g->xq + (int64_t)(m + i) * K;                                                           \
        s5[i] = t5[i] = zero;                                                                           \
    }                                                                                                   \
    for (int c = 0; c < K; c += 128) {                                                                  \
        const __mmask64 l0 = I8_LIVE(K - c), l1 = I8_LIVE(K - c - 64);                                  \
        const __m512i w0 = _mm512_maskz_loadu_epi8(l0, wr + c), w1 = _mm512_maskz_loadu_epi8(l1, wr + c + 64); \
        _Pragma("GCC unroll 4") for (int i = 0; i < R; i++) {                                           \
            s5[i] = _mm512_dpbusd_epi32(s5[i], _mm512_maskz_loadu_epi8(l0, xr[i] + c), w0);             \
            t5[i] = _mm512_dpbusd_epi32(t5[i], _mm512_maskz_loadu_epi8(l1, xr[i] + c + 64), w1);        \
        }                                                                                               \
    }                                                                                                   \
    __m256i s[R];                                                                                       \
    _Pragma("GCC unroll 4") for (int i = 0; i < R; i++) {                                               \
        const __m512i u = _mm512_add_epi32(s5[i], t5[i]);                                               \
        s[i] = _mm256_add_epi32(_mm512_castsi512_si256(u), _mm512_extracti64x4_epi64(u, 1));            \
    }                                                                                                   \
    const int32_t off = 128 * g->W->wsum[n]; /* Σ (x + 128) w - Σ x w */

#define I8_ROWS512(R)                                                                                   \
    TGT512 static inline void rows512_##R(const ig_args *g, int n, int m) {                             \
        I8_LOOP512(R)                                                                                   \
        _Pragma("GCC unroll 4") for (int i = 0; i < R; i++) store_avx(g, m + i, n, hsum_epi32(s[i]) - off); \
    }
I8_ROWS512(1)
I8_ROWS512(2)
I8_ROWS512(3)

TGT512 static inline void rows512_4(const ig_args *g, int n, int m) {
    I8_LOOP512(4)
    store_rows4(g, n, m, s, off);
}

/* Four rows of W at a time (n .. n+3) against R rows of X: the codes of X
 * made unsigned (x + 128, an XOR of the sign bit: [1, 255]) so that one
 * vpdpbusd per (X row, W row) pair does 64 products with no sign work, each
 * X vector shared by four W rows and each W vector by R X rows; then
 * Σ x w = Σ (x + 128) w - 128 Σ w (wsum, exact). Lanes past K are 0 in W,
 * so they add nothing. The epilogue: the f32 operations of store(). */
#define I8_BLK512(R)                                                                                    \
    TGT512 static void blk512_##R(const ig_args *g, int n, int m) {                                    \
        const int K = g->K;                                                                             \
        const int8_t *w0 = g->W->q + (int64_t)n * K;                                                    \
        __m512i acc[4][4];                                                                              \
        _Pragma("GCC unroll 4") for (int i = 0; i < 4; i++)                                             \
            _Pragma("GCC unroll 4") for (int j = 0; j < 4; j++) acc[i][j] = _mm512_setzero_si512();     \
        for (int c = 0; c < K; c += 64) {                                                               \
            const __mmask64 live = I8_LIVE(K - c);                                                      \
            __m512i w[4];                                                                               \
            _Pragma("GCC unroll 4") for (int j = 0; j < 4; j++) {                                       \
                w[j] = _mm512_maskz_loadu_epi8(live, w0 + (int64_t)j * K + c);                          \
                /* the next four rows of W, same offset (they come from memory at batch 1) */          \
                _mm_prefetch((const char *)(w0 + (int64_t)(j + 4) * K + c), _MM_HINT_T0);              \
            }                                                                                           \
            _Pragma("GCC unroll 4") for (int i = 0; i < R; i++) {                                       \
                const __m512i x = _mm512_maskz_loadu_epi8(live, g->xq + (int64_t)(m + i) * K + c);     \
                _Pragma("GCC unroll 4") for (int j = 0; j < 4; j++)                                     \
                    acc[i][j] = _mm512_dpbusd_epi32(acc[i][j], x, w[j]);                                \
            }                                                                                           \
        }                                                                                               \
        /* the 16 sums into one vector, lane 4 i + j = acc[i][j] (integer adds:          \
         * any order is exact): pairs within 128-bit lanes, then across them */                \
        __m512i v4[4];                                                                          \
        _Pragma("GCC unroll 4") for (int i = 0; i < 4; i++) {                                   \
            const __m512i t1 = _mm512_add_epi32(_mm512_unpacklo_epi32(acc[i][0], acc[i][1]),   \
                                                _mm512_unpackhi_epi32(acc[i][0], acc[i][1]));  \
            const __m512i t2 = _mm512_add_epi32(_mm512_unpacklo_epi32(acc[i][2], acc[i][3]),   \
                                                _mm512_unpackhi_epi32(acc[i][2], acc[i][3]));  \
            v4[i] = _mm512_add_epi32(_mm512_unpacklo_epi64(t1, t2), _mm512_unpackhi_epi64(t1, t2)); \
        }                                                                                       \
        const __m512i s01 = _mm512_add_epi32(_mm512_shuffle_i32x4(v4[0], v4[1], 0x88),          \
                                             _mm512_shuffle_i32x4(v4[0], v4[1], 0xDD));         \
        const __m512i s23 = _mm512_add_epi32(_mm512_shuffle_i32x4(v4[2], v4[3], 0x88),          \
                                             _mm512_shuffle_i32x4(v4[2], v4[3], 0xDD));         \
        __m512i tot = _mm512_add_epi32(_mm512_shuffle_i32x4(s01, s23, 0x88),                    \
                                       _mm512_shuffle_i32x4(s01, s23, 0xDD));                   \
        tot = _mm512_sub_epi32(tot, _mm512_slli_epi32(                                          \
                  _mm512_broadcast_i32x4(_mm_loadu_si128((const __m128i *)(g->W->wsum + n))), 7)); \
        float xs[4] = {0, 0, 0, 0};                                                             \
        for (int i = 0; i < R; i++) xs[i] = g->xs[m + i];                                       \
        const __m512 vxs = _mm512_permutexvar_ps(_mm512_setr_epi32(0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3), \
                                                 _mm512_castps128_ps512(_mm_loadu_ps(xs)));     \
        __m512 v = _mm512_mul_ps(_mm512_mul_ps(_mm512_cvtepi32_ps(tot), vxs),                   \
                                 _mm512_broadcast_f32x4(_mm_loadu_ps(g->W->scale + n)));        \
        if (g->bias) v = _mm512_add_ps(v, _mm512_broadcast_f32x4(_mm_loadu_ps(g->bias + n)));   \
        float o[16];                                                                            \
        _mm512_storeu_ps(o, v);                                                                 \
        for (int i = 0; i < R; i++) {                                                           \
            float *y = g->Y + (int64_t)(m + i) * g->ldy + n;                                    \
            __m128 vi = _mm_loadu_ps(o + 4 * i);                                                \
            if (g->accumulate) vi = _mm_add_ps(_mm_loadu_ps(y), vi);                            \
            _mm_storeu_ps(y, vi);                                                               \
        }                                                                                       \
    }
I8_BLK512(1)
I8_BLK512(2)
I8_BLK512(3)
I8_BLK512(4)

/* Rows m_lo .. m_hi of X against W row(s) n with kernel family KERN
 * (KERN##_4 on four rows at a time, then the 1-3 left) */
#define X_ROWS(KERN, n)                                                                                 \
    do {                                                                                                \
        int m = m_lo;                                                                                   \
        for (; m + 4 <= m_hi; m += 4) KERN##_4(g, n, m);                                                \
        switch (m_hi - m) {                                                                             \
        case 3: KERN##_3(g, n, m); break;                                                               \
        case 2: KERN##_2(g, n, m); break;                                                               \
        case 1: KERN##_1(g, n, m); break;                                                               \
        default: break;                                                                                 \
        }                                                                                               \
    } while (0)

/* One task: I8M rows of X x I8N rows of W. VNNI (g->xu): four rows of W at
 * a time, the last 1-3 one at a time; AVX2: one at a time. */
static void i8_task(void *ctx, int64_t begin, int64_t end, int tid) {
    const ig_args *g = ctx;
    const int n_tiles = (g->W->N + I8N - 1) / I8N;
    for (int64_t t = begin; t < end; t++) {
        const int m_lo = (int)(t / n_tiles) * I8M, m_hi = m_lo + I8M < g->M ? m_lo + I8M : g->M;
        const int n_lo = (int)(t % n_tiles) * I8N, n_hi = n_lo + I8N < g->W->N ? n_lo + I8N : g->W->N;
        int n = n_lo;
        if (g->xu) {
            for (; n + 4 <= n_hi; n += 4) X_ROWS(blk512, n);
            for (; n < n_hi; n++) X_ROWS(rows512, n);
        } else
            for (; n < n_hi; n++) X_ROWS(rows, n);
    }
}

/* q ^= 0x80 over n bytes (K % 32 == 0, so n is a multiple of 32) */
TGT static void flip_avx2(uint8_t *q, int64_t n) {
    const __m256i f = _mm256_set1_epi8((char)0x80);
    for (int64_t i = 0; i < n; i += 32)
        _mm256_storeu_si256((__m256i *)(q + i), _mm256_xor_si256(_mm256_loadu_si256((const __m256i *)(q + i)), f));
}

static void quant_task(void *ctx, int64_t begin, int64_t end, int tid) {
    const ig_args *g = ctx;
    quant_rows_avx2(g->X, g->ldx, (int)begin, (int)end, g->K, g->xq, g->xs);
    if (g->xu) flip_avx2((uint8_t *)g->xq + begin * g->K, (end - begin) * g->K); /* VNNI: x + 128 */
}

void tcf_i8gemm(int M, const float *X, int ldx, const tcf_i8mat *W, const float *bias, float *Y, int ldy,
                int accumulate, void *work, int n_threads) {
    if (M <= 0 || W->N <= 0) return;
    if (!use_avx2()) {
        tcf_i8gemm_ref(M, X, ldx, W, bias, Y, ldy, accumulate, work);
        return;
    }
    ig_args g;
    setup(&g, M, X, ldx, W, bias, Y, ldy, accumulate, work);
    if (n_threads <= 0) n_threads = tcf_default_threads();
    /* small products run on the calling thread (as qgemm.c's threads_for) */
    if ((int64_t)M * W->N * W->K < (1 << 15)) n_threads = 1;
    g.xu = tcf_kern_avx512vnni();
    tcf_parallel_for(M, M >= 16 ? n_threads : 1, quant_task, &g);
    const int n_tiles = (W->N + I8N - 1) / I8N;
    tcf_parallel_for_dyn((int64_t)((M + I8M - 1) / I8M) * n_tiles, 1, n_threads, i8_task, &g);
}
