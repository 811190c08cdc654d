"""Learning-rate schedules and the per-epoch record of a fit (``history_``)."""

import math
import sys
import time

import numpy as np


#: The likelihood is recorded at about ``LIKELIHOOD_CHECKS`` evenly spaced
#: epochs (and the last), exactly or by a short AIS run, where early
#: stopping needs it or where it costs little (``likelihood_monitoring``).  Not every
#: epoch: on small data sets even a cheap exact log Z costs more than the
#: epoch itself.
LIKELIHOOD_CHECKS = 20
#: Floating-point operations of one pass per row and weight (four products
#: of the row with W or its transpose: hidden field, reconstruction, chain
#: update, gradient).
PASS_FLOPS_PER_WEIGHT = 8
#: Verbose output: at most this many seconds between in-place updates of a
#: terminal's progress line, and about this many plain lines per fit elsewhere.
PROGRESS_SECONDS = 0.25
PROGRESS_LINES = 5
#: A short AIS run for monitoring: noisy, but the same random numbers every
#: time, so successive epochs are compared on equal terms.
MONITOR_AIS = dict(n_chains=32, n_betas=500, random_state=0)
#: Floating-point operations per weight of one ``MONITOR_AIS`` run: two
#: products of each chain with W (or its transpose) per temperature.
MONITOR_AIS_FLOPS_PER_WEIGHT = 4 * MONITOR_AIS["n_chains"] * MONITOR_AIS["n_betas"]
#: Likelihood checks nobody asked for (no early stopping, no validation
#: data, not verbose) are made when they cost at most this share of the training between
#: two checks; monitoring then adds at most about 10% to a fit, and nothing
#: to a fit too short to afford it.
MONITOR_SHARE = 0.1
#: The fixed cost of one likelihood check beyond its arithmetic (the Python
#: and NumPy calls around it: about 0.2 ms, which a one-epoch fit of 50 rows
#: spends several times over on training), counted as floating-point
#: operations at the few GFLOP/s small NumPy products reach.
CHECK_OVERHEAD_FLOPS = 1e6
#: Most training rows and chains of the per-epoch figures (not of the
#: log-likelihoods: ``LIKELIHOOD_ROWS``).
MONITOR_ROWS = 512
#: A likelihood check scores every training row up to this many, else this
#: many evenly spaced ones (every k-th row: data sorted, for example by
#: class, is covered in proportion; the first 512 rows of the class-sorted
#: digits read 1 nat above score(X_train)).  One product per row per check:
#: every row of 60,000 made a fit with a check per epoch 38% slower; 4,096
#: cost about a fifteenth of that.
LIKELIHOOD_ROWS = 4096
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


def epoch_row_index(n_train):
    """The indices of the training rows of the per-epoch figures:
    ``epoch_rows(n_train)`` of them, evenly spaced from the first (the first
    64 of the class-sorted digits read their free energy 2.9 nats below the
    mean of every row)."""
    n_rows = epoch_rows(n_train)
    return np.arange(n_rows, dtype=np.intp) * n_train // max(n_rows, 1)


