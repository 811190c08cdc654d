"""``weight_decay="auto"``: 5e-4 times the hidden type's multiplier (benchmarks/README.md)."""

import numpy as np
import pytest

from rbm import BernoulliRBM, CategoricalRBM, DivergenceError, GaussianBernoulliRBM
from rbm.cli import main as cli_main

from test_auto_learning_rate import VISIBLE_RATES, data_for

# What benchmarks/README.md reports choosing: binary units' 5e-4, ten times
# it for Gaussian and ReLU hidden units (whose "auto" rates are a tenth and a
# sixth: at 5e-4 their default fits of mushrooms ran away), 5e-4 for dReLU.
HIDDEN_DECAYS = {"bernoulli": 5e-4, "gaussian": 5e-3, "relu": 5e-3, "drelu": 5e-4}


@pytest.mark.parametrize("hidden", sorted(HIDDEN_DECAYS))
@pytest.mark.parametrize("estimator_class", list(VISIBLE_RATES), ids=lambda c: c.__name__)
def test_auto_is_the_hidden_types_decay_whatever_the_visible_type(estimator_class, hidden):
    model = estimator_class(n_components=3, hidden=hidden, n_iter=2, random_state=0, n_jobs=1)
    assert model.weight_decay == "auto"
    model.fit(data_for(estimator_class, np.random.default_rng(0)))
    assert model.weight_decay_ == pytest.approx(HIDDEN_DECAYS[hidden], rel=1e-15)


@pytest.mark.parametrize("estimator_class", list(VISIBLE_RATES), ids=lambda c: c.__name__)
def test_auto_with_binary_hidden_units_is_the_old_default_bit_for_bit(estimator_class):
    X = data_for(estimator_class, np.random.default_rng(1))
    settings = dict(n_components=4, n_iter=3, random_state=0, n_jobs=1)
    auto = estimator_class(**settings).fit(X)
    number = estimator_class(weight_decay=5e-4, **settings).fit(X)
    np.testing.assert_array_equal(auto.components_, number.components_)
    np.testing.assert_array_equal(auto.intercept_hidden_, number.intercept_hidden_)


@pytest.mark.parametrize("hidden", ["gaussian", "relu"])
def test_auto_trains_with_the_larger_decay(hidden):
    """The fit with "auto" is the fit with its number, and not the one at 5e-4."""
    X = data_for(BernoulliRBM, np.random.default_rng(2))
    settings = dict(n_components=3, hidden=hidden, n_iter=3, random_state=0, n_jobs=1)
    auto = BernoulliRBM(**settings).fit(X)
    number = BernoulliRBM(weight_decay=HIDDEN_DECAYS[hidden], **settings).fit(X)
    binary_decay = BernoulliRBM(weight_decay=5e-4, **settings).fit(X)
    np.testing.assert_array_equal(auto.components_, number.components_)
    assert not np.array_equal(auto.components_, binary_decay.components_)


def test_a_given_decay_is_used_as_given_and_auto_again_after_set_params():
    X = data_for(BernoulliRBM, np.random.default_rng(3))
    model = BernoulliRBM(n_components=3, hidden="relu", weight_decay=0.0, n_iter=2,
                         random_state=0, n_jobs=1).fit(X)
    assert model.weight_decay_ == 0.0
    model.set_params(weight_decay="auto").partial_fit(X)
    assert model.weight_decay_ == pytest.approx(5e-3)


@pytest.mark.parametrize("bad", [-1e-3, "fast", np.nan])
def test_a_bad_decay_is_refused_before_training(bad):
    with pytest.raises(ValueError, match="weight_decay"):
        BernoulliRBM(weight_decay=bad).fit(data_for(BernoulliRBM, np.random.default_rng(4)))


def test_a_huge_decay_names_auto_in_its_message():
    X = data_for(BernoulliRBM, np.random.default_rng(5))
    with pytest.raises(DivergenceError) as excinfo:
        BernoulliRBM(n_components=3, hidden="relu", weight_decay=1e6, n_iter=3,
                     random_state=0).fit(X)
    assert '"auto" is 0.005 for this model' in str(excinfo.value)


def test_the_command_line_takes_auto_and_refuses_a_word_or_a_negative(tmp_path):
    data = tmp_path / "binary.csv"
    np.savetxt(data, data_for(BernoulliRBM, np.random.default_rng(6)), delimiter=",", fmt="%d")
    assert cli_main(["fit", str(data), "--n-components", "2", "--n-iter", "1",
                     "--weight-decay", "auto", "-q", "--n-jobs", "1"]) == 0
    for word in ("strong", "-1"):
        with pytest.raises(SystemExit):
            cli_main(["fit", str(data), "--weight-decay", word])
