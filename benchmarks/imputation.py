"""Imputation: RBMImputer against scikit-learn's imputers and per-column gradient boosting.

For each set, the imputers are fitted on complete training rows; then 20% of
the *test* entries are removed at random (per entry; the same mask for every
imputer) and each imputer fills them in.  Scores over the removed entries:

* discrete sets: **accuracy** (the imputed value equals the removed one);
* real-valued sets: **RMSE** in standardised units (each column divided by
  its training standard deviation).

For discrete sets a paired comparison goes to standard error: the removed
entries only RBMImputer got right and only each other contender got right,
with the standard error of the accuracy difference they imply.

Contenders:

* **RBMImputer**: ``rbm.RBMImputer(random_state=0)``, its defaults: the
  estimator it picks from the training data (``rbm.impute.default_estimator``;
  for categorical sets told every label of train and test, as the other
  contenders' one-hot codec is), posterior mode (discrete) or conditional
  mean (real).
* **Simple**: ``SimpleImputer`` (most frequent value; mean for real sets).
* **KNN**: ``KNNImputer(n_neighbors=5)`` on one-hot columns for categorical
  sets (each feature's block then decoded by its largest value), 0/1 columns
  rounded.
* **Iterative**: ``IterativeImputer`` (BayesianRidge, 5 rounds, the 40
  nearest features), decoded as KNN's.
* **HGB per column**: one ``HistGradientBoostingClassifier`` (regressor for
  real sets) per column, trained on the training rows with 20% of the other
  columns' entries removed at random (native missing-value support;
  categorical codes as categorical features), predicting its column from
  the test row's observed entries.

Sets (``../shared/data``, skipped cleanly where absent): binary nltcs and
plants; DEBD mushrooms (21 attributes) and dna (60 positions x 4 states)
decoded to categorical labels; the protein alignments ww, kunitz and lattice
(sites as categorical features); and scikit-learn's bundled breast_cancer,
wine and diabetes (real, 70/30 split).  Rows are subsampled (``--train``,
``--test``) so the run takes minutes.

    OMP_NUM_THREADS=1 PYTHONPATH=. python benchmarks/imputation.py [--sets nltcs,wine] \
        [--train 3000 --test 1000] [--imputers RBMImputer,KNN] [--seed 0]

On a machine shared with other jobs, ``OMP_NUM_THREADS=1`` keeps
HistGradientBoosting's OpenMP threads from spinning on busy cores (per-column
HGB on nltcs took minutes instead of 6.5 s); no result depends on it.
RBMImputer's default rule was chosen on validation rows carved out of each
set's training rows, never on these test rows (``imputation_select.py``).
"""

import argparse
import sys
import time
from pathlib import Path

import numpy as np
from sklearn.datasets import load_breast_cancer, load_diabetes, load_wine
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
from sklearn.experimental import enable_iterative_imputer  # noqa: F401
from sklearn.impute import IterativeImputer, KNNImputer, SimpleImputer
from sklearn.model_selection import train_test_split

import rbm
from rbm.impute import default_estimator

sys.path.insert(0, str(Path(__file__).resolve().parent))  # _data beside this script
from _data import DATA_ROOT as DATA  # noqa: E402
MUSHROOM_GROUPS = [0, 6, 10, 20, 22, 31, 33, 35, 37, 49, 51, 55, 59, 68, 77, 78, 82, 85, 90,
                   99, 105, 112]
MISSING_FRACTION = 0.2
SEED = 0
#: set -> kind of data.
SETS = {
    "nltcs": "binary",
    "plants": "binary",
    "mushrooms": "categorical",
    "dna": "categorical",
    "ww": "categorical",
    "kunitz": "categorical",
    "lattice": "categorical",
    "breast_cancer": "real",
    "wine": "real",
    "diabetes": "real",
}


# --------------------------------------------------------------------------
# Data
# --------------------------------------------------------------------------


def one_hot_to_labels(X, groups):
    return np.stack([X[:, a:z].argmax(axis=1) for a, z in zip(groups[:-1], groups[1:])],
                    axis=1)


def dna_labels(X):
    """60 positions x 3 bits, the all-zero pattern the fourth state (code 3)."""
    blocks = X.reshape(len(X), 60, 3)
    return np.where(blocks.any(axis=2), blocks.argmax(axis=2), 3)


def load(name, n_train, n_test, rng, seed=SEED):
    """(train, test) arrays: 0/1 floats, integer labels or real values.  The
    DEBD sets keep their own split (the first rows of each); the protein
    alignments are split by ``rng``, the real sets by ``seed``."""
    if name in ("breast_cancer", "wine", "diabetes"):
        X = {"breast_cancer": load_breast_cancer, "wine": load_wine,
             "diabetes": load_diabetes}[name]().data
        return train_test_split(X, test_size=0.3, random_state=seed)
    if name in ("ww", "kunitz", "lattice"):
        codes = np.load(DATA / "protein" / f"{name}.npz")["codes"].astype(np.int64)
        order = rng.permutation(len(codes))
        return codes[order[:n_train]], codes[order[n_train:n_train + n_test]]
    data = np.load(DATA / "binary" / f"{name}.npz")
    train, test = data["train"][:n_train], data["test"][:n_test]
    if name == "mushrooms":
        return one_hot_to_labels(train, MUSHROOM_GROUPS), one_hot_to_labels(test,
                                                                            MUSHROOM_GROUPS)
    if name == "dna":
        return dna_labels(train), dna_labels(test)
    return train.astype(float), test.astype(float)


