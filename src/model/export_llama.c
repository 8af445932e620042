/*
 * export_llama.c — a decoder classifier (a `tcf train` run on a Llama-family
 * decoder: LlamaForSequenceClassification + LoRA) as one GGUF file, and its
 * loader.
 *
 * Writing goes through tcf quantize's Llama conversion (model/quantize.h,
 * tcf_quantize_model_hooked) of the run's base model, so the file is
 * llama.cpp's llama layout with every key and tensor `tcf quantize` writes
 * (a GGUF base: its metadata copied, tokenizer.ggml.* included; a directory:
 * converted as convert_hf_to_gguf does), with three changes:
 *   - each LoRA target's weight is W + (alpha / r) B A, merged in f32 into
 *     the base file's decoded weights (in llama.cpp's row order: the delta
 *     of q and k is permuted as the weights are) before it is encoded in the
 *     requested type;
 *   - the `score` head as tensor "cls.output.weight" (ggml dims [C, K], F32,
 *     no bias);
 *   - keys: llama.classifier.output_labels, llama.pooling_type (llama.cpp's
 *     enum: 3 last, 1 mean), tcf.pooling ("last" / "mean"), the provenance
 *     keys every tcf export has (tcf.format_version, tcf.max_len,
 *     tcf.source.*, tcf.run_json, ...), tcf.abstain_below when asked, and,
 *     for a directory base with tokenizer.json, that file verbatim as
 *     tokenizer.huggingface.json (which the loader then prefers, so the
 *     tokens are exactly the trained ones).
 * The merge uses the weights as the base file stores them. A run trained
 * with --quant keep or f32 saw exactly those (decoded) weights; one trained
 * on weights quantized at load (--quant q8_0 / q4_0 / q4_1 / nf4 of a finer
 * file) saw their rounding, which the export does not have (QLoRA's usual
 * merge into the original weights).
 *
 * Loading: the dense weights stay in their blocks when attn_q is Q8_0, Q4_0
 * or Q4_1 (tcf_llama_load_with KEEP; others are widened to f32); inference
 * is tcf_llama_forward, the pooling, then the head.
 */
#include "base/base.h"
#include "model/export.h"
#include "model/infer.h"
#include "model/llama.h"
#include "model/quantize.h"
#include "train/llama_lora.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* llama.cpp's tensor names of the LoRA target modules, in TCF_LL_* order */
static const char *const gg[TCF_LL_N] = {"attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up", "ffn_down"};

/* llama.cpp's llama_pooling_type */
enum { LLAMA_POOLING_MEAN = 1, LLAMA_POOLING_LAST = 3 };

typedef struct {
    const tcf_classifier *c;
    const char *run_dir, *base;
    tcf_ggml_type type;
    double abstain_below;
    int no_merge; /* the base's tensors verbatim + the adapters as tensors */
    const char *tok_json; /* a directory base's tokenizer.json, or NULL */
    size_t tok_json_len;
    float *delta, *tmp; /* (out, in) staging; (D, in) for the permute */
    int merged;         /* weights merged so far */
} dec_export;

/* LoRA module of GGUF tensor `name` ("blk.L.attn_q.weight", ...): its index
 * l * TCF_LL_N + module, and the head count of its row permutation (0:
 * none); -1 when the tensor has no adapter. */
static int module_of(const dec_export *e, const char *name, int *n_head) {
    const tcf_llama_config *cf = &e->c->dm->cfg;
    int l, n = 0;
    char part[32];
    if (sscanf(name, "blk.%d.%31[a-z_].weight%n", &l, part, &n) != 2 || name[n] || l < 0 || l >= cf->layers)
        return -1;
    for (int m = 0; m < TCF_LL_N; m++)
        if (!strcmp(part, gg[m])) {
            *n_head = m == TCF_LL_Q ? cf->heads : m == TCF_LL_K ? cf->kv_heads : 0;
            return l * TCF_LL_N + m;
        }
    return -1;
}

