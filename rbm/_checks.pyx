# cython: language_level=3
"""Argument checks shared by the kernel's entry points (``_gibbs``, ``_ais``).

The Python-level checks read one attribute of a duck-typed argument object
and check, in O(1), the shape, dtype and contiguity the kernel needs (else
ValueError naming argument and attribute); the cdef helpers turn checked
arrays into pointers and the ``Units`` struct, and settle what the first
kernel call settles.  One definition each, cimported or imported by every
entry point.
"""

cimport numpy as cnp
from cpython.exc cimport PyErr_CheckSignals
from libc.time cimport clock, clock_t, CLOCKS_PER_SEC

from ._blas cimport resolve_blas
from ._random cimport ensure_inline_checked
from ._sampling cimport (Units, BERNOULLI, GAUSSIAN, CATEGORICAL, HIDDEN_BERNOULLI,
                         HIDDEN_DRELU, DRELU_STATE_ROWS)

import threading

import numpy as np

cnp.import_array()


# --------------------------------------------------------------------------
# Ctrl-C in long compiled loops
# --------------------------------------------------------------------------
# A loop that runs without the GIL (Gibbs steps, AIS temperatures) never
# sees a signal: Ctrl-C during a long sample or log Z took effect when the
# call ended, tens of seconds later.  Such a loop asks ``interrupted`` once
# per step.  On the main thread (the only one Python's signal handlers run
# on) it reads the CPU clock every so many steps (a reading costs about as
# much as a Gibbs step of a tiny model, so their spacing grows until about
# ten fit in INTERRUPT_CHECK_SECONDS), and takes the GIL to run the handlers
# at most every INTERRUPT_CHECK_SECONDS; a KeyboardInterrupt (or whatever
# they raise) is kept for ``raise_pending_interrupt`` once the loop stopped.

#: CPU seconds between two looks at the signal handlers.
cdef double INTERRUPT_CHECK_SECONDS = 0.1

cdef object _pending_interrupt = None


def watches_interrupts():
    """Whether a compiled loop started now should look for Ctrl-C: on the main
    thread only (signals are handled there, and another thread waiting for
    the GIL would only slow the loop)."""
    return threading.current_thread() is threading.main_thread()


cdef bint _signal_raised() noexcept:
    """Run Python's signal handlers; keep what they raise (True), else False."""
    global _pending_interrupt
    try:
        PyErr_CheckSignals()
    except BaseException as error:
        _pending_interrupt = error
        return True
    return False


cdef void start_watching(Interrupts* w, bint watch) noexcept nogil:
    """A look-out for a loop about to start, looking where ``watch``."""
    w.watch = watch
    w.last_look = w.last_read = clock() if watch else 0
    w.every = w.countdown = 1


cdef bint interrupted(Interrupts* w) noexcept nogil:
    """Whether a signal handler raised (Ctrl-C) since the loop started; called
    once per step (see the comment above)."""
    cdef clock_t now, look = <clock_t> (INTERRUPT_CHECK_SECONDS * CLOCKS_PER_SEC)
    if not w.watch:
        return False
    w.countdown -= 1
    if w.countdown > 0:
        return False
    now = clock()
    # About ten readings per look: more steps between them while they come
    # faster (at most twice as many each time), fewer where slower.
    if (now - w.last_read) * 10 < look:
        w.every = w.every * 2
    elif w.every > 1:
        w.every = w.every // 2
    w.countdown, w.last_read = w.every, now
    if now - w.last_look < look:
        return False
    w.last_look = now
    with gil:
        return _signal_raised()


cdef void raise_pending_interrupt() except *:
    """Raise what a signal handler raised during the loop ``interrupted`` stopped."""
    global _pending_interrupt
    error, _pending_interrupt = _pending_interrupt, None
    if error is not None:
        raise error


cdef void _first_call_checks() except *:
    """What the first kernel call settles (not import): the inline-SFC64 check
    and the default BLAS."""
    ensure_inline_checked()
    resolve_blas()


def _get(obj, owner, name):
    """obj.name, or ValueError naming owner.name."""
    try:
        return getattr(obj, name)
    except AttributeError:
        raise ValueError(f"{owner}.{name} is missing") from None


