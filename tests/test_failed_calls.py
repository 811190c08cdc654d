"""A call that raises changes nothing; hyperparameters that are not counts are
refused; concurrent ``gibbs`` calls do not race on the model's streams."""

import hashlib
import threading

import numpy as np
import pytest
from sklearn.base import clone

from rbm import BernoulliRBM, DivergenceError, GaussianBernoulliRBM


@pytest.fixture(scope="module")
def binary():
    return (np.random.default_rng(0).random((80, 6)) < 0.5).astype(float)


def fingerprint(model):
    """A digest of every attribute, arrays inside the layer and training objects too."""
    digest = hashlib.blake2b(digest_size=16)

    def add(name, value):
        digest.update(name.encode())
        if isinstance(value, np.ndarray):
            digest.update(repr((value.shape, value.dtype)).encode())
            digest.update(np.ascontiguousarray(value).tobytes())
        elif hasattr(value, "__dict__") and type(value).__module__.startswith("rbm"):
            for key, inner in sorted(vars(value).items()):
                add(f"{name}.{key}", inner)
        else:
            digest.update(repr(value).encode())

    for key, value in sorted(vars(model).items()):
        add(key, value)
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
    model.set_params(learning_rate=0.06, batch_size=20)  # the defaults again
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