static tcf_status merge_tensor(void *ctx, const char *name, int n_dims, const int64_t *ne, float *x) {
    dec_export *e = ctx;
    const tcf_llama_lora *lo = e->c->dl;
    int n_head = 0;
    const int idx = module_of(e, name, &n_head);
    if (idx < 0) return TCF_OK;
    int in, out;
    tcf_llama_lora_dims(&e->c->dm->cfg, idx % TCF_LL_N, &in, &out);
    if (n_dims != 2 || ne[0] != in || ne[1] != out)
        return tcf_fail(TCF_ERR_FORMAT, "%s: tensor '%s' is [%lld, %lld] but its adapter needs [%d, %d]", e->base, name,
                        (long long)ne[0], (long long)(n_dims > 1 ? ne[1] : 1), in, out);
    for (int o = 0; o < out; o++) tcf_llama_lora_delta_row(lo, idx, o, e->delta + (int64_t)o * in);
    if (n_head) tcf_quantize_permute_rows(e->delta, n_head, e->c->dm->cfg.head_dim, in, e->tmp);
    for (int64_t i = 0; i < (int64_t)out * in; i++) x[i] += e->delta[i];
    e->merged++;
    return TCF_OK;
}

/* The adapters as tensors blk.N.<module>.lora_a (ggml [in, r]: PEFT's
 * lora_A (r, in)) and .lora_b ([r, out]: lora_B (out, r)), F32, in Hugging
 * Face row order (q and k not permuted), plus tcf.lora.r / tcf.lora.alpha. */
static tcf_status put_adapters(tcf_gguf_writer *w, const tcf_llama_lora *lo, const tcf_llama_config *cf) {
    tcf_status st;
    if ((st = tcf_gguf_put_u32(w, "tcf.lora.r", (uint32_t)lo->r)) ||
        (st = tcf_gguf_put_f32(w, "tcf.lora.alpha", lo->scale * (float)lo->r)))
        return st;
    for (int l = 0; l < cf->layers; l++)
        for (int m = 0; m < TCF_LL_N; m++) {
            int in, out;
            tcf_llama_lora_dims(cf, m, &in, &out);
            char name[64];
            const int64_t na[2] = {in, lo->r}, nb[2] = {lo->r, out};
            snprintf(name, sizeof name, "blk.%d.%s.lora_a", l, gg[m]);
            if ((st = tcf_gguf_put_tensor(w, name, TCF_GGML_F32, 2, na, lo->A[l * TCF_LL_N + m],
                                          sizeof(float) * (size_t)in * lo->r)))
                return st;
            snprintf(name, sizeof name, "blk.%d.%s.lora_b", l, gg[m]);
            if ((st = tcf_gguf_put_tensor(w, name, TCF_GGML_F32, 2, nb, lo->B[l * TCF_LL_N + m],
                                          sizeof(float) * (size_t)out * lo->r)))
                return st;
        }
    return TCF_OK;
}

static tcf_status finish(void *ctx, tcf_gguf_writer *w) {
    dec_export *e = ctx;
    const tcf_classifier *c = e->c;
    const tcf_llama_lora *lo = c->dl;
    const int L = c->dm->cfg.layers, C = c->dm->cfg.hidden, K = c->n_classes;
    if (!e->no_merge && e->merged != L * TCF_LL_N)
        return tcf_fail(TCF_ERR_FORMAT, "%s: %d of the %d adapted weights (7 per layer) were found in the base", e->base,
                        e->merged, L * TCF_LL_N);
    const int mean = lo->pooling == TCF_POOL_MEAN;
    const char *pool = mean ? "mean" : "last";
    const int64_t ne[2] = {C, K};
    tcf_status st;
    if ((st = tcf_gguf_put_arr_str(w, "llama.classifier.output_labels", (const char *const *)c->labels, K)) ||
        (st = tcf_gguf_put_u32(w, "llama.pooling_type", mean ? LLAMA_POOLING_MEAN : LLAMA_POOLING_LAST)) ||
        (st = tcf_export_put_provenance(w, c, e->run_dir, e->base, e->type, pool)) ||
        (e->abstain_below >= 0 && (st = tcf_gguf_put_f32(w, "tcf.abstain_below", (float)e->abstain_below))) ||
        (e->tok_json &&
         (st = tcf_gguf_put_str(w, "tokenizer.huggingface.json", e->tok_json, e->tok_json_len))) ||
        (e->no_merge && (st = put_adapters(w, lo, &c->dm->cfg))) ||
        (st = tcf_gguf_put_tensor(w, "cls.output.weight", TCF_GGML_F32, 2, ne, lo->score,
                                  sizeof(float) * (size_t)K * C)))
        return st;
    return TCF_OK;
}

