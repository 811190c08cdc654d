"""Properness of models with Gaussian visible and real-valued hidden units
(``rbm._properness``): a direction of the hidden units along which the
density grows proves a model improper, and fit, sample and conditional
sampling refuse such a model instead of returning numbers of nothing."""

import itertools
import warnings

import numpy as np
import pytest

from rbm import DivergenceError, DivergenceWarning, GaussianBernoulliRBM
from rbm._properness import coupling_gram, improper_direction


def _ratio(K, h, gamma_plus, gamma_minus=None):
    """h.K h / sum_j gamma_j(h_j) h_j**2, computed here from the definition."""
    gamma = gamma_plus if gamma_minus is None else np.where(h > 0, gamma_plus, gamma_minus)
    return float(h @ K @ h / np.sum(gamma * h ** 2))


def test_a_pair_each_proper_alone_can_be_improper_together():
    # Each ReLU unit alone holds its coupling back (0.6 < 1), but together,
    # along h = (1, 1), the pull is 0.6 + 0.6 + 2 * 0.5 = 2.2 against 2.
    K = np.array([[0.6, 0.5], [0.5, 0.6]])
    ratio, h = improper_direction(K, np.ones(2))
    assert np.all(h >= 0) and ratio > 1.0
    assert _ratio(K, h, np.ones(2)) == pytest.approx(ratio, rel=1e-12)


def test_relu_units_take_only_the_positive_orthant():
    # K's largest eigenvalue, 1.1, lies along (1, -1): a Gaussian or dReLU
    # pair is improper there, but ReLU units cannot point that way, and on
    # h >= 0 the pull is at most 0.6 of the curvature: proper.
    K = np.array([[0.6, -0.5], [-0.5, 0.6]])
    assert improper_direction(K, np.ones(2)) is None
    ratio, h = improper_direction(K, np.ones(2), np.ones(2))
    assert ratio > 1.0 and h[0] * h[1] < 0
    assert _ratio(K, h, np.ones(2), np.ones(2)) == pytest.approx(ratio, rel=1e-12)


def test_a_drelu_unit_is_held_back_by_the_curvature_of_its_own_side():
    K = np.array([[1.5]])
    # gamma+ = 2 holds h > 0 back; gamma- = 1 does not hold h < 0.
    ratio, h = improper_direction(K, np.array([2.0]), np.array([1.0]))
    assert h[0] < 0 and ratio == pytest.approx(1.5)
    assert improper_direction(K, np.array([2.0]), np.array([2.0])) is None


def _random_gram(rng, n_hidden, n_visible, scale):
    W = rng.standard_normal((n_hidden, n_visible)) * scale
    return coupling_gram(W, np.ones(n_visible))


def test_the_search_finds_what_a_grid_over_the_orthant_finds():
    # The search proves only what it finds, and what it finds is a proof (the
    # ratio is recomputed here).  On 3 ReLU units a grid of the orthant's unit
    # sphere (step 0.02 per angle) sees the maximum ratio to within its
    # resolution; wherever the grid sees a ratio above 1.02, well past that
    # resolution, the search must find one above 1 too.
    rng = np.random.default_rng(0)
    angles = np.linspace(0.0, np.pi / 2, 80)
    grid = np.array([[np.cos(a) * np.cos(b), np.sin(a) * np.cos(b), np.sin(b)]
                     for a, b in itertools.product(angles, angles)]).T
    gamma = np.ones(3)
    decided = 0
    for _ in range(200):
        K = _random_gram(rng, 3, 4, rng.uniform(0.2, 0.7))
        best_on_grid = float(np.max(np.einsum("is,is->s", grid, K @ grid)))
        found = improper_direction(K, gamma)
        if found is not None:
            ratio, h = found
            assert np.all(h >= 0) and _ratio(K, h, gamma) > 1.0
            assert best_on_grid > 1.0 - 0.01  # (a proof: the grid's max is no lower)
        elif best_on_grid > 1.02:
            pytest.fail(f"grid ratio {best_on_grid:.4f}, search found nothing")
        decided += best_on_grid > 1.02 or best_on_grid < 0.98
    assert decided > 100  # the draws cover both verdicts, not only one


def _continued_from(W_scale, hidden, X, **kwargs):
    """A model fitted briefly on X, its weights then set to a diagonal coupling of
    W_scale times the visible precision, and refitted from there for one epoch
    at a learning rate too small to change that."""
    model = GaussianBernoulliRBM(n_components=2, hidden=hidden, n_iter=1, random_state=0,
                                 **kwargs).fit(X)
    W = np.zeros_like(model.components_)
    W[0, 0], W[1, 1] = W_scale / model.sigma_[0], W_scale / model.sigma_[1]
    model.components_[...] = W
    model.set_params(warm_start=True, learning_rate=1e-9)
    return model


@pytest.mark.parametrize("hidden", ["relu", "drelu"])
def test_a_fit_that_ends_improper_raises_and_says_why(hidden):
    # Was: the fit returned the improper model without a word; its score was
    # -2e11 and its samples 1e30 (breast cancer, CD, learning rate 0.003).
    X = np.random.default_rng(0).standard_normal((200, 3))
    model = _continued_from(1.5, hidden, X)
    with pytest.raises(DivergenceError, match=r"diverged: the model is improper: along a "
                                              r"direction of hidden units .* log Z is \+inf"):
        model.fit(X)
    # It keeps its parameters from before the pass, which were improper too:
    # the message says to fit anew rather than continue.
    with pytest.raises(DivergenceError, match=r"Those parameters are improper as well"):
        model.fit(X)


def test_an_improper_end_only_warns_where_asked():
    X = np.random.default_rng(0).standard_normal((200, 3))
    model = _continued_from(1.5, "relu", X, on_divergence="warn")
    with pytest.warns(DivergenceWarning, match=r"the model is improper"):
        model.fit(X)


@pytest.mark.parametrize("hidden", ["relu", "drelu"])
def test_a_proper_model_fits_without_a_word(hidden):
    # Couplings of 0.9 times the visible precision: each unit's pull is 0.81
    # of its curvature (gamma = 1, for dReLU at its start), so proper.
    X = np.random.default_rng(0).standard_normal((200, 3))
    model = _continued_from(0.9, hidden, X)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model.fit(X)
        model.sample(3, n_steps=10, random_state=0)


def test_log_z_of_a_proven_improper_model_is_infinite_and_said_so():
    # Was: AIS returned a finite log Z of a model with none (its chains ran
    # off; a score of -2e11 on breast cancer), at best with a warning that
    # the chains "most likely" ran away.
    X = np.random.default_rng(0).standard_normal((200, 3))
    model = _continued_from(1.5, "relu", X)
    with pytest.warns(RuntimeWarning, match=r"is improper: along a direction .* score and "
                                            r"score_samples are -inf"):
        estimate = model.log_partition()
    assert estimate.log_z == np.inf and estimate.method == "exact"
    with pytest.warns(RuntimeWarning):
        assert model.score(X) == -np.inf


def test_a_proper_models_log_z_is_still_estimated():
    X = np.random.default_rng(0).standard_normal((200, 3))
    model = _continued_from(0.9, "relu", X)
    estimate = model.log_partition(n_chains=16, n_betas=100)
    assert np.isfinite(estimate.log_z) and estimate.method == "ais"
