"""The estimator plumbing shared by every RBM in this library.

``BaseRBM`` owns validation, the minibatch loop, the optimiser state, the
persistent chains, scoring and sampling.  A concrete model only names its
visible-unit type (see ``rbm._visible``) and documents itself.
"""

import hashlib
import math
import os
from numbers import Integral, Real
from types import SimpleNamespace

import numpy as np
import scipy.sparse as sp
from sklearn.base import (
    BaseEstimator,
    ClassNamePrefixFeaturesOutMixin,
    TransformerMixin,
    _fit_context,
)
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.extmath import safe_sparse_dot
from sklearn.utils.validation import check_is_fitted, validate_data
from threadpoolctl import threadpool_limits

from . import _gibbs
from ._visible import kernel_visible
from ._monitor import TrainingMonitor, epoch_learning_rate, epoch_momentum, format_epoch
from ._partition import ais_log_partition, exact_cost, exact_log_partition
from ._visible import sigmoid, softplus

#: Moving-average rate of the centering offsets (Melchior et al. 2016 use 0.01).
CENTERING_RATE = 0.01

#: ``n_iter="auto"``: about this many minibatch updates, in at least and at
#: most these many epochs (4,762 epochs of digits' 1,257 training rows at
#: batch 20; 100 epochs of 60,000 rows).
AUTO_UPDATES = 300_000
AUTO_EPOCHS = (10, 5000)

#: ``log_partition(method="auto")`` enumerates exactly when the enumeration
#: costs at most this many floating-point operations (a few seconds).
AUTO_EXACT_MAX_FLOPS = 5e10

#: Training diverged once the energy scale sum|W| + sum|b| + sum|c| (which
#: bounds |E(v, h)| over binary states) reaches 2**52 = 1 / eps(float64):
#: every likelihood here is computed in float64, where energies that large
#: carry rounding errors of a nat or more, so log p(x) and log Z mean nothing
#: (and a few more such updates overflow to inf).
MAX_ENERGY_SCALE = 2.0 ** 52

#: Largest step or thread count the kernel accepts (a C int).
_C_INT_MAX = 2 ** 31 - 1

# Purposes of the independent random streams drawn from one random_state.
_TRAINING, _GIBBS, _SAMPLING_START, _SAMPLING_CHAINS, _AIS, _SHUFFLE = range(6)


class DivergenceError(ValueError):
    """Training made the parameters non-finite or too large for float64 likelihoods.

    The cause is a learning rate too large for the data; the model keeps the
    parameters it had before the failing pass.
    """


class ChainStreams:
    """Random streams for chains: stream ``j`` serves the ``j``-th chunk of rows.

    Stream ``j`` is ``SFC64(SeedSequence(entropy, spawn_key=(purpose, j)))``,
    so it depends only on the seed, the purpose and ``j``, never on how many
    threads run the chunks.
    """

    def __init__(self, entropy, purpose):
        self.entropy = entropy
        self.purpose = purpose
        self.bitgens = []

    def for_rows(self, n_rows):
        """The streams needed to sample ``n_rows`` chain rows."""
        needed = _gibbs.n_streams_for(n_rows)
        while len(self.bitgens) < needed:
            self.bitgens.append(self._new_stream(len(self.bitgens)))
        return self.bitgens[:needed]

    def _new_stream(self, j):
        seq = np.random.SeedSequence(self.entropy, spawn_key=(self.purpose, j))
        return np.random.SFC64(seq)

    # Streams are stored as their state dicts (plain ints and arrays) rather
    # than as bit generator objects, so that skops can save them and load
    # them without trusting numpy's pickling helpers; pickle uses the same.
    def __getstate__(self):
        return {
            "entropy": self.entropy,
            "purpose": self.purpose,
            "stream_states": [bitgen.state for bitgen in self.bitgens],
        }

    def __setstate__(self, state):
        self.entropy = state["entropy"]
        self.purpose = state["purpose"]
        self.bitgens = []
        for j, stream_state in enumerate(state["stream_states"]):
            bitgen = self._new_stream(j)
            bitgen.state = stream_state
            self.bitgens.append(bitgen)


def generator_for(entropy, purpose):
    """A numpy Generator for a purpose that needs no per-chunk streams."""
    return np.random.Generator(
        np.random.SFC64(np.random.SeedSequence(entropy, spawn_key=(purpose,)))
    )


def draw_entropy(random_state):
    """128 bits of seed material drawn from a scikit-learn random_state."""
    words = check_random_state(random_state).randint(0, 2**32, size=4, dtype=np.uint64)
    return [int(w) for w in words]


def effective_n_threads(n_jobs):
    """Threads to use for ``n_jobs`` (None or -1: every core available to us)."""
    try:
        n_cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        n_cpus = os.cpu_count() or 1
    if n_jobs is None:
        return n_cpus
    if n_jobs < 0:
        return max(1, n_cpus + 1 + n_jobs)
    return n_jobs


