/*
 * bench_qgemm.c — Y = X @ W^T with W in f32 (packed, tcf_gemm_packed: the
 * peer) and quantized (src/kern/qgemm.c) side by side in one run, at the
 * linear-layer shapes of all-MiniLM-L6-v2 and SmolLM2-135M, for M = 1, 16 and
 * 1024 (64 texts x 16 tokens) rows, 1 and 2 threads. Prints GFLOP/s
 * (2*M*N*K per product) and the ratio to f32, and the memory per weight.
 *
 * Paths: f32 packed; q8_0, q4_0, q4_1, nf4, nf4+double-quant decoded on the
 * fly (tcf_qgemm); q8_0, q4_0 and q4_1 with X quantized to Q8_0 and integer dots
 * (tcf_qgemm_q8); q4_k both ways where K is whole super-blocks of 256 (else
 * "-"); with --bwd also dX = dY @ W (tcf_gemm on the f32 weight vs
 * tcf_qgemm_bwd) at the largest M.
 *
 * Weights are cycled: each path holds C copies of the same weight, with C
 * chosen so the f32 copies take --mb MB (default 96, past the 32 MB L3), and
 * every call uses the next copy, as a forward pass walks through a model's
 * layers; so f32 streams from DRAM while the smaller formats may stay in L3,
 * which is their point. Each figure is the best of --reps (3) windows of
 * >= --min-s seconds, the paths' windows interleaved (the machine is shared).
 *
 *   make && cc -O2 -std=c11 -D_GNU_SOURCE -Iinclude -Isrc bench/bench_qgemm.c \
 *       build/libtcf.a -lcjson -lutf8proc -lm -pthread -o build/bench_qgemm
 *   build/bench_qgemm [--threads 2] [--mb 96] [--min-s 0.1] [--bwd]
 */
#include "base/base.h"
#include "kern/kern.h"
#include "kern/qgemm.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const char *model, *name;
    int K, N;
} shape;

static const shape shapes[] = {
    {"MiniLM", "attn q/k/v/o", 384, 384},
    {"MiniLM", "ffn up", 384, 1536},
    {"MiniLM", "ffn down", 1536, 384},
    {"SmolLM2", "attn q/o", 576, 576},
    {"SmolLM2", "attn k/v (kv 192)", 576, 192},
    {"SmolLM2", "mlp gate/up", 576, 1536},
    {"SmolLM2", "mlp down", 1536, 576},
};

enum { P_F32, P_Q8_0, P_Q4_0, P_Q4_1, P_NF4, P_NF4DQ, P_Q8_0_I8, P_Q4_0_I8, P_Q4_1_I8, P_Q4_K, P_Q4_K_I8, NP };
static const char *pname[NP] = {"f32",     "q8_0",    "q4_0",    "q4_1", "nf4",    "nf4-dq",
                                "q8_0 x8", "q4_0 x8", "q4_1 x8", "q4_k", "q4_k x8"};

typedef struct {
    int copies, M, n_threads;
    const float *X;
    float *Y;
    float *f32;            /* copies x packed */
    size_t f32_stride;     /* floats per packed copy */
    tcf_qmat *q[NP];       /* copies per path */
    void *work;
} ctx;

static int cur;

static void call(ctx *c, int p, int K, int N) {
    int i = cur++ % c->copies;
    switch (p) {
    case P_F32:
        tcf_gemm_packed(c->M, N, K, c->X, K, c->f32 + i * c->f32_stride, c->Y, N, NULL, 0, c->n_threads);
        break;
    case P_Q8_0_I8:
    case P_Q4_0_I8:
    case P_Q4_1_I8:
    case P_Q4_K_I8:
        tcf_qgemm_q8(c->M, c->X, K, &c->q[p][i], NULL, c->Y, N, 0, c->work, c->n_threads);
        break;
    default: tcf_qgemm(c->M, c->X, K, &c->q[p][i], NULL, c->Y, N, 0, c->n_threads);
    }
}

