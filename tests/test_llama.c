/*
 * test_llama.c — Llama-family decoder forward against transformers, its
 * kernels against their references, and bad checkpoints.
 *
 * Fixtures (tests/fixtures/llama/, from tests/ref/gen_llama_fixtures.py):
 * tiny random-weight Llama (tied), Qwen2 (q/k/v biases) and Phi-3 (fused
 * qkv / gate_up) checkpoints, the same Llama as GGUF with llama.cpp's q/k
 * permutation, and their final hidden states, last-token and mean pooled
 * features and sequence-classification logits on one batch mixing unpadded,
 * right- and left-padded rows; SmolLM2-135M (dequantised from the Q4_1 GGUF
 * by transformers) when models/SmolLM2-135M-Instruct is present (SKIP
 * otherwise). Tolerance |diff| <= 1e-5 + 1e-4 |ref|; printed: the max abs
 * diff and the max relative diff (max |diff| / max |ref|).
 */
#include "base/base.h"
#include "check.h"
#include "kern/decoder.h"
#include "kern/kern.h"
#include "model/llama.h"

#include <string.h>
#include <unistd.h>

#define FIX "tests/fixtures/llama/"
#define SMOL "models/SmolLM2-135M-Instruct/SmolLM2-135M-Instruct.Q4_1.gguf"

static void *read_all(const char *path, size_t *len) {
    char *d;
    if (tcf_read_file(path, &d, len)) {
        fprintf(stderr, "%s\n", tcf_last_error());
        return NULL;
    }
    return d;
}

/* check_close plus the relative diff max|a-b| / max|b| */
static void check_rel(const char *what, const float *a, const float *b, long n) {
    double mb = 0, md = 0;
    for (long i = 0; i < n; i++) {
        if (fabs(b[i]) > mb) mb = fabs(b[i]);
        double d = fabs((double)a[i] - b[i]);
        if (d > md || d != d) md = d;
    }
    check_close(what, a, b, n, 1e-5, 1e-4);
    printf("  %-48s max_rel_diff=%.3g\n", "", md / (mb > 0 ? mb : 1));
    CHECK(md / (mb > 0 ? mb : 1) <= 1e-4, "%s: relative diff %g", what, md / mb);
}

/* ---- kernels ------------------------------------------------------------- */

