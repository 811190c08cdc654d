"""RBMOutlierDetector follows scikit-learn's outlier-detection conventions and detects outliers."""

import re
import warnings

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.datasets import load_digits
from sklearn.exceptions import NotFittedError
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import MinMaxScaler
from sklearn.utils._param_validation import InvalidParameterError
from sklearn.utils.estimator_checks import parametrize_with_checks

from rbm import BernoulliRBM, RBMOutlierDetector
from weight_checks import STOCHASTIC_WEIGHT_CHECKS_DENSE


def _small_rbm(**params):
    return BernoulliRBM(**{"n_components": 8, "n_iter": 20, "learning_rate": 0.05,
                           "random_state": 0, "n_jobs": 1, **params})


@pytest.fixture(scope="module")
def digits():
    digits = load_digits()
    return (digits.data / 16.0 > 0.5).astype(np.float64), digits.target


@pytest.fixture(scope="module")
def detector(digits):
    X, y = digits
    return RBMOutlierDetector(_small_rbm(), contamination=0.1).fit(X[y == 0][:150])


# Scaled into [0, 1] by the pipeline, the detector takes any data, so the
# common checks run on it unchanged (a bare BernoulliRBM rejects their data).
@parametrize_with_checks([RBMOutlierDetector(
    make_pipeline(MinMaxScaler(clip=True), _small_rbm(n_components=4, n_iter=5)),
    criterion="log_likelihood",
)], xfail_strict=True, expected_failed_checks=lambda _: STOCHASTIC_WEIGHT_CHECKS_DENSE)
def test_sklearn_compatible_detector(estimator, check):
    check(estimator)


def test_offset_flags_the_contamination_fraction_of_training_data(digits, detector):
    X, y = digits
    train = X[y == 0][:150]
    assert detector.offset_ == pytest.approx(np.percentile(detector.score_samples(train), 10))
    flagged = np.mean(detector.predict(train) == -1)
    assert 0.08 <= flagged <= 0.12


def test_decision_function_predict_and_score_samples_agree(digits, detector):
    X, _ = digits
    scores = detector.score_samples(X)
    np.testing.assert_allclose(detector.decision_function(X), scores - detector.offset_)
    np.testing.assert_array_equal(detector.predict(X), np.where(scores < detector.offset_, -1, 1))
    np.testing.assert_allclose(scores, -detector.estimator_.free_energy(X))


def test_log_likelihood_criterion_ranks_and_flags_identically(digits, detector):
    X, y = digits
    by_likelihood = RBMOutlierDetector(_small_rbm(), contamination=0.1,
                                       criterion="log_likelihood").fit(X[y == 0][:150])
    log_z, _ = by_likelihood.estimator_.log_partition()
    np.testing.assert_allclose(by_likelihood.score_samples(X),
                               detector.score_samples(X) - log_z)
    np.testing.assert_array_equal(by_likelihood.predict(X), detector.predict(X))


def test_other_digits_are_outliers(digits, detector):
    """Trained on zeros, the detector ranks held-out zeros above every other digit."""
    X, y = digits
    held_out = np.r_[np.flatnonzero(y == 0)[150:], np.flatnonzero(y != 0)]
    is_outlier = y[held_out] != 0
    auc = roc_auc_score(is_outlier, -detector.score_samples(X[held_out]))
    assert auc > 0.95
    assert np.mean(detector.predict(X[held_out][is_outlier]) == -1) > 0.9


def test_estimator_is_cloned_and_defaults_to_a_bernoulli_rbm(digits):
    X, _ = digits
    template = _small_rbm(n_iter=1)
    fitted = RBMOutlierDetector(template).fit(X[:50])
    assert not hasattr(template, "components_")
    assert fitted.estimator_ is not template
    assert isinstance(RBMOutlierDetector().fit(X[:20]).estimator_, BernoulliRBM)


def test_bad_parameters_and_unfitted_use_raise(digits):
    X, _ = digits
    for contamination in (0.0, 0.6, -1):
        with pytest.raises(InvalidParameterError, match="contamination"):
            RBMOutlierDetector(contamination=contamination).fit(X)
    with pytest.raises(InvalidParameterError, match="criterion"):
        RBMOutlierDetector(criterion="energy").fit(X)
    with pytest.raises(ValueError, match="free_energy"):
        RBMOutlierDetector(make_pipeline(MinMaxScaler(), _small_rbm())).fit(X)
    with pytest.raises(NotFittedError):
        RBMOutlierDetector().predict(X)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        RBMOutlierDetector(_small_rbm()).fit(X * 16)


