/*
 * base.h — internal helpers shared by every module: error reporting, checked
 * allocation sizes, whole-file reads, a small thread pool, timing.
 * Not part of the public API (see include/tcf.h).
 */
#ifndef TCF_BASE_H
#define TCF_BASE_H

#include "tcf.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Record a failure for tcf_last_error() and return `st`. Messages should name
 * the file / line / tensor and the cause: "x.safetensors: tensor 'w': ...". */
tcf_status tcf_fail(tcf_status st, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Prefix the current error message with "prefix: " and return `st`. */
tcf_status tcf_fail_prefix(tcf_status st, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void tcf_clear_error(void);

/* a*b without overflow; false on overflow. */
static inline bool tcf_mul_ok(size_t a, size_t b, size_t *out) {
    return !__builtin_mul_overflow(a, b, out);
}

/* Read a whole file into a NUL-terminated heap buffer (caller frees). */
tcf_status tcf_read_file(const char *path, char **data, size_t *len);
/* Map a whole regular file read-only (the caller munmaps *map, *len bytes).
 * A file shorter than min_len (or empty) fails with TCF_ERR_FORMAT:
 * "PATH: file is N bytes, too short WHY". */
tcf_status tcf_map_file(const char *path, size_t min_len, const char *why, void **map, size_t *len);
/* True if path exists and is a regular file. */
bool tcf_file_exists(const char *path);
/* snprintf into a fixed buffer; fails with TCF_ERR_ARG if it does not fit. */
tcf_status tcf_path_join(char *dst, size_t cap, const char *dir, const char *name);
/* mkdir -p: create dir and its missing parents (0755). */
tcf_status tcf_mkdirs(const char *dir);

/* Byte offset of the first invalid UTF-8 sequence in s[0..n) (overlongs,
 * surrogates and code points past U+10FFFF included), or -1 if none. */
int64_t tcf_utf8_invalid_at(const char *s, size_t n);

/* Seconds from a monotonic clock. */
double tcf_now(void);

/* ---- thread pool --------------------------------------------------------
 * One process-wide pool, started lazily. tcf_parallel_for splits [0, n) into
 * contiguous chunks, one per thread, and calls fn(ctx, begin, end, thread_idx)
 * for each; it returns when all are done. n_threads <= 0 means all cores.
 * Calls from inside a running fn run serially on the calling thread. */
typedef void (*tcf_range_fn)(void *ctx, int64_t begin, int64_t end, int tid);
void tcf_parallel_for(int64_t n, int n_threads, tcf_range_fn fn, void *ctx);
/* Like tcf_parallel_for, but threads claim chunks of `grain` items as they
 * go (load balancing); fn must not depend on which thread gets which chunk.
 * tid still indexes per-thread scratch (0 .. n_threads-1). */
void tcf_parallel_for_dyn(int64_t n, int64_t grain, int n_threads, tcf_range_fn fn, void *ctx);
int tcf_default_threads(void);

#endif /* TCF_BASE_H */
