/*
 * qgemm.h — dense products with a quantized weight matrix (the frozen base of
 * QLoRA, or an exported quantized model): W (N, K) stays in its block format
 * in memory and is decoded on the fly.
 *
 * Formats (one row of W = K weights along the input dimension):
 *   Q8_0, Q4_0, Q4_1  ggml blocks of 32 (layouts in quant.h), K/32 blocks per
 *                     row, rows back to back: exactly a GGUF tensor's bytes, so
 *                     a mapped GGUF file is used in place.
 *   Q4_K              ggml's k-quant super-blocks of 256 (144 bytes, layout
 *                     in quant.h: 8 sub-blocks of 32 with 6-bit scales and
 *                     mins), K/256 per row, rows back to back like the above.
 *   NF4               bitsandbytes' 4-bit NormalFloat (QLoRA, Dettmers et al.
 *                     2023): blocks of 64 along the flattened tensor, each with
 *                     an f32 absmax; weight = NF4[q] * absmax where NF4 is the
 *                     16-value table of bitsandbytes.functional.get_4bit_type.
 *                     Two codes per byte, the first element in the HIGH nibble
 *                     (bitsandbytes' packing), K/2 bytes per row (K % 64 == 0,
 *                     so blocks never straddle rows). With double quantization
 *                     (compress_statistics=True) the absmax itself is stored as
 *                     u8 codes into the 256-entry signed dynamic map, blocks of
 *                     256 absmax values with an f32 absmax2 each, plus one f32
 *                     offset: absmax[b] = code2[qa[b]] * absmax2[b / 256] + offset.
 *
 * Products (X, Y, dY, dX f32 row-major with leading dimensions):
 *   tcf_qgemm       Y (M, N) = X (M, K) @ W^T [+ bias] [+ Y]: W decoded into
 *                   f32 panels of 16 rows x 256 k, then the f32 micro-kernel of
 *                   gemm.c. Bit-identical to decoding W and calling
 *                   tcf_gemm_packed on the AVX2 path.
 *   tcf_qgemm_q8    the same product, llama.cpp style: X rows quantized to
 *                   Q8_0 blocks, integer block dot products (Q8_0, Q4_0 and
 *                   Q4_1 weights). Faster at small M; rounds X to 8 bits.
 *   tcf_qgemm_bwd   dX (M, K) = dY (M, N) @ W [+ dX]: the input gradient
 *                   through a frozen quantized weight. Bit-identical to decoding
 *                   W and calling tcf_gemm on the AVX2 path.
 * Each has a scalar reference (`_ref`) that defines its result; the dispatched
 * versions use AVX2+FMA+F16C when CPUID has them (else the references), are
 * threaded over the pool, give the same bits for every thread count, and
 * allocate nothing (decode buffers live on the stack; tcf_qgemm_q8 takes a
 * caller-sized workspace).
 */
#ifndef TCF_KERN_QGEMM_H
#define TCF_KERN_QGEMM_H

#include "tcf.h"

#include <stddef.h>
#include <stdint.h>

typedef enum {
    TCF_QTYPE_Q8_0 = 0,
    TCF_QTYPE_Q4_0 = 1,
    TCF_QTYPE_Q4_1 = 2,
    TCF_QTYPE_NF4 = 3,
    TCF_QTYPE_Q4_K = 4,
} tcf_qtype;

/* A quantized weight (N, K). Views borrow their bytes (owned == NULL);
 * tcf_qmat_quantize makes one allocation that tcf_qmat_free releases. */
typedef struct {
    tcf_qtype type;
    int N, K;
    size_t row_bytes;          /* bytes of one row of `data` */
    const uint8_t *data;       /* (N, row_bytes) blocks / packed NF4 codes */
    /* NF4 only: absmax (N*K/64) f32, or (double quantization, absmax NULL)
     * absmax_q (N*K/64) u8 codes, absmax2 (ceil(N*K/64/256)), code2 (256),
     * offset. */
    const float *absmax;
    const uint8_t *absmax_q;
    const float *absmax2;
    const float *code2;
    float offset;
    void *owned;
} tcf_qmat;

/* "q8_0", "q4_0", "q4_1", "nf4", "q4_k". */
const char *tcf_qtype_name(tcf_qtype t);
/* Weights per block: 32, 64 for NF4, 256 for Q4_K. */
int tcf_qtype_block(tcf_qtype t);
/* Bytes of one row of K weights (0 if K is not a whole number of blocks). */
size_t tcf_qtype_row_bytes(tcf_qtype t, int K);

/* NF4's 16 values and the 256-entry signed dynamic map used for double
 * quantization, as bitsandbytes 0.50 defines them (checked against its
 * get_4bit_type("nf4") and create_dynamic_map() by test_qgemm). */
extern const float tcf_nf4_code[16];
extern const float tcf_dynamic_code[256];

/* Borrow `bytes` bytes of ggml blocks (Q8_0/Q4_0/Q4_1/Q4_K) as W (N, K), e.g.
 * a GGUF tensor in a mapped file. Fails with TCF_ERR_FORMAT naming `name` when
 * K is not a multiple of the block (32; 256 for Q4_K) or bytes != N * row
 * bytes. The bytes must outlive W. */
tcf_status tcf_qmat_view(tcf_qmat *W, tcf_qtype type, int N, int K, const void *data, size_t bytes,
                         const char *name);
