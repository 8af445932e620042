/*
 * export.c — one-file exported classifiers: `tcf export` writes them
 * (tcf_export_gguf), tcf_classifier_load reads them back
 * (tcf_classifier_load_gguf), plus the PEFT adapter export.
 *
 * The file is GGUF v3 in llama.cpp's BERT layout (decoder runs: the llama
 * layout, model/export_llama.c) so that llama.cpp / gguf-py tooling can
 * inspect it: general.architecture "bert", bert.* hyper-
 * parameters, llama.cpp's tensor names (token_embd.weight,
 * blk.N.attn_q.weight, ...; the BertPooler dense is "cls" and the
 * classification head "cls.output", which llama.cpp's rank pooling reads as
 * tanh(cls(h[CLS])) then cls.output), bert.pooling_type = 4 (rank) and
 * bert.classifier.output_labels. The tokenizer is the verbatim tokenizer.json
 * of the base model in tokenizer.huggingface.json (GGUF's key for it; tcf
 * builds its tokenizer from it, so encoding is exactly the one trained with)
 * and, for llama.cpp, tokenizer.ggml.* (WordPiece in its "phantom space"
 * spelling). tcf.* keys carry max_len, pooling and provenance. Every key is
 * listed in docs/EXPORT.md.
 *
 * Types: the encoder's dense weights (q, k, v, attention output, FFN up and
 * down) and the pooler take the requested type; embeddings, LayerNorms,
 * biases and the head stay F32. --type q4_k (ggml's Q4_K, super-blocks of
 * 256) writes Q8_0 for the weights whose rows are not whole super-blocks
 * (llama-quantize falls back likewise, to Q5_0, which tcf does not encode):
 * in MiniLM (hidden 384) that is all but FFN down. Loading keeps Q8_0 / Q4_0
 * / Q4_K dense weights quantized, used in place from the file's map with
 * every F32 tensor (tcf_bert_load_gguf_mapped; opts->keep_f32 widens them
 * instead), and widens every other type to f32.
 * tcf.abstain_below (optional) is the score under which `tcf serve` and
 * `tcf predict` report "abstain" (tcf_classifier_abstain_below).
 * Not done: k-quants other than Q4_K, exporting --mode full / head runs to
 * PEFT.
 */
#include "model/export.h"
#include "model/infer.h"
#include "base/base.h"
#include "base/sha256.h"
#include "io/gguf_write.h"
#include "kern/qgemm.h"
#include "kern/quantize.h"
#include "train/adapter_io.h"
#include "train/lora.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#define TCF_EXPORT_FORMAT 1
#ifndef TCF_VERSION
#define TCF_VERSION "0.1.0"
#endif
#define POOLING_DESC "cls+tanh pooler"

int tcf_export_type_parse(const char *name) {
    static const struct { const char *n; tcf_ggml_type t; } k[] = {
        {"f32", TCF_GGML_F32}, {"f16", TCF_GGML_F16}, {"bf16", TCF_GGML_BF16},
        {"q8_0", TCF_GGML_Q8_0}, {"q4_0", TCF_GGML_Q4_0}, {"q4_1", TCF_GGML_Q4_1}, {"q4_k", TCF_GGML_Q4_K},
    };
    for (size_t i = 0; name && i < sizeof k / sizeof *k; i++)
        if (!strcmp(name, k[i].n)) return (int)k[i].t;
    return -1;
}

uint32_t tcf_export_file_type(tcf_ggml_type t) {
    switch (t) {
    case TCF_GGML_F16: return 1;
    case TCF_GGML_Q4_0: return 2;
    case TCF_GGML_Q4_1: return 3;
    case TCF_GGML_Q8_0: return 7;
    case TCF_GGML_Q4_K: return 14; /* MOSTLY_Q4_K_S: Q4_K, no Q5_K/Q6_K mix */
    case TCF_GGML_BF16: return 32;
    default: return 0;
    }
}

/* ---- writing -------------------------------------------------------------------------- */

static tcf_status check_finite(const char *name, const float *x, int64_t n) {
    for (int64_t i = 0; i < n; i++)
        if (!isfinite(x[i]))
            return tcf_fail(TCF_ERR_FORMAT, "tensor '%s': value %lld is %g (not finite); nothing exported", name,
                            (long long)i, (double)x[i]);
    return TCF_OK;
}

