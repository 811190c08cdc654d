"""Conditional use against exact answers: clamped sampling and posterior marginals.

Clamped block Gibbs (``_gibbs.gibbs_chains(..., clamp=mask)``) must sample
p(missing | observed).  For the discrete families every state is enumerated
(``exact_reference``): chains start at exact draws of the conditional law,
so a correct sampler keeps that law after any number of steps, and the
visible states it returns are tested by chi-square at level ALPHA, with the
power of the test against a broken kernel (one weight moved by DELTA, whose
law after the same steps is computed exactly) shown to be at least
MIN_POWER and the broken kernel rejected.  The Gaussian family is tested on
its hidden layer (p(h | observed) in closed form) and its standardised
residuals, as ``test_gaussian_exact`` does for free chains.

The estimator's ``conditional_marginals`` is checked against brute-force
conditionals of the joint (exact method: to rounding; Gibbs method: within
bounds derived from the number of chains and sweeps), and
``conditional_sample`` by the same chi-square test.
"""

import warnings

import numpy as np
import pytest
from scipy import stats
from scipy.special import logsumexp

from rbm import BernoulliRBM, CategoricalRBM, GaussianBernoulliRBM, _gibbs

from exact_reference import (
    ALPHA,
    FAMILIES,
    MIN_POWER,
    all_states,
    chisquare_p_value,
    chisquare_power,
    hidden_conditional,
    kernel_params,
    kernel_visible,
    state_index,
)
from test_gaussian_exact import gaussian_model, random_gaussian
from test_samplers import DELTA, N_HIDDEN, n_threads, perturbed, tiny_params  # noqa: F401

N_CHAINS = 40000
family_cases = pytest.mark.parametrize("family", FAMILIES, ids=lambda f: f.name)
dtype_cases = pytest.mark.parametrize("dtype", [np.float64, np.float32],
                                      ids=["float64", "float32"])


# --------------------------------------------------------------------------
# Exact conditionals of the discrete families
# --------------------------------------------------------------------------


def clamp_columns(family, n_visible):
    """(clamped columns, their values) of the tiny model: for binary units the
    first two at (1, 0); for categorical ones the 3-category feature (columns
    2-4) at its last category."""
    if family.name == "bernoulli":
        return np.array([0, 1]), np.array([1.0, 0.0])
    return np.array([2, 3, 4]), np.array([0.0, 0.0, 1.0])


def consistent_states(family, n_visible, columns, values):
    """Indices (into ``visible_states``) of the states with the clamped values."""
    states = family.visible_states(n_visible)
    return np.flatnonzero(np.all(states[:, columns] == values, axis=1))


def conditional_law(family, W, b, c, columns, values):
    """p(v | clamped columns) over the consistent states."""
    p = family.visible_marginal(W, b, c)
    keep = consistent_states(family, W.shape[1], columns, values)
    return keep, p[keep] / p[keep].sum()


def clamped_transition(family, W, b, c, keep):
    """One clamped Gibbs step among the consistent states: h ~ p(h | v), then
    the free columns ~ p(. | h) with the clamped ones held (p(v | h) restricted
    to the consistent states and renormalised, the visible layer being a
    product over features given h)."""
    states = family.visible_states(W.shape[1])[keep]
    v_given_h = family.visible_conditional(all_states(W.shape[0]), W, b)[:, keep]
    v_given_h /= v_given_h.sum(axis=1, keepdims=True)
    return hidden_conditional(states, W, c) @ v_given_h


def run_clamped(family, W, b, c, dtype, start, columns, n_steps, n_threads, clamp=True):
    """Kernel rows after clamped chains from the visible states ``start``."""
    V = np.array(start, dtype=dtype, order="C")  # a copy: the chains run in place
    H = np.empty((len(V), W.shape[0]), dtype=dtype)
    P = np.empty_like(H)
    mask = np.zeros(V.shape, dtype=np.uint8)
    mask[:, columns] = 1
    seeds = np.random.SeedSequence(42).spawn(_gibbs.n_streams_for(len(V)))
    _gibbs.gibbs_chains(kernel_params(W.astype(dtype), b.astype(dtype), c.astype(dtype)),
                        family.kernel_visible(W.shape[1]), V, H, P, n_steps,
                        [np.random.SFC64(s) for s in seeds], n_threads,
                        clamp=mask if clamp else None)
    return V, H


@family_cases
@dtype_cases
def test_clamped_kernel_keeps_the_exact_conditional(family, dtype, n_threads):
    W, b, c = tiny_params(family, dtype, scale=0.7)
    columns, values = clamp_columns(family, W.shape[1])
    keep, law = conditional_law(family, W, b, c, columns, values)
    states = family.visible_states(W.shape[1])
    rng = np.random.default_rng(5)
    start = states[keep[rng.choice(len(keep), size=N_CHAINS, p=law)]]
    n_steps = 3
    V, _ = run_clamped(family, W, b, c, dtype, start, columns, n_steps, n_threads)
    # The clamped columns never move, bit for bit.
    assert np.array_equal(V[:, columns], np.broadcast_to(values, (N_CHAINS, len(columns))))
    index = {s: i for i, s in enumerate(keep)}
    counts = np.bincount([index[s] for s in family.visible_index(V)], minlength=len(keep))
    # The broken kernel's exact law after the same steps from the same start.
    Wb = perturbed(family, W)
    broken_law = law @ np.linalg.matrix_power(clamped_transition(family, Wb, b, c, keep),
                                              n_steps)
    Vb, _ = run_clamped(family, Wb, b, c, dtype, start, columns, n_steps, n_threads)
    broken = np.bincount([index[s] for s in family.visible_index(Vb)], minlength=len(keep))
    assert chisquare_p_value(counts, law) > ALPHA
    assert chisquare_power(N_CHAINS, law, broken_law) >= MIN_POWER
    assert chisquare_p_value(broken, law) < ALPHA


@family_cases
def test_unclamped_chains_with_an_empty_mask_are_bit_identical(family):
    # Clamping only overwrites sampled values: with nothing clamped the
    # chains draw the same numbers and give the same bits as no mask at all.
    W, b, c = tiny_params(family, np.float64)
    states = family.visible_states(W.shape[1])
    start = states[np.random.default_rng(1).integers(len(states), size=100)]
    V1, H1 = run_clamped(family, W, b, c, np.float64, start, [], 5, 1)
    V2, H2 = run_clamped(family, W, b, c, np.float64, start, [], 5, 1, clamp=False)
    assert np.array_equal(V1, V2) and np.array_equal(H1, H2)


