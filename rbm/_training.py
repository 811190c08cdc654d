"""The training loop: epochs of ``fit``, one pass of minibatch updates, and
the figures recorded after each epoch.

The estimator owns its parameters; this module moves them.  A pass builds
the kernel's arguments from three objects (the data as ``Batches``, the
``Update`` hyperparameters and the ``TrainingState``), calls the compiled
kernel once, and checks for divergence afterwards, rolling back if needed.
"""

import math
import os
from numbers import Integral

import numpy as np
import scipy.sparse as sp
from sklearn.utils import check_random_state
from threadpoolctl import threadpool_limits

from . import _gibbs
from ._monitor import (CHEAP_EXACT_FLOPS, MONITOR_AIS, MONITOR_ROWS, EarlyStopping,
                       TrainingMonitor, epoch_learning_rate, epoch_momentum, epoch_rows,
                       format_epoch)
from ._partition import exact_cost
from ._state import Update, energy_scale

#: Training diverged once the energy scale sum|W| + sum|b| + sum|c| (which
#: bounds |E(v, h)| over binary states) reaches 2**52 = 1 / eps(float64):
#: every likelihood here is computed in float64, where energies that large
#: carry rounding errors of a nat or more, so log p(x) and log Z mean nothing
#: (and a few more such updates overflow to inf).
MAX_ENERGY_SCALE = 2.0 ** 52

#: ``n_iter="auto"``: about this many minibatch updates, in at least and at
#: most these many epochs (4,762 epochs of digits' 1,257 training rows at
#: batch 20; 100 epochs of 60,000 rows).
AUTO_UPDATES = 300_000
AUTO_EPOCHS = (10, 5000)


class DivergenceError(ValueError):
    """Training made the parameters non-finite or too large for float64 likelihoods.

    The cause is a learning rate too large for the data; the model keeps the
    parameters it had before the failing pass.
    """


