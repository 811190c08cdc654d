"""Peak memory of ``fit`` beyond its input and beyond the model (issue 22, point 10).

Each case runs in a fresh interpreter.  The child builds its input in row
blocks (so building it leaves no peak above the input), runs a tiny fit of
the same estimator to load the BLAS buffers and thread pools, resets the
peak resident set to the current one (``/proc/self/clear_refs``), starts
``tracemalloc`` and runs the measured ``fit``.  Two measures of what ``fit``
adds on top of its input:

* **traced**: the peak of NumPy's allocations (NumPy reports them to
  tracemalloc), exact and page-independent, but blind to memory allocated in
  C outside NumPy (the kernel's random-stream table, BLAS's own buffers);
* **RSS**: the growth of the peak resident set (``VmHWM``): everything, but
  counted in touched pages only (``np.zeros`` pages never written, or the
  untouched end of an ``np.empty`` buffer, do not count).

For each it prints the peak above the input and above input + model, in
MiB and as a ratio to the size of W.  *Model* means ``components_`` and the
two intercepts; the training state of W's size (the momentum velocity,
``_training.W_velocity``) is listed separately, because the fit cannot run
without it.

Cases (``--case``, default all):

* ``bernoulli``: ``BernoulliRBM(n_components=64)``, one epoch, on
  ``--rows`` x 784 float64 binary data (200,000 rows: 1,196 MiB);
* ``gaussian``: ``GaussianBernoulliRBM(n_components=64)``, one epoch, on
  ``--rows`` x 784 float64 standard normal data;
* ``wide``: ``BernoulliRBM(n_components=100_000)`` (W: 598 MiB in float64),
  three epochs (the first in momentum warm-up, the second starting from a
  zero velocity, the third from a nonzero one), on 20 x 784 binary rows;
* ``categorical``: ``CategoricalRBM(n_components=64)``, one epoch, on
  ``--rows`` x 50 integer labels with 10 categories each (the input is the
  int64 label array; its one-hot CSR coding counts as part of what fit adds).

Run from the repository root::

    python benchmarks/memory.py                 # every case
    python benchmarks/memory.py --rows 50000    # smaller data
    python benchmarks/memory.py --case wide
"""

import argparse
import gc
import json
import os
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np
from _resident import reset_peak_rss, status_bytes

CASES = ("bernoulli", "gaussian", "wide", "categorical")
N_FEATURES = 784
WIDE_HIDDEN = 100_000
CATEGORICAL_FEATURES, CATEGORICAL_LEVELS = 50, 10
#: Issue 22's allowance above the input and the model.
ALLOWANCE = 64 * 2**20
BUILD_BLOCK_ROWS = 5_000


def build_input(case, n_rows):
    """The case's input, built in row blocks into one array (no peak above it)."""
    rng = np.random.default_rng(0)
    if case == "wide":
        n_rows = 20
    if case == "categorical":
        return rng.integers(0, CATEGORICAL_LEVELS, (n_rows, CATEGORICAL_FEATURES))
    X = np.empty((n_rows, N_FEATURES))
    for start in range(0, n_rows, BUILD_BLOCK_ROWS):
        block = X[start : start + BUILD_BLOCK_ROWS]
        if case == "gaussian":
            block[...] = rng.standard_normal(block.shape)
        else:
            block[...] = rng.random(block.shape) < 0.2
    return X


def estimator(case, **overrides):
    """The case's estimator (a fresh one per call)."""
    import rbm

    params = dict(n_components=64, n_iter=1, batch_size=100, random_state=0)
    if case == "wide":
        params.update(n_components=WIDE_HIDDEN, n_iter=3, batch_size=20, n_chains=10)
    params.update(overrides)
    kind = {"bernoulli": rbm.BernoulliRBM, "wide": rbm.BernoulliRBM,
            "gaussian": rbm.GaussianBernoulliRBM, "categorical": rbm.CategoricalRBM}[case]
    return kind(**params)


