/*
 * classifier.c — BertForSequenceClassification + PEFT LoRA: training forward
 * (activations saved per layer) and backward to the adapters and the head.
 * See classifier.h for the model; docs/PEFT_NOTES.md for the reference.
 *
 * Per layer l, saved (BT = B*T rows):
 *   x   (BT, C)   layer input                 qkv (BT, 3C) q|k|v after LoRA
 *   P   (B, H, T, T) attention probabilities  ctx (BT, C) attention output
 *   h1  (BT, C)   x + attn dense (pre-LN1)    y1  (BT, C) LN1 output, m1/r1 its stats
 *   fp  (BT, I)   intermediate pre-GELU       fa  (BT, I) GELU output
 *   h2  (BT, C)   y1 + output dense (pre-LN2), m2/r2 its stats
 *   u   (BT, r)   per LoRA module, x_drop A^T
 * The layer output (LN2) is the next layer's x; the last one is `hid`.
 *
 * Full fine-tuning (a tcf_clf_base_grads set) adds, at each dense layer of
 * the backward, dW += dY^T X and db += colsum(dY) (tcf_linear_backward with
 * no dx), dgamma/dbeta to the LayerNorm backwards, the pooler's dW/db, and
 * after layer 0 the embeddings: the embedding LayerNorm is recomputed from
 * word + position + type (not saved by the forward), then its input gradient
 * is scatter-added, serially in row order (deterministic), to the word row
 * of each token (except pad_token_id, as nn.Embedding's padding_idx), the
 * position row and token type 0.
 */
#include "train/classifier.h"
#include "base/base.h"
#include "kern/grad.h"
#include "kern/kern.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    float *x, *qkv, *P, *ctx, *h1, *y1, *m1, *r1, *fp, *fa, *h2, *m2, *r2;
    float *u[TCF_LORA_KINDS]; /* NULL where the kind is not wrapped */
} layer_acts;

struct tcf_clf_ws {
    int Bmax, Tmax, n_threads;
    int Nmax;       /* max(3C, I, B): widest dense output, for wscratch */
    layer_acts *L;
    float *hid;     /* (BT, C) last hidden state */
    float *cls;     /* (B, C) h[:, 0] */
    float *pooled;  /* (B, C) tanh(pooler) */
    float *dlogits; /* (B, n_classes) */
    float *dpooled; /* (B, C) */
    float *dh, *dh2, *dy1, *dctx, *dqkv, *dfa, *tmpC; /* backward buffers */
    float *scratch; /* per thread attention scratch */
    size_t scratch_per;
    float *lora_scratch;
    uint8_t *mask;  /* copy of the batch mask */
    float *xdrop;   /* (BT, max(C, I)) LoRA input after lora_dropout */
    float *dxa;     /* (BT, max(C, I)) LoRA input gradient before dropout */
    float *dao;     /* (BT, C) gradient of a dense output before its dropout */
    tcf_clf_dropout drop;
    uint64_t calls; /* training forwards so far: the dropout "step" */
    int train;      /* dropout active in the current forward */
    int head_only;  /* backward stops after the head */
    const tcf_clf_base_grads *G; /* full fine-tuning: base weight gradients, or NULL */
    float *wscratch;             /* (Bmax*Tmax, max(3C, I)) for dW, with G only */
    float *mem;
};

tcf_status tcf_clf_ws_set_mode(tcf_clf_ws *w, int head_only, const tcf_clf_base_grads *G) {
    w->head_only = head_only;
    w->G = G;
    if (G && !w->wscratch) {
        size_t n = (size_t)w->Bmax * (size_t)w->Tmax * (size_t)(w->Nmax > 0 ? w->Nmax : 1);
        if (!(w->wscratch = malloc(sizeof(float) * n))) {
            w->G = NULL;
            return tcf_fail(TCF_ERR_NOMEM, "classifier: cannot allocate %zu MB for weight gradients",
                            (n * sizeof(float)) >> 20);
        }
    }
    return TCF_OK;
}

void tcf_clf_ws_set_dropout(tcf_clf_ws *w, const tcf_clf_dropout *d) { w->drop = *d; }
uint64_t tcf_clf_ws_calls(const tcf_clf_ws *w) { return w->calls; }
void tcf_clf_ws_set_calls(tcf_clf_ws *w, uint64_t n) { w->calls = n; }

