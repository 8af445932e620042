/*
 * grad.h — backward-pass kernels for fine-tuning (LoRA on a BERT encoder for
 * sequence classification), f32, row-major, with the forwards that save what
 * the backwards need.
 *
 * Conventions:
 *  - Shapes are in comments on every buffer; leading dimensions (ld*) are in
 *    floats and are given where a buffer is often a view into a wider one
 *    (the packed (B*T, 3C) q|k|v rows, for instance).
 *  - No allocation: a kernel that needs temporaries takes `scratch`, sized by
 *    its `_scratch` function (in floats).
 *  - Parameter gradients (dgamma, dbeta, dW, db, dA, dB) accumulate (+=) so
 *    callers can sum over rows, batches and micro-batches; zero them first.
 *    Input gradients are written unless the kernel has an `accumulate` flag.
 *  - Every backward is checked against central finite differences of a
 *    double-precision forward in tests/test_grad.c.
 *
 * Not here: the model-level wiring (src/model, src/train), optimisers,
 * multi-threading of the per-(batch, head) attention kernels (callers run
 * them inside pool tasks, as bert.c's forward does).
 */
#ifndef TCF_GRAD_H
#define TCF_GRAD_H

#include <stddef.h>
#include <stdint.h>

/* ---- 1. LayerNorm --------------------------------------------------------
 * y = (x - mean) * rstd * g + b per row, rstd = 1/sqrt(var + eps), var the
 * biased variance (torch.nn.LayerNorm). Same numerics as tcf_layernorm.
 * In place (y == x) is fine. */
void tcf_layernorm_forward(float *y,          /* (rows, C) */
                           float *mean,       /* (rows) saved */
                           float *rstd,       /* (rows) saved */
                           const float *x,    /* (rows, C) */
                           const float *g,    /* (C) */
                           const float *b,    /* (C) */
                           int64_t rows, int C, float eps);
/* dx = d/dx; dg += sum_rows dy * xhat; db += sum_rows dy. dg/db may be NULL
 * (frozen LayerNorm). dx == dy is fine. x is the forward's input. */
void tcf_layernorm_backward(float *dx,          /* (rows, C) written */
                            float *dg,          /* (C) += or NULL */
                            float *db,          /* (C) += or NULL */
                            const float *dy,    /* (rows, C) */
                            const float *x,     /* (rows, C) */
                            const float *mean,  /* (rows) */
                            const float *rstd,  /* (rows) */
                            const float *g,     /* (C) */
                            int64_t rows, int C);

/* ---- 2. GELU (erf form) --------------------------------------------------
 * dx = dy * gelu'(x), gelu'(x) = Phi(x) + x phi(x). x is the pre-activation
 * (the forward's input). dx == dy is fine. */
void tcf_gelu_backward(float *dx, const float *dy, const float *x, int64_t n);
/* Scalar libm reference of the same (the AVX2 path is checked against it). */
void tcf_gelu_backward_ref(float *dx, const float *dy, const float *x, int64_t n);

/* ---- 3. Softmax over rows ------------------------------------------------
 * P = softmax(S) per row over the keys with key_mask[j] != 0 (key_mask NULL:
 * all); masked keys get probability 0, a row with no unmasked key is all 0
 * (as bert.c's forward). P == S is fine. */
void tcf_softmax_forward(float *P,                /* (rows, cols) */
                         const float *S,          /* (rows, cols) */
                         const uint8_t *key_mask, /* (cols) or NULL */
                         int64_t rows, int cols);
/* dS = P * (dP - rowsum(dP * P)); zero where P is 0 (masked). dS == dP is fine. */
void tcf_softmax_backward(float *dS,        /* (rows, cols) */
                          const float *P,   /* (rows, cols) from the forward */
                          const float *dP,  /* (rows, cols) */
                          int64_t rows, int cols);

/* ---- 4. Self-attention, one (batch row, head) ----------------------------
 * Q, K, V are (T, D) views with row stride ld (in bert.c: base + h*D,
 * base + C + h*D, base + 2C + h*D of the (B*T, 3C) qkv rows, ld = 3C).
 *   S = scale * Q K^T (T, T), masked keys excluded; P = softmax(S);
 *   ctx = dropout(P) V.
 * Dropout on the probabilities (BertSelfAttention's attention_probs_dropout):
 * element (i, j) is kept iff tcf_dropout_keep(seed, step, offset + i*T + j, p)
 * (section 9), so for a (B, H, T, T) tensor pass offset = (b*H + h)*T*T;
 * NULL or p <= 0: none. P saved is the probabilities before dropout.
 * Serial (tcf_gemm with one thread): run one call per (b, h) in pool tasks. */
