/*
 * test_export.c — `tcf export` (model/export.c) and the PEFT interchange.
 *
 * 1. SHA-256 (base/sha256.c) against the FIPS 180-2 example vectors.
 * 2. A LoRA adapter trained in Python with PEFT 0.21 (tests/fixtures/peft,
 *    tests/ref/gen_peft_fixtures.py: r=4 on query,value, random non-zero A
 *    and B, 3 AdamW steps) loaded as a tcf run (a tcf_run.json pointing at
 *    models/all-MiniLM-L6-v2) reproduces PEFT's logits for 8 texts.
 * 3. That run exported to GGUF as f32 / f16 / bf16 / q8_0 / q4_0 / q4_k
 *    (Q8_0 for q4_k's rows of 384): the file
 *    holds llama.cpp's BERT keys and names with the requested types, loads
 *    back with tcf_classifier_load, and gives the run directory's
 *    probabilities (f32: within 1e-5; the other types: diffs printed, loose
 *    bounds checked).
 * 4. Bad files: truncations of the export, another architecture, a llama or BERT GGUF
 *    not written by tcf, missing keys and tensors: each fails with the path,
 *    key or tensor in the message; a failed export leaves no file.
 * 5. `--format peft`: the adapter written back has PEFT's key names and the
 *    same values.
 */
#include "base/base.h"
#include "base/sha256.h"
#include "check.h"
#include "io/gguf_write.h"
#include "model/export.h"
#include "model/infer.h"
#include "kern/kern.h"
#include "tcf.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define FIX "tests/fixtures/peft/"
#define MODEL "models/all-MiniLM-L6-v2"
#define NT 8
#define K 4

static char tmp[64], run[128];
static char *texts[NT];

