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

#endif
