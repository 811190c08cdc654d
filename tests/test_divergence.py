"""Finite divergence is caught, as ``on_divergence`` says, and every divergence
message names its actual cause (issue 22, points 5 and 6)."""

import copy
import hashlib
import math
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.datasets import load_digits

from rbm import (BernoulliRBM, CategoricalRBM, DivergenceError, DivergenceWarning,
                 GaussianBernoulliRBM)
from rbm._training import (DIVERGENCE_NATS_PER_FEATURE, DIVERGENCE_PATIENCE,
                           DivergenceWatch, decay_stability_bound, epoch_row_index,
                           likelihood_upper_bound)


@pytest.fixture(scope="module")
def small_binary():
    """500 rows of 16 bits: four random prototypes, each bit flipped with probability 0.1."""
    rng = np.random.default_rng(0)
    prototypes = rng.random((4, 16)) < 0.5
    flips = rng.random((500, 16)) < 0.1
    return (prototypes[rng.integers(0, 4, 500)] ^ flips).astype(np.float64)


@pytest.fixture(scope="module")
def digits():
    """scikit-learn's digits scaled to [0, 1]."""
    return load_digits().data / 16.0


@pytest.fixture(scope="module")
def labels():
    """300 rows of 6 categorical features with 4 equally likely labels each."""
    return np.random.default_rng(0).integers(0, 4, (300, 6))


def independent_log_likelihood(X, categorical=False):
    """Mean log-likelihood of X under independent units at its (smoothed)
    marginals, computed here from scratch: the yardstick of the policy."""
    if categorical:
        total = 0.0
        for column in X.T:
            values, counts = np.unique(column, return_counts=True)
            log_p = np.log(counts / len(column) + 1e-3)
            log_p -= np.log(np.exp(log_p).sum())
            total += float(np.mean(log_p[np.searchsorted(values, column)]))
        return total
    p = np.clip(X.mean(axis=0), 1e-3, 1 - 1e-3)
    return float(np.mean(X @ np.log(p) + (1 - X) @ np.log1p(-p)))


def fingerprint(model):
    """A digest of every array and value the model holds."""
    digest = hashlib.blake2b(digest_size=16)

    def add(name, value):
        digest.update(name.encode())
        if isinstance(value, np.ndarray):
            digest.update(np.ascontiguousarray(value).tobytes())
        elif hasattr(value, "__dict__") and type(value).__module__.startswith("rbm"):
            for key, inner in sorted(vars(value).items()):
                add(f"{name}.{key}", inner)
        else:
            digest.update(repr(value).encode())

    for key, value in sorted(vars(model).items()):
        add(key, value)
    return digest.hexdigest()


# The cases: (estimator, data fixture, n_features, categorical).
CASES = {
    "binary lr=1000": (lambda **kw: BernoulliRBM(n_components=8, learning_rate=1000, **kw),
                       "small_binary", 16, False),
    "digits lr=100": (lambda **kw: BernoulliRBM(n_components=16, learning_rate=100, **kw),
                      "digits", 64, False),
    "digits lr=1000": (lambda **kw: BernoulliRBM(n_components=16, learning_rate=1000, **kw),
                       "digits", 64, False),
    "categorical lr=1000": (lambda **kw: CategoricalRBM(n_components=8, learning_rate=1000,
                                                        **kw), "labels", 6, True),
}


@pytest.mark.parametrize("case", CASES)
def test_a_finite_divergence_raises_naming_the_learning_rate(case, request):
    make, fixture, _, _ = CASES[case]
    X = request.getfixturevalue(fixture)
    model = make(n_iter=3, random_state=0)
    rate = model.learning_rate
    with pytest.raises(DivergenceError) as excinfo:
        model.fit(X)
    message = str(excinfo.value)
    assert "more than 1 nat per feature" in message
    assert "independent model of the data's marginals" in message
    assert f"the cause is the learning rate (learning_rate={rate})" in message
    # Every case's rate is over 100 times the default: ten times lower
    # would run away as well, so the default is the rate advised.
    default = {"BernoulliRBM": 0.06, "CategoricalRBM": 0.04}[type(model).__name__]
    assert ('lower the learning rate a long way, for example to learning_rate="auto" '
            f'(the default, "auto", is {default:g} for this model; the rate given is '
            f"{rate / default:.3g} times it)") in message
    assert "weight decay" not in message and "data's scale is too large" not in message


