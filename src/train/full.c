/*
 * full.c — full fine-tuning state (dense master weights, gradients of every
 * base tensor, parameter list) and the files of full and head-only runs
 * (see full.h).
 */
#include "train/full.h"
#include "base/atomic_file.h"
#include "base/base.h"
#include "io/st_write.h"
#include "train/adapter_io.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    float *qkv_w, *ao_w, *fi_w, *fo_w; /* plain (out, in) masters, shapes as tcf_clf_layer_grads */
} layer_master;

struct tcf_full {
    tcf_bert *m;
    layer_master *lm;        /* (L) */
    tcf_clf_layer_grads *lg; /* (L) */
    tcf_clf_base_grads g;
    float *mem;              /* masters and gradients, one allocation */
    int n_params;
    char (*names)[96];
};

tcf_status tcf_full_init(tcf_full **out, tcf_bert *m) {
    *out = NULL;
    const tcf_bert_config *c = &m->cfg;
    const int64_t C = c->hidden, I = c->inter, NL = c->layers;
    if (!m->pool_w) return tcf_fail(TCF_ERR_UNSUPPORTED, "full fine-tuning: the checkpoint has no pooler.dense");
    tcf_status st = tcf_bert_enable_backward(m);
    if (st) return st;
    const int64_t dense = 3 * C * C + C * C + 2 * I * C;
    const int64_t per_layer_g = dense + 3 * C + C + 2 * C + I + C + 2 * C;
    const int64_t total = NL * dense + (int64_t)c->vocab * C + (int64_t)c->max_pos * C + (int64_t)c->type_vocab * C +
                          2 * C + C * C + C + NL * per_layer_g;
    tcf_full *f = calloc(1, sizeof *f);
    size_t bytes;
    if (!f || !(f->lm = calloc((size_t)NL, sizeof *f->lm)) || !(f->lg = calloc((size_t)NL, sizeof *f->lg)) ||
        !(f->names = calloc((size_t)(16 * NL + 8), sizeof *f->names)) ||
        !tcf_mul_ok((size_t)total, sizeof(float), &bytes) || !(f->mem = calloc((size_t)total, sizeof(float)))) {
        tcf_full_free(f);
        return tcf_fail(TCF_ERR_NOMEM, "full fine-tuning: cannot allocate %lld MB", (long long)(total * 4 >> 20));
    }
    f->m = m;
    float *p = f->mem;
#define TAKE(field, n) (field = p, p += (n))
    for (int l = 0; l < NL; l++) {
        layer_master *w = &f->lm[l];
        TAKE(w->qkv_w, 3 * C * C), TAKE(w->ao_w, C * C), TAKE(w->fi_w, I * C), TAKE(w->fo_w, C * I);
        tcf_bert_get_dense(m, l, w->qkv_w, w->ao_w, w->fi_w, w->fo_w);
    }
    tcf_clf_base_grads *g = &f->g;
    TAKE(g->wte, (int64_t)c->vocab * C), TAKE(g->wpe, (int64_t)c->max_pos * C);
    TAKE(g->wtt, (int64_t)c->type_vocab * C), TAKE(g->emb_ln_g, C), TAKE(g->emb_ln_b, C);
    TAKE(g->pool_w, C * C), TAKE(g->pool_b, C);
    for (int l = 0; l < NL; l++) {
        tcf_clf_layer_grads *d = &f->lg[l];
        TAKE(d->qkv_w, 3 * C * C), TAKE(d->qkv_b, 3 * C), TAKE(d->ao_w, C * C), TAKE(d->ao_b, C);
        TAKE(d->ln1_g, C), TAKE(d->ln1_b, C), TAKE(d->fi_w, I * C), TAKE(d->fi_b, I);
        TAKE(d->fo_w, C * I), TAKE(d->fo_b, C), TAKE(d->ln2_g, C), TAKE(d->ln2_b, C);
    }
#undef TAKE
    g->layer = f->lg;
    *out = f;
    return TCF_OK;
}

void tcf_full_free(tcf_full *f) {
    if (!f) return;
    free(f->mem), free(f->lm), free(f->lg), free(f->names);
    free(f);
}

const tcf_clf_base_grads *tcf_full_grads(const tcf_full *f) { return &f->g; }

void tcf_full_zero_grad(tcf_full *f) {
    const tcf_bert_config *c = &f->m->cfg;
    /* the gradients follow the masters in mem */
    int64_t skip = (int64_t)c->layers * (4 * (int64_t)c->hidden * c->hidden + 2 * (int64_t)c->inter * c->hidden);
    float *g0 = f->mem + skip, *g1 = f->lg[c->layers - 1].ln2_b + c->hidden;
    memset(g0, 0, sizeof(float) * (size_t)(g1 - g0));
}

void tcf_full_sync(tcf_full *f) {
    for (int l = 0; l < f->m->cfg.layers; l++)
        tcf_bert_set_dense(f->m, l, f->lm[l].qkv_w, f->lm[l].ao_w, f->lm[l].fi_w, f->lm[l].fo_w);
}

