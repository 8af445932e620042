/*
 * test_encoder.c — all-MiniLM-L6-v2 forward pass against transformers.
 *
 * Fixtures (tests/fixtures/encoder/, from tests/ref/gen_encoder_fixtures.py):
 * token ids of 210 texts from ../shared/data, their mean-pooled and [CLS]
 * last hidden states, and the full last hidden states of 16 of them, each
 * computed by transformers in f32 with the text alone (no padding).
 * Checked here: every text alone (B=1), and the same texts in padded batches
 * of 16 (dynamic padding must not change real tokens' outputs), with the
 * SIMD kernels and (first 40 texts, for time) with the scalar reference. Tolerance: |diff| <= 1e-4.
 */
#include "base/base.h"
#include "check.h"
#include "kern/grad.h"
#include "kern/kern.h"
#include "model/bert.h"

#include <string.h>

#define FIX "tests/fixtures/encoder/"
#define MODEL "models/all-MiniLM-L6-v2"
#define MAXN 256
#define MAXT 128

static int n_texts, lens[MAXN];
static int32_t ids[MAXN][MAXT];

static float *read_f32(const char *path, long *n) {
    char *d;
    size_t len;
    if (tcf_read_file(path, &d, &len)) {
        fprintf(stderr, "%s\n", tcf_last_error());
        return NULL;
    }
    *n = (long)(len / 4);
    return (float *)d;
}

static int read_ids(void) {
    FILE *f = fopen(FIX "ids.txt", "r");
    if (!f) return 0;
    char line[8192];
    while (n_texts < MAXN && fgets(line, sizeof line, f)) {
        int k = 0;
        for (char *tok = strtok(line, " \n"); tok && k < MAXT; tok = strtok(NULL, " \n"))
            ids[n_texts][k++] = atoi(tok);
        lens[n_texts++] = k;
    }
    fclose(f);
    return n_texts;
}

/* Run texts [s, s+B) as one padded batch; write pooled mean/cls and the
 * hidden rows of real tokens. */
static int run_batch(const tcf_bert *m, int s, int B, float *mean, float *cls, float **hid_rows) {
    const int C = m->cfg.hidden;
    int T = 0;
    for (int b = 0; b < B; b++) T = lens[s + b] > T ? lens[s + b] : T;
    int32_t *bi = calloc((size_t)B * T, sizeof *bi);
    uint8_t *bm = calloc((size_t)B * T, 1);
    float *h = malloc(sizeof(float) * B * T * C);
    for (int b = 0; b < B; b++)
        for (int t = 0; t < lens[s + b]; t++) bi[b * T + t] = ids[s + b][t], bm[b * T + t] = 1;
    tcf_status st = tcf_bert_forward(m, B, T, bi, bm, h, 0);
    if (!st) {
        tcf_bert_pool(&m->cfg, B, T, bm, h, TCF_POOL_MEAN, 0, mean + (int64_t)s * C);
        tcf_bert_pool(&m->cfg, B, T, bm, h, TCF_POOL_CLS, 0, cls + (int64_t)s * C);
        for (int b = 0; b < B; b++) hid_rows[s + b] = memcpy(malloc(sizeof(float) * lens[s + b] * C),
                                                             h + (int64_t)b * T * C,
                                                             sizeof(float) * lens[s + b] * C);
    }
    free(bi);
    free(bm);
    free(h);
    return st == TCF_OK;
}

