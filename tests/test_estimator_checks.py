"""scikit-learn compatibility: the common estimator checks and ecosystem use."""

import functools
import pickle

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.base import clone
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, KFold, train_test_split
from sklearn.neural_network import BernoulliRBM as SklearnBernoulliRBM
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import MinMaxScaler
from sklearn.utils.estimator_checks import estimator_checks_generator, parametrize_with_checks

from rbm import BernoulliRBM
from sklearn_like import SKLEARN_LIKE
from weight_checks import STOCHASTIC_WEIGHT_CHECKS

DOMAIN_MESSAGE = "expects values in [0, 1]"

_OUTSIDE = "BernoulliRBM's domain is [0, 1] and it rejects other values with a ValueError"

#: Common checks that fail only because they feed data outside [0, 1].
#: ``test_expected_failures_fail_only_on_the_domain`` proves the "only".
EXPECTED_FAILED_CHECKS = {
    "check_estimators_overwrite_params": f"fits on make_blobs data (values about -3 to 6); {_OUTSIDE}",
    "check_dont_overwrite_parameters": f"fits on 3 * uniform(0, 1) data; {_OUTSIDE}",
    "check_estimators_fit_returns_self": f"fits on make_blobs data (values about -3 to 6); {_OUTSIDE}",
    "check_readonly_memmap_input": f"fits on make_blobs data (values about -3 to 6); {_OUTSIDE}",
    "check_n_features_in_after_fitting": f"fits on standard normal data; {_OUTSIDE}",
    "check_estimators_dtypes": f"fits on 3 * uniform(0, 1) data; {_OUTSIDE}",
    "check_pipeline_consistency": f"fits on make_blobs around 0 and 1 with std 0.1; {_OUTSIDE}",
    "check_estimators_pickle": f"fits on make_blobs around 0 and 1 with std 0.1; {_OUTSIDE}",
    "check_f_contiguous_array_estimator": f"fits on 3 * uniform(0, 1) data; {_OUTSIDE}",
    "check_transformer_data_not_an_array": f"fits on standardised blobs; {_OUTSIDE}",
    "check_transformer_general": f"fits on standardised blobs; {_OUTSIDE}",
    "check_transformer_preserve_dtypes": f"fits on standardised blobs; {_OUTSIDE}",
    "check_methods_sample_order_invariance": f"fits on 3 * uniform(0, 1) data; {_OUTSIDE}",
    "check_methods_subset_invariance": f"fits on 3 * uniform(0, 1) data; {_OUTSIDE}",
    "check_fit2d_1sample": (
        f"fits one sample of 3 * uniform(0, 1) data; {_OUTSIDE}, which the check "
        "reports as a message without '1 sample'"
    ),
    "check_fit2d_1feature": (
        f"fits one feature of 3 * uniform(0, 1) data; {_OUTSIDE}, which the check "
        "reports as a message without '1 feature'"
    ),
    "check_dict_unchanged": f"fits on 3 * uniform(0, 1) data; {_OUTSIDE}",
    "check_fit_idempotent": f"fits on normal data centred at 100; {_OUTSIDE}",
    "check_fit_check_is_fitted": f"fits on normal data centred at 100; {_OUTSIDE}",
    "check_n_features_in": f"fits on normal data centred at 100; {_OUTSIDE}",
    "check_fit2d_predict1d": f"fits on 3 * uniform(0, 1) data; {_OUTSIDE}",
    "check_sample_weights_pandas_series": f"fits on integers 1 to 4; {_OUTSIDE}",
    "check_sample_weights_not_an_array": f"fits on integers 1 to 4; {_OUTSIDE}",
    "check_sample_weights_shape": f"fits on integers 1 to 4; {_OUTSIDE}",
    "check_sample_weights_not_overwritten": f"fits on integers 1 to 4; {_OUTSIDE}",
    "check_all_zero_sample_weights_error": (
        f"fits on make_classification data (standard normal features); {_OUTSIDE}, "
        "raised before the weights are read, which the check reports as a message "
        "without 'zero'"
    ),
}


def _expected_failed_checks(estimator):
    # The domain failures, and the weight checks no stochastic fit passes
    # (tests/weight_checks.py).
    return {**EXPECTED_FAILED_CHECKS, **STOCHASTIC_WEIGHT_CHECKS}


# xfail_strict: a listed check that starts passing fails the suite, so the
# list above stays exact.
# n_iter=10: the checks test the estimator API on tiny data sets, where the
# default n_iter="auto" plans thousands of epochs (about 300,000 updates).
@parametrize_with_checks(
    [BernoulliRBM(n_iter=10)], expected_failed_checks=_expected_failed_checks, xfail_strict=True
)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)


# --------------------------------------------------------------------------
# The expected failures fail for the domain and nothing else
# --------------------------------------------------------------------------


