# cython: language_level=3
"""Annealed importance sampling (Salakhutdinov & Murray 2008): the log importance
weights of chains annealed from a base model (visible biases only, no coupling)
to the model through the tempered models of parallel tempering, one entry
point, ``ais_log_weights`` (float64 only; re-exported by ``_gibbs``, and called
by ``rbm._partition``).  At each inverse temperature the weights gain the
change of the unnormalised log marginal of the chains' visible rows (softplus
gaps from ``_fastmath.h``), then the chains move by one tempered Gibbs step
(``_sampling``); rows are chunked over the random streams as everywhere in the
kernel, so results do not depend on the thread count.
"""

from libc.stdlib cimport free
from numpy.random cimport bitgen_t

from ._blas cimport hidden_field, visible_field, row_dots
from ._random cimport stream_pointers
from ._sampling cimport (Units, CHUNK, tempered_visible_sample, tempered_hidden_sample,
                         hidden_log_partition_gap)
from ._checks cimport (_data, _fill_units, _first_call_checks, Interrupts, start_watching,
                       interrupted, raise_pending_interrupt)

from types import SimpleNamespace

import numpy as np

from ._blas import single_threaded_blas
from ._checks import (_array, _check_hidden, _check_params, _check_threads, _check_visible,
                      watches_interrupts)
from ._sampling import n_streams_for


cdef void _ais_gain(const Units* u, const double* S, double* Z, double* gap, Py_ssize_t rows,
                    const double* W, const double* c, const double* direction,
                    const double* ones, double beta, double beta_prev, double* gains,
                    double* gap_sums, double* weights, int n_threads) noexcept nogil:
    """weights += log p*_beta(v) - log p*_beta_prev(v) for the chains' rows S; Z = S @ W.T."""
    cdef Py_ssize_t r, j, nv = u.n_visible, nh = u.n_hidden
    hidden_field(S, rows, W, nv, nh, Z, n_threads)
    row_dots(S, rows, nv, direction, gains)
    for r in range(rows):
        for j in range(nh):
            gap[r * nh + j] = Z[r * nh + j] + c[j]
    hidden_log_partition_gap(u, gap, rows, beta, beta_prev)
    row_dots(gap, rows, nh, ones, gap_sums)
    for r in range(rows):
        weights[r] += (beta - beta_prev) * gains[r] + gap_sums[r]


cdef bint _ais_run(const Units* u, double* S, double* Z, double* H, double* gap,
                   Py_ssize_t rows, const double* W, const double* b, const double* c,
                   const double* base_bias, const double* betas, Py_ssize_t n_betas,
                   double* work, bitgen_t** rng, float* scratch,
                   int n_threads, bint watch) noexcept nogil:
    """The AIS path; work holds direction (nv), ones (nh), tempered_b (nv),
    tempered_c (nh), gains (rows), gap_sums (rows), weights (rows).  Returns
    whether Ctrl-C stopped it between two temperatures (``interrupted``,
    where ``watch``)."""
    cdef Py_ssize_t k, nv = u.n_visible, nh = u.n_hidden
    cdef Interrupts interrupts
    cdef double* direction = work
    cdef double* ones = direction + nv
    cdef double* tempered_b = ones + nh
    cdef double* tempered_c = tempered_b + nv
    cdef double* gains = tempered_c + nh
    cdef double* gap_sums = gains + rows
    cdef double* weights = gap_sums + rows
    start_watching(&interrupts, watch)
    for k in range(1, n_betas):
        if interrupted(&interrupts):
            return True
        _ais_gain(u, S, Z, gap, rows, W, c, direction, ones, betas[k], betas[k - 1], gains,
                  gap_sums, weights, n_threads)
        if k < n_betas - 1:
            tempered_hidden_sample(u, Z, H, rows, betas[k], c, tempered_c, rng, scratch,
                                   n_threads)
            visible_field(H, rows, W, nv, nh, S, n_threads)
            tempered_visible_sample(u, S, rows, betas[k], b, base_bias, tempered_b, rng,
                                    scratch, n_threads)
    return False


def ais_log_weights(params, visible, S, base_bias, betas, streams, int n_threads):
    """Log importance weights of AIS runs from the base model to the model (float64).

    S (rows, n_visible) IN/OUT: s(v) rows of the chains, drawn from the base
    model (visible biases ``base_bias``, no coupling); ``betas``: inverse
    temperatures, 0 first, 1 last.  The chains move through the tempered
    models of parallel tempering.  At each temperature beta_k the weight of
    a chain at state v gains

        log p*_k(v) - log p*_{k-1}(v)
          = (beta_k - beta_{k-1}) s(v).(b - base_bias)
            + sum_j Gamma_j(beta_k (W s(v) + c)_j) - Gamma_j(beta_{k-1} (...)_j)

    with Gamma_j the hidden units' cumulant generating function (softplus
    for binary units; the potentials of real-valued units are not tempered)

    with the visible energy terms taken as linear in s(v); for Gaussian
    units that drops a constant that the caller adds.  Then (except after
    the last) v moves by one Gibbs step at beta_k.  Rows are chunked over
    ``streams`` as in ``gibbs_chains``, so results do not depend on threads.
    """
    cdef Units u
    _check_threads(n_threads)
    W, b, c = _check_params(params, False)
    if W.dtype != np.float64:
        raise ValueError(f"params.W must have dtype float64 for AIS, got {W.dtype}")
    n_hidden, n_visible = W.shape
    kind, vstate, groups, _ = _check_visible(visible, W.dtype, n_visible, False)
    hidden = _check_hidden(params, W.dtype, n_hidden, False)
    arrays = SimpleNamespace(S=S, base_bias=base_bias, betas=betas)
    S = _array(arrays, "ais_log_weights", "S", np.float64, (None, n_visible), True)
    base_bias = _array(arrays, "ais_log_weights", "base_bias", np.float64, (n_visible,))
    betas = _array(arrays, "ais_log_weights", "betas", np.float64, (None,))
    cdef Py_ssize_t rows = S.shape[0]
    if rows == 0 or n_hidden == 0:
        return np.zeros(rows)
    _fill_units(&u, kind, n_visible, n_hidden, vstate, groups, hidden)
    _first_call_checks()
    work = np.concatenate([b - base_bias, np.ones(n_hidden), np.empty(n_visible + n_hidden),
                           np.empty(2 * rows), np.zeros(rows)])
    Z, H, gap = (np.empty((rows, n_hidden)) for _ in range(3))
    scratch = np.empty((n_streams_for(rows) * CHUNK, max(n_visible, n_hidden)),
                       dtype=np.float32)
    cdef bitgen_t** rng = stream_pointers(streams, n_streams_for(rows), "streams")
    cdef void* p[11]
    for i, array in enumerate((S, Z, H, gap, W, b, c, base_bias, betas, work, scratch)):
        p[i] = _data(array)
    cdef Py_ssize_t n_betas = betas.shape[0]
    cdef bint watch = watches_interrupts(), stopped
    try:
        with single_threaded_blas(), nogil:
            stopped = _ais_run(&u, <double*> p[0], <double*> p[1], <double*> p[2],
                               <double*> p[3], rows, <const double*> p[4],
                               <const double*> p[5], <const double*> p[6],
                               <const double*> p[7], <const double*> p[8], n_betas,
                               <double*> p[9], rng, <float*> p[10], n_threads, watch)
    finally:
        free(rng)
    if stopped:
        raise_pending_interrupt()
    return work[work.shape[0] - rows:].copy()
