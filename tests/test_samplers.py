"""Samplers and gradients against the exact distributions of tiny models.

Every block-Gibbs path of the library is checked against the exact answer
computed by enumeration (``exact_reference``): the kernel's ``gibbs_chains``,
the estimator's ``sample`` and ``gibbs``, the persistent chains as training
advances them, and the CD-k / PCD-k parameter updates, in float32 and float64,
on one thread and on the thread team.

Each test is a goodness-of-fit test at level ``ALPHA`` with a fixed seed, and
each also shows its power: the same experiment with the same seed, run on a
deliberately broken sampler (the kernel sees one weight moved by ``DELTA``),
must be rejected, after the power of the test against that alternative is
computed from the non-central chi-square distribution and asserted to be at
least ``MIN_POWER``.  Where consecutive draws of a chain are used, the
thinning that makes them effectively independent is derived from the
chain's spectral gap (``chain_chi2_bound``).

A new model type joins every test here through ``exact_reference.FAMILIES``
(BernoulliRBM and CategoricalRBM; estimator-level tests in the float types
the estimator computes in); a new training method through the ``METHODS``
table of the gradient test and the training-chain test's ``method``
parameter (parallel tempering is in both: its beta = 1 block, with mixing
bounds from ``ModelFamily.pt_chi2_bound``).  Where a model mixes slowly the
number of Gibbs steps is the fewest that satisfies the bound
(``first_steps``), never a looser threshold.
"""

import numpy as np
import pytest
from scipy.special import expit

from rbm import _gibbs
from rbm._state import pt_betas

from exact_reference import (
    kernel_params,
    ALPHA,
    all_states,
    FAMILIES,
    MIN_POWER,
    chisquare_p_value,
    chisquare_power,
    hidden_conditional,
    mahalanobis_power,
    mahalanobis_test,
    state_index,
)

#: The tiny model: 3 hidden units and ``family.tiny_n_visible`` visible
#: columns (4 binary units; categorical features of 2, 3 and 2 categories),
#: moderately coupled, so that every visible state keeps a probability that
#: gives N = 20000 draws expected counts >= 5 (``chisquare_p_value`` asserts it).
N_HIDDEN, SEED, SCALE = 3, 11, 1.0
N_SAMPLES = 20000
#: Temperatures of the tempered draws' tests (the model's own and two hotter).
TEMPERATURES = 3
#: The broken sampler's error: one weight moved by this much.
DELTA = 0.5

family_cases = pytest.mark.parametrize("family", FAMILIES, ids=lambda f: f.name)
dtype_cases = pytest.mark.parametrize("dtype", [np.float64, np.float32],
                                      ids=["float64", "float32"])
#: Estimator-level cases: each family in the float types its estimator
#: computes in (CategoricalRBM one-hot codes its input in float64 only; the
#: kernel tests run it in float32 too).
estimator_cases = pytest.mark.parametrize(
    "family, dtype",
    [(f, d) for f in FAMILIES for d in f.estimator_dtypes],
    ids=[f"{f.name}-{np.dtype(d).name}" for f in FAMILIES for d in f.estimator_dtypes],
)


@pytest.fixture(params=[1, 2], ids=["1-thread", "2-threads"])
def n_threads(request):
    """Threads for the kernel; with 2, every layer update runs on the thread team."""
    if request.param == 1:
        yield 1
        return
    with _gibbs.kernel_settings(parallel_threshold=0):
        yield request.param


def tiny_params(family, dtype, scale=SCALE):
    """The tiny model's parameters, rounded to ``dtype`` (the reference uses
    exactly what the kernel sees)."""
    W, b, c = family.random_params(family.tiny_n_visible, N_HIDDEN, SEED, scale)
    return tuple(np.asarray(a, dtype=dtype).astype(np.float64) for a in (W, b, c))


def perturbed(family, W):
    """W with its first weight moved by DELTA: the broken sampler's model.

    For categorical units the move stays in the zero-sum gauge (W[0, 1] moves
    by -DELTA too), so the kernel's gauge projection leaves it as it is.
    """
    return W + family.perturbation(W.shape, DELTA)


