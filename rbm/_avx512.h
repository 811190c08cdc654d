/* The kernel's AVX-512 paths: the compaction and the 8-vector row sums (both
 * switched by rbm_vector_compaction) and the 8-stream Bernoulli sampler
 * (rbm_vector_sampling).  Included once, from _fastmath.h, after the vector
 * types and the scalar compaction this code builds on.
 *
 * Compiled for AVX-512 where GCC or Clang build for x86-64 (not in the
 * portable RBM_NO_DISPATCH build), whatever the build's baseline; run only
 * where the CPU has it, which rbm_avx512_switch alone decides.  Each path
 * keeps its own flag so tests can compare it with the portable loop; both
 * give the same results to the bit. */
#ifndef RBM_AVX512_H
#define RBM_AVX512_H

#if defined(__GNUC__) && defined(__x86_64__) && !defined(RBM_NO_DISPATCH)
#include <immintrin.h>
#define RBM_HAVE_AVX512 1
#define RBM_AVX512_TARGET __attribute__((target("avx512f,avx512vl,popcnt")))
#endif

/* 1 where the AVX-512 compaction and 8-vector row sums run. */
static int rbm_use_avx512_compact = 0;
/* 1 where the 8-stream AVX-512 Bernoulli sampler runs. */
static int rbm_use_avx512_sampling = 0;

/* The one dispatch point: set *flag to enabled > 0 (where the CPU and the
 * build have AVX-512F and VL) or to 0 (enabled == 0), or leave it
 * (enabled < 0); returns it. */
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

/* Switch the AVX-512 compaction and row sums (see rbm_avx512_switch). */
static int rbm_vector_compaction(int enabled)
{
    return rbm_avx512_switch(&rbm_use_avx512_compact, enabled);
}

/* Switch the 8-stream sampler (see rbm_avx512_switch). */
static int rbm_vector_sampling(int enabled)
{
    return rbm_avx512_switch(&rbm_use_avx512_sampling, enabled);
}

/* 1 where erfcx's table polynomial runs on AVX-512 (rbm_erfcx_nonnegative_avx512). */
static int rbm_use_avx512_erfcx = 0;
/* rbm_erfcx_table by coefficient: column c holds coefficient c of the 16
 * intervals, so that 2 registers hold it for a permute. */
static double rbm_erfcx_columns[12 * 16];

/* Switch the AVX-512 erfcx (see rbm_avx512_switch); fills its columns. */
static int rbm_vector_erfcx(int enabled)
{
    for (int i = 0; i < 16; i++)
        for (int c = 0; c < 12; c++)
            rbm_erfcx_columns[c * 16 + i] = rbm_erfcx_table[i * 12 + c];
    return rbm_avx512_switch(&rbm_use_avx512_erfcx, enabled);
}

#ifdef RBM_HAVE_AVX512

/* Compaction (see rbm_compact_scalar_d), 8 entries per instruction: vcompress
 * into a register, then a whole-vector store, which stays inside idx[:k] and
 * coef[:k] because count <= i; 4x faster than the scalar loop, which takes
 * the last k % 8 entries. */

/* The index half of a step, the same for both types: store the positions of
 * the nonzero lanes at idx; returns how many. */
RBM_AVX512_TARGET
static inline ptrdiff_t rbm_compact_positions(__mmask8 nonzero, __m512i positions, ptrdiff_t *idx)
{
    _mm512_storeu_si512(idx, _mm512_maskz_compress_epi64(nonzero, positions));
    return __builtin_popcount(nonzero);
}

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
        const ptrdiff_t kept = rbm_compact_positions(nonzero, positions, idx + count);
        _mm512_storeu_pd(coef + count, _mm512_maskz_compress_pd(nonzero, _mm512_mul_pd(v, s)));
        count += kept;
        positions = _mm512_add_epi64(positions, eight);
    }
    return rbm_compact_scalar_d(x, i, k, scale, idx, coef, count);
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
        const ptrdiff_t kept = rbm_compact_positions(nonzero, positions, idx + count);
        _mm256_storeu_ps(coef + count, _mm256_maskz_compress_ps(nonzero, _mm256_mul_ps(v, s)));
        count += kept;
        positions = _mm512_add_epi64(positions, eight);
    }
    return rbm_compact_scalar_f(x, i, k, scale, idx, coef, count);
}

