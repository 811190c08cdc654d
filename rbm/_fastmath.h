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

/* dlopen/dlsym where the platform has them (to call NumPy's own BLAS, see
 * use_numpy_blas in _gibbs.pyx); elsewhere lookups fail and the kernel
 * keeps SciPy's BLAS. */
#if defined(_WIN32)
static void *rbm_dlopen(const char *path) { (void) path; return NULL; }
static void *rbm_dlsym(void *handle, const char *name) { (void) handle; (void) name; return NULL; }
#else
#include <dlfcn.h>
static void *rbm_dlopen(const char *path) { return dlopen(path, RTLD_NOW | RTLD_LOCAL); }
static void *rbm_dlsym(void *handle, const char *name) { return dlsym(handle, name); }
#endif

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


/* softplus(x) = log(1 + exp(x)) = max(x, 0) + log1p(e), e = exp(-|x|) in (0, 1],
 * with log1p(e) = 2 atanh(s), s = e / (2 + e) in (0, 1/3], summed as its
 * series s (1 + s^2/3 + s^4/5 + ...) to the term s^32/33 (below 2e-18 of the
 * sum for s <= 1/3): no cancellation for tiny e, no branch, within a few ulp. */
static inline double rbm_softplus(double x)
{
    double a = x < 0.0 ? -x : x;
    double e = rbm_exp(-a);
    double s = e / (2.0 + e);
    double t = s * s;
    double p = 1.0 / 33.0;
    p = p * t + 1.0 / 31.0;
    p = p * t + 1.0 / 29.0;
    p = p * t + 1.0 / 27.0;
    p = p * t + 1.0 / 25.0;
    p = p * t + 1.0 / 23.0;
    p = p * t + 1.0 / 21.0;
    p = p * t + 1.0 / 19.0;
    p = p * t + 1.0 / 17.0;
    p = p * t + 1.0 / 15.0;
    p = p * t + 1.0 / 13.0;
    p = p * t + 1.0 / 11.0;
    p = p * t + 1.0 / 9.0;
    p = p * t + 1.0 / 7.0;
    p = p * t + 1.0 / 5.0;
    p = p * t + 1.0 / 3.0;
    p = p * t + 1.0;
    return (x > 0.0 ? x : 0.0) + 2.0 * s * p;
}

/* Run-time dispatch: on x86-64 with GCC and glibc the loops below are also
 * compiled for x86-64-v3 (AVX2+FMA) and v4 (AVX-512), and the best version
 * for the CPU is picked when the module loads (the baseline build is SSE2
 * only, and 2-3x slower here). */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__) && !defined(RBM_NO_DISPATCH)
#define RBM_DISPATCH __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define RBM_DISPATCH
#endif

/* X[i, j] = sigmoid(X[i, j] + bias[j]) for rows [r0, r1) of a row-major (., n) array. */
#define RBM_DEFINE_BIAS_SIGMOID_ROWS(NAME, T, EXP)                                    \
RBM_DISPATCH                                                                          \
static void NAME(T *X, ptrdiff_t r0, ptrdiff_t r1, ptrdiff_t n, const T *bias)        \
{                                                                                     \
    for (ptrdiff_t i = r0; i < r1; i++) {                                             \
        T *row = X + i * n;                                                           \
        for (ptrdiff_t j = 0; j < n; j++)                                             \
            row[j] = (T) 1 / ((T) 1 + EXP(-(row[j] + bias[j])));                      \
    }                                                                                 \
}

RBM_DEFINE_BIAS_SIGMOID_ROWS(rbm_bias_sigmoid_rows_d, double, rbm_exp)
RBM_DEFINE_BIAS_SIGMOID_ROWS(rbm_bias_sigmoid_rows_f, float, rbm_expf)

/* out[i] = U[i] < P[i] ? 1 : 0 for i < count (P and out may alias).
 * U is single precision in both versions, so float32 and float64 models
 * make the same random decisions from the same stream. */
#define RBM_DEFINE_BERNOULLI(NAME, T)                                                 \
RBM_DISPATCH                                                                          \
static void NAME(const T *P, const float *U, T *out, ptrdiff_t count)                 \
{                                                                                     \
    for (ptrdiff_t i = 0; i < count; i++)                                             \
        out[i] = U[i] < P[i] ? (T) 1 : (T) 0;                                         \
}

RBM_DEFINE_BERNOULLI(rbm_bernoulli_d, double)
RBM_DEFINE_BERNOULLI(rbm_bernoulli_f, float)

/* Products for small models, where BLAS's fixed cost per call dominates.
 * Rows of Bernoulli states are mostly zeros and ones, so X @ M is a sum of
 * selected rows of M, with no work for the zeros.  The selected rows are
 * combined a block of columns at a time so the partial sums stay in
 * registers (RBM_COMBINE_BLOCK accumulators of one cache line or more). */

/* The partial sums of a block of 4 vectors of columns stay in registers while
 * the selected rows stream past.  GCC and Clang vector extensions make the
 * vectorisation explicit (left to itself GCC vectorises across rows instead,
 * with gathers); other compilers get plain arrays of the same width.  Eight
 * lanes in both precisions: 64-byte double vectors made 64 x 64 float64
 * training 10% faster with AVX-512 (AVX2 splits each into two), while
 * 16-lane floats made 27 x 20 x 100 categorical training 10% slower. */
