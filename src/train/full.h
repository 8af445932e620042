/*
 * full.h — the two training modes besides LoRA: full fine-tuning (every
 * base weight trainable) and head only (a linear probe), and their files in
 * a run directory.
 *
 * Full fine-tuning keeps a plain (out, in) master copy of every dense weight
 * (the encoder itself only holds packed copies) and the gradient of every
 * base tensor; embeddings, biases, LayerNorms and the pooler are trained in
 * place in the tcf_bert. After each optimiser step tcf_full_sync packs the
 * masters into the encoder again. The head (classifier) stays in a tcf_lora
 * with no LoRA modules, in both modes.
 *
 * Files (safetensors, F32, transformers' BertForSequenceClassification
 * names, written atomically):
 *   full: DIR/model.safetensors  "bert.embeddings.word_embeddings.weight",
 *         ..., "bert.pooler.dense.bias", "classifier.weight" [K, C],
 *         "classifier.bias" [K]; DIR/config.json = the base's config.json
 *         with architectures ["BertForSequenceClassification"], id2label,
 *         label2id; the base's tokenizer files (tokenizer.json, vocab.txt,
 *         tokenizer_config.json, special_tokens_map.json, those present).
 *         The directory loads with tcf_bert_load / tcf_model_load (and
 *         with transformers' from_pretrained).
 *   head: DIR/classifier.safetensors  "classifier.weight", "classifier.bias"
 *         only (the base model is unchanged).
 */
#ifndef TCF_FULL_H
#define TCF_FULL_H

#include "model/bert.h"
#include "train/classifier.h"
#include "train/lora.h"

typedef struct tcf_full tcf_full;

/* Set up full fine-tuning of m (which must stay valid, at the same address,
 * until tcf_full_free; tcf_full_sync writes to it). Enables m's backward
 * weights. Gradients start at zero. Caller frees with tcf_full_free. */
tcf_status tcf_full_init(tcf_full **out, tcf_bert *m);
void tcf_full_free(tcf_full *f);
/* The gradient buffers, for tcf_clf_ws_set_mode. */
const tcf_clf_base_grads *tcf_full_grads(const tcf_full *f);
/* Fill out (capacity cap) with every base tensor as a trainable parameter
 * under its BertForSequenceClassification name ("bert.encoder.layer.0.
 * attention.self.query.weight", ...; embeddings, then layers, then pooler);
 * returns the count (103 for a 6-layer model with a pooler), or -1 if cap is
 * too small. */
int tcf_full_params(tcf_full *f, tcf_param *out, int cap);
void tcf_full_zero_grad(tcf_full *f);
/* Pack the dense master weights into the encoder (after each optimiser
 * step). */
void tcf_full_sync(tcf_full *f);

/* Write model.safetensors and config.json of a full run to dir (created if
 * missing): the weights first, then the config. base_dir holds the base
 * config.json; labels (n_classes = head->n_classes names) go to id2label. */
tcf_status tcf_full_save(const tcf_full *f, const tcf_lora *head, const char *dir, const char *base_dir,
                         const char *const *labels);
/* Write DIR/classifier.safetensors from l's head (dir created if missing). */
tcf_status tcf_head_save(const tcf_lora *l, const char *dir);
/* Read "classifier.weight" (n_classes, hidden) and "classifier.bias" from a
 * safetensors file into l's head (shapes must match l). */
tcf_status tcf_head_load(const char *path, tcf_lora *l);

#endif /* TCF_FULL_H */
