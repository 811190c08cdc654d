"""Properness of models with Gaussian visible and real-valued hidden units
(``rbm._properness``): a direction of the hidden units along which the
density grows proves a model improper, and fit, sample and conditional
sampling refuse such a model instead of returning numbers of nothing."""

import itertools
import warnings

import numpy as np
import pytest

import rbm._likelihood
import rbm._properness
import rbm._training
from rbm import BernoulliRBM, DivergenceError, DivergenceWarning, GaussianBernoulliRBM
from rbm._properness import (SHRINK_TARGET, Coupling, ProperKeeper, _shrink_along,
                             coupling_gram, improper_description, improper_direction)


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


def test_the_factored_coupling_is_the_gram_matrix():
    """Tall weights (fewer visible units than half the hidden ones) are
    searched through the factor F = W diag(sqrt d): its products, diagonal,
    quadratic form and shrink are those of K itself, and so are the
    directions the search finds."""
    rng = np.random.default_rng(3)
    W = rng.standard_normal((40, 6)) * 0.3
    d = rng.uniform(0.5, 2.0, 6)
    factored, full = Coupling.of(W, d), Coupling(K=coupling_gram(W, d))
    assert factored.F is not None and factored.K is None
    assert Coupling.of(W[:10], d).K is not None  # (10 rows, 6 columns: K is cheaper)
    H = rng.standard_normal((40, 5))
    np.testing.assert_allclose(factored.times(H), full.times(H), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(factored.diagonal(), np.diag(full.K), rtol=1e-12)
    h = np.abs(H[:, 0])
    assert factored.quadratic(h) == pytest.approx(float(h @ full.K @ h), rel=1e-12)
    u = h / np.linalg.norm(h)
    shrunk_W = W - 0.3 * np.outer(u, u @ W)  # (_shrink_along's change, shrink 0.3)
    for coupling, formed_afresh in ((factored, True), (full, False)):
        after, fresh = coupling.after_shrink(shrunk_W, d, u, 0.3)
        assert fresh == formed_afresh
        np.testing.assert_allclose(after.times(H), coupling_gram(shrunk_W, d) @ H,
                                   rtol=1e-10, atol=1e-12)
    # Large enough weights to be improper: both forms find a direction, and
    # each is a proof on K (recomputed from the definition).
    W_big = W * 3.0
    K = coupling_gram(W_big, d)
    for coupling in (Coupling.of(W_big, d), Coupling(K=K)):
        ratio, h = improper_direction(coupling, np.ones(40))
        assert np.all(h >= 0) and _ratio(K, h, np.ones(40)) == pytest.approx(ratio, rel=1e-9)
        assert ratio > 1.0


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
    # (With keep_proper, the default, it would shrink the weights instead.)
    X = np.random.default_rng(0).standard_normal((200, 3))
    model = _continued_from(1.5, hidden, X, keep_proper=False)
    with pytest.raises(DivergenceError, match=r"diverged: the model is improper: along a "
                                              r"direction of hidden units .* log Z is \+inf"):
        model.fit(X)
    # It keeps its parameters from before the pass, which were improper too:
    # the message says to fit anew rather than continue.
    with pytest.raises(DivergenceError, match=r"The parameters it keeps are improper as well"):
        model.fit(X)


def test_an_improper_end_only_warns_where_asked():
    X = np.random.default_rng(0).standard_normal((200, 3))
    model = _continued_from(1.5, "relu", X, on_divergence="warn", keep_proper=False)
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


@pytest.mark.parametrize("hidden", ["relu", "drelu"])
@pytest.mark.parametrize("scale, improper", [(2.0, True), (1.01, True), (0.99, False)])
def test_couplings_past_the_precision_make_log_z_infinite_without_an_ais_run(
        hidden, scale, improper):
    # Before, AIS ran on such models: NaN or 4e126 at 2 x the precision, a
    # finite 6.8e6 at 1.01 (its chains drift slowly), with at best a warning.
    X = np.random.default_rng(0).standard_normal((50, 2))
    model = GaussianBernoulliRBM(n_components=2, n_iter=2, random_state=0, n_jobs=1,
                                 hidden=hidden).fit(X)
    model.components_ = np.eye(2) * scale * np.asarray(model.sigma_, dtype=np.float64)
    if improper:
        with pytest.warns(RuntimeWarning, match="is improper"):
            assert model.log_partition("ais", n_betas=50).log_z == np.inf
    else:  # (AIS may warn of its own few effective runs at 50 temperatures)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            assert np.isfinite(model.log_partition("ais", n_betas=50).log_z)
        assert not [w for w in caught if "improper" in str(w.message)]


def test_early_stopping_returns_its_best_epoch_without_a_word_of_later_ones():
    # Review: the end-of-fit check refused a fit whose last epoch was improper
    # though early stopping returned an earlier, proper one; and the monitor's
    # log Z of improper epochs warned mid-fit of a model fit did not return.
    # Breast cancer standardised, ReLU units at 6 times the default rate.
    from sklearn.datasets import load_breast_cancer
    from sklearn.preprocessing import StandardScaler
    X = StandardScaler().fit_transform(load_breast_cancer().data)
    # Stopped early (n_iter_no_change=2; its closing fall of the rate runs
    # away, which ends the fit at the best check), or run to its improper
    # last epoch (4 epochs, the best the third).
    # (keep_proper=False: a model that keeps itself proper has no improper
    # epochs where the monitor scores it; the next test.)
    for n_iter, n_iter_no_change in [(30, 2), (4, 10)]:
        model = GaussianBernoulliRBM(n_components=16, hidden="relu", learning_rate=0.01,
                                     n_iter=n_iter, random_state=0, early_stopping=True,
                                     n_iter_no_change=n_iter_no_change, keep_proper=False)
        with warnings.catch_warnings():
            warnings.simplefilter("error", RuntimeWarning)
            model.fit(X)
        assert _found_proper(model)
        assert np.isfinite(model.score(X))
        assert model.best_epoch_ < model.n_iter_ == len(model.history_["epoch"])


def test_a_proper_model_is_searched_once_for_all_its_gap_patterns(monkeypatch):
    # Review: conditional sampling searched every gap pattern at every Gibbs
    # sweep (2,040 searches for 20 rows; 19 s against 1.8 s).  The model's own
    # verdict is cached, and a conditional can be improper only where the
    # model is, so a proper model is searched once.
    calls = []

    def counting(*args, **kwargs):
        calls.append(args[3:] if len(args) > 3 else None)
        return improper_description(*args, **kwargs)

    monkeypatch.setattr(rbm._likelihood, "improper_description", counting)
    rng = np.random.default_rng(0)
    X = rng.standard_normal((100, 6))
    model = GaussianBernoulliRBM(n_components=4, hidden="relu", n_iter=3,
                                 random_state=0).fit(X)
    gaps = X[:20].copy()
    gaps[rng.random(gaps.shape) < 0.3] = np.nan
    gaps[:, 0] = np.where(np.isnan(gaps).all(axis=1), 0.0, gaps[:, 0])
    # The fit's own last check found nothing, and said so in the cache.
    model.conditional_sample(gaps, n_steps=20, random_state=0)
    assert calls == []
    model._training.log_partition_cache.clear()
    model.conditional_sample(gaps, n_steps=20, random_state=0)
    model.sample(3, n_steps=5, random_state=0)
    assert len(calls) == 1


def _check_schedule(n_iter, pass_flops, first_cost, costs, forced):
    """The passes ``properness_due`` checks, from its rule: a check waits until
    the flops since the last reach what the last check cost (``costs``, in
    order; ``first_cost`` before the first) over ``PROPERNESS_SHARE``; the
    last pass and the ``forced`` ones are checked anyway, and count."""
    share = rbm._training.PROPERNESS_SHARE
    checked, unchecked, cost = [], 0.0, first_cost
    for done in range(1, n_iter + 1):
        unchecked += pass_flops
        if done == n_iter or done in forced or cost <= share * unchecked:
            checked.append(done)
            if len(checked) > len(costs):  # (more checks than the fit made)
                return checked
            cost, unchecked = costs[len(checked) - 1], 0.0
    return checked


def test_passes_before_the_last_are_checked_as_often_as_the_budget_allows(monkeypatch):
    checks = []  # (the pass, 1-based; what its check cost in flops)
    starts = []  # what a keep_proper fit's search before its first pass cost
    original, original_start = rbm._training.checked_improperness, rbm._training.start_proper

    def recording(model, watch, keep):
        what = original(model, watch, keep)
        checks.append((model.n_iter_ + 1, watch.check_flops))
        return what

    def recording_start(model, watch):
        original_start(model, watch)
        starts.append(watch.check_flops)

    monkeypatch.setattr(rbm._training, "checked_improperness", recording)
    monkeypatch.setattr(rbm._training, "start_proper", recording_start)
    X = np.random.default_rng(0).standard_normal((200, 3))

    def fit(n_iter, **kwargs):
        checks.clear()
        starts.clear()
        GaussianBernoulliRBM(n_components=2, hidden="relu", n_iter=n_iter,
                             random_state=0, **kwargs).fit(X)
        return [p for p, _ in checks]

    def pass_flops(rows):
        """A pass of ``rows`` rows in the search's flops: 8 x rows x 2 x 3 for
        its products, over the speed-up, and its fixed costs (minibatches
        of 20)."""
        t = rbm._training
        return (8 * rows * 2 * 3 / t.TRAINING_SPEEDUP + t.PASS_OVERHEAD_FLOPS
                + t.MINIBATCH_OVERHEAD_FLOPS * np.ceil(rows / 20))

    # Before the first check its cost is taken at the most it can be: K's
    # 2**2 x 3 multiply-adds and the search's 100 steps, each at least
    # SEARCH_STEP_OVERHEAD, twice (flops); or, for a model that keeps itself
    # proper, at what its search before the first pass cost.  With early
    # stopping, that model is also checked at the 20 passes whose validation
    # likelihood it records (every 5th of 100).
    n_iter, scored = 100, set(range(5, 101, 5))
    first = 2 * (12 + 100 * rbm._properness.SEARCH_STEP_OVERHEAD)
    passes = fit(n_iter, keep_proper=False)
    share = rbm._training.PROPERNESS_SHARE
    assert passes[0] == int(np.ceil(first / (share * pass_flops(200))))
    assert passes[-1] == n_iter and len(passes) > 2
    assert passes == _check_schedule(n_iter, pass_flops(200), first,
                                     [c for _, c in checks], ())
    # (Early stopping trains on 180 of the 200 rows.)
    for early_stopping, rows, forced in ((False, 200, ()), (True, 180, scored)):
        passes = fit(n_iter, keep_proper=True, early_stopping=early_stopping,
                     n_iter_no_change=n_iter)
        assert len(starts) == 1 and starts[0] > 0
        assert set(forced) <= set(passes)
        assert passes == _check_schedule(n_iter, pass_flops(rows), starts[0],
                                         [c for _, c in checks], forced)
        assert len(passes) > len(forced) + 2  # (the budget at work between them)
    # Of 6 passes only the last is checked.  With checks free, every pass is.
    assert fit(6, keep_proper=False) == [6]
    monkeypatch.setattr(rbm._training, "PROPERNESS_SHARE", 1e9)
    assert fit(6) == [1, 2, 3, 4, 5, 6]
    # Binary visible units are never checked: their states bound every field.
    checks.clear()
    BernoulliRBM(n_components=2, hidden="relu", n_iter=3, random_state=0).fit(X > 0)
    assert checks == []


def test_sparse_checks_count_the_passes_between_them(monkeypatch):
    # Checks every second pass: bad at passes 2, 4 and 6, the fit stops at
    # the third and goes back to before pass 2, the first of 5 passes, not 3
    # (the checks' count).  CD at a tiny rate keeps the assigned improper
    # couplings through the passes.
    def every_second_pass(model, batches, watch):
        return model.n_iter_ % 2 == 1 or watch.fit_ends_here

    monkeypatch.setattr(rbm._training, "properness_due", every_second_pass)
    X = np.random.default_rng(0).standard_normal((200, 3))
    model = _continued_from(1.5, "relu", X, method="cd", keep_proper=False)
    model.set_params(n_iter=8)
    with pytest.raises(DivergenceError, match=r"improper: .*, at 3 checks in a row over 5 "
                                              r"passes\. The model keeps its parameters from "
                                              r"before the first of these 5 passes"):
        model.fit(X)


# ---- keep_proper: training shrinks the weights instead of refusing -------------


def _found_proper(model):
    """Whether the search finds no improper direction in the fitted model."""
    return improper_description(model.components_, model._visible_unit,
                                model._hidden_unit) is None


def _small_relu(X, **settings):
    """16 ReLU units fitted to X at rate 0.003, seed 0 unless ``settings`` say
    otherwise: where most tests here start."""
    return GaussianBernoulliRBM(**{**dict(n_components=16, hidden="relu", learning_rate=0.003,
                                          random_state=0), **settings}).fit(X)


def _breast_cancer():
    from sklearn.datasets import load_breast_cancer
    from sklearn.preprocessing import StandardScaler
    return StandardScaler().fit_transform(load_breast_cancer().data)


def test_a_shrink_brings_its_direction_inside_the_bound_and_changes_nothing_else():
    rng = np.random.default_rng(0)
    W = rng.standard_normal((5, 7))
    d = rng.uniform(0.5, 2.0, 7)
    h = np.abs(rng.standard_normal(5))
    ratio = _ratio(coupling_gram(W, d), h, np.ones(5))
    W *= np.sqrt(2.0 / ratio)  # twice the bound along h
    before = W.copy()
    _shrink_along(W, h, 2.0)
    assert _ratio(coupling_gram(W, d), h, np.ones(5)) == pytest.approx(SHRINK_TARGET, rel=1e-12)
    # The change is u (u.W) times a number, u = h / |h|: the couplings of every
    # direction orthogonal to h are as they were.
    u = h / np.linalg.norm(h)
    assert np.allclose((np.eye(5) - np.outer(u, u)) @ (W - before), 0.0, atol=1e-13)


def _layers_of_a_fitted(hidden, X):
    model = GaussianBernoulliRBM(n_components=2, hidden=hidden, n_iter=1,
                                 random_state=0).fit(X)
    return model, model._visible_unit, model._hidden_unit


def _diagonal_coupling(model, scale):
    W = np.zeros_like(model.components_, dtype=np.float64)
    W[0, 0], W[1, 1] = scale / model.sigma_[0], scale / model.sigma_[1]
    return W


@pytest.mark.parametrize("hidden", ["relu", "drelu"])
def test_a_fit_keeps_an_improper_start_proper(hidden):
    # The start of test_a_fit_that_ends_improper_raises_and_says_why, with
    # keep_proper at its default: each unit pulls 2.25 times its curvature.
    X = np.random.default_rng(0).standard_normal((200, 3))
    model = _continued_from(1.5, hidden, X)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model.fit(X)
    assert _found_proper(model)
    # (Near the bound AIS may say its estimate is unsure; never "improper".)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert np.isfinite(model.score(X))
    assert not [w for w in caught if "improper" in str(w.message)]
    # Each unit's own pull is now at most the bound (it was shrunk along its
    # own direction, or along a mixture of both).
    K = coupling_gram(model.components_, 1.0 / np.asarray(model.sigma_, np.float64) ** 2)
    assert np.all(np.diag(K) <= 1.0)


def test_remembered_directions_are_shrunk_at_every_pass_without_a_search(monkeypatch):
    X = np.random.default_rng(0).standard_normal((200, 3))
    model, visible, hidden = _layers_of_a_fitted("relu", X)
    W = _diagonal_coupling(model, 1.5)
    keeper = ProperKeeper()
    assert keeper.shrink_searched(W, visible, hidden) >= 2  # both units
    assert improper_description(W, visible, hidden) is None
    W *= 1.2  # training crosses the bound again, along the same directions

    def no_search(*args, **kwargs):
        raise AssertionError("searched")

    monkeypatch.setattr(rbm._properness, "improper_direction", no_search)
    assert keeper.shrink_known(W, visible, hidden) >= 2
    monkeypatch.undo()
    assert improper_description(W, visible, hidden) is None
    assert keeper.shrink_known(W, visible, hidden) == 0  # nothing crossed: nothing done


def test_after_many_single_shrinks_the_weights_are_scaled_as_a_whole(monkeypatch):
    X = np.random.default_rng(0).standard_normal((200, 3))
    model, visible, hidden = _layers_of_a_fitted("relu", X)
    W = _diagonal_coupling(model, 1.5)
    before = W.copy()
    monkeypatch.setattr(rbm._properness, "SHRINK_DIRECTIONS", 0)
    assert ProperKeeper().shrink_searched(W, visible, hidden) >= 1
    factor = W[0, 0] / before[0, 0]
    assert 0.0 < factor < 1.0 and np.allclose(W, factor * before, rtol=1e-12, atol=0.0)
    assert improper_description(W, visible, hidden) is None


def test_a_relu_fit_of_correlated_data_stays_proper_whatever_the_threads():
    # Was a DivergenceError after the first check (and before it, a model
    # whose score was -5.7e90): standardised breast cancer, CD, rate 0.003.
    X = _breast_cancer()
    settings = dict(n_components=16, hidden="relu", method="cd", learning_rate=0.003,
                    n_iter=20, random_state=0)
    with pytest.raises(DivergenceError, match="the model is improper"):
        GaussianBernoulliRBM(keep_proper=False, **settings).fit(X)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        one = GaussianBernoulliRBM(n_jobs=1, **settings).fit(X)
        two = GaussianBernoulliRBM(n_jobs=2, **settings).fit(X)
        assert _found_proper(one)
        assert np.isfinite(one.score(X))
    assert np.array_equal(one.components_, two.components_)
    assert np.array_equal(one.sigma_, two.sigma_)


def test_a_model_kept_proper_is_checked_at_every_epoch_the_monitor_scores(monkeypatch):
    # Between budgeted checks a model may cross the bound again, where the
    # monitor's log Z is +inf: early stopping could then choose only among
    # the epochs that happened to be checked.
    checked = []
    original = rbm._training.checked_improperness

    def recording(model, watch, keep):
        checked.append(model.n_iter_ + 1)
        return original(model, watch, keep)

    monkeypatch.setattr(rbm._training, "checked_improperness", recording)
    model = GaussianBernoulliRBM(n_components=16, hidden="relu", learning_rate=0.01,
                                 n_iter=30, random_state=0, early_stopping=True,
                                 n_iter_no_change=30)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        model.fit(_breast_cancer())
    scores = np.asarray(model.history_["log_likelihood_validation"], dtype=float)
    scored = np.flatnonzero(~np.isnan(scores)) + 1
    assert scored.size >= 3
    assert set(scored) <= set(checked)
    assert np.all(np.isfinite(scores[scored - 1]))


@pytest.mark.parametrize("keep_proper, expected", [(True, 7), (False, 0)])
def test_every_pass_of_a_model_kept_proper_rechecks_the_directions_found(
        monkeypatch, keep_proper, expected):
    passes = []
    original = ProperKeeper.shrink_known

    def recording(self, W, visible, hidden):
        passes.append(W.shape)
        return original(self, W, visible, hidden)

    monkeypatch.setattr(ProperKeeper, "shrink_known", recording)
    X = np.random.default_rng(0).standard_normal((200, 3))
    GaussianBernoulliRBM(n_components=2, hidden="relu", n_iter=7, random_state=0,
                         keep_proper=keep_proper).fit(X)
    assert len(passes) == expected


def test_a_fit_that_fills_gaps_keeps_its_conditionals_proper():
    # Review: missing="impute" redraws the gaps before every pass from the
    # model's conditionals, which refused the improper model (a ValueError
    # whose advice was keep_proper=True, the setting in use) before the
    # keeper had shrunk it.  Gap-filling fits now check every pass.
    X = _breast_cancer()
    X[np.random.RandomState(2).rand(*X.shape) < 0.1] = np.nan
    model = GaussianBernoulliRBM(n_components=16, hidden="relu", method="cd",
                                 learning_rate=0.003, batch_size=10, n_iter=150,
                                 random_state=0, missing="impute").fit(X)
    assert _found_proper(model)


@pytest.mark.parametrize("call", ["partial_fit", "warm fit"])
def test_training_from_improper_weights_shrinks_them_before_the_first_pass(call):
    # Review: weights assigned (or loaded) past the bound trained a pass as
    # they were, and the chains ran off to non-finite values within it (a
    # DivergenceError blaming the learning rate).
    X = _breast_cancer()
    model = GaussianBernoulliRBM(n_components=16, hidden="relu", method="cd",
                                 learning_rate=0.001, batch_size=10, n_iter=50,
                                 random_state=0).fit(X)
    model.components_ *= 10
    assert not _found_proper(model)
    if call == "partial_fit":
        model.partial_fit(X)
    else:
        model.set_params(warm_start=True, n_iter=1).fit(X)
    assert np.all(np.isfinite(model.components_))


def test_verbose_does_not_change_a_model_kept_proper(capsys):
    # Review: checks were forced at the passes the monitor scored, which it
    # does only with verbose on (or early stopping): verbose changed W by 0.13.
    X = _breast_cancer()
    fits = [GaussianBernoulliRBM(n_components=16, hidden="relu", method="cd",
                                 learning_rate=0.001, batch_size=10, n_iter=60,
                                 random_state=0, verbose=verbose).fit(X).components_
            for verbose in (0, 1)]
    assert np.array_equal(*fits)


def test_partial_fit_carries_the_directions_and_the_budget_between_calls():
    # Review: each call started a new keeper, with no directions and a budget
    # of its own pass, so a stream of calls was never checked.
    X = _breast_cancer()
    model = GaussianBernoulliRBM(n_components=16, hidden="relu", method="cd",
                                 learning_rate=0.003, batch_size=10, random_state=0)
    budgets = []
    for _ in range(10):
        for start in range(0, X.shape[0], 50):
            model.partial_fit(X[start:start + 50])
            budgets.append(model._training.properness_budget[0])
    # The flops since the last check grow from call to call, and checks
    # (drops to 0) come within the stream; the directions they found stay.
    assert any(b == 0.0 for b in budgets[1:]) and any(
        later > earlier > 0 for earlier, later in zip(budgets, budgets[1:]))
    assert model._training.proper_directions.shape[0] == 16


@pytest.mark.parametrize("attribute, value, message", [
    ("proper_directions", np.zeros((3, 2)), "proper_directions must be None or a finite float64"),
    ("proper_directions", np.full((16, 2), np.nan), "proper_directions must be None"),
    ("proper_directions", np.ones((16, 0)), "at least one column"),
    ("proper_directions", np.zeros((16, 2)), "none of them zero or negative"),
    ("proper_directions", -np.ones((16, 2)), "none of them zero or negative"),
    ("properness_budget", (-1.0, None), "properness_budget must be a pair"),
    ("properness_budget", (True, None), "properness_budget must be a pair"),
    ("proper_fingerprint", 7, "proper_fingerprint must be None or a string"),
])
def test_a_damaged_properness_memory_is_refused_with_what_to_do(attribute, value, message):
    X = _breast_cancer()
    model = GaussianBernoulliRBM(n_components=16, hidden="relu", n_iter=2,
                                 random_state=0).fit(X)
    setattr(model._training, attribute, value)
    with pytest.raises(ValueError, match=message):
        model.partial_fit(X)


def test_a_partial_fit_stream_with_gaps_keeps_the_conditionals_proper():
    # Second review: each call draws the gaps of its rows from the model
    # before its pass, and refused the model a pass left improper (call 23).
    X = _breast_cancer()
    rng = np.random.RandomState(0)
    gaps = X.copy()
    gaps[rng.rand(*X.shape) < 0.5] = np.nan
    model = GaussianBernoulliRBM(n_components=16, hidden="relu", learning_rate=0.003,
                                 random_state=0, missing="impute", batch_size=10)
    for _ in range(60):
        model.partial_fit(gaps[rng.randint(0, len(X), 40)])
    assert _found_proper(model)


def test_a_partial_fit_that_fails_leaves_even_the_start_shrink_undone(monkeypatch):
    # Second review: the pass's snapshot was taken after start_proper had
    # shrunk the assigned weights, so a failing call changed them.
    X = _breast_cancer()
    model = _small_relu(X, n_iter=20)
    model.components_ = model.components_ * 4
    before = model.components_.copy()
    _runaway_once(monkeypatch, times=2)  # (the pass, and its checked retry)
    with pytest.raises(DivergenceError):
        model.partial_fit(X)
    assert np.array_equal(model.components_, before)


class _Gaussian:
    """Layers of unit precision and ReLU curvatures, for the keeper alone."""

    def __init__(self, n_visible):
        self.n_visible = n_visible

    def coupling_precision(self):
        return np.ones(self.n_visible)

    def potential_curvatures(self, n_hidden):
        return np.ones(n_hidden), None


def test_a_direction_found_at_the_rounding_edge_is_still_shrunk():
    # Second review: the search found a ratio just past 1 + margin that the
    # loop's own recomputation rounded back below it; nothing was shrunk and
    # the same search ran again for ever.  (Weights scaled to that edge: the
    # search's einsum and h @ K @ h / curvature sum disagree in the last bit.)
    rng = np.random.RandomState(3)
    n, m = 12, 20
    layers = _Gaussian(m)
    margin = rbm._properness.rounding_margin(n, m)
    for _ in range(300):
        W0 = rng.randn(n, m)
        found = improper_direction(coupling_gram(W0, np.ones(m)), np.ones(n), margin=0.0)
        if found is None:
            continue
        W = W0 * np.sqrt((1 + margin) / found[0])
        K = coupling_gram(W, np.ones(m))
        edge = improper_direction(K, np.ones(n), margin=margin, every=True)
        if edge is None:
            continue
        h = edge[0][1]
        if h @ K @ h / np.sum(h ** 2) <= 1 + margin:  # the disagreement
            assert ProperKeeper().shrink_searched(W, layers, layers) >= 1
            assert improper_direction(coupling_gram(W, np.ones(m)), np.ones(n),
                                      margin=margin) is None
            return
    pytest.fail("no weights at the edge found")  # (the draws above had one at the 8th)


def _counted_calls(monkeypatch, method):
    """A list that gets an entry at every call of ``ProperKeeper.<method>``."""
    calls = []
    original = getattr(ProperKeeper, method)

    def counting(self, *args):
        calls.append(1)
        return original(self, *args)

    monkeypatch.setattr(ProperKeeper, method, counting)
    return calls


def _counted_full_checks(monkeypatch):
    """A list that gets an entry at every full check (``shrink_searched``)."""
    return _counted_calls(monkeypatch, "shrink_searched")


def test_early_stoppings_restored_epoch_needs_no_search_before_the_next_call(monkeypatch):
    # Second review: the fingerprint named the last pass's parameters, not
    # the best epoch's that fit restored, so the next call searched again.
    X = _breast_cancer()
    for seed in range(10):  # the first seed whose fit restores an earlier epoch
        model = _small_relu(X, n_iter=24, random_state=seed, early_stopping=True)
        if model.best_epoch_ < model.n_iter_:
            break
    assert model.best_epoch_ < model.n_iter_  # (restored)
    searches = _counted_full_checks(monkeypatch)
    monkeypatch.setattr(rbm._training, "properness_due", lambda *args: False)
    model.partial_fit(X)
    assert searches == []
    model.components_ = model.components_ * 1.0001  # changed by hand: searched
    model.partial_fit(X)
    assert searches == [1]


def test_a_huge_check_cost_set_by_hand_does_not_switch_the_checks_off():
    # Second review: (0.0, 1e300) made every later check wait for ever.
    X = _breast_cancer()
    checked = []
    model = _small_relu(X, n_iter=2)
    model._training.properness_budget = (0.0, 1e300)
    original = rbm._training.checked_improperness
    try:
        rbm._training.checked_improperness = (
            lambda *args: checked.append(1) or original(*args))
        for _ in range(300):
            model.partial_fit(X[:50])
    finally:
        rbm._training.checked_improperness = original
    assert checked


def test_a_monitored_epoch_between_checks_is_labelled_improper_not_exact(capsys):
    # Seen on the command line: verbose progress read "training log-likelihood
    # -inf (exact)" for epochs whose model was improper between two checks.
    X = _breast_cancer()
    model = GaussianBernoulliRBM(n_components=16, hidden="relu", n_iter=200,
                                 random_state=0, verbose=2).fit(X)
    methods = model.history_["log_likelihood_method"]
    scores = model.history_["log_likelihood_train"]
    improper = [i for i, m in enumerate(methods) if m == "improper"]
    assert improper  # (this fit has such epochs)
    assert all(scores[i] == -np.inf for i in improper)
    assert all(np.isfinite(scores[i]) for i, m in enumerate(methods) if m.startswith("ais"))
    assert "log Z improper" in capsys.readouterr().out


def _runaway_once(monkeypatch, times=1, calls_running_away=None):
    """Make the first ``times`` calls of ``train_pass`` (or those numbered in
    ``calls_running_away``, from 1) end with non-finite weights (a runaway
    within the pass); returns the keepers each call got."""
    calls = []
    original = rbm._training.train_pass
    running = set(range(1, times + 1)) if calls_running_away is None else calls_running_away

    def running_away(model, batches, update, normalize, keeper=None):
        calls.append(keeper)
        original(model, batches, update, normalize, keeper)
        if len(calls) in running:
            model.components_[0, 0] = np.nan

    monkeypatch.setattr(rbm._training, "train_pass", running_away)
    return calls


def test_a_pass_that_runs_away_runs_again_checked_after_each_minibatch(monkeypatch):
    X = _breast_cancer()
    model = _small_relu(X, n_iter=5)
    calls = _runaway_once(monkeypatch)
    searches = _counted_full_checks(monkeypatch)
    known_checks = _counted_calls(monkeypatch, "shrink_known")
    with pytest.warns(DivergenceWarning, match="ran again from its start"):
        model.partial_fit(X)
    n_minibatches = -(-X.shape[0] // model.batch_size)
    # The pass ran twice, the second time with the keeper: a full check before
    # it, the known directions after each of its minibatches, and the pass's
    # own check of them.
    assert len(calls) == 2 and calls[0] is None and calls[1] is not None
    assert len(searches) >= 1
    assert len(known_checks) == n_minibatches + 1
    assert np.all(np.isfinite(model.components_))
    assert _found_proper(model)


def test_a_retry_stopped_by_its_warning_as_an_error_leaves_the_model_as_it_was(monkeypatch):
    # Review: the warning came after the restore and the shrink, before the
    # retried pass; raised as an error it left the model changed.
    X = _breast_cancer()
    model = _small_relu(X, n_iter=5)
    model.components_ = model.components_ * 4
    before = [array.copy() for array in model._learned_arrays()]
    n_iter = model.n_iter_
    _runaway_once(monkeypatch)
    with warnings.catch_warnings():
        warnings.simplefilter("error", DivergenceWarning)
        with pytest.raises(DivergenceWarning):
            model.partial_fit(X)
    assert all(np.array_equal(a, b) for a, b in zip(before, model._learned_arrays()))
    assert model.n_iter_ == n_iter


def test_each_partial_fit_call_may_retry_its_pass_once(monkeypatch):
    X = _breast_cancer()
    model = _small_relu(X, n_iter=2)
    calls = _runaway_once(monkeypatch, calls_running_away={1, 3})
    for _ in range(2):
        with pytest.warns(DivergenceWarning, match="learning_rate=0.003 on its schedule"):
            model.partial_fit(X)
    assert [keeper is not None for keeper in calls] == [False, True, False, True]


def test_the_same_seed_gives_the_same_retried_pass(monkeypatch):
    X = _breast_cancer()
    fitted = []
    for _ in range(2):
        model = _small_relu(X, n_iter=3)
        _runaway_once(monkeypatch)
        with pytest.warns(DivergenceWarning):
            fitted.append(model.partial_fit(X).components_.copy())
    assert np.array_equal(*fitted)


def test_a_fit_whose_passes_run_away_one_after_another_stops(monkeypatch):
    # A pass that runs away right after one that ran again gets no retry:
    # the rate is too large, and fit says so.  One with a sound pass between
    # its runaways trains on.
    X = _breast_cancer()
    settings = dict(n_components=16, hidden="relu", learning_rate=0.001, n_iter=4,
                    random_state=0)
    calls = _runaway_once(monkeypatch, calls_running_away={1, 3})
    with pytest.raises(DivergenceError, match="non-finite"), pytest.warns(
            DivergenceWarning, match="ran again"):  # (the first pass's retry)
        GaussianBernoulliRBM(**settings).fit(X)
    assert len(calls) == 3
    calls = _runaway_once(monkeypatch, calls_running_away={1, 4})
    with pytest.warns(DivergenceWarning):
        model = GaussianBernoulliRBM(**settings).fit(X)
    assert len(calls) == 6 and model.n_iter_ == 4
    assert np.all(np.isfinite(model.components_))


def test_a_runaway_without_keep_proper_or_twice_in_a_pass_stands(monkeypatch):
    X = _breast_cancer()
    for keep_proper, times in ((False, 1), (True, 2)):
        model = GaussianBernoulliRBM(n_components=16, hidden="relu", learning_rate=0.001,
                                     n_iter=3, random_state=0,
                                     keep_proper=keep_proper).fit(X)
        before = model.components_.copy()
        calls = _runaway_once(monkeypatch, times)
        with pytest.raises(DivergenceError, match="non-finite"), warnings.catch_warnings(
                record=True) as caught:
            warnings.simplefilter("always")
            model.partial_fit(X)
        # (The error says what happened: no warning of a retry that failed.)
        assert not [w for w in caught if w.category is DivergenceWarning]
        # Put back as before the call, the retry's shrink included.
        assert np.array_equal(model.components_, before)
        assert len(calls) == (1 if not keep_proper else 2)


@pytest.mark.parametrize("hidden", ["relu", "drelu", "gaussian"])
@pytest.mark.parametrize("value", [1e100, 1e200])
def test_assigned_weights_past_float64s_square_are_refused_without_numpy_warnings(hidden,
                                                                                  value):
    # At 1e200 the search's K = W D W.T overflowed to inf (its products to
    # NaN), found nothing, and sample drew inf with NumPy's overflow warnings.
    X = np.random.default_rng(0).standard_normal((100, 5))
    model = GaussianBernoulliRBM(n_components=3, hidden=hidden, n_iter=2, random_state=0).fit(X)
    model.components_[:] = value
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(ValueError, match="is improper"):
            model.sample(3, random_state=0, n_steps=20)
    if hidden != "gaussian":
        what = improper_description(model.components_, model._visible_unit,
                                    model._hidden_unit)
        assert "more than 1.8e+308 times" in what if value == 1e200 else "e+200 times" in what


def test_a_gibbs_step_that_overflows_warns_as_sample_does():
    # gibbs() of such a model returned inf without a word.
    X = np.random.default_rng(0).standard_normal((100, 5))
    model = GaussianBernoulliRBM(n_components=3, hidden="relu", n_iter=2, random_state=0).fit(X)
    model.components_[:] = 1e200
    with pytest.warns(RuntimeWarning, match=r"\.gibbs: its chains reached inf"):
        V = model.gibbs(X[:2])
    assert np.isinf(V).all()
    # A finite step, far or not, is left to the caller.
    model.components_[:] = 0.1
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model.gibbs(X[:2] * 1e6)
