/*
 * test_llama_grad.c — backward kernels of the decoder (RMSNorm, RoPE,
 * SwiGLU, grouped-query causal attention with padding) against central
 * finite differences of double-precision forwards.
 *
 * Each case: loss = sum(forward(inputs) * R) with a fixed random R, so the
 * analytic input gradient is the backward of dy = R. Printed: max |analytic
 * - numeric| over all inputs and that relative to max |numeric|; the test
 * fails above 1e-4 relative (the f32 kernels carry ~1e-6).
 */
#include "check.h"
#include "kern/decoder.h"
#include "kern/grad.h"

#include <stdint.h>
#include <string.h>

static uint64_t rng = 0x9E3779B97F4A7C15ull;
static double urand(void) { /* [-1, 1) */
    rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
    return (double)(rng >> 11) / (double)(1ull << 52) - 1.0;
}

static void compare(const char *what, const float *analytic, const double *numeric, int n) {
    double md = 0, mn = 0;
    for (int i = 0; i < n; i++) {
        double d = fabs(analytic[i] - numeric[i]);
        if (d > md || d != d) md = d;
        if (fabs(numeric[i]) > mn) mn = fabs(numeric[i]);
    }
    double rel = md / (mn > 0 ? mn : 1);
    printf("  %-40s n=%-5d max_abs_diff=%.3g rel=%.3g\n", what, n, md, rel);
    CHECK(rel <= 1e-4 && mn > 0, "%s: relative error %g (max |numeric| %g)", what, rel, mn);
}

/* ---- double forwards ---------------------------------------------------- */

enum { C = 24, ROWS = 3 };

static double rms_loss(const double *x, const double *w, const double *R, float eps) {
    double L = 0;
    for (int r = 0; r < ROWS; r++) {
        double ss = 0;
        for (int i = 0; i < C; i++) ss += x[r * C + i] * x[r * C + i];
        double inv = 1.0 / sqrt(ss / C + eps);
        for (int i = 0; i < C; i++) L += w[i] * x[r * C + i] * inv * R[r * C + i];
    }
    return L;
}

static void test_rmsnorm(void) {
    double x[ROWS * C], w[C], R[ROWS * C], num_x[ROWS * C], num_w[C];
    float xf[ROWS * C], wf[C], Rf[ROWS * C], dx[ROWS * C], dw[C];
    for (int i = 0; i < ROWS * C; i++) xf[i] = (float)(2 * urand()), Rf[i] = (float)urand();
    for (int i = 0; i < C; i++) wf[i] = (float)(1 + 0.3 * urand());
    for (int i = 0; i < ROWS * C; i++) x[i] = xf[i], R[i] = Rf[i];
    for (int i = 0; i < C; i++) w[i] = wf[i];
    const float eps = 1e-5f;
    const double h = 1e-5;
    for (int i = 0; i < ROWS * C; i++) {
        double s = x[i];
        x[i] = s + h;
        double lp = rms_loss(x, w, R, eps);
        x[i] = s - h;
        double lm = rms_loss(x, w, R, eps);
        x[i] = s;
        num_x[i] = (lp - lm) / (2 * h);
    }
    for (int i = 0; i < C; i++) {
        double s = w[i];
        w[i] = s + h;
        double lp = rms_loss(x, w, R, eps);
        w[i] = s - h;
        double lm = rms_loss(x, w, R, eps);
        w[i] = s;
        num_w[i] = (lp - lm) / (2 * h);
    }
    memset(dw, 0, sizeof dw);
    tcf_rmsnorm_backward(dx, dw, Rf, xf, wf, ROWS, C, eps);
    compare("rmsnorm dx", dx, num_x, ROWS * C);
    compare("rmsnorm dw", dw, num_w, C);
    /* dx == dy in place, and dw NULL */
    float d2[ROWS * C];
    memcpy(d2, Rf, sizeof d2);
    tcf_rmsnorm_backward(d2, NULL, d2, xf, wf, ROWS, C, eps);
    CHECK(!memcmp(d2, dx, sizeof d2), "rmsnorm backward in place differs");
}

enum { RD = 8, RH = 3, RP = 11 };

