"""Density estimation: exact held-out log-likelihoods of binarised digits.

Fits BernoulliRBMs with a few numbers of hidden units, chosen by
``GridSearchCV`` on the true log-likelihood (``score``), and compares the
winner with a model of independent pixels.  The models are small enough that
log Z is computed exactly, so the numbers are log-likelihoods, not bounds.

    python examples/density_estimation.py          # about 30 s on 2 cores
    python examples/density_estimation.py --fast   # a few seconds (also RBM_EXAMPLES_FAST=1)
"""

import argparse
import os

import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import GridSearchCV, train_test_split

from rbm import BernoulliRBM


def independent_pixels_loglik(X_train, X_test):
    """Mean held-out log-likelihood of independent Bernoulli pixels (add-one smoothed)."""
    p = (X_train.sum(axis=0) + 1.0) / (X_train.shape[0] + 2.0)
    return float(np.mean(X_test @ np.log(p) + (1 - X_test) @ np.log1p(-p)))


def main(fast):
    X = (load_digits().data / 16.0 > 0.5).astype(np.float64)
    X_train, X_test = train_test_split(X, test_size=0.3, random_state=0)
    epochs = 30 if fast else 300
    model = BernoulliRBM(learning_rate=0.005, n_iter=epochs, n_chains=100, momentum=0.5,
                         random_state=0)
    search = GridSearchCV(model, {"n_components": [5, 10] if fast else [5, 10, 20]}, cv=3)
    search.fit(X_train)  # selects by held-out log-likelihood: score is log p(x)
    print(f"Digits binarised at 0.5: {len(X_train)} training, {len(X_test)} held-out images; "
          f"{epochs} epochs of PCD-1.")
    print("3-fold cross-validated log-likelihood, nats per image:")
    for n, value in zip(search.cv_results_["param_n_components"],
                        search.cv_results_["mean_test_score"]):
        print(f"  {n:3d} hidden units  {value:9.3f}")
    best = search.best_estimator_
    log_z, _ = best.log_partition()
    print(f"Best: {best.n_components} hidden units, log Z = {log_z:.3f} (exact)")
    print(f"Held-out log-likelihood: {best.score(X_test):.3f} nats per image "
          f"(independent pixels: {independent_pixels_loglik(X_train, X_test):.3f})")
    samples = best.sample(5, n_steps=1000)
    print(f"Mean log-likelihood of 5 samples drawn by 1000 Gibbs steps: "
          f"{best.score(samples):.3f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fast", action="store_true", help="a quick, smaller run")
    args = parser.parse_args()
    main(args.fast or os.environ.get("RBM_EXAMPLES_FAST") == "1")
