"""The estimator plumbing shared by every RBM in this library.

``BaseRBM`` owns the scikit-learn side: parameters, validation, fitted
attributes, and the public methods.  What differs between models lives in
the unit objects (``rbm._units``: one class per layer type); how training
runs lives in ``rbm._training`` (the loop), ``rbm._state`` (the state it
changes and its checks) and the compiled kernel; log-partition estimation
in ``rbm._partition``.  A concrete model names its visible type and
documents itself.
"""

import threading
import weakref
from numbers import Integral, Real

import numpy as np
import scipy.sparse as sp
from sklearn.base import (
    BaseEstimator,
    ClassNamePrefixFeaturesOutMixin,
    TransformerMixin,
    _fit_context,
)
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.extmath import safe_sparse_dot
from sklearn.utils.validation import check_is_fitted

from . import _gibbs
from ._blas import single_threaded_blas
from ._conditional import PARTIAL_FIT_BURN_IN, ConditionalMixin
from ._frames import visible_output
from ._ladder import fitted_method, record_chain_layout
from ._likelihood import LikelihoodMixin
from ._params import (BooleanCountsRefused, CachedParamNames, ParamsFilledOnLoad,
                      ValidatedOnChange)
from ._partition import is_gaussian_pair
from ._rollback import unchanged_on_error
from ._state import KernelParams, TrainingState, check_fitted_state, check_training_memory
from ._streams import TRAINING, draw_entropy, generator_for
from ._threads import checked_n_jobs, kernel_threads
from ._training import (AUTO_EPOCHS, AUTO_UPDATES, MAX_ENERGY_SCALE,  # noqa: F401
                        DivergenceError, fit_epochs, partial_fit_pass, planned_epochs,
                        start_gaussian_pair_at_moments)
from ._units import HIDDEN_TYPES, BernoulliVisible, hidden_layer_type
from ._docs import FIT_WEIGHTS_DOC, PARTIAL_FIT_WEIGHTS_DOC, document_fit_parameters
from ._weights import row_count, weighted_column_sum

#: Largest step or thread count the kernel accepts (a C int).
_C_INT_MAX = 2 ** 31 - 1

#: One lock per model's ``gibbs`` streams (a ``ChainStreams``), made on first
#: use: ``gibbs`` calls on one model take turns on its shared streams, those
#: on different models run at once.  Kept beside the streams, not in them, so
#: that a model pickles and stores in skops as before (a lock does neither).
_GIBBS_STREAMS_LOCKS = weakref.WeakKeyDictionary()
_GIBBS_STREAMS_LOCKS_GUARD = threading.Lock()


def _gibbs_streams_lock(streams):
    """The lock of ``streams``, held while a ``gibbs`` call advances them."""
    with _GIBBS_STREAMS_LOCKS_GUARD:
        return _GIBBS_STREAMS_LOCKS.setdefault(streams, threading.Lock())

#: Initial weights are drawn in blocks of rows of about this many bytes.
_INIT_BLOCK_BYTES = 4 * 2**20


