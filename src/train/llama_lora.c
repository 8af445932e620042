/*
 * llama_lora.c — gradients of LoRA adapters (PEFT's lora.Linear on q, k, v,
 * o, gate, up, down) and of the score head of a Llama-family decoder
 * classifier: a forward that keeps every activation the backward reads, then
 * the backward layer by layer, top to bottom.
 *
 * Only the real tokens (mask 1) are computed: the batch is packed into M
 * rows, sequence b owning rows [off[b], off[b + 1]) in order, so padding
 * costs nothing (a real token's numbers are what the padded form gives:
 * masked keys get weight 0 there, every other step is row by row).
 *
 * Per layer (M packed rows; the frozen parts as model/llama.c):
 *   h1 = RMSNorm(x_in); qkv = h1 Wqkv^T (+b) + LoRA_{q,k,v}(h1); RoPE(q, k)
 *   ctx = causal GQA attention (P saved); x_mid = x_in + ctx Wo^T + LoRA_o(ctx)
 *   h2 = RMSNorm(x_mid); gu = h2 Wgu^T + LoRA_{gate,up}(h2); act = silu(g) u
 *   x_out = x_mid + act Wd^T + LoRA_down(act)
 * LoRA adds s (x A^T) B^T, s = alpha / r, to the module's output (before
 * RoPE for q and k, as PEFT wraps q_proj / k_proj). Backward: the input
 * gradients flow through every frozen product (dX = dY W with the weights
 * packed by tcf_llama_enable_backward); only the adapters and the head get
 * parameter gradients. Checked against PEFT in tests/test_llama_lora.c.
 * Recompute mode (tcf_llama_lora_step_opts.recompute) keeps only each
 * layer's input through the forward and runs each layer's forward again
 * just before its backward (activation checkpointing per layer): the same
 * numbers, about L times less activation memory, one more forward.
 * lora_dropout (tcf_llama_lora_step_opts): each module's input to its A
 * branch is dropped as PEFT's nn.Dropout does, with a mask of its own keyed
 * by (seed, layer, module, step, packed element): the backward and the
 * recompute rebuild it.
 * A training step's workspace is kept in the adapter (tcf_llama_lora.ws)
 * and reused by the next step.
 */
#include "train/llama_lora.h"
#include "base/base.h"
#include "kern/decoder.h"
#include "kern/grad.h"
#include "kern/kern.h"

#include <math.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

const char *const tcf_llama_lora_module_names[TCF_LL_N] = {"q_proj", "k_proj", "v_proj", "o_proj",
                                                           "gate_proj", "up_proj", "down_proj"};

void tcf_llama_lora_dims(const tcf_llama_config *c, int mod, int *in, int *out) {
    const int C = c->hidden, I = c->inter, Q = c->heads * c->head_dim, K = c->kv_heads * c->head_dim;
    switch (mod) {
    case TCF_LL_Q: *in = C, *out = Q; break;
    case TCF_LL_K: case TCF_LL_V: *in = C, *out = K; break;
    case TCF_LL_O: *in = Q, *out = C; break;
    case TCF_LL_GATE: case TCF_LL_UP: *in = C, *out = I; break;
    default: *in = I, *out = C; break;
    }
}

tcf_status tcf_llama_lora_init(const tcf_llama_config *c, int r, float alpha, tcf_llama_lora **out) {
    *out = NULL;
    if (r <= 0) return tcf_fail(TCF_ERR_ARG, "LoRA rank %d must be positive", r);
    tcf_llama_lora *lo = calloc(1, sizeof *lo);
    const int n = c->layers * TCF_LL_N;
    size_t total = 0;
    for (int m = 0; m < TCF_LL_N; m++) {
        int in, o;
        tcf_llama_lora_dims(c, m, &in, &o);
        total += (size_t)r * (in + o);
    }
    total *= 2 * (size_t)c->layers; /* weights + gradients */
    if (lo) {
        lo->A = calloc((size_t)n, sizeof *lo->A), lo->B = calloc((size_t)n, sizeof *lo->B);
        lo->dA = calloc((size_t)n, sizeof *lo->dA), lo->dB = calloc((size_t)n, sizeof *lo->dB);
        lo->mem = calloc(total, sizeof(float));
    }
    if (!lo || !lo->A || !lo->B || !lo->dA || !lo->dB || !lo->mem) {
        tcf_llama_lora_free(lo);
        return tcf_fail(TCF_ERR_NOMEM, "cannot allocate LoRA adapters (r=%d)", r);
    }
    lo->r = r, lo->layers = c->layers, lo->scale = alpha / (float)r, lo->pooling = TCF_POOL_LAST;
    float *p = lo->mem;
    for (int i = 0; i < n; i++) {
        int in, o;
        tcf_llama_lora_dims(c, i % TCF_LL_N, &in, &o);
        lo->A[i] = p, p += (size_t)r * in;
        lo->B[i] = p, p += (size_t)o * r;
        lo->dA[i] = p, p += (size_t)r * in;
        lo->dB[i] = p, p += (size_t)o * r;
    }
    *out = lo;
    return TCF_OK;
}