#if defined(__GNUC__) || defined(__clang__)
typedef double rbm_vd __attribute__((vector_size(64)));
typedef float rbm_vf __attribute__((vector_size(32)));
#define RBM_LANES_D 8
#define RBM_LANES_F 8
#else
typedef struct { double v[1]; } rbm_vd;  /* placeholders: scalar path below */
typedef struct { float v[1]; } rbm_vf;
#define RBM_NO_VECTOR_EXTENSIONS
#endif

/* Where the CPU has AVX-512 (rbm_vector_compaction switches it, with the
 * compaction), the row combination starts with blocks of 8 vectors of
 * columns (rbm_combine8_d/f, defined with the other AVX-512 code below):
 * its 32 registers hold 8 partial sums and a row's 8 vectors, so a 64-column
 * float64 row is read in one pass with 8 independent sums instead of two
 * passes with 4 (15% faster for a 64 x 64 model's products; AVX2's 16
 * registers would spill them).  Each column's sum takes the rows in the
 * same order either way, so the results are the same to the bit. */
static int rbm_use_avx512_compact;
static ptrdiff_t rbm_combine8_d(const ptrdiff_t *idx, const double *coef, ptrdiff_t n_active,
                                const double *M, ptrdiff_t n, double *out, int accumulate);
static ptrdiff_t rbm_combine8_f(const ptrdiff_t *idx, const float *coef, ptrdiff_t n_active,
                                const float *M, ptrdiff_t n, float *out, int accumulate);

/* out[:n] (+)= sum_s coef[s] * M[idx[s], :n]   (M row-major with n columns) */
#ifndef RBM_NO_VECTOR_EXTENSIONS
#define RBM_DEFINE_COMBINE(NAME, T, V, LANES, COMBINE8)                               \
RBM_DISPATCH                                                                          \
static void NAME(const ptrdiff_t *idx, const T *coef, ptrdiff_t n_active,             \
                 const T *M, ptrdiff_t n, T *out, int accumulate)                     \
{                                                                                     \
    const ptrdiff_t block = 4 * LANES;                                                \
    ptrdiff_t j0 = rbm_use_avx512_compact                                             \
        ? COMBINE8(idx, coef, n_active, M, n, out, accumulate) : 0;                   \
    for (; j0 + block <= n; j0 += block) {                                            \
        V a0 = {0}, a1 = {0}, a2 = {0}, a3 = {0}, m0, m1, m2, m3;                     \
        if (accumulate) {                                                             \
            memcpy(&a0, out + j0, sizeof a0);                                         \
            memcpy(&a1, out + j0 + LANES, sizeof a1);                                 \
            memcpy(&a2, out + j0 + 2 * LANES, sizeof a2);                             \
            memcpy(&a3, out + j0 + 3 * LANES, sizeof a3);                             \
        }                                                                             \
        for (ptrdiff_t s = 0; s < n_active; s++) {                                    \
            const T a = coef[s];                                                      \
            const T *m = M + idx[s] * n + j0;                                         \
            memcpy(&m0, m, sizeof m0);                                                \
            memcpy(&m1, m + LANES, sizeof m1);                                        \
            memcpy(&m2, m + 2 * LANES, sizeof m2);                                    \
            memcpy(&m3, m + 3 * LANES, sizeof m3);                                    \
            a0 += a * m0;                                                             \
            a1 += a * m1;                                                             \
            a2 += a * m2;                                                             \
            a3 += a * m3;                                                             \
        }                                                                             \
        memcpy(out + j0, &a0, sizeof a0);                                             \
        memcpy(out + j0 + LANES, &a1, sizeof a1);                                     \
        memcpy(out + j0 + 2 * LANES, &a2, sizeof a2);                                 \
        memcpy(out + j0 + 3 * LANES, &a3, sizeof a3);                                 \
    }                                                                                 \
    for (; j0 + LANES <= n; j0 += LANES) {  /* leftover whole vectors */              \
        V acc = {0}, m;                                                               \
        if (accumulate)                                                               \
            memcpy(&acc, out + j0, sizeof acc);                                       \
        for (ptrdiff_t s = 0; s < n_active; s++) {                                    \
            memcpy(&m, M + idx[s] * n + j0, sizeof m);                                \
            acc += coef[s] * m;                                                       \
        }                                                                             \
        memcpy(out + j0, &acc, sizeof acc);                                           \
    }                                                                                 \
    for (ptrdiff_t j = j0; j < n; j++) {                                              \
        T sum = accumulate ? out[j] : (T) 0;                                          \
        for (ptrdiff_t s = 0; s < n_active; s++)                                      \
            sum += coef[s] * M[idx[s] * n + j];                                       \
        out[j] = sum;                                                                 \
    }                                                                                 \
}

RBM_DEFINE_COMBINE(rbm_combine_rows_d, double, rbm_vd, RBM_LANES_D, rbm_combine8_d)
RBM_DEFINE_COMBINE(rbm_combine_rows_f, float, rbm_vf, RBM_LANES_F, rbm_combine8_f)
#else
#define RBM_DEFINE_COMBINE_SCALAR(NAME, T)                                            \
static void NAME(const ptrdiff_t *idx, const T *coef, ptrdiff_t n_active,             \
                 const T *M, ptrdiff_t n, T *out, int accumulate)                     \
{                                                                                     \
    if (!accumulate)                                                                  \
        for (ptrdiff_t j = 0; j < n; j++)                                             \
            out[j] = (T) 0;                                                           \
    for (ptrdiff_t s = 0; s < n_active; s++)                                          \
        for (ptrdiff_t j = 0; j < n; j++)                                             \
            out[j] += coef[s] * M[idx[s] * n + j];                                    \
}

