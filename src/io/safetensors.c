/*
 * safetensors.c — read-only reader for Hugging Face .safetensors files.
 *
 * What it does: maps the file (or takes a caller's buffer), validates the
 * whole header before trusting any of it, and hands out tensor views that
 * point into the map. What it does not: write files, copy tensor data, or
 * convert anything but float dtypes (tcf_tensor_to_f32).
 *
 * Format (https://github.com/huggingface/safetensors, README "Format" and
 * safetensors/src/tensor.rs, which is the reference reader):
 *
 *   bytes [0, 8)        N: u64, little-endian, the header length in bytes.
 *                       The reference reader refuses N > 100 000 000.
 *   bytes [8, 8+N)      the header: N bytes of UTF-8 JSON, not NUL-terminated.
 *                       Writers pad it with spaces (0x20) to a multiple of 8.
 *   bytes [8+N, end)    the data buffer; every offset below is relative to
 *                       its first byte.
 *
 *   The header is one JSON object. Each member is a tensor,
 *       "NAME": {"dtype": "F32", "shape": [30522, 384], "data_offsets": [B, E]}
 *   except the optional "__metadata__": {"key": "value", ...} (strings only).
 *     dtype         one of BOOL U8 I8 I16 I32 I64 F16 BF16 F32 F64 here; the
 *                   format also has F8_E4M3, F8_E5M2, U16, U32, U64, F4, ...,
 *                   which tcf reports as unsupported.
 *     shape         non-negative integers, outermost first (row-major,
 *                   C-contiguous, no strides); [] is a scalar of 1 element.
 *     data_offsets  [B, E], half-open byte range of the buffer, B <= E;
 *                   E - B == numel * dtype size. Elements are little-endian.
 *   Unknown members inside a tensor entry are ignored.
 *   Rules enforced as the reference reader does: sorted by B, the ranges
 *   tile the buffer exactly (the first starts at 0, each starts where the
 *   previous ended, the last ends at the end of the file), so there are no
 *   overlaps and no holes. Zero-size tensors are allowed anywhere in that walk.
 *   Nothing is aligned: some writers do not pad, so views may be unaligned.
 *
 * Stricter than the reference:
 *   - a name that appears twice is an error (the reference keeps the last
 *     one, so a duplicate empty tensor vanishes unnoticed);
 *   - bytes after the JSON value inside the header must be whitespace;
 *   - control bytes other than tab/CR/LF are rejected anywhere in the header
 *     (JSON forbids them raw; a NUL would cut a name short);
 *   - "__metadata__" keys must be unique;
 *   - numbers in shape and data_offsets must be integers <= 2^53 (cJSON holds
 *     numbers as doubles).
 */
#include "base/base.h"
#include "kern/convert.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "safetensors.c reads little-endian tensor data in place; add byte swaps for this host"
#endif

#define HEADER_CAP 100000000ull /* bytes; the reference reader's MAX_HEADER_SIZE */
#define JSON_INT_MAX 9007199254740992.0 /* 2^53: above this doubles skip integers */

struct tcf_safetensors {
    void *map;              /* our mmap of the file, or NULL for from_memory */
    size_t map_len;
    int n;                  /* tensors, in header order */
    tcf_tensor_view *views; /* [n] */
    int *by_name;           /* [n] indices into views, sorted by name */
    char *strings;          /* one block: tensor names, metadata keys and values */
    int n_meta;
    const char **meta;      /* [2*n_meta] key, value, key, value, ... sorted by key */
};

/* ---- small helpers ------------------------------------------------------ */

static const struct { const char *name; tcf_dtype dt; } dtype_names[] = {
    {"F32", TCF_DTYPE_F32}, {"F16", TCF_DTYPE_F16}, {"BF16", TCF_DTYPE_BF16},
    {"F64", TCF_DTYPE_F64}, {"I8", TCF_DTYPE_I8},   {"U8", TCF_DTYPE_U8},
    {"I16", TCF_DTYPE_I16}, {"I32", TCF_DTYPE_I32}, {"I64", TCF_DTYPE_I64},
    {"BOOL", TCF_DTYPE_BOOL},
};

static bool dtype_parse(const char *s, tcf_dtype *out) {
    for (size_t i = 0; i < sizeof dtype_names / sizeof dtype_names[0]; i++)
        if (strcmp(s, dtype_names[i].name) == 0) {
            *out = dtype_names[i].dt;
            return true;
        }
    return false;
}

