/*
 * bench_llama.c — time tcf_llama_forward on a fixed batch of token ids.
 *
 *   bench_llama MODEL IDS.i32 B T THREADS REPEAT OUT.f32
 *
 * Reads B*T int32 ids (every token real: no padding), runs one warm-up
 * forward, then REPEAT timed ones, prints one JSON line
 * {"engine": "tcf", "threads": N, "times": [...], "median_s": ..., "tokens_per_s": ...}
 * and writes the last token's hidden state of each row, (B, C) f32, to OUT
 * so the driver can compare it with the peer's. Run by bench/run_llama.sh.
 */
#include "base/base.h"
#include "model/llama.h"

#include <stdio.h>
#include <stdlib.h>

static int cmp_d(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv) {
    if (argc != 8) {
        fprintf(stderr, "usage: bench_llama MODEL IDS.i32 B T THREADS REPEAT OUT.f32\n");
        return 2;
    }
    int B = atoi(argv[3]), T = atoi(argv[4]), threads = atoi(argv[5]), rep = atoi(argv[6]);
    tcf_llama *m;
    if (tcf_llama_load(argv[1], &m)) {
        fprintf(stderr, "%s\n", tcf_last_error());
        return 1;
    }
    char *buf;
    size_t len;
    if (tcf_read_file(argv[2], &buf, &len) || len != (size_t)B * T * 4) {
        fprintf(stderr, "%s: want %d x %d int32 ids\n", argv[2], B, T);
        return 1;
    }
    const int32_t *ids = (const int32_t *)buf;
    const int C = m->cfg.hidden;
    uint8_t *mask = malloc((size_t)B * T);
    float *h = malloc(sizeof(float) * (size_t)B * T * C);
    double *times = malloc(sizeof(double) * (size_t)rep);
    for (int i = 0; i < B * T; i++) mask[i] = 1;
    if (tcf_llama_forward(m, B, T, ids, mask, h, threads)) {
        fprintf(stderr, "%s\n", tcf_last_error());
        return 1;
    }
    for (int r = 0; r < rep; r++) {
        double t0 = tcf_now();
        tcf_llama_forward(m, B, T, ids, mask, h, threads);
        times[r] = tcf_now() - t0;
    }
    FILE *f = fopen(argv[7], "wb");
    for (int b = 0; b < B; b++) fwrite(h + ((size_t)b * T + T - 1) * C, sizeof(float), (size_t)C, f);
    fclose(f);
    printf("{\"engine\": \"tcf\", \"threads\": %d, \"times\": [", threads);
    for (int r = 0; r < rep; r++) printf(r ? ", %.4f" : "%.4f", times[r]);
    qsort(times, (size_t)rep, sizeof *times, cmp_d);
    double med = times[rep / 2];
    printf("], \"median_s\": %.4f, \"tokens_per_s\": %.1f}\n", med, B * T / med);
    free(times), free(h), free(mask), free(buf);
    tcf_llama_free(m);
    return 0;
}
