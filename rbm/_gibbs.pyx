# cython: language_level=3
"""Block-Gibbs sampling and training of restricted Boltzmann machines: the home of the kernel.

The three entry points (``train_minibatches``, ``gibbs_chains``,
``ais_log_weights``) take duck-typed argument objects, check in O(1) (plus
O(n) over index arrays) that every array they will touch has the shape,
dtype and contiguity it needs (else ValueError naming argument and
attribute), read them once into C structs, and run without the GIL.
Training is one driver loop over minibatches (``_train_loop``) calling small
named steps: load a batch, positive phase, negative phase (CD, PCD or PT),
gradient, centering, weight and bias steps, constraints.  Products live in
``_blas``, random streams in ``_random``, the unit types' samplers (and the
tempered Gibbs steps) in ``_sampling``, annealed importance sampling in
``_ais`` (``ais_log_weights`` is re-exported here), the argument checks shared
by the entry points in ``_checks``; the C helpers of ``_fastmath.h`` are
declared in ``_fastmath.pxd``.  The few process-wide performance knobs are set only
through the ``kernel_settings`` context manager; none changes a result
except ``numpy_blas`` (rounding).

Argument objects (attributes; arrays C-contiguous, W's dtype throughout):

    params   W (n_hidden, n_visible), b (n_visible,), c (n_hidden,)
    visible  kind (VISIBLE_*); state (GAUSSIAN_STATE_SHAPE_ROWS, n_visible) for
             Gaussian units (rows GAUSSIAN_*), else None; groups intp
             (n_features + 1,) column offsets for categorical units, else None;
             learn_sigma (Gaussian only)
    batches  X (n_rows, n_visible), or csr_data, csr_indices (int32 or intp),
             csr_indptr (intp); order intp (rows in visiting order), ends intp
             (end offset in order of each batch); weights float64 (n_rows,),
             finite and >= 0, or None (every row weighs the same)
    state    W_velocity, b_velocity, c_velocity; chains (PCD: n_chains rows; PT:
             n_temperatures blocks of them; CD: unused); visible_offset,
             hidden_offset, hidden_activity; swap_counts int_ (PT, else unused)
    update   method (METHOD_*), k >= 1, learning_rate, momentum, weight_decay,
             l1_weight_decay, sparsity_target, sparsity_cost, offset_rate (0: no
             centering); betas float64 and base_bias (PT only, else None)

Conventions: W (n_hidden, n_visible), b (n_visible,), c (n_hidden,), energy
E(v, h) = -b.v - c.h - h.W.s(v), where visible rows hold the statistic
s(v) (Bernoulli v, categorical one-hot(v), Gaussian v / sigma**2).  Random
numbers come from one stream per chunk of CHUNK_ROWS chain rows, so results
do not depend on the thread count.
"""

from cython cimport floating
from cython.parallel cimport prange
from libc.stdlib cimport free
from cpython.pyport cimport PY_SSIZE_T_MAX
from libc.string cimport memcpy, memset
from libc.math cimport log, exp, fabs
from numpy.random cimport bitgen_t

from ._fastmath cimport (
    rbm_prefetch_rows, rbm_softplus_array, rbm_divide_by_variance_d, rbm_divide_by_variance_f,
    rbm_gaussian_moment_columns_d, rbm_gaussian_moment_columns_f, rbm_sigma_weight_range_d,
    rbm_sigma_weight_range_f)
from ._blas cimport (
    hidden_field, visible_field, weight_update, hidden_field_of, visible_field_of,
    transpose, sparse_outer_update, weighted_row_sum, row_dots, set_numpy_blas,
    numpy_blas_in_use, set_avx512_compaction, set_product_threshold,
    weight_update_column_blocks, weight_update_column_start, weight_update_block)
from ._random cimport uniform_fill, stream_pointers, set_inline_sfc64, inline_sfc64
from ._sampling cimport (
    Units, BERNOULLI, GAUSSIAN, CATEGORICAL, CHUNK, HIDDEN_BERNOULLI, HIDDEN_GAUSSIAN,
    HIDDEN_RELU, HIDDEN_DRELU, DRELU_GAMMA_PLUS, DRELU_GAMMA_MINUS, DRELU_THETA_PLUS,
    DRELU_THETA_MINUS, DRELU_PARAMETER_ROWS, DRELU_STATE_ROWS, DRELU_STATISTICS,
    drelu_potential_gradient, hidden_sample_on_one_thread,
    add_bias_sigmoid_rows, hidden_probabilities, sample_hidden, sample_visible,
    scale_rows, tempered_visible_sample, tempered_hidden_sample, clamp_visible,
    parallel_threshold, set_parallel_threshold, set_avx512_sampling, set_avx512_erfcx)
from ._checks cimport (
    GAUSSIAN_SIGMA_ROW, GAUSSIAN_VELOCITY_ROW, GAUSSIAN_SIGMA_MIN_ROW, GAUSSIAN_SIGMA_MAX_ROW,
    GAUSSIAN_STATE_ROWS, _data, _fill_units, _first_call_checks, Interrupts, start_watching,
    interrupted, raise_pending_interrupt)

import contextlib
import threading
from types import SimpleNamespace

import numpy as np

from ._ais import ais_log_weights  # re-exported: rbm._gibbs.ais_log_weights
from ._blas import single_threaded_blas
from ._checks import (watches_interrupts, _get, _array, _int, _check_params, _check_visible,
                      _check_threads,
                      _check_hidden)
from ._sampling import n_streams_for

#: Per-batch decay of the running hidden activation of the sparsity penalty.
cdef double SPARSITY_DECAY = 0.95

CHUNK_ROWS = CHUNK
VISIBLE_BERNOULLI = BERNOULLI
VISIBLE_GAUSSIAN = GAUSSIAN
VISIBLE_CATEGORICAL = CATEGORICAL
HIDDEN_KIND_BERNOULLI = HIDDEN_BERNOULLI
HIDDEN_KIND_GAUSSIAN = HIDDEN_GAUSSIAN
HIDDEN_KIND_RELU = HIDDEN_RELU
HIDDEN_KIND_DRELU = HIDDEN_DRELU
DRELU_STATE_SHAPE_ROWS = DRELU_STATE_ROWS

#: Bounds of the dReLU gammas, which training steps as log gamma: a gamma
#: near 0 would give its unit an unbounded variance 1 / gamma (PGM keeps
#: gamma >= 0.05 too).
cdef double _DRELU_GAMMA_MIN = 0.05
cdef double _DRELU_GAMMA_MAX = 1e4
DRELU_GAMMA_MIN = _DRELU_GAMMA_MIN
DRELU_GAMMA_MAX = _DRELU_GAMMA_MAX

#: Rows of the Gaussian visible state (``visible.state``; the enum is in _checks.pxd).
GAUSSIAN_SIGMA = GAUSSIAN_SIGMA_ROW
GAUSSIAN_VELOCITY = GAUSSIAN_VELOCITY_ROW
GAUSSIAN_SIGMA_MIN = GAUSSIAN_SIGMA_MIN_ROW
GAUSSIAN_SIGMA_MAX = GAUSSIAN_SIGMA_MAX_ROW
GAUSSIAN_STATE_SHAPE_ROWS = GAUSSIAN_STATE_ROWS

cdef enum:
    _CD = 0
    _PCD = 1
    _PT = 2
METHOD_CD = _CD
METHOD_PCD = _PCD
METHOD_PT = _PT

# Models with at most this many weights, trained on at most this many stacked
# rows (batch + chains), use the small-model products (sums of selected rows
# instead of BLAS calls, see _fastmath.h): there the fixed cost of a BLAS call
# dominates, and Bernoulli states are 0/1 anyway.  Measured at 64 x 64: 1.2x
# faster at batch 10; at batch 100 (200 rows) BLAS is 1.25-1.35x faster.
cdef Py_ssize_t _SMALL_MODEL_WEIGHTS = 65536
cdef Py_ssize_t _SMALL_MODEL_ROWS = 128
# See _weight_step_with_sigma_terms (kernel_settings can switch it off).
cdef bint _SIGMA_FROM_WEIGHT_GRADIENT = True
# See _chain_sample_beside_update (kernel_settings can switch it off).
cdef bint _CHAIN_SAMPLE_BESIDE_UPDATE = True
# Chains' samples of fewer units than this are drawn after the update, not
# beside it: at 30 x 16, batch 10 (160 units) the second thread cost ReLU and
# dReLU fits 5%, at 100 x 32 (320) it was level, at 64 x 64 (640) it saved 9%
# (benchmarks/README.md, "Hidden-unit types, ninth pass").
cdef Py_ssize_t _MIN_BESIDE_SAMPLE_ELEMENTS = 512
# A sample the team would draw goes beside the update only on two threads and
# from this many visible units (see _chain_sample_beside_update).
cdef Py_ssize_t _MIN_BESIDE_TEAM_SAMPLE_VISIBLE = 64


# --------------------------------------------------------------------------
# kernel_settings: the one switchboard of performance knobs
# --------------------------------------------------------------------------

_SETTING_NAMES = ("numpy_blas", "avx512_compaction", "avx512_sampling", "avx512_erfcx",
                  "inline_sfc64",
                  "parallel_threshold", "product_threshold", "small_model_weights",
                  "sigma_from_weight_gradient", "chain_sample_beside_update")
_settings_lock = threading.RLock()


def _apply_settings(values):
    """Push ``values`` (a dict of some settings) into the modules that read them."""
    global _SMALL_MODEL_WEIGHTS, _SIGMA_FROM_WEIGHT_GRADIENT, _CHAIN_SAMPLE_BESIDE_UPDATE
    if "numpy_blas" in values:
        set_numpy_blas(bool(values["numpy_blas"]))
    if "avx512_compaction" in values:
        set_avx512_compaction(1 if values["avx512_compaction"] else 0)
    if "avx512_sampling" in values:
        set_avx512_sampling(1 if values["avx512_sampling"] else 0)
    if "avx512_erfcx" in values:
        set_avx512_erfcx(1 if values["avx512_erfcx"] else 0)
    if "inline_sfc64" in values:
        set_inline_sfc64(bool(values["inline_sfc64"]))
    if "parallel_threshold" in values:
        threshold = values["parallel_threshold"]
        set_parallel_threshold(PY_SSIZE_T_MAX if threshold is None else int(threshold))
    if "product_threshold" in values:
        threshold = values["product_threshold"]
        set_product_threshold(float("inf") if threshold is None else float(threshold))
    if "small_model_weights" in values:
        _SMALL_MODEL_WEIGHTS = int(values["small_model_weights"])
    if "sigma_from_weight_gradient" in values:
        _SIGMA_FROM_WEIGHT_GRADIENT = bool(values["sigma_from_weight_gradient"])
    if "chain_sample_beside_update" in values:
        _CHAIN_SAMPLE_BESIDE_UPDATE = bool(values["chain_sample_beside_update"])


def kernel_settings_now():
    """The settings in force, as a dict (see ``kernel_settings``); a path that
    this CPU, build or NumPy lacks reads False."""
    with _settings_lock:
        _first_call_checks()
        threshold = parallel_threshold()
        products = set_product_threshold(-1.0)
        return dict(numpy_blas=bool(numpy_blas_in_use()),
                    avx512_compaction=bool(set_avx512_compaction(-1)),
                    avx512_sampling=bool(set_avx512_sampling(-1)),
                    avx512_erfcx=bool(set_avx512_erfcx(-1)),
                    inline_sfc64=bool(inline_sfc64()),
                    parallel_threshold=None if threshold == PY_SSIZE_T_MAX else threshold,
                    product_threshold=None if products == float("inf") else int(products),
                    small_model_weights=_SMALL_MODEL_WEIGHTS,
                    sigma_from_weight_gradient=bool(_SIGMA_FROM_WEIGHT_GRADIENT),
                    chain_sample_beside_update=bool(_CHAIN_SAMPLE_BESIDE_UPDATE))


