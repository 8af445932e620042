/*
 * test_grad.c — the backward kernels of src/kern/grad.c against central
 * finite differences of double-precision reference forwards written here,
 * and their forwards against the same references.
 *
 * For a kernel y = f(inputs) and a random linear functional L = sum(g * y),
 * the f32 analytic gradient (the kernel's backward fed dy = g) is compared
 * with (L(p + h) - L(p - h)) / 2h per input element, computed in double with
 * h = 1e-6. Cross-entropy is compared on its scalar loss directly, and its
 * semantics are pinned to torch by numbers printed by
 * tests/ref/check_ce_torch.py.
 */
#include "kern/grad.h"
#include "kern/kern.h"
#include "model/bert.h"
#include "check.h"

#include <assert.h>
#include <stdint.h>
#include <string.h>

#define FD_H 1e-6
#define ATOL 2e-5 /* f32 analytic vs double FD */
#define RTOL 1e-4

/* ---- helpers --------------------------------------------------------------- */

static uint64_t rng_state = 0x1234567887654321ull;
static double frand(void) { /* uniform [-1, 1) */
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (double)(rng_state >> 11) * (2.0 / 9007199254740992.0) - 1.0;
}

/* Every test buffer comes from here and is freed by free_all() at the end. */
static void *allocs[4096];
static int n_allocs;
static void *talloc(size_t bytes) {
    void *p = calloc(1, bytes ? bytes : 1);
    if (!p || n_allocs == 4096) abort();
    allocs[n_allocs++] = p;
    return p;
}
static void free_all(void) {
    while (n_allocs) free(allocs[--n_allocs]);
}
static float *fbuf(long n) { return talloc(sizeof(float) * (size_t)n); }
static double *dbuf(long n) { return talloc(sizeof(double) * (size_t)n); }
static float *frandn(long n, double scale, double offset) {
    float *p = fbuf(n);
    for (long i = 0; i < n; i++) p[i] = (float)(offset + scale * frand());
    return p;
}
static double *todouble(const float *f, long n) {
    double *d = dbuf(n);
    for (long i = 0; i < n; i++) d[i] = f[i];
    return d;
}
static float *tofloat(const double *d, long n) {
    float *f = fbuf(n);
    for (long i = 0; i < n; i++) f[i] = (float)d[i];
    return f;
}

typedef double (*loss_fn)(void *ctx);
/* out[i] = dL/dp[i] by central differences in double. */
static float *fd_grad(loss_fn f, void *ctx, double *p, long n) {
    float *out = fbuf(n);
    for (long i = 0; i < n; i++) {
        double s = p[i];
        p[i] = s + FD_H;
        double lp = f(ctx);
        p[i] = s - FD_H;
        double lm = f(ctx);
        p[i] = s;
        out[i] = (float)((lp - lm) / (2 * FD_H));
    }
    return out;
}
/* FD at `count` indices spread over [0, n) (for shapes too large to difference
 * every element), compared with the analytic gradient at the same indices. */
static void check_fd_sample(const char *what, const float *analytic, loss_fn f, void *ctx, double *p,
                            long n, long count) {
    float *a = fbuf(count), *fd = fbuf(count);
    for (long j = 0; j < count; j++) {
        long i = (j * n) / count + (j * 7919) % (n / count > 0 ? n / count : 1);
        double s = p[i];
        p[i] = s + FD_H;
        double lp = f(ctx);
        p[i] = s - FD_H;
        double lm = f(ctx);
        p[i] = s;
        fd[j] = (float)((lp - lm) / (2 * FD_H));
        a[j] = analytic[i];
    }
    check_close(what, a, fd, count, ATOL, RTOL);
}
static double dot(const double *g, const double *y, long n) {
    double s = 0;
    for (long i = 0; i < n; i++) s += g[i] * y[i];
    return s;
}
/* check a - off == ref (for += outputs that started at `off`) */
static void check_minus(const char *what, float *a, float off, const float *ref, long n) {
    for (long i = 0; i < n; i++) a[i] -= off;
    check_close(what, a, ref, n, ATOL, RTOL);
}

/* ---- 1. LayerNorm ------------------------------------------------------------- */

typedef struct {
    int rows, C;
    double eps, *x, *gam, *bet, *g, *y;
} ln_ctx;

static void ln_ref(ln_ctx *c) {
    for (int r = 0; r < c->rows; r++) {
        const double *x = c->x + (long)r * c->C;
        double mu = 0, var = 0;
        for (int i = 0; i < c->C; i++) mu += x[i];
        mu /= c->C;
        for (int i = 0; i < c->C; i++) var += (x[i] - mu) * (x[i] - mu);
        var /= c->C;
        for (int i = 0; i < c->C; i++)
            c->y[(long)r * c->C + i] = (x[i] - mu) / sqrt(var + c->eps) * c->gam[i] + c->bet[i];
    }
}
static double ln_loss(void *v) {
    ln_ctx *c = v;
    ln_ref(c);
    return dot(c->g, c->y, (long)c->rows * c->C);
}

