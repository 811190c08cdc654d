# cython: language_level=3
"""Sampling per unit type.

Visible rows hold the statistic ``s(v)`` that couples to the hidden layer
(Bernoulli: v; categorical: one-hot(v); Gaussian: v / sigma**2), so the
samplers here turn a field (``h W`` or ``W s(v)``, biases not added) into
sampled rows in place, and nothing else in the kernel asks which unit type it
holds.  Rows are split into chunks of ``CHUNK`` rows, chunk ``j`` drawing from
stream ``j`` whatever thread runs it, so results do not depend on the thread
count.  Layer updates run on one thread unless they have at least
``set_parallel_threshold`` elements (by default never: an OpenMP team between
OpenBLAS-threaded products fights OpenBLAS's spinning workers), except layers
of real-valued hidden units, whose per-element work is 10-50x a sigmoid's: they
use the team from ``_MIN_PARALLEL_REAL_ELEMENTS`` elements (the means of ReLU
and dReLU units, which draw no random numbers, in row ranges from
``_MIN_PARALLEL_MEANS_ELEMENTS``, see ``_means_share_start``).  On one
thread, Bernoulli chunks are drawn 8 streams at a time with AVX-512 where the
CPU has it (this module owns ``_fastmath.h``'s sampling flag), else two at a
time; the same numbers either way.
"""

import numpy as np

from cython.parallel cimport prange
from cpython.pyport cimport PY_SSIZE_T_MAX
from libc.stdint cimport uint64_t
from libc.stdlib cimport malloc, free
from libc.string cimport memcpy, memmove

from ._fastmath cimport (
    rbm_bias_sigmoid_rows_d, rbm_bias_sigmoid_rows_f, rbm_bernoulli_d, rbm_bernoulli_f,
    rbm_block_softmax_weights_d, rbm_block_softmax_weights_f, rbm_block_categorical_draw_d,
    rbm_block_categorical_draw_f, rbm_vector_sampling, rbm_bernoulli_sfc64x8_f,
    rbm_bernoulli_sfc64x8_d, rbm_gaussian_rows_d, rbm_gaussian_rows_f)
from ._random cimport (uniform_fill, uniform_fill_pair, normal_fill, inline_sfc64, sfc64_next,
                      stream_pointers, ensure_inline_checked)
from ._fastmath cimport (rbm_softplus_gap, rbm_erfcx, rbm_drelu_row, rbm_relu_mean_row,
                         rbm_drelu_mass_row, rbm_vector_erfcx, rbm_optimized_build,
                         RBM_NORMAL_PROPOSAL_BELOW, rbm_exponentials,
                         rbm_drelu_sides, rbm_truncated_first_tries,
                         rbm_truncated_retries, rbm_log_array, rbm_drelu_constants_d,
                         rbm_drelu_constants_f, rbm_drelu_gradient_row,
                         rbm_relu_mass_row, rbm_log_ratio_row, rbm_positive_normal)
cdef extern from "_normal.h" nogil:
    double RBM_ZIGGURAT_R
    const double rbm_ziggurat_f[256]
    bint rbm_ziggurat_try(uint64_t r, double* x)

from libc.math cimport (log, exp, sqrt, erfc, cos, fmax, fabs, log1p, M_PI, M_SQRT2,
                        INFINITY)

# Layer updates with fewer elements than this run on one thread; by default
# all of them.  Measured on 2 cores: an OpenMP team between OpenBLAS-threaded
# products makes training 1.7x slower at 500 x 2000, batch 1000, and 10x
# slower at 784 x 500, batch 100.  The chunked streams keep results
# independent of the team size (tests lower this to check it).
cdef Py_ssize_t _MIN_PARALLEL_ELEMENTS = PY_SSIZE_T_MAX
# Layers of real-valued hidden units (ReLU, dReLU, Gaussian) with at least
# this many elements run on several threads whatever the threshold above:
# see _worth_threads_real.
cdef Py_ssize_t _MIN_PARALLEL_REAL_ELEMENTS = 4096
# The means of ReLU and dReLU units (E[h | v], and dReLU's statistics: 3-10 ns
# an element, no random numbers) are shared out in row ranges
# (_means_share_start) from this many: dReLU at 64 x 64, batch 10 (20 rows)
# 2.6x -> 2.3x binary units' time on 2 idle cores (benchmarks/README.md,
# "sixth pass").
cdef Py_ssize_t _MIN_PARALLEL_MEANS_ELEMENTS = 1024

# The 8-stream sampler is on by default where the CPU has AVX-512 (a
# dispatch flag inside this extension; the same draws either way).
rbm_vector_sampling(1)
# And erfcx's table polynomial for ReLU and dReLU units (the same numbers).
rbm_vector_erfcx(1)
#: Whether the kernel was compiled with optimisation: the AVX-512 erfcx gives
#: the portable loop's numbers to the bit only then (a -O0 debug build does
#: not fuse the loop's multiply-adds).
OPTIMIZED_BUILD = bool(rbm_optimized_build)


cdef Py_ssize_t parallel_threshold() noexcept:
    """The smallest layer update (rows x units) run on several threads."""
    return _MIN_PARALLEL_ELEMENTS


cdef void set_parallel_threshold(Py_ssize_t n_elements) noexcept:
    """Set the smallest layer update (rows x units) run on several threads."""
    global _MIN_PARALLEL_ELEMENTS
    _MIN_PARALLEL_ELEMENTS = n_elements


cdef bint set_avx512_sampling(int enabled) noexcept:
    """Switch the 8-stream AVX-512 sampler on (1, only where available) or off (0),
    or leave it (-1); returns whether it is on."""
    return rbm_vector_sampling(enabled) != 0


cdef bint set_avx512_erfcx(int enabled) noexcept:
    """Switch the AVX-512 erfcx of ReLU and dReLU units on (1, only where available)
    or off (0), or leave it (-1); returns whether it is on."""
    return rbm_vector_erfcx(enabled) != 0


# --------------------------------------------------------------------------
# One chunk of rows
# --------------------------------------------------------------------------

cdef void add_bias_sigmoid_rows(floating* X, Py_ssize_t r0, Py_ssize_t r1,
                                Py_ssize_t n, const floating* bias) noexcept nogil:
    """X[r0:r1] = sigmoid(X[r0:r1] + bias)"""
    if floating is float:
        rbm_bias_sigmoid_rows_f(X, r0, r1, n, bias)
    else:
        rbm_bias_sigmoid_rows_d(X, r0, r1, n, bias)


cdef inline void _bernoulli(const floating* P, const float* U, floating* out,
                            Py_ssize_t count) noexcept nogil:
    """out[:count] = U < P  (P and out may alias)."""
    if floating is float:
        rbm_bernoulli_f(P, U, out, count)
    else:
        rbm_bernoulli_d(P, U, out, count)


cdef void _bernoulli_rows(const floating* P, floating* out, Py_ssize_t r0,
                          Py_ssize_t r1, Py_ssize_t n, bitgen_t* rng,
                          float* scratch) noexcept nogil:
    """out[r0:r1] = U < P[r0:r1], U uniform from rng  (P and out may alias)."""
    cdef Py_ssize_t count = (r1 - r0) * n
    uniform_fill(rng, count, scratch)
    _bernoulli(P + r0 * n, scratch, out + r0 * n, count)


cdef void _gaussian_rows(floating* A, Py_ssize_t r0, Py_ssize_t r1, Py_ssize_t n_visible,
                         const floating* b, const floating* sigma, bitgen_t* rng,
                         float* scratch) noexcept nogil:
    """A[r0:r1] = s(v) = v / sigma**2 for v ~ N(A + b, sigma**2), in place."""
    normal_fill(rng, (r1 - r0) * n_visible, scratch)
    if floating is float:
        rbm_gaussian_rows_f(A, r0, r1, n_visible, b, sigma, scratch)
    else:
        rbm_gaussian_rows_d(A, r0, r1, n_visible, b, sigma, scratch)


