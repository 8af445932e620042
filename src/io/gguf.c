/*
 * gguf.c — read-only reader for GGUF files (llama.cpp / ggml model format).
 *
 * What it does: maps the file (or takes a caller's buffer), walks and checks
 * every byte of the header, metadata and tensor table before handing out
 * anything, keeps metadata as typed values and tensors as views into the map,
 * and decodes tensors to f32 (tcf_gguf_dequantize, block decoders in
 * kern/quant.c). What it does not: write GGUF, read big-endian files, decode
 * the i-quants, k-quants other than Q4_K/Q6_K, or integer tensors.
 *
 * Format (ggml/docs/gguf.md and ggml/src/gguf.cpp, the reference reader;
 * gguf-py's gguf_reader.py reads the same), all little-endian:
 *
 *   u32 magic           "GGUF" (0x46554747)
 *   u32 version         3 (v2 is the same layout; v1 had u32 counts: refused)
 *   u64 tensor_count
 *   u64 metadata_kv_count
 *   metadata_kv_count x { string key; u32 value_type; value }
 *   tensor_count x      { string name; u32 n_dims; u64 ne[n_dims];
 *                         u32 ggml_type; u64 offset }
 *   padding to general.alignment, then the data section to the end.
 *
 *   string  = u64 length, then that many bytes (UTF-8, no NUL terminator)
 *   value   = by type: 0 u8, 1 i8, 2 u16, 3 i16, 4 u32, 5 i32, 6 f32,
 *             7 bool (one byte), 8 string, 9 array, 10 u64, 11 i64, 12 f64
 *   array   = u32 element type, u64 count, count elements (arrays nest)
 *   ne      = dims innermost first (ne[0] is the contiguous row length),
 *             the reverse of torch / safetensors order
 *   offset  = from the start of the data section, a multiple of the alignment
 *   general.alignment = u32, a power of two, default 32; the data section
 *             starts at the first multiple of it after the tensor table
 *   A tensor of type T and shape ne occupies numel / block_size(T) *
 *   type_size(T) bytes; ne[0] must be a multiple of block_size(T).
 *
 * Checks, each failing with TCF_ERR_FORMAT and a message naming the file, the
 * key or tensor, and the cause:
 *   - magic, version; counts that cannot fit in the bytes left (every kv is at
 *     least 13 bytes, every tensor info 24, every array element its type's
 *     minimum), string lengths, every read against the end of the file;
 *   - unknown value / element / ggml types; bool bytes other than 0 and 1;
 *     arrays nested deeper than MAX_NEST; NUL bytes in keys and names;
 *   - n_dims > 4; dims above INT64_MAX or whose product overflows; ne[0] not
 *     a multiple of the block size; offsets not aligned; a tensor that runs
 *     past the end of the file; tensors that overlap;
 *   - general.alignment not a u32 power of two; duplicate keys and names.
 * Stricter than gguf.cpp: bool bytes, NUL in names, nesting depth. Looser:
 *   holes between tensors are allowed (gguf.cpp wants each tensor to start
 *   where the previous one ends, padded), and names may exceed 63 bytes.
 */
#include "base/base.h"
#include "kern/convert.h"
#include "kern/quant.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "gguf.c reads little-endian values in place; add byte swaps for this host"
#endif

#define GGUF_MAGIC 0x46554747u /* "GGUF" read as a little-endian u32 */
#define DEFAULT_ALIGNMENT 32u
#define MAX_NEST 8             /* arrays of arrays of ... deeper than this are refused */
#define MIN_KV_BYTES 13u       /* u64 key length + u32 type + a 1-byte value */
#define MIN_TENSOR_BYTES 24u   /* u64 name length + u32 n_dims + u32 type + u64 offset */

/* One metadata value. Scalars point at their bytes in the map; strings at a
 * NUL-terminated copy; arrays of fixed-size elements at the first element in
 * the map; arrays of strings or arrays hold a node per element. */
struct tcf_gguf_value {
    uint8_t type, elem_type;
    uint64_t n;                 /* STRING: bytes; ARRAY: elements */
    const uint8_t *p;
    struct tcf_gguf_value *elems; /* [n] for arrays of STRING / ARRAY */
    const tcf_gguf *g;
    int64_t kv;                 /* the metadata entry it belongs to */
};

/* A bump allocator: nodes and strings for one file, freed together. */
typedef struct chunk {
    struct chunk *next;
    size_t used, cap;
    max_align_t data[];
} chunk;

struct tcf_gguf {
    const char *label;         /* a copy, in `arena` */
    void *map;                 /* our mmap, or NULL for from_memory */
    size_t map_len;
    uint32_t version, alignment;
    uint64_t data_offset;
    int64_t n_kv, n_tensors;
    const char **keys;         /* [n_kv] file order */
    tcf_gguf_value *values;    /* [n_kv] */
    int64_t *kv_by_key;        /* [n_kv] sorted by key */
    tcf_gguf_tensor *tensors;  /* [n_tensors] file order */
    int64_t *t_by_name;        /* [n_tensors] sorted by name */
    chunk *arena;
};

/* ---- type tables ------------------------------------------------------- */

static const struct { const char *name; uint8_t size; } value_types[TCF_GGUF_TYPE_COUNT] = {
    {"u8", 1},  {"i8", 1},     {"u16", 2},   {"i16", 2},  {"u32", 4}, {"i32", 4}, {"f32", 4},
    {"bool", 1}, {"string", 0}, {"array", 0}, {"u64", 8}, {"i64", 8}, {"f64", 8},
};