/* An f32 tensor of torch shape (d0) or (d0, d1). */
static tcf_status put_f32(tcf_gguf_writer *w, const char *name, const float *x, int64_t d0, int64_t d1) {
    int64_t ne[2] = {d1 ? d1 : d0, d0};
    int64_t n = d1 ? d0 * d1 : d0;
    tcf_status st = check_finite(name, x, n);
    return st ? st : tcf_gguf_put_tensor(w, name, TCF_GGML_F32, d1 ? 2 : 1, ne, x, (size_t)n * 4);
}

tcf_ggml_type tcf_export_dense_type(tcf_ggml_type type, int64_t in) {
    return type == TCF_GGML_Q4_K && in % 256 ? TCF_GGML_Q8_0 : type;
}

/* An nn.Linear weight W (out, in) encoded as `type` (rows of `in`; Q4_K
 * rows that are not whole super-blocks Q8_0). */
static tcf_status put_dense(tcf_gguf_writer *w, const char *name, tcf_ggml_type type, const float *W, int64_t out,
                            int64_t in, uint8_t *buf) {
    type = tcf_export_dense_type(type, in);
    if (type == TCF_GGML_F32) return put_f32(w, name, W, out, in);
    tcf_status st = check_finite(name, W, out * in);
    if (st) return st;
    int64_t bs = tcf_ggml_block_size(type);
    if (in % bs)
        return tcf_fail(TCF_ERR_UNSUPPORTED, "tensor '%s': rows of %lld are not whole %s blocks of %lld; use --type f16",
                        name, (long long)in, tcf_ggml_type_name(type), (long long)bs);
    int64_t n = out * in;
    switch (type) {
    case TCF_GGML_F16: tcf_quantize_f16(W, buf, n); break;
    case TCF_GGML_BF16: tcf_quantize_bf16(W, buf, n); break;
    case TCF_GGML_Q8_0: tcf_quantize_q8_0(W, buf, n); break;
    case TCF_GGML_Q4_0: tcf_quantize_q4_0(W, buf, n); break;
    case TCF_GGML_Q4_K: tcf_quantize_q4_k(W, buf, n); break;
    case TCF_GGML_Q4_1: {
        tcf_qmat q; /* ggml's reference Q4_1 quantizer lives in kern/qgemm.c */
        if ((st = tcf_qmat_quantize(&q, TCF_QTYPE_Q4_1, (int)out, (int)in, W, in, 0))) return st;
        memcpy(buf, q.data, (size_t)(n / 32) * 20);
        tcf_qmat_free(&q);
        break;
    }
    default: return tcf_fail(TCF_ERR_ARG, "tensor '%s': cannot encode %s", name, tcf_ggml_type_name(type));
    }
    int64_t ne[2] = {in, out};
    return tcf_gguf_put_tensor(w, name, type, 2, ne, buf, (size_t)(n / bs) * tcf_ggml_type_size(type));
}

