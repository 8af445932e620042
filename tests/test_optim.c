/*
 * test_optim.c — the optimiser layer against torch + transformers.
 *
 * Fixtures (tests/fixtures/optim/, from tests/ref/gen_optim_fixtures.py,
 * shapes and configs in manifest.json): 25 steps of torch.optim.AdamW with
 * clip_grad_norm_(1.0) and a linear warmup schedule over tensors of 7, 33x5
 * and 128 values, for weight decay 0.01, 0, and 0.01 with tensor 0 excluded;
 * plus the transformers schedule lambdas for several (warmup, total) pairs.
 * Then unit checks: no-decay flags, step count and state hooks, the first
 * bias-corrected step, clipping edge cases (NaN/inf, below the threshold),
 * empty parameter lists, gradient scaling, the no-decay name rule.
 */
#include "base/base.h"
#include "check.h"
#include "train/optim.h"

#include <cjson/cJSON.h>
#include <string.h>

#define FIX "tests/fixtures/optim/"
enum { N_T = 3, N_VALUES = 300, N_STEPS = 25 };
static const int64_t sizes[N_T] = {7, 165, 128};
static const char *const names[N_T] = {"bias", "weight", "vec"};

/* Read a raw little-endian file of exactly `bytes` bytes (caller frees). */
static void *load(const char *path, size_t bytes) {
    char *d = NULL;
    size_t len = 0;
    if (tcf_read_file(path, &d, &len) != TCF_OK) {
        fprintf(stderr, "cannot read %s: %s\n", path, tcf_last_error());
        return NULL;
    }
    if (len != bytes) {
        fprintf(stderr, "%s: %zu bytes, expected %zu\n", path, len, bytes);
        free(d);
        return NULL;
    }
    return d;
}

static double rel_diff(double a, double b) { return fabs(a - b) / fmax(fabs(b), 1e-300); }

/* Replay one config of the trajectory fixture. */
static void replay(const char *cfg_name, double wd, const uint8_t *no_decay, const float *init,
                   const float *grads) {
    char path[256];
    snprintf(path, sizeof path, FIX "%s/lr.f64", cfg_name);
    double *ref_lr = load(path, N_STEPS * sizeof(double));
    snprintf(path, sizeof path, FIX "%s/norm.f64", cfg_name);
    double *ref_norm = load(path, N_STEPS * sizeof(double));
    CHECK(ref_lr && ref_norm, "%s: fixtures present", cfg_name);
    if (!ref_lr || !ref_norm) goto out;

    float w[N_VALUES], g[N_VALUES];
    memcpy(w, init, sizeof w);
    tcf_param p[N_T];
    int64_t off = 0;
    for (int i = 0; i < N_T; i++) {
        p[i] = (tcf_param){.name = names[i], .w = w + off, .g = g + off, .n = sizes[i], .ndim = 1,
                           .shape = {sizes[i], 0}};
        off += sizes[i];
    }
    tcf_adamw_cfg cfg = tcf_adamw_defaults();
    cfg.weight_decay = wd;
    cfg.no_decay = no_decay;
    tcf_adamw *opt = NULL;
    CHECK(tcf_adamw_init(&opt, p, N_T, &cfg) == TCF_OK, "%s: init: %s", cfg_name, tcf_last_error());
    if (!opt) goto out;
    double max_norm_rel = 0, max_lr_rel = 0;
    for (int k = 1; k <= N_STEPS; k++) {
        memcpy(g, grads + (size_t)(k - 1) * N_VALUES, sizeof g);
        double norm = tcf_clip_grad_norm(p, N_T, 1.0);
        max_norm_rel = fmax(max_norm_rel, rel_diff(norm, ref_norm[k - 1]));
        double lr = tcf_lr_at(TCF_LR_LINEAR, cfg.lr, k - 1, 5, 25);
        max_lr_rel = fmax(max_lr_rel, ref_lr[k - 1] == 0 ? fabs(lr) : rel_diff(lr, ref_lr[k - 1]));
        tcf_adamw_step(opt, lr);
        if (k == 1 || k == 10 || k == 25) {
            snprintf(path, sizeof path, FIX "%s/params_step%d.f32", cfg_name, k);
            float *ref = load(path, N_VALUES * sizeof(float));
            CHECK(ref != NULL, "%s present", path);
            if (ref) {
                char what[96];
                snprintf(what, sizeof what, "%s params after step %d", cfg_name, k);
                check_close(what, w, ref, N_VALUES, 1e-7, 1e-6);
                double mr = 0;
                for (int j = 0; j < N_VALUES; j++)
                    mr = fmax(mr, fabs((double)w[j] - ref[j]) / fmax(fabs((double)ref[j]), 1e-3));
                printf("    max rel diff (|ref| floored at 1e-3) %.3g\n", mr);
            }
            free(ref);
        }
    }
    printf("  %-48s max rel diff %.3g\n", "clip total norms", max_norm_rel);
    printf("  %-48s max rel diff %.3g\n", "lr per step (LambdaLR)", max_lr_rel);
    CHECK(max_norm_rel <= 1e-6, "%s: clip norms off by %g relative", cfg_name, max_norm_rel);
    CHECK(max_lr_rel <= 1e-12, "%s: lr off by %g relative", cfg_name, max_lr_rel);
    CHECK(tcf_adamw_step_count(opt) == N_STEPS, "%s: step count %lld", cfg_name,
          (long long)tcf_adamw_step_count(opt));
    tcf_adamw_free(opt);
out:
    free(ref_lr);
    free(ref_norm);
}