/* Compare the first n_use texts (and the hidden-state texts among them). */
static void check_against_ref(const tcf_bert *m, int batch, int n_use, const char *tag,
                              const float *ref_mean, const float *ref_cls, const float *ref_hidden,
                              const int *hid_idx, int n_hid) {
    const int C = m->cfg.hidden;
    const int n_all = n_texts;
    n_texts = n_use;
    while (n_hid > 0 && hid_idx[n_hid - 1] >= n_use) n_hid--;
    float *mean = malloc(sizeof(float) * n_texts * C), *cls = malloc(sizeof(float) * n_texts * C);
    float *rows[MAXN] = {0};
    int ok = 1;
    for (int s = 0; s < n_texts && ok; s += batch)
        ok = run_batch(m, s, n_texts - s < batch ? n_texts - s : batch, mean, cls, rows);
    CHECK(ok, "forward failed: %s", tcf_last_error());
    if (ok) {
        char what[128];
        snprintf(what, sizeof what, "%s mean pooled (%d texts)", tag, n_texts);
        check_close(what, mean, ref_mean, (long)n_texts * C, 1e-4, 0);
        snprintf(what, sizeof what, "%s [CLS] hidden (%d texts)", tag, n_texts);
        check_close(what, cls, ref_cls, (long)n_texts * C, 1e-4, 0);
        const float *r = ref_hidden;
        long total = 0;
        float *got = malloc(sizeof(float) * MAXN * MAXT * C);
        for (int j = 0; j < n_hid; j++) {
            memcpy(got + total, rows[hid_idx[j]], sizeof(float) * lens[hid_idx[j]] * C);
            total += (long)lens[hid_idx[j]] * C;
        }
        snprintf(what, sizeof what, "%s last hidden states (%d texts)", tag, n_hid);
        check_close(what, got, r, total, 1e-4, 0);
        free(got);
    }
    for (int i = 0; i < n_texts; i++) free(rows[i]);
    free(mean);
    free(cls);
    n_texts = n_all;
}

static void test_gemm_variants(void) {
    /* Odd shapes exercise every tail of the 6x16 tiling, the K blocking and
     * the 96-row x 4-panel task grid;
     * strided views (ld > width) and accumulation are checked too. */
    int shapes[][3] = {{1, 1, 1}, {3, 5, 7}, {6, 16, 8}, {7, 17, 300}, {17, 130, 389},
                       {64, 384, 384}, {9, 1536, 384}, {13, 384, 1536}, {200, 70, 33}, {5, 3, 0},
                       {25, 48, 513}, {12, 32, 16}, {107, 100, 257}};
    const int avx512 = !strcmp(tcf_kern_isa(), "avx512");
    int same512 = 1;
    for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++) {
        for (int variant = 0; variant < 2; variant++) {
            int M = shapes[s][0], N = shapes[s][1], K = shapes[s][2];
            int lda = K + 3 * variant, ldb = N + 5 * variant, ldc = N + 2 * variant;
            float *a = malloc(sizeof(float) * (M * lda + 1)), *b = malloc(sizeof(float) * (K * ldb + 1));
            float *bias = malloc(sizeof(float) * N), *o1 = malloc(sizeof(float) * M * ldc),
                  *o2 = malloc(sizeof(float) * M * ldc);
            uint32_t r = 12345u + (uint32_t)s;
            for (int i = 0; i < M * lda; i++) a[i] = (float)((r = r * 1664525u + 1013904223u) >> 8) / (1 << 24) - 0.5f;
            for (int i = 0; i < K * ldb; i++) b[i] = (float)((r = r * 1664525u + 1013904223u) >> 8) / (1 << 24) - 0.5f;
            for (int i = 0; i < N; i++) bias[i] = (float)i / N;
            for (int i = 0; i < M * ldc; i++) o1[i] = o2[i] = (float)(i % 7);
            tcf_gemm_ref(M, N, K, a, lda, b, ldb, o1, ldc, variant ? NULL : bias, variant);
            tcf_gemm(M, N, K, a, lda, b, ldb, o2, ldc, variant ? NULL : bias, variant, 0);
            char what[96];
            snprintf(what, sizeof what, "gemm %s vs scalar %dx%dx%d%s", tcf_kern_isa(), M, N, K,
                     variant ? " strided, +=" : " +bias");
            check_close(what, o2, o1, (long)M * ldc, 1e-5, 1e-5);
            if (avx512) { /* the AVX2 kernel gives the same bits */
                float *o3 = malloc(sizeof(float) * M * ldc);
                for (int i = 0; i < M * ldc; i++) o3[i] = (float)(i % 7);
                tcf_kern_force_avx2(1);
                tcf_gemm(M, N, K, a, lda, b, ldb, o3, ldc, variant ? NULL : bias, variant, 0);
                tcf_kern_force_avx2(0);
                same512 = same512 && !memcmp(o2, o3, sizeof(float) * M * ldc);
                free(o3);
            }
            /* the same product through packed B: given plain, and given as
             * its transpose (N, K) */
            float *bp = malloc(sizeof(float) * (tcf_gemm_packed_size(K, N) + 1));
            float *bt = malloc(sizeof(float) * ((size_t)N * K + 1));
            for (int k = 0; k < K; k++)
                for (int n = 0; n < N; n++) bt[(int64_t)n * K + k] = b[(int64_t)k * ldb + n];
            for (int tr = 0; tr < 2; tr++) {
                for (int i = 0; i < M * ldc; i++) o2[i] = (float)(i % 7);
                if (tr) tcf_gemm_pack_b(K, N, bt, K, 1, bp);
                else tcf_gemm_pack_b(K, N, b, ldb, 0, bp);
                tcf_gemm_packed(M, N, K, a, lda, bp, o2, ldc, variant ? NULL : bias, variant, 0);
                snprintf(what, sizeof what, "gemm packed%s %dx%dx%d%s", tr ? " (from W)" : "", M, N, K,
                         variant ? " strided, +=" : " +bias");
                check_close(what, o2, o1, (long)M * ldc, 1e-5, 1e-5);
            }
            free(bp), free(bt);
            free(a), free(b), free(bias), free(o1), free(o2);
        }
    }
    if (avx512) CHECK(same512, "gemm: the AVX-512 and AVX2 kernels give different bits");
    else printf("  (no AVX-512F here: the 512-bit gemm kernel is not run)\n");
}

