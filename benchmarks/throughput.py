"""Training throughput of rbm's RBMs against scikit-learn, PyTorch and a BLAS floor.

Four columns are timed side by side, in one process, per configuration:

* **ours**: ``rbm.BernoulliRBM(...).fit(X)`` (or ``GaussianBernoulliRBM`` /
  ``CategoricalRBM`` for those rows), the whole call.
* **sklearn**: ``sklearn.neural_network.BernoulliRBM(...).fit(X)`` with the
  same settings (PCD-1 only: scikit-learn has no CD and no ``k``).
* **torch**: a plain PyTorch CPU training loop (CD-k / PCD-k, the same
  products and updates written the obvious way), where torch is installed.
* **BLAS floor**: only the matrix products of each minibatch's update,
  issued through NumPy into preallocated outputs, looped over every
  minibatch.  No sampling, no sigmoids, no updates: a training loop built
  on these BLAS calls cannot be faster, so ``ours / floor`` says how close
  the estimator gets to that arithmetic.  (For small models the kernel
  replaces some products with its own loops, so it can pass 1.0.)

Throughput is samples per second: ``n_samples * epochs / seconds``.  Each
measurement is calibrated to last about ``--target-seconds``, preceded by a
warm-up, and the minimum of ``--repeats`` runs is kept (run-to-run noise on
shared machines is 5-10%, and noise only ever adds time).  The repeats go
round the contenders in turn, so a slow spell of the machine (seen here:
whole minutes 20-40% slower) falls on every contender of a row alike, and
each timed run starts after a pause of ``QUIET_SECONDS``, by which the
BLAS threads of the contender before it have stopped spinning.  Run
it on an otherwise idle machine: on few cores, other busy processes distort
the numbers far beyond their own CPU share.

Four more reports (all in ``--full`` and ``--quick``, or one by one: a report
option alone runs only that report, ``--grid`` adds the default grid):

* ``--cd-linearity``: time per CD-k update for k in 1, 2, 5, 10 at 784x500,
  batch 100, float32, for ours and the floor; the ratio of the fitted slopes
  says what each extra Gibbs step costs beyond its products.
* ``--memory``: peak memory of one epoch of ``fit`` on a 60,000 x 784
  float32 array (dense and CSR; 6,000 rows with ``--quick``), 500 hidden
  units, each in a fresh subprocess (traced NumPy allocations and the peak
  resident set).
* ``--ais``: AIS log Z of a 784 x 500 model, 100 chains, timed against
  the products AIS must do per temperature; ``--ais-betas`` runs fewer
  temperatures and extrapolates to 10,000.
* ``--hidden-types``: ``BernoulliRBM.fit`` with each hidden-unit type
  (binary, Gaussian, ReLU, dReLU) at 784x500 float32 batch 100 and 64x64
  float64 batch 10, PCD-1, each type's time as a multiple of the binary
  fit's in the same run (issue 19: dReLU at most 2x), and the time of one
  monitoring AIS run (``MONITOR_AIS``) on each type's model, likewise.

Run from the repository root (``rbm`` must be importable)::

    PYTHONPATH=. python benchmarks/throughput.py              # acceptance configs
    PYTHONPATH=. python benchmarks/throughput.py --full       # the whole grid and reports
    PYTHONPATH=. python benchmarks/throughput.py --quick      # smoke test of everything, short runs
    PYTHONPATH=. python benchmarks/throughput.py --memory     # one report alone
    PYTHONPATH=. python benchmarks/throughput.py --threads 1  # one thread everywhere
"""

import argparse
import contextlib
import datetime
import gc
import inspect
import json
import math
import os
import platform
import subprocess
import sys
import time
import tracemalloc
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from _common import positive_int, rbm_source
from _resident import reset_peak_rss, status_bytes
import scipy
import sklearn
import threadpoolctl
from sklearn.neural_network import BernoulliRBM as SklearnRBM

import rbm

try:
    import torch
except ImportError:  # the torch column is skipped
    torch = None

DEFAULT_OUTPUT = Path(__file__).resolve().parent / "results" / "throughput.md"

#: Environment variables that change how BLAS or OpenMP behave.  We never
#: set them, only record them, because they explain differences between runs.
_ENV_PREFIXES = ("OPENBLAS_", "OMP_", "MKL_", "GOTO", "BLIS_", "VECLIB_", "NVPL_")


@dataclass(frozen=True)
class Config:
    """One benchmark configuration: model, shape, minibatch and training method.

    For categorical models ``n_visible`` counts sites, each with ``n_states``
    categories; their products run on the one-hot layer of
    ``n_visible * n_states`` columns.
    """

    n_visible: int
    n_hidden: int
    batch_size: int
    dtype: str
    method: str  # "pcd" or "cd"
    k: int
    n_samples: int
    kind: str = "bernoulli"  # "bernoulli", "gaussian" or "categorical"
    n_states: int = 2

    @property
    def shape(self):
        if self.kind == "categorical":
            return f"{self.n_visible}x{self.n_states}x{self.n_hidden}"
        return f"{self.n_visible}x{self.n_hidden}"

    @property
    def product_width(self):
        """Visible columns of the matrix products (one-hot for categorical)."""
        return self.n_visible * self.n_states if self.kind == "categorical" else self.n_visible

    @property
    def method_label(self):
        return f"{self.method.upper()}-{self.k}"

    def describe(self):
        return (f"{self.kind} {self.shape}, batch {self.batch_size}, {self.dtype}, "
                f"{self.method_label}")


#: The two configurations whose figures are the acceptance criteria.
ACCEPTANCE = (
    Config(64, 64, 10, "float64", "pcd", 1, n_samples=10_000),
    Config(784, 500, 100, "float32", "pcd", 1, n_samples=5_000),
)

#: Bernoulli shapes of --full (issue 6): (V, H, batch sizes, n_samples).
#: 500 x 2000 uses fewer samples: one CD-10 epoch there is already seconds.
BERNOULLI_SHAPES = (
    (64, 64, (10, 100), 10_000),
    (784, 500, (100, 1000), 5_000),
    (500, 2000, (1000,), 2_000),
)

#: The other visible types (issue 6): Gaussian 784 x 500, and categorical
#: 27 sites x 20 states (lattice proteins) x 100 hidden.  Both at batch 100.
OTHER_MODELS = (
    dict(kind="gaussian", n_visible=784, n_hidden=500, n_samples=5_000),
    dict(kind="categorical", n_visible=27, n_states=20, n_hidden=100, n_samples=10_000),
)