/* Best GFLOP/s of every path over `reps` rounds; each round times one window
 * of each path in turn, so a burst of load from other processes hits all
 * paths alike rather than one. */
static void best_gflops(ctx *c, int K, int N, double min_s, int reps, double *best) {
    const double flops = 2.0 * c->M * N * K;
    for (int p = 0; p < NP; p++) {
        best[p] = 0;
        if (p && !c->q[p]) continue; /* Q4_K: K not whole super-blocks */
        call(c, p, K, N);
    }
    for (int rep = 0; rep < reps; rep++)
        for (int p = 0; p < NP; p++) {
            if (p && !c->q[p]) continue;
            int n = 0;
            double t0 = tcf_now(), t;
            do {
                call(c, p, K, N);
                n++;
            } while ((t = tcf_now() - t0) < min_s);
            double g = flops * n / t / 1e9;
            if (g > best[p]) best[p] = g;
        }
}

int main(int argc, char **argv) {
    int max_threads = 2, bwd = 0, reps = 3;
    double mb = 96, min_s = 0.1;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--threads") && i + 1 < argc) max_threads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--mb") && i + 1 < argc) mb = atof(argv[++i]);
        else if (!strcmp(argv[i], "--min-s") && i + 1 < argc) min_s = atof(argv[++i]);
        else if (!strcmp(argv[i], "--reps") && i + 1 < argc) reps = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--bwd")) bwd = 1;
        else {
            fprintf(stderr, "usage: %s [--threads T] [--mb MB] [--min-s S] [--reps R] [--bwd]\n", argv[0]);
            return 2;
        }
    }
    const int Ms[] = {1, 16, 1024};
    printf("isa %s; weights cycled through %.0f MB of f32 copies; best of %d interleaved windows of %.2f s\n\n",
           tcf_kern_isa(), mb, reps, min_s);
    printf("memory per weight (bits), K=384 N=1536:");
    {
        float *w = malloc(384 * 1536 * 4);
        for (int64_t i = 0; i < 384 * 1536; i++) w[i] = (float)((i * 7919) % 1000) / 1000.0f - 0.5f;
        const tcf_qtype ts[] = {TCF_QTYPE_Q8_0, TCF_QTYPE_Q4_0, TCF_QTYPE_Q4_1, TCF_QTYPE_NF4, TCF_QTYPE_NF4};
        printf(" f32 32");
        for (int t = 0; t < 5; t++) {
            tcf_qmat W;
            tcf_qmat_quantize(&W, ts[t], 1536, 384, w, 384, t == 4);
            printf(", %s %.3f (1/%.2f of f32)", t == 4 ? "nf4-dq" : tcf_qtype_name(ts[t]),
                   8.0 * tcf_qmat_bytes(&W) / (384.0 * 1536), 384.0 * 1536 * 4 / tcf_qmat_bytes(&W));
            tcf_qmat_free(&W);
        }
        printf("\n\n");
        free(w);
    }
    printf("| model | layer | K | N | M | thr |");
    for (int p = 0; p < NP; p++) printf(" %s |", pname[p]);
    printf("\n|---|---|---|---|---|---|");
    for (int p = 0; p < NP; p++) printf("---|");
    printf("\n");
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        const int K = shapes[s].K, N = shapes[s].N;
        ctx c = {0};
        c.copies = (int)(mb * 1e6 / (4.0 * K * N));
        if (c.copies < 1) c.copies = 1;
        float *w = malloc((size_t)N * K * 4);
        for (int64_t i = 0; i < (int64_t)N * K; i++) w[i] = (float)(((i * 7919) % 2001) - 1000) / 10000.0f;
        c.f32_stride = tcf_gemm_packed_size(K, N);
        c.f32 = malloc(c.f32_stride * 4 * c.copies);
        tcf_gemm_pack_b(K, N, w, K, 1, c.f32);
        for (int i = 1; i < c.copies; i++) memcpy(c.f32 + i * c.f32_stride, c.f32, c.f32_stride * 4);
        const tcf_qtype qt[NP] = {0, TCF_QTYPE_Q8_0, TCF_QTYPE_Q4_0, TCF_QTYPE_Q4_1, TCF_QTYPE_NF4, TCF_QTYPE_NF4,
                                  TCF_QTYPE_Q8_0, TCF_QTYPE_Q4_0, TCF_QTYPE_Q4_1, TCF_QTYPE_Q4_K, TCF_QTYPE_Q4_K};
        for (int p = 1; p < NP; p++) {
            c.q[p] = NULL;
            if (qt[p] == TCF_QTYPE_Q4_K && K % 256) continue;
            c.q[p] = calloc(c.copies, sizeof(tcf_qmat));
            tcf_qmat_quantize(&c.q[p][0], qt[p], N, K, w, K, p == P_NF4DQ);
            for (int i = 1; i < c.copies; i++) tcf_qmat_quantize(&c.q[p][i], qt[p], N, K, w, K, p == P_NF4DQ);
        }
        const int KN = N > K ? N : K;
        float *X = malloc((size_t)1024 * KN * 4), *Y = malloc((size_t)1024 * (N > K ? N : K) * 4);
        for (int64_t i = 0; i < (int64_t)1024 * KN; i++) X[i] = (float)((i * 31) % 17) / 17.0f - 0.5f;
        c.X = X;
        c.Y = Y;
        c.work = malloc(tcf_qgemm_q8_work_size(1024, K));
        for (int mi = 0; mi < 3; mi++)
            for (int t = 1; t <= max_threads; t++) {
                c.M = Ms[mi];
                c.n_threads = t;
                double g[NP];
                best_gflops(&c, K, N, min_s, reps, g);
                printf("| %s | %s | %d | %d | %d | %d | %.1f |", shapes[s].model, shapes[s].name, K, N, c.M, t, g[0]);
                for (int p = 1; p < NP; p++)
                    if (c.q[p]) printf(" %.1f (%.2fx) |", g[p], g[p] / g[0]);
                    else printf(" - |");
                printf("\n");
                fflush(stdout);
            }
        if (bwd) {
            /* dX (M, K) = dY (M, N) @ W: the f32 weight plain (N, K) */
            float *wf = malloc((size_t)N * K * 4);
            memcpy(wf, w, (size_t)N * K * 4);
            for (int t = 1; t <= max_threads; t++) {
                const int M = 1024;
                double flops = 2.0 * M * N * K, best[3] = {0, 0, 0};
                for (int rep = 0; rep < reps; rep++)
                    for (int p = 0; p < 3; p++) {
                        int n = 0;
                        double t0 = tcf_now(), el;
                        do {
                            int i = cur++ % c.copies;
                            if (p == 0) tcf_gemm(M, K, N, X, N, wf, K, Y, K, NULL, 0, t);
                            else tcf_qgemm_bwd(M, X, N, &c.q[p == 1 ? P_Q8_0 : P_NF4][i], Y, K, 0, t);
                            n++;
                        } while ((el = tcf_now() - t0) < min_s);
                        if (flops * n / el / 1e9 > best[p]) best[p] = flops * n / el / 1e9;
                    }
                printf("| %s | %s bwd dX | %d | %d | %d | %d | %.1f | %.1f (%.2fx) | | | %.1f (%.2fx) nf4 | | | | | | |\n",
                       shapes[s].model, shapes[s].name, K, N, M, t, best[0], best[1], best[1] / best[0], best[2],
                       best[2] / best[0]);
            }
            free(wf);
        }
        for (int p = 1; p < NP; p++) {
            for (int i = 0; c.q[p] && i < c.copies; i++) tcf_qmat_free(&c.q[p][i]);
            free(c.q[p]);
        }
        free(c.f32), free(w), free(X), free(Y), free(c.work);
    }
    return 0;
}
