/*
 * quantize.c — `tcf quantize`: a Llama or BERT checkpoint (Hugging Face
 * directory or GGUF) as one GGUF file in llama.cpp's layout, the weights in
 * the requested type.
 *
 * Tensor types follow convert_hf_to_gguf.py (ModelBase.prepare_tensors):
 *   - F32: 1-D tensors, names ending "_norm.weight", names not ending
 *     ".weight" (biases), position_embd / token_types (llama.cpp keeps these
 *     F32 always);
 *   - F16 when the row length is not a whole number of 32-blocks (convert's
 *     QuantError fallback); for Q4_K (super-blocks of 256), Q8_0 when it is
 *     a multiple of 32 but not of 256 (llama-quantize falls back to Q5_0
 *     there, which tcf does not encode), else F16;
 *   - the requested type for everything else (token_embd and output
 *     included). Q4_0 / Q4_1 are not among convert's --outtype choices
 *     (llama-quantize makes them, with k-quants for some tensors); here they
 *     take Q8_0's place under the same rules. Q4_K is pure Q4_K (no Q6_K /
 *     Q5_K mix as llama-quantize's Q4_K_S / _M give some tensors), the
 *     file_type that of Q4_K_S (14).
 * Encoding is kern/quantize.c's (Q8_0, Q4_0, F16, BF16) and kern/qgemm.c's
 * tcf_qmat_quantize (Q4_1): ggml's reference quantizers, byte-identical to
 * gguf-py's gguf.quants.quantize (tests/test_quantize_model.c; Q4_K, which
 * gguf-py cannot encode, against ggml's in tests/test_quantize.c). Values that
 * are not finite are refused, naming the tensor.
 *
 * Llama from a Hugging Face directory (model_type llama): config.json is
 * checked by loading it with tcf_llama_load (model/llama.c), the weights are
 * then read tensor by tensor from model.safetensors. Metadata as
 * convert_hf_to_gguf's LlamaModel writes it: general.architecture "llama",
 * general.type, general.name (the directory's name), llama.block_count,
 * context_length, embedding_length, feed_forward_length,
 * attention.head_count, head_count_kv, rope.freq_base,
 * attention.layer_norm_rms_epsilon, attention.key_length / value_length
 * (when config.json sets head_dim), general.file_type, llama.vocab_size,
 * rope.dimension_count, the tokenizer, general.quantization_version = 2.
 * Tensors: token_embd, blk.N.{attn_norm, attn_q, attn_k, attn_v,
 * attn_output, ffn_norm, ffn_gate, ffn_up, ffn_down}, output_norm, and
 * output when the checkpoint has an untied lm_head. The rows of q and k are
 * permuted per head from rotate_half order to llama.cpp's interleaved pairs
 * (LlamaModel.permute: GGUF row h*D + 2i + j = HF row h*D + j*D/2 + i; k
 * with the kv head count), the inverse of llama.c's unpermute_rows.
 *
 * Tokenizer (byte-level BPE tokenizer.json -> tokenizer.ggml.*), as
 * convert's _set_vocab_gpt2 and gguf-py's SpecialVocab do it:
 *   model "gpt2"; pre: convert identifies the pre-tokenizer by hashing the
 *   token ids of a test text; tcf recognises the tokenizer.json structure
 *   instead: ByteLevel alone -> "gpt-2", Digits(individual) + ByteLevel ->
 *   "smollm", the Llama-3 / Qwen2 Split regex + ByteLevel -> "llama-bpe" /
 *   "qwen2" (others refused: tcf's GGUF tokenizer would split differently);
 *   tokens: vocab_size entries, holes "[PAD<id>]" (type 5 unused); types 3
 *   (control) for special added tokens and ones that look special ("<|...|>"),
 *   4 (user defined, U+2581 respelled as a space) for other added tokens, 1
 *   otherwise; merges "a b" (pair-form merges joined, spaces inside a part
 *   as U+0120); bos/eos/unk/sep/pad/mask ids from tokenizer_config.json's
 *   *_token (matched against added_tokens), then config.json's *_token_id;
 *   add_bos/add_eos/add_sep from the post_processor (TemplateProcessing's
 *   first/last special token of "single", RobertaProcessing) and then
 *   tokenizer_config.json's add_*_token; tokenizer.chat_template from
 *   tokenizer_config.json or chat_template.jinja. Without tokenizer.json
 *   no tokenizer keys are written (the file then takes token ids only).
 *
 * BERT from a directory (model_type bert) goes through tcf export's writer
 * (model/export.h): bert.* keys, WordPiece tokenizer.ggml.* plus
 * tokenizer.huggingface.json, token / position / type embeddings F32, dense
 * weights and the pooler in the type; bert.pooling_type from
 * sentence-transformers' 1_Pooling/config.json (mean 1, cls 2) when present.
 *
 * GGUF in: every metadata key is copied in order (general.file_type,
 * general.quantization_version and a tcf export's tcf.export.type set
 * anew), every tensor decoded to f32
 * (tcf_gguf_dequantize) and encoded again under the rules above.
 *
 * Not done: k-quants other than Q4_K, NF4 (tcf train's in-memory QLoRA
 * format; GGUF has no NF4 type), Qwen2 / Phi-3 (no GGUF reader for their layouts in tcf), SentencePiece
 * tokenizers (tokenizer.model), sharded safetensors.
 */
#include "model/quantize.h"
#include "base/base.h"
#include "io/gguf_write.h"
#include "kern/qgemm.h"
#include "kern/quantize.h"
#include "model/bert.h"
#include "model/export.h"
#include "model/llama.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int tcf_quantize_type_parse(const char *name) {
    static const struct { const char *n; tcf_ggml_type t; } k[] = {
        {"f32", TCF_GGML_F32},   {"f16", TCF_GGML_F16},   {"bf16", TCF_GGML_BF16},
        {"q8_0", TCF_GGML_Q8_0}, {"q4_0", TCF_GGML_Q4_0}, {"q4_1", TCF_GGML_Q4_1},
        {"q4_k", TCF_GGML_Q4_K},
    };
    for (size_t i = 0; name && i < sizeof k / sizeof *k; i++)
        if (!strcmp(name, k[i].n)) return (int)k[i].t;
    return -1;
}

static int ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && !strcmp(s + n - k, suffix);
}

/* ---- tensors ------------------------------------------------------------- */

/* The type tensor `name` (n_dims, row length ne0) gets when `want` is asked
 * for (rules in the header comment); *fallback set when F16 (or, for Q4_K,
 * Q8_0) stands in for a block type the rows do not fit. */
