/*
 * bert.h — BERT-family encoder: weights, load, forward (internal API).
 */
#ifndef TCF_BERT_H
#define TCF_BERT_H

#include "tcf.h"
#include "kern/i8gemm.h"
#include "kern/qgemm.h"

typedef struct {
    int vocab, hidden, layers, heads, inter, max_pos, type_vocab;
    float ln_eps;
    int pad_id; /* pad_token_id (default 0): nn.Embedding's padding_idx */
} tcf_bert_config;

/* Dense weights are kept as W^T (in, out) packed for tcf_gemm_packed
 * (panels of 16 output columns), so the forward x @ W^T streams them. */
typedef struct {
    float *qkv_wp;       /* W^T (C, 3C) packed: columns [query | key | value] */
    float *qkv_b;        /* (3C) */
    float *ao_wp, *ao_b; /* (C, C) packed, (C): attention output dense */
    float *ln1_g, *ln1_b;/* (C) */
    float *fi_wp, *fi_b; /* (C, I) packed, (I): intermediate dense */
    float *fo_wp, *fo_b; /* (I, C) packed, (C): output dense */
    float *ln2_g, *ln2_b;/* (C) */
    /* For backward passes (tcf_bert_enable_backward): each weight W (out, in)
     * packed as the right-hand side of dY (M, out) @ W, NULL until enabled. */
    float *qkv_bp, *ao_bp, *fi_bp, *fo_bp;
} tcf_bert_layer;

typedef struct tcf_bert {
    tcf_bert_config cfg;
    float *params;       /* every parameter, one allocation */
    int64_t n_params;
    float *wte;          /* (V, C) */
    float *wpe;          /* (P, C) */
    float *wtt;          /* (type_vocab, C) */
    float *emb_ln_g, *emb_ln_b;
    tcf_bert_layer *layer; /* (L) */
    float *pool_w, *pool_b; /* BertPooler dense (C, C) as nn.Linear, (C); NULL if
                               the checkpoint has none */
    float *bwd_mem;         /* the *_bp weights, one allocation */
    int has_pooler;
    /* After tcf_bert_quantize: (L, 4) quantized dense weights per layer, in
     * the order qkv (3C, C), ao (C, C), fi (I, C), fo (C, I) as nn.Linear
     * (out, in); the f32 *_wp are then NULL. NULL for an f32 model. */
    tcf_qmat *qdense;
    /* Or, after tcf_bert_quantize_i8: the same four weights per layer as
     * per-row int8 (kern/i8gemm.h), always multiplied on the integer path. */
    tcf_i8mat *i8dense;
    /* Products with qdense of at most q8_rows rows (B*T) take the integer
     * path (tcf_qgemm_q8: inputs rounded to Q8_0), larger ones the exact
     * decode path (tcf_qgemm). 0 (the default): always exact. */
    int q8_rows;
    /* tcf_bert_load_gguf_mapped: the file whose map the weights point into
     * (freed with the model); NULL otherwise. */
    tcf_gguf *map;
    /* One cached forward workspace, taken and given back atomically so that
     * concurrent forwards stay safe (a second one allocates its own). */
    struct tcf_ws {
        size_t cap; /* floats */
        float *data;
    } *_Atomic ws_cache;
} tcf_bert;

/* Load config.json + model.safetensors from dir. */
tcf_status tcf_bert_load(const char *dir, tcf_bert **out);
void tcf_bert_free(tcf_bert *m);

/* Load from a GGUF file in llama.cpp's BERT layout (general.architecture
 * "bert", bert.* hyper-parameters, token_embd.weight, blk.N.attn_q.weight,
 * ...; docs/EXPORT.md): any tensor type tcf_gguf_dequantize decodes, widened
 * to f32. The pooler is "cls" when present. `label` names the file in
 * errors; g may be freed after the call. */
tcf_status tcf_bert_load_gguf(const tcf_gguf *g, const char *label, tcf_bert **out);

/* The same for a file whose dense weights (q, k, v, attention output, FFN
 * up and down) are each Q8_0, Q4_0 or Q4_K, q, k and v of one type (a
 * quantized `tcf export`; --type q4_k keeps rows that are not whole
 * super-blocks of 256 Q8_0): nothing is widened or re-quantized. The dense weights are tcf_qmat views of the
 * file's blocks (q|k|v copied as they are into one fused weight per layer),
 * the F32 tensors (embeddings, LayerNorms, biases) point into the map; only
 * the fused q|k|v biases and the pooler (widened to f32) are allocated.
 * Every value is checked finite (f16 block scales of the quantized ones);
 * with `drop` the pages read for that check are given back
 * (madvise(MADV_DONTNEED)) so that only what the forward touches stays
 * resident: only for a map made by tcf_gguf_open. On success m owns g
 * (tcf_bert_free frees it) and, for a file all Q8_0 or all Q4_0, the forward
 * gives the probabilities of tcf_bert_load_gguf + tcf_bert_quantize bit for
 * bit (re-quantizing decoded Q4_K need not give its blocks back); on failure
 * g stays the
 * caller's. TCF_ERR_UNSUPPORTED when the dense weights are of another type
 * or a tensor that should be F32 is not. */