/* Block size and bytes per block, from ggml.c's type_traits. */
static const struct { const char *name; uint16_t blck; uint16_t size; } ggml_types[] = {
    [TCF_GGML_F32] = {"F32", 1, 4},          [TCF_GGML_F16] = {"F16", 1, 2},
    [TCF_GGML_Q4_0] = {"Q4_0", 32, 18},      [TCF_GGML_Q4_1] = {"Q4_1", 32, 20},
    [TCF_GGML_Q5_0] = {"Q5_0", 32, 22},      [TCF_GGML_Q5_1] = {"Q5_1", 32, 24},
    [TCF_GGML_Q8_0] = {"Q8_0", 32, 34},      [TCF_GGML_Q8_1] = {"Q8_1", 32, 36},
    [TCF_GGML_Q2_K] = {"Q2_K", 256, 84},     [TCF_GGML_Q3_K] = {"Q3_K", 256, 110},
    [TCF_GGML_Q4_K] = {"Q4_K", 256, 144},    [TCF_GGML_Q5_K] = {"Q5_K", 256, 176},
    [TCF_GGML_Q6_K] = {"Q6_K", 256, 210},    [TCF_GGML_Q8_K] = {"Q8_K", 256, 292},
    [TCF_GGML_IQ2_XXS] = {"IQ2_XXS", 256, 66}, [TCF_GGML_IQ2_XS] = {"IQ2_XS", 256, 74},
    [TCF_GGML_IQ3_XXS] = {"IQ3_XXS", 256, 98}, [TCF_GGML_IQ1_S] = {"IQ1_S", 256, 50},
    [TCF_GGML_IQ4_NL] = {"IQ4_NL", 32, 18},  [TCF_GGML_IQ3_S] = {"IQ3_S", 256, 110},
    [TCF_GGML_IQ2_S] = {"IQ2_S", 256, 82},   [TCF_GGML_IQ4_XS] = {"IQ4_XS", 256, 136},
    [TCF_GGML_I8] = {"I8", 1, 1},            [TCF_GGML_I16] = {"I16", 1, 2},
    [TCF_GGML_I32] = {"I32", 1, 4},          [TCF_GGML_I64] = {"I64", 1, 8},
    [TCF_GGML_F64] = {"F64", 1, 8},          [TCF_GGML_IQ1_M] = {"IQ1_M", 256, 56},
    [TCF_GGML_BF16] = {"BF16", 1, 2},        [TCF_GGML_TQ1_0] = {"TQ1_0", 256, 54},
    [TCF_GGML_TQ2_0] = {"TQ2_0", 256, 66},   [TCF_GGML_MXFP4] = {"MXFP4", 32, 17},
};
#define N_GGML_TYPES (sizeof ggml_types / sizeof ggml_types[0])

const char *tcf_gguf_type_name(tcf_gguf_type t) {
    return (unsigned)t < TCF_GGUF_TYPE_COUNT ? value_types[t].name : "?";
}

const char *tcf_ggml_type_name(tcf_ggml_type t) {
    return (unsigned)t < N_GGML_TYPES ? ggml_types[t].name : NULL;
}

int64_t tcf_ggml_block_size(tcf_ggml_type t) {
    return (unsigned)t < N_GGML_TYPES ? ggml_types[t].blck : 0;
}

size_t tcf_ggml_type_size(tcf_ggml_type t) {
    return (unsigned)t < N_GGML_TYPES ? ggml_types[t].size : 0;
}

/* ---- arena --------------------------------------------------------------- */

static void *arena_alloc(chunk **a, size_t n) {
    n = (n + 15) & ~(size_t)15;
    if (!*a || (*a)->cap - (*a)->used < n) {
        size_t cap = n > (1u << 16) ? n : (1u << 16);
        chunk *c = malloc(sizeof *c + cap);
        if (!c) return NULL;
        c->next = *a;
        c->used = 0;
        c->cap = cap;
        *a = c;
    }
    void *p = (char *)(*a)->data + (*a)->used;
    (*a)->used += n;
    return p;
}

static void arena_free(chunk *a) {
    while (a) {
        chunk *n = a->next;
        free(a);
        a = n;
    }
}

/* ---- the cursor ------------------------------------------------------- */

typedef struct {
    tcf_gguf *g;
    const uint8_t *buf;
    size_t len, pos;
    const char *L;
} cursor;

