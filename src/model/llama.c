/*
 * llama.c — Llama-family decoders (Llama, Qwen2, Phi-3): load a GGUF file or
 * a Hugging Face checkpoint and run the forward pass in f32, for features
 * that a classification head reads.
 *
 * Architecture (transformers' LlamaModel, pre-norm):
 *   x = embed[id]
 *   per layer:  h = RMSNorm(x) ; q, k, v = h Wq^T (+bq), h Wk^T (+bk), h Wv^T (+bv)
 *               q, k = RoPE(q, k) ; x = x + Attn(q, k, v) Wo^T
 *               h = RMSNorm(x) ; x = x + (silu(h Wg^T) * h Wu^T) Wd^T
 *   hidden = RMSNorm(x)
 *   Attn: grouped-query, head h reads kv head h / (H / Hkv); per head
 *   softmax(q k^T / sqrt(D)) v over keys s <= t that are real tokens.
 * Qwen2 adds q/k/v biases; Phi-3 stores q|k|v as one qkv_proj and gate|up as
 * one gate_up_proj (the same stacking used here). The LM head is not loaded
 * (classification reads the hidden states), so tied and untied embeddings
 * load alike.
 *
 * Checkpoints:
 *   - Hugging Face directory: config.json (model_type llama / qwen2 / phi3;
 *     rope theta top-level "rope_theta" or "rope_parameters.rope_theta") and
 *     model.safetensors, names with or without the "model." prefix
 *     (…ForCausalLM / …Model / …ForSequenceClassification checkpoints).
 *   - GGUF (general.architecture "llama"): llama.* metadata keys, tensors
 *     token_embd, blk.N.{attn_norm, attn_q, attn_k, attn_v, attn_output,
 *     ffn_norm, ffn_gate, ffn_up, ffn_down}, output_norm, dequantized to
 *     f32 at load. llama.cpp's convert_hf_to_gguf.py permutes the rows of q
 *     and k of each head from rotate_half order (x1 | x2) to interleaved pairs
 *     (x1[0], x2[0], x1[1], ...); they are put back here as transformers'
 *     GGUF loader does (reverse_permute_weights).
 * Not handled (refused with TCF_ERR_UNSUPPORTED): RoPE scaling types other
 * than "default", partial rotary, sliding-window attention beyond the
 * sequence length, attention_bias / mlp_bias on Llama, activations other
 * than silu, other GGUF architectures.
 */
#include "model/llama.h"
#include "base/base.h"
#include "kern/decoder.h"
#include "kern/kern.h"

#include <assert.h>
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- config: config.json ------------------------------------------------- */

static tcf_status cfg_int(const cJSON *root, const char *path, const char *key, int lo, int hi,
                          int def, int *out) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, key);
    if (!v || cJSON_IsNull(v)) {
        if (def >= lo) {
            *out = def;
            return TCF_OK;
        }
        return tcf_fail(TCF_ERR_FORMAT, "%s: missing key \"%s\"", path, key);
    }
    if (!cJSON_IsNumber(v) || v->valuedouble != (double)(int64_t)v->valuedouble ||
        v->valuedouble < lo || v->valuedouble > hi)
        return tcf_fail(TCF_ERR_FORMAT, "%s: \"%s\" must be an integer in [%d, %d]", path, key, lo, hi);
    *out = (int)v->valuedouble;
    return TCF_OK;
}

static int json_true(const cJSON *root, const char *key) {
    return cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(root, key));
}

/* Shared checks once the numbers are read. */
static tcf_status check_config(const char *path, tcf_llama_config *c) {
    if (c->heads % c->kv_heads)
        return tcf_fail(TCF_ERR_FORMAT, "%s: %d attention heads are not a multiple of %d kv heads",
                        path, c->heads, c->kv_heads);
    if (c->head_dim % 2)
        return tcf_fail(TCF_ERR_FORMAT, "%s: head_dim %d is odd (RoPE rotates pairs)", path, c->head_dim);
    if (!(c->rope_theta > 0) || !isfinite(c->rope_theta))
        return tcf_fail(TCF_ERR_FORMAT, "%s: rope theta %g must be positive", path, c->rope_theta);
    if (!(c->rms_eps >= 0) || !isfinite(c->rms_eps))
        return tcf_fail(TCF_ERR_FORMAT, "%s: rms_norm_eps %g must be >= 0", path, (double)c->rms_eps);
    return TCF_OK;
}

static tcf_status parse_config(const char *path, tcf_llama_config *c) {
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
    const char *type = cJSON_IsString(mt) ? mt->valuestring : "";
    if (!strcmp(type, "llama")) c->arch = TCF_ARCH_LLAMA;
    else if (!strcmp(type, "qwen2")) c->arch = TCF_ARCH_QWEN2;
    else if (!strcmp(type, "phi3")) c->arch = TCF_ARCH_PHI3;
    else {
        st = tcf_fail(TCF_ERR_UNSUPPORTED, "%s: model_type \"%s\" is not a supported decoder (llama, qwen2, phi3)",
                      path, type);
        goto done;
    }
    if ((st = cfg_int(root, path, "vocab_size", 1, 1 << 24, -1, &c->vocab)) ||
        (st = cfg_int(root, path, "hidden_size", 1, 1 << 16, -1, &c->hidden)) ||
        (st = cfg_int(root, path, "num_hidden_layers", 1, 1024, -1, &c->layers)) ||
        (st = cfg_int(root, path, "num_attention_heads", 1, 1024, -1, &c->heads)) ||
        (st = cfg_int(root, path, "num_key_value_heads", 1, 1024, c->heads, &c->kv_heads)) ||
        (st = cfg_int(root, path, "intermediate_size", 1, 1 << 20, -1, &c->inter)) ||
        (st = cfg_int(root, path, "max_position_embeddings", 1, 1 << 24, -1, &c->max_pos)))
        goto done;
    if (c->hidden % c->heads && !cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(root, "head_dim"))) {
        st = tcf_fail(TCF_ERR_FORMAT, "%s: hidden_size %d is not a multiple of num_attention_heads %d",
                      path, c->hidden, c->heads);
        goto done;
    }
    if ((st = cfg_int(root, path, "head_dim", 2, 1 << 12, c->hidden / c->heads, &c->head_dim))) goto done;
    const cJSON *eps = cJSON_GetObjectItemCaseSensitive(root, "rms_norm_eps");
    c->rms_eps = cJSON_IsNumber(eps) ? (float)eps->valuedouble : 1e-6f;
    /* transformers >= 5 nests the theta in rope_parameters; older configs
     * have rope_theta and rope_scaling at the top. */
    const cJSON *rp = cJSON_GetObjectItemCaseSensitive(root, "rope_parameters");
    const cJSON *th = cJSON_GetObjectItemCaseSensitive(root, "rope_theta");
    if (cJSON_IsObject(rp) && cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(rp, "rope_theta")))
        th = cJSON_GetObjectItemCaseSensitive(rp, "rope_theta");
    c->rope_theta = cJSON_IsNumber(th) ? th->valuedouble : 10000.0;
    const cJSON *scaling = cJSON_GetObjectItemCaseSensitive(root, "rope_scaling");
    const cJSON *rtype = cJSON_IsObject(rp) ? cJSON_GetObjectItemCaseSensitive(rp, "rope_type")
                         : cJSON_IsObject(scaling) ? cJSON_GetObjectItemCaseSensitive(scaling, "rope_type")
                                                   : NULL;
    if ((rtype && (!cJSON_IsString(rtype) || strcmp(rtype->valuestring, "default"))) ||
        (cJSON_IsObject(scaling) && !rtype)) {
        st = tcf_fail(TCF_ERR_UNSUPPORTED, "%s: RoPE scaling \"%s\" is not supported (only default)", path,
                      cJSON_IsString(rtype) ? rtype->valuestring : "?");
        goto done;
    }
    const cJSON *prf = cJSON_IsObject(rp) ? cJSON_GetObjectItemCaseSensitive(rp, "partial_rotary_factor")
                                          : cJSON_GetObjectItemCaseSensitive(root, "partial_rotary_factor");
    if (cJSON_IsNumber(prf) && prf->valuedouble != 1.0) {
        st = tcf_fail(TCF_ERR_UNSUPPORTED, "%s: partial_rotary_factor %g is not supported (only 1)", path,
                      prf->valuedouble);
        goto done;
    }
    const cJSON *act = cJSON_GetObjectItemCaseSensitive(root, "hidden_act");
    if (act && (!cJSON_IsString(act) || strcmp(act->valuestring, "silu"))) {
        st = tcf_fail(TCF_ERR_UNSUPPORTED, "%s: hidden_act %s is not supported (supported: silu)", path,
                      cJSON_IsString(act) ? act->valuestring : "(not a string)");
        goto done;
    }
    if (json_true(root, "attention_bias") || json_true(root, "mlp_bias")) {
        st = tcf_fail(TCF_ERR_UNSUPPORTED, "%s: attention_bias / mlp_bias are not supported", path);
        goto done;
    }
    if (json_true(root, "use_sliding_window")) {
        st = tcf_fail(TCF_ERR_UNSUPPORTED, "%s: use_sliding_window is not supported", path);
        goto done;
    }
    /* Phi-3 declares a sliding window; sequences no longer than it see the
     * plain causal mask, which is all the forward does. */
    const cJSON *sw = cJSON_GetObjectItemCaseSensitive(root, "sliding_window");
    if (c->arch == TCF_ARCH_PHI3 && cJSON_IsNumber(sw) && sw->valuedouble >= 1 && sw->valuedouble < c->max_pos)
        c->max_pos = (int)sw->valuedouble;
    c->qkv_bias = c->arch == TCF_ARCH_QWEN2;
    const cJSON *pad = cJSON_GetObjectItemCaseSensitive(root, "pad_token_id");
    c->pad_id = cJSON_IsNumber(pad) && pad->valuedouble >= 0 && pad->valuedouble < c->vocab ? pad->valueint : -1;
    st = check_config(path, c);