/* The encoder, pooler and head (when head_w) in llama.cpp's names. */
static tcf_status put_weights(tcf_gguf_writer *w, const tcf_bert *m, const float *head_w, const float *head_b,
                              int n_classes, tcf_ggml_type type) {
    const tcf_bert_config *cf = &m->cfg;
    const int64_t C = cf->hidden, I = cf->inter;
    tcf_status st;
    if ((st = put_f32(w, "token_embd.weight", m->wte, cf->vocab, C)) ||
        (st = put_f32(w, "position_embd.weight", m->wpe, cf->max_pos, C)) ||
        (st = put_f32(w, "token_types.weight", m->wtt, cf->type_vocab, C)) ||
        (st = put_f32(w, "token_embd_norm.weight", m->emb_ln_g, C, 0)) ||
        (st = put_f32(w, "token_embd_norm.bias", m->emb_ln_b, C, 0)))
        return st;
    float *qkv = malloc(sizeof(float) * (size_t)(3 * C * C)), *ao = malloc(sizeof(float) * (size_t)(C * C)),
          *fi = malloc(sizeof(float) * (size_t)(I * C)), *fo = malloc(sizeof(float) * (size_t)(C * I));
    uint8_t *buf = malloc(sizeof(float) * (size_t)(I * C > 3 * C * C ? I * C : 3 * C * C));
    if (!qkv || !ao || !fi || !fo || !buf) {
        st = tcf_fail(TCF_ERR_NOMEM, "export: out of memory");
        goto done;
    }
    for (int l = 0; l < cf->layers && !st; l++) {
        const tcf_bert_layer *L = &m->layer[l];
        tcf_bert_get_dense(m, l, qkv, ao, fi, fo);
        char n[64];
#define DENSE(suffix, W, o, i) \
    (snprintf(n, sizeof n, "blk.%d." suffix, l), put_dense(w, n, type, W, o, i, buf))
#define VEC(suffix, x, d) (snprintf(n, sizeof n, "blk.%d." suffix, l), put_f32(w, n, x, d, 0))
        if ((st = DENSE("attn_q.weight", qkv, C, C)) || (st = VEC("attn_q.bias", L->qkv_b, C)) ||
            (st = DENSE("attn_k.weight", qkv + C * C, C, C)) || (st = VEC("attn_k.bias", L->qkv_b + C, C)) ||
            (st = DENSE("attn_v.weight", qkv + 2 * C * C, C, C)) || (st = VEC("attn_v.bias", L->qkv_b + 2 * C, C)) ||
            (st = DENSE("attn_output.weight", ao, C, C)) || (st = VEC("attn_output.bias", L->ao_b, C)) ||
            (st = VEC("attn_output_norm.weight", L->ln1_g, C)) || (st = VEC("attn_output_norm.bias", L->ln1_b, C)) ||
            (st = DENSE("ffn_up.weight", fi, I, C)) || (st = VEC("ffn_up.bias", L->fi_b, I)) ||
            (st = DENSE("ffn_down.weight", fo, C, I)) || (st = VEC("ffn_down.bias", L->fo_b, C)) ||
            (st = VEC("layer_output_norm.weight", L->ln2_g, C)) || (st = VEC("layer_output_norm.bias", L->ln2_b, C)))
            break;
#undef DENSE
#undef VEC
    }
    if (!st && m->has_pooler &&
        ((st = put_dense(w, "cls.weight", type, m->pool_w, C, C, buf)) || (st = put_f32(w, "cls.bias", m->pool_b, C, 0))))
        goto done;
    if (!st && head_w &&
        ((st = put_f32(w, "cls.output.weight", head_w, n_classes, C)) ||
         (st = put_f32(w, "cls.output.bias", head_b, n_classes, 0))))
        goto done;
done:
    free(qkv), free(ao), free(fi), free(fo), free(buf);
    return st;
}

/* tokenizer.ggml.*: llama.cpp's WordPiece vocabulary ("phantom space":
 * word-initial pieces get U+2581 in front, "##" continuations lose it,
 * control tokens stay as they are), token types (1 normal, 3 control = an
 * added special token, 4 user-defined = an added non-special token, 5 unused
 * = a hole in the vocabulary), special ids. Then the verbatim tokenizer.json. */