static void add_param(tcf_full *f, tcf_param *out, int *n, const char *name, float *w, float *g, int64_t d0,
                      int64_t d1) {
    snprintf(f->names[*n], sizeof f->names[*n], "%s", name);
    tcf_param *p = &out[*n];
    p->name = f->names[*n], p->w = w, p->g = g;
    p->n = d1 ? d0 * d1 : d0;
    p->ndim = d1 ? 2 : 1, p->shape[0] = d0, p->shape[1] = d1;
    (*n)++;
}

int tcf_full_params(tcf_full *f, tcf_param *out, int cap) {
    tcf_bert *m = f->m;
    const tcf_bert_config *c = &m->cfg;
    const int64_t C = c->hidden, I = c->inter;
    if (cap < 16 * c->layers + 7) return -1;
    int n = 0;
    tcf_clf_base_grads *g = &f->g;
    add_param(f, out, &n, "bert.embeddings.word_embeddings.weight", m->wte, g->wte, c->vocab, C);
    add_param(f, out, &n, "bert.embeddings.position_embeddings.weight", m->wpe, g->wpe, c->max_pos, C);
    add_param(f, out, &n, "bert.embeddings.token_type_embeddings.weight", m->wtt, g->wtt, c->type_vocab, C);
    add_param(f, out, &n, "bert.embeddings.LayerNorm.weight", m->emb_ln_g, g->emb_ln_g, C, 0);
    add_param(f, out, &n, "bert.embeddings.LayerNorm.bias", m->emb_ln_b, g->emb_ln_b, C, 0);
    static const char *const qkv[3] = {"query", "key", "value"};
    for (int l = 0; l < c->layers; l++) {
        tcf_bert_layer *L = &m->layer[l];
        layer_master *w = &f->lm[l];
        tcf_clf_layer_grads *d = &f->lg[l];
        char nm[96];
#define P(suffix, wp, gp, d0, d1)                                            \
    do {                                                                     \
        snprintf(nm, sizeof nm, "bert.encoder.layer.%d.%s", l, suffix);      \
        add_param(f, out, &n, nm, wp, gp, d0, d1);                           \
    } while (0)
        for (int k = 0; k < 3; k++) {
            char sw[64], sb[64];
            snprintf(sw, sizeof sw, "attention.self.%s.weight", qkv[k]);
            snprintf(sb, sizeof sb, "attention.self.%s.bias", qkv[k]);
            P(sw, w->qkv_w + k * C * C, d->qkv_w + k * C * C, C, C);
            P(sb, L->qkv_b + k * C, d->qkv_b + k * C, C, 0);
        }
        P("attention.output.dense.weight", w->ao_w, d->ao_w, C, C);
        P("attention.output.dense.bias", L->ao_b, d->ao_b, C, 0);
        P("attention.output.LayerNorm.weight", L->ln1_g, d->ln1_g, C, 0);
        P("attention.output.LayerNorm.bias", L->ln1_b, d->ln1_b, C, 0);
        P("intermediate.dense.weight", w->fi_w, d->fi_w, I, C);
        P("intermediate.dense.bias", L->fi_b, d->fi_b, I, 0);
        P("output.dense.weight", w->fo_w, d->fo_w, C, I);
        P("output.dense.bias", L->fo_b, d->fo_b, C, 0);
        P("output.LayerNorm.weight", L->ln2_g, d->ln2_g, C, 0);
        P("output.LayerNorm.bias", L->ln2_b, d->ln2_b, C, 0);
#undef P
    }
    add_param(f, out, &n, "bert.pooler.dense.weight", m->pool_w, g->pool_w, C, C);
    add_param(f, out, &n, "bert.pooler.dense.bias", m->pool_b, g->pool_b, C, 0);
    f->n_params = n;
    return n;
}

/* ---- files ------------------------------------------------------------------- */

static tcf_st_tensor st_of(const char *name, const float *w, int ndim, int64_t d0, int64_t d1) {
    tcf_st_tensor t = {name, TCF_DTYPE_F32, ndim, {d0, d1}, w};
    return t;
}

/* The base config.json with the classification head's fields set. */
static tcf_status write_config(const char *dir, const char *base_dir, const char *const *labels, int K) {
    char path[4096], *text;
    size_t len;
    tcf_status st = tcf_path_join(path, sizeof path, base_dir, "config.json");
    if (st || (st = tcf_read_file(path, &text, &len))) return st;
    cJSON *root = cJSON_ParseWithLength(text, len);
    free(text);
    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return tcf_fail(TCF_ERR_FORMAT, "%s: not a JSON object", path);
    }
    cJSON_DeleteItemFromObjectCaseSensitive(root, "architectures");
    cJSON_DeleteItemFromObjectCaseSensitive(root, "id2label");
    cJSON_DeleteItemFromObjectCaseSensitive(root, "label2id");
    cJSON *arch = cJSON_AddArrayToObject(root, "architectures");
    cJSON_AddItemToArray(arch, cJSON_CreateString("BertForSequenceClassification"));
    cJSON *i2l = cJSON_AddObjectToObject(root, "id2label"), *l2i = cJSON_AddObjectToObject(root, "label2id");
    for (int k = 0; k < K; k++) {
        char key[16];
        snprintf(key, sizeof key, "%d", k);
        cJSON_AddStringToObject(i2l, key, labels[k]);
        if (!cJSON_GetObjectItemCaseSensitive(l2i, labels[k])) cJSON_AddNumberToObject(l2i, labels[k], k);
    }
    char *out = cJSON_Print(root);
    cJSON_Delete(root);
    if (!out) return tcf_fail(TCF_ERR_NOMEM, "%s: cannot format config.json", dir);
    if (!(st = tcf_path_join(path, sizeof path, dir, "config.json"))) st = tcf_atomic_write_file(path, out, strlen(out));
    free(out);
    return st;
}

