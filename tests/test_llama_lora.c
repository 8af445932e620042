/*
 * test_llama_lora.c — LoRA gradients of a Llama sequence classifier against
 * PyTorch + PEFT (tests/ref/gen_llama_lora_fixtures.py): tiny random Llama,
 * r=4 alpha=8 on q k v o gate up down of both layers, random lora_B, the
 * score head trainable; one forward + backward of the mean cross-entropy on
 * a batch with unpadded, right- and left-padded rows. Compared: logits,
 * loss, and the gradient of all 28 adapter tensors and the head
 * (|diff| <= 1e-5 max|ref| + 1e-4 |ref| per tensor; printed: max abs diff, and
 * the worst max |diff| / max |grad| over the tensors, which must be <= 1e-4),
 * with the head on the last real token (LlamaForSequenceClassification) and
 * on the mean over the real tokens (--pooling mean). Also: 1 and 2 threads
 * give the same gradients. lora_dropout (no PEFT reference: torch's masks
 * are its own RNG's): p = 0 is the plain step bit for bit; with p = 0.5 the
 * masks are reproducible (threads, recompute), change with the step, change
 * the gradients, and central differences of the loss (masks fixed by seed
 * and step) match the analytic gradient of A and B entries of every module.
 * SmolLM2 runs twice: dequantized to f32 at load, and QLoRA-style with its
 * Q4_1 blocks kept (PEFT's reference used the dequantized weights, so both
 * must match it).
 */
#include "base/base.h"
#include "check.h"
#include "train/llama_lora.h"

#include <string.h>
#include <unistd.h>

#define FIX "tests/fixtures/llama/"

static int fill(const tcf_safetensors *st, const char *name, float *dst, int64_t n) {
    const tcf_tensor_view *t = tcf_safetensors_find(st, name);
    if (!t || t->numel != n || tcf_tensor_to_f32(t, dst, n)) {
        CHECK(0, "fixture tensor %s missing or of the wrong size", name);
        return 0;
    }
    return 1;
}

/* SmolLM2-135M (real weights) with formula-initialised adapters on all 30
 * layers (tests/ref/gen_llama_lora_smollm2.py): loss, logits, the gradient
 * norm of all 421 tensors, and 4 whole gradients. SKIP without the model. */
