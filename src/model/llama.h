/*
 * llama.h — Llama-family decoders (Llama, Qwen2, Phi-3) as feature
 * extractors for sequence classification: weights, load, forward, pooling
 * (internal API).
 */
#ifndef TCF_LLAMA_H
#define TCF_LLAMA_H

#include "kern/qgemm.h"
#include "kern/i8gemm.h"
#include "tcf.h"

#include <stdatomic.h>

typedef enum { TCF_ARCH_LLAMA = 0, TCF_ARCH_QWEN2, TCF_ARCH_PHI3 } tcf_llama_arch;

typedef struct {
    tcf_llama_arch arch;
    int vocab, hidden, layers, heads, kv_heads, head_dim, inter, max_pos;
    float rms_eps;
    double rope_theta;
    int qkv_bias;  /* q/k/v projections have biases (Qwen2) */
    int pad_id;    /* pad_token_id, -1 if none */
} tcf_llama_config;

/* Dense weights are kept as W^T (in, out) packed for tcf_gemm_packed. With
 * Q = heads * head_dim and K = kv_heads * head_dim: */
typedef struct {
    float *attn_norm;  /* (C) input_layernorm */
    float *qkv_wp;     /* W^T (C, Q + 2K) packed: columns [q | k | v] */
    float *qkv_b;      /* (Q + 2K), NULL without biases */
    float *o_wp;       /* W^T (Q, C) packed */
    float *ffn_norm;   /* (C) post_attention_layernorm */
    float *gu_wp;      /* W^T (C, 2I) packed: columns [gate | up] */
    float *down_wp;    /* W^T (I, C) packed */
    /* For backward passes (tcf_llama_enable_backward): each weight W (out,
     * in) packed as the right-hand side of dY (M, out) @ W; NULL until then. */
    float *qkv_bp, *o_bp, *gu_bp, *down_bp;
    /* A quantized model (tcf_llama.quant >= 0) has the same four weights as
     * W (out, in) in block format instead (the *_wp / *_bp are NULL):
     * qkv (Q + 2K, C), o (C, Q), gu (2I, C), down (C, I). */
    tcf_qmat qkv_q, o_q, gu_q, down_q;
    /* After tcf_llama_quantize_i8 (tcf_llama.i8): the same four weights as
     * per-row int8 (kern/i8gemm.h) instead of the blocks. */
    tcf_i8mat qkv_i8, o_i8, gu_i8, down_i8;
} tcf_llama_layer;

/* The four dense weights of a layer, for tcf_llama_linear. */
enum { TCF_LW_QKV = 0, TCF_LW_O, TCF_LW_GU, TCF_LW_DOWN };

/* How tcf_llama_load_with stores the dense weights. */
enum {
    TCF_LLAMA_F32 = -1,  /* f32, packed for tcf_gemm_packed (tcf_llama_load) */
    TCF_LLAMA_KEEP = -2, /* the GGUF's own block type (Q8_0 / Q4_0 / Q4_1 of
                            blk.0.attn_q), blocks copied as they are */
};
typedef struct {
    int quant;        /* TCF_LLAMA_F32, TCF_LLAMA_KEEP or a tcf_qtype: the
                         frozen base in that block format (QLoRA); tensors of
                         another type are dequantized and re-quantized */
    int double_quant; /* NF4: double-quantize the absmax (bitsandbytes'
                         compress_statistics) */
} tcf_llama_load_opts;

typedef struct tcf_llama {
    tcf_llama_config cfg;
    float *params;     /* every parameter, one allocation */
    int64_t n_params;
    float *wte;        /* (V, C) embed_tokens, or NULL when wte_q holds it */
    int quant;         /* -1: f32 dense weights; else the tcf_qtype of every
                          layer's qkv_q, o_q, gu_q, down_q */
    tcf_qmat wte_q;    /* quantized models loaded from a GGUF whose
                          token_embd is Q8_0 / Q4_0 / Q4_1: its blocks (rows
                          decoded on lookup); else unused (data NULL) */
    float *out_norm;   /* (C) the final norm */
    tcf_llama_layer *layer; /* (L) */
    int i8;            /* the layers' dense weights are per-row int8
                          (tcf_llama_quantize_i8): inference only */
    float *bwd_mem;    /* the *_bp weights, one allocation */
    struct tcf_llama_ws {
        size_t cap; /* floats */
        float *data;
    } *_Atomic ws_cache; /* one cached forward workspace (see bert.h) */
} tcf_llama;

/* True if `path` is something tcf_llama_load reads: a .gguf file, or a
 * directory whose config.json has model_type llama, qwen2 or phi3. */
int tcf_llama_handles(const char *path);

/* Load a GGUF file (general.architecture "llama"; tensors dequantized to
 * f32, q/k rows un-permuted from llama.cpp's RoPE layout) or a Hugging Face
 * directory (config.json + model.safetensors). */