done:
    cJSON_Delete(root);
    return st;
}

/* ---- config: GGUF metadata ------------------------------------------------ */

static tcf_status gguf_int(const tcf_gguf *g, const char *path, const char *key, int64_t lo, int64_t hi,
                           int64_t def, int *out) {
    int64_t v = def;
    if (def < lo || tcf_gguf_find(g, key)) {
        tcf_status st = tcf_gguf_get_i64(g, key, &v);
        if (st) return st;
    }
    if (v < lo || v > hi)
        return tcf_fail(TCF_ERR_FORMAT, "%s: %s = %lld must be in [%lld, %lld]", path, key, (long long)v,
                        (long long)lo, (long long)hi);
    *out = (int)v;
    return TCF_OK;
}

static tcf_status gguf_config(const tcf_gguf *g, const char *path, tcf_llama_config *c) {
    const char *arch;
    tcf_status st = tcf_gguf_get_str(g, "general.architecture", &arch);
    if (st) return st;
    if (strcmp(arch, "llama"))
        return tcf_fail(TCF_ERR_UNSUPPORTED, "%s: general.architecture \"%s\" is not supported (supported: llama)",
                        path, arch);
    c->arch = TCF_ARCH_LLAMA;
    const tcf_gguf_tensor *emb = tcf_gguf_tensor_find(g, "token_embd.weight");
    int64_t vocab_def = emb && emb->n_dims == 2 ? emb->ne[1] : -1;
    if ((st = gguf_int(g, path, "llama.block_count", 1, 1024, -1, &c->layers)) ||
        (st = gguf_int(g, path, "llama.embedding_length", 1, 1 << 16, -1, &c->hidden)) ||
        (st = gguf_int(g, path, "llama.feed_forward_length", 1, 1 << 20, -1, &c->inter)) ||
        (st = gguf_int(g, path, "llama.attention.head_count", 1, 1024, -1, &c->heads)) ||
        (st = gguf_int(g, path, "llama.attention.head_count_kv", 1, 1024, c->heads, &c->kv_heads)) ||
        (st = gguf_int(g, path, "llama.context_length", 1, 1 << 24, -1, &c->max_pos)) ||
        (st = gguf_int(g, path, "llama.vocab_size", 1, 1 << 24, vocab_def, &c->vocab)))
        return st;
    if (c->hidden % c->heads)
        return tcf_fail(TCF_ERR_FORMAT, "%s: llama.embedding_length %d is not a multiple of head_count %d",
                        path, c->hidden, c->heads);
    if ((st = gguf_int(g, path, "llama.attention.key_length", 2, 1 << 12, c->hidden / c->heads, &c->head_dim)))
        return st;
    int rope_dim;
    if ((st = gguf_int(g, path, "llama.rope.dimension_count", 0, 1 << 12, c->head_dim, &rope_dim))) return st;
    if (rope_dim != c->head_dim)
        return tcf_fail(TCF_ERR_UNSUPPORTED, "%s: llama.rope.dimension_count %d != head dim %d (partial rotary)",
                        path, rope_dim, c->head_dim);
    if (tcf_gguf_find(g, "llama.rope.scaling.type")) {
        const char *t;
        if ((st = tcf_gguf_get_str(g, "llama.rope.scaling.type", &t))) return st;
        if (strcmp(t, "none"))
            return tcf_fail(TCF_ERR_UNSUPPORTED, "%s: llama.rope.scaling.type \"%s\" is not supported", path, t);
    }
    double v = 10000.0;
    if (tcf_gguf_find(g, "llama.rope.freq_base") && (st = tcf_gguf_get_f64(g, "llama.rope.freq_base", &v)))
        return st;
    c->rope_theta = v;
    if ((st = tcf_gguf_get_f64(g, "llama.attention.layer_norm_rms_epsilon", &v))) return st;
    c->rms_eps = (float)v;
    c->qkv_bias = 0;
    int pad = -1;
    if ((st = gguf_int(g, path, "tokenizer.ggml.padding_token_id", -1, (int64_t)c->vocab - 1, -1, &pad)))
        return st;
    c->pad_id = pad;
    return check_config(path, c);
}

/* ---- weights ------------------------------------------------------------- */

typedef enum {
    W_EMB, W_NORM, W_ATTN_NORM, W_FFN_NORM, W_Q, W_K, W_V, W_O, W_GATE, W_UP, W_DOWN,
    W_QB, W_KB, W_VB, W_QKV, W_GU
} wkind;

typedef struct {
    const char *path;
    const tcf_safetensors *st; /* HF checkpoint, or */
    const tcf_gguf *g;         /* GGUF */
    const char *prefix;        /* HF: "" or "model." */
    int dq;                    /* NF4 double quantization */
} wsrc;

static void wname(const wsrc *s, wkind w, int l, char *buf, size_t cap) {
    static const char *hf[] = {"embed_tokens.weight", "norm.weight", "input_layernorm.weight",
                               "post_attention_layernorm.weight", "self_attn.q_proj.weight",
                               "self_attn.k_proj.weight", "self_attn.v_proj.weight", "self_attn.o_proj.weight",
                               "mlp.gate_proj.weight", "mlp.up_proj.weight", "mlp.down_proj.weight",
                               "self_attn.q_proj.bias", "self_attn.k_proj.bias", "self_attn.v_proj.bias",
                               "self_attn.qkv_proj.weight", "mlp.gate_up_proj.weight"};
    static const char *gg[] = {"token_embd.weight", "output_norm.weight", "attn_norm.weight", "ffn_norm.weight",
                               "attn_q.weight", "attn_k.weight", "attn_v.weight", "attn_output.weight",
                               "ffn_gate.weight", "ffn_up.weight", "ffn_down.weight", "attn_q.bias",
                               "attn_k.bias", "attn_v.bias", "attn_qkv.weight", "ffn_gate_up.weight"};
    int global = w == W_EMB || w == W_NORM;
    if (s->g) {
        if (global) snprintf(buf, cap, "%s", gg[w]);
        else snprintf(buf, cap, "blk.%d.%s", l, gg[w]);
    } else {
        if (global) snprintf(buf, cap, "%s%s", s->prefix, hf[w]);
        else snprintf(buf, cap, "%slayers.%d.%s", s->prefix, l, hf[w]);
    }
}

