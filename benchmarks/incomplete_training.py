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
repeats each set with other masks and model seeds (the split stays,
unless ``--vary-split``).

``--choose-epochs`` (real-valued sets, where the fixed length decides the
sign, see benchmarks/README.md): every contender gets the number of epochs
of the grid (``--grid``, by default ``EPOCH_GRID``) that its own model
scores best on a validation fifth of the training rows, as a user holding
only the rows with gaps could choose it: the validation rows keep their
gaps, and the criterion, the same for every contender, is their exact mean
log p(observed entries) (the missing entries summed out by enumerating the
hidden layer). Each contender is then refitted on all of its training rows
at that length and scored on the complete test rows as before.
``breast_cancer`` (30 real features) is an extra real-valued set. The last
lines pool the seeds: the mean paired difference of "gaps" against each
other contender, with its standard error over the seeds, after a table of
how often each contender chose each length (a length chosen at the grid's
top says the grid may cut the comparison off).

``--early-stopping`` (real-valued sets) is the user's view of the same
question: every contender is fitted once with the library's own
``early_stopping=True`` (``VALIDATION_SHARE`` of its rows held out, at most
the grid's largest number of epochs, the best epoch's parameters kept),
each on the rows it has: the model with gaps scores its validation rows by
log p(observed entries), the mean-filled one its mean-filled rows, the
others complete rows.

``--validation-grid`` (real-valued sets) measures variants of the method
without touching the test rows: a fifth of the *training* rows is held out
complete, every contender is fitted on the rest at every length of
the grid and scored there by the exact mean log-likelihood, and the
script prints each contender's mean over the seeds per length and at its
best length per seed.  Besides gaps, mean fill and complete data the
contenders are three variants of the fill of the rows with gaps
(``validation_contenders``): four independent fills per row (each row with gaps
repeated four times, in minibatches four times larger: the Monte Carlo
form of Rao-Blackwellising the positive statistics over the missing
values), fills reset to their starting draw from the marginals and moved
20 clamped steps before every pass (no persistence), and fills set to their conditional mean
E[v_mis | h] (no sampling of the missing values).  The variants patch
``MissingFill.refresh`` for the fit; they are measurements, not options of
the library.

``--holdout-test`` replaces the test rows by a held-out fifth of the
training rows (the rest are the training rows, and a real-valued set is
standardised by them alone): the protocols' answer on another set of
scored rows, the real test rows left alone.

With ``--choose-epochs``, ``--early-stopping`` or ``--validation-grid``
the default ``--sets`` are the real-valued ones.

``--vary-split`` lets each seed draw the 70/30 split of a real-valued set
too (by default every seed uses split ``SEED``).  With one split, the
standard error over seeds leaves out the sampling error of the few test
rows (54 on wine), which every seed shares; with a split per seed it is
the error of the expected difference over splits, masks and models.

    PYTHONPATH=. python benchmarks/incomplete_training.py [--seeds 0] [--sets nltcs,wine]
    PYTHONPATH=. python benchmarks/incomplete_training.py --choose-epochs --sets wine
    PYTHONPATH=. python benchmarks/incomplete_training.py --early-stopping --sets wine
    PYTHONPATH=. python benchmarks/incomplete_training.py --validation-grid --sets wine
    PYTHONPATH=. python benchmarks/incomplete_training.py --holdout-test --early-stopping --sets wine
    PYTHONPATH=. python benchmarks/incomplete_training.py --vary-split --choose-epochs --sets wine
    PYTHONPATH=. python benchmarks/incomplete_training.py --choose-epochs --grid 100,400,1600,6400