def likelihood_rows(n_train, most=None):
    """The slice of the training rows that a likelihood check scores: all of
    them up to ``LIKELIHOOD_ROWS`` (or ``most``, where fewer), else every
    k-th row, at most that many."""
    most = LIKELIHOOD_ROWS if most is None else max(1, min(LIKELIHOOD_ROWS, int(most)))
    return slice(None, None, max(1, -(-n_train // most)))


def likelihood_monitoring(exact_flops, n_train, n_weights, n_epochs, required):
    """How ``fit`` records the likelihood at its checks: "exact", "ais" or None.

    Parameters
    ----------
    exact_flops : float
        Floating-point operations of one exact log Z (``math.inf`` where
        the model is too large to enumerate).
    n_train, n_weights, n_epochs : int
        Training rows, weights of the model and epochs of the fit.
    required : bool
        Whether the likelihood is needed (early stopping, validation data)
        or asked for (a verbose fit).

    Returns
    -------
    str or None
        Unasked, the cheaper of an exact log Z and a short ``MONITOR_AIS``
        run where it costs at most ``MONITOR_SHARE`` of the training between
        two checks, fixed costs (``CHECK_OVERHEAD_FLOPS``) included, else
        None: monitoring costs nothing that was not asked for.  Required,
        exact where that costs at most the AIS run plus the training between
        two checks, else AIS.
    """
    # Not counted: a check's free energies of the training rows, one product
    # of each with W, against the 4 of a pass (and the chains' 10 per row of a
    # pass at the default 100 chains and batches of 20).
    epochs_per_check = epochs_between_checks(n_epochs)
    budget = MONITOR_SHARE * PASS_FLOPS_PER_WEIGHT * n_train * n_weights * epochs_per_check
    exact_cost = exact_flops + CHECK_OVERHEAD_FLOPS
    ais_cost = MONITOR_AIS_FLOPS_PER_WEIGHT * n_weights + CHECK_OVERHEAD_FLOPS
    # Required, an exact log Z may cost as much as the training between two
    # checks (the checks then at most double the fit): it is free of noise.
    if exact_cost <= max(budget, budget / MONITOR_SHARE + ais_cost if required else 0.0):
        return "exact"
    if required or ais_cost <= budget:
        return "ais"
    return None


def estimate_tag(estimate):
    """A short tag of how a log Z was obtained: "exact", "ais ± <standard error>",
    "ais ± ?" where too few effective runs leave no standard error, or
    "improper" where the model was shown to have none (log Z = +inf,
    ``rbm._properness``: a model between two of training's checks)."""
    if estimate.log_z == math.inf:
        return "improper"
    if estimate.is_exact:
        return "exact"
    return f"ais ± {estimate.std_error:.2g}" if math.isfinite(estimate.std_error) else "ais ± ?"


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
    so that 0.07 * 100 = 7.000000000000001 means 7 epochs, not 8; in
    Python floats, since a NumPy float16 ``warmup`` made the rounding NaN.)
    """
    warmup_epochs = math.ceil(round(float(warmup) * n_epochs, 9))
    return 0.0 if epoch < warmup_epochs else momentum


def likelihood_epoch(epoch, n_epochs):
    """Whether (0-based) ``epoch`` of ``n_epochs`` is one of the about
    ``LIKELIHOOD_CHECKS`` evenly spaced epochs, and the last, at which a fit
    records likelihoods where it records them at all."""
    every = epochs_between_checks(n_epochs)
    return (epoch + 1) % every == 0 or epoch + 1 == n_epochs


def epochs_between_checks(n_epochs):
    """Epochs from one likelihood check of a fit of ``n_epochs`` to the next
    (``likelihood_epoch``)."""
    return max(1, n_epochs // LIKELIHOOD_CHECKS)


class TrainingMonitor:
    """Keeps ``history_``: one row per epoch of ``fit``, from numbers it is given.

    The training loop asks ``likelihood_due`` whether to compute the
    log-likelihoods after an epoch, computes its figures and hands them to
    ``record``; the monitor never looks inside the model.

    Parameters
    ----------
    n_epochs : int
        Epochs planned.
    likelihood_checks : bool
        Whether log-likelihoods are recorded at all (where log Z is exact
        and cheap, a short AIS run costs little, or early stopping needs
        them).
    swap_counts : ndarray
        Replica-swap counts (accepted per pair, then proposed) before the
        first epoch; each row's swap rate is that of its epoch.
    """

    COLUMNS = ("epoch", "seconds", "learning_rate", "momentum", "reconstruction_error",
               "free_energy_data", "free_energy_chains", "log_likelihood_train",
               "log_likelihood_validation", "log_likelihood_method", "swap_rate")

    def __init__(self, n_epochs, likelihood_checks, swap_counts):
        self.n_epochs = n_epochs
        self.likelihood_checks = likelihood_checks
        self.start = time.perf_counter()
        self.history = {name: [] for name in self.COLUMNS}
        self.swap_counts = np.array(swap_counts, copy=True)

    def likelihood_due(self, epoch):
        """Whether the likelihood is computed after this (0-based) epoch.

        At about ``LIKELIHOOD_CHECKS`` evenly spaced epochs and the last one,
        where likelihoods are recorded at all.
        """
        return self.likelihood_checks and likelihood_epoch(epoch, self.n_epochs)

    def _swap_rate(self, counts):
        """Mean acceptance of the replica swaps proposed this epoch (NaN without PT)."""
        new = counts - self.swap_counts
        self.swap_counts = np.array(counts, copy=True)
        pairs = len(counts) // 2
        proposed = new[pairs:].sum()
        return float(new[:pairs].sum() / proposed) if proposed else math.nan

    def record(self, epoch, learning_rate, momentum, figures):
        """Append the row of a finished epoch; returns it as a dict.

        ``figures`` holds ``reconstruction_error``, ``free_energy_data``,
        ``free_energy_chains``, ``swap_counts`` and, where due, the
        ``log_likelihood_train`` and ``log_likelihood_validation`` with
        ``log_likelihood_method`` (``estimate_tag`` of their log Z; "" in
        rows without likelihoods).
        """
        row = {
            "epoch": epoch + 1,
            "seconds": time.perf_counter() - self.start,
            "learning_rate": learning_rate,
            "momentum": momentum,
            "reconstruction_error": figures["reconstruction_error"],
            "free_energy_data": figures["free_energy_data"],
            "free_energy_chains": figures["free_energy_chains"],
            "log_likelihood_train": figures.get("log_likelihood_train", math.nan),
            "log_likelihood_validation": figures.get("log_likelihood_validation", math.nan),
            "log_likelihood_method": figures.get("log_likelihood_method", ""),
            "swap_rate": self._swap_rate(figures["swap_counts"]),
        }
        for name in self.COLUMNS:
            self.history[name].append(row[name])
        return row


class EarlyStopping:
    """Stop when the validation log-likelihood stops improving; keep the best.

    Counts likelihood checks (not epochs) without an improvement of more than
    ``tol`` nats over the best so far.  After ``n_iter_no_change`` of them
    training does not stop at once: the learning rate falls linearly
    towards zero over the epochs up to the next check (``learning_rate``),
    and training stops at that check.  ``should_stop`` receives the learned
    arrays to copy when a check is the best so far; ``restore_best`` puts
    them back.

    Why the closing fall: a model trained by persistent chains at a large
    rate is a much poorer density than the same run with its rate brought
    down, because the chains follow the parameters and the parameters the
    chains.  Scored at such a rate, checks say little about where the
    run's rate-lowered end would stand, and a stop there kept a poor check
    (standardised breast cancer, GaussianBernoulliRBM at its defaults, on
    the three seeds of five where patience ran out: -28.6, -31.3 and -48.0
    nats per test row stopping at once, -21.3, -22.6 and -21.5 with the
    fall, -21.0, -21.4 and -20.7 for the full fit; see the section on
    ``early_stopping.py`` in benchmarks/README.md).

    Parameters
    ----------
    tol : float
        Smallest improvement, in nats, that counts.
    n_iter_no_change : int
        Checks without one before the closing fall starts.
    n_epochs : int
        Epochs of the fit: the fall lasts ``epochs_between_checks(n_epochs)``
        epochs, fewer where the fit ends sooner.
    """

    def __init__(self, tol, n_iter_no_change, n_epochs):
        self.tol = tol
        self.n_iter_no_change = n_iter_no_change
        self.n_epochs = n_epochs
        self.best_score = -math.inf
        self.best_state = None
        self.best_epoch = None
        self.checks_without_improvement = 0
        self.closing = False  # patience has run out: the rate falls to the next check
        self.fall = None  # (first epoch, its scheduled rate, epochs) once it started

    def learning_rate(self, epoch, scheduled):
        """The rate of (0-based) ``epoch``: ``scheduled`` until patience has run
        out; then, from the next epoch's scheduled rate r, r (n - k) / (n + 1)
        in the k-th epoch (from 0) of the n epochs to the next check (so a
        fall of one epoch halves the rate)."""
        if not self.closing:
            return scheduled
        if self.fall is None:
            length = min(epochs_between_checks(self.n_epochs), self.n_epochs - epoch)
            self.fall = (epoch, scheduled, length)
        return self.fall_rate(epoch)

    def fall_rate(self, epoch):
        """The closing fall's rate in (0-based) ``epoch``, or None where the fall
        had not started by then."""
        if self.fall is None or epoch < self.fall[0]:
            return None
        first, rate, length = self.fall
        return rate * (length - (epoch - first)) / (length + 1)

    def should_stop(self, row, learned_arrays):
        """Whether to stop after this history row (of a 1-based ``epoch`` of
        this fit): at the end of the closing fall, which is a check."""
        score = row["log_likelihood_validation"]
        if not math.isnan(score) and not self.closing:
            self._count(score, row, learned_arrays)
            self.closing = self.checks_without_improvement >= self.n_iter_no_change
            return False
        if not math.isnan(score):  # the check that ends the fall
            self._count(score, row, learned_arrays)
        # (ended by its epochs, even should its check score NaN)
        return self.fall is not None and row["epoch"] >= self.fall[0] + self.fall[2]

    def _count(self, score, row, learned_arrays):
        """Take a check's score: count it towards patience, keep it if best."""
        if score > self.best_score + self.tol:
            self.checks_without_improvement = 0
        else:
            self.checks_without_improvement += 1
        if score > self.best_score:
            self.best_score = score
            self.best_state = [a.copy() for a in learned_arrays]
            self.best_epoch = row["epoch"]

    def ends_at_divergence(self):
        """Whether a pass that diverged ends the fit at the best check (rather
        than raising): in the closing fall, once some check was kept.  The
        fall comes after checks that did not improve, and a stop there would
        have returned the same parameters."""
        return self.closing and self.best_state is not None

    def restore_best(self, learned_arrays):
        """Put the best check's arrays back; False if there was none."""
        if self.best_state is None:
            return False
        for array, saved in zip(learned_arrays, self.best_state):
            array[...] = saved
        return True


def format_epoch(name, row, n_epochs):
    """One line of verbose output for a history row."""
    parts = [f"[{name}] Iteration {row['epoch']}/{n_epochs}",
             f"reconstruction error = {row['reconstruction_error']:.4f}"]
    if not math.isnan(row["log_likelihood_train"]):
        parts.append(f"log-likelihood = {row['log_likelihood_train']:.3f}")
    if not math.isnan(row["log_likelihood_validation"]):
        parts.append(f"validation = {row['log_likelihood_validation']:.3f}")
    if row["log_likelihood_method"]:
        parts.append(f"log Z {row['log_likelihood_method']}")
    if not math.isnan(row["swap_rate"]):
        parts.append(f"swap rate = {row['swap_rate']:.2f}")
    parts.append(f"time = {row['seconds']:.2f}s")
    return ", ".join(parts)


class ProgressLine:
    """``verbose=1``: one progress line per fit.

    On a terminal the line is rewritten in place (carriage return) at most
    every ``PROGRESS_SECONDS`` and ended by ``finish``; elsewhere (a file, a
    pipe, a notebook's captured output) about ``PROGRESS_LINES`` plain
    lines are written.  It shows only numbers the fit already has: epoch
    of planned epochs, minibatch updates per second, the latest recorded
    log-likelihood with how its log Z was obtained, and the time left.

    Parameters
    ----------
    name : str
        The estimator's class name, at the start of the line.
    n_epochs : int
        Epochs planned.
    updates_per_epoch : int
        Minibatch updates in one epoch.
    stream : file-like, optional
        Where to write; ``sys.stdout`` at construction by default.
    """

    def __init__(self, name, n_epochs, updates_per_epoch, stream=None):
        self.name = name
        self.n_epochs = n_epochs
        self.updates_per_epoch = updates_per_epoch
        self.stream = sys.stdout if stream is None else stream
        isatty = getattr(self.stream, "isatty", None)
        self.in_place = bool(isatty()) if callable(isatty) else False
        self.plain_every = max(1, n_epochs // PROGRESS_LINES)
        self.likelihood = None
        self.last_write = -math.inf
        self.text = ""

    def update(self, row):
        """Take a history row; write the line when due."""
        for column in ("log_likelihood_validation", "log_likelihood_train"):
            if not math.isnan(row[column]):
                label = "validation" if column.endswith("validation") else "training"
                self.likelihood = (label, row[column], row["log_likelihood_method"])
                break
        self.text = self._line(row)
        epoch = row["epoch"]
        if self.in_place:
            now = time.perf_counter()
            if now - self.last_write >= PROGRESS_SECONDS or epoch == self.n_epochs:
                self.stream.write("\r" + self.text)
                self.stream.flush()
                self.last_write = now
        elif epoch == 1 or epoch % self.plain_every == 0 or epoch == self.n_epochs:
            self.stream.write(self.text + "\n")
            self.stream.flush()

    def finish(self):
        """End the line on a terminal (also when the fit stopped early)."""
        if self.in_place and self.text:
            self.stream.write("\r" + self.text + "\n")
            self.stream.flush()

    def _line(self, row):
        epoch, seconds = row["epoch"], row["seconds"]
        parts = [f"[{self.name}] epoch {epoch}/{self.n_epochs}"]
        if seconds > 0:
            parts.append(f"{epoch * self.updates_per_epoch / seconds:,.0f} updates/s")
        if self.likelihood is not None:
            label, value, method = self.likelihood
            parts.append(f"{label} log-likelihood {value:.3f} ({method})")
        left = seconds / epoch * (self.n_epochs - epoch)
        parts.append(f"{_duration(left)} left")
        return ", ".join(parts)


def _duration(seconds):
    """Seconds as "42 s", "3 min 5 s" or "1 h 02 min"."""
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"
