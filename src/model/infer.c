/*
 * infer.c — tcf_classifier (include/tcf.h): load a trained sequence
 * classifier for inference and classify texts.
 *
 * Sources:
 *   - a run directory of `tcf train` (src/train/trainer.h): tcf_run.json
 *     (base model, labels, max length, mode) plus, by mode, the PEFT adapter
 *     (LoRA: merged here into the base's dense weights, W += scaling * B A),
 *     classifier.safetensors (head) or a whole fine-tuned model (full);
 *   - a one-file model written by `tcf export` (tcf_classifier_load_gguf).
 *
 * Inference is BertForSequenceClassification in eval mode: logits =
 * classifier(tanh(pooler(h[:, 0]))), probabilities by softmax. Merging LoRA
 * changes the rounding of the dense products only (the result agrees with
 * the unmerged training forward to ~1e-6; tests/test_infer.c).
 *
 * A decoder run (Llama family, tcf_run.json architecture
 * "llama-sequence-classification") is LlamaForSequenceClassification: its
 * base loaded in the block format it was trained on ("base_quant"), the
 * adapters applied unmerged (tcf_llama_lora_logits: the training forward's
 * numbers exactly), the last real token's state (or the mean over the real
 * tokens: tcf_run.json "pooling") through `score`.
 *
 * Concurrency: the model is read-only after load; each classify call takes
 * a scratch block (ids, masks, hidden states, forward workspace for
 * max_batch x max_len) from a mutex-guarded free list, allocating one only
 * when every block is in use, so a warmed-up classifier allocates nothing
 * for calls of up to max_batch texts. Larger calls are processed in chunks
 * of max_batch texts in length order (less padding), with one allocation
 * for the order.
 */
#include "model/infer.h"
#include "base/base.h"
#include "kern/kern.h"
#include "train/adapter_io.h"
#include "train/full.h"
#include "train/lora.h"
#include "train/trainer.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- scratch ---------------------------------------------------------------------------- */

static void scratch_free(tcf_clf_scratch *s) {
    if (!s) return;
    free(s->ids), free(s->bids), free(s->len), free(s->order), free(s->bmask);
    free(s->hidden), free(s->pooled), free(s->logits), free(s->ws);
    free(s);
}

static tcf_clf_scratch *scratch_new(const tcf_classifier *c) {
    const size_t B = (size_t)c->max_batch, T = (size_t)c->max_len, K = (size_t)c->n_classes;
    /* a decoder's forward allocates its own workspace */
    /* decoder runs keep their activations in tcf_llama_lora_logits */
    const size_t C = c->m ? (size_t)c->m->cfg.hidden : c->dm && !c->dl ? (size_t)c->dm->cfg.hidden : 1;
    tcf_clf_scratch *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    s->ids = malloc(sizeof(int32_t) * B * T);
    s->bids = malloc(sizeof(int32_t) * B * T);
    s->len = malloc(sizeof(int) * B);
    s->order = malloc(sizeof(int) * B);
    s->bmask = malloc(B * T);
    s->hidden = malloc(sizeof(float) * B * T * C);
    s->pooled = malloc(sizeof(float) * B * C);
    s->logits = malloc(sizeof(float) * B * K);
    s->ws = malloc(sizeof(float) * (c->m ? tcf_bert_forward_ws_floats(&c->m->cfg, (int)B, (int)T, c->n_threads) : 1));
    if (!s->ids || !s->bids || !s->len || !s->order || !s->bmask || !s->hidden || !s->pooled || !s->logits ||
        !s->ws) {
        scratch_free(s);
        return NULL;
    }
    return s;
}

static tcf_clf_scratch *scratch_take(tcf_classifier *c) {
    pthread_mutex_lock(&c->lock);
    tcf_clf_scratch *s = c->free_list;
    if (s) c->free_list = s->next;
    pthread_mutex_unlock(&c->lock);
    return s ? s : scratch_new(c);
}

