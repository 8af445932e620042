/*
 * infer.h — internals of tcf_classifier (include/tcf.h): a sequence
 * classifier ready for inference, shared by the loaders of its two sources
 * (a run directory, src/model/infer.c; an exported .gguf file) and by the
 * exporter.
 *
 * The classifier is BertForSequenceClassification's inference path:
 * logits = head(tanh(pooler(h[:, 0]))) with h the encoder's last hidden
 * states; LoRA adapters are already merged into the encoder's dense weights
 * (W + scaling * B A), so the encoder is a plain tcf_bert.
 */
#ifndef TCF_INFER_H
#define TCF_INFER_H

#include "model/bert.h"
#include "train/llama_lora.h"

#include <pthread.h>

/* Per-call scratch for up to max_batch texts of max_len tokens. */
typedef struct tcf_clf_scratch {
    struct tcf_clf_scratch *next;
    int32_t *ids, *bids;   /* (max_batch, max_len) */
    int *len, *order;      /* (max_batch) */
    uint8_t *bmask;        /* (max_batch, max_len) */
    float *hidden;         /* (max_batch, max_len, C) */
    float *pooled;         /* (max_batch, C) */
    float *logits;         /* (max_batch, K) */
    float *ws;             /* tcf_bert_forward_ws_floats(max_batch, max_len) */
} tcf_clf_scratch;

struct tcf_classifier {
    tcf_bert *m;              /* LoRA merged; pooler required (NULL for a decoder) */
    /* or a decoder (LlamaForSequenceClassification): the base as trained
     * (f32 or quantized) with its LoRA adapters and score head unmerged */
    tcf_llama *dm;
    tcf_llama_lora *dl;       /* NULL for an exported decoder (LoRA merged into
                                 dm; head in head_w (K, C), no bias; pooling) */
    tcf_pooling pooling;
    tcf_tokenizer *tok;
    int n_classes;            /* K */
    float *head_w, *head_b;   /* (K, C), (K): the `classifier` linear */
    char **labels;            /* (K) NUL-terminated, owned */
    int max_len, max_batch, n_threads;
    char *run_json;           /* provenance: the run's tcf_run.json text (may be NULL) */
    int has_abstain;          /* the export holds tcf.abstain_below (0: none; run dirs) */
    double abstain_below;     /* its value, in [0, 1] */
    char *source;             /* the path it was loaded from */
    /* free scratch list; calls take one (or allocate one) and give it back */
    pthread_mutex_t lock;
    int lock_init;
    tcf_clf_scratch *free_list;
};

/* Finish a classifier whose m, tok, n_classes, head_w/b, labels and
 * max_len are set: applies opts (threads, batch, max_len cap) and sets up
 * the scratch pool. On failure the caller still owns c (free it with
 * tcf_classifier_free). */
tcf_status tcf_classifier_finish(tcf_classifier *c, const tcf_classifier_opts *opts);

/* Load an exported one-file classifier (src/model/export.c). */
tcf_status tcf_classifier_load_gguf(const char *path, const tcf_classifier_opts *opts,
                                    tcf_classifier **out);

#endif