def test_rows_with_gaps_need_the_log_likelihood_and_a_refused_fit_changes_nothing():
    # A missing="impute" model fits rows with gaps, but the free energy of
    # such a row is undefined: the model's error then advised missing="impute"
    # (which it had), and the refit had already replaced estimator_ while
    # offset_ stayed the old model's threshold.
    pd = pytest.importorskip("pandas")
    rng = np.random.default_rng(0)
    X = (rng.random((60, 5)) < 0.5).astype(float)
    gaps = X.copy()
    gaps[0, 1] = np.nan
    model = _small_rbm(n_components=3, n_iter=3, missing="impute")
    detector = RBMOutlierDetector(model).fit(pd.DataFrame(X, columns=list("abcde")))
    fitted, offset = detector.estimator_, detector.offset_
    with pytest.raises(ValueError, match="1 rows of X have missing entries.*"
                                         "Use criterion='log_likelihood'"):
        detector.fit(gaps)
    assert detector.estimator_ is fitted and detector.offset_ == offset
    assert list(detector.feature_names_in_) == list("abcde")
    with pytest.raises(ValueError, match="criterion='log_likelihood'"):
        detector.predict(pd.DataFrame(gaps[:3], columns=list("abcde")))
    fresh = RBMOutlierDetector(model)
    with pytest.raises(ValueError, match="criterion='log_likelihood'"):
        fresh.fit(gaps)
    assert not hasattr(fresh, "estimator_")
    # log p(observed entries) scores them; a refit on an array drops the names.
    scored = detector.set_params(criterion="log_likelihood").fit(gaps)
    assert np.isfinite(scored.score_samples(gaps)).all()
    assert not hasattr(scored, "feature_names_in_")


@pytest.mark.parametrize("estimator, which", [(None, "the default BernoulliRBM"),
                                              (_small_rbm(n_iter=2), "BernoulliRBM")])
def test_errors_of_the_density_model_name_the_detector(digits, estimator, which):
    # The density model's messages named only it ("Negative values in data:
    # BernoulliRBM expects ..."): the user of RBMOutlierDetector() never named
    # a BernoulliRBM, and did not call one.
    X, _ = digits
    detector = RBMOutlierDetector(estimator)
    with pytest.raises(ValueError, match=re.escape(
            f"RBMOutlierDetector.fit (its density model, {which}): Negative values in data")):
        detector.fit(-X[:20])
    assert not hasattr(detector, "estimator_")


def test_errors_of_the_fitted_density_model_name_the_detector_and_its_method(detector):
    # "X has 4 features, but BernoulliRBM is expecting 64": from predict.
    X = np.ones((5, 4))
    for method in ("predict", "decision_function", "score_samples"):
        with pytest.raises(ValueError, match=re.escape(
                f"RBMOutlierDetector.{method} (its density model, BernoulliRBM): X has 4 "
                "features, but BernoulliRBM is expecting 64")):
            getattr(detector, method)(X)
    # The detector's own messages are not prefixed twice.
    damaged = clone(detector)
    damaged.__dict__.update(vars(detector), offset_=np.nan)
    with pytest.raises(ValueError, match=r"^RBMOutlierDetector\.offset_ must be a finite"):
        damaged.predict(np.ones((5, 64)))


def test_rows_with_nothing_observed_are_refused_and_gaps_are_warned_of():
    # With criterion="log_likelihood" a row is scored by log p(observed
    # entries): a row with none scored 0, above every complete row, and
    # passed as the most normal of all; a row with many gaps passes easily.
    rng = np.random.default_rng(0)
    X = (rng.random((80, 6)) < [0.9] * 3 + [0.1] * 3).astype(float)
    detector = RBMOutlierDetector(_small_rbm(n_components=3, n_iter=5, missing="impute"),
                                  criterion="log_likelihood").fit(X)
    import scipy.sparse as sp
    empty = np.vstack([X[:2], np.full((1, 6), np.nan)])
    gaps = X[:3].copy()
    gaps[1, :4] = np.nan
    # Sparse rows too: their stored NaN are gaps (they passed as inliers).
    for form in (np.asarray, sp.csr_matrix):
        for method in (detector.score_samples, detector.predict, detector.decision_function):
            with pytest.raises(ValueError, match="1 rows of X have no observed entry.*row 2"):
                method(form(empty))
        with pytest.warns(UserWarning, match="1 rows of X have missing entries.*tends to pass"):
            detector.predict(form(gaps))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        detector.predict(X[:3])  # complete rows: nothing to warn of