@pytest.mark.parametrize("case", CASES)
def test_on_divergence_warn_warns_once_and_the_model_is_really_diverged(case, request):
    # The warning is no false alarm: the exact log-likelihood of the model it
    # leaves is more than the policy's margin below the independent model's.
    make, fixture, n_features, categorical = CASES[case]
    X = request.getfixturevalue(fixture)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = make(n_iter=3, random_state=0, on_divergence="warn").fit(X)
    divergence = [w for w in caught if issubclass(w.category, DivergenceWarning)]
    assert len(divergence) == 1, [str(w.message) for w in caught]
    assert "Training goes on" in str(divergence[0].message)
    assert "lower the learning rate" in str(divergence[0].message)
    assert model.n_iter_ == 3
    base = independent_log_likelihood(X, categorical)
    assert model.score(X) < base - DIVERGENCE_NATS_PER_FEATURE * n_features


@pytest.mark.parametrize("case", CASES)
def test_the_default_learning_rate_neither_warns_nor_raises(case, request):
    make, fixture, n_features, categorical = CASES[case]
    X = request.getfixturevalue(fixture)
    model = make(n_iter=3, random_state=0)
    model.set_params(learning_rate=type(model)().learning_rate)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model.fit(X)
    assert model.score(X) > independent_log_likelihood(X, categorical) - n_features


@pytest.mark.parametrize("hidden", ["gaussian", "relu", "drelu"])
def test_the_upper_bound_holds_for_real_valued_hidden_units(small_binary, labels, hidden):
    # A real-valued hidden state is a point of a density, not a state whose
    # weight bounds log Z: only visible states do (-F integrates h out).
    # Before they were the only candidates here, ReLU units at rate 3 got a
    # "bound" 6 nats below their exact log-likelihood.
    for X, make in [(small_binary, BernoulliRBM), (labels, CategoricalRBM)]:
        for rate in (0.01, 0.3, 3.0):
            model = make(n_components=4, hidden=hidden, learning_rate=rate, n_iter=5,
                         random_state=0, on_divergence="warn")
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DivergenceWarning)
                try:
                    model.fit(X)
                except DivergenceError:  # parameters past 2**52: no log-likelihood
                    continue
            V = model._validate_input(X, reset=False)
            exact = float(np.mean(model.score_samples(X)))
            assert model.log_partition_.method == "exact"
            assert likelihood_upper_bound(model, V) >= exact - 1e-9 * abs(exact)


def test_a_finite_divergence_of_real_valued_hidden_units_is_caught(small_binary):
    # With a valid bound the finite-divergence check covers real-valued
    # hidden units too: Gaussian units at rate 0.3 send the bound to about
    # -7e27 nats within 5 passes while the energy scale is still under 2**52.
    model = BernoulliRBM(n_components=8, hidden="gaussian", learning_rate=0.3, n_iter=5,
                         random_state=0)
    with pytest.raises(DivergenceError, match="mean log-likelihood on .* is at most"):
        model.fit(small_binary)


def test_the_upper_bound_is_above_the_exact_log_likelihood(small_binary, digits, labels):
    # log Z >= log w(h) for every hidden state h, so the bound can only
    # understate a divergence, never invent one; it is tight where the
    # model has concentrated its mass, as a diverged one has.
    for X, make in [(small_binary, BernoulliRBM), (digits, BernoulliRBM),
                    (labels, CategoricalRBM)]:
        for rate in (0.05, 1.0, 1000.0):
            model = make(n_components=8, learning_rate=rate, n_iter=3, random_state=0,
                         on_divergence="warn")
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DivergenceWarning)
                model.fit(X)
            V = model._validate_input(X, reset=False)
            exact = float(np.mean(model.score_samples(X)))
            bound = likelihood_upper_bound(model, V)
            assert bound >= exact - 1e-9 * abs(exact)
            assert bound <= exact + model.n_components * math.log(2) or rate < 1000