#: rbm class behind each kind; a kind whose class is missing is skipped.
MODEL_CLASSES = {
    "bernoulli": "BernoulliRBM",
    "gaussian": "GaussianBernoulliRBM",
    "categorical": "CategoricalRBM",
}

#: Learning rates that keep each kind finite on its random data
#: (Gaussian units with learned variances need a small one).
LEARNING_RATES = {"bernoulli": 0.01, "gaussian": 0.001, "categorical": 0.01}

METHODS = (("pcd", 1), ("cd", 10))


def default_grid():
    """The acceptance configurations and one PCD-1 float32 row per other model."""
    others = [Config(batch_size=100, dtype="float32", method="pcd", k=1, **model)
              for model in OTHER_MODELS]
    return list(ACCEPTANCE) + others


def full_grid():
    """Every configuration of ``--full``, the acceptance ones first."""
    grid = list(ACCEPTANCE)
    for n_visible, n_hidden, batches, n_samples in BERNOULLI_SHAPES:
        for batch_size in batches:
            for dtype in ("float64", "float32"):
                for method, k in METHODS:
                    config = Config(n_visible, n_hidden, batch_size, dtype, method, k, n_samples)
                    if config not in grid:
                        grid.append(config)
    for model in OTHER_MODELS:
        for dtype in ("float64", "float32"):
            for method, k in METHODS:
                grid.append(Config(batch_size=100, dtype=dtype, method=method, k=k, **model))
    return grid


# ----------------------------------------------------------------------
# Timing
# ----------------------------------------------------------------------


#: Pause before each timed run of ``interleaved_samples_per_second``.  After a
#: multi-threaded product NumPy's OpenBLAS keeps its idle workers spinning
#: for 2**28 clock ticks (about 0.1 s; ``OPENBLAS_THREAD_TIMEOUT``), and
#: a contender timed inside that window shares the cores with them: ours,
#: run right after the floor, lost 50-90 ms of a 1 s run at 784 x 500 on 2
#: cores (0.74-0.77 of the floor against 0.87-0.98 after a pause, the same
#: session).  Every contender starts its timed runs from that quiet state;
#: what the spin costs a user is in benchmarks/README.md ("Idle BLAS
#: workers").
QUIET_SECONDS = 0.3


def _seconds(run, epochs):
    start = time.perf_counter()
    run(epochs)
    return time.perf_counter() - start


def _seconds_from_quiet(run, epochs):
    """``_seconds`` after ``QUIET_SECONDS`` of sleep, so that no thread left
    spinning by the previous contender is timed with this one."""
    time.sleep(QUIET_SECONDS)
    return _seconds(run, epochs)


def calibrate_epochs(run, target_seconds):
    """Warm ``run`` up, then pick the number of epochs that lasts ~target_seconds.

    The first call (one epoch) is a pure warm-up: it pays for thread-pool
    start-up and first-touch page faults.  The estimate then doubles the
    epochs until a run lasts long enough (0.1 s) to extrapolate from.
    """
    run(1)
    epochs = 1
    elapsed = _seconds(run, epochs)
    while elapsed < 0.1:
        epochs *= 2
        elapsed = _seconds(run, epochs)
    return max(1, round(epochs * target_seconds / elapsed))


def interleaved_samples_per_second(runs, epochs, n_samples, repeats):
    """Throughput of each ``run(epochs[name])`` in ``runs`` (dicts): best of ``repeats``.

    The repeats go round the contenders in turn (ours, sklearn, torch,
    floor, ours, ...), so a slow spell of a shared machine falls on all of
    them alike instead of on whichever was being timed, and the ratios
    between them stay honest.  Each timed run starts after a pause
    (``QUIET_SECONDS``).  ``epochs`` comes from ``calibrate_epochs``.
    """
    best = {name: math.inf for name in runs}
    for _ in range(repeats):
        for name, run in runs.items():
            best[name] = min(best[name], _seconds_from_quiet(run, epochs[name]))
    return {name: n_samples * epochs[name] / best[name] for name in runs}


# ----------------------------------------------------------------------
# The contenders.  Each takes (config, X, n_jobs) and returns run(epochs),
# or an Unavailable saying why it cannot run the configuration; only ours
# (and torch) have a thread knob, the others take it for a uniform signature.
# ----------------------------------------------------------------------


@dataclass(frozen=True)
class Unavailable:
    """Why a contender has no number for a configuration (printed under the table)."""

    reason: str


def make_data(config):
    """Random training data of the configuration's kind and dtype.

    Bernoulli: 0/1 values; Gaussian: standard normal values; categorical:
    integer codes in [0, n_states) of shape (n_samples, sites).
    """
    rng = np.random.default_rng(0)
    shape = (config.n_samples, config.n_visible)
    if config.kind == "gaussian":
        return rng.standard_normal(shape).astype(config.dtype)
    if config.kind == "categorical":
        return rng.integers(0, config.n_states, size=shape)
    return (rng.random(shape) < 0.5).astype(config.dtype)


def _ours_blas():
    """Which BLAS the kernel calls: NumPy's OpenBLAS unless SciPy's is forced.

    A build from before ``kernel_settings`` (with the ``use_numpy_blas``
    switch) says which it found, so that this script can time both builds
    (``compare_builds.py`` runs one copy of it against two).
    """
    settings = getattr(rbm._gibbs, "kernel_settings_now", None)
    if settings is not None:
        if settings()["numpy_blas"]:
            return "NumPy's OpenBLAS"
        return "scipy.linalg.cython_blas (kernel_settings(numpy_blas=False))"
    path = rbm._gibbs.use_numpy_blas()
    return f"NumPy's OpenBLAS ({Path(path).name})" if path else "scipy.linalg.cython_blas"


def _parameters(cls):
    return set(inspect.signature(cls).parameters)


