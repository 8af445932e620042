/*
 * train_state.h — the resumable training checkpoint of a run directory
 * (RUN/train_state.safetensors): every trainable tensor, AdamW's moments and
 * step count, and the loop's position and bookkeeping, so that `tcf train
 * --resume RUN/` after a kill finishes with exactly the weights of an
 * uninterrupted run.
 *
 * File: safetensors, F32 tensors "w:NAME", "m:NAME", "v:NAME" per trainable
 * tensor (NAME as tcf_param.name), scalars in "__metadata__" (format
 * "tcf-train-state", version "1", integers in decimal, doubles as C99 hex
 * floats so they round-trip exactly; "history" is the per-epoch metrics JSON
 * array). Written atomically: a kill leaves the previous checkpoint or the new
 * one, never a mix.
 */
#ifndef TCF_TRAIN_STATE_H
#define TCF_TRAIN_STATE_H

#include "train/lora.h"
#include "train/optim.h"

#include <stdint.h>

#define TCF_TRAIN_STATE_FILE "train_state.safetensors"

typedef struct {
    int epoch;              /* the epoch to run (1-based) */
    int batch_index;        /* its next batch */
    int64_t step;           /* optimizer updates done (= AdamW's step count) */
    uint64_t rng_epoch;     /* the shuffling generator before that epoch's plan */
    uint64_t dropout_calls; /* training forwards done (keys the dropout masks) */
    double best_f1;         /* best validation macro-F1 so far (-1: none) */
    int best_epoch, since_best;
    double loss_sum;        /* that epoch's running training loss so far */
    int loss_n;
    uint64_t data_hash;     /* of the tokenized train + valid sets and labels */
    int finished;           /* 1: training ended (last epoch or early stop) */
    char *history;          /* JSON array text; borrowed on save, owned (free) on load */
} tcf_train_state;

/* Write the checkpoint of params[0 .. np) and opt (np tensors, the same
 * array the optimiser was set up with) to `path`, atomically. */
tcf_status tcf_train_state_save(const char *path, const tcf_train_state *s, const tcf_param *params, int np,
                                tcf_adamw *opt);
/* Read a checkpoint into s, the tensors' values and opt's moments and step.
 * Every tensor must be present with the same element count; otherwise (or on
 * a malformed file) an error naming the file and the tensor or key, and
 * nothing is changed. Caller frees s->history. */
tcf_status tcf_train_state_load(const char *path, tcf_train_state *s, const tcf_param *params, int np,
                                tcf_adamw *opt);

#endif
