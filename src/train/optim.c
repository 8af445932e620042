/*
 * optim.c — AdamW, clip_grad_norm_, LR schedules (see optim.h for the
 * contracts and the reference each one follows).
 *
 * AdamW reproduces torch's `_single_tensor_adamw` (torch/optim/adam.py, the
 * path torch takes for CPU tensors): scalars such as 1 - lr*wd, 1 - b1 and
 * the bias corrections are Python floats (double) and are rounded to float32
 * where the tensor kernel uses them; the element arithmetic is float32 in the
 * same order as the ATen kernels (mul_, lerp_, mul_ + addcmul_, sqrt / add_,
 * addcdiv_).
 */
#include "train/optim.h"

#include "base/base.h"

#include <assert.h>
#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

struct tcf_adamw {
    tcf_adamw_cfg cfg;  /* cfg.no_decay points at no_decay below */
    int n_params;
    tcf_param *params;  /* (n_params) copies of the caller's descriptors */
    uint8_t *no_decay;  /* (n_params) */
    int64_t *offset;    /* (n_params + 1) start of tensor i in m and v */
    float *m, *v;       /* (offset[n_params]) each, one allocation at m */
    int64_t step;       /* updates done so far (torch: state["step"]) */
};

tcf_adamw_cfg tcf_adamw_defaults(void) {
    return (tcf_adamw_cfg){.lr = 1e-3, .beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8,
                           .weight_decay = 1e-2, .no_decay = NULL};
}

void tcf_adamw_free(tcf_adamw *opt) {
    if (!opt) return;
    free(opt->params);
    free(opt->no_decay);
    free(opt->offset);
    free(opt->m);
    free(opt);
}

tcf_status tcf_adamw_init(tcf_adamw **out, const tcf_param *params, int n_params,
                          const tcf_adamw_cfg *cfg) {
    if (!out || !cfg) return tcf_fail(TCF_ERR_ARG, "adamw: NULL argument");
    *out = NULL;
    if (n_params < 0 || (n_params > 0 && !params))
        return tcf_fail(TCF_ERR_ARG, "adamw: bad parameter list (n_params %d)", n_params);
    if (!(cfg->lr >= 0) || !(cfg->beta1 >= 0 && cfg->beta1 < 1) ||
        !(cfg->beta2 >= 0 && cfg->beta2 < 1) || !(cfg->eps >= 0) || !(cfg->weight_decay >= 0) ||
        !isfinite(cfg->lr) || !isfinite(cfg->eps) || !isfinite(cfg->weight_decay))
        return tcf_fail(TCF_ERR_ARG,
                        "adamw: bad config (lr %g, betas (%g, %g), eps %g, weight_decay %g)", cfg->lr,
                        cfg->beta1, cfg->beta2, cfg->eps, cfg->weight_decay);
    int64_t total = 0;
    for (int i = 0; i < n_params; i++) {
        const tcf_param *p = &params[i];
        const char *name = p->name ? p->name : "(unnamed)";
        if (p->n < 0 || (p->n > 0 && (!p->w || !p->g)))
            return tcf_fail(TCF_ERR_ARG, "adamw: parameter %d '%s': bad size %lld or NULL buffer", i,
                            name, (long long)p->n);
        if (__builtin_add_overflow(total, p->n, &total))
            return tcf_fail(TCF_ERR_NOMEM, "adamw: parameter sizes overflow");
    }
    size_t bytes;
    if (!tcf_mul_ok((size_t)total, 2 * sizeof(float), &bytes))
        return tcf_fail(TCF_ERR_NOMEM, "adamw: %lld values do not fit in memory", (long long)total);

    tcf_adamw *o = calloc(1, sizeof *o);
    if (!o) return tcf_fail(TCF_ERR_NOMEM, "adamw: out of memory");
    o->n_params = n_params;
    o->params = calloc((size_t)n_params + 1, sizeof *o->params);
    o->no_decay = calloc((size_t)n_params + 1, 1);
    o->offset = calloc((size_t)n_params + 1, sizeof *o->offset);
    o->m = calloc(1, bytes ? bytes : 1);
    if (!o->params || !o->no_decay || !o->offset || !o->m) {
        tcf_adamw_free(o);
        return tcf_fail(TCF_ERR_NOMEM, "adamw: out of memory for %lld moments", (long long)total);
    }
    o->v = o->m + total;
    if (n_params > 0) memcpy(o->params, params, (size_t)n_params * sizeof *params);
    for (int i = 0; i < n_params; i++) {
        o->no_decay[i] = cfg->no_decay && cfg->no_decay[i] ? 1 : 0;
        o->offset[i + 1] = o->offset[i] + params[i].n;
    }
    o->cfg = *cfg;
    o->cfg.no_decay = o->no_decay;
    *out = o;
    return TCF_OK;
}