def available(name):
    if name in ("breast_cancer", "wine", "diabetes"):
        return True
    folder = "protein" if name in ("ww", "kunitz", "lattice") else "binary"
    return (DATA / folder / f"{name}.npz").is_file()


# --------------------------------------------------------------------------
# Contenders: each maps (train, test with NaN) to the completed test rows
# --------------------------------------------------------------------------


class OneHot:
    """Integer labels <-> one-hot float columns with NaN blocks for missing labels."""

    def __init__(self, train, test):
        both = np.vstack([train, np.nan_to_num(test, nan=train[0])]).astype(np.int64)
        self.sizes = both.max(axis=0) + 1
        self.offsets = np.concatenate([[0], np.cumsum(self.sizes)])

    def encode(self, labels):
        out = np.zeros((len(labels), self.offsets[-1]))
        for j, (a, q) in enumerate(zip(self.offsets[:-1], self.sizes)):
            column = labels[:, j]
            known = ~np.isnan(column)
            out[np.flatnonzero(known), a + column[known].astype(np.int64)] = 1
            out[~known, a:a + q] = np.nan
        return out

    def decode(self, X):
        return np.stack([X[:, a:a + q].argmax(axis=1)
                         for a, q in zip(self.offsets[:-1], self.sizes)], axis=1)


def numeric_imputer(imputer, kind):
    def fill(train, test):
        if kind == "categorical":
            codec = OneHot(train, test)
            return codec.decode(imputer.fit(codec.encode(train.astype(float))).transform(
                codec.encode(test)))
        out = imputer.fit(train).transform(test)
        return np.round(out) if kind == "binary" else out
    return fill


def fitted_rbm_imputer(kind, train, test, rule=None, seed=SEED):
    """(RBMImputer fitted to train, test as it takes it).  Its defaults
    (``rule``: another ``rbm.impute.DefaultRule``, for ``imputation_select.py``);
    for categorical sets the default estimator is told every label of train
    and test (as the one-hot codec of the other contenders is), so that a
    test row's label unseen in training is not an error."""
    imputer = rbm.RBMImputer(random_state=seed)
    if kind == "categorical":
        codec = OneHot(train, test)
        train = train.astype(np.int64).astype(object)
        test = np.where(np.isnan(test), None, test).astype(object)
        test = np.vectorize(lambda v: v if v is None else int(v), otypes=[object])(test)
        estimator = default_estimator(train, np.zeros(train.shape, bool), seed, rule)
        imputer.set_params(estimator=estimator.set_params(
            categories=[np.arange(q) for q in codec.sizes]))
    elif rule is not None:
        imputer.set_params(estimator=default_estimator(train, np.isnan(train), seed, rule))
    return imputer.fit(train), test


def rbm_imputer(kind, rule=None, seed=SEED):
    """RBMImputer with its defaults (or ``rule``), see ``fitted_rbm_imputer``."""
    def fill(train, test):
        imputer, test = fitted_rbm_imputer(kind, train, test, rule, seed)
        return imputer.transform(test).astype(float)
    return fill


def hgb_per_column(kind, seed=SEED):
    def fill(train, test):
        rng = np.random.default_rng(seed + 1)
        out = test.copy()
        categorical = kind == "categorical"
        for j in range(train.shape[1]):
            missing = np.isnan(test[:, j])
            if not missing.any():
                continue
            others = np.delete(train, j, axis=1).astype(float)
            others[rng.random(others.shape) < MISSING_FRACTION] = np.nan
            target = train[:, j]
            if kind == "real":
                model = HistGradientBoostingRegressor(random_state=seed)
            elif len(np.unique(target)) == 1:
                out[missing, j] = target[0]
                continue
            else:
                model = HistGradientBoostingClassifier(
                    random_state=seed,
                    categorical_features=np.ones(others.shape[1], bool) if categorical
                    else None)
            model.fit(others, target)
            out[missing, j] = model.predict(np.delete(test[missing], j, axis=1))
        return out
    return fill


def contenders(kind, seed=SEED):
    """Label -> fill(train, test with NaN) of every contender, seeded by ``seed``."""
    simple = "mean" if kind == "real" else "most_frequent"
    return {
        "RBMImputer": rbm_imputer(kind, seed=seed),
        "Simple": numeric_imputer(SimpleImputer(strategy=simple), kind),
        "KNN": numeric_imputer(KNNImputer(n_neighbors=5), kind),
        "Iterative": numeric_imputer(IterativeImputer(max_iter=5, n_nearest_features=40,
                                                      random_state=seed), kind),
        "HGB per column": hgb_per_column(kind, seed),
    }


