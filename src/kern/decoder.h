/*
 * decoder.h — row-wise kernels of Llama-family decoders, f32: RMSNorm,
 * rotary position embeddings (RoPE, transformers' rotate_half layout) and
 * the SwiGLU gate. The dense products are tcf_gemm (kern.h).
 *
 * RMSNorm and RoPE are scalar only (O(rows * C), next to the O(rows * C^2)
 * products); SwiGLU has an AVX2 variant checked against tcf_swiglu_ref.
 */
#ifndef TCF_DECODER_H
#define TCF_DECODER_H

#include <stdint.h>

/* y = x / sqrt(mean(x^2) + eps) * w per row (LlamaRMSNorm: the mean of
 * squares is accumulated in double here, f32 in torch). In place OK. */
void tcf_rmsnorm(float *y,        /* (rows, C) */
                 const float *x,  /* (rows, C) */
                 const float *w,  /* (C) */
                 int64_t rows, int C, float eps);

/* cos / sin tables of positions 0..P-1, as transformers' default rotary
 * embedding computes them in f32: inv_freq[i] = 1 / theta^(2i / D),
 * angle = pos * inv_freq[i]. cos, sin: (P, D/2). D must be even. */
void tcf_rope_table(float *cos_t, float *sin_t, int P, int D, double theta);

/* Rotate n_heads heads of D values each, in place, at one position whose
 * table row is cos_r / sin_r (D/2 each): with x1 = x[:D/2], x2 = x[D/2:],
 * x <- (x1 cos - x2 sin, x2 cos + x1 sin) (q * cos + rotate_half(q) * sin). */
void tcf_rope_apply(float *x, int n_heads, int D, const float *cos_r, const float *sin_r);

/* y[i] = silu(gate[i]) * up[i], silu(g) = g / (1 + e^-g). y may alias gate
 * or up. */
void tcf_swiglu(float *y, const float *gate, const float *up, int64_t n);
void tcf_swiglu_ref(float *y, const float *gate, const float *up, int64_t n);


/* ---- causal attention, one (batch row, head) -----------------------------
 * Q, K, V: (T, D) views with row stride ld. S = scale * Q K^T; key s is
 * visible from query t iff s <= t and key_mask[s] != 0; P = softmax(S) over
 * the visible keys (a query with none gets P = 0, ctx = 0); ctx = P V.
 * P (T, T) is saved for the backward, which is tcf_attn_head_backward
 * (grad.h: it only reads P, so the causal zeros carry over). For grouped-
 * query attention pass the kv head's K and V to every head of its group and
 * sum their dK, dV. scratch: D * T floats. Serial. */
void tcf_attn_causal_head_forward(int T, int D, const float *Q, const float *K, const float *V, int ld,
                                  const uint8_t *key_mask, /* (T) */
                                  float scale,
                                  float *ctx, int ldc,     /* (T, D) written */
                                  float *P,                /* (T, T) saved */
                                  float *scratch);

/* ---- backward ------------------------------------------------------------
 * Each checked against central finite differences of a double-precision
 * forward in tests/test_llama_grad.c. */

/* RMSNorm: with r = 1/sqrt(mean(x^2) + eps), y = w * x * r:
 *   dx = r (w dy) - x r^3 / C * sum_j(w_j dy_j x_j)  (written)
 *   dw += sum_rows dy * x * r  (dw may be NULL: a frozen norm).
 * x is the forward's input. dx == dy is fine. */
void tcf_rmsnorm_backward(float *dx,        /* (rows, C) */
                          float *dw,        /* (C) += or NULL */
                          const float *dy,  /* (rows, C) */
                          const float *x,   /* (rows, C) */
                          const float *w,   /* (C) */
                          int64_t rows, int C, float eps);

/* RoPE is a rotation per pair: its backward rotates the gradient back
 * (the transpose: angle -a), in place, same table row as the forward. */
void tcf_rope_backward(float *dx, int n_heads, int D, const float *cos_r, const float *sin_r);

/* y = silu(g) * u:  dg = dy * u * sig(g) (1 + g (1 - sig(g))),  du = dy * silu(g).
 * dgate, dup written; they may alias dy but not gate / up. */
void tcf_swiglu_backward(float *dgate, float *dup, const float *dy, const float *gate, const float *up,
                         int64_t n);

#endif