tcf_status tcf_export_llama_gguf(const tcf_classifier *c, const char *run_dir, const char *base, const char *out_path,
                                 tcf_ggml_type type, double abstain_below, int no_merge) {
    if (no_merge) {
        /* the blocks the run trained on: its base GGUF, kept (or decoded to
         * f32, which a verbatim copy of an f32 file also is) */
        tcf_gguf *bg = NULL;
        const tcf_gguf_tensor *t;
        tcf_status st = tcf_llama_handles(base) && tcf_gguf_open(base, &bg) == TCF_OK ? TCF_OK : TCF_ERR_UNSUPPORTED;
        if (!st && (t = tcf_gguf_tensor_find(bg, "blk.0.attn_q.weight"))) type = t->type;
        tcf_gguf_free(bg);
        if (st)
            return tcf_fail(TCF_ERR_UNSUPPORTED, "export --no-merge: the run's base %s is not a GGUF file (a directory "
                            "base is merged exactly at f32: export without --no-merge)", base);
        const int q = c->dm->quant;
        const int same = q == TCF_LLAMA_F32 || (q == TCF_QTYPE_Q8_0 && type == TCF_GGML_Q8_0) ||
                         (q == TCF_QTYPE_Q4_0 && type == TCF_GGML_Q4_0) || (q == TCF_QTYPE_Q4_1 && type == TCF_GGML_Q4_1);
        if (!same)
            return tcf_fail(TCF_ERR_UNSUPPORTED, "export --no-merge: the run trained on %s blocks quantized at load, "
                            "not on its base file's %s ones; only the file's own blocks can be kept",
                            tcf_qtype_name((tcf_qtype)q), tcf_ggml_type_name(type));
    } else if (type != TCF_GGML_F32 && type != TCF_GGML_F16 && type != TCF_GGML_BF16 && type != TCF_GGML_Q8_0 &&
               type != TCF_GGML_Q4_0 && type != TCF_GGML_Q4_1) {
        return tcf_fail(TCF_ERR_ARG, "export: a decoder classifier is written as f32, f16, bf16, q8_0, q4_0 or q4_1 "
                        "(type %d)", (int)type);
    }
    const tcf_llama_config *cf = &c->dm->cfg;
    if (cf->arch != TCF_ARCH_LLAMA)
        return tcf_fail(TCF_ERR_UNSUPPORTED, "%s: only llama-architecture decoders are exported to GGUF (tcf's GGUF "
                        "loader reads llama's layout only)", run_dir);
    dec_export e = {c, run_dir, base, type, abstain_below, no_merge, NULL, 0, NULL, NULL, 0};
    char *json = NULL, path[4096];
    struct stat sb;
    tcf_status st = TCF_OK;
    if (!stat(base, &sb) && S_ISDIR(sb.st_mode)) {
        if ((st = tcf_path_join(path, sizeof path, base, "tokenizer.json"))) return st;
        if (tcf_file_exists(path) && (st = tcf_read_file(path, &json, &e.tok_json_len))) return st;
        e.tok_json = json;
    }
    const int64_t C = cf->hidden, I = cf->inter, Q = (int64_t)cf->heads * cf->head_dim;
    int64_t big = Q * C > I * C ? Q * C : I * C;
    e.delta = malloc(sizeof(float) * (size_t)big);
    e.tmp = malloc(sizeof(float) * (size_t)(cf->head_dim * (C > Q ? C : Q)));
    if (!e.delta || !e.tmp) {
        st = tcf_fail(TCF_ERR_NOMEM, "export: out of memory");
    } else {
        const tcf_quantize_hooks h = {no_merge ? NULL : merge_tensor, finish, &e, no_merge};
        st = tcf_quantize_model_hooked(base, out_path, type, &h, NULL);
    }
    free(e.delta), free(e.tmp), free(json);
    return st;
}