def break_kernel(monkeypatch, name, model, family):
    """Make ``rbm._gibbs.<name>`` see ``perturbed(family, components_)`` on every call.

    A test-only broken sampler: the estimator's own parameters are restored
    after each call (for training, the kernel's update is kept on top).
    """
    original = getattr(_gibbs, name)
    D = family.perturbation(model.components_.shape, DELTA).astype(model.components_.dtype)

    def broken(*args, **kwargs):
        model.components_ += D
        try:
            return original(*args, **kwargs)
        finally:
            model.components_ -= D

    monkeypatch.setattr(_gibbs, name, broken)


def first_steps(k_min, holds, k_max=400):
    """The fewest steps k >= k_min for which the mixing bound ``holds(k)``
    (tested for Gibbs steps derived from each model's spectral gap, so a
    slowly mixing model gets the steps it needs, never a looser threshold)."""
    k = next((k for k in range(k_min, k_max + 1) if holds(k)), None)
    assert k is not None, f"no k <= {k_max} satisfies the mixing bound"
    return k


def assert_fits_and_rejects_broken(counts, broken_counts, p, q):
    """Counts fit p at level ALPHA; counts of the broken sampler (which follows q)
    are rejected, and the test had power >= MIN_POWER against q."""
    assert chisquare_p_value(counts, p) > ALPHA
    assert chisquare_power(counts.sum(), p, q) >= MIN_POWER
    assert chisquare_p_value(broken_counts, p) < ALPHA


# --------------------------------------------------------------------------
# The kernel's gibbs_chains: the joint of (v, h)
# --------------------------------------------------------------------------


def kernel_chains(family, W, b, c, dtype, start_law, n_steps, n_threads):
    """(V, H, P) after gibbs_chains from N_CHAINS visible states drawn from
    ``start_law`` (over ``family.visible_states``), seeds fixed."""
    rng = np.random.default_rng(5)
    states = family.visible_states(W.shape[1])
    V = np.ascontiguousarray(states[rng.choice(len(states), size=N_CHAINS, p=start_law)],
                             dtype=dtype)
    H = np.empty((N_CHAINS, W.shape[0]), dtype=dtype)
    P = np.empty_like(H)
    seeds = np.random.SeedSequence(42).spawn(_gibbs.n_streams_for(N_CHAINS))
    _gibbs.gibbs_chains(
        kernel_params(W.astype(dtype), b.astype(dtype), c.astype(dtype)),
        family.kernel_visible(W.shape[1]), V, H, P, n_steps,
        [np.random.SFC64(s) for s in seeds], n_threads,
    )
    return V, H, P


def joint_after_steps(family, W, b, c, start_law, n_steps):
    """Exact law of (V, H) returned by gibbs_chains after n_steps from start_law.

    V_{n-1} follows start_law T^(n-1); then H ~ p(h | V_{n-1}) and V ~ p(v | H).
    """
    before_last = start_law @ np.linalg.matrix_power(family.visible_transition(W, b, c),
                                                     n_steps - 1)
    states = family.visible_states(W.shape[1])
    hidden_law = before_last @ hidden_conditional(states, W, c)
    v_given_h = family.visible_conditional(all_states(W.shape[0]), W, b)
    return (hidden_law[:, None] * v_given_h).T  # (visible state, hidden state)


N_CHAINS = 40000


@family_cases
@dtype_cases
def test_gibbs_chains_kernel_matches_exact_joint(family, dtype, n_threads):
    # Chains started from exact draws of p(v) stay at p: after n steps the
    # kernel returns V ~ p(v | H) with H ~ p(h | v_{n-1}), v_{n-1} ~ p(v), so
    # (V, H) ~ p(v, h), the exact joint over 16 x 8 = 128 states, with no
    # burn-in to account for.  The broken kernel moves the same start by its
    # own transitions; its law after n steps is computed exactly for the
    # power.  Weaker couplings (scale 0.7) keep every expected count >= 5.
    W, b, c = tiny_params(family, dtype, scale=0.7)
    n_steps = 3
    p = family.visible_marginal(W, b, c)
    joint = family.joint(W, b, c)
    np.testing.assert_allclose(joint_after_steps(family, W, b, c, p, n_steps), joint,
                               rtol=1e-12, atol=0)

    def joint_counts(V, H):
        cells = family.visible_index(V) * 2 ** N_HIDDEN + state_index(H)
        return np.bincount(cells, minlength=joint.size)

    V, H, P = kernel_chains(family, W, b, c, dtype, p, n_steps, n_threads)
    assert set(np.unique(H)) <= {0.0, 1.0}
    # P is p(h = 1 | final V), to the precision of the dtype.
    tol = 1e-6 if dtype == np.float32 else 1e-13
    np.testing.assert_allclose(P, expit(V.astype(np.float64) @ W.T + c), atol=tol, rtol=0)

    broken = kernel_chains(family, perturbed(family, W), b, c, dtype, p, n_steps, n_threads)
    assert_fits_and_rejects_broken(
        joint_counts(V, H), joint_counts(*broken[:2]), joint.ravel(),
        joint_after_steps(family, perturbed(family, W), b, c, p, n_steps).ravel(),
    )


