/* Box-Muller normals from a block of 64-bit draws, written so compilers vectorise it.
 *
 * u1 = ((d1 >> 11) + 1) 2^-53 in (0, 1], u2 = (d2 >> 11) 2^-53 in [0, 1):
 * the normals sqrt(-2 log u1) cos(2 pi u2) and sqrt(-2 log u1) sin(2 pi u2),
 * computed in double and stored as float (the kernel's scratch type).
 *
 * Until this header, the kernel called libm's log and sincos one pair at a
 * time: 15% of a Gaussian-Bernoulli fit at 784 x 500.  Here the log is
 * fdlibm's e_log.c (argument split at sqrt(2), the Lg1..Lg7 polynomial in
 * s = f / (2 + f), under 1 ulp) and sin / cos are fdlibm's __kernel_sin and
 * __kernel_cos on |x| <= pi / 4 (under 1 ulp), after a reduction done in
 * turns: t - q / 4 is exact in double, so the only rounding is the one
 * product by 2 pi.  Both are branch-free for u1 in (0, 1] and u2 in [0, 1),
 * the only inputs they get.  The results differ from libm's by an ulp or so
 * of double, so the floats stored are libm's except when a value falls
 * within that of a float rounding boundary (about once in 10^7 draws).
 */
#ifndef RBM_NORMAL_H
#define RBM_NORMAL_H

#include <stdint.h>
#include <stddef.h>
#include <string.h>
#include "_fastmath.h" /* RBM_DISPATCH */

/* Vectorised only where math functions need not set errno (setup.py passes
 * -fno-math-errno): otherwise GCC keeps a scalar sqrt call for the error case. */

/* log(x) for x in [2^-53, 1]: normal doubles only (fdlibm e_log.c).  The
 * integer steps stay in int64 bit operations and int32 conversions, which
 * AVX2 vectorises (it has no int64 <-> double conversion). */
static inline double rbm_log_unit(double x)
{
    const double ln2_hi = 6.93147180369123816490e-01, ln2_lo = 1.90821492927058770002e-10;
    const double Lg1 = 6.666666666666735130e-01, Lg2 = 3.999999999940941908e-01,
                 Lg3 = 2.857142874366239149e-01, Lg4 = 2.222219843214978396e-01,
                 Lg5 = 1.818357216161805012e-01, Lg6 = 1.531383769920937332e-01,
                 Lg7 = 1.479819860511658591e-01;
    int64_t bits;
    memcpy(&bits, &x, sizeof bits);
    /* x = m 2^e with m in [sqrt(2) / 2, sqrt(2)): fold the mantissas above
     * sqrt(2) (fraction bits 0x6a09e667f3bcd) into the next exponent. */
    const int64_t fraction = bits & INT64_C(0x000FFFFFFFFFFFFF);
    const int64_t above = fraction > INT64_C(0x6A09E667F3BCD) ? 1 : 0;
    const int e = (int) (bits >> 52) - 1023 + (int) above;
    const int64_t m_bits = fraction | ((INT64_C(0x3FF) - above) << 52);
    double m;
    memcpy(&m, &m_bits, sizeof m);
    const double f = m - 1.0;
    const double s = f / (2.0 + f);
    const double z = s * s, w = z * z;
    const double t1 = w * (Lg2 + w * (Lg4 + w * Lg6));
    const double t2 = z * (Lg1 + w * (Lg3 + w * (Lg5 + w * Lg7)));
    const double R = t2 + t1, hfsq = 0.5 * f * f, k = (double) e;
    return k * ln2_hi - ((hfsq - (s * (hfsq + R) + k * ln2_lo)) - f);
}

/* (double) v for v < 2^53, exactly, without an int64 -> double conversion:
 * the low 52 bits as the mantissa of 2^52 + low, then the top bit. */