static tcf_ggml_type pick_type(const char *name, int n_dims, int64_t ne0, tcf_ggml_type want, int *fallback) {
    *fallback = 0;
    if (n_dims <= 1 || ends_with(name, "_norm.weight") || !ends_with(name, ".weight") ||
        !strcmp(name, "position_embd.weight") || !strcmp(name, "token_types.weight") ||
        strstr(name, "ffn_gate_inp"))
        return TCF_GGML_F32;
    if (ne0 % tcf_ggml_block_size(want)) {
        *fallback = 1;
        return want == TCF_GGML_Q4_K && ne0 % 32 == 0 ? TCF_GGML_Q8_0 : TCF_GGML_F16;
    }
    return want;
}

/* Encode x (numel floats, rows of ne0) as `type` into a new buffer. */
static tcf_status encode(const char *name, tcf_ggml_type type, const float *x, int64_t numel, int64_t ne0,
                         uint8_t **out, size_t *nbytes) {
    *out = NULL;
    const int64_t bs = tcf_ggml_block_size(type);
    size_t n;
    if (!tcf_mul_ok((size_t)(numel / bs), tcf_ggml_type_size(type), &n) || !(*out = malloc(n ? n : 1)))
        return tcf_fail(TCF_ERR_NOMEM, "tensor '%s': out of memory encoding %lld values", name, (long long)numel);
    *nbytes = n;
    switch (type) {
    case TCF_GGML_F32: memcpy(*out, x, n); return TCF_OK;
    case TCF_GGML_F16: tcf_quantize_f16(x, *out, numel); return TCF_OK;
    case TCF_GGML_BF16: tcf_quantize_bf16(x, *out, numel); return TCF_OK;
    case TCF_GGML_Q8_0: tcf_quantize_q8_0(x, *out, numel); return TCF_OK;
    case TCF_GGML_Q4_0: tcf_quantize_q4_0(x, *out, numel); return TCF_OK;
    case TCF_GGML_Q4_K: tcf_quantize_q4_k(x, *out, numel); return TCF_OK;
    case TCF_GGML_Q4_1: {
        /* ggml's reference Q4_1 quantizer is tcf_qmat_quantize's */
        tcf_qmat q;
        tcf_status st = tcf_qmat_quantize(&q, TCF_QTYPE_Q4_1, (int)(numel / ne0), (int)ne0, x, ne0, 0);
        if (st) {
            free(*out), *out = NULL;
            return tcf_fail_prefix(st, "tensor '%s'", name);
        }
        memcpy(*out, q.data, n);
        tcf_qmat_free(&q);
        return TCF_OK;
    }
    default:
        free(*out), *out = NULL;
        return tcf_fail(TCF_ERR_ARG, "tensor '%s': cannot encode %s", name, tcf_ggml_type_name(type));
    }
}

/* Add tensor `name` (ggml dims ne[n_dims], f32 values x) to w in the type
 * the rules give for `want`, after h's tensor hook (when h) changed x. */
static tcf_status put(tcf_gguf_writer *w, const char *name, int n_dims, const int64_t *ne, float *x,
                      tcf_ggml_type want, const tcf_quantize_hooks *h) {
    int64_t numel = 1;
    for (int d = 0; d < n_dims; d++) numel *= ne[d];
    if (h && h->tensor) {
        tcf_status hs = h->tensor(h->ctx, name, n_dims, ne, x);
        if (hs) return hs;
    }
    for (int64_t i = 0; i < numel; i++)
        if (!isfinite(x[i]))
            return tcf_fail(TCF_ERR_FORMAT, "tensor '%s': value %lld is %g (not finite); nothing written", name,
                            (long long)i, (double)x[i]);
    int fallback;
    tcf_ggml_type t = pick_type(name, n_dims, ne[0], want, &fallback);
    uint8_t *buf;
    size_t nbytes = 0;
    tcf_status st = encode(name, t, x, numel, ne[0], &buf, &nbytes);
    if (st) return st;
    st = tcf_gguf_put_tensor(w, name, t, n_dims, ne, buf, nbytes);
    free(buf);
    return st;
}

/* ---- GGUF in: copy the metadata, re-encode the tensors --------------------- */

/* Fixed-size value v (scalar or array element) into dst as `type`'s bytes. */
static tcf_status value_bytes(const tcf_gguf_value *v, tcf_gguf_type type, uint8_t *dst) {
    tcf_status st;
    int64_t i = 0;
    uint64_t u = 0;
    double f = 0;
    int b = 0;
    switch (type) {
    case TCF_GGUF_BOOL:
        if ((st = tcf_gguf_value_bool(v, &b))) return st;
        dst[0] = (uint8_t)(b != 0);
        return TCF_OK;
    case TCF_GGUF_F32: {
        if ((st = tcf_gguf_value_f64(v, &f))) return st;
        float x = (float)f; /* an f32 read as f64 converts back exactly */
        memcpy(dst, &x, 4);
        return TCF_OK;
    }
    case TCF_GGUF_F64:
        if ((st = tcf_gguf_value_f64(v, &f))) return st;
        memcpy(dst, &f, 8);
        return TCF_OK;
    case TCF_GGUF_U64:
        if ((st = tcf_gguf_value_u64(v, &u))) return st;
        memcpy(dst, &u, 8);
        return TCF_OK;
    default:
        if ((st = tcf_gguf_value_i64(v, &i))) return st;
        switch (type) {
        case TCF_GGUF_U8: case TCF_GGUF_I8: dst[0] = (uint8_t)i; break;
        case TCF_GGUF_U16: case TCF_GGUF_I16: { uint16_t x = (uint16_t)i; memcpy(dst, &x, 2); break; }
        case TCF_GGUF_U32: case TCF_GGUF_I32: { uint32_t x = (uint32_t)i; memcpy(dst, &x, 4); break; }
        default: memcpy(dst, &i, 8); break;
        }
        return TCF_OK;
    }
}

static size_t fixed_size(tcf_gguf_type t) {
    switch (t) {
    case TCF_GGUF_U8: case TCF_GGUF_I8: case TCF_GGUF_BOOL: return 1;
    case TCF_GGUF_U16: case TCF_GGUF_I16: return 2;
    case TCF_GGUF_U32: case TCF_GGUF_I32: case TCF_GGUF_F32: return 4;
    case TCF_GGUF_U64: case TCF_GGUF_I64: case TCF_GGUF_F64: return 8;
    default: return 0;
    }
}