def test_a_criterion_changed_after_fit_is_refused_where_offset_is_read(digits):
    # Before: offset_ (a threshold on -F(x)) was read against log p(x) =
    # -F(x) - log Z after set_params(criterion="log_likelihood"), and every
    # training sample was flagged, silently.
    X, y = digits
    detector = RBMOutlierDetector(_small_rbm(), contamination=0.1).fit(X[y == 0][:150])
    flagged = detector.predict(X[:50])
    detector.set_params(criterion="log_likelihood")
    for method in (detector.predict, detector.decision_function):
        with pytest.raises(ValueError, match=r"threshold on 'free_energy' scores.*"
                                             r"set criterion='free_energy' back, or refit"):
            method(X[:50])
    # Scores alone have no threshold: they stay available on the new scale.
    assert detector.score_samples(X[:5]).shape == (5,)
    np.testing.assert_array_equal(detector.set_params(criterion="free_energy").predict(X[:50]),
                                  flagged)


def test_a_pipeline_s_gap_taking_model_refuses_empty_rows_and_warns_of_gaps():
    # The gap checks asked only the Pipeline itself, which has no
    # missing="impute": a scaler passed NaN on, a row with nothing observed
    # scored log p = 0 and passed as the most normal row, without a word.
    rng = np.random.default_rng(0)
    X = rng.random((200, 6)) * 10
    model = make_pipeline(MinMaxScaler(clip=True),
                          _small_rbm(n_components=3, n_iter=5, missing="impute"))
    detector = RBMOutlierDetector(model, criterion="log_likelihood").fit(X)
    empty = np.vstack([X[:2], np.full((1, 6), np.nan)])
    for method in (detector.score_samples, detector.predict, detector.decision_function):
        with pytest.raises(ValueError, match="1 rows of X have no observed entry.*row 2"):
            method(empty)
    gaps = X[:3].copy()
    gaps[1, :5] = np.nan
    with pytest.warns(UserWarning, match="1 rows of X have missing entries.*tends to pass"):
        detector.predict(gaps)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        detector.predict(X[:3])


@pytest.mark.parametrize("criterion", ["free_energy", "log_likelihood"])
def test_rows_the_criterion_cannot_score_are_refused_before_training(monkeypatch, criterion):
    # fit trained the whole model (7.8 s at 3000 x 64, 256 hidden units) before
    # refusing training rows that were known unscorable from the start.
    rng = np.random.default_rng(0)
    X = (rng.random((60, 5)) < 0.5).astype(float)
    X[-1] = np.nan  # nothing observed: refused by both criteria
    def trained(*args, **kwargs):
        raise AssertionError("the density model trained")
    monkeypatch.setattr(BernoulliRBM, "fit", trained)
    detector = RBMOutlierDetector(_small_rbm(missing="impute"), criterion=criterion)
    message = "no observed entry" if criterion == "log_likelihood" else "missing entries"
    with pytest.raises(ValueError, match=f"1 rows of X have {message}"):
        detector.fit(X)
    assert not hasattr(detector, "estimator_")


def test_a_row_s_label_does_not_depend_on_the_rows_scored_with_it():
    # Binary rows tie, and the quantile landed on a score shared by 119
    # training rows: equal to offset_ in a batch (inliers), 1 ulp below it
    # when scored alone (BLAS rounds a 1-row product differently): outliers.
    rng = np.random.default_rng(1)
    rng.random((8, 64))
    rng.integers(0, 8, 1003)
    patterns = (rng.random((8, 37)) < 0.5).astype(float)
    X = patterns[rng.integers(0, 8, 1003)]
    for criterion in ("free_energy", "log_likelihood"):
        detector = RBMOutlierDetector(BernoulliRBM(n_components=13, n_iter=2, random_state=0),
                                      criterion=criterion).fit(X)
        scores = detector.score_samples(X)
        assert scores.min() == pytest.approx(detector.offset_, abs=1e-11)
        batch = detector.predict(X)
        alone = np.array([detector.predict(X[i:i + 1])[0] for i in range(0, 1003, 3)])
        np.testing.assert_array_equal(alone, batch[::3])
        for size in (2, 5, 17):
            np.testing.assert_array_equal(detector.predict(X[:size]), batch[:size])


