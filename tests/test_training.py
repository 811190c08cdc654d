"""Training options shared by every model: schedules, history_, early stopping."""

import math

import numpy as np
import pytest
from sklearn.datasets import load_digits

from rbm import BernoulliRBM, CategoricalRBM, GaussianBernoulliRBM
from rbm._monitor import (EXPONENTIAL_FINAL_FRACTION, MONITOR_ROWS, epoch_learning_rate,
                          epoch_momentum, epoch_row_index, epoch_rows)
from sklearn_like import SKLEARN_LIKE


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


def test_momentum_warmup_is_recorded_in_history(digits):
    model = BernoulliRBM(n_components=8, n_iter=10, momentum=0.5, momentum_warmup=0.25,
                         random_state=0).fit(digits)
    # Epochs 0, 1 and 2 start before a quarter of the 10 epochs has passed.
    assert model.history_["momentum"] == [0.0] * 3 + [0.5] * 7
    assert [epoch_momentum(0.5, 0.25, e, 10) for e in range(10)] == model.history_["momentum"]
    assert epoch_momentum(0.5, 0.0, 0, 10) == 0.5
    # Whole epochs, rounded up: 0.07 * 100 is 7.000000000000001 in floats.
    warm = [sum(epoch_momentum(0.5, w, e, n) == 0.0 for e in range(n))
            for w, n in ((0.07, 100), (0.1, 4762), (0.1, 9), (0.5, 1))]
    assert warm == [7, 477, 1, 1]


def test_momentum_warmup_trains_without_momentum_while_it_lasts(digits):
    kwargs = dict(n_components=8, n_iter=4, random_state=0)
    warm_throughout = BernoulliRBM(momentum=0.5, momentum_warmup=0.9, **kwargs).fit(digits)
    without_momentum = BernoulliRBM(momentum=0.0, momentum_warmup=0.0, **kwargs).fit(digits)
    with_momentum = BernoulliRBM(momentum=0.5, momentum_warmup=0.0, **kwargs).fit(digits)
    # 0.9 of 4 epochs covers all four: the same steps as no momentum at all.
    np.testing.assert_array_equal(warm_throughout.components_, without_momentum.components_)
    assert not np.allclose(with_momentum.components_, without_momentum.components_)
    for param in (-0.1, 1.0):
        with pytest.raises(ValueError, match="momentum_warmup"):
            BernoulliRBM(momentum_warmup=param).fit(digits)


def test_a_schedule_changes_the_steps_taken(digits):
    kwargs = dict(n_components=8, n_iter=5, learning_rate=0.1, random_state=0)
    constant = BernoulliRBM(learning_rate_schedule="constant", **kwargs).fit(digits)
    linear = BernoulliRBM(learning_rate_schedule="linear", **kwargs).fit(digits)
    first_epoch = BernoulliRBM(**{**kwargs, "n_iter": 1}).fit(digits)
    assert not np.allclose(constant.components_, linear.components_)
    # Epoch 1 runs at the full rate under both schedules.
    one_linear = BernoulliRBM(learning_rate_schedule="linear", **{**kwargs, "n_iter": 1})
    np.testing.assert_array_equal(one_linear.fit(digits).components_, first_epoch.components_)


def test_history_has_a_row_per_epoch_with_the_exact_likelihood_when_cheap(digits):
    model = BernoulliRBM(n_components=6, n_iter=200, random_state=0).fit(digits)
    history = model.history_
    assert all(len(column) == 200 for column in history.values())
    assert history["epoch"] == list(range(1, 201))
    assert np.all(np.diff(history["seconds"]) >= 0)
    # 6 hidden units: log Z is exact and costs less than 10% of the training
    # between checks, so the likelihood is recorded at 20 evenly spaced epochs
    # (every tenth one here), and the last one is the model's own score on
    # the training rows.
    recorded = ~np.isnan(history["log_likelihood_train"])
    np.testing.assert_array_equal(np.flatnonzero(recorded) + 1, np.arange(10, 201, 10))
    assert history["log_likelihood_train"][-1] == pytest.approx(model.score(digits), rel=1e-12)
    assert all(math.isnan(v) for v in history["log_likelihood_validation"])
    # The per-epoch figures use fewer rows (a fixed share of the epoch's cost).
    rows = digits[epoch_row_index(len(digits))]
    assert len(rows) == epoch_rows(len(digits)) < MONITOR_ROWS
    assert history["reconstruction_error"][-1] == pytest.approx(model.reconstruction_error(rows))
    assert history["free_energy_data"][-1] == pytest.approx(np.mean(model.free_energy(rows)))


