"""``learning_rate="auto"``: one rate per pair of unit types, chosen on the benchmarks."""

import numpy as np
import pytest
from sklearn.datasets import load_digits

from rbm import BernoulliRBM, CategoricalRBM, DivergenceError, GaussianBernoulliRBM
from rbm.cli import main as cli_main

# The rates benchmarks/README.md reports choosing: the visible type's rate
# with binary hidden units, a tenth of it for Gaussian hidden units, a sixth
# for ReLU and dReLU units.
VISIBLE_RATES = {BernoulliRBM: 0.06, CategoricalRBM: 0.04, GaussianBernoulliRBM: 0.01}
HIDDEN_DIVISORS = {"bernoulli": 1, "gaussian": 10, "relu": 6, "drelu": 6}


def data_for(estimator_class, rng):
    if estimator_class is BernoulliRBM:
        return (rng.random((60, 5)) < 0.5).astype(float)
    if estimator_class is CategoricalRBM:
        return rng.integers(0, 3, (60, 4))
    return rng.standard_normal((60, 4))


@pytest.mark.parametrize("hidden", sorted(HIDDEN_DIVISORS))
@pytest.mark.parametrize("estimator_class", list(VISIBLE_RATES), ids=lambda c: c.__name__)
def test_auto_is_the_visible_rate_over_the_hidden_divisor(estimator_class, hidden):
    model = estimator_class(n_components=3, hidden=hidden, n_iter=2, random_state=0, n_jobs=1)
    assert model.learning_rate == "auto"
    model.fit(data_for(estimator_class, np.random.default_rng(0)))
    expected = VISIBLE_RATES[estimator_class] / HIDDEN_DIVISORS[hidden]
    assert model.learning_rate_ == pytest.approx(expected, rel=1e-15)
    # The first epoch of the linear schedule steps at the whole rate.
    assert model.history_["learning_rate"][0] == model.learning_rate_


@pytest.mark.parametrize("estimator_class", list(VISIBLE_RATES), ids=lambda c: c.__name__)
def test_auto_with_binary_hidden_units_is_the_old_default_bit_for_bit(estimator_class):
    X = data_for(estimator_class, np.random.default_rng(1))
    settings = dict(n_components=4, n_iter=3, random_state=0, n_jobs=1)
    auto = estimator_class(**settings).fit(X)
    number = estimator_class(learning_rate=VISIBLE_RATES[estimator_class], **settings).fit(X)
    np.testing.assert_array_equal(auto.components_, number.components_)
    np.testing.assert_array_equal(auto.intercept_visible_, number.intercept_visible_)


def test_a_given_rate_is_used_as_given_whatever_the_hidden_type():
    X = data_for(BernoulliRBM, np.random.default_rng(2))
    model = BernoulliRBM(n_components=3, hidden="gaussian", learning_rate=0.05, n_iter=2,
                         random_state=0).fit(X)
    assert model.learning_rate_ == 0.05
    model.set_params(learning_rate="auto").partial_fit(X)
    assert model.learning_rate_ == pytest.approx(0.006)


def test_gaussian_hidden_units_run_away_at_the_binary_rate_and_not_at_auto():
    # The case "auto" exists for: binarised digits, 20 Gaussian hidden units.
    X = (load_digits().data > 8).astype(float)
    settings = dict(n_components=20, hidden="gaussian", n_iter=20, random_state=0, n_jobs=1)
    with pytest.raises(DivergenceError, match="lower the learning rate"):
        BernoulliRBM(learning_rate=0.06, **settings).fit(X)
    model = BernoulliRBM(**settings).fit(X)
    assert np.all(np.isfinite(model.components_))


def test_a_divergence_names_the_auto_rate_and_the_default():
    X = data_for(BernoulliRBM, np.random.default_rng(3))
    model = BernoulliRBM(n_components=3, learning_rate=1000, n_iter=3, random_state=0)
    with pytest.raises(DivergenceError) as excinfo:
        model.fit(X)
    assert 'the default, "auto", is 0.06 for this model' in str(excinfo.value)


def test_the_command_line_takes_auto_and_refuses_a_word(tmp_path, capsys):
    data = tmp_path / "binary.csv"
    np.savetxt(data, data_for(BernoulliRBM, np.random.default_rng(4)), delimiter=",", fmt="%d")
    assert cli_main(["fit", str(data), "--n-components", "2", "--n-iter", "1",
                     "--learning-rate", "auto", "-q", "--n-jobs", "1"]) == 0
    with pytest.raises(SystemExit):
        cli_main(["fit", str(data), "--learning-rate", "fast"])
    assert 'expected a positive number or "auto", got \'fast\'' in capsys.readouterr().err