static void scratch_give(tcf_classifier *c, tcf_clf_scratch *s) {
    pthread_mutex_lock(&c->lock);
    s->next = c->free_list;
    c->free_list = s;
    pthread_mutex_unlock(&c->lock);
}

/* ---- life cycle ------------------------------------------------------------------------- */

void tcf_classifier_free(tcf_classifier *c) {
    if (!c) return;
    for (tcf_clf_scratch *s = c->free_list, *n; s; s = n) n = s->next, scratch_free(s);
    if (c->lock_init) pthread_mutex_destroy(&c->lock);
    tcf_bert_free(c->m);
    tcf_llama_lora_free(c->dl);
    tcf_llama_free(c->dm);
    tcf_tokenizer_free(c->tok);
    free(c->head_w), free(c->head_b);
    for (int k = 0; c->labels && k < c->n_classes; k++) free(c->labels[k]);
    free(c->labels);
    free(c->run_json), free(c->source);
    free(c);
}

/* tcf_llama_i8_adjust: W += (alpha / r) B A of each adapter on weight
 * `which` of layer l (q | k | v rows of the fused qkv, gate | up of gu) */
static tcf_status merge_decoder_lora(void *ctx, int l, int which, float *w, int N, int K) {
    const tcf_llama_lora *lo = ctx;
    static const int mods[4][4] = {{TCF_LL_Q, TCF_LL_K, TCF_LL_V, -1}, {TCF_LL_O, -1}, {TCF_LL_GATE, TCF_LL_UP, -1},
                                   {TCF_LL_DOWN, -1}};
    float *d = malloc(sizeof(float) * (size_t)K);
    if (!d) return tcf_fail(TCF_ERR_NOMEM, "int8: out of memory merging the adapters");
    int row = 0;
    for (int j = 0; mods[which][j] >= 0; j++) {
        const int i = l * TCF_LL_N + mods[which][j];
        const int out = (int)((lo->dA[i] - lo->B[i]) / lo->r); /* B is (out, r) */
        for (int o = 0; o < out && row < N; o++, row++) {
            tcf_llama_lora_delta_row(lo, i, o, d); /* as tcf export merges */
            float *wr = w + (int64_t)row * K;
            for (int x = 0; x < K; x++) wr[x] += d[x];
        }
    }
    free(d);
    return TCF_OK;
}

/* After merge_decoder_lora: the score head as head_w and the run's pooling, the
 * adapters freed (the forward is then the merged one). */
static tcf_status drop_adapters(tcf_classifier *c) {
    const size_t n = (size_t)c->dl->n_labels * c->dl->hidden;
    free(c->head_w);
    if (!(c->head_w = malloc(sizeof(float) * n))) return tcf_fail(TCF_ERR_NOMEM, "int8: out of memory for the head");
    memcpy(c->head_w, c->dl->score, sizeof(float) * n);
    c->pooling = c->dl->pooling;
    tcf_llama_lora_free(c->dl);
    c->dl = NULL;
    return TCF_OK;
}

