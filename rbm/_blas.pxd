"""Matrix products of the kernel: BLAS gemm (SciPy's ``cython_blas``, or NumPy's
OpenBLAS as an explicit opt-in) and the row-sum products of 0/1 and one-hot rows."""

from cython cimport floating

cdef void hidden_field(const floating* V, Py_ssize_t rows, const floating* W,
                       Py_ssize_t n_visible, Py_ssize_t n_hidden, floating* H) noexcept nogil
cdef void visible_field(const floating* H, Py_ssize_t rows, const floating* W,
                        Py_ssize_t n_visible, Py_ssize_t n_hidden, floating* A) noexcept nogil
cdef void weight_update(const floating* G, const floating* V, Py_ssize_t rows,
                        Py_ssize_t n_visible, Py_ssize_t n_hidden, floating alpha,
                        floating beta, floating* W) noexcept nogil
cdef void hidden_field_of(const floating* V, Py_ssize_t rows, const floating* W,
                          const floating* WT, Py_ssize_t n_visible, Py_ssize_t n_hidden,
                          floating* H, Py_ssize_t* idx, floating* coef) noexcept nogil
cdef void visible_field_of(const floating* Hs, Py_ssize_t rows, const floating* W,
                           const floating* WT, bint small, Py_ssize_t n_visible,
                           Py_ssize_t n_hidden, floating* A, Py_ssize_t* idx,
                           floating* coef) noexcept nogil
cdef void transpose(const floating* src, Py_ssize_t rows, Py_ssize_t cols,
                    floating* dst) noexcept nogil
cdef void sparse_outer_update(const floating* VT, const floating* G, Py_ssize_t rows,
                              Py_ssize_t n_visible, Py_ssize_t n_hidden, floating alpha,
                              floating* WT, Py_ssize_t* idx, floating* coef) noexcept nogil
cdef void weighted_row_sum(const floating* X, Py_ssize_t rows, Py_ssize_t n,
                           const floating* weights, const Py_ssize_t* iota,
                           floating* out) noexcept nogil
cdef void row_dots(const floating* X, Py_ssize_t rows, Py_ssize_t n, const floating* v,
                   floating* out) noexcept nogil

cdef void resolve_blas() except *
cdef object set_numpy_blas(bint enabled)
cdef bint numpy_blas_in_use() noexcept
cdef bint set_avx512_compaction(int enabled) noexcept