@contextlib.contextmanager
def kernel_settings(**changes):
    """Change the kernel's performance knobs inside a ``with`` block; restore them after.

    Keywords, each optional:

    numpy_blas : bool, default True where NumPy's OpenBLAS is found
        Products through NumPy's bundled OpenBLAS (found with threadpoolctl
        on the first kernel call) or, with False, SciPy's ``cython_blas``.
        The only knob that changes results, by rounding.
    avx512_compaction, avx512_sampling, avx512_erfcx : bool, default True
        The AVX-512 paths of the row-sum products, of Bernoulli sampling and
        of the erfcx of ReLU and dReLU units, where the CPU has AVX-512 (else
        they stay off); the same numbers.
    inline_sfc64 : bool, default True
        Step SFC64 streams inline where that reproduces NumPy's SFC64; the
        same numbers.
    parallel_threshold : int or None, default None
        Layer updates with at least this many elements run on the OpenMP
        team (None: never); the same numbers.
    product_threshold : int or None, default 1048576
        BLAS products with at least this many multiply-adds run their
        blocks on the OpenMP team (None: never); the same numbers, since
        the blocks are fixed by the product's shape (see ``_blas``).
    small_model_weights : int, default 65536
        Largest model (n_visible * n_hidden) trained with row-sum products
        instead of BLAS; the same model to rounding.
    sigma_from_weight_gradient : bool, default True
        Gaussian layers with learned sigma take the visible-field term of
        the log sigma gradient from the weight gradient, instead of one more
        product (where training is not centered and has no sparsity
        target); the same model to rounding.

    Yields the dict of the settings in force, where a path the CPU or NumPy
    lacks reads False.  The settings are process-wide while the block runs
    (every thread's kernel calls see them): meant for tests and benchmarks.
    A lock serialises entering and leaving, and leaving restores exactly
    the settings found on entry.
    """
    unknown = set(changes) - set(_SETTING_NAMES)
    if unknown:
        raise TypeError(f"kernel_settings: unknown setting(s) {sorted(unknown)}")
    with _settings_lock:
        previous = kernel_settings_now()
        _apply_settings(changes)
        now = kernel_settings_now()
    try:
        yield now
    finally:
        with _settings_lock:
            _apply_settings(previous)


# --------------------------------------------------------------------------
# C structs of one call
# --------------------------------------------------------------------------
# A struct member cannot have a fused type, so the arrays of one training call
# live in two structs of identical layout, Blocks32 (float) and Blocks64
# (double), joined by the fused type ``blocks_t``.  A step written for
# ``blocks_t*`` is compiled once per dtype, and its members (``A.W``...) have
# the typed pointer types, so the fused ``floating`` helpers it calls get the
# right specialisation.  Everything dtype-independent (sizes, flags,
# hyperparameters as double, index arrays, streams) is in ``Train``.

cdef struct Blocks32:
    float* W
    float* b
    float* c
    float* W_velocity
    float* b_velocity
    float* c_velocity
    float* Hc
    float* X
    float* csr_data
    float* VS
    float* HS
    float* S_all
    float* Z_all
    float* tempered_b
    float* tempered_c
    float* grad_b
    float* grad_c
    float* row_weights
    float* row_terms
    float* correction_b
    float* correction_c
    float* data_mean_v
    float* data_mean_h
    float* gauge_mean
    float* AV
    float* weight_gradient
    float* WT
    float* velocity_T
    float* VT
    float* coef
    float* visible_offset
    float* hidden_offset
    float* hidden_activity
    float* base_bias
    float* visible_state
    float* ZS
    float* hidden_state
    double* drelu_stats


cdef struct Blocks64:
    double* W
    double* b
    double* c
    double* W_velocity
    double* b_velocity
    double* c_velocity
    double* Hc
    double* X
    double* csr_data
    double* VS
    double* HS
    double* S_all
    double* Z_all
    double* tempered_b
    double* tempered_c
    double* grad_b
    double* grad_c
    double* row_weights
    double* row_terms
    double* correction_b
    double* correction_c
    double* data_mean_v
    double* data_mean_h
    double* gauge_mean
    double* AV
    double* weight_gradient
    double* WT
    double* velocity_T
    double* VT
    double* coef
    double* visible_offset
    double* hidden_offset
    double* hidden_activity
    double* base_bias
    double* visible_state
    double* ZS
    double* hidden_state
    double* drelu_stats


ctypedef fused blocks_t:
    Blocks32
    Blocks64


cdef struct Train:
    Units u
    int method
    int k
    int n_threads
    Py_ssize_t n_batches
    Py_ssize_t max_batch
    Py_ssize_t n_chains          # per temperature
    Py_ssize_t n_temperatures    # 1 unless PT
    Py_ssize_t block_streams     # streams per temperature block
    Py_ssize_t pt_step           # tempered steps so far (swap parity)
    bint persistent
    bint small                   # row-sum products for every product
    bint transposed              # keep W.T (WT, velocity_T) for the row-sum products
    bint centered
    bint sparsity
    bint learn_sigma
    bint sigma_from_weight_gradient  # see _weight_step_with_sigma_terms
    bint use_momentum
    bint sparse                  # CSR data
    bint indices_int32
    double learning_rate
    double momentum
    double weight_decay
    double l1_weight_decay
    double l1_squared_weight_decay
    double sparsity_target
    double sparsity_cost
    double offset_rate
    const Py_ssize_t* order
    const Py_ssize_t* ends
    const Py_ssize_t* indptr
    const void* csr_indices      # int or Py_ssize_t (indices_int32)
    const double* betas
    const double* weights        # per-row weights of the data, or NULL
    double weight_scale          # 1 / the mean weight of the rows in order
    long* swap_counts
    bitgen_t** rng
    float* scratch
    Py_ssize_t* idx
    Py_ssize_t* iota
    double* energy_gap
    double* grad_log_sigma
    double* grad_potential       # dReLU: the gradient of its 4 x n_hidden parameters
    Py_ssize_t column_team_min   # see _column_team

# Passes of a Gaussian layer over W (or over rows of visible units) are split
# into blocks of whole columns (visible units), fixed by n_visible alone, each
# done by one thread: every entry, and every column's share of the log sigma
# gradient, is computed by the same code in the same order for any thread count.
cdef Py_ssize_t _COLUMN_BLOCK = 64
# Column blocks go to the team from this many elements (about 10 us of work),
# or from the parallel threshold where that is lower.
cdef Py_ssize_t _TEAM_MIN_WEIGHTS = 32768


cdef inline Py_ssize_t _column_blocks(Py_ssize_t n) noexcept nogil:
    """How many blocks of _COLUMN_BLOCK columns cover n columns."""
    return (n + _COLUMN_BLOCK - 1) // _COLUMN_BLOCK


# Passes over visible columns or rows run on a thread team so far (for tests,
# like _blas.team_products).
cdef long _team_column_passes = 0


def team_column_passes():
    """How many passes of a visible layer have run on a thread team (for tests)."""
    return _team_column_passes


# Batches whose chains' hidden sample ran beside the update (for tests).
cdef long _chain_samples_beside_update = 0


def chain_samples_beside_update():
    """How many batches drew their chains' hidden sample on a second thread
    beside the update (``_update``; for tests)."""
    return _chain_samples_beside_update


cdef inline bint _column_team(const Train* T, Py_ssize_t rows) noexcept nogil:
    """Whether a pass over rows x n_visible (by column blocks, or by rows) goes to
    the team (counted); ``kernel_settings(parallel_threshold=...)`` can lower the bar."""
    global _team_column_passes
    if (T.n_threads > 1 and _column_blocks(T.u.n_visible) > 1
            and rows * T.u.n_visible >= T.column_team_min):
        _team_column_passes += 1
        return True
    return False


# --------------------------------------------------------------------------
# Elementwise helpers
# --------------------------------------------------------------------------

cdef void _subtract_from_rows(floating* X, Py_ssize_t rows, Py_ssize_t n,
                              const floating* offset) noexcept nogil:
    """X[r] -= offset for every row."""
    cdef Py_ssize_t r, i
    for r in range(rows):
        for i in range(n):
            X[r * n + i] -= offset[i]


cdef void _move_towards(floating* x, const floating* target, Py_ssize_t n,
                        double rate) noexcept nogil:
    """x += rate * (target - x): the offsets' moving average."""
    cdef Py_ssize_t i
    for i in range(n):
        x[i] = <floating> (x[i] + rate * (target[i] - x[i]))


cdef void _swap_rows(floating* X, Py_ssize_t r1, Py_ssize_t r2, Py_ssize_t n) noexcept nogil:
    """X[r1], X[r2] = X[r2], X[r1]"""
    cdef Py_ssize_t i
    cdef floating tmp
    for i in range(n):
        tmp = X[r1 * n + i]
        X[r1 * n + i] = X[r2 * n + i]
        X[r2 * n + i] = tmp


# --------------------------------------------------------------------------
# Visible-type steps: Gaussian sigma, categorical gauge
# --------------------------------------------------------------------------

cdef void _divide_by_variance(floating* X, Py_ssize_t r0, Py_ssize_t r1, Py_ssize_t n,
                              const floating* sigma) noexcept nogil:
    """X[r0:r1, i] /= sigma[i]**2 (two divisions): Gaussian visible values to s(v)."""
    if floating is float:
        rbm_divide_by_variance_f(X, r0, r1, n, sigma)
    else:
        rbm_divide_by_variance_d(X, r0, r1, n, sigma)


cdef void _multiply_by_variance(floating* X, Py_ssize_t r0, Py_ssize_t r1, Py_ssize_t n,
                                const floating* sigma) noexcept nogil:
    """X[r0:r1, i] *= sigma[i]**2: Gaussian s(v) back to visible values."""
    cdef Py_ssize_t r, i
    for r in range(r0, r1):
        for i in range(n):
            X[r * n + i] = X[r * n + i] * sigma[i] * sigma[i]


cdef void _log_sigma_gradient(const floating* V, const floating* AV, Py_ssize_t B,
                              Py_ssize_t C, Py_ssize_t n, const floating* b,
                              const floating* data_weights, double* grad) noexcept nogil:
    """The log sigma step direction, from data rows [0, B) and chain rows [B, B+C) of V.

    With visible values v and a = p(h | v) @ W, the log-likelihood gradient
    is (Cho, Ilin & Raiko 2011)

        d/d log sigma_i = 2 / sigma_i**2 (<(v_i - b_i)**2 / 2 - v_i a_i>_data - <same>_model)

    and, like every visible-side step, it is taken preconditioned by sigma**2,
    which leaves the bracket times 2.  ``data_weights`` (or NULL: 1 / B and -1 / C)
    are the stacked rows' weights (see ``_row_weights``).
    """
    cdef Py_ssize_t r, i
    cdef double weight, v
    for i in range(n):
        grad[i] = 0.0
    for r in range(B + C):
        if data_weights != NULL:
            weight = 2.0 * data_weights[r]
        elif r >= B:
            weight = -2.0 / C
        else:
            weight = 2.0 / B
        for i in range(n):
            v = V[r * n + i]
            grad[i] += weight * (0.5 * (v - b[i]) * (v - b[i]) - v * AV[r * n + i])


cdef void _gaussian_moment_columns(const Train* T, floating* VS, Py_ssize_t rows,
                                   const floating* b, const floating* sigma,
                                   const floating* row_weights,
                                   Py_ssize_t block) noexcept nogil:
    """Columns of block ``block`` (see _column_blocks): s(v) back to v, then their
    log sigma square terms grad[i] = sum_r 2 w_r (v_r - b)**2 / 2 with the
    stacked rows' weights w = row_weights (rbm_gaussian_moment_columns_*).

    ``_weight_step_with_sigma_terms`` adds the rest of ``_log_sigma_gradient``,
    -2 sum_r w_r v_r a_r, from the weight gradient, so the visible field a is
    never computed.
    """
    cdef Py_ssize_t n = T.u.n_visible
    cdef Py_ssize_t lo = block * _COLUMN_BLOCK, hi = min(lo + _COLUMN_BLOCK, n)
    if floating is float:
        rbm_gaussian_moment_columns_f(VS, rows, n, lo, hi, b, sigma, row_weights,
                                      T.grad_log_sigma)
    else:
        rbm_gaussian_moment_columns_d(VS, rows, n, lo, hi, b, sigma, row_weights,
                                      T.grad_log_sigma)