"""

import argparse
import contextlib
import functools
import sys
import time
from pathlib import Path

import numpy as np
from sklearn.datasets import load_breast_cancer, load_diabetes, load_wine
from sklearn.impute import SimpleImputer
from sklearn.model_selection import train_test_split

import rbm
from rbm import _conditional

sys.path.insert(0, str(Path(__file__).resolve().parent))  # _data beside this script
from _data import BINARY as DATA  # noqa: E402
MUSHROOM_GROUPS = [0, 6, 10, 20, 22, 31, 33, 35, 37, 49, 51, 55, 59, 68, 77, 78, 82, 85, 90,
                   99, 105, 112]
MISSING_FRACTION = 0.2
SEED = 0
REAL_SETS = {"diabetes": load_diabetes, "wine": load_wine, "breast_cancer": load_breast_cancer}
#: ``--choose-epochs``: the default candidate training lengths (``--grid``
#: overrides them), and the share of the training rows held out to choose
#: among them.
EPOCH_GRID = (100, 200, 400, 800, 1600, 3200)
VALIDATION_SHARE = 0.2
#: ``--holdout-test``: the seed of the permutation that holds a fifth of the
#: training rows out as test rows.
HOLDOUT_SEED = 777
#: ``--validation-grid``: rows with gaps repeated this many times ("K fills per row").
FILLS_PER_ROW = 4
#: ``--validation-grid``: clamped steps of a fill re-drawn from the marginals.
FRESH_FILL_STEPS = 20


def one_hot_to_labels(X, groups):
    """Each group of one-hot columns as one integer label (its column within the group)."""
    return np.stack([X[:, a:z].argmax(axis=1) for a, z in zip(groups[:-1], groups[1:])],
                    axis=1)


def standardised(train, test):
    """``train`` and ``test`` scaled by the mean and deviation of ``train`` alone."""
    mean, std = train.mean(axis=0), train.std(axis=0)
    return (train - mean) / std, (test - mean) / std


def load(name, n_train, split_seed=SEED, scale=True):
    """(train, test, estimator class) of one set; ``split_seed`` draws the
    70/30 split of a real-valued set (the DEBD sets come split), which is
    standardised by its training rows unless ``scale`` is False."""
    if name in REAL_SETS:
        X = REAL_SETS[name]().data
        train, test = train_test_split(X, test_size=0.3, random_state=split_seed)
        if scale:
            train, test = standardised(train, test)
        return train, test, rbm.GaussianBernoulliRBM
    data = np.load(DATA / f"{name}.npz")
    train, test = data["train"][:n_train].astype(float), data["test"].astype(float)
    if name == "mushrooms":
        train, test = (one_hot_to_labels(X, MUSHROOM_GROUPS) for X in (train, test))
        return train.astype(float), test.astype(float), rbm.CategoricalRBM
    return train, test, rbm.BernoulliRBM


def holdout_load(name, n_train, split_seed=SEED):
    """``load`` with a held-out fifth of the training rows as the test rows.

    A real-valued set is standardised by the rows kept for training only, so
    that the held-out rows do not shape the preprocessing."""
    train, _, estimator = load(name, n_train, split_seed, scale=False)
    order = np.random.default_rng(HOLDOUT_SEED).permutation(len(train))
    n_held = int(round(VALIDATION_SHARE * len(train)))
    kept, held = train[np.sort(order[n_held:])], train[np.sort(order[:n_held])]
    if name in REAL_SETS:
        kept, held = standardised(kept, held)
    return kept, held, estimator


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


def run(name, n_train, n_iter, categories=None, seed=SEED, loader=load):
    """(label, training rows, exact mean test log-likelihood, fit seconds) per contender."""
    train, test, estimator = loader(name, n_train)
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


def observed_log_likelihood(model, X):
    """Exact mean log p(observed entries) of rows with gaps (NaN), by
    enumerating the hidden layer (2**16 states: above what
    ``observed_log_likelihood`` enumerates by default, cheap for a few
    hundred rows, and exact where its per-row AIS would not be)."""
    observed = ~np.isnan(X)
    log_z, _ = model._log_partition_announced()
    log_p = model._exact_observed_log_p(np.where(observed, X, 0.0), observed) - log_z
    return float(np.mean(log_p))


def chosen_epochs(estimator, X, options, valid, seed, grid=EPOCH_GRID):
    """(the epochs of ``grid`` whose model fitted on X scores best on the
    validation rows ``valid`` (with gaps), each length's score)."""
    scores = [observed_log_likelihood(
        estimator(n_components=16, n_iter=n_iter, random_state=seed, **options).fit(X), valid)
        for n_iter in grid]
    return grid[int(np.argmax(scores))], scores


def run_choosing_epochs(name, seed=SEED, loader=load, grid=EPOCH_GRID):
    """``run`` with each contender's epochs chosen on a validation fifth (see
    the module docstring): (label, training rows, test log-likelihood, fit
    seconds, chosen epochs)."""
    train, test, estimator = loader(name, None)
    gaps = remove_entries(train, MISSING_FRACTION, np.random.default_rng(seed))
    order = np.random.default_rng(1000 + seed).permutation(len(gaps))
    n_valid = int(round(VALIDATION_SHARE * len(gaps)))
    held, kept = np.sort(order[:n_valid]), np.sort(order[n_valid:])
    choosing = contenders(train[kept], gaps[kept], real=True)
    rows = []
    for label, (X, options) in contenders(train, gaps, real=True).items():
        # The reference sees its validation rows complete; the others, with gaps.
        valid = train[held] if label == "complete data" else gaps[held]
        if min(len(X), len(choosing[label][0])) < 2:
            rows.append((label, len(X), float("nan"), 0.0, 0))  # nothing to train on
            continue
        n_iter, _ = chosen_epochs(estimator, choosing[label][0], options, valid, seed, grid)
        model = estimator(n_components=16, n_iter=n_iter, random_state=seed, **options)
        start = time.perf_counter()
        model.fit(X)
        seconds = time.perf_counter() - start
        rows.append((label, X.shape[0], float(model.score(test)), seconds, n_iter))
    return rows


def run_early_stopping(name, seed=SEED, loader=load, grid=EPOCH_GRID):
    """``run`` with the library's early stopping for every contender (see the
    module docstring): (label, training rows, test log-likelihood, fit
    seconds, best epoch)."""
    train, test, estimator = loader(name, None)
    gaps = remove_entries(train, MISSING_FRACTION, np.random.default_rng(seed))
    rows = []
    for label, (X, options) in contenders(train, gaps, real=True).items():
        if len(X) < 10:  # too few rows to hold a fifth out
            rows.append((label, len(X), float("nan"), 0.0, 0))
            continue
        model = estimator(n_components=16, n_iter=grid[-1], random_state=seed,
                          early_stopping=True, validation_fraction=VALIDATION_SHARE,
                          **options)
        start = time.perf_counter()
        model.fit(X)
        seconds = time.perf_counter() - start
        rows.append((label, X.shape[0], float(model.score(test)), seconds,
                     getattr(model, "best_epoch_", model.n_iter_)))
    return rows


#: The library's refresh of the fills, which the variants below replace.
LIBRARY_REFRESH = _conditional.MissingFill.refresh


@contextlib.contextmanager
def patched_refresh(refresh):
    """``MissingFill.refresh`` replaced by ``refresh`` (None: the library's) inside the block."""
    _conditional.MissingFill.refresh = refresh or LIBRARY_REFRESH
    try:
        yield
    finally:
        _conditional.MissingFill.refresh = LIBRARY_REFRESH


def fresh_refresh(fill, model, n_steps=None):
    """The fill reset to its starting draw from the marginals, then
    FRESH_FILL_STEPS clamped steps: no fill persists from pass to pass.

    The first call (before the first pass, right after the library's
    ``MissingFill.fill``) keeps a copy of that starting draw on the fill;
    later calls restore it.  Calling ``fill.fill`` again would not do: it
    drops the full mask it needs after its first draw, and its marginals
    would be those of ``fill.X``, whose gaps already hold earlier fills.
    """
    start = getattr(fill, "_benchmark_start", None)
    if start is None:
        fill._benchmark_start = fill.X[fill.rows].copy()
    else:
        fill.X[fill.rows] = start
    LIBRARY_REFRESH(fill, model, FRESH_FILL_STEPS)


def conditional_mean_refresh(fill, model, n_steps=_conditional.IMPUTE_STEPS):
    """The clamped steps of ``MissingFill.refresh``, then the missing entries set
    to E[v | h] of the last hidden samples instead of a draw from p(v | h)."""
    if not len(fill.rows):
        return
    unit = model._visible_unit
    S = np.ascontiguousarray(unit.to_kernel(fill.X[fill.rows]))
    H = model._clamped_chains(S, fill.clamp, n_steps, fill.streams)
    mean = unit.mean(H.astype(np.float64) @ model.components_.astype(np.float64)
                     + model.intercept_visible_.astype(np.float64))
    fill.X[fill.rows] = np.where(fill.clamp.astype(bool), unit.from_kernel(S), mean)


def validation_contenders(train, gaps):
    """Label -> (training rows, estimator options, refresh patch) of ``--validation-grid``."""
    base = contenders(train, gaps, real=True)
    del base["drop rows"]  # next to no complete rows on these sets
    out = {label: (X, options, None) for label, (X, options) in base.items()}
    impute = {"missing": "impute"}
    out[f"gaps, {FILLS_PER_ROW} fills per row"] = (
        np.repeat(gaps, FILLS_PER_ROW, axis=0), {**impute, "batch_size": 20 * FILLS_PER_ROW},
        None)
    out["gaps, fresh fills"] = (gaps, impute, fresh_refresh)
    out["gaps, conditional-mean fills"] = (gaps, impute, conditional_mean_refresh)
    return out


def validation_rows(name, seed=SEED, loader=load):
    """(the kept training rows, complete; the same rows with
    ``MISSING_FRACTION`` of their entries removed; a held-out fifth of the
    training rows, complete; the estimator class) of ``--validation-grid``:
    the test rows are never loaded into the result."""
    train, _, estimator = loader(name, None)
    order = np.random.default_rng(1000 + seed).permutation(len(train))
    n_valid = int(round(VALIDATION_SHARE * len(train)))
    held, kept = np.sort(order[:n_valid]), np.sort(order[n_valid:])
    gaps = remove_entries(train[kept], MISSING_FRACTION, np.random.default_rng(seed))
    return train[kept], gaps, train[held], estimator


def run_validation_grid(name, seed=SEED, loader=load, grid=EPOCH_GRID):
    """Every contender of ``validation_contenders`` at every length of
    ``grid``, scored on a held-out complete fifth of the training rows (see
    the module docstring): (label, training rows, the best length's score,
    seconds of all its fits, the best length, the scores per length)."""
    kept, gaps, held, estimator = validation_rows(name, seed, loader)
    rows = []
    for label, (X, options, refresh) in validation_contenders(kept, gaps).items():
        start = time.perf_counter()
        with patched_refresh(refresh):
            scores = [float(estimator(n_components=16, n_iter=n_iter, random_state=seed,
                                      **options).fit(X).score(held))
                      for n_iter in grid]
        best = int(np.argmax(scores))
        rows.append((label, len(kept), scores[best], time.perf_counter() - start,
                     grid[best], scores))
    return rows


def print_per_length(per_length, grid=EPOCH_GRID):
    """Mean over seeds of each contender's validation score at each length."""
    print("\n| contender | " + " | ".join(f"{n} epochs" for n in grid) + " |")
    print("|---|" + "---|" * len(grid))
    for (name, label), values in per_length.items():
        means = np.mean(values, axis=0)
        print(f"| {name}: {label} | " + " | ".join(f"{m:.3f}" for m in means) + " |")


def print_pooled(scores):
    """The mean over seeds of "gaps" minus each other contender, with its
    standard error; ``scores``: (set, label) -> one test score per seed."""
    print("\n| set | gaps minus | mean over seeds | standard error | seeds ahead |")
    print("|---|---|---|---|---|")
    gap_label = "gaps (missing='impute')"
    for (name, label), values in scores.items():
        if label == gap_label:
            continue
        diff = np.array(scores[name, gap_label]) - np.array(values)
        diff = diff[np.isfinite(diff)]  # seeds where the contender had rows to fit
        if not len(diff):
            print(f"| {name} | {label} | no rows to fit | | |")
            continue
        error = diff.std(ddof=1) / np.sqrt(len(diff)) if len(diff) > 1 else float("nan")
        print(f"| {name} | {label} | {diff.mean():+.3f} | {error:.3f} | "
              f"{int((diff > 0).sum())} of {len(diff)} |")


def print_chosen_lengths(lengths, grid):
    """How often each contender chose each length; ``lengths``: (set, label)
    -> the chosen (or, with early stopping, best) epochs per seed."""
    print("\n| set | contender | lengths chosen (epochs: seeds) | at the grid's top |")
    print("|---|---|---|---|")
    for (name, label), values in lengths.items():
        fitted = [n for n in values if n > 0]  # 0: no rows to fit on that seed
        counts = ", ".join(f"{n}: {fitted.count(n)}" for n in sorted(set(fitted)))
        unfitted = f" ({len(values) - len(fitted)} seeds without rows)" if 0 in values else ""
        at_top = sum(n >= grid[-1] for n in fitted)
        print(f"| {name} | {label} | {counts or 'none'}{unfitted} | "
              f"{at_top} of {len(fitted)} |")


def parse_grid(text):
    """The epochs of ``--grid``: comma-separated positive integers, increasing."""
    try:
        grid = tuple(int(n) for n in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"--grid takes comma-separated integers, not {text!r}")
    if min(grid) < 1 or any(a >= b for a, b in zip(grid, grid[1:])):
        raise argparse.ArgumentTypeError(
            f"--grid takes increasing positive numbers of epochs, not {text!r}")
    return grid


def all_categories(train, test):
    both = np.vstack([train, test])
    return [np.unique(both[:, j]) for j in range(both.shape[1])]


#: set -> (training rows, epochs, categories of CategoricalRBM or None).
SETS = {"nltcs": (16181, 20, None), "mushrooms": (2000, 100, all_categories),
        "diabetes": (None, 200, None), "wine": (None, 200, None),
        "breast_cancer": (None, 200, None)}


def check_sets(parser, text, protocol):
    """The names of ``--sets`` (None: the default for the protocol), checked
    before any output: unknown names, and discrete sets under a protocol
    flag, are usage errors."""
    if text is None:
        return list(REAL_SETS) if protocol else list(SETS)
    names = text.split(",")
    unknown = [name for name in names if name not in SETS]
    if unknown:
        parser.error(f"unknown set(s) {', '.join(unknown)}; valid: {', '.join(SETS)}")
    discrete = [name for name in names if name not in REAL_SETS]
    if protocol and discrete:
        parser.error(f"--choose-epochs, --early-stopping and --validation-grid take "
                     f"real-valued sets ({', '.join(REAL_SETS)}), not {', '.join(discrete)}")
    return names


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sets", default=None,
                        help="comma-separated sets (default: all of " + ", ".join(SETS)
                             + "; with --choose-epochs, --early-stopping or "
                               "--validation-grid, the real-valued ones)")
    parser.add_argument("--seeds", default=str(SEED),
                        help="comma-separated seeds of the mask and the models (default: 0)")
    protocol = parser.add_mutually_exclusive_group()
    protocol.add_argument("--choose-epochs", action="store_true",
                          help="real-valued sets: each contender's epochs chosen on a "
                               "validation fifth of its training rows (see above)")
    protocol.add_argument("--early-stopping", action="store_true",
                          help="real-valued sets: every contender with the library's "
                               "early stopping (see above)")
    protocol.add_argument("--validation-grid", action="store_true",
                          help="real-valued sets: variants of the fill at every length, "
                               "scored on a held-out fifth of the training rows (see above)")
    parser.add_argument("--holdout-test", action="store_true",
                        help="a held-out fifth of the training rows as the test rows")
    parser.add_argument("--vary-split", action="store_true",
                        help="real-valued sets: each seed draws the train/test split too")
    parser.add_argument("--grid", type=parse_grid, default=EPOCH_GRID,
                        help="comma-separated epochs: the lengths of --choose-epochs and "
                             "--validation-grid, the largest the cap of --early-stopping "
                             "(default: " + ",".join(map(str, EPOCH_GRID)) + ")")
    args = parser.parse_args(argv)
    loader = holdout_load if args.holdout_test else load
    chosen_runner = (run_choosing_epochs if args.choose_epochs
                     else run_early_stopping if args.early_stopping
                     else run_validation_grid if args.validation_grid else None)
    names = check_sets(parser, args.sets, protocol=chosen_runner is not None)
    scored = "validation" if args.validation_grid else "test"
    print(f"{MISSING_FRACTION:.0%} of training entries missing; exact {scored} log-likelihood "
          "(nats per row), 16 hidden units\n")
    extra = (" chosen epochs |" if args.choose_epochs
             else " best epoch |" if args.early_stopping
             else " best length |" if args.validation_grid else "")
    print(f"| set | seed | contender | training rows | {scored} log-likelihood | fit seconds |"
          f"{extra}")
    print("|---|---|---|---|---|---|" + ("---|" if extra else ""))
    scores, per_length, lengths = {}, {}, {}
    for name in names:
        if name not in REAL_SETS and not (DATA / f"{name}.npz").is_file():
            print(f"skipped {name}: not found under {DATA}", file=sys.stderr)
            continue
        n_train, n_iter, categories = SETS[name]
        for seed in (int(s) for s in args.seeds.split(",")):
            seed_loader = functools.partial(loader, split_seed=seed if args.vary_split else SEED)
            results = (chosen_runner(name, seed, loader=seed_loader, grid=args.grid)
                       if chosen_runner is not None
                       else run(name, n_train, n_iter, categories, seed, loader=seed_loader))
            for label, n_rows, score, seconds, *chosen in results:
                scores.setdefault((name, label), []).append(score)
                if chosen:
                    lengths.setdefault((name, label), []).append(chosen[0])
                if len(chosen) > 1:
                    per_length.setdefault((name, label), []).append(chosen[1])
                tail = f" {chosen[0]} |" if chosen else ""
                print(f"| {name} | {seed} | {label} | {n_rows} | {score:.3f} | {seconds:.1f} |"
                      f"{tail}", flush=True)
    if not scores:
        print("nothing to run: every set was skipped", file=sys.stderr)
        return 0
    if per_length:
        print_per_length(per_length, args.grid)
    if lengths:
        print_chosen_lengths(lengths, args.grid)
    print_pooled(scores)
    return 0

if __name__ == "__main__":
    sys.exit(main())
