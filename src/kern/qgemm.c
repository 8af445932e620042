/*
 * qgemm.c — products with a quantized weight W (N, K) decoded on the fly
 * (formats and contracts in qgemm.h), and the quantizers that make such a W:
 * ggml's reference Q8_0/Q4_0/Q4_1 quantizers (ggml-quants.c
 * quantize_row_*_ref, which gguf-py's gguf.quants.quantize reproduces) and
 * bitsandbytes' NF4 (functional.quantize_4bit, blocksize 64, optional
 * compress_statistics), and ggml's Q4_K (kern/quantize.c). Q4_K is decoded
 * and multiplied per sub-block of 32, the unit the other ggml types have.
 * Not here: other k-quants, NF4 block sizes other than 64, FP4.
 *
 * AVX2 paths (chosen at run time: AVX2+FMA from tcf_kern_isa, plus F16C for
 * the block scales):
 *   forward  W is decoded, 16 rows x 256 k at a time, into a packed f32 panel
 *            (the layout of tcf_gemm_pack_b: 8x8 transposes of decoded rows)
 *            and multiplied by gemm.c's micro-kernel through tcf_gemm_packed,
 *            one 256-deep block per call, so the sums are exactly those of
 *            tcf_gemm_packed on the decoded matrix (its K block is 256 too).
 *            Tasks: 192 rows of X x 4 panels, claimed dynamically.
 *   q8       X rows quantized to Q8_0; per block the 32 products are summed
 *            exactly in integers (_mm256_maddubs_epi16 on |w| and x*sign(w),
 *            then _mm256_madd_epi16), converted to f32 and accumulated with
 *            one FMA by d_w*d_x per 8 lanes; one W row against 4 X rows at a
 *            time. Tasks: 64 rows of X x 16 rows of W.
 *   backward dX = dY @ W: W decoded 256 rows x 64 columns at a time into a
 *            plain row-major block and multiplied with tcf_gemm, one 256-deep
 *            block per call (tcf_gemm's K block), so the sums are exactly
 *            those of tcf_gemm on the decoded W. Tasks: 192 rows x 64 columns.
 * Every output element is computed by one fixed sequence of operations
 * whichever thread runs it, so results do not depend on the thread count.
 * Decode buffers are on the stack (16 + 16 KB forward, 64 KB backward).
 */
#include "kern/qgemm.h"
#include "kern/kern.h"
#include "kern/simd_math.h"
#include "kern/quant.h"
#include "kern/quantize.h"
#include "kern/convert.h"
#include "base/base.h"

#include <cpuid.h>
#include <immintrin.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

const float tcf_nf4_code[16] = {
    -1.0f, -0.696192801f, -0.525073051f, -0.394917488f, -0.284441382f, -0.18477343f, -0.0910500363f, 0.0f,
    0.0795802996f, 0.160930201f, 0.246112302f, 0.337915242f, 0.440709829f, 0.562617004f, 0.722956836f, 1.0f,
};

/* bitsandbytes.functional.create_dynamic_map(signed=True, max_exponent_bits=7,
 * total_bits=8), sorted; printed with 9 significant digits (exact in f32). */
const float tcf_dynamic_code[256] = {
    -0.992968738f, -0.978906274f, -0.96484375f, -0.950781226f, -0.936718762f, -0.922656238f, -0.908593774f, -0.89453125f,
    -0.880468726f, -0.866406262f, -0.852343738f, -0.838281274f, -0.82421875f, -0.810156226f, -0.796093762f, -0.782031238f,
    -0.767968774f, -0.75390625f, -0.739843726f, -0.725781262f, -0.711718798f, -0.697656274f, -0.68359375f, -0.669531226f,
    -0.655468762f, -0.641406298f, -0.627343774f, -0.61328125f, -0.599218726f, -0.585156262f, -0.571093798f, -0.557031274f,
    -0.54296875f, -0.528906226f, -0.514843702f, -0.500781238f, -0.486718714f, -0.47265625f, -0.458593726f, -0.444531262f,
    -0.430468738f, -0.416406244f, -0.40234375f, -0.388281226f, -0.374218762f, -0.360156238f, -0.346093744f, -0.33203125f,
    -0.317968726f, -0.303906262f, -0.289843738f, -0.275781274f, -0.26171875f, -0.247656241f, -0.233593747f, -0.219531253f,
    -0.205468744f, -0.19140625f, -0.177343756f, -0.163281247f, -0.149218753f, -0.135156244f, -0.12109375f, -0.107031256f,
    -0.0985937491f, -0.0957812592f, -0.0929687545f, -0.0901562497f, -0.0873437524f, -0.0845312476f, -0.0817187577f, -0.078906253f,
    -0.0760937482f, -0.0732812509f, -0.0704687461f, -0.0676562563f, -0.0648437515f, -0.0620312504f, -0.0592187531f, -0.0564062484f,
    -0.053593751f, -0.05078125f, -0.047968749f, -0.0451562516f, -0.0423437469f, -0.0395312496f, -0.0367187522f, -0.0339062512f,
    -0.0310937501f, -0.028281251f, -0.0254687499f, -0.0226562507f, -0.0198437516f, -0.0170312505f, -0.0142187504f, -0.0114062503f,
    -0.00971874967f, -0.00915624946f, -0.00859375019f, -0.00803124998f, -0.00746874977f, -0.00690625003f, -0.00634374982f, -0.00578125007f,
    -0.00521875033f, -0.00465624966f, -0.00409374991f, -0.00353124971f, -0.00296874996f, -0.00240624999f, -0.00184375001f, -0.00128124992f,
    -0.000943750085f, -0.000831249985f, -0.00071875006f, -0.000606250076f, -0.000493750034f, -0.000381250022f, -0.000268750038f, -0.000156250011f,
    -8.87499991e-05f, -6.62500024e-05f, -4.37499984e-05f, -2.12499981e-05f, -7.7499999e-06f, -3.25000019e-06f, -5.50000038e-07f, 0.0f,
    5.50000038e-07f, 3.25000019e-06f, 7.7499999e-06f, 2.12499981e-05f, 4.37499984e-05f, 6.62500024e-05f, 8.87499991e-05f, 0.000156250011f,
    0.000268750038f, 0.000381250022f, 0.000493750034f, 0.000606250076f, 0.00071875006f, 0.000831249985f, 0.000943750085f, 0.00128124992f,
    0.00184375001f, 0.00240624999f, 0.00296874996f, 0.00353124971f, 0.00409374991f, 0.00465624966f, 0.00521875033f, 0.00578125007f,
    0.00634374982f, 0.00690625003f, 0.00746874977f, 0.00803124998f, 0.00859375019f, 0.00915624946f, 0.00971874967f, 0.0114062503f,
    0.0142187504f, 0.0170312505f, 0.0198437516f, 0.0226562507f, 0.0254687499f, 0.028281251f, 0.0310937501f, 0.0339062512f,
    0.0367187522f, 0.0395312496f, 0.0423437469f, 0.0451562516f, 0.047968749f, 0.05078125f, 0.053593751f, 0.0564062484f,
    0.0592187531f, 0.0620312504f, 0.0648437515f, 0.0676562563f, 0.0704687461f, 0.0732812509f, 0.0760937482f, 0.078906253f,
    0.0817187577f, 0.0845312476f, 0.0873437524f, 0.0901562497f, 0.0929687545f, 0.0957812592f, 0.0985937491f, 0.107031256f,
    0.12109375f, 0.135156244f, 0.149218753f, 0.163281247f, 0.177343756f, 0.19140625f, 0.205468744f, 0.219531253f,
    0.233593747f, 0.247656241f, 0.26171875f, 0.275781274f, 0.289843738f, 0.303906262f, 0.317968726f, 0.33203125f,
    0.346093744f, 0.360156238f, 0.374218762f, 0.388281226f, 0.40234375f, 0.416406244f, 0.430468738f, 0.444531262f,
    0.458593726f, 0.47265625f, 0.486718714f, 0.500781238f, 0.514843702f, 0.528906226f, 0.54296875f, 0.557031274f,
    0.571093798f, 0.585156262f, 0.599218726f, 0.61328125f, 0.627343774f, 0.641406298f, 0.655468762f, 0.669531226f,
    0.68359375f, 0.697656274f, 0.711718798f, 0.725781262f, 0.739843726f, 0.75390625f, 0.767968774f, 0.782031238f,
    0.796093762f, 0.810156226f, 0.82421875f, 0.838281274f, 0.852343738f, 0.866406262f, 0.880468726f, 0.89453125f,
    0.908593774f, 0.922656238f, 0.936718762f, 0.950781226f, 0.96484375f, 0.978906274f, 0.992968738f, 1.0f,
};

#define QNR 16  /* panel width: rows of W per packed panel (gemm.c's NR) */
#define QKC 256 /* k per decoded panel (gemm.c's KC: keeps the sums identical) */
#define QMC 192 /* rows of X per forward task */
#define QPG 4   /* panels per forward task */
#define Q8M 64  /* rows of X per q8 task */
#define Q8N 16  /* rows of W per q8 task */
#define QBN 256 /* rows of W per decoded backward block (tcf_gemm's K block) */
#define QBC 64  /* columns of dX per backward task */
#define QBM 192 /* rows of dY per backward task */

