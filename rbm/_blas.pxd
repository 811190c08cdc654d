"""Matrix products of the kernel: BLAS gemm (NumPy's OpenBLAS, or SciPy's
``cython_blas``) cut into blocks fixed by the shape, so that they are exact
whatever ``n_threads``, and the row-sum products of 0/1 and one-hot rows."""

from cython cimport floating

cdef void hidden_field(const floating* V, Py_ssize_t rows, const floating* W,
                       Py_ssize_t n_visible, Py_ssize_t n_hidden, floating* H,
                       int n_threads) noexcept nogil
cdef void visible_field(const floating* H, Py_ssize_t rows, const floating* W,
                        Py_ssize_t n_visible, Py_ssize_t n_hidden, floating* A,
                        int n_threads) noexcept nogil
cdef void weight_update(const floating* G, const floating* V, Py_ssize_t rows,
                        Py_ssize_t n_visible, Py_ssize_t n_hidden, floating alpha,
                        floating beta, floating* W, int n_threads) noexcept nogil
cdef int weight_update_column_blocks(Py_ssize_t n_visible, Py_ssize_t n_hidden) noexcept nogil
cdef Py_ssize_t weight_update_column_start(int i, int n_blocks,
                                           Py_ssize_t n_visible) noexcept nogil
cdef void weight_update_block(const floating* G, const floating* V, Py_ssize_t rows,
                              Py_ssize_t n_visible, Py_ssize_t n_hidden, floating alpha,
                              floating beta, floating* W, int i, int n_blocks) noexcept nogil
cdef void hidden_field_of(const floating* V, Py_ssize_t rows, const floating* W,
                          const floating* WT, Py_ssize_t n_visible, Py_ssize_t n_hidden,
                          floating* H, Py_ssize_t* idx, floating* coef,
                          int n_threads) noexcept nogil
cdef void visible_field_of(const floating* Hs, Py_ssize_t rows, const floating* W,
                           const floating* WT, bint small, Py_ssize_t n_visible,
                           Py_ssize_t n_hidden, floating* A, Py_ssize_t* idx,
                           floating* coef, int n_threads) noexcept nogil
cdef void transpose(const floating* src, Py_ssize_t rows, Py_ssize_t cols,
                    floating* dst) noexcept nogil
cdef void sparse_outer_update(const floating* V, floating* VT, const floating* G,
                              Py_ssize_t rows, Py_ssize_t n_visible, Py_ssize_t n_hidden,
                              floating alpha, floating* WT, Py_ssize_t* idx, floating* coef,
                              int n_threads) noexcept nogil
cdef void weighted_row_sum(const floating* X, Py_ssize_t rows, Py_ssize_t n,
                           const floating* weights, const Py_ssize_t* iota,
                           floating* out) noexcept nogil
cdef void row_dots(const floating* X, Py_ssize_t rows, Py_ssize_t n, const floating* v,
                   floating* out) noexcept nogil

cdef void resolve_blas() except *
cdef object set_numpy_blas(bint enabled)
cdef bint numpy_blas_in_use() noexcept
cdef bint set_avx512_compaction(int enabled) noexcept
cdef double set_product_threshold(double fmas) noexcept