cdef void _categorical_rows(floating* A, Py_ssize_t r0, Py_ssize_t r1, Py_ssize_t n_visible,
                            const floating* b, const Py_ssize_t* groups,
                            Py_ssize_t n_groups, bitgen_t* rng,
                            float* scratch) noexcept nogil:
    """A[r0:r1] = one-hot draws from the softmax of A + b over each feature's block.

    Max-subtracted exponentials, then an inverse-CDF draw with one uniform
    per feature (both in _fastmath.h).
    """
    cdef Py_ssize_t r
    cdef floating* row
    uniform_fill(rng, (r1 - r0) * n_groups, scratch)
    for r in range(r0, r1):
        row = A + r * n_visible
        if floating is float:
            rbm_block_softmax_weights_f(row, b, groups, n_groups)
            rbm_block_categorical_draw_f(row, groups, n_groups, scratch + (r - r0) * n_groups)
        else:
            rbm_block_softmax_weights_d(row, b, groups, n_groups)
            rbm_block_categorical_draw_d(row, groups, n_groups, scratch + (r - r0) * n_groups)


cdef void _sample_visible_rows(const Units* u, floating* A, Py_ssize_t r0, Py_ssize_t r1,
                               const floating* b, bitgen_t* rng,
                               float* scratch) noexcept nogil:
    """A[r0:r1] = s(v) for v ~ p(v | visible field A[r0:r1]), in place: the visible-kind switch.

    (``sample_visible`` runs Bernoulli rows on one thread through
    ``_bernoulli_chunks``: the same numbers, faster.)
    """
    if u.visible_kind == BERNOULLI:
        add_bias_sigmoid_rows(A, r0, r1, u.n_visible, b)
        _bernoulli_rows(A, A, r0, r1, u.n_visible, rng, scratch)
    elif u.visible_kind == GAUSSIAN:
        _gaussian_rows(A, r0, r1, u.n_visible, b, <const floating*> u.sigma, rng, scratch)
    elif u.visible_kind == CATEGORICAL:
        _categorical_rows(A, r0, r1, u.n_visible, b, u.groups, u.n_groups, rng, scratch)


# --------------------------------------------------------------------------
# Real-valued hidden units: half-Gaussian pieces (see rbm/_units/_half_gaussian.py)
# --------------------------------------------------------------------------
# A piece is exp(-gamma h**2 / 2 + a h) on h >= 0.  ReLU units are one piece
# (gamma = 1, a = the field), dReLU units a positive piece and a mirrored
# negative one.  Written with erfcx at y = -a / sqrt(2 gamma), stable for
# any field; the same formulas as the Python layers.  erfcx is _fastmath.h's
# table polynomial (no libm call for y >= 0): libm's exp(y**2) erfc(y) cost
# most of a dReLU fit.

#: Above this y the moments use erfcx's asymptotic series (no cancellation).
cdef double _SERIES_FROM = 12.0
# log(pi / 2) / 2: a half-Gaussian piece's log-normaliser at a = 0, gamma = 1.
cdef double _HALF_LOG_HALF_PI = 0.5 * log(M_PI / 2.0)
cdef int _SERIES_TERMS = 10


cdef inline double _series_minus_one(double y) noexcept nogil:
    """S(y) - 1 of erfcx's asymptotic series erfcx(y) = S(y) / (y sqrt(pi)) (large y)."""
    cdef double inverse = 1.0 / (2.0 * y * y), term = 1.0, total = 0.0
    cdef int k
    for k in range(1, _SERIES_TERMS + 1):
        term = -term * (2 * k - 1) * inverse
        total += term
    return total


cdef inline double _log_erfcx(double y) noexcept nogil:
    """log erfcx(y): erfcx itself for y >= 0, else y**2 + log erfc(y) (no overflow)."""
    if y >= 0.0:
        return log(rbm_erfcx(y))
    return y * y + log(erfc(y))


cdef inline double _piece_log_normaliser(double a, double gamma) noexcept nogil:
    """log of the integral over h >= 0 of exp(-gamma h**2 / 2 + a h)."""
    return (0.5 * log(M_PI / 2.0) - 0.5 * log(gamma)
            + _log_erfcx(-a / sqrt(2.0 * gamma)))


cdef inline void _piece_moments(double a, double gamma, double e, double* mean,
                                double* second) noexcept nogil:
    """Mean and second moment of the normalised piece (a truncated Gaussian), given
    e = erfcx(-a / sqrt(2 gamma)).

    t = a / sqrt(gamma), lambda = sqrt(2 / pi) / erfcx(-t / sqrt 2): mean =
    (t + lambda) / sqrt(gamma), variance (1 - lambda (lambda + t)) / gamma;
    for large y = -t / sqrt 2 through erfcx's asymptotic series S(y).
    """
    cdef double root = sqrt(gamma), t = a / root, y = -t / M_SQRT2
    cdef double lam, var, inverse, term, s1, tail, m
    cdef int k
    if y <= _SERIES_FROM:
        lam = sqrt(2.0 / M_PI) / e
        m = (t + lam) / root
        var = (1.0 - lam * (lam + t)) / gamma
    else:
        inverse = 1.0 / (2.0 * y * y)
        s1 = _series_minus_one(y)
        term = -1.0
        tail = 0.0
        for k in range(1, _SERIES_TERMS + 1):
            term = -term * (2 * k + 1) * inverse
            tail += term
        m = t * s1 / (1.0 + s1) / root
        var = (s1 * (2.0 + s1) + tail) / ((1.0 + s1) * (1.0 + s1)) / gamma
    mean[0] = m
    second[0] = fmax(var, 0.0) + m * m


cdef inline double _relu_mean(double x) noexcept nogil:
    """E[h | field x] of a ReLU unit (the piece with gamma = 1)."""
    cdef double m, second
    _piece_moments(x, 1.0, rbm_erfcx(-x / M_SQRT2), &m, &second)
    return m


cdef struct DReLUSplit:
    # One dReLU unit at one field: its pieces' linear coefficients and
    # curvatures, their erfcx values, and the probability of each side.
    double a_plus, a_minus, gamma_plus, gamma_minus
    double e_plus, e_minus, w_plus, w_minus


cdef inline void _drelu_split(const floating* p, Py_ssize_t n, Py_ssize_t j, double x,
                              DReLUSplit* s) noexcept nogil:
    """The pieces of dReLU unit j at field x, and P(h >= 0 | v), P(h < 0 | v).

    The one place that evaluates a dReLU unit's pieces: the means, the
    sampler and the parameter gradient all start here.  The pieces' masses
    are proportional to e / sqrt(gamma), so the weights need no logarithms
    and keep full relative precision; where both masses overflow (fields
    beyond 26 piece widths on both sides) they come from the log-normalisers.
    """
    cdef double m_plus, m_minus, ratio
    s.gamma_plus = p[DRELU_GAMMA_PLUS * n + j]
    s.gamma_minus = p[DRELU_GAMMA_MINUS * n + j]
    s.a_plus = x - p[DRELU_THETA_PLUS * n + j]
    s.a_minus = p[DRELU_THETA_MINUS * n + j] - x
    s.e_plus = rbm_erfcx(-s.a_plus / sqrt(2.0 * s.gamma_plus))
    s.e_minus = rbm_erfcx(-s.a_minus / sqrt(2.0 * s.gamma_minus))
    m_plus = s.e_plus / sqrt(s.gamma_plus)
    m_minus = s.e_minus / sqrt(s.gamma_minus)
    if m_plus == m_minus and m_plus * 0.0 != 0.0:  # both +inf
        ratio = exp(_piece_log_normaliser(s.a_minus, s.gamma_minus)
                    - _piece_log_normaliser(s.a_plus, s.gamma_plus))
    elif m_plus >= m_minus:
        ratio = m_minus / m_plus
    else:
        ratio = m_plus / m_minus
        s.w_minus = 1.0 / (1.0 + ratio)
        s.w_plus = ratio / (1.0 + ratio)
        return
    s.w_minus = ratio / (1.0 + ratio)
    s.w_plus = 1.0 / (1.0 + ratio)


cdef inline void _drelu_piece_moments(const DReLUSplit* s, double* m_plus, double* s_plus,
                                      double* m_minus, double* s_minus) noexcept nogil:
    """Mean and second moment of each side's piece (m_minus of the mirrored h >= 0)."""
    _piece_moments(s.a_plus, s.gamma_plus, s.e_plus, m_plus, s_plus)
    _piece_moments(s.a_minus, s.gamma_minus, s.e_minus, m_minus, s_minus)


