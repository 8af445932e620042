/*
 * gguf_write.c — GGUF v3 writer (layout rules in gguf_write.h; the format is
 * described in src/io/gguf.c, the reader).
 *
 * Metadata is serialised as it is added into one growing byte buffer; tensor
 * data is copied into one buffer per tensor. Saving streams header,
 * metadata, tensor infos, padding and data into an atomic file.
 */
#include "io/gguf_write.h"
#include "base/atomic_file.h"
#include "base/base.h"

#include <stdlib.h>
#include <string.h>

#define ALIGN 32u
#define GGUF_MAGIC "GGUF"

typedef struct {
    uint8_t *p;
    size_t len, cap;
} bytes;

typedef struct {
    char *name;
    tcf_ggml_type type;
    int n_dims;
    int64_t ne[TCF_GGUF_MAX_DIMS];
    uint8_t *data;
    size_t nbytes;
} wtensor;

struct tcf_gguf_writer {
    bytes kv;          /* serialised metadata entries */
    int64_t n_kv;
    char **keys;       /* [n_kv] for duplicate checks */
    wtensor *t;        /* [n_t] */
    int64_t n_t, cap_t;
};

static int put(bytes *b, const void *x, size_t n) {
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 1024;
        while (cap < b->len + n) cap *= 2;
        uint8_t *q = realloc(b->p, cap);
        if (!q) return 0;
        b->p = q, b->cap = cap;
    }
    if (n) memcpy(b->p + b->len, x, n);
    b->len += n;
    return 1;
}
static int put32(bytes *b, uint32_t v) { return put(b, &v, 4); }
static int put64(bytes *b, uint64_t v) { return put(b, &v, 8); }
static int putstr(bytes *b, const char *s, size_t n) { return put64(b, n) && put(b, s, n); }

tcf_status tcf_gguf_writer_new(tcf_gguf_writer **out) {
    *out = calloc(1, sizeof **out);
    return *out ? TCF_OK : tcf_fail(TCF_ERR_NOMEM, "gguf writer: out of memory");
}

void tcf_gguf_writer_free(tcf_gguf_writer *w) {
    if (!w) return;
    for (int64_t i = 0; i < w->n_kv; i++) free(w->keys[i]);
    for (int64_t i = 0; i < w->n_t; i++) free(w->t[i].name), free(w->t[i].data);
    free(w->keys);
    free(w->t);
    free(w->kv.p);
    free(w);
}

/* Start entry `key` of value type `type`: checks the key, then appends the
 * key and the type. On failure the buffer is rolled back by the caller via
 * the returned length mark. */
static tcf_status begin_kv(tcf_gguf_writer *w, const char *key, uint32_t type, size_t *mark) {
    if (!key || !*key) return tcf_fail(TCF_ERR_ARG, "gguf writer: empty metadata key");
    for (int64_t i = 0; i < w->n_kv; i++)
        if (!strcmp(w->keys[i], key)) return tcf_fail(TCF_ERR_ARG, "gguf writer: duplicate key '%s'", key);
    *mark = w->kv.len;
    if (!putstr(&w->kv, key, strlen(key)) || !put32(&w->kv, type))
        return tcf_fail(TCF_ERR_NOMEM, "gguf writer: key '%s': out of memory", key);
    return TCF_OK;
}

static tcf_status end_kv(tcf_gguf_writer *w, const char *key, size_t mark, int ok) {
    char **k = ok ? realloc(w->keys, sizeof *w->keys * (size_t)(w->n_kv + 1)) : NULL;
    char *dup = k ? strdup(key) : NULL;
    if (k) w->keys = k;
    if (!dup) {
        w->kv.len = mark;
        return tcf_fail(TCF_ERR_NOMEM, "gguf writer: key '%s': out of memory", key);
    }
    w->keys[w->n_kv++] = dup;
    return TCF_OK;
}

static tcf_status put_scalar(tcf_gguf_writer *w, const char *key, tcf_gguf_type type, const void *v,
                             size_t n) {
    size_t mark;
    tcf_status st = begin_kv(w, key, type, &mark);
    if (st) return st;
    return end_kv(w, key, mark, put(&w->kv, v, n));
}

