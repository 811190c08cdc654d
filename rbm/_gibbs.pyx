# cython: language_level=3
"""Block-Gibbs kernel for restricted Boltzmann machines.

Everything here is array-in / array-out on C-contiguous typed memoryviews,
validates nothing (the Python side did), and runs without the GIL.

Conventions
-----------
W : (n_hidden, n_visible)   weights, ``components_``
b : (n_visible,)            visible biases
c : (n_hidden,)             hidden biases
Energy  E(v, h) = -b.v - c.h - h.W.v

Randomness comes from NumPy BitGenerators, one *stream per fixed-size chunk
of chain rows* (``CHUNK_ROWS``).  Chunk ``j`` always uses stream ``j``
whatever thread runs it, and no reduction crosses chunks in a
thread-dependent order, so results are bit-identical for any thread count.

Visible rows hold the statistic ``s(v)`` that couples to the hidden layer,
so every product and gradient is the same for every visible type:

    Bernoulli     s(v) = v                   E = -b.v - c.h - h.W.s(v)
    categorical   s(v) = one-hot(v)          (same energy, one block of
                                              columns per feature)
    Gaussian      s(v) = v / sigma**2        E = sum((v - b)**2 / (2 sigma**2))
                                                 - c.h - h.W.s(v)

The visible type plugs in through ``_sample_visible_rows``, which turns the
visible field ``h.W`` into sampled rows of ``s(v)``, and, for the Gaussian's
learned sigma and the categorical gauge, two small steps of the training
loop; nothing else in the kernel knows which type it is.  A type's extra
parameters travel in ``visible_state`` (Gaussian: the rows ``GAUSSIAN_*``,
each of length n_visible) and ``groups`` (categorical: the column offsets of
each feature's block, length n_features + 1).

Matrix products go through BLAS (NumPy's own OpenBLAS when it can be found,
see ``use_numpy_blas``; otherwise SciPy's), except in small models (at most
``_SMALL_MODEL_WEIGHTS`` weights), where a BLAS call's fixed cost dominates,
and in the products with one-hot (categorical) visible rows at any size:
there the products are sums of the weight rows selected by the nonzero
states.  Sampling runs on one thread between BLAS-threaded products (see
``_MIN_PARALLEL_ELEMENTS``).  AIS (``ais_log_weights``) reuses parallel
tempering's tempered Gibbs steps.
"""

cimport cython
from cython cimport floating
from cython.parallel cimport prange
from cpython.pycapsule cimport PyCapsule_GetPointer
from libc.stdlib cimport malloc, free
from libc.string cimport memcpy, memset
from numpy.random cimport bitgen_t
from libc.stdint cimport uint64_t
from libc.math cimport log, sqrt, cos, sin, exp, M_PI
from cpython.pyport cimport PY_SSIZE_T_MAX
from libc.stdint cimport int64_t
from scipy.linalg.cython_blas cimport sgemm, dgemm

import numpy as np


cdef extern from "_fastmath.h" nogil:
    void rbm_bias_sigmoid_rows_d(double* X, Py_ssize_t r0, Py_ssize_t r1, Py_ssize_t n,
                                 const double* bias)
    void rbm_bias_sigmoid_rows_f(float* X, Py_ssize_t r0, Py_ssize_t r1, Py_ssize_t n,
                                 const float* bias)
    void rbm_bernoulli_d(const double* P, const float* U, double* out, Py_ssize_t count)
    void rbm_bernoulli_f(const float* P, const float* U, float* out, Py_ssize_t count)
    void rbm_combine_rows_d(const Py_ssize_t* idx, const double* coef, Py_ssize_t n_active,
                            const double* M, Py_ssize_t n, double* out, int accumulate)
    void rbm_combine_rows_f(const Py_ssize_t* idx, const float* coef, Py_ssize_t n_active,
                            const float* M, Py_ssize_t n, float* out, int accumulate)
    void rbm_row_dots_d(const double* X, Py_ssize_t rows, Py_ssize_t n, const double* v,
                        double* out)
    void rbm_row_dots_f(const float* X, Py_ssize_t rows, Py_ssize_t n, const float* v,
                        float* out)
    void rbm_block_softmax_weights_d(double* row, const double* b, const Py_ssize_t* groups,
                                     Py_ssize_t n_groups)
    void rbm_block_softmax_weights_f(float* row, const float* b, const Py_ssize_t* groups,
                                     Py_ssize_t n_groups)
    void rbm_softplus_gap(double* Z, Py_ssize_t count, double beta, double beta_prev)
    void rbm_softplus_array(const double* x, Py_ssize_t count, double* out)
    void rbm_block_categorical_draw_d(double* row, const Py_ssize_t* groups,
                                      Py_ssize_t n_groups, const float* u)
    void rbm_block_categorical_draw_f(float* row, const Py_ssize_t* groups,
                                      Py_ssize_t n_groups, const float* u)
    void rbm_transpose_d(const double* src, Py_ssize_t rows, Py_ssize_t cols, double* dst)
    void rbm_transpose_f(const float* src, Py_ssize_t rows, Py_ssize_t cols, float* dst)
    void rbm_sparse_rows_product_d(const double* X, Py_ssize_t rows, Py_ssize_t k,
                                   const double* M, Py_ssize_t n, double* out,
                                   Py_ssize_t* idx, double* coef)
    void rbm_sparse_rows_product_f(const float* X, Py_ssize_t rows, Py_ssize_t k,
                                   const float* M, Py_ssize_t n, float* out,
                                   Py_ssize_t* idx, float* coef)
    void rbm_sparse_outer_update_d(const double* VT, const double* G, Py_ssize_t rows,
                                   Py_ssize_t n_v, Py_ssize_t n_h, double alpha, double* WT,
                                   Py_ssize_t* idx, double* coef)
    void rbm_sparse_outer_update_f(const float* VT, const float* G, Py_ssize_t rows,
                                   Py_ssize_t n_v, Py_ssize_t n_h, float alpha, float* WT,
                                   Py_ssize_t* idx, float* coef)
    int rbm_vector_compaction(int enabled)
    int rbm_vector_sampling(int enabled)
    void rbm_bernoulli_sfc64x8_f(const float* P, float* out, Py_ssize_t count,
                                 uint64_t** states, int n_lanes)
    void rbm_bernoulli_sfc64x8_d(const double* P, double* out, Py_ssize_t count,
                                 uint64_t** states, int n_lanes)
    void rbm_prefetch_rows(const void* base, const Py_ssize_t* rows, Py_ssize_t n_rows,
                           Py_ssize_t row_bytes)

#: Per-batch decay of the running hidden activation of the sparsity penalty.
cdef double SPARSITY_DECAY = 0.95

#: CSR column indices as SciPy stores them (int32 unless the matrix needs
#: int64), read in place so a large sparse input is never copied.
ctypedef fused csr_index:
    int
    Py_ssize_t

#: Rows of chains that share one random stream.  Part of the reproducibility
#: contract: changing it changes every sampled result.
cdef Py_ssize_t _CHUNK = 16
CHUNK_ROWS = _CHUNK
# Layer updates with fewer elements than this run on one thread; by default
# all of them.  Measured on 2 cores: an OpenMP team between OpenBLAS-threaded
# products fights OpenBLAS's spinning workers and makes training 1.7x slower
# at 500 x 2000, batch 1000, and 10x slower at 784 x 500, batch 100, while the
# elementwise work it would split is a few percent of the products.  The
# chunked streams keep results independent of the team size, so a design that
# gives the team single-threaded BLAS can lower this (tests do, to check it).
cdef Py_ssize_t _MIN_PARALLEL_ELEMENTS = PY_SSIZE_T_MAX
# Models with at most this many weights, trained on at most this many stacked
# rows (batch + chains), use the small-model products (sums of selected rows
# instead of BLAS calls, see _fastmath.h): there the fixed cost of a BLAS call
# dominates, and Bernoulli states are 0/1 anyway.  Measured at 64 x 64: 1.2x
# faster at batch 10 (float64 and float32); at batch 100 (200 rows) BLAS is
# 1.25-1.35x faster in both.
cdef Py_ssize_t _SMALL_MODEL_WEIGHTS = 65536
cdef Py_ssize_t _SMALL_MODEL_ROWS = 128

#: Visible unit types known to the kernel.
cdef enum:
    _BERNOULLI = 0
    _GAUSSIAN = 1
    _CATEGORICAL = 2
VISIBLE_BERNOULLI = _BERNOULLI
VISIBLE_GAUSSIAN = _GAUSSIAN
VISIBLE_CATEGORICAL = _CATEGORICAL
#: Rows of the Gaussian visible state (``visible_state`` argument).
cdef enum:
    GAUSSIAN_SIGMA_ROW = 0
    GAUSSIAN_VELOCITY_ROW = 1
    GAUSSIAN_SIGMA_MIN_ROW = 2
    GAUSSIAN_SIGMA_MAX_ROW = 3
    GAUSSIAN_STATE_ROWS = 4
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


# --------------------------------------------------------------------------
# BLAS (row-major wrappers around column-major Fortran BLAS)
# --------------------------------------------------------------------------

cdef extern from "_fastmath.h" nogil:
    void* rbm_dlopen(const char* path)
    void* rbm_dlsym(void* handle, const char* name)

# Fortran ?gemm with 64-bit integers (ILP64), as NumPy's bundled OpenBLAS
# exports it (scipy_sgemm_64_).  Hidden string-length arguments are not
# read by OpenBLAS, as with SciPy's cython_blas.
ctypedef void (*sgemm64_t)(const char* transa, const char* transb, const int64_t* m,
                           const int64_t* n, const int64_t* k, const float* alpha,
                           const float* a, const int64_t* lda, const float* b,
                           const int64_t* ldb, const float* beta, float* c,
                           const int64_t* ldc) noexcept nogil
ctypedef void (*dgemm64_t)(const char* transa, const char* transb, const int64_t* m,
                           const int64_t* n, const int64_t* k, const double* alpha,
                           const double* a, const int64_t* lda, const double* b,
                           const int64_t* ldb, const double* beta, double* c,
                           const int64_t* ldc) noexcept nogil
