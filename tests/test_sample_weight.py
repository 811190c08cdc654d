"""``sample_weight`` in ``fit`` and ``partial_fit``: a row of weight w counts as w rows.

Exact where it must be: no weights and weights of 1 give the same bits;
rows of weight 0 change nothing; one kernel update on weighted rows equals
the update on the rows repeated.  Statistical where training is stochastic:
models fitted with integer weights and on the repeated rows agree within
the spread of fits across seeds.  Bad weights are refused with a clear
message and leave the model as it was.
"""

import copy
import warnings

import numpy as np
import pytest
import scipy.sparse as sp

from rbm import (BernoulliRBM, CategoricalRBM, GaussianBernoulliRBM, RBMOutlierDetector,
                 _gibbs)
from rbm._state import Update
from rbm._training import Batches
from test_failed_calls import atomicity_model, fingerprint

SMALL = dict(n_components=4, n_iter=3, batch_size=10, n_chains=6, random_state=0, n_jobs=1)


def binary_rows(n_rows=60, n_features=6, seed=1):
    """Binary rows with a dependence between the first two features."""
    rng = np.random.default_rng(seed)
    X = (rng.random((n_rows, n_features)) < 0.3).astype(float)
    X[:, 1] = np.where(rng.random(n_rows) < 0.8, X[:, 0], 1 - X[:, 0])
    return X


def data_for(estimator_class):
    rng = np.random.default_rng(0)
    if estimator_class is GaussianBernoulliRBM:
        return rng.standard_normal((60, 5))
    if estimator_class is CategoricalRBM:
        return rng.integers(0, 3, (60, 4))
    return binary_rows()


def integer_weights(n_rows, seed=2):
    """Weights 0 to 4, some of each."""
    return np.random.default_rng(seed).integers(0, 5, n_rows).astype(float)


def fitted_arrays(model):
    """Every array training writes, and the history but its timings."""
    arrays = dict(W=model.components_, b=model.intercept_visible_, c=model.intercept_hidden_,
                  chains=model.h_samples_, velocity=model._training.W_velocity,
                  data_sum=model._training.data_sum,
                  offsets=model._training.visible_offset)
    arrays.update({f"visible{i}": a for i, a in enumerate(model._visible_unit.learned_arrays())})
    history = {k: v for k, v in model.history_.items() if k != "seconds"}
    return arrays, history


def assert_same_model(first, second):
    arrays1, history1 = fitted_arrays(first)
    arrays2, history2 = fitted_arrays(second)
    for name in arrays1:
        assert np.array_equal(arrays1[name], arrays2[name]), name
    np.testing.assert_equal(history1, history2)


MODELS = [
    (BernoulliRBM, dict(method="pcd")),
    (BernoulliRBM, dict(method="cd", centering=True, sparsity_cost=0.1)),
    (BernoulliRBM, dict(method="pt", n_temperatures=3)),
    (GaussianBernoulliRBM, dict()),
    (CategoricalRBM, dict()),
]
MODEL_IDS = ["bernoulli-pcd", "bernoulli-cd-centered-sparse", "bernoulli-pt", "gaussian",
             "categorical"]


# --------------------------------------------------------------------------
# Exact: None equals ones; zero weights equal leaving rows out
# --------------------------------------------------------------------------

@pytest.mark.parametrize("estimator_class, params", MODELS, ids=MODEL_IDS)
def test_no_weights_and_unit_weights_give_the_same_bits(estimator_class, params):
    X = data_for(estimator_class)
    plain = estimator_class(**SMALL, **params).fit(X)
    ones = estimator_class(**SMALL, **params).fit(X, sample_weight=np.ones(len(X)))
    scalar = estimator_class(**SMALL, **params).fit(X, sample_weight=1)
    zero_d = estimator_class(**SMALL, **params).fit(X, sample_weight=np.asarray(1.0))
    assert_same_model(plain, ones)
    assert_same_model(plain, scalar)
    assert_same_model(plain, zero_d)   # a 0-d array is a single number too
    plain.partial_fit(X)
    ones.partial_fit(X, sample_weight=[1] * len(X))
    assert_same_model(plain, ones)


