"""RBMClassifier's parameters past float64's resolution (an energy scale past
2**52, ``rbm._state.MAX_ENERGY_SCALE``): training stops there, as the density
models' does, and log Z, log-likelihoods and exact draws of such parameters
(assigned or loaded) are refused by the density models' check, naming the
attribute; predictions and Gibbs draws, which stay meaningful, are not."""

import copy

import numpy as np
import pytest
from sklearn.datasets import load_digits

from rbm import RBMClassifier
from test_failed_calls import fingerprint


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return X[:200] / 16, y[:200]


@pytest.fixture(scope="module")
def model(digits):
    X, y = digits
    return RBMClassifier(n_components=6, n_iter=2, random_state=0).fit(X, y)


REFUSED = {
    "log_partition": lambda m, X, y: m.log_partition(),
    "log_partition_ais": lambda m, X, y: m.log_partition(method="ais", n_betas=10),
    "log_likelihood": lambda m, X, y: m.log_likelihood(X[:3], y[:3]),
    "exact_sample": lambda m, X, y: m.sample(3, method="exact"),
    "exact_class_sample": lambda m, X, y: m.sample(3, y=y[:3], method="exact"),
    "auto_sample": lambda m, X, y: m.sample(3),
}


@pytest.mark.parametrize("attribute", ["components_", "class_components_",
                                       "intercept_class_"])
@pytest.mark.parametrize("call", sorted(REFUSED))
def test_parameters_past_the_energy_limit_are_refused_by_name(model, digits, attribute, call):
    # Scaled by 1e20, log p(x, y) was rounding noise: with the class weights
    # so scaled, log_likelihood read exactly 0 (p = 1) for a row, and the
    # exact draws picked states from sums of weights float64 cannot resolve.
    X, y = digits
    scaled = copy.deepcopy(model)
    setattr(scaled, attribute, getattr(model, attribute) * 1e20)
    before = fingerprint(scaled)
    with pytest.raises(ValueError, match=rf"energy scale \(sum of their absolute values\) of "
                                         rf"\S+, most of it in {attribute}, past 2\*\*52"):
        REFUSED[call](scaled, X, y)
    assert fingerprint(scaled) == before


def test_parameters_below_the_energy_limit_are_scored(model, digits):
    # The bound is the density models' (2**52): 1e10 times the weights is
    # large but resolved, and gets its log-likelihoods as before.
    X, y = digits
    scaled = copy.deepcopy(model)
    scaled.components_ = model.components_ * 1e10
    assert np.all(np.isfinite(scaled.log_likelihood(X[:3], y[:3])))
    assert scaled.sample(3, method="exact")[0].shape == (3, X.shape[1])


def test_predictions_and_gibbs_draws_of_large_parameters_stay_available(model, digits):
    # p(y | x) is computed stably for any scale (scores relative to class 0's),
    # and a Gibbs step needs only each unit's field: neither is refused.
    X, y = digits
    scaled = copy.deepcopy(model)
    scaled.components_ = model.components_ * 1e20
    np.testing.assert_allclose(scaled.predict_proba(X[:5]).sum(axis=1), 1.0)
    assert scaled.sample(2, method="gibbs", n_steps=3)[0].shape == (2, X.shape[1])


@pytest.mark.filterwarnings("ignore:RBMClassifier got input far:UserWarning")
def test_training_stops_where_the_energy_scale_passes_the_limit(digits):
    # Gaussian inputs of standard deviation 0.03-0.3 at the default rate: the
    # weights grew 1e14 -> 1e26 in two epochs, all finite, and fit returned
    # that model without a word (its log Z past float64's resolution).  Now
    # the steps diverged, by the check that stops the density models there.
    X, y = digits
    model = RBMClassifier(n_components=6, n_iter=2, visible="gaussian", random_state=0)
    with pytest.raises(ValueError, match=r"too large for float64 \(an energy scale past "
                                         r"2\*\*52\).*learning_rate=0\.2.*standardise"):
        model.fit(X, y)
    assert not hasattr(model, "components_")


def test_exact_draws_refuse_visible_terms_beyond_float64(digits):
    # Below the energy limit a Gaussian layer's own log partition can still
    # overflow (sigma is not in the energy scale): the exact draws then had
    # NaN sums to pick from.  Reachable from extreme data only; here sigma
    # itself is set to 1e200.
    from sklearn.preprocessing import StandardScaler
    from rbm import _gibbs
    X, y = digits
    model = RBMClassifier(n_components=6, n_iter=2, visible="gaussian", random_state=0)
    model.fit(StandardScaler().fit_transform(X), y)
    model._visible_unit.state[_gibbs.GAUSSIAN_SIGMA] = 1e200
    with pytest.raises(ValueError, match="overflowed float64.*method='gibbs'"):
        model.sample(3, method="exact")