RBM_DEFINE_COMBINE_SCALAR(rbm_combine_rows_d, double)
RBM_DEFINE_COMBINE_SCALAR(rbm_combine_rows_f, float)
#endif

/* row[i] = exp(row[i] + b[i] - max over i's block of (row + b)) for each block
 * [groups[g], groups[g + 1]) of a row: the unnormalised softmax of each
 * categorical feature, with the largest term 1 so nothing overflows. */
#define RBM_DEFINE_BLOCK_SOFTMAX_WEIGHTS(NAME, T, EXP)                               \
RBM_DISPATCH                                                                          \
static void NAME(T *row, const T *b, const ptrdiff_t *groups, ptrdiff_t n_groups)     \
{                                                                                     \
    for (ptrdiff_t i = groups[0]; i < groups[n_groups]; i++)                          \
        row[i] += b[i];                                                               \
    for (ptrdiff_t g = 0; g < n_groups; g++) {                                        \
        T top = row[groups[g]];                                                       \
        for (ptrdiff_t i = groups[g] + 1; i < groups[g + 1]; i++)                     \
            top = row[i] > top ? row[i] : top;                                        \
        for (ptrdiff_t i = groups[g]; i < groups[g + 1]; i++)                         \
            row[i] -= top;                                                            \
    }                                                                                 \
    /* One pass over the whole row: a block's few categories would leave */          \
    /* most of each vector, or a scalar remainder, to every block. */                 \
    for (ptrdiff_t i = groups[0]; i < groups[n_groups]; i++)                          \
        row[i] = EXP(row[i]);                                                         \
}

RBM_DEFINE_BLOCK_SOFTMAX_WEIGHTS(rbm_block_softmax_weights_d, double, rbm_exp)
RBM_DEFINE_BLOCK_SOFTMAX_WEIGHTS(rbm_block_softmax_weights_f, float, rbm_expf)

/* Z[i] = softplus(beta Z[i]) - softplus(beta_prev Z[i]) for i < count: the
 * terms of an AIS log-weight increment (summed per row by the caller). */
RBM_DISPATCH
static void rbm_softplus_gap(double *Z, ptrdiff_t count, double beta, double beta_prev)
{
    for (ptrdiff_t i = 0; i < count; i++)
        Z[i] = rbm_softplus(beta * Z[i]) - rbm_softplus(beta_prev * Z[i]);
}

/* out[i] = softplus(x[i]) for i < count. */
RBM_DISPATCH
static void rbm_softplus_array(const double *x, ptrdiff_t count, double *out)
{
    for (ptrdiff_t i = 0; i < count; i++)
        out[i] = rbm_softplus(x[i]);
}

/* One-hot draws for each block of a row of unnormalised softmax weights
 * (rbm_block_softmax_weights): block g takes the category where the running
 * sum first exceeds u[g] times the block's total (inverse CDF), or its last
 * if rounding leaves none.  Sums in double, the total with four partial sums
 * (one chain of dependent additions took most of the sampler's time). */
#define RBM_DEFINE_BLOCK_CATEGORICAL_DRAW(NAME, T)                                    \
static void NAME(T *row, const ptrdiff_t *groups, ptrdiff_t n_groups, const float *u) \
{                                                                                     \
    for (ptrdiff_t g = 0; g < n_groups; g++) {                                        \
        const ptrdiff_t lo = groups[g], hi = groups[g + 1];                           \
        double s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0, cumulative = 0.0;              \
        ptrdiff_t i = lo, chosen = hi - 1;                                            \
        for (; i + 4 <= hi; i += 4) {                                                 \
            s0 += row[i];                                                             \
            s1 += row[i + 1];                                                         \
            s2 += row[i + 2];                                                         \
            s3 += row[i + 3];                                                         \
        }                                                                             \
        for (; i < hi; i++)                                                           \
            s0 += row[i];                                                             \
        const double target = u[g] * ((s0 + s1) + (s2 + s3));                         \
        for (i = lo; i < hi; i++) {                                                   \
            cumulative += row[i];                                                     \
            if (target < cumulative) {                                                \
                chosen = i;                                                           \
                break;                                                                \
            }                                                                         \
        }                                                                             \
        for (i = lo; i < hi; i++)                                                     \
            row[i] = (T) 0;                                                           \
        row[chosen] = (T) 1;                                                          \
    }                                                                                 \
}

RBM_DEFINE_BLOCK_CATEGORICAL_DRAW(rbm_block_categorical_draw_d, double)
RBM_DEFINE_BLOCK_CATEGORICAL_DRAW(rbm_block_categorical_draw_f, float)

/* out[r] = X[r, :n] . v for each row of a row-major (rows x n) X.  Four
 * vector accumulators per row: a plain scalar loop would be one long chain of
 * dependent additions, which compilers may not reorder (about 4 cycles an
 * element; this made centering cost 15% of training at 64 x 64). */
