/*
 * bert.c — BERT-family encoders (BERT, MiniLM, bge, all-MiniLM-*): load a
 * Hugging Face checkpoint and run the forward pass in f32.
 *
 * Architecture (transformers' BertModel, post-LN):
 *   x = LN(word[id] + pos[t] + type[0])
 *   per layer:  a = Attn(x) ; x = LN(x + a Wo^T + bo)
 *               f = GELU(x Wi^T + bi) ; x = LN(x + f Wo2^T + bo2)
 *   Attn: per head, softmax(q k^T / sqrt(d) over unmasked keys) v.
 * Pooling: "mean" = mean of last hidden states over real tokens
 * (sentence-transformers' Pooling), "cls" = last hidden state of the first
 * token (as bge / sentence-transformers CLS pooling; not BERT's tanh pooler).
 *
 * Not handled: token_type ids other than 0 (single-sequence inputs only),
 * relative position embeddings, pytorch_model.bin checkpoints.
 * Checkpoint layout: config.json + model.safetensors, tensor names with or
 * without a "bert." prefix (BertModel or BertFor* heads).
 * Full fine-tuning reads the dense weights back in nn.Linear layout and
 * replaces them after each optimiser step (tcf_bert_get_dense / set_dense).
 */
#include "model/bert.h"
#include "base/base.h"
#include "kern/kern.h"

#include <assert.h>
#include <cjson/cJSON.h>
#include <limits.h>
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* ---- config.json --------------------------------------------------------- */

static tcf_status cfg_int(const cJSON *root, const char *path, const char *key, int lo, int hi,
                          int def, int *out) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, key);
    if (!v) {
        if (def >= lo) {
            *out = def;
            return TCF_OK;
        }
        return tcf_fail(TCF_ERR_FORMAT, "%s: missing key \"%s\"", path, key);
    }
    if (!cJSON_IsNumber(v) || v->valuedouble != (double)(int64_t)v->valuedouble ||
        v->valuedouble < lo || v->valuedouble > hi)
        return tcf_fail(TCF_ERR_FORMAT, "%s: \"%s\" must be an integer in [%d, %d]", path, key,
                        lo, hi);
    *out = (int)v->valuedouble;
    return TCF_OK;
}

static tcf_status parse_config(const char *path, tcf_bert_config *c) {
    char *text;
    size_t len;
    tcf_status st = tcf_read_file(path, &text, &len);
    if (st) return st;
    cJSON *root = cJSON_ParseWithLength(text, len);
    free(text);
    if (!root || !cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return tcf_fail(TCF_ERR_FORMAT, "%s: not a JSON object", path);
    }
    const cJSON *mt = cJSON_GetObjectItemCaseSensitive(root, "model_type");
    const char *type = cJSON_IsString(mt) ? mt->valuestring : NULL;
    if (!type) {
        st = tcf_fail(TCF_ERR_FORMAT, "%s: missing key \"model_type\"", path);
        goto done;
    }
    if (strcmp(type, "bert") != 0) {
        st = tcf_fail(TCF_ERR_UNSUPPORTED,
                      "%s: model_type \"%s\" is not supported (supported: bert; decoders: llama, qwen2, phi3)",
                      path, type);
        goto done;
    }
    if ((st = cfg_int(root, path, "vocab_size", 1, 1 << 24, -1, &c->vocab)) ||
        (st = cfg_int(root, path, "hidden_size", 1, 1 << 16, -1, &c->hidden)) ||
        (st = cfg_int(root, path, "num_hidden_layers", 1, 1024, -1, &c->layers)) ||
        (st = cfg_int(root, path, "num_attention_heads", 1, 1024, -1, &c->heads)) ||
        (st = cfg_int(root, path, "intermediate_size", 1, 1 << 20, -1, &c->inter)) ||
        (st = cfg_int(root, path, "max_position_embeddings", 1, 1 << 20, -1, &c->max_pos)) ||
        (st = cfg_int(root, path, "type_vocab_size", 1, 1 << 16, 2, &c->type_vocab)))
        goto done;
    /* pad_token_id: only the embedding gradient needs it; absent, null or
     * out of range means BERT's 0 */
    const cJSON *pad = cJSON_GetObjectItemCaseSensitive(root, "pad_token_id");
    c->pad_id = cJSON_IsNumber(pad) && pad->valuedouble >= 0 && pad->valuedouble < c->vocab ? pad->valueint : 0;
    if (c->hidden % c->heads) {
        st = tcf_fail(TCF_ERR_FORMAT, "%s: hidden_size %d is not a multiple of num_attention_heads %d",
                      path, c->hidden, c->heads);
        goto done;
    }
    const cJSON *eps = cJSON_GetObjectItemCaseSensitive(root, "layer_norm_eps");
    c->ln_eps = cJSON_IsNumber(eps) ? (float)eps->valuedouble : 1e-12f;
    const cJSON *act = cJSON_GetObjectItemCaseSensitive(root, "hidden_act");
    if (act && (!cJSON_IsString(act) || strcmp(act->valuestring, "gelu") != 0)) {
        st = tcf_fail(TCF_ERR_UNSUPPORTED, "%s: hidden_act %s is not supported (supported: gelu)",
                      path, cJSON_IsString(act) ? act->valuestring : "(not a string)");
        goto done;
    }
    const cJSON *pe = cJSON_GetObjectItemCaseSensitive(root, "position_embedding_type");
    if (pe && (!cJSON_IsString(pe) || strcmp(pe->valuestring, "absolute") != 0)) {
        st = tcf_fail(TCF_ERR_UNSUPPORTED,
                      "%s: position_embedding_type %s is not supported (supported: absolute)",
                      path, cJSON_IsString(pe) ? pe->valuestring : "(not a string)");
        goto done;
    }
done:
    cJSON_Delete(root);
    return st;
}

/* ---- weights ---------------------------------------------------------------- */

/* Where the weights come from: a safetensors checkpoint (names as
 * transformers spells them, after `prefix`) or a GGUF file (llama.cpp's
 * names, tcf_bert_gguf_name; any type tcf_gguf_dequantize decodes). */
typedef struct {
    const tcf_safetensors *st;
    const tcf_gguf *gg;
    const char *path;
    const char *prefix;
} wsrc;

static tcf_status shape_error(const char *path, const char *name, int n_dims, const int64_t *dims,
                              int64_t d0, int64_t d1) {
    char got[128] = "";
    for (int i = 0; i < n_dims; i++)
        snprintf(got + strlen(got), sizeof got - strlen(got), "%s%lld", i ? ", " : "", (long long)dims[i]);
    if (d1)
        return tcf_fail(TCF_ERR_FORMAT, "%s: tensor '%s' has shape [%s], expected [%lld, %lld]", path, name, got,
                        (long long)d0, (long long)d1);
    return tcf_fail(TCF_ERR_FORMAT, "%s: tensor '%s' has shape [%s], expected [%lld]", path, name, got,
                    (long long)d0);
}

/* The same tensor from a GGUF file; shapes are compared in torch order
 * (ggml's ne reversed). */
static tcf_status load_tensor_gguf(const wsrc *s, const char *name, float *dst, int64_t d0, int64_t d1) {
    char gname[128];
    if (!tcf_bert_gguf_name(name, gname, sizeof gname))
        return tcf_fail(TCF_ERR_ARG, "%s: no GGUF name for tensor '%s'", s->path, name);
    const tcf_gguf_tensor *t = tcf_gguf_tensor_find(s->gg, gname);
    if (!t) return tcf_fail(TCF_ERR_FORMAT, "%s: tensor '%s' is missing", s->path, gname);
    int64_t dims[TCF_GGUF_MAX_DIMS];
    for (int i = 0; i < t->n_dims; i++) dims[i] = t->ne[t->n_dims - 1 - i];
    int ok = d1 ? (t->n_dims == 2 && dims[0] == d0 && dims[1] == d1) : (t->n_dims == 1 && dims[0] == d0);
    if (!ok) return shape_error(s->path, gname, t->n_dims, dims, d0, d1);
    tcf_status st = tcf_gguf_dequantize(t, dst, t->numel);
    if (st) return tcf_fail_prefix(st, "%s: tensor '%s'", s->path, gname);
    /* a NaN or inf weight would turn every output into NaN: refuse it here
     * (tcf export never writes one) */
    for (int64_t i = 0; i < t->numel; i++)
        if (!isfinite(dst[i]))
            return tcf_fail(TCF_ERR_FORMAT, "%s: tensor '%s': element %lld is %g (not finite)", s->path, gname,
                            (long long)i, (double)dst[i]);
    return TCF_OK;
}

