"""Learning-rate schedules and the per-epoch record of a fit (``history_``)."""

import math
import time

import numpy as np

from ._partition import exact_cost

#: The likelihood is recorded at about ``LIKELIHOOD_CHECKS`` evenly spaced
#: epochs (and the last): exactly when log Z costs at most
#: ``CHEAP_EXACT_FLOPS`` floating-point operations, otherwise (for early
#: stopping only) by a short AIS run.  Not every epoch: on small data sets
#: even a cheap exact log Z costs more than the epoch itself.
CHEAP_EXACT_FLOPS = 1e8
LIKELIHOOD_CHECKS = 20
#: A short AIS run for monitoring: noisy, but the same random numbers every
#: time, so successive epochs are compared on equal terms.
MONITOR_AIS = dict(n_chains=32, n_betas=500, random_state=0)
#: Training rows whose likelihood is recorded.
MONITOR_ROWS = 512
#: The figures recorded every epoch (reconstruction error, free energies)
#: use at most ``MONITOR_ROWS`` training rows and persistent chains, at
#: least ``MIN_EPOCH_ROWS``, and otherwise one in ``EPOCH_ROWS_PER`` of the
#: training rows: their two products per row then cost at most about 1% of
#: the epoch's (which does at least three per row), whatever its size.
MIN_EPOCH_ROWS = 64
EPOCH_ROWS_PER = 64
#: ``exponential`` decays the learning rate to this fraction over the fit.
EXPONENTIAL_FINAL_FRACTION = 0.01


