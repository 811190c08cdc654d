"""``normalize_hidden``: PGM's normalised hidden units as an exact reparametrisation.

After each pass every dReLU unit is rescaled (h -> a h) so that its activity
has unit variance over the training rows, with W, c, their velocities, the
persistent chains and the unit's gammas and thetas compensating.  These tests
check that the rescaling leaves p(v) unchanged (exact log-likelihood by
enumeration of the visible layer, or free-energy differences where log Z has
no exact form), that the normalising factor gives unit variance (recomputed
through the layer's own ``mean`` and ``variance``, another code path), that
training with it is reproducible and independent of the thread count, and
that values it cannot honour are refused with a message saying what to do.
"""

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.utils._param_validation import InvalidParameterError

from rbm import BernoulliRBM, CategoricalRBM, GaussianBernoulliRBM
from rbm._training import (Batches, normalize_hidden_units, normalizing_rows, pass_parts,
                           rescale_hidden_units)
from rbm._units import DReLUHidden
from rbm._units.drelu_hidden import GAMMA_MAX, GAMMA_MIN

ESTIMATORS = {"bernoulli": BernoulliRBM, "categorical": CategoricalRBM,
              "gaussian": GaussianBernoulliRBM}
#: Rescaling factors of the three hidden units: both directions, and small
#: enough that the fitted gammas (near 1) stay inside the kernel's bounds.
SCALES = np.array([0.8, 1.25, 0.9])
#: p(v) is a sum of terms of order 10 here: a reparametrisation must keep it
#: to rounding, far below any change training makes (about 1e-3 per pass).
EXACT = 1e-10


def tiny_data(visible, n_rows=120, seed=0):
    """Rows small enough to enumerate: 7 binary features, 3 categorical
    features of 3 states, or 4 real features (correlated in pairs)."""
    rng = np.random.default_rng(seed)
    if visible == "bernoulli":
        X = (rng.random((n_rows, 7)) < 0.35).astype(np.float64)
        X[:, 1] = X[:, 0]  # a correlation for the hidden units to carry
        return X
    if visible == "categorical":
        X = rng.integers(0, 3, size=(n_rows, 3))
        X[:, 1] = X[:, 0]
        return X
    Z = rng.standard_normal((n_rows, 2))
    return np.column_stack([Z[:, 0], Z[:, 0] + 0.3 * Z[:, 1], Z[:, 1], -Z[:, 1]])


def tiny_model(visible, **params):
    settings = dict(n_components=3, hidden="drelu", n_iter=5, batch_size=10, random_state=0,
                    learning_rate=0.02)
    settings.update(params)
    return ESTIMATORS[visible](**settings)


def log_p(model, X):
    """What a reparametrisation must keep: exact log p(v) where the visible
    layer can be enumerated, else log p(v) - log p(v_0) (free-energy
    differences: log Z of a Gaussian-visible dReLU model has no exact form)."""
    if model.log_partition().method == "exact":
        return model.score_samples(X)
    free = model.free_energy(X)
    return -(free - free[0])


def unit_variance(layer, field):
    """Each unit's variance of h over the rows, by the law of total variance,
    from the layer's ``mean`` and ``variance`` (not its normalising code)."""
    mean, variance = layer.mean(field), layer.variance(field)
    return variance.mean(axis=0) + mean.var(axis=0)


# --------------------------------------------------------------------------
# The reparametrisation is exact
# --------------------------------------------------------------------------

@pytest.mark.parametrize("visible", sorted(ESTIMATORS))
def test_rescaling_the_units_leaves_p_v_unchanged(visible):
    X = tiny_data(visible)
    model = tiny_model(visible).fit(X)
    before = log_p(model, X)
    W = model.components_.copy()
    rescale_hidden_units(model, SCALES)
    model._training.log_partition_cache.clear()
    np.testing.assert_allclose(log_p(model, X), before, rtol=0, atol=EXACT)
    # ... and it did change the parameters (W rows divided by the scales).
    np.testing.assert_allclose(model.components_, W / SCALES[:, None], rtol=1e-15)