# --------------------------------------------------------------------------
# The estimator's sample and gibbs
# --------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["gibbs", "exact", "tempered"])
@estimator_cases
def test_sample_matches_exact_visible_marginal(family, dtype, n_threads, monkeypatch, method):
    # "gibbs": each sample is the state of its own chain after n_steps steps
    # from the data marginals (independent chains).  The residual bias after
    # n_steps moves the Pearson statistic by about N * chi^2(p_n || p) < 1e-3,
    # for the model and for the broken sampler's model alike.  "exact": each
    # sample is h from p(h) by enumeration, then v | h; its broken sampler is
    # the perturbed model itself.
    # n_steps: the first from 12 on where the bound holds (12 for Bernoulli;
    # the categorical model mixes more slowly).  "tempered": the coldest of
    # TEMPERATURES chains per sample, its bound over the whole ladder
    # (``tempered_sample_chi2_bound``); its broken sampler, the perturbed model.
    W, b, c = tiny_params(family, dtype)
    if method == "tempered":
        base = family.model(W, b, c, dtype)._base_visible_bias().astype(np.float64)
        betas = pt_betas(TEMPERATURES)
        n_steps = first_steps(12, lambda n: all(
            N_SAMPLES * family.tempered_sample_chi2_bound(weights, b, c, base, betas, n) < 1e-3
            for weights in (W, perturbed(family, W))))
    else:
        n_steps = first_steps(12, lambda n: all(
            N_SAMPLES * family.visible_chi2_bound(weights, b, c, n) < 1e-3
            for weights in (W, perturbed(family, W))))

    def draw(broken):
        weights = perturbed(family, W) if broken and method != "gibbs" else W
        model = family.model(weights, b, c, dtype, n_jobs=n_threads)
        if broken and method == "gibbs":
            break_kernel(monkeypatch, "gibbs_chains", model, family)
        samples = model.sample(n_samples=N_SAMPLES, n_steps=n_steps, method=method,
                               n_temperatures=TEMPERATURES, random_state=0)
        assert samples.shape == (N_SAMPLES, family.n_features(W.shape[1]))
        assert samples.dtype == family.input(family.visible_states(W.shape[1]), dtype).dtype
        return np.bincount(family.visible_index(family.states(samples, W.shape[1])),
                           minlength=family.n_states(W.shape[1]))

    counts = draw(broken=False)
    assert_fits_and_rejects_broken(counts, draw(broken=True), family.visible_marginal(W, b, c),
                                   family.visible_marginal(perturbed(family, W), b, c))


@estimator_cases
def test_gibbs_step_matches_exact_transition(family, dtype, n_threads, monkeypatch):
    # N copies of one visible state: one gibbs() step draws each row
    # independently from the exact transition row T[v0, .].
    W, b, c = tiny_params(family, dtype)
    start = 13 % family.n_states(W.shape[1])
    v0 = family.input(family.visible_states(W.shape[1])[[start]], dtype)

    def step(broken):
        model = family.model(W, b, c, dtype, n_jobs=n_threads)  # same seed, same streams
        if broken:
            break_kernel(monkeypatch, "gibbs_chains", model, family)
        out = model.gibbs(np.repeat(v0, N_SAMPLES, axis=0))
        assert out.shape == (N_SAMPLES, v0.shape[1])
        assert out.dtype == v0.dtype
        return np.bincount(family.visible_index(family.states(out, W.shape[1])),
                           minlength=family.n_states(W.shape[1]))

    row = family.visible_transition(W, b, c)[start]
    broken_row = family.visible_transition(perturbed(family, W), b, c)[start]
    assert_fits_and_rejects_broken(step(False), step(True), row, broken_row)