void tcf_llama_lora_free(tcf_llama_lora *lo) {
    if (!lo) return;
    free(lo->A), free(lo->B), free(lo->dA), free(lo->dB), free(lo->mem);
    free(lo->score), free(lo->dscore), free(lo->names), free(lo->ws);
    free(lo);
}

tcf_status tcf_llama_lora_init_head(tcf_llama_lora *lo, int n_labels, int hidden) {
    if (n_labels < 1 || hidden < 1) return tcf_fail(TCF_ERR_ARG, "score head: %d labels, hidden %d", n_labels, hidden);
    free(lo->score), free(lo->dscore);
    lo->score = calloc((size_t)n_labels * hidden, sizeof(float));
    lo->dscore = calloc((size_t)n_labels * hidden, sizeof(float));
    if (!lo->score || !lo->dscore) return tcf_fail(TCF_ERR_NOMEM, "score head: out of memory");
    lo->n_labels = n_labels, lo->hidden = hidden;
    return TCF_OK;
}

void tcf_llama_lora_init_default(tcf_llama_lora *lo, uint64_t seed) {
    uint64_t s = seed;
    for (int i = 0; i < lo->layers * TCF_LL_N; i++) {
        int64_t na = lo->B[i] - lo->A[i], nb = lo->dA[i] - lo->B[i];
        tcf_lora_fill_kaiming(lo->A[i], lo->r, (int)(na / lo->r), &s);
        memset(lo->B[i], 0, sizeof(float) * (size_t)nb);
    }
    if (lo->score) tcf_lora_fill_normal(lo->score, (int64_t)lo->n_labels * lo->hidden, 0.02, &s);
}

int tcf_llama_lora_params(tcf_llama_lora *lo, tcf_param *out, int cap) {
    const int nm = lo->layers * TCF_LL_N;
    if (!lo->names && !(lo->names = calloc((size_t)2 * nm + 1, sizeof *lo->names))) return 0;
    int n = 0;
    for (int i = 0; i < nm && n + 2 <= cap; i++) {
        const int mod = i % TCF_LL_N, l = i / TCF_LL_N;
        const char *blk = mod <= TCF_LL_O ? "self_attn" : "mlp";
        const int64_t na = lo->B[i] - lo->A[i], nb = lo->dA[i] - lo->B[i];
        const int in = (int)(na / lo->r), o = (int)(nb / lo->r);
        snprintf(lo->names[n], sizeof lo->names[n], "base_model.model.model.layers.%d.%s.%s.lora_A.weight", l, blk,
                 tcf_llama_lora_module_names[mod]);
        out[n] = (tcf_param){lo->names[n], lo->A[i], lo->dA[i], na, 2, {lo->r, in}};
        n++;
        snprintf(lo->names[n], sizeof lo->names[n], "base_model.model.model.layers.%d.%s.%s.lora_B.weight", l, blk,
                 tcf_llama_lora_module_names[mod]);
        out[n] = (tcf_param){lo->names[n], lo->B[i], lo->dB[i], nb, 2, {o, lo->r}};
        n++;
    }
    if (lo->score && n + 1 <= cap) {
        snprintf(lo->names[n], sizeof lo->names[n], "base_model.model.score.weight");
        out[n] = (tcf_param){lo->names[n], lo->score, lo->dscore, (int64_t)lo->n_labels * lo->hidden, 2,
                             {lo->n_labels, lo->hidden}};
        n++;
    }
    return n;
}

void tcf_llama_lora_delta_row(const tcf_llama_lora *lo, int idx, int o, float *d) {
    const int in = (int)((lo->B[idx] - lo->A[idx]) / lo->r); /* A is (r, in) */
    memset(d, 0, sizeof(float) * (size_t)in);
    for (int k = 0; k < lo->r; k++) {
        const float b = lo->scale * lo->B[idx][(int64_t)o * lo->r + k];
        const float *a = lo->A[idx] + (int64_t)k * in;
        for (int i = 0; i < in; i++) d[i] += b * a[i];
    }
}