/* Dropout site ids: the mask of site s in layer l is keyed by seed ^ key. */
enum { SITE_EMB = 0, SITE_ATTN_OUT, SITE_OUT, SITE_CLS, SITE_LORA /* + kind */,
       SITE_ATTN_PROBS = SITE_LORA + TCF_LORA_KINDS };
static uint64_t site_seed(const tcf_clf_ws *w, int layer, int site) {
    return tcf_dropout_site_seed(w->drop.seed, (uint64_t)(layer * 64 + site));
}

tcf_status tcf_clf_ws_init(tcf_clf_ws **out, const tcf_bert *m, const tcf_lora *l, int B, int T,
                           int n_threads) {
    *out = NULL;
    const int C = m->cfg.hidden, I = m->cfg.inter, H = m->cfg.heads, Lc = m->cfg.layers;
    const int D = C / H, r = l->r, K = l->n_classes;
    if (B <= 0 || T <= 0 || T > m->cfg.max_pos)
        return tcf_fail(TCF_ERR_ARG, "classifier: bad batch shape B=%d T=%d (max positions %d)", B, T,
                        m->cfg.max_pos);
    if (l->n_layers != Lc || l->hidden != C || l->inter != I)
        return tcf_fail(TCF_ERR_ARG, "classifier: adapter shape (%d layers, %d, %d) does not match "
                        "the model (%d layers, %d, %d)", l->n_layers, l->hidden, l->inter, Lc, C, I);
    if (n_threads <= 0) n_threads = tcf_default_threads();
    const int64_t BT = (int64_t)B * T;
    int n_u = 0;
    for (int k = 0; k < TCF_LORA_KINDS; k++) n_u += (l->targets >> k) & 1;
    int64_t per_layer = BT * (C + 3 * C + C + C + C + 2 + 2 * I + C + 2) + (int64_t)B * H * T * T +
                        n_u * BT * r;
    size_t sp = tcf_attn_backward_scratch(T, D);
    if (tcf_attn_forward_scratch(T, D) > sp) sp = tcf_attn_forward_scratch(T, D);
    size_t ls = tcf_lora_backward_scratch((int)BT, I > C ? I : C, r);
    size_t lf = tcf_lora_forward_scratch(I > C ? I : C, I > C ? I : C, r);
    if (lf > ls) ls = lf;
    int64_t total = per_layer * Lc + BT * C /*hid*/ + 2 * (int64_t)B * C + (int64_t)B * K +
                    (int64_t)B * C + BT * (C + C + C + C + 3 * C + I + C) + (int64_t)n_threads * (int64_t)sp +
                    (int64_t)ls + 2 * BT * (I > C ? I : C) + BT * C;
    tcf_clf_ws *w = calloc(1, sizeof *w);
    size_t bytes;
    if (!w || !tcf_mul_ok((size_t)total, sizeof(float), &bytes) || !(w->mem = malloc(bytes)) ||
        !(w->L = calloc((size_t)Lc, sizeof *w->L)) || !(w->mask = malloc((size_t)BT))) {
        tcf_clf_ws_free(w);
        return tcf_fail(TCF_ERR_NOMEM, "classifier: cannot allocate %lld MB of activations for B=%d T=%d",
                        (long long)(total * 4 >> 20), B, T);
    }
    w->Bmax = B, w->Tmax = T, w->n_threads = n_threads, w->scratch_per = sp;
    w->Nmax = 3 * C > I ? 3 * C : I;
    float *p = w->mem;
#define TAKE(f, n) (f = p, p += (n))
    for (int li = 0; li < Lc; li++) {
        layer_acts *a = &w->L[li];
        TAKE(a->x, BT * C), TAKE(a->qkv, BT * 3 * C), TAKE(a->P, (int64_t)B * H * T * T);
        TAKE(a->ctx, BT * C), TAKE(a->h1, BT * C), TAKE(a->y1, BT * C), TAKE(a->m1, BT), TAKE(a->r1, BT);
        TAKE(a->fp, BT * I), TAKE(a->fa, BT * I), TAKE(a->h2, BT * C), TAKE(a->m2, BT), TAKE(a->r2, BT);
        for (int k = 0; k < TCF_LORA_KINDS; k++)
            if ((l->targets >> k) & 1) TAKE(a->u[k], BT * r);
    }
    TAKE(w->hid, BT * C), TAKE(w->cls, (int64_t)B * C), TAKE(w->pooled, (int64_t)B * C);
    TAKE(w->dlogits, (int64_t)B * K), TAKE(w->dpooled, (int64_t)B * C);
    TAKE(w->dh, BT * C), TAKE(w->dh2, BT * C), TAKE(w->dy1, BT * C), TAKE(w->dctx, BT * C);
    TAKE(w->dqkv, BT * 3 * C), TAKE(w->dfa, BT * I), TAKE(w->tmpC, BT * C);
    TAKE(w->scratch, (int64_t)n_threads * (int64_t)sp);
    TAKE(w->lora_scratch, (int64_t)ls);
    TAKE(w->xdrop, BT * (I > C ? I : C)), TAKE(w->dxa, BT * (I > C ? I : C)), TAKE(w->dao, BT * C);
#undef TAKE
    *out = w;
    return TCF_OK;
}

