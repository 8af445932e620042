/*
 * fuzz_qgemm.c — libFuzzer target for quantized weights taken from outside
 * bytes (tcf_qmat_view / tcf_qmat_view_nf4, as a GGUF or bitsandbytes tensor
 * would arrive) and a differential check of the kernels on them.
 *
 * Input: byte 0 picks the type (Q8_0, Q4_0, Q4_1, NF4, NF4 double-quant,
 * Q4_K),
 * byte 1 N (1..9), byte 2 K in blocks (1..9), byte 3 M (1..7); the rest is
 * the weight bytes (NF4: codes, then the absmax floats or u8 codes, absmax2,
 * offset), passed with their real length so short inputs exercise the size
 * checks. When the view is accepted, every AVX2 result must equal (decoder:
 * same bits; products: within rounding of the scale sum |x||w|) the scalar
 * reference, or the target aborts. Non-finite weights skip the product checks
 * (inf - inf orders differ), never the decoder's.
 *
 *   make fuzz && mkdir -p fuzz/corpus-qgemm
 *   build-fuzz/fuzz_qgemm -max_total_time=300 -max_len=4096 fuzz/corpus-qgemm/
 */
#include "kern/kern.h"
#include "kern/qgemm.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int same(float a, float b) {
    uint32_t x, y;
    memcpy(&x, &a, 4);
    memcpy(&y, &b, 4);
    return x == y || (a != a && b != b);
}

/* |a - b| within rounding of the magnitudes s of the sums that made them */
static void close_or_abort(const float *a, const float *b, const double *s, int n) {
    for (int i = 0; i < n; i++)
        if (!(fabs((double)a[i] - b[i]) <= 1e-4 * s[i] + 1e-30)) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 4) return 0;
    const int kind = data[0] % 6, N = 1 + data[1] % 9, M = 1 + data[3] % 7;
    const tcf_qtype type = kind == 5 ? TCF_QTYPE_Q4_K : kind >= 3 ? TCF_QTYPE_NF4 : (tcf_qtype)kind;
    const int K = (1 + data[2] % 9) * tcf_qtype_block(type);
    data += 4;
    size -= 4;
    tcf_qmat W;
    float *stats = NULL; /* NF4 statistics, copied: they may be unaligned in the input */
    uint8_t *qa = NULL;
    if (type != TCF_QTYPE_NF4) {
        if (tcf_qmat_view(&W, type, N, K, data, size, "fuzz") != TCF_OK) return 0;
    } else {
        const size_t codes = (size_t)N * K / 2, nb = (size_t)N * K / 64, nb2 = (nb + 255) / 256;
        const size_t need = kind == 3 ? codes + 4 * nb : codes + nb + 4 * nb2 + 4;
        if (size < need) return 0;
        stats = malloc(4 * (nb + nb2 + 1));
        qa = malloc(nb);
        tcf_status st;
        if (kind == 3) {
            memcpy(stats, data + codes, 4 * nb);
            st = tcf_qmat_view_nf4(&W, N, K, data, stats, NULL, NULL, NULL, 0, "fuzz");
        } else {
            memcpy(qa, data + codes, nb);
            memcpy(stats, data + codes + nb, 4 * nb2 + 4);
            st = tcf_qmat_view_nf4(&W, N, K, data, NULL, qa, stats, NULL, stats[nb2], "fuzz");
        }
        if (st != TCF_OK) abort(); /* the sizes are right by construction */
    }
    const int64_t NK = (int64_t)N * K;
    float *w0 = malloc(NK * 4), *w1 = malloc(NK * 4);
    tcf_qmat_dequant_rows_ref(&W, 0, N, w0);
    tcf_qmat_dequant_rows(&W, 0, N, w1);
    int finite = 1;
    for (int64_t i = 0; i < NK; i++) {
        if (!same(w0[i], w1[i])) abort();
        finite &= isfinite(w0[i]) && fabsf(w0[i]) < 1e15f;
    }
    if (finite) {
        float *x = malloc((size_t)M * K * 4), *dy = malloc((size_t)M * N * 4);
        float *y0 = malloc((size_t)M * N * 4), *y1 = malloc((size_t)M * N * 4);
        float *d0 = malloc((size_t)M * K * 4), *d1 = malloc((size_t)M * K * 4);
        double *s = malloc(sizeof(double) * (size_t)M * (N > K ? N : K));
        for (int i = 0; i < M * K; i++) x[i] = (float)((i * 37) % 19) / 9.0f - 1.0f;
        for (int i = 0; i < M * N; i++) dy[i] = (float)((i * 11) % 13) / 6.0f - 1.0f;
        for (int m = 0; m < M; m++)
            for (int n = 0; n < N; n++) {
                double t = 1;
                for (int k = 0; k < K; k++) t += fabs((double)x[m * K + k] * w0[(int64_t)n * K + k]);
                s[m * N + n] = t;
            }
        tcf_qgemm_ref(M, x, K, &W, NULL, y0, N, 0);
        tcf_qgemm(M, x, K, &W, NULL, y1, N, 0, 1);
        close_or_abort(y1, y0, s, M * N);
        if (tcf_qgemm_q8_supported(type)) {
            uint8_t *ws = malloc(tcf_qgemm_q8_work_size(M, K)), *ws2 = malloc(tcf_qgemm_q8_work_size(M, K));
            tcf_qgemm_q8_ref(M, x, K, &W, NULL, y0, N, 0, ws);
            tcf_qgemm_q8(M, x, K, &W, NULL, y1, N, 0, ws2, 1);
            if (memcmp(ws, ws2, tcf_qgemm_q8_work_size(M, K))) abort();
            close_or_abort(y1, y0, s, M * N);
            free(ws), free(ws2);
        }
        for (int m = 0; m < M; m++)
            for (int k = 0; k < K; k++) {
                double t = 1;
                for (int n = 0; n < N; n++) t += fabs((double)dy[m * N + n] * w0[(int64_t)n * K + k]);
                s[m * K + k] = t;
            }
        tcf_qgemm_bwd_ref(M, dy, N, &W, d0, K, 0);
        tcf_qgemm_bwd(M, dy, N, &W, d1, K, 0, 1);
        close_or_abort(d1, d0, s, M * K);
        free(x), free(dy), free(y0), free(y1), free(d0), free(d1), free(s);
    }
    free(w0), free(w1), free(stats), free(qa);
    tcf_qmat_free(&W);
    return 0;
}