def test_a_partial_fit_that_diverges_changes_nothing(digits):
    model = BernoulliRBM(n_components=16, random_state=0).partial_fit(digits)
    before = fingerprint(model)
    model.set_params(learning_rate=1000)
    with pytest.raises(DivergenceError, match="lower the learning rate"):
        model.partial_fit(digits)
    model.set_params(learning_rate="auto")
    assert fingerprint(model) == before  # learning_rate_ too: the failed pass left no mark


def test_partial_fit_with_warn_warns_on_every_diverged_call(digits):
    model = BernoulliRBM(n_components=16, learning_rate=1000, random_state=0,
                         on_divergence="warn")
    for _ in range(2):
        with pytest.warns(DivergenceWarning, match="Training goes on"):
            model.partial_fit(digits)


def test_a_first_fit_that_diverges_keeps_the_parameters_before_the_bad_passes(small_binary):
    # Every pass at this rate is bad, so the model keeps its initial
    # parameters: the independent model, within the 0.01-scale initial weights.
    model = BernoulliRBM(n_components=8, learning_rate=1000, n_iter=10, random_state=0)
    with pytest.raises(DivergenceError, match=f"{DIVERGENCE_PATIENCE} passes in a row"):
        model.fit(small_binary)
    assert model.n_iter_ == 0
    assert np.max(np.abs(model.components_)) < 0.1
    base = independent_log_likelihood(small_binary)
    assert abs(model.score(small_binary) - base) < 0.5


def test_a_refit_that_diverges_keeps_the_previous_model(small_binary):
    model = BernoulliRBM(n_components=8, n_iter=3, random_state=0).fit(small_binary)
    before = fingerprint(model)
    model.set_params(learning_rate=1000)
    with pytest.raises(DivergenceError):
        model.fit(small_binary)
    model.set_params(learning_rate="auto")
    assert fingerprint(model) == before


def test_the_watch_needs_patience_or_the_last_pass():
    # Brief excursions are forgiven; a run of bad passes, or a bad last pass
    # (the model the call returns), is a divergence.
    watch = DivergenceWatch("raise", patience=3)
    watch.last_pass = False
    assert [watch.record(bad) for bad in (True, True, False, True, True, True)] == [
        False, False, False, False, False, True]
    watch = DivergenceWatch("raise", patience=3)
    watch.last_pass = False
    assert not watch.record(True)
    watch.last_pass = True
    assert watch.record(True)
    assert not DivergenceWatch("raise", patience=3).record(False)


def test_on_divergence_is_validated(small_binary):
    with pytest.raises(ValueError, match="'on_divergence' parameter"):
        BernoulliRBM(on_divergence="ignore").fit(small_binary)


# --------------------------------------------------------------------------
# Point 6: the message names the actual cause
# --------------------------------------------------------------------------


def test_a_huge_weight_decay_is_named_as_the_cause(digits):
    model = BernoulliRBM(n_components=16, weight_decay=1e6, n_iter=3, random_state=0)
    with pytest.raises(DivergenceError) as excinfo:
        model.fit(digits)
    message = str(excinfo.value)
    assert "the weight decay is too large (weight_decay=1000000.0)" in message
    # First epoch: no momentum yet (warm-up), so the bound is 2 / 0.06.
    assert "Lower weight_decay, below 33.3" in message
    assert "learning rate" not in message.split("; ", 1)[1].replace(
        "learning_rate", "")  # the remedy does not ask for a lower learning rate


@pytest.mark.parametrize("model", [BernoulliRBM(n_components=8, learning_rate=1e20),
                                   GaussianBernoulliRBM(n_components=8, learning_rate=1.0)])