@pytest.mark.parametrize("estimator_class, params", MODELS, ids=MODEL_IDS)
def test_rows_of_weight_zero_change_nothing(estimator_class, params):
    X = data_for(estimator_class)
    weights = integer_weights(len(X))
    kept = weights > 0
    assert 0 < kept.sum() < len(X)
    with_zeros = estimator_class(**SMALL, **params).fit(X, sample_weight=weights)
    without = estimator_class(**SMALL, **params).fit(X[kept], sample_weight=weights[kept])
    assert_same_model(with_zeros, without)
    with_zeros.partial_fit(X, sample_weight=weights)
    without.partial_fit(X[kept], sample_weight=weights[kept])
    assert_same_model(with_zeros, without)


def test_weights_change_the_model():
    # The tests above would pass if weights were ignored; this one would not.
    X = binary_rows()
    plain = BernoulliRBM(**SMALL).fit(X)
    weighted = BernoulliRBM(**SMALL).fit(X, sample_weight=1.0 + np.arange(len(X)) % 3)
    assert not np.array_equal(plain.components_, weighted.components_)


def test_dense_and_sparse_weighted_fits_agree():
    X = binary_rows()
    weights = integer_weights(len(X))
    dense = BernoulliRBM(**SMALL).fit(X, sample_weight=weights)
    sparse = BernoulliRBM(**SMALL).fit(sp.csr_matrix(X), sample_weight=weights)
    assert_same_model(dense, sparse)


def test_weighted_data_statistics():
    # The model's own data statistics weigh rows: the marginals (initial
    # biases, centering offsets) and the Gaussian sigma.
    X = data_for(GaussianBernoulliRBM)
    weights = integer_weights(len(X))
    repeated = np.repeat(X, weights.astype(int), axis=0)
    model = GaussianBernoulliRBM(**dict(SMALL, n_iter=0)).fit(X, sample_weight=weights)
    np.testing.assert_allclose(model.sigma_, repeated.std(axis=0), rtol=1e-12)
    np.testing.assert_allclose(model.intercept_visible_, repeated.mean(axis=0), rtol=1e-12,
                               atol=1e-15)
    np.testing.assert_allclose(model._training.data_mean(), repeated.mean(axis=0), rtol=1e-12,
                               atol=1e-15)
    assert model._training.n_data == weights.sum()


# --------------------------------------------------------------------------
# One kernel update: weighted rows equal repeated rows
# --------------------------------------------------------------------------

def one_update(model, X, weights, **update):
    """The model after one kernel update on the batch X (rows weighted by
    ``weights``, or None), from the model's persistent chains and streams."""
    model = copy.deepcopy(model)
    for name, value in update.items():
        setattr(model, name, value)
    batches = Batches(X).plan(np.arange(len(X), dtype=np.intp), len(X))
    batches.weights = None if weights is None else np.asarray(weights, dtype=np.float64)
    dtype = model.components_.dtype
    _gibbs.train_minibatches(
        batches, model._kernel_params(), model._training.kernel_view(model.h_samples_),
        Update(model, 0.1, 0.5), model._visible_unit.kernel_view(dtype),
        model._training.training_streams.for_rows(model.h_samples_.shape[0]), 1)
    return model


STEP_CASES = [
    (BernoulliRBM, {}),
    (BernoulliRBM, dict(centering=True, sparsity_cost=0.2)),
    (GaussianBernoulliRBM, {}),
    (CategoricalRBM, {}),
]


@pytest.mark.parametrize("estimator_class, settings", STEP_CASES,
                         ids=["bernoulli", "centered-sparse", "gaussian", "categorical"])