static void test_kernels(void) {
    enum { N = 1003 };
    float g[N], u[N], y1[N], y2[N];
    uint32_t s = 1;
    for (int i = 0; i < N; i++) {
        s = s * 1664525u + 1013904223u;
        g[i] = ((float)(s >> 8) / (1 << 24) - 0.5f) * (i < 20 ? 200.0f : 16.0f);
        s = s * 1664525u + 1013904223u;
        u[i] = (float)(s >> 8) / (1 << 24) - 0.5f;
    }
    tcf_swiglu_ref(y1, g, u, N);
    tcf_swiglu(y2, g, u, N);
    printf("swiglu (%s) vs scalar reference\n", tcf_kern_isa());
    check_close("swiglu", y2, y1, N, 1e-7, 1e-6);
    /* in place on gate */
    memcpy(y2, g, sizeof g);
    tcf_swiglu(y2, y2, u, N);
    check_close("swiglu in place", y2, y1, N, 1e-7, 1e-6);

    /* RMSNorm vs a double formula */
    enum { R = 3, C = 37 };
    float x[R * C], w[C], y[R * C], ref[R * C];
    for (int i = 0; i < R * C; i++) x[i] = sinf(0.7f * i) * (1 + i % 5);
    for (int i = 0; i < C; i++) w[i] = 1 + 0.1f * cosf((float)i);
    for (int r = 0; r < R; r++) {
        double ss = 0;
        for (int i = 0; i < C; i++) ss += (double)x[r * C + i] * x[r * C + i];
        for (int i = 0; i < C; i++) ref[r * C + i] = (float)(w[i] * x[r * C + i] / sqrt(ss / C + 1e-5));
    }
    tcf_rmsnorm(y, x, w, R, C, 1e-5f);
    check_close("rmsnorm vs double", y, ref, R * C, 1e-6, 1e-6);

    /* RoPE table vs double, and the rotation vs its definition (a 2-D
     * rotation of pairs (i, i + D/2) by pos * theta^(-2i/D)) */
    enum { P = 50, D = 8 };
    float ct[P * D / 2], st[P * D / 2], cref[P * D / 2], sref[P * D / 2];
    tcf_rope_table(ct, st, P, D, 10000.0);
    for (int p = 0; p < P; p++)
        for (int i = 0; i < D / 2; i++) {
            double a = p * pow(10000.0, -2.0 * i / D);
            cref[p * D / 2 + i] = (float)cos(a), sref[p * D / 2 + i] = (float)sin(a);
        }
    check_close("rope cos table", ct, cref, P * D / 2, 2e-5, 0);
    check_close("rope sin table", st, sref, P * D / 2, 2e-5, 0);
    float q[2 * D], qr[2 * D];
    for (int i = 0; i < 2 * D; i++) q[i] = (float)(i + 1);
    memcpy(qr, q, sizeof q);
    const int pos = 7;
    tcf_rope_apply(qr, 2, D, ct + pos * D / 2, st + pos * D / 2);
    float want[2 * D];
    for (int h = 0; h < 2; h++)
        for (int i = 0; i < D / 2; i++) {
            double a = pos * pow(10000.0, -2.0 * i / D), x1 = q[h * D + i], x2 = q[h * D + i + D / 2];
            want[h * D + i] = (float)(x1 * cos(a) - x2 * sin(a));
            want[h * D + i + D / 2] = (float)(x2 * cos(a) + x1 * sin(a));
        }
    check_close("rope rotation", qr, want, 2 * D, 1e-4, 1e-5);
}

/* ---- parity ------------------------------------------------------------- */

typedef struct {
    int32_t *ids;
    uint8_t *mask;
    float *hidden, *last, *mean, *score, *logits;
} ref_set;

static int load_ref(const char *dir, int B, int T, int C, int labels, int full_hidden, ref_set *r) {
    char p[512];
    size_t len;
    memset(r, 0, sizeof *r);
#define RD(field, name, want)                                                        \
    snprintf(p, sizeof p, "%s/%s", dir, name);                                       \
    if (!(r->field = read_all(p, &len)) || len != (size_t)(want)) {                  \
        fprintf(stderr, "%s: %zu bytes, expected %zu\n", p, len, (size_t)(want));    \
        return 0;                                                                    \
    }
    RD(ids, "ids.i32", 4 * B * T);
    RD(mask, "mask.u8", B * T);
    if (full_hidden) {
        RD(hidden, "hidden.f32", 4 * B * T * C);
    } else {
        RD(hidden, "hidden_rows.f32", 4 * B * 3 * C);
    }
    RD(last, "last.f32", 4 * B * C);
    RD(mean, "mean.f32", 4 * B * C);
    RD(score, "score.f32", 4 * labels * C);
    RD(logits, "logits.f32", 4 * B * labels);
#undef RD
    return 1;
}

static void free_ref(ref_set *r) {
    free(r->ids), free(r->mask), free(r->hidden), free(r->last), free(r->mean), free(r->score), free(r->logits);
}

/* Forward the reference batch and compare everything; `full_hidden`: the
 * fixture has every position (else 3 rows per sequence: first, middle and
 * last real token). Also: every row run alone equals its padded row, and 1
 * thread equals 2 bit for bit. */