void tcf_llama_lora_zero_grad(tcf_llama_lora *lo) {
    if (lo->dscore) memset(lo->dscore, 0, sizeof(float) * (size_t)lo->n_labels * lo->hidden);
    /* each entry is laid out A | B | dA | dB: dA has B - A floats, dB dA - B */
    for (int i = 0; i < lo->layers * TCF_LL_N; i++) {
        memset(lo->dA[i], 0, sizeof(float) * (size_t)(lo->B[i] - lo->A[i]));
        memset(lo->dB[i], 0, sizeof(float) * (size_t)(lo->dA[i] - lo->B[i]));
    }
}

/* ---- saved activations ------------------------------------------------- */

typedef struct {
    float *x_in, *h1, *qkv, *P, *ctx, *x_mid, *h2, *gu, *act; /* see the file comment */
    float *u[TCF_LL_N];                                       /* (M, r) per module */
} saved;

typedef struct {
    const tcf_llama *m;
    int B, T;
    int64_t M;            /* packed rows */
    const int32_t *off;   /* (B + 1) first packed row of each sequence */
    const int64_t *poff;  /* (B + 1) first float of each sequence's P (H L^2 each) */
    const uint8_t *ones;  /* (T) all 1: every packed key is real */
    const int32_t *pos;
    const float *cos_t, *sin_t;
    const saved *s;
    float *dctx, *dqkv; /* backward: (M, Q), (M, N) */
    float *scratch;     /* per thread */
    int64_t per_thread;
} task_ctx;

static void rope_rows(task_ctx *f, float *qkv, int backward, int64_t begin, int64_t end) {
    const tcf_llama_config *c = &f->m->cfg;
    const int D = c->head_dim, half = D / 2, Q = c->heads * D, N = Q + 2 * c->kv_heads * D;
    for (int64_t r = begin; r < end; r++) {
        float *row = qkv + r * N;
        const float *cr = f->cos_t + (int64_t)f->pos[r] * half, *sr = f->sin_t + (int64_t)f->pos[r] * half;
        if (backward) {
            tcf_rope_backward(row, c->heads, D, cr, sr);
            tcf_rope_backward(row + Q, c->kv_heads, D, cr, sr);
        } else {
            tcf_rope_apply(row, c->heads, D, cr, sr);
            tcf_rope_apply(row + Q, c->kv_heads, D, cr, sr);
        }
    }
}

/* one task = one (sequence, head), over its L real tokens */
static void attn_fwd_task(void *vctx, int64_t begin, int64_t end, int tid) {
    task_ctx *f = vctx;
    const tcf_llama_config *c = &f->m->cfg;
    const int D = c->head_dim, H = c->heads, Q = H * D, K = c->kv_heads * D, N = Q + 2 * K;
    const float scale = 1.0f / sqrtf((float)D);
    for (int64_t bh = begin; bh < end; bh++) {
        int b = (int)(bh / H), h = (int)(bh % H), g = h / (H / c->kv_heads), L = f->off[b + 1] - f->off[b];
        const float *base = f->s->qkv + (int64_t)f->off[b] * N;
        tcf_attn_causal_head_forward(L, D, base + h * D, base + Q + g * D, base + Q + K + g * D, N, f->ones, scale,
                                     f->s->ctx + (int64_t)f->off[b] * Q + h * D, Q,
                                     f->s->P + f->poff[b] + (int64_t)h * L * L, f->scratch + tid * f->per_thread);
    }
}

/* one task = one (sequence, kv head): its group's dQ, and dK, dV summed */
static void attn_bwd_task(void *vctx, int64_t begin, int64_t end, int tid) {
    task_ctx *f = vctx;
    const tcf_llama_config *c = &f->m->cfg;
    const int D = c->head_dim, H = c->heads, Hkv = c->kv_heads, Q = H * D, K = Hkv * D;
    const int N = Q + 2 * K, group = H / Hkv;
    const float scale = 1.0f / sqrtf((float)D);
    float *sc = f->scratch + tid * f->per_thread;
    for (int64_t bg = begin; bg < end; bg++) {
        const int b = (int)(bg / Hkv), g = (int)(bg % Hkv), T = f->off[b + 1] - f->off[b];
        float *tq = sc + tcf_attn_backward_scratch(T, D), *tk = tq + (int64_t)T * D, *tv = tk + (int64_t)T * D;
        const float *base = f->s->qkv + (int64_t)f->off[b] * N;
        float *dbase = f->dqkv + (int64_t)f->off[b] * N;
        for (int t = 0; t < T; t++) {
            memset(dbase + (int64_t)t * N + Q + g * D, 0, sizeof(float) * D);
            memset(dbase + (int64_t)t * N + Q + K + g * D, 0, sizeof(float) * D);
        }
        for (int h = g * group; h < (g + 1) * group; h++) {
            tcf_attn_head_backward(T, D, base + h * D, base + Q + g * D, base + Q + K + g * D, N,
                                   f->s->P + f->poff[b] + (int64_t)h * T * T, NULL, scale, NULL,
                                   f->dctx + (int64_t)f->off[b] * Q + h * D, Q, tq, tk, tv, D, sc);
            for (int t = 0; t < T; t++) {
                float *row = dbase + (int64_t)t * N;
                memcpy(row + h * D, tq + (int64_t)t * D, sizeof(float) * D);
                for (int d = 0; d < D; d++) {
                    row[Q + g * D + d] += tk[(int64_t)t * D + d];
                    row[Q + K + g * D + d] += tv[(int64_t)t * D + d];
                }
            }
        }
    }
}

