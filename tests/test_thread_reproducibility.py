"""The same ``random_state`` gives the same bits whatever ``n_jobs``.

Two things could make results depend on the thread count, and the kernel
rules out both by construction:

* Matrix products.  A threaded BLAS splits a product by its thread count,
  and its rounding follows the split (on this project's machines OpenBLAS on
  2 threads changed models by about 1e-17).  The kernel cuts every product's
  output into blocks of whole rows or columns fixed by the product's shape
  (``rbm._blas.product_blocks``), never along the summed dimension, and
  computes each block with one single-threaded BLAS call, on the thread team
  or in turn on one thread.
* Sampling.  Rows of chains are chunked over fixed random streams, so a
  thread count only decides who draws a chunk, not from which stream.

Here models are fitted with ``n_jobs`` 1, 2 and 3 (3: a team that does not
divide the blocks evenly) and compared with ``np.array_equal``.  Most tests
lower the kernel's thresholds (``kernel_settings``: products on the BLAS path
even for small models, every product with more than one block and every
layer update on the thread team), so that small, fast models take the
threaded paths; ``team_products`` counts the products that ran on a team, to
show they did.  One test keeps the default settings at a size where products
go to the team on their own.
"""

import copy
import math
import os

import numpy as np
import pytest
import scipy.sparse as sp

from rbm import BernoulliRBM, CategoricalRBM, GaussianBernoulliRBM, _blas, _gibbs

THREAD_COUNTS = (1, 2, 3)
N_VISIBLE = 600       # 3 output blocks in every product with a visible side
N_HIDDEN = 12         # log Z exact (2**12 hidden states), so score is cheap and exact
N_ROWS = 500
N_TEMPERATURES = 3


@pytest.fixture
def threaded_kernel():
    """Every product through BLAS and, when split, on the team; every layer update too."""
    with _gibbs.kernel_settings(small_model_weights=0, product_threshold=0,
                                parallel_threshold=0):
        yield


@pytest.fixture(scope="module")
def binary_rows():
    """Binary rows with structure: noisy copies of 8 random prototypes."""
    rng = np.random.default_rng(0)
    prototypes = rng.random((8, N_VISIBLE)) < 0.3
    rows = prototypes[rng.integers(0, 8, N_ROWS)]
    flips = rng.random(rows.shape) < 0.05
    return (rows ^ flips).astype(np.float64)


def fitted_arrays(model):
    """Every fitted array that training writes, by name."""
    arrays = {name: getattr(model, name) for name in
              ("components_", "intercept_visible_", "intercept_hidden_", "h_samples_")}
    if hasattr(model, "sigma_"):
        arrays["sigma_"] = model.sigma_
    if model.method == "pt":
        arrays["swap_counts"] = model._training.swap_counts
    return arrays


def fit_with_each_thread_count(make_model, X):
    """{n_jobs: fitted model}; checks that n_jobs > 1 ran products on a team."""
    models = {}
    for n_jobs in THREAD_COUNTS:
        before = _blas.team_products()
        models[n_jobs] = make_model(n_jobs).fit(X)
        ran_on_team = _blas.team_products() > before
        assert ran_on_team == (n_jobs > 1), f"n_jobs={n_jobs}: team products {ran_on_team}"
    return models


def fit_counting(make_model, X, counter):
    """({n_jobs: fitted model}, {n_jobs: how far counter() moved during that fit})."""
    models, counts = {}, {}
    for n_jobs in THREAD_COUNTS:
        before = counter()
        models[n_jobs] = make_model(n_jobs).fit(X)
        counts[n_jobs] = counter() - before
    return models, counts


def assert_same_arrays(models):
    reference = fitted_arrays(models[1])
    for n_jobs, model in models.items():
        for name, value in fitted_arrays(model).items():
            assert value.dtype == reference[name].dtype
            assert np.array_equal(value, reference[name]), f"{name}, n_jobs={n_jobs}"


