"""GaussianBernoulliRBM: estimator checks and known answers.

The model with parameters (W, b, c, sigma) is the mixture over hidden states
h of N(b + h @ W, diag(sigma**2)), weighted by exp(c.h + sum((mu_h**2 - b**2) /
(2 sigma**2))) up to normalisation; the tests below compute that mixture with
scipy's own Gaussians and check the library against it.
"""

import itertools
import math

import numpy as np
import pytest
from scipy import integrate, stats
from scipy.special import logsumexp
from sklearn.datasets import load_wine
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

from rbm import DivergenceError, GaussianBernoulliRBM
from rbm import _gibbs
from weight_checks import STOCHASTIC_WEIGHT_CHECKS


# n_iter=10: the checks test the estimator API on tiny data sets, where the
# default n_iter="auto" plans thousands of epochs (about 300,000 updates).
@parametrize_with_checks([GaussianBernoulliRBM(n_iter=10)], xfail_strict=True,
                         expected_failed_checks=lambda _: STOCHASTIC_WEIGHT_CHECKS)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)


# --------------------------------------------------------------------------
# The model as an explicit mixture of Gaussians
# --------------------------------------------------------------------------

def random_model(n_visible, n_hidden, seed, weight_scale=1.0, dtype=np.float64):
    """A fitted GaussianBernoulliRBM with random parameters (fit, then overwritten)."""
    rng = np.random.default_rng(seed)
    model = GaussianBernoulliRBM(n_components=n_hidden, n_iter=0, random_state=seed)
    model.fit(rng.standard_normal((20, n_visible)).astype(dtype))
    model.components_[...] = weight_scale * rng.standard_normal((n_hidden, n_visible))
    model.intercept_visible_[...] = rng.standard_normal(n_visible)
    model.intercept_hidden_[...] = rng.standard_normal(n_hidden)
    model._visible_unit.state[_gibbs.GAUSSIAN_SIGMA] = rng.uniform(0.5, 1.5, n_visible)
    return model


def mixture_of(model):
    """(log weights, means, sigma) of the model's 2**n_hidden mixture components."""
    W = model.components_.astype(np.float64)
    b = model.intercept_visible_.astype(np.float64)
    c = model.intercept_hidden_.astype(np.float64)
    sigma = model.sigma_.astype(np.float64)
    H = np.array(list(itertools.product([0.0, 1.0], repeat=W.shape[0])))
    means = b + H @ W
    # Completing the square in E(v, h) = sum((v - mu_h)**2 / (2 sigma**2)) - c.h
    # - sum((mu_h**2 - b**2) / (2 sigma**2)), then integrating the Gaussian.
    log_mass = (H @ c + ((means**2 - b**2) / (2 * sigma**2)).sum(axis=1)
                + 0.5 * np.log(2 * np.pi * sigma**2).sum())
    return log_mass - logsumexp(log_mass), means, sigma, logsumexp(log_mass)


def mixture_log_density(model, X):
    log_w, means, sigma, _ = mixture_of(model)
    component = np.stack([
        stats.multivariate_normal(mean=m, cov=np.diag(sigma**2)).logpdf(X) for m in means
    ], axis=1)
    return logsumexp(component + log_w, axis=1)


def test_density_is_the_mixture_it_defines():
    model = random_model(n_visible=4, n_hidden=5, seed=0)
    X = np.random.default_rng(1).normal(0.0, 2.0, (50, 4))
    np.testing.assert_allclose(model.score_samples(X), mixture_log_density(model, X),
                               rtol=1e-10, atol=1e-10)


def test_exact_log_partition_matches_the_mixture_normaliser():
    model = random_model(n_visible=6, n_hidden=8, seed=2)
    log_z, error = model.log_partition(method="exact")
    assert error == 0.0
    assert log_z == pytest.approx(mixture_of(model)[3], rel=1e-12)


