"""A call that raises changes nothing (every attribute hashed before and after,
for each estimator and many kinds of failure); hyperparameters that are not counts are
refused; concurrent ``gibbs`` calls do not race on the model's streams."""

import copy
import hashlib
import threading

import numpy as np
import pytest
from sklearn.base import clone

from rbm import BernoulliRBM, CategoricalRBM, DivergenceError, GaussianBernoulliRBM


@pytest.fixture(scope="module")
def binary():
    return (np.random.default_rng(0).random((80, 6)) < 0.5).astype(float)


def fingerprint(model):
    """A digest of every attribute, walking into the objects, containers and
    random generators inside (their states, not their addresses)."""
    digest = hashlib.blake2b(digest_size=16)

    def add(name, value):
        digest.update(name.encode())
        if isinstance(value, np.ndarray):
            digest.update(repr((value.shape, value.dtype)).encode())
            if value.dtype.kind == "O":
                for i, item in enumerate(value.ravel()):
                    add(f"{name}[{i}]", item)
            else:
                digest.update(np.ascontiguousarray(value).tobytes())
        elif isinstance(value, np.random.Generator):
            add(f"{name}.bit_generator", value.bit_generator)
        elif isinstance(value, np.random.BitGenerator):
            add(f"{name}.state", value.state)
        elif isinstance(value, dict):
            digest.update(f"dict{len(value)}".encode())
            for key in sorted(value, key=repr):
                add(f"{name}[{key!r}]", value[key])
        elif isinstance(value, (list, tuple)):
            digest.update(f"{type(value).__name__}{len(value)}".encode())
            for i, item in enumerate(value):
                add(f"{name}[{i}]", item)
        elif hasattr(value, "__dict__") and not isinstance(value, type):
            digest.update(type(value).__qualname__.encode())
            for key, inner in sorted(vars(value).items()):
                add(f"{name}.{key}", inner)
        else:
            digest.update(repr(value).encode())

    add("model", model)
    return digest.hexdigest()


@pytest.mark.parametrize("failure", ["divergence", "nan", "wider_nan", "bad_parameter"])
def test_a_refit_that_raises_leaves_the_previous_model(binary, failure):
    model = BernoulliRBM(n_components=3, n_iter=2, random_state=0, n_jobs=1).fit(binary)
    before = fingerprint(model)
    X = binary
    if failure == "divergence":
        model.set_params(learning_rate=1e20)
        error = DivergenceError
    elif failure == "nan":
        X = binary.copy()
        X[3, 2] = np.nan
        error = ValueError
    elif failure == "wider_nan":  # a different width would reset n_features_in_
        X = np.full((10, 9), np.nan)
        error = ValueError
    else:
        model.set_params(batch_size=0)
        error = ValueError
    with pytest.raises(error):
        model.fit(X)
    model.set_params(learning_rate="auto", batch_size=20)  # the defaults again
    assert fingerprint(model) == before


def test_a_first_fit_that_diverges_keeps_its_last_sound_parameters(binary):
    model = BernoulliRBM(n_components=3, n_iter=2, random_state=0, learning_rate=1e20)
    with pytest.raises(DivergenceError):
        model.fit(binary)
    assert np.all(np.isfinite(model.components_))


def test_a_partial_fit_that_diverges_changes_nothing():
    X = np.random.default_rng(0).standard_normal((60, 4))
    model = GaussianBernoulliRBM(n_components=3, n_iter=2, random_state=0).fit(X)
    before = fingerprint(model)
    with pytest.raises(DivergenceError):
        model.partial_fit(X * 1e300)
    assert fingerprint(model) == before
    assert np.isfinite(model.log_partition(method="ais", n_chains=4, n_betas=20)[0])


@pytest.mark.parametrize("name", ["n_components", "batch_size", "n_iter", "k", "n_chains",
                                  "n_jobs", "n_temperatures", "n_iter_no_change"])
def test_booleans_are_not_counts(binary, name):
    with pytest.raises(ValueError, match=f"'{name}' parameter .* got True"):
        BernoulliRBM(**{name: True}).fit(binary)
    model = BernoulliRBM(n_components=3, n_iter=1, random_state=0).fit(binary)
    before = fingerprint(model)
    model.set_params(**{name: True})
    with pytest.raises(ValueError, match=f"'{name}' parameter .* got True"):
        model.partial_fit(binary)
    model.set_params(**{name: BernoulliRBM().get_params()[name]})
    model.set_params(n_components=3, n_iter=1)
    assert fingerprint(model) == before


