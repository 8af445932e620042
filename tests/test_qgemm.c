/*
 * test_qgemm.c — quantized weights and the products that decode them on the
 * fly (src/kern/qgemm.c).
 *
 * 1. Against the reference libraries (tests/fixtures/qgemm/, from
 *    tests/ref/gen_qgemm_fixtures.py): the NF4 and dynamic code tables of
 *    bitsandbytes 0.50.2; NF4 quantization (codes, absmax, double-quantized
 *    absmax) and dequantization of bitsandbytes' bytes; Y = matmul_4bit(X,
 *    W) + bias and its input gradient through torch autograd; the ggml
 *    quantizers against gguf-py's bytes; GGUF tensors (Q8_0, Q4_0, Q4_1,
 *    Q4_K) used in place (the
 *    fixture, and the real SmolLM2-135M Q4_1 file when fetched, else SKIP).
 * 2. The kernels on many shapes (M = 1, M past a task tile, K = 32 .. 4096,
 *    odd N) for every type (Q4_K with K rounded up to 256): the AVX2 decoder equals the scalar one bit for
 *    bit; tcf_qgemm equals decode + tcf_gemm_packed and tcf_qgemm_bwd equals
 *    decode + tcf_gemm bit for bit on the AVX2 path; the references agree
 *    with a double-precision product; the q8 path's AVX2 X quantizer gives the
 *    reference's bytes and its product agrees with its reference, and its
 *    error against the f32 product is printed and bounded; results are the
 *    same bits for 1 and 2 threads; the forced scalar paths equal the
 *    references exactly.
 * 3. Bad shapes and byte counts: status and the tensor name in the message.
 */
#include "base/base.h"
#include "check.h"
#include "kern/kern.h"
#include "kern/qgemm.h"

#include <math.h>
#include <string.h>

#define FIX "tests/fixtures/qgemm/"

static void *read_fix(const char *rel, size_t want) {
    char path[512], *d;
    size_t len;
    snprintf(path, sizeof path, FIX "%s", rel);
    if (tcf_read_file(path, &d, &len) || len != want) {
        fprintf(stderr, "fixture %s: %s (want %zu bytes, got %zu)\n", path, tcf_last_error(), want, len);
        check_fail++;
        return NULL;
    }
    return d;
}

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static float frand(void) { /* uniform [-1, 1) */
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (float)((int64_t)(rng_state >> 40) - (1 << 23)) / (float)(1 << 23);
}

static float *rand_mat(int64_t n, float scale) {
    float *a = malloc((size_t)n * sizeof(float));
    for (int64_t i = 0; i < n; i++) a[i] = frand() * scale;
    return a;
}

static int bits_equal(const float *a, const float *b, int64_t n) { return memcmp(a, b, (size_t)n * 4) == 0; }

/* ---- 1. reference libraries ------------------------------------------------ */

