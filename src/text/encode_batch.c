/*
 * encode_batch.c — tokenize many texts on the thread pool. Each text is
 * independent; the first failure (lowest index) is the one reported.
 */
#include "base/base.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>

typedef struct {
    const tcf_tokenizer *tok;
    const char *const *texts;
    const size_t *lens;
    const tcf_encode_opts *opts;
    int32_t *const *ids;
    const int *caps;
    int *n_ids;
    tcf_status bad_st[256];
    int64_t bad_idx[256];
    char bad_msg[256][256];
} batch_ctx;

static void encode_task(void *vctx, int64_t begin, int64_t end, int tid) {
    batch_ctx *c = vctx;
    for (int64_t i = begin; i < end; i++) {
        tcf_status st = tcf_tokenizer_encode(c->tok, c->texts[i], c->lens ? c->lens[i] : strlen(c->texts[i]),
                                             c->opts, c->ids[i], c->caps[i], &c->n_ids[i]);
        if (st) {
            /* chunks are contiguous and ordered by tid: the first failure in a
             * chunk is that chunk's lowest failing index */
            c->bad_st[tid] = st;
            c->bad_idx[tid] = i;
            snprintf(c->bad_msg[tid], sizeof c->bad_msg[tid], "%s", tcf_last_error());
            return;
        }
    }
}

tcf_status tcf_tokenizer_encode_batch(const tcf_tokenizer *tok, int n, const char *const *texts,
                                      const size_t *lens, const tcf_encode_opts *opts,
                                      int32_t *const *ids, const int *caps, int *n_ids,
                                      int n_threads) {
    if (n <= 0) return TCF_OK;
    static _Thread_local batch_ctx c; /* large; one per calling thread */
    memset(&c, 0, sizeof c);
    c.tok = tok, c.texts = texts, c.lens = lens, c.opts = opts, c.ids = ids, c.caps = caps,
    c.n_ids = n_ids;
    if (n_threads <= 0 || n_threads > 256) n_threads = n_threads <= 0 ? 0 : 256;
    tcf_parallel_for(n, n_threads, encode_task, &c);
    for (int t = 0; t < 256; t++)
        if (c.bad_st[t]) return tcf_fail(c.bad_st[t], "text %lld: %s", (long long)c.bad_idx[t] + 1, c.bad_msg[t]);
    return TCF_OK;
}
