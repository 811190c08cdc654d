"""Gaussian visible with Gaussian hidden units: a multivariate Gaussian trained by
its exact gradient from the data's moments (issue 19, the real-valued floor)."""

import math
import warnings

import numpy as np
import pytest
from sklearn.mixture import GaussianMixture

from rbm import GaussianBernoulliRBM
from rbm._partition import (gaussian_pair_from_factor_analysis, gaussian_pair_from_moments,
                            gaussian_pair_gradient,
                            gaussian_pair_log_likelihood, gaussian_pair_moments, SigmaOnly,
                            weighted_moments)


def collinear_rows(n_rows=400, n_features=6, seed=0):
    """Standardised rows whose last feature is nearly the sum of two others
    (covariance eigenvalues down to about 1e-4, like breast cancer's)."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n_rows, n_features)) @ rng.normal(0, 0.5, (n_features, n_features))
    X[:, -1] = X[:, 0] + X[:, 1] + 0.01 * rng.standard_normal(n_rows)
    return (X - X.mean(axis=0)) / X.std(axis=0)


def test_gradient_matches_finite_differences_of_the_closed_form_likelihood():
    rng = np.random.default_rng(1)
    W, b, c = rng.normal(0, 0.2, (3, 4)), rng.normal(0, 1, 4), rng.normal(0, 1, 3)
    sigma = rng.uniform(0.5, 1.0, 4)
    mean, second = weighted_moments(rng.standard_normal((50, 4)) @ rng.normal(size=(4, 4)),
                                    rng.uniform(0.5, 2.0, 50))
    analytic = gaussian_pair_gradient(W, b, c, sigma, mean, second)
    step = 1e-6
    for k, array in enumerate((W, b, c, sigma)):
        numeric = np.zeros_like(array)
        for index in np.ndindex(array.shape):
            values = []
            for sign in (1, -1):
                args = [W.copy(), b.copy(), c.copy(), sigma.copy()]
                if k == 3:  # the gradient is with respect to log sigma
                    args[k][index] *= math.exp(sign * step)
                else:
                    args[k][index] += sign * step
                values.append(gaussian_pair_log_likelihood(*args, mean, second))
            numeric[index] = (values[0] - values[1]) / (2 * step)
        # Central differences err by O(step**2 f''') plus rounding ~1e-16 / step.
        np.testing.assert_allclose(analytic[k], numeric, atol=1e-6, rtol=1e-6)


def test_likelihood_of_an_improper_model_is_minus_infinity():
    W = np.array([[2.0, 0.0]])  # A = W / sigma has a singular value 2 > 1
    assert gaussian_pair_log_likelihood(W, np.zeros(2), np.zeros(1), np.ones(2),
                                        np.zeros(2), np.eye(2)) == -math.inf
    assert gaussian_pair_gradient(W, np.zeros(2), np.zeros(1), np.ones(2),
                                  np.zeros(2), np.eye(2)) is None


@pytest.mark.parametrize("n_hidden", [6, 9])
def test_moment_start_is_the_data_gaussian_when_hidden_covers_features(n_hidden):
    X = collinear_rows()
    mean, second = weighted_moments(X)
    covariance = second - np.outer(mean, mean)
    W, b, c, sigma = gaussian_pair_from_moments(mean, covariance, n_hidden)
    P, model_mean, _ = gaussian_pair_moments(W, b, c, SigmaOnly(sigma))
    np.testing.assert_allclose(np.linalg.inv(P), covariance, atol=1e-8)
    np.testing.assert_allclose(model_mean, mean, atol=1e-10)


def test_factor_analysis_maps_to_the_rbm_with_that_covariance_and_mean():
    # sigma = sqrt(Psi), W = (I + L.T Psi**-1 L)**(-1/2) L.T, b = mean, c = -W D mean:
    # the RBM's visible marginal is N(mean, L L.T + Psi) and its hidden layer proper.
    rng = np.random.default_rng(3)
    noise, L, mean = rng.uniform(0.01, 2.0, 7), rng.normal(0, 1.5, (7, 3)), rng.normal(0, 1, 7)
    W, b, c, sigma = gaussian_pair_from_factor_analysis(mean, noise, L, 5)
    assert W.shape == (5, 7) and not W[3:].any()  # hidden units beyond L's columns idle
    P, model_mean, log_z = gaussian_pair_moments(W, b, c, SigmaOnly(sigma))
    np.testing.assert_allclose(np.linalg.inv(P), L @ L.T + np.diag(noise), rtol=1e-10,
                               atol=1e-12)
    np.testing.assert_allclose(model_mean, mean, atol=1e-12)
    assert math.isfinite(log_z)
    assert np.linalg.eigvalsh((W / sigma ** 2) @ W.T).max() < 1.0  # I - W D W.T > 0


def standardised_breast_cancer():
    from sklearn.datasets import load_breast_cancer
    X = load_breast_cancer().data
    return (X - X.mean(axis=0)) / X.std(axis=0)


@pytest.mark.parametrize("n_hidden", [2, 8])
def test_fewer_hidden_units_reach_the_factor_analysis_maximum(n_hidden):
    # Breast cancer's features are nearly collinear.  The start before (sigma
    # from the data's precision, the leading couplings) gave -111 nats per row
    # with 2 hidden units and -78 with 8, and training did not move it;
    # scikit-learn's FactorAnalysis, the same family, reaches -23.5 and -13.3.
    # 1e-3 nats per row leaves room for the start's ridge (1e-6 of each
    # variance) and FactorAnalysis's own stopping point.
    from sklearn.decomposition import FactorAnalysis
    X = standardised_breast_cancer()
    from threadpoolctl import threadpool_limits
    with warnings.catch_warnings(), threadpool_limits(1):  # (threaded, it took a minute)
        warnings.simplefilter("ignore")  # FactorAnalysis's ConvergenceWarning
        reference = FactorAnalysis(n_hidden, random_state=0).fit(X).score(X)
    model = GaussianBernoulliRBM(n_components=n_hidden, hidden="gaussian", n_iter=3,
                                 random_state=0).fit(X)
    assert model.score(X) > reference - 1e-3


def test_start_is_the_maximum_of_known_factor_analysis_data_and_weights_count():
    # Rows drawn from a factor-analysis model with two nearly noiseless
    # features; the fit must be a stationary point of the likelihood (its
    # exact gradient vanishes) and weighting rows must equal repeating them.
    rng = np.random.default_rng(5)
    L = rng.normal(0, 1, (8, 3))
    noise = np.array([1e-3, 4e-3, 0.3, 0.5, 0.2, 0.4, 0.6, 0.3])
    X = rng.standard_normal((3000, 3)) @ L.T + rng.standard_normal((3000, 8)) * np.sqrt(noise)
    X = (X - X.mean(axis=0)) / X.std(axis=0)
    model = GaussianBernoulliRBM(n_components=3, hidden="gaussian", n_iter=0,
                                 random_state=0).fit(X)
    mean, second = weighted_moments(X)
    second[np.diag_indices_from(second)] += 1e-6 * X.var(axis=0)  # the start's ridge
    params = [model.components_, model.intercept_visible_, model.intercept_hidden_,
              model.sigma_]
    gradient = gaussian_pair_gradient(*params, mean, second)
    assert max(np.abs(g).max() for g in gradient) < 1e-4
    weights = rng.integers(1, 4, 3000)
    weighted = GaussianBernoulliRBM(n_components=3, hidden="gaussian", n_iter=0,
                                    random_state=0).fit(X, sample_weight=weights)
    repeated = GaussianBernoulliRBM(n_components=3, hidden="gaussian", n_iter=0,
                                    random_state=0).fit(np.repeat(X, weights, axis=0))
    assert abs(np.average(weighted.score_samples(X), weights=weights)
               - np.average(repeated.score_samples(X), weights=weights)) < 1e-6


def test_same_random_state_gives_the_same_model_whatever_n_jobs():
    X = standardised_breast_cancer()[:300]
    fits = [GaussianBernoulliRBM(n_components=4, hidden="gaussian", n_iter=3, n_jobs=n_jobs,
                                 random_state=0).fit(X) for n_jobs in (1, 2, 1)]
    for other in fits[1:]:
        for name in ("components_", "intercept_visible_", "intercept_hidden_", "sigma_"):
            np.testing.assert_array_equal(getattr(fits[0], name), getattr(other, name))


def test_a_warm_start_the_exact_steps_cannot_leave_warns():
    # W = 0 on centred rows is a saddle of the likelihood (the weights'
    # gradient vanishes there), so the exact steps cannot leave the
    # independent model, 20 nats per row below the maximum: training on
    # silently returned it.
    from sklearn.exceptions import ConvergenceWarning
    X = standardised_breast_cancer()[:300]
    model = GaussianBernoulliRBM(n_components=4, hidden="gaussian", n_iter=2,
                                 warm_start=True, random_state=0).fit(X)
    model.components_[...] = 0.0
    model.intercept_hidden_[...] = 0.0
    model.intercept_visible_[...] = X.mean(axis=0)
    with pytest.warns(ConvergenceWarning, match="below the maximum-likelihood"):
        model.fit(X)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # refitting from its own start does not warn
        GaussianBernoulliRBM(n_components=4, hidden="gaussian", n_iter=2, warm_start=True,
                             random_state=0).fit(X).fit(X)


def saddle_warm_fit_message(X, **params):
    """The stall warning's text of a warm fit from W = 0 (a saddle)."""
    from sklearn.exceptions import ConvergenceWarning
    model = GaussianBernoulliRBM(hidden="gaussian", n_iter=1, warm_start=True,
                                 random_state=0, **params).fit(X)
    model.components_[...] = 0.0
    model.intercept_hidden_[...] = 0.0
    model.intercept_visible_[...] = X.mean(axis=0)
    with pytest.warns(ConvergenceWarning, match="below the maximum-likelihood") as caught:
        model.fit(X)
    return " ".join(str(w.message) for w in caught)