static void test_fixture_trajectory(void) {
    float *init = load(FIX "init.f32", N_VALUES * sizeof(float));
    float *grads = load(FIX "grads.f32", (size_t)N_STEPS * N_VALUES * sizeof(float));
    CHECK(init && grads, "trajectory fixtures present");
    if (init && grads) {
        static const uint8_t bias_excluded[N_T] = {1, 0, 0};
        replay("wd001", 0.01, NULL, init, grads);
        replay("wd0", 0.0, NULL, init, grads);
        replay("nodecay", 0.01, bias_excluded, init, grads);
    }
    free(init);
    free(grads);
}

static void test_fixture_schedules(void) {
    char *js = NULL;
    size_t len = 0;
    CHECK(tcf_read_file(FIX "manifest.json", &js, &len) == TCF_OK, "manifest: %s", tcf_last_error());
    cJSON *root = js ? cJSON_Parse(js) : NULL;
    free(js);
    cJSON *list = cJSON_GetObjectItem(root, "schedules");
    CHECK(cJSON_IsArray(list) && cJSON_GetArraySize(list) > 0, "manifest lists schedules");
    if (!cJSON_IsArray(list)) {
        cJSON_Delete(root);
        return;
    }
    int total_vals = 0;
    cJSON *e;
    cJSON_ArrayForEach(e, list) total_vals += cJSON_GetObjectItem(e, "n_steps")->valueint;
    double *ref = load(FIX "sched.f64", (size_t)total_vals * sizeof(double));
    CHECK(ref != NULL, "sched.f64 present");
    double max_diff = 0;
    int bad = 0, n_checked = 0;
    cJSON_ArrayForEach(e, list) {
        if (!ref) break;
        const char *kind_s = cJSON_GetObjectItem(e, "kind")->valuestring;
        int kind = tcf_lr_kind_parse(kind_s);
        CHECK(kind >= 0, "known schedule kind '%s'", kind_s);
        if (kind < 0) continue;
        int warmup = cJSON_GetObjectItem(e, "warmup")->valueint;
        int total = cJSON_GetObjectItem(e, "total")->valueint;
        int n = cJSON_GetObjectItem(e, "n_steps")->valueint;
        int offset = cJSON_GetObjectItem(e, "offset")->valueint;
        for (int s = 0; s < n; s++) {
            double got = tcf_lr_lambda(kind, s, warmup, total), want = ref[offset + s];
            double d = fabs(got - want);
            if (d > max_diff) max_diff = d;
            if (!(d <= 1e-12 + 1e-12 * fabs(want))) {
                if (bad++ < 5)
                    fprintf(stderr, "  %s warmup %d total %d step %d: %.17g vs %.17g\n", kind_s,
                            warmup, total, s, got, want);
            }
            if (tcf_lr_at(kind, 3e-4, s, warmup, total) != 3e-4 * got) bad++;
            n_checked++;
        }
    }
    printf("  %-48s n=%-9d max_abs_diff=%.3g %s\n", "schedule lambdas", n_checked, max_diff,
           bad ? "MISMATCH" : "ok");
    CHECK(bad == 0, "%d schedule values differ from transformers", bad);
    free(ref);
    cJSON_Delete(root);
}

/* Two identical tensors, one flagged no-decay; zero gradients so the Adam
 * term is exactly 0 and only decay moves the weights. */