def test_the_per_epoch_figures_cover_data_sorted_by_class():
    # Before: the first 64 rows, all zeros of the class-sorted digits: the
    # free energy of the data read -19.6 where every row's mean is -16.7,
    # and the free-energy gap (the overfitting signal) about 4 nats for 1.2.
    from sklearn.datasets import load_digits
    X, y = load_digits(return_X_y=True)
    order = np.argsort(y, kind="stable")
    X, y = (X[order] / 16.0 > 0.5).astype(float), y[order]
    rows = epoch_row_index(len(X))
    assert set(y[rows]) == set(range(10))
    # Evenly spaced from the first row at every size, 65 to 127 rows too
    # (a step of one row read the first 64).
    for n_train in (65, 100, 127, 64 * 64 + 1, 10**6):
        index = epoch_row_index(n_train)
        assert index[0] == 0 and index[-1] >= n_train - n_train // len(index) - 1
        assert len(np.unique(index)) == len(index) == epoch_rows(n_train)
    model = BernoulliRBM(n_components=8, n_iter=2, random_state=0).fit(X)
    assert model.history_["free_energy_data"][-1] == pytest.approx(
        np.mean(model.free_energy(X[rows])), rel=1e-12)
    assert model.history_["reconstruction_error"][-1] == pytest.approx(
        model.reconstruction_error(X[rows]), rel=1e-12)


def test_history_skips_the_likelihood_of_large_models_without_early_stopping(digits):
    model = BernoulliRBM(n_components=40, n_iter=2, random_state=0).fit(digits)
    assert all(math.isnan(v) for v in model.history_["log_likelihood_train"])
    assert all(np.isfinite(model.history_["free_energy_chains"]))


def test_early_stopping_stops_and_restores_the_best_parameters(digits):
    # A learning rate this large makes the validation likelihood peak early
    # and then wander; training must stop after n_iter_no_change checks
    # without improvement (and the closing fall of the rate) and come back
    # to the best check's parameters.
    model = BernoulliRBM(n_components=6, n_iter=200, learning_rate=0.5, batch_size=20,
                         early_stopping=True, n_iter_no_change=3, random_state=0)
    model.fit(digits)
    history = np.array(model.history_["log_likelihood_validation"])
    assert model.n_iter_ < 200 and len(history) == model.n_iter_
    # Checks every 10 epochs (200 // 20).  The best may be an early check
    # or the one that ends the closing fall of the rate (next test).
    assert np.flatnonzero(~np.isnan(history))[0] == 9
    best = int(np.nanargmax(history))
    assert model.best_epoch_ == best + 1
    assert model.best_validation_score_ == np.nanmax(history)
    # The restored parameters score what the best epoch scored on the same rows.
    n_valid = round(0.1 * len(digits))
    rng = np.random.default_rng(np.random.RandomState(0).randint(2**32))
    valid = digits[np.sort(rng.permutation(len(digits))[:n_valid])]
    assert model.score(valid) == pytest.approx(model.best_validation_score_, abs=1e-9)