/* Copy tensor `name` (with the checkpoint's prefix) into dst, checking shape
 * (d1 = 0: a vector of d0). */
static tcf_status load_tensor(const wsrc *s, const char *name, float *dst, int64_t d0, int64_t d1) {
    if (s->gg) return load_tensor_gguf(s, name, dst, d0, d1);
    char full[256];
    snprintf(full, sizeof full, "%s%s", s->prefix, name);
    const tcf_tensor_view *t = tcf_safetensors_find(s->st, full);
    if (!t) return tcf_fail(TCF_ERR_FORMAT, "%s: tensor '%s' is missing", s->path, full);
    int ok = d1 ? (t->n_dims == 2 && t->shape[0] == d0 && t->shape[1] == d1)
                : (t->n_dims == 1 && t->shape[0] == d0);
    if (!ok) return shape_error(s->path, full, t->n_dims, t->shape, d0, d1);
    tcf_status st = tcf_tensor_to_f32(t, dst, t->numel);
    if (st) return tcf_fail_prefix(st, "%s", s->path);
    return TCF_OK;
}

/* Load the nn.Linear weights names[0..n) (each (out, in)), stack them along
 * out, and pack the result's transpose for tcf_gemm_packed into dst. */
static tcf_status load_linear(const wsrc *s, const char *const *names, int n, int64_t out,
                              int64_t in, float *dst) {
    float *tmp = malloc(sizeof(float) * (size_t)(n * out * in));
    if (!tmp) return tcf_fail(TCF_ERR_NOMEM, "%s: tensor '%s': out of memory", s->path, names[0]);
    tcf_status st = TCF_OK;
    for (int i = 0; i < n && !st; i++) st = load_tensor(s, names[i], tmp + i * out * in, out, in);
    if (!st) tcf_gemm_pack_b((int)in, (int)(n * out), tmp, (int)in, 1, dst);
    free(tmp);
    return st;
}



/* Lay out every parameter in one allocation; if `s` is given, fill it. */
static tcf_status layout_params(tcf_bert *m, const wsrc *s) {
    const tcf_bert_config *c = &m->cfg;
    const int64_t C = c->hidden, I = c->inter;
    float *p = m->params;
    int64_t used = 0;
#define TAKE(field, n)                              \
    do {                                            \
        field = p ? p + used : NULL;                \
        used += (n);                                \
    } while (0)
    TAKE(m->wte, (int64_t)c->vocab * C);
    TAKE(m->wpe, (int64_t)c->max_pos * C);
    TAKE(m->wtt, (int64_t)c->type_vocab * C);
    TAKE(m->emb_ln_g, C);
    TAKE(m->emb_ln_b, C);
    if (m->has_pooler) {
        TAKE(m->pool_w, C * C);
        TAKE(m->pool_b, C);
    }
    for (int l = 0; l < c->layers; l++) {
        tcf_bert_layer *L = &m->layer[l];
        TAKE(L->qkv_wp, (int64_t)tcf_gemm_packed_size((int)C, (int)(3 * C)));
        TAKE(L->qkv_b, 3 * C);
        TAKE(L->ao_wp, (int64_t)tcf_gemm_packed_size((int)C, (int)C));
        TAKE(L->ao_b, C);
        TAKE(L->ln1_g, C);
        TAKE(L->ln1_b, C);
        TAKE(L->fi_wp, (int64_t)tcf_gemm_packed_size((int)C, (int)I));
        TAKE(L->fi_b, I);
        TAKE(L->fo_wp, (int64_t)tcf_gemm_packed_size((int)I, (int)C));
        TAKE(L->fo_b, C);
        TAKE(L->ln2_g, C);
        TAKE(L->ln2_b, C);
    }
#undef TAKE
    m->n_params = used;
    if (!s) return TCF_OK;

    tcf_status st;
    if ((st = load_tensor(s, "embeddings.word_embeddings.weight", m->wte, c->vocab, C)) ||
        (st = load_tensor(s, "embeddings.position_embeddings.weight", m->wpe, c->max_pos, C)) ||
        (st = load_tensor(s, "embeddings.token_type_embeddings.weight", m->wtt, c->type_vocab, C)) ||
        (st = load_tensor(s, "embeddings.LayerNorm.weight", m->emb_ln_g, C, 0)) ||
        (st = load_tensor(s, "embeddings.LayerNorm.bias", m->emb_ln_b, C, 0)))
        return st;
    if (m->has_pooler && ((st = load_tensor(s, "pooler.dense.weight", m->pool_w, C, C)) ||
                          (st = load_tensor(s, "pooler.dense.bias", m->pool_b, C, 0))))
        return st;
    for (int l = 0; l < c->layers; l++) {
        tcf_bert_layer *L = &m->layer[l];
        char n[128];
#define LT(suffix, dst, d0, d1)                                             \
    do {                                                                    \
        snprintf(n, sizeof n, "encoder.layer.%d.%s", l, suffix);            \
        if ((st = load_tensor(s, n, dst, d0, d1))) return st;               \
    } while (0)
        char nq[128], nk[128], nv[128], na[128], ni[128], no[128];
        snprintf(nq, sizeof nq, "encoder.layer.%d.attention.self.query.weight", l);
        snprintf(nk, sizeof nk, "encoder.layer.%d.attention.self.key.weight", l);
        snprintf(nv, sizeof nv, "encoder.layer.%d.attention.self.value.weight", l);
        snprintf(na, sizeof na, "encoder.layer.%d.attention.output.dense.weight", l);
        snprintf(ni, sizeof ni, "encoder.layer.%d.intermediate.dense.weight", l);
        snprintf(no, sizeof no, "encoder.layer.%d.output.dense.weight", l);
        /* q, k, v are fused into one (C, 3C) weight: one product per layer. */
        const char *qkv[3] = {nq, nk, nv}, *ao[1] = {na}, *fi[1] = {ni}, *fo[1] = {no};
        if ((st = load_linear(s, qkv, 3, C, C, L->qkv_wp)) || (st = load_linear(s, ao, 1, C, C, L->ao_wp)) ||
            (st = load_linear(s, fi, 1, I, C, L->fi_wp)) || (st = load_linear(s, fo, 1, C, I, L->fo_wp)))
            return st;
        LT("attention.self.query.bias", L->qkv_b, C, 0);
        LT("attention.self.key.bias", L->qkv_b + C, C, 0);
        LT("attention.self.value.bias", L->qkv_b + 2 * C, C, 0);
        LT("attention.output.dense.bias", L->ao_b, C, 0);
        LT("attention.output.LayerNorm.weight", L->ln1_g, C, 0);
        LT("attention.output.LayerNorm.bias", L->ln1_b, C, 0);
        LT("intermediate.dense.bias", L->fi_b, I, 0);
        LT("output.dense.bias", L->fo_b, C, 0);
        LT("output.LayerNorm.weight", L->ln2_g, C, 0);
        LT("output.LayerNorm.bias", L->ln2_b, C, 0);
#undef LT
    }
    return TCF_OK;
}

/* Allocate the parameters of m (config and has_pooler set) and fill them
 * from s. */
