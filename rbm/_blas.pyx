# cython: language_level=3
"""Matrix products of the kernel, row-major wrappers around column-major BLAS.

Products go through NumPy's bundled OpenBLAS where it is found (its ILP64
symbols, looked up through threadpoolctl and ``dlopen`` on the first kernel
call, not at import), else through SciPy's ``scipy.linalg.cython_blas``
``sgemm``/``dgemm``; ``kernel_settings(numpy_blas=False)`` forces SciPy's.
Row-major code swaps the operands.  Why NumPy's by default: NumPy's own
products (the monitoring, ``transform``) use its OpenBLAS, and a second
OpenBLAS thread team in the same process, spinning beside it, made 2-thread
training at 784 x 500 1.5x slower and categorical training 2.3x slower on a
2-core machine (``benchmarks/compare_builds.py throughput``, this module's
first version against its predecessor).
Products with 0/1 or one-hot rows can instead be taken as sums of the rows
selected by the nonzeros (the row-sum products of ``_fastmath.h``), which
beat a BLAS call in small models and for categorical rows at any size; this
module owns that header's AVX-512 compaction flag
(``set_avx512_compaction``), as every product that reads it is here.
"""

from libc.stdint cimport int64_t
from scipy.linalg.cython_blas cimport sgemm, dgemm

from ._fastmath cimport (
    rbm_dlopen, rbm_dlsym, rbm_combine_rows_d, rbm_combine_rows_f, rbm_row_dots_d,
    rbm_row_dots_f, rbm_transpose_d, rbm_transpose_f, rbm_sparse_rows_product_d,
    rbm_sparse_rows_product_f, rbm_sparse_outer_update_d, rbm_sparse_outer_update_f,
    rbm_vector_compaction)

import os

import numpy as np

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
# NULL: SciPy's cython_blas.  Set only by set_numpy_blas (resolve_blas picks
# the default on the first kernel call).
cdef sgemm64_t _numpy_sgemm = NULL
cdef dgemm64_t _numpy_dgemm = NULL
cdef object _numpy_blas_path = None

# The row-sum products' AVX-512 compaction is on by default where the CPU has
# it (a dispatch flag inside this extension; the same sums either way).
rbm_vector_compaction(1)


def _find_numpy_blas():
    """(path, sgemm, dgemm addresses) in the OpenBLAS that NumPy uses, or None.

    The library is found by threadpoolctl (already loaded with NumPy) and
    its ILP64 symbols are looked up; anything unexpected returns None.
    """
    from threadpoolctl import threadpool_info
    numpy_root = os.path.dirname(os.path.dirname(np.__file__))
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


# Whether the BLAS has been chosen (by resolve_blas or kernel_settings).
cdef bint _blas_chosen = False


cdef void resolve_blas() except *:
    """Choose the default BLAS once, on the first kernel call: NumPy's where found."""
    if not _blas_chosen:
        set_numpy_blas(True)


cdef object set_numpy_blas(bint enabled):
    """Use NumPy's OpenBLAS (True, if found) or SciPy's (False); returns its path or None."""
    global _numpy_sgemm, _numpy_dgemm, _numpy_blas_path, _blas_chosen
    _blas_chosen = True
    found = _find_numpy_blas() if enabled else None
    if found is None:
        _numpy_blas_path, _numpy_sgemm, _numpy_dgemm = None, NULL, NULL
    else:
        _numpy_blas_path = found[0]
        _numpy_sgemm = <sgemm64_t> <Py_ssize_t> found[1]
        _numpy_dgemm = <dgemm64_t> <Py_ssize_t> found[2]
    return _numpy_blas_path


cdef bint numpy_blas_in_use() noexcept:
    """Whether products call NumPy's OpenBLAS."""
    return _numpy_dgemm != NULL


cdef bint set_avx512_compaction(int enabled) noexcept:
    """Switch the AVX-512 compaction on (1, only where available) or off (0), or
    leave it (-1); returns whether it is on."""
    return rbm_vector_compaction(enabled) != 0


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


cdef void hidden_field(const floating* V, Py_ssize_t rows, const floating* W,
                       Py_ssize_t n_visible, Py_ssize_t n_hidden, floating* H) noexcept nogil:
    """H = V @ W.T            (rows, n_hidden), biases not added."""
    _gemm(c'T', c'N', <int> n_hidden, <int> rows, <int> n_visible, <floating> 1.0,
          W, <int> n_visible, V, <int> n_visible, <floating> 0.0, H, <int> n_hidden)