def test_early_stopping_brings_the_rate_down_to_zero_before_it_stops(digits):
    # When patience runs out the rate falls linearly to zero over the
    # epochs up to the next check, and training stops at that check.
    model = BernoulliRBM(n_components=6, n_iter=200, learning_rate=0.5, batch_size=20,
                         early_stopping=True, n_iter_no_change=3, random_state=0)
    model.fit(digits)
    history = model.history_
    rates = np.array(history["learning_rate"])
    scores = np.array(history["log_likelihood_validation"])
    checks = np.flatnonzero(~np.isnan(scores))
    assert model.n_iter_ < 200 and checks[-1] == model.n_iter_ - 1
    # The check before the last is the one at which patience ran out: none
    # of the 3 checks up to it gained more than tol on the best before them.
    last_of_patience = checks[-2]
    assert model.n_iter_ - 1 - last_of_patience == 10  # one check interval: 200 // 20
    start = np.flatnonzero(checks == last_of_patience)[0] - 2
    for i in checks[start:start + 3]:
        assert scores[i] <= np.nanmax(scores[:i]) + model.tol
    scheduled = 0.5 * (1.0 - np.arange(200) / 200)
    fall_start = last_of_patience + 1
    np.testing.assert_array_equal(rates[:fall_start], scheduled[:fall_start])
    expected_fall = scheduled[fall_start] * (10 - np.arange(10)) / 11
    np.testing.assert_allclose(rates[fall_start:], expected_fall, rtol=1e-15)
    assert rates[-1] == pytest.approx(scheduled[fall_start] / 11)
    # Training goes on at the fall's last rate (at least 1% of the rate).
    continuing = model._training.learning_rate_fraction * 0.5
    assert continuing == pytest.approx(max(rates[-1], 0.5 * 0.01), rel=1e-12)


def test_early_stopping_that_never_ran_out_of_patience_continues_where_the_schedule_ended(digits):
    # Without a closing fall the fit ends as a whole fit does, whichever
    # check is restored: at the schedule's last rate, not the best check's.
    model = BernoulliRBM(n_components=6, n_iter=100, learning_rate=0.3, batch_size=20,
                         early_stopping=True, n_iter_no_change=50, random_state=0)
    model.fit(digits)
    assert model.n_iter_ == 100 and model.best_epoch_ < 100
    assert model._training.learning_rate_fraction == pytest.approx(0.01)


def _early_stopped_with_a_divergence_at(digits, monkeypatch, failing_pass):
    """The early-stopping fit of the tests above, its (0-based) pass
    ``failing_pass`` made to raise DivergenceError."""
    import rbm._training
    real_run_pass, calls = rbm._training.run_pass, []

    def run_pass(*args, **kwargs):
        calls.append(None)
        if len(calls) - 1 == failing_pass:
            raise rbm._training.DivergenceError("made to diverge")
        return real_run_pass(*args, **kwargs)

    monkeypatch.setattr(rbm._training, "run_pass", run_pass)
    return BernoulliRBM(n_components=6, n_iter=200, learning_rate=0.5, batch_size=20,
                        early_stopping=True, n_iter_no_change=3, random_state=0).fit(digits)


def test_a_closing_fall_that_diverges_ends_the_fit_at_the_best_check(digits, monkeypatch):
    plain = BernoulliRBM(n_components=6, n_iter=200, learning_rate=0.5, batch_size=20,
                         early_stopping=True, n_iter_no_change=3, random_state=0).fit(digits)
    fall_start = plain.n_iter_ - 10  # (the fall's 10 epochs: test above)
    assert plain.best_epoch_ == plain.n_iter_  # here the fall's end is the best check
    model = _early_stopped_with_a_divergence_at(digits, monkeypatch, fall_start + 3)
    assert model.n_iter_ == fall_start + 3 == len(model.history_["epoch"])
    scores = np.array(plain.history_["log_likelihood_validation"])[:fall_start]
    assert model.best_epoch_ == int(np.nanargmax(scores)) + 1
    assert model.best_validation_score_ == np.nanmax(scores)
    np.testing.assert_array_equal(model.history_["learning_rate"],
                                  plain.history_["learning_rate"][:fall_start + 3])
    # Before the fall a divergence raises, as without early stopping.
    with pytest.raises(ValueError, match="made to diverge"):
        _early_stopped_with_a_divergence_at(digits, monkeypatch, fall_start - 1)


