/*
 * classifier.h — a BERT-family sequence classifier with LoRA adapters:
 * forward with saved activations, loss, backward to the adapters and head.
 *
 * Architecture: transformers' BertForSequenceClassification wrapped by PEFT
 * (docs/PEFT_NOTES.md): h = BertModel(ids, mask) with LoRA on the wrapped
 * dense layers; pooled = tanh(pooler.dense(h[:, 0])); logits =
 * classifier(pooled); loss = mean cross-entropy. The base model and the pooler
 * are frozen; gradients go to the LoRA A/B and the classifier (head).
 * Not yet: dropout (hidden, attention, classifier, lora_dropout): the
 * training forward runs with all of them off.
 */
#ifndef TCF_CLASSIFIER_H
#define TCF_CLASSIFIER_H

#include "model/bert.h"
#include "train/lora.h"

typedef struct tcf_clf_ws tcf_clf_ws;

/* Workspace for batches up to B x T (activations saved for the backward).
 * Caller frees with tcf_clf_ws_free. */
tcf_status tcf_clf_ws_init(tcf_clf_ws **out, const tcf_bert *m, const tcf_lora *l, int B, int T,
                           int n_threads);
void tcf_clf_ws_free(tcf_clf_ws *ws);

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