static void test_no_decay_flag(void) {
    float w[8], g[8] = {0};
    for (int i = 0; i < 8; i++) w[i] = 0.5f + (float)i;
    tcf_param p[2] = {{.name = "a.weight", .w = w, .g = g, .n = 4},
                      {.name = "a.bias", .w = w + 4, .g = g + 4, .n = 4}};
    uint8_t flags[2];
    CHECK(tcf_adamw_no_decay_by_name(p, 2, flags) == 1 && flags[0] == 0 && flags[1] == 1,
          "name rule flags the bias only");
    tcf_adamw_cfg cfg = tcf_adamw_defaults();
    cfg.weight_decay = 0.1;
    cfg.no_decay = flags;
    tcf_adamw *opt = NULL;
    CHECK(tcf_adamw_init(&opt, p, 2, &cfg) == TCF_OK, "init");
    flags[0] = 1; /* init copied the flags: changing them now has no effect */
    tcf_adamw_step(opt, 0.1);
    int ok = 1;
    for (int i = 0; i < 4; i++) ok &= w[i] == (0.5f + (float)i) * (float)(1.0 - 0.1 * 0.1);
    for (int i = 4; i < 8; i++) ok &= w[i] == 0.5f + (float)i;
    CHECK(ok, "decay applied to the decayed tensor only");
    tcf_adamw_free(opt);

    /* same with wd = 0: nothing moves */
    cfg.no_decay = NULL;
    cfg.weight_decay = 0;
    CHECK(tcf_adamw_init(&opt, p, 2, &cfg) == TCF_OK, "init");
    float before[8];
    memcpy(before, w, sizeof w);
    tcf_adamw_step(opt, 0.1);
    CHECK(memcmp(before, w, sizeof w) == 0, "wd 0 and zero gradient: no change");
    tcf_adamw_free(opt);
}

static void test_step_and_state(void) {
    float w[3] = {1.0f, -2.0f, 0.25f}, g[3] = {0.5f, -0.125f, 0.0f};
    tcf_param p = {.name = "x", .w = w, .g = g, .n = 3};
    tcf_adamw_cfg cfg = tcf_adamw_defaults();
    cfg.weight_decay = 0;
    tcf_adamw *opt = NULL;
    CHECK(tcf_adamw_init(&opt, &p, 1, &cfg) == TCF_OK, "init");
    CHECK(tcf_adamw_step_count(opt) == 0, "starts at 0");
    CHECK(tcf_adamw_n_params(opt) == 1 && tcf_adamw_base_lr(opt) == 1e-3, "accessors");
    tcf_adamw_step(opt, 1e-2);
    CHECK(tcf_adamw_step_count(opt) == 1, "one step");
    /* first step: m/bc1 = g and sqrt(v)/sqrt(bc2) = |g|, so p -= lr*g/(|g|+eps) */
    float want[3] = {1.0f - 1e-2f, -2.0f + 1e-2f, 0.25f};
    check_close("first AdamW step moves by lr*sign(g)", w, want, 3, 1e-7, 1e-6);
    float *m = NULL, *v = NULL;
    tcf_adamw_state(opt, 0, &m, &v);
    float m_want[3] = {0.05f, -0.0125f, 0}, v_want[3] = {0.00025f, 0.015625f * 0.001f, 0};
    check_close("exp_avg after one step", m, m_want, 3, 0, 1e-6);
    check_close("exp_avg_sq after one step", v, v_want, 3, 0, 1e-5);
    tcf_adamw_step(opt, 1e-2);
    tcf_adamw_step(opt, 1e-2);
    CHECK(tcf_adamw_step_count(opt) == 3, "three steps");

    /* checkpoint round trip: a fresh optimiser given m, v, step continues identically */
    float w2[3], g2[3];
    memcpy(w2, w, sizeof w);
    memcpy(g2, g, sizeof g);
    tcf_param p2 = {.name = "x", .w = w2, .g = g2, .n = 3};
    tcf_adamw *opt2 = NULL;
    CHECK(tcf_adamw_init(&opt2, &p2, 1, &cfg) == TCF_OK, "init 2");
    float *m2, *v2;
    tcf_adamw_state(opt2, 0, &m2, &v2);
    memcpy(m2, m, sizeof w);
    memcpy(v2, v, sizeof w);
    tcf_adamw_set_step(opt2, tcf_adamw_step_count(opt));
    tcf_adamw_step(opt, 5e-3);
    tcf_adamw_step(opt2, 5e-3);
    CHECK(memcmp(w, w2, sizeof w) == 0 && tcf_adamw_step_count(opt2) == 4,
          "restored state continues bit for bit");
    tcf_adamw_set_step(opt2, 10);
    tcf_adamw_step(opt2, 5e-3);
    CHECK(tcf_adamw_step_count(opt2) == 11, "set_step then step");
    tcf_adamw_free(opt);
    tcf_adamw_free(opt2);
    tcf_adamw_free(NULL);
}