tcf_status tcf_classifier_finish(tcf_classifier *c, const tcf_classifier_opts *opts) {
    tcf_classifier_opts o = {0, 0, 0, 0, 0};
    if (opts) o = *opts;
    if (c->m && !c->m->pool_w)
        return tcf_fail(TCF_ERR_UNSUPPORTED, "%s: the encoder has no pooler.dense (BertForSequenceClassification needs one)",
                        c->source ? c->source : "classifier");
    c->n_threads = o.n_threads > 0 ? o.n_threads : tcf_default_threads();
    c->max_batch = o.max_batch > 0 ? o.max_batch : 32;
    if (o.max_len > 0 && o.max_len < c->max_len) c->max_len = o.max_len;
    const int max_pos = c->m ? c->m->cfg.max_pos : c->dm->cfg.max_pos;
    if (c->max_len > max_pos) c->max_len = max_pos;
    if (c->max_len < 3) return tcf_fail(TCF_ERR_ARG, "%s: max_len %d is below 3", c->source, c->max_len);
    tcf_status st = c->m ? tcf_bert_set_qpath(c->m, o.qpath) : TCF_OK;
    /* int8 asked of an f32 encoder: its dense weights become per-row int8 */
    if (!st && c->m && o.qpath == TCF_QPATH_INT8 && !c->m->qdense && !c->m->i8dense) st = tcf_bert_quantize_i8(c->m);
    /* of a decoder in blocks: per-row int8 too (auto and decode: exact); a
     * run's adapters are merged into the f32 weights before the rounding
     * (one rounding, as an export's), and the classifier becomes the merged
     * form: no LoRA branch left to run per product */
    if (!st && c->dm && o.qpath == TCF_QPATH_INT8) {
        st = c->dl ? tcf_llama_quantize_i8_with(c->dm, merge_decoder_lora, c->dl) : tcf_llama_quantize_i8(c->dm);
        if (!st && c->dl) st = drop_adapters(c);
    }
    if (st) return tcf_fail_prefix(st, "%s", c->source);
    if (pthread_mutex_init(&c->lock, NULL)) return tcf_fail(TCF_ERR_NOMEM, "cannot create a mutex");
    c->lock_init = 1;
    tcf_clf_scratch *s = scratch_new(c);
    if (!s) return tcf_fail(TCF_ERR_NOMEM, "%s: cannot allocate the workspace for batches of %d x %d tokens",
                            c->source, c->max_batch, c->max_len);
    scratch_give(c, s);
    return TCF_OK;
}

/* W (out, in) += scaling * B (out, r) @ A (r, in) */
static void merge_module(float *W, const tcf_lora_module *mod, float scaling) {
    for (int o = 0; o < mod->out; o++) {
        float *w = W + (int64_t)o * mod->in;
        for (int k = 0; k < mod->r; k++) {
            const float b = scaling * mod->B[(int64_t)o * mod->r + k];
            const float *a = mod->A + (int64_t)k * mod->in;
            for (int i = 0; i < mod->in; i++) w[i] += b * a[i];
        }
    }
}

static tcf_status merge_lora(tcf_bert *m, const tcf_lora *l, const char *dir) {
    const int C = m->cfg.hidden, I = m->cfg.inter;
    float *qkv = malloc(sizeof(float) * 3 * (size_t)C * C), *ao = malloc(sizeof(float) * (size_t)C * C),
          *fi = malloc(sizeof(float) * (size_t)I * C), *fo = malloc(sizeof(float) * (size_t)C * I);
    if (!qkv || !ao || !fi || !fo) {
        free(qkv), free(ao), free(fi), free(fo);
        return tcf_fail(TCF_ERR_NOMEM, "%s: out of memory merging the adapters", dir);
    }
    for (int layer = 0; layer < m->cfg.layers; layer++) {
        int any = 0;
        for (int k = 0; k < TCF_LORA_KINDS; k++) any |= tcf_lora_find(l, layer, k) != NULL;
        if (!any) continue;
        tcf_bert_get_dense(m, layer, qkv, ao, fi, fo);
        float *dst[TCF_LORA_KINDS] = {qkv, qkv + (size_t)C * C, qkv + 2 * (size_t)C * C, ao, fi, fo};
        for (int k = 0; k < TCF_LORA_KINDS; k++) {
            const tcf_lora_module *mod = tcf_lora_find(l, layer, k);
            if (mod) merge_module(dst[k], mod, l->scaling);
        }
        tcf_bert_set_dense(m, layer, qkv, ao, fi, fo);
    }
    free(qkv), free(ao), free(fi), free(fo);
    return TCF_OK;
}

