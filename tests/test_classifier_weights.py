"""RBMClassifier's sample weights beyond the gradient, and the review of session 47:
early stopping and ``history_`` weigh their rows, the initial model weighs the
training rows (a row of weight k as k copies), a refit is a fresh estimator,
early stopping trains on every class, and a log-likelihood that no method can
compute is refused in one message that names the call."""

import warnings

import numpy as np
import pytest
from sklearn.metrics import accuracy_score, log_loss

from rbm import RBMClassifier

PARAMETERS = ("components_", "intercept_hidden_", "class_components_", "intercept_visible_",
              "intercept_class_")


class ValidationSpy(RBMClassifier):
    """Records the labels of the training part and the held-out rows of early stopping."""

    def _split_validation(self, X, labels, weights, rng):
        out = super()._split_validation(X, labels, weights, rng)
        self.spy_train_labels_ = out[1]
        self.spy_held_ = out[3][:2]  # (X, label indices) of the held-out rows
        return out


def noisy_rule(seed, n_rows=400):
    """Binary rows whose label is their first input, 45% of the labels flipped
    (the noisy rows), and 2,000 clean test rows."""
    rng = np.random.default_rng(seed)
    X = (rng.random((n_rows, 6)) < 0.5).astype(float)
    y = X[:, 0].astype(int)
    noisy = rng.random(n_rows) < 0.45
    y[noisy] = 1 - y[noisy]
    X_test = (rng.random((2000, 6)) < 0.5).astype(float)
    return X, y, noisy, X_test, X_test[:, 0].astype(int)


# --------------------------------------------------------------------------
# 1. history_ and early stopping weigh their rows
# --------------------------------------------------------------------------


def test_history_figures_are_weighted_means():
    # The training figures of the last epoch are those of the fitted model on
    # the training rows (all of them monitored: fewer than 2,000), as
    # scikit-learn's weighted metrics give them; unweighted, the 60 noisy rows
    # of weight 1e-3 counted fully (1.35 against 0.014).
    X, y, noisy, _, _ = noisy_rule(0, n_rows=200)
    weights = np.where(noisy, 1e-3, 1.0)
    model = RBMClassifier(8, n_iter=20, random_state=0).fit(X, y, sample_weight=weights)
    proba = model.predict_proba(X)
    assert model.history_["log_loss_train"][-1] == pytest.approx(
        log_loss(y, proba, sample_weight=weights), rel=1e-9)
    assert model.history_["accuracy_train"][-1] == pytest.approx(
        accuracy_score(y, model.predict(X), sample_weight=weights), rel=1e-9)


def test_early_stopping_scores_the_held_out_rows_by_their_weights():
    # The validation loss of the kept (best) epoch is the weighted log loss of
    # the returned model on the held-out rows.  Rows are distinct, so each
    # held-out row is found, with its weight, among the given ones.
    rng = np.random.default_rng(1)
    X = rng.random((120, 5))
    y = (X[:, 0] + 0.3 * rng.standard_normal(120) > 0.5).astype(int)
    weights = rng.uniform(0.05, 3.0, 120)
    model = ValidationSpy(6, n_iter=15, early_stopping=True, validation_fraction=0.25,
                          n_iter_no_change=15, random_state=0).fit(X, y, sample_weight=weights)
    held_X, held_labels = model.spy_held_
    index = {row.tobytes(): i for i, row in enumerate(X)}
    held_weights = weights[[index[row.tobytes()] for row in held_X]]
    assert len(np.unique(held_weights)) > 1   # (a weighted mean differs from the plain one)
    losses = model.history_["log_loss_validation"]
    assert model.best_epoch_ == 1 + int(np.argmin(losses))
    expected = log_loss(held_labels, model.predict_proba(held_X), labels=[0, 1],
                        sample_weight=held_weights)
    assert losses[model.best_epoch_ - 1] == pytest.approx(expected, rel=1e-9)


