"""Gaussian, ReLU and dReLU hidden units (issue 19) against independent references.

The references are plain SciPy: numerical integration over h (``quad``) of
exp(-U(h) + x h) for each unit's potential U, enumeration of tiny binary and
categorical visible layers, and the closed-form multivariate Gaussian of a
Gaussian-Gaussian model.  Every goodness-of-fit test runs at level ``ALPHA``
with a fixed seed.
"""

import math
import warnings
from types import SimpleNamespace

import numpy as np
import pytest
from scipy import integrate, stats
from scipy.special import logsumexp

import rbm._likelihood
from rbm import BernoulliRBM, CategoricalRBM, GaussianBernoulliRBM, _gibbs
from rbm._units import DReLUHidden, GaussianHidden, ReLUHidden
from rbm._units._half_gaussian import piece_moments, piece_sample

ALPHA = 1e-3
HIDDEN_TYPES = ["gaussian", "relu", "drelu"]
#: dReLU parameters of the tiny models: asymmetric, so that both pieces matter.
DRELU = dict(gamma_plus=[0.7, 2.0, 1.3], gamma_minus=[1.5, 0.4, 1.0],
             theta_plus=[0.3, -0.5, 1.0], theta_minus=[-0.2, 0.8, -1.1])


# --------------------------------------------------------------------------
# Independent references: potentials and integrals over h
# --------------------------------------------------------------------------

def potential(kind, j):
    """(U, lower limit) of unit j: U(h) as a Python function of a float."""
    if kind == "gaussian":
        return (lambda h: 0.5 * h * h), -math.inf
    if kind == "relu":
        return (lambda h: 0.5 * h * h), 0.0
    gp, gm = DRELU["gamma_plus"][j], DRELU["gamma_minus"][j]
    tp, tm = DRELU["theta_plus"][j], DRELU["theta_minus"][j]
    return (lambda h: 0.5 * gp * h * h + tp * h if h >= 0 else 0.5 * gm * h * h + tm * h), \
        -math.inf


def quad_moments(kind, j, x):
    """(log Z, mean, variance) of p(h) ~ exp(-U(h) + x h) by adaptive quadrature,
    integrating each side of 0 and centring on the mode (shift by its log weight)."""
    U, low = potential(kind, j)
    grid = np.concatenate([np.linspace(-60, 60, 4001), [0.0]])
    grid = grid[grid >= low]
    logs = np.array([-U(h) + x * h for h in grid])
    mode, shift = grid[np.argmax(logs)], logs.max()

    def integral(power):
        f = lambda h: h ** power * math.exp(-U(h) + x * h - shift)  # noqa: E731
        pieces = []
        for a, b in ((low, 0.0), (0.0, math.inf)):
            if a >= b:
                continue
            points = [p for p in (mode - 3, mode, mode + 3) if a < p < b]
            if math.isinf(a) or math.isinf(b):
                # quad takes no break points on infinite ranges: split there.
                edge = (min(points) if math.isinf(a) else max(points)) if points else (
                    -1.0 if math.isinf(a) else 1.0)
                inner = (edge, b) if math.isinf(a) else (a, edge)
                outer = (a, edge) if math.isinf(a) else (edge, b)
                inside = [p for p in points if inner[0] < p < inner[1]]
                pieces.append(integrate.quad(f, *inner, points=inside or None, epsabs=0,
                                             epsrel=1e-13, limit=400)[0])
                pieces.append(integrate.quad(f, *outer, epsabs=0, epsrel=1e-13,
                                             limit=400)[0])
            else:
                pieces.append(integrate.quad(f, a, b, points=points or None, epsabs=0,
                                             epsrel=1e-13, limit=400)[0])
        return math.fsum(pieces)

    z0, z1, z2 = integral(0), integral(1), integral(2)
    mean = z1 / z0
    return math.log(z0) + shift, mean, z2 / z0 - mean * mean


def layer(kind, n_hidden=3, dtype=np.float64):
    """A hidden layer object of the library, with the tiny models' dReLU parameters."""
    if kind == "gaussian":
        return GaussianHidden()
    if kind == "relu":
        return ReLUHidden()
    unit = DReLUHidden()
    unit.initialize(n_hidden, dtype)
    for row, name in enumerate(("gamma_plus", "gamma_minus", "theta_plus", "theta_minus")):
        unit.state[row] = DRELU[name][:n_hidden]
    return unit


FIELDS = [-40.0, -12.5, -3.0, -0.7, 0.0, 0.4, 2.5, 9.0, 35.0]


# --------------------------------------------------------------------------
# Log-partition (the hidden part of the free energy), mean and variance
# --------------------------------------------------------------------------

@pytest.mark.parametrize("kind", HIDDEN_TYPES)
def test_unit_log_partition_mean_and_variance_match_quadrature(kind):
    unit = layer(kind)
    field = np.array([[x] * 3 for x in FIELDS])
    log_z = unit.unit_log_partition(field)
    mean, variance = unit.mean(field), unit.variance(field)
    for r, x in enumerate(FIELDS):
        for j in range(3):
            ref_log_z, ref_mean, ref_var = quad_moments(kind, j, x)
            assert log_z[r, j] == pytest.approx(ref_log_z, rel=1e-12, abs=1e-9)
            assert mean[r, j] == pytest.approx(ref_mean, rel=1e-9, abs=1e-12)
            assert variance[r, j] == pytest.approx(ref_var, rel=1e-7, abs=1e-12)


@pytest.mark.parametrize("visible", ["bernoulli", "categorical", "gaussian"])
@pytest.mark.parametrize("kind", HIDDEN_TYPES)
def test_free_energy_matches_integration_over_h(kind, visible):
    """F(v) = -(visible energy term) - sum_j log of the integral over h_j, to 1e-9."""
    model, X, S = tiny_model(visible, kind, n_hidden=2)
    F = model.free_energy(X)
    field = S @ model.components_.T + model.intercept_hidden_
    visible_term = model._visible_unit.energy_term(model._validate_input(X, reset=False),
                                                   model.intercept_visible_)
    for r in range(len(X)):
        hidden_term = math.fsum(quad_moments(kind, j, field[r, j])[0] for j in range(2))
        assert F[r] == pytest.approx(-visible_term[r] - hidden_term, rel=1e-12, abs=1e-9)


@pytest.mark.parametrize("kind", HIDDEN_TYPES)
def test_log_partition_is_stable_for_any_field(kind):
    """Finite and increasing log-partitions, finite means, for fields up to 1e150
    (erfcx keeps every term in range); no NaN anywhere."""
    unit = layer(kind)
    x = np.array([[-1e150] * 3, [-1e6] * 3, [-50.0] * 3, [50.0] * 3, [1e6] * 3, [1e150] * 3])
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        log_z = unit.unit_log_partition(x[1:-1])
        mean = unit.mean(x[1:-1])
    assert np.all(np.isfinite(log_z)) and np.all(np.isfinite(mean))
    assert not np.any(np.isnan(unit.unit_log_partition(x)))
    if kind == "relu":  # bounded below: at -1e6 the mean is a tiny positive h
        assert np.all(unit.mean(np.array([[-1e6] * 3])) > 0)