cdef void _gaussian_moments(const Train* T, floating* VS, Py_ssize_t rows, const floating* b,
                            const floating* sigma, const floating* row_weights) noexcept nogil:
    """VS[:rows] *= sigma**2 (s(v) back to v) and grad_log_sigma = its square terms,
    by blocks of columns, on the team for large layers (the same bits)."""
    cdef Py_ssize_t block, n_blocks = _column_blocks(T.u.n_visible)
    if _column_team(T, rows):
        for block in prange(n_blocks, num_threads=T.n_threads, schedule='static'):
            _gaussian_moment_columns(T, VS, rows, b, sigma, row_weights, block)
    else:
        for block in range(n_blocks):
            _gaussian_moment_columns(T, VS, rows, b, sigma, row_weights, block)


cdef void _log_sigma_step(floating* state, const double* grad, Py_ssize_t n, double lr,
                          double momentum) noexcept nogil:
    """Momentum step on log sigma, then sigma clipped to [sigma_min, sigma_max]."""
    cdef floating* sigma = state + GAUSSIAN_SIGMA_ROW * n
    cdef floating* velocity = state + GAUSSIAN_VELOCITY_ROW * n
    cdef const floating* low = state + GAUSSIAN_SIGMA_MIN_ROW * n
    cdef const floating* high = state + GAUSSIAN_SIGMA_MAX_ROW * n
    cdef Py_ssize_t i
    for i in range(n):
        velocity[i] = <floating> (momentum * velocity[i] + lr * grad[i])
        sigma[i] = <floating> min(max(exp(log(<double> sigma[i]) + velocity[i]),
                                      <double> low[i]), <double> high[i])


cdef void _drelu_potential_step(floating* state, const double* grad, Py_ssize_t n, double lr,
                                double momentum) noexcept nogil:
    """Momentum steps on log gamma+-, kept in [gamma_min, gamma_max], and on theta+-.

    The velocity rows follow the parameter rows; a gamma's step is taken in
    log gamma (gradient times gamma), so a gamma never reaches 0.
    """
    cdef Py_ssize_t k, j
    cdef floating* velocity = state + DRELU_PARAMETER_ROWS * n
    cdef double gamma
    for k in range(DRELU_PARAMETER_ROWS):
        for j in range(n):
            if k == DRELU_GAMMA_PLUS or k == DRELU_GAMMA_MINUS:
                gamma = state[k * n + j]
                velocity[k * n + j] = <floating> (momentum * velocity[k * n + j]
                                                  + lr * gamma * grad[k * n + j])
                state[k * n + j] = <floating> min(max(gamma * exp(<double> velocity[k * n + j]),
                                                      _DRELU_GAMMA_MIN), _DRELU_GAMMA_MAX)
            else:
                velocity[k * n + j] = <floating> (momentum * velocity[k * n + j]
                                                  + lr * grad[k * n + j])
                state[k * n + j] += velocity[k * n + j]


cdef void _zero_sum_columns(floating* X, Py_ssize_t rows, Py_ssize_t n,
                            const Py_ssize_t* groups, Py_ssize_t n_groups) noexcept nogil:
    """Subtract from each row's block of each feature its mean (the zero-sum gauge).

    A constant added to every category of a feature changes no probability
    (it moves into c, or into log Z for the biases), so without this the
    parameters drift along that direction.
    """
    cdef Py_ssize_t r, g, i
    cdef double mean
    for r in range(rows):
        for g in range(n_groups):
            mean = 0.0
            for i in range(groups[g], groups[g + 1]):
                mean += X[r * n + i]
            mean /= groups[g + 1] - groups[g]
            for i in range(groups[g], groups[g + 1]):
                X[r * n + i] = <floating> (X[r * n + i] - mean)


cdef void _zero_sum_rows(floating* XT, Py_ssize_t n_cols, const Py_ssize_t* groups,
                         Py_ssize_t n_groups, floating* mean) noexcept nogil:
    """The zero-sum gauge on the transposed layout: each feature is a block of rows.

    mean: scratch of n_cols.  Whole rows at a time, so the loops run along
    contiguous memory (each column's sum still adds its rows in order).
    """
    cdef Py_ssize_t g, i, j, size
    for g in range(n_groups):
        size = groups[g + 1] - groups[g]
        for j in range(n_cols):
            mean[j] = 0.0
        for i in range(groups[g], groups[g + 1]):
            for j in range(n_cols):
                mean[j] += XT[i * n_cols + j]
        for j in range(n_cols):
            mean[j] /= size
        for i in range(groups[g], groups[g + 1]):
            for j in range(n_cols):
                XT[i * n_cols + j] -= mean[j]


# --------------------------------------------------------------------------
# Centering (Melchior, Fischer & Wiskott 2016)
# --------------------------------------------------------------------------

cdef floating _centered_row_dots(const floating* X, Py_ssize_t rows, Py_ssize_t n,
                                 const floating* offset, const floating* row_weights,
                                 floating* out) noexcept nogil:
    """out[r] = w_r ((X[r] - offset) . offset); returns the sum of out."""
    cdef Py_ssize_t r
    cdef floating offset_norm, total = 0.0
    row_dots(offset, 1, n, offset, &offset_norm)
    row_dots(X, rows, n, offset, out)
    for r in range(rows):
        out[r] = row_weights[r] * (out[r] - offset_norm)
        total = total + out[r]
    return total


cdef void _centering_corrections(const floating* VS, const floating* HS, Py_ssize_t rows,
                                 Py_ssize_t n_visible, Py_ssize_t n_hidden,
                                 const floating* row_weights, const floating* mu,
                                 const floating* lam, const Py_ssize_t* iota,
                                 floating* row_terms, floating* correction_b,
                                 floating* correction_c) noexcept nogil:
    """What the centered gradient subtracts from the plain bias gradients.

        correction_b = dW_c.T lambda = sum_r w_r ((h_r - lambda) . lambda) (v_r - mu)
        correction_c = dW_c mu       = sum_r w_r ((v_r - mu) . mu) (h_r - lambda)

    over the stacked rows r with weights w_r (which sum to zero, so the
    constant parts -mu and -lambda drop out after the row sums).
    """
    cdef Py_ssize_t i
    cdef floating total
    total = _centered_row_dots(HS, rows, n_hidden, lam, row_weights, row_terms)
    weighted_row_sum(VS, rows, n_visible, row_terms, iota, correction_b)
    for i in range(n_visible):
        correction_b[i] -= total * mu[i]
    total = _centered_row_dots(VS, rows, n_visible, mu, row_weights, row_terms)
    weighted_row_sum(HS, rows, n_hidden, row_terms, iota, correction_c)
    for i in range(n_hidden):
        correction_c[i] -= total * lam[i]


# --------------------------------------------------------------------------
# Parallel tempering (Desjardins et al. 2010): energy gaps, replica swaps, one step
# --------------------------------------------------------------------------

cdef void _energy_gaps(const floating* S, const floating* H, const floating* Z,
                       Py_ssize_t rows, Py_ssize_t n_visible, Py_ssize_t n_hidden,
                       const floating* b, const floating* base_bias, const floating* c,
                       double* energy_gap) noexcept nogil:
    """energy_gap[r] = D(v, h) = E - E_base = -(s.(b - base_bias) + c.h + h.(W s)) (+ const)."""
    cdef Py_ssize_t r, i, j
    cdef double total
    for r in range(rows):
        total = 0.0
        for i in range(n_visible):
            total += S[r * n_visible + i] * (b[i] - base_bias[i])
        for j in range(n_hidden):
            total += H[r * n_hidden + j] * (c[j] + Z[r * n_hidden + j])
        energy_gap[r] = -total


cdef void _replica_swaps(const Train* T, floating* H, floating* S, Py_ssize_t C,
                         bitgen_t* rng, int parity) noexcept nogil:
    """Metropolis swaps of chain i between temperatures t and t + 1 (t = parity, +2, ...).

    Pair t swaps with probability min(1, exp((beta_t - beta_t+1) (D_t - D_t+1))).
    swap_counts[t] counts accepted swaps of pair t and
    swap_counts[n_temperatures - 1 + t] proposed ones.
    """
    cdef Py_ssize_t t, i, r1, r2, n_temperatures = T.n_temperatures
    cdef double log_ratio, tmp
    cdef double* gap = T.energy_gap
    cdef float u
    for t in range(parity, n_temperatures - 1, 2):
        for i in range(C):
            r1 = t * C + i
            r2 = (t + 1) * C + i
            log_ratio = (T.betas[t] - T.betas[t + 1]) * (gap[r1] - gap[r2])
            uniform_fill(rng, 1, &u)
            T.swap_counts[n_temperatures - 1 + t] += 1
            if log_ratio >= 0.0 or u < exp(log_ratio):
                T.swap_counts[t] += 1
                _swap_rows(H, r1, r2, T.u.n_hidden)
                _swap_rows(S, r1, r2, T.u.n_visible)
                tmp = gap[r1]
                gap[r1] = gap[r2]
                gap[r2] = tmp


cdef void _tempered_step(const Train* T, blocks_t* A, Py_ssize_t C, int parity) noexcept nogil:
    """One Gibbs step at every temperature, then replica swaps.

    Block t (rows [t C, (t + 1) C) of Hc and S_all) samples
    p_t(v, h) ~ exp(-(1 - beta_t) E_base(v) - beta_t E(v, h)), with
    E_base(v) = -base_bias . s(v) (up to a constant), from streams
    [t block_streams, (t + 1) block_streams); the swaps use the stream after.
    """
    cdef Py_ssize_t rows = T.n_temperatures * C, t
    cdef Py_ssize_t nv = T.u.n_visible, nh = T.u.n_hidden
    visible_field(A.Hc, rows, A.W, nv, nh, A.S_all, T.n_threads)
    for t in range(T.n_temperatures):
        tempered_visible_sample(&T.u, A.S_all + t * C * nv, C, T.betas[t], A.b, A.base_bias,
                                A.tempered_b, T.rng + t * T.block_streams, T.scratch,
                                T.n_threads)
    hidden_field(A.S_all, rows, A.W, nv, nh, A.Z_all, T.n_threads)
    for t in range(T.n_temperatures):
        tempered_hidden_sample(&T.u, A.Z_all + t * C * nh, A.Hc + t * C * nh, C, T.betas[t],
                               A.c, A.tempered_c, T.rng + t * T.block_streams, T.scratch,
                               T.n_threads)
    _energy_gaps(A.S_all, A.Hc, A.Z_all, rows, nv, nh, A.b, A.base_bias, A.c, T.energy_gap)
    _replica_swaps(T, A.Hc, A.S_all, C, T.rng[T.block_streams * T.n_temperatures], parity)

# --------------------------------------------------------------------------
# Training steps, in the order the driver calls them
# --------------------------------------------------------------------------

cdef void _load_dense_rows(const floating* X, const Py_ssize_t* rows, Py_ssize_t n_rows,
                           Py_ssize_t n_visible, floating* out) noexcept nogil:
    """out = X[rows] (X dense, row-major)."""
    cdef Py_ssize_t i
    for i in range(n_rows):
        memcpy(out + i * n_visible, X + rows[i] * n_visible, n_visible * sizeof(floating))


ctypedef fused csr_index:
    int
    Py_ssize_t


cdef void _load_csr_rows(const floating* data, const csr_index* indices,
                         const Py_ssize_t* indptr, const Py_ssize_t* rows, Py_ssize_t n_rows,
                         Py_ssize_t n_visible, floating* out) noexcept nogil:
    """out = X[rows] as a dense block, X in CSR (data, indices, indptr)."""
    cdef Py_ssize_t i, p, r
    memset(out, 0, n_rows * n_visible * sizeof(floating))
    for i in range(n_rows):
        r = rows[i]
        for p in range(indptr[r], indptr[r + 1]):
            out[i * n_visible + indices[p]] = data[p]