def test_clamp_mask_of_the_wrong_shape_or_dtype_is_refused():
    W, b, c = tiny_params(FAMILIES[0], np.float64)
    V = np.zeros((4, W.shape[1]))
    H, P = np.empty((4, N_HIDDEN)), np.empty((4, N_HIDDEN))
    streams = [np.random.SFC64(0)]
    for clamp, message in [(np.zeros((3, W.shape[1]), np.uint8), "shape"),
                           (np.zeros(V.shape, bool), "dtype")]:
        with pytest.raises(ValueError, match=f"gibbs_chains.clamp must have {message}"):
            _gibbs.gibbs_chains(kernel_params(W, b, c), FAMILIES[0].kernel_visible(),
                                V, H, P, 1, streams, 1, clamp=clamp)


# --------------------------------------------------------------------------
# Gaussian: p(h | observed) in closed form
# --------------------------------------------------------------------------


def gaussian_hidden_posterior(W, b, c, sigma, v_obs, observed):
    """p(h | v_obs) for every h: p(h) N(v_obs; b + h W, sigma**2) restricted to
    the observed units, normalised (the mixture form of the model)."""
    H = all_states(W.shape[0])
    A = H @ W
    log_ph = H @ c + ((A * A + 2 * A * b) / (2 * sigma**2)).sum(axis=1)
    mean = (b + A)[:, observed]
    log_lik = stats.norm.logpdf(v_obs[observed], mean, sigma[observed]).sum(axis=1)
    lw = log_ph + log_lik
    return np.exp(lw - logsumexp(lw))


@dtype_cases
def test_gaussian_clamped_kernel_keeps_the_exact_conditional(dtype, n_threads):
    # Start at exact draws of (h, v_missing) given v_obs; after n steps the
    # returned H follows p(h | v_obs) and the free units given H are
    # N(b + H W, sigma**2); the clamped ones keep their values exactly.
    W, b, c, sigma = random_gaussian(3, N_HIDDEN, 11, 1.0, dtype)
    observed = np.array([True, False, False])
    v_obs = np.array([1.3, 0.0, 0.0])
    p = gaussian_hidden_posterior(W, b, c, sigma, v_obs, observed)
    q = gaussian_hidden_posterior(perturbed(FAMILIES[0], W), b, c, sigma, v_obs, observed)
    rng = np.random.default_rng(5)
    H0 = all_states(N_HIDDEN)[rng.choice(2 ** N_HIDDEN, size=N_CHAINS, p=p)]
    V0 = b + H0 @ W + sigma * rng.standard_normal((N_CHAINS, 3))
    V0[:, observed] = v_obs[observed]

    def run(weights, n_steps):
        model = gaussian_model(weights, b, c, sigma, dtype)
        layer = model._visible_unit
        S = layer.to_kernel(V0.astype(dtype))
        H = np.empty((N_CHAINS, N_HIDDEN), dtype=dtype)
        P = np.empty_like(H)
        clamp = np.zeros(S.shape, dtype=np.uint8)
        clamp[:, observed] = 1
        seeds = np.random.SeedSequence(42).spawn(_gibbs.n_streams_for(N_CHAINS))
        _gibbs.gibbs_chains(kernel_params(weights.astype(dtype), b.astype(dtype),
                                          c.astype(dtype)),
                            kernel_visible(_gibbs.VISIBLE_GAUSSIAN, state=layer.state), S, H,
                            P, n_steps, [np.random.SFC64(s) for s in seeds], n_threads,
                            clamp=clamp)
        return S, layer.from_kernel(S).astype(np.float64), H

    S, V, H = run(W, 3)
    broken_H = run(perturbed(FAMILIES[0], W), 20)[2]
    # The clamped entry keeps its kernel value s(v) = v / sigma**2 bit for bit.
    assert np.all(S[:, 0] == (V0[:, :1].astype(dtype) / (sigma[0] ** 2).astype(dtype))[:, 0])
    counts = np.bincount(state_index(H), minlength=2 ** N_HIDDEN)
    assert chisquare_p_value(counts, p) > ALPHA
    assert chisquare_power(N_CHAINS, p, q) >= MIN_POWER
    assert chisquare_p_value(counts, q) < ALPHA
    assert chisquare_p_value(np.bincount(state_index(broken_H), minlength=2 ** N_HIDDEN),
                             p) < ALPHA
    Z = ((V - b - H @ W) / sigma)[:, ~observed]
    assert stats.kstest(Z.ravel(), "norm").pvalue > ALPHA
    assert stats.kstest(Z.ravel() / 1.05, "norm").pvalue < ALPHA


# --------------------------------------------------------------------------
# The estimators: conditional_marginals and conditional_sample
# --------------------------------------------------------------------------


def brute_force_marginals(family, W, b, c, row, observed_columns):
    """E[s(v) | the observed columns of ``row``] over every visible state."""
    keep, law = conditional_law(family, W, b, c, observed_columns, row[observed_columns])
    return law @ family.visible_states(W.shape[1])[keep]


def incomplete_input(family, row, missing_features):
    """The estimator's input for one visible state with some features missing."""
    X = family.input(row[None, :]).astype(object if family.name == "categorical" else float)
    X[0, missing_features] = None if family.name == "categorical" else np.nan
    return X


def observed_columns(family, n_visible, missing_features):
    features = family.n_features(n_visible)
    if family.name == "bernoulli":
        return np.setdiff1d(np.arange(n_visible), missing_features)
    from exact_reference import category_offsets
    groups = category_offsets(n_visible)
    return np.concatenate([np.arange(groups[f], groups[f + 1]) for f in range(features)
                           if f not in missing_features] + [np.zeros(0, dtype=int)])


def flat_marginals(family, marginals):
    return np.hstack(marginals) if family.name == "categorical" else marginals


@family_cases
def test_exact_marginals_equal_brute_force(family):
    W, b, c = tiny_params(family, np.float64)
    model = family.model(W, b, c)
    states = family.visible_states(W.shape[1])
    rng = np.random.default_rng(3)
    for missing in ([0], [1, 2], list(range(family.n_features(W.shape[1])))):
        row = states[rng.integers(len(states))]
        expected = brute_force_marginals(family, W, b, c, row,
                                         observed_columns(family, W.shape[1], missing))
        got = flat_marginals(family, model.conditional_marginals(
            incomplete_input(family, row, missing), method="exact"))
        np.testing.assert_allclose(got[0], expected, rtol=0, atol=1e-12)


