/*
 * test_quantize.c — the f32 -> F16 / BF16 / Q8_0 / Q4_0 / Q4_K encoders
 * (kern/quantize.c) and the GGUF writer (io/gguf_write.c).
 *
 * 1. tests/fixtures/quant/input.f32 encoded by gguf-py 0.19
 *    (tests/ref/gen_quant_fixtures.py) must equal our encoding byte for byte
 *    (the inputs include exact rounding ties, zero blocks, equal |max| of
 *    both signs, f16-subnormal scales); decoding ours with the decoders
 *    (kern/quant.h) then stays within half a quantisation step.
 * 2. writer.gguf (gguf-py's GGUFWriter) must equal the file our writer makes
 *    from the same calls byte for byte, and read back with tcf_gguf_open.
 * 3. Bad calls (duplicate key / tensor, wrong byte count, rows not whole
 *    blocks, bad dims) fail with TCF_ERR_ARG naming the key or tensor; a
 *    save into a missing directory fails and leaves nothing.
 */
#include "base/base.h"
#include "check.h"
#include "io/gguf_write.h"
#include "kern/convert.h"
#include "kern/quant.h"
#include "kern/quantize.h"
#include "kern/qgemm.h"

#include <string.h>
#include <unistd.h>

#define FIX "tests/fixtures/quant/"

static uint8_t *read_all(const char *path, size_t *n) {
    char *d;
    if (tcf_read_file(path, &d, n)) {
        fprintf(stderr, "cannot read %s: %s\n", path, tcf_last_error());
        exit(1);
    }
    return (uint8_t *)d;
}

static void same_bytes(const char *what, const uint8_t *a, const uint8_t *b, size_t n) {
    size_t bad = 0, first = 0;
    for (size_t i = 0; i < n; i++)
        if (a[i] != b[i] && !bad++) first = i;
    printf("  %-48s bytes=%-8zu differing=%zu\n", what, n, bad);
    CHECK(bad == 0, "%s: %zu bytes differ, first at %zu (%02x vs %02x)", what, bad, first, a[first], b[first]);
}

static void test_encoders(void) {
    size_t n_in, n;
    float *x = (float *)read_all(FIX "input.f32", &n_in);
    int64_t N = (int64_t)(n_in / 4);
    uint8_t *ours = malloc((size_t)N * 2 + 64);
    struct { const char *file; void (*fn)(const float *, uint8_t *, int64_t); size_t bytes; } cases[] = {
        {FIX "f16.bin", tcf_quantize_f16, (size_t)N * 2},
        {FIX "bf16.bin", tcf_quantize_bf16, (size_t)N * 2},
        {FIX "q8_0.bin", tcf_quantize_q8_0, (size_t)N / 32 * 34},
        {FIX "q4_0.bin", tcf_quantize_q4_0, (size_t)N / 32 * 18},
    };
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
        uint8_t *ref = read_all(cases[c].file, &n);
        CHECK(n == cases[c].bytes, "%s: %zu bytes, expected %zu", cases[c].file, n, cases[c].bytes);
        cases[c].fn(x, ours, N);
        same_bytes(cases[c].file, ours, ref, n < cases[c].bytes ? n : cases[c].bytes);
        free(ref);
    }
    /* decode(encode(x)) is close to x: with d the f32 scale and d16 the
     * stored f16 one, |x - q d16| <= c d + |q| |d - d16| (c = 1/2 for Q8_0;
     * 1 for Q4_0, whose scale follows the signed max so the other end
     * clips at 7 steps) */
    float *y = malloc(sizeof(float) * (size_t)N);
    for (int k = 0; k < 2; k++) {
        double worst = 0;
        if (k == 0) tcf_quantize_q8_0(x, ours, N), tcf_dequant_q8_0(ours, y, N / 32);
        else tcf_quantize_q4_0(x, ours, N), tcf_dequant_q4_0(ours, y, N / 32);
        int bad = 0;
        for (int64_t b = 0; b < N / 32; b++) {
            float amax = 0;
            for (int j = 0; j < 32; j++) amax = fmaxf(amax, fabsf(x[b * 32 + j]));
            float d = k == 0 ? amax / 127.0f : amax / 8.0f;
            double step = d, dd = fabs((double)d - tcf_f16_to_f32(tcf_f32_to_f16(d)));
            for (int j = 0; j < 32; j++) {
                double e = fabs((double)y[b * 32 + j] - x[b * 32 + j]);
                double bound = (k == 0 ? 0.5 : 1.0) * step * 1.0001 + (k == 0 ? 127 : 8) * dd;
                if (e > bound) bad++;
                if (bound > 0 && e / bound > worst) worst = e / bound;
            }
        }
        printf("  %-48s worst |err| / bound = %.3f\n", k == 0 ? "q8_0 round trip" : "q4_0 round trip", worst);
        CHECK(!bad, "%s round trip: %d values off by more than the step bound", k ? "q4_0" : "q8_0", bad);
    }
    free(y);
    free(ours);
    free(x);
}

