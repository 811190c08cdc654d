"""Conditional use of a fitted RBM: rows with missing entries.

A mixin of ``BaseRBM`` written against the layer verbs.  The missing
entries of a row (NaN; None and pandas' NA for labels) are drawn from, or
summarised by, their distribution given the row's observed entries:

- ``conditional_sample`` (and ``sample``, nothing observed): exact draws
  where the hidden states can be enumerated cheaply (h from p(h | observed),
  then v | h), else clamped block Gibbs in the kernel
  (``_gibbs.gibbs_chains(..., clamp=mask)``), the observed entries held at
  their values after every visible step.
- ``conditional_marginals``: the probability of each value (discrete) or
  the mean and variance (Gaussian) of every missing entry.  Exact, by
  enumerating the hidden layer, where that is small
  (``MAX_EXACT_HIDDEN_STATES``); else Rao-Blackwellised over clamped
  chains: the average of p(v_i | h) over the chains' hidden states.
- ``score_samples`` of rows with gaps is log p(observed entries)
  (``incomplete_log_likelihood``), and ``transform`` gives their
  E[h | observed entries], both with ``missing="impute"``.

The chains start from the data marginals (the independent model training
started from), so a short burn-in suffices.
"""

import warnings
from numbers import Integral
from typing import NamedTuple

import numpy as np
import scipy.sparse as sp
from scipy.special import logsumexp
from sklearn.utils.validation import check_is_fitted

from . import _gibbs
from ._frames import visible_output
from ._monitor import (LIKELIHOOD_CHECKS, MIN_EPOCH_ROWS, MONITOR_SHARE, PASS_FLOPS_PER_WEIGHT,
                       likelihood_rows)
from ._partition import (ais_log_partition, gaussian_pair_moments, is_gaussian_pair,
                         state_count_as_float)
from ._state import (chain_bytes, check_chain_memory, check_energy_scale, check_fitted_state,
                     check_sample_request)
from ._tempering import MAX_TEMPERATURES, TemperedChains
from ._training import check_training_record, is_count, validation_split
from ._units.categorical import column_label
from ._weights import check_sample_weight, positive_rows
from ._streams import (CONDITIONAL_CHAINS, CONDITIONAL_EXACT, CONDITIONAL_FILL,
                       CONDITIONAL_START, SAMPLING_CHAINS, SAMPLING_EXACT, SAMPLING_START,
                       ChainStreams)
from ._streams import KeyedChainStreams, content_keys, draw_entropy, generator_for

#: ``method="auto"`` computes marginals and incomplete log-likelihoods
#: exactly when the hidden layer has at most this many states.
MAX_EXACT_HIDDEN_STATES = 2 ** 14
#: Exact enumeration works on blocks of (hidden states x rows) of about this size.
EXACT_BLOCK_ELEMENTS = 2 ** 21


def pick_by_cumulative(cumulative, targets):
    """Index of the state each target picks from states' cumulative weights:
    the first sum above it, so a state of weight 0 is never picked.  A
    target that rounding puts at or past the last sum takes the first state
    that reaches it (states after it have weight 0)."""
    last = np.searchsorted(cumulative, cumulative[-1], side="left")
    return np.minimum(np.searchsorted(cumulative, targets, side="right"), last)


#: Defaults of the Gibbs estimates (see the methods' docstrings).
DEFAULT_N_STEPS = 200
#: conditional_sample's "auto" draws exactly where 2**H <= this times n_steps
#: H (H binary hidden units): where the exact draws cost about as much as
#: the chains or less.  ``benchmarks/sampling_cost.py`` (784 visible units,
#: 1,000 rows, 200 steps, idle 2-core machine): exact / Gibbs 0.36 and 0.97
#: at 12 and 14 hidden units with one gap a row, 0.23 and 0.66 with half
#: the entries missing; 2**14 = 5.9 x 200 x 14.
EXACT_DRAW_STEPS_FACTOR = 6
#: 16 chains a row (one chunk of the kernel's streams: a row's estimate is
#: its own, ``chains_per_row``) of 25 sweeps after 25 steps: the 400
#: averaged states of the 4 chains x 100 sweeps after 50 before them, in
#: 800 steps a row against 600 (rms error against exact on digits and
#: wine alike with burn-in 50, 25 or 10: 0.0106/0.0356, 0.0107/0.0324,
#: 0.0108/0.0339).
DEFAULT_BURN_IN = 25
DEFAULT_N_SWEEPS = 25
DEFAULT_N_CHAINS = 16
#: The clamped chains of a Gibbs estimate run in blocks of rows whose
#: chains hold about this many bytes (``_question_blocks``).
CHAIN_BLOCK_BYTES = 64 * 2**20
#: Early stopping on validation rows with gaps scores log p(observed
#: entries) exactly when enumerating the hidden layer for them costs at most
#: this many (hidden states x rows x columns) per check (about a second).
MAX_MONITOR_ENUMERATION = 2 ** 30
#: Clamped Gibbs steps that refresh the missing entries of training rows
#: before each pass (``missing="impute"``).
IMPUTE_STEPS = 5
#: Clamped Gibbs steps that fill the missing entries of a ``partial_fit``
#: batch (rows new to the model) before its pass.
PARTIAL_FIT_BURN_IN = 20
#: ``observed_log_likelihood`` enumerates a row's missing entries exactly when
#: they have at most this many joint states (discrete units).
MAX_EXACT_MISSING_STATES = 2 ** 16
#: AIS runs and inverse temperatures per row of ``observed_log_likelihood``.
ROW_AIS_CHAINS, ROW_AIS_BETAS = 32, 1000
#: Largest step count the kernel takes (a C int).
_C_INT_MAX = 2 ** 31 - 1


def _check_count(name, value, low=1, high=_C_INT_MAX):
    if isinstance(value, bool) or not isinstance(value, Integral) or not low <= value <= high:
        raise ValueError(f"{name} must be an integer in [{low}, {high}], got {value!r}.")
    return int(value)


def _repeat_rows(X, repeats):
    """X with each row repeated ``repeats`` times in a row (frames keep their index)."""
    if repeats == 1:
        return X
    if hasattr(X, "iloc"):
        return X.iloc[np.repeat(np.arange(len(X)), repeats)]
    return None


class ObservedLogLikelihood(NamedTuple):
    """log p(observed entries) of each row, and how it was obtained.

    Attributes
    ----------
    log_p : ndarray of shape (n_samples,)
        log p(observed entries) in nats: the log-likelihood for complete rows.
    std_error : ndarray of shape (n_samples,)
        Standard error of the row's own AIS estimate (0 where exact; inf
        where too few of its runs carry the weights to tell one, as
        ``log_partition``'s); the error of log Z (``log_partition_``) comes
        on top for every row.
    method : ndarray of shape (n_samples,) of str
        "complete" (no entry missing: -F(v) - log Z), "exact" (the missing
        entries summed out exactly, by enumerating the hidden states or the
        missing entries' states; 0 for a row with nothing observed) or
        "ais" (the missing entries' conditional log-partition estimated by
        AIS).
    """

    log_p: np.ndarray
    std_error: np.ndarray
    method: np.ndarray


def check_every_feature_observed(estimator, observed, where="in the data given to fit"):
    """Refuse data given to ``fit`` in which a feature is missing in every row
    (``observed``: the rows' mask of observed entries): no model learns it
    from nothing (its frequency, scale or categories), and it would keep its
    initial guess there, silently.  The estimators with ``missing="impute"``
    and ``RBMImputer`` share it; ``where`` says which rows the message means."""
    empty = np.flatnonzero(~np.asarray(observed).any(axis=0))
    if len(empty):
        raise ValueError(
            f"{type(estimator).__name__}: {column_label(estimator, int(empty[0]))} has no "
            f"observed value {where} ({len(empty)} such feature(s) of "
            f"{observed.shape[1]}), so nothing can be learned about it; drop it or fill it "
            "first.")


def _refuse_rows_without_a_law(model, totals, block):
    """ValueError naming the rows whose observed entries give p(h | observed) no
    finite form (log weights inf - inf: a value far beyond the model's scale),
    where exact draws would pick the last hidden state, silently."""
    bad = np.flatnonzero(~(np.isfinite(totals) & (totals > 0)))
    if len(bad):
        first = int(np.arange(block.start or 0, block.stop)[bad[0]])
        raise ValueError(
            f"{type(model).__name__}: the observed entries of {len(bad)} rows (the first: row "
            f"{first}) give no finite probability to any hidden state (values far beyond "
            "the model's scale); scale the data as the model was fitted.")


def how_drawn(model, n_steps, method="auto", n_temperatures=10):
    """How ``model.sample(..., n_steps=n_steps, method=method)`` draws, in words
    for messages and figure titles: "drawn exactly", "after N Gibbs steps"
    or "after N tempered steps (T temperatures)".  ValueError for a method
    or temperature count that ``sample`` refuses."""
    # The model's own resolver of sample's method: RBMClassifier's "auto" has
    # its own rule, and a guess here called its exact draws Gibbs steps.
    method = model._sample_method(method)
    ladder = _ladder_size(method, n_temperatures)
    if method == "tempered":
        return f"after {n_steps:,} tempered steps ({ladder} temperatures)"
    if method == "exact":
        return "drawn exactly"
    return f"after {n_steps:,} Gibbs steps"