/* ---- one layer ---------------------------------------------------------- */

typedef struct {
    const tcf_llama *m;
    const tcf_llama_lora *lo;
    task_ctx *f;
    float *lsc; /* LoRA scratch */
    int n_threads;
    /* lora_dropout (PEFT's nn.Dropout on each wrapped module's input, the A
     * branch only): probability, seed and step of the masks; xdrop and dxa
     * (M, max(C, I, Q)) hold one module's dropped input and its gradient */
    float p;
    uint64_t dseed, dstep;
    float *xdrop, *dxa;
} step_ctx;

/* The mask of module mod in layer l: keyed by (this seed, the step, the
 * element's index among the M x in packed inputs), so the recompute and the
 * backward rebuild it instead of storing it, for any thread count. */
static uint64_t drop_seed(const step_ctx *k, int l, int mod) {
    return tcf_dropout_site_seed(k->dseed, (uint64_t)(l * TCF_LL_N + mod));
}

/* x (M, K) after module (l, mod)'s dropout, or x itself when off */
static const float *lora_in(const step_ctx *k, int l, int mod, const float *x, int K) {
    if (k->p <= 0) return x;
    tcf_dropout_forward(k->xdrop, x, k->f->M * K, k->p, drop_seed(k, l, mod), k->dstep, 0);
    return k->xdrop;
}

/* y (M, N; ldy) += module (l, mod)'s LoRA branch on x (M, K); u its saved x_drop A^T */
static void lora_fwd(const step_ctx *k, int l, int mod, const float *x, int K, int N, float *y, int ldy, float *u) {
    const int i = l * TCF_LL_N + mod;
    tcf_lora_forward((int)k->f->M, N, K, k->lo->r, k->lo->scale, x, K, lora_in(k, l, mod, x, K), K, NULL, NULL,
                     k->lo->A[i], k->lo->B[i], y, ldy, u, k->lsc, k->n_threads);
}

/* dA, dB += and dx (M, K) += of module (l, mod) from dy (M, N; lddy) */
static void lora_bwd(const step_ctx *k, int l, int mod, const float *dy, int lddy, int N, const float *x, int K,
                     const float *u, float *dx) {
    const int i = l * TCF_LL_N + mod;
    const float *xd = lora_in(k, l, mod, x, K);
    const int dropped = xd != x;
    tcf_lora_backward((int)k->f->M, N, K, k->lo->r, k->lo->scale, dy, lddy, xd, K, u, k->lo->A[i], k->lo->B[i],
                      k->lo->dA[i], k->lo->dB[i], dropped ? k->dxa : dx, K, !dropped, k->lsc, k->n_threads);
    if (dropped) tcf_dropout_backward(dx, k->dxa, k->f->M * K, k->p, drop_seed(k, l, mod), k->dstep, 0, 1);
}

/* Layer l forward from S->x_in into x (M, C): fills every other saved
 * activation of S. x may not alias S->x_in. */
