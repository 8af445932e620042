/*
 * gemm.c — C (M, N) = A (M, K) @ B (K, N) [+ bias (N)] [+ C], all row-major
 * with leading dimensions, f32.
 *
 * One kernel serves every dense product of forward and backward passes: the
 * forward x @ W^T uses W^T stored (K, N) at load time; the input gradient
 * dY @ W reads an nn.Linear weight (N, K) as it is.
 *
 * AVX2+FMA: a 6x16 register tile (12 accumulators), per k one broadcast of
 * each of 6 rows of A and two 8-wide loads of B; columns past a multiple of 16
 * use masked loads/stores. Threads split N into 16-column panels, so each
 * thread keeps its panel of B hot while it walks all rows of A; K is split in
 * blocks of 256 so the panel fits L1. The reference sums k in order; the SIMD
 * path sums each block in order (one FMA chain per element) and then adds the
 * blocks, so the two differ only by rounding.
 */
#include "kern/kern.h"
#include "base/base.h"

#include <immintrin.h>
#include <string.h>

void tcf_gemm_ref(int M, int N, int K, const float *A, int lda, const float *B, int ldb, float *C,
                  int ldc, const float *bias, int accumulate) {
    for (int m = 0; m < M; m++)
        for (int n = 0; n < N; n++) {
            float acc = 0.0f;
            for (int k = 0; k < K; k++) acc += A[(int64_t)m * lda + k] * B[(int64_t)k * ldb + n];
            if (bias) acc += bias[n];
            float *c = &C[(int64_t)m * ldc + n];
            *c = accumulate ? *c + acc : acc;
        }
}

typedef struct {
    int M, N, K, lda, ldb, ldc, accumulate;
    const float *A, *B, *bias;
    float *C;
} gemm_args;

static const int32_t mask_table[16] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};

/* Rows m0..m0+MR, columns n0..n0+nr (nr <= 16). */
#define KERNEL(MR)                                                                              \
    __attribute__((target("avx2,fma"))) static void kern_##MR(const gemm_args *g, int m0, int n0, \
                                                               int nr, int k0, int K, int first) { \
        __m256 c0[MR], c1[MR];                                                                  \
        _Pragma("GCC unroll 8") for (int i = 0; i < MR; i++) c0[i] = c1[i] = _mm256_setzero_ps(); \
        const int64_t lda = g->lda, ldb = g->ldb;                                               \
        const float *a = g->A + (int64_t)m0 * lda + k0, *b = g->B + k0 * ldb + n0;             \
        if (nr == 16) {                                                                         \
            for (int k = 0; k < K; k++, b += ldb) {                                       \
                __m256 b0 = _mm256_loadu_ps(b), b1 = _mm256_loadu_ps(b + 8);                   \
                _Pragma("GCC unroll 8") for (int i = 0; i < MR; i++) {                          \
                    __m256 av = _mm256_broadcast_ss(a + i * lda + k);               \
                    c0[i] = _mm256_fmadd_ps(av, b0, c0[i]);                                     \
                    c1[i] = _mm256_fmadd_ps(av, b1, c1[i]);                                     \
                }                                                                               \
            }                                                                                   \
        } else {                                                                                \
            __m256i m0v = _mm256_loadu_si256((const __m256i *)(mask_table + 8 - (nr < 8 ? nr : 8))); \
            __m256i m1v = _mm256_loadu_si256(                                                   \
                (const __m256i *)(mask_table + 8 - (nr > 8 ? nr - 8 : 0)));                     \
            for (int k = 0; k < K; k++, b += ldb) {                                       \
                __m256 b0 = _mm256_maskload_ps(b, m0v), b1 = _mm256_maskload_ps(b + 8, m1v);   \
                _Pragma("GCC unroll 8") for (int i = 0; i < MR; i++) {                          \
                    __m256 av = _mm256_broadcast_ss(a + i * lda + k);               \
                    c0[i] = _mm256_fmadd_ps(av, b0, c0[i]);                                     \
                    c1[i] = _mm256_fmadd_ps(av, b1, c1[i]);                                     \
                }                                                                               \
            }                                                                                   \
        }                                                                                       \
        float tmp[MR][16];                                                                      \
        _Pragma("GCC unroll 8") for (int i = 0; i < MR; i++) {                                  \
            _mm256_storeu_ps(tmp[i], c0[i]);                                                    \
            _mm256_storeu_ps(tmp[i] + 8, c1[i]);                                                \
        }                                                                                       \
        for (int i = 0; i < MR; i++) {                                                          \
            float *c = g->C + (int64_t)(m0 + i) * g->ldc + n0;                                  \
            for (int j = 0; j < nr; j++) {                                                      \
                float v = tmp[i][j];                                                            \
                if (!first) c[j] += v;                                                          \
                else {                                                                          \
                    if (g->bias) v += g->bias[n0 + j];                                          \
                    c[j] = g->accumulate ? c[j] + v : v;                                        \
                }                                                                               \
            }                                                                                   \
        }                                                                                       \
    }
KERNEL(1)
KERNEL(2)
KERNEL(3)
KERNEL(4)
KERNEL(5)
KERNEL(6)

/* K is walked in blocks of KC so that a 16-column panel of B (KC x 64 bytes)
 * stays in L1 across all rows of A. */
#define KC 256

static void gemm_task_avx2(void *ctx, int64_t begin, int64_t end, int tid) {
    const gemm_args *g = ctx;
    for (int64_t p = begin; p < end; p++) {
        int n0 = (int)p * 16, nr = g->N - n0 < 16 ? g->N - n0 : 16;
        for (int k0 = 0; k0 < g->K || k0 == 0; k0 += KC) {
            int kc = g->K - k0 < KC ? g->K - k0 : KC, first = k0 == 0;
            int m = 0;
            for (; m + 6 <= g->M; m += 6) kern_6(g, m, n0, nr, k0, kc, first);
            switch (g->M - m) {
            case 5: kern_5(g, m, n0, nr, k0, kc, first); break;
            case 4: kern_4(g, m, n0, nr, k0, kc, first); break;
            case 3: kern_3(g, m, n0, nr, k0, kc, first); break;
            case 2: kern_2(g, m, n0, nr, k0, kc, first); break;
            case 1: kern_1(g, m, n0, nr, k0, kc, first); break;
            default: break;
            }
        }
    }
}

static void gemm_task_ref(void *ctx, int64_t begin, int64_t end, int tid) {
    const gemm_args *g = ctx;
    int n0 = (int)begin * 16, n1 = (int)end * 16 < g->N ? (int)end * 16 : g->N;
    tcf_gemm_ref(g->M, n1 - n0, g->K, g->A, g->lda, g->B + n0, g->ldb, g->C + n0, g->ldc,
                 g->bias ? g->bias + n0 : NULL, g->accumulate);
}

void tcf_gemm(int M, int N, int K, const float *A, int lda, const float *B, int ldb, float *C,
              int ldc, const float *bias, int accumulate, int n_threads) {
    if (M <= 0 || N <= 0) return;
    gemm_args g = {M, N, K, lda, ldb, ldc, accumulate, A, B, bias, C};
    int64_t panels = (N + 15) / 16;
    if ((int64_t)M * N * K < (1 << 15)) n_threads = 1;
    tcf_parallel_for(panels, n_threads, tcf_kern_isa()[0] == 'a' ? gemm_task_avx2 : gemm_task_ref, &g);
}
