/*
 * fuzz_gguf.c — libFuzzer target for the GGUF reader.
 *
 * Feeds the input bytes to tcf_gguf_from_memory. When they parse, it walks
 * every metadata value (nested arrays included, every typed getter), checks
 * that lookups by key and name give back the same entries, reads every data
 * byte of every tensor (so ASan flags a view that escapes the input) and
 * dequantizes each tensor whole and by its last row.
 *
 *   make fuzz
 *   build-fuzz/fuzz_gguf -max_total_time=600 -max_len=65536 fuzz/corpus-gguf/ fuzz/seeds/gguf/
 * A crash input becomes a file under tests/regress/ and a named case in
 * tests/test_gguf.c.
 */
#include "tcf.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static volatile uint64_t sink;

static void walk(const tcf_gguf_value *v, int depth) {
    if (!v || depth > 16) abort(); /* the reader caps nesting at 8 */
    int64_t i, u_i;
    uint64_t u;
    double d;
    int b;
    const char *s;
    size_t len;
    switch (tcf_gguf_value_type(v)) {
    case TCF_GGUF_STRING:
        if (tcf_gguf_value_str(v, &s, &len) != TCF_OK || s[len] != '\0') abort();
        for (size_t k = 0; k < len; k++) sink += (uint8_t)s[k];
        break;
    case TCF_GGUF_ARRAY: {
        uint64_t n = tcf_gguf_array_len(v);
        for (uint64_t k = 0; k < n; k++) {
            walk(tcf_gguf_array_at(v, k), depth + 1);
            /* the element getters agree with the element values */
            if (tcf_gguf_array_i64(v, k, &i) == TCF_OK &&
                (tcf_gguf_value_i64(tcf_gguf_array_at(v, k), &u_i) != TCF_OK || u_i != i))
                abort();
            if (tcf_gguf_array_f64(v, k, &d) == TCF_OK && tcf_gguf_array_type(v) != TCF_GGUF_F32 &&
                tcf_gguf_array_type(v) != TCF_GGUF_F64)
                abort();
            if (tcf_gguf_array_str(v, k, &s, &len) == TCF_OK && s[len] != '\0') abort();
        }
        if (tcf_gguf_array_at(v, n) || tcf_gguf_array_i64(v, n, &i) != TCF_ERR_ARG) abort();
        break;
    }
    case TCF_GGUF_F32:
    case TCF_GGUF_F64:
        if (tcf_gguf_value_f64(v, &d) != TCF_OK) abort();
        sink += (uint64_t)(d == d);
        break;
    case TCF_GGUF_BOOL:
        if (tcf_gguf_value_bool(v, &b) != TCF_OK || (b != 0 && b != 1)) abort();
        break;
    default:
        if (tcf_gguf_value_i64(v, &i) == TCF_OK) sink += (uint64_t)i;
        if (tcf_gguf_value_u64(v, &u) == TCF_OK) sink += u;
        break;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    tcf_gguf *g = NULL;
    if (tcf_gguf_from_memory(data, size, "fuzz", &g) != TCF_OK) {
        if (g) abort(); /* *out must be NULL after a failure */
        return 0;
    }
    for (int64_t k = 0; k < tcf_gguf_kv_count(g); k++) {
        const char *key = tcf_gguf_kv_key(g, k);
        const tcf_gguf_value *v = tcf_gguf_kv_value(g, k);
        if (!key || tcf_gguf_find(g, key) != v) abort();
        walk(v, 0);
    }
    size_t total = 0;
    for (int64_t k = 0; k < tcf_gguf_tensor_count(g); k++) {
        const tcf_gguf_tensor *t = tcf_gguf_tensor_at(g, k);
        if (!t || tcf_gguf_tensor_find(g, t->name) != t) abort();
        const uint8_t *p = t->data;
        if (t->nbytes && (p < data || p + t->nbytes > data + size)) abort();
        for (size_t j = 0; j < t->nbytes; j++) sink += p[j];
        total += t->nbytes;
        if (t->numel > (1 << 20)) continue; /* bounded work per input */
        float *f = malloc(t->numel ? (size_t)t->numel * sizeof *f : 1);
        if (!f) continue;
        if (tcf_gguf_dequantize(t, f, t->numel) == TCF_OK && t->ne[0] && t->numel)
            tcf_gguf_dequantize_rows(t, t->numel / t->ne[0] - 1, 1, f);
        free(f);
    }
    if (total > size) abort();
    tcf_gguf_free(g);
    return 0;
}
