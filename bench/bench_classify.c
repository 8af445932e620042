/*
 * bench_classify.c — time tcf_classifier_classify (tokenize + encoder +
 * pooler + head + softmax) on texts read one per line; the peers (torch,
 * onnxruntime fp32 and int8) are in bench_classify.py and
 * bench/run_classify.sh runs them all and prints the ratios.
 *
 * Measures, after a warm-up (as bench_embed.c):
 *   batch 1:  each of the first --n1 texts alone; latency p50/p90/p99;
 *   batch B:  all texts in file order in consecutive chunks of --batch;
 *             texts/s.
 * One JSON line per repeat on stdout (bench_embed.py's format, engine
 * "tcf"). --probs-out writes PREFIX.tcf.b1.f32 (n1, K) and
 * PREFIX.tcf.bN.f32 (n, K) from the last repeat.
 *
 *   build/bench_classify --model RUN/|MODEL.gguf --texts FILE --threads N
 *       [--n 0] [--n1 0] [--batch 32] [--warmup 8] [--repeat 1]
 *       [--probs-out PREFIX] [--engine NAME] [--qpath auto|decode|int8]
 */
#define _GNU_SOURCE
#include "tcf.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double percentile(const double *sorted, int n, double p) {
    double pos = p / 100.0 * (n - 1);
    int lo = (int)floor(pos), hi = lo + 1 < n ? lo + 1 : n - 1;
    return sorted[lo] + (pos - lo) * (sorted[hi] - sorted[lo]);
}

static char **read_lines(const char *path, int *n_out) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    int n = 0, cap = 1024;
    char **lines = malloc(sizeof *lines * cap);
    char *line = NULL;
    size_t lcap = 0;
    ssize_t len;
    while (lines && (len = getline(&line, &lcap, f)) >= 0) {
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r')) line[--len] = 0;
        if (len == 0) continue;
        if (n == cap) {
            char **grown = realloc(lines, sizeof *lines * (cap *= 2));
            if (!grown) break;
            lines = grown;
        }
        lines[n++] = strdup(line);
    }
    free(line);
    fclose(f);
    *n_out = n;
    return lines;
}

static int write_f32(const char *path, const float *x, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    size_t w = fwrite(x, sizeof(float), n, f);
    return fclose(f) == 0 && w == n ? 0 : -1;
}

#define CHECK(call)                                                                              \
    do {                                                                                         \
        tcf_status st_ = (call);                                                                 \
        if (st_) {                                                                               \
            fprintf(stderr, "bench_classify: %s: %s\n", tcf_status_name(st_), tcf_last_error()); \
            return 1;                                                                            \
        }                                                                                        \
    } while (0)