/* ---- formats --------------------------------------------------------------- */

const char *tcf_qtype_name(tcf_qtype t) {
    switch (t) {
    case TCF_QTYPE_Q8_0: return "q8_0";
    case TCF_QTYPE_Q4_0: return "q4_0";
    case TCF_QTYPE_Q4_1: return "q4_1";
    case TCF_QTYPE_NF4: return "nf4";
    case TCF_QTYPE_Q4_K: return "q4_k";
    }
    return "?";
}

int tcf_qtype_block(tcf_qtype t) { return t == TCF_QTYPE_NF4 ? 64 : t == TCF_QTYPE_Q4_K ? 256 : 32; }

/* Weights per decoding unit of the reference loops: a block, or one Q4_K
 * sub-block of 32. */
static int seg_of(tcf_qtype t) { return t == TCF_QTYPE_NF4 ? 64 : 32; }

/* bytes per block of tcf_qtype_block(t) weights */
static size_t block_bytes(tcf_qtype t) {
    switch (t) {
    case TCF_QTYPE_Q8_0: return 34;
    case TCF_QTYPE_Q4_0: return 18;
    case TCF_QTYPE_Q4_1: return 20;
    case TCF_QTYPE_NF4: return 32;
    case TCF_QTYPE_Q4_K: return 144;
    }
    return 0;
}

size_t tcf_qtype_row_bytes(tcf_qtype t, int K) {
    int bs = tcf_qtype_block(t);
    if (K <= 0 || K % bs) return 0;
    return (size_t)(K / bs) * block_bytes(t);
}

static int valid_type(tcf_qtype t) { return t >= TCF_QTYPE_Q8_0 && t <= TCF_QTYPE_Q4_K; }

tcf_status tcf_qmat_view(tcf_qmat *W, tcf_qtype type, int N, int K, const void *data, size_t bytes,
                         const char *name) {
    memset(W, 0, sizeof *W);
    if (!valid_type(type) || type == TCF_QTYPE_NF4)
        return tcf_fail(TCF_ERR_ARG, "%s: tcf_qmat_view takes q8_0, q4_0, q4_1 or q4_k blocks", name);
    size_t rb = tcf_qtype_row_bytes(type, K), need;
    if (N <= 0 || rb == 0)
        return tcf_fail(TCF_ERR_FORMAT, "%s: shape (%d, %d) is not whole %s rows (K must be a positive multiple of %d)",
                        name, N, K, tcf_qtype_name(type), tcf_qtype_block(type));
    if (!tcf_mul_ok(rb, (size_t)N, &need) || need != bytes)
        return tcf_fail(TCF_ERR_FORMAT, "%s: %zu bytes of data, a (%d, %d) %s matrix takes %zu", name, bytes, N, K,
                        tcf_qtype_name(type), rb * (size_t)N);
    W->type = type;
    W->N = N;
    W->K = K;
    W->row_bytes = rb;
    W->data = data;
    return TCF_OK;
}

tcf_status tcf_qmat_from_gguf(tcf_qmat *W, const tcf_gguf_tensor *t) {
    memset(W, 0, sizeof *W);
    tcf_qtype q;
    switch (t->type) {
    case TCF_GGML_Q8_0: q = TCF_QTYPE_Q8_0; break;
    case TCF_GGML_Q4_0: q = TCF_QTYPE_Q4_0; break;
    case TCF_GGML_Q4_1: q = TCF_QTYPE_Q4_1; break;
    case TCF_GGML_Q4_K: q = TCF_QTYPE_Q4_K; break;
    default:
        return tcf_fail(TCF_ERR_UNSUPPORTED, "tensor '%s': type %s has no quantized matmul (q8_0, q4_0, q4_1, q4_k do)",
                        t->name, tcf_ggml_type_name(t->type) ? tcf_ggml_type_name(t->type) : "?");
    }
    if (t->n_dims > 2 || t->ne[2] != 1 || t->ne[3] != 1 || t->ne[0] > INT32_MAX || t->ne[1] > INT32_MAX)
        return tcf_fail(TCF_ERR_UNSUPPORTED, "tensor '%s': a quantized matmul weight must be 2-D with dims < 2^31",
                        t->name);
    return tcf_qmat_view(W, q, (int)t->ne[1], (int)t->ne[0], t->data, t->nbytes, t->name);
}

tcf_status tcf_qmat_view_nf4(tcf_qmat *W, int N, int K, const uint8_t *packed, const float *absmax,
                             const uint8_t *absmax_q, const float *absmax2, const float *code2,
                             float offset, const char *name) {
    memset(W, 0, sizeof *W);
    if (N <= 0 || K <= 0 || K % 64)
        return tcf_fail(TCF_ERR_FORMAT, "%s: NF4 shape (%d, %d): K must be a positive multiple of the block size 64",
                        name, N, K);
    if (!packed || (!absmax && !(absmax_q && absmax2)) || (absmax && absmax_q))
        return tcf_fail(TCF_ERR_ARG, "%s: NF4 needs its codes and either absmax or absmax_q + absmax2", name);
    W->type = TCF_QTYPE_NF4;
    W->N = N;
    W->K = K;
    W->row_bytes = (size_t)K / 2;
    W->data = packed;
    W->absmax = absmax;
    W->absmax_q = absmax_q;
    W->absmax2 = absmax2;
    W->code2 = absmax_q ? (code2 ? code2 : tcf_dynamic_code) : NULL;
    W->offset = offset;
    return TCF_OK;
}

void tcf_qmat_free(tcf_qmat *W) {
    if (!W) return;
    free(W->owned);
    memset(W, 0, sizeof *W);
}

size_t tcf_qmat_bytes(const tcf_qmat *W) {
    size_t b = W->row_bytes * (size_t)W->N;
    if (W->type == TCF_QTYPE_NF4) {
        size_t nb = (size_t)W->N * (size_t)(W->K / 64);
        if (W->absmax) b += nb * sizeof(float);
        else b += nb + (nb + 255) / 256 * sizeof(float) + 256 * sizeof(float) + sizeof(float);
    }
    return b;
}

/* bitsandbytes: dequantize_blockwise(absmax_q, state2) + offset, two
 * roundings, as functional.dequantize_4bit does in f32 */
static inline float nf4_absmax(const tcf_qmat *W, int64_t b) {
    if (W->absmax) return W->absmax[b];
    float a = W->code2[W->absmax_q[b]] * W->absmax2[b / 256];
    return a + W->offset;
}

float tcf_qmat_nf4_absmax(const tcf_qmat *W, int64_t b) { return nf4_absmax(W, b); }

/* ---- quantizers ------------------------------------------------------------ */

static void put_f16(uint8_t *p, float f) {
    uint16_t h = tcf_f32_to_f16(f);
    p[0] = (uint8_t)(h & 0xff);
    p[1] = (uint8_t)(h >> 8);
}

static float f16_at(const uint8_t *p) { return tcf_f16_to_f32((uint16_t)(p[0] | (p[1] << 8))); }

/* ggml quantize_row_q8_0_ref: d = amax/127, q = roundf(x / d) via x * (1/d). */
static void quantize_q8_0(const float *x, uint8_t *dst, int nb) {
    for (int i = 0; i < nb; i++, x += 32, dst += 34) {
        float amax = 0.0f;
        for (int j = 0; j < 32; j++) amax = fmaxf(amax, fabsf(x[j]));
        const float d = amax / 127.0f, id = d != 0.0f ? 1.0f / d : 0.0f;
        put_f16(dst, d);
        for (int j = 0; j < 32; j++) {
            float v = x[j] * id;
            dst[2 + j] = (uint8_t)(int8_t)roundf(v);
        }
    }
}

/* ggml quantize_row_q4_0_ref: d = (value of largest magnitude, first one) / -8,
 * q = min(15, (int)(x/d + 8.5)). */
static void quantize_q4_0(const float *x, uint8_t *dst, int nb) {
    for (int i = 0; i < nb; i++, x += 32, dst += 18) {
        float amax = 0.0f, max = 0.0f;
        for (int j = 0; j < 32; j++)
            if (fabsf(x[j]) > amax) {
                amax = fabsf(x[j]);
                max = x[j];
            }
        const float d = max / -8.0f, id = d != 0.0f ? 1.0f / d : 0.0f;
        put_f16(dst, d);
        for (int j = 0; j < 16; j++) {
            float a = x[j] * id, b = x[j + 16] * id;
            float a8 = a + 8.5f, b8 = b + 8.5f;
            int q0 = (int)a8 < 15 ? (int)a8 : 15, q1 = (int)b8 < 15 ? (int)b8 : 15;
            dst[2 + j] = (uint8_t)(q0 | (q1 << 4));
        }
    }
}

/* ggml quantize_row_q4_1_ref: d = (max - min)/15, m = min,
 * q = min(15, (int)((x - min)/d + 0.5)). */
