/*
 * test_qlora.c — LoRA steps on a quantized frozen base (QLoRA): the tiny
 * random Llama (tests/fixtures/llama/tiny_llama) loaded with its dense
 * weights in Q8_0, Q4_0, Q4_1 and NF4 (with and without double
 * quantization). Reference: the same model in f32 whose dense weights are
 * replaced by the decoded blocks, so both run the same function; logits,
 * loss and every adapter / head gradient must agree to float rounding
 * (summation order differs between the packed f32 and the decode kernels).
 * Also: recompute mode gives the same bits as keeping every activation,
 * the forward-only logits equal the training forward's, quantized load
 * takes less memory, and bad formats are refused.
 */
#include "base/base.h"
#include "check.h"
#include "kern/kern.h"
#include "train/llama_lora.h"

#include <math.h>
#include <string.h>

#define FIX "tests/fixtures/llama/"

/* m32's dense weights := the decoded blocks of mq's (both from one file). */
static int replace_with_decoded(tcf_llama *m32, const tcf_llama *mq) {
    const tcf_llama_config *c = &m32->cfg;
    const int C = c->hidden, I = c->inter, Q = c->heads * c->head_dim, N = Q + 2 * c->kv_heads * c->head_dim;
    float *tmp = malloc(sizeof(float) * (size_t)(2 * I) * (C > I ? C : I) + sizeof(float) * (size_t)N * C);
    if (!tmp) return 0;
    for (int l = 0; l < c->layers; l++) {
        tcf_llama_layer *L = &m32->layer[l];
        const tcf_llama_layer *q = &mq->layer[l];
        struct { const tcf_qmat *W; float *dst; } w[4] = {
            {&q->qkv_q, L->qkv_wp}, {&q->o_q, L->o_wp}, {&q->gu_q, L->gu_wp}, {&q->down_q, L->down_wp}};
        for (int i = 0; i < 4; i++) {
            tcf_qmat_dequant_rows(w[i].W, 0, w[i].W->N, tmp);
            tcf_gemm_pack_b(w[i].W->K, w[i].W->N, tmp, w[i].W->K, 1, w[i].dst);
        }
    }
    free(tmp);
    return 1;
}

static void set_adapters(tcf_llama_lora *lo, const tcf_llama_config *c) {
    for (int l = 0; l < c->layers; l++)
        for (int mod = 0; mod < TCF_LL_N; mod++) {
            int in, out;
            tcf_llama_lora_dims(c, mod, &in, &out);
            float *ab[2] = {lo->A[l * TCF_LL_N + mod], lo->B[l * TCF_LL_N + mod]};
            int64_t n[2] = {(int64_t)lo->r * in, (int64_t)out * lo->r};
            for (int k = 0; k < 2; k++) {
                int j = 2 * (l * TCF_LL_N + mod) + k;
                for (int64_t i = 0; i < n[k]; i++) ab[k][i] = (float)(0.05 * sin(0.37 * (double)i + 1.3 * j + 0.1));
            }
        }
}

/* every gradient of lo, flattened (A, B per module), then dscore */
static float *grads_of(const tcf_llama_lora *lo, const float *dscore, int n_score, int64_t *n) {
    int64_t total = n_score;
    for (int i = 0; i < lo->layers * TCF_LL_N; i++) total += lo->dA[i] - lo->A[i];
    float *g = malloc(sizeof(float) * (size_t)total), *p = g;
    for (int i = 0; i < lo->layers * TCF_LL_N; i++) {
        int64_t na = lo->B[i] - lo->A[i], nb = lo->dA[i] - lo->B[i];
        memcpy(p, lo->dA[i], sizeof(float) * na), p += na;
        memcpy(p, lo->dB[i], sizeof(float) * nb), p += nb;
    }
    memcpy(p, dscore, sizeof(float) * n_score);
    *n = total;
    return g;
}

