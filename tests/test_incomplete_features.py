"""benchmarks/incomplete_features.py: its per-feature conditional log-likelihoods are exact."""

import importlib.util
import os
import sys
import warnings

import numpy as np
import pytest

from rbm import GaussianBernoulliRBM

BENCHMARKS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                          "benchmarks")


@pytest.fixture(scope="module")
def diagnosis():
    sys.path.insert(0, BENCHMARKS)  # it imports incomplete_training beside it
    try:
        spec = importlib.util.spec_from_file_location(
            "incomplete_features", os.path.join(BENCHMARKS, "incomplete_features.py"))
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(BENCHMARKS)
    return module


def fitted_model(seed=0):
    X = np.random.default_rng(seed).standard_normal((60, 3))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return GaussianBernoulliRBM(n_components=3, n_iter=20, random_state=seed,
                                    missing="impute").fit(X), X


def test_conditional_log_likelihoods_are_log_p_v_less_log_p_of_the_others(diagnosis):
    model, X = fitted_model()
    V = X[:7]
    got = diagnosis.conditional_log_likelihoods(model, V)
    joint = model.score_samples(V)
    for i in range(V.shape[1]):
        gaps = V.copy()
        gaps[:, i] = np.nan
        others = model.observed_log_likelihood(gaps).log_p
        np.testing.assert_allclose(got[:, i], joint - others, rtol=1e-10, atol=1e-10)


def test_conditional_log_likelihood_of_one_feature_is_its_normalised_density(diagnosis):
    """exp(log p(v_0 | v_1, v_2)) integrates to 1 over v_0 (a grid and the trapezoid rule)."""
    model, X = fitted_model(1)
    grid = np.linspace(-12, 12, 4001)
    V = np.column_stack([grid, np.full_like(grid, X[0, 1]), np.full_like(grid, X[0, 2])])
    density = np.exp(diagnosis.conditional_log_likelihoods(model, V)[:, 0])
    assert np.trapezoid(density, grid) == pytest.approx(1.0, abs=1e-6)
