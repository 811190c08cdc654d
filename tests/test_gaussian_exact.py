"""GaussianBernoulliRBM's samplers and AIS against exact hidden-layer answers.

The Gaussian visible layer cannot be enumerated, so it is not in
``exact_reference.FAMILIES``; its hidden layer can.  Integrating v out of
exp(-E(v, h)) (completing the square) gives, with a = h @ W,

    log p~(h) = c.h + sum_i (a_i**2 + 2 a_i b_i) / (2 sigma_i**2) + sum_i log(sqrt(2 pi) sigma_i),

so p(h) and log Z are exact sums over the 2**n_hidden hidden states, and
p(v) is the mixture of N(b + h @ W, diag(sigma**2)) with weights p(h), from
which exact independent draws are cheap.  The chains below start at exact
draws of the stationary law, so no burn-in or mixing bound is needed: a
correct sampler keeps the law exactly, after any number of steps.

Power: each goodness-of-fit test at level ALPHA is shown to have power at
least MIN_POWER against the model with one weight moved by DELTA (computed
from the non-central chi-square), the same draws are shown to reject that
model's p(h), and a broken kernel (which sees the moved weight, so its chains
drift towards the other law) is rejected with the same seeds.
"""

import numpy as np
import pytest
from scipy import stats
from scipy.special import expit, logsumexp

from rbm import GaussianBernoulliRBM
from rbm import _gibbs

from exact_reference import (
    kernel_params,
    kernel_visible,
    ALPHA,
    MIN_POWER,
    all_states,
    chisquare_p_value,
    chisquare_power,
    state_index,
)
from test_log_partition import ais_ensemble_checks

N_VISIBLE, N_HIDDEN = 3, 3
N_SAMPLES = 20000
DELTA = 0.5

dtype_cases = pytest.mark.parametrize("dtype", [np.float64, np.float32],
                                      ids=["float64", "float32"])


def gaussian_log_hidden_weights(W, b, c, sigma):
    """log p~(h) for every h of ``all_states``: the visible layer integrated out."""
    H = all_states(W.shape[0])
    A = H @ W
    return (H @ c + ((A * A + 2 * A * b) / (2 * sigma**2)).sum(axis=1)
            + np.log(np.sqrt(2 * np.pi) * sigma).sum())


def gaussian_hidden_marginal(W, b, c, sigma):
    lw = gaussian_log_hidden_weights(W, b, c, sigma)
    return np.exp(lw - logsumexp(lw))


def random_gaussian(n_visible, n_hidden, seed, scale, dtype=np.float64):
    """(W, b, c, sigma) drawn at random, rounded to dtype (what the kernel sees)."""
    rng = np.random.default_rng(seed)
    params = (scale * rng.standard_normal((n_hidden, n_visible)),
              rng.standard_normal(n_visible), 0.5 * rng.standard_normal(n_hidden),
              rng.uniform(0.6, 1.4, n_visible))
    return tuple(np.asarray(a, dtype=dtype).astype(np.float64) for a in params)


def gaussian_model(W, b, c, sigma, dtype=np.float64, **kwargs):
    """A fitted GaussianBernoulliRBM whose parameters are then set to (W, b, c, sigma)."""
    n_hidden, n_visible = W.shape
    X = np.random.default_rng(0).standard_normal((20, n_visible)).astype(dtype)
    params = dict(n_components=n_hidden, n_iter=1, random_state=0, n_jobs=1)
    params.update(kwargs)
    model = GaussianBernoulliRBM(**params).fit(X)
    model.components_ = np.array(W, dtype=dtype)
    model.intercept_visible_ = np.array(b, dtype=dtype)
    model.intercept_hidden_ = np.array(c, dtype=dtype)
    # sigma within its bounds, so the kernel's clipping never touches it
    state = model._visible_unit.state
    state[_gibbs.GAUSSIAN_SIGMA] = sigma
    state[_gibbs.GAUSSIAN_SIGMA_MIN] = 0.01
    state[_gibbs.GAUSSIAN_SIGMA_MAX] = 10.0
    assert np.array_equal(model.sigma_.astype(np.float64), sigma)
    return model


def exact_draws(W, b, c, sigma, n, rng):
    """n independent draws (v, h) of the model's exact joint: h ~ p(h), v | h Gaussian."""
    H = all_states(W.shape[0])[rng.choice(2 ** W.shape[0], size=n,
                                          p=gaussian_hidden_marginal(W, b, c, sigma))]
    return b + H @ W + sigma * rng.standard_normal((n, W.shape[1])), H