def test_one_weighted_update_equals_the_update_on_repeated_rows(estimator_class, settings):
    # PCD: the negative phase depends on the chains and streams only, so the
    # two updates differ only by their positive phases, which weights 2, 1
    # and 0 on rows (a, b, z) make equal to that of (a, a, b): the mean
    # weight is 1, so the rows count 2/3, 1/3 and 0.
    X = data_for(estimator_class)
    model = estimator_class(**dict(SMALL, n_iter=1, method="pcd")).fit(X)
    rows = model._validate_input(X[:3], reset=False)
    rows = rows.toarray() if sp.issparse(rows) else np.asarray(rows)
    weighted = one_update(model, rows, [2.0, 1.0, 0.0], **settings)
    repeated = one_update(model, rows[[0, 0, 1]], None, **settings)
    moved = one_update(model, rows, None, **settings)  # the unweighted batch differs
    for name in ("components_", "intercept_visible_", "intercept_hidden_"):
        np.testing.assert_allclose(getattr(weighted, name), getattr(repeated, name),
                                   rtol=1e-12, atol=1e-14, err_msg=name)
    assert not np.allclose(moved.components_, repeated.components_, rtol=1e-6, atol=1e-9)
    for a, b in zip(weighted._visible_unit.learned_arrays(),
                    repeated._visible_unit.learned_arrays()):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)


def test_cd_chains_carry_the_weights_of_the_rows_they_start_from():
    # CD's chain i starts at the batch's row i, so it stands for that row's
    # k-step transition and must weigh what the row weighs.  With saturated
    # conditionals (every field at least 20 from zero, so each sample is
    # the sign of its field but with probability below 3e-9) the chains are
    # deterministic functions of their start rows, and one CD update on rows
    # (a, b, z) weighted 2, 1, 0 must equal the update on (a, a, b).
    X = binary_rows()
    model = BernoulliRBM(**dict(SMALL, n_iter=0, method="cd")).fit(X)
    rng = np.random.default_rng(3)
    model.components_[...] = 40.0 * rng.choice([-2, -1, 1, 2], model.components_.shape)
    model.intercept_hidden_[...] = 20.0
    model.intercept_visible_[...] = 20.0
    rows = X[[3, 8, 0]]  # three different rows with three different chain states
    weighted = one_update(model, rows, [2.0, 1.0, 0.0])
    repeated = one_update(model, rows[[0, 0, 1]], None)
    unweighted = one_update(model, rows, None)
    for name in ("components_", "intercept_visible_", "intercept_hidden_"):
        np.testing.assert_allclose(getattr(weighted, name), getattr(repeated, name),
                                   rtol=1e-12, atol=1e-12, err_msg=name)
    assert not np.allclose(unweighted.components_, repeated.components_)