/* ---- reading ---------------------------------------------------------------- */

/* tcf.lora.r / alpha and every blk.N.<module>.lora_a / lora_b into c->dl,
 * with the head (already in c->head_w) copied in as its score. */
static tcf_status load_adapters(const tcf_gguf *g, const char *path, tcf_classifier *c) {
    const tcf_llama_config *cf = &c->dm->cfg;
    int64_t r;
    double alpha;
    const tcf_gguf_value *av = tcf_gguf_find(g, "tcf.lora.alpha");
    tcf_status st = tcf_gguf_get_i64(g, "tcf.lora.r", &r);
    if (st) return st;
    if (r < 1 || r > 4096) return tcf_fail(TCF_ERR_FORMAT, "%s: key 'tcf.lora.r' = %lld is not a LoRA rank", path, (long long)r);
    if (!av || tcf_gguf_value_f64(av, &alpha) || !(alpha > 0) || !isfinite(alpha))
        return tcf_fail(TCF_ERR_FORMAT, "%s: key 'tcf.lora.alpha' is missing or not a positive number", path);
    if ((st = tcf_llama_lora_init(cf, (int)r, (float)alpha, &c->dl)) ||
        (st = tcf_llama_lora_init_head(c->dl, c->n_classes, cf->hidden)))
        return st;
    for (int l = 0; l < cf->layers; l++)
        for (int m = 0; m < TCF_LL_N; m++) {
            int in, out;
            tcf_llama_lora_dims(cf, m, &in, &out);
            for (int ab = 0; ab < 2; ab++) {
                char name[64];
                snprintf(name, sizeof name, "blk.%d.%s.lora_%c", l, gg[m], ab ? 'b' : 'a');
                const tcf_gguf_tensor *t = tcf_gguf_tensor_find(g, name);
                const int64_t n0 = ab ? r : in, n1 = ab ? out : r;
                if (!t || t->n_dims != 2 || t->ne[0] != n0 || t->ne[1] != n1)
                    return tcf_fail(TCF_ERR_FORMAT, "%s: tensor '%s' [%lld, %lld] is missing or misshapen", path, name,
                                    (long long)n0, (long long)n1);
                float *dst = ab ? c->dl->B[l * TCF_LL_N + m] : c->dl->A[l * TCF_LL_N + m];
                if ((st = tcf_gguf_dequantize(t, dst, n0 * n1))) return st;
                for (int64_t i = 0; i < n0 * n1; i++)
                    if (!isfinite(dst[i]))
                        return tcf_fail(TCF_ERR_FORMAT, "%s: tensor '%s' holds a value that is not finite", path, name);
            }
        }
    memcpy(c->dl->score, c->head_w, sizeof(float) * (size_t)c->n_classes * cf->hidden);
    return TCF_OK;
}

