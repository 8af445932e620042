/*
 * check.h — the minimal test harness. Each tests/test_*.c is its own program:
 * it calls CHECK / check_close and ends with `return check_summary("name");`,
 * which prints "N passed, N failed" and returns non-zero on any failure.
 * Numeric comparisons print the max difference they saw.
 */
#ifndef TCF_CHECK_H
#define TCF_CHECK_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

static int check_pass, check_fail;

#define CHECK(cond, ...)                                                     \
    do {                                                                     \
        if (cond) {                                                          \
            check_pass++;                                                    \
        } else {                                                             \
            check_fail++;                                                    \
            fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);  \
            fprintf(stderr, __VA_ARGS__);                                    \
            fputc('\n', stderr);                                             \
        }                                                                    \
    } while (0)

/* Compare n floats: |a-b| <= atol + rtol*|b| everywhere. Prints max abs diff. */
static inline int check_close(const char *what, const float *a, const float *b, long n,
                              double atol, double rtol) {
    double max_abs = 0, max_rel = 0;
    long bad = 0, first_bad = -1;
    for (long i = 0; i < n; i++) {
        double d = fabs((double)a[i] - (double)b[i]);
        if (!(d <= atol + rtol * fabs((double)b[i]))) {
            if (first_bad < 0) first_bad = i;
            bad++;
        }
        if (d > max_abs || d != d) max_abs = d;
        double r = d / (fabs((double)b[i]) + 1e-12);
        if (r > max_rel) max_rel = r;
    }
    printf("  %-48s n=%-9ld max_abs_diff=%.3g %s\n", what, n, max_abs, bad ? "MISMATCH" : "ok");
    if (bad) {
        check_fail++;
        fprintf(stderr, "FAIL %s: %ld of %ld values outside atol=%g rtol=%g (first at %ld: %g vs %g)\n",
                what, bad, n, atol, rtol, first_bad, (double)a[first_bad], (double)b[first_bad]);
        return 0;
    }
    check_pass++;
    return 1;
}

static inline int check_summary(const char *name) {
    printf("%s: %d passed, %d failed\n", name, check_pass, check_fail);
    return check_fail ? 1 : 0;
}

#endif