# --------------------------------------------------------------------------
# The persistent chains as training advances them
# --------------------------------------------------------------------------

#: A learning rate that changes nothing: the estimator requires one > 0, and
#: 1e-300 times a gradient of at most 1 is below half an ulp (|x| 2**-53) of
#: every parameter x with |x| > 1e-284, so float64 parameters stay bit for bit
#: (asserted); in float32 the kernel's learning rate rounds to exactly 0.
ZERO_LEARNING_RATE = 1e-300


#: Parallel tempering's ladder in these tests: beta = 1 and the base model.
N_TEMPERATURES = 2


@estimator_cases
@pytest.mark.parametrize(
    "method, n_chains, n_threads",
    # The thread team splits the sampling loops, which both product paths
    # share, so one thread covers the row-sum path; the BLAS path runs both.
    [("pcd", 96, 1), ("pcd", N_SAMPLES, 1), ("pcd", N_SAMPLES, 2), ("pt", 96, 1),
     ("pt", N_SAMPLES, 1)],
    # (PT on the thread team: the same sampling loops as PCD's, and a slow
    # run on a shared 2-core machine, so PT runs on one thread here.)
    ids=["row-sum-products-1-thread", "blas-products-1-thread", "blas-products-2-threads",
         "pt-row-sum-products-1-thread", "pt-blas-products-1-thread"],
    indirect=["n_threads"],
)
def test_training_chains_match_exact_hidden_marginal(family, dtype, method, n_chains,
                                                     n_threads, monkeypatch):
    # PCD-k with a zero learning rate: each minibatch update moves every
    # persistent chain by exactly k block-Gibbs transitions of the hidden
    # layer (h -> v -> h), so ``h_samples_`` after each partial_fit call is
    # a sample of a Markov chain whose stationary law is the exact p(h).
    # 96 chains train with the kernel's small-model (row-sum) products and
    # give 20000 draws over 209 calls; 20000 chains use BLAS, one call.
    #
    # Thinning: consecutive draws of one chain are k transitions apart, so
    # given the previous draw the next has chi^2 distance at most
    # chain_chi2_bound(k) from p(h), hence total variation at most
    # sqrt(bound) / 2.  Replacing each of the N transitions (the first from
    # the arbitrary start included) by an independent draw from p(h) changes
    # the joint law of all N draws by at most N * sqrt(bound) / 2 in total
    # variation, so the test below rejects an exact sampler with probability
    # at most ALPHA + 1e-3 (asserted for the model and the broken one).
    #
    # Parallel tempering (two temperatures): block 0 of ``h_samples_`` is
    # the beta = 1 chains.  Every tempered step and swap preserves the
    # product of the tempered laws, whose block-0 marginal is p(h); the
    # thinning bound is ``pt_chi2_bound`` (over the whole replica, from any
    # state).  The base model of the beta = 0 block is the data marginals,
    # so X is the data the model was built with (the base stays fixed).
    # k: the fewest steps from 15 on for which that bound holds.
    W, b, c = tiny_params(family, dtype)
    n_calls = -(-N_SAMPLES // n_chains)
    n_visible = W.shape[1]
    if method == "pt":
        X = family.input(family.training_data(20, n_visible, np.random.default_rng(0)), dtype)
        base = family.model(W, b, c, dtype)._base_visible_bias().astype(dtype)
        betas = np.linspace(1.0, 0.0, N_TEMPERATURES)
    else:
        X = family.input(family.training_data(8, n_visible, np.random.default_rng(1)), dtype)

    def mixed(k):
        for weights in (W, perturbed(family, W)):
            if method == "pt":
                bound = family.pt_chi2_bound(weights, b, c, base, betas, k)
            else:
                bound = family.hidden_chi2_bound(weights, b, c, k)
            if not n_calls * n_chains * np.sqrt(bound) / 2 < 1e-3:
                return False
        return True

    k = first_steps(15, mixed)

    def collect(broken):
        model = family.model(W, b, c, dtype, method=method, k=k, n_chains=n_chains,
                             batch_size=len(X), learning_rate=ZERO_LEARNING_RATE,
                             n_jobs=n_threads, n_temperatures=N_TEMPERATURES)
        if method == "pt":
            assert np.array_equal(model._base_visible_bias().astype(dtype), base)
            assert model.h_samples_.shape == (N_TEMPERATURES * n_chains, N_HIDDEN)
        if broken:
            break_kernel(monkeypatch, "train_minibatches", model, family)
        before = [a.copy() for a in (model.components_, model.intercept_visible_,
                                     model.intercept_hidden_)]
        draws = []
        for _ in range(n_calls):
            model.partial_fit(X)
            draws.append(state_index(model.h_samples_[:n_chains]))
        if not broken:  # the learning rate really was zero
            for old, new in zip(before, (model.components_, model.intercept_visible_,
                                         model.intercept_hidden_)):
                assert np.array_equal(old, new)
        if method == "pt":
            assert np.array_equal(model._base_visible_bias().astype(dtype), base)
            assert 0 < model.swap_rates_[0] < 1
        return np.bincount(np.concatenate(draws), minlength=2 ** N_HIDDEN)

    counts = collect(broken=False)
    assert counts.sum() >= N_SAMPLES
    assert_fits_and_rejects_broken(counts, collect(broken=True),
                                   family.hidden_marginal(W, b, c),
                                   family.hidden_marginal(perturbed(family, W), b, c))


# --------------------------------------------------------------------------
# CD-k and PCD-k updates against their exact expectations
# --------------------------------------------------------------------------


def sufficient_statistics(family, V, W, c):
    """Per visible state, the terms of one update: [p(h|v) v^T, v, p(h|v)] flattened,
    the visible axis projected as the kernel projects its updates (categorical:
    onto the zero-sum gauge; a linear map, so means and covariances follow)."""
    ph = expit(V @ W.T + c)
    return np.hstack([family.project(ph[:, :, None] * V[:, None, :]).reshape(len(V), -1),
                      family.project(V), ph])


def update_moments(family, W, b, c, X, method, k, n_chains):
    """Exact mean and covariance of one CD-k / PCD-k update with learning rate 1.

    The update is data term - negative term.  The data term is the mean of
    the statistics over the rows of X (deterministic).  The negative term is
    a mean of independent per-chain statistics:

    * "cd": one chain per row x, whose state after k steps is v_k ~ T^k(x, .);
    * "pcd" and "pt" (chains at equilibrium; for PT the beta = 1 block, which
      alone enters the update): ``n_chains`` draws v ~ p(v);
    * "exact": the log-likelihood gradient itself, E_p (no noise).
    """
    V = family.visible_states(W.shape[1])
    stats_v = sufficient_statistics(family, V, W, c)
    data = sufficient_statistics(family, X, W, c).mean(axis=0)
    if method == "cd":
        Tk = np.linalg.matrix_power(family.visible_transition(W, b, c), k)
        starts = Tk[family.visible_index(X)]  # law of each chain's v_k, one row per chain
        chain_means = starts @ stats_v
        second_moments = (starts.sum(axis=0) * stats_v.T) @ stats_v
        cov = (second_moments - chain_means.T @ chain_means) / len(X) ** 2
        mean = chain_means.mean(axis=0)
        return data - mean, cov
    p = family.visible_marginal(W, b, c)
    mean = p @ stats_v
    cov = (stats_v.T * p) @ stats_v - np.outer(mean, mean)
    return data - mean, (cov / n_chains if method in ("pcd", "pt") else 0 * cov)


#: (method, k, the other target the update must be distinguished from).
#: CD-k is biased, so its update is tested against the exact CD-k expectation
#: (and shown to differ from the log-likelihood gradient); PCD-k with chains
#: at equilibrium against the exact log-likelihood gradient (and shown to
#: differ from the CD-1 expectation); PT likewise, its beta = 1 block.
METHODS = [("cd", 1, "exact"), ("cd", 2, "exact"), ("pcd", 20, "cd"), ("pt", 20, "cd")]


@estimator_cases
@pytest.mark.parametrize(
    "method, k, other, n_threads",
    [m + (t,) for m in METHODS for t in ((1, 2) if m[0] != "pt" else (1,))],
    ids=[f"{m[0]}{m[1]}-{t}-thread{'s' if t > 1 else ''}"
         for m in METHODS for t in ((1, 2) if m[0] != "pt" else (1,))],
    indirect=["n_threads"],
)
def test_update_matches_exact_expected_gradient(family, dtype, method, k, other, n_threads,
                                                monkeypatch):
    # One update with learning_rate=1, no momentum, no weight decay, no
    # centering (test_centered_pcd_update_... covers it) and the whole data
    # set as one batch changes the parameters by the gradient estimate itself.  Its 19 elements are a mean of 4096 independent bounded
    # per-chain terms, so by the central limit theorem the residual from the
    # exact mean (update_moments) is normal with the exact covariance, and its
    # Mahalanobis norm is chi-square with rank(cov) degrees of freedom (the
    # statistics of 16 states span at most 15 dimensions).  For PCD the chains
    # start at h = 0, so after k steps each follows a law mu with
    # 4096 * chi^2(mu || p) < 1e-4 (asserted); the mean of any statistic then
    # moves by at most its sd * sqrt(chi^2), so the non-centrality of the
    # test statistic is below 4096 * chi^2 < 1e-4: negligible.  PT (two
    # temperatures) starts every block at h = 0 and its bound is
    # ``pt_chi2_bound`` for the base model the update used.
    # Strong couplings (scale 2) make CD-k's bias large enough to see.
    # Categorical parameters start in the zero-sum gauge and the kernel
    # projects each update onto it (``sufficient_statistics``).
    # The chains' k is the fewest steps from METHODS' value on for which
    # the bound holds (more for a slowly mixing model).  PT's data is the
    # data the model was built with, so its base model is known beforehand.
    W, b, c = tiny_params(family, dtype, scale=2.0)
    n_chains = 4096
    states = family.visible_states(W.shape[1])
    n_states = len(states)
    if method == "cd":  # one chain per row: every visible state n_chains // n_states times
        X = np.tile(states, (n_chains // n_states, 1))
    elif method == "pcd":
        X = states[np.array([0, 3, 5, 6, 9, 12, 15, 15]) % n_states]
        k = first_steps(k, lambda k: all(
            n_chains * family.visible_chi2_bound(weights, b, c, k - 1) < 1e-4
            for weights in (W, perturbed(family, W))))
    else:
        X = family.training_data(20, W.shape[1], np.random.default_rng(0))
        base = family.model(W, b, c, dtype)._base_visible_bias().astype(dtype)
        betas = np.linspace(1.0, 0.0, N_TEMPERATURES)
        k = first_steps(k, lambda k: all(
            n_chains * family.pt_chi2_bound(weights, b, c, base, betas, k) < 1e-4
            for weights in (W, perturbed(family, W))))

    def update(broken):
        model = family.model(W, b, c, dtype, n_jobs=n_threads, centering=False)
        model.set_params(learning_rate=1.0, momentum=0.0, weight_decay=0.0, k=k,
                         batch_size=len(X), method=method, n_temperatures=N_TEMPERATURES)
        n_blocks = N_TEMPERATURES if method == "pt" else 1
        model.h_samples_ = np.zeros((n_blocks * n_chains, N_HIDDEN), dtype=dtype)
        if broken:
            break_kernel(monkeypatch, "train_minibatches", model, family)
        params = (model.components_, model.intercept_visible_, model.intercept_hidden_)
        before = [a.astype(np.float64) for a in params]
        assert model.partial_fit(family.input(X, dtype)) is model
        if method == "pt":  # the base model the bound was computed for
            assert np.array_equal(model._base_visible_bias().astype(dtype), base)
        after = (model.components_, model.intercept_visible_, model.intercept_hidden_)
        return np.concatenate([(a.astype(np.float64) - p).ravel()
                               for a, p in zip(after, before)])

    mean, cov = update_moments(family, W, b, c, X, method, k, n_chains)
    statistic, df, p_value = mahalanobis_test(update(broken=False) - mean, cov)
    # The statistics of the n_states visible states span n_states - 1 dimensions.
    assert df == n_states - 1
    assert p_value > ALPHA, (statistic, df)

    # Power 1: the other method's target is far outside the test's resolution
    # (CD-k's bias is real, and the test sees it).
    other_mean, _ = update_moments(family, W, b, c, X, other, 1, n_chains)
    assert mahalanobis_power(other_mean - mean, cov) >= MIN_POWER
    assert mahalanobis_test(update(broken=False) - other_mean, cov)[2] < ALPHA
    # Power 2: the broken kernel (its update follows the perturbed model's
    # expectation) is rejected with the same seed.
    broken_mean, _ = update_moments(family, perturbed(family, W), b, c, X, method, k, n_chains)
    assert mahalanobis_power(broken_mean - mean, cov) >= MIN_POWER
    assert mahalanobis_test(update(broken=True) - mean, cov)[2] < ALPHA


def centered_terms(V, ph, mu, lam):
    """Per-row terms of the centered update for visible rows V and p(h | V).

    Melchior et al.'s centered gradient in the plain parametrisation is
        dW = <(h - lam)(v - mu)>,  db = <v> - dW.T lam,  dc = <h> - dW mu
    (data minus model); each is the mean over rows of the terms below.  With
    mu = lam = 0 they are the plain gradient's terms.
    """
    Vc, Hc = V - mu, ph - lam
    return {
        "W": (Hc[:, :, None] * Vc[:, None, :]).reshape(len(V), -1),
        "b": V - (Hc @ lam)[:, None] * Vc,
        "c": ph - (Vc @ mu)[:, None] * Hc,
    }


@family_cases
def test_centered_pcd_update_matches_exact_expectation(family):
    """One centered PCD-40 update (learning rate 1, one batch) against the exact
    expectation of the centered terms, element by element.

    The data term is exact; the chain term is a mean of 4,096 independent
    bounded terms whose mean and variance under p(v) are enumerated, with
    the chains at equilibrium (mixing bound asserted), so each z-score is
    ~N(0, 1); 19 elements within |z| < 5 fail with probability < 1e-5.
    The same criterion must reject the update read as a plain gradient step.
    """
    W, b, c = tiny_params(family, np.float64)
    n_chains, k = 4096, 40
    assert n_chains * family.visible_chi2_bound(W, b, c, k - 1) < 1e-4
    V = family.visible_states(W.shape[1])
    X = V[np.array([0, 3, 5, 6, 9, 12, 15, 15]) % len(V)]
    model = family.model(W, b, c, centering=True)
    model.set_params(learning_rate=1.0, momentum=0.0, weight_decay=0.0, k=k,
                     batch_size=len(X), method="pcd")
    model.h_samples_ = np.zeros((n_chains, N_HIDDEN))
    mu, lam = (a.copy() for a in (model._training.visible_offset,
                                     model._training.hidden_offset))
    assert np.all(lam != 0) and np.all(mu != 0)
    params = ("components_", "intercept_visible_", "intercept_hidden_")
    before = [getattr(model, name).copy() for name in params]
    model.partial_fit(family.input(X))
    delta = [getattr(model, name) - prev for name, prev in zip(params, before)]

    def projected(terms):
        """The kernel's gauge projection (categorical) of each row's W and b terms."""
        W_terms = family.project(terms["W"].reshape(len(terms["W"]), N_HIDDEN, -1))
        return {"W": W_terms.reshape(len(W_terms), -1), "b": family.project(terms["b"]),
                "c": terms["c"]}

    p = family.visible_marginal(W, b, c)
    for centre in ((mu, lam), (np.zeros(W.shape[1]), np.zeros(N_HIDDEN))):
        terms = projected(centered_terms(V, expit(V @ W.T + c), *centre))
        data = projected(centered_terms(X, expit(X @ W.T + c), *centre))
        z = []
        for (name, term), d in zip(terms.items(), delta):
            mean = p @ term
            se = np.sqrt((p @ term**2 - mean**2) / n_chains)
            z.append((d.ravel() - (data[name].mean(axis=0) - mean)) / se)
        z = np.concatenate(z)
        if centre[0] is mu:
            assert np.all(np.abs(z) < 5), z
        else:
            assert np.max(np.abs(z)) > 5  # the plain gradient is rejected