/* Fill dst (rows, cols) row-major — an nn.Linear weight (out, in) — or a
 * vector of rows (cols == 0) from tensor w of layer l, checking its shape;
 * dst NULL: only check. */
static tcf_status load_tensor(const wsrc *s, wkind w, int l, float *dst, int64_t rows, int64_t cols) {
    char name[160], got[96] = "";
    wname(s, w, l, name, sizeof name);
    const int want_dims = cols ? 2 : 1;
    if (s->g) {
        const tcf_gguf_tensor *t = tcf_gguf_tensor_find(s->g, name);
        if (!t) return tcf_fail(TCF_ERR_FORMAT, "%s: tensor '%s' is missing", s->path, name);
        /* ggml order is innermost first: a (rows, cols) weight has ne = {cols, rows} */
        if (t->n_dims == want_dims && (cols ? t->ne[0] == cols && t->ne[1] == rows : t->ne[0] == rows)) {
            if (!dst) return TCF_OK;
            tcf_status st = tcf_gguf_dequantize(t, dst, t->numel);
            return st ? tcf_fail_prefix(st, "%s: tensor '%s'", s->path, name) : TCF_OK;
        }
        for (int i = t->n_dims - 1; i >= 0; i--)
            snprintf(got + strlen(got), sizeof got - strlen(got), "%s%lld", i < t->n_dims - 1 ? ", " : "",
                     (long long)t->ne[i]);
    } else {
        const tcf_tensor_view *t = tcf_safetensors_find(s->st, name);
        if (!t) return tcf_fail(TCF_ERR_FORMAT, "%s: tensor '%s' is missing", s->path, name);
        if (t->n_dims == want_dims && t->shape[0] == rows && (!cols || t->shape[1] == cols)) {
            if (!dst) return TCF_OK;
            tcf_status st = tcf_tensor_to_f32(t, dst, t->numel);
            return st ? tcf_fail_prefix(st, "%s", s->path) : TCF_OK;
        }
        for (int i = 0; i < t->n_dims; i++)
            snprintf(got + strlen(got), sizeof got - strlen(got), "%s%lld", i ? ", " : "", (long long)t->shape[i]);
    }
    if (cols)
        return tcf_fail(TCF_ERR_FORMAT, "%s: tensor '%s' has shape [%s], expected [%lld, %lld]", s->path, name,
                        got, (long long)rows, (long long)cols);
    return tcf_fail(TCF_ERR_FORMAT, "%s: tensor '%s' has shape [%s], expected [%lld]", s->path, name, got,
                    (long long)rows);
}

/* llama.cpp stores the rows of each of n_head heads (D rows each) as
 * interleaved pairs: GGUF row h*D + 2i + j holds HF row h*D + j*D/2 + i.
 * Put w (n_head * D rows of row_bytes bytes) back in HF order; tmp holds
 * D * row_bytes bytes. Rows move whole, so f32 rows and rows of quantized
 * blocks alike. */
static void unpermute_rows_bytes(uint8_t *w, int n_head, int D, size_t row_bytes, uint8_t *tmp) {
    const int half = D / 2;
    for (int h = 0; h < n_head; h++) {
        uint8_t *hw = w + (size_t)h * D * row_bytes;
        memcpy(tmp, hw, row_bytes * (size_t)D);
        for (int i = 0; i < half; i++)
            for (int j = 0; j < 2; j++)
                memcpy(hw + (size_t)(j * half + i) * row_bytes, tmp + (size_t)(2 * i + j) * row_bytes, row_bytes);
    }
}

static void unpermute_rows(float *w, int n_head, int D, int C, float *tmp) {
    unpermute_rows_bytes((uint8_t *)w, n_head, D, sizeof(float) * (size_t)C, (uint8_t *)tmp);
}

static int ggml_qtype(tcf_ggml_type t) {
    return t == TCF_GGML_Q8_0 ? TCF_QTYPE_Q8_0 : t == TCF_GGML_Q4_0 ? TCF_QTYPE_Q4_0
         : t == TCF_GGML_Q4_1 ? TCF_QTYPE_Q4_1 : -1;
}

/* One part of a stacked quantized weight: tensor w of the layer, `rows`
 * rows, q/k rows of `heads` heads to un-permute (0: none). */
typedef struct {
    wkind w;
    int64_t rows;
    int heads;
} qpart;

/* W (N, K) of m->quant from the parts stacked as rows. GGUF parts already of
 * that type are copied block for block; others are loaded in f32 (tmp holds
 * N * K floats, perm D * max(row) bytes) and quantized. */
static tcf_status load_qweight(const tcf_llama *m, const wsrc *s, int l, const qpart *parts, int np, int N, int K,
                               float *tmp, float *perm, tcf_qmat *W) {
    const int D = m->cfg.head_dim;
    char name[160];
    int same = s->g != NULL && m->quant != TCF_QTYPE_NF4;
    for (int i = 0; i < np && same; i++) {
        wname(s, parts[i].w, l, name, sizeof name);
        const tcf_gguf_tensor *t = tcf_gguf_tensor_find(s->g, name);
        same = t && ggml_qtype(t->type) == m->quant;
    }
    tcf_status st;
    if (same) {
        const size_t rb = tcf_qtype_row_bytes((tcf_qtype)m->quant, K);
        uint8_t *buf = malloc(rb * (size_t)N), *p = buf;
        if (!buf) return tcf_fail(TCF_ERR_NOMEM, "%s: out of memory for layer %d's weights", s->path, l);
        for (int i = 0; i < np; i++) {
            wname(s, parts[i].w, l, name, sizeof name);
            const tcf_gguf_tensor *t = tcf_gguf_tensor_find(s->g, name);
            if ((size_t)parts[i].rows * rb != t->nbytes) {
                free(buf);
                return tcf_fail(TCF_ERR_FORMAT, "%s: tensor '%s' holds %zu bytes, not %lld rows of %zu", s->path, name,
                                t->nbytes, (long long)parts[i].rows, rb);
            }
            memcpy(p, t->data, t->nbytes);
            if (parts[i].heads) unpermute_rows_bytes(p, parts[i].heads, D, rb, (uint8_t *)perm);
            p += t->nbytes;
        }
        wname(s, parts[0].w, l, name, sizeof name);
        if ((st = tcf_qmat_view(W, (tcf_qtype)m->quant, N, K, buf, rb * (size_t)N, name))) {
            free(buf);
            return st;
        }
        W->owned = buf;
        return TCF_OK;
    }
    float *p = tmp;
    for (int i = 0; i < np; i++) {
        if ((st = load_tensor(s, parts[i].w, l, p, parts[i].rows, K))) return st;
        if (parts[i].heads && s->g) unpermute_rows(p, parts[i].heads, D, K, perm);
        p += parts[i].rows * K;
    }
    if ((st = tcf_qmat_quantize(W, (tcf_qtype)m->quant, N, K, tmp, K, m->quant == TCF_QTYPE_NF4 && s->dq))) {
        wname(s, parts[0].w, l, name, sizeof name);
        return tcf_fail_prefix(st, "%s: quantizing '%s' to %s", s->path, name, tcf_qtype_name((tcf_qtype)m->quant));
    }
    return TCF_OK;
}