@pytest.mark.parametrize("method", ["cd", "pcd", "pt"])
@pytest.mark.parametrize("n_chains", [100, 1000])
@pytest.mark.parametrize("batch_size", [20, 200, 500])
def test_training_is_exact_across_thread_counts(binary_rows, threaded_kernel, method,
                                                n_chains, batch_size):
    def make_model(n_jobs):
        return BernoulliRBM(n_components=N_HIDDEN, method=method, n_chains=n_chains,
                            batch_size=batch_size, n_temperatures=N_TEMPERATURES, n_iter=1,
                            random_state=0, n_jobs=n_jobs)

    models = fit_with_each_thread_count(make_model, binary_rows)
    assert_same_arrays(models)
    scores = {n_jobs: model.score(binary_rows) for n_jobs, model in models.items()}
    assert len(set(scores.values())) == 1, scores
    assert np.isfinite(scores[1])
    # The model really trained: one pass moved the 0.01-scale initial weights.
    initial = make_model(1).set_params(n_iter=0).fit(binary_rows)
    assert np.abs(models[1].components_ - initial.components_).max() > 1e-3


def test_training_history_is_exact_across_thread_counts(binary_rows, threaded_kernel):
    # The figures recorded after each epoch (exact log-likelihoods here, which
    # early stopping asks for) too.
    def make_model(n_jobs):
        return BernoulliRBM(n_components=N_HIDDEN, batch_size=100, n_iter=2, random_state=0,
                            n_jobs=n_jobs, early_stopping=True)

    models = fit_with_each_thread_count(make_model, binary_rows)
    reference = models[1].history_
    assert np.isfinite(reference["log_likelihood_train"]).all()
    for n_jobs, model in models.items():
        for name, values in model.history_.items():
            if name == "seconds":  # wall-clock time of each epoch
                continue
            values, expected = np.asarray(values), np.asarray(reference[name])
            is_text = values.dtype.kind in "OUS"  # log_likelihood_method: "exact" / "ais"
            assert np.array_equal(values, expected, equal_nan=not is_text), (
                f"history_[{name!r}], n_jobs={n_jobs}")


def gaussian_rows(dtype):
    rng = np.random.default_rng(1)
    mixing = rng.normal(size=(6, N_VISIBLE))
    return (rng.normal(size=(N_ROWS, 6)) @ mixing / 3
            + rng.normal(scale=0.5, size=(N_ROWS, N_VISIBLE))).astype(dtype)


def categorical_rows():
    # 60 features of 8 categories: a one-hot layer of 480 columns (2 blocks).
    rng = np.random.default_rng(2)
    prototypes = rng.integers(0, 8, (5, 60))
    rows = prototypes[rng.integers(0, 5, N_ROWS)]
    noise = rng.random(rows.shape) < 0.1
    return np.where(noise, rng.integers(0, 8, rows.shape), rows)


@pytest.mark.parametrize("visible, dtype, container", [
    ("bernoulli", np.float32, "dense"),
    ("bernoulli", np.float64, "csr"),
    ("bernoulli", np.float32, "csr"),
    ("gaussian", np.float64, "dense"),
    ("gaussian", np.float32, "csr"),
    ("categorical", np.float64, "dense"),
    ("categorical", np.float32, "dense"),
])
@pytest.mark.parametrize("method", ["pcd", "pt"])
def test_every_visible_type_dtype_and_container(binary_rows, threaded_kernel, visible, dtype,
                                                container, method):
    common = dict(n_components=N_HIDDEN, method=method, n_temperatures=N_TEMPERATURES,
                  batch_size=100, n_chains=200, n_iter=1, random_state=0)
    if visible == "bernoulli":
        X, make = binary_rows.astype(dtype), lambda n: BernoulliRBM(n_jobs=n, **common)
    elif visible == "gaussian":
        X, make = gaussian_rows(dtype), lambda n: GaussianBernoulliRBM(n_jobs=n, **common)
    else:
        X = categorical_rows()
        make = lambda n: CategoricalRBM(n_jobs=n, dtype=dtype, **common)  # noqa: E731
    if container == "csr":
        X = sp.csr_matrix(X)
    models = fit_with_each_thread_count(make, X)
    assert models[1].components_.dtype == dtype
    assert_same_arrays(models)
    scores = {n_jobs: model.score(X) for n_jobs, model in models.items()}
    assert len(set(scores.values())) == 1, scores