/* The whole blocks of 8 vectors of columns of out[:n] (+)= sum_s coef[s] *
 * M[idx[s], :n] (see rbm_combine_rows_d); returns the columns done.  AVX-512's
 * 32 registers hold 8 partial sums and a row's 8 vectors, so a 64-column
 * float64 row is read in one pass with 8 independent sums instead of two
 * passes with 4 (15% faster for a 64 x 64 model's products; AVX2's 16
 * registers would spill them).  Each column's sum takes the rows in the same
 * order either way, so the results are the same to the bit.  Separate
 * variables, not arrays: GCC keeps these in registers; and each load spells
 * out its address (through a row pointer GCC adds an instruction per row).
 * The float version differs only in its types. */
RBM_AVX512_TARGET
static ptrdiff_t rbm_combine8_d(const ptrdiff_t *idx, const double *coef, ptrdiff_t n_active,
                                const double *M, ptrdiff_t n, double *out, int accumulate)
{
    const ptrdiff_t L = RBM_LANES_D;
    ptrdiff_t j0 = 0;
    for (; j0 + 8 * L <= n; j0 += 8 * L) {
        rbm_vd a0 = {0}, a1 = {0}, a2 = {0}, a3 = {0}, a4 = {0}, a5 = {0}, a6 = {0},
               a7 = {0}, m0, m1, m2, m3, m4, m5, m6, m7;
        double *o = out + j0;
        if (accumulate) {
            memcpy(&a0, o, sizeof a0);         memcpy(&a1, o + L, sizeof a0);
            memcpy(&a2, o + 2 * L, sizeof a0); memcpy(&a3, o + 3 * L, sizeof a0);
            memcpy(&a4, o + 4 * L, sizeof a0); memcpy(&a5, o + 5 * L, sizeof a0);
            memcpy(&a6, o + 6 * L, sizeof a0); memcpy(&a7, o + 7 * L, sizeof a0);
        }
        for (ptrdiff_t s = 0; s < n_active; s++) {
            const double c = coef[s];
            memcpy(&m0, M + idx[s] * n + j0, sizeof m0);
            memcpy(&m1, M + idx[s] * n + j0 + L, sizeof m0);
            memcpy(&m2, M + idx[s] * n + j0 + 2 * L, sizeof m0);
            memcpy(&m3, M + idx[s] * n + j0 + 3 * L, sizeof m0);
            memcpy(&m4, M + idx[s] * n + j0 + 4 * L, sizeof m0);
            memcpy(&m5, M + idx[s] * n + j0 + 5 * L, sizeof m0);
            memcpy(&m6, M + idx[s] * n + j0 + 6 * L, sizeof m0);
            memcpy(&m7, M + idx[s] * n + j0 + 7 * L, sizeof m0);
            a0 += c * m0; a1 += c * m1; a2 += c * m2; a3 += c * m3;
            a4 += c * m4; a5 += c * m5; a6 += c * m6; a7 += c * m7;
        }
        memcpy(o, &a0, sizeof a0);         memcpy(o + L, &a1, sizeof a0);
        memcpy(o + 2 * L, &a2, sizeof a0); memcpy(o + 3 * L, &a3, sizeof a0);
        memcpy(o + 4 * L, &a4, sizeof a0); memcpy(o + 5 * L, &a5, sizeof a0);
        memcpy(o + 6 * L, &a6, sizeof a0); memcpy(o + 7 * L, &a7, sizeof a0);
    }
    return j0;
}