def ours_runner(config, X, n_jobs=None):
    """``fit`` of rbm's class for the kind (n_chains defaults to batch_size, like sklearn).

    Parameters a class does not (yet) accept are left out; a configuration
    that needs one (CD or k > 1 without ``method`` / ``k``) is unavailable.
    A categorical model takes its dtype from a ``dtype`` parameter where it
    has one (integer input says nothing about it).
    """
    name = MODEL_CLASSES[config.kind]
    cls = getattr(rbm, name, None)
    if cls is None:
        return Unavailable(f"rbm has no {name} yet")
    accepted = _parameters(cls)
    # scikit-learn's algorithm, so both do the same work per update: as many
    # persistent chains as rows in a batch, no momentum, no weight decay
    # (the library's own defaults keep 100 chains and use both).
    params = dict(n_components=config.n_hidden, batch_size=config.batch_size,
                  learning_rate=LEARNING_RATES[config.kind], random_state=0,
                  n_chains=None, momentum=0.0, weight_decay=0.0)
    optional = dict(method=config.method, k=config.k, n_jobs=n_jobs)
    if config.kind == "categorical":
        optional["dtype"] = config.dtype
    for key, value in optional.items():
        if key in accepted:
            params[key] = value
        elif key in ("method", "k") and (config.method, config.k) != ("pcd", 1):
            return Unavailable(f"{name} has no {key!r} parameter")

    def run(epochs):
        cls(n_iter=epochs, **params).fit(X)

    return run


def sklearn_runner(config, X, n_jobs=None):
    """scikit-learn's ``BernoulliRBM.fit`` on X; it implements PCD-1 only."""
    if config.kind != "bernoulli":
        return Unavailable("scikit-learn has Bernoulli RBMs only")
    if (config.method, config.k) != ("pcd", 1):
        return Unavailable("scikit-learn implements PCD-1 only")

    def run(epochs):
        SklearnRBM(
            n_components=config.n_hidden, batch_size=config.batch_size, n_iter=epochs,
            learning_rate=0.01, random_state=0,
        ).fit(X)

    return run


def torch_runner(config, X, n_jobs=None):
    """A plain PyTorch CPU loop of CD-k / PCD-k: what a user would write.

    Per minibatch: the data's hidden probabilities, k block-Gibbs steps of
    the chains (persistent hidden states for PCD, restarted from the data's
    sampled hidden states for CD), then the weight update as two in-place
    ``addmm_`` and the bias updates; rows reshuffled every epoch.  Same
    learning rate as the others, no momentum, as many chains as rows.
    """
    if torch is None:
        return Unavailable("torch is not installed")
    if config.kind != "bernoulli":
        return Unavailable("the torch loop covers Bernoulli RBMs only")
    if n_jobs is not None:
        torch.set_num_threads(n_jobs)
    dtype = getattr(torch, config.dtype)
    data = torch.from_numpy(np.ascontiguousarray(X)).to(dtype)
    n_samples, n_visible = data.shape
    B, H, k, persistent = config.batch_size, config.n_hidden, config.k, config.method == "pcd"
    learning_rate = 0.01

    def run(epochs):
        with torch.no_grad():
            gen = torch.Generator().manual_seed(0)
            W = 0.01 * torch.randn(H, n_visible, generator=gen, dtype=dtype)
            b = torch.zeros(n_visible, dtype=dtype)
            c = torch.zeros(H, dtype=dtype)
            chains = torch.zeros(B, H, dtype=dtype)
            for _ in range(epochs):
                order = torch.randperm(n_samples, generator=gen)
                for start in range(0, n_samples, B):
                    v0 = data[order[start:start + B]]
                    rows = v0.shape[0]
                    p0 = torch.sigmoid(torch.addmm(c, v0, W.T))
                    h = chains[:rows] if persistent else torch.bernoulli(p0, generator=gen)
                    for _ in range(k):
                        v = torch.bernoulli(torch.sigmoid(torch.addmm(b, h, W)), generator=gen)
                        p = torch.sigmoid(torch.addmm(c, v, W.T))
                        h = torch.bernoulli(p, generator=gen)
                    if persistent:
                        chains[:rows] = h
                    step = learning_rate / rows
                    W.addmm_(p0.T, v0, alpha=step).addmm_(p.T, v, alpha=-step)
                    b.add_(v0.sum(0) - v.sum(0), alpha=step)
                    c.add_(p0.sum(0) - p.sum(0), alpha=step)

    return run


def floor_products(config):
    """The (a, b, out) operands of every matrix product of one minibatch.

    Buffers mirror the kernel's: VS stacks [data; chain] visible rows
    (2B x V), HS the matching hidden rows (2B x H), Hc the chains' hidden
    samples (B x H), G the weight gradient (H x V).  V is the width of the
    visible layer in the products (sites x states, one-hot, for categorical
    models); Gaussian visibles have the same products as Bernoulli ones.

    PCD-k: k visible fields of the chains, k - 1 hidden fields of the
    chains, one hidden field of the stacked rows, one weight gradient.
    CD-k: the data's hidden field, k pairs of (visible field, hidden field)
    of the chains, one weight gradient.
    """
    B, V, H = config.batch_size, config.product_width, config.n_hidden
    rng = np.random.default_rng(0)
    # Binary states and small weights: the values the real loop sees, so no
    # denormals or special values that could change BLAS speed.
    W = (0.01 * rng.standard_normal((H, V))).astype(config.dtype)
    VS = (rng.random((2 * B, V)) < 0.5).astype(config.dtype)
    HS = rng.random((2 * B, H)).astype(config.dtype)
    Hc = (rng.random((B, H)) < 0.5).astype(config.dtype)
    G = np.empty((H, V), dtype=config.dtype)

    data, chains = slice(0, B), slice(B, 2 * B)
    visible_field = (Hc, W, VS[chains])        # (B x H) @ W
    chain_hidden = (VS[chains], W.T, HS[chains])  # (B x V) @ W.T
    gradient = (HS.T, VS, G)                   # (H x 2B) @ (2B x V)

    if config.method == "pcd":
        stacked_hidden = (VS, W.T, HS)         # (2B x V) @ W.T
        steps = [visible_field, chain_hidden] * (config.k - 1) + [visible_field]
        return steps + [stacked_hidden, gradient]
    data_hidden = (VS[data], W.T, HS[data])    # (B x V) @ W.T
    return [data_hidden] + [visible_field, chain_hidden] * config.k + [gradient]


def floor_runner(config, X, n_jobs=None):
    """NumPy matmuls of every minibatch of an epoch, nothing else."""
    products = floor_products(config)
    n_batches = math.ceil(config.n_samples / config.batch_size)
    matmul = np.matmul

    def run(epochs):
        for _ in range(epochs * n_batches):
            for a, b, out in products:
                matmul(a, b, out=out)

    return run