def even_batch_ends(n_samples, batch_size):
    """End offsets of ceil(n / batch_size) batches whose sizes differ by at most one."""
    n_batches = max(1, math.ceil(n_samples / batch_size))
    sizes = np.full(n_batches, n_samples // n_batches, dtype=np.intp)
    sizes[: n_samples % n_batches] += 1
    return np.cumsum(sizes).astype(np.intp)


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


def validation_split(X, early_stopping, validation_fraction, random_state):
    """(training rows, validation rows or None) for early stopping."""
    if not early_stopping:
        return X, None
    n_valid = int(round(validation_fraction * X.shape[0]))
    if n_valid < 1 or n_valid >= X.shape[0]:
        raise ValueError(
            f"early_stopping needs validation and training rows, but "
            f"validation_fraction={validation_fraction} of {X.shape[0]} "
            "samples leaves one side empty; give more samples or change "
            "validation_fraction."
        )
    rng = check_random_state(random_state)
    order = np.random.default_rng(rng.randint(2**32)).permutation(X.shape[0])
    return X[np.sort(order[n_valid:])], X[np.sort(order[:n_valid])]


class Batches:
    """Training rows as the kernel reads them (its ``batches`` argument).

    Dense rows in ``X``, or a CSR matrix in ``csr_data``, ``csr_indices``
    and ``csr_indptr``; made once per fit so C-order and index copies are
    not repeated every epoch.  ``order`` and ``ends`` say which rows make
    up each minibatch of the next pass.
    """

    __slots__ = ("X", "csr_data", "csr_indices", "csr_indptr", "order", "ends")

    def __init__(self, X):
        self.X = self.csr_data = self.csr_indices = self.csr_indptr = None
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

    def plan(self, order, batch_size):
        """Visit rows ``order`` in minibatches of (about) ``batch_size``; returns self."""
        self.order = order
        self.ends = even_batch_ends(len(order), batch_size)
        return self


def run_pass(model, batches, n_threads, learning_rate, momentum, statistics):
    """One pass of minibatch updates; afterwards the parameters are sound or rolled back.

    ``statistics`` are the running data marginals including these rows
    (``TrainingState.data_statistics_with``); they become the model's only
    when the pass succeeds.  Raises DivergenceError (after restoring every
    learned array) when the parameters end non-finite, above
    ``MAX_ENERGY_SCALE``, or runaway for the visible type.
    """
    training, unit = model._training, model._visible_unit
    dtype = model.components_.dtype
    data_mean = statistics[0] / max(statistics[1], 1)
    # Parallel tempering's hottest chains sample the independent model of
    # the data marginals (AIS's base model too).
    base_bias = (unit.initial_bias(data_mean).astype(dtype) if model.method == "pt"
                 else None)
    update = Update(model, learning_rate, momentum, base_bias)
    learned = model._learned_arrays() + (training.swap_counts,)
    snapshot = [a.copy() for a in learned]
    _gibbs.train_minibatches(
        batches, model._kernel_params(), training.kernel_view(model.h_samples_), update,
        unit.kernel_view(dtype), training.training_streams.for_rows(
            _chain_rows_needing_streams(model, batches)), int(n_threads))
    message = divergence_message(model, data_mean)
    if message is not None:
        for array, saved in zip(learned, snapshot):
            array[...] = saved
        raise DivergenceError(message)
    training.record_data(statistics)
    training.log_partition_cache.clear()


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


def divergence_message(model, data_mean):
    """What diverged and what to do, or None when the parameters are sound."""
    W, b, c = model.components_, model.intercept_visible_, model.intercept_hidden_
    unit = model._visible_unit
    scale = energy_scale(W, b, c, unit.learned_arrays())
    if scale < MAX_ENERGY_SCALE:  # NaN fails this
        return unit.runaway_message(model, W, b, data_mean)
    if not all(np.all(np.isfinite(a)) for a in (W, b, c, *unit.learned_arrays())):
        what = "the parameters became non-finite"
    else:
        size = f"{scale:.3g}" if math.isfinite(scale) else "more than the largest float64"
        what = (f"the parameters grew to an energy scale (sum of their absolute "
                f"values) of {size}, above 2**52 = 4.5e15, where float64 cannot resolve "
                "log-likelihoods to within a nat")
    return (
        f"{type(model).__name__} diverged: {what}, with learning_rate="
        f"{model.learning_rate}. The model keeps its parameters from before this "
        "pass over the data; lower the learning rate (for example by a factor of "
        "10) and fit again."
    )


def fit_epochs(model, X, X_valid, n_epochs, n_threads):
    """Train a freshly initialised model for ``n_epochs`` epochs of ``fit``.

    Sets ``n_iter_``, ``history_`` and, with early stopping, the best
    epoch's parameters and ``best_epoch_`` / ``best_validation_score_``.
    """
    batches = Batches(X)
    statistics = model._training.data_statistics_with(X)
    model._training.record_data(statistics)
    monitor = TrainingMonitor(n_epochs, _likelihood_checks(model, X_valid),
                              model._training.swap_counts)
    stopper = (EarlyStopping(model.tol, model.n_iter_no_change)
               if model.early_stopping else None)
    figures = EpochFigures(model, X, X_valid)
    model.n_iter_ = 0
    # The kernel splits its products over n_threads itself, in blocks fixed by
    # their shapes, and holds BLAS at one thread (rbm._blas).  The per-epoch
    # figures' NumPy products (at most MONITOR_ROWS rows, about 1% of an
    # epoch) run on one BLAS thread too: a threaded BLAS rounds by its thread
    # count, and history_, early stopping and the cached log Z that score()
    # reuses must not depend on n_jobs.
    with threadpool_limits(limits=1, user_api="blas"):
        for epoch in range(n_epochs):
            learning_rate = epoch_learning_rate(
                model.learning_rate_schedule, model.learning_rate, epoch, n_epochs)
            # During the warm-up the kernel leaves the weights' velocity
            # alone (it is 0 when momentum starts) but keeps the biases'.
            momentum = epoch_momentum(model.momentum, model.momentum_warmup, epoch, n_epochs)
            order = model._training.shuffle_rng.permutation(X.shape[0]).astype(np.intp,
                                                                               copy=False)
            run_pass(model, batches.plan(order, model.batch_size), n_threads,
                     learning_rate, momentum, statistics)
            model.n_iter_ = epoch + 1
            row = monitor.record(epoch, learning_rate, momentum,
                                 figures.compute(monitor.likelihood_due(epoch)))
            if _reports_epoch(model.verbose, epoch, n_epochs):
                print(format_epoch(type(model).__name__, row, n_epochs), flush=True)
            if stopper is not None and stopper.should_stop(row, model._learned_arrays()):
                break
    model.history_ = monitor.history
    if stopper is not None and stopper.restore_best(model._learned_arrays()):
        model.best_epoch_ = stopper.best_epoch
        model.best_validation_score_ = stopper.best_score
        model._training.log_partition_cache.clear()


def _likelihood_checks(model, X_valid):
    """Whether ``fit`` records likelihoods: where log Z is cheap, or early stopping needs them."""
    _, flops = exact_cost(model.components_.shape[1], model.n_components,
                          model._visible_unit, model._hidden_unit)
    return flops <= CHEAP_EXACT_FLOPS or X_valid is not None


def _reports_epoch(verbose, epoch, n_epochs):
    """verbose=1: about 20 evenly spaced epochs and the last; verbose>=2: every one."""
    if not verbose:
        return False
    every = 1 if verbose > 1 else max(1, n_epochs // 20)
    return epoch == 0 or (epoch + 1) % every == 0 or epoch + 1 == n_epochs


class EpochFigures:
    """The numbers recorded after each epoch, computed from the model.

    Reconstruction error and free energies on at most ``MONITOR_ROWS``
    training rows (see ``epoch_rows``), the free energy of visible states
    drawn from the persistent chains, the swap counts, and, when due, the
    training and validation log-likelihoods (exact where cheap, else a
    short AIS run with fixed random numbers).
    """

    def __init__(self, model, X_train, X_valid):
        self.model = model
        self.rows = X_train[:MONITOR_ROWS]
        self.epoch_rows = self.rows[:epoch_rows(X_train.shape[0])]
        self.X_valid = X_valid
        _, flops = exact_cost(model.components_.shape[1], model.n_components,
                              model._visible_unit, model._hidden_unit)
        self.cheap_likelihood = flops <= CHEAP_EXACT_FLOPS
        self.rng = np.random.default_rng(0)

    def compute(self, with_likelihood):
        """A dict of this epoch's figures (see ``TrainingMonitor.record``)."""
        model = self.model
        # In the model's dtype, one hidden field for both figures.
        field = model._hidden_field(self.epoch_rows)
        figures = {
            "reconstruction_error": model._reconstruction_error(self.epoch_rows, field),
            "free_energy_data": float(np.mean(
                model._free_energy_given_field(self.epoch_rows, field))),
            "free_energy_chains": self._chain_free_energy(),
            "swap_counts": model._training.swap_counts,
        }
        if with_likelihood:
            log_z = self._log_z()
            figures["log_likelihood_train"] = float(-np.mean(model._free_energy(self.rows))
                                                    - log_z)
            if self.X_valid is not None:
                figures["log_likelihood_validation"] = float(
                    -np.mean(model._free_energy(self.X_valid)) - log_z)
        return figures

    def _log_z(self):
        method = "exact" if self.cheap_likelihood else "ais"
        kwargs = {} if self.cheap_likelihood else MONITOR_AIS
        return self.model._log_partition(method=method, **kwargs)[0]

    def _chain_free_energy(self):
        """Mean free energy of visible states drawn from (some of) the persistent chains."""
        model = self.model
        H = model.h_samples_
        if model.method == "pt":  # the beta = 1 block
            H = H[: len(H) // model.n_temperatures]
        H = H[: self.epoch_rows.shape[0]]
        V = model._visible_unit.sample(H @ model.components_ + model.intercept_visible_,
                                       self.rng)
        return float(np.mean(model._free_energy_given_field(V, model._hidden_field(V))))
