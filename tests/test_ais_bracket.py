"""Reverse AIS and the bracket on log Z it gives with forward AIS.

Forward AIS estimates Z without bias, so its log errs low; reverse AIS from
exact samples of the model estimates 1 / Z without bias, so its log errs
high.  ``log_partition(method="ais", bracket=True)`` widens each side by a
Student's t margin for its sampling noise; the result should contain the
exact log Z at (at least) its confidence level.  Here 200 random tiny models
of the three visible types (6 to 10 visible units, 4 to 7 hidden units,
weights of scale 0.5, 1 and 2, so that AIS with 100 temperatures is far from
exact: brackets are tenths of a nat to tens of nats wide) are checked
against exact enumeration, and the widths against more temperatures.
"""

import pickle

import numpy as np
import pytest
from scipy import stats

from rbm import BernoulliRBM
from rbm._partition import LogPartitionEstimate, exact_model_samples

from exact_reference import (ALPHA, FAMILIES, all_states, chisquare_p_value,
                             chisquare_power)
from test_gaussian_exact import gaussian_hidden_marginal, gaussian_model, random_gaussian

N_MODELS = 200
SCALES = (0.5, 1.0, 2.0)
N_CHAINS = 100
FEW_BETAS, MANY_BETAS = 100, 1000
#: The models whose widths are compared at FEW_BETAS and MANY_BETAS.
WIDTH_MODELS = range(0, N_MODELS, 5)