/* Copy metadata entry `key` = v to w with its type. */
static tcf_status copy_kv(tcf_gguf_writer *w, const char *label, const char *key, const tcf_gguf_value *v) {
    tcf_gguf_type t = tcf_gguf_value_type(v);
    tcf_status st = TCF_OK;
    if (t == TCF_GGUF_STRING) {
        const char *s;
        size_t len;
        if ((st = tcf_gguf_value_str(v, &s, &len))) return st;
        return tcf_gguf_put_str(w, key, s, len);
    }
    if (t != TCF_GGUF_ARRAY) {
        uint8_t b[8];
        if ((st = value_bytes(v, t, b))) return st;
        return tcf_gguf_put_scalar(w, key, t, b);
    }
    const uint64_t n = tcf_gguf_array_len(v);
    const tcf_gguf_type et = tcf_gguf_array_type(v);
    if (n == 0) return tcf_gguf_put_arr(w, key, et, NULL, 0);
    if (et == TCF_GGUF_STRING) {
        const char **s = malloc(sizeof *s * n);
        if (!s) return tcf_fail(TCF_ERR_NOMEM, "%s: key '%s': out of memory", label, key);
        for (uint64_t i = 0; i < n && !st; i++) st = tcf_gguf_array_str(v, i, &s[i], NULL);
        if (!st) st = tcf_gguf_put_arr_str(w, key, s, (int64_t)n);
        free(s);
        return st;
    }
    const size_t es = fixed_size(et);
    if (!es)
        return tcf_fail(TCF_ERR_UNSUPPORTED, "%s: key '%s' is an array of %s (nested arrays are not copied)", label,
                        key, tcf_gguf_type_name(et));
    uint8_t *buf = malloc(es * n);
    if (!buf) return tcf_fail(TCF_ERR_NOMEM, "%s: key '%s': out of memory", label, key);
    st = TCF_OK;
    for (uint64_t i = 0; i < n && !st; i++) {
        const tcf_gguf_value *e = tcf_gguf_array_at(v, i);
        st = e ? value_bytes(e, et, buf + i * es) : tcf_fail(TCF_ERR_FORMAT, "%s: key '%s': element %llu", label, key,
                                                            (unsigned long long)i);
    }
    if (!st) st = tcf_gguf_put_arr(w, key, et, buf, (int64_t)n);
    free(buf);
    return st;
}

static tcf_status from_gguf(const char *in, tcf_gguf_writer *w, tcf_ggml_type type, const tcf_quantize_hooks *h,
                            tcf_quantize_info *info) {
    tcf_gguf *g = NULL;
    tcf_status st = tcf_gguf_open(in, &g);
    if (st) return st;
    const char *arch;
    float *x = NULL;
    if ((st = tcf_gguf_get_str(g, "general.architecture", &arch))) goto done;
    if (strcmp(arch, "llama") && strcmp(arch, "bert")) {
        st = tcf_fail(TCF_ERR_UNSUPPORTED, "%s: general.architecture \"%s\" is not one tcf reads (llama, bert)", in, arch);
        goto done;
    }
    if (h && strcmp(arch, "llama")) {
        st = tcf_fail(TCF_ERR_UNSUPPORTED, "%s: general.architecture \"%s\": only llama files are re-written this way",
                      in, arch);
        goto done;
    }
    snprintf(info->source, sizeof info->source, "gguf %s", arch);
    info->has_tokenizer = tcf_gguf_find(g, "tokenizer.ggml.model") != NULL;
    int seen_ft = 0, seen_qv = 0;
    for (int64_t i = 0; i < tcf_gguf_kv_count(g) && !st; i++) {
        const char *key = tcf_gguf_kv_key(g, i);
        if (!strcmp(key, "general.file_type")) {
            st = tcf_gguf_put_u32(w, key, tcf_export_file_type(type)), seen_ft = 1;
        } else if (!strcmp(key, "general.quantization_version")) {
            st = tcf_gguf_put_u32(w, key, 2), seen_qv = 1;
        } else if (!strcmp(key, "tcf.export.type")) { /* a tcf export: its type changes too */
            const char *tn = tcf_ggml_type_name(type);
            st = tcf_gguf_put_str(w, key, tn, strlen(tn));
        } else {
            st = copy_kv(w, in, key, tcf_gguf_kv_value(g, i));
        }
    }
    if (!st && !seen_ft) st = tcf_gguf_put_u32(w, "general.file_type", tcf_export_file_type(type));
    if (!st && !seen_qv) st = tcf_gguf_put_u32(w, "general.quantization_version", 2);
    for (int64_t i = 0; h && h->verbatim && i < tcf_gguf_tensor_count(g) && !st; i++) {
        const tcf_gguf_tensor *t = tcf_gguf_tensor_at(g, i);
        st = tcf_gguf_put_tensor(w, t->name, t->type, t->n_dims, t->ne, t->data, t->nbytes);
    }
    for (int64_t i = 0; !(h && h->verbatim) && i < tcf_gguf_tensor_count(g) && !st; i++) {
        const tcf_gguf_tensor *t = tcf_gguf_tensor_at(g, i);
        size_t bytes;
        if (t->n_dims < 1 || !tcf_mul_ok((size_t)t->numel, sizeof(float), &bytes)) {
            st = tcf_fail(TCF_ERR_FORMAT, "%s: tensor '%s' has %d dims", in, t->name, t->n_dims);
            break;
        }
        float *nx = realloc(x, bytes ? bytes : 4);
        if (!nx) {
            st = tcf_fail(TCF_ERR_NOMEM, "%s: tensor '%s': out of memory for %lld values", in, t->name,
                          (long long)t->numel);
            break;
        }
        x = nx;
        if ((st = tcf_gguf_dequantize(t, x, t->numel))) {
            tcf_fail_prefix(st, "%s: tensor '%s'", in, t->name);
            break;
        }
        st = put(w, t->name, t->n_dims, t->ne, x, type, h);
    }
done:
    free(x);
    tcf_gguf_free(g);
    return st;
}

/* ---- Hugging Face directories ---------------------------------------------- */

static const char *base_name(const char *dir, char *buf, size_t cap) {
    size_t n = strlen(dir);
    while (n > 1 && dir[n - 1] == '/') n--;
    size_t b = n;
    while (b > 0 && dir[b - 1] != '/') b--;
    snprintf(buf, cap, "%.*s", (int)(n - b), dir + b);
    return buf;
}

static tcf_status read_json(const char *path, cJSON **out) {
    char *text;
    size_t len;
    *out = NULL;
    tcf_status st = tcf_read_file(path, &text, &len);
    if (st) return st;
    *out = cJSON_ParseWithLength(text, len);
    free(text);
    if (!*out || !cJSON_IsObject(*out)) {
        cJSON_Delete(*out);
        *out = NULL;
        return tcf_fail(TCF_ERR_FORMAT, "%s: not a JSON object", path);
    }
    return TCF_OK;
}

/* ---- tokenizer.json -> tokenizer.ggml.* (gpt2) ---------------------------- */

static const char *const LLAMA3_SPLIT =
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*"
    "|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
