"""Inference on one fitted model from several Python threads at once.

A fitted model is shared read-only by, for example, a web server's worker
threads.  Its inference methods must give exactly what sequential calls give:
they release the GIL inside BLAS and the kernel, so the calls really overlap,
and the log-partition cache is filled by whichever call comes first.
The products NumPy computes (transform, score_samples, free_energy) are
small enough here to run on one BLAS thread whatever the thread count: a
large one made while a kernel call holds NumPy's BLAS at one thread may
differ in its last bits (README, "Threads").
"""

import copy
import random
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from sklearn.datasets import load_digits

from rbm import BernoulliRBM

N_THREADS = 8
N_ROUNDS = 4


@pytest.fixture(scope="module")
def digits_binary():
    return (load_digits().data / 16.0 > 0.5).astype(np.float64)


def inference_calls(model, X):
    """name -> zero-argument call, for every read-only inference method."""
    blocks = np.array_split(X, 6)
    calls = {}
    for i, block in enumerate(blocks):
        calls[f"transform[{i}]"] = lambda b=block: model.transform(b)
        calls[f"score_samples[{i}]"] = lambda b=block: model.score_samples(b)
        calls[f"free_energy[{i}]"] = lambda b=block: model.free_energy(b)
        calls[f"sample[{i}]"] = lambda i=i: model.sample(20, n_steps=5, random_state=i)
    calls["score"] = lambda: model.score(X)
    calls["log_partition"] = lambda: model.log_partition()
    calls["log_partition(ais)"] = lambda: model.log_partition("ais", n_betas=300,
                                                              random_state=0)
    return calls


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_concurrent_inference_matches_sequential(dtype, digits_binary):
    X = digits_binary[:600].astype(dtype)
    model = BernoulliRBM(n_components=12, n_iter=2, random_state=0, n_jobs=1).fit(X)
    calls = inference_calls(model, X)
    expected = {name: call() for name, call in calls.items()}

    # Empty cache: the first concurrent callers of log_partition (directly
    # or through score_samples) race to compute and store it.
    model._training.log_partition_cache.clear()
    jobs = [name for name in calls for _ in range(N_ROUNDS)]
    random.Random(0).shuffle(jobs)
    with ThreadPoolExecutor(max_workers=N_THREADS) as pool:
        results = list(pool.map(lambda name: (name, calls[name]()), jobs))

    assert len(results) == len(jobs)
    for name, result in results:
        if isinstance(result, tuple):  # log_partition: (log Z, standard error)
            assert result == expected[name], name
        else:
            assert np.array_equal(result, expected[name]), name
    assert np.isfinite(expected["score"])
    assert expected["log_partition(ais)"][1] > 0  # the AIS entry really ran AIS


def test_concurrent_gibbs_and_sample_calls_match_a_serial_order():
    # gibbs draws from the model's own streams and sample (random_state=None)
    # from the estimator's RandomState: both are shared by every caller.
    # Started together from several threads, each call must still get a
    # whole stretch of its source, so that its output is one of the outputs
    # of the same calls made one after another, each exactly once.  The
    # sizes put the kernel's products on its thread team (n_jobs=2) while the
    # calls overlap.
    X = (np.random.default_rng(1).random((20000, 64)) < 0.5).astype(np.float64)
    model = BernoulliRBM(n_components=64, n_iter=1, batch_size=100,
                         random_state=np.random.RandomState(0), n_jobs=2).fit(X[:200])
    twin = copy.deepcopy(model)  # the same streams and the same RandomState
    n_calls = 4
    serial = {"gibbs": [twin.gibbs(X) for _ in range(n_calls)],
              "sample": [twin.sample(500, n_steps=5) for _ in range(n_calls)]}
    calls = {"gibbs": lambda: model.gibbs(X), "sample": lambda: model.sample(500, n_steps=5)}
    jobs = ["gibbs", "sample"] * n_calls
    barrier = threading.Barrier(len(jobs))

    def call(name):
        barrier.wait()
        return name, calls[name]()

    with ThreadPoolExecutor(max_workers=len(jobs)) as pool:
        results = list(pool.map(call, jobs))

    for name in calls:
        outputs = [result for kind, result in results if kind == name]
        matches = [[i for i, s in enumerate(serial[name]) if np.array_equal(r, s)]
                   for r in outputs]
        assert all(len(m) == 1 for m in matches), name
        assert sorted(m[0] for m in matches) == list(range(n_calls)), name
    # The serial outputs differ from one another, so matching them means something.
    assert not np.array_equal(serial["gibbs"][0], serial["gibbs"][1])
    assert not np.array_equal(serial["sample"][0], serial["sample"][1])


def test_gibbs_calls_on_different_models_do_not_take_turns(digits_binary):
    # gibbs() took one lock for every model in the process, so threads
    # serving different models ran their gibbs calls one at a time.  Only
    # calls on one model's streams need to take turns.
    # Here model a's call is held inside its chains until model b's call,
    # made meanwhile from another thread, has returned.
    X = digits_binary[:50]
    a, b = (BernoulliRBM(n_components=8, n_iter=1, random_state=seed, n_jobs=1).fit(X)
            for seed in (0, 1))
    expected = copy.deepcopy(b).gibbs(X)
    a_inside, b_done = threading.Event(), threading.Event()
    run_chains = a._run_chains

    def held_run_chains(*args):
        a_inside.set()
        b_done.wait(timeout=60)
        return run_chains(*args)

    a._run_chains = held_run_chains
    with ThreadPoolExecutor(max_workers=2) as pool:
        a_call = pool.submit(a.gibbs, X)
        assert a_inside.wait(timeout=60)
        b_call = pool.submit(b.gibbs, X)
        try:
            b_call.result(timeout=20)  # milliseconds unless it waits for a's call
            b_finished = True
        except TimeoutError:
            b_finished = False
        finally:
            b_done.set()
        a_call.result()
    assert b_finished, "b's gibbs call waited for a's"
    np.testing.assert_array_equal(b_call.result(), expected)


class _ClearedAfterLookUp(dict):
    """A cache that another thread clears right after each membership test:
    the window between a look-up and a read that a fit on one thread and a
    score on another can hit."""

    def __contains__(self, key):
        found = super().__contains__(key)
        self.clear()
        return found


def test_the_improperness_verdict_is_read_once_from_the_cache(digits_binary):
    # Before: "key in cache and cache[key]" raised a bare KeyError when the
    # cache was cleared in between.
    model = BernoulliRBM(n_components=4, hidden="relu", n_iter=2, random_state=0,
                         n_jobs=1).fit(digits_binary[:200])
    expected = model._cached_improperness()
    cache = _ClearedAfterLookUp(model._training.log_partition_cache)
    model._training.log_partition_cache = cache
    assert model._cached_improperness() == expected
