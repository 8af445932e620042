/*
 * st_write.c — safetensors writer (see st_write.h for the layout rules,
 * src/io/safetensors.c for the format). The header JSON is built by hand:
 * compact, in the Python writer's order, with offsets printed as exact
 * integers (cJSON would print large ones through a double format).
 */
#include "io/st_write.h"
#include "base/atomic_file.h"
#include "base/base.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Growable byte buffer for the header. */
typedef struct {
    char *p;
    size_t len, cap;
    int oom;
} sbuf;

static void sb_put(sbuf *b, const char *s, size_t n) {
    if (b->oom) return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n + 1) cap *= 2;
        char *q = realloc(b->p, cap);
        if (!q) {
            b->oom = 1;
            return;
        }
        b->p = q, b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void sb_str(sbuf *b, const char *s) { sb_put(b, s, strlen(s)); }

/* A JSON string literal, escaped as serde_json does ("\"", "\\", \n \t ...,
 * other control bytes as \u00XX; UTF-8 passes through). */
static void sb_json_string(sbuf *b, const char *s) {
    sb_put(b, "\"", 1);
    for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
        char esc[8];
        switch (*c) {
        case '"': sb_str(b, "\\\""); break;
        case '\\': sb_str(b, "\\\\"); break;
        case '\n': sb_str(b, "\\n"); break;
        case '\r': sb_str(b, "\\r"); break;
        case '\t': sb_str(b, "\\t"); break;
        case '\b': sb_str(b, "\\b"); break;
        case '\f': sb_str(b, "\\f"); break;
        default:
            if (*c < 0x20) {
                snprintf(esc, sizeof esc, "\\u%04x", *c);
                sb_str(b, esc);
            } else {
                sb_put(b, (const char *)c, 1);
            }
        }
    }
    sb_put(b, "\"", 1);
}

/* Position in the Python writer's order: safetensors sorts by its Dtype enum
 * descending (derived Ord: BOOL < U8 < I8 < I16 < F16 < BF16 < I32 < F32 <
 * F64 < I64), then by name. */
static int dtype_rank(tcf_dtype dt) {
    switch (dt) {
    case TCF_DTYPE_BOOL: return 0;
    case TCF_DTYPE_U8: return 1;
    case TCF_DTYPE_I8: return 2;
    case TCF_DTYPE_I16: return 3;
    case TCF_DTYPE_F16: return 4;
    case TCF_DTYPE_BF16: return 5;
    case TCF_DTYPE_I32: return 6;
    case TCF_DTYPE_F32: return 7;
    case TCF_DTYPE_F64: return 8;
    case TCF_DTYPE_I64: return 9;
    default: return -1;
    }
}

static int cmp_order(const void *a, const void *b) {
    const tcf_st_tensor *x = *(const tcf_st_tensor *const *)a, *y = *(const tcf_st_tensor *const *)b;
    int rx = dtype_rank(x->dtype), ry = dtype_rank(y->dtype);
    if (rx != ry) return ry - rx;
    return strcmp(x->name, y->name);
}

