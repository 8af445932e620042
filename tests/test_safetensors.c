/*
 * test_safetensors.c — the safetensors reader and the f16/bf16 conversions.
 *
 * Builds small safetensors images in memory with a tiny writer, checks that a
 * good one round-trips values and that every kind of bad one fails with the
 * right status and a message naming the tensor and the cause; then opens the
 * real all-MiniLM-L6-v2 checkpoint (fetched by scripts/fetch_models.sh; its
 * absence is a failure, not a skip) and compares values read by Python.
 */
#include "base/base.h"
#include "check.h"
#include "kern/convert.h"

#include <stdint.h>
#include <string.h>
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- a tiny writer ------------------------------------------------------ */

typedef struct {
    uint8_t *p; /* exactly n bytes, so ASan sees any read past the end */
    size_t n;
} image;

/* u64 header length (the header padded with spaces to a multiple of 8, as
 * the reference writer does), the header, then `dlen` data bytes. */
static image image_make(const char *header, const void *data, size_t dlen) {
    size_t hl = strlen(header), pad = (8 - hl % 8) % 8;
    image im = {NULL, 8 + hl + pad + dlen};
    im.p = malloc(im.n);
    uint64_t n = hl + pad;
    for (int i = 0; i < 8; i++) im.p[i] = (uint8_t)(n >> (8 * i));
    memcpy(im.p + 8, header, hl);
    memset(im.p + 8 + hl, ' ', pad);
    if (dlen) memcpy(im.p + 8 + hl + pad, data, dlen);
    return im;
}

/* An image whose length field says `n` whatever follows. */
static image image_raw_len(uint64_t n, const char *rest, size_t rest_len) {
    image im = {malloc(8 + rest_len), 8 + rest_len};
    for (int i = 0; i < 8; i++) im.p[i] = (uint8_t)(n >> (8 * i));
    memcpy(im.p + 8, rest, rest_len);
    return im;
}

static int write_file(const char *path, const void *p, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f) return 0;
    int ok = fwrite(p, 1, n, f) == n;
    return fclose(f) == 0 && ok;
}

/* Parse `im` (freed here) and expect status `want` and an error message
 * holding every non-NULL string in `subs`. */
static void expect_fail_(int line, const char *what, image im, tcf_status want,
                         const char *const *subs) {
    tcf_safetensors *st = (tcf_safetensors *)1;
    tcf_clear_error();
    tcf_status rc = tcf_safetensors_from_memory(im.p, im.n, "t.safetensors", &st);
    CHECK(rc == want, "line %d %s: status %s, want %s (%s)", line, what, tcf_status_name(rc),
          tcf_status_name(want), tcf_last_error());
    CHECK(st == NULL, "line %d %s: *out is NULL after failure", line, what);
    const char *msg = tcf_last_error();
    CHECK(strncmp(msg, "t.safetensors: ", 15) == 0, "line %d %s: message names the file: '%s'",
          line, what, msg);
    for (int i = 0; subs[i]; i++)
        CHECK(strstr(msg, subs[i]) != NULL, "line %d %s: '%s' not in '%s'", line, what, subs[i],
              msg);
    if (rc == TCF_OK) tcf_safetensors_free(st);
    free(im.p);
}
#define EXPECT_FAIL(what, im, want, ...)                                                 \
    do {                                                                                 \
        const char *subs_[] = {__VA_ARGS__, NULL};                                       \
        expect_fail_(__LINE__, what, im, want, subs_);                                   \
    } while (0)

/* ---- f16 / bf16 --------------------------------------------------------- */

