"""Training as data: what an update does (``Update``) and what it changes
(``TrainingState``), and the one check of a model's fitted state.

The compiled kernel reads every array by its shape and trusts it, so
``check_fitted_state`` runs before every call that reaches the kernel: a
wrong-sized array from a model file or an assignment raises a ValueError
naming it instead of corrupting memory.
"""

import math
from numbers import Integral, Real

import numpy as np

from . import _gibbs
from ._ladder import _fitted_layout as fitted_layout
from ._ladder import (blocks_at_fit, cd_chains_message, fitted_method, fitted_n_temperatures,
                      refuse_layout_change)
from ._streams import GIBBS, SHUFFLE, TRAINING, ChainStreams, check_entropy, generator_for
from ._units import (CategoricalVisible, HiddenLayer, check_array_attribute,
                     resolved_weight_decay)
from ._weights import row_count, weighted_column_sum

#: Moving-average rate of the centering offsets (Melchior et al. 2016 use 0.01).
CENTERING_RATE = 0.01

#: Largest replica-swap count a model may hold: the kernel adds to the counts
#: and derives the swap parity from them, so they must stay far from overflow
#: (a real run makes ~1e9 swaps).
MAX_SWAP_COUNT = 2 ** 60

#: The kernel's code for each ``method``.
METHODS = {"cd": _gibbs.METHOD_CD, "pcd": _gibbs.METHOD_PCD, "pt": _gibbs.METHOD_PT}


def pt_betas(n_temperatures):
    """Inverse temperatures of parallel tempering: evenly spaced from 1 to 0.

    The beta = 0 chains sample the independent model of the data
    marginals exactly, so they feed the ladder with fresh modes.
    """
    return np.linspace(1.0, 0.0, n_temperatures)


class Update:
    """The hyperparameters of one pass of minibatch updates (the kernel's ``update``).

    Built per pass from the estimator's parameters and the epoch's learning
    rate and momentum; the kernel reads it and changes nothing in it.
    ``base_bias`` (parallel tempering only, else None) is the visible bias
    of the beta = 0 model, the independent model of the data marginals.
    """

    __slots__ = ("method", "k", "learning_rate", "momentum", "weight_decay",
                 "l1_weight_decay", "l1_squared_weight_decay",
                 "sparsity_target", "sparsity_cost", "offset_rate",
                 "betas", "base_bias")

    def __init__(self, estimator, learning_rate, momentum, base_bias=None):
        self.method = METHODS[estimator.method]
        self.k = int(estimator.k)
        self.learning_rate = float(learning_rate)
        self.momentum = float(momentum)
        self.weight_decay = resolved_weight_decay(estimator)
        self.l1_weight_decay = float(estimator.l1_weight_decay)
        self.l1_squared_weight_decay = float(estimator.l1_squared_weight_decay)
        self.sparsity_target = float(estimator.sparsity_target)
        self.sparsity_cost = float(estimator.sparsity_cost)
        self.offset_rate = CENTERING_RATE if estimator.centering else 0.0
        pt = estimator.method == "pt"
        self.betas = pt_betas(estimator.n_temperatures) if pt else None
        self.base_bias = base_bias


class KernelParams:
    """The parameters as the kernel reads them: ``W``, ``b``, ``c`` (no copies) and
    ``hidden``, the hidden layer's ``KernelHidden`` view (None: Bernoulli)."""

    __slots__ = ("W", "b", "c", "hidden")

    def __init__(self, W, b, c, hidden=None):
        self.W, self.b, self.c, self.hidden = W, b, c, hidden

    @classmethod
    def of(cls, estimator):
        """A fitted estimator's parameters and hidden layer, as the kernel reads them."""
        return cls(estimator.components_, estimator.intercept_visible_,
                   estimator.intercept_hidden_, estimator._hidden_unit.kernel_view())


class ModelTooLargeError(MemoryError, ValueError):
    """The model asked for needs more memory than the machine has available.

    A MemoryError (what NumPy would raise later) and a ValueError (a
    parameter to change), raised before anything of the model's size is
    allocated.
    """


def available_memory():
    """Bytes this process can still allocate, or None when unknown.

    /proc/meminfo's MemAvailable (free memory plus what the kernel can
    reclaim, without swapping), lowered to the room left under a cgroup
    v2 memory limit (a container's) when there is one.  Off Linux, None.
    """
    available = None
    try:
        with open("/proc/meminfo") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    available = int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    try:
        with open("/sys/fs/cgroup/memory.max") as limit_file:
            limit = limit_file.read().strip()
        with open("/sys/fs/cgroup/memory.current") as current_file:
            current = int(current_file.read())
        if limit != "max" and available is not None:
            available = min(available, int(limit) - current)
    except (OSError, ValueError):
        pass
    return available


def training_memory(n_hidden, n_columns, n_chains, largest_batch, itemsize):
    """The arrays of W's and the chains' size that training surely allocates.

    Returns a list of (what, bytes): the weights, their velocity, the copy
    of the weights each pass keeps to undo a diverging pass, the persistent
    chains and their copy, and the kernel's rows of one minibatch plus the
    chains (hidden and visible values).  A lower bound: smaller arrays,
    the velocity's copy (not every pass needs it) and the categorical
    kernel's transposed weights are left out, so nothing that fits is
    refused.
    """
    weights = n_hidden * n_columns * itemsize
    chains = n_chains * n_hidden * itemsize
    stacked_rows = largest_batch + n_chains
    return [
        ("the weights components_", weights, "n_components"),
        ("their momentum velocity", weights, "n_components"),
        ("a copy of the weights per pass, to undo a pass that diverges", weights,
         "n_components"),
        (f"the persistent chains h_samples_ and their copy ({n_chains:,} chains)",
         2 * chains, "n_chains"),
        (f"one minibatch and the chains as the kernel's rows ({stacked_rows:,} rows)",
         stacked_rows * (n_hidden + n_columns) * itemsize,
         "n_chains" if n_chains >= largest_batch else "batch_size"),
    ]


