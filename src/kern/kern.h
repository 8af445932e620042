/*
 * kern.h — math kernels on f32. Each has a scalar reference (`_ref`) that
 * defines the result and a SIMD variant chosen at run time from CPUID; the
 * tests check every variant against the reference.
 *
 * Matrices are row-major with explicit leading dimensions.
 */
#ifndef TCF_KERN_H
#define TCF_KERN_H

#include <stddef.h>
#include <stdint.h>

/* C (M, N) = A (M, K) @ B (K, N) [+ bias (N)], or C += that if accumulate.
 * Row-major with leading dimensions lda, ldb, ldc. Parallel over the pool. */
void tcf_gemm(int M, int N, int K, const float *A, int lda, const float *B, int ldb, float *C,
              int ldc, const float *bias, int accumulate, int n_threads);
void tcf_gemm_ref(int M, int N, int K, const float *A, int lda, const float *B, int ldb, float *C,
                  int ldc, const float *bias, int accumulate);

/* Packed B for repeated products with the same right-hand side (weights):
 * panels of 16 columns, each K x 16 contiguous, zero-padded past N.
 * tcf_gemm_packed_size gives the floats needed. With transposed = 0, B is
 * (K, N) with leading dimension ldb; with transposed = 1, B is given as its
 * transpose (N, K), e.g. an nn.Linear weight (out, in), so that the product is
 * A @ W^T. */
size_t tcf_gemm_packed_size(int K, int N);
void tcf_gemm_pack_b(int K, int N, const float *B, int ldb, int transposed, float *Bp);
/* The inverse: B (K, N) with leading dimension ldb from its packed form. */
void tcf_gemm_unpack_b(int K, int N, const float *Bp, float *B, int ldb);
/* C (M, N) = A (M, K) @ B [+ bias] [+ C] with B packed by tcf_gemm_pack_b. */
void tcf_gemm_packed(int M, int N, int K, const float *A, int lda, const float *Bp, float *C,
                     int ldc, const float *bias, int accumulate, int n_threads);

/* Which implementation the SIMD kernels use, chosen at run time from CPUID:
 * "avx512" (AVX-512F: the f32 product's 512-bit kernel; every other kernel
 * runs its AVX2 form), "avx2" (AVX2 + FMA) or "scalar". The environment
 * variable TCF_ISA=avx2 or TCF_ISA=scalar caps the choice (read once). */
const char *tcf_kern_isa(void);
/* Force the scalar path (tests, debugging). */
void tcf_kern_force_scalar(int on);
/* Cap the f32 product at its AVX2 kernel even where AVX-512 is there (tests
 * compare the two; they give the same bits). */
void tcf_kern_force_avx2(int on);
/* Where "avx512" is the choice: the CPU also has AVX-512 DQ (64-bit
 * multiplies: the dropout masks), BW + VNNI (the int8 products). */
int tcf_kern_avx512dq(void);
int tcf_kern_avx512vnni(void);

/* Σ_i a[i] b[i]: the AVX2 form sums 32 lanes (four 8-wide FMA chains over
 * i mod 32), adds them in a fixed order, then the tail in order; the scalar
 * form sums in order. Either way the result depends only on the inputs. */
float tcf_dot(const float *a, const float *b, int n);

/* y (rows, C) = LayerNorm(x) * g + b over the last dimension, in place OK. */
void tcf_layernorm(float *y, const float *x, const float *g, const float *b, int64_t rows, int C,
                   float eps);
/* Packed rows of a padded (B, T) batch (the forwards compute only the real
 * tokens): off (B + 1) <- the first packed row of each sequence, its real
 * tokens (mask != 0) in order; returns the number of packed rows. */
int tcf_pack_offsets(int B, int T, const uint8_t *mask, int32_t *off);
/* x: packed rows (tcf_pack_offsets order) in its first rows on entry, the
 * padded (B, T, C) layout on return, padding rows 0 (in place). */
void tcf_unpack_rows(float *x, int C, int B, int T, const uint8_t *mask);

/* exact GELU (erf form, as torch.nn.functional.gelu default), in place OK. */
void tcf_gelu(float *y, const float *x, int64_t n);
void tcf_gelu_ref(float *y, const float *x, int64_t n);

#endif