static void test_smollm2(int quant) {
    const char *path = "models/SmolLM2-135M-Instruct/SmolLM2-135M-Instruct.Q4_1.gguf";
#if defined(__SANITIZE_ADDRESS__)
    printf("SKIP SmolLM2 LoRA gradients under the sanitizers (minutes there; the tiny model covers the code)\n");
    return;
#endif
    if (access(path, R_OK) != 0) {
        printf("SKIP SmolLM2 LoRA gradients: %s absent (scripts/fetch_models.sh --all)\n", path);
        return;
    }
    tcf_llama *m = NULL;
    tcf_llama_lora *lo = NULL;
    tcf_safetensors *g = NULL;
    char *ids, *mask, *score_raw, *norms_raw, *lg_raw, *loss_raw;
    size_t n1, n2, n3, n4, n5, n6;
    if (tcf_llama_load_with(path, &(tcf_llama_load_opts){quant, 0}, &m) ||
        tcf_safetensors_open(FIX "lora_smollm2/grads.safetensors", &g) ||
        tcf_read_file(FIX "smollm2/ids.i32", &ids, &n1) || tcf_read_file(FIX "smollm2/mask.u8", &mask, &n2) ||
        tcf_read_file(FIX "smollm2/score.f32", &score_raw, &n3) ||
        tcf_read_file(FIX "lora_smollm2/norms.f32", &norms_raw, &n4) ||
        tcf_read_file(FIX "lora_smollm2/logits.f32", &lg_raw, &n5) ||
        tcf_read_file(FIX "lora_smollm2/loss.f32", &loss_raw, &n6) || n1 != 4 * 8 * 12 || n4 != 4 * 421) {
        CHECK(0, "SmolLM2 LoRA setup: %s", tcf_last_error());
        return;
    }
    const tcf_llama_config *c = &m->cfg;
    const int C = c->hidden;
    CHECK(tcf_llama_lora_init(c, 4, 8.0f, &lo) == TCF_OK, "lora init");
    for (int l = 0; l < c->layers; l++)
        for (int mod = 0; mod < TCF_LL_N; mod++) {
            int in, out;
            tcf_llama_lora_dims(c, mod, &in, &out);
            float *ab[2] = {lo->A[l * TCF_LL_N + mod], lo->B[l * TCF_LL_N + mod]};
            int64_t n[2] = {(int64_t)4 * in, (int64_t)out * 4};
            for (int k = 0; k < 2; k++) {
                int j = 2 * (l * TCF_LL_N + mod) + k;
                for (int64_t i = 0; i < n[k]; i++) ab[k][i] = (float)(0.02 * sin(0.7 * (double)i + 1.3 * j + 0.1));
            }
        }
    float *dscore = calloc((size_t)4 * C, sizeof(float)), logits[32], loss;
    const int32_t labels[8] = {0, 1, 2, 3, 0, 1, 2, 3};
    double t0 = tcf_now();
    tcf_status st = tcf_llama_lora_grad(m, lo, (const float *)score_raw, dscore, 4, 8, 12, (const int32_t *)ids,
                                        (const uint8_t *)mask, labels, logits, &loss, 2);
    CHECK(st == TCF_OK, "SmolLM2 LoRA grad: %s", tcf_last_error());
    printf("SmolLM2-135M LoRA r=4 on all 7 modules x 30 layers, base %s, weights %.1f MB (one step: %.2f s)\n",
           quant == TCF_LLAMA_F32 ? "f32 (dequantized at load)" : "kept in the GGUF's blocks (QLoRA)",
           tcf_llama_weight_bytes(m) / 1e6, tcf_now() - t0);
    check_close("smollm2 logits vs PEFT", logits, (const float *)lg_raw, 32, 1e-4, 1e-4);
    check_close("smollm2 loss vs PEFT", &loss, (const float *)loss_raw, 1, 1e-5, 1e-5);
    float norms[421];
    for (int i = 0; i < 420; i++) {
        const float *t = i % 2 ? lo->dB[i / 2] : lo->dA[i / 2];
        int64_t n = i % 2 ? lo->dA[i / 2] - lo->B[i / 2] : lo->B[i / 2] - lo->A[i / 2];
        double ss = 0;
        for (int64_t k = 0; k < n; k++) ss += (double)t[k] * t[k];
        norms[i] = (float)sqrt(ss);
    }
    double ss = 0;
    for (int i = 0; i < 4 * C; i++) ss += (double)dscore[i] * dscore[i];
    norms[420] = (float)sqrt(ss);
    check_close("smollm2 gradient norms, 421 tensors", norms, (const float *)norms_raw, 421, 1e-7, 1e-4);
    double worst = 0;
    for (int i = 0; i < 421; i++) {
        double rel = fabs(norms[i] - ((const float *)norms_raw)[i]) / fabs(((const float *)norms_raw)[i]);
        if (rel > worst) worst = rel;
    }
    printf("  %-48s max_rel_diff=%.3g\n", "", worst);
    /* a second step, now that the backward weights are packed */
    tcf_llama_lora_zero_grad(lo);
    t0 = tcf_now();
    st = tcf_llama_lora_grad(m, lo, (const float *)score_raw, NULL, 4, 8, 12, (const int32_t *)ids,
                             (const uint8_t *)mask, labels, NULL, NULL, 2);
    printf("  second step: %.2f s (2 threads)\n", tcf_now() - t0);
    struct { const char *name; const float *got; } full[4] = {
        {"layers.0.q_proj.lora_A", lo->dA[0 * TCF_LL_N + TCF_LL_Q]},
        {"layers.29.down_proj.lora_B", lo->dB[29 * TCF_LL_N + TCF_LL_DOWN]},
        {"layers.15.v_proj.lora_B", lo->dB[15 * TCF_LL_N + TCF_LL_V]},
        {"score", dscore}};
    for (int i = 0; i < 4; i++) {
        const tcf_tensor_view *t = tcf_safetensors_find(g, full[i].name);
        CHECK(t != NULL, "grads.safetensors lacks %s", full[i].name);
        if (!t) continue;
        float *r = malloc(sizeof(float) * (size_t)t->numel);
        tcf_tensor_to_f32(t, r, t->numel);
        double mr = 0;
        for (int64_t k = 0; k < t->numel; k++) mr = fabs(r[k]) > mr ? fabs(r[k]) : mr;
        char what[96];
        snprintf(what, sizeof what, "smollm2 d %s", full[i].name);
        check_close(what, full[i].got, r, (long)t->numel, 1e-4 * mr, 1e-4);
        free(r);
    }
    free(dscore);
    free(ids), free(mask), free(score_raw), free(norms_raw), free(lg_raw), free(loss_raw);
    tcf_safetensors_free(g);
    tcf_llama_lora_free(lo);
    tcf_llama_free(m);
}

