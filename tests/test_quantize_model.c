/*
 * test_quantize_model.c — tcf quantize (model/quantize.h) against gguf-py
 * and against tcf's own loader:
 *   - every tensor of tests/fixtures/quantize/tiny_tok quantized to f32 f16
 *     q8_0 q4_0 q4_1 has the type, shape and bytes (sha256) that gguf-py's
 *     gguf.quants.quantize gives for convert_hf_to_gguf's rules
 *     (tensors.txt, tests/ref/gen_quantize_fixtures.py), ffn_down's rows of
 *     80 falling back to F16; the same for tiny_llama.gguf re-quantized;
 *   - q4_k: tiny_tok's rows of 64 take the Q8_0 fallback (the q8_0 file's
 *     bytes); MiniLM's FFN down (rows of 1536) is Q4_K, the rest Q8_0, and
 *     its pooled output stays close to the checkpoint's;
 *   - the tokenizer.* keys equal those convert_hf_to_gguf + SpecialVocab
 *     write (tokenizer_ref.gguf), type and value;
 *   - the f32 output loads with tcf_llama_load and gives bit-identical
 *     hidden states to the input (HF dir and GGUF in), and the gguf
 *     tokenizer encodes a set of strings as the tokenizer.json does, with
 *     and without special tokens;
 *   - failure leaves an existing output file untouched.
 */
#include "check.h"
#include "base/sha256.h"
#include "io/gguf_write.h"
#include "model/bert.h"
#include "model/llama.h"
#include "model/quantize.h"
#include "tcf.h"

#include <stdint.h>
#include <string.h>
#include <unistd.h>

#define FIX "tests/fixtures/quantize"
static char tmp[] = "/tmp/tcf_quantize_XXXXXX";

static char *out_path(const char *name) {
    static char buf[8][512];
    static int k;
    char *p = buf[k++ % 8];
    snprintf(p, 512, "%s/%s", tmp, name);
    return p;
}

/* Compare every tensor of `path` with the fixture lines tagged `tag`. */
static void check_tensors(const char *path, const char *tag) {
    FILE *f = fopen(FIX "/tensors.txt", "r");
    CHECK(f != NULL, "cannot open tensors.txt");
    if (!f) return;
    tcf_gguf *g = NULL;
    tcf_status st = tcf_gguf_open(path, &g);
    CHECK(st == TCF_OK, "%s: %s", path, tcf_last_error());
    if (st) {
        fclose(f);
        return;
    }
    char t[32], name[128], type[16], hash[80];
    long long ne0, ne1;
    int n = 0, same = 0;
    while (fscanf(f, "%31s %127s %15s %lld %lld %79s", t, name, type, &ne0, &ne1, hash) == 6) {
        if (strcmp(t, tag)) continue;
        n++;
        const tcf_gguf_tensor *x = tcf_gguf_tensor_find(g, name);
        CHECK(x != NULL, "%s: tensor %s missing", tag, name);
        if (!x) continue;
        char hex[65];
        tcf_sha256_hex(x->data, x->nbytes, hex);
        int ok = !strcmp(tcf_ggml_type_name(x->type), type) && x->ne[0] == ne0 &&
                 (x->n_dims == 1 ? ne1 == 1 : x->ne[1] == ne1) && !strcmp(hex, hash);
        CHECK(ok, "%s %s: got %s [%lld, %lld] %s, gguf-py %s [%lld, %lld] %s", tag, name,
              tcf_ggml_type_name(x->type), (long long)x->ne[0], (long long)x->ne[1], hex, type, ne0, ne1, hash);
        same += ok;
    }
    fclose(f);
    CHECK(n > 0 && tcf_gguf_tensor_count(g) == n, "%s: %lld tensors in the file, %d in the fixture", tag,
          (long long)tcf_gguf_tensor_count(g), n);
    printf("  %-6s %d/%d tensors byte-identical to gguf.quants.quantize\n", tag, same, n);
    tcf_gguf_free(g);
}