#: Below this share of missing entries in a chunk of rows, their log
#: partitions are summed by a sparse product (its work grows with the gaps),
#: above by a dense one (BLAS's, threaded; the two broke even near 10%).
SPARSE_GAPS_SHARE = 0.05


def _missing_terms(missing, log_partitions, sparse):
    """sum over each row's missing features of their log partitions: (rows,
    states), from the rows' missing mask (rows x features) and the states'
    log partitions (states x features); by a sparse product where
    ``sparse`` (the call's share of gaps is below ``SPARSE_GAPS_SHARE``)."""
    if sparse:
        return sp.csr_matrix(missing, dtype=np.float64) @ log_partitions.T
    return missing.astype(np.float64) @ log_partitions.T


def _ladder_size(method, n_temperatures):
    """The chains per output row of a sampling ``method``: ``n_temperatures``
    for "tempered", else 1.  ``n_temperatures`` is checked (an integer from 2
    to ``MAX_TEMPERATURES``) whatever the method: an unused bad value was
    ignored, and so hid a forgotten ``method="tempered"``."""
    if not (is_count(n_temperatures, MAX_TEMPERATURES) and n_temperatures >= 2):
        raise ValueError(f"n_temperatures must be an integer of at least 2 and at most "
                         f"{MAX_TEMPERATURES}, got {n_temperatures!r}.")
    return n_temperatures if method == "tempered" else 1


def _check_ladder_memory(model, n_rows, ladder, call, what):
    """ModelTooLargeError, before allocating, where ``n_rows`` output rows of
    tempered chains (``ladder`` chains each) need more memory than there is."""
    if ladder > 1:
        check_chain_memory(model, n_rows * ladder,
                           f"{call} with n_temperatures={ladder}",
                           f"ask for fewer {what} or temperatures: at most {{}} chains in all",
                           chain_bytes(model, call.split("(")[0]))


def stores_nan(X):
    """Whether SciPy sparse X stores a NaN among its values (a missing entry
    under ``missing="impute"``; an entry it leaves out is 0)."""
    data = X.data if X.format in ("csr", "csc", "coo", "bsr") else X.tocsr().data
    return data.dtype.kind in "fc" and bool(np.isnan(data).any())