static tcf_status put_tokenizer(tcf_gguf_writer *w, const tcf_bert *m, const tcf_tokenizer *tk, const char *json,
                                size_t json_len, const char *json_path) {
    const int V = m->cfg.vocab;
    cJSON *root = cJSON_ParseWithLength(json, json_len);
    if (!root) return tcf_fail(TCF_ERR_FORMAT, "%s: not JSON", json_path);
    char **tok = calloc((size_t)V, sizeof *tok);
    int32_t *type = malloc(sizeof(int32_t) * (size_t)V);
    tcf_status st = TCF_OK;
    if (!tok || !type) {
        st = tcf_fail(TCF_ERR_NOMEM, "export: out of memory");
        goto done;
    }
    for (int i = 0; i < V; i++) type[i] = 1;
    const cJSON *added = cJSON_GetObjectItemCaseSensitive(root, "added_tokens"), *a;
    cJSON_ArrayForEach(a, added) {
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(a, "id"), *sp = cJSON_GetObjectItemCaseSensitive(a, "special");
        if (cJSON_IsNumber(id) && id->valueint >= 0 && id->valueint < V) type[id->valueint] = cJSON_IsTrue(sp) ? 3 : 4;
    }
    for (int i = 0; i < V && !st; i++) {
        const char *t = tcf_tokenizer_token(tk, i);
        char hole[32];
        if (!t) snprintf(hole, sizeof hole, "[PAD%d]", i), t = hole, type[i] = 5;
        size_t n = strlen(t);
        if (!(tok[i] = malloc(n + 4))) {
            st = tcf_fail(TCF_ERR_NOMEM, "export: out of memory");
            break;
        }
        if (type[i] == 3 || type[i] == 5) memcpy(tok[i], t, n + 1);
        else if (!strncmp(t, "##", 2)) memcpy(tok[i], t + 2, n - 1);
        else memcpy(tok[i], "\xe2\x96\x81", 3), memcpy(tok[i] + 3, t, n + 1);
    }
    if (st || (st = tcf_gguf_put_str(w, "tokenizer.ggml.model", "bert", 4)) ||
        (st = tcf_gguf_put_str(w, "tokenizer.ggml.pre", "default", 7)) ||
        (st = tcf_gguf_put_arr_str(w, "tokenizer.ggml.tokens", (const char *const *)tok, V)) ||
        (st = tcf_gguf_put_arr_i32(w, "tokenizer.ggml.token_type", type, V)) ||
        (st = tcf_gguf_put_u32(w, "tokenizer.ggml.token_type_count", (uint32_t)m->cfg.type_vocab)))
        goto done;
    static const struct { const char *key, *tok; } special[] = {
        {"tokenizer.ggml.bos_token_id", "[CLS]"}, {"tokenizer.ggml.eos_token_id", "[SEP]"},
        {"tokenizer.ggml.unknown_token_id", "[UNK]"}, {"tokenizer.ggml.seperator_token_id", "[SEP]"},
        {"tokenizer.ggml.padding_token_id", "[PAD]"}, {"tokenizer.ggml.mask_token_id", "[MASK]"},
    };
    for (size_t i = 0; i < sizeof special / sizeof *special && !st; i++) {
        int32_t id = tcf_tokenizer_token_id(tk, special[i].tok);
        if (id >= 0) st = tcf_gguf_put_u32(w, special[i].key, (uint32_t)id);
    }
    if (!st) st = tcf_gguf_put_str(w, "tokenizer.huggingface.json", json, json_len);
done:
    for (int i = 0; tok && i < V; i++) free(tok[i]);
    free(tok), free(type);
    cJSON_Delete(root);
    return st;
}

tcf_status tcf_export_put_provenance(tcf_gguf_writer *w, const tcf_classifier *c, const char *run_dir,
                                     const char *base, tcf_ggml_type type, const char *pooling) {
    char path[4096], hex[65], when[32];
    struct stat sb;
    tcf_status st;
    if ((st = tcf_gguf_put_u32(w, "tcf.format_version", TCF_EXPORT_FORMAT)) ||
        (st = tcf_gguf_put_str(w, "tcf.version", TCF_VERSION, strlen(TCF_VERSION))) ||
        (st = tcf_gguf_put_u32(w, "tcf.max_len", (uint32_t)c->max_len)) ||
        (st = tcf_gguf_put_str(w, "tcf.pooling", pooling, strlen(pooling))) ||
        (st = tcf_gguf_put_str(w, "tcf.export.type", tcf_ggml_type_name(type), strlen(tcf_ggml_type_name(type)))))
        return st;
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
    if ((st = tcf_gguf_put_str(w, "tcf.export.time", when, strlen(when))) ||
        (st = tcf_gguf_put_str(w, "tcf.source.run", run_dir, strlen(run_dir))) ||
        (st = tcf_gguf_put_str(w, "tcf.source.base_model", base, strlen(base))))
        return st;
    /* a directory's model.safetensors, or the base file itself (a GGUF) */
    if (!stat(base, &sb) && S_ISDIR(sb.st_mode)) st = tcf_path_join(path, sizeof path, base, "model.safetensors");
    else if (snprintf(path, sizeof path, "%s", base) >= (int)sizeof path) st = tcf_fail(TCF_ERR_ARG, "path too long");
    if (st || (st = tcf_sha256_file(path, hex)) || (st = tcf_gguf_put_str(w, "tcf.source.base_sha256", hex, 64)))
        return tcf_fail_prefix(st, "export: provenance");
    /* the training data: the hash the run recorded (runs since it records
     * one), else the training file's if it is still where training read it */
    cJSON *root = cJSON_Parse(c->run_json);
    const cJSON *cfg = cJSON_GetObjectItemCaseSensitive(root, "train_config");
    const cJSON *rec = cJSON_GetObjectItemCaseSensitive(cfg, "train_sha256"),
                *tr = cJSON_GetObjectItemCaseSensitive(cfg, "train");
    if (cJSON_IsString(rec) && strlen(rec->valuestring) == 64)
        st = tcf_gguf_put_str(w, "tcf.source.train_sha256", rec->valuestring, 64);
    else if (cJSON_IsString(tr) && tcf_file_exists(tr->valuestring) && !tcf_sha256_file(tr->valuestring, hex))
        st = tcf_gguf_put_str(w, "tcf.source.train_sha256", hex, 64);
    cJSON_Delete(root);
    if (!st) st = tcf_gguf_put_str(w, "tcf.run_json", c->run_json, strlen(c->run_json));
    return st;
}