def _stopper_out_of_patience(best_epoch, last_epoch):
    """An EarlyStopping of a 100-epoch fit (checks every 5 epochs, patience 1)
    whose check at ``best_epoch`` (1-based, rate 0.3) scored -1 and at
    ``last_epoch`` -2: patience has just run out."""
    from rbm._monitor import EarlyStopping
    stopper = EarlyStopping(tol=0.0, n_iter_no_change=1, n_epochs=100)
    for epoch, score in [(best_epoch, -1.0), (last_epoch, -2.0)]:
        row = {"log_likelihood_validation": score, "epoch": epoch, "learning_rate": 0.3}
        assert not stopper.should_stop(row, [np.zeros(2)])
    return stopper


def test_early_stopping_falls_only_over_the_epochs_the_fit_has_left():
    stopper = _stopper_out_of_patience(95, 97)
    # Patience ran out after the 97th epoch: 3 epochs are left, not 5.
    assert [stopper.learning_rate(epoch, 0.3) for epoch in (97, 98, 99)] == \
        pytest.approx([0.225, 0.15, 0.075])
    assert stopper.should_stop({"log_likelihood_validation": -3.0, "epoch": 100,
                                "learning_rate": 0.075}, [np.zeros(2)])
    assert stopper.best_epoch == 95


def test_early_stopping_ends_its_fall_even_where_the_last_check_scores_nan():
    stopper = _stopper_out_of_patience(5, 10)
    rates = [stopper.learning_rate(epoch, 0.3) for epoch in range(10, 15)]
    assert rates == pytest.approx([0.25, 0.2, 0.15, 0.1, 0.05])
    nan_row = {"log_likelihood_validation": math.nan, "epoch": 14}
    assert not stopper.should_stop(nan_row, [np.zeros(2)])
    assert stopper.should_stop(dict(nan_row, epoch=15), [np.zeros(2)])
    assert stopper.best_epoch == 5 and stopper.fall_rate(14) == pytest.approx(0.05)
    assert stopper.fall_rate(9) is None  # (before the fall)


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


# --------------------------------------------------------------------------
# Parallel tempering
# --------------------------------------------------------------------------

def two_mode_model(method, n_visible=12):
    """A one-hidden-unit RBM with modes 'all off' and 'mostly on', p(h = 1) = 0.3.

    W = 4 and b = -2 make v ~ 0.12 per unit when h = 0 and 0.88 when h = 1;
    c is set so that the exact p(h = 1) is 0.3.  Block Gibbs must pass through
    configurations of probability ~1e-4 to switch modes.
    """
    W = np.full((1, n_visible), 4.0)
    b = np.full(n_visible, -2.0)
    log_on, log_off = np.logaddexp(0, b + W[0]).sum(), np.logaddexp(0, b).sum()
    c = np.array([log_off - log_on + np.log(0.3 / 0.7)])
    X = (np.random.default_rng(0).random((50, n_visible)) < 0.5).astype(float)
    model = BernoulliRBM(n_components=1, method=method, n_chains=500, batch_size=50,
                         learning_rate=1e-12, n_iter=1, random_state=0, centering=False)
    model.fit(X)
    model.components_[...] = W
    model.intercept_visible_[...] = b
    model.intercept_hidden_[...] = c
    model.h_samples_[...] = 0.0  # every chain starts in the 'off' mode
    return model, X


def test_parallel_tempering_recovers_mode_weights_that_pcd_misses():
    """After 300 updates (learning rate 1e-12: the model stays put), the share
    of beta = 1 chains in the 'on' mode against the exact 0.3.

    The 500 ladders are independent, so at equilibrium the share is binomial
    with standard error sqrt(0.3 * 0.7 / 500) = 0.0205; PT must be within 4 of
    them (0.082).  PCD-1 chains, started in the other mode, stay far off.
    """
    shares = {}
    for method in ("pcd", "pt"):
        model, X = two_mode_model(method)
        for _ in range(300):
            model.partial_fit(X)
        shares[method] = model.h_samples_[:500].mean()
    assert abs(shares["pt"] - 0.3) < 4 * 0.0205
    assert abs(shares["pcd"] - 0.3) > 0.15
    rates = model.swap_rates_
    assert rates.shape == (9,) and np.all((rates > 0.3) & (rates <= 1.0))