def test_default_settings_put_large_products_on_the_team():
    # No lowered thresholds: at 784 x 64, batch 100, the products are large
    # enough for the team (the repro was the defaults on 400 x 784).
    rng = np.random.default_rng(3)
    X = (rng.random((300, 784)) < 0.2).astype(np.float32)

    def make_model(n_jobs):
        return BernoulliRBM(n_components=64, batch_size=100, n_iter=1, random_state=0,
                            n_jobs=n_jobs)

    models = fit_with_each_thread_count(make_model, X)
    assert_same_arrays(models)
    # The per-epoch figures come from NumPy products of this size too.
    for model in models.values():
        assert model.history_["reconstruction_error"] == models[1].history_[
            "reconstruction_error"]
        assert model.history_["free_energy_data"] == models[1].history_["free_energy_data"]
    estimates = {n_jobs: model.log_partition("ais", n_betas=200, random_state=0)
                 for n_jobs, model in models.items()}
    assert len(set(estimates.values())) == 1, estimates


def test_gaussian_visible_passes_on_the_team_give_the_same_model():
    # Default settings at 784 visible units: the Gaussian layer's own passes
    # (batch loading and scaling by rows; the moments and the weight step
    # with its log sigma terms by columns) go to the team on their own.
    rng = np.random.default_rng(4)
    X = (rng.normal(size=(300, 6)) @ rng.normal(size=(6, 784)) / 3
         + rng.normal(scale=0.5, size=(300, 784))).astype(np.float32)

    def make_model(n_jobs):
        return GaussianBernoulliRBM(n_components=64, batch_size=100, n_iter=2,
                                    learning_rate=0.001, random_state=0, n_jobs=n_jobs)

    models, passes = fit_counting(make_model, X, _gibbs.team_column_passes)
    # 3 batches x 2 epochs, each: load, moments, weight step.
    assert passes == {1: 0, 2: 18, 3: 18}, passes
    assert_same_arrays(models)


def test_categorical_row_sums_on_the_team_give_the_same_model():
    # Default settings at the benchmark's 27 sites x 20 states x 100 hidden:
    # the row-sum products (hidden field, weight step) split rows over the team.
    rng = np.random.default_rng(5)
    X = rng.integers(0, 20, size=(300, 27))

    def make_model(n_jobs):
        return CategoricalRBM(n_components=100, batch_size=100, n_iter=2, random_state=0,
                              n_jobs=n_jobs, dtype=np.float32)

    models, products = fit_counting(make_model, X, _blas.team_products)
    # Per batch (3 batches x 2 epochs), three products on the team: the
    # visible field by BLAS blocks, the hidden field and the weight step by
    # row sums (before the row sums took the team: 6 in all).
    assert products == {1: 0, 2: 18, 3: 18}, products
    assert_same_arrays(models)


def _small_rows(visible):
    rng = np.random.default_rng(6)
    if visible == "binary":
        return BernoulliRBM, (rng.random((200, 40)) < 0.3).astype(np.float64)
    if visible == "gaussian":
        return GaussianBernoulliRBM, rng.normal(size=(200, 5)) @ rng.normal(size=(5, 40))
    return CategoricalRBM, rng.integers(0, 4, size=(200, 10))


@pytest.mark.parametrize("method", ["pcd", "pt"])
@pytest.mark.parametrize("visible, hidden", [
    ("binary", "bernoulli"), ("binary", "gaussian"), ("binary", "relu"), ("binary", "drelu"),
    ("gaussian", "drelu"), ("categorical", "relu")])
