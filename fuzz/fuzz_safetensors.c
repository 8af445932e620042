/*
 * fuzz_safetensors.c — libFuzzer target for the safetensors reader.
 *
 * Feeds the input bytes to tcf_safetensors_from_memory. When they parse, it
 * walks every view (find by name must give it back; every data byte is read,
 * so ASan flags a view that escapes the input) and converts float tensors.
 *
 *   make fuzz
 *   mkdir -p fuzz/corpus-safetensors && cp -r fuzz/seeds/safetensors/. fuzz/corpus-safetensors/
 *   build-fuzz/fuzz_safetensors -max_total_time=600 -rss_limit_mb=2048 \
 *       fuzz/corpus-safetensors fuzz/seeds/safetensors
 * A crash input becomes a file under tests/regress/ and a named case in
 * tests/test_safetensors.c.
 */
#include "tcf.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static volatile uint8_t sink; /* keeps the reads of tensor bytes */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    tcf_safetensors *st = NULL;
    if (tcf_safetensors_from_memory(data, size, "fuzz", &st) != TCF_OK) {
        if (st) abort(); /* *out must be NULL after a failure */
        return 0;
    }
    size_t total = 0;
    for (int i = 0; i < tcf_safetensors_count(st); i++) {
        const tcf_tensor_view *v = tcf_safetensors_at(st, i);
        if (!v || tcf_safetensors_find(st, v->name) != v) abort();
        if (v->nbytes != (size_t)v->numel * tcf_dtype_size(v->dtype)) abort();
        const uint8_t *p = v->data;
        if (p < data || p + v->nbytes > data + size) abort();
        for (size_t k = 0; k < v->nbytes; k++) sink ^= p[k];
        total += v->nbytes;
        float *f = malloc(v->numel ? (size_t)v->numel * sizeof *f : 1);
        if (f) tcf_tensor_to_f32(v, f, v->numel);
        free(f);
    }
    if (total > size) abort();
    tcf_safetensors_metadata(st, "format");
    tcf_safetensors_free(st);
    return 0;
}