static void quantize_q4_1(const float *x, uint8_t *dst, int nb) {
    for (int i = 0; i < nb; i++, x += 32, dst += 20) {
        float min = x[0], max = x[0];
        for (int j = 1; j < 32; j++) {
            if (x[j] < min) min = x[j];
            if (x[j] > max) max = x[j];
        }
        const float d = (max - min) / 15.0f, id = d != 0.0f ? 1.0f / d : 0.0f;
        put_f16(dst, d);
        put_f16(dst + 2, min);
        for (int j = 0; j < 16; j++) {
            float a = (x[j] - min) * id, b = (x[j + 16] - min) * id;
            float a5 = a + 0.5f, b5 = b + 0.5f;
            int q0 = (int)a5 < 15 ? (int)a5 : 15, q1 = (int)b5 < 15 ? (int)b5 : 15;
            dst[4 + j] = (uint8_t)(q0 | (q1 << 4));
        }
    }
}

/* Index of the code nearest to v in a sorted table, as torch.bucketize(v,
 * midpoints) in bitsandbytes: the number of midpoints (lo + hi) / 2 strictly
 * below v, so a value exactly on a midpoint takes the lower code. */
static int bucket(const float *code, int n, float v) {
    int lo = 0, hi = n - 1; /* answer in [lo, hi] */
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        float s = code[mid] + code[mid + 1], b = s / 2.0f;
        if (b < v) lo = mid + 1;
        else hi = mid;
    }
    return lo;
}

/* bitsandbytes' quantize_blockwise / quantize_4bit core (backends/default):
 * absmax per block, scaled = clamp(x * (1/max(absmax, 1e-38)), -1, 1),
 * code index = bucket(scaled). */
static float scale_block(const float *x, int n, float *inv) {
    float amax = 0.0f;
    for (int j = 0; j < n; j++) amax = fmaxf(amax, fabsf(x[j]));
    *inv = 1.0f / (amax < 1e-38f ? 1e-38f : amax);
    return amax;
}

static int code_of(const float *code, int n, float x, float inv) {
    float s = x * inv;
    s = s < -1.0f ? -1.0f : s > 1.0f ? 1.0f : s;
    return bucket(code, n, s);
}

/* W (N, K) to NF4 into packed (N*K/2) and absmax (N*K/64). */
static void quantize_nf4(const float *w, int64_t ldw, int N, int K, uint8_t *packed, float *absmax) {
    const int bpr = K / 64;
    for (int n = 0; n < N; n++)
        for (int b = 0; b < bpr; b++) {
            const float *x = w + n * ldw + b * 64;
            float inv;
            absmax[(int64_t)n * bpr + b] = scale_block(x, 64, &inv);
            uint8_t *q = packed + (int64_t)n * (K / 2) + b * 32;
            for (int j = 0; j < 32; j++)
                q[j] = (uint8_t)(code_of(tcf_nf4_code, 16, x[2 * j], inv) << 4 |
                                 code_of(tcf_nf4_code, 16, x[2 * j + 1], inv));
        }
}

tcf_status tcf_qmat_quantize(tcf_qmat *W, tcf_qtype type, int N, int K, const float *w, int64_t ldw,
                             int double_quant) {
    memset(W, 0, sizeof *W);
    if (!valid_type(type)) return tcf_fail(TCF_ERR_ARG, "tcf_qmat_quantize: unknown type %d", (int)type);
    size_t rb = tcf_qtype_row_bytes(type, K), bytes;
    if (N <= 0 || rb == 0)
        return tcf_fail(TCF_ERR_ARG, "tcf_qmat_quantize: shape (%d, %d) is not whole %s rows (K must be a multiple of %d)",
                        N, K, tcf_qtype_name(type), tcf_qtype_block(type));
    if (!tcf_mul_ok(rb, (size_t)N, &bytes))
        return tcf_fail(TCF_ERR_NOMEM, "tcf_qmat_quantize: (%d, %d) is too large", N, K);
    int64_t nb = (int64_t)N * (K / 64), nb2 = (nb + 255) / 256;
    size_t extra = 0;
    if (type == TCF_QTYPE_NF4) /* absmax f32 (kept for double quant too: scratch), u8 codes, absmax2 */
        extra = (size_t)nb * sizeof(float) + (double_quant ? (size_t)nb2 * sizeof(float) + (size_t)nb : 0);
    uint8_t *buf = malloc(bytes + extra + 16);
    if (!buf) return tcf_fail(TCF_ERR_NOMEM, "tcf_qmat_quantize: out of memory for %zu bytes", bytes + extra);
    W->type = type;
    W->N = N;
    W->K = K;
    W->row_bytes = rb;
    W->data = buf;
    W->owned = buf;
    switch (type) {
    case TCF_QTYPE_Q8_0:
        for (int n = 0; n < N; n++) quantize_q8_0(w + n * ldw, buf + n * rb, K / 32);
        return TCF_OK;
    case TCF_QTYPE_Q4_0:
        for (int n = 0; n < N; n++) quantize_q4_0(w + n * ldw, buf + n * rb, K / 32);
        return TCF_OK;
    case TCF_QTYPE_Q4_1:
        for (int n = 0; n < N; n++) quantize_q4_1(w + n * ldw, buf + n * rb, K / 32);
        return TCF_OK;
    case TCF_QTYPE_Q4_K:
        for (int n = 0; n < N; n++) tcf_quantize_q4_k(w + n * ldw, buf + n * rb, K);
        return TCF_OK;
    case TCF_QTYPE_NF4: break;
    }
    /* layout while quantizing: codes | absmax f32 (4-aligned: bytes = N*K/2 is
     * a multiple of 32) | absmax2 f32 | absmax_q u8 */
    float *absmax = (float *)(buf + bytes);
    quantize_nf4(w, ldw, N, K, buf, absmax);
    if (!double_quant) {
        W->absmax = absmax;
        return TCF_OK;
    }
    /* functional.quantize_4bit(compress_statistics=True): offset = mean(absmax),
     * then quantize_blockwise(absmax - offset, blocksize=256) with the dynamic
     * map. The mean is summed in double (torch sums f32 pairwise: the offset
     * can differ from bitsandbytes' by an ulp). */
    double sum = 0;
    for (int64_t b = 0; b < nb; b++) sum += absmax[b];
    const float offset = (float)(sum / (double)nb);
    float *absmax2 = absmax + nb;
    uint8_t *qa = (uint8_t *)(absmax2 + nb2);
    for (int64_t b = 0; b < nb; b++) absmax[b] -= offset;
    for (int64_t c = 0; c < nb2; c++) {
        int64_t b0 = c * 256, len = nb - b0 < 256 ? nb - b0 : 256;
        float inv;
        absmax2[c] = scale_block(absmax + b0, (int)len, &inv);
        for (int64_t b = b0; b < b0 + len; b++) qa[b] = (uint8_t)code_of(tcf_dynamic_code, 256, absmax[b], inv);
    }
    /* drop the f32 absmax (scratch now): codes | absmax2 | absmax_q */
    memmove(absmax, absmax2, (size_t)nb2 * sizeof(float));
    memmove((uint8_t *)(absmax + nb2), qa, (size_t)nb);
    uint8_t *shrunk = realloc(buf, bytes + (size_t)nb2 * sizeof(float) + (size_t)nb);
    if (shrunk) buf = shrunk;
    W->data = buf;
    W->owned = buf;
    W->absmax2 = (const float *)(buf + bytes);
    W->absmax_q = buf + bytes + (size_t)nb2 * sizeof(float);
    W->code2 = tcf_dynamic_code;
    W->offset = offset;
    return TCF_OK;
}

/* ---- scalar decoding ------------------------------------------------------- */

/* The 6-bit scale and min of Q4_K sub-block j (0..7) from a block's 12
 * packed bytes q (quant.h's layout), and the sub-block's d * sc and
 * dmin * m as tcf_dequant_q4_k computes them. */
static void q4k_scales(const uint8_t *blk, int j, float *dsc, float *dm) {
    const uint8_t *q = blk + 4;
    int sc, m;
    if (j < 4) {
        sc = q[j] & 63;
        m = q[j + 4] & 63;
    } else {
        sc = (q[j + 4] & 0x0f) | ((q[j - 4] >> 6) << 4);
        m = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
    }
    *dsc = f16_at(blk) * (float)sc;
    *dm = f16_at(blk + 2) * (float)m;
}

/* Q4_K weights k0 .. k0+len-1 of row n (k0, len multiples of 32) into dst,
 * bit for bit tcf_dequant_q4_k's: w = (d*sc)*q - dmin*m. Sub-block j's codes
 * are the low (j even) or high (j odd) nibbles of the block's 32-byte chunk
 * j/2. */
static void deq_q4k_ref(const tcf_qmat *W, int n, int k0, int len, float *dst) {
    const uint8_t *row = W->data + (size_t)n * W->row_bytes;
    for (int k = k0; k < k0 + len; k += 32, dst += 32) {
        const uint8_t *blk = row + (size_t)(k / 256) * 144;
        const int j = (k % 256) / 32, sh = (j & 1) * 4;
        const uint8_t *qs = blk + 16 + 32 * (j / 2);
        float d, m;
        q4k_scales(blk, j, &d, &m);
        for (int l = 0; l < 32; l++) {
            const float a = d * (float)((qs[l] >> sh) & 0x0f);
            dst[l] = a - m;
        }
    }
}