static tcf_status load_quantized_layer(tcf_llama *m, const wsrc *s, int l, float *tmp, float *perm) {
    const tcf_llama_config *c = &m->cfg;
    const int C = c->hidden, I = c->inter, D = c->head_dim, Q = c->heads * D, K = c->kv_heads * D;
    tcf_llama_layer *L = &m->layer[l];
    const int phi3 = c->arch == TCF_ARCH_PHI3;
    const qpart qkv3[3] = {{W_Q, Q, c->heads}, {W_K, K, c->kv_heads}, {W_V, K, 0}}, qkv1[1] = {{W_QKV, Q + 2 * K, 0}};
    const qpart gu2[2] = {{W_GATE, I, 0}, {W_UP, I, 0}}, gu1[1] = {{W_GU, 2 * I, 0}};
    const qpart o[1] = {{W_O, C, 0}}, down[1] = {{W_DOWN, C, 0}};
    tcf_status st;
    if ((st = load_qweight(m, s, l, phi3 ? qkv1 : qkv3, phi3 ? 1 : 3, Q + 2 * K, C, tmp, perm, &L->qkv_q)) ||
        (st = load_qweight(m, s, l, o, 1, C, Q, tmp, perm, &L->o_q)) ||
        (st = load_qweight(m, s, l, phi3 ? gu1 : gu2, phi3 ? 1 : 2, 2 * I, C, tmp, perm, &L->gu_q)) ||
        (st = load_qweight(m, s, l, down, 1, C, I, tmp, perm, &L->down_q)))
        return st;
    return TCF_OK;
}

/* Every tensor the config asks for exists with its shape: checked before
 * anything is allocated by the config's sizes (which the file's own tensor
 * sizes then bound). */
static tcf_status check_tensors(const tcf_llama_config *c, const wsrc *s) {
    const int64_t C = c->hidden, I = c->inter, D = c->head_dim;
    const int64_t Q = c->heads * D, K = c->kv_heads * D;
    tcf_status st;
    if ((st = load_tensor(s, W_EMB, 0, NULL, c->vocab, C)) || (st = load_tensor(s, W_NORM, 0, NULL, C, 0))) return st;
    for (int l = 0; l < c->layers; l++) {
        if ((st = load_tensor(s, W_ATTN_NORM, l, NULL, C, 0)) || (st = load_tensor(s, W_FFN_NORM, l, NULL, C, 0)) ||
            (st = load_tensor(s, W_O, l, NULL, C, Q)) || (st = load_tensor(s, W_DOWN, l, NULL, C, I)))
            return st;
        if (c->arch == TCF_ARCH_PHI3) {
            if ((st = load_tensor(s, W_QKV, l, NULL, Q + 2 * K, C)) || (st = load_tensor(s, W_GU, l, NULL, 2 * I, C)))
                return st;
        } else if ((st = load_tensor(s, W_Q, l, NULL, Q, C)) || (st = load_tensor(s, W_K, l, NULL, K, C)) ||
                   (st = load_tensor(s, W_V, l, NULL, K, C)) || (st = load_tensor(s, W_GATE, l, NULL, I, C)) ||
                   (st = load_tensor(s, W_UP, l, NULL, I, C))) {
            return st;
        }
        if (c->qkv_bias && ((st = load_tensor(s, W_QB, l, NULL, Q, 0)) || (st = load_tensor(s, W_KB, l, NULL, K, 0)) ||
                            (st = load_tensor(s, W_VB, l, NULL, K, 0))))
            return st;
    }
    return TCF_OK;
}

static tcf_status layout_params(tcf_llama *m, const wsrc *s) {
    const tcf_llama_config *c = &m->cfg;
    const int64_t C = c->hidden, I = c->inter, D = c->head_dim;
    const int64_t Q = c->heads * D, K = c->kv_heads * D, NQKV = Q + 2 * K;
    float *p = m->params;
    int64_t used = 0;
#define TAKE(field, n)                       \
    do {                                     \
        field = p ? p + used : NULL;         \
        used += (n);                         \
    } while (0)
    const int dense = m->quant < 0;
    if (!m->wte_q.data) TAKE(m->wte, (int64_t)c->vocab * C);
    TAKE(m->out_norm, C);
    for (int l = 0; l < c->layers; l++) {
        tcf_llama_layer *L = &m->layer[l];
        TAKE(L->attn_norm, C);
        if (dense) TAKE(L->qkv_wp, (int64_t)tcf_gemm_packed_size((int)C, (int)NQKV));
        if (c->qkv_bias) TAKE(L->qkv_b, NQKV);
        if (dense) TAKE(L->o_wp, (int64_t)tcf_gemm_packed_size((int)Q, (int)C));
        TAKE(L->ffn_norm, C);
        if (dense) TAKE(L->gu_wp, (int64_t)tcf_gemm_packed_size((int)C, (int)(2 * I)));
        if (dense) TAKE(L->down_wp, (int64_t)tcf_gemm_packed_size((int)I, (int)C));
    }
#undef TAKE
    m->n_params = used;
    if (!s) return TCF_OK;

    /* one (rows, in) staging buffer for the largest stacked weight */
    int64_t big = NQKV * C > 2 * I * C ? NQKV * C : 2 * I * C;
    if (Q * C > big) big = Q * C;
    float *tmp = malloc(sizeof(float) * (size_t)(big + D * (C > I ? C : I)));
    if (!tmp) return tcf_fail(TCF_ERR_NOMEM, "%s: out of memory staging weights", s->path);
    float *perm = tmp + big;
    tcf_status st;
    if ((!m->wte_q.data && (st = load_tensor(s, W_EMB, 0, m->wte, c->vocab, C))) ||
        (st = load_tensor(s, W_NORM, 0, m->out_norm, C, 0)))
        goto done;
    for (int l = 0; l < c->layers; l++) {
        tcf_llama_layer *L = &m->layer[l];
        if ((st = load_tensor(s, W_ATTN_NORM, l, L->attn_norm, C, 0)) ||
            (st = load_tensor(s, W_FFN_NORM, l, L->ffn_norm, C, 0)))
            goto done;
        if (c->qkv_bias && ((st = load_tensor(s, W_QB, l, L->qkv_b, Q, 0)) ||
                            (st = load_tensor(s, W_KB, l, L->qkv_b + Q, K, 0)) ||
                            (st = load_tensor(s, W_VB, l, L->qkv_b + Q + K, K, 0))))
            goto done;
        if (!dense) {
            if ((st = load_quantized_layer(m, s, l, tmp, perm))) goto done;
            continue;
        }
        /* q | k | v stacked as rows (NQKV, C), packed as W^T */
        if (c->arch == TCF_ARCH_PHI3) {
            if ((st = load_tensor(s, W_QKV, l, tmp, NQKV, C))) goto done;
        } else {
            if ((st = load_tensor(s, W_Q, l, tmp, Q, C)) || (st = load_tensor(s, W_K, l, tmp + Q * C, K, C)) ||
                (st = load_tensor(s, W_V, l, tmp + (Q + K) * C, K, C)))
                goto done;
            if (s->g) {
                unpermute_rows(tmp, c->heads, (int)D, (int)C, perm);
                unpermute_rows(tmp + Q * C, c->kv_heads, (int)D, (int)C, perm);
            }
        }
        tcf_gemm_pack_b((int)C, (int)NQKV, tmp, (int)C, 1, L->qkv_wp);
        if ((st = load_tensor(s, W_O, l, tmp, C, Q))) goto done;
        tcf_gemm_pack_b((int)Q, (int)C, tmp, (int)Q, 1, L->o_wp);
        /* gate | up stacked as rows (2I, C) */
        if (c->arch == TCF_ARCH_PHI3) {
            if ((st = load_tensor(s, W_GU, l, tmp, 2 * I, C))) goto done;
        } else if ((st = load_tensor(s, W_GATE, l, tmp, I, C)) || (st = load_tensor(s, W_UP, l, tmp + I * C, I, C))) {
            goto done;
        }
        tcf_gemm_pack_b((int)C, (int)(2 * I), tmp, (int)C, 1, L->gu_wp);
        if ((st = load_tensor(s, W_DOWN, l, tmp, C, I))) goto done;
        tcf_gemm_pack_b((int)I, (int)C, tmp, (int)I, 1, L->down_wp);
    }
done:
    free(tmp);
    return st;
}

