"""Pretraining: stacked RBMs, then fine-tuning an MLP, on scikit-learn's digits.

Three classifiers on the same split, the last two with the same network
(64 -> 128 -> 64 -> 10, logistic units) trained for the same iterations:

1. RBM features + logistic regression: a Pipeline of two RBMs (greedy
   layer-wise pretraining) feeding a logistic regression.
2. Pretrained + fine-tuned MLP: an MLPClassifier whose hidden layers start at
   the two RBMs' weights (``rbm.pretraining.fine_tune``).
3. Randomly initialised MLP: the same MLPClassifier from scikit-learn's own
   initialisation.

    python examples/pretraining.py [--fast]
"""

import argparse
import os
import warnings

import numpy as np
from sklearn.base import clone
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from threadpoolctl import threadpool_limits

from rbm import BernoulliRBM
from rbm.pretraining import fine_tune


def main(fast):
    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(
        X / 16.0, y, test_size=0.3, random_state=0, stratify=y)
    sizes = (128, 64)
    epochs = 10 if fast else 50
    rbm_params = dict(learning_rate=0.05, momentum=0.5, n_iter=epochs, random_state=0)
    stack = make_pipeline(*(BernoulliRBM(n, **rbm_params) for n in sizes)).fit(X_train)
    mlp = MLPClassifier(sizes, activation="logistic", learning_rate_init=0.01,
                        max_iter=20 if fast else 100, random_state=0)
    print(f"Digits: {len(X_train)} training and {len(X_test)} test images; "
          f"network 64 -> {' -> '.join(map(str, sizes))} -> 10, "
          f"{mlp.max_iter} Adam epochs; RBMs trained {epochs} epochs each.")

    features = make_pipeline(*(clone(step) for _, step in stack.steps),
                             LogisticRegression(C=100, max_iter=5000))
    seeds = [0] if fast else range(5)  # the MLPs' initialisation and batch order
    # Products this small run many times faster on one BLAS thread than on
    # several (the RBMs set their own thread count while they train).
    with warnings.catch_warnings(), threadpool_limits(limits=1, user_api="blas"):
        warnings.simplefilter("ignore", ConvergenceWarning)  # iterations are fixed on purpose
        accuracies = {
            "RBM features + logistic regression": [
                features.fit(X_train, y_train).score(X_test, y_test)],
            "pretrained + fine-tuned MLP": [
                fine_tune(stack, X_train, y_train, clone(mlp).set_params(random_state=seed))
                .score(X_test, y_test) for seed in seeds],
            "randomly initialised MLP": [
                clone(mlp).set_params(random_state=seed).fit(X_train, y_train)
                .score(X_test, y_test) for seed in seeds],
        }
    print(f"Test accuracy (MLPs: mean over {len(seeds)} seeds, with min and max):")
    for name, values in accuracies.items():
        spread = f" ({min(values):.4f} to {max(values):.4f})" if len(values) > 1 else ""
        print(f"  {name:36s} test accuracy {np.mean(values):.4f}{spread}")

if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fast", action="store_true", help="a quick, smaller run")
    args = parser.parse_args()
    main(args.fast or os.environ.get("RBM_EXAMPLES_FAST") == "1")