@pytest.mark.parametrize("seed", [0, 1])
def test_exact_log_partition_against_numerical_integration_1d(seed):
    model = random_model(n_visible=1, n_hidden=3, seed=seed)
    log_z, _ = model.log_partition(method="exact")
    # Integrate exp(-F(v)) on a range holding every component to many sigmas.
    _, means, sigma, _ = mixture_of(model)
    low, high = means.min() - 12 * sigma[0], means.max() + 12 * sigma[0]
    value, abserr = integrate.quad(
        lambda v: math.exp(-model.free_energy(np.array([[v]]))[0] - log_z), low, high,
        epsabs=1e-12, epsrel=1e-10, limit=200,
    )
    assert abserr < 1e-8
    assert value == pytest.approx(1.0, abs=1e-8)


def test_exact_log_partition_against_numerical_integration_2d():
    model = random_model(n_visible=2, n_hidden=2, seed=3)
    log_z, _ = model.log_partition(method="exact")
    _, means, sigma, _ = mixture_of(model)
    lows, highs = means.min(axis=0) - 10 * sigma, means.max(axis=0) + 10 * sigma
    value, abserr = integrate.dblquad(
        lambda y, x: math.exp(-model.free_energy(np.array([[x, y]]))[0] - log_z),
        lows[0], highs[0], lows[1], highs[1], epsabs=1e-10, epsrel=1e-8,
    )
    assert value == pytest.approx(1.0, abs=1e-6)


def test_ais_within_three_standard_errors_of_exact_with_16_hidden_units():
    X = StandardScaler().fit_transform(load_wine().data)
    model = GaussianBernoulliRBM(n_components=16, n_iter=30, random_state=0).fit(X)
    exact, _ = model.log_partition(method="exact")
    estimate, error = model.log_partition(method="ais", n_chains=100, n_betas=3000,
                                          random_state=0)
    assert 0 < error < 0.5
    assert abs(estimate - exact) < 3 * error


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_sample_moments_match_the_exact_mixture(dtype):
    """Means and second moments of 20,000 independent chains, to 4.5 standard errors.

    Each chain runs 200 steps from the data marginals; the model's weights are
    small enough (scale 0.3) that it mixes in a few steps.  With 5 means and
    15 second moments tested, 4.5 standard errors leave a false-alarm
    probability below 2e-4.
    """
    model = random_model(n_visible=5, n_hidden=4, seed=4, weight_scale=0.3, dtype=dtype)
    log_w, means, sigma, _ = mixture_of(model)
    w = np.exp(log_w)
    exact_mean = w @ means
    exact_second = np.einsum("k,ki,kj->ij", w, means, means) + np.diag(sigma**2)

    n = 20000
    S = model.sample(n, n_steps=200, random_state=0).astype(np.float64)
    assert S.dtype == np.float64 and np.all(np.isfinite(S))
    z_mean = (S.mean(axis=0) - exact_mean) / (S.std(axis=0) / math.sqrt(n))
    products = S[:, :, None] * S[:, None, :]
    iu = np.triu_indices(5)
    second = products.mean(axis=0)[iu]
    z_second = (second - exact_second[iu]) / (products.std(axis=0)[iu] / math.sqrt(n))
    assert np.all(np.abs(z_mean) < 4.5), z_mean
    assert np.all(np.abs(z_second) < 4.5), z_second

    # Power: the same samples reject a model whose sigma is 5% larger.
    broader = exact_second + np.diag((1.05**2 - 1) * sigma**2)
    z_broader = (second - broader[iu]) / (products.std(axis=0)[iu] / math.sqrt(n))
    assert np.max(np.abs(z_broader)) > 4.5


# --------------------------------------------------------------------------
# Training
# --------------------------------------------------------------------------

@pytest.fixture(scope="module")
def wine():
    return StandardScaler().fit_transform(load_wine().data)


