"""Argument checks shared by the kernel's entry points (``_gibbs``, ``_ais``),
and the C structs and first-call settings they lead to."""

from libc.time cimport clock_t

from ._sampling cimport Units

#: Rows of the Gaussian visible state (``visible.state``).
cdef enum:
    GAUSSIAN_SIGMA_ROW = 0
    GAUSSIAN_VELOCITY_ROW = 1
    GAUSSIAN_SIGMA_MIN_ROW = 2
    GAUSSIAN_SIGMA_MAX_ROW = 3
    GAUSSIAN_STATE_ROWS = 4

cdef void _first_call_checks() except *
cdef void* _data(object array)
cdef void _fill_units(Units* u, int kind, Py_ssize_t n_visible, Py_ssize_t n_hidden,
                      object state, object groups, object hidden)
#: A compiled loop's look-out for Ctrl-C (``interrupted``).
cdef struct Interrupts:
    bint watch          # on the main thread (``watches_interrupts``)
    clock_t last_look   # CPU clock at the last look at the signal handlers
    clock_t last_read   # CPU clock at the last reading
    long every          # loop steps between two readings of the clock
    long countdown      # steps until the next reading

cdef void start_watching(Interrupts* w, bint watch) noexcept nogil
cdef bint interrupted(Interrupts* w) noexcept nogil
cdef void raise_pending_interrupt() except *