@family_cases
def test_gibbs_marginals_within_hoeffding_bounds_of_exact(family):
    # Each chain's average of p(v_i | h) lies in [0, 1], and the chains are
    # independent, so their mean is within t of its expectation with
    # probability 1 - 2 exp(-2 n t**2) (Hoeffding); the burn-in bias is
    # bounded by the clamped chain's spectral gap (below 1e-6 here).
    W, b, c = tiny_params(family, np.float64)
    model = family.model(W, b, c)
    states = family.visible_states(W.shape[1])
    row, missing = states[5], [0]
    observed = observed_columns(family, W.shape[1], missing)
    keep, law = conditional_law(family, W, b, c, observed, row[observed])
    T = clamped_transition(family, W, b, c, keep)
    burn_in, n_chains = 50, 20000
    from exact_reference import chain_chi2_bound
    assert np.sqrt(chain_chi2_bound(law, T, burn_in)) / 2 < 1e-6
    t = np.sqrt(np.log(2 / ALPHA) / (2 * n_chains))
    exact = brute_force_marginals(family, W, b, c, row, observed)
    got = flat_marginals(family, model.conditional_marginals(
        incomplete_input(family, row, missing), method="gibbs", n_chains=n_chains,
        burn_in=burn_in, n_sweeps=5, random_state=0))[0]
    assert np.max(np.abs(got - exact)) < t + 1e-6
    # Bound with teeth: a model with one weight moved by 2 has marginals more
    # than 2 t away, so an estimate of it could not pass.
    Wp = W + family.perturbation(W.shape, 2.0)
    assert np.max(np.abs(brute_force_marginals(family, Wp, b, c, row, observed) - exact)) \
        > 2 * t


def test_gaussian_marginals_are_the_mixture_moments():
    W, b, c, sigma = random_gaussian(3, N_HIDDEN, 7, 1.0)
    model = gaussian_model(W, b, c, sigma)
    v = np.array([0.4, np.nan, -1.1])
    observed = ~np.isnan(v)
    p = gaussian_hidden_posterior(W, b, c, sigma, np.nan_to_num(v), observed)
    means = b + all_states(N_HIDDEN) @ W
    mean = p @ means
    variance = sigma ** 2 + p @ (means ** 2) - mean ** 2
    got_mean, got_variance = model.conditional_marginals(v[None, :], method="exact")
    np.testing.assert_allclose(got_mean[0, 1], mean[1], rtol=0, atol=1e-12)
    np.testing.assert_allclose(got_variance[0, 1], variance[1], rtol=0, atol=1e-12)
    assert np.array_equal(got_mean[0, observed], v[observed])
    assert np.all(got_variance[0, observed] == 0)


def clamped_tempered_chi2_bound(family, W, b, c, base_bias, betas, keep, n_steps):
    """``tempered_sample_chi2_bound`` of clamped chains: each temperature's law
    and clamped chain restricted to the ``keep`` states, its start bound from
    p_t(h | observed), the hidden marginal of those states."""
    from exact_reference import second_eigenvalue
    lam, start = 0.0, 1.0
    for beta in betas:
        Wt, bt, ct = family.tempered(W, b, c, base_bias, beta)
        p = family.visible_marginal(Wt, bt, ct)[keep]
        lam = max(lam, second_eigenvalue(p / p.sum(), clamped_transition(family, Wt, bt, ct,
                                                                         keep)))
        hidden = family.joint(Wt, bt, ct)[keep].sum(axis=0)
        start *= hidden.sum() / hidden.min()
    return lam ** (n_steps - 1) * (start - 1)


@pytest.mark.parametrize("method", ["exact", "gibbs", "tempered"])
@family_cases
def test_conditional_sample_matches_the_exact_conditional(family, method):
    W, b, c = tiny_params(family, np.float64, scale=0.7)
    model = family.model(W, b, c)
    states = family.visible_states(W.shape[1])
    row, missing = states[3], [0, 1]
    observed = observed_columns(family, W.shape[1], missing)
    keep, law = conditional_law(family, W, b, c, observed, row[observed])
    # Burn-in bias of 200 steps from any start, by the spectral gap (for
    # "tempered", of the whole ladder of 3 temperatures).
    from exact_reference import chain_chi2_bound
    assert chain_chi2_bound(law, clamped_transition(family, W, b, c, keep), 200) < 1e-12
    from rbm._state import pt_betas
    base = model._base_visible_bias().astype(np.float64)
    assert clamped_tempered_chi2_bound(family, W, b, c, base, pt_betas(3), keep, 200) < 1e-12
    n = 20000
    X = model.conditional_sample(incomplete_input(family, row, missing), n_draws=n,
                                 method=method, n_temperatures=3, random_state=0)
    V = family.states(X, W.shape[1]).astype(np.float64)
    index = {s: i for i, s in enumerate(keep)}
    counts = np.bincount([index[s] for s in family.visible_index(V)], minlength=len(keep))
    _, other = conditional_law(family, perturbed(family, W), b, c, observed, row[observed])
    assert chisquare_p_value(counts, law) > ALPHA
    assert chisquare_power(n, law, other) >= MIN_POWER
    assert chisquare_p_value(counts, other) < ALPHA


def test_exact_conditional_draws_weigh_the_modes_that_gibbs_chains_do_not_cross():
    # Two modes, all ones and all zeros, each held by a hidden unit coupled
    # by 6 to 12 visible units: a clamped Gibbs chain stays in the mode it
    # starts near, so its draws follow the start, not the modes' exact odds.
    # method="auto" (14 or fewer hidden units) draws h from p(h | observed)
    # exactly, then v | h.
    n_visible = 12
    W = np.vstack([np.full(n_visible, 6.0), np.full(n_visible, -6.0)])
    b = np.zeros(n_visible)
    c = np.array([-6.0 * n_visible / 2 + 0.8, 6.0 * n_visible / 2])
    model = BernoulliRBM(n_components=2, n_iter=1, random_state=0).fit(
        np.vstack([np.ones(n_visible), np.zeros(n_visible)]))
    model.components_, model.intercept_visible_, model.intercept_hidden_ = W, b, c
    states = all_states(n_visible)
    log_p = states @ b + np.logaddexp(0, states @ W.T + c).sum(axis=1)
    p = np.exp(log_p - logsumexp(log_p))
    mostly_ones = states.sum(axis=1) > n_visible / 2
    exact = p[mostly_ones].sum()
    assert 0.1 < exact < 0.9  # both modes carry weight
    n = 4000
    draws = model.conditional_sample(np.full((1, n_visible), np.nan), n_draws=n, random_state=0)
    share = np.mean(draws.sum(axis=1) > n_visible / 2)
    assert abs(share - exact) < 5 * np.sqrt(exact * (1 - exact) / n)
    gibbs = model.conditional_sample(np.full((1, n_visible), np.nan), n_draws=n,
                                     method="gibbs", random_state=0)
    assert abs(np.mean(gibbs.sum(axis=1) > n_visible / 2) - exact) > 0.1  # (the chains' bias)


@family_cases
def test_conditional_use_is_the_same_for_any_thread_count(family):
    W, b, c = tiny_params(family, np.float64)
    states = family.visible_states(W.shape[1])
    X = np.vstack([incomplete_input(family, states[i % len(states)], [i % 2])
                   for i in range(40)])
    results = []
    for n_jobs in (1, 3):
        model = family.model(W, b, c, n_jobs=n_jobs)
        with _gibbs.kernel_settings(parallel_threshold=0):
            results.append((model.conditional_sample(X, n_draws=3, method="gibbs",
                                                     random_state=2),
                            flat_marginals(family, model.conditional_marginals(
                                X, method="gibbs", n_sweeps=3, random_state=2))))
    assert np.array_equal(results[0][0], results[1][0])
    assert np.array_equal(results[0][1], results[1][1])