static tcf_status alloc_and_load(tcf_bert *m, const wsrc *s) {
    m->layer = calloc((size_t)m->cfg.layers, sizeof *m->layer);
    layout_params(m, NULL);
    size_t bytes;
    if (!m->layer || !tcf_mul_ok((size_t)m->n_params, sizeof(float), &bytes) ||
        !(m->params = aligned_alloc(64, (bytes + 63) & ~(size_t)63)))
        return tcf_fail(TCF_ERR_NOMEM, "%s: cannot allocate %lld parameters", s->path, (long long)m->n_params);
    return layout_params(m, s);
}

tcf_status tcf_bert_load(const char *dir, tcf_bert **out) {
    *out = NULL;
    char path[4096];
    tcf_status st;
    tcf_bert *m = calloc(1, sizeof *m);
    if (!m) return tcf_fail(TCF_ERR_NOMEM, "out of memory");
    if ((st = tcf_path_join(path, sizeof path, dir, "config.json"))) goto fail;
    if (!tcf_file_exists(path)) {
        st = tcf_fail(TCF_ERR_IO, "%s: missing (a model directory needs config.json)", path);
        goto fail;
    }
    if ((st = parse_config(path, &m->cfg))) goto fail;

    if ((st = tcf_path_join(path, sizeof path, dir, "model.safetensors"))) goto fail;
    if (!tcf_file_exists(path)) {
        st = tcf_fail(TCF_ERR_IO, "%s: missing (tcf reads safetensors checkpoints)", path);
        goto fail;
    }
    tcf_safetensors *sf = NULL;
    if ((st = tcf_safetensors_open(path, &sf))) goto fail;
    static const char *prefixes[] = {"", "bert.", "model."};
    wsrc src = {sf, NULL, path, NULL};
    for (size_t i = 0; i < sizeof prefixes / sizeof *prefixes && !src.prefix; i++) {
        char probe[128];
        snprintf(probe, sizeof probe, "%sembeddings.word_embeddings.weight", prefixes[i]);
        if (tcf_safetensors_find(sf, probe)) src.prefix = prefixes[i];
    }
    if (!src.prefix) {
        tcf_safetensors_free(sf);
        st = tcf_fail(TCF_ERR_FORMAT,
                      "%s: no tensor 'embeddings.word_embeddings.weight' (with or without a "
                      "'bert.' prefix): not a BERT checkpoint",
                      path);
        goto fail;
    }
    {
        char probe[128];
        snprintf(probe, sizeof probe, "%spooler.dense.weight", src.prefix);
        m->has_pooler = tcf_safetensors_find(sf, probe) != NULL;
    }
    st = alloc_and_load(m, &src);
    tcf_safetensors_free(sf);
    if (st) goto fail;
    *out = m;
    return TCF_OK;
fail:
    tcf_bert_free(m);
    return st;
}

/* ---- GGUF ------------------------------------------------------------------ */

int tcf_bert_gguf_name(const char *hf, char *out, size_t cap) {
    static const struct { const char *hf, *gg; } top[] = {
        {"embeddings.word_embeddings.", "token_embd."},
        {"embeddings.position_embeddings.", "position_embd."},
        {"embeddings.token_type_embeddings.", "token_types."},
        {"embeddings.LayerNorm.", "token_embd_norm."},
        {"pooler.dense.", "cls."},
        {"classifier.", "cls.output."},
    }, layer[] = {
        {"attention.self.query.", "attn_q."},
        {"attention.self.key.", "attn_k."},
        {"attention.self.value.", "attn_v."},
        {"attention.output.dense.", "attn_output."},
        {"attention.output.LayerNorm.", "attn_output_norm."},
        {"intermediate.dense.", "ffn_up."},
        {"output.dense.", "ffn_down."},
        {"output.LayerNorm.", "layer_output_norm."},
    };
    int n;
    for (size_t i = 0; i < sizeof top / sizeof *top; i++) {
        size_t k = strlen(top[i].hf);
        if (!strncmp(hf, top[i].hf, k)) {
            n = snprintf(out, cap, "%s%s", top[i].gg, hf + k);
            return n > 0 && (size_t)n < cap;
        }
    }
    int l, used = 0;
    if (sscanf(hf, "encoder.layer.%d.%n", &l, &used) != 1 || !used || l < 0) return 0;
    for (size_t i = 0; i < sizeof layer / sizeof *layer; i++) {
        size_t k = strlen(layer[i].hf);
        if (!strncmp(hf + used, layer[i].hf, k)) {
            n = snprintf(out, cap, "blk.%d.%s%s", l, layer[i].gg, hf + used + k);
            return n > 0 && (size_t)n < cap;
        }
    }
    return 0;
}

/* An integer key in [lo, hi]. */
static tcf_status gguf_int(const tcf_gguf *g, const char *label, const char *key, int64_t lo, int64_t hi,
                           int *out) {
    int64_t v;
    tcf_status st = tcf_gguf_get_i64(g, key, &v);
    if (st) return st;
    if (v < lo || v > hi)
        return tcf_fail(TCF_ERR_FORMAT, "%s: key '%s' = %lld is outside [%lld, %lld]", label, key, (long long)v,
                        (long long)lo, (long long)hi);
    *out = (int)v;
    return TCF_OK;
}

/* Rows (torch dim 0) of a 2-D tensor of row length `cols`, or -1. */
static int64_t gguf_rows(const tcf_gguf *g, const char *name, int64_t cols) {
    const tcf_gguf_tensor *t = tcf_gguf_tensor_find(g, name);
    return t && t->n_dims == 2 && t->ne[0] == cols ? t->ne[1] : -1;
}

/* m->cfg and m->has_pooler from a BERT GGUF's keys and tensor shapes. */
static tcf_status gguf_config(const tcf_gguf *g, const char *label, tcf_bert *m) {
    const char *arch;
    tcf_status st = tcf_gguf_get_str(g, "general.architecture", &arch);
    if (st) return st;
    if (strcmp(arch, "bert"))
        return tcf_fail(TCF_ERR_UNSUPPORTED, "%s: key 'general.architecture' is \"%s\" (supported: bert)", label,
                        arch);
    tcf_bert_config *c = &m->cfg;
    double eps;
    if ((st = gguf_int(g, label, "bert.embedding_length", 1, 1 << 16, &c->hidden)) ||
        (st = gguf_int(g, label, "bert.block_count", 1, 1024, &c->layers)) ||
        (st = gguf_int(g, label, "bert.attention.head_count", 1, 1024, &c->heads)) ||
        (st = gguf_int(g, label, "bert.feed_forward_length", 1, 1 << 20, &c->inter)) ||
        (st = gguf_int(g, label, "bert.context_length", 1, 1 << 20, &c->max_pos)) ||
        (st = tcf_gguf_get_f64(g, "bert.attention.layer_norm_epsilon", &eps)))
        return st;
    if (c->hidden % c->heads)
        return tcf_fail(TCF_ERR_FORMAT, "%s: bert.embedding_length %d is not a multiple of bert.attention.head_count %d",
                        label, c->hidden, c->heads);
    if (!(eps > 0 && eps < 1))
        return tcf_fail(TCF_ERR_FORMAT, "%s: key 'bert.attention.layer_norm_epsilon' = %g is not in (0, 1)", label, eps);
    c->ln_eps = (float)eps;
    int64_t V = gguf_rows(g, "token_embd.weight", c->hidden), TV = gguf_rows(g, "token_types.weight", c->hidden);
    if (V < 1 || V > (1 << 24) || TV < 1 || TV > (1 << 16))
        return tcf_fail(TCF_ERR_FORMAT, "%s: tensors 'token_embd.weight' and 'token_types.weight' must be 2-D with rows "
                        "of bert.embedding_length = %d", label, c->hidden);
    c->vocab = (int)V, c->type_vocab = (int)TV;
    int64_t pad = 0;
    if (tcf_gguf_find(g, "tokenizer.ggml.padding_token_id") &&
        (st = tcf_gguf_get_i64(g, "tokenizer.ggml.padding_token_id", &pad)))
        return st;
    c->pad_id = pad >= 0 && pad < c->vocab ? (int)pad : 0;
    m->has_pooler = tcf_gguf_tensor_find(g, "cls.weight") != NULL;
    return TCF_OK;
}

