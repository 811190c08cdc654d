# cython: language_level=3
"""Matrix products of the kernel, row-major wrappers around column-major BLAS.

Products go through NumPy's bundled OpenBLAS where it is found (its ILP64
symbols, looked up with ``dlopen`` on the first kernel call, not at import),
else through SciPy's ``scipy.linalg.cython_blas`` ``sgemm``/``dgemm``;
``kernel_settings(numpy_blas=False)`` forces SciPy's.  Row-major code swaps
the operands.

Every product is exact whatever the thread count: its output is cut into
blocks of whole rows or whole columns (never along the summed dimension),
whose number and bounds depend only on the product's shape
(``product_blocks``), and each block is one single-threaded BLAS call, made
by the thread team or, on one thread, in turn.  Each output entry is thus
summed by the same call in the same order for every ``n_threads``.  The
BLAS's own threads must stay out of it (their split, and with it the
rounding, follows the thread count): the kernel's entry points hold
``single_threaded_blas()`` while they run.  Why NumPy's by default: NumPy's own
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

from cython.parallel cimport prange
from libc.stdint cimport int64_t
from scipy.linalg.cython_blas cimport sgemm, dgemm

from ._fastmath cimport (
    rbm_dlopen, rbm_dlsym, rbm_combine_rows_d, rbm_combine_rows_f, rbm_row_dots_d,
    rbm_row_dots_f, rbm_transpose_d, rbm_transpose_f, rbm_sparse_rows_product_d,
    rbm_sparse_rows_product_f, rbm_sparse_outer_update_d, rbm_sparse_outer_update_f,
    rbm_vector_compaction)

import contextlib
import os
import threading

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

    The library is found among the BLAS controllers (``_blas_controllers``,
    found once per process, shared with ``single_threaded_blas``) and its
    ILP64 symbols are looked up; anything unexpected returns None.
    """
    numpy_root = os.path.dirname(os.path.dirname(np.__file__))
    for library in _blas_controllers():
        path = getattr(library, "filepath", None) or ""
        if getattr(library, "internal_api", None) != "openblas" or not path.startswith(numpy_root):
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


cdef void _gemm1(char transa, char transb, int m, int n, int k, floating alpha,
                 const floating* a, int lda, const floating* b, int ldb,
                 floating beta, floating* c, int ldc) noexcept nogil:
    """Column-major C = alpha op(A) op(B) + beta C: one BLAS call."""
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


# The blocks of a product: at least _BLOCK_MIN rows (or columns) of the output
# each, and at most _MAX_BLOCKS of them.  Every block's call packs the shared
# operand again, so narrow blocks cost single-thread speed: the three products
# of a 784 x 500 update on one thread, as blocks of at least 128 / 192 / 256
# against one call each, took 1.06 / 1.05 / 1.03x as long at batch 100 and
# 1.11 / 1.07 / 1.05x at batch 1000 (2-core AMD EPYC, OpenBLAS 0.3.31); 192
# still gives every product of that update at batch 100 two blocks or more.
# Bounds fall on multiples of _BLOCK_ALIGN (64 bytes of float32).  Part of
# the reproducibility contract: changing any of these changes results by
# rounding.
cdef int _BLOCK_MIN = 192
cdef int _MAX_BLOCKS = 64
cdef int _BLOCK_ALIGN = 16
# Products with fewer multiply-adds than this run their blocks on the calling
# thread: waking the team costs more than it saves.  Speed only, never results.
cdef double _TEAM_MIN_FMAS = 1048576.0
# Products run on a thread team so far (for tests: that a size takes that path).
# Counted by the calling thread, unsynchronised: exact only without
# concurrent kernel calls.
cdef long _team_products = 0


cdef double set_product_threshold(double fmas) noexcept:
    """Set the smallest product (multiply-adds) run on the thread team, or leave
    it (fmas < 0); returns the threshold in force."""
    global _TEAM_MIN_FMAS
    if fmas >= 0:
        _TEAM_MIN_FMAS = fmas
    return _TEAM_MIN_FMAS