def test_the_stall_warning_names_its_reference():
    # It printed "factor analysis with n_components factors" literally, and
    # called the full-covariance Gaussian and the fixed-sigma fit factor analysis.
    X = collinear_rows()
    assert "factor analysis with 2 factors)" in saddle_warm_fit_message(X, n_components=2)
    assert "mean and full covariance" in saddle_warm_fit_message(X, n_components=6)
    message = saddle_warm_fit_message(X, n_components=2, learn_sigma=False)
    assert "given its fixed sigma" in message and "2 factors" in message


def test_a_warm_fit_on_the_same_rows_does_not_rerun_factor_analysis(monkeypatch):
    # The stall check reran the whole factor analysis at every warm fit
    # (300 features, 150 hidden units: 7.2 s a one-pass fit, 0.3 s without).
    import rbm._partition
    X = standardised_breast_cancer()[:200]
    model = GaussianBernoulliRBM(n_components=4, hidden="gaussian", n_iter=1,
                                 warm_start=True, random_state=0).fit(X)

    def refused(*args, **kwargs):
        raise AssertionError("factor analysis ran again")

    monkeypatch.setattr(rbm._partition, "factor_analysis", refused)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model.fit(X)
        model.fit(X)


def test_a_penalty_that_a_heywood_start_cannot_apply_warns():
    # From a factor-analysis start with some sigma at its floor every exact
    # step is refused: weight_decay 0, 0.1 and 1 gave the same weights, silently.
    X = standardised_breast_cancer()
    fits = []
    for penalty in (dict(weight_decay=0.0), dict(weight_decay=1.0),
                    dict(weight_decay=0.0, l1_weight_decay=0.1)):
        model = GaussianBernoulliRBM(n_components=4, hidden="gaussian", n_iter=1,
                                     random_state=0, **penalty)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            fits.append(model.fit(X))
        words = [str(w.message) for w in caught if w.category is UserWarning]
        given = [name for name, value in penalty.items() if value]
        assert len(words) == len(given) and all(
            f"{name} is not applied" in word for name, word in zip(given, words))
    assert fits[1].sigma_.min() <= 1.0001e-3  # a Heywood start
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the default "auto" does not warn
        GaussianBernoulliRBM(n_components=4, hidden="gaussian", n_iter=1,
                             random_state=0).fit(X)
        # nor a start with no sigma at its floor (wine, 1 hidden unit)
        from sklearn.datasets import load_wine
        wine = load_wine().data
        GaussianBernoulliRBM(n_components=1, hidden="gaussian", n_iter=1, weight_decay=1.0,
                             random_state=0).fit((wine - wine.mean(0)) / wine.std(0))


