# cython: language_level=3
"""Random streams of the kernel.

Every random number the kernel draws comes from a NumPy ``SFC64``
BitGenerator handed in by the caller, one stream per fixed-size chunk of
chain rows, so results never depend on the thread count.  The streams are
stepped either through ``bitgen_t.next_uint64`` or, where NumPy's SFC64 keeps
its four state words at the start of ``bitgen_t.state`` (checked once,
lazily, against ``random_raw`` on the first kernel call), by an inline copy of
the SFC64 step at half the cost; both draw the same numbers.  Uniforms are
24-bit floats (two per 64-bit draw), normals come from Box-Muller on 53-bit
uniforms; both are stored as float for every model dtype.
"""

from cpython.pycapsule cimport PyCapsule_GetPointer
from libc.stdlib cimport malloc
from libc.string cimport memcpy

import numpy as np

# -1: not checked yet (ensure_inline_checked runs the check on first use),
# 0: step through next_uint64, 1: step inline.
cdef int _inline_sfc64 = -1


cdef bint inline_sfc64() noexcept nogil:
    """Whether streams are stepped inline (False until checked)."""
    return _inline_sfc64 == 1


cdef void uniform_fill(bitgen_t* rng, Py_ssize_t n, float* out) noexcept nogil:
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
    if _inline_sfc64 == 1:
        memcpy(words, state, sizeof(words))  # a local copy stays in registers
        for i in range(0, n - 1, 2):
            x = sfc64_next(words)
            out[i] = <float> (x >> 40) * scale
            out[i + 1] = <float> ((x >> 8) & 0xFFFFFF) * scale
        if n % 2:
            x = sfc64_next(words)
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


cdef void uniform_fill_pair(bitgen_t* rng_a, float* out_a, bitgen_t* rng_b,
                            float* out_b, Py_ssize_t n) noexcept nogil:
    """uniform_fill(rng_a, n, out_a) and uniform_fill(rng_b, n, out_b), the same numbers.

    The two streams are stepped in one loop: each SFC64 step is a chain of
    dependent operations, and two independent chains keep the core busy
    (a third of the sampling time at 784 x 500, batch 1000).
    """
    cdef Py_ssize_t i
    cdef uint64_t x, y
    cdef uint64_t a[4]
    cdef uint64_t b[4]
    cdef float scale = 1.0 / 16777216.0  # 2**-24
    if _inline_sfc64 != 1:
        uniform_fill(rng_a, n, out_a)
        uniform_fill(rng_b, n, out_b)
        return
    memcpy(a, <uint64_t*> rng_a.state, sizeof(a))
    memcpy(b, <uint64_t*> rng_b.state, sizeof(b))
    for i in range(0, n - 1, 2):
        x = sfc64_next(a)
        y = sfc64_next(b)
        out_a[i] = <float> (x >> 40) * scale
        out_a[i + 1] = <float> ((x >> 8) & 0xFFFFFF) * scale
        out_b[i] = <float> (y >> 40) * scale
        out_b[i + 1] = <float> ((y >> 8) & 0xFFFFFF) * scale
    if n % 2:
        out_a[n - 1] = <float> (sfc64_next(a) >> 40) * scale
        out_b[n - 1] = <float> (sfc64_next(b) >> 40) * scale
    memcpy(<uint64_t*> rng_a.state, a, sizeof(a))
    memcpy(<uint64_t*> rng_b.state, b, sizeof(b))


cdef inline uint64_t _next_uint64(bitgen_t* rng) noexcept nogil:
    """One 64-bit draw (the same number inline or through next_uint64)."""
    if _inline_sfc64 == 1:
        return sfc64_next(<uint64_t*> rng.state)
    return rng.next_uint64(rng.state)


cdef extern from "_normal.h" nogil:
    void rbm_box_muller(const uint64_t* draws, Py_ssize_t n_out, float* out)

#: Normals per block of ``normal_fill`` (even, so only a last block is odd).
cdef enum:
    _NORMAL_BLOCK = 512