static const char *const QWEN2_SPLIT =
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*"
    "|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

static const char *jstr(const cJSON *o, const char *key) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* ByteLevel pre-tokenizer with its regex on and no prefix space. */
static int plain_bytelevel(const cJSON *p) {
    const char *t = jstr(p, "type");
    const cJSON *re = cJSON_GetObjectItemCaseSensitive(p, "use_regex");
    return t && !strcmp(t, "ByteLevel") && !cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(p, "add_prefix_space")) &&
           (!re || cJSON_IsTrue(re));
}

/* llama.cpp's pre-tokenizer name for tokenizer.json's pre_tokenizer, or NULL. */
static const char *pre_name(const cJSON *root) {
    const cJSON *p = cJSON_GetObjectItemCaseSensitive(root, "pre_tokenizer");
    const char *t = jstr(p, "type");
    if (!t) return NULL;
    if (plain_bytelevel(p)) return "gpt-2";
    if (strcmp(t, "Sequence")) return NULL;
    const cJSON *seq = cJSON_GetObjectItemCaseSensitive(p, "pretokenizers");
    if (cJSON_GetArraySize(seq) != 2) return NULL;
    const cJSON *a = cJSON_GetArrayItem(seq, 0), *b = cJSON_GetArrayItem(seq, 1);
    const char *ta = jstr(a, "type"), *tb = jstr(b, "type");
    if (!ta || !tb) return NULL;
    if (!strcmp(ta, "Digits") && cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(a, "individual_digits")) &&
        plain_bytelevel(b))
        return "smollm";
    if (!strcmp(ta, "Split") && !strcmp(tb, "ByteLevel") &&
        !cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(b, "add_prefix_space")) &&
        cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(b, "use_regex"))) {
        const char *re = jstr(cJSON_GetObjectItemCaseSensitive(a, "pattern"), "Regex");
        if (re && !strcmp(re, LLAMA3_SPLIT)) return "llama-bpe";
        if (re && !strcmp(re, QWEN2_SPLIT)) return "qwen2";
    }
    return NULL;
}

/* convert_hf_to_gguf's does_token_look_special. */
static int looks_special(const char *t) {
    size_t n = strlen(t);
    return !strcmp(t, "<pad>") || !strcmp(t, "<mask>") || !strcmp(t, "<2mass>") || !strcmp(t, "[@BOS@]") ||
           (n >= 4 && !strncmp(t, "<|", 2) && !strcmp(t + n - 2, "|>")) ||
           (n >= 8 && !strncmp(t, "<\xef\xbd\x9c", 4) && !strcmp(t + n - 4, "\xef\xbd\x9c>")) ||
           (n >= 8 && !strncmp(t, "<unused", 7) && t[n - 1] == '>');
}

/* SpecialVocab's token kinds, in its order; GGUF keys (NULL: none written). */
enum { SP_BOS, SP_EOS, SP_UNK, SP_SEP, SP_PAD, SP_CLS, SP_MASK, SP_N };
static const char *const SP_NAME[SP_N] = {"bos", "eos", "unk", "sep", "pad", "cls", "mask"};
static const char *const SP_ID_KEY[SP_N] = {
    "tokenizer.ggml.bos_token_id", "tokenizer.ggml.eos_token_id", "tokenizer.ggml.unknown_token_id",
    "tokenizer.ggml.seperator_token_id", "tokenizer.ggml.padding_token_id", NULL, "tokenizer.ggml.mask_token_id"};
static const char *const SP_ADD_KEY[SP_N] = {"tokenizer.ggml.add_bos_token", "tokenizer.ggml.add_eos_token", NULL,
                                             "tokenizer.ggml.add_sep_token", NULL, NULL, NULL};

typedef struct {
    int n_id, id_kind[SP_N], id[SP_N];      /* ids in the order they were set */
    int n_add, add_kind[SP_N], add[SP_N];   /* add_* flags in the order first set */
} specials;

static void set_id(specials *s, int kind, int id, int V) {
    if (id < 0 || id >= V) return;
    for (int i = 0; i < s->n_id; i++)
        if (s->id_kind[i] == kind) return; /* the first one found wins */
    s->id_kind[s->n_id] = kind, s->id[s->n_id++] = id;
}

static void set_add(specials *s, int kind, int v) {
    for (int i = 0; i < s->n_add; i++)
        if (s->add_kind[i] == kind) {
            s->add[i] = v;
            return;
        }
    s->add_kind[s->n_add] = kind, s->add[s->n_add++] = v;
}

/* A tokenizer_config.json "*_token" entry: a string or {"content": ...}. */
static const char *token_content(const cJSON *e) {
    if (cJSON_IsString(e)) return e->valuestring;
    return cJSON_IsObject(e) ? jstr(e, "content") : NULL;
}

static const char *special_first_last(const cJSON *tmpl, int last) {
    int n = cJSON_GetArraySize(tmpl);
    if (n < 2) return NULL;
    const cJSON *e = cJSON_GetArrayItem(tmpl, last ? n - 1 : 0);
    return jstr(cJSON_GetObjectItemCaseSensitive(e, "SpecialToken"), "id");
}

static int added_id(const cJSON *added, const char *content) {
    const cJSON *a;
    cJSON_ArrayForEach(a, added) {
        const char *c = jstr(a, "content");
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(a, "id");
        if (c && content && !strcmp(c, content) && cJSON_IsNumber(id)) return id->valueint;
    }
    return -1;
}