static void layer_forward(const step_ctx *k, int l, saved *S, float *x) {
    const tcf_llama *m = k->m;
    const tcf_llama_config *c = &m->cfg;
    const tcf_llama_layer *Ly = &m->layer[l];
    const int C = c->hidden, I = c->inter, D = c->head_dim, Q = c->heads * D, K = c->kv_heads * D;
    const int N = Q + 2 * K, nt = k->n_threads;
    task_ctx *f = k->f;
    const int64_t M = f->M;
    memcpy(x, S->x_in, sizeof(float) * M * C);
    tcf_rmsnorm(S->h1, x, Ly->attn_norm, M, C, c->rms_eps);
    tcf_llama_linear(m, l, TCF_LW_QKV, (int)M, S->h1, S->qkv, 0, nt);
    const int off[3] = {0, Q, Q + K}, outs[3] = {Q, K, K};
    for (int j = 0; j < 3; j++) lora_fwd(k, l, j, S->h1, C, outs[j], S->qkv + off[j], N, S->u[j]);
    rope_rows(f, S->qkv, 0, 0, M);
    f->s = S;
    tcf_parallel_for_dyn((int64_t)f->B * c->heads, 1, nt, attn_fwd_task, f);
    tcf_llama_linear(m, l, TCF_LW_O, (int)M, S->ctx, x, 1, nt);
    lora_fwd(k, l, TCF_LL_O, S->ctx, Q, C, x, C, S->u[TCF_LL_O]);
    memcpy(S->x_mid, x, sizeof(float) * M * C);
    tcf_rmsnorm(S->h2, x, Ly->ffn_norm, M, C, c->rms_eps);
    tcf_llama_linear(m, l, TCF_LW_GU, (int)M, S->h2, S->gu, 0, nt);
    lora_fwd(k, l, TCF_LL_GATE, S->h2, C, I, S->gu, 2 * I, S->u[TCF_LL_GATE]);
    lora_fwd(k, l, TCF_LL_UP, S->h2, C, I, S->gu + I, 2 * I, S->u[TCF_LL_UP]);
    for (int64_t i = 0; i < M; i++) tcf_swiglu(S->act + i * I, S->gu + i * 2 * I, S->gu + i * 2 * I + I, I);
    tcf_llama_linear(m, l, TCF_LW_DOWN, (int)M, S->act, x, 1, nt);
    lora_fwd(k, l, TCF_LL_DOWN, S->act, I, C, x, C, S->u[TCF_LL_DOWN]);
}

/* Layer l backward: dx (M, C) holds d loss / d x_out on entry and d loss /
 * d x_in on return; adapter gradients added to lo->dA, dB. dh (M, C), dbig
 * (M, max(2I, N, Q)) and dact (M, max(I, Q)) are scratch. */
static void layer_backward(const step_ctx *k, int l, const saved *S, float *dx, float *dh, float *dbig, float *dact) {
    const tcf_llama *m = k->m;
    const tcf_llama_config *c = &m->cfg;
    const tcf_llama_layer *Ly = &m->layer[l];
    const int C = c->hidden, I = c->inter, D = c->head_dim, Q = c->heads * D, K = c->kv_heads * D;
    const int N = Q + 2 * K, nt = k->n_threads;
    task_ctx *f = k->f;
    const int64_t M = f->M;
    /* down: dact = dx Wd (+ LoRA) */
    tcf_llama_linear_bwd(m, l, TCF_LW_DOWN, (int)M, dx, dact, 0, nt);
    lora_bwd(k, l, TCF_LL_DOWN, dx, C, C, S->act, I, S->u[TCF_LL_DOWN], dact);
    /* SwiGLU: dgu (M, 2I) = [dgate | dup] */
    for (int64_t i = 0; i < M; i++)
        tcf_swiglu_backward(dbig + i * 2 * I, dbig + i * 2 * I + I, dact + i * I, S->gu + i * 2 * I,
                            S->gu + i * 2 * I + I, I);
    tcf_llama_linear_bwd(m, l, TCF_LW_GU, (int)M, dbig, dh, 0, nt);
    lora_bwd(k, l, TCF_LL_GATE, dbig, 2 * I, I, S->h2, C, S->u[TCF_LL_GATE], dh);
    lora_bwd(k, l, TCF_LL_UP, dbig + I, 2 * I, I, S->h2, C, S->u[TCF_LL_UP], dh);
    tcf_rmsnorm_backward(dh, NULL, dh, S->x_mid, Ly->ffn_norm, M, C, c->rms_eps);
    for (int64_t i = 0; i < M * C; i++) dx[i] += dh[i];
    /* o: dctx = dx Wo (+ LoRA); dctx reuses dact */
    float *dctx = dact;
    tcf_llama_linear_bwd(m, l, TCF_LW_O, (int)M, dx, dctx, 0, nt);
    lora_bwd(k, l, TCF_LL_O, dx, C, C, S->ctx, Q, S->u[TCF_LL_O], dctx);
    /* attention -> dqkv (M, N), then RoPE back */
    f->s = S, f->dctx = dctx, f->dqkv = dbig;
    tcf_parallel_for_dyn((int64_t)f->B * c->kv_heads, 1, nt, attn_bwd_task, f);
    rope_rows(f, dbig, 1, 0, M);
    /* qkv: dh1 = dqkv Wqkv (+ LoRA q, k, v) */
    tcf_llama_linear_bwd(m, l, TCF_LW_QKV, (int)M, dbig, dh, 0, nt);
    const int off[3] = {0, Q, Q + K}, outs[3] = {Q, K, K};
    for (int j = 0; j < 3; j++) lora_bwd(k, l, j, dbig + off[j], N, outs[j], S->h1, C, S->u[j], dh);
    tcf_rmsnorm_backward(dh, NULL, dh, S->x_in, Ly->attn_norm, M, C, c->rms_eps);
    for (int64_t i = 0; i < M * C; i++) dx[i] += dh[i];
}

