"""Fitted state a hostile reviewer damaged after fit or in a model file.

- The log-partition caches (the density models' ``_training.log_partition_cache``
  and ``RBMClassifier._log_partition_cache``) hold only the entries the
  library writes: a NaN log Z, an infinite estimate or a bad standard error
  is refused by name, not returned by ``score`` as NaN; an AIS run whose
  chains ran away to NaN is not cached.
- Counts set since the fit (``n_temperatures``, ``n_components``) that are no
  integers (0, None, 2.5, 4.0, True) are refused by every call with a
  ValueError naming the parameter and its fitted value, never a
  ZeroDivisionError or TypeError, nor silently accepted.
- ``rbm.persistence.load`` checks every fitted RBM in the loaded object, at
  any depth: inside a ColumnTransformer, a FeatureUnion, a GridSearchCV's
  ``best_estimator_`` and any estimator's lists, tuples and dicts, through
  structures that refer back to themselves.
"""

import math
import re

import numpy as np
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import FeatureUnion, make_pipeline
from sklearn.preprocessing import MinMaxScaler, StandardScaler

import rbm
import rbm._likelihood
from rbm import BernoulliRBM, CategoricalRBM, GaussianBernoulliRBM, RBMClassifier
from rbm.persistence import load, save


@pytest.fixture(scope="module")
def binary():
    return (np.random.default_rng(0).random((40, 8)) < 0.4).astype(float)


def scored(X):
    """A small fitted model whose exact log Z is cached (by ``score``)."""
    model = BernoulliRBM(n_components=4, n_iter=5, random_state=0).fit(X)
    model.score(X)
    return model


# ----------------------------------------------------------------------------
# The log-partition caches
# ----------------------------------------------------------------------------

@pytest.mark.parametrize("log_z", [math.nan, math.inf, -math.inf])
@pytest.mark.parametrize("suffix", [".joblib", ".skops"])
def test_a_saved_cache_with_a_nan_or_infinite_log_z_is_dropped(binary, tmp_path, log_z,
                                                              suffix):
    # score returned NaN (or -inf, +inf) silently: the cache passed as numbers.
    # Such entries are dropped (it is only a cache) and log Z is computed again.
    model = scored(binary)
    expected = model.score(binary)
    cache = model._training.log_partition_cache
    for key in cache:
        cache[key] = (log_z, 0.0)
    path = tmp_path / f"model{suffix}"
    save(model, path)
    loaded = load(path)
    assert all(math.isfinite(entry[0])
               for entry in loaded._training.log_partition_cache.values())
    assert loaded.score(binary) == expected
    assert model.score(binary) == expected


@pytest.mark.parametrize("entry", [
    (1.0, math.nan), (1.0, -0.5), (math.inf, 0.0), (True, 0.0), (1.0, 0.0), (math.nan, 0.0)])
def test_each_form_the_library_never_writes_is_dropped(binary, entry):
    model = scored(binary)
    key = "improper/x" if entry == (1.0, 0.0) else "ais/100/10000/0/x"
    model._training.log_partition_cache[key] = entry
    model.transform(binary)
    assert key not in model._training.log_partition_cache


def test_the_forms_the_library_writes_are_accepted(binary):
    # Properness verdicts are +-inf; an AIS standard error is inf where too few
    # runs carry the weights.
    model = scored(binary)
    expected = model.score(binary)
    model._training.log_partition_cache.update({
        "improper/x": (-math.inf, 0.0), "improper/y": (math.inf, 0.0),
        "ais/100/10000/0/x": (3.5, math.inf), "reverse-chains/100/10000/0/x": (-2.0, 0.25)})
    assert model.score(binary) == expected


def test_an_ais_run_whose_chains_ran_away_is_not_cached(monkeypatch):
    # Its NaN estimate was cached, and the model then held a NaN log Z.
    monkeypatch.setattr(rbm._likelihood, "improper_description", lambda *args: None)
    X = np.random.default_rng(0).standard_normal((40, 3))
    model = GaussianBernoulliRBM(n_components=2, n_iter=3, random_state=0,
                                 hidden="relu").fit(X)
    model.components_[...] = 2.0
    with pytest.warns(RuntimeWarning, match="AIS gave no usable estimate of log Z"):
        estimate = model.log_partition("ais", n_chains=10, n_betas=200, random_state=0)
    assert math.isnan(estimate.log_z)
    assert not any(math.isnan(log_z)
                   for log_z, _ in model._training.log_partition_cache.values())
    model.transform(X)  # the model stays usable
    with pytest.warns(RuntimeWarning, match="AIS gave no usable estimate of log Z"):
        again = model.log_partition("ais", n_chains=10, n_betas=200, random_state=0)
    assert math.isnan(again.log_z)


