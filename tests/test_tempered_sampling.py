"""Parallel-tempering draws (``sample`` and ``conditional_sample`` with
``method="tempered"``): they reach the modes that Gibbs chains do not cross
in models too large for exact draws, the seed alone decides them, and bad
settings are refused by name.  Exactness on tiny models, with burn-in bounds
over the whole ladder, is tested with the other samplers
(``test_samplers.py``, ``test_conditional.py``)."""

import warnings

import numpy as np
import pytest
from scipy.special import logsumexp

from rbm import BernoulliRBM, CategoricalRBM, GaussianBernoulliRBM, _gibbs

N_VISIBLE = 12
#: Hidden units beyond the two that hold the modes: uncoupled (zero weights
#: and bias), they change no p(v), and make the hidden layer too large for
#: exact draws (2**16 states).
N_IDLE = 14


def bimodal_model():
    """Two modes, all ones and all zeros, each held by a hidden unit coupled by
    6 to every visible unit (``test_conditional``'s model), with idle units."""
    W = np.vstack([np.full(N_VISIBLE, 6.0), np.full(N_VISIBLE, -6.0),
                   np.zeros((N_IDLE, N_VISIBLE))])
    c = np.concatenate([[-6.0 * N_VISIBLE / 2 + 0.8, 6.0 * N_VISIBLE / 2], np.zeros(N_IDLE)])
    model = BernoulliRBM(n_components=2 + N_IDLE, n_iter=1, random_state=0).fit(
        np.vstack([np.ones(N_VISIBLE), np.zeros(N_VISIBLE)]))
    model.components_, model.intercept_visible_, model.intercept_hidden_ = (
        W, np.zeros(N_VISIBLE), c)
    return model


def exact_law(model):
    """(every visible state, its probability) by enumeration of the 2**12 states."""
    states = ((np.arange(2 ** N_VISIBLE)[:, None] >> np.arange(N_VISIBLE)) & 1).astype(float)
    log_p = (states @ model.intercept_visible_
             + np.logaddexp(0, states @ model.components_.T + model.intercept_hidden_).sum(1))
    return states, np.exp(log_p - logsumexp(log_p))


def mostly_ones(X):
    return X.sum(axis=1) > N_VISIBLE / 2


def test_tempered_draws_weigh_the_modes_that_gibbs_chains_do_not_cross():
    # 16 hidden units: "auto" is Gibbs, and its chains keep the mode they
    # start near (the independent model of two rows, all ones and all zeros).
    model = bimodal_model()
    states, p = exact_law(model)
    exact = p[mostly_ones(states)].sum()
    assert 0.1 < exact < 0.9
    n = 1000
    sigma = np.sqrt(exact * (1 - exact) / n)
    tempered = model.sample(n, n_steps=300, method="tempered", random_state=0)
    assert abs(np.mean(mostly_ones(tempered)) - exact) < 5 * sigma
    gibbs = model.sample(n, n_steps=300, random_state=0)
    assert abs(np.mean(mostly_ones(gibbs)) - exact) > 0.1


def test_tempered_completions_weigh_the_modes_of_the_conditional():
    # Three entries observed (1, 1, 0): the all-ones mode holds 99.9% of the
    # conditional law; Gibbs chains started from the marginals stay near
    # whichever mode they start in.
    model = bimodal_model()
    states, p = exact_law(model)
    given = np.all(states[:, :3] == [1, 1, 0], axis=1)
    exact = p[given & mostly_ones(states)].sum() / p[given].sum()
    row = np.full((1, N_VISIBLE), np.nan)
    row[0, :3] = [1, 1, 0]
    n = 1000
    sigma = np.sqrt(exact * (1 - exact) / n)
    tempered = model.conditional_sample(row, n_draws=n, method="tempered", random_state=0)
    assert np.all(tempered[:, :3] == [1, 1, 0])
    assert abs(np.mean(mostly_ones(tempered)) - exact) < 5 * max(sigma, 1 / n)
    gibbs = model.conditional_sample(row, n_draws=n, random_state=0)
    assert abs(np.mean(mostly_ones(gibbs)) - exact) > 0.1