def team_products():
    """How many products have run their blocks on a thread team (for tests)."""
    return _team_products


cdef extern from *:
    """
    #ifdef _OPENMP
    #include <omp.h>
    static int rbm_openmp_max_threads(void) { return omp_get_max_threads(); }
    #else
    static int rbm_openmp_max_threads(void) { return 0; }
    #endif
    """
    int rbm_openmp_max_threads() noexcept nogil


def openmp_max_threads():
    """The OpenMP runtime's team size for this thread (0 without OpenMP).

    ``OMP_NUM_THREADS`` as read at start-up, or the limit that
    ``threadpoolctl.threadpool_limits`` set since (which scikit-learn's own
    OpenMP estimators honour), else the number of cores.  While
    ``single_threaded_blas`` holds BLAS at one thread, the limit read as it
    began: an OpenMP-threaded BLAS sharing the runtime (conda's
    openblas-openmp) is held by ``omp_set_num_threads(1)``, which is no
    limit of the user's, and fits would have trained on one thread from
    their second epoch.
    """
    if _pin_depth:
        return _openmp_limit_at_pin
    return rbm_openmp_max_threads()


cdef inline int _n_blocks(int dim) noexcept nogil:
    """How many blocks an output dimension of this size is cut into."""
    return max(1, min(_MAX_BLOCKS, dim // _BLOCK_MIN))


cdef inline int _block_start(int i, int n_blocks, int dim) noexcept nogil:
    """Where block i of n_blocks starts along dim (block n_blocks: dim)."""
    if i >= n_blocks:
        return dim
    return <int> ((<int64_t> i * dim // n_blocks) // _BLOCK_ALIGN * _BLOCK_ALIGN)


cdef void _gemm_block(char transa, char transb, int m, int n, int k, floating alpha,
                      const floating* a, int lda, const floating* b, int ldb,
                      floating beta, floating* c, int ldc, bint split_m, int i,
                      int n_blocks) noexcept nogil:
    """Block i of the product: rows [lo, hi) of C (split_m) or columns [lo, hi)."""
    cdef int lo, hi
    if split_m:
        lo = _block_start(i, n_blocks, m)
        hi = _block_start(i + 1, n_blocks, m)
        # Rows of op(A): rows of A, or columns of A when transposed.
        _gemm1(transa, transb, hi - lo, n, k, alpha,
               a + (lo if transa == c'N' else <int64_t> lo * lda), lda, b, ldb, beta,
               c + lo, ldc)
    else:
        lo = _block_start(i, n_blocks, n)
        hi = _block_start(i + 1, n_blocks, n)
        # Columns of op(B): columns of B, or rows of B when transposed.
        _gemm1(transa, transb, m, hi - lo, k, alpha, a, lda,
               b + (<int64_t> lo * ldb if transb == c'N' else lo), ldb, beta,
               c + <int64_t> lo * ldc, ldc)


cdef void _gemm(char transa, char transb, int m, int n, int k, floating alpha,
                const floating* a, int lda, const floating* b, int ldb,
                floating beta, floating* c, int ldc, int n_threads) noexcept nogil:
    """Column-major C = alpha op(A) op(B) + beta C, the same bits for any n_threads.

    C is cut along its larger dimension into ``_n_blocks`` blocks (a function
    of the shape alone); each block is one single-threaded BLAS call, so
    every entry of C comes from the same call whoever runs it.
    """
    global _team_products
    cdef bint split_m = m >= n
    cdef int i, n_blocks = _n_blocks(m if split_m else n)
    if n_blocks == 1:
        _gemm1(transa, transb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
    elif n_threads > 1 and <double> m * n * k >= _TEAM_MIN_FMAS:
        _team_products += 1
        for i in prange(n_blocks, num_threads=min(n_threads, n_blocks), schedule='dynamic'):
            _gemm_block(transa, transb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc,
                        split_m, i, n_blocks)
    else:
        for i in range(n_blocks):
            _gemm_block(transa, transb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc,
                        split_m, i, n_blocks)


def product_blocks(int m, int n):
    """(split dimension, bounds) of a column-major m x n product's output blocks.

    The split dimension is "m" or "n" (the larger); ``bounds`` are the
    ``n_blocks + 1`` offsets along it.  They depend on the shape alone: this is
    what makes the products exact whatever the thread count (for tests).
    """
    cdef bint split_m = m >= n
    cdef int dim = m if split_m else n, n_blocks = _n_blocks(dim), i
    return ("m" if split_m else "n"), [_block_start(i, n_blocks, dim)
                                       for i in range(n_blocks + 1)]


# --------------------------------------------------------------------------
# The BLAS's own threads off while the kernel runs
# --------------------------------------------------------------------------

_pin_lock = threading.Lock()
_pin_depth = 0
_pinned = []          # (library controller, its thread count before) while pinned
_openmp_limit_at_pin = 0  # openmp_max_threads() as the first holder found it
_blas_libraries = None


def _blas_controllers():
    """Thread-count controllers of the BLAS libraries that NumPy's and SciPy's
    products call, found once per process (``_linked_openblas``), or, where
    one of them is not an OpenBLAS with its own threads, threadpoolctl's
    controllers of every BLAS loaded."""
    global _blas_libraries
    if _blas_libraries is None:
        _blas_libraries = _linked_openblas()
        if _blas_libraries is None:
            from threadpoolctl import ThreadpoolController
            _blas_libraries = ThreadpoolController().select(user_api="blas").lib_controllers
    return _blas_libraries


# Where an address lies: the file of the loaded object whose segments hold it
# (dl_iterate_phdr; dladdr also looks for the nearest symbol, a scan of all
# of OpenBLAS's symbols that took 0.15 ms).
cdef extern from *:
    """
    #if defined(_WIN32) || defined(__APPLE__)
    #include <stddef.h>
    static const char *rbm_library_of(const void *address) { (void) address; return NULL; }
    #else
    #include <link.h>
    #include <stdint.h>
    typedef struct { uintptr_t address; const char *name; } rbm_address_owner;
    static int rbm_holds_address(struct dl_phdr_info *info, size_t size, void *data) {
        rbm_address_owner *owner = (rbm_address_owner *) data;
        (void) size;
        for (int i = 0; i < info->dlpi_phnum; i++) {
            const ElfW(Phdr) *segment = &info->dlpi_phdr[i];
            uintptr_t start = (uintptr_t) info->dlpi_addr + segment->p_vaddr;
            if (segment->p_type == PT_LOAD && owner->address >= start
                    && owner->address < start + segment->p_memsz) {
                owner->name = info->dlpi_name;
                return 1;
            }
        }
        return 0;
    }
    static const char *rbm_library_of(const void *address) {
        rbm_address_owner owner = {(uintptr_t) address, NULL};
        if (address != NULL)
            dl_iterate_phdr(rbm_holds_address, &owner);
        return (owner.name != NULL && owner.name[0] != '\\0') ? owner.name : NULL;
    }
    #endif
    """
    const char* rbm_library_of(const void* address)

ctypedef int (*_get_threads_t)() noexcept nogil
ctypedef void (*_set_threads_t)(int) noexcept nogil

# The affixes of OpenBLAS's symbols in its builds (threadpoolctl's list):
# NumPy's wheels export scipy_openblas_get_num_threads64_, SciPy's
# scipy_openblas_get_num_threads, system builds openblas_get_num_threads.
_OPENBLAS_AFFIXES = [(prefix, suffix) for prefix in ("", "scipy_") for suffix in ("", "64_", "_64")]
# The general matrix product under the names NumPy (CBLAS) and SciPy
# (Fortran) call it in the builds above, in the order they are tried (a
# name not found costs a search of the caller's dependencies).
_CBLAS_GEMM_NAMES = [f"{prefix}cblas_dgemm{suffix}" for prefix in ("scipy_", "")
                     for suffix in ("64_", "_64", "")]
_FORTRAN_GEMM_NAMES = [f"{prefix}dgemm{suffix}" for prefix in ("scipy_", "")
                       for suffix in ("_", "_64_", "64_", "")]


cdef class _OpenBLASThreads:
    """The thread count of one OpenBLAS, through its own entry points.

    What ``single_threaded_blas`` and ``_find_numpy_blas`` ask of a
    threadpoolctl controller (``filepath``, ``internal_api``,
    ``get_num_threads``, ``set_num_threads``), for an OpenBLAS found without
    threadpoolctl's search of every loaded library.
    """

    cdef _get_threads_t _get
    cdef _set_threads_t _set
    cdef readonly object filepath

    @property
    def internal_api(self):
        """"openblas", as threadpoolctl names it."""
        return "openblas"

    def get_num_threads(self):
        """Its thread count now."""
        return self._get()

    def set_num_threads(self, int n_threads):
        """Set its thread count."""
        self._set(n_threads)


def _openblas_threads(path):
    """An ``_OpenBLASThreads`` for the loaded library at ``path``, or None
    where it is not an OpenBLAS running its own threads (an OpenMP build's
    count is OpenMP's: threadpoolctl handles those)."""
    cdef void* handle = rbm_dlopen(path.encode())
    cdef void* get
    cdef void* set_
    cdef void* parallel
    cdef _OpenBLASThreads controller
    if handle == NULL:
        return None
    for prefix, suffix in _OPENBLAS_AFFIXES:
        get = rbm_dlsym(handle, f"{prefix}openblas_get_num_threads{suffix}".encode())
        set_ = rbm_dlsym(handle, f"{prefix}openblas_set_num_threads{suffix}".encode())
        if get == NULL or set_ == NULL:
            continue
        parallel = rbm_dlsym(handle, f"{prefix}openblas_get_parallel{suffix}".encode())
        if parallel == NULL or (<_get_threads_t> parallel)() == 2:  # 2: OpenMP
            return None
        controller = _OpenBLASThreads.__new__(_OpenBLASThreads)
        controller._get, controller._set = <_get_threads_t> get, <_set_threads_t> set_
        controller.filepath = path
        return controller
    return None


def _library_called_by(module_path, names):
    """The file of the library whose general matrix product (one of ``names``)
    the extension module at ``module_path`` calls (a search of that module's
    own dependencies only), or None."""
    cdef void* handle = rbm_dlopen(module_path.encode())
    cdef const char* found
    if handle == NULL:
        return None
    for name in names:
        found = rbm_library_of(rbm_dlsym(handle, name.encode()))
        if found != NULL:
            # The name the loader opened it by, which names one loaded object
            # (realpath, a system call per folder, was half of this search).
            return os.path.normpath(os.path.abspath(found.decode()))
    return None


def _linked_openblas():
    """Controllers of the OpenBLAS libraries that NumPy's and SciPy's products
    call, or None where either cannot be found or is not such an OpenBLAS.

    Found from the libraries that NumPy's and SciPy's BLAS-calling modules
    link (``dlsym`` on each module's handle searches its own dependencies,
    ``rbm_library_of`` names the library that holds the address found):
    0.2 ms once per process, where threadpoolctl's search of every loaded
    library (more than 200 once scikit-learn is imported) cost 10 ms, the
    largest part of a small ``fit``'s first call.  The kernel calls no
    other BLAS, and NumPy's and SciPy's are what the figures computed
    beside it call.  The handles stay open: the controllers keep pointers
    into the libraries for the life of the process.
    """
    try:
        import scipy.linalg.cython_blas
        callers = ((np._core._multiarray_umath.__file__,
                    _CBLAS_GEMM_NAMES + _FORTRAN_GEMM_NAMES),
                   (scipy.linalg.cython_blas.__file__,
                    _FORTRAN_GEMM_NAMES + _CBLAS_GEMM_NAMES))
    except (AttributeError, ImportError):  # a layout other than NumPy 2's and SciPy's
        return None
    controllers = {}
    for caller, names in callers:
        path = _library_called_by(caller, names)
        controller = _openblas_threads(path) if path is not None else None
        if controller is None:
            return None
        controllers.setdefault(path, controller)
    return list(controllers.values())


@contextlib.contextmanager
def single_threaded_blas():
    """Hold NumPy's and SciPy's BLAS at one thread for the ``with`` block (nests,
    across threads too); every BLAS loaded where they are not plain OpenBLAS
    builds (see ``_blas_controllers``).

    The kernel's products call BLAS once per block from its own thread team
    (see ``_gemm``); a BLAS running its own threads inside those calls would
    round by its thread count and fight the team.  The first holder sets
    each BLAS to one thread, the last one to leave restores the counts it
    found, so calls overlapping from several Python threads never undo one
    another's setting.  Other code in the process runs single-threaded BLAS
    meanwhile.
    """
    global _pin_depth, _openmp_limit_at_pin
    with _pin_lock:
        if _pin_depth == 0:
            _openmp_limit_at_pin = rbm_openmp_max_threads()  # before any pin moves it
            for library in _blas_controllers():
                before = library.get_num_threads()
                if before != 1:
                    library.set_num_threads(1)
                    _pinned.append((library, before))
        _pin_depth += 1
    try:
        yield
    finally:
        with _pin_lock:
            _pin_depth -= 1
            if _pin_depth == 0:
                while _pinned:
                    library, before = _pinned.pop()
                    library.set_num_threads(before)


cdef void hidden_field(const floating* V, Py_ssize_t rows, const floating* W,
                       Py_ssize_t n_visible, Py_ssize_t n_hidden, floating* H,
                       int n_threads) noexcept nogil:
    """H = V @ W.T            (rows, n_hidden), biases not added."""
    _gemm(c'T', c'N', <int> n_hidden, <int> rows, <int> n_visible, <floating> 1.0,
          W, <int> n_visible, V, <int> n_visible, <floating> 0.0, H, <int> n_hidden,
          n_threads)


cdef void visible_field(const floating* H, Py_ssize_t rows, const floating* W,
                        Py_ssize_t n_visible, Py_ssize_t n_hidden, floating* A,
                        int n_threads) noexcept nogil:
    """A = H @ W              (rows, n_visible), biases not added."""
    _gemm(c'N', c'N', <int> n_visible, <int> rows, <int> n_hidden, <floating> 1.0,
          W, <int> n_visible, H, <int> n_hidden, <floating> 0.0, A, <int> n_visible,
          n_threads)


cdef void weight_update(const floating* G, const floating* V, Py_ssize_t rows,
                        Py_ssize_t n_visible, Py_ssize_t n_hidden, floating alpha,
                        floating beta, floating* W, int n_threads) noexcept nogil:
    """W = beta * W + alpha * G.T @ V     (G: rows x n_hidden, V: rows x n_visible)."""
    _gemm(c'N', c'T', <int> n_visible, <int> n_hidden, <int> rows, alpha,
          V, <int> n_visible, G, <int> n_hidden, beta, W, <int> n_visible, n_threads)


cdef int weight_update_column_blocks(Py_ssize_t n_visible, Py_ssize_t n_hidden) noexcept nogil:
    """How many blocks of visible columns (of W) ``weight_update`` cuts its output
    into, or 0 where it cuts by hidden units (n_hidden > n_visible) or not at all."""
    if n_visible < n_hidden:
        return 0
    cdef int n_blocks = _n_blocks(<int> n_visible)
    return n_blocks if n_blocks > 1 else 0


cdef Py_ssize_t weight_update_column_start(int i, int n_blocks,
                                           Py_ssize_t n_visible) noexcept nogil:
    """Where column block i of n_blocks starts (block n_blocks: n_visible)."""
    return _block_start(i, n_blocks, <int> n_visible)


cdef void weight_update_block(const floating* G, const floating* V, Py_ssize_t rows,
                              Py_ssize_t n_visible, Py_ssize_t n_hidden, floating alpha,
                              floating beta, floating* W, int i, int n_blocks) noexcept nogil:
    """Column block i of ``weight_update`` (of ``weight_update_column_blocks``): the
    very call that ``weight_update`` makes for it, on the calling thread."""
    _gemm_block(c'N', c'T', <int> n_visible, <int> n_hidden, <int> rows, alpha,
                V, <int> n_visible, G, <int> n_hidden, beta, W, <int> n_visible, True, i,
                n_blocks)


cdef inline void _sparse_rows_product(const floating* X, Py_ssize_t rows, Py_ssize_t k,
                                      const floating* M, Py_ssize_t n, floating* out,
                                      Py_ssize_t* idx, floating* coef) noexcept nogil:
    """out = X @ M as sums of the rows of M selected by the nonzeros of X (idx, coef: k)."""
    if floating is float:
        rbm_sparse_rows_product_f(X, rows, k, M, n, out, idx, coef)
    else:
        rbm_sparse_rows_product_d(X, rows, k, M, n, out, idx, coef)


# The row-sum products on the thread team: each output row (row-sum product)
# or row of WT (outer update) is one thread's, summed in the same order as on
# one thread, so the split changes no bit.  A block's compaction scratch is on
# its thread's stack, for up to _TEAM_SCRATCH entries (longer: one thread).
cdef enum:
    _TEAM_SCRATCH = 1024


cdef inline bint _team_row_sums(Py_ssize_t rows, Py_ssize_t k, Py_ssize_t n, Py_ssize_t scratch,
                                int n_threads) noexcept nogil:
    """Whether a row-sum product of rows x k x n (dense count) goes to the team."""
    return (n_threads > 1 and rows > 1 and scratch <= _TEAM_SCRATCH
            and <double> rows * k * n >= _TEAM_MIN_FMAS)


cdef void _sparse_rows_block(const floating* X, Py_ssize_t r0, Py_ssize_t r1, Py_ssize_t k,
                             const floating* M, Py_ssize_t n, floating* out) noexcept nogil:
    """out[r0:r1] = X[r0:r1] @ M by row sums, with scratch on this thread's stack."""
    cdef Py_ssize_t idx[_TEAM_SCRATCH]
    cdef floating coef[_TEAM_SCRATCH]
    _sparse_rows_product(X + r0 * k, r1 - r0, k, M, n, out + r0 * n, idx, coef)


cdef void _sparse_rows_product_team(const floating* X, Py_ssize_t rows, Py_ssize_t k,
                                    const floating* M, Py_ssize_t n, floating* out,
                                    Py_ssize_t* idx, floating* coef,
                                    int n_threads) noexcept nogil:
    """out = X @ M by row sums, rows split over the team where worth it (same bits)."""
    global _team_products
    cdef Py_ssize_t t
    if not _team_row_sums(rows, k, n, k, n_threads):
        _sparse_rows_product(X, rows, k, M, n, out, idx, coef)
        return
    _team_products += 1
    for t in prange(n_threads, num_threads=n_threads, schedule='static'):
        _sparse_rows_block(X, rows * t // n_threads, rows * (t + 1) // n_threads, k, M, n,
                           out)


cdef void hidden_field_of(const floating* V, Py_ssize_t rows, const floating* W,
                          const floating* WT, Py_ssize_t n_visible, Py_ssize_t n_hidden,
                          floating* H, Py_ssize_t* idx, floating* coef,
                          int n_threads) noexcept nogil:
    """H = V @ W.T; from rows of the copy WT = W.T when one is kept (small models)."""
    if WT != NULL:
        _sparse_rows_product_team(V, rows, n_visible, WT, n_hidden, H, idx, coef, n_threads)
    else:
        hidden_field(V, rows, W, n_visible, n_hidden, H, n_threads)


cdef void visible_field_of(const floating* Hs, Py_ssize_t rows, const floating* W,
                           const floating* WT, bint small, Py_ssize_t n_visible,
                           Py_ssize_t n_hidden, floating* A, Py_ssize_t* idx,
                           floating* coef, int n_threads) noexcept nogil:
    """A = Hs @ W; as sums of rows of W for small models, else by BLAS from
    the copy WT = W.T when one is kept (then W may be stale)."""
    if small:
        _sparse_rows_product(Hs, rows, n_hidden, W, n_visible, A, idx, coef)
    elif WT != NULL:
        # Column-major, WT is the n_hidden x n_visible matrix W.
        _gemm(c'T', c'N', <int> n_visible, <int> rows, <int> n_hidden, <floating> 1.0,
              WT, <int> n_hidden, Hs, <int> n_hidden, <floating> 0.0, A, <int> n_visible,
              n_threads)
    else:
        visible_field(Hs, rows, W, n_visible, n_hidden, A, n_threads)


cdef void transpose(const floating* src, Py_ssize_t rows, Py_ssize_t cols,
                    floating* dst) noexcept nogil:
    """dst = src.T     (src: rows x cols)"""
    _transpose_columns(src, rows, cols, 0, cols, dst)


cdef inline void _transpose_columns(const floating* src, Py_ssize_t rows, Py_ssize_t cols,
                                    Py_ssize_t j0, Py_ssize_t j1, floating* dst) noexcept nogil:
    """dst[j0:j1] = src[:, j0:j1].T     (src: rows x cols, dst: cols x rows)"""
    if floating is float:
        rbm_transpose_f(src + j0, rows, j1 - j0, cols, dst + j0 * rows, rows)
    else:
        rbm_transpose_d(src + j0, rows, j1 - j0, cols, dst + j0 * rows, rows)


cdef inline void _sparse_outer_update(const floating* VT, const floating* G, Py_ssize_t rows,
                                      Py_ssize_t n_visible, Py_ssize_t n_hidden,
                                      floating alpha, floating* WT, Py_ssize_t* idx,
                                      floating* coef) noexcept nogil:
    """WT += alpha * VT @ G, skipping the zeros of VT = V.T (see _fastmath.h)."""
    if floating is float:
        rbm_sparse_outer_update_f(VT, G, rows, n_visible, n_hidden, alpha, WT, idx, coef)
    else:
        rbm_sparse_outer_update_d(VT, G, rows, n_visible, n_hidden, alpha, WT, idx, coef)


cdef void _sparse_outer_block(const floating* V, floating* VT, const floating* G,
                              Py_ssize_t rows, Py_ssize_t n_visible, Py_ssize_t i0,
                              Py_ssize_t i1, Py_ssize_t n_hidden, floating alpha,
                              floating* WT) noexcept nogil:
    """Rows [i0, i1) of WT += alpha * V.T @ G: VT[i0:i1] = V[:, i0:i1].T on this
    thread, then its update, with scratch on this thread's stack."""
    cdef Py_ssize_t idx[_TEAM_SCRATCH]
    cdef floating coef[_TEAM_SCRATCH]
    _transpose_columns(V, rows, n_visible, i0, i1, VT)
    _sparse_outer_update(VT + i0 * rows, G, rows, i1 - i0, n_hidden, alpha, WT + i0 * n_hidden,
                         idx, coef)


cdef void sparse_outer_update(const floating* V, floating* VT, const floating* G,
                              Py_ssize_t rows, Py_ssize_t n_visible, Py_ssize_t n_hidden,
                              floating alpha, floating* WT, Py_ssize_t* idx, floating* coef,
                              int n_threads) noexcept nogil:
    """WT += alpha * V.T @ G (V: rows x n_visible), skipping the zeros of V.

    V is read through its transpose VT (an n_visible x rows scratch), so that
    each column's compaction reads contiguous memory.  Where the rows of WT
    are split over the team, each thread transposes the columns of V it
    updates with, so the copy is shared out too (the same bits).
    """
    global _team_products
    cdef Py_ssize_t t
    if not _team_row_sums(n_visible, rows, n_hidden, rows, n_threads):
        transpose(V, rows, n_visible, VT)
        _sparse_outer_update(VT, G, rows, n_visible, n_hidden, alpha, WT, idx, coef)
        return
    _team_products += 1
    for t in prange(n_threads, num_threads=n_threads, schedule='static'):
        _sparse_outer_block(V, VT, G, rows, n_visible, n_visible * t // n_threads,
                            n_visible * (t + 1) // n_threads, n_hidden, alpha, WT)


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