static void one_format(int qtype, int dq, const int32_t *ids, const uint8_t *mask, int B, int T) {
    const char *qn = tcf_qtype_name((tcf_qtype)qtype);
    tcf_llama *m32 = NULL, *mq = NULL;
    tcf_llama_lora *lo = NULL;
    tcf_llama_load_opts o = {qtype, dq};
    if (tcf_llama_load(FIX "tiny_llama", &m32) || tcf_llama_load_with(FIX "tiny_llama", &o, &mq)) {
        CHECK(0, "%s load: %s", qn, tcf_last_error());
        tcf_llama_free(m32);
        return;
    }
    CHECK(mq->quant == qtype && mq->layer[0].qkv_wp == NULL && mq->layer[1].down_q.data != NULL,
          "%s: dense weights not kept quantized", qn);
    CHECK(tcf_llama_weight_bytes(mq) < tcf_llama_weight_bytes(m32), "%s: %zu bytes >= f32's %zu", qn,
          tcf_llama_weight_bytes(mq), tcf_llama_weight_bytes(m32));
    replace_with_decoded(m32, mq);
    const tcf_llama_config *c = &m32->cfg;
    const int C = c->hidden, NL = 3;
    tcf_llama_lora_init(c, 4, 8.0f, &lo);
    set_adapters(lo, c);
    float score[3 * 64];
    for (int i = 0; i < NL * C; i++) score[i] = (float)(0.1 * cos(0.9 * i));
    const int32_t labels[3] = {2, 0, 1};
    float ds_ref[3 * 64] = {0}, ds_q[3 * 64] = {0}, ds_rc[3 * 64] = {0};
    float lg_ref[9], lg_q[9], lg_rc[9], lg_fwd[9], loss_ref = 0, loss_q = 0, loss_rc = 0;
    int64_t n1, n2, n3;
    tcf_status st = tcf_llama_lora_grad(m32, lo, score, ds_ref, NL, B, T, ids, mask, labels, lg_ref, &loss_ref, 2);
    float *g_ref = grads_of(lo, ds_ref, NL * C, &n1);
    tcf_llama_lora_zero_grad(lo);
    st |= tcf_llama_lora_grad(mq, lo, score, ds_q, NL, B, T, ids, mask, labels, lg_q, &loss_q, 2);
    float *g_q = grads_of(lo, ds_q, NL * C, &n2);
    tcf_llama_lora_zero_grad(lo);
    tcf_llama_lora_step_opts so = {.recompute = 1};
    st |= tcf_llama_lora_step(mq, lo, score, ds_rc, NL, B, T, ids, mask, labels, &so, lg_rc, &loss_rc, 2);
    float *g_rc = grads_of(lo, ds_rc, NL * C, &n3);
    st |= tcf_llama_lora_logits(mq, lo, score, NL, B, T, ids, mask, lg_fwd, 2);
    CHECK(st == TCF_OK, "%s steps: %s", qn, tcf_last_error());
    char what[96];
    double mr = 0;
    for (int64_t i = 0; i < n1; i++) mr = fabs(g_ref[i]) > mr ? fabs(g_ref[i]) : mr;
    snprintf(what, sizeof what, "%s%s logits vs decoded f32", qn, dq ? "+dq" : "");
    check_close(what, lg_q, lg_ref, B * NL, 1e-6, 1e-5);
    snprintf(what, sizeof what, "%s%s loss vs decoded f32", qn, dq ? "+dq" : "");
    check_close(what, &loss_q, &loss_ref, 1, 1e-6, 1e-5);
    snprintf(what, sizeof what, "%s%s %lld gradients vs decoded f32", qn, dq ? "+dq" : "", (long long)n1);
    check_close(what, g_q, g_ref, (long)n1, 1e-5 * mr, 1e-4);
    CHECK(mr > 0, "%s: all-zero gradients", qn);
    CHECK(n1 == n2 && n2 == n3 && !memcmp(g_q, g_rc, sizeof(float) * (size_t)n2) && !memcmp(lg_q, lg_rc, sizeof lg_q) &&
              loss_q == loss_rc,
          "%s: recompute mode changed the gradients", qn);
    CHECK(!memcmp(lg_fwd, lg_q, sizeof lg_q), "%s: forward-only logits differ from the training forward's", qn);
    free(g_ref), free(g_q), free(g_rc);
    tcf_llama_lora_free(lo);
    tcf_llama_free(m32);
    tcf_llama_free(mq);
}