cdef struct Uniforms:
    # A stream's uniforms in (0, 1]: SFC64 stepped on a local copy of its state
    # where _random says that reproduces NumPy (the same numbers as
    # next_double, without an indirect call per number), else next_double.
    bitgen_t* rng
    uint64_t state[4]
    bint local


cdef inline void _uniforms_open(Uniforms* u, bitgen_t* rng) noexcept nogil:
    u.rng = rng
    u.local = inline_sfc64()
    if u.local:
        memcpy(u.state, rng.state, sizeof(u.state))


cdef inline void _uniforms_close(Uniforms* u) noexcept nogil:
    """Hand the advanced state back to the stream."""
    if u.local:
        memcpy(u.rng.state, u.state, sizeof(u.state))


cdef inline double _open_uniform(Uniforms* u) noexcept nogil:
    """A uniform double in (0, 1] (log u finite): 1 - NumPy's next_double."""
    if u.local:
        return 1.0 - <double> (sfc64_next(u.state) >> 11) * (1.0 / 9007199254740992.0)
    return 1.0 - u.rng.next_double(u.rng.state)


cdef inline uint64_t _next_draw(Uniforms* u) noexcept nogil:
    """The stream's next 64-bit draw."""
    if u.local:
        return sfc64_next(u.state)
    return u.rng.next_uint64(u.rng.state)


cdef inline void _open_uniforms(Uniforms* u, double* out, Py_ssize_t count) noexcept nogil:
    """out[:count] = uniforms in (0, 1], in stream order."""
    cdef Py_ssize_t i
    if u.local:
        for i in range(count):
            out[i] = 1.0 - <double> (sfc64_next(u.state) >> 11) * (1.0 / 9007199254740992.0)
    else:
        for i in range(count):
            out[i] = 1.0 - u.rng.next_double(u.rng.state)


# Units are sampled in blocks of at most _BLOCK, a block running across the
# rows of a chunk (so that the rejected units of all its rows share each retry
# round), whose work arrays live on the stack; the ziggurat makes at least
# _MIN_NORMALS normals at a time, exponentials come _EXPONENTIALS at a time.
cdef enum:
    _BLOCK = 1024
    _FALLBACK_BLOCK = 128
    _MIN_NORMALS = 16
    _EXPONENTIALS = 64
    _NORMAL_POOL = _BLOCK + _MIN_NORMALS


cdef struct Variates:
    # One stream's standard normals and exponentials for one chunk of rows,
    # made a block at a time and handed out in order (what a block leaves
    # over at the chunk's end is dropped: the draws stay independent, and
    # depend only on the stream).
    Uniforms uniforms
    double normals[_NORMAL_POOL]
    Py_ssize_t n_normals, next_normal
    double exponentials[_EXPONENTIALS]
    Py_ssize_t next_exponential


cdef inline void _variates_open(Variates* v, bitgen_t* rng) noexcept nogil:
    _uniforms_open(&v.uniforms, rng)
    v.n_normals = v.next_normal = 0
    v.next_exponential = _EXPONENTIALS


cdef double _ziggurat_rest(Uniforms* u, uint64_t r) noexcept nogil:
    """The normal of a ziggurat draw r that rbm_ziggurat_try did not accept (and
    of the draws after it, where this rejects too): the base layer's tail beyond
    R by Marsaglia's exponential method, a wedge by its density."""
    cdef int layer
    cdef double x, tail, y
    while True:
        layer = <int> (r & 0xff)
        if rbm_ziggurat_try(r, &x):
            return x
        if layer == 0:
            while True:
                tail = -log(_open_uniform(u)) / RBM_ZIGGURAT_R
                y = -log(_open_uniform(u))
                if y + y > tail * tail:
                    return -(RBM_ZIGGURAT_R + tail) if r & 0x100 else RBM_ZIGGURAT_R + tail
        if ((rbm_ziggurat_f[layer - 1] - rbm_ziggurat_f[layer]) * _open_uniform(u)
                + rbm_ziggurat_f[layer] < exp(-0.5 * x * x)):
            return x
        r = _next_draw(u)


cdef void _ziggurat_normals(Uniforms* u, double* out, Py_ssize_t count) noexcept nogil:
    """out[:count] = standard normals by the ziggurat (rbm_ziggurat_try), one 64-bit
    draw each on its fast path, in stream order; SFC64 stepped on a local copy
    of the state (kept in registers) where the stream allows it."""
    cdef uint64_t s[4]
    cdef uint64_t r
    cdef Py_ssize_t i
    if not u.local:
        for i in range(count):
            out[i] = _ziggurat_rest(u, _next_draw(u))
        return
    memcpy(s, u.state, sizeof(s))
    for i in range(count):
        r = sfc64_next(s)
        if not rbm_ziggurat_try(r, &out[i]):
            memcpy(u.state, s, sizeof(s))
            out[i] = _ziggurat_rest(u, r)
            memcpy(s, u.state, sizeof(s))
    memcpy(u.state, s, sizeof(s))


cdef inline void _ensure_normals(Variates* v, Py_ssize_t m) noexcept nogil:
    """At least m (<= _BLOCK) unused normals at v.normals[v.next_normal:]."""
    cdef Py_ssize_t left = v.n_normals - v.next_normal, count
    if left >= m:
        return
    memmove(v.normals, v.normals + v.next_normal, left * sizeof(double))
    # Exactly the normals missing, but at least _MIN_NORMALS (retry rounds
    # ask for a few at a time).
    count = max(m - left, <Py_ssize_t> _MIN_NORMALS)
    _ziggurat_normals(&v.uniforms, v.normals + left, count)
    v.next_normal, v.n_normals = 0, left + count


cdef inline double _next_normal(Variates* v) noexcept nogil:
    _ensure_normals(v, 1)
    v.next_normal += 1
    return v.normals[v.next_normal - 1]


cdef inline double _next_exponential(Variates* v) noexcept nogil:
    if v.next_exponential == _EXPONENTIALS:
        _open_uniforms(&v.uniforms, v.exponentials, _EXPONENTIALS)
        rbm_exponentials(v.exponentials, _EXPONENTIALS)
        v.next_exponential = 0
    v.next_exponential += 1
    return v.exponentials[v.next_exponential - 1]


cdef inline double _truncated_excess(double alpha, Variates* v) noexcept nogil:
    """z - alpha for z ~ N(0, 1) restricted to z >= alpha, by exact rejection.

    Below RBM_NORMAL_PROPOSAL_BELOW: standard normals until one lands above
    alpha (their absolute values where alpha >= 0, which have the same law
    above alpha; accepted with probability >= 0.45).  Above: Robert's (1995)
    exponential proposal x ~ Exp(l), l = (alpha + sqrt(alpha**2 + 4)) / 2,
    accepted with probability exp(-(x + alpha - l)**2 / 2) (at least 0.8),
    that is when a second exponential exceeds (x + alpha - l)**2 / 2; the
    excess x is drawn directly, so it stays exact (no cancellation) however
    far alpha lies in the tail.
    """
    cdef double z, x, rate
    if alpha != alpha or alpha == INFINITY:
        # A NaN field (the divergence check reports it) or a piece beyond an
        # infinite one: no loop below would ever accept.
        return alpha if alpha != alpha else 0.0
    if alpha < RBM_NORMAL_PROPOSAL_BELOW:
        while True:
            z = _next_normal(v)
            if alpha >= 0.0:
                z = fabs(z)
            if z >= alpha:
                return z - alpha
    # (alpha**2 overflows beyond 1e154, where the rate is alpha to all digits.)
    rate = 0.5 * (alpha + sqrt(alpha * alpha + 4.0)) if alpha < 1e150 else alpha
    while True:
        x = _next_exponential(v) / rate
        z = x + alpha - rate
        if _next_exponential(v) >= 0.5 * z * z:
            return x