def is_count(value, upper=None):
    """Whether value is an integer >= 1 (and <= upper), bools excluded."""
    return (isinstance(value, Integral) and not isinstance(value, bool) and value >= 1
            and (upper is None or value <= upper))


def even_batch_ends(n_samples, batch_size):
    """End offsets of ceil(n / batch_size) batches whose sizes differ by at most one."""
    n_batches = max(1, math.ceil(n_samples / batch_size))
    sizes = np.full(n_batches, n_samples // n_batches, dtype=np.intp)
    sizes[: n_samples % n_batches] += 1
    return np.cumsum(sizes).astype(np.intp)


#: Parameter documentation shared by every model (see ``document_training``).
TRAINING_PARAMETERS_DOC = """\
    centering : bool, default=False
        Centered gradient (Melchior, Fischer & Wiskott 2016): offsets for
        the visible and hidden units follow moving averages of the data
        (rate 0.01), and the update is written back to the plain parameters.
        It helps short, constant-rate training (tested on digits with
        scikit-learn's settings) but cost 0.1 nats with the default
        long, decayed training (digits, 20 hidden units: mean -17.94
        against -17.83 over seeds 0-4), so it is off by default.
    learning_rate_schedule : {"constant", "linear", "exponential"}, default="linear"
        Learning rate per epoch of ``fit``: constant; decayed linearly to 0;
        or multiplied by a constant factor down to 1% of it.
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the rows and stop when the
        validation log-likelihood has not improved by ``tol`` for
        ``n_iter_no_change`` checks; the best parameters are restored.
    validation_fraction : float in (0, 1), default=0.1
        Held-out share of the rows for early stopping.
    n_iter_no_change : int, default=10
        Checks without improvement before early stopping stops.
    tol : float, default=1e-3
        Smallest improvement in nats that counts for early stopping.
    n_temperatures : int, default=10
        Inverse temperatures of parallel tempering (``method="pt"``),
        evenly spaced from 1 to 0.
    l1_weight_decay : float, default=0.0
        L1 penalty on the weights, applied as a soft-thresholding step.
    sparsity_target : float in (0, 1), default=0.1
        Target mean activation of the hidden units (Hinton 2010).
    sparsity_cost : float, default=0.0
        Strength of the sparsity penalty; 0 turns it off.
    momentum_warmup : float in [0, 1), default=0.1
        Fraction of the epochs of ``fit`` that run without momentum before
        ``momentum`` takes over, rounded up to whole epochs (so a fit of
        fewer than 10 epochs starts with one epoch without it; 0 turns the
        warm-up off).  ``partial_fit`` always uses ``momentum``.  Early
        steps are the largest, and with momentum they can throw the model
        into a poor optimum: on the mushrooms data, BernoulliRBM at learning
        rate 0.06 with momentum 0.5 from the start ended 2 nats worse on
        two seeds of six; with this warm-up none of nine seeds did.
"""

#: Attribute documentation shared by every model.
TRAINING_ATTRIBUTES_DOC = """\
    history_ : dict of lists
        Per-epoch figures of the last ``fit``: ``epoch``, ``seconds``,
        ``learning_rate``, ``momentum``, ``reconstruction_error``,
        ``free_energy_data``, ``free_energy_chains``, ``log_likelihood_train``
        and ``log_likelihood_validation`` (NaN where not computed) and
        ``swap_rate`` (parallel tempering).
    n_iter_ : int
        Epochs run by the last ``fit`` (fewer than ``n_iter`` after early
        stopping).
    best_epoch_, best_validation_score_ : int, float
        With early stopping: the epoch whose parameters were kept, and its
        validation log-likelihood.
    swap_rates_ : ndarray of shape (n_temperatures - 1,)
        With ``method="pt"``: acceptance rate of swaps between neighbouring
        temperatures.
"""


def document_training(cls):
    """Fill the shared parameter and attribute sections into a model's docstring."""
    cls.__doc__ = (cls.__doc__
                   .replace("    %(training_parameters)s\n", TRAINING_PARAMETERS_DOC)
                   .replace("    %(training_attributes)s\n", TRAINING_ATTRIBUTES_DOC))
    return cls


class _EarlyStopping:
    """Stop when the validation log-likelihood stops improving; keep the best.

    Counts likelihood checks (not epochs) without an improvement of more than
    ``tol`` nats over the best so far; after ``n_iter_no_change`` of them,
    training stops, and ``restore_best`` puts back the parameters, optimiser
    state and chains of the best check.
    """

    def __init__(self, model):
        self.model = model
        self.best_score = -math.inf
        self.best_state = None
        self.checks_without_improvement = 0


    def should_stop(self, row):
        score = row["log_likelihood_validation"]
        if math.isnan(score):
            return False
        if score > self.best_score + self.model.tol:
            self.checks_without_improvement = 0
        else:
            self.checks_without_improvement += 1
        if score > self.best_score:
            self.best_score = score
            self.best_state = [a.copy() for a in self.model._learned_arrays()]
            self.best_epoch = row["epoch"]
        return self.checks_without_improvement >= self.model.n_iter_no_change

    def restore_best(self):
        if self.best_state is None:
            return
        for array, saved in zip(self.model._learned_arrays(), self.best_state):
            array[...] = saved
        self.model.best_epoch_ = self.best_epoch
        self.model.best_validation_score_ = self.best_score
        self.model._log_partition_cache.clear()


class BaseRBM(ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator):
    """Base class for RBMs with Bernoulli hidden units.

    Subclasses set ``_visible`` to a visible-unit type, or override
    ``_layer`` when the type carries fitted parameters of its own.
    """

    _visible = None

    _parameter_constraints = {
        "n_components": [Interval(Integral, 1, None, closed="left")],
        "learning_rate": [Interval(Real, 0, None, closed="neither")],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "n_iter": [Interval(Integral, 0, None, closed="left"), StrOptions({"auto"})],
        "verbose": ["verbose"],
        "random_state": ["random_state"],
        "method": [StrOptions({"cd", "pcd", "pt"})],
        "n_temperatures": [Interval(Integral, 2, None, closed="left")],
        # The kernel takes step and thread counts as C ints.
        "k": [Interval(Integral, 1, _C_INT_MAX, closed="both")],
        "n_chains": [Interval(Integral, 1, None, closed="left"), None],
        "momentum": [Interval(Real, 0, 1, closed="left")],
        "momentum_warmup": [Interval(Real, 0, 1, closed="left")],
        "weight_decay": [Interval(Real, 0, None, closed="left")],
        "l1_weight_decay": [Interval(Real, 0, None, closed="left")],
        "sparsity_target": [Interval(Real, 0, 1, closed="neither")],
        "sparsity_cost": [Interval(Real, 0, None, closed="left")],
        "n_jobs": [Interval(Integral, None, _C_INT_MAX, closed="right"), None],
        "centering": ["boolean"],
        "learning_rate_schedule": [StrOptions({"constant", "linear", "exponential"})],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="left")],
    }

    def __init__(
        self,
        n_components=256,
        *,
        learning_rate=0.06,
        batch_size=20,
        n_iter="auto",
        verbose=0,
        random_state=None,
        method="pcd",
        k=1,
        n_chains=100,
        momentum=0.5,
        weight_decay=5e-4,
        n_jobs=None,
        centering=False,
        learning_rate_schedule="linear",
        early_stopping=False,
        validation_fraction=0.1,
        n_iter_no_change=10,
        tol=1e-3,
        n_temperatures=10,
        l1_weight_decay=0.0,
        sparsity_target=0.1,
        sparsity_cost=0.0,
        momentum_warmup=0.1,
    ):
        self.n_components = n_components
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.n_iter = n_iter
        self.verbose = verbose
        self.random_state = random_state
        self.method = method
        self.k = k
        self.n_chains = n_chains
        self.momentum = momentum
        self.weight_decay = weight_decay
        self.n_jobs = n_jobs
        self.centering = centering
        self.learning_rate_schedule = learning_rate_schedule
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.tol = tol
        self.n_temperatures = n_temperatures
        self.l1_weight_decay = l1_weight_decay
        self.sparsity_target = sparsity_target
        self.sparsity_cost = sparsity_cost
        self.momentum_warmup = momentum_warmup

    # ------------------------------------------------------------------
    # Validation
    # ------------------------------------------------------------------

    def _validate_input(self, X, *, reset, dtype=None):
        """Validated float32/float64 dense array or CSR matrix in the model's domain.

        ``dtype=None`` keeps float32 and float64 as they are when fitting and
        converts to the model's dtype afterwards.
        """
        if getattr(X, "ndim", None) == 2 and X.shape[1] == 0:
            # scikit-learn's own check fails on a DataFrame without columns
            # with "at least one array or dtype is required"; say what it is.
            raise ValueError(
                f"Found array with 0 feature(s) (shape={X.shape}) while a minimum of "
                f"1 is required by {type(self).__name__}."
            )
        if dtype is None:
            fitted = not reset and hasattr(self, "components_")
            dtype = self.components_.dtype if fitted else [np.float64, np.float32]
        X = validate_data(
            self,
            X,
            accept_sparse="csr",
            dtype=dtype,
            ensure_all_finite=False,
            reset=reset,
        )
        if sp.issparse(X) and not X.has_canonical_format:
            # Duplicate entries mean their sum; make that explicit before the
            # domain check and the kernel, which read entries one by one.
            X = X.copy()
            X.sum_duplicates()
        self._layer().check_domain(X, type(self).__name__)
        return X

    def _layer(self):
        """The visible-unit type with the current parameters (see ``rbm._visible``)."""
        return self._visible

    def _initial_visible_state(self, X):
        """Array of visible-type parameters the kernel updates in place, or None."""
        return None

    def _output_states(self, V):
        """Visible states as the user sees them (the internal form by default)."""
        return V

    def _check_n_jobs(self):
        if self.n_jobs == 0:
            raise ValueError(
                "n_jobs == 0 is not a number of threads; use None, -1 or a positive integer."
            )
        return effective_n_threads(self.n_jobs)

    # ------------------------------------------------------------------
    # Initialisation
    # ------------------------------------------------------------------

    def _initialize(self, X):
        """Fresh parameters, optimiser state, chains and random streams for X."""
        dtype = X.dtype
        n_features = X.shape[1]
        self._entropy = draw_entropy(self.random_state)
        init_rng = generator_for(self._entropy, _TRAINING)
        self._data_sum = np.zeros(n_features)
        self._n_data = 0
        # sum / n, not X.mean(): scipy's sparse mean rounds differently.
        mean = np.asarray(X.sum(axis=0), dtype=np.float64).ravel() / X.shape[0]
        weights = 0.01 * init_rng.standard_normal((self.n_components, n_features))
        self.components_ = weights.astype(dtype)
        self.intercept_hidden_ = np.zeros(self.n_components, dtype=dtype)
        self._visible_state = self._initial_visible_state(X)
        self.intercept_visible_ = self._layer().initial_bias(mean).astype(dtype)
        n_chains = self.n_chains if self.n_chains is not None else self.batch_size
        if self.method == "pt":
            n_chains *= self.n_temperatures  # one block of chains per temperature
        self.h_samples_ = np.zeros((n_chains, self.n_components), dtype=dtype)
        self._swap_counts = np.zeros(2 * (self.n_temperatures - 1), dtype=np.int_)
        # Centering offsets: the data mean (of v, or of the one-hot rows) and
        # 1/2 for the hidden units; the kernel moves them with the batches.
        self._offsets = (mean.astype(dtype), np.full(self.n_components, 0.5, dtype))
        # Running mean activation of the hidden units for the sparsity penalty.
        self._hidden_activity = np.full(self.n_components, 0.5, dtype)
        self._velocity = (
            np.zeros_like(self.components_),
            np.zeros_like(self.intercept_visible_),
            np.zeros_like(self.intercept_hidden_),
        )
        self._training_streams = ChainStreams(self._entropy, _TRAINING)
        self._gibbs_streams = ChainStreams(self._entropy, _GIBBS)
        self._shuffle_rng = generator_for(self._entropy, _SHUFFLE)
        self._log_partition_cache = {}

    # ------------------------------------------------------------------
    # Training
    # ------------------------------------------------------------------

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Fit the model to X by CD-k, PCD-k or parallel tempering.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training data, float32 or float64 (float32 stays float32).
        y : Ignored
            Not used, present for API consistency.

        Returns
        -------
        self : object
            The fitted model.
        """
        X = self._validate_input(X, reset=True)
        n_threads = self._check_n_jobs()
        X, X_valid = self._validation_split(X)
        self._initialize(X)
        self._accumulate_data_statistics(X)
        data = self._kernel_data(X)
        n_epochs = self._planned_epochs(X.shape[0])
        monitor = TrainingMonitor(self, X, X_valid, n_epochs)
        stopper = _EarlyStopping(self) if self.early_stopping else None
        self.n_iter_ = 0
        with threadpool_limits(limits=n_threads, user_api="blas"):
            for epoch in range(n_epochs):
                learning_rate = epoch_learning_rate(
                    self.learning_rate_schedule, self.learning_rate, epoch, n_epochs)
                # During the warm-up the kernel leaves the weights' velocity
                # alone (it is 0 when momentum starts) but keeps the biases'.
                momentum = epoch_momentum(self.momentum, self.momentum_warmup, epoch, n_epochs)
                order = self._shuffle_rng.permutation(X.shape[0]).astype(np.intp, copy=False)
                self._run_minibatches(data, order, n_threads, learning_rate, momentum)
                self.n_iter_ = epoch + 1
                row = monitor.record(epoch, learning_rate, momentum)
                if self._reports_epoch(epoch, n_epochs):
                    print(format_epoch(type(self).__name__, row, n_epochs), flush=True)
                if stopper is not None and stopper.should_stop(row):
                    break
        self.history_ = monitor.history
        if stopper is not None:
            stopper.restore_best()
        return self

    def _planned_epochs(self, n_samples):
        """Epochs of ``fit`` on n_samples training rows: ``n_iter``, or its "auto" plan.

        "auto" plans about ``AUTO_UPDATES`` minibatch updates, within
        ``AUTO_EPOCHS`` epochs: a density model needs about as many updates
        whatever the data size (on digits, held-out likelihood peaks near
        300,000, see the README), and a small data set then gets many epochs.
        """
        if self.n_iter != "auto":
            return self.n_iter
        n_batches = len(even_batch_ends(n_samples, self.batch_size))
        low, high = AUTO_EPOCHS
        return int(min(high, max(low, math.ceil(AUTO_UPDATES / n_batches))))

    def _validation_split(self, X):
        """(training rows, validation rows or None) for early stopping."""
        if not self.early_stopping:
            return X, None
        n_valid = int(round(self.validation_fraction * X.shape[0]))
        if n_valid < 1 or n_valid >= X.shape[0]:
            raise ValueError(
                f"early_stopping needs validation and training rows, but "
                f"validation_fraction={self.validation_fraction} of {X.shape[0]} "
                "samples leaves one side empty; give more samples or change "
                "validation_fraction."
            )
        rng = check_random_state(self.random_state)
        order = np.random.default_rng(rng.randint(2**32)).permutation(X.shape[0])
        return X[np.sort(order[n_valid:])], X[np.sort(order[:n_valid])]

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y=None):
        """Run one pass of minibatch updates over X, in the given row order.

        The first call initialises the model from X; later calls continue
        training (parameters, momentum and persistent chains carry over).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training data.
        y : Ignored
            Not used, present for API consistency.

        Returns
        -------
        self : object
            The updated model.
        """
        first_call = not hasattr(self, "components_")
        X = self._validate_input(X, reset=first_call)
        n_threads = self._check_n_jobs()
        if first_call:
            self._initialize(X)
        self._accumulate_data_statistics(X)
        with threadpool_limits(limits=n_threads, user_api="blas"):
            order = np.arange(X.shape[0], dtype=np.intp)
            self._run_minibatches(self._kernel_data(X), order, n_threads)
        return self

    def _accumulate_data_statistics(self, X):
        """Running data marginals: the base distribution of AIS."""
        self._data_sum += np.asarray(X.sum(axis=0), dtype=np.float64).ravel()
        self._n_data += X.shape[0]

    def _kernel_data(self, X):
        """X as the kernel reads it: (dense, csr_data, csr_indices, csr_indptr, is_sparse).

        Made once per fit, so C-order and index copies are not repeated
        every epoch; the unused representation is a one-element dummy.
        """
        dtype = self.components_.dtype
        if sp.issparse(X):
            return (np.zeros((1, 1), dtype=dtype), X.data,
                    # Column indices as SciPy keeps them (int32 or intp):
                    # converting would copy the largest part of the input.
                    X.indices if X.indices.dtype in (np.intc, np.intp)
                    else X.indices.astype(np.intp),
                    X.indptr.astype(np.intp, copy=False), True)
        dummy_index = np.zeros(1, dtype=np.intp)
        return (np.ascontiguousarray(X), np.zeros(1, dtype=dtype), dummy_index,
                dummy_index, False)

    def _run_minibatches(self, data, order, n_threads, learning_rate=None, momentum=None):
        """One pass of minibatch updates over rows ``order`` of the kernel data.

        Afterwards the parameters must be finite with an energy scale below
        ``MAX_ENERGY_SCALE``; otherwise the pass is undone and
        DivergenceError raised.
        ``learning_rate`` and ``momentum`` default to the parameters (``fit``
        passes those of its schedule and warm-up).
        """
        if learning_rate is None:
            learning_rate = self.learning_rate
        if momentum is None:
            momentum = self.momentum
        method = {"cd": _gibbs.METHOD_CD, "pcd": _gibbs.METHOD_PCD,
                  "pt": _gibbs.METHOD_PT}[self.method]
        batch_ends = even_batch_ends(len(order), self.batch_size)
        max_batch = int(np.max(np.diff(batch_ends, prepend=0)))
        if self.method == "pt":
            # A set of streams per temperature block, and one for the swaps.
            block = self.h_samples_.shape[0] // self.n_temperatures
            n_streams = _gibbs.n_streams_for(block) * self.n_temperatures + 1
            streams = self._training_streams.for_rows(n_streams * _gibbs.CHUNK_ROWS)
        else:
            n_chain_rows = self.h_samples_.shape[0] if self.method == "pcd" else max_batch
            streams = self._training_streams.for_rows(n_chain_rows)
        layer = self._layer()
        snapshot = [a.copy() for a in self._learned_arrays()]
        offset_rate = CENTERING_RATE if self.centering else 0.0
        dtype = self.components_.dtype
        # --- adapter to the kernel's argument objects (replaced at merge) ---
        W, b, c, W_velocity, b_velocity, c_velocity, chains = self._training_state()
        X, csr_data, csr_indices, csr_indptr, sparse = data
        batches = SimpleNamespace(
            X=None if sparse else X, csr_data=csr_data if sparse else None,
            csr_indices=csr_indices if sparse else None,
            csr_indptr=csr_indptr if sparse else None, order=order, ends=batch_ends)
        params = SimpleNamespace(W=W, b=b, c=c)
        state = SimpleNamespace(
            W_velocity=W_velocity, b_velocity=b_velocity, c_velocity=c_velocity,
            chains=chains, visible_offset=self._offsets[0], hidden_offset=self._offsets[1],
            hidden_activity=self._hidden_activity,
            swap_counts=self._swap_counts if self.method == "pt" else None)
        update = SimpleNamespace(
            method=method, k=int(self.k), learning_rate=float(learning_rate),
            momentum=float(momentum), weight_decay=float(self.weight_decay),
            l1_weight_decay=float(self.l1_weight_decay),
            sparsity_target=float(self.sparsity_target),
            sparsity_cost=float(self.sparsity_cost), offset_rate=offset_rate,
            betas=self._pt_betas() if self.method == "pt" else None,
            base_bias=(self._base_visible_bias().astype(dtype) if self.method == "pt"
                       else None))
        visible = kernel_visible(layer, dtype, self._learns_visible_state())
        _gibbs.train_minibatches(batches, params, state, update, visible, streams,
                                 int(n_threads))
        # --- end of adapter ---
        scale = self._energy_scale()
        if not scale < MAX_ENERGY_SCALE:  # NaN fails this too
            message = self._divergence_message(scale)  # from the diverged parameters
        else:
            message = self._runaway_message()
        if message is not None:
            for array, saved in zip(self._learned_arrays(), snapshot):
                array[...] = saved
            raise DivergenceError(message)
        self._log_partition_cache.clear()

    def _energy_scale(self):
        """sum |W| + sum |b| + sum |c| in float64: NaN or inf if a parameter is.

        Visible-type parameters (the Gaussian's sigma) count only when they
        are not finite.
        """
        with np.errstate(over="ignore"):
            scale = float(sum(np.abs(a).sum(dtype=np.float64) for a in
                              (self.components_, self.intercept_visible_,
                               self.intercept_hidden_)))
        if self._visible_state is not None and not np.all(np.isfinite(self._visible_state)):
            return math.nan
        return scale

    def _divergence_message(self, scale):
        """What diverged (given the current parameters' energy scale) and what to do."""
        params = (self.components_, self.intercept_visible_, self.intercept_hidden_)
        if self._visible_state is not None:
            params = params + (self._visible_state,)
        if not all(np.all(np.isfinite(a)) for a in params):
            what = "the parameters became non-finite"
        else:
            size = f"{scale:.3g}" if math.isfinite(scale) else "more than the largest float64"
            what = (f"the parameters grew to an energy scale (sum of their absolute "
                    f"values) of {size}, above 2**52 = 4.5e15, where float64 cannot resolve "
                    "log-likelihoods to within a nat")
        return (
            f"{type(self).__name__} diverged: {what}, with learning_rate="
            f"{self.learning_rate}. The model keeps its parameters from before this "
            "pass over the data; lower the learning rate (for example by a factor of "
            "10) and fit again."
        )

    def _runaway_message(self):
        """A divergence message for parameters that are sound by the energy-scale
        bound but already runaway for this visible type, or None (the default)."""
        return None

    def _pt_betas(self):
        """Inverse temperatures of parallel tempering: evenly spaced from 1 to 0.

        The beta = 0 chains sample the independent model of the data
        marginals exactly, so they feed the ladder with fresh modes.
        """
        return np.linspace(1.0, 0.0, self.n_temperatures)

    @property
    def swap_rates_(self):
        """Acceptance rate of replica swaps between temperatures t and t + 1 (PT)."""
        if self.method != "pt" or not hasattr(self, "_swap_counts"):
            raise AttributeError("swap_rates_ is set by fitting with method='pt'")
        pairs = self.n_temperatures - 1
        accepted, proposed = self._swap_counts[:pairs], self._swap_counts[pairs:]
        return accepted / np.maximum(proposed, 1)

    def _learns_visible_state(self):
        """Whether the kernel updates the visible-type parameters (Gaussian sigma)."""
        return False

    def _learned_arrays(self):
        """Every array training changes: what a divergence rollback or early
        stopping saves and restores."""
        arrays = self._training_state() + self._offsets + (self._hidden_activity,)
        if self._visible_state is not None:
            arrays = arrays + (self._visible_state,)
        return arrays

    def _training_state(self):
        """The arrays the kernel updates in place, in its argument order."""
        W_velocity, b_velocity, c_velocity = self._velocity
        return (
            self.components_, self.intercept_visible_, self.intercept_hidden_,
            W_velocity, b_velocity, c_velocity, self.h_samples_,
        )

    def _reports_epoch(self, epoch, n_epochs):
        """verbose=1: about 20 evenly spaced epochs and the last; verbose>=2: every one."""
        if not self.verbose:
            return False
        every = 1 if self.verbose > 1 else max(1, n_epochs // 20)
        return epoch == 0 or (epoch + 1) % every == 0 or epoch + 1 == n_epochs

    # ------------------------------------------------------------------
    # Inference
    # ------------------------------------------------------------------

    def _hidden_field(self, X):
        """c + W s(x) for each row of validated X, in the dtype of X."""
        W = self.components_.astype(X.dtype, copy=False)
        c = self.intercept_hidden_.astype(X.dtype, copy=False)
        S = self._layer().hidden_input(X)
        return safe_sparse_dot(S, W.T, dense_output=True) + c

    def _hidden_probabilities(self, X):
        return sigmoid(self._hidden_field(X))

    def transform(self, X):
        """Hidden unit probabilities p(h_j = 1 | x).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Data to transform.

        Returns
        -------
        H : ndarray of shape (n_samples, n_components)
            Hidden activation probabilities, in the dtype of X.
        """
        check_is_fitted(self)
        X = self._validate_input(X, reset=False, dtype=[np.float64, np.float32])
        return self._hidden_probabilities(X)

    def _check_fitted_input(self, X):
        check_is_fitted(self)
        return self._validate_input(X, reset=False)

    def gibbs(self, v):
        """One block-Gibbs step from v: sample h ~ p(h | v), then v' ~ p(v | h).

        Parameters
        ----------
        v : array-like of shape (n_samples, n_features)
            Visible states to start from.

        Returns
        -------
        v_new : ndarray of shape (n_samples, n_features)
            Visible states after one step.
        """
        V = self._check_fitted_input(v)
        V = np.array(V.toarray() if sp.issparse(V) else V, dtype=self.components_.dtype, order="C")
        self._run_chains(V, 1, self._gibbs_streams)
        return self._output_states(V)

    def sample(self, n_samples=1, *, n_steps=1000, random_state=None):
        """Draw visible samples from the model by block-Gibbs sampling.

        Each sample comes from its own chain, started from the data
        marginals and run for ``n_steps`` full Gibbs steps.

        Parameters
        ----------
        n_samples : int, default=1
            Number of samples (independent chains).
        n_steps : int, default=1000
            Gibbs steps per chain before its state is returned.
        random_state : int, RandomState instance or None, default=None
            Seed for the chains; None uses the estimator's ``random_state``.

        Returns
        -------
        X : ndarray of shape (n_samples, n_features)
            Samples from the model.
        """
        check_is_fitted(self)
        if not is_count(n_samples):
            raise ValueError(f"n_samples must be a positive integer, got {n_samples!r}.")
        if not is_count(n_steps, _C_INT_MAX):
            raise ValueError(
                f"n_steps must be a positive integer at most {_C_INT_MAX}, got {n_steps!r}."
            )
        seed = random_state if random_state is not None else self.random_state
        entropy = draw_entropy(seed)
        dtype = self.components_.dtype
        start_rng = generator_for(entropy, _SAMPLING_START)
        field = np.broadcast_to(self._base_visible_bias(), (n_samples, self.components_.shape[1]))
        V = np.ascontiguousarray(self._layer().sample(field.astype(dtype), start_rng))
        self._run_chains(V, n_steps, ChainStreams(entropy, _SAMPLING_CHAINS))
        return self._output_states(V)

    def _run_chains(self, V, n_steps, streams):
        """Advance chains starting at visible states V (in place) by n_steps."""
        n_threads = self._check_n_jobs()
        rows = V.shape[0]
        H = np.empty((rows, self.n_components), dtype=V.dtype)
        P = np.empty_like(H)
        layer = self._layer()
        S = layer.to_kernel(V)
        # --- adapter to the kernel's argument objects (replaced at merge) ---
        _gibbs.gibbs_chains(
            SimpleNamespace(W=self.components_, b=self.intercept_visible_,
                            c=self.intercept_hidden_),
            kernel_visible(layer, self.components_.dtype), S, H, P, int(n_steps),
            streams.for_rows(rows), int(n_threads),
        )
        V[...] = layer.from_kernel(S)
        return H, P

    def reconstruction_error(self, X):
        """Mean squared error of the mean-field reconstruction E[v | E[h | x]].

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        error : float
            Mean over samples and features of the squared error.
        """
        return self._reconstruction_error(self._check_fitted_input(X))

    def _reconstruction_error(self, X, hidden_field=None):
        """reconstruction_error of validated input (in the internal form).

        ``hidden_field``: ``self._hidden_field(X)`` when the caller has it.
        """
        if hidden_field is None:
            hidden_field = self._hidden_field(X)
        H = sigmoid(hidden_field)
        R = self._layer().mean(H @ self.components_.astype(H.dtype) + self.intercept_visible_)
        Xd = X.toarray() if sp.issparse(X) else X
        return float(np.mean((Xd - R) ** 2))

    # ------------------------------------------------------------------
    # Likelihood
    # ------------------------------------------------------------------

    def free_energy(self, X):
        """Free energy F(x) = -log sum_h exp(-E(x, h)), in float64.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        F : ndarray of shape (n_samples,)
            The free energy of each sample, so that log p(x) = -F(x) - log Z.
        """
        X = self._check_fitted_input(X)
        return self._free_energy(X)

    def _free_energy(self, X, chunk_rows=4096):
        """free_energy of validated input, computed in float64."""
        out = np.empty(X.shape[0])
        for start in range(0, X.shape[0], chunk_rows):
            rows = X[start : start + chunk_rows]
            rows = rows.astype(np.float64) if sp.issparse(rows) else np.asarray(rows, np.float64)
            out[start : start + rows.shape[0]] = self._free_energy_given_field(
                rows, self._hidden_field(rows))
        return out

    def _free_energy_given_field(self, X, hidden_field):
        """Free energy of the rows of X whose hidden field is ``hidden_field``.

        The visible term in the dtype of the field, the softplus terms (and
        their row sums) in float64.
        """
        b = self.intercept_visible_.astype(hidden_field.dtype, copy=False)
        hidden = softplus(hidden_field).sum(axis=1, dtype=np.float64)
        return -self._layer().energy_term(X, b) - hidden

    def _base_visible_bias(self):
        """Visible biases of the independent model fitted to the data marginals."""
        return self._layer().initial_bias(self._data_sum / max(self._n_data, 1))

    def _parameter_fingerprint(self):
        digest = hashlib.blake2b(digest_size=16)
        arrays = [self.components_, self.intercept_visible_, self.intercept_hidden_]
        if self._visible_state is not None:
            arrays.append(self._visible_state)
        for array in arrays:
            digest.update(np.ascontiguousarray(array).tobytes())
        return digest.hexdigest()

    def log_partition(self, method="auto", *, n_chains=100, n_betas=10000, random_state=None):
        """Log of the partition function Z, with its standard error.

        Parameters
        ----------
        method : {"auto", "exact", "ais"}, default="auto"
            "exact" enumerates the smaller layer in chunks (the other is
            summed out in closed form); "ais" uses annealed importance
            sampling from the independent model of the data marginals;
            "auto" is exact when that costs at most ``AUTO_EXACT_MAX_FLOPS``
            floating-point operations, AIS otherwise.
        n_chains : int, default=100
            AIS runs (ignored for exact).
        n_betas : int, default=10000
            AIS inverse temperatures, including 0 and 1 (ignored for exact).
        random_state : int, RandomState instance or None, default=None
            Seed for AIS; None derives one from the fitted model, so repeated
            calls give the same answer.

        Returns
        -------
        log_z : float
            Estimate of log Z in nats.
        std_error : float
            Its standard error (0.0 for exact).
        """
        check_is_fitted(self)
        if method not in ("auto", "exact", "ais"):
            raise ValueError(f"method must be 'auto', 'exact' or 'ais', got {method!r}.")
        if not (isinstance(n_chains, Integral) and n_chains >= 2):
            raise ValueError(f"n_chains must be an integer >= 2 (for a standard error), "
                             f"got {n_chains!r}.")
        if not (isinstance(n_betas, Integral) and n_betas >= 3):
            raise ValueError(f"n_betas must be an integer >= 3, got {n_betas!r}.")
        if method == "auto":
            _, flops = exact_cost(self.components_.shape[1], self.n_components, self._layer())
            method = "exact" if flops <= AUTO_EXACT_MAX_FLOPS else "ais"
        entropy = self._entropy if random_state is None else draw_entropy(random_state)
        # A string key, because skops stores dicts as JSON objects.
        key = f"{method}/{n_chains}/{n_betas}/{entropy}/{self._parameter_fingerprint()}"
        if key not in self._log_partition_cache:
            params = (self.components_, self.intercept_visible_, self.intercept_hidden_)
            if method == "exact":
                result = (exact_log_partition(*params, self._layer()), 0.0)
            else:
                result = ais_log_partition(
                    *params, self._layer(), self._base_visible_bias(),
                    n_chains=n_chains, n_betas=n_betas, rng=generator_for(entropy, _AIS),
                    n_threads=self._check_n_jobs(),
                )
            self._log_partition_cache[key] = result
        return self._log_partition_cache[key]

    def score_samples(self, X):
        """Log-likelihood log p(x) = -F(x) - log Z of each sample, in nats.

        log Z comes from ``log_partition()`` (exact for small models, AIS
        otherwise) and is cached, so repeated calls agree exactly.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        log_p : ndarray of shape (n_samples,)
        """
        F = self.free_energy(X)
        log_z, _ = self.log_partition()
        return -F - log_z

    def score(self, X, y=None):
        """Mean log-likelihood of X in nats per sample (higher is better).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
        y : Ignored

        Returns
        -------
        score : float
        """
        return float(np.mean(self.score_samples(X)))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags

    @property
    def _n_features_out(self):
        """Number of transformed output features."""
        return self.components_.shape[0]