@pytest.mark.parametrize("momentum", [0.0, 0.5])
@pytest.mark.parametrize("learning_rate", [0.001, 0.01, 0.1])
def test_training_is_stable_two_orders_of_magnitude_around_the_default(
    wine, learning_rate, momentum
):
    model = GaussianBernoulliRBM(n_components=16, learning_rate=learning_rate,
                                 momentum=momentum, n_iter=50, random_state=0).fit(wine)
    for array in (model.components_, model.intercept_visible_, model.intercept_hidden_,
                  model.sigma_):
        assert np.all(np.isfinite(array))
    assert np.isfinite(model.score(wine))


def test_sigma_stays_within_its_bounds(wine):
    model = GaussianBernoulliRBM(n_components=16, learning_rate=0.05, n_iter=50,
                                 random_state=0).fit(wine)
    std = wine.std(axis=0)
    assert np.all(model.sigma_ <= std * (1 + 1e-12))
    assert np.all(model.sigma_ >= 0.01 * std * (1 - 1e-12))
    assert np.all(model.sigma_ < 0.95 * std)  # it did learn: hidden units explain variance


def test_fixed_sigma_stays_at_the_data_standard_deviation(wine):
    model = GaussianBernoulliRBM(n_components=8, learn_sigma=False, n_iter=5,
                                 random_state=0).fit(wine)
    np.testing.assert_allclose(model.sigma_, wine.std(axis=0), rtol=1e-12)


def test_initialisation_from_the_data():
    X = np.random.default_rng(0).normal([3.0, -2.0], [0.5, 4.0], (500, 2))
    model = GaussianBernoulliRBM(n_components=3, n_iter=0).fit(X)
    np.testing.assert_allclose(model.intercept_visible_, X.mean(axis=0))
    np.testing.assert_allclose(model.sigma_, X.std(axis=0))


def test_a_diverging_learning_rate_stops_with_a_clear_error_and_keeps_the_model(wine):
    model = GaussianBernoulliRBM(n_components=16, learning_rate=1.0, n_iter=30,
                                 random_state=0)
    with pytest.raises(DivergenceError, match=r"learning_rate=1\.0.*lower the learning rate"):
        model.fit(wine)
    for array in (model.components_, model.intercept_visible_, model.intercept_hidden_,
                  model.sigma_):
        assert np.all(np.isfinite(array)) and np.max(np.abs(array)) < 100
    assert np.all(np.isfinite(model.score_samples(wine)))
    assert model.transform(wine).shape == (len(wine), 16)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_input_is_rejected(wine, bad):
    X = wine.copy()
    X[3, 2] = bad
    with pytest.raises(ValueError, match="NaN or inf"):
        GaussianBernoulliRBM(n_components=2).fit(X)
    model = GaussianBernoulliRBM(n_components=2, n_iter=1).fit(wine)
    with pytest.raises(ValueError, match="NaN or inf"):
        model.transform(X)


def test_any_real_values_are_in_the_domain():
    # Far from standardised, so fit warns (see test_gaussian_floor), but fits.
    X = np.random.default_rng(0).normal(1e4, 3e3, (200, 3))
    with pytest.warns(UserWarning, match="far from zero mean"):
        model = GaussianBernoulliRBM(n_components=4, n_iter=20, random_state=0).fit(X)
    assert np.all(np.isfinite(model.score_samples(X)))


def test_float32_trains_like_float64(wine):
    kwargs = dict(n_components=8, n_iter=5, random_state=0)
    m64 = GaussianBernoulliRBM(**kwargs).fit(wine)
    m32 = GaussianBernoulliRBM(**kwargs).fit(wine.astype(np.float32))
    assert m32.components_.dtype == np.float32 and m32.sigma_.dtype == np.float32
    np.testing.assert_allclose(m32.components_, m64.components_, atol=1e-3)
    np.testing.assert_allclose(m32.sigma_, m64.sigma_, rtol=1e-3)


def test_thread_count_does_not_change_the_model(wine):
    models = [GaussianBernoulliRBM(n_components=8, n_iter=3, random_state=0, n_jobs=n).fit(wine)
              for n in (1, 2)]
    np.testing.assert_array_equal(models[0].components_, models[1].components_)
    np.testing.assert_array_equal(models[0].sigma_, models[1].sigma_)