/* Two values equal in type and content (arrays element by element). */
static int same_value(const tcf_gguf_value *a, const tcf_gguf_value *b) {
    tcf_gguf_type t = tcf_gguf_value_type(a);
    if (t != tcf_gguf_value_type(b)) return 0;
    const char *sa, *sb;
    size_t la, lb;
    int64_t ia, ib;
    double fa, fb;
    int ba, bb;
    switch (t) {
    case TCF_GGUF_STRING:
        return !tcf_gguf_value_str(a, &sa, &la) && !tcf_gguf_value_str(b, &sb, &lb) && la == lb && !memcmp(sa, sb, la);
    case TCF_GGUF_ARRAY: {
        uint64_t n = tcf_gguf_array_len(a);
        if (n != tcf_gguf_array_len(b) || tcf_gguf_array_type(a) != tcf_gguf_array_type(b)) return 0;
        for (uint64_t i = 0; i < n; i++) {
            if (tcf_gguf_array_type(a) == TCF_GGUF_STRING) {
                if (tcf_gguf_array_str(a, i, &sa, &la) || tcf_gguf_array_str(b, i, &sb, &lb) || la != lb ||
                    memcmp(sa, sb, la))
                    return 0;
            } else if (tcf_gguf_array_i64(a, i, &ia) || tcf_gguf_array_i64(b, i, &ib) || ia != ib) {
                return 0;
            }
        }
        return 1;
    }
    case TCF_GGUF_BOOL: return !tcf_gguf_value_bool(a, &ba) && !tcf_gguf_value_bool(b, &bb) && ba == bb;
    case TCF_GGUF_F32:
    case TCF_GGUF_F64: return !tcf_gguf_value_f64(a, &fa) && !tcf_gguf_value_f64(b, &fb) && fa == fb;
    default: return !tcf_gguf_value_i64(a, &ia) && !tcf_gguf_value_i64(b, &ib) && ia == ib;
    }
}

static void check_tokenizer_keys(const char *path) {
    tcf_gguf *ref = NULL, *g = NULL;
    tcf_status st = tcf_gguf_open(FIX "/tokenizer_ref.gguf", &ref);
    if (!st) st = tcf_gguf_open(path, &g);
    CHECK(st == TCF_OK, "%s", tcf_last_error());
    if (st) {
        tcf_gguf_free(ref);
        return;
    }
    int n = 0, same = 0, n_out = 0;
    for (int64_t i = 0; i < tcf_gguf_kv_count(ref); i++) {
        const char *k = tcf_gguf_kv_key(ref, i);
        if (strncmp(k, "tokenizer.", 10)) continue;
        n++;
        const tcf_gguf_value *v = tcf_gguf_find(g, k);
        int ok = v && same_value(v, tcf_gguf_kv_value(ref, i));
        CHECK(ok, "tokenizer key %s %s", k, v ? "differs from convert_hf_to_gguf's" : "is missing");
        same += ok;
    }
    for (int64_t i = 0; i < tcf_gguf_kv_count(g); i++)
        if (!strncmp(tcf_gguf_kv_key(g, i), "tokenizer.", 10)) n_out++;
    CHECK(n_out == n, "the output has %d tokenizer keys, convert writes %d", n_out, n);
    printf("  %d/%d tokenizer keys equal to convert_hf_to_gguf's (output has %d)\n", same, n, n_out);
    tcf_gguf_free(ref);
    tcf_gguf_free(g);
}