static float f32_of(uint32_t u) {
    float f;
    memcpy(&f, &u, 4);
    return f;
}
static uint32_t bits_of(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

static void test_convert(void) {
    /* Widening: fixed points of the binary16 table. */
    static const struct { uint16_t h; float f; } tab[] = {
        {0x0000, 0.0f},          {0x3c00, 1.0f},          {0xc000, -2.0f},
        {0x7bff, 65504.0f},      {0x0400, 0x1p-14f},      {0x0001, 0x1p-24f},
        {0x03ff, 1023 * 0x1p-24f}, {0x3555, 0.333251953125f}, {0x8001, -0x1p-24f},
    };
    for (size_t i = 0; i < sizeof tab / sizeof tab[0]; i++) {
        CHECK(tcf_f16_to_f32(tab[i].h) == tab[i].f, "f16 %04x -> %g", tab[i].h,
              (double)tcf_f16_to_f32(tab[i].h));
        CHECK(tcf_f32_to_f16(tab[i].f) == tab[i].h, "f32 %g -> %04x", (double)tab[i].f,
              tcf_f32_to_f16(tab[i].f));
    }
    CHECK(bits_of(tcf_f16_to_f32(0x8000)) == 0x80000000u, "-0 keeps its sign");
    CHECK(isinf(tcf_f16_to_f32(0x7c00)) && tcf_f16_to_f32(0x7c00) > 0, "+inf");
    CHECK(isinf(tcf_f16_to_f32(0xfc00)) && tcf_f16_to_f32(0xfc00) < 0, "-inf");
    CHECK(isnan(tcf_f16_to_f32(0x7e00)) && isnan(tcf_f16_to_f32(0x7c01)), "NaN");

    /* Every f16 survives f16 -> f32 -> f16 (NaN stays NaN). */
    int bad = 0;
    for (uint32_t h = 0; h < 65536; h++) {
        float f = tcf_f16_to_f32((uint16_t)h);
        uint16_t back = tcf_f32_to_f16(f);
        if (isnan(f) ? !isnan(tcf_f16_to_f32(back)) : back != h) bad++;
    }
    CHECK(bad == 0, "%d f16 values do not round-trip", bad);

    /* Narrowing: ties go to even, overflow to inf, underflow to 0. */
    static const struct { float f; uint16_t h; } rne[] = {
        {1.0f + 0x1p-11f, 0x3c00},     /* tie between 1 and 1+2^-10: even is 1 */
        {1.0f + 3 * 0x1p-11f, 0x3c02}, /* tie between 0x3c01 and 0x3c02: even */
        {1.0f + 0x1p-11f + 0x1p-20f, 0x3c01}, /* just over the tie */
        {65519.99f, 0x7bff},           {65520.0f, 0x7c00}, /* 65520: tie, even is inf */
        {1e10f, 0x7c00},               {-1e10f, 0xfc00},
        {0x1p-25f, 0x0000},            /* tie between 0 and 2^-24: even is 0 */
        {0x1.000002p-25f, 0x0001},     {3 * 0x1p-25f, 0x0002}, /* tie 1.5 -> 2 */
        {1023.5f * 0x1p-24f, 0x0400},  /* subnormal rounds up into the first normal */
        {1e-30f, 0x0000},              {-1e-30f, 0x8000},
    };
    for (size_t i = 0; i < sizeof rne / sizeof rne[0]; i++)
        CHECK(tcf_f32_to_f16(rne[i].f) == rne[i].h, "f32 %a -> %04x, want %04x", (double)rne[i].f,
              tcf_f32_to_f16(rne[i].f), rne[i].h);
    CHECK(tcf_f32_to_f16(5 * 0x1p-25f) == 0x0002, "subnormal tie 2.5 -> 2");

    /* Every midpoint between neighbouring finite f16 values (lo + half the gap:
     * exact in f32, no overflow) goes to the even one, and one f32 ulp either
     * side goes to the nearer. */
    bad = 0;
    for (uint32_t h = 0; h < 0x7bff; h++) {
        for (int neg = 0; neg < 2; neg++) {
            uint16_t sg = neg ? 0x8000 : 0, lo = (uint16_t)(h | sg), hi = (uint16_t)((h + 1) | sg);
            float mid = tcf_f16_to_f32(lo) + (tcf_f16_to_f32(hi) - tcf_f16_to_f32(lo)) / 2;
            float toward0 = nextafterf(mid, 0.0f), away = nextafterf(mid, neg ? -INFINITY : INFINITY);
            if (tcf_f32_to_f16(mid) != ((h & 1) ? hi : lo) || tcf_f32_to_f16(toward0) != lo ||
                tcf_f32_to_f16(away) != hi)
                bad++;
        }
    }
    CHECK(bad == 0, "%d f16 midpoints round wrongly", bad);
    CHECK(isnan(tcf_f16_to_f32(tcf_f32_to_f16(f32_of(0x7f800001u)))), "NaN low payload stays NaN");
    CHECK(tcf_f32_to_f16(f32_of(0x7f800000u)) == 0x7c00, "inf -> inf");

#ifdef __FLT16_MAX__
    /* The compiler's own conversion (round to nearest even) over a stride
     * through every f32 bit pattern. */
    bad = 0;
    for (uint64_t u = 0; u <= 0xffffffffu; u += 997) {
        float f = f32_of((uint32_t)u);
        _Float16 r = (_Float16)f;
        uint16_t want;
        memcpy(&want, &r, 2);
        uint16_t got = tcf_f32_to_f16(f);
        if (isnan(f) ? !isnan(tcf_f16_to_f32(got)) : got != want) {
            if (bad++ < 5) fprintf(stderr, "f32 %08x -> %04x, _Float16 %04x\n", (unsigned)u, got, want);
        }
    }
    CHECK(bad == 0, "%d f32 -> f16 mismatches against _Float16", bad);
#endif

    /* bf16 */
    CHECK(tcf_bf16_to_f32(0x3f80) == 1.0f && tcf_bf16_to_f32(0xc040) == -3.0f, "bf16 widening");
    CHECK(tcf_f32_to_bf16(1.0f) == 0x3f80, "1.0");
    CHECK(tcf_f32_to_bf16(1.0f + 0x1p-8f) == 0x3f80, "tie to even (down)");
    CHECK(tcf_f32_to_bf16(1.0f + 3 * 0x1p-8f) == 0x3f82, "tie to even (up)");
    CHECK(tcf_f32_to_bf16(1.0f + 0x1p-8f + 0x1p-20f) == 0x3f81, "over the tie");
    CHECK(tcf_f32_to_bf16(f32_of(0x7f7fffffu)) == 0x7f80, "FLT_MAX rounds to inf");
    CHECK(tcf_f32_to_bf16(f32_of(0xff800000u)) == 0xff80, "-inf");
    uint16_t nb = tcf_f32_to_bf16(f32_of(0x7f800001u));
    CHECK(isnan(tcf_bf16_to_f32(nb)), "NaN with a low payload stays NaN (got %04x)", nb);
    bad = 0;
    for (uint32_t h = 0; h < 65536; h++) {
        float f = tcf_bf16_to_f32((uint16_t)h);
        if (isnan(f) ? !isnan(tcf_bf16_to_f32(tcf_f32_to_bf16(f))) : tcf_f32_to_bf16(f) != h) bad++;
    }
    CHECK(bad == 0, "%d bf16 values do not round-trip", bad);
    bad = 0;
    for (uint32_t h = 0; h < 0x7f7f; h++) {
        for (int neg = 0; neg < 2; neg++) {
            uint16_t sg = neg ? 0x8000 : 0, lo = (uint16_t)(h | sg), hi = (uint16_t)((h + 1) | sg);
            float mid = tcf_bf16_to_f32(lo) + (tcf_bf16_to_f32(hi) - tcf_bf16_to_f32(lo)) / 2;
            float toward0 = nextafterf(mid, 0.0f), away = nextafterf(mid, neg ? -INFINITY : INFINITY);
            if (tcf_f32_to_bf16(mid) != ((h & 1) ? hi : lo) || tcf_f32_to_bf16(toward0) != lo ||
                tcf_f32_to_bf16(away) != hi)
                bad++;
        }
    }
    CHECK(bad == 0, "%d bf16 midpoints round wrongly", bad);
}

/* ---- a good image ------------------------------------------------------- */

/* Data buffer layout (offsets): u8 "pre" [3] at 0 (so what follows is
 * unaligned), F32 "a" [2,3] at 3, F16 "b" [3] at 27, BF16 "c" [2] at 33,
 * F64 "d" [1] at 37, I32 scalar "s" at 45, empty F32 "e" [0,4] at 49; 49 bytes.
 * The header lists them out of offset order. */
static const char good_header[] =
    "{\"b\":{\"dtype\":\"F16\",\"shape\":[3],\"data_offsets\":[27,33]},"
    "\"__metadata__\":{\"format\":\"pt\",\"note\":\"h\\u00e9\"},"
    "\"a\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[3,27],\"extra\":[1,{}]},"
    "\"pre\":{\"dtype\":\"U8\",\"shape\":[3],\"data_offsets\":[0,3]},"
    "\"e\":{\"dtype\":\"F32\",\"shape\":[0,4],\"data_offsets\":[49,49]},"
    "\"c\":{\"dtype\":\"BF16\",\"shape\":[2],\"data_offsets\":[33,37]},"
    "\"d\":{\"dtype\":\"F64\",\"shape\":[1],\"data_offsets\":[37,45]},"
    "\"s\":{\"dtype\":\"I32\",\"shape\":[],\"data_offsets\":[45,49]}}";

static const float a_vals[6] = {1.5f, -2.25f, 3.0e-3f, 1e20f, -0.0f, 7.0f};
static const float b_vals[3] = {1.0f, -0.5f, 0x1p-24f}; /* f16 3c00 b800 0001 */
static const float c_vals[2] = {1.0f, -3.0f};           /* bf16 3f80 c040 */
static const double d_val = 0.1;

static void good_data(uint8_t *buf) {
    buf[0] = 7, buf[1] = 8, buf[2] = 9;
    memcpy(buf + 3, a_vals, sizeof a_vals);
    const uint8_t b16[6] = {0x00, 0x3c, 0x00, 0xb8, 0x01, 0x00};
    memcpy(buf + 27, b16, 6);
    const uint8_t c16[4] = {0x80, 0x3f, 0x40, 0xc0};
    memcpy(buf + 33, c16, 4);
    memcpy(buf + 37, &d_val, 8);
    const int32_t s = -42;
    memcpy(buf + 45, &s, 4);
}

static image good_image(void) {
    uint8_t data[49];
    good_data(data);
    return image_make(good_header, data, sizeof data);
}

static void check_good(const tcf_safetensors *st, const char *what) {
    CHECK(tcf_safetensors_count(st) == 7, "%s: count %d", what, tcf_safetensors_count(st));
    const char *order[7] = {"b", "a", "pre", "e", "c", "d", "s"};
    for (int i = 0; i < 7; i++) {
        const tcf_tensor_view *v = tcf_safetensors_at(st, i);
        CHECK(v && strcmp(v->name, order[i]) == 0, "%s: at(%d) is '%s' in header order", what, i,
              v ? v->name : "(null)");
        CHECK(v && tcf_safetensors_find(st, order[i]) == v, "%s: find('%s')", what, order[i]);
    }
    CHECK(tcf_safetensors_at(st, 7) == NULL && tcf_safetensors_at(st, -1) == NULL, "at() range");
    CHECK(tcf_safetensors_find(st, "zz") == NULL && tcf_safetensors_find(st, "") == NULL,
          "find absent");

    const tcf_tensor_view *a = tcf_safetensors_find(st, "a");
    const tcf_tensor_view *pre = tcf_safetensors_find(st, "pre");
    if (!a || !pre) return;
    CHECK(a->dtype == TCF_DTYPE_F32 && a->n_dims == 2 && a->shape[0] == 2 && a->shape[1] == 3 &&
              a->numel == 6 && a->nbytes == 24,
          "%s: a's header", what);
    CHECK((const uint8_t *)a->data == (const uint8_t *)pre->data + 3, "%s: a at buffer offset 3",
          what);
    float out[6];
    CHECK(tcf_tensor_to_f32(a, out, 6) == TCF_OK, "%s: a to f32", what);
    check_close("good image: F32 (unaligned)", out, a_vals, 6, 0, 0);

    const tcf_tensor_view *b = tcf_safetensors_find(st, "b");
    CHECK(b && b->dtype == TCF_DTYPE_F16 && b->numel == 3, "%s: b", what);
    if (b && tcf_tensor_to_f32(b, out, 3) == TCF_OK) check_close("good image: F16", out, b_vals, 3, 0, 0);
    const tcf_tensor_view *c = tcf_safetensors_find(st, "c");
    CHECK(c && c->dtype == TCF_DTYPE_BF16 && c->numel == 2, "%s: c", what);
    if (c && tcf_tensor_to_f32(c, out, 2) == TCF_OK) check_close("good image: BF16", out, c_vals, 2, 0, 0);
    const tcf_tensor_view *d = tcf_safetensors_find(st, "d");
    float dv = (float)d_val;
    if (d && tcf_tensor_to_f32(d, out, 1) == TCF_OK) check_close("good image: F64", out, &dv, 1, 0, 0);

    const tcf_tensor_view *e = tcf_safetensors_find(st, "e");
    CHECK(e && e->numel == 0 && e->nbytes == 0 && e->n_dims == 2, "%s: empty tensor", what);
    CHECK(e && tcf_tensor_to_f32(e, NULL, 0) == TCF_OK, "%s: empty to f32", what);
    const tcf_tensor_view *s = tcf_safetensors_find(st, "s");
    CHECK(s && s->n_dims == 0 && s->numel == 1 && s->dtype == TCF_DTYPE_I32, "%s: scalar", what);
    if (s) {
        int32_t sv;
        memcpy(&sv, s->data, 4);
        CHECK(sv == -42, "%s: scalar value %d", what, sv);
        CHECK(tcf_tensor_to_f32(s, out, 1) == TCF_ERR_UNSUPPORTED &&
                  strstr(tcf_last_error(), "'s'") && strstr(tcf_last_error(), "I32"),
              "%s: I32 to f32 unsupported: %s", what, tcf_last_error());
    }
    CHECK(tcf_tensor_to_f32(a, out, 5) == TCF_ERR_ARG && strstr(tcf_last_error(), "'a'"),
          "%s: wrong n: %s", what, tcf_last_error());
    CHECK(tcf_tensor_to_f32(NULL, out, 0) == TCF_ERR_ARG, "NULL tensor");

    const char *fmt = tcf_safetensors_metadata(st, "format");
    const char *note = tcf_safetensors_metadata(st, "note");
    CHECK(fmt && strcmp(fmt, "pt") == 0, "%s: metadata format", what);
    CHECK(note && strcmp(note, "h\xc3\xa9") == 0, "%s: metadata \\u escape decoded", what);
    CHECK(tcf_safetensors_metadata(st, "nope") == NULL, "%s: absent metadata key", what);
}

static void test_good(void) {
    image im = good_image();
    tcf_safetensors *st = NULL;
    tcf_status rc = tcf_safetensors_from_memory(im.p, im.n, "good", &st);
    CHECK(rc == TCF_OK, "good image: %s", tcf_last_error());
    if (st) check_good(st, "memory");
    tcf_safetensors_free(st);
    tcf_safetensors_free(NULL);
    CHECK(tcf_safetensors_count(NULL) == 0 && tcf_safetensors_find(NULL, "a") == NULL &&
              tcf_safetensors_metadata(NULL, "a") == NULL,
          "NULL handle queries");
    free(im.p);

    /* No tensors and no data is a valid file; so is an unpadded header. */
    image e = image_make("{}", NULL, 0);
    rc = tcf_safetensors_from_memory(e.p, e.n, "empty", &st);
    CHECK(rc == TCF_OK && tcf_safetensors_count(st) == 0, "empty header: %s", tcf_last_error());
    tcf_safetensors_free(st);
    free(e.p);
    const char unpadded[] = "{\"x\":{\"dtype\":\"I8\",\"shape\":[1],\"data_offsets\":[0,1]}}";
    image u = image_raw_len(sizeof unpadded - 1, unpadded, sizeof unpadded); /* + the NUL as data */
    rc = tcf_safetensors_from_memory(u.p, u.n, "unpadded", &st);
    CHECK(rc == TCF_OK && tcf_safetensors_count(st) == 1, "unpadded header: %s", tcf_last_error());
    tcf_safetensors_free(st);
    free(u.p);
    /* Zero-size tensors may share an offset with each other and a neighbour. */
    image z = image_make("{\"z1\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[0,0]},"
                         "\"z2\":{\"dtype\":\"F16\",\"shape\":[3,0],\"data_offsets\":[0,0]},"
                         "\"w\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[0,2]},"
                         "\"z3\":{\"dtype\":\"F64\",\"shape\":[0],\"data_offsets\":[2,2]}}",
                         "ab", 2);
    rc = tcf_safetensors_from_memory(z.p, z.n, "zeros", &st);
    CHECK(rc == TCF_OK && tcf_safetensors_count(st) == 4, "zero-size tensors: %s", tcf_last_error());
    tcf_safetensors_free(st);
    free(z.p);
}

/* ---- bad images --------------------------------------------------------- */

#define T1(dtype, shape, offs) \
    "{\"w\":{\"dtype\":\"" dtype "\",\"shape\":" shape ",\"data_offsets\":" offs "}}"

static void test_bad(void) {
    static uint8_t zeros[256];
    const tcf_status F = TCF_ERR_FORMAT;

    /* Length field and file size. */
    EXPECT_FAIL("0-byte", ((image){malloc(1), 0}), F, "0 bytes", "too short");
    {
        image im = {malloc(7), 7};
        memset(im.p, 0, 7);
        EXPECT_FAIL("7-byte", im, F, "7 bytes", "too short");
    }
    EXPECT_FAIL("header length over the cap", image_raw_len(100000001, "{}      ", 8), F,
                "100000001", "cap");
    EXPECT_FAIL("header length 2^64-1", image_raw_len(UINT64_MAX, "{}      ", 8), F, "cap");
    EXPECT_FAIL("header length past the file", image_raw_len(100, "{}      ", 8), F, "100",
                "runs past the end of the file");
    EXPECT_FAIL("header length just past the file", image_raw_len(9, "{}      ", 8), F,
                "runs past the end of the file");
    {
        image im = good_image();
        im.n -= 4; /* the last tensor by offset ("s") loses its bytes; "e" sits past the end */
        EXPECT_FAIL("truncated data", im, F, "'e'", "run past the end of the 45-byte data buffer");
    }
    {
        image im = good_image();
        im.n = 8 + 40; /* cut inside the header */
        EXPECT_FAIL("truncated header", im, F, "runs past the end of the file");
    }

    /* Header text. */
    EXPECT_FAIL("non-JSON header", image_make("this is not json", NULL, 0), F, "not valid JSON");
    EXPECT_FAIL("unterminated JSON", image_make("{\"w\":{\"dtype\":", NULL, 0), F, "not valid JSON");
    EXPECT_FAIL("array header", image_make("[1,2]", NULL, 0), F, "not a JSON object");
    EXPECT_FAIL("string header", image_make("\"x\"", NULL, 0), F, "not a JSON object");
    EXPECT_FAIL("trailing garbage", image_make("{} {}", NULL, 0), F, "after its JSON value");
    EXPECT_FAIL("invalid UTF-8", image_make("{\"\xff\":1}", NULL, 0), F, "UTF-8", "byte 2");
    EXPECT_FAIL("overlong UTF-8", image_make("{\"\xc0\xaf\":1}", NULL, 0), F, "UTF-8");
    EXPECT_FAIL("UTF-16 surrogate in UTF-8", image_make("{\"\xed\xa0\x80\":1}", NULL, 0), F, "UTF-8");
    EXPECT_FAIL("NUL in header", image_raw_len(4, "{}\0 ", 4), F, "byte 2");
    {
        /* Nesting deeper than cJSON's limit (1000) fails cleanly. */
        enum { DEPTH = 5000 };
        char *deep = malloc(8 + 2 * DEPTH + 2);
        size_t k = 0;
        k += (size_t)sprintf(deep, "{\"w\":");
        for (int i = 0; i < DEPTH; i++) deep[k++] = '[';
        for (int i = 0; i < DEPTH; i++) deep[k++] = ']';
        deep[k++] = '}';
        deep[k] = '\0';
        EXPECT_FAIL("deep nesting", image_make(deep, NULL, 0), F, "not valid JSON");
        free(deep);
    }

    /* Entries. */
    EXPECT_FAIL("entry not an object", image_make("{\"w\":[1]}", NULL, 0), F, "'w'", "not an object");
    EXPECT_FAIL("missing dtype", image_make("{\"w\":{\"shape\":[1],\"data_offsets\":[0,1]}}", zeros, 1),
                F, "'w'", "missing \"dtype\"");
    EXPECT_FAIL("missing shape", image_make("{\"w\":{\"dtype\":\"U8\",\"data_offsets\":[0,1]}}", zeros, 1),
                F, "'w'", "missing \"shape\"");
    EXPECT_FAIL("missing data_offsets", image_make("{\"w\":{\"dtype\":\"U8\",\"shape\":[1]}}", zeros, 1),
                F, "'w'", "missing \"data_offsets\"");
    EXPECT_FAIL("dtype not a string",
                image_make("{\"w\":{\"dtype\":1,\"shape\":[1],\"data_offsets\":[0,1]}}", zeros, 1),
                F, "'w'", "dtype is 1, not a string");
    EXPECT_FAIL("unknown dtype", image_make(T1("F8_E4M3", "[4]", "[0,4]"), zeros, 4),
                TCF_ERR_UNSUPPORTED, "'w'", "F8_E4M3", "not supported");
    EXPECT_FAIL("lower-case dtype", image_make(T1("f32", "[1]", "[0,4]"), zeros, 4),
                TCF_ERR_UNSUPPORTED, "'w'", "'f32'");

    /* Shapes. */
    EXPECT_FAIL("negative dim", image_make(T1("F32", "[2,-1]", "[0,0]"), NULL, 0), F, "'w'",
                "shape[1] is -1");
    EXPECT_FAIL("float dim", image_make(T1("F32", "[2.5]", "[0,10]"), zeros, 10), F, "'w'",
                "shape[0] is 2.5");
    EXPECT_FAIL("string dim", image_make(T1("F32", "[\"2\"]", "[0,8]"), zeros, 8), F, "'w'",
                "shape[0] is a string");
    EXPECT_FAIL("huge dim", image_make(T1("F32", "[1e300]", "[0,8]"), zeros, 8), F, "'w'",
                "shape[0] is 1", "not a non-negative integer");
    EXPECT_FAIL("too many dims", image_make(T1("F32", "[1,1,1,1,1,1,1,1,1]", "[0,4]"), zeros, 4),
                F, "'w'", "9 dims", "more than 8");
    EXPECT_FAIL("shape not an array", image_make(T1("F32", "4", "[0,16]"), zeros, 16), F, "'w'",
                "shape is 4, not an array");
    EXPECT_FAIL("shape product overflows",
                image_make(T1("F32", "[4294967296,4294967296,4294967296]", "[0,4]"), zeros, 4), F,
                "'w'", "too many elements");
    EXPECT_FAIL("bytes overflow",
                image_make(T1("F64", "[67108864,67108864,1024]", "[0,4]"), zeros, 4), F, "'w'",
                "F64 [67108864, 67108864, 1024] is too large");

    /* Offsets. */
    EXPECT_FAIL("offsets not a pair", image_make(T1("U8", "[1]", "[0,1,2]"), zeros, 1), F, "'w'",
                "data_offsets is not a pair");
    EXPECT_FAIL("offsets negative", image_make(T1("U8", "[1]", "[-1,0]"), zeros, 1), F, "'w'",
                "data_offsets is not a pair");
    EXPECT_FAIL("offsets float", image_make(T1("U8", "[1]", "[0,1.5]"), zeros, 1), F, "'w'",
                "data_offsets");
    EXPECT_FAIL("offsets reversed", image_make(T1("U8", "[0]", "[1,0]"), zeros, 1), F, "'w'",
                "[1, 0] end before they begin");
    EXPECT_FAIL("offsets past the end", image_make(T1("F32", "[4]", "[0,16]"), zeros, 8), F, "'w'",
                "[0, 16] run past the end of the 8-byte data buffer");
    EXPECT_FAIL("size mismatch",
                image_make("{\"encoder.layer.0.attention.self.query.weight\":{\"dtype\":\"F32\","
                           "\"shape\":[5,10],\"data_offsets\":[0,100]}}",
                           zeros, 100),
                F, "tensor 'encoder.layer.0.attention.self.query.weight': data_offsets [0, 100] "
                   "hold 100 bytes but F32 [5, 10] needs 200");
    {
        /* The exact message the house style asks for, label included. */
        image im = image_make("{\"encoder.layer.0.attention.self.query.weight\":{\"dtype\":\"F32\","
                              "\"shape\":[5,10],\"data_offsets\":[0,100]}}",
                              zeros, 100);
        tcf_safetensors *st = NULL;
        tcf_safetensors_from_memory(im.p, im.n, "model.safetensors", &st);
        const char *want = "model.safetensors: tensor 'encoder.layer.0.attention.self.query.weight': "
                           "data_offsets [0, 100] hold 100 bytes but F32 [5, 10] needs 200";
        CHECK(strcmp(tcf_last_error(), want) == 0, "got '%s'", tcf_last_error());
        tcf_safetensors_free(st);
        free(im.p);
    }
    EXPECT_FAIL("overlap",
                image_make("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                           "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}",
                           zeros, 12),
                F, "'b'", "overlap tensor 'a'");
    EXPECT_FAIL("same range twice",
                image_make("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                           "\"b\":{\"dtype\":\"I32\",\"shape\":[2],\"data_offsets\":[0,8]}}",
                           zeros, 8),
                F, "overlap");
    EXPECT_FAIL("hole between tensors",
                image_make("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                           "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]}}",
                           zeros, 12),
                F, "'b'", "hole", "[4, 8)");
    EXPECT_FAIL("hole at the start", image_make(T1("F32", "[1]", "[4,8]"), zeros, 8), F, "'w'",
                "hole", "[0, 4)");
    EXPECT_FAIL("hole at the end", image_make(T1("F32", "[1]", "[0,4]"), zeros, 8), F, "'w'",
                "[4, 8)", "belong to no tensor");
    EXPECT_FAIL("data but no tensors", image_make("{}", zeros, 3), F, "no tensors", "3 bytes");
    EXPECT_FAIL("duplicate names",
                image_make("{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                           "\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}",
                           zeros, 8),
                F, "'w'", "appears twice");
    EXPECT_FAIL("names equal after \\u0000",
                image_make("{\"w\\u0000x\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                           "\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}",
                           zeros, 8),
                F, "'w'", "appears twice");

    /* Metadata. */
    EXPECT_FAIL("metadata value not a string", image_make("{\"__metadata__\":{\"k\":1}}", NULL, 0),
                F, "__metadata__", "'k'", "not a string");
    EXPECT_FAIL("metadata value an object",
                image_make("{\"__metadata__\":{\"ok\":\"v\",\"k\":{}}}", NULL, 0), F, "'k'",
                "an object, not a string");
    EXPECT_FAIL("metadata not an object", image_make("{\"__metadata__\":\"pt\"}", NULL, 0), F,
                "__metadata__", "not an object");
    EXPECT_FAIL("metadata twice",
                image_make("{\"__metadata__\":{},\"__metadata__\":{}}", NULL, 0), F,
                "__metadata__", "twice");
    EXPECT_FAIL("metadata key twice",
                image_make("{\"__metadata__\":{\"k\":\"a\",\"k\":\"b\"}}", NULL, 0), F, "'k'",
                "twice");

    /* Arguments. */
    tcf_safetensors *st = NULL;
    CHECK(tcf_safetensors_from_memory(NULL, 8, "x", &st) == TCF_ERR_ARG && !st, "NULL buffer");
    CHECK(tcf_safetensors_from_memory(zeros, 8, "x", NULL) == TCF_ERR_ARG, "NULL out");
    CHECK(tcf_safetensors_open(NULL, &st) == TCF_ERR_ARG && !st, "NULL path");
}