@pytest.mark.parametrize("centering", [False, True], ids=["plain", "centered"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_kernel_weights_of_one_are_no_weights(dtype, centering):
    # Plain float64: the same bits (each row counts 1 * 1.0 / B, as without
    # weights).  float32 rounds the row's share from float64 once more, and
    # centering adds -s lambda to its last product row with s, the sum of the
    # stacked row weights, zero only to rounding: equal to rounding there.
    X = binary_rows().astype(dtype)
    model = BernoulliRBM(**dict(SMALL, n_iter=1, centering=centering)).fit(X)
    ones = one_update(model, X[:10], np.ones(10))
    none = one_update(model, X[:10], None)
    if dtype == np.float64 and not centering:
        assert np.array_equal(ones.components_, none.components_)
    else:
        tolerance = 1e-5 if dtype == np.float32 else 1e-12
        np.testing.assert_allclose(ones.components_, none.components_, rtol=tolerance,
                                   atol=tolerance / 10)


def test_kernel_refuses_bad_weights():
    X = binary_rows()
    model = BernoulliRBM(**dict(SMALL, n_iter=1)).fit(X)
    for weights, words in [(np.ones(5), "batches.weights must have shape"),
                           (np.r_[np.ones(59), np.nan], "finite and non-negative"),
                           (np.r_[np.ones(59), -1.0], "finite and non-negative"),
                           (np.zeros(60), "zero on every row")]:
        batches = Batches(X).plan(np.arange(60, dtype=np.intp), 10)
        batches.weights = weights
        with pytest.raises(ValueError, match=words):
            _gibbs.train_minibatches(
                batches, model._kernel_params(), model._training.kernel_view(model.h_samples_),
                Update(model, 0.1, 0.5), model._visible_unit.kernel_view(np.float64),
                model._training.training_streams.for_rows(6), 1)


# --------------------------------------------------------------------------
# Statistical: integer weights against repeated rows
# --------------------------------------------------------------------------

@pytest.mark.parametrize("method", ["pcd", "cd"])
def test_integer_weights_match_repeated_rows_statistically(method):
    """Fitted models' exact log-likelihood of the weighted data, over seeds.

    Rows with a 1 in the first feature weigh 5, the others 1; the repeated
    data set has each row that many times.  Both fits make the same number
    of updates.  Across K seeds
    each, the fits are independent, so the difference of the two mean
    log-likelihoods has standard error s = sqrt(s_w**2 / K + s_r**2 / K)
    from the seed-to-seed spreads.  Equal expectations put |difference| >
    5 s at a probability of about 1e-4 (Welch t, about 16 degrees of
    freedom).  The same bound must separate fits that ignore the weights,
    or the test could not fail.  CD checks that its chains, which start
    at the batch's rows, carry those rows' weights.
    """
    X = binary_rows()
    weights = np.where(X[:, 0] == 1, 5.0, 1.0)
    repeated = np.repeat(X, weights.astype(int), axis=0)
    # 60 epochs of 16 batches of the 160 repeated rows, 160 of 6 of the 60.
    batch_size, n_iter, longer = 10, 60, 160
    assert n_iter * len(repeated) / batch_size == longer * len(X) / batch_size

    def log_likelihood(model):
        return np.average(model.score_samples(X), weights=weights)

    K = 10
    runs = {"weighted": [], "repeated": [], "ignored": []}
    for seed in range(K):
        params = dict(n_components=4, batch_size=batch_size, learning_rate=0.05,
                      random_state=seed, n_jobs=1, method=method)
        runs["repeated"].append(log_likelihood(
            BernoulliRBM(n_iter=n_iter, **params).fit(repeated)))
        runs["weighted"].append(log_likelihood(
            BernoulliRBM(n_iter=longer, **params).fit(X, sample_weight=weights)))
        runs["ignored"].append(log_likelihood(BernoulliRBM(n_iter=longer, **params).fit(X)))
    mean = {name: np.mean(values) for name, values in runs.items()}

    def standard_error(a, b):
        return np.sqrt(np.var(runs[a], ddof=1) / K + np.var(runs[b], ddof=1) / K)

    assert abs(mean["weighted"] - mean["repeated"]) <= 5 * standard_error("weighted", "repeated")
    assert abs(mean["ignored"] - mean["repeated"]) > 5 * standard_error("ignored", "repeated")


# --------------------------------------------------------------------------
# Threads, bad weights, atomicity
# --------------------------------------------------------------------------

@pytest.mark.parametrize("method", ["pcd", "pt"])
def test_weighted_fits_do_not_depend_on_the_thread_count(method):
    rng = np.random.default_rng(0)
    X = (rng.random((300, 200)) < 0.3).astype(float)
    weights = rng.integers(0, 4, 300).astype(float)
    with _gibbs.kernel_settings(small_model_weights=0, product_threshold=0,
                                parallel_threshold=0):
        models = [BernoulliRBM(n_components=12, n_iter=2, batch_size=20, random_state=0,
                               method=method, n_temperatures=3, centering=True,
                               n_jobs=n_jobs).fit(X, sample_weight=weights)
                  for n_jobs in (1, 2, 3)]
    for model in models[1:]:
        assert_same_model(models[0], model)


BAD_WEIGHTS = [
    ("negative", lambda n: np.r_[-1.0, np.ones(n - 1)], "must be non-negative"),
    ("NaN", lambda n: np.r_[np.nan, np.ones(n - 1)], "must be finite"),
    ("inf", lambda n: np.r_[np.inf, np.ones(n - 1)], "must be finite"),
    ("too short", lambda n: np.ones(n - 1), f"length"),
    ("2-d", lambda n: np.ones((n, 1)), "1-d array"),
    ("all zero", lambda n: np.zeros(n), "zero for every sample"),
    # Each finite, but their sum is not: training's averages were NaN and the
    # fit failed as a divergence whose message was all "nan nats".
    ("sum overflows", lambda n: np.r_[1e308, 1e308, np.ones(n - 2)],
     "sums to more than a float64 holds"),
    ("strings", lambda n: np.array(["a"] * n), "must be numbers"),
]


@pytest.mark.parametrize("label, make, words", BAD_WEIGHTS, ids=[b[0] for b in BAD_WEIGHTS])
@pytest.mark.parametrize("method", ["fit", "partial_fit"])
def test_bad_weights_are_refused_clearly(label, make, words, method):
    X = binary_rows()
    with pytest.raises(ValueError, match=words) as error:
        getattr(BernoulliRBM(**SMALL), method)(X, sample_weight=make(len(X)))
    assert "sample_weight" in str(error.value)


@pytest.mark.parametrize("kind", ["pcd", "gaussian", "categorical"])
def test_a_failing_call_with_weights_changes_nothing(kind):
    model, X, _ = atomicity_model(kind)
    n = len(X)
    for label, make, _ in BAD_WEIGHTS:
        for method in ("fit", "partial_fit"):
            for warm in (False, True):
                subject = copy.deepcopy(model).set_params(warm_start=warm)
                before = fingerprint(subject)
                with pytest.raises(ValueError):
                    getattr(subject, method)(X, sample_weight=make(n))
                assert fingerprint(subject) == before, (label, method, warm)


@pytest.mark.parametrize("kind", ["pcd", "gaussian", "categorical"])
@pytest.mark.parametrize("method", ["fit", "partial_fit"])
def test_a_refused_first_fit_leaves_the_model_unfitted(kind, method):
    # Validation set n_features_in_ before the weights (or a bad value) were
    # refused, so check_is_fitted passed on a model without parameters:
    # transform raised "missing its fitted attribute" instead of NotFittedError.
    from sklearn.exceptions import NotFittedError
    from sklearn.base import clone
    fitted, X, bad = atomicity_model(kind)
    failures = [(X, make(len(X))) for _, make, _ in BAD_WEIGHTS] + [(bad, None)]
    for data, weights in failures:
        subject = clone(fitted)
        before = fingerprint(subject)
        with pytest.raises(ValueError):
            getattr(subject, method)(data, sample_weight=weights)
        assert fingerprint(subject) == before
        with pytest.raises(NotFittedError):
            subject.transform(X)


# --------------------------------------------------------------------------
# The outlier detector
# --------------------------------------------------------------------------

def test_outlier_detector_passes_weights_and_weighs_its_threshold():
    X = binary_rows(200, 8)
    weights = integer_weights(200)
    make = lambda: RBMOutlierDetector(BernoulliRBM(n_components=4, n_iter=5, random_state=0))
    detector = make().fit(X, sample_weight=weights)
    inner = BernoulliRBM(n_components=4, n_iter=5, random_state=0).fit(X, sample_weight=weights)
    assert np.array_equal(detector.estimator_.components_, inner.components_)
    assert make().fit(X, sample_weight=np.ones(200)).offset_ == make().fit(X).offset_
    assert make().fit(X, sample_weight=weights * 7.5).offset_ == pytest.approx(
        detector.offset_, abs=1e-12)


def test_weighted_quantile_is_numpy_s_linear_rule_at_the_weights_centres():
    from rbm.outlier import _weighted_linear_quantile as quantile

    values, weights = np.array([4.0, 1.0, 2.0, 2.0]), np.array([1.0, 1.0, 1.0, 3.0])
    # Sorted 1, 2, 2, 4; the tied 2s share their weight (2 each): centres
    # 0.5, 2, 4, 5.5, so positions 0, 0.3, 0.7, 1.
    for q, expected in [(0.0, 1.0), (0.15, 1.5), (0.5, 2.0), (0.85, 3.0), (1.0, 4.0)]:
        assert quantile(values, weights, q, tie=0.0) == pytest.approx(expected)
    # The tied rows' order does not matter, also where they differ by rounding.
    assert quantile(values, weights[[0, 1, 3, 2]], 0.15, tie=0.0) == pytest.approx(1.5)
    nearly = values + [0, 0, 0, 1e-15]
    assert quantile(nearly, weights, 0.15, tie=1e-14) == pytest.approx(1.5)
    np.testing.assert_equal(quantile(values, np.full(4, 2.0), 0.3, tie=0.0),
                            np.percentile(values, 30))


def test_outlier_detector_threshold_moves_continuously_with_the_weights():
    # Weights of 1 took NumPy's linear quantile, any other weights its
    # "inverted_cdf" one: one weight a billionth heavier moved offset_ by a
    # whole order statistic (2.3160 to 2.3092) and flagged one row fewer.
    X = np.random.default_rng(0).random((45, 6))
    make = lambda: RBMOutlierDetector(BernoulliRBM(n_components=3, n_iter=3, random_state=0))
    plain = make().fit(X)
    nudged = np.ones(45)
    nudged[0] += 1e-9
    tilted = make().fit(X, sample_weight=nudged)
    assert tilted.offset_ == pytest.approx(plain.offset_, abs=1e-8)
    assert (tilted.predict(X) == -1).sum() == (plain.predict(X) == -1).sum() == 5


def test_weighted_threshold_is_bounded_by_the_extreme_scores_whatever_their_weight():
    # As documented (fit's sample_weight, README): continuous with positive
    # weights, but a weight going to 0 is not the row left out, since the
    # lowest score stays the interpolation's end.
    from rbm.outlier import _weighted_linear_quantile as quantile

    values = np.array([-100.0, -2.0, -1.0, 0.0])
    tiny = quantile(values, np.array([1e-12, 1.0, 1.0, 1.0]), 0.1, tie=0.0)
    assert tiny == pytest.approx(-51.0)
    assert quantile(values[1:], np.array([1.0, 2.0, 1.0]), 0.1, tie=0.0) > -2.0


def test_outlier_detector_refuses_weights_its_model_cannot_take():
    class NoWeights(BernoulliRBM):
        def fit(self, X, y=None):
            return super().fit(X, y)

    with pytest.raises(ValueError, match="takes no sample_weight"):
        RBMOutlierDetector(NoWeights(n_iter=1)).fit(binary_rows(), sample_weight=np.ones(60))


# --------------------------------------------------------------------------
# scikit-learn's equivalence checks fail for repetition itself
# --------------------------------------------------------------------------

def repeating(estimator_class):
    """``estimator_class`` whose ``fit`` takes integer weights as literal repetition."""

    class Repeating(estimator_class):
        def fit(self, X, y=None, sample_weight=None):
            if sample_weight is None:
                return super().fit(X, y)
            rows = np.repeat(np.arange(X.shape[0]), np.asarray(sample_weight, dtype=int))
            return super().fit(X[rows], y)

    Repeating.__name__ = f"Repeating{estimator_class.__name__}"
    return Repeating


EQUIVALENCE_CASES = [
    (BernoulliRBM, "check_sample_weight_equivalence_on_dense_data"),
    (BernoulliRBM, "check_sample_weight_equivalence_on_sparse_data"),
    (GaussianBernoulliRBM, "check_sample_weight_equivalence_on_dense_data"),
    (GaussianBernoulliRBM, "check_sample_weight_equivalence_on_sparse_data"),
    (CategoricalRBM, "check_sample_weight_equivalence_on_dense_data"),
    (RBMOutlierDetector, "check_sample_weight_equivalence_on_dense_data"),
]


@pytest.mark.parametrize("estimator_class, check_name", EQUIVALENCE_CASES,
                         ids=[f"{c.__name__}-{n.rsplit('_', 2)[-2]}" for c, n in
                              EQUIVALENCE_CASES])
def test_weight_equivalence_checks_fail_for_repetition_itself(estimator_class, check_name):
    # The proof behind tests/weight_checks.py: an estimator whose weights are
    # repetition by construction fails the check with the check's own
    # assertion, because the check fits the weighted rows in another order
    # than the repeated ones and a minibatch fit depends on that order.
    from sklearn.utils import estimator_checks

    check = getattr(estimator_checks, check_name)
    if estimator_class is RBMOutlierDetector:
        estimator = repeating(RBMOutlierDetector)(
            BernoulliRBM(n_components=4, n_iter=5, n_jobs=1))
    else:
        estimator = repeating(estimator_class)(n_iter=10)
    # CategoricalRBM fails earlier: the repeated rows lack the categories of
    # the rows of weight 0, on which the repeated model's transform(X) raises.
    failure = ((ValueError, "not one of its categories") if estimator_class is CategoricalRBM
               else (AssertionError, "not equivalent to fitting with removed or repeated"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(failure[0], match=failure[1]):
            check(type(estimator).__name__, estimator)


def test_numbers_in_an_object_array_are_weights_and_a_sparse_matrix_is_named():
    # scikit-learn converts an object array of numbers; a sparse weight was
    # refused as "dtype object".
    from sklearn.base import clone

    X = (np.random.default_rng(0).random((50, 6)) > 0.5).astype(float)
    weights = np.linspace(0.5, 2.0, 50)
    model = BernoulliRBM(n_components=3, n_iter=2, random_state=0)
    as_objects = clone(model).fit(X, sample_weight=weights.astype(object))
    as_floats = clone(model).fit(X, sample_weight=weights)
    np.testing.assert_array_equal(as_objects.components_, as_floats.components_)
    for bad, message in [(np.array(["1"] * 50, dtype=object), "must be numbers"),
                         (np.array([True] * 50, dtype=object), "must be numbers"),
                         (sp.csr_matrix(weights[:, None]), "dense 1-d array, got a sparse")]:
        with pytest.raises(ValueError, match=message):
            clone(model).fit(X, sample_weight=bad)


def test_weights_near_the_float64_limit_train_as_any_constant_weight():
    # 60 weights of 2.9e306 sum to 1.74e308, a legal (finite) sum, but the
    # Gaussian spread overflowed: a UserWarning of "standard deviation inf"
    # for standardised data, then a DivergenceError telling the user to
    # standardise.  Weighted means now scale the weights by a power of two.
    from rbm._weights import scaled_to_unit
    rng = np.random.default_rng(0)
    X = rng.standard_normal((60, 4))
    plain = GaussianBernoulliRBM(n_components=3, n_iter=5, random_state=0).fit(X)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no off-scale warning, no overflow
        heavy = GaussianBernoulliRBM(n_components=3, n_iter=5, random_state=0).fit(
            X, sample_weight=np.full(60, 2.9e306))
    np.testing.assert_allclose(heavy.sigma_, plain.sigma_, rtol=1e-12)
    assert heavy.score(X) == pytest.approx(plain.score(X), rel=1e-12)
    # The scaling is exact: a power of two, the largest weight in [0.5, 1).
    for weights in (np.array([3.0, 0.25, 2.9e306, 0.0]), np.full(3, 5e-324)):
        scaled = scaled_to_unit(weights)
        assert 0.5 <= scaled.max() < 1.0
        # The same mantissas (a power of two scales them): no rounding.
        np.testing.assert_array_equal(np.frexp(scaled)[0], np.frexp(weights)[0])


def test_a_divergence_under_huge_weights_gives_its_figures():
    # Before: "at most nan nats, nan below the -inf of the independent model"
    # (np.average overflowed on the weights).
    X = (np.random.default_rng(0).random((60, 6)) < 0.5).astype(float)
    from rbm import DivergenceError
    with pytest.raises(DivergenceError, match=r"at most -\d+\.\d+ nats") as raised:
        BernoulliRBM(n_components=3, n_iter=5, random_state=0, learning_rate=1000).fit(
            X, sample_weight=np.full(60, 1e306))
    assert "nan" not in str(raised.value) and "inf" not in str(raised.value)
