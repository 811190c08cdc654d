"""The L1-squared weight penalty of Tubiana, Cocco and Monasson (eLife 2019, Eq. 8):
``l1_squared_weight_decay`` (issue 19)."""

import copy

import numpy as np
import pytest

from rbm import BernoulliRBM, CategoricalRBM, GaussianBernoulliRBM
from rbm._training import l1_squared_gradient, l1_squared_penalty


def test_gradient_matches_finite_differences_of_the_penalty():
    rng = np.random.default_rng(0)
    W = rng.normal(0, 1, (4, 7))  # no entry within the step of 0 (a kink of |W|)
    W[np.abs(W) < 1e-3] = 0.5
    analytic = l1_squared_gradient(W, 0.3)
    numeric = np.zeros_like(W)
    step = 1e-6
    for index in np.ndindex(W.shape):
        up, down = W.copy(), W.copy()
        up[index] += step
        down[index] -= step
        numeric[index] = (l1_squared_penalty(up, 0.3) - l1_squared_penalty(down, 0.3)) / (2 * step)
    # The penalty is quadratic between kinks: central differences are exact
    # up to rounding (~1e-16 / 1e-6).
    np.testing.assert_allclose(analytic, numeric, atol=1e-8)


def test_penalty_is_the_published_form():
    W = np.array([[1.0, -2.0, 0.0], [0.5, 0.5, -0.5]])
    # lambda / (2 N) sum_mu (sum_i |W_mu i|)**2 with N = 3 columns.
    assert l1_squared_penalty(W, 0.6) == pytest.approx(0.6 / 6 * (3.0 ** 2 + 1.5 ** 2))


def binary_rows(n_rows=40, n_features=12, seed=0):
    return (np.random.default_rng(seed).random((n_rows, n_features)) < 0.3).astype(float)


CASES = {
    "bernoulli": lambda: (BernoulliRBM(n_components=5, learning_rate=0.1), binary_rows()),
    "bernoulli, wide": lambda: (BernoulliRBM(n_components=300, learning_rate=0.1),
                                binary_rows(n_features=200)),
    "gaussian": lambda: (GaussianBernoulliRBM(n_components=6),
                         np.random.default_rng(1).standard_normal((40, 9))),
    "drelu": lambda: (BernoulliRBM(n_components=5, hidden="drelu", learning_rate=0.05),
                      binary_rows()),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_kernel_step_is_the_penalty_gradient_after_the_weight_step(case):
    """One minibatch: the penalised pass differs from the plain one exactly by the
    penalty's gradient step at the plain pass's weights (sampling comes before it)."""
    model, X = CASES[case]()
    model.set_params(batch_size=len(X), momentum=0.0, weight_decay=0.0, random_state=0,
                     n_iter=1)
    model.fit(X)  # a trained start, so that the weights are not all tiny
    plain, penalised = copy.deepcopy(model), copy.deepcopy(model)
    penalised.set_params(l1_squared_weight_decay=0.5)
    plain.partial_fit(X)
    penalised.partial_fit(X)
    rate = model.learning_rate_ * model._training.learning_rate_fraction
    expected = plain.components_ - rate * l1_squared_gradient(
        plain.components_.astype(np.float64), 0.5)
    np.testing.assert_allclose(penalised.components_, expected, rtol=1e-10, atol=1e-12)
    assert not np.array_equal(penalised.components_, plain.components_)


def test_categorical_step_keeps_the_gauge_and_shrinks_each_unit():
    """Categorical weights are re-centred per feature after every step (the
    zero-sum gauge), so the penalised pass is the plain one minus the penalty
    step, re-centred; it must keep the gauge and lower each unit's total |W|."""
    X = np.random.default_rng(2).integers(0, 3, (40, 5))
    model = CategoricalRBM(n_components=4, learning_rate=0.1, batch_size=40, momentum=0.0,
                           weight_decay=0.0, random_state=0, n_iter=1).fit(X)
    plain, penalised = copy.deepcopy(model), copy.deepcopy(model)
    penalised.set_params(l1_squared_weight_decay=0.5)
    plain.partial_fit(X)
    penalised.partial_fit(X)
    difference = (penalised.components_ - plain.components_).reshape(4, 5, 3)
    np.testing.assert_allclose(difference.sum(axis=2), 0.0, atol=1e-12)
    assert np.all(np.abs(penalised.components_).sum(axis=1)
                  < np.abs(plain.components_).sum(axis=1))


def test_default_is_off_and_bit_identical():
    X = binary_rows()
    a = BernoulliRBM(n_components=5, n_iter=3, random_state=0).fit(X)
    b = BernoulliRBM(n_components=5, n_iter=3, random_state=0,
                     l1_squared_weight_decay=0.0).fit(X)
    assert a.l1_squared_weight_decay == 0.0
    np.testing.assert_array_equal(a.components_, b.components_)


@pytest.mark.parametrize("value", [-0.1, np.nan, "big"])
def test_bad_values_are_refused_with_the_parameter_named(value):
    with pytest.raises(ValueError, match="l1_squared_weight_decay"):
        BernoulliRBM(l1_squared_weight_decay=value).fit(binary_rows())


def test_penalty_concentrates_drelu_units_on_fewer_weights():
    """The penalty's purpose: each unit's summed |W| shrinks."""
    X = binary_rows(n_rows=200, n_features=20, seed=3)
    totals = []
    for strength in (0.0, 1.0):
        model = BernoulliRBM(n_components=8, hidden="drelu", n_iter=20, learning_rate=0.05,
                             l1_squared_weight_decay=strength, random_state=0).fit(X)
        assert np.all(np.isfinite(model.components_))
        assert np.isfinite(model.score(X))
        totals.append(np.abs(model.components_).sum(axis=1).mean())
    assert totals[1] < 0.8 * totals[0]

