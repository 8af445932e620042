/*
 * lora.c — allocation, initialisation and parameter listing of LoRA adapters
 * and the classification head (see lora.h).
 */
#include "train/lora.h"
#include "base/base.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const tcf_lora_kind_names[TCF_LORA_KINDS] = {
    "query", "key", "value", "attention.output.dense", "intermediate.dense", "output.dense"};

static const char *const kind_paths[TCF_LORA_KINDS] = {
    "attention.self.query", "attention.self.key", "attention.self.value",
    "attention.output.dense", "intermediate.dense", "output.dense"};

/* Parameter names, kept beside the adapter: (2 * n_modules + 2) x 160. */
typedef struct {
    tcf_lora pub;
    char (*names)[160];
} lora_impl;

tcf_status tcf_lora_init(tcf_lora **out, int n_layers, int hidden, int inter, unsigned targets,
                         int r, float alpha, int use_rslora, float dropout, int n_classes) {
    *out = NULL;
    if (n_layers <= 0 || hidden <= 0 || inter <= 0 || r <= 0 || r > 4096 || n_classes < 2 ||
        !(alpha > 0) || !(dropout >= 0 && dropout < 1) || (targets >> TCF_LORA_KINDS))
        return tcf_fail(TCF_ERR_ARG,
                        "lora: invalid settings (r=%d alpha=%g dropout=%g classes=%d targets=0x%x)", r,
                        (double)alpha, (double)dropout, n_classes, targets);
    lora_impl *li = calloc(1, sizeof *li);
    if (!li) return tcf_fail(TCF_ERR_NOMEM, "lora: out of memory");
    tcf_lora *l = &li->pub;
    l->r = r, l->alpha = alpha, l->dropout = dropout, l->use_rslora = use_rslora;
    l->scaling = use_rslora ? alpha / sqrtf((float)r) : alpha / (float)r;
    l->targets = targets, l->n_layers = n_layers, l->hidden = hidden, l->inter = inter;
    l->n_classes = n_classes;
    int per_layer = 0;
    for (int k = 0; k < TCF_LORA_KINDS; k++) per_layer += (targets >> k) & 1;
    l->n_modules = per_layer * n_layers;
    l->mod = calloc((size_t)l->n_modules + 1, sizeof *l->mod);
    li->names = calloc((size_t)(2 * l->n_modules + 2), sizeof *li->names);
    int64_t total = 2 * ((int64_t)n_classes * hidden + n_classes);
    int m = 0;
    for (int layer = 0; layer < n_layers; layer++)
        for (int k = 0; k < TCF_LORA_KINDS; k++) {
            if (!((targets >> k) & 1)) continue;
            tcf_lora_module *md = &l->mod[m++];
            snprintf(md->name, sizeof md->name, "bert.encoder.layer.%d.%s", layer, kind_paths[k]);
            md->layer = layer, md->kind = k, md->r = r;
            md->in = k == TCF_LORA_OUTPUT ? inter : hidden;
            md->out = k == TCF_LORA_INTERMEDIATE ? inter : hidden;
            total += 2 * ((int64_t)r * md->in + (int64_t)md->out * r);
        }
    size_t bytes;
    if (!l->mod || !li->names || !tcf_mul_ok((size_t)total, sizeof(float), &bytes) ||
        !(l->mem = calloc((size_t)total, sizeof(float)))) {
        tcf_lora_free(l);
        return tcf_fail(TCF_ERR_NOMEM, "lora: cannot allocate %lld values", (long long)total);
    }
    float *p = l->mem;
    for (int i = 0; i < l->n_modules; i++) {
        tcf_lora_module *md = &l->mod[i];
        int64_t na = (int64_t)md->r * md->in, nb = (int64_t)md->out * md->r;
        md->A = p, p += na;
        md->B = p, p += nb;
        md->dA = p, p += na;
        md->dB = p, p += nb;
    }
    l->head_w = p, p += (int64_t)n_classes * hidden;
    l->head_b = p, p += n_classes;
    l->d_head_w = p, p += (int64_t)n_classes * hidden;
    l->d_head_b = p;
    *out = l;
    return TCF_OK;
}