#: Training that needs at most this much memory is not checked against the
#: memory available: a machine that runs Python and NumPy has it, and the
#: check itself (reading /proc/meminfo) was a measurable share of a small
#: fit's fixed costs.
SURELY_AVAILABLE_BYTES = 64 * 2**20


def check_training_memory(estimator, n_columns, n_rows, dtype, available=None):
    """Raise ModelTooLargeError, before allocating, if training cannot fit in memory.

    ``available`` defaults to ``available_memory()``, which is only read
    (a file read per fit) when training needs more than
    ``SURELY_AVAILABLE_BYTES``; when it is unknown nothing is checked.
    """
    itemsize = np.dtype(dtype).itemsize
    n_chains = estimator.n_chains if estimator.n_chains is not None else estimator.batch_size
    if estimator.method == "pt":
        n_chains *= estimator.n_temperatures
    parts = training_memory(estimator.n_components, n_columns, n_chains,
                            min(estimator.batch_size, n_rows), itemsize)
    needed = sum(size for _, size, _ in parts)
    if available is None:
        if needed <= SURELY_AVAILABLE_BYTES:
            return
        available = available_memory()
    if available is None or needed <= available:
        return
    advice = _parameter_to_lower(estimator, n_columns, n_chains,
                                 min(estimator.batch_size, n_rows), itemsize, available)
    listing = "; ".join(f"{what}: {_gib(size)}" for what, size, _ in parts if size)
    halve = (" Float32 input halves all of it." if itemsize == 8 else "")
    raise ModelTooLargeError(
        f"{type(estimator).__name__} with n_components={estimator.n_components} needs at "
        f"least {_gib(needed)} of memory to train on {n_columns} columns in "
        f"{np.dtype(dtype).name} ({listing}), but only {_gib(available)} is available. "
        f"Lower {advice}.{halve}")


def _parameter_to_lower(estimator, n_columns, n_chains, largest_batch, itemsize, available):
    """The parameter to name in the advice: the one with the largest share of the
    memory among those whose lowering alone (to 1) would make training fit;
    n_components when none would (every part but the data rows grows with it)."""
    shares, sufficient = {}, set()
    sizes = {"n_components": estimator.n_components, "n_chains": n_chains,
             "batch_size": largest_batch}
    for parameter in sizes:
        lowered = dict(sizes, **{parameter: 1})
        parts = training_memory(lowered["n_components"], n_columns, lowered["n_chains"],
                                lowered["batch_size"], itemsize)
        if sum(size for _, size, _ in parts) <= available:
            sufficient.add(parameter)
    for _, size, parameter in training_memory(estimator.n_components, n_columns, n_chains,
                                              largest_batch, itemsize):
        shares[parameter] = shares.get(parameter, 0) + size
    candidates = [parameter for parameter in shares if parameter in sufficient]
    largest = max(candidates, key=shares.get) if candidates else "n_components"
    if largest == "n_components":
        # Everything but the minibatch rows' visible half grows with it.
        needed = sum(shares.values())
        fixed = (largest_batch + n_chains) * n_columns * itemsize
        per_unit = (needed - fixed) / estimator.n_components
        largest += f" (about {max(0, int((available - fixed) // per_unit)):,} would fit)"
    elif largest == "n_chains" and estimator.method == "pt":
        largest = "n_chains or n_temperatures"
    return largest


def check_sample_request(estimator, n_samples, n_steps, max_steps=None, row_bytes=None):
    """Raise ValueError for a ``sample`` request that is not a count of samples and
    of steps (at most ``max_steps``, where given), and ModelTooLargeError, before
    allocating, for more chains than memory holds (each chain: a few rows of the
    model's width, or ``row_bytes`` where the caller knows its sampler's need;
    NumPy's own error said only "Unable to allocate 291 TiB").
    The density models' ``sample`` and ``RBMClassifier.sample`` run it."""
    from ._training import is_count  # (_training imports this module)

    if not is_count(n_samples):
        raise ValueError(f"n_samples must be a positive integer, got {n_samples!r}.")
    if not is_count(n_steps, max_steps):
        most = "" if max_steps is None else f" at most {max_steps}"
        raise ValueError(f"n_steps must be a positive integer{most}, got {n_steps!r}.")
    check_chain_memory(estimator, n_samples, f"sample({n_samples})",
                       "draw at most {} samples a call (calls with other random_state seeds "
                       "give more)", row_bytes)


#: (visible rows, hidden rows) of its own width one chain of a density model's
#: call needs at its peak: for binary and real units, then for categorical ones
#: (whose draws are also decoded to labels).  tracemalloc peaks of 3000 chains
#: at 784 x 20, 16 x 256 and 300 x 300 needed up to 4.0 and 6.5 visible rows
#: (sample), 5.1 and 7.6 (conditional_sample), 7.2 and 9.7
#: (conditional_marginals), and 2.5 hidden rows; four visible and two hidden
#: rows for every call fell up to 2.4 times short.  Rows count 8 bytes a value
#: in float32 models too: their uniforms, noise and decoded labels are float64
#: or object arrays (in float32 width the estimate fell 1.2 to 1.6 times short).
CHAIN_ROWS = {"sample": ((5, 3), (8, 3)), "conditional_sample": ((6, 3), (9, 3)),
              "conditional_marginals": ((8, 3), (11, 3))}


