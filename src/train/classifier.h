/*
 * classifier.h — a BERT-family sequence classifier with LoRA adapters:
 * forward with saved activations, loss, backward to the adapters and head.
 *
 * Architecture: transformers' BertForSequenceClassification wrapped by PEFT
 * (docs/PEFT_NOTES.md): h = BertModel(ids, mask) with LoRA on the wrapped
 * dense layers; pooled = tanh(pooler.dense(h[:, 0])); logits =
 * classifier(pooled); loss = mean cross-entropy. The base model and the pooler
 * are frozen; gradients go to the LoRA A/B and the classifier (head).
 * Dropout (training forwards only, i.e. with backward set), as
 * BertForSequenceClassification + PEFT place it: hidden dropout on the
 * embeddings output and on the attention-output and output dense results
 * before their residual adds; classifier dropout on the pooled vector;
 * lora_dropout on each LoRA module's input (its own mask per module);
 * attention-probs dropout on each layer's softmax output (BertSelfAttention).
 * Masks come from tcf_dropout_* keyed by (seed, forward counter, site), so a
 * run is reproducible for a seed at any thread count.
 *
 * Two other training modes share this forward (tcf_clf_ws_set_mode):
 *  - head only (a linear probe): the backward stops after the head's
 *    gradients; nothing flows into the encoder.
 *  - full fine-tuning: with a tcf_clf_base_grads set, the backward also
 *    accumulates the gradient of every base weight (embeddings incl. their
 *    LayerNorm, every dense weight and bias, both LayerNorms per layer, the
 *    pooler). Usually with an adapter that has no LoRA modules; the LoRA
 *    path's arithmetic is the same either way (the extra work only adds
 *    dW/db/dgamma/dbeta terms and never changes an input gradient).
 */
#ifndef TCF_CLASSIFIER_H
#define TCF_CLASSIFIER_H

#include "model/bert.h"
#include "train/lora.h"

typedef struct tcf_clf_ws tcf_clf_ws;

typedef struct {
    float hidden, classifier, lora; /* dropout probabilities; 0 = off */
    float attn;                     /* on the attention probabilities */
    uint64_t seed;
} tcf_clf_dropout;

/* Gradients of the base model's weights in Hugging Face layout (nn.Linear
 * weights (out, in), plain, not packed), shapes as in tcf_bert. Every
 * pointer must be set. */
typedef struct {
    float *qkv_w;        /* (3C, C): rows [query | key | value] */
    float *qkv_b;        /* (3C) */
    float *ao_w, *ao_b;  /* (C, C), (C) */
    float *ln1_g, *ln1_b;/* (C) */
    float *fi_w, *fi_b;  /* (I, C), (I) */
    float *fo_w, *fo_b;  /* (C, I), (C) */
    float *ln2_g, *ln2_b;/* (C) */
} tcf_clf_layer_grads;

typedef struct {
    float *wte, *wpe, *wtt;     /* (V, C), (P, C), (type_vocab, C) */
    float *emb_ln_g, *emb_ln_b; /* (C) */
    float *pool_w, *pool_b;     /* (C, C), (C) */
    tcf_clf_layer_grads *layer; /* (L) */
} tcf_clf_base_grads;

/* Workspace for batches up to B x T (activations saved for the backward).
 * Caller frees with tcf_clf_ws_free. */
tcf_status tcf_clf_ws_init(tcf_clf_ws **out, const tcf_bert *m, const tcf_lora *l, int B, int T,
                           int n_threads);
void tcf_clf_ws_free(tcf_clf_ws *ws);
/* Dropout for the training forwards that follow (default: all off). */
void tcf_clf_ws_set_dropout(tcf_clf_ws *ws, const tcf_clf_dropout *d);
/* The training-forward counter that keys the dropout masks (the next
 * training forward uses n + 1). A resumed run restores it; tests rewind it to
 * replay a forward with the same masks. */
uint64_t tcf_clf_ws_calls(const tcf_clf_ws *ws);
void tcf_clf_ws_set_calls(tcf_clf_ws *ws, uint64_t n);

/* Training mode of the backwards that follow: head_only = 1 stops after the
 * head's gradients; base (or NULL) receives the base weights' gradients
 * (+=; the caller zeroes them with the adapter's). Default: LoRA only (0,
 * NULL). The ws keeps the pointer: base must outlive its use. Allocates the
 * scratch the weight gradients need (TCF_ERR_NOMEM). */
tcf_status tcf_clf_ws_set_mode(tcf_clf_ws *ws, int head_only, const tcf_clf_base_grads *base);

/* Forward a padded batch: ids, mask (B, T). logits (B, n_classes) written.
 * If labels (B) is given: *loss = mean cross-entropy (class weights and label
 * smoothing as tcf_cross_entropy; NULL / 0 for none) and, if `backward`, the
 * gradients of that loss are ADDED to l's gradient buffers (the caller zeroes
 * them between optimiser steps; accumulation over micro-batches is just not
 * zeroing). m must have tcf_bert_enable_backward done for backward. */
tcf_status tcf_clf_forward(const tcf_bert *m, tcf_lora *l, tcf_clf_ws *ws, int B, int T,
                           const int32_t *ids, const uint8_t *mask, const int32_t *labels,
                           const float *class_w, float label_smoothing, int backward,
                           float *logits, float *loss);

#endif