static void test_clip(void) {
    float g[5] = {3, 4, 0, 0, 0}, w[5] = {0};
    tcf_param p[2] = {{.w = w, .g = g, .n = 2}, {.w = w + 2, .g = g + 2, .n = 3}};
    double n = tcf_clip_grad_norm(p, 2, 10.0);
    CHECK(n == 5.0 && g[0] == 3 && g[1] == 4, "below max_norm: norm 5, untouched (%g)", n);
    n = tcf_clip_grad_norm(p, 2, 1.0);
    CHECK(n == 5.0, "norm before clipping returned (%g)", n);
    float want[2] = {(float)(3.0 / (5.0 + 1e-6)), (float)(4.0 / (5.0 + 1e-6))};
    check_close("clipped to max_norm / (norm + 1e-6)", g, want, 2, 0, 1e-7);
    /* torch's clamp: exactly at the threshold the coefficient is < 1 by the 1e-6 */
    g[0] = 1.0f, g[1] = 0.0f;
    n = tcf_clip_grad_norm(p, 2, 1.0);
    CHECK(n == 1.0 && g[0] == (float)(1.0 / (1.0 + 1e-6)), "at the threshold: %g", (double)g[0]);

    g[0] = 1.0f, g[3] = NAN;
    n = tcf_clip_grad_norm(p, 2, 1e-3);
    CHECK(isnan(n), "NaN gradient gives a NaN norm (%g)", n);
    CHECK(g[0] == 1.0f, "NaN norm leaves the gradients alone");
    g[3] = INFINITY;
    n = tcf_clip_grad_norm(p, 2, 1e-3);
    CHECK(isinf(n) && g[0] == 1.0f, "inf gradient gives an inf norm (%g)", n);
    g[3] = 3e38f, g[4] = 3e38f; /* finite floats whose squares overflow float: double copes */
    n = tcf_clip_grad_norm(p, 2, 1.0);
    CHECK(isfinite(n) && fabs(n / (3e38 * sqrt(2.0)) - 1) < 1e-6, "large finite norm %g", n);
}

static void test_empty(void) {
    tcf_adamw_cfg cfg = tcf_adamw_defaults();
    tcf_adamw *opt = NULL;
    CHECK(tcf_adamw_init(&opt, NULL, 0, &cfg) == TCF_OK && opt, "empty list: init");
    tcf_adamw_step(opt, 1e-3);
    CHECK(tcf_adamw_step_count(opt) == 1, "empty list: step counts");
    tcf_adamw_free(opt);
    CHECK(tcf_clip_grad_norm(NULL, 0, 1.0) == 0.0, "empty list: norm 0");
    tcf_grad_scale(NULL, 0, 0.5);

    float w[2] = {1, 2}, g[2] = {0.5f, 0.5f};
    tcf_param p[3] = {{.name = "empty", .n = 0}, {.name = "x", .w = w, .g = g, .n = 2},
                      {.name = "empty2", .n = 0}};
    CHECK(tcf_adamw_init(&opt, p, 3, &cfg) == TCF_OK, "zero-size tensors in the list");
    tcf_adamw_step(opt, 1e-3);
    float *m, *v;
    tcf_adamw_state(opt, 1, &m, &v);
    CHECK(m[0] == (float)(1 - 0.9) * 0.5f && w[0] < 1, "tensor after an empty one is updated");
    tcf_adamw_free(opt);
}

static void test_args(void) {
    tcf_adamw_cfg cfg = tcf_adamw_defaults();
    tcf_adamw *opt = (tcf_adamw *)&cfg;
    cfg.beta1 = 1.0;
    CHECK(tcf_adamw_init(&opt, NULL, 0, &cfg) == TCF_ERR_ARG && opt == NULL, "beta1 1 rejected");
    cfg = tcf_adamw_defaults();
    cfg.weight_decay = NAN;
    CHECK(tcf_adamw_init(&opt, NULL, 0, &cfg) == TCF_ERR_ARG, "NaN weight decay rejected");
    cfg = tcf_adamw_defaults();
    tcf_param p = {.name = "neg", .n = -1};
    CHECK(tcf_adamw_init(&opt, &p, 1, &cfg) == TCF_ERR_ARG, "negative size rejected");
    CHECK(strstr(tcf_last_error(), "'neg'") != NULL, "error names the tensor: %s", tcf_last_error());
    tcf_param q = {.name = "nobuf", .n = 3};
    CHECK(tcf_adamw_init(&opt, &q, 1, &cfg) == TCF_ERR_ARG, "NULL buffers rejected");
    CHECK(tcf_adamw_init(&opt, NULL, 2, &cfg) == TCF_ERR_ARG, "NULL list with n > 0 rejected");
}