tcf_status tcf_llama_load(const char *path, tcf_llama **out);
/* The same from an open GGUF handle; `label` names it in errors. The
 * weights are copied: g may be freed after. */
tcf_status tcf_llama_load_gguf(const tcf_gguf *g, const char *label, tcf_llama **out);
/* Load with the dense weights stored as o says (NULL: f32). Only the
 * tensors of one layer are ever held in f32 at a time, so a 4-bit load
 * peaks near the 4-bit size. TCF_ERR_UNSUPPORTED for KEEP on a file whose
 * attn_q is not Q8_0/Q4_0/Q4_1, TCF_ERR_ARG for a row width the format
 * cannot hold (NF4 needs in % 64 == 0, the ggml types % 32). */
tcf_status tcf_llama_load_with(const char *path, const tcf_llama_load_opts *o, tcf_llama **out);
void tcf_llama_free(tcf_llama *m);
/* Bytes of the weights in memory (f32 or blocks; embeddings included). */
size_t tcf_llama_weight_bytes(const tcf_llama *m);

/* Y (M, out) = X (M, in) W^T of dense weight `which` (TCF_LW_*) of layer l
 * [+ its bias: q/k/v biases for TCF_LW_QKV], or Y += that if accumulate;
 * leading dimensions are the natural widths (in for X, out for Y). f32
 * models use tcf_gemm_packed, quantized ones tcf_qgemm (exact decode). */
void tcf_llama_linear(const tcf_llama *m, int l, int which, int M, const float *X, float *Y, int accumulate,
                      int n_threads);
/* dX (M, in) = dY (M, out) W [+ dX]: the input gradient (f32 models need
 * tcf_llama_enable_backward first; quantized ones use tcf_qgemm_bwd). */
void tcf_llama_linear_bwd(const tcf_llama *m, int l, int which, int M, const float *dY, float *dX, int accumulate,
                          int n_threads);
/* x (n, C) <- the embeddings of ids[0 .. n) (decoded rows if quantized). */
void tcf_llama_embed_rows(const tcf_llama *m, const int32_t *ids, int64_t n, float *x);

/* Inference on per-row int8 dense weights (kern/i8gemm.h: each product's
 * input rows rounded to int8, integer sums; faster at small batches, not
 * exact): every layer's block weights are decoded and re-rounded to int8
 * per row, and the blocks freed. Embeddings, norms and biases are kept.
 * TCF_ERR_UNSUPPORTED for an f32 model (its weights share one allocation
 * with the rest) or one already int8; backward passes refuse the result. */
tcf_status tcf_llama_quantize_i8(tcf_llama *m);
/* The same, with adjust(ctx, layer, which, w, N, K) called on each decoded
 * weight (TCF_LW_QKV ...; w (N, K) in f32, rows as tcf_llama_linear's
 * output) before it is rounded: e.g. LoRA merged in (tcf_classifier). An
 * error from adjust stops the conversion (the model is left as it was). */
typedef tcf_status (*tcf_llama_i8_adjust)(void *ctx, int layer, int which, float *w, int N, int K);
tcf_status tcf_llama_quantize_i8_with(tcf_llama *m, tcf_llama_i8_adjust adjust, void *ctx);

/* Pack every dense weight a second time for input gradients (dX = dY W);
 * idempotent; nothing to do for a quantized model. */
tcf_status tcf_llama_enable_backward(tcf_llama *m);

/* hidden (B, T, C) <- final-norm hidden states of ids (B, T) under mask
 * (B, T): causal attention over the real tokens only; a token's position is
 * the number of real tokens before it, so left and right padding give the
 * same numbers as the row alone. Only the real tokens are computed (packed
 * rows); pad rows' outputs are 0. Deterministic for any thread count. */
tcf_status tcf_llama_forward(const tcf_llama *m, int B, int T, const int32_t *ids,
                             const uint8_t *mask, float *hidden, int n_threads);

/* The packed rows of a (B, T) batch (off from tcf_pack_offsets, kern.h):
 * pids (NR) the real tokens' ids, pos (NR) each one's position (the number
 * of real tokens before it in its sequence). */
void tcf_llama_pack_ids(int B, int T, const int32_t *ids, const uint8_t *mask, const int32_t *off, int32_t *pids,
                        int32_t *pos);

/* pooled (B, C) from hidden (B, T, C): TCF_POOL_LAST the last real token
 * (LlamaForSequenceClassification), TCF_POOL_MEAN the mean over real
 * tokens, TCF_POOL_CLS the first real token; normalize: L2. */
void tcf_llama_pool(int C, int B, int T, const uint8_t *mask, const float *hidden,
                    tcf_pooling pooling, int normalize, float *pooled);

#endif