cdef sgemm64_t _numpy_sgemm = NULL
cdef dgemm64_t _numpy_dgemm = NULL
cdef object _numpy_blas_path = None


def _find_numpy_blas():
    """(sgemm, dgemm) addresses in the OpenBLAS that NumPy uses, or None.

    Training spends most of its time in GEMM, and NumPy's bundled OpenBLAS
    is newer than SciPy's and measured 5-9% faster at the kernel's shapes
    here (784 x 500, batch 100, float32, 1 and 2 threads).  Sharing NumPy's
    library also means one BLAS thread team, not two spinning side by side.
    The library is found by threadpoolctl (already loaded with NumPy) and
    its ILP64 symbols are looked up; anything unexpected returns None.
    """
    from threadpoolctl import threadpool_info
    numpy_dir = __import__("os").path.dirname(np.__file__)
    numpy_root = __import__("os").path.dirname(numpy_dir)
    for info in threadpool_info():
        path = info.get("filepath") or ""
        if info.get("internal_api") != "openblas" or not path.startswith(numpy_root):
            continue
        if "numpy" not in path[len(numpy_root):]:
            continue
        handle = rbm_dlopen(path.encode())
        if handle == NULL:
            return None
        for prefix in (b"scipy_", b""):
            s_address = rbm_dlsym(handle, prefix + b"sgemm_64_")
            d_address = rbm_dlsym(handle, prefix + b"dgemm_64_")
            if s_address != NULL and d_address != NULL:
                return path, <Py_ssize_t> s_address, <Py_ssize_t> d_address
        return None
    return None


def use_numpy_blas(enabled=None):
    """Whether products call NumPy's OpenBLAS (else SciPy's), optionally switching.

    ``enabled=True`` looks NumPy's library up (it stays off if not found),
    ``False`` forces SciPy's ``cython_blas``.  Returns the path of the
    library in use before the call, or None for SciPy's.  Both give the
    same results to rounding; each is reproducible for any thread count.
    """
    global _numpy_sgemm, _numpy_dgemm, _numpy_blas_path
    previous = _numpy_blas_path
    if enabled:
        found = _find_numpy_blas()
        if found is not None:
            _numpy_blas_path = found[0]
            _numpy_sgemm = <sgemm64_t> <Py_ssize_t> found[1]
            _numpy_dgemm = <dgemm64_t> <Py_ssize_t> found[2]
    elif enabled is not None:
        _numpy_blas_path = None
        _numpy_sgemm = NULL
        _numpy_dgemm = NULL
    return previous


cdef void _gemm(char transa, char transb, int m, int n, int k, floating alpha,
                const floating* a, int lda, const floating* b, int ldb,
                floating beta, floating* c, int ldc) noexcept nogil:
    """Column-major C = alpha op(A) op(B) + beta C."""
    cdef int64_t m64 = m, n64 = n, k64 = k, lda64 = lda, ldb64 = ldb, ldc64 = ldc
    if floating is float:
        if _numpy_sgemm != NULL:
            _numpy_sgemm(&transa, &transb, &m64, &n64, &k64, &alpha, a, &lda64,
                         b, &ldb64, &beta, c, &ldc64)
        else:
            sgemm(&transa, &transb, &m, &n, &k, &alpha, <float*> a, &lda,
                  <float*> b, &ldb, &beta, c, &ldc)
    else:
        if _numpy_dgemm != NULL:
            _numpy_dgemm(&transa, &transb, &m64, &n64, &k64, &alpha, a, &lda64,
                         b, &ldb64, &beta, c, &ldc64)
        else:
            dgemm(&transa, &transb, &m, &n, &k, &alpha, <double*> a, &lda,
                  <double*> b, &ldb, &beta, c, &ldc)


use_numpy_blas(True)


cdef inline void _hidden_field(const floating* V, Py_ssize_t rows,
                               const floating* W, Py_ssize_t n_visible,
                               Py_ssize_t n_hidden,
                               floating* H) noexcept nogil:
    """H = V @ W.T            (rows, n_hidden), biases not added."""
    _gemm(c'T', c'N', <int> n_hidden, <int> rows, <int> n_visible, <floating> 1.0,
          W, <int> n_visible, V, <int> n_visible, <floating> 0.0, H, <int> n_hidden)


cdef inline void _visible_field(const floating* H, Py_ssize_t rows,
                                const floating* W, Py_ssize_t n_visible,
                                Py_ssize_t n_hidden,
                                floating* A) noexcept nogil:
    """A = H @ W              (rows, n_visible), biases not added."""
    _gemm(c'N', c'N', <int> n_visible, <int> rows, <int> n_hidden, <floating> 1.0,
          W, <int> n_visible, H, <int> n_hidden, <floating> 0.0, A, <int> n_visible)


cdef inline void _weight_update(const floating* G, const floating* V, Py_ssize_t rows,
                                Py_ssize_t n_visible, Py_ssize_t n_hidden,
                                floating alpha, floating beta,
                                floating* W) noexcept nogil:
    """W = beta * W + alpha * G.T @ V     (G: rows x n_hidden, V: rows x n_visible)."""
    _gemm(c'N', c'T', <int> n_visible, <int> n_hidden, <int> rows, alpha,
          V, <int> n_visible, G, <int> n_hidden, beta, W, <int> n_visible)


cdef inline void _sparse_rows_product(const floating* X, Py_ssize_t rows, Py_ssize_t k,
                                      const floating* M, Py_ssize_t n, floating* out,
                                      Py_ssize_t* idx, floating* coef) noexcept nogil:
    """out = X @ M as sums of the rows of M selected by the nonzeros of X.

    idx, coef: scratch of k entries.
    """
    if floating is float:
        rbm_sparse_rows_product_f(X, rows, k, M, n, out, idx, coef)
    else:
        rbm_sparse_rows_product_d(X, rows, k, M, n, out, idx, coef)


cdef inline void _hidden_field_of(const floating* V, Py_ssize_t rows, const floating* W,
                                  const floating* WT, Py_ssize_t n_visible,
                                  Py_ssize_t n_hidden, floating* H, Py_ssize_t* idx,
                                  floating* coef) noexcept nogil:
    """H = V @ W.T; from rows of the copy WT = W.T when one is kept (small models)."""
    if WT != NULL:
        _sparse_rows_product(V, rows, n_visible, WT, n_hidden, H, idx, coef)
    else:
        _hidden_field(V, rows, W, n_visible, n_hidden, H)


cdef inline void _visible_field_of(const floating* Hs, Py_ssize_t rows, const floating* W,
                                   const floating* WT, bint small, Py_ssize_t n_visible,
                                   Py_ssize_t n_hidden, floating* A, Py_ssize_t* idx,
                                   floating* coef) noexcept nogil:
    """A = Hs @ W; as sums of rows of W for small models, else by BLAS from
    the copy WT = W.T when one is kept (then W may be stale)."""
    if small:
        _sparse_rows_product(Hs, rows, n_hidden, W, n_visible, A, idx, coef)
    elif WT != NULL:
        # Column-major, WT is the n_hidden x n_visible matrix W.
        _gemm(c'T', c'N', <int> n_visible, <int> rows, <int> n_hidden, <floating> 1.0,
              WT, <int> n_hidden, Hs, <int> n_hidden, <floating> 0.0, A, <int> n_visible)
    else:
        _visible_field(Hs, rows, W, n_visible, n_hidden, A)


cdef void _transpose(const floating* src, Py_ssize_t rows, Py_ssize_t cols,
                     floating* dst) noexcept nogil:
    """dst = src.T     (src: rows x cols)"""
    if floating is float:
        rbm_transpose_f(src, rows, cols, dst)
    else:
        rbm_transpose_d(src, rows, cols, dst)


cdef inline void _sparse_outer_update(const floating* VT, const floating* G, Py_ssize_t rows,
                                      Py_ssize_t n_visible, Py_ssize_t n_hidden,
                                      floating alpha, floating* WT, Py_ssize_t* idx,
                                      floating* coef) noexcept nogil:
    """WT += alpha * VT @ G, skipping the zeros of VT = V.T (see _fastmath.h)."""
    if floating is float:
        rbm_sparse_outer_update_f(VT, G, rows, n_visible, n_hidden, alpha, WT, idx, coef)
    else:
        rbm_sparse_outer_update_d(VT, G, rows, n_visible, n_hidden, alpha, WT, idx, coef)


cdef void _transposed_weight_update(const floating* G, const floating* V, Py_ssize_t rows,
                                    Py_ssize_t n_visible, Py_ssize_t n_hidden,
                                    floating lr, floating momentum, floating weight_decay,
                                    floating* WT, floating* velocity_T, floating* VT,
                                    Py_ssize_t* idx, floating* coef) noexcept nogil:
    """The weight step of train_minibatches on the transposed copy WT.

    velocity = momentum * velocity + lr * (G.T @ V - weight_decay * W);  W += velocity
    (without momentum the velocity is not stored: W += lr * (G.T @ V - weight_decay * W)).
    VT: scratch of n_visible x rows.  V is read through its transpose, so
    the compaction of each column reads contiguous memory (and vectorises).
    """
    cdef Py_ssize_t i, size = n_visible * n_hidden
    cdef floating* target = velocity_T if momentum != 0.0 else WT
    _transpose(V, rows, n_visible, VT)
    if momentum != 0.0:
        for i in range(size):
            velocity_T[i] = momentum * velocity_T[i] - lr * weight_decay * WT[i]
    elif weight_decay != 0.0:
        for i in range(size):
            WT[i] *= 1.0 - lr * weight_decay
    _sparse_outer_update(VT, G, rows, n_visible, n_hidden, lr, target, idx, coef)
    if momentum != 0.0:
        for i in range(size):
            WT[i] += velocity_T[i]


# --------------------------------------------------------------------------
# Elementwise pieces
# --------------------------------------------------------------------------

