/*
 * train_state.c — save and load the resumable training checkpoint (see
 * train_state.h).
 */
#include "train/train_state.h"
#include "base/base.h"
#include "io/st_write.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define N_META 15

tcf_status tcf_train_state_save(const char *path, const tcf_train_state *s, const tcf_param *params, int np,
                                tcf_adamw *opt) {
    tcf_st_tensor *t = calloc((size_t)3 * np + 1, sizeof *t);
    char *names = malloc((size_t)3 * np * 256 + 1);
    tcf_status st = TCF_OK;
    if (!t || !names) {
        st = tcf_fail(TCF_ERR_NOMEM, "%s: out of memory", path);
        goto done;
    }
    static const char pre[3] = {'w', 'm', 'v'};
    for (int i = 0; i < np; i++) {
        float *mv[3] = {params[i].w, NULL, NULL};
        tcf_adamw_state(opt, i, &mv[1], &mv[2]);
        for (int k = 0; k < 3; k++) {
            char *nm = names + ((size_t)3 * i + k) * 256;
            if (snprintf(nm, 256, "%c:%s", pre[k], params[i].name) >= 256) {
                st = tcf_fail(TCF_ERR_ARG, "%s: tensor name '%s' too long", path, params[i].name);
                goto done;
            }
            tcf_st_tensor *x = &t[3 * i + k];
            *x = (tcf_st_tensor){.name = nm, .dtype = TCF_DTYPE_F32, .n_dims = 1, .data = mv[k]};
            x->shape[0] = params[i].n;
        }
    }
    char num[12][48];
    snprintf(num[0], 48, "%d", s->epoch);
    snprintf(num[1], 48, "%d", s->batch_index);
    snprintf(num[2], 48, "%" PRId64, s->step);
    snprintf(num[3], 48, "%" PRIu64, s->rng_epoch);
    snprintf(num[4], 48, "%" PRIu64, s->dropout_calls);
    snprintf(num[5], 48, "%a", s->best_f1);
    snprintf(num[6], 48, "%d", s->best_epoch);
    snprintf(num[7], 48, "%d", s->since_best);
    snprintf(num[8], 48, "%a", s->loss_sum);
    snprintf(num[9], 48, "%d", s->loss_n);
    snprintf(num[10], 48, "%" PRIu64, s->data_hash);
    snprintf(num[11], 48, "%d", s->finished);
    const char *meta[2 * N_META] = {
        "format", "tcf-train-state", "version", "1", "epoch", num[0], "batch_index", num[1], "step", num[2],
        "rng_epoch", num[3], "dropout_calls", num[4], "best_f1", num[5], "best_epoch", num[6],
        "since_best", num[7], "loss_sum", num[8], "loss_n", num[9], "data_hash", num[10],
        "finished", num[11], "history", s->history ? s->history : "[]"};
    st = tcf_safetensors_write(path, t, 3 * np, meta, N_META);
done:
    free(t), free(names);
    return st;
}

/* ---- load ------------------------------------------------------------------ */

static tcf_status meta_i64(const tcf_safetensors *f, const char *path, const char *key, int64_t lo, int64_t hi,
                           int64_t *out) {
    const char *v = tcf_safetensors_metadata(f, key);
    char *end;
    if (!v) return tcf_fail(TCF_ERR_FORMAT, "%s: metadata key '%s' missing", path, key);
    long long x = strtoll(v, &end, 10);
    if (end == v || *end || x < lo || x > hi)
        return tcf_fail(TCF_ERR_FORMAT, "%s: metadata '%s' = '%s' is not an integer in [%lld, %lld]", path, key, v,
                        (long long)lo, (long long)hi);
    *out = x;
    return TCF_OK;
}

static tcf_status meta_u64(const tcf_safetensors *f, const char *path, const char *key, uint64_t *out) {
    const char *v = tcf_safetensors_metadata(f, key);
    char *end;
    if (!v) return tcf_fail(TCF_ERR_FORMAT, "%s: metadata key '%s' missing", path, key);
    unsigned long long x = strtoull(v, &end, 10);
    if (end == v || *end || *v == '-')
        return tcf_fail(TCF_ERR_FORMAT, "%s: metadata '%s' = '%s' is not an unsigned integer", path, key, v);
    *out = x;
    return TCF_OK;
}

