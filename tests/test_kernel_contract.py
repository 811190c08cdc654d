"""The kernel's entry points check what they will touch, and say what is wrong.

``train_minibatches``, ``gibbs_chains`` and ``ais_log_weights`` take duck-typed
argument objects (see ``rbm/_gibbs.pyx``).  The Python side validates user
input first; these checks are defence in depth: an array of the wrong shape,
dtype or layout, or an index out of range, must raise a ValueError that names
the argument and attribute, never reach memory.  Each case starts from a
valid call (which is run too, so the baseline really is valid) and breaks one
thing.
"""

from types import SimpleNamespace

import numpy as np
import pytest

from rbm import _gibbs

N_VISIBLE, N_HIDDEN, N_ROWS, N_CHAINS = 6, 4, 20, 5


def streams(n_rows):
    seeds = np.random.SeedSequence(0).spawn(_gibbs.n_streams_for(n_rows) + 1)
    return [np.random.SFC64(s) for s in seeds]


def params(dtype=np.float64):
    rng = np.random.default_rng(0)
    return SimpleNamespace(W=0.1 * rng.standard_normal((N_HIDDEN, N_VISIBLE)).astype(dtype),
                           b=np.zeros(N_VISIBLE, dtype), c=np.zeros(N_HIDDEN, dtype))


def visible(kind="bernoulli", dtype=np.float64):
    if kind == "gaussian":
        state = np.ones((_gibbs.GAUSSIAN_STATE_SHAPE_ROWS, N_VISIBLE), dtype=dtype)
        state[_gibbs.GAUSSIAN_VELOCITY] = 0.0
        state[_gibbs.GAUSSIAN_SIGMA_MIN] = 0.1
        state[_gibbs.GAUSSIAN_SIGMA_MAX] = 2.0
        return SimpleNamespace(kind=_gibbs.VISIBLE_GAUSSIAN, state=state, groups=None,
                               learn_sigma=True)
    if kind == "categorical":
        return SimpleNamespace(kind=_gibbs.VISIBLE_CATEGORICAL, state=None,
                               groups=np.array([0, 2, 4, 6], dtype=np.intp),
                               learn_sigma=False)
    return SimpleNamespace(kind=_gibbs.VISIBLE_BERNOULLI, state=None, groups=None,
                           learn_sigma=False)


def training_call(method=_gibbs.METHOD_PCD, sparse=False, dtype=np.float64):
    """Valid (batches, params, state, update, visible, streams, n_threads) of one call."""
    rng = np.random.default_rng(1)
    X = (rng.random((N_ROWS, N_VISIBLE)) < 0.4).astype(dtype)
    batches = SimpleNamespace(X=X, csr_data=None, csr_indices=None, csr_indptr=None,
                              order=np.arange(N_ROWS, dtype=np.intp),
                              ends=np.array([7, 14, 20], dtype=np.intp))
    if sparse:
        import scipy.sparse as sp
        csr = sp.csr_matrix(X)
        batches.X = None
        batches.csr_data, batches.csr_indices = csr.data, csr.indices
        batches.csr_indptr = csr.indptr.astype(np.intp)
    n_temperatures = 3 if method == _gibbs.METHOD_PT else 1
    state = SimpleNamespace(
        W_velocity=np.zeros((N_HIDDEN, N_VISIBLE), dtype), b_velocity=np.zeros(N_VISIBLE, dtype),
        c_velocity=np.zeros(N_HIDDEN, dtype),
        chains=np.zeros((n_temperatures * N_CHAINS, N_HIDDEN), dtype),
        visible_offset=np.zeros(N_VISIBLE, dtype), hidden_offset=np.zeros(N_HIDDEN, dtype),
        hidden_activity=np.zeros(N_HIDDEN, dtype),
        swap_counts=np.zeros(2 * (n_temperatures - 1), dtype=np.int_)
        if method == _gibbs.METHOD_PT else None)
    update = SimpleNamespace(
        method=method, k=1, learning_rate=0.1, momentum=0.5, weight_decay=1e-3,
        l1_weight_decay=0.0, l1_squared_weight_decay=0.0, sparsity_target=0.1,
        sparsity_cost=0.0, offset_rate=0.0,
        betas=np.linspace(1.0, 0.0, n_temperatures) if method == _gibbs.METHOD_PT else None,
        base_bias=np.zeros(N_VISIBLE, dtype) if method == _gibbs.METHOD_PT else None)
    n_streams = _gibbs.n_streams_for(N_CHAINS) * n_temperatures + 1
    return [batches, params(dtype), state, update, visible(dtype=dtype),
            streams(n_streams * _gibbs.CHUNK_ROWS), 1]


