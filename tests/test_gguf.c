/*
 * test_gguf.c — the GGUF reader and the ggml block decoders.
 *
 * 1. tests/fixtures/gguf/types.gguf (written by gguf-py, tests/ref/
 *    gen_gguf_fixtures.py): every metadata value type, the tensor table, and
 *    each tensor type decoded and compared with gguf-py's dequantize, stored
 *    in types_expected.gguf. The comparison is exact (atol = rtol = 0): both
 *    sides widen f16 exactly and do the same f32 products in the same order
 *    with one rounding each, so any difference is a bug, not rounding.
 * 2. Bad images built here byte by byte (and every truncation of types.gguf):
 *    each must fail with the right status and a message naming the file, the
 *    key or tensor, and the cause.
 * 3. The real SmolLM2-135M-Instruct Q4_1 file, when present (fetched by
 *    scripts/fetch_models.sh --all, which scripts/setup.sh does not run):
 *    metadata and rows 0-1 of a few tensors against smollm2_rows.gguf,
 *    written by the same script from gguf-py's reading of that file. Absent,
 *    that part is skipped with a note.
 */
#include "base/base.h"
#include "check.h"

#include <stdint.h>
#include <string.h>

#define FIX "tests/fixtures/gguf/"
#define SMOL "models/SmolLM2-135M-Instruct/SmolLM2-135M-Instruct.Q4_1.gguf"

/* ---- a tiny writer ------------------------------------------------------ */

typedef struct {
    uint8_t *p;
    size_t n, cap;
} buf;

static void put(buf *b, const void *x, size_t n) {
    if (b->n + n > b->cap) {
        b->cap = (b->n + n) * 2 + 64;
        b->p = realloc(b->p, b->cap);
    }
    if (n) memcpy(b->p + b->n, x, n);
    b->n += n;
}
static void put8(buf *b, uint8_t v) { put(b, &v, 1); }
static void put32(buf *b, uint32_t v) { put(b, &v, 4); }
static void put64(buf *b, uint64_t v) { put(b, &v, 8); }
static void putstr(buf *b, const char *s) {
    put64(b, strlen(s));
    put(b, s, strlen(s));
}
static void zeros(buf *b, size_t n) {
    for (size_t i = 0; i < n; i++) put8(b, 0);
}
static void pad_to(buf *b, size_t a) { zeros(b, (a - b->n % a) % a); }

static buf header(uint32_t version, uint64_t n_tensors, uint64_t n_kv) {
    buf b = {0};
    put(&b, "GGUF", 4);
    put32(&b, version);
    put64(&b, n_tensors);
    put64(&b, n_kv);
    return b;
}

/* A tensor info with n_dims dims from ne. */
static void tinfo(buf *b, const char *name, uint32_t nd, const uint64_t *ne, uint32_t type,
                  uint64_t offset) {
    putstr(b, name);
    put32(b, nd);
    for (uint32_t i = 0; i < nd; i++) put64(b, ne[i]);
    put32(b, type);
    put64(b, offset);
}

/* Parse b (freed here) copied into an exactly-sized block, so ASan sees any
 * read past its end; expect status `want` and every string of subs in the
 * message. */
static void expect_fail_(int line, const char *what, buf b, tcf_status want,
                         const char *const *subs) {
    uint8_t *img = malloc(b.n ? b.n : 1);
    if (b.n) memcpy(img, b.p, b.n);
    free(b.p);
    tcf_gguf *g = (tcf_gguf *)1;
    tcf_clear_error();
    tcf_status rc = tcf_gguf_from_memory(img, b.n, "t.gguf", &g);
    const char *msg = tcf_last_error();
    CHECK(rc == want, "line %d %s: status %s, want %s (%s)", line, what, tcf_status_name(rc),
          tcf_status_name(want), msg);
    CHECK(g == NULL, "line %d %s: *out is NULL after failure", line, what);
    CHECK(strncmp(msg, "t.gguf: ", 8) == 0, "line %d %s: message names the file: '%s'", line,
          what, msg);
    for (int i = 0; subs[i]; i++)
        CHECK(strstr(msg, subs[i]) != NULL, "line %d %s: '%s' not in '%s'", line, what, subs[i],
              msg);
    if (rc == TCF_OK) tcf_gguf_free(g);
    free(img);
}
#define EXPECT_FAIL(what, b, want, ...)                                                  \
    do {                                                                                 \
        const char *subs_[] = {__VA_ARGS__, NULL};                                       \
        expect_fail_(__LINE__, what, b, want, subs_);                                    \
    } while (0)

/* Parse b (freed by the caller) and expect success. */
static tcf_gguf *expect_ok(int line, const char *what, const buf *b) {
    tcf_gguf *g = NULL;
    tcf_status rc = tcf_gguf_from_memory(b->p, b->n, "t.gguf", &g);
    CHECK(rc == TCF_OK, "line %d %s: %s", line, what, tcf_last_error());
    return g;
}

/* ---- 1. the gguf-py fixture --------------------------------------------- */

static int64_t geti(const tcf_gguf *g, const char *k) {
    int64_t v = 0;
    tcf_status rc = tcf_gguf_get_i64(g, k, &v);
    CHECK(rc == TCF_OK, "%s: %s", k, tcf_last_error());
    return v;
}