/* Hidden states of `a` and `b` on one batch of 2 rows (one left-padded). */
static void check_forward(const char *what, const char *a, const char *b) {
    tcf_llama *ma = NULL, *mb = NULL;
    tcf_status st = tcf_llama_load(a, &ma);
    if (!st) st = tcf_llama_load(b, &mb);
    CHECK(st == TCF_OK, "%s: %s", what, tcf_last_error());
    if (!st) {
        enum { B = 2, T = 7 };
        int32_t ids[B * T] = {5, 17, 300, 2, 41, 9, 77, 0, 0, 8, 250, 31, 4, 100};
        uint8_t mask[B * T] = {1, 1, 1, 1, 1, 1, 1, 0, 0, 1, 1, 1, 1, 1};
        const int C = ma->cfg.hidden;
        CHECK(C == mb->cfg.hidden && ma->cfg.layers == mb->cfg.layers && ma->cfg.vocab == mb->cfg.vocab &&
                  ma->cfg.rope_theta == mb->cfg.rope_theta && ma->cfg.rms_eps == mb->cfg.rms_eps,
              "%s: configs differ", what);
        float *ha = malloc(sizeof(float) * B * T * C), *hb = malloc(sizeof(float) * B * T * C);
        CHECK(!tcf_llama_forward(ma, B, T, ids, mask, ha, 2) && !tcf_llama_forward(mb, B, T, ids, mask, hb, 2),
              "%s: forward: %s", what, tcf_last_error());
        for (int i = 0; i < B * T; i++)
            if (!mask[i]) memset(ha + i * C, 0, sizeof(float) * C), memset(hb + i * C, 0, sizeof(float) * C);
        CHECK(!memcmp(ha, hb, sizeof(float) * B * T * C), "%s: hidden states not bit-identical", what);
        check_close(what, hb, ha, (long)B * T * C, 0, 0);
        free(ha), free(hb);
    }
    tcf_llama_free(ma);
    tcf_llama_free(mb);
}

static void check_tokenize(const char *dir, const char *gguf_path) {
    static const char *texts[] = {
        "Hello world", "  leading spaces and 12345 digits", "emoji 🦙🚀 and CJK 我想在apple工作",
        "<|im_start|>user\nhi<|im_end|>", "tabs\tand\nnewlines\n\n", "x<tool_call>y", "Ünïcödé déjà vu", "",
        "3.14159 and 1,000,000", "<|endoftext|><|im_end|>x",
    };
    /* Not here: text that relies on an added token's lstrip / rstrip /
     * single_word ("<tool_call> ok ok" in this tokenizer): GGUF has no key for
     * them (convert_hf_to_gguf drops them too), so they tokenize differently. */
    tcf_tokenizer *a = NULL, *b = NULL;
    tcf_status st = tcf_tokenizer_load(dir, &a);
    if (!st) st = tcf_tokenizer_load(gguf_path, &b);
    CHECK(st == TCF_OK, "tokenizers: %s", tcf_last_error());
    int n_same = 0, n = 0;
    for (int sp = 0; !st && sp < 2; sp++)
        for (size_t i = 0; i < sizeof texts / sizeof *texts; i++) {
            int32_t ia[256], ib[256];
            int na = 0, nb = 0;
            tcf_encode_opts o = {sp == 0, 0};
            tcf_status ea = tcf_tokenizer_encode(a, texts[i], strlen(texts[i]), &o, ia, 256, &na);
            tcf_status eb = tcf_tokenizer_encode(b, texts[i], strlen(texts[i]), &o, ib, 256, &nb);
            int ok = !ea && !eb && na == nb && !memcmp(ia, ib, sizeof(int32_t) * (size_t)na);
            CHECK(ok, "'%s' (special %d): tokenizer.json gives %d ids, the GGUF %d", texts[i], sp == 0, na, nb);
            n_same += ok, n++;
        }
    printf("  tokenize: %d/%d encodings equal (tokenizer.json vs the GGUF's tokenizer.ggml.*, with and without "
           "specials)\n", n_same, n);
    tcf_tokenizer_free(a);
    tcf_tokenizer_free(b);
}

/* MiniLM (models/, when fetched): the f32 GGUF through tcf export's BERT
 * writer loads with tcf_bert_load_gguf to the same hidden states; q8_0's
 * mean-pooled features stay close. */
