/*
 * fuzz_llama_gguf.c — libFuzzer target for the decoder loader's reading of
 * GGUF files: llama.* metadata, the tensor table checked against the config
 * (names, shapes), dequantization and the q/k un-permutation, then one
 * forward pass of a 3-token sequence when the model loads.
 *
 *   make fuzz
 *   build-fuzz/fuzz_llama_gguf -max_total_time=600 -max_len=262144 fuzz/corpus-llama/ fuzz/seeds/llama/
 * Seed: tests/fixtures/llama/tiny_llama.gguf (copied to fuzz/seeds/llama/).
 * A crash input becomes a file under tests/regress/ and a named case in
 * tests/test_llama.c.
 */
#include "tcf.h"
#include "base/base.h"
#include "model/llama.h"

#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    tcf_gguf *g = NULL;
    if (tcf_gguf_from_memory(data, size, "fuzz.gguf", &g) != TCF_OK) return 0;
    tcf_llama *m = NULL;
    tcf_clear_error();
    if (tcf_llama_load_gguf(g, "fuzz.gguf", &m) == TCF_OK) {
        int T = m->cfg.max_pos < 3 ? m->cfg.max_pos : 3;
        int32_t ids[3] = {0, m->cfg.vocab - 1, m->cfg.vocab / 2};
        uint8_t mask[3] = {1, 1, 1};
        float *h = malloc(sizeof(float) * (size_t)T * (size_t)m->cfg.hidden);
        if (h && tcf_llama_forward(m, 1, T, ids, mask, h, 1) != TCF_OK) abort(); /* valid ids must run */
        free(h);
        tcf_llama_free(m);
    } else if (tcf_last_error()[0] == '\0') {
        abort(); /* a failure must say why */
    }
    tcf_gguf_free(g);
    return 0;
}