static void test_bnb(void) {
    enum { N = 36, K = 512, M = 5, NB = N * K / 64 };
    float *code = read_fix("nf4_code.f32", 64), *dyn = read_fix("dyn_code.f32", 1024);
    if (code && dyn) {
        CHECK(bits_equal(code, tcf_nf4_code, 16), "NF4 table differs from bitsandbytes'");
        CHECK(bits_equal(dyn, tcf_dynamic_code, 256), "dynamic map differs from bitsandbytes'");
        printf("  NF4 (16) and dynamic (256) code tables equal bitsandbytes' exactly\n");
    }
    float *w = read_fix("nf4_w.f32", N * K * 4), *absmax = read_fix("nf4_absmax.f32", NB * 4);
    uint8_t *q = read_fix("nf4_q.u8", N * K / 2), *qd = read_fix("nf4dq_q.u8", N * K / 2);
    uint8_t *qa = read_fix("nf4dq_qabsmax.u8", NB);
    float *a2 = read_fix("nf4dq_absmax2.f32", 8), *off = read_fix("nf4dq_offset.f32", 4);
    float *deq = read_fix("nf4_deq.f32", N * K * 4), *deqd = read_fix("nf4dq_deq.f32", N * K * 4);
    float *x = read_fix("x.f32", M * K * 4), *bias = read_fix("bias.f32", N * 4);
    float *y = read_fix("y.f32", M * N * 4), *dy = read_fix("dy.f32", M * N * 4), *dx = read_fix("dx.f32", M * K * 4);
    if (!(w && absmax && q && qd && qa && a2 && off && deq && deqd && x && bias && y && dy && dx)) return;
    float *out = malloc(N * K * 4), *out2 = malloc(N * K * 4);

    /* our quantizer: the same codes and absmax as quantize_4bit */
    tcf_qmat W;
    CHECK(tcf_qmat_quantize(&W, TCF_QTYPE_NF4, N, K, w, K, 0) == TCF_OK, "%s", tcf_last_error());
    int code_diff = 0;
    for (int i = 0; i < N * K / 2; i++) code_diff += W.data[i] != q[i];
    CHECK(code_diff == 0, "%d of %d NF4 code bytes differ from bitsandbytes'", code_diff, N * K / 2);
    CHECK(bits_equal(W.absmax, absmax, NB), "NF4 absmax differs from bitsandbytes'");
    printf("  NF4 quantize_4bit (36x512, blocks of 64): %d of %d code bytes differ, absmax %s\n", code_diff,
           N * K / 2, bits_equal(W.absmax, absmax, NB) ? "identical" : "DIFFERENT");
    tcf_qmat_dequant_rows_ref(&W, 0, N, out);
    check_close("NF4 dequant (ours) vs dequantize_4bit", out, deq, N * K, 0, 0);
    tcf_qmat_free(&W);

    /* double quantization: our quantizer against compress_statistics=True */
    CHECK(tcf_qmat_quantize(&W, TCF_QTYPE_NF4, N, K, w, K, 1) == TCF_OK, "%s", tcf_last_error());
    int qa_diff = 0;
    for (int i = 0; i < NB; i++) qa_diff += W.absmax_q[i] != qa[i];
    CHECK(memcmp(W.data, qd, N * K / 2) == 0, "double-quant NF4 codes differ");
    CHECK(qa_diff == 0, "%d of %d absmax codes differ from bitsandbytes'", qa_diff, NB);
    CHECK(W.offset == off[0], "offset %.9g vs %.9g", W.offset, off[0]);
    check_close("double-quant absmax2 (ours) vs bitsandbytes", W.absmax2, a2, 2, 0, 0);
    tcf_qmat_dequant_rows_ref(&W, 0, N, out);
    check_close("double-quant NF4 dequant (ours) vs bitsandbytes", out, deqd, N * K, 0, 0);
    tcf_qmat_free(&W);

    /* bitsandbytes' own bytes, viewed in place */
    CHECK(tcf_qmat_view_nf4(&W, N, K, qd, NULL, qa, a2, NULL, off[0], "bnb") == TCF_OK, "%s", tcf_last_error());
    tcf_qmat_dequant_rows_ref(&W, 0, N, out);
    tcf_qmat_dequant_rows(&W, 0, N, out2);
    check_close("NF4 dq view: dequant_ref vs dequantize_4bit", out, deqd, N * K, 0, 0);
    check_close("NF4 dq view: dequant (dispatched) vs dequantize_4bit", out2, deqd, N * K, 0, 0);
    CHECK(tcf_qmat_bytes(&W) == N * K / 2 + NB + 2 * 4 + 256 * 4 + 4, "bytes %zu", tcf_qmat_bytes(&W));

    float yo[M * N], dxo[M * K];
    tcf_qgemm(M, x, K, &W, bias, yo, N, 0, 2);
    check_close("tcf_qgemm (NF4 dq) vs bnb.matmul_4bit + bias", yo, y, M * N, 1e-5, 1e-5);
    tcf_qgemm_ref(M, x, K, &W, bias, yo, N, 0);
    check_close("tcf_qgemm_ref (NF4 dq) vs bnb.matmul_4bit + bias", yo, y, M * N, 1e-5, 1e-5);
    tcf_qgemm_bwd(M, dy, N, &W, dxo, K, 0, 2);
    check_close("tcf_qgemm_bwd (NF4 dq) vs torch autograd dX", dxo, dx, M * K, 1e-5, 1e-5);
    tcf_qgemm_bwd_ref(M, dy, N, &W, dxo, K, 0);
    check_close("tcf_qgemm_bwd_ref (NF4 dq) vs torch autograd dX", dxo, dx, M * K, 1e-5, 1e-5);
    tcf_qmat_free(&W);

    /* plain absmax view of bitsandbytes' bytes */
    CHECK(tcf_qmat_view_nf4(&W, N, K, q, absmax, NULL, NULL, NULL, 0, "bnb") == TCF_OK, "%s", tcf_last_error());
    tcf_qmat_dequant_rows(&W, 0, N, out2);
    check_close("NF4 view: dequant (dispatched) vs dequantize_4bit", out2, deq, N * K, 0, 0);
    free(out);
    free(out2);
    free(code), free(dyn), free(w), free(absmax), free(q), free(qd), free(qa), free(a2), free(off);
    free(deq), free(deqd), free(x), free(bias), free(y), free(dy), free(dx);
}