/* ---- files -------------------------------------------------------------- */

static void test_files(void) {
    const char *tmp = getenv("TMPDIR");
    char path[512];
    snprintf(path, sizeof path, "%s/tcf_test_st_XXXXXX", tmp && *tmp ? tmp : "/tmp");
    int fd = mkstemp(path);
    CHECK(fd >= 0, "mkstemp %s", path);
    if (fd < 0) return;
    close(fd);
    tcf_safetensors *st = NULL;

    /* A bad file: the message names the path. */
    static uint8_t zeros[16];
    image bad = image_make(T1("F32", "[3]", "[0,8]"), zeros, 8);
    CHECK(write_file(path, bad.p, bad.n), "write %s", path);
    tcf_status rc = tcf_safetensors_open(path, &st);
    CHECK(rc == TCF_ERR_FORMAT && !st, "bad file: %s", tcf_status_name(rc));
    CHECK(strncmp(tcf_last_error(), path, strlen(path)) == 0 && strstr(tcf_last_error(), "'w'") &&
              strstr(tcf_last_error(), "needs 12"),
          "bad file message: '%s'", tcf_last_error());
    free(bad.p);

    /* A good file is mapped and reads like the in-memory image. */
    image good = good_image();
    CHECK(write_file(path, good.p, good.n), "write %s", path);
    free(good.p);
    rc = tcf_safetensors_open(path, &st);
    CHECK(rc == TCF_OK, "good file: %s", tcf_last_error());
    if (st) check_good(st, "file");
    tcf_safetensors_free(st);
    st = NULL;

    /* 0- and 7-byte files. */
    for (size_t n = 0; n <= 7; n += 7) {
        CHECK(write_file(path, zeros, n), "write %s", path);
        rc = tcf_safetensors_open(path, &st);
        char want[64];
        snprintf(want, sizeof want, "is %zu bytes", n);
        CHECK(rc == TCF_ERR_FORMAT && !st && strstr(tcf_last_error(), path) &&
                  strstr(tcf_last_error(), want),
              "%zu-byte file: %s '%s'", n, tcf_status_name(rc), tcf_last_error());
    }
    /* Exactly 8 bytes: a length of 0 and no header is not JSON. */
    CHECK(write_file(path, zeros, 8), "write %s", path);
    rc = tcf_safetensors_open(path, &st);
    CHECK(rc == TCF_ERR_FORMAT && strstr(tcf_last_error(), "not valid JSON"), "8-byte file: '%s'",
          tcf_last_error());
    unlink(path);

    rc = tcf_safetensors_open(path, &st);
    CHECK(rc == TCF_ERR_IO && !st && strstr(tcf_last_error(), path), "missing file: '%s'",
          tcf_last_error());
    const char *dir = tmp && *tmp ? tmp : "/tmp";
    rc = tcf_safetensors_open(dir, &st);
    CHECK(rc == TCF_ERR_IO && strstr(tcf_last_error(), "not a regular file"), "directory: '%s'",
          tcf_last_error());
}