static void test_gelu_variants(void) {
    enum { N = 40001 };
    static float x[N], y1[N], y2[N];
    for (int i = 0; i < N; i++) x[i] = -20.0f + 40.0f * (float)i / (N - 1);
    tcf_gelu_ref(y1, x, N);
    tcf_gelu(y2, x, N);
    char what[64];
    snprintf(what, sizeof what, "gelu %s vs erff on [-20, 20]", tcf_kern_isa());
    check_close(what, y2, y1, N, 2e-6, 1e-6);
    static float dy[N];
    for (int i = 0; i < N; i++) dy[i] = 1.0f - (float)(i % 13) / 6.0f;
    tcf_gelu_backward_ref(y1, dy, x, N);
    tcf_gelu_backward(y2, dy, x, N);
    snprintf(what, sizeof what, "gelu backward %s vs libm on [-20, 20]", tcf_kern_isa());
    check_close(what, y2, y1, N, 2e-6, 1e-6);
}

int main(void) {
    test_gemm_variants();
    test_gelu_variants();
    CHECK(read_ids() >= 200, "need >= 200 fixture texts, have %d", n_texts);
    long n_mean, n_cls, n_hidden;
    float *ref_mean = read_f32(FIX "mean.f32", &n_mean), *ref_cls = read_f32(FIX "cls.f32", &n_cls);
    float *ref_hidden = read_f32(FIX "hidden.f32", &n_hidden);
    int hid_idx[64], n_hid = 0;
    FILE *f = fopen(FIX "hidden_ids.txt", "r");
    while (f && n_hid < 64 && fscanf(f, "%d", &hid_idx[n_hid]) == 1) n_hid++;
    if (f) fclose(f);
    tcf_bert *m = NULL;
    tcf_status st = tcf_bert_load(MODEL, &m);
    CHECK(st == TCF_OK, "load %s: %s (run scripts/fetch_models.sh)", MODEL, tcf_last_error());
    CHECK(ref_mean && ref_cls && ref_hidden && n_hid == 16, "fixtures present");
    if (m && ref_mean && ref_cls && ref_hidden) {
        CHECK(n_mean == (long)n_texts * m->cfg.hidden, "mean fixture size %ld", n_mean);
        printf("  model: %d layers, hidden %d, %lld parameters; kernels: %s\n", m->cfg.layers,
               m->cfg.hidden, (long long)m->n_params, tcf_kern_isa());
        check_against_ref(m, 1, n_texts, "B=1", ref_mean, ref_cls, ref_hidden, hid_idx, n_hid);
        check_against_ref(m, 16, n_texts, "B=16 padded", ref_mean, ref_cls, ref_hidden, hid_idx, n_hid);
        tcf_kern_force_scalar(1);
        check_against_ref(m, 32, 40, "B=32 padded, scalar", ref_mean, ref_cls, ref_hidden,
                          hid_idx, n_hid);
        tcf_kern_force_scalar(0);

        /* Results do not depend on the thread count (dynamic scheduling
         * included): bit-identical hidden states with 1 and 2 threads. */
        {
            int B = 16, T = 0;
            for (int b = 0; b < B; b++) T = lens[b] > T ? lens[b] : T;
            int32_t *bi = calloc((size_t)B * T, sizeof *bi);
            uint8_t *bm = calloc((size_t)B * T, 1);
            float *h1 = malloc(sizeof(float) * B * T * m->cfg.hidden), *h2 = malloc(sizeof(float) * B * T * m->cfg.hidden);
            for (int b = 0; b < B; b++)
                for (int t = 0; t < lens[b]; t++) bi[b * T + t] = ids[b][t], bm[b * T + t] = 1;
            tcf_bert_forward(m, B, T, bi, bm, h1, 1);
            tcf_bert_forward(m, B, T, bi, bm, h2, 2);
            CHECK(!memcmp(h1, h2, sizeof(float) * B * T * m->cfg.hidden), "1 vs 2 threads differ");
            /* the first-token forward (the classifier's): each row's [CLS]
             * state as the full forward gives it */
            const int C = m->cfg.hidden;
            float *ws = malloc(sizeof(float) * tcf_bert_forward_ws_floats(&m->cfg, B, T, 2));
            CHECK(ws && tcf_bert_forward_first_ws(m, B, T, bi, bm, h2, 2, ws) == TCF_OK, "first: %s", tcf_last_error());
            double mx = 0;
            for (int b = 0; b < B; b++)
                for (int i = 0; i < C; i++) mx = fmax(mx, fabs(h2[(int64_t)b * C + i] - h1[(int64_t)b * T * C + i]));
            printf("  first-token forward vs full forward [CLS] (B=%d): max |diff| %.3g\n", B, mx);
            CHECK(mx <= 1e-6, "first-token forward differs from the full forward by %g", mx);
            memset(bm + T, 0, (size_t)T); /* row 1 without a real token */
            CHECK(tcf_bert_forward_first_ws(m, B, T, bi, bm, h2, 2, ws) == TCF_ERR_ARG &&
                      strstr(tcf_last_error(), "row 1 has no real token"),
                  "empty row: %s", tcf_last_error());
            free(ws);
            free(bi), free(bm), free(h1), free(h2);
        }
        /* Out-of-range ids and lengths are refused, not read. */
        int32_t bad[2] = {101, m->cfg.vocab};
        uint8_t mk[2] = {1, 1};
        float h[2 * 384];
        CHECK(tcf_bert_forward(m, 1, 2, bad, mk, h, 1) == TCF_ERR_ARG &&
                  strstr(tcf_last_error(), "outside vocab"),
              "bad id: %s", tcf_last_error());
    }
    tcf_bert_free(m);
    free(ref_mean), free(ref_cls), free(ref_hidden);
    return check_summary("test_encoder");
}
