/*
 * model.c — the public tcf_model API: an encoder plus its tokenizer, or a
 * decoder (model/llama.c) plus its BPE tokenizer when the model carries one
 * (tokenizer.ggml.* in a GGUF file, tokenizer.json in a directory; without
 * one a decoder takes token ids only), and the text-in / embedding-out path
 * with dynamic padding and length bucketing.
 */
#include "base/base.h"
#include "model/bert.h"
#include "model/llama.h"

#include <stdlib.h>
#include <string.h>

struct tcf_model {
    tcf_bert *bert;   /* either an encoder ... */
    tcf_llama *llama; /* ... or a decoder */
    tcf_tokenizer *tok;
};

/* Does a decoder's file or directory carry a tokenizer? A GGUF file with
 * tokenizer.ggml.model, or a directory with tokenizer.json. (One that is
 * there must then load; a model without one takes token ids.) */
static int has_tokenizer(const char *path) {
    size_t n = strlen(path);
    if (n > 5 && !strcmp(path + n - 5, ".gguf")) {
        tcf_gguf *g = NULL;
        if (tcf_gguf_open(path, &g)) return 1; /* let the tokenizer loader report it */
        int has = tcf_gguf_find(g, "tokenizer.ggml.model") != NULL;
        tcf_gguf_free(g);
        return has;
    }
    char p[4096];
    return !tcf_path_join(p, sizeof p, path, "tokenizer.json") && tcf_file_exists(p);
}

tcf_status tcf_model_load(const char *dir, tcf_model **out) {
    *out = NULL;
    tcf_model *m = calloc(1, sizeof *m);
    if (!m) return tcf_fail(TCF_ERR_NOMEM, "out of memory");
    if (tcf_llama_handles(dir)) {
        tcf_status st = tcf_llama_load(dir, &m->llama);
        if (!st && has_tokenizer(dir)) st = tcf_tokenizer_load(dir, &m->tok);
        if (!st && m->tok && tcf_tokenizer_vocab_size(m->tok) > m->llama->cfg.vocab)
            st = tcf_fail(TCF_ERR_FORMAT, "%s: tokenizer has %d tokens but the model's vocabulary is %d", dir,
                          tcf_tokenizer_vocab_size(m->tok), m->llama->cfg.vocab);
        if (st) {
            tcf_model_free(m);
            return st;
        }
        *out = m;
        return TCF_OK;
    }
    tcf_status st = tcf_bert_load(dir, &m->bert);
    if (!st) st = tcf_tokenizer_load(dir, &m->tok);
    if (!st && tcf_tokenizer_vocab_size(m->tok) > m->bert->cfg.vocab)
        st = tcf_fail(TCF_ERR_FORMAT, "%s: tokenizer has %d tokens but the model's vocab_size is %d",
                      dir, tcf_tokenizer_vocab_size(m->tok), m->bert->cfg.vocab);
    if (st) {
        tcf_model_free(m);
        return st;
    }
    *out = m;
    return TCF_OK;
}

void tcf_model_free(tcf_model *m) {
    if (!m) return;
    tcf_bert_free(m->bert);
    tcf_llama_free(m->llama);
    tcf_tokenizer_free(m->tok);
    free(m);
}

const tcf_tokenizer *tcf_model_tokenizer(const tcf_model *m) { return m->tok; }
int tcf_model_is_decoder(const tcf_model *m) { return m->llama != NULL; }
int tcf_model_hidden_size(const tcf_model *m) { return m->llama ? m->llama->cfg.hidden : m->bert->cfg.hidden; }
int tcf_model_max_positions(const tcf_model *m) {
    return m->llama ? m->llama->cfg.max_pos : m->bert->cfg.max_pos;
}