/* ---- the step -------------------------------------------------------------- */

/* off: the batch's packed-row offsets (tcf_pack_offsets) */
static tcf_status check_batch(const tcf_llama_config *c, int n_labels, int B, int T, const int32_t *ids,
                              const uint8_t *mask, const int32_t *off, const int32_t *labels) {
    for (int64_t i = 0; i < (int64_t)B * T; i++)
        if (mask[i] && (ids[i] < 0 || ids[i] >= c->vocab))
            return tcf_fail(TCF_ERR_ARG, "LoRA step: token id %d outside vocab [0, %d)", ids[i], c->vocab);
    for (int b = 0; b < B; b++)
        if (off[b + 1] == off[b])
            return tcf_fail(TCF_ERR_ARG, "LoRA step: row %d has no real token (its mask is all 0)", b);
    for (int b = 0; labels && b < B; b++)
        if (labels[b] < 0 || labels[b] >= n_labels)
            return tcf_fail(TCF_ERR_ARG, "LoRA step: label %d of row %d outside [0, %d)", labels[b], b, n_labels);
    return TCF_OK;
}

/* Forward (and, with labels and backward, the backward) of one batch. */
static tcf_status run_step(tcf_llama *m, tcf_llama_lora *lo, const float *score, float *dscore, int n_labels, int B,
                           int T, const int32_t *ids, const uint8_t *mask, const int32_t *labels, int backward,
                           const tcf_llama_lora_step_opts *so, float *logits, float *loss, int n_threads) {
    const tcf_llama_config *c = &m->cfg;
    const int C = c->hidden, I = c->inter, D = c->head_dim, H = c->heads, Q = H * D, K = c->kv_heads * D;
    const int N = Q + 2 * K, L = c->layers, r = lo->r;
    if (B <= 0 || T <= 0 || T > c->max_pos)
        return tcf_fail(TCF_ERR_ARG, "LoRA step: bad batch shape B=%d T=%d (max %d positions)", B, T, c->max_pos);
    /* packed rows: sequence b's real tokens are rows [off[b], off[b + 1]);
     * its attention probabilities H L^2 floats from poff[b] */
    int32_t *off = malloc(sizeof(int32_t) * ((size_t)B + 1));
    int64_t *poff = malloc(sizeof(int64_t) * ((size_t)B + 1));
    if (!off || !poff) {
        free(off), free(poff);
        return tcf_fail(TCF_ERR_NOMEM, "LoRA step: out of memory for B=%d", B);
    }
    const int64_t M = tcf_pack_offsets(B, T, mask, off);
    poff[0] = 0;
    for (int b = 0; b < B; b++) poff[b + 1] = poff[b] + (int64_t)H * (off[b + 1] - off[b]) * (off[b + 1] - off[b]);
    tcf_status st = check_batch(c, n_labels, B, T, ids, mask, off, labels);
    if (!st && backward) st = tcf_llama_enable_backward(m);
    if (st) {
        free(off), free(poff);
        return st;
    }
    if (n_threads <= 0) n_threads = tcf_default_threads();
    /* saved activations: every layer's (backward without recompute), or one
     * layer's plus each layer's input (recompute, or forward only) */
    const int keep_all = backward && !(so && so->recompute);
    const int n_saved = keep_all ? L : 1;
    const int64_t per_layer = M * (4 * (int64_t)C + N + Q + 3 * (int64_t)I) + poff[B] + TCF_LL_N * M * r;
    int64_t big = 2 * (int64_t)I > N ? 2 * (int64_t)I : N; /* widest gradient row */
    if (Q > big) big = Q;
    const int64_t wact = I > Q ? I : Q;
    size_t lscr = 0;
    for (int mod = 0; mod < TCF_LL_N; mod++) {
        int in, out;
        tcf_llama_lora_dims(c, mod, &in, &out);
        size_t a = tcf_lora_forward_scratch(out, in, r), b2 = tcf_lora_backward_scratch((int)M, out, r);
        if (a > lscr) lscr = a;
        if (b2 > lscr) lscr = b2;
    }
    const int64_t per_thread = (int64_t)tcf_attn_backward_scratch(T, D) + 3 * (int64_t)T * D;
    const int64_t xin_all = keep_all ? 0 : (backward ? (int64_t)L * M * C : 0);
    const int64_t grads = backward ? 2 * M * C + M * big + M * wact : 0;
    /* lora_dropout: one module's dropped input and its gradient */
    const float pdrop = backward && so ? so->lora_dropout : 0.0f;
    const int64_t wdrop = pdrop > 0 ? M * (wact > C ? wact : C) : 0;
    size_t total = (size_t)(n_saved * per_layer + xin_all + 2 * M * C /* x, hidden */ + grads + 2 * wdrop + (int64_t)T * D +
                            (int64_t)n_threads * per_thread + (int64_t)lscr + (int64_t)B * (C + 2 * n_labels) + 3 * M + C +
                            T);
    /* a training step reuses the adapter's workspace (grown to the largest
     * batch so far): a fresh allocation of this size is mapped pages that
     * fault in on first touch, ~15% of a step's time (system time); the
     * forward-only path allocates per call (it must be thread-safe) */
    float *mem = NULL;
    if (backward) {
        if (lo->ws_floats < total) {
            free(lo->ws);
            lo->ws_floats = 0;
            if ((lo->ws = malloc(total * sizeof(float)))) lo->ws_floats = total;
        }
        mem = lo->ws;
    } else mem = malloc(total * sizeof(float));
    saved *sv = malloc(sizeof(saved) * (size_t)L);
    if (!mem || !sv) {
        if (!backward) free(mem);
        free(sv), free(off), free(poff);
        return tcf_fail(TCF_ERR_NOMEM, "LoRA step: cannot allocate %zu MB of activations", total * 4 >> 20);
    }
    float *p = mem;
#define TAKE(n) (p += (n), p - (n))
    for (int l = 0; l < n_saved; l++) {
        saved *S = &sv[l];
        S->x_in = TAKE(M * C), S->h1 = TAKE(M * C), S->qkv = TAKE(M * N), S->P = TAKE(poff[B]);
        S->ctx = TAKE(M * Q), S->x_mid = TAKE(M * C), S->h2 = TAKE(M * C), S->gu = TAKE(M * 2 * I);
        S->act = TAKE(M * I);
        for (int mod = 0; mod < TCF_LL_N; mod++) S->u[mod] = TAKE(M * r);
    }
    for (int l = n_saved; l < L; l++) sv[l] = sv[0];
    float *xin = xin_all ? TAKE(xin_all) : NULL; /* (L, M, C) layer inputs */
    float *x = TAKE(M * C);      /* (M, C) residual stream, then x_f */
    float *hidden = TAKE(M * C); /* (M, C) final norm output */
    float *dx = NULL, *dh = NULL, *dbig = NULL, *dact = NULL;
    if (backward) dx = TAKE(M * C), dh = TAKE(M * C), dbig = TAKE(M * big), dact = TAKE(M * wact);
    float *xdrop = wdrop ? TAKE(wdrop) : NULL, *dxa = wdrop ? TAKE(wdrop) : NULL;
    float *cos_t = TAKE((int64_t)T * D / 2), *sin_t = TAKE((int64_t)T * D / 2);
    float *scratch = TAKE((int64_t)n_threads * per_thread), *lsc = TAKE((int64_t)lscr);
    float *pooled = TAKE((int64_t)B * C), *lg = TAKE((int64_t)B * n_labels), *dlg = TAKE((int64_t)B * n_labels);
    int32_t *pos = (int32_t *)TAKE(M), *pids = (int32_t *)TAKE(M);
    uint8_t *ones = (uint8_t *)TAKE(T); /* T floats hold T bytes */
    float *pw = TAKE(M), *dpool = TAKE(C); /* pooling weights (M), d loss / d pooled of one row */
#undef TAKE
    tcf_llama_pack_ids(B, T, ids, mask, off, pids, pos);
    memset(ones, 1, (size_t)T);
    tcf_rope_table(cos_t, sin_t, T, D, c->rope_theta);
    task_ctx f = {m, B, T, M, off, poff, ones, pos, cos_t, sin_t, NULL, NULL, NULL, scratch, per_thread};
    const step_ctx k = {m,     lo,    &f, lsc, n_threads, pdrop, so ? so->dropout_seed : 0, so ? so->dropout_step : 0,
                        xdrop, dxa};

    /* ---- forward ---- */
    tcf_llama_embed_rows(m, pids, M, x);
    for (int l = 0; l < L; l++) {
        saved *S = &sv[l];
        if (xin) S->x_in = xin + (int64_t)l * M * C;
        memcpy(S->x_in, x, sizeof(float) * M * C);
        layer_forward(&k, l, S, x);
    }
    tcf_rmsnorm(hidden, x, m->out_norm, M, C, c->rms_eps);
    /* pooled row b = sum over its packed rows t of pw[t] * hidden[t]: 1 at
     * the last real token, or 1/n at each of its n real tokens (mean) */
    for (int b = 0; b < B; b++) {
        const int n_real = off[b + 1] - off[b];
        float *wr = pw + off[b], *pr = pooled + (int64_t)b * C;
        for (int t = 0; t < n_real; t++)
            wr[t] = lo->pooling == TCF_POOL_MEAN ? 1.0f / (float)n_real : t == n_real - 1 ? 1.0f : 0.0f;
        memset(pr, 0, sizeof(float) * C);
        for (int t = 0; t < n_real; t++) {
            if (wr[t] == 0.0f) continue;
            const float *hr = hidden + ((int64_t)off[b] + t) * C;
            if (wr[t] == 1.0f) memcpy(pr, hr, sizeof(float) * C);
            else
                for (int i = 0; i < C; i++) pr[i] += wr[t] * hr[i];
        }
    }
    for (int b = 0; b < B; b++)
        for (int j = 0; j < n_labels; j++) {
            float acc = 0;
            for (int i = 0; i < C; i++) acc += pooled[(int64_t)b * C + i] * score[(int64_t)j * C + i];
            lg[b * n_labels + j] = acc;
        }
    if (logits) memcpy(logits, lg, sizeof(float) * (size_t)B * n_labels);
    if (labels) {
        float L_ = tcf_cross_entropy(B, n_labels, lg, labels, so ? so->class_w : NULL,
                                     so ? so->label_smoothing : 0.0f, dlg);
        if (loss) *loss = L_;
    }
    if (!backward || !labels) goto done;

    /* ---- backward: head, final norm ---- */
    memset(dh, 0, sizeof(float) * M * C);
    for (int b = 0; b < B; b++) {
        memset(dpool, 0, sizeof(float) * C);
        for (int j = 0; j < n_labels; j++) {
            float g = dlg[b * n_labels + j];
            const float *pr = pooled + (int64_t)b * C, *sr = score + (int64_t)j * C;
            for (int i = 0; i < C; i++) {
                if (dscore) dscore[(int64_t)j * C + i] += g * pr[i];
                dpool[i] += g * sr[i];
            }
        }
        for (int t = off[b]; t < off[b + 1]; t++) {
            const float w = pw[t];
            float *dr = dh + (int64_t)t * C;
            if (w != 0.0f)
                for (int i = 0; i < C; i++) dr[i] += w * dpool[i];
        }
    }
    tcf_rmsnorm_backward(dx, NULL, dh, x, m->out_norm, M, C, c->rms_eps);

    /* ---- backward: layers (recompute: each layer's forward again first) ---- */
    for (int l = L - 1; l >= 0; l--) {
        saved *S = &sv[l];
        if (xin) {
            S->x_in = xin + (int64_t)l * M * C;
            layer_forward(&k, l, S, x);
        }
        layer_backward(&k, l, S, dx, dh, dbig, dact);
    }
done:
    free(sv);
    if (!backward) free(mem);
    free(off), free(poff);
    return TCF_OK;
}