/* ggml's own Q4_K encoder (ggml_quantize_chunk, tests/ref/gen_q4k_fixtures.py;
 * gguf-py has none) on 173 rows of 256: tcf's bytes must be the same. The
 * rows: normal at four scales, zeros, all-equal, outliers, f16-subnormal and
 * zero scales, one-signed, uniform, heavy-tailed, sub-blocks of wildly
 * different range, constant / zero sub-blocks, exact rounding ties. */
static void test_q4k_ggml(void) {
    size_t n_in, n;
    float *x = (float *)read_all(FIX "q4_k_input.f32", &n_in);
    uint8_t *ref = read_all(FIX "q4_k.bin", &n);
    const int64_t N = (int64_t)(n_in / 4), R = N / 256;
    CHECK(N % 256 == 0 && n == (size_t)R * 144, "q4_k fixture: %zu floats, %zu bytes", (size_t)N, n);
    uint8_t *ours = malloc(n);
    tcf_quantize_q4_k(x, ours, R * 256);
    int64_t rows_bad = 0;
    for (int64_t r = 0; r < R; r++) rows_bad += memcmp(ours + r * 144, ref + r * 144, 144) != 0;
    same_bytes(FIX "q4_k.bin (ggml_quantize_chunk)", ours, ref, n);
    printf("  %-48s rows=%lld differing rows=%lld\n", "q4_k vs ggml", (long long)R, (long long)rows_bad);
    free(ours), free(ref), free(x);
}

/* Seeded N(0, 1) (xorshift + Box-Muller), for the Q4_K round trip. */
static double gauss(uint64_t *s) {
    double u[2];
    for (int i = 0; i < 2; i++) {
        *s ^= *s << 13, *s ^= *s >> 7, *s ^= *s << 17;
        u[i] = ((double)(*s >> 11) + 0.5) / 9007199254740992.0;
    }
    return sqrt(-2 * log(u[0])) * cos(6.283185307179586 * u[1]);
}

/* Q4_K encode -> tcf_dequant_q4_k: every value the stored scales can reach
 * (0 <= (x + dmin*m) / (d*sc) <= 15) is within half a step d*sc of x (the
 * codes are recomputed from the stored scales); on normal rows the rms error
 * is below Q4_1's (the same data, 5 bits a weight against Q4_K's 4.5); zero
 * rows give zero blocks and constant rows decode within 1/63 of the value
 * plus the f16 rounding. */