CONTENDERS = (("ours", ours_runner), ("sklearn", sklearn_runner), ("torch", torch_runner),
              ("floor", floor_runner))


def thread_limit(threads):
    """Context capping every BLAS and OpenMP pool at ``threads`` (None: no cap).

    Without a cap each library runs at its own default, which is what users
    get; with one, all contenders use the same number of threads.
    """
    if threads is None:
        return contextlib.nullcontext()
    return threadpoolctl.threadpool_limits(limits=threads)


def measure(config, target_seconds, repeats, threads=None):
    """(samples/s of each contender, {contender: reason}) on one configuration.

    ``threads`` is passed to ours as ``n_jobs`` and to torch; sklearn and
    the floor have no such knob and get it from ``thread_limit`` (the
    caller's).  A contender that raises (for example a model class added
    concurrently whose constructor differs from the one assumed here) gets
    no number and a note, so one broken row does not lose the run.
    """
    X = make_data(config)
    runs, epochs, notes = {}, {}, {}
    for name, make_runner in CONTENDERS:
        try:
            run = make_runner(config, X, n_jobs=threads)
            if isinstance(run, Unavailable):
                notes[name] = run.reason
            else:
                # Calibration runs it first: a contender that fails does so
                # here, alone, not in the middle of the interleaved timing.
                epochs[name] = calibrate_epochs(run, target_seconds)
                runs[name] = run
        except Exception as error:  # noqa: BLE001 - reported, not hidden
            notes[name] = f"failed: {type(error).__name__}: {str(error).splitlines()[0][:160]}"
    rates = dict.fromkeys((name for name, _ in CONTENDERS), None)
    rates.update(interleaved_samples_per_second(runs, epochs, config.n_samples, repeats))
    for name in rates:
        print(f"  {name:8s} {_rate(rates[name]):>14s} samples/s"
              f"{'  (' + notes[name] + ')' if name in notes else ''}",
              file=sys.stderr, flush=True)
    return rates, notes


# ----------------------------------------------------------------------
# CD-k linearity: what one more Gibbs step costs, ours against the floor
# ----------------------------------------------------------------------

LINEARITY_KS = (1, 2, 5, 10)


def cd_linearity(target_seconds, repeats, threads):
    """Seconds per CD-k update at 784x500, batch 100, float32 for each k, ours and floor.

    Returns ({k: {contender: seconds per update}}, {contender: (slope, intercept)}),
    the straight line fitted by least squares to seconds against k.
    """
    per_update = {}
    for k in LINEARITY_KS:
        config = Config(784, 500, 100, "float32", "cd", k, n_samples=5_000)
        print(f"CD-k linearity: {config.describe()}", file=sys.stderr, flush=True)
        X = make_data(config)
        n_updates = math.ceil(config.n_samples / config.batch_size)
        runs = {name: make_runner(config, X, n_jobs=threads)
                for name, make_runner in (("ours", ours_runner), ("floor", floor_runner))}
        epochs = {name: calibrate_epochs(run, target_seconds) for name, run in runs.items()}
        rates = interleaved_samples_per_second(runs, epochs, config.n_samples, repeats)
        per_update[k] = {name: config.n_samples / rate / n_updates
                         for name, rate in rates.items()}
    ks = np.array(LINEARITY_KS, dtype=float)
    lines = {name: tuple(np.polyfit(ks, [per_update[k][name] for k in LINEARITY_KS], 1))
             for name in ("ours", "floor")}
    return per_update, lines


def linearity_table(per_update, lines):
    rows = ["| k | ours (µs/update) | floor (µs/update) | fraction of floor |",
            "|---:|---:|---:|---:|"]
    for k, times in per_update.items():
        rows.append(f"| {k} | {1e6 * times['ours']:,.0f} | {1e6 * times['floor']:,.0f} "
                    f"| {times['floor'] / times['ours']:.2f} |")
    (ours_slope, ours_icpt), (floor_slope, floor_icpt) = lines["ours"], lines["floor"]
    rows += [
        "",
        f"Least-squares line, µs per update = slope * k + intercept: ours "
        f"{1e6 * ours_slope:,.0f} * k + {1e6 * ours_icpt:,.0f}; floor "
        f"{1e6 * floor_slope:,.0f} * k + {1e6 * floor_icpt:,.0f}. "
        f"Ratio of slopes ours / floor: **{ours_slope / floor_slope:.2f}** "
        "(1.0: each extra Gibbs step costs ours no more than its two products).",
    ]
    return "\n".join(rows)


# ----------------------------------------------------------------------
# Hidden-unit types: each fit's cost as a multiple of the binary fit's
# ----------------------------------------------------------------------

HIDDEN_TYPES = ("bernoulli", "gaussian", "relu", "drelu")
#: (n_visible, n_hidden, batch, dtype, n_samples): a large model, where the
#: products dominate, and a small one, where per-element work does.
HIDDEN_TYPE_SHAPES = ((784, 500, 100, "float32", 5_000), (64, 64, 10, "float64", 2_000))


def hidden_type_runner(config, hidden, X, n_jobs=None):
    """``BernoulliRBM(hidden=hidden).fit(X)`` with the throughput rows' settings
    (PCD-1, as many chains as rows in a batch, no momentum, no weight decay)."""
    params = dict(n_components=config.n_hidden, batch_size=config.batch_size,
                  learning_rate=LEARNING_RATES["bernoulli"], random_state=0, n_chains=None,
                  momentum=0.0, weight_decay=0.0, n_jobs=n_jobs, hidden=hidden)

    def run(epochs):
        rbm.BernoulliRBM(n_iter=epochs, **params).fit(X)

    return run


def hidden_type_costs(target_seconds, repeats, threads):
    """{shape: {hidden type: seconds per epoch}}, the types timed in turn (min of repeats)."""
    costs = {}
    for n_visible, n_hidden, batch, dtype, n_samples in HIDDEN_TYPE_SHAPES:
        config = Config(n_visible, n_hidden, batch, dtype, "pcd", 1, n_samples)
        print(f"hidden types: {config.describe()}", file=sys.stderr, flush=True)
        X = make_data(config)
        runs = {hidden: hidden_type_runner(config, hidden, X, threads) for hidden in HIDDEN_TYPES}
        epochs = {name: calibrate_epochs(run, target_seconds) for name, run in runs.items()}
        rates = interleaved_samples_per_second(runs, epochs, n_samples, repeats)
        costs[config.describe()] = {name: n_samples / rate for name, rate in rates.items()}
    return costs


