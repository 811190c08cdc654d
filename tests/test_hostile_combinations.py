"""Combinations of training options that each work alone (found by a random
driver over the options of the three density models)."""

import warnings

import numpy as np
import pytest

import rbm._likelihood
from rbm import BernoulliRBM, DivergenceError, GaussianBernoulliRBM, RBMClassifier


def gappy_gaussian_rows(seed=0):
    rng = np.random.RandomState(seed)
    X = rng.randn(120, 6) @ rng.randn(6, 6) + 1.0
    gaps = rng.rand(*X.shape) < 0.1
    gaps[:, 0] = False
    X[gaps] = np.nan
    return X


def fit_quietly(model, X):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return model.fit(X)


@pytest.mark.parametrize("first, then", [("bernoulli", "gaussian"), ("gaussian", "bernoulli"),
                                         ("relu", "bernoulli")])
def test_a_cold_refit_with_another_hidden_type_is_a_fresh_fit_with_gaps(first, then):
    # Early stopping with gaps in the validation rows scores them exactly
    # (discrete hidden units) or by their fills (real-valued ones).  That
    # choice was made from the previous fit's hidden layer: after
    # set_params(hidden="gaussian") a cold refit tried to enumerate Gaussian
    # hidden states (NotImplementedError), and the other way round it scored
    # by fills and kept other parameters than a fresh fit.
    X = gappy_gaussian_rows()
    params = dict(n_components=5, n_iter=2, random_state=3, missing="impute",
                  early_stopping=True, validation_fraction=0.3)
    refit = fit_quietly(GaussianBernoulliRBM(hidden=first, **params), X)
    refit.set_params(hidden=then)
    fit_quietly(refit, X)
    fresh = fit_quietly(GaussianBernoulliRBM(hidden=then, **params), X)
    assert np.array_equal(refit.components_, fresh.components_)
    assert np.array_equal(refit.intercept_hidden_, fresh.intercept_hidden_)
    assert refit.best_epoch_ == fresh.best_epoch_
    np.testing.assert_array_equal(refit.history_["log_likelihood_validation"],
                                  fresh.history_["log_likelihood_validation"])


def offset_rows(offset, seed=0):
    rng = np.random.RandomState(seed)
    return rng.randn(120, 6) @ rng.randn(6, 6) + offset


@pytest.mark.filterwarnings("ignore:.*far from zero mean:UserWarning")  # (it is, on purpose)
@pytest.mark.parametrize("X, sample_weight", [
    (offset_rows(1e8), None),  # means 1e7 and more times the spread
    (offset_rows(1.0)[:3], np.array([1e12, 1.0, 1.0])),  # nearly all weight on one row
])
def test_gaussian_pair_refuses_a_covariance_lost_to_rounding(X, sample_weight):
    # The Gaussian pair starts from E[v v^T] - E[v] E[v]^T, whose variances
    # are lost to rounding against the squared means here.  The first fit
    # was refused as "improper ... Fit it anew (warm_start=False)" (it was a
    # fresh fit) and the second raised numpy's bare "LinAlgError:
    # Eigenvalues did not converge".  Binary hidden units train on such data.
    with pytest.raises(ValueError, match=r"float64 does not resolve.*StandardScaler"):
        GaussianBernoulliRBM(n_components=5, n_iter=2, random_state=3,
                             hidden="gaussian").fit(X, sample_weight=sample_weight)
    model = fit_quietly(GaussianBernoulliRBM(n_components=5, n_iter=2, random_state=3,
                                             hidden="gaussian"), offset_rows(1.0))
    before = model.components_.copy(), model.sigma_.copy()
    with pytest.raises(ValueError, match="float64 does not resolve"):
        model.fit(X, sample_weight=sample_weight)
    assert np.array_equal(model.components_, before[0])  # a refused refit changes nothing
    assert np.array_equal(model.sigma_, before[1])
    # Centred, the same rows train.
    fit_quietly(GaussianBernoulliRBM(n_components=5, n_iter=2, random_state=3, hidden="gaussian"),
                X - np.average(X, axis=0, weights=sample_weight))


def test_early_stopping_refusal_counts_the_rows_of_positive_weight():
    # Rows of weight 0 are dropped before the split: with 8 rows given, of
    # which one has a positive weight, the refusal read "validation_fraction=0.1
    # of 1 samples leaves one side empty", which looked like a miscount.
    X = (np.random.RandomState(0).rand(8, 5) < 0.5).astype(float)
    weights = np.zeros(8)
    weights[1] = 2.0
    with pytest.raises(ValueError, match=r"of 1 samples of positive sample_weight \(those "
                                         r"of weight 0 are left out\)"):
        BernoulliRBM(n_components=2, n_iter=1, early_stopping=True).fit(X, sample_weight=weights)
    with pytest.raises(ValueError, match=r"of 1 samples leaves"):  # no weights: as before
        BernoulliRBM(n_components=2, n_iter=1, early_stopping=True).fit(X[:1])