static int ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && !strcmp(s + n - k, suffix);
}

int tcf_llama_handles(const char *path) {
    if (ends_with(path, ".gguf")) return 1;
    char cfg[4096];
    if (tcf_path_join(cfg, sizeof cfg, path, "config.json") || !tcf_file_exists(cfg)) return 0;
    char *text;
    size_t len;
    if (tcf_read_file(cfg, &text, &len)) return 0;
    cJSON *root = cJSON_ParseWithLength(text, len);
    free(text);
    const cJSON *mt = cJSON_GetObjectItemCaseSensitive(root, "model_type");
    int yes = cJSON_IsString(mt) && (!strcmp(mt->valuestring, "llama") || !strcmp(mt->valuestring, "qwen2") ||
                                     !strcmp(mt->valuestring, "phi3"));
    cJSON_Delete(root);
    return yes;
}

/* Allocate and fill m from a checked config and source; m->quant set. */
static tcf_status load_weights(tcf_llama *m, const wsrc *src) {
    tcf_status st = check_tensors(&m->cfg, src);
    if (st) return st;
    if (m->quant == TCF_LLAMA_KEEP) {
        char name[160];
        wname(src, W_Q, 0, name, sizeof name);
        const tcf_gguf_tensor *t = src->g ? tcf_gguf_tensor_find(src->g, name) : NULL;
        if (!t || ggml_qtype(t->type) < 0)
            return tcf_fail(TCF_ERR_UNSUPPORTED, "%s: keeping the file's quantization needs a GGUF whose %s is "
                            "Q8_0, Q4_0 or Q4_1 (%s); choose a block type instead", src->path, name,
                            t ? tcf_ggml_type_name(t->type) : "not a GGUF");
        m->quant = ggml_qtype(t->type);
    }
    if (m->quant >= 0) {
        const int C = m->cfg.hidden, I = m->cfg.inter, Q = m->cfg.heads * m->cfg.head_dim;
        const int need = m->quant == TCF_QTYPE_NF4 ? 64 : 32;
        if (C % need || I % need || Q % need)
            return tcf_fail(TCF_ERR_ARG, "%s: %s needs every input width to be a multiple of %d (hidden %d, "
                            "intermediate %d, heads x head_dim %d)", src->path, tcf_qtype_name((tcf_qtype)m->quant),
                            need, C, I, Q);
        /* the embeddings: a GGUF's quantized rows stay in their blocks */
        char name[160];
        wname(src, W_EMB, 0, name, sizeof name);
        const tcf_gguf_tensor *t = src->g ? tcf_gguf_tensor_find(src->g, name) : NULL;
        if (t && ggml_qtype(t->type) >= 0) {
            void *buf = malloc(t->nbytes);
            if (!buf) return tcf_fail(TCF_ERR_NOMEM, "%s: out of memory for the embeddings", src->path);
            memcpy(buf, t->data, t->nbytes);
            if ((st = tcf_qmat_view(&m->wte_q, (tcf_qtype)ggml_qtype(t->type), m->cfg.vocab, C, buf, t->nbytes,
                                    name))) {
                free(buf);
                return st;
            }
            m->wte_q.owned = buf;
        }
    }
    m->layer = calloc((size_t)m->cfg.layers, sizeof *m->layer);
    layout_params(m, NULL);
    size_t bytes;
    if (!m->layer || !tcf_mul_ok((size_t)m->n_params, sizeof(float), &bytes) ||
        !(m->params = aligned_alloc(64, (bytes + 63) & ~(size_t)63)))
        return tcf_fail(TCF_ERR_NOMEM, "%s: cannot allocate %lld parameters", src->path, (long long)m->n_params);
    return layout_params(m, src);
}

static tcf_status load_gguf_opts(const tcf_gguf *g, const char *label, const tcf_llama_load_opts *o,
                                 tcf_llama **out) {
    *out = NULL;
    tcf_llama *m = calloc(1, sizeof *m);
    if (!m) return tcf_fail(TCF_ERR_NOMEM, "out of memory");
    m->quant = o ? o->quant : TCF_LLAMA_F32;
    wsrc src = {label, NULL, g, "", o && o->double_quant};
    tcf_status st = gguf_config(g, label, &m->cfg);
    if (!st) st = load_weights(m, &src);
    if (st) {
        tcf_llama_free(m);
        return st;
    }
    *out = m;
    return TCF_OK;
}

tcf_status tcf_llama_load_gguf(const tcf_gguf *g, const char *label, tcf_llama **out) {
    return load_gguf_opts(g, label, NULL, out);
}

tcf_status tcf_llama_load(const char *path, tcf_llama **out) { return tcf_llama_load_with(path, NULL, out); }

tcf_status tcf_llama_load_with(const char *path, const tcf_llama_load_opts *o, tcf_llama **out) {
    *out = NULL;
    char file[4096];
    tcf_status st;
    if (o && (o->quant < TCF_LLAMA_KEEP || o->quant > TCF_QTYPE_NF4))
        return tcf_fail(TCF_ERR_ARG, "%s: unknown weight format %d", path, o->quant);
    if (ends_with(path, ".gguf")) {
        tcf_gguf *g = NULL;
        if ((st = tcf_gguf_open(path, &g))) return st;
        st = load_gguf_opts(g, path, o, out);
        tcf_gguf_free(g);
        return st;
    }
    tcf_llama *m = calloc(1, sizeof *m);
    if (!m) return tcf_fail(TCF_ERR_NOMEM, "out of memory");
    m->quant = o ? o->quant : TCF_LLAMA_F32;
    tcf_safetensors *sf = NULL;
    wsrc src = {file, NULL, NULL, "", o && o->double_quant};
    if ((st = tcf_path_join(file, sizeof file, path, "config.json"))) goto fail;
    if (!tcf_file_exists(file)) {
        st = tcf_fail(TCF_ERR_IO, "%s: missing (a model directory needs config.json)", file);
        goto fail;
    }
    if ((st = parse_config(file, &m->cfg))) goto fail;
    if ((st = tcf_path_join(file, sizeof file, path, "model.safetensors"))) goto fail;
    if (!tcf_file_exists(file)) {
        st = tcf_fail(TCF_ERR_IO, "%s: missing (tcf reads safetensors checkpoints)", file);
        goto fail;
    }
    if ((st = tcf_safetensors_open(file, &sf))) goto fail;
    src.st = sf;
    src.prefix = tcf_safetensors_find(sf, "model.embed_tokens.weight") ? "model." : "";
    if ((st = load_weights(m, &src))) goto fail;
    tcf_safetensors_free(sf);
    *out = m;
    return TCF_OK;
fail:
    tcf_safetensors_free(sf);
    tcf_llama_free(m);
    return st;
}

void tcf_llama_free(tcf_llama *m) {
    if (!m) return;
    struct tcf_llama_ws *w = atomic_exchange(&m->ws_cache, NULL);
    if (w) free(w->data);
    free(w);
    free(m->params);
    free(m->bwd_mem);
    for (int l = 0; m->layer && l < m->cfg.layers; l++) {
        tcf_llama_layer *L = &m->layer[l];
        tcf_qmat_free(&L->qkv_q), tcf_qmat_free(&L->o_q), tcf_qmat_free(&L->gu_q), tcf_qmat_free(&L->down_q);
        tcf_i8mat_free(&L->qkv_i8), tcf_i8mat_free(&L->o_i8), tcf_i8mat_free(&L->gu_i8), tcf_i8mat_free(&L->down_i8);
    }
    tcf_qmat_free(&m->wte_q);
    free(m->layer);
    free(m);
}