tcf_status tcf_export_bert_hparams(tcf_gguf_writer *w, const tcf_bert_config *cf) {
    tcf_status st;
    if ((st = tcf_gguf_put_u32(w, "bert.context_length", (uint32_t)cf->max_pos)) ||
        (st = tcf_gguf_put_u32(w, "bert.embedding_length", (uint32_t)cf->hidden)) ||
        (st = tcf_gguf_put_u32(w, "bert.feed_forward_length", (uint32_t)cf->inter)) ||
        (st = tcf_gguf_put_u32(w, "bert.block_count", (uint32_t)cf->layers)) ||
        (st = tcf_gguf_put_u32(w, "bert.attention.head_count", (uint32_t)cf->heads)) ||
        (st = tcf_gguf_put_f32(w, "bert.attention.layer_norm_epsilon", cf->ln_eps)) ||
        (st = tcf_gguf_put_bool(w, "bert.attention.causal", 0)))
        return st;
    return TCF_OK;
}

tcf_status tcf_export_bert_tokenizer(tcf_gguf_writer *w, const tcf_bert *m, const tcf_tokenizer *tok, const char *json,
                                     size_t json_len, const char *json_path) {
    return put_tokenizer(w, m, tok, json, json_len, json_path);
}

tcf_status tcf_export_bert_weights(tcf_gguf_writer *w, const tcf_bert *m, tcf_ggml_type type) {
    return put_weights(w, m, NULL, NULL, 0, type);
}

tcf_status tcf_export_gguf(const char *run_dir, const char *out_path, tcf_ggml_type type, double abstain_below) {
    return tcf_export_gguf_ex(run_dir, out_path, type, abstain_below, 0);
}