/* Weights k0 .. k0+len-1 of row n (k0, len whole blocks; Q4_K: whole
 * sub-blocks of 32) into dst (len). */
static void deq_seg_ref(const tcf_qmat *W, int n, int k0, int len, float *dst) {
    if (W->type == TCF_QTYPE_Q4_K) {
        deq_q4k_ref(W, n, k0, len, dst);
        return;
    }
    const int bs = tcf_qtype_block(W->type);
    const uint8_t *p = W->data + (size_t)n * W->row_bytes + (size_t)(k0 / bs) * block_bytes(W->type);
    switch (W->type) {
    case TCF_QTYPE_Q8_0: tcf_dequant_q8_0(p, dst, len / 32); return;
    case TCF_QTYPE_Q4_0: tcf_dequant_q4_0(p, dst, len / 32); return;
    case TCF_QTYPE_Q4_1: tcf_dequant_q4_1(p, dst, len / 32); return;
    case TCF_QTYPE_NF4: case TCF_QTYPE_Q4_K: break;
    }
    int64_t b = (int64_t)n * (W->K / 64) + k0 / 64;
    for (int i = 0; i < len / 64; i++, b++, p += 32, dst += 64) {
        const float a = nf4_absmax(W, b);
        for (int j = 0; j < 32; j++) {
            dst[2 * j] = tcf_nf4_code[p[j] >> 4] * a;
            dst[2 * j + 1] = tcf_nf4_code[p[j] & 15] * a;
        }
    }
}

void tcf_qmat_dequant_rows_ref(const tcf_qmat *W, int n0, int rows, float *dst) {
    for (int r = 0; r < rows; r++) deq_seg_ref(W, n0 + r, 0, W->K, dst + (int64_t)r * W->K);
}

/* ---- AVX2 decoding --------------------------------------------------------- */

#define TGT __attribute__((target("avx2,fma,f16c")))

static int use_avx2(void) {
    static int f16c = -1;
    if (f16c < 0) { /* CPUID leaf 1, ECX bit 29 (clang's __builtin_cpu_supports lacks "f16c") */
        unsigned a, b, c, d;
        f16c = __get_cpuid(1, &a, &b, &c, &d) && (c & (1u << 29)) ? 1 : 0;
    }
    return f16c && tcf_kern_isa()[0] == 'a';
}

TGT static inline float f16_avx(const uint8_t *p) {
    return _cvtsh_ss((unsigned short)(p[0] | (p[1] << 8)));
}

/* 8 i8 lanes -> f32 */
TGT static inline __m256 cvt8(__m128i v) { return _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(v)); }

/* NF4 values of 8 codes (0..15 in i32 lanes): two 8-entry permutes, bit 3
 * picks the half. */
TGT static inline __m256 nf4_lookup(__m256i idx, __m256 lo, __m256 hi) {
    __m256 a = _mm256_permutevar8x32_ps(lo, idx), b = _mm256_permutevar8x32_ps(hi, idx);
    return _mm256_blendv_ps(a, b, _mm256_castsi256_ps(_mm256_slli_epi32(idx, 28)));
}

/* q4k_scales with F16C for the two f16 scales (both conversions are exact:
 * the same values) */
TGT static inline void q4k_scales_avx(const uint8_t *blk, int j, float *dsc, float *dm) {
    const uint8_t *q = blk + 4;
    int sc, m;
    if (j < 4) {
        sc = q[j] & 63;
        m = q[j + 4] & 63;
    } else {
        sc = (q[j + 4] & 0x0f) | ((q[j - 4] >> 6) << 4);
        m = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
    }
    *dsc = f16_avx(blk) * (float)sc;
    *dm = f16_avx(blk + 2) * (float)m;
}

/* All 8 sub-blocks' d*sc and dmin*m of a Q4_K block at once (the products
 * of q4k_scales, so the same values): the 6-bit fields gathered four at a
 * time from the 12 bytes read as three little-endian words a, b, c: sc[0..3]
 * = a & 63, m[0..3] = b & 63, sc[4..7] = c's low nibbles | a's top 2 bits
 * << 4, m[4..7] = c's high nibbles | b's top 2 bits << 4 (per byte). */
TGT static inline void q4k_unpack_avx(const uint8_t *blk, float *dsc, float *dm) {
    uint32_t a, b, c, w[4];
    memcpy(&a, blk + 4, 4);
    memcpy(&b, blk + 8, 4);
    memcpy(&c, blk + 12, 4);
    w[0] = a & 0x3f3f3f3fu;                                /* sc 0..3 */
    w[1] = (c & 0x0f0f0f0fu) | ((a >> 2) & 0x30303030u);   /* sc 4..7 */
    w[2] = b & 0x3f3f3f3fu;                                /* m 0..3 */
    w[3] = ((c >> 4) & 0x0f0f0f0fu) | ((b >> 2) & 0x30303030u); /* m 4..7 */
    const __m128i v = _mm_loadu_si128((const __m128i *)w);
    const __m256 sc = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(v));
    const __m256 m = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_srli_si128(v, 8)));
    _mm256_storeu_ps(dsc, _mm256_mul_ps(_mm256_set1_ps(f16_avx(blk)), sc));
    _mm256_storeu_ps(dm, _mm256_mul_ps(_mm256_set1_ps(f16_avx(blk + 2)), m));
}

/* deq_seg_ref with AVX2: the same products (and sums, for Q4_1), one rounding
 * each, so the same bits. */