#ifndef RBM_NO_VECTOR_EXTENSIONS
#define RBM_DEFINE_ROW_DOTS(NAME, T, V, LANES)                                        \
RBM_DISPATCH                                                                          \
static void NAME(const T *X, ptrdiff_t rows, ptrdiff_t n, const T *v, T *out)         \
{                                                                                     \
    const ptrdiff_t block = 4 * LANES;                                                \
    for (ptrdiff_t r = 0; r < rows; r++) {                                            \
        const T *x = X + r * n;                                                       \
        V a0 = {0}, a1 = {0}, a2 = {0}, a3 = {0}, x0, x1, x2, x3, v0, v1, v2, v3;     \
        ptrdiff_t j = 0;                                                              \
        for (; j + block <= n; j += block) {                                          \
            memcpy(&x0, x + j, sizeof x0);                                            \
            memcpy(&x1, x + j + LANES, sizeof x1);                                    \
            memcpy(&x2, x + j + 2 * LANES, sizeof x2);                                \
            memcpy(&x3, x + j + 3 * LANES, sizeof x3);                                \
            memcpy(&v0, v + j, sizeof v0);                                            \
            memcpy(&v1, v + j + LANES, sizeof v1);                                    \
            memcpy(&v2, v + j + 2 * LANES, sizeof v2);                                \
            memcpy(&v3, v + j + 3 * LANES, sizeof v3);                                \
            a0 += x0 * v0;                                                            \
            a1 += x1 * v1;                                                            \
            a2 += x2 * v2;                                                            \
            a3 += x3 * v3;                                                            \
        }                                                                             \
        a0 += a1 + a2 + a3;                                                           \
        T sum = 0;                                                                    \
        for (int lane = 0; lane < LANES; lane++)                                      \
            sum += a0[lane];                                                          \
        for (; j < n; j++)                                                            \
            sum += x[j] * v[j];                                                       \
        out[r] = sum;                                                                 \
    }                                                                                 \
}

RBM_DEFINE_ROW_DOTS(rbm_row_dots_d, double, rbm_vd, RBM_LANES_D)
RBM_DEFINE_ROW_DOTS(rbm_row_dots_f, float, rbm_vf, RBM_LANES_F)
#else
#define RBM_DEFINE_ROW_DOTS_SCALAR(NAME, T)                                           \
static void NAME(const T *X, ptrdiff_t rows, ptrdiff_t n, const T *v, T *out)         \
{                                                                                     \
    for (ptrdiff_t r = 0; r < rows; r++) {                                            \
        T sum = 0;                                                                    \
        for (ptrdiff_t j = 0; j < n; j++)                                             \
            sum += X[r * n + j] * v[j];                                               \
        out[r] = sum;                                                                 \
    }                                                                                 \
}

RBM_DEFINE_ROW_DOTS_SCALAR(rbm_row_dots_d, double)
RBM_DEFINE_ROW_DOTS_SCALAR(rbm_row_dots_f, float)
#endif

/* Ask the caches for rows[0], ..., rows[n_rows - 1] of a row-major array
 * with row_bytes bytes per row, ahead of their use: minibatch rows are
 * scattered over the data, and each is otherwise a run of cache misses. */
static void rbm_prefetch_rows(const void *base, const ptrdiff_t *rows, ptrdiff_t n_rows,
                              ptrdiff_t row_bytes)
{
#if defined(__GNUC__) || defined(__clang__)
    for (ptrdiff_t i = 0; i < n_rows; i++) {
        const char *row = (const char *) base + rows[i] * row_bytes;
        for (ptrdiff_t offset = 0; offset < row_bytes; offset += 64)
            __builtin_prefetch(row + offset, 0, 3);
    }
#else
    (void) base; (void) rows; (void) n_rows; (void) row_bytes;
#endif
}

/* Compaction, the first half of every row-sum product: idx[:count] and
 * coef[:count] = the positions of the nonzeros of x[:k] and scale times
 * their values; returns count.  With AVX-512, x is compacted 8 entries per
 * instruction (vcompress into a register, then a whole-vector store, which
 * stays inside idx[:k] and coef[:k] because count <= i), 4x faster than the
 * branch-free scalar loop, which spends a cycle or two per entry.  Both give
 * the same entries, so results do not depend on which runs
 * (rbm_vector_compaction switches, for tests). */

#define RBM_DEFINE_COMPACT_SCALAR(NAME, T)                                            \
static ptrdiff_t NAME(const T *x, ptrdiff_t k, T scale, ptrdiff_t *idx, T *coef)      \
{                                                                                     \
    ptrdiff_t count = 0;                                                              \
    for (ptrdiff_t i = 0; i < k; i++) {  /* branch-free */                            \
        idx[count] = i;                                                               \
        coef[count] = scale * x[i];                                                   \
        count += x[i] != (T) 0;                                                       \
    }                                                                                 \
    return count;                                                                     \
}

RBM_DEFINE_COMPACT_SCALAR(rbm_compact_scalar_d, double)
RBM_DEFINE_COMPACT_SCALAR(rbm_compact_scalar_f, float)

/* AVX-512 code (the compaction here, the 8-stream sampler below): compiled
 * for that target where GCC or Clang build for x86-64, run only where the
 * CPU has it (rbm_avx512_switch). */
#if defined(__GNUC__) && defined(__x86_64__) && !defined(RBM_NO_DISPATCH)
#include <immintrin.h>
#define RBM_HAVE_AVX512 1
#define RBM_AVX512_TARGET __attribute__((target("avx512f,avx512vl,popcnt")))

RBM_AVX512_TARGET
static ptrdiff_t rbm_compact_avx512_d(const double *x, ptrdiff_t k, double scale,
                                      ptrdiff_t *idx, double *coef)
{
    const __m512d zero = _mm512_setzero_pd(), s = _mm512_set1_pd(scale);
    __m512i positions = _mm512_setr_epi64(0, 1, 2, 3, 4, 5, 6, 7);
    const __m512i eight = _mm512_set1_epi64(8);
    ptrdiff_t count = 0, i = 0;
    for (; i + 8 <= k; i += 8) {
        const __m512d v = _mm512_loadu_pd(x + i);
        const __mmask8 nonzero = _mm512_cmp_pd_mask(v, zero, _CMP_NEQ_UQ);
        _mm512_storeu_si512(idx + count, _mm512_maskz_compress_epi64(nonzero, positions));
        _mm512_storeu_pd(coef + count,
                         _mm512_maskz_compress_pd(nonzero, _mm512_mul_pd(v, s)));
        count += __builtin_popcount(nonzero);
        positions = _mm512_add_epi64(positions, eight);
    }
    for (; i < k; i++) {
        idx[count] = i;
        coef[count] = scale * x[i];
        count += x[i] != 0.0;
    }
    return count;
}

