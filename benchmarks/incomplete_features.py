"""Where training on rows with gaps gains or loses against mean filling, per feature.

A diagnosis of ``incomplete_training.py`` on the real-valued sets, on
validation rows only (``incomplete_training.validation_rows``: a fifth of
the training rows held out complete, 20% of the other rows' entries
removed; the test rows are never loaded). Each contender ("gaps",
``missing="impute"``; "mean fill"; "complete data") is fitted at each
length of ``--lengths`` (GaussianBernoulliRBM, 16 hidden units, the
library's defaults otherwise) and the held-out rows are scored exactly (log
Z and every marginal by enumerating the 2**16 hidden states):

* the mean log-likelihood, nats per row;
* per feature, the mean conditional log-likelihood log p(v_i | v_-i) =
  log p(v) - log p(v_-i), the feature summed out exactly: which features
  carry a difference between contenders;
* per feature, how often its learned sigma ended at its floor
  (``sigma_floor`` times the feature's standard deviation in the rows the
  contender was fitted on; the floor binds where a feature takes few
  values, such as diabetes' two-valued ``sex``).

    PYTHONPATH=. python benchmarks/incomplete_features.py --set diabetes --seeds 0,1,2,3,4 --lengths 800,3200,12800 --vary-split
"""

import argparse
import functools
import sys
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import incomplete_training  # noqa: E402  (the benchmark this one diagnoses)

#: The contenders diagnosed (labels of ``incomplete_training.contenders``).
LABELS = ("gaps (missing='impute')", "mean fill", "complete data")


def conditional_log_likelihoods(model, V):
    """(n_samples, n_features) exact log p(v_i | v_-i) of the complete rows V
    under ``model``: log p(v) less log p(v_-i), feature i summed out by
    enumerating the hidden layer (log Z cancels)."""
    joint = -model._free_energy(V)
    out = np.empty(V.shape)
    for i in range(V.shape[1]):
        observed = np.ones(V.shape, dtype=bool)
        observed[:, i] = False
        out[:, i] = joint - model._exact_observed_log_p(np.where(observed, V, 0.0), observed)
    return out


def diagnose(name, seed, lengths, vary_split=False, learning_rate="auto"):
    """Yield (label, epochs, mean held-out log-likelihood, mean log p(v_i |
    v_-i) per feature, sigma at its floor per feature, fit seconds); with
    ``vary_split`` the seed draws the train/test split too; every model
    takes ``learning_rate``."""
    loader = functools.partial(incomplete_training.load,
                               split_seed=seed if vary_split else incomplete_training.SEED)
    kept, gaps, held, estimator = incomplete_training.validation_rows(name, seed, loader)
    contenders = incomplete_training.contenders(kept, gaps, real=True)
    for label in LABELS:
        X, options = contenders[label]
        for n_iter in lengths:
            start = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # the sigma-floor warning: reported below
                model = estimator(n_components=16, n_iter=n_iter, random_state=seed,
                                  learning_rate=learning_rate, **options).fit(X)
            seconds = time.perf_counter() - start
            yield (label, n_iter, float(model.score(held)),
                   conditional_log_likelihoods(model, held).mean(axis=0),
                   model._visible_unit.sigma_at_floor(), seconds)


def print_tables(name, results, lengths, feature_names):
    """Mean over seeds per contender and length; ``results``: (label,
    epochs) -> list of (score, per-feature, at-floor) per seed."""
    print(f"\n{name}: held-out log-likelihood and log p(v_i | v_-i) per feature "
          "(mean over seeds; floor: seeds with sigma at its floor)\n")
    print("| contender | epochs | log-likelihood | " + " | ".join(feature_names) + " |")
    print("|---|---|---|" + "---|" * len(feature_names))
    for (label, n_iter), values in results.items():
        scores, features, floors = zip(*values)
        per_feature = np.mean(features, axis=0)
        at_floor = np.sum(floors, axis=0)
        cells = [f"{m:.2f}" + (f" (floor {k})" if k else "")
                 for m, k in zip(per_feature, at_floor)]
        print(f"| {label} | {n_iter} | {np.mean(scores):.3f} | " + " | ".join(cells) + " |")
    print("\n| gaps minus | epochs | log-likelihood (± s.e., seeds ahead) | "
          + " | ".join(feature_names) + " |")
    print("|---|---|---|" + "---|" * len(feature_names))
    for other in LABELS[1:]:
        for n_iter in lengths:
            gaps = results[LABELS[0], n_iter]
            them = results[other, n_iter]
            diff = np.array([a[0] - b[0] for a, b in zip(gaps, them)])
            error = diff.std(ddof=1) / np.sqrt(len(diff)) if len(diff) > 1 else float("nan")
            per_feature = np.mean([a[1] - b[1] for a, b in zip(gaps, them)], axis=0)
            print(f"| {other} | {n_iter} | {diff.mean():+.3f} ± {error:.3f} "
                  f"({int((diff > 0).sum())} of {len(diff)}) | "
                  + " | ".join(f"{m:+.2f}" for m in per_feature) + " |")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--set", default="diabetes", choices=sorted(incomplete_training.REAL_SETS))
    parser.add_argument("--seeds", default="0,1,2,3,4")
    parser.add_argument("--lengths", type=incomplete_training.parse_grid, default=(3200, 12800))
    parser.add_argument("--vary-split", action="store_true",
                        help="each seed draws the train/test split too (as in "
                             "incomplete_training.py)")
    parser.add_argument("--learning-rate", type=float, default=None,
                        help="of every model (default: the library's 'auto')")
    args = parser.parse_args(argv)
    lengths = args.lengths
    feature_names = list(incomplete_training.REAL_SETS[args.set]().feature_names)
    results = {(label, n): [] for label in LABELS for n in lengths}
    for seed in (int(s) for s in args.seeds.split(",")):
        for label, n_iter, score, per_feature, at_floor, seconds in diagnose(
                args.set, seed, lengths, args.vary_split,
                args.learning_rate if args.learning_rate is not None else "auto"):
            results[label, n_iter].append((score, per_feature, at_floor))
            print(f"{args.set} seed {seed} | {label} | {n_iter} epochs | {score:.3f} | "
                  f"floor at {[feature_names[i] for i in np.flatnonzero(at_floor)]} | "
                  f"{seconds:.1f} s", flush=True)
    print_tables(args.set, results, lengths, feature_names)
    return 0


if __name__ == "__main__":
    sys.exit(main())