tcf_status tcf_bert_load_gguf(const tcf_gguf *g, const char *label, tcf_bert **out) {
    *out = NULL;
    tcf_bert *m = calloc(1, sizeof *m);
    if (!m) return tcf_fail(TCF_ERR_NOMEM, "out of memory");
    tcf_status st = gguf_config(g, label, m);
    if (st) goto fail;
    wsrc src = {NULL, g, label, ""};
    if ((st = alloc_and_load(m, &src))) goto fail;
    *out = m;
    return TCF_OK;
fail:
    tcf_bert_free(m);
    return st;
}

/* ---- GGUF, mapped --------------------------------------------------------- */

/* Drop the pages of [p, p + n) from this process's resident set (whole
 * pages inside the range only): the mapping is a read-only private file map
 * never written, so they come back from the page cache on the next touch. */
static void drop_pages(const void *p, size_t n) {
    const uintptr_t pg = (uintptr_t)sysconf(_SC_PAGESIZE), a = ((uintptr_t)p + pg - 1) & ~(pg - 1),
                    e = ((uintptr_t)p + n) & ~(pg - 1);
    if (e > a) madvise((void *)a, e - a, MADV_DONTNEED);
}

/* Every value finite; scanned in 1 MB pieces whose pages are dropped after
 * (when `drop`), so checking a 47 MB embedding does not make it resident. */
static tcf_status check_finite_f32(const char *label, const char *name, const float *x, int64_t n, int drop) {
    const int64_t piece = (1 << 20) / sizeof(float);
    for (int64_t i0 = 0; i0 < n; i0 += piece) {
        const int64_t i1 = i0 + piece < n ? i0 + piece : n;
        for (int64_t i = i0; i < i1; i++)
            if (!isfinite(x[i]))
                return tcf_fail(TCF_ERR_FORMAT, "%s: tensor '%s': element %lld is %g (not finite)", label, name,
                                (long long)i, (double)x[i]);
        if (drop) drop_pages(x + i0, sizeof(float) * (size_t)(i1 - i0));
    }
    return TCF_OK;
}

/* An F32 tensor of the file (torch shape (d0) or (d0, d1)) in place. */
static tcf_status view_f32(const tcf_gguf *g, const char *label, const char *hf, int64_t d0, int64_t d1, int drop,
                           float **out) {
    char gname[128];
    if (!tcf_bert_gguf_name(hf, gname, sizeof gname))
        return tcf_fail(TCF_ERR_ARG, "%s: no GGUF name for tensor '%s'", label, hf);
    const tcf_gguf_tensor *t = tcf_gguf_tensor_find(g, gname);
    if (!t) return tcf_fail(TCF_ERR_FORMAT, "%s: tensor '%s' is missing", label, gname);
    int64_t dims[TCF_GGUF_MAX_DIMS];
    for (int i = 0; i < t->n_dims; i++) dims[i] = t->ne[t->n_dims - 1 - i];
    int ok = d1 ? (t->n_dims == 2 && dims[0] == d0 && dims[1] == d1) : (t->n_dims == 1 && dims[0] == d0);
    if (!ok) return shape_error(label, gname, t->n_dims, dims, d0, d1);
    if (t->type != TCF_GGML_F32)
        return tcf_fail(TCF_ERR_UNSUPPORTED, "%s: tensor '%s' is %s (a quantized export keeps it F32)", label, gname,
                        tcf_ggml_type_name(t->type) ? tcf_ggml_type_name(t->type) : "?");
    if ((uintptr_t)t->data % sizeof(float))
        return tcf_fail(TCF_ERR_FORMAT, "%s: tensor '%s' is not 4-byte aligned in the file", label, gname);
    tcf_status st = check_finite_f32(label, gname, t->data, t->numel, drop);
    if (st) return st;
    *out = (float *)t->data; /* read-only map: never written (inference only) */
    return TCF_OK;
}

/* The qmat type of a dense weight kept in place from a file: Q8_0, Q4_0,
 * Q4_K; -1 for other types. */
static int kept_qtype(tcf_ggml_type t) {
    return t == TCF_GGML_Q8_0 ? TCF_QTYPE_Q8_0 : t == TCF_GGML_Q4_0 ? TCF_QTYPE_Q4_0
         : t == TCF_GGML_Q4_K ? TCF_QTYPE_Q4_K : -1;
}

/* A dense weight (out, in) in place, its block scales checked: of qmat type
 * `want`, or (want < 0) of any type kept_qtype takes (a q4_k export keeps the
 * rows that are not whole super-blocks Q8_0). */
static tcf_status view_dense(const tcf_gguf *g, const char *label, const char *hf, int want, int out, int in,
                             tcf_qmat *W) {
    char gname[128];
    if (!tcf_bert_gguf_name(hf, gname, sizeof gname))
        return tcf_fail(TCF_ERR_ARG, "%s: no GGUF name for tensor '%s'", label, hf);
    const tcf_gguf_tensor *t = tcf_gguf_tensor_find(g, gname);
    if (!t) return tcf_fail(TCF_ERR_FORMAT, "%s: tensor '%s' is missing", label, gname);
    const char *tn = tcf_ggml_type_name(t->type) ? tcf_ggml_type_name(t->type) : "?";
    if (kept_qtype(t->type) < 0)
        return tcf_fail(TCF_ERR_FORMAT, "%s: tensor '%s' is %s; the dense weights of a quantized export are Q8_0, "
                        "Q4_0 or Q4_K", label, gname, tn);
    if (want >= 0 && kept_qtype(t->type) != want)
        return tcf_fail(TCF_ERR_FORMAT, "%s: tensor '%s' is %s, attn_q %s (q, k and v are fused: one type)", label,
                        gname, tn, tcf_qtype_name((tcf_qtype)want));
    if (t->n_dims != 2 || t->ne[0] != in || t->ne[1] != out) {
        int64_t dims[2] = {t->ne[1], t->ne[0]};
        return shape_error(label, gname, t->n_dims < 2 ? t->n_dims : 2, dims, out, in);
    }
    tcf_status st = tcf_qmat_from_gguf(W, t);
    if (st) return tcf_fail_prefix(st, "%s", label);
    /* codes are integers: the weights are finite iff every block's f16
     * scales are (exponent bits not all ones): d for Q8_0 / Q4_0, d and dmin
     * for Q4_K */
    const int k4 = t->type == TCF_GGML_Q4_K;
    const size_t bb = t->type == TCF_GGML_Q8_0 ? 34 : k4 ? 144 : 18, nb = t->nbytes / bb;
    for (size_t b = 0; b < nb; b++) {
        const uint8_t *p = W->data + b * bb;
        if ((p[1] & 0x7c) == 0x7c || (k4 && (p[3] & 0x7c) == 0x7c))
            return tcf_fail(TCF_ERR_FORMAT, "%s: tensor '%s': block %zu has a scale that is not finite", label, gname, b);
    }
    return TCF_OK;
}

