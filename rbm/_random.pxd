"""Random streams of the kernel: SFC64 BitGenerators stepped inline or through
NumPy's ``bitgen_t`` (the same numbers either way), uniform and normal fills."""

from libc.stdint cimport uint64_t
from numpy.random cimport bitgen_t


cdef inline uint64_t sfc64_next(uint64_t* s) noexcept nogil:
    """One step of SFC64 on its four words, exactly as NumPy's SFC64.random_raw."""
    cdef uint64_t tmp = s[0] + s[1] + s[3]
    s[3] += 1
    s[0] = s[1] ^ (s[1] >> 11)
    s[1] = s[2] + (s[2] << 3)
    s[2] = ((s[2] << 24) | (s[2] >> 40)) + tmp
    return tmp


cdef bint inline_sfc64() noexcept nogil
cdef void uniform_fill(bitgen_t* rng, Py_ssize_t n, float* out) noexcept nogil
cdef void uniform_fill_pair(bitgen_t* rng_a, float* out_a, bitgen_t* rng_b, float* out_b,
                            Py_ssize_t n) noexcept nogil
cdef void normal_fill(bitgen_t* rng, Py_ssize_t n, float* out) noexcept nogil
cdef bitgen_t** stream_pointers(object bitgens, Py_ssize_t needed, str name) except NULL
cdef void ensure_inline_checked() except *
cdef bint set_inline_sfc64(bint enabled) except *
