/*
 * trainer.h — fine-tune a sequence classifier (LoRA, head only or full
 * fine-tuning: tcf_train_mode) (train), and load
 * the result for evaluation and prediction (run).
 *
 * Decoders (Llama / Qwen2 / Phi-3, model/llama.h) train through the same
 * loop as LlamaForSequenceClassification + PEFT LoRA, optionally on a
 * quantized frozen base (QLoRA); their adapter files are
 * tcf_llama_adapter_save's.
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
 *   train_state.safetensors   the resumable checkpoint (train_state.h): last
 *                    weights, optimiser moments, loop position
 * Every file is written atomically; the weights are the best epoch's (by
 * validation macro-F1). The checkpoint is written every checkpoint_secs /
 * checkpoint_steps and after every epoch; resuming from it gives bit for bit
 * the weights an uninterrupted run would have.
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
/* The learning rate used when tcf_train_opts.lr is 0 (the default): LoRA
 * 1e-3, head 1e-2, full 5e-5 (transformers' TrainingArguments default). */
double tcf_train_default_lr(tcf_train_mode m);

typedef struct {
    const char *model_dir, *train_path, *valid_path, *out_dir;
    int epochs, batch, max_len, lora_r, accum, threads, patience;
    double lr, weight_decay, warmup_ratio, clip, valid_fraction;
    float lora_alpha, label_smoothing;
    float dropout;      /* hidden + classifier dropout (BERT's default 0.1) */
    float attn_dropout; /* on attention probabilities (BERT's default 0.1) */
    float lora_dropout; /* PEFT lora_dropout (default 0) */
    unsigned targets; /* bit k: tcf_lora kind k */
    int use_rslora;
    tcf_lr_kind schedule;
    uint64_t seed;
    tcf_train_mode mode; /* LoRA fields are ignored by the other modes */
    const char *class_weights; /* NULL: none; "balanced": n / (K * count_k) as
                                  scikit-learn; or "LABEL=W,LABEL=W,..." (others 1) */
    const char *init_adapter; /* NULL, or a PEFT adapter directory (PEFT's or
                                 tcf's) to start LoRA training from: its A, B
                                 and head; r, alpha, targets, rsLoRA and the
                                 class count must match the options. Class k
                                 of its head is label k in tcf's (sorted)
                                 label order. */
    int resume;              /* continue out_dir's checkpoint (train_state.h) */
    int checkpoint_steps;    /* also checkpoint every N updates (0: off) */
    double checkpoint_secs;  /* checkpoint when this long since the last (0: off) */
    /* Llama-family decoders (a .gguf file or a llama/qwen2/phi3 directory as
     * model_dir; LoRA mode only, on q k v o gate up down of every layer):
     * the frozen base's format, TCF_LLAMA_F32 (-1), TCF_LLAMA_KEEP (-2, the
     * GGUF's blocks; the default) or a tcf_qtype (QLoRA on q8_0 / q4_0 /
     * q4_1 / nf4); NF4 double quantization; recompute each layer's forward
     * in the backward (activation memory of one layer; default on). */
    int quant, double_quant, recompute;
    /* what a decoder's head reads: TCF_POOL_LAST (the default, as
     * LlamaForSequenceClassification) or TCF_POOL_MEAN (the mean over the
     * real tokens); encoders refuse anything but the default */
    tcf_pooling pooling;
    char *owned;             /* strings owned by tcf_train_opts_from_run */
} tcf_train_opts;

void tcf_train_defaults(tcf_train_opts *o);
/* Options of the run in `dir` (its tcf_run.json "train_config", as the first
 * `tcf train` wrote it) with out_dir = dir and resume = 1, for `tcf train
 * --resume DIR`. Free with tcf_train_opts_release. */
tcf_status tcf_train_opts_from_run(const char *dir, tcf_train_opts *o);
void tcf_train_opts_release(tcf_train_opts *o);
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
