/*
 * bench_i8gemm.c — Y = X @ W^T at all-MiniLM-L6-v2's linear-layer shapes:
 * f32 packed (tcf_gemm_packed), Q8_0 weights with X rounded to Q8_0 blocks
 * (tcf_qgemm_q8, llama.cpp's scheme) and per-row int8 weights with X rounded
 * with one scale per row (tcf_i8gemm), side by side in one run, for M = 1, 16, 64
 * and 640 rows (a batch of 32 texts of ~20 tokens). Prints GFLOP/s (2*M*N*K
 * per product) and each path's ratio to f32 and to q8_0. Each figure is the
 * best of --reps interleaved windows of --min-s seconds (the machine may be
 * shared). Weights are cycled through ~96 MB of copies so that f32 streams
 * from memory as in a forward pass through many layers.
 *
 *   make && cc -O2 -std=c11 -D_GNU_SOURCE -Iinclude -Isrc bench/bench_i8gemm.c \
 *       build/libtcf.a -lcjson -lutf8proc -lpcre2-8 -lmicrohttpd -lm -pthread -o build/bench_i8gemm
 *   build/bench_i8gemm [--threads 1] [--min-s 0.1] [--reps 3]
 */
#include "base/base.h"
#include "kern/i8gemm.h"
#include "kern/kern.h"
#include "kern/qgemm.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { P_F32, P_Q8, P_I8, NP };
static const char *pname[NP] = {"f32", "q8_0 x q8_0", "i8 row x i8"};

int main(int argc, char **argv) {
    int threads = 1, reps = 3;
    double min_s = 0.1;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--threads") && i + 1 < argc) threads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--min-s") && i + 1 < argc) min_s = atof(argv[++i]);
        else if (!strcmp(argv[i], "--reps") && i + 1 < argc) reps = atoi(argv[++i]);
        else {
            fprintf(stderr, "usage: %s [--threads T] [--min-s S] [--reps R]\n", argv[0]);
            return 2;
        }
    }
    static const struct { const char *name; int K, N; } shapes[] = {
        {"attn q/k/v/o", 384, 384}, {"ffn up", 384, 1536}, {"ffn down", 1536, 384}};
    const int Ms[] = {1, 16, 64, 640};
    printf("isa %s, %d thread(s), best of %d interleaved windows of %.2f s\n\n", tcf_kern_isa(), threads, reps, min_s);
    printf("| layer | K | N | M | f32 GFLOP/s | q8_0 x q8_0 | i8 row x i8 | i8 / q8_0 |\n|---|---|---|---|---|---|---|---|\n");
    for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++) {
        const int K = shapes[s].K, N = shapes[s].N;
        int copies = (int)(96e6 / (4.0 * K * N));
        float *w = malloc(sizeof(float) * (size_t)N * K);
        for (int64_t i = 0; i < (int64_t)N * K; i++) w[i] = (float)(((i * 7919) % 2001) - 1000) / 10000.0f;
        const size_t stride = tcf_gemm_packed_size(K, N);
        float *f32 = malloc(sizeof(float) * stride * copies);
        tcf_qmat *q8 = calloc(copies, sizeof *q8);
        tcf_i8mat *i8 = calloc(copies, sizeof *i8);
        for (int c = 0; c < copies; c++) {
            tcf_gemm_pack_b(K, N, w, K, 1, f32 + c * stride);
            tcf_qmat_quantize(&q8[c], TCF_QTYPE_Q8_0, N, K, w, K, 0);
            tcf_i8mat_quantize(&i8[c], N, K, w, K);
        }
        float *X = malloc(sizeof(float) * 640 * (size_t)K), *Y = malloc(sizeof(float) * 640 * (size_t)N);
        for (int64_t i = 0; i < 640 * (int64_t)K; i++) X[i] = (float)((i * 31) % 17) / 17.0f - 0.5f;
        size_t ws = tcf_qgemm_q8_work_size(640, K), ws2 = tcf_i8gemm_work_size(640, K);
        void *work = malloc(ws > ws2 ? ws : ws2);
        for (size_t mi = 0; mi < sizeof Ms / sizeof *Ms; mi++) {
            const int M = Ms[mi];
            double best[NP] = {0}, flops = 2.0 * M * N * K;
            int cur = 0;
            for (int rep = 0; rep < reps; rep++)
                for (int p = 0; p < NP; p++) {
                    int n = 0;
                    double t0 = tcf_now(), t;
                    do {
                        int c = cur++ % copies;
                        if (p == P_F32) tcf_gemm_packed(M, N, K, X, K, f32 + c * stride, Y, N, NULL, 0, threads);
                        else if (p == P_Q8) tcf_qgemm_q8(M, X, K, &q8[c], NULL, Y, N, 0, work, threads);
                        else tcf_i8gemm(M, X, K, &i8[c], NULL, Y, N, 0, work, threads);
                        n++;
                    } while ((t = tcf_now() - t0) < min_s);
                    if (flops * n / t / 1e9 > best[p]) best[p] = flops * n / t / 1e9;
                }
            printf("| %s | %d | %d | %d | %.1f | %.1f (%.2fx) | %.1f (%.2fx) | %.2fx |\n", shapes[s].name, K, N, M,
                   best[P_F32], best[P_Q8], best[P_Q8] / best[P_F32], best[P_I8], best[P_I8] / best[P_F32],
                   best[P_I8] / best[P_Q8]);
            fflush(stdout);
        }
        for (int c = 0; c < copies; c++) tcf_qmat_free(&q8[c]), tcf_i8mat_free(&i8[c]);
        free(q8), free(i8), free(f32), free(w), free(X), free(Y), free(work);
    }
    (void)pname;
    return 0;
}