def test_a_frozen_model_takes_weights_for_its_threshold():
    # Was refused ("use a density model that does"), though the weights
    # only have a threshold to weigh, which fit computes.
    from sklearn.frozen import FrozenEstimator

    rng = np.random.default_rng(0)
    X = (rng.random((60, 6)) < 0.5).astype(float)
    model = _small_rbm(n_components=3, n_iter=3).fit(X)
    before = model.components_.copy()
    weights = np.arange(60.0)
    weighted = RBMOutlierDetector(FrozenEstimator(model)).fit(X, sample_weight=weights)
    assert weighted.estimator_.estimator is model
    np.testing.assert_array_equal(model.components_, before)
    # The weighted quantile of the frozen model's scores (row 0, of weight 0, left out).
    from rbm.outlier import _weighted_linear_quantile

    expected = _weighted_linear_quantile(-model.free_energy(X)[1:], weights[1:], 0.1, tie=0.0)
    assert weighted.offset_ == pytest.approx(expected, abs=1e-12)
    assert weighted.offset_ != RBMOutlierDetector(FrozenEstimator(model)).fit(X).offset_
    for bad, message in [(-weights, "must be non-negative"), (np.zeros(60), "zero for every"),
                         (weights[:5], r"length 60, got shape \(5,\)")]:
        with pytest.raises(ValueError, match=message):
            RBMOutlierDetector(FrozenEstimator(model)).fit(X, sample_weight=bad)


def test_one_extreme_training_row_does_not_move_the_threshold():
    # The rounding allowance was sized from the largest training score: one
    # row at 1e8 among 300 made it 38, offset_ fell by whole units and 1 row
    # in 300 was flagged instead of 30.  It is now sized from the quantile.
    from sklearn.frozen import FrozenEstimator

    from rbm import GaussianBernoulliRBM

    rng = np.random.default_rng(0)
    X = rng.standard_normal((300, 4))
    model = GaussianBernoulliRBM(n_components=4, n_iter=5, random_state=0).fit(X)
    X[0] = 1e8
    detector = RBMOutlierDetector(FrozenEstimator(model), contamination=0.1).fit(X)
    scores = detector.score_samples(X)
    quantile = np.percentile(scores, 10)
    assert 0 < quantile - detector.offset_ <= 8 * np.finfo(float).eps * max(1, abs(quantile))
    # Distinct real-valued scores: linear interpolation leaves at most one
    # row either way of the fraction.
    assert abs(np.mean(detector.predict(X) == -1) - 0.1) <= 1 / X.shape[0]
    # Weighted: the allowance was also the weighted rule's tie, whose groups
    # chained through every score and averaged the weights away.
    from rbm.outlier import _weighted_linear_quantile

    weights = np.where(scores < np.median(scores), 5.0, 1.0)
    weighted = RBMOutlierDetector(FrozenEstimator(model)).fit(X, sample_weight=weights)
    assert weighted.offset_ == pytest.approx(
        _weighted_linear_quantile(scores, weights, 0.1, tie=0.0), abs=1e-12)
    assert weighted.offset_ < quantile - 0.5


def test_tie_groups_span_at_most_the_tie():
    # Consecutive differences chained: steps of 0.4 with a tie of 1 made one
    # group of all the values.
    from rbm.outlier import _tie_groups

    values = np.arange(10) * 0.4
    np.testing.assert_array_equal(_tie_groups(values, 1.0), [0, 0, 0, 1, 1, 1, 2, 2, 2, 3])
    np.testing.assert_array_equal(_tie_groups(np.array([1.0, 1.0, 2.0, 2.0 + 1e-15, 5.0]), 0.0),
                                  [0, 0, 1, 2, 3])
    np.testing.assert_array_equal(_tie_groups(np.array([1.0, 1.0, 2.0, 2.0 + 1e-15, 5.0]), 1e-14),
                                  [0, 0, 1, 1, 2])