tcf_status tcf_export_gguf_ex(const char *run_dir, const char *out_path, tcf_ggml_type type, double abstain_below,
                              int no_merge) {
    /* NaN fails both comparisons; any negative means no threshold */
    if (!(abstain_below < 0) && !(abstain_below >= 0 && abstain_below <= 1))
        return tcf_fail(TCF_ERR_ARG, "export: abstain threshold %g is not in [0, 1]", abstain_below);
    tcf_classifier_opts o = {1, 1, 0, 0, 0};
    tcf_classifier *c = NULL;
    tcf_gguf_writer *w = NULL;
    char *json = NULL, path[4096];
    size_t json_len;
    cJSON *root = NULL;
    tcf_status st = tcf_classifier_load(run_dir, &o, &c);
    if (st) return st;
    if (!c->m) { /* a decoder run (model/export_llama.c) */
        root = cJSON_Parse(c->run_json);
        const cJSON *db = cJSON_GetObjectItemCaseSensitive(root, "base_model");
        st = cJSON_IsString(db)
                 ? tcf_export_llama_gguf(c, run_dir, db->valuestring, out_path, type, abstain_below, no_merge)
                 : tcf_fail(TCF_ERR_FORMAT, "%s: tcf_run.json has no base_model", run_dir);
        goto done;
    }
    if (no_merge) {
        st = tcf_fail(TCF_ERR_UNSUPPORTED, "%s: --no-merge is for decoder runs (an encoder's adapters are merged at "
                      "f32 exactly)", run_dir);
        goto done;
    }
    if (type != TCF_GGML_F32 && type != TCF_GGML_F16 && type != TCF_GGML_BF16 && type != TCF_GGML_Q8_0 &&
        type != TCF_GGML_Q4_0 && type != TCF_GGML_Q4_K) {
        st = tcf_fail(TCF_ERR_ARG, "export: an encoder classifier is written as f32, f16, bf16, q8_0, q4_0 or q4_k "
                      "(%s is for decoder classifiers)", tcf_ggml_type_name(type) ? tcf_ggml_type_name(type) : "?");
        goto done;
    }
    root = cJSON_Parse(c->run_json);
    const cJSON *base = cJSON_GetObjectItemCaseSensitive(root, "base_model");
    if (!c->run_json || !cJSON_IsString(base)) {
        st = tcf_fail(TCF_ERR_FORMAT, "%s: tcf_run.json has no base_model", run_dir);
        goto done;
    }
    if ((st = tcf_path_join(path, sizeof path, base->valuestring, "tokenizer.json"))) goto done;
    if (!tcf_file_exists(path)) {
        st = tcf_fail(TCF_ERR_UNSUPPORTED, "%s: missing (export embeds the base model's tokenizer.json)", path);
        goto done;
    }
    if ((st = tcf_read_file(path, &json, &json_len))) goto done;
    const tcf_bert_config *cf = &c->m->cfg;
    const char *const *labels = (const char *const *)c->labels;
    if ((st = tcf_gguf_writer_new(&w)) ||
        (st = tcf_gguf_put_str(w, "general.architecture", "bert", 4)) ||
        (st = tcf_gguf_put_str(w, "general.type", "model", 5)) ||
        (st = tcf_gguf_put_str(w, "general.name", "tcf classifier", 14)) ||
        (st = tcf_gguf_put_u32(w, "general.file_type", tcf_export_file_type(type))) ||
        (st = tcf_gguf_put_u32(w, "general.quantization_version", 2)) ||
        (st = tcf_export_bert_hparams(w, cf)) ||
        (st = tcf_gguf_put_u32(w, "bert.pooling_type", 4)) ||
        (st = tcf_gguf_put_arr_str(w, "bert.classifier.output_labels", labels, c->n_classes)) ||
        (st = put_tokenizer(w, c->m, c->tok, json, json_len, path)) ||
        (st = tcf_export_put_provenance(w, c, run_dir, base->valuestring, type, POOLING_DESC)) ||
        (abstain_below >= 0 && (st = tcf_gguf_put_f32(w, "tcf.abstain_below", (float)abstain_below))) ||
        (st = put_weights(w, c->m, c->head_w, c->head_b, c->n_classes, type)))
        goto done;
    st = tcf_gguf_writer_save(w, out_path);
done:
    if (st) tcf_fail_prefix(st, "export %s -> %s", run_dir, out_path);
    tcf_gguf_writer_free(w);
    cJSON_Delete(root);
    free(json);
    tcf_classifier_free(c);
    return st;
}

/* ---- reading -------------------------------------------------------------------------- */

