/*
 * pool.c — a process-wide thread pool for data-parallel loops.
 *
 * Workers are started on first use and live until exit. A job covers [0, n):
 *   - tcf_parallel_for: one contiguous chunk per participating thread (static;
 *     chunk i goes to thread i, so callers may rely on the order);
 *   - tcf_parallel_for_dyn: threads claim `grain`-sized chunks from an atomic
 *     counter until none is left, so a thread slowed by another process does
 *     not hold the others up. Callers must not depend on which thread runs
 *     which chunk (each item's result must be independent of it).
 * The caller takes part as thread 0. A forward pass issues dozens of jobs, so
 * workers spin briefly on the job counter before sleeping on a condition
 * variable, which keeps the hand-off in microseconds. Every worker joins every
 * job (idle ones just check in), so one job cannot start while a worker is
 * still reading the previous one. Jobs from different caller threads are
 * serialised by a mutex; a call made from inside a job runs serially.
 */
#include "base/base.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

#define MAX_THREADS 256
#define SPIN_ITERS (1 << 14) /* pause loops before sleeping: ~0.2-0.5 ms */

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define cpu_relax() _mm_pause()
#else
#define cpu_relax() ((void)0)
#endif

static pthread_once_t pool_once = PTHREAD_ONCE_INIT;
static pthread_mutex_t job_mu = PTHREAD_MUTEX_INITIALIZER; /* one job at a time */
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv_start = PTHREAD_COND_INITIALIZER;
static pthread_cond_t cv_done = PTHREAD_COND_INITIALIZER;
static int n_workers;                 /* started worker threads (excludes callers) */
static _Atomic uint64_t generation;   /* bumped per job */
static atomic_int pending;            /* workers that have not finished the job */
static _Atomic int64_t next_item;     /* dynamic jobs: next unclaimed item */
static struct {
    tcf_range_fn fn;
    void *ctx;
    int64_t n, grain;
    int parts, dynamic;
} job;
static _Thread_local int in_job;

int tcf_default_threads(void) {
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    if (n < 1) n = 1;
    if (n > MAX_THREADS) n = MAX_THREADS;
    return (int)n;
}

static void run_part(int part) {
    if (part >= job.parts) return;
    if (job.dynamic) {
        for (;;) {
            int64_t b = atomic_fetch_add_explicit(&next_item, job.grain, memory_order_relaxed);
            if (b >= job.n) break;
            job.fn(job.ctx, b, b + job.grain < job.n ? b + job.grain : job.n, part);
        }
        return;
    }
    int64_t n = job.n, parts = job.parts;
    int64_t begin = n * part / parts, end = n * (part + 1) / parts;
    if (begin < end) job.fn(job.ctx, begin, end, part);
}

static void *worker_main(void *arg) {
    int part = (int)(intptr_t)arg; /* worker i is thread i (1-based) */
    uint64_t seen = 0;
    in_job = 1;
    for (;;) {
        uint64_t g;
        int spins = 0;
        while ((g = atomic_load_explicit(&generation, memory_order_acquire)) == seen) {
            if (++spins < SPIN_ITERS) {
                cpu_relax();
                continue;
            }
            pthread_mutex_lock(&mu);
            while ((g = atomic_load_explicit(&generation, memory_order_acquire)) == seen)
                pthread_cond_wait(&cv_start, &mu);
            pthread_mutex_unlock(&mu);
            break;
        }
        seen = g;
        run_part(part);
        if (atomic_fetch_sub_explicit(&pending, 1, memory_order_acq_rel) == 1) {
            pthread_mutex_lock(&mu);
            pthread_cond_signal(&cv_done);
            pthread_mutex_unlock(&mu);
        }
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
    pthread_mutex_lock(&job_mu);
    job.fn = fn;
    job.ctx = ctx;
    job.n = n;
    job.grain = grain;
    job.parts = n_threads;
    job.dynamic = dynamic;
    atomic_store_explicit(&next_item, 0, memory_order_relaxed);
    atomic_store_explicit(&pending, n_workers, memory_order_relaxed);
    pthread_mutex_lock(&mu);
    atomic_fetch_add_explicit(&generation, 1, memory_order_release);
    pthread_cond_broadcast(&cv_start);
    pthread_mutex_unlock(&mu);

    in_job = 1;
    run_part(0);
    in_job = 0;

    int spins = 0;
    while (atomic_load_explicit(&pending, memory_order_acquire) > 0 && ++spins < SPIN_ITERS) cpu_relax();
    if (atomic_load_explicit(&pending, memory_order_acquire) > 0) {
        pthread_mutex_lock(&mu);
        while (atomic_load_explicit(&pending, memory_order_acquire) > 0) pthread_cond_wait(&cv_done, &mu);
        pthread_mutex_unlock(&mu);
    }
    pthread_mutex_unlock(&job_mu);
}

void tcf_parallel_for(int64_t n, int n_threads, tcf_range_fn fn, void *ctx) {
    run_job(n, n_threads, 1, 0, fn, ctx);
}

void tcf_parallel_for_dyn(int64_t n, int64_t grain, int n_threads, tcf_range_fn fn, void *ctx) {
    run_job(n, n_threads, grain > 0 ? grain : 1, 1, fn, ctx);
}
