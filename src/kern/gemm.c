/*
 * gemm.c — C (M, N) = A (M, K) @ B (K, N) [+ bias (N)] [+ C], f32, row-major
 * with leading dimensions.
 *
 * One kernel serves every dense product: the forward x @ W^T reads W^T packed
 * at load time (tcf_gemm_pack_b); the input gradient dY @ W reads an
 * nn.Linear weight (N, K) as a plain row-major B; activations products
 * (attention) use plain B too.
 *
 * Packed B: N is cut into panels of 16 columns; panel p holds rows k = 0..K-1
 * of its 16 columns contiguously (K x 16 floats, zero-padded past N), so the
 * kernel streams it with unit stride.
 *
 * AVX2+FMA micro-kernel: a 6x16 register tile (12 accumulators); per k one
 * broadcast of each of 6 rows of A and two 8-wide loads of B. Where the CPU
 * has AVX-512F, a 12x32 tile (two panels, 24 zmm accumulators) computes the
 * same bits (tcf_kern_isa "avx512").
 * Blocking (Goto-style, no packing of A): work is a grid of tasks, each
 * MC rows x PG panels; inside a task K is walked in blocks of KC so the
 * KC x 16 panel slice stays in L1 across the task's row tiles, and the MC x KC
 * block of A stays in L2 across its panels. Tasks are claimed dynamically by
 * the pool's threads; every output element is computed by one fixed sequence
 * of operations whichever thread runs it, so results do not depend on the
 * thread count.
 * Numerics: the reference sums k in order; the SIMD path sums each K block in
 * order (one FMA chain per element) and then adds the blocks, so the two
 * differ only by rounding.
 */
#include "kern/kern.h"
#include "base/base.h"

#include <immintrin.h>
#include <string.h>

#define NR 16  /* panel width (columns) */
#define MR 6   /* register tile rows */
#define KC 256 /* K block */
#define MC 96  /* rows per task (multiple of MR) */
#define PG 4   /* panels per task */

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

size_t tcf_gemm_packed_size(int K, int N) { return (size_t)((N + NR - 1) / NR) * NR * (size_t)K; }

void tcf_gemm_pack_b(int K, int N, const float *B, int ldb, int transposed, float *Bp) {
    int panels = (N + NR - 1) / NR;
    for (int p = 0; p < panels; p++)
        for (int k = 0; k < K; k++) {
            float *dst = Bp + ((int64_t)p * K + k) * NR;
            for (int j = 0; j < NR; j++) {
                int n = p * NR + j;
                /* transposed: B is given as (N, K) with leading dimension ldb */
                dst[j] = n >= N ? 0.0f
                         : transposed ? B[(int64_t)n * ldb + k]
                                      : B[(int64_t)k * ldb + n];
            }
        }
}

void tcf_gemm_unpack_b(int K, int N, const float *Bp, float *B, int ldb) {
    for (int k = 0; k < K; k++)
        for (int n = 0; n < N; n++) B[(int64_t)k * ldb + n] = Bp[((int64_t)(n / NR) * K + k) * NR + n % NR];
}

typedef struct {
    int M, N, K, lda, ldc, accumulate;
    int64_t ldb;          /* stride between k rows of B */
    int64_t panel_stride; /* distance between the starts of two panels */
    int n_pg;             /* panel groups */
    const float *A, *B, *bias;
    float *C;
} gemm_args;

static const int32_t mask_table[16] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};

/* Tile rows m0..m0+R, panel p (nr valid columns), K range [k0, k0+kc);
 * `first` means this is the first K block: apply bias / accumulate flag. */