void tcf_adamw_step(tcf_adamw *opt, double lr) {
    assert(opt && lr >= 0);
    const tcf_adamw_cfg *c = &opt->cfg;
    opt->step++;
    /* Python floats in torch: beta ** step with step a float, bc2 ** 0.5 */
    double t = (double)opt->step;
    double bc1 = 1.0 - pow(c->beta1, t);
    double bc2 = 1.0 - pow(c->beta2, t);
    double step_size = lr / bc1;
    double bc2_sqrt = pow(bc2, 0.5);
    const float decay = (float)(1.0 - lr * c->weight_decay);
    const float w1 = (float)(1.0 - c->beta1);  /* lerp weight */
    const float b2 = (float)c->beta2;
    const float w2 = (float)(1.0 - c->beta2);  /* addcmul value */
    const float bc2s = (float)bc2_sqrt;
    const float eps = (float)c->eps;
    const float neg_step = (float)(-step_size);
    for (int i = 0; i < opt->n_params; i++) {
        const tcf_param *p = &opt->params[i];
        float *w = p->w;                 /* (n) */
        const float *g = p->g;           /* (n) */
        float *m = opt->m + opt->offset[i]; /* (n) */
        float *v = opt->v + opt->offset[i]; /* (n) */
        int decays = c->weight_decay != 0 && !opt->no_decay[i];
        for (int64_t j = 0; j < p->n; j++) {
            float wj = decays ? w[j] * decay : w[j];
            /* lerp_(g, w1) with w1 < 0.5 is m + w1 * (g - m); ATen's vectorised
               lerp fuses it (fmadd), and so do we: 8x closer to torch than
               the unfused form on the fixture */
            float mj = fmaf(w1, g[j] - m[j], m[j]);
            float vj = v[j] * b2 + w2 * g[j] * g[j];
            float denom = sqrtf(vj) / bc2s + eps;
            m[j] = mj;
            v[j] = vj;
            w[j] = wj + neg_step * mj / denom;
        }
    }
}

double tcf_adamw_base_lr(const tcf_adamw *opt) { return opt->cfg.lr; }
int tcf_adamw_n_params(const tcf_adamw *opt) { return opt->n_params; }

void tcf_adamw_state(tcf_adamw *opt, int i, float **m, float **v) {
    assert(opt && i >= 0 && i < opt->n_params);
    if (m) *m = opt->m + opt->offset[i];
    if (v) *v = opt->v + opt->offset[i];
}

int64_t tcf_adamw_step_count(const tcf_adamw *opt) { return opt->step; }

void tcf_adamw_set_step(tcf_adamw *opt, int64_t step) {
    assert(opt && step >= 0);
    opt->step = step;
}

/* Does `s` occur in `name` followed by the end or a '.'? (regex "s($|\.)") */
static int has_at_end_or_dot(const char *name, const char *s, int need_start) {
    size_t ls = strlen(s);
    for (const char *q = strstr(name, s); q; q = strstr(q + 1, s)) {
        if (need_start && q != name && q[-1] != '.') continue;
        if (q[ls] == '\0' || q[ls] == '.') return 1;
    }
    return 0;
}

int tcf_name_is_no_decay(const char *name) {
    if (!name) return 0;
    size_t n = strlen(name);
    char *low = malloc(n + 1);
    if (!low) return 0;
    for (size_t i = 0; i <= n; i++) low[i] = (char)tolower((unsigned char)name[i]);
    int r = strstr(low, "bias") || strstr(low, "layernorm") || strstr(low, "rmsnorm") ||
            has_at_end_or_dot(low, "norm", 1) || has_at_end_or_dot(low, "_norm", 0);
    free(low);
    return r;
}

int tcf_adamw_no_decay_by_name(const tcf_param *params, int n, uint8_t *flags) {
    int count = 0;
    for (int i = 0; i < n; i++) {
        flags[i] = (uint8_t)tcf_name_is_no_decay(params[i].name);
        count += flags[i];
    }
    return count;
}

double tcf_clip_grad_norm(const tcf_param *params, int n, double max_norm) {
    double ss = 0;
    for (int i = 0; i < n; i++) {
        const float *g = params[i].g;
        for (int64_t j = 0; j < params[i].n; j++) ss += (double)g[j] * (double)g[j];
    }
    double total = sqrt(ss);
    if (!isfinite(total)) return total;
    double coef = max_norm / (total + 1e-6);
    if (coef < 1.0) {
        float cf = (float)coef;
        for (int i = 0; i < n; i++) {
            float *g = params[i].g;
            for (int64_t j = 0; j < params[i].n; j++) g[j] *= cf;
        }
    }
    return total;
}

void tcf_grad_scale(const tcf_param *params, int n, double factor) {
    float f = (float)factor;
    for (int i = 0; i < n; i++) {
        float *g = params[i].g;
        for (int64_t j = 0; j < params[i].n; j++) g[j] *= f;
    }
}

double tcf_lr_lambda(tcf_lr_kind kind, int64_t step, int64_t warmup_steps, int64_t total_steps) {
    assert(step >= 0);
    /* transformers divides by max(1, warmup); here warmup > step >= 0 */
    if (step < warmup_steps) return (double)step / (double)warmup_steps;
    int64_t span = total_steps - warmup_steps > 1 ? total_steps - warmup_steps : 1;
    switch (kind) {
    case TCF_LR_LINEAR: {
        double r = (double)(total_steps - step) / (double)span;
        return r > 0.0 ? r : 0.0;
    }
    case TCF_LR_COSINE: {
        const double num_cycles = 0.5;
        double progress = (double)(step - warmup_steps) / (double)span;
        double r = 0.5 * (1.0 + cos(M_PI * num_cycles * 2.0 * progress));
        return r > 0.0 ? r : 0.0;
    }
    case TCF_LR_CONSTANT:
        return 1.0;
    default:
        assert(0 && "bad tcf_lr_kind");
        return 0.0;
    }
}

double tcf_lr_at(tcf_lr_kind kind, double base_lr, int64_t step, int64_t warmup_steps,
                 int64_t total_steps) {
    return base_lr * tcf_lr_lambda(kind, step, warmup_steps, total_steps);
}

static const char *const lr_kind_names[TCF_LR_KINDS] = {"linear", "cosine", "constant"};

const char *tcf_lr_kind_name(tcf_lr_kind kind) {
    return (unsigned)kind < TCF_LR_KINDS ? lr_kind_names[kind] : NULL;
}

int tcf_lr_kind_parse(const char *name) {
    for (int k = 0; name && k < TCF_LR_KINDS; k++)
        if (strcmp(name, lr_kind_names[k]) == 0) return k;
    return -1;
}
