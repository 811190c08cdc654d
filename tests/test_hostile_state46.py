"""Fitted state a hostile reviewer damaged after fit or in a model file.

- The log-partition caches (the density models' ``_training.log_partition_cache``
  and ``RBMClassifier._log_partition_cache``) hold only the entries the
  library writes: a NaN log Z, an infinite estimate or a bad standard error
  is refused by name, not returned by ``score`` as NaN; an AIS run whose
  chains ran away to NaN is not cached.
"""

import math

import numpy as np
import pytest

import rbm
import rbm._likelihood
from rbm import BernoulliRBM, GaussianBernoulliRBM, RBMClassifier
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

CACHE_MESSAGE = r"log_partition_cache must be a dict of \(log Z, standard error\) pairs, but"


@pytest.mark.parametrize("log_z, problem", [
    (math.nan, "its log Z is NaN"),
    (math.inf, "an exact log Z of this model is finite"),
    (-math.inf, "an exact log Z of this model is finite")])
@pytest.mark.parametrize("suffix", [".joblib", ".skops"])
def test_a_saved_cache_with_a_nan_or_infinite_log_z_is_refused_at_load(binary, tmp_path,
                                                                        log_z, problem, suffix):
    # score returned NaN (or -inf, +inf) silently: the cache passed as numbers.
    model = scored(binary)
    cache = model._training.log_partition_cache
    for key in cache:
        cache[key] = (log_z, 0.0)
    with pytest.raises(ValueError, match=CACHE_MESSAGE + f".*{problem}; set it to {{}}"):
        model.score(binary)
    path = tmp_path / f"model{suffix}"
    save(model, path)
    with pytest.raises(ValueError, match=CACHE_MESSAGE + f".*{problem}"):
        load(path)


@pytest.mark.parametrize("entry, problem", [
    ((1.0, math.nan), "its standard error is not a number >= 0"),
    ((1.0, -0.5), "its standard error is not a number >= 0"),
    ((math.inf, 0.0), "an AIS estimate of log Z is finite"),
    ((True, 0.0), r"not a \(log Z, standard error\) pair of numbers"),
    ((1.0, 0.0), r"a properness verdict is \(inf, 0.0\) or \(-inf, 0.0\)"),
    ((math.nan, 0.0), "its log Z is NaN")])
def test_each_form_the_library_never_writes_is_refused(binary, entry, problem):
    model = scored(binary)
    key = "improper/x" if entry == (1.0, 0.0) else "ais/100/10000/0/x"
    model._training.log_partition_cache[key] = entry
    with pytest.raises(ValueError, match=CACHE_MESSAGE + f".*{problem}"):
        model.transform(binary)


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


def test_a_nan_log_z_in_the_classifiers_cache_is_refused(binary):
    # Its check took NaN for a number, and log_likelihood returned NaN.
    y = np.arange(len(binary)) % 2
    model = RBMClassifier(n_components=4, n_iter=2, random_state=0).fit(binary, y)
    model.log_likelihood(binary, y)
    for bad, problem in (((math.nan, 0.0), "its log Z is NaN"),
                         ((1.0, -1.0), "its standard error is not a number >= 0"),
                         ((math.inf, 0.0), "an exact log Z of this model is finite")):
        model._log_partition_cache = {key: bad for key in model._log_partition_cache}
        for call in (lambda: model.log_likelihood(binary, y), lambda: model.predict(binary)):
            with pytest.raises(ValueError, match="_log_partition_cache must be a dict of "
                                                 rf"\(log Z, standard error\) pairs, but its "
                                                 f"entry .*{problem}; set it to {{}}"):
                call()
    model._log_partition_cache = {}
    assert np.isfinite(model.log_likelihood(binary, y)).all()