tcf_status tcf_classifier_load_gguf(const char *path, const tcf_classifier_opts *opts, tcf_classifier **out) {
    *out = NULL;
    tcf_gguf *g = NULL;
    tcf_status st = tcf_gguf_open(path, &g);
    if (st) return st;
    tcf_classifier *c = calloc(1, sizeof *c);
    if (!c || !(c->source = strdup(path))) {
        free(c);
        tcf_gguf_free(g);
        return tcf_fail(TCF_ERR_NOMEM, "out of memory");
    }
    const char *arch, *s;
    size_t len;
    int64_t ver, ml;
    tcf_gguf_type et;
    uint64_t K;
    const tcf_gguf_value *names;
    if ((st = tcf_gguf_get_str(g, "general.architecture", &arch))) goto fail;
    if (strcmp(arch, "bert") && strcmp(arch, "llama")) {
        st = tcf_fail(TCF_ERR_UNSUPPORTED, "%s: key 'general.architecture' is \"%s\": not a tcf classifier (tcf exports "
                      "are \"bert\" or \"llama\")", path, arch);
        goto fail;
    }
    if (!tcf_gguf_find(g, "tcf.format_version")) {
        st = tcf_fail(TCF_ERR_FORMAT, "%s: key 'tcf.format_version' is missing: not written by tcf export", path);
        goto fail;
    }
    if ((st = tcf_gguf_get_i64(g, "tcf.format_version", &ver))) goto fail;
    if (ver != TCF_EXPORT_FORMAT) {
        st = tcf_fail(TCF_ERR_UNSUPPORTED, "%s: key 'tcf.format_version' is %lld (this build reads %d)", path,
                      (long long)ver, TCF_EXPORT_FORMAT);
        goto fail;
    }
    int mapped = 0;
    if (!strcmp(arch, "llama")) { /* a decoder classifier (model/export_llama.c) */
        if ((st = tcf_classifier_load_llama_gguf(g, path, c))) goto fail;
        goto common;
    }
    /* Q8_0 / Q4_0 / Q4_K dense weights stay quantized: the encoder is built
     * on the file's map (tcf_bert_load_gguf_mapped: blocks used in place, F32
     * tensors pointed at), which then lives as long as the model. Other types
     * (and keep_f32) are widened to f32. */
    const tcf_gguf_tensor *wq = tcf_gguf_tensor_find(g, "blk.0.attn_q.weight");
    mapped = wq && !(opts && opts->keep_f32) &&
             (wq->type == TCF_GGML_Q8_0 || wq->type == TCF_GGML_Q4_0 || wq->type == TCF_GGML_Q4_K);
    if (mapped) {
        if ((st = tcf_bert_load_gguf_mapped(g, path, 1, &c->m))) goto fail;
    } else if ((st = tcf_bert_load_gguf(g, path, &c->m))) {
        goto fail;
    }
    if (!c->m->has_pooler) {
        st = tcf_fail(TCF_ERR_FORMAT, "%s: tensor 'cls.weight' (the pooler) is missing", path);
        goto fail;
    }
    if ((st = tcf_gguf_get_array(g, "bert.classifier.output_labels", &et, &K, &names))) goto fail;
    if (et != TCF_GGUF_STRING || K < 2 || K > 1000000) {
        st = tcf_fail(TCF_ERR_FORMAT, "%s: key 'bert.classifier.output_labels' must be an array of at least 2 strings",
                      path);
        goto fail;
    }
    const int C = c->m->cfg.hidden;
    c->n_classes = (int)K;
    c->labels = calloc(K, sizeof *c->labels);
    c->head_w = malloc(sizeof(float) * K * (size_t)C);
    c->head_b = malloc(sizeof(float) * K);
    if (!c->labels || !c->head_w || !c->head_b) {
        st = tcf_fail(TCF_ERR_NOMEM, "%s: out of memory", path);
        goto fail;
    }
    for (uint64_t k = 0; k < K; k++) {
        if ((st = tcf_gguf_array_str(names, k, &s, &len))) goto fail;
        if (!(c->labels[k] = strdup(s))) {
            st = tcf_fail(TCF_ERR_NOMEM, "%s: out of memory", path);
            goto fail;
        }
    }
    const tcf_gguf_tensor *hw = tcf_gguf_tensor_find(g, "cls.output.weight"), *hb = tcf_gguf_tensor_find(g, "cls.output.bias");
    if (!hw || !hb || hw->n_dims != 2 || hw->ne[0] != C || hw->ne[1] != (int64_t)K || hb->n_dims != 1 ||
        hb->ne[0] != (int64_t)K) {
        st = tcf_fail(TCF_ERR_FORMAT, "%s: tensors 'cls.output.weight' [%llu, %d] and 'cls.output.bias' [%llu] (the "
                      "head) are missing or misshapen", path, (unsigned long long)K, C, (unsigned long long)K);
        goto fail;
    }
    if ((st = tcf_gguf_dequantize(hw, c->head_w, (int64_t)K * C)) || (st = tcf_gguf_dequantize(hb, c->head_b, (int64_t)K)))
        goto fail;
    for (int64_t i = 0; i < (int64_t)K * C; i++)
        if (!isfinite(c->head_w[i]) || (i < (int64_t)K && !isfinite(c->head_b[i]))) {
            st = tcf_fail(TCF_ERR_FORMAT, "%s: the head (cls.output) holds a value that is not finite", path);
            goto fail;
        }
    if ((st = tcf_gguf_get_i64(g, "tcf.max_len", &ml))) goto fail;
    if (ml < 3 || ml > c->m->cfg.max_pos) {
        st = tcf_fail(TCF_ERR_FORMAT, "%s: key 'tcf.max_len' = %lld is outside [3, %d]", path, (long long)ml,
                      c->m->cfg.max_pos);
        goto fail;
    }
    c->max_len = (int)ml;
    const tcf_gguf_value *tj = tcf_gguf_find(g, "tokenizer.huggingface.json");
    if (!tj) {
        st = tcf_fail(TCF_ERR_FORMAT, "%s: key 'tokenizer.huggingface.json' is missing", path);
        goto fail;
    }
    if ((st = tcf_gguf_value_str(tj, &s, &len))) goto fail;
    char label[4200];
    snprintf(label, sizeof label, "%s: tokenizer.huggingface.json", path);
    if ((st = tcf_tokenizer_load_json(s, len, label, &c->tok))) goto fail;
    if (tcf_tokenizer_vocab_size(c->tok) > c->m->cfg.vocab) {
        st = tcf_fail(TCF_ERR_FORMAT, "%s: the tokenizer has %d tokens but token_embd.weight only %d rows", path,
                      tcf_tokenizer_vocab_size(c->tok), c->m->cfg.vocab);
        goto fail;
    }
common:;
    const tcf_gguf_value *ab = tcf_gguf_find(g, "tcf.abstain_below");
    if (ab) {
        double v;
        if (tcf_gguf_value_type(ab) != TCF_GGUF_F32 && tcf_gguf_value_type(ab) != TCF_GGUF_F64) {
            st = tcf_fail(TCF_ERR_FORMAT, "%s: key 'tcf.abstain_below' is %s, not f32", path,
                          tcf_gguf_type_name(tcf_gguf_value_type(ab)));
            goto fail;
        }
        if ((st = tcf_gguf_value_f64(ab, &v))) goto fail;
        if (!(v >= 0 && v <= 1)) {
            st = tcf_fail(TCF_ERR_FORMAT, "%s: key 'tcf.abstain_below' = %g is not in [0, 1]", path, v);
            goto fail;
        }
        c->has_abstain = 1, c->abstain_below = v;
    }
    const tcf_gguf_value *rj = tcf_gguf_find(g, "tcf.run_json");
    if (rj && !tcf_gguf_value_str(rj, &s, &len) && !(c->run_json = strdup(s))) {
        st = tcf_fail(TCF_ERR_NOMEM, "%s: out of memory", path);
        goto fail;
    }
    if (!mapped) tcf_gguf_free(g); /* else c->m owns it */
    g = NULL;
    if ((st = tcf_classifier_finish(c, opts))) goto fail;
    *out = c;
    return TCF_OK;
fail:
    if (!(c->m && c->m->map == g)) tcf_gguf_free(g); /* else freed with c->m */
    tcf_classifier_free(c);
    return st;
}