def test_default_fit_matches_the_full_covariance_gaussian_on_collinear_data():
    X = collinear_rows()
    X_train, X_test = X[:300], X[300:]
    model = GaussianBernoulliRBM(n_components=6, hidden="gaussian", n_iter=20,
                                 random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no sigma-at-floor warning for one Gaussian
        model.fit(X_train)
    # Standardised rows: the ridge (1e-6 of each variance) is GaussianMixture's
    # default reg_covar up to the training split's variances (about 1).
    reference = GaussianMixture(1, covariance_type="full").fit(X_train)
    assert abs(model.score(X_test) - reference.score(X_test)) < 0.01
    assert model.log_partition().method == "exact"
    assert model.sigma_.min() < 0.2 * X_train.std(axis=0).min()  # below the default floor


def test_training_never_lowers_the_likelihood_and_stays_proper():
    X = collinear_rows()
    model = GaussianBernoulliRBM(n_components=2, hidden="gaussian", weight_decay=0.0,
                                 learning_rate=0.05, random_state=0)
    mean, second = weighted_moments(X)
    second[np.diag_indices_from(second)] += 1e-6 * X.var(axis=0)
    model.partial_fit(X)  # the maximum-likelihood start: halve the weights to leave it
    model.components_ *= 0.5
    scores = []
    for _ in range(15):
        model.partial_fit(X)
        scores.append(gaussian_pair_log_likelihood(
            model.components_, model.intercept_visible_, model.intercept_hidden_,
            model.sigma_, mean, second))
    assert all(np.isfinite(scores))
    assert all(later >= earlier for earlier, later in zip(scores, scores[1:]))
    assert scores[-1] > scores[0]  # and it learns


def test_float32_fit_stays_float32_and_scores_near_float64():
    X = collinear_rows()[:, :4]
    scores = []
    for dtype in (np.float32, np.float64):
        model = GaussianBernoulliRBM(n_components=4, hidden="gaussian", n_iter=5,
                                     random_state=0).fit(X.astype(dtype))
        assert model.components_.dtype == dtype
        scores.append(model.score(X))
    assert abs(scores[0] - scores[1]) < 1e-3


def test_fixed_sigma_starts_at_the_nearest_representable_gaussian():
    X = collinear_rows()
    model = GaussianBernoulliRBM(n_components=6, hidden="gaussian", learn_sigma=False,
                                 n_iter=0, random_state=0).fit(X)
    np.testing.assert_allclose(model.sigma_, X.std(axis=0), rtol=1e-12)
    assert np.isfinite(model.score(X))


def test_a_constant_feature_gets_the_data_scale_as_under_other_hidden_types():
    # The single Gaussian's start and exact steps ridged a constant feature's
    # variance by 1e-6 of the scale alone: sigma 0.001, and a held-out row
    # 0.5 away from the constant scored -98,856 nats.  Like the other hidden
    # types, the model now gives it the spread of the data's scale.
    import warnings
    X = np.random.default_rng(0).standard_normal((60, 4))
    X[:, 2] = 0.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = GaussianBernoulliRBM(n_components=4, n_iter=50, hidden="gaussian",
                                     random_state=0).fit(X)
    away = X[:1].copy()
    away[0, 2] = 0.5
    # A unit-variance Gaussian's log density falls by 0.5**2 / 2 = 0.125 nats
    # at 0.5 from its mean; 1 nat leaves room for sigma within [0.5, 1].
    assert model.score_samples(X[:1])[0] - model.score_samples(away)[0] < 1.0
    assert model.sigma_[2] > 0.5


def test_conditionals_given_gaps_are_the_gaussians_closed_form():
    # The model is N(mean, C): the missing entries f given the observed o
    # follow N(mean_f + C_fo C_oo^-1 (v_o - mean_o), C_ff - C_fo C_oo^-1 C_of)
    # (here from the covariance, the code works from the precision).  The
    # Gibbs estimate was off by up to 0.24 standard deviations in the mean and
    # 14% in the variance; transform is c + W D E[v | observed] (linear).
    from sklearn.datasets import load_wine
    from sklearn.preprocessing import StandardScaler

    X = StandardScaler().fit_transform(load_wine().data)
    model = GaussianBernoulliRBM(n_components=16, hidden="gaussian", n_iter=20,
                                 missing="impute", random_state=0).fit(X[:120])
    rows = X[120:126].copy()
    rows[:, [0, 5, 7]] = np.nan
    rows[1, 2] = np.nan
    P, mean, _ = gaussian_pair_moments(*(np.asarray(a, dtype=float) for a in (
        model.components_, model.intercept_visible_, model.intercept_hidden_)), model._visible_unit)
    C = np.linalg.inv(P)
    for method in ("auto", "exact"):
        mu, var = model.conditional_marginals(rows, method=method)
        features = model.transform(rows)
        for i in range(len(rows)):
            o = ~np.isnan(rows[i])
            f = ~o
            gain = C[np.ix_(f, o)] @ np.linalg.inv(C[np.ix_(o, o)])
            np.testing.assert_allclose(mu[i, f], mean[f] + gain @ (rows[i, o] - mean[o]),
                                       rtol=1e-10, atol=1e-12)
            np.testing.assert_allclose(var[i, f], np.diag(C[np.ix_(f, f)] - gain @ C[np.ix_(o, f)]),
                                       rtol=1e-10, atol=1e-12)
            assert np.array_equal(mu[i, o], rows[i, o]) and np.all(var[i, o] == 0)
            completed = np.where(o, rows[i], mu[i])
            expected = model.intercept_hidden_ + model.components_ @ (completed / model.sigma_**2)
            np.testing.assert_allclose(features[i], expected, rtol=1e-10, atol=1e-12)
    gibbs = model.conditional_marginals(rows, method="gibbs", random_state=0)[0]
    assert np.abs(gibbs - mu).max() > 1e-3  # the estimate is still there, and differs