def test_categorical_frames_with_gaps_and_unseen_categories():
    pd = pytest.importorskip("pandas")
    from rbm import CategoricalRBM
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"colour": rng.choice(["red", "blue", "green"], 60),
                          "size": rng.choice(["s", "m", "l"], 60)})
    model = CategoricalRBM(n_components=3, n_iter=5, random_state=0).fit(frame)
    gaps = pd.DataFrame({"colour": ["red", None, pd.NA], "size": [np.nan, "m", "l"]},
                        index=[10, 11, 12])
    out = model.conditional_sample(gaps, n_draws=2, random_state=0)
    assert list(out.index) == [10, 10, 11, 11, 12, 12]
    assert list(out["colour"])[:2] == ["red", "red"] and list(out["size"])[2:] == [
        "m", "m", "l", "l"]
    assert set(out["size"][:2]) <= {"s", "m", "l"} and set(out["colour"][2:]) <= {
        "red", "blue", "green"}
    marginals = model.conditional_marginals(gaps)
    assert [m.shape for m in marginals] == [(3, 3), (3, 3)]
    np.testing.assert_allclose(marginals[0].sum(axis=1), 1.0)
    unseen = pd.DataFrame({"colour": ["purple"], "size": [None]})
    with pytest.raises(ValueError, match="column 'colour' has the value 'purple'"):
        model.conditional_sample(unseen)


@pytest.mark.parametrize("model_type", [BernoulliRBM, GaussianBernoulliRBM])
def test_pandas_na_in_an_object_column_is_a_gap_for_numeric_models(model_type):
    # pandas' NA in an object column (pd.DataFrame({"a": [0, 1, pd.NA]}))
    # crashed the numeric models' validation with "TypeError: float()
    # argument must be ... not 'NAType'"; it is missing, like NaN and None.
    pd = pytest.importorskip("pandas")
    rng = np.random.default_rng(0)
    values = (rng.random((30, 3)) < 0.5).astype(float)
    with_na = values.astype(object)
    with_na[0, 1], with_na[1, 2] = pd.NA, None
    with_nan = values.copy()
    with_nan[0, 1] = with_nan[1, 2] = np.nan
    frame = pd.DataFrame(with_na, columns=["a", "b", "c"])
    assert (frame.dtypes == object).all()
    for X, same in [(with_na, with_nan), (frame, pd.DataFrame(with_nan, columns=["a", "b", "c"]))]:
        models = [model_type(n_components=2, n_iter=2, random_state=0, missing="impute").fit(D)
                  for D in (X, same)]
        np.testing.assert_array_equal(models[0].components_, models[1].components_)
        np.testing.assert_array_equal(models[0].score_samples(X), models[1].score_samples(same))
        with pytest.raises(ValueError, match=r"\(2 NaN, 0 inf values\)"):
            model_type(n_iter=1).fit(X)


def test_bad_incomplete_input_is_refused():
    from rbm import BernoulliRBM
    X = (np.random.default_rng(0).random((30, 4)) < 0.5).astype(float)
    model = BernoulliRBM(n_components=20, n_iter=2, random_state=0).fit(X)
    with pytest.raises(ValueError, match="expects values in \\[0, 1\\]"):
        model.conditional_sample([[np.nan, 2.0, 0.0, 1.0]])
    with pytest.raises(ValueError, match="features"):
        model.conditional_sample([[np.nan, 1.0, 0.0]])
    with pytest.raises(ValueError, match="method='exact' enumerates the 20 hidden"):
        model.conditional_marginals([[np.nan, 1.0, 0.0, 1.0]], method="exact")
    with pytest.raises(ValueError, match="n_draws must be an integer"):
        model.conditional_sample([[np.nan, 1.0, 0.0, 1.0]], n_draws=0)


# --------------------------------------------------------------------------
# log p(observed entries) of rows with gaps
# --------------------------------------------------------------------------


def brute_force_observed_log_p(family, W, b, c, row, observed):
    """log of the sum of p(v) over the states agreeing with the observed columns."""
    lw = family.log_joint(W, b, c)
    log_pv = logsumexp(lw, axis=1) - logsumexp(lw)
    keep = consistent_states(family, W.shape[1], observed, row[observed])
    return float(logsumexp(log_pv[keep]))


@family_cases
@pytest.mark.parametrize("n_hidden", [3, 15], ids=["enumerate-hidden", "enumerate-missing"])
def test_observed_log_likelihood_equals_brute_force(family, n_hidden):
    W, b, c = family.random_params(family.tiny_n_visible, n_hidden, 2, 0.5)
    model = family.model(W, b, c, missing="impute")
    states = family.visible_states(W.shape[1])
    rng = np.random.default_rng(6)
    features = family.n_features(W.shape[1])
    rows, expected = [], []
    for missing in ([0], [1, 2], [], list(range(features))):
        row = states[rng.integers(len(states))]
        rows.append(incomplete_input(family, row, missing))
        expected.append(brute_force_observed_log_p(
            family, W, b, c, row, observed_columns(family, W.shape[1], missing)))
    X = np.vstack(rows)
    result = model.observed_log_likelihood(X)
    np.testing.assert_allclose(result.log_p, expected, rtol=0, atol=1e-9)
    assert list(result.method) == ["exact", "exact", "complete", "exact"]
    assert np.all(result.std_error == 0)
    np.testing.assert_allclose(model.score_samples(X), expected, rtol=0, atol=1e-9)


@pytest.mark.parametrize("n_hidden", [3, 15], ids=["exact", "ais"])
def test_gaussian_observed_log_likelihood_exact_and_by_ais(n_hidden):
    # With 15 hidden units (beyond the hidden enumeration of conditional
    # use) rows with gaps go to AIS; the closed form over the hidden states
    # (the mixture of Gaussians) is the reference.  AIS errs by about its
    # standard error; 5 of them bound a correct estimate, a bound under 0.1
    # nats here.  With 3 hidden units the answer is exact.
    W, b, c, sigma = random_gaussian(3, n_hidden, 8, 0.3)
    model = gaussian_model(W, b, c, sigma, missing="impute")
    X = np.array([[0.5, np.nan, -0.2], [np.nan, np.nan, 1.0], [0.1, 0.2, 0.3]])
    H = all_states(n_hidden)
    A = H @ W
    log_ph = H @ c + ((A * A + 2 * A * b) / (2 * sigma ** 2)).sum(axis=1)
    log_z_h = logsumexp(log_ph)
    expected = []
    for x in X:
        o = ~np.isnan(x)
        lik = stats.norm.logpdf(x[o], (b + A)[:, o], sigma[o]).sum(axis=1)
        expected.append(float(logsumexp(log_ph + lik) - log_z_h))
    result = model.observed_log_likelihood(X)
    assert abs(result.log_p[2] - expected[2]) < 1e-8
    if n_hidden == 3:
        assert list(result.method) == ["exact", "exact", "complete"]
        np.testing.assert_allclose(result.log_p, expected, rtol=0, atol=1e-9)
        np.testing.assert_allclose(model.score_samples(X), expected, rtol=0, atol=1e-9)
        return
    with pytest.warns(UserWarning, match="estimated by AIS per row"):
        scores = model.score_samples(X)
    assert list(result.method) == ["ais", "ais", "complete"]
    np.testing.assert_allclose(scores, result.log_p)
    assert np.all(np.abs(result.log_p - expected)[:2] < 5 * result.std_error[:2] + 1e-9)
    assert np.all(result.std_error[:2] > 0) and np.all(5 * result.std_error[:2] < 0.1)


