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
shared machines is 5-10%, and noise only ever adds time).  Run it on an
otherwise idle machine: on few cores, other busy processes distort the
numbers far beyond their own CPU share.

Three more reports (all in ``--full``, or one by one):

* ``--cd-linearity``: time per CD-k update for k in 1, 2, 5, 10 at 784x500,
  batch 100, float32, for ours and the floor; the ratio of the fitted slopes
  says what each extra Gibbs step costs beyond its products.
* ``--memory``: peak memory of one epoch of ``fit`` on a 60,000 x 784
  float32 array (dense and CSR), 500 hidden units, each in a fresh
  subprocess (traced NumPy allocations and the peak resident set).
* ``--ais``: AIS log Z of a 784 x 500 model, 100 chains, timed against
  the products AIS must do per temperature; ``--ais-betas`` runs fewer
  temperatures and extrapolates to 10,000.

Run from the repository root (``rbm`` must be importable)::

    PYTHONPATH=. python benchmarks/throughput.py              # acceptance configs
    PYTHONPATH=. python benchmarks/throughput.py --full       # the whole grid and reports
    PYTHONPATH=. python benchmarks/throughput.py --quick      # smoke test of everything
    PYTHONPATH=. python benchmarks/throughput.py --threads 1  # one thread everywhere
"""

import argparse
import contextlib
import datetime
import math
import os
import platform
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy
import sklearn
import threadpoolctl
from sklearn.neural_network import BernoulliRBM as SklearnRBM

import rbm

DEFAULT_OUTPUT = Path(__file__).resolve().parent / "results" / "throughput.md"

#: Environment variables that change how BLAS or OpenMP behave.  We never
#: set them, only record them, because they explain differences between runs.
_ENV_PREFIXES = ("OPENBLAS_", "OMP_", "MKL_", "GOTO", "BLIS_", "VECLIB_", "NVPL_")


@dataclass(frozen=True)
class Config:
    """One benchmark configuration: model shape, minibatch and training method."""

    n_visible: int
    n_hidden: int
    batch_size: int
    dtype: str
    method: str  # "pcd" or "cd"
    k: int
    n_samples: int

    @property
    def shape(self):
        return f"{self.n_visible}x{self.n_hidden}"

    @property
    def method_label(self):
        return f"{self.method.upper()}-{self.k}"

    def describe(self):
        return f"{self.shape}, batch {self.batch_size}, {self.dtype}, {self.method_label}"


#: The two configurations whose figures are the acceptance criteria.
ACCEPTANCE = (
    Config(64, 64, 10, "float64", "pcd", 1, n_samples=10_000),
    Config(784, 500, 100, "float32", "pcd", 1, n_samples=5_000),
)


def full_grid():
    """Every configuration of ``--full``, the acceptance ones first."""
    grid = list(ACCEPTANCE)
    shapes = ((64, 64, (10, 100), 10_000), (784, 500, (100, 1000), 5_000))
    for n_visible, n_hidden, batches, n_samples in shapes:
        for batch_size in batches:
            for dtype in ("float64", "float32"):
                for method, k in (("pcd", 1), ("cd", 10)):
                    config = Config(n_visible, n_hidden, batch_size, dtype, method, k, n_samples)
                    if config not in grid:
                        grid.append(config)
    return grid


# ----------------------------------------------------------------------
# Timing
# ----------------------------------------------------------------------


def _seconds(run, epochs):
    start = time.perf_counter()
    run(epochs)
    return time.perf_counter() - start


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


def samples_per_second(run, n_samples, target_seconds, repeats):
    """Throughput of ``run(epochs)``: best of ``repeats`` calibrated runs."""
    epochs = calibrate_epochs(run, target_seconds)
    best = min(_seconds(run, epochs) for _ in range(repeats))
    return n_samples * epochs / best


# ----------------------------------------------------------------------
# The three contenders.  Each takes (config, X, n_jobs) and returns
# run(epochs), or None when it does not support the configuration; only
# ours has an n_jobs knob, the others take it for a uniform signature.
# ----------------------------------------------------------------------


def make_data(config):
    """Random binary data of shape (n_samples, n_visible) in the dtype under test."""
    rng = np.random.default_rng(0)
    return (rng.random((config.n_samples, config.n_visible)) < 0.5).astype(config.dtype)


def ours_runner(config, X, n_jobs=None):
    """``rbm.BernoulliRBM.fit`` on X (n_chains defaults to batch_size, like sklearn)."""

    def run(epochs):
        rbm.BernoulliRBM(
            n_components=config.n_hidden, batch_size=config.batch_size, n_iter=epochs,
            learning_rate=0.01, method=config.method, k=config.k, random_state=0,
            n_jobs=n_jobs,
        ).fit(X)

    return run


def sklearn_runner(config, X, n_jobs=None):
    """scikit-learn's ``BernoulliRBM.fit`` on X; it implements PCD-1 only."""
    if (config.method, config.k) != ("pcd", 1):
        return None

    def run(epochs):
        SklearnRBM(
            n_components=config.n_hidden, batch_size=config.batch_size, n_iter=epochs,
            learning_rate=0.01, random_state=0,
        ).fit(X)

    return run