static void test_q4k_round_trip(void) {
    enum { R = 96, K = 256 };
    float *x = malloc(sizeof(float) * R * K), *y = malloc(sizeof(float) * R * K), *y1 = malloc(sizeof(float) * R * K);
    uint8_t *q = malloc((size_t)R * 144);
    uint64_t seed = 0x9e3779b97f4a7c15ull;
    for (int r = 0; r < R; r++) {
        const double sc = r < 64 ? pow(10.0, -3.0 + (r % 8) * 0.5) : 1.0;
        for (int k = 0; k < K; k++) {
            double v = gauss(&seed) * sc;
            if (r >= 64 && r < 72) v = -fabs(v);                             /* negatives only */
            if (r >= 72 && r < 80 && k % 97 == 3) v *= 40;                    /* outliers */
            if (r >= 80 && r < 88) v *= pow(10.0, -4.0 + (k / 32) * 0.6);     /* sub-block ranges differ */
            if (r == 88) v = 0;
            if (r == 89) v = -0.3;
            if (r == 90) v = 7.0;
            if (r == 91 && k / 32 == 2) v = 0;                                /* a zero sub-block */
            x[r * K + k] = (float)v;
        }
    }
    tcf_quantize_q4_k(x, q, (int64_t)R * K);
    tcf_dequant_q4_k(q, y, R);
    long reach = 0, bad = 0, clipped = 0;
    double worst = 0, worst_clip = 0;
    for (int b = 0; b < R * K / 32; b++) {
        const uint8_t *blk = q + (b / 8) * 144;
        const int j = b % 8;
        int sc, m;
        if (j < 4) sc = blk[4 + j] & 63, m = blk[8 + j] & 63;
        else sc = (blk[8 + j] & 15) | (blk[j] >> 6) << 4, m = (blk[8 + j] >> 4) | (blk[4 + j] >> 6) << 4;
        const float d = tcf_f16_to_f32((uint16_t)(blk[0] | blk[1] << 8)) * (float)sc;
        const float dm = tcf_f16_to_f32((uint16_t)(blk[2] | blk[3] << 8)) * (float)m;
        for (int l = 0; l < 32; l++) {
            const float xv = x[b * 32 + l], t = (xv + dm) / d;
            if (!(d > 0) || t < 0 || t > 15) {
                clipped++;
                if (d > 0) {
                    const double e = fabs((double)y[b * 32 + l] - xv) / d;
                    if (e > worst_clip) worst_clip = e;
                }
                continue;
            }
            reach++;
            const double e = fabs((double)y[b * 32 + l] - xv), bound = 0.5 * d * 1.0001 + 1e-6 * (fabs(xv) + dm);
            if (e > bound) bad++;
            if (e / bound > worst) worst = e / bound;
        }
    }
    printf("  %-48s reachable=%ld clipped=%ld worst |err| / (d/2) = %.3f, clipped %.3f\n", "q4_k round trip", reach,
           clipped, worst, 2 * worst_clip);
    CHECK(!bad && reach > R * K * 85 / 100, "q4_k: %ld of %ld reachable values off by more than half a step", bad, reach);
    /* rms against Q4_1 on the 64 normal rows */
    tcf_qmat w1;
    CHECK(!tcf_qmat_quantize(&w1, TCF_QTYPE_Q4_1, R, K, x, K, 0), "q4_1: %s", tcf_last_error());
    tcf_qmat_dequant_rows_ref(&w1, 0, R, y1);
    double e4k = 0, e41 = 0, ss = 0;
    for (int r = 0; r < 64; r++) {
        double a = 0, c = 0, n = 0;
        for (int k = 0; k < K; k++) {
            const double v = x[r * K + k];
            a += (y[r * K + k] - v) * (y[r * K + k] - v), c += (y1[r * K + k] - v) * (y1[r * K + k] - v), n += v * v;
        }
        e4k += a / n, e41 += c / n, ss += 1;
    }
    e4k = sqrt(e4k / ss), e41 = sqrt(e41 / ss);
    printf("  %-48s q4_k %.4f  q4_1 %.4f (rms error / rms, normal rows)\n", "q4_k vs q4_1", e4k, e41);
    CHECK(e4k < e41, "q4_k rms error %.4f is not below q4_1's %.4f", e4k, e41);
    int zero = 1;
    for (int i = 0; i < 144; i++) zero &= q[88 * 144 + i] == 0;
    CHECK(zero, "q4_k: an all-zero row is not an all-zero block");
    for (int r = 89; r <= 90; r++) {
        const float v = x[r * K];
        float e = 0;
        for (int k = 0; k < K; k++) e = fmaxf(e, fabsf(y[r * K + k] - v));
        CHECK(e <= fabsf(v) * (1.0f / 63 + 1e-3f), "q4_k: constant row %g decodes %g off", (double)v, (double)e);
    }
    tcf_qmat_free(&w1);
    free(x), free(y), free(y1), free(q);
}