static void test_metadata(const tcf_gguf *g) {
    CHECK(tcf_gguf_version(g) == 3, "version %u", tcf_gguf_version(g));
    CHECK(tcf_gguf_alignment(g) == 64, "alignment %u", tcf_gguf_alignment(g));
    CHECK(tcf_gguf_kv_count(g) == 24, "kv count %lld", (long long)tcf_gguf_kv_count(g));
    CHECK(strcmp(tcf_gguf_kv_key(g, 0), "general.architecture") == 0, "first key %s",
          tcf_gguf_kv_key(g, 0));
    CHECK(tcf_gguf_kv_key(g, 24) == NULL && tcf_gguf_kv_key(g, -1) == NULL, "key out of range");

    const char *s = NULL;
    size_t len = 99;
    CHECK(tcf_gguf_get_str(g, "general.architecture", &s) == TCF_OK && strcmp(s, "tcftest") == 0,
          "architecture");
    CHECK(tcf_gguf_value_str(tcf_gguf_find(g, "t.string"), &s, &len) == TCF_OK &&
              len == 6 && strcmp(s, "h\xc3\xa9llo") == 0,
          "t.string '%s' len %zu", s, len);

    /* every integer type through _i64, with its type */
    static const struct { const char *k; tcf_gguf_type t; int64_t v; } ints[] = {
        {"t.u8", TCF_GGUF_U8, 200},
        {"t.i8", TCF_GGUF_I8, -100},
        {"t.u16", TCF_GGUF_U16, 60000},
        {"t.i16", TCF_GGUF_I16, -30000},
        {"t.u32", TCF_GGUF_U32, 4000000000},
        {"t.i32", TCF_GGUF_I32, -2000000000},
        {"t.i64", TCF_GGUF_I64, -(INT64_C(1) << 62) - 7},
        {"general.alignment", TCF_GGUF_U32, 64},
    };
    for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++) {
        const tcf_gguf_value *v = tcf_gguf_find(g, ints[i].k);
        CHECK(tcf_gguf_value_type(v) == ints[i].t, "%s type %s", ints[i].k,
              tcf_gguf_type_name(tcf_gguf_value_type(v)));
        CHECK(geti(g, ints[i].k) == ints[i].v, "%s = %lld", ints[i].k,
              (long long)geti(g, ints[i].k));
    }
    /* u64 above INT64_MAX: _u64 reads it, _i64 refuses it */
    uint64_t u = 0;
    const tcf_gguf_value *vu64 = tcf_gguf_find(g, "t.u64");
    CHECK(tcf_gguf_value_type(vu64) == TCF_GGUF_U64, "u64 type");
    CHECK(tcf_gguf_value_u64(vu64, &u) == TCF_OK && u == (UINT64_C(1) << 63) + 5, "u64 %llu",
          (unsigned long long)u);
    int64_t iv;
    CHECK(tcf_gguf_value_i64(vu64, &iv) == TCF_ERR_FORMAT &&
              strstr(tcf_last_error(), "key 't.u64'") &&
              strstr(tcf_last_error(), "does not fit in an i64"),
          "%s", tcf_last_error());
    CHECK(tcf_gguf_value_u64(tcf_gguf_find(g, "t.i8"), &u) == TCF_ERR_FORMAT &&
              strstr(tcf_last_error(), "-100 is negative"),
          "%s", tcf_last_error());

    double d = 0;
    CHECK(tcf_gguf_get_f64(g, "t.f32", &d) == TCF_OK && d == 1.5, "f32 %g", d);
    CHECK(tcf_gguf_value_type(tcf_gguf_find(g, "t.f32")) == TCF_GGUF_F32, "f32 type");
    CHECK(tcf_gguf_get_f64(g, "t.f64", &d) == TCF_OK && d == 3.141592653589793, "f64 %.17g", d);
    CHECK(tcf_gguf_value_type(tcf_gguf_find(g, "t.f64")) == TCF_GGUF_F64, "f64 type");
    int bv = -1;
    CHECK(tcf_gguf_get_bool(g, "t.bool", &bv) == TCF_OK && bv == 1, "bool %d", bv);
    CHECK(tcf_gguf_get_bool(g, "t.bool_false", &bv) == TCF_OK && bv == 0, "bool_false %d", bv);

    /* wrong types and missing keys name the key and the types */
    CHECK(tcf_gguf_get_str(g, "t.u32", &s) == TCF_ERR_FORMAT &&
              strstr(tcf_last_error(), "types.gguf: key 't.u32' is u32, not a string"),
          "%s", tcf_last_error());
    CHECK(tcf_gguf_get_i64(g, "t.f32", &iv) == TCF_ERR_FORMAT &&
              strstr(tcf_last_error(), "key 't.f32' is f32, not an integer"),
          "%s", tcf_last_error());
    CHECK(tcf_gguf_get_bool(g, "t.u8", &bv) == TCF_ERR_FORMAT, "bool from u8");
    CHECK(tcf_gguf_get_f64(g, "t.string", &d) == TCF_ERR_FORMAT, "f64 from string");
    CHECK(tcf_gguf_get_i64(g, "no.such.key", &iv) == TCF_ERR_FORMAT &&
              strstr(tcf_last_error(), "types.gguf: key 'no.such.key' is missing"),
          "%s", tcf_last_error());
    CHECK(tcf_gguf_find(g, "no.such.key") == NULL, "find absent");
    CHECK(tcf_gguf_get_array(g, "t.u8", NULL, NULL, NULL) == TCF_ERR_FORMAT &&
              strstr(tcf_last_error(), "is u8, not an array"),
          "%s", tcf_last_error());

    /* arrays */
    tcf_gguf_type et;
    uint64_t n;
    const tcf_gguf_value *a;
    CHECK(tcf_gguf_get_array(g, "t.arr_u32", &et, &n, &a) == TCF_OK && et == TCF_GGUF_U32 &&
              n == 3,
          "arr_u32");
    CHECK(tcf_gguf_value_i64(tcf_gguf_array_at(a, 2), &iv) == TCF_OK && iv == 4000000000, "[2]");
    CHECK(tcf_gguf_value_i64(tcf_gguf_array_at(a, 0), &iv) == TCF_OK && iv == 1, "[0]");
    CHECK(tcf_gguf_array_at(a, 3) == NULL, "past the end");
    CHECK(tcf_gguf_array_i64(a, 2, &iv) == TCF_OK && iv == 4000000000, "array_i64");
    CHECK(tcf_gguf_array_i64(a, 3, &iv) == TCF_ERR_ARG &&
              strstr(tcf_last_error(), "key 't.arr_u32': element 3 of an array of 3"),
          "%s", tcf_last_error());
    CHECK(tcf_gguf_array_f64(a, 0, &d) == TCF_ERR_FORMAT &&
              strstr(tcf_last_error(), "key 't.arr_u32' is u32, not a float"),
          "%s", tcf_last_error());
    CHECK(tcf_gguf_array_str(tcf_gguf_find(g, "t.u8"), 0, &s, NULL) == TCF_ERR_ARG &&
              strstr(tcf_last_error(), "key 't.u8' is u8, not an array"),
          "%s", tcf_last_error());
    {   /* ring views: 16 held at once stay valid */
        const tcf_gguf_value *held[16];
        for (int k = 0; k < 16; k++) held[k] = tcf_gguf_array_at(a, (uint64_t)(k % 3));
        for (int k = 0; k < 16; k++)
            CHECK(tcf_gguf_value_i64(held[k], &iv) == TCF_OK &&
                      iv == (k % 3 == 2 ? 4000000000 : k % 3 + 1),
                  "held view %d", k);
    }
    CHECK(tcf_gguf_array_at(tcf_gguf_find(g, "t.u8"), 0) == NULL, "element of a scalar");
    CHECK(tcf_gguf_array_len(tcf_gguf_find(g, "t.u8")) == 0, "len of a scalar");

    CHECK(tcf_gguf_get_array(g, "t.arr_str", &et, &n, &a) == TCF_OK && et == TCF_GGUF_STRING &&
              n == 3,
          "arr_str");
    static const char *want_s[] = {"a", "bc", ""};
    for (int i = 0; i < 3; i++)
        CHECK(tcf_gguf_value_str(tcf_gguf_array_at(a, (uint64_t)i), &s, &len) == TCF_OK &&
                  strcmp(s, want_s[i]) == 0 && len == strlen(want_s[i]),
              "arr_str[%d]", i);

    CHECK(tcf_gguf_get_array(g, "t.arr_f32", &et, &n, &a) == TCF_OK && et == TCF_GGUF_F32 && n == 2,
          "arr_f32");
    CHECK(tcf_gguf_array_f64(a, 1, &d) == TCF_OK && d == -2.0, "arr_f32[1]");
    CHECK(tcf_gguf_get_array(g, "t.arr_f64", &et, &n, &a) == TCF_OK && et == TCF_GGUF_F64, "f64[]");
    CHECK(tcf_gguf_value_f64(tcf_gguf_array_at(a, 0), &d) == TCF_OK && d == 1e300, "f64[0]");
    CHECK(tcf_gguf_get_array(g, "t.arr_i64", &et, &n, &a) == TCF_OK && et == TCF_GGUF_I64, "i64[]");
    CHECK(tcf_gguf_value_i64(tcf_gguf_array_at(a, 0), &iv) == TCF_OK && iv == -1, "i64[0]");
    CHECK(tcf_gguf_value_i64(tcf_gguf_array_at(a, 1), &iv) == TCF_OK && iv == INT64_C(1) << 40,
          "i64[1]");
    CHECK(tcf_gguf_get_array(g, "t.arr_u8", &et, &n, &a) == TCF_OK && et == TCF_GGUF_U8, "u8[]");
    CHECK(tcf_gguf_value_i64(tcf_gguf_array_at(a, 1), &iv) == TCF_OK && iv == 255, "u8[1]");
    CHECK(tcf_gguf_get_array(g, "t.arr_bool", &et, &n, &a) == TCF_OK && et == TCF_GGUF_BOOL &&
              n == 3,
          "bool[]");
    for (int i = 0; i < 3; i++)
        CHECK(tcf_gguf_value_bool(tcf_gguf_array_at(a, (uint64_t)i), &bv) == TCF_OK &&
                  bv == (i != 1),
              "bool[%d]", i);

    /* nested: [[1, 2], [3]] of i32 and [["x"], ["yz", "w"]] */
    CHECK(tcf_gguf_get_array(g, "t.arr_nested", &et, &n, &a) == TCF_OK && et == TCF_GGUF_ARRAY &&
              n == 2,
          "nested");
    const tcf_gguf_value *a0 = tcf_gguf_array_at(a, 0), *a1 = tcf_gguf_array_at(a, 1);
    CHECK(tcf_gguf_array_type(a0) == TCF_GGUF_I32 && tcf_gguf_array_len(a0) == 2 &&
              tcf_gguf_array_len(a1) == 1,
          "nested shapes");
    CHECK(tcf_gguf_value_i64(tcf_gguf_array_at(a0, 1), &iv) == TCF_OK && iv == 2, "nested[0][1]");
    CHECK(tcf_gguf_value_i64(tcf_gguf_array_at(a1, 0), &iv) == TCF_OK && iv == 3, "nested[1][0]");
    CHECK(tcf_gguf_get_array(g, "t.arr_nested_str", &et, &n, &a) == TCF_OK && n == 2, "nested s");
    a1 = tcf_gguf_array_at(a, 1);
    CHECK(tcf_gguf_array_type(a1) == TCF_GGUF_STRING && tcf_gguf_array_len(a1) == 2, "ns[1]");
    CHECK(tcf_gguf_array_str(a1, 0, &s, NULL) == TCF_OK && strcmp(s, "yz") == 0,
          "nested_str[1][0]");
}

