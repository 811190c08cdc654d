"""Training on incomplete data: missing="impute" against dropping rows and mode filling.

20% of the *training* entries are removed at random (per entry, the same
mask for every contender); every contender trains the same RBM (same
hyperparameters, seed and epochs) and is scored by the *exact* mean test
log-likelihood (nats per row) on the complete test rows:

* **gaps (missing="impute")**: fitted on the rows with gaps; the positive
  phase fills each row's missing entries by clamped Gibbs under the current
  model (``rbm._conditional.MissingFill``);
* **drop rows**: fitted on the complete training rows only;
* **mode fill** (discrete sets) or **mean fill** (real-valued sets):
  missing entries set to the column's most frequent observed value
  (``SimpleImputer(strategy="most_frequent")``) or its observed mean
  (``SimpleImputer(strategy="mean")``), then fitted;
* **complete data**: fitted on the training data before removal (the
  reference no method with gaps can beat on average).

Sets: nltcs (16 binary features, BernoulliRBM), mushrooms as 21
categorical attributes (CategoricalRBM), and scikit-learn's bundled diabetes
and wine (10 and 13 real features, GaussianBernoulliRBM; a 70/30 split,
standardised by the training rows' mean and deviation before any entry is
removed; log-likelihoods in those standardised units); all with 16 hidden
units, so log Z is exact by enumerating the hidden layer.  The DEBD sets
are skipped cleanly where ``../shared/data`` is absent.  ``--seeds 0,1,2``
repeats each set with other masks and model seeds (the split stays).

    PYTHONPATH=. python benchmarks/incomplete_training.py [--seeds 0] [--sets nltcs,wine]
"""

import argparse
import sys
import time
from pathlib import Path

import numpy as np
from sklearn.datasets import load_diabetes, load_wine
from sklearn.impute import SimpleImputer
from sklearn.model_selection import train_test_split

import rbm

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "binary"
MUSHROOM_GROUPS = [0, 6, 10, 20, 22, 31, 33, 35, 37, 49, 51, 55, 59, 68, 77, 78, 82, 85, 90,
                   99, 105, 112]
MISSING_FRACTION = 0.2
SEED = 0
REAL_SETS = {"diabetes": load_diabetes, "wine": load_wine}


def one_hot_to_labels(X, groups):
    """Each group of one-hot columns as one integer label (its column within the group)."""
    return np.stack([X[:, a:z].argmax(axis=1) for a, z in zip(groups[:-1], groups[1:])],
                    axis=1)


def load(name, n_train):
    """(train, test, estimator class) of one set."""
    if name in REAL_SETS:
        X = REAL_SETS[name]().data
        train, test = train_test_split(X, test_size=0.3, random_state=SEED)
        mean, std = train.mean(axis=0), train.std(axis=0)
        return (train - mean) / std, (test - mean) / std, rbm.GaussianBernoulliRBM
    data = np.load(DATA / f"{name}.npz")
    train, test = data["train"][:n_train].astype(float), data["test"].astype(float)
    if name == "mushrooms":
        train, test = (one_hot_to_labels(X, MUSHROOM_GROUPS) for X in (train, test))
        return train.astype(float), test.astype(float), rbm.CategoricalRBM
    return train, test, rbm.BernoulliRBM


def remove_entries(X, fraction, rng):
    gaps = X.astype(float).copy()
    gaps[rng.random(X.shape) < fraction] = np.nan
    return gaps


def contenders(train, gaps, real):
    """Label -> (training rows, extra estimator options)."""
    complete_rows = ~np.isnan(gaps).any(axis=1)
    strategy, fill = ("mean", "mean fill") if real else ("most_frequent", "mode fill")
    filled = SimpleImputer(strategy=strategy).fit_transform(gaps)
    return {"gaps (missing='impute')": (gaps, {"missing": "impute"}),
            "drop rows": (train[complete_rows], {}),
            fill: (filled, {}),
            "complete data": (train, {})}


def run(name, n_train, n_iter, categories=None, seed=SEED):
    """(label, training rows, exact mean test log-likelihood, fit seconds) per contender."""
    train, test, estimator = load(name, n_train)
    gaps = remove_entries(train, MISSING_FRACTION, np.random.default_rng(seed))
    extra = {} if categories is None else {"categories": categories(train, test)}
    rows = []
    for label, (X, options) in contenders(train, gaps, name in REAL_SETS).items():
        if len(X) < 2:
            rows.append((label, len(X), float("nan"), 0.0))  # nothing to train on
            continue
        model = estimator(n_components=16, n_iter=n_iter, random_state=seed, **extra,
                          **options)
        start = time.perf_counter()
        model.fit(X)
        seconds = time.perf_counter() - start
        rows.append((label, X.shape[0], float(model.score(test)), seconds))
    return rows


def all_categories(train, test):
    both = np.vstack([train, test])
    return [np.unique(both[:, j]) for j in range(both.shape[1])]


#: set -> (training rows, epochs, categories of CategoricalRBM or None).
SETS = {"nltcs": (16181, 20, None), "mushrooms": (2000, 100, all_categories),
        "diabetes": (None, 200, None), "wine": (None, 200, None)}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sets", default=",".join(SETS))
    parser.add_argument("--seeds", default=str(SEED),
                        help="comma-separated seeds of the mask and the models (default: 0)")
    args = parser.parse_args(argv)
    print(f"{MISSING_FRACTION:.0%} of training entries missing; exact test log-likelihood "
          "(nats per row), 16 hidden units\n")
    print("| set | seed | contender | training rows | test log-likelihood | fit seconds |")
    print("|---|---|---|---|---|---|")
    for name in args.sets.split(","):
        if name not in REAL_SETS and not (DATA / f"{name}.npz").is_file():
            print(f"skipped {name}: not found under {DATA}", file=sys.stderr)
            continue
        n_train, n_iter, categories = SETS[name]
        for seed in (int(s) for s in args.seeds.split(",")):
            for label, n_rows, score, seconds in run(name, n_train, n_iter, categories, seed):
                print(f"| {name} | {seed} | {label} | {n_rows} | {score:.3f} | {seconds:.1f} |",
                      flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