RBM_AVX512_TARGET
static ptrdiff_t rbm_combine8_f(const ptrdiff_t *idx, const float *coef, ptrdiff_t n_active,
                                const float *M, ptrdiff_t n, float *out, int accumulate)
{
    const ptrdiff_t L = RBM_LANES_F;
    ptrdiff_t j0 = 0;
    for (; j0 + 8 * L <= n; j0 += 8 * L) {
        rbm_vf a0 = {0}, a1 = {0}, a2 = {0}, a3 = {0}, a4 = {0}, a5 = {0}, a6 = {0},
               a7 = {0}, m0, m1, m2, m3, m4, m5, m6, m7;
        float *o = out + j0;
        if (accumulate) {
            memcpy(&a0, o, sizeof a0);         memcpy(&a1, o + L, sizeof a0);
            memcpy(&a2, o + 2 * L, sizeof a0); memcpy(&a3, o + 3 * L, sizeof a0);
            memcpy(&a4, o + 4 * L, sizeof a0); memcpy(&a5, o + 5 * L, sizeof a0);
            memcpy(&a6, o + 6 * L, sizeof a0); memcpy(&a7, o + 7 * L, sizeof a0);
        }
        for (ptrdiff_t s = 0; s < n_active; s++) {
            const float c = coef[s];
            memcpy(&m0, M + idx[s] * n + j0, sizeof m0);
            memcpy(&m1, M + idx[s] * n + j0 + L, sizeof m0);
            memcpy(&m2, M + idx[s] * n + j0 + 2 * L, sizeof m0);
            memcpy(&m3, M + idx[s] * n + j0 + 3 * L, sizeof m0);
            memcpy(&m4, M + idx[s] * n + j0 + 4 * L, sizeof m0);
            memcpy(&m5, M + idx[s] * n + j0 + 5 * L, sizeof m0);
            memcpy(&m6, M + idx[s] * n + j0 + 6 * L, sizeof m0);
            memcpy(&m7, M + idx[s] * n + j0 + 7 * L, sizeof m0);
            a0 += c * m0; a1 += c * m1; a2 += c * m2; a3 += c * m3;
            a4 += c * m4; a5 += c * m5; a6 += c * m6; a7 += c * m7;
        }
        memcpy(o, &a0, sizeof a0);         memcpy(o + L, &a1, sizeof a0);
        memcpy(o + 2 * L, &a2, sizeof a0); memcpy(o + 3 * L, &a3, sizeof a0);
        memcpy(o + 4 * L, &a4, sizeof a0); memcpy(o + 5 * L, &a5, sizeof a0);
        memcpy(o + 6 * L, &a6, sizeof a0); memcpy(o + 7 * L, &a7, sizeof a0);
    }
    return j0;
}

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
 * stream into its 16 uniforms in order.  P and out may alias.  The streams
 * are the same for both types, so only the comparison has two versions. */

/* The four state words of 8 SFC64 streams, word w of stream l in lane l of s[w]. */
typedef struct { __m512i s0, s1, s2, s3; } rbm_sfc64x8;

RBM_AVX512_TARGET
static inline rbm_sfc64x8 rbm_sfc64x8_load(uint64_t *const *states, int n_lanes)
{
    uint64_t words[4][8] = {{0}};
    rbm_sfc64x8 x;
    for (int l = 0; l < n_lanes; l++)
        for (int w = 0; w < 4; w++)
            words[w][l] = states[l][w];
    x.s0 = _mm512_loadu_si512(words[0]);
    x.s1 = _mm512_loadu_si512(words[1]);
    x.s2 = _mm512_loadu_si512(words[2]);
    x.s3 = _mm512_loadu_si512(words[3]);
    return x;
}

RBM_AVX512_TARGET
static inline void rbm_sfc64x8_store(rbm_sfc64x8 x, uint64_t *const *states, int n_lanes)
{
    uint64_t words[4][8];
    _mm512_storeu_si512(words[0], x.s0);
    _mm512_storeu_si512(words[1], x.s1);
    _mm512_storeu_si512(words[2], x.s2);
    _mm512_storeu_si512(words[3], x.s3);
    for (int l = 0; l < n_lanes; l++)
        for (int w = 0; w < 4; w++)
            states[l][w] = words[w][l];
}

/* 8 steps of every stream; then block[l] holds lane l's steps in order. */
RBM_AVX512_TARGET
static inline void rbm_sfc64x8_steps(rbm_sfc64x8 *x, __m512i block[8])
{
    const __m512i one = _mm512_set1_epi64(1);
    for (int t = 0; t < 8; t++) {  /* SFC64, as _sfc64_next */
        block[t] = _mm512_add_epi64(_mm512_add_epi64(x->s0, x->s1), x->s3);
        x->s3 = _mm512_add_epi64(x->s3, one);
        x->s0 = _mm512_xor_si512(x->s1, _mm512_srli_epi64(x->s1, 11));
        x->s1 = _mm512_add_epi64(x->s2, _mm512_slli_epi64(x->s2, 3));
        x->s2 = _mm512_add_epi64(_mm512_rol_epi64(x->s2, 24), block[t]);
    }
    rbm_transpose8x8_epi64(block);
}

