/*
 * ops.c — kernel dispatch (which ISA the SIMD kernels use) and row-wise ops:
 * LayerNorm, GELU. The dense product is in gemm.c.
 */
#include "kern/kern.h"
#include "base/base.h"

#include <immintrin.h>
#include <math.h>

static int force_scalar;

void tcf_kern_force_scalar(int on) { force_scalar = on; }

static int have_avx2(void) {
    static int cached = -1;
    if (cached < 0) {
        __builtin_cpu_init();
        cached = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    }
    return cached;
}

const char *tcf_kern_isa(void) { return (!force_scalar && have_avx2()) ? "avx2" : "scalar"; }

/* ---- row-wise ops ------------------------------------------------------- */

void tcf_layernorm(float *y, const float *x, const float *g, const float *b, int64_t rows, int C,
                   float eps) {
    for (int64_t r = 0; r < rows; r++) {
        const float *xr = x + r * C;
        float *yr = y + r * C;
        double mean = 0, var = 0;
        for (int i = 0; i < C; i++) mean += xr[i];
        mean /= C;
        for (int i = 0; i < C; i++) var += (xr[i] - mean) * (xr[i] - mean);
        var /= C;
        float rstd = (float)(1.0 / sqrt(var + eps)), mu = (float)mean;
        for (int i = 0; i < C; i++) yr[i] = (xr[i] - mu) * rstd * g[i] + b[i];
    }
}

void tcf_gelu(float *y, const float *x, int64_t n) {
    for (int64_t i = 0; i < n; i++) y[i] = 0.5f * x[i] * (1.0f + erff(x[i] * (float)M_SQRT1_2));
}