cdef void _truncated_block(const double* alpha, const double* scale, Py_ssize_t count,
                           Variates* v, double* h) noexcept nogil:
    """h[j] = scale[j] (z_j - alpha[j]), z_j ~ N(0, 1) given z_j >= alpha[j], j < count
    (<= _BLOCK): every unit's first normal try at once, then rounds of one more
    try for each unit still rejected (branch-free, vectorised where they can
    be), then Robert's proposals (and NaN alphas) one unit at a time.

    Each round hands the next normals of the stream to the units left, in
    unit order: the draws depend only on the stream.
    """
    # (8 entries to spare: the AVX-512 compaction stores whole vectors.)
    cdef Py_ssize_t idx[_BLOCK + 8]
    cdef Py_ssize_t tail_idx[_BLOCK + 8]
    cdef Py_ssize_t j, retry, tail
    _ensure_normals(v, count)
    rbm_truncated_first_tries(alpha, scale, v.normals + v.next_normal, count, h, idx,
                              tail_idx, &retry, &tail)
    v.next_normal += count
    while retry:
        _ensure_normals(v, retry)
        j = retry
        retry = rbm_truncated_retries(alpha, scale, v.normals + v.next_normal, idx, retry, h)
        v.next_normal += j
    for j in range(tail):
        h[tail_idx[j]] = scale[tail_idx[j]] * _truncated_excess(alpha[tail_idx[j]], v)


cdef struct DReLURows:
    # Work space of a layer of n dReLU units evaluated a row at a time by
    # _fastmath.h's rbm_drelu_row (vectorised): per-unit constants k (6 rows
    # of n: theta+, theta-, 1 / sqrt(gamma+-), 1 / gamma+-), the row's fields
    # x, and a row's statistics where the caller keeps none.  One allocation.
    Py_ssize_t n
    double* k
    double* x
    double* own


cdef inline bint _drelu_rows_open(DReLURows* d, const floating* p, Py_ssize_t n,
                                  bint sides_only=False) noexcept nogil:
    """Allocate d's work space and fill its per-unit constants from the state p
    (sides_only: the 4 rows that rbm_drelu_sides reads, for a sampler given the
    rows' statistics: d cannot evaluate rows then); False (nothing allocated)
    if memory ran out: callers then go unit by unit."""
    cdef Py_ssize_t j
    cdef double* block = <double*> malloc(max((7 + DRELU_STATISTICS) * n, 1) * sizeof(double))
    if block == NULL:
        return False
    d.n = n
    d.k, d.x, d.own = block, block + 6 * n, block + 7 * n
    if floating is float:
        rbm_drelu_constants_f(p, n, 4 if sides_only else 6, d.k)
    else:
        rbm_drelu_constants_d(p, n, 4 if sides_only else 6, d.k)
    return True


cdef inline void _drelu_rows_close(DReLURows* d) noexcept nogil:
    free(d.k)


cdef inline void _drelu_row(DReLURows* d, const floating* p, const floating* Z,
                            const floating* c, double* out) noexcept nogil:
    """Evaluate the layer at the fields Z + c (one row) into d.x and out, the row's
    statistics (DRELU_STATISTICS rows of n: see _sampling.pxd).

    Units whose pieces' masses overflow (rbm_drelu_row flags them: their
    weights do not sum to 1) are redone by the exact scalar _drelu_split.
    """
    cdef Py_ssize_t j, n = d.n
    cdef DReLUSplit s
    cdef double* w_plus = out + DRELU_W_PLUS * n
    cdef double* w_minus = out + DRELU_W_MINUS * n
    cdef double* mean_plus = out + DRELU_MEAN_PLUS * n
    cdef double* second_plus = out + DRELU_SECOND_PLUS * n
    cdef double* mean_minus = out + DRELU_MEAN_MINUS * n
    cdef double* second_minus = out + DRELU_SECOND_MINUS * n
    for j in range(n):
        d.x[j] = <double> Z[j] + c[j]
    if not rbm_drelu_row(d.x, n, d.k, w_plus, w_minus, mean_plus, second_plus,
                         mean_minus, second_minus):
        return
    for j in range(n):
        if not (w_plus[j] + w_minus[j] > 0.5):
            _drelu_split(p, n, j, d.x[j], &s)
            _drelu_piece_moments(&s, &mean_plus[j], &second_plus[j], &mean_minus[j],
                                 &second_minus[j])
            w_plus[j], w_minus[j] = s.w_plus, s.w_minus


cdef inline double _hidden_unit_log_partition(const Units* u, Py_ssize_t j, double x,
                                              const double* p) noexcept nogil:
    """The cumulant generating function of hidden unit j at field x (real-valued types)."""
    cdef Py_ssize_t n = u.n_hidden
    cdef double log_plus, log_minus
    if u.hidden_kind == HIDDEN_GAUSSIAN:
        return 0.5 * x * x + 0.5 * log(2.0 * M_PI)
    if u.hidden_kind == HIDDEN_RELU:
        return _piece_log_normaliser(x, 1.0)
    log_plus = _piece_log_normaliser(x - p[DRELU_THETA_PLUS * n + j],
                                     p[DRELU_GAMMA_PLUS * n + j])
    log_minus = _piece_log_normaliser(p[DRELU_THETA_MINUS * n + j] - x,
                                      p[DRELU_GAMMA_MINUS * n + j])
    if log_plus >= log_minus:
        return log_plus + log1p(exp(log_minus - log_plus))
    return log_minus + log1p(exp(log_plus - log_minus))


cdef void _real_hidden_means(const Units* u, const floating* Z, floating* H, Py_ssize_t r0,
                             Py_ssize_t r1, const floating* c, double* stats) noexcept nogil:
    """H[r0:r1] = E[h | field Z + c] for Gaussian, ReLU and dReLU units (Z may be H).

    dReLU units also leave each row's statistics in stats (row r at
    stats + r * DRELU_STATISTICS * n_hidden) where stats is not NULL: the
    sampler and the parameter gradient then read them instead of
    evaluating the pieces again.
    """
    cdef Py_ssize_t r, j, n = u.n_hidden
    cdef const floating* p = <const floating*> u.potential
    cdef double* x
    cdef double* out
    cdef double m_plus, s_plus, m_minus, s_minus
    cdef DReLUSplit s
    cdef DReLURows d
    if u.hidden_kind == HIDDEN_GAUSSIAN:
        for r in range(r0, r1):
            for j in range(n):
                H[r * n + j] = <floating> (<double> Z[r * n + j] + c[j])
        return
    if u.hidden_kind == HIDDEN_RELU:
        x = <double*> malloc(max(2 * n, 1) * sizeof(double))
        for r in range(r0, r1):
            for j in range(n):
                if x == NULL:
                    H[r * n + j] = <floating> _relu_mean(<double> Z[r * n + j] + c[j])
                else:
                    x[j] = <double> Z[r * n + j] + c[j]
            if x != NULL:
                rbm_relu_mean_row(x, n, x + n)
                for j in range(n):
                    H[r * n + j] = <floating> x[n + j]
        free(x)
        return
    if _drelu_rows_open(&d, p, n):
        for r in range(r0, r1):
            out = d.own if stats == NULL else stats + r * DRELU_STATISTICS * n
            _drelu_row(&d, p, Z + r * n, c, out)
            for j in range(n):
                H[r * n + j] = <floating> (out[DRELU_W_PLUS * n + j] * out[DRELU_MEAN_PLUS * n + j]
                                           - out[DRELU_W_MINUS * n + j]
                                           * out[DRELU_MEAN_MINUS * n + j])
        _drelu_rows_close(&d)
        return
    for r in range(r0, r1):
        for j in range(n):
            _drelu_split(p, n, j, <double> Z[r * n + j] + c[j], &s)
            _drelu_piece_moments(&s, &m_plus, &s_plus, &m_minus, &s_minus)
            H[r * n + j] = <floating> (s.w_plus * m_plus - s.w_minus * m_minus)
            if stats != NULL:
                out = stats + r * DRELU_STATISTICS * n
                out[DRELU_W_PLUS * n + j], out[DRELU_W_MINUS * n + j] = s.w_plus, s.w_minus
                out[DRELU_MEAN_PLUS * n + j], out[DRELU_SECOND_PLUS * n + j] = m_plus, s_plus
                out[DRELU_MEAN_MINUS * n + j], out[DRELU_SECOND_MINUS * n + j] = m_minus, s_minus