def perturbed(W):
    W = W.copy()
    W[0, 0] += DELTA
    return W


def assert_fits_with_power(counts, p, q):
    """Counts fit p at level ALPHA; against q (the perturbed model) the test has
    power >= MIN_POWER, and these very counts reject q."""
    assert chisquare_p_value(counts, p) > ALPHA
    assert chisquare_power(counts.sum(), p, q) >= MIN_POWER
    assert chisquare_p_value(counts, q) < ALPHA


def test_hidden_marginal_is_the_mixture_weight_and_log_z_is_exact():
    # The closed form against the estimator's exact log Z and free energy:
    # log Z = logsumexp of the hidden weights, and p(v) integrates to 1 in
    # the sense that log p(v) = -F(v) - log Z is the mixture's log density.
    W, b, c, sigma = random_gaussian(N_VISIBLE, N_HIDDEN, 3, 1.0)
    model = gaussian_model(W, b, c, sigma)
    log_z = logsumexp(gaussian_log_hidden_weights(W, b, c, sigma))
    assert model.log_partition(method="exact")[0] == pytest.approx(log_z, abs=1e-10)
    V = np.random.default_rng(1).standard_normal((5, N_VISIBLE))
    p_h = gaussian_hidden_marginal(W, b, c, sigma)
    means = b + all_states(N_HIDDEN) @ W
    mixture = np.log(np.array([
        p_h @ stats.multivariate_normal(mean=np.zeros(N_VISIBLE),
                                        cov=np.diag(sigma**2)).pdf(v - means)
        for v in V]))
    np.testing.assert_allclose(model.score_samples(V), mixture, rtol=0, atol=1e-10)


@dtype_cases
@pytest.mark.parametrize("n_threads", [1, 2])
def test_gibbs_chains_kernel_keeps_the_exact_joint(dtype, n_threads):
    # Start N chains at exact draws of p(v); after n steps the kernel
    # returns H ~ p(h | v_{n-1}) ~ p(h) and V ~ p(v | H): H follows p(h)
    # exactly, and (V - b - H W) / sigma is N(0, I) exactly.
    W, b, c, sigma = random_gaussian(N_VISIBLE, N_HIDDEN, 11, 1.0, dtype)
    p = gaussian_hidden_marginal(W, b, c, sigma)
    q = gaussian_hidden_marginal(perturbed(W), b, c, sigma)
    V0, _ = exact_draws(W, b, c, sigma, N_SAMPLES, np.random.default_rng(5))
    def run(weights, n_steps):
        model = gaussian_model(weights, b, c, sigma, dtype)
        layer = model._visible_unit
        S = layer.to_kernel(V0.astype(dtype))
        H = np.empty((N_SAMPLES, N_HIDDEN), dtype=dtype)
        P = np.empty_like(H)
        seeds = np.random.SeedSequence(42).spawn(_gibbs.n_streams_for(N_SAMPLES))
        state = layer.state
        _gibbs.gibbs_chains(kernel_params(weights.astype(dtype), b.astype(dtype),
                                          c.astype(dtype)),
                            kernel_visible(_gibbs.VISIBLE_GAUSSIAN, state=state), S, H, P,
                            n_steps, [np.random.SFC64(s) for s in seeds], n_threads)
        return layer.from_kernel(S).astype(np.float64), H, P

    # With 2 threads every layer update runs on the thread team.
    with _gibbs.kernel_settings(parallel_threshold=0 if n_threads > 1 else None):
        V, H, P = run(W, 3)
        broken_H = run(perturbed(W), 20)[1]
    assert set(np.unique(H)) <= {0.0, 1.0}
    counts = np.bincount(state_index(H), minlength=2 ** N_HIDDEN)
    assert_fits_with_power(counts, p, q)
    assert chisquare_p_value(np.bincount(state_index(broken_H), minlength=2 ** N_HIDDEN),
                             p) < ALPHA
    # V given H: standardised residuals are N(0, 1), independent across units.
    Z = (V - b - H @ W) / sigma
    assert stats.kstest(Z.ravel(), "norm").pvalue > ALPHA
    # The KS test sees a 5% error in sigma (its power at this size).
    assert stats.kstest(Z.ravel() / 1.05, "norm").pvalue < ALPHA
    tol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(P, expit((V / sigma**2) @ W.T + c), atol=tol, rtol=0)