static void test_ggml_quantizers(void) {
    float *gw = read_fix("g_w.f32", 8 * 256 * 4);
    static const struct { tcf_qtype t; const char *file; size_t bytes; } qs[] = {
        {TCF_QTYPE_Q8_0, "g_q8_0.u8", 8 * 8 * 34},
        {TCF_QTYPE_Q4_0, "g_q4_0.u8", 8 * 8 * 18},
        {TCF_QTYPE_Q4_1, "g_q4_1.u8", 8 * 8 * 20},
    };
    for (int i = 0; i < 3 && gw; i++) {
        uint8_t *ref = read_fix(qs[i].file, qs[i].bytes);
        if (!ref) continue;
        tcf_qmat W;
        CHECK(tcf_qmat_quantize(&W, qs[i].t, 8, 256, gw, 256, 0) == TCF_OK, "%s", tcf_last_error());
        int diff = 0;
        for (size_t j = 0; j < qs[i].bytes; j++) diff += W.data[j] != ref[j];
        CHECK(diff == 0 && tcf_qmat_bytes(&W) == qs[i].bytes, "%s: %d bytes differ from gguf-py", qs[i].file, diff);
        printf("  %s quantizer vs gguf.quants.quantize (8x256): %d of %zu bytes differ\n", tcf_qtype_name(qs[i].t),
               diff, qs[i].bytes);
        tcf_qmat_free(&W);
        free(ref);
    }
    free(gw);
}

/* GGUF tensors used in place: decoding through the view equals the GGUF
 * reader's own dequantization (itself bit-exact vs gguf-py). */
static void test_gguf_view(void) {
    tcf_gguf *g = NULL;
    if (tcf_gguf_open("tests/fixtures/gguf/types.gguf", &g) != TCF_OK) {
        CHECK(0, "open types.gguf: %s", tcf_last_error());
        return;
    }
    const char *names[] = {"q8_0", "q4_0", "q4_1", "q4_k"};
    for (int i = 0; i < 4; i++) {
        const tcf_gguf_tensor *t = tcf_gguf_tensor_find(g, names[i]);
        tcf_qmat W;
        if (!t || tcf_qmat_from_gguf(&W, t) != TCF_OK) {
            CHECK(0, "%s: %s", names[i], tcf_last_error());
            continue;
        }
        CHECK(W.data == t->data && W.owned == NULL, "view must borrow the map");
        int64_t n = (int64_t)W.N * W.K;
        float *a = malloc(n * 4), *b = malloc(n * 4);
        tcf_gguf_dequantize(t, a, n);
        tcf_qmat_dequant_rows(&W, 0, W.N, b);
        char what[96];
        snprintf(what, sizeof what, "GGUF %s (%dx%d) in place vs tcf_gguf_dequantize", names[i], W.N, W.K);
        check_close(what, b, a, n, 0, 0);
        free(a), free(b);
    }
    const tcf_gguf_tensor *t = tcf_gguf_tensor_find(g, "q6_k");
    tcf_qmat W;
    CHECK(t && tcf_qmat_from_gguf(&W, t) == TCF_ERR_UNSUPPORTED && strstr(tcf_last_error(), "tensor 'q6_k'") &&
              strstr(tcf_last_error(), "Q6_K"),
          "q6_k: %s", tcf_last_error());
    tcf_gguf_free(g);
}