@pytest.mark.parametrize("n_temperatures", [2, 3, 4])
def test_tempered_swaps_follow_the_steps_however_the_rows_are_split(digits, n_temperatures):
    # 12 tempered steps (4 calls or epochs of 3 minibatches, k=1).  Two
    # temperatures have one pair, proposed at every step; more alternate
    # between pairs (0, 1), (2, 3), ... and (1, 2), ..., carried across
    # calls by the swap counts.  With two, the alternation restarted at each
    # call: 8 proposals of 12 steps in 4 calls, 6 in one.
    X = digits[:30]
    n_chains, steps = 10, 12

    def model():
        return BernoulliRBM(n_components=4, method="pt", n_temperatures=n_temperatures,
                            n_chains=n_chains, batch_size=10, learning_rate=0.01,
                            random_state=0)

    whole = model().set_params(n_iter=4).fit(X)
    calls = model()
    for _ in range(4):
        calls.partial_fit(X)
    counts = whole._training.swap_counts
    pairs = n_temperatures - 1
    proposed_steps = counts[pairs:] // n_chains
    if n_temperatures == 2:
        assert proposed_steps.tolist() == [steps]
    else:  # pair 0 on even steps, pair 1 on odd ones
        assert proposed_steps[0] + proposed_steps[1] == steps
    np.testing.assert_array_equal(calls._training.swap_counts[pairs:], counts[pairs:])


def test_parallel_tempering_trains_every_model_type(digits):
    for model, X in [
        (BernoulliRBM(n_components=8), digits),
        (GaussianBernoulliRBM(n_components=4), np.random.default_rng(0).standard_normal((200, 3))),
        (CategoricalRBM(n_components=4), np.random.default_rng(0).integers(0, 3, (200, 4))),
    ]:
        model.set_params(method="pt", n_temperatures=4, n_iter=3, random_state=0)
        model.fit(X)
        assert model.h_samples_.shape == (4 * model.n_chains, model.n_components)
        assert np.all(np.isfinite(model.components_))
        assert np.isfinite(model.history_["swap_rate"]).all()
        assert np.all((model.swap_rates_ >= 0) & (model.swap_rates_ <= 1))


def test_parallel_tempering_is_reproducible_across_thread_counts(digits):
    from rbm import _gibbs
    with _gibbs.kernel_settings(parallel_threshold=1):
        models = [BernoulliRBM(n_components=8, method="pt", n_temperatures=3, n_iter=2,
                               n_chains=40, batch_size=50, random_state=0,
                               n_jobs=n).fit(digits[:200])
                  for n in (1, 2)]
    np.testing.assert_array_equal(models[0].components_, models[1].components_)
    np.testing.assert_array_equal(models[0]._training.swap_counts,
                                  models[1]._training.swap_counts)


# --------------------------------------------------------------------------
# Centering
# --------------------------------------------------------------------------

def test_centering_is_at_least_as_good_on_binarised_digits():
    """Exact held-out log-likelihood, 20 hidden units, seeds 0-2, with and
    without centering (Melchior et al. 2016), otherwise scikit-learn-like
    settings (learning rate 0.05, batch 10, 30 epochs).

    Centering must not lose on any seed, and must win on average."""
    from sklearn.model_selection import train_test_split

    X = (load_digits().data / 16.0 > 0.5).astype(float)
    X_train, X_test = train_test_split(X, test_size=0.3, random_state=0)
    scores = {}
    for centering in (False, True):
        scores[centering] = np.array([
            BernoulliRBM(**{**SKLEARN_LIKE, "learning_rate": 0.05}, n_components=20,
                         n_iter=30, random_state=seed, centering=centering,
                         n_jobs=1).fit(X_train).score(X_test)
            for seed in range(3)
        ])
    assert np.all(scores[True] >= scores[False]), scores
    assert scores[True].mean() > scores[False].mean()