void tcf_lora_free(tcf_lora *l) {
    if (!l) return;
    lora_impl *li = (lora_impl *)l;
    free(l->mem);
    free(l->mod);
    free(li->names);
    free(li);
}

tcf_lora_module *tcf_lora_find(const tcf_lora *l, int layer, int kind) {
    if (!((l->targets >> kind) & 1)) return NULL;
    for (int i = 0; i < l->n_modules; i++)
        if (l->mod[i].layer == layer && l->mod[i].kind == kind) return &l->mod[i];
    return NULL;
}

static uint64_t splitmix64(uint64_t *s) {
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* Uniform in [0, 1) with 53 random bits. */
static double uniform(uint64_t *s) { return (double)(splitmix64(s) >> 11) * 0x1.0p-53; }

void tcf_lora_fill_kaiming(float *A, int r, int in, uint64_t *s) {
    double bound = 1.0 / sqrt((double)in); /* kaiming_uniform(a=sqrt(5)) */
    for (int64_t j = 0; j < (int64_t)r * in; j++) A[j] = (float)((2.0 * uniform(s) - 1.0) * bound);
}

void tcf_lora_fill_normal(float *w, int64_t n, double std, uint64_t *s) {
    for (int64_t j = 0; j < n; j++) {
        /* Box-Muller */
        double u1 = uniform(s), u2 = uniform(s);
        w[j] = (float)(std * sqrt(-2.0 * log(1.0 - u1)) * cos(2.0 * M_PI * u2));
    }
}

void tcf_lora_init_default(tcf_lora *l, uint64_t seed) {
    uint64_t s = seed;
    for (int i = 0; i < l->n_modules; i++) {
        tcf_lora_module *md = &l->mod[i];
        tcf_lora_fill_kaiming(md->A, md->r, md->in, &s);
        memset(md->B, 0, sizeof(float) * (size_t)md->out * md->r);
    }
    tcf_lora_fill_normal(l->head_w, (int64_t)l->n_classes * l->hidden, 0.02, &s);
    memset(l->head_b, 0, sizeof(float) * (size_t)l->n_classes);
}

void tcf_lora_zero_grad(tcf_lora *l) {
    for (int i = 0; i < l->n_modules; i++) {
        tcf_lora_module *md = &l->mod[i];
        memset(md->dA, 0, sizeof(float) * (size_t)md->r * md->in);
        memset(md->dB, 0, sizeof(float) * (size_t)md->out * md->r);
    }
    memset(l->d_head_w, 0, sizeof(float) * (size_t)l->n_classes * l->hidden);
    memset(l->d_head_b, 0, sizeof(float) * (size_t)l->n_classes);
}

int tcf_lora_params(tcf_lora *l, tcf_param *out, int cap) {
    lora_impl *li = (lora_impl *)l;
    int n = 0;
    for (int i = 0; i < l->n_modules && n + 2 <= cap; i++) {
        tcf_lora_module *md = &l->mod[i];
        snprintf(li->names[n], sizeof li->names[n], "base_model.model.%s.lora_A.weight", md->name);
        out[n] = (tcf_param){li->names[n], md->A, md->dA, (int64_t)md->r * md->in, 2, {md->r, md->in}};
        n++;
        snprintf(li->names[n], sizeof li->names[n], "base_model.model.%s.lora_B.weight", md->name);
        out[n] = (tcf_param){li->names[n], md->B, md->dB, (int64_t)md->out * md->r, 2, {md->out, md->r}};
        n++;
    }
    if (n + 2 <= cap) {
        snprintf(li->names[n], sizeof li->names[n], "base_model.model.classifier.weight");
        out[n] = (tcf_param){li->names[n], l->head_w, l->d_head_w, (int64_t)l->n_classes * l->hidden, 2,
                             {l->n_classes, l->hidden}};
        n++;
        snprintf(li->names[n], sizeof li->names[n], "base_model.model.classifier.bias");
        out[n] = (tcf_param){li->names[n], l->head_b, l->d_head_b, l->n_classes, 1, {l->n_classes, 0}};
        n++;
    }
    return n;
}