@pytest.mark.parametrize("option, value", [("n_betas", 2), ("n_chains", 1)])
def test_observed_log_likelihood_refuses_ais_settings_log_partition_refuses(option, value):
    # n_betas=2 passed the method's own check and failed inside AIS's schedule
    # ("n_betas must be at least 3"); n_chains=1 gave an infinite standard
    # error.  Both are refused up front, as by log_partition.
    W, b, c, sigma = random_gaussian(3, 15, 8, 0.3)
    model = gaussian_model(W, b, c, sigma, missing="impute")
    X = np.array([[0.5, np.nan, -0.2]])
    with pytest.raises(ValueError, match=f"^{option} must be an integer in \\[{value + 1}, "):
        model.observed_log_likelihood(X, **{option: value})


def test_a_row_with_nothing_observed_has_log_p_zero_without_ais():
    # p(no observed entry) = 1.  Beyond the exact paths the row went to a
    # full AIS run of its own (32 x 1000), came back "ais" with an estimate
    # near but not at 0, and made score_samples warn.
    W, b, c, sigma = random_gaussian(3, 15, 8, 0.3)
    model = gaussian_model(W, b, c, sigma, missing="impute")
    X = np.array([[np.nan] * 3, [0.1, 0.2, 0.3]])
    result = model.observed_log_likelihood(X)
    assert result.log_p[0] == 0.0 and result.std_error[0] == 0.0
    assert list(result.method) == ["exact", "complete"]
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        np.testing.assert_array_equal(model.score_samples(X), result.log_p)


def test_score_samples_keeps_refusing_gaps_without_missing_impute():
    W, b, c = tiny_params(FAMILIES[0], np.float64)
    model = FAMILIES[0].model(W, b, c)
    with pytest.raises(ValueError, match="NaN"):
        model.score_samples([[np.nan, 1.0, 0.0, 1.0]])


# --------------------------------------------------------------------------
# Gaussian: conditional_sample against the exact mixture
# --------------------------------------------------------------------------


def gaussian_hidden_field(W, c, sigma, v):
    """c + W s(v), s(v) = v / sigma**2: the hidden units' field given v."""
    return c + (v / sigma ** 2) @ W.T


def gaussian_clamped_hidden_chain(W, b, c, sigma, v_obs, missing, n_nodes=120):
    """One clamped Gibbs step on the hidden layer, h -> v_missing -> h', for one
    missing unit: T(h, h') = E over v_missing ~ N(b + hW, sigma**2) of
    p(h' | v), the expectation by Gauss-Hermite quadrature (a smooth integrand
    of a Gaussian: exact to rounding at this many nodes)."""
    H = all_states(W.shape[0])
    z, w = np.polynomial.hermite_e.hermegauss(n_nodes)
    w = w / np.sqrt(2 * np.pi)
    T = np.zeros((len(H), len(H)))
    for i, h in enumerate(H):
        x = (b + h @ W)[missing] + sigma[missing] * z
        V = np.tile(v_obs, (n_nodes, 1))
        V[:, missing] = x
        p_on = 1 / (1 + np.exp(-gaussian_hidden_field(W, c, sigma, V)))
        p_next = np.prod(np.where(H[None, :, :] == 1, p_on[:, None, :],
                                  1 - p_on[:, None, :]), axis=2)
        T[i] = w @ p_next
    return T


def gaussian_missing_cdf(W, b, c, sigma, v_obs, observed, missing):
    """CDF of the missing unit given the observed ones: the mixture over
    p(h | v_obs) of N(b + hW, sigma**2)."""
    p = gaussian_hidden_posterior(W, b, c, sigma, v_obs, observed)
    means = (b + all_states(W.shape[0]) @ W)[:, missing]
    return lambda x: stats.norm.cdf((np.asarray(x)[:, None] - means) / sigma[missing]) @ p


@pytest.mark.parametrize("method", ["gibbs", "exact", "tempered"])
def test_gaussian_conditional_sample_matches_the_exact_mixture(method):
    # The estimator's draws of the missing unit, against its exact law by a
    # Kolmogorov-Smirnov test at level ALPHA.  Burn-in: the clamped hidden
    # chain is a two-block Gibbs chain reversible w.r.t. p(h | v_obs), so
    # chain_chi2_bound bounds its distance to that law after the default 200
    # steps from any start (the draw of v_missing given h can only shrink it).
    # Teeth: a model with one weight moved by 1 has a law more than twice the
    # test's critical distance away, and these draws reject it.
    from exact_reference import chain_chi2_bound
    W, b, c, sigma = random_gaussian(3, N_HIDDEN, 11, 1.0)
    model = gaussian_model(W, b, c, sigma)
    observed, missing = np.array([True, False, True]), 1
    v = np.array([1.3, np.nan, -0.4])
    v_obs = np.nan_to_num(v)
    p = gaussian_hidden_posterior(W, b, c, sigma, v_obs, observed)
    T = gaussian_clamped_hidden_chain(W, b, c, sigma, v_obs, missing)
    np.testing.assert_allclose(T.sum(axis=1), 1.0, rtol=0, atol=1e-12)
    np.testing.assert_allclose(p @ T, p, rtol=0, atol=1e-12)  # p(h | v_obs) is stationary
    assert chain_chi2_bound(p, T, 199) < 1e-12
    # "tempered", 3 temperatures (W and c scaled by beta, the mean moved to
    # the base model's, sigma kept): the ladder's bound as for discrete units
    # (``clamped_tempered_chi2_bound``), from the hidden chains.
    from exact_reference import second_eigenvalue
    from rbm._state import pt_betas
    base = model._base_visible_bias().astype(np.float64)
    lam, start = 0.0, 1.0
    for beta in pt_betas(3):
        tempered = beta * W, beta * b + (1 - beta) * base, beta * c
        p_t = gaussian_hidden_posterior(*tempered, sigma, v_obs, observed)
        lam = max(lam, second_eigenvalue(
            p_t, gaussian_clamped_hidden_chain(*tempered, sigma, v_obs, missing)))
        start *= 1 / p_t.min()
    assert lam ** 199 * (start - 1) < 1e-12
    n = 20000
    draws = model.conditional_sample(v[None, :], n_draws=n, method=method, n_temperatures=3,
                                     random_state=0)
    assert np.all(draws[:, observed] == v[observed])
    exact = gaussian_missing_cdf(W, b, c, sigma, v_obs, observed, missing)
    assert stats.kstest(draws[:, missing], exact).pvalue > ALPHA
    Wp = W.copy()
    Wp[1, missing] += 1.0
    other = gaussian_missing_cdf(Wp, b, c, sigma, v_obs, observed, missing)
    grid = np.linspace(-10, 10, 20001)
    critical = stats.kstwo.ppf(1 - ALPHA, n)
    assert np.max(np.abs(exact(grid) - other(grid))) > 2 * critical
    assert stats.kstest(draws[:, missing], other).pvalue < ALPHA


