"""The training loop: epochs of ``fit``, one pass of minibatch updates, and
the figures recorded after each epoch.

The estimator owns its parameters; this module moves them.  A pass builds
the kernel's arguments from three objects (the data as ``Batches``, the
``Update`` hyperparameters and the ``TrainingState``), calls the compiled
kernel once, and checks for divergence afterwards, rolling back if needed.
"""

import math
import time
import threading
import warnings
from numbers import Integral, Real

import numpy as np
import scipy.sparse as sp
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state

from . import _gibbs
from ._blas import single_threaded_blas
from ._likelihood import AUTO_EXACT_MAX_FLOPS
from ._monitor import (EXPONENTIAL_FINAL_FRACTION, MONITOR_AIS, MONITOR_ROWS,
                       PASS_FLOPS_PER_WEIGHT, EarlyStopping,
                       ProgressLine, TrainingMonitor, epoch_learning_rate, epoch_momentum,
                       epoch_row_index, estimate_tag, likelihood_epoch,
                       likelihood_monitoring, likelihood_rows, format_epoch)
from ._partition import (GAUSSIAN_PAIR_MAX_HALVINGS, GAUSSIAN_PAIR_RIDGE, IMPROPER_GAUSSIAN_PAIR,
                         MAX_EXACT_STATES, exact_cost, gaussian_pair_from_moments, gaussian_pair_gradient,
                         gaussian_pair_log_likelihood, is_gaussian_pair, weighted_moments)
from ._properness import ProperKeeper, check_cost_bound, improper_description
from ._state import MAX_ENERGY_SCALE, Update, model_energy_scale
from ._units._layer import user_stacklevel
from ._units import (all_finite, default_learning_rate, default_weight_decay, hidden_layer_type,
                     resolved_learning_rate, resolved_weight_decay)
from ._weights import average, kernel_weights


#: ``n_iter="auto"``: about this many minibatch updates, in at least and at
#: most these many epochs (4,762 epochs of digits' 1,257 training rows at
#: batch 20; 100 epochs of 60,000 rows).
AUTO_UPDATES = 300_000
AUTO_EPOCHS = (10, 5000)


#: Finite divergence: after a pass, an upper bound on the model's mean
#: log-likelihood of (up to ``MONITOR_ROWS``) training rows lies more than
#: this many nats per feature below that of the independent model of the
#: data's marginals, the model training starts from.  See
#: ``finite_divergence`` and docs/architecture.md, "Divergence".
DIVERGENCE_NATS_PER_FEATURE = 1.0
#: ``fit`` declares a finite divergence after this many passes in a row
#: below that line, or at its last pass: stochastic training makes brief
#: excursions that it recovers from (CategoricalRBM(n_components=8,
#: learning_rate=10, n_iter=20) on 300 rows of six uniform 4-label features
#: is 1.15 and 1.31 nats per feature below after passes 2 and 3, then climbs
#: back level with the independent model), while a learning rate that is
#: too large keeps the model down.  Each
#: ``partial_fit`` call is its own last pass.
DIVERGENCE_PATIENCE = 3


class DivergenceError(ValueError):
    """Training diverged: the parameters became non-finite, too large for float64
    likelihoods, or (``on_divergence="raise"``) made a model far worse than the
    independent model it started from.

    The message names the cause (the learning rate, the weight decay or the
    data's scale) and what to change; the model keeps the parameters it had
    before the failing pass.
    """


class DivergenceWarning(UserWarning):
    """Training diverged to a model far worse than the independent model it
    started from, and ``on_divergence="warn"`` let it go on."""


class DivergenceWatch:
    """The finite-divergence policy of one ``fit`` or ``partial_fit`` call.

    A pass that leaves the model far worse than the independent model
    (``finite_divergence``) is *bad*; the call has diverged after
    ``patience`` bad passes in a row, or when its last pass is bad (the
    model it would return).  Then ``"raise"``: the pass is rolled back and
    DivergenceError raised; ``"warn"``: one DivergenceWarning per call,
    and training goes on.
    """

    __slots__ = ("policy", "patience", "bad_passes", "last_pass", "fit_ends_here", "warned",
                 "sound", "declared", "before", "unchecked_flops", "checked", "passes_in_a_row",
                 "scored", "keeper", "check_flops", "retried", "retried_last")

    def __init__(self, policy, patience=1):
        self.policy = policy
        self.patience = patience
        self.bad_passes = 0
        self.last_pass = True
        # Whether this pass is the last of a fit (not a partial_fit call):
        # the model it leaves is the one fit returns.
        self.fit_ends_here = False
        # Training since the last properness check (``properness_due``), whether
        # this pass was checked (always, for discrete visible units), and the
        # passes gone on since the first bad check of the current run of them.
        self.unchecked_flops = 0.0
        self.checked = False
        self.passes_in_a_row = 0
        # Whether a model that keeps itself proper is checked at this pass
        # whatever the budget: early stopping scores it, or it fills gaps
        # (see properness_due).
        self.scored = False
        self.keeper = ProperKeeper()  # (models that keep themselves proper)
        self.check_flops = None  # what the last properness check cost
        self.warned = False
        self.sound = None  # the learned arrays from before the first bad pass
        self.declared = False  # whether this pass declared a finite divergence
        # Whether this pass, and the one before it, ran again after a runaway
        # (retries_runaway).
        self.retried = self.retried_last = False
        # The parameters a call on a model it did not start (partial_fit on
        # assigned or loaded parameters) began with (``BeforePass``): a model
        # that was already far worse than the independent one has diverged
        # only if training makes it worse still.  None: the call started it.
        self.before = None

    def begin_pass(self, epoch, n_epochs, stops_early, fills_gaps=False):
        """Before pass ``epoch`` of a fit of ``n_epochs``: whether it is the last,
        whether the model it leaves is the one fit returns (not with early
        stopping: fit returns its best epoch, which the monitor's log Z, +inf
        where improper (``rbm._properness``), chose), and whether that model
        is scored by early stopping (``likelihood_epoch``) or draws the gaps
        of the next pass (``fills_gaps``), where a model that keeps itself
        proper is checked whatever the budget (``properness_due``)."""
        self.last_pass = epoch + 1 == n_epochs
        self.retried_last, self.retried = self.retried, False
        self.fit_ends_here = self.last_pass and not stops_early
        self.scored = fills_gaps or (stops_early and likelihood_epoch(epoch, n_epochs))

    def keep_while_bad(self, snapshot):
        """After a pass that goes on: hold on to its ``snapshot`` (the learned
        arrays from before it) if it was the first bad pass, so that "raise"
        can restore the last sound parameters; let go once a pass is good."""
        if self.bad_passes == 0:
            self.sound, self.passes_in_a_row = None, 0
            return
        if self.bad_passes == 1 and self.checked:  # (not a pass between sparse checks)
            self.passes_in_a_row = 0
            if self.policy == "raise":
                self.sound = snapshot.kept()
        self.passes_in_a_row += 1

    def last_sound(self, snapshot):
        """The learned arrays to restore when training stops: from before the
        first of the bad passes in a row, else from before this pass."""
        return self.sound if self.earlier_passes_undone() else snapshot

    def earlier_passes_undone(self):
        """How many passes before the failing one ``last_sound`` undoes too."""
        finite = self.bad_passes > 1 and self.declared and self.sound is not None
        return self.passes_in_a_row if finite else 0

    @classmethod
    def of(cls, model, patience=1):
        """The policy of the model's ``on_divergence`` ("raise" for a model
        made before the parameter existed); for a model that keeps itself
        proper, with the directions and check budget its training left
        (``remember_properness``)."""
        watch = cls(getattr(model, "on_divergence", "raise"), patience)
        if keeps_proper(model):
            training = model._training
            watch.keeper = ProperKeeper(getattr(training, "proper_directions", None))
            unchecked, check = getattr(training, "properness_budget", (0.0, None))
            watch.unchecked_flops = float(unchecked)
            watch.check_flops = None if check is None else float(check)
        return watch

    def record(self, bad):
        """Count a pass; whether the call has now diverged."""
        self.bad_passes = self.bad_passes + 1 if bad else 0
        self.declared = bad and (self.bad_passes >= self.patience or self.last_pass)
        return self.declared

    def stops_training(self, message):
        """Whether a finite divergence described by ``message`` stops training;
        warns (once per call) where it does not."""
        if self.policy == "raise":
            return True
        if not self.warned:  # a diverged model usually stays so
            warnings.warn(message, DivergenceWarning, stacklevel=2)
            self.warned = True
        return False