static void test_layernorm(int rows, int C) {
    printf("layernorm rows=%d C=%d\n", rows, C);
    long n = (long)rows * C;
    float *x = frandn(n, 1.0, 0.3), *gam = frandn(C, 0.5, 1.0), *bet = frandn(C, 0.5, 0);
    float *g = frandn(n, 1.0, 0);
    float *y = fbuf(n), *mean = fbuf(rows), *rstd = fbuf(rows), *dx = fbuf(n);
    float *dg = fbuf(C), *db = fbuf(C);
    tcf_layernorm_forward(y, mean, rstd, x, gam, bet, rows, C, 1e-5f);
    ln_ctx c = {rows, C, 1e-5, todouble(x, n), todouble(gam, C), todouble(bet, C), todouble(g, n),
                dbuf(n)};
    ln_ref(&c);
    check_close("layernorm forward", y, tofloat(c.y, n), n, 1e-5, 1e-5);
    float *y2 = fbuf(n);
    tcf_layernorm(y2, x, gam, bet, rows, C, 1e-5f);
    check_close("layernorm forward == tcf_layernorm", y, y2, n, 0, 0);
    for (int i = 0; i < C; i++) dg[i] = db[i] = 0.5f; /* += */
    tcf_layernorm_backward(dx, dg, db, g, x, mean, rstd, gam, rows, C);
    check_close("layernorm dx", dx, fd_grad(ln_loss, &c, c.x, n), n, ATOL, RTOL);
    check_minus("layernorm dgamma (+=)", dg, 0.5f, fd_grad(ln_loss, &c, c.gam, C), C);
    check_minus("layernorm dbeta (+=)", db, 0.5f, fd_grad(ln_loss, &c, c.bet, C), C);
    float *dx2 = fbuf(n);
    memcpy(dx2, g, sizeof(float) * n);
    tcf_layernorm_backward(dx2, NULL, NULL, dx2, x, mean, rstd, gam, rows, C);
    check_close("layernorm dx in place, dg/db NULL", dx2, dx, n, 0, 0);
}

/* ---- 2. GELU ------------------------------------------------------------------- */

typedef struct {
    long n;
    double *x, *g;
} ew_ctx; /* element-wise ops */

static double gelu_loss(void *v) {
    ew_ctx *c = v;
    double s = 0;
    for (long i = 0; i < c->n; i++) s += c->g[i] * 0.5 * c->x[i] * (1 + erf(c->x[i] / sqrt(2.0)));
    return s;
}

static void test_gelu(void) {
    printf("gelu\n");
    long n = 61;
    float *x = frandn(n, 4.0, 0), *g = frandn(n, 1.0, 0), *dx = fbuf(n), *y = fbuf(n);
    ew_ctx c = {n, todouble(x, n), todouble(g, n)};
    double *yr = dbuf(n);
    for (long i = 0; i < n; i++) yr[i] = 0.5 * c.x[i] * (1 + erf(c.x[i] / sqrt(2.0)));
    tcf_gelu_ref(y, x, n);
    check_close("gelu forward (tcf_gelu_ref)", y, tofloat(yr, n), n, 1e-6, 1e-5);
    tcf_gelu_backward(dx, g, x, n);
    check_close("gelu dx", dx, fd_grad(gelu_loss, &c, c.x, n), n, ATOL, RTOL);
}

/* ---- 3. softmax ----------------------------------------------------------------- */

typedef struct {
    int rows, cols;
    const uint8_t *mask;
    double *S, *g, *P;
} sm_ctx;

static void softmax_ref(double *P, const double *S, const uint8_t *mask, int rows, int cols) {
    for (int r = 0; r < rows; r++) {
        const double *s = S + (long)r * cols;
        double *p = P + (long)r * cols, mx = -INFINITY, sum = 0;
        for (int j = 0; j < cols; j++)
            if ((!mask || mask[j]) && s[j] > mx) mx = s[j];
        for (int j = 0; j < cols; j++) sum += p[j] = (!mask || mask[j]) ? exp(s[j] - mx) : 0;
        for (int j = 0; j < cols; j++) p[j] = sum > 0 ? p[j] / sum : 0;
    }
}
static double sm_loss(void *v) {
    sm_ctx *c = v;
    softmax_ref(c->P, c->S, c->mask, c->rows, c->cols);
    return dot(c->g, c->P, (long)c->rows * c->cols);
}

static void test_softmax(int rows, int cols, const uint8_t *mask, const char *label) {
    printf("softmax rows=%d cols=%d %s\n", rows, cols, label);
    long n = (long)rows * cols;
    float *S = frandn(n, 3.0, 0), *g = frandn(n, 1.0, 0), *P = fbuf(n), *dS = fbuf(n);
    sm_ctx c = {rows, cols, mask, todouble(S, n), todouble(g, n), dbuf(n)};
    softmax_ref(c.P, c.S, mask, rows, cols);
    tcf_softmax_forward(P, S, mask, rows, cols);
    check_close("softmax forward", P, tofloat(c.P, n), n, 1e-6, 1e-5);
    tcf_softmax_backward(dS, P, g, rows, cols);
    check_close("softmax dS", dS, fd_grad(sm_loss, &c, c.S, n), n, ATOL, RTOL);
}

/* ---- 4. attention ----------------------------------------------------------------- */

typedef struct {
    int B, T, H, D;
    const uint8_t *mask; /* (B, T) */
    double *qkv;         /* (B*T, 3C) */
    double *g, *ctx;     /* (B*T, C) */
    double *S;           /* (T, T) scratch */
    float p;             /* attention-probs dropout (0: none), mask keyed as tcf_attn_dropout */
} at_ctx;