/* One step on the tiny model's batch with the head reading `pooling`,
 * compared with the PEFT fixture files FIX "lora/<prefix>{logits.f32,
 * loss.f32,grads.safetensors}". */
static void compare_step(tcf_llama *m, tcf_llama_lora *lo, const float *score, tcf_pooling pooling, const char *prefix,
                         const int32_t *ids, const uint8_t *mask) {
    const tcf_llama_config *c = &m->cfg;
    const int C = c->hidden, NL = 3, B = 3, T = 7;
    char name[128], path[160];
    char *lg_raw = NULL, *loss_raw = NULL;
    size_t n3, n4;
    tcf_safetensors *g = NULL;
    snprintf(path, sizeof path, FIX "lora/%slogits.f32", prefix);
    int bad = tcf_read_file(path, &lg_raw, &n3) != TCF_OK || n3 != 4 * B * NL;
    snprintf(path, sizeof path, FIX "lora/%sloss.f32", prefix);
    bad = bad || tcf_read_file(path, &loss_raw, &n4) != TCF_OK;
    snprintf(path, sizeof path, FIX "lora/%sgrads.safetensors", prefix);
    bad = bad || tcf_safetensors_open(path, &g) != TCF_OK;
    CHECK(!bad, "fixtures %s: %s", prefix, tcf_last_error());
    if (bad) goto out;
    printf(" %s pooling:\n", pooling == TCF_POOL_MEAN ? "mean" : "last-token");
    const int32_t labels[3] = {0, 2, 1};
    float logits[9], loss = 0, dscore[3 * 64] = {0};
    lo->pooling = pooling;
    tcf_llama_lora_zero_grad(lo);
    tcf_status st = tcf_llama_lora_grad(m, lo, score, dscore, NL, B, T, ids, mask, labels, logits, &loss, 2);
    CHECK(st == TCF_OK, "lora grad: %s", tcf_last_error());
    check_close("logits vs PEFT", logits, (const float *)lg_raw, B * NL, 1e-5, 1e-4);
    check_close("loss vs PEFT", &loss, (const float *)loss_raw, 1, 1e-6, 1e-5);
    double worst = 0;
    int n_checked = 0;
#define CMP(label, got, nel)                                                                   \
    do {                                                                                       \
        float *r_ = malloc(sizeof(float) * (size_t)(nel));                                     \
        if (fill(g, label, r_, nel)) {                                                         \
            double md = 0, mr = 0;                                                             \
            for (int64_t i = 0; i < (nel); i++) {                                              \
                double d = fabs((double)(got)[i] - r_[i]);                                     \
                if (d > md || d != d) md = d;                                                  \
                if (fabs(r_[i]) > mr) mr = fabs(r_[i]);                                        \
            }                                                                                  \
            check_close(label, got, r_, nel, 1e-5 * mr, 1e-4);                                      \
            CHECK(mr > 0, "%s: reference gradient is all zero", label);                        \
            if (md / mr > worst) worst = md / mr;                                              \
            n_checked++;                                                                       \
        }                                                                                      \
        free(r_);                                                                              \
    } while (0)
    CMP("score", dscore, NL * C);
    for (int l = 0; l < c->layers; l++)
        for (int mod = 0; mod < TCF_LL_N; mod++) {
            int in, out;
            tcf_llama_lora_dims(c, mod, &in, &out);
            snprintf(name, sizeof name, "layers.%d.%s.lora_A", l, tcf_llama_lora_module_names[mod]);
            CMP(name, lo->dA[l * TCF_LL_N + mod], (int64_t)4 * in);
            snprintf(name, sizeof name, "layers.%d.%s.lora_B", l, tcf_llama_lora_module_names[mod]);
            CMP(name, lo->dB[l * TCF_LL_N + mod], (int64_t)out * 4);
        }
    printf("  %d gradient tensors vs PEFT: worst max|diff| / max|grad| = %.3g\n", n_checked, worst);
    CHECK(n_checked == 29 && worst <= 1e-4, "gradients: %d tensors, worst relative diff %g", n_checked, worst);
#undef CMP
out:
    lo->pooling = TCF_POOL_LAST;
    free(lg_raw), free(loss_raw);
    tcf_safetensors_free(g);
}