def random_model(i):
    """(type name, fitted estimator with random parameters) of model i."""
    kind, scale = i % 3, SCALES[(i // 3) % 3]
    n_visible, n_hidden = 6 + i % 5, 4 + i % 4
    if kind == 2:
        return "gaussian", gaussian_model(*random_gaussian(n_visible, n_hidden, 5000 + i, scale))
    family = FAMILIES[kind]
    W, b, c = family.random_params(n_visible, n_hidden, 5000 + i, scale)
    return family.name, family.model(W, b, c)


@pytest.fixture(scope="module")
def models():
    return [random_model(i) for i in range(N_MODELS)]


def brackets(models, indices, n_betas):
    """(exact log Z, bracket estimate) of the models at ``indices``."""
    out = []
    for i in indices:
        model = models[i][1]
        estimate = model.log_partition("ais", n_chains=N_CHAINS, n_betas=n_betas,
                                       random_state=i, bracket=True, reverse_start="exact")
        out.append((model.log_partition("exact").log_z, estimate))
    return out


def covered(results, interval):
    """How many exact values lie in ``interval(estimate)``."""
    return sum(lower <= exact <= upper
               for exact, (lower, upper) in ((e, interval(est)) for e, est in results))


def fewest_covered(n_models, confidence):
    """Fewest of n_models that a bracket of this confidence covers, except
    with probability ALPHA: models are independent, so the count of covered
    ones is at least Binomial(n_models, confidence)."""
    return int(stats.binom.ppf(ALPHA, n_models, confidence))


def test_bracket_contains_exact_log_z_in_random_models(models):
    """The 99% bracket (``lower``, ``upper``) covers the exact log Z in at
    least 95% of 200 models, and each confidence level at its binomial rate.

    Why the rates hold: each side misses only when its estimate errs against
    its bias (forward high, reverse low) by more than its t margin, which
    the sampling noise does with probability (1 - confidence) / 2 to the
    accuracy of the t approximation; the bias only helps.  With 200
    independent models a 99% bracket covers at least ``fewest_covered``
    (192) except with probability ALPHA, which implies the 95% of the
    issue (190); a 95% bracket at least 179.  Power: the estimates without
    their margins (forward and reverse log Z as the bracket) cover only
    about 40% (77 of 200 here) and fail the bound.
    """
    results = brackets(models, range(N_MODELS), FEW_BETAS)
    n_types = {name for name, _ in models}
    assert n_types == {"bernoulli", "categorical", "gaussian"}
    # Far from exact: the brackets are half a nat wide (median), up to tens of nats.
    widths = np.array([est.upper - est.lower for _, est in results])
    assert np.median(widths) > 0.1 and widths.max() > 5

    n_99 = covered(results, lambda est: (est.lower, est.upper))
    assert all(est.confidence == 0.99 for _, est in results)
    assert n_99 >= fewest_covered(N_MODELS, 0.99) >= 0.95 * N_MODELS, n_99
    n_95 = covered(results, lambda est: est.interval(0.95))
    assert n_95 >= fewest_covered(N_MODELS, 0.95), n_95

    n_raw = covered(results, lambda est: (est.log_z, est.reverse_log_z))
    assert n_raw < fewest_covered(N_MODELS, 0.95), n_raw


def test_bracket_narrows_with_more_temperatures(models):
    """Ten times the temperatures at least halve the median width, and the
    wider-path brackets still cover at their rate.

    Why: with K temperatures the variance of the log weights and the gap
    between the two directions' means (their KL divergences) fall like 1/K
    once the path is fine, so the margins fall like 1 / sqrt(K) and the
    width by about sqrt(10) = 3.2 for ten times K; halving leaves room for
    models still far from that regime.
    """
    few = brackets(models, WIDTH_MODELS, FEW_BETAS)
    many = brackets(models, WIDTH_MODELS, MANY_BETAS)
    width_few = np.array([est.upper - est.lower for _, est in few])
    width_many = np.array([est.upper - est.lower for _, est in many])
    assert np.median(width_many) < 0.5 * np.median(width_few)
    assert np.mean(width_many < width_few) > 0.9
    n_covered = covered(many, lambda est: (est.lower, est.upper))
    assert n_covered >= fewest_covered(len(WIDTH_MODELS), 0.99)


# --------------------------------------------------------------------------
# Exact samples, the reverse chains' start
# --------------------------------------------------------------------------


@pytest.mark.parametrize("family", FAMILIES, ids=lambda f: f.name)
@pytest.mark.parametrize("shape", [(4, 6), (7, 3)], ids=["enumerate-visible", "enumerate-hidden"])
def test_exact_model_samples_follow_the_visible_marginal(family, shape):
    """Draws pass a chi-square test against the exact p(v) and reject a model
    with one weight moved by 0.5 (power at least 0.999 by the non-central
    chi-square), whichever layer the enumeration sums over."""
    n_visible, n_hidden = shape
    if family.name == "categorical":
        n_visible = family.tiny_n_visible
    W, b, c = family.random_params(n_visible, n_hidden, 21, 1.0)
    model = family.model(W, b, c)
    n = 20000
    S = exact_model_samples(W, b, c, model._visible_unit, model._hidden_unit, n,
                            np.random.default_rng(5))
    counts = np.bincount(family.visible_index(S), minlength=family.n_states(n_visible))
    p = family.visible_marginal(W, b, c)
    moved = W.copy()
    moved[0, 0] += 0.5
    q = family.visible_marginal(moved, b, c)
    assert chisquare_power(n, *pooled(p, q, n)[::-1]) > 0.999
    assert chisquare_p_value(*pooled(counts, p, n)) > ALPHA
    assert chisquare_p_value(*pooled(counts, q, n)) < ALPHA


def pooled(values, p, n):
    """(values, p) with the cells whose expected count n p is under 5 merged
    into one cell, for the chi-square approximation."""
    rare = n * np.asarray(p) < 5
    if not rare.any():
        return values, p
    return (np.append(values[~rare], values[rare].sum()), np.append(p[~rare], p[rare].sum()))


def test_exact_model_samples_gaussian_moments():
    """Gaussian draws: the mean of v matches the exact mixture mean
    b + E[h] W within a chi-square test of level ALPHA on the standardised
    errors (per-coordinate variance sigma^2 + Var((h W)_i))."""
    n_visible, n_hidden = 4, 5
    W, b, c, sigma = random_gaussian(n_visible, n_hidden, 8, 1.0)
    model = gaussian_model(W, b, c, sigma)
    n = 20000
    S = exact_model_samples(W, b, c, model._visible_unit, model._hidden_unit, n,
                            np.random.default_rng(6))
    V = S * sigma ** 2
    H, p_h = all_states(n_hidden), gaussian_hidden_marginal(W, b, c, sigma)
    mixture_mean = p_h @ (H @ W)
    variance = sigma ** 2 + p_h @ (H @ W - mixture_mean) ** 2
    z = (V.mean(axis=0) - (b + mixture_mean)) / np.sqrt(variance / n)
    assert np.sum(z ** 2) < stats.chi2.isf(ALPHA, n_visible)
    # The same statistic rejects a mean shifted by a fifth of a unit.
    z_shifted = z + 0.2 / np.sqrt(variance / n)
    assert np.sum(z_shifted ** 2) > stats.chi2.isf(ALPHA, n_visible)


# --------------------------------------------------------------------------
# The API
# --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tiny():
    return random_model(1)[1]  # categorical


def test_estimate_unpacks_as_log_z_and_std_error(tiny):
    plain = tiny.log_partition("ais", n_betas=300, random_state=3)
    bracketed = tiny.log_partition("ais", n_betas=300, random_state=3, bracket=True)
    log_z, std_error = bracketed
    # Asking for the bracket does not change the forward estimate.
    assert (log_z, std_error) == tuple(plain) == (plain.log_z, plain.std_error)
    assert plain.upper == np.inf and plain.reverse_log_z is None
    assert bracketed.method == "ais" and bracketed.reverse_start == "exact"
    assert bracketed.n_chains == 100 and bracketed.n_betas == 300
    assert bracketed.lower < log_z and bracketed.upper > bracketed.reverse_log_z
    assert "bracket" in bracketed.label and "AIS" in plain.label
    lower95, upper95 = bracketed.interval(0.95)
    assert bracketed.lower < lower95 < upper95 < bracketed.upper
    copy = pickle.loads(pickle.dumps(bracketed))
    assert isinstance(copy, LogPartitionEstimate)
    assert (copy.lower, copy.upper, copy.label) == (bracketed.lower, bracketed.upper,
                                                   bracketed.label)


def test_exact_estimate_is_its_own_bracket(tiny):
    exact = tiny.log_partition("exact", bracket=True)
    assert exact.method == "exact" and exact.label == "exact"
    assert exact.std_error == 0.0 and exact.lower == exact.upper == exact.log_z


def test_reverse_start_from_given_samples(tiny):
    """Exact model samples given in the user's form start the reverse chains;
    the bracket at 1 - ALPHA contains the exact log Z."""
    S = exact_model_samples(*tiny._float64_parameters(), tiny._visible_unit,
                            tiny._hidden_unit, 60, np.random.default_rng(9))
    X = FAMILIES[1].input(S)
    estimate = tiny.log_partition("ais", n_betas=1000, random_state=4, bracket=True,
                                  reverse_start=X)
    assert estimate.reverse_start == "samples" and estimate.reverse_n_chains == 60
    lower, upper = estimate.interval(1 - ALPHA)
    assert lower <= tiny.log_partition("exact").log_z <= upper


@pytest.mark.parametrize("index", [0, 1, 2], ids=["bernoulli", "categorical", "gaussian"])
def test_reverse_start_from_chains_runs_for_every_type(index):
    model = random_model(index + 3)[1]
    estimate = model.log_partition("ais", n_betas=200, random_state=0, bracket=True,
                                   reverse_start="chains")
    assert estimate.reverse_start == "chains"
    assert np.isfinite([estimate.reverse_log_z, estimate.reverse_std_error]).all()


def test_bracket_does_not_depend_on_threads(tiny):
    one = tiny.log_partition("ais", n_betas=200, random_state=7, bracket=True)
    tiny.set_params(n_jobs=2)
    try:
        two = tiny.log_partition("ais", n_betas=200, random_state=7, bracket=True)
    finally:
        tiny.set_params(n_jobs=1)
    assert (one.lower, one.upper) == (two.lower, two.upper)


def test_bad_bracket_arguments_are_refused(tiny):
    with pytest.raises(ValueError, match="bracket must be True or False"):
        tiny.log_partition("ais", bracket="yes")
    with pytest.raises(ValueError, match="reverse_start must be"):
        tiny.log_partition("ais", bracket=True, reverse_start="data")
    with pytest.raises(ValueError, match="at least 2 samples"):
        tiny.log_partition("ais", bracket=True, reverse_start=FAMILIES[1].input(
            np.eye(tiny.components_.shape[1])[:1]))
    with pytest.raises(ValueError, match="confidence must be in"):
        tiny.log_partition("ais", n_betas=100, random_state=0).interval(1.0)


def test_exact_reverse_start_refused_for_a_large_model():
    X = np.random.default_rng(0).integers(0, 2, (20, 40)).astype(float)
    model = BernoulliRBM(n_components=40, n_iter=1, random_state=0).fit(X)
    with pytest.raises(ValueError, match="reverse_start='chains'"):
        model.log_partition("ais", n_betas=10, bracket=True, reverse_start="exact")


# --------------------------------------------------------------------------
# The label: how score's log Z was obtained
# --------------------------------------------------------------------------


def test_log_partition_label_of_a_small_model():
    model = random_model(4)[1]  # categorical
    assert model.log_partition_method_ == "exact"
    S = exact_model_samples(*model._float64_parameters(), model._visible_unit,
                            model._hidden_unit, 3, np.random.default_rng(0))
    model.score(FAMILIES[1].input(S))
    label = model.log_partition_
    assert label.method == "exact" and label.log_z == model.log_partition("exact").log_z
    # New parameters forget it.
    model.components_ = model.components_ + 0.1
    assert model.log_partition_ is None


def test_log_partition_label_of_a_large_model():
    """Where score runs AIS, the label says so with its standard error, and a
    bracket computed with the default settings joins it."""
    # The smallest square model whose enumeration (2**26 states) costs more
    # than method="auto" allows.
    X = np.random.default_rng(0).integers(0, 2, (20, 26)).astype(float)
    model = BernoulliRBM(n_components=26, n_iter=1, random_state=0).fit(X)
    assert model.log_partition_method_ == "ais"
    assert model.log_partition_ is None
    score = model.score(X)
    label = model.log_partition_
    assert label.method == "ais" and label.std_error > 0 and label.upper == np.inf
    assert score == pytest.approx(-model.free_energy(X).mean() - label.log_z)
    model.log_partition(bracket=True)
    label = model.log_partition_
    assert label.reverse_start == "chains" and np.isfinite(label.upper)
    assert model.score(X) == score