def child(case, n_rows):
    """Run in a fresh interpreter: the measured fit of one case; print JSON."""
    X = build_input(case, n_rows)
    estimator(case, n_components=8, n_iter=1).fit(X[:200])  # BLAS buffers, threads
    gc.collect()
    reset = reset_peak_rss()
    rss_before = status_bytes("VmRSS")
    tracemalloc.start()
    start = time.perf_counter()
    model = estimator(case).fit(X)
    seconds = time.perf_counter() - start
    _, traced_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    peak_rss = status_bytes("VmHWM")
    model_bytes = sum(a.nbytes for a in (model.components_, model.intercept_visible_,
                                         model.intercept_hidden_))
    json.dump({
        "case": case, "shape": list(X.shape), "input_bytes": X.nbytes,
        "model_bytes": model_bytes, "W_bytes": model.components_.nbytes,
        "velocity_bytes": model._training.W_velocity.nbytes,
        "chains_bytes": model.h_samples_.nbytes,
        "traced_peak": traced_peak,
        "rss_growth": (peak_rss - rss_before) if reset and peak_rss else None,
        "seconds": seconds,
    }, sys.stdout)


def measure(case, n_rows):
    """Run ``child(case)`` in a fresh interpreter; its JSON result."""
    import rbm

    env = dict(os.environ)
    root = str(Path(rbm.__file__).resolve().parents[1])
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [root, env.get("PYTHONPATH")]))
    print(f"memory: {case} ({rbm.__file__})", file=sys.stderr, flush=True)
    command = [sys.executable, str(Path(__file__).resolve()), "--child", case,
               "--rows", str(n_rows)]
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=3600)
    if done.returncode != 0:
        return {"case": case, "error": done.stderr.strip().splitlines()[-1:]}
    return json.loads(done.stdout)


def _mib(n_bytes):
    return "n/a" if n_bytes is None else f"{n_bytes / 2**20:,.1f}"


def _ratio(n_bytes, of):
    return "n/a" if n_bytes is None else f"{n_bytes / of:.2f}"


def table(results):
    """A Markdown table of the results: peaks above the input and above input + model."""
    rows = ["| case | input shape | input (MiB) | model (MiB) | W velocity (MiB) "
            "| measure | above input (MiB) | above input, / W "
            "| above input + model (MiB) "
            f"| within input + model + {ALLOWANCE // 2**20} MiB | peak / input | fit (s) |",
            "|---|---|---:|---:|---:|---|---:|---:|---:|---|---:|---:|"]
    for r in results:
        if "error" in r:
            rows.append(f"| {r['case']} | failed: {' '.join(r['error'])} |" + " |" * 10)
            continue
        for measure, key in (("traced", "traced_peak"), ("RSS", "rss_growth")):
            above = r[key]
            beyond = None if above is None else above - r["model_bytes"]
            verdict = ("n/a" if beyond is None else
                       "yes" if beyond <= ALLOWANCE else "**no**")
            peak_ratio = (None if above is None else
                          f"{(r['input_bytes'] + above) / r['input_bytes']:.2f}")
            rows.append(
                f"| {r['case']} | {r['shape'][0]:,} x {r['shape'][1]} "
                f"| {_mib(r['input_bytes'])} | {_mib(r['model_bytes'])} "
                f"| {_mib(r['velocity_bytes'])} | {measure} | {_mib(above)} "
                f"| {_ratio(above, r['W_bytes'])} | {_mib(beyond)} "
                f"| {verdict} | {peak_ratio or 'n/a'} | {r['seconds']:.1f} |")
    return "\n".join(rows)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--case", choices=CASES, action="append",
                        help="case to run (repeatable; default: all)")
    parser.add_argument("--rows", type=int, default=200_000,
                        help="rows of the bernoulli, gaussian and categorical inputs")
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--table", type=Path,
                        help="only print the table of results written by --json")
    parser.add_argument("--child", choices=CASES, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args.child, args.rows)
        return
    if args.table:
        print(table(json.loads(args.table.read_text())))
        return
    results = [measure(case, args.rows) for case in args.case or CASES]
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    print(table(results))


if __name__ == "__main__":
    main()
