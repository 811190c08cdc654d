"""Training controls under interruption and odd settings (a hostile review,
stop 47): a stopped call leaves a consistent model, the rate training goes
on at, CD's history, and the messages of changed chain layouts."""

import math
import pickle
import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning

import rbm._training as training
from rbm import BernoulliRBM, GaussianBernoulliRBM


@pytest.fixture(scope="module")
def rows():
    return (np.random.default_rng(0).random((300, 20)) < 0.3).astype(float)


def interrupting(monkeypatch, at_call):
    """Make the ``at_call``-th computation of a pass's record (1-based) raise
    KeyboardInterrupt: Ctrl-C after the pass, while its history row is made."""
    real, calls = training.EpochFigures.compute, [0]

    def compute(self, with_likelihood):
        calls[0] += 1
        if calls[0] == at_call:
            raise KeyboardInterrupt
        return real(self, with_likelihood)

    monkeypatch.setattr(training.EpochFigures, "compute", compute)


def test_a_partial_fit_stopped_while_its_pass_is_recorded_changes_nothing(rows, monkeypatch):
    # Before: the pass stood (parameters, data marginals) while n_iter_ and
    # history_ did not count it, and a retry trained the rows twice.
    model = BernoulliRBM(n_components=8, random_state=0).partial_fit(rows[:50])
    before = pickle.loads(pickle.dumps(model))
    interrupting(monkeypatch, 1)
    with pytest.raises(KeyboardInterrupt):
        model.partial_fit(rows[50:100])
    monkeypatch.undo()
    for name in ("components_", "intercept_visible_", "intercept_hidden_", "h_samples_"):
        np.testing.assert_array_equal(getattr(model, name), getattr(before, name))
    assert model.n_iter_ == before.n_iter_ == 1
    assert model._training.n_data == before._training.n_data == 50
    np.testing.assert_array_equal(model._training.data_sum, before._training.data_sum)
    model.partial_fit(rows[50:100])
    before.partial_fit(rows[50:100])
    np.testing.assert_array_equal(model.components_, before.components_)
    for name in ("reconstruction_error", "free_energy_data", "free_energy_chains",
                 "learning_rate"):
        assert model.history_[name] == before.history_[name], name
    assert model.n_iter_ == 2


def test_a_first_fit_stopped_keeps_the_rate_its_schedule_reached(rows, monkeypatch):
    # Stopped after 25 of 30 epochs of a linear schedule from 0.1: training
    # goes on at the last epoch's 0.02, not at 0.1 (5x, back at learning_rate).
    interrupting(monkeypatch, 26)
    model = BernoulliRBM(n_components=8, n_iter=30, learning_rate=0.1, random_state=0)
    with pytest.raises(KeyboardInterrupt):
        model.fit(rows)
    monkeypatch.undo()
    assert model.n_iter_ == 25
    assert model.history_["learning_rate"][-1] == pytest.approx(0.1 * 6 / 30)
    model.partial_fit(rows[:50])
    assert model.history_["learning_rate"][-1] == pytest.approx(0.1 * 6 / 30)


def test_a_first_fit_that_diverges_keeps_the_rate_its_schedule_reached(rows, monkeypatch):
    # The divergence path set no rate either: the next call stepped at learning_rate.
    real, calls = training.divergence_message, [0]

    def diverging(*args):
        calls[0] += 1
        message = real(*args)
        return "a test's divergence" if calls[0] == 11 else message

    monkeypatch.setattr(training, "divergence_message", diverging)
    model = BernoulliRBM(n_components=8, n_iter=20, learning_rate=0.1, random_state=0)
    with pytest.raises(training.DivergenceError):
        model.fit(rows)
    monkeypatch.undo()
    assert model.n_iter_ == 10
    assert model._training.learning_rate_fraction == pytest.approx(11 / 20)