static const struct {
    const char *name;
    tcf_ggml_type type;
    int n_dims;
    int64_t ne[4];
    size_t nbytes;
} want_tensors[] = {
    {"f32_3d", TCF_GGML_F32, 3, {4, 3, 2, 1}, 96},
    {"f16_4d", TCF_GGML_F16, 4, {8, 3, 2, 1}, 96},
    {"bf16", TCF_GGML_BF16, 2, {16, 3, 1, 1}, 96},
    {"q4_0", TCF_GGML_Q4_0, 2, {64, 3, 1, 1}, 108},
    {"q4_1", TCF_GGML_Q4_1, 2, {64, 3, 1, 1}, 120},
    {"q5_0", TCF_GGML_Q5_0, 2, {64, 2, 1, 1}, 88},
    {"q5_1", TCF_GGML_Q5_1, 2, {64, 2, 1, 1}, 96},
    {"q8_0", TCF_GGML_Q8_0, 2, {64, 3, 1, 1}, 204},
    {"q4_k", TCF_GGML_Q4_K, 2, {512, 2, 1, 1}, 576},
    {"q6_k", TCF_GGML_Q6_K, 2, {512, 2, 1, 1}, 840},
    {"q2_k", TCF_GGML_Q2_K, 2, {512, 2, 1, 1}, 336},
};
#define N_WANT ((int)(sizeof want_tensors / sizeof want_tensors[0]))