def test_chain_sample_beside_the_update_gives_the_same_model(visible, hidden, method):
    # Default settings at a small model: PCD and PT draw the chains' next
    # sample of real-valued hidden units on a second thread while the first
    # computes the gradient and the weight step (_gibbs._update).  The sample
    # must read nothing the update writes (the Gaussian layer's moments
    # rescale VS; the weight step scales HS), so the model is the same bits
    # as with the sample drawn first on one thread.
    estimator, X = _small_rows(visible)

    # (Gaussian rows at a tenth of the rate: at 0.01 the dReLU model ends
    # improper, which fit refuses; the threads' path is the same.)
    learning_rate = 0.001 if visible == "gaussian" else 0.01

    def make_model(n_jobs):
        # 10 chains x 64 units: a sample big enough to go beside the update.
        return estimator(n_components=64, batch_size=10, n_chains=10, n_iter=2, method=method,
                         hidden=hidden, learning_rate=learning_rate, random_state=0,
                         n_jobs=n_jobs)

    models, beside = fit_counting(make_model, X, _gibbs.chain_samples_beside_update)
    # 20 batches x 2 epochs on more than one thread; a Bernoulli draw costs
    # less than waking a thread, so binary hidden units never do it.
    expected = 0 if hidden == "bernoulli" else 40
    assert beside == {1: 0, 2: expected, 3: expected}, beside
    with _gibbs.kernel_settings(chain_sample_beside_update=False) as settings:
        assert not settings["chain_sample_beside_update"]
        before = _gibbs.chain_samples_beside_update()
        models["off"] = make_model(2).fit(X)
        assert _gibbs.chain_samples_beside_update() == before
    assert_same_arrays(models)


@pytest.mark.parametrize("hidden", ["relu", "drelu"])
def test_a_team_sized_chain_sample_goes_beside_the_update_on_two_threads(hidden):
    # 100 chains x 64 units: a sample the team would share out.  On two
    # threads and with 64 visible units one thread draws it beside the
    # update instead; on three the team draws it, then the update runs.  The
    # same bits every way.
    X = (np.random.default_rng(7).random((200, 64)) < 0.3).astype(np.float64)

    def make_model(n_jobs):
        return BernoulliRBM(n_components=64, batch_size=10, n_chains=100, n_iter=1,
                            hidden=hidden, learning_rate=0.01, random_state=0, n_jobs=n_jobs)

    models, beside = fit_counting(make_model, X, _gibbs.chain_samples_beside_update)
    assert beside == {1: 0, 2: 20, 3: 0}, beside
    assert_same_arrays(models)


def test_small_chain_samples_are_drawn_after_the_update():
    # 10 chains x 16 units: fewer than the kernel's minimum, so the second
    # thread is not woken for them (it cost such fits 5%).
    _, X = _small_rows("binary")
    before = _gibbs.chain_samples_beside_update()
    BernoulliRBM(n_components=16, batch_size=10, n_chains=10, n_iter=1, hidden="drelu",
                 random_state=0, n_jobs=2).fit(X)
    assert _gibbs.chain_samples_beside_update() == before


def test_inference_is_exact_across_thread_counts(binary_rows, threaded_kernel):
    X = binary_rows
    fitted = BernoulliRBM(n_components=N_HIDDEN, batch_size=100, n_iter=1, random_state=0,
                          n_jobs=1).fit(X)
    outputs = {}
    for n_jobs in THREAD_COUNTS:
        model = copy.deepcopy(fitted).set_params(n_jobs=n_jobs)  # the same streams
        before = _blas.team_products()
        outputs[n_jobs] = dict(
            gibbs=model.gibbs(X),
            sample=model.sample(300, n_steps=3, method="gibbs", random_state=1),
            transform=model.transform(X),
            free_energy=model.free_energy(X),
            ais=np.array(model.log_partition("ais", n_betas=100, random_state=2)),
        )
        assert (_blas.team_products() > before) == (n_jobs > 1)
    for n_jobs, results in outputs.items():
        for name, value in results.items():
            assert np.array_equal(value, outputs[1][name]), f"{name}, n_jobs={n_jobs}"


@pytest.mark.parametrize("m, n", [(12, 1200), (400, 100), (784, 500), (500, 2000), (383, 3)])
def test_product_blocks_depend_on_the_shape_only(m, n):
    split, bounds = _blas.product_blocks(m, n)
    dim = m if split == "m" else n
    assert split == ("m" if m >= n else "n")
    assert bounds[0] == 0 and bounds[-1] == dim
    widths = np.diff(bounds)
    # Whole blocks of at least 192 - 16 rows or columns (one block below 384).
    assert np.all(widths > 0)
    assert len(widths) == 1 or widths.min() >= 176
    assert (len(widths) == 1) == (dim < 384)
    assert all(b % 16 == 0 for b in bounds[:-1])