@pytest.mark.parametrize("seed", [0, 1])
def test_rows_of_weight_1e_6_stop_training_as_rows_of_weight_0_do(seed):
    # The label is the first input, so a model that learned the clean rows
    # classifies every clean test row correctly; with weight 0 the noisy rows
    # are left out and early stopping finds it.  Weighted 1e-6, the noisy rows
    # count a millionth of a clean one, in the steps and now in the stopping
    # score: unweighted, that score rose from the first epoch on (the noisy
    # held-out rows at full weight) and kept epoch 1, at chance (0.50 on seed 0).
    X, y, noisy, X_test, y_test = noisy_rule(seed)
    for tiny in (1e-6, 0.0):
        model = RBMClassifier(8, n_iter=60, early_stopping=True, n_iter_no_change=3,
                              random_state=0).fit(X, y, sample_weight=np.where(noisy, tiny, 1.0))
        assert model.score(X_test, y_test) >= 0.99, tiny


# --------------------------------------------------------------------------
# 2. The initial model weighs the training rows
# --------------------------------------------------------------------------


def two_clusters():
    """30 Gaussian rows, the 10 of class 0 weighted 5, and the 70 rows that
    repeat each of those 5 times."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(30, 2))
    X[:10] += 3
    y = np.r_[np.zeros(10, int), np.ones(20, int)]
    weights = np.r_[np.full(10, 5.0), np.ones(20)]
    X_repeated = np.r_[np.repeat(X[:10], 5, axis=0), X[10:]]
    return X, y, weights, X_repeated, np.r_[np.zeros(50, int), np.ones(20, int)]


def class_fractions(model, n_rows):
    """The labelled fraction of each class behind the initial prior, which adds
    one pseudo-row per class to ``n_rows`` rows' worth of labels (the weights
    are relative: the rows stand for as many rows as there are)."""
    prior = np.exp(model.intercept_class_)
    return (prior * (n_rows + len(prior)) - 1.0) / n_rows


@pytest.mark.parametrize("visible", ["gaussian", "bernoulli"])
@pytest.mark.parametrize("how", ["fit", "partial_fit"])
def test_a_row_of_weight_k_starts_the_model_as_k_copies_of_it(visible, how):
    X, y, weights, X_repeated, y_repeated = two_clusters()
    if visible == "bernoulli":
        X, X_repeated = (X > 1).astype(float), (X_repeated > 1).astype(float)

    def start(X, y, **weighted):
        model = RBMClassifier(4, visible=visible, n_iter=0, random_state=0)
        if how == "fit":
            return model.fit(X, y, **weighted)
        # Steps of 1e-300 leave every nonzero parameter as it started, to the bit.
        return model.set_params(learning_rate=1e-300).partial_fit(X, y, classes=[0, 1],
                                                                  **weighted)

    weighted, repeated = start(X, y, sample_weight=weights), start(X_repeated, y_repeated)
    np.testing.assert_allclose(weighted.intercept_visible_, repeated.intercept_visible_,
                               rtol=1e-12)
    np.testing.assert_allclose(class_fractions(weighted, 30), class_fractions(repeated, 70),
                               rtol=1e-12)
    np.testing.assert_allclose(class_fractions(repeated, 70), [50 / 70, 20 / 70], rtol=1e-12)
    if visible == "gaussian":
        sigma = [np.asarray(m._visible_unit.sigma) for m in (weighted, repeated)]
        np.testing.assert_allclose(sigma[0], sigma[1], rtol=1e-12)
        np.testing.assert_allclose(sigma[1], X_repeated.std(axis=0), rtol=1e-12)


def test_the_far_from_standardised_warning_weighs_the_rows():
    # 49 standard normal rows and one at 1e3 weighted 1e-9: as the weights see
    # them the data are standardised (the far row counts for a 1e-9 of a row).
    rng = np.random.default_rng(0)
    X = np.r_[rng.standard_normal((49, 2)), [[1e3, 1e3]]]
    X[:49] = (X[:49] - X[:49].mean(axis=0)) / X[:49].std(axis=0)
    y = np.arange(50) % 2
    weights = np.r_[np.ones(49), 1e-9]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        RBMClassifier(4, visible="gaussian", n_iter=0, random_state=0).fit(
            X, y, sample_weight=weights)


# --------------------------------------------------------------------------
# 3. A refit is a fresh estimator
# --------------------------------------------------------------------------


def test_a_refit_continues_with_partial_fit_as_a_fresh_estimator():
    # A fit of 20 epochs ends its linear schedule at 5% of learning_rate; a
    # refit of 0 epochs kept that fraction and its partial_fit stepped at 5%.
    X = np.random.default_rng(0).integers(0, 2, (60, 5)).astype(float)
    y = X[:, 0].astype(int)
    refit = RBMClassifier(4, n_iter=20, random_state=0).fit(X, y)
    refit.set_params(n_iter=0).fit(X, y)
    fresh = RBMClassifier(4, n_iter=0, random_state=0).fit(X, y)
    refit.partial_fit(X, y)
    fresh.partial_fit(X, y)
    for name in PARAMETERS:
        np.testing.assert_array_equal(getattr(refit, name), getattr(fresh, name), err_msg=name)
    assert not np.array_equal(fresh.components_,
                              RBMClassifier(4, n_iter=0, random_state=0).fit(X, y).components_)


# --------------------------------------------------------------------------
# 4. A log-likelihood no method computes
# --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def large_gaussian():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 3))
    return RBMClassifier(24, visible="gaussian", n_iter=1, random_state=0).fit(
        X, (X[:, 0] > 0).astype(int)), X


@pytest.mark.parametrize("call, names", [
    (lambda m, X: m.log_likelihood(X), "log_likelihood: the log-likelihood of"),
    (lambda m, X: m.log_likelihood(X, np.zeros(len(X), int)), "log_likelihood: the log-lik"),
    (lambda m, X: m.log_partition(), "log_partition(method='auto'): log Z of"),
    (lambda m, X: m.log_partition(method="ais"), "log_partition(method='ais'): log Z of"),
    (lambda m, X: m.log_partition(method="exact"), "log_partition(method='exact'): log Z of"),
])
def test_a_log_likelihood_no_method_computes_is_refused_naming_the_call(large_gaussian, call,
                                                                        names):
    model, X = large_gaussian
    with pytest.raises(ValueError) as error:
        call(model, X)
    message = str(error.value)
    assert message.startswith(f"RBMClassifier.{names}")
    assert "a Gaussian-input classifier needs exact enumeration" in message
    assert "up to n_components=20; this model has n_components=24" in message
    assert "n_components <= 20" in message and "predict_log_proba" in message
    # No advice to use a method that is refused as well.
    assert "use method=" not in message
    np.testing.assert_allclose(np.exp(model.predict_log_proba(X)).sum(axis=1), 1.0)


# --------------------------------------------------------------------------
# 5. Early stopping trains on every class
# --------------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(6))
def test_early_stopping_keeps_the_only_row_of_a_class_for_training(seed):
    # The random split held out the "rare" row on seed 3: a model never shown it.
    rng = np.random.default_rng(0)
    X = (rng.random((30, 4)) < 0.5).astype(float)
    y = np.array(["common"] * 29 + ["rare"])
    model = ValidationSpy(4, n_iter=2, early_stopping=True, random_state=seed).fit(X, y)
    assert np.bincount(model.spy_train_labels_, minlength=2)[1] == 1
    # The common rows are held out by validation_fraction (0.1 of 29 rows: 3).
    assert len(model.spy_held_[1]) == 3 and set(model.spy_held_[1]) == {0}


@pytest.mark.parametrize("seed", range(8))
def test_early_stopping_keeps_a_row_of_each_class_with_two(seed):
    # Ten classes of 2 rows, 6 of them held out: too few to stratify, so the
    # split is random, and held out both rows of a class on seeds 0, 1, 3, 5, 6 and 7.
    X = np.random.default_rng(seed).random((20, 4))
    y = np.repeat(np.arange(10), 2)
    model = ValidationSpy(4, n_iter=2, early_stopping=True, validation_fraction=0.3,
                          random_state=seed).fit(X, y)
    assert np.all(np.bincount(model.spy_train_labels_, minlength=10) >= 1)
    assert len(model.spy_held_[1]) >= 1


def test_early_stopping_without_a_class_of_two_rows_is_refused():
    X = np.eye(4)
    with pytest.raises(ValueError, match=r"classes with at least 2 .* none of the 4 labelled "
                                         r"rows has a class with 2; give more labelled rows or "
                                         r"set early_stopping=False"):
        RBMClassifier(2, n_iter=1, early_stopping=True, random_state=0).fit(X, [0, 1, 2, 3])
