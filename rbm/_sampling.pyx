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
OpenBLAS-threaded products fights OpenBLAS's spinning workers).  On one
thread, Bernoulli chunks are drawn 8 streams at a time with AVX-512 where the
CPU has it (this module owns ``_fastmath.h``'s sampling flag), else two at a
time; the same numbers either way.
"""

from cython.parallel cimport prange
from cpython.pyport cimport PY_SSIZE_T_MAX
from libc.stdint cimport uint64_t
from libc.string cimport memcpy

from ._fastmath cimport (
    rbm_bias_sigmoid_rows_d, rbm_bias_sigmoid_rows_f, rbm_bernoulli_d, rbm_bernoulli_f,
    rbm_block_softmax_weights_d, rbm_block_softmax_weights_f, rbm_block_categorical_draw_d,
    rbm_block_categorical_draw_f, rbm_vector_sampling, rbm_bernoulli_sfc64x8_f,
    rbm_bernoulli_sfc64x8_d)
from ._random cimport uniform_fill, uniform_fill_pair, normal_fill, inline_sfc64

# Layer updates with fewer elements than this run on one thread; by default
# all of them.  Measured on 2 cores: an OpenMP team between OpenBLAS-threaded
# products makes training 1.7x slower at 500 x 2000, batch 1000, and 10x
# slower at 784 x 500, batch 100.  The chunked streams keep results
# independent of the team size (tests lower this to check it).
cdef Py_ssize_t _MIN_PARALLEL_ELEMENTS = PY_SSIZE_T_MAX

# The 8-stream sampler is on by default where the CPU has AVX-512 (a
# dispatch flag inside this extension; the same draws either way).
rbm_vector_sampling(1)


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
    cdef Py_ssize_t r, i
    cdef floating* row
    normal_fill(rng, (r1 - r0) * n_visible, scratch)
    for r in range(r0, r1):
        row = A + r * n_visible
        for i in range(n_visible):
            row[i] = ((row[i] + b[i]) / sigma[i]
                      + scratch[(r - r0) * n_visible + i]) / sigma[i]


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


cdef void hidden_probabilities(const Units* u, floating* H, Py_ssize_t rows,
                               const floating* c, int n_threads) noexcept nogil:
    """H = E[h | hidden field H] = sigmoid(H + c) for Bernoulli hidden units, in place."""
    cdef Py_ssize_t j, n_chunks = (rows + CHUNK - 1) // CHUNK, n_hidden = u.n_hidden
    if u.hidden_kind != HIDDEN_BERNOULLI:  # the switch point for other hidden types
        return
    if not _worth_threads(rows, n_chunks, n_hidden, n_threads):
        # Not even a one-thread parallel region: entering one costs about
        # as much as the sigmoids of a small model's batch.
        add_bias_sigmoid_rows(H, 0, rows, n_hidden, c)
        return
    for j in prange(n_chunks, num_threads=n_threads, schedule='static'):
        add_bias_sigmoid_rows(H, j * CHUNK, min((j + 1) * CHUNK, rows), n_hidden, c)


cdef void sample_hidden(const Units* u, const floating* P, floating* Hs, Py_ssize_t rows,
                        bitgen_t** streams, float* scratch, int n_threads) noexcept nogil:
    """Hs = a sample of h given its conditional mean P (Bernoulli: U < P), rows chunked."""
    cdef Py_ssize_t j, n_chunks = (rows + CHUNK - 1) // CHUNK, n_hidden = u.n_hidden
    if u.hidden_kind != HIDDEN_BERNOULLI:  # the switch point for other hidden types
        return
    if not _worth_threads(rows, n_chunks, n_hidden, n_threads):
        _bernoulli_chunks(P, Hs, rows, n_hidden, streams, scratch)
        return
    for j in prange(n_chunks, num_threads=n_threads, schedule='static'):
        _bernoulli_rows(P, Hs, j * CHUNK, min((j + 1) * CHUNK, rows), n_hidden,
                        streams[j], scratch + j * CHUNK * n_hidden)


cdef void sample_visible(const Units* u, floating* A, Py_ssize_t rows, const floating* b,
                         bitgen_t** streams, float* scratch, int n_threads) noexcept nogil:
    """A = s(v) for v ~ p(v | visible field A), in place, rows chunked over streams."""
    cdef Py_ssize_t j, n_chunks = (rows + CHUNK - 1) // CHUNK, n_visible = u.n_visible
    if _worth_threads(rows, n_chunks, n_visible, n_threads):
        for j in prange(n_chunks, num_threads=n_threads, schedule='static'):
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

    Given v, h has the field beta (W s(v) + c).
    """
    cdef Py_ssize_t j
    memcpy(H, Z, rows * u.n_hidden * sizeof(floating))
    scale_rows(H, 0, rows, u.n_hidden, <floating> beta)
    for j in range(u.n_hidden):
        tempered_c[j] = <floating> (beta * c[j])
    hidden_probabilities(u, H, rows, tempered_c, n_threads)
    sample_hidden(u, H, H, rows, rng, scratch, n_threads)