/* The real SmolLM2-135M Q4_1 file, mapped: its projections (Q4_1) and token
 * embedding (Q8_0) used in place; decoding equals the GGUF reader's, and the
 * product equals decode + tcf_gemm_packed (AVX2) bit for bit. */
static void test_smollm2(void) {
    const char *path = "models/SmolLM2-135M-Instruct/SmolLM2-135M-Instruct.Q4_1.gguf";
    if (!tcf_file_exists(path)) {
        printf("  SKIP SmolLM2 checks: %s absent (scripts/fetch_models.sh --all)\n", path);
        return;
    }
    tcf_gguf *g = NULL;
    if (tcf_gguf_open(path, &g) != TCF_OK) {
        CHECK(0, "open %s: %s", path, tcf_last_error());
        return;
    }
    const char *names[] = {"blk.0.attn_q.weight", "blk.0.attn_k.weight", "blk.0.ffn_down.weight",
                           "blk.29.ffn_up.weight", "token_embd.weight"};
    const int avx2 = tcf_kern_isa()[0] == 'a';
    for (int i = 0; i < 5; i++) {
        const tcf_gguf_tensor *t = tcf_gguf_tensor_find(g, names[i]);
        tcf_qmat W;
        if (!t || tcf_qmat_from_gguf(&W, t) != TCF_OK) {
            CHECK(0, "%s: %s", names[i], t ? tcf_last_error() : "missing");
            continue;
        }
        const int rows = W.N < 1536 ? W.N : 1536, M = 3; /* token_embd: its first 1536 rows */
        W.N = rows;
        float *a = malloc((size_t)rows * W.K * 4), *b = malloc((size_t)rows * W.K * 4);
        float *bp = malloc(tcf_gemm_packed_size(W.K, rows) * 4), *x = rand_mat((int64_t)M * W.K, 1.0f);
        float *y0 = malloc((size_t)M * rows * 4), *y1 = malloc((size_t)M * rows * 4);
        tcf_gguf_dequantize_rows(t, 0, rows, a);
        tcf_qmat_dequant_rows(&W, 0, rows, b);
        char what[128];
        snprintf(what, sizeof what, "SmolLM2 %s (%s %dx%d) in place", names[i], tcf_qtype_name(W.type), rows, W.K);
        check_close(what, b, a, (long)rows * W.K, 0, 0);
        tcf_gemm_pack_b(W.K, rows, a, W.K, 1, bp);
        tcf_gemm_packed(M, rows, W.K, x, W.K, bp, y0, rows, NULL, 0, 1);
        tcf_qgemm(M, x, W.K, &W, NULL, y1, rows, 0, 2);
        snprintf(what, sizeof what, "  its tcf_qgemm vs decode+gemm_packed%s", avx2 ? " (exact)" : "");
        check_close(what, y1, y0, (long)M * rows, avx2 ? 0 : 1e-4, avx2 ? 0 : 1e-4);
        free(a), free(b), free(bp), free(x), free(y0), free(y1);
    }
    tcf_gguf_free(g);
}

/* ---- 2. kernels ------------------------------------------------------------ */

/* Random weights with a zero block and a constant block when there is room. */
static float *rand_weights(int N, int K) {
    float *w = rand_mat((int64_t)N * K, 0.1f);
    if (K >= 128) {
        memset(w, 0, 64 * sizeof(float));
        for (int j = 64; j < 128; j++) w[j] = 0.03f;
    }
    return w;
}

static double max_abs(const float *a, int64_t n) {
    double m = 0;
    for (int64_t i = 0; i < n; i++) m = fmax(m, fabs((double)a[i]));
    return m;
}

