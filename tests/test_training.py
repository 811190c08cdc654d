"""Training options shared by every model: schedules, history_, early stopping."""

import math

import numpy as np
import pytest
from sklearn.datasets import load_digits

from rbm import BernoulliRBM, CategoricalRBM, GaussianBernoulliRBM
from rbm._monitor import EXPONENTIAL_FINAL_FRACTION, epoch_learning_rate


@pytest.fixture(scope="module")
def digits():
    return (load_digits().data[:600, :36] / 16.0 > 0.5).astype(float)


@pytest.mark.parametrize("schedule", ["constant", "linear", "exponential"])
def test_schedules_are_recorded_in_history(digits, schedule):
    model = BernoulliRBM(n_components=8, n_iter=5, learning_rate=0.1,
                         learning_rate_schedule=schedule, random_state=0).fit(digits)
    expected = [epoch_learning_rate(schedule, 0.1, e, 5) for e in range(5)]
    assert model.history_["learning_rate"] == pytest.approx(expected)
    if schedule == "linear":
        assert expected == pytest.approx([0.1, 0.08, 0.06, 0.04, 0.02])
    if schedule == "exponential":
        assert expected[-1] * EXPONENTIAL_FINAL_FRACTION ** (1 / 5) == pytest.approx(
            0.1 * EXPONENTIAL_FINAL_FRACTION)


def test_a_schedule_changes_the_steps_taken(digits):
    kwargs = dict(n_components=8, n_iter=5, learning_rate=0.1, random_state=0)
    constant = BernoulliRBM(**kwargs).fit(digits)
    linear = BernoulliRBM(learning_rate_schedule="linear", **kwargs).fit(digits)
    first_epoch = BernoulliRBM(**{**kwargs, "n_iter": 1}).fit(digits)
    assert not np.allclose(constant.components_, linear.components_)
    # Epoch 1 runs at the full rate under both schedules.
    one_linear = BernoulliRBM(learning_rate_schedule="linear", **{**kwargs, "n_iter": 1})
    np.testing.assert_array_equal(one_linear.fit(digits).components_, first_epoch.components_)


def test_history_has_a_row_per_epoch_with_the_exact_likelihood_when_cheap(digits):
    model = BernoulliRBM(n_components=6, n_iter=4, random_state=0).fit(digits)
    history = model.history_
    assert all(len(column) == 4 for column in history.values())
    assert history["epoch"] == [1, 2, 3, 4]
    assert np.all(np.diff(history["seconds"]) >= 0)
    # 6 hidden units: log Z is exact and cheap, so the likelihood is recorded
    # every epoch, and the last one is the model's own score on those rows.
    assert not any(math.isnan(v) for v in history["log_likelihood_train"])
    assert history["log_likelihood_train"][-1] == pytest.approx(model.score(digits[:1000]))
    assert all(math.isnan(v) for v in history["log_likelihood_validation"])
    assert history["reconstruction_error"][-1] == pytest.approx(
        model.reconstruction_error(digits[:1000]))


def test_history_skips_the_likelihood_of_large_models_without_early_stopping(digits):
    model = BernoulliRBM(n_components=40, n_iter=2, random_state=0).fit(digits)
    assert all(math.isnan(v) for v in model.history_["log_likelihood_train"])
    assert all(np.isfinite(model.history_["free_energy_chains"]))


def test_early_stopping_stops_and_restores_the_best_parameters(digits):
    # A learning rate this large makes the validation likelihood peak early
    # and then wander; training must stop after n_iter_no_change checks
    # without improvement and come back to the best check's parameters.
    model = BernoulliRBM(n_components=6, n_iter=200, learning_rate=0.5, batch_size=20,
                         early_stopping=True, n_iter_no_change=3, random_state=0)
    model.fit(digits)
    history = model.history_["log_likelihood_validation"]
    assert model.n_iter_ < 200 and len(history) == model.n_iter_
    best = int(np.argmax(history))
    assert model.best_epoch_ == best + 1
    assert model.n_iter_ >= model.best_epoch_ + 3
    assert model.best_validation_score_ == max(history)
    # The restored parameters score what the best epoch scored on the same rows.
    n_valid = round(0.1 * len(digits))
    rng = np.random.default_rng(np.random.RandomState(0).randint(2**32))
    valid = digits[np.sort(rng.permutation(len(digits))[:n_valid])]
    assert model.score(valid) == pytest.approx(model.best_validation_score_, abs=1e-9)


def test_early_stopping_needs_both_splits():
    with pytest.raises(ValueError, match="validation_fraction"):
        BernoulliRBM(early_stopping=True, validation_fraction=0.1).fit(np.eye(4))


@pytest.mark.parametrize("model, X", [
    (GaussianBernoulliRBM(n_components=4, n_iter=3, early_stopping=True, n_iter_no_change=2),
     np.random.default_rng(0).standard_normal((200, 3))),
    (CategoricalRBM(n_components=4, n_iter=3, early_stopping=True, n_iter_no_change=2),
     np.random.default_rng(0).integers(0, 3, (200, 4))),
])
def test_every_model_records_history_and_stops_early(model, X):
    model.set_params(random_state=0).fit(X)
    assert len(model.history_["epoch"]) == model.n_iter_
    assert np.isfinite(model.history_["log_likelihood_validation"]).all()