cdef void _relu_samples(const floating* Z, const floating* c, floating* Hs, Py_ssize_t r0,
                        Py_ssize_t r1, Py_ssize_t n, Variates* v) noexcept nogil:
    """Hs[r0:r1] ~ p(h | field Z + c) of ReLU units: the piece with gamma = 1, so
    alpha = -x and a scale of 1, a block of units (across rows) at a time."""
    cdef double alpha[_BLOCK]
    cdef double scale[_BLOCK]
    cdef double h[_BLOCK]
    cdef Py_ssize_t i, b = r0 * n, end = r1 * n, count, f, j0, seg
    for i in range(_BLOCK):
        scale[i] = 1.0
    while b < end:
        count = min(<Py_ssize_t> _BLOCK, end - b)
        f = b
        while f < b + count:  # row segments: unit j0 + i of a row has bias c[j0 + i]
            j0 = f % n
            seg = min(n - j0, b + count - f)
            for i in range(seg):
                alpha[f - b + i] = -(<double> Z[f + i] + c[j0 + i])
            f += seg
        _truncated_block(alpha, scale, count, v, h)
        for i in range(count):
            Hs[b + i] = <floating> h[i]
        b += count


cdef inline void _drelu_fallback_constants(const floating* p, Py_ssize_t n, Py_ssize_t j0,
                                           Py_ssize_t count, double* k) noexcept nogil:
    """k's first 4 rows (stride _FALLBACK_BLOCK) for units j0 .. j0 + count - 1, on the
    stack where the layer's work space could not be allocated."""
    cdef Py_ssize_t j
    for j in range(count):
        k[j] = p[DRELU_THETA_PLUS * n + j0 + j]
        k[_FALLBACK_BLOCK + j] = p[DRELU_THETA_MINUS * n + j0 + j]
        k[2 * _FALLBACK_BLOCK + j] = 1.0 / sqrt(<double> p[DRELU_GAMMA_PLUS * n + j0 + j])
        k[3 * _FALLBACK_BLOCK + j] = 1.0 / sqrt(<double> p[DRELU_GAMMA_MINUS * n + j0 + j])


cdef void _drelu_samples(const Units* u, const floating* Z, const floating* c, floating* Hs,
                         Py_ssize_t r0, Py_ssize_t r1, const double* stats,
                         Variates* v) noexcept nogil:
    """Hs[r0:r1] ~ p(h | field Z + c) of dReLU units, a block of units (across
    rows) at a time: one uniform per unit picks its side by its probability
    (from stats, the rows' statistics aligned with Z, or evaluated here where
    stats is NULL), then that side's truncated Gaussian.

    A block is cut into row segments for the sides (each segment reads its
    units' constants and probabilities), then its truncated Gaussians are
    drawn at once.  Z and Hs may alias: a block reads its fields (and a row's
    statistics, when its first unit comes) before it writes.
    """
    cdef Py_ssize_t n = u.n_hidden, b = r0 * n, end = r1 * n, count, block, f, r, j0, seg, j
    cdef Py_ssize_t row_evaluated = -1
    cdef const floating* p = <const floating*> u.potential
    cdef double alpha[_BLOCK]
    cdef double scale[_BLOCK]
    cdef double h[_BLOCK]
    cdef double U[_BLOCK]
    cdef double x[_BLOCK]
    cdef double w_fallback[_FALLBACK_BLOCK]
    cdef double k_fallback[4 * _FALLBACK_BLOCK]
    cdef const double* w_plus
    cdef const double* k
    cdef Py_ssize_t k_stride
    cdef DReLUSplit s
    cdef DReLURows d
    cdef bint rows_open = _drelu_rows_open(&d, p, n, stats != NULL)
    # Out of memory: short blocks whose constants fit on the stack.
    block = _BLOCK if rows_open else _FALLBACK_BLOCK
    while b < end:
        count = min(block, end - b)
        _open_uniforms(&v.uniforms, U, count)
        f = b
        while f < b + count:
            r = f // n
            j0 = f - r * n
            seg = min(n - j0, b + count - f)
            for j in range(seg):
                x[f - b + j] = <double> Z[f + j] + c[j0 + j]
            if rows_open:
                k, k_stride = d.k + j0, n
            else:
                k, k_stride = k_fallback, _FALLBACK_BLOCK
                _drelu_fallback_constants(p, n, j0, seg, k_fallback)
            if stats != NULL:
                w_plus = stats + r * DRELU_STATISTICS * n + DRELU_W_PLUS * n + j0
            elif rows_open:
                if r != row_evaluated:  # the whole row, at its first segment
                    _drelu_row(&d, p, Z + r * n, c, d.own)
                    row_evaluated = r
                w_plus = d.own + DRELU_W_PLUS * n + j0
            else:
                for j in range(seg):
                    _drelu_split(p, n, j0 + j, x[f - b + j], &s)
                    w_fallback[j] = s.w_plus
                w_plus = w_fallback
            rbm_drelu_sides(x + (f - b), seg, k, k + k_stride, k + 2 * k_stride,
                            k + 3 * k_stride, w_plus, U + (f - b), alpha + (f - b),
                            scale + (f - b))
            f += seg
        _truncated_block(alpha, scale, count, v, h)
        for j in range(count):
            Hs[b + j] = <floating> h[j]
        b += count
    if rows_open:
        _drelu_rows_close(&d)


cdef void _real_hidden_samples(const Units* u, const floating* Z, const floating* c,
                               floating* Hs, Py_ssize_t r0, Py_ssize_t r1, bitgen_t* rng,
                               float* scratch, const double* stats) noexcept nogil:
    """Hs[r0:r1] ~ p(h | field Z[r0:r1] + c) for Gaussian, ReLU and dReLU units.

    Gaussian: x + a standard normal (normal_fill); ReLU and dReLU: exact
    truncated Gaussians (_truncated_block).  stats: dReLU rows' statistics
    aligned with Z, or NULL.  Z and Hs may alias.
    """
    cdef Py_ssize_t r, j, n = u.n_hidden
    cdef Variates variates
    if u.hidden_kind == HIDDEN_GAUSSIAN:
        normal_fill(rng, (r1 - r0) * n, scratch)
        for r in range(r0, r1):
            for j in range(n):
                Hs[r * n + j] = <floating> (<double> Z[r * n + j] + c[j]
                                            + scratch[(r - r0) * n + j])
        return
    _variates_open(&variates, rng)
    if u.hidden_kind == HIDDEN_RELU:
        _relu_samples(Z, c, Hs, r0, r1, n, &variates)
    else:
        _drelu_samples(u, Z, c, Hs, r0, r1, stats, &variates)
    _uniforms_close(&variates.uniforms)


# --------------------------------------------------------------------------
# Whole layers, rows chunked over streams
# --------------------------------------------------------------------------

cdef inline bint _worth_threads(Py_ssize_t rows, Py_ssize_t n_chunks, Py_ssize_t width,
                                int n_threads) noexcept nogil:
    """Whether a layer update is big enough to pay for waking a thread team."""
    return n_threads > 1 and n_chunks > 1 and rows * width >= _MIN_PARALLEL_ELEMENTS


cdef Py_ssize_t _bernoulli_whole_chunks_x8(const floating* P, floating* out,
                                           Py_ssize_t rows, Py_ssize_t n,
                                           bitgen_t** streams) noexcept nogil:
    """out = U < P for the whole chunks of rows, 8 streams at a time with AVX-512.

    The same numbers as _bernoulli_rows chunk by chunk.  Returns the chunks
    done: none where the 8-stream sampler is off or SFC64 cannot be stepped
    inline.
    """
    cdef Py_ssize_t whole = rows // CHUNK, j = 0, lanes, l
    cdef uint64_t* states[8]
    if not (inline_sfc64() and rbm_vector_sampling(-1)) or whole < 2:
        return 0
    while j < whole:
        lanes = min(8, whole - j)
        for l in range(lanes):
            states[l] = <uint64_t*> streams[j + l].state
        if floating is float:
            rbm_bernoulli_sfc64x8_f(P + j * CHUNK * n, out + j * CHUNK * n, CHUNK * n,
                                    states, <int> lanes)
        else:
            rbm_bernoulli_sfc64x8_d(P + j * CHUNK * n, out + j * CHUNK * n, CHUNK * n,
                                    states, <int> lanes)
        j += lanes
    return whole