static double rope_loss(const double *x, const double *R, int pos, double theta) {
    double L = 0;
    for (int hh = 0; hh < RH; hh++)
        for (int i = 0; i < RD / 2; i++) {
            double a = pos * pow(theta, -2.0 * i / RD), x1 = x[hh * RD + i], x2 = x[hh * RD + i + RD / 2];
            L += (x1 * cos(a) - x2 * sin(a)) * R[hh * RD + i] + (x2 * cos(a) + x1 * sin(a)) * R[hh * RD + i + RD / 2];
        }
    return L;
}

static void test_rope(void) {
    float ct[RP * RD / 2], st[RP * RD / 2], Rf[RH * RD], dx[RH * RD];
    double x[RH * RD], R[RH * RD], num[RH * RD];
    tcf_rope_table(ct, st, RP, RD, 500.0);
    for (int i = 0; i < RH * RD; i++) x[i] = urand(), Rf[i] = (float)urand(), R[i] = Rf[i];
    const int pos = 9;
    const double h = 1e-5;
    for (int i = 0; i < RH * RD; i++) {
        double s = x[i];
        x[i] = s + h;
        double lp = rope_loss(x, R, pos, 500.0);
        x[i] = s - h;
        double lm = rope_loss(x, R, pos, 500.0);
        x[i] = s;
        num[i] = (lp - lm) / (2 * h);
    }
    memcpy(dx, Rf, sizeof dx);
    tcf_rope_backward(dx, RH, RD, ct + pos * RD / 2, st + pos * RD / 2);
    compare("rope dx", dx, num, RH * RD);
}

enum { SN = 40 };

static double swiglu_loss(const double *g, const double *u, const double *R) {
    double L = 0;
    for (int i = 0; i < SN; i++) L += g[i] / (1 + exp(-g[i])) * u[i] * R[i];
    return L;
}

static void test_swiglu(void) {
    double g[SN], u[SN], R[SN], ng[SN], nu[SN];
    float gf[SN], uf[SN], Rf[SN], dg[SN], du[SN];
    for (int i = 0; i < SN; i++) {
        gf[i] = (float)(6 * urand()), uf[i] = (float)urand(), Rf[i] = (float)urand();
        g[i] = gf[i], u[i] = uf[i], R[i] = Rf[i];
    }
    const double h = 1e-5;
    for (int i = 0; i < SN; i++) {
        double s = g[i];
        g[i] = s + h;
        double lp = swiglu_loss(g, u, R);
        g[i] = s - h;
        double lm = swiglu_loss(g, u, R);
        g[i] = s;
        ng[i] = (lp - lm) / (2 * h);
        s = u[i];
        u[i] = s + h;
        lp = swiglu_loss(g, u, R);
        u[i] = s - h;
        lm = swiglu_loss(g, u, R);
        u[i] = s;
        nu[i] = (lp - lm) / (2 * h);
    }
    tcf_swiglu_backward(dg, du, Rf, gf, uf, SN);
    compare("swiglu dgate", dg, ng, SN);
    compare("swiglu dup", du, nu, SN);
}

/* GQA: H query heads, Hkv kv heads of D; q (T, H*D), k, v (T, Hkv*D). */
enum { AT = 6, AD = 4, AH = 4, AHKV = 2 };

static double attn_loss(const double *q, const double *k, const double *v, const uint8_t *mask,
                        const double *R) {
    const double scale = 1.0 / sqrt((double)AD);
    double L = 0;
    for (int hh = 0; hh < AH; hh++) {
        int g = hh / (AH / AHKV);
        for (int t = 0; t < AT; t++) {
            double p[AT], mx = -1e300, sum = 0;
            for (int s = 0; s <= t; s++) {
                if (!mask[s]) continue;
                double d = 0;
                for (int i = 0; i < AD; i++) d += q[t * AH * AD + hh * AD + i] * k[s * AHKV * AD + g * AD + i];
                p[s] = d * scale;
                if (p[s] > mx) mx = p[s];
            }
            for (int s = 0; s <= t; s++)
                if (mask[s]) sum += (p[s] = exp(p[s] - mx));
            for (int i = 0; i < AD && sum > 0; i++) {
                double c = 0;
                for (int s = 0; s <= t; s++)
                    if (mask[s]) c += p[s] / sum * v[s * AHKV * AD + g * AD + i];
                L += c * R[t * AH * AD + hh * AD + i];
            }
        }
    }
    return L;
}