/* The 16 float uniforms of one lane's 8 steps, in order. */
RBM_AVX512_TARGET
static inline __m512 rbm_sfc64x8_uniforms(__m512i steps)
{
    const __m512i bits = _mm512_shuffle_epi32(_mm512_srli_epi32(steps, 8), _MM_PERM_CDAB);
    return _mm512_mul_ps(_mm512_cvtepi32_ps(bits), _mm512_set1_ps(1.0f / 16777216.0f));
}

RBM_AVX512_TARGET
static void rbm_bernoulli_sfc64x8_f(const float *P, float *out, ptrdiff_t count,
                                    uint64_t *const *states, int n_lanes)
{
    rbm_sfc64x8 x = rbm_sfc64x8_load(states, n_lanes);
    __m512i block[8];
    for (ptrdiff_t e0 = 0; e0 < count; e0 += 16) {  /* 8 steps, 16 values a lane */
        rbm_sfc64x8_steps(&x, block);
        for (int l = 0; l < n_lanes; l++) {
            const __m512 u = rbm_sfc64x8_uniforms(block[l]);
            const ptrdiff_t e = l * count + e0;
            _mm512_storeu_ps(out + e, _mm512_maskz_mov_ps(
                _mm512_cmp_ps_mask(u, _mm512_loadu_ps(P + e), _CMP_LT_OQ), _mm512_set1_ps(1.0f)));
        }
    }
    rbm_sfc64x8_store(x, states, n_lanes);
}

/* As rbm_bernoulli_sfc64x8_f, comparing the same float uniforms, widened, with P. */
RBM_AVX512_TARGET
static void rbm_bernoulli_sfc64x8_d(const double *P, double *out, ptrdiff_t count,
                                    uint64_t *const *states, int n_lanes)
{
    const __m512d one = _mm512_set1_pd(1.0);
    rbm_sfc64x8 x = rbm_sfc64x8_load(states, n_lanes);
    __m512i block[8];
    for (ptrdiff_t e0 = 0; e0 < count; e0 += 16) {
        rbm_sfc64x8_steps(&x, block);
        for (int l = 0; l < n_lanes; l++) {
            const __m512 u = rbm_sfc64x8_uniforms(block[l]);
            const ptrdiff_t e = l * count + e0;
            const __m512d lo = _mm512_cvtps_pd(_mm512_castps512_ps256(u));
            const __m512d hi = _mm512_cvtps_pd(_mm256_castpd_ps(
                _mm512_extractf64x4_pd(_mm512_castps_pd(u), 1)));
            const __mmask8 mlo = _mm512_cmp_pd_mask(lo, _mm512_loadu_pd(P + e), _CMP_LT_OQ);
            const __mmask8 mhi = _mm512_cmp_pd_mask(hi, _mm512_loadu_pd(P + e + 8), _CMP_LT_OQ);
            _mm512_storeu_pd(out + e, _mm512_maskz_mov_pd(mlo, one));
            _mm512_storeu_pd(out + e + 8, _mm512_maskz_mov_pd(mhi, one));
        }
    }
    rbm_sfc64x8_store(x, states, n_lanes);
}

/* rbm_erfcx_nonnegative on 8 lanes at a time.  GCC vectorises the portable
 * loop with one load and insert per lane and coefficient (96 for 8 lanes; its
 * generic tuning makes no gathers, and gathers were no faster here); here a
 * permute across the two registers of a coefficient's column picks each
 * lane's value.  The same operations in the same order, with the
 * multiply-adds fused as GCC fuses them in its AVX2 and AVX-512 builds of the
 * loop: the same numbers (tests compare the two paths). */
