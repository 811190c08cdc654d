"""``python -m rbm``: train a BernoulliRBM on scikit-learn's digits, no download.

1. Density estimation: an RBM with 20 hidden units on the digits binarised at
   0.5, its exact held-out log-likelihood beside an independent-pixel model.
2. Features: logistic regression on RBM features against one on raw pixels.
"""

import argparse
import time

import numpy as np
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import MinMaxScaler

from . import BernoulliRBM


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m rbm",
        description="Train a BernoulliRBM on scikit-learn's bundled digits.",
    )
    parser.add_argument("--n-components", type=int, default=20,
                        help="hidden units of the density model (default: 20)")
    parser.add_argument("--epochs", type=int, default=600,
                        help="training epochs of the density model (default: 600)")
    parser.add_argument("--feature-components", type=int, default=256,
                        help="hidden units of the feature model (default: 256)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    parser.add_argument("--quiet", action="store_true", help="no per-epoch progress")
    return parser.parse_args(argv)


def independent_pixels_loglik(X_train, X_test):
    """Mean held-out log-likelihood of independent Bernoulli pixels (smoothed)."""
    p = (X_train.sum(axis=0) + 1.0) / (X_train.shape[0] + 2.0)
    return float(np.mean(X_test @ np.log(p) + (1 - X_test) @ np.log1p(-p)))


def density_estimation(args):
    """Fit the density model and print its exact log-likelihoods."""
    digits = load_digits()
    X = (digits.data / 16.0 > 0.5).astype(np.float64)
    X_train, X_test = train_test_split(X, test_size=0.3, random_state=0)
    print(f"Digits binarised at 0.5: {X_train.shape[0]} training and "
          f"{X_test.shape[0]} held-out images of {X.shape[1]} pixels.")
    model = BernoulliRBM(
        n_components=args.n_components, learning_rate=0.01, batch_size=10,
        n_iter=args.epochs, n_chains=100, momentum=0.5, random_state=args.seed,
        verbose=0 if args.quiet else 1,
    )
    start = time.perf_counter()
    model.fit(X_train)
    elapsed = time.perf_counter() - start
    log_z, std_error = model.log_partition()
    print(f"\nTrained {args.epochs} epochs of PCD-1 in {elapsed:.1f} s.")
    print(f"log Z = {log_z:.4f} (standard error {std_error:.2g})")
    print(f"Held-out log-likelihood, nats per image:")
    print(f"  BernoulliRBM, {args.n_components} hidden units: {model.score(X_test):9.3f}")
    print(f"  independent pixels:              {independent_pixels_loglik(X_train, X_test):9.3f}")
    print(f"  (training set, RBM:              {model.score(X_train):9.3f})")


def features(args):
    """Logistic regression on RBM features against raw pixels."""
    digits = load_digits()
    X_train, X_test, y_train, y_test = train_test_split(
        digits.data, digits.target, test_size=0.3, random_state=0
    )
    raw = make_pipeline(MinMaxScaler(), LogisticRegression(max_iter=2000))
    rbm_features = make_pipeline(
        MinMaxScaler(clip=True),  # held-out pixels may exceed the training range
        BernoulliRBM(n_components=args.feature_components, learning_rate=0.05,
                     n_iter=40, random_state=args.seed),
        LogisticRegression(max_iter=2000),
    )
    print("\nClassifying digits (10 classes) with logistic regression:")
    for name, pipeline in (("raw pixels", raw),
                           (f"RBM features ({args.feature_components} hidden)", rbm_features)):
        start = time.perf_counter()
        pipeline.fit(X_train, y_train)
        accuracy = pipeline.score(X_test, y_test)
        print(f"  {name:28s} accuracy {accuracy:.4f}  ({time.perf_counter() - start:.1f} s)")


def main(argv=None):
    args = parse_args(argv)
    density_estimation(args)
    features(args)


if __name__ == "__main__":
    main()