/* Y64 (M, N) = X W^T + bias in double. */
static void truth_fwd(int M, int N, int K, const float *X, const float *Wd, const float *bias, float *Y) {
    for (int m = 0; m < M; m++)
        for (int n = 0; n < N; n++) {
            double s = bias ? bias[n] : 0;
            for (int k = 0; k < K; k++) s += (double)X[(int64_t)m * K + k] * Wd[(int64_t)n * K + k];
            Y[(int64_t)m * N + n] = (float)s;
        }
}

static void test_shape(tcf_qtype type, int M, int N, int K) {
    char what[128];
    const int avx2 = tcf_kern_isa()[0] == 'a';
    float *w = rand_weights(N, K), *X = rand_mat((int64_t)M * K, 1.0f), *bias = rand_mat(N, 0.5f);
    float *dY = rand_mat((int64_t)M * N, 1.0f);
    tcf_qmat W;
    if (tcf_qmat_quantize(&W, type, N, K, w, K, 0) != TCF_OK) {
        CHECK(0, "quantize: %s", tcf_last_error());
        return;
    }
    const int64_t MN = (int64_t)M * N, MK = (int64_t)M * K, NK = (int64_t)N * K;
    float *Wd = malloc(NK * 4), *Wd2 = malloc(NK * 4), *Bp = malloc(tcf_gemm_packed_size(K, N) * 4);
    float *Y0 = malloc(MN * 4), *Y1 = malloc(MN * 4), *Y2 = malloc(MN * 4), *Yt = malloc(MN * 4);
    float *D0 = malloc(MK * 4), *D1 = malloc(MK * 4), *D2 = malloc(MK * 4);
    const char *tn = tcf_qtype_name(type);

    tcf_qmat_dequant_rows_ref(&W, 0, N, Wd);
    tcf_qmat_dequant_rows(&W, 0, N, Wd2);
    CHECK(bits_equal(Wd, Wd2, NK), "%s %dx%d: AVX2 decoder differs from the scalar one", tn, N, K);

    /* forward: reference vs double truth, dispatched vs decode + packed gemm */
    truth_fwd(M, N, K, X, Wd, bias, Yt);
    const double scale = max_abs(Yt, MN) + 1;
    tcf_qgemm_ref(M, X, K, &W, bias, Y0, N, 0);
    snprintf(what, sizeof what, "%s fwd ref vs f64 (M=%d N=%d K=%d)", tn, M, N, K);
    check_close(what, Y0, Yt, MN, 1e-6 * scale * sqrt(K), 1e-5);
    tcf_gemm_pack_b(K, N, Wd, K, 1, Bp);
    tcf_gemm_packed(M, N, K, X, K, Bp, Y1, N, bias, 0, 1);
    tcf_qgemm(M, X, K, &W, bias, Y2, N, 0, 1);
    snprintf(what, sizeof what, "%s fwd vs decode+gemm_packed%s", tn, avx2 ? " (exact)" : "");
    check_close(what, Y2, avx2 ? Y1 : Y0, MN, 0, 0);
    /* accumulate into Y, no bias; 2 threads */
    memcpy(Y1, dY, MN * 4);
    memcpy(Y2, dY, MN * 4);
    tcf_gemm_packed(M, N, K, X, K, Bp, Y1, N, NULL, 1, 1);
    tcf_qgemm(M, X, K, &W, NULL, Y2, N, 1, 2);
    CHECK(avx2 ? bits_equal(Y1, Y2, MN) : 1, "%s M=%d N=%d K=%d: accumulate, 2 threads != gemm_packed", tn, M, N, K);
    memcpy(Y0, dY, MN * 4);
    tcf_qgemm(M, X, K, &W, NULL, Y0, N, 1, 1);
    CHECK(bits_equal(Y0, Y2, MN), "%s M=%d N=%d K=%d: fwd differs between 1 and 2 threads", tn, M, N, K);

    /* q8 path */
    if (tcf_qgemm_q8_supported(type)) {
        size_t ws = tcf_qgemm_q8_work_size(M, K);
        uint8_t *wa = malloc(ws), *wb = malloc(ws);
        tcf_q8_quantize_rows_ref(X, K, M, K, wa);
        tcf_q8_quantize_rows(X, K, M, K, wb);
        CHECK(memcmp(wa, wb, (size_t)M * (K / 32) * 34) == 0, "%s M=%d K=%d: AVX2 X quantizer bytes differ from the reference", tn, M, K);
        tcf_qgemm_q8_ref(M, X, K, &W, bias, Y0, N, 0, wa);
        tcf_qgemm_q8(M, X, K, &W, bias, Y1, N, 0, wb, 1);
        snprintf(what, sizeof what, "%s q8 fwd vs its ref (M=%d N=%d K=%d)", tn, M, N, K);
        check_close(what, Y1, Y0, MN, 1e-6 * scale * sqrt(K), 1e-5);
        tcf_qgemm_q8(M, X, K, &W, bias, Y2, N, 0, wb, 2);
        CHECK(bits_equal(Y1, Y2, MN), "%s M=%d N=%d K=%d: q8 differs between 1 and 2 threads", tn, M, N, K);
        double e = 0;
        for (int64_t i = 0; i < MN; i++) e = fmax(e, fabs((double)Y1[i] - Yt[i]));
        printf("  %-48s max|err|/max|Y|=%.3g\n", "", e / scale);
        CHECK(e / scale < 2e-2, "%s q8: error %.3g of max|Y| vs the f32 product", tn, e / scale);
        memcpy(Y2, dY, MN * 4);
        memcpy(Y0, dY, MN * 4);
        tcf_qgemm_q8(M, X, K, &W, NULL, Y2, N, 1, wb, 2);
        tcf_qgemm_q8_ref(M, X, K, &W, NULL, Y0, N, 1, wa);
        snprintf(what, sizeof what, "%s q8 fwd accumulate vs its ref", tn);
        check_close(what, Y2, Y0, MN, 1e-6 * scale * sqrt(K), 1e-5);
        free(wa), free(wb);
    }

    /* backward: reference vs double truth, dispatched vs decode + gemm */
    for (int m = 0; m < M; m++)
        for (int k = 0; k < K; k++) {
            double s = 0;
            for (int n = 0; n < N; n++) s += (double)dY[(int64_t)m * N + n] * Wd[(int64_t)n * K + k];
            D2[(int64_t)m * K + k] = (float)s;
        }
    const double dscale = max_abs(D2, MK) + 1;
    tcf_qgemm_bwd_ref(M, dY, N, &W, D0, K, 0);
    snprintf(what, sizeof what, "%s bwd ref vs f64 (M=%d N=%d K=%d)", tn, M, N, K);
    check_close(what, D0, D2, MK, 1e-6 * dscale * sqrt(N), 1e-5);
    tcf_gemm(M, K, N, dY, N, Wd, K, D1, K, NULL, 0, 1);
    tcf_qgemm_bwd(M, dY, N, &W, D2, K, 0, 1);
    snprintf(what, sizeof what, "%s bwd vs decode+gemm%s", tn, avx2 ? " (exact)" : "");
    check_close(what, D2, avx2 ? D1 : D0, MK, 0, 0);
    memcpy(D1, X, MK * 4);
    memcpy(D2, X, MK * 4);
    tcf_gemm(M, K, N, dY, N, Wd, K, D1, K, NULL, 1, 1);
    tcf_qgemm_bwd(M, dY, N, &W, D2, K, 1, 2);
    CHECK(avx2 ? bits_equal(D1, D2, MK) : 1, "%s M=%d N=%d K=%d: bwd accumulate, 2 threads != gemm", tn, M, N, K);
    memcpy(D0, X, MK * 4);
    tcf_qgemm_bwd(M, dY, N, &W, D0, K, 1, 1);
    CHECK(bits_equal(D0, D2, MK), "%s M=%d N=%d K=%d: bwd differs between 1 and 2 threads", tn, M, N, K);

    tcf_qmat_free(&W);
    free(w), free(X), free(bias), free(dY), free(Wd), free(Wd2), free(Bp);
    free(Y0), free(Y1), free(Y2), free(Yt), free(D0), free(D1), free(D2);
}