cdef void _load_gaussian_rows(const Train* T, blocks_t* A, Py_ssize_t start, Py_ssize_t r0,
                              Py_ssize_t r1) noexcept nogil:
    """VS[r0:r1] = s(v) of the dense rows order[start + r0:start + r1] (Gaussian)."""
    _load_dense_rows(A.X, T.order + start + r0, r1 - r0, T.u.n_visible,
                     A.VS + r0 * T.u.n_visible)
    _divide_by_variance(A.VS, r0, r1, T.u.n_visible, A.visible_state)


cdef void _load_batch(const Train* T, blocks_t* A, Py_ssize_t start,
                      Py_ssize_t B) noexcept nogil:
    """VS[:B] = s(v) of the batch's rows order[start:start + B] (dense or CSR).

    Dense Gaussian rows are loaded and scaled by the team for large batches
    (each row by one thread: the same bits), which on two threads would
    otherwise wait for one core to stream the batch through memory.
    """
    cdef const Py_ssize_t* rows = T.order + start
    cdef Py_ssize_t t, n_threads = T.n_threads
    if T.u.visible_kind == GAUSSIAN and not T.sparse and _column_team(T, B):
        for t in prange(n_threads, num_threads=n_threads, schedule='static'):
            _load_gaussian_rows(T, A, start, B * t // n_threads, B * (t + 1) // n_threads)
        return
    if not T.sparse:
        _load_dense_rows(A.X, rows, B, T.u.n_visible, A.VS)
    elif T.indices_int32:
        _load_csr_rows(A.csr_data, <const int*> T.csr_indices, T.indptr, rows, B,
                       T.u.n_visible, A.VS)
    else:
        _load_csr_rows(A.csr_data, <const Py_ssize_t*> T.csr_indices, T.indptr, rows, B,
                       T.u.n_visible, A.VS)
    if T.u.visible_kind == GAUSSIAN:
        _divide_by_variance(A.VS, 0, B, T.u.n_visible, A.visible_state)


cdef void _prefetch_batch(const Train* T, blocks_t* A, Py_ssize_t start,
                          Py_ssize_t end) noexcept nogil:
    """Hint the rows order[start:end] of dense data into the cache."""
    if not T.sparse and end > start:
        rbm_prefetch_rows(A.X, T.order + start, end - start, T.u.n_visible * sizeof(A.X[0]))


cdef inline double* _drelu_stats(const Train* T, blocks_t* A, Py_ssize_t r0) noexcept nogil:
    """The statistics of stacked row r0 of dReLU units (aligned with ZS), or NULL.

    _chain_probabilities leaves them there, so that the sampler and the
    gradient of the same rows read them instead of evaluating the units again.
    """
    if A.drelu_stats == NULL:
        return NULL
    return A.drelu_stats + r0 * DRELU_STATISTICS * T.u.n_hidden


cdef void _chain_probabilities(const Train* T, blocks_t* A, Py_ssize_t r0,
                               Py_ssize_t rows) noexcept nogil:
    """HS[r0:r0 + rows] = E[h | VS[r0:r0 + rows]]; real-valued hidden units keep
    the fields W s(v) in ZS[r0:r0 + rows] (their samplers and dReLU's gradient read them)."""
    cdef Py_ssize_t nv = T.u.n_visible, nh = T.u.n_hidden
    if T.u.hidden_kind == HIDDEN_BERNOULLI:
        hidden_field_of(A.VS + r0 * nv, rows, A.W, A.WT if T.transposed else NULL, nv, nh,
                        A.HS + r0 * nh, T.idx, A.coef, T.n_threads)
        hidden_probabilities(&T.u, A.HS + r0 * nh, rows, A.c, T.n_threads)
        return
    hidden_field_of(A.VS + r0 * nv, rows, A.W, A.WT if T.transposed else NULL, nv, nh,
                    A.ZS + r0 * nh, T.idx, A.coef, T.n_threads)
    hidden_probabilities(&T.u, A.HS + r0 * nh, rows, A.c, T.n_threads, _drelu_stats(T, A, r0),
                         A.ZS + r0 * nh)


cdef void _positive_phase_cd(const Train* T, blocks_t* A, Py_ssize_t B,
                             Py_ssize_t C) noexcept nogil:
    """CD: HS[:B] = E[h | data]; the chains start from a sample of it (Hc)."""
    _chain_probabilities(T, A, 0, B)
    sample_hidden(&T.u, A.HS, A.ZS, A.c, A.Hc, C, T.rng, T.scratch, T.n_threads,
                  _drelu_stats(T, A, 0))


cdef void _positive_phase_persistent(const Train* T, blocks_t* A, Py_ssize_t B,
                                     Py_ssize_t C) noexcept nogil:
    """PCD, PT: HS[:B + C] = E[h | data and chains] in one product.  The chains'
    next hidden sample is drawn by _update (_chains_hidden_sample)."""
    _chain_probabilities(T, A, 0, B + C)


cdef void _chains_hidden_sample(const Train* T, blocks_t* A, Py_ssize_t B, Py_ssize_t C,
                                int n_threads) noexcept nogil:
    """PCD, PT: Hc ~ p(h | the chains' rows VS[B:B + C]) on up to n_threads, from
    what _chain_probabilities left for those rows (HS, or the fields ZS and
    dReLU's statistics); reads neither W nor the data rows."""
    sample_hidden(&T.u, A.HS + B * T.u.n_hidden, A.ZS + B * T.u.n_hidden, A.c, A.Hc, C,
                  T.rng, T.scratch, n_threads, _drelu_stats(T, A, B))


cdef void _gibbs_steps(const Train* T, blocks_t* A, Py_ssize_t B, Py_ssize_t C,
                       bint last_probabilities) noexcept nogil:
    """k block-Gibbs steps of the C chains from their hidden state Hc into VS[B:B + C].

    Between steps Hc is resampled; after the last, HS[B:B + C] = E[h | VS[B:]]
    only if last_probabilities (PCD takes it in the merged positive product).
    """
    cdef int step
    cdef Py_ssize_t nv = T.u.n_visible, nh = T.u.n_hidden
    for step in range(T.k):
        # Row sums over the chains' hidden rows only where those are 0/1.
        visible_field_of(A.Hc, C, A.W, A.WT if T.transposed else NULL,
                         T.small and T.u.hidden_kind == HIDDEN_BERNOULLI, nv, nh,
                         A.VS + B * nv, T.idx, A.coef, T.n_threads)
        sample_visible(&T.u, A.VS + B * nv, C, A.b, T.rng, T.scratch, T.n_threads)
        if step < T.k - 1 or last_probabilities:
            _chain_probabilities(T, A, B, C)
            if step < T.k - 1:
                sample_hidden(&T.u, A.HS + B * nh, A.ZS + B * nh, A.c, A.Hc, C, T.rng,
                              T.scratch, T.n_threads, _drelu_stats(T, A, B))


cdef void _negative_phase_cd(const Train* T, blocks_t* A, Py_ssize_t B,
                             Py_ssize_t C) noexcept nogil:
    """CD-k: k steps from the data's hidden sample, ending with E[h | chains]."""
    _gibbs_steps(T, A, B, C, True)


cdef void _negative_phase_pcd(const Train* T, blocks_t* A, Py_ssize_t B,
                              Py_ssize_t C) noexcept nogil:
    """PCD-k: k steps of the persistent chains."""
    _gibbs_steps(T, A, B, C, False)


cdef void _negative_phase_pt(Train* T, blocks_t* A, Py_ssize_t B, Py_ssize_t C) noexcept nogil:
    """PT: k tempered steps of every temperature block; block 0 (beta = 1) into VS[B:].

    The swaps alternate between pairs (0, 1), (2, 3), ... and (1, 2), ...;
    with two temperatures there is one pair, proposed at every step (its
    alternation with nothing restarted at every call, as the swap counts
    cannot tell an odd step count from an even one: the split of the rows
    into calls changed the draws).
    """
    cdef int step
    for step in range(T.k):
        _tempered_step(T, A, C, <int> (T.pt_step % 2) if T.n_temperatures > 2 else 0)
        T.pt_step += 1
    memcpy(A.VS + B * T.u.n_visible, A.S_all, C * T.u.n_visible * sizeof(A.VS[0]))


cdef void _row_weights(const Train* T, floating* row_weights, Py_ssize_t start,
                       Py_ssize_t B, Py_ssize_t C) noexcept nogil:
    """row_weights = 1/B on the B data rows, -1/C on the C chain rows.

    With per-row weights w (T.weights) data row i gets (w_i / mean w) / B,
    the mean over the pass's rows: an unbiased estimate of the weighted data
    average, whose expected total weight per update is 1, as without
    weights.  (Dividing by the batch's own weight sum instead biases the
    gradient, as a ratio estimator: on 60 rows of weight 1 or 5 it moved
    the fitted log-likelihood 20 standard errors from fits on the repeated
    rows.)  CD's chain i starts from data row i, so it carries that row's
    weight, negated: its samples stand for the k-step transitions from the
    weighted data.
    """
    cdef Py_ssize_t i
    if T.weights == NULL:
        for i in range(B):
            row_weights[i] = 1.0 / B
    else:
        for i in range(B):
            row_weights[i] = T.weights[T.order[start + i]] * T.weight_scale / B
    for i in range(B, B + C):
        if T.weights != NULL and not T.persistent:
            row_weights[i] = -row_weights[i - B]
        else:
            row_weights[i] = -1.0 / C


cdef void _scale_for_weight_product(const Train* T, floating* HS, const floating* row_weights,
                                    Py_ssize_t B, Py_ssize_t C,
                                    Py_ssize_t n_hidden) noexcept nogil:
    """HS[:B] /= B, HS[B:B + C] /= -C (weighted: HS[i] *= row_weights[i]): the
    weight gradient is then HS.T @ VS."""
    cdef Py_ssize_t i
    if T.weights == NULL:
        scale_rows(HS, 0, B, n_hidden, <floating> 1.0 / B)
        scale_rows(HS, B, B + C, n_hidden, <floating> -1.0 / C)
    else:
        for i in range(B + C):
            scale_rows(HS, i, i + 1, n_hidden, row_weights[i])


cdef void _gradient(const Train* T, blocks_t* A, Py_ssize_t start, Py_ssize_t B,
                    Py_ssize_t C) noexcept nogil:
    """grad_b, grad_c (and grad_log_sigma) from the stacked rows VS, HS of the
    batch order[start:start + B] and the chains.

    Gaussian steps are preconditioned by sigma**2 (a positive diagonal
    metric, so the same fixed points): gradients in s(v) = v / sigma**2
    become differences of moments of v, in data units.
    """
    cdef Py_ssize_t nv = T.u.n_visible, nh = T.u.n_hidden
    _row_weights(T, A.row_weights, start, B, C)
    if T.sigma_from_weight_gradient:
        _gaussian_moments(T, A.VS, B + C, A.b, A.visible_state, A.row_weights)
    elif T.u.visible_kind == GAUSSIAN:
        _multiply_by_variance(A.VS, 0, B + C, nv, A.visible_state)
    weighted_row_sum(A.VS, B + C, nv, A.row_weights, T.iota, A.grad_b)
    weighted_row_sum(A.HS, B + C, nh, A.row_weights, T.iota, A.grad_c)
    if T.u.hidden_kind == HIDDEN_DRELU:
        drelu_potential_gradient(&T.u, A.ZS, A.c, A.row_weights, B + C, T.grad_potential,
                                 A.drelu_stats)
    if T.learn_sigma and not T.sigma_from_weight_gradient:
        visible_field(A.HS, B + C, A.W, nv, nh, A.AV, T.n_threads)
        _log_sigma_gradient(A.VS, A.AV, B, C, nv, A.b,
                            A.row_weights if T.weights != NULL else NULL, T.grad_log_sigma)
    if T.centered or T.sparsity:
        weighted_row_sum(A.VS, B, nv, A.row_weights, T.iota, A.data_mean_v)
        weighted_row_sum(A.HS, B, nh, A.row_weights, T.iota, A.data_mean_h)


cdef Py_ssize_t _centering_gradient(const Train* T, blocks_t* A, Py_ssize_t B,
                                    Py_ssize_t C) noexcept nogil:
    """The centered gradient (Melchior et al. 2016); returns the rows of the weight product.

    Rows h - lambda, and a last row (-dc, mu): the product then gives
    sum_r w_r (h_r - lambda) v_r - dc mu.T, which is the centered dW since
    the row weights sum to zero.  With sample weights they sum to s (zero
    only on average), and the last row is -(dc - s lambda), which keeps the
    product the centered dW sum_r w_r (h_r - lambda) (v_r - mu).T.
    """
    cdef Py_ssize_t i, nv = T.u.n_visible, nh = T.u.n_hidden
    cdef double total = 0.0
    _centering_corrections(A.VS, A.HS, B + C, nv, nh, A.row_weights, A.visible_offset,
                           A.hidden_offset, T.iota, A.row_terms, A.correction_b,
                           A.correction_c)
    _subtract_from_rows(A.HS, B + C, nh, A.hidden_offset)
    if T.weights == NULL:
        for i in range(nh):
            A.HS[(B + C) * nh + i] = -A.grad_c[i]
    else:
        for i in range(B + C):
            total += A.row_weights[i]
        for i in range(nh):
            A.HS[(B + C) * nh + i] = -(A.grad_c[i] - total * A.hidden_offset[i])
    memcpy(A.VS + (B + C) * nv, A.visible_offset, nv * sizeof(A.VS[0]))
    for i in range(nv):
        A.grad_b[i] -= A.correction_b[i]
    for i in range(nh):
        A.grad_c[i] -= A.correction_c[i]
    return B + C + 1


cdef Py_ssize_t _sparsity_gradient(const Train* T, blocks_t* A,
                                   Py_ssize_t weight_rows) noexcept nogil:
    """Sparsity penalty (Hinton 2010): a row (penalty, mean data row) adds penalty x mean_v to dW.

    q moves towards the batch's mean hidden activation on the data; the
    penalty sparsity_cost * (target - q) also goes into grad_c.
    """
    cdef Py_ssize_t i, nv = T.u.n_visible, nh = T.u.n_hidden
    _move_towards(A.hidden_activity, A.data_mean_h, nh, 1.0 - SPARSITY_DECAY)
    for i in range(nh):
        A.HS[weight_rows * nh + i] = (
            T.sparsity_cost * (T.sparsity_target - A.hidden_activity[i]))
        A.grad_c[i] += A.HS[weight_rows * nh + i]
    memcpy(A.VS + weight_rows * nv, A.data_mean_v, nv * sizeof(A.VS[0]))
    return weight_rows + 1

# --------------------------------------------------------------------------
# Weight and bias steps: one weight-decay path and one momentum path
# --------------------------------------------------------------------------
# velocity = momentum * velocity + lr * (dW - weight_decay * W);  W += velocity
# (without momentum the velocity is not stored).  _weight_step is the one
# entry; each layout keeps the rounding order it has always had (results are
# bit-identical across the redesign): with W.T kept (row-sum products) the
# decay is applied before the gradient is added, with BLAS it is folded into
# the GEMM's beta (no momentum) or subtracted from the velocity after it.

cdef void _weight_step_transposed(const Train* T, floating* WT, floating* velocity_T,
                                  floating* VT, const floating* VS, const floating* G,
                                  Py_ssize_t rows, floating* coef) noexcept nogil:
    """The weight step on WT = W.T: decay first, then lr * V.T @ G over the nonzeros
    of V (read through its transpose VT, written by sparse_outer_update)."""
    cdef Py_ssize_t i, nv = T.u.n_visible, nh = T.u.n_hidden, size = nv * nh
    cdef floating lr = T.learning_rate, momentum = T.momentum
    cdef floating weight_decay = T.weight_decay
    if momentum != 0.0:
        for i in range(size):
            velocity_T[i] = momentum * velocity_T[i] - lr * weight_decay * WT[i]
    elif weight_decay != 0.0:
        for i in range(size):
            WT[i] *= 1.0 - lr * weight_decay
    sparse_outer_update(VS, VT, G, rows, nv, nh, lr, velocity_T if momentum != 0.0 else WT,
                        T.idx, coef, T.n_threads)
    if momentum != 0.0:
        for i in range(size):
            WT[i] += velocity_T[i]


cdef void _weight_step_blas(const Train* T, floating* W, floating* velocity,
                            const floating* VS, const floating* G,
                            Py_ssize_t rows) noexcept nogil:
    """The weight step on W: one GEMM with beta = momentum (into the velocity, decay
    after it) or beta = 1 - lr * weight_decay (no velocity)."""
    cdef Py_ssize_t i, nv = T.u.n_visible, nh = T.u.n_hidden
    cdef floating lr = T.learning_rate, momentum = T.momentum
    cdef floating decay = 1.0 - T.learning_rate * T.weight_decay
    if T.use_momentum:
        weight_update(G, VS, rows, nv, nh, lr, momentum, velocity, T.n_threads)
        for i in range(nh * nv):
            velocity[i] -= lr * T.weight_decay * W[i]
            W[i] += velocity[i]
    else:
        weight_update(G, VS, rows, nv, nh, lr, decay, W, T.n_threads)


cdef void _sigma_weight_range(const Train* T, floating* W, floating* velocity,
                              floating* G, Py_ssize_t lo, Py_ssize_t hi) noexcept nogil:
    """Columns [lo, hi): grad[i] -= 2 sum_j W_ji G_ji, then the step of W_ji
    (momentum path's rounding order) for every hidden unit j; G's columns
    are left zero for the next product (rbm_sigma_weight_range_*)."""
    cdef floating lr = T.learning_rate, momentum = T.momentum
    cdef floating lr_decay = T.learning_rate * T.weight_decay
    cdef floating decay = 1.0 - T.learning_rate * T.weight_decay
    if floating is float:
        rbm_sigma_weight_range_f(W, velocity, G, T.grad_log_sigma, T.u.n_visible,
                                 T.u.n_hidden, lo, hi, lr, momentum, lr_decay, decay,
                                 T.use_momentum)
    else:
        rbm_sigma_weight_range_d(W, velocity, G, T.grad_log_sigma, T.u.n_visible,
                                 T.u.n_hidden, lo, hi, lr, momentum, lr_decay, decay,
                                 T.use_momentum)


cdef void _sigma_weight_columns(const Train* T, floating* W, floating* velocity,
                                floating* G, Py_ssize_t block) noexcept nogil:
    """_sigma_weight_range over column block ``block`` of _column_blocks."""
    _sigma_weight_range(T, W, velocity, G, block * _COLUMN_BLOCK,
                        min((block + 1) * _COLUMN_BLOCK, T.u.n_visible))


cdef void _sigma_weight_gemm_block(const Train* T, floating* W, floating* velocity,
                                   const floating* VS, const floating* HS, Py_ssize_t rows,
                                   floating* G, int i, int n_blocks) noexcept nogil:
    """Column block i of the weight gradient G = HS.T @ VS (added to G, which the
    previous update's step left zero), then its columns' step while they are
    in this core's cache."""
    weight_update_block(HS, VS, rows, T.u.n_visible, T.u.n_hidden, <floating> 1.0,
                        <floating> 1.0, G, i, n_blocks)
    _sigma_weight_range(T, W, velocity, G,
                        weight_update_column_start(i, n_blocks, T.u.n_visible),
                        weight_update_column_start(i + 1, n_blocks, T.u.n_visible))


cdef void _weight_step_with_sigma_terms(const Train* T, floating* W, floating* velocity,
                                       const floating* VS, const floating* HS,
                                       Py_ssize_t rows, floating* G) noexcept nogil:
    """The weight step of a Gaussian layer with learned sigma, and the rest of its
    log sigma gradient from the same product.

    The log sigma gradient needs sum_r w_r v_ri a_ri with a = h @ W (see
    ``_log_sigma_gradient``).  Since the rows of HS already carry the weights
    w_r, that is sum_j W_ji G_ji with G = HS.T @ VS, the weight gradient: one
    pass over W and G instead of a (rows x n_hidden x n_visible) product.  So
    G is computed into its own buffer (W is still the pre-step W there), and
    the step is then taken elementwise, in the rounding order of
    ``_weight_step_blas``'s momentum path.  Where the product is cut into
    blocks of visible columns, each block's step follows its product on the
    same thread, on the team, while that block of G is in cache (on one
    thread this pass was 3% of a 784 x 500 update, and on two it left the
    second core idle); else by blocks of columns after the whole product.
    Each entry, and each column's sum over hidden units, is computed the
    same way either way.
    """
    cdef int i, n_blocks = weight_update_column_blocks(T.u.n_visible, T.u.n_hidden)
    cdef Py_ssize_t block, n_columns = _column_blocks(T.u.n_visible)
    if n_blocks > 0:
        if _column_team(T, T.u.n_hidden):
            for i in prange(n_blocks, num_threads=min(T.n_threads, n_blocks),
                            schedule='dynamic'):
                _sigma_weight_gemm_block(T, W, velocity, VS, HS, rows, G, i, n_blocks)
        else:
            for i in range(n_blocks):
                _sigma_weight_gemm_block(T, W, velocity, VS, HS, rows, G, i, n_blocks)
        return
    weight_update(HS, VS, rows, T.u.n_visible, T.u.n_hidden, 1.0, 1.0, G, T.n_threads)
    if _column_team(T, T.u.n_hidden):
        for block in prange(n_columns, num_threads=T.n_threads, schedule='static'):
            _sigma_weight_columns(T, W, velocity, G, block)
    else:
        for block in range(n_columns):
            _sigma_weight_columns(T, W, velocity, G, block)


cdef void _soft_threshold(floating* X, Py_ssize_t n, double amount_) noexcept nogil:
    """X = sign(X) max(|X| - amount, 0): the proximal step of an L1 penalty."""
    cdef Py_ssize_t i
    cdef floating amount = amount_
    for i in range(n):
        if X[i] > amount:
            X[i] -= amount
        elif X[i] < -amount:
            X[i] += amount
        else:
            X[i] = 0.0


cdef void _l1_squared_step(floating* W, Py_ssize_t n_hidden, Py_ssize_t n_visible,
                           bint transposed, double amount_) noexcept nogil:
    """W[j] -= amount * sign(W[j]) * mean(|W[j]|) for each hidden unit j: a gradient
    step on the L1-squared penalty amount / (2 nv) sum_j (sum_i |W_ji|)**2.

    W is (n_hidden, n_visible), or its transpose (``transposed``).  A unit's
    mean |W| is taken before any of its weights move.
    """
    cdef Py_ssize_t i, j
    cdef floating amount = amount_, step
    cdef double total
    for j in range(n_hidden):
        total = 0.0
        for i in range(n_visible):
            total += fabs(W[i * n_hidden + j] if transposed else W[j * n_visible + i])
        step = amount * (total / n_visible)
        for i in range(n_visible):
            if transposed:
                W[i * n_hidden + j] -= step * ((W[i * n_hidden + j] > 0)
                                               - (W[i * n_hidden + j] < 0))
            else:
                W[j * n_visible + i] -= step * ((W[j * n_visible + i] > 0)
                                                - (W[j * n_visible + i] < 0))


cdef void _weight_step(const Train* T, blocks_t* A, Py_ssize_t rows) noexcept nogil:
    """The weight step in the layout in use, then the L1 proximal step and the
    L1-squared penalty's step."""
    cdef Py_ssize_t size = T.u.n_visible * T.u.n_hidden
    if T.transposed:
        _weight_step_transposed(T, A.WT, A.velocity_T, A.VT, A.VS, A.HS, rows, A.coef)
    elif T.sigma_from_weight_gradient:
        _weight_step_with_sigma_terms(T, A.W, A.W_velocity, A.VS, A.HS, rows,
                                      A.weight_gradient)
    else:
        _weight_step_blas(T, A.W, A.W_velocity, A.VS, A.HS, rows)
    if T.l1_weight_decay != 0.0:
        _soft_threshold(A.WT if T.transposed else A.W, size,
                        T.learning_rate * T.l1_weight_decay)
    if T.l1_squared_weight_decay != 0.0:
        _l1_squared_step(A.WT if T.transposed else A.W, T.u.n_hidden, T.u.n_visible,
                         T.transposed, T.learning_rate * T.l1_squared_weight_decay)


cdef void _bias_step(floating* bias, floating* velocity, const floating* grad,
                     Py_ssize_t n, double learning_rate, double momentum_) noexcept nogil:
    """velocity = momentum * velocity + lr * grad;  bias += velocity"""
    cdef Py_ssize_t j
    cdef floating lr = learning_rate, momentum = momentum_
    for j in range(n):
        velocity[j] = momentum * velocity[j] + lr * grad[j]
        bias[j] += velocity[j]


cdef void _bias_steps(const Train* T, blocks_t* A) noexcept nogil:
    """Momentum steps on b and c."""
    _bias_step(A.b, A.b_velocity, A.grad_b, T.u.n_visible, T.learning_rate, T.momentum)
    _bias_step(A.c, A.c_velocity, A.grad_c, T.u.n_hidden, T.learning_rate, T.momentum)


cdef void _move_offsets(const Train* T, blocks_t* A) noexcept nogil:
    """Centering: the offsets move towards the batch's data means by offset_rate."""
    _move_towards(A.visible_offset, A.data_mean_v, T.u.n_visible, T.offset_rate)
    _move_towards(A.hidden_offset, A.data_mean_h, T.u.n_hidden, T.offset_rate)


cdef void _categorical_gauge(const Train* T, blocks_t* A) noexcept nogil:
    """Categorical constraint: W (in its layout), its velocity, b and b's velocity zero-sum."""
    cdef Py_ssize_t nv = T.u.n_visible, nh = T.u.n_hidden, ng = T.u.n_groups
    if T.transposed:
        _zero_sum_rows(A.WT, nh, T.u.groups, ng, A.gauge_mean)
        if T.use_momentum:
            _zero_sum_rows(A.velocity_T, nh, T.u.groups, ng, A.gauge_mean)
    else:
        _zero_sum_columns(A.W, nh, nv, T.u.groups, ng)
        if T.use_momentum:
            _zero_sum_columns(A.W_velocity, nh, nv, T.u.groups, ng)
    _zero_sum_columns(A.b, 1, nv, T.u.groups, ng)
    _zero_sum_columns(A.b_velocity, 1, nv, T.u.groups, ng)


cdef inline bint _products_read_w(const Train* T) noexcept nogil:
    """Whether a kernel keeping WT reads W itself in its products (so W follows
    every update): PT's tempered steps, and small models' visible fields of
    binary hidden rows (of real-valued ones, BLAS reads WT)."""
    return T.method == _PT or (T.small and T.u.hidden_kind == HIDDEN_BERNOULLI)


cdef void _constraints(const Train* T, blocks_t* A) noexcept nogil:
    """Per-type constraints after a step: Gaussian sigma step, categorical gauge.

    Then W is refreshed from WT where the next products read W itself
    (small models and PT).
    """
    if T.learn_sigma:
        _log_sigma_step(A.visible_state, T.grad_log_sigma, T.u.n_visible, T.learning_rate,
                        T.momentum)
    if T.u.hidden_kind == HIDDEN_DRELU:
        _drelu_potential_step(A.hidden_state, T.grad_potential, T.u.n_hidden, T.learning_rate,
                              T.momentum)
    if T.centered:
        _move_offsets(T, A)
    if T.u.visible_kind == CATEGORICAL:
        _categorical_gauge(T, A)
    if T.transposed and _products_read_w(T):
        transpose(A.WT, T.u.n_visible, T.u.n_hidden, A.W)


cdef void _gradient_and_weight_step(const Train* T, blocks_t* A, Py_ssize_t batch_start,
                                    Py_ssize_t B, Py_ssize_t C) noexcept nogil:
    """The batch's gradients (with centering's and sparsity's terms) and its weight step."""
    cdef Py_ssize_t weight_rows = B + C
    _gradient(T, A, batch_start, B, C)
    if T.centered:
        weight_rows = _centering_gradient(T, A, B, C)
    if T.sparsity:
        weight_rows = _sparsity_gradient(T, A, weight_rows)
    _scale_for_weight_product(T, A.HS, A.row_weights, B, C, T.u.n_hidden)
    _weight_step(T, A, weight_rows)


cdef inline bint _chain_sample_beside_update(const Train* T, Py_ssize_t C) noexcept nogil:
    """Whether the chains' next hidden sample is drawn on a second thread while
    the first computes the gradient and the weight step.

    Only for real-valued hidden units, whose draws (truncated Gaussians,
    5-10 ns a unit) take as long as the update of a small model; a Bernoulli
    draw costs less than waking a thread, and so does a sample of fewer than
    _MIN_BESIDE_SAMPLE_ELEMENTS real-valued units.  And only where the
    update would not use the team itself (a model below the team's size for
    passes over the weights: inside the two-thread region a nested team has
    one thread), and where the sampler runs on one thread anyway, or the
    team has two threads and the update is long enough.  There one thread
    drawing the sample S beside the update U takes max(S, U) against
    S / 2 + U for the team's sample then the update, the shorter of the two
    while S < 2 U.  U grows with the visible layer and S does not, so this needs
    _MIN_BESIDE_TEAM_SAMPLE_VISIBLE binary or Gaussian visible units
    (categorical layers, whose products cost by sites, keep the team's
    sample).  With the default 100 chains, 64 hidden units, batch 10:
    ReLU and dReLU fits 2-9% faster at 64 and 128 visible units, 2-15%
    slower at 16 and 32.  On more threads the team's sample is faster.
    """
    return (_CHAIN_SAMPLE_BESIDE_UPDATE and T.n_threads > 1
            and T.u.hidden_kind != HIDDEN_BERNOULLI
            and C * T.u.n_hidden >= _MIN_BESIDE_SAMPLE_ELEMENTS
            and T.u.n_visible * T.u.n_hidden < _TEAM_MIN_WEIGHTS
            and (hidden_sample_on_one_thread(&T.u, C, T.n_threads)
                 or (T.n_threads == 2 and T.u.visible_kind != CATEGORICAL
                     and T.u.n_visible >= _MIN_BESIDE_TEAM_SAMPLE_VISIBLE)))


cdef void _update(const Train* T, blocks_t* A, Py_ssize_t batch_start, Py_ssize_t B,
                  Py_ssize_t C) noexcept nogil:
    """The batch's parameter update; PCD and PT also draw their chains' next
    hidden sample (for the next batch).

    The two are independent: the sample reads the chains' fields (or, for
    Bernoulli units, HS before _scale_for_weight_product scales it), c and
    the dReLU potential, which change only in _bias_steps and _constraints,
    after both; the update does not touch Hc, the random streams or their
    scratch.  So the sample may run beside the update on another thread
    (_chain_sample_beside_update), with the same numbers either way.
    """
    global _chain_samples_beside_update
    cdef int part
    if not T.persistent:
        _gradient_and_weight_step(T, A, batch_start, B, C)
    elif _chain_sample_beside_update(T, C):
        _chain_samples_beside_update += 1
        # The sample goes to the second thread: in hidden_probabilities it
        # computed the last rows (2/5 or 1/2 of them), most of the chains'
        # rows, so its cache holds them.
        for part in prange(2, num_threads=2, schedule='static'):
            if part == 0:
                _gradient_and_weight_step(T, A, batch_start, B, C)
            else:
                _chains_hidden_sample(T, A, B, C, 1)
    else:
        _chains_hidden_sample(T, A, B, C, T.n_threads)
        _gradient_and_weight_step(T, A, batch_start, B, C)
    _bias_steps(T, A)
    _constraints(T, A)


cdef void _train_loop(Train* T, blocks_t* A) noexcept nogil:
    """The driver: one update per minibatch; batch t is order[ends[t - 1]:ends[t]]."""
    cdef Py_ssize_t t, start = 0, batch_start, B, C
    for t in range(T.n_batches):
        B = T.ends[t] - start
        C = T.n_chains if T.persistent else B
        _load_batch(T, A, start, B)
        batch_start = start
        start = T.ends[t]
        if t + 1 < T.n_batches:
            _prefetch_batch(T, A, start, T.ends[t + 1])
        if T.method == _CD:
            _positive_phase_cd(T, A, B, C)
            _negative_phase_cd(T, A, B, C)
        elif T.method == _PCD:
            _negative_phase_pcd(T, A, B, C)
        else:
            _negative_phase_pt(T, A, B, C)
        if T.persistent:
            _positive_phase_persistent(T, A, B, C)
        _update(T, A, batch_start, B, C)

# --------------------------------------------------------------------------
# Entry checks: O(1) per array, O(n) over index arrays
# --------------------------------------------------------------------------

def _check_indices(values, owner, name, high):
    """Every entry of an index array in [0, high)."""
    if values.shape[0] and (values.min() < 0 or values.max() >= high):
        raise ValueError(f"{owner}.{name} has entries outside [0, {high})")


def _check_batches(batches, dtype, n_visible):
    """(X, csr_data, csr_indices, csr_indptr, order, ends, weights): dense X, or CSR;
    weights None or one finite, non-negative float64 per row."""
    X = _array(batches, "batches", "X", dtype, (None, n_visible), optional=True)
    data = _array(batches, "batches", "csr_data", dtype, (None,), optional=True)
    if (X is None) == (data is None):
        raise ValueError("batches: give exactly one of batches.X and batches.csr_data")
    indices = indptr = None
    if X is not None:
        n_rows = X.shape[0]
    else:
        nnz = data.shape[0]
        indices = _array(batches, "batches", "csr_indices", (np.int32, np.intp), (nnz,))
        indptr = _array(batches, "batches", "csr_indptr", np.intp, (None,))
        n_rows = indptr.shape[0] - 1
        if n_rows < 0 or np.any(np.diff(indptr) < 0) or (
                indptr.shape[0] and (indptr[0] < 0 or indptr[n_rows] > nnz)):
            raise ValueError(f"batches.csr_indptr must be non-decreasing within [0, {nnz}]")
        _check_indices(indices, "batches", "csr_indices", n_visible)
    order = _array(batches, "batches", "order", np.intp, (None,))
    _check_indices(order, "batches", "order", n_rows)
    ends = _array(batches, "batches", "ends", np.intp, (None,))
    if ends.shape[0] and (ends[0] < 0 or np.any(np.diff(ends) < 0)
                          or ends[ends.shape[0] - 1] > order.shape[0]):
        raise ValueError("batches.ends must be non-decreasing within [0, len(order)]")
    # Optional attribute: batches without it (older callers) are unweighted.
    weights = (_array(batches, "batches", "weights", np.float64, (n_rows,), optional=True)
               if hasattr(batches, "weights") else None)
    if weights is not None and n_rows and not (np.isfinite(weights).all()
                                               and weights.min() >= 0.0):
        raise ValueError("batches.weights must be finite and non-negative (one per row)")
    return X, data, indices, indptr, order, ends, weights


def _check_update(update, dtype, n_visible):
    """The update's hyperparameters (a dict), betas and base_bias (PT only, else None)."""
    values = dict(method=_int(update, "update", "method", _CD, _PT),
                  k=_int(update, "update", "k", 1))
    for name in ("learning_rate", "momentum", "weight_decay", "l1_weight_decay",
                 "l1_squared_weight_decay",
                 "sparsity_target", "sparsity_cost", "offset_rate"):
        try:
            values[name] = float(_get(update, "update", name))
        except (TypeError, ValueError):
            raise ValueError(f"update.{name} must be a number") from None
    betas = base_bias = None
    if values["method"] == _PT:
        betas = _array(update, "update", "betas", np.float64, (None,))
        if betas.shape[0] < 1:
            raise ValueError("update.betas must have at least one temperature")
        base_bias = _array(update, "update", "base_bias", dtype, (n_visible,))
    return values, betas, base_bias


def _check_state(state, dtype, n_visible, n_hidden, method, n_temperatures):
    """The training state's arrays (a dict); chains checked for PCD and PT."""
    out = dict(
        W_velocity=_array(state, "state", "W_velocity", dtype, (n_hidden, n_visible), True),
        b_velocity=_array(state, "state", "b_velocity", dtype, (n_visible,), True),
        c_velocity=_array(state, "state", "c_velocity", dtype, (n_hidden,), True),
        visible_offset=_array(state, "state", "visible_offset", dtype, (n_visible,), True),
        hidden_offset=_array(state, "state", "hidden_offset", dtype, (n_hidden,), True),
        hidden_activity=_array(state, "state", "hidden_activity", dtype, (n_hidden,), True),
        chains=None, swap_counts=None)
    if method != _CD:
        chains = _array(state, "state", "chains", dtype, (None, n_hidden), True)
        if chains.shape[0] % n_temperatures:
            raise ValueError(f"state.chains has {chains.shape[0]} rows, not a multiple of "
                             f"the {n_temperatures} temperatures of update.betas")
        out["chains"] = chains
    if method == _PT:
        # At least 2 (T - 1) entries: accepted swaps of pair t at [t], proposed
        # ones at [T - 1 + t] (a longer array, left from a model refitted with
        # fewer temperatures, is read only there).
        swap_counts = _array(state, "state", "swap_counts", np.int_, (None,), True)
        if swap_counts.shape[0] < 2 * (n_temperatures - 1):
            raise ValueError(f"state.swap_counts needs {2 * (n_temperatures - 1)} entries "
                             f"for {n_temperatures} temperatures, got {swap_counts.shape[0]}")
        out["swap_counts"] = swap_counts
    return out


# --------------------------------------------------------------------------
# Structs from the checked arrays
# --------------------------------------------------------------------------

#: The members of Blocks32 / Blocks64, in order.
_BLOCK_FIELDS = (
    'W', 'b', 'c', 'W_velocity', 'b_velocity', 'c_velocity', 'Hc', 'X', 'csr_data',
    'VS', 'HS', 'S_all', 'Z_all', 'tempered_b', 'tempered_c', 'grad_b', 'grad_c',
    'row_weights', 'row_terms', 'correction_b', 'correction_c', 'data_mean_v',
    'data_mean_h', 'gauge_mean', 'AV', 'weight_gradient', 'WT', 'velocity_T', 'VT', 'coef',
    'visible_offset', 'hidden_offset', 'hidden_activity', 'base_bias', 'visible_state',
    'ZS', 'hidden_state', 'drelu_stats',
)


cdef void _fill_blocks(void* blocks, Py_ssize_t size, dict arrays) except *:
    """Blocks32 / Blocks64 from the arrays named in _BLOCK_FIELDS (missing: NULL).

    Both structs are a row of pointers in _BLOCK_FIELDS order, so one array of
    void* copied over them (memcpy: no aliasing questions) fills either.
    """
    cdef void* pointers[64]
    cdef Py_ssize_t i
    if size != len(_BLOCK_FIELDS) * sizeof(void*) or len(_BLOCK_FIELDS) > 64:
        raise AssertionError("Blocks32/Blocks64 do not match _BLOCK_FIELDS")
    for i, name in enumerate(_BLOCK_FIELDS):
        pointers[i] = _data(arrays.get(name))
    memcpy(blocks, pointers, size)


def _max_batch(ends):
    """The largest batch of ends (batch t ends at ends[t], the first starts at 0)."""
    return int(np.max(np.diff(ends, prepend=0))) if ends.shape[0] else 0


def _train_workspace(a, Py_ssize_t n_visible, Py_ssize_t n_hidden, Py_ssize_t n_chains,
                     Py_ssize_t n_temperatures, bint transposed, bint learn_sigma,
                     bint sigma_from_weight_gradient, int hidden_kind):
    """Scratch arrays of one training call, added to the dict ``a`` of its arrays.

    Stacked rows: [0, B) the data batch, [B, B + C) the negative chains, and
    two spare rows that carry the centering correction and the sparsity
    penalty into the weight product.
    """
    dtype = a["W"].dtype
    stack = _max_batch(a["ends"]) + n_chains
    width = max(n_visible, n_hidden)
    pt_rows = n_chains * n_temperatures if a["betas"] is not None else 1
    empty = lambda *shape: np.empty(shape, dtype=dtype)
    a.update(VS=empty(stack + 2, n_visible), HS=empty(stack + 2, n_hidden),
             Hc=empty(max(n_chains * n_temperatures, 1), n_hidden),
             S_all=empty(pt_rows, n_visible), Z_all=empty(pt_rows, n_hidden),
             energy_gap=np.empty(pt_rows), tempered_b=empty(n_visible),
             tempered_c=empty(n_hidden), grad_b=empty(n_visible), grad_c=empty(n_hidden),
             row_weights=empty(stack), row_terms=empty(stack),
             correction_b=empty(n_visible), correction_c=empty(n_hidden),
             data_mean_v=empty(n_visible), data_mean_h=empty(n_hidden),
             gauge_mean=empty(n_hidden),
             scratch=np.empty((n_streams_for(n_chains) * CHUNK, width), dtype=np.float32),
             AV=empty(stack if learn_sigma and not sigma_from_weight_gradient else 1,
                      n_visible),
             # Zero: each update adds its product into it and its step clears it.
             weight_gradient=np.zeros((n_hidden if sigma_from_weight_gradient else 1,
                                       n_visible), dtype=dtype),
             grad_log_sigma=np.empty(n_visible if learn_sigma else 1),
             VT=empty(n_visible if transposed else 1, stack + 2),
             idx=np.empty(max(width, stack + 2), dtype=np.intp),
             coef=empty(max(width, stack + 2)),
             iota=np.arange(stack + 2, dtype=np.intp),
             ZS=empty(stack if hidden_kind != HIDDEN_BERNOULLI else 0, n_hidden),
             grad_potential=np.empty(DRELU_PARAMETER_ROWS * n_hidden
                                     if hidden_kind == HIDDEN_DRELU else 0),
             # dReLU rows' statistics, aligned with ZS (None: NULL, none kept).
             drelu_stats=np.empty((stack, DRELU_STATISTICS * n_hidden))
             if hidden_kind == HIDDEN_DRELU else None)
    if transposed:
        # Row sums with visible rows keep W.T (and the velocity in that layout).
        a["WT"] = np.ascontiguousarray(a["W"].T)
        a["velocity_T"] = np.ascontiguousarray(a["W_velocity"].T)
    if a["chains"] is not None:
        a["Hc"][:a["chains"].shape[0]] = a["chains"]


cdef void _fill_train(Train* T, dict a, dict hyper, Py_ssize_t n_chains,
                      Py_ssize_t n_temperatures, int n_threads) except *:
    """The dtype-independent half of a training call."""
    T.method = hyper["method"]
    T.k = hyper["k"]
    T.n_threads = n_threads
    T.column_team_min = min(_TEAM_MIN_WEIGHTS, parallel_threshold())
    T.n_batches = a["ends"].shape[0]
    T.n_chains = n_chains
    T.n_temperatures = n_temperatures
    T.block_streams = n_streams_for(n_chains)
    T.persistent = T.method != _CD
    T.centered = hyper["offset_rate"] > 0.0
    T.sparsity = hyper["sparsity_cost"] > 0.0
    T.use_momentum = hyper["momentum"] != 0.0
    T.learning_rate = hyper["learning_rate"]
    T.momentum = hyper["momentum"]
    T.weight_decay = hyper["weight_decay"]
    T.l1_weight_decay = hyper["l1_weight_decay"]
    T.l1_squared_weight_decay = hyper["l1_squared_weight_decay"]
    T.sparsity_target = hyper["sparsity_target"]
    T.sparsity_cost = hyper["sparsity_cost"]
    T.offset_rate = hyper["offset_rate"]
    T.sparse = a["X"] is None
    T.indices_int32 = T.sparse and a["csr_indices"].dtype == np.int32
    T.order = <const Py_ssize_t*> _data(a["order"])
    T.ends = <const Py_ssize_t*> _data(a["ends"])
    T.indptr = <const Py_ssize_t*> _data(a["csr_indptr"])
    T.csr_indices = _data(a["csr_indices"])
    T.betas = <const double*> _data(a["betas"])
    T.weights = <const double*> _data(a["weights"])
    T.weight_scale = a["weight_scale"]
    T.swap_counts = <long*> _data(a["swap_counts"])
    T.scratch = <float*> _data(a["scratch"])
    T.idx = <Py_ssize_t*> _data(a["idx"])
    T.iota = <Py_ssize_t*> _data(a["iota"])
    T.energy_gap = <double*> _data(a["energy_gap"])
    T.grad_log_sigma = <double*> _data(a["grad_log_sigma"])
    T.grad_potential = <double*> _data(a["grad_potential"])
    T.pt_step = 0
    if T.method == _PT and n_temperatures > 2 and n_chains > 0:
        # Steps taken so far (pairs 0 and 1 alternate), so the swap parity
        # keeps alternating across calls.
        T.pt_step = (T.swap_counts[n_temperatures - 1] + T.swap_counts[n_temperatures]) // n_chains


def _check_training_call(batches, params, state, update, visible, n_threads):
    """The checked arrays (a dict), hyperparameters and layer of one training call."""
    _check_threads(n_threads)
    W, b, c = _check_params(params, True)
    n_hidden, n_visible = W.shape
    kind, vstate, groups, learn_sigma = _check_visible(visible, W.dtype, n_visible, True)
    X, data, indices, indptr, order, ends, weights = _check_batches(batches, W.dtype,
                                                                    n_visible)
    hyper, betas, base_bias = _check_update(update, W.dtype, n_visible)
    n_temperatures = betas.shape[0] if betas is not None else 1
    a = _check_state(state, W.dtype, n_visible, n_hidden, hyper["method"], n_temperatures)
    hidden = _check_hidden(params, W.dtype, n_hidden, True)
    a.update(W=W, b=b, c=c, X=X, csr_data=data, csr_indices=indices, csr_indptr=indptr,
             order=order, ends=ends, betas=betas, base_bias=base_bias, visible_state=vstate,
             weights=weights, weight_scale=_weight_scale(weights, order, ends),
             hidden_state=hidden[1])
    return a, hyper, (kind, vstate, groups, learn_sigma), hidden


def _weight_scale(weights, order, ends):
    """1 / the mean weight of the rows the call visits (1.0 without weights)."""
    n_visited = ends[ends.shape[0] - 1] if ends.shape[0] else 0
    if weights is None or n_visited == 0:
        return 1.0
    total = float(np.sum(weights[order[:n_visited]]))
    if total <= 0.0:
        raise ValueError("batches.weights are zero on every row the batches visit; "
                         "give some row a positive weight (or drop the rows)")
    return n_visited / total


def train_minibatches(batches, params, state, update, visible, streams, int n_threads):
    """Run a sequence of CD-k, PCD-k or PT minibatch updates in compiled code.

    Batch ``t`` is ``batches.order[ends[t-1]:ends[t]]``.  For PCD the
    negative phase advances the persistent chains ``state.chains`` (their
    hidden samples); for CD it starts from the batch itself.  The gradient
    uses hidden probabilities (Rao-Blackwellised) and visible samples:

        dW = <h s(v)>_data - <h s(v)>_model,   dW -= weight_decay * W
        velocity = momentum * velocity + learning_rate * dW;  W += velocity

    With ``update.offset_rate > 0`` the step is the centered gradient
    (Melchior, Fischer & Wiskott 2016), written back to the plain
    parametrisation, after which the offsets move towards the batch's data
    means.  Parallel tempering (``METHOD_PT``, Desjardins et al. 2010) keeps
    ``len(update.betas)`` blocks of chains, block t sampling the model
    tempered towards the independent model of ``update.base_bias``; each of
    its k steps is a Gibbs step at every temperature followed by replica
    swaps.  ``l1_weight_decay`` soft-thresholds W by learning_rate * l1 after
    each step; with ``sparsity_cost > 0`` (Hinton 2010) the running hidden
    activity q moves towards the batch's mean and sparsity_cost * (target - q)
    is added to the hidden-bias gradient and, times the batch's mean visible
    row, to the weight gradient.  Gaussian units with ``visible.learn_sigma``
    take a momentum step on log sigma; categorical units are kept in the
    zero-sum gauge.  With ``batches.weights`` (one per row; the attribute
    may be absent or None) the data rows' averages in every statistic above
    weigh row i by w_i / mean(w), the mean over the rows of ``order`` that
    the batches visit (an unbiased estimate of the weighted average).
    Arrays of ``params``, ``state`` and ``visible.state`` are updated in
    place.
    """
    cdef Train T
    cdef Blocks32 A32
    cdef Blocks64 A64
    memset(&T, 0, sizeof(T))
    a, hyper, (kind, vstate, groups, learn_sigma), hidden = _check_training_call(
        batches, params, state, update, visible, n_threads)
    n_hidden, n_visible = a["W"].shape
    n_temperatures = a["betas"].shape[0] if a["betas"] is not None else 1
    n_chains = (a["chains"].shape[0] // n_temperatures if a["chains"] is not None
                else _max_batch(a["ends"]))
    _fill_units(&T.u, kind, n_visible, n_hidden, vstate, groups, hidden)
    T.learn_sigma = learn_sigma
    # Row sums pay off for 0/1 (and one-hot) states, not real-valued ones: in
    # small models for every product, and for one-hot (categorical) rows in
    # the products with visible rows at any size (measured at 27 sites x 20
    # states x 100 hidden, batch 100: 4x faster than BLAS).  Real-valued
    # hidden states are dense, so no row sums over them: small models with
    # ReLU or dReLU hidden units take the row sums over their 0/1 (or
    # one-hot) visible rows (the hidden fields, the weight step) and BLAS
    # from WT for the chains' visible field (see _gibbs_steps); Gaussian
    # hidden units (and Gaussian visible rows) keep BLAS throughout.
    T.small = (n_visible * n_hidden <= _SMALL_MODEL_WEIGHTS
               and _max_batch(a["ends"]) + n_chains <= _SMALL_MODEL_ROWS
               and kind != GAUSSIAN and hidden[0] != HIDDEN_GAUSSIAN)
    T.transposed = T.small or kind == CATEGORICAL
    # The log sigma gradient's visible-field term comes out of the weight
    # gradient where that is the plain sum_r w_r h_r v_r.T (not centered, no
    # sparsity row), which saves a product as large as the weight gradient.
    T.sigma_from_weight_gradient = (_SIGMA_FROM_WEIGHT_GRADIENT and learn_sigma
                                    and not T.transposed
                                    and hyper["offset_rate"] <= 0.0
                                    and hyper["sparsity_cost"] <= 0.0)
    _train_workspace(a, n_visible, n_hidden, n_chains, n_temperatures, T.transposed,
                     learn_sigma, T.sigma_from_weight_gradient, hidden[0])
    _fill_train(&T, a, hyper, n_chains, n_temperatures, n_threads)
    _first_call_checks()
    # Block t of tempered chains uses streams [t * block_streams, (t + 1) *
    # block_streams); the replica swaps use the last one.
    T.rng = stream_pointers(streams, T.block_streams * n_temperatures
                            + (1 if hyper["method"] == _PT else 0), "streams")
    try:
        with single_threaded_blas():
            if a["W"].dtype == np.float32:
                _fill_blocks(&A32, sizeof(A32), a)
                with nogil:
                    _train_loop(&T, &A32)
            else:
                _fill_blocks(&A64, sizeof(A64), a)
                with nogil:
                    _train_loop(&T, &A64)
    finally:
        free(T.rng)
    _write_back(a, &T)


cdef void _write_back(dict a, const Train* T) except *:
    """Chains, and W kept transposed during the call, back into the caller's arrays."""
    if a["chains"] is not None:
        a["chains"][...] = a["Hc"][:a["chains"].shape[0]]
    if T.transposed:
        if not _products_read_w(T):  # else W was written back after every update
            a["W"][...] = a["WT"].T
        if T.use_momentum:
            a["W_velocity"][...] = a["velocity_T"].T


# --------------------------------------------------------------------------
# Sampling entry points
# --------------------------------------------------------------------------

def sigmoid(floating[:, ::1] X, const floating[::1] bias):
    """In place X = 1 / (1 + exp(-(X + bias))): the kernel's own sigmoid (for tests)."""
    if X.shape[1] != bias.shape[0]:
        raise ValueError(f"bias has {bias.shape[0]} entries for {X.shape[1]} columns")
    if X.shape[0] and X.shape[1]:
        add_bias_sigmoid_rows(&X[0, 0], 0, X.shape[0], X.shape[1], &bias[0])


def drelu_parameter_gradient(double[:, ::1] Z, const double[::1] c, double[:, ::1] state,
                             const double[::1] row_weights):
    """The dReLU parameters' gradient as training takes it (for tests), float64:
    sum_r w_r dGamma(Z[r] + c) / d(gamma+, gamma-, theta+, theta-), shape (4, n_hidden)."""
    cdef Units u
    n_hidden = Z.shape[1]
    if (c.shape[0] != n_hidden or state.shape[0] != DRELU_STATE_ROWS
            or state.shape[1] != n_hidden or row_weights.shape[0] != Z.shape[0]):
        raise ValueError("drelu_parameter_gradient: Z (rows, n), c (n,), state (8, n) and "
                         "row_weights (rows,) must agree")
    u.hidden_kind = HIDDEN_DRELU
    u.n_hidden = n_hidden
    u.potential = &state[0, 0]
    grad = np.empty((DRELU_PARAMETER_ROWS, n_hidden))
    cdef double[:, ::1] out = grad
    drelu_potential_gradient(&u, &Z[0, 0], &c[0], &row_weights[0], Z.shape[0], &out[0, 0])
    return grad


def softplus(const double[::1] x):
    """log(1 + exp(x)) of a float64 vector (see rbm_softplus in _fastmath.h)."""
    out = np.empty(x.shape[0])
    cdef double[::1] result = out
    if x.shape[0]:
        with nogil:
            rbm_softplus_array(&x[0], x.shape[0], &result[0])
    return out


cdef bint _gibbs_chain_steps(const Units* u, floating* V, floating* H, floating* P,
                             floating* Z, Py_ssize_t rows, const floating* W,
                             const floating* b, const floating* c, int n_steps,
                             const floating* clamped, const unsigned char* clamp, bitgen_t** rng,
                             float* scratch, int n_threads, double* stats,
                             bint watch) noexcept nogil:
    """P = E[h | V]; then n_steps times: H ~ p(h | .), V = s(v) ~ p(v | H), V[clamp] =
    clamped[clamp] (where clamp is not NULL), P = E[h | V].  Returns whether
    Ctrl-C stopped it between two steps (``interrupted``, where ``watch``).

    Real-valued hidden units sample from the field W s(v), kept in Z (rows
    x n_hidden; unused for Bernoulli units); dReLU units keep their rows'
    statistics in stats (NULL for the other types).
    """
    cdef int step
    cdef Py_ssize_t nv = u.n_visible, nh = u.n_hidden
    cdef Interrupts interrupts
    start_watching(&interrupts, watch)
    _gibbs_hidden_means(u, V, Z, P, rows, W, c, n_threads, stats)
    for step in range(n_steps):
        if interrupted(&interrupts):
            return True
        sample_hidden(u, P, Z, c, H, rows, rng, scratch, n_threads, stats)
        visible_field(H, rows, W, nv, nh, V, n_threads)
        sample_visible(u, V, rows, b, rng, scratch, n_threads)
        if clamp != NULL:
            clamp_visible(V, clamped, clamp, rows * nv)
        _gibbs_hidden_means(u, V, Z, P, rows, W, c, n_threads, stats)
    return False


cdef void _gibbs_hidden_means(const Units* u, const floating* V, floating* Z, floating* P,
                              Py_ssize_t rows, const floating* W, const floating* c,
                              int n_threads, double* stats) noexcept nogil:
    """P = E[h | V]; for real-valued hidden units also Z = W s(v), the field to sample
    from (and dReLU units' statistics in stats, where not NULL)."""
    cdef Py_ssize_t nv = u.n_visible, nh = u.n_hidden
    hidden_field(V, rows, W, nv, nh, P, n_threads)
    if u.hidden_kind != HIDDEN_BERNOULLI:
        memcpy(Z, P, rows * nh * sizeof(floating))
    hidden_probabilities(u, P, rows, c, n_threads, stats)


def gibbs_chains(params, visible, V, H, P, int n_steps, streams, int n_threads,
                 clamp=None):
    """Advance chains ``n_steps`` full block-Gibbs steps: h ~ p(h|v), v ~ p(v|h).

    V (rows, n_visible) IN/OUT visible rows s(v); H (rows, n_hidden) OUT the
    last hidden samples; P (rows, n_hidden) OUT p(h = 1 | final V).  With
    ``n_steps == 0`` only ``P`` is computed.  clamp (rows, n_visible) uint8
    IN, or None: entries of V where it is nonzero keep their values (clamped
    block Gibbs: the chains sample p(free entries | clamped ones); a
    categorical feature must be clamped over its whole one-hot block).  Rows
    are chunked over ``streams``, so results do not depend on the thread
    count; clamping draws the same random numbers as not clamping.
    """
    cdef Units u
    _check_threads(n_threads)
    if n_steps < 0:
        raise ValueError(f"n_steps must be at least 0, got {n_steps}")
    W, b, c = _check_params(params, False)
    n_hidden, n_visible = W.shape
    kind, vstate, groups, _ = _check_visible(visible, W.dtype, n_visible, False)
    hidden = _check_hidden(params, W.dtype, n_hidden, False)
    arrays = SimpleNamespace(V=V, H=H, P=P, clamp=clamp)
    V = _array(arrays, "gibbs_chains", "V", W.dtype, (None, n_visible), True)
    cdef Py_ssize_t rows = V.shape[0]
    H = _array(arrays, "gibbs_chains", "H", W.dtype, (rows, n_hidden), True)
    P = _array(arrays, "gibbs_chains", "P", W.dtype, (rows, n_hidden), True)
    clamp = _array(arrays, "gibbs_chains", "clamp", np.uint8, (rows, n_visible),
                   optional=True)
    # The clamped values: V as given (the chains overwrite V itself).
    clamped = None if clamp is None else V.copy()
    _fill_units(&u, kind, n_visible, n_hidden, vstate, groups, hidden)
    _first_call_checks()
    scratch = np.empty((n_streams_for(rows) * CHUNK, max(n_visible, n_hidden)),
                       dtype=np.float32)
    cdef void* pV = _data(V)
    cdef void* pH = _data(H)
    cdef void* pP = _data(P)
    # The fields of real-valued hidden units (Bernoulli units sample from P).
    fields = np.empty((rows if hidden[0] != HIDDEN_BERNOULLI else 0, n_hidden), dtype=W.dtype)
    cdef void* pZ = _data(fields)
    # dReLU rows' statistics, kept from the means for the sampler (None: NULL).
    stats = (np.empty((rows, DRELU_STATISTICS * n_hidden)) if hidden[0] == HIDDEN_DRELU
             else None)
    cdef double* pstats = <double*> _data(stats)
    cdef void* pW = _data(W)
    cdef void* pb = _data(b)
    cdef void* pc = _data(c)
    cdef void* pclamped = _data(clamped)
    cdef const unsigned char* pclamp = <const unsigned char*> _data(clamp)
    cdef float* pscratch = <float*> _data(scratch)
    cdef bitgen_t** rng = stream_pointers(streams, n_streams_for(rows), "streams")
    cdef bint single = W.dtype == np.float32
    cdef bint watch = watches_interrupts(), stopped
    try:
        with single_threaded_blas(), nogil:
            if single:
                stopped = _gibbs_chain_steps(
                    &u, <float*> pV, <float*> pH, <float*> pP, <float*> pZ, rows,
                    <const float*> pW, <const float*> pb, <const float*> pc, n_steps,
                    <const float*> pclamped, pclamp, rng, pscratch, n_threads, pstats, watch)
            else:
                stopped = _gibbs_chain_steps(
                    &u, <double*> pV, <double*> pH, <double*> pP, <double*> pZ, rows,
                    <const double*> pW, <const double*> pb, <const double*> pc, n_steps,
                    <const double*> pclamped, pclamp, rng, pscratch, n_threads, pstats, watch)
    finally:
        free(rng)
    if stopped:
        raise_pending_interrupt()