ARGUMENTS = ["batches", "params", "state", "update", "visible", "streams", "n_threads"]


def broken_training_call(where, name, value, **kwargs):
    call = training_call(**kwargs)
    if name is None:
        call[ARGUMENTS.index(where)] = value
    else:
        setattr(call[ARGUMENTS.index(where)], name, value)
    return call


@pytest.mark.parametrize("method", [_gibbs.METHOD_CD, _gibbs.METHOD_PCD, _gibbs.METHOD_PT])
@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
def test_valid_training_calls_run(method, sparse):
    call = training_call(method=method, sparse=sparse)
    W_before = call[1].W.copy()
    _gibbs.train_minibatches(*call)
    assert not np.array_equal(call[1].W, W_before)
    assert np.all(np.isfinite(call[1].W))


def bad(shape, dtype=np.float64):
    return np.zeros(shape, dtype=dtype)


TRAINING_CASES = [
    # (argument, attribute, bad value, words the message must contain, call options)
    ("params", "W", bad((N_HIDDEN, N_VISIBLE), np.int64), "params.W", {}),
    ("params", "W", bad((N_HIDDEN, N_VISIBLE, 1)), "params.W", {}),
    ("params", "W", np.zeros((N_VISIBLE, N_HIDDEN)).T, "params.W", {}),  # not C-contiguous
    ("params", "W", [[0.0] * N_VISIBLE] * N_HIDDEN, "params.W", {}),
    ("params", "b", bad(N_VISIBLE + 1), "params.b", {}),
    ("params", "c", bad(N_HIDDEN, np.float32), "params.c", {}),
    ("params", "c", None, "params.c", {}),
    ("batches", "X", bad((N_ROWS, N_VISIBLE + 1)), "batches.X", {}),
    ("batches", "X", bad((N_ROWS, N_VISIBLE), np.float32), "batches.X", {}),
    ("batches", "X", None, "batches", {}),
    ("batches", "order", np.arange(N_ROWS, dtype=np.int32), "batches.order", {}),
    ("batches", "order", np.array([0, N_ROWS], dtype=np.intp), "batches.order", {}),
    ("batches", "order", np.array([-1, 0], dtype=np.intp), "batches.order", {}),
    ("batches", "ends", np.array([7, 5, 20], dtype=np.intp), "batches.ends", {}),
    ("batches", "ends", np.array([7, 21], dtype=np.intp), "batches.ends", {}),
    ("batches", "ends", np.array([-1, 20], dtype=np.intp), "batches.ends", {}),
    ("batches", "csr_indices", np.full(1, N_VISIBLE, dtype=np.int32), "batches.csr_indices",
     {"sparse": True}),
    ("batches", "csr_indptr", np.zeros(3, dtype=np.int32), "batches.csr_indptr",
     {"sparse": True}),
    ("batches", "csr_data", bad(3, np.float32), "batches.csr_data", {"sparse": True}),
    ("state", "W_velocity", bad((N_HIDDEN, N_VISIBLE - 1)), "state.W_velocity", {}),
    ("state", "b_velocity", bad(N_VISIBLE - 1), "state.b_velocity", {}),
    ("state", "c_velocity", bad(N_HIDDEN, np.float32), "state.c_velocity", {}),
    ("state", "chains", bad((N_CHAINS, N_HIDDEN + 1)), "state.chains", {}),
    ("state", "chains", None, "state.chains", {}),
    ("state", "chains", bad((N_CHAINS * 3 + 1, N_HIDDEN)), "state.chains",
     {"method": _gibbs.METHOD_PT}),
    ("state", "visible_offset", bad(N_VISIBLE + 2), "state.visible_offset", {}),
    ("state", "hidden_offset", bad(1), "state.hidden_offset", {}),
    ("state", "hidden_activity", bad(N_HIDDEN, np.int64), "state.hidden_activity", {}),
    ("state", "swap_counts", np.zeros(3, dtype=np.int_), "state.swap_counts",
     {"method": _gibbs.METHOD_PT}),
    ("state", "swap_counts", np.zeros(4, dtype=np.int32), "state.swap_counts",
     {"method": _gibbs.METHOD_PT}),
    ("update", "method", 3, "update.method", {}),
    ("update", "k", 0, "update.k", {}),
    ("update", "k", 1.5, "update.k", {}),
    ("update", "learning_rate", "fast", "update.learning_rate", {}),
    ("update", "betas", bad(3, np.float32), "update.betas", {"method": _gibbs.METHOD_PT}),
    ("update", "betas", None, "update.betas", {"method": _gibbs.METHOD_PT}),
    ("update", "base_bias", bad(N_VISIBLE + 1), "update.base_bias",
     {"method": _gibbs.METHOD_PT}),
    ("visible", "kind", 7, "visible.kind", {}),
    ("visible", "groups", None, "visible.groups", {}),  # with kind set categorical below
    ("streams", None, streams(1)[:0], "streams", {}),
    ("streams", None, ["not a stream"] * 10, "streams[0]", {}),
    ("n_threads", None, 0, "n_threads", {}),
]


