/*
 * llama_lora.h — LoRA adapters on a Llama-family decoder classifier
 * (LlamaForSequenceClassification + PEFT LoRA): one forward + backward of
 * the cross-entropy, giving the gradients of every adapter and of the
 * `score` head. The base weights and norms stay frozen; the base may be f32
 * or quantized (tcf_llama.quant: QLoRA, the input gradients through
 * tcf_qgemm_bwd). The only dropout is PEFT's lora_dropout, on each
 * adapter's input (LlamaForSequenceClassification has none at its
 * defaults).
 */
#ifndef TCF_LLAMA_LORA_H
#define TCF_LLAMA_LORA_H

#include "model/llama.h"
#include "train/lora.h"

/* Target modules, in PEFT's names: q_proj k_proj v_proj o_proj gate_proj
 * up_proj down_proj. */
enum { TCF_LL_Q, TCF_LL_K, TCF_LL_V, TCF_LL_O, TCF_LL_GATE, TCF_LL_UP, TCF_LL_DOWN, TCF_LL_N };
extern const char *const tcf_llama_lora_module_names[TCF_LL_N];

typedef struct {
    int r, layers;
    float scale;      /* alpha / r */
    /* module m of layer l is index l * TCF_LL_N + m; every one is present */
    float **A, **B;   /* A (r, in), B (out, r) as PEFT's lora_A / lora_B weights */
    float **dA, **dB; /* gradients, same shapes, accumulated (+=) */
    float *mem;
    /* the `score` head (tcf_llama_lora_init_head): (n_labels, C), no bias */
    int n_labels, hidden;
    /* what the head reads: TCF_POOL_LAST (the default: the final hidden
     * state of each row's last real token, as LlamaForSequenceClassification)
     * or TCF_POOL_MEAN (the mean of the final hidden states over the real
     * tokens) */
    tcf_pooling pooling;
    float dropout;     /* the lora_dropout it was trained with (adapter_config.json) */
    float *score, *dscore;
    char (*names)[96]; /* PEFT names of tcf_llama_lora_params */
    float *ws;         /* training steps' workspace, reused across steps */
    size_t ws_floats;
} tcf_llama_lora;

/* in / out features of module `mod` (nn.Linear in_features / out_features). */
void tcf_llama_lora_dims(const tcf_llama_config *c, int mod, int *in, int *out);
/* Adapters of rank r on every module of every layer, zero-filled (the
 * caller sets A and B). */
tcf_status tcf_llama_lora_init(const tcf_llama_config *c, int r, float alpha, tcf_llama_lora **out);
void tcf_llama_lora_free(tcf_llama_lora *lo);
/* Allocate the score head (n_labels, C) and its gradient, zero-filled. */
tcf_status tcf_llama_lora_init_head(tcf_llama_lora *lo, int n_labels, int hidden);
/* PEFT's initial state: A kaiming-uniform, B zero, score normal(0, 0.02)
 * (transformers' initializer_range), from splitmix64(seed). */
void tcf_llama_lora_init_default(tcf_llama_lora *lo, uint64_t seed);
/* Every trainable tensor for the optimiser, under PEFT's saved names
 * ("base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight", ...,
 * "base_model.model.score.weight"): per layer and module A then B, then
 * the score head (if allocated). Returns the count. */
int tcf_llama_lora_params(tcf_llama_lora *lo, tcf_param *out, int cap);
void tcf_llama_lora_zero_grad(tcf_llama_lora *lo);
/* Row o of module idx's merged update: d (in) = (alpha / r) (B A)[o], summed
 * over the rank in order (what merging adds to W's row o). */
void tcf_llama_lora_delta_row(const tcf_llama_lora *lo, int idx, int o, float *d);

/* One forward + backward on a padded batch:
 *   pooled = final hidden state of each row's last real token (or their
 *            mean over the real tokens: lo->pooling),
 *   logits (B, n_labels) = pooled score^T (no bias), loss = mean CE(labels).
 * Adds d loss / d A, B to lo->dA, lo->dB and d loss / d score to dscore
 * (n_labels, C) (may be NULL). Calls tcf_llama_enable_backward on m.
 * Positions as tcf_llama_forward (real tokens counted). logits may be NULL. */
tcf_status tcf_llama_lora_grad(tcf_llama *m, tcf_llama_lora *lo, const float *score, float *dscore,
                               int n_labels, int B, int T, const int32_t *ids, const uint8_t *mask,
                               const int32_t *labels, float *logits, float *loss, int n_threads);

/* The same step with options: class weights and label smoothing as
 * tcf_cross_entropy (NULL opts: none, no recompute); recompute trades one
 * more forward for activations of one layer instead of all (the gradients
 * are the same bits). lora_dropout p > 0 drops each module's LoRA input
 * (PEFT's lora_dropout, train mode): the masks depend only on
 * (dropout_seed, dropout_step, layer, module, position among the batch's
 * real tokens), not on the thread count or recompute; pass a new step per
 * forward. labels are required. */
typedef struct {
    const float *class_w;  /* (n_labels) or NULL */
    float label_smoothing;
    int recompute;
    float lora_dropout;    /* [0, 1) */
    uint64_t dropout_seed, dropout_step;
} tcf_llama_lora_step_opts;
tcf_status tcf_llama_lora_step(tcf_llama *m, tcf_llama_lora *lo, const float *score, float *dscore, int n_labels,
                               int B, int T, const int32_t *ids, const uint8_t *mask, const int32_t *labels,
                               const tcf_llama_lora_step_opts *so, float *logits, float *loss, int n_threads);

/* Forward only: logits (B, n_labels) of a padded batch, the activations of
 * one layer at a time (inference and validation). Thread-safe for
 * concurrent calls on one model and adapter. */
tcf_status tcf_llama_lora_logits(const tcf_llama *m, const tcf_llama_lora *lo, const float *score, int n_labels,
                                 int B, int T, const int32_t *ids, const uint8_t *mask, float *logits,
                                 int n_threads);

#endif
