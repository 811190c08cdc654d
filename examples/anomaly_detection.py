"""Anomaly detection: an RBM trained on one digit flags the other nine.

For each digit class (one in fast mode), an ``RBMOutlierDetector`` is fitted
to that class's training images; held-out images of the class are normal
and images of every other class are anomalies.  Reports the ROC AUC of the
outlier score and what ``predict`` flags at ``contamination=0.05``.

    python examples/anomaly_detection.py [--fast]
"""

import argparse
import os

import numpy as np
from sklearn.datasets import load_digits
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split

from rbm import BernoulliRBM, RBMOutlierDetector


def evaluate(normal_class, X_train, y_train, X_test, y_test, epochs):
    detector = RBMOutlierDetector(
        BernoulliRBM(n_components=16, learning_rate=0.02, n_iter=epochs, momentum=0.5,
                     n_chains=50, random_state=0),
        contamination=0.05,
    ).fit(X_train[y_train == normal_class])
    is_anomaly = y_test != normal_class
    # score_samples is higher for normal samples; ROC AUC wants higher for anomalies.
    auc = roc_auc_score(is_anomaly, -detector.score_samples(X_test))
    flagged = detector.predict(X_test) == -1
    return auc, flagged[is_anomaly].mean(), flagged[~is_anomaly].mean()


def main(fast):
    digits = load_digits()
    X = (digits.data / 16.0 > 0.5).astype(np.float64)
    X_train, X_test, y_train, y_test = train_test_split(
        X, digits.target, test_size=0.5, random_state=0, stratify=digits.target)
    classes = [0] if fast else range(10)
    print("normal digit   ROC AUC   anomalies flagged   normal flagged")
    aucs = []
    for digit in classes:
        auc, caught, false_alarms = evaluate(digit, X_train, y_train, X_test, y_test,
                                             epochs=30 if fast else 200)
        aucs.append(auc)
        print(f"      {digit}        {auc:.4f}        {caught:6.1%}            "
              f"{false_alarms:6.1%}")
    print(f"Mean ROC AUC over {len(aucs)} normal class(es): {np.mean(aucs):.4f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fast", action="store_true", help="a quick, smaller run")
    args = parser.parse_args()
    main(args.fast or os.environ.get("RBM_EXAMPLES_FAST") == "1")