static void test_tensors(const tcf_gguf *g) {
    CHECK(tcf_gguf_tensor_count(g) == N_WANT, "tensor count %lld",
          (long long)tcf_gguf_tensor_count(g));
    tcf_gguf *e = NULL;
    tcf_status rc = tcf_gguf_open(FIX "types_expected.gguf", &e);
    CHECK(rc == TCF_OK, "%s", tcf_last_error());
    if (rc) return;
    for (int i = 0; i < N_WANT && i < tcf_gguf_tensor_count(g); i++) {
        const tcf_gguf_tensor *t = tcf_gguf_tensor_at(g, i);
        CHECK(strcmp(t->name, want_tensors[i].name) == 0, "tensor %d is %s", i, t->name);
        CHECK(tcf_gguf_tensor_find(g, want_tensors[i].name) == t, "find %s",
              want_tensors[i].name);
        CHECK(t->type == want_tensors[i].type, "%s type %s", t->name, tcf_ggml_type_name(t->type));
        CHECK(t->n_dims == want_tensors[i].n_dims, "%s n_dims %d", t->name, t->n_dims);
        CHECK(memcmp(t->ne, want_tensors[i].ne, sizeof t->ne) == 0, "%s ne %lld %lld %lld %lld",
              t->name, (long long)t->ne[0], (long long)t->ne[1], (long long)t->ne[2],
              (long long)t->ne[3]);
        CHECK(t->nbytes == want_tensors[i].nbytes, "%s nbytes %zu", t->name, t->nbytes);
        CHECK(t->offset % 64 == 0, "%s offset %llu", t->name, (unsigned long long)t->offset);
        CHECK((tcf_gguf_data_offset(g) + t->offset) % 64 == 0, "%s aligned in the file", t->name);
        float *y = malloc((size_t)t->numel * sizeof *y);
        rc = tcf_gguf_dequantize(t, y, t->numel);
        if (t->type == TCF_GGML_Q2_K) {
            CHECK(rc == TCF_ERR_UNSUPPORTED &&
                      strstr(tcf_last_error(), "tensor 'q2_k': cannot dequantize Q2_K"),
                  "%s", tcf_last_error());
            free(y);
            continue;
        }
        CHECK(rc == TCF_OK, "%s: %s", t->name, tcf_last_error());
        const tcf_gguf_tensor *x = tcf_gguf_tensor_find(e, t->name);
        CHECK(x && x->type == TCF_GGML_F32 && x->numel == t->numel, "expected %s", t->name);
        if (x && x->numel == t->numel) {
            char what[64];
            snprintf(what, sizeof what, "%s vs gguf-py (exact)", t->name);
            check_close(what, y, x->data, (long)t->numel, 0, 0);
            /* the last row alone decodes to the same values */
            int64_t rows = t->numel / t->ne[0];
            rc = tcf_gguf_dequantize_rows(t, rows - 1, 1, y);
            CHECK(rc == TCF_OK, "%s", tcf_last_error());
            CHECK(memcmp(y, (const float *)x->data + (rows - 1) * t->ne[0],
                         (size_t)t->ne[0] * sizeof *y) == 0,
                  "%s last row", t->name);
        }
        free(y);
    }
    /* F32 also against the literal the script wrote: arange(24) * 0.5 - 3 */
    const tcf_gguf_tensor *t = tcf_gguf_tensor_find(g, "f32_3d");
    float y[24], w[24];
    for (int i = 0; i < 24; i++) w[i] = (float)i * 0.5f - 3;
    CHECK(tcf_gguf_dequantize(t, y, 24) == TCF_OK, "f32");
    check_close("f32_3d vs arange", y, w, 24, 0, 0);
    CHECK(tcf_gguf_dequantize(t, y, 23) == TCF_ERR_ARG &&
              strstr(tcf_last_error(), "tensor 'f32_3d': destination holds 23"),
          "%s", tcf_last_error());
    CHECK(tcf_gguf_dequantize_rows(t, 5, 2, y) == TCF_ERR_ARG &&
              strstr(tcf_last_error(), "rows [5, 7) out of range (6 rows)"),
          "%s", tcf_last_error());
    CHECK(tcf_gguf_tensor_find(g, "nope") == NULL && tcf_gguf_tensor_at(g, N_WANT) == NULL,
          "absent tensor");
    CHECK(strcmp(tcf_ggml_type_name(TCF_GGML_Q6_K), "Q6_K") == 0 && !tcf_ggml_type_name(4) &&
              tcf_ggml_block_size(TCF_GGML_Q4_K) == 256 && tcf_ggml_type_size(TCF_GGML_Q4_K) == 144,
          "type table");
    tcf_gguf_free(e);
}

