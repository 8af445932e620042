/*
 * matmul.c — out = x @ w^T + b, the one dense product of the encoder.
 *
 * The reference is a triple loop in double-free f32 order (k innermost). The
 * AVX2+FMA variant computes 4x4 blocks of out as 16 dot products of length K
 * with 8-wide FMAs, then reduces horizontally; a different summation order
 * from the reference, so the two agree to rounding, not bit for bit.
 * Work is split over blocks of N (weight rows), so each thread streams its own
 * slice of w once per 4 rows of x while that slice stays in L2.
 */
#include "kern/kern.h"
#include "base/base.h"

#include <immintrin.h>
#include <math.h>
#include <string.h>

static int force_scalar;

void tcf_kern_force_scalar(int on) { force_scalar = on; }

static int have_avx2(void) {
    static int cached = -1;
    if (cached < 0) {
        __builtin_cpu_init();
        cached = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    }
    return cached;
}

const char *tcf_kern_isa(void) { return (!force_scalar && have_avx2()) ? "avx2" : "scalar"; }

void tcf_matmul_ref(float *out, const float *x, const float *w, const float *b, int M, int N,
                    int K) {
    for (int m = 0; m < M; m++)
        for (int n = 0; n < N; n++) {
            float acc = b ? b[n] : 0.0f;
            for (int k = 0; k < K; k++) acc += x[(int64_t)m * K + k] * w[(int64_t)n * K + k];
            out[(int64_t)m * N + n] = acc;
        }
}

typedef struct {
    float *out;
    const float *x, *w, *b;
    int M, N, K;
} mm_args;

#define NB 64 /* weight rows per task */

__attribute__((target("avx2,fma"))) static inline float hsum256(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

/* Dot products of rows x[m0..m0+mr) with w[n0..n0+nr), mr, nr <= 4. */
__attribute__((target("avx2,fma"))) static void block_avx2(const mm_args *a, int m0, int mr,
                                                           int n0, int nr) {
    const int K = a->K, K8 = K & ~7;
    __m256 acc[4][4];
    const float *xr[4], *wr[4];
    for (int i = 0; i < 4; i++) {
        xr[i] = a->x + (int64_t)(m0 + (i < mr ? i : 0)) * K;
        wr[i] = a->w + (int64_t)(n0 + (i < nr ? i : 0)) * K;
        for (int j = 0; j < 4; j++) acc[i][j] = _mm256_setzero_ps();
    }
    for (int k = 0; k < K8; k += 8) {
        __m256 w0 = _mm256_loadu_ps(wr[0] + k), w1 = _mm256_loadu_ps(wr[1] + k);
        __m256 w2 = _mm256_loadu_ps(wr[2] + k), w3 = _mm256_loadu_ps(wr[3] + k);
        for (int i = 0; i < 4; i++) {
            __m256 xv = _mm256_loadu_ps(xr[i] + k);
            acc[i][0] = _mm256_fmadd_ps(xv, w0, acc[i][0]);
            acc[i][1] = _mm256_fmadd_ps(xv, w1, acc[i][1]);
            acc[i][2] = _mm256_fmadd_ps(xv, w2, acc[i][2]);
            acc[i][3] = _mm256_fmadd_ps(xv, w3, acc[i][3]);
        }
    }
    for (int i = 0; i < mr; i++)
        for (int j = 0; j < nr; j++) {
            float s = hsum256(acc[i][j]);
            for (int k = K8; k < K; k++) s += xr[i][k] * wr[j][k];
            if (a->b) s += a->b[n0 + j];
            a->out[(int64_t)(m0 + i) * a->N + n0 + j] = s;
        }
}

static void mm_task_avx2(void *ctx, int64_t begin, int64_t end, int tid) {
    const mm_args *a = ctx;
    for (int64_t blk = begin; blk < end; blk++) {
        int n_lo = (int)blk * NB, n_hi = n_lo + NB < a->N ? n_lo + NB : a->N;
        for (int m = 0; m < a->M; m += 4) {
            int mr = a->M - m < 4 ? a->M - m : 4;
            for (int n = n_lo; n < n_hi; n += 4) block_avx2(a, m, mr, n, n_hi - n < 4 ? n_hi - n : 4);
        }
    }
}

static void mm_task_ref(void *ctx, int64_t begin, int64_t end, int tid) {
    const mm_args *a = ctx;
    int n_lo = (int)begin * NB, n_hi = (int)end * NB < a->N ? (int)end * NB : a->N;
    for (int m = 0; m < a->M; m++)
        for (int n = n_lo; n < n_hi; n++) {
            float acc = a->b ? a->b[n] : 0.0f;
            for (int k = 0; k < a->K; k++)
                acc += a->x[(int64_t)m * a->K + k] * a->w[(int64_t)n * a->K + k];
            a->out[(int64_t)m * a->N + n] = acc;
        }
}

void tcf_matmul(float *out, const float *x, const float *w, const float *b, int M, int N, int K,
                int n_threads) {
    mm_args a = {out, x, w, b, M, N, K};
    int64_t blocks = (N + NB - 1) / NB;
    /* Small products are not worth waking the pool for. */
    if ((int64_t)M * N * K < (1 << 16)) n_threads = 1;
    tcf_parallel_for(blocks, n_threads, tcf_kern_isa()[0] == 'a' ? mm_task_avx2 : mm_task_ref, &a);
}

/* ---- row-wise ops ------------------------------------------------------- */

void tcf_layernorm(float *y, const float *x, const float *g, const float *b, int64_t rows, int C,
                   float eps) {
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

void tcf_gelu(float *y, const float *x, int64_t n) {
    for (int64_t i = 0; i < n; i++) y[i] = 0.5f * x[i] * (1.0f + erff(x[i] * (float)M_SQRT1_2));
}