TGT static void deq_seg_avx2(const tcf_qmat *W, int n, int k0, int len, float *dst) {
    if (W->type == TCF_QTYPE_Q4_K) {
        const uint8_t *row = W->data + (size_t)n * W->row_bytes;
        const __m128i m4 = _mm_set1_epi8(0x0f);
        if (k0 % 256 == 0 && len % 256 == 0) { /* whole blocks: each 32-byte chunk once */
            for (int k = k0; k < k0 + len; k += 256) {
                const uint8_t *blk = row + (size_t)(k / 256) * 144;
                float dsc[8], dm[8];
                q4k_unpack_avx(blk, dsc, dm);
                for (int c = 0; c < 4; c++) {
                    const __m128i q0 = _mm_loadu_si128((const __m128i *)(blk + 16 + 32 * c)),
                                  q1 = _mm_loadu_si128((const __m128i *)(blk + 32 + 32 * c));
                    const __m128i v[4] = {_mm_and_si128(q0, m4), _mm_and_si128(q1, m4),
                                          _mm_and_si128(_mm_srli_epi16(q0, 4), m4),
                                          _mm_and_si128(_mm_srli_epi16(q1, 4), m4)};
                    for (int h = 0; h < 2; h++, dst += 32) {
                        const __m256 vd = _mm256_set1_ps(dsc[2 * c + h]), vm = _mm256_set1_ps(dm[2 * c + h]);
                        for (int u = 0; u < 2; u++) {
                            const __m128i q = v[2 * h + u];
                            _mm256_storeu_ps(dst + 16 * u, _mm256_sub_ps(_mm256_mul_ps(cvt8(q), vd), vm));
                            _mm256_storeu_ps(dst + 16 * u + 8,
                                             _mm256_sub_ps(_mm256_mul_ps(cvt8(_mm_srli_si128(q, 8)), vd), vm));
                        }
                    }
                }
            }
            return;
        }
        for (int k = k0; k < k0 + len; k += 32, dst += 32) {
            const uint8_t *blk = row + (size_t)(k / 256) * 144;
            const int j = (k % 256) / 32;
            float d, m;
            q4k_scales_avx(blk, j, &d, &m);
            const __m256 vd = _mm256_set1_ps(d), vm = _mm256_set1_ps(m);
            const uint8_t *qs = blk + 16 + 32 * (j / 2);
            for (int h = 0; h < 2; h++) {
                __m128i q = _mm_loadu_si128((const __m128i *)(qs + 16 * h));
                q = (j & 1) ? _mm_and_si128(_mm_srli_epi16(q, 4), m4) : _mm_and_si128(q, m4);
                _mm256_storeu_ps(dst + 16 * h, _mm256_sub_ps(_mm256_mul_ps(cvt8(q), vd), vm));
                _mm256_storeu_ps(dst + 16 * h + 8, _mm256_sub_ps(_mm256_mul_ps(cvt8(_mm_srli_si128(q, 8)), vd), vm));
            }
        }
        return;
    }
    const int bs = tcf_qtype_block(W->type);
    const uint8_t *p = W->data + (size_t)n * W->row_bytes + (size_t)(k0 / bs) * block_bytes(W->type);
    const __m128i m4 = _mm_set1_epi8(0x0f);
    switch (W->type) {
    case TCF_QTYPE_Q8_0:
        for (int i = 0; i < len / 32; i++, p += 34, dst += 32) {
            const __m256 d = _mm256_set1_ps(f16_avx(p));
            __m128i a = _mm_loadu_si128((const __m128i *)(p + 2)), b = _mm_loadu_si128((const __m128i *)(p + 18));
            _mm256_storeu_ps(dst, _mm256_mul_ps(cvt8(a), d));
            _mm256_storeu_ps(dst + 8, _mm256_mul_ps(cvt8(_mm_srli_si128(a, 8)), d));
            _mm256_storeu_ps(dst + 16, _mm256_mul_ps(cvt8(b), d));
            _mm256_storeu_ps(dst + 24, _mm256_mul_ps(cvt8(_mm_srli_si128(b, 8)), d));
        }
        return;
    case TCF_QTYPE_Q4_0:
        for (int i = 0; i < len / 32; i++, p += 18, dst += 32) {
            const __m256 d = _mm256_set1_ps(f16_avx(p));
            __m128i q = _mm_loadu_si128((const __m128i *)(p + 2)), e8 = _mm_set1_epi8(8);
            __m128i lo = _mm_sub_epi8(_mm_and_si128(q, m4), e8);
            __m128i hi = _mm_sub_epi8(_mm_and_si128(_mm_srli_epi16(q, 4), m4), e8);
            _mm256_storeu_ps(dst, _mm256_mul_ps(cvt8(lo), d));
            _mm256_storeu_ps(dst + 8, _mm256_mul_ps(cvt8(_mm_srli_si128(lo, 8)), d));
            _mm256_storeu_ps(dst + 16, _mm256_mul_ps(cvt8(hi), d));
            _mm256_storeu_ps(dst + 24, _mm256_mul_ps(cvt8(_mm_srli_si128(hi, 8)), d));
        }
        return;
    case TCF_QTYPE_Q4_1:
        for (int i = 0; i < len / 32; i++, p += 20, dst += 32) {
            const __m256 d = _mm256_set1_ps(f16_avx(p)), m = _mm256_set1_ps(f16_avx(p + 2));
            __m128i q = _mm_loadu_si128((const __m128i *)(p + 4));
            __m128i lo = _mm_and_si128(q, m4), hi = _mm_and_si128(_mm_srli_epi16(q, 4), m4);
            _mm256_storeu_ps(dst, _mm256_add_ps(_mm256_mul_ps(cvt8(lo), d), m));
            _mm256_storeu_ps(dst + 8, _mm256_add_ps(_mm256_mul_ps(cvt8(_mm_srli_si128(lo, 8)), d), m));
            _mm256_storeu_ps(dst + 16, _mm256_add_ps(_mm256_mul_ps(cvt8(hi), d), m));
            _mm256_storeu_ps(dst + 24, _mm256_add_ps(_mm256_mul_ps(cvt8(_mm_srli_si128(hi, 8)), d), m));
        }
        return;
    case TCF_QTYPE_NF4: case TCF_QTYPE_Q4_K: break;
    }
    const __m256 tlo = _mm256_loadu_ps(tcf_nf4_code), thi = _mm256_loadu_ps(tcf_nf4_code + 8);
    int64_t b = (int64_t)n * (W->K / 64) + k0 / 64;
    for (int i = 0; i < len / 64; i++, b++, p += 32) {
        const __m256 a = _mm256_set1_ps(nf4_absmax(W, b));
        for (int h = 0; h < 2; h++, dst += 32) {
            __m128i q = _mm_loadu_si128((const __m128i *)(p + 16 * h));
            __m128i hi = _mm_and_si128(_mm_srli_epi16(q, 4), m4), lo = _mm_and_si128(q, m4);
            /* element 2j is the high nibble of byte j, 2j+1 the low one */
            __m128i e0 = _mm_unpacklo_epi8(hi, lo), e1 = _mm_unpackhi_epi8(hi, lo);
            _mm256_storeu_ps(dst, _mm256_mul_ps(nf4_lookup(_mm256_cvtepu8_epi32(e0), tlo, thi), a));
            _mm256_storeu_ps(dst + 8, _mm256_mul_ps(nf4_lookup(_mm256_cvtepu8_epi32(_mm_srli_si128(e0, 8)), tlo, thi), a));
            _mm256_storeu_ps(dst + 16, _mm256_mul_ps(nf4_lookup(_mm256_cvtepu8_epi32(e1), tlo, thi), a));
            _mm256_storeu_ps(dst + 24, _mm256_mul_ps(nf4_lookup(_mm256_cvtepu8_epi32(_mm_srli_si128(e1, 8)), tlo, thi), a));
        }
    }
}

void tcf_qmat_dequant_rows(const tcf_qmat *W, int n0, int rows, float *dst) {
    if (!use_avx2()) {
        tcf_qmat_dequant_rows_ref(W, n0, rows, dst);
        return;
    }
    for (int r = 0; r < rows; r++) deq_seg_avx2(W, n0 + r, 0, W->K, dst + (int64_t)r * W->K);
}

/* 8x8 block of src (rows i, leading dimension lds) transposed into dst
 * (row j = column j of src, leading dimension ldd). */
TGT static inline void transpose8(const float *src, int lds, float *dst, int ldd) {
    __m256 r0 = _mm256_loadu_ps(src), r1 = _mm256_loadu_ps(src + lds), r2 = _mm256_loadu_ps(src + 2 * lds),
           r3 = _mm256_loadu_ps(src + 3 * lds), r4 = _mm256_loadu_ps(src + 4 * lds),
           r5 = _mm256_loadu_ps(src + 5 * lds), r6 = _mm256_loadu_ps(src + 6 * lds),
           r7 = _mm256_loadu_ps(src + 7 * lds);
    __m256 t0 = _mm256_unpacklo_ps(r0, r1), t1 = _mm256_unpackhi_ps(r0, r1), t2 = _mm256_unpacklo_ps(r2, r3),
           t3 = _mm256_unpackhi_ps(r2, r3), t4 = _mm256_unpacklo_ps(r4, r5), t5 = _mm256_unpackhi_ps(r4, r5),
           t6 = _mm256_unpacklo_ps(r6, r7), t7 = _mm256_unpackhi_ps(r6, r7);
    __m256 s0 = _mm256_shuffle_ps(t0, t2, 0x44), s1 = _mm256_shuffle_ps(t0, t2, 0xee),
           s2 = _mm256_shuffle_ps(t1, t3, 0x44), s3 = _mm256_shuffle_ps(t1, t3, 0xee),
           s4 = _mm256_shuffle_ps(t4, t6, 0x44), s5 = _mm256_shuffle_ps(t4, t6, 0xee),
           s6 = _mm256_shuffle_ps(t5, t7, 0x44), s7 = _mm256_shuffle_ps(t5, t7, 0xee);
    _mm256_storeu_ps(dst, _mm256_permute2f128_ps(s0, s4, 0x20));
    _mm256_storeu_ps(dst + ldd, _mm256_permute2f128_ps(s1, s5, 0x20));
    _mm256_storeu_ps(dst + 2 * ldd, _mm256_permute2f128_ps(s2, s6, 0x20));
    _mm256_storeu_ps(dst + 3 * ldd, _mm256_permute2f128_ps(s3, s7, 0x20));
    _mm256_storeu_ps(dst + 4 * ldd, _mm256_permute2f128_ps(s0, s4, 0x31));
    _mm256_storeu_ps(dst + 5 * ldd, _mm256_permute2f128_ps(s1, s5, 0x31));
    _mm256_storeu_ps(dst + 6 * ldd, _mm256_permute2f128_ps(s2, s6, 0x31));
    _mm256_storeu_ps(dst + 7 * ldd, _mm256_permute2f128_ps(s3, s7, 0x31));
}

/* Panel p of W^T, k0 .. k0+kc-1, in tcf_gemm_pack_b's layout: panel (kc, 16),
 * rows of W past N zero. tmp (16, QKC) is scratch. */
TGT static void fill_panel(const tcf_qmat *W, int p, int k0, int kc, float *tmp, float *panel) {
    const int n0 = p * QNR, nr = W->N - n0 < QNR ? W->N - n0 : QNR;
    for (int i = 0; i < QNR; i++) {
        if (i < nr) deq_seg_avx2(W, n0 + i, k0, kc, tmp + i * QKC);
        else memset(tmp + i * QKC, 0, (size_t)kc * sizeof(float));
    }
    for (int k = 0; k < kc; k += 8) {
        transpose8(tmp + k, QKC, panel + k * QNR, QNR);
        transpose8(tmp + 8 * QKC + k, QKC, panel + k * QNR + 8, QNR);
    }
}

/* ---- forward: decode to panels, f32 micro-kernel --------------------------- */

typedef struct {
    int M, ldx, ldy, accumulate, n_pg;
    const float *X, *bias;
    const tcf_qmat *W;
    float *Y;
    uint8_t *xq; /* q8 only: (M, K/32) Q8_0 blocks of X */
    float *dx;   /* q8 only: (M, K/32) their scales as f32 */
    float *sx;   /* q8 only: (M, K/32) d_x * Σ q_x per block */
} qg_args;