static void check_model(const char *tag, const tcf_llama *m, const char *refdir, int B, int T, int labels,
                        int full_hidden) {
    const int C = m->cfg.hidden;
    ref_set r;
    if (!load_ref(refdir, B, T, C, labels, full_hidden, &r)) {
        CHECK(0, "%s: cannot read fixtures in %s", tag, refdir);
        free_ref(&r);
        return;
    }
    float *h = malloc(sizeof(float) * B * T * C), *h1 = malloc(sizeof(float) * B * T * C);
    float *pooled = malloc(sizeof(float) * B * C), *logits = malloc(sizeof(float) * B * labels);
    char what[128];
    tcf_status st = tcf_llama_forward(m, B, T, r.ids, r.mask, h, 2);
    CHECK(st == TCF_OK, "%s forward: %s", tag, tcf_last_error());
    /* real positions only (pad rows are unspecified) */
    int n_rows = 0;
    float *got = malloc(sizeof(float) * B * T * C), *want = malloc(sizeof(float) * B * T * C);
    for (int b = 0; b < B; b++) {
        int real[512], n = 0;
        for (int t = 0; t < T; t++)
            if (r.mask[b * T + t]) real[n++] = t;
        if (full_hidden) {
            for (int k = 0; k < n; k++, n_rows++) {
                memcpy(got + (int64_t)n_rows * C, h + ((int64_t)b * T + real[k]) * C, sizeof(float) * C);
                memcpy(want + (int64_t)n_rows * C, r.hidden + ((int64_t)b * T + real[k]) * C, sizeof(float) * C);
            }
        } else {
            int pick[3] = {real[0], real[n / 2], real[n - 1]};
            for (int k = 0; k < 3; k++, n_rows++) {
                memcpy(got + (int64_t)n_rows * C, h + ((int64_t)b * T + pick[k]) * C, sizeof(float) * C);
                memcpy(want + (int64_t)n_rows * C, r.hidden + ((int64_t)(b * 3 + k)) * C, sizeof(float) * C);
            }
        }
    }
    snprintf(what, sizeof what, "%s hidden (%d real rows)", tag, n_rows);
    check_rel(what, got, want, (long)n_rows * C);
    tcf_llama_pool(C, B, T, r.mask, h, TCF_POOL_LAST, 0, pooled);
    snprintf(what, sizeof what, "%s pooled last token", tag);
    check_rel(what, pooled, r.last, (long)B * C);
    for (int b = 0; b < B; b++)
        for (int k = 0; k < labels; k++) {
            double acc = 0;
            for (int i = 0; i < C; i++) acc += (double)pooled[b * C + i] * r.score[k * C + i];
            logits[b * labels + k] = (float)acc;
        }
    snprintf(what, sizeof what, "%s score logits (ForSequenceClassification)", tag);
    check_rel(what, logits, r.logits, (long)B * labels);
    tcf_llama_pool(C, B, T, r.mask, h, TCF_POOL_MEAN, 0, pooled);
    snprintf(what, sizeof what, "%s pooled mean", tag);
    check_rel(what, pooled, r.mean, (long)B * C);

    /* thread count: bit-identical */
    st = tcf_llama_forward(m, B, T, r.ids, r.mask, h1, 1);
    int same = st == TCF_OK;
    for (int b = 0; b < B && same; b++)
        for (int t = 0; t < T; t++)
            if (r.mask[b * T + t] && memcmp(h + ((int64_t)b * T + t) * C, h1 + ((int64_t)b * T + t) * C, 4 * C))
                same = 0;
    CHECK(same, "%s: 1 and 2 threads differ", tag);
    /* each row alone, unpadded */
    double md = 0;
    for (int b = 0; b < B; b++) {
        int32_t ids1[512];
        uint8_t m1[512];
        int n = 0;
        for (int t = 0; t < T; t++)
            if (r.mask[b * T + t]) ids1[n] = r.ids[b * T + t], m1[n++] = 1;
        st = tcf_llama_forward(m, 1, n, ids1, m1, h1, 2);
        CHECK(st == TCF_OK, "%s row %d alone: %s", tag, b, tcf_last_error());
        for (int t = 0, k = 0; t < T; t++) {
            if (!r.mask[b * T + t]) continue;
            for (int i = 0; i < C; i++) {
                double d = fabs(h1[(int64_t)k * C + i] - h[((int64_t)b * T + t) * C + i]);
                if (d > md) md = d;
            }
            k++;
        }
    }
    printf("  %-48s max_abs_diff=%.3g\n", "padded rows vs each row alone", md);
    CHECK(md <= 1e-5, "%s: padded batch vs rows alone differ by %g", tag, md);
    free(got), free(want), free(h), free(h1), free(pooled), free(logits);
    free_ref(&r);
}