# --------------------------------------------------------------------------
# Gradients (finite differences)
# --------------------------------------------------------------------------

@pytest.mark.parametrize("kind", HIDDEN_TYPES)
def test_mean_and_variance_are_derivatives_of_the_log_partition(kind):
    unit, step = layer(kind), 1e-4
    x = np.array([[-7.0, -0.3, 0.0], [0.2, 1.5, 6.0]])
    up, down = unit.unit_log_partition(x + step), unit.unit_log_partition(x - step)
    centre = unit.unit_log_partition(x)
    np.testing.assert_allclose(unit.mean(x), (up - down) / (2 * step), rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(unit.variance(x), (up - 2 * centre + down) / step ** 2,
                               rtol=1e-4, atol=1e-6)


def test_drelu_parameter_gradients_match_finite_differences():
    unit, step = layer("drelu"), 1e-6
    x = np.array([[-4.0, -0.5, 0.1], [0.3, 2.0, 5.0]])
    grad = unit.potential_gradient(x)
    for row in range(4):
        for j in range(3):
            saved = unit.state[row, j]
            unit.state[row, j] = saved + step
            up = unit.unit_log_partition(x)[:, j]
            unit.state[row, j] = saved - step
            down = unit.unit_log_partition(x)[:, j]
            unit.state[row, j] = saved
            np.testing.assert_allclose(grad[row, :, j], (up - down) / (2 * step),
                                       rtol=1e-6, atol=1e-8)


def test_kernel_drelu_gradient_is_the_layers_weighted_gradient():
    """The training step's dReLU gradient (kernel) equals the weighted sum of the
    finite-difference-checked layer gradient over rows, fields in both tails too."""
    unit = layer("drelu")
    rng = np.random.default_rng(7)
    Z = np.ascontiguousarray(np.concatenate([3 * rng.standard_normal((6, 3)),
                                             [[-40.0, 0.0, 40.0], [25.0, -25.0, 1e-3]]]))
    c = np.array([0.2, -0.4, 0.1])
    weights = np.array([0.25] * 4 + [-0.25] * 4)
    kernel = _gibbs.drelu_parameter_gradient(Z, c, unit.state.copy(), weights)
    reference = np.einsum("r,krj->kj", weights, unit.potential_gradient(Z + c))
    np.testing.assert_allclose(kernel, reference, rtol=1e-11, atol=1e-13)


# --------------------------------------------------------------------------
# Exact sampling of h | v, in the tails too (Python layers and the kernel)
# --------------------------------------------------------------------------

def exact_cdf(kind, j, x):
    """CDF of h | field x from SciPy's distributions (dReLU: its two truncated pieces)."""
    if kind == "gaussian":
        return stats.norm(loc=x).cdf
    if kind == "relu":
        return stats.truncnorm(-x, np.inf, loc=x).cdf
    gp, gm = DRELU["gamma_plus"][j], DRELU["gamma_minus"][j]
    tp, tm = DRELU["theta_plus"][j], DRELU["theta_minus"][j]
    sp, sm = 1 / math.sqrt(gp), 1 / math.sqrt(gm)
    mp, mm = (x - tp) / gp, (x - tm) / gm
    plus = stats.truncnorm(-mp / sp, np.inf, loc=mp, scale=sp)
    minus = stats.truncnorm(-np.inf, -mm / sm, loc=mm, scale=sm)
    # Piece weights from their log-normalisers (independent of the library).
    log_plus = stats.norm.logcdf(mp / sp) + math.log(sp) + 0.5 * mp * mp * gp
    log_minus = stats.norm.logcdf(-mm / sm) + math.log(sm) + 0.5 * mm * mm * gm
    w = math.exp(log_minus - np.logaddexp(log_plus, log_minus))
    return lambda h: np.where(h < 0, w * minus.cdf(np.minimum(h, 0)),
                              w + (1 - w) * plus.cdf(np.maximum(h, 0)))


TAIL_FIELDS = [-30.0, -4.0, 0.0, 3.0]


def kernel_hidden_draws(kind, x, n_rows, dtype, seed=0):
    """n_rows draws of h | v from the kernel (gibbs_chains, 0 steps then 1): 3 units, each
    with field x, from a one-visible-unit model with W = 0 and c = x."""
    unit = layer(kind, dtype=dtype)
    W = np.zeros((3, 1), dtype=dtype)
    b, c = np.zeros(1, dtype=dtype), np.full(3, x, dtype=dtype)
    params = SimpleNamespace(W=W, b=b, c=c, hidden=unit.kernel_view(dtype))
    visible = SimpleNamespace(kind=_gibbs.VISIBLE_BERNOULLI, state=None, groups=None,
                              learn_sigma=False)
    V = np.zeros((n_rows, 1), dtype=dtype)
    H, P = np.empty((n_rows, 3), dtype=dtype), np.empty((n_rows, 3), dtype=dtype)
    seeds = np.random.SeedSequence(seed).spawn(_gibbs.n_streams_for(n_rows))
    streams = [np.random.SFC64(s) for s in seeds]
    _gibbs.gibbs_chains(params, visible, V, H, P, 1, streams, 1)
    return H, P


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("x", TAIL_FIELDS)
@pytest.mark.parametrize("kind", HIDDEN_TYPES)
def test_kernel_samples_h_given_v_exactly(kind, x, dtype):
    """Kolmogorov-Smirnov against the exact conditional, deep in the truncated tail
    too (x = -30: the ReLU piece holds 1e-197 of its Gaussian's mass)."""
    H, P = kernel_hidden_draws(kind, x, 4000, dtype)
    reference = layer(kind)
    np.testing.assert_allclose(P[0], reference.mean(np.full((1, 3), x))[0],
                               rtol=1e-12 if dtype == np.float64 else 1e-5, atol=1e-30)
    for j in range(3):
        assert stats.kstest(H[:, j].astype(np.float64), exact_cdf(kind, j, x)).pvalue > ALPHA
        if kind == "relu":
            assert H[:, j].min() >= 0


@pytest.mark.parametrize("x", TAIL_FIELDS)
@pytest.mark.parametrize("kind", HIDDEN_TYPES)
def test_layer_samples_h_given_v_exactly(kind, x):
    unit = layer(kind)
    H = unit.sample(np.full((4000, 3), x), np.random.default_rng(1))
    for j in range(3):
        assert stats.kstest(H[:, j], exact_cdf(kind, j, x)).pvalue > ALPHA


def test_far_tail_draws_stay_exact():
    """At x = -1e4 the truncated piece is about Exponential(1e4): mean 1e-4 to 1e-8
    relative, from the log-space inverse CDF (no underflow to 0 or NaN)."""
    rng = np.random.default_rng(2)
    h = piece_sample(np.full(20000, -1e4), 1.0, 1.0 - rng.random(20000))
    mean, var = piece_moments(np.array([-1e4]), np.array([1.0]))
    assert np.all(h > 0)
    # The mean of 20000 exponential draws: standard error mean / sqrt(20000).
    assert abs(h.mean() / mean[0] - 1) < 4 / math.sqrt(20000)
    assert mean[0] == pytest.approx(1e-4 - 2e-12, rel=1e-9)


# --------------------------------------------------------------------------
# Tiny models: exact log Z and sampled states against the exact joint
# --------------------------------------------------------------------------

def tiny_model(visible, kind, n_hidden=3, seed=0, scale=0.6):
    """(fitted model with random tiny parameters, input rows X, their kernel rows s(v))."""
    rng = np.random.default_rng(seed)
    if visible == "bernoulli":
        X = (rng.random((20, 4)) < 0.5).astype(float)
        model = BernoulliRBM(n_components=n_hidden, n_iter=1, hidden=kind, random_state=0)
    elif visible == "categorical":
        X = rng.integers(0, [2, 3, 2], size=(20, 3))
        model = CategoricalRBM(n_components=n_hidden, n_iter=1, hidden=kind, random_state=0)
    else:
        X = rng.standard_normal((40, 2))
        model = GaussianBernoulliRBM(n_components=n_hidden, n_iter=1, hidden=kind,
                                     random_state=0, learn_sigma=False)
    model.fit(X)
    n_columns = model.components_.shape[1]
    model.components_[...] = scale * rng.standard_normal((n_hidden, n_columns))
    model.intercept_visible_[...] = 0.5 * rng.standard_normal(n_columns)
    model.intercept_hidden_[...] = 0.5 * rng.standard_normal(n_hidden)
    if visible == "categorical":
        model.components_[...] = model._visible_unit.constrain(model.components_)
    if kind == "drelu":
        model._hidden_unit.state[:4] = layer("drelu", n_hidden).state[:4]
    model._training.log_partition_cache.clear()
    S = model._visible_unit.hidden_input(model._validate_input(X, reset=False))
    S = S.toarray() if hasattr(S, "toarray") else np.asarray(S)
    return model, X, S


def enumerated_log_weights(model, kind, states):
    """log p*(v) of every visible state row (kernel rows s(v)), by quadrature over h."""
    field = states @ model.components_.T + model.intercept_hidden_
    out = states @ model.intercept_visible_
    for r in range(len(states)):
        out[r] += math.fsum(quad_moments(kind, j, field[r, j])[0]
                            for j in range(field.shape[1]))
    return out


def visible_states(visible):
    if visible == "bernoulli":
        return ((np.arange(16)[:, None] >> np.arange(4)) & 1).astype(float)
    sizes = [2, 3, 2]
    rows = []
    for combo in np.ndindex(*sizes):
        rows.append(np.concatenate([np.eye(q)[k] for q, k in zip(sizes, combo)]))
    return np.array(rows)


@pytest.mark.parametrize("visible", ["bernoulli", "categorical"])
@pytest.mark.parametrize("kind", HIDDEN_TYPES)
def test_exact_log_partition_matches_quadrature_enumeration(kind, visible):
    model, _, _ = tiny_model(visible, kind)
    states = visible_states(visible)
    reference = logsumexp(enumerated_log_weights(model, kind, states))
    estimate = model.log_partition(method="exact")
    assert estimate.log_z == pytest.approx(reference, rel=1e-12, abs=1e-9)
    # AIS through the kernel's hidden log-partition gaps agrees within its error.
    ais = model.log_partition(method="ais", n_chains=200, n_betas=2000)
    assert abs(ais.log_z - reference) < 4 * ais.std_error + 1e-3


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("visible", ["bernoulli", "categorical"])
@pytest.mark.parametrize("kind", HIDDEN_TYPES)
def test_kernel_gibbs_step_keeps_the_exact_visible_marginal(kind, visible, dtype):
    """Chains started at exact draws of p(v) and advanced by the kernel stay at p(v)
    (chi-square over all visible states); a wrong hidden sampler would move them."""
    model, _, _ = tiny_model(visible, kind)
    states = visible_states(visible)
    log_p = enumerated_log_weights(model, kind, states)
    p = np.exp(log_p - logsumexp(log_p))
    rng = np.random.default_rng(3)
    n = 20000
    start = states[rng.choice(len(states), size=n, p=p)]
    V = np.ascontiguousarray(start, dtype=dtype)
    H, P = np.empty((n, 3), dtype=dtype), np.empty((n, 3), dtype=dtype)
    params = SimpleNamespace(W=model.components_.astype(dtype),
                             b=model.intercept_visible_.astype(dtype),
                             c=model.intercept_hidden_.astype(dtype),
                             hidden=model._hidden_unit.kernel_view(dtype))
    streams = [np.random.SFC64(s) for s in
               np.random.SeedSequence(4).spawn(_gibbs.n_streams_for(n))]
    _gibbs.gibbs_chains(params, model._visible_unit.kernel_view(dtype), V, H, P, 3, streams, 1)
    index = {tuple(s): i for i, s in enumerate(states)}
    counts = np.bincount([index[tuple(row)] for row in V.astype(float)],
                         minlength=len(states))
    expected = n * p
    assert expected.min() >= 5
    assert stats.chisquare(counts, expected).pvalue > ALPHA
    # The power of this test: the same counts against the model with one
    # weight moved by 0.5 are rejected.
    model.components_[0, 0] += 0.5
    wrong = enumerated_log_weights(model, kind, states)
    q = np.exp(wrong - logsumexp(wrong))
    assert stats.chisquare(counts, n * q).pvalue < ALPHA


def test_gaussian_pair_log_partition_is_the_closed_form_gaussian():
    """Gaussian visible with Gaussian hidden units: log Z from the closed form equals
    the integral of exp(-F(v)) over the plane (dblquad), and AIS agrees."""
    model, _, _ = tiny_model("gaussian", "gaussian", n_hidden=2, scale=0.3)

    def unnormalised(v1, v2):
        return math.exp(-model._free_energy(np.array([[v1, v2]]))[0])

    mean = model.intercept_visible_
    total = integrate.dblquad(unnormalised, mean[1] - 12, mean[1] + 12,
                              mean[0] - 12, mean[0] + 12, epsabs=0, epsrel=1e-11)[0]
    estimate = model.log_partition(method="auto")
    assert estimate.is_exact
    assert estimate.log_z == pytest.approx(math.log(total), abs=1e-9)
    ais = model.log_partition(method="ais", n_chains=200, n_betas=2000)
    assert abs(ais.log_z - estimate.log_z) < 4 * ais.std_error + 1e-3


def test_improper_gaussian_pair_warns_and_scores_minus_inf():
    model, X, _ = tiny_model("gaussian", "gaussian", n_hidden=2, scale=3.0)
    with pytest.warns(RuntimeWarning, match="improper"):
        assert model.log_partition().log_z == math.inf
    assert np.all(np.isneginf(model.score_samples(X)))


@pytest.mark.parametrize("kind", ["relu", "drelu"])
def test_gaussian_visible_chains_keep_the_exact_marginal(kind):
    """One Gaussian visible unit with real hidden units: p(v) by quadrature on a grid;
    chains started at exact draws (inverse CDF on the grid) stay there (KS test)."""
    model, _, _ = tiny_model("gaussian", kind, n_hidden=2, scale=0.5)
    # Keep the first visible column only: a one-dimensional marginal to integrate.
    model.components_[:, 1] = 0.0
    grid = np.linspace(-12, 12, 24001)
    F = model._free_energy(np.column_stack([grid, np.zeros_like(grid)]))
    density = np.exp(-(F - F.min()))
    cdf = np.concatenate([[0.0], np.cumsum((density[1:] + density[:-1]) / 2)])
    cdf /= cdf[-1]
    rng = np.random.default_rng(5)
    n = 5000
    v1 = np.interp(rng.random(n), cdf, grid)
    sigma = model._visible_unit.sigma
    v2 = model.intercept_visible_[1] + sigma[1] * rng.standard_normal(n)
    V = np.column_stack([v1, v2])
    streams = [np.random.SFC64(s) for s in
               np.random.SeedSequence(6).spawn(_gibbs.n_streams_for(n))]
    S = np.ascontiguousarray(model._visible_unit.to_kernel(V))
    H, P = np.empty((n, 2)), np.empty((n, 2))
    _gibbs.gibbs_chains(model._kernel_params(), model._visible_unit.kernel_view(np.float64),
                        S, H, P, 3, streams, 1)
    after = model._visible_unit.from_kernel(S)[:, 0]
    assert stats.kstest(after, lambda v: np.interp(v, grid, cdf)).pvalue > ALPHA


# --------------------------------------------------------------------------
# Estimators: training, defaults, bad values
# --------------------------------------------------------------------------

def test_bernoulli_hidden_is_the_default():
    assert BernoulliRBM().hidden == "bernoulli"
    assert GaussianBernoulliRBM().get_params()["hidden"] == "bernoulli"
    assert CategoricalRBM().get_params()["hidden"] == "bernoulli"


@pytest.mark.parametrize("kind", HIDDEN_TYPES)
def test_fit_trains_every_hidden_type_reproducibly(kind):
    rng = np.random.default_rng(0)
    X = (rng.random((200, 12)) < 0.3).astype(float)
    X[:, 6:] = X[:, :6]  # correlated halves: something for the hidden units to learn
    fit = lambda n_jobs: BernoulliRBM(  # noqa: E731
        n_components=6, n_iter=50, hidden=kind, random_state=0, learning_rate=0.1,
        n_jobs=n_jobs, batch_size=10).fit(X)
    one, two = fit(1), fit(2)
    np.testing.assert_array_equal(one.components_, two.components_)
    for array, other in zip(one._hidden_unit.learned_arrays(), two._hidden_unit.learned_arrays()):
        np.testing.assert_array_equal(array, other)
    independent = BernoulliRBM(n_components=1, n_iter=1, random_state=0).fit(X)
    independent.components_[...] = 0
    # Better than the independent model of the marginals it starts from
    # (-7.18 nats; the data's entropy is about 6 x 0.61 = 3.7 nats).
    assert one.score(X) > independent.score(X) + 1.0
    if kind == "drelu":
        gammas = one._hidden_unit.state[:2]
        assert np.all(gammas >= _gibbs.DRELU_GAMMA_MIN) and np.any(gammas != 1.0)


def test_drelu_gammas_stay_in_range_at_a_huge_learning_rate():
    rng = np.random.default_rng(0)
    X = (rng.random((100, 8)) < 0.5).astype(float)
    model = BernoulliRBM(n_components=4, n_iter=3, hidden="drelu", random_state=0,
                         learning_rate=50.0, on_divergence="warn")
    try:
        model.fit(X)
    except Exception as error:  # a divergence must be an error that says so
        assert "diverged" in str(error)
        return
    state = model._hidden_unit.state
    assert np.all(np.isfinite(state))
    assert np.all(state[:2] >= _gibbs.DRELU_GAMMA_MIN)


def test_assigned_non_positive_gamma_is_refused_clearly():
    model, X, _ = tiny_model("bernoulli", "drelu")
    model._hidden_unit.state[0, 0] = -1.0
    with pytest.raises(ValueError, match="gammas must be at least"):
        model.score_samples(X)


def test_fine_tune_refuses_non_logistic_hidden_units():
    from rbm.pretraining import fine_tune
    model, X, _ = tiny_model("bernoulli", "relu")
    with pytest.raises(ValueError, match="not the MLP's logistic activation"):
        fine_tune([model], X, np.arange(len(X)) % 2)


# --------------------------------------------------------------------------
# The kernel's erfcx and its vectorised rows (rbm/_fastmath.h)
# --------------------------------------------------------------------------

def test_kernel_erfcx_matches_scipy_on_a_dense_grid():
    """The table polynomial against SciPy's erfcx (Faddeeva) from 0 to 1e300, about
    4e-16 relative on average; below -6, where SciPy's exp(y**2) loses up to 6e-14 to
    the rounding of y**2, against 2 exp(y**2) - erfcx(-y) in 80-bit long double."""
    from scipy.special import erfcx
    from rbm import _sampling
    y = np.concatenate([np.linspace(-6.0, 12.0, 400_001), np.geomspace(12.0, 1e8, 100_001),
                        np.geomspace(1e8, 1e300, 1_000)])
    relative = np.abs(_sampling.erfcx(y) / erfcx(y) - 1)
    # Two table polynomials' and SciPy's own rounding: a few units of 2**-52.
    assert relative.max() < 4e-15
    assert relative.mean() < 1e-15
    tail = np.linspace(-26.6, -6.0, 100_001)
    if np.finfo(np.longdouble).eps < 1e-18:  # x87 extended precision
        wide = tail.astype(np.longdouble)
        reference = 2 * np.exp(wide * wide) - erfcx(-tail)
        assert np.max(np.abs(_sampling.erfcx(tail) / reference - 1)) < 2e-15
    else:
        assert np.max(np.abs(_sampling.erfcx(tail) / erfcx(tail) - 1)) < 1e-13


def test_kernel_erfcx_limits():
    from rbm import _sampling
    out = _sampling.erfcx(np.array([-np.inf, -27.0, 0.0, np.inf, np.nan]))
    assert out[0] == np.inf and out[1] == np.inf and out[3] == 0.0
    assert out[2] == pytest.approx(1.0, rel=2e-15)
    assert np.isnan(out[4])


@pytest.mark.parametrize("kind", ["relu", "drelu"])
def test_kernel_means_match_the_layer_for_fields_of_any_size(kind):
    """The kernel's vectorised rows (and their exact scalar path where the pieces'
    masses overflow, |field| beyond about 26 piece widths) against the layer's
    SciPy formulas, on fields from -1e4 to 1e4."""
    fields = np.concatenate([-np.geomspace(1e4, 1e-3, 60), [0.0], np.geomspace(1e-3, 1e4, 60)])
    for x in fields[::4]:
        _, P = kernel_hidden_draws(kind, x, 1, np.float64)
        expected = scipy_piece_formulas(kind, np.full((1, 3), x))["mean"][0]
        np.testing.assert_allclose(P[0], expected, rtol=1e-12, atol=1e-300)


def scipy_piece_formulas(kind, field):
    """The log-partition and mean of ReLU or dReLU units by ``_half_gaussian``'s
    SciPy formulas (erfcx per piece), independent of the kernel, which the dReLU
    layer's own methods call."""
    unit = layer(kind)
    if kind == "relu":
        return {"log_z": unit.unit_log_partition(field), "mean": unit.mean(field)}
    p = unit.state
    positive, negative, total = unit._pieces(field)
    mean_plus, _ = piece_moments(field - p[2], p[0])
    mean_minus, _ = piece_moments(p[3] - field, p[1])
    return {"log_z": total,
            "mean": np.exp(positive - total) * mean_plus - np.exp(negative - total) * mean_minus}


def test_compiled_drelu_layer_matches_the_scipy_formulas_for_fields_of_any_size():
    """The dReLU layer's log-partition and statistics (compiled, for monitoring and
    transform) against the pieces' SciPy formulas, from -1e4 to 1e4: through the
    vectorised rows and the log-space path where the pieces' masses overflow."""
    fields = np.concatenate([-np.geomspace(1e4, 1e-3, 60), [0.0], np.geomspace(1e-3, 1e4, 60)])
    field = np.repeat(fields[:, None], 3, axis=1)
    expected = scipy_piece_formulas("drelu", field)
    unit = layer("drelu")
    np.testing.assert_allclose(unit.unit_log_partition(field), expected["log_z"],
                               rtol=1e-14, atol=1e-14)
    # The mean is the difference of the sides' means (each of order 1 here):
    # where they nearly cancel, rounding leaves a few 1e-16 in absolute terms.
    np.testing.assert_allclose(unit.mean(field), expected["mean"], rtol=1e-12, atol=2e-15)
    assert unit.unit_log_partition(field[:1, :]).shape == (1, 3)
    assert unit.mean(field[0]).shape == (3,)
    # A diverged (NaN) field gives NaN, and infinite ones no NaN log-partition.
    odd = np.array([[np.nan, np.inf, -np.inf]])
    assert np.isnan(unit.unit_log_partition(odd)[0, 0]) and np.isnan(unit.mean(odd)[0, 0])
    assert np.all(unit.unit_log_partition(odd)[0, 1:] == np.inf)


@pytest.mark.parametrize("kind", ["relu", "drelu"])
def test_ais_log_partition_gap_matches_the_layer_for_fields_of_any_size(kind):
    """AIS's weight gains Gamma(beta x) - Gamma(beta' x) for ReLU and dReLU units
    (the kernel's vectorised log of the ratio of the two partition functions,
    and its log-space path where a mass leaves the normal range) against the
    difference of the layer's log-partitions (SciPy's erfcx), from -1e4 to 1e4
    and at non-finite fields.  Bound: the kernel's erfcx is within 4e-15
    relative of SciPy's (test_kernel_erfcx_matches_scipy_on_a_dense_grid), so
    each log-partition within 4e-15 absolute, plus the rounding of the
    reference's difference of two log-partitions."""
    from rbm import _sampling
    fields = np.concatenate([-np.geomspace(1e4, 1e-3, 60), [0.0], np.geomspace(1e-3, 1e4, 60)])
    field = np.repeat(fields[:, None], 3, axis=1) * np.array([1.0, 0.7, 1.3])
    unit = layer(kind)
    kernel_kind = {"relu": _gibbs.HIDDEN_KIND_RELU, "drelu": _gibbs.HIDDEN_KIND_DRELU}[kind]
    state = unit.state if kind == "drelu" else np.zeros((0, 0))
    for beta, beta_prev in ((1.0, 0.999), (0.5, 0.25), (0.002, 0.0), (0.3, 0.7)):
        gap = _sampling.log_partition_gap(kernel_kind, field, state, beta, beta_prev)
        upper = unit.unit_log_partition(beta * field)
        lower = unit.unit_log_partition(beta_prev * field)
        bound = 2 * 4e-15 + 4 * np.finfo(float).eps * (np.abs(upper) + np.abs(lower))
        assert np.all(np.abs(gap - (upper - lower)) <= bound), (beta, beta_prev)
    odd = np.array([[np.nan, np.inf, -np.inf]])
    with np.errstate(invalid="ignore", divide="ignore"):  # log 0 and inf - inf, as the kernel
        expected = unit.unit_log_partition(odd) - unit.unit_log_partition(0.5 * odd)
    np.testing.assert_array_equal(
        _sampling.log_partition_gap(kernel_kind, odd, state, 1.0, 0.5), expected)
    with pytest.raises(ValueError, match="real-valued"):
        _sampling.log_partition_gap(_gibbs.HIDDEN_KIND_BERNOULLI, field, state, 1.0, 0.5)


def test_drelu_sampler_survives_infinite_fields():
    """An overflowing field gives inf or NaN draws (which the divergence check
    reports), never an endless rejection loop."""
    for x in (np.inf, -np.inf, np.nan):
        H, _ = kernel_hidden_draws("drelu", x, 4, np.float64)
        assert H.shape == (4, 3)


def test_samplers_log_is_within_a_few_ulp_of_numpys():
    """The vectorised log behind the samplers' exponentials (Robert's
    proposals) and AIS's log-partition gaps, on uniforms as they are drawn (53-bit
    grid, down to 2**-53) and on values spanning the doubles' exponents."""
    from rbm import _sampling
    rng = np.random.default_rng(0)
    x = np.concatenate([1.0 - rng.random(100_000), np.geomspace(1e-300, 1e300, 10_001),
                        [2.0 ** -53, 0.5, 1.0, np.nextafter(1.0, 0.0), math.sqrt(2.0)]])
    expected = np.log(x)
    error = np.abs(_sampling.fast_log(x) - expected)
    # A few ulp of the result (log(1) = 0 exactly).
    assert np.all(error <= 4 * np.spacing(np.abs(expected)))


#: ReLU fields on both sides of the samplers' switch from normal proposals to
#: Robert's exponential ones (truncation point alpha = -x at 0.75), and at the
#: switch from normals to their absolute values (alpha = 0).
SWITCH_FIELDS = [-0.8, -0.7, -1e-3, 1e-3]


@pytest.mark.parametrize("x", SWITCH_FIELDS)
def test_kernel_relu_draws_are_exact_on_both_sides_of_the_proposal_switches(x):
    H, _ = kernel_hidden_draws("relu", x, 20_000, np.float64, seed=11)
    for j in range(3):
        assert stats.kstest(H[:, j], exact_cdf("relu", j, x)).pvalue > ALPHA
    assert H.min() >= 0


def test_kernel_drelu_statistics_where_both_pieces_lie_below_y_zero():
    """Fields between theta+ and theta- (theta+ < x < theta-: both pieces' y < 0,
    where the kernel's row pass redoes the unit with an exp per piece) give the
    sides' probabilities and the pieces' moments of SciPy's erfcx, to rounding."""
    from rbm import _sampling
    rng = np.random.default_rng(21)
    n = 40
    state = np.zeros((8, n))
    state[0], state[1] = rng.uniform(0.1, 8.0, n), rng.uniform(0.1, 8.0, n)
    state[2], state[3] = rng.uniform(-6.0, -0.5, n), rng.uniform(0.5, 6.0, n)
    field = state[2] + rng.random((50, n)) * (state[3] - state[2])
    w_plus, w_minus, mean_plus, second_plus, mean_minus, second_minus = (
        _sampling.drelu_statistics(field, state))
    unit = DReLUHidden(state.copy())
    positive, negative, total = unit._pieces(field)
    # The reference's log masses reach a**2 / (2 gamma) <= 12**2 / 0.2 = 720, so
    # their exp is good to about 720 ulp (1.6e-13); the kernel's erfcx to 4e-15.
    np.testing.assert_allclose(w_plus, np.exp(positive - total), rtol=1e-12)
    np.testing.assert_allclose(w_minus, np.exp(negative - total), rtol=1e-12)
    for a, gamma, mean, second in ((field - state[2], state[0], mean_plus, second_plus),
                                   (state[3] - field, state[1], mean_minus, second_minus)):
        reference_mean, reference_var = piece_moments(a, gamma)
        np.testing.assert_allclose(mean, reference_mean, rtol=1e-12)
        np.testing.assert_allclose(second, reference_var + reference_mean ** 2, rtol=1e-12)


def test_kernel_drelu_draws_match_the_exact_moments():
    """Mean and variance of many dReLU draws (the side chosen from the kept
    statistics, then the truncated piece) against the layer's exact moments:
    z-scores from the sample sizes, at a field where both sides carry mass."""
    n = 60_000
    H, _ = kernel_hidden_draws("drelu", 0.4, n, np.float64, seed=12)
    unit = layer("drelu")
    mean = unit.mean(np.full((1, 3), 0.4))[0]
    var = unit.variance(np.full((1, 3), 0.4))[0]
    z_mean = (H.mean(axis=0) - mean) / np.sqrt(var / n)
    assert np.all(np.abs(z_mean) < 4.0)
    # The sample variance's standard error, from the fourth central moment.
    centred = H - mean
    fourth = np.mean(centred ** 4, axis=0)
    z_var = (H.var(axis=0) - var) / np.sqrt((fourth - var ** 2) / n)
    assert np.all(np.abs(z_var) < 4.0)


@pytest.mark.parametrize("kind", ["relu", "drelu"])
def test_real_valued_layers_on_the_thread_team_give_the_same_model(kind):
    """Layers of real-valued hidden units big enough for the thread team
    (200 stacked rows x 40 units: 8,000 elements, 13 chunks of rows) train the
    same model on one thread and on two, and with every layer forced onto the
    team: the samplers' streams are per chunk of rows, and the means (shared
    out in equal row ranges, from 2 rows) are each row's own."""
    rng = np.random.default_rng(0)
    X = (rng.random((400, 20)) < 0.3).astype(float)
    fit = lambda n_jobs: BernoulliRBM(  # noqa: E731
        n_components=40, n_iter=2, hidden=kind, random_state=0, learning_rate=0.05,
        n_jobs=n_jobs, batch_size=100).fit(X)
    one, two = fit(1), fit(2)
    with _gibbs.kernel_settings(parallel_threshold=1):
        forced = fit(2)
    for other in (two, forced):
        np.testing.assert_array_equal(one.components_, other.components_)
        np.testing.assert_array_equal(one.h_samples_, other.h_samples_)
        for array, theirs in zip(one._hidden_unit.learned_arrays(),
                                 other._hidden_unit.learned_arrays()):
            np.testing.assert_array_equal(array, theirs)


@pytest.mark.parametrize("kind", ["relu", "drelu"])
def test_exact_log_partition_of_two_real_valued_layers_is_refused_for_what_it_is(kind):
    # Gaussian visible units with ReLU or dReLU hidden units: no layer is
    # discrete, so "exact" can never enumerate one, however small the model.
    # The refusal said "needs inf states (> 67108864) ... for a model this
    # large" of a 4 x 2 model.
    X = np.random.default_rng(0).standard_normal((30, 4))
    model = GaussianBernoulliRBM(n_components=2, n_iter=2, random_state=0,
                                 hidden=kind).fit(X)
    with pytest.raises(ValueError, match="both layers of this model are real-valued") as info:
        model.log_partition("exact")
    assert "inf states" not in str(info.value) and "method='ais'" in str(info.value)
    assert model.log_partition_method_ == "ais"


@pytest.mark.parametrize("call", ["transform", "fit", "partial_fit"])
def test_changing_hidden_after_fit_is_refused_naming_both_types(call):
    # set_params(hidden=...) on a fitted model: every use is refused, and
    # the message named only the layer classes and said "refit the model",
    # which a warm-started fit (the call being refused) cannot follow.
    X = (np.random.default_rng(0).random((30, 5)) < 0.4).astype(float)
    model = BernoulliRBM(n_components=2, n_iter=2, random_state=0, hidden="relu").fit(X)
    W = model.components_.copy()
    model.set_params(hidden="bernoulli", warm_start=True)
    with pytest.raises(ValueError, match="has hidden='bernoulli' but was fitted with "
                                         "hidden='relu'; set hidden back to 'relu'"):
        getattr(model, call)(X)
    np.testing.assert_array_equal(model.components_, W)
    assert model.n_iter_ == 2
    model.set_params(hidden="relu")
    model.transform(X)  # usable again once hidden is set back


@pytest.mark.parametrize("call", ["fit", "partial_fit"])
@pytest.mark.parametrize("params", [dict(hidden="relu", normalize_hidden=True),
                                    dict(hidden="gaussian", normalize_hidden=True),
                                    dict(n_jobs=0)])
def test_a_refused_first_fit_leaves_no_fitted_attribute(call, params):
    # The refusal came after the input was validated, which had set
    # n_features_in_: check_is_fitted then passed on an unfitted model.
    from sklearn.exceptions import NotFittedError

    X = (np.random.default_rng(0).random((30, 5)) < 0.4).astype(float)
    model = BernoulliRBM(n_components=2, n_iter=2, random_state=0, **params)
    before = dict(vars(model))
    with pytest.raises(ValueError):
        getattr(model, call)(X)
    assert vars(model) == before
    with pytest.raises(NotFittedError):
        model.transform(X)


@pytest.mark.parametrize("kind", ["relu", "drelu"])
def test_divergence_from_a_huge_l1_squared_penalty_names_the_penalty(kind):
    # learning_rate * l1_squared_weight_decay far above 2: the L1-squared
    # step flips and grows the weights whatever the data.  The message
    # blamed the learning rate, and its advice (a rate 10 times lower)
    # diverged the same way.
    from rbm import DivergenceError

    X = (np.random.default_rng(0).random((40, 6)) < 0.4).astype(float)
    model = BernoulliRBM(n_components=3, n_iter=10, random_state=0, batch_size=10,
                         n_chains=10, hidden=kind, l1_squared_weight_decay=1e6)
    with pytest.raises(DivergenceError, match=r"L1-squared penalty is too large "
                                              r"\(l1_squared_weight_decay=1e\+06\)") as info:
        model.fit(X)
    assert "the cause is the learning rate" not in str(info.value)
    # A penalty the step can take is not blamed.
    from rbm._training import l1_squared_message

    assert l1_squared_message(model.set_params(l1_squared_weight_decay=1.0), 0.01) is None


def improper_gaussian_pair():
    """(model, X): a Gaussian-visible, Gaussian-hidden model fitted on 40 x 4 normal
    rows, then given couplings (3.0) that outgrow the visible precision."""
    X = np.random.default_rng(0).standard_normal((40, 4))
    model = GaussianBernoulliRBM(n_components=2, n_iter=3, random_state=0,
                                 hidden="gaussian").fit(X)
    model.components_[...] = 3.0
    return model, X


@pytest.mark.parametrize("call", ["warm_fit", "partial_fit"])
def test_training_an_improper_gaussian_pair_is_refused_and_changes_nothing(call):
    # Assigned couplings that make a Gaussian-visible, Gaussian-hidden model
    # improper leave its exact gradient undefined: the pass returned without
    # a step, yet n_iter_ and history_ counted it as trained.
    model, X = improper_gaussian_pair()
    W, n_iter, rows = model.components_.copy(), model.n_iter_, len(model.history_["epoch"])
    with pytest.raises(ValueError, match="is improper: its couplings outgrow"):
        if call == "warm_fit":
            model.set_params(warm_start=True).fit(X)
        else:
            model.partial_fit(X)
    np.testing.assert_array_equal(model.components_, W)
    assert model.n_iter_ == n_iter and len(model.history_["epoch"]) == rows


def test_sampling_an_improper_gaussian_pair_is_refused():
    # The chains of an improper Gaussian pair run off to infinity: sample()
    # returned inf (and conditional_sample 1e256) with no word.
    model, X = improper_gaussian_pair()
    rows = X[:3].copy()
    rows[:, 1] = np.nan
    for call in (lambda: model.sample(5), lambda: model.conditional_sample(rows),
                 lambda: model.conditional_marginals(rows, method="gibbs")):
        with pytest.raises(ValueError, match="is improper: its couplings outgrow"):
            call()


def test_a_proper_conditional_of_an_improper_gaussian_pair_is_sampled():
    # Only feature 0 is coupled beyond its precision: the joint is improper,
    # yet p(v_1.. | v_0) is a proper Gaussian (P's block without feature 0
    # is positive definite), so it is sampled, while a gap at feature 0 is
    # refused by name.
    X = np.random.default_rng(0).standard_normal((40, 3))
    model = GaussianBernoulliRBM(n_components=2, n_iter=3, random_state=0,
                                 hidden="gaussian").fit(X)
    model.components_[...] = 0.1
    model.components_[:, 0] = 3.0
    with pytest.raises(ValueError, match=r"improper.*no samples"):
        model.sample(2)
    rows = X[:4].copy()
    rows[:, 1:] = np.nan
    drawn = model.conditional_sample(rows, random_state=0)
    assert np.all(np.isfinite(drawn)) and np.abs(drawn).max() < 100
    gap_at_0 = X[:2].copy()
    gap_at_0[0, 0] = np.nan
    with pytest.raises(ValueError, match=r"its conditional distribution of features \[0\] "
                                         r"given the others has no samples"):
        model.conditional_sample(gap_at_0)
    # A row with nothing observed is drawn from the model itself: there are
    # no "others" to name (it said "features [0, 1, 2] given the others").
    rows[0, 0] = np.nan
    with pytest.raises(ValueError, match=r"improper: .*\), so it has no samples") as error:
        model.conditional_sample(rows)
    assert "given the others" not in str(error.value)


def test_observed_log_likelihood_of_an_improper_gaussian_pair_is_minus_inf_not_nan():
    # score gives -inf (with a RuntimeWarning) for an improper Gaussian pair;
    # the rows with gaps came back NaN from their AIS (inf - inf).
    model, X = improper_gaussian_pair()
    rows = X[:3].copy()
    rows[:2, 0] = np.nan
    rows[0, :] = np.nan  # nothing observed: log p(nothing) = 0 still
    with pytest.warns(RuntimeWarning, match="improper"):
        result = model.observed_log_likelihood(rows, random_state=0)
    assert result.log_p[0] == 0.0
    assert np.all(result.log_p[1:] == -np.inf)
    assert not np.isnan(result.std_error).any()


@pytest.mark.parametrize("kind", HIDDEN_TYPES)
def test_conditional_marginals_auto_is_gibbs_for_real_valued_hidden_units(kind):
    # As the README and the docstring now say: "auto" is exact only for
    # binary hidden units; for real-valued ones it is the chains' estimate.
    X = (np.random.default_rng(0).random((40, 5)) < 0.4).astype(float)
    model = BernoulliRBM(n_components=2, n_iter=2, random_state=0, hidden=kind).fit(X)
    rows = X[:3].copy()
    rows[:, 1] = np.nan
    np.testing.assert_array_equal(
        model.conditional_marginals(rows, random_state=0),
        model.conditional_marginals(rows, method="gibbs", random_state=0))


@pytest.mark.parametrize("kind", ["relu", "drelu"])
def test_ais_that_runs_away_on_an_improper_model_warns_instead_of_silent_nonsense(
        kind, monkeypatch):
    # Gaussian visible units with real-valued hidden units and couplings
    # beyond the visible precision: p(v) is not normalisable, AIS's chains
    # overflow, and score / log_partition returned NaN (or a finite 1e126)
    # with no word.  (Such a model is now proven improper before any AIS run,
    # test_properness.py; the chains' watch is for models the search cannot
    # prove improper, as here with the search switched off.)
    monkeypatch.setattr(rbm._likelihood, "improper_description", lambda *args: None)
    X = np.random.default_rng(0).standard_normal((40, 3))
    model = GaussianBernoulliRBM(n_components=2, n_iter=3, random_state=0, hidden=kind).fit(X)
    model.components_[...] = 2.0
    # NaN at 200 temperatures; at 50 a finite 4e126 with a standard error of 0.1.
    for n_betas in (200, 50):
        with pytest.warns(RuntimeWarning, match="AIS gave no usable estimate of log Z"):
            estimate = model.log_partition("ais", n_chains=10, n_betas=n_betas, random_state=0)
        assert not abs(estimate.log_z) < 1e15
    # A sound model's AIS says nothing.
    sound = GaussianBernoulliRBM(n_components=2, n_iter=3, random_state=0, hidden=kind).fit(X)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert np.isfinite(sound.log_partition("ais", n_chains=10, n_betas=50).log_z)


# --------------------------------------------------------------------------
# Hidden units that all end switched off (review s49, D2)
# --------------------------------------------------------------------------

@pytest.mark.parametrize("hidden", ["bernoulli", "relu"])
def test_a_fit_whose_hidden_units_all_switch_off_warns(hidden):
    # At learning_rate=5 every hidden bias ran off (-14 binary, -2e8 ReLU,
    # with weights of 2.5e4) and each E[h|v] sat at ~0: the fit became the
    # independent model with absurd parameters, and nothing said so.
    from sklearn.exceptions import ConvergenceWarning

    X = np.random.default_rng(0).integers(0, 4, (300, 6))
    with pytest.warns(ConvergenceWarning, match=r"all 16 hidden units \(hidden=") as records:
        CategoricalRBM(n_components=16, hidden=hidden, n_iter=20, learning_rate=5.0,
                       random_state=0).fit(X)
    message = str(records[0].message)
    assert "the model of independent features" in message
    assert "learning rate too high" in message and "learning_rate=5.0" in message
    # 5 is over 100 times the default (0.04, over 6 for ReLU units): the
    # default is the rate advised.
    default = 0.04 / (6 if hidden == "relu" else 1)
    assert ('for example to learning_rate="auto" (the default, "auto", is '
            f"{default:.3g} for this model") in message


def test_a_unit_that_marks_a_rare_cluster_is_not_called_switched_off():
    # A unit on for every row but a 1.5% cluster is off on each of the 64
    # rows the per-epoch figures sample; the check read only those and warned
    # of a model 0.65 nats per row better than independent features.  Where the
    # sample is all off, every training row is read.
    from rbm._monitor import epoch_row_index

    rng = np.random.default_rng(0)
    n = 3000
    X = (rng.random((n, 40)) < 0.03).astype(float)
    sampled = np.zeros(n, dtype=bool)
    sampled[epoch_row_index(n)] = True
    rare = np.flatnonzero(~sampled)[::60][:40]
    X[rare, :20] = rng.random((len(rare), 20)) < 0.95
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model = BernoulliRBM(n_components=1, n_iter=30, learning_rate=1.0,
                             random_state=0).fit(X)
    H = model.transform(X)[:, 0]
    assert H[rare].max() < 0.01 and np.delete(H, rare).min() > 0.9  # the unit marks them


def test_a_fit_with_some_hidden_units_alive_does_not_warn():
    # learning_rate=0.5 leaves most ReLU units of binarised digits off, not all.
    from sklearn.datasets import load_digits

    X = (load_digits().data[:500] > 7).astype(float)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model = BernoulliRBM(n_components=16, hidden="relu", n_iter=20, learning_rate=0.5,
                             random_state=0).fit(X)
    assert model.transform(X).max() > 0.3


def test_which_units_count_as_switched_off():
    from rbm._units import BernoulliHidden

    # Binary: p within 1e-3 of one end on every row (off or stuck on), not
    # off on one row and on on another.
    field = np.array([[-7.0, 7.0, -7.0, -6.0, 0.0], [-30.0, 30.0, 7.0, -30.0, 0.0]])
    np.testing.assert_array_equal(BernoulliHidden().idle_units(field),
                                  [True, True, False, False, False])
    # ReLU: off only (h | v of a large field follows it linearly).
    field = np.array([[-11.0, 50.0, -11.0], [-1e8, 50.0, -9.0]])
    np.testing.assert_array_equal(ReLUHidden().idle_units(field), [True, False, False])
    # dReLU: both pieces off, each measured in its own scale 1 / sqrt(gamma).
    layer = DReLUHidden()
    layer.initialize(3, np.float64)
    layer.state[:4] = [[4.0, 1.0, 1.0], [1.0, 1.0, 1.0], [30.0, 30.0, 5.0],
                       [-30.0, -30.0, -5.0]]
    field = np.zeros((2, 3))
    # Unit 0: (0 - 30) / sqrt(4) = -15 on the positive side, -30 on the
    # negative; unit 1: -30 on both; unit 2: -5, still live.
    np.testing.assert_array_equal(layer.idle_units(field), [True, True, False])
    field[1, 0] = 20.0  # (20 - 30) / 2 = -5: unit 0's positive piece on
    np.testing.assert_array_equal(layer.idle_units(field), [False, True, False])
    # Unit-variance Gaussian units are never switched off.
    np.testing.assert_array_equal(GaussianHidden().idle_units(np.full((2, 2), -1e9)),
                                  [False, False])


@pytest.mark.parametrize("make, hidden, says", [
    (BernoulliRBM, "gaussian", "not sparsity"), (BernoulliRBM, "drelu", "not sparsity"),
    (GaussianBernoulliRBM, "drelu", "not sparsity"),
    (GaussianBernoulliRBM, "gaussian", "is ignored")])
def test_a_sparsity_penalty_on_signed_hidden_units_warns_what_it_does(make, hidden, says):
    # The penalty drove Gaussian and dReLU units' mean E[h|v] to 0.050, which
    # for units of either sign is no sparsity, and a Gaussian pair ignored it,
    # all without a word (review s49, D7).
    rng = np.random.default_rng(0)
    X = rng.standard_normal((40, 4))
    X = (X > 0).astype(float) if make is BernoulliRBM else X
    model = make(n_components=3, hidden=hidden, n_iter=2, random_state=0, sparsity_cost=0.5,
                 sparsity_target=0.05)
    with pytest.warns(UserWarning, match=f"sparsity_cost=0.5 with hidden='{hidden}' .*{says}"):
        model.fit(X)
    with pytest.warns(UserWarning, match=says):
        model.partial_fit(X)


@pytest.mark.parametrize("hidden", ["bernoulli", "relu"])
def test_a_sparsity_penalty_on_non_negative_hidden_units_is_silent(hidden):
    X = (np.random.default_rng(0).random((40, 4)) < 0.4).astype(float)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        BernoulliRBM(n_components=3, hidden=hidden, n_iter=2, random_state=0,
                     sparsity_cost=0.5, sparsity_target=0.05).fit(X)
        # Signed units without the penalty are silent too.
        BernoulliRBM(n_components=3, hidden="drelu", n_iter=2, random_state=0).fit(X)


@pytest.mark.parametrize("scale", [3.0, 1e200])
@pytest.mark.parametrize("method", ["auto", "exact"])
def test_an_improper_gaussian_pairs_conditionals_are_refused_as_improper(scale, method):
    # "exact" said it enumerates hidden states and advised "gibbs", which then
    # raised the improper error; at 1e200 NumPy's overflow warning came first
    # (an error under -W error).  Each call now gives the improper error alone.
    model, X = improper_gaussian_pair()
    model.set_params(missing="impute")
    model.components_[...] = scale
    rows = X[:3].copy()
    rows[:, 1] = np.nan
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(ValueError, match="is improper: its couplings outgrow .* features "
                                             r"\[1\] given the others has no mean or variance"):
            model.conditional_marginals(rows, method=method)
        with pytest.raises(ValueError, match="is improper: .* has no hidden means"):
            model.transform(rows)


def test_a_gaussian_pairs_conditional_exists_where_its_block_is_proper():
    # The closed form needs only P_ff positive definite for the missing
    # entries f, not the whole model proper: it uses P and q, not the mean.
    from rbm._partition import gaussian_pair_moments

    model, X = improper_gaussian_pair()
    model.set_params(missing="impute")
    model.components_[:, 0] = 0.1  # feature 0 weakly coupled, the others at 3
    W, b, c = (np.asarray(a, dtype=float) for a in (model.components_, model.intercept_visible_,
                                                    model.intercept_hidden_))
    P = gaussian_pair_moments(W, b, c, model._visible_unit)[0]
    assert np.linalg.eigvalsh(P).min() < 0  # improper as a whole
    free = [0]
    assert P[0, 0] > 0  # one missing entry: a proper conditional
    rows = X[:3].copy()
    rows[:, free] = np.nan
    mean, variance = model.conditional_marginals(rows)
    d = 1.0 / model.sigma_.astype(float) ** 2
    q = d * (b + W.T @ c)
    expected = (q[0] - rows[:, 1:] @ P[1:, 0]) / P[0, 0]
    np.testing.assert_allclose(mean[:, 0], expected, rtol=1e-12)
    np.testing.assert_allclose(variance[:, 0], 1.0 / P[0, 0], rtol=1e-12)