def test_a_huge_learning_rate_is_named_as_the_cause_not_the_decay(model):
    # With learning_rate=1e20 the decay step is unstable too, but at the
    # default learning rate it would not be: the learning rate is the cause.
    rng = np.random.default_rng(0)
    X = rng.standard_normal((300, 5))
    if isinstance(model, BernoulliRBM):
        X = (X > 0).astype(float)
    model.set_params(n_iter=30, random_state=0)
    with pytest.raises(DivergenceError) as excinfo:
        model.fit(X)
    message = str(excinfo.value)
    assert f"the cause is the learning rate (learning_rate={model.learning_rate})" in message
    assert 'for example to learning_rate="auto" (the default' in message
    assert "weight decay" not in message and "data's scale is too large" not in message


@pytest.mark.parametrize("rate, advised", [(0.5, "learning_rate=0.05 (10 times lower"),
                                           (5.9, "learning_rate=0.59 (10 times lower"),
                                           (6.0, 'learning_rate="auto" (the default'),
                                           (1e4, 'learning_rate="auto" (the default')])
def test_the_advised_rate_is_the_default_where_the_rate_is_100_times_it(rate, advised):
    # A DivergenceError advised 1e+03, "10 times lower", after learning_rate=1e4
    # on a model whose default is 0.0017: a rate that runs away as surely.
    from rbm._training import divergence_remedy

    X = (np.random.default_rng(0).random((20, 4)) < 0.5).astype(float)
    model = BernoulliRBM(n_components=3, n_iter=1, random_state=0).fit(X)  # default: 0.06
    message = divergence_remedy(model.set_params(learning_rate=rate), X.mean(axis=0), rate,
                                0.0)
    assert f"for example to {advised}" in message
    assert 'the default, "auto", is 0.06 for this model' in message


@pytest.mark.parametrize("make", [lambda Z: Z * 2.0 ** 62, lambda Z: Z + 2.0 ** 62],
                         ids=["spread", "offset"])
def test_data_near_2_to_the_62_is_named_as_the_cause(make):
    X = make(np.random.default_rng(0).standard_normal((300, 5)))
    model = GaussianBernoulliRBM(n_components=8, n_iter=3, random_state=0)
    with pytest.raises(DivergenceError) as excinfo:
        model.fit(X)
    message = str(excinfo.value)
    assert "the data's scale is too large" in message
    assert "Standardise the data" in message and "StandardScaler" in message
    assert "lower the learning rate" not in message and "weight decay" not in message
    if np.all(X.std(axis=0) > 0):  # (2**62 + N(0, 1) rounds to one value)
        # The same data standardised trains without a word.
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            GaussianBernoulliRBM(n_components=8, n_iter=3, random_state=0).fit(
                (X - X.mean(axis=0)) / X.std(axis=0))


def test_the_decay_bound_is_where_the_decay_step_turns_unstable():
    # W <- W + v, v <- m v - lr wd W alone: the magnitude shrinks just below
    # lr wd = 2 (1 + m) and grows just above it.
    for momentum in (0.0, 0.5, 0.9):
        limit = decay_stability_bound(momentum)
        for factor, grows in [(0.99, False), (1.01, True)]:
            w, v = 1.0, 0.0
            for _ in range(300):
                v = momentum * v - factor * limit * w
                w += v
            assert (abs(w) > 1.0) == grows, (momentum, factor)


@pytest.mark.parametrize("method", ["cd", "pcd", "pt"])
@pytest.mark.parametrize("form", ["dense float32", "csr float64"])
def test_every_method_and_input_form_is_watched(digits, method, form):
    import scipy.sparse as sp

    X = digits.astype(np.float32) if form == "dense float32" else sp.csr_matrix(digits)
    with pytest.raises(DivergenceError, match="more than 1 nat per feature"):
        BernoulliRBM(n_components=16, learning_rate=1000, n_iter=3, method=method,
                     random_state=0).fit(X)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        BernoulliRBM(n_components=16, n_iter=3, method=method, random_state=0).fit(X)


def _far_from_the_data(rng):
    """40 rows of 6 bits and a model fitted to them whose visible biases were then
    set far from them (saturated, far worse than the independent model)."""
    X = (rng.random((40, 6)) < 0.4).astype(np.float64)
    model = BernoulliRBM(n_components=3, n_iter=1, random_state=0, n_jobs=1).fit(X)
    model.intercept_visible_[...] = np.where(rng.random(6) < 0.5, -50.0, 50.0)
    return X, model