size_t tcf_llama_weight_bytes(const tcf_llama *m) {
    size_t n = sizeof(float) * (size_t)m->n_params + tcf_qmat_bytes(&m->wte_q);
    for (int l = 0; l < m->cfg.layers; l++) {
        const tcf_llama_layer *L = &m->layer[l];
        n += tcf_qmat_bytes(&L->qkv_q) + tcf_qmat_bytes(&L->o_q) + tcf_qmat_bytes(&L->gu_q) +
             tcf_qmat_bytes(&L->down_q);
        if (m->i8)
            n += tcf_i8mat_bytes(&L->qkv_i8) + tcf_i8mat_bytes(&L->o_i8) + tcf_i8mat_bytes(&L->gu_i8) +
                 tcf_i8mat_bytes(&L->down_i8);
    }
    return n;
}

#define I8_MAX_IN 16384 /* inputs of an int8 product: 3 rows fit tcf_llama_linear's 64 KB fallback */

tcf_status tcf_llama_quantize_i8(tcf_llama *m) { return tcf_llama_quantize_i8_with(m, NULL, NULL); }

tcf_status tcf_llama_quantize_i8_with(tcf_llama *m, tcf_llama_i8_adjust adjust, void *ctx) {
    if (m->i8) return tcf_fail(TCF_ERR_UNSUPPORTED, "int8: the decoder's weights are already per-row int8");
    if (m->quant < 0)
        return tcf_fail(TCF_ERR_UNSUPPORTED, "int8: only a decoder whose weights are in blocks (Q8_0, Q4_0, Q4_1, NF4) "
                                             "can be re-rounded to per-row int8; this one is f32");
    size_t big = 0;
    for (int l = 0; l < m->cfg.layers; l++) {
        const tcf_llama_layer *L = &m->layer[l];
        const tcf_qmat *w[4] = {&L->qkv_q, &L->o_q, &L->gu_q, &L->down_q};
        for (int j = 0; j < 4; j++) {
            if (w[j]->K > I8_MAX_IN)
                return tcf_fail(TCF_ERR_UNSUPPORTED, "int8: layer %d has a product of %d inputs (at most %d)", l,
                                w[j]->K, I8_MAX_IN);
            if ((size_t)w[j]->N * (size_t)w[j]->K > big) big = (size_t)w[j]->N * (size_t)w[j]->K;
        }
    }
    float *tmp = malloc(sizeof(float) * big);
    if (!tmp) return tcf_fail(TCF_ERR_NOMEM, "int8: out of memory for %zu floats", big);
    tcf_status st = TCF_OK;
    for (int l = 0; !st && l < m->cfg.layers; l++) {
        tcf_llama_layer *L = &m->layer[l];
        tcf_qmat *w[4] = {&L->qkv_q, &L->o_q, &L->gu_q, &L->down_q};
        tcf_i8mat *q[4] = {&L->qkv_i8, &L->o_i8, &L->gu_i8, &L->down_i8};
        for (int j = 0; !st && j < 4; j++) {
            tcf_qmat_dequant_rows(w[j], 0, w[j]->N, tmp);
            if (adjust) st = adjust(ctx, l, j, tmp, w[j]->N, w[j]->K); /* j: TCF_LW_QKV, O, GU, DOWN in order */
            if (!st) st = tcf_i8mat_quantize(q[j], w[j]->N, w[j]->K, tmp, w[j]->K);
            if (st) st = tcf_fail_prefix(st, "int8: layer %d", l);
        }
    }
    free(tmp);
    if (st) {
        for (int l = 0; l < m->cfg.layers; l++) {
            tcf_llama_layer *L = &m->layer[l];
            tcf_i8mat_free(&L->qkv_i8), tcf_i8mat_free(&L->o_i8), tcf_i8mat_free(&L->gu_i8),
                tcf_i8mat_free(&L->down_i8);
        }
        return st;
    }
    for (int l = 0; l < m->cfg.layers; l++) {
        tcf_llama_layer *L = &m->layer[l];
        tcf_qmat_free(&L->qkv_q), tcf_qmat_free(&L->o_q), tcf_qmat_free(&L->gu_q), tcf_qmat_free(&L->down_q);
    }
    m->i8 = 1;
    return TCF_OK;
}

/* in, out features of dense weight `which`. */
static void lw_dims(const tcf_llama_config *c, int which, int *in, int *out) {
    const int C = c->hidden, I = c->inter, Q = c->heads * c->head_dim, N = Q + 2 * c->kv_heads * c->head_dim;
    switch (which) {
    case TCF_LW_QKV: *in = C, *out = N; break;
    case TCF_LW_O: *in = Q, *out = C; break;
    case TCF_LW_GU: *in = C, *out = 2 * I; break;
    default: *in = I, *out = C; break;
    }
}

/* From this many rows on, a quantized weight is decoded whole into a packed
 * f32 copy for the call and the product runs on the f32 kernel: the same
 * bits as tcf_qgemm (decode + tcf_gemm_packed), and at training sizes
 * faster (the decode is paid once per call, not once per 192-row block of X
 * as tcf_qgemm does). Below two such blocks tcf_qgemm decodes each panel
 * once anyway, threaded and without the copy (inference: 16 was the
 * threshold before, and a 32-token query paid a single-threaded decode of
 * every weight). */
#define DECODE_WHOLE_ROWS 256

/* W decoded and packed: as the forward's W^T (trans 1) or as the
 * backward's W (out x in); NULL when out of memory. Both phases run on the
 * pool (rows decoded, then panels packed; each element written by one
 * thread, so the bits do not depend on the thread count). */
typedef struct {
    const tcf_qmat *W;
    float *tmp, *p;
    int backward;
} decode_ctx;

static void decode_rows_task(void *vctx, int64_t begin, int64_t end, int tid) {
    const decode_ctx *c = vctx;
    tcf_qmat_dequant_rows(c->W, (int)begin, (int)(end - begin), c->tmp + begin * c->W->K);
}

/* panels [begin, end) of 16 columns of B (B = W^T: columns are W's rows;
 * B = W: columns are W's inputs) */
static void pack_panels_task(void *vctx, int64_t begin, int64_t end, int tid) {
    const decode_ctx *c = vctx;
    const int N = c->W->N, K = c->W->K;
    const int cols = c->backward ? K : N, rows = c->backward ? N : K;
    const int c0 = (int)begin * 16, c1 = (int)end * 16 < cols ? (int)end * 16 : cols;
    float *dst = c->p + begin * 16 * (int64_t)rows;
    if (c->backward) tcf_gemm_pack_b(N, c1 - c0, c->tmp + c0, K, 0, dst); /* B = W (out, in) */
    else tcf_gemm_pack_b(K, c1 - c0, c->tmp + (int64_t)c0 * K, K, 1, dst); /* B = W^T (in, out) */
}

static float *decode_packed(const tcf_qmat *W, int backward, int n_threads) {
    const size_t n = (size_t)W->N * W->K;
    float *tmp = malloc(sizeof(float) * n);
    float *p = malloc(sizeof(float) * (backward ? tcf_gemm_packed_size(W->K, W->N) : tcf_gemm_packed_size(W->N, W->K)));
    if (!tmp || !p) {
        free(tmp), free(p);
        return NULL;
    }
    decode_ctx c = {W, tmp, p, backward};
    tcf_parallel_for(W->N, n_threads, decode_rows_task, &c);
    tcf_parallel_for(((backward ? W->K : W->N) + 15) / 16, n_threads, pack_panels_task, &c);
    free(tmp);
    return p;
}