def hidden_type_ais_costs(repeats, threads):
    """{shape: {hidden type: seconds}} of one monitoring AIS run (``MONITOR_AIS``:
    what an unasked likelihood check of ``fit`` costs) on a model of each type
    fitted for 2 epochs, log Z's cache cleared before each run (min of repeats)."""
    from rbm._monitor import MONITOR_AIS
    costs = {}
    for n_visible, n_hidden, batch, dtype, n_samples in HIDDEN_TYPE_SHAPES:
        config = Config(n_visible, n_hidden, batch, dtype, "pcd", 1, n_samples)
        X = make_data(config)
        seconds = {}
        for hidden in HIDDEN_TYPES:
            model = rbm.BernoulliRBM(n_components=n_hidden, batch_size=batch, n_iter=2,
                                     learning_rate=LEARNING_RATES["bernoulli"], random_state=0,
                                     n_jobs=threads, hidden=hidden).fit(X)
            best = math.inf
            for _ in range(repeats):
                model._training.log_partition_cache.clear()
                start = time.perf_counter()
                model._log_partition(method="ais", **MONITOR_AIS)
                best = min(best, time.perf_counter() - start)
            seconds[hidden] = best
        costs[config.describe()] = seconds
    return costs


def hidden_types_table(costs, unit="s/epoch"):
    rows = ["| shape | " + " | ".join(f"{hidden} ({unit})" for hidden in HIDDEN_TYPES)
            + " | " + " | ".join(f"{hidden} / binary" for hidden in HIDDEN_TYPES[1:]) + " |",
            "|---|" + "---:|" * (2 * len(HIDDEN_TYPES) - 1)]
    for shape, seconds in costs.items():
        binary = seconds["bernoulli"]
        rows.append(f"| {shape} | " + " | ".join(f"{seconds[h]:.4g}" for h in HIDDEN_TYPES)
                    + " | " + " | ".join(f"{seconds[h] / binary:.2f}x" for h in HIDDEN_TYPES[1:])
                    + " |")
    return "\n".join(rows)


# ----------------------------------------------------------------------
# Peak memory of fit, each layout in a fresh subprocess
# ----------------------------------------------------------------------

MEMORY_ROWS, MEMORY_FEATURES, MEMORY_HIDDEN = 60_000, 784, 500
#: Rows of --quick's memory input: a smoke test of the children, not issue 6's figure.
MEMORY_ROWS_QUICK = 6_000
#: Fraction of ones in the memory test's input (about MNIST's).
MEMORY_DENSITY = 0.2
#: Issue 6: fit may use at most the input plus this much.
MEMORY_ALLOWANCE = 64 * 2**20
MEMORY_LAYOUTS = ("dense", "csr")


def memory_input(layout, rows=MEMORY_ROWS, chunk_rows=5_000):
    """The ``rows`` x 784 float32 binary input, dense or CSR, built in row chunks.

    Chunks keep the construction's own peak small; the peak that matters
    is measured after a reset anyway.
    """
    import scipy.sparse as sp

    rng = np.random.default_rng(0)
    chunks = []
    dense = np.empty((rows, MEMORY_FEATURES), dtype=np.float32) if layout == "dense" else None
    for start in range(0, rows, chunk_rows):
        block = (rng.random((min(chunk_rows, rows - start), MEMORY_FEATURES),
                            dtype=np.float32) < MEMORY_DENSITY).astype(np.float32)
        if dense is not None:
            dense[start:start + block.shape[0]] = block
        else:
            chunks.append(sp.csr_matrix(block))
    return dense if dense is not None else sp.vstack(chunks, format="csr")


def _input_bytes(X):
    if hasattr(X, "indptr"):
        return X.data.nbytes + X.indices.nbytes + X.indptr.nbytes
    return X.nbytes


def memory_child(layout, threads=None, rows=MEMORY_ROWS):
    """Run in a fresh interpreter: one epoch of fit on the memory input; print JSON.

    A small fit first loads the BLAS buffers and thread pools, so they are
    not counted.  Then two measures of what fit adds on top of its input:
    NumPy's allocations as traced by tracemalloc (exact, but blind to
    memory allocated in C outside NumPy), and the growth of the peak
    resident set (everything, but page-granular and including any libraries
    touched for the first time).
    """
    X = memory_input(layout, rows)
    params = dict(n_components=MEMORY_HIDDEN, batch_size=100, learning_rate=0.01,
                  random_state=0, n_jobs=threads)
    rbm.BernoulliRBM(n_iter=1, **params).fit(X[:200])
    gc.collect()
    reset = reset_peak_rss()
    rss_before = status_bytes("VmRSS")
    tracemalloc.start()
    start = time.perf_counter()
    model = rbm.BernoulliRBM(n_iter=1, **params).fit(X)
    seconds = time.perf_counter() - start
    _, traced_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    peak_rss = status_bytes("VmHWM")
    json.dump({
        "layout": layout, "input_bytes": _input_bytes(X), "traced_peak": traced_peak,
        "rss_growth": (peak_rss - rss_before) if reset and peak_rss else None,
        "seconds": seconds, "input_dtype": str(X.dtype),
        "components_dtype": str(model.components_.dtype),
    }, sys.stdout)


def measure_memory(layout, threads=None, rows=MEMORY_ROWS):
    """Run ``memory_child(layout, rows=rows)`` in a fresh interpreter; its JSON result."""
    env = dict(os.environ)
    root = str(Path(rbm.__file__).resolve().parents[1])
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [root, env.get("PYTHONPATH")]))
    print(f"memory: fit on {rows}x{MEMORY_FEATURES} float32, {layout}",
          file=sys.stderr, flush=True)
    command = [sys.executable, str(Path(__file__).resolve()), "--memory-child", layout,
               "--memory-rows", str(rows)]
    if threads is not None:
        command += ["--threads", str(threads)]
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=1800)
    if done.returncode != 0:
        return {"layout": layout, "error": done.stderr.strip().splitlines()[-1:]}
    return json.loads(done.stdout)