tcf_status tcf_model_forward(const tcf_model *m, int B, int T, const int32_t *ids,
                             const uint8_t *mask, float *hidden, float *pooled,
                             tcf_pooling pooling, int normalize, int n_threads) {
    const int C = tcf_model_hidden_size(m);
    float *h = hidden;
    if (!h) {
        size_t n;
        if (B <= 0 || T <= 0 || !tcf_mul_ok((size_t)B * (size_t)T, (size_t)C * sizeof(float), &n) ||
            !(h = malloc(n)))
            return tcf_fail(TCF_ERR_NOMEM, "forward: cannot allocate hidden states for B=%d T=%d", B, T);
    }
    tcf_status st = m->llama ? tcf_llama_forward(m->llama, B, T, ids, mask, h, n_threads)
                             : tcf_bert_forward(m->bert, B, T, ids, mask, h, n_threads);
    if (!st && pooled) {
        if (m->llama || pooling == TCF_POOL_LAST) tcf_llama_pool(C, B, T, mask, h, pooling, normalize, pooled);
        else tcf_bert_pool(&m->bert->cfg, B, T, mask, h, pooling, normalize, pooled);
    }
    if (h != hidden) free(h);
    return st;
}

typedef struct {
    int len, idx;
} len_idx;

static int by_len(const void *a, const void *b) {
    const len_idx *x = a, *y = b;
    return x->len != y->len ? x->len - y->len : x->idx - y->idx;
}

tcf_status tcf_model_embed(const tcf_model *m, int n, const char *const *texts,
                           tcf_pooling pooling, int normalize, int max_len, int batch,
                           int n_threads, float *out) {
    if (n <= 0) return TCF_OK;
    if (!m->tok)
        return tcf_fail(TCF_ERR_UNSUPPORTED,
                        "this decoder carries no tokenizer (no tokenizer.ggml.* keys / tokenizer.json); "
                        "give token ids (tcf embed --ids)");
    if (batch <= 0) batch = 32;
    const int C = tcf_model_hidden_size(m), P = tcf_model_max_positions(m);
    if (max_len <= 0) max_len = tcf_tokenizer_max_len(m->tok);
    /* decoders have long contexts (SmolLM2: 8192) and their tokenizers no
     * truncation: without --max-len, 512 tokens */
    if (max_len <= 0 && m->llama) max_len = 512;
    if (max_len <= 0 || max_len > P) max_len = P;
    tcf_status st = TCF_OK;
    int32_t *ids = malloc(sizeof(int32_t) * (size_t)n * max_len);
    len_idx *order = malloc(sizeof *order * (size_t)n);
    int32_t *bids = malloc(sizeof(int32_t) * (size_t)batch * max_len);
    uint8_t *bmask = malloc((size_t)batch * max_len);
    float *hidden = malloc(sizeof(float) * (size_t)batch * max_len * C);
    float *pooled = malloc(sizeof(float) * (size_t)batch * C);
    int32_t **id_rows = malloc(sizeof(int32_t *) * (size_t)n);
    int *caps = malloc(sizeof(int) * (size_t)n), *counts = malloc(sizeof(int) * (size_t)n);
    if (id_rows && caps)
        for (int i = 0; i < n; i++) id_rows[i] = ids + (int64_t)i * max_len, caps[i] = max_len;
    if (!ids || !id_rows || !caps || !counts || !order || !bids || !bmask || !hidden || !pooled) {
        st = tcf_fail(TCF_ERR_NOMEM, "embed: cannot allocate buffers for %d texts", n);
        goto done;
    }
    int32_t pad = tcf_tokenizer_pad_id(m->tok);
    if (pad < 0) pad = 0; /* masked out either way */
    tcf_encode_opts eo = {1, max_len};
    st = tcf_tokenizer_encode_batch(m->tok, n, texts, NULL, &eo, id_rows, caps, counts, n_threads);
    if (st) goto done;
    for (int i = 0; i < n; i++) order[i] = (len_idx){counts[i], i};
    /* Length bucketing: batches of similar length waste little on padding;
     * outputs go back to input order. */
    qsort(order, (size_t)n, sizeof *order, by_len);
    for (int s = 0; s < n; s += batch) {
        int B = n - s < batch ? n - s : batch, T = 1;
        for (int b = 0; b < B; b++)
            if (order[s + b].len > T) T = order[s + b].len;
        for (int b = 0; b < B; b++) {
            const len_idx *o = &order[s + b];
            for (int t = 0; t < T; t++) {
                int real = t < o->len;
                bids[b * T + t] = real ? ids[(int64_t)o->idx * max_len + t] : pad;
                bmask[b * T + t] = (uint8_t)real;
            }
        }
        st = tcf_model_forward(m, B, T, bids, bmask, hidden, pooled, pooling, normalize, n_threads);
        if (st) goto done;
        for (int b = 0; b < B; b++)
            memcpy(out + (int64_t)order[s + b].idx * C, pooled + (int64_t)b * C, sizeof(float) * C);
    }
done:
    free(ids);
    free(order);
    free(bids);
    free(bmask);
    free(hidden);
    free(pooled);
    free(id_rows);
    free(caps);
    free(counts);
    return st;
}