void tcf_llama_linear(const tcf_llama *m, int l, int which, int M, const float *X, float *Y, int accumulate,
                      int n_threads) {
    const tcf_llama_layer *L = &m->layer[l];
    int in, out;
    lw_dims(&m->cfg, which, &in, &out);
    const float *bias = which == TCF_LW_QKV ? L->qkv_b : NULL;
    if (m->i8) {
        const tcf_i8mat *W = which == TCF_LW_QKV ? &L->qkv_i8 : which == TCF_LW_O ? &L->o_i8
                           : which == TCF_LW_GU  ? &L->gu_i8  : &L->down_i8;
        void *work = malloc(tcf_i8gemm_work_size(M, in));
        if (work) {
            tcf_i8gemm(M, X, in, W, bias, Y, out, accumulate, work, n_threads);
            free(work);
            return;
        }
        /* out of memory: a few rows at a time in a stack buffer (in <=
         * I8_MAX_IN, checked by tcf_llama_quantize_i8) */
        _Alignas(64) uint8_t buf[1 << 16];
        const int step = (int)(sizeof buf / tcf_i8gemm_work_size(1, in));
        for (int r = 0; r < M; r += step)
            tcf_i8gemm(M - r < step ? M - r : step, X + (int64_t)r * in, in, W, bias, Y + (int64_t)r * out, out,
                       accumulate, buf, n_threads);
        return;
    }
    if (m->quant >= 0) {
        const tcf_qmat *W = which == TCF_LW_QKV ? &L->qkv_q : which == TCF_LW_O ? &L->o_q
                          : which == TCF_LW_GU  ? &L->gu_q  : &L->down_q;
        float *p = M >= DECODE_WHOLE_ROWS ? decode_packed(W, 0, n_threads) : NULL;
        if (p) tcf_gemm_packed(M, out, in, X, in, p, Y, out, bias, accumulate, n_threads);
        else tcf_qgemm(M, X, in, W, bias, Y, out, accumulate, n_threads);
        free(p);
        return;
    }
    const float *wp = which == TCF_LW_QKV ? L->qkv_wp : which == TCF_LW_O ? L->o_wp
                    : which == TCF_LW_GU  ? L->gu_wp  : L->down_wp;
    tcf_gemm_packed(M, out, in, X, in, wp, Y, out, bias, accumulate, n_threads);
}

void tcf_llama_linear_bwd(const tcf_llama *m, int l, int which, int M, const float *dY, float *dX, int accumulate,
                          int n_threads) {
    const tcf_llama_layer *L = &m->layer[l];
    int in, out;
    lw_dims(&m->cfg, which, &in, &out);
    if (m->quant >= 0) {
        const tcf_qmat *W = which == TCF_LW_QKV ? &L->qkv_q : which == TCF_LW_O ? &L->o_q
                          : which == TCF_LW_GU  ? &L->gu_q  : &L->down_q;
        float *p = M >= DECODE_WHOLE_ROWS ? decode_packed(W, 1, n_threads) : NULL;
        if (p) tcf_gemm_packed(M, in, out, dY, out, p, dX, in, NULL, accumulate, n_threads);
        else tcf_qgemm_bwd(M, dY, out, W, dX, in, accumulate, n_threads);
        free(p);
        return;
    }
    const float *bp = which == TCF_LW_QKV ? L->qkv_bp : which == TCF_LW_O ? L->o_bp
                    : which == TCF_LW_GU  ? L->gu_bp  : L->down_bp;
    tcf_gemm_packed(M, in, out, dY, out, bp, dX, in, NULL, accumulate, n_threads);
}

void tcf_llama_embed_rows(const tcf_llama *m, const int32_t *ids, int64_t n, float *x) {
    const int C = m->cfg.hidden;
    for (int64_t i = 0; i < n; i++) {
        if (m->wte) memcpy(x + i * C, m->wte + (int64_t)ids[i] * C, sizeof(float) * C);
        else tcf_qmat_dequant_rows(&m->wte_q, ids[i], 1, x + i * C);
    }
}

tcf_status tcf_llama_enable_backward(tcf_llama *m) {
    if (m->i8) return tcf_fail(TCF_ERR_UNSUPPORTED, "backward: the decoder's weights are per-row int8 (inference only)");
    if (m->bwd_mem || m->quant >= 0) return TCF_OK;
    const tcf_llama_config *c = &m->cfg;
    const int C = c->hidden, I = c->inter, Q = c->heads * c->head_dim, N = Q + 2 * c->kv_heads * c->head_dim;
    /* per layer: W_qkv (N, C), W_o (C, Q), W_gu (2I, C), W_down (C, I) */
    struct { int in, out; } d[4] = {{C, N}, {Q, C}, {C, 2 * I}, {I, C}};
    size_t per = 0, big = 0;
    for (int i = 0; i < 4; i++) {
        per += tcf_gemm_packed_size(d[i].out, d[i].in);
        if ((size_t)d[i].in * d[i].out > big) big = (size_t)d[i].in * d[i].out;
    }
    float *mem = malloc(sizeof(float) * per * (size_t)c->layers), *tmp = malloc(sizeof(float) * big);
    if (!mem || !tmp) {
        free(mem), free(tmp);
        return tcf_fail(TCF_ERR_NOMEM, "cannot allocate %zu MB for backward weights",
                        sizeof(float) * per * (size_t)c->layers >> 20);
    }
    float *p = mem;
    for (int l = 0; l < c->layers; l++) {
        tcf_llama_layer *L = &m->layer[l];
        const float *fwd[4] = {L->qkv_wp, L->o_wp, L->gu_wp, L->down_wp};
        float **dst[4] = {&L->qkv_bp, &L->o_bp, &L->gu_bp, &L->down_bp};
        for (int i = 0; i < 4; i++) {
            /* the forward's W^T (in, out) unpacked, packed again as W (out x in) */
            tcf_gemm_unpack_b(d[i].in, d[i].out, fwd[i], tmp, d[i].out);
            tcf_gemm_pack_b(d[i].out, d[i].in, tmp, d[i].out, 1, p);
            *dst[i] = p;
            p += tcf_gemm_packed_size(d[i].out, d[i].in);
        }
    }
    free(tmp);
    m->bwd_mem = mem;
    return TCF_OK;
}

/* ---- forward ----------------------------------------------------------- */

/* The forward runs on the real tokens only, packed as in bert.c: sequence b
 * owns rows [off[b], off[b + 1]) of x, h, qkv, ctx, gu and act, in order. */
typedef struct {
    const tcf_llama *m;
    int B, T;
    const int32_t *ids;  /* (NR) packed token ids */
    const int32_t *off;  /* (B + 1) */
    const uint8_t *ones; /* (T) all 1 */
    const int32_t *pos;  /* (NR) position of each token */
    float *x;            /* (NR, C) residual stream */
    float *h;            /* (NR, C) normed input of a block */
    float *qkv;          /* (NR, Q + 2K) */
    float *ctx;          /* (NR, Q) */
    float *gu;           /* (NR, 2I) */
    float *act;          /* (NR, I) */
    const float *cos_t, *sin_t; /* (T, D/2) */
    float *scratch;     /* (threads, D*T + T*T) */
    const float *norm_w;
} fwd_ctx;

static void embed_task(void *vctx, int64_t begin, int64_t end, int tid) {
    fwd_ctx *f = vctx;
    tcf_llama_embed_rows(f->m, f->ids + begin, end - begin, f->x + begin * f->m->cfg.hidden);
}

static void norm_task(void *vctx, int64_t begin, int64_t end, int tid) {
    fwd_ctx *f = vctx;
    const int C = f->m->cfg.hidden;
    tcf_rmsnorm(f->h + begin * C, f->x + begin * C, f->norm_w, end - begin, C, f->m->cfg.rms_eps);
}

static void rope_task(void *vctx, int64_t begin, int64_t end, int tid) {
    fwd_ctx *f = vctx;
    const tcf_llama_config *c = &f->m->cfg;
    const int D = c->head_dim, half = D / 2, Q = c->heads * D, N = Q + 2 * c->kv_heads * D;
    for (int64_t r = begin; r < end; r++) {
        float *row = f->qkv + r * N;
        const float *cr = f->cos_t + (int64_t)f->pos[r] * half, *sr = f->sin_t + (int64_t)f->pos[r] * half;
        tcf_rope_apply(row, c->heads, D, cr, sr);
        tcf_rope_apply(row + Q, c->kv_heads, D, cr, sr);
    }
}