def epoch_rows(n_train):
    """How many training rows the per-epoch figures use (see ``EPOCH_ROWS_PER``)."""
    return min(n_train, MONITOR_ROWS, max(MIN_EPOCH_ROWS, n_train // EPOCH_ROWS_PER))


def epoch_learning_rate(schedule, learning_rate, epoch, n_epochs):
    """The learning rate of a 0-based epoch under a schedule.

    "constant" keeps it; "linear" decays it to zero, reaching
    ``learning_rate / n_epochs`` in the last epoch; "exponential" multiplies
    it by the same factor every epoch, down to ``EXPONENTIAL_FINAL_FRACTION``
    of it after the last.
    """
    if schedule == "constant":
        return learning_rate
    if schedule == "linear":
        return learning_rate * (1.0 - epoch / n_epochs)
    if schedule == "exponential":
        return learning_rate * EXPONENTIAL_FINAL_FRACTION ** (epoch / n_epochs)
    raise ValueError(f"unknown learning_rate_schedule {schedule!r}")


def epoch_momentum(momentum, warmup, epoch, n_epochs):
    """The momentum of a 0-based epoch of ``fit``.

    0 in the first ``warmup`` fraction of the epochs, rounded up to whole
    epochs, then ``momentum``.  (The product is rounded to 9 places first,
    so that 0.07 * 100 = 7.000000000000001 means 7 epochs, not 8.)
    """
    warmup_epochs = math.ceil(round(warmup * n_epochs, 9))
    return 0.0 if epoch < warmup_epochs else momentum


class TrainingMonitor:
    """Computes one ``history_`` row per epoch of ``fit``.

    Parameters
    ----------
    model : BaseRBM
        The model being fitted (its parameters are read after each epoch).
    X_train : array or sparse matrix
        Training data, in the model's internal form.
    X_valid : array, sparse matrix or None
        Held-out data for the validation likelihood (early stopping).
    n_epochs : int
        Epochs planned.
    """

    COLUMNS = ("epoch", "seconds", "learning_rate", "momentum", "reconstruction_error",
               "free_energy_data", "free_energy_chains", "log_likelihood_train",
               "log_likelihood_validation", "swap_rate")

    def __init__(self, model, X_train, X_valid, n_epochs):
        self.model = model
        self.rows = X_train[:MONITOR_ROWS]
        self.epoch_rows = self.rows[:epoch_rows(X_train.shape[0])]
        self.X_valid = X_valid
        self.n_epochs = n_epochs
        self.start = time.perf_counter()
        self.history = {name: [] for name in self.COLUMNS}
        layer = model._layer()
        _, flops = exact_cost(model.components_.shape[1], model.n_components, layer)
        self.cheap_likelihood = flops <= CHEAP_EXACT_FLOPS
        self.rng = np.random.default_rng(0)
        self.swap_counts = model._swap_counts.copy()

    def likelihood_due(self, epoch):
        """Whether the likelihood is computed after this (0-based) epoch.

        At about ``LIKELIHOOD_CHECKS`` evenly spaced epochs and the last one,
        where an exact log Z is cheap or early stopping needs it.
        """
        if not (self.cheap_likelihood or self.X_valid is not None):
            return False
        every = max(1, self.n_epochs // LIKELIHOOD_CHECKS)
        return (epoch + 1) % every == 0 or epoch + 1 == self.n_epochs

    def _log_z(self):
        method = "exact" if self.cheap_likelihood else "ais"
        kwargs = {} if self.cheap_likelihood else MONITOR_AIS
        return self.model.log_partition(method=method, **kwargs)[0]

    def _chain_free_energy(self):
        """Mean free energy of visible states drawn from (some of) the persistent chains."""
        model = self.model
        H = model.h_samples_
        if model.method == "pt":  # the beta = 1 block
            H = H[: len(H) // model.n_temperatures]
        H = H[: self.epoch_rows.shape[0]]
        V = model._layer().sample(H @ model.components_ + model.intercept_visible_, self.rng)
        return float(np.mean(model._free_energy_given_field(V, model._hidden_field(V))))

    def _swap_rate(self):
        """Mean acceptance of the replica swaps proposed this epoch (NaN without PT)."""
        counts = self.model._swap_counts
        new = counts - self.swap_counts
        self.swap_counts = counts.copy()
        pairs = len(counts) // 2
        proposed = new[pairs:].sum()
        return float(new[:pairs].sum() / proposed) if proposed else math.nan

    def record(self, epoch, learning_rate, momentum):
        """Append the row of a finished epoch; returns it as a dict."""
        model = self.model
        # In the model's dtype, one hidden field for both figures.  These
        # NumPy products run on the BLAS the kernel shares (use_numpy_blas);
        # where the kernel fell back to SciPy's, two thread teams alternate.
        field = model._hidden_field(self.epoch_rows)
        row = {
            "epoch": epoch + 1,
            "seconds": time.perf_counter() - self.start,
            "learning_rate": learning_rate,
            "momentum": momentum,
            "reconstruction_error": model._reconstruction_error(self.epoch_rows, field),
            "free_energy_data": float(np.mean(
                model._free_energy_given_field(self.epoch_rows, field))),
            "free_energy_chains": self._chain_free_energy(),
            "log_likelihood_train": math.nan,
            "log_likelihood_validation": math.nan,
            "swap_rate": self._swap_rate(),
        }
        if self.likelihood_due(epoch):
            log_z = self._log_z()
            row["log_likelihood_train"] = float(-np.mean(model._free_energy(self.rows)) - log_z)
            if self.X_valid is not None:
                row["log_likelihood_validation"] = float(
                    -np.mean(model._free_energy(self.X_valid)) - log_z)
        for name in self.COLUMNS:
            self.history[name].append(row[name])
        return row


def format_epoch(name, row, n_epochs):
    """One line of verbose output for a history row."""
    parts = [f"[{name}] Iteration {row['epoch']}/{n_epochs}",
             f"reconstruction error = {row['reconstruction_error']:.4f}"]
    if not math.isnan(row["log_likelihood_train"]):
        parts.append(f"log-likelihood = {row['log_likelihood_train']:.3f}")
    if not math.isnan(row["log_likelihood_validation"]):
        parts.append(f"validation = {row['log_likelihood_validation']:.3f}")
    if not math.isnan(row["swap_rate"]):
        parts.append(f"swap rate = {row['swap_rate']:.2f}")
    parts.append(f"time = {row['seconds']:.2f}s")
    return ", ".join(parts)