cdef void _bernoulli_chunks(const floating* P, floating* out, Py_ssize_t rows,
                            Py_ssize_t n, bitgen_t** streams, float* scratch) noexcept nogil:
    """out = U < P for rows chunked over streams, on one thread.

    Whole chunks 8 at a time where the CPU has AVX-512, the rest two at a
    time; the same numbers as _bernoulli_rows chunk by chunk.
    """
    cdef Py_ssize_t j = _bernoulli_whole_chunks_x8(P, out, rows, n, streams)
    cdef Py_ssize_t n_chunks = (rows + CHUNK - 1) // CHUNK, r0, count
    cdef float* scratch_j
    while j < n_chunks:
        r0 = j * CHUNK
        scratch_j = scratch + j * CHUNK * n
        if j + 1 < n_chunks and r0 + 2 * CHUNK <= rows:  # two whole chunks
            count = 2 * CHUNK * n
            uniform_fill_pair(streams[j], scratch_j, streams[j + 1], scratch_j + CHUNK * n,
                              CHUNK * n)
            j += 2
        else:
            count = (min(r0 + CHUNK, rows) - r0) * n
            uniform_fill(streams[j], count, scratch_j)
            j += 1
        _bernoulli(P + r0 * n, scratch_j, out + r0 * n, count)


cdef inline bint _worth_threads_real(Py_ssize_t rows, Py_ssize_t n_chunks, Py_ssize_t width,
                                     int n_threads) noexcept nogil:
    """Whether a layer of real-valued hidden units is big enough for the thread team.

    Their per-element work (erfcx, truncated Gaussians: 10-50 ns) pays for
    waking the team from _MIN_PARALLEL_REAL_ELEMENTS elements, whatever the
    threshold of the cheap layers; the products already run on the team,
    with the BLAS's own threads held at one, so no second team spins beside it.
    """
    return (n_threads > 1 and n_chunks > 1
            and rows * width >= min(_MIN_PARALLEL_ELEMENTS, _MIN_PARALLEL_REAL_ELEMENTS))


cdef inline int _real_mean_parts(const Units* u, Py_ssize_t rows, int n_threads) noexcept nogil:
    """How many threads share the means of a layer of real-valued hidden units:
    one below _MIN_PARALLEL_MEANS_ELEMENTS elements for ReLU and dReLU units
    (_MIN_PARALLEL_REAL_ELEMENTS for Gaussian ones, whose mean is the field
    itself; or the cheap layers' threshold, where tests set it lower), else
    up to n_threads, a row each at least.  Each row's means are the same
    whoever computes them."""
    cdef Py_ssize_t least = (_MIN_PARALLEL_REAL_ELEMENTS if u.hidden_kind == HIDDEN_GAUSSIAN
                             else _MIN_PARALLEL_MEANS_ELEMENTS)
    if n_threads < 2 or rows < 2 or rows * u.n_hidden < min(_MIN_PARALLEL_ELEMENTS, least):
        return 1
    return <int> min(<Py_ssize_t> n_threads, rows)


cdef inline Py_ssize_t _means_share_start(Py_ssize_t rows, Py_ssize_t j, Py_ssize_t parts,
                                         bint lead) noexcept nogil:
    """The first row of share j of `parts` shares of the means of rows of
    real-valued hidden units: equal shares, or with lead the calling
    thread's share (j = 0) weighs 3 and the others 2 (3/5 and 2/5 for two).

    lead is for layers too small for the team's sampler
    (_MIN_PARALLEL_REAL_ELEMENTS): there the calling thread computed the
    fields alone (they are in its cache) and, in training, the second
    thread draws the chains' sample next (_gibbs._update).  Equal shares
    kept the first thread waiting (dReLU at 64 x 64, batch 10: 5-7% of the fit).
    """
    if j >= parts:
        return rows
    if not lead:
        return rows * j // parts
    return 0 if j == 0 else rows * (2 * j + 1) // (2 * parts + 1)


cdef void hidden_probabilities(const Units* u, floating* H, Py_ssize_t rows,
                               const floating* c, int n_threads,
                               double* stats=NULL, const floating* Z=NULL) noexcept nogil:
    """H = E[h | hidden field H + c], in place: sigmoid(H + c) for Bernoulli units.

    stats: NULL, or room for rows x DRELU_STATISTICS x n_hidden doubles where
    dReLU units leave their rows' statistics (for sample_hidden and
    drelu_potential_gradient on the same fields).  Z: NULL, or for
    real-valued units the fields, read from there instead (H = E[h | Z + c],
    Z left as it is: the samplers and dReLU's gradient read it later).
    """
    cdef Py_ssize_t j, n_chunks = (rows + CHUNK - 1) // CHUNK, n_hidden = u.n_hidden
    cdef int parts
    cdef bint lead
    if u.hidden_kind != HIDDEN_BERNOULLI:
        # No random numbers here, so the rows need not follow the streams'
        # chunks (20 rows are 16 + 4 in chunks): shares by _means_share_start.
        if Z == NULL:
            Z = H
        parts = _real_mean_parts(u, rows, n_threads)
        if parts == 1:
            _real_hidden_means(u, Z, H, 0, rows, c, stats)
            return
        lead = rows * n_hidden < _MIN_PARALLEL_REAL_ELEMENTS
        for j in prange(parts, num_threads=parts, schedule='static'):
            _real_hidden_means(u, Z, H, _means_share_start(rows, j, parts, lead),
                               _means_share_start(rows, j + 1, parts, lead), c, stats)
        return
    if not _worth_threads(rows, n_chunks, n_hidden, n_threads):
        # Not even a one-thread parallel region: entering one costs about
        # as much as the sigmoids of a small model's batch.
        add_bias_sigmoid_rows(H, 0, rows, n_hidden, c)
        return
    for j in prange(n_chunks, num_threads=n_threads, schedule='static'):
        add_bias_sigmoid_rows(H, j * CHUNK, min((j + 1) * CHUNK, rows), n_hidden, c)


cdef bint hidden_sample_on_one_thread(const Units* u, Py_ssize_t rows,
                                      int n_threads) noexcept nogil:
    """Whether sample_hidden draws rows x n_hidden units on the calling thread
    alone (its choice, for the same arguments)."""
    cdef Py_ssize_t n_chunks = (rows + CHUNK - 1) // CHUNK
    if u.hidden_kind != HIDDEN_BERNOULLI:
        return not _worth_threads_real(rows, n_chunks, u.n_hidden, n_threads)
    return not _worth_threads(rows, n_chunks, u.n_hidden, n_threads)


cdef void sample_hidden(const Units* u, const floating* P, const floating* Z,
                        const floating* c, floating* Hs, Py_ssize_t rows, bitgen_t** streams,
                        float* scratch, int n_threads, const double* stats=NULL) noexcept nogil:
    """Hs = a sample of h given v, rows chunked over streams.

    Bernoulli units read their conditional mean P (Hs = U < P); the other
    types their field Z + c (Z = W s(v) without the bias), and P is unused.
    dReLU units read their rows' statistics from stats where it is not NULL
    (hidden_probabilities' on the same fields Z, rows aligned).  Hs may alias P or Z.
    """
    cdef Py_ssize_t j, n_chunks = (rows + CHUNK - 1) // CHUNK, n_hidden = u.n_hidden
    cdef bint one_thread = hidden_sample_on_one_thread(u, rows, n_threads)
    if u.hidden_kind != HIDDEN_BERNOULLI:
        if one_thread:
            for j in range(n_chunks):
                _real_hidden_samples(u, Z, c, Hs, j * CHUNK, min((j + 1) * CHUNK, rows),
                                     streams[j], scratch + j * CHUNK * n_hidden, stats)
            return
        for j in prange(n_chunks, num_threads=n_threads, schedule='static'):
            _real_hidden_samples(u, Z, c, Hs, j * CHUNK, min((j + 1) * CHUNK, rows),
                                 streams[j], scratch + j * CHUNK * n_hidden, stats)
        return
    if one_thread:
        _bernoulli_chunks(P, Hs, rows, n_hidden, streams, scratch)
        return
    for j in prange(n_chunks, num_threads=n_threads, schedule='static'):
        _bernoulli_rows(P, Hs, j * CHUNK, min((j + 1) * CHUNK, rows), n_hidden,
                        streams[j], scratch + j * CHUNK * n_hidden)