tcf_status tcf_bert_load_gguf_mapped(tcf_gguf *g, const char *label, int drop, tcf_bert **out);

/* llama.cpp's GGUF name of a transformers BERT parameter (without the
 * "bert." prefix), e.g. "encoder.layer.3.attention.self.query.weight" ->
 * "blk.3.attn_q.weight", "pooler.dense.bias" -> "cls.bias", "classifier.weight"
 * -> "cls.output.weight". Returns 0 (out unspecified) for names it does not
 * map or that do not fit in cap. */
int tcf_bert_gguf_name(const char *hf, char *out, size_t cap);

/* Pack every dense weight a second time for input gradients (dX = dY W);
 * idempotent. The weight gradients of full fine-tuning are computed by the
 * trainer (src/train/classifier.c), which then updates both packed copies
 * with tcf_bert_set_dense. */
tcf_status tcf_bert_enable_backward(tcf_bert *m);

/* Plain nn.Linear weights (out, in) of layer l's dense layers, unpacked
 * from the forward's packed copies: w_qkv (3C, C) rows [q | k | v], w_ao
 * (C, C), w_fi (I, C), w_fo (C, I). */
void tcf_bert_get_dense(const tcf_bert *m, int l, float *w_qkv, float *w_ao, float *w_fi, float *w_fo);
/* Replace layer l's dense weights by the plain ones given (shapes as
 * tcf_bert_get_dense): packs them again for the forward and, when enabled,
 * for the backward. Full fine-tuning calls it after every optimiser step. */
void tcf_bert_set_dense(tcf_bert *m, int l, const float *w_qkv, const float *w_ao, const float *w_fi,
                        const float *w_fo);

/* Inference with quantized dense weights: every layer's four dense weights
 * become `type` (Q8_0, Q4_0, Q4_1, NF4) and stay so in memory; the f32 copies
 * are released (params is rebuilt without them), and the forward multiplies
 * through tcf_qgemm (bit-identical to the f32 forward with the decoded
 * weights on the AVX2 path). Embeddings, biases, LayerNorms and the pooler
 * stay f32. tcf_bert_get_dense then returns the decoded weights; the backward
 * and tcf_bert_set_dense are unavailable (QLoRA training is not wired here).
 * Fails with TCF_ERR_NOMEM (the model unchanged) or TCF_ERR_ARG (already
 * quantized, or a dimension the format cannot hold: K % 32, NF4 K % 64). */
tcf_status tcf_bert_quantize(tcf_bert *m, tcf_qtype type);
/* The same with per-row int8 dense weights (kern/i8gemm.h): every product
 * rounds each of its input rows to int8 (one scale per row) and sums in
 * integers (faster than the Q8_0 integer path; not exact). */
tcf_status tcf_bert_quantize_i8(tcf_bert *m);

/* Embedding layer for rows [begin, end) of a (B, T) batch flattened to B*T
 * rows: x[r] = LN(word[ids[r]] + pos[r % T] + type[0]), x (B*T, C). */
void tcf_bert_embed_rows(const tcf_bert *m, int T, const int32_t *ids, int64_t begin, int64_t end, float *x);

/* hidden (B, T, C) <- last hidden states of ids (B, T) under mask (B, T).
 * Only the real tokens (mask 1) are computed, packed into one batch of
 * rows; the rows of padding positions are set to 0. */
tcf_status tcf_bert_forward(const tcf_bert *m, int B, int T, const int32_t *ids,
                            const uint8_t *mask, float *hidden, int n_threads);

/* Set m->q8_rows from a tcf_qpath (TCF_ERR_ARG for another value). */
tcf_status tcf_bert_set_qpath(tcf_bert *m, int qpath);

/* The same with a caller-owned workspace of
 * tcf_bert_forward_ws_floats(cfg, B, T, n_threads) floats (nothing is
 * allocated; the workspace cache of m is not touched). */
size_t tcf_bert_forward_ws_floats(const tcf_bert_config *c, int B, int T, int n_threads);
tcf_status tcf_bert_forward_ws(const tcf_bert *m, int B, int T, const int32_t *ids, const uint8_t *mask,
                               float *hidden, int n_threads, float *ws);

/* The last hidden state of each row's first real token only (the [CLS]
 * the classifier's pooler reads), into rows 0..B-1 of `first`, a buffer of
 * B*T*C floats (the rest is scratch): the last layer past its q/k/v
 * product runs on B rows instead of every token. A row without a real
 * token is TCF_ERR_ARG. Same workspace as tcf_bert_forward_ws. */
tcf_status tcf_bert_forward_first_ws(const tcf_bert *m, int B, int T, const int32_t *ids, const uint8_t *mask,
                                     float *first, int n_threads, float *ws);

/* pooled (B, C) from hidden (B, T, C). */
void tcf_bert_pool(const tcf_bert_config *c, int B, int T, const uint8_t *mask, const float *hidden,
                   tcf_pooling pooling, int normalize, float *pooled);

#endif
