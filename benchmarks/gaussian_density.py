"""Held-out log-likelihood of GaussianBernoulliRBM against Gaussian mixtures.

One run, on standardised data bundled with scikit-learn (wine, breast cancer,
digits reduced to 20 dimensions by PCA) and on data drawn from a known
Gaussian-Bernoulli RBM whose density is computable, reports the mean test
log-density (nats per sample) of:

- a single Gaussian with full covariance,
- scikit-learn's GaussianMixture, diagonal and full covariance, with the number
  of components chosen on a validation split,
- ours, with hidden units, learning rate and epochs chosen on the same split
  (exact log-likelihood: the hidden layers tried are small enough to enumerate),
- on the synthetic set, the true model.

Splits are 60/20/20 (train/validation/test), scaled with the training split's
mean and standard deviation.  Usage::

    PYTHONPATH=. python benchmarks/gaussian_density.py [--quick] [--output FILE]
"""

import argparse
import itertools
import time

import numpy as np
from scipy.special import logsumexp
from sklearn.datasets import load_breast_cancer, load_digits, load_wine
from sklearn.decomposition import PCA
from sklearn.mixture import GaussianMixture
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from rbm import GaussianBernoulliRBM


# --------------------------------------------------------------------------
# Data
# --------------------------------------------------------------------------

def split_and_scale(X, seed=0, pca_components=None):
    """(train, validation, test), 60/20/20, standardised with the training split.

    With ``pca_components``, the rows are first projected on that many
    principal components fitted on the training split alone, so that the
    held-out rows do not shape the preprocessing.
    """
    X_train, X_rest = train_test_split(X, test_size=0.4, random_state=seed)
    X_valid, X_test = train_test_split(X_rest, test_size=0.5, random_state=seed)
    if pca_components is not None:
        pca = PCA(n_components=pca_components, random_state=0).fit(X_train)
        X_train, X_valid, X_test = (pca.transform(part) for part in (X_train, X_valid, X_test))
    scaler = StandardScaler().fit(X_train)
    return tuple(scaler.transform(part) for part in (X_train, X_valid, X_test))


class KnownRBM:
    """A Gaussian-Bernoulli RBM given as its exact mixture of 2**n_hidden Gaussians."""

    def __init__(self, n_visible=8, n_hidden=4, seed=0):
        rng = np.random.default_rng(seed)
        W = rng.normal(0.0, 1.0, (n_hidden, n_visible))
        b = rng.normal(0.0, 0.5, n_visible)
        c = rng.normal(-0.5, 0.5, n_hidden)
        self.sigma = rng.uniform(0.4, 0.8, n_visible)
        H = np.array(list(itertools.product([0.0, 1.0], repeat=n_hidden)))
        self.means = b + H @ W
        log_mass = H @ c + ((self.means**2 - b**2) / (2 * self.sigma**2)).sum(axis=1)
        self.log_weights = log_mass - logsumexp(log_mass)
        self.rng = rng

    def sample(self, n):
        k = self.rng.choice(len(self.means), size=n, p=np.exp(self.log_weights))
        return self.means[k] + self.sigma * self.rng.standard_normal((n, len(self.sigma)))

    def log_density(self, X):
        z = (X[:, None, :] - self.means[None]) / self.sigma
        component = (-0.5 * (z**2).sum(axis=2) - np.log(self.sigma).sum()
                     - 0.5 * len(self.sigma) * np.log(2 * np.pi))
        return logsumexp(component + self.log_weights, axis=1)


