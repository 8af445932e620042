/*
 * pool.c — a process-wide thread pool for data-parallel loops.
 *
 * Workers are started on first use and live until exit. A job covers [0, n)
 * as a number of chunks:
 *   - tcf_parallel_for: one contiguous chunk per participating thread,
 *     chunk i = [n*i/parts, n*(i+1)/parts) run with tid i (whichever thread
 *     runs it), so callers may index per-thread scratch or partial results
 *     by tid and get the same result for any scheduling;
 *   - tcf_parallel_for_dyn: chunks of `grain` items, tid = the index of the
 *     thread that runs it (caller 0, worker i), so a thread slowed by another
 *     process does not hold the others up. Callers must not depend on which
 *     thread runs which chunk (each item's result must be independent of it).
 * The caller takes part as thread 0. Chunks are claimed from one atomic
 * word that holds the job's generation, its thread count and the next
 * chunk: a claim succeeds only while that job is current, so a worker that
 * wakes late simply finds nothing left, and the caller waits only for
 * chunks that were claimed and are still running, never for an idle or
 * descheduled worker to check in (on a busy 2-core machine that wait made
 * 2 threads slower than 1). Job fields are read only after a successful
 * claim; the caller changes them only after every claimed chunk finished.
 * Waiting is adaptive: an idle worker spins briefly (~40 us of pause loops:
 * the jobs of one forward pass follow each other within microseconds), then
 * sleeps on a condition variable; the caller wakes sleepers only when there
 * are any. Jobs from different caller threads are serialised by a mutex; a
 * call made from inside a job runs serially.
 */
#include "base/base.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

#define MAX_THREADS 256
#define SPIN_ITERS (1 << 11) /* worker pause loops before sleeping: ~20-60 us */

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define cpu_relax() _mm_pause()
#else
#define cpu_relax() ((void)0)
#endif

/* The claim word: generation (30 bits) | dynamic (1) | parts - 1 (9) | next
 * chunk (24). */
#define NEXT_BITS 24
#define PARTS_BITS 9
#define GEN_SHIFT (NEXT_BITS + PARTS_BITS + 1)
#define GEN_MASK 0x3fffffffu
#define MAX_CHUNKS ((int64_t)1 << NEXT_BITS) /* a dynamic job's grain grows to stay below */
static inline uint64_t claim_word(uint64_t gen, int dynamic, int parts) {
    return (gen & GEN_MASK) << GEN_SHIFT | (uint64_t)(dynamic != 0) << (NEXT_BITS + PARTS_BITS) |
           (uint64_t)(parts - 1) << NEXT_BITS;
}
static inline uint64_t word_gen(uint64_t w) { return w >> GEN_SHIFT; }
static inline int word_dynamic(uint64_t w) { return (int)((w >> (NEXT_BITS + PARTS_BITS)) & 1); }
static inline int word_parts(uint64_t w) { return (int)((w >> NEXT_BITS) & ((1u << PARTS_BITS) - 1)) + 1; }
static inline int64_t word_next(uint64_t w) { return (int64_t)(w & ((1u << NEXT_BITS) - 1)); }

static pthread_once_t pool_once = PTHREAD_ONCE_INIT;
static pthread_mutex_t job_mu = PTHREAD_MUTEX_INITIALIZER; /* one job at a time */
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;    /* sleeping workers */
static pthread_cond_t cv_start = PTHREAD_COND_INITIALIZER;
static int n_workers;               /* started worker threads (excludes callers) */
static atomic_int n_sleeping;       /* workers waiting on cv_start */
static _Atomic uint64_t generation; /* bumped per job */
static _Atomic uint64_t claim;      /* claim_word of the current job */
static _Atomic int64_t n_chunks;    /* chunks of the current job */
static _Atomic int64_t done;        /* chunks of the current job finished */
static struct {
    tcf_range_fn fn;
    void *ctx;
    int64_t n, grain;
    int dynamic;
} job;
static _Thread_local int in_job;

int tcf_default_threads(void) {
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    if (n < 1) n = 1;
    if (n > MAX_THREADS) n = MAX_THREADS;
    return (int)n;
}

/* Claim and run chunks of job `gen` as thread `self` until none is left (or
 * a newer job has started). */
