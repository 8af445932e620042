/*
 * test_i8gemm.c — per-row int8 weights (kern/i8gemm.h):
 *   - the dispatched product (AVX-512 VNNI or AVX2 when the CPU has it; where
 *     VNNI is taken, AVX2 is run too) gives exactly the
 *     scalar reference's bits, for M = 1..70 rows (every remainder of the
 *     4-row blocks), K 96..1536, with bias, accumulate and a wider
 *     leading dimension, and the same bits on 1 and 2 threads;
 *   - the AVX2 input quantizer equals the reference (ties included);
 *   - against the f32 product the error stays within the worst case the
 *     roundings allow, Σ_k |x_k| e_w + |w_k| e_x + e_w e_x with e = scale/2
 *     (checked per element; printed: the largest error relative to it and
 *     to max |y|);
 *   - decoded weights are within half a step of the originals, a zero row
 *     decodes to zeros, and K % 32 != 0, K > TCF_I8_MAX_K or a NaN weight is
 *     refused.
 */
#include "check.h"
#include "kern/i8gemm.h"
#include "kern/kern.h"

#include <stdint.h>
#include <string.h>

static uint64_t rng = 0x2545F4914F6CDD1Dull;
static float urand(void) { /* [-1, 1) */
    rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
    return (float)((double)(rng >> 11) / (double)(1ull << 52) - 1.0);
}

static void fill(float *x, int64_t n, float scale) {
    for (int64_t i = 0; i < n; i++) x[i] = scale * urand();
}

static void case_mk(int M, int N, int K, int ldx, int with_bias, int accumulate) {
    float *X = malloc(sizeof(float) * (size_t)M * ldx), *Wf = malloc(sizeof(float) * (size_t)N * K);
    float *bias = malloc(sizeof(float) * (size_t)N), *Y0 = malloc(sizeof(float) * (size_t)M * N),
          *Y1 = malloc(sizeof(float) * (size_t)M * N), *Y2 = malloc(sizeof(float) * (size_t)M * N);
    fill(X, (int64_t)M * ldx, 2.0f);
    fill(Wf, (int64_t)N * K, 0.1f);
    fill(bias, N, 0.5f);
    /* outliers and a zero row, as real activations and weights have */
    X[3 % K] = 40.0f;
    if (N > 2) memset(Wf + (int64_t)2 * K, 0, sizeof(float) * (size_t)K);
    tcf_i8mat W;
    CHECK(tcf_i8mat_quantize(&W, N, K, Wf, K) == TCF_OK, "quantize: %s", tcf_last_error());
    void *work = malloc(tcf_i8gemm_work_size(M, K));
    fill(Y0, (int64_t)M * N, 1.0f);
    memcpy(Y1, Y0, sizeof(float) * (size_t)M * N);
    memcpy(Y2, Y0, sizeof(float) * (size_t)M * N);
    float *Yinit = malloc(sizeof(float) * (size_t)M * N);
    memcpy(Yinit, Y0, sizeof(float) * (size_t)M * N);
    const float *b = with_bias ? bias : NULL;
    tcf_i8gemm_ref(M, X, ldx, &W, b, Y0, N, accumulate, work);
    tcf_i8gemm(M, X, ldx, &W, b, Y1, N, accumulate, work, 2);
    tcf_i8gemm(M, X, ldx, &W, b, Y2, N, accumulate, work, 1);
    char what[96];
    snprintf(what, sizeof what, "M=%d N=%d K=%d ldx=%d bias=%d acc=%d", M, N, K, ldx, with_bias, accumulate);
    CHECK(!memcmp(Y0, Y1, sizeof(float) * (size_t)M * N), "%s: %s product differs from the reference", what,
          tcf_kern_isa());
    CHECK(!memcmp(Y1, Y2, sizeof(float) * (size_t)M * N), "%s: 1 and 2 threads differ", what);
    if (!strcmp(tcf_kern_isa(), "avx512")) { /* the AVX2 kernel too, where VNNI took the dispatch */
        memcpy(Y2, Yinit, sizeof(float) * (size_t)M * N);
        tcf_kern_force_avx2(1);
        tcf_i8gemm(M, X, ldx, &W, b, Y2, N, accumulate, work, 2);
        tcf_kern_force_avx2(0);
        CHECK(!memcmp(Y0, Y2, sizeof(float) * (size_t)M * N), "%s: avx2 product differs from the reference", what);
    }
    free(Yinit);
    /* against f32, within the worst case of the roundings */
    int8_t *xq = malloc((size_t)M * K);
    float *xs = malloc(sizeof(float) * (size_t)M);
    tcf_i8_quantize_rows_ref(X, ldx, M, K, xq, xs);
    double worst = 0, ymax = 0, emax = 0;
    for (int m = 0; m < M; m++)
        for (int n = 0; n < N; n++) {
            double y = 0, bound = 0;
            const double ew = W.scale[n] / 2;
            for (int k = 0; k < K; k++) {
                const double x = X[(int64_t)m * ldx + k], w = Wf[(int64_t)n * K + k];
                const double ex = xs[m] / 2;
                y += x * w;
                bound += fabs(x) * ew + fabs(w) * ex + ew * ex;
            }
            if (accumulate) continue; /* accumulate is covered by the bit comparison above */
            const double got = Y0[(int64_t)m * N + n];
            const double e = fabs(got - (y + (with_bias ? bias[n] : 0)));
            const double lim = bound * (1 + 1e-5) + 1e-5 * (fabs(y) + 1);
            if (lim > 0 && e / lim > worst) worst = e / lim;
            if (e > emax) emax = e;
            if (fabs(y) > ymax) ymax = fabs(y);
        }
    if (!accumulate) {
        printf("  %-44s max |err| %.3g (%.3g of max |y|), worst err / bound %.3f\n", what, emax,
               emax / (ymax > 0 ? ymax : 1), worst);
        CHECK(worst <= 1.0, "%s: error above the rounding bound (%.3f of it)", what, worst);
    }
    free(xq), free(xs);
    tcf_i8mat_free(&W);
    free(work), free(X), free(Wf), free(bias), free(Y0), free(Y1), free(Y2);
}