static void test_tiny(void) {
    static const char *names[] = {"tiny_llama", "tiny_qwen2", "tiny_phi3"};
    static const tcf_llama_arch arch[] = {TCF_ARCH_LLAMA, TCF_ARCH_QWEN2, TCF_ARCH_PHI3};
    for (int i = 0; i < 3; i++) {
        char dir[256], ref[256];
        snprintf(dir, sizeof dir, FIX "%s", names[i]);
        snprintf(ref, sizeof ref, FIX "%s/ref", names[i]);
        tcf_llama *m = NULL;
        tcf_status st = tcf_llama_load(dir, &m);
        CHECK(st == TCF_OK, "load %s: %s", dir, tcf_last_error());
        if (st) continue;
        printf("%s\n", names[i]);
        CHECK(m->cfg.arch == arch[i] && m->cfg.hidden == 64 && m->cfg.layers == 2 && m->cfg.heads == 4 &&
                  m->cfg.kv_heads == 2 && m->cfg.inter == 128 && m->cfg.vocab == 512 && m->cfg.pad_id == 0,
              "%s: config read wrong", names[i]);
        CHECK((m->layer[0].qkv_b != NULL) == (i == 1), "%s: biases", names[i]);
        check_model(names[i], m, ref, 3, 7, 3, 1);
        if (i == 0) {
            /* scalar kernels */
            tcf_kern_force_scalar(1);
            printf("tiny_llama, scalar kernels\n");
            check_model("tiny_llama scalar", m, ref, 3, 7, 3, 1);
            tcf_kern_force_scalar(0);
        }
        tcf_llama_free(m);
    }
    tcf_llama *m = NULL;
    tcf_status st = tcf_llama_load(FIX "tiny_llama.gguf", &m);
    CHECK(st == TCF_OK, "load tiny_llama.gguf: %s", tcf_last_error());
    if (!st) {
        printf("tiny_llama.gguf (q/k permuted as llama.cpp does)\n");
        CHECK(m->cfg.rope_theta == 5000.0 && m->cfg.max_pos == 256, "gguf config: theta %g", m->cfg.rope_theta);
        check_model("tiny_llama.gguf", m, FIX "tiny_llama/ref", 3, 7, 3, 1);
    }
    tcf_llama_free(m);
}

static void test_smollm2(void) {
    if (access(SMOL, R_OK) != 0) {
        printf("SKIP SmolLM2 parity: %s absent (scripts/fetch_models.sh --all)\n", SMOL);
        return;
    }
    double t0 = tcf_now();
    tcf_llama *m = NULL;
    tcf_status st = tcf_llama_load(SMOL, &m);
    CHECK(st == TCF_OK, "load SmolLM2: %s", tcf_last_error());
    if (st) return;
    printf("SmolLM2-135M (Q4_1 GGUF dequantized; loaded in %.1f s)\n", tcf_now() - t0);
    CHECK(m->cfg.layers == 30 && m->cfg.hidden == 576 && m->cfg.heads == 9 && m->cfg.kv_heads == 3 &&
              m->cfg.inter == 1536 && m->cfg.vocab == 49152 && m->cfg.rope_theta == 100000.0 && m->cfg.pad_id == 2,
          "SmolLM2 config read wrong");
    check_model("smollm2", m, FIX "smollm2", 8, 12, 4, 0);
    tcf_llama_free(m);
}

/* ---- bad input ---------------------------------------------------------- */

static char tmpdir[64];

/* Write tmpdir/config.json = the tiny Llama's config with `from` replaced by
 * `to`, and link its weights (or `weights`, when given) as model.safetensors. */