tcf_status tcf_full_save(const tcf_full *f, const tcf_lora *head, const char *dir, const char *base_dir,
                         const char *const *labels) {
    tcf_param ps[16 * 64 + 8];
    const tcf_bert_config *c = &f->m->cfg;
    if (16 * c->layers + 7 > (int)(sizeof ps / sizeof *ps))
        return tcf_fail(TCF_ERR_UNSUPPORTED, "full fine-tuning: %d layers is too many to save", c->layers);
    int np = tcf_full_params((tcf_full *)f, ps, (int)(sizeof ps / sizeof *ps));
    tcf_st_tensor *t = malloc(sizeof *t * (size_t)(np + 2));
    if (!t) return tcf_fail(TCF_ERR_NOMEM, "%s: out of memory", dir);
    for (int i = 0; i < np; i++) t[i] = st_of(ps[i].name, ps[i].w, ps[i].ndim, ps[i].shape[0], ps[i].shape[1]);
    t[np] = st_of("classifier.weight", head->head_w, 2, head->n_classes, head->hidden);
    t[np + 1] = st_of("classifier.bias", head->head_b, 1, head->n_classes, 0);
    static const char *const meta[2] = {"format", "pt"};
    char path[4096];
    tcf_status st = tcf_mkdirs(dir);
    if (!st) st = tcf_path_join(path, sizeof path, dir, "model.safetensors");
    if (!st) st = tcf_safetensors_write(path, t, np + 2, meta, 1);
    free(t);
    if (!st) st = write_config(dir, base_dir, labels, head->n_classes);
    /* the tokenizer files too, so the directory is a whole model */
    static const char *const tok_files[] = {"tokenizer.json", "vocab.txt", "tokenizer_config.json",
                                            "special_tokens_map.json"};
    for (size_t i = 0; !st && i < sizeof tok_files / sizeof *tok_files; i++) {
        char src[4096], *text;
        size_t len;
        if ((st = tcf_path_join(src, sizeof src, base_dir, tok_files[i])) || !tcf_file_exists(src)) continue;
        if ((st = tcf_read_file(src, &text, &len))) break;
        if (!(st = tcf_path_join(path, sizeof path, dir, tok_files[i]))) st = tcf_atomic_write_file(path, text, len);
        free(text);
    }
    return st;
}

tcf_status tcf_head_save(const tcf_lora *l, const char *dir) {
    tcf_st_tensor t[2] = {st_of("classifier.weight", l->head_w, 2, l->n_classes, l->hidden),
                          st_of("classifier.bias", l->head_b, 1, l->n_classes, 0)};
    static const char *const meta[2] = {"format", "pt"};
    char path[4096];
    tcf_status st = tcf_mkdirs(dir);
    if (!st) st = tcf_path_join(path, sizeof path, dir, "classifier.safetensors");
    if (!st) st = tcf_safetensors_write(path, t, 2, meta, 1);
    return st;
}

tcf_status tcf_head_load(const char *path, tcf_lora *l) {
    tcf_safetensors *sf = NULL;
    tcf_status st = tcf_safetensors_open(path, &sf);
    if (st) return st;
    const char *names[2] = {"classifier.weight", "classifier.bias"};
    float *dst[2] = {l->head_w, l->head_b};
    int64_t want[2] = {(int64_t)l->n_classes * l->hidden, l->n_classes};
    for (int i = 0; i < 2 && !st; i++) {
        const tcf_tensor_view *v = tcf_safetensors_find(sf, names[i]);
        int ok = v && v->n_dims == 2 - i && v->shape[0] == l->n_classes && (i || v->shape[1] == l->hidden);
        if (!ok)
            st = tcf_fail(TCF_ERR_FORMAT, "%s: tensor '%s' is %s (expected %s [%d%s])", path, names[i],
                          v ? "misshapen" : "missing", i ? "" : "shape", l->n_classes,
                          i ? "" : ", hidden");
        else if ((st = tcf_tensor_to_f32(v, dst[i], want[i])))
            tcf_fail_prefix(st, "%s", path);
    }
    tcf_safetensors_free(sf);
    return st;
}