@pytest.mark.parametrize("hidden", ["relu", "gaussian"])
def test_exact_marginals_with_real_valued_hidden_units_are_refused_by_name(hidden):
    from rbm import BernoulliRBM
    X = (np.random.default_rng(0).random((30, 4)) < 0.5).astype(float)
    model = BernoulliRBM(n_components=3, n_iter=1, hidden=hidden, learning_rate=0.01,
                         random_state=0).fit(X)
    with pytest.raises(ValueError, match=f"hidden='{hidden}' units are real-valued; "
                                         "use method='gibbs'"):
        model.conditional_marginals([[np.nan, 1.0, 0.0, 1.0]], method="exact")


@pytest.mark.parametrize("kind", ["bernoulli", "gaussian", "categorical"])
def test_missing_impute_refuses_a_feature_never_observed(kind):
    # Nothing can be learned about it: fitting would keep the initial guess
    # there without a word.  (CategoricalRBM with its categories given, so
    # the categories check cannot be what refuses it.)
    rng = np.random.default_rng(0)
    if kind == "categorical":
        X = rng.integers(0, 3, (30, 4)).astype(object)
        X[:, 2] = None
        model = CategoricalRBM(n_components=2, n_iter=2, missing="impute",
                               categories=[[0, 1, 2]] * 4)
    else:
        X = (rng.random((30, 4)) < 0.5).astype(float)
        X[:, 2] = np.nan
        model = (BernoulliRBM if kind == "bernoulli" else GaussianBernoulliRBM)(
            n_components=2, n_iter=2, missing="impute")
    with pytest.raises(ValueError, match="feature 2 has no observed value in the data given to fit"):
        model.fit(X)
    assert not hasattr(model, "components_")
    X[0, 2] = 1  # one observed entry is enough
    assert model.fit(X).n_iter_ == 2


# --------------------------------------------------------------------------
# transform of rows with gaps: E[h | observed entries]
# --------------------------------------------------------------------------


def brute_force_hidden_means(family, W, b, c, row, observed):
    """E[p(h = 1 | v) | the observed columns of ``row``] over every visible state."""
    keep, law = conditional_law(family, W, b, c, observed, row[observed])
    states = family.visible_states(W.shape[1])[keep]
    return law @ (1 / (1 + np.exp(-(states @ W.T + c))))


@family_cases
def test_transform_of_rows_with_gaps_is_the_exact_hidden_posterior_mean(family):
    W, b, c = tiny_params(family, np.float64)
    model = family.model(W, b, c, missing="impute")
    states = family.visible_states(W.shape[1])
    rng = np.random.default_rng(4)
    rows, expected = [], []
    for missing in ([0], [], [1, 2], list(range(family.n_features(W.shape[1])))):
        row = states[rng.integers(len(states))]
        rows.append(incomplete_input(family, row, missing))
        expected.append(brute_force_hidden_means(
            family, W, b, c, row, observed_columns(family, W.shape[1], missing)))
    X = np.vstack(rows)
    H = model.transform(X)
    np.testing.assert_allclose(H, expected, rtol=0, atol=1e-12)
    # The complete row is transformed as it would be alone (and as without gaps).
    np.testing.assert_allclose(H[1], model.transform(X[1:2])[0], rtol=0, atol=1e-15)


def test_gaussian_transform_of_rows_with_gaps_is_the_mixture_posterior_mean():
    W, b, c, sigma = random_gaussian(3, N_HIDDEN, 7, 1.0)
    model = gaussian_model(W, b, c, sigma)
    model.set_params(missing="impute")
    v = np.array([0.4, np.nan, -1.1])
    observed = ~np.isnan(v)
    p = gaussian_hidden_posterior(W, b, c, sigma, np.nan_to_num(v), observed)
    np.testing.assert_allclose(model.transform(v[None, :])[0], p @ all_states(N_HIDDEN),
                               rtol=0, atol=1e-12)


@family_cases
def test_gibbs_hidden_means_within_hoeffding_bounds_of_exact(family):
    # As test_gibbs_marginals_within_hoeffding_bounds_of_exact: each chain's
    # average of p(h_j = 1 | v) lies in [0, 1] and the chains are independent.
    W, b, c = tiny_params(family, np.float64)
    model = family.model(W, b, c, missing="impute")
    states = family.visible_states(W.shape[1])
    row, missing = states[5], [0]
    observed = observed_columns(family, W.shape[1], missing)
    keep, law = conditional_law(family, W, b, c, observed, row[observed])
    from exact_reference import chain_chi2_bound
    burn_in, n_chains = 50, 20000
    assert np.sqrt(chain_chi2_bound(law, clamped_transition(family, W, b, c, keep),
                                    burn_in)) / 2 < 1e-6
    t = np.sqrt(np.log(2 / ALPHA) / (2 * n_chains))
    exact = brute_force_hidden_means(family, W, b, c, row, observed)
    rows, mask = model._incomplete_input(incomplete_input(family, row, missing))
    got = model._gibbs_hidden_means(rows, mask, n_chains=n_chains, burn_in=burn_in,
                                    n_sweeps=5, random_state=0)[0]
    assert np.max(np.abs(got - exact)) < t + 1e-6
    # Bound with teeth: one weight moved by 2 moves the means by more than 2 t.
    Wp = W + family.perturbation(W.shape, 2.0)
    assert np.max(np.abs(brute_force_hidden_means(family, Wp, b, c, row, observed)
                         - exact)) > 2 * t


