/*
 * bench_embed.c — time tcf_model_embed (tokenize + forward + mean pool +
 * normalise) on texts read one per line; the peers are in bench_embed.py and
 * bench/run_embed.sh runs them all and prints the ratios.
 *
 * Measures, after a warm-up:
 *   batch 1:  each of the first --n1 texts alone; per-text latency p50/p90/p99
 *             (linear interpolation between ranks, as numpy's percentile).
 *   batch B:  all texts in file order cut into consecutive chunks of --batch
 *             (the peers use the same chunks; tcf_model_embed pads each chunk
 *             to its longest text, as they do); throughput in texts/s.
 * Tokenization alone (tcf_tokenizer_encode / _encode_batch) is timed in a
 * separate pass and reported beside. With --repeat R the timed passes run R
 * times; one JSON line per repeat goes to stdout.
 *
 * Not measured: model load, process start.
 *
 *   build/bench_embed --model models/all-MiniLM-L6-v2 --texts texts.txt \
 *       --threads 2 [--n 0] [--n1 0] [--batch 32] [--max-len 128] \
 *       [--warmup 8] [--repeat 1] [--emb-out PREFIX]
 * --emb-out writes PREFIX.tcf.b1.f32 (n1, C) and PREFIX.tcf.bN.f32 (n, C),
 * raw little-endian float32, from the last repeat.
 */
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

/* p in [0, 100] of sorted xs[n]; linear interpolation between closest ranks. */
static double percentile(const double *sorted, int n, double p) {
    double pos = p / 100.0 * (n - 1);
    int lo = (int)floor(pos), hi = lo + 1 < n ? lo + 1 : n - 1;
    return sorted[lo] + (pos - lo) * (sorted[hi] - sorted[lo]);
}

/* Lines of a file, without their "\n" / "\r\n"; empty lines dropped. */
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

static void usage(void) {
    fprintf(stderr,
            "usage: bench_embed --model DIR --texts FILE [--threads N] [--n N] [--n1 N]\n"
            "                   [--batch 32] [--max-len 128] [--warmup 8] [--repeat 1]\n"
            "                   [--emb-out PREFIX]\n");
}

#define CHECK(call)                                                                        \
    do {                                                                                   \
        tcf_status st_ = (call);                                                           \
        if (st_) {                                                                         \
            fprintf(stderr, "bench_embed: %s: %s\n", tcf_status_name(st_), tcf_last_error()); \
            return 1;                                                                      \
        }                                                                                  \
    } while (0)