/* gguf-py SpecialVocab: post_processor, tokenizer_config.json, config.json. */
static void find_specials(const cJSON *tj, const cJSON *tc, const cJSON *cfg, int V, specials *s) {
    const cJSON *added = cJSON_GetObjectItemCaseSensitive(tj, "added_tokens");
    const char *bos = token_content(cJSON_GetObjectItemCaseSensitive(tc, "bos_token"));
    const char *eos = token_content(cJSON_GetObjectItemCaseSensitive(tc, "eos_token"));
    const char *cls = token_content(cJSON_GetObjectItemCaseSensitive(tc, "cls_token"));
    const char *sep = token_content(cJSON_GetObjectItemCaseSensitive(tc, "sep_token"));
    const char *cfg_tok[SP_N] = {0};
    if (!bos && cls) bos = cls;
    if (!eos && sep) eos = sep;
    const cJSON *pp = cJSON_GetObjectItemCaseSensitive(tj, "post_processor");
    const cJSON *procs = cJSON_GetObjectItemCaseSensitive(pp, "processors");
    int n = procs ? cJSON_GetArraySize(procs) : pp ? 1 : 0;
    for (int i = 0; i < n; i++) {
        const cJSON *p = procs ? cJSON_GetArrayItem(procs, i) : pp;
        const char *t = jstr(p, "type");
        if (t && !strcmp(t, "RobertaProcessing")) {
            set_add(s, SP_BOS, 1), set_add(s, SP_EOS, 1), set_add(s, SP_SEP, 1);
        } else if (t && !strcmp(t, "TemplateProcessing")) {
            const cJSON *single = cJSON_GetObjectItemCaseSensitive(p, "single");
            const char *first = special_first_last(single, 0), *last = special_first_last(single, 1);
            if (first) {
                if (!tc) bos = first;
                set_add(s, SP_BOS, (bos && !strcmp(first, bos)) || (cls && !strcmp(first, cls)));
            }
            if (last) {
                if (!tc) eos = last;
                else if (!eos || strcmp(last, eos)) eos = last; /* SpecialVocab moves eos to the template's */
                set_add(s, SP_EOS, 1);
            }
        }
    }
    if (tc) {
        cfg_tok[SP_BOS] = bos, cfg_tok[SP_EOS] = eos, cfg_tok[SP_CLS] = cls, cfg_tok[SP_SEP] = sep;
        for (int k = 0; k < SP_N; k++) {
            char key[32];
            snprintf(key, sizeof key, "add_%s_token", SP_NAME[k]);
            const cJSON *a = cJSON_GetObjectItemCaseSensitive(tc, key);
            if (cJSON_IsBool(a)) set_add(s, k, cJSON_IsTrue(a));
            snprintf(key, sizeof key, "%s_token", SP_NAME[k]);
            const char *c = cfg_tok[k] ? cfg_tok[k] : token_content(cJSON_GetObjectItemCaseSensitive(tc, key));
            if (c) set_id(s, k, added_id(added, c), V);
        }
    }
    for (int k = 0; k < SP_N; k++) {
        char key[32];
        snprintf(key, sizeof key, "%s_token_id", SP_NAME[k]);
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(cfg, key);
        if (cJSON_IsNumber(v) && v->valuedouble == (double)(int)v->valuedouble) set_id(s, k, v->valueint, V);
    }
}

/* Append a merge part, spaces respelled as U+0120 (SpecialVocab). */
static size_t merge_part(char *dst, const char *p) {
    size_t n = 0;
    for (; *p; p++) {
        if (*p == ' ') dst[n++] = '\xc4', dst[n++] = '\xa0';
        else dst[n++] = *p;
    }
    return n;
}

static tcf_status put_gpt2_tokenizer(tcf_gguf_writer *w, const char *dir, const cJSON *cfg, int V,
                                     tcf_quantize_info *info) {
    char path[4096], cpath[4096];
    tcf_status st;
    if ((st = tcf_path_join(path, sizeof path, dir, "tokenizer.json"))) return st;
    if (!tcf_file_exists(path)) return TCF_OK; /* no tokenizer: ids only */
    cJSON *tj = NULL, *tc = NULL;
    char **tok = NULL, **mg = NULL;
    int32_t *type = NULL;
    int n_merges = 0;
    if ((st = read_json(path, &tj))) return st;
    if ((st = tcf_path_join(cpath, sizeof cpath, dir, "tokenizer_config.json"))) goto done;
    if (tcf_file_exists(cpath) && (st = read_json(cpath, &tc))) goto done;
    const cJSON *model = cJSON_GetObjectItemCaseSensitive(tj, "model");
    const char *mtype = jstr(model, "type");
    const cJSON *vocab = cJSON_GetObjectItemCaseSensitive(model, "vocab");
    const cJSON *merges = cJSON_GetObjectItemCaseSensitive(model, "merges");
    const cJSON *dec = cJSON_GetObjectItemCaseSensitive(tj, "decoder");
    if (!mtype || strcmp(mtype, "BPE") || !cJSON_IsObject(vocab) || !cJSON_IsArray(merges) ||
        !jstr(dec, "type") || strcmp(jstr(dec, "type"), "ByteLevel")) {
        st = tcf_fail(TCF_ERR_UNSUPPORTED, "%s: only byte-level BPE tokenizers (model BPE, decoder ByteLevel) are "
                      "converted to tokenizer.ggml.* (model gpt2)", path);
        goto done;
    }
    const char *pre = pre_name(tj);
    const cJSON *norm = cJSON_GetObjectItemCaseSensitive(tj, "normalizer");
    const char *nt = jstr(norm, "type");
    if (!pre || (norm && !cJSON_IsNull(norm) && !(nt && !strcmp(nt, "NFC") && !strcmp(pre, "qwen2")))) {
        st = tcf_fail(TCF_ERR_UNSUPPORTED, "%s: pre_tokenizer / normalizer not recognised as one of llama.cpp's "
                      "gpt-2, smollm, llama-bpe or qwen2 pre-tokenizers", path);
        goto done;
    }
    tok = calloc((size_t)V, sizeof *tok);
    type = malloc(sizeof(int32_t) * (size_t)V);
    if (!tok || !type) {
        st = tcf_fail(TCF_ERR_NOMEM, "%s: out of memory", path);
        goto done;
    }
    for (int i = 0; i < V; i++) type[i] = 1;
    const cJSON *e;
    cJSON_ArrayForEach(e, vocab) {
        if (!cJSON_IsNumber(e) || e->valuedouble < 0 || e->valuedouble >= V) {
            st = tcf_fail(TCF_ERR_FORMAT, "%s: vocab entry \"%.40s\" has id %g, outside the model's vocab_size %d",
                          path, e->string, e->valuedouble, V);
            goto done;
        }
        if (!tok[e->valueint] && !(tok[e->valueint] = strdup(e->string))) {
            st = tcf_fail(TCF_ERR_NOMEM, "%s: out of memory", path);
            goto done;
        }
    }
    const cJSON *added = cJSON_GetObjectItemCaseSensitive(tj, "added_tokens");
    cJSON_ArrayForEach(e, added) {
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(e, "id");
        const char *c = jstr(e, "content");
        if (!cJSON_IsNumber(id) || !c || id->valuedouble < 0 || id->valuedouble >= V) {
            st = tcf_fail(TCF_ERR_FORMAT, "%s: added token \"%.40s\" has no id below vocab_size %d", path,
                          c ? c : "?", V);
            goto done;
        }
        int i = id->valueint;
        int special = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(e, "special")) || looks_special(c);
        /* user-defined tokens get U+2581 respelled as a space */
        char *t = malloc(strlen(c) + 1);
        if (!t) {
            st = tcf_fail(TCF_ERR_NOMEM, "%s: out of memory", path);
            goto done;
        }
        size_t n = 0;
        for (const char *p = c; *p;) {
            if (!special && !strncmp(p, "\xe2\x96\x81", 3)) t[n++] = ' ', p += 3;
            else t[n++] = *p++;
        }
        t[n] = 0;
        free(tok[i]);
        tok[i] = t;
        type[i] = special ? 3 : 4;
    }
    for (int i = 0; i < V; i++)
        if (!tok[i]) {
            char hole[32];
            snprintf(hole, sizeof hole, "[PAD%d]", i);
            if (!(tok[i] = strdup(hole))) {
                st = tcf_fail(TCF_ERR_NOMEM, "%s: out of memory", path);
                goto done;
            }
            type[i] = 5;
        }
    n_merges = cJSON_GetArraySize(merges);
    if (n_merges > 0 && !(mg = calloc((size_t)n_merges, sizeof *mg))) {
        st = tcf_fail(TCF_ERR_NOMEM, "%s: out of memory", path);
        goto done;
    }
    const cJSON *m = merges->child; /* walked, not indexed: cJSON_GetArrayItem is O(i) */
    for (int i = 0; i < n_merges; i++, m = m->next) {
        const char *a = NULL, *b = NULL;
        if (cJSON_IsString(m)) {
            mg[i] = strdup(m->valuestring);
        } else if (cJSON_IsArray(m) && cJSON_GetArraySize(m) == 2 && cJSON_IsString(cJSON_GetArrayItem(m, 0)) &&
                   cJSON_IsString(cJSON_GetArrayItem(m, 1))) {
            a = cJSON_GetArrayItem(m, 0)->valuestring, b = cJSON_GetArrayItem(m, 1)->valuestring;
            if ((mg[i] = malloc(2 * (strlen(a) + strlen(b)) + 2))) {
                size_t n = merge_part(mg[i], a);
                mg[i][n++] = ' ';
                n += merge_part(mg[i] + n, b);
                mg[i][n] = 0;
            }
        } else {
            st = tcf_fail(TCF_ERR_FORMAT, "%s: merge %d is neither \"a b\" nor [a, b]", path, i);
            goto done;
        }
        if (!mg[i]) {
            st = tcf_fail(TCF_ERR_NOMEM, "%s: out of memory", path);
            goto done;
        }
    }
    specials sp = {0};
    find_specials(tj, tc, cfg, V, &sp);
    if ((st = tcf_gguf_put_str(w, "tokenizer.ggml.model", "gpt2", 4)) ||
        (st = tcf_gguf_put_str(w, "tokenizer.ggml.pre", pre, strlen(pre))) ||
        (st = tcf_gguf_put_arr_str(w, "tokenizer.ggml.tokens", (const char *const *)tok, V)) ||
        (st = tcf_gguf_put_arr_i32(w, "tokenizer.ggml.token_type", type, V)) ||
        (n_merges > 0 && (st = tcf_gguf_put_arr_str(w, "tokenizer.ggml.merges", (const char *const *)mg, n_merges))))
        goto done;
    for (int i = 0; i < sp.n_id && !st; i++)
        if (SP_ID_KEY[sp.id_kind[i]]) st = tcf_gguf_put_u32(w, SP_ID_KEY[sp.id_kind[i]], (uint32_t)sp.id[i]);
    for (int i = 0; i < sp.n_add && !st; i++)
        if (SP_ADD_KEY[sp.add_kind[i]]) st = tcf_gguf_put_bool(w, SP_ADD_KEY[sp.add_kind[i]], sp.add[i]);
    /* SpecialVocab: tokenizer_config.json's chat_template, else (when there
     * is a tokenizer_config.json) chat_template.jinja beside it */
    const char *chat = jstr(tc, "chat_template");
    char *jinja = NULL;
    size_t jlen = 0;
    if (!st && chat) {
        st = tcf_gguf_put_str(w, "tokenizer.chat_template", chat, strlen(chat));
    } else if (!st && tc && !tcf_path_join(cpath, sizeof cpath, dir, "chat_template.jinja") && tcf_file_exists(cpath)) {
        if (!(st = tcf_read_file(cpath, &jinja, &jlen))) st = tcf_gguf_put_str(w, "tokenizer.chat_template", jinja, jlen);
        free(jinja);
    }
    if (!st) info->has_tokenizer = 1;