static void make_dir(const char *from, const char *to, const char *weights) {
    size_t len;
    char *cfg = read_all(FIX "tiny_llama/config.json", &len);
    char *hit = cfg ? strstr(cfg, from) : NULL;
    CHECK(hit != NULL, "config has no '%s'", from);
    char path[128];
    snprintf(path, sizeof path, "%s/config.json", tmpdir);
    FILE *f = fopen(path, "w");
    if (hit) {
        fwrite(cfg, 1, (size_t)(hit - cfg), f);
        fputs(to, f);
        fputs(hit + strlen(from), f);
    }
    fclose(f);
    free(cfg);
    snprintf(path, sizeof path, "%s/model.safetensors", tmpdir);
    unlink(path);
    char target[512];
    if (weights && weights[0] == '/') snprintf(target, sizeof target, "%s", weights);
    else snprintf(target, sizeof target, "%s/%s", getcwd((char[400]){0}, 400), FIX "tiny_llama/model.safetensors");
    CHECK(symlink(target, path) == 0, "symlink %s", target);
}

static void expect_fail(const char *what, const char *path, tcf_status want, const char *needle) {
    tcf_llama *m = NULL;
    tcf_status st = tcf_llama_load(path, &m);
    CHECK(st == want && m == NULL, "%s: status %s (%s)", what, tcf_status_name(st), tcf_last_error());
    CHECK(strstr(tcf_last_error(), needle) != NULL, "%s: message '%s' lacks '%s'", what, tcf_last_error(), needle);
    printf("  bad input: %-30s -> %s\n", what, tcf_last_error());
    tcf_llama_free(m);
}