tcf_status tcf_bert_load_gguf_mapped(tcf_gguf *g, const char *label, int drop, tcf_bert **out) {
    *out = NULL;
    const tcf_gguf_tensor *wq = tcf_gguf_tensor_find(g, "blk.0.attn_q.weight");
    if (!wq || kept_qtype(wq->type) < 0)
        return tcf_fail(TCF_ERR_UNSUPPORTED,
                        "%s: the dense weights are not Q8_0, Q4_0 or Q4_K (tensor 'blk.0.attn_q.weight')", label);
    tcf_bert *m = calloc(1, sizeof *m);
    if (!m) return tcf_fail(TCF_ERR_NOMEM, "out of memory");
    tcf_status st = gguf_config(g, label, m);
    if (st) goto fail;
    const tcf_bert_config *c = &m->cfg;
    const int C = c->hidden, I = c->inter, L = c->layers;
    /* owned: the fused q|k|v biases (L, 3C) and, when present, the pooler
     * widened to f32 (C, C) + (C) (it takes the dense type in the file) */
    m->n_params = (int64_t)L * 3 * C + (m->has_pooler ? (int64_t)C * C + C : 0);
    m->layer = calloc((size_t)L, sizeof *m->layer);
    m->qdense = calloc((size_t)(4 * L), sizeof *m->qdense);
    m->params = malloc(sizeof(float) * (size_t)m->n_params);
    if (!m->layer || !m->qdense || !m->params) {
        st = tcf_fail(TCF_ERR_NOMEM, "%s: out of memory", label);
        goto fail;
    }
    if ((st = view_f32(g, label, "embeddings.word_embeddings.weight", c->vocab, C, drop, &m->wte)) ||
        (st = view_f32(g, label, "embeddings.position_embeddings.weight", c->max_pos, C, drop, &m->wpe)) ||
        (st = view_f32(g, label, "embeddings.token_type_embeddings.weight", c->type_vocab, C, drop, &m->wtt)) ||
        (st = view_f32(g, label, "embeddings.LayerNorm.weight", C, 0, 0, &m->emb_ln_g)) ||
        (st = view_f32(g, label, "embeddings.LayerNorm.bias", C, 0, 0, &m->emb_ln_b)))
        goto fail;
    if (m->has_pooler) {
        wsrc src = {NULL, g, label, ""};
        m->pool_w = m->params + (int64_t)L * 3 * C;
        m->pool_b = m->pool_w + (int64_t)C * C;
        if ((st = load_tensor(&src, "pooler.dense.weight", m->pool_w, C, C)) ||
            (st = load_tensor(&src, "pooler.dense.bias", m->pool_b, C, 0)))
            goto fail;
    }
    for (int l = 0; l < L; l++) {
        tcf_bert_layer *Ly = &m->layer[l];
        tcf_qmat *q = &m->qdense[4 * l], qkv[3];
        char n[128];
        Ly->qkv_b = m->params + (int64_t)l * 3 * C;
#define NAME(suffix) (snprintf(n, sizeof n, "encoder.layer.%d.%s", l, suffix), n)
        static const char *const parts[3] = {"query", "key", "value"};
        for (int i = 0; i < 3; i++) {
            char wn[96], bn[96];
            float *b;
            snprintf(wn, sizeof wn, "attention.self.%s.weight", parts[i]);
            snprintf(bn, sizeof bn, "attention.self.%s.bias", parts[i]);
            /* q, k and v of one type: attn_q's of this layer */
            if ((st = view_dense(g, label, NAME(wn), i ? (int)qkv[0].type : -1, C, C, &qkv[i])) ||
                (st = view_f32(g, label, NAME(bn), C, 0, 0, &b)))
                goto fail;
            memcpy(Ly->qkv_b + i * C, b, sizeof(float) * (size_t)C);
        }
        /* q, k and v are separate tensors in the file (biases between
         * them): their blocks are copied, as they are, into one (3C, C)
         * weight so that each layer makes one product for all three */
        const tcf_qtype qt = qkv[0].type;
        const size_t rb = qkv[0].row_bytes, one = rb * (size_t)C;
        uint8_t *fused = malloc(3 * one);
        if (!fused) {
            st = tcf_fail(TCF_ERR_NOMEM, "%s: out of memory", label);
            goto fail;
        }
        for (int i = 0; i < 3; i++) memcpy(fused + i * one, qkv[i].data, one);
        if ((st = tcf_qmat_view(&q[0], qt, 3 * C, C, fused, 3 * one, NAME("attention.self.qkv")))) {
            free(fused);
            goto fail;
        }
        q[0].owned = fused;
        if ((st = view_dense(g, label, NAME("attention.output.dense.weight"), -1, C, C, &q[1])) ||
            (st = view_dense(g, label, NAME("intermediate.dense.weight"), -1, I, C, &q[2])) ||
            (st = view_dense(g, label, NAME("output.dense.weight"), -1, C, I, &q[3])) ||
            (st = view_f32(g, label, NAME("attention.output.dense.bias"), C, 0, 0, &Ly->ao_b)) ||
            (st = view_f32(g, label, NAME("attention.output.LayerNorm.weight"), C, 0, 0, &Ly->ln1_g)) ||
            (st = view_f32(g, label, NAME("attention.output.LayerNorm.bias"), C, 0, 0, &Ly->ln1_b)) ||
            (st = view_f32(g, label, NAME("intermediate.dense.bias"), I, 0, 0, &Ly->fi_b)) ||
            (st = view_f32(g, label, NAME("output.dense.bias"), C, 0, 0, &Ly->fo_b)) ||
            (st = view_f32(g, label, NAME("output.LayerNorm.weight"), C, 0, 0, &Ly->ln2_g)) ||
            (st = view_f32(g, label, NAME("output.LayerNorm.bias"), C, 0, 0, &Ly->ln2_b)))
            goto fail;
#undef NAME
    }
    m->map = g;
    *out = m;
    return TCF_OK;
fail:
    tcf_bert_free(m);
    return st;
}

void tcf_bert_free(tcf_bert *m) {
    if (!m) return;
    struct tcf_ws *w = atomic_exchange(&m->ws_cache, NULL);
    if (w) free(w->data);
    free(w);
    if (m->qdense)
        for (int i = 0; i < 4 * m->cfg.layers; i++) tcf_qmat_free(&m->qdense[i]);
    free(m->qdense);
    if (m->i8dense)
        for (int i = 0; i < 4 * m->cfg.layers; i++) tcf_i8mat_free(&m->i8dense[i]);
    free(m->i8dense);
    free(m->params);
    free(m->bwd_mem);
    free(m->layer);
    tcf_gguf_free(m->map);
    free(m);
}

tcf_status tcf_bert_enable_backward(tcf_bert *m) {
    if (m->bwd_mem) return TCF_OK;
    if (m->qdense || m->i8dense) return tcf_fail(TCF_ERR_UNSUPPORTED, "backward: the model's dense weights are quantized");
    const int C = m->cfg.hidden, I = m->cfg.inter;
    /* per layer: W_qkv (3C, C), W_ao (C, C), W_fi (I, C), W_fo (C, I) */
    size_t sz_qkv = tcf_gemm_packed_size(3 * C, C), sz_ao = tcf_gemm_packed_size(C, C),
           sz_fi = tcf_gemm_packed_size(I, C), sz_fo = tcf_gemm_packed_size(C, I);
    size_t per = sz_qkv + sz_ao + sz_fi + sz_fo;
    float *mem = malloc(sizeof(float) * per * (size_t)m->cfg.layers);
    float *tmp = malloc(sizeof(float) * (size_t)(3 * C > I ? 3 * C : I) * (size_t)(C > I ? C : I));
    if (!mem || !tmp) {
        free(mem), free(tmp);
        return tcf_fail(TCF_ERR_NOMEM, "cannot allocate %zu MB for backward weights",
                        sizeof(float) * per * (size_t)m->cfg.layers >> 20);
    }
    float *p = mem;
    for (int l = 0; l < m->cfg.layers; l++) {
        tcf_bert_layer *L = &m->layer[l];
        /* W^T (in, out) is what the forward packs; unpack it and pack its
         * transpose W (out, in) as a (out x in) right-hand side. */
        struct { const float *wp; float **dst; int in, out; size_t sz; } w[4] = {
            {L->qkv_wp, &L->qkv_bp, C, 3 * C, sz_qkv}, {L->ao_wp, &L->ao_bp, C, C, sz_ao},
            {L->fi_wp, &L->fi_bp, C, I, sz_fi}, {L->fo_wp, &L->fo_bp, I, C, sz_fo}};
        for (int i = 0; i < 4; i++) {
            tcf_gemm_unpack_b(w[i].in, w[i].out, w[i].wp, tmp, w[i].out);
            tcf_gemm_pack_b(w[i].out, w[i].in, tmp, w[i].out, 1, p);
            *w[i].dst = p;
            p += w[i].sz;
        }
    }
    free(tmp);
    m->bwd_mem = mem;
    return TCF_OK;
}