cdef void hidden_log_partition_gap(const Units* u, double* G, Py_ssize_t rows, double beta,
                                   double beta_prev) noexcept nogil:
    """G = Gamma(beta G) - Gamma(beta_prev G) elementwise over rows x n_hidden, with
    Gamma the hidden units' cumulant generating function (AIS's weight gains)."""
    cdef Py_ssize_t r, j, n = u.n_hidden
    cdef const double* p = <const double*> u.potential
    cdef double x
    if u.hidden_kind == HIDDEN_BERNOULLI:
        rbm_softplus_gap(G, rows * n, beta, beta_prev)
        return
    if u.hidden_kind != HIDDEN_GAUSSIAN and _truncated_log_partition_gap(u, G, rows, beta,
                                                                         beta_prev):
        return
    for r in range(rows):
        for j in range(n):
            x = G[r * n + j]
            G[r * n + j] = (_hidden_unit_log_partition(u, j, beta * x, p)
                            - _hidden_unit_log_partition(u, j, beta_prev * x, p))


cdef bint _truncated_log_partition_gap(const Units* u, double* G, Py_ssize_t rows, double beta,
                                       double beta_prev) noexcept nogil:
    """hidden_log_partition_gap for ReLU and dReLU units, a row at a time: each
    unit's partition function at both fields by the vectorised erfcx
    (rbm_relu_mass_row, rbm_drelu_mass_row), then one vectorised log of their
    ratio.  Units whose masses leave the normal range (fields beyond about 26
    piece widths) are redone in log space.  False (G untouched) if memory ran
    out: the caller then goes unit by unit.

    (Unit by unit, two log-partitions of two pieces each, with libm's log,
    log1p and exp, made this gap 70% of a dReLU model's AIS run.)
    """
    cdef Py_ssize_t r, j, n = u.n_hidden
    cdef const double* p = <const double*> u.potential
    cdef DReLURows d
    cdef bint drelu = u.hidden_kind == HIDDEN_DRELU
    cdef double* work = <double*> malloc(max(4 * n, 1) * sizeof(double))
    cdef double* upper = work
    cdef double* lower = work + n
    cdef double* field_upper = work + 2 * n
    cdef double* field_lower = work + 3 * n
    if work == NULL:
        return False
    if drelu and not _drelu_rows_open(&d, p, n, True):
        free(work)
        return False
    for r in range(rows):
        for j in range(n):
            field_upper[j] = beta * G[r * n + j]
            field_lower[j] = beta_prev * G[r * n + j]
        if drelu:
            rbm_drelu_mass_row(field_upper, n, d.k, upper)
            rbm_drelu_mass_row(field_lower, n, d.k, lower)
        else:
            rbm_relu_mass_row(field_upper, n, upper)
            rbm_relu_mass_row(field_lower, n, lower)
        if rbm_log_ratio_row(upper, lower, n, G + r * n):
            for j in range(n):
                if G[r * n + j] != G[r * n + j]:
                    G[r * n + j] = (_hidden_unit_log_partition(u, j, field_upper[j], p)
                                    - _hidden_unit_log_partition(u, j, field_lower[j], p))
    if drelu:
        _drelu_rows_close(&d)
    free(work)
    return True


cdef void drelu_potential_gradient(const Units* u, const floating* Z, const floating* c,
                                   const floating* row_weights, Py_ssize_t rows,
                                   double* grad, const double* stats=NULL) noexcept nogil:
    """grad[k * n_hidden + j] = sum_r w_r dGamma_j(Z[r, j] + c_j) / d(parameter k of unit j).

    The log-likelihood gradient of the dReLU parameters (k: gamma+, gamma-,
    theta+, theta-): -E[h+**2] / 2, -E[h-**2] / 2, -E[h+], -E[h-] given
    each row's field, weighted 1/B on data rows and -1/C on chain rows.
    stats: the rows' statistics (hidden_probabilities' on the fields Z), or
    NULL to evaluate them here.
    """
    cdef Py_ssize_t r, j, n = u.n_hidden
    cdef const floating* p = <const floating*> u.potential
    cdef double w, m_plus, s_plus, m_minus, s_minus
    cdef const double* row
    cdef DReLUSplit s
    cdef DReLURows d
    cdef bint rows_open = stats == NULL and _drelu_rows_open(&d, p, n)
    for j in range(DRELU_PARAMETER_ROWS * n):
        grad[j] = 0.0
    if stats != NULL or rows_open:
        for r in range(rows):
            w = row_weights[r]
            if rows_open:
                _drelu_row(&d, p, Z + r * n, c, d.own)
                row = d.own
            else:
                row = stats + r * DRELU_STATISTICS * n
            rbm_drelu_gradient_row(row, n, w, grad)
        if rows_open:
            _drelu_rows_close(&d)
        return
    for r in range(rows):
        w = row_weights[r]
        for j in range(n):
            _drelu_split(p, n, j, <double> Z[r * n + j] + c[j], &s)
            _drelu_piece_moments(&s, &m_plus, &s_plus, &m_minus, &s_minus)
            grad[DRELU_GAMMA_PLUS * n + j] -= w * 0.5 * s.w_plus * s_plus
            grad[DRELU_GAMMA_MINUS * n + j] -= w * 0.5 * s.w_minus * s_minus
            grad[DRELU_THETA_PLUS * n + j] -= w * s.w_plus * m_plus
            grad[DRELU_THETA_MINUS * n + j] += w * s.w_minus * m_minus


cdef void sample_visible(const Units* u, floating* A, Py_ssize_t rows, const floating* b,
                         bitgen_t** streams, float* scratch, int n_threads) noexcept nogil:
    """A = s(v) for v ~ p(v | visible field A), in place, rows chunked over streams."""
    cdef Py_ssize_t j, n_chunks = (rows + CHUNK - 1) // CHUNK, n_visible = u.n_visible
    # Softmax draws and normals cost 5-10 ns an element, like the real-valued
    # hidden units' work, so they take the team on the same terms (DNA's
    # default fit: 16.1 -> 13.4 s wall on 2 cores); Bernoulli draws are cheap.
    cdef bint costly = u.visible_kind != BERNOULLI
    if (_worth_threads_real(rows, n_chunks, n_visible, n_threads) if costly
            else _worth_threads(rows, n_chunks, n_visible, n_threads)):
        # Chunks dealt round-robin: a batch of 100 rows is 6 whole chunks and a
        # short one, which contiguous halves split 64 / 36 rows on two threads.
        for j in prange(n_chunks, num_threads=n_threads, schedule='static', chunksize=1):
            _sample_visible_rows(u, A, j * CHUNK, min((j + 1) * CHUNK, rows), b, streams[j],
                                 scratch + j * CHUNK * n_visible)
    elif u.visible_kind == BERNOULLI:
        add_bias_sigmoid_rows(A, 0, rows, n_visible, b)
        _bernoulli_chunks(A, A, rows, n_visible, streams, scratch)
    else:
        for j in range(n_chunks):
            _sample_visible_rows(u, A, j * CHUNK, min((j + 1) * CHUNK, rows), b, streams[j],
                                 scratch + j * CHUNK * n_visible)


cdef void clamp_visible(floating* S, const floating* values, const unsigned char* mask,
                        Py_ssize_t count) noexcept nogil:
    """S[mask] = values[mask] over the first ``count`` entries: re-impose clamped units.

    The mask is per entry of the kernel's rows of s(v), so it serves every
    visible type alike (a categorical feature's whole one-hot block is
    masked; a Gaussian entry keeps its s(v) = v / sigma**2).  The sampler
    has already drawn the clamped entries' random numbers and this only
    overwrites their results, so every stream advances exactly as in the
    unclamped chain.
    """
    cdef Py_ssize_t i
    for i in range(count):
        if mask[i]:
            S[i] = values[i]


def n_streams_for(Py_ssize_t rows):
    """Number of random streams needed to sample ``rows`` chain rows."""
    return (rows + CHUNK - 1) // CHUNK


# --------------------------------------------------------------------------
# Tempered Gibbs steps (parallel tempering, Desjardins et al. 2010, and AIS)
# --------------------------------------------------------------------------

cdef void scale_rows(floating* X, Py_ssize_t r0, Py_ssize_t r1, Py_ssize_t n,
                     floating factor) noexcept nogil:
    """X[r0:r1] *= factor"""
    cdef Py_ssize_t i
    for i in range(r0 * n, r1 * n):
        X[i] *= factor


