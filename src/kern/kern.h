/*
 * kern.h — math kernels on f32. Each has a scalar reference (`_ref`) that
 * defines the result and a SIMD variant chosen at run time from CPUID; the
 * tests check every variant against the reference.
 *
 * Shapes follow PyTorch's nn.Linear: a weight is (N, K) = (out, in), row-major.
 */
#ifndef TCF_KERN_H
#define TCF_KERN_H

#include <stdint.h>

/* out (M, N) = x (M, K) @ w (N, K)^T + b (N); b may be NULL.
 * Parallel over the pool with n_threads (<= 0: all cores). */
void tcf_matmul(float *out, const float *x, const float *w, const float *b, int M, int N, int K,
                int n_threads);
void tcf_matmul_ref(float *out, const float *x, const float *w, const float *b, int M, int N,
                    int K);

/* Which implementation tcf_matmul uses: "avx2" or "scalar". */
const char *tcf_kern_isa(void);
/* Force the scalar path (tests, debugging). */
void tcf_kern_force_scalar(int on);

/* y (rows, C) = LayerNorm(x) * g + b over the last dimension, in place OK. */
void tcf_layernorm(float *y, const float *x, const float *g, const float *b, int64_t rows, int C,
                   float eps);
/* exact GELU (erf form, as torch.nn.functional.gelu default), in place OK. */
void tcf_gelu(float *y, const float *x, int64_t n);

#endif