void tcf_clf_ws_free(tcf_clf_ws *w) {
    if (!w) return;
    free(w->mem);
    free(w->L);
    free(w->mask);
    free(w->wscratch);
    free(w);
}

/* ---- pool tasks -------------------------------------------------------- */

typedef struct {
    const tcf_bert *m;
    tcf_clf_ws *w;
    layer_acts *a;
    int B, T, layer;
    const int32_t *ids;
} task_ctx;

/* The attention-probs dropout of (layer, batch row b, head h), or NULL. */
static const tcf_attn_dropout *attn_drop(const task_ctx *c, int64_t bh, tcf_attn_dropout *d) {
    if (!c->w->train || c->w->drop.attn <= 0) return NULL;
    *d = (tcf_attn_dropout){c->w->drop.attn, site_seed(c->w, c->layer, SITE_ATTN_PROBS), c->w->calls,
                            (uint64_t)bh * (uint64_t)c->T * (uint64_t)c->T};
    return d;
}

static void embed_task(void *vctx, int64_t begin, int64_t end, int tid) {
    task_ctx *c = vctx;
    tcf_bert_embed_rows(c->m, c->T, c->ids, begin, end, c->w->L[0].x);
}

static void attn_fwd_task(void *vctx, int64_t begin, int64_t end, int tid) {
    task_ctx *c = vctx;
    const int C = c->m->cfg.hidden, H = c->m->cfg.heads, D = C / H, T = c->T;
    float *scratch = c->w->scratch + (size_t)tid * c->w->scratch_per;
    for (int64_t bh = begin; bh < end; bh++) {
        int b = (int)(bh / H), h = (int)(bh % H);
        const float *base = c->a->qkv + (int64_t)b * T * 3 * C;
        tcf_attn_dropout d;
        tcf_attn_head_forward(T, D, base + h * D, base + C + h * D, base + 2 * C + h * D, 3 * C,
                              c->w->mask + (int64_t)b * T, 1.0f / sqrtf((float)D), attn_drop(c, bh, &d),
                              c->a->ctx + (int64_t)b * T * C + h * D, C, c->a->P + bh * T * T, scratch);
    }
}

static void attn_bwd_task(void *vctx, int64_t begin, int64_t end, int tid) {
    task_ctx *c = vctx;
    const int C = c->m->cfg.hidden, H = c->m->cfg.heads, D = C / H, T = c->T;
    float *scratch = c->w->scratch + (size_t)tid * c->w->scratch_per;
    for (int64_t bh = begin; bh < end; bh++) {
        int b = (int)(bh / H), h = (int)(bh % H);
        const float *base = c->a->qkv + (int64_t)b * T * 3 * C;
        float *dbase = c->w->dqkv + (int64_t)b * T * 3 * C;
        tcf_attn_dropout d;
        tcf_attn_head_backward(T, D, base + h * D, base + C + h * D, base + 2 * C + h * D, 3 * C,
                               c->a->P + bh * T * T, c->w->mask + (int64_t)b * T, 1.0f / sqrtf((float)D),
                               attn_drop(c, bh, &d),
                               c->w->dctx + (int64_t)b * T * C + h * D, C, dbase + h * D,
                               dbase + C + h * D, dbase + 2 * C + h * D, 3 * C, scratch);
    }
}

/* ---- forward / backward --------------------------------------------------- */

/* lora_dropout applied to x (M, K) for module (layer, kind) into w->xdrop,
 * or x itself when off. */