tcf_status tcf_gguf_put_u32(tcf_gguf_writer *w, const char *key, uint32_t v) {
    return put_scalar(w, key, TCF_GGUF_U32, &v, 4);
}
tcf_status tcf_gguf_put_i32(tcf_gguf_writer *w, const char *key, int32_t v) {
    return put_scalar(w, key, TCF_GGUF_I32, &v, 4);
}
tcf_status tcf_gguf_put_f32(tcf_gguf_writer *w, const char *key, float v) {
    return put_scalar(w, key, TCF_GGUF_F32, &v, 4);
}
tcf_status tcf_gguf_put_bool(tcf_gguf_writer *w, const char *key, int v) {
    uint8_t b = v ? 1 : 0;
    return put_scalar(w, key, TCF_GGUF_BOOL, &b, 1);
}

tcf_status tcf_gguf_put_str(tcf_gguf_writer *w, const char *key, const char *s, size_t len) {
    size_t mark;
    tcf_status st = begin_kv(w, key, TCF_GGUF_STRING, &mark);
    if (st) return st;
    return end_kv(w, key, mark, putstr(&w->kv, s, len));
}

tcf_status tcf_gguf_put_arr_str(tcf_gguf_writer *w, const char *key, const char *const *s, int64_t n) {
    if (n < 1) return tcf_fail(TCF_ERR_ARG, "gguf writer: key '%s': empty array", key);
    size_t mark;
    tcf_status st = begin_kv(w, key, TCF_GGUF_ARRAY, &mark);
    if (st) return st;
    int ok = put32(&w->kv, TCF_GGUF_STRING) && put64(&w->kv, (uint64_t)n);
    for (int64_t i = 0; ok && i < n; i++) ok = putstr(&w->kv, s[i], strlen(s[i]));
    return end_kv(w, key, mark, ok);
}

tcf_status tcf_gguf_put_arr_i32(tcf_gguf_writer *w, const char *key, const int32_t *v, int64_t n) {
    if (n < 1) return tcf_fail(TCF_ERR_ARG, "gguf writer: key '%s': empty array", key);
    size_t mark;
    tcf_status st = begin_kv(w, key, TCF_GGUF_ARRAY, &mark);
    if (st) return st;
    int ok = put32(&w->kv, TCF_GGUF_I32) && put64(&w->kv, (uint64_t)n) && put(&w->kv, v, 4 * (size_t)n);
    return end_kv(w, key, mark, ok);
}

/* Bytes of one value of a fixed-size type; 0 for string / array / unknown. */
static size_t scalar_size(tcf_gguf_type t) {
    switch (t) {
    case TCF_GGUF_U8: case TCF_GGUF_I8: case TCF_GGUF_BOOL: return 1;
    case TCF_GGUF_U16: case TCF_GGUF_I16: return 2;
    case TCF_GGUF_U32: case TCF_GGUF_I32: case TCF_GGUF_F32: return 4;
    case TCF_GGUF_U64: case TCF_GGUF_I64: case TCF_GGUF_F64: return 8;
    default: return 0;
    }
}

tcf_status tcf_gguf_put_scalar(tcf_gguf_writer *w, const char *key, tcf_gguf_type type, const void *v) {
    size_t n = scalar_size(type);
    if (!n) return tcf_fail(TCF_ERR_ARG, "gguf writer: key '%s': type %d is not a fixed-size scalar", key, (int)type);
    return put_scalar(w, key, type, v, n);
}

tcf_status tcf_gguf_put_arr(tcf_gguf_writer *w, const char *key, tcf_gguf_type elem, const void *v, int64_t n) {
    size_t es = scalar_size(elem), nb;
    if (!es && !(n == 0 && elem == TCF_GGUF_STRING))
        return tcf_fail(TCF_ERR_ARG, "gguf writer: key '%s': type %d is not a fixed-size scalar", key, (int)elem);
    if (n < 0) return tcf_fail(TCF_ERR_ARG, "gguf writer: key '%s': negative array length", key);
    if (!tcf_mul_ok(es, (size_t)n, &nb)) return tcf_fail(TCF_ERR_ARG, "gguf writer: key '%s': array too large", key);
    size_t mark;
    tcf_status st = begin_kv(w, key, TCF_GGUF_ARRAY, &mark);
    if (st) return st;
    int ok = put32(&w->kv, elem) && put64(&w->kv, (uint64_t)n) && put(&w->kv, v, nb);
    return end_kv(w, key, mark, ok);
}