void tcf_bert_get_dense(const tcf_bert *m, int l, float *w_qkv, float *w_ao, float *w_fi, float *w_fo) {
    const int C = m->cfg.hidden, I = m->cfg.inter;
    const tcf_bert_layer *L = &m->layer[l];
    if (m->i8dense) {
        float *dst[4] = {w_qkv, w_ao, w_fi, w_fo};
        for (int i = 0; i < 4; i++) tcf_i8mat_dequant_rows(&m->i8dense[4 * l + i], 0, m->i8dense[4 * l + i].N, dst[i]);
        return;
    }
    if (m->qdense) {
        float *dst[4] = {w_qkv, w_ao, w_fi, w_fo};
        for (int i = 0; i < 4; i++) tcf_qmat_dequant_rows(&m->qdense[4 * l + i], 0, m->qdense[4 * l + i].N, dst[i]);
        return;
    }
    /* the packed form is W^T (in, out); unpacking it with leading dimension
     * `out` then transposing gives W (out, in) */
    struct { const float *wp; float *dst; int in, out; } w[4] = {
        {L->qkv_wp, w_qkv, C, 3 * C}, {L->ao_wp, w_ao, C, C}, {L->fi_wp, w_fi, C, I}, {L->fo_wp, w_fo, I, C}};
    for (int i = 0; i < 4; i++) {
        float *t = malloc(sizeof(float) * (size_t)w[i].in * (size_t)w[i].out);
        assert(t);
        tcf_gemm_unpack_b(w[i].in, w[i].out, w[i].wp, t, w[i].out);
        for (int o = 0; o < w[i].out; o++)
            for (int k = 0; k < w[i].in; k++) w[i].dst[(int64_t)o * w[i].in + k] = t[(int64_t)k * w[i].out + o];
        free(t);
    }
}

void tcf_bert_set_dense(tcf_bert *m, int l, const float *w_qkv, const float *w_ao, const float *w_fi,
                        const float *w_fo) {
    const int C = m->cfg.hidden, I = m->cfg.inter;
    tcf_bert_layer *L = &m->layer[l];
    assert(!m->qdense && !m->i8dense);
    struct { const float *w; float *fwd, *bwd; int in, out; } w[4] = {
        {w_qkv, L->qkv_wp, L->qkv_bp, C, 3 * C}, {w_ao, L->ao_wp, L->ao_bp, C, C},
        {w_fi, L->fi_wp, L->fi_bp, C, I}, {w_fo, L->fo_wp, L->fo_bp, I, C}};
    for (int i = 0; i < 4; i++) {
        tcf_gemm_pack_b(w[i].in, w[i].out, w[i].w, w[i].in, 1, w[i].fwd);         /* x @ W^T */
        if (w[i].bwd) tcf_gemm_pack_b(w[i].out, w[i].in, w[i].w, w[i].in, 0, w[i].bwd); /* dY @ W */
    }
}

/* type >= 0: tcf_qmat blocks; -1: per-row int8 */
static tcf_status quantize_dense(tcf_bert *m, int type) {
    const tcf_bert_config *c = &m->cfg;
    const int64_t C = c->hidden, I = c->inter, L = c->layers;
    if (m->qdense || m->i8dense) return tcf_fail(TCF_ERR_ARG, "quantize: the model is already quantized");
    if (m->bwd_mem) return tcf_fail(TCF_ERR_ARG, "quantize: the model has backward weights (training)");
    tcf_qmat *q = type >= 0 ? calloc((size_t)(4 * L), sizeof *q) : NULL;
    tcf_i8mat *q8 = type < 0 ? calloc((size_t)(4 * L), sizeof *q8) : NULL;
    float *w = malloc(sizeof(float) * (size_t)(3 * C * C + C * C + 2 * I * C)); /* qkv | ao | fi | fo */
    tcf_status st = (q || q8) && w ? TCF_OK : tcf_fail(TCF_ERR_NOMEM, "quantize: out of memory");
    for (int l = 0; l < L && !st; l++) {
        float *wq = w, *wa = wq + 3 * C * C, *wi = wa + C * C, *wo = wi + I * C;
        tcf_bert_get_dense(m, l, wq, wa, wi, wo);
        const struct { const float *w; int64_t out, in; } d[4] = {{wq, 3 * C, C}, {wa, C, C}, {wi, I, C}, {wo, C, I}};
        for (int i = 0; i < 4 && !st; i++)
            if ((st = type >= 0 ? tcf_qmat_quantize(&q[4 * l + i], (tcf_qtype)type, (int)d[i].out, (int)d[i].in,
                                                    d[i].w, d[i].in, 0)
                                : tcf_i8mat_quantize(&q8[4 * l + i], (int)d[i].out, (int)d[i].in, d[i].w, d[i].in)))
                tcf_fail_prefix(st, "quantize: layer %d", l);
    }
    /* every f32 parameter but the packed dense weights, in a new allocation */
    int64_t n = (c->vocab + c->max_pos + c->type_vocab + 2) * C + (m->has_pooler ? C * C + C : 0) +
                L * (3 * C + C + 2 * C + I + C + 2 * C);
    float *params = st ? NULL : malloc(sizeof(float) * (size_t)n);
    if (!st && !params) st = tcf_fail(TCF_ERR_NOMEM, "quantize: out of memory for %lld parameters", (long long)n);
    free(w);
    if (st) {
        for (int i = 0; q && i < 4 * L; i++) tcf_qmat_free(&q[i]);
        for (int i = 0; q8 && i < 4 * L; i++) tcf_i8mat_free(&q8[i]);
        free(q), free(q8);
        return st;
    }
    int64_t used = 0;
#define MOVE(field, cnt)                                                      \
    do {                                                                      \
        if (field) {                                                          \
            memcpy(params + used, field, sizeof(float) * (size_t)(cnt));      \
            field = params + used;                                            \
            used += (cnt);                                                    \
        }                                                                     \
    } while (0)
    MOVE(m->wte, c->vocab * C);
    MOVE(m->wpe, c->max_pos * C);
    MOVE(m->wtt, c->type_vocab * C);
    MOVE(m->emb_ln_g, C);
    MOVE(m->emb_ln_b, C);
    MOVE(m->pool_w, C * C);
    MOVE(m->pool_b, C);
    for (int l = 0; l < L; l++) {
        tcf_bert_layer *Ly = &m->layer[l];
        MOVE(Ly->qkv_b, 3 * C);
        MOVE(Ly->ao_b, C);
        MOVE(Ly->ln1_g, C);
        MOVE(Ly->ln1_b, C);
        MOVE(Ly->fi_b, I);
        MOVE(Ly->fo_b, C);
        MOVE(Ly->ln2_g, C);
        MOVE(Ly->ln2_b, C);
        Ly->qkv_wp = Ly->ao_wp = Ly->fi_wp = Ly->fo_wp = NULL;
    }
#undef MOVE
    assert(used == n);
    free(m->params);
    m->params = params;
    m->n_params = n;
    m->qdense = q;
    m->i8dense = q8;
    return TCF_OK;
}

tcf_status tcf_bert_quantize(tcf_bert *m, tcf_qtype type) { return quantize_dense(m, (int)type); }

tcf_status tcf_bert_quantize_i8(tcf_bert *m) { return quantize_dense(m, -1); }

/* ---- forward ------------------------------------------------------------------ */

/* The forward runs on the real tokens only, packed: row r of x, qkv and ctx
 * is the token at flat position rows[r] of the (B, T) batch, and sequence b
 * owns packed rows [off[b], off[b + 1]). Padding costs nothing, and a real
 * token's state is what the padded form gives (masked keys get weight 0
 * there; every other step works row by row). */