def test_transform_with_gaps_in_a_pipeline_and_past_the_enumerable_size():
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    rng = np.random.default_rng(0)
    X = (rng.random((120, 6)) < 0.5).astype(float)
    y = (X[:, 0] > 0.5).astype(int)
    X[rng.random(X.shape) < 0.2] = np.nan
    # fit_transform fits on the gaps and then transforms them.
    pipeline = make_pipeline(BernoulliRBM(n_components=4, n_iter=3, random_state=0,
                                          missing="impute"), LogisticRegression())
    assert pipeline.fit(X, y).predict(X).shape == (120,)
    # 15 hidden units (2**15 states): estimated from clamped chains, seeded.
    model = BernoulliRBM(n_components=15, n_iter=3, random_state=0, missing="impute").fit(X)
    H = model.transform(X)
    np.testing.assert_array_equal(H, model.transform(X))
    rows, observed = model._incomplete_input(X)
    gaps = ~observed.all(axis=1)
    first, question = model._distinct_questions(rows[gaps], observed[gaps])
    assert len(first) < gaps.sum()  # (the rows repeat questions: 20% of 6 binary entries)
    np.testing.assert_array_equal(
        H[gaps], model._gibbs_hidden_means(rows[gaps][first], observed[gaps][first])[question])
    complete = np.flatnonzero(~gaps)
    np.testing.assert_allclose(H[complete], model.transform(X[complete]), rtol=0, atol=1e-15)
    with pytest.raises(ValueError, match="NaN"):
        model.set_params(missing="error").transform(X)


@pytest.mark.parametrize("estimate", ["conditional_marginals", "transform"])
def test_rows_asking_the_same_question_share_one_estimate(estimate):
    # A Gibbs estimate is made once per distinct row (observed entries and
    # their values): copies of a row get the same answer, not each its own
    # chains' noise, and a row's answer does not depend on how many copies
    # of it (or of rows before it) the call holds.
    rng = np.random.default_rng(3)
    X = (rng.random((80, 6)) < 0.5).astype(float)
    # 15 hidden units: 2**15 states, past the exact method, so Gibbs.
    model = BernoulliRBM(n_components=15, n_iter=2, random_state=0, missing="impute").fit(X)
    a, b = X[0].copy(), X[1].copy()
    a[[0, 2]] = np.nan
    b[5] = np.nan
    distinct = np.vstack([a, b, np.full(6, np.nan)])
    copies = [0, 1, 0, 2, 2, 1]
    if estimate == "conditional_marginals":
        def answer(Q):
            return model.conditional_marginals(Q, method="gibbs", random_state=0)
    else:
        answer = model.transform
    np.testing.assert_array_equal(answer(distinct[copies]), answer(distinct)[copies])
    # Rows that differ only in a missing entry's placeholder are one question.
    c = a.copy()
    c[0] = -np.nan
    np.testing.assert_array_equal(answer(np.vstack([a, c, b])), answer(distinct[:2])[[0, 0, 1]])


def test_complete_float_input_skips_the_incomplete_rows_validation(monkeypatch):
    # transform and score_samples of a missing="impute" model read a complete
    # float array once (its sum) instead of validating a copy for gaps.
    rng = np.random.default_rng(1)
    X = (rng.random((50, 4)) < 0.5).astype(float)
    model = BernoulliRBM(n_components=3, n_iter=2, random_state=0, missing="impute").fit(X)
    expected = model.transform(X), model.score_samples(X)

    def refuse(*args):
        raise AssertionError("the incomplete rows' validation ran")

    monkeypatch.setattr(BernoulliRBM, "_incomplete_input", refuse)
    np.testing.assert_array_equal(model.transform(X), expected[0])
    np.testing.assert_array_equal(model.score_samples(X), expected[1])
    monkeypatch.undo()
    X[0, 0] = np.inf  # not finite, not a gap: refused by name
    for call in (model.transform, model.score_samples):
        with pytest.raises(ValueError, match="inf"):
            call(X)


def test_score_samples_says_which_rows_ais_left_without_a_standard_error():
    # Per-row AIS whose weights one run carries has no standard error (inf):
    # the warning read "largest standard error inf nats".
    rng = np.random.RandomState(0)
    X = (rng.rand(100, 40) < 0.5).astype(float)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = BernoulliRBM(n_components=30, n_iter=1, random_state=0, missing="impute").fit(X)
    model.components_ = rng.normal(0, 8.0, model.components_.shape)
    rows = X[:2].copy()
    rows[:, :36] = np.nan  # 2**36 missing states and 2**30 hidden ones: AIS per row
    result = model.observed_log_likelihood(rows)
    assert result.method.tolist() == ["ais", "ais"] and np.isinf(result.std_error).all()
    with pytest.warns(UserWarning, match=r"2 rows with gaps was estimated by AIS per row \(2 of "
                                         r"them with too few effective AIS runs for any "
                                         r"standard error \(inf\)\)"):
        model.score_samples(rows)


def test_auto_draws_exactly_where_that_is_no_dearer_than_the_chains():
    # conditional_sample: 2**H <= 6 n_steps H (14 hidden units at 200 steps;
    # at 50, 11 but not 12); sample: up to 14 hidden units, 15 run chains.
    from rbm import BernoulliRBM
    X = (np.random.default_rng(0).random((40, 6)) < 0.5).astype(float)
    gaps = X[:3].copy()
    gaps[:, 0] = np.nan
    for n_hidden, at_50, conditional, free in ((11, "exact", "exact", "exact"),
                                               (12, "gibbs", "exact", "exact"),
                                               (14, "gibbs", "exact", "exact"),
                                               (15, "gibbs", "gibbs", "gibbs")):
        model = BernoulliRBM(n_components=n_hidden, n_iter=1, random_state=0).fit(X)
        assert model._conditional_method("auto", gibbs_steps=50) == at_50
        assert model._conditional_method("auto", gibbs_steps=200) == conditional
        assert model._conditional_method("auto") == free
        for method in (conditional, free):  # each path draws what it says it draws
            assert model.conditional_sample(gaps, method=method, random_state=0).shape == (3, 6)
    assert model._conditional_method("auto", gibbs_steps=2**31 - 1) == "gibbs"  # (15 units)
    relu = BernoulliRBM(n_components=3, n_iter=1, hidden="relu", learning_rate=0.01,
                        random_state=0).fit(X)
    for call in (lambda: relu.sample(2, method="exact"),
                 lambda: relu.conditional_sample(gaps, method="exact")):
        with pytest.raises(ValueError, match="units are real-valued; use method='gibbs'"):
            call()
    with pytest.raises(ValueError, match="method must be 'auto', 'exact', 'gibbs' or 'tempered'"):
        relu.sample(2, method="exakt")


def test_exact_draws_refuse_rows_that_leave_no_finite_law():
    # 1e308 observed: log weights inf - inf, and the draws took the last
    # hidden state for every completion, silently.
    W, b, c, sigma = random_gaussian(4, 3, 5, 1.0)
    model = gaussian_model(W, b, c, sigma)
    with pytest.raises(ValueError, match=r"observed entries of 1 rows \(the first: row 1\) "
                                         "give no finite probability"):
        model.conditional_sample([[0.1, np.nan, 0.2, 0.3], [1e308, np.nan, np.nan, 0.5]],
                                 method="exact", random_state=0)


def test_transform_refuses_values_beyond_a_float32_models_range():
    # Validated in float64, then cast: 1e39 became inf and the features NaN.
    from rbm import GaussianBernoulliRBM
    X = np.random.default_rng(0).standard_normal((40, 4)).astype(np.float32)
    model = GaussianBernoulliRBM(n_components=3, n_iter=1, random_state=0,
                                 missing="impute").fit(X)
    with pytest.raises(ValueError, match="beyond the range of its float32 parameters"):
        model.transform(np.array([[1e39, np.nan, 0.0, 0.0]]))