/* every adapter gradient of lo, concatenated into g (or its length if g is NULL) */
static int64_t grads_of(const tcf_llama_lora *lo, float *g) {
    int64_t k = 0;
    for (int i = 0; i < lo->layers * TCF_LL_N; i++) {
        int64_t na = lo->B[i] - lo->A[i], nb = lo->dA[i] - lo->B[i];
        if (g) memcpy(g + k, lo->dA[i], sizeof(float) * na), memcpy(g + k + na, lo->dB[i], sizeof(float) * nb);
        k += na + nb;
    }
    return k;
}

static void test_dropout(tcf_llama *m, tcf_llama_lora *lo, const float *score, const int32_t *ids, const uint8_t *mask) {
    const int NL = 3, B = 3, T = 7;
    const int32_t labels[3] = {0, 2, 1};
    const int64_t n = grads_of(lo, NULL);
    float *g0 = malloc(sizeof(float) * n), *g1 = malloc(sizeof(float) * n), *g2 = malloc(sizeof(float) * n);
    float loss = 0;
    /* run a step with opts, gradients into g */
#define STEP(g, so_, nt)                                                                                          \
    do {                                                                                                          \
        tcf_llama_lora_zero_grad(lo);                                                                             \
        CHECK(tcf_llama_lora_step(m, lo, score, NULL, NL, B, T, ids, mask, labels, so_, NULL, &loss, nt) == TCF_OK, \
              "dropout step: %s", tcf_last_error());                                                              \
        grads_of(lo, g);                                                                                          \
    } while (0)
    tcf_llama_lora_step_opts off = {0}, p0 = {.lora_dropout = 0, .dropout_seed = 7, .dropout_step = 3};
    STEP(g0, &off, 2);
    STEP(g1, &p0, 2);
    CHECK(!memcmp(g0, g1, sizeof(float) * n), "lora_dropout 0 changed the gradients");
    tcf_llama_lora_step_opts d = {.lora_dropout = 0.5f, .dropout_seed = 7, .dropout_step = 3};
    STEP(g1, &d, 2);
    int differs = memcmp(g0, g1, sizeof(float) * n) != 0;
    CHECK(differs, "lora_dropout 0.5 left the gradients unchanged");
    STEP(g2, &d, 1);
    CHECK(!memcmp(g1, g2, sizeof(float) * n), "lora_dropout: 1 and 2 threads give different gradients");
    d.recompute = 1;
    STEP(g2, &d, 2);
    CHECK(!memcmp(g1, g2, sizeof(float) * n), "lora_dropout: recompute gives different gradients");
    d.recompute = 0, d.dropout_step = 4;
    STEP(g2, &d, 2);
    CHECK(memcmp(g1, g2, sizeof(float) * n) != 0, "lora_dropout: step 4 has the masks of step 3");
    d.dropout_step = 3;
    /* central differences: the largest-gradient entry of A and of B of every
     * module of layer 1 (layer 0's come out the same way) */
    STEP(g1, &d, 2);
    const float h = 1e-2f;
    double worst = 0;
    int checked = 0;
    for (int mod = 0; mod < TCF_LL_N; mod++)
        for (int which = 0; which < 2; which++) {
            const int i = TCF_LL_N + mod;
            /* the gradient as saved in g1 (the steps below add to lo->dA, dB) */
            int64_t at = 0;
            for (int j = 0; j < i; j++) at += lo->dA[j] - lo->A[j];
            float *w = which ? lo->B[i] : lo->A[i];
            const float *gw = g1 + at + (which ? lo->B[i] - lo->A[i] : 0);
            const int64_t nw = which ? lo->dA[i] - lo->B[i] : lo->B[i] - lo->A[i];
            int64_t best = 0;
            for (int64_t j = 1; j < nw; j++)
                if (fabsf(gw[j]) > fabsf(gw[best])) best = j;
            const float g = gw[best], w0 = w[best];
            float lp = 0, lm = 0;
            w[best] = w0 + h;
            tcf_llama_lora_step(m, lo, score, NULL, NL, B, T, ids, mask, labels, &d, NULL, &lp, 2);
            w[best] = w0 - h;
            tcf_llama_lora_step(m, lo, score, NULL, NL, B, T, ids, mask, labels, &d, NULL, &lm, 2);
            w[best] = w0;
            const double fd = ((double)lp - lm) / (2.0 * h), err = fabs(fd - g) / (fabs(g) + 1e-3);
            if (err > worst) worst = err;
            CHECK(err <= 0.02, "lora_dropout: layer 1 %s lora_%c[%lld]: gradient %g, central difference %g",
                  tcf_llama_lora_module_names[mod], which ? 'B' : 'A', (long long)best, (double)g, fd);
            checked++;
        }
    printf(" lora_dropout 0.5: %d entries vs central differences, worst relative error %.3g\n", checked, worst);
#undef STEP
    free(g0), free(g1), free(g2);
}