def _initial_weights(rng, shape, dtype, unit):
    """0.01 * standard normal weights of ``shape`` in ``dtype``, times the unit's
    ``initial_weight_scale`` per column, in the unit's gauge.

    Drawn in float64 and constrained in blocks of rows, straight into the
    one array of ``dtype``: no float64 copy of W is ever whole.  (The
    Generator draws the same numbers in blocks as at once, and the gauge
    acts on each row alone, so the weights are those of one big draw.)
    """
    W = np.empty(shape, dtype=dtype)
    rows = max(1, _INIT_BLOCK_BYTES // (8 * max(shape[1], 1)))
    scale = unit.initial_weight_scale()
    for start in range(0, shape[0], rows):
        block = 0.01 * rng.standard_normal((min(rows, shape[0] - start), shape[1])) * scale
        W[start : start + block.shape[0]] = unit.constrain(block.astype(dtype))
    return W


class BaseRBM(ValidatedOnChange, BooleanCountsRefused, CachedParamNames, ParamsFilledOnLoad,
              ConditionalMixin, LikelihoodMixin, ClassNamePrefixFeaturesOutMixin,
              TransformerMixin, BaseEstimator):
    """Base class for RBMs: a visible layer of ``_visible_type`` and binary hidden units.

    Fitted state: the public parameters (``components_``, ``intercept_*``,
    ``h_samples_``), the visible and hidden layer objects (``_visible_unit``,
    ``_hidden_unit``) and the ``TrainingState`` (``_training``).
    """

    _visible_type = BernoulliVisible
    _hidden_type = property(hidden_layer_type)
    _integer_parameters = ("n_components", "batch_size", "n_iter", "k", "n_chains", "n_jobs",
                           "n_temperatures", "n_iter_no_change")

    _parameter_constraints = {
        "n_components": [Interval(Integral, 1, None, closed="left")],
        "learning_rate": [Interval(Real, 0, None, closed="neither"), StrOptions({"auto"})],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "shuffle": ["boolean"],
        "visible_bias_init": [StrOptions({"marginals", "zero"})],
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
        "weight_decay": [Interval(Real, 0, None, closed="left"), StrOptions({"auto"})],
        "l1_weight_decay": [Interval(Real, 0, None, closed="left")],
        "l1_squared_weight_decay": [Interval(Real, 0, None, closed="left")],
        "sparsity_target": [Interval(Real, 0, 1, closed="neither")],
        "sparsity_cost": [Interval(Real, 0, None, closed="left")],
        "n_jobs": [Interval(Integral, None, _C_INT_MAX, closed="right"), None],
        "centering": ["boolean"],
        "learning_rate_schedule": [StrOptions({"constant", "linear", "exponential"})],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="left")],
        "on_divergence": [StrOptions({"raise", "warn"})],
        "warm_start": ["boolean"],
        "hidden": [StrOptions(set(HIDDEN_TYPES))], "normalize_hidden": ["boolean"],
        "missing": [StrOptions({"error", "impute"})],
    }

    def __init__(self, n_components=256, *, learning_rate="auto", batch_size=20, shuffle=True,
                 visible_bias_init="marginals", n_iter="auto", verbose=0, random_state=None,
                 method="pcd", k=1, n_chains=100,
                 momentum=0.5, weight_decay="auto", n_jobs=None, centering=False,
                 learning_rate_schedule="linear", early_stopping=False,
                 validation_fraction=0.1, n_iter_no_change=10, tol=1e-3, n_temperatures=10,
                 l1_weight_decay=0.0, l1_squared_weight_decay=0.0,
                 sparsity_target=0.1, sparsity_cost=0.0,
                 momentum_warmup=0.1, on_divergence="raise", warm_start=False, hidden="bernoulli",
                 missing="error", normalize_hidden=False):
        self.n_components = n_components
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.visible_bias_init = visible_bias_init
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
        self.l1_squared_weight_decay = l1_squared_weight_decay
        self.sparsity_target = sparsity_target
        self.sparsity_cost = sparsity_cost
        self.momentum_warmup = momentum_warmup
        self.on_divergence = on_divergence
        self.warm_start, self.hidden = warm_start, hidden
        self.missing, self.normalize_hidden = missing, normalize_hidden

    # ------------------------------------------------------------------
    # Validation
    # ------------------------------------------------------------------

    def _validate_input(self, X, *, reset, dtype=None, unit=None):
        """X validated and in the internal form of the visible layer ``unit``.

        ``dtype=None`` keeps float32 and float64 as they are when fitting and
        converts to the model's dtype afterwards.
        """
        if dtype is None:
            dtype = [np.float64, np.float32] if reset else self.components_.dtype
        unit = self._visible_unit if unit is None else unit
        return unit.validate(self, X, reset=reset, dtype=dtype)

    def _check_fitted_input(self, X, dtype=None):
        """X validated for a fitted model, after checking the fitted state itself."""
        check_is_fitted(self)
        check_fitted_state(self)
        return self._validate_input(X, reset=False, dtype=dtype)

    def _check_n_jobs(self):
        """``n_jobs``, or ValueError where it is no thread count (``checked_n_jobs``)."""
        return checked_n_jobs(self.n_jobs, _C_INT_MAX)

    def _kernel_threads(self, rows=None):
        """The kernel's threads for ``n_jobs``, held for a ``with`` block
        (``kernel_threads``); ``rows``: the chains of a sampling call, whose
        chunks of ``CHUNK`` rows are what its threads share out."""
        most = None if rows is None else _gibbs.n_streams_for(rows)
        return kernel_threads(self._check_n_jobs(), most)

    # ------------------------------------------------------------------
    # Training
    # ------------------------------------------------------------------

    def _initialize(self, X, unit, sample_weight=None):
        """Fresh parameters, layers, chains and training state for X (rows weighted)."""
        dtype = X.dtype
        # Before anything of the model's size: a model too large for memory
        # is refused with its size and what to lower, not NumPy's bare error.
        check_training_memory(self, X.shape[1], X.shape[0], dtype)
        entropy = draw_entropy(self.random_state)
        # sum / n, not X.mean(): scipy's sparse mean rounds differently.
        mean = weighted_column_sum(X, sample_weight) / row_count(X, sample_weight)
        unit.fit(X, sample_weight, estimator=self)
        self._visible_unit, self._hidden_unit = unit, self._hidden_type.for_estimator(self, dtype)
        self.components_ = _initial_weights(generator_for(entropy, TRAINING),
                                            (self.n_components, X.shape[1]), dtype, unit)
        self.intercept_hidden_ = np.zeros(self.n_components, dtype=dtype)
        bias = unit.initial_bias(mean)
        if self.visible_bias_init == "zero":  # scikit-learn's start
            bias = np.zeros_like(bias)
        self.intercept_visible_ = bias.astype(dtype)
        n_chains = self.n_chains if self.n_chains is not None else self.batch_size
        if self.method == "pt":
            n_chains *= self.n_temperatures  # one block of chains per temperature
        self.h_samples_ = np.zeros((n_chains, self.n_components), dtype=dtype)
        if is_gaussian_pair(unit, self._hidden_unit):
            # On one BLAS thread, as training runs: NumPy's thread count (which
            # a concurrent call or threadpool_limits changes) moved the start's
            # last bits, and the fit went down another path (-64537.70 against
            # -64545.35 after 5 epochs, the same random_state).
            with single_threaded_blas():
                start_gaussian_pair_at_moments(self, X, sample_weight)
        self._training = TrainingState(self.components_, self.intercept_visible_,
                                       self.intercept_hidden_, mean, self.n_temperatures,
                                       entropy)
        record_chain_layout(self, n_chains)  # what later settings must still ask for

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None, sample_weight=None):
        """Fit the model to X by CD-k, PCD-k or parallel tempering.

        With ``warm_start=True``, a fitted model trains on from where it is.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training data, float32 or float64 (float32 stays float32).
        %(y_and_sample_weight)s

        Returns
        -------
        self : object
            The fitted model.
        """
        # A refit that raises leaves the previous model as it was: fit
        # builds new arrays, so restoring the attributes restores the model
        # (a warm start trains them in place: it restores a deep copy).  A
        # first fit that diverges keeps its last sound pass's parameters; one
        # refused before training leaves nothing (not even n_features_in_).
        first = not hasattr(self, "components_")
        warm = self.warm_start and not first
        if warm:  # named before the deep copy below fails on it (it pickles the streams)
            check_fitted_state(self, training=True)  # (warm: components_ is there)
        with unchanged_on_error(self, deep=warm, when=not first):
            with unchanged_on_error(self, when=first):
                unit, X, X_valid, weights, valid_weights, gap_hooks = (
                    self._fit_input(X, warm, sample_weight))
                if not warm:
                    self._initialize(X, unit, weights)
            fit_epochs(self, X, X_valid, self._planned_epochs(X.shape[0]), warm, weights,
                       valid_weights, **gap_hooks)
            self._after_fit()  # (its warnings raised as errors undo a refit too)
        return self

    def _after_fit(self):
        """Checks of a finished fit that warn (a class's own)."""

    def _planned_epochs(self, n_samples):
        """Epochs of ``fit`` on n_samples training rows (see ``planned_epochs``)."""
        return planned_epochs(self.n_iter, self.batch_size, n_samples)

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y=None, sample_weight=None):
        """Run one pass of minibatch updates over X, in the given row order.

        The first call initialises the model from X; later calls continue
        training (parameters, momentum and persistent chains carry over).
        Steps at ``learning_rate``, or after a ``fit`` at the rate where its
        schedule ended, at least 1% of it (see ``warm_start``).  Each pass
        adds one to ``n_iter_`` and a row to ``history_``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training data.
        %(y_and_sample_weight)s

        Returns
        -------
        self : object
            The updated model.
        """
        first_call = not hasattr(self, "components_")
        if not first_call:
            # scikit-learn validates hyperparameters on the first fit only;
            # the kernel must never see a bad one (set_params in between).
            self._validate_params()
        # A first call refused before its pass leaves nothing behind.
        with unchanged_on_error(self, when=first_call):
            unit, X, weights, fills = self._partial_fit_input(X, first_call, sample_weight)
            self._check_n_jobs()
            if first_call:
                self._initialize(X, unit, weights)
        try:
            for fill in fills:
                # Rows new to the model: a burn-in of clamped steps under it
                # (on the call's own streams: the model is not changed).
                fill.refresh(self, PARTIAL_FIT_BURN_IN)
        except BaseException:
            if first_call:  # kept as started, as by a pass that raises
                self.n_iter_ = 0
            raise
        partial_fit_pass(self, X, weights, fills_gaps=bool(fills))
        return self

    def _learned_arrays(self):
        """Every array training changes: what a divergence rollback or early
        stopping saves and restores."""
        return ((self.components_, self.intercept_visible_, self.intercept_hidden_,
                 self.h_samples_) + self._training.learned_arrays()
                + self._visible_unit.learned_arrays() + self._hidden_unit.learned_arrays())

    def _kernel_params(self):
        return KernelParams.of(self)

    @property
    def swap_rates_(self):
        """Acceptance rate of replica swaps between temperatures t and t + 1 (PT)."""
        # The counts are the fit's, whatever method was set since (which only
        # training refuses): the fit's method says whether there are any.
        fitted = fitted_method(self) if hasattr(self, "_training") else None
        if (fitted or self.method) != "pt" or not hasattr(self, "_training"):
            raise AttributeError("swap_rates_ is set by fitting with method='pt'")
        counts = self._training.swap_counts
        pairs = len(counts) // 2
        return counts[:pairs] / np.maximum(counts[pairs:], 1)

    # ------------------------------------------------------------------
    # Inference
    # ------------------------------------------------------------------

    def _hidden_field(self, X):
        """c + W s(x) for each row of validated X, in the dtype of X."""
        W = self.components_.astype(X.dtype, copy=False)
        c = self.intercept_hidden_.astype(X.dtype, copy=False)
        S = self._visible_unit.hidden_input(X)
        return safe_sparse_dot(S, W.T, dense_output=True) + c

    # Defined here and not only inherited: scikit-learn's set_output wraps the
    # transform a class defines itself.
    transform = ConditionalMixin.transform

    def gibbs(self, v):
        """One block-Gibbs step from v: sample h ~ p(h | v), then v' ~ p(v | h).

        The draws come from the model's own random streams, seeded by
        ``random_state`` at fit and advanced by every call: calling again on
        the same v gives another step, a fitted model (or a saved and loaded
        copy of it) gives the same sequence of steps whatever ``n_jobs``, and
        the persistent chains (``h_samples_``) are left as they are.

        Parameters
        ----------
        v : array-like of shape (n_samples, n_features)
            Visible states to start from.

        Returns
        -------
        v_new : ndarray or DataFrame of shape (n_samples, n_features)
            Visible states after one step; a DataFrame with v's columns and
            index when v is one (see ``sample`` for the output container).
        """
        V = self._check_fitted_input(v)
        V = np.array(V.toarray() if sp.issparse(V) else V, dtype=self.components_.dtype,
                     order="C")
        # gibbs() draws from the model's own streams: calls from several
        # threads take turns, so each gets its own stretch of the streams.
        streams = self._training.gibbs_streams
        with _gibbs_streams_lock(streams):
            self._run_chains(V, 1, streams)
        if not np.all(np.isfinite(V)):  # (overflowed: sample's warning, not a silent inf)
            self._warn_of_runaway_chains(self._visible_unit.to_kernel(V), "gibbs")
        return visible_output(self, self._visible_unit.decode(V), v, self._output_column_types())

    def _output_column_types(self):
        """Each visible column's type in a frame of samples (None: the model's dtype)."""
        return None

    def _run_chains(self, V, n_steps, streams):
        """Advance chains starting at visible states V (in place) by n_steps."""
        rows, unit = V.shape[0], self._visible_unit
        H = np.empty((rows, self.n_components), dtype=V.dtype)
        P = np.empty_like(H)
        S = unit.to_kernel(V)
        with self._kernel_threads(rows) as n_threads:
            _gibbs.gibbs_chains(self._kernel_params(), unit.kernel_view(V.dtype), S, H, P,
                                int(n_steps), streams.for_rows(rows), int(n_threads))
        V[...] = unit.from_kernel(S)
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

    def _reconstruction_error(self, X, hidden_field=None, sample_weight=None):
        """reconstruction_error of validated input (in the internal form), rows weighted
        by ``sample_weight`` (if given); ``hidden_field``: ``self._hidden_field(X)``
        when the caller has it."""
        if hidden_field is None:
            hidden_field = self._hidden_field(X)
        H = self._hidden_unit.mean(hidden_field)
        R = self._visible_unit.mean(H @ self.components_.astype(H.dtype, copy=False)
                                    + self.intercept_visible_)
        errors = ((X.toarray() if sp.issparse(X) else X) - R) ** 2
        return float(np.mean(errors) if sample_weight is None
                     else np.average(np.mean(errors, axis=1), weights=sample_weight))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        # missing="impute" takes NaN as a missing entry (scikit-learn's
        # wrappers read the tag to decide whether to pass NaN through).
        tags.input_tags.allow_nan = getattr(self, "missing", "error") == "impute"
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags

    @property
    def _n_features_out(self):
        """Number of transformed output features (of a sound fitted state)."""
        if not (hasattr(self, "components_") or hasattr(self, "_training")):
            raise AttributeError("_n_features_out is set by fit or partial_fit")
        check_fitted_state(self)
        return self.components_.shape[0]


document_fit_parameters(BaseRBM.fit, FIT_WEIGHTS_DOC)
document_fit_parameters(BaseRBM.partial_fit, PARTIAL_FIT_WEIGHTS_DOC)