/* With the scalar path forced, the dispatched functions are the references. */
static void test_forced_scalar(tcf_qtype type, int M, int N, int K) {
    float *w = rand_weights(N, K), *X = rand_mat((int64_t)M * K, 1.0f), *bias = rand_mat(N, 0.5f);
    float *dY = rand_mat((int64_t)M * N, 1.0f);
    float *a = malloc((size_t)M * (N > K ? N : K) * 4), *b = malloc((size_t)M * (N > K ? N : K) * 4);
    tcf_qmat W;
    tcf_qmat_quantize(&W, type, N, K, w, K, type == TCF_QTYPE_NF4);
    tcf_kern_force_scalar(1);
    tcf_qgemm(M, X, K, &W, bias, a, N, 0, 2);
    tcf_qgemm_ref(M, X, K, &W, bias, b, N, 0);
    CHECK(bits_equal(a, b, (int64_t)M * N), "%s scalar fwd != ref", tcf_qtype_name(type));
    tcf_qgemm_bwd(M, dY, N, &W, a, K, 0, 2);
    tcf_qgemm_bwd_ref(M, dY, N, &W, b, K, 0);
    CHECK(bits_equal(a, b, (int64_t)M * K), "%s scalar bwd != ref", tcf_qtype_name(type));
    if (tcf_qgemm_q8_supported(type)) {
        uint8_t *ws = malloc(tcf_qgemm_q8_work_size(M, K));
        tcf_qgemm_q8(M, X, K, &W, bias, a, N, 0, ws, 2);
        tcf_qgemm_q8_ref(M, X, K, &W, bias, b, N, 0, ws);
        CHECK(bits_equal(a, b, (int64_t)M * N), "%s scalar q8 != ref", tcf_qtype_name(type));
        free(ws);
    }
    tcf_kern_force_scalar(0);
    printf("  %s forced scalar (M=%d N=%d K=%d): fwd, bwd%s equal the references\n", tcf_qtype_name(type), M, N, K,
           tcf_qgemm_q8_supported(type) ? ", q8" : "");
    tcf_qmat_free(&W);
    free(w), free(X), free(bias), free(dY), free(a), free(b);
}