static void qgemm_task_avx2(void *ctx, int64_t begin, int64_t end, int tid) {
    const qg_args *g = ctx;
    const tcf_qmat *W = g->W;
    const int panels = (W->N + QNR - 1) / QNR;
    float tmp[QNR * QKC] __attribute__((aligned(32)));   /* (16, 256) decoded rows */
    float panel[QKC * QNR] __attribute__((aligned(32))); /* (256, 16) packed */
    for (int64_t t = begin; t < end; t++) {
        int m_lo = (int)(t / g->n_pg) * QMC, m_hi = m_lo + QMC < g->M ? m_lo + QMC : g->M;
        int p_lo = (int)(t % g->n_pg) * QPG, p_hi = p_lo + QPG < panels ? p_lo + QPG : panels;
        for (int k0 = 0; k0 < W->K; k0 += QKC) {
            const int kc = W->K - k0 < QKC ? W->K - k0 : QKC, first = k0 == 0;
            for (int p = p_lo; p < p_hi; p++) {
                const int nr = W->N - p * QNR < QNR ? W->N - p * QNR : QNR;
                fill_panel(W, p, k0, kc, tmp, panel);
                /* one K block per call: first block takes bias / the caller's
                 * accumulate flag, the others add, as inside tcf_gemm_packed */
                tcf_gemm_packed(m_hi - m_lo, nr, kc, g->X + (int64_t)m_lo * g->ldx + k0, g->ldx, panel,
                                g->Y + (int64_t)m_lo * g->ldy + p * QNR, g->ldy,
                                first && g->bias ? g->bias + p * QNR : NULL, first ? g->accumulate : 1, 1);
            }
        }
    }
}

/* Reference rows n_lo..n_hi of Y. */
static void qgemm_ref_rows(const qg_args *g, int n_lo, int n_hi) {
    const tcf_qmat *W = g->W;
    const int bs = seg_of(W->type);
    float w[64];
    for (int n = n_lo; n < n_hi; n++)
        for (int m = 0; m < g->M; m++) {
            const float *x = g->X + (int64_t)m * g->ldx;
            float acc = 0.0f;
            for (int k0 = 0; k0 < W->K; k0 += bs) {
                deq_seg_ref(W, n, k0, bs, w);
                for (int j = 0; j < bs; j++) acc += x[k0 + j] * w[j];
            }
            if (g->bias) acc += g->bias[n];
            float *y = g->Y + (int64_t)m * g->ldy + n;
            *y = g->accumulate ? *y + acc : acc;
        }
}

static void qgemm_task_ref(void *ctx, int64_t begin, int64_t end, int tid) {
    qgemm_ref_rows(ctx, (int)begin, (int)end);
}

void tcf_qgemm_ref(int M, const float *X, int ldx, const tcf_qmat *W, const float *bias, float *Y, int ldy,
                   int accumulate) {
    qg_args g = {M, ldx, ldy, accumulate, 0, X, bias, W, Y, NULL, NULL, NULL};
    qgemm_ref_rows(&g, 0, W->N);
}

/* Small products are not worth waking the pool for (as gemm.c). */
static int threads_for(int64_t flops_half, int n_threads) { return flops_half < (1 << 15) ? 1 : n_threads; }

void tcf_qgemm(int M, const float *X, int ldx, const tcf_qmat *W, const float *bias, float *Y, int ldy,
               int accumulate, int n_threads) {
    if (M <= 0 || W->N <= 0) return;
    qg_args g = {M, ldx, ldy, accumulate, 0, X, bias, W, Y, NULL, NULL, NULL};
    n_threads = threads_for((int64_t)M * W->N * W->K, n_threads);
    if (!use_avx2()) {
        tcf_parallel_for_dyn(W->N, 16, n_threads, qgemm_task_ref, &g);
        return;
    }
    const int panels = (W->N + QNR - 1) / QNR;
    g.n_pg = (panels + QPG - 1) / QPG;
    tcf_parallel_for_dyn((int64_t)((M + QMC - 1) / QMC) * g.n_pg, 1, n_threads, qgemm_task_avx2, &g);
}

/* ---- q8: X to Q8_0, integer block dots ------------------------------------- */

int tcf_qgemm_q8_supported(tcf_qtype t) { return t != TCF_QTYPE_NF4; }

/* workspace: (M, K/32) f32 block scales d_x of X, (M, K/32) f32 block sums
 * d_x * Σq_x (for Q4_1's offset m: Σ(d q + m) x = d Σ q x + m Σ x), then X's
 * (M, K/32) Q8_0 blocks */
size_t tcf_qgemm_q8_work_size(int M, int K) { return (size_t)(M > 0 ? M : 0) * (size_t)(K / 32) * (4 + 4 + 34); }

static void q8_work(qg_args *g, void *work) {
    const size_t n = (size_t)g->M * (g->W->K / 32);
    g->dx = work;
    g->sx = g->dx + n;
    g->xq = (uint8_t *)(g->sx + n);
}

static void x_scales(const qg_args *g) {
    const int64_t n = (int64_t)g->M * (g->W->K / 32);
    for (int64_t i = 0; i < n; i++) {
        const uint8_t *b = g->xq + i * 34;
        int s = 0;
        for (int j = 0; j < 32; j++) s += (int8_t)b[2 + j];
        g->dx[i] = f16_at(b);
        g->sx[i] = g->dx[i] * (float)s;
    }
}

void tcf_q8_quantize_rows_ref(const float *X, int ldx, int M, int K, uint8_t *dst) {
    for (int m = 0; m < M; m++) quantize_q8_0(X + (int64_t)m * ldx, dst + (size_t)m * (K / 32) * 34, K / 32);
}

/* rows of X to Q8_0 blocks, rounding as the reference (round_away256) */
TGT static void q8_rows_avx2(const float *X, int ldx, int m_lo, int m_hi, int K, uint8_t *dst) {
    const __m256 sign = _mm256_set1_ps(-0.0f);
    const __m256i perm = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
    for (int m = m_lo; m < m_hi; m++) {
        const float *x = X + (int64_t)m * ldx;
        uint8_t *q = dst + (size_t)m * (K / 32) * 34;
        for (int i = 0; i < K / 32; i++, x += 32, q += 34) {
            __m256 v0 = _mm256_loadu_ps(x), v1 = _mm256_loadu_ps(x + 8), v2 = _mm256_loadu_ps(x + 16),
                   v3 = _mm256_loadu_ps(x + 24);
            __m256 mx = _mm256_max_ps(_mm256_max_ps(_mm256_andnot_ps(sign, v0), _mm256_andnot_ps(sign, v1)),
                                      _mm256_max_ps(_mm256_andnot_ps(sign, v2), _mm256_andnot_ps(sign, v3)));
            __m128 h = _mm_max_ps(_mm256_castps256_ps128(mx), _mm256_extractf128_ps(mx, 1));
            h = _mm_max_ps(h, _mm_movehl_ps(h, h));
            h = _mm_max_ss(h, _mm_movehdup_ps(h));
            const float amax = _mm_cvtss_f32(h);
            const float d = amax / 127.0f, id = d != 0.0f ? 1.0f / d : 0.0f;
            put_f16(q, d);
            const __m256 vid = _mm256_set1_ps(id);
            __m256i i0 = _mm256_cvtps_epi32(round_away256(_mm256_mul_ps(v0, vid)));
            __m256i i1 = _mm256_cvtps_epi32(round_away256(_mm256_mul_ps(v1, vid)));
            __m256i i2 = _mm256_cvtps_epi32(round_away256(_mm256_mul_ps(v2, vid)));
            __m256i i3 = _mm256_cvtps_epi32(round_away256(_mm256_mul_ps(v3, vid)));
            __m256i p = _mm256_packs_epi16(_mm256_packs_epi32(i0, i1), _mm256_packs_epi32(i2, i3));
            _mm256_storeu_si256((__m256i *)(q + 2), _mm256_permutevar8x32_epi32(p, perm));
        }
    }
}

void tcf_q8_quantize_rows(const float *X, int ldx, int M, int K, uint8_t *dst) {
    if (use_avx2()) q8_rows_avx2(X, ldx, 0, M, K, dst);
    else tcf_q8_quantize_rows_ref(X, ldx, M, K, dst);
}

/* Reference: ggml_vec_dot_q8_0_q8_0 / _q4_0_q8_0 / _q4_1_q8_1 (scalar): per
 * block the exact integer sum, then sumf += sumi * (d_w * d_x), and for Q4_1
 * sumf += m_w * (d_x Σ q_x) (ggml keeps that block sum as f16; here f32).
 * Q4_K: per sub-block as Q4_1 with d_w = d*sc, m_w = -(dmin*m). */