#define KERNEL(R)                                                                               \
    __attribute__((target("avx2,fma"))) static void kern_##R(const gemm_args *g, int m0, int p,  \
                                                             int nr, int k0, int kc, int first) { \
        __m256 c0[R], c1[R];                                                                    \
        _Pragma("GCC unroll 8") for (int i = 0; i < R; i++) c0[i] = c1[i] = _mm256_setzero_ps(); \
        const int64_t lda = g->lda, ldb = g->ldb;                                               \
        const float *a = g->A + (int64_t)m0 * lda + k0;                                         \
        const float *b = g->B + p * g->panel_stride + k0 * ldb;                                 \
        if (nr == NR) {                                                                         \
            for (int k = 0; k < kc; k++, b += ldb) {                                            \
                __m256 b0 = _mm256_loadu_ps(b), b1 = _mm256_loadu_ps(b + 8);                   \
                _Pragma("GCC unroll 8") for (int i = 0; i < R; i++) {                           \
                    __m256 av = _mm256_broadcast_ss(a + i * lda + k);                           \
                    c0[i] = _mm256_fmadd_ps(av, b0, c0[i]);                                     \
                    c1[i] = _mm256_fmadd_ps(av, b1, c1[i]);                                     \
                }                                                                               \
            }                                                                                   \
        } else {                                                                                \
            __m256i mk0 = _mm256_loadu_si256((const __m256i *)(mask_table + 8 - (nr < 8 ? nr : 8))); \
            __m256i mk1 = _mm256_loadu_si256(                                                   \
                (const __m256i *)(mask_table + 8 - (nr > 8 ? nr - 8 : 0)));                     \
            for (int k = 0; k < kc; k++, b += ldb) {                                            \
                __m256 b0 = _mm256_maskload_ps(b, mk0), b1 = _mm256_maskload_ps(b + 8, mk1);   \
                _Pragma("GCC unroll 8") for (int i = 0; i < R; i++) {                           \
                    __m256 av = _mm256_broadcast_ss(a + i * lda + k);                           \
                    c0[i] = _mm256_fmadd_ps(av, b0, c0[i]);                                     \
                    c1[i] = _mm256_fmadd_ps(av, b1, c1[i]);                                     \
                }                                                                               \
            }                                                                                   \
        }                                                                                       \
        const int n0 = p * NR;                                                                  \
        if (nr == NR) {                                                                         \
            __m256 bb0 = _mm256_setzero_ps(), bb1 = _mm256_setzero_ps();                        \
            if (first && g->bias) {                                                             \
                bb0 = _mm256_loadu_ps(g->bias + n0);                                            \
                bb1 = _mm256_loadu_ps(g->bias + n0 + 8);                                        \
            }                                                                                   \
            const int add_c = !first || g->accumulate;                                          \
            _Pragma("GCC unroll 8") for (int i = 0; i < R; i++) {                               \
                float *c = g->C + (int64_t)(m0 + i) * g->ldc + n0;                              \
                __m256 v0 = _mm256_add_ps(c0[i], bb0), v1 = _mm256_add_ps(c1[i], bb1);          \
                if (add_c) {                                                                    \
                    v0 = _mm256_add_ps(_mm256_loadu_ps(c), v0);                                 \
                    v1 = _mm256_add_ps(_mm256_loadu_ps(c + 8), v1);                             \
                }                                                                               \
                _mm256_storeu_ps(c, v0);                                                        \
                _mm256_storeu_ps(c + 8, v1);                                                    \
            }                                                                                   \
            return;                                                                             \
        }                                                                                       \
        float tmp[R][NR];                                                                       \
        _Pragma("GCC unroll 8") for (int i = 0; i < R; i++) {                                   \
            _mm256_storeu_ps(tmp[i], c0[i]);                                                    \
            _mm256_storeu_ps(tmp[i] + 8, c1[i]);                                                \
        }                                                                                       \
        for (int i = 0; i < R; i++) {                                                           \
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

/* AVX-512F micro-kernel: R rows (up to 12) x two panels (32 columns) per
 * tile, 24 accumulators; one 16-wide load of each panel and one broadcast
 * per row per k. Each output element is the same FMA chain over its K
 * block, then the same adds of bias and C, as the AVX2 kernel: the two give
 * the same bits. `two` = the tile covers panels p and p + 1; tails of N are
 * masked (plain B is not padded past N). */
#define MR512 12
#define KERNEL512(R)                                                                            \
    __attribute__((target("avx512f"))) static void k512_##R(const gemm_args *g, int m0, int p, int two, \
                                                           int k0, int kc, int first) {         \
        __m512 c0[R], c1[R];                                                                    \
        _Pragma("GCC unroll 12") for (int i = 0; i < R; i++) c0[i] = c1[i] = _mm512_setzero_ps(); \
        const int64_t lda = g->lda, ldb = g->ldb, ps = g->panel_stride;                         \
        const int n0 = p * NR, rest = g->N - n0;                                                \
        const int nr0 = rest < NR ? rest : NR, nr1 = !two ? 0 : rest - NR < NR ? rest - NR : NR; \
        const __mmask16 m0k = (__mmask16)((1u << nr0) - 1), m1k = (__mmask16)((1u << nr1) - 1);  \
        const float *a = g->A + (int64_t)m0 * lda + k0;                                         \
        const float *b = g->B + p * ps + k0 * ldb;                                              \
        if (nr1 > 0) { /* two panels; the second masked past N (m1k all ones when full) */  \
            for (int k = 0; k < kc; k++, b += ldb) {                                            \
                __m512 b0 = _mm512_loadu_ps(b), b1 = _mm512_maskz_loadu_ps(m1k, b + ps);        \
                _Pragma("GCC unroll 12") for (int i = 0; i < R; i++) {                          \
                    __m512 av = _mm512_set1_ps(a[i * lda + k]);                                 \
                    c0[i] = _mm512_fmadd_ps(av, b0, c0[i]);                                     \
                    c1[i] = _mm512_fmadd_ps(av, b1, c1[i]);                                     \
                }                                                                               \
            }                                                                                   \
        } else {                                                                                \
            for (int k = 0; k < kc; k++, b += ldb) {                                            \
                __m512 b0 = _mm512_maskz_loadu_ps(m0k, b);                                      \
                _Pragma("GCC unroll 12") for (int i = 0; i < R; i++)                            \
                    c0[i] = _mm512_fmadd_ps(_mm512_set1_ps(a[i * lda + k]), b0, c0[i]);         \
            }                                                                                   \
        }                                                                                       \
        const int add_c = !first || g->accumulate, use_bias = first && g->bias;                 \
        const __m512 bb0 = use_bias ? _mm512_maskz_loadu_ps(m0k, g->bias + n0) : _mm512_setzero_ps(); \
        const __m512 bb1 = use_bias && nr1 ? _mm512_maskz_loadu_ps(m1k, g->bias + n0 + NR)      \
                                           : _mm512_setzero_ps();                               \
        _Pragma("GCC unroll 12") for (int i = 0; i < R; i++) {                                  \
            float *c = g->C + (int64_t)(m0 + i) * g->ldc + n0;                                  \
            __m512 v0 = _mm512_add_ps(c0[i], bb0);                                              \
            if (add_c) v0 = _mm512_add_ps(_mm512_maskz_loadu_ps(m0k, c), v0);                   \
            _mm512_mask_storeu_ps(c, m0k, v0);                                                  \
            if (nr1) {                                                                          \
                __m512 v1 = _mm512_add_ps(c1[i], bb1);                                          \
                if (add_c) v1 = _mm512_add_ps(_mm512_maskz_loadu_ps(m1k, c + NR), v1);          \
                _mm512_mask_storeu_ps(c + NR, m1k, v1);                                         \
            }                                                                                   \
        }                                                                                       \
    }
KERNEL512(1)
KERNEL512(2)
KERNEL512(3)
KERNEL512(4)
KERNEL512(5)
KERNEL512(6)
KERNEL512(7)
KERNEL512(8)
KERNEL512(9)
KERNEL512(10)
KERNEL512(11)
KERNEL512(12)

typedef void (*k512_fn)(const gemm_args *, int, int, int, int, int, int);
static const k512_fn k512[MR512 + 1] = {NULL,    k512_1, k512_2, k512_3,  k512_4,  k512_5, k512_6,
                                        k512_7, k512_8, k512_9, k512_10, k512_11, k512_12};

/* The AVX2 task's grid and K blocking, panels taken two at a time. */
static void gemm_task_avx512(void *ctx, int64_t begin, int64_t end, int tid) {
    const gemm_args *g = ctx;
    const int panels = (g->N + NR - 1) / NR;
    for (int64_t t = begin; t < end; t++) {
        int m_lo = (int)(t / g->n_pg) * MC, m_hi = m_lo + MC < g->M ? m_lo + MC : g->M;
        int p_lo = (int)(t % g->n_pg) * PG, p_hi = p_lo + PG < panels ? p_lo + PG : panels;
        for (int k0 = 0; k0 < g->K || k0 == 0; k0 += KC) {
            int kc = g->K - k0 < KC ? g->K - k0 : KC, first = k0 == 0;
            for (int p = p_lo; p < p_hi; p += 2) {
                const int two = p + 1 < p_hi;
                for (int m = m_lo; m < m_hi; m += MR512) {
                    const int rows = m_hi - m < MR512 ? m_hi - m : MR512;
                    k512[rows](g, m, p, two, k0, kc, first);
                }
            }
        }
    }
}

static void gemm_task_avx2(void *ctx, int64_t begin, int64_t end, int tid) {
    const gemm_args *g = ctx;
    const int panels = (g->N + NR - 1) / NR;
    for (int64_t t = begin; t < end; t++) {
        int m_lo = (int)(t / g->n_pg) * MC, m_hi = m_lo + MC < g->M ? m_lo + MC : g->M;
        int p_lo = (int)(t % g->n_pg) * PG, p_hi = p_lo + PG < panels ? p_lo + PG : panels;
        for (int k0 = 0; k0 < g->K || k0 == 0; k0 += KC) {
            int kc = g->K - k0 < KC ? g->K - k0 : KC, first = k0 == 0;
            for (int p = p_lo; p < p_hi; p++) {
                int nr = g->N - p * NR < NR ? g->N - p * NR : NR;
                int m = m_lo;
                for (; m + MR <= m_hi; m += MR) kern_6(g, m, p, nr, k0, kc, first);
                switch (m_hi - m) {
                case 5: kern_5(g, m, p, nr, k0, kc, first); break;
                case 4: kern_4(g, m, p, nr, k0, kc, first); break;
                case 3: kern_3(g, m, p, nr, k0, kc, first); break;
                case 2: kern_2(g, m, p, nr, k0, kc, first); break;
                case 1: kern_1(g, m, p, nr, k0, kc, first); break;
                default: break;
                }
            }
        }
    }
}

/* Scalar fallback: one task = same grid cell, computed with the reference. */
static void gemm_task_ref(void *ctx, int64_t begin, int64_t end, int tid) {
    const gemm_args *g = ctx;
    const int panels = (g->N + NR - 1) / NR;
    for (int64_t t = begin; t < end; t++) {
        int m_lo = (int)(t / g->n_pg) * MC, m_hi = m_lo + MC < g->M ? m_lo + MC : g->M;
        int p_lo = (int)(t % g->n_pg) * PG, p_hi = p_lo + PG < panels ? p_lo + PG : panels;
        for (int m = m_lo; m < m_hi; m++)
            for (int p = p_lo; p < p_hi; p++)
                for (int j = 0; j < NR && p * NR + j < g->N; j++) {
                    int n = p * NR + j;
                    const float *b = g->B + p * g->panel_stride + j;
                    float acc = 0.0f;
                    for (int k = 0; k < g->K; k++) acc += g->A[(int64_t)m * g->lda + k] * b[k * g->ldb];
                    if (g->bias) acc += g->bias[n];
                    float *c = &g->C[(int64_t)m * g->ldc + n];
                    *c = g->accumulate ? *c + acc : acc;
                }
    }
}

static void run(gemm_args *g, int n_threads) {
    if (g->M <= 0 || g->N <= 0) return;
    const int panels = (g->N + NR - 1) / NR;
    g->n_pg = (panels + PG - 1) / PG;
    int64_t tasks = (int64_t)((g->M + MC - 1) / MC) * g->n_pg;
    /* Small products are not worth waking the pool for. */
    if ((int64_t)g->M * g->N * g->K < (1 << 15)) n_threads = 1;
    const char *isa = tcf_kern_isa();
    tcf_parallel_for_dyn(tasks, 1, n_threads,
                         isa[3] == '5' ? gemm_task_avx512 : isa[0] == 'a' ? gemm_task_avx2 : gemm_task_ref, g);
}

void tcf_gemm(int M, int N, int K, const float *A, int lda, const float *B, int ldb, float *C,
              int ldc, const float *bias, int accumulate, int n_threads) {
    gemm_args g = {M, N, K, lda, ldc, accumulate, ldb, NR, 0, A, B, bias, C};
    run(&g, n_threads);
}

void tcf_gemm_packed(int M, int N, int K, const float *A, int lda, const float *Bp, float *C,
                     int ldc, const float *bias, int accumulate, int n_threads) {
    gemm_args g = {M, N, K, lda, ldc, accumulate, NR, (int64_t)K * NR, 0, A, Bp, bias, C};
    run(&g, n_threads);
}