/* The X quantizer on rounding ties and extremes: x * (1/d) landing on k + 0.5
 * must round away from zero in both versions. */
static void test_q8_ties(void) {
    float x[64];
    for (int j = 0; j < 32; j++) x[j] = (float)(j - 16) * 0.5f; /* amax 8: id = 127/8, many .5 products */
    for (int j = 0; j < 32; j++) x[32 + j] = j == 5 ? 127.0f : (float)j + 0.5f; /* id = 1: ties at k+0.5 */
    uint8_t a[68], b[68];
    tcf_q8_quantize_rows_ref(x, 64, 1, 64, a);
    tcf_q8_quantize_rows(x, 64, 1, 64, b);
    CHECK(memcmp(a, b, 68) == 0, "X quantizer ties: AVX2 bytes differ from roundf");
    CHECK((int8_t)b[34 + 2 + 0] == 1 && (int8_t)b[34 + 2 + 2] == 3, "ties round away from zero: %d %d",
          (int8_t)b[36], (int8_t)b[38]);
}

/* ---- 3. bad input ---------------------------------------------------------- */

static void test_errors(void) {
    tcf_qmat W;
    uint8_t buf[34 * 4] = {0};
    CHECK(tcf_qmat_view(&W, TCF_QTYPE_Q8_0, 2, 33, buf, sizeof buf, "blk.0.w") == TCF_ERR_FORMAT &&
              strstr(tcf_last_error(), "blk.0.w") && strstr(tcf_last_error(), "multiple of 32"),
          "K=33: %s", tcf_last_error());
    CHECK(tcf_qmat_view(&W, TCF_QTYPE_Q8_0, 2, 64, buf, sizeof buf - 1, "blk.1.w") == TCF_ERR_FORMAT &&
              strstr(tcf_last_error(), "blk.1.w: 135 bytes of data, a (2, 64) q8_0 matrix takes 136"),
          "short: %s", tcf_last_error());
    CHECK(tcf_qmat_view(&W, TCF_QTYPE_Q8_0, 2, 64, buf, sizeof buf, "ok") == TCF_OK && W.N == 2 && W.K == 64,
          "good view: %s", tcf_last_error());
    CHECK(tcf_qmat_view(&W, TCF_QTYPE_NF4, 2, 64, buf, sizeof buf, "n") == TCF_ERR_ARG, "nf4 via view");
    CHECK(tcf_qmat_view_nf4(&W, 2, 96, buf, (const float *)buf, NULL, NULL, NULL, 0, "lm.w") == TCF_ERR_FORMAT &&
              strstr(tcf_last_error(), "lm.w") && strstr(tcf_last_error(), "64"),
          "nf4 K=96: %s", tcf_last_error());
    CHECK(tcf_qmat_view_nf4(&W, 2, 64, buf, NULL, NULL, NULL, NULL, 0, "lm.w") == TCF_ERR_ARG,
          "nf4 without absmax");
    float w[48] = {0};
    CHECK(tcf_qmat_quantize(&W, TCF_QTYPE_Q4_0, 1, 48, w, 48, 0) == TCF_ERR_ARG &&
              strstr(tcf_last_error(), "(1, 48)"),
          "quantize K=48: %s", tcf_last_error());
    CHECK(tcf_qmat_quantize(&W, TCF_QTYPE_NF4, 0, 64, w, 64, 0) == TCF_ERR_ARG, "quantize N=0");
    CHECK(tcf_qmat_quantize(&W, TCF_QTYPE_Q4_K, 1, 32, w, 32, 0) == TCF_ERR_ARG &&
              strstr(tcf_last_error(), "(1, 32)") && strstr(tcf_last_error(), "multiple of 256"),
          "q4_k K=32: %s", tcf_last_error());
    uint8_t kb[144 * 2] = {0};
    CHECK(tcf_qmat_view(&W, TCF_QTYPE_Q4_K, 2, 384, kb, sizeof kb, "blk.2.ffn") == TCF_ERR_FORMAT &&
              strstr(tcf_last_error(), "blk.2.ffn") && strstr(tcf_last_error(), "multiple of 256"),
          "q4_k K=384: %s", tcf_last_error());
    CHECK(tcf_qmat_view(&W, TCF_QTYPE_Q4_K, 2, 256, kb, sizeof kb - 1, "blk.3.ffn") == TCF_ERR_FORMAT &&
              strstr(tcf_last_error(), "287 bytes of data, a (2, 256) q4_k matrix takes 288"),
          "q4_k short: %s", tcf_last_error());
    CHECK(tcf_qmat_view(&W, TCF_QTYPE_Q4_K, 2, 256, kb, sizeof kb, "ok") == TCF_OK && tcf_qmat_bytes(&W) == 288,
          "q4_k view: %s", tcf_last_error());
    tcf_qmat_free(NULL);
    tcf_qmat_free(&W);
}