#: A learning rate that changes nothing (see test_samplers.ZERO_LEARNING_RATE).
ZERO_LEARNING_RATE = 1e-300


@dtype_cases
@pytest.mark.parametrize("method", ["pcd", "pt"])
def test_training_chains_keep_the_exact_hidden_marginal(dtype, method):
    # Persistent chains started at exact draws of p(h) (for PT, block 0;
    # block 1, at beta = 0, has W, c scaled to 0, so its hidden units are
    # independent fair coins) and trained with a zero learning rate stay at
    # the stationary law: after one partial_fit call of k steps block 0's
    # hidden states are N independent draws of p(h).
    W, b, c, sigma = random_gaussian(N_VISIBLE, N_HIDDEN, 11, 1.0, dtype)
    p = gaussian_hidden_marginal(W, b, c, sigma)
    q = gaussian_hidden_marginal(perturbed(W), b, c, sigma)
    rng = np.random.default_rng(7)
    _, H0 = exact_draws(W, b, c, sigma, N_SAMPLES, rng)
    if method == "pt":
        H0 = np.vstack([H0, (rng.random((N_SAMPLES, N_HIDDEN)) < 0.5).astype(np.float64)])
    X = np.random.default_rng(0).standard_normal((20, N_VISIBLE)).astype(dtype)

    def run(weights, k):
        model = gaussian_model(weights, b, c, sigma, dtype, method=method, k=k,
                               n_chains=N_SAMPLES, n_temperatures=2, batch_size=len(X),
                               learning_rate=ZERO_LEARNING_RATE)
        model.h_samples_ = H0.astype(dtype)
        before = [a.copy() for a in (model.components_, model.intercept_visible_,
                                     model.intercept_hidden_, model.sigma_)]
        model.partial_fit(X)
        for old, new in zip(before, (model.components_, model.intercept_visible_,
                                     model.intercept_hidden_, model.sigma_)):
            assert np.array_equal(old, new)  # the learning rate really was zero
        if method == "pt":
            assert 0 < model.swap_rates_[0] < 1
        return model.h_samples_[:N_SAMPLES]

    H = run(W, 3)
    counts = np.bincount(state_index(H), minlength=2 ** N_HIDDEN)
    assert_fits_with_power(counts, p, q)
    # The broken sampler (the perturbed model's dynamics) drifts away from p.
    broken = np.bincount(state_index(run(perturbed(W), 20)), minlength=2 ** N_HIDDEN)
    assert chisquare_p_value(broken, p) < ALPHA


def test_ais_errors_match_their_standard_errors():
    """AIS log Z of 20 random Gaussian models against the exact closed form,
    with the ensemble checks of test_log_partition (coverage at 2 and 3 SE,
    unbiasedness on the Z scale, standard errors not inflated), and their power
    against halved standard errors and estimates shifted by two SE."""
    errors, std_errors = [], []
    for i in range(20):
        n_hidden = 10 + i % 5
        W, b, c, sigma = random_gaussian(8, n_hidden, 2000 + i, (0.1, 0.3, 0.6)[i % 3])
        model = gaussian_model(W, b, c, sigma)
        exact = logsumexp(gaussian_log_hidden_weights(W, b, c, sigma))
        assert model.log_partition("exact")[0] == pytest.approx(exact, abs=1e-9)
        estimate, std_error = model.log_partition("ais", n_chains=100, n_betas=1000,
                                                  random_state=i)
        errors.append(estimate - exact)
        std_errors.append(std_error)
    errors, std_errors = np.array(errors), np.array(std_errors)
    assert np.all(std_errors > 0) and np.all(np.isfinite(errors))
    # The models span easy and hard: standard errors differ several-fold.
    assert std_errors.max() > 3 * std_errors.min()
    checks = ais_ensemble_checks(errors, std_errors)
    assert all(checks.values()), (checks, errors, std_errors)
    assert not ais_ensemble_checks(errors, std_errors / 2)["within 2 SE"]
    # Power against bias: shifting every estimate by 2 SE moves the Z-scale
    # statistic by about 2 sqrt(20) = 8.9 past its N(0, 1) value, far over
    # the 3.3 threshold.  (A 1 SE shift moves it by only 4.5, which a draw
    # of the statistic below -1.2, 12% likely, would hide.)
    assert not ais_ensemble_checks(errors + 2 * std_errors, std_errors)["Z unbiased"]