@pytest.mark.parametrize("where, name, value, words, options", TRAINING_CASES,
                         ids=[f"{w}.{n}-{i}" for i, (w, n, *_) in enumerate(TRAINING_CASES)])
def test_train_minibatches_rejects(where, name, value, words, options):
    call = broken_training_call(where, name, value, **options)
    if (where, name) == ("visible", "groups"):
        call[4].kind = _gibbs.VISIBLE_CATEGORICAL
    W_before = call[1].W.copy() if isinstance(call[1].W, np.ndarray) else None
    with pytest.raises(ValueError, match=words.replace(".", r"\.").replace("[", r"\[")):
        _gibbs.train_minibatches(*call)
    if W_before is not None and W_before.shape == np.shape(call[1].W):
        assert np.array_equal(call[1].W, W_before)  # nothing was touched


@pytest.mark.parametrize("groups", [[0, 2, 4, 7], [1, 2, 6], [0, 3, 3, 6], [0, 4, 2, 6],
                                    [6]])
def test_categorical_groups_must_tile_the_columns(groups):
    call = training_call()
    call[4] = visible("categorical")
    call[4].groups = np.array(groups, dtype=np.intp)
    with pytest.raises(ValueError, match=r"visible\.groups"):
        _gibbs.train_minibatches(*call)


def test_gaussian_state_is_checked():
    call = training_call()
    call[4] = visible("gaussian")
    _gibbs.train_minibatches(*call)  # valid
    call[4].state = np.ones((3, N_VISIBLE))
    with pytest.raises(ValueError, match=r"visible\.state"):
        _gibbs.train_minibatches(*call)
    call[4] = visible("bernoulli")
    call[4].learn_sigma = True
    with pytest.raises(ValueError, match=r"visible\.learn_sigma"):
        _gibbs.train_minibatches(*call)


def test_csr_indptr_must_stay_within_the_data():
    call = training_call(sparse=True)
    indptr = call[0].csr_indptr.copy()
    indptr[-1] += 1
    call[0].csr_indptr = indptr
    with pytest.raises(ValueError, match=r"batches\.csr_indptr"):
        _gibbs.train_minibatches(*call)
    call = training_call(sparse=True)
    indices = call[0].csr_indices.copy()
    indices[-1] = N_VISIBLE
    call[0].csr_indices = indices
    with pytest.raises(ValueError, match=r"batches\.csr_indices"):
        _gibbs.train_minibatches(*call)


def test_read_only_outputs_are_rejected():
    call = training_call()
    call[1].W.setflags(write=False)
    with pytest.raises(ValueError, match=r"params\.W"):
        _gibbs.train_minibatches(*call)


def test_missing_attribute_is_named():
    call = training_call()
    del call[3].momentum
    with pytest.raises(ValueError, match=r"update\.momentum"):
        _gibbs.train_minibatches(*call)


# --------------------------------------------------------------------------
# gibbs_chains and ais_log_weights
# --------------------------------------------------------------------------

def chains_call(dtype=np.float64, rows=N_CHAINS):
    V = np.zeros((rows, N_VISIBLE), dtype)
    H = np.zeros((rows, N_HIDDEN), dtype)
    return [params(dtype), visible(dtype=dtype), V, H, np.zeros_like(H), 2, streams(rows), 1]


def test_valid_gibbs_chains_call_runs():
    call = chains_call()
    _gibbs.gibbs_chains(*call)
    assert np.all((call[4] > 0) & (call[4] < 1))