/* Every prefix of the fixture fails cleanly until the last tensor is whole. */
static void test_truncations(void) {
    char *data = NULL;
    size_t len = 0;
    if (tcf_read_file(FIX "types.gguf", &data, &len) != TCF_OK) {
        CHECK(0, "%s", tcf_last_error());
        return;
    }
    /* the file needs to reach the end of its last tensor, q2_k */
    tcf_gguf *g = NULL;
    CHECK(tcf_gguf_from_memory(data, len, "t.gguf", &g) == TCF_OK, "%s", tcf_last_error());
    const tcf_gguf_tensor *last = tcf_gguf_tensor_find(g, "q2_k");
    size_t need = last ? (size_t)(tcf_gguf_data_offset(g) + last->offset) + last->nbytes : len;
    tcf_gguf_free(g);
    int bad = 0, n = 0;
    for (size_t cut = 0; cut <= len; cut++) {
        uint8_t *img = malloc(cut ? cut : 1);
        memcpy(img, data, cut);
        g = (tcf_gguf *)1;
        tcf_status rc = tcf_gguf_from_memory(img, cut, "t.gguf", &g);
        int ok = cut >= need ? rc == TCF_OK
                             : rc == TCF_ERR_FORMAT && g == NULL &&
                                   strncmp(tcf_last_error(), "t.gguf: ", 8) == 0;
        if (!ok && bad++ < 5)
            fprintf(stderr, "cut %zu: %s: %s\n", cut, tcf_status_name(rc), tcf_last_error());
        if (rc == TCF_OK) tcf_gguf_free(g);
        free(img);
        n++;
    }
    CHECK(bad == 0, "%d of %d truncations misbehaved", bad, n);
    printf("  %d truncations of types.gguf (%zu bytes): all fail below %zu bytes, parse from it\n",
           n, len, need);
    free(data);
}

/* ---- 2. bad images ----------------------------------------------------- */

