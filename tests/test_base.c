/* test_base.c — error messages, thread pool coverage and determinism. */
#include "base/base.h"
#include "check.h"

#include <string.h>

typedef struct { int *hits; } pool_ctx;

static void mark(void *ctx, int64_t b, int64_t e, int tid) {
    pool_ctx *c = ctx;
    for (int64_t i = b; i < e; i++) c->hits[i]++;
}

int main(void) {
    tcf_status st = tcf_fail(TCF_ERR_FORMAT, "%s:%d: bad", "f.csv", 12);
    CHECK(st == TCF_ERR_FORMAT, "status passed through");
    CHECK(strcmp(tcf_last_error(), "f.csv:12: bad") == 0, "got '%s'", tcf_last_error());
    tcf_fail_prefix(st, "loading");
    CHECK(strcmp(tcf_last_error(), "loading: f.csv:12: bad") == 0, "got '%s'", tcf_last_error());

    enum { N = 100003 };
    static int hits[N];
    pool_ctx c = {hits};
    for (int round = 0; round < 50; round++) tcf_parallel_for(N, 0, mark, &c);
    int ok = 1;
    for (int i = 0; i < N; i++) ok &= hits[i] == 50;
    CHECK(ok, "every index visited exactly once per call");
    memset(hits, 0, sizeof hits);
    tcf_parallel_for(3, 64, mark, &c);
    CHECK(hits[0] == 1 && hits[1] == 1 && hits[2] == 1 && hits[3] == 0, "small n");
    memset(hits, 0, sizeof hits);
    for (int round = 0; round < 50; round++) tcf_parallel_for_dyn(N, 1 + round * 37, 0, mark, &c);
    ok = 1;
    for (int i = 0; i < N; i++) ok &= hits[i] == 50;
    CHECK(ok, "dynamic: every index visited exactly once per call");
    return check_summary("test_base");
}