def _mib(n_bytes):
    return "n/a" if n_bytes is None else f"{n_bytes / 2**20:,.1f}"


def memory_table(results):
    rows = [f"| input | input (MiB) | fit's traced NumPy peak (MiB) | peak RSS growth (MiB) "
            f"| within input + {MEMORY_ALLOWANCE // 2**20} MiB | dtype in / model | fit (s) |",
            "|---|---:|---:|---:|---|---|---:|"]
    for result in results:
        if "error" in result:
            rows.append(f"| {result['layout']} | failed: {' '.join(result['error'])} "
                        "| | | | | |")
            continue
        worst = max(v for v in (result["traced_peak"], result["rss_growth"]) if v is not None)
        verdict = "yes" if worst <= MEMORY_ALLOWANCE else "**no**"
        rows.append(
            f"| {result['layout']} float32 | {_mib(result['input_bytes'])} "
            f"| {_mib(result['traced_peak'])} | {_mib(result['rss_growth'])} | {verdict} "
            f"| {result['input_dtype']} / {result['components_dtype']} "
            f"| {result['seconds']:.1f} |")
    return "\n".join(rows)


# ----------------------------------------------------------------------
# AIS against its own BLAS floor
# ----------------------------------------------------------------------

AIS_VISIBLE, AIS_HIDDEN, AIS_CHAINS, AIS_REFERENCE_BETAS = 784, 500, 100, 10_000


def ais_floor_products():
    """The products of one AIS temperature (``rbm._partition.ais_log_partition``), float64.

    Hidden field of the chains ``(M x V) @ W.T``, their visible field
    ``(M x H) @ W`` (skipped at the last temperature, which only weighs),
    and the two visible energy terms ``V @ b`` and ``V @ base_bias``.
    """
    rng = np.random.default_rng(0)
    M, V, H = AIS_CHAINS, AIS_VISIBLE, AIS_HIDDEN
    W = 0.01 * rng.standard_normal((H, V))
    states = (rng.random((M, V)) < 0.5).astype(np.float64)
    hidden = (rng.random((M, H)) < 0.5).astype(np.float64)
    b, base = rng.standard_normal(V), rng.standard_normal(V)
    return [(states, W.T, np.empty((M, H))), (hidden, W, np.empty((M, V))),
            (states, b, np.empty(M)), (states, base, np.empty(M))]


def ais_floor_seconds_per_temperature(target_seconds, repeats):
    """Seconds of one temperature's products: best of ``repeats`` calibrated loops."""
    products = ais_floor_products()
    matmul = np.matmul

    def run(n):
        for _ in range(n):
            for a, b, out in products:
                matmul(a, b, out=out)

    n = calibrate_epochs(run, target_seconds)
    return min(_seconds(run, n) for _ in range(repeats)) / n


def measure_ais(n_betas, target_seconds, repeats):
    """Time ``log_partition(method="ais")`` of a 784 x 500 model against the floor.

    The model is trained for one epoch on random binary data (the timing
    does not depend on the weights).  Ours runs once per repeat with a new
    random_state (log Z is cached per seed); its best run gives the time per
    temperature, extrapolated to 10,000 temperatures.
    """
    print(f"AIS: {AIS_VISIBLE}x{AIS_HIDDEN}, {AIS_CHAINS} chains, {n_betas} temperatures",
          file=sys.stderr, flush=True)
    X = (np.random.default_rng(0).random((2_000, AIS_VISIBLE)) < 0.5).astype(np.float32)
    model = rbm.BernoulliRBM(n_components=AIS_HIDDEN, batch_size=100, n_iter=1,
                             learning_rate=0.01, random_state=0).fit(X)
    best, estimate = math.inf, None
    for seed in range(max(1, repeats)):
        start = time.perf_counter()
        estimate = model.log_partition(method="ais", n_chains=AIS_CHAINS, n_betas=n_betas,
                                       random_state=seed)
        best = min(best, time.perf_counter() - start)
    steps = n_betas - 1
    return {
        "n_betas": n_betas, "seconds": best, "ours_per_temperature": best / steps,
        "floor_per_temperature": ais_floor_seconds_per_temperature(target_seconds, repeats),
        "log_z": estimate[0], "std_error": estimate[1],
    }


def ais_report(result):
    ours, floor = result["ours_per_temperature"], result["floor_per_temperature"]
    extrapolated = "" if result["n_betas"] == AIS_REFERENCE_BETAS else " (extrapolated)"
    return "\n".join([
        f"| model | chains | temperatures run | ours (s) | ours (ms/temperature) "
        f"| floor (ms/temperature) | fraction of floor | ours at {AIS_REFERENCE_BETAS:,} (s) "
        f"| floor at {AIS_REFERENCE_BETAS:,} (s) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
        f"| {AIS_VISIBLE}x{AIS_HIDDEN} | {AIS_CHAINS} | {result['n_betas']:,} "
        f"| {result['seconds']:.2f} | {1e3 * ours:.3f} | {1e3 * floor:.3f} "
        f"| {floor / ours:.2f} | {ours * (AIS_REFERENCE_BETAS - 1):.1f}{extrapolated} "
        f"| {floor * (AIS_REFERENCE_BETAS - 1):.1f} |",
        "",
        f"log Z = {result['log_z']:.2f} ± {result['std_error']:.2f} (AIS standard error, "
        f"{result['n_betas']:,} temperatures). The floor is the float64 products of one "
        "temperature: (M x V) @ W.T, (M x H) @ W and two (M x V) @ (V,) energy terms.",
    ])


# ----------------------------------------------------------------------
# Report
# ----------------------------------------------------------------------


def _rate(value):
    return "n/a" if value is None else f"{value:,.0f}"


def _ratio(numerator, denominator, template):
    if numerator is None or denominator is None:
        return "n/a"
    return template.format(numerator / denominator)


