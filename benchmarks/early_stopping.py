"""Early stopping against the default full-length fit, test log-likelihood and time.

One run fits each model twice per seed, at its defaults (``n_iter="auto"``,
the linear learning-rate schedule) and with ``early_stopping=True`` (10% of
the training rows held out, the best check's parameters restored), and
reports the mean test log-likelihood (nats per row), the epochs trained and
the fit's seconds.  Sets:

- digits: scikit-learn's digits binarised at 0.5, 70/30 split with
  ``random_state=0`` (as ``benchmarks/density.py``), ``BernoulliRBM`` with 20
  hidden units;
- wine and breast cancer: standardised (scaler fitted on the training rows),
  75/25 split with ``random_state=0``, ``GaussianBernoulliRBM`` at its
  defaults (256 hidden units);
- mushrooms: the binary suite's train and test splits from
  ``../shared/data/binary`` (skipped where that folder is absent),
  ``BernoulliRBM`` with 20 hidden units.

Usage::

    PYTHONPATH=. python benchmarks/early_stopping.py [--sets digits,wine,breast_cancer,mushrooms] [--seeds 0,1]
"""

import argparse
import pathlib
import sys
import time
import warnings

import numpy as np
from sklearn.datasets import load_breast_cancer, load_digits, load_wine
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from rbm import BernoulliRBM, GaussianBernoulliRBM

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))  # _data beside this script
from _data import BINARY as DATA_DIR  # noqa: E402


def standardised(load):
    """(train, test) of a bundled real-valued set, 75/25, standardised."""
    train, test = train_test_split(load().data, random_state=0)
    scaler = StandardScaler().fit(train)
    return scaler.transform(train), scaler.transform(test)


def binarised_digits():
    """(train, test) of digits binarised at 0.5, 70/30."""
    X = (load_digits().data / 16.0 > 0.5).astype(np.float64)
    return tuple(train_test_split(X, test_size=0.3, random_state=0))


def mushrooms():
    """(train, test) of the binary suite's mushrooms, or None where absent."""
    path = DATA_DIR / "mushrooms.npz"
    if not path.is_file():
        print(f"mushrooms: {path} not found, skipped", file=sys.stderr)
        return None
    with np.load(path) as data:
        return tuple(np.asarray(data[key], dtype=np.float64) for key in ("train", "test"))


#: Each set: (its loader, the model to fit at its defaults).
SETS = {
    "digits": (binarised_digits, lambda seed: BernoulliRBM(n_components=20, random_state=seed)),
    "wine": (lambda: standardised(load_wine),
             lambda seed: GaussianBernoulliRBM(random_state=seed)),
    "breast_cancer": (lambda: standardised(load_breast_cancer),
                      lambda seed: GaussianBernoulliRBM(random_state=seed)),
    "mushrooms": (mushrooms, lambda seed: BernoulliRBM(n_components=20, random_state=seed)),
}


def fit_and_score(model, train, test):
    """(test log-likelihood per row, epochs trained, fit seconds)."""
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ConvergenceWarnings of sigma floors, AIS notes
        model.fit(train)
        seconds = time.perf_counter() - start
        return float(model.score(test)), model.n_iter_, seconds


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", default="digits,wine,breast_cancer,mushrooms",
                        help="comma-separated sets, of " + ", ".join(SETS)
                             + " (default: %(default)s)")
    parser.add_argument("--seeds", default="0,1",
                        help="comma-separated model seeds (default: %(default)s)")
    args = parser.parse_args()
    unknown = [name for name in args.sets.split(",") if name not in SETS]
    if unknown:
        parser.error(f"unknown set(s) {', '.join(unknown)}; valid: {', '.join(SETS)}")
    try:
        seeds = [int(s) for s in args.seeds.split(",")]
    except ValueError:
        parser.error(f"--seeds takes comma-separated integers, not {args.seeds!r}")
    print("| set | seed | default: test, epochs, s | early_stopping=True: test, epochs, s "
          "| early minus default |")
    print("|---|---:|---|---|---:|")
    for name in args.sets.split(","):
        load, make = SETS[name]
        split = load()
        if split is None:
            continue
        for seed in seeds:
            full = fit_and_score(make(seed), *split)
            early = fit_and_score(make(seed).set_params(early_stopping=True), *split)
            print(f"| {name} | {seed} | {full[0]:.3f}, {full[1]}, {full[2]:.1f} "
                  f"| {early[0]:.3f}, {early[1]}, {early[2]:.1f} | {early[0] - full[0]:+.3f} |",
                  flush=True)


if __name__ == "__main__":
    main()
