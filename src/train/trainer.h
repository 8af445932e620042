/*
 * trainer.h — fine-tune a sequence classifier (LoRA, head only or full
 * fine-tuning: tcf_train_mode) (train), and load
 * the result for evaluation and prediction (run).
 *
 * A run directory holds:
 *   adapter_config.json, adapter_model.safetensors   the LoRA adapters and the
 *                                                    head, in PEFT's format
 *   tcf_run.json     base model path, label names, max length, the training
 *                    configuration (with "mode") and the metrics per epoch
 * or, in place of the adapter, by training mode (tcf_train_mode; the files
 * are described in src/train/full.h):
 *   head: classifier.safetensors (the head only; the base is unchanged)
 *   full: model.safetensors + config.json (the whole fine-tuned
 *         BertForSequenceClassification)
 * Every file is written atomically; the weights are the best epoch's (by
 * validation macro-F1).
 */
#ifndef TCF_TRAINER_H
#define TCF_TRAINER_H

#include "train/optim.h"

#include <stdio.h>

typedef enum {
    TCF_MODE_LORA = 0, /* LoRA adapters + the head (default) */
    TCF_MODE_HEAD,     /* the head only, on a frozen encoder (linear probe) */
    TCF_MODE_FULL,     /* every weight: embeddings, encoder, pooler, head */
    TCF_MODE_KINDS
} tcf_train_mode;

/* "lora", "head", "full"; NULL if out of range. */
const char *tcf_train_mode_name(tcf_train_mode m);
/* Parse those names; -1 if unknown. */
int tcf_train_mode_parse(const char *name);

typedef struct {
    const char *model_dir, *train_path, *valid_path, *out_dir;
    int epochs, batch, max_len, lora_r, accum, threads, patience;
    double lr, weight_decay, warmup_ratio, clip, valid_fraction;
    float lora_alpha, label_smoothing;
    float dropout;      /* hidden + classifier dropout (BERT's default 0.1) */
    float lora_dropout; /* PEFT lora_dropout (default 0) */
    unsigned targets; /* bit k: tcf_lora kind k */
    int use_rslora;
    tcf_lr_kind schedule;
    uint64_t seed;
    tcf_train_mode mode; /* LoRA fields are ignored by the other modes */
} tcf_train_opts;

void tcf_train_defaults(tcf_train_opts *o);
/* Train; progress and summaries go to `log` (a progress bar when it is a
 * terminal). A non-finite loss or gradient stops training with
 * TCF_ERR_DIVERGED; the best checkpoint so far stays in out_dir. */
tcf_status tcf_train_run(const tcf_train_opts *o, FILE *log);

typedef struct tcf_run tcf_run;
/* Load a run directory for inference. Caller frees with tcf_run_free. */
tcf_status tcf_run_load(const char *dir, int n_threads, tcf_run **out);
void tcf_run_free(tcf_run *r);
int tcf_run_n_classes(const tcf_run *r);
const char *const *tcf_run_labels(const tcf_run *r);
/* Class probabilities (n, n_classes) of n texts. On a text that fails to
 * tokenize the error names it as "text N: ...". */
tcf_status tcf_run_predict(tcf_run *r, int n, const char *const *texts, float *probs);

#endif