def test_a_sound_partial_fit_does_not_take_the_bound_before_its_pass(monkeypatch, digits):
    # The yardstick from before the pass only matters for a pass that leaves
    # the model far below the independent one; a sound call bounds once.
    import rbm._training as training

    model = BernoulliRBM(n_components=16, random_state=0, n_jobs=1).partial_fit(digits[:20])
    bounds = []
    real = training.likelihood_upper_bound
    monkeypatch.setattr(training, "likelihood_upper_bound",
                        lambda *args, **kwargs: bounds.append(1) or real(*args, **kwargs))
    model.partial_fit(digits[20:40])
    assert len(bounds) == 1


def test_the_bound_before_a_pass_is_taken_on_the_parameters_before_it(monkeypatch):
    # Taken after the pass, from its snapshot: the value is that of the
    # parameters (and chains) the call started from, and the model is left
    # with the pass's parameters.
    import rbm._training as training

    X, model = _far_from_the_data(np.random.default_rng(0))
    before = copy.deepcopy(model)
    expected = likelihood_upper_bound(before, X)
    seen = []
    real = training.BeforePass.__call__

    def watched(self, name, compute):
        after = [a.copy() for a in self.model._learned_arrays()]
        value = real(self, name, compute)
        seen.append((name, value))
        for array, kept in zip(self.model._learned_arrays(), after):
            np.testing.assert_array_equal(array, kept)
        return value

    monkeypatch.setattr(training.BeforePass, "__call__", watched)
    model.partial_fit(X)
    assert seen == [("bound", expected)]
    assert not np.array_equal(model.components_, before.components_)
    assert model.n_iter_ == before.n_iter_ + 1


@pytest.mark.parametrize("form", ["dense", "csr"])
def test_the_divergence_check_reads_rows_from_all_of_the_data(monkeypatch, form):
    # Before: the first epoch_rows rows.  Data sorted by class were judged on
    # the zeros alone (the first 64 of the 1,797 digits), so a model that had
    # run away on every other digit passed.
    import rbm._training as training

    X, y = load_digits(return_X_y=True)
    order = np.argsort(y, kind="stable")
    X, y = (X[order] / 16.0 > 0.5).astype(float), y[order]
    weights = np.linspace(0.5, 2.0, len(X))
    seen = []
    real = training.finite_divergence

    def watched(model, rows, data_mean, start=None, weights=None):
        seen.append((rows.toarray() if sp.issparse(rows) else rows, weights))
        return real(model, rows, data_mean, start, weights)

    monkeypatch.setattr(training, "finite_divergence", watched)
    data = sp.csr_matrix(X) if form == "csr" else X
    BernoulliRBM(n_components=4, n_iter=1, random_state=0).fit(data, sample_weight=weights)
    index = epoch_row_index(len(X))
    (rows, row_weights), = seen
    assert set(y[:len(index)]) == {0} and set(y[index]) == set(range(10))
    np.testing.assert_array_equal(rows, X[index])
    np.testing.assert_array_equal(row_weights, weights[index])


def test_an_overstrong_sparsity_cost_is_named_not_the_learning_rate():
    # sparsity_cost=1e6 was blamed on the learning rate ("lower the learning rate").
    rng = np.random.default_rng(0)
    with pytest.raises(DivergenceError, match="sparsity_cost=1000000.0.*Lower sparsity_cost"
                       ) as error:
        GaussianBernoulliRBM(n_components=3, n_iter=5, random_state=0,
                             sparsity_cost=1e6).fit(rng.standard_normal((60, 4)))
    assert "cause is the learning rate" not in str(error.value)