def chain_bytes(estimator, call):
    """Bytes one chain of a density model's ``call`` (a key of ``CHAIN_ROWS``)
    needs at its peak."""
    categorical = isinstance(estimator._visible_unit, CategoricalVisible)
    visible_rows, hidden_rows = CHAIN_ROWS[call][categorical]
    n_hidden, n_columns = estimator.components_.shape
    return (visible_rows * n_columns + hidden_rows * n_hidden) * 8


def check_chain_memory(estimator, n_chains, call, advice, row_bytes=None):
    """Raise ModelTooLargeError, before allocating, where ``n_chains`` chains (each a
    few rows of the model's width, or ``row_bytes`` where given) need more memory
    than is available.

    ``call`` names the request in the message (for example ``"sample(10)"``),
    and ``advice`` says what to do, with ``{}`` for the most chains that fit.
    """
    if row_bytes is None:
        W = estimator.components_
        row_bytes = (4 * W.shape[1] + 2 * W.shape[0]) * W.dtype.itemsize
    needed = int(n_chains) * int(row_bytes)  # Python ints: a NumPy count overflowed
    if needed <= SURELY_AVAILABLE_BYTES:
        return
    available = available_memory()
    if available is not None and needed > available:
        raise ModelTooLargeError(
            f"{type(estimator).__name__}.{call} needs about {_gib(needed)} for its "
            f"{int(n_chains):,} chains ({_gib(row_bytes)} each), but {_gib(available)} is "
            f"available; " + advice.format(max(1, available // row_bytes)) + ".")


def _gib(n_bytes):
    """A byte count for people: GiB, MiB or KiB."""
    for unit, size in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n_bytes >= size:
            return f"{n_bytes / size:.1f} {unit}"
    return f"{n_bytes} bytes"


class TrainingState:
    """Everything training changes besides the estimator's public parameters.

    The optimiser's velocities, the centering offsets, the sparsity
    penalty's running activation, the replica-swap counts of parallel
    tempering, the running data marginals (AIS's base model), the random
    streams, the cache of log-partition estimates, and the fraction of
    ``learning_rate`` at which training continues after a fit.  The weights, biases
    and persistent chains stay public attributes of the estimator
    (``components_``, ``intercept_*``, ``h_samples_``).
    """

    def __init__(self, W, b, c, data_mean, n_temperatures, entropy):
        dtype = W.dtype
        self.W_velocity = np.zeros_like(W)
        self.b_velocity = np.zeros_like(b)
        self.c_velocity = np.zeros_like(c)
        # Centering offsets: the data mean (of v, or of the one-hot rows) and
        # 1/2 for the hidden units; the kernel moves them with the batches.
        self.visible_offset = data_mean.astype(dtype)
        self.hidden_offset = np.full(c.shape, 0.5, dtype)
        # Running mean activation of the hidden units for the sparsity penalty.
        self.hidden_activity = np.full(c.shape, 0.5, dtype)
        self.swap_counts = np.zeros(2 * (n_temperatures - 1), dtype=np.int_)
        self.data_sum = np.zeros(b.shape[0])
        self.n_data = 0
        self.entropy = entropy
        self.training_streams = ChainStreams(entropy, TRAINING)
        self.gibbs_streams = ChainStreams(entropy, GIBBS)
        self.shuffle_rng = generator_for(entropy, SHUFFLE)
        self.log_partition_cache = {}
        # The fraction of ``learning_rate`` at which training continues
        # (partial_fit, and the start of a warm-started fit's schedule): 1
        # until a fit's schedule has decayed it (``continuing_fraction``).
        self.learning_rate_fraction = 1.0
        # For models that keep themselves proper (rbm._training.remember_properness):
        # the directions found so far, the check budget (flops since the last
        # check, and what it cost), and the fingerprint of the parameters the
        # last pass left.  Optional: models saved before them train without.
        self.proper_directions = None
        self.properness_budget = (0.0, None)
        self.proper_fingerprint = None

    # ------------------------------------------------------------------
    # Data marginals
    # ------------------------------------------------------------------

    def data_statistics_with(self, X, sample_weight=None):
        """(sum, count) of the rows seen so far and X, without recording X.

        With ``sample_weight`` each row counts as many times as its weight
        (the count becomes a float).
        """
        return (self.data_sum + weighted_column_sum(X, sample_weight),
                self.n_data + row_count(X, sample_weight))

    def record_data(self, statistics):
        """Make ``data_statistics_with(X)`` the running marginals (after success)."""
        self.data_sum, self.n_data = statistics

    def data_mean(self):
        """Per-column mean of every training row seen."""
        return self.data_sum / max(self.n_data, 1)

    # ------------------------------------------------------------------
    # For the kernel, rollback and early stopping
    # ------------------------------------------------------------------

    def kernel_view(self, chains):
        """The kernel's ``state`` argument: these arrays and the chains."""
        return _KernelState(self, chains)

    def learned_arrays(self):
        """The arrays of this state that training changes in place and early
        stopping restores (the swap counts keep counting)."""
        return (self.W_velocity, self.b_velocity, self.c_velocity, self.visible_offset,
                self.hidden_offset, self.hidden_activity)

    #: Every attribute of a TrainingState (a file or an assignment may drop one).
    ATTRIBUTES = ("W_velocity", "b_velocity", "c_velocity", "visible_offset", "hidden_offset",
                  "hidden_activity", "swap_counts", "data_sum", "n_data", "entropy",
                  "training_streams", "gibbs_streams", "shuffle_rng", "log_partition_cache",
                  "learning_rate_fraction")

    def check(self, estimator, n_columns, n_temperatures, dtype):
        """Raise ValueError unless every attribute fits a model of this size."""
        where = f"{type(estimator).__name__}._training"
        missing = [name for name in self.ATTRIBUTES if not hasattr(self, name)]
        if missing:
            raise ValueError(f"{where} is missing {', '.join(missing)}; refit the model.")
        n_hidden = estimator.components_.shape[0]
        expected = {
            "W_velocity": ((n_hidden, n_columns), dtype),
            "b_velocity": ((n_columns,), dtype),
            "c_velocity": ((n_hidden,), dtype),
            "visible_offset": ((n_columns,), dtype),
            "hidden_offset": ((n_hidden,), dtype),
            "hidden_activity": ((n_hidden,), dtype),
            "data_sum": ((n_columns,), np.float64),
        }
        # Finite too: a NaN velocity would make the pass diverge and blame
        # the learning rate.
        for name, (shape, kind) in expected.items():
            check_array_attribute(estimator, f"_training.{name}", getattr(self, name),
                                  shape, kind)
        check_array_attribute(estimator, "_training.swap_counts", self.swap_counts,
                              (None,), np.dtype(np.int_))
        if self.swap_counts.size and not (0 <= self.swap_counts.min()
                                          and self.swap_counts.max() <= MAX_SWAP_COUNT):
            # The kernel adds to them and derives the swap parity from them.
            raise ValueError(f"{where}.swap_counts must be counts between 0 and "
                             f"{MAX_SWAP_COUNT}; refit the model.")
        # A count of rows, or their total weight after weighted training.
        if not (isinstance(self.n_data, Real) and not isinstance(self.n_data, bool)
                and math.isfinite(self.n_data) and self.n_data >= 0):
            raise ValueError(f"{where}.n_data must be a non-negative number (rows seen, or "
                             f"their total sample_weight), got {self.n_data!r}; refit the "
                             "model.")
        fraction = self.learning_rate_fraction
        if not (isinstance(fraction, Real) and not isinstance(fraction, bool)
                and 0.0 < fraction <= 1.0):  # NaN fails this
            raise ValueError(f"{where}.learning_rate_fraction must be a number in (0, 1] "
                             f"(the share of learning_rate training continues at), got "
                             f"{fraction!r}; set it to 1.0 or refit the model.")
        hidden = getattr(estimator, "_hidden_unit", None)
        curvatures = None if hidden is None else hidden.potential_curvatures(1)
        self._check_properness_memory(where, n_hidden,
                                      curvatures is not None and curvatures[1] is None)
        check_entropy(self.entropy, f"{where}.entropy")
        for name, purpose in (("training_streams", TRAINING), ("gibbs_streams", GIBBS)):
            streams = getattr(self, name)
            if not isinstance(streams, ChainStreams):
                raise ValueError(f"{where}.{name} must be a ChainStreams, got "
                                 f"{type(streams).__name__}; refit the model.")
            streams.check(f"{where}.{name}", purpose)
        if not isinstance(self.shuffle_rng, np.random.Generator):
            raise ValueError(f"{where}.shuffle_rng must be a numpy Generator, got "
                             f"{type(self.shuffle_rng).__name__}; refit the model.")
        self._check_cache(where, estimator)

    def _check_properness_memory(self, where, n_hidden, one_sided):
        """The optional memory of ``keep_proper`` (see ``__init__``): directions
        (columns) of n_hidden finite float64 entries, none all zero, and for
        hidden units with h >= 0 only (``one_sided``) none negative; a budget
        of two flop counts, the second possibly None."""
        directions = getattr(self, "proper_directions", None)
        if directions is not None and not (
                isinstance(directions, np.ndarray) and directions.dtype == np.float64
                and directions.ndim == 2 and directions.shape[0] == n_hidden
                and directions.shape[1] >= 1 and np.all(np.isfinite(directions))
                and np.all(np.abs(directions).max(axis=0) > 0)
                and not (one_sided and np.any(directions < 0))):
            raise ValueError(f"{where}.proper_directions must be None or a finite float64 "
                             f"array of {n_hidden} rows and at least one column, none of "
                             f"them zero{' or negative' if one_sided else ''}; set it to None "
                             "(it is only a memory).")
        budget = getattr(self, "properness_budget", (0.0, None))
        if not (isinstance(budget, tuple) and len(budget) == 2 and budget[0] is not None
                and all(value is None or (isinstance(value, Real) and not isinstance(value, bool)
                                          and math.isfinite(value) and value >= 0)
                        for value in budget)):
            raise ValueError(f"{where}.properness_budget must be a pair (flops since the last "
                             "check, what it cost or None); set it to (0.0, None).")
        fingerprint = getattr(self, "proper_fingerprint", None)
        if fingerprint is not None and not isinstance(fingerprint, str):
            raise ValueError(f"{where}.proper_fingerprint must be None or a string; set it to "
                             "None.")

    def _check_cache(self, where, estimator):
        """The log-partition cache: a dict, from which every entry the library
        does not write (``log_partition_entry_problem``) is dropped.

        A NaN log Z passed as a number, and ``score`` returned NaN without a
        word.  Dropped, not refused: it is only a cache, recomputed when
        asked for, and models saved before runaway AIS runs were kept out of
        it may hold a NaN estimate of their own."""
        cache = self.log_partition_cache
        if not isinstance(cache, dict):
            raise ValueError(f"{where}.log_partition_cache must be a dict of (log Z, "
                             f"standard error) pairs, got {type(cache).__name__}; set it to "
                             "{} (it is only a cache).")
        # Only a Gaussian pair's exact log Z is +inf (an improper one's closed form).
        from ._partition import is_gaussian_pair  # (_partition imports this module)
        infinite_exact = is_gaussian_pair(estimator._visible_unit, estimator._hidden_unit)
        # A copy of the items (one C call, atomic under the GIL): another
        # thread's score() may add an entry while this one checks.
        drop_unwritten_entries(cache, infinite_exact)

    def fit_ladder(self, estimator, n_temperatures):
        """Restart the swap counts if the ladder changed since they were counted
        (set_params between calls): they are statistics only."""
        if estimator.method == "pt" and self.swap_counts.shape != (2 * (n_temperatures - 1),):
            self.swap_counts = np.zeros(2 * (n_temperatures - 1), dtype=np.int_)


def drop_unwritten_entries(cache, infinite_exact=False):
    """Remove from ``cache`` (in place) each entry that the library does not
    write (``log_partition_entry_problem``)."""
    for key, value in list(cache.items()):  # (one C call: other threads may add)
        if not isinstance(key, str) or log_partition_entry_problem(
                key, value, infinite_exact) is not None:
            cache.pop(key, None)


def log_partition_entry_problem(key, value, infinite_exact=False):
    """What makes ``value`` no entry the library writes under ``key`` in a cache
    of log Z estimates, or None where it is one.

    Every entry is a pair (log Z, standard error) of numbers, neither NaN, the
    standard error >= 0 (inf for AIS whose weights too few runs carry).  Under
    "improper/..." it is a properness verdict, (+inf or -inf, 0.0)
    (``_cached_improperness``); under "exact/..." an exact log Z with error
    0.0, finite, or +inf where ``infinite_exact`` (an improper Gaussian pair's
    closed form); under any other key (AIS, forward or reverse) a finite
    estimate: a run whose chains ran away to inf or NaN is not cached.  A NaN
    log Z passed as a number, and ``score`` returned NaN without a word.
    Shared by the density models' cache and ``RBMClassifier``'s.

    Parameters
    ----------
    key : str
        The entry's key; its first part ("improper", "exact", ...) says what
        the entry holds.
    value : object
        The entry.
    infinite_exact : bool, default=False
        Whether an exact log Z may be +inf.

    Returns
    -------
    problem : str or None
        What is wrong, in words, or None.
    """
    if not (isinstance(value, (tuple, list)) and len(value) == 2
            and all(isinstance(x, Real) and not isinstance(x, bool) for x in value)):
        return "not a (log Z, standard error) pair of numbers"
    log_z, std_error = (float(x) for x in value)
    if math.isnan(log_z):
        return "its log Z is NaN"
    if not std_error >= 0.0:  # (NaN fails this)
        return "its standard error is not a number >= 0"
    kind = key.split("/", 1)[0]
    if kind == "improper":
        return (None if math.isinf(log_z) and std_error == 0.0 else
                "a properness verdict is (inf, 0.0) or (-inf, 0.0)")
    if kind == "exact":
        if std_error != 0.0:
            return "an exact log Z has a standard error of 0.0"
        return (None if math.isfinite(log_z) or (infinite_exact and log_z == math.inf) else
                "an exact log Z of this model is finite")
    return None if math.isfinite(log_z) else "an AIS estimate of log Z is finite"


class _KernelState:
    """The kernel's ``state`` argument (see ``TrainingState.kernel_view``)."""

    __slots__ = ("W_velocity", "b_velocity", "c_velocity", "chains", "visible_offset",
                 "hidden_offset", "hidden_activity", "swap_counts")

    def __init__(self, state, chains):
        for name in self.__slots__:
            setattr(self, name, chains if name == "chains" else getattr(state, name))


def check_fitted_state(estimator, training=False):
    """Raise ValueError unless the fitted attributes make one consistent model.

    Types of the layer and training objects; shapes, dtypes and finiteness
    of the parameters, the chains, the visible type's own parameters and
    the training state, against each other and against ``n_components``,
    ``n_features_in_`` (or the categories) and the temperatures (those of
    the fit that laid the chains out, for calls that do not train); the random
    streams and counters.  The error names the attribute and what was
    expected.  Contiguity and the machine's byte order are restored by
    copying (an assigned transposed array, or a model saved on a big-endian
    machine, is fine), and writeability too, but only with ``training``
    (partial_fit, a warm-started fit), as only training writes the arrays:
    other calls read a model memory-mapped read-only by joblib in place.
    Cost: a min and a max over each array for finiteness, the rest O(1) in
    the model's size (measured, min of repeats: 150 us for a 784 x 500
    float32 model, 60 us for a 64 x 64 float64 one).

    Parameters
    ----------
    estimator : BaseRBM
        A fitted density model.
    training : bool, default=False
        Whether the call trains the model on (its arrays are then written).
    """
    name = type(estimator).__name__
    for attribute in ("components_", "intercept_visible_", "intercept_hidden_", "h_samples_",
                      "_visible_unit", "_hidden_unit", "_training"):
        if not hasattr(estimator, attribute):
            raise ValueError(f"{name} is missing its fitted attribute {attribute}; refit "
                             "the model (or load a complete saved model).")
    _check_types(estimator)
    for owner in (estimator._training, estimator._visible_unit, estimator._hidden_unit):
        own_kernel_arrays(owner, writeable=False)
    W = own_array(estimator, "components_", training)
    if W.ndim != 2 or W.dtype not in (np.float32, np.float64) or 0 in W.shape:
        raise ValueError(f"{name}.components_ must be a non-empty 2-d float32 or float64 "
                         f"array, got shape {W.shape} and dtype {W.dtype}; refit the model.")
    n_hidden, n_columns = W.shape
    check_n_components(estimator, n_hidden)
    unit = estimator._visible_unit
    unit.check_fitted(estimator, n_columns, W.dtype)
    estimator._hidden_unit.check_fitted(estimator, n_hidden, W.dtype)
    check_n_features(estimator, unit, n_columns)
    check_array_attribute(estimator, "components_", W, W.shape, W.dtype)
    for attribute, size in (("intercept_visible_", n_columns), ("intercept_hidden_", n_hidden)):
        check_array_attribute(estimator, attribute, own_array(estimator, attribute, training),
                              (size,), W.dtype)
    chains = own_array(estimator, "h_samples_", training)
    check_array_attribute(estimator, "h_samples_", chains, (None, n_hidden), W.dtype)
    # (The setting is checked as a count by every call, as before; the chains
    # in the fit's layout by those that do not train, which never read it.)
    n_temperatures = (_pt_temperatures(estimator, chains.shape[0])
                      if estimator.method == "pt" else 1)
    if not training:
        n_temperatures = blocks_at_fit(estimator, chains.shape[0]) or n_temperatures
    if chains.shape[0] < 1 or chains.shape[0] % n_temperatures:
        refuse_layout_change(estimator, chains.shape[0])  # (said as the chain count's is)
        raise ValueError(
            f"{name}.h_samples_ has {chains.shape[0]} persistent chains, but this model "
            f"needs one or more blocks of n_temperatures={n_temperatures}; set method "
            "and n_temperatures back to those of the fit, or refit the model.")
    if training:
        _check_chain_count(estimator, chains.shape[0], n_temperatures)
    estimator._training.check(estimator, n_columns, n_temperatures, W.dtype)
    if training:
        # The swap statistics of the ladder training goes on with (calls that
        # do not train leave them as the fit left them).
        estimator._training.fit_ladder(estimator, n_temperatures)
        for owner in (estimator._training, unit, estimator._hidden_unit):
            own_kernel_arrays(owner, writeable=True)
        # Training stops at that scale (a divergence): refused before the pass,
        # whatever the learning rate, which the divergence message blamed.
        check_energy_scale(estimator)
        _separate_public_arrays(estimator)


#: The fitted arrays a user may assign, which training writes in place.
PUBLIC_LEARNED_ARRAYS = ("components_", "intercept_visible_", "intercept_hidden_", "h_samples_")


def _separate_public_arrays(estimator):
    """``separate_shared_arrays`` for the density models' public fitted arrays."""
    separate_shared_arrays(estimator, PUBLIC_LEARNED_ARRAYS, estimator._learned_arrays)


def separate_shared_arrays(estimator, attributes, learned_arrays):
    """Copy each of the estimator's ``attributes`` that may share memory with
    another of the arrays training writes (``learned_arrays()``, in which the
    attributes come first, in that order): assigned as a view of another
    (``intercept_visible_ = components_[0]``), or as the same array, one step
    overwrote the other's, silently."""
    for position, attribute in enumerate(attributes):
        learned = learned_arrays()
        array = learned[position]
        if any(np.may_share_memory(array, other)
               for index, other in enumerate(learned) if index != position):
            setattr(estimator, attribute, array.copy())


def check_n_components(estimator, n_hidden):
    """ValueError where ``n_components`` was set since the fit to another size than
    the fitted hidden layer's (``n_hidden``): the model would otherwise go on
    with the fitted size, silently.  The density models and ``RBMClassifier``."""
    check_count_setting(estimator, "n_components", n_hidden)
    if n_hidden != estimator.n_components:
        raise ValueError(
            f"{type(estimator).__name__} has n_components={estimator.n_components!r} but "
            f"components_ has {n_hidden} rows; set n_components back to {n_hidden} or "
            "refit the model.")


def check_count_setting(estimator, name, fitted, minimum=1):
    """The estimator's parameter ``name``, a count, where it is an integer >=
    ``minimum``; otherwise a ValueError that says to set it back to ``fitted``
    (its value at the fit; None where not known) or refit.

    Only training validates the parameters (scikit-learn's checks): the other
    calls compare the fitted arrays with such counts and size arrays by them.
    n_components=4.0 passed the comparison with the fitted 4 (4 == 4.0), then
    failed in sample ("'float' object cannot be interpreted as an integer");
    n_temperatures=0 divided by zero.  A bool is no count (True == 1).

    Parameters
    ----------
    estimator : estimator
        A fitted model.
    name : str
        The parameter.
    fitted : int or None
        Its value at the fit, for the message.
    minimum : int, default=1
        Its least valid value.

    Returns
    -------
    value : int
        The parameter's value.
    """
    value = getattr(estimator, name)
    if isinstance(value, Integral) and not isinstance(value, bool) and value >= minimum:
        return value
    back = f"back to {fitted}" if fitted is not None else "back to its value at the fit"
    raise ValueError(
        f"{type(estimator).__name__} has {name}={value!r} ({type(value).__name__}), but "
        f"{name} must be an int >= {minimum}; set {name} {back} or refit the model.")


def _pt_temperatures(estimator, n_chains):
    """``n_temperatures`` of a model whose ``method`` is "pt", checked as a count
    (``check_count_setting``); where the fit was by another method, the
    refusal names the method (set n_temperatures back to what was no
    setting of that fit)."""
    fitted = fitted_n_temperatures(estimator)
    value = estimator.n_temperatures
    layout = fitted_layout(estimator)
    if fitted is None and layout is not None and not (
            isinstance(value, Integral) and not isinstance(value, bool) and value >= 2):
        raise ValueError(
            f"{type(estimator).__name__} was fitted with method={layout[0]!r}, but method is "
            f"now 'pt' with n_temperatures={value!r}, which must be an int >= 2; set "
            f"method={layout[0]!r} back, or n_temperatures to an int >= 2, or refit the model.")
    return check_count_setting(estimator, "n_temperatures", fitted, minimum=2)


def _check_chain_count(estimator, n_chains, n_temperatures):
    """Training goes on with the persistent chains it has (``h_samples_``, n_chains
    of them): a chain count set since the fit (``n_chains``, or ``batch_size``
    with ``n_chains=None``, or a method or ``n_temperatures`` that needs another
    count) while the chains are still the fit's is refused, not silently
    ignored.  Chains assigned to ``h_samples_`` since, of any count, are the
    user's choice (and models saved before the record are not checked)."""
    at_fit = getattr(estimator._training, "chains_at_fit", None)
    # CD's chains start at the data; chains other than the fit's were assigned.
    if estimator.method == "cd" or n_chains != at_fit:
        return
    asked = estimator.n_chains if estimator.n_chains is not None else estimator.batch_size
    if asked * n_temperatures == at_fit:
        return
    refuse_layout_change(estimator, n_chains)  # the method or n_temperatures changed
    setting = (f"n_chains={asked}" if estimator.n_chains is not None
               else f"n_chains=None with batch_size={asked}")
    if fitted_method(estimator) == "cd":
        raise ValueError(cd_chains_message(estimator, n_chains, "the chain count changed"))
    if estimator.method == "pt":
        setting += f" and n_temperatures={n_temperatures} ({asked * n_temperatures} chains)"
    # (The chains passed the check of blocks of n_temperatures: this divides.)
    back = f"n_chains={at_fit // n_temperatures}"
    if estimator.method == "pt":
        back += f" (with n_temperatures={n_temperatures})"
    raise ValueError(
        f"{type(estimator).__name__} has {setting}, but was fitted with {at_fit} "
        "persistent chains: training goes on with the chains it has. Set "
        f"{back} to continue it, or fit it anew (warm_start=False) to train with the "
        "new ones.")


def _check_types(estimator):
    """The layer and training objects are of the types this model builds."""
    name = type(estimator).__name__
    for attribute, expected in (("_visible_unit", estimator._visible_type),
                                ("_hidden_unit", estimator._hidden_type),
                                ("_training", TrainingState)):
        value = getattr(estimator, attribute)
        fitted_hidden = getattr(value, "name", None)
        if (attribute == "_hidden_unit" and not isinstance(value, expected)
                and isinstance(value, HiddenLayer) and isinstance(fitted_hidden, str)):
            # set_params(hidden=...) after fit: say so, not just "refit".
            asked = estimator.hidden
            raise ValueError(
                f"{name} has hidden={asked!r} but was fitted with "
                f"hidden={fitted_hidden!r}; set hidden back to {fitted_hidden!r} to use "
                f"or continue this model, or fit it anew (warm_start=False) to train "
                f"hidden={asked!r} units.")
        if not isinstance(value, expected):
            raise ValueError(f"{name}.{attribute} must be a {expected.__name__}, got "
                             f"{type(value).__name__}; refit the model.")


def check_n_features(estimator, unit, n_columns):
    """n_features_in_ is a count that gives the parameters' width."""
    name = type(estimator).__name__
    n_features = getattr(estimator, "n_features_in_", None)
    if not (isinstance(n_features, Integral) and not isinstance(n_features, bool)
            and n_features >= 1):
        raise ValueError(f"{name}.n_features_in_ must be a positive integer, got "
                         f"{n_features!r}; refit the model.")
    if unit.n_columns(n_features) != n_columns:
        raise ValueError(
            f"{name}.n_features_in_ is {n_features}, which needs "
            f"{unit.n_columns(n_features)} visible columns, but components_ has "
            f"{n_columns}; refit the model.")
    names = getattr(estimator, "feature_names_in_", None)
    if names is not None and not (isinstance(names, np.ndarray) and names.shape == (n_features,)):
        raise ValueError(f"{name}.feature_names_in_ must be an array of {n_features} names; "
                         "refit the model.")


def own_array(estimator, attribute, writeable=True):
    """The attribute as a C-contiguous ndarray, writeable if ``writeable`` (stored
    back if copied).

    The kernel and NumPy read the parameters in place, so inference needs
    them C-contiguous only; training writes them, so only it (``writeable``)
    needs a writeable copy of a read-only array.  A model loaded by
    ``joblib.load(path, mmap_mode="r")`` thus predicts from the shared,
    memory-mapped parameters: each process (or thread) no longer made a
    private copy of them on its first call.
    """
    value = getattr(estimator, attribute)
    if not isinstance(value, np.ndarray) or isinstance(value, (np.ma.MaskedArray, np.matrix)):
        what = (f"a plain numpy array, got a {type(value).__name__}; assign np.asarray(...) "
                "of it" if isinstance(value, np.ndarray) else
                f"a numpy array, got {type(value).__name__}; refit the model or assign an "
                "array")
        raise ValueError(f"{type(estimator).__name__}.{attribute} must be {what}.")
    ready = kernel_ready(value, writeable)
    if ready is not value:
        setattr(estimator, attribute, ready)
    return ready


def kernel_ready(value, writeable=True):
    """``value``, or where it is an array the kernel cannot take as it is (not
    C-contiguous, in the other byte order, or, with ``writeable``, read-only)
    a native, C-ordered, writeable copy; anything else as it is.

    The one rule for the fitted arrays the kernel reads: ``own_array``
    (the public ones) and ``own_kernel_arrays`` (the layers' and the
    training state's) apply it.  A masked array or matrix is left as it is,
    for the checks to refuse by name: a copy would drop its mask silently.
    """
    if isinstance(value, np.ndarray) and not isinstance(value, (np.ma.MaskedArray, np.matrix)) \
            and not (value.flags.c_contiguous and value.dtype.isnative
                     and (value.flags.writeable or not writeable)):
        return _native_c_copy(value)
    return value


def _native_c_copy(value):
    """A C-ordered, writeable copy of the array in the machine's byte order.

    A model saved on a machine of the other byte order (a pickle, joblib or
    skops file from a big-endian host) holds ``>f8`` arrays: the same
    float64 values, which the dtype checks (``float64`` is the native
    ``<f8`` here) and the kernel took for another type.  The copy changes
    the order of the bytes only, never the precision.
    """
    return np.array(value, dtype=value.dtype.newbyteorder("="), order="C")


def own_kernel_arrays(owner, writeable):
    """Replace each array attribute of ``owner`` that the kernel cannot take as
    it is by its ``kernel_ready`` copy.

    Run on the layers and the training state twice: before their checks with
    ``writeable=False``, so that arrays in the other byte order (a model saved
    on a big-endian machine) are compared as the same dtype they are, and,
    for training, after them with ``writeable=True``.  The kernel reads these
    arrays (Gaussian sigma, dReLU, the velocities) C-contiguous and training
    updates them in place; it refuses other arrays with its own argument
    names ("state.W_velocity must be writable"), which tell the user nothing:
    a model loaded by ``joblib.load(path, mmap_mode="r")`` holds only
    read-only arrays and could be used but never trained on.  Read-only
    arrays are copied for training only, so that other calls leave a
    memory-mapped model's arrays shared; a normally fitted model has nothing
    to copy.
    """
    for attribute, value in vars(owner).items():
        ready = kernel_ready(value, writeable)
        if ready is not value:
            setattr(owner, attribute, ready)


#: Training diverged once the energy scale sum|W| + sum|b| + sum|c| (which
#: bounds |E(v, h)| over binary states) reaches 2**52 = 1 / eps(float64):
#: every likelihood here is computed in float64, where energies that large
#: carry rounding errors of a nat or more, so log p(x) and log Z mean nothing
#: (and a few more such updates overflow to inf).  Scoring such a model is
#: refused too (``check_energy_scale``).
MAX_ENERGY_SCALE = 2.0 ** 52


#: The density models' parameters that ``energy_scale`` sums.
ENERGY_PARAMETERS = ("components_", "intercept_visible_", "intercept_hidden_")


def model_energy_scale(model):
    """``energy_scale`` of the model's parameters and its layers' own."""
    own = model._visible_unit.learned_arrays() + model._hidden_unit.learned_arrays()
    return energy_scale([getattr(model, name) for name in ENERGY_PARAMETERS], own)


def check_energy_scale(model, scale=None, parameters=ENERGY_PARAMETERS):
    """Raise ValueError where the model's energy scale is past ``MAX_ENERGY_SCALE``
    (assigned or loaded parameters: training stops before it): its log Z,
    log-likelihoods and exact draws would be rounding noise (a
    CategoricalRBM with every weight 1e20, the distribution of W = 0,
    scored log p = 0 for every row).

    ``scale`` is ``model_energy_scale(model)`` where None; a model of other
    parameters (``RBMClassifier``) passes its own scale and the names of
    the attributes it sums, of which the message names the largest."""
    scale = model_energy_scale(model) if scale is None else scale
    if scale < MAX_ENERGY_SCALE:
        return
    size = f"{scale:.3g}" if math.isfinite(scale) else "more than the largest float64"
    with np.errstate(over="ignore"):
        sums = {name: absolute_sum(getattr(model, name)) for name in parameters}
    largest = max(sums, key=lambda name: sums[name] if sums[name] == sums[name] else math.inf)
    raise ValueError(
        f"{type(model).__name__}'s parameters have an energy scale (sum of their absolute "
        f"values) of {size}, most of it in {largest}, past 2**52 = 4.5e15, where float64 "
        "cannot resolve log-likelihoods to within a nat: log Z and log p would be rounding "
        "noise, and training stops there too. Refit the model, or assign parameters of the "
        "data's scale.")


def energy_scale(parameters, own_arrays):
    """The sum of |a| over the energy's coupling and bias arrays (W, b, c; an
    ``RBMClassifier``'s class weights and biases too), in float64: NaN or inf
    if one of them is.

    The layers' own arrays (the Gaussian's sigma, dReLU potentials) count
    only when they are not finite.
    """
    with np.errstate(over="ignore"):
        scale = float(sum(absolute_sum(a) for a in parameters))
    if not all(np.all(np.isfinite(a)) for a in own_arrays):
        return math.nan
    return scale


#: Reductions over the parameters read them in blocks of about this many
#: bytes, so that checking W after every pass needs no copy of W.
REDUCTION_BLOCK_BYTES = 4 * 2**20


def absolute_sum(a):
    """sum |a| in float64, over blocks of rows (no temporary of a's size)."""
    flat = a.reshape(-1)
    step = max(1, REDUCTION_BLOCK_BYTES // flat.itemsize)
    return sum(float(np.abs(flat[start : start + step]).sum(dtype=np.float64))
               for start in range(0, flat.shape[0], step))