static void test_grad_scale(void) {
    float g[5] = {1, -2, 3.5f, 0, 1e-3f}, w[5] = {0};
    tcf_param p = {.w = w, .g = g, .n = 5};
    tcf_grad_scale(&p, 1, 0.25);
    float want[5] = {0.25f, -0.5f, 0.875f, 0, 1e-3f * 0.25f};
    CHECK(memcmp(g, want, sizeof g) == 0, "scaled by 1/4 exactly");
    tcf_grad_scale(&p, 1, 1.0 / 3.0);
    CHECK(g[0] == 0.25f * (float)(1.0 / 3.0), "scaled by 1/3");
}

static void test_names(void) {
    /* expected values from transformers' regexes (checked in Python) */
    static const struct { const char *name; int no_decay; } cases[] = {
        {"base_model.model.classifier.modules_to_save.default.bias", 1},
        {"bert.encoder.layer.0.attention.output.LayerNorm.weight", 1},
        {"bert.embeddings.LayerNorm.bias", 1},
        {"base_model.model.bert.encoder.layer.0.attention.self.query.lora_A.weight", 0},
        {"classifier.weight", 0},
        {"model.norm.weight", 1},
        {"norm.weight", 1},
        {"model.layers.0.input_layernorm.weight", 1},
        {"encoder.final_norm", 1},
        {"encoder.layer_norm.weight", 1},
        {"model.rmsnorm_scale", 1},
        {"normalizer.weight", 0},
        {"enorm.weight", 0},
        {"x.norms.weight", 0},
        {"x_norms.weight", 0},
        {"a_norm_norm.x", 1},
        {"x.norm_norm", 1},
    };
    int bad = 0;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        if (tcf_name_is_no_decay(cases[i].name) != cases[i].no_decay) {
            bad++;
            fprintf(stderr, "  no-decay rule wrong for '%s'\n", cases[i].name);
        }
    }
    CHECK(bad == 0, "Trainer's no-decay name rule: %d wrong", bad);
    CHECK(tcf_name_is_no_decay(NULL) == 0, "NULL name decays");
    CHECK(tcf_lr_kind_parse("cosine") == TCF_LR_COSINE && tcf_lr_kind_parse("nope") == -1 &&
              strcmp(tcf_lr_kind_name(TCF_LR_CONSTANT), "constant") == 0 &&
              tcf_lr_kind_name(TCF_LR_KINDS) == NULL,
          "schedule kind names");
}

/* The off-by-one, spelled out: with warmup 5 the first update runs at lr 0
 * and update 6 is the first at the full base lr; the last of 25 at 1/20. */
static void test_schedule_offsets(void) {
    CHECK(tcf_lr_at(TCF_LR_LINEAR, 1e-3, 1 - 1, 5, 25) == 0.0, "update 1 at lr 0");
    CHECK(tcf_lr_at(TCF_LR_LINEAR, 1e-3, 6 - 1, 5, 25) == 1e-3, "update 6 at base lr");
    CHECK(tcf_lr_at(TCF_LR_LINEAR, 1e-3, 25 - 1, 5, 25) == 1e-3 * (1.0 / 20), "update 25");
    CHECK(tcf_lr_lambda(TCF_LR_LINEAR, 30, 5, 25) == 0.0, "past the end: 0");
    CHECK(tcf_lr_lambda(TCF_LR_COSINE, 25, 5, 25) == 0.0, "cosine end: 0");
    CHECK(tcf_lr_lambda(TCF_LR_COSINE, 15, 5, 25) == 0.5 * (1.0 + cos(M_PI * 0.5)), "cosine middle");
    CHECK(tcf_lr_lambda(TCF_LR_CONSTANT, 0, 0, 0) == 1.0, "constant, no warmup");
    CHECK(tcf_lr_lambda(TCF_LR_LINEAR, 0, 0, 0) == 0.0, "linear with total 0");
}

int main(void) {
    printf("fixture trajectory (torch AdamW + clip_grad_norm_ + linear warmup):\n");
    test_fixture_trajectory();
    test_fixture_schedules();
    test_no_decay_flag();
    test_step_and_state();
    test_clip();
    test_empty();
    test_args();
    test_grad_scale();
    test_names();
    test_schedule_offsets();
    return check_summary("test_optim");
}