static inline double rbm_exact_double_53(uint64_t v)
{
    const uint64_t low_bits = (v & UINT64_C(0x000FFFFFFFFFFFFF)) | UINT64_C(0x4330000000000000);
    double low;
    memcpy(&low, &low_bits, sizeof low);
    return (low - 4503599627370496.0) + (double) (int) (v >> 52) * 4503599627370496.0;
}

/* sin(x) and cos(x) for |x| <= pi / 4 (fdlibm's __kernel_sin, __kernel_cos with y = 0). */
static inline void rbm_sincos_kernel(double x, double *s, double *c)
{
    const double S1 = -1.66666666666666324348e-01, S2 = 8.33333333332248946124e-03,
                 S3 = -1.98412698298579493134e-04, S4 = 2.75573137070700676789e-06,
                 S5 = -2.50507602534068634195e-08, S6 = 1.58969099521155010221e-10;
    const double C1 = 4.16666666666666019037e-02, C2 = -1.38888888888741095749e-03,
                 C3 = 2.48015872894767294178e-05, C4 = -2.75573143513906633035e-07,
                 C5 = 2.08757232129817482790e-09, C6 = -1.13596475577881948265e-11;
    const double z = x * x, v = z * x;
    const double rs = S2 + z * (S3 + z * (S4 + z * (S5 + z * S6)));
    *s = x + v * (S1 + z * rs);
    const double rc = z * (C1 + z * (C2 + z * (C3 + z * (C4 + z * (C5 + z * C6)))));
    const double hz = 0.5 * z, w = 1.0 - hz;
    *c = w + (((1.0 - w) - hz) + z * rc);
}

/* The two normals of one pair of draws: d1 gives the radius, d2 the angle. */
static inline void rbm_box_muller_pair(uint64_t d1, uint64_t d2, double *cos_normal,
                                       double *sin_normal)
{
    const double scale = 1.0 / 9007199254740992.0; /* 2^-53 */
    const double two_pi = 6.28318530717958647693;
    const double u1 = (rbm_exact_double_53(d1 >> 11) + 1.0) * scale;
    const double u2 = rbm_exact_double_53(d2 >> 11) * scale;
    const double radius = sqrt(-2.0 * rbm_log_unit(u1));
    /* 2 pi u2 = 2 pi (u2 - q / 4) + q pi / 2, with |u2 - q / 4| <= 1 / 8. */
    const int q = (int) (4.0 * u2 + 0.5);
    double s, c;
    rbm_sincos_kernel((u2 - 0.25 * (double) q) * two_pi, &s, &c);
    /* (cos, sin) of x + q pi / 2: odd q swaps them; q = 1, 2 (mod 4) negate
     * the cosine, q = 2, 3 the sine. */
    const double cos_q = (q & 1) ? s : c, sin_q = (q & 1) ? c : s;
    *cos_normal = radius * (((q + 1) & 2) ? -cos_q : cos_q);
    *sin_normal = radius * ((q & 2) ? -sin_q : sin_q);
}

/* out[i] for i < n_out from draws[0 .. 2 ceil(n_out / 2)): pair p takes draws
 * 2p and 2p + 1; out[2p] is its cosine normal and out[2p + 1] its sine
 * normal (dropped for the last pair of an odd n_out). */
RBM_DISPATCH static void rbm_box_muller(const uint64_t *restrict draws, ptrdiff_t n_out,
                                        float *restrict out)
{
    double cos_normal, sin_normal;
    for (ptrdiff_t p = 0; p < n_out / 2; p++) {
        rbm_box_muller_pair(draws[2 * p], draws[2 * p + 1], &cos_normal, &sin_normal);
        out[2 * p] = (float) cos_normal;
        out[2 * p + 1] = (float) sin_normal;
    }
    if (n_out % 2) {
        rbm_box_muller_pair(draws[n_out - 1], draws[n_out], &cos_normal, &sin_normal);
        out[n_out - 1] = (float) cos_normal;
    }
}

#endif /* RBM_NORMAL_H */