static int quant_parse(const char *name) {
    if (!strcmp(name, "f32")) return TCF_LLAMA_F32;
    for (int q = TCF_QTYPE_Q8_0; q <= TCF_QTYPE_NF4; q++)
        if (!strcmp(name, tcf_qtype_name((tcf_qtype)q))) return q;
    return -3;
}

/* A decoder run: root is its tcf_run.json (path), c has source and run_json. */
static tcf_status load_decoder_run(const char *dir, const char *path, const cJSON *root, tcf_classifier *c) {
    const cJSON *base = cJSON_GetObjectItem(root, "base_model"), *bq = cJSON_GetObjectItem(root, "base_quant");
    const cJSON *names = cJSON_GetObjectItem(root, "labels");
    const cJSON *dq = cJSON_GetObjectItem(cJSON_GetObjectItem(root, "train_config"), "double_quant");
    const int q = cJSON_IsString(bq) ? quant_parse(bq->valuestring) : -3;
    if (q == -3)
        return tcf_fail(TCF_ERR_FORMAT, "%s: a decoder run needs base_quant (f32, q8_0, q4_0, q4_1 or nf4)", path);
    tcf_llama_load_opts lo = {q, cJSON_IsTrue(dq)};
    tcf_status st;
    if ((st = tcf_llama_load_with(base->valuestring, &lo, &c->dm)) || (st = tcf_tokenizer_load(base->valuestring, &c->tok)))
        return tcf_fail_prefix(st, "%s: base model", path);
    if ((st = tcf_llama_adapter_load(dir, &c->dm->cfg, &c->dl))) return st;
    /* what the head reads; runs written before pooling was an option read the last token */
    const cJSON *pl = cJSON_GetObjectItem(root, "pooling");
    if (pl && !(cJSON_IsString(pl) && (!strcmp(pl->valuestring, "last") || !strcmp(pl->valuestring, "mean"))))
        return tcf_fail(TCF_ERR_FORMAT, "%s: pooling must be \"last\" or \"mean\"", path);
    c->dl->pooling = pl && !strcmp(pl->valuestring, "mean") ? TCF_POOL_MEAN : TCF_POOL_LAST;
    const int K = cJSON_GetArraySize(names);
    if (K != c->dl->n_labels)
        return tcf_fail(TCF_ERR_FORMAT, "%s: %d labels but the score head has %d classes", path, K, c->dl->n_labels);
    c->n_classes = K;
    if (!(c->labels = calloc((size_t)K, sizeof *c->labels))) return tcf_fail(TCF_ERR_NOMEM, "out of memory");
    for (int k = 0; k < K; k++) {
        const cJSON *n = cJSON_GetArrayItem(names, k);
        if (!cJSON_IsString(n)) return tcf_fail(TCF_ERR_FORMAT, "%s: label %d is not a string", path, k);
        if (!(c->labels[k] = strdup(n->valuestring))) return tcf_fail(TCF_ERR_NOMEM, "out of memory");
    }
    return TCF_OK;
}