static void q8_ref_rows(const qg_args *g, int n_lo, int n_hi) {
    const tcf_qmat *W = g->W;
    const int nb = W->K / 32;
    for (int n = n_lo; n < n_hi; n++) {
        const uint8_t *wr = W->data + (size_t)n * W->row_bytes;
        for (int m = 0; m < g->M; m++) {
            const uint8_t *xb = g->xq + (size_t)m * nb * 34;
            float sumf = 0.0f;
            for (int b = 0; b < nb; b++, xb += 34) {
                const int8_t *xq = (const int8_t *)(xb + 2);
                int sumi = 0;
                float dw, mw = 0.0f;
                if (W->type == TCF_QTYPE_Q8_0) {
                    const uint8_t *wb = wr + (size_t)b * 34;
                    const int8_t *wq = (const int8_t *)(wb + 2);
                    for (int j = 0; j < 32; j++) sumi += wq[j] * xq[j];
                    dw = f16_at(wb);
                } else if (W->type == TCF_QTYPE_Q4_0) {
                    const uint8_t *wb = wr + (size_t)b * 18;
                    for (int j = 0; j < 16; j++)
                        sumi += ((wb[2 + j] & 0x0f) - 8) * xq[j] + ((wb[2 + j] >> 4) - 8) * xq[j + 16];
                    dw = f16_at(wb);
                } else if (W->type == TCF_QTYPE_Q4_1) {
                    const uint8_t *wb = wr + (size_t)b * 20;
                    for (int j = 0; j < 16; j++) sumi += (wb[4 + j] & 0x0f) * xq[j] + (wb[4 + j] >> 4) * xq[j + 16];
                    dw = f16_at(wb);
                    mw = f16_at(wb + 2);
                } else { /* Q4_K sub-block b % 8 of block b / 8 */
                    const uint8_t *blk = wr + (size_t)(b / 8) * 144;
                    const int j = b % 8, sh = (j & 1) * 4;
                    const uint8_t *qs = blk + 16 + 32 * (j / 2);
                    for (int l = 0; l < 32; l++) sumi += ((qs[l] >> sh) & 0x0f) * xq[l];
                    q4k_scales(blk, j, &dw, &mw);
                    mw = -mw;
                }
                const float dd = dw * g->dx[(size_t)m * nb + b];
                sumf += (float)sumi * dd;
                if (W->type == TCF_QTYPE_Q4_1 || W->type == TCF_QTYPE_Q4_K) {
                    const float mt = mw * g->sx[(size_t)m * nb + b];
                    sumf += mt;
                }
            }
            if (g->bias) sumf += g->bias[n];
            float *y = g->Y + (int64_t)m * g->ldy + n;
            *y = g->accumulate ? *y + sumf : sumf;
        }
    }
}

void tcf_qgemm_q8_ref(int M, const float *X, int ldx, const tcf_qmat *W, const float *bias, float *Y, int ldy,
                      int accumulate, void *work) {
    if (M <= 0) return;
    qg_args g = {M, ldx, ldy, accumulate, 0, X, bias, W, Y, NULL, NULL, NULL};
    q8_work(&g, work);
    tcf_q8_quantize_rows_ref(X, ldx, M, W->K, g.xq);
    x_scales(&g);
    q8_ref_rows(&g, 0, W->N);
}

/* Σ w*x of 32 i8 pairs, as 8 i32 lane sums in f32: maddubs needs one unsigned
 * operand, so |w| (aw) times x with w's sign (for Q4_1's unsigned nibbles
 * that is w and x, zeroed where w is 0) (x is never -128: ours come from
 * tcf_q8_quantize_rows, which keeps |q| <= 127). */
TGT static inline __m256 dot32(__m256i aw, __m256i w, __m256i x) { /* aw = |w| */
    __m256i s = _mm256_maddubs_epi16(aw, _mm256_sign_epi8(x, w));
    return _mm256_cvtepi32_ps(_mm256_madd_epi16(s, _mm256_set1_epi16(1)));
}

/* Block b of a weight row as 32 signed bytes, its scale d_w and (Q4_1,
 * Q4_K) offset m_w. q8: 0 Q4_0, 1 Q8_0, 2 Q4_1, 3 Q4_K (block b = sub-block
 * b % 8 of super-block b / 8). */
TGT static inline __m256i wblock(int q8, const uint8_t *wr, int b, float *dw, float *mw) {
    if (q8 == 3) { /* Q4_K: unsigned nibbles 0..15 */
        const uint8_t *blk = wr + (size_t)(b / 8) * 144;
        const int j = b % 8;
        float d, m;
        q4k_scales_avx(blk, j, &d, &m);
        *dw = d;
        *mw = -m;
        __m256i q = _mm256_loadu_si256((const __m256i *)(blk + 16 + 32 * (j / 2)));
        if (j & 1) q = _mm256_srli_epi16(q, 4);
        return _mm256_and_si256(q, _mm256_set1_epi8(0x0f));
    }
    if (q8 == 2) { /* Q4_1: unsigned nibbles 0..15 */
        const uint8_t *wb = wr + (size_t)b * 20;
        *dw = f16_avx(wb);
        *mw = f16_avx(wb + 2);
        __m128i q = _mm_loadu_si128((const __m128i *)(wb + 4)), m4 = _mm_set1_epi8(0x0f);
        return _mm256_set_m128i(_mm_and_si128(_mm_srli_epi16(q, 4), m4), _mm_and_si128(q, m4));
    }
    if (q8) {
        const uint8_t *wb = wr + (size_t)b * 34;
        *dw = f16_avx(wb);
        return _mm256_loadu_si256((const __m256i *)(wb + 2));
    }
    const uint8_t *wb = wr + (size_t)b * 18;
    *dw = f16_avx(wb);
    __m128i q = _mm_loadu_si128((const __m128i *)(wb + 2)), m4 = _mm_set1_epi8(0x0f);
    __m256i v = _mm256_set_m128i(_mm_and_si128(_mm_srli_epi16(q, 4), m4), _mm_and_si128(q, m4));
    return _mm256_sub_epi8(v, _mm256_set1_epi8(8));
}

/* Y[m, n] = v (+ bias[n]) (+ Y[m, n]); VEX code like its callers */
TGT static inline void q8_store(const qg_args *g, int m, int n, float v) {
    if (g->bias) v += g->bias[n];
    float *y = g->Y + (int64_t)m * g->ldy + n;
    *y = g->accumulate ? *y + v : v;
}

/* Y[m..m+R) x row n, R = 1..4 X rows against one W row; R is a compile-time
 * constant in each instance so the accumulators stay in registers. */
#define Q8_ROWS(R)                                                                                   \
    TGT static inline void q8_rows_##R(const qg_args *g, const uint8_t *wr, int n, int m, int nb) {  \
        const tcf_qtype t = g->W->type;                                                              \
        const int q8 = t == TCF_QTYPE_Q8_0 ? 1 : t == TCF_QTYPE_Q4_1 ? 2 : t == TCF_QTYPE_Q4_K ? 3 : 0; \
        const uint8_t *xr[R];                                                                        \
        const float *dr[R], *sr[R];                                                                  \
        __m256 acc[R];                                                                               \
        float mt[R]; /* Q4_1, Q4_K: Σ m_w * (d_x Σ q_x) */                                           \
        _Pragma("GCC unroll 4") for (int i = 0; i < R; i++) {                                        \
            xr[i] = g->xq + (size_t)(m + i) * nb * 34 + 2;                                           \
            dr[i] = g->dx + (size_t)(m + i) * nb;                                                    \
            sr[i] = g->sx + (size_t)(m + i) * nb;                                                    \
            acc[i] = _mm256_setzero_ps();                                                            \
            mt[i] = 0.0f;                                                                            \
        }                                                                                            \
        for (int b = 0; b < nb; b++) {                                                               \
            float dw, mw = 0.0f;                                                                     \
            const __m256i w = wblock(q8, wr, b, &dw, &mw), aw = _mm256_sign_epi8(w, w);              \
            const __m256 vdw = _mm256_set1_ps(dw);                                                   \
            _Pragma("GCC unroll 4") for (int i = 0; i < R; i++) {                                    \
                __m256 s = dot32(aw, w, _mm256_loadu_si256((const __m256i *)(xr[i] + (size_t)b * 34))); \
                __m256 d = _mm256_mul_ps(vdw, _mm256_broadcast_ss(dr[i] + b));                       \
                acc[i] = _mm256_fmadd_ps(d, s, acc[i]);                                              \
            }                                                                                        \
            if (q8 >= 2) {                                                                           \
                _Pragma("GCC unroll 4") for (int i = 0; i < R; i++) {                                \
                    const float p = mw * sr[i][b];                                                   \
                    mt[i] += p;                                                                      \
                }                                                                                    \
            }                                                                                        \
        }                                                                                            \
        _Pragma("GCC unroll 4") for (int i = 0; i < R; i++) q8_store(g, m + i, n, hsum256(acc[i]) + mt[i]);  \
    }
Q8_ROWS(1)
Q8_ROWS(4)

/* The same for Q4_K weights, a super-block at a time: its 8 scales and
 * offsets unpacked once, each 32-byte chunk of codes loaded once for its two
 * sub-blocks (low nibbles, then high). Per sub-block the operations of
 * Q8_ROWS with q8 == 3, in the same order: the same results. */