RBM_AVX512_TARGET
static void rbm_erfcx_nonnegative_avx512(const double *y, ptrdiff_t n, double *out)
{
    const __m512d four = _mm512_set1_pd(4.0), sixteen = _mm512_set1_pd(16.0),
                  two = _mm512_set1_pd(2.0), one = _mm512_set1_pd(1.0);
    const __m256i last = _mm256_set1_epi32(15);
    __m512d low[12], high[12];
    for (int c = 0; c < 12; c++) {
        low[c] = _mm512_loadu_pd(rbm_erfcx_columns + c * 16);
        high[c] = _mm512_loadu_pd(rbm_erfcx_columns + c * 16 + 8);
    }
    ptrdiff_t i = 0;
    /* Two vectors a step: their chains of multiply-adds overlap (1.39 -> 1.21 ns
     * a value in a loop over 128). */
    for (; i + 16 <= n; i += 16) {
        const __m512d v = _mm512_loadu_pd(y + i), v2 = _mm512_loadu_pd(y + i + 8);
        const __m512d t = _mm512_div_pd(four, _mm512_add_pd(four, v));
        const __m512d t2 = _mm512_div_pd(four, _mm512_add_pd(four, v2));
        const __m512d scaled = _mm512_mul_pd(t, sixteen), scaled2 = _mm512_mul_pd(t2, sixteen);
        const __m256i k32 = _mm256_min_epi32(_mm512_cvttpd_epi32(scaled), last);
        const __m256i k32_2 = _mm256_min_epi32(_mm512_cvttpd_epi32(scaled2), last);
        const __m512d s = _mm512_fmsub_pd(two, _mm512_sub_pd(scaled, _mm512_cvtepi32_pd(k32)),
                                          one);
        const __m512d s2 = _mm512_fmsub_pd(two, _mm512_sub_pd(scaled2,
                                                              _mm512_cvtepi32_pd(k32_2)), one);
        const __m512i k = _mm512_cvtepi32_epi64(k32), k2 = _mm512_cvtepi32_epi64(k32_2);
        __m512d p = _mm512_permutex2var_pd(low[11], k, high[11]);
        __m512d p2 = _mm512_permutex2var_pd(low[11], k2, high[11]);
        for (int c = 10; c >= 0; c--) {
            p = _mm512_fmadd_pd(p, s, _mm512_permutex2var_pd(low[c], k, high[c]));
            p2 = _mm512_fmadd_pd(p2, s2, _mm512_permutex2var_pd(low[c], k2, high[c]));
        }
        _mm512_storeu_pd(out + i, _mm512_mul_pd(t, p));
        _mm512_storeu_pd(out + i + 8, _mm512_mul_pd(t2, p2));
    }
    for (; i < n; i += 8) {
        const __mmask8 lanes = n - i >= 8 ? (__mmask8) 0xFF : (__mmask8) ((1u << (n - i)) - 1);
        const __m512d v = _mm512_maskz_loadu_pd(lanes, y + i);
        const __m512d t = _mm512_div_pd(four, _mm512_add_pd(four, v));
        const __m512d scaled = _mm512_mul_pd(t, sixteen);
        const __m256i k32 = _mm256_min_epi32(_mm512_cvttpd_epi32(scaled), last);
        const __m512d s = _mm512_fmsub_pd(two, _mm512_sub_pd(scaled, _mm512_cvtepi32_pd(k32)),
                                          one);
        const __m512i k = _mm512_cvtepi32_epi64(k32);
        __m512d p = _mm512_permutex2var_pd(low[11], k, high[11]);
        for (int c = 10; c >= 0; c--)
            p = _mm512_fmadd_pd(p, s, _mm512_permutex2var_pd(low[c], k, high[c]));
        _mm512_mask_storeu_pd(out + i, lanes, _mm512_mul_pd(t, p));
    }
}

/* rbm_truncated_first_tries_loop 8 units at a time: the same h, and the same
 * lists, compacted by vcompress (the portable append loop is serial).  retry
 * and tail need room for n + 8 entries. */
