/*
 * llama.h — Llama-family decoders (Llama, Qwen2, Phi-3) as feature
 * extractors for sequence classification: weights, load, forward, pooling
 * (internal API).
 */
#ifndef TCF_LLAMA_H
#define TCF_LLAMA_H

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
} tcf_llama_layer;

typedef struct tcf_llama {
    tcf_llama_config cfg;
    float *params;     /* every parameter, one allocation */
    int64_t n_params;
    float *wte;        /* (V, C) embed_tokens */
    float *out_norm;   /* (C) the final norm */
    tcf_llama_layer *layer; /* (L) */
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
void tcf_llama_free(tcf_llama *m);

/* Pack every dense weight a second time for input gradients (dX = dY W);
 * idempotent. */
tcf_status tcf_llama_enable_backward(tcf_llama *m);

/* hidden (B, T, C) <- final-norm hidden states of ids (B, T) under mask
 * (B, T): causal attention over the real tokens only; a token's position is
 * the number of real tokens before it, so left and right padding give the
 * same numbers as the row alone. Pad rows' outputs are unspecified.
 * Deterministic for any thread count. */
tcf_status tcf_llama_forward(const tcf_llama *m, int B, int T, const int32_t *ids,
                             const uint8_t *mask, float *hidden, int n_threads);

/* pooled (B, C) from hidden (B, T, C): TCF_POOL_LAST the last real token
 * (LlamaForSequenceClassification), TCF_POOL_MEAN the mean over real
 * tokens, TCF_POOL_CLS the first real token; normalize: L2. */
void tcf_llama_pool(int C, int B, int T, const uint8_t *mask, const float *hidden,
                    tcf_pooling pooling, int normalize, float *pooled);

#endif