@pytest.mark.parametrize("visible", sorted(ESTIMATORS))
def test_normalizing_step_gives_unit_variance_and_keeps_p_v(visible):
    X = tiny_data(visible)
    model = tiny_model(visible).fit(X)
    # Five short passes leave the units near their initial unit variance:
    # rescale them away from it first, so the step has work to do.
    rescale_hidden_units(model, SCALES)
    rows = model._validate_input(X, reset=False)
    before = log_p(model, X)
    field = model._hidden_field(rows)
    assert np.abs(unit_variance(model._hidden_unit, field) - 1.0).min() > 0.1
    normalize_hidden_units(model, Batches(rows))  # 120 rows: all of them are used
    model._training.log_partition_cache.clear()
    np.testing.assert_allclose(log_p(model, X), before, rtol=0, atol=EXACT)
    variance = unit_variance(model._hidden_unit, model._hidden_field(rows))
    np.testing.assert_allclose(variance, 1.0, rtol=1e-10)


def test_normalizing_scale_keeps_gammas_in_range():
    """A unit pinned near 0 (thresholds far above the field on both sides) has
    a tiny variance; full normalisation would take its gammas below the
    kernel's bound, so the factor stops where the bound is reached."""
    layer = DReLUHidden()
    layer.initialize(2, np.float64)
    layer.state[2] = [50.0, 0.0]   # theta+
    layer.state[3] = [-50.0, 0.0]  # theta-: h < 0 costs -theta- |h|
    field = np.random.default_rng(0).normal(0.0, 0.1, size=(200, 2))
    scale = layer.normalizing_scale(field)
    assert scale[0] * scale[0] <= 1.0 / GAMMA_MIN  # gamma = 1: stays >= GAMMA_MIN
    assert scale[0] * scale[0] > 0.99 / GAMMA_MIN  # ... and goes as far as it may
    layer.rescale(scale)
    assert layer.state[:2].min() >= GAMMA_MIN and layer.state[:2].max() <= GAMMA_MAX
    # The free unit is normalised all the way.
    np.testing.assert_allclose(unit_variance(layer, field / scale)[1], 1.0, rtol=1e-10)


def test_normalizing_scale_weights_count_like_repeated_rows():
    layer = DReLUHidden()
    layer.initialize(3, np.float64)
    layer.state[:4] = [[0.7, 2.0, 1.3], [1.5, 0.4, 1.0], [0.3, -0.5, 1.0], [-0.2, 0.8, -1.1]]
    field = np.random.default_rng(1).normal(0.5, 2.0, size=(50, 3))
    weights = np.random.default_rng(2).integers(1, 4, size=50)
    repeated = np.repeat(field, weights, axis=0)
    np.testing.assert_allclose(layer.normalizing_scale(field, weights.astype(float)),
                               layer.normalizing_scale(repeated), rtol=1e-12)


# --------------------------------------------------------------------------
# Training with it
# --------------------------------------------------------------------------

def normalized_fit(n_jobs=1, X=None):
    X = tiny_data("bernoulli", n_rows=300) if X is None else X
    return tiny_model("bernoulli", n_components=4, n_iter=6, normalize_hidden=True,
                      n_jobs=n_jobs).fit(X)


def fitted_arrays(model):
    return [np.array(a, copy=True) for a in model._learned_arrays()]


def normalised_rows(X):
    """The rows the normalisation uses (all of them up to NORMALIZING_ROWS)."""
    return normalizing_rows(Batches(X))[0]


def test_fit_ends_normalised_and_differs_from_plain_training():
    X = tiny_data("bernoulli", n_rows=300)
    model = normalized_fit(X=X)
    variance = unit_variance(model._hidden_unit, model._hidden_field(normalised_rows(X)))
    np.testing.assert_allclose(variance, 1.0, rtol=1e-10)
    plain = tiny_model("bernoulli", n_components=4, n_iter=6).fit(X)
    assert not np.allclose(plain.components_, model.components_)


def minibatches(batches):
    """The row lists of the minibatches that ``batches`` plans."""
    starts = np.concatenate([[0], batches.ends[:-1]])
    return [list(batches.order[start:end]) for start, end in zip(starts, batches.ends)]


def test_normalising_parts_keep_the_pass_minibatches():
    """The kernel runs a normalised pass in parts; they must be the pass's own
    minibatches (47 rows in batches of 10 are split 10, 10, 9, 9, 9)."""
    order = np.random.default_rng(0).permutation(47).astype(np.intp)
    batches = Batches(np.zeros((47, 3))).plan(order, 10)
    whole = minibatches(batches)
    parts = [batch for part in pass_parts(batches, 10, True) for batch in minibatches(part)]
    assert parts == whole and [len(batch) for batch in whole] == [10, 10, 9, 9, 9]
    assert minibatches(batches) == whole  # the pass's plan is back afterwards


