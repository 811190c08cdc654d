# cython: language_level=3
"""The classification RBM's class scores, fused: no (rows, hidden, classes) temporary.

``class_scores`` is the compiled form of ``rbm.classifier.class_scores``'s NumPy
expression; it runs the kernel's vectorised softplus (``_fastmath.h``) on one
row's ``n_hidden x n_classes`` fields at a time, held in a buffer that stays in
cache, and sums them over the hidden units in order (NumPy's pairwise sum
may differ in the last bits).
"""

from libc.stdlib cimport free, malloc

from ._fastmath cimport rbm_softplus_array


def class_scores(const double[:, ::1] A, const double[:, ::1] U, const double[::1] d,
                 double[:, ::1] out):
    """out[n, k] = d[k] + sum_j softplus(A[n, j] + U[j, k])  (IN: A, U, d; OUT: out)."""
    cdef Py_ssize_t n_rows = A.shape[0], n_hidden = A.shape[1], n_classes = U.shape[1]
    cdef Py_ssize_t n, j, k
    if U.shape[0] != n_hidden or d.shape[0] != n_classes:
        raise ValueError(f"U has shape {U.shape[0], U.shape[1]} and d {d.shape[0]} entries "
                         f"for A with {n_hidden} columns")
    if out.shape[0] != n_rows or out.shape[1] != n_classes:
        raise ValueError(f"out has shape {out.shape[0], out.shape[1]}, needs "
                         f"{n_rows, n_classes}")
    if n_rows == 0 or n_classes == 0:
        return
    cdef double* field = <double*> malloc(max(1, n_hidden * n_classes) * sizeof(double))
    if field == NULL:
        raise MemoryError()
    cdef double a
    try:
        with nogil:
            for n in range(n_rows):
                for j in range(n_hidden):
                    a = A[n, j]
                    for k in range(n_classes):
                        field[j * n_classes + k] = a + U[j, k]
                if n_hidden:
                    rbm_softplus_array(field, n_hidden * n_classes, field)
                for k in range(n_classes):
                    out[n, k] = d[k]
                for j in range(n_hidden):
                    for k in range(n_classes):
                        out[n, k] += field[j * n_classes + k]
    finally:
        free(field)