def chains_per_row(n_chains):
    """Chain rows a row's ``n_chains`` clamped chains take: whole chunks of the
    kernel's streams (``_gibbs.CHUNK_ROWS`` rows each), so that the row's
    streams are its own (``KeyedChainStreams``)."""
    return -(-n_chains // _gibbs.CHUNK_ROWS) * _gibbs.CHUNK_ROWS


def read_chains(A, n_rows, per_row, n_chains):
    """The rows of chain array A (``per_row`` chains for each of ``n_rows``
    rows) that hold each row's first ``n_chains`` chains."""
    if per_row == n_chains:
        return A
    return A.reshape(n_rows, per_row, -1)[:, :n_chains].reshape(n_rows * n_chains, -1)


class ConditionalMixin:
    """``conditional_sample`` and ``conditional_marginals`` of a fitted RBM."""

    # ------------------------------------------------------------------
    # Input
    # ------------------------------------------------------------------

    def _incomplete_input(self, X, dtype=None):
        """(internal rows, observed mask) of X for a fitted model, in ``dtype``
        (numeric units; the model's by default)."""
        check_is_fitted(self)
        check_fitted_state(self)
        return self._visible_unit.validate_incomplete(
            self, X, reset=False, dtype=self.components_.dtype if dtype is None else dtype)

    def _chain_start(self, rows, observed, rng):
        """Kernel rows s(v): observed entries as given, missing ones drawn from the
        independent model of the data marginals."""
        unit, dtype = self._visible_unit, self.components_.dtype
        field = np.broadcast_to(self._base_visible_bias(), rows.shape).astype(dtype)
        start = np.where(unit.kernel_mask(observed), rows, unit.sample(field, rng))
        return np.ascontiguousarray(unit.to_kernel(start.astype(dtype)))

    def _clamped_chains(self, S, clamp, n_steps, streams):
        """Advance kernel rows S (in place) by n_steps clamped Gibbs steps; returns
        the last hidden samples."""
        self._check_proper("has no samples (its chains run off to infinity)",
                           missing=~clamp.astype(bool))
        rows = S.shape[0]
        H = np.empty((rows, self.n_components), dtype=S.dtype)
        P = np.empty_like(H)
        with self._kernel_threads(rows) as n_threads:
            _gibbs.gibbs_chains(self._kernel_params(), self._visible_unit.kernel_view(S.dtype),
                                S, H, P, int(n_steps), streams.for_rows(rows), int(n_threads),
                                clamp=clamp)
        return H

    def _tempered_chains(self, S, clamp, n_steps, n_temperatures, entropy, call):
        """Kernel rows: the coldest chains of a tempered ladder started at kernel
        rows S (``rbm._tempering``), after a warning where its swaps stalled."""
        chains = TemperedChains(self, S, n_temperatures, entropy, call, clamp)
        S = chains.run(n_steps)
        chains.warn_of_a_broken_ladder()
        return S

    # ------------------------------------------------------------------
    # Training on incomplete rows (missing="impute")
    # ------------------------------------------------------------------

    def _fit_input(self, X, warm, sample_weight=None):
        """(visible layer, training rows, validation rows or None, their weights
        (each None without weights), the keyword arguments of
        ``fit_epochs`` for rows with gaps) of ``fit``.

        Rows of weight 0 are dropped (``positive_rows``) before the split.
        For rows with gaps, ``fit_epochs`` gets ``before_pass``, which
        re-draws their missing entries before each pass, and, where the
        validation or training rows have gaps, ``validation_log_p`` and
        ``train_log_p`` (see ``_validation_scorer``; where that enumeration
        costs too much, their rows are scored with their fills).
        """
        if warm:  # (BaseRBM.fit has checked its fitted state, before its deep copy)
            unit = self._visible_unit
        else:
            unit = self._visible_type.for_estimator(self)
        # (BaseRBM.fit undoes what a refused first fit set here: n_features_in_,
        # the column names and types.)
        X, observed = self._training_input(X, unit, reset=not warm)
        if warm:
            check_training_record(self)
        X, observed, weights = self._positive_rows(X, observed, sample_weight, reset=not warm)
        if warm:
            unit.check_later_training_rows(self, X, weights, observed)
        self._check_n_jobs()  # refused before any work
        X, X_valid, observed, observed_valid, weights, valid_weights = self._validation_split(
            X, observed, weights)
        if observed is None:
            return unit, X, X_valid, weights, valid_weights, {}
        hooks = {}
        # The hidden layer this fit trains: a cold refit builds a new one,
        # of the type and precision set now, not the last fit's.
        hidden = (self._hidden_unit if warm
                  else self._hidden_type.for_estimator(self, X.dtype))
        scorer = self._validation_scorer(X_valid, observed_valid, hidden)
        validation_cost = 0.0
        if scorer is not None:
            hooks["validation_log_p"] = scorer
            validation_cost = self._gap_enumeration_cost(X_valid, observed_valid, hidden)
            observed_valid = None  # scored without fills: they need none
        hooks["train_rows"], train_scorer = self._training_figure(X, observed, validation_cost,
                                                                  hidden)
        if train_scorer is not None:
            hooks["train_log_p"] = train_scorer
        fills = self._missing_fills(X, observed, X_valid, observed_valid, unit)

        def refresh():
            for fill in fills:
                fill.refresh(self)

        hooks["before_pass"] = refresh
        return unit, X, X_valid, weights, valid_weights, hooks

    def _training_figure(self, X, observed, validation_cost, hidden):
        """(the training rows a likelihood check scores, their scorer or None).

        ``history_``'s training figure is log p(observed entries), as score
        gives (log p(observed, fills) reads a nat lower on correlated data).
        Summing out the gaps may cost as much per check as the larger of a
        ``MONITOR_SHARE`` of the training between two checks and what the
        validation rows' exact scoring costs (``validation_cost``), so that
        where those are scored exactly the training rows are too and the two
        figures compare: the rows are ``likelihood_rows``, more widely spaced
        where the cost asks.  Where fewer than ``MIN_EPOCH_ROWS`` rows would
        be left, they are all scored with their fills (no scorer).
        """
        scored = likelihood_rows(X.shape[0])
        per_row = (self._gap_enumeration_cost(X[scored], observed[scored], hidden)
                   / len(X[scored]))
        allowance = min(max(self._train_scoring_budget(X), validation_cost),
                        MAX_MONITOR_ENUMERATION)
        if per_row == 0 or allowance / per_row < MIN_EPOCH_ROWS:
            return scored, None  # no gaps among them, or too dear: fills
        scored = likelihood_rows(X.shape[0], allowance // per_row)
        return scored, self._validation_scorer(X[scored], observed[scored], hidden, allowance)

    def _gap_enumeration_cost(self, X, observed, hidden):
        """What summing out the gaps of these rows costs (states of the hidden
        layer ``hidden`` x rows with a gap x columns; ``_validation_scorer``
        compares it with its budget)."""
        n_gaps = int(np.count_nonzero(~observed.all(axis=1)))
        if n_gaps == 0:
            return 0.0
        n_states = hidden.n_states(self.n_components)
        return state_count_as_float(n_states) * n_gaps * X.shape[1]

    def _train_scoring_budget(self, X):
        """Most enumeration (``_validation_scorer``'s cost) of the training rows'
        figure per likelihood check: ``MONITOR_SHARE`` of the modelled training
        between two checks (``rbm._monitor.likelihood_monitoring``)."""
        epochs_per_check = max(1, self._planned_epochs(X.shape[0]) // LIKELIHOOD_CHECKS)
        # The cost counts multiply-adds; the pass, floating-point operations.
        return (MONITOR_SHARE * PASS_FLOPS_PER_WEIGHT / 2 * X.shape[0] * X.shape[1]
                * self.n_components * epochs_per_check)

    def _validation_scorer(self, X_valid, observed_valid, hidden,
                           max_cost=MAX_MONITOR_ENUMERATION):
        """The function giving the validation rows' unnormalised log p(observed
        entries) (the missing ones summed out exactly, by enumerating the
        hidden layer) for early stopping (or the training rows', for
        ``history_``), or None: where no validation row
        has a gap, or where the enumeration would cost more than
        ``max_cost`` per check.  In that last case the rows
        are scored with their fills, as complete rows (log p(observed,
        fills)), which favours models with confident conditionals.
        """
        if observed_valid is None or observed_valid.all():
            return None
        if not getattr(hidden, "discrete", False):  # (the layer the fit trains)
            return None
        gaps = np.flatnonzero(~observed_valid.all(axis=1))
        if self._gap_enumeration_cost(X_valid, observed_valid, hidden) > min(
                max_cost, MAX_MONITOR_ENUMERATION):
            return None
        rows, observed = X_valid[gaps], observed_valid[gaps]

        def log_p():
            out = -self._free_energy(X_valid)
            out[gaps] = self._exact_observed_log_p(rows, observed)
            return out

        return log_p

    def _partial_fit_input(self, X, first_call, sample_weight=None):
        """(visible layer, rows, their weights or None, missing fills) of ``partial_fit``."""
        if first_call:
            unit = self._visible_type.for_estimator(self)
        else:
            check_is_fitted(self)
            check_fitted_state(self, training=True)
            unit = self._visible_unit
        X, observed = self._training_input(X, unit, reset=first_call)
        if not first_call:
            check_training_record(self)
        X, observed, weights = self._positive_rows(X, observed, sample_weight, reset=first_call)
        if not first_call:
            unit.check_later_training_rows(self, X, weights, observed)
        # Each call's fill draws its own numbers: keyed by the passes so far.
        key = 2 + (0 if first_call else int(getattr(self, "n_iter_", 0)))
        return unit, X, weights, self._missing_fills(X, observed, None, None, unit, key)

    def _positive_rows(self, X, observed, sample_weight, reset=False):
        """(X, observed-entries mask, weights) with the rows of weight 0 dropped.

        On a first fit (``reset``) every feature must still be observed in
        the rows left, as without the rows of weight 0."""
        weights = check_sample_weight(self, sample_weight, X)
        if observed is None:
            X, weights = positive_rows(X, weights)
            return X, None, weights
        if weights is not None and not np.all(weights > 0):
            keep = np.flatnonzero(weights > 0)
            if reset:
                check_every_feature_observed(self, observed[keep],
                                             "in the rows of positive sample_weight")
            return X[keep], observed[keep], weights[keep]
        return X, observed, weights

    def _training_input(self, X, unit, *, reset):
        """(X in the internal form, (n_samples, n_features) mask of the
        observed entries, or None).

        With ``missing="impute"`` rows may have missing entries: they come
        back filled with placeholders, and the mask says which entries were
        given (None when all are, or with ``missing="error"``).
        """
        if not self._may_have_gaps(X):
            # Sparse X without a stored NaN stays sparse: validating it for
            # gaps densified it (128 MB for a 4000 x 2000 CSR at 1% density).
            return self._validate_input(X, reset=reset, unit=unit), None
        dtype = [np.float64, np.float32] if reset else self.components_.dtype
        rows, observed = unit.validate_incomplete(self, X, reset=reset, dtype=dtype)
        if reset:
            check_every_feature_observed(self, observed)
        if observed.all():
            # Complete data trains exactly as with missing="error".
            return self._validate_input(X, reset=reset, unit=unit), None
        return rows, observed

    def _validation_split(self, X, observed, weights=None):
        """validation_split of X and, alongside, of the observed-entries mask
        and the weights: (X, X_valid, observed, observed_valid, weights,
        valid_weights)."""
        split = validation_split(X, self.early_stopping, self.validation_fraction,
                                 self.random_state, weights)
        if observed is None:
            X, X_valid, weights, valid_weights = split
            return X, X_valid, None, None, weights, valid_weights
        # The same rows of the mask: split it as the rows' extra columns.
        both = np.hstack([X, observed.astype(X.dtype)])
        train, valid, weights, valid_weights = validation_split(
            both, self.early_stopping, self.validation_fraction, self.random_state, weights)
        n = X.shape[1]
        parts = [np.ascontiguousarray(train[:, :n]), None, train[:, n:] > 0.5, None]
        if valid is not None:
            parts[1], parts[3] = np.ascontiguousarray(valid[:, :n]), valid[:, n:] > 0.5
        return (*parts, weights, valid_weights)

    def _missing_fills(self, X, observed, X_valid, observed_valid, unit, key=0):
        """``MissingFill`` of the training (and, where ``observed_valid`` is
        given, validation) rows with gaps, their missing entries drawn from the
        known entries' marginals; [] for none."""
        if observed is None:
            return []
        entropy = draw_entropy(self.random_state)
        fills = [MissingFill(X, unit.kernel_mask(observed), entropy, key).fill(unit)]
        if observed_valid is not None:
            fills.append(MissingFill(X_valid, unit.kernel_mask(observed_valid), entropy,
                                     key + 1).fill(unit))
        return fills

    # ------------------------------------------------------------------
    # Sampling
    # ------------------------------------------------------------------

    def sample(self, n_samples=1, *, n_steps=1000, method="auto", n_temperatures=10,
               random_state=None):
        """Draw visible samples from the model.

        ``method="exact"`` draws each sample independently and exactly: a
        hidden state from p(h), by summing over every hidden state, then v
        from p(v | h).  ``"gibbs"`` runs block-Gibbs sampling: each sample
        comes from its own chain, started from the data marginals and run
        for ``n_steps`` full Gibbs steps (a chain that has not crossed
        between the model's modes gives samples of the wrong mixture).
        ``"tempered"`` runs parallel tempering: each sample's chain is the
        coldest of a ladder of ``n_temperatures`` chains, from the model down
        to the independent model of the data marginals, which swap states
        after every step, so states cross between modes at the flat end
        (2-4 times ``n_temperatures`` times the time of ``"gibbs"``; a
        RuntimeWarning says where too few swaps were accepted; for Gaussian
        visible units the ladder moves sigma too, from the model's to the
        data's spread).  ``"auto"`` is exact where
        the hidden layer has at most 2**14 states (binary hidden units),
        else ``"gibbs"``.  The model is left as it
        was (its persistent chains and random streams included), but a
        ``numpy.random.RandomState`` given as ``random_state`` (here or to
        the model) advances, so the next call draws other samples.

        Parameters
        ----------
        n_samples : int, default=1
            Number of samples (independent draws or chains).
        n_steps : int, default=1000
            Gibbs steps per chain before its state is returned (``"gibbs"``).
        method : {"auto", "exact", "gibbs", "tempered"}, default="auto"
            Exact draws, Gibbs chains or tempered chains (see above).
        n_temperatures : int, default=10
            Temperatures of ``"tempered"``, the model's own included; from 2
            to 1000, checked whatever the method.
        random_state : int, RandomState instance or None, default=None
            Seed for the chains; None uses the estimator's ``random_state``.

        Returns
        -------
        X : ndarray or DataFrame of shape (n_samples, n_features)
            Samples from the model; a DataFrame with the fitted columns for a
            model fitted on one, or as ``set_output(transform=...)`` asks.
        """
        check_is_fitted(self)
        check_fitted_state(self)
        method = self._sample_method(method)
        ladder = _ladder_size(method, n_temperatures)
        # The ladder's memory first: its limit is the stricter, and the plain
        # check's limit, given first, failed again when followed.  (A bad
        # n_samples is left to check_sample_request to name.)
        if is_count(n_samples):
            _check_ladder_memory(self, n_samples, ladder, f"sample({n_samples})", "samples")
        check_sample_request(self, n_samples, n_steps, _C_INT_MAX, chain_bytes(self, "sample"))
        self._check_proper("has no samples (its chains run off to infinity)")
        self._check_n_jobs()  # (refused alike where the exact draws use no threads)
        seed = random_state if random_state is not None else self.random_state
        entropy = draw_entropy(seed)
        if method == "exact":
            nothing = np.zeros((1, self.components_.shape[1]), dtype=self.components_.dtype)
            V = self._exact_conditional_draws(
                nothing, np.zeros((1, self.n_features_in_), dtype=bool), n_samples,
                generator_for(entropy, SAMPLING_EXACT))
            return visible_output(self, self._visible_unit.decode(V), None,
                                  self._output_column_types())
        dtype = self.components_.dtype
        field = np.broadcast_to(self._base_visible_bias(), (n_samples, self.components_.shape[1]))
        V = np.ascontiguousarray(self._visible_unit.sample(
            field.astype(dtype), generator_for(entropy, SAMPLING_START)))
        if method == "tempered":
            unit = self._visible_unit
            V[...] = unit.from_kernel(self._tempered_chains(unit.to_kernel(V), None, n_steps,
                                                            n_temperatures, entropy, "sample"))
        else:
            self._run_chains(V, n_steps, ChainStreams(entropy, SAMPLING_CHAINS))
        self._warn_of_runaway_chains(self._visible_unit.to_kernel(V), "sample")
        return visible_output(self, self._visible_unit.decode(V), None,
                              self._output_column_types())

    def conditional_sample(self, X, *, n_draws=1, n_steps=DEFAULT_N_STEPS, method="auto",
                           n_temperatures=10, random_state=None):
        """Complete the rows of X by drawing their missing entries from
        p(missing | observed).

        ``method="exact"`` draws each completion independently and exactly:
        a hidden state from p(h | observed), by summing over every hidden
        state, then the missing entries from p(v | h).  ``"gibbs"`` runs one
        chain of clamped block Gibbs per output row: the observed entries
        are held at their values, the missing ones start from the data
        marginals (the independent model training starts from) and the
        chain runs ``n_steps`` steps, of which every one is burn-in (rows are
        separate chains, so no thinning is needed); a chain that has not
        crossed between the modes of a multimodal conditional gives draws of
        the wrong mixture (a 12 x 2 model: one mode in 53% of the draws,
        against its exact 69%).  ``"tempered"`` runs parallel tempering:
        each output row's chain is the coldest of a ladder of
        ``n_temperatures`` clamped chains, from the model down to the
        independent model of the data marginals, which swap states after
        every step (``sample``).
        ``"auto"`` is exact where enumerating the
        hidden states (binary hidden units, at most 2**14 states) costs no
        more per row than a chain of ``n_steps`` steps: 2**H <= 6 n_steps H
        (up to 14 hidden units at the default 200 steps, 11 at 50); else
        ``"gibbs"``.
        A row with nothing observed is a draw from the model.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Rows with missing entries: NaN, and for labels also None and
            pandas' NA.  Observed entries must be valid for the model (for
            CategoricalRBM, categories seen in fit).
        n_draws : int, default=1
            Completions per row; the output holds them row after row (the
            ``n_draws`` completions of row 0 first).
        n_steps : int, default=200
            Gibbs steps per chain (``"gibbs"``).  Clamped chains mix faster
            than the free chains of ``sample`` (1,000 steps): the observed
            entries pin the hidden layer.
        method : {"auto", "exact", "gibbs", "tempered"}, default="auto"
            Exact draws, clamped Gibbs chains or clamped tempered chains (see
            above).
        n_temperatures : int, default=10
            Temperatures of ``"tempered"``, the model's own included; from 2
            to 1000, checked whatever the method.
        random_state : int, RandomState instance or None, default=None
            Seed; None uses the estimator's ``random_state``.  The same seed
            gives the same draws whatever ``n_jobs``.

        Returns
        -------
        X_completed : ndarray or DataFrame of shape (n_samples * n_draws, n_features)
            X with its missing entries drawn; observed entries unchanged (in
            the model's dtype, as ``sample`` and ``gibbs`` give: a float32
            model rounds float64 input).  A DataFrame for a DataFrame X (its
            index repeated with the rows).
        """
        n_draws = _check_count("n_draws", n_draws)
        n_steps = _check_count("n_steps", n_steps)
        rows, observed = self._incomplete_input(X)  # (checks the fitted state first)
        method = self._conditional_method(method, gibbs_steps=n_steps, tempered=True)
        ladder = _ladder_size(method, n_temperatures)
        self._check_n_jobs()  # (refused alike where the exact draws use no threads)
        check_chain_memory(self, n_draws * rows.shape[0],
                           f"conditional_sample(n_draws={n_draws}) of {rows.shape[0]} rows",
                           "ask for at most {} completions a call in all (fewer rows or "
                           "draws)", chain_bytes(self, "conditional_sample"))
        _check_ladder_memory(self, n_draws * rows.shape[0], ladder,
                             f"conditional_sample(n_draws={n_draws}) of {rows.shape[0]} rows",
                             "rows, draws")
        entropy = draw_entropy(random_state if random_state is not None else self.random_state)
        if method == "exact":
            V = self._exact_conditional_draws(rows, observed, n_draws,
                                              generator_for(entropy, CONDITIONAL_EXACT))
        else:
            V = self._gibbs_conditional_draws(rows, observed, n_draws, n_steps, entropy,
                                              n_temperatures if method == "tempered" else None)
        return visible_output(self, self._visible_unit.decode(V), _repeat_rows(X, n_draws),
                              self._output_column_types())

    def _gibbs_conditional_draws(self, rows, observed, n_draws, n_steps, entropy,
                                 n_temperatures=None):
        """Internal rows: ``n_draws`` completions of each row, each the end of a
        clamped Gibbs chain of ``n_steps`` steps (``conditional_sample``), or,
        with ``n_temperatures``, of the coldest of a ladder of tempered ones."""
        rows, observed = np.repeat(rows, n_draws, axis=0), np.repeat(observed, n_draws, axis=0)
        S = self._chain_start(rows, observed, generator_for(entropy, CONDITIONAL_START))
        clamp = self._visible_unit.kernel_mask(observed).astype(np.uint8)
        if n_temperatures is None:
            self._clamped_chains(S, clamp, n_steps, ChainStreams(entropy, CONDITIONAL_CHAINS))
        else:
            self._check_proper("has no samples (its chains run off to infinity)",
                               missing=~clamp.astype(bool))
            S = self._tempered_chains(S, clamp, n_steps, n_temperatures, entropy,
                                      "conditional_sample")
        self._warn_of_runaway_chains(S, "conditional_sample")
        # The observed entries as given, not as the kernel's form s(v) gives them
        # back: for Gaussian units v -> v / sigma**2 -> v moved them by rounding.
        return np.where(clamp.astype(bool), rows, self._visible_unit.from_kernel(S))

    def _exact_conditional_draws(self, rows, observed, n_draws, rng):
        """Internal rows: ``n_draws`` independent exact completions of each row
        (``conditional_sample``): h from p(h | observed) by its cumulative sum
        over every hidden state, then the missing entries from p(v | h).

        Two passes over the blocks of hidden states: the first sums each
        block's weight per row (in the block's own scale: its largest log
        weight), the draws pick a block by those sums, and the second finds
        each draw's state by the cumulative sum inside its block.  The
        passes compute the same log weights (by products whose last bits may
        differ with the rows beside them); a draw that rounding puts past its
        block's last sum takes the block's last state."""
        # Parameters past float64's resolution would make the states' sums
        # rounding noise (inf - inf at 1e300), as they make log Z.
        check_energy_scale(self)
        unit, n_rows = self._visible_unit, rows.shape[0]
        W = self.components_.astype(np.float64)
        b = self.intercept_visible_.astype(np.float64)
        factors = self._row_factors(rows, observed)
        with np.errstate(over="ignore", invalid="ignore"):
            tops, masses = self._block_masses(factors, n_rows)
            scales = np.exp(tops - tops.max(axis=0))  # (blocks, rows)
            cumulative = np.cumsum(masses * scales, axis=0)
        _refuse_rows_without_a_law(self, cumulative[-1], slice(0, n_rows))
        u = rng.random((n_rows, n_draws)) * cumulative[-1][:, None]
        block_of = np.minimum((cumulative.T[:, :, None] <= u[:, None, :]).sum(axis=1),
                              len(cumulative) - 1)  # (rows, draws)
        before = np.where(block_of > 0, np.take_along_axis(
            cumulative.T, np.maximum(block_of - 1, 0), axis=1), 0.0)
        # Each draw's place inside its block, in the block's own scale.
        inside = (u - before) / np.take_along_axis(scales.T, block_of, axis=1)
        H = np.empty((n_rows, n_draws, self.n_components))
        for k, ((states, *_), log_w_of) in enumerate(self._state_blocks_with_rows(factors,
                                                                                   n_rows)):
            for chunk, log_w in log_w_of(np.flatnonzero((block_of == k).any(axis=1))):
                within = np.cumsum(np.exp(log_w - tops[k][chunk, None]), axis=1)
                for j, row in enumerate(chunk):
                    draws = np.flatnonzero(block_of[row] == k)
                    H[row, draws] = states[pick_by_cumulative(within[j], inside[row, draws])]
        H = H.reshape(n_rows * n_draws, self.n_components)
        V = unit.sample((H @ W + b).astype(rows.dtype), rng)
        clamp = unit.kernel_mask(np.repeat(observed, n_draws, axis=0))
        return np.where(clamp, np.repeat(rows, n_draws, axis=0), V).astype(rows.dtype,
                                                                            copy=False)

    def _block_masses(self, factors, n_rows):
        """(largest log weight, sum of the weights in that scale) of every block
        of hidden states per row: two (blocks, rows) arrays (see
        ``_exact_conditional_draws``)."""
        tops, masses = [], []
        for _, log_w_of in self._state_blocks_with_rows(factors, n_rows):
            top, mass = np.empty(n_rows), np.empty(n_rows)
            for chunk, log_w in log_w_of(np.arange(n_rows)):
                top[chunk] = log_w.max(axis=1)
                mass[chunk] = np.cumsum(np.exp(log_w - top[chunk, None]), axis=1)[:, -1]
            tops.append(top)
            masses.append(mass)
        return np.array(tops).reshape(-1, n_rows), np.array(masses).reshape(-1, n_rows)

    # ------------------------------------------------------------------
    # Marginals
    # ------------------------------------------------------------------

    def conditional_marginals(self, X, *, method="auto", n_chains=DEFAULT_N_CHAINS,
                              burn_in=DEFAULT_BURN_IN, n_sweeps=DEFAULT_N_SWEEPS,
                              random_state=None):
        """Distribution of each missing entry given the row's observed entries.

        ``method="exact"`` sums over every hidden state h, weighting p(v_i |
        h) by p(h | observed); ``"gibbs"`` is Rao-Blackwellised: the average
        of p(v_i | h) over the hidden states of ``n_chains`` clamped chains
        per row, each run ``burn_in`` steps and then ``n_sweeps`` more whose
        hidden states are all averaged (consecutive states are correlated,
        which costs precision, not correctness, so there is no thinning).
        ``"auto"`` is exact when the hidden layer has at most 2**14 states
        (binary hidden units), or in closed form where the model is one
        multivariate Gaussian (Gaussian visible and hidden units; so is
        ``"exact"`` there); for the other ReLU, dReLU and Gaussian hidden
        units, whose states cannot be enumerated, it is ``"gibbs"``, an
        estimate.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Rows with missing entries (NaN; for labels also None, pandas' NA).
        method : {"auto", "exact", "gibbs"}, default="auto"
        n_chains : int, default=16
            Clamped chains per row (``"gibbs"``).  A row's chains run in
            groups of 16 (a group of the kernel's random streams each), so
            other counts cost the next multiple of 16.  Their streams and
            start are drawn from the seed and the row's observed entries, so
            a row's estimate does not depend on the other rows of X or their
            order.
        burn_in : int, default=25
            Steps before a chain's hidden states are averaged (``"gibbs"``);
            the chains start at the data marginals' means.
        n_sweeps : int, default=25
            Hidden states averaged per chain (``"gibbs"``).
        random_state : int, RandomState instance or None, default=None
            Seed of the chains; None uses the estimator's ``random_state``.

        Returns
        -------
        marginals
            BernoulliRBM: ndarray (n_samples, n_features) of p(v_i = 1 |
            observed).  CategoricalRBM: a list with one (n_samples,
            n_categories_i) array per feature, p(category | observed), in
            the order of ``categories_``.  GaussianBernoulliRBM: a tuple
            (mean, variance) of (n_samples, n_features) arrays.  Observed
            entries are certain: their value (one-hot; variance 0).
        """
        rows, observed = self._incomplete_input(X)
        if self._gaussian_pair_closed_form(method, observed):
            # The variance itself, not through second moments, whose difference
            # with the mean's square loses digits where the mean is large.
            mean, variance = self._gaussian_pair_conditionals(rows, observed)
            return np.where(observed, rows, mean), variance
        first, second = self._marginal_moments(rows, observed, method, n_chains, burn_in,
                                               n_sweeps, random_state)
        return self._visible_unit.posterior_marginals(first, second, rows, observed)

    def _marginal_moments(self, rows, observed, method="auto", n_chains=DEFAULT_N_CHAINS,
                          burn_in=DEFAULT_BURN_IN, n_sweeps=DEFAULT_N_SWEEPS,
                          random_state=None):
        """(E[E[v | h]], E[E[v | h]**2]) over h ~ p(h | observed), internal columns."""
        if self._gaussian_pair_closed_form(method, observed):
            mean, variance = self._gaussian_pair_conditionals(rows, observed)
            return mean, mean * mean + np.maximum(
                variance - self._visible_unit.coupling_precision() ** -1.0, 0.0)
        if self._conditional_method(method) == "exact":
            return self._exact_moments(rows, observed)
        n_chains = _check_count("n_chains", n_chains)
        burn_in = _check_count("burn_in", burn_in, low=0)
        n_sweeps = _check_count("n_sweeps", n_sweeps)
        first, question = self._distinct_questions(rows, observed)
        check_chain_memory(self, chains_per_row(n_chains) * len(first),
                           f"conditional_marginals(n_chains={n_chains}) of {len(first)} "
                           "distinct rows",
                           "use at most {} chains in all (fewer rows or chains)",
                           chain_bytes(self, "conditional_marginals"))
        moments = self._gibbs_moments(rows[first], observed[first], n_chains, burn_in,
                                      n_sweeps, random_state)
        return tuple(moment[question] for moment in moments)

    def _gaussian_pair_closed_form(self, method, observed):
        """Whether a conditional call of ``method`` takes the Gaussian pair's
        closed form: a Gaussian pair asked "auto" or "exact", after checking
        that every conditional it will give exists (``_check_proper``)."""
        if method not in ("auto", "exact") or not is_gaussian_pair(self._visible_unit,
                                                                    self._hidden_unit):
            return False
        self._check_proper("has no mean or variance", missing=~observed)
        return True

    def _gaussian_pair_conditionals(self, rows, observed):
        """(mean, variance) of every entry of a Gaussian pair's rows given
        their observed entries, exactly (the observed: their value, variance 0).

        The model's visible marginal is exp(-v.P v / 2 + q.v) up to a constant
        (``gaussian_pair_moments``), so the missing entries f of a row given
        its observed ones o follow N(P_ff**-1 (q_f - P_fo v_o), P_ff**-1), once
        per distinct mask (each P_ff checked positive definite by the
        caller; the whole model need not be).  The Gibbs estimate was off by
        up to 0.24 standard deviations in the mean and 14% in the variance.
        """
        W, b, c = self._float64_parameters()
        P = gaussian_pair_moments(W, b, c, self._visible_unit)[0]
        q = self._visible_unit.coupling_precision() * (b + W.T @ c)
        rows = np.asarray(rows, dtype=np.float64)
        mean, variance = np.where(observed, rows, 0.0), np.zeros(rows.shape)
        masks, which = np.unique(observed, axis=0, return_inverse=True)
        for k, o in enumerate(masks):
            f = ~o
            if not f.any():
                continue
            members = np.flatnonzero(which.ravel() == k)
            inverse_L = np.linalg.solve(np.linalg.cholesky(P[np.ix_(f, f)]),
                                        np.eye(int(f.sum())))
            linear = q[f] - rows[np.ix_(members, o)] @ P[np.ix_(o, f)]
            mean[np.ix_(members, f)] = (inverse_L.T @ (inverse_L @ linear.T)).T
            variance[np.ix_(members, f)] = np.sum(inverse_L * inverse_L, axis=0)
        return mean, variance

    def _distinct_questions(self, rows, observed):
        """(the first row of each distinct question, each row's question).

        Rows that agree on which entries are observed and on their values
        ask the model the same question.  A Monte Carlo estimate is made
        once per question and shared, so identical rows get identical
        answers (separate chains would give each its own noise: on a
        multimodal conditional, answers apart by a standard deviation).
        The questions keep the order of their first rows, so a batch of
        distinct rows is estimated exactly as before.
        """
        key = self._question_keys(rows, observed)
        rows_as_bytes = key.view(np.dtype((np.void, key.dtype.itemsize * key.shape[1])))
        _, first, inverse = np.unique(rows_as_bytes.ravel(), return_index=True,
                                      return_inverse=True)
        order = np.argsort(first)
        rank = np.empty_like(order)
        rank[order] = np.arange(len(order))
        return first[order], rank[inverse.ravel()]

    def _question_keys(self, rows, observed):
        """One float64 row per row that says which question it asks: its
        observed values (0 elsewhere) and its observed mask, in kernel
        columns; rows asking the same question have the same bytes."""
        mask = self._visible_unit.kernel_mask(observed)
        key = np.ascontiguousarray(np.concatenate(
            [np.where(mask, rows, 0).astype(np.float64), mask.astype(np.float64)], axis=1))
        # +0.0 for -0.0: the same value, whose bytes differ.
        key += 0.0
        return key

    def _sample_method(self, method):
        """"exact", "gibbs" or "tempered" for ``sample``'s ``method`` (ValueError
        for another), as ``RBMClassifier._sample_method`` for its ``sample``:
        ``how_drawn`` asks the model which its "auto" is."""
        return self._conditional_method(method, tempered=True)

    def _conditional_method(self, method, gibbs_steps=None, tempered=False):
        """"exact" or "gibbs" (or, where ``tempered``, "tempered") for a
        ``method`` of the conditional calls: "auto"
        is exact where the hidden states can be enumerated and, for a call
        whose rows would each run a chain of ``gibbs_steps`` steps, where the
        enumeration costs no more per row than the chain:
        2**H <= ``EXACT_DRAW_STEPS_FACTOR`` gibbs_steps H.  ValueError for an
        unknown method or an exact one that cannot be."""
        choices = ("auto", "exact", "gibbs") + (("tempered",) if tempered else ())
        if method not in choices:
            listed = ", ".join(repr(choice) for choice in choices[:-1])
            raise ValueError(f"method must be {listed} or {choices[-1]!r}, got {method!r}.")
        if method == "tempered":
            return method
        if method == "auto":
            cheap = (gibbs_steps is None or self._hidden_unit.n_states(self.n_components)
                     <= EXACT_DRAW_STEPS_FACTOR * gibbs_steps * self.n_components)
            return "exact" if self._hidden_enumerable() and cheap else "gibbs"
        if method == "exact":
            if not getattr(self._hidden_unit, "discrete", False):
                raise ValueError(
                    f"method='exact' enumerates the hidden units' states, but "
                    f"hidden={self.hidden!r} units are real-valued; use method='gibbs'.")
            if not self._hidden_enumerable():
                raise ValueError(
                    f"method='exact' enumerates the {self.n_components} hidden units' "
                    f"states, more than {MAX_EXACT_HIDDEN_STATES}; use method='gibbs'.")
        return method

    def _hidden_enumerable(self):
        unit = self._hidden_unit
        return (getattr(unit, "discrete", False)
                and unit.n_states(self.n_components) <= MAX_EXACT_HIDDEN_STATES)

    def _clamped_sweeps(self, rows, observed, n_chains, burn_in, n_sweeps, entropy):
        """Yield (hidden samples, kernel rows s(v)) of ``n_chains`` clamped chains
        per row (row i's chains are rows i * n_chains, ...), after each of
        ``n_sweeps`` steps that follow ``burn_in`` steps.

        Each row's chains fill whole chunks of the kernel's streams
        (``chains_per_row``; the chains beyond ``n_chains`` run, unread),
        their streams are keyed by the row's question
        (``KeyedChainStreams``), and they start at the data marginals' means
        (no random numbers): a row's estimate is the same alone, in any
        batch and in any order (with streams by position, the k-th row took
        the k-th streams, and an imputation moved with its batch-mates:
        0.0747 in a batch, 0.0728 alone).
        """
        unit = self._visible_unit
        per_row = chains_per_row(n_chains)
        streams = KeyedChainStreams(entropy, CONDITIONAL_CHAINS,
                                    content_keys(self._question_keys(rows, observed)),
                                    per_row // _gibbs.CHUNK_ROWS)
        marginal_means = unit.mean(np.broadcast_to(self._base_visible_bias(), rows.shape))
        start = np.where(unit.kernel_mask(observed), rows, marginal_means)
        S = np.repeat(unit.to_kernel(start.astype(self.components_.dtype)), per_row, axis=0)
        clamp = np.repeat(unit.kernel_mask(observed).astype(np.uint8), per_row, axis=0)
        if burn_in:
            self._clamped_chains(S, clamp, burn_in, streams)
        for _ in range(n_sweeps):
            H = self._clamped_chains(S, clamp, 1, streams)
            yield (read_chains(H, len(rows), per_row, n_chains),
                   read_chains(S, len(rows), per_row, n_chains))

    def _question_blocks(self, rows, n_chains):
        """Slices of ``rows`` (distinct questions) whose chains take about
        ``CHAIN_BLOCK_BYTES`` at most (one row at least): a row's estimate is
        its own, so blocks change no answer, and bound the chains' memory."""
        width = self.components_.shape[1] + self.n_components
        size = max(1, CHAIN_BLOCK_BYTES // (8 * width * chains_per_row(n_chains)))
        return [slice(start, start + size) for start in range(0, len(rows), size)]

    def _gibbs_moments(self, rows, observed, n_chains, burn_in, n_sweeps, random_state):
        """Rao-Blackwellised moments from clamped chains (``conditional_marginals``)."""
        entropy = draw_entropy(random_state if random_state is not None else self.random_state)
        first = np.empty(rows.shape)
        second = np.empty(rows.shape)
        for block in self._question_blocks(rows, n_chains):
            first[block], second[block] = self._block_moments(
                rows[block], observed[block], n_chains, burn_in, n_sweeps, entropy)
        return first, second

    def _block_moments(self, rows, observed, n_chains, burn_in, n_sweeps, entropy):
        unit, n = self._visible_unit, rows.shape[0]
        W = self.components_.astype(np.float64)
        b = self.intercept_visible_.astype(np.float64)
        first = np.zeros((n * n_chains, rows.shape[1]))
        second = np.zeros_like(first)
        for H, _ in self._clamped_sweeps(rows, observed, n_chains, burn_in, n_sweeps, entropy):
            mean = unit.mean(H.astype(np.float64) @ W + b)
            first += mean
            second += mean * mean
        shape = (n, n_chains, rows.shape[1])
        total = n_chains * n_sweeps
        return (first.reshape(shape).sum(axis=1) / total,
                second.reshape(shape).sum(axis=1) / total)

    def _gibbs_hidden_means(self, rows, observed, n_chains=DEFAULT_N_CHAINS,
                            burn_in=DEFAULT_BURN_IN, n_sweeps=DEFAULT_N_SWEEPS,
                            random_state=None):
        """E[h | observed], Rao-Blackwellised: the mean of E[h | v] over the
        visible states of clamped chains (``transform``)."""
        entropy = draw_entropy(random_state if random_state is not None else self.random_state)
        W = self.components_.astype(np.float64)
        c = self.intercept_hidden_.astype(np.float64)
        means = np.empty((rows.shape[0], self.n_components))
        for block in self._question_blocks(rows, n_chains):
            n = len(rows[block])
            total = np.zeros((n * n_chains, self.n_components))
            for _, S in self._clamped_sweeps(rows[block], observed[block], n_chains, burn_in,
                                             n_sweeps, entropy):
                total += self._hidden_unit.mean(S.astype(np.float64) @ W.T + c)
            means[block] = (total.reshape(n, n_chains, self.n_components).sum(axis=1)
                            / (n_chains * n_sweeps))
        return means

    def _row_factors(self, rows, observed):
        """(the field of each row's observed entries W s(v_o), rows x hidden; the
        observed mask, rows x features): all that the log weights of the
        hidden states need of the rows (``_state_blocks_with_rows``)."""
        unit = self._visible_unit
        W = self.components_.astype(np.float64)
        field = np.empty((rows.shape[0], W.shape[0]))
        # In blocks of rows: s(v) masked is a float64 copy of the rows.
        size = max(1, EXACT_BLOCK_ELEMENTS // max(W.shape[1], 1))
        for start in range(0, rows.shape[0], size):
            block = slice(start, start + size)
            S = (np.asarray(unit.hidden_input(rows[block]), dtype=np.float64)
                 * unit.kernel_mask(observed[block]))
            field[block] = S @ W.T
        # One way of summing the missing terms for the whole call: the passes
        # of the exact draws then add the same terms in the same order.
        return field, observed, (~observed).mean() < SPARSE_GAPS_SHARE if observed.size else True

    def _state_blocks(self, with_means=True):
        """Yield (states, c . h, the missing features' log partitions log Z_m(h W)
        (states x features), E[v | h] (states x columns) or None without
        ``with_means``) over blocks of the hidden states."""
        unit, hidden = self._visible_unit, self._hidden_unit
        W = self.components_.astype(np.float64)
        b = self.intercept_visible_.astype(np.float64)
        c = self.intercept_hidden_.astype(np.float64)
        n_states = hidden.n_states(self.n_components)
        state_rows = max(1, min(n_states, EXACT_BLOCK_ELEMENTS // max(W.shape[1], 1)))
        for Hs in hidden.enumerate_states(self.n_components, state_rows, np.float64):
            A = Hs @ W
            yield (Hs, Hs @ c, unit.feature_log_partitions(A, b),
                   unit.mean(A + b) if with_means else None)

    def _state_blocks_with_rows(self, factors, n_rows, with_means=False):
        """Yield, for each block of ``_state_blocks`` (means ``with_means``), (the block, a function of
        row indices that yields (chunk of them, the log weights of the block's
        states for those rows, chunk x states)): the states' terms are
        computed once per block, whatever the number of rows, and each chunk
        keeps its log weights near ``EXACT_BLOCK_ELEMENTS``.

        The log weight of hidden state h for a row with observed entries o and
        missing entries m is c.h + h . W s(v_o) + sum_m log Z_m(h W), the log
        of p(h, v_o) up to a constant of the row: the observed entries' part
        is a product with the rows' fields (hidden units wide), not with the
        states' couplings (visible columns wide: 65 times the work at 12 x 784).
        """
        field, observed, sparse = factors
        for block in self._state_blocks(with_means):
            states, base, log_partitions, _ = block
            size = max(1, EXACT_BLOCK_ELEMENTS // len(states))

            def log_w_of(index, states=states, base=base, log_partitions=log_partitions):
                for start in range(0, len(index), size):
                    chunk = index[start:start + size]
                    yield chunk, (base + field[chunk] @ states.T
                                  + _missing_terms(~observed[chunk], log_partitions, sparse))

            yield block, log_w_of

    def _exact_posterior_means(self, rows, observed, terms, with_means=True):
        """Per row, E[term(h, E[v | h]) | observed] for each function in ``terms``
        (of the hidden states and their visible means; None without
        ``with_means``), exact: p(h | observed) summed over every hidden state."""
        factors = self._row_factors(rows, observed)
        log_norm = self._exact_hidden_log_norm(rows, observed, factors)
        sums = None
        for (states, _, _, mean), log_w_of in self._state_blocks_with_rows(
                factors, rows.shape[0], with_means):
            values = [term(states, mean) for term in terms]
            if sums is None:
                sums = [np.zeros((rows.shape[0], value.shape[1])) for value in values]
            for chunk, log_w in log_w_of(np.arange(rows.shape[0])):
                weights = np.exp(log_w - log_norm[chunk, None])  # (rows, states): p(h | observed)
                for total, value in zip(sums, values):
                    total[chunk] += weights @ value
        return sums

    def _exact_moments(self, rows, observed):
        """Exact moments by enumerating the hidden states (``conditional_marginals``)."""
        return tuple(self._exact_posterior_means(
            rows, observed, (lambda _, mean: mean, lambda _, mean: mean * mean)))

    def _exact_hidden_log_norm(self, rows, observed, factors=None):
        """log sum_h of the hidden log weights (``_state_blocks_with_rows``), per
        row: a log-sum-exp carried over the blocks of states."""
        factors = self._row_factors(rows, observed) if factors is None else factors
        n_rows = rows.shape[0]
        top, total = np.full(n_rows, -np.inf), np.zeros(n_rows)
        with np.errstate(over="ignore", invalid="ignore"):
            for _, log_w_of in self._state_blocks_with_rows(factors, n_rows):
                for chunk, log_w in log_w_of(np.arange(n_rows)):
                    new_top = np.maximum(top[chunk], log_w.max(axis=1))
                    total[chunk] = (total[chunk] * np.exp(top[chunk] - new_top)
                                    + np.exp(log_w - new_top[:, None]).sum(axis=1))
                    top[chunk] = new_top
            return top + np.log(total)

    # ------------------------------------------------------------------
    # Hidden features of rows with gaps
    # ------------------------------------------------------------------

    def transform(self, X):
        """Hidden unit means E[h_j | x] (for binary units, p(h_j = 1 | x)).

        With ``missing="impute"`` rows may have missing entries (NaN; for
        labels also None and pandas' NA), as in ``fit``: theirs are
        E[h_j | observed entries], the mean over p(missing | observed).
        Exact, by summing over the hidden states, where there are at most
        2**14 of them (binary hidden units; ``conditional_marginals``'s
        ``"auto"``), or in closed form where the model is one Gaussian
        (Gaussian visible and hidden units); otherwise estimated from 16 clamped chains per row
        (25 steps of burn-in, then E[h | v] averaged over 25 steps,
        Rao-Blackwellised) seeded by ``random_state`` and the row itself,
        so repeated calls agree where it is set, and a row's features do
        not depend on the other rows of X: 800 Gibbs steps per distinct row
        with gaps (copies of a row share one estimate).
        Rows without gaps are exact either way, at the usual cost.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Data to transform.

        Returns
        -------
        H : ndarray of shape (n_samples, n_components)
            Hidden activation probabilities, in the dtype of X (of the
            model's parameters where X has gaps).
        """
        if self._may_have_gaps(X):
            # X is validated once (each validation warns about feature names),
            # in its own float dtype as complete input is, the model's for gaps.
            rows, observed = self._incomplete_input(X, dtype=[np.float64, np.float32])
            if not observed.all():
                return self._hidden_means_given_observed(self._in_model_dtype(rows), observed)
            return self._hidden_unit.mean(self._hidden_field(rows))
        X = self._check_fitted_input(X, dtype=[np.float64, np.float32])
        return self._hidden_unit.mean(self._hidden_field(X))

    def _in_model_dtype(self, rows):
        """Validated rows cast to the model's dtype; ValueError where a value
        does not fit it (a float32 model's features of 1e39 were inf, and
        transform NaN, without a word)."""
        cast = rows.astype(self.components_.dtype, copy=False)
        if cast is not rows and not np.isfinite(cast).all():
            largest = float(np.max(np.abs(rows)))
            raise ValueError(
                f"{type(self).__name__} got input with values beyond the range of its "
                f"{cast.dtype} parameters (largest magnitude {largest:.4g}); scale the data "
                "first, or fit the model in float64.")
        return cast

    def _may_have_gaps(self, X):
        """Whether X may hold missing entries that this model takes
        (``missing="impute"``), for every method that takes them.

        Sparse input has them where a stored value is NaN (read once, with
        no copy of X); a float array, where its sum is not finite (read once,
        where the incomplete rows' validation copies X).  Other input is
        left to that validation.
        """
        if getattr(self, "missing", "error") != "impute":
            return False
        if sp.issparse(X):
            return stores_nan(X)
        if isinstance(X, np.ndarray) and X.dtype.kind == "f":
            return not np.isfinite(X.sum())
        return True

    def _hidden_means_given_observed(self, rows, observed):
        """E[h | observed entries] of internal rows: direct for complete rows,
        exact or Rao-Blackwellised for the others (see ``transform``)."""
        complete = observed.all(axis=1)
        H = np.empty((rows.shape[0], self.n_components), dtype=self.components_.dtype)
        H[complete] = self._hidden_unit.mean(self._hidden_field(rows[complete]))
        gaps = ~complete
        if is_gaussian_pair(self._visible_unit, self._hidden_unit):
            # Linear in v: E[h | observed] = c + W D E[v | observed], exactly.
            self._check_proper("has no hidden means given the observed entries",
                               missing=~observed[gaps])
            first, _ = self._gaussian_pair_conditionals(rows[gaps], observed[gaps])
            means = self._hidden_unit.mean(self._hidden_field(first))
        elif self._hidden_enumerable():
            (means,) = self._exact_posterior_means(rows[gaps], observed[gaps],
                                                   (lambda states, _: states,), with_means=False)
        else:
            self._check_proper("has no hidden means given the observed entries",
                               missing=~self._visible_unit.kernel_mask(observed[gaps]))
            first, question = self._distinct_questions(rows[gaps], observed[gaps])
            means = self._gibbs_hidden_means(rows[gaps][first], observed[gaps][first])[question]
        H[gaps] = means
        return H

    # ------------------------------------------------------------------
    # Log-likelihood of rows with gaps
    # ------------------------------------------------------------------

    def observed_log_likelihood(self, X, *, n_chains=ROW_AIS_CHAINS, n_betas=ROW_AIS_BETAS,
                                random_state=None):
        """log p(observed entries) of each row: the missing entries summed out.

        Complete rows get -F(v) - log Z.  For a row with gaps the missing
        entries are summed out exactly where that is cheap: by enumerating
        the hidden states (at most 2**14) with the missing units summed in
        closed form given h, or, for discrete visible units, by enumerating
        the missing entries' states (at most 2**16 per row); Gaussian visible
        with Gaussian hidden units (one multivariate Gaussian) in closed
        form, the observed entries' marginal.  Otherwise the
        row's missing units form an RBM of their own given the observed
        ones (hidden biases shifted by the observed entries), whose log Z
        is estimated by AIS (``n_chains`` runs, ``n_betas`` temperatures per
        row; it errs low, as every forward AIS estimate).  log Z of the
        model itself is that of ``score_samples`` (``log_partition_``).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Rows with missing entries (NaN; for labels also None, pandas' NA).
        n_chains : int, default=32
            AIS runs per row (rows needing AIS only), at least 2.
        n_betas : int, default=1000
            AIS inverse temperatures per row, at least 3.
        random_state : int, RandomState instance or None, default=None
            Seed of the AIS runs; None uses the estimator's ``random_state``.

        Returns
        -------
        result : ObservedLogLikelihood
            ``log_p``, ``std_error`` and ``method`` per row.
        """
        rows, observed = self._incomplete_input(X)
        return self._observed_log_likelihood(rows, observed, n_chains, n_betas, random_state)

    def _observed_log_likelihood(self, rows, observed, n_chains, n_betas, random_state):
        """``observed_log_likelihood`` of rows validated by ``_incomplete_input``."""
        # As log_partition: two runs for a standard error, three temperatures for AIS.
        n_chains, n_betas = _check_count("n_chains", n_chains, 2), _check_count("n_betas", n_betas, 3)
        check_chain_memory(self, n_chains, f"observed_log_likelihood(n_chains={n_chains})",
                           "use at most {} chains")
        log_z, _ = self._log_partition_announced()
        n = rows.shape[0]
        log_p, std_error = np.empty(n), np.zeros(n)
        method = np.full(n, "complete", dtype=object)
        complete = observed.all(axis=1)
        if complete.any():
            log_p[complete] = -self._free_energy(rows[complete]) - log_z
        # Nothing observed: p(nothing) = 1 exactly, with no AIS run for it.
        empty = ~observed.any(axis=1)
        log_p[empty], method[empty] = 0.0, "exact"
        if log_z == np.inf:
            # An improper model (a Gaussian pair with couplings beyond the
            # visible precision): every row's log p is -inf, as score's; the
            # rows' own AIS gave NaN (inf - inf).
            log_p[~empty], method[~complete & ~empty] = -np.inf, "exact"
            return ObservedLogLikelihood(log_p, std_error, method.astype(str))
        gaps = np.flatnonzero(~complete & ~empty)
        if is_gaussian_pair(self._visible_unit, self._hidden_unit) and len(gaps):
            # One multivariate Gaussian: its observed entries' marginal is closed-form
            # (AIS per row gave it to a few thousandths of a nat).
            log_p[gaps] = self._gaussian_pair_observed_log_p(rows[gaps], observed[gaps])
            method[gaps] = "exact"
            gaps = gaps[:0]
        if self._hidden_enumerable() and len(gaps):
            log_p[gaps] = self._exact_observed_log_p(rows[gaps], observed[gaps]) - log_z
            method[gaps] = "exact"
            gaps = gaps[:0]
        entropy = draw_entropy(random_state if random_state is not None else self.random_state)
        # One estimate per distinct row, its AIS seeded by the row's question,
        # not its place (seeded by position, a row read -6.36266 in a batch
        # and -6.36165 alone, and copies of a row differed).
        first, question = self._distinct_questions(rows[gaps], observed[gaps])
        keys = content_keys(self._question_keys(rows[gaps][first], observed[gaps][first]))
        answers = [self._row_observed_log_p(rows[r], observed[r], n_chains, n_betas,
                                            generator_for([*entropy, *key], CONDITIONAL_START))
                   for r, key in zip(gaps[first], keys)]
        for r, answer in zip(gaps, (answers[q] for q in question)):
            log_p[r], std_error[r], method[r] = answer
            log_p[r] -= log_z
        return ObservedLogLikelihood(log_p, std_error, method.astype(str))

    def score_samples(self, X):
        """Log-likelihood log p(x) = -F(x) - log Z of each sample, in nats.

        With ``missing="impute"`` rows may have missing entries: theirs is
        log p(observed entries) (``observed_log_likelihood``: exact where the
        hidden states or the missing entries' states can be enumerated, else
        by AIS per row, with a UserWarning saying how many rows and their
        largest standard error).  Otherwise as ``LikelihoodMixin.score_samples``:
        log Z is exact for small models and a forward AIS estimate (100 runs,
        10,000 temperatures, cached) otherwise; ``log_partition_`` says
        which.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        log_p : ndarray of shape (n_samples,)
        """
        if not self._may_have_gaps(X):
            return super().score_samples(X)
        # X is validated once: each validation warns about feature names.
        rows, observed = self._incomplete_input(X)
        if observed.all():
            return self._scores_of_rows(rows)
        result = self._observed_log_likelihood(rows, observed, ROW_AIS_CHAINS, ROW_AIS_BETAS,
                                               None)
        estimated = result.method == "ais"
        if estimated.any():
            unknown = int(np.isinf(result.std_error).sum())
            error = (f"largest standard error {result.std_error.max():.3g} nats" if not unknown
                     else f"{unknown} of them with too few effective AIS runs for any "
                          "standard error (inf)")
            warnings.warn(
                f"{type(self).__name__}.score_samples: log p(observed entries) of "
                f"{int(estimated.sum())} rows with gaps was estimated by AIS per row "
                f"({error}); the others "
                "are exact. observed_log_likelihood gives each row's method and error.",
                UserWarning, stacklevel=2)
        return result.log_p

    def _gaussian_pair_observed_log_p(self, rows, observed):
        """log p(observed entries) of rows under a proper Gaussian-Gaussian model.

        The model is N(mean, P**-1) (``gaussian_pair_moments``), so the
        observed entries o of a row follow N(mean_o, C_oo), C = P**-1: their
        log density, once per distinct mask of observed entries.
        """
        P, mean, _ = gaussian_pair_moments(*self._float64_parameters(), self._visible_unit)
        C = np.linalg.inv(P)
        out = np.empty(rows.shape[0])
        masks, which = np.unique(observed, axis=0, return_inverse=True)
        for k, o in enumerate(masks):
            members = np.flatnonzero(which.ravel() == k)
            L = np.linalg.cholesky(C[np.ix_(o, o)])
            z = np.linalg.solve(L, (rows[np.ix_(members, o)] - mean[o]).T)
            out[members] = (-0.5 * np.sum(z * z, axis=0) - np.log(np.diag(L)).sum()
                            - 0.5 * o.sum() * np.log(2.0 * np.pi))
        return out

    def _observed_energy(self, rows, observed):
        """The observed entries' own visible terms -E_v, per row."""
        b = self.intercept_visible_.astype(np.float64)
        terms = self._visible_unit.feature_energy_terms(rows.astype(np.float64), b)
        return (terms * observed).sum(axis=1)

    def _exact_observed_log_p(self, rows, observed):
        """log of the unnormalised p(observed entries), by enumerating the hidden states."""
        return self._exact_hidden_log_norm(rows, observed) + self._observed_energy(rows,
                                                                                 observed)

    def _row_observed_log_p(self, row, observed, n_chains, n_betas, rng):
        """(log unnormalised p(observed), standard error, method) of one row with gaps."""
        unit = self._visible_unit
        free = np.flatnonzero(~unit.kernel_mask(observed[None, :])[0])
        if unit.discrete:
            sub = unit.restricted(free)
            if sub.n_states(len(free)) <= MAX_EXACT_MISSING_STATES:
                completions = np.repeat(row[None, :], sub.n_states(len(free)), axis=0)
                completions[:, free] = next(sub.enumerate_states(
                    len(free), len(completions), completions.dtype))
                return float(logsumexp(-self._free_energy(completions))), 0.0, "exact"
        return self._row_ais(row, observed, free, n_chains, n_betas, rng)

    def _row_ais(self, row, observed, free, n_chains, n_betas, rng):
        """AIS over the row's missing units, an RBM given the observed ones."""
        unit = self._visible_unit
        W = self.components_.astype(np.float64)
        known = unit.kernel_mask(observed[None, :])[0]
        s = np.asarray(unit.hidden_input(row[None, :].astype(np.float64)))[0]
        c = self.intercept_hidden_.astype(np.float64) + W[:, known] @ s[known]
        with self._kernel_threads(n_chains) as n_threads:
            log_z_row, std_error = ais_log_partition(
                W[:, free], self.intercept_visible_.astype(np.float64)[free], c,
                unit.restricted(free), self._hidden_unit, self._base_visible_bias()[free],
                n_chains, n_betas, rng, n_threads=n_threads)
        energy = float(self._observed_energy(row[None, :], observed[None, :])[0])
        return log_z_row + energy, std_error, "ais"

    # ------------------------------------------------------------------
    # Point estimates (for the imputer)
    # ------------------------------------------------------------------

    def _complete_by_marginals(self, rows, observed, **options):
        """Internal rows with missing entries at their posterior mode (discrete)
        or mean (real), observed ones unchanged."""
        first, _ = self._marginal_moments(rows, observed, **options)
        unit = self._visible_unit
        return np.where(unit.kernel_mask(observed), rows, unit.posterior_point(first))


class MissingFill:
    """The missing entries of training rows, re-drawn under the current model.

    ``X`` (internal form, dense, C-ordered) is changed in place: its unknown
    entries (``known`` False, a mask over the internal columns) start as
    draws from the known entries' marginals (``fill``) and ``refresh`` moves
    them ``n_steps`` steps of clamped block Gibbs under the model as it is,
    the known entries held: a persistent fill per row, so that across
    passes they follow p(missing | observed) of the model being trained.
    """

    def __init__(self, X, known, entropy, key=0):
        self.X = X
        self.known = known
        self.rows = np.flatnonzero(~known.all(axis=1))
        self.clamp = np.ascontiguousarray(known[self.rows], dtype=np.uint8)
        self.entropy = [*entropy, key]
        self.streams = ChainStreams(self.entropy, CONDITIONAL_FILL)

    def fill(self, unit):
        """Draw the unknown entries from the known entries' marginals."""
        rng = generator_for(self.entropy, CONDITIONAL_START)
        rows = self.X[self.rows]
        # The marginals of every row's known entries: the complete rows hold
        # entries that the rows with gaps alone would miss (a feature observed
        # only there was filled from no data, and a Gaussian feature's start
        # and bounds on sigma came from those fills).
        self.X[self.rows] = unit.fill_missing(rows, self.clamp.astype(bool), rng,
                                              marginals_of=(self.X, self.known))
        self.known = None  # (read here only: the fill keeps just its rows' mask)
        return self

    def refresh(self, model, n_steps=IMPUTE_STEPS):
        """Move the unknown entries n_steps clamped Gibbs steps under ``model``."""
        if not len(self.rows):
            return
        unit = model._visible_unit
        S = np.ascontiguousarray(unit.to_kernel(self.X[self.rows]))
        model._clamped_chains(S, self.clamp, n_steps, self.streams)
        self.X[self.rows] = unit.from_kernel(S)