int main(int argc, char **argv) {
    const char *model = NULL, *texts_path = NULL, *out = NULL, *engine = "tcf";
    int threads = 1, n_lim = 0, n1 = 0, batch = 32, warmup = 8, repeat = 1, qpath = TCF_QPATH_AUTO;
    for (int i = 1; i + 1 < argc; i += 2) {
        const char *a = argv[i], *v = argv[i + 1];
        if (!strcmp(a, "--model")) model = v;
        else if (!strcmp(a, "--texts")) texts_path = v;
        else if (!strcmp(a, "--probs-out")) out = v;
        else if (!strcmp(a, "--engine")) engine = v;
        else if (!strcmp(a, "--threads")) threads = atoi(v);
        else if (!strcmp(a, "--n")) n_lim = atoi(v);
        else if (!strcmp(a, "--n1")) n1 = atoi(v);
        else if (!strcmp(a, "--batch")) batch = atoi(v);
        else if (!strcmp(a, "--warmup")) warmup = atoi(v);
        else if (!strcmp(a, "--repeat")) repeat = atoi(v);
        else if (!strcmp(a, "--qpath")) qpath = !strcmp(v, "decode") ? TCF_QPATH_DECODE : !strcmp(v, "int8") ? TCF_QPATH_INT8 : !strcmp(v, "auto") ? TCF_QPATH_AUTO : -1;
        else {
            fprintf(stderr, "bench_classify: unknown option %s\n", a);
            return 2;
        }
    }
    if (!model || !texts_path || threads < 1 || batch < 1 || repeat < 1) {
        fprintf(stderr, "usage: bench_classify --model RUN --texts FILE [--threads N] [--n N] [--n1 N] "
                        "[--batch 32] [--warmup 8] [--repeat 1] [--probs-out PREFIX] [--engine NAME] "
                        "[--qpath auto|decode|int8]\n");
        return 2;
    }
    int n = 0;
    char **texts = read_lines(texts_path, &n);
    if (!texts || n == 0) {
        fprintf(stderr, "bench_classify: %s: cannot read texts (or none)\n", texts_path);
        return 1;
    }
    if (n_lim > 0 && n_lim < n) n = n_lim;
    if (n1 <= 0 || n1 > n) n1 = n;
    if (warmup > n) warmup = n;
    double t_load = now_s();
    tcf_classifier *c = NULL;
    tcf_classifier_opts o = {threads, batch, 0, 0, qpath};
    CHECK(tcf_classifier_load(model, &o, &c));
    t_load = now_s() - t_load;
    const int K = tcf_classifier_n_classes(c);
    const char *const *tx = (const char *const *)texts;
    float *p1 = malloc(sizeof(float) * (size_t)n1 * K), *pN = malloc(sizeof(float) * (size_t)n * K);
    double *lat = malloc(sizeof(double) * (size_t)n1);
    if (!p1 || !pN || !lat) return 1;
    for (int i = 0; i < warmup; i++) CHECK(tcf_classifier_classify(c, 1, tx + i, NULL, p1));
    for (int s = 0; s < n && s < 2 * batch; s += batch)
        CHECK(tcf_classifier_classify(c, n - s < batch ? n - s : batch, tx + s, NULL, pN + (size_t)s * K));
    for (int r = 0; r < repeat; r++) {
        double lat_sum = 0;
        for (int i = 0; i < n1; i++) {
            double t0 = now_s();
            CHECK(tcf_classifier_classify(c, 1, tx + i, NULL, p1 + (size_t)i * K));
            lat[i] = now_s() - t0;
            lat_sum += lat[i];
        }
        qsort(lat, (size_t)n1, sizeof *lat, cmp_double);
        double t0 = now_s();
        for (int s = 0; s < n; s += batch)
            CHECK(tcf_classifier_classify(c, n - s < batch ? n - s : batch, tx + s, NULL, pN + (size_t)s * K));
        double total = now_s() - t0;
        printf("{\"engine\": \"%s\", \"threads\": %d, \"max_len\": %d, \"repeat\": %d, \"load_s\": %.4f, "
               "\"b1\": {\"n\": %d, \"p50_ms\": %.4f, \"p90_ms\": %.4f, \"p99_ms\": %.4f, "
               "\"mean_ms\": %.4f, \"tok_mean_ms\": 0}, "
               "\"bN\": {\"batch\": %d, \"n\": %d, \"total_s\": %.5f, \"texts_per_s\": %.3f, \"tok_s\": 0}}\n",
               engine, threads, tcf_classifier_max_len(c), r, t_load, n1, 1e3 * percentile(lat, n1, 50),
               1e3 * percentile(lat, n1, 90), 1e3 * percentile(lat, n1, 99), 1e3 * lat_sum / n1, batch, n, total,
               n / total);
        fflush(stdout);
    }
    if (out) {
        char path[4096];
        snprintf(path, sizeof path, "%s.%s.b1.f32", out, engine);
        int bad = write_f32(path, p1, (size_t)n1 * K);
        snprintf(path, sizeof path, "%s.%s.bN.f32", out, engine);
        bad |= write_f32(path, pN, (size_t)n * K);
        if (bad) {
            fprintf(stderr, "bench_classify: cannot write %s.*.f32\n", out);
            return 1;
        }
    }
    tcf_classifier_free(c);
    return 0;
}