CHAINS_CASES = [
    (2, bad((N_CHAINS, N_VISIBLE + 1)), r"gibbs_chains\.V"),
    (2, bad((N_CHAINS, N_VISIBLE), np.float32), r"gibbs_chains\.V"),
    (3, bad((N_CHAINS + 1, N_HIDDEN)), r"gibbs_chains\.H"),
    (4, bad((N_CHAINS, N_HIDDEN - 1)), r"gibbs_chains\.P"),
    (4, np.zeros((N_HIDDEN, N_CHAINS)).T, r"gibbs_chains\.P"),
    (5, -1, "n_steps"),
    (6, [], "streams"),
    (7, 0, "n_threads"),
]


@pytest.mark.parametrize("position, value, words", CHAINS_CASES)
def test_gibbs_chains_rejects(position, value, words):
    call = chains_call()
    call[position] = value
    with pytest.raises(ValueError, match=words):
        _gibbs.gibbs_chains(*call)


def test_gibbs_chains_rejects_mixed_dtypes_and_bad_params():
    call = chains_call()
    call[0].b = np.zeros(N_VISIBLE, np.float32)
    with pytest.raises(ValueError, match=r"params\.b"):
        _gibbs.gibbs_chains(*call)
    call = chains_call()
    call[1] = visible("gaussian")
    call[1].state = None
    with pytest.raises(ValueError, match=r"visible\.state"):
        _gibbs.gibbs_chains(*call)


def ais_call(rows=N_CHAINS):
    return [params(), visible(), np.zeros((rows, N_VISIBLE)), np.zeros(N_VISIBLE),
            np.linspace(0.0, 1.0, 5), streams(rows), 1]


def test_valid_ais_call_runs():
    log_w = _gibbs.ais_log_weights(*ais_call())
    assert log_w.shape == (N_CHAINS,) and np.all(np.isfinite(log_w))


AIS_CASES = [
    (0, params(np.float32), r"params\.W"),
    (2, bad((N_CHAINS, N_VISIBLE + 1)), r"ais_log_weights\.S"),
    (2, bad((N_CHAINS, N_VISIBLE), np.float32), r"ais_log_weights\.S"),
    (3, bad(N_VISIBLE - 1), r"ais_log_weights\.base_bias"),
    (4, np.linspace(0.0, 1.0, 5).astype(np.float32), r"ais_log_weights\.betas"),
    (4, np.zeros((5, 1)), r"ais_log_weights\.betas"),
    (5, [], "streams"),
    (6, 0, "n_threads"),
]


@pytest.mark.parametrize("position, value, words", AIS_CASES)
def test_ais_log_weights_rejects(position, value, words):
    call = ais_call()
    call[position] = value
    with pytest.raises(ValueError, match=words):
        _gibbs.ais_log_weights(*call)


# --------------------------------------------------------------------------
# kernel_settings
# --------------------------------------------------------------------------

def test_kernel_settings_restore_the_previous_state():
    before = _gibbs.kernel_settings_now()
    with _gibbs.kernel_settings(parallel_threshold=0, small_model_weights=0,
                                avx512_compaction=False, avx512_sampling=False,
                                avx512_erfcx=False, inline_sfc64=False) as inside:
        assert inside["parallel_threshold"] == 0 and inside["small_model_weights"] == 0
        assert not (inside["avx512_compaction"] or inside["avx512_sampling"]
                    or inside["avx512_erfcx"] or inside["inline_sfc64"])
        with _gibbs.kernel_settings(small_model_weights=5) as nested:
            assert nested["small_model_weights"] == 5 and nested["parallel_threshold"] == 0
        assert _gibbs.kernel_settings_now() == inside
    assert _gibbs.kernel_settings_now() == before
    with pytest.raises(RuntimeError):
        with _gibbs.kernel_settings(small_model_weights=1):
            raise RuntimeError("restored on the way out")
    assert _gibbs.kernel_settings_now() == before
    with pytest.raises(TypeError, match="unknown"):
        with _gibbs.kernel_settings(vector_sampling=False):
            pass


def test_import_loads_nothing_and_the_first_call_picks_numpys_blas():
    # Importing rbm looks up no BLAS (threadpoolctl is not even asked); the
    # first kernel call picks NumPy's OpenBLAS, which NumPy has loaded.
    import subprocess
    import sys
    code = ("import threadpoolctl; real = threadpoolctl.threadpool_info; "
            "threadpoolctl.threadpool_info = lambda: 1 / 0; "
            "import rbm, rbm._gibbs as k; "
            "threadpoolctl.threadpool_info = real; "
            "assert k.kernel_settings_now()['numpy_blas']; print('ok')")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.stdout.strip() == "ok", result.stderr