done:
    for (int i = 0; tok && i < V; i++) free(tok[i]);
    for (int i = 0; mg && i < n_merges; i++) free(mg[i]);
    free(tok), free(mg), free(type);
    cJSON_Delete(tj);
    cJSON_Delete(tc);
    return st;
}

/* ---- Llama directory ------------------------------------------------------ */

/* HF rows (n_head * D, C) of q or k -> llama.cpp's interleaved order:
 * GGUF row h*D + 2i + j = HF row h*D + j*D/2 + i. tmp holds D * C floats. */
void tcf_quantize_permute_rows(float *w, int n_head, int D, int64_t C, float *tmp) {
    const int half = D / 2;
    for (int h = 0; h < n_head; h++) {
        float *hw = w + (int64_t)h * D * C;
        memcpy(tmp, hw, sizeof(float) * (size_t)(D * C));
        for (int i = 0; i < half; i++)
            for (int j = 0; j < 2; j++)
                memcpy(hw + (int64_t)(2 * i + j) * C, tmp + (int64_t)(j * half + i) * C, sizeof(float) * (size_t)C);
    }
}

typedef struct {
    const tcf_safetensors *sf;
    const char *path;
    const char *prefix; /* "model." or "" */
    float *x, *tmp;     /* staging: the largest tensor, D * C for permutes */
    const tcf_quantize_hooks *hooks; /* or NULL */
} hf_src;

/* HF tensor `hf` (prefixed unless absolute) as GGUF tensor `name`; permute
 * with n_head > 0. */
static tcf_status put_hf(tcf_gguf_writer *w, hf_src *s, const char *hf, int absolute, const char *name, int n_head,
                         int D, tcf_ggml_type type, tcf_quantize_info *info) {
    const tcf_quantize_hooks *h = s->hooks;
    char full[256];
    snprintf(full, sizeof full, "%s%s", absolute ? "" : s->prefix, hf);
    const tcf_tensor_view *t = tcf_safetensors_find(s->sf, full);
    if (!t) return tcf_fail(TCF_ERR_FORMAT, "%s: tensor '%s' is missing", s->path, full);
    if (t->n_dims < 1 || t->n_dims > 2)
        return tcf_fail(TCF_ERR_FORMAT, "%s: tensor '%s' has %d dims (1 or 2 expected)", s->path, full, t->n_dims);
    tcf_status st = tcf_tensor_to_f32(t, s->x, t->numel);
    if (st) return tcf_fail_prefix(st, "%s", s->path);
    int64_t ne[2] = {t->shape[t->n_dims - 1], t->n_dims == 2 ? t->shape[0] : 1};
    if (n_head) tcf_quantize_permute_rows(s->x, n_head, D, ne[0], s->tmp);
    return put(w, name, t->n_dims, ne, s->x, type, h);
}

