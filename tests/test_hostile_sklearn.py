"""A scikit-learn user's hostile pass: metadata routing, nested parameters,
global configuration, tags and threads; each test was written against a
defect it found (the "Was:" comment says what a user saw)."""

import warnings

import numpy as np
import pytest
import sklearn
import threadpoolctl
from sklearn.base import clone
from sklearn.feature_selection import SequentialFeatureSelector
from sklearn.frozen import FrozenEstimator
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import MinMaxScaler
from sklearn.utils import get_tags
from sklearn.utils._param_validation import InvalidParameterError

import rbm._threads as threads
from rbm import (BernoulliRBM, CategoricalRBM, GaussianBernoulliRBM, RBMClassifier,
                 RBMImputer, RBMOutlierDetector)
from rbm.pretraining import fine_tune


def _tiny_rbm(**params):
    return BernoulliRBM(**{"n_components": 3, "n_iter": 2, "random_state": 0,
                           "n_jobs": 1, **params})


@pytest.fixture
def binary_rows():
    rng = np.random.RandomState(0)
    return (rng.rand(60, 5) > 0.5).astype(float), rng.rand(60) + 0.1


@pytest.fixture
def routing():
    sklearn.set_config(enable_metadata_routing=True)
    yield
    sklearn.set_config(enable_metadata_routing=False)


def _pipeline_detector(request_weights=True):
    model = _tiny_rbm()
    if request_weights is not None:
        model.set_fit_request(sample_weight=request_weights)
    return RBMOutlierDetector(make_pipeline(MinMaxScaler(), model),
                              criterion="log_likelihood")


def test_detector_weights_reach_a_pipeline_under_metadata_routing(binary_rows, routing):
    # Was: TypeError "Pipeline.fit got unexpected argument(s)
    # {'bernoullirbm__sample_weight'}": the step__param syntax is refused
    # once routing is on; the Pipeline routes a plain sample_weight instead.
    X, w = binary_rows
    routed = _pipeline_detector().fit(X, sample_weight=w)
    sklearn.set_config(enable_metadata_routing=False)
    unrouted = _pipeline_detector(request_weights=None).fit(X, sample_weight=w)
    np.testing.assert_array_equal(routed.estimator_[-1].components_,
                                  unrouted.estimator_[-1].components_)
    assert routed.offset_ == unrouted.offset_
    sklearn.set_config(enable_metadata_routing=True)
    aliased = _pipeline_detector(request_weights="row_weight").fit(X, sample_weight=w)
    np.testing.assert_array_equal(aliased.estimator_[-1].components_,
                                  unrouted.estimator_[-1].components_)


def test_detector_under_routing_says_to_request_the_weights(binary_rows, routing):
    X, w = binary_rows
    with pytest.raises(ValueError, match=r"set_fit_request\(sample_weight=True\)"):
        _pipeline_detector(request_weights=None).fit(X, sample_weight=w)


@pytest.mark.parametrize("meta", [RBMOutlierDetector, RBMImputer])
def test_nested_parameter_of_the_default_estimator_says_what_to_do(meta):
    # Was: AttributeError "'NoneType' object has no attribute 'set_params'",
    # for example from GridSearchCV(meta(), {"estimator__n_components": ...}).
    with pytest.raises(ValueError, match=r"estimator=None.*estimator=BernoulliRBM\("):
        meta().set_params(estimator__n_components=4)
    with pytest.raises(ValueError, match="estimator__n_components"):
        GridSearchCV(meta(), {"estimator__n_components": [2, 4]},
                     cv=2, scoring=lambda *args: 0.0).fit(np.eye(4))
    # Given the model in the same call, the nested parameter applies to it.
    model = meta().set_params(estimator=_tiny_rbm(), estimator__n_components=4)
    assert model.estimator.n_components == 4
    assert clone(model).get_params()["estimator__n_components"] == 4


@pytest.mark.parametrize("name", ["n_components", "batch_size", "n_iter", "k",
                                  "pseudo_label_rounds", "pseudo_label_epochs",
                                  "average_epochs", "n_iter_no_change"])
def test_classifier_refuses_a_bool_count_as_the_rbms_do(name):
    # Was: n_components=True and batch_size=True crashed inside the kernel
    # (TypeError "an integer is required"), the other counts ran as 1;
    # BernoulliRBM refuses them with InvalidParameterError.
    X = np.eye(4)[[0, 1, 2, 3] * 5]
    y = np.arange(20) % 2
    model = RBMClassifier(**{"n_components": 2, "n_iter": 1, name: True})
    with pytest.raises(InvalidParameterError, match=rf"'{name}'.*\(a bool\)"):
        model.fit(X, y)
    with pytest.raises(InvalidParameterError, match=rf"'{name}'.*\(a bool\)"):
        model.partial_fit(X, y, classes=[0, 1])


def test_score_samples_with_gaps_warns_about_feature_names_once():
    # Was: two identical "X does not have valid feature names" warnings, as
    # score_samples validated X and then observed_log_likelihood (or, for
    # complete rows given as a list, LikelihoodMixin.score_samples) again.
    pd = pytest.importorskip("pandas")
    rng = np.random.RandomState(0)
    X = (rng.rand(40, 4) > 0.5).astype(float)
    X[::5, 1] = np.nan
    model = _tiny_rbm(missing="impute").fit(pd.DataFrame(X, columns=list("abcd")))
    expected = model.score_samples(pd.DataFrame(X, columns=list("abcd")))
    complete = X[~np.isnan(X).any(axis=1)]
    for rows, scores in [(X, expected), (complete.tolist(), expected[~np.isnan(X).any(axis=1)])]:
        with pytest.warns(UserWarning, match="feature names") as record:
            np.testing.assert_array_equal(model.score_samples(rows), scores)
        assert len([w for w in record if "feature names" in str(w.message)]) == 1