def test_a_nan_log_z_in_the_classifiers_cache_is_dropped(binary):
    # Its check took NaN for a number, and log_likelihood returned NaN.
    y = np.arange(len(binary)) % 2
    model = RBMClassifier(n_components=4, n_iter=2, random_state=0).fit(binary, y)
    expected = model.log_likelihood(binary, y)
    for bad in ((math.nan, 0.0), (1.0, -1.0), (math.inf, 0.0)):
        model._log_partition_cache = {key: bad for key in model._log_partition_cache}
        np.testing.assert_array_equal(model.log_likelihood(binary, y), expected)
        assert bad not in model._log_partition_cache.values()


# ----------------------------------------------------------------------------
# Counts set since the fit
# ----------------------------------------------------------------------------

def density_calls(model, X):
    """Each public call of a fitted density model besides training."""
    return {"transform": lambda: model.transform(X),
            "get_feature_names_out": lambda: model.get_feature_names_out(),
            "score": lambda: model.score(X),
            "sample": lambda: model.sample(2, n_steps=2),
            "gibbs": lambda: model.gibbs(X[:3]),
            "log_partition": lambda: model.log_partition()}


def count_refusal(owner, name, value, fitted, minimum=1):
    """The message refusing ``name=value`` set since a fit with ``fitted``, as a regex."""
    return (rf"{owner} has {name}={re.escape(repr(value))} \(\w+\), but {name} must be an "
            rf"int >= {minimum}; set {name} back to {fitted} or refit the model\.")


@pytest.mark.parametrize("value", [0, 1, -3, None, 2.5, 3.0, True, "3"])
def test_n_temperatures_set_since_a_pt_fit_to_no_count_is_refused_by_name(binary, value):
    # chains.shape[0] % n_temperatures raised ZeroDivisionError or TypeError;
    # True (== 1) divided every chain count and passed.
    model = BernoulliRBM(n_components=4, n_iter=2, method="pt", n_temperatures=3,
                         n_chains=4, random_state=0).fit(binary)
    model.set_params(n_temperatures=value)
    for call in density_calls(model, binary).values():
        with pytest.raises(ValueError, match=count_refusal("BernoulliRBM", "n_temperatures",
                                                           value, 3, minimum=2)):
            call()
    model.set_params(n_temperatures=3)
    model.transform(binary)


@pytest.mark.parametrize("cls", [BernoulliRBM, CategoricalRBM])
@pytest.mark.parametrize("value", [4.0, np.float64(4.0), "4"])
def test_n_components_set_since_the_fit_to_a_float_is_refused_by_every_call(binary, cls,
                                                                               value):
    # transform and score compared 4 != 4.0 (False) and went on; sample and
    # gibbs then raised "'float' object cannot be interpreted as an integer".
    model = cls(n_components=4, n_iter=2, random_state=0).fit(binary)
    model.set_params(n_components=value)
    for call in density_calls(model, binary).values():
        with pytest.raises(ValueError, match=count_refusal(cls.__name__, "n_components", value,
                                                           4)):
            call()
    model.set_params(n_components=np.int64(4))  # a NumPy integer is a count
    model.sample(2, n_steps=2)


def test_true_is_no_count_of_one_hidden_unit(binary):
    # True == 1, so a one-unit model passed the comparison.
    model = BernoulliRBM(n_components=1, n_iter=2, random_state=0).fit(binary)
    model.set_params(n_components=True)
    for call in density_calls(model, binary).values():
        with pytest.raises(ValueError, match=count_refusal("BernoulliRBM", "n_components", True,
                                                           1)):
            call()


@pytest.mark.parametrize("value", [4.0, True])
def test_the_classifier_refuses_n_components_that_is_no_integer(binary, value):
    # RBMClassifier accepted 4.0 everywhere.
    y = np.arange(len(binary)) % 2
    n_components = 1 if value is True else 4
    model = RBMClassifier(n_components=n_components, n_iter=2, random_state=0).fit(binary, y)
    model.set_params(n_components=value)
    for call in (lambda: model.predict(binary), lambda: model.predict_proba(binary),
                 lambda: model.transform(binary), lambda: model.log_likelihood(binary, y),
                 lambda: model.sample(2, n_steps=2), lambda: model.log_partition()):
        with pytest.raises(ValueError, match=count_refusal("RBMClassifier", "n_components",
                                                           value, n_components)):
            call()