static const float *lora_input(tcf_clf_ws *w, int layer, int kind, int M, const float *x, int K) {
    if (!w->train || w->drop.lora <= 0) return x;
    tcf_dropout_forward(w->xdrop, x, (int64_t)M * K, w->drop.lora, site_seed(w, layer, SITE_LORA + kind),
                        w->calls, 0);
    return w->xdrop;
}

/* y (M, N; ldy) += LoRA branch of module (layer, kind) on x (M, K). */
static void lora_fwd(tcf_lora *l, tcf_clf_ws *w, int layer, int kind, int M, const float *x, int K,
                     float *y, int ldy, float *u) {
    tcf_lora_module *md = tcf_lora_find(l, layer, kind);
    if (!md) return;
    const float *xd = lora_input(w, layer, kind, M, x, K);
    tcf_lora_forward(M, md->out, K, md->r, l->scaling, x, K, xd, K, NULL, NULL, md->A, md->B, y, ldy,
                     u, w->lora_scratch, w->n_threads);
}

/* dA, dB += and dx (M, K) += from dy (M, N; lddy) for module (layer, kind);
 * the dropped input is recomputed from its mask. */
static void lora_bwd(tcf_lora *l, tcf_clf_ws *w, int layer, int kind, int M, const float *dy, int lddy,
                     const float *x, int K, const float *u, float *dx) {
    tcf_lora_module *md = tcf_lora_find(l, layer, kind);
    if (!md) return;
    const float *xd = lora_input(w, layer, kind, M, x, K);
    int dropped = xd != x;
    tcf_lora_backward(M, md->out, K, md->r, l->scaling, dy, lddy, xd, K, u, md->A, md->B, md->dA, md->dB,
                      !dx ? NULL : dropped ? w->dxa : dx, K, !dropped, w->lora_scratch, w->n_threads);
    if (dropped && dx)
        tcf_dropout_backward(dx, w->dxa, (int64_t)M * K, w->drop.lora, site_seed(w, layer, SITE_LORA + kind),
                             w->calls, 0, 1);
}

/* ---- elementwise work spread over the pool ----------------------------------
 * The serial versions of these ops were ~10% of a step on 2 threads. Each
 * element (or LayerNorm row) is computed exactly as the serial kernel would:
 * ranges are cut at multiples of 64 elements (the SIMD kernels' vector/tail
 * split stays where it was) and dropout masks are keyed by element index, so
 * results do not depend on the thread count. */
enum { EW_DROP_ADD, EW_GELU, EW_GELU_BWD, EW_DROP_BWD, EW_LN_FWD, EW_LN_BWD };
typedef struct {
    int op, C;
    float *y, *m, *r;
    const float *a, *b, *g, *bias;
    float p, eps;
    uint64_t seed, step;
    int64_t n; /* elements, or rows for the LayerNorm ops */
} ew_ctx;

static void ew_task(void *vctx, int64_t begin, int64_t end, int tid) {
    const ew_ctx *c = vctx;
    const int64_t unit = c->op >= EW_LN_FWD ? 16 : 64;
    int64_t lo = begin * unit, hi = end * unit < c->n ? end * unit : c->n, k = hi - lo;
    const int64_t C = c->C;
    switch (c->op) {
    case EW_DROP_ADD: /* y = dropout(y) + a */
        if (c->p > 0) tcf_dropout_forward(c->y + lo, c->y + lo, k, c->p, c->seed, c->step, (uint64_t)lo);
        for (int64_t i = lo; i < hi; i++) c->y[i] += c->a[i];
        break;
    case EW_GELU: tcf_gelu(c->y + lo, c->a + lo, k); break;
    case EW_GELU_BWD: tcf_gelu_backward(c->y + lo, c->a + lo, c->b + lo, k); break;
    case EW_DROP_BWD:
        tcf_dropout_backward(c->y + lo, c->a + lo, k, c->p, c->seed, c->step, (uint64_t)lo, 0);
        break;
    case EW_LN_FWD:
        tcf_layernorm_forward(c->y + lo * C, c->m + lo, c->r + lo, c->a + lo * C, c->g, c->bias, k, c->C, c->eps);
        break;
    case EW_LN_BWD:
        tcf_layernorm_backward(c->y + lo * C, NULL, NULL, c->a + lo * C, c->b + lo * C, c->m + lo, c->r + lo, c->g, k,
                               c->C);
        break;
    }
}

