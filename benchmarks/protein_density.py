"""Held-out log-likelihood of CategoricalRBM on protein sequence alignments.

Trains on the lattice-protein alignment in ``../shared/data/protein`` (the
last 10,000 sequences held out, as in Tubiana, Cocco & Monasson, eLife 2019)
and reports mean log-likelihood per site, train and test, for:

- an independent-sites model (add-one smoothed site frequencies), fitted in
  the same run;
- CategoricalRBM with Bernoulli hidden units, log Z by AIS (with its standard
  error);
- the published figure for their RBM with 100 dReLU hidden units: -1.800
  train, -1.813 test.

Skips cleanly (exit 0) when the data folder is absent.  Usage::

    PYTHONPATH=. python benchmarks/protein_density.py [--quick] [--set lattice]
        [--n-components 100] [--n-iter 100] [--learning-rate 0.02] [--schedule linear]
        [--hidden drelu] [--normalize-hidden] [--l1-squared 0] [--n-jobs N] [--output FILE]
"""

import argparse
import sys
import time
from pathlib import Path

import numpy as np

from rbm import CategoricalRBM

sys.path.insert(0, str(Path(__file__).resolve().parent))  # _data beside this script
from _data import PROTEIN as DEFAULT_DATA  # noqa: E402
PUBLISHED = {"lattice": (-1.800, -1.813)}
N_TEST = 10000


def load(data_dir, name):
    """(codes, alphabet) of one alignment, or None when the file is absent."""
    path = Path(data_dir) / f"{name}.npz"
    if not path.exists():
        return None
    with np.load(path) as data:
        return data["codes"].astype(np.int64), data["alphabet"]


def independent_sites(X_train, n_states):
    """Per-site log-probabilities of an add-one smoothed independent model."""
    tables = []
    for column in X_train.T:
        counts = np.bincount(column, minlength=n_states) + 1.0
        tables.append(np.log(counts / counts.sum()))
    return np.array(tables)


def independent_log_likelihood(tables, X):
    """Mean log-likelihood per site of X under the independent model."""
    return float(np.mean(tables[np.arange(X.shape[1]), X]))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", default=DEFAULT_DATA)
    parser.add_argument("--set", default="lattice", help="alignment name (lattice, ww, kunitz)")
    parser.add_argument("--quick", action="store_true", help="few epochs, for a smoke test")
    parser.add_argument("--n-components", type=int, default=100)
    parser.add_argument("--n-iter", type=int, default=100)
    parser.add_argument("--learning-rate", type=float, default=0.02)
    parser.add_argument("--weight-decay", type=float, default=0.0)
    parser.add_argument("--schedule", default="linear",
                        choices=["constant", "linear", "exponential"],
                        help="learning-rate schedule")
    parser.add_argument("--n-betas", type=int, default=10000, help="AIS temperatures")
    parser.add_argument("--hidden", default="bernoulli",
                        choices=["bernoulli", "gaussian", "relu", "drelu"],
                        help="hidden-unit type")
    parser.add_argument("--normalize-hidden", action="store_true",
                        help="normalize_hidden=True (hidden units with a learned scale: drelu)")
    parser.add_argument("--l1-squared", type=float, default=0.0,
                        help="l1_squared_weight_decay (default: %(default)s)")
    parser.add_argument("--n-jobs", type=int, default=None, help="n_jobs of the model")
    parser.add_argument("--output", help="also write the markdown table to this file")
    args = parser.parse_args()

    loaded = load(args.data_dir, args.set)
    if loaded is None:
        print(f"skipped: {args.set}.npz not found in {args.data_dir}")
        return 0
    X, alphabet = loaded
    X_train, X_test = X[:-N_TEST], X[-N_TEST:]
    n_states = len(alphabet)
    n_iter = 3 if args.quick else args.n_iter
    n_betas = 1000 if args.quick else args.n_betas

    tables = independent_sites(X_train, n_states)
    rows = [("independent sites", independent_log_likelihood(tables, X_train),
             independent_log_likelihood(tables, X_test), "", "")]

    model = CategoricalRBM(
        n_components=args.n_components, categories=[list(range(n_states))] * X.shape[1],
        learning_rate=args.learning_rate, n_iter=n_iter, batch_size=100, n_chains=100,
        momentum=0.5, weight_decay=args.weight_decay, random_state=0,
        learning_rate_schedule=args.schedule, hidden=args.hidden,
        normalize_hidden=args.normalize_hidden, l1_squared_weight_decay=args.l1_squared,
        n_jobs=args.n_jobs,
    )
    start = time.perf_counter()
    model.fit(X_train)
    fit_seconds = time.perf_counter() - start
    start = time.perf_counter()
    log_z, error = model.log_partition(method="ais", n_chains=100, n_betas=n_betas,
                                       random_state=0)
    ais_seconds = time.perf_counter() - start
    n_sites = X.shape[1]
    per_site = lambda data: model.score(data) / n_sites
    rows.append((
        f"CategoricalRBM ({args.n_components} {args.hidden} hidden)", per_site(X_train),
        per_site(X_test), f"± {error / n_sites:.4f}",
        f"fit {fit_seconds:.0f} s, AIS {ais_seconds:.0f} s",
    ))
    if args.set in PUBLISHED:
        train, test = PUBLISHED[args.set]
        rows.append(("Tubiana et al. 2019 (100 dReLU hidden, published)", train, test, "", ""))

    settings = (f"{len(X_train)} train / {len(X_test)} test sequences, {n_sites} sites, "
                f"{n_states} states; lr {args.learning_rate} ({args.schedule}), {n_iter} epochs, batch 100, "
                f"100 chains, momentum 0.5, weight decay {args.weight_decay}, "
                f"l1_squared_weight_decay {args.l1_squared:g}, "
                f"normalize_hidden={args.normalize_hidden}; "
                f"AIS 100 chains x {n_betas} temperatures")
    lines = [f"{args.set}: {settings}", "",
             "| model | train (nats/site) | test (nats/site) | AIS SE | time |",
             "|---|---:|---:|---:|---|"]
    lines += [f"| {name} | {train:.4f} | {test:.4f} | {se} | {t} |"
              for name, train, test, se, t in rows]
    text = "\n".join(lines)
    print(text)
    if args.output:
        Path(args.output).write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