int main(void) {
    tcf_llama *m = NULL;
    tcf_safetensors *w = NULL;
    tcf_llama_lora *lo = NULL;
    if (tcf_llama_load(FIX "tiny_llama", &m) || tcf_safetensors_open(FIX "lora/weights.safetensors", &w)) {
        CHECK(0, "setup: %s", tcf_last_error());
        return check_summary("test_llama_lora");
    }
    const tcf_llama_config *c = &m->cfg;
    const int C = c->hidden, NL = 3, B = 3, T = 7;
    CHECK(tcf_llama_lora_init(c, 4, 8.0f, &lo) == TCF_OK, "lora init: %s", tcf_last_error());
    float score[3 * 64];
    char name[128];
    fill(w, "score", score, NL * C);
    for (int l = 0; l < c->layers; l++)
        for (int mod = 0; mod < TCF_LL_N; mod++) {
            int in, out;
            tcf_llama_lora_dims(c, mod, &in, &out);
            snprintf(name, sizeof name, "layers.%d.%s.lora_A", l, tcf_llama_lora_module_names[mod]);
            fill(w, name, lo->A[l * TCF_LL_N + mod], (int64_t)4 * in);
            snprintf(name, sizeof name, "layers.%d.%s.lora_B", l, tcf_llama_lora_module_names[mod]);
            fill(w, name, lo->B[l * TCF_LL_N + mod], (int64_t)out * 4);
        }
    char *ids_raw, *mask_raw;
    size_t n1, n2;
    if (tcf_read_file(FIX "tiny_llama/ref/ids.i32", &ids_raw, &n1) ||
        tcf_read_file(FIX "tiny_llama/ref/mask.u8", &mask_raw, &n2) || n1 != 4 * B * T || n2 != B * T) {
        CHECK(0, "fixtures: %s", tcf_last_error());
        return check_summary("test_llama_lora");
    }
    const int32_t labels[3] = {0, 2, 1};
    tcf_status st;
    compare_step(m, lo, score, TCF_POOL_LAST, "", (const int32_t *)ids_raw, (const uint8_t *)mask_raw);
    compare_step(m, lo, score, TCF_POOL_MEAN, "mean_", (const int32_t *)ids_raw, (const uint8_t *)mask_raw);

    /* one thread: same gradients bit for bit */
    int64_t total = 0;
    for (int i = 0; i < c->layers * TCF_LL_N; i++) total += lo->dA[i] - lo->A[i]; /* |A| + |B| */
    float *keep = malloc(sizeof(float) * (size_t)total), d1[3 * 64] = {0};
    int same = 1;
    tcf_llama_lora_zero_grad(lo);
    st = tcf_llama_lora_grad(m, lo, score, d1, NL, B, T, (const int32_t *)ids_raw, (const uint8_t *)mask_raw, labels,
                             NULL, NULL, 2);
    int64_t k = 0;
    for (int i = 0; i < c->layers * TCF_LL_N; i++) {
        int64_t na = lo->B[i] - lo->A[i], nb = lo->dA[i] - lo->B[i];
        memcpy(keep + k, lo->dA[i], sizeof(float) * na), k += na;
        memcpy(keep + k, lo->dB[i], sizeof(float) * nb), k += nb;
    }
    tcf_llama_lora_zero_grad(lo);
    st = tcf_llama_lora_grad(m, lo, score, NULL, NL, B, T, (const int32_t *)ids_raw, (const uint8_t *)mask_raw, labels,
                             NULL, NULL, 1);
    k = 0;
    for (int i = 0; i < c->layers * TCF_LL_N && same; i++) {
        int64_t na = lo->B[i] - lo->A[i], nb = lo->dA[i] - lo->B[i];
        same = !memcmp(keep + k, lo->dA[i], sizeof(float) * na) && !memcmp(keep + k + na, lo->dB[i], sizeof(float) * nb);
        k += na + nb;
    }
    CHECK(st == TCF_OK && same && k == total, "1 and 2 threads give different LoRA gradients");
    test_dropout(m, lo, score, (const int32_t *)ids_raw, (const uint8_t *)mask_raw);
    /* a bad label is refused */
    const int32_t bad[3] = {0, 3, 1};
    CHECK(tcf_llama_lora_grad(m, lo, score, NULL, NL, B, T, (const int32_t *)ids_raw, (const uint8_t *)mask_raw, bad,
                              NULL, NULL, 1) == TCF_ERR_ARG &&
              strstr(tcf_last_error(), "label 3 of row 1 outside [0, 3)"),
          "bad label: %s", tcf_last_error());
    /* a row without a real token is refused (the packed step has nothing to
     * pool for it) */
    {
        uint8_t *m0 = malloc((size_t)B * T);
        memcpy(m0, mask_raw, (size_t)B * T);
        memset(m0 + T, 0, (size_t)T);
        CHECK(tcf_llama_lora_grad(m, lo, score, NULL, NL, B, T, (const int32_t *)ids_raw, m0, labels, NULL, NULL,
                                  1) == TCF_ERR_ARG &&
                  strstr(tcf_last_error(), "row 1 has no real token"),
              "empty row: %s", tcf_last_error());
        free(m0);
    }
    free(keep);
    free(ids_raw), free(mask_raw);
    tcf_llama_lora_free(lo);
    tcf_safetensors_free(w);
    tcf_llama_free(m);
    test_smollm2(TCF_LLAMA_F32);
    test_smollm2(TCF_LLAMA_KEEP);
    return check_summary("test_llama_lora");
}
