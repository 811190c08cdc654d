"""Hostile numerics of training: awkward scales, weights and categories."""

import warnings

import numpy as np
import pytest

from rbm import GaussianBernoulliRBM


def _fit_quietly(model, X, **kwargs):
    """model.fit(X) without the far-from-standardised warning the test expects."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*far from zero mean", category=UserWarning)
        return model.fit(X, **kwargs)


@pytest.mark.parametrize("hidden", ["bernoulli", "relu"])
@pytest.mark.parametrize("scale", [1e-2, 1e-8])
def test_gaussian_fit_of_small_scale_data_matches_its_fit_at_scale_0_1(hidden, scale):
    # Initial weights of 0.01 in data units made a ReLU model of data of
    # spread 1e-2 improper from the start (DivergenceError at any learning
    # rate, blaming the learning rate) and left a binary-unit model of data
    # of spread 1e-8 a million sigmas off (-3e12 nats per row).  Below 0.1
    # the fit is now that of the data rescaled to 0.1, up to the log-Jacobian.
    X = np.random.default_rng(0).standard_normal((50, 4))
    scores = []
    for s in (0.1, scale):
        model = _fit_quietly(GaussianBernoulliRBM(n_components=3, n_iter=20, hidden=hidden,
                                                  random_state=0), X * s)
        scores.append(model.score(X * s) + X.shape[1] * np.log(s))
    assert np.isfinite(scores).all()
    assert scores[1] == pytest.approx(scores[0], abs=1e-3)