def test_the_sigma_floor_warning_raised_as_an_error_undoes_a_warm_refit():
    X = (np.random.default_rng(0).random((30, 4)) < 0.5).astype(float)
    model = GaussianBernoulliRBM(n_components=32, n_iter=20, random_state=0, sigma_floor=0.999)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(X)
    model.set_params(warm_start=True, n_iter=5)
    before = pickle.loads(pickle.dumps(model))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(ConvergenceWarning, match="floor"):
            model.fit(X)
    np.testing.assert_array_equal(model.components_, before.components_)
    assert model.n_iter_ == before.n_iter_ == 20
    assert len(model.history_["epoch"]) == 20


def test_cd_records_no_chain_free_energy(rows):
    # CD keeps no persistent chains: the figure described draws from a model
    # with every hidden unit off, and read as a gap of several nats.
    model = BernoulliRBM(n_components=8, n_iter=3, method="cd", random_state=0).fit(rows)
    assert all(math.isnan(value) for value in model.history_["free_energy_chains"])
    model.partial_fit(rows[:50])
    assert math.isnan(model.history_["free_energy_chains"][-1])
    pcd = BernoulliRBM(n_components=8, n_iter=3, random_state=0).fit(rows)
    assert all(math.isfinite(value) for value in pcd.history_["free_energy_chains"])


def test_a_first_partial_fit_stopped_in_its_burn_in_counts_no_pass(monkeypatch):
    from rbm._conditional import MissingFill

    X = (np.random.default_rng(0).random((60, 6)) < 0.5).astype(float)
    X[::3, 0] = np.nan

    def stop(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(MissingFill, "refresh", stop)
    model = BernoulliRBM(n_components=4, missing="impute", random_state=0)
    with pytest.raises(KeyboardInterrupt):
        model.partial_fit(X)
    assert model.n_iter_ == 0


def test_a_cd_model_switched_to_pt_is_told_what_to_assign(rows):
    model = BernoulliRBM(n_components=8, n_iter=2, method="cd", random_state=0).fit(rows)
    model.set_params(method="pt", n_temperatures=3)
    with pytest.raises(ValueError, match=r"method='cd', which keeps no persistent chains "
                                         r"\(h_samples_ holds 100 starting states\), but method "
                                         r"is now 'pt', which needs 300 chains .*"
                                         r"np.zeros\(\(300, 8\)\)"):
        model.partial_fit(rows)
    model.h_samples_ = np.zeros((300, 8))
    model.partial_fit(rows)  # as the message says
    assert model.n_iter_ == 3


def test_a_fit_stopped_in_its_closing_fall_keeps_the_last_recorded_epochs_rate(monkeypatch):
    # Early stopping's closing fall sets each epoch's rate before its pass;
    # a fit stopped while a fall epoch was recorded went on at that undone
    # epoch's lower rate, not at the rate of the last epoch it kept.
    X = (np.random.default_rng(0).random((300, 12)) < 0.3).astype(float)
    settings = dict(n_components=8, n_iter=60, batch_size=50, early_stopping=True,
                    n_iter_no_change=1, tol=100.0, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        full = BernoulliRBM(**settings).fit(X)
    rates = np.array(full.history_["learning_rate"]) / full.learning_rate_
    falling = np.flatnonzero(np.diff(rates) < np.diff(rates)[0] - 1e-9)
    assert len(falling) >= 2  # the fall has epochs to stop in
    kept = int(falling[0]) + 2  # the fall's first epoch recorded, its second undone
    interrupting(monkeypatch, kept + 1)
    model = BernoulliRBM(**settings)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(KeyboardInterrupt):
            model.fit(X)
    assert model.n_iter_ == kept
    assert model._training.learning_rate_fraction == pytest.approx(rates[kept - 1], rel=1e-12)


def test_a_cd_model_given_another_chain_count_is_told_what_to_assign(rows):
    # It was told of the "persistent chains" of its fit, which CD keeps none of.
    model = BernoulliRBM(n_components=8, n_iter=2, method="cd", random_state=0).fit(rows)
    model.set_params(method="pcd", n_chains=50)
    with pytest.raises(ValueError, match=r"method='cd', which keeps no persistent chains .* "
                                         r"the chain count changed, which needs 50 chains"):
        model.partial_fit(rows)
    model.h_samples_ = np.zeros((50, 8))
    model.partial_fit(rows)
    assert model.n_iter_ == 3
