"""What each way of drawing costs against Gibbs chains, measured in one run.

Two questions, each a ratio of wall times taken side by side in one
process (the methods alternate, repeat after repeat; the minimum of each is
kept):

* **Completions** (``conditional_sample``): exact draws against clamped
  Gibbs chains of the default 200 steps, at 12 and 14 binary hidden units,
  784 binary visible units, 1,000 rows with one gap each and with half the
  entries missing.  ``method="auto"`` is exact where 2**H <= 6 n_steps H
  (``EXACT_DRAW_STEPS_FACTOR`` in rbm/_conditional.py: both 12 and 14 units
  at 200 steps); the ratios say what that rule buys.
* **Samples** (``sample``): parallel tempering (``method="tempered"``, 10
  temperatures) against Gibbs chains of the same steps, 100 samples of 200
  steps, at 64 x 64 (digits, binarised) and 784 x 500 (random rows).

    PYTHONPATH=. python benchmarks/sampling_cost.py [--repeats 3]

The models are trained for a few epochs only: the cost of drawing depends
on the shapes, not on how well the model fits.
"""

import argparse
import time
import warnings

import numpy as np
from sklearn.datasets import load_digits

from rbm import BernoulliRBM


def best_seconds(calls, repeats):
    """{name: the least wall time of ``repeats`` calls}, the calls alternating."""
    best = {name: np.inf for name in calls}
    for _ in range(repeats):
        for name, call in calls.items():
            start = time.perf_counter()
            call()
            best[name] = min(best[name], time.perf_counter() - start)
    return best


def completion_rows():
    """The rows of the completion cases: ``{name: (model input, rows with gaps)}``."""
    rng = np.random.default_rng(0)
    X = (rng.random((300, 784)) < 0.3).astype(float)
    rows = (rng.random((1000, 784)) < 0.3).astype(float)
    one_gap = rows.copy()
    one_gap[np.arange(len(rows)), rng.integers(0, 784, len(rows))] = np.nan
    half = rows.copy()
    half[rng.random(rows.shape) < 0.5] = np.nan
    return X, {"one gap a row": one_gap, "half missing": half}


def completions(repeats):
    X, cases = completion_rows()
    lines = ["| hidden units | rows | exact (s) | Gibbs, 200 steps (s) | exact / Gibbs |",
             "|---:|---|---:|---:|---:|"]
    for n_hidden in (12, 14):
        model = BernoulliRBM(n_components=n_hidden, n_iter=3, random_state=0).fit(X)
        for case, rows in cases.items():
            times = best_seconds({
                method: (lambda method=method: model.conditional_sample(
                    rows, method=method, random_state=0))
                for method in ("exact", "gibbs")}, repeats)
            lines.append(f"| {n_hidden} | {case} | {times['exact']:.3f} | {times['gibbs']:.3f} "
                         f"| {times['exact'] / times['gibbs']:.2f} |")
    return lines


def samples(repeats):
    digits = (load_digits().data / 16.0 > 0.5).astype(float)
    wide = (np.random.default_rng(0).random((500, 784)) < 0.3).astype(np.float32)
    lines = ["| model | tempered, 10 temperatures (s) | Gibbs (s) | tempered / Gibbs |",
             "|---|---:|---:|---:|"]
    for name, X, n_hidden in (("64 x 64 (digits)", digits, 64),
                              ("784 x 500 (random)", wide, 500)):
        model = BernoulliRBM(n_components=n_hidden, n_iter=3, random_state=0).fit(X)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # (a short fit's ladder may warn)
            times = best_seconds({
                method: (lambda method=method: model.sample(
                    100, n_steps=200, method=method, random_state=0))
                for method in ("tempered", "gibbs")}, repeats)
        lines.append(f"| {name} | {times['tempered']:.3f} | {times['gibbs']:.3f} "
                     f"| {times['tempered'] / times['gibbs']:.1f} |")
    return lines


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    print("## Completions: exact draws against clamped Gibbs chains\n")
    print("\n".join(completions(args.repeats)))
    print("\n## Samples: tempered chains against Gibbs chains\n")
    print("\n".join(samples(args.repeats)))


if __name__ == "__main__":
    main()