def results_table(rows):
    """Markdown table of (config, rates, notes) rows, then the notes on n/a cells.

    Ratios: ours / sklearn and ours / torch are speed-ups (above 1: ours is
    faster); the ``/ floor`` columns are each contender's fraction of the
    BLAS floor.
    """
    lines = [
        "| model | shape | batch | dtype | method | ours (samples/s) | sklearn (samples/s) "
        "| torch (samples/s) | BLAS floor (samples/s) | ours / sklearn | ours / torch "
        "| ours / floor | sklearn / floor | torch / floor |",
        "|---|---|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    notes = []
    for config, rates, row_notes in rows:
        ours, skl, tch, floor = (rates[name] for name in ("ours", "sklearn", "torch", "floor"))
        lines.append(
            f"| {config.kind} | {config.shape} | {config.batch_size} | {config.dtype} "
            f"| {config.method_label} | {_rate(ours)} | {_rate(skl)} | {_rate(tch)} "
            f"| {_rate(floor)} | {_ratio(ours, skl, '{:.1f}x')} | {_ratio(ours, tch, '{:.1f}x')} "
            f"| {_ratio(ours, floor, '{:.2f}')} | {_ratio(skl, floor, '{:.2f}')} "
            f"| {_ratio(tch, floor, '{:.2f}')} |"
        )
        notes += [(name, reason, config) for name, reason in row_notes.items()]
    # One line per distinct reason, not per row: "torch is not installed" once.
    reasons = {}
    for name, reason, config in notes:
        reasons.setdefault((name, reason), []).append(config)
    if reasons:
        lines.append("")
        lines.append("n/a cells:")
        for (name, reason), configs in reasons.items():
            where = "every row" if len(configs) == len(rows) else (
                f"{len(configs)} rows" if len(configs) > 3 else
                "; ".join(c.describe() for c in configs))
            lines.append(f"- {name}: {reason} ({where})")
    return "\n".join(lines)


def _cpu_model():
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _usable_cpus():
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count()


def _load_average():
    """1-minute load average, or None where the OS does not report it."""
    try:
        return os.getloadavg()[0]
    except (AttributeError, OSError):
        return None


def environment_header(args, load_at_start):
    """Markdown lines describing the machine, libraries, threads and settings.

    Call it inside ``thread_limit(args.threads)`` so the BLAS thread counts
    are the ones the measurements ran with.  ``load_at_start`` is recorded
    because other busy processes are the main source of bad numbers on
    small machines.
    """
    blas = [
        f"{Path(info['filepath']).name} {info.get('version')} "
        f"({info.get('architecture', '?')}): num_threads={info['num_threads']}"
        for info in threadpoolctl.threadpool_info()
        if info["user_api"] == "blas"
    ]
    env = {k: v for k, v in os.environ.items() if k.startswith(_ENV_PREFIXES)}
    env_text = ", ".join(f"`{k}={v}`" for k, v in sorted(env.items())) or "none set"
    if args.threads is None:
        threads = (f"library defaults: ours n_jobs=None ({_usable_cpus()} threads); "
                   "sklearn and the floor at NumPy's BLAS default")
    else:
        threads = (f"--threads {args.threads}: ours n_jobs={args.threads}; every BLAS and "
                   f"OpenMP pool capped at {args.threads} with threadpoolctl")
    if torch is None:
        threads += "; torch not installed"
    else:
        threads += f"; torch {torch.__version__} num_threads={torch.get_num_threads()}"
    return [
        f"# PCD/CD training throughput ({datetime.date.today().isoformat()})",
        "",
        f"- machine: {_cpu_model()}, os.cpu_count()={os.cpu_count()}, "
        f"usable CPUs={_usable_cpus()}, {platform.system()} {platform.machine()}, "
        f"1-min load average at start={'n/a' if load_at_start is None else f'{load_at_start:.2f}'}",
        f"- python {platform.python_version()}, numpy {np.__version__}, scipy {scipy.__version__}, "
        f"scikit-learn {sklearn.__version__}, rbm {rbm.__version__} from {rbm_source()}",
        "- BLAS (threadpoolctl): " + "; ".join(blas),
        f"- threads: {threads}",
        f"- ours calls BLAS through {_ours_blas()} (its own row sums for small models "
        "and one-hot rows); sklearn and the floor call it through NumPy, torch through "
        "its own BLAS",
        f"- BLAS/OpenMP environment: {env_text}",
        "- data: random binary (Gaussian: standard normal; categorical: uniform codes); "
        "learning_rate=0.01 (Gaussian 0.001), random_state=0; "
        f"min of {args.repeats} runs of ~{args.target_seconds:g} s each after a warm-up, "
        "interleaved across contenders",
    ]


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--full", action="store_true",
                        help="issue 6's whole grid (Bernoulli 64x64, 784x500, 500x2000; both "
                             "dtypes; PCD-1 and CD-10; Gaussian and categorical rows) and all "
                             "four reports below")
    parser.add_argument("--quick", action="store_true",
                        help="smoke test: ~0.2 s runs, one repeat, all four reports, "
                             f"AIS with 200 temperatures, the memory input "
                             f"{MEMORY_ROWS_QUICK:,} rows")
    parser.add_argument("--grid", action="store_true",
                        help="with report options, also the default grid (which a report "
                             "option alone skips)")
    parser.add_argument("--cd-linearity", action="store_true",
                        help="time per CD-k update for k = 1, 2, 5, 10, ours against the floor")
    parser.add_argument("--memory", action="store_true",
                        help="peak memory of fit on 60,000 x 784 float32, dense and CSR")
    parser.add_argument("--ais", action="store_true",
                        help="AIS log Z of a 784 x 500 model against its BLAS floor")
    parser.add_argument("--hidden-types", action="store_true",
                        help="fit time of each hidden-unit type as a multiple of binary hidden "
                             "units' (784x500 float32 batch 100, 64x64 float64 batch 10)")
    parser.add_argument("--ais-betas", type=int, default=None,
                        help="AIS temperatures to run (default 1,000, 200 with --quick; the "
                             "time per temperature is extrapolated to 10,000)")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT,
                        help=f"where to write the markdown report (default: {DEFAULT_OUTPUT})")
    parser.add_argument("--repeats", type=positive_int, default=None,
                        help="timed runs per measurement; the fastest is kept (default: 3, "
                             "1 with --quick)")
    parser.add_argument("--threads", type=int, default=None,
                        help="run every contender on this many threads (default: library defaults)")
    parser.add_argument("--target-seconds", type=positive_float, default=None,
                        help="approximate duration of one timed run (default: 1.0, 0.2 with "
                             "--quick)")
    parser.add_argument("--json", type=Path, default=None,
                        help="also write every figure, with its unit and which way is better, "
                             "as JSON to this path (read by benchmarks/compare_builds.py)")
    parser.add_argument("--scipy-blas", action="store_true",
                        help="ours calls SciPy's cython_blas instead of NumPy's bundled "
                             "OpenBLAS (rbm._gibbs.kernel_settings(numpy_blas=False))")
    parser.add_argument("--memory-child", choices=MEMORY_LAYOUTS, help=argparse.SUPPRESS)
    parser.add_argument("--memory-rows", type=positive_int, default=None,
                        help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.threads is not None and args.threads < 1:
        parser.error("--threads must be a positive integer")
    if args.ais_betas is not None and args.ais_betas < 3:
        parser.error("--ais-betas must be at least 3")
    quick = args.quick
    # None means "not given" (0 and below are refused by their types above).
    if args.repeats is None:
        args.repeats = 1 if quick else 3
    if args.target_seconds is None:
        args.target_seconds = 0.2 if quick else 1.0
    args.ais_betas = args.ais_betas or (200 if quick else 1_000)
    if args.memory_rows is None:
        args.memory_rows = MEMORY_ROWS_QUICK if quick else MEMORY_ROWS
    reports_given = any(getattr(args, name) for name in REPORTS)
    # A report option alone runs that report only ("one by one").
    args.grid = args.grid or args.full or quick or not reports_given
    if args.full or quick:
        for name in REPORTS:
            setattr(args, name, True)
    return args


#: The attributes of the four report options.
REPORTS = ("cd_linearity", "memory", "ais", "hidden_types")


def positive_float(text):
    """A number > 0 (argparse type)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, not {text!r}")
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be above 0, not {value}")
    return value


def report_figures(rows, per_update=None, ais=None, memory=None, hidden_costs=None,
                   hidden_ais=None):
    """Every figure of a run as ``{name: {value, unit, better, ours}}`` (for ``--json``).

    ``better`` is "higher" (throughputs) or "lower" (times, bytes); ``ours``
    says whether the figure measures rbm (the others, sklearn, torch and the
    floors, show how the machine's speed drifted).  Figures a run did not
    measure (n/a cells, failed memory children) are left out.
    """
    figures = {}

    def add(name, value, unit, better, ours):
        if value is not None:
            figures[name] = {"value": float(value), "unit": unit, "better": better,
                             "ours": ours}

    for config, rates, _ in rows:
        for contender, rate in rates.items():
            add(f"throughput | {config.describe()} | {contender}", rate, "samples/s",
                "higher", contender == "ours")
    for k, times in (per_update or {}).items():
        for contender, seconds in times.items():
            add(f"CD-k linearity | k={k} | {contender}", seconds, "s/update", "lower",
                contender == "ours")
    if ais is not None:
        add("AIS 784x500 | ours", ais["ours_per_temperature"], "s/temperature", "lower", True)
        add("AIS 784x500 | floor", ais["floor_per_temperature"], "s/temperature", "lower",
            False)
    for shape, seconds in (hidden_costs or {}).items():
        for hidden, value in seconds.items():
            add(f"hidden types | {shape} | {hidden}", value, "s/epoch", "lower", True)
    for shape, seconds in (hidden_ais or {}).items():
        for hidden, value in seconds.items():
            add(f"hidden types AIS | {shape} | {hidden}", value, "s", "lower", True)
    for result in memory or ():
        if "error" not in result:
            layout = result["layout"]
            add(f"memory | {layout} | traced peak", result["traced_peak"], "bytes", "lower", True)
            add(f"memory | {layout} | RSS growth", result["rss_growth"], "bytes", "lower", True)
            add(f"memory | {layout} | fit", result["seconds"], "s", "lower", True)
    return figures


def main(argv=None):
    args = parse_args(argv)
    if args.scipy_blas:
        if not hasattr(rbm._gibbs, "kernel_settings"):  # a build from before it
            rbm._gibbs.use_numpy_blas(False)
            return _main(args)
        with rbm._gibbs.kernel_settings(numpy_blas=False):
            return _main(args)
    return _main(args)


def _main(args):
    if args.memory_child:
        with thread_limit(args.threads):
            memory_child(args.memory_child, args.threads, args.memory_rows)
        return
    configs = (full_grid() if args.full else default_grid()) if args.grid else []
    load_at_start = _load_average()
    rows = []
    sections = []
    per_update = ais = memory = hidden_costs = hidden_ais = None
    with thread_limit(args.threads):
        for config in configs:
            print(config.describe(), file=sys.stderr, flush=True)
            rows.append((config, *measure(config, args.target_seconds, args.repeats,
                                          args.threads)))
        if rows:
            sections += ["", "## Training throughput", "", results_table(rows)]
        if args.cd_linearity:
            per_update, lines = cd_linearity(args.target_seconds, args.repeats, args.threads)
            sections += ["", "## CD-k linearity (784x500, batch 100, float32, CD-k)", "",
                         linearity_table(per_update, lines)]
        if args.ais:
            ais = measure_ais(args.ais_betas, args.target_seconds, args.repeats)
            sections += ["", "## AIS speed (log Z, float64)", "", ais_report(ais)]
        if args.hidden_types:
            hidden_costs = hidden_type_costs(args.target_seconds, args.repeats, args.threads)
            hidden_ais = hidden_type_ais_costs(args.repeats, args.threads)
            sections += ["", "## Hidden-unit types (BernoulliRBM, PCD-1, chains = batch)", "",
                         hidden_types_table(hidden_costs), "",
                         "One monitoring AIS run (32 chains x 500 temperatures), seconds:", "",
                         hidden_types_table(hidden_ais, "s")]
        header = environment_header(args, load_at_start)
    if args.memory:
        memory = [measure_memory(layout, args.threads, args.memory_rows)
                  for layout in MEMORY_LAYOUTS]
        sections += ["", f"## Peak memory of fit ({args.memory_rows:,} x {MEMORY_FEATURES} "
                     "float32, "
                     f"{MEMORY_HIDDEN} hidden, batch 100, one epoch, fresh subprocess)", "",
                     memory_table(memory)]
    report = "\n".join(header + sections + [""])
    print(report)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(report)
    print(f"written to {args.output}", file=sys.stderr)
    if args.json:
        figures = report_figures(rows, per_update, ais, memory, hidden_costs, hidden_ais)
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"rbm": rbm_source(), "header": header,
                                         "figures": figures}, indent=1))
        print(f"figures written to {args.json}", file=sys.stderr)


if __name__ == "__main__":
    main()
