"""RBMClassifier against scikit-learn's common estimator checks.

Two configurations run every check: Gaussian inputs (any real data, so the
checks' data are in the domain) and the default binary inputs behind a fixed
map into [0, 1) (``SquashedRBMClassifier``: the same estimator, so a check
that passes there fails for the plain binary model only because its data
leave [0, 1]; the binary model rejects them with a ValueError naming the
range, as BernoulliRBM does, see test_estimator_checks.py).  Categorical
inputs are left out: the checks' real-valued data make every distinct float
a category, so held-out rows hold unseen categories, which the model refuses.
"""

import functools

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.utils.estimator_checks import estimator_checks_generator, parametrize_with_checks

from rbm import RBMClassifier

_STOCHASTIC = (
    "fits by minibatch stochastic gradient: a row of weight 2 takes one step of twice the "
    "size where a repeated row takes two steps in other minibatches (and the epochs have "
    "different numbers of steps), so the fitted models differ"
)
_MARKER = (
    "uses the labels -1 and 1: by default -1 marks an unlabelled row (sklearn.semi_supervised's "
    "convention, which scikit-learn's own semi-supervised classifiers are excused from "
    "this check for by name), leaving one class; with unlabelled_marker=None it passes "
    "(test_classes_check_fails_only_on_the_unlabelled_marker)"
)

EXPECTED_FAILED_CHECKS = {
    "check_sample_weight_equivalence_on_dense_data": _STOCHASTIC,
    "check_sample_weight_equivalence_on_sparse_data": _STOCHASTIC,
    "check_classifiers_classes": _MARKER,
}

#: The checks fit tiny data sets: a short, fast fit.
SETTINGS = dict(n_components=16, n_iter=20, learning_rate=0.5, momentum=0.9)


def _squash(X):
    """Real data into (0, 1) by a fixed increasing map, (1 + x / (1 + |x|)) / 2;
    sparse data by |x| / (1 + |x|) on the stored values, which keeps zeros."""
    if sp.issparse(X):
        X = sp.csr_matrix(X, dtype=np.float64)
        X.data = np.abs(X.data) / (1 + np.abs(X.data))
        return X
    X = np.asarray(X)
    if X.dtype.kind not in "fiu":
        return X
    return ((1 + X / (1 + np.abs(X))) / 2).astype(X.dtype if X.dtype.kind == "f" else float)


class SquashedRBMClassifier(RBMClassifier):
    """RBMClassifier with binary inputs behind a fixed map into [0, 1)."""

    def fit(self, X, y, sample_weight=None):
        return super().fit(_squash(X), y, sample_weight=sample_weight)

    def partial_fit(self, X, y, classes=None, sample_weight=None):
        return super().partial_fit(_squash(X), y, classes=classes, sample_weight=sample_weight)

    def _check_fitted_X(self, X):
        return super()._check_fitted_X(_squash(X))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.positive_only = False
        return tags


ESTIMATORS = [RBMClassifier(visible="gaussian", **SETTINGS), SquashedRBMClassifier(**SETTINGS)]


@parametrize_with_checks(ESTIMATORS, expected_failed_checks=lambda e: EXPECTED_FAILED_CHECKS,
                         xfail_strict=True)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)


def _check_name(check):
    while hasattr(check, "__wrapped__"):
        check = check.__wrapped__
    return check.func.__name__ if isinstance(check, functools.partial) else check.__name__


def _listed(estimator, name):
    return [check for _, check in estimator_checks_generator(estimator, mark=None)
            if _check_name(check) == name]


def test_classes_check_fails_only_on_the_unlabelled_marker():
    settings = dict(visible="gaussian", **SETTINGS)
    (check,) = _listed(RBMClassifier(**settings), "check_classifiers_classes")
    with pytest.raises(ValueError, match="only one class, 1,.*rows labelled -1 are unlabelled"):
        check(RBMClassifier(**settings))
    # Without the marker, -1 is a class like any other and the check passes.
    check(RBMClassifier(unlabelled_marker=None, **settings))


def test_plain_binary_model_refuses_the_checks_data_by_its_range():
    # What the squashed configuration stands in for: the binary model's own
    # answer to data outside [0, 1] is the range error.
    X = np.array([[0.0, 2.0], [1.0, 0.5]])
    with pytest.raises(ValueError, match=r"expects values in \[0, 1\]"):
        RBMClassifier(**SETTINGS).fit(X, [0, 1])
