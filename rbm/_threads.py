"""How many threads the kernel's calls use, and the cores they hold meanwhile.

``n_jobs=None`` (every estimator's default) takes the cores that are free:
not limited by ``OMP_NUM_THREADS`` or ``threadpoolctl``, not kept busy by
other processes (``idle_cores``), and not held by other kernel calls of
this process (``kernel_threads``): fits run side by side on Python threads
(joblib's threading backend, ``GridSearchCV`` under
``parallel_backend("threading")``, a user's own threads) would each take
every idle core otherwise, since one process's threads do not count as
other load.  Speed only: results never depend on the thread count.
"""

import math
import os
import threading
import time
from contextlib import contextmanager
from numbers import Integral

from ._blas import openmp_max_threads


def checked_n_jobs(n_jobs, most):
    """``n_jobs`` itself, or ValueError where it is not None or a non-zero integer
    of at most ``most`` (the kernel's C int).

    Fit validates its parameters, but calls that only sample (``sample``,
    ``gibbs``, ``conditional_sample``) read a value set after fit as it is:
    "2" failed with Python's "'<' not supported between instances of 'str'
    and 'int'", and 2.5 or True ran 2 or 1 threads without a word.
    """
    if n_jobs is None:
        return None
    if not isinstance(n_jobs, Integral) or isinstance(n_jobs, bool) or n_jobs > most:
        raise ValueError(f"n_jobs must be None or an integer (threads; -1 for every core) "
                         f"of at most {most}, got {n_jobs!r:.80}.")
    if n_jobs == 0:
        raise ValueError(
            "n_jobs == 0 is not a number of threads; use None, -1 or a positive integer.")
    return n_jobs


def effective_n_threads(n_jobs, held=None, demands=()):
    """Threads to use for ``n_jobs``; ``held``: the threads other kernel calls
    of this process hold (by default ``threads_held()``), ``demands``: the
    threads each of them could use (``kernel_threads``).

    A positive count is taken as given; -1 (-2, ...) is every core available
    to this process (all but one, ...).  None is every available core that
    is free: at most ``OMP_NUM_THREADS`` where that is set (joblib sets it
    in the workers of ``GridSearchCV(n_jobs=...)``, so parallel fits do not
    oversubscribe the machine) and the OpenMP runtime's limit
    (``threadpoolctl.threadpool_limits``, as scikit-learn's OpenMP
    estimators honour it), and no more than the cores that other
    processes leave idle (``idle_cores``) less those that other kernel calls
    of this process hold, nor more than its fair share of them against what
    those calls could use (``kernel_threads``): a thread team waits at each
    product for its slowest thread, and a thread sharing its core with
    another process made a fit 1.5-2x slower than one thread.  Results do
    not depend on the count.
    """
    n_cpus = available_cores()
    if n_jobs is None:
        idle = idle_cores(n_cpus)
        free = idle - (threads_held() if held is None else held)
        return max(1, min(n_cpus, _openmp_thread_limit() or n_cpus, free,
                          fair_share(idle, demands)))
    if n_jobs < 0:
        return max(1, n_cpus + 1 + n_jobs)
    return n_jobs


def available_cores():
    """Cores this process may run on (its CPU affinity where known)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _openmp_thread_limit():
    """The most threads a team may have here, or None where nothing limits it:
    the first count of ``OMP_NUM_THREADS`` (read at each call, as joblib sets
    it in its workers) and the OpenMP runtime's limit (``openmp_max_threads``:
    a ``threadpool_limits`` set since start-up)."""
    limits = [count for count in (_omp_num_threads(), openmp_max_threads()) if count]
    return min(limits) if limits else None


def _omp_num_threads():
    """The first count of ``OMP_NUM_THREADS``, or None where unset or not a count."""
    value = os.environ.get("OMP_NUM_THREADS", "").split(",")[0].strip()
    return int(value) if value.isdigit() and int(value) > 0 else None


#: How long a reading of the machine's load is reused (``idle_cores``): a
#: loop of small fits reads it a few times a second at most, a long fit
#: once per epoch that takes longer than this.
LOAD_READING_SECONDS = 0.1
#: A reading at most this old confirms the next one (``idle_cores``).
LOAD_CONFIRM_SECONDS = 1.0
_load_reading = [-math.inf, None, 0]  # (time, idle cores, other runnable threads)


def idle_cores(n_cpus):
    """Of ``n_cpus`` cores, those not kept busy by other processes now.

    ``n_cpus`` less the threads of other processes that are running or
    ready to run: Linux's count of runnable threads (the fourth field of
    /proc/loadavg) less this process's own threads in that state (the
    caller; a thread team or BLAS threads still spinning after their last
    task, which counted as other load made fits pick one thread right after
    a product).  Off Linux, or where the files cannot be read, ``n_cpus``.
    Read at most every ``LOAD_READING_SECONDS``.

    Other threads count only when the reading before (if at most
    ``LOAD_CONFIRM_SECONDS`` old) saw them too: the smaller count of the
    two is taken.  A thread that is runnable for an instant (on a 2-core VM
    an idle machine read one such thread in 2 of 40 readings) then costs no
    fit its thread team, while a process that keeps a core busy is seen
    from the second reading on (a first reading in a while is taken as it
    is).
    """
    now = time.monotonic()
    when, idle, before = _load_reading
    if now - when < LOAD_READING_SECONDS and idle is not None:
        return min(idle, n_cpus)
    runnable = _runnable_threads()
    if runnable is None:
        return n_cpus
    # The caller is one of the runnable threads, so with one runnable there
    # is nothing of this process's own to subtract: reading every thread's
    # state (a file per thread) cost 0.2 ms, a fifth of a small fit.
    own = _own_runnable_threads() if runnable > 1 else 1
    others = max(0, runnable - own)
    seen = min(others, before) if now - when <= LOAD_CONFIRM_SECONDS else others
    idle = max(1, n_cpus - seen)
    _load_reading[:] = [now, idle, others]
    return idle


def _read_proc(path):
    """The bytes of a small /proc file (os.read: 5 us a file, open() 12 us)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        return os.read(fd, 4096)
    finally:
        os.close(fd)