# --------------------------------------------------------------------------
# Scoring
# --------------------------------------------------------------------------


def score(kind, truth, completed, removed, scale):
    if kind == "real":
        error = (completed - truth) / scale
        return float(np.sqrt(np.mean(error[removed] ** 2)))
    return float(np.mean(completed[removed] == truth[removed]))


def run_set(name, n_train, n_test, imputers=None, seed=SEED):
    """(kind, train shape, test shape, label -> (score, seconds)) of one set.
    ``seed`` draws the split (protein and real sets), the mask of removed
    test entries and every contender's own seed; SEED reproduces the tables
    of benchmarks/README.md."""
    kind = SETS[name]
    rng = np.random.default_rng(seed)
    train, test = load(name, n_train, n_test, rng, seed)
    train, test = train.astype(float), test.astype(float)
    removed = np.random.default_rng(seed + 2).random(test.shape) < MISSING_FRACTION
    gappy = test.copy()
    gappy[removed] = np.nan
    scale = train.std(axis=0) if kind == "real" else None
    if kind == "real":
        scale = np.where(scale > 0, scale, 1.0)
    results, right = {}, {}
    for label, fill in contenders(kind, seed).items():
        if imputers is not None and label not in imputers:
            continue
        start = time.perf_counter()
        completed = np.asarray(fill(train, gappy), dtype=float)
        results[label] = (score(kind, test, completed, removed, scale),
                          time.perf_counter() - start)
        right[label] = completed[removed] == test[removed]
        print(f"  {name} seed {seed} {label}: {results[label][0]:.4f} "
              f"({results[label][1]:.1f} s)",
              file=sys.stderr, flush=True)
    if kind != "real":
        paired_report(name, seed, right)
    return kind, train.shape, test.shape, results


def paired_report(name, seed, right):
    """RBMImputer against each other contender on the same removed entries:
    entries only it got right (+), only the other got right (-), and the
    standard error of the accuracy difference from those discordant pairs
    (McNemar's view: the entries both get right or wrong say nothing)."""
    if "RBMImputer" not in right:
        return
    ours = right["RBMImputer"]
    for label, theirs in right.items():
        if label == "RBMImputer":
            continue
        wins, losses, n = int(np.sum(ours & ~theirs)), int(np.sum(~ours & theirs)), ours.size
        difference = (wins - losses) / n
        se = np.sqrt(max(wins + losses - (wins - losses) ** 2 / n, 0.0)) / n
        print(f"  paired {name} seed {seed} RBMImputer vs {label}: +{wins} -{losses} of {n} "
              f"entries, difference {difference:+.4f} (paired SE {se:.4f})",
              file=sys.stderr, flush=True)


LABELS = ["RBMImputer", "Simple", "KNN", "Iterative", "HGB per column"]


def table(rows):
    labels = [l for l in LABELS if any(l in r[3] for r in rows.values())]
    lines = ["| set | kind | train x features | metric | " + " | ".join(labels) + " |",
             "|---|---|---|---|" + "---|" * len(labels)]
    for name, (kind, train_shape, _, results) in rows.items():
        metric = "RMSE (lower better)" if kind == "real" else "accuracy"
        cells = [f"{results[l][0]:.4f}" for l in labels]
        lines.append(f"| {name} | {kind} | {train_shape[0]} x {train_shape[1]} | {metric} | "
                     + " | ".join(cells) + " |")
    lines += ["", "Seconds (fit + transform):", "",
              "| set | " + " | ".join(labels) + " |", "|---|" + "---|" * len(labels)]
    for name, (_, _, _, results) in rows.items():
        lines.append(f"| {name} | " + " | ".join(f"{results[l][1]:.1f}" for l in labels)
                     + " |")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sets", default=",".join(SETS))
    parser.add_argument("--train", type=int, default=3000)
    parser.add_argument("--test", type=int, default=1000)
    parser.add_argument("--imputers", default=",".join(LABELS),
                        help="comma-separated contenders to run (default: all)")
    parser.add_argument("--seed", type=int, default=SEED,
                        help="seed of the split (protein and real sets), the removed "
                             f"entries and every contender (default: {SEED}, the tables "
                             "of benchmarks/README.md)")
    args = parser.parse_args(argv)
    imputers = args.imputers.split(",")
    unknown = set(imputers) - set(LABELS)
    if unknown:
        parser.error(f"unknown imputers {sorted(unknown)}; choose among {LABELS}")
    names = args.sets.split(",")
    unknown_sets = [name for name in names if name not in SETS]
    if unknown_sets:
        parser.error(f"unknown sets {unknown_sets}; choose among {list(SETS)}")
    rows = {}
    for name in names:
        if not available(name):
            print(f"skipped {name}: its data file is not under {DATA}", file=sys.stderr)
            continue
        rows[name] = run_set(name, args.train, args.test, imputers, args.seed)
    if not rows:
        print("nothing to run: every set was skipped", file=sys.stderr)
        return 0
    print(f"seed {args.seed}, --train {args.train} --test {args.test}\n")
    print(table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