@pytest.mark.parametrize("make", [
    lambda: BernoulliRBM(n_components=20, n_iter=2, random_state=0).fit(
        (np.random.default_rng(0).random((60, 10)) < 0.4).astype(float)),
    lambda: GaussianBernoulliRBM(n_components=20, n_iter=2, random_state=0).fit(
        np.random.default_rng(0).standard_normal((60, 5))),
    lambda: CategoricalRBM(n_components=20, n_iter=2, random_state=0).fit(
        np.random.default_rng(0).integers(0, 3, (60, 4))),
    lambda: BernoulliRBM(n_components=6, hidden="relu", n_iter=2, learning_rate=0.01,
                         random_state=0).fit(
        (np.random.default_rng(0).random((60, 10)) < 0.4).astype(float)),
], ids=["bernoulli", "gaussian", "categorical", "relu"])
def test_the_seed_alone_decides_the_tempered_draws(make):
    model = make()
    X = model.sample(7, n_steps=20, method="tempered", n_temperatures=4, random_state=3)
    model.set_params(n_jobs=1)
    again = model.sample(7, n_steps=20, method="tempered", n_temperatures=4, random_state=3)
    model.set_params(n_jobs=2)
    threads = model.sample(7, n_steps=20, method="tempered", n_temperatures=4, random_state=3)
    np.testing.assert_array_equal(X, again)
    np.testing.assert_array_equal(X, threads)
    other = model.sample(7, n_steps=20, method="tempered", n_temperatures=4, random_state=4)
    assert not np.array_equal(X, other)
    # Rows with nothing observed: draws of their own, not sample's.
    gaps = np.full((7, model.n_features_in_), np.nan, dtype=object if
                   isinstance(model, CategoricalRBM) else float)
    completed = model.conditional_sample(gaps, n_steps=20, method="tempered",
                                         n_temperatures=4, random_state=3)
    assert not np.array_equal(np.asarray(completed), np.asarray(X))


@pytest.mark.parametrize("bad", [1, 0, 2.5, True, "10", None])
def test_a_bad_temperature_count_is_refused_by_name(bad):
    model = bimodal_model()
    with pytest.raises(ValueError, match="n_temperatures must be an integer of at least 2"):
        model.sample(3, method="tempered", n_temperatures=bad)
    with pytest.raises(ValueError, match="n_temperatures must be an integer of at least 2"):
        model.conditional_sample(np.full((1, N_VISIBLE), np.nan), method="tempered",
                                 n_temperatures=bad)
    # Refused whatever the method: an ignored bad value hid a forgotten
    # method="tempered".
    for method in ("gibbs", "auto"):
        with pytest.raises(ValueError, match="n_temperatures must be an integer"):
            model.sample(3, n_steps=2, method=method, n_temperatures=bad)
    with pytest.raises(ValueError, match="n_temperatures must be an integer"):
        model.conditional_sample(np.full((1, N_VISIBLE), np.nan), method="gibbs",
                                 n_temperatures=bad)


def test_an_unknown_method_lists_tempered_where_it_is_offered():
    model = bimodal_model()
    with pytest.raises(ValueError, match="'auto', 'exact', 'gibbs' or 'tempered', got 'pt'"):
        model.sample(3, method="pt")
    with pytest.raises(ValueError, match="'auto', 'exact' or 'gibbs', got 'tempered'"):
        model.conditional_marginals(np.full((1, N_VISIBLE), np.nan), method="tempered")