tcf_status tcf_gguf_put_tensor(tcf_gguf_writer *w, const char *name, tcf_ggml_type type, int n_dims,
                               const int64_t *ne, const void *data, size_t nbytes) {
    if (!name || !*name) return tcf_fail(TCF_ERR_ARG, "gguf writer: empty tensor name");
    for (int64_t i = 0; i < w->n_t; i++)
        if (!strcmp(w->t[i].name, name))
            return tcf_fail(TCF_ERR_ARG, "gguf writer: duplicate tensor '%s'", name);
    int64_t bs = tcf_ggml_block_size(type);
    size_t ts = tcf_ggml_type_size(type);
    if (!bs || !ts) return tcf_fail(TCF_ERR_ARG, "gguf writer: tensor '%s': unknown type %d", name, (int)type);
    if (n_dims < 1 || n_dims > TCF_GGUF_MAX_DIMS)
        return tcf_fail(TCF_ERR_ARG, "gguf writer: tensor '%s': %d dims (1..4 allowed)", name, n_dims);
    size_t numel = 1;
    for (int d = 0; d < n_dims; d++)
        if (ne[d] < 1 || !tcf_mul_ok(numel, (size_t)ne[d], &numel))
            return tcf_fail(TCF_ERR_ARG, "gguf writer: tensor '%s': bad dim %d = %lld", name, d,
                            (long long)ne[d]);
    if (ne[0] % bs)
        return tcf_fail(TCF_ERR_ARG, "gguf writer: tensor '%s': row of %lld is not whole %s blocks of %lld",
                        name, (long long)ne[0], tcf_ggml_type_name(type), (long long)bs);
    size_t want;
    if (!tcf_mul_ok(numel / (size_t)bs, ts, &want) || want != nbytes)
        return tcf_fail(TCF_ERR_ARG, "gguf writer: tensor '%s': %zu bytes given, %s of this shape is %zu", name,
                        nbytes, tcf_ggml_type_name(type), want);
    if (w->n_t == w->cap_t) {
        int64_t cap = w->cap_t ? 2 * w->cap_t : 64;
        wtensor *t = realloc(w->t, sizeof *t * (size_t)cap);
        if (!t) return tcf_fail(TCF_ERR_NOMEM, "gguf writer: tensor '%s': out of memory", name);
        w->t = t, w->cap_t = cap;
    }
    wtensor *t = &w->t[w->n_t];
    memset(t, 0, sizeof *t);
    t->name = strdup(name);
    t->data = malloc(nbytes ? nbytes : 1);
    if (!t->name || !t->data) {
        free(t->name), free(t->data);
        return tcf_fail(TCF_ERR_NOMEM, "gguf writer: tensor '%s': cannot copy %zu bytes", name, nbytes);
    }
    memcpy(t->data, data, nbytes);
    t->type = type, t->n_dims = n_dims, t->nbytes = nbytes;
    for (int d = 0; d < n_dims; d++) t->ne[d] = ne[d];
    w->n_t++;
    return TCF_OK;
}

static size_t pad_of(size_t n) { return (ALIGN - n % ALIGN) % ALIGN; }

tcf_status tcf_gguf_writer_save(const tcf_gguf_writer *w, const char *path) {
    static const uint8_t zeros[ALIGN];
    bytes h = {0};
    int ok = put(&h, GGUF_MAGIC, 4) && put32(&h, 3) && put64(&h, (uint64_t)w->n_t) &&
             put64(&h, (uint64_t)w->n_kv) && put(&h, w->kv.p, w->kv.len);
    uint64_t off = 0;
    for (int64_t i = 0; ok && i < w->n_t; i++) {
        const wtensor *t = &w->t[i];
        ok = putstr(&h, t->name, strlen(t->name)) && put32(&h, (uint32_t)t->n_dims);
        for (int d = 0; ok && d < t->n_dims; d++) ok = put64(&h, (uint64_t)t->ne[d]);
        ok = ok && put32(&h, (uint32_t)t->type) && put64(&h, off);
        off += t->nbytes + pad_of(t->nbytes);
    }
    ok = ok && put(&h, zeros, pad_of(h.len));
    if (!ok) {
        free(h.p);
        return tcf_fail(TCF_ERR_NOMEM, "%s: out of memory building the GGUF header", path);
    }
    tcf_atomic_file *f = NULL;
    tcf_status st = tcf_atomic_open(path, &f);
    if (!st) st = tcf_atomic_write(f, h.p, h.len);
    free(h.p);
    for (int64_t i = 0; !st && i < w->n_t; i++) {
        st = tcf_atomic_write(f, w->t[i].data, w->t[i].nbytes);
        if (!st) st = tcf_atomic_write(f, zeros, pad_of(w->t[i].nbytes));
    }
    if (st) {
        if (f) tcf_atomic_abort(f);
        return st;
    }
    return tcf_atomic_commit(f);
}