cdef inline uint64_t _sfc64_next(uint64_t* s) noexcept nogil:
    """One step of SFC64 on its four words, exactly as NumPy's SFC64.random_raw."""
    cdef uint64_t tmp = s[0] + s[1] + s[3]
    s[3] += 1
    s[0] = s[1] ^ (s[1] >> 11)
    s[1] = s[2] + (s[2] << 3)
    s[2] = ((s[2] << 24) | (s[2] >> 40)) + tmp
    return tmp


# Whether bitgen_t.state of an SFC64 starts with its four state words, so the
# kernel may step it inline (half the cost of a call through next_uint64).
# NumPy does not promise that layout; _check_inline_sfc64 verifies it at import
# against random_raw and the kernel falls back to next_uint64 otherwise.  Both
# paths draw the same numbers.
cdef bint _inline_sfc64 = False


cdef inline void _uniform_fill(bitgen_t* rng, Py_ssize_t n, float* out) noexcept nogil:
    """out[:n] = uniform floats in [0, 1), two from each 64-bit draw.

    Single precision for every model dtype: the same stream then gives the
    same decisions to float32 and float64 models, and 24 bits of resolution
    bias a Bernoulli draw by at most 2**-24.
    """
    cdef Py_ssize_t i
    cdef uint64_t x
    cdef uint64_t words[4]
    cdef uint64_t* state = <uint64_t*> rng.state
    cdef float scale = 1.0 / 16777216.0  # 2**-24
    if _inline_sfc64:
        memcpy(words, state, sizeof(words))  # a local copy stays in registers
        for i in range(0, n - 1, 2):
            x = _sfc64_next(words)
            out[i] = <float> (x >> 40) * scale
            out[i + 1] = <float> ((x >> 8) & 0xFFFFFF) * scale
        if n % 2:
            x = _sfc64_next(words)
            out[n - 1] = <float> (x >> 40) * scale
        memcpy(state, words, sizeof(words))
        return
    for i in range(0, n - 1, 2):
        x = rng.next_uint64(rng.state)
        out[i] = <float> (x >> 40) * scale
        out[i + 1] = <float> ((x >> 8) & 0xFFFFFF) * scale
    if n % 2:
        x = rng.next_uint64(rng.state)
        out[n - 1] = <float> (x >> 40) * scale


cdef inline void _uniform_fill_pair(bitgen_t* rng_a, float* out_a, bitgen_t* rng_b,
                                    float* out_b, Py_ssize_t n) noexcept nogil:
    """_uniform_fill(rng_a, n, out_a) and _uniform_fill(rng_b, n, out_b), the same numbers.

    The two streams are stepped in one loop: each SFC64 step is a chain of
    dependent operations, and two independent chains keep the core busy
    (a third of the sampling time at 784 x 500, batch 1000).
    """
    cdef Py_ssize_t i
    cdef uint64_t x, y
    cdef uint64_t a[4]
    cdef uint64_t b[4]
    cdef float scale = 1.0 / 16777216.0  # 2**-24
    if not _inline_sfc64:
        _uniform_fill(rng_a, n, out_a)
        _uniform_fill(rng_b, n, out_b)
        return
    memcpy(a, <uint64_t*> rng_a.state, sizeof(a))
    memcpy(b, <uint64_t*> rng_b.state, sizeof(b))
    for i in range(0, n - 1, 2):
        x = _sfc64_next(a)
        y = _sfc64_next(b)
        out_a[i] = <float> (x >> 40) * scale
        out_a[i + 1] = <float> ((x >> 8) & 0xFFFFFF) * scale
        out_b[i] = <float> (y >> 40) * scale
        out_b[i + 1] = <float> ((y >> 8) & 0xFFFFFF) * scale
    if n % 2:
        out_a[n - 1] = <float> (_sfc64_next(a) >> 40) * scale
        out_b[n - 1] = <float> (_sfc64_next(b) >> 40) * scale
    memcpy(<uint64_t*> rng_a.state, a, sizeof(a))
    memcpy(<uint64_t*> rng_b.state, b, sizeof(b))


def _check_inline_sfc64():
    """Enable the inline SFC64 step if it reproduces NumPy's SFC64 here."""
    global _inline_sfc64
    reference = np.random.SFC64(12345).random_raw(64)
    bitgen = np.random.SFC64(12345)
    cdef bitgen_t* rng = <bitgen_t*> PyCapsule_GetPointer(bitgen.capsule, "BitGenerator")
    cdef uint64_t[::1] drawn = np.empty(64, dtype=np.uint64)
    cdef Py_ssize_t i
    for i in range(64):
        drawn[i] = _sfc64_next(<uint64_t*> rng.state)
    after = bitgen.random_raw(1)[0]
    _inline_sfc64 = (np.array_equal(np.asarray(drawn), reference)
                     and after == np.random.SFC64(12345).random_raw(65)[64])
    return bool(_inline_sfc64)


ctypedef int (*avx512_switch_t)(int) noexcept nogil


cdef object _switch_avx512_path(avx512_switch_t switch, enabled):
    """Whether an AVX-512 path is on, switching it first unless enabled is None."""
    previous = bool(switch(-1))
    if enabled is not None:
        switch(1 if enabled else 0)
    return previous


rbm_vector_compaction(1)


def vector_compaction(enabled=None):
    """Whether the row-sum products use AVX-512, optionally switching it.

    Where the CPU has AVX-512, the compaction (the nonzeros of a row and
    their positions) runs 8 entries per instruction instead of one, and the
    selected rows are summed 8 vectors of columns at a time instead of 4;
    both ways give the same entries and the same sums.  ``enabled=False``
    forces the other loops and ``True`` turns the AVX-512 ones back on
    where available (for tests).  Returns the setting before the call.
    """
    return _switch_avx512_path(rbm_vector_compaction, enabled)


rbm_vector_sampling(1)


def vector_sampling(enabled=None):
    """Whether Bernoulli sampling steps 8 random streams at once with AVX-512, optionally switching it.

    Each chunk of rows has its own stream; where the CPU has AVX-512 and
    sampling runs on one thread (always, unless the parallel threshold is
    lowered), whole chunks are sampled 8 at a time, one stream per 64-bit
    lane, when there are at least 2 of them; else one or two chunks at a
    time.  Both draw the same numbers.  The vector path also needs SFC64's
    state stepped inline (``inline_sfc64_enabled``).  ``enabled=False``
    forces the scalar loop and ``True`` turns the vector one back on where
    available (for tests).  Returns the setting before the call.
    """
    return _switch_avx512_path(rbm_vector_sampling, enabled)


def inline_sfc64_enabled(enabled=None):
    """Whether the kernel steps SFC64 inline, optionally switching it.

    ``enabled=False`` forces the portable next_uint64 path and ``True``
    re-enables the inline step if it passes its check (for tests).  Returns
    the setting before the call.
    """
    global _inline_sfc64
    previous = bool(_inline_sfc64)
    if enabled:
        _check_inline_sfc64()
    elif enabled is not None:
        _inline_sfc64 = False
    return previous


_check_inline_sfc64()


cdef void _add_bias_sigmoid_rows(floating* X, Py_ssize_t r0, Py_ssize_t r1,
                                 Py_ssize_t n, const floating* bias) noexcept nogil:
    """X[r0:r1] = sigmoid(X[r0:r1] + bias)"""
    if floating is float:
        rbm_bias_sigmoid_rows_f(X, r0, r1, n, bias)
    else:
        rbm_bias_sigmoid_rows_d(X, r0, r1, n, bias)


cdef void _bernoulli_rows(const floating* P, floating* out, Py_ssize_t r0,
                          Py_ssize_t r1, Py_ssize_t n, bitgen_t* rng,
                          float* scratch) noexcept nogil:
    """out[r0:r1] = U < P[r0:r1], U uniform from rng  (P and out may alias)."""
    cdef Py_ssize_t count = (r1 - r0) * n
    _uniform_fill(rng, count, scratch)
    if floating is float:
        rbm_bernoulli_f(P + r0 * n, scratch, out + r0 * n, count)
    else:
        rbm_bernoulli_d(P + r0 * n, scratch, out + r0 * n, count)


cdef inline uint64_t _next_uint64(bitgen_t* rng) noexcept nogil:
    """One 64-bit draw (the same number inline or through next_uint64)."""
    if _inline_sfc64:
        return _sfc64_next(<uint64_t*> rng.state)
    return rng.next_uint64(rng.state)


cdef void _normal_fill(bitgen_t* rng, Py_ssize_t n, float* out) noexcept nogil:
    """out[:n] = standard normal draws, by Box-Muller on 53-bit uniforms.

    Computed in double precision (so the tails reach 8.5 standard
    deviations), stored as float like the uniforms, for every model dtype.
    """
    cdef Py_ssize_t i
    cdef double u1, u2, radius
    cdef double scale = 1.0 / 9007199254740992.0  # 2**-53
    for i in range(0, n, 2):
        u1 = <double> ((_next_uint64(rng) >> 11) + 1) * scale  # (0, 1]
        u2 = <double> (_next_uint64(rng) >> 11) * scale
        radius = sqrt(-2.0 * log(u1))
        out[i] = <float> (radius * cos(2.0 * M_PI * u2))
        if i + 1 < n:
            out[i + 1] = <float> (radius * sin(2.0 * M_PI * u2))


cdef void _gaussian_rows(floating* A, Py_ssize_t r0, Py_ssize_t r1, Py_ssize_t n_visible,
                         const floating* b, const floating* sigma, bitgen_t* rng,
                         float* scratch) noexcept nogil:
    """A[r0:r1] = s(v) = v / sigma**2 for v ~ N(A + b, sigma**2), in place."""
    cdef Py_ssize_t r, i
    cdef floating* row
    _normal_fill(rng, (r1 - r0) * n_visible, scratch)
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
    _uniform_fill(rng, (r1 - r0) * n_groups, scratch)
    for r in range(r0, r1):
        row = A + r * n_visible
        if floating is float:
            rbm_block_softmax_weights_f(row, b, groups, n_groups)
            rbm_block_categorical_draw_f(row, groups, n_groups, scratch + (r - r0) * n_groups)
        else:
            rbm_block_softmax_weights_d(row, b, groups, n_groups)
            rbm_block_categorical_draw_d(row, groups, n_groups, scratch + (r - r0) * n_groups)