def test_a_cold_refit_drops_the_last_fits_early_stopping_record():
    # best_epoch_ and best_validation_score_ ("the epoch whose parameters
    # were kept") stayed from the earlier fit after a refit without early
    # stopping, describing other parameters (plot_history marked that epoch
    # on the new history).
    X = (np.random.RandomState(0).rand(80, 8) < 0.4).astype(float)
    model = BernoulliRBM(n_components=3, n_iter=3, random_state=0, early_stopping=True,
                         n_iter_no_change=1).fit(X)
    assert hasattr(model, "best_epoch_")
    model.set_params(early_stopping=False).fit(X)
    fresh = BernoulliRBM(**model.get_params()).fit(X)
    assert not hasattr(model, "best_epoch_") and not hasattr(model, "best_validation_score_")
    assert np.array_equal(model.components_, fresh.components_)
    # A refused refit still leaves the record of the model it keeps.
    model.set_params(early_stopping=True).fit(X)
    record = model.best_epoch_, model.best_validation_score_
    with pytest.raises(DivergenceError):  # raised in training, after the fresh start
        model.set_params(early_stopping=False, learning_rate=1e39).fit(X)
    assert (model.best_epoch_, model.best_validation_score_) == record


@pytest.mark.parametrize("call", ["warm_fit", "partial_fit"])
def test_a_warm_call_drops_the_last_fits_early_stopping_record(call):
    # A warm fit without early stopping (or a partial_fit pass) after a fit
    # with it kept best_epoch_ and best_validation_score_, which then named
    # an epoch whose parameters the model no longer has.
    X = (np.random.RandomState(0).rand(80, 8) < 0.4).astype(float)
    model = BernoulliRBM(n_components=3, n_iter=3, random_state=0, early_stopping=True,
                         n_iter_no_change=1).fit(X)
    assert hasattr(model, "best_epoch_") and hasattr(model, "best_validation_score_")
    if call == "warm_fit":
        model.set_params(early_stopping=False, warm_start=True).fit(X)
    else:
        model.partial_fit(X)
    assert model.n_iter_ > 3  # (it did train on)
    assert not hasattr(model, "best_epoch_") and not hasattr(model, "best_validation_score_")
    # A warm fit with early stopping records its own best epoch, counted on.
    model.set_params(early_stopping=True, warm_start=True).fit(X)
    assert model.n_iter_ - 3 < model.best_epoch_ <= model.n_iter_


def test_a_classifier_partial_fit_drops_the_last_fits_best_epoch():
    # best_epoch_ ("the epoch whose parameters early stopping kept") stayed
    # after partial_fit trained those parameters on.
    X = (np.random.RandomState(0).rand(80, 8) < 0.4).astype(float)
    y = np.arange(80) % 2
    model = RBMClassifier(n_components=3, n_iter=3, random_state=0, early_stopping=True,
                          n_iter_no_change=1).fit(X, y)
    assert model.best_epoch_ is not None
    model.partial_fit(X, y)
    assert model.best_epoch_ is None


def _improper_relu_model():
    """A ReLU GaussianBernoulliRBM whose couplings (1.5 times the visible
    precision) leave it no distribution: its chains drift off."""
    X = np.random.default_rng(0).standard_normal((200, 3))
    model = GaussianBernoulliRBM(n_components=2, hidden="relu", n_iter=2,
                                 random_state=0).fit(X)
    W = np.zeros_like(model.components_)
    W[0, 0], W[1, 1] = 1.5 / model.sigma_[0], 1.5 / model.sigma_[1]
    model.components_[...] = W
    return model, X


def test_samples_of_a_proven_improper_relu_model_are_refused():
    # Was: sample returned values of 6.6e177 and conditional_sample 1.2e164,
    # without a word (_check_proper refused only Gaussian pairs; ReLU
    # properness has no closed form).  A direction of the hidden units along
    # which the density grows (rbm._properness) now proves it improper.
    model, X = _improper_relu_model()
    with pytest.raises(ValueError, match=r"is improper: along a direction of hidden units .* "
                                         r"log Z is \+inf, so it has no samples"):
        model.sample(5, n_steps=500, random_state=0)
    gaps = X[:3].copy()
    gaps[:, 0] = np.nan
    with pytest.raises(ValueError, match=r"conditional distribution of features \[0\] "
                                         r"given the others is improper: along a direction"):
        model.conditional_sample(gaps, n_steps=500, random_state=0)


def test_samples_of_an_improper_relu_model_no_direction_proves_come_with_a_warning(monkeypatch):
    # Where the search finds no direction (it proves only what it finds),
    # the chains themselves are watched: they end far beyond the data.
    monkeypatch.setattr(rbm._likelihood, "improper_description", lambda *args: None)
    model, X = _improper_relu_model()
    with pytest.warns(RuntimeWarning, match=r"sample: its chains reached .* most likely "
                                            r"improper"):
        model.sample(5, n_steps=500, random_state=0)
    gaps = X[:3].copy()
    gaps[:, 0] = np.nan
    with pytest.warns(RuntimeWarning, match=r"conditional_sample: its chains reached"):
        model.conditional_sample(gaps, n_steps=500, random_state=0)


def test_samples_of_proper_models_come_without_a_runaway_warning():
    X = np.random.default_rng(0).standard_normal((300, 4))
    for hidden in ("relu", "bernoulli"):
        model = GaussianBernoulliRBM(n_components=3, hidden=hidden, n_iter=20,
                                     random_state=0).fit(X)
        if hidden == "bernoulli":  # far-out couplings, but binary units bound the fields
            model.components_ *= 1e5
        with warnings.catch_warnings():
            warnings.simplefilter("error", RuntimeWarning)
            model.sample(200, n_steps=300, random_state=0)