#define Q8K_ROWS(R)                                                                                  \
    TGT static inline void q8k_rows_##R(const qg_args *g, const uint8_t *wr, int n, int m, int nb) { \
        const uint8_t *xr[R];                                                                        \
        const float *dr[R], *sr[R];                                                                  \
        __m256 acc[R];                                                                               \
        float mt[R];                                                                                 \
        _Pragma("GCC unroll 4") for (int i = 0; i < R; i++) {                                        \
            xr[i] = g->xq + (size_t)(m + i) * nb * 34 + 2;                                           \
            dr[i] = g->dx + (size_t)(m + i) * nb;                                                    \
            sr[i] = g->sx + (size_t)(m + i) * nb;                                                    \
            acc[i] = _mm256_setzero_ps();                                                            \
            mt[i] = 0.0f;                                                                            \
        }                                                                                            \
        const __m256i m4 = _mm256_set1_epi8(0x0f);                                                   \
        for (int b0 = 0; b0 < nb; b0 += 8) {                                                         \
            const uint8_t *blk = wr + (size_t)(b0 / 8) * 144;                                        \
            float dw[8], mw[8];                                                                      \
            q4k_unpack_avx(blk, dw, mw);                                                             \
            for (int j = 0; j < 8; j++) mw[j] = -mw[j];                                              \
            for (int c = 0; c < 4; c++) {                                                            \
                const __m256i q = _mm256_loadu_si256((const __m256i *)(blk + 16 + 32 * c));          \
                const __m256i half[2] = {_mm256_and_si256(q, m4),                                    \
                                         _mm256_and_si256(_mm256_srli_epi16(q, 4), m4)};             \
                for (int h = 0; h < 2; h++) {                                                        \
                    const int j = 2 * c + h, b = b0 + j;                                             \
                    const __m256i w = half[h];                                                       \
                    const __m256 vdw = _mm256_set1_ps(dw[j]);                                        \
                    _Pragma("GCC unroll 4") for (int i = 0; i < R; i++) {                            \
                        __m256 s = dot32(w, w, _mm256_loadu_si256((const __m256i *)(xr[i] + (size_t)b * 34))); \
                        __m256 d = _mm256_mul_ps(vdw, _mm256_broadcast_ss(dr[i] + b));               \
                        acc[i] = _mm256_fmadd_ps(d, s, acc[i]);                                      \
                    }                                                                                \
                    _Pragma("GCC unroll 4") for (int i = 0; i < R; i++) {                            \
                        const float p = mw[j] * sr[i][b];                                            \
                        mt[i] += p;                                                                  \
                    }                                                                                \
                }                                                                                    \
            }                                                                                        \
        }                                                                                            \
        _Pragma("GCC unroll 4") for (int i = 0; i < R; i++) q8_store(g, m + i, n, hsum256(acc[i]) + mt[i]);  \
    }
Q8K_ROWS(1)
Q8K_ROWS(4)

static void q8_tile(const qg_args *g, int m_lo, int m_hi, int n_lo, int n_hi) {
    const int nb = g->W->K / 32;
    for (int n = n_lo; n < n_hi; n++) {
        const uint8_t *wr = g->W->data + (size_t)n * g->W->row_bytes;
        int m = m_lo;
        if (g->W->type == TCF_QTYPE_Q4_K) {
            for (; m + 4 <= m_hi; m += 4) q8k_rows_4(g, wr, n, m, nb);
            for (; m < m_hi; m++) q8k_rows_1(g, wr, n, m, nb);
            continue;
        }
        for (; m + 4 <= m_hi; m += 4) q8_rows_4(g, wr, n, m, nb);
        for (; m < m_hi; m++) q8_rows_1(g, wr, n, m, nb);
    }
}

static void q8_task_avx2(void *ctx, int64_t begin, int64_t end, int tid) {
    const qg_args *g = ctx;
    const int n_tiles = (g->W->N + Q8N - 1) / Q8N;
    for (int64_t t = begin; t < end; t++) {
        int m_lo = (int)(t / n_tiles) * Q8M, m_hi = m_lo + Q8M < g->M ? m_lo + Q8M : g->M;
        int n_lo = (int)(t % n_tiles) * Q8N, n_hi = n_lo + Q8N < g->W->N ? n_lo + Q8N : g->W->N;
        q8_tile(g, m_lo, m_hi, n_lo, n_hi);
    }
}

static void q8_task_ref(void *ctx, int64_t begin, int64_t end, int tid) { q8_ref_rows(ctx, (int)begin, (int)end); }

static void q8_quant_task(void *ctx, int64_t begin, int64_t end, int tid) {
    const qg_args *g = ctx;
    q8_rows_avx2(g->X, g->ldx, (int)begin, (int)end, g->W->K, g->xq);
}

void tcf_qgemm_q8(int M, const float *X, int ldx, const tcf_qmat *W, const float *bias, float *Y, int ldy,
                  int accumulate, void *work, int n_threads) {
    if (M <= 0 || W->N <= 0) return;
    qg_args g = {M, ldx, ldy, accumulate, 0, X, bias, W, Y, NULL, NULL, NULL};
    q8_work(&g, work);
    n_threads = threads_for((int64_t)M * W->N * W->K, n_threads);
    if (!use_avx2()) {
        tcf_q8_quantize_rows_ref(X, ldx, M, W->K, g.xq);
        x_scales(&g);
        tcf_parallel_for_dyn(W->N, 16, n_threads, q8_task_ref, &g);
        return;
    }
    tcf_parallel_for(M, M >= 16 ? n_threads : 1, q8_quant_task, &g);
    x_scales(&g);
    const int n_tiles = (W->N + Q8N - 1) / Q8N;
    tcf_parallel_for_dyn((int64_t)((M + Q8M - 1) / Q8M) * n_tiles, 1, n_threads, q8_task_avx2, &g);
}

/* ---- backward to the input: dX = dY @ W ------------------------------------ */

typedef struct {
    int M, ldy, ldx, accumulate;
    const float *dY;
    const tcf_qmat *W;
    float *dX;
} qb_args;

static void bwd_ref_rows(const qb_args *g, int m_lo, int m_hi) {
    const tcf_qmat *W = g->W;
    const int bs = seg_of(W->type);
    float w[64], acc[64];
    for (int m = m_lo; m < m_hi; m++) {
        const float *dy = g->dY + (int64_t)m * g->ldy;
        float *dx = g->dX + (int64_t)m * g->ldx;
        for (int k0 = 0; k0 < W->K; k0 += bs) {
            for (int j = 0; j < bs; j++) acc[j] = 0.0f;
            for (int n = 0; n < W->N; n++) {
                deq_seg_ref(W, n, k0, bs, w);
                for (int j = 0; j < bs; j++) acc[j] += dy[n] * w[j];
            }
            for (int j = 0; j < bs; j++) dx[k0 + j] = g->accumulate ? dx[k0 + j] + acc[j] : acc[j];
        }
    }
}

void tcf_qgemm_bwd_ref(int M, const float *dY, int ldy, const tcf_qmat *W, float *dX, int ldx, int accumulate) {
    qb_args g = {M, ldy, ldx, accumulate, dY, W, dX};
    bwd_ref_rows(&g, 0, M);
}

static void bwd_task_ref(void *ctx, int64_t begin, int64_t end, int tid) { bwd_ref_rows(ctx, (int)begin, (int)end); }

static void bwd_task_avx2(void *ctx, int64_t begin, int64_t end, int tid) {
    const qb_args *g = ctx;
    const tcf_qmat *W = g->W;
    const int c_tiles = (W->K + QBC - 1) / QBC;
    float blk[QBN * QBC] __attribute__((aligned(32))); /* (256, 64) decoded rows of W */
    for (int64_t t = begin; t < end; t++) {
        int m_lo = (int)(t / c_tiles) * QBM, m_hi = m_lo + QBM < g->M ? m_lo + QBM : g->M;
        int c0 = (int)(t % c_tiles) * QBC, cw = W->K - c0 < QBC ? W->K - c0 : QBC;
        for (int n0 = 0; n0 < W->N; n0 += QBN) {
            const int nb = W->N - n0 < QBN ? W->N - n0 : QBN;
            for (int r = 0; r < nb; r++) deq_seg_avx2(W, n0 + r, c0, cw, blk + r * cw);
            tcf_gemm(m_hi - m_lo, cw, nb, g->dY + (int64_t)m_lo * g->ldy + n0, g->ldy, blk, cw,
                     g->dX + (int64_t)m_lo * g->ldx + c0, g->ldx, NULL, n0 == 0 ? g->accumulate : 1, 1);
        }
    }
}

void tcf_qgemm_bwd(int M, const float *dY, int ldy, const tcf_qmat *W, float *dX, int ldx, int accumulate,
                   int n_threads) {
    if (M <= 0 || W->K <= 0) return;
    qb_args g = {M, ldy, ldx, accumulate, dY, W, dX};
    n_threads = threads_for((int64_t)M * W->N * W->K, n_threads);
    if (!use_avx2()) {
        tcf_parallel_for_dyn(M, 4, n_threads, bwd_task_ref, &g);
        return;
    }
    const int c_tiles = (W->K + QBC - 1) / QBC;
    tcf_parallel_for_dyn((int64_t)((M + QBM - 1) / QBM) * c_tiles, 1, n_threads, bwd_task_avx2, &g);
}
