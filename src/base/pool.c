/*
 * pool.c — a process-wide thread pool for data-parallel loops.
 *
 * Workers are started on first use and live until exit. A job splits [0, n)
 * into one contiguous chunk per participating thread; the caller runs chunk 0
 * itself. Jobs from different caller threads are serialised by a mutex; a call
 * made from inside a job runs serially (no nested parallelism, no deadlock).
 * Chunking is static, so results are independent of scheduling.
 */
#include "base/base.h"

#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

#define MAX_THREADS 256

static pthread_once_t pool_once = PTHREAD_ONCE_INIT;
static pthread_mutex_t job_mu = PTHREAD_MUTEX_INITIALIZER;  /* one job at a time */
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv_start = PTHREAD_COND_INITIALIZER;
static pthread_cond_t cv_done = PTHREAD_COND_INITIALIZER;
static int n_workers;          /* started worker threads (excludes callers) */
static uint64_t generation;    /* bumped per job */
static int pending;            /* workers still running the current job */
static struct {
    tcf_range_fn fn;
    void *ctx;
    int64_t n;
    int parts;
} job;
static _Thread_local int in_job;

int tcf_default_threads(void) {
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    if (n < 1) n = 1;
    if (n > MAX_THREADS) n = MAX_THREADS;
    return (int)n;
}

static void run_part(int part) {
    int64_t n = job.n, parts = job.parts;
    int64_t begin = n * part / parts, end = n * (part + 1) / parts;
    if (begin < end) job.fn(job.ctx, begin, end, part);
}

static void *worker_main(void *arg) {
    int part = (int)(intptr_t)arg;  /* worker i runs chunk i (1-based) */
    uint64_t seen = 0;
    in_job = 1;
    pthread_mutex_lock(&mu);
    for (;;) {
        while (generation == seen) pthread_cond_wait(&cv_start, &mu);
        seen = generation;
        int active = part < job.parts;
        pthread_mutex_unlock(&mu);
        if (active) run_part(part);
        pthread_mutex_lock(&mu);
        if (active && --pending == 0) pthread_cond_signal(&cv_done);
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

void tcf_parallel_for(int64_t n, int n_threads, tcf_range_fn fn, void *ctx) {
    if (n <= 0) return;
    if (n_threads <= 0) n_threads = tcf_default_threads();
    if (n_threads > n) n_threads = (int)n;
    if (n_threads <= 1 || in_job) {
        fn(ctx, 0, n, 0);
        return;
    }
    pthread_once(&pool_once, pool_start);
    if (n_threads > n_workers + 1) n_threads = n_workers + 1;
    if (n_threads <= 1) {
        fn(ctx, 0, n, 0);
        return;
    }
    pthread_mutex_lock(&job_mu);
    pthread_mutex_lock(&mu);
    job.fn = fn;
    job.ctx = ctx;
    job.n = n;
    job.parts = n_threads;
    pending = n_threads - 1;
    generation++;
    pthread_cond_broadcast(&cv_start);
    pthread_mutex_unlock(&mu);

    in_job = 1;
    run_part(0);
    in_job = 0;

    pthread_mutex_lock(&mu);
    while (pending > 0) pthread_cond_wait(&cv_done, &mu);
    pthread_mutex_unlock(&mu);
    pthread_mutex_unlock(&job_mu);
}