static tcf_status load_run(const char *dir, const tcf_classifier_opts *opts, tcf_classifier **out) {
    char path[4096], *text = NULL;
    size_t len;
    tcf_status st;
    tcf_lora *l = NULL;
    cJSON *root = NULL;
    tcf_classifier *c = calloc(1, sizeof *c);
    if (!c || !(c->source = strdup(dir))) {
        free(c);
        return tcf_fail(TCF_ERR_NOMEM, "out of memory");
    }
    if ((st = tcf_path_join(path, sizeof path, dir, "tcf_run.json"))) goto fail;
    if ((st = tcf_read_file(path, &text, &len))) {
        tcf_fail_prefix(st, "%s is not a tcf run directory", dir);
        goto fail;
    }
    root = cJSON_ParseWithLength(text, len);
    c->run_json = text;
    const cJSON *base = cJSON_GetObjectItem(root, "base_model"), *ml = cJSON_GetObjectItem(root, "max_len"),
                *names = cJSON_GetObjectItem(root, "labels");
    if (!root || !cJSON_IsString(base) || !cJSON_IsNumber(ml) || ml->valueint < 3 || !cJSON_IsArray(names) ||
        cJSON_GetArraySize(names) < 2) {
        st = tcf_fail(TCF_ERR_FORMAT, "%s: not a tcf run file (needs base_model, max_len >= 3, labels)", path);
        goto fail;
    }
    c->max_len = ml->valueint;
    const cJSON *arch = cJSON_GetObjectItem(root, "architecture");
    if (cJSON_IsString(arch) && !strcmp(arch->valuestring, "llama-sequence-classification")) {
        if ((st = load_decoder_run(dir, path, root, c)) || (st = tcf_classifier_finish(c, opts))) goto fail;
        cJSON_Delete(root);
        *out = c;
        return TCF_OK;
    }
    /* runs from before --mode have no "mode": LoRA */
    const cJSON *mo = cJSON_GetObjectItem(cJSON_GetObjectItem(root, "train_config"), "mode");
    int mode = cJSON_IsString(mo) ? tcf_train_mode_parse(mo->valuestring) : TCF_MODE_LORA;
    if (mode < 0) {
        st = tcf_fail(TCF_ERR_FORMAT, "%s: unknown train_config.mode \"%s\" (known: lora, head, full)", path,
                      mo->valuestring);
        goto fail;
    }
    /* full: the run directory is itself the fine-tuned model */
    if ((st = tcf_bert_load(mode == TCF_MODE_FULL ? dir : base->valuestring, &c->m)) ||
        (st = tcf_tokenizer_load(base->valuestring, &c->tok))) {
        tcf_fail_prefix(st, "%s: %s", path, mode == TCF_MODE_FULL ? "fine-tuned model" : "base model");
        goto fail;
    }
    const int K = cJSON_GetArraySize(names), C = c->m->cfg.hidden;
    if (mode == TCF_MODE_LORA) {
        if ((st = tcf_adapter_load(dir, c->m->cfg.layers, C, c->m->cfg.inter, &l))) goto fail;
    } else {
        char hpath[4096];
        if ((st = tcf_lora_init(&l, c->m->cfg.layers, C, c->m->cfg.inter, 0, 8, 16.0f, 0, 0.0f, K)) ||
            (st = tcf_path_join(hpath, sizeof hpath, dir,
                                mode == TCF_MODE_FULL ? "model.safetensors" : "classifier.safetensors")) ||
            (st = tcf_head_load(hpath, l)))
            goto fail;
    }
    if (K != l->n_classes) {
        st = tcf_fail(TCF_ERR_FORMAT, "%s: %d labels but the classifier head has %d classes", path, K, l->n_classes);
        goto fail;
    }
    if (l->n_modules && (st = merge_lora(c->m, l, dir))) goto fail;
    c->n_classes = K;
    c->head_w = malloc(sizeof(float) * (size_t)K * C);
    c->head_b = malloc(sizeof(float) * (size_t)K);
    c->labels = calloc((size_t)K, sizeof *c->labels);
    if (!c->head_w || !c->head_b || !c->labels) {
        st = tcf_fail(TCF_ERR_NOMEM, "out of memory");
        goto fail;
    }
    memcpy(c->head_w, l->head_w, sizeof(float) * (size_t)K * C);
    memcpy(c->head_b, l->head_b, sizeof(float) * (size_t)K);
    for (int k = 0; k < K; k++) {
        const cJSON *n = cJSON_GetArrayItem(names, k);
        if (!cJSON_IsString(n)) {
            st = tcf_fail(TCF_ERR_FORMAT, "%s: label %d is not a string", path, k);
            goto fail;
        }
        if (!(c->labels[k] = strdup(n->valuestring))) {
            st = tcf_fail(TCF_ERR_NOMEM, "out of memory");
            goto fail;
        }
    }
    if ((st = tcf_classifier_finish(c, opts))) goto fail;
    tcf_lora_free(l);
    cJSON_Delete(root);
    *out = c;
    return TCF_OK;
fail:
    tcf_lora_free(l);
    cJSON_Delete(root);
    tcf_classifier_free(c);
    return st;
}