tcf_status tcf_classifier_load_llama_gguf(const tcf_gguf *g, const char *path, tcf_classifier *c) {
    const tcf_gguf_tensor *wq = tcf_gguf_tensor_find(g, "blk.0.attn_q.weight");
    const int keep = wq && (wq->type == TCF_GGML_Q8_0 || wq->type == TCF_GGML_Q4_0 || wq->type == TCF_GGML_Q4_1);
    const tcf_llama_load_opts lo = {keep ? TCF_LLAMA_KEEP : TCF_LLAMA_F32, 0};
    tcf_status st;
    if ((st = tcf_llama_load_with(path, &lo, &c->dm))) return st;
    const int C = c->dm->cfg.hidden;
    tcf_gguf_type et;
    uint64_t K;
    const tcf_gguf_value *names;
    const char *s;
    size_t len;
    int64_t ml, pt;
    if ((st = tcf_gguf_get_array(g, "llama.classifier.output_labels", &et, &K, &names))) return st;
    if (et != TCF_GGUF_STRING || K < 2 || K > 1000000)
        return tcf_fail(TCF_ERR_FORMAT, "%s: key 'llama.classifier.output_labels' must be an array of at least 2 "
                        "strings", path);
    c->n_classes = (int)K;
    c->labels = calloc(K, sizeof *c->labels);
    c->head_w = malloc(sizeof(float) * K * (size_t)C);
    if (!c->labels || !c->head_w) return tcf_fail(TCF_ERR_NOMEM, "%s: out of memory", path);
    for (uint64_t k = 0; k < K; k++) {
        if ((st = tcf_gguf_array_str(names, k, &s, &len))) return st;
        if (!(c->labels[k] = strdup(s))) return tcf_fail(TCF_ERR_NOMEM, "%s: out of memory", path);
    }
    const tcf_gguf_tensor *hw = tcf_gguf_tensor_find(g, "cls.output.weight");
    if (!hw || hw->n_dims != 2 || hw->ne[0] != C || hw->ne[1] != (int64_t)K)
        return tcf_fail(TCF_ERR_FORMAT, "%s: tensor 'cls.output.weight' [%d, %llu] (the score head) is missing or "
                        "misshapen", path, C, (unsigned long long)K);
    if ((st = tcf_gguf_dequantize(hw, c->head_w, (int64_t)K * C))) return st;
    for (int64_t i = 0; i < (int64_t)K * C; i++)
        if (!isfinite(c->head_w[i]))
            return tcf_fail(TCF_ERR_FORMAT, "%s: the score head (cls.output.weight) holds a value that is not finite",
                            path);
    /* unmerged adapters (--no-merge): applied at inference as a run directory's */
    if (tcf_gguf_find(g, "tcf.lora.r") && (st = load_adapters(g, path, c))) return st;
    if ((st = tcf_gguf_get_i64(g, "llama.pooling_type", &pt))) return st;
    if (pt != LLAMA_POOLING_LAST && pt != LLAMA_POOLING_MEAN)
        return tcf_fail(TCF_ERR_FORMAT, "%s: key 'llama.pooling_type' = %lld (tcf classifiers use 3, last, or 1, "
                        "mean)", path, (long long)pt);
    c->pooling = pt == LLAMA_POOLING_MEAN ? TCF_POOL_MEAN : TCF_POOL_LAST;
    if (c->dl) c->dl->pooling = c->pooling;
    if ((st = tcf_gguf_get_i64(g, "tcf.max_len", &ml))) return st;
    if (ml < 3 || ml > c->dm->cfg.max_pos)
        return tcf_fail(TCF_ERR_FORMAT, "%s: key 'tcf.max_len' = %lld is outside [3, %d]", path, (long long)ml,
                        c->dm->cfg.max_pos);
    c->max_len = (int)ml;
    /* the trained tokenizer: tokenizer.json verbatim when the base had one */
    const tcf_gguf_value *tj = tcf_gguf_find(g, "tokenizer.huggingface.json");
    if (tj) {
        char label[4200];
        snprintf(label, sizeof label, "%s: tokenizer.huggingface.json", path);
        if ((st = tcf_gguf_value_str(tj, &s, &len)) || (st = tcf_tokenizer_load_json(s, len, label, &c->tok)))
            return st;
    } else if ((st = tcf_tokenizer_load_gguf(g, path, &c->tok))) {
        return st;
    }
    if (tcf_tokenizer_vocab_size(c->tok) > c->dm->cfg.vocab)
        return tcf_fail(TCF_ERR_FORMAT, "%s: the tokenizer has %d tokens but token_embd.weight only %d rows", path,
                        tcf_tokenizer_vocab_size(c->tok), c->dm->cfg.vocab);
    return TCF_OK;
}