def _array(obj, owner, name, dtype, shape, writable=False, optional=False):
    """obj.name checked to be a C-contiguous ndarray of ``dtype`` (a dtype or a
    tuple of them) and ``shape`` (None entries: any); None where optional."""
    value = _get(obj, owner, name)
    label = f"{owner}.{name}"
    if value is None and optional:
        return None
    if not isinstance(value, np.ndarray):
        raise ValueError(f"{label} must be a numpy array, got {type(value).__name__}")
    dtypes = dtype if isinstance(dtype, tuple) else (dtype,)
    if value.dtype not in [np.dtype(d) for d in dtypes]:
        wanted = " or ".join(str(np.dtype(d)) for d in dtypes)
        raise ValueError(f"{label} must have dtype {wanted}, got {value.dtype}")
    if value.ndim != len(shape) or any(s is not None and s != v
                                       for s, v in zip(shape, value.shape)):
        wanted = tuple("any" if s is None else s for s in shape)
        raise ValueError(f"{label} must have shape {wanted}, got {value.shape}")
    if not value.flags.c_contiguous:
        raise ValueError(f"{label} must be C-contiguous")
    if writable and not value.flags.writeable:
        raise ValueError(f"{label} must be writable")
    return value


def _int(obj, owner, name, low, high=None):
    """obj.name as an int in [low, high]."""
    value = _get(obj, owner, name)
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"{owner}.{name} must be an int, got {type(value).__name__}")
    if value < low or (high is not None and value > high):
        raise ValueError(f"{owner}.{name} must be in [{low}, {high}], got {value}")
    return int(value)


def _check_params(params, writable):
    """(W, b, c) of one dtype, float32 or float64."""
    W = _array(params, "params", "W", (np.float32, np.float64), (None, None), writable)
    n_hidden, n_visible = W.shape
    b = _array(params, "params", "b", W.dtype, (n_visible,), writable)
    c = _array(params, "params", "c", W.dtype, (n_hidden,), writable)
    return W, b, c


def _check_visible(visible, dtype, n_visible, writable):
    """(kind, state or None, groups or None, learn_sigma) of the visible layer."""
    kind = _int(visible, "visible", "kind", BERNOULLI, CATEGORICAL)
    state = groups = None
    if kind == GAUSSIAN:
        state = _array(visible, "visible", "state", dtype, (GAUSSIAN_STATE_ROWS, n_visible),
                       writable)
    if kind == CATEGORICAL:
        groups = _array(visible, "visible", "groups", np.intp, (None,))
        if (groups.shape[0] < 1 or groups[0] != 0 or groups[groups.shape[0] - 1] != n_visible
                or np.any(np.diff(groups) <= 0)):
            raise ValueError("visible.groups must increase strictly from 0 to n_visible "
                             f"({n_visible})")
    learn_sigma = bool(getattr(visible, "learn_sigma", False))
    if learn_sigma and kind != GAUSSIAN:
        raise ValueError("visible.learn_sigma is only for Gaussian visible units")
    return kind, state, groups, learn_sigma


def _check_hidden(params, dtype, n_hidden, writable):
    """(kind, state or None) of the hidden layer: ``params.hidden`` (absent or
    None: Bernoulli), with ``kind`` (HIDDEN_*) and, for dReLU, ``state``."""
    hidden = getattr(params, "hidden", None)
    if hidden is None:
        return HIDDEN_BERNOULLI, None
    kind = _int(hidden, "params.hidden", "kind", HIDDEN_BERNOULLI, HIDDEN_DRELU)
    state = None
    if kind == HIDDEN_DRELU:
        state = _array(hidden, "params.hidden", "state", dtype, (DRELU_STATE_ROWS, n_hidden),
                       writable)
    return kind, state


def _check_threads(n_threads):
    if n_threads < 1:
        raise ValueError(f"n_threads must be at least 1, got {n_threads}")


cdef void* _data(object array):
    """The data pointer of an ndarray (None: NULL)."""
    if array is None:
        return NULL
    return cnp.PyArray_DATA(array)


cdef void _fill_units(Units* u, int kind, Py_ssize_t n_visible, Py_ssize_t n_hidden,
                      object state, object groups, object hidden):
    """The layers as the samplers see them; ``hidden``: (kind, state) of _check_hidden."""
    u.visible_kind = kind
    u.hidden_kind = hidden[0]
    u.potential = _data(hidden[1])
    u.n_visible = n_visible
    u.n_hidden = n_hidden
    u.groups = <const Py_ssize_t*> _data(groups)
    u.n_groups = 0 if groups is None else groups.shape[0] - 1
    u.sigma = _data(state)  # row GAUSSIAN_SIGMA_ROW = 0 of the state