static void test_bad(void) {
    buf b;
    uint64_t ne16[] = {16}, ne48[] = {48};

    EXPECT_FAIL("empty", (buf){0}, TCF_ERR_FORMAT, "too short for the GGUF magic");
    b = header(3, 0, 0);
    b.p[3] = 'X';
    EXPECT_FAIL("magic", b, TCF_ERR_FORMAT, "bad magic 47 47 55 58", "not a GGUF file");
    EXPECT_FAIL("version 1", header(1, 0, 0), TCF_ERR_UNSUPPORTED, "GGUF version 1 is not supported");
    EXPECT_FAIL("version 4", header(4, 0, 0), TCF_ERR_UNSUPPORTED, "GGUF version 4");
    EXPECT_FAIL("big-endian", header(0x03000000, 0, 0), TCF_ERR_UNSUPPORTED, "big-endian");
    b = header(3, 0, 0);
    b.n = 12;
    EXPECT_FAIL("no counts", b, TCF_ERR_FORMAT, "header: tensor count", "runs past the end");

    EXPECT_FAIL("absurd kv count", header(3, 0, UINT64_C(1) << 60), TCF_ERR_FORMAT,
                "metadata count 1152921504606846976 cannot fit");
    b = header(3, UINT64_C(1) << 40, 1);
    putstr(&b, "k");
    put32(&b, TCF_GGUF_U8);
    put8(&b, 1);
    zeros(&b, 100);
    EXPECT_FAIL("absurd tensor count", b, TCF_ERR_FORMAT, "tensor count 1099511627776 cannot fit");

    b = header(3, 0, 1);
    put64(&b, 1000);
    zeros(&b, 20);
    EXPECT_FAIL("key past EOF", b, TCF_ERR_FORMAT, "metadata entry 0: key of 1000 bytes",
                "runs past the end");
    b = header(3, 0, 1);
    putstr(&b, "a.s");
    put32(&b, TCF_GGUF_STRING);
    put64(&b, UINT64_C(1) << 63);
    put(&b, "xyz", 3);
    EXPECT_FAIL("string past EOF", b, TCF_ERR_FORMAT, "key 'a.s': string of 9223372036854775808",
                "runs past the end");
    b = header(3, 0, 1);
    putstr(&b, "a.t");
    put32(&b, 13);
    put8(&b, 0);
    EXPECT_FAIL("value type", b, TCF_ERR_FORMAT, "key 'a.t': unknown value type 13");
    b = header(3, 0, 1);
    putstr(&b, "a.u");
    put32(&b, TCF_GGUF_U32);
    put(&b, "\1\2", 2);
    EXPECT_FAIL("u32 past EOF", b, TCF_ERR_FORMAT, "key 'a.u': u32 (4 bytes", "runs past the end");
    b = header(3, 0, 1);
    putstr(&b, "a.b");
    put32(&b, TCF_GGUF_BOOL);
    put8(&b, 2);
    EXPECT_FAIL("bool 2", b, TCF_ERR_FORMAT, "key 'a.b': bool at byte 39 is 2, not 0 or 1");
    b = header(3, 0, 1);
    put64(&b, 3);
    put(&b, "a\0b", 3);
    put32(&b, TCF_GGUF_U8);
    put8(&b, 0);
    EXPECT_FAIL("NUL in key", b, TCF_ERR_FORMAT, "metadata entry 0: key at byte 32 holds a NUL");

    b = header(3, 0, 1);
    putstr(&b, "a.arr");
    put32(&b, TCF_GGUF_ARRAY);
    put32(&b, TCF_GGUF_U32);
    put64(&b, UINT64_C(1) << 62);
    zeros(&b, 64);
    EXPECT_FAIL("absurd array count", b, TCF_ERR_FORMAT,
                "key 'a.arr': array of 4611686018427387904 u32 elements",
                "cannot fit in the 64 bytes left");
    b = header(3, 0, 1);
    putstr(&b, "a.arr");
    put32(&b, TCF_GGUF_ARRAY);
    put32(&b, TCF_GGUF_STRING);
    put64(&b, 3);
    putstr(&b, "ok");
    put64(&b, 100);
    zeros(&b, 16);
    EXPECT_FAIL("array string past EOF", b, TCF_ERR_FORMAT, "key 'a.arr': string of 100 bytes",
                "runs past the end");
    b = header(3, 0, 1);
    putstr(&b, "a.arr");
    put32(&b, TCF_GGUF_ARRAY);
    put32(&b, 99);
    put64(&b, 0);
    EXPECT_FAIL("array element type", b, TCF_ERR_FORMAT, "key 'a.arr': unknown array element type 99");
    b = header(3, 0, 1);
    putstr(&b, "a.deep");
    put32(&b, TCF_GGUF_ARRAY);
    for (int i = 0; i < 9; i++) {
        put32(&b, TCF_GGUF_ARRAY);
        put64(&b, 1);
    }
    put32(&b, TCF_GGUF_U8);
    put64(&b, 0);
    EXPECT_FAIL("nesting", b, TCF_ERR_FORMAT, "key 'a.deep': arrays nested deeper than 8");
    b = header(3, 0, 2);
    putstr(&b, "k.x");
    put32(&b, TCF_GGUF_U8);
    put8(&b, 1);
    putstr(&b, "k.x");
    put32(&b, TCF_GGUF_I8);
    put8(&b, 2);
    EXPECT_FAIL("duplicate key", b, TCF_ERR_FORMAT, "key 'k.x' appears twice (entries 0 and 1)");
    b = header(3, 0, 1);
    putstr(&b, "general.alignment");
    put32(&b, TCF_GGUF_U32);
    put32(&b, 48);
    EXPECT_FAIL("alignment 48", b, TCF_ERR_FORMAT,
                "key 'general.alignment' is u32 48, not a u32 power of two");
    b = header(3, 0, 1);
    putstr(&b, "general.alignment");
    put32(&b, TCF_GGUF_U64);
    put64(&b, 32);
    EXPECT_FAIL("alignment u64", b, TCF_ERR_FORMAT, "key 'general.alignment' is u64, not a u32");

    /* tensor infos */
    b = header(3, 1, 0);
    tinfo(&b, "w", 5, (uint64_t[]){1, 1, 1, 1, 1}, TCF_GGML_F32, 0);
    pad_to(&b, 32);
    zeros(&b, 32);
    EXPECT_FAIL("n_dims 5", b, TCF_ERR_FORMAT, "tensor 'w': n_dims is 5, more than 4");
    b = header(3, 1, 0);
    tinfo(&b, "w", 1, ne16, 99, 0);
    pad_to(&b, 32);
    zeros(&b, 64);
    EXPECT_FAIL("tensor type 99", b, TCF_ERR_FORMAT, "tensor 'w': unknown ggml type 99");
    b = header(3, 1, 0);
    tinfo(&b, "w", 1, ne16, 4, 0); /* Q4_2: retired */
    pad_to(&b, 32);
    zeros(&b, 64);
    EXPECT_FAIL("retired tensor type", b, TCF_ERR_FORMAT, "tensor 'w': unknown ggml type 4");
    b = header(3, 1, 0);
    tinfo(&b, "w", 3, (uint64_t[]){UINT64_C(1) << 32, UINT64_C(1) << 32, 4}, TCF_GGML_F32, 0);
    pad_to(&b, 32);
    EXPECT_FAIL("numel overflow", b, TCF_ERR_FORMAT, "tensor 'w': shape has too many elements");
    b = header(3, 1, 0);
    tinfo(&b, "w", 1, (uint64_t[]){UINT64_C(1) << 63}, TCF_GGML_F32, 0);
    EXPECT_FAIL("dim above INT64_MAX", b, TCF_ERR_FORMAT, "ne[0] = 9223372036854775808");
    b = header(3, 1, 0);
    tinfo(&b, "w", 2, (uint64_t[]){UINT64_C(1) << 61, 1}, TCF_GGML_F32, 0);
    pad_to(&b, 32);
    EXPECT_FAIL("bytes overflow", b, TCF_ERR_FORMAT, "tensor 'w':");
    b = header(3, 1, 0);
    tinfo(&b, "w", 2, (uint64_t[]){48, 2}, TCF_GGML_Q4_0, 0);
    pad_to(&b, 32);
    zeros(&b, 64);
    EXPECT_FAIL("row not whole blocks", b, TCF_ERR_FORMAT,
                "tensor 'w': row length ne[0] = 48 is not a multiple of Q4_0's block size 32");
    b = header(3, 1, 0);
    tinfo(&b, "w", 1, ne48, TCF_GGML_F32, 0);
    pad_to(&b, 32);
    zeros(&b, 191);
    EXPECT_FAIL("past EOF", b, TCF_ERR_FORMAT,
                "tensor 'w': F32 48x1x1x1 needs 192 bytes at offset 0 but the data section holds 191");
    b = header(3, 1, 0);
    tinfo(&b, "w", 1, ne16, TCF_GGML_F32, UINT64_MAX - 31);
    pad_to(&b, 32);
    zeros(&b, 64);
    EXPECT_FAIL("offset far past EOF", b, TCF_ERR_FORMAT, "tensor 'w': F32", "needs 64 bytes");
    b = header(3, 1, 0);
    tinfo(&b, "w", 1, ne16, TCF_GGML_F32, 4);
    pad_to(&b, 32);
    zeros(&b, 96);
    EXPECT_FAIL("misaligned", b, TCF_ERR_FORMAT,
                "tensor 'w': offset 4 is not a multiple of the alignment 32");
    b = header(3, 2, 0);
    tinfo(&b, "a", 1, ne16, TCF_GGML_F32, 0);
    tinfo(&b, "b", 1, ne16, TCF_GGML_F32, 32);
    pad_to(&b, 32);
    zeros(&b, 128);
    EXPECT_FAIL("overlap", b, TCF_ERR_FORMAT, "tensor 'b' [32, 96) overlaps tensor 'a' [0, 64)");
    b = header(3, 3, 0);
    tinfo(&b, "big", 1, ne48, TCF_GGML_F32, 0);
    tinfo(&b, "empty", 1, (uint64_t[]){0}, TCF_GGML_F32, 64);
    tinfo(&b, "c", 1, ne16, TCF_GGML_F32, 128);
    pad_to(&b, 32);
    zeros(&b, 256);
    EXPECT_FAIL("overlap past an empty one", b, TCF_ERR_FORMAT,
                "tensor 'c' [128, 192) overlaps tensor 'big' [0, 192)");
    b = header(3, 2, 0);
    tinfo(&b, "w", 1, ne16, TCF_GGML_F32, 0);
    tinfo(&b, "w", 1, ne16, TCF_GGML_F32, 64);
    pad_to(&b, 32);
    zeros(&b, 128);
    EXPECT_FAIL("duplicate name", b, TCF_ERR_FORMAT, "tensor 'w' appears twice (infos 0 and 1)");
    b = header(3, 1, 0);
    tinfo(&b, "w", 1, ne16, TCF_GGML_F32, 0);
    EXPECT_FAIL("no data section", b, TCF_ERR_FORMAT, "the data section would start at byte 64");
    b = header(3, 1, 0);
    tinfo(&b, "w", 1, ne16, TCF_GGML_F32, 0);
    b.n -= 3;
    EXPECT_FAIL("info cut", b, TCF_ERR_FORMAT, "tensor 'w': offset (8 bytes", "runs past the end");

    /* good odd ones: v2, no tensors and no padding, an empty array, a
     * zero-size tensor, a hole between tensors, an unsupported type */
    b = header(2, 0, 2);
    putstr(&b, "e");
    put32(&b, TCF_GGUF_ARRAY);
    put32(&b, TCF_GGUF_STRING);
    put64(&b, 0);
    putstr(&b, "s");
    put32(&b, TCF_GGUF_STRING);
    put64(&b, 0);
    tcf_gguf *g = expect_ok(__LINE__, "v2, empty array, empty string", &b);
    const char *es = NULL;
    size_t el = 9;
    CHECK(g && tcf_gguf_version(g) == 2 && tcf_gguf_array_len(tcf_gguf_find(g, "e")) == 0 &&
              tcf_gguf_array_type(tcf_gguf_find(g, "e")) == TCF_GGUF_STRING &&
              tcf_gguf_value_str(tcf_gguf_find(g, "s"), &es, &el) == TCF_OK && el == 0 &&
              es[0] == '\0',
          "v2 image");
    tcf_gguf_free(g);
    free(b.p);
    b = header(3, 3, 1);
    putstr(&b, "general.alignment");
    put32(&b, TCF_GGUF_U32);
    put32(&b, 16);
    tinfo(&b, "z", 2, (uint64_t[]){16, 0}, TCF_GGML_F32, 16);
    tinfo(&b, "w", 1, ne16, TCF_GGML_F32, 16);
    tinfo(&b, "iq", 1, (uint64_t[]){256}, TCF_GGML_IQ2_XXS, 128);
    pad_to(&b, 16);
    size_t d0 = b.n;
    zeros(&b, 128 + 66);
    float one = 1.0f;
    memcpy(b.p + d0 + 16 + 4 * 15, &one, 4);
    g = expect_ok(__LINE__, "zero-size, hole, IQ2_XXS", &b);
    if (g) {
        const tcf_gguf_tensor *z = tcf_gguf_tensor_find(g, "z"), *w = tcf_gguf_tensor_find(g, "w");
        float y[16];
        CHECK(z && z->numel == 0 && z->nbytes == 0 && tcf_gguf_dequantize(z, y, 0) == TCF_OK, "z");
        CHECK(w && tcf_gguf_dequantize(w, y, 16) == TCF_OK && y[15] == 1.0f && y[0] == 0, "w");
        CHECK(tcf_gguf_alignment(g) == 16 && tcf_gguf_data_offset(g) == d0, "alignment 16");
        float *yy = malloc(256 * sizeof *yy);
        CHECK(tcf_gguf_dequantize(tcf_gguf_tensor_find(g, "iq"), yy, 256) == TCF_ERR_UNSUPPORTED &&
                  strstr(tcf_last_error(), "tensor 'iq': cannot dequantize IQ2_XXS"),
              "%s", tcf_last_error());
        free(yy);
    }
    tcf_gguf_free(g);
    free(b.p);

    tcf_gguf *h = (tcf_gguf *)1;
    CHECK(tcf_gguf_open("tests/fixtures/gguf/nope.gguf", &h) == TCF_ERR_IO && h == NULL &&
              strstr(tcf_last_error(), "nope.gguf: cannot open"),
          "%s", tcf_last_error());
    tcf_gguf_free(NULL);
}