#define AT_SEED 0x5EEDull
#define AT_STEP 3
static void attn_ref(at_ctx *c) {
    const int T = c->T, D = c->D, C = c->H * c->D;
    const double scale = 1.0 / sqrt((double)D);
    for (int b = 0; b < c->B; b++)
        for (int h = 0; h < c->H; h++) {
            const double *base = c->qkv + (long)b * T * 3 * C;
            for (int t = 0; t < T; t++)
                for (int s = 0; s < T; s++) {
                    double acc = 0;
                    for (int d = 0; d < D; d++)
                        acc += base[(long)t * 3 * C + h * D + d] * base[(long)s * 3 * C + C + h * D + d];
                    c->S[(long)t * T + s] = acc * scale;
                }
            softmax_ref(c->S, c->S, c->mask + (long)b * T, T, T);
            if (c->p > 0)
                for (long i = 0; i < (long)T * T; i++)
                    c->S[i] *= tcf_dropout_keep(AT_SEED, AT_STEP, ((uint64_t)b * c->H + h) * T * T + i, c->p)
                                   ? 1.0 / (1.0 - c->p) : 0.0;
            for (int t = 0; t < T; t++)
                for (int d = 0; d < D; d++) {
                    double acc = 0;
                    for (int s = 0; s < T; s++)
                        acc += c->S[(long)t * T + s] * base[(long)s * 3 * C + 2 * C + h * D + d];
                    c->ctx[((long)b * T + t) * C + h * D + d] = acc;
                }
        }
}
static double attn_loss(void *v) {
    at_ctx *c = v;
    attn_ref(c);
    return dot(c->g, c->ctx, (long)c->B * c->T * c->H * c->D);
}

static void test_attention(int B, int T, int H, int D, const uint8_t *mask, float p, long fd_count) {
    printf("attention B=%d T=%d H=%d D=%d dropout %g%s\n", B, T, H, D, (double)p, fd_count ? " (FD sampled)" : "");
    const int C = H * D;
    const long BT = (long)B * T;
    float *qkv = frandn(BT * 3 * C, 1.0, 0), *g = frandn(BT * C, 1.0, 0);
    float *ctx = fbuf(BT * C), *P = fbuf((long)B * H * T * T), *dqkv = fbuf(BT * 3 * C);
    float *fs = fbuf((long)tcf_attn_forward_scratch(T, D));
    float *bs = fbuf((long)tcf_attn_backward_scratch(T, D));
    const float scale = 1.0f / sqrtf((float)D);
    for (int b = 0; b < B; b++)
        for (int h = 0; h < H; h++) {
            const float *base = qkv + (long)b * T * 3 * C;
            tcf_attn_dropout dr = {p, AT_SEED, AT_STEP, ((uint64_t)b * H + h) * T * T};
            tcf_attn_head_forward(T, D, base + h * D, base + C + h * D, base + 2 * C + h * D, 3 * C,
                                  mask + (long)b * T, scale, &dr, ctx + (long)b * T * C + h * D, C,
                                  P + ((long)b * H + h) * T * T, fs);
        }
    for (long i = 0; i < BT * 3 * C; i++) dqkv[i] = NAN; /* every element must be written */
    for (int b = 0; b < B; b++)
        for (int h = 0; h < H; h++) {
            const float *base = qkv + (long)b * T * 3 * C;
            float *dbase = dqkv + (long)b * T * 3 * C;
            tcf_attn_dropout dr = {p, AT_SEED, AT_STEP, ((uint64_t)b * H + h) * T * T};
            tcf_attn_head_backward(T, D, base + h * D, base + C + h * D, base + 2 * C + h * D, 3 * C,
                                   P + ((long)b * H + h) * T * T, mask + (long)b * T, scale, &dr,
                                   g + (long)b * T * C + h * D, C, dbase + h * D, dbase + C + h * D,
                                   dbase + 2 * C + h * D, 3 * C, bs);
        }
    at_ctx c = {B, T, H, D, mask, todouble(qkv, BT * 3 * C), todouble(g, BT * C), dbuf(BT * C),
                dbuf((long)T * T), p};
    attn_ref(&c);
    check_close("attention forward ctx", ctx, tofloat(c.ctx, BT * C), BT * C, 1e-5, 1e-5);
    if (fd_count) check_fd_sample("attention dqkv", dqkv, attn_loss, &c, c.qkv, BT * 3 * C, fd_count);
    else
        check_close("attention dqkv", dqkv, fd_grad(attn_loss, &c, c.qkv, BT * 3 * C), BT * 3 * C,
                    ATOL, RTOL);
    int masked_zero = 1;
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++)
            if (!mask[(long)b * T + t])
                for (int i = C; i < 3 * C; i++) masked_zero &= dqkv[((long)b * T + t) * 3 * C + i] == 0;
    CHECK(masked_zero, "padding keys get dK = dV = 0");
}

/* ---- 5. linear ----------------------------------------------------------------------- */

typedef struct {
    int M, N, K;
    double *x, *W, *b, *g; /* (M, K), (N, K), (N), (M, N) */
    double *xd, *A, *Bm;   /* LoRA: x_drop (M, K) or NULL, (r, K), (N, r) */
    int r;
    double s;
    const uint8_t *keep; /* (M, K) dropout mask of x_drop, NULL: x_drop = x */
    double p;
    double *y;
} lin_ctx;