static int ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

tcf_status tcf_classifier_load(const char *path, const tcf_classifier_opts *opts, tcf_classifier **out) {
    *out = NULL;
    if (!path || !*path) return tcf_fail(TCF_ERR_ARG, "classifier: empty model path");
    if (ends_with(path, ".gguf")) return tcf_classifier_load_gguf(path, opts, out);
    return load_run(path, opts, out);
}

int tcf_classifier_n_classes(const tcf_classifier *c) { return c->n_classes; }
const char *tcf_classifier_label(const tcf_classifier *c, int k) {
    return k >= 0 && k < c->n_classes ? c->labels[k] : NULL;
}
const tcf_tokenizer *tcf_classifier_tokenizer(const tcf_classifier *c) { return c->tok; }
int tcf_classifier_max_len(const tcf_classifier *c) { return c->max_len; }
double tcf_classifier_abstain_below(const tcf_classifier *c) { return c->has_abstain ? c->abstain_below : -1; }

/* ---- classify --------------------------------------------------------------------------- */

static void softmax_row(float *p, const float *z, int K) {
    float mx = z[0];
    for (int k = 1; k < K; k++) mx = z[k] > mx ? z[k] : mx;
    double s = 0;
    for (int k = 0; k < K; k++) s += p[k] = expf(z[k] - mx);
    for (int k = 0; k < K; k++) p[k] = (float)(p[k] / s);
}

/* z (K) = W (K, C) x [+ bias (K)]: the heads' dot products, summed in
 * order (the results tests compare against). */
static void head_logits(const float *W, const float *bias, const float *x, int K, int C, float *z) {
    for (int k = 0; k < K; k++) {
        const float acc = tcf_dot(W + (int64_t)k * C, x, C);
        z[k] = bias ? acc + bias[k] : acc;
    }
}

/* Probabilities of texts idx[0..nb) (nb <= max_batch) into probs rows
 * idx[b]. Tokenizes into s->ids, pads to the longest, runs the encoder, the
 * pooler and the head. */