RBM_AVX512_TARGET
static ptrdiff_t rbm_compact_avx512_f(const float *x, ptrdiff_t k, float scale,
                                      ptrdiff_t *idx, float *coef)
{
    const __m256 zero = _mm256_setzero_ps(), s = _mm256_set1_ps(scale);
    __m512i positions = _mm512_setr_epi64(0, 1, 2, 3, 4, 5, 6, 7);
    const __m512i eight = _mm512_set1_epi64(8);
    ptrdiff_t count = 0, i = 0;
    for (; i + 8 <= k; i += 8) {
        const __m256 v = _mm256_loadu_ps(x + i);
        const __mmask8 nonzero = _mm256_cmp_ps_mask(v, zero, _CMP_NEQ_UQ);
        _mm512_storeu_si512(idx + count, _mm512_maskz_compress_epi64(nonzero, positions));
        _mm256_storeu_ps(coef + count,
                         _mm256_maskz_compress_ps(nonzero, _mm256_mul_ps(v, s)));
        count += __builtin_popcount(nonzero);
        positions = _mm512_add_epi64(positions, eight);
    }
    for (; i < k; i++) {
        idx[count] = i;
        coef[count] = scale * x[i];
        count += x[i] != 0.0f;
    }
    return count;
}

/* The whole blocks of 8 vectors of columns of out[:n] (+)= sum_s coef[s] *
 * M[idx[s], :n] (see rbm_combine_rows_d); returns the columns done. */