/* y = x W^T + b [+ s * (xd A^T) B^T], xd = dropout(x) if keep else x */
static void lin_ref(lin_ctx *c) {
    double u[64]; /* (r) */
    assert(c->r <= 64);
    for (int m = 0; m < c->M; m++) {
        for (int j = 0; j < c->r; j++) {
            u[j] = 0;
            for (int k = 0; k < c->K; k++) {
                double xv = c->x[(long)m * c->K + k];
                if (c->keep) xv = c->keep[(long)m * c->K + k] ? xv / (1 - c->p) : 0;
                u[j] += xv * c->A[(long)j * c->K + k];
            }
        }
        for (int n = 0; n < c->N; n++) {
            double acc = c->b[n];
            for (int k = 0; k < c->K; k++) acc += c->x[(long)m * c->K + k] * c->W[(long)n * c->K + k];
            for (int j = 0; j < c->r; j++) acc += c->s * u[j] * c->Bm[(long)n * c->r + j];
            c->y[(long)m * c->N + n] = acc;
        }
    }
}
static double lin_loss(void *v) {
    lin_ctx *c = v;
    lin_ref(c);
    return dot(c->g, c->y, (long)c->M * c->N);
}

static void test_linear(int M, int N, int K, long fd_count) {
    printf("linear M=%d N=%d K=%d (strided views)%s\n", M, N, K, fd_count ? " (FD sampled)" : "");
    const int lddy = N + 3, ldx = K + 2, lddx = K + 1;
    float *x = frandn((long)M * ldx, 1.0, 0), *W = frandn((long)N * K, 0.5, 0), *b = frandn(N, 0.5, 0);
    float *g = frandn((long)M * lddy, 1.0, 0);
    float *y = fbuf((long)M * N), *Wp = fbuf((long)tcf_gemm_packed_size(K, N));
    tcf_gemm_pack_b(K, N, W, K, 1, Wp);
    tcf_gemm_packed(M, N, K, x, ldx, Wp, y, N, b, 0, 1);
    /* contiguous double copies of the strided views */
    double *xd = dbuf((long)M * K), *gd = dbuf((long)M * N);
    for (int m = 0; m < M; m++) {
        for (int k = 0; k < K; k++) xd[(long)m * K + k] = x[(long)m * ldx + k];
        for (int n = 0; n < N; n++) gd[(long)m * N + n] = g[(long)m * lddy + n];
    }
    lin_ctx c = {M, N, K, xd, todouble(W, (long)N * K), todouble(b, N), gd, .y = dbuf((long)M * N)};
    lin_ref(&c);
    check_close("linear forward (packed gemm)", y, tofloat(c.y, (long)M * N), (long)M * N, 1e-5, 1e-5);
    float *dx = fbuf((long)M * lddx), *dW = fbuf((long)N * K), *db = fbuf(N);
    float *scr = fbuf((long)tcf_linear_backward_scratch(M, N));
    for (long i = 0; i < (long)M * lddx; i++) dx[i] = 1.0f;
    for (long i = 0; i < (long)N * K; i++) dW[i] = 0.25f;
    for (int i = 0; i < N; i++) db[i] = -0.5f;
    tcf_linear_backward(M, N, K, g, lddy, x, ldx, W, dx, lddx, 1, dW, db, scr, 2);
    float *dxc = fbuf((long)M * K);
    for (int m = 0; m < M; m++)
        for (int k = 0; k < K; k++) dxc[(long)m * K + k] = dx[(long)m * lddx + k] - 1.0f;
    if (fd_count) {
        for (long i = 0; i < (long)N * K; i++) dW[i] -= 0.25f;
        for (int i = 0; i < N; i++) db[i] += 0.5f;
        check_fd_sample("linear dx (accumulate)", dxc, lin_loss, &c, c.x, (long)M * K, fd_count);
        check_fd_sample("linear dW (+=)", dW, lin_loss, &c, c.W, (long)N * K, fd_count);
        check_fd_sample("linear db (+=)", db, lin_loss, &c, c.b, N, N < fd_count ? N : fd_count);
    } else {
        check_close("linear dx (accumulate)", dxc, fd_grad(lin_loss, &c, c.x, (long)M * K),
                    (long)M * K, ATOL, RTOL);
        check_minus("linear dW (+=)", dW, 0.25f, fd_grad(lin_loss, &c, c.W, (long)N * K), (long)N * K);
        check_minus("linear db (+=)", db, -0.5f, fd_grad(lin_loss, &c, c.b, N), N);
    }
    int pad_untouched = 1;
    for (int m = 0; m < M; m++) pad_untouched &= dx[(long)m * lddx + K] == 1.0f;
    CHECK(pad_untouched, "dx columns past K untouched");
    /* frozen weight: dx only, written */
    float *dx2 = fbuf((long)M * lddx);
    tcf_linear_backward(M, N, K, g, lddy, x, ldx, W, dx2, lddx, 0, NULL, NULL, NULL, 1);
    float *dx2c = fbuf((long)M * K);
    for (int m = 0; m < M; m++)
        for (int k = 0; k < K; k++) dx2c[(long)m * K + k] = dx2[(long)m * lddx + k];
    check_close("linear dx (frozen W, written)", dx2c, dxc, (long)M * K, 1e-6, 1e-6);
}