def datasets(quick):
    """name -> (train, validation, test[, true model]) for every benchmark set."""
    sets = {
        "wine": split_and_scale(load_wine().data),
        "breast cancer": split_and_scale(load_breast_cancer().data),
        "digits (PCA 20)": split_and_scale(load_digits().data, pca_components=20),
    }
    truth = KnownRBM()
    n = 4000 if quick else 20000
    # The synthetic set is used as drawn (not rescaled), so the true density applies.
    sets["known GB-RBM (8 x 4)"] = (truth.sample(n), truth.sample(n // 4),
                                    truth.sample(n // 2), truth)
    return sets


# --------------------------------------------------------------------------
# Models
# --------------------------------------------------------------------------

def timed(fit):
    start = time.perf_counter()
    model = fit()
    return model, time.perf_counter() - start


def best_mixture(X_train, X_valid, covariance, components):
    """GaussianMixture with the number of components best on validation."""
    best = None
    for k in components:
        if k * (X_train.shape[1] + 1) > len(X_train):
            break
        model, seconds = timed(lambda: GaussianMixture(
            k, covariance_type=covariance, n_init=2, reg_covar=1e-4, random_state=0
        ).fit(X_train))
        score = model.score(X_valid)
        if best is None or score > best[0]:
            best = (score, model, seconds, f"{k} components")
    return best


def rbm_grid(quick):
    if quick:
        return [dict(n_components=8, learning_rate=0.01, n_iter=30)]
    return [
        dict(n_components=n, learning_rate=lr, n_iter=epochs)
        for n in (4, 8, 16) for lr in (0.01, 0.003) for epochs in (100, 300)
    ]


def best_rbm(X_train, X_valid, quick):
    """GaussianBernoulliRBM with the settings best on validation (exact log Z)."""
    best = None
    for settings in rbm_grid(quick):
        # About 100 minibatches an epoch (at least 10 rows each): the epochs are
        # the grid's, so larger sets get more rows per update, not fewer epochs.
        batch = max(10, len(X_train) // 100)
        model, seconds = timed(lambda: GaussianBernoulliRBM(
            batch_size=batch, n_chains=100, momentum=0.5, random_state=0, **settings
        ).fit(X_train))
        score = model.score(X_valid)
        if best is None or score > best[0]:
            label = ", ".join(f"{k}={v}" for k, v in settings.items())
            best = (score, model, seconds, label)
    return best


# --------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------

def run(quick):
    rows = []
    for name, data in datasets(quick).items():
        X_train, X_valid, X_test = data[:3]
        truth = data[3] if len(data) > 3 else None
        single, single_seconds = timed(
            lambda: GaussianMixture(1, covariance_type="full", reg_covar=1e-4).fit(X_train))
        diag = best_mixture(X_train, X_valid, "diag", [1, 2, 4, 8, 16, 32, 64])
        full = best_mixture(X_train, X_valid, "full", [1, 2, 3, 4, 6, 8, 12, 16])
        ours = best_rbm(X_train, X_valid, quick)
        row = {
            "set": name,
            "shape": f"{len(X_train)} x {X_train.shape[1]}",
            "true model": float(np.mean(truth.log_density(X_test))) if truth else None,
            "single Gaussian": (single.score(X_test), single_seconds, "full covariance"),
            "GMM diagonal": (diag[1].score(X_test), diag[2], diag[3]),
            "GMM full": (full[1].score(X_test), full[2], full[3]),
            "GaussianBernoulliRBM": (ours[1].score(X_test), ours[2], ours[3]),
        }
        rows.append(row)
        print(format_row(row), flush=True)
    return rows


MODELS = ["single Gaussian", "GMM diagonal", "GMM full", "GaussianBernoulliRBM"]


def format_row(row):
    cells = [row["set"], row["shape"]]
    cells.append("" if row["true model"] is None else f"{row['true model']:.3f}")
    for name in MODELS:
        score, seconds, _ = row[name]
        cells.append(f"{score:.3f} ({seconds:.1f} s)")
    return "| " + " | ".join(cells) + " |"


def table(rows):
    header = ["set", "train n x d", "true model"] + MODELS
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += [format_row(row) for row in rows]
    lines.append("")
    lines.append("Settings chosen on validation:")
    for row in rows:
        chosen = "; ".join(f"{name}: {row[name][2]}" for name in MODELS[1:])
        lines.append(f"- {row['set']}: {chosen}")
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny grid, for a smoke test")
    parser.add_argument("--output", help="also write the markdown table to this file")
    args = parser.parse_args()
    print("Mean held-out log-density, nats per sample (training time in brackets)\n")
    rows = run(args.quick)
    text = table(rows)
    print("\n" + text)
    if args.output:
        with open(args.output, "w") as f:
            f.write(text + "\n")


if __name__ == "__main__":
    main()