cdef void _sample_visible_rows(int kind, floating* A, Py_ssize_t r0, Py_ssize_t r1,
                               Py_ssize_t n_visible, const floating* b,
                               const floating* visible_state, const Py_ssize_t* groups,
                               Py_ssize_t n_groups, bitgen_t* rng,
                               float* scratch) noexcept nogil:
    """A[r0:r1] = s(v) for v ~ p(v | visible field A[r0:r1]), in place.

    This is the one place that samples a visible unit type, except that
    ``_sample_visible`` runs Bernoulli rows on one thread through
    ``_bernoulli_chunks`` (8 or 2 chunks at a time: the same numbers, faster).
    """
    if kind == _BERNOULLI:
        _add_bias_sigmoid_rows(A, r0, r1, n_visible, b)
        _bernoulli_rows(A, A, r0, r1, n_visible, rng, scratch)
    elif kind == _GAUSSIAN:
        _gaussian_rows(A, r0, r1, n_visible, b, visible_state + GAUSSIAN_SIGMA_ROW * n_visible,
                       rng, scratch)
    elif kind == _CATEGORICAL:
        _categorical_rows(A, r0, r1, n_visible, b, groups, n_groups, rng, scratch)


# --------------------------------------------------------------------------
# Chunked, threaded layer updates.  Chunk j of rows uses stream j.
# --------------------------------------------------------------------------

cdef inline bint _worth_threads(Py_ssize_t rows, Py_ssize_t n_chunks, Py_ssize_t width,
                                int n_threads) noexcept nogil:
    """Whether a layer update is big enough to pay for waking a thread team.

    Small models run faster serially, and on a loaded machine a parallel
    region waits for every thread of the team to be scheduled.
    """
    return n_threads > 1 and n_chunks > 1 and rows * width >= _MIN_PARALLEL_ELEMENTS


cdef void _hidden_probabilities(floating* H, Py_ssize_t rows, Py_ssize_t n_hidden,
                                const floating* c, int n_threads) noexcept nogil:
    """H = sigmoid(H + c), in place (deterministic, any partition)."""
    cdef Py_ssize_t j, n_chunks = (rows + _CHUNK - 1) // _CHUNK
    cdef Py_ssize_t width = n_hidden
    if not _worth_threads(rows, n_chunks, width, n_threads):
        # Not even a one-thread parallel region: entering one costs about
        # as much as the sigmoids of a small model's batch.
        _add_bias_sigmoid_rows(H, 0, rows, n_hidden, c)
        return
    for j in prange(n_chunks, num_threads=n_threads, schedule='static'):
        _add_bias_sigmoid_rows(H, j * _CHUNK, min((j + 1) * _CHUNK, rows), n_hidden, c)


cdef Py_ssize_t _bernoulli_whole_chunks_x8(const floating* P, floating* out,
                                           Py_ssize_t rows, Py_ssize_t n,
                                           bitgen_t** streams) noexcept nogil:
    """out = U < P for the whole chunks of rows, 8 streams at a time with AVX-512.

    The same numbers as _bernoulli_rows chunk by chunk.  Returns the chunks
    done: none where the 8-stream sampler is off or SFC64 cannot be stepped
    inline.
    """
    cdef Py_ssize_t whole = rows // _CHUNK, j = 0, lanes, l
    cdef uint64_t* states[8]
    if not (_inline_sfc64 and rbm_vector_sampling(-1)) or whole < 2:
        return 0
    while j < whole:
        lanes = min(8, whole - j)
        for l in range(lanes):
            states[l] = <uint64_t*> streams[j + l].state
        if floating is float:
            rbm_bernoulli_sfc64x8_f(P + j * _CHUNK * n, out + j * _CHUNK * n, _CHUNK * n,
                                    states, <int> lanes)
        else:
            rbm_bernoulli_sfc64x8_d(P + j * _CHUNK * n, out + j * _CHUNK * n, _CHUNK * n,
                                    states, <int> lanes)
        j += lanes
    return whole


cdef void _bernoulli_chunks(const floating* P, floating* out, Py_ssize_t rows,
                            Py_ssize_t n, bitgen_t** streams, float* scratch) noexcept nogil:
    """out = U < P for rows chunked over streams, on one thread.

    Whole chunks 8 at a time where the CPU has AVX-512, the rest two at a
    time; the same numbers as _bernoulli_rows chunk by chunk (see
    _uniform_fill_pair).
    """
    cdef Py_ssize_t j = _bernoulli_whole_chunks_x8(P, out, rows, n, streams)
    cdef Py_ssize_t n_chunks = (rows + _CHUNK - 1) // _CHUNK, r0, count
    cdef float* u
    while j < n_chunks:
        r0 = j * _CHUNK
        u = scratch + j * _CHUNK * n
        if j + 1 < n_chunks and r0 + 2 * _CHUNK <= rows:  # two whole chunks
            count = 2 * _CHUNK * n
            _uniform_fill_pair(streams[j], u, streams[j + 1], u + _CHUNK * n, _CHUNK * n)
            j += 2
        else:
            count = (min(r0 + _CHUNK, rows) - r0) * n
            _uniform_fill(streams[j], count, u)
            j += 1
        if floating is float:
            rbm_bernoulli_f(P + r0 * n, u, out + r0 * n, count)
        else:
            rbm_bernoulli_d(P + r0 * n, u, out + r0 * n, count)


cdef void _sample_hidden(const floating* P, floating* Hs, Py_ssize_t rows,
                         Py_ssize_t n_hidden, bitgen_t** streams, float* scratch,
                         int n_threads) noexcept nogil:
    """Hs = U < P, rows chunked over streams."""
    cdef Py_ssize_t j, n_chunks = (rows + _CHUNK - 1) // _CHUNK
    cdef Py_ssize_t width = n_hidden
    if not _worth_threads(rows, n_chunks, width, n_threads):
        _bernoulli_chunks(P, Hs, rows, n_hidden, streams, scratch)
        return
    for j in prange(n_chunks, num_threads=n_threads, schedule='static'):
        _bernoulli_rows(P, Hs, j * _CHUNK, min((j + 1) * _CHUNK, rows), n_hidden,
                        streams[j], scratch + j * _CHUNK * n_hidden)


cdef void _sample_visible(int kind, floating* A, Py_ssize_t rows, Py_ssize_t n_visible,
                          const floating* b, const floating* visible_state,
                          const Py_ssize_t* groups, Py_ssize_t n_groups,
                          bitgen_t** streams, float* scratch,
                          int n_threads) noexcept nogil:
    """A = s(v) for v ~ p(v | visible field A), in place, rows chunked over streams."""
    cdef Py_ssize_t j, n_chunks = (rows + _CHUNK - 1) // _CHUNK
    cdef Py_ssize_t width = n_visible
    if _worth_threads(rows, n_chunks, width, n_threads):
        for j in prange(n_chunks, num_threads=n_threads, schedule='static'):
            _sample_visible_rows(kind, A, j * _CHUNK, min((j + 1) * _CHUNK, rows),
                                 n_visible, b, visible_state, groups, n_groups, streams[j],
                                 scratch + j * _CHUNK * n_visible)
    elif kind == _BERNOULLI:
        _add_bias_sigmoid_rows(A, 0, rows, n_visible, b)
        _bernoulli_chunks(A, A, rows, n_visible, streams, scratch)
    else:
        for j in range(n_chunks):
            _sample_visible_rows(kind, A, j * _CHUNK, min((j + 1) * _CHUNK, rows),
                                 n_visible, b, visible_state, groups, n_groups, streams[j],
                                 scratch + j * _CHUNK * n_visible)


cdef void _gibbs_step_from_hidden(int kind, const floating* Hs, floating* V, floating* P,
                                  Py_ssize_t rows, const floating* W, const floating* b,
                                  const floating* c, const floating* visible_state,
                                  const Py_ssize_t* groups, Py_ssize_t n_groups,
                                  Py_ssize_t n_visible,
                                  Py_ssize_t n_hidden, bitgen_t** streams,
                                  float* scratch, int n_threads) noexcept nogil:
    """V = s(v) for v ~ p(v | Hs);  P = p(h = 1 | V)."""
    _visible_field(Hs, rows, W, n_visible, n_hidden, V)
    _sample_visible(kind, V, rows, n_visible, b, visible_state, groups, n_groups, streams,
                    scratch, n_threads)
    _hidden_field(V, rows, W, n_visible, n_hidden, P)
    _hidden_probabilities(P, rows, n_hidden, c, n_threads)


# --------------------------------------------------------------------------
# Visible-type steps of the training loop
# --------------------------------------------------------------------------

cdef void _divide_by_variance(floating* X, Py_ssize_t r0, Py_ssize_t r1, Py_ssize_t n,
                              const floating* sigma) noexcept nogil:
    """X[r0:r1, i] /= sigma[i]**2: Gaussian visible values to s(v)."""
    cdef Py_ssize_t r, i
    for r in range(r0, r1):
        for i in range(n):
            X[r * n + i] = X[r * n + i] / sigma[i] / sigma[i]


cdef void _multiply_by_variance(floating* X, Py_ssize_t r0, Py_ssize_t r1, Py_ssize_t n,
                                const floating* sigma) noexcept nogil:
    """X[r0:r1, i] *= sigma[i]**2: Gaussian s(v) back to visible values."""
    cdef Py_ssize_t r, i
    for r in range(r0, r1):
        for i in range(n):
            X[r * n + i] = X[r * n + i] * sigma[i] * sigma[i]