/* ---- 6. LoRA ----------------------------------------------------------------------- */

static void test_lora(int M, int N, int K, int r, float p_drop, long fd_count) {
    printf("lora M=%d N=%d K=%d r=%d dropout=%g%s\n", M, N, K, r, p_drop, fd_count ? " (FD sampled)" : "");
    const float alpha = 16.0f, s = alpha / (float)r;
    const uint64_t seed = 42, step = 7;
    float *x = frandn((long)M * K, 1.0, 0), *W = frandn((long)N * K, 0.5, 0), *b = frandn(N, 0.5, 0);
    float *A = frandn((long)r * K, 0.3, 0), *Bm = frandn((long)N * r, 0.3, 0);
    float *g = frandn((long)M * N, 1.0, 0);
    float *Wp = fbuf((long)tcf_gemm_packed_size(K, N)), *y = fbuf((long)M * N), *u = fbuf((long)M * r);
    tcf_gemm_pack_b(K, N, W, K, 1, Wp);
    float *xdrop = NULL;
    uint8_t *keep = NULL;
    if (p_drop > 0) {
        xdrop = fbuf((long)M * K);
        keep = talloc((size_t)M * K);
        tcf_dropout_forward(xdrop, x, (long)M * K, p_drop, seed, step, 0);
        for (long i = 0; i < (long)M * K; i++) keep[i] = (uint8_t)tcf_dropout_keep(seed, step, i, p_drop);
    }
    float *fscr = fbuf((long)tcf_lora_forward_scratch(N, K, r));
    tcf_lora_forward(M, N, K, r, s, x, K, xdrop, K, Wp, b, A, Bm, y, N, u, fscr, 2);
    lin_ctx c = {M, N, K, todouble(x, (long)M * K), todouble(W, (long)N * K), todouble(b, N),
                 todouble(g, (long)M * N), NULL, todouble(A, (long)r * K), todouble(Bm, (long)N * r),
                 r, s, keep, p_drop, dbuf((long)M * N)};
    lin_ref(&c);
    check_close("lora forward y", y, tofloat(c.y, (long)M * N), (long)M * N, 1e-5, 1e-5);
    /* branch-only forward onto a precomputed base output */
    float *y2 = fbuf((long)M * N), *u2 = fbuf((long)M * r);
    tcf_gemm_packed(M, N, K, x, K, Wp, y2, N, b, 0, 1);
    tcf_lora_forward(M, N, K, r, s, x, K, xdrop, K, NULL, NULL, A, Bm, y2, N, u2, fscr, 1);
    check_close("lora forward (Wp NULL: branch added)", y2, y, (long)M * N, 1e-6, 1e-6);

    float *dA = fbuf((long)r * K), *dB = fbuf((long)N * r), *dx = fbuf((long)M * K);
    for (long i = 0; i < (long)r * K; i++) dA[i] = 0.5f; /* += */
    for (long i = 0; i < (long)N * r; i++) dB[i] = 0.5f;
    float *lscr = fbuf((long)tcf_linear_backward_scratch(M, N));
    float *bscr = fbuf((long)tcf_lora_backward_scratch(M, N, r));
    tcf_linear_backward(M, N, K, g, N, x, K, W, dx, K, 0, NULL, NULL, lscr, 1);
    if (p_drop > 0) {
        float *dxa = fbuf((long)M * K);
        tcf_lora_backward(M, N, K, r, s, g, N, xdrop, K, u, A, Bm, dA, dB, dxa, K, 0, bscr, 2);
        tcf_dropout_backward(dx, dxa, (long)M * K, p_drop, seed, step, 0, 1);
    } else {
        tcf_lora_backward(M, N, K, r, s, g, N, x, K, u, A, Bm, dA, dB, dx, K, 1, bscr, 2);
    }
    for (long i = 0; i < (long)r * K; i++) dA[i] -= 0.5f;
    for (long i = 0; i < (long)N * r; i++) dB[i] -= 0.5f;
    if (fd_count) {
        check_fd_sample("lora dA (+=)", dA, lin_loss, &c, c.A, (long)r * K, fd_count);
        check_fd_sample("lora dB (+=)", dB, lin_loss, &c, c.Bm, (long)N * r, fd_count);
        check_fd_sample("lora dx (W + branch)", dx, lin_loss, &c, c.x, (long)M * K, fd_count);
        return;
    }
    check_close("lora dA (+=)", dA, fd_grad(lin_loss, &c, c.A, (long)r * K), (long)r * K, ATOL, RTOL);
    check_close("lora dB (+=)", dB, fd_grad(lin_loss, &c, c.Bm, (long)N * r), (long)N * r, ATOL, RTOL);
    check_close("lora dx (W + branch)", dx, fd_grad(lin_loss, &c, c.x, (long)M * K), (long)M * K, ATOL,
                RTOL);
}

/* ---- 7. cross-entropy ------------------------------------------------------------------ */

typedef struct {
    int rows, n;
    double *z;
    const int32_t *y;
    const double *w;
    double eps;
} ce_ctx;

/* Written from the definition (soft targets q = (1-eps) onehot + eps/n, weighted by w[c],
 * normalised by sum_i w[y_i]), not from the kernel's rearranged form. */
