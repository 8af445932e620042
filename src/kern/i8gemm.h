/*
 * i8gemm.h — products with per-output-row int8 weights: the fastest CPU
 * path for inference on AVX2 machines without VNNI.
 *
 * Format (tcf_i8mat, in memory only): W (N, K) as int8 codes q (N, K) with
 * one f32 scale per row, w[n][k] = scale[n] * q[n][k], q = round(w / scale)
 * (half away from zero), scale = max_k |w[n][k]| / 127 (0 for a zero row,
 * whose codes are 0). As onnxruntime's per-channel quantize_dynamic weights,
 * without its zero point.
 *
 * Product Y (M, N) = X (M, K) @ W^T [+ bias] [+ Y]: each row of X is rounded
 * to int8 with one f32 scale (max |x| / 127, as for W), the products summed
 * exactly in int32, then
 *     y = ((float)Σ_k q_x q_w * scale_x[m]) * scale_w[n].
 * The AVX2 kernel sums |w| * (x with w's sign) with _mm256_maddubs_epi16 and
 * _mm256_madd_epi16 (|q| <= 127, so no pair saturates), four rows of X
 * against one row of W; the scalar reference (`_ref`) defines the result
 * and the AVX2 path gives the same bits (the integer sums are exact and the
 * f32 operations are the same), for every thread count. Requires K % 32 ==
 * 0 and K <= TCF_I8_MAX_K (so that no int32 sum can overflow).
 */
#ifndef TCF_KERN_I8GEMM_H
#define TCF_KERN_I8GEMM_H

#include "tcf.h"

#include <stddef.h>
#include <stdint.h>

#define TCF_I8_MAX_K 131072 /* 131072 * 127 * 127 < 2^31 */

typedef struct {
    int N, K;
    const int8_t *q;     /* (N, K) codes */
    const float *scale;  /* (N) */
    const int32_t *wsum; /* (N) Σ_k q[n][k] (the VNNI kernel's offset term) */
    void *owned;
} tcf_i8mat;

/* Quantize w (N, K), leading dimension ldw, into W (one allocation).
 * TCF_ERR_ARG for K % 32 != 0, K > TCF_I8_MAX_K or a non-finite value
 * (naming its row). */
tcf_status tcf_i8mat_quantize(tcf_i8mat *W, int N, int K, const float *w, int64_t ldw);
void tcf_i8mat_free(tcf_i8mat *W);
size_t tcf_i8mat_bytes(const tcf_i8mat *W);
/* Rows n0 .. n0+rows-1 decoded into dst (rows, K). */
void tcf_i8mat_dequant_rows(const tcf_i8mat *W, int n0, int rows, float *dst);

/* Bytes of workspace tcf_i8gemm needs for M rows of K inputs. */
size_t tcf_i8gemm_work_size(int M, int K);
void tcf_i8gemm(int M, const float *X, int ldx, const tcf_i8mat *W, const float *bias, float *Y, int ldy,
                int accumulate, void *work, int n_threads);
void tcf_i8gemm_ref(int M, const float *X, int ldx, const tcf_i8mat *W, const float *bias, float *Y, int ldy,
                    int accumulate, void *work);
/* X (M, K) rounded as the product rounds it: codes (M, K), scales (M). */
void tcf_i8_quantize_rows(const float *X, int ldx, int M, int K, int8_t *q, float *scale);
void tcf_i8_quantize_rows_ref(const float *X, int ldx, int M, int K, int8_t *q, float *scale);

#endif