static tcf_status meta_f64(const tcf_safetensors *f, const char *path, const char *key, double *out) {
    const char *v = tcf_safetensors_metadata(f, key);
    char *end;
    if (!v) return tcf_fail(TCF_ERR_FORMAT, "%s: metadata key '%s' missing", path, key);
    double x = strtod(v, &end);
    if (end == v || *end) return tcf_fail(TCF_ERR_FORMAT, "%s: metadata '%s' = '%s' is not a number", path, key, v);
    *out = x;
    return TCF_OK;
}

tcf_status tcf_train_state_load(const char *path, tcf_train_state *s, const tcf_param *params, int np,
                                tcf_adamw *opt) {
    tcf_safetensors *f = NULL;
    tcf_status st = tcf_safetensors_open(path, &f);
    if (st) return st;
    tcf_train_state r = {0};
    const char *fmt = tcf_safetensors_metadata(f, "format"), *ver = tcf_safetensors_metadata(f, "version");
    int64_t x[8];
    if (!fmt || strcmp(fmt, "tcf-train-state") || !ver || strcmp(ver, "1")) {
        st = tcf_fail(TCF_ERR_FORMAT, "%s: not a tcf training checkpoint (format tcf-train-state, version 1)", path);
        goto done;
    }
    if ((st = meta_i64(f, path, "epoch", 1, INT32_MAX, &x[0])) ||
        (st = meta_i64(f, path, "batch_index", 0, INT32_MAX, &x[1])) ||
        (st = meta_i64(f, path, "step", 0, INT64_MAX, &x[2])) ||
        (st = meta_i64(f, path, "best_epoch", 0, INT32_MAX, &x[3])) ||
        (st = meta_i64(f, path, "since_best", 0, INT32_MAX, &x[4])) ||
        (st = meta_i64(f, path, "loss_n", 0, INT32_MAX, &x[5])) ||
        (st = meta_i64(f, path, "finished", 0, 1, &x[6])) ||
        (st = meta_u64(f, path, "rng_epoch", &r.rng_epoch)) ||
        (st = meta_u64(f, path, "dropout_calls", &r.dropout_calls)) ||
        (st = meta_u64(f, path, "data_hash", &r.data_hash)) ||
        (st = meta_f64(f, path, "best_f1", &r.best_f1)) || (st = meta_f64(f, path, "loss_sum", &r.loss_sum)))
        goto done;
    r.epoch = (int)x[0], r.batch_index = (int)x[1], r.step = x[2], r.best_epoch = (int)x[3];
    r.since_best = (int)x[4], r.loss_n = (int)x[5], r.finished = (int)x[6];
    const char *hist = tcf_safetensors_metadata(f, "history");
    if (!hist) {
        st = tcf_fail(TCF_ERR_FORMAT, "%s: metadata key 'history' missing", path);
        goto done;
    }
    /* validate every tensor before changing anything */
    static const char pre[3] = {'w', 'm', 'v'};
    if (tcf_safetensors_count(f) != 3 * np) {
        st = tcf_fail(TCF_ERR_FORMAT, "%s: %d tensors, expected %d (3 per trainable tensor): the checkpoint is of "
                      "another configuration", path, tcf_safetensors_count(f), 3 * np);
        goto done;
    }
    for (int pass = 0; pass < 2; pass++)
        for (int i = 0; i < np; i++) {
            float *dst[3] = {params[i].w, NULL, NULL};
            tcf_adamw_state(opt, i, &dst[1], &dst[2]);
            for (int k = 0; k < 3; k++) {
                char nm[256];
                snprintf(nm, sizeof nm, "%c:%s", pre[k], params[i].name);
                const tcf_tensor_view *v = tcf_safetensors_find(f, nm);
                if (!v) {
                    st = tcf_fail(TCF_ERR_FORMAT, "%s: tensor '%s' missing", path, nm);
                    goto done;
                }
                if (v->dtype != TCF_DTYPE_F32 || v->numel != params[i].n) {
                    st = tcf_fail(TCF_ERR_FORMAT, "%s: tensor '%s' is %s with %lld values, expected F32 with %lld",
                                  path, nm, tcf_dtype_name(v->dtype), (long long)v->numel, (long long)params[i].n);
                    goto done;
                }
                if (pass == 1) memcpy(dst[k], v->data, sizeof(float) * (size_t)params[i].n);
            }
        }
    if (!(r.history = strdup(hist))) {
        st = tcf_fail(TCF_ERR_NOMEM, "%s: out of memory", path);
        goto done;
    }
    tcf_adamw_set_step(opt, r.step);
    *s = r;
done:
    tcf_safetensors_free(f);
    return st;
}