def test_concurrent_gibbs_calls_take_turns_on_the_streams():
    # Large enough that the calls overlap in the kernel, which runs without the GIL.
    binary = (np.random.default_rng(1).random((4000, 64)) < 0.5).astype(float)
    model = BernoulliRBM(n_components=64, n_iter=1, random_state=0).fit(binary[:100])
    twin = clone(model).fit(binary[:100])
    serial = [twin.gibbs(binary) for _ in range(8)]
    results, barrier = [], threading.Barrier(8)

    def call():
        barrier.wait()
        results.append(model.gibbs(binary))

    threads = [threading.Thread(target=call) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # Each concurrent call got one whole stretch of the streams: its output is
    # one of the serial outputs, and no two calls got the same one.
    matches = [[i for i, s in enumerate(serial) if np.array_equal(r, s)] for r in results]
    assert all(len(m) == 1 for m in matches)
    assert sorted(m[0] for m in matches) == list(range(8))


# ----------------------------------------------------------------------
# Every kind of failing call, on each estimator: nothing changes
# ----------------------------------------------------------------------

def atomicity_model(kind):
    """A small fitted model of the kind, the data it was fitted on, and bad
    data of the right width (a value outside its domain)."""
    rng = np.random.default_rng(0)
    params = dict(n_components=3, n_iter=2, batch_size=10, n_chains=4, random_state=0,
                  n_jobs=1)
    if kind == "categorical":
        X = rng.integers(0, 3, (40, 4))
        bad = X.astype(float)
        bad[5, 1] = np.nan  # a missing value
        return CategoricalRBM(**params).fit(X), X, bad
    if kind == "gaussian":
        X = rng.standard_normal((40, 4))
        model = GaussianBernoulliRBM(**params)
    else:
        X = (rng.random((40, 4)) < 0.5).astype(float)
        model = BernoulliRBM(method=kind, n_temperatures=3, **params)
    bad = X.copy()
    bad[5, 1] = np.nan
    return model.fit(X), X, bad


#: Methods that read data, each given X.
DATA_METHODS = ("partial_fit", "fit", "transform", "score", "score_samples", "free_energy",
                "reconstruction_error", "gibbs", "fit_transform")


def failing_calls(X, bad):
    """(label, what to change first or None, the call) for each kind of failure."""
    narrow = X[:, :-1]
    for method in DATA_METHODS:
        if not method.startswith("fit"):  # a refit may change the width
            yield f"{method}(wrong width)", None, lambda m, n=method: getattr(m, n)(narrow)
        yield f"{method}(bad value)", None, lambda m, n=method: getattr(m, n)(bad)
    if X.dtype.kind == "i":  # categories: one not seen in fit
        unseen = X.copy()
        unseen[5, 1] = 7
        for method in DATA_METHODS:
            if not method.startswith("fit"):  # a refit learns it
                yield f"{method}(unseen category)", None, lambda m, n=method: getattr(m, n)(unseen)
    yield "sample(n_samples=0)", None, lambda m: m.sample(0)
    yield "sample(n_steps=0)", None, lambda m: m.sample(2, n_steps=0)
    yield "log_partition(bogus)", None, lambda m: m.log_partition("bogus")
    yield "log_partition(ais, 1 chain)", None, lambda m: m.log_partition("ais", n_chains=1)
    for params in ({"k": 0}, {"batch_size": 0}, {"learning_rate": -1.0},
                   {"momentum": 1.5}, {"method": "bogus"}):
        for method in ("partial_fit", "fit"):
            yield (f"{method} after set_params({params})", lambda m, p=params: m.set_params(**p),
                   lambda m, n=method: getattr(m, n)(X))
    # A refit may change the size; continued training may not.
    yield ("partial_fit after set_params(n_components=5)",
           lambda m: m.set_params(n_components=5), lambda m: m.partial_fit(X))
    for method in ("partial_fit", "fit"):
        yield (f"{method} diverging", lambda m: m.set_params(learning_rate=1e30),
               lambda m, n=method: getattr(m, n)(X))
    tampered = lambda m: setattr(m, "intercept_hidden_", np.zeros(7))  # noqa: E731
    for method in ("partial_fit", "transform", "score", "gibbs", "free_energy"):
        yield f"{method} of a tampered model", tampered, lambda m, n=method: getattr(m, n)(X)
    yield "sample of a tampered model", tampered, lambda m: m.sample(2, n_steps=2)


@pytest.mark.parametrize("kind", ["pcd", "pt", "gaussian", "categorical"])
def test_a_failing_call_changes_no_attribute(kind):
    model, X, bad = atomicity_model(kind)
    checked = []
    for label, prepare, call in failing_calls(X, bad):
        subject = copy.deepcopy(model)
        if prepare is not None:
            prepare(subject)
        before = fingerprint(subject)
        try:
            call(subject)
        except (ValueError, TypeError):
            pass
        else:
            pytest.fail(f"{label} did not fail")
        assert fingerprint(subject) == before, label
        checked.append(label)
    unseen = len(DATA_METHODS) - 2 if kind == "categorical" else 0
    assert len(checked) == 2 * len(DATA_METHODS) - 2 + unseen + 4 + 11 + 2 + 6


def test_the_fingerprint_sees_every_kind_of_change():
    # The check above is only as good as the digest: each of these changes,
    # deep inside the model, must change it.
    model, X, _ = atomicity_model("pt")
    changes = [
        lambda m: m._training.W_velocity.__setitem__((0, 0), 1.0),
        lambda m: m._training.training_streams.bitgens[0].random_raw(),
        lambda m: m._training.shuffle_rng.random(),
        lambda m: m._training.log_partition_cache.clear(),
        lambda m: setattr(m._training, "n_data", 41),
        lambda m: m._training.swap_counts.__setitem__(0, 99),
        lambda m: m.history_["epoch"].append(3),
        lambda m: m.set_params(k=2),
    ]
    for change in changes:
        subject = copy.deepcopy(model)
        subject.log_partition("exact")  # a cache entry to clear
        before = fingerprint(subject)
        change(subject)
        assert fingerprint(subject) != before