static void ew_run(ew_ctx *c, int nt) {
    const int64_t unit = c->op >= EW_LN_FWD ? 16 : 64;
    const int64_t work = c->op >= EW_LN_FWD ? c->n * c->C : c->n;
    tcf_parallel_for((c->n + unit - 1) / unit, work < (1 << 15) ? 1 : nt, ew_task, c);
}

/* y = dropout(y) + x at (layer, site) (dropout in training forwards only). */
static void drop_add(tcf_clf_ws *w, int layer, int site, float *y, const float *x, int64_t n) {
    ew_ctx c = {.op = EW_DROP_ADD, .y = y, .a = x, .n = n,
                .p = w->train && w->drop.hidden > 0 ? w->drop.hidden : 0.0f, .seed = site_seed(w, layer, site),
                .step = w->calls};
    ew_run(&c, w->n_threads);
}
/* dx = dropout'(dy) of the hidden dropout at (layer, site). */
static void drop_bwd(tcf_clf_ws *w, int layer, int site, float *dx, const float *dy, int64_t n) {
    ew_ctx c = {.op = EW_DROP_BWD, .y = dx, .a = dy, .n = n, .p = w->drop.hidden, .seed = site_seed(w, layer, site),
                .step = w->calls};
    ew_run(&c, w->n_threads);
}
static void ln_fwd(tcf_clf_ws *w, float *y, float *mean, float *rstd, const float *x, const float *g, const float *b,
                   int64_t rows, int C, float eps) {
    ew_ctx c = {.op = EW_LN_FWD, .y = y, .m = mean, .r = rstd, .a = x, .g = g, .bias = b, .n = rows, .C = C, .eps = eps};
    ew_run(&c, w->n_threads);
}
/* LayerNorm backward; with parameter gradients (full fine-tuning) serial, so
 * their sums keep one order. */
static void ln_bwd(tcf_clf_ws *w, float *dx, float *dg, float *db, const float *dy, const float *x, const float *mean,
                   const float *rstd, const float *g, int64_t rows, int C) {
    if (dg || db) {
        tcf_layernorm_backward(dx, dg, db, dy, x, mean, rstd, g, rows, C);
        return;
    }
    ew_ctx c = {.op = EW_LN_BWD, .y = dx, .a = dy, .b = x, .m = (float *)mean, .r = (float *)rstd, .g = g, .n = rows,
                .C = C};
    ew_run(&c, w->n_threads);
}

/* In place hidden dropout on y (n) at (layer, site), training forwards only. */
static void hidden_drop(tcf_clf_ws *w, int layer, int site, float *y, int64_t n) {
    if (w->train && w->drop.hidden > 0)
        tcf_dropout_forward(y, y, n, w->drop.hidden, site_seed(w, layer, site), w->calls, 0);
}

/* Full fine-tuning, after layer 0: w->dh (BT, C) is the gradient of the
 * embeddings output after dropout. Buffers free at this point: tmpC (the
 * recomputed LN input e), dy1 (its output, unused), dh2 (de), dctx (mean,
 * rstd). */
static void embed_backward(const tcf_bert *m, tcf_clf_ws *w, const tcf_clf_base_grads *G, int T, int64_t BT,
                           const int32_t *ids) {
    const int C = m->cfg.hidden;
    if (w->drop.hidden > 0)
        tcf_dropout_backward(w->dh, w->dh, BT * C, w->drop.hidden, site_seed(w, 0, SITE_EMB), w->calls, 0, 0);
    float *e = w->tmpC, *de = w->dh2, *mean = w->dctx, *rstd = w->dctx + BT;
    for (int64_t r = 0; r < BT; r++) {
        const float *we = m->wte + (int64_t)ids[r] * C, *pe = m->wpe + (r % T) * C;
        for (int i = 0; i < C; i++) e[r * C + i] = we[i] + pe[i] + m->wtt[i];
    }
    tcf_layernorm_forward(w->dy1, mean, rstd, e, m->emb_ln_g, m->emb_ln_b, BT, C, m->cfg.ln_eps);
    tcf_layernorm_backward(de, G->emb_ln_g, G->emb_ln_b, w->dh, e, mean, rstd, m->emb_ln_g, BT, C);
    for (int64_t r = 0; r < BT; r++) {
        const float *d = de + r * C;
        float *gp = G->wpe + (r % T) * C;
        for (int i = 0; i < C; i++) gp[i] += d[i], G->wtt[i] += d[i];
        if (ids[r] == m->cfg.pad_id) continue;
        float *gw = G->wte + (int64_t)ids[r] * C;
        for (int i = 0; i < C; i++) gw[i] += d[i];
    }
}