def test_normalised_training_is_reproducible_and_thread_independent():
    reference = fitted_arrays(normalized_fit(n_jobs=1))
    for n_jobs in (1, 2, 3):
        for ours, theirs in zip(fitted_arrays(normalized_fit(n_jobs=n_jobs)), reference):
            np.testing.assert_array_equal(ours, theirs)


def test_sparse_rows_normalise_like_dense_rows():
    X = tiny_data("bernoulli", n_rows=300)
    model = normalized_fit(X=sp.csr_matrix(X))
    variance = unit_variance(model._hidden_unit, model._hidden_field(normalised_rows(X)))
    np.testing.assert_allclose(variance, 1.0, rtol=1e-10)


def test_partial_fit_normalises_over_its_rows():
    X = tiny_data("bernoulli", n_rows=300)
    model = tiny_model("bernoulli", normalize_hidden=True)
    for start in range(0, 300, 100):
        model.partial_fit(X[start:start + 100])
    variance = unit_variance(model._hidden_unit, model._hidden_field(X[200:]))
    np.testing.assert_allclose(variance, 1.0, rtol=1e-10)


@pytest.mark.parametrize("visible", sorted(ESTIMATORS))
def test_off_by_default(visible):
    assert ESTIMATORS[visible]().get_params()["normalize_hidden"] is False


# --------------------------------------------------------------------------
# Values it cannot honour
# --------------------------------------------------------------------------

@pytest.mark.parametrize("visible", sorted(ESTIMATORS))
@pytest.mark.parametrize("hidden", ["bernoulli", "gaussian", "relu"])
def test_types_without_a_scale_are_refused(visible, hidden):
    model = tiny_model(visible, hidden=hidden, normalize_hidden=True)
    with pytest.raises(ValueError, match=f"hidden={hidden!r} units have a fixed potential.*"
                                         "normalize_hidden=False, or use hidden='drelu'"):
        model.fit(tiny_data(visible))


def test_switching_it_on_after_fit_is_refused_before_any_change():
    X = tiny_data("bernoulli")
    model = tiny_model("bernoulli", hidden="relu").fit(X)
    before = fitted_arrays(model)
    model.set_params(normalize_hidden=True)
    with pytest.raises(ValueError, match="normalize_hidden=False"):
        model.partial_fit(X)
    for ours, theirs in zip(fitted_arrays(model), before):
        np.testing.assert_array_equal(ours, theirs)


@pytest.mark.parametrize("value", ["yes", 1, None])
def test_non_boolean_values_are_refused(value):
    with pytest.raises(InvalidParameterError, match="normalize_hidden"):
        tiny_model("bernoulli", normalize_hidden=value).fit(tiny_data("bernoulli"))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_normalizing_scale_leaves_a_unit_with_gammas_at_both_bounds_in_range(dtype):
    """A unit with gamma+ at GAMMA_MIN and gamma- at GAMMA_MAX (as a fit at a
    high learning rate with on_divergence="warn" left it) has no room to be
    rescaled.  The factor was clipped to its lower limit, which with the
    rounding margins is above 1: gamma+ went to 0.049999, and the model
    refused every later call ("dReLU gammas must be at least 0.05")."""
    layer = DReLUHidden()
    layer.initialize(2, dtype)
    layer.state[0] = [GAMMA_MIN, 1.0]  # gamma+
    layer.state[1] = [GAMMA_MAX, 1.0]  # gamma-
    field = np.random.default_rng(0).normal(0.0, 3.0, size=(200, 2))
    scale = layer.normalizing_scale(field)
    layer.rescale(scale)
    assert layer.state[:2].min() >= GAMMA_MIN and layer.state[:2].max() <= GAMMA_MAX
    assert scale[0] == 1.0
    model = BernoulliRBM(n_components=2, hidden="drelu")
    layer.check_fitted(model, 2, dtype)  # the state the model checks on every call
    # The free unit is still normalised.
    np.testing.assert_allclose(unit_variance(layer, field / scale)[1], 1.0, rtol=1e-6)