/* The same calls tests/ref/gen_quant_fixtures.py makes to GGUFWriter. */
static tcf_gguf_writer *build(const float *x, int64_t N) {
    tcf_gguf_writer *w;
    CHECK(!tcf_gguf_writer_new(&w), "new: %s", tcf_last_error());
    const char *strs[] = {"a", "", "[CLS]", "\xe2\x96\x81x"};
    const int32_t ints[] = {1, -2, 3};
    const char *s = "h\xc3\xa9llo \"gguf\"";
    tcf_status st = tcf_gguf_put_str(w, "general.architecture", "tcftest", 7);
    st = st ? st : tcf_gguf_put_u32(w, "t.u32", 4000000000u);
    st = st ? st : tcf_gguf_put_i32(w, "t.i32", -7);
    st = st ? st : tcf_gguf_put_f32(w, "t.f32", 0.125f);
    st = st ? st : tcf_gguf_put_bool(w, "t.bool", 1);
    st = st ? st : tcf_gguf_put_str(w, "t.str", s, strlen(s));
    st = st ? st : tcf_gguf_put_arr_str(w, "t.arr_str", strs, 4);
    st = st ? st : tcf_gguf_put_arr_i32(w, "t.arr_i32", ints, 3);
    CHECK(!st, "metadata: %s", tcf_last_error());
    int64_t ne[2] = {64, N / 64};
    uint8_t *q = malloc((size_t)N * 4);
    st = tcf_gguf_put_tensor(w, "w.f32", TCF_GGML_F32, 2, ne, x, (size_t)N * 4);
    struct { const char *name; tcf_ggml_type t; void (*fn)(const float *, uint8_t *, int64_t); size_t bytes; } k[] = {
        {"w.f16", TCF_GGML_F16, tcf_quantize_f16, (size_t)N * 2},
        {"w.bf16", TCF_GGML_BF16, tcf_quantize_bf16, (size_t)N * 2},
        {"w.q8_0", TCF_GGML_Q8_0, tcf_quantize_q8_0, (size_t)N / 32 * 34},
        {"w.q4_0", TCF_GGML_Q4_0, tcf_quantize_q4_0, (size_t)N / 32 * 18},
    };
    for (int i = 0; i < 4 && !st; i++) {
        k[i].fn(x, q, N);
        st = tcf_gguf_put_tensor(w, k[i].name, k[i].t, 2, ne, q, k[i].bytes);
    }
    int64_t ne1[1] = {5};
    if (!st) st = tcf_gguf_put_tensor(w, "b.f32", TCF_GGML_F32, 1, ne1, x, 20);
    CHECK(!st, "tensors: %s", tcf_last_error());
    free(q);
    return w;
}