static double ce_loss(void *v) {
    ce_ctx *c = v;
    double num = 0, den = 0;
    for (int i = 0; i < c->rows; i++) {
        if (c->y[i] < 0) continue;
        const double *z = c->z + (long)i * c->n;
        double mx = -INFINITY, se = 0;
        for (int k = 0; k < c->n; k++) mx = fmax(mx, z[k]);
        for (int k = 0; k < c->n; k++) se += exp(z[k] - mx);
        for (int k = 0; k < c->n; k++) {
            double q = (1 - c->eps) * (k == c->y[i]) + c->eps / c->n;
            num += (c->w ? c->w[k] : 1.0) * q * -(z[k] - mx - log(se));
        }
        den += c->w ? c->w[c->y[i]] : 1.0;
    }
    return num / den;
}

static void test_ce(int rows, int n, int weighted, float eps, int ignore_one) {
    printf("cross_entropy rows=%d classes=%d weights=%d smoothing=%g ignore=%d\n", rows, n, weighted,
           eps, ignore_one);
    float *z = frandn((long)rows * n, 3.0, 0), *w = weighted ? frandn(n, 0.9, 1.0) : NULL;
    int32_t *y = talloc(sizeof(int32_t) * rows);
    for (int i = 0; i < rows; i++) y[i] = (int32_t)((frand() + 1) * 0.5 * n) % n;
    if (ignore_one) y[1] = -100;
    float *dz = fbuf((long)rows * n);
    float loss = tcf_cross_entropy(rows, n, z, y, w, eps, dz);
    ce_ctx c = {rows, n, todouble(z, (long)rows * n), y, weighted ? todouble(w, n) : NULL, eps};
    float ref = (float)ce_loss(&c);
    check_close("cross_entropy loss", &loss, &ref, 1, 1e-6, 1e-5);
    check_close("cross_entropy dlogits", dz, fd_grad(ce_loss, &c, c.z, (long)rows * n), (long)rows * n,
                ATOL, RTOL);
    CHECK(tcf_cross_entropy(rows, n, z, y, w, eps, NULL) == loss, "dlogits NULL: same loss");
}

/* torch 2.15.0, numbers printed by tests/ref/check_ce_torch.py (float64). */
static void test_ce_torch(void) {
    printf("cross_entropy vs torch.nn.CrossEntropyLoss\n");
    static const float z[12] = {1.5f, -0.3f, 0.2f, 0.1f, 0.4f, -1.2f, -0.7f, 2.0f, 0.3f, 0.0f, 0.5f, 0.9f};
    static const int32_t y[4] = {0, 2, 1, -100};
    static const float w[3] = {0.5f, 2.0f, 1.25f};
    static const struct {
        const char *name;
        int weighted;
        float eps, loss, dz[12];
    } cases[] = {
        {"plain", 0, 0.0f, 0.950092209302f,
         {-0.101502605502f, 0.038321361566f, 0.063181243936f, 0.127110482037f, 0.171581203713f,
          -0.29869168575f, 0.017923061104f, -0.066642992414f, 0.04871993131f, 0, 0, 0}},
        {"weight", 1, 0.0f, 0.922076063390f,
         {-0.040601042201f, 0.015328544626f, 0.025272497574f, 0.127110482037f, 0.171581203713f,
          -0.29869168575f, 0.028676897767f, -0.106628787863f, 0.077951890096f, 0, 0, 0}},
        {"label_smoothing=0.1", 0, 0.1f, 1.001203320414f,
         {-0.07928038328f, 0.027210250455f, 0.052070132825f, 0.115999370926f, 0.160470092602f,
          -0.276469463528f, 0.006811949993f, -0.044420770192f, 0.037608820199f, 0, 0, 0}},
        {"weight + label_smoothing=0.1", 1, 0.1f, 0.967988789093f,
         {-0.017802309642f, -0.000149951457f, 0.0179522611f, 0.122666037593f, 0.153803425935f,
          -0.276469463528f, 0.023157069656f, -0.087074652762f, 0.063917583106f, 0, 0, 0}},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        float dz[12], loss;
        char what[96];
        loss = tcf_cross_entropy(4, 3, z, y, cases[k].weighted ? w : NULL, cases[k].eps, dz);
        snprintf(what, sizeof what, "torch CE loss, %s", cases[k].name);
        check_close(what, &loss, &cases[k].loss, 1, 1e-6, 1e-6);
        snprintf(what, sizeof what, "torch CE dlogits, %s", cases[k].name);
        check_close(what, dz, cases[k].dz, 12, 1e-6, 1e-6);
    }
    int32_t all_ignored[4] = {-100, -100, -100, -100};
    float dz[12];
    CHECK(tcf_cross_entropy(4, 3, z, all_ignored, w, 0.1f, dz) == 0.0f && dz[0] == 0 && dz[11] == 0,
          "every label ignored: loss 0, dlogits 0");
}

/* ---- 8. pooling, tanh --------------------------------------------------------------------- */

typedef struct {
    int B, T, C, cls;
    const uint8_t *mask;
    double *h, *g, *pooled;
} pool_ctx;

