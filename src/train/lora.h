/*
 * lora.h — LoRA adapters and the trainable classification head of a
 * sequence classifier (internal API shared by the model, the optimiser and
 * the adapter reader/writer).
 *
 * Semantics follow PEFT 0.21 (docs/PEFT_NOTES.md): a wrapped nn.Linear
 * computes y = x W^T + b + scaling * (x A^T) B^T with A (r, in), B (out, r),
 * scaling = alpha / r, or alpha / sqrt(r) with rsLoRA. Module names are the
 * Hugging Face module paths of BertForSequenceClassification, e.g.
 * "bert.encoder.layer.0.attention.self.query"; the head is "classifier".
 */
#ifndef TCF_LORA_H
#define TCF_LORA_H

#include "tcf.h"

#include <stdint.h>

/* A trainable tensor and its gradient, as the optimiser sees it. */
typedef struct {
    const char *name; /* PEFT parameter name without the adapter name, e.g.
                         "base_model.model.bert.encoder.layer.0.attention.self.query.lora_A.weight" */
    float *w;         /* (n) values */
    float *g;         /* (n) gradient, same layout */
    int64_t n;
    int ndim;
    int64_t shape[2];
} tcf_param;

typedef struct {
    char name[128]; /* module path, e.g. "bert.encoder.layer.3.output.dense" */
    int layer;      /* encoder layer index */
    int kind;       /* TCF_LORA_QUERY ... TCF_LORA_OUTPUT */
    int in, out, r;
    float *A, *B;   /* (r, in), (out, r) */
    float *dA, *dB; /* gradients, same shapes */
} tcf_lora_module;

enum {
    TCF_LORA_QUERY = 0,
    TCF_LORA_KEY,
    TCF_LORA_VALUE,
    TCF_LORA_ATTN_OUT,     /* attention.output.dense */
    TCF_LORA_INTERMEDIATE, /* intermediate.dense */
    TCF_LORA_OUTPUT,       /* output.dense */
    TCF_LORA_KINDS
};

/* Short target names as PEFT's target_modules list spells them, by kind. */
extern const char *const tcf_lora_kind_names[TCF_LORA_KINDS];

typedef struct {
    int r;
    float alpha, dropout;
    int use_rslora;
    float scaling;          /* alpha / r or alpha / sqrt(r) */
    unsigned targets;       /* bit k set: modules of kind k are wrapped */
    int n_layers, hidden, inter;
    int n_modules;
    tcf_lora_module *mod;   /* (n_modules), layer-major, kinds in enum order */
    int n_classes;
    float *head_w, *head_b; /* (n_classes, hidden), (n_classes) */
    float *d_head_w, *d_head_b;
    float *mem;             /* every value and gradient above, one allocation */
} tcf_lora;

/* Allocate adapters for `targets` on an encoder of n_layers x (hidden,
 * inter), all values zero. Caller frees with tcf_lora_free. */
tcf_status tcf_lora_init(tcf_lora **out, int n_layers, int hidden, int inter, unsigned targets,
                         int r, float alpha, int use_rslora, float dropout, int n_classes);
void tcf_lora_free(tcf_lora *l);
/* The module of (layer, kind), or NULL if that kind is not wrapped. */
tcf_lora_module *tcf_lora_find(const tcf_lora *l, int layer, int kind);
/* PEFT's default init: A ~ kaiming_uniform(a = sqrt(5)) = U(-1/sqrt(in),
 * 1/sqrt(in)), B = 0; head W ~ N(0, 0.02), b = 0 (transformers' init), from
 * a seeded generator. */
void tcf_lora_init_default(tcf_lora *l, uint64_t seed);
/* Zero every gradient. */
void tcf_lora_zero_grad(tcf_lora *l);
/* Fill `out` (capacity cap) with every trainable tensor, LoRA modules in
 * order (A then B) then head weight and bias; returns the count (2 *
 * n_modules + 2). Names use PEFT's saved-file spelling. */
int tcf_lora_params(tcf_lora *l, tcf_param *out, int cap);

/* The initialisers tcf_lora_init_default uses, for other adapters: A (r,
 * in) from PEFT's kaiming_uniform(a=sqrt(5)) (uniform in +-1/sqrt(in)); w
 * (n) normal(0, std) by Box-Muller; both advance the splitmix64 state *s. */
void tcf_lora_fill_kaiming(float *A, int r, int in, uint64_t *s);
void tcf_lora_fill_normal(float *w, int64_t n, double std, uint64_t *s);

#endif