def test_weighted_thresholds_take_scores_of_minus_infinity():
    # Rows far out score -inf under "log_likelihood" (with the model's
    # warning); the first group started only where a step from -inf exceeded
    # the tie, so -inf rows got group -1 and the weighted threshold raised
    # NumPy's "'list' argument must have no negative elements".
    from rbm.outlier import _tie_groups, _weighted_linear_quantile

    values = np.array([-np.inf, -np.inf, -3.0, -2.0, -1.0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        np.testing.assert_array_equal(_tie_groups(values, 1e-12), [0, 0, 1, 2, 3])
        # The -inf pair shares its weight (1.5 each): centres 0.75, 2.25, 3.5,
        # 4.5, 5.5, positions (c - 0.75) / 4.75; q = 0.9 lies between -2 (at
        # 3.75 / 4.75) and -1 (at 1), 0.525 of the way.
        weights = np.array([1.0, 2.0, 1.0, 1.0, 1.0])
        assert _weighted_linear_quantile(values, weights, 0.9, 1e-12) == pytest.approx(-1.475)


@pytest.mark.parametrize("steps", [["rbm"], ["skip", "rbm"], ["scale", "none", "rbm"]])
def test_a_pipeline_without_earlier_steps_or_with_passthrough_ones_is_scored(steps):
    # A one-step Pipeline's gap-taking model made every fit raise
    # AttributeError ("This 'Pipeline' has no attribute 'transform'", from the
    # empty Pipeline of the steps before it), and a "passthrough" first step
    # ("'str' object has no attribute 'n_features_in_'").
    from sklearn.pipeline import Pipeline

    rng = np.random.default_rng(0)
    X = (rng.random((80, 5)) < 0.4).astype(float)
    step = {"rbm": _small_rbm(n_components=3, n_iter=3, missing="impute"),
            "skip": "passthrough", "none": None, "scale": MinMaxScaler()}
    detector = RBMOutlierDetector(Pipeline([(name, step[name]) for name in steps]),
                                  criterion="log_likelihood").fit(X)
    assert detector.n_features_in_ == 5
    plain = RBMOutlierDetector(_small_rbm(n_components=3, n_iter=3, missing="impute"),
                               criterion="log_likelihood").fit(X)
    np.testing.assert_allclose(detector.score_samples(X), plain.score_samples(X))
    empty = np.vstack([X[:2], np.full((1, 5), np.nan)])
    with pytest.raises(ValueError, match="1 rows of X have no observed entry.*row 2"):
        detector.predict(empty)


def test_a_pipeline_s_steps_transform_once_per_call():
    # predict ran the steps before a gap-taking model three times: for the
    # empty-row check, for the gap warning and inside the scoring.
    class Counting(MinMaxScaler):
        calls = 0

        def transform(self, X):
            type(self).calls += 1
            return super().transform(X)

    rng = np.random.default_rng(0)
    X = rng.random((60, 4))
    model = make_pipeline(Counting(), _small_rbm(n_components=3, n_iter=3, missing="impute"))
    detector = RBMOutlierDetector(model, criterion="log_likelihood").fit(X)
    gaps = X[:5].copy()
    gaps[0, 0] = np.nan
    for method in (detector.predict, detector.decision_function, detector.score_samples):
        Counting.calls = 0
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            method(gaps)
        assert Counting.calls == 1, method.__name__


def test_weights_of_a_frozen_model_need_no_newer_scikit_learn(monkeypatch):
    # fit called scikit-learn's _check_sample_weight(allow_all_zero_weights=True),
    # a keyword that came in scikit-learn 1.8, while pyproject asks for 1.6:
    # there a frozen model with weights raised TypeError.  The 1.6 signature:
    from sklearn.frozen import FrozenEstimator
    from sklearn.utils import validation

    import rbm._weights
    import rbm.outlier

    def check_1_6(sample_weight, X, dtype=None, copy=False, ensure_non_negative=False):
        return validation._check_sample_weight(sample_weight, X, dtype=dtype, copy=copy,
                                               ensure_non_negative=ensure_non_negative)

    monkeypatch.setattr(rbm.outlier, "_check_sample_weight", check_1_6)
    monkeypatch.setattr(rbm._weights, "_check_sample_weight", check_1_6)
    rng = np.random.default_rng(0)
    X = (rng.random((60, 6)) < 0.5).astype(float)
    model = _small_rbm(n_components=3, n_iter=3).fit(X)
    weights = np.arange(60.0)
    detector = RBMOutlierDetector(FrozenEstimator(model)).fit(X.tolist(), sample_weight=weights)
    assert np.isfinite(detector.offset_)
    with pytest.raises(ValueError, match="RBMOutlierDetector: sample_weight is zero for every"):
        RBMOutlierDetector(FrozenEstimator(model)).fit(X, sample_weight=np.zeros(60))