#define RBM_COMBINE8_LOAD(dst, src, LANES)                                            \
    do {                                                                              \
        memcpy(&dst##0, (src), sizeof dst##0);                                        \
        memcpy(&dst##1, (src) + LANES, sizeof dst##0);                                \
        memcpy(&dst##2, (src) + 2 * LANES, sizeof dst##0);                            \
        memcpy(&dst##3, (src) + 3 * LANES, sizeof dst##0);                            \
        memcpy(&dst##4, (src) + 4 * LANES, sizeof dst##0);                            \
        memcpy(&dst##5, (src) + 5 * LANES, sizeof dst##0);                            \
        memcpy(&dst##6, (src) + 6 * LANES, sizeof dst##0);                            \
        memcpy(&dst##7, (src) + 7 * LANES, sizeof dst##0);                            \
    } while (0)
#define RBM_COMBINE8_STORE(dst, src, LANES)                                           \
    do {                                                                              \
        memcpy((dst), &src##0, sizeof src##0);                                        \
        memcpy((dst) + LANES, &src##1, sizeof src##0);                                \
        memcpy((dst) + 2 * LANES, &src##2, sizeof src##0);                            \
        memcpy((dst) + 3 * LANES, &src##3, sizeof src##0);                            \
        memcpy((dst) + 4 * LANES, &src##4, sizeof src##0);                            \
        memcpy((dst) + 5 * LANES, &src##5, sizeof src##0);                            \
        memcpy((dst) + 6 * LANES, &src##6, sizeof src##0);                            \
        memcpy((dst) + 7 * LANES, &src##7, sizeof src##0);                            \
    } while (0)
/* (Separate variables, not arrays: GCC keeps these in registers.) */
#define RBM_DEFINE_COMBINE8(NAME, T, V, LANES)                                        \
RBM_AVX512_TARGET                                                                     \
static ptrdiff_t NAME(const ptrdiff_t *idx, const T *coef, ptrdiff_t n_active,        \
                      const T *M, ptrdiff_t n, T *out, int accumulate)                \
{                                                                                     \
    ptrdiff_t j0 = 0;                                                                 \
    for (; j0 + 8 * LANES <= n; j0 += 8 * LANES) {                                    \
        V a0 = {0}, a1 = {0}, a2 = {0}, a3 = {0}, a4 = {0}, a5 = {0}, a6 = {0},       \
          a7 = {0}, m0, m1, m2, m3, m4, m5, m6, m7;                                   \
        if (accumulate)                                                               \
            RBM_COMBINE8_LOAD(a, out + j0, LANES);                                    \
        for (ptrdiff_t s = 0; s < n_active; s++) {                                    \
            const T c = coef[s];                                                      \
            RBM_COMBINE8_LOAD(m, M + idx[s] * n + j0, LANES);                         \
            a0 += c * m0;                                                             \
            a1 += c * m1;                                                             \
            a2 += c * m2;                                                             \
            a3 += c * m3;                                                             \
            a4 += c * m4;                                                             \
            a5 += c * m5;                                                             \
            a6 += c * m6;                                                             \
            a7 += c * m7;                                                             \
        }                                                                             \
        RBM_COMBINE8_STORE(out + j0, a, LANES);                                       \
    }                                                                                 \
    return j0;                                                                        \
}

RBM_DEFINE_COMBINE8(rbm_combine8_d, double, rbm_vd, RBM_LANES_D)
RBM_DEFINE_COMBINE8(rbm_combine8_f, float, rbm_vf, RBM_LANES_F)

/* Columns of the 8 x 8 matrix of 64-bit rows r[0..7], in place (3 rounds of
 * shuffles, all in registers). */
RBM_AVX512_TARGET
static inline void rbm_transpose8x8_epi64(__m512i r[8])
{
    __m512i t[8], u[8];
    for (int i = 0; i < 4; i++) {
        t[2 * i] = _mm512_unpacklo_epi64(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm512_unpackhi_epi64(r[2 * i], r[2 * i + 1]);
    }
    for (int i = 0; i < 2; i++) {  /* u[0..3] from t[0..3], u[4..7] from t[4..7] */
        u[4 * i + 0] = _mm512_shuffle_i64x2(t[4 * i + 0], t[4 * i + 2], 0x88);
        u[4 * i + 1] = _mm512_shuffle_i64x2(t[4 * i + 1], t[4 * i + 3], 0x88);
        u[4 * i + 2] = _mm512_shuffle_i64x2(t[4 * i + 0], t[4 * i + 2], 0xDD);
        u[4 * i + 3] = _mm512_shuffle_i64x2(t[4 * i + 1], t[4 * i + 3], 0xDD);
    }
    for (int i = 0; i < 4; i++) {
        r[i] = _mm512_shuffle_i64x2(u[i], u[i + 4], 0x88);
        r[i + 4] = _mm512_shuffle_i64x2(u[i], u[i + 4], 0xDD);
    }
}

/* Bernoulli draws for up to 8 whole chunks of rows at once, one SFC64 stream
 * per chunk, stepped in the 64-bit lanes of AVX-512 registers: the chains of
 * dependent operations of 8 streams overlap instead of running one after
 * another.  Chunk l is P[l * count : (l + 1) * count] (count a multiple of
 * 16) and its stream's four state words are states[l][0..3], as NumPy's
 * SFC64 keeps them.  out = U < P elementwise, with the uniforms of the scalar
 * path: each 64-bit step gives two 24-bit values, bits 40-63 for the even
 * element and bits 8-31 for the odd one, times 2**-24 (in float, exact).
 * Those are the high and low 32-bit halves of the step shifted right by 8,
 * so one 32-bit shift and a swap of neighbouring halves turn 8 steps of a
 * stream into its 16 uniforms in order.  P and out may alias. */
#define RBM_DEFINE_BERNOULLI_SFC64X8(NAME, T, COMPARE)                                \
RBM_AVX512_TARGET                                                                     \
static void NAME(const T *P, T *out, ptrdiff_t count, uint64_t *const *states,       \
                 int n_lanes)                                                         \
{                                                                                     \
    uint64_t words[4][8] = {{0}};                                                     \
    for (int l = 0; l < n_lanes; l++)                                                 \
        for (int w = 0; w < 4; w++)                                                   \
            words[w][l] = states[l][w];                                               \
    __m512i s0 = _mm512_loadu_si512(words[0]), s1 = _mm512_loadu_si512(words[1]);     \
    __m512i s2 = _mm512_loadu_si512(words[2]), s3 = _mm512_loadu_si512(words[3]);     \
    const __m512i one = _mm512_set1_epi64(1);                                         \
    const __m512 scale = _mm512_set1_ps(1.0f / 16777216.0f);                          \
    for (ptrdiff_t e0 = 0; e0 < count; e0 += 16) {  /* 8 steps, 16 values a lane */   \
        __m512i block[8];  /* block[t]: step t of every lane; then lane l's steps */  \
        for (int t = 0; t < 8; t++) {  /* SFC64, as _sfc64_next */                    \
            block[t] = _mm512_add_epi64(_mm512_add_epi64(s0, s1), s3);                \
            s3 = _mm512_add_epi64(s3, one);                                           \
            s0 = _mm512_xor_si512(s1, _mm512_srli_epi64(s1, 11));                     \
            s1 = _mm512_add_epi64(s2, _mm512_slli_epi64(s2, 3));                      \
            s2 = _mm512_add_epi64(_mm512_rol_epi64(s2, 24), block[t]);                \
        }                                                                             \
        rbm_transpose8x8_epi64(block);                                                \
        for (int l = 0; l < n_lanes; l++) {                                           \
            const __m512i bits = _mm512_shuffle_epi32(_mm512_srli_epi32(block[l], 8), \
                                                      _MM_PERM_CDAB);                 \
            const __m512 u = _mm512_mul_ps(_mm512_cvtepi32_ps(bits), scale);          \
            COMPARE(P + l * count + e0, out + l * count + e0, u);                     \
        }                                                                             \
    }                                                                                 \
    _mm512_storeu_si512(words[0], s0);                                                \
    _mm512_storeu_si512(words[1], s1);                                                \
    _mm512_storeu_si512(words[2], s2);                                                \
    _mm512_storeu_si512(words[3], s3);                                                \
    for (int l = 0; l < n_lanes; l++)                                                 \
        for (int w = 0; w < 4; w++)                                                   \
            states[l][w] = words[w][l];                                               \
}

/* out[:16] = u < p[:16] as 0/1, for 16 float uniforms u. */
#define RBM_COMPARE16_F(p, o, u)                                                      \
    _mm512_storeu_ps((o), _mm512_maskz_mov_ps(                                       \
        _mm512_cmp_ps_mask((u), _mm512_loadu_ps(p), _CMP_LT_OQ), _mm512_set1_ps(1.0f)))
#define RBM_COMPARE16_D(p, o, u) do {                                                 \
    const __m512d lo_ = _mm512_cvtps_pd(_mm512_castps512_ps256(u));                   \
    const __m512d hi_ = _mm512_cvtps_pd(_mm256_castpd_ps(                             \
        _mm512_extractf64x4_pd(_mm512_castps_pd(u), 1)));                             \
    const __m512d one_ = _mm512_set1_pd(1.0);                                         \
    const __mmask8 mlo_ = _mm512_cmp_pd_mask(lo_, _mm512_loadu_pd(p), _CMP_LT_OQ);    \
    const __mmask8 mhi_ = _mm512_cmp_pd_mask(hi_, _mm512_loadu_pd((p) + 8), _CMP_LT_OQ); \
    _mm512_storeu_pd((o), _mm512_maskz_mov_pd(mlo_, one_));                           \
    _mm512_storeu_pd((o) + 8, _mm512_maskz_mov_pd(mhi_, one_));                       \
} while (0)

RBM_DEFINE_BERNOULLI_SFC64X8(rbm_bernoulli_sfc64x8_f, float, RBM_COMPARE16_F)
RBM_DEFINE_BERNOULLI_SFC64X8(rbm_bernoulli_sfc64x8_d, double, RBM_COMPARE16_D)
#endif

/* Set *flag to enabled > 0 (where the CPU and the build have AVX-512F and
 * VL) or to 0 (enabled == 0), or leave it (enabled < 0); returns it.  Each
 * AVX-512 path has its own flag so tests can compare it with the scalar one. */
static int rbm_avx512_switch(int *flag, int enabled)
{
    if (enabled >= 0) {
#ifdef RBM_HAVE_AVX512
        __builtin_cpu_init();
        *flag = enabled && __builtin_cpu_supports("avx512f")
                && __builtin_cpu_supports("avx512vl");
#else
        *flag = 0;
#endif
    }
    return *flag;
}

/* 1 where the 8-stream AVX-512 Bernoulli sampler runs. */
static int rbm_use_avx512_sampling = 0;

/* Switch the 8-stream sampler (see rbm_avx512_switch). */
static int rbm_vector_sampling(int enabled)
{
    return rbm_avx512_switch(&rbm_use_avx512_sampling, enabled);
}

#ifndef RBM_HAVE_AVX512
/* Never called without AVX-512 (rbm_vector_sampling and
 * rbm_vector_compaction keep their paths off). */
static ptrdiff_t rbm_combine8_d(const ptrdiff_t *idx, const double *coef, ptrdiff_t n_active,
                                const double *M, ptrdiff_t n, double *out, int accumulate)
{ (void) idx; (void) coef; (void) n_active; (void) M; (void) n; (void) out; (void) accumulate; return 0; }
static ptrdiff_t rbm_combine8_f(const ptrdiff_t *idx, const float *coef, ptrdiff_t n_active,
                                const float *M, ptrdiff_t n, float *out, int accumulate)
{ (void) idx; (void) coef; (void) n_active; (void) M; (void) n; (void) out; (void) accumulate; return 0; }
static void rbm_bernoulli_sfc64x8_f(const float *P, float *out, ptrdiff_t count,
                                    uint64_t *const *states, int n_lanes)
{ (void) P; (void) out; (void) count; (void) states; (void) n_lanes; }
static void rbm_bernoulli_sfc64x8_d(const double *P, double *out, ptrdiff_t count,
                                    uint64_t *const *states, int n_lanes)
{ (void) P; (void) out; (void) count; (void) states; (void) n_lanes; }
#endif

/* 1 where the AVX-512 compaction runs. */
static int rbm_use_avx512_compact = 0;

/* Switch the AVX-512 compaction (see rbm_avx512_switch). */
static int rbm_vector_compaction(int enabled)
{
    return rbm_avx512_switch(&rbm_use_avx512_compact, enabled);
}

#ifdef RBM_HAVE_AVX512
#define RBM_DEFINE_COMPACT(NAME, SCALAR, AVX512, T)                                   \
static inline ptrdiff_t NAME(const T *x, ptrdiff_t k, T scale, ptrdiff_t *idx, T *coef) \
{                                                                                     \
    if (rbm_use_avx512_compact)                                                       \
        return AVX512(x, k, scale, idx, coef);                                        \
    return SCALAR(x, k, scale, idx, coef);                                            \
}
#else
#define RBM_DEFINE_COMPACT(NAME, SCALAR, AVX512, T)                                   \
static inline ptrdiff_t NAME(const T *x, ptrdiff_t k, T scale, ptrdiff_t *idx, T *coef) \
{                                                                                     \
    return SCALAR(x, k, scale, idx, coef);                                            \
}
#endif

RBM_DEFINE_COMPACT(rbm_compact_d, rbm_compact_scalar_d, rbm_compact_avx512_d, double)
RBM_DEFINE_COMPACT(rbm_compact_f, rbm_compact_scalar_f, rbm_compact_avx512_f, float)

/* out[r, :] = sum_i X[r, i] * M[i, :]   (X: rows x k, M: k x n, all row-major).
 * idx and coef are scratch of k entries each. */
#define RBM_DEFINE_SPARSE_ROWS_PRODUCT(NAME, COMPACT, COMBINE, T)                     \
static void NAME(const T *X, ptrdiff_t rows, ptrdiff_t k, const T *M, ptrdiff_t n,    \
                 T *out, ptrdiff_t *idx, T *coef)                                     \
{                                                                                     \
    for (ptrdiff_t r = 0; r < rows; r++) {                                            \
        const ptrdiff_t n_active = COMPACT(X + r * k, k, (T) 1, idx, coef);           \
        COMBINE(idx, coef, n_active, M, n, out + r * n, 0);                           \
    }                                                                                 \
}

RBM_DEFINE_SPARSE_ROWS_PRODUCT(rbm_sparse_rows_product_d, rbm_compact_d,
                               rbm_combine_rows_d, double)
RBM_DEFINE_SPARSE_ROWS_PRODUCT(rbm_sparse_rows_product_f, rbm_compact_f,
                               rbm_combine_rows_f, float)

/* WT[i, :] += alpha * sum_r VT[i, r] * G[r, :]   (WT += alpha * VT @ G; VT: n_v x rows,
 * the stacked rows transposed, so each compaction reads contiguous memory;
 * G: rows x n_h; WT: n_v x n_h).  idx and coef are scratch of `rows` entries. */
#define RBM_DEFINE_SPARSE_OUTER_UPDATE(NAME, COMPACT, COMBINE, T)                     \
static void NAME(const T *VT, const T *G, ptrdiff_t rows, ptrdiff_t n_v, ptrdiff_t n_h, \
                 T alpha, T *WT, ptrdiff_t *idx, T *coef)                             \
{                                                                                     \
    for (ptrdiff_t i = 0; i < n_v; i++) {                                             \
        const ptrdiff_t n_active = COMPACT(VT + i * rows, rows, alpha, idx, coef);    \
        COMBINE(idx, coef, n_active, G, n_h, WT + i * n_h, 1);                        \
    }                                                                                 \
}

RBM_DEFINE_SPARSE_OUTER_UPDATE(rbm_sparse_outer_update_d, rbm_compact_d,
                               rbm_combine_rows_d, double)
RBM_DEFINE_SPARSE_OUTER_UPDATE(rbm_sparse_outer_update_f, rbm_compact_f,
                               rbm_combine_rows_f, float)

/* dst = src.T for a row-major (rows x cols) src, in 4 x 4 blocks of vector
 * shuffles (element-wise strided stores cost one cycle each). */
#if (defined(__GNUC__) && __GNUC__ >= 12) || defined(__clang__)
typedef double rbm_v4d __attribute__((vector_size(32)));
typedef float rbm_v4f __attribute__((vector_size(16)));
#define RBM_DEFINE_TRANSPOSE(NAME, T, V4)                                             \
RBM_DISPATCH                                                                          \
static void NAME(const T *src, ptrdiff_t rows, ptrdiff_t cols, T *dst)                \
{                                                                                     \
    ptrdiff_t i0 = 0, j0;                                                             \
    for (; i0 + 4 <= rows; i0 += 4) {                                                 \
        for (j0 = 0; j0 + 4 <= cols; j0 += 4) {                                       \
            V4 r0, r1, r2, r3, t0, t1, t2, t3, c0, c1, c2, c3;                        \
            memcpy(&r0, src + (i0 + 0) * cols + j0, sizeof r0);                       \
            memcpy(&r1, src + (i0 + 1) * cols + j0, sizeof r1);                       \
            memcpy(&r2, src + (i0 + 2) * cols + j0, sizeof r2);                       \
            memcpy(&r3, src + (i0 + 3) * cols + j0, sizeof r3);                       \
            t0 = __builtin_shufflevector(r0, r1, 0, 4, 2, 6);                         \
            t1 = __builtin_shufflevector(r0, r1, 1, 5, 3, 7);                         \
            t2 = __builtin_shufflevector(r2, r3, 0, 4, 2, 6);                         \
            t3 = __builtin_shufflevector(r2, r3, 1, 5, 3, 7);                         \
            c0 = __builtin_shufflevector(t0, t2, 0, 1, 4, 5);                         \
            c1 = __builtin_shufflevector(t1, t3, 0, 1, 4, 5);                         \
            c2 = __builtin_shufflevector(t0, t2, 2, 3, 6, 7);                         \
            c3 = __builtin_shufflevector(t1, t3, 2, 3, 6, 7);                         \
            memcpy(dst + (j0 + 0) * rows + i0, &c0, sizeof c0);                       \
            memcpy(dst + (j0 + 1) * rows + i0, &c1, sizeof c1);                       \
            memcpy(dst + (j0 + 2) * rows + i0, &c2, sizeof c2);                       \
            memcpy(dst + (j0 + 3) * rows + i0, &c3, sizeof c3);                       \
        }                                                                             \
        for (; j0 < cols; j0++)                                                       \
            for (ptrdiff_t i = i0; i < i0 + 4; i++)                                   \
                dst[j0 * rows + i] = src[i * cols + j0];                              \
    }                                                                                 \
    for (; i0 < rows; i0++)                                                           \
        for (j0 = 0; j0 < cols; j0++)                                                 \
            dst[j0 * rows + i0] = src[i0 * cols + j0];                                \
}

RBM_DEFINE_TRANSPOSE(rbm_transpose_d, double, rbm_v4d)
RBM_DEFINE_TRANSPOSE(rbm_transpose_f, float, rbm_v4f)
#else
#define RBM_DEFINE_TRANSPOSE_SCALAR(NAME, T)                                          \
static void NAME(const T *src, ptrdiff_t rows, ptrdiff_t cols, T *dst)                \
{                                                                                     \
    for (ptrdiff_t i = 0; i < rows; i++)                                              \
        for (ptrdiff_t j = 0; j < cols; j++)                                          \
            dst[j * rows + i] = src[i * cols + j];                                    \
}

RBM_DEFINE_TRANSPOSE_SCALAR(rbm_transpose_d, double)
RBM_DEFINE_TRANSPOSE_SCALAR(rbm_transpose_f, float)
#endif

#endif