typedef struct {
    const tcf_bert *m;
    int B, T;
    const int32_t *ids;
    const int32_t *rows; /* (NR) flat positions of the real tokens */
    const int32_t *off;  /* (B + 1) */
    float *x;            /* (NR, C) */
    const float *qkv;    /* (NR, 3C) */
    float *ctx;          /* (NR, C) */
    float *scratch;      /* (threads, D*T + T*T) */
    const float *g, *b;
    float *res;     /* residual input for add+LN */
    int first_only; /* attention: only each sequence's first query */
} fwd_ctx;

/* xr (C) = LN(word[id] + pos[t] + type[0]) */
static void embed_row(const tcf_bert *m, int32_t id, int t, float *xr) {
    const int C = m->cfg.hidden;
    const float *we = m->wte + (int64_t)id * C, *pe = m->wpe + (int64_t)t * C;
    for (int i = 0; i < C; i++) xr[i] = we[i] + pe[i] + m->wtt[i];
    tcf_layernorm(xr, xr, m->emb_ln_g, m->emb_ln_b, 1, C, m->cfg.ln_eps);
}

void tcf_bert_embed_rows(const tcf_bert *m, int T, const int32_t *ids, int64_t begin, int64_t end, float *x) {
    for (int64_t r = begin; r < end; r++) embed_row(m, ids[r], (int)(r % T), x + r * m->cfg.hidden);
}

/* packed row r is the token at flat position rows[r] */
static void embed_task(void *vctx, int64_t begin, int64_t end, int tid) {
    fwd_ctx *f = vctx;
    for (int64_t r = begin; r < end; r++)
        embed_row(f->m, f->ids[f->rows[r]], f->rows[r] % f->T, f->x + r * f->m->cfg.hidden);
}

/* x = LN(x + res) row by row. */
static void add_ln_task(void *vctx, int64_t begin, int64_t end, int tid) {
    fwd_ctx *f = vctx;
    const int C = f->m->cfg.hidden;
    for (int64_t r = begin; r < end; r++) {
        float *xr = f->x + r * C;
        const float *rr = f->res + r * C;
        for (int i = 0; i < C; i++) xr[i] += rr[i];
        tcf_layernorm(xr, xr, f->g, f->b, 1, C, f->m->cfg.ln_eps);
    }
}

/* One task = one (sequence, head), over its L real tokens:
 *   S = Q_h K_h^T / sqrt(D)   (L, L)
 *   P = softmax(S) by rows;  ctx[b, :, h] = P V_h   (L, D)
 * Both products go through tcf_gemm (serial inside a pool task), with K_h
 * transposed into scratch first so it reads as a row-major (D, L) matrix. */
static void attn_task(void *vctx, int64_t begin, int64_t end, int tid) {
    fwd_ctx *f = vctx;
    const int C = f->m->cfg.hidden, H = f->m->cfg.heads, D = C / H, T = f->T;
    const float scale = 1.0f / sqrtf((float)D);
    float *kt = f->scratch + (int64_t)tid * ((int64_t)T * T + (int64_t)D * T); /* (D, L) */
    for (int64_t bh = begin; bh < end; bh++) {
        const int b = (int)(bh / H), h = (int)(bh % H), L = f->off[b + 1] - f->off[b];
        if (L == 0) continue;
        float *S = kt + (int64_t)D * L; /* (L, L) */
        const float *base = f->qkv + (int64_t)f->off[b] * 3 * C;
        for (int s = 0; s < L; s++) {
            const float *k = base + (int64_t)s * 3 * C + C + h * D;
            for (int d = 0; d < D; d++) kt[(int64_t)d * L + s] = k[d] * scale;
        }
        const int nq = f->first_only ? 1 : L; /* queries */
        tcf_gemm(nq, L, D, base + h * D, 3 * C, kt, L, S, L, NULL, 0, 1);
        for (int t = 0; t < nq; t++) {
            float *p = S + (int64_t)t * L, mx = -INFINITY, sum = 0;
            for (int s = 0; s < L; s++)
                if (p[s] > mx) mx = p[s];
            for (int s = 0; s < L; s++) {
                p[s] = expf(p[s] - mx);
                sum += p[s];
            }
            float inv = 1.0f / sum;
            for (int s = 0; s < L; s++) p[s] *= inv;
        }
        tcf_gemm(nq, D, L, S, L, base + 2 * C + h * D, 3 * C, f->ctx + (int64_t)f->off[b] * C + h * D, C, NULL, 0,
                 1);
    }
}

typedef struct {
    float *y;
    int64_t n_per;
} gelu_ctx;

static void gelu_task(void *vctx, int64_t begin, int64_t end, int tid) {
    gelu_ctx *g = vctx;
    tcf_gelu(g->y + begin * g->n_per, g->y + begin * g->n_per, (end - begin) * g->n_per);
}

/* Floats of the integer path's workspace (the Q8_0 copy of the widest
 * input, K = max(C, I)). */
static int64_t q8_ws_floats(const tcf_bert_config *c, int64_t BT) {
    const int K = c->hidden > c->inter ? c->hidden : c->inter;
    size_t q8 = tcf_qgemm_q8_work_size((int)BT, K), i8 = tcf_i8gemm_work_size((int)BT, K);
    return K % 32 ? 0 : (int64_t)(((q8 > i8 ? q8 : i8) + sizeof(float) - 1) / sizeof(float));
}

size_t tcf_bert_forward_ws_floats(const tcf_bert_config *c, int B, int T, int n_threads) {
    if (n_threads <= 0) n_threads = tcf_default_threads();
    const int64_t BT = (int64_t)B * T;
    /* (BT, 3C) qkv, (BT, C) ctx and tmp, (BT, I) ffn, per thread (D, T) +
     * (T, T) attention scratch, the integer path's Q8_0 input */
    const int64_t per_thread = (int64_t)T * T + (int64_t)(c->hidden / c->heads) * T;
    /* + the packed-row index: BT + B + 1 int32 (the size of a float) */
    return (size_t)(BT * 3 * c->hidden + BT * c->hidden * 2 + BT * c->inter + (int64_t)n_threads * per_thread +
                    q8_ws_floats(c, BT) + BT + B + 1);
}

tcf_status tcf_bert_set_qpath(tcf_bert *m, int qpath) {
    switch (qpath) {
    case TCF_QPATH_AUTO: m->q8_rows = TCF_QPATH_AUTO_ROWS; return TCF_OK;
    case TCF_QPATH_DECODE: m->q8_rows = 0; return TCF_OK;
    case TCF_QPATH_INT8: m->q8_rows = INT_MAX; return TCF_OK;
    default:
        return tcf_fail(TCF_ERR_ARG, "qpath %d is not one of %d (auto), %d (decode), %d (int8)", qpath,
                        TCF_QPATH_AUTO, TCF_QPATH_DECODE, TCF_QPATH_INT8);
    }
}

/* Y (M, N) = X (M, K) @ W^T + b for dense weight `which` (0 qkv, 1 ao, 2 fi,
 * 3 fo) of layer L: the packed f32 weight, or the quantized one by the path
 * m->q8_rows picks for a forward of path_rows tokens (one path per forward). */
static void dense(const tcf_bert *m, int l, int which, int M, int path_rows, const float *X, float *Y, void *q8ws,
                  int n_threads) {
    const tcf_bert_layer *L = &m->layer[l];
    const int C = m->cfg.hidden, I = m->cfg.inter;
    const struct { const float *wp, *b; int N, K; } d[4] = {
        {L->qkv_wp, L->qkv_b, 3 * C, C}, {L->ao_wp, L->ao_b, C, C}, {L->fi_wp, L->fi_b, I, C}, {L->fo_wp, L->fo_b, C, I}};
    if (m->i8dense) {
        tcf_i8gemm(M, X, d[which].K, &m->i8dense[4 * l + which], d[which].b, Y, d[which].N, 0, q8ws, n_threads);
        return;
    }
    if (!m->qdense) {
        tcf_gemm_packed(M, d[which].N, d[which].K, X, d[which].K, d[which].wp, Y, d[which].N, d[which].b, 0, n_threads);
        return;
    }
    const tcf_qmat *q = &m->qdense[4 * l + which];
    if (path_rows <= m->q8_rows && tcf_qgemm_q8_supported(q->type))
        tcf_qgemm_q8(M, X, d[which].K, q, d[which].b, Y, d[which].N, 0, q8ws, n_threads);
    else
        tcf_qgemm(M, X, d[which].K, q, d[which].b, Y, d[which].N, 0, n_threads);
}

