/*
 * fuzz_bpe.c — libFuzzer target for the BPE tokenizers. The first input byte
 * picks the mode:
 *   0..3  the rest is text, encoded (with and without specials, and with a
 *         tiny cap) by the fixture tokenizers bytelevel / llama / metaspace /
 *         qwen2 (tests/fixtures/bpe/NAME.json, loaded once: run from the
 *         repository root) — regexes, normalizers, byte fallback, merges;
 *   4..   the rest is a GGUF image: tcf_gguf_from_memory, then
 *         tcf_tokenizer_load_gguf (tokenizer.ggml.* parsing) and, when it
 *         loads, encoding of a few fixed strings.
 *
 *   make fuzz
 *   mkdir -p fuzz/corpus-bpe && cp -r fuzz/seeds/bpe/. fuzz/corpus-bpe/
 *   build-fuzz/fuzz_bpe -max_total_time=300 -rss_limit_mb=2048 -max_len=65536 fuzz/corpus-bpe/
 */
#include "tcf.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const names[] = {"bytelevel", "llama", "metaspace", "qwen2"};
static tcf_tokenizer *toks[4];

static const char *const texts[] = {
    "",
    "Hello, World! <|im_start|> <s> 2024 don't   x",
    "na\xc3\xafve cafe\xcc\x81 \xe4\xbd\xa0\xe5\xa5\xbd \xf0\x9f\x98\x80 \xe1\xa0\x8e \xce\xa3",
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!size) return 0;
    int32_t ids[1024];
    int n;
    const tcf_encode_opts opts[] = {{1, 0}, {0, 0}, {1, 5}};
    if (data[0] < 4) {
        int k = data[0];
        if (!toks[k]) {
            char p[256];
            snprintf(p, sizeof p, "tests/fixtures/bpe/%s.json", names[k]);
            if (tcf_tokenizer_load(p, &toks[k])) {
                fprintf(stderr, "fuzz_bpe: %s (run from the repository root)\n", tcf_last_error());
                abort();
            }
        }
        for (size_t o = 0; o < sizeof opts / sizeof *opts; o++)
            tcf_tokenizer_encode(toks[k], (const char *)data + 1, size - 1, &opts[o], ids, 1024, &n);
        tcf_tokenizer_encode(toks[k], (const char *)data + 1, size - 1, &opts[0], ids, 3, &n);
        return 0;
    }
    tcf_gguf *g = NULL;
    if (tcf_gguf_from_memory(data + 1, size - 1, "fuzz.gguf", &g)) return 0;
    tcf_tokenizer *t = NULL;
    if (!tcf_tokenizer_load_gguf(g, "fuzz.gguf", &t)) {
        for (size_t o = 0; o < sizeof opts / sizeof *opts; o++)
            for (size_t i = 0; i < sizeof texts / sizeof *texts; i++)
                tcf_tokenizer_encode(t, texts[i], strlen(texts[i]), &opts[o], ids, 1024, &n);
        int vs = tcf_tokenizer_vocab_size(t);
        for (int32_t id = -1; id <= vs && id < 64; id++) {
            const char *tk = tcf_tokenizer_token(t, id);
            if (tk) tcf_tokenizer_token_id(t, tk);
        }
        tcf_tokenizer_free(t);
    }
    tcf_gguf_free(g);
    return 0;
}
