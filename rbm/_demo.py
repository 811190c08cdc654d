"""The digits demo (``python -m rbm``): a BernoulliRBM on scikit-learn's digits, no download.

1. Density estimation: an RBM with 20 hidden units on the digits binarised at
   0.5, its exact held-out log-likelihood beside an independent-pixel model.
2. Features: logistic regression on RBM features, on raw pixels, and on both.
"""

import time

import numpy as np
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.preprocessing import MinMaxScaler
from threadpoolctl import threadpool_limits

from . import BernoulliRBM


#: The demo's description in ``--help``.
DESCRIPTION = """\
Train BernoulliRBMs on scikit-learn's bundled digits (no download):

1. Density estimation: 20 hidden units on the digits binarised at 0.5; the
   exact held-out log-likelihood beside an independent-pixel model.
2. Features: logistic regression on RBM features, on raw pixels, and on both."""


def _epochs(text):
    """--epochs: a positive count or "auto"."""
    if text == "auto":
        return text
    value = int(text)
    if value < 1:
        raise ValueError(text)
    return value


def add_arguments(parser):
    """Add the demo's options to an argparse parser."""
    parser.add_argument("--n-components", type=int, default=20, metavar="N",
                        help="hidden units of the density model (default: 20)")
    parser.add_argument("--epochs", type=_epochs, default="auto", metavar="N",
                        help="training epochs of the density model (default: auto, "
                             "the model's default: about 300,000 updates)")
    parser.add_argument("--feature-components", type=int, default=256, metavar="N",
                        help="hidden units of the feature model (default: 256)")
    parser.add_argument("--seed", type=int, default=0, metavar="SEED",
                        help="random seed (default: 0)")
    parser.add_argument("--quiet", action="store_true", help="no per-epoch progress")
    return parser


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
    # The library's default training settings (tuned for density estimation).
    model = BernoulliRBM(n_components=args.n_components, n_iter=args.epochs,
                         random_state=args.seed, verbose=0 if args.quiet else 1)
    start = time.perf_counter()
    model.fit(X_train)
    elapsed = time.perf_counter() - start
    log_z, std_error = model.log_partition()
    print(f"\nTrained {model.n_iter_} epochs of PCD-1 in {elapsed:.1f} s.")
    print(f"log Z = {log_z:.4f} (standard error {std_error:.2g})")
    rows = {
        f"BernoulliRBM, {args.n_components} hidden units": model.score(X_test),
        "independent pixels": independent_pixels_loglik(X_train, X_test),
        "(BernoulliRBM on the training set)": model.score(X_train),
    }
    print("Held-out log-likelihood, nats per image (exact):")
    for name, value in rows.items():
        print(f"  {name:36s} {value:9.3f}")


def logistic_regression_accuracy(train, test, y_train, y_test):
    """Test accuracy of logistic regression with C chosen by 3-fold CV on train."""
    search = GridSearchCV(LogisticRegression(max_iter=5000), {"C": [1, 10, 100, 1000]}, cv=3)
    # Products this small run 20x faster on one BLAS thread than on several.
    with threadpool_limits(limits=1, user_api="blas"):
        return search.fit(train, y_train).score(test, y_test)


def features(args):
    """Logistic regression on raw pixels, on RBM features, and on both."""
    digits = load_digits()
    X_train, X_test, y_train, y_test = train_test_split(
        digits.data, digits.target, test_size=0.3, random_state=0
    )
    scaler = MinMaxScaler(clip=True).fit(X_train)  # clip: held-out pixels may exceed the range
    X_train, X_test = scaler.transform(X_train), scaler.transform(X_test)
    start = time.perf_counter()
    # Features, not density: a short constant-rate run with small batches
    # and no weight decay classified better here than the density defaults.
    model = BernoulliRBM(n_components=args.feature_components, learning_rate=0.02,
                         n_iter=100, momentum=0.5, batch_size=10, weight_decay=0.0,
                         learning_rate_schedule="constant",
                         random_state=args.seed).fit(X_train)
    print(f"\nFeature model: {args.feature_components} hidden units, "
          f"trained in {time.perf_counter() - start:.1f} s.")
    H_train, H_test = model.transform(X_train), model.transform(X_test)
    print("Classifying digits (10 classes) with logistic regression, C by 3-fold CV:")
    representations = {
        "raw pixels": (X_train, X_test),
        "RBM features": (H_train, H_test),
        "raw pixels + RBM features": (np.hstack([X_train, H_train]), np.hstack([X_test, H_test])),
    }
    for name, (train, test) in representations.items():
        accuracy = logistic_regression_accuracy(train, test, y_train, y_test)
        print(f"  {name:27s} test accuracy {accuracy:.4f}")


def run(args):
    """Run the demo with parsed arguments (see ``add_arguments``)."""
    density_estimation(args)
    features(args)