cdef void normal_fill(bitgen_t* rng, Py_ssize_t n, float* out) noexcept nogil:
    """out[:n] = standard normal draws, by Box-Muller on 53-bit uniforms.

    Computed in double precision (so the tails reach 8.5 standard
    deviations), stored as float like the uniforms, for every model dtype.
    Each pair of outputs takes two 64-bit draws (an odd n's last output
    too); the draws of a block are taken first, then transformed by the
    vectorised ``rbm_box_muller`` (_normal.h).
    """
    cdef uint64_t draws[_NORMAL_BLOCK]
    cdef Py_ssize_t start = 0, i, count, n_draws, block = _NORMAL_BLOCK
    cdef uint64_t words[4]
    cdef uint64_t* state = <uint64_t*> rng.state
    while start < n:
        count = min(n - start, block)
        n_draws = count + count % 2
        if _inline_sfc64 == 1:
            memcpy(words, state, sizeof(words))  # a local copy stays in registers
            for i in range(n_draws):
                draws[i] = sfc64_next(words)
            memcpy(state, words, sizeof(words))
        else:
            for i in range(n_draws):
                draws[i] = rng.next_uint64(rng.state)
        rbm_box_muller(draws, count, out + start)
        start += count


cdef bitgen_t** stream_pointers(object bitgens, Py_ssize_t needed, str name) except NULL:
    """C array (malloc'ed: the caller frees it) of the first ``needed`` streams' bitgen_t.

    Raises ValueError naming ``name`` when there are fewer, or when one is
    not a NumPy BitGenerator.
    """
    if not isinstance(bitgens, (list, tuple)) or len(bitgens) < needed:
        got = len(bitgens) if isinstance(bitgens, (list, tuple)) else type(bitgens).__name__
        raise ValueError(f"{name}: need {needed} random streams, got {got}")
    cdef Py_ssize_t i
    capsules = []
    for i in range(needed):
        if not isinstance(bitgens[i], np.random.BitGenerator):
            raise ValueError(f"{name}[{i}] is not a numpy.random.BitGenerator")
        capsules.append(bitgens[i].capsule)
    cdef bitgen_t** out = <bitgen_t**> malloc(max(needed, 1) * sizeof(bitgen_t*))
    if out == NULL:
        raise MemoryError()
    for i in range(needed):
        out[i] = <bitgen_t*> PyCapsule_GetPointer(capsules[i], "BitGenerator")
    return out


cdef bint _inline_step_reproduces_sfc64() except *:
    """Whether stepping bitgen_t.state inline reproduces NumPy's SFC64 here.

    NumPy does not promise that SFC64's state starts with its four words;
    this compares 64 inline steps, and the draw after them, with random_raw.
    """
    reference = np.random.SFC64(12345).random_raw(65)
    bitgen = np.random.SFC64(12345)
    cdef bitgen_t* rng = <bitgen_t*> PyCapsule_GetPointer(bitgen.capsule, "BitGenerator")
    cdef uint64_t[::1] drawn = np.empty(64, dtype=np.uint64)
    cdef Py_ssize_t i
    for i in range(64):
        drawn[i] = sfc64_next(<uint64_t*> rng.state)
    after = bitgen.random_raw(1)[0]
    return np.array_equal(np.asarray(drawn), reference[:64]) and after == reference[64]


cdef void ensure_inline_checked() except *:
    """Run the inline-SFC64 check once (on the first kernel call, not at import)."""
    global _inline_sfc64
    if _inline_sfc64 < 0:
        _inline_sfc64 = 1 if _inline_step_reproduces_sfc64() else 0


cdef bint set_inline_sfc64(bint enabled) except *:
    """Step inline (if the check passes; True) or through next_uint64 (False).

    Returns whether the inline step is on afterwards.  Only speed changes.
    """
    global _inline_sfc64
    if enabled:
        _inline_sfc64 = 1 if _inline_step_reproduces_sfc64() else 0
    else:
        _inline_sfc64 = 0
    return _inline_sfc64 == 1


def box_muller(const uint64_t[::1] draws, Py_ssize_t n):
    """The n normals ``normal_fill`` makes of these 64-bit draws, as float32 (for tests).

    ``draws`` must hold 2 * ceil(n / 2) draws: pair p's radius from draw 2p,
    its angle from draw 2p + 1.
    """
    if n < 0 or draws.shape[0] < n + n % 2:
        raise ValueError(f"box_muller: {n} normals need {n + n % 2} draws, "
                         f"got {draws.shape[0]}")
    out = np.empty(n, dtype=np.float32)
    cdef float[::1] view = out
    if n:
        rbm_box_muller(&draws[0], n, &view[0])
    return out