def floor_products(config):
    """The (a, b, out) operands of every matrix product of one minibatch.

    Buffers mirror the kernel's: VS stacks [data; chain] visible rows
    (2B x V), HS the matching hidden rows (2B x H), Hc the chains' hidden
    samples (B x H), G the weight gradient (H x V).

    PCD-k: k visible fields of the chains, k - 1 hidden fields of the
    chains, one hidden field of the stacked rows, one weight gradient.
    CD-k: the data's hidden field, k pairs of (visible field, hidden field)
    of the chains, one weight gradient.
    """
    B, V, H = config.batch_size, config.n_visible, config.n_hidden
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


CONTENDERS = (("ours", ours_runner), ("sklearn", sklearn_runner), ("floor", floor_runner))


def thread_limit(threads):
    """Context capping every BLAS and OpenMP pool at ``threads`` (None: no cap).

    Without a cap each library runs at its own default, which is what users
    get; with one, all three columns use the same number of threads.
    """
    if threads is None:
        return contextlib.nullcontext()
    return threadpoolctl.threadpool_limits(limits=threads)


def measure(config, target_seconds, repeats, threads=None):
    """Samples/s of each contender on one configuration (None: unsupported).

    ``threads`` is passed to ours as ``n_jobs``; sklearn and the floor
    have no such knob and get it from ``thread_limit`` (the caller's).
    """
    X = make_data(config)
    rates = {}
    for name, make_runner in CONTENDERS:
        run = make_runner(config, X, n_jobs=threads)
        rates[name] = None if run is None else samples_per_second(
            run, config.n_samples, target_seconds, repeats)
        print(f"  {name:8s} {_rate(rates[name]):>14s} samples/s", file=sys.stderr, flush=True)
    return rates


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
    """Markdown table of (config, rates) rows."""
    lines = [
        "| V x H | batch | dtype | method | ours (samples/s) | sklearn (samples/s) "
        "| BLAS floor (samples/s) | ours / sklearn | fraction of BLAS floor |",
        "|---|---:|---|---|---:|---:|---:|---:|---:|",
    ]
    for config, rates in rows:
        ours, skl, floor = rates["ours"], rates["sklearn"], rates["floor"]
        lines.append(
            f"| {config.shape} | {config.batch_size} | {config.dtype} | {config.method_label} "
            f"| {_rate(ours)} | {_rate(skl)} | {_rate(floor)} "
            f"| {_ratio(ours, skl, '{:.1f}x')} | {_ratio(ours, floor, '{:.2f}')} |"
        )
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


def _rbm_source():
    """Where rbm was imported from and, in a git checkout, its commit.

    The kernel changes often; a table is only meaningful with the commit
    it was measured on ("+dirty": rbm/ had uncommitted changes).
    """
    package = Path(rbm.__file__).resolve().parent
    try:
        def git(*cmd):
            return subprocess.run(["git", "-C", str(package), *cmd], capture_output=True,
                                  text=True, check=True, timeout=10).stdout.strip()
        commit = git("rev-parse", "--short", "HEAD")
        dirty = "+dirty" if git("status", "--porcelain", "--", ".") else ""
        return f"{package} (git {commit}{dirty})"
    except (OSError, subprocess.SubprocessError):
        return f"{package} (not a git checkout)"


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
    return [
        f"# PCD/CD training throughput ({datetime.date.today().isoformat()})",
        "",
        f"- machine: {_cpu_model()}, os.cpu_count()={os.cpu_count()}, "
        f"usable CPUs={_usable_cpus()}, {platform.system()} {platform.machine()}, "
        f"1-min load average at start={'n/a' if load_at_start is None else f'{load_at_start:.2f}'}",
        f"- python {platform.python_version()}, numpy {np.__version__}, scipy {scipy.__version__}, "
        f"scikit-learn {sklearn.__version__}, rbm {rbm.__version__} from {_rbm_source()}",
        "- BLAS (threadpoolctl): " + "; ".join(blas),
        f"- threads: {threads}",
        "- ours calls BLAS through scipy.linalg.cython_blas (its own row sums for small models) "
        "sampling steps); sklearn and the floor call it through NumPy",
        f"- BLAS/OpenMP environment: {env_text}",
        f"- data: random binary; learning_rate=0.01, random_state=0; "
        f"min of {args.repeats} runs of ~{args.target_seconds:g} s after a warm-up",
    ]


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--full", action="store_true",
                        help="also batch 100 (64x64) / 1000 (784x500), both dtypes, and CD-10")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT,
                        help=f"where to write the markdown table (default: {DEFAULT_OUTPUT})")
    parser.add_argument("--repeats", type=int, default=3,
                        help="timed runs per measurement; the fastest is kept (default: 3)")
    parser.add_argument("--threads", type=int, default=None,
                        help="run every contender on this many threads (default: library defaults)")
    parser.add_argument("--target-seconds", type=float, default=1.0,
                        help="approximate duration of one timed run (default: 1.0)")
    args = parser.parse_args(argv)
    if args.threads is not None and args.threads < 1:
        parser.error("--threads must be a positive integer")
    return args


def main(argv=None):
    args = parse_args(argv)
    configs = full_grid() if args.full else list(ACCEPTANCE)
    load_at_start = _load_average()
    rows = []
    with thread_limit(args.threads):
        for config in configs:
            print(config.describe(), file=sys.stderr, flush=True)
            rows.append((config, measure(config, args.target_seconds, args.repeats, args.threads)))
        header = environment_header(args, load_at_start)
    report = "\n".join(header + ["", results_table(rows), ""])
    print(report)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(report)
    print(f"written to {args.output}", file=sys.stderr)


if __name__ == "__main__":
    main()