def test_the_missing_terms_are_the_same_by_sparse_and_dense_sums():
    # Few gaps: a sparse product (its work grows with the gaps); many: BLAS's
    # dense one (the sparse one took 4.4 s against 1.4 s at half the entries
    # missing).  Either sums the same terms.
    from rbm._conditional import SPARSE_GAPS_SHARE, _missing_terms
    rng = np.random.default_rng(0)
    log_partitions = rng.standard_normal((64, 300))
    for share in (SPARSE_GAPS_SHARE / 4, 4 * SPARSE_GAPS_SHARE):
        missing = rng.random((50, 300)) < share
        for sparse in (True, False):
            np.testing.assert_allclose(_missing_terms(missing, log_partitions, sparse),
                                       missing.astype(float) @ log_partitions.T, rtol=1e-12,
                                       atol=1e-12)


def test_the_exact_pick_never_takes_a_state_of_weight_zero():
    # pick_by_cumulative serves every exact draw (density models and the
    # classifier): a target is the first cumulative sum above it; a target
    # that rounding puts at or past the total took the last state, which may
    # have weight 0 (a flat end of the sums).
    from rbm._conditional import pick_by_cumulative
    weights = np.array([0.0, 1.0, 0.0, 2.0, 0.0, 0.0])
    cumulative = np.cumsum(weights)
    targets = np.array([0.0, 0.5, 1.0, 2.9, 3.0, 3.0 + 1e-12])
    picked = pick_by_cumulative(cumulative, targets)
    np.testing.assert_array_equal(picked, [1, 1, 3, 3, 3, 3])
    assert np.all(weights[picked] > 0)


# --------------------------------------------------------------------------
# A row's Gibbs estimate is its own: alone, in any batch, in any order
# --------------------------------------------------------------------------


def assert_same_estimate(actual, desired):
    """The same chains' estimate, to the last bits that NumPy's products round
    differently by the size of the batch (a Monte Carlo difference, another
    chain, is 1e-3 or more)."""
    np.testing.assert_allclose(actual, desired, rtol=1e-12, atol=1e-15)


def _gappy_rows(model, n_rows, seed):
    rng = np.random.default_rng(seed)
    X = (rng.random((n_rows, model.n_features_in_)) < 0.5).astype(float)
    X[rng.random(X.shape) < 0.4] = np.nan
    X[:, 0] = np.nan  # every row has a gap
    return X


@pytest.mark.parametrize("n_chains", [16, 5, 20])
def test_a_rows_gibbs_marginals_do_not_depend_on_its_batch(n_chains):
    # Streams by position gave the k-th distinct row the k-th chain streams,
    # and its estimate moved with its batch-mates (an imputation 0.0747 in
    # a batch, 0.0728 alone).  Counts other than 16 run whole groups of 16.
    model = BernoulliRBM(n_components=20, n_iter=2, random_state=0).fit(
        (np.random.default_rng(0).random((80, 12)) < 0.5).astype(float))
    X = _gappy_rows(model, 9, seed=1)
    kwargs = dict(method="gibbs", n_chains=n_chains, burn_in=3, n_sweeps=4, random_state=7)
    batch = model.conditional_marginals(X, **kwargs)
    reverse = model.conditional_marginals(X[::-1], **kwargs)[::-1]
    others = model.conditional_marginals(np.vstack([_gappy_rows(model, 5, seed=2), X]),
                                         **kwargs)[5:]
    assert_same_estimate(batch, reverse)
    assert_same_estimate(batch, others)
    for i in (0, 4, 8):
        assert_same_estimate(batch[i : i + 1],
                                      model.conditional_marginals(X[i : i + 1], **kwargs))
    # The seed still decides: another gives other chains.
    assert not np.array_equal(batch, model.conditional_marginals(
        X, **{**kwargs, "random_state": 8}))
    # Rows of the same question share one estimate; different ones do not.
    assert not np.array_equal(batch[0], batch[1])


def test_a_rows_gibbs_features_and_imputation_do_not_depend_on_its_batch():
    model = BernoulliRBM(n_components=20, n_iter=2, missing="impute", random_state=0).fit(
        (np.random.default_rng(0).random((80, 12)) < 0.5).astype(float))
    X = _gappy_rows(model, 9, seed=3)
    features = model.transform(X)
    assert_same_estimate(features[::-1], model.transform(X[::-1]))
    assert_same_estimate(features[3:4], model.transform(X[3:4]))
    from rbm import GaussianBernoulliRBM, RBMImputer

    rng = np.random.default_rng(4)
    real = rng.standard_normal((60, 5))
    # (16 binary hidden units: past the exact sums, so chains estimate the fills.)
    imputer = RBMImputer(estimator=GaussianBernoulliRBM(n_components=16, n_iter=2),
                         random_state=0).fit(real)
    assert not imputer.estimator_._hidden_enumerable()
    gaps = real[:7].copy()
    gaps[rng.random(gaps.shape) < 0.4] = np.nan
    gaps[:, 0] = np.nan
    filled = imputer.transform(gaps)
    assert_same_estimate(filled[::-1], imputer.transform(gaps[::-1]))
    assert_same_estimate(filled[2:3], imputer.transform(gaps[2:3]))


def test_a_rows_ais_log_likelihood_given_gaps_does_not_depend_on_its_batch():
    # Per-row AIS (more missing entries than the exact sum takes, more hidden
    # units than enumerable) was seeded by the row's place: -6.36266 in a
    # batch, -6.36165 alone, and copies of a row differed.
    rng = np.random.default_rng(0)
    model = BernoulliRBM(n_components=16, n_iter=2, random_state=0).fit(
        (rng.random((60, 30)) < 0.5).astype(float))
    X = (rng.random((4, 30)) < 0.5).astype(float)
    X[:, :20] = np.nan
    X = np.vstack([X, X[1:2]])  # a copy of row 1
    kwargs = dict(n_chains=4, n_betas=20, random_state=3)
    batch = model.observed_log_likelihood(X, **kwargs)
    assert set(batch.method) == {"ais"}
    assert batch.log_p[4] == batch.log_p[1]
    for i in (0, 2, 3):
        alone = model.observed_log_likelihood(X[i : i + 1], **kwargs)
        assert_same_estimate(alone.log_p, batch.log_p[i : i + 1])
        assert_same_estimate(alone.std_error, batch.std_error[i : i + 1])
    reverse = model.observed_log_likelihood(X[::-1], **kwargs)
    assert_same_estimate(reverse.log_p[::-1], batch.log_p)
    assert not np.array_equal(
        batch.log_p, model.observed_log_likelihood(X, **{**kwargs, "random_state": 4}).log_p)