static uint64_t read_u64_le(const uint8_t *p) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = (v << 8) | p[i];
    return v;
}

/* "[30522, 384]" into buf (truncated with "..." if it does not fit). */
static const char *shape_str(char *buf, size_t cap, const int64_t *shape, int n_dims) {
    size_t k = 0;
    int w = snprintf(buf, cap, "[");
    for (int i = 0; i < n_dims && w >= 0; i++) {
        k += (size_t)w;
        if (k >= cap) break;
        w = snprintf(buf + k, cap - k, i ? ", %lld" : "%lld", (long long)shape[i]);
    }
    k = strlen(buf);
    if (k + 2 <= cap) {
        buf[k] = ']';
        buf[k + 1] = '\0';
    } else if (cap >= 4) {
        memcpy(buf + cap - 4, "...", 4);
    }
    return buf;
}

/* Length of the valid UTF-8 prefix of s[0, n), also stopping at a control
 * byte other than tab/LF/CR. Returns n when all of it is valid. */
static size_t header_text_check(const uint8_t *s, size_t n) {
    size_t i = 0;
    while (i < n) {
        uint8_t c = s[i];
        if (c < 0x80) {
            if (c < 0x20 && c != '\t' && c != '\n' && c != '\r') return i;
            i++;
            continue;
        }
        size_t len;
        uint32_t cp, min;
        if ((c & 0xe0) == 0xc0) len = 2, cp = c & 0x1f, min = 0x80;
        else if ((c & 0xf0) == 0xe0) len = 3, cp = c & 0x0f, min = 0x800;
        else if ((c & 0xf8) == 0xf0) len = 4, cp = c & 0x07, min = 0x10000;
        else return i;
        if (n - i < len) return i;
        for (size_t k = 1; k < len; k++) {
            if ((s[i + k] & 0xc0) != 0x80) return i;
            cp = (cp << 6) | (s[i + k] & 0x3f);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return i;
        i += len;
    }
    return n;
}

/* ---- header parsing ---------------------------------------------------- */

/* Per-tensor facts gathered while walking the JSON, before the views exist. */
typedef struct {
    const char *name; /* into the cJSON tree until copied */
    uint64_t begin, end;
    int idx;
} span;

typedef struct {
    const char *label;
    const uint8_t *data; /* start of the data buffer */
    uint64_t data_len;
} parse_ctx;

/* A JSON number that is a non-negative integer <= 2^53. */
static bool json_uint(const cJSON *v, uint64_t *out) {
    if (!cJSON_IsNumber(v)) return false;
    double d = v->valuedouble;
    if (!(d >= 0) || d > JSON_INT_MAX || d != floor(d)) return false;
    *out = (uint64_t)d;
    return true;
}

/* Describe a JSON value that failed a check, for messages. */
static void json_desc(const cJSON *v, char *buf, size_t cap) {
    if (cJSON_IsNumber(v)) snprintf(buf, cap, "%.17g", v->valuedouble);
    else if (cJSON_IsString(v)) snprintf(buf, cap, "a string");
    else if (cJSON_IsBool(v)) snprintf(buf, cap, "a boolean");
    else if (cJSON_IsNull(v)) snprintf(buf, cap, "null");
    else if (cJSON_IsArray(v)) snprintf(buf, cap, "an array");
    else if (cJSON_IsObject(v)) snprintf(buf, cap, "an object");
    else snprintf(buf, cap, "not a value");
}

static tcf_status parse_tensor(const parse_ctx *cx, const cJSON *e, tcf_tensor_view *v,
                               span *sp) {
    const char *L = cx->label, *nm = e->string;
    char d[64];
    if (!cJSON_IsObject(e)) {
        json_desc(e, d, sizeof d);
        return tcf_fail(TCF_ERR_FORMAT, "%s: tensor '%s': entry is %s, not an object", L, nm, d);
    }
    const cJSON *jd = cJSON_GetObjectItemCaseSensitive(e, "dtype");
    const cJSON *js = cJSON_GetObjectItemCaseSensitive(e, "shape");
    const cJSON *jo = cJSON_GetObjectItemCaseSensitive(e, "data_offsets");
    if (!jd || !js || !jo)
        return tcf_fail(TCF_ERR_FORMAT, "%s: tensor '%s': missing \"%s\"", L, nm,
                        !jd ? "dtype" : !js ? "shape" : "data_offsets");
    if (!cJSON_IsString(jd)) {
        json_desc(jd, d, sizeof d);
        return tcf_fail(TCF_ERR_FORMAT, "%s: tensor '%s': dtype is %s, not a string", L, nm, d);
    }

    /* shape */
    if (!cJSON_IsArray(js)) {
        json_desc(js, d, sizeof d);
        return tcf_fail(TCF_ERR_FORMAT, "%s: tensor '%s': shape is %s, not an array", L, nm, d);
    }
    int nd = 0;
    const cJSON *x;
    cJSON_ArrayForEach(x, js) {
        if (nd == TCF_MAX_DIMS)
            return tcf_fail(TCF_ERR_FORMAT, "%s: tensor '%s': shape has %d dims, more than %d",
                            L, nm, cJSON_GetArraySize(js), TCF_MAX_DIMS);
        uint64_t u;
        if (!json_uint(x, &u)) {
            json_desc(x, d, sizeof d);
            return tcf_fail(TCF_ERR_FORMAT,
                            "%s: tensor '%s': shape[%d] is %s, not a non-negative integer", L, nm,
                            nd, d);
        }
        v->shape[nd++] = (int64_t)u;
    }
    v->n_dims = nd;
    char sh[160];
    size_t numel = 1;
    for (int i = 0; i < nd; i++)
        if (!tcf_mul_ok(numel, (size_t)v->shape[i], &numel) || numel > (size_t)INT64_MAX)
            return tcf_fail(TCF_ERR_FORMAT, "%s: tensor '%s': shape %s has too many elements", L,
                            nm, shape_str(sh, sizeof sh, v->shape, nd));

    /* data_offsets */
    uint64_t b = 0, en = 0;
    if (!cJSON_IsArray(jo) || cJSON_GetArraySize(jo) != 2 || !json_uint(jo->child, &b) ||
        !json_uint(jo->child->next, &en))
        return tcf_fail(TCF_ERR_FORMAT,
                        "%s: tensor '%s': data_offsets is not a pair of non-negative integers "
                        "[begin, end]",
                        L, nm);
    if (b > en)
        return tcf_fail(TCF_ERR_FORMAT, "%s: tensor '%s': data_offsets [%llu, %llu] end before they begin",
                        L, nm, (unsigned long long)b, (unsigned long long)en);
    if (en > cx->data_len)
        return tcf_fail(TCF_ERR_FORMAT,
                        "%s: tensor '%s': data_offsets [%llu, %llu] run past the end of the "
                        "%llu-byte data buffer",
                        L, nm, (unsigned long long)b, (unsigned long long)en,
                        (unsigned long long)cx->data_len);

    /* dtype, then size agreement */
    if (!dtype_parse(jd->valuestring, &v->dtype))
        return tcf_fail(TCF_ERR_UNSUPPORTED, "%s: tensor '%s': dtype '%s' is not supported", L,
                        nm, jd->valuestring);
    size_t need;
    if (!tcf_mul_ok(numel, tcf_dtype_size(v->dtype), &need))
        return tcf_fail(TCF_ERR_FORMAT, "%s: tensor '%s': %s %s is too large", L, nm,
                        tcf_dtype_name(v->dtype), shape_str(sh, sizeof sh, v->shape, nd));
    if ((uint64_t)need != en - b)
        return tcf_fail(TCF_ERR_FORMAT,
                        "%s: tensor '%s': data_offsets [%llu, %llu] hold %llu bytes but %s %s "
                        "needs %zu",
                        L, nm, (unsigned long long)b, (unsigned long long)en,
                        (unsigned long long)(en - b), tcf_dtype_name(v->dtype),
                        shape_str(sh, sizeof sh, v->shape, nd), need);
    v->numel = (int64_t)numel;
    v->nbytes = need;
    v->data = cx->data + b;
    sp->name = nm;
    sp->begin = b;
    sp->end = en;
    return TCF_OK;
}

static int span_cmp_offsets(const void *a, const void *b) {
    const span *x = a, *y = b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    if (x->end != y->end) return x->end < y->end ? -1 : 1;
    return (x->idx > y->idx) - (x->idx < y->idx);
}

static int span_cmp_names(const void *a, const void *b) {
    const span *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    return c ? c : (x->idx > y->idx) - (x->idx < y->idx);
}

static int meta_cmp(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Builds st from the parsed tree. On failure leaves st partly filled; the
 * caller frees it. */
static tcf_status build(tcf_safetensors *st, const parse_ctx *cx, const cJSON *root) {
    const char *L = cx->label;
    const cJSON *meta = NULL, *e;
    int n = 0;
    size_t str_bytes = 0;
    cJSON_ArrayForEach(e, root) {
        if (strcmp(e->string, "__metadata__") == 0) {
            if (meta) return tcf_fail(TCF_ERR_FORMAT, "%s: \"__metadata__\" appears twice", L);
            meta = e;
            continue;
        }
        if (n == INT32_MAX) return tcf_fail(TCF_ERR_FORMAT, "%s: too many tensors", L);
        n++;
        str_bytes += strlen(e->string) + 1;
    }
    if (meta) {
        if (!cJSON_IsObject(meta)) {
            char d[64];
            json_desc(meta, d, sizeof d);
            return tcf_fail(TCF_ERR_FORMAT, "%s: \"__metadata__\" is %s, not an object of strings",
                            L, d);
        }
        const cJSON *m;
        cJSON_ArrayForEach(m, meta) {
            if (!cJSON_IsString(m)) {
                char d[64];
                json_desc(m, d, sizeof d);
                return tcf_fail(TCF_ERR_FORMAT, "%s: \"__metadata__\" key '%s' is %s, not a string",
                                L, m->string, d);
            }
            st->n_meta++;
            str_bytes += strlen(m->string) + strlen(m->valuestring) + 2;
        }
    }

    /* Sizes are bounded by the header length (<= 100 MB), so no overflow. */
    span *sp = calloc(n ? (size_t)n : 1, sizeof *sp);
    st->views = calloc(n ? (size_t)n : 1, sizeof *st->views);
    st->by_name = calloc(n ? (size_t)n : 1, sizeof *st->by_name);
    st->strings = malloc(str_bytes ? str_bytes : 1);
    st->meta = calloc(st->n_meta ? 2 * (size_t)st->n_meta : 1, sizeof *st->meta);
    if (!sp || !st->views || !st->by_name || !st->strings || !st->meta) {
        free(sp);
        return tcf_fail(TCF_ERR_NOMEM, "%s: cannot allocate the tensor table (%d tensors)", L, n);
    }

    tcf_status rc = TCF_OK;
    int i = 0;
    cJSON_ArrayForEach(e, root) {
        if (e == meta) continue;
        sp[i].idx = i;
        rc = parse_tensor(cx, e, &st->views[i], &sp[i]);
        if (rc != TCF_OK) goto out;
        i++;
    }

    /* Duplicate names: sort by name, neighbours must differ. */
    qsort(sp, (size_t)n, sizeof *sp, span_cmp_names);
    for (i = 1; i < n; i++)
        if (strcmp(sp[i - 1].name, sp[i].name) == 0) {
            rc = tcf_fail(TCF_ERR_FORMAT, "%s: tensor '%s' appears twice in the header", L,
                          sp[i].name);
            goto out;
        }

    /* Copy names (header order) and metadata into one block. */
    char *w = st->strings;
    for (i = 0; i < n; i++) {
        size_t k = strlen(sp[i].name) + 1;
        memcpy(w, sp[i].name, k);
        st->views[sp[i].idx].name = w;
        st->by_name[i] = sp[i].idx;
        w += k;
    }
    if (meta) {
        const cJSON *m;
        int k = 0;
        cJSON_ArrayForEach(m, meta) {
            size_t a = strlen(m->string) + 1, c = strlen(m->valuestring) + 1;
            memcpy(w, m->string, a);
            memcpy(w + a, m->valuestring, c);
            st->meta[2 * k] = w;
            st->meta[2 * k + 1] = w + a;
            w += a + c;
            k++;
        }
        /* sort (key, value) pairs by key */
        qsort(st->meta, (size_t)st->n_meta, 2 * sizeof *st->meta, meta_cmp);
        for (k = 1; k < st->n_meta; k++)
            if (strcmp(st->meta[2 * k - 2], st->meta[2 * k]) == 0) {
                rc = tcf_fail(TCF_ERR_FORMAT, "%s: \"__metadata__\" key '%s' appears twice", L,
                              st->meta[2 * k]);
                goto out;
            }
    }

    /* The ranges must tile [0, data_len): sort by offsets, walk them. */
    qsort(sp, (size_t)n, sizeof *sp, span_cmp_offsets);
    uint64_t pos = 0;
    for (i = 0; i < n; i++) {
        if (sp[i].begin < pos) {
            rc = tcf_fail(TCF_ERR_FORMAT,
                          "%s: tensor '%s': data_offsets [%llu, %llu] overlap tensor '%s' [%llu, "
                          "%llu]",
                          L, sp[i].name, (unsigned long long)sp[i].begin,
                          (unsigned long long)sp[i].end, sp[i - 1].name,
                          (unsigned long long)sp[i - 1].begin, (unsigned long long)sp[i - 1].end);
            goto out;
        }
        if (sp[i].begin > pos) {
            rc = tcf_fail(TCF_ERR_FORMAT,
                          "%s: tensor '%s': data_offsets [%llu, %llu] leave a hole: buffer bytes "
                          "[%llu, %llu) belong to no tensor",
                          L, sp[i].name, (unsigned long long)sp[i].begin,
                          (unsigned long long)sp[i].end, (unsigned long long)pos,
                          (unsigned long long)sp[i].begin);
            goto out;
        }
        pos = sp[i].end;
    }
    if (pos != cx->data_len) {
        if (n)
            rc = tcf_fail(TCF_ERR_FORMAT,
                          "%s: data buffer bytes [%llu, %llu) after the last tensor '%s' belong to "
                          "no tensor",
                          L, (unsigned long long)pos, (unsigned long long)cx->data_len,
                          sp[n - 1].name);
        else
            rc = tcf_fail(TCF_ERR_FORMAT,
                          "%s: header lists no tensors but the data buffer holds %llu bytes", L,
                          (unsigned long long)cx->data_len);
        goto out;
    }
    st->n = n;
out:
    free(sp);
    return rc;
}

static tcf_status parse_image(tcf_safetensors *st, const uint8_t *buf, size_t len,
                              const char *L) {
    if (len < 8)
        return tcf_fail(TCF_ERR_FORMAT,
                        "%s: file is %zu bytes, too short to hold the 8-byte header length", L, len);
    uint64_t hn = read_u64_le(buf);
    if (hn > HEADER_CAP)
        return tcf_fail(TCF_ERR_FORMAT, "%s: header length %llu is over the %llu-byte cap", L,
                        (unsigned long long)hn, HEADER_CAP);
    if (hn > len - 8)
        return tcf_fail(TCF_ERR_FORMAT,
                        "%s: header length %llu runs past the end of the file (%zu bytes after "
                        "the length field)",
                        L, (unsigned long long)hn, len - 8);
    const uint8_t *hdr = buf + 8;
    size_t ok = header_text_check(hdr, (size_t)hn);
    if (ok != hn)
        return tcf_fail(TCF_ERR_FORMAT,
                        "%s: header byte %zu (0x%02x) is not valid UTF-8 JSON text", L, ok,
                        hdr[ok]);

    /* Parse a NUL-terminated copy, so cJSON can never read past the header
     * even if it overruns its length (the header may end at the map's end). */
    char *text = malloc((size_t)hn + 1);
    if (!text)
        return tcf_fail(TCF_ERR_NOMEM, "%s: cannot allocate %llu bytes for the header", L,
                        (unsigned long long)hn + 1);
    memcpy(text, hdr, (size_t)hn);
    text[hn] = '\0';
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(text, (size_t)hn, &end, 0);
    tcf_status rc = TCF_OK;
    if (!root) {
        size_t at = end && end >= text && end <= text + hn ? (size_t)(end - text) : 0;
        rc = tcf_fail(TCF_ERR_FORMAT, "%s: header is not valid JSON (error near byte %zu of %llu)",
                      L, at, (unsigned long long)hn);
        goto out;
    }
    for (const char *p = end; p < text + hn; p++)
        if (*p != ' ' && *p != '\t' && *p != '\n' && *p != '\r') {
            rc = tcf_fail(TCF_ERR_FORMAT, "%s: header has bytes after its JSON value (byte %zu)",
                          L, (size_t)(p - text));
            goto out;
        }
    if (!cJSON_IsObject(root)) {
        rc = tcf_fail(TCF_ERR_FORMAT, "%s: header is not a JSON object", L);
        goto out;
    }
    parse_ctx cx = {L, hdr + hn, (uint64_t)(len - 8 - hn)};
    rc = build(st, &cx, root);
out:
    cJSON_Delete(root);
    free(text);
    return rc;
}

/* ---- public API --------------------------------------------------------- */

void tcf_safetensors_free(tcf_safetensors *st) {
    if (!st) return;
    if (st->map) munmap(st->map, st->map_len);
    free(st->views);
    free(st->by_name);
    free(st->strings);
    free(st->meta);
    free(st);
}

tcf_status tcf_safetensors_from_memory(const void *buf, size_t len, const char *label,
                                       tcf_safetensors **out) {
    if (!out) return tcf_fail(TCF_ERR_ARG, "tcf_safetensors_from_memory: out is NULL");
    *out = NULL;
    if (!label) label = "<memory>";
    if (!buf && len) return tcf_fail(TCF_ERR_ARG, "%s: buffer is NULL", label);
    tcf_safetensors *st = calloc(1, sizeof *st);
    if (!st) return tcf_fail(TCF_ERR_NOMEM, "%s: cannot allocate the reader", label);
    tcf_status rc = parse_image(st, buf ? buf : "", len, label);
    if (rc != TCF_OK) {
        tcf_safetensors_free(st);
        return rc;
    }
    *out = st;
    return TCF_OK;
}

tcf_status tcf_safetensors_open(const char *path, tcf_safetensors **out) {
    if (!out) return tcf_fail(TCF_ERR_ARG, "tcf_safetensors_open: out is NULL");
    *out = NULL;
    if (!path) return tcf_fail(TCF_ERR_ARG, "tcf_safetensors_open: path is NULL");
    void *map;
    size_t len;
    tcf_status ms = tcf_map_file(path, 8, "to hold the 8-byte header length", &map, &len);
    if (ms != TCF_OK) return ms;
    tcf_safetensors *st = NULL;
    tcf_status rc = tcf_safetensors_from_memory(map, len, path, &st);
    if (rc != TCF_OK) {
        munmap(map, len);
        return rc;
    }
    st->map = map;
    st->map_len = len;
    *out = st;
    return TCF_OK;
}

int tcf_safetensors_count(const tcf_safetensors *st) { return st ? st->n : 0; }

const tcf_tensor_view *tcf_safetensors_at(const tcf_safetensors *st, int i) {
    return st && i >= 0 && i < st->n ? &st->views[i] : NULL;
}

const tcf_tensor_view *tcf_safetensors_find(const tcf_safetensors *st, const char *name) {
    if (!st || !name) return NULL;
    int lo = 0, hi = st->n;
    while (lo < hi) {
        int mid = lo + (hi - lo) / 2;
        const tcf_tensor_view *v = &st->views[st->by_name[mid]];
        int c = strcmp(name, v->name);
        if (c == 0) return v;
        if (c < 0) hi = mid;
        else lo = mid + 1;
    }
    return NULL;
}

const char *tcf_safetensors_metadata(const tcf_safetensors *st, const char *key) {
    if (!st || !key) return NULL;
    int lo = 0, hi = st->n_meta;
    while (lo < hi) {
        int mid = lo + (hi - lo) / 2;
        int c = strcmp(key, st->meta[2 * mid]);
        if (c == 0) return st->meta[2 * mid + 1];
        if (c < 0) hi = mid;
        else lo = mid + 1;
    }
    return NULL;
}

tcf_status tcf_tensor_to_f32(const tcf_tensor_view *t, float *dst, int64_t n) {
    if (!t) return tcf_fail(TCF_ERR_ARG, "tcf_tensor_to_f32: tensor is NULL");
    const char *nm = t->name ? t->name : "?";
    if (n != t->numel)
        return tcf_fail(TCF_ERR_ARG, "tensor '%s': destination holds %lld floats, tensor has %lld",
                        nm, (long long)n, (long long)t->numel);
    if (!dst && n) return tcf_fail(TCF_ERR_ARG, "tensor '%s': destination is NULL", nm);
    const uint8_t *p = t->data;
    switch (t->dtype) {
    case TCF_DTYPE_F32:
        if (n) memcpy(dst, p, (size_t)n * sizeof(float));
        return TCF_OK;
    case TCF_DTYPE_F16:
        for (int64_t i = 0; i < n; i++)
            dst[i] = tcf_f16_to_f32((uint16_t)(p[2 * i] | (p[2 * i + 1] << 8)));
        return TCF_OK;
    case TCF_DTYPE_BF16:
        for (int64_t i = 0; i < n; i++)
            dst[i] = tcf_bf16_to_f32((uint16_t)(p[2 * i] | (p[2 * i + 1] << 8)));
        return TCF_OK;
    case TCF_DTYPE_F64:
        for (int64_t i = 0; i < n; i++) {
            double d;
            memcpy(&d, p + 8 * i, sizeof d);
            dst[i] = (float)d;
        }
        return TCF_OK;
    default:
        return tcf_fail(TCF_ERR_UNSUPPORTED, "tensor '%s': cannot convert %s to F32", nm,
                        tcf_dtype_name(t->dtype));
    }
}