static uint64_t rd64(const uint8_t *p) {
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}
static uint32_t rd32(const uint8_t *p) {
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

static size_t left(const cursor *c) { return c->len - c->pos; }

/* "key 'K'" or "metadata entry N" or "tensor 'T'" — what is being read. */
typedef struct {
    char s[160];
} where;

/* Read `n` bytes for `what`, failing if they run past the end. */
static tcf_status need(cursor *c, size_t n, const where *w, const char *what) {
    if (left(c) < n)
        return tcf_fail(TCF_ERR_FORMAT,
                        "%s: %s: %s (%zu bytes at byte %zu) runs past the end of the file "
                        "(%zu bytes)",
                        c->L, w->s, what, n, c->pos, c->len);
    return TCF_OK;
}

static tcf_status get_u32(cursor *c, uint32_t *v, const where *w, const char *what) {
    tcf_status rc = need(c, 4, w, what);
    if (rc) return rc;
    *v = rd32(c->buf + c->pos);
    c->pos += 4;
    return TCF_OK;
}

static tcf_status get_u64(cursor *c, uint64_t *v, const where *w, const char *what) {
    tcf_status rc = need(c, 8, w, what);
    if (rc) return rc;
    *v = rd64(c->buf + c->pos);
    c->pos += 8;
    return TCF_OK;
}

/* A string: its length, then bytes copied into the arena with a NUL. With
 * no_nul, a NUL inside is an error (keys and tensor names). */
static tcf_status get_string(cursor *c, const char **s, uint64_t *len, const where *w,
                             const char *what, int no_nul) {
    uint64_t n;
    char buf[96];
    snprintf(buf, sizeof buf, "%s length", what);
    tcf_status rc = get_u64(c, &n, w, buf);
    if (rc) return rc;
    if (n > left(c))
        return tcf_fail(TCF_ERR_FORMAT,
                        "%s: %s: %s of %llu bytes at byte %zu runs past the end of the file "
                        "(%zu bytes)",
                        c->L, w->s, what, (unsigned long long)n, c->pos, c->len);
    const uint8_t *p = c->buf + c->pos;
    if (no_nul && memchr(p, 0, (size_t)n))
        return tcf_fail(TCF_ERR_FORMAT, "%s: %s: %s at byte %zu holds a NUL byte", c->L, w->s,
                        what, c->pos);
    char *d = arena_alloc(&c->g->arena, (size_t)n + 1);
    if (!d) return tcf_fail(TCF_ERR_NOMEM, "%s: cannot allocate %llu bytes", c->L,
                            (unsigned long long)n + 1);
    memcpy(d, p, (size_t)n);
    d[n] = '\0';
    c->pos += (size_t)n;
    *s = d;
    if (len) *len = n;
    return TCF_OK;
}

/* ---- metadata ----------------------------------------------------------- */

/* Fewest bytes one element of type t can take. */
static size_t min_size(uint32_t t) {
    return t == TCF_GGUF_STRING ? 8 : t == TCF_GGUF_ARRAY ? 12 : value_types[t].size;
}

static tcf_status check_bools(cursor *c, const uint8_t *p, uint64_t n, const where *w) {
    for (uint64_t i = 0; i < n; i++)
        if (p[i] > 1)
            return tcf_fail(TCF_ERR_FORMAT, "%s: %s: bool at byte %zu is %u, not 0 or 1", c->L,
                            w->s, (size_t)(p + i - c->buf), p[i]);
    return TCF_OK;
}

static tcf_status parse_value(cursor *c, tcf_gguf_value *v, uint32_t type, int depth,
                              const where *w) {
    v->type = (uint8_t)type;
    v->g = c->g;
    tcf_status rc;
    if (type == TCF_GGUF_STRING) {
        const char *s;
        rc = get_string(c, &s, &v->n, w, "string", 0);
        v->p = (const uint8_t *)s;
        return rc;
    }
    if (type != TCF_GGUF_ARRAY) {
        size_t sz = value_types[type].size;
        if ((rc = need(c, sz, w, value_types[type].name))) return rc;
        v->p = c->buf + c->pos;
        v->n = 1;
        if (type == TCF_GGUF_BOOL && (rc = check_bools(c, v->p, 1, w))) return rc;
        c->pos += sz;
        return TCF_OK;
    }
    if (depth >= MAX_NEST)
        return tcf_fail(TCF_ERR_FORMAT, "%s: %s: arrays nested deeper than %d at byte %zu", c->L,
                        w->s, MAX_NEST, c->pos);
    uint32_t et;
    uint64_t n;
    if ((rc = get_u32(c, &et, w, "array element type"))) return rc;
    if (et >= TCF_GGUF_TYPE_COUNT)
        return tcf_fail(TCF_ERR_FORMAT, "%s: %s: unknown array element type %u at byte %zu", c->L,
                        w->s, et, c->pos - 4);
    if ((rc = get_u64(c, &n, w, "array length"))) return rc;
    size_t ms = min_size(et);
    if (n > left(c) / ms)
        return tcf_fail(TCF_ERR_FORMAT,
                        "%s: %s: array of %llu %s elements (at least %zu bytes each) cannot fit "
                        "in the %zu bytes left in the file",
                        c->L, w->s, (unsigned long long)n, value_types[et].name, ms, left(c));
    v->elem_type = (uint8_t)et;
    v->n = n;
    if (et != TCF_GGUF_STRING && et != TCF_GGUF_ARRAY) {
        v->p = c->buf + c->pos;
        if (et == TCF_GGUF_BOOL && (rc = check_bools(c, v->p, n, w))) return rc;
        c->pos += (size_t)n * ms;
        return TCF_OK;
    }
    /* n <= bytes left / 8, so this is at most 6x the file */
    v->elems = arena_alloc(&c->g->arena, (size_t)n * sizeof *v->elems + 1);
    if (!v->elems)
        return tcf_fail(TCF_ERR_NOMEM, "%s: %s: cannot allocate an array of %llu", c->L, w->s,
                        (unsigned long long)n);
    for (uint64_t i = 0; i < n; i++) {
        v->elems[i] = (tcf_gguf_value){0};
        v->elems[i].kv = v->kv;
        if ((rc = parse_value(c, &v->elems[i], et, depth + 1, w))) return rc;
    }
    return TCF_OK;
}

/* ---- tensors ------------------------------------------------------------ */

typedef struct {
    uint64_t begin, end;
    int64_t idx;
} span;

static int span_cmp(const void *a, const void *b) {
    const span *x = a, *y = b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    if (x->end != y->end) return x->end < y->end ? -1 : 1;
    return (x->idx > y->idx) - (x->idx < y->idx);
}

/* Sort idx[0..n) (initially 0..n-1) by the string at base + i*stride. */
typedef struct {
    const char *s;
    int64_t i;
} named;

static int named_cmp(const void *a, const void *b) {
    const named *x = a, *y = b;
    int c = strcmp(x->s, y->s);
    return c ? c : (x->i > y->i) - (x->i < y->i);
}

static tcf_status sort_by_name(const char *L, int64_t *idx, int64_t n, const void *base,
                               size_t stride) {
    named *v = malloc((size_t)(n ? n : 1) * sizeof *v);
    if (!v) return tcf_fail(TCF_ERR_NOMEM, "%s: cannot allocate a sort of %lld names", L,
                            (long long)n);
    for (int64_t i = 0; i < n; i++)
        v[i] = (named){*(const char *const *)((const char *)base + (size_t)i * stride), i};
    qsort(v, (size_t)n, sizeof *v, named_cmp);
    for (int64_t i = 0; i < n; i++) idx[i] = v[i].i;
    free(v);
    return TCF_OK;
}

static tcf_status parse_tensor_info(cursor *c, tcf_gguf_tensor *t, int64_t i) {
    where w;
    snprintf(w.s, sizeof w.s, "tensor info %lld", (long long)i);
    uint64_t nl;
    tcf_status rc = get_string(c, &t->name, &nl, &w, "name", 1);
    if (rc) return rc;
    snprintf(w.s, sizeof w.s, "tensor '%.100s'", t->name);
    uint32_t nd;
    if ((rc = get_u32(c, &nd, &w, "n_dims"))) return rc;
    if (nd > TCF_GGUF_MAX_DIMS)
        return tcf_fail(TCF_ERR_FORMAT, "%s: %s: n_dims is %u, more than %d", c->L, w.s, nd,
                        TCF_GGUF_MAX_DIMS);
    t->n_dims = (int)nd;
    uint64_t numel = 1;
    for (int d = 0; d < TCF_GGUF_MAX_DIMS; d++) t->ne[d] = 1;
    for (uint32_t d = 0; d < nd; d++) {
        uint64_t x;
        if ((rc = get_u64(c, &x, &w, "dimension"))) return rc;
        if (x > (uint64_t)INT64_MAX)
            return tcf_fail(TCF_ERR_FORMAT, "%s: %s: ne[%u] = %llu is above INT64_MAX", c->L, w.s,
                            d, (unsigned long long)x);
        t->ne[d] = (int64_t)x;
        if (__builtin_mul_overflow(numel, x, &numel) || numel > (uint64_t)INT64_MAX)
            return tcf_fail(TCF_ERR_FORMAT, "%s: %s: shape has too many elements (ne[%u] = %llu)",
                            c->L, w.s, d, (unsigned long long)x);
    }
    t->numel = (int64_t)numel;
    uint32_t ty;
    if ((rc = get_u32(c, &ty, &w, "type"))) return rc;
    if (ty >= N_GGML_TYPES || !ggml_types[ty].name)
        return tcf_fail(TCF_ERR_FORMAT, "%s: %s: unknown ggml type %u", c->L, w.s, ty);
    t->type = (tcf_ggml_type)ty;
    if ((rc = get_u64(c, &t->offset, &w, "offset"))) return rc;
    uint64_t bs = ggml_types[ty].blck;
    if ((uint64_t)t->ne[0] % bs != 0)
        return tcf_fail(TCF_ERR_FORMAT,
                        "%s: %s: row length ne[0] = %lld is not a multiple of %s's block size %llu",
                        c->L, w.s, (long long)t->ne[0], ggml_types[ty].name,
                        (unsigned long long)bs);
    uint64_t nb;
    if (__builtin_mul_overflow(numel / bs, (uint64_t)ggml_types[ty].size, &nb) ||
        nb > (uint64_t)SIZE_MAX)
        return tcf_fail(TCF_ERR_FORMAT, "%s: %s: %s of %llu elements is too large", c->L, w.s,
                        ggml_types[ty].name, (unsigned long long)numel);
    t->nbytes = (size_t)nb;
    return TCF_OK;
}

/* ---- the whole file ------------------------------------------------------ */

static tcf_status parse(tcf_gguf *g, const uint8_t *buf, size_t len) {
    cursor c = {g, buf, len, 0, g->label};
    const char *L = g->label;
    where w = {"header"};
    tcf_status rc;
    if (len < 4 || memcmp(buf, "GGUF", 4) != 0) {
        if (len < 4)
            return tcf_fail(TCF_ERR_FORMAT, "%s: file is %zu bytes, too short for the GGUF magic",
                            L, len);
        return tcf_fail(TCF_ERR_FORMAT,
                        "%s: bad magic %02x %02x %02x %02x, not \"GGUF\": not a GGUF file", L,
                        buf[0], buf[1], buf[2], buf[3]);
    }
    c.pos = 4;
    if ((rc = get_u32(&c, &g->version, &w, "version"))) return rc;
    if (g->version != 3 && g->version != 2) {
        uint32_t sw = __builtin_bswap32(g->version);
        if (sw == 2 || sw == 3)
            return tcf_fail(TCF_ERR_UNSUPPORTED, "%s: GGUF version %u is a big-endian file", L,
                            sw);
        return tcf_fail(TCF_ERR_UNSUPPORTED, "%s: GGUF version %u is not supported (2 and 3 are)",
                        L, g->version);
    }
    uint64_t nt, nkv;
    if ((rc = get_u64(&c, &nt, &w, "tensor count"))) return rc;
    if ((rc = get_u64(&c, &nkv, &w, "metadata count"))) return rc;
    if (nkv > left(&c) / MIN_KV_BYTES)
        return tcf_fail(TCF_ERR_FORMAT,
                        "%s: metadata count %llu cannot fit in the %zu bytes left in the file", L,
                        (unsigned long long)nkv, left(&c));
    if (nt > (left(&c) - nkv * MIN_KV_BYTES) / MIN_TENSOR_BYTES)
        return tcf_fail(TCF_ERR_FORMAT,
                        "%s: tensor count %llu cannot fit in the %zu bytes left in the file", L,
                        (unsigned long long)nt, left(&c));
    g->n_kv = (int64_t)nkv;
    g->n_tensors = (int64_t)nt;
    g->keys = calloc(nkv + 1, sizeof *g->keys);
    g->values = calloc(nkv + 1, sizeof *g->values);
    g->kv_by_key = calloc(nkv + 1, sizeof *g->kv_by_key);
    g->tensors = calloc(nt + 1, sizeof *g->tensors);
    g->t_by_name = calloc(nt + 1, sizeof *g->t_by_name);
    if (!g->keys || !g->values || !g->kv_by_key || !g->tensors || !g->t_by_name)
        return tcf_fail(TCF_ERR_NOMEM, "%s: cannot allocate tables for %llu keys, %llu tensors",
                        L, (unsigned long long)nkv, (unsigned long long)nt);

    g->alignment = DEFAULT_ALIGNMENT;
    for (int64_t i = 0; i < g->n_kv; i++) {
        snprintf(w.s, sizeof w.s, "metadata entry %lld", (long long)i);
        if ((rc = get_string(&c, &g->keys[i], NULL, &w, "key", 1))) return rc;
        snprintf(w.s, sizeof w.s, "key '%.100s'", g->keys[i]);
        uint32_t ty;
        if ((rc = get_u32(&c, &ty, &w, "value type"))) return rc;
        if (ty >= TCF_GGUF_TYPE_COUNT)
            return tcf_fail(TCF_ERR_FORMAT, "%s: %s: unknown value type %u", L, w.s, ty);
        g->values[i].kv = i;
        if ((rc = parse_value(&c, &g->values[i], ty, 0, &w))) return rc;
        if (strcmp(g->keys[i], "general.alignment") == 0) {
            uint32_t a = ty == TCF_GGUF_U32 ? rd32(g->values[i].p) : 0;
            if (ty != TCF_GGUF_U32 || a == 0 || (a & (a - 1)) != 0) {
                char vb[32] = "";
                if (ty == TCF_GGUF_U32) snprintf(vb, sizeof vb, " %u", a);
                return tcf_fail(TCF_ERR_FORMAT,
                                "%s: key 'general.alignment' is %s%s, not a u32 power of two", L,
                                value_types[ty].name, vb);
            }
            g->alignment = a;
        }
    }
    if ((rc = sort_by_name(L, g->kv_by_key, g->n_kv, g->keys, sizeof *g->keys))) return rc;
    for (int64_t i = 1; i < g->n_kv; i++)
        if (strcmp(g->keys[g->kv_by_key[i - 1]], g->keys[g->kv_by_key[i]]) == 0)
            return tcf_fail(TCF_ERR_FORMAT, "%s: key '%s' appears twice (entries %lld and %lld)",
                            L, g->keys[g->kv_by_key[i]], (long long)g->kv_by_key[i - 1],
                            (long long)g->kv_by_key[i]);

    for (int64_t i = 0; i < g->n_tensors; i++)
        if ((rc = parse_tensor_info(&c, &g->tensors[i], i))) return rc;
    if ((rc = sort_by_name(L, g->t_by_name, g->n_tensors, &g->tensors[0].name,
                           sizeof *g->tensors)))
        return rc;
    for (int64_t i = 1; i < g->n_tensors; i++) {
        const tcf_gguf_tensor *a = &g->tensors[g->t_by_name[i - 1]],
                              *b = &g->tensors[g->t_by_name[i]];
        if (strcmp(a->name, b->name) == 0)
            return tcf_fail(TCF_ERR_FORMAT, "%s: tensor '%s' appears twice (infos %lld and %lld)",
                            L, a->name, (long long)g->t_by_name[i - 1],
                            (long long)g->t_by_name[i]);
    }

    /* The data section: the first multiple of the alignment at or after the
     * end of the tensor table (c.pos <= len, so no overflow). */
    uint64_t al = g->alignment;
    uint64_t start = ((uint64_t)c.pos + al - 1) / al * al;
    g->data_offset = start;
    if (g->n_tensors == 0) return TCF_OK; /* the padding may be absent */
    if (start > len)
        return tcf_fail(TCF_ERR_FORMAT,
                        "%s: the data section would start at byte %llu, past the end of the file "
                        "(%zu bytes)",
                        L, (unsigned long long)start, len);
    uint64_t dlen = len - start;
    span *sp = malloc((size_t)g->n_tensors * sizeof *sp);
    if (!sp) return tcf_fail(TCF_ERR_NOMEM, "%s: cannot allocate the tensor spans", L);
    rc = TCF_OK;
    for (int64_t i = 0; i < g->n_tensors && rc == TCF_OK; i++) {
        tcf_gguf_tensor *t = &g->tensors[i];
        if (t->offset % al != 0)
            rc = tcf_fail(TCF_ERR_FORMAT,
                          "%s: tensor '%s': offset %llu is not a multiple of the alignment %u", L,
                          t->name, (unsigned long long)t->offset, g->alignment);
        else if (t->offset > dlen || t->nbytes > dlen - t->offset)
            rc = tcf_fail(TCF_ERR_FORMAT,
                          "%s: tensor '%s': %s %lldx%lldx%lldx%lld needs %zu bytes at offset %llu "
                          "but the data section holds %llu",
                          L, t->name, ggml_types[t->type].name, (long long)t->ne[0],
                          (long long)t->ne[1], (long long)t->ne[2], (long long)t->ne[3],
                          t->nbytes, (unsigned long long)t->offset, (unsigned long long)dlen);
        t->data = buf + start + (t->offset <= dlen ? t->offset : 0);
        sp[i] = (span){t->offset, t->offset + t->nbytes, i};
    }
    if (rc == TCF_OK) {
        /* sorted by start, a non-empty range overlaps an earlier one iff it
         * starts before the furthest end seen so far */
        qsort(sp, (size_t)g->n_tensors, sizeof *sp, span_cmp);
        int64_t far = -1; /* index into sp of the range with the furthest end */
        for (int64_t i = 0; i < g->n_tensors; i++) {
            if (sp[i].end == sp[i].begin) continue;
            if (far >= 0 && sp[i].begin < sp[far].end) {
                rc = tcf_fail(TCF_ERR_FORMAT,
                              "%s: tensor '%s' [%llu, %llu) overlaps tensor '%s' [%llu, %llu)", L,
                              g->tensors[sp[i].idx].name, (unsigned long long)sp[i].begin,
                              (unsigned long long)sp[i].end, g->tensors[sp[far].idx].name,
                              (unsigned long long)sp[far].begin, (unsigned long long)sp[far].end);
                break;
            }
            if (far < 0 || sp[i].end > sp[far].end) far = i;
        }
    }
    free(sp);
    return rc;
}

/* ---- public API: handle ------------------------------------------------- */

void tcf_gguf_free(tcf_gguf *g) {
    if (!g) return;
    if (g->map) munmap(g->map, g->map_len);
    free(g->keys);
    free(g->values);
    free(g->kv_by_key);
    free(g->tensors);
    free(g->t_by_name);
    arena_free(g->arena);
    free(g);
}

tcf_status tcf_gguf_from_memory(const void *buf, size_t len, const char *label, tcf_gguf **out) {
    if (!out) return tcf_fail(TCF_ERR_ARG, "tcf_gguf_from_memory: out is NULL");
    *out = NULL;
    if (!label) label = "<memory>";
    if (!buf && len) return tcf_fail(TCF_ERR_ARG, "%s: buffer is NULL", label);
    tcf_gguf *g = calloc(1, sizeof *g);
    char *lab = g ? arena_alloc(&g->arena, strlen(label) + 1) : NULL;
    if (!lab) {
        tcf_gguf_free(g);
        return tcf_fail(TCF_ERR_NOMEM, "%s: cannot allocate the reader", label);
    }
    memcpy(lab, label, strlen(label) + 1);
    g->label = lab;
    tcf_status rc = parse(g, buf ? buf : (const void *)"", len);
    if (rc != TCF_OK) {
        tcf_gguf_free(g);
        return rc;
    }
    *out = g;
    return TCF_OK;
}

tcf_status tcf_gguf_open(const char *path, tcf_gguf **out) {
    if (!out) return tcf_fail(TCF_ERR_ARG, "tcf_gguf_open: out is NULL");
    *out = NULL;
    if (!path) return tcf_fail(TCF_ERR_ARG, "tcf_gguf_open: path is NULL");
    void *map;
    size_t len;
    tcf_status ms = tcf_map_file(path, 4, "for the GGUF magic", &map, &len);
    if (ms != TCF_OK) return ms;
    tcf_gguf *g = NULL;
    tcf_status rc = tcf_gguf_from_memory(map, len, path, &g);
    if (rc != TCF_OK) {
        munmap(map, len);
        return rc;
    }
    g->map = map;
    g->map_len = len;
    *out = g;
    return TCF_OK;
}

uint32_t tcf_gguf_version(const tcf_gguf *g) { return g ? g->version : 0; }
uint32_t tcf_gguf_alignment(const tcf_gguf *g) { return g ? g->alignment : 0; }
uint64_t tcf_gguf_data_offset(const tcf_gguf *g) { return g ? g->data_offset : 0; }

/* ---- public API: metadata ---------------------------------------------- */

int64_t tcf_gguf_kv_count(const tcf_gguf *g) { return g ? g->n_kv : 0; }

const char *tcf_gguf_kv_key(const tcf_gguf *g, int64_t i) {
    return g && i >= 0 && i < g->n_kv ? g->keys[i] : NULL;
}

const tcf_gguf_value *tcf_gguf_kv_value(const tcf_gguf *g, int64_t i) {
    return g && i >= 0 && i < g->n_kv ? &g->values[i] : NULL;
}

const tcf_gguf_value *tcf_gguf_find(const tcf_gguf *g, const char *key) {
    if (!g || !key) return NULL;
    int64_t lo = 0, hi = g->n_kv;
    while (lo < hi) {
        int64_t mid = lo + (hi - lo) / 2;
        int c = strcmp(key, g->keys[g->kv_by_key[mid]]);
        if (c == 0) return &g->values[g->kv_by_key[mid]];
        if (c < 0) hi = mid;
        else lo = mid + 1;
    }
    return NULL;
}

tcf_gguf_type tcf_gguf_value_type(const tcf_gguf_value *v) {
    return v ? (tcf_gguf_type)v->type : TCF_GGUF_TYPE_COUNT;
}

uint64_t tcf_gguf_array_len(const tcf_gguf_value *v) {
    return v && v->type == TCF_GGUF_ARRAY ? v->n : 0;
}

tcf_gguf_type tcf_gguf_array_type(const tcf_gguf_value *v) {
    return v && v->type == TCF_GGUF_ARRAY ? (tcf_gguf_type)v->elem_type : TCF_GGUF_TYPE_COUNT;
}

/* Element values of fixed-size arrays are made on demand in a per-thread
 * ring, so a caller may hold a few at once; string and array elements are
 * nodes of the handle and live as long as it. */
const tcf_gguf_value *tcf_gguf_array_at(const tcf_gguf_value *v, uint64_t i) {
    if (!v || v->type != TCF_GGUF_ARRAY || i >= v->n) return NULL;
    if (v->elems) return &v->elems[i];
    static _Thread_local tcf_gguf_value ring[16];
    static _Thread_local unsigned next;
    tcf_gguf_value *e = &ring[next++ % 16];
    *e = (tcf_gguf_value){.type = v->elem_type, .n = 1,
                          .p = v->p + i * value_types[v->elem_type].size, .g = v->g, .kv = v->kv};
    return e;
}

static tcf_status wrong_type(const tcf_gguf_value *v, const char *want) {
    if (!v) return tcf_fail(TCF_ERR_ARG, "gguf value is NULL");
    return tcf_fail(TCF_ERR_FORMAT, "%s: key '%s' is %s, not %s", v->g->label, v->g->keys[v->kv],
                    value_types[v->type].name, want);
}

tcf_status tcf_gguf_value_str(const tcf_gguf_value *v, const char **s, size_t *len) {
    if (!v || v->type != TCF_GGUF_STRING) return wrong_type(v, "a string");
    if (s) *s = (const char *)v->p;
    if (len) *len = (size_t)v->n;
    return TCF_OK;
}

/* An integer value: unsigned ones in *mag, signed ones in *sv (*is_signed). */
static int int_value(const tcf_gguf_value *v, uint64_t *mag, int64_t *sv, int *is_signed) {
    const uint8_t *p = v->p;
    switch (v->type) {
    case TCF_GGUF_U8: *mag = p[0]; *is_signed = 0; return 1;
    case TCF_GGUF_I8: *sv = (int8_t)p[0]; *is_signed = 1; return 1;
    case TCF_GGUF_U16: { uint16_t x; memcpy(&x, p, 2); *mag = x; *is_signed = 0; return 1; }
    case TCF_GGUF_I16: { int16_t x; memcpy(&x, p, 2); *sv = x; *is_signed = 1; return 1; }
    case TCF_GGUF_U32: *mag = rd32(p); *is_signed = 0; return 1;
    case TCF_GGUF_I32: { int32_t x; memcpy(&x, p, 4); *sv = x; *is_signed = 1; return 1; }
    case TCF_GGUF_U64: *mag = rd64(p); *is_signed = 0; return 1;
    case TCF_GGUF_I64: { int64_t x; memcpy(&x, p, 8); *sv = x; *is_signed = 1; return 1; }
    default: return 0;
    }
}

tcf_status tcf_gguf_value_i64(const tcf_gguf_value *v, int64_t *out) {
    uint64_t m = 0;
    int64_t s = 0;
    int sg = 0;
    if (!v || !int_value(v, &m, &s, &sg)) return wrong_type(v, "an integer");
    if (!sg && m > (uint64_t)INT64_MAX)
        return tcf_fail(TCF_ERR_FORMAT, "%s: key '%s': %llu does not fit in an i64",
                        v->g->label, v->g->keys[v->kv], (unsigned long long)m);
    if (out) *out = sg ? s : (int64_t)m;
    return TCF_OK;
}

tcf_status tcf_gguf_value_u64(const tcf_gguf_value *v, uint64_t *out) {
    uint64_t m = 0;
    int64_t s = 0;
    int sg = 0;
    if (!v || !int_value(v, &m, &s, &sg)) return wrong_type(v, "an integer");
    if (sg && s < 0)
        return tcf_fail(TCF_ERR_FORMAT, "%s: key '%s': %lld is negative", v->g->label,
                        v->g->keys[v->kv], (long long)s);
    if (out) *out = sg ? (uint64_t)s : m;
    return TCF_OK;
}

tcf_status tcf_gguf_value_f64(const tcf_gguf_value *v, double *out) {
    if (v && v->type == TCF_GGUF_F32) {
        float f;
        memcpy(&f, v->p, 4);
        if (out) *out = f;
        return TCF_OK;
    }
    if (v && v->type == TCF_GGUF_F64) {
        if (out) memcpy(out, v->p, 8);
        return TCF_OK;
    }
    return wrong_type(v, "a float");
}

tcf_status tcf_gguf_value_bool(const tcf_gguf_value *v, int *out) {
    if (!v || v->type != TCF_GGUF_BOOL) return wrong_type(v, "a bool");
    if (out) *out = v->p[0];
    return TCF_OK;
}

static tcf_status element(const tcf_gguf_value *v, uint64_t i, const tcf_gguf_value **e) {
    if (!v) return tcf_fail(TCF_ERR_ARG, "gguf value is NULL");
    *e = tcf_gguf_array_at(v, i);
    if (*e) return TCF_OK;
    if (v->type != TCF_GGUF_ARRAY) return tcf_fail(TCF_ERR_ARG, "%s: key '%s' is %s, not an array",
                                                   v->g->label, v->g->keys[v->kv],
                                                   value_types[v->type].name);
    return tcf_fail(TCF_ERR_ARG, "%s: key '%s': element %llu of an array of %llu", v->g->label,
                    v->g->keys[v->kv], (unsigned long long)i, (unsigned long long)v->n);
}

tcf_status tcf_gguf_array_i64(const tcf_gguf_value *v, uint64_t i, int64_t *out) {
    const tcf_gguf_value *e = NULL;
    tcf_status rc = element(v, i, &e);
    return rc ? rc : tcf_gguf_value_i64(e, out);
}

tcf_status tcf_gguf_array_f64(const tcf_gguf_value *v, uint64_t i, double *out) {
    const tcf_gguf_value *e = NULL;
    tcf_status rc = element(v, i, &e);
    return rc ? rc : tcf_gguf_value_f64(e, out);
}

tcf_status tcf_gguf_array_str(const tcf_gguf_value *v, uint64_t i, const char **s, size_t *len) {
    const tcf_gguf_value *e = NULL;
    tcf_status rc = element(v, i, &e);
    return rc ? rc : tcf_gguf_value_str(e, s, len);
}

static tcf_status find_or_fail(const tcf_gguf *g, const char *key, const tcf_gguf_value **v) {
    if (!g || !key) return tcf_fail(TCF_ERR_ARG, "tcf_gguf_get: NULL handle or key");
    *v = tcf_gguf_find(g, key);
    if (!*v) return tcf_fail(TCF_ERR_FORMAT, "%s: key '%s' is missing", g->label, key);
    return TCF_OK;
}

tcf_status tcf_gguf_get_str(const tcf_gguf *g, const char *key, const char **s) {
    const tcf_gguf_value *v = NULL;
    tcf_status rc = find_or_fail(g, key, &v);
    return rc ? rc : tcf_gguf_value_str(v, s, NULL);
}

tcf_status tcf_gguf_get_i64(const tcf_gguf *g, const char *key, int64_t *out) {
    const tcf_gguf_value *v = NULL;
    tcf_status rc = find_or_fail(g, key, &v);
    return rc ? rc : tcf_gguf_value_i64(v, out);
}

tcf_status tcf_gguf_get_f64(const tcf_gguf *g, const char *key, double *out) {
    const tcf_gguf_value *v = NULL;
    tcf_status rc = find_or_fail(g, key, &v);
    return rc ? rc : tcf_gguf_value_f64(v, out);
}

tcf_status tcf_gguf_get_bool(const tcf_gguf *g, const char *key, int *out) {
    const tcf_gguf_value *v = NULL;
    tcf_status rc = find_or_fail(g, key, &v);
    return rc ? rc : tcf_gguf_value_bool(v, out);
}

tcf_status tcf_gguf_get_array(const tcf_gguf *g, const char *key, tcf_gguf_type *elem,
                              uint64_t *n, const tcf_gguf_value **arr) {
    const tcf_gguf_value *v = NULL;
    tcf_status rc = find_or_fail(g, key, &v);
    if (rc) return rc;
    if (v->type != TCF_GGUF_ARRAY) return wrong_type(v, "an array");
    if (elem) *elem = (tcf_gguf_type)v->elem_type;
    if (n) *n = v->n;
    if (arr) *arr = v;
    return TCF_OK;
}

/* ---- public API: tensors ------------------------------------------------ */

int64_t tcf_gguf_tensor_count(const tcf_gguf *g) { return g ? g->n_tensors : 0; }

const tcf_gguf_tensor *tcf_gguf_tensor_at(const tcf_gguf *g, int64_t i) {
    return g && i >= 0 && i < g->n_tensors ? &g->tensors[i] : NULL;
}

const tcf_gguf_tensor *tcf_gguf_tensor_find(const tcf_gguf *g, const char *name) {
    if (!g || !name) return NULL;
    int64_t lo = 0, hi = g->n_tensors;
    while (lo < hi) {
        int64_t mid = lo + (hi - lo) / 2;
        const tcf_gguf_tensor *t = &g->tensors[g->t_by_name[mid]];
        int c = strcmp(name, t->name);
        if (c == 0) return t;
        if (c < 0) hi = mid;
        else lo = mid + 1;
    }
    return NULL;
}

tcf_status tcf_gguf_dequantize_rows(const tcf_gguf_tensor *t, int64_t row0, int64_t n_rows,
                                    float *dst) {
    if (!t) return tcf_fail(TCF_ERR_ARG, "tcf_gguf_dequantize: tensor is NULL");
    const char *nm = t->name ? t->name : "?";
    int64_t ne0 = t->ne[0];
    int64_t rows = ne0 ? t->numel / ne0 : 0;
    if (row0 < 0 || n_rows < 0 || row0 > rows || n_rows > rows - row0)
        return tcf_fail(TCF_ERR_ARG, "tensor '%s': rows [%lld, %lld) out of range (%lld rows)", nm,
                        (long long)row0, (long long)row0 + n_rows, (long long)rows);
    if (!dst && n_rows && ne0) return tcf_fail(TCF_ERR_ARG, "tensor '%s': destination is NULL", nm);
    if ((unsigned)t->type >= N_GGML_TYPES || !ggml_types[t->type].name)
        return tcf_fail(TCF_ERR_ARG, "tensor '%s': unknown type %d", nm, (int)t->type);
    int64_t bs = ggml_types[t->type].blck;
    size_t row_bytes = (size_t)(ne0 / bs) * ggml_types[t->type].size;
    const uint8_t *p = (const uint8_t *)t->data + (size_t)row0 * row_bytes;
    int64_t n = n_rows * ne0, nb = n / bs;
    switch (t->type) {
    case TCF_GGML_F32:
        if (n) memcpy(dst, p, (size_t)n * sizeof(float));
        return TCF_OK;
    case TCF_GGML_F16:
        for (int64_t i = 0; i < n; i++)
            dst[i] = tcf_f16_to_f32((uint16_t)(p[2 * i] | (p[2 * i + 1] << 8)));
        return TCF_OK;
    case TCF_GGML_BF16:
        for (int64_t i = 0; i < n; i++)
            dst[i] = tcf_bf16_to_f32((uint16_t)(p[2 * i] | (p[2 * i + 1] << 8)));
        return TCF_OK;
    case TCF_GGML_Q4_0: tcf_dequant_q4_0(p, dst, nb); return TCF_OK;
    case TCF_GGML_Q4_1: tcf_dequant_q4_1(p, dst, nb); return TCF_OK;
    case TCF_GGML_Q5_0: tcf_dequant_q5_0(p, dst, nb); return TCF_OK;
    case TCF_GGML_Q5_1: tcf_dequant_q5_1(p, dst, nb); return TCF_OK;
    case TCF_GGML_Q8_0: tcf_dequant_q8_0(p, dst, nb); return TCF_OK;
    case TCF_GGML_Q4_K: tcf_dequant_q4_k(p, dst, nb); return TCF_OK;
    case TCF_GGML_Q6_K: tcf_dequant_q6_k(p, dst, nb); return TCF_OK;
    default:
        return tcf_fail(TCF_ERR_UNSUPPORTED, "tensor '%s': cannot dequantize %s to F32", nm,
                        ggml_types[t->type].name);
    }
}

tcf_status tcf_gguf_dequantize(const tcf_gguf_tensor *t, float *dst, int64_t n) {
    if (!t) return tcf_fail(TCF_ERR_ARG, "tcf_gguf_dequantize: tensor is NULL");
    if (n != t->numel)
        return tcf_fail(TCF_ERR_ARG, "tensor '%s': destination holds %lld floats, tensor has %lld",
                        t->name ? t->name : "?", (long long)n, (long long)t->numel);
    int64_t rows = t->ne[0] ? t->numel / t->ne[0] : 0;
    return tcf_gguf_dequantize_rows(t, 0, rows, dst);
}