/* ---- the real checkpoint ------------------------------------------------ */

static void test_minilm(void) {
    const char *path = "models/all-MiniLM-L6-v2/model.safetensors";
    tcf_safetensors *st = NULL;
    tcf_status rc = tcf_safetensors_open(path, &st);
    CHECK(rc == TCF_OK, "%s (run scripts/fetch_models.sh from the repo root): %s", path,
          tcf_last_error());
    if (!st) return;
    /* Python: len(safe_open(path, "np").keys()) == 104 (embeddings.position_ids
     * included); header 11408 bytes; file 90868376 bytes. */
    CHECK(tcf_safetensors_count(st) == 104, "tensor count %d", tcf_safetensors_count(st));
    size_t total = 0;
    for (int i = 0; i < tcf_safetensors_count(st); i++) total += tcf_safetensors_at(st, i)->nbytes;
    CHECK(total + 8 + 11408 == 90868376u, "tensor bytes %zu cover the data buffer", total);
    const char *fmt = tcf_safetensors_metadata(st, "format");
    CHECK(fmt && strcmp(fmt, "pt") == 0, "metadata format = %s", fmt ? fmt : "(null)");

    const tcf_tensor_view *w = tcf_safetensors_find(st, "embeddings.word_embeddings.weight");
    CHECK(w && w->dtype == TCF_DTYPE_F32 && w->n_dims == 2 && w->shape[0] == 30522 &&
              w->shape[1] == 384,
          "word embeddings F32 [30522, 384]");
    if (w && w->numel == 30522 * 384) {
        float *all = malloc((size_t)w->numel * sizeof *all);
        CHECK(tcf_tensor_to_f32(w, all, w->numel) == TCF_OK, "convert: %s", tcf_last_error());
        /* From Python:
         *   t = safe_open(path, "np").get_tensor("embeddings.word_embeddings.weight")
         *   t.reshape(-1)[:4], t[101, 0], t[30521, 383]   (printed as float64) */
        const float want[6] = {-0.019989013671875f, -0.0034027099609375f, -0.014678955078125f,
                               0.0117034912109375f, -0.01761939749121666f, 0.004570063669234514f};
        const float got[6] = {all[0], all[1], all[2], all[3], all[101 * 384],
                              all[30521 * 384 + 383]};
        check_close("MiniLM word_embeddings vs Python safetensors", got, want, 6, 0, 0);
        free(all);
    }
    const tcf_tensor_view *pid = tcf_safetensors_find(st, "embeddings.position_ids");
    CHECK(pid && pid->dtype == TCF_DTYPE_I64, "position_ids is I64");
    const tcf_tensor_view *q = tcf_safetensors_find(st, "encoder.layer.5.attention.self.query.weight");
    CHECK(q && q->n_dims == 2 && q->shape[0] == 384 && q->shape[1] == 384, "layer 5 query weight");
    tcf_safetensors_free(st);
}

/* Inputs the fuzzer once crashed on (tests/regress/safetensors-*): each must
 * now load or fail cleanly; under ASan a memory error fails the run. */
static void test_regress(void) {
    DIR *d = opendir("tests/regress");
    int n = 0;
    struct dirent *e;
    while (d && (e = readdir(d))) {
        if (strncmp(e->d_name, "safetensors-", 12)) continue;
        char p[512], *data;
        size_t len;
        snprintf(p, sizeof p, "tests/regress/%s", e->d_name);
        if (tcf_read_file(p, &data, &len)) continue;
        tcf_safetensors *st = NULL;
        tcf_status rc = tcf_safetensors_from_memory(data, len, p, &st);
        CHECK(rc == TCF_OK || (st == NULL && tcf_last_error()[0]), "%s: no message", p);
        tcf_safetensors_free(st);
        free(data);
        n++;
    }
    if (d) closedir(d);
    printf("  %-40s %d inputs replayed\n", "tests/regress/safetensors-*", n);
}

int main(void) {
    test_regress();
    test_convert();
    test_good();
    test_bad();
    test_files();
    test_minilm();
    return check_summary("test_safetensors");
}