tcf_status tcf_model_embed_ids(const tcf_model *m, int n, const int32_t *const *ids, const int *lens,
                               tcf_pooling pooling, int normalize, int batch, int n_threads, float *out) {
    if (n <= 0) return TCF_OK;
    if (batch <= 0) batch = 32;
    const int C = tcf_model_hidden_size(m), P = tcf_model_max_positions(m);
    const int V = m->llama ? m->llama->cfg.vocab : m->bert->cfg.vocab;
    int T_max = 1;
    for (int i = 0; i < n; i++) {
        if (lens[i] <= 0) return tcf_fail(TCF_ERR_ARG, "text %d: no token ids", i + 1);
        if (lens[i] > P)
            return tcf_fail(TCF_ERR_ARG, "text %d: %d token ids exceed the model's %d positions", i + 1, lens[i], P);
        for (int t = 0; t < lens[i]; t++)
            if (ids[i][t] < 0 || ids[i][t] >= V)
                return tcf_fail(TCF_ERR_ARG, "text %d: token id %d (position %d) outside the vocabulary [0, %d)",
                                i + 1, ids[i][t], t + 1, V);
        if (lens[i] > T_max) T_max = lens[i];
    }
    tcf_status st = TCF_OK;
    len_idx *order = malloc(sizeof *order * (size_t)n);
    int32_t *bids = malloc(sizeof(int32_t) * (size_t)batch * T_max);
    uint8_t *bmask = malloc((size_t)batch * T_max);
    float *hidden = malloc(sizeof(float) * (size_t)batch * T_max * C);
    float *pooled = malloc(sizeof(float) * (size_t)batch * C);
    if (!order || !bids || !bmask || !hidden || !pooled) {
        st = tcf_fail(TCF_ERR_NOMEM, "embed: cannot allocate buffers for %d sequences", n);
        goto done;
    }
    /* pad id: any valid id does (masked out); the model's own when it has one */
    int32_t pad = m->llama && m->llama->cfg.pad_id >= 0 ? m->llama->cfg.pad_id : 0;
    for (int i = 0; i < n; i++) order[i] = (len_idx){lens[i], i};
    qsort(order, (size_t)n, sizeof *order, by_len);
    for (int s = 0; s < n && !st; s += batch) {
        int B = n - s < batch ? n - s : batch, T = 1;
        for (int b = 0; b < B; b++)
            if (order[s + b].len > T) T = order[s + b].len;
        for (int b = 0; b < B; b++) {
            const len_idx *o = &order[s + b];
            for (int t = 0; t < T; t++) {
                int real = t < o->len;
                bids[b * T + t] = real ? ids[o->idx][t] : pad;
                bmask[b * T + t] = (uint8_t)real;
            }
        }
        st = tcf_model_forward(m, B, T, bids, bmask, hidden, pooled, pooling, normalize, n_threads);
        for (int b = 0; b < B && !st; b++)
            memcpy(out + (int64_t)order[s + b].idx * C, pooled + (int64_t)b * C, sizeof(float) * C);
    }
done:
    free(order);
    free(bids);
    free(bmask);
    free(hidden);
    free(pooled);
    return st;
}