def test_pipeline_scaler_rbm_logistic_regression():
    data = load_wine()
    X_train, X_test, y_train, y_test = train_test_split(
        data.data, data.target, test_size=0.3, random_state=0, stratify=data.target)
    pipe = make_pipeline(StandardScaler(),
                         GaussianBernoulliRBM(n_components=64, n_iter=200, random_state=0),
                         LogisticRegression(max_iter=2000))
    accuracy = pipe.fit(X_train, y_train).score(X_test, y_test)
    # Three classes, 54 test wines: chance is about 0.4 and logistic regression
    # on the standardised features themselves gets 0.98; RBM features that
    # carry the classes must come close.
    assert accuracy > 0.9


def test_verbose_fit_reports_every_epoch(wine, capsys):
    GaussianBernoulliRBM(n_components=4, n_iter=3, verbose=2, random_state=0).fit(wine)
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 3 and all("reconstruction error" in line for line in lines)


# --------------------------------------------------------------------------
# The training step against the exact gradient
# --------------------------------------------------------------------------

def exact_step_direction(model, X):
    """The sigma**2-preconditioned log-likelihood gradient, by enumerating h.

    Returns the directions for W, b and log sigma that the kernel's expected
    step (divided by the learning rate) must equal.
    """
    log_w, means, sigma, _ = mixture_of(model)
    w = np.exp(log_w)
    W = model.components_.astype(np.float64)
    b = model.intercept_visible_.astype(np.float64)
    H = np.array(list(itertools.product([0.0, 1.0], repeat=W.shape[0])))
    P = model.transform(X)                      # p(h | x) of the data
    data_W = P.T @ X / len(X)
    model_W = np.einsum("k,kj,ki->ji", w, H, means)
    data_b, model_b = X.mean(axis=0), w @ means
    data_s = (0.5 * (X - b) ** 2 - X * (P @ W)).mean(axis=0)
    hw = H @ W
    model_s = w @ (0.5 * ((means - b) ** 2 + sigma**2) - means * hw)
    return data_W - model_W, data_b - model_b, 2 * (data_s - model_s)


def test_pcd_steps_average_to_the_exact_preconditioned_gradient():
    """Average of 300 PCD-5 steps on 4,000 chains against the exact direction.

    The learning rate (1e-7) keeps the parameters fixed to 1e-5 over the run,
    so every step estimates the direction at the same point; each step's
    estimate is an average over 4,000 chains, and k=5 with small weights
    leaves consecutive steps nearly independent, so 5 standard errors of the
    300 per-step values bound each of the 3 x 3 + 3 + 3 components.
    """
    rng = np.random.default_rng(0)
    X = rng.normal(0.0, 1.0, (200, 3))
    model = GaussianBernoulliRBM(n_components=3, batch_size=200, n_chains=4000, k=5,
                                 learning_rate=1e-7, random_state=0, centering=False,
                                 momentum=0.0, weight_decay=0.0)  # plain gradient steps
    model.partial_fit(X)
    model.components_[...] = 0.4 * rng.standard_normal((3, 3))
    for _ in range(20):  # let the chains reach the model
        model.partial_fit(X)
    exact = exact_step_direction(model, X)
    steps = []
    for _ in range(300):
        before = (model.components_.copy(), model.intercept_visible_.copy(),
                  np.log(model.sigma_))
        model.partial_fit(X)
        after = (model.components_, model.intercept_visible_, np.log(model.sigma_))
        steps.append([(a - b_) / 1e-7 for a, b_ in zip(after, before)])
    for k, name in enumerate(["W", "b", "log sigma"]):
        values = np.array([s[k] for s in steps])
        mean, error = values.mean(axis=0), values.std(axis=0, ddof=1) / math.sqrt(len(values))
        z = (mean - exact[k]) / error
        assert np.all(np.abs(z) < 5), (name, z)