# --------------------------------------------------------------------------
# L1 weight decay and the sparsity target
# --------------------------------------------------------------------------

def test_l1_weight_decay_soft_thresholds_the_weights(digits):
    kwargs = dict(SKLEARN_LIKE, n_components=16, n_iter=20, learning_rate=0.05,
                  random_state=0, centering=False)
    plain = BernoulliRBM(**kwargs).fit(digits)
    l1 = BernoulliRBM(l1_weight_decay=1e-3, **kwargs).fit(digits)
    # Exact zeros only come from the proximal step (an unpenalised fit has
    # none); the penalty also shrinks the weights as a whole.
    assert np.mean(plain.components_ == 0) == 0
    assert 0.01 < np.mean(l1.components_ == 0) < 1.0
    assert np.abs(l1.components_).sum() < 0.7 * np.abs(plain.components_).sum()


def test_sparsity_target_pulls_the_mean_hidden_activation_towards_it(digits):
    kwargs = dict(n_components=16, n_iter=20, learning_rate=0.05, random_state=0)
    plain = BernoulliRBM(**kwargs).fit(digits).transform(digits).mean()
    sparse = BernoulliRBM(sparsity_target=0.05, sparsity_cost=0.5, **kwargs).fit(digits)
    activation = sparse.transform(digits).mean()
    assert plain > 0.3
    assert abs(activation - 0.05) < 0.03
    # The running activation the penalty tracks agrees with the data.
    np.testing.assert_allclose(sparse._training.hidden_activity.mean(), activation, atol=0.02)


def test_auto_epochs_plan_about_300000_updates_within_bounds():
    from rbm._base import AUTO_EPOCHS, AUTO_UPDATES
    model = BernoulliRBM()  # batch_size=20
    assert AUTO_UPDATES == 300_000 and AUTO_EPOCHS == (10, 5000)
    assert model._planned_epochs(1257) == 4762      # digits' training split: 63 batches
    assert model._planned_epochs(60_000) == 100     # 3,000 batches
    assert model._planned_epochs(10_000_000) == 10  # at least 10 epochs
    assert model._planned_epochs(40) == 5000        # at most 5,000
    assert BernoulliRBM(n_iter=7)._planned_epochs(1257) == 7
    X = (np.random.default_rng(0).random((30, 5)) < 0.5).astype(float)
    fitted = BernoulliRBM(n_components=2, batch_size=30, random_state=0, n_jobs=1).fit(X)
    assert fitted.n_iter_ == 5000 and len(fitted.history_["epoch"]) == 5000
    assert fitted.history_["learning_rate"][-1] == pytest.approx(fitted.learning_rate_ / 5000)


def test_defaults_are_a_good_density_model_of_binarised_digits():
    """Issue 5's setting: digits binarised at 0.5, 70/30 split, 20 hidden units,
    every other setting at its default; exact held-out log-likelihood.

    Over seeds 0-9 the defaults scored mean -17.86 with standard deviation
    0.05 (benchmarks/README.md); a different BLAS or CPU changes the rounding
    and so acts like another seed, so the bound is the mean minus 3 standard
    deviations.  scikit-learn's BernoulliRBM gets about -19.2 here.
    """
    from sklearn.model_selection import train_test_split

    X = (load_digits().data / 16.0 > 0.5).astype(float)
    X_train, X_test = train_test_split(X, test_size=0.3, random_state=0)
    model = BernoulliRBM(n_components=20, random_state=0).fit(X_train)
    assert model.n_iter_ == 4762  # n_iter="auto": about 300,000 updates of batch 20
    assert model.score(X_test) > -17.86 - 3 * 0.05