static tcf_status run_chunk(tcf_classifier *c, tcf_clf_scratch *s, int nb, const int *idx, const char *const *texts,
                            const size_t *lens, float *probs) {
    const int T0 = c->max_len, K = c->n_classes;
    const tcf_encode_opts eo = {1, T0};
    int T = 1;
    for (int b = 0; b < nb; b++) {
        const int i = idx[b];
        const char *t = texts[i];
        size_t n = lens ? lens[i] : strlen(t);
        tcf_status st = tcf_tokenizer_encode(c->tok, t, n, &eo, s->ids + (int64_t)b * T0, T0, &s->len[b]);
        if (st) return tcf_fail_prefix(st, "text %d", i + 1);
        if (s->len[b] > T) T = s->len[b];
    }
    const int32_t pad = tcf_tokenizer_pad_id(c->tok) >= 0 ? tcf_tokenizer_pad_id(c->tok) : 0;
    for (int b = 0; b < nb; b++)
        for (int t = 0; t < T; t++) {
            const int real = t < s->len[b];
            s->bids[(int64_t)b * T + t] = real ? s->ids[(int64_t)b * T0 + t] : pad;
            s->bmask[(int64_t)b * T + t] = (uint8_t)real;
        }
    if (c->dm && !c->dl) { /* an exported decoder: LoRA merged */
        const int C = c->dm->cfg.hidden;
        tcf_status st = tcf_llama_forward(c->dm, nb, T, s->bids, s->bmask, s->hidden, c->n_threads);
        if (st) return st;
        tcf_llama_pool(C, nb, T, s->bmask, s->hidden, c->pooling, 0, s->pooled);
        for (int b = 0; b < nb; b++) {
            float *z = s->logits + (int64_t)b * K;
            head_logits(c->head_w, NULL, s->pooled + (int64_t)b * C, K, C, z);
            softmax_row(probs + (int64_t)idx[b] * K, z, K);
        }
        return TCF_OK;
    }
    if (c->dm) {
        tcf_status st = tcf_llama_lora_logits(c->dm, c->dl, c->dl->score, K, nb, T, s->bids, s->bmask, s->logits,
                                              c->n_threads);
        for (int b = 0; !st && b < nb; b++) softmax_row(probs + (int64_t)idx[b] * K, s->logits + (int64_t)b * K, K);
        return st;
    }
    tcf_status st = tcf_bert_forward_first_ws(c->m, nb, T, s->bids, s->bmask, s->hidden, c->n_threads, s->ws);
    if (st) return st;
    const tcf_bert *m = c->m;
    const int C = m->cfg.hidden;
    for (int b = 0; b < nb; b++) {
        const float *x = s->hidden + (int64_t)b * C; /* h[b, 0] */
        float *pooled = s->pooled + (int64_t)b * C;
        head_logits(m->pool_w, m->pool_b, x, C, C, pooled);
        for (int n = 0; n < C; n++) pooled[n] = tanhf(pooled[n]);
        float *z = s->logits + (int64_t)b * K;
        head_logits(c->head_w, c->head_b, pooled, K, C, z);
        softmax_row(probs + (int64_t)idx[b] * K, z, K);
    }
    return TCF_OK;
}

typedef struct {
    int len, idx;
} len_idx;

static int by_len(const void *a, const void *b) {
    const len_idx *x = a, *y = b;
    return x->len != y->len ? x->len - y->len : x->idx - y->idx;
}

tcf_status tcf_classifier_classify(tcf_classifier *c, int n, const char *const *texts, const size_t *lens,
                                   float *probs) {
    if (n < 0 || (n > 0 && (!texts || !probs))) return tcf_fail(TCF_ERR_ARG, "classify: bad arguments");
    if (n == 0) return TCF_OK;
    for (int i = 0; i < n; i++)
        if (!texts[i]) return tcf_fail(TCF_ERR_ARG, "text %d: NULL", i + 1);
    tcf_clf_scratch *s = scratch_take(c);
    if (!s) return tcf_fail(TCF_ERR_NOMEM, "classify: cannot allocate a workspace");
    tcf_status st = TCF_OK;
    if (n <= c->max_batch) {
        for (int b = 0; b < n; b++) s->order[b] = b;
        st = run_chunk(c, s, n, s->order, texts, lens, probs);
    } else {
        /* order by byte length (a cheap proxy for token length) so chunks
         * pad little; results do not depend on the order */
        len_idx *li = malloc(sizeof *li * (size_t)n);
        int *idx = malloc(sizeof(int) * (size_t)n);
        if (!li || !idx) st = tcf_fail(TCF_ERR_NOMEM, "classify: out of memory for %d texts", n);
        for (int i = 0; !st && i < n; i++) {
            size_t L = lens ? lens[i] : strlen(texts[i]);
            li[i].len = L > (size_t)1 << 30 ? 1 << 30 : (int)L, li[i].idx = i;
        }
        if (!st) qsort(li, (size_t)n, sizeof *li, by_len);
        for (int i = 0; !st && i < n; i++) idx[i] = li[i].idx;
        for (int s0 = 0; !st && s0 < n; s0 += c->max_batch)
            st = run_chunk(c, s, n - s0 < c->max_batch ? n - s0 : c->max_batch, idx + s0, texts, lens, probs);
        free(li), free(idx);
    }
    scratch_give(c, s);
    return st;
}