static tcf_status from_hf_llama(const char *dir, const cJSON *cfg_json, tcf_gguf_writer *w, tcf_ggml_type type,
                                const tcf_quantize_hooks *h, tcf_quantize_info *info) {
    tcf_llama *m = NULL;
    tcf_safetensors *sf = NULL;
    char path[4096], name[64];
    hf_src s = {0};
    /* the loader checks config.json and every tensor's shape */
    tcf_status st = tcf_llama_load(dir, &m);
    if (st) return st;
    const tcf_llama_config c = m->cfg;
    tcf_llama_free(m);
    if (c.arch != TCF_ARCH_LLAMA) /* the caller dispatches on model_type; kept as a check */
        return tcf_fail(TCF_ERR_UNSUPPORTED, "%s: only model_type llama is converted", dir);
    snprintf(info->source, sizeof info->source, "hf llama");
    if ((st = tcf_path_join(path, sizeof path, dir, "model.safetensors")) || (st = tcf_safetensors_open(path, &sf)))
        return st;
    const int64_t C = c.hidden, I = c.inter, D = c.head_dim, Q = (int64_t)c.heads * D;
    int64_t big = (int64_t)c.vocab * C;
    if (Q * C > big) big = Q * C;
    if (I * C > big) big = I * C;
    const tcf_tensor_view *head = tcf_safetensors_find(sf, "lm_head.weight");
    const int tied = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(cfg_json, "tie_word_embeddings"));
    if (head && !tied && head->numel > big) big = head->numel;
    s.sf = sf, s.path = path, s.hooks = h;
    s.prefix = tcf_safetensors_find(sf, "model.embed_tokens.weight") ? "model." : "";
    s.x = malloc(sizeof(float) * (size_t)big);
    s.tmp = malloc(sizeof(float) * (size_t)(D * C));
    if (!s.x || !s.tmp) {
        st = tcf_fail(TCF_ERR_NOMEM, "%s: out of memory staging %lld values", path, (long long)big);
        goto done;
    }
    char bn[256];
    base_name(dir, bn, sizeof bn);
    const cJSON *hd = cJSON_GetObjectItemCaseSensitive(cfg_json, "head_dim");
    if ((st = tcf_gguf_put_str(w, "general.architecture", "llama", 5)) ||
        (st = tcf_gguf_put_str(w, "general.type", "model", 5)) ||
        (st = tcf_gguf_put_str(w, "general.name", bn, strlen(bn))) ||
        (st = tcf_gguf_put_u32(w, "llama.block_count", (uint32_t)c.layers)) ||
        (st = tcf_gguf_put_u32(w, "llama.context_length", (uint32_t)c.max_pos)) ||
        (st = tcf_gguf_put_u32(w, "llama.embedding_length", (uint32_t)c.hidden)) ||
        (st = tcf_gguf_put_u32(w, "llama.feed_forward_length", (uint32_t)c.inter)) ||
        (st = tcf_gguf_put_u32(w, "llama.attention.head_count", (uint32_t)c.heads)) ||
        (st = tcf_gguf_put_u32(w, "llama.attention.head_count_kv", (uint32_t)c.kv_heads)) ||
        (st = tcf_gguf_put_f32(w, "llama.rope.freq_base", (float)c.rope_theta)) ||
        (st = tcf_gguf_put_f32(w, "llama.attention.layer_norm_rms_epsilon", c.rms_eps)) ||
        (cJSON_IsNumber(hd) && ((st = tcf_gguf_put_u32(w, "llama.attention.key_length", (uint32_t)D)) ||
                                (st = tcf_gguf_put_u32(w, "llama.attention.value_length", (uint32_t)D)))) ||
        (st = tcf_gguf_put_u32(w, "general.file_type", tcf_export_file_type(type))) ||
        (st = tcf_gguf_put_u32(w, "llama.vocab_size", (uint32_t)c.vocab)) ||
        (st = tcf_gguf_put_u32(w, "llama.rope.dimension_count", (uint32_t)D)) ||
        (st = put_gpt2_tokenizer(w, dir, cfg_json, c.vocab, info)) ||
        (st = tcf_gguf_put_u32(w, "general.quantization_version", 2)))
        goto done;
    if ((st = put_hf(w, &s, "embed_tokens.weight", 0, "token_embd.weight", 0, 0, type, info))) goto done;
    static const struct { const char *hf, *gg; int perm; } L[] = {
        {"input_layernorm.weight", "attn_norm.weight", 0},   {"self_attn.q_proj.weight", "attn_q.weight", 1},
        {"self_attn.k_proj.weight", "attn_k.weight", 2},     {"self_attn.v_proj.weight", "attn_v.weight", 0},
        {"self_attn.o_proj.weight", "attn_output.weight", 0}, {"post_attention_layernorm.weight", "ffn_norm.weight", 0},
        {"mlp.gate_proj.weight", "ffn_gate.weight", 0},      {"mlp.up_proj.weight", "ffn_up.weight", 0},
        {"mlp.down_proj.weight", "ffn_down.weight", 0},
    };
    for (int l = 0; l < c.layers && !st; l++)
        for (size_t k = 0; k < sizeof L / sizeof *L && !st; k++) {
            char hf[128];
            snprintf(hf, sizeof hf, "layers.%d.%s", l, L[k].hf);
            snprintf(name, sizeof name, "blk.%d.%s", l, L[k].gg);
            int nh = L[k].perm == 1 ? c.heads : L[k].perm == 2 ? c.kv_heads : 0;
            st = put_hf(w, &s, hf, 0, name, nh, (int)D, type, info);
        }
    if (!st) st = put_hf(w, &s, "norm.weight", 0, "output_norm.weight", 0, 0, type, info);
    if (!st && head && !tied) st = put_hf(w, &s, "lm_head.weight", 1, "output.weight", 0, 0, type, info);
done:
    free(s.x), free(s.tmp);
    tcf_safetensors_free(sf);
    return st;
}

/* ---- BERT directory: tcf export's writer ---------------------------------- */