tcf_status tcf_safetensors_write(const char *path, const tcf_st_tensor *t, int n,
                                 const char *const *meta, int n_meta) {
    if (n < 0 || n_meta < 0 || (n > 0 && !t) || (n_meta > 0 && !meta))
        return tcf_fail(TCF_ERR_ARG, "%s: bad tensor or metadata list", path);
    const tcf_st_tensor **order = calloc((size_t)n + 1, sizeof *order);
    size_t *nbytes = calloc((size_t)n + 1, sizeof *nbytes);
    sbuf hb = {0};
    tcf_status st = TCF_OK;
    if (!order || !nbytes) {
        st = tcf_fail(TCF_ERR_NOMEM, "%s: out of memory", path);
        goto done;
    }
    for (int i = 0; i < n; i++) {
        const tcf_st_tensor *x = &t[i];
        if (!x->name || !*x->name || !strcmp(x->name, "__metadata__") || dtype_rank(x->dtype) < 0 ||
            x->n_dims < 0 || x->n_dims > TCF_MAX_DIMS) {
            st = tcf_fail(TCF_ERR_ARG, "%s: tensor %d ('%s'): bad name, dtype or rank", path, i,
                          x->name ? x->name : "(null)");
            goto done;
        }
        size_t bytes = tcf_dtype_size(x->dtype);
        for (int d = 0; d < x->n_dims; d++)
            if (x->shape[d] < 0 || !tcf_mul_ok(bytes, (size_t)x->shape[d], &bytes)) {
                st = tcf_fail(TCF_ERR_ARG, "%s: tensor '%s': bad shape", path, x->name);
                goto done;
            }
        if (bytes && !x->data) {
            st = tcf_fail(TCF_ERR_ARG, "%s: tensor '%s': no data", path, x->name);
            goto done;
        }
        order[i] = x;
    }
    qsort(order, (size_t)n, sizeof *order, cmp_order);
    for (int i = 1; i < n; i++)
        if (!strcmp(order[i - 1]->name, order[i]->name)) {
            st = tcf_fail(TCF_ERR_ARG, "%s: tensor '%s' given twice", path, order[i]->name);
            goto done;
        }

    sb_str(&hb, "{");
    if (n_meta > 0) {
        sb_str(&hb, "\"__metadata__\":{");
        for (int i = 0; i < n_meta; i++) {
            if (i) sb_str(&hb, ",");
            sb_json_string(&hb, meta[2 * i]);
            sb_str(&hb, ":");
            sb_json_string(&hb, meta[2 * i + 1]);
        }
        sb_str(&hb, "}");
    }
    uint64_t off = 0;
    for (int i = 0; i < n; i++) {
        const tcf_st_tensor *x = order[i];
        size_t bytes = tcf_dtype_size(x->dtype);
        for (int d = 0; d < x->n_dims; d++) bytes *= (size_t)x->shape[d];
        nbytes[i] = bytes;
        char num[64];
        if (i || n_meta > 0) sb_str(&hb, ",");
        sb_json_string(&hb, x->name);
        sb_str(&hb, ":{\"dtype\":\"");
        sb_str(&hb, tcf_dtype_name(x->dtype));
        sb_str(&hb, "\",\"shape\":[");
        for (int d = 0; d < x->n_dims; d++) {
            snprintf(num, sizeof num, "%s%" PRId64, d ? "," : "", x->shape[d]);
            sb_str(&hb, num);
        }
        if (off + bytes < off) {
            st = tcf_fail(TCF_ERR_ARG, "%s: total size overflows", path);
            goto done;
        }
        snprintf(num, sizeof num, "],\"data_offsets\":[%" PRIu64 ",%" PRIu64 "]}", off, off + bytes);
        sb_str(&hb, num);
        off += bytes;
    }
    sb_str(&hb, "}");
    while (!hb.oom && hb.len % 8) sb_str(&hb, " ");
    if (hb.oom) {
        st = tcf_fail(TCF_ERR_NOMEM, "%s: out of memory for the header", path);
        goto done;
    }

    unsigned char len8[8];
    for (int i = 0; i < 8; i++) len8[i] = (unsigned char)((uint64_t)hb.len >> (8 * i));
    tcf_atomic_file *h;
    st = tcf_atomic_open(path, &h);
    if (st != TCF_OK) goto done;
    st = tcf_atomic_write(h, len8, 8);
    if (st == TCF_OK) st = tcf_atomic_write(h, hb.p, hb.len);
    for (int i = 0; i < n && st == TCF_OK; i++)
        if (nbytes[i]) st = tcf_atomic_write(h, order[i]->data, nbytes[i]);
    if (st != TCF_OK) tcf_atomic_abort(h);
    else st = tcf_atomic_commit(h);
done:
    free(order);
    free(nbytes);
    free(hb.p);
    return st;
}