typedef struct {
    float p;
    uint64_t seed, step, offset;
} tcf_attn_dropout;
size_t tcf_attn_forward_scratch(int T, int D); /* floats */
void tcf_attn_head_forward(int T, int D, const float *Q, const float *K, const float *V, int ld,
                           const uint8_t *key_mask, /* (T) or NULL */
                           float scale,             /* 1/sqrt(D) */
                           const tcf_attn_dropout *drop, /* or NULL */
                           float *ctx, int ldc,     /* (T, D) written */
                           float *P,                /* (T, T) saved for the backward */
                           float *scratch);
/* From dctx (T, D) and the saved P: dQ, dK, dV (T, D) written with row stride
 * ldd (in the (B*T, 3C) dqkv layout: ldd = 3C, columns as for Q, K, V).
 * With Pd = dropout(P) (the forward's mask, recomputed; P without dropout):
 *   dV = Pd^T dctx;  dP = dropout'(dctx V^T);  dS = softmax_backward(P, dP) * scale;
 *   dQ = dS K;  dK = dS^T Q.
 * key_mask is only documentation of intent: masked keys have P = 0, so they
 * get dK = dV = 0 through P; it may be NULL. */
size_t tcf_attn_backward_scratch(int T, int D); /* floats */
void tcf_attn_head_backward(int T, int D, const float *Q, const float *K, const float *V, int ld,
                            const float *P,          /* (T, T) */
                            const uint8_t *key_mask, /* (T) or NULL */
                            float scale,
                            const tcf_attn_dropout *drop, /* the forward's, or NULL */
                            const float *dctx, int lddc, /* (T, D) */
                            float *dQ, float *dK, float *dV, int ldd, /* (T, D) each, written */
                            float *scratch);

/* ---- 5. Linear y = x W^T + b, W as nn.Linear (N = out, K = in) -----------
 * The forward is tcf_gemm_packed with W packed transposed (kern.h).
 *   dx (M, K) = dy @ W  (written, or += if accumulate_dx), skipped if dx NULL
 *   dW (N, K) += dy^T @ x, skipped if dW NULL (frozen base weight)
 *   db (N)    += colsum(dy), skipped if db NULL
 * scratch: tcf_linear_backward_scratch(M, N) floats (only used for dW). */
size_t tcf_linear_backward_scratch(int M, int N);
void tcf_linear_backward(int M, int N, int K,
                         const float *dy, int lddy, /* (M, N) */
                         const float *x, int ldx,   /* (M, K), only read for dW */
                         const float *W,            /* (N, K) plain, not packed */
                         float *dx, int lddx,       /* (M, K) or NULL */
                         int accumulate_dx,
                         float *dW,                 /* (N, K) += or NULL */
                         float *db,                 /* (N) += or NULL */
                         float *scratch, int n_threads);

/* ---- 6. LoRA linear (PEFT's lora.Linear) ---------------------------------
 * y = x W^T + b + s * (x_drop A^T) B^T, A (r, K) = lora_A.weight,
 * B (N, r) = lora_B.weight, s = alpha / r (or alpha / sqrt(r) with rsLoRA;
 * the caller passes s). x_drop is x after lora_dropout (PEFT drops the input
 * of the A branch only); pass x_drop = x (or NULL) when dropout is off.
 * Wp: W packed with tcf_gemm_pack_b(K, N, W, K, 1, Wp), with bias b (N) or
 * NULL; Wp NULL means y already holds x W^T + b and only the branch is added.
 * Saves u = x_drop A^T (M, r) for the backward.
 * scratch: tcf_lora_forward_scratch(N, K, r) floats. */
size_t tcf_lora_forward_scratch(int N, int K, int r);
void tcf_lora_forward(int M, int N, int K, int r, float s,
                      const float *x, int ldx,      /* (M, K) */
                      const float *x_drop, int ldxd, /* (M, K) or NULL (= x) */
                      const float *Wp, const float *b, /* packed W^T, (N) */
                      const float *A,               /* (r, K) */
                      const float *B,               /* (N, r) */
                      float *y, int ldy,            /* (M, N) */
                      float *u,                     /* (M, r) saved */
                      float *scratch, int n_threads);
/* Gradients of the LoRA branch only (the frozen W part is tcf_linear_backward
 * with dW = db = NULL):
 *   v = s * dy @ B (M, r)
 *   dB (N, r) += s * dy^T @ u;  dA (r, K) += v^T @ x_drop;
 *   dxa (M, K) = v @ A (written, or += if accumulate), skipped if dxa NULL.
 * dxa is the gradient w.r.t. the A branch's input x_drop: without dropout
 * pass the main dx with accumulate = 1; with dropout pass a separate buffer
 * and add it through tcf_dropout_backward(..., accumulate = 1).
 * scratch: tcf_lora_backward_scratch(M, N, r) floats. */
