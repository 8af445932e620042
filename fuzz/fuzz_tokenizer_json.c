/*
 * fuzz_tokenizer_json.c — libFuzzer target for tcf_tokenizer_load_json (the
 * parser of outside tokenizer.json bytes) and, when the bytes load, for
 * tcf_tokenizer_encode and the accessors on a few fixed strings and on the
 * input itself (usually not valid UTF-8, which must fail cleanly).
 *
 *   make fuzz
 *   mkdir -p fuzz/corpus-tokenizer && cp -r fuzz/seeds/tokenizer/. fuzz/corpus-tokenizer/
 *   build-fuzz/fuzz_tokenizer_json -max_total_time=600 -rss_limit_mb=2048 \
 *       -max_len=65536 fuzz/corpus-tokenizer/
 * A crash found here is kept under tests/regress/tokenizer-<name> and replayed
 * by tests/test_tokenizer.c.
 */
#include "tcf.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

static const char *const texts[] = {
    "",
    "Hello, World! [MASK] [CLS] <ent> foo New York",
    "na\xc3\xafve cafe\xcc\x81 \xe4\xbd\xa0\xe5\xa5\xbd \xf0\x9f\x98\x80 \xc4\xb0 \xce\xa3",
    "  \t\r\n x\xe2\x80\x8by\xc2\x85z \x01 \xef\xbf\xbd ##ing unaffable aaaaaaaaaaaaaaaaaaaaaaaa",
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    tcf_tokenizer *t = NULL;
    if (tcf_tokenizer_load_json((const char *)data, size, "fuzz", &t) != TCF_OK) return 0;
    int32_t ids[512];
    int n;
    const tcf_encode_opts opts[] = {{1, 0}, {0, 0}, {1, 16}, {0, 3}};
    for (size_t o = 0; o < sizeof opts / sizeof *opts; o++) {
        for (size_t i = 0; i < sizeof texts / sizeof *texts; i++)
            tcf_tokenizer_encode(t, texts[i], strlen(texts[i]), &opts[o], ids, 512, &n);
        tcf_tokenizer_encode(t, (const char *)data, size, &opts[o], ids, 512, &n);
    }
    tcf_tokenizer_encode(t, texts[1], strlen(texts[1]), &opts[0], ids, 2, &n);
    int vs = tcf_tokenizer_vocab_size(t);
    for (int32_t id = -1; id <= vs && id < 64; id++) {
        const char *tk = tcf_tokenizer_token(t, id);
        if (tk) tcf_tokenizer_token_id(t, tk);
    }
    tcf_tokenizer_token_id(t, "[UNK]");
    tcf_tokenizer_pad_id(t);
    tcf_tokenizer_max_len(t);
    tcf_tokenizer_free(t);
    return 0;
}