/* ---- PEFT ----------------------------------------------------------------------------- */

tcf_status tcf_export_peft(const char *run_dir, const char *out_dir) {
    char path[4096], *text = NULL;
    size_t len;
    tcf_status st;
    if ((st = tcf_path_join(path, sizeof path, run_dir, "tcf_run.json"))) return st;
    if ((st = tcf_read_file(path, &text, &len))) return tcf_fail_prefix(st, "%s is not a tcf run directory", run_dir);
    cJSON *root = cJSON_ParseWithLength(text, len);
    free(text);
    const cJSON *base = cJSON_GetObjectItemCaseSensitive(root, "base_model");
    const cJSON *mo = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(root, "train_config"), "mode");
    tcf_bert *m = NULL;
    tcf_lora *l = NULL;
    if (!cJSON_IsString(base)) {
        st = tcf_fail(TCF_ERR_FORMAT, "%s: not a tcf run file (needs base_model)", path);
        goto done;
    }
    const cJSON *arch = cJSON_GetObjectItemCaseSensitive(root, "architecture");
    if (cJSON_IsString(arch) && strcmp(arch->valuestring, "bert-sequence-classification")) {
        st = tcf_fail(TCF_ERR_UNSUPPORTED, "%s: a %s run's adapter_config.json + adapter_model.safetensors already are "
                      "its PEFT adapter (copy them)", run_dir, arch->valuestring);
        goto done;
    }
    if (cJSON_IsString(mo) && strcmp(mo->valuestring, "lora")) {
        st = tcf_fail(TCF_ERR_UNSUPPORTED, "%s: a --mode %s run has no LoRA adapter to export to PEFT", run_dir,
                      mo->valuestring);
        goto done;
    }
    /* the base's shape checks the adapter */
    if ((st = tcf_bert_load(base->valuestring, &m)) ||
        (st = tcf_adapter_load(run_dir, m->cfg.layers, m->cfg.hidden, m->cfg.inter, &l)) ||
        (st = tcf_adapter_save(l, out_dir, base->valuestring)))
        goto done;
done:
    tcf_lora_free(l);
    tcf_bert_free(m);
    cJSON_Delete(root);
    return st;
}