static void check_bert(void) {
    const char *dir = "models/all-MiniLM-L6-v2";
    FILE *f = fopen("models/all-MiniLM-L6-v2/model.safetensors", "rb");
    if (!f) {
        printf("SKIP MiniLM part: %s absent (scripts/fetch_models.sh)\n", dir);
        return;
    }
    fclose(f);
    enum { B = 1, T = 8 };
    const int32_t ids[T] = {101, 1045, 2215, 2000, 4651, 2769, 1012, 102};
    const uint8_t mask[T] = {1, 1, 1, 1, 1, 1, 1, 1};
    tcf_bert *ref = NULL;
    CHECK(!tcf_bert_load(dir, &ref), "%s", tcf_last_error());
    if (!ref) return;
    const int C = ref->cfg.hidden;
    float *h0 = malloc(sizeof(float) * T * C), *h1 = malloc(sizeof(float) * T * C);
    float p0[512], p1[512];
    CHECK(!tcf_bert_forward(ref, B, T, ids, mask, h0, 2), "%s", tcf_last_error());
    tcf_bert_pool(&ref->cfg, B, T, mask, h0, TCF_POOL_MEAN, 1, p0);
    static const char *types[] = {"f32", "q8_0", "q4_k"};
    for (int k = 0; k < 3; k++) {
        const char *o = out_path(k == 2 ? "minilm_q4k.gguf" : k ? "minilm_q8.gguf" : "minilm_f32.gguf");
        tcf_quantize_info info;
        tcf_status st = tcf_quantize_model(dir, o, (tcf_ggml_type)tcf_quantize_type_parse(types[k]), &info);
        CHECK(st == TCF_OK, "MiniLM %s: %s", types[k], tcf_last_error());
        tcf_gguf *g = NULL;
        tcf_bert *m = NULL;
        if (!st) st = tcf_gguf_open(o, &g);
        if (!st && k == 2) {
            /* hidden 384 is not whole super-blocks: only FFN down (rows of
             * 1536) is Q4_K, the other dense weights and the pooler Q8_0 */
            const tcf_gguf_tensor *fd = tcf_gguf_tensor_find(g, "blk.3.ffn_down.weight"),
                                  *fu = tcf_gguf_tensor_find(g, "blk.3.ffn_up.weight"),
                                  *pq = tcf_gguf_tensor_find(g, "cls.weight");
            CHECK(fd && fd->type == TCF_GGML_Q4_K && fu && fu->type == TCF_GGML_Q8_0 && pq && pq->type == TCF_GGML_Q8_0,
                  "MiniLM q4_k: ffn_down %d, ffn_up %d, pooler %d", fd ? (int)fd->type : -1, fu ? (int)fu->type : -1,
                  pq ? (int)pq->type : -1);
            CHECK(info.n_typed == 6 && info.n_q8_fallback == 6 * 5 + 1 && info.n_f16_fallback == 0,
                  "MiniLM q4_k: %d q4_k, %d q8_0 fallback, %d f16", info.n_typed, info.n_q8_fallback,
                  info.n_f16_fallback);
        }
        if (!st) st = tcf_bert_load_gguf(g, o, &m);
        CHECK(st == TCF_OK, "MiniLM %s: load: %s", types[k], tcf_last_error());
        if (!st && !tcf_bert_forward(m, B, T, ids, mask, h1, 2)) {
            if (k == 0) {
                CHECK(!memcmp(h0, h1, sizeof(float) * T * C), "MiniLM f32 GGUF: hidden states not bit-identical");
                check_close("MiniLM dir vs f32 GGUF (hidden)", h1, h0, (long)T * C, 0, 0);
            } else {
                tcf_bert_pool(&m->cfg, B, T, mask, h1, TCF_POOL_MEAN, 1, p1);
                check_close(k == 1 ? "MiniLM q8_0 GGUF vs dir (mean, normalized)"
                                   : "MiniLM q4_k GGUF vs dir (mean, normalized)",
                            p1, p0, C, 2e-2, 0);
            }
        }
        tcf_bert_free(m);
        tcf_gguf_free(g);
        remove(o);
    }
    free(h0), free(h1);
    tcf_bert_free(ref);
}