static double pool_loss(void *v) {
    pool_ctx *c = v;
    for (int b = 0; b < c->B; b++)
        for (int i = 0; i < c->C; i++) {
            double acc = 0;
            int cnt = 0;
            for (int t = 0; t < c->T; t++) {
                if (c->cls ? t != 0 : !c->mask[(long)b * c->T + t]) continue;
                acc += c->h[((long)b * c->T + t) * c->C + i];
                cnt++;
            }
            c->pooled[(long)b * c->C + i] = acc / (cnt > 0 ? cnt : 1);
        }
    return dot(c->g, c->pooled, (long)c->B * c->C);
}

static void test_pool(int B, int T, int C, const uint8_t *mask) {
    printf("pooling B=%d T=%d C=%d\n", B, T, C);
    long n = (long)B * T * C;
    float *h = frandn(n, 1.0, 0), *g = frandn((long)B * C, 1.0, 0), *dh = fbuf(n), *pooled = fbuf((long)B * C);
    tcf_bert_config cfg = {.hidden = C};
    for (int cls = 0; cls <= 1; cls++) {
        pool_ctx c = {B, T, C, cls, mask, todouble(h, n), todouble(g, (long)B * C), dbuf((long)B * C)};
        pool_loss(&c);
        tcf_bert_pool(&cfg, B, T, mask, h, cls ? TCF_POOL_CLS : TCF_POOL_MEAN, 0, pooled);
        check_close(cls ? "cls pool: reference == tcf_bert_pool" : "mean pool: reference == tcf_bert_pool",
                    pooled, tofloat(c.pooled, (long)B * C), (long)B * C, 1e-6, 1e-6);
        for (long i = 0; i < n; i++) dh[i] = 2.0f;
        if (cls) tcf_cls_pool_backward(B, T, C, g, dh, 1);
        else tcf_mean_pool_backward(B, T, C, mask, g, dh, 1);
        float *fd = fd_grad(pool_loss, &c, c.h, n);
        check_minus(cls ? "cls pool dhidden (accumulate)" : "mean pool dhidden (accumulate)", dh, 2.0f, fd, n);
        for (long i = 0; i < n; i++) dh[i] = NAN;
        if (cls) tcf_cls_pool_backward(B, T, C, g, dh, 0);
        else tcf_mean_pool_backward(B, T, C, mask, g, dh, 0);
        check_close(cls ? "cls pool dhidden (written)" : "mean pool dhidden (written)", dh, fd, n, ATOL, RTOL);
    }
}

static double tanh_loss(void *v) {
    ew_ctx *c = v;
    double s = 0;
    for (long i = 0; i < c->n; i++) s += c->g[i] * tanh(c->x[i]);
    return s;
}

static void test_tanh(void) {
    printf("tanh\n");
    long n = 37;
    float *x = frandn(n, 3.0, 0), *g = frandn(n, 1.0, 0), *y = fbuf(n), *dx = fbuf(n);
    ew_ctx c = {n, todouble(x, n), todouble(g, n)};
    double *yr = dbuf(n);
    for (long i = 0; i < n; i++) yr[i] = tanh(c.x[i]);
    tcf_tanh_forward(y, x, n);
    check_close("tanh forward", y, tofloat(yr, n), n, 1e-6, 1e-5);
    tcf_tanh_backward(dx, g, y, n);
    check_close("tanh dx", dx, fd_grad(tanh_loss, &c, c.x, n), n, ATOL, RTOL);
}

/* ---- 9. dropout ---------------------------------------------------------------------------- */

typedef struct {
    long n;
    double *x, *g, p;
    uint64_t seed, step;
} do_ctx;

static double dropout_loss(void *v) {
    do_ctx *c = v;
    double s = 0;
    for (long i = 0; i < c->n; i++)
        if (tcf_dropout_keep(c->seed, c->step, (uint64_t)i, (float)c->p)) s += c->g[i] * c->x[i] / (1 - c->p);
    return s;
}