def _runnable_threads():
    """Threads running or ready to run on the machine now (the caller included),
    or None where unknown."""
    try:
        return int(_read_proc("/proc/loadavg").split()[3].split(b"/")[0])
    except (OSError, ValueError, IndexError):
        return None


def _own_runnable_threads():
    """This process's threads running or ready to run (state R), at least 1: the caller."""
    running = 0
    try:
        tasks = os.listdir("/proc/self/task")
    except OSError:
        return 1
    for task in tasks:
        try:
            # The state follows the command name, which is in parentheses
            # and may itself contain spaces or parentheses.
            stat = _read_proc(f"/proc/self/task/{task}/stat")
            running += stat.rpartition(b")")[2].split()[0] == b"R"
        except (OSError, IndexError):
            continue
    return max(1, running)


# The kernel calls running now in this process, one entry per call
# (``kernel_threads``): (threads it holds, threads it could use).  Other
# processes' threads are seen in the machine's load; this process's own are
# not (``idle_cores`` subtracts them, as a team still spinning after its last
# product is no load of another's).
_held = {}
_held_lock = threading.Lock()


def _forget_holds_in_child():
    """A child made by fork runs none of its parent's kernel calls: their holds
    would never be released there, and a lock held by another thread at the
    fork would never be unlocked."""
    global _held_lock
    _held.clear()
    _held_lock = threading.Lock()


if hasattr(os, "register_at_fork"):  # (not on Windows)
    os.register_at_fork(after_in_child=_forget_holds_in_child)


def threads_held():
    """Threads that kernel calls of this process hold now (``kernel_threads``)."""
    with _held_lock:
        return sum(held for held, _ in _held.values())


def fair_share(idle, demands):
    """A new call's max-min fair share of ``idle`` cores, where other calls could
    use ``demands`` threads each: the largest L (at least 1) with
    L + sum(min(d, L) for d in demands) <= idle.

    A call that can use few threads (a sampler of a few chains) leaves the
    rest to others; calls that can use every core (fits) split them evenly.
    """
    rest, count = idle, len(demands) + 1
    for demand in sorted(demands):
        if demand * count >= rest:
            break
        rest -= demand
        count -= 1
    return max(1, rest // count)


@contextmanager
def kernel_threads(n_jobs, most=None):
    """The kernel's thread count for ``n_jobs``, held for the ``with`` block.

    ``most``: the most threads the call can use (its chunks of chains, say),
    or None for any number.  A count given (``n_jobs`` > 0) is taken as given,
    capped at ``most``.  For ``n_jobs=None`` the count is also at most the
    idle cores less those other kernel calls of this process hold, and at
    most the call's fair share (``fair_share``) of the idle cores against
    what the other calls could use: a fit started while another runs gets
    one thread or more at once, and the two meet at half the cores each as
    each re-reads its count at its next pass.  Choosing the count and
    holding it is one step under a lock, so calls that start together see
    each other.
    """
    claim = object()
    try:
        with _held_lock:
            others = list(_held.values())
            held = sum(count for count, _ in others)
            n_threads = effective_n_threads(n_jobs, held=held,
                                            demands=[demand for _, demand in others])
            if most is not None:
                n_threads = max(1, min(n_threads, most))
            _held[claim] = (n_threads, math.inf if most is None else most)
        yield n_threads
    finally:
        with _held_lock:
            _held.pop(claim, None)