def _check_name(check):
    while hasattr(check, "__wrapped__"):
        check = check.__wrapped__
    return check.func.__name__ if isinstance(check, functools.partial) else check.__name__


def _check_id(check):
    name = _check_name(check)
    if isinstance(check, functools.partial) and check.keywords:
        name += "(" + ",".join(f"{k}={v}" for k, v in sorted(check.keywords.items())) + ")"
    return name


def _expected_failures(estimator):
    """(estimator, check) pairs of the listed checks, as the common tests run them."""
    pairs = [
        (est, check)
        for est, check in estimator_checks_generator(estimator, mark=None)
        if _check_name(check) in EXPECTED_FAILED_CHECKS
    ]
    return pairs


def _squash(X):
    """Map any real data into [0, 1) elementwise, keeping 0 at 0 (so sparse
    structure, shape, dtype of floats and memory order survive): |x| / (1 + |x|)."""
    if sp.issparse(X):
        X = X.copy()
        X.data = np.abs(X.data) / (1 + np.abs(X.data))
        return X
    X = np.asarray(X)
    if X.dtype.kind not in "fiu":
        return X
    return np.abs(X) / (1 + np.abs(X))


class SquashedBernoulliRBM(BernoulliRBM):
    """BernoulliRBM behind a fixed elementwise map into [0, 1): same estimator
    in every other respect, so a check that passes for it and fails for
    BernoulliRBM fails only because of the data's range."""

    def fit(self, X, y=None, sample_weight=None):
        return super().fit(_squash(X), y, sample_weight=sample_weight)

    def partial_fit(self, X, y=None, sample_weight=None):
        return super().partial_fit(_squash(X), y, sample_weight=sample_weight)

    def transform(self, X):
        return super().transform(_squash(X))

    def score_samples(self, X):
        return super().score_samples(_squash(X))

    def score(self, X, y=None):
        return super().score(_squash(X), y)


_FAILING = _expected_failures(BernoulliRBM(n_iter=10))


def test_every_expected_failure_is_generated():
    assert {_check_name(check) for _, check in _FAILING} == set(EXPECTED_FAILED_CHECKS)


#: check_sample_weights_pandas_series catches the estimator's ValueError and
#: raises its own, naming the Series; the estimator's error is its context.
_PANDAS_WEIGHTS_REPORT = "raises error if 'sample_weight' parameter is of type pandas.Series"


def _is_report(exc):
    """Whether exc is a check's own error about an error it caught."""
    return isinstance(exc, AssertionError) or (
        type(exc) is ValueError and _PANDAS_WEIGHTS_REPORT in str(exc))


def _exception_chain(exc):
    chain = [exc]
    while True:
        last = chain[-1]
        cause = last.__cause__
        if cause is None and type(last) is ValueError and _PANDAS_WEIGHTS_REPORT in str(last):
            cause = last.__context__
        if cause is None:
            return chain
        chain.append(cause)


@pytest.mark.parametrize(
    "estimator, check", _FAILING, ids=[_check_id(check) for _, check in _FAILING]
)
def test_expected_failures_fail_only_on_the_domain(estimator, check):
    with pytest.raises(Exception) as excinfo:
        check(estimator)
    chain = _exception_chain(excinfo.value)
    root = chain[-1]
    # The root cause is the library's domain error, a plain ValueError ...
    assert type(root) is ValueError, repr(root)
    assert DOMAIN_MESSAGE in str(root)
    # ... and anything above it is the check's own assertion reporting it.
    for wrapper in chain[:-1]:
        assert _is_report(wrapper), repr(wrapper)
        assert (DOMAIN_MESSAGE in str(wrapper) or "raised ValueError unexpectedly" in str(wrapper)
                or _PANDAS_WEIGHTS_REPORT in str(wrapper))


_SQUASHED = _expected_failures(SquashedBernoulliRBM(n_iter=10))


@pytest.mark.parametrize(
    "estimator, check", _SQUASHED, ids=[_check_id(check) for _, check in _SQUASHED]
)
def test_expected_failures_pass_with_data_in_domain(estimator, check):
    # The same checks pass once the data are mapped into [0, 1).
    check(estimator)


# --------------------------------------------------------------------------
# Ecosystem
# --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return train_test_split(X, y, test_size=0.3, random_state=0)


def _pipeline(rbm):
    # clip=True: test pixels can exceed the training maximum of a feature,
    # and BernoulliRBM rejects values outside [0, 1] at transform time.
    return Pipeline([
        ("scale", MinMaxScaler(clip=True)),
        ("rbm", rbm),
        ("clf", LogisticRegression(max_iter=1000)),
    ])