cdef void tempered_visible_sample(const Units* u, floating* S, Py_ssize_t rows, double beta,
                                  const floating* b, const floating* base_bias,
                                  floating* tempered_b, bitgen_t** rng, float* scratch,
                                  int n_threads) noexcept nogil:
    """S = s(v), v drawn at inverse temperature beta from the visible field h W in S.

    The tempered model p_beta ~ exp(-(1 - beta) E_base(v) - beta E(v, h))
    with E_base(v) = -base_bias . s(v) gives v the field
    beta (h W + b) + (1 - beta) base_bias.
    """
    cdef Py_ssize_t i
    scale_rows(S, 0, rows, u.n_visible, <floating> beta)
    for i in range(u.n_visible):
        tempered_b[i] = <floating> (beta * b[i] + (1.0 - beta) * base_bias[i])
    sample_visible(u, S, rows, tempered_b, rng, scratch, n_threads)


cdef void tempered_hidden_sample(const Units* u, const floating* Z, floating* H,
                                 Py_ssize_t rows, double beta, const floating* c,
                                 floating* tempered_c, bitgen_t** rng, float* scratch,
                                 int n_threads) noexcept nogil:
    """H = h drawn at inverse temperature beta given the hidden field Z = W s(v) (no bias).

    Given v, h has the field beta (W s(v) + c); the potentials of real-valued
    hidden units are not tempered (they belong to the base model too, which
    keeps every tempered model proper).
    """
    cdef Py_ssize_t j
    memcpy(H, Z, rows * u.n_hidden * sizeof(floating))
    scale_rows(H, 0, rows, u.n_hidden, <floating> beta)
    for j in range(u.n_hidden):
        tempered_c[j] = <floating> (beta * c[j])
    if u.hidden_kind == HIDDEN_BERNOULLI:
        hidden_probabilities(u, H, rows, tempered_c, n_threads)
    sample_hidden(u, H, H, tempered_c, H, rows, rng, scratch, n_threads)


def _check_drelu_layer(field, state):
    if state.shape[0] != DRELU_STATE_ROWS or state.shape[1] != field.shape[1]:
        raise ValueError(f"dReLU state of shape {tuple(state.shape)} does not fit fields of "
                         f"{field.shape[1]} units: it must be ({DRELU_STATE_ROWS}, "
                         f"{field.shape[1]})")


def drelu_statistics(const double[:, ::1] field, const double[:, ::1] state):
    """The dReLU units' statistics at the fields ``field`` (rows x n, biases
    included) by the kernel's own row evaluation, float64, shape (6, rows, n):
    P(h >= 0 | v), P(h < 0 | v), and the mean and second moment of the
    positive piece and of the mirrored negative one (what training reads).

    The estimators' monitoring and ``transform`` use it: the same arithmetic
    as training, compiled and vectorised, where SciPy's erfcx on each piece
    cost as much as an epoch of the kernel on small models.
    """
    _check_drelu_layer(field, state)
    cdef Py_ssize_t rows = field.shape[0], n = field.shape[1], r
    out = np.empty((rows, DRELU_STATISTICS, n))
    cdef double[:, :, ::1] stats = out
    cdef const double* p
    cdef DReLURows d
    cdef double[::1] no_bias = np.zeros(max(n, 1))
    if rows == 0 or n == 0:
        return out.transpose(1, 0, 2)
    p = &state[0, 0]
    if not _drelu_rows_open(&d, p, n):
        raise MemoryError(f"no memory for the work space of {n} dReLU units")
    with nogil:
        for r in range(rows):
            _drelu_row(&d, p, &field[r, 0], &no_bias[0], &stats[r, 0, 0])
        _drelu_rows_close(&d)
    return out.transpose(1, 0, 2)


def drelu_log_partition(const double[:, ::1] field, const double[:, ::1] state):
    """Each dReLU unit's cumulant generating function (the log of its
    partition function given the field) at the fields ``field`` (rows x n,
    biases included), float64: the logaddexp of its two pieces' log-normalisers.

    Computed as log(pi / 2) / 2 + log(r+ erfcx(y+) + r- erfcx(y-)) by the
    kernel's vectorised erfcx; units whose pieces' masses overflow (fields
    beyond about 26 piece widths) in log space, piece by piece.
    """
    _check_drelu_layer(field, state)
    cdef Py_ssize_t rows = field.shape[0], n = field.shape[1], r, j
    out = np.empty((rows, n))
    cdef double[:, ::1] result = out
    cdef const double* p
    cdef DReLURows d
    cdef Units u
    if rows == 0 or n == 0:
        return out
    p = &state[0, 0]
    u.hidden_kind = HIDDEN_DRELU
    u.n_hidden = n
    with nogil:
        if _drelu_rows_open(&d, p, n):
            for r in range(rows):
                rbm_drelu_mass_row(&field[r, 0], n, d.k, d.x)
                # One vectorised log of the row; the units whose mass is not
                # a positive normal double (overflowed, or a NaN field) in
                # log space, piece by piece.
                rbm_log_array(d.x, n, &result[r, 0])
                for j in range(n):
                    if rbm_positive_normal(d.x[j]):
                        result[r, j] += _HALF_LOG_HALF_PI
                    else:
                        result[r, j] = _hidden_unit_log_partition(&u, j, field[r, j], p)
            _drelu_rows_close(&d)
        else:
            for r in range(rows):
                for j in range(n):
                    result[r, j] = _hidden_unit_log_partition(&u, j, field[r, j], p)
    return out


def log_partition_gap(int hidden_kind, const double[:, ::1] field, const double[:, ::1] state,
                      double beta, double beta_prev):
    """Gamma(beta x) - Gamma(beta_prev x) per unit at the fields x (rows x n,
    float64): AIS's weight gains by the kernel's own hidden_log_partition_gap,
    for a hidden layer of kind ``hidden_kind`` (HIDDEN_GAUSSIAN, HIDDEN_RELU
    or HIDDEN_DRELU; a dReLU ``state`` as in drelu_log_partition, otherwise
    unused).  For tests."""
    if hidden_kind == HIDDEN_DRELU:
        _check_drelu_layer(field, state)
    elif hidden_kind not in (HIDDEN_GAUSSIAN, HIDDEN_RELU):
        raise ValueError(f"hidden_kind {hidden_kind} is not a real-valued hidden layer")
    out = np.array(field, dtype=np.float64, order="C")
    cdef double[:, ::1] G = out
    cdef Units u
    u.hidden_kind = hidden_kind
    u.n_hidden = field.shape[1]
    u.potential = NULL
    if state.shape[0] and state.shape[1]:
        u.potential = &state[0, 0]
    if out.size:
        with nogil:
            hidden_log_partition_gap(&u, &G[0, 0], G.shape[0], beta, beta_prev)
    return out


def erfcx(const double[::1] y):
    """erfcx(y) = exp(y**2) erfc(y) elementwise by the kernel's own erfcx (for tests)."""
    out = np.empty(y.shape[0])
    cdef double[::1] result = out
    cdef Py_ssize_t i
    with nogil:
        for i in range(y.shape[0]):
            result[i] = rbm_erfcx(y[i])
    return out


def ziggurat_normals(stream, Py_ssize_t n):
    """n standard normals from a NumPy BitGenerator ``stream`` (SFC64 steps
    inline where that reproduces NumPy, else through its next_uint64: the
    same numbers), by the ziggurat of the truncated-Gaussian sampler, in the
    order it hands them out (for tests).  The stream advances."""
    if n < 0:
        raise ValueError(f"n must be at least 0, got {n}")
    ensure_inline_checked()
    out = np.empty(n)
    cdef double[::1] result = out
    cdef bitgen_t** rng = stream_pointers([stream], 1, "stream")
    cdef Uniforms u
    try:
        with nogil:
            _uniforms_open(&u, rng[0])
            if n:
                _ziggurat_normals(&u, &result[0], n)
            _uniforms_close(&u)
    finally:
        free(rng)
    return out


def fast_log(const double[::1] x):
    """log(x) elementwise by the samplers' vectorised log (for tests; x positive, normal)."""
    out = np.empty(x.shape[0])
    cdef double[::1] result = out
    if x.shape[0]:
        with nogil:
            rbm_log_array(&x[0], x.shape[0], &result[0])
    return out