static void test_quantizer(void) {
    const int M = 5, K = 160;
    float X[5 * 160];
    fill(X, M * K, 3.0f);
    /* exact ties: amax 127 gives scale 1, so k + 0.5 rounds away from zero */
    X[0] = 127.0f;
    for (int k = 1; k < 32; k++) X[k] = (float)(k % 7) - 3.5f;
    X[160] = 0.0f; /* a row of zeros */
    memset(X + 160, 0, sizeof(float) * 160);
    int8_t q0[5 * 160], q1[5 * 160];
    float s0[5], s1[5];
    tcf_i8_quantize_rows_ref(X, K, M, K, q0, s0);
    tcf_i8_quantize_rows(X, K, M, K, q1, s1);
    CHECK(!memcmp(q0, q1, sizeof q0) && !memcmp(s0, s1, sizeof s0), "AVX2 input quantizer differs from the reference");
    CHECK(q0[1] == (int8_t)-3 && q0[2] == (int8_t)-2 && q0[4] == 1 && s0[0] == 1.0f,
          "ties: %d %d %d (scale %g)", q0[1], q0[2], q0[4], (double)s0[0]);
    int zeros = 1;
    for (int k = 0; k < K; k++) zeros &= q0[K + k] == 0;
    CHECK(zeros && s0[1] == 0.0f, "a zero row must quantize to zeros with scale 0");
}

static void test_weights(void) {
    const int N = 4, K = 64;
    float w[4 * 64], d[4 * 64];
    fill(w, N * K, 0.3f);
    memset(w + K, 0, sizeof(float) * K);
    tcf_i8mat W;
    CHECK(tcf_i8mat_quantize(&W, N, K, w, K) == TCF_OK, "quantize: %s", tcf_last_error());
    tcf_i8mat_dequant_rows(&W, 0, N, d);
    double worst = 0;
    for (int n = 0; n < N; n++)
        for (int k = 0; k < K; k++) {
            double e = fabs(d[n * K + k] - w[n * K + k]), lim = W.scale[n] / 2 * (1 + 1e-6);
            if (n == 1) CHECK(d[n * K + k] == 0.0f, "zero row decodes to %g", (double)d[n * K + k]);
            else if (e / lim > worst) worst = e / lim;
        }
    printf("  decoded weights: worst |w - decoded| / (scale/2) = %.3f\n", worst);
    CHECK(worst <= 1.0, "decoded weights off by %.3f half-steps", worst);
    CHECK(tcf_i8mat_bytes(&W) == (size_t)N * (K + 8), "bytes %zu (codes + scale + code sum per row)", tcf_i8mat_bytes(&W));
    tcf_i8mat_free(&W);
    tcf_i8mat_free(NULL);
    CHECK(tcf_i8mat_quantize(&W, N, 48, w, 48) == TCF_ERR_ARG && strstr(tcf_last_error(), "multiple of 32"),
          "K=48: %s", tcf_last_error());
    {
        const int big = TCF_I8_MAX_K + 32;
        float *wb = calloc((size_t)big, sizeof(float));
        CHECK(wb && tcf_i8mat_quantize(&W, 1, big, wb, big) == TCF_ERR_ARG && strstr(tcf_last_error(), "at most"),
              "K=%d: %s", big, tcf_last_error());
        free(wb);
    }
    w[2 * K + 5] = NAN;
    CHECK(tcf_i8mat_quantize(&W, N, K, w, K) == TCF_ERR_ARG && strstr(tcf_last_error(), "row 2"),
          "NaN: %s", tcf_last_error());
}

int main(void) {
    printf("kernel ISA: %s\n", tcf_kern_isa());
    test_quantizer();
    test_weights();
    const int Ms[] = {1, 2, 3, 4, 7, 16, 70};
    for (size_t i = 0; i < sizeof Ms / sizeof *Ms; i++) {
        case_mk(Ms[i], 37, 384, 384, 1, 0);
        case_mk(Ms[i], 20, 160, 170, 0, 0);
    }
    case_mk(9, 33, 1536, 1536, 1, 1);
    case_mk(5, 16, 96, 100, 1, 1);
    return check_summary("test_i8gemm");
}
