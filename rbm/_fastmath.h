/* Branch-free exp for the kernel's sigmoids, written so compilers vectorise it.
 *
 * exp(x) = 2^n * exp(r), n = round(x / ln 2), r = x - n ln 2 (Cody-Waite split),
 * exp(r) by its Taylor polynomial on |r| <= ln(2)/2 (degree 13 in double,
 * degree 7 in single: about 1 ulp), 2^n built from the exponent bits.
 * Rounding uses the 1.5 * 2^52 (2^23) shifter trick, so no floor() call and no
 * branch: only add, multiply, min/max and integer shifts, all SIMD friendly.
 * Inputs are clamped to the range where 2^n is a normal number, which makes
 * sigmoid(x) = 1 / (1 + exp(-x)) saturate cleanly (at about 1e-308 / 1e-38).
 */
#ifndef RBM_FASTMATH_H
#define RBM_FASTMATH_H

#include <stdint.h>
#include <stddef.h>
#include <string.h>

static inline double rbm_exp(double x)
{
    const double shifter = 6755399441055744.0; /* 1.5 * 2^52 */
    double t, n, r, p;
    int64_t bits;
    x = x < -708.0 ? -708.0 : x;
    x = x > 709.0 ? 709.0 : x;
    t = x * 1.4426950408889634 + shifter;
    n = t - shifter;
    r = x - n * 6.93147180369123816490e-01;
    r = r - n * 1.90821492927058770002e-10;
    p = 1.0 / 6227020800.0;
    p = p * r + 1.0 / 479001600.0;
    p = p * r + 1.0 / 39916800.0;
    p = p * r + 1.0 / 3628800.0;
    p = p * r + 1.0 / 362880.0;
    p = p * r + 1.0 / 40320.0;
    p = p * r + 1.0 / 5040.0;
    p = p * r + 1.0 / 720.0;
    p = p * r + 1.0 / 120.0;
    p = p * r + 1.0 / 24.0;
    p = p * r + 1.0 / 6.0;
    p = p * r + 0.5;
    p = p * r + 1.0;
    p = p * r + 1.0;
    memcpy(&bits, &t, sizeof bits);
    bits = (bits - INT64_C(0x4338000000000000) + 1023) << 52;
    memcpy(&t, &bits, sizeof t);
    return p * t;
}

static inline float rbm_expf(float x)
{
    const float shifter = 12582912.0f; /* 1.5 * 2^23 */
    float t, n, r, p;
    int32_t bits;
    x = x < -87.0f ? -87.0f : x;
    x = x > 88.0f ? 88.0f : x;
    t = x * 1.44269504088896341f + shifter;
    n = t - shifter;
    r = x - n * 0.693145751953125f;
    r = r - n * 1.428606765330187e-06f;
    p = 1.0f / 5040.0f;
    p = p * r + 1.0f / 720.0f;
    p = p * r + 1.0f / 120.0f;
    p = p * r + 1.0f / 24.0f;
    p = p * r + 1.0f / 6.0f;
    p = p * r + 0.5f;
    p = p * r + 1.0f;
    p = p * r + 1.0f;
    memcpy(&bits, &t, sizeof bits);
    bits = (bits - INT32_C(0x4B400000) + 127) << 23;
    memcpy(&t, &bits, sizeof t);
    return p * t;
}


/* Run-time dispatch: on x86-64 with GCC and glibc the loops below are also
 * compiled for AVX2+FMA and the best version is picked when the module loads
 * (the baseline build is SSE2 only, and 2-3x slower here). */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__) && !defined(RBM_NO_DISPATCH)
#define RBM_DISPATCH __attribute__((target_clones("arch=x86-64-v3", "default")))
#else
#define RBM_DISPATCH
#endif

/* X[i, j] = sigmoid(X[i, j] + bias[j]) for rows [r0, r1) of a row-major (., n) array. */
RBM_DISPATCH
static void rbm_bias_sigmoid_rows_d(double *X, ptrdiff_t r0, ptrdiff_t r1, ptrdiff_t n,
                                    const double *bias)
{
    for (ptrdiff_t i = r0; i < r1; i++) {
        double *row = X + i * n;
        for (ptrdiff_t j = 0; j < n; j++)
            row[j] = 1.0 / (1.0 + rbm_exp(-(row[j] + bias[j])));
    }
}

RBM_DISPATCH
static void rbm_bias_sigmoid_rows_f(float *X, ptrdiff_t r0, ptrdiff_t r1, ptrdiff_t n,
                                    const float *bias)
{
    for (ptrdiff_t i = r0; i < r1; i++) {
        float *row = X + i * n;
        for (ptrdiff_t j = 0; j < n; j++)
            row[j] = 1.0f / (1.0f + rbm_expf(-(row[j] + bias[j])));
    }
}

/* out[i] = U[i] < P[i] ? 1 : 0 for i < count (P and out may alias).
 * U is single precision in both versions, so float32 and float64 models
 * make the same random decisions from the same stream. */
RBM_DISPATCH
static void rbm_bernoulli_d(const double *P, const float *U, double *out, ptrdiff_t count)
{
    for (ptrdiff_t i = 0; i < count; i++)
        out[i] = U[i] < P[i] ? 1.0 : 0.0;
}

RBM_DISPATCH
static void rbm_bernoulli_f(const float *P, const float *U, float *out, ptrdiff_t count)
{
    for (ptrdiff_t i = 0; i < count; i++)
        out[i] = U[i] < P[i] ? 1.0f : 0.0f;
}

#endif