# ----------------------------------------------------------------------------
# load checks every fitted RBM it holds
# ----------------------------------------------------------------------------

def small_rbm():
    return BernoulliRBM(n_components=3, n_iter=2, random_state=0)


#: Fitted meta-estimators holding an RBM, and where their fitted RBM is.
HOLDERS = {
    "ColumnTransformer": (lambda: ColumnTransformer([("rbm", small_rbm(), list(range(8)))]),
                          lambda fitted: fitted.transformers_[0][1]),
    "FeatureUnion": (lambda: FeatureUnion([("rbm", small_rbm()), ("scale", StandardScaler())]),
                     lambda fitted: fitted.transformer_list[0][1]),
    "GridSearchCV": (lambda: GridSearchCV(small_rbm(), {"n_components": [2, 3]}, cv=2),
                     lambda fitted: fitted.best_estimator_),
    "Pipeline of a FeatureUnion": (
        lambda: make_pipeline(MinMaxScaler(), FeatureUnion([("rbm", small_rbm())])),
        lambda fitted: fitted[-1].transformer_list[0][1]),
}

DAMAGE = (r"BernoulliRBM.n_features_in_ is 8, which needs 8 visible columns, but components_ "
          r"has 7; refit the model\.")


def save_and_load(obj, path):
    """``load(path)`` of ``save(obj, path)``, trusting what a .skops file needs."""
    save(obj, path)
    if path.suffix != ".skops":
        return load(path)
    import skops.io
    return load(path, trusted=rbm.trusted_types() + skops.io.get_untrusted_types(file=path))


@pytest.mark.parametrize("holder", HOLDERS)
@pytest.mark.parametrize("suffix", [".skops", ".joblib"])
def test_load_refuses_a_damaged_rbm_inside_any_fitted_meta_estimator(binary, tmp_path, holder,
                                                                      suffix):
    # Only plain models, detectors, imputers, pipeline steps and FrozenEstimator
    # were looked into: these loaded without a word, and failed at use.
    make, fitted_rbm = HOLDERS[holder]
    obj = make().fit(binary)
    assert save_and_load(obj, tmp_path / f"sound{suffix}") is not None  # sound: loads
    model = fitted_rbm(obj)
    model.components_ = model.components_[:, :7].copy()
    with pytest.raises(ValueError, match=DAMAGE):
        save_and_load(obj, tmp_path / f"damaged{suffix}")


def test_load_walks_through_structures_that_refer_back_to_themselves(binary, tmp_path):
    union = FeatureUnion([("scale", StandardScaler())]).fit(binary)
    model = small_rbm().fit(binary)
    model.components_ = model.components_[:, :7].copy()
    # A fitted attribute of the union that holds the union itself, and the model.
    union.extra_ = [union, {"again": union, "model": (union, model)}]
    with pytest.raises(ValueError, match=DAMAGE):
        save_and_load(union, tmp_path / "cycle.joblib")
    union.extra_[1]["model"] = (union, small_rbm().fit(binary))
    loaded = save_and_load(union, tmp_path / "cycle.joblib")
    assert loaded.extra_[0] is loaded


def test_load_looks_into_helpers_that_are_no_estimators(binary, tmp_path):
    # CalibratedClassifierCV keeps its models in _CalibratedClassifier objects,
    # which have no fit: a damaged classifier in one loaded without a word.
    from sklearn.calibration import CalibratedClassifierCV
    y = np.arange(len(binary)) % 2
    calibrated = CalibratedClassifierCV(RBMClassifier(n_components=3, n_iter=2, random_state=0),
                                        cv=2).fit(binary, y)
    assert save_and_load(calibrated, tmp_path / "sound.joblib") is not None
    inner = calibrated.calibrated_classifiers_[0].estimator
    inner.components_ = inner.components_[:, :7].copy()
    with pytest.raises(ValueError, match="components_"):
        save_and_load(calibrated, tmp_path / "damaged.joblib")


def test_pt_set_after_another_methods_fit_names_the_method(binary):
    # Before: "set n_temperatures back to its value at the fit", of a PCD fit.
    model = small_rbm().fit(binary)
    model.set_params(method="pt", n_temperatures=1)
    with pytest.raises(ValueError, match=r"method='pcd'"):
        model.transform(binary)