static void test_attention(const char *tag, const uint8_t *mask) {
    enum { NQ = AT * AH * AD, NK = AT * AHKV * AD };
    /* one (T, Q + 2K) row block, as the forward's qkv buffer */
    enum { N = AH * AD + 2 * AHKV * AD };
    float qkv[AT * N], Rf[NQ], dq[NQ], dk[NK], dv[NK];
    double q[NQ], k[NK], v[NK], R[NQ], nq[NQ], nk[NK], nv[NK];
    for (int t = 0; t < AT; t++)
        for (int j = 0; j < N; j++) qkv[t * N + j] = (float)(1.5 * urand());
    for (int t = 0; t < AT; t++) {
        for (int j = 0; j < AH * AD; j++) q[t * AH * AD + j] = qkv[t * N + j];
        for (int j = 0; j < AHKV * AD; j++) {
            k[t * AHKV * AD + j] = qkv[t * N + AH * AD + j];
            v[t * AHKV * AD + j] = qkv[t * N + AH * AD + AHKV * AD + j];
        }
    }
    for (int i = 0; i < NQ; i++) Rf[i] = (float)urand(), R[i] = Rf[i];
    const double h = 1e-5;
    double *vars[3] = {q, k, v}, *nums[3] = {nq, nk, nv};
    int counts[3] = {NQ, NK, NK};
    for (int a = 0; a < 3; a++)
        for (int i = 0; i < counts[a]; i++) {
            double s = vars[a][i];
            vars[a][i] = s + h;
            double lp = attn_loss(q, k, v, mask, R);
            vars[a][i] = s - h;
            double lm = attn_loss(q, k, v, mask, R);
            vars[a][i] = s;
            nums[a][i] = (lp - lm) / (2 * h);
        }
    /* analytic: per head forward (saving P) and backward; kv-head grads summed over the group */
    const float scale = 1.0f / sqrtf((float)AD);
    float P[AT * AT], ctx[AT * AD], scratch[2 * AT * AT + AD * AT], hq[AT * AD], hk[AT * AD], hv[AT * AD];
    memset(dk, 0, sizeof dk);
    memset(dv, 0, sizeof dv);
    for (int hh = 0; hh < AH; hh++) {
        int g = hh / (AH / AHKV);
        const float *Q = qkv + hh * AD, *K = qkv + AH * AD + g * AD, *V = qkv + AH * AD + AHKV * AD + g * AD;
        tcf_attn_causal_head_forward(AT, AD, Q, K, V, N, mask, scale, ctx, AD, P, scratch);
        tcf_attn_head_backward(AT, AD, Q, K, V, N, P, mask, scale, NULL, Rf + hh * AD, AH * AD, hq, hk, hv, AD,
                               scratch);
        for (int t = 0; t < AT; t++)
            for (int i = 0; i < AD; i++) {
                dq[t * AH * AD + hh * AD + i] = hq[t * AD + i];
                dk[t * AHKV * AD + g * AD + i] += hk[t * AD + i];
                dv[t * AHKV * AD + g * AD + i] += hv[t * AD + i];
            }
    }
    char w[64];
    snprintf(w, sizeof w, "attention dq (%s)", tag);
    compare(w, dq, nq, NQ);
    snprintf(w, sizeof w, "attention dk, summed over group (%s)", tag);
    compare(w, dk, nk, NK);
    snprintf(w, sizeof w, "attention dv, summed over group (%s)", tag);
    compare(w, dv, nv, NK);
}

int main(void) {
    test_rmsnorm();
    test_rope();
    test_swiglu();
    const uint8_t left[AT] = {0, 0, 1, 1, 1, 1}, right[AT] = {1, 1, 1, 1, 0, 0}, full[AT] = {1, 1, 1, 1, 1, 1};
    test_attention("no padding", full);
    test_attention("left padding", left);
    test_attention("right padding", right);
    return check_summary("test_llama_grad");
}