int main(int argc, char **argv) {
    const char *model_dir = "models/all-MiniLM-L6-v2", *texts_path = NULL, *emb_out = NULL;
    int threads = 1, n_lim = 0, n1 = 0, batch = 32, max_len = 128, warmup = 8, repeat = 1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v) {
            usage();
            return 2;
        }
        if (!strcmp(a, "--model")) model_dir = v;
        else if (!strcmp(a, "--texts")) texts_path = v;
        else if (!strcmp(a, "--emb-out")) emb_out = v;
        else if (!strcmp(a, "--threads")) threads = atoi(v);
        else if (!strcmp(a, "--n")) n_lim = atoi(v);
        else if (!strcmp(a, "--n1")) n1 = atoi(v);
        else if (!strcmp(a, "--batch")) batch = atoi(v);
        else if (!strcmp(a, "--max-len")) max_len = atoi(v);
        else if (!strcmp(a, "--warmup")) warmup = atoi(v);
        else if (!strcmp(a, "--repeat")) repeat = atoi(v);
        else {
            usage();
            return 2;
        }
        i++;
    }
    if (!texts_path || threads < 1 || batch < 1 || max_len < 2 || repeat < 1) {
        usage();
        return 2;
    }
    int n_read = 0;
    char **texts = read_lines(texts_path, &n_read);
    int n = n_read;
    if (!texts || n == 0) {
        fprintf(stderr, "bench_embed: %s: cannot read texts (or none)\n", texts_path);
        return 1;
    }
    if (n_lim > 0 && n_lim < n) n = n_lim;
    if (n1 <= 0 || n1 > n) n1 = n;
    if (warmup > n) warmup = n;

    tcf_model *m = NULL;
    CHECK(tcf_model_load(model_dir, &m));
    const tcf_tokenizer *tok = tcf_model_tokenizer(m);
    const int C = tcf_model_hidden_size(m);
    const char *const *tx = (const char *const *)texts;
    float *emb1 = malloc(sizeof(float) * (size_t)n1 * C);   /* (n1, C) batch-1 outputs */
    float *embN = malloc(sizeof(float) * (size_t)n * C);    /* (n, C) batch-B outputs */
    double *lat = malloc(sizeof(double) * (size_t)n1);      /* (n1) seconds */
    int32_t *ids = malloc(sizeof(int32_t) * (size_t)batch * max_len); /* (batch, max_len) */
    int32_t **rows = malloc(sizeof(int32_t *) * (size_t)batch);
    int *caps = malloc(sizeof(int) * (size_t)batch), *cnt = malloc(sizeof(int) * (size_t)batch);
    if (!emb1 || !embN || !lat || !ids || !rows || !caps || !cnt) {
        fprintf(stderr, "bench_embed: out of memory\n");
        return 1;
    }
    for (int b = 0; b < batch; b++) rows[b] = ids + (size_t)b * max_len, caps[b] = max_len;
    const tcf_encode_opts eo = {1, max_len};

    /* warm-up: a few single texts and two full batches (thread pool start,
     * page faults in the weights and workspaces) */
    for (int i = 0; i < warmup; i++)
        CHECK(tcf_model_embed(m, 1, tx + i, TCF_POOL_MEAN, 1, max_len, 1, threads, emb1));
    for (int s = 0; s < n && s < 2 * batch; s += batch) {
        int B = n - s < batch ? n - s : batch;
        CHECK(tcf_model_embed(m, B, tx + s, TCF_POOL_MEAN, 1, max_len, batch, threads,
                              embN + (size_t)s * C));
    }

    for (int r = 0; r < repeat; r++) {
        double lat_sum = 0;
        for (int i = 0; i < n1; i++) {
            double t0 = now_s();
            CHECK(tcf_model_embed(m, 1, tx + i, TCF_POOL_MEAN, 1, max_len, 1, threads,
                                  emb1 + (size_t)i * C));
            lat[i] = now_s() - t0;
            lat_sum += lat[i];
        }
        qsort(lat, (size_t)n1, sizeof *lat, cmp_double);

        double t0 = now_s();
        for (int s = 0; s < n; s += batch) {
            int B = n - s < batch ? n - s : batch;
            CHECK(tcf_model_embed(m, B, tx + s, TCF_POOL_MEAN, 1, max_len, batch, threads,
                                  embN + (size_t)s * C));
        }
        double total = now_s() - t0;

        /* tokenization alone, same calls tcf_model_embed makes */
        double tok1 = 0, tokN = 0;
        for (int i = 0; i < n1; i++) {
            int k;
            double a = now_s();
            CHECK(tcf_tokenizer_encode(tok, tx[i], strlen(tx[i]), &eo, ids, max_len, &k));
            tok1 += now_s() - a;
        }
        t0 = now_s();
        for (int s = 0; s < n; s += batch) {
            int B = n - s < batch ? n - s : batch;
            CHECK(tcf_tokenizer_encode_batch(tok, B, tx + s, NULL, &eo, rows, caps, cnt, threads));
        }
        tokN = now_s() - t0;

        printf("{\"engine\": \"tcf\", \"threads\": %d, \"max_len\": %d, \"repeat\": %d, "
               "\"b1\": {\"n\": %d, \"p50_ms\": %.4f, \"p90_ms\": %.4f, \"p99_ms\": %.4f, "
               "\"mean_ms\": %.4f, \"tok_mean_ms\": %.5f}, "
               "\"bN\": {\"batch\": %d, \"n\": %d, \"total_s\": %.5f, \"texts_per_s\": %.3f, "
               "\"tok_s\": %.6f}}\n",
               threads, max_len, r, n1, 1e3 * percentile(lat, n1, 50), 1e3 * percentile(lat, n1, 90),
               1e3 * percentile(lat, n1, 99), 1e3 * lat_sum / n1, 1e3 * tok1 / n1, batch, n, total,
               n / total, tokN);
        fflush(stdout);
    }

    if (emb_out) {
        char path[4096];
        snprintf(path, sizeof path, "%s.tcf.b1.f32", emb_out);
        int bad = write_f32(path, emb1, (size_t)n1 * C);
        snprintf(path, sizeof path, "%s.tcf.bN.f32", emb_out);
        bad |= write_f32(path, embN, (size_t)n * C);
        if (bad) {
            fprintf(stderr, "bench_embed: cannot write %s.tcf.*.f32\n", emb_out);
            return 1;
        }
    }
    tcf_model_free(m);
    for (int i = 0; i < n_read; i++) free(texts[i]);
    free(texts);
    free(emb1), free(embN), free(lat), free(ids), free(rows), free(caps), free(cnt);
    return 0;
}