/* The forward; first_only: the last layer past its q/k/v product runs on
 * each sequence's first real token only, whose states end in rows 0..B-1
 * of hidden (the classifier's pooler reads nothing else). */
static tcf_status forward_impl(const tcf_bert *m, int B, int T, const int32_t *ids, const uint8_t *mask,
                               float *hidden, int n_threads, float *ws, int first_only) {
    const tcf_bert_config *c = &m->cfg;
    const int C = c->hidden, I = c->inter;
    if (B <= 0 || T <= 0) return tcf_fail(TCF_ERR_ARG, "forward: empty batch (B=%d, T=%d)", B, T);
    if (T > c->max_pos)
        return tcf_fail(TCF_ERR_ARG, "forward: sequence length %d exceeds max_position_embeddings %d",
                        T, c->max_pos);
    for (int64_t i = 0; i < (int64_t)B * T; i++)
        if (ids[i] < 0 || ids[i] >= c->vocab)
            return tcf_fail(TCF_ERR_ARG, "forward: token id %d at (%lld, %lld) outside vocab [0, %d)",
                            ids[i], (long long)(i / T), (long long)(i % T), c->vocab);
    if (n_threads <= 0) n_threads = tcf_default_threads();
    const int64_t BT = (int64_t)B * T;
    float *qkv = ws, *ctxb = qkv + BT * 3 * C, *tmp = ctxb + BT * C, *ffn = tmp + BT * C;
    float *scratch = ffn + BT * I;
    const int64_t per_thread = (int64_t)T * T + (int64_t)(C / c->heads) * T;
    float *q8ws = scratch + (int64_t)n_threads * per_thread; /* q8_ws_floats(c, BT) */
    int32_t *rows = (int32_t *)(q8ws + q8_ws_floats(c, BT)), *off = rows + BT;
    const int NR = tcf_pack_offsets(B, T, mask, off);
    for (int p = 0, r = 0; p < B * T; p++)
        if (mask[p]) rows[r++] = p;

    if (first_only)
        for (int b = 0; b < B; b++)
            if (off[b + 1] == off[b])
                return tcf_fail(TCF_ERR_ARG, "forward: row %d has no real token (its mask is all 0)", b);
    fwd_ctx f = {m, B, T, ids, rows, off, hidden, qkv, ctxb, scratch, NULL, NULL, tmp, 0};
    if (NR > 0) {
        tcf_parallel_for(NR, n_threads, embed_task, &f);
        for (int l = 0; l < c->layers; l++) {
            const tcf_bert_layer *L = &m->layer[l];
            int rows_l = NR;
            dense(m, l, 0, NR, NR, hidden, qkv, q8ws, n_threads);
            f.first_only = first_only && l == c->layers - 1;
            tcf_parallel_for_dyn((int64_t)B * c->heads, 1, n_threads, attn_task, &f);
            if (f.first_only) {
                /* first tokens to rows 0..B-1 (off[b] >= b: no row is
                 * overwritten before it is read) */
                for (int b = 0; b < B; b++)
                    if (off[b] != b) {
                        memcpy(hidden + (int64_t)b * C, hidden + (int64_t)off[b] * C, sizeof(float) * C);
                        memcpy(ctxb + (int64_t)b * C, ctxb + (int64_t)off[b] * C, sizeof(float) * C);
                    }
                rows_l = B;
            }
            dense(m, l, 1, rows_l, NR, ctxb, tmp, q8ws, n_threads);
            f.g = L->ln1_g, f.b = L->ln1_b;
            tcf_parallel_for(rows_l, n_threads, add_ln_task, &f);
            dense(m, l, 2, rows_l, NR, hidden, ffn, q8ws, n_threads);
            gelu_ctx gc = {ffn, I};
            tcf_parallel_for(rows_l, n_threads, gelu_task, &gc);
            dense(m, l, 3, rows_l, NR, ffn, tmp, q8ws, n_threads);
            f.g = L->ln2_g, f.b = L->ln2_b;
            tcf_parallel_for(rows_l, n_threads, add_ln_task, &f);
        }
    }
    if (!first_only) tcf_unpack_rows(hidden, C, B, T, mask);
    return TCF_OK;
}

tcf_status tcf_bert_forward_ws(const tcf_bert *m, int B, int T, const int32_t *ids, const uint8_t *mask,
                               float *hidden, int n_threads, float *ws) {
    return forward_impl(m, B, T, ids, mask, hidden, n_threads, ws, 0);
}

tcf_status tcf_bert_forward_first_ws(const tcf_bert *m, int B, int T, const int32_t *ids, const uint8_t *mask,
                                     float *first, int n_threads, float *ws) {
    return forward_impl(m, B, T, ids, mask, first, n_threads, ws, 1);
}

tcf_status tcf_bert_forward(const tcf_bert *m, int B, int T, const int32_t *ids,
                            const uint8_t *mask, float *hidden, int n_threads) {
    if (B <= 0 || T <= 0) return tcf_fail(TCF_ERR_ARG, "forward: empty batch (B=%d, T=%d)", B, T);
    if (n_threads <= 0) n_threads = tcf_default_threads();
    size_t n_ws = tcf_bert_forward_ws_floats(&m->cfg, B, T, n_threads);
    tcf_bert *mm = (tcf_bert *)m; /* only the workspace cache is touched */
    struct tcf_ws *w = atomic_exchange(&mm->ws_cache, NULL);
    if (w && w->cap < n_ws) {
        free(w->data);
        w->data = NULL;
    }
    if (!w) w = calloc(1, sizeof *w);
    if (w && !w->data) {
        w->cap = n_ws;
        w->data = malloc(n_ws * sizeof(float));
    }
    if (!w || !w->data) {
        free(w);
        return tcf_fail(TCF_ERR_NOMEM, "forward: cannot allocate workspace for B=%d T=%d", B, T);
    }
    tcf_status st = tcf_bert_forward_ws(m, B, T, ids, mask, hidden, n_threads, w->data);
    /* Give the workspace back; one cached by a concurrent call meanwhile is
     * dropped. */
    struct tcf_ws *other = atomic_exchange(&mm->ws_cache, w);
    if (other) {
        free(other->data);
        free(other);
    }
    return st;
}

void tcf_bert_pool(const tcf_bert_config *c, int B, int T, const uint8_t *mask, const float *hidden,
                   tcf_pooling pooling, int normalize, float *pooled) {
    const int C = c->hidden;
    for (int b = 0; b < B; b++) {
        float *o = pooled + (int64_t)b * C;
        const float *hb = hidden + (int64_t)b * T * C;
        if (pooling == TCF_POOL_CLS) {
            memcpy(o, hb, sizeof(float) * C);
        } else {
            int n = 0;
            for (int i = 0; i < C; i++) o[i] = 0;
            for (int t = 0; t < T; t++) {
                if (!mask[(int64_t)b * T + t]) continue;
                n++;
                for (int i = 0; i < C; i++) o[i] += hb[(int64_t)t * C + i];
            }
            float inv = 1.0f / (float)(n > 0 ? n : 1); /* sentence-transformers clamps at 1e-9 */
            for (int i = 0; i < C; i++) o[i] *= inv;
        }
        if (normalize) {
            double ss = 0;
            for (int i = 0; i < C; i++) ss += (double)o[i] * o[i];
            float inv = (float)(1.0 / fmax(sqrt(ss), 1e-12)); /* F.normalize's eps */
            for (int i = 0; i < C; i++) o[i] *= inv;
        }
    }
}