void tcf_llama_pack_ids(int B, int T, const int32_t *ids, const uint8_t *mask, const int32_t *off, int32_t *pids,
                        int32_t *pos) {
    for (int b = 0; b < B; b++)
        for (int t = 0, n = 0; t < T; t++)
            if (mask[(int64_t)b * T + t]) {
                pos[off[b] + n] = n;
                pids[off[b] + n++] = ids[(int64_t)b * T + t];
            }
}

/* One task = one (sequence, head): causal attention of head h over kv head
 * g = h / (H / Hkv) (tcf_attn_causal_head_forward) across its L real tokens. */
static void attn_task(void *vctx, int64_t begin, int64_t end, int tid) {
    fwd_ctx *f = vctx;
    const tcf_llama_config *c = &f->m->cfg;
    const int D = c->head_dim, H = c->heads, T = f->T, Q = H * D, K = c->kv_heads * D, N = Q + 2 * K;
    const int group = H / c->kv_heads;
    const float scale = 1.0f / sqrtf((float)D);
    float *kt = f->scratch + (int64_t)tid * ((int64_t)T * T + (int64_t)D * T); /* (D, L) */
    for (int64_t bh = begin; bh < end; bh++) {
        const int b = (int)(bh / H), h = (int)(bh % H), g = h / group, L = f->off[b + 1] - f->off[b];
        if (L == 0) continue;
        float *P = kt + (int64_t)D * L; /* (L, L) */
        const float *base = f->qkv + (int64_t)f->off[b] * N;
        tcf_attn_causal_head_forward(L, D, base + h * D, base + Q + g * D, base + Q + K + g * D, N, f->ones, scale,
                                     f->ctx + (int64_t)f->off[b] * Q + h * D, Q, P, kt);
    }
}

static void swiglu_task(void *vctx, int64_t begin, int64_t end, int tid) {
    fwd_ctx *f = vctx;
    const int I = f->m->cfg.inter;
    for (int64_t r = begin; r < end; r++)
        tcf_swiglu(f->act + r * I, f->gu + r * 2 * I, f->gu + r * 2 * I + I, I);
}

tcf_status tcf_llama_forward(const tcf_llama *m, int B, int T, const int32_t *ids, const uint8_t *mask,
                             float *hidden, int n_threads) {
    const tcf_llama_config *c = &m->cfg;
    const int C = c->hidden, I = c->inter, D = c->head_dim, Q = c->heads * D, K = c->kv_heads * D;
    const int N = Q + 2 * K;
    if (B <= 0 || T <= 0) return tcf_fail(TCF_ERR_ARG, "forward: empty batch (B=%d, T=%d)", B, T);
    if (T > c->max_pos)
        return tcf_fail(TCF_ERR_ARG, "forward: sequence length %d exceeds the model's %d positions", T, c->max_pos);
    for (int64_t i = 0; i < (int64_t)B * T; i++)
        if (ids[i] < 0 || ids[i] >= c->vocab)
            return tcf_fail(TCF_ERR_ARG, "forward: token id %d at (%lld, %lld) outside vocab [0, %d)", ids[i],
                            (long long)(i / T), (long long)(i % T), c->vocab);
    if (n_threads <= 0) n_threads = tcf_default_threads();
    const int64_t BT = (int64_t)B * T;
    /* workspace: h (BT, C), qkv (BT, N), ctx (BT, Q), gu (BT, 2I), act (BT, I),
     * cos/sin (T, D/2) each, pos and packed ids (BT) ints, off (B + 1) ints,
     * ones (T) bytes, per-thread (D, T) + (T, T) */
    const int64_t per_thread = (int64_t)T * T + (int64_t)D * T;
    size_t n_ws = (size_t)(BT * ((int64_t)C + N + Q + 3 * (int64_t)I) + (int64_t)T * D + 2 * BT + B + 1 + T +
                           (int64_t)n_threads * per_thread);
    tcf_llama *mm = (tcf_llama *)m; /* only the workspace cache is touched */
    struct tcf_llama_ws *w = atomic_exchange(&mm->ws_cache, NULL);
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
    float *h = w->data, *qkv = h + BT * C, *ctxb = qkv + BT * N, *gu = ctxb + BT * Q, *act = gu + BT * 2 * I;
    float *cos_t = act + BT * I, *sin_t = cos_t + (int64_t)T * D / 2;
    int32_t *pos = (int32_t *)(sin_t + (int64_t)T * D / 2), *pids = pos + BT, *off = pids + BT;
    uint8_t *ones = (uint8_t *)(off + B + 1);
    float *scratch = (float *)(ones + ((size_t)T + 3) / 4 * 4);
    const int NR = tcf_pack_offsets(B, T, mask, off);
    tcf_llama_pack_ids(B, T, ids, mask, off, pids, pos);
    memset(ones, 1, (size_t)T);
    tcf_rope_table(cos_t, sin_t, T, D, c->rope_theta);

    fwd_ctx f = {m, B, T, pids, off, ones, pos, hidden, h, qkv, ctxb, gu, act, cos_t, sin_t, scratch, NULL};
    if (NR > 0) {
        tcf_parallel_for(NR, n_threads, embed_task, &f);
        for (int l = 0; l < c->layers; l++) {
            const tcf_llama_layer *L = &m->layer[l];
            f.norm_w = L->attn_norm;
            tcf_parallel_for(NR, n_threads, norm_task, &f);
            tcf_llama_linear(m, l, TCF_LW_QKV, NR, h, qkv, 0, n_threads);
            tcf_parallel_for(NR, n_threads, rope_task, &f);
            tcf_parallel_for_dyn((int64_t)B * c->heads, 1, n_threads, attn_task, &f);
            tcf_llama_linear(m, l, TCF_LW_O, NR, ctxb, hidden, 1, n_threads); /* x += */
            f.norm_w = L->ffn_norm;
            tcf_parallel_for(NR, n_threads, norm_task, &f);
            tcf_llama_linear(m, l, TCF_LW_GU, NR, h, gu, 0, n_threads);
            tcf_parallel_for(NR, n_threads, swiglu_task, &f);
            tcf_llama_linear(m, l, TCF_LW_DOWN, NR, act, hidden, 1, n_threads); /* x += */
        }
        tcf_rmsnorm(hidden, hidden, m->out_norm, NR, C, c->rms_eps);
    }
    tcf_unpack_rows(hidden, C, B, T, mask);
    struct tcf_llama_ws *other = atomic_exchange(&mm->ws_cache, w);
    if (other) {
        free(other->data);
        free(other);
    }
    return TCF_OK;
}

void tcf_llama_pool(int C, int B, int T, const uint8_t *mask, const float *hidden, tcf_pooling pooling,
                    int normalize, float *pooled) {
    for (int b = 0; b < B; b++) {
        float *o = pooled + (int64_t)b * C;
        const float *hb = hidden + (int64_t)b * T * C;
        const uint8_t *mk = mask + (int64_t)b * T;
        int first = -1, last = -1, n = 0;
        for (int t = 0; t < T; t++)
            if (mk[t]) {
                if (first < 0) first = t;
                last = t, n++;
            }
        if (pooling == TCF_POOL_MEAN || n == 0) {
            for (int i = 0; i < C; i++) o[i] = 0;
            for (int t = 0; t < T; t++)
                if (mk[t])
                    for (int i = 0; i < C; i++) o[i] += hb[(int64_t)t * C + i];
            float inv = 1.0f / (float)(n > 0 ? n : 1);
            for (int i = 0; i < C; i++) o[i] *= inv;
        } else {
            memcpy(o, hb + (int64_t)(pooling == TCF_POOL_CLS ? first : last) * C, sizeof(float) * C);
        }
        if (normalize) {
            double ss = 0;
            for (int i = 0; i < C; i++) ss += (double)o[i] * o[i];
            float inv = (float)(1.0 / fmax(sqrt(ss), 1e-12));
            for (int i = 0; i < C; i++) o[i] *= inv;
        }
    }
}