def test_a_ladder_whose_swaps_stall_is_warned_of():
    # Two temperatures, the model and its independent base, far apart for a
    # model this sharp: states hardly pass between them.
    model = bimodal_model()
    with pytest.warns(RuntimeWarning, match="swaps between temperatures 0 and 1 of 2 were "
                                            "accepted .* use more temperatures"):
        model.sample(200, n_steps=20, method="tempered", n_temperatures=2, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model.sample(200, n_steps=20, method="tempered", n_temperatures=10, random_state=0)


def test_the_swaps_products_run_on_one_blas_thread(monkeypatch):
    # Right after each kernel call its thread team still spins: a threaded
    # NumPy product then shared the cores with it (4.5 ms for 200 x 64 x 64,
    # the tempered draws 400 times the chains' time).  Speed only: the
    # draws do not depend on it.
    import threadpoolctl

    from rbm import _blas, _tempering

    seen = []
    real = _tempering.TemperedChains._energy_gap

    def spy(self, t):
        seen.append({c.get_num_threads() for c in _blas._blas_controllers()})
        return real(self, t)

    monkeypatch.setattr(_tempering.TemperedChains, "_energy_gap", spy)
    with threadpoolctl.threadpool_limits(2, user_api="blas"):
        bimodal_model().sample(5, n_steps=3, method="tempered", n_temperatures=3)
    assert seen and all(threads == {1} for threads in seen), seen


def test_pairs_never_proposed_are_no_broken_ladder():
    # One step proposes the pairs (0, 1), (2, 3), ... only: the others were
    # "accepted 0.00% of the time" and the call advised more temperatures.
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        bimodal_model().sample(50, n_steps=1, method="tempered", n_temperatures=5,
                               random_state=0)


def test_tempered_memory_is_checked_for_every_temperature(monkeypatch):
    # The refusal counts the chains of every temperature and says to ask for
    # fewer samples or temperatures (it said "1 chains", and to draw at most
    # the one sample asked for).
    import rbm._state as state
    from rbm._state import ModelTooLargeError

    model = bimodal_model()
    monkeypatch.setattr(state, "SURELY_AVAILABLE_BYTES", 0)
    monkeypatch.setattr(state, "available_memory", lambda: 100_000)
    with pytest.warns(RuntimeWarning, match="swaps"):  # (two temperatures: far apart)
        model.sample(2, n_steps=1, method="tempered", n_temperatures=2)  # fits
    with pytest.raises(ModelTooLargeError, match=r"sample\(20\) with n_temperatures=900 needs "
                                                 r".* for its 18,000 chains .* ask for fewer "
                                                 r"samples or temperatures"):
        model.sample(20, method="tempered", n_temperatures=900)
    with pytest.raises(ModelTooLargeError, match="n_temperatures=900"):
        model.conditional_sample(np.full((20, N_VISIBLE), np.nan), method="tempered",
                                 n_temperatures=900)
    with pytest.raises(ValueError, match="at most 1000, got 1001"):
        model.sample(1, method="tempered", n_temperatures=1001)


def test_a_tempered_request_too_large_is_given_the_ladders_limit(monkeypatch):
    # The one-chain-per-sample check ran first and advised a limit 1000 times
    # too large, so following it failed again.  The limit given now is the
    # ladder's, and a request within it passes.
    import re

    import rbm._state as state
    from rbm._state import ModelTooLargeError

    model = bimodal_model()
    monkeypatch.setattr(state, "SURELY_AVAILABLE_BYTES", 0)
    monkeypatch.setattr(state, "available_memory", lambda: 1_000_000)
    with pytest.raises(ModelTooLargeError, match="n_temperatures=100") as raised:
        model.sample(2_000, n_steps=1, method="tempered", n_temperatures=100)
    most_chains = int(re.search(r"at most (\d+) chains in all", str(raised.value)).group(1))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # (swap rates of one step)
        model.sample(most_chains // 100, n_steps=1, method="tempered", n_temperatures=100)


# --------------------------------------------------------------------------
# Gaussian visible units: the ladder moves sigma from the model's to the data's
# --------------------------------------------------------------------------

#: The Gaussian two-mode model: v | h ~ N(-3 + 6 h, SIGMA**2) in each of
#: three features, p(h = 1) = HEAVY; fitted first to data three quarters
#: of which lie in the light mode (mean -1.5, spread 2.6, four times SIGMA).
SIGMA, HEAVY = 0.6, 0.9


def gaussian_bimodal_model(dtype=np.float64):
    rng = np.random.default_rng(0)
    X = np.vstack([rng.normal(-3, SIGMA, (150, 3)), rng.normal(3, SIGMA, (50, 3))])
    model = GaussianBernoulliRBM(n_components=1, n_iter=1, random_state=0).fit(X.astype(dtype))
    model.components_ = np.full((1, 3), 6.0, dtype=dtype)
    model.intercept_visible_ = np.full(3, -3.0, dtype=dtype)
    model.intercept_hidden_ = np.array([np.log(HEAVY / (1 - HEAVY))], dtype=dtype)
    model._visible_unit.state[_gibbs.GAUSSIAN_SIGMA] = SIGMA
    return model


def gaussian_heavy_mode_probability(model, observed=None):
    """p(h = 1 | the entries ``observed`` (column: value)), by integrating
    the others out: logit c + sum_free (W**2 + 2 W b) / (2 sigma**2)
    + sum_observed W v / sigma**2."""
    W, b = model.components_[0].astype(float), model.intercept_visible_.astype(float)
    variance = model.sigma_.astype(float) ** 2
    observed = observed or {}
    free = [i for i in range(len(b)) if i not in observed]
    logit = (float(model.intercept_hidden_[0])
             + np.sum((W[free] ** 2 + 2 * W[free] * b[free]) / (2 * variance[free]))
             + sum(W[i] * v / variance[i] for i, v in observed.items()))
    return 1 / (1 + np.exp(-logit))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_tempered_gaussian_draws_reach_a_mode_beyond_the_models_sigma(dtype):
    # The heavy mode lies 7.5 model sigmas from the data mean: a ladder that
    # kept the model's sigma at every temperature put none of its draws
    # there (its hot end N(-1.5, 0.6**2)), and Gibbs chains started from the
    # data marginals stay in the light mode.  The ladder to the data's
    # spread weighs the modes as the model does.
    model = gaussian_bimodal_model(dtype)
    exact = gaussian_heavy_mode_probability(model)
    assert abs(exact - HEAVY) < 1e-6
    n = 1000
    sigma = np.sqrt(exact * (1 - exact) / n)
    tempered = model.sample(n, n_steps=1000, method="tempered", random_state=0)
    assert tempered.dtype == dtype
    assert abs(np.mean(tempered.sum(axis=1) > 0) - exact) < 5 * sigma
    gibbs = model.sample(n, n_steps=1000, method="gibbs", random_state=0)
    assert np.mean(gibbs.sum(axis=1) > 0) < 0.5


def test_tempered_gaussian_completions_weigh_the_modes_of_the_conditional():
    # One feature observed at -0.2: p(heavy mode | it) = 0.243.  The observed
    # entry is held at its value at every temperature (each block holds it
    # as its own s_t(v) = v / sigma_t**2, put back after every rescaling swap).
    model = gaussian_bimodal_model()
    exact = gaussian_heavy_mode_probability(model, {2: -0.2})
    assert 0.2 < exact < 0.3
    n = 1000
    sigma = np.sqrt(exact * (1 - exact) / n)
    row = np.array([[np.nan, np.nan, -0.2]])
    tempered = model.conditional_sample(row, n_draws=n, n_steps=1000, method="tempered",
                                        random_state=0)
    assert np.all(tempered[:, 2] == -0.2)
    assert abs(np.mean(tempered[:, :2].sum(axis=1) > 0) - exact) < 5 * sigma
    gibbs = model.conditional_sample(row, n_draws=n, n_steps=1000, method="gibbs",
                                     random_state=0)
    assert abs(np.mean(gibbs[:, :2].sum(axis=1) > 0) - exact) > 0.1


def unnormalised_log_joint(unit, W, b, c, V, H):
    """log of exp(-E_v(v) + h . (c + W s(v))) for each row (v, h), with the
    visible layer ``unit``: the hidden units' own terms (none for binary
    hidden units) left out."""
    return unit.energy_term(V, b) + np.einsum("ij,ij->i", H, unit.hidden_input(V) @ W.T + c)


@pytest.mark.parametrize("make", [
    gaussian_bimodal_model,
    lambda: BernoulliRBM(n_components=3, n_iter=2, random_state=0).fit(
        (np.random.default_rng(0).random((60, 4)) < 0.4).astype(float)),
    lambda: CategoricalRBM(n_components=3, n_iter=2, random_state=0).fit(
        np.random.default_rng(0).integers(0, 3, (60, 2))),
], ids=["gaussian", "bernoulli", "categorical"])
def test_each_temperature_is_the_geometric_path_and_the_swaps_weigh_its_steps(make):
    # log p_t(v, h) = (1 - beta_t) log p_base(v) + beta_t log p(v, h) + a
    # constant, computed from temperature t's own layer and parameters (as
    # its kernel chains see them); and the swaps' energy gap D(v, h) is the
    # difference between neighbours per unit of beta, up to a constant: so
    # the swap rule min(1, exp((beta_t - beta_t+1) (D_t+1 - D_t))) keeps the
    # product of the tempered laws.
    from rbm._streams import draw_entropy
    from rbm._tempering import TemperedChains

    model = make()
    rng = np.random.default_rng(1)
    n, n_visible = 50, model.components_.shape[1]
    if isinstance(model, CategoricalRBM):
        V = model._visible_unit.to_kernel(model._visible_unit.validate(
            model, rng.integers(0, 3, (n, 2)), reset=False, dtype=np.float64))
    elif isinstance(model, BernoulliRBM):
        V = (rng.random((n, n_visible)) < 0.5).astype(float)
    else:
        V = rng.normal(0, 3, (n, n_visible))
    H = (rng.random((n, model.n_components)) < 0.5).astype(float)
    unit = model._visible_unit
    chains = TemperedChains(model, unit.to_kernel(V), 5, draw_entropy(0), "sample")
    W, b, c = (np.asarray(a, dtype=float) for a in (model.components_, model.intercept_visible_,
                                                    model.intercept_hidden_))
    log_model = unnormalised_log_joint(unit, W, b, c, V, H)
    log_base = chains.base.energy_term(V, chains.base_bias)
    gaps = []
    for t, temperature in enumerate(chains.temperatures):
        params = [np.asarray(a, dtype=float) for a in (temperature.params.W,
                                                       temperature.params.b,
                                                       temperature.params.c)]
        log_t = unnormalised_log_joint(temperature.unit, *params, V, H)
        beta = chains.betas[t]
        difference = log_t - ((1 - beta) * log_base + beta * log_model)
        np.testing.assert_allclose(difference, difference[0], rtol=0, atol=1e-9)
        chains.hidden[t][...] = H
        gaps.append((log_t, chains._energy_gap(t)))
    assert np.allclose(chains.temperatures[-1].params.W, 0)
    for (log_hot, _), (log_cold, gap), beta_hot, beta_cold in zip(
            gaps[1:], gaps[:-1], chains.betas[1:], chains.betas[:-1]):
        step = log_cold - log_hot - (beta_cold - beta_hot) * gap
        np.testing.assert_allclose(step, step[0], rtol=0, atol=1e-9)


def test_the_gaussian_hot_end_is_never_narrower_than_the_model():
    # The data's spread, or the model's own sigma where one was assigned
    # above it: a hot end narrower than the model would flatten nothing.
    from rbm._streams import draw_entropy
    from rbm._tempering import TemperedChains

    model = gaussian_bimodal_model()
    spread = model._visible_unit.state[_gibbs.GAUSSIAN_SIGMA_MAX].copy()
    model._visible_unit.state[_gibbs.GAUSSIAN_SIGMA] = [0.5, 10.0, 0.5]
    chains = TemperedChains(model, np.zeros((4, 3)), 3, draw_entropy(0), "sample")
    np.testing.assert_array_equal(chains.base.sigma, [spread[0], 10.0, spread[2]])
    hot = chains.temperatures[-1]
    np.testing.assert_allclose(hot.unit.sigma, chains.base.sigma, rtol=1e-12)
    np.testing.assert_allclose(hot.params.b, model._base_visible_bias(), rtol=1e-12)