@pytest.mark.parametrize("call", ["partial_fit", "warm fit"])
def test_training_parameters_already_past_the_energy_limit_is_refused_up_front(call):
    # They were trained, ran away at once and were blamed on the learning rate
    # ("lower the learning rate, for example to 1e-10").
    rng = np.random.default_rng(0)
    X = (rng.random((50, 6)) > 0.5).astype(float)
    model = BernoulliRBM(n_components=3, n_iter=2, random_state=0).fit(X)
    model.components_ = np.full_like(model.components_, 1e20)
    before = copy.deepcopy(model)
    train = (model.partial_fit if call == "partial_fit"
             else model.set_params(warm_start=True).fit)
    with pytest.raises(ValueError, match=r"energy scale \(sum of their absolute values\) of "
                                         r"1.8e\+21, most of it in components_") as error:
        train(X)
    assert "learning rate" not in str(error.value)
    np.testing.assert_array_equal(model.components_, before.components_)


def test_partial_fit_on_assigned_parameters_far_from_the_data_is_not_a_divergence():
    # Weights copied in from elsewhere (here: saturated, far worse than the
    # independent model) are where training starts, not a divergence; a
    # partial_fit that makes them much worse still is one.
    X, model = _far_from_the_data(np.random.default_rng(0))
    model.partial_fit(X)  # no error: the pass does not make it worse
    with pytest.raises(DivergenceError, match="it had before this call"):
        model.set_params(learning_rate=1e4).partial_fit(X)


@pytest.mark.parametrize("stop", ["warning as error", "interrupt"])
def test_a_partial_fit_stopped_by_anything_leaves_the_model_as_it_was(monkeypatch, stop):
    # Only DivergenceError rolled the pass back: a DivergenceWarning raised as
    # an error (pytest's filterwarnings=error) or Ctrl-C left the diverged
    # parameters, with n_iter_ and history_ of the call before.
    import rbm._training as training

    rng = np.random.default_rng(0)
    X = (rng.random((200, 6)) < np.linspace(0.1, 0.9, 6)).astype(float)
    model = BernoulliRBM(n_components=3, n_iter=2, random_state=0, n_jobs=1).fit(X)
    twin = copy.deepcopy(model)
    if stop == "interrupt":
        def interrupted(*args, **kwargs):
            raise KeyboardInterrupt
        monkeypatch.setattr(training, "divergence_message", interrupted)
        with pytest.raises(KeyboardInterrupt):
            model.partial_fit(X)
        monkeypatch.undo()
    else:
        model.set_params(learning_rate=50.0, on_divergence="warn")
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            with pytest.raises(DivergenceWarning):
                model.partial_fit(X)
        model.set_params(learning_rate=twin.learning_rate, on_divergence=twin.on_divergence)
    for array, kept in zip(model._learned_arrays(), twin._learned_arrays()):
        np.testing.assert_array_equal(array, kept)
    assert model.n_iter_ == twin.n_iter_ and model.history_ == twin.history_
    # ... random streams included: the next call is the call without the failed one.
    np.testing.assert_array_equal(model.partial_fit(X).components_,
                                  twin.partial_fit(X).components_)


def test_a_first_fit_stopped_by_a_warning_as_error_keeps_a_consistent_record():
    rng = np.random.default_rng(0)
    X = (rng.random((200, 6)) < np.linspace(0.1, 0.9, 6)).astype(float)
    model = BernoulliRBM(n_components=3, n_iter=5, random_state=0, learning_rate=50.0,
                         learning_rate_schedule="constant", on_divergence="warn")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(DivergenceWarning):
            model.fit(X)
    assert 0 < model.n_iter_ < 5
    assert len(model.history_["epoch"]) == model.n_iter_


def test_a_first_fit_stopped_after_a_pass_keeps_n_iter_and_history_alike(monkeypatch):
    # Ctrl-C in the epoch's figures (the monitor's AIS, which Ctrl-C now stops)
    # left n_iter_ counting the epoch and no history_ at all.
    import rbm._training as training

    real = training.EpochFigures.compute
    calls = []

    def interrupted(self, with_likelihood):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real(self, with_likelihood)

    monkeypatch.setattr(training.EpochFigures, "compute", interrupted)
    X = (np.random.default_rng(0).random((60, 6)) > 0.5).astype(float)
    model = BernoulliRBM(n_components=3, n_iter=5, random_state=0)
    with pytest.raises(KeyboardInterrupt):
        model.fit(X)
    assert model.n_iter_ == len(model.history_["epoch"]) == 2
