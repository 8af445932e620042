/* test_base.c — error messages, thread pool coverage and determinism. */
#include "base/base.h"
#include "check.h"

#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

typedef struct { int *hits; } pool_ctx;

static void mark(void *ctx, int64_t b, int64_t e, int tid) {
    pool_ctx *c = ctx;
    for (int64_t i = b; i < e; i++) c->hits[i]++;
}

/* Static jobs: chunk i is [n*i/parts, n*(i+1)/parts) with tid i, whichever
 * thread runs it; dynamic jobs: tid < n_threads. Records violations. */
typedef struct {
    int64_t n;
    int parts, dynamic;
    atomic_int bad, calls;
    atomic_int seen[64]; /* tids in use at once: never two */
} tid_ctx;

static void check_tid(void *vctx, int64_t b, int64_t e, int tid) {
    tid_ctx *c = vctx;
    atomic_fetch_add(&c->calls, 1);
    if (tid < 0 || tid >= c->parts) {
        atomic_fetch_add(&c->bad, 1);
        return;
    }
    if (atomic_fetch_add(&c->seen[tid], 1) != 0) atomic_fetch_add(&c->bad, 1);
    if (!c->dynamic && (b != c->n * tid / c->parts || e != c->n * (tid + 1) / c->parts)) atomic_fetch_add(&c->bad, 1);
    for (volatile int spin = 0; spin < 2000; spin++) {}
    atomic_fetch_sub(&c->seen[tid], 1);
}

/* Several caller threads at once: jobs are serialised, each complete. */
static void *caller_main(void *arg) {
    int *hits = arg;
    pool_ctx c = {hits};
    for (int r = 0; r < 200; r++) {
        if (r & 1) tcf_parallel_for_dyn(1000, 7, 0, mark, &c);
        else tcf_parallel_for(1000, 0, mark, &c);
    }
    return NULL;
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

    const int nt = tcf_default_threads() < 4 ? 4 : tcf_default_threads();
    for (int dyn = 0; dyn < 2; dyn++)
        for (int parts = 2; parts <= nt && parts <= 64; parts++) {
            static tid_ctx tc;
            memset(&tc, 0, sizeof tc);
            tc.n = 1000 + parts, tc.dynamic = dyn;
            for (int r = 0; r < 20; r++) {
                /* the pool may have fewer threads than asked: tids stay below
                 * the number used, chunks below `parts` */
                tc.parts = parts < tcf_default_threads() ? parts : tcf_default_threads();
                if (dyn) tcf_parallel_for_dyn(tc.n, 3, parts, check_tid, &tc);
                else tcf_parallel_for(tc.n, parts, check_tid, &tc);
            }
            CHECK(!atomic_load(&tc.bad), "%s, %d threads: %d chunks with a wrong tid or range", dyn ? "dynamic" : "static",
                  parts, atomic_load(&tc.bad));
        }
    static int h4[4][1000];
    pthread_t th[4];
    for (int i = 0; i < 4; i++) pthread_create(&th[i], NULL, caller_main, h4[i]);
    for (int i = 0; i < 4; i++) pthread_join(th[i], NULL);
    ok = 1;
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 1000; j++) ok &= h4[i][j] == 200;
    CHECK(ok, "4 concurrent callers: every index visited once per call");
    return check_summary("test_base");
}