int main(void) {
    if (!mkdtemp(tmp)) {
        perror("mkdtemp");
        return 1;
    }
    static const char *types[] = {"f32", "f16", "q8_0", "q4_0", "q4_1"};
    tcf_quantize_info info;
    for (size_t i = 0; i < sizeof types / sizeof *types; i++) {
        char name[32];
        snprintf(name, sizeof name, "%s.gguf", types[i]);
        tcf_status st = tcf_quantize_model(FIX "/tiny_tok", out_path(name), (tcf_ggml_type)tcf_quantize_type_parse(types[i]),
                                           &info);
        CHECK(st == TCF_OK, "quantize %s: %s", types[i], tcf_last_error());
        if (st) continue;
        CHECK(info.n_tensors == 12 && info.has_tokenizer, "%s: %d tensors, tokenizer %d", types[i], info.n_tensors,
              info.has_tokenizer);
        if (strcmp(types[i], "f32") && strcmp(types[i], "f16"))
            CHECK(info.n_f16_fallback == 1 && info.n_typed == 8 && info.n_f32 == 3,
                  "%s: %d typed, %d f32, %d f16 fallback (want 8, 3 norms, 1: ffn_down's rows of 80)", types[i], info.n_typed,
                  info.n_f32, info.n_f16_fallback);
        check_tensors(out_path(name), types[i]);
    }
    /* q4_k: tiny_tok's rows of 64 are not whole super-blocks of 256, so its
     * weights take the Q8_0 fallback (the q8_0 file's bytes), ffn_down's
     * rows of 80 F16 */
    CHECK(!tcf_quantize_model(FIX "/tiny_tok", out_path("q4_k.gguf"), TCF_GGML_Q4_K, &info), "q4_k: %s",
          tcf_last_error());
    CHECK(info.n_typed == 0 && info.n_q8_fallback == 8 && info.n_f16_fallback == 1 && info.n_f32 == 3,
          "q4_k: %d typed, %d q8_0 fallback, %d f16, %d f32 (want 0, 8, 1, 3)", info.n_typed, info.n_q8_fallback,
          info.n_f16_fallback, info.n_f32);
    {
        tcf_gguf *a = NULL, *b = NULL;
        int same = 0, n = 0;
        if (!tcf_gguf_open(out_path("q4_k.gguf"), &a) && !tcf_gguf_open(out_path("q8_0.gguf"), &b))
            for (int64_t i = 0; i < tcf_gguf_tensor_count(a); i++) {
                const tcf_gguf_tensor *x = tcf_gguf_tensor_at(a, i), *y = tcf_gguf_tensor_find(b, x->name);
                n++;
                same += y && x->type == y->type && x->nbytes == y->nbytes && !memcmp(x->data, y->data, x->nbytes);
            }
        CHECK(n == 12 && same == n, "q4_k fallback: %d of %d tensors equal the q8_0 file's", same, n);
        tcf_gguf_free(a), tcf_gguf_free(b);
    }
    check_tokenizer_keys(out_path("q8_0.gguf"));
    check_forward("tiny_tok dir vs its f32 gguf", FIX "/tiny_tok", out_path("f32.gguf"));
    check_tokenize(FIX "/tiny_tok", out_path("q4_0.gguf"));

    /* tiny_llama: HF dir (tied, head_dim given) and its GGUF, both in */
    CHECK(!tcf_quantize_model("tests/fixtures/llama/tiny_llama", out_path("tl.gguf"), TCF_GGML_F32, &info),
          "%s", tcf_last_error());
    CHECK(info.n_tensors == 20 && !info.has_tokenizer, "tiny_llama: %d tensors", info.n_tensors);
    check_forward("tiny_llama dir vs its f32 gguf", "tests/fixtures/llama/tiny_llama", out_path("tl.gguf"));
    CHECK(!tcf_quantize_model("tests/fixtures/llama/tiny_llama.gguf", out_path("tlg.gguf"), TCF_GGML_F32, &info),
          "%s", tcf_last_error());
    check_forward("tiny_llama.gguf vs its f32 re-write", "tests/fixtures/llama/tiny_llama.gguf", out_path("tlg.gguf"));
    static const char *rq[] = {"q8_0", "q4_1"};
    for (int i = 0; i < 2; i++) {
        char name[32], tag[32];
        snprintf(name, sizeof name, "tlg_%s.gguf", rq[i]);
        snprintf(tag, sizeof tag, "gguf_%s", rq[i]);
        CHECK(!tcf_quantize_model("tests/fixtures/llama/tiny_llama.gguf", out_path(name),
                                  (tcf_ggml_type)tcf_quantize_type_parse(rq[i]), &info),
              "%s", tcf_last_error());
        check_tensors(out_path(name), tag);
    }

    check_bert();

    /* a GGUF made here: an empty array is copied; a NaN weight is refused
     * naming the tensor, with nothing written */
    {
        float wq[4 * 64], norm[64];
        for (int i = 0; i < 4 * 64; i++) wq[i] = (float)(i % 17) / 17.0f - 0.5f;
        for (int i = 0; i < 64; i++) norm[i] = 1.0f;
        const int64_t ne_q[2] = {64, 4}, ne_n[1] = {64};
        for (int nan = 0; nan < 2; nan++) {
            tcf_gguf_writer *w = NULL;
            if (nan) wq[70] = NAN;
            CHECK(!tcf_gguf_writer_new(&w) && !tcf_gguf_put_str(w, "general.architecture", "llama", 5) &&
                      !tcf_gguf_put_arr(w, "t.empty", TCF_GGUF_STRING, NULL, 0) &&
                      !tcf_gguf_put_tensor(w, "blk.0.attn_q.weight", TCF_GGML_F32, 2, ne_q, wq, sizeof wq) &&
                      !tcf_gguf_put_tensor(w, "blk.0.attn_norm.weight", TCF_GGML_F32, 1, ne_n, norm, sizeof norm) &&
                      !tcf_gguf_writer_save(w, out_path("made.gguf")),
                  "writing made.gguf: %s", tcf_last_error());
            tcf_gguf_writer_free(w);
            tcf_status st = tcf_quantize_model(out_path("made.gguf"), out_path("made_q.gguf"), TCF_GGML_Q4_0, NULL);
            if (nan) {
                CHECK(st == TCF_ERR_FORMAT && strstr(tcf_last_error(), "blk.0.attn_q.weight") &&
                          strstr(tcf_last_error(), "not finite"),
                      "NaN weight: %d %s", st, tcf_last_error());
                CHECK(access(out_path("made_q.gguf"), F_OK) != 0, "NaN weight: a file was written");
            } else {
                tcf_gguf *g = NULL;
                CHECK(st == TCF_OK && !tcf_gguf_open(out_path("made_q.gguf"), &g), "made.gguf: %s", tcf_last_error());
                const tcf_gguf_value *v = g ? tcf_gguf_find(g, "t.empty") : NULL;
                CHECK(v && tcf_gguf_value_type(v) == TCF_GGUF_ARRAY && tcf_gguf_array_len(v) == 0 &&
                          tcf_gguf_array_type(v) == TCF_GGUF_STRING,
                      "the empty array was not copied");
                const tcf_gguf_tensor *t = g ? tcf_gguf_tensor_find(g, "blk.0.attn_q.weight") : NULL;
                CHECK(t && t->type == TCF_GGML_Q4_0, "attn_q is not Q4_0");
                tcf_gguf_free(g);
                remove(out_path("made_q.gguf"));
            }
        }
    }

    /* failures leave the existing output as it was, and no temp file */
    FILE *f = fopen(out_path("keep.gguf"), "w");
    fputs("old contents", f);
    fclose(f);
    tcf_status st = tcf_quantize_model("tests/fixtures/llama/tiny_qwen2", out_path("keep.gguf"), TCF_GGML_Q8_0, NULL);
    CHECK(st == TCF_ERR_UNSUPPORTED && strstr(tcf_last_error(), "qwen2"), "qwen2: %d %s", st, tcf_last_error());
    st = tcf_quantize_model(FIX "/tiny_tok", out_path("keep.gguf"), TCF_GGML_Q6_K, NULL);
    CHECK(st == TCF_ERR_ARG, "Q6_K: %d %s", st, tcf_last_error());
    char buf[64] = {0};
    f = fopen(out_path("keep.gguf"), "r");
    CHECK(f && fread(buf, 1, sizeof buf - 1, f) == 12 && !strcmp(buf, "old contents"), "keep.gguf changed: '%s'", buf);
    if (f) fclose(f);
    st = tcf_quantize_model(out_path("tl.gguf"), out_path("tl.gguf"), TCF_GGML_Q8_0, NULL);
    CHECK(st == TCF_ERR_ARG, "in == out: %d %s", st, tcf_last_error());

    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmp);
    CHECK(system(cmd) == 0, "cleanup");
    return check_summary("test_quantize_model");
}