def test_missing_impute_models_tell_scikit_learn_they_take_nan():
    # Was: allow_nan=False whatever `missing` is, so scikit-learn's wrappers
    # that read the tag refused the gaps the model trains on, e.g.
    # SequentialFeatureSelector: "Input X contains NaN".
    for model in (BernoulliRBM(missing="impute"), GaussianBernoulliRBM(missing="impute"),
                  CategoricalRBM(missing="impute"),
                  RBMOutlierDetector(BernoulliRBM(missing="impute"))):
        assert get_tags(model).input_tags.allow_nan
    for model in (BernoulliRBM(), GaussianBernoulliRBM(), CategoricalRBM(), RBMOutlierDetector()):
        assert not get_tags(model).input_tags.allow_nan
    rng = np.random.RandomState(0)
    X = (rng.rand(40, 4) > 0.5).astype(float)
    X[::5, 1] = np.nan
    selector = SequentialFeatureSelector(_tiny_rbm(missing="impute"), n_features_to_select=2,
                                         cv=2).fit(X)
    assert selector.get_support().sum() == 2


def test_categorical_models_work_under_global_pandas_output():
    # Was: with sklearn.set_config(transform_output="pandas") every
    # categorical model failed in fit: its internal OneHotEncoder (sparse
    # output) followed the global setting ("Pandas output does not support
    # sparse data").
    rng = np.random.RandomState(0)
    labels = rng.choice(["a", "b", "c"], (40, 3)).astype(object)
    y = np.arange(40) % 2
    with_gaps = labels.copy()
    with_gaps[::4, 1] = None
    expected = (CategoricalRBM(n_components=3, n_iter=2, random_state=0).fit(labels)
                .transform(labels))
    with sklearn.config_context(transform_output="pandas"):
        model = CategoricalRBM(n_components=3, n_iter=2, random_state=0).fit(labels)
        np.testing.assert_array_equal(model.transform(labels).to_numpy(), expected)
        classifier = RBMClassifier(n_components=3, n_iter=2, visible="categorical",
                                   random_state=0).fit(labels, y)
        assert classifier.predict_proba(labels).shape == (40, 2)
        filled = RBMImputer(CategoricalRBM(n_components=3, n_iter=2),
                            random_state=0).fit_transform(with_gaps)
        assert not filled.isna().any().any()


def test_fine_tune_under_global_pandas_output_warns_nothing():
    # Was: the check of a stack of two RBMs fed the first one's transform (a
    # DataFrame under the global setting) to the second, fitted on arrays:
    # "X has feature names, but BernoulliRBM was fitted without feature names".
    rng = np.random.RandomState(0)
    X = (rng.rand(40, 8) > 0.5).astype(float)
    first = _tiny_rbm(n_components=4).fit(X)
    second = _tiny_rbm(n_components=2).fit(first.transform(X))
    with sklearn.config_context(transform_output="pandas"), warnings.catch_warnings():
        warnings.filterwarnings("error", message=".*feature names")
        fine_tune([first, second], X, np.arange(40) % 2)


def test_default_threads_honour_threadpoolctl_openmp_limits(monkeypatch):
    # Was: n_jobs=None read only OMP_NUM_THREADS (as joblib's process workers
    # set it), so threadpool_limits(1) -- which scikit-learn's own OpenMP
    # estimators honour, and which is how nested parallelism is capped
    # within one process -- left every fit on all the idle cores.
    monkeypatch.setattr(threads, "available_cores", lambda: 4)
    monkeypatch.setattr(threads, "idle_cores", lambda n_cpus: n_cpus)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    with threadpoolctl.threadpool_limits(limits=1, user_api="openmp"):
        assert threads.effective_n_threads(None) == 1
        assert threads.effective_n_threads(3) == 3  # a count given is taken as given


def test_holding_blas_at_one_thread_is_no_openmp_limit_of_the_users(monkeypatch):
    # An OpenMP-threaded BLAS sharing the runtime (conda's openblas-openmp)
    # is held at one thread by omp_set_num_threads(1) (threadpool_limits on
    # the OpenMP runtime stands in for it here): read inside the hold, that
    # limit put fits on one thread from their second epoch (review).
    from rbm._blas import openmp_max_threads, single_threaded_blas
    monkeypatch.setattr(threads, "available_cores", lambda: 4)
    monkeypatch.setattr(threads, "idle_cores", lambda n_cpus: n_cpus)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    before = openmp_max_threads()
    with threadpoolctl.threadpool_limits(limits=4, user_api="openmp"):
        with single_threaded_blas():
            with threadpoolctl.threadpool_limits(limits=1, user_api="openmp"):
                assert openmp_max_threads() == 4
                assert threads.effective_n_threads(None) == 4
    assert openmp_max_threads() == before


def test_detector_takes_a_prefit_model_through_frozen_estimator(binary_rows):
    # Was: TypeError "FrozenEstimator.fit() missing 1 required positional
    # argument: 'y'": the detector called estimator.fit(X), where
    # scikit-learn's meta-estimators pass y on (None here).
    X, _ = binary_rows
    model = _tiny_rbm().fit(X)
    detector = RBMOutlierDetector(FrozenEstimator(model)).fit(X)
    assert detector.estimator_.estimator is model
    assert detector.offset_ == pytest.approx(np.percentile(-model.free_energy(X), 10), abs=1e-12)
