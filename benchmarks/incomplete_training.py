"""Training on incomplete data: missing="impute" against dropping rows and mode filling.

20% of the *training* entries are removed at random (per entry, the same
mask for every contender); every contender trains the same RBM (same
hyperparameters, seed and epochs) and is scored by the *exact* mean test
log-likelihood (nats per row) on the complete test rows:

* **gaps (missing="impute")**: fitted on the rows with gaps; the positive
  phase fills each row's missing entries by clamped Gibbs under the current
  model (``rbm._conditional.MissingFill``);
* **drop rows**: fitted on the complete training rows only;
* **mode fill**: missing entries set to the column's most frequent observed
  value (``SimpleImputer(strategy="most_frequent")``), then fitted;
* **complete data**: fitted on the training data before removal (the
  reference no method with gaps can beat on average).

Sets: nltcs (16 binary features, BernoulliRBM) and mushrooms as 21
categorical attributes (CategoricalRBM); both with 16 hidden units, so log Z
is exact by enumerating the hidden layer.  Skips cleanly where
``../shared/data`` is absent.

    PYTHONPATH=. python benchmarks/incomplete_training.py
"""

import sys
import time
from pathlib import Path

import numpy as np
from sklearn.impute import SimpleImputer

import rbm

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "binary"
MUSHROOM_GROUPS = [0, 6, 10, 20, 22, 31, 33, 35, 37, 49, 51, 55, 59, 68, 77, 78, 82, 85, 90,
                   99, 105, 112]
MISSING_FRACTION = 0.2
SEED = 0


def one_hot_to_labels(X, groups):
    """Each group of one-hot columns as one integer label (its column within the group)."""
    return np.stack([X[:, a:z].argmax(axis=1) for a, z in zip(groups[:-1], groups[1:])],
                    axis=1)


def load(name, n_train):
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


def contenders(train, gaps):
    complete_rows = ~np.isnan(gaps).any(axis=1)
    mode = SimpleImputer(strategy="most_frequent").fit_transform(gaps)
    return {"gaps (missing='impute')": (gaps, {"missing": "impute"}),
            "drop rows": (train[complete_rows], {}),
            "mode fill": (mode, {}),
            "complete data": (train, {})}


def run(name, n_train, n_iter, categories=None):
    train, test, estimator = load(name, n_train)
    gaps = remove_entries(train, MISSING_FRACTION, np.random.default_rng(SEED))
    extra = {} if categories is None else {"categories": categories(train, test)}
    rows = []
    for label, (X, options) in contenders(train, gaps).items():
        model = estimator(n_components=16, n_iter=n_iter, random_state=SEED, **extra,
                          **options)
        start = time.perf_counter()
        model.fit(X)
        seconds = time.perf_counter() - start
        rows.append((label, X.shape[0], float(model.score(test)), seconds))
    return rows


def all_categories(train, test):
    both = np.vstack([train, test])
    return [np.unique(both[:, j]) for j in range(both.shape[1])]


def main():
    if not DATA.is_dir():
        print(f"skipped: {DATA} not found")
        return 0
    print(f"{MISSING_FRACTION:.0%} of training entries missing; exact test log-likelihood "
          "(nats per row), 16 hidden units\n")
    print("| set | contender | training rows | test log-likelihood | fit seconds |")
    print("|---|---|---|---|---|")
    for name, n_train, n_iter, categories in [("nltcs", 16181, 20, None),
                                              ("mushrooms", 2000, 100, all_categories)]:
        for label, n_rows, score, seconds in run(name, n_train, n_iter, categories):
            print(f"| {name} | {label} | {n_rows} | {score:.3f} | {seconds:.1f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