static void test_writer(void) {
    size_t n_in, n_ref, n_ours;
    float *x = (float *)read_all(FIX "input.f32", &n_in);
    int64_t N = (int64_t)(n_in / 4);
    tcf_gguf_writer *w = build(x, N);
    char path[] = "/tmp/tcf_test_quantize_XXXXXX";
    int fd = mkstemp(path);
    close(fd);
    CHECK(!tcf_gguf_writer_save(w, path), "save: %s", tcf_last_error());
    uint8_t *ref = read_all(FIX "writer.gguf", &n_ref), *ours = read_all(path, &n_ours);
    CHECK(n_ref == n_ours, "writer.gguf is %zu bytes, ours %zu", n_ref, n_ours);
    same_bytes("writer.gguf vs tcf's writer", ours, ref, n_ref < n_ours ? n_ref : n_ours);
    tcf_gguf *g = NULL;
    CHECK(!tcf_gguf_open(path, &g), "reopen: %s", tcf_last_error());
    if (g) {
        CHECK(tcf_gguf_tensor_count(g) == 6 && tcf_gguf_kv_count(g) == 8, "counts %lld %lld",
              (long long)tcf_gguf_tensor_count(g), (long long)tcf_gguf_kv_count(g));
        const tcf_gguf_tensor *t = tcf_gguf_tensor_find(g, "w.q8_0");
        float *y = malloc(sizeof(float) * (size_t)N), *z = malloc(sizeof(float) * (size_t)N);
        uint8_t *q = malloc((size_t)N * 2);
        tcf_quantize_q8_0(x, q, N);
        tcf_dequant_q8_0(q, z, N / 32);
        CHECK(t && !tcf_gguf_dequantize(t, y, N), "w.q8_0: %s", tcf_last_error());
        if (t) check_close("w.q8_0 read back", y, z, (long)N, 0, 0);
        free(y), free(z), free(q);
        tcf_gguf_free(g);
    }
    unlink(path);
    free(ref), free(ours);

    /* bad calls */
    int64_t ne[2] = {64, 2}, ne_odd[2] = {48, 2}, ne0[2] = {0, 2};
    tcf_status st = tcf_gguf_put_u32(w, "t.u32", 1);
    CHECK(st == TCF_ERR_ARG && strstr(tcf_last_error(), "duplicate key 't.u32'"), "dup key: %s", tcf_last_error());
    st = tcf_gguf_put_tensor(w, "w.f32", TCF_GGML_F32, 2, ne, x, 512);
    CHECK(st == TCF_ERR_ARG && strstr(tcf_last_error(), "duplicate tensor 'w.f32'"), "dup tensor: %s", tcf_last_error());
    st = tcf_gguf_put_tensor(w, "x", TCF_GGML_F32, 2, ne, x, 511);
    CHECK(st == TCF_ERR_ARG && strstr(tcf_last_error(), "'x': 511 bytes given"), "bytes: %s", tcf_last_error());
    st = tcf_gguf_put_tensor(w, "y", TCF_GGML_Q8_0, 2, ne_odd, x, 102);
    CHECK(st == TCF_ERR_ARG && strstr(tcf_last_error(), "'y': row of 48 is not whole Q8_0 blocks"), "blocks: %s",
          tcf_last_error());
    st = tcf_gguf_put_tensor(w, "z", TCF_GGML_F32, 2, ne0, x, 0);
    CHECK(st == TCF_ERR_ARG && strstr(tcf_last_error(), "'z': bad dim 0"), "dims: %s", tcf_last_error());
    st = tcf_gguf_put_tensor(w, "z", TCF_GGML_F32, 5, ne, x, 0);
    CHECK(st == TCF_ERR_ARG && strstr(tcf_last_error(), "5 dims"), "n_dims: %s", tcf_last_error());
    st = tcf_gguf_put_arr_i32(w, "e", NULL, 0);
    CHECK(st == TCF_ERR_ARG && strstr(tcf_last_error(), "'e': empty array"), "empty: %s", tcf_last_error());
    /* the failed calls left the writer as it was */
    char p2[] = "/tmp/tcf_test_quantize_XXXXXX";
    fd = mkstemp(p2);
    close(fd);
    CHECK(!tcf_gguf_writer_save(w, p2), "save after bad calls: %s", tcf_last_error());
    ours = read_all(p2, &n_ours);
    ref = read_all(FIX "writer.gguf", &n_ref);
    CHECK(n_ours == n_ref && !memcmp(ours, ref, n_ref), "bad calls changed the output");
    free(ours), free(ref);
    unlink(p2);
    st = tcf_gguf_writer_save(w, "/tmp/tcf-no-such-dir/x/out.gguf");
    CHECK(st == TCF_ERR_IO && strstr(tcf_last_error(), "/tmp/tcf-no-such-dir/x/out.gguf"), "missing dir: %s",
          tcf_last_error());
    CHECK(!tcf_file_exists("/tmp/tcf-no-such-dir/x/out.gguf"), "file left behind");
    tcf_gguf_writer_free(w);
    tcf_gguf_writer_free(NULL);
    free(x);
}

int main(void) {
    test_encoders();
    test_q4k_ggml();
    test_q4k_round_trip();
    test_writer();
    return check_summary("test_quantize");
}