static void run_chunks(uint64_t gen, int self) {
    for (;;) {
        uint64_t w = atomic_load_explicit(&claim, memory_order_acquire);
        if (word_gen(w) != (gen & GEN_MASK)) return;
        const int parts = word_parts(w);
        const int64_t k = word_next(w);
        /* a dynamic job runs chunks with tid = self, which must stay below
         * its thread count (per-thread scratch); static chunks carry theirs */
        if ((word_dynamic(w) && self >= parts) || k >= atomic_load_explicit(&n_chunks, memory_order_acquire)) return;
        if (!atomic_compare_exchange_weak_explicit(&claim, &w, w + 1, memory_order_acq_rel, memory_order_relaxed))
            continue;
        /* chunk k of job `gen` is ours: the job cannot end before it does,
         * so its fields are stable */
        if (job.dynamic) {
            const int64_t b = k * job.grain, e = b + job.grain < job.n ? b + job.grain : job.n;
            job.fn(job.ctx, b, e, self);
        } else {
            const int64_t b = job.n * k / parts, e = job.n * (k + 1) / parts;
            if (b < e) job.fn(job.ctx, b, e, (int)k);
        }
        atomic_fetch_add_explicit(&done, 1, memory_order_release);
    }
}

static void *worker_main(void *arg) {
    const int self = (int)(intptr_t)arg; /* worker i is thread i (1-based) */
    uint64_t seen = 0;
    in_job = 1;
    for (;;) {
        uint64_t g;
        int spins = 0;
        while ((g = atomic_load(&generation)) == seen) {
            if (++spins < SPIN_ITERS) {
                cpu_relax();
                continue;
            }
            pthread_mutex_lock(&mu);
            atomic_fetch_add(&n_sleeping, 1);
            while ((g = atomic_load(&generation)) == seen) pthread_cond_wait(&cv_start, &mu);
            atomic_fetch_sub(&n_sleeping, 1);
            pthread_mutex_unlock(&mu);
            break;
        }
        seen = g;
        run_chunks(g, self);
    }
    return NULL;
}

static void pool_start(void) {
    int want = tcf_default_threads() - 1;
    for (int i = 0; i < want; i++) {
        pthread_t th;
        if (pthread_create(&th, NULL, worker_main, (void *)(intptr_t)(i + 1)) != 0) break;
        pthread_detach(th);
        n_workers++;
    }
}

static void run_job(int64_t n, int n_threads, int64_t grain, int dynamic, tcf_range_fn fn, void *ctx) {
    if (n <= 0) return;
    if (n_threads <= 0) n_threads = tcf_default_threads();
    int64_t chunks = dynamic ? (n + grain - 1) / grain : n;
    if (n_threads > chunks) n_threads = (int)chunks;
    if (n_threads > 1 && !in_job) {
        pthread_once(&pool_once, pool_start);
        if (n_threads > n_workers + 1) n_threads = n_workers + 1;
    }
    if (n_threads <= 1 || in_job) {
        fn(ctx, 0, n, 0);
        return;
    }
    if (dynamic)
        while ((n + grain - 1) / grain >= MAX_CHUNKS) grain *= 2;
    chunks = dynamic ? (n + grain - 1) / grain : n_threads;
    pthread_mutex_lock(&job_mu);
    /* the previous job is over (every claimed chunk done): invalidate its
     * claim word first, then describe the new job, then publish it */
    const uint64_t gen = atomic_load(&generation) + 1;
    atomic_store(&claim, claim_word(gen, dynamic, n_threads));
    job.fn = fn;
    job.ctx = ctx;
    job.n = n;
    job.grain = grain;
    job.dynamic = dynamic;
    atomic_store_explicit(&done, 0, memory_order_relaxed);
    atomic_store_explicit(&n_chunks, chunks, memory_order_release);
    atomic_store(&generation, gen);
    if (atomic_load(&n_sleeping) > 0) {
        pthread_mutex_lock(&mu);
        pthread_cond_broadcast(&cv_start);
        pthread_mutex_unlock(&mu);
    }
    in_job = 1;
    run_chunks(gen, 0);
    in_job = 0;
    /* only chunks claimed by running threads are left: wait for them */
    for (int spins = 0; atomic_load_explicit(&done, memory_order_acquire) < chunks; spins++) {
        if (spins < SPIN_ITERS) cpu_relax();
        else sched_yield();
    }
    pthread_mutex_unlock(&job_mu);
}

void tcf_parallel_for(int64_t n, int n_threads, tcf_range_fn fn, void *ctx) {
    run_job(n, n_threads, 1, 0, fn, ctx);
}

void tcf_parallel_for_dyn(int64_t n, int64_t grain, int n_threads, tcf_range_fn fn, void *ctx) {
    run_job(n, n_threads, grain > 0 ? grain : 1, 1, fn, ctx);
}