static tcf_status from_hf_bert(const char *dir, tcf_gguf_writer *w, tcf_ggml_type type, tcf_quantize_info *info) {
    tcf_bert *m = NULL;
    tcf_tokenizer *tok = NULL;
    char *json = NULL, path[4096], bn[256];
    size_t json_len;
    cJSON *pool = NULL;
    tcf_status st;
    if ((st = tcf_bert_load(dir, &m)) || (st = tcf_tokenizer_load(dir, &tok))) goto done;
    snprintf(info->source, sizeof info->source, "hf bert");
    if ((st = tcf_path_join(path, sizeof path, dir, "tokenizer.json"))) goto done;
    if (!tcf_file_exists(path)) {
        st = tcf_fail(TCF_ERR_UNSUPPORTED, "%s: missing (the GGUF carries the encoder's tokenizer.json)", path);
        goto done;
    }
    if ((st = tcf_read_file(path, &json, &json_len))) goto done;
    /* sentence-transformers' pooling, as convert_hf_to_gguf reads it */
    int pooling = -1;
    char ppath[4096];
    if (!tcf_path_join(ppath, sizeof ppath, dir, "1_Pooling/config.json") && tcf_file_exists(ppath)) {
        if ((st = read_json(ppath, &pool))) goto done;
        if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(pool, "pooling_mode_mean_tokens"))) pooling = 1;
        else if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(pool, "pooling_mode_cls_token"))) pooling = 2;
    }
    base_name(dir, bn, sizeof bn);
    if ((st = tcf_gguf_put_str(w, "general.architecture", "bert", 4)) ||
        (st = tcf_gguf_put_str(w, "general.type", "model", 5)) ||
        (st = tcf_gguf_put_str(w, "general.name", bn, strlen(bn))) || (st = tcf_export_bert_hparams(w, &m->cfg)) ||
        (pooling >= 0 && (st = tcf_gguf_put_u32(w, "bert.pooling_type", (uint32_t)pooling))) ||
        (st = tcf_gguf_put_u32(w, "general.file_type", tcf_export_file_type(type))) ||
        (st = tcf_export_bert_tokenizer(w, m, tok, json, json_len, path)) ||
        (st = tcf_gguf_put_u32(w, "general.quantization_version", 2)))
        goto done;
    info->has_tokenizer = 1;
    /* export's writer refuses rows that are not whole blocks rather than
     * falling back; every BERT dimension tcf loads is a multiple of 32 in
     * practice (hidden 384 / 768, intermediate 1536 / 3072) */
    st = tcf_export_bert_weights(w, m, type);
done:
    cJSON_Delete(pool);
    free(json);
    tcf_tokenizer_free(tok);
    tcf_bert_free(m);
    return st;
}

/* ---- entry ---------------------------------------------------------------- */

/* Count what the written file holds (read back, not predicted). */
static void tally(const char *out, tcf_ggml_type want, tcf_quantize_info *info) {
    tcf_gguf *g = NULL;
    if (tcf_gguf_open(out, &g)) return;
    for (int64_t i = 0; i < tcf_gguf_tensor_count(g); i++) {
        const tcf_gguf_tensor *t = tcf_gguf_tensor_at(g, i);
        info->n_tensors++;
        info->params += (uint64_t)t->numel;
        info->tensor_bytes += t->nbytes;
        if (t->type == want) info->n_typed++;
        else if (t->type == TCF_GGML_F16) info->n_f16_fallback++;
        else if (t->type == TCF_GGML_Q8_0 && want == TCF_GGML_Q4_K) info->n_q8_fallback++;
        else info->n_f32++;
    }
    tcf_gguf_free(g);
}

tcf_status tcf_quantize_model(const char *in, const char *out, tcf_ggml_type type, tcf_quantize_info *info) {
    return tcf_quantize_model_hooked(in, out, type, NULL, info);
}

tcf_status tcf_quantize_model_hooked(const char *in, const char *out, tcf_ggml_type type, const tcf_quantize_hooks *h,
                                     tcf_quantize_info *info) {
    tcf_quantize_info local;
    if (!info) info = &local;
    memset(info, 0, sizeof *info);
    if (type != TCF_GGML_F32 && type != TCF_GGML_F16 && type != TCF_GGML_BF16 && type != TCF_GGML_Q8_0 &&
        type != TCF_GGML_Q4_0 && type != TCF_GGML_Q4_1 && type != TCF_GGML_Q4_K)
        return tcf_fail(TCF_ERR_ARG, "quantize: type %d is not one of f32 f16 bf16 q8_0 q4_0 q4_1 q4_k", (int)type);
    struct stat si, so;
    if (stat(in, &si)) return tcf_fail(TCF_ERR_IO, "%s: no such file or directory", in);
    if (!stat(out, &so) && si.st_dev == so.st_dev && si.st_ino == so.st_ino)
        return tcf_fail(TCF_ERR_ARG, "quantize: --out %s is the input itself", out);
    tcf_gguf_writer *w = NULL;
    cJSON *cfg = NULL;
    tcf_status st = tcf_gguf_writer_new(&w);
    if (st) return st;
    if (!S_ISDIR(si.st_mode)) {
        st = from_gguf(in, w, type, h, info);
    } else {
        char path[4096];
        if ((st = tcf_path_join(path, sizeof path, in, "config.json"))) goto done;
        if (!tcf_file_exists(path)) {
            st = tcf_fail(TCF_ERR_IO, "%s: missing (a model directory needs config.json)", path);
            goto done;
        }
        if ((st = read_json(path, &cfg))) goto done;
        const char *mt = jstr(cfg, "model_type");
        if (mt && !strcmp(mt, "llama")) {
            st = from_hf_llama(in, cfg, w, type, h, info);
        } else if (h && h->verbatim) {
            st = tcf_fail(TCF_ERR_UNSUPPORTED, "%s: a directory's tensors cannot be copied verbatim (a GGUF's can)", in);
        } else if (mt && !strcmp(mt, "bert") && h) {
            st = tcf_fail(TCF_ERR_UNSUPPORTED, "%s: model_type bert: only llama checkpoints are re-written this way", path);
        } else if (mt && !strcmp(mt, "bert")) {
            st = from_hf_bert(in, w, type, info);
        } else if (mt && (!strcmp(mt, "qwen2") || !strcmp(mt, "phi3"))) {
            st = tcf_fail(TCF_ERR_UNSUPPORTED, "%s: model_type \"%s\": tcf's GGUF loader reads only llama's layout, "
                          "so it does not write %s GGUFs (llama and bert are converted)", path, mt, mt);
        } else {
            st = tcf_fail(TCF_ERR_UNSUPPORTED, "%s: model_type \"%s\" is not converted (llama, bert are)", path,
                          mt ? mt : "(missing)");
        }
    }
    if (!st && h && h->finish) st = h->finish(h->ctx, w);
    if (!st) st = tcf_gguf_writer_save(w, out);
    if (!st) tally(out, type, info);
done:
    if (st) tcf_fail_prefix(st, "quantize %s -> %s", in, out);
    cJSON_Delete(cfg);
    tcf_gguf_writer_free(w);
    return st;
}