/* View a 2-D GGUF tensor (ne = {K, N}) of type Q8_0, Q4_0, Q4_1 or Q4_K in place
 * (its bytes in the file's map). TCF_ERR_UNSUPPORTED naming the tensor for
 * other types or more dimensions. */
tcf_status tcf_qmat_from_gguf(tcf_qmat *W, const tcf_gguf_tensor *t);
/* Borrow bitsandbytes NF4 state: packed (N*K/2) codes and either absmax
 * (N*K/64, then absmax_q/absmax2/code2 NULL) or the double-quantized
 * absmax_q, absmax2, code2 (NULL: tcf_dynamic_code) and offset. K % 64 == 0. */
tcf_status tcf_qmat_view_nf4(tcf_qmat *W, int N, int K, const uint8_t *packed, const float *absmax,
                             const uint8_t *absmax_q, const float *absmax2, const float *code2,
                             float offset, const char *name);
/* Quantize w (N, K) with leading dimension ldw into a new W that owns its
 * bytes. Q8_0/Q4_0/Q4_1 follow ggml-quants.c's reference quantizers (the same
 * bytes as gguf-py's gguf.quants.quantize), Q4_K kern/quantize.c's
 * tcf_quantize_q4_k (ggml's quantize_row_q4_K_ref); NF4 follows bitsandbytes'
 * quantize_4bit(blocksize=64), double_quant = compress_statistics (ignored for
 * the ggml types). Fails with TCF_ERR_ARG on a K the format cannot hold,
 * TCF_ERR_NOMEM when out of memory. */
tcf_status tcf_qmat_quantize(tcf_qmat *W, tcf_qtype type, int N, int K, const float *w, int64_t ldw,
                             int double_quant);
/* Release what W owns and zero it; safe on NULL and on views. */
void tcf_qmat_free(tcf_qmat *W);
/* Bytes W occupies in memory (blocks + NF4 statistics). */
size_t tcf_qmat_bytes(const tcf_qmat *W);
/* Absmax of NF4 block b (b = row * K/64 + block in row). */
float tcf_qmat_nf4_absmax(const tcf_qmat *W, int64_t b);

/* Decode rows n0 .. n0+rows-1 into dst (rows, K). The ggml types equal
 * quant.c's tcf_dequant_* bit for bit; NF4 equals bitsandbytes'
 * dequantize_4bit (f32). The dispatched version equals the reference. */
void tcf_qmat_dequant_rows(const tcf_qmat *W, int n0, int rows, float *dst);
void tcf_qmat_dequant_rows_ref(const tcf_qmat *W, int n0, int rows, float *dst);

/* Y (M, N) = X (M, K) @ W^T [+ bias (N)], or Y += that if accumulate.
 * Reference: per element, k summed in order from the decoded weights. */
void tcf_qgemm(int M, const float *X, int ldx, const tcf_qmat *W, const float *bias, float *Y, int ldy,
               int accumulate, int n_threads);
void tcf_qgemm_ref(int M, const float *X, int ldx, const tcf_qmat *W, const float *bias, float *Y,
                   int ldy, int accumulate);

/* llama.cpp-style product for W of type Q8_0, Q4_0, Q4_1 or Q4_K (not NF4;
 * tcf_qgemm_q8_supported):
 * X is quantized to Q8_0 (tcf_q8_quantize_rows) into `work` (f32-aligned),
 * which must hold tcf_qgemm_q8_work_size(M, K) bytes: X's block scales as
 * f32, their block sums, then its blocks; per block the integer dot product
 * is scaled by d_w * d_x and summed in f32 (Q4_1 adds m_w * d_x Σ q_x). A
 * Q4_K sub-block of 32 pairs with one X block the same way, as Q4_1 with
 * d_w = d * sc and m_w = -(dmin * m) (llama.cpp pairs Q4_K with Q8_K blocks
 * of 256 instead; the products differ in rounding only). */
int tcf_qgemm_q8_supported(tcf_qtype t);
size_t tcf_qgemm_q8_work_size(int M, int K);
void tcf_qgemm_q8(int M, const float *X, int ldx, const tcf_qmat *W, const float *bias, float *Y, int ldy,
                  int accumulate, void *work, int n_threads);
void tcf_qgemm_q8_ref(int M, const float *X, int ldx, const tcf_qmat *W, const float *bias, float *Y,
                      int ldy, int accumulate, void *work);
/* Rows of X (M, K), K % 32 == 0, to Q8_0 blocks: dst holds M * K/32 blocks of
 * 34 bytes, row after row. ggml's quantize_row_q8_0_ref: d = amax/127 (stored
 * as f16), q = roundf(x * (1/d)). The AVX2 version gives the same bytes. */
void tcf_q8_quantize_rows(const float *X, int ldx, int M, int K, uint8_t *dst);
void tcf_q8_quantize_rows_ref(const float *X, int ldx, int M, int K, uint8_t *dst);

/* dX (M, K) = dY (M, N) @ W [+ dX if accumulate]. Reference: per element, n
 * summed in order from the decoded weights. */
void tcf_qgemm_bwd(int M, const float *dY, int ldy, const tcf_qmat *W, float *dX, int ldx, int accumulate,
                   int n_threads);
void tcf_qgemm_bwd_ref(int M, const float *dY, int ldy, const tcf_qmat *W, float *dX, int ldx,
                       int accumulate);

#endif /* TCF_KERN_QGEMM_H */