size_t tcf_lora_backward_scratch(int M, int N, int r);
void tcf_lora_backward(int M, int N, int K, int r, float s,
                       const float *dy, int lddy,     /* (M, N) */
                       const float *x_drop, int ldxd, /* (M, K) */
                       const float *u,                /* (M, r) from the forward */
                       const float *A,                /* (r, K) */
                       const float *B,                /* (N, r) */
                       float *dA,                     /* (r, K) += or NULL */
                       float *dB,                     /* (N, r) += or NULL */
                       float *dxa, int lddxa,         /* (M, K) or NULL */
                       int accumulate,
                       float *scratch, int n_threads);

/* ---- 7. Cross-entropy (torch.nn.CrossEntropyLoss, reduction='mean') -------
 * With logp = log_softmax(z), w the class weights (all 1 if NULL), eps the
 * label smoothing, n_classes = n, over rows i whose label is not ignored:
 *   loss = sum_i [(1-eps) w[y_i] (-logp[i,y_i]) + eps/n sum_c w[c] (-logp[i,c])]
 *          / sum_i w[y_i]
 * (torch 2.x's formula for weights and smoothing combined; with w = 1 the
 * denominator is the row count). Pinned to torch by tests/ref/check_ce_torch.py.
 * Labels < 0 are ignored (torch's ignore_index = -100): no loss, dlogits row
 * 0; if every row is ignored the loss is 0 (torch gives nan). Labels must be
 * < n_classes (asserted). dlogits = d loss / d logits, written, may be NULL. */
float tcf_cross_entropy(int rows, int n_classes,
                        const float *logits,   /* (rows, n_classes) */
                        const int32_t *labels, /* (rows) */
                        const float *class_w,  /* (n_classes) or NULL */
                        float label_smoothing,
                        float *dlogits);       /* (rows, n_classes) or NULL */

/* ---- 8. Pooling and tanh backward ----------------------------------------
 * Mean pooling as tcf_bert_pool (normalize = 0): pooled[b] = sum over
 * tokens with mask != 0 of hidden[b, t] / max(n_real, 1). Backward writes
 * dhidden (B*T, C): dpooled[b] / max(n_real, 1) on real tokens, 0 on padding
 * (or adds, leaving padding untouched, if accumulate). */
void tcf_mean_pool_backward(int B, int T, int C,
                            const uint8_t *mask,   /* (B, T) */
                            const float *dpooled,  /* (B, C) */
                            float *dhidden,        /* (B*T, C) */
                            int accumulate);
/* CLS pooling: pooled[b] = hidden[b, 0]. dhidden row (b, 0) = dpooled[b],
 * other rows 0 (or untouched, if accumulate). */
void tcf_cls_pool_backward(int B, int T, int C,
                           const float *dpooled, /* (B, C) */
                           float *dhidden,       /* (B*T, C) */
                           int accumulate);
/* y = tanh(x) (BERT's pooler activation); backward from the output:
 * dx = dy * (1 - y^2). In place is fine for both. */
void tcf_tanh_forward(float *y, const float *x, int64_t n);
void tcf_tanh_backward(float *dx, const float *dy, const float *y, int64_t n);

/* ---- 9. Deterministic dropout --------------------------------------------
 * Element `index` of the tensor for (seed, step) is kept iff
 * u(seed, step, index) >= p, u uniform in [0, 1) from 24 bits of a
 * splitmix64-based hash of the three. The mask depends only on those, so it
 * is the same for any split of the tensor across threads (process the
 * elements [offset, offset + n) of a tensor by passing offset) and the
 * backward recomputes it instead of storing it. Kept values are scaled by
 * 1/(1-p); p >= 1 drops everything, p <= 0 is the identity. */
int tcf_dropout_keep(uint64_t seed, uint64_t step, uint64_t index, float p);
/* The seed of dropout site `site` (a layer's module, ...) of a run seeded
 * `seed`: splitmix64's output function of seed + (1 + site) * golden. */
uint64_t tcf_dropout_site_seed(uint64_t seed, uint64_t site);
/* y = x * keep / (1-p), elements offset .. offset+n-1 of the tensor. y == x is fine. */
void tcf_dropout_forward(float *y, const float *x, int64_t n, float p, uint64_t seed,
                         uint64_t step, uint64_t offset);
/* dx = dy * keep / (1-p) (written, or += if accumulate). dx == dy is fine
 * when not accumulating. */
void tcf_dropout_backward(float *dx, const float *dy, int64_t n, float p, uint64_t seed,
                          uint64_t step, uint64_t offset, int accumulate);

#endif