tcf_status tcf_llama_lora_step(tcf_llama *m, tcf_llama_lora *lo, const float *score, float *dscore, int n_labels,
                               int B, int T, const int32_t *ids, const uint8_t *mask, const int32_t *labels,
                               const tcf_llama_lora_step_opts *so, float *logits, float *loss, int n_threads) {
    if (!labels) return tcf_fail(TCF_ERR_ARG, "LoRA step: labels are required");
    return run_step(m, lo, score, dscore, n_labels, B, T, ids, mask, labels, 1, so, logits, loss, n_threads);
}

tcf_status tcf_llama_lora_grad(tcf_llama *m, tcf_llama_lora *lo, const float *score, float *dscore,
                               int n_labels, int B, int T, const int32_t *ids, const uint8_t *mask,
                               const int32_t *labels, float *logits, float *loss, int n_threads) {
    return tcf_llama_lora_step(m, lo, score, dscore, n_labels, B, T, ids, mask, labels, NULL, logits, loss, n_threads);
}

tcf_status tcf_llama_lora_logits(const tcf_llama *m, const tcf_llama_lora *lo, const float *score, int n_labels,
                                 int B, int T, const int32_t *ids, const uint8_t *mask, float *logits,
                                 int n_threads) {
    /* backward = 0 never writes the model or the adapters */
    return run_step((tcf_llama *)m, (tcf_llama_lora *)lo, score, NULL, n_labels, B, T, ids, mask, NULL, 0, NULL,
                    logits, NULL, n_threads);
}