cdef void visible_field(const floating* H, Py_ssize_t rows, const floating* W,
                        Py_ssize_t n_visible, Py_ssize_t n_hidden, floating* A) noexcept nogil:
    """A = H @ W              (rows, n_visible), biases not added."""
    _gemm(c'N', c'N', <int> n_visible, <int> rows, <int> n_hidden, <floating> 1.0,
          W, <int> n_visible, H, <int> n_hidden, <floating> 0.0, A, <int> n_visible)


cdef void weight_update(const floating* G, const floating* V, Py_ssize_t rows,
                        Py_ssize_t n_visible, Py_ssize_t n_hidden, floating alpha,
                        floating beta, floating* W) noexcept nogil:
    """W = beta * W + alpha * G.T @ V     (G: rows x n_hidden, V: rows x n_visible)."""
    _gemm(c'N', c'T', <int> n_visible, <int> n_hidden, <int> rows, alpha,
          V, <int> n_visible, G, <int> n_hidden, beta, W, <int> n_visible)


cdef inline void _sparse_rows_product(const floating* X, Py_ssize_t rows, Py_ssize_t k,
                                      const floating* M, Py_ssize_t n, floating* out,
                                      Py_ssize_t* idx, floating* coef) noexcept nogil:
    """out = X @ M as sums of the rows of M selected by the nonzeros of X (idx, coef: k)."""
    if floating is float:
        rbm_sparse_rows_product_f(X, rows, k, M, n, out, idx, coef)
    else:
        rbm_sparse_rows_product_d(X, rows, k, M, n, out, idx, coef)


cdef void hidden_field_of(const floating* V, Py_ssize_t rows, const floating* W,
                          const floating* WT, Py_ssize_t n_visible, Py_ssize_t n_hidden,
                          floating* H, Py_ssize_t* idx, floating* coef) noexcept nogil:
    """H = V @ W.T; from rows of the copy WT = W.T when one is kept (small models)."""
    if WT != NULL:
        _sparse_rows_product(V, rows, n_visible, WT, n_hidden, H, idx, coef)
    else:
        hidden_field(V, rows, W, n_visible, n_hidden, H)


cdef void visible_field_of(const floating* Hs, Py_ssize_t rows, const floating* W,
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
        visible_field(Hs, rows, W, n_visible, n_hidden, A)


cdef void transpose(const floating* src, Py_ssize_t rows, Py_ssize_t cols,
                    floating* dst) noexcept nogil:
    """dst = src.T     (src: rows x cols)"""
    if floating is float:
        rbm_transpose_f(src, rows, cols, dst)
    else:
        rbm_transpose_d(src, rows, cols, dst)


cdef void sparse_outer_update(const floating* VT, const floating* G, Py_ssize_t rows,
                              Py_ssize_t n_visible, Py_ssize_t n_hidden, floating alpha,
                              floating* WT, Py_ssize_t* idx, floating* coef) noexcept nogil:
    """WT += alpha * VT @ G, skipping the zeros of VT = V.T (see _fastmath.h)."""
    if floating is float:
        rbm_sparse_outer_update_f(VT, G, rows, n_visible, n_hidden, alpha, WT, idx, coef)
    else:
        rbm_sparse_outer_update_d(VT, G, rows, n_visible, n_hidden, alpha, WT, idx, coef)


cdef void weighted_row_sum(const floating* X, Py_ssize_t rows, Py_ssize_t n,
                           const floating* weights, const Py_ssize_t* iota,
                           floating* out) noexcept nogil:
    """out = sum_r weights[r] X[r] = X.T @ weights   (X: rows x n; iota[r] = r).

    The row-combining loop of the small products (a block of columns in
    registers while the rows stream past), not a BLAS gemv: no call overhead
    or thread wake-up for small models.
    """
    if floating is float:
        rbm_combine_rows_f(iota, weights, rows, X, n, out, 0)
    else:
        rbm_combine_rows_d(iota, weights, rows, X, n, out, 0)


cdef void row_dots(const floating* X, Py_ssize_t rows, Py_ssize_t n, const floating* v,
                   floating* out) noexcept nogil:
    """out[r] = X[r] . v for each row of the (rows x n) X."""
    if floating is float:
        rbm_row_dots_f(X, rows, n, v, out)
    else:
        rbm_row_dots_d(X, rows, n, v, out)