def test_pipeline_minmax_rbm_logistic_on_digits(digits):
    Xtr, Xte, ytr, yte = digits
    kwargs = dict(n_components=32, n_iter=10, random_state=0)
    ours = _pipeline(BernoulliRBM(n_jobs=1, **SKLEARN_LIKE, **kwargs)).fit(Xtr, ytr)
    reference = _pipeline(SklearnBernoulliRBM(**kwargs)).fit(Xtr, ytr)
    accuracy, reference_accuracy = ours.score(Xte, yte), reference.score(Xte, yte)
    # 540 test digits: the standard error of one accuracy near 0.85 is
    # sqrt(0.85 * 0.15 / 540) ~ 0.015, of a difference of two (treated as
    # independent, which is conservative) ~ 0.022; allow 3 of them, 0.065.
    assert accuracy >= reference_accuracy - 0.065
    assert accuracy > 0.5  # chance is 0.1
    assert ours.predict(Xte).shape == yte.shape
    assert ours.named_steps["rbm"].transform(
        ours.named_steps["scale"].transform(Xte)).shape == (len(Xte), 32)


def test_grid_search_selects_n_components_by_heldout_loglik():
    X = (load_digits().data / 16.0 > 0.5).astype(np.float64)
    cv = KFold(3, shuffle=True, random_state=0)
    base = BernoulliRBM(n_iter=5, random_state=0, n_jobs=1)
    search = GridSearchCV(base, {"n_components": [1, 16]}, cv=cv).fit(X)
    # One hidden unit cannot model the digit classes that 16 can; the held-out
    # log-likelihood (score) must prefer 16.
    assert search.best_params_ == {"n_components": 16}
    means = search.cv_results_["mean_test_score"]
    assert means[1] > means[0]
    # The CV score is the model's held-out mean log-likelihood: recompute fold 0.
    train, test = next(cv.split(X))
    fold_model = clone(base).set_params(n_components=16).fit(X[train])
    assert search.cv_results_["split0_test_score"][1] == pytest.approx(
        fold_model.score(X[test]), abs=1e-9)
    assert np.all(means < 0)  # log-likelihoods of binary vectors


def test_clone():
    model = BernoulliRBM(n_components=7, learning_rate=0.05, method="cd", k=3, random_state=3)
    X = (np.random.default_rng(0).random((40, 6)) < 0.5).astype(float)
    model.set_params(n_jobs=1).fit(X)
    copy = clone(model)
    assert copy.get_params() == model.get_params()
    assert not hasattr(copy, "components_")
    copy.fit(X)
    assert np.array_equal(copy.components_, model.components_)


def test_pickle_round_trip():
    X = (load_digits().data / 16.0 > 0.5).astype(np.float64)
    model = BernoulliRBM(n_components=8, n_iter=2, random_state=0, n_jobs=1).fit(X[:300])
    model.score(X[:5])  # populate any caches before pickling
    restored = pickle.loads(pickle.dumps(model))
    assert np.array_equal(restored.transform(X), model.transform(X))
    assert np.array_equal(restored.score_samples(X), model.score_samples(X))
    assert restored.log_partition() == model.log_partition()
    assert np.array_equal(restored.sample(20, n_steps=5), model.sample(20, n_steps=5))
    assert np.array_equal(restored.gibbs(X[:30]), model.gibbs(X[:30]))
    # Training continues identically (parameters, chains and random streams
    # all survive the round trip).
    model.partial_fit(X[300:600])
    restored.partial_fit(X[300:600])
    assert np.array_equal(restored.components_, model.components_)
    assert np.array_equal(restored.h_samples_, model.h_samples_)


def test_get_feature_names_out():
    X = (np.random.default_rng(0).random((30, 5)) < 0.5).astype(float)
    model = BernoulliRBM(n_components=3, n_iter=1, random_state=0, n_jobs=1).fit(X)
    names = model.get_feature_names_out()
    assert list(names) == ["bernoullirbm0", "bernoullirbm1", "bernoullirbm2"]
    assert len(names) == model.transform(X).shape[1]


def test_set_output_pandas():
    pd = pytest.importorskip("pandas")
    X = (np.random.default_rng(0).random((30, 5)) < 0.5).astype(float)
    frame = pd.DataFrame(X, columns=[f"pixel{i}" for i in range(5)])
    model = BernoulliRBM(n_components=3, n_iter=1, random_state=0, n_jobs=1)
    model.set_output(transform="pandas").fit(frame)
    out = model.transform(frame)
    assert isinstance(out, pd.DataFrame)
    assert list(out.columns) == ["bernoullirbm0", "bernoullirbm1", "bernoullirbm2"]
    assert out.index.equals(frame.index)
    np.testing.assert_allclose(out.to_numpy(), model.set_output(transform="default").transform(frame))
    assert list(model.feature_names_in_) == list(frame.columns)
