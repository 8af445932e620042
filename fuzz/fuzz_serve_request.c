/*
 * fuzz_serve_request.c — libFuzzer target for the `tcf serve` request parser
 * (tcf_serve_parse_request, src/serve/request.c).
 *
 * Any bytes must either parse into texts that keep every promise of the
 * parser (1..max_texts texts, each non-empty, not only white space, valid
 * UTF-8, NUL-free up to its length, top_k in [1, n_classes]) or fail with a
 * 400 / 413 status and a message, holding nothing. A parsed request is also
 * written back out through tcf_serve_format_result so that its buffers get
 * exercised with the request's top_k.
 *
 *   make fuzz && mkdir -p fuzz/corpus-serve
 *   build-fuzz/fuzz_serve_request -max_total_time=600 -max_len=4096 fuzz/corpus-serve/ fuzz/seeds/serve/
 * A crash input becomes a file under tests/regress/ and a named case in
 * tests/test_serve_parse.c.
 */
#include "serve/server.h"
#include "base/base.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    /* the first byte picks the limits, so that both 413 and clamping get hit */
    int max_texts = size ? 1 + data[0] % 8 : 4, K = size ? 1 + (data[0] >> 3) % 6 : 3;
    tcf_serve_limits lim = {max_texts, 3, K};
    /* a copy of exactly `size` bytes: ASan flags any read past the end */
    char *body = malloc(size ? size : 1);
    if (!body) return 0;
    memcpy(body, data, size);
    tcf_serve_request r;
    tcf_status st = tcf_serve_parse_request(body, size, &lim, &r);
    if (st != TCF_OK) {
        if (r.n || r.texts || r.lens || r.root_ || !r.error[0] || !tcf_last_error()[0]) abort();
        if (!(r.http_status == 400 || (r.http_status == 413 && st == TCF_ERR_ARG))) abort();
        tcf_serve_request_free(&r);
        free(body);
        return 0;
    }
    if (r.n < 1 || r.n > max_texts || (!r.batch && r.n != 1) || r.top_k < 1 || r.top_k > K) abort();
    for (int i = 0; i < r.n; i++) {
        const char *t = r.texts[i];
        if (!t || strlen(t) != r.lens[i] || r.lens[i] == 0) abort();
        if (tcf_utf8_invalid_at(t, r.lens[i]) >= 0) abort();
        size_t j = 0;
        while (j < r.lens[i] && strchr(" \t\n\r\v\f", t[j])) j++;
        if (j == r.lens[i]) abort(); /* only white space */
    }
    float probs[6];
    const char *labels[6] = {"a", "b\"", "c\\", "d\n", "e", "f"};
    for (int k = 0; k < K; k++) probs[k] = (float)((k * 7 + r.n) % K) / (float)K;
    char *out = NULL;
    size_t len = 0, cap = 0;
    if (tcf_serve_format_result(probs, K, labels, r.top_k, r.n & 1, 0.5, &out, &len, &cap) || strlen(out) != len)
        abort();
    free(out);
    tcf_serve_request_free(&r);
    free(body);
    return 0;
}