cdef void _log_sigma_gradient(const floating* V, const floating* AV, Py_ssize_t B,
                              Py_ssize_t C, Py_ssize_t n, const floating* b,
                              double* grad) noexcept nogil:
    """The log sigma step direction, from data rows [0, B) and chain rows [B, B+C) of V.

    With visible values v and a = p(h | v) @ W, the log-likelihood gradient
    is (Cho, Ilin & Raiko 2011)

        d/d log sigma_i = 2 / sigma_i**2 (<(v_i - b_i)**2 / 2 - v_i a_i>_data - <same>_model)

    and, like every visible-side step, it is taken preconditioned by sigma**2
    (see train_minibatches), which leaves the bracket times 2.
    """
    cdef Py_ssize_t r, i
    cdef double weight, v
    for i in range(n):
        grad[i] = 0.0
    for r in range(B + C):
        weight = 2.0 / B if r < B else -2.0 / C
        for i in range(n):
            v = V[r * n + i]
            grad[i] += weight * (0.5 * (v - b[i]) * (v - b[i]) - v * AV[r * n + i])


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

cdef void _centering_corrections(const floating* VS, const floating* HS, Py_ssize_t B,
                                 Py_ssize_t C, Py_ssize_t n_visible, Py_ssize_t n_hidden,
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
    cdef Py_ssize_t i, rows = B + C
    cdef floating total
    total = _centered_row_dots(HS, rows, n_hidden, lam, row_weights, row_terms)
    _weighted_row_sum(VS, rows, n_visible, row_terms, iota, correction_b)
    for i in range(n_visible):
        correction_b[i] -= total * mu[i]
    total = _centered_row_dots(VS, rows, n_visible, mu, row_weights, row_terms)
    _weighted_row_sum(HS, rows, n_hidden, row_terms, iota, correction_c)
    for i in range(n_hidden):
        correction_c[i] -= total * lam[i]


cdef void _row_dots(const floating* X, Py_ssize_t rows, Py_ssize_t n, const floating* v,
                    floating* out) noexcept nogil:
    """out[r] = X[r] . v for each row of the (rows x n) X."""
    if floating is float:
        rbm_row_dots_f(X, rows, n, v, out)
    else:
        rbm_row_dots_d(X, rows, n, v, out)


cdef floating _centered_row_dots(const floating* X, Py_ssize_t rows, Py_ssize_t n,
                                 const floating* offset, const floating* row_weights,
                                 floating* out) noexcept nogil:
    """out[r] = w_r ((X[r] - offset) . offset); returns the sum of out."""
    cdef Py_ssize_t r
    cdef floating offset_norm, total = 0.0
    _row_dots(offset, 1, n, offset, &offset_norm)
    _row_dots(X, rows, n, offset, out)
    for r in range(rows):
        out[r] = row_weights[r] * (out[r] - offset_norm)
        total = total + out[r]
    return total


cdef void _soft_threshold(floating* X, Py_ssize_t n, floating amount) noexcept nogil:
    """X = sign(X) max(|X| - amount, 0): the proximal step of an L1 penalty."""
    cdef Py_ssize_t i
    for i in range(n):
        if X[i] > amount:
            X[i] -= amount
        elif X[i] < -amount:
            X[i] += amount
        else:
            X[i] = 0.0


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


# --------------------------------------------------------------------------
# Parallel tempering (Desjardins, Courville, Bengio, Vincent & Delalleau 2010)
# --------------------------------------------------------------------------

cdef void _tempered_visible_sample(int kind, floating* S, Py_ssize_t rows, double beta,
                                   const floating* b, const floating* base_bias,
                                   const floating* visible_state, const Py_ssize_t* groups,
                                   Py_ssize_t n_groups, Py_ssize_t n_visible,
                                   floating* tempered_b, bitgen_t** rng, float* scratch,
                                   int n_threads) noexcept nogil:
    """S = s(v), v drawn at inverse temperature beta from the visible field h W in S.

    The tempered model p_beta ~ exp(-(1 - beta) E_base(v) - beta E(v, h))
    with E_base(v) = -base_bias . s(v) gives v the field
    beta (h W + b) + (1 - beta) base_bias.
    """
    cdef Py_ssize_t i
    _scale_rows(S, 0, rows, n_visible, <floating> beta)
    for i in range(n_visible):
        tempered_b[i] = <floating> (beta * b[i] + (1.0 - beta) * base_bias[i])
    _sample_visible(kind, S, rows, n_visible, tempered_b, visible_state, groups,
                    n_groups, rng, scratch, n_threads)


cdef void _tempered_hidden_sample(const floating* Z, floating* H, Py_ssize_t rows,
                                  double beta, const floating* c, Py_ssize_t n_hidden,
                                  floating* tempered_c, bitgen_t** rng, float* scratch,
                                  int n_threads) noexcept nogil:
    """H = h drawn at inverse temperature beta given the hidden field Z = W s(v) (no bias).

    Given v, h has the field beta (W s(v) + c).
    """
    cdef Py_ssize_t j
    memcpy(H, Z, rows * n_hidden * sizeof(floating))
    _scale_rows(H, 0, rows, n_hidden, <floating> beta)
    for j in range(n_hidden):
        tempered_c[j] = <floating> (beta * c[j])
    _hidden_probabilities(H, rows, n_hidden, tempered_c, n_threads)
    _sample_hidden(H, H, rows, n_hidden, rng, scratch, n_threads)


cdef void _tempered_step(int kind, floating* H, floating* S, floating* Z,
                         double* energy_gap, const double* betas, Py_ssize_t n_temperatures,
                         Py_ssize_t C, const floating* W, const floating* b,
                         const floating* c, const floating* base_bias,
                         const floating* visible_state, const Py_ssize_t* groups,
                         Py_ssize_t n_groups, Py_ssize_t n_visible, Py_ssize_t n_hidden,
                         floating* tempered_b, floating* tempered_c, bitgen_t** rng,
                         Py_ssize_t block_streams, float* scratch, long* swap_counts,
                         int parity, int n_threads) noexcept nogil:
    """One Gibbs step at every temperature, then replica swaps.

    Block t (rows [t C, (t + 1) C) of H and S) samples
    p_t(v, h) ~ exp(-(1 - beta_t) E_base(v) - beta_t E(v, h)), with
    E_base(v) = -base_bias . s(v) (up to a constant).  Then the pairs
    (t, t + 1) with t = parity, parity + 2, ... exchange states with
    probability min(1, exp((beta_t - beta_t+1) (D(x_t) - D(x_t+1)))),
    D = E - E_base.
    """
    cdef Py_ssize_t rows = n_temperatures * C, t, i, r, j
    cdef double total
    _visible_field(H, rows, W, n_visible, n_hidden, S)
    for t in range(n_temperatures):
        _tempered_visible_sample(kind, S + t * C * n_visible, C, betas[t], b, base_bias,
                                 visible_state, groups, n_groups, n_visible, tempered_b,
                                 rng + t * block_streams, scratch, n_threads)
    _hidden_field(S, rows, W, n_visible, n_hidden, Z)
    for t in range(n_temperatures):
        _tempered_hidden_sample(Z + t * C * n_hidden, H + t * C * n_hidden, C, betas[t],
                                c, n_hidden, tempered_c, rng + t * block_streams, scratch,
                                n_threads)
    # D(v, h) = E - E_base = -(s.(b - base_bias) + c.h + h.(W s)), up to a
    # constant that cancels in the swap ratio.
    for r in range(rows):
        total = 0.0
        for i in range(n_visible):
            total += S[r * n_visible + i] * (b[i] - base_bias[i])
        for j in range(n_hidden):
            total += H[r * n_hidden + j] * (c[j] + Z[r * n_hidden + j])
        energy_gap[r] = -total
    _replica_swaps(H, S, energy_gap, betas, n_temperatures, C, n_visible, n_hidden,
                   rng[block_streams * n_temperatures], swap_counts, parity)


cdef void _swap_rows(floating* X, Py_ssize_t r1, Py_ssize_t r2, Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t i
    cdef floating tmp
    for i in range(n):
        tmp = X[r1 * n + i]
        X[r1 * n + i] = X[r2 * n + i]
        X[r2 * n + i] = tmp


cdef void _replica_swaps(floating* H, floating* S, double* energy_gap, const double* betas,
                         Py_ssize_t n_temperatures, Py_ssize_t C, Py_ssize_t n_visible,
                         Py_ssize_t n_hidden, bitgen_t* rng, long* swap_counts,
                         int parity) noexcept nogil:
    """Metropolis swaps of chain i between temperatures t and t + 1 (t = parity, +2, ...).

    swap_counts[t] counts accepted swaps of pair t and
    swap_counts[n_temperatures - 1 + t] proposed ones.
    """
    cdef Py_ssize_t t, i, r1, r2
    cdef double log_ratio, tmp
    cdef float u
    for t in range(parity, n_temperatures - 1, 2):
        for i in range(C):
            r1 = t * C + i
            r2 = (t + 1) * C + i
            log_ratio = (betas[t] - betas[t + 1]) * (energy_gap[r1] - energy_gap[r2])
            _uniform_fill(rng, 1, &u)
            swap_counts[n_temperatures - 1 + t] += 1
            if log_ratio >= 0.0 or u < exp(log_ratio):
                swap_counts[t] += 1
                _swap_rows(H, r1, r2, n_hidden)
                _swap_rows(S, r1, r2, n_visible)
                tmp = energy_gap[r1]
                energy_gap[r1] = energy_gap[r2]
                energy_gap[r2] = tmp


# --------------------------------------------------------------------------
# Python entry points
# --------------------------------------------------------------------------

cdef bitgen_t** _stream_pointers(list bitgens, Py_ssize_t needed) except NULL:
    """C array of the bitgen_t of the first ``needed`` BitGenerators."""
    if len(bitgens) < needed:
        raise ValueError(f"need {needed} random streams, got {len(bitgens)}")
    cdef bitgen_t** out = <bitgen_t**> malloc(max(needed, 1) * sizeof(bitgen_t*))
    if out == NULL:
        raise MemoryError()
    cdef Py_ssize_t i
    for i in range(needed):
        out[i] = <bitgen_t*> PyCapsule_GetPointer(bitgens[i].capsule, "BitGenerator")
    return out


def sigmoid(floating[:, ::1] X, const floating[::1] bias):
    """In place X = 1 / (1 + exp(-(X + bias))): the kernel's own sigmoid (for tests)."""
    _add_bias_sigmoid_rows(&X[0, 0], 0, X.shape[0], X.shape[1], &bias[0])


def set_parallel_threshold(Py_ssize_t n_elements):
    """Set the smallest layer update (rows x units) run on several threads.

    Returns the previous value.  A performance knob only: results never
    depend on it, which the tests check by lowering it.
    """
    global _MIN_PARALLEL_ELEMENTS
    previous = _MIN_PARALLEL_ELEMENTS
    _MIN_PARALLEL_ELEMENTS = n_elements
    return previous


def set_small_model_threshold(Py_ssize_t n_weights):
    """Set the largest model (n_visible * n_hidden) trained with row-sum products.

    Returns the previous value.  A performance knob only: both kinds of
    product compute X @ M, which the tests check by moving it.
    """
    global _SMALL_MODEL_WEIGHTS
    previous = _SMALL_MODEL_WEIGHTS
    _SMALL_MODEL_WEIGHTS = n_weights
    return previous


def n_streams_for(Py_ssize_t rows):
    """Number of random streams needed to sample ``rows`` chain rows."""
    return (rows + _CHUNK - 1) // _CHUNK


def gibbs_chains(int kind,
                 floating[:, ::1] V,          # IN/OUT visible rows s(v) (n_chains, n_visible)
                 floating[:, ::1] H,          # OUT last hidden samples (n_chains, n_hidden)
                 floating[:, ::1] P,          # OUT p(h=1 | final V)     (n_chains, n_hidden)
                 const floating[:, ::1] W,
                 const floating[::1] b,
                 const floating[::1] c,
                 const floating[:, ::1] visible_state,  # IN Gaussian rows (or a 1x1 dummy)
                 const Py_ssize_t[::1] groups,          # IN categorical offsets (or dummy)
                 int n_steps,
                 list streams,
                 int n_threads):
    """Advance chains ``n_steps`` full block-Gibbs steps: h ~ p(h|v), v ~ p(v|h).

    On return ``V`` holds the final visible rows ``s(v)``, ``H`` the hidden
    sample that produced them and ``P`` the hidden probabilities given the
    final ``V``.  With ``n_steps == 0`` only ``P`` is computed.
    """
    cdef Py_ssize_t n_groups = groups.shape[0] - 1
    cdef Py_ssize_t rows = V.shape[0], n_visible = V.shape[1], n_hidden = W.shape[0]
    cdef Py_ssize_t width = max(n_visible, n_hidden)
    cdef bitgen_t** rng = _stream_pointers(streams, n_streams_for(rows))
    cdef float[:, ::1] scratch = np.empty((n_streams_for(rows) * _CHUNK, width), dtype=np.float32)
    cdef int step
    try:
        with nogil:
            _hidden_field(&V[0, 0], rows, &W[0, 0], n_visible, n_hidden, &P[0, 0])
            _hidden_probabilities(&P[0, 0], rows, n_hidden, &c[0], n_threads)
            for step in range(n_steps):
                _sample_hidden(&P[0, 0], &H[0, 0], rows, n_hidden, rng,
                               &scratch[0, 0], n_threads)
                _gibbs_step_from_hidden(kind, &H[0, 0], &V[0, 0], &P[0, 0], rows,
                                        &W[0, 0], &b[0], &c[0], &visible_state[0, 0],
                                        &groups[0], n_groups, n_visible, n_hidden,
                                        rng, &scratch[0, 0], n_threads)
    finally:
        free(rng)


def softplus(const double[::1] x):
    """log(1 + exp(x)) of a float64 vector (see rbm_softplus in _fastmath.h)."""
    out = np.empty(x.shape[0])
    cdef double[::1] result = out
    if x.shape[0]:
        with nogil:
            rbm_softplus_array(&x[0], x.shape[0], &result[0])
    return out


def ais_log_weights(int kind,
                    double[:, ::1] S,                   # IN/OUT s(v) rows of the chains, drawn from the base model
                    const double[:, ::1] W,
                    const double[::1] b,
                    const double[::1] c,
                    const double[::1] base_bias,        # visible biases of the beta = 0 model
                    const double[:, ::1] visible_state,
                    const Py_ssize_t[::1] groups,
                    const double[::1] betas,            # inverse temperatures, 0 first, 1 last
                    list streams,
                    int n_threads):
    """Log importance weights of AIS runs from the base model to the model (float64).

    The chains move through the tempered models of ``_tempered_step``
    (the same block-Gibbs transitions as parallel tempering).  At each
    temperature beta_k the weight of a chain at state v gains

        log p*_k(v) - log p*_{k-1}(v)
          = (beta_k - beta_{k-1}) s(v).(b - base_bias)
            + sum_j softplus(beta_k (W s(v) + c)_j) - softplus(beta_{k-1} (...)_j)

    with the visible energy terms taken as linear in s(v); for Gaussian
    units that drops a constant that the caller adds.  Then (except after
    the last) v moves by one Gibbs step at beta_k.  Rows are chunked over
    ``streams`` as in ``gibbs_chains``, so results do not depend on threads.
    """
    cdef Py_ssize_t rows = S.shape[0], n_visible = W.shape[1], n_hidden = W.shape[0]
    cdef Py_ssize_t n_betas = betas.shape[0], n_groups = groups.shape[0] - 1, k, r, j
    cdef double beta, beta_prev
    log_w = np.zeros(rows)
    cdef double[::1] weights = log_w
    cdef double[:, ::1] Z = np.empty((rows, n_hidden))
    cdef double[:, ::1] H = np.empty((rows, n_hidden))
    cdef double[:, ::1] gap = np.empty((rows, n_hidden))
    cdef double[::1] gains = np.empty(rows)
    cdef double[::1] gap_sums = np.empty(rows)
    cdef double[::1] ones = np.ones(n_hidden)
    cdef double[::1] direction = np.asarray(b) - np.asarray(base_bias)
    cdef double[::1] tempered_b = np.empty(n_visible)
    cdef double[::1] tempered_c = np.empty(n_hidden)
    cdef Py_ssize_t width = max(n_visible, n_hidden)
    cdef float[:, ::1] scratch = np.empty((n_streams_for(rows) * _CHUNK, width), dtype=np.float32)
    if rows == 0 or n_hidden == 0:
        return log_w
    cdef bitgen_t** rng = _stream_pointers(streams, n_streams_for(rows))
    try:
        with nogil:
            for k in range(1, n_betas):
                beta = betas[k]
                beta_prev = betas[k - 1]
                _hidden_field(&S[0, 0], rows, &W[0, 0], n_visible, n_hidden, &Z[0, 0])
                _row_dots(&S[0, 0], rows, n_visible, &direction[0], &gains[0])
                for r in range(rows):
                    for j in range(n_hidden):
                        gap[r, j] = Z[r, j] + c[j]
                rbm_softplus_gap(&gap[0, 0], rows * n_hidden, beta, beta_prev)
                _row_dots(&gap[0, 0], rows, n_hidden, &ones[0], &gap_sums[0])
                for r in range(rows):
                    weights[r] += (beta - beta_prev) * gains[r] + gap_sums[r]
                if k < n_betas - 1:
                    _tempered_hidden_sample(&Z[0, 0], &H[0, 0], rows, beta, &c[0], n_hidden,
                                            &tempered_c[0], rng, &scratch[0, 0], n_threads)
                    _visible_field(&H[0, 0], rows, &W[0, 0], n_visible, n_hidden, &S[0, 0])
                    _tempered_visible_sample(kind, &S[0, 0], rows, beta, &b[0], &base_bias[0],
                                             &visible_state[0, 0], &groups[0], n_groups,
                                             n_visible, &tempered_b[0], rng, &scratch[0, 0],
                                             n_threads)
    finally:
        free(rng)
    return log_w


cdef void _load_rows(const floating[:, ::1] X, const floating[::1] data,
                     const csr_index[::1] indices, const Py_ssize_t[::1] indptr,
                     bint sparse, const Py_ssize_t* rows, Py_ssize_t n_rows,
                     Py_ssize_t n_visible, floating* out) noexcept nogil:
    """out = X[rows] as a dense block (X dense, or CSR given by data/indices/indptr)."""
    cdef Py_ssize_t i, p, r
    if sparse:
        memset(out, 0, n_rows * n_visible * sizeof(floating))
        for i in range(n_rows):
            r = rows[i]
            for p in range(indptr[r], indptr[r + 1]):
                out[i * n_visible + indices[p]] = data[p]
    else:
        for i in range(n_rows):
            memcpy(out + i * n_visible, &X[rows[i], 0], n_visible * sizeof(floating))


cdef void _weighted_row_sum(const floating* X, Py_ssize_t rows, Py_ssize_t n,
                            const floating* weights, const Py_ssize_t* iota,
                            floating* out) noexcept nogil:
    """out = sum_r weights[r] X[r] = X.T @ weights   (X: rows x n; iota[r] = r).

    With weights 1/B on B data rows and -1/C on C chain rows this is the
    difference of their column means.  The row-combining loop of the small
    products (a block of columns in registers while the rows stream past),
    not a BLAS gemv: no call overhead or thread wake-up for small models.
    """
    if floating is float:
        rbm_combine_rows_f(iota, weights, rows, X, n, out, 0)
    else:
        rbm_combine_rows_d(iota, weights, rows, X, n, out, 0)


cdef void _scale_rows(floating* X, Py_ssize_t r0, Py_ssize_t r1, Py_ssize_t n,
                      floating factor) noexcept nogil:
    """X[r0:r1] *= factor"""
    cdef Py_ssize_t i
    for i in range(r0 * n, r1 * n):
        X[i] *= factor


cdef void _apply_bias_step(floating* bias, floating* velocity, const floating* grad,
                           Py_ssize_t n, floating lr, floating momentum) noexcept nogil:
    """velocity = momentum * velocity + lr * grad;  bias += velocity"""
    cdef Py_ssize_t j
    for j in range(n):
        velocity[j] = momentum * velocity[j] + lr * grad[j]
        bias[j] += velocity[j]


def train_minibatches(int kind,
                      int method,
                      const floating[:, ::1] X,        # IN dense data (or a 1x1 dummy when sparse)
                      const floating[::1] data,        # IN CSR data (or dummy)
                      const csr_index[::1] indices,    # IN CSR column indices, int32 or intp (or dummy)
                      const Py_ssize_t[::1] indptr,    # IN CSR row pointers (or dummy)
                      bint sparse,
                      const Py_ssize_t[::1] order,     # IN rows in visiting order
                      const Py_ssize_t[::1] batch_ends,  # IN end offset in order of each batch
                      floating[:, ::1] W,              # IN/OUT
                      floating[::1] b,                 # IN/OUT
                      floating[::1] c,                 # IN/OUT
                      floating[:, ::1] W_velocity,     # IN/OUT (unused when momentum == 0)
                      floating[::1] b_velocity,        # IN/OUT
                      floating[::1] c_velocity,        # IN/OUT
                      floating[:, ::1] chains,         # IN/OUT persistent hidden samples (PCD)
                      floating[:, ::1] visible_state,  # IN/OUT Gaussian rows (or a 1x1 dummy)
                      const Py_ssize_t[::1] groups,    # IN categorical offsets (or dummy)
                      bint learn_sigma,                # Gaussian: update visible_state's sigma
                      floating[::1] visible_offset,    # IN/OUT centering offset mu (n_visible)
                      floating[::1] hidden_offset,     # IN/OUT centering offset lambda (n_hidden)
                      double offset_rate,              # moving-average rate of the offsets; 0: no centering
                      const double[::1] betas,         # PT: inverse temperatures, betas[0] = 1
                      const floating[::1] base_bias,   # PT: visible biases of the beta = 0 model
                      long[::1] swap_counts,           # PT IN/OUT: accepted swaps per pair, then proposed
                      double learning_rate,
                      double momentum,
                      double weight_decay,
                      double l1_weight_decay,          # soft-thresholding of W after each step
                      double sparsity_target,          # target mean activation of hidden units
                      double sparsity_cost,            # 0: no sparsity penalty
                      floating[::1] hidden_activity,   # IN/OUT running mean activation q (n_hidden)
                      int k,
                      list streams,
                      int n_threads):
    """Run a sequence of CD-k, PCD-k or PT minibatch updates in compiled code.

    Batch ``t`` is ``order[batch_ends[t-1]:batch_ends[t]]``.  For PCD the
    negative phase advances the ``chains.shape[0]`` persistent chains, whose
    state is the hidden sample in ``chains``; for CD it starts from the
    batch itself (one chain per row).  The gradient uses hidden
    probabilities (Rao-Blackwellised) and visible samples:

        dW = <h s(v)>_data - <h s(v)>_model,   dW -= weight_decay * W
        velocity = momentum * velocity + learning_rate * dW;  W += velocity

    With ``offset_rate > 0`` the step is the centered gradient (Melchior,
    Fischer & Wiskott 2016) with offsets mu (visible) and lambda (hidden):

        dW = <(h - lambda)(v - mu)>_data - <same>_model
        db = <v>_data - <v>_model - dW.T lambda,   dc = <h>_data - <h>_model - dW mu

    written back to the plain parametrisation, after which the offsets move
    towards the batch's data means by ``offset_rate``.

    Parallel tempering (``method == METHOD_PT``, Desjardins et al. 2010)
    keeps ``len(betas)`` blocks of persistent chains in ``chains``, block t
    sampling the model tempered towards the independent model of
    ``base_bias`` (``p_t ~ exp(-(1 - betas[t]) E_base - betas[t] E)``, as in
    AIS); each of its k steps is a Gibbs step at every temperature followed
    by replica swaps between neighbouring temperatures.  Block 0 (beta = 1)
    gives the negative phase.

    ``l1_weight_decay`` soft-thresholds W by learning_rate * l1 after each
    step (the proximal step of an L1 penalty).  With ``sparsity_cost > 0``
    (Hinton 2010) q moves towards the batch's mean hidden activation on the
    data (q = 0.95 q + 0.05 mean) and sparsity_cost * (target - q) is added
    to the hidden-bias gradient and, times the batch's mean visible row, to
    the weight gradient.

    Gaussian units with ``learn_sigma`` also take a momentum step on
    log sigma (clipped to the bounds in ``visible_state``); categorical units
    are kept in the zero-sum gauge after every update.
    """
    cdef Py_ssize_t n_visible = W.shape[1], n_hidden = W.shape[0]
    cdef Py_ssize_t n_batches = batch_ends.shape[0]
    cdef Py_ssize_t max_batch = 0, start = 0, t
    for t in range(n_batches):
        max_batch = max(max_batch, batch_ends[t] - start)
        start = batch_ends[t]
    cdef bint persistent = method != _CD
    cdef Py_ssize_t n_temperatures = betas.shape[0] if method == _PT else 1
    # Chains per temperature (PT keeps n_temperatures blocks of them).
    cdef Py_ssize_t n_chains = chains.shape[0] // n_temperatures if persistent else max_batch
    cdef Py_ssize_t all_chains = n_chains * n_temperatures
    cdef Py_ssize_t block_streams = n_streams_for(n_chains)
    cdef Py_ssize_t width = max(n_visible, n_hidden)
    dtype = np.asarray(W).dtype
    # Stacked rows: [0, B) the data batch, [B, B + C) the negative chains.
    # Two spare rows carry the centering correction and the sparsity
    # penalty into the weight product.
    cdef floating[:, ::1] VS = np.empty((max_batch + n_chains + 2, n_visible), dtype=dtype)
    cdef floating[:, ::1] HS = np.empty((max_batch + n_chains + 2, n_hidden), dtype=dtype)
    cdef bint sparsity = sparsity_cost > 0.0
    cdef floating l1_step = learning_rate * l1_weight_decay
    cdef floating[:, ::1] Hc = np.empty((all_chains, n_hidden), dtype=dtype)
    # Parallel tempering: visible rows, saved hidden fields and energies of all chains.
    cdef Py_ssize_t pt_rows = all_chains if method == _PT else 1
    cdef floating[:, ::1] S_all = np.empty((pt_rows, n_visible), dtype=dtype)
    cdef floating[:, ::1] Z_all = np.empty((pt_rows, n_hidden), dtype=dtype)
    cdef double[::1] energy_gap = np.empty(pt_rows)
    cdef floating[::1] tempered_b = np.empty(n_visible, dtype=dtype)
    cdef floating[::1] tempered_c = np.empty(n_hidden, dtype=dtype)
    cdef Py_ssize_t pt_step = 0
    cdef float[:, ::1] scratch = np.empty((n_streams_for(n_chains) * _CHUNK, width),
                                          dtype=np.float32)
    cdef floating[::1] grad_b = np.empty(n_visible, dtype=dtype)
    cdef floating[::1] grad_c = np.empty(n_hidden, dtype=dtype)
    cdef floating[::1] row_weights = np.empty(max_batch + n_chains, dtype=dtype)
    cdef bint centered = offset_rate > 0.0
    cdef floating[::1] row_terms = np.empty(max_batch + n_chains, dtype=dtype)
    cdef floating[::1] correction_b = np.empty(n_visible, dtype=dtype)
    cdef floating[::1] correction_c = np.empty(n_hidden, dtype=dtype)
    cdef floating[::1] data_mean_v = np.empty(n_visible, dtype=dtype)
    cdef floating[::1] data_mean_h = np.empty(n_hidden, dtype=dtype)
    cdef floating[::1] gauge_mean = np.empty(n_hidden, dtype=dtype)
    cdef Py_ssize_t weight_rows
    # Block t of tempered chains uses streams [t * block_streams, (t + 1) *
    # block_streams); the replica swaps use the last one.
    cdef bitgen_t** rng = _stream_pointers(
        streams, block_streams * n_temperatures + (1 if method == _PT else 0))
    cdef floating lr = learning_rate, mom = momentum
    cdef floating decay = 1.0 - learning_rate * weight_decay
    cdef Py_ssize_t B, C, step, i
    cdef floating* w_ptr = &W[0, 0]
    cdef floating* vel_ptr = &W_velocity[0, 0]
    cdef bint use_momentum = momentum != 0.0
    # Row sums pay off for 0/1 (and one-hot) states, not real-valued ones:
    # in small models for every product, and for one-hot (categorical)
    # rows, one nonzero per feature, in the products with visible rows (the
    # hidden field and the weight update) at any size.  Measured at 27
    # sites x 20 states x 100 hidden, batch 100: 4x faster than BLAS.
    cdef bint small = (n_visible * n_hidden <= _SMALL_MODEL_WEIGHTS
                       and max_batch + n_chains <= _SMALL_MODEL_ROWS
                       and kind != _GAUSSIAN)
    cdef bint transposed = small or kind == _CATEGORICAL
    cdef Py_ssize_t n_groups = groups.shape[0] - 1
    cdef floating* vstate = &visible_state[0, 0]
    cdef floating* sigma = vstate + GAUSSIAN_SIGMA_ROW * n_visible
    cdef bint gaussian = kind == _GAUSSIAN, categorical = kind == _CATEGORICAL
    # Gaussian sigma learning: p(h | v) @ W for every stacked row, and the gradient.
    cdef floating[:, ::1] AV = np.empty((max_batch + n_chains if learn_sigma else 1,
                                         n_visible), dtype=dtype)
    cdef double[::1] grad_log_sigma = np.empty(n_visible if learn_sigma else 1)
    # Row sums with visible rows keep W.T (and the velocity in that layout)
    # for the hidden field and the sparse weight update.
    cdef floating[:, ::1] WT = np.ascontiguousarray(np.asarray(W).T) if transposed else W
    cdef floating[:, ::1] velocity_T = (
        np.ascontiguousarray(np.asarray(W_velocity).T) if transposed else W_velocity)
    cdef floating* wt_ptr = &WT[0, 0] if transposed else NULL
    # The stacked visible rows, transposed for the sparse weight update.
    cdef floating[:, ::1] VT = np.empty(
        (n_visible if transposed else 1, max_batch + n_chains + 2), dtype=dtype)
    cdef floating* vt_ptr = &VT[0, 0]
    cdef floating wd = weight_decay
    cdef Py_ssize_t[::1] active_idx = np.empty(max(width, max_batch + n_chains + 2),
                                               dtype=np.intp)
    cdef floating[::1] active_coef = np.empty(max(width, max_batch + n_chains + 2),
                                              dtype=dtype)
    cdef Py_ssize_t* idx = &active_idx[0]
    cdef Py_ssize_t[::1] iota_rows = np.arange(max_batch + n_chains + 2, dtype=np.intp)
    cdef Py_ssize_t* iota = &iota_rows[0]
    cdef floating* coef = &active_coef[0]
    if persistent:
        Hc[...] = chains
    if method == _PT and n_temperatures > 2 and n_chains > 0:
        # Steps taken so far (pairs 0 and 1 alternate), so the swap parity
        # keeps alternating across calls.
        pt_step = (swap_counts[n_temperatures - 1] + swap_counts[n_temperatures]) // n_chains
    try:
        with nogil:
            start = 0
            for t in range(n_batches):
                B = batch_ends[t] - start
                C = n_chains if persistent else B
                _load_rows(X, data, indices, indptr, sparse, &order[start], B,
                           n_visible, &VS[0, 0])
                start = batch_ends[t]
                if t + 1 < n_batches and not sparse:  # the next batch's rows
                    rbm_prefetch_rows(&X[0, 0], &order[start], batch_ends[t + 1] - start,
                                      n_visible * sizeof(floating))
                if gaussian:
                    _divide_by_variance(&VS[0, 0], 0, B, n_visible, sigma)
                if method == _CD:
                    # Positive phase first: the chains start from the data.
                    _hidden_field_of(&VS[0, 0], B, w_ptr, wt_ptr, n_visible, n_hidden,
                                     &HS[0, 0], idx, coef)
                    _hidden_probabilities(&HS[0, 0], B, n_hidden, &c[0], n_threads)
                    _sample_hidden(&HS[0, 0], &Hc[0, 0], C, n_hidden, rng,
                                   &scratch[0, 0], n_threads)
                # Negative phase: k steps from the hidden state Hc.
                if method == _PT:
                    for step in range(k):
                        _tempered_step(kind, &Hc[0, 0], &S_all[0, 0], &Z_all[0, 0],
                                       &energy_gap[0], &betas[0], n_temperatures, C,
                                       w_ptr, &b[0], &c[0], &base_bias[0], vstate,
                                       &groups[0], n_groups, n_visible, n_hidden,
                                       &tempered_b[0], &tempered_c[0], rng, block_streams,
                                       &scratch[0, 0], &swap_counts[0], pt_step % 2,
                                       n_threads)
                        pt_step += 1
                    memcpy(&VS[B, 0], &S_all[0, 0], C * n_visible * sizeof(floating))
                for step in range(k if method != _PT else 0):
                    _visible_field_of(&Hc[0, 0], C, w_ptr, wt_ptr, small, n_visible,
                                      n_hidden, &VS[B, 0], idx, coef)
                    _sample_visible(kind, &VS[B, 0], C, n_visible, &b[0], vstate,
                                    &groups[0], n_groups, rng, &scratch[0, 0], n_threads)
                    if step < k - 1 or method == _CD:
                        _hidden_field_of(&VS[B, 0], C, w_ptr, wt_ptr, n_visible,
                                         n_hidden, &HS[B, 0], idx, coef)
                        _hidden_probabilities(&HS[B, 0], C, n_hidden, &c[0], n_threads)
                        if step < k - 1:
                            _sample_hidden(&HS[B, 0], &Hc[0, 0], C, n_hidden, rng,
                                           &scratch[0, 0], n_threads)
                if persistent:
                    # Data and chain hidden probabilities in one product.
                    _hidden_field_of(&VS[0, 0], B + C, w_ptr, wt_ptr, n_visible, n_hidden,
                                     &HS[0, 0], idx, coef)
                    _hidden_probabilities(&HS[0, 0], B + C, n_hidden, &c[0], n_threads)
                    _sample_hidden(&HS[B, 0], &Hc[0, 0], C, n_hidden, rng,
                                   &scratch[0, 0], n_threads)
                if gaussian:
                    # Steps preconditioned by sigma**2 (a positive diagonal
                    # metric, so the same fixed points): gradients in s(v)
                    # = v / sigma**2 become differences of moments of v, in
                    # data units, whose size does not grow as sigma shrinks.
                    _multiply_by_variance(&VS[0, 0], 0, B + C, n_visible, sigma)
                # Bias gradients, then the weight gradient as one product on
                # the stacked rows: HS[:B] / B and -HS[B:] / C against VS.
                for i in range(B):
                    row_weights[i] = 1.0 / B
                for i in range(B, B + C):
                    row_weights[i] = -1.0 / C
                _weighted_row_sum(&VS[0, 0], B + C, n_visible, &row_weights[0], iota,
                                  &grad_b[0])
                _weighted_row_sum(&HS[0, 0], B + C, n_hidden, &row_weights[0], iota,
                                  &grad_c[0])
                if learn_sigma:
                    _visible_field(&HS[0, 0], B + C, w_ptr, n_visible, n_hidden, &AV[0, 0])
                    _log_sigma_gradient(&VS[0, 0], &AV[0, 0], B, C, n_visible, &b[0],
                                        &grad_log_sigma[0])
                weight_rows = B + C
                if centered or sparsity:
                    _weighted_row_sum(&VS[0, 0], B, n_visible, &row_weights[0], iota,
                                      &data_mean_v[0])
                    _weighted_row_sum(&HS[0, 0], B, n_hidden, &row_weights[0], iota,
                                      &data_mean_h[0])
                if centered:
                    _centering_corrections(&VS[0, 0], &HS[0, 0], B, C, n_visible, n_hidden,
                                           &row_weights[0], &visible_offset[0],
                                           &hidden_offset[0], iota, &row_terms[0],
                                           &correction_b[0], &correction_c[0])
                    # Rows h - lambda, and a last row (-dc, mu): the product
                    # then gives sum_r w_r (h_r - lambda) v_r - dc mu.T, which
                    # is the centered dW since the row weights sum to zero.
                    _subtract_from_rows(&HS[0, 0], B + C, n_hidden, &hidden_offset[0])
                    for i in range(n_hidden):
                        HS[B + C, i] = -grad_c[i]
                    memcpy(&VS[B + C, 0], &visible_offset[0], n_visible * sizeof(floating))
                    weight_rows = B + C + 1
                    for i in range(n_visible):
                        grad_b[i] -= correction_b[i]
                    for i in range(n_hidden):
                        grad_c[i] -= correction_c[i]
                if sparsity:
                    # A row (penalty, mean data row) adds penalty x mean_v to dW.
                    _move_towards(&hidden_activity[0], &data_mean_h[0], n_hidden,
                                  1.0 - SPARSITY_DECAY)
                    for i in range(n_hidden):
                        HS[weight_rows, i] = <floating> (
                            sparsity_cost * (sparsity_target - hidden_activity[i]))
                        grad_c[i] += HS[weight_rows, i]
                    memcpy(&VS[weight_rows, 0], &data_mean_v[0], n_visible * sizeof(floating))
                    weight_rows += 1
                _scale_rows(&HS[0, 0], 0, B, n_hidden, <floating> 1.0 / B)
                _scale_rows(&HS[0, 0], B, B + C, n_hidden, <floating> -1.0 / C)
                if transposed:
                    _transposed_weight_update(&HS[0, 0], &VS[0, 0], weight_rows, n_visible,
                                              n_hidden, lr, mom, wd, wt_ptr,
                                              &velocity_T[0, 0], vt_ptr, idx, coef)
                    if l1_step != 0.0:
                        _soft_threshold(wt_ptr, n_hidden * n_visible, l1_step)
                    if categorical:
                        _zero_sum_rows(wt_ptr, n_hidden, &groups[0], n_groups,
                                       &gauge_mean[0])
                        if use_momentum:
                            _zero_sum_rows(&velocity_T[0, 0], n_hidden, &groups[0],
                                           n_groups, &gauge_mean[0])
                    if small or method == _PT:  # their products read W itself
                        _transpose(wt_ptr, n_visible, n_hidden, w_ptr)
                elif use_momentum:
                    _weight_update(&HS[0, 0], &VS[0, 0], weight_rows, n_visible, n_hidden,
                                   lr, mom, vel_ptr)
                    for i in range(n_hidden * n_visible):
                        vel_ptr[i] -= lr * weight_decay * w_ptr[i]
                        w_ptr[i] += vel_ptr[i]
                else:
                    _weight_update(&HS[0, 0], &VS[0, 0], weight_rows, n_visible, n_hidden,
                                   lr, decay, w_ptr)
                if l1_step != 0.0 and not transposed:
                    _soft_threshold(w_ptr, n_hidden * n_visible, l1_step)
                _apply_bias_step(&b[0], &b_velocity[0], &grad_b[0], n_visible, lr, mom)
                _apply_bias_step(&c[0], &c_velocity[0], &grad_c[0], n_hidden, lr, mom)
                if learn_sigma:
                    _log_sigma_step(vstate, &grad_log_sigma[0], n_visible, learning_rate,
                                    momentum)
                if centered:
                    _move_towards(&visible_offset[0], &data_mean_v[0], n_visible, offset_rate)
                    _move_towards(&hidden_offset[0], &data_mean_h[0], n_hidden, offset_rate)
                if categorical:
                    if not transposed:
                        _zero_sum_columns(w_ptr, n_hidden, n_visible, &groups[0], n_groups)
                        if use_momentum:
                            _zero_sum_columns(vel_ptr, n_hidden, n_visible, &groups[0],
                                              n_groups)
                    _zero_sum_columns(&b[0], 1, n_visible, &groups[0], n_groups)
                    _zero_sum_columns(&b_velocity[0], 1, n_visible, &groups[0], n_groups)
    finally:
        free(rng)
    if persistent:
        chains[...] = Hc
    if transposed:
        if not (small or method == _PT):  # those wrote W back after every update
            W[...] = WT.T
        if use_momentum:
            W_velocity[...] = velocity_T.T