tcf_status tcf_clf_forward(const tcf_bert *m, tcf_lora *l, tcf_clf_ws *w, int B, int T,
                           const int32_t *ids, const uint8_t *mask, const int32_t *labels,
                           const float *class_w, float label_smoothing, int backward,
                           float *logits, float *loss) {
    const tcf_bert_config *cf = &m->cfg;
    const int C = cf->hidden, I = cf->inter, H = cf->heads, NL = cf->layers, K = l->n_classes;
    const int nt = w->n_threads;
    if (B <= 0 || T <= 0 || B > w->Bmax || T > w->Tmax)
        return tcf_fail(TCF_ERR_ARG, "classifier: batch %dx%d exceeds the workspace %dx%d", B, T, w->Bmax,
                        w->Tmax);
    if (!m->pool_w) return tcf_fail(TCF_ERR_UNSUPPORTED, "classifier: the checkpoint has no pooler.dense");
    if (backward && (!labels || !m->bwd_mem))
        return tcf_fail(TCF_ERR_ARG, "classifier: backward needs labels and tcf_bert_enable_backward");
    const int64_t BT = (int64_t)B * T;
    for (int64_t i = 0; i < BT; i++)
        if (ids[i] < 0 || ids[i] >= cf->vocab)
            return tcf_fail(TCF_ERR_ARG, "classifier: token id %d outside vocab [0, %d)", ids[i], cf->vocab);
    for (int b = 0; labels && b < B; b++)
        if (labels[b] < 0 || labels[b] >= K)
            return tcf_fail(TCF_ERR_ARG, "classifier: label %d of row %d outside [0, %d)", labels[b], b, K);
    memcpy(w->mask, mask, (size_t)BT);
    w->train = backward;
    if (backward) w->calls++;
    task_ctx tc = {m, w, NULL, B, T, 0, ids};
    tcf_parallel_for(BT, nt, embed_task, &tc);
    hidden_drop(w, 0, SITE_EMB, w->L[0].x, BT * C);

    for (int li = 0; li < NL; li++) {
        const tcf_bert_layer *Lw = &m->layer[li];
        layer_acts *a = &w->L[li];
        float *out = li + 1 < NL ? w->L[li + 1].x : w->hid;
        tcf_gemm_packed((int)BT, 3 * C, C, a->x, C, Lw->qkv_wp, a->qkv, 3 * C, Lw->qkv_b, 0, nt);
        for (int k = TCF_LORA_QUERY; k <= TCF_LORA_VALUE; k++)
            lora_fwd(l, w, li, k, (int)BT, a->x, C, a->qkv + k * C, 3 * C, a->u[k]);
        tc.a = a, tc.layer = li;
        tcf_parallel_for_dyn((int64_t)B * H, 1, nt, attn_fwd_task, &tc);
        /* h1 = x + dropout(ctx Wao^T + b (+ LoRA)) */
        tcf_gemm_packed((int)BT, C, C, a->ctx, C, Lw->ao_wp, a->h1, C, Lw->ao_b, 0, nt);
        lora_fwd(l, w, li, TCF_LORA_ATTN_OUT, (int)BT, a->ctx, C, a->h1, C, a->u[TCF_LORA_ATTN_OUT]);
        drop_add(w, li, SITE_ATTN_OUT, a->h1, a->x, BT * C);
        ln_fwd(w, a->y1, a->m1, a->r1, a->h1, Lw->ln1_g, Lw->ln1_b, BT, C, cf->ln_eps);
        tcf_gemm_packed((int)BT, I, C, a->y1, C, Lw->fi_wp, a->fp, I, Lw->fi_b, 0, nt);
        lora_fwd(l, w, li, TCF_LORA_INTERMEDIATE, (int)BT, a->y1, C, a->fp, I, a->u[TCF_LORA_INTERMEDIATE]);
        ew_ctx gc = {.op = EW_GELU, .y = a->fa, .a = a->fp, .n = BT * I};
        ew_run(&gc, nt);
        tcf_gemm_packed((int)BT, C, I, a->fa, I, Lw->fo_wp, a->h2, C, Lw->fo_b, 0, nt);
        lora_fwd(l, w, li, TCF_LORA_OUTPUT, (int)BT, a->fa, I, a->h2, C, a->u[TCF_LORA_OUTPUT]);
        drop_add(w, li, SITE_OUT, a->h2, a->y1, BT * C);
        ln_fwd(w, out, a->m2, a->r2, a->h2, Lw->ln2_g, Lw->ln2_b, BT, C, cf->ln_eps);
    }
    /* pooled = tanh(h[:, 0] Wp^T + bp); logits = pooled Wc^T + bc */
    for (int b = 0; b < B; b++) memcpy(w->cls + (int64_t)b * C, w->hid + (int64_t)b * T * C, sizeof(float) * C);
    for (int b = 0; b < B; b++)
        for (int n = 0; n < C; n++) {
            const float *wr = m->pool_w + (int64_t)n * C, *xr = w->cls + (int64_t)b * C;
            float acc = 0;
            for (int k = 0; k < C; k++) acc += xr[k] * wr[k];
            w->pooled[(int64_t)b * C + n] = acc + m->pool_b[n];
        }
    tcf_tanh_forward(w->pooled, w->pooled, (int64_t)B * C);
    /* classifier dropout: the head sees (and its gradient uses) pooled_d,
     * kept in dpooled until the backward needs that buffer */
    const float *head_in = w->pooled;
    const int drop_cls = w->train && w->drop.classifier > 0;
    if (drop_cls) {
        tcf_dropout_forward(w->dpooled, w->pooled, (int64_t)B * C, w->drop.classifier, site_seed(w, 0, SITE_CLS),
                            w->calls, 0);
        head_in = w->dpooled;
    }
    for (int b = 0; b < B; b++)
        for (int n = 0; n < K; n++) {
            const float *wr = l->head_w + (int64_t)n * C, *xr = head_in + (int64_t)b * C;
            float acc = 0;
            for (int k = 0; k < C; k++) acc += xr[k] * wr[k];
            logits[(int64_t)b * K + n] = acc + l->head_b[n];
        }
    if (!labels) return TCF_OK;
    float lv = tcf_cross_entropy(B, K, logits, labels, class_w, label_smoothing, backward ? w->dlogits : NULL);
    if (loss) *loss = lv;
    if (!backward) return TCF_OK;

    /* ---- backward ---- */
    /* head: dW += dlogits^T pooled, db += colsum, dpooled = dlogits W */
    for (int b = 0; b < B; b++)
        for (int n = 0; n < K; n++) {
            float g = w->dlogits[(int64_t)b * K + n];
            l->d_head_b[n] += g;
            for (int k = 0; k < C; k++) l->d_head_w[(int64_t)n * C + k] += g * head_in[(int64_t)b * C + k];
        }
    if (w->head_only) return TCF_OK;
    const tcf_clf_base_grads *G = w->G;
    float *ws_dw = w->wscratch;
    tcf_gemm(B, C, K, w->dlogits, K, l->head_w, C, w->dpooled, C, NULL, 0, 1);
    if (drop_cls)
        tcf_dropout_backward(w->dpooled, w->dpooled, (int64_t)B * C, w->drop.classifier, site_seed(w, 0, SITE_CLS),
                             w->calls, 0, 0);
    tcf_tanh_backward(w->dpooled, w->dpooled, w->pooled, (int64_t)B * C);
    if (G) tcf_linear_backward(B, C, C, w->dpooled, C, w->cls, C, NULL, NULL, 0, 0, G->pool_w, G->pool_b, ws_dw, nt);
    /* d cls = dpre Wp (pooler frozen) -> rows (b, 0) of dh */
    memset(w->dh, 0, sizeof(float) * (size_t)(BT * C));
    for (int b = 0; b < B; b++)
        tcf_gemm(1, C, C, w->dpooled + (int64_t)b * C, C, m->pool_w, C, w->dh + (int64_t)b * T * C, C, NULL, 0, 1);

    for (int li = NL - 1; li >= 0; li--) {
        const tcf_bert_layer *Lw = &m->layer[li];
        layer_acts *a = &w->L[li];
        const tcf_clf_layer_grads *gl = G ? &G->layer[li] : NULL;
        /* LN2: dh2 = d(h2) */
        ln_bwd(w, w->dh2, gl ? gl->ln2_g : NULL, gl ? gl->ln2_b : NULL, w->dh, a->h2, a->m2, a->r2, Lw->ln2_g, BT, C);
        /* output dense: dfa = drop'(dh2) Wfo (+ LoRA) ; residual dy1 = dh2 */
        const float *dfo = w->dh2;
        if (w->drop.hidden > 0) {
            drop_bwd(w, li, SITE_OUT, w->dao, w->dh2, BT * C);
            dfo = w->dao;
        }
        tcf_gemm_packed((int)BT, I, C, dfo, C, Lw->fo_bp, w->dfa, I, NULL, 0, nt);
        if (gl) tcf_linear_backward((int)BT, C, I, dfo, C, a->fa, I, NULL, NULL, 0, 0, gl->fo_w, gl->fo_b, ws_dw, nt);
        lora_bwd(l, w, li, TCF_LORA_OUTPUT, (int)BT, dfo, C, a->fa, I, a->u[TCF_LORA_OUTPUT], w->dfa);
        ew_ctx gb = {.op = EW_GELU_BWD, .y = w->dfa, .a = w->dfa, .b = a->fp, .n = BT * I};
        ew_run(&gb, nt);
        if (gl) tcf_linear_backward((int)BT, I, C, w->dfa, I, a->y1, C, NULL, NULL, 0, 0, gl->fi_w, gl->fi_b, ws_dw, nt);
        memcpy(w->dy1, w->dh2, sizeof(float) * (size_t)(BT * C));
        tcf_gemm_packed((int)BT, C, I, w->dfa, I, Lw->fi_bp, w->dy1, C, NULL, 1, nt);
        lora_bwd(l, w, li, TCF_LORA_INTERMEDIATE, (int)BT, w->dfa, I, a->y1, C, a->u[TCF_LORA_INTERMEDIATE],
                 w->dy1);
        /* LN1 -> dh1 (reuse tmpC); residual to x, and to the attention dense */
        float *dh1 = w->tmpC;
        ln_bwd(w, dh1, gl ? gl->ln1_g : NULL, gl ? gl->ln1_b : NULL, w->dy1, a->h1, a->m1, a->r1, Lw->ln1_g, BT, C);
        const float *dao = dh1;
        if (w->drop.hidden > 0) {
            drop_bwd(w, li, SITE_ATTN_OUT, w->dao, dh1, BT * C);
            dao = w->dao;
        }
        tcf_gemm_packed((int)BT, C, C, dao, C, Lw->ao_bp, w->dctx, C, NULL, 0, nt);
        if (gl) tcf_linear_backward((int)BT, C, C, dao, C, a->ctx, C, NULL, NULL, 0, 0, gl->ao_w, gl->ao_b, ws_dw, nt);
        lora_bwd(l, w, li, TCF_LORA_ATTN_OUT, (int)BT, dao, C, a->ctx, C, a->u[TCF_LORA_ATTN_OUT], w->dctx);
        tc.a = a, tc.layer = li;
        tcf_parallel_for_dyn((int64_t)B * H, 1, nt, attn_bwd_task, &tc);
        if (gl)
            tcf_linear_backward((int)BT, 3 * C, C, w->dqkv, 3 * C, a->x, C, NULL, NULL, 0, 0, gl->qkv_w, gl->qkv_b,
                                ws_dw, nt);
        /* dx = dh1 + dqkv Wqkv (+ LoRA q, k, v) -> next dh; layer 0's only
         * reader is the embeddings' backward, so without it (frozen
         * embeddings) the input gradient is skipped, not the LoRA dA/dB */
        float *dx = li > 0 || G ? w->dh : NULL;
        if (dx) {
            memcpy(dx, dh1, sizeof(float) * (size_t)(BT * C));
            tcf_gemm_packed((int)BT, C, 3 * C, w->dqkv, 3 * C, Lw->qkv_bp, dx, C, NULL, 1, nt);
        }
        for (int k = TCF_LORA_QUERY; k <= TCF_LORA_VALUE; k++)
            lora_bwd(l, w, li, k, (int)BT, w->dqkv + k * C, 3 * C, a->x, C, a->u[k], dx);
    }
    if (G) embed_backward(m, w, G, T, BT, ids);
    return TCF_OK;
}