static void test_sha256(void) {
    char hex[65];
    tcf_sha256_hex("abc", 3, hex);
    CHECK(!strcmp(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"), "abc: %s", hex);
    tcf_sha256_hex("", 0, hex);
    CHECK(!strcmp(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"), "empty: %s", hex);
    const char *m = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    tcf_sha256_hex(m, strlen(m), hex);
    CHECK(!strcmp(hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"), "448 bits: %s", hex);
    /* one million 'a', fed in uneven pieces */
    tcf_sha256_ctx c;
    uint8_t d[32], buf[1000];
    memset(buf, 'a', sizeof buf);
    tcf_sha256_init(&c);
    for (int done = 0, k = 1; done < 1000000; k = k % 997 + 1) {
        int n = 1000000 - done < k ? 1000000 - done : k;
        tcf_sha256_update(&c, buf, (size_t)n);
        done += n;
    }
    tcf_sha256_final(&c, d);
    CHECK(d[0] == 0xcd && d[1] == 0xc7 && d[31] == 0xd0, "million a: %02x%02x..%02x", d[0], d[1], d[31]);
    CHECK(tcf_sha256_file("/nonexistent/x", hex) == TCF_ERR_IO && strstr(tcf_last_error(), "/nonexistent/x"),
          "missing file: %s", tcf_last_error());
}

static int copy_file(const char *from, const char *to) {
    char *d;
    size_t n;
    if (tcf_read_file(from, &d, &n)) return 0;
    FILE *f = fopen(to, "wb");
    int ok = f && fwrite(d, 1, n, f) == n;
    if (f) ok = fclose(f) == 0 && ok;
    free(d);
    return ok;
}

/* A run directory around the PEFT fixture adapter. */
static int make_run(void) {
    char p[256], q[256];
    snprintf(run, sizeof run, "%s/run", tmp);
    if (mkdir(run, 0755)) return 0;
    const char *files[] = {"adapter_config.json", "adapter_model.safetensors"};
    for (int i = 0; i < 2; i++) {
        snprintf(p, sizeof p, FIX "adapter/%s", files[i]);
        snprintf(q, sizeof q, "%s/%s", run, files[i]);
        if (!copy_file(p, q)) return 0;
    }
    snprintf(p, sizeof p, "%s/tcf_run.json", run);
    FILE *f = fopen(p, "w");
    if (!f) return 0;
    fprintf(f, "{\"format\": \"tcf-run\", \"version\": 1, \"base_model\": \"%s\", \"architecture\": "
               "\"bert-sequence-classification\", \"max_len\": 128, \"labels\": [\"billing\", \"delivery\", "
               "\"account\", \"other\"], \"train_config\": {\"mode\": \"lora\", \"train\": \"" FIX "texts.txt\"}, "
               "\"best_epoch\": 1, \"history\": [{\"epoch\": 1, \"valid_accuracy\": 0.5}]}\n", MODEL);
    return fclose(f) == 0;
}

static void load_texts(void) {
    FILE *f = fopen(FIX "texts.txt", "r");
    char line[1024];
    for (int n = 0; n < NT; n++) {
        if (!f || !fgets(line, sizeof line, f)) line[0] = 0;
        line[strcspn(line, "\n")] = 0;
        texts[n] = strdup(line);
    }
    if (f) fclose(f);
}

static int classify_qp(const char *path, int keep_f32, int qpath, int *quantized, float *probs);
static int classify_opt(const char *path, int keep_f32, int *quantized, float *probs) {
    return classify_qp(path, keep_f32, TCF_QPATH_DECODE, quantized, probs);
}
static int classify(const char *path, float *probs) { return classify_opt(path, 0, NULL, probs); }

/* keep_f32 and qpath as tcf_classifier_opts; *quantized: whether the encoder
 * kept quantized dense weights. All NT texts in one call (one batch). */
static int classify_qp(const char *path, int keep_f32, int qpath, int *quantized, float *probs) {
    tcf_classifier *c;
    tcf_classifier_opts o = {2, 0, 0, keep_f32, qpath};
    if (tcf_classifier_load(path, &o, &c)) {
        fprintf(stderr, "load %s: %s\n", path, tcf_last_error());
        return 0;
    }
    int ok = tcf_classifier_n_classes(c) == K && !strcmp(tcf_classifier_label(c, 2), "account") &&
             tcf_classifier_max_len(c) == 128;
    ok = ok && !tcf_classifier_classify(c, NT, (const char *const *)texts, NULL, probs);
    if (quantized) *quantized = c->m->qdense != NULL;
    if (!ok) fprintf(stderr, "classify %s: %s\n", path, tcf_last_error());
    tcf_classifier_free(c);
    return ok;
}

/* 2. PEFT's logits from the run directory. */
static void test_peft_logits(float *run_probs) {
    float logits[NT * K], want[NT * K], got[NT * K];
    FILE *f = fopen(FIX "logits.f32", "rb");
    CHECK(f && fread(logits, sizeof logits, 1, f) == 1, "read logits.f32");
    if (f) fclose(f);
    CHECK(classify(run, run_probs), "classify the run");
    /* softmax of PEFT's logits; and the logits centred per row, recovered
     * from our probabilities as log p - mean(log p) */
    float zc[NT * K];
    for (int i = 0; i < NT; i++) {
        double mx = -1e30, s = 0, mz = 0, ml = 0;
        for (int k = 0; k < K; k++) mx = fmax(mx, logits[i * K + k]);
        for (int k = 0; k < K; k++) s += exp(logits[i * K + k] - mx);
        for (int k = 0; k < K; k++) {
            want[i * K + k] = (float)(exp(logits[i * K + k] - mx) / s);
            mz += logits[i * K + k] / K, ml += log(run_probs[i * K + k]) / K;
        }
        for (int k = 0; k < K; k++) {
            zc[i * K + k] = (float)(logits[i * K + k] - mz);
            got[i * K + k] = (float)(log(run_probs[i * K + k]) - ml);
        }
    }
    check_close("PEFT probabilities vs tcf run", run_probs, want, NT * K, 1e-6, 1e-4);
    check_close("PEFT logits (centred) vs tcf run", got, zc, NT * K, 1e-5, 1e-4);
}

static void max_diff(const char *what, const float *a, const float *b, double bound) {
    double mx = 0;
    int agree = 0;
    for (int i = 0; i < NT; i++) {
        int ia = 0, ib = 0;
        for (int k = 0; k < K; k++) {
            mx = fmax(mx, fabs(a[i * K + k] - b[i * K + k]));
            if (a[i * K + k] > a[i * K + ia]) ia = k;
            if (b[i * K + k] > b[i * K + ib]) ib = k;
        }
        agree += ia == ib;
    }
    printf("  %-48s max |dp| = %.3g, top-1 agrees %d/%d\n", what, mx, agree, NT);
    CHECK(mx <= bound, "%s: max |dp| %g > %g", what, mx, bound);
}

/* Probabilities of each text classified alone (batch 1), with qpath. */
static int classify_each(const char *path, int qpath, float *probs) {
    tcf_classifier *c;
    tcf_classifier_opts o = {2, 0, 0, 0, qpath};
    if (tcf_classifier_load(path, &o, &c)) return 0;
    int ok = 1;
    for (int i = 0; i < NT && ok; i++) ok = !tcf_classifier_classify(c, 1, (const char *const *)texts + i, NULL, probs + i * K);
    tcf_classifier_free(c);
    return ok;
}

/* 3b. The integer path (TCF_QPATH_INT8: activations rounded to Q8_0) vs the
 * exact decode path on a Q8_0 / Q4_0 export: close (the bound is the
 * activations' rounding, ~1/254 relative per product, through 6 layers);
 * AVX2 vs the scalar reference kernels (tcf_kern_force_scalar) on the
 * integer path: within the same bound, not closer: the two forwards' f32
 * inputs to each product differ in the last bits (summation order), which
 * moves some activations across a Q8_0 rounding boundary, and those code
 * changes propagate (the decode path, which rounds nothing, agrees to 3e-7
 * here; the kernels themselves agree to 1e-6, test_qgemm); AUTO picks INT8 for forwards of
 * at most TCF_QPATH_AUTO_ROWS tokens and DECODE above, bit for bit; a qpath
 * that is none of the three is refused. `decode` holds the decode path's
 * probabilities (all texts in one batch). */
static void test_qpath(const char *path, const char *type, const float *decode) {
    char what[96];
    float i8[NT * K], i8s[NT * K], a[NT * K], one_i8[NT * K], one_dec[NT * K];
    int q = 0;
    CHECK(classify_qp(path, 0, TCF_QPATH_INT8, &q, i8) && q, "classify %s int8", path);
    snprintf(what, sizeof what, "%s int8 path vs decode path", type);
    max_diff(what, i8, decode, 2e-2);
    tcf_kern_force_scalar(1);
    CHECK(classify_qp(path, 0, TCF_QPATH_INT8, &q, i8s), "classify %s int8 scalar", path);
    tcf_kern_force_scalar(0);
    snprintf(what, sizeof what, "%s int8 path AVX2 vs scalar reference", type);
    max_diff(what, i8, i8s, 2.5e-2);

    /* batch of NT texts: B*T > TCF_QPATH_AUTO_ROWS rows, so DECODE */
    CHECK(classify_qp(path, 0, TCF_QPATH_AUTO, &q, a), "classify %s auto", path);
    CHECK(!memcmp(a, decode, sizeof a), "%s: auto on a batch of %d texts differs from decode", type, NT);
    /* one text at a time: short ones (<= TCF_QPATH_AUTO_ROWS tokens) take INT8 */
    CHECK(classify_each(path, TCF_QPATH_AUTO, a) && classify_each(path, TCF_QPATH_INT8, one_i8) &&
          classify_each(path, TCF_QPATH_DECODE, one_dec), "classify %s one by one", path);
    tcf_classifier *c = NULL;
    tcf_classifier_opts o = {1, 0, 0, 0, 0};
    int n_short = 0, n_long = 0;
    CHECK(!tcf_classifier_load(path, &o, &c), "load %s", path);
    for (int i = 0; c && i < NT; i++) {
        int32_t ids[256];
        int n = 0;
        const tcf_encode_opts eo = {1, tcf_classifier_max_len(c)};
        CHECK(!tcf_tokenizer_encode(tcf_classifier_tokenizer(c), texts[i], strlen(texts[i]), &eo, ids, 256, &n), "encode");
        const float *want = n <= TCF_QPATH_AUTO_ROWS ? one_i8 : one_dec;
        n_short += n <= TCF_QPATH_AUTO_ROWS, n_long += n > TCF_QPATH_AUTO_ROWS;
        CHECK(!memcmp(a + i * K, want + i * K, sizeof(float) * K), "%s text %d (%d tokens): auto took the wrong path",
              type, i + 1, n);
    }
    tcf_classifier_free(c);
    printf("  %-48s %d short texts on int8, %d long on decode\n", "auto path one text at a time", n_short, n_long);
    CHECK(n_short > 0 && n_long > 0, "the texts should cover both paths (%d short, %d long)", n_short, n_long);
    tcf_classifier *bad = (tcf_classifier *)1;
    tcf_classifier_opts ob = {1, 0, 0, 0, 7};
    tcf_status st = tcf_classifier_load(path, &ob, &bad);
    CHECK(st == TCF_ERR_ARG && !bad && strstr(tcf_last_error(), "qpath 7"), "qpath 7: %s %s", tcf_status_name(st),
          tcf_last_error());
}

/* INT8 on an f32 export: the encoder's dense weights become per-row int8 at
 * load (kern/i8gemm.h); the probabilities stay near f32's. The scalar
 * build agrees loosely only: its f32 parts round differently (~1e-6), which
 * moves some activations across an int8 rounding boundary (as the Q8_0
 * path; test_i8gemm checks the kernels themselves bit for bit). */
static void test_i8_path(const char *path, const float *f32) {
    float i8[NT * K], i8s[NT * K];
    tcf_classifier *c = NULL;
    tcf_classifier_opts o = {2, 0, 0, 0, TCF_QPATH_INT8};
    CHECK(!tcf_classifier_load(path, &o, &c) && c->m->i8dense && !c->m->qdense, "int8 on f32: %s", tcf_last_error());
    CHECK(c && !tcf_classifier_classify(c, NT, (const char *const *)texts, NULL, i8), "classify: %s", tcf_last_error());
    tcf_classifier_free(c);
    max_diff("f32 export, per-row int8 path vs f32", i8, f32, 4e-2); /* measured 0.025 */
    tcf_kern_force_scalar(1);
    int q = 0;
    CHECK(classify_qp(path, 0, TCF_QPATH_INT8, &q, i8s) && !q, "classify int8 scalar");
    tcf_kern_force_scalar(0);
    max_diff("per-row int8 path AVX2 vs scalar reference", i8, i8s, 4e-2); /* measured 0.031 */
    /* auto and decode leave an f32 model f32 */
    CHECK(classify_qp(path, 0, TCF_QPATH_AUTO, &q, i8s) && !memcmp(i8s, f32, sizeof i8s), "auto changed the f32 model");
}

static void expect_load_fail(const char *what, const char *path, tcf_status want, const char *needle);

/* Write `n` bytes at file offset `off` of a copy of `from` at `to`. */
static int patch_copy(const char *from, const char *to, off_t off, const void *bytes, size_t n) {
    if (!copy_file(from, to)) return 0;
    FILE *f = fopen(to, "r+b");
    int ok = f && fseeko(f, off, SEEK_SET) == 0 && fwrite(bytes, 1, n, f) == n;
    if (f) ok = fclose(f) == 0 && ok;
    return ok;
}

/* File offset of byte `at` of tensor `name` in the GGUF at path. */
static off_t tensor_offset(const char *path, const char *name, size_t at) {
    tcf_gguf *g = NULL;
    off_t off = -1;
    if (!tcf_gguf_open(path, &g)) {
        const tcf_gguf_tensor *t = tcf_gguf_tensor_find(g, name);
        if (t && at < t->nbytes) off = (off_t)(tcf_gguf_data_offset(g) + t->offset + at);
    }
    tcf_gguf_free(g);
    return off;
}

/* 3c. A Q8_0 / Q4_0 export is used in place from the file's map
 * (tcf_bert_load_gguf_mapped): its probabilities equal the earlier load's
 * (widen every tensor to f32, then tcf_bert_quantize) bit for bit; a block
 * scale or an F32 value that is not finite is refused naming the tensor.
 * `mapped_probs`: the default load's probabilities (decode path). */
static void test_mapped(const char *path, const char *type, tcf_ggml_type t, const float *mapped_probs) {
    const tcf_qtype qt = t == TCF_GGML_Q8_0 ? TCF_QTYPE_Q8_0 : t == TCF_GGML_Q4_0 ? TCF_QTYPE_Q4_0 : TCF_QTYPE_Q4_K;
    tcf_classifier *c = NULL;
    tcf_classifier_opts o = {2, 0, 0, 0, TCF_QPATH_DECODE};
    CHECK(!tcf_classifier_load(path, &o, &c) && c->m->map && c->m->qdense && !c->m->qdense[1].owned &&
              c->m->qdense[0].owned,
          "%s: default load is mapped (views, q|k|v fused): %s", type, tcf_last_error());
    tcf_classifier_free(c);
    c = NULL;
    o.keep_f32 = 1;
    float old[NT * K];
    /* Q4_K blocks re-quantized from their decoded weights need not come
     * back the same (the scale search runs on other data): that file is
     * compared with its widened load by the caller only */
    if (qt != TCF_QTYPE_Q4_K) {
        CHECK(!tcf_classifier_load(path, &o, &c) && !c->m->map && !tcf_bert_quantize(c->m, qt) &&
                  !tcf_classifier_classify(c, NT, (const char *const *)texts, NULL, old),
              "%s: widened + re-quantized load: %s", type, tcf_last_error());
        tcf_classifier_free(c);
        char what[96];
        snprintf(what, sizeof what, "%s mapped vs widened + tcf_bert_quantize", type);
        max_diff(what, mapped_probs, old, 0);
        CHECK(!memcmp(mapped_probs, old, sizeof old), "%s: mapped load differs from the earlier load", type);
    }
    /* bad values in the file */
    char p[160];
    snprintf(p, sizeof p, "%s/bad_%s.gguf", tmp, type);
    const uint8_t inf_f16[2] = {0x00, 0x7c}; /* +inf */
    /* q4_k: FFN down is the Q4_K weight (rows of 1536); its dmin too */
    const char *wname = qt == TCF_QTYPE_Q4_K ? "blk.2.ffn_down.weight" : "blk.2.ffn_up.weight";
    const size_t bb = qt == TCF_QTYPE_Q8_0 ? 34 : qt == TCF_QTYPE_Q4_0 ? 18 : 144;
    char needle[64];
    snprintf(needle, sizeof needle, "'%s': block 5", wname);
    off_t off = tensor_offset(path, wname, bb * 5);
    CHECK(off > 0 && patch_copy(path, p, off, inf_f16, 2), "patch scale");
    expect_load_fail("infinite block scale", p, TCF_ERR_FORMAT, needle);
    if (qt == TCF_QTYPE_Q4_K) {
        off = tensor_offset(path, wname, bb * 5 + 2);
        CHECK(off > 0 && patch_copy(path, p, off, inf_f16, 2), "patch dmin");
        expect_load_fail("infinite block dmin", p, TCF_ERR_FORMAT, needle);
        /* q, k and v are fused: one type. attn_k relabelled Q4_0 (its bytes
         * would not even fit: the type check comes first either way) */
        tcf_gguf *g = NULL;
        if (!tcf_gguf_open(path, &g)) {
            const tcf_gguf_tensor *tk = tcf_gguf_tensor_find(g, "blk.1.attn_k.weight");
            CHECK(tk != NULL, "attn_k");
            /* the tensor info's type field follows its name, n_dims and dims */
            off_t info = -1;
            char *hdr;
            size_t len;
            if (tk && !tcf_read_file(path, &hdr, &len)) {
                const char *nm = "blk.1.attn_k.weight";
                for (size_t i = 0; i + strlen(nm) + 8 < len && i < tcf_gguf_data_offset(g); i++)
                    if (!memcmp(hdr + i, nm, strlen(nm)) && hdr[i + strlen(nm)] == 2) {
                        info = (off_t)(i + strlen(nm) + 4 + 16);
                        break;
                    }
                free(hdr);
            }
            const uint8_t q40[4] = {TCF_GGML_Q4_0, 0, 0, 0};
            CHECK(info > 0 && patch_copy(path, p, info, q40, 4), "patch attn_k type");
            tcf_classifier *c2 = NULL;
            tcf_status st = tcf_classifier_load(p, NULL, &c2);
            CHECK(st == TCF_ERR_FORMAT && !c2 && strstr(tcf_last_error(), "'blk.1.attn_k.weight' is Q4_0, attn_q q8_0"),
                  "attn_k of another type than attn_q: %s %s", tcf_status_name(st), tcf_last_error());
            tcf_classifier_free(c2);
        }
        tcf_gguf_free(g);
    }
    const float nan = NAN;
    off = tensor_offset(path, "token_embd.weight", 4 * (384 * 2000 + 7));
    CHECK(off > 0 && patch_copy(path, p, off, &nan, 4), "patch embedding");
    expect_load_fail("NaN embedding", p, TCF_ERR_FORMAT, "'token_embd.weight': element 768007");
    off = tensor_offset(path, "blk.4.layer_output_norm.bias", 4 * 3);
    CHECK(off > 0 && patch_copy(path, p, off, &nan, 4), "patch bias");
    expect_load_fail("NaN LayerNorm bias", p, TCF_ERR_FORMAT, "'blk.4.layer_output_norm.bias'");
    unlink(p);
}

/* 3. Export in each type and read back. */
static void test_export_types(const float *run_probs, char *f32_path) {
    static const struct { const char *name; double bound; } types[] = {
        {"f32", 1e-5}, {"q4_0", 0.25},
#ifndef __SANITIZE_ADDRESS__ /* ~20x slower there; the encoders are checked byte for byte in test_quantize */
        {"f16", 2e-3}, {"bf16", 2e-2}, {"q8_0", 2e-2}, {"q4_k", 0.25},
#endif
    };
    for (size_t i = 0; i < sizeof types / sizeof *types; i++) {
        char path[160], what[64];
        snprintf(path, sizeof path, "%s/m_%s.gguf", tmp, types[i].name);
        int t = tcf_export_type_parse(types[i].name);
        tcf_status st = tcf_export_gguf(run, path, (tcf_ggml_type)t, -1);
        CHECK(!st, "export %s: %s", types[i].name, tcf_last_error());
        if (st) continue;
        tcf_gguf *g = NULL;
        CHECK(!tcf_gguf_open(path, &g), "open %s: %s", path, tcf_last_error());
        if (g) {
            const char *s;
            int64_t v;
            CHECK(!tcf_gguf_get_str(g, "general.architecture", &s) && !strcmp(s, "bert"), "arch");
            CHECK(!tcf_gguf_get_i64(g, "bert.block_count", &v) && v == 6, "block_count");
            CHECK(!tcf_gguf_get_i64(g, "bert.pooling_type", &v) && v == 4, "pooling_type");
            CHECK(!tcf_gguf_get_i64(g, "tcf.max_len", &v) && v == 128, "max_len");
            CHECK(!tcf_gguf_get_str(g, "tcf.source.base_sha256", &s) && strlen(s) == 64, "base sha");
            CHECK(!tcf_gguf_get_str(g, "tcf.source.train_sha256", &s) && strlen(s) == 64, "train sha");
            CHECK(!tcf_gguf_get_str(g, "tcf.run_json", &s) && strstr(s, "\"best_epoch\""), "run json");
            CHECK(tcf_gguf_tensor_count(g) == 5 + 16 * 6 + 4, "%lld tensors", (long long)tcf_gguf_tensor_count(g));
            const tcf_gguf_tensor *q = tcf_gguf_tensor_find(g, "blk.5.attn_v.weight"),
                                  *e = tcf_gguf_tensor_find(g, "token_embd.weight"),
                                  *p = tcf_gguf_tensor_find(g, "cls.weight"),
                                  *h = tcf_gguf_tensor_find(g, "cls.output.weight");
            /* q4_k: rows of 384 are not whole super-blocks, Q8_0 instead;
             * FFN down's rows of 1536 are */
            const int t384 = (int)tcf_export_dense_type((tcf_ggml_type)t, 384);
            const tcf_gguf_tensor *fd = tcf_gguf_tensor_find(g, "blk.5.ffn_down.weight");
            CHECK(q && (int)q->type == t384 && q->ne[0] == 384 && q->ne[1] == 384, "attn_v type/shape");
            CHECK(p && (int)p->type == t384, "pooler type");
            CHECK(fd && (int)fd->type == t && fd->ne[0] == 1536, "ffn_down type %d", fd ? (int)fd->type : -1);
            CHECK(e && e->type == TCF_GGML_F32 && e->ne[0] == 384 && e->ne[1] == 30522, "token_embd");
            CHECK(h && h->type == TCF_GGML_F32 && h->ne[0] == 384 && h->ne[1] == K, "head");
            tcf_gguf_type et;
            uint64_t n;
            const tcf_gguf_value *arr;
            CHECK(!tcf_gguf_get_array(g, "tokenizer.ggml.tokens", &et, &n, &arr) && n == 30522, "tokens");
            const char *t101 = NULL, *t2000 = NULL;
            tcf_gguf_array_str(arr, 101, &t101, NULL);
            tcf_gguf_array_str(arr, 2000, &t2000, NULL);
            CHECK(t101 && !strcmp(t101, "[CLS]"), "token 101 '%s'", t101 ? t101 : "");
            CHECK(t2000 && !strncmp(t2000, "\xe2\x96\x81", 3), "token 2000 in phantom-space form: '%s'", t2000 ? t2000 : "");
            tcf_gguf_free(g);
        }
        float probs[NT * K];
        CHECK(classify(path, probs), "classify %s", path);
        snprintf(what, sizeof what, "export %s vs run directory", types[i].name);
        max_diff(what, probs, run_probs, types[i].bound);
        if (t == TCF_GGML_Q8_0 || t == TCF_GGML_Q4_0 || t == TCF_GGML_Q4_K) {
            /* kept quantized in memory (the default) vs widened to f32 at
             * load: the same weights, so the same probabilities */
            float wide[NT * K];
            int q_default = 0, q_wide = 1;
            CHECK(classify_opt(path, 0, &q_default, probs) && classify_opt(path, 1, &q_wide, wide), "classify %s", path);
            CHECK(q_default && !q_wide, "%s: quantized in memory by default (%d), widened with keep_f32 (%d)",
                  types[i].name, q_default, q_wide);
            snprintf(what, sizeof what, "%s in memory vs widened to f32", types[i].name);
            max_diff(what, probs, wide, 1e-6);
            test_qpath(path, types[i].name, probs);
            test_mapped(path, types[i].name, (tcf_ggml_type)t, probs);
        }
        if (t == TCF_GGML_F32) test_i8_path(path, probs);
        if (i == 0) strcpy(f32_path, path);
        else unlink(path);
    }
}

static void expect_load_fail(const char *what, const char *path, tcf_status want, const char *needle) {
    tcf_classifier *c = (tcf_classifier *)1;
    tcf_status st = tcf_classifier_load(path, NULL, &c);
    CHECK(st == want && c == NULL, "%s: status %s, wanted %s", what, tcf_status_name(st), tcf_status_name(want));
    CHECK(strstr(tcf_last_error(), path) && strstr(tcf_last_error(), needle), "%s: message '%s' lacks '%s'", what,
          tcf_last_error(), needle);
    if (!st) tcf_classifier_free(c);
}

/* A small GGUF with the given architecture and, optionally, a tcf.format_version. */
static void write_stub(const char *path, const char *arch, int with_tcf, int with_block_count) {
    tcf_gguf_writer *w;
    tcf_gguf_writer_new(&w);
    tcf_gguf_put_str(w, "general.architecture", arch, strlen(arch));
    if (with_tcf) tcf_gguf_put_u32(w, "tcf.format_version", 1);
    tcf_gguf_put_u32(w, "bert.embedding_length", 32);
    if (with_block_count) tcf_gguf_put_u32(w, "bert.block_count", 1);
    tcf_gguf_put_u32(w, "bert.attention.head_count", 2);
    tcf_gguf_put_u32(w, "bert.feed_forward_length", 64);
    tcf_gguf_put_u32(w, "bert.context_length", 16);
    tcf_gguf_put_f32(w, "bert.attention.layer_norm_epsilon", 1e-12f);
    float x[32] = {0};
    int64_t ne[1] = {32};
    tcf_gguf_put_tensor(w, "token_embd_norm.weight", TCF_GGML_F32, 1, ne, x, sizeof x);
    CHECK(!tcf_gguf_writer_save(w, path), "stub: %s", tcf_last_error());
    tcf_gguf_writer_free(w);
}

/* 4. Bad files. */
static void test_bad(const char *f32_path) {
    char p[160];
    struct stat sb;
    CHECK(!stat(f32_path, &sb), "stat");
    /* truncations: in the header, the metadata, the tensor table, the
     * data, one byte short */
    snprintf(p, sizeof p, "%s/trunc.gguf", tmp);
    CHECK(copy_file(f32_path, p), "copy");
    /* the end of the last tensor's bytes (the zero padding after it may go) */
    tcf_gguf *g = NULL;
    off_t end = 0;
    CHECK(!tcf_gguf_open(f32_path, &g), "open: %s", tcf_last_error());
    for (int64_t i = 0; g && i < tcf_gguf_tensor_count(g); i++) {
        const tcf_gguf_tensor *t = tcf_gguf_tensor_at(g, i);
        off_t e = (off_t)(tcf_gguf_data_offset(g) + t->offset + t->nbytes);
        if (e > end) end = e;
    }
    tcf_gguf_free(g);
    const off_t cuts[] = {end - 1, (off_t)sb.st_size / 2, 2000000, 600000, 1000, 20, 3, 0};
    for (size_t i = 0; i < sizeof cuts / sizeof *cuts; i++) {
        char what[64];
        CHECK(!truncate(p, cuts[i]), "truncate");
        snprintf(what, sizeof what, "truncated to %lld bytes", (long long)cuts[i]);
        expect_load_fail(what, p, TCF_ERR_FORMAT, "");
    }
    unlink(p);
    snprintf(p, sizeof p, "%s/llama.gguf", tmp);
    write_stub(p, "gpt2", 1, 1);
    expect_load_fail("another architecture", p, TCF_ERR_UNSUPPORTED, "'general.architecture' is \"gpt2\"");
    /* llama is a decoder classifier's architecture (model/export_llama.c) */
    write_stub(p, "llama", 1, 1);
    expect_load_fail("llama without its keys", p, TCF_ERR_FORMAT, "'llama.block_count' is missing");
    const char *smol = "models/SmolLM2-135M-Instruct/SmolLM2-135M-Instruct.Q4_1.gguf";
    if (tcf_file_exists(smol))
        expect_load_fail("SmolLM2, not from tcf export", smol, TCF_ERR_FORMAT, "'tcf.format_version' is missing");
    else printf("  SKIP SmolLM2 not-an-export case (%s absent)\n", smol);
    snprintf(p, sizeof p, "%s/plain_bert.gguf", tmp);
    write_stub(p, "bert", 0, 1);
    expect_load_fail("bert, not from tcf export", p, TCF_ERR_FORMAT, "'tcf.format_version' is missing");
    write_stub(p, "bert", 1, 0);
    expect_load_fail("missing key", p, TCF_ERR_FORMAT, "'bert.block_count' is missing");
    write_stub(p, "bert", 1, 1);
    expect_load_fail("missing tensors", p, TCF_ERR_FORMAT, "token_embd.weight");
    /* found by fuzz_export_gguf: a tiny export whose weights hold NaN (once
     * loaded, every probability was NaN) */
    expect_load_fail("non-finite weight", "tests/regress/export_nonfinite_weight.gguf", TCF_ERR_FORMAT, "not finite");
    /* the fuzzer's seeds (tiny valid exports) load */
    const char *seeds[] = {"fuzz/seeds/export/tiny_f32.gguf", "fuzz/seeds/export/tiny_q8_0.gguf"};
    for (int i = 0; i < 2; i++) {
        tcf_classifier *c = NULL;
        CHECK(!tcf_classifier_load(seeds[i], NULL, &c) && tcf_classifier_n_classes(c) == 3, "%s: %s", seeds[i],
              tcf_last_error());
        tcf_classifier_free(c);
    }
    unlink(p);
    snprintf(p, sizeof p, "%s/llama.gguf", tmp);
    unlink(p);
    /* failed exports leave nothing */
    snprintf(p, sizeof p, "%s/no/such/dir.gguf", tmp);
    CHECK(tcf_export_gguf(run, p, TCF_GGML_Q8_0, -1) == TCF_ERR_IO && strstr(tcf_last_error(), p), "export to missing dir: %s",
          tcf_last_error());
    CHECK(!tcf_file_exists(p), "partial file left");
    snprintf(p, sizeof p, "%s/x.gguf", tmp);
    CHECK(tcf_export_gguf(tmp, p, TCF_GGML_F32, -1) != TCF_OK && strstr(tcf_last_error(), "not a tcf run directory"),
          "export of a non-run: %s", tcf_last_error());
    CHECK(!tcf_file_exists(p), "file left after a failed export");
    CHECK(tcf_export_type_parse("q6_k") == -1 && tcf_export_type_parse("q8_0") == TCF_GGML_Q8_0 &&
              tcf_export_type_parse("q4_k") == TCF_GGML_Q4_K,
          "type names");
}

/* 4b. The abstain threshold: `--abstain-below P` stores tcf.abstain_below,
 * read back by tcf_classifier_abstain_below (none: < 0, also for run
 * directories); thresholds outside [0, 1] or NaN are refused at export (no
 * file), and a file whose key is out of range or not a float at load. */
static void test_abstain(void) {
    char p[160], q[160];
    snprintf(p, sizeof p, "%s/abstain.gguf", tmp);
    snprintf(q, sizeof q, "%s/abstain_bad.gguf", tmp);
    tcf_classifier *c = NULL;
    CHECK(!tcf_classifier_load(run, NULL, &c) && tcf_classifier_abstain_below(c) < 0, "run dir: no threshold");
    tcf_classifier_free(c);
    CHECK(!tcf_export_gguf(run, p, TCF_GGML_Q4_0, 0.4), "export --abstain-below 0.4: %s", tcf_last_error());
    c = NULL;
    CHECK(!tcf_classifier_load(p, NULL, &c) && fabs(tcf_classifier_abstain_below(c) - 0.4) < 1e-7,
          "threshold read back: %g", c ? tcf_classifier_abstain_below(c) : -9);
    tcf_classifier_free(c);
    const double bad[] = {1.5, NAN, INFINITY, 1.0000001};
    for (int i = 0; i < 4; i++) {
        CHECK(tcf_export_gguf(run, q, TCF_GGML_Q4_0, bad[i]) == TCF_ERR_ARG && strstr(tcf_last_error(), "abstain"),
              "threshold %g: %s", bad[i], tcf_last_error());
        CHECK(!tcf_file_exists(q), "threshold %g left a file", bad[i]);
    }
    /* patch the stored value (f32 after the key and its type) */
    char *d;
    size_t n;
    CHECK(!tcf_read_file(p, &d, &n), "read");
    const char *key = "tcf.abstain_below";
    off_t at = -1;
    for (size_t i = 0; i + strlen(key) + 8 <= n && at < 0; i++)
        if (!memcmp(d + i, key, strlen(key))) at = (off_t)(i + strlen(key));
    free(d);
    CHECK(at > 0, "key not found in the file");
    const float two = 2.0f, nan = NAN;
    CHECK(patch_copy(p, q, at + 4, &two, 4), "patch");
    expect_load_fail("threshold 2 in the file", q, TCF_ERR_FORMAT, "'tcf.abstain_below' = 2 is not in [0, 1]");
    CHECK(patch_copy(p, q, at + 4, &nan, 4), "patch");
    expect_load_fail("NaN threshold in the file", q, TCF_ERR_FORMAT, "'tcf.abstain_below'");
    const uint32_t u32 = 4; /* GGUF type u32 */
    CHECK(patch_copy(p, q, at, &u32, 4), "patch");
    expect_load_fail("threshold of type u32", q, TCF_ERR_FORMAT, "'tcf.abstain_below' is u32");
    unlink(p), unlink(q);
}

/* 5. PEFT export. */
static void test_peft_export(void) {
    char out[160], p[200];
    snprintf(out, sizeof out, "%s/peft", tmp);
    CHECK(!tcf_export_peft(run, out), "export peft: %s", tcf_last_error());
    snprintf(p, sizeof p, "%s/adapter_model.safetensors", out);
    tcf_safetensors *a = NULL, *b = NULL;
    CHECK(!tcf_safetensors_open(p, &a), "open: %s", tcf_last_error());
    CHECK(!tcf_safetensors_open(FIX "adapter/adapter_model.safetensors", &b), "open fixture");
    if (a && b) {
        CHECK(tcf_safetensors_count(a) == tcf_safetensors_count(b), "%d vs %d tensors", tcf_safetensors_count(a),
              tcf_safetensors_count(b));
        int bad = 0;
        for (int i = 0; i < tcf_safetensors_count(b); i++) {
            const tcf_tensor_view *tb = tcf_safetensors_at(b, i), *ta = tcf_safetensors_find(a, tb->name);
            if (!ta || ta->nbytes != tb->nbytes || memcmp(ta->data, tb->data, tb->nbytes)) {
                bad++;
                fprintf(stderr, "  tensor %s differs or is missing\n", tb->name);
            }
        }
        printf("  %-48s %d tensors, %d differ\n", "PEFT export vs PEFT's own file", tcf_safetensors_count(b), bad);
        CHECK(!bad, "%d tensors differ", bad);
    }
    tcf_safetensors_free(a);
    tcf_safetensors_free(b);
    /* the re-exported adapter loads as a run too */
    snprintf(p, sizeof p, "%s/tcf_run.json", run);
    char q[200];
    snprintf(q, sizeof q, "%s/tcf_run.json", out);
    CHECK(copy_file(p, q), "copy run json");
    float x[NT * K], y[NT * K];
    CHECK(classify(out, x) && classify(run, y), "classify");
    check_close("re-exported PEFT adapter vs run", x, y, NT * K, 0, 0);
}

static void rm_rf(const char *dir) {
    char cmd[256];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd)) fprintf(stderr, "cannot remove %s\n", dir);
}

int main(void) {
    test_sha256();
    if (!tcf_file_exists(MODEL "/model.safetensors")) {
        printf("SKIP export tests: %s absent (scripts/fetch_models.sh)\n", MODEL);
        return check_summary("test_export");
    }
    snprintf(tmp, sizeof tmp, "/tmp/tcf_test_export_XXXXXX");
    if (!mkdtemp(tmp) || !make_run()) {
        fprintf(stderr, "cannot set up %s\n", tmp);
        return 1;
    }
    load_texts();
    float run_probs[NT * K];
    char f32_path[160] = "";
    test_peft_logits(run_probs);
    test_export_types(run_probs, f32_path);
    if (*f32_path) test_bad(f32_path);
    test_abstain();
    test_peft_export();
    rm_rf(tmp);
    for (int i = 0; i < NT; i++) free(texts[i]);
    return check_summary("test_export");
}