def even_batch_ends(n_samples, batch_size):
    """End offsets of ceil(n / batch_size) batches whose sizes differ by at most one."""
    n_batches = max(1, math.ceil(n_samples / batch_size))
    sizes = np.full(n_batches, n_samples // n_batches, dtype=np.intp)
    sizes[: n_samples % n_batches] += 1
    return np.cumsum(sizes).astype(np.intp)


def is_count(value, upper=None):
    """Whether value is an integer >= 1 (and <= upper), bools excluded."""
    return (isinstance(value, Integral) and not isinstance(value, bool) and value >= 1
            and (upper is None or value <= upper))


def planned_epochs(n_iter, batch_size, n_samples):
    """Epochs of ``fit`` on n_samples training rows: ``n_iter``, or its "auto" plan.

    "auto" plans about ``AUTO_UPDATES`` minibatch updates, within
    ``AUTO_EPOCHS`` epochs: a density model needs about as many updates
    whatever the data size (on digits, held-out likelihood peaks near
    300,000, see the README), and a small data set then gets many epochs.
    """
    if n_iter != "auto":
        return n_iter
    n_batches = len(even_batch_ends(n_samples, batch_size))
    low, high = AUTO_EPOCHS
    return int(min(high, max(low, math.ceil(AUTO_UPDATES / n_batches))))


def validation_split(X, early_stopping, validation_fraction, random_state, weights=None):
    """(training rows, validation rows or None, their weights or None) for early
    stopping; ``weights`` (one per row of X, or None) are split with the rows."""
    if not early_stopping:
        return X, None, weights, None
    # A Python float: a NumPy float16 fraction overflows times 65,505 rows.
    n_valid = int(round(float(validation_fraction) * X.shape[0]))
    if n_valid < 1 or n_valid >= X.shape[0]:
        # (With weights, X holds the rows of positive weight alone: say so,
        # or 1 sample reads as a miscount of the rows given.)
        which = ("samples" if weights is None else
                 "samples of positive sample_weight (those of weight 0 are left out)")
        raise ValueError(
            f"early_stopping needs validation and training rows, but "
            f"validation_fraction={validation_fraction} of {X.shape[0]} "
            f"{which} leaves one side empty; give more samples or change "
            "validation_fraction."
        )
    rng = check_random_state(random_state)
    order = np.random.default_rng(rng.randint(2**32)).permutation(X.shape[0])
    train, valid = np.sort(order[n_valid:]), np.sort(order[:n_valid])
    if weights is None:
        return X[train], X[valid], None, None
    return X[train], X[valid], weights[train], weights[valid]


class Batches:
    """Training rows as the kernel reads them (its ``batches`` argument).

    Dense rows in ``X``, or a CSR matrix in ``csr_data``, ``csr_indices``
    and ``csr_indptr``; made once per fit so C-order and index copies are
    not repeated every epoch.  ``order`` and ``ends`` say which rows make
    up each minibatch of the next pass.  ``weights``: the kernel's per-row
    weights (``kernel_weights``: None where all rows weigh the same);
    ``sample_weight``: the rows' weights as given (None: unweighted).
    """

    __slots__ = ("X", "csr_data", "csr_indices", "csr_indptr", "_n_columns", "order", "ends",
                 "weights", "sample_weight")

    def __init__(self, X, sample_weight=None):
        self.sample_weight = sample_weight
        self.weights = kernel_weights(sample_weight)
        self.X = self.csr_data = self.csr_indices = self.csr_indptr = None
        self._n_columns = X.shape[1]
        if sp.issparse(X):
            self.csr_data = X.data
            # Column indices as SciPy keeps them (int32 or intp): converting
            # would copy the largest part of the input.
            self.csr_indices = (X.indices if X.indices.dtype in (np.intc, np.intp)
                                else X.indices.astype(np.intp))
            self.csr_indptr = X.indptr.astype(np.intp, copy=False)
        else:
            self.X = np.ascontiguousarray(X)
        self.order = self.ends = None

    @property
    def n_rows(self):
        """Number of rows."""
        return self.X.shape[0] if self.X is not None else len(self.csr_indptr) - 1

    def all_rows(self):
        """Every row, in the form it was given (array or CSR)."""
        if self.X is not None:
            return self.X
        return sp.csr_matrix((self.csr_data, self.csr_indices, self.csr_indptr),
                             shape=(self.n_rows, self._n_columns))

    def rows_at(self, index):
        """(rows, their weights or None when unweighted): the rows ``index``
        (row numbers), a copy in the form they were given."""
        weights = None if self.sample_weight is None else self.sample_weight[index]
        if self.X is not None:
            return self.X[index], weights
        # Gathered here: a CSR matrix of every row would convert the column
        # indices of all of them where their dtype differs from indptr's.
        starts = self.csr_indptr[index]
        lengths = self.csr_indptr[np.asarray(index) + 1] - starts
        indptr = np.concatenate(([0], np.cumsum(lengths))).astype(np.intp)
        entries = np.repeat(starts - indptr[:-1], lengths) + np.arange(indptr[-1])
        return sp.csr_matrix((self.csr_data[entries], self.csr_indices[entries], indptr),
                             shape=(len(indptr) - 1, self._n_columns)), weights

    def plan(self, order, batch_size):
        """Visit rows ``order`` in minibatches of (about) ``batch_size``; returns self."""
        self.order = order
        self.ends = even_batch_ends(len(order), batch_size)
        return self


def run_pass(model, batches, learning_rate, momentum, statistics, watch=None,
             fills_gaps=False, figures=None):
    """One pass of minibatch updates; afterwards the parameters are sound or rolled back.

    ``statistics`` are the running data marginals including these rows
    (``TrainingState.data_statistics_with``); they become the model's only
    when the pass succeeds.  Raises DivergenceError (after restoring every
    learned array) when the parameters end non-finite, above
    ``MAX_ENERGY_SCALE``, or runaway for the visible type, and for a finite
    divergence as ``watch`` (a ``DivergenceWatch``; by default the model's
    ``on_divergence``) says.  The kernel runs on the model's ``n_jobs``
    threads, chosen and held for the pass (``rbm._threads.kernel_threads``):
    with ``n_jobs=None`` they follow the load, pass by pass.  ``fills_gaps``
    (``partial_fit`` on rows with gaps, whose next call draws them from the
    model): see ``properness_due``.  ``figures`` (no arguments), where
    given, computes the pass's record (its ``history_`` row) once the pass
    is sound; the pass is undone if that raises too (``commit_pass``), and
    run_pass returns what it computed.
    """
    training, unit = model._training, model._visible_unit
    normalize = model.normalize_hidden
    if normalize:  # before the pass: a set_params after fit is refused with nothing changed
        model._hidden_unit.check_normalizable(model)
    dtype = model.components_.dtype
    data_mean = statistics[0] / max(statistics[1], 1)
    # Parallel tempering's hottest chains sample the independent model of
    # the data marginals (AIS's base model too).
    base_bias = (unit.initial_bias(data_mean).astype(dtype) if model.method == "pt"
                 else None)
    update = Update(model, learning_rate, momentum, base_bias)
    # (Before start_proper: a call that fails leaves the model as it was.)
    snapshot = PassSnapshot(model._learned_arrays() + (training.swap_counts,),
                            training.W_velocity, momentum)
    if watch is None:  # partial_fit: one pass on a model this call did not start
        watch = DivergenceWatch.of(model)
        watch.scored = fills_gaps  # (see properness_due)
        start_proper(model, watch)
        watch.before = BeforePass(model, snapshot)
    try:  # whatever stops the pass (Ctrl-C, a warning raised as an error) undoes it
        train_pass(model, batches, update, normalize)
        message = divergence_message(model, batches, data_mean, learning_rate, momentum,
                                     watch)
        if message is not None and retries_runaway(model, watch, snapshot):
            train_pass(model, batches, update, normalize, watch.keeper)
            message = divergence_message(model, batches, data_mean, learning_rate, momentum,
                                         watch)
            if message is None:
                warn_retried_pass(model, learning_rate)
    except BaseException:
        snapshot.restore()
        raise
    if message is not None:
        watch.last_sound(snapshot).restore()
        raise DivergenceError(message + kept_improperness(model))
    return commit_pass(model, watch, snapshot, statistics, figures)


def commit_pass(model, watch, snapshot, statistics, figures=None):
    """Make a sound pass the model's: the running data marginals with its rows,
    a log-Z cache emptied of the old parameters' entries, what the properness
    checks learned; then ``figures()``, where given (its result is
    returned).  Anything that raises before the end (Ctrl-C while the
    record is computed: a partial_fit so stopped kept a pass that n_iter_
    and history_ did not count, and its retry trained the rows twice) puts
    the arrays and these records back as they were before the pass.  (The
    cache is emptied first, as the record's log Z then stays cached for
    ``score``; a pass undone loses the old entries, which are computed again
    to the same values where asked for.)"""
    training = model._training
    records = dict(vars(training))  # (the records below are replaced, not changed in place)
    try:
        training.record_data(statistics)
        training.log_partition_cache.clear()
        if keeps_proper(model):
            remember_properness(model, watch)
        computed = None if figures is None else figures()
    except BaseException:
        snapshot.restore()
        vars(training).update(records)
        raise
    watch.keep_while_bad(snapshot)
    return computed


def train_pass(model, batches, update, normalize, keeper=None):
    """The pass's minibatch updates, in place (``run_pass`` checks what they
    left).  With ``normalize`` (``normalize_hidden``) or a ``keeper`` (a
    ``ProperKeeper``: ``retries_runaway``) the kernel runs one minibatch at
    a time (``pass_parts``), and after each the hidden units are normalised,
    or the weights shrunk along the keeper's known directions that have
    crossed the bound (``ProperKeeper.shrink_known``: a product with W)."""
    unit, training = model._visible_unit, model._training
    if is_gaussian_pair(unit, model._hidden_unit):
        exact_gaussian_pair_step(model, batches, update)
        return
    dtype = model.components_.dtype
    in_parts = normalize or keeper is not None
    with model._kernel_threads() as n_threads:
        for part in pass_parts(batches, model.batch_size, in_parts):
            _gibbs.train_minibatches(
                part, model._kernel_params(), training.kernel_view(model.h_samples_),
                update, unit.kernel_view(dtype), training.training_streams.for_rows(
                    _chain_rows_needing_streams(model, part)), int(n_threads))
            if not in_parts:
                continue
            if not finite_parameters(model):
                break  # a runaway: the divergence check says so
            if normalize:
                normalize_hidden_units(model, batches)
            if keeper is not None:
                keeper.shrink_known(model.components_, unit, model._hidden_unit)


def retries_runaway(model, watch, snapshot):
    """Whether a pass that ran away, on a model that keeps itself proper, runs
    again: it is put back as it was before the pass, shrunk until the search
    finds it proper (a full check, whose directions join the known ones),
    and run once more with the known directions re-checked after each
    minibatch (``train_pass`` with the watch's keeper; its chains draw on
    from where the streams stand: the same seed gives the same fit).  Once
    per pass, and within a fit not right after a pass that ran again (a
    rate that makes pass after pass run away is too large, and is told so
    as before); where the pass runs away again the runaway stands.  Each
    ``partial_fit`` call is a pass of its own, retried at most once.

    Between full checks a model may cross the bound along a direction not
    yet known, and its chains then run off within the pass; and a model at
    the bound has chains of large spread (1% inside it, along the shrunk
    direction, a hundred times the variance), whose statistics can carry
    one minibatch's step across it.  The default dReLU fit of standardised
    breast cancer (256 units) did so once in 5,000 passes at one check
    schedule, within a pass that started from a model the search found
    proper, and ended with non-finite weights (``DivergenceError``); its
    retried pass trained on.
    """
    if watch.retried or watch.retried_last or not keeps_proper(model):
        return False
    watch.retried = True
    snapshot.restore()
    watch.record(False)  # (the runaway's record: the pass is undone)
    shrink_until_proper(model, watch)
    return True


def warn_retried_pass(model, learning_rate):
    """The ``DivergenceWarning`` of a pass that ran away and trained on when run
    again (``retries_runaway``)."""
    warnings.warn(
        f"{type(model).__name__}: a pass over the data ran away (its parameters became "
        "non-finite or ran off) although training keeps the model proper; it ran again "
        "from its start, shrunk, with the known improper directions re-checked after "
        f"each minibatch, and trained on. This pass's rate, {learning_rate:.3g} "
        f"(learning_rate={model.learning_rate!r} on its schedule), is at the edge of what "
        "this model trains at: if this recurs, lower learning_rate.",
        DivergenceWarning, stacklevel=2)


#: Minibatch updates between two normalisations of ``normalize_hidden``:
#: every one, as PGM does.  A dReLU runaway builds up within a pass: on
#: mushrooms at learning rate 0.06 (20 hidden units, 100 passes), training
#: without normalising diverged after 3 passes, normalising once per pass
#: after 10, every 10 updates within the first pass, every update never
#: (test -16.29 nats, binary hidden units -16.89).
NORMALIZE_EVERY = 1


def pass_parts(batches, batch_size, in_parts):
    """The pass as the kernel runs it: all of ``batches`` at once, or, with
    ``in_parts``, in parts of ``NORMALIZE_EVERY`` of its minibatches (the
    same rows in the same order and minibatches of the same sizes)."""
    if not in_parts:
        yield batches
        return
    order, ends = batches.order, batches.ends
    try:
        for first in range(0, len(ends), NORMALIZE_EVERY):
            last = min(first + NORMALIZE_EVERY, len(ends)) - 1
            start = ends[first - 1] if first else 0
            yield batches.plan(order[start:ends[last]], batch_size)
    finally:  # the whole pass's plan again, also after a runaway part
        batches.plan(order, batch_size)


def finite_parameters(model):
    """Whether W, c and the hidden layer's parameters are all finite."""
    return all(all_finite(array) for array in (model.components_, model.intercept_hidden_)
               + model._hidden_unit.learned_arrays())


#: Most training rows (evenly spaced) whose hidden activity sets the scale
#: of ``normalize_hidden``: its variance estimate is good to about 9%, and
#: the scale is a reparametrisation, so that noise changes no p(v), only how
#: far from 1 each unit's variance strays.  Normalising at every update, the
#: product over these rows is the step's main cost.
NORMALIZING_ROWS = 256


def normalizing_rows(batches):
    """(rows, their weights or None): at most ``NORMALIZING_ROWS`` training
    rows, evenly spaced through them (the same rows whatever the threads)."""
    n_rows = batches.n_rows
    index = np.unique(np.linspace(0, n_rows - 1, min(n_rows, NORMALIZING_ROWS)).round()
                      ).astype(np.intp)
    return batches.rows_at(index)


def normalize_hidden_units(model, batches):
    """PGM's normalised hidden units (``normalize_hidden``), as an exact
    reparametrisation: rescale each hidden unit so that its activity has unit
    variance over the training rows.

    dReLU units are unchanged in what they model when h is rescaled, W and c
    divided by the factor and the unit's curvature and thresholds adjusted
    (``rescale_hidden_units``): p(v) stays the same, but the weights' scale
    now means something (the effect of a unit-variance unit), so the weight
    penalties and the learning rate act alike on every unit.  Run every
    ``NORMALIZE_EVERY`` minibatch updates; the field's product runs on one
    BLAS thread (the caller's ``single_threaded_blas``) and the rest is per
    unit, so the result does not depend on ``n_jobs``.
    """
    rows, weights = normalizing_rows(batches)
    field = np.asarray(model._hidden_field(rows), dtype=np.float64)
    rescale_hidden_units(model, model._hidden_unit.normalizing_scale(field, weights))


def rescale_hidden_units(model, scale):
    """Replace each hidden unit h_j by scale_j * h_j, in place, leaving p(v) unchanged.

    The coupling W h and the field c h are kept by dividing the rows of W,
    c and their velocities by the scale; the persistent chains' hidden
    states and the hidden offsets (means of h) are multiplied by it; the
    unit's own potential takes the rest (``HiddenLayer.rescale``).  log Z
    shifts by sum_j log scale_j (the Jacobian), which the caller's cleared
    cache recomputes.
    """
    scale = np.asarray(scale, dtype=np.float64)
    inverse = 1.0 / scale
    training = model._training
    for array, factor in ((model.components_, inverse[:, None]),
                          (training.W_velocity, inverse[:, None]),
                          (model.intercept_hidden_, inverse),
                          (training.c_velocity, inverse),
                          (model.h_samples_, scale),
                          (training.hidden_offset, scale),
                          (training.hidden_activity, scale)):
        array *= factor.astype(array.dtype)
    model._hidden_unit.rescale(scale)


def _ridged_moments(model, X, sample_weight):
    """The rows' (mean, E[v v^T]), the second moment ridged by
    ``GAUSSIAN_PAIR_RIDGE`` times each feature's training variance.

    A feature constant in the rows has no spread to learn from: it gets the
    variance the visible layer gave it (``spread_of_constant_features``), as
    under the other hidden types, not the ridge alone (a standardised
    constant column got sigma 1e-3, and a held-out row 0.5 away from the
    constant scored -98,856 nats).
    """
    mean, second = weighted_moments(X, sample_weight)
    std = np.asarray(model._visible_unit.state[_gibbs.GAUSSIAN_SIGMA_MAX], dtype=np.float64)
    added = GAUSSIAN_PAIR_RIDGE * std ** 2
    constant = constant_columns(X)
    added[constant] = std[constant] ** 2
    second[np.diag_indices_from(second)] += added
    return mean, second


def constant_columns(X):
    """Boolean mask of the columns of X (dense or sparse) that hold one value."""
    low, high = X.min(axis=0), X.max(axis=0)
    if sp.issparse(low):
        low, high = low.toarray(), high.toarray()
    return np.asarray(low == high).ravel()


def start_gaussian_pair_at_moments(model, X, sample_weight=None):
    """Set a fresh Gaussian-visible, Gaussian-hidden model to its maximum-likelihood start.

    Such a model is one multivariate Gaussian: with fewer hidden units than
    features, exactly a factor-analysis model (sigma**2 the noise
    variances), so it starts at factor analysis's maximum likelihood on the
    rows' weighted covariance, ridged by ``GAUSSIAN_PAIR_RIDGE`` of each
    variance (``gaussian_pair_from_moments``); with as many hidden units as
    features or more, at the rows' Gaussian itself.  A learned sigma stays
    within [sqrt(GAUSSIAN_PAIR_RIDGE), 1] times each feature's standard
    deviation (the ceiling is the visible layer's); features that others
    nearly determine get noise far below ``sigma_floor``, and the floor,
    there to stop mixture components collapsing onto training values, is
    lowered to that start (one Gaussian has no components to collapse).
    The start's objective figures are kept (``_GAUSSIAN_PAIR_STARTS``) for
    a later warm fit's stall check on the same rows.
    """
    unit = model._visible_unit
    mean, second = _ridged_moments(model, X, sample_weight)
    _check_resolved_covariance(model, mean, second - np.outer(mean, mean))
    (W, b, c, sigma), _ = _maximum_likelihood_pair(model, mean, second)
    model.components_[...] = W
    model.intercept_visible_[...] = b
    model.intercept_hidden_[...] = c
    state = unit.state
    state[_gibbs.GAUSSIAN_SIGMA] = np.minimum(sigma, state[_gibbs.GAUSSIAN_SIGMA_MAX])
    state[_gibbs.GAUSSIAN_SIGMA_MIN] = np.minimum(state[_gibbs.GAUSSIAN_SIGMA_MIN],
                                                  state[_gibbs.GAUSSIAN_SIGMA])
    warn_if_penalty_idle_at_boundary(model, sigma)


#: Objective figures of the last few maximum-likelihood starts of Gaussian
#: pairs, keyed by a fingerprint of what determines the start
#: (``_gaussian_pair_key``): (log-likelihood, sum W**2, sum |W|,
#: ``l1_squared_penalty`` at strength 1), from which the penalised objective
#: of the start follows for any penalties.  A warm fit's stall check looked
#: the start up here instead of rerunning factor analysis (300 features, 150
#: hidden units: 7.2 s a warm one-pass fit, 0.3 s without the check).
_GAUSSIAN_PAIR_STARTS = {}
_GAUSSIAN_PAIR_STARTS_KEPT = 8
_GAUSSIAN_PAIR_STARTS_LOCK = threading.Lock()


def _gaussian_pair_key(model, mean, second):
    """A fingerprint of the ridged moments, n_components, the sigma ceiling
    and a fixed sigma: all the maximum-likelihood start depends on."""
    import hashlib

    unit = model._visible_unit
    digest = hashlib.blake2b(repr((model.n_components, unit.learn_sigma,
                                   mean.shape)).encode(), digest_size=20)
    arrays = [mean, second, unit.state[_gibbs.GAUSSIAN_SIGMA_MAX]]
    if not unit.learn_sigma:
        arrays.append(unit.sigma)
    for array in arrays:
        digest.update(np.ascontiguousarray(array, dtype=np.float64).tobytes())
    return digest.digest()


def _maximum_likelihood_pair(model, mean, second):
    """((W, b, c, sigma), figures): the maximum-likelihood Gaussian pair of these
    ridged moments (``gaussian_pair_from_moments``) and its objective figures,
    which are kept in ``_GAUSSIAN_PAIR_STARTS``."""
    unit = model._visible_unit
    fixed = None if unit.learn_sigma else np.asarray(unit.sigma, dtype=np.float64)
    high = np.asarray(unit.state[_gibbs.GAUSSIAN_SIGMA_MAX], dtype=np.float64)
    # One BLAS thread, as in training: a threaded BLAS rounds by its thread
    # count, and the start's hundred-odd eigendecompositions must not (a
    # 30 x 30 one also took 12 ms threaded on a loaded 2-core machine, 0.1 ms
    # on one thread).
    with single_threaded_blas():
        best = gaussian_pair_from_moments(
            mean, second - np.outer(mean, mean), model.n_components, fixed,
            bounds=(math.sqrt(GAUSSIAN_PAIR_RIDGE) * high, high))
        W = best[0]
        figures = (gaussian_pair_log_likelihood(*best, mean, second), float(np.sum(W * W)),
                   float(np.abs(W).sum()), l1_squared_penalty(W, 1.0))
    key = _gaussian_pair_key(model, mean, second)
    with _GAUSSIAN_PAIR_STARTS_LOCK:  # (fits in threads share the cache)
        _GAUSSIAN_PAIR_STARTS.pop(key, None)
        _GAUSSIAN_PAIR_STARTS[key] = figures
        while len(_GAUSSIAN_PAIR_STARTS) > _GAUSSIAN_PAIR_STARTS_KEPT:
            del _GAUSSIAN_PAIR_STARTS[next(iter(_GAUSSIAN_PAIR_STARTS))]
    return best, figures


def _start_objective(model, mean, second, update):
    """The training objective (``gaussian_pair_objective``) of the maximum-likelihood
    start of these moments, from ``_GAUSSIAN_PAIR_STARTS`` or computed anew."""
    with _GAUSSIAN_PAIR_STARTS_LOCK:
        figures = _GAUSSIAN_PAIR_STARTS.get(_gaussian_pair_key(model, mean, second))
    if figures is None:
        figures = _maximum_likelihood_pair(model, mean, second)[1]
    log_likelihood, squares, absolutes, l1_squared = figures
    return (log_likelihood - 0.5 * update.weight_decay * squares
            - update.l1_weight_decay * absolutes - update.l1_squared_weight_decay * l1_squared)


def warn_if_penalty_idle_at_boundary(model, sigma):
    """UserWarning where a weight penalty is given but a Gaussian pair starts
    at a factor-analysis maximum with some sigma at its floor (a Heywood
    case: the noise variance at 1e-6 of the feature's variance).

    The start maximises the unpenalised likelihood, and from a Heywood
    start every exact step is refused (the curvature in the weights goes as
    1 / sigma**4): on standardised wine and breast cancer with 4 hidden
    units, weight_decay 0, 0.1 and 1.0 gave the same weights to 6 digits.
    ``weight_decay="auto"`` (the default, not a choice) does not warn.
    """
    unit = model._visible_unit
    if not unit.learn_sigma or model.n_components >= len(sigma):
        return
    wd = model.weight_decay
    given = [name for name, value in (
        ("weight_decay", 0.0 if isinstance(wd, str) else wd),
        ("l1_weight_decay", model.l1_weight_decay),
        ("l1_squared_weight_decay", model.l1_squared_weight_decay)) if float(value) > 0.0]
    low = math.sqrt(GAUSSIAN_PAIR_RIDGE) * np.asarray(
        unit.state[_gibbs.GAUSSIAN_SIGMA_MAX], dtype=np.float64)
    at_floor = int(np.count_nonzero(sigma <= low * (1.0 + 1e-9)))
    if given and at_floor:
        warnings.warn(
            f"{type(model).__name__}(hidden='gaussian'): {', '.join(given)} is not "
            f"applied: the fit starts at the factor-analysis maximum likelihood, where "
            f"{at_floor} of the {len(sigma)} noise variances sigma**2 are at their floor "
            "(1e-6 of the feature's variance, the likelihood's boundary), and from there "
            "the exact gradient steps cannot move the weights, so the penalty changes "
            "nothing. Use fewer hidden units, or a Bernoulli hidden layer, for a "
            "penalised fit.", UserWarning, stacklevel=user_stacklevel())


def _check_resolved_covariance(model, mean, covariance):
    """ValueError where the rows' ridged covariance, E[v v^T] - mean mean^T in
    float64, is not positive definite: the variances are lost to rounding
    against the squared means (features far from zero for their spread, or
    nearly all the weight on one row), and the Gaussian pair's start (and
    its exact gradient, which works from the same moments) would be
    improper or NaN (before: numpy's LinAlgError, or a refusal as "improper"
    that told a fresh fit to fit anew)."""
    try:
        np.linalg.cholesky(covariance)
        return
    except np.linalg.LinAlgError:
        pass
    # (The feature's standard deviation as the visible unit measured it.)
    spread = np.asarray(model._visible_unit.state[_gibbs.GAUSSIAN_SIGMA_MAX], dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(spread > 0, np.abs(mean) / spread, np.inf)
    worst = int(np.argmax(ratio))
    raise ValueError(
        f"{type(model).__name__}(hidden='gaussian') starts from the training rows' "
        "covariance, E[v v^T] - E[v] E[v]^T, which float64 does not resolve here: "
        f"feature {worst}'s mean is {ratio[worst]:.3g} times its standard deviation "
        "(features far from zero for their spread, or sample_weight that puts nearly "
        "all the weight on one row). Center or standardise the data first (for example "
        "with sklearn.preprocessing.StandardScaler), or use hidden='bernoulli'.")


def l1_squared_penalty(W, strength):
    """Tubiana et al.'s L1-squared penalty strength / (2 n) sum_j (sum_i |W_ji|)**2,
    n = W's columns (``l1_squared_weight_decay``)."""
    return 0.5 * strength / W.shape[1] * float(np.sum(np.abs(W).sum(axis=1) ** 2))


def l1_squared_gradient(W, strength):
    """The gradient of ``l1_squared_penalty``: strength sign(W_ji) mean_i |W_ji|
    (the kernel's ``_l1_squared_step`` in NumPy)."""
    return strength * np.sign(W) * np.abs(W).mean(axis=1, keepdims=True)


def gaussian_pair_objective(params, mean, second, update):
    """What a Gaussian pair's training maximises: the mean log-likelihood of
    rows with moments ``mean``, ``second`` less the weight penalties of
    ``update`` (a ``rbm._state.Update``), for params (W, b, c, sigma)."""
    W, b, c, sigma = params
    # A candidate step too long for float64 (data of spread 1e-153: sigma**-2
    # near 1e306) overflows to inf or NaN, which the step's halving refuses;
    # NumPy's overflow warnings about it would say nothing to the user.
    with np.errstate(over="ignore", invalid="ignore"):
        penalty = (0.5 * update.weight_decay * float(np.sum(W * W))
                   + update.l1_weight_decay * float(np.abs(W).sum())
                   + l1_squared_penalty(W, update.l1_squared_weight_decay))
        return gaussian_pair_log_likelihood(W, b, c, sigma, mean, second) - penalty


#: A warm-started Gaussian pair that ends more than this many nats per row
#: (of the training objective) below its maximum-likelihood start warns
#: (``warn_if_gaussian_pair_stalled``).
GAUSSIAN_PAIR_STALL_NATS = 1e-3


def warn_if_gaussian_pair_stalled(model, X, sample_weight=None):
    """ConvergenceWarning where a warm-started Gaussian pair ends below the
    start a fresh fit would take on these rows (``start_gaussian_pair_at_moments``).

    A fresh fit starts at the maximum likelihood (factor analysis), where
    the exact gradient steps leave it; a warm start (assigned parameters,
    or a model fitted to other rows) has only those steps, whose curvature
    goes as 1 / sigma**4 along nearly singular directions: from the old
    moment start, 100 passes on breast cancer (8 hidden units) gained 0.001
    of the 68 nats per row between it and the maximum.  The training
    objective (``gaussian_pair_objective``, penalties included) of both is
    compared, so a model held back by its weight decay alone does not warn.
    The start's objective is looked up (``_start_objective``): factor
    analysis runs again only for rows, n_components or a sigma not seen.
    """
    unit = model._visible_unit
    update = Update(model, 0.0, 0.0)
    # (One BLAS thread, as at the start: a threaded product rounds the
    # moments otherwise, and their fingerprint would miss the start's.)
    with single_threaded_blas():
        mean, second = _ridged_moments(model, X, sample_weight)
        reached = gaussian_pair_objective(
            [np.asarray(a, dtype=np.float64) for a in (
                model.components_, model.intercept_visible_, model.intercept_hidden_,
                unit.sigma)], mean, second, update)
        gap = _start_objective(model, mean, second, update) - reached
    if gap > GAUSSIAN_PAIR_STALL_NATS:
        warnings.warn(
            f"{type(model).__name__}(hidden='gaussian') trained on from a warm start "
            f"ends {gap:.3g} nats per row below the maximum-likelihood model of these "
            f"rows ({_reference_words(model, len(mean))}): its exact gradient "
            "steps barely move a model whose covariance is nearly singular. Fit anew "
            "(warm_start=False), which starts at that maximum.", ConvergenceWarning,
            stacklevel=user_stacklevel())


def _reference_words(model, n_features):
    """What the stall warning compares with (``gaussian_pair_from_moments``)."""
    k = min(model.n_components, n_features)
    if not model._visible_unit.learn_sigma:
        return (f"the best weights given its fixed sigma: factor analysis with {k} "
                "factors and noise variances sigma**2")
    if model.n_components >= n_features:
        return "the Gaussian with their mean and full covariance"
    return f"factor analysis with {k} factors"


def exact_gaussian_pair_step(model, batches, update):
    """One exact gradient step of a Gaussian-visible, Gaussian-hidden model on all rows.

    Its log-likelihood and gradient are closed-form (``gaussian_pair_gradient``),
    so training follows the full-batch gradient of the rows' mean
    log-likelihood (second moments ridged as at the start) without sampling:
    near a nearly singular covariance a sampled gradient's noise alone makes
    the model improper.  ``weight_decay``, ``l1_weight_decay`` and
    ``l1_squared_weight_decay`` are part of the objective, as in the
    kernel's steps (but from a factor-analysis start with some sigma at
    its floor every step is refused and the penalty does nothing:
    ``warn_if_penalty_idle_at_boundary``); momentum, sparsity and
    centering do not apply.  The weights, the biases and log sigma step in
    turn, each step halved until the objective does not fall (at most
    ``GAUSSIAN_PAIR_MAX_HALVINGS`` times; else that block stays): along a
    nearly singular direction the curvature in W is far beyond what any one
    learning rate suits (1 / sigma**4 there), and an improper model (D - D
    W.T W D not positive definite) scores -inf, so the model stays a proper
    Gaussian and its training objective never falls.
    """
    unit = model._visible_unit
    mean, second = _ridged_moments(model, batches.all_rows(), batches.sample_weight)
    params = [np.asarray(a, dtype=np.float64) for a in (
        model.components_, model.intercept_visible_, model.intercept_hidden_, unit.sigma)]
    low, high = (np.asarray(unit.state[row], dtype=np.float64)
                 for row in (_gibbs.GAUSSIAN_SIGMA_MIN, _gibbs.GAUSSIAN_SIGMA_MAX))

    def objective(*candidate):
        return gaussian_pair_objective(candidate, mean, second, update)

    def moved(block, gradient, rate):
        W, b, c, sigma = params
        if block == "weights":
            W = W + rate * (gradient[0] - update.weight_decay * W)
            if update.l1_weight_decay:
                W = np.sign(W) * np.maximum(np.abs(W) - rate * update.l1_weight_decay, 0.0)
            W = W - rate * l1_squared_gradient(W, update.l1_squared_weight_decay)
        elif block == "biases":
            b, c = b + rate * gradient[1], c + rate * gradient[2]
        else:
            # (A long first step can overflow exp: the clip bounds it, the halving judges it.)
            with np.errstate(over="ignore"):
                sigma = np.clip(sigma * np.exp(rate * gradient[3]), low, high)
        return [W, b, c, sigma]

    for block in ("weights", "biases", "sigma")[:3 if unit.learn_sigma else 2]:
        gradient = gaussian_pair_gradient(*params, mean, second)
        if gradient is None:  # assigned improper parameters: nothing to follow
            # Only possible before the first block moves (a step that made
            # the model improper scores -inf and is refused), so nothing has
            # changed; a silent return counted passes that trained nothing.
            raise ValueError(
                f"{type(model).__name__} is improper: {IMPROPER_GAUSSIAN_PAIR}, so its "
                "log-likelihood is -inf everywhere and has no gradient "
                "to train along. Fit it anew (warm_start=False), or assign parameters "
                "that make it proper.")
        start, rate = objective(*params), update.learning_rate
        for _ in range(GAUSSIAN_PAIR_MAX_HALVINGS + 1):
            candidate = moved(block, gradient, rate)
            if objective(*candidate) >= start:
                params = candidate
                break
            rate *= 0.5
    model.components_[...] = params[0]
    model.intercept_visible_[...] = params[1]
    model.intercept_hidden_[...] = params[2]
    unit.state[_gibbs.GAUSSIAN_SIGMA] = params[3]


class PassSnapshot:
    """The learned arrays as they were before a pass, for an exact rollback.

    Every array the pass may change is copied, except the weights' velocity
    (as large as W) where no copy is needed to restore it exactly: a pass
    with momentum 0 leaves it alone (the kernel neither reads nor writes it),
    and one that starts from an all-zero velocity (the first pass with
    momentum) is undone by zeroing it.  Otherwise a diverging pass can only
    be undone from a copy: the momentum step ``v = m v + lr g; W += v`` is
    not invertible in floating point, so neither W nor v before the pass
    can be recomputed from their values after it.

    Parameters
    ----------
    arrays : sequence of ndarray
        Every array the pass changes in place.
    velocity : ndarray
        The weights' velocity (one of ``arrays``).
    momentum : float
        The momentum of the pass.
    """

    def __init__(self, arrays, velocity, momentum):
        self.arrays = tuple(arrays)
        self.saved = []
        self.zero_velocity = False
        for array in self.arrays:
            if array is velocity and (momentum == 0.0 or self._all_zero_bits(array)):
                # None: leave it alone (momentum 0), or zero it (zero_velocity).
                self.zero_velocity = momentum != 0.0
                self.saved.append(None)
            else:
                self.saved.append(array.copy())

    @staticmethod
    def _all_zero_bits(array):
        """Whether every entry is +0.0 (so zeroing restores it bit for bit; a
        -0.0 or NaN is not), without a boolean copy of the array."""
        bits = array.view(np.dtype(f"u{array.dtype.itemsize}"))
        return not bits.size or int(bits.max()) == 0

    def kept(self):
        """This snapshot, made good for restoring after later passes too.

        Right after a pass with momentum 0 the velocity still holds its
        value from before the pass, so it is copied now: a later pass (with
        momentum, under a warm-up schedule) would change it.
        """
        for i, (array, saved) in enumerate(zip(self.arrays, self.saved)):
            if saved is None and not self.zero_velocity:
                self.saved[i] = array.copy()
        return self

    def restore(self):
        """Put every array back as it was when the snapshot was taken."""
        for array, saved in zip(self.arrays, self.saved):
            if saved is not None:
                array[...] = saved
            elif self.zero_velocity:
                array.fill(0)


class BeforePass:
    """Figures of the parameters from before a pass, computed when first asked,
    from the pass's snapshot.

    A ``partial_fit`` call's yardstick (``DivergenceWatch.before``): the
    likelihood bound a call on assigned or loaded parameters began at
    (``finite_divergence``).  Only a pass that the independent model would
    call diverged asks, so the usual call does not pay for it (a product
    with W over every chain: at 784 x 500 with 100 chains, as much as a
    quarter of a call on 10 rows).

    Parameters
    ----------
    model : estimator
        The model the pass trains.
    snapshot : PassSnapshot
        The learned arrays from before the pass (``run_pass``'s).
    """

    def __init__(self, model, snapshot):
        self.model, self.snapshot = model, snapshot
        self.values = {}

    def __call__(self, name, compute):
        """``compute(model)`` with the snapshot's arrays put back for the time it
        takes (and the current ones after it), cached under ``name``."""
        if name not in self.values:
            current = PassSnapshot(self.snapshot.arrays, None, 0.0)
            self.snapshot.restore()
            try:
                self.values[name] = compute(self.model)
            finally:
                current.restore()
        return self.values[name]


def _chain_rows_needing_streams(model, batches):
    """Chain rows whose random streams the pass needs: the persistent chains
    (PT: each temperature's block rounded up to whole stream chunks, and one
    more chunk's stream for the swaps), or the largest batch (CD)."""
    if model.method == "pt":
        # A set of streams per temperature block, and one for the swaps.
        block = model.h_samples_.shape[0] // model.n_temperatures
        return (_gibbs.n_streams_for(block) * model.n_temperatures + 1) * _gibbs.CHUNK_ROWS
    if model.method == "pcd":
        return model.h_samples_.shape[0]
    return int(np.max(np.diff(batches.ends, prepend=0)))


def divergence_message(model, batches, data_mean, learning_rate, momentum, watch):
    """What diverged, why, and what to do; None when training may go on.

    Runaway parameters (non-finite, past ``MAX_ENERGY_SCALE``, or runaway
    for the visible type) always stop training; a finite divergence
    (``finite_divergence``) stops it or warns, as ``watch`` says.
    """
    what = runaway_description(model, data_mean)
    # The likelihood bound takes log Z >= -F(u) for one visible state u (or
    # log w(h) for one binary hidden state h): true of a sum over states,
    # so for discrete visible units, whatever the hidden type.  Continuous
    # visible units have no such yardstick; theirs is whether the model is
    # proper at all, checked where it is cheap and at a fit's end.
    discrete = model._visible_unit.discrete
    keep = what is None and not discrete and keeps_proper(model)
    if keep:
        watch.keeper.shrink_known(model.components_, model._visible_unit, model._hidden_unit)
    finite = what is None and (discrete or properness_due(model, batches, watch))
    watch.checked = finite
    if finite:
        if discrete:
            # The per-epoch figures' rows: evenly spaced, so data sorted (by
            # class, say) is judged on every part of it, not on its first rows.
            rows, weights = batches.rows_at(epoch_row_index(batches.n_rows))
            start = None if watch.before is None else (lambda: watch.before(
                "bound", lambda before: likelihood_upper_bound(before, rows, weights)))
            what = finite_divergence(model, rows, data_mean, start, weights)
        else:
            what = checked_improperness(model, watch, keep)
        if not watch.record(what is not None):
            return None
    elif what is None:  # continuous units: the runaway test is theirs
        return None
    else:
        # A runaway is a bad pass too, and stops training at once: after bad
        # passes (finite divergences not yet declared) the model goes back to
        # before the first of them, not to the bad model before this pass.
        watch.record(True)
        watch.declared = True
    kept = "this pass over the data"
    if finite and watch.bad_passes > 1:
        n_passes = watch.passes_in_a_row + 1  # (checks may skip passes: properness_due)
        what += (f", for {n_passes} passes in a row" if n_passes == watch.bad_passes else
                 f", at {watch.bad_passes} checks in a row over {n_passes} passes")
        kept = f"the first of these {n_passes} passes"
    elif watch.earlier_passes_undone():
        earlier = watch.bad_passes - 1
        kept = (f"the {earlier} pass{'es' if earlier > 1 else ''} before this one, which had "
                "left it far worse than the independent model of the data's marginals")
    diverged = f"{type(model).__name__} diverged: {what}."
    remedy = divergence_remedy(model, data_mean, learning_rate, momentum)
    if finite and not watch.stops_training(
            f"{diverged} Training goes on (on_divergence=\"warn\"); {remedy}."):
        return None
    return f"{diverged} The model keeps its parameters from before {kept}; {remedy}."


#: Passes before a fit's last are checked for properness (``properness_due``)
#: as often as costs this share of the training between checks.  Both are
#: counted in flops at the rate the search runs (about 8 GFlop/s by its
#: products, float64 on one thread, with ``SEARCH_STEP_OVERHEAD``): a pass
#: as its products over ``TRAINING_SPEEDUP``, plus its fixed costs.
#: More checks give better models, at their price.  (Standardised breast
#: cancer, 1,000 epochs, one seed, counted by products alone: shares of
#: 0.05, 0.1 and 0.2 scored -21.25, -20.71 and -20.28 nats per test row with
#: 16 ReLU units, -26.91, -25.48 and -24.50 with 256.  The default fits
#: there, 256 units and 5,000 epochs, with the factored search of
#: ``rbm._properness.Coupling``: ReLU at shares 0.1, 0.3 and 1.0 -24.64,
#: -19.16 and -17.27 in 58, 64 and 76 s; dReLU -17.65, -17.83 and -16.90.)
PROPERNESS_SHARE = 0.3
#: How much faster a pass runs its products than the search runs its own,
#: a compromise: 784 x 500 float32, 5,000 rows, 2 cores, a pass ran at 52
#: GFlop/s against the search's 7-8; at 256 ReLU units and 30 features, 3.2
#: GFlop/s against 25 (its sampling costs more than its products).  More
#: checks make better models (above), and at 6 the second case's model lost
#: 0.8 nats.
TRAINING_SPEEDUP = 2.0
#: A pass's fixed costs, in the search's flops: per minibatch (a pass of 569
#: rows of 30 features in minibatches of 10, 16 ReLU units, took 1.4 ms: 57
#: minibatches, 2.2 Mflop of products) and per pass or ``partial_fit`` call
#: (one of 50 rows took 0.95 ms).  Without them a small stream of calls was
#: checked once in 3,000 calls.
MINIBATCH_OVERHEAD_FLOPS = 1.6e5
PASS_OVERHEAD_FLOPS = 5e6
#: The most a check's cost counts for, in full searches (``properness_due``).
CHECK_COST_CAP = 4.0


def properness_due(model, batches, watch):
    """Whether this pass checks that the model is proper (``model_improperness``):
    the last pass of a fit without early stopping (the model it returns), and
    other passes once the training since the last check has cost at least
    1 / ``PROPERNESS_SHARE`` times the check, both counted in the search's
    flops (the check: the coupling, ``Coupling.forming_cost``, and the
    search's steps on it, and for a model that keeps
    itself proper its shrinks; before a call's first check the most that can
    cost, after it what the last check cost, ``SearchWork``; a pass: see
    ``TRAINING_SPEEDUP``).  So checks add about 30% to a fit's time by that
    count (less where the search is quicker than counted), and a model that
    turns improper early is caught early.

    A model that keeps itself proper (``keep_proper``) carries the budget
    from one ``partial_fit`` call to the next (``remember_properness``; other
    models' calls count only their own pass), and is checked, and shrunk,
    at every pass whose validation likelihood early stopping records
    (``likelihood_epoch``) and at every pass that fills gaps (``fit`` or
    ``partial_fit`` on rows with gaps): between checks it may have crossed
    the bound again, where its log Z is +inf, so early stopping could
    choose only among the passes that were checked, and the gaps' draws
    need a proper model.  (Not where only ``verbose`` records likelihoods:
    that must not change the model; its history then shows -inf for an
    epoch whose model was improper.)  Checks forced so count against the
    budget: the next waits for its share.
    """
    n_hidden, n_visible = model.components_.shape
    bound = 2.0 * check_cost_bound(n_hidden, n_visible)  # (one search, in flops)
    # Before the first check, the most a search can cost; after, what the last
    # check cost, but at most CHECK_COST_CAP searches' worth (a budget set by
    # hand must not switch the checks off; a check that shrank many
    # directions then brings the next one closer, which costs only time).
    check = bound if watch.check_flops is None else min(watch.check_flops,
                                                         CHECK_COST_CAP * bound)
    products = PASS_FLOPS_PER_WEIGHT * batches.n_rows * n_hidden * n_visible
    watch.unchecked_flops += (products / TRAINING_SPEEDUP + PASS_OVERHEAD_FLOPS
                              + MINIBATCH_OVERHEAD_FLOPS * len(batches.ends))
    forced = watch.fit_ends_here or (watch.scored and keeps_proper(model))
    if not forced and check > PROPERNESS_SHARE * watch.unchecked_flops:
        return False
    watch.unchecked_flops = 0.0
    return True


def checked_improperness(model, watch, keep):
    """The properness check of a continuous model's pass: with ``keep``
    (``keeps_proper``) the weights are shrunk until the search finds the
    model proper, and None returned; else ``model_improperness``.  Records
    what the check cost (``costed``)."""
    if keep:
        shrink_until_proper(model, watch)
        return None
    return costed(watch, lambda: model_improperness(model, watch.keeper.work))


def shrink_until_proper(model, watch):
    """The full check of a model that keeps itself proper: its weights shrunk
    until the search finds no improper direction (``ProperKeeper.shrink_searched``),
    what that cost recorded for the budget (``costed``)."""
    keeper = watch.keeper
    costed(watch, lambda: keeper.shrink_searched(model.components_, model._visible_unit,
                                                 model._hidden_unit))


def costed(watch, check):
    """``check()``, with what it cost in flops (counted in the keeper's
    ``SearchWork``) recorded as the watch's check cost for
    ``properness_due``."""
    work = watch.keeper.work
    before = work.multiply_adds
    result = check()
    watch.check_flops = 2.0 * (work.multiply_adds - before)
    return result


def kept_improperness(model):
    """A sentence for a divergence message where the parameters a model keeps
    are improper (a fit whose passes before its last were not checked:
    ``properness_due``), else ""."""
    if model._visible_unit.discrete or model_improperness(model) is None:
        return ""
    return (" The parameters it keeps are improper as well: fit the model anew with that "
            "change rather than continue it.")


def keeps_proper(model):
    """Whether training keeps the model proper by shrinking its weights
    (``keep_proper``; ``rbm._properness.ProperKeeper``): only where the
    question arises, unbounded units on both sides (``improper_description``),
    and not for the Gaussian pair, whose exact steps never make it improper
    (``exact_gaussian_pair_step``)."""
    visible, hidden = model._visible_unit, model._hidden_unit
    return (getattr(model, "keep_proper", False) and not visible.discrete
            and not is_gaussian_pair(visible, hidden)
            and hidden.potential_curvatures(1) is not None)


def start_proper(model, watch):
    """Before a training call's first pass, for a model that keeps itself
    proper: where its parameters are not those its last pass left (a fresh
    fit, or weights assigned or loaded since), shrink them until the search
    finds no improper direction, so that the call does not train (or fill
    gaps, ``rbm._conditional``) from an improper model.  What that cost is
    the budget's first check cost (``properness_due``)."""
    if (keeps_proper(model) and model._parameter_fingerprint()
            != getattr(model._training, "proper_fingerprint", None)):
        shrink_until_proper(model, watch)
        model._training.log_partition_cache.clear()
        model._record_no_improper_direction()


def remember_properness(model, watch):
    """After a pass that succeeded, for a model that keeps itself proper: the
    directions found and the check budget carry over to the next training
    call (``partial_fit``, a warm start) in the training state, with the
    fingerprint of the parameters this pass left (``start_proper``); a check
    that found nothing is cached as such (gap filling and ``score`` look it
    up, ``LikelihoodMixin._cached_improperness``)."""
    training = model._training
    training.proper_directions = watch.keeper.known
    training.properness_budget = (watch.unchecked_flops, watch.check_flops)
    remember_parameters(model, checked=watch.checked)


def remember_parameters(model, checked):
    """Fingerprint the parameters as those training left (``start_proper``),
    and, where a check found no improper direction in them (``checked``),
    cache that verdict."""
    fingerprint = model._parameter_fingerprint()
    model._training.proper_fingerprint = fingerprint
    if checked:
        model._record_no_improper_direction(fingerprint)


def model_improperness(model, work=None):
    """Why the model has no distribution (``rbm._properness``), or None.
    ``work`` (a ``SearchWork``), where given, counts the check's cost."""
    if is_gaussian_pair(model._visible_unit, model._hidden_unit):
        return None  # (exact_gaussian_pair_step refuses improper steps)
    what = improper_description(model.components_, model._visible_unit, model._hidden_unit,
                                work=work)
    return (None if what is None else
            f"the model is improper: {what}: it has no distribution, and its chains run "
            "off to infinity")


def runaway_description(model, data_mean):
    """What ran away, when the parameters are non-finite, past
    ``MAX_ENERGY_SCALE`` or runaway for the visible type; else None."""
    W, b, c = model.components_, model.intercept_visible_, model.intercept_hidden_
    unit = model._visible_unit
    own = unit.learned_arrays() + model._hidden_unit.learned_arrays()
    scale = model_energy_scale(model)
    if scale < MAX_ENERGY_SCALE:  # NaN fails this
        return unit.runaway_description(W, b, data_mean)
    if not all(np.all(np.isfinite(a)) for a in (W, b, c, *own)):
        return "the parameters became non-finite"
    size = f"{scale:.3g}" if math.isfinite(scale) else "more than the largest float64"
    return (f"the parameters grew to an energy scale (sum of their absolute values) of "
            f"{size}, above 2**52 = 4.5e15, where float64 cannot resolve log-likelihoods "
            "to within a nat")


def finite_divergence(model, rows, data_mean, start=None, weights=None):
    """What diverged, when the model is far worse than the independent model it
    started from on ``rows`` (validated training rows); else None.

    For discrete visible units only, whose log-likelihoods are log
    probabilities: a density has no such yardstick.  (Measured: with
    Gaussian units the default fit on the breast cancer data passes through
    models 3 nats per feature worse than the independent one and recovers,
    and a one-row fit starts 1.5 nats per feature worse, its initial
    weights of 0.01 being large against the tiny sigma of one row.  Their
    finite divergence is the runaway test, ``GaussianVisible.runaway_description``.)

    Diverged: ``likelihood_upper_bound`` lies more than
    ``DIVERGENCE_NATS_PER_FEATURE`` nats per feature below the mean
    log-likelihood of the independent model of the data's marginals
    (``VisibleLayer.independent_log_likelihood``, exact).  An upper bound
    can only understate how bad the model is, so this never fires for a
    model within the margin, whatever the estimator noise.  ``start`` (a
    function, from ``BeforePass``), the bound before a ``partial_fit`` call,
    replaces the independent model as the yardstick where it is lower:
    parameters assigned or loaded far from the data are not a divergence
    unless training makes them worse.  A lower yardstick can only clear a
    model, so ``start`` is called only for one that the independent model
    would not.  With ``weights`` (of the rows) both means are weighted.
    """
    unit = model._visible_unit
    base = average(unit.independent_log_likelihood(rows, unit.initial_bias(data_mean)),
                   weights)
    bound = likelihood_upper_bound(model, rows, weights)
    yardstick = (f"the {base:.5g} of the independent model of the data's marginals it "
                 "started from")
    n_features = model.n_features_in_
    margin = DIVERGENCE_NATS_PER_FEATURE * n_features
    if bound >= base - margin:  # NaN fails this
        return None
    if start is not None and (start := start()) < base:
        base, yardstick = start, f"the {start:.5g} it had before this call"
        if bound >= base - margin:
            return None
    return (f"its mean log-likelihood on {rows.shape[0]} training rows is at most "
            f"{bound:.5g} nats, {base - bound:.4g} below {yardstick}: more than "
            f"{DIVERGENCE_NATS_PER_FEATURE:g} nat per feature ({n_features} features) worse")


def likelihood_upper_bound(model, V, weights=None):
    """An upper bound on the mean log-likelihood of the rows V (weighted by
    ``weights`` where given), cheap and free of sampling noise.

    log p(v) = -F(v) - log Z, and log Z is at least the log-weight of any
    single state: of a binary hidden state h, ``log w(h) = c.h +
    visible.log_partition_given_hidden(h W, b)``, the candidates being the
    most probable hidden state of each row (its field > 0), the persistent
    chains' states (at beta = 1) and h = 0; for real-valued hidden units,
    whose h is a point of a density and not a state (its log w bounds
    nothing), of a visible state u (discrete visible units), -F(u), with h
    integrated out, the candidates being the most probable visible state
    given each chain's h.  The bound is loose by at most ``n_components *
    log 2`` for binary hidden units when the best candidate is the model's
    heaviest state, and tight where the model has concentrated its mass, as
    a diverged one does.  (The rows themselves are valid candidates too,
    but left out: with them, the two rows with gaps among the 40 of
    ``RBMImputer``'s docstring example pull the bound 5 nats below the
    independent model while the fitted model is 1 nat above it, as their
    fills are still settling.)
    """
    field = model._hidden_field(V)
    data_term = average(-model._free_energy_given_field(V, field), weights)
    chains = model.h_samples_
    if model.method == "pt":
        chains = chains[: len(chains) // model.n_temperatures]
    chains = chains[:MONITOR_ROWS]
    if getattr(model._hidden_unit, "discrete", False):
        return data_term - _hidden_state_floor(model, field, chains)
    return data_term - float(np.max(-model._free_energy(_chain_modes(model, chains))))


def _chain_modes(model, H):
    """The most probable visible state given each hidden row of H."""
    unit = model._visible_unit
    return unit.posterior_point(unit.mean(H @ model.components_ + model.intercept_visible_))


def _hidden_state_floor(model, field, chains):
    """max log w(h) over binary hidden candidates: each row's most probable
    state (field > 0), the chains' states and h = 0."""
    W, b, c = model.components_, model.intercept_visible_, model.intercept_hidden_
    candidates = np.concatenate([(field > 0), (chains > 0.5),
                                 np.zeros((1, W.shape[0]), dtype=bool)]).astype(W.dtype)
    log_w = (candidates @ c.astype(np.float64)
             + model._visible_unit.log_partition_given_hidden(
                 np.asarray(candidates @ W, np.float64), b.astype(np.float64)))
    return float(np.max(log_w))


def divergence_remedy(model, data_mean, learning_rate, momentum):
    """The cause of a divergence and what to change, decided from checkable facts.

    (Parameters already past ``MAX_ENERGY_SCALE`` before a call are refused
    before it: ``check_energy_scale``.)  The weight decay, when its step alone is unstable
    at this pass's learning rate and would be at the model's default
    learning rate too; the L1-squared penalty likewise; the sparsity
    penalty, when its step alone is that large (``sparsity_message``); the
    data's scale, when parameters of the data's own size are already past
    ``MAX_ENERGY_SCALE`` (the visible layer's ``data_scale_message``);
    otherwise the learning rate.
    """
    causes = []
    decay = weight_decay_message(model, learning_rate, momentum)
    if decay is not None:
        causes.append(decay)
    squared = l1_squared_message(model, learning_rate)
    if squared is not None:
        causes.append(squared)
    sparsity = sparsity_message(model, learning_rate)
    if sparsity is not None:
        causes.append(sparsity)
    scale = model._visible_unit.data_scale_message(model, data_mean, MAX_ENERGY_SCALE)
    if scale is not None:
        causes.append(scale)
    if causes:
        return "; and ".join(causes)
    given = as_given(model.learning_rate, f"{resolved_learning_rate(model):.3g}")
    return (f"the cause is the learning rate (learning_rate={given}): "
            f"{lower_rate_advice(model)}, and fit again")


#: A learning rate at least this many times the model's default is advised
#: down to the default itself: ten times lower than 1e4 (1e3) diverges as
#: surely where the default is 0.0017.
FAR_ABOVE_DEFAULT_RATE = 100


def lower_rate_advice(model):
    """What lower learning rate to try, for messages: ten times lower, or the
    default where the rate is ``FAR_ABOVE_DEFAULT_RATE`` times it or more."""
    rate = resolved_learning_rate(model)
    default = model_default_learning_rate(model)
    if rate >= FAR_ABOVE_DEFAULT_RATE * default:
        return ('lower the learning rate a long way, for example to learning_rate="auto" '
                f'(the default, "auto", is {default:.3g} for this model; the rate given is '
                f"{rate / default:.3g} times it)")
    return (f"lower the learning rate, for example to learning_rate={rate / 10:.3g} (10 "
            f'times lower; the default, "auto", is {default:.3g} for this model)')


def as_given(value, resolved):
    """A hyperparameter as the user set it, for messages: a number as given,
    "auto" with the number it stands for (``resolved``, formatted)."""
    return f'"auto", that is {resolved}' if isinstance(value, str) else f"{value}"


def record_resolved_hyperparameters(model):
    """``learning_rate_`` and ``weight_decay_``: the numbers the "auto" settings
    (or the user's numbers) stand for in this fit or pass."""
    model.learning_rate_ = resolved_learning_rate(model)
    model.weight_decay_ = resolved_weight_decay(model)


def model_default_learning_rate(model):
    """The rate of ``learning_rate="auto"`` for the model's visible and hidden types."""
    return default_learning_rate(type(model)._visible_type, hidden_layer_type(model))


def decay_stability_bound(momentum):
    """The largest learning_rate * weight_decay for which the decay step is stable.

    Alone, the step is ``v = momentum v - lr wd W; W += v``: a linear
    recurrence whose characteristic roots z**2 - (1 + m - lr wd) z + m
    lie inside the unit circle exactly when 0 < lr wd < 2 (1 + m); beyond,
    the weights grow geometrically in magnitude, whatever the data.
    """
    return 2.0 * (1.0 + momentum)


def weight_decay_message(model, learning_rate, momentum):
    """The weight decay as the cause, when its step is unstable at this pass's
    learning rate and at the model's default one; else None."""
    weight_decay = resolved_weight_decay(model)
    limit = decay_stability_bound(momentum)
    default_rate = model_default_learning_rate(model)
    if min(learning_rate, default_rate) * weight_decay < limit:
        return None
    given = as_given(model.weight_decay, f"{weight_decay:g}")
    return (f"the weight decay is too large (weight_decay={given}): at "
            f"learning_rate={learning_rate:.3g} and momentum={momentum:g} each update "
            f"multiplies the weights by {1 - learning_rate * weight_decay:.3g} before the "
            f"gradient, so they grow whatever the data (the decay step is stable only "
            f"while learning_rate * weight_decay < 2 (1 + momentum) = {limit:g}, and "
            f"weight_decay={weight_decay:g} breaks that even at the default "
            f"learning_rate={default_rate:.3g}). Lower weight_decay, below "
            f"{limit / learning_rate:.3g} (\"auto\" is "
            f"{default_weight_decay(hidden_layer_type(model)):g} for this model), and fit again")


#: learning_rate * sparsity_cost beyond which the sparsity penalty is named as
#: a divergence's cause (``sparsity_message``): each update moves a hidden
#: bias by up to this times |target - q| <= 1, steps larger than the data's
#: own gradients ever ask for.
SPARSITY_STEP_LIMIT = 1.0


def sparsity_message(model, learning_rate):
    """The sparsity penalty as the cause, when its step alone is larger than
    ``SPARSITY_STEP_LIMIT`` at this pass's learning rate and at the model's
    default one; else None."""
    cost = float(getattr(model, "sparsity_cost", 0.0) or 0.0)
    default_rate = model_default_learning_rate(model)
    if min(learning_rate, default_rate) * cost <= SPARSITY_STEP_LIMIT:
        return None
    return (f"the sparsity penalty is too strong (sparsity_cost={model.sparsity_cost}): it "
            f"moves each hidden unit's bias (and weights) by up to learning_rate * "
            f"sparsity_cost = {learning_rate * cost:.3g} per update, even at the default "
            f"learning_rate={default_rate:.3g}. Lower sparsity_cost, below "
            f"{SPARSITY_STEP_LIMIT / learning_rate:.3g}, and fit again")


def warn_of_signed_sparsity(model):
    """UserWarning where ``sparsity_cost`` is on for hidden units that take
    either sign (Gaussian, dReLU), where its target is no sparsity: the
    penalty pulls each unit's mean E[h | v] over the rows to
    ``sparsity_target`` (BernoulliRBM with Gaussian units: to 0.050 from
    either side), and a Gaussian-visible, Gaussian-hidden model, trained by
    its exact gradient, ignores it.  Not refused: it is a valid penalty on
    the mean, and models saved with it must still fit."""
    hidden = model._hidden_unit
    if not model.sparsity_cost or hidden.name not in ("gaussian", "drelu"):
        return
    name, settings = type(model).__name__, (f"sparsity_cost={model.sparsity_cost} with "
                                            f"hidden={hidden.name!r}")
    if is_gaussian_pair(model._visible_unit, hidden):
        what = ("is ignored: a Gaussian-visible, Gaussian-hidden model is trained by its "
                "exact gradient, without the penalty")
    else:
        what = ("pulls each hidden unit's mean E[h | v] over the training rows to "
                f"sparsity_target={model.sparsity_target}; these units take either sign, "
                "so that is a target of mean activity, not sparsity (units mostly at 0)")
    warnings.warn(f"{name}: {settings} {what}. For sparse units use hidden='bernoulli' or "
                  "'relu' with the penalty, or set sparsity_cost=0 to silence this.",
                  UserWarning, stacklevel=user_stacklevel())


#: The largest learning_rate * l1_squared_weight_decay for which the
#: L1-squared step (``_l1_squared_step``: W_j -= lr s sign(W_j) mean|W_j|,
#: after the momentum step, so without momentum) cannot blow a unit's weights
#: up: beyond it, a unit of equal |W| has them multiplied by 1 - lr s < -1
#: at every update, and any unit's sum of |W| grows by at least lr s - 1 > 1.
L1_SQUARED_STABILITY_BOUND = 2.0


def l1_squared_message(model, learning_rate):
    """The L1-squared penalty as the cause, when its step is unstable at this
    pass's learning rate and at the model's default one; else None."""
    strength = float(getattr(model, "l1_squared_weight_decay", 0.0))
    limit = L1_SQUARED_STABILITY_BOUND
    default_rate = model_default_learning_rate(model)
    if min(learning_rate, default_rate) * strength < limit:
        return None
    return (f"the L1-squared penalty is too large (l1_squared_weight_decay={strength:g}): at "
            f"learning_rate={learning_rate:.3g} each update moves a unit's weights by "
            f"{learning_rate * strength:.3g} times their mean magnitude, so they flip sign "
            f"and grow whatever the data (the step is stable only while learning_rate * "
            f"l1_squared_weight_decay < {limit:g}, and l1_squared_weight_decay="
            f"{strength:g} breaks that even at the default learning_rate="
            f"{default_rate:.3g}). Lower l1_squared_weight_decay, below "
            f"{limit / learning_rate:.3g}, and fit again")


#: Training after a finished fit (``partial_fit``, a warm-started ``fit``)
#: continues at the learning rate where the fit's schedule ended, but at no
#: less than this fraction of ``learning_rate`` (where the "exponential"
#: schedule ends), so that new data still moves the model.  See
#: ``continuing_fraction``.
CONTINUING_FRACTION_FLOOR = EXPONENTIAL_FINAL_FRACTION


def continuing_fraction(start_fraction, schedule, last_epoch, n_epochs):
    """The fraction of ``learning_rate`` at which training continues after a fit.

    The rate of the fit's last epoch (whose schedule started at
    ``start_fraction`` of ``learning_rate``: 1 for a fresh fit), and at
    least ``CONTINUING_FRACTION_FLOOR``.  Continuing at the initial rate
    undid a finished fit: 20 passes of ``partial_fit`` after a decayed fit
    lowered digits' held-out log-likelihood by 0.2 nats.
    """
    reached = start_fraction * epoch_learning_rate(schedule, 1.0, last_epoch, n_epochs)
    return max(min(reached, 1.0), CONTINUING_FRACTION_FLOOR)


def fraction_to_continue(model, stopper, start_fraction, last_epoch, n_epochs):
    """The fraction of ``learning_rate`` at which training continues after
    ``fit_epochs`` whose last kept epoch is ``last_epoch`` (0-based):
    ``continuing_fraction`` of its schedule, or, where that epoch was in
    early stopping's closing fall, the fall's rate then (at least
    ``CONTINUING_FRACTION_FLOOR``): lower than the schedule's, never above
    it, so training goes on from where the rate came down to.  (A fit
    stopped within the fall by Ctrl-C or a divergence keeps the last epoch
    it recorded, not the rate of the pass it undid.)"""
    fall_rate = None if stopper is None else stopper.fall_rate(last_epoch)
    if fall_rate is None:
        return continuing_fraction(start_fraction, model.learning_rate_schedule, last_epoch,
                                   n_epochs)
    return max(min(fall_rate / model.learning_rate_, 1.0), CONTINUING_FRACTION_FLOOR)


def _continue_after(model, stopper, start_fraction, n_trained, n_epochs):
    """Set the rate training continues at after ``n_trained`` epochs of a fit of
    ``n_epochs`` (``fraction_to_continue``): where its schedule stood, also
    after a fit stopped early by Ctrl-C or a divergence (it went back to the
    full ``learning_rate``, 5x the rate reached 25 epochs into 30).  With no
    epoch trained (n_iter=0) the rate stays where it was."""
    if n_trained > 0:
        model._training.learning_rate_fraction = fraction_to_continue(
            model, stopper, start_fraction, n_trained - 1, n_epochs)


def fit_epochs(model, X, X_valid, n_epochs, warm=False, weights=None,
               valid_weights=None, before_pass=None, validation_log_p=None, train_log_p=None,
               train_rows=None):
    """Train the model for ``n_epochs`` epochs of ``fit``.  ``weights`` and
    ``valid_weights``: the positive sample weights of the rows of X and
    X_valid, or None (see ``rbm._weights``).

    A fresh model (``warm=False``, freshly initialised) follows the whole
    schedule from ``learning_rate``, with the momentum warm-up.  A warm
    start continues the model's training: the schedule starts at the rate
    where training stood (``TrainingState.learning_rate_fraction``), with
    ``momentum`` from the first epoch, and ``n_iter_``, ``history_`` (and
    ``best_epoch_``) count on from the earlier epochs.

    Sets ``n_iter_``, ``history_``, the learning-rate fraction to continue
    at, and, with early stopping, the best epoch's parameters and
    ``best_epoch_`` / ``best_validation_score_``.  ``before_pass`` (no
    arguments), where given, runs before every pass: training on incomplete
    rows re-draws their missing entries in X there (``rbm._conditional``);
    ``validation_log_p`` (no arguments), where given, returns the
    validation rows' unnormalised log-likelihoods in place of -F(X_valid):
    for rows with gaps, log p(observed entries) up to log Z; ``train_log_p``
    those of the training rows that a check scores (``train_rows``, a slice;
    by default ``likelihood_rows``) in place of their -F.
    """
    if warm:  # hyperparameters set since the last fit (fit undoes this if it raises)
        model._visible_unit.follow_hyperparameters(model)
    batches = Batches(X, weights)
    statistics = model._training.data_statistics_with(X, weights)
    model._training.record_data(statistics)
    # Early stopping (validation rows) needs the likelihood; a verbose fit asks for it.
    likelihood = _likelihood_monitoring(model, X.shape[0], n_epochs,
                                        X_valid is not None or bool(model.verbose))
    exact = likelihood == "exact"
    monitor = TrainingMonitor(n_epochs, likelihood is not None, model._training.swap_counts)
    stopper = (EarlyStopping(model.tol, model.n_iter_no_change, n_epochs)
               if model.early_stopping else None)
    figures = EpochFigures(model, X, X_valid, exact, weights, valid_weights, validation_log_p,
                           train_log_p, train_rows)
    progress = (ProgressLine(type(model).__name__, n_epochs,
                             len(even_batch_ends(X.shape[0], model.batch_size)))
                if model.verbose == 1 else None)
    watch = DivergenceWatch.of(model, DIVERGENCE_PATIENCE)
    start_proper(model, watch)
    earlier = getattr(model, "n_iter_", 0) if warm else 0
    start_fraction = model._training.learning_rate_fraction if warm else 1.0
    model.n_iter_ = earlier
    record_resolved_hyperparameters(model)
    epoch = -1
    # The kernel splits its products over n_threads itself, in blocks fixed by
    # their shapes, and holds BLAS at one thread (rbm._blas).  The per-epoch
    # figures' NumPy products (at most MONITOR_ROWS rows, about 1% of an
    # epoch, and one product per scored training row at a likelihood check) run on
    # one BLAS thread too: a threaded BLAS rounds by its thread
    # count, and history_, early stopping and the cached log Z that score()
    # reuses must not depend on n_jobs.
    with single_threaded_blas():
        try:
            warn_of_signed_sparsity(model)  # (raised as an error: a record of 0 epochs)
            for epoch in range(n_epochs):
                if _fit_epoch(model, X, epoch, n_epochs, warm, start_fraction, stopper, watch,
                              before_pass, batches, statistics, monitor, figures, progress,
                              earlier):
                    break
        except DivergenceError:
            # (_fit_epoch has set n_iter_ and history_ to the passes kept.)
            _continue_after(model, stopper, start_fraction, model.n_iter_ - earlier, n_epochs)
            raise
        except BaseException:
            # Ctrl-C or a warning raised as an error, in the pass or its
            # record (which run_pass has undone) or after them: a first fit
            # keeps the epochs recorded, n_iter_, history_ and the rate to
            # continue at alike (a refit that raises is undone whole by fit).
            model.n_iter_ = earlier + len(monitor.history["epoch"])
            _set_history(model, monitor.history, warm, earlier)
            _continue_after(model, stopper, start_fraction, len(monitor.history["epoch"]),
                            n_epochs)
            raise
    if progress is not None:
        progress.finish()
    if warm and before_pass is None and is_gaussian_pair(model._visible_unit, model._hidden_unit):
        warn_if_gaussian_pair_stalled(model, X, weights)
    _continue_after(model, stopper, start_fraction, epoch + 1, n_epochs)
    _set_history(model, monitor.history, warm, earlier)
    forget_early_stopping(model)  # an earlier fit's, unless this one stops early
    if stopper is not None:
        restore_best_epoch(model, stopper, earlier)
    warn_if_hidden_idle(model, figures.epoch_rows(), X)


#: ``warn_if_hidden_idle`` reads the training rows in blocks of this many.
IDLE_CHECK_BLOCK_ROWS = 4096


def warn_if_hidden_idle(model, rows, X):
    """ConvergenceWarning when every hidden unit is switched off on every
    training row of X.

    A learning rate too high for the hidden type can push every hidden bias far
    negative (-2e8 for ReLU units at learning_rate=5) with no divergence to
    catch: the energy stays below ``MAX_ENERGY_SCALE`` and the likelihood near
    the independent model's, which is what the model has become.  One hidden
    field of ``rows`` (the per-epoch figures' sample) first, once per fit; only
    where every unit is off there are all rows read, block by block until a
    unit is on somewhere (a unit that marks a rare cluster is on for a few
    rows only: a sample of 64 missed a 1.5% cluster and warned of a model 0.65
    nats per row better than independent features).
    """
    field = np.asarray(model._hidden_field(rows), dtype=np.float64)
    idle = model._hidden_unit.idle_units(field)
    if idle.size == 0 or not idle.all() or not _idle_on_every_row(model, X, field[:1]):
        return
    c = np.asarray(model.intercept_hidden_, dtype=np.float64)
    given = as_given(model.learning_rate, f"{resolved_learning_rate(model):.3g}")
    warnings.warn(
        f"{type(model).__name__}: all {idle.size} hidden units "
        f"(hidden={model._hidden_unit.name!r}) ended switched off: on every one of the "
        f"{X.shape[0]} training rows, every unit's field c + W s(v) holds "
        "h | v at one value whatever the row (off, or for binary units stuck on; hidden "
        f"biases from {c.min():.3g} to {c.max():.3g}). The hidden units then model nothing: "
        "the fit is, in effect, the model of independent features. The usual "
        f"cause is a learning rate too high for these units (learning_rate={given}): "
        f"{lower_rate_advice(model)}, and fit again. A large sparsity_cost or weight "
        "decay can switch units off too.",
        ConvergenceWarning, stacklevel=user_stacklevel())


def _idle_on_every_row(model, X, reference):
    """Whether every hidden unit is off on every row of X: each block's fields
    with the ``reference`` row's (a unit stuck at one value in one block and at
    another in the next is not idle)."""
    for start in range(0, X.shape[0], IDLE_CHECK_BLOCK_ROWS):
        block = np.asarray(model._hidden_field(X[start : start + IDLE_CHECK_BLOCK_ROWS]),
                           dtype=np.float64)
        if not model._hidden_unit.idle_units(np.vstack([reference, block])).all():
            return False
    return True


def _fit_epoch(model, X, epoch, n_epochs, warm, start_fraction, stopper, watch, before_pass,
               batches, statistics, monitor, figures, progress, earlier):
    """One epoch of ``fit_epochs``: its pass, its ``history_`` row, its
    progress line; whether early stopping (or a divergence in its closing
    fall) ends the fit here.  A DivergenceError leaves ``n_iter_`` and
    ``history_`` at the passes a first fit keeps."""
    learning_rate = _fit_epoch_rate(model, start_fraction, epoch, n_epochs, stopper)
    # During the warm-up the kernel leaves the weights' velocity alone (it is
    # 0 when momentum starts) but keeps the biases'.
    momentum = (model.momentum if warm else
                epoch_momentum(model.momentum, model.momentum_warmup, epoch, n_epochs))
    watch.begin_pass(epoch, n_epochs, stopper is not None, before_pass is not None)
    if before_pass is not None:
        before_pass()
    order = (model._training.shuffle_rng.permutation(X.shape[0]) if model.shuffle
             else np.arange(X.shape[0])).astype(np.intp, copy=False)
    try:
        computed = run_pass(model, batches.plan(order, model.batch_size), learning_rate,
                            momentum, statistics, watch,
                            figures=lambda: figures.compute(monitor.likelihood_due(epoch)))
    except DivergenceError:
        if stopper is not None and stopper.ends_at_divergence():
            return True  # (restore_best_epoch returns the best check, as a stop would)
        model.n_iter_ -= watch.earlier_passes_undone()  # their parameters are gone
        # The passes a first fit keeps are in history_ as n_iter_ counts them.
        _set_history(model, monitor.history, warm, earlier, model.n_iter_ - earlier)
        raise
    model.n_iter_ = earlier + epoch + 1
    row = monitor.record(epoch, learning_rate, momentum, computed)
    if progress is not None:
        progress.update(row)
    elif model.verbose:
        print(format_epoch(type(model).__name__, row, n_epochs), flush=True)
    return stopper is not None and stopper.should_stop(row, model._learned_arrays())


def _fit_epoch_rate(model, start_fraction, epoch, n_epochs, stopper):
    """The learning rate of (0-based) ``epoch`` of ``fit_epochs``: its schedule's,
    from ``start_fraction`` of ``learning_rate_`` (a fresh fit's 1.0 makes
    it exact), or early stopping's closing fall (``EarlyStopping``)."""
    learning_rate = epoch_learning_rate(model.learning_rate_schedule,
                                        model.learning_rate_ * start_fraction, epoch, n_epochs)
    return learning_rate if stopper is None else stopper.learning_rate(epoch, learning_rate)


def restore_best_epoch(model, stopper, earlier):
    """Put back the parameters of the epoch early stopping chose (if it chose
    one), with ``best_epoch_`` and ``best_validation_score_``."""
    if stopper.restore_best(model._learned_arrays()):
        model.best_epoch_ = earlier + stopper.best_epoch
        model.best_validation_score_ = stopper.best_score
        model._training.log_partition_cache.clear()
        if keeps_proper(model):  # (an epoch early stopping scored: checked, properness_due)
            remember_parameters(model, checked=True)


#: The attributes of a fit that stopped early (set by ``fit_epochs``).
EARLY_STOPPING_ATTRIBUTES = ("best_epoch_", "best_validation_score_")


def forget_early_stopping(model):
    """Drop ``best_epoch_`` and ``best_validation_score_``: after a training call
    that did not keep a best epoch's parameters (a fit without early
    stopping, a partial_fit pass) they described parameters the model no
    longer has (a warm fit without early stopping kept them)."""
    for name in EARLY_STOPPING_ATTRIBUTES:
        model.__dict__.pop(name, None)


def _set_history(model, rows, warm, earlier, n_rows=None):
    """``history_``: ``rows`` (their first ``n_rows``, if given), after the
    earlier rows of a warm start."""
    if n_rows is not None:
        rows = {name: column[:n_rows] for name, column in rows.items()}
    previous = getattr(model, "history_", None) if warm else None
    model.history_ = _continued_history(previous, rows, earlier) if previous else rows


def _continued_history(history, new_rows, earlier):
    """``history`` with ``new_rows`` appended, their epochs counted on from
    ``earlier`` (their seconds from the last recorded one)."""
    last = history["seconds"][-1] if history["seconds"] else 0.0
    offsets = {"epoch": earlier, "seconds": last if isinstance(last, Real) else 0.0}
    return {name: list(history[name]) + [value + offsets[name] if name in offsets else value
                                         for value in new_rows[name]]
            for name in history}


def partial_fit_pass(model, X, weights=None, fills_gaps=False):
    """One ``partial_fit`` pass over validated X in its row order, recorded.

    ``weights``: the rows' positive sample weights, or None.  ``fills_gaps``:
    whether the rows have gaps that the model fills (``run_pass``).

    Steps at ``learning_rate`` times the state's ``learning_rate_fraction``
    (1.0 on a plain stream of calls, so exactly ``learning_rate``).  A pass
    that raises rolls back the arrays it changed (``run_pass``), the layer's
    hyperparameters it took from the model and the random streams it
    advanced, so a retry repeats it exactly.
    """
    batches = Batches(X, weights).plan(np.arange(X.shape[0], dtype=np.intp), model.batch_size)
    training = model._training
    saved_streams = training.training_streams.snapshot()
    swap_counts = training.swap_counts.copy()
    rate = resolved_learning_rate(model)
    learning_rate = rate * training.learning_rate_fraction
    # The layer takes hyperparameters set since the last call (its state is
    # replaced, not changed in place, so this copy undoes it).
    unit = model._visible_unit
    layer = dict(vars(unit))
    unit.follow_hyperparameters(model)
    start = time.perf_counter()
    # The pass and its figures on one BLAS thread, as fit's (fit_epochs): the
    # figures' rounding must not follow the thread count, and a threaded
    # product in them left OpenBLAS's idle workers spinning for about 0.1 s
    # into the next call's kernel, which made a loop of partial_fit calls on
    # 1,000-row chunks at 784 x 500 2.4x slower on 2 cores.
    with single_threaded_blas():
        try:
            warn_of_signed_sparsity(model)
            computed = run_pass(model, batches, learning_rate, model.momentum,
                                training.data_statistics_with(X, weights),
                                fills_gaps=fills_gaps,
                                figures=lambda: EpochFigures(model, X, None, False,
                                                             weights).compute(False))
        except BaseException:
            training.training_streams.restore(saved_streams)
            vars(unit).clear()
            vars(unit).update(layer)
            # A first call's model is kept as started (usable, as its parameters
            # are): it has trained no pass, which n_iter_ then says.
            if not hasattr(model, "n_iter_"):
                model.n_iter_ = 0
            raise
        record_resolved_hyperparameters(model)
        record_pass(model, computed, learning_rate, model.momentum, swap_counts,
                    time.perf_counter() - start)
        forget_early_stopping(model)  # the pass moved the parameters from the best epoch's


def record_pass(model, figures, learning_rate, momentum, swap_counts, seconds):
    """Count a successful ``partial_fit`` pass in ``n_iter_`` and append its row
    to ``history_`` (started if the model has none).

    ``figures``: the pass's ``EpochFigures`` (computed before the pass was
    committed, ``commit_pass``), those that cost about 1% of a pass (see
    ``epoch_rows``): reconstruction error and free energies of up to
    ``MONITOR_ROWS`` of its rows; with the swap rate.  The log-likelihoods,
    which need log Z, are NaN.
    """
    monitor = TrainingMonitor(1, False, swap_counts)
    row = monitor.record(0, learning_rate, momentum, figures)
    row["seconds"] = seconds
    earlier = getattr(model, "n_iter_", 0)
    history = getattr(model, "history_", None) or {name: [] for name in row}
    model.history_ = _continued_history(history, {name: [row[name]] for name in row}, earlier)
    model.n_iter_ = earlier + 1


def check_training_record(model):
    """Raise ValueError unless ``n_iter_`` and ``history_``, where present, are a
    record ``partial_fit`` can append to (a count; a dict of equally long lists
    with ``TrainingMonitor.COLUMNS``)."""
    name = type(model).__name__
    n_iter = getattr(model, "n_iter_", 0)
    if not (isinstance(n_iter, Integral) and not isinstance(n_iter, bool) and n_iter >= 0):
        raise ValueError(f"{name}.n_iter_ must be a non-negative integer (epochs trained), "
                         f"got {n_iter!r}; set it back or refit the model.")
    history = getattr(model, "history_", None)
    if history is None:
        return
    # A model that skops.io.load read from a file rbm.persistence.save wrote
    # holds the columns as 1-d arrays (see history_with_lists): the same record.
    stored = isinstance(history, dict) and any(isinstance(values, np.ndarray)
                                               for values in history.values())
    history = history_with_lists(history) if stored else history
    columns = TrainingMonitor.COLUMNS
    if not (isinstance(history, dict) and set(history) == set(columns)
            and all(isinstance(history[column], list) for column in columns)
            and len({len(history[column]) for column in columns}) == 1):
        raise ValueError(f"{name}.history_ must be a dict of equally long lists with the "
                         f"columns {', '.join(columns)}, as fit records it; refit the model "
                         "or delete history_ to start a new record.")
    if stored:
        model.history_ = history


def history_with_lists(history):
    """``history`` (a dict of columns) with its 1-d array columns as lists.

    ``rbm.persistence.save`` stores each column of ``history_`` as one array
    (a .skops file would otherwise hold a node per value); ``load`` turns
    them back into lists, but a file loaded by ``skops.io.load`` itself keeps
    the arrays, to which training could not append.
    """
    return {column: values.tolist() if isinstance(values, np.ndarray) and values.ndim == 1
            else values for column, values in history.items()}


def _likelihood_monitoring(model, n_train, n_epochs, required):
    """How ``fit`` records likelihoods: "exact", "ais" or None (see
    ``likelihood_monitoring``); exact only up to what ``log_partition``
    itself would enumerate."""
    n_states, flops = exact_cost(model.components_.shape[1], model.n_components,
                                 model._visible_unit, model._hidden_unit)
    if n_states > MAX_EXACT_STATES or flops > AUTO_EXACT_MAX_FLOPS:
        flops = math.inf
    return likelihood_monitoring(flops, n_train, model.components_.size, n_epochs, required)


class EpochFigures:
    """The numbers recorded after each epoch, computed from the model.

    Reconstruction error and free energies on at most ``MONITOR_ROWS``
    evenly spaced training rows (see ``epoch_row_index``), the free energy of visible states
    drawn from the persistent chains, the swap counts, and, when due, the
    log-likelihoods of the training rows (every one, or evenly spaced ones:
    ``likelihood_rows``) and of every validation row (exact where
    cheap, else a short AIS run with fixed random numbers) and how their
    log Z was obtained.  With sample weights (``weights`` of X_train's rows,
    ``valid_weights`` of X_valid's) the means over rows are weighted.
    ``validation_log_p`` and ``train_log_p`` (see ``fit_epochs``) score
    validation and training rows with gaps.
    """

    def __init__(self, model, X_train, X_valid, exact, weights=None, valid_weights=None,
                 validation_log_p=None, train_log_p=None, train_rows=None):
        self.model = model
        # The log-likelihood's rows: every one, or evenly spaced ones
        # (``likelihood_rows``), taken at each check: a CSR matrix's rows are
        # a copy (2.3 MiB at 4,096 rows of 50 categorical features, in every
        # fit, checked or not), and dense rows must show the fills that
        # training on rows with gaps draws into X_train.
        scored = likelihood_rows(X_train.shape[0]) if train_rows is None else train_rows
        self.scored_rows = lambda: X_train[scored]
        # The per-epoch figures' rows, evenly spaced: taken at each epoch
        # too (a copy of at most MONITOR_ROWS rows), to show the fills.
        epoch_index = epoch_row_index(X_train.shape[0])
        self.epoch_rows = lambda: X_train[epoch_index]
        self.weights = None if weights is None else weights[scored]
        self.epoch_weights = None if weights is None else weights[epoch_index]
        self.valid_weights = valid_weights
        self.X_valid = X_valid
        self.validation_log_p = (validation_log_p if validation_log_p is not None
                                 else lambda: -model._free_energy(X_valid))
        self.train_log_p = (train_log_p if train_log_p is not None
                            else lambda: -model._free_energy(self.scored_rows()))
        self.cheap_likelihood = exact
        self.rng = np.random.default_rng(0)

    def compute(self, with_likelihood):
        """A dict of this epoch's figures (see ``TrainingMonitor.record``)."""
        model = self.model
        # In the model's dtype, one hidden field for both figures.
        rows = self.epoch_rows()
        field = model._hidden_field(rows)
        figures = {
            "reconstruction_error": model._reconstruction_error(rows, field,
                                                                self.epoch_weights),
            "free_energy_data": average(
                model._free_energy_given_field(rows, field), self.epoch_weights),
            "free_energy_chains": self._chain_free_energy(rows.shape[0]),
            "swap_counts": model._training.swap_counts,
        }
        if with_likelihood:
            estimate = self._log_z()
            log_z = estimate[0]
            figures["log_likelihood_method"] = estimate_tag(estimate)
            figures["log_likelihood_train"] = float(
                average(self.train_log_p(), self.weights) - log_z)
            if self.X_valid is not None:
                figures["log_likelihood_validation"] = float(
                    average(self.validation_log_p(), self.valid_weights) - log_z)
        return figures

    def _log_z(self):
        method = "exact" if self.cheap_likelihood else "ais"
        kwargs = {} if self.cheap_likelihood else MONITOR_AIS
        return self.model._log_partition(method=method, warn=False, **kwargs)

    def _chain_free_energy(self, n_rows):
        """Mean free energy of visible states drawn from (some of) the persistent
        chains; NaN for CD, which keeps none (its h_samples_ stay at their
        start, and the figure read as a 5 nat gap to the data)."""
        model = self.model
        if model.method == "cd":
            return math.nan
        H = model.h_samples_
        if model.method == "pt":  # the beta = 1 block
            H = H[: len(H) // model.n_temperatures]
        H = H[:n_rows]
        V = model._visible_unit.sample(H @ model.components_ + model.intercept_visible_,
                                       self.rng)
        return float(np.mean(model._free_energy_given_field(V, model._hidden_field(V))))