def test_fits_after_the_first_do_not_search_for_thread_pools(monkeypatch):
    # threadpoolctl's discovery reads /proc/self/maps and dlopens every
    # library: 1.7 ms idle, tens of ms under load, once per fit and
    # partial_fit before.  The BLAS controllers are found once per process.
    import threadpoolctl

    X = (np.random.default_rng(0).random((50, 8)) < 0.5).astype(np.float64)
    model = BernoulliRBM(n_components=4, n_iter=1, random_state=0)
    model.fit(X)
    searches = []
    original = threadpoolctl.ThreadpoolController.__init__

    def counting_init(self, *args, **kwargs):
        searches.append(1)
        original(self, *args, **kwargs)

    monkeypatch.setattr(threadpoolctl.ThreadpoolController, "__init__", counting_init)
    model.fit(X)
    model.partial_fit(X)
    model.transform(X)
    assert searches == []


def _openblas_of_numpy_and_scipy():
    """threadpoolctl's record of the BLAS libraries NumPy and SciPy bundle, where both
    are OpenBLAS with its own threads (pthreads), else None."""
    import threadpoolctl

    found = [info for info in threadpoolctl.threadpool_info()
             if info["user_api"] == "blas"
             and any(name in info["filepath"] for name in ("numpy", "scipy"))]
    plain = [info for info in found
             if info["internal_api"] == "openblas" and info.get("threading_layer") == "pthreads"]
    return found if len(found) == 2 and plain == found else None


