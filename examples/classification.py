"""The classification RBM on scikit-learn's digits: supervised, semi-supervised, generative.

1. ``RBMClassifier`` with its defaults (the hybrid objective) on an 80/20
   split of the digits, beside logistic regression on the same pixels.
2. The same with only 10% of the training labels: the other rows are
   marked -1 and contribute the generative term, then one round of
   self-training on pseudo-labels: labels spread over a graph of the
   inputs and hidden features, each unlabelled row taking the vote of its
   neighbours (``pseudo_label_rounds=1``).
3. Class-conditional generation: ``sample(n, y=...)`` draws images of a
   chosen digit from the fitted joint model; a logistic regression of real
   digits reads them.

    python examples/classification.py [--fast]
"""

import argparse
import os

import numpy as np
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split

from rbm import RBMClassifier


def main(fast):
    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X / 16.0, y, test_size=0.2,
                                                        random_state=0)
    settings = dict(n_iter=10, n_components=128) if fast else {}
    model = RBMClassifier(random_state=0, **settings).fit(X_train, y_train)
    logistic = LogisticRegression(max_iter=5000).fit(X_train, y_train)
    print(f"RBMClassifier test accuracy {model.score(X_test, y_test):.3f} "
          f"(logistic regression {logistic.score(X_test, y_test):.3f})")

    rng = np.random.default_rng(0)
    partial = y_train.copy()
    partial[rng.random(len(partial)) >= 0.1] = -1           # keep 10% of the labels
    semi = RBMClassifier(generative_weight=0.1, pseudo_label_rounds=1, random_state=0,
                         **settings)
    semi.fit(X_train, partial)
    print(f"With 10% of the labels ({(partial != -1).sum()} rows): test accuracy "
          f"{semi.score(X_test, y_test):.3f}")

    images, labels = model.sample(50, y=3, n_steps=200 if fast else 1000, random_state=0)
    read = logistic.predict(images)
    print(f"Sampled 50 images of the digit {labels[0]}: a classifier of real digits reads "
          f"{(read == 3).mean():.0%} of them as 3")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--fast", action="store_true", help="a quick run with fewer epochs")
    main(parser.parse_args().fast or os.environ.get("RBM_EXAMPLES_FAST") == "1")