RBM_AVX512_TARGET
static void rbm_truncated_first_tries_avx512(const double *alpha, const double *scale,
                                             const double *z, ptrdiff_t n, double *h,
                                             ptrdiff_t *retry, ptrdiff_t *tail,
                                             ptrdiff_t *n_retry, ptrdiff_t *n_tail)
{
    const __m512d below = _mm512_set1_pd(RBM_NORMAL_PROPOSAL_BELOW), zero = _mm512_setzero_pd();
    const __m512i step = _mm512_set1_epi64(8);
    __m512i positions = _mm512_set_epi64(7, 6, 5, 4, 3, 2, 1, 0);
    ptrdiff_t count_retry = 0, count_tail = 0;
    for (ptrdiff_t j = 0; j < n; j += 8) {
        const __mmask8 lanes = n - j >= 8 ? (__mmask8) 0xFF : (__mmask8) ((1u << (n - j)) - 1);
        const __m512d a = _mm512_maskz_loadu_pd(lanes, alpha + j);
        const __m512d zj = _mm512_maskz_loadu_pd(lanes, z + j);
        const __m512d s = _mm512_maskz_loadu_pd(lanes, scale + j);
        const __mmask8 nonnegative = _mm512_cmp_pd_mask(a, zero, _CMP_GE_OQ);
        const __m512d proposal = _mm512_mask_mov_pd(zj, nonnegative, _mm512_abs_pd(zj));
        const __mmask8 normal_range = _mm512_cmp_pd_mask(a, below, _CMP_LT_OQ) & lanes;
        const __mmask8 accept = _mm512_cmp_pd_mask(proposal, a, _CMP_GE_OQ) & normal_range;
        const __m512d value = _mm512_maskz_mul_pd(accept, s, _mm512_sub_pd(proposal, a));
        const __mmask8 rejected = normal_range & (__mmask8) ~accept;
        const __mmask8 far = lanes & (__mmask8) ~normal_range;
        _mm512_mask_storeu_pd(h + j, lanes, value);
        /* Compress in a register, then store the whole vector (a compressing
         * store to memory is microcoded and far slower); the lists have room
         * for 8 entries past n. */
        _mm512_storeu_si512(retry + count_retry, _mm512_maskz_compress_epi64(rejected, positions));
        _mm512_storeu_si512(tail + count_tail, _mm512_maskz_compress_epi64(far, positions));
        count_retry += __builtin_popcount(rejected);
        count_tail += __builtin_popcount(far);
        positions = _mm512_add_epi64(positions, step);
    }
    *n_retry = count_retry;
    *n_tail = count_tail;
}

/* rbm_truncated_retries_loop 8 units at a time (gathers, a masked scatter and
 * vcompress): the same h and the same list.  idx needs room for m + 8 entries. */
RBM_AVX512_TARGET
static ptrdiff_t rbm_truncated_retries_avx512(const double *alpha, const double *scale,
                                              const double *z, ptrdiff_t *idx, ptrdiff_t m,
                                              double *h)
{
    const __m512d zero = _mm512_setzero_pd();
    ptrdiff_t left = 0;
    for (ptrdiff_t i = 0; i < m; i += 8) {
        const __mmask8 lanes = m - i >= 8 ? (__mmask8) 0xFF : (__mmask8) ((1u << (m - i)) - 1);
        const __m512i j = _mm512_maskz_loadu_epi64(lanes, idx + i);
        const __m512d a = _mm512_mask_i64gather_pd(zero, lanes, j, alpha, 8);
        const __m512d s = _mm512_mask_i64gather_pd(zero, lanes, j, scale, 8);
        const __m512d zi = _mm512_maskz_loadu_pd(lanes, z + i);
        const __mmask8 nonnegative = _mm512_cmp_pd_mask(a, zero, _CMP_GE_OQ);
        const __m512d proposal = _mm512_mask_mov_pd(zi, nonnegative, _mm512_abs_pd(zi));
        const __mmask8 accept = _mm512_cmp_pd_mask(proposal, a, _CMP_GE_OQ) & lanes;
        const __mmask8 rejected = lanes & (__mmask8) ~accept;
        _mm512_mask_i64scatter_pd(h, accept, j, _mm512_mul_pd(s, _mm512_sub_pd(proposal, a)), 8);
        /* In place: left <= i, and this block's indices are in j already; a
         * whole-vector store, as above (idx has room for 8 entries past m). */
        _mm512_storeu_si512(idx + left, _mm512_maskz_compress_epi64(rejected, j));
        left += __builtin_popcount(rejected);
    }
    return left;
}

#else  /* no AVX-512 in this build: never called, the switches keep the paths off */

static void rbm_erfcx_nonnegative_avx512(const double *y, ptrdiff_t n, double *out)
{ (void) y; (void) n; (void) out; }

static ptrdiff_t rbm_compact_avx512_d(const double *x, ptrdiff_t k, double scale,
                                      ptrdiff_t *idx, double *coef)
{ (void) x; (void) k; (void) scale; (void) idx; (void) coef; return 0; }
static ptrdiff_t rbm_compact_avx512_f(const float *x, ptrdiff_t k, float scale,
                                      ptrdiff_t *idx, float *coef)
{ (void) x; (void) k; (void) scale; (void) idx; (void) coef; return 0; }
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
#endif