static void test_dropout(void) {
    printf("dropout\n");
    const long n = 100000;
    const float p = 0.3f;
    float *x = frandn(n, 1.0, 2.0), *y = fbuf(n), *y2 = fbuf(n), *y3 = fbuf(n);
    tcf_dropout_forward(y, x, n, p, 1, 5, 0);
    /* the same tensor in two chunks (as two threads would) */
    tcf_dropout_forward(y2, x, 40001, p, 1, 5, 0);
    tcf_dropout_forward(y2 + 40001, x + 40001, n - 40001, p, 1, 5, 40001);
    CHECK(memcmp(y, y2, sizeof(float) * n) == 0, "mask independent of the split");
    long kept = 0, scaled_ok = 0;
    for (long i = 0; i < n; i++) {
        kept += y[i] != 0;
        scaled_ok += y[i] == 0 || y[i] == x[i] * (1.0f / (1.0f - p));
    }
    double frac = (double)kept / n;
    CHECK(fabs(frac - (1 - p)) < 0.01, "kept fraction %g, expected %g", frac, 1 - p);
    CHECK(scaled_ok == n, "kept values scaled by 1/(1-p)");
    tcf_dropout_forward(y3, x, n, p, 1, 6, 0);
    CHECK(memcmp(y, y3, sizeof(float) * n) != 0, "another step, another mask");
    tcf_dropout_forward(y3, x, n, p, 2, 5, 0);
    CHECK(memcmp(y, y3, sizeof(float) * n) != 0, "another seed, another mask");
    tcf_dropout_forward(y3, x, n, 0.0f, 1, 5, 0);
    CHECK(memcmp(x, y3, sizeof(float) * n) == 0, "p = 0: identity");
    tcf_dropout_forward(y3, x, n, 1.0f, 1, 5, 0);
    int all_zero = 1;
    for (long i = 0; i < n; i++) all_zero &= y3[i] == 0;
    CHECK(all_zero, "p = 1: all dropped");

    const long m = 97;
    float *g = frandn(m, 1.0, 0), *dx = fbuf(m);
    do_ctx c = {m, todouble(x, m), todouble(g, m), p, 1, 5};
    tcf_dropout_backward(dx, g, m, p, 1, 5, 0, 0);
    check_close("dropout dx", dx, fd_grad(dropout_loss, &c, c.x, m), m, ATOL, RTOL);
    for (long i = 0; i < m; i++) dx[i] = 1.0f;
    tcf_dropout_backward(dx, g, m, p, 1, 5, 0, 1);
    check_minus("dropout dx (accumulate)", dx, 1.0f, fd_grad(dropout_loss, &c, c.x, m), m);

    /* the SIMD mask loops against the scalar ones: odd lengths and offsets,
     * several p, forward, backward and accumulate, bit for bit */
    int same = 1;
    const float ps[] = {0.05f, 0.3f, 0.5f, 0.9f, 1.0f};
    float *a1 = fbuf(n), *a2 = fbuf(n);
    for (int pi = 0; pi < 5; pi++)
        for (long len = 1; len < 80; len += 7)
            for (int mode = 0; mode < 3; mode++) {
                const uint64_t off = (uint64_t)(len * 131 + pi);
                for (int v = 0; v < 2; v++) {
                    float *o = v ? a2 : a1;
                    for (long i = 0; i < len; i++) o[i] = (float)i;
                    tcf_kern_force_scalar(v);
                    if (mode == 0) tcf_dropout_forward(o, x, len, ps[pi], 3, 9, off);
                    else tcf_dropout_backward(o, x, len, ps[pi], 3, 9, off, mode == 2);
                    tcf_kern_force_scalar(0);
                }
                same = same && !memcmp(a1, a2, sizeof(float) * (size_t)len);
            }
    tcf_dropout_forward(a1, x, n, p, 1, 5, 0);
    tcf_kern_force_scalar(1);
    tcf_dropout_forward(a2, x, n, p, 1, 5, 0);
    tcf_kern_force_scalar(0);
    same = same && !memcmp(a1, a2, sizeof(float) * n);
    CHECK(same, "dropout: the %s mask loops differ from the scalar ones", tcf_kern_isa());
    printf("  dropout %s loops vs scalar: %s\n", tcf_kern_isa(), same ? "same bits" : "DIFFERENT");
}

/* ---- main ------------------------------------------------------------------------------------ */

int main(void) {
    test_layernorm(5, 13);
    test_layernorm(3, 64);
    test_gelu();

    static const uint8_t mask11[11] = {1, 1, 0, 1, 1, 1, 1, 1, 0, 0, 1}, none11[11] = {0};
    test_softmax(4, 11, NULL, "no mask");
    test_softmax(4, 11, mask11, "masked keys");
    test_softmax(2, 11, none11, "every key masked");

    /* batch row 1 padded after 5 real tokens; T = 7 and 13 are multiples of nothing useful */
    static const uint8_t mask_a[2 * 7] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0};
    static const uint8_t mask_b[13] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0};
    test_attention(2, 7, 3, 4, mask_a, 0.0f, 0);
    test_attention(1, 13, 2, 8, mask_b, 0.0f, 0);
    test_attention(2, 7, 3, 4, mask_a, 0.25f, 0); /* dropout on the probabilities */
    /* BERT-like head size and a T past the gemm's 6x16 tiles; 30 real tokens of 37 */
    static uint8_t mask_c[37];
    for (int t = 0; t < 37; t++) mask_c[t] = t < 30;
    test_attention(1, 37, 2, 32, mask_c, 0.0f, 150);
    test_attention(1, 37, 2, 32, mask_c, 0.1f, 150);

    test_linear(6, 5, 9, 0);
    test_linear(1, 17, 3, 0);
    test_linear(45, 38, 300, 120); /* full SIMD tiles, two K blocks of the gemm */

    test_lora(7, 6, 10, 1, 0.0f, 0);
    test_lora(7, 6, 10, 8, 0.0f, 0);
    test_lora(5, 11, 9, 8, 0.25f, 0);
    test_lora(5, 11, 9, 1, 0.25f, 0);
    test_lora(40, 35, 270, 8, 0.1f, 120);

    test_ce_torch();
    for (int w = 0; w <= 1; w++)
        for (int e = 0; e <= 1; e++) {
            test_ce(6, 2, w, e ? 0.1f : 0.0f, 0);
            test_ce(6, 15, w, e ? 0.2f : 0.0f, w);
        }

    /* row 1 padded after 2 tokens, row 2 all padding (pooled 0, no gradient) */
    static const uint8_t pmask[3 * 5] = {1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0};
    test_pool(3, 5, 4, pmask);
    test_tanh();
    test_dropout();

    free_all();
    return check_summary("test_grad");
}