int main(void) {
    char *ids_raw, *mask_raw;
    size_t n1, n2;
    const int B = 3, T = 7;
    if (tcf_read_file(FIX "tiny_llama/ref/ids.i32", &ids_raw, &n1) ||
        tcf_read_file(FIX "tiny_llama/ref/mask.u8", &mask_raw, &n2) || n1 != 4 * B * T || n2 != B * T) {
        CHECK(0, "fixtures: %s", tcf_last_error());
        return check_summary("test_qlora");
    }
    const int32_t *ids = (const int32_t *)ids_raw;
    const uint8_t *mask = (const uint8_t *)mask_raw;
    one_format(TCF_QTYPE_Q8_0, 0, ids, mask, B, T);
    one_format(TCF_QTYPE_Q4_0, 0, ids, mask, B, T);
    one_format(TCF_QTYPE_Q4_1, 0, ids, mask, B, T);
    one_format(TCF_QTYPE_NF4, 0, ids, mask, B, T);
    one_format(TCF_QTYPE_NF4, 1, ids, mask, B, T);

    /* refusals */
    tcf_llama *m = NULL;
    CHECK(tcf_llama_load_with(FIX "tiny_llama", &(tcf_llama_load_opts){TCF_LLAMA_KEEP, 0}, &m) ==
                  TCF_ERR_UNSUPPORTED && strstr(tcf_last_error(), "Q8_0, Q4_0 or Q4_1"),
          "KEEP on an f16 directory: %s", tcf_last_error());
    CHECK(tcf_llama_load_with(FIX "tiny_llama", &(tcf_llama_load_opts){7, 0}, &m) == TCF_ERR_ARG,
          "unknown format: %s", tcf_last_error());
    /* the tiny GGUF is f32/f16: KEEP refuses it, a block type re-quantizes */
    CHECK(tcf_llama_load_with(FIX "tiny_llama.gguf", &(tcf_llama_load_opts){TCF_LLAMA_KEEP, 0}, &m) ==
              TCF_ERR_UNSUPPORTED,
          "KEEP on an unquantized GGUF: %s", tcf_last_error());
    tcf_llama *g32 = NULL;
    tcf_status st = tcf_llama_load_with(FIX "tiny_llama.gguf", &(tcf_llama_load_opts){TCF_QTYPE_Q8_0, 0}, &m);
    CHECK(st == TCF_OK && tcf_llama_load(FIX "tiny_llama.gguf", &g32) == TCF_OK, "GGUF to q8_0: %s", tcf_last_error());
    if (m && g32) {
        /* q/k rows un-permuted before quantizing: same hidden states as f32 within Q8_0 error */
        const int C = m->cfg.hidden;
        float *h1 = malloc(sizeof(float) * (size_t)B * T * C), *h2 = malloc(sizeof(float) * (size_t)B * T * C);
        tcf_llama_forward(m, B, T, ids, mask, h1, 1);
        tcf_llama_forward(g32, B, T, ids, mask, h2, 1);
        double md = 0, mx = 0;
        for (int i = 0; i < B * T * C; i++)
            if (mask[i / C]) {
                md = fmax(md, fabs(h1[i] - h2[i]));
                mx = fmax(mx, fabs(h2[i]));
            }
        printf("  %-48s max_abs_diff=%.3g (max |h| %.3g)\n", "tiny GGUF q8_0 hidden vs f32", md, mx);
        CHECK(md <= 0.05 * mx, "q8_0 hidden states off by %g (max %g)", md, mx);
        /* per-row int8 for inference (tcf_llama_quantize_i8): close to the
         * blocks it came from; refused twice, for f32 and for backward */
        CHECK(tcf_llama_quantize_i8(g32) == TCF_ERR_UNSUPPORTED && strstr(tcf_last_error(), "f32"),
              "int8 of an f32 decoder: %s", tcf_last_error());
        const size_t bytes_q = tcf_llama_weight_bytes(m);
        CHECK(tcf_llama_quantize_i8(m) == TCF_OK && m->i8 && !m->layer[0].qkv_q.data, "int8: %s", tcf_last_error());
        float *h3 = malloc(sizeof(float) * (size_t)B * T * C);
        tcf_llama_forward(m, B, T, ids, mask, h3, 2);
        double mi = 0;
        for (int i = 0; i < B * T * C; i++)
            if (mask[i / C]) mi = fmax(mi, fabs(h3[i] - h1[i]));
        printf("  %-48s max_abs_diff=%.3g (max |h| %.3g); weights %zu -> %zu bytes\n", "tiny GGUF int8 vs q8_0 hidden",
               mi, mx, bytes_q, tcf_llama_weight_bytes(m));
        CHECK(mi > 0 && mi <= 0.05 * mx, "int8 hidden states off by %g (max %g)", mi, mx);
        CHECK(tcf_llama_quantize_i8(m) == TCF_ERR_UNSUPPORTED && strstr(tcf_last_error(), "already"),
              "second int8: %s", tcf_last_error());
        CHECK(tcf_llama_enable_backward(m) == TCF_ERR_UNSUPPORTED && strstr(tcf_last_error(), "inference only"),
              "backward on int8: %s", tcf_last_error());
        free(h3);
        free(h1), free(h2);
    }
    tcf_llama_free(m);
    tcf_llama_free(g32);
    free(ids_raw), free(mask_raw);
    return check_summary("test_qlora");
}