def test_numpys_and_scipys_blas_are_pinned_without_a_search_of_every_library():
    # threadpoolctl's search realpaths and matches every loaded library
    # (more than 200 after importing scikit-learn): 10 ms, most of a small
    # first fit.  Where NumPy and SciPy bring their own OpenBLAS (pip's
    # wheels), the libraries their products call are found from the modules
    # that call them, and single_threaded_blas holds exactly those at one thread.
    import subprocess
    import sys

    expected = _openblas_of_numpy_and_scipy()
    if expected is None:
        pytest.skip("NumPy's and SciPy's BLAS are not two pthreads OpenBLAS builds here "
                    "(threadpoolctl's search is the path taken)")
    code = (
        "import os, threadpoolctl\n"
        "real = threadpoolctl.ThreadpoolController.__init__\n"
        "def refuse(self, *a, **k): raise AssertionError('searched every library')\n"
        "threadpoolctl.ThreadpoolController.__init__ = refuse\n"
        "from rbm import _blas\n"
        "found = sorted(os.path.realpath(c.filepath) for c in _blas._blas_controllers())\n"
        "assert _blas._find_numpy_blas() is not None\n"
        "threadpoolctl.ThreadpoolController.__init__ = real\n"
        "threadpoolctl.threadpool_limits(3, user_api='blas').__enter__()\n"
        "with _blas.single_threaded_blas():\n"
        "    inside = {i['filepath']: i['num_threads'] for i in threadpoolctl.threadpool_info()}\n"
        "after = {i['filepath']: i['num_threads'] for i in threadpoolctl.threadpool_info()}\n"
        "print(found, [inside[p] for p in found], [after[p] for p in found])\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    paths = sorted(info["filepath"] for info in expected)
    assert result.stdout.strip() == f"{paths} [1, 1] [3, 3]"


def test_blas_is_pinned_through_threadpoolctl_where_the_direct_search_finds_none(monkeypatch):
    # A BLAS other than a pthreads OpenBLAS (MKL, an OpenMP build, another
    # platform): threadpoolctl's controllers of every BLAS loaded, as before.
    import threadpoolctl

    monkeypatch.setattr(_blas, "_linked_openblas", lambda: None)
    monkeypatch.setattr(_blas, "_blas_libraries", None)
    controllers = _blas._blas_controllers()
    expected = threadpoolctl.ThreadpoolController().select(user_api="blas").lib_controllers
    assert sorted(c.filepath for c in controllers) == sorted(c.filepath for c in expected)
    with threadpoolctl.threadpool_limits(2, user_api="blas"):
        with _blas.single_threaded_blas():
            assert all(c.get_num_threads() == 1 for c in controllers)
        assert all(c.get_num_threads() == 2 for c in controllers)


@pytest.fixture
def machine(monkeypatch):
    """Pretend to run on 4 cores with a given number of runnable threads."""
    import rbm._threads as threads
    monkeypatch.setattr(threads, "available_cores", lambda: 4)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    # The OpenMP runtime's own limit is this machine's core count: no limit.
    monkeypatch.setattr(threads, "openmp_max_threads", lambda: 0)
    monkeypatch.setattr(threads, "_load_reading", [-float("inf"), None, 0])

    monkeypatch.setattr(threads, "_own_runnable_threads", lambda: 1)

    def with_runnable(count):
        monkeypatch.setattr(threads, "_runnable_threads", lambda: count)
        threads._load_reading[:] = [-float("inf"), None, 0]  # no reading before
        return threads

    return with_runnable


def test_default_threads_leave_the_cores_other_processes_use(machine):
    threads = machine(1)  # only the caller runs: every core
    assert threads.effective_n_threads(None) == 4
    threads = machine(3)  # two other threads running: two cores left
    assert threads.effective_n_threads(None) == 2
    threads = machine(40)  # a busy machine: one thread, never none
    assert threads.effective_n_threads(None) == 1
    # Explicit counts are taken as given, -1 is every core whatever the load.
    assert threads.effective_n_threads(3) == 3
    assert threads.effective_n_threads(-1) == 4
    assert threads.effective_n_threads(-2) == 3
    threads = machine(None)  # load unknown (not Linux): every core
    assert threads.effective_n_threads(None) == 4
    # This process's own running threads (a thread team still spinning after
    # a product) are not other load.
    threads = machine(3)
    threads._own_runnable_threads = lambda: 3
    assert threads.effective_n_threads(None) == 4


def test_an_idle_machine_is_seen_without_reading_each_threads_state(machine):
    # One runnable thread is the caller: there is nothing of this process's
    # own to subtract, so the file per thread is not read (a quarter of a
    # small fit); with more runnable threads it is.
    threads = machine(1)
    reads = []
    threads._own_runnable_threads = lambda: reads.append(1) or 1
    assert threads.effective_n_threads(None) == 4 and reads == []
    threads = machine(2)
    threads._own_runnable_threads = lambda: reads.append(1) or 1
    assert threads.effective_n_threads(None) == 3 and reads == [1]


def test_default_threads_follow_omp_num_threads_as_joblib_sets_it(machine, monkeypatch):
    threads = machine(1)
    for value, expected in [("2", 2), ("1,1", 1), ("8", 4), ("", 4), ("many", 4), ("0", 4)]:
        monkeypatch.setenv("OMP_NUM_THREADS", value)
        assert threads.effective_n_threads(None) == expected, value


def test_a_load_reading_is_reused_briefly(machine):
    threads = machine(1)
    assert threads.idle_cores(4) == 4
    threads._runnable_threads = lambda: 4  # the machine got busy...
    assert threads.idle_cores(4) == 4  # ...seen after LOAD_READING_SECONDS,
    threads._load_reading[0] -= 2 * threads.LOAD_READING_SECONDS
    assert threads.idle_cores(4) == 4  # ...and confirmed by the reading after
    threads._load_reading[0] -= 2 * threads.LOAD_READING_SECONDS
    assert threads.idle_cores(4) == 1


def _readings(threads, counts, seconds_apart):
    """idle_cores(4) after each count of runnable threads, readings
    ``seconds_apart`` apart (the clock moved back by rewriting the last
    reading's time)."""
    idle = []
    for count in counts:
        threads._runnable_threads = lambda count=count: count
        threads._load_reading[0] -= seconds_apart
        idle.append(threads.idle_cores(4))
    return idle


def test_a_thread_runnable_for_one_reading_costs_no_thread(machine):
    # An idle VM shows a runnable thread of its own now and then: alone in
    # its reading, it is not load.
    threads = machine(1)
    assert _readings(threads, [1, 2, 1, 1, 2, 1], 0.2) == [4, 4, 4, 4, 4, 4]
    # Load that stays is seen from its second reading on, and gone the same way.
    threads = machine(1)
    assert _readings(threads, [1, 3, 3, 3, 1, 1], 0.2) == [4, 4, 2, 2, 4, 4]


def test_a_first_reading_in_a_while_is_taken_as_it_is(machine):
    # No recent reading to confirm it: a busy machine's first fit in a
    # process, or after a pause, starts with the threads that are free.
    threads = machine(3)
    assert threads.idle_cores(4) == 2
    threads = machine(1)
    assert _readings(threads, [1], 0.2) == [4]
    assert _readings(threads, [3], 2 * threads.LOAD_CONFIRM_SECONDS) == [2]


def test_parallel_fits_in_joblib_workers_share_the_cores():
    # joblib's process workers (GridSearchCV(n_jobs=2) and the like) set
    # OMP_NUM_THREADS to their share of the cores: each fit stays within it.
    from joblib import Parallel, delayed

    from rbm._threads import available_cores, effective_n_threads
    share = max(1, available_cores() // 2)
    counts = Parallel(n_jobs=2, backend="loky")(
        delayed(effective_n_threads)(None) for _ in range(2))
    assert all(1 <= count <= share for count in counts), counts


def test_kernel_calls_hold_their_threads_from_other_calls_of_the_process(machine):
    # Was: idle_cores subtracts this process's own running threads (a team
    # still spinning is no other process's load), so two fits on two Python
    # threads (joblib's threading backend, a user's threads) each took every
    # idle core: 2 x 2 threads on a 2-core machine.
    threads = machine(1)  # an idle 4-core machine
    with threads.kernel_threads(None) as first:
        assert first == 4 and threads.threads_held() == 4
        with threads.kernel_threads(None) as second:
            assert second == 1  # its calling thread, at least
            assert threads.effective_n_threads(None) == 1
        assert threads.effective_n_threads(None) == 1
    assert threads.threads_held() == 0 and threads.effective_n_threads(None) == 4
    with threads.kernel_threads(3) as given:  # a count given is taken as given, and held
        assert given == 3 and threads.effective_n_threads(None) == 1
    with pytest.raises(RuntimeError):
        with threads.kernel_threads(2):
            raise RuntimeError("a failed kernel call gives its threads back")
    assert threads.threads_held() == 0


def test_a_call_that_can_use_few_threads_holds_only_those(machine):
    # Review: a 2-row sample (one chunk of chains, so one thread) held every
    # idle core while it ran, and a fit's pass started meanwhile got one.
    threads = machine(1)
    with threads.kernel_threads(None, most=1) as sampler:
        assert sampler == 1
        with threads.kernel_threads(None) as fit:
            assert fit == 3
    with threads.kernel_threads(2, most=1) as given:
        assert given == 1


def test_two_fits_meet_at_half_the_cores_each(machine):
    # Review: whoever asked first kept every core but the other's one.  Each
    # fit re-reads its count at each pass (a hold per pass): the first's
    # next pass takes its fair share, and the second's next pass the rest.
    threads = machine(1)
    counts = {}
    first = threads.kernel_threads(None)
    counts["first, alone"] = first.__enter__()
    second = threads.kernel_threads(None)
    counts["second, beside it"] = second.__enter__()
    first.__exit__(None, None, None)
    first = threads.kernel_threads(None)
    counts["first, next pass"] = first.__enter__()
    second.__exit__(None, None, None)
    second = threads.kernel_threads(None)
    counts["second, next pass"] = second.__enter__()
    for hold in (first, second):
        hold.__exit__(None, None, None)
    assert counts == {"first, alone": 4, "second, beside it": 1, "first, next pass": 2,
                      "second, next pass": 2}


@pytest.mark.parametrize("idle, demands, share", [
    (4, [], 4), (4, [math.inf], 2), (4, [1], 3), (2, [math.inf], 1),
    (8, [1, math.inf], 3), (4, [math.inf, math.inf, math.inf, math.inf], 1), (3, [2, 2], 1)])
def test_fair_share_is_max_min_fair(idle, demands, share):
    from rbm._threads import fair_share
    assert fair_share(idle, demands) == share
    # What it leaves the others covers what they could use, up to the same level.
    assert share + sum(min(demand, share) for demand in demands) <= max(idle, len(demands) + 1)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork is POSIX only")
def test_a_forked_child_holds_none_of_its_parents_threads(machine):
    # Review: a child made by fork while a call held threads kept that hold
    # for ever (no thread of the child releases it): every n_jobs=None call
    # there ran on fewer threads.
    threads = machine(1)
    read_end, write_end = os.pipe()
    with threads.kernel_threads(3):
        pid = os.fork()
        if pid == 0:  # the child: report, and leave at once
            os.write(write_end, f"{threads.threads_held()} {threads.effective_n_threads(None)}"
                     .encode())
            os._exit(0)
    os.waitpid(pid, 0)
    assert os.read(read_end, 100).decode() == "0 4"
    os.close(read_end)
    os.close(write_end)


def test_fits_on_two_python_threads_share_the_cores(machine, binary_rows, monkeypatch,
                                                     threaded_kernel):
    import threading

    threads = machine(1)  # an idle 4-core machine
    train = _gibbs.train_minibatches
    both_in_a_pass = threading.Barrier(2, timeout=30)
    seen = {}

    def first_passes_meet(*args):
        # Each worker's first pass waits inside its hold for the other's.
        if threading.current_thread() in workers and threading.get_ident() not in seen:
            seen[threading.get_ident()] = args[-1]
            both_in_a_pass.wait()
        return train(*args)

    monkeypatch.setattr(_gibbs, "train_minibatches", first_passes_meet)
    models = [BernoulliRBM(n_components=8, n_iter=2, random_state=0) for _ in range(2)]
    workers = [threading.Thread(target=model.fit, args=(binary_rows,)) for model in models]
    products = _blas.team_products()
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert sorted(seen.values()) == [1, 4]  # not [4, 4]
    assert _blas.team_products() > products  # (the 4-thread fit ran a team)
    assert threads.threads_held() == 0
    alone = BernoulliRBM(n_components=8, n_iter=2, random_state=0, n_jobs=1).fit(binary_rows)
    for model in models:  # the thread count changes no result
        np.testing.assert_array_equal(model.components_, alone.components_)


def test_partial_fit_records_its_pass_with_blas_held_at_one_thread(binary_rows, monkeypatch):
    # A pass's history_ row (reconstruction error, free energies) comes from
    # NumPy products, as fit's epoch figures do: on one BLAS thread, so that
    # its rounding does not follow the thread count, and so that OpenBLAS's
    # workers are not left spinning into the next call's kernel (a loop of
    # partial_fit calls ran 2.4x slower on 2 cores with them spinning).
    import threadpoolctl

    from rbm import _training

    seen = []
    compute = _training.EpochFigures.compute

    def spy(*args, **kwargs):
        seen.append([c.get_num_threads() for c in _blas._blas_controllers()])
        return compute(*args, **kwargs)

    monkeypatch.setattr(_training.EpochFigures, "compute", spy)
    model = BernoulliRBM(n_components=N_HIDDEN, batch_size=100, random_state=0)
    with threadpoolctl.threadpool_limits(2, user_api="blas"):
        model.partial_fit(binary_rows[:200])
        model.partial_fit(binary_rows[200:400])
        assert all(c.get_num_threads() == 2 for c in _blas._blas_controllers())
    assert len(seen) == 2 and len(seen[0]) > 0
    assert seen == [[1] * len(seen[0])] * 2, seen
    assert len(model.history_["reconstruction_error"]) == 2


def test_the_gaussian_pair_start_does_not_follow_numpys_blas_threads():
    # Gaussian visible and hidden units start at the data's moments, computed
    # with NumPy's products: outside the one-thread block they followed
    # NumPy's BLAS thread count (which threadpool_limits, or a concurrent
    # call holding it at one thread, changes), so the same random_state gave
    # another start and another model.
    from threadpoolctl import threadpool_limits

    rng = np.random.RandomState(0)
    X = rng.randn(1000, 120) @ rng.randn(120, 120) / 10
    X = (X - X.mean(0)) / X.std(0)

    def start(limit):
        model = GaussianBernoulliRBM(n_components=40, hidden="gaussian", n_iter=1,
                                     learning_rate=1e-300, random_state=0)
        with threadpool_limits(limit):
            model.fit(X)
        return model.components_, model.sigma_

    for one, two in zip(start(1), start(2)):
        np.testing.assert_array_equal(one, two)