int main(void) {
    printf("isa: %s\n", tcf_kern_isa());
    test_bnb();
    test_ggml_quantizers();
    test_gguf_view();
    test_smollm2();
    static const int shapes[][3] = {
        {1, 1, 32},   {1, 17, 64},   {1, 384, 384}, {2, 31, 96},   {5, 33, 288},  {7, 64, 576},
        {16, 193, 384}, {17, 45, 1536}, {1, 48, 4096}, {33, 100, 4096}, {200, 40, 128}, {250, 19, 320},
        {64, 300, 512},
    };
    const tcf_qtype types[] = {TCF_QTYPE_Q8_0, TCF_QTYPE_Q4_0, TCF_QTYPE_Q4_1, TCF_QTYPE_NF4, TCF_QTYPE_Q4_K};
    for (int t = 0; t < 5; t++)
        for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
            int K = shapes[s][2], bs = tcf_qtype_block(types[t]);
            K = (K + bs - 1) / bs * bs;
            test_shape(types[t], shapes[s][0], shapes[s][1], K);
        }
    for (int t = 0; t < 5; t++) test_forced_scalar(types[t], 9, 37, types[t] == TCF_QTYPE_Q4_K ? 512 : 320);
    test_q8_ties();
    test_errors();
    return check_summary("test_qgemm");
}