static void test_bad_input(void) {
    snprintf(tmpdir, sizeof tmpdir, "/tmp/tcf_llama_XXXXXX");
    CHECK(mkdtemp(tmpdir) != NULL, "mkdtemp");
    make_dir("\"model_type\": \"llama\"", "\"model_type\": \"mamba\"", NULL);
    CHECK(!tcf_llama_handles(tmpdir), "mamba is not a decoder tcf handles");
    expect_fail("unknown model_type", tmpdir, TCF_ERR_UNSUPPORTED, "model_type \"mamba\"");
    make_dir("\"intermediate_size\": 128", "\"intermediate_size\": 96", NULL);
    expect_fail("wrong intermediate_size", tmpdir, TCF_ERR_FORMAT,
                "tensor 'model.layers.0.mlp.down_proj.weight' has shape [64, 128], expected [64, 96]");
    make_dir("\"num_hidden_layers\": 2", "\"num_hidden_layers\": 3", NULL);
    expect_fail("missing layer", tmpdir, TCF_ERR_FORMAT, "tensor 'model.layers.2.input_layernorm.weight' is missing");
    make_dir("\"hidden_size\": 64,", "", NULL);
    expect_fail("missing hidden_size", tmpdir, TCF_ERR_FORMAT, "config.json: missing key \"hidden_size\"");
    make_dir("\"num_key_value_heads\": 2", "\"num_key_value_heads\": 3", NULL);
    expect_fail("heads not a multiple", tmpdir, TCF_ERR_FORMAT, "not a multiple of 3 kv heads");
    make_dir("\"rope_type\": \"default\"", "\"rope_type\": \"yarn\"", NULL);
    expect_fail("rope scaling", tmpdir, TCF_ERR_UNSUPPORTED, "RoPE scaling \"yarn\"");
    make_dir("\"hidden_act\": \"silu\"", "\"hidden_act\": \"gelu\"", NULL);
    expect_fail("activation", tmpdir, TCF_ERR_UNSUPPORTED, "hidden_act gelu");
    make_dir("{", "[", NULL);
    expect_fail("config not JSON", tmpdir, TCF_ERR_FORMAT, "config.json: not a JSON object");
    /* Qwen2 biases absent: Llama weights under a qwen2 config */
    make_dir("\"model_type\": \"llama\"", "\"model_type\": \"qwen2\"", NULL);
    expect_fail("qwen2 without biases", tmpdir, TCF_ERR_FORMAT, "'model.layers.0.self_attn.q_proj.bias' is missing");
    /* truncated safetensors */
    {
        size_t len;
        char *w = read_all(FIX "tiny_llama/model.safetensors", &len);
        char path[128];
        snprintf(path, sizeof path, "%s/trunc.safetensors", tmpdir);
        FILE *f = fopen(path, "wb");
        fwrite(w, 1, len / 2, f);
        fclose(f);
        free(w);
        make_dir("\"model_type\": \"llama\"", "\"model_type\": \"llama\"", path);
        snprintf(path, sizeof path, "%s/model.safetensors", tmpdir);
        expect_fail("truncated safetensors", tmpdir, TCF_ERR_FORMAT, path);
    }
    /* GGUF: another architecture, a missing key, a wrong shape */
    {
        size_t len;
        char *g = read_all(FIX "tiny_llama.gguf", &len);
        char path[128];
        snprintf(path, sizeof path, "%s/x.gguf", tmpdir);
        /* the value of general.architecture is the first "llama" after its key */
        char *k = g ? memmem(g, len, "general.architecture", 20) : NULL;
        char *v = k ? memmem(k, len - (size_t)(k - g), "llama", 5) : NULL;
        CHECK(v != NULL, "gguf fixture has general.architecture");
        if (v) {
            memcpy(v, "gemma", 5);
            FILE *f = fopen(path, "wb");
            fwrite(g, 1, len, f);
            fclose(f);
            expect_fail("gguf architecture", path, TCF_ERR_UNSUPPORTED, "general.architecture \"gemma\"");
            memcpy(v, "llama", 5);
        }
        /* rename a key: llama.block_count -> llama.block_xount */
        k = g ? memmem(g, len, "llama.block_count", 17) : NULL;
        if (k) {
            k[12] = 'x';
            FILE *f = fopen(path, "wb");
            fwrite(g, 1, len, f);
            fclose(f);
            expect_fail("gguf missing key", path, TCF_ERR_FORMAT, "key 'llama.block_count' is missing");
            k[12] = 'c';
        }
        /* rename a tensor: blk.1.ffn_up -> blk.1.ffn_uq */
        k = g ? memmem(g, len, "blk.1.ffn_up.weight", 19) : NULL;
        CHECK(k != NULL, "gguf fixture has blk.1.ffn_up.weight");
        if (k) {
            k[11] = 'q';
            FILE *f = fopen(path, "wb");
            fwrite(g, 1, len, f);
            fclose(f);
            expect_fail("gguf missing tensor", path, TCF_ERR_FORMAT, "tensor 'blk.1.ffn_up.weight' is missing");
        }
        free(g);
        unlink(path);
    }
    /* forward: bad ids, too long */
    tcf_llama *m = NULL;
    if (tcf_llama_load(FIX "tiny_llama", &m) == TCF_OK) {
        int32_t ids[3] = {5, 512, 7};
        uint8_t mk[3] = {1, 1, 1};
        float h[3 * 64];
        CHECK(tcf_llama_forward(m, 1, 3, ids, mk, h, 1) == TCF_ERR_ARG &&
                  strstr(tcf_last_error(), "token id 512 at (0, 1) outside vocab [0, 512)"),
              "out-of-vocab id: %s", tcf_last_error());
        CHECK(tcf_llama_forward(m, 1, 300, ids, mk, h, 1) == TCF_ERR_ARG &&
                  strstr(tcf_last_error(), "sequence length 300 exceeds the model's 256 positions"),
              "too long: %s", tcf_last_error());
    }
    tcf_llama_free(m);
    char path[128];
    snprintf(path, sizeof path, "%s/config.json", tmpdir);
    unlink(path);
    snprintf(path, sizeof path, "%s/model.safetensors", tmpdir);
    unlink(path);
    snprintf(path, sizeof path, "%s/trunc.safetensors", tmpdir);
    unlink(path);
    rmdir(tmpdir);
}

int main(void) {
    test_kernels();
    test_tiny();
    test_bad_input();
    test_smollm2();
    return check_summary("test_llama");
}