/* ---- 3. the real SmolLM2 file ------------------------------------------- */

static void test_smollm2(void) {
    if (!tcf_file_exists(SMOL)) {
        printf("  note: %s absent (scripts/fetch_models.sh --all): SmolLM2 checks skipped\n", SMOL);
        return;
    }
    tcf_gguf *g = NULL, *e = NULL;
    CHECK(tcf_gguf_open(SMOL, &g) == TCF_OK, "%s", tcf_last_error());
    CHECK(tcf_gguf_open(FIX "smollm2_rows.gguf", &e) == TCF_OK, "%s", tcf_last_error());
    if (!g || !e) goto out;
    const char *s, *w;
    CHECK(tcf_gguf_get_str(g, "general.architecture", &s) == TCF_OK && strcmp(s, "llama") == 0,
          "architecture");
    CHECK(tcf_gguf_get_str(g, "tokenizer.ggml.model", &s) == TCF_OK &&
              tcf_gguf_get_str(e, "x.tokenizer.ggml.model", &w) == TCF_OK && strcmp(s, w) == 0,
          "tokenizer model");
    static const char *ints[] = {"llama.block_count", "llama.embedding_length",
                                 "llama.context_length", "llama.attention.head_count",
                                 "llama.attention.head_count_kv", "tokenizer.ggml.bos_token_id",
                                 "tokenizer.ggml.eos_token_id"};
    for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++) {
        char k[96];
        snprintf(k, sizeof k, "x.%s", ints[i]);
        CHECK(geti(g, ints[i]) == geti(e, k), "%s", ints[i]);
    }
    CHECK(geti(g, "llama.block_count") == 30 && geti(g, "llama.embedding_length") == 576,
          "block_count / embedding_length");
    double a, b;
    CHECK(tcf_gguf_get_f64(g, "llama.attention.layer_norm_rms_epsilon", &a) == TCF_OK &&
              tcf_gguf_get_f64(e, "x.llama.attention.layer_norm_rms_epsilon", &b) == TCF_OK &&
              a == b,
          "rms eps");
    tcf_gguf_type et;
    uint64_t nt, nm;
    const tcf_gguf_value *toks, *merges, *ids, *want;
    CHECK(tcf_gguf_get_array(g, "tokenizer.ggml.tokens", &et, &nt, &toks) == TCF_OK &&
              et == TCF_GGUF_STRING && (int64_t)nt == geti(e, "x.tokens_count") && nt == 49152,
          "tokens count %llu", (unsigned long long)nt);
    CHECK(tcf_gguf_get_array(g, "tokenizer.ggml.merges", &et, &nm, &merges) == TCF_OK &&
              (int64_t)nm == geti(e, "x.merges_count"),
          "merges count");
    CHECK(tcf_gguf_tensor_count(g) == geti(e, "x.tensor_count"), "tensor count");
    CHECK(tcf_gguf_get_array(e, "x.token_ids", NULL, &nt, &ids) == TCF_OK &&
              tcf_gguf_get_array(e, "x.tokens", NULL, NULL, &want) == TCF_OK,
          "token samples");
    for (uint64_t i = 0; i < nt; i++) {
        int64_t id = -1;
        tcf_gguf_value_i64(tcf_gguf_array_at(ids, i), &id);
        tcf_gguf_value_str(tcf_gguf_array_at(want, i), &w, NULL);
        CHECK(tcf_gguf_value_str(tcf_gguf_array_at(toks, (uint64_t)id), &s, NULL) == TCF_OK &&
                  strcmp(s, w) == 0,
              "token %lld '%s' want '%s'", (long long)id, s, w);
    }
    CHECK(tcf_gguf_get_array(e, "x.merges", NULL, NULL, &want) == TCF_OK, "merge samples");
    tcf_gguf_value_str(tcf_gguf_array_at(want, 1), &w, NULL);
    CHECK(tcf_gguf_value_str(tcf_gguf_array_at(merges, nm - 1), &s, NULL) == TCF_OK &&
              strcmp(s, w) == 0,
          "last merge '%s'", s);

    for (int64_t i = 0; i < tcf_gguf_tensor_count(e); i++) {
        const tcf_gguf_tensor *x = tcf_gguf_tensor_at(e, i);
        const tcf_gguf_tensor *t = tcf_gguf_tensor_find(g, x->name);
        char k[160];
        snprintf(k, sizeof k, "x.type.%s", x->name);
        CHECK(t && tcf_gguf_get_str(e, k, &w) == TCF_OK && strcmp(tcf_ggml_type_name(t->type), w) == 0,
              "%s type", x->name);
        if (!t) continue;
        snprintf(k, sizeof k, "x.ne.%s", x->name);
        const tcf_gguf_value *ne;
        uint64_t nd = 0;
        CHECK(tcf_gguf_get_array(e, k, NULL, &nd, &ne) == TCF_OK && (int)nd == t->n_dims, "%s dims",
              x->name);
        for (uint64_t d = 0; d < nd && d < 4; d++) {
            int64_t v = -1;
            tcf_gguf_value_i64(tcf_gguf_array_at(ne, d), &v);
            CHECK(v == t->ne[d], "%s ne[%llu] %lld vs %lld", x->name, (unsigned long long)d,
                  (long long)t->ne[d], (long long)v);
        }
        int64_t rows = x->numel / t->ne[0];
        float *y = malloc((size_t)x->numel * sizeof *y);
        CHECK(tcf_gguf_dequantize_rows(t, 0, rows, y) == TCF_OK, "%s", tcf_last_error());
        snprintf(k, sizeof k, "SmolLM2 %s %s rows 0-%lld", x->name, w, (long long)rows - 1);
        check_close(k, y, x->data, (long)x->numel, 0, 0);
        free(y);
    }
out:
    tcf_gguf_free(g);
    tcf_gguf_free(e);
}

int main(void) {
    tcf_gguf *g = NULL;
    tcf_status rc = tcf_gguf_open(FIX "types.gguf", &g);
    CHECK(rc == TCF_OK, "%s", tcf_last_error());
    if (g) {
        test_metadata(g);
        test_tensors(g);
    }
    tcf_gguf_free(g);
    test_truncations();
    test_bad();
    test_smollm2();
    return check_summary("test_gguf");
}
