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


@pytest.mark.parametrize("hidden", ["bernoulli", "gaussian", "relu"])
@pytest.mark.parametrize("scale", [1e-155, 1e-310])
def test_gaussian_fit_refuses_data_whose_variance_is_not_a_normal_float(hidden, scale):
    # sigma**2 of such data is subnormal or 0: spread 1e-310 raised a
    # DivergenceError blaming the learning rate, and with Gaussian hidden
    # units numpy's bare LinAlgError ("Singular matrix", "Eigenvalues did
    # not converge"); 1e-153 still fits.
    X = np.random.default_rng(0).standard_normal((50, 4))
    model = GaussianBernoulliRBM(n_components=3, n_iter=5, hidden=hidden, random_state=0)
    with pytest.raises(ValueError, match="standard deviation below 1.49e-154.*Standardise"):
        _fit_quietly(model, X * scale)
    assert not hasattr(model, "components_")
    assert np.isfinite(_fit_quietly(model, X * 1e-153).score(X * 1e-153))


@pytest.mark.parametrize("hidden", ["bernoulli", "relu"])
def test_a_float32_gaussian_fit_refuses_data_whose_variance_is_not_a_normal_float32(hidden):
    # float32's limit, not float64's: data of spread 1e-30 fitted, then
    # transform gave NaN features and sample exact zeros (sigma**2
    # underflowed in float32), with NumPy's divide-by-zero warnings only.
    X = np.random.default_rng(0).standard_normal((60, 4)).astype(np.float32)
    model = GaussianBernoulliRBM(n_components=4, n_iter=5, hidden=hidden, random_state=0)
    with pytest.raises(ValueError, match=r"standard deviation below 1.08e-19.*normal float32"
                                         r".*or fit in float64"):
        _fit_quietly(model, X * np.float32(1e-30))
    assert not hasattr(model, "components_")
    fitted = _fit_quietly(model, X * np.float32(1e-17))  # above the limit: fits and works
    assert np.isfinite(fitted.transform(X[:5] * np.float32(1e-17))).all()
    assert np.all(fitted.sample(3, n_steps=5, random_state=0) != 0)
    # The model keeps sigma at or above the limit while it learns.
    assert np.all(fitted.sigma_ >= np.sqrt(np.finfo(np.float32).tiny))


def test_gaussian_relu_fit_of_many_features_of_spread_0_1_starts_at_scaled_weights():
    # 0.01 weights in data units coupled each ReLU unit to the visible
    # precision by sum_i (W_i / sigma_i)**2, about 2 for 200 features of
    # spread 0.1 (a spread fit does not warn about): the model started
    # improper and diverged at any learning rate, blaming it.  Below spread 1
    # the initial weights are 0.01 sigma: those of the data rescaled.
    Z = np.random.default_rng(0).standard_normal((100, 200))
    starts = [_fit_quietly(GaussianBernoulliRBM(n_components=16, n_iter=0, hidden="relu",
                                                random_state=1), Z * s) for s in (0.3, 0.1)]
    np.testing.assert_allclose(starts[1].components_ / starts[1].sigma_,
                               starts[0].components_ / starts[0].sigma_, rtol=1e-12)
    model = GaussianBernoulliRBM(n_components=16, n_iter=2, hidden="relu", batch_size=50,
                                 random_state=1).fit(Z * 0.1)
    assert np.isfinite(model.score(Z * 0.1))


def test_gaussian_fit_warns_when_the_weights_leave_the_data_far_from_standardised():
    # The scale warning read the rows unweighted: one row of weight 1e10
    # among 49 standard normal ones left the model's data a spread of 7e-5
    # around means of about 1, and a ReLU fit diverged at any learning rate
    # with no word of the scale.
    X = np.random.default_rng(0).standard_normal((50, 4))
    weights = np.ones(50)
    weights[0] = 1e10
    model = GaussianBernoulliRBM(n_components=3, n_iter=1, random_state=0)
    with pytest.warns(UserWarning, match="far from zero mean") as records:
        model.fit(X, sample_weight=weights)
    assert sum("far from zero mean" in str(r.message) for r in records) == 1
    assert records[0].filename == __file__
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        model.fit(X, sample_weight=np.full(50, 3.0))


def test_a_gaussian_pair_fit_at_the_smallest_scale_it_takes_warns_nothing_of_numpy():
    # Its exact step's line search tried candidates too long for float64
    # (sigma**-2 near 1e306 at spread 1e-153), refused them as it should,
    # but NumPy's "overflow encountered in multiply" reached the user.
    X = np.random.default_rng(0).standard_normal((50, 4)) * 1e-153
    model = GaussianBernoulliRBM(n_components=3, n_iter=5, hidden="gaussian", random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # (far from standardised: said on purpose)
        warnings.simplefilter("error", RuntimeWarning)
        model.fit(X)
    assert np.isfinite(model.score(X))
