"""The compiled kernel at edge shapes: one unit, one row, partial chunks and vectors.

Out-of-bounds accesses hide at the edges: a layer of one unit, a row count
that leaves a partial chunk of 16 chain rows (``_gibbs.CHUNK_ROWS``), a width
that leaves a partial SIMD vector (4 or 8 doubles, 8 or 16 floats), CSR rows
with no entries, a last minibatch shorter than the others.  Each test checks
exact properties of the output there (so a wrong result fails here), and
``.ci/asan`` runs this file under AddressSanitizer with bounds checking (so a
stray access fails there even when it happens not to change a result).
"""

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.special import expit
from sklearn.base import clone

from rbm import BernoulliRBM, CategoricalRBM, GaussianBernoulliRBM
from rbm import _gibbs

from exact_reference import kernel_params, kernel_visible

#: (n_visible, n_hidden): single units, and widths just past a vector length.
SHAPES = [(1, 1), (1, 9), (9, 1), (3, 17), (17, 8)]
#: Chain rows around the 16-row chunk.
ROWS = [1, 15, 16, 17, 33]

dtype_cases = pytest.mark.parametrize("dtype", [np.float64, np.float32],
                                      ids=["float64", "float32"])
shape_cases = pytest.mark.parametrize("n_visible, n_hidden", SHAPES,
                                      ids=[f"{v}x{h}" for v, h in SHAPES])


def run_gibbs_chains(V0, W, b, c, n_steps, n_threads):
    rows, n_hidden = V0.shape[0], W.shape[0]
    V = V0.copy()
    H = np.full((rows, n_hidden), -1.0, dtype=V0.dtype)  # -1: never written
    P = np.full((rows, n_hidden), -1.0, dtype=V0.dtype)
    seeds = np.random.SeedSequence(3).spawn(_gibbs.n_streams_for(rows))
    _gibbs.gibbs_chains(kernel_params(W, b, c), kernel_visible(_gibbs.VISIBLE_BERNOULLI),
                        V, H, P, n_steps, [np.random.SFC64(s) for s in seeds], n_threads)
    return V, H, P


@dtype_cases
@shape_cases
@pytest.mark.parametrize("rows", ROWS)
def test_gibbs_chains_at_edge_shapes(dtype, n_visible, n_hidden, rows, always_threaded):
    rng = np.random.default_rng(rows)
    W = rng.standard_normal((n_hidden, n_visible)).astype(dtype)
    b = rng.standard_normal(n_visible).astype(dtype)
    c = rng.standard_normal(n_hidden).astype(dtype)
    V0 = (rng.random((rows, n_visible)) < 0.5).astype(dtype)
    V, H, P = run_gibbs_chains(V0, W, b, c, 2, 1)
    # Every entry written, binary states, and P = p(h = 1 | final V).
    assert set(np.unique(V)) <= {0.0, 1.0} and set(np.unique(H)) <= {0.0, 1.0}
    tol = 1e-6 if dtype == np.float32 else 1e-13
    expected = expit(V.astype(np.float64) @ W.T.astype(np.float64) + c)
    np.testing.assert_allclose(P, expected, atol=tol, rtol=0)
    # The thread team (forced on by always_threaded) computes the same chains.
    for got, want in zip(run_gibbs_chains(V0, W, b, c, 2, 2), (V, H, P)):
        assert np.array_equal(got, want)
    # n_steps = 0 computes P only and leaves V untouched.
    V_0, _, P_0 = run_gibbs_chains(V0, W, b, c, 0, 1)
    assert np.array_equal(V_0, V0)
    np.testing.assert_allclose(P_0, expit(V0.astype(np.float64) @ W.T + c), atol=tol, rtol=0)


def edge_data(n_visible, dtype):
    """23 binary rows (minibatches of 7 split as 6, 6, 6, 5), rows 0 and 11 all zero."""
    X = (np.random.default_rng(n_visible).random((23, n_visible)) < 0.4).astype(dtype)
    X[[0, 11]] = 0.0  # empty CSR rows
    return X


@dtype_cases
@shape_cases
@pytest.mark.parametrize("method, k, n_chains", [("pcd", 1, 1), ("pcd", 3, 17), ("cd", 2, None)])
def test_training_at_edge_shapes(dtype, n_visible, n_hidden, method, k, n_chains):
    # The same fit three ways: dense with the small-model (row-sum)
    # products, CSR with them, and dense with BLAS.  Dense and CSR load the
    # same rows, so they agree bit for bit; the two product paths agree to
    # rounding (see test_small_model_products_train_like_blas).
    X = edge_data(n_visible, dtype)
    kwargs = dict(n_components=n_hidden, method=method, k=k, n_chains=n_chains,
                  batch_size=7, n_iter=2, momentum=0.5, weight_decay=1e-3,
                  learning_rate=0.1, random_state=0, n_jobs=1)
    dense = BernoulliRBM(**kwargs).fit(X)
    csr = BernoulliRBM(**kwargs).fit(sp.csr_matrix(X))
    with _gibbs.kernel_settings(small_model_weights=0):
        blas = BernoulliRBM(**kwargs).fit(X)
    tol = 1e-10 if dtype == np.float64 else 1e-4
    for name in ("components_", "intercept_visible_", "intercept_hidden_", "h_samples_"):
        assert np.array_equal(getattr(dense, name), getattr(csr, name)), name
        np.testing.assert_allclose(getattr(blas, name), getattr(dense, name), atol=tol,
                                   rtol=0, err_msg=name)
        assert np.all(np.isfinite(getattr(dense, name))), name
    assert dense.h_samples_.shape == (n_chains or 7, n_hidden)
    assert set(np.unique(dense.h_samples_)) <= {0.0, 1.0}


# --------------------------------------------------------------------------
# Every visible kind of the kernel at the edge shapes
# --------------------------------------------------------------------------

KINDS = ["bernoulli", "gaussian", "categorical"]


def edge_groups(n_visible):
    """Categorical column offsets: blocks of 2, 3, 4, ... columns, the last
    taking what is left (one block of one column when n_visible is 1)."""
    offsets, size = [0], 2
    while offsets[-1] < n_visible:
        offsets.append(min(offsets[-1] + size, n_visible))
        size += 1
    if len(offsets) > 2 and offsets[-1] - offsets[-2] == 1:
        del offsets[-2]  # no single-column block after the first
    return np.array(offsets, dtype=np.intp)


def kind_arguments(kind, n_visible, dtype, rng):
    """(kernel kind, visible state or None, groups or None) for a kind."""
    if kind == "bernoulli":
        return _gibbs.VISIBLE_BERNOULLI, None, None
    if kind == "gaussian":
        state = np.zeros((_gibbs.GAUSSIAN_STATE_SHAPE_ROWS, n_visible), dtype=dtype)
        state[_gibbs.GAUSSIAN_SIGMA] = rng.uniform(0.5, 1.5, n_visible)
        state[_gibbs.GAUSSIAN_SIGMA_MIN] = 0.01
        state[_gibbs.GAUSSIAN_SIGMA_MAX] = 10.0
        return _gibbs.VISIBLE_GAUSSIAN, state, None
    return _gibbs.VISIBLE_CATEGORICAL, None, edge_groups(n_visible)


def check_visible_rows(kind, V, groups):
    """Exact properties of the kernel's visible rows for each kind."""
    if kind == "bernoulli":
        assert set(np.unique(V)) <= {0.0, 1.0}
    elif kind == "gaussian":
        assert np.all(np.isfinite(V))
        assert len(np.unique(V)) == V.size  # continuous draws: every entry written
    else:
        assert set(np.unique(V)) <= {0.0, 1.0}
        for a, z in zip(groups[:-1], groups[1:]):
            assert np.all(V[:, a:z].sum(axis=1) == 1)  # one category per feature


@pytest.mark.parametrize("kind", KINDS)
@dtype_cases
@shape_cases
@pytest.mark.parametrize("rows", [1, 15, 17])
def test_every_visible_kind_at_edge_shapes(kind, dtype, n_visible, n_hidden, rows,
                                           always_threaded):
    rng = np.random.default_rng(rows)
    code, state, groups = kind_arguments(kind, n_visible, dtype, rng)
    W = rng.standard_normal((n_hidden, n_visible)).astype(dtype)
    b = rng.standard_normal(n_visible).astype(dtype)
    c = rng.standard_normal(n_hidden).astype(dtype)
    V0 = (rng.random((rows, n_visible)) < 0.5).astype(dtype)

    def run(n_steps, n_threads):
        V = V0.copy()
        H = np.full((rows, n_hidden), -1.0, dtype=dtype)  # -1: never written
        P = np.full((rows, n_hidden), -1.0, dtype=dtype)
        seeds = np.random.SeedSequence(3).spawn(_gibbs.n_streams_for(rows))
        _gibbs.gibbs_chains(kernel_params(W, b, c), kernel_visible(code, state, groups),
                            V, H, P, n_steps, [np.random.SFC64(s) for s in seeds], n_threads)
        return V, H, P

    V, H, P = run(2, 1)
    check_visible_rows(kind, V, groups)
    assert set(np.unique(H)) <= {0.0, 1.0}
    # P = p(h = 1 | final rows s(v)) for every kind (s(v) couples to h).
    tol = 1e-5 if dtype == np.float32 else 1e-12
    expected = expit(V.astype(np.float64) @ W.T.astype(np.float64) + c)
    np.testing.assert_allclose(P, expected, atol=tol, rtol=0)
    for got, want in zip(run(2, 2), (V, H, P)):
        assert np.array_equal(got, want)
    V_0, _, P_0 = run(0, 1)
    assert np.array_equal(V_0, V0)
    np.testing.assert_allclose(P_0, expit(V0.astype(np.float64) @ W.T + c), atol=tol, rtol=0)


def edge_labels(n_features):
    """23 rows of labels, every feature's categories 0, 1, 2 all present."""
    L = np.random.default_rng(n_features).integers(0, 3, (23, n_features))
    L[:3] = np.arange(3)[:, None]
    return L


@pytest.mark.parametrize("estimator", ["gaussian", "categorical"])
@shape_cases
@pytest.mark.parametrize("method, k, n_chains", [("pcd", 3, 17), ("cd", 2, None),
                                                 ("pt", 2, 1)])
def test_new_models_train_at_edge_shapes(estimator, n_visible, n_hidden, method, k, n_chains):
    # The small-model (row-sum) and BLAS product paths train the same model
    # to rounding, with every parameter finite, for the Gaussian (dense and
    # CSR too) and the categorical model (one-hot CSR inside), with CD, PCD
    # and PT (three temperatures, one chain each).
    from rbm import CategoricalRBM, GaussianBernoulliRBM

    kwargs = dict(n_components=n_hidden, method=method, k=k, n_chains=n_chains,
                  batch_size=7, n_iter=2, momentum=0.5, weight_decay=1e-3,
                  learning_rate=0.05, random_state=0, n_jobs=1, n_temperatures=3)
    if estimator == "gaussian":
        X = np.random.default_rng(n_visible).standard_normal((23, n_visible))
        make = GaussianBernoulliRBM
    else:
        X = edge_labels(n_visible)
        make = CategoricalRBM
    small = make(**kwargs).fit(X)
    with _gibbs.kernel_settings(small_model_weights=0):
        blas = make(**kwargs).fit(X)
    names = ["components_", "intercept_visible_", "intercept_hidden_", "h_samples_"]
    for name in names:
        assert np.all(np.isfinite(getattr(small, name))), name
        np.testing.assert_allclose(getattr(blas, name), getattr(small, name), atol=1e-10,
                                   rtol=0, err_msg=name)
    n_blocks = 3 if method == "pt" else 1
    assert small.h_samples_.shape == (n_blocks * (n_chains or 7), n_hidden)
    if estimator == "gaussian":
        # Dense and CSR data: the initial sigma and visible biases come from
        # column sums taken in a different order (numpy's pairwise sum, scipy's
        # sequential one) for real values, so they agree to rounding only.
        csr = make(**kwargs).fit(sp.csr_matrix(X))
        for name in names + ["sigma_"]:
            np.testing.assert_allclose(getattr(csr, name), getattr(small, name), atol=1e-10,
                                       rtol=0, err_msg=name)
    else:
        # Parameters stay in the zero-sum gauge, block by block.
        offsets = small._visible_unit.groups
        for a, z in zip(offsets[:-1], offsets[1:]):
            np.testing.assert_allclose(small.components_[:, a:z].sum(axis=1), 0, atol=1e-12)
            np.testing.assert_allclose(small.intercept_visible_[a:z].sum(), 0, atol=1e-12)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_numpy_and_scipy_blas_train_the_same_model(dtype):
    # The kernel calls NumPy's OpenBLAS where it finds it, SciPy's inside
    # kernel_settings(numpy_blas=False); the two must agree to rounding (and
    # each is reproducible on its own), and leaving the block restores NumPy's.
    rng = np.random.default_rng(0)
    X = (rng.random((400, 90)) < 0.3).astype(dtype)
    kwargs = dict(n_components=40, batch_size=50, n_iter=3, random_state=0)
    if not _gibbs.kernel_settings_now()["numpy_blas"]:
        pytest.skip("NumPy's OpenBLAS was not found")
    with _gibbs.kernel_settings(numpy_blas=False) as settings:
        assert not settings["numpy_blas"]
        scipy_model = BernoulliRBM(**kwargs).fit(X)
        scipy_again = BernoulliRBM(**kwargs).fit(X)
    assert _gibbs.kernel_settings_now()["numpy_blas"]
    numpy_model = BernoulliRBM(**kwargs).fit(X)
    np.testing.assert_array_equal(scipy_model.components_, scipy_again.components_)
    difference = np.abs(numpy_model.components_ - scipy_model.components_)
    if dtype == np.float64:
        assert difference.max() < 1e-10
    else:
        # Single-precision rounding differs between the builds by ~1e-7, so a
        # rare sampled decision (U < p with U within 1e-7 of p) can flip and
        # move the weights of that one visible unit; everything else agrees.
        assert np.mean(difference < 1e-4) > 0.98
        assert difference.max() < 0.01


def test_softplus_matches_logaddexp_to_a_few_ulp():
    from rbm._units import softplus
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.uniform(-40, 40, 100_000), rng.uniform(-1e-3, 1e-3, 10_000),
                        [0.0, -745.0, -800.0, 700.0, 800.0, 1e-300, -1e-300, 36.7, -36.7]])
    got = softplus(x)
    expected = np.logaddexp(0.0, x)
    assert got.dtype == np.float64 and got.shape == x.shape
    # A few ulp; below exp(-708) it returns about 1e-308 instead of a
    # subnormal (the exp's argument is clamped), which no sum can notice.
    np.testing.assert_allclose(got, expected, rtol=1e-15, atol=1e-307)
    assert softplus(np.float32(2.0)).shape == ()
    np.testing.assert_array_equal(softplus(np.zeros((3, 0))), np.zeros((3, 0)))


def fit_with_vector_path_on_and_off(setting, model, X):
    """(model fitted with an AVX-512 path of the kernel, the same fitted without it).

    ``setting`` is ``"avx512_compaction"``, ``"avx512_sampling"`` or ``"avx512_erfcx"`` (see
    ``_gibbs.kernel_settings``).
    """
    with _gibbs.kernel_settings(**{setting: True}) as settings:
        if not settings[setting]:
            pytest.skip(f"no AVX-512 path for {setting} in this build or on this CPU")
        if setting == "avx512_sampling" and not settings["inline_sfc64"]:
            pytest.skip("the 8-stream sampler steps SFC64 inline, which this NumPy does not allow")
        vector = clone(model).fit(X)
        with _gibbs.kernel_settings(**{setting: False}) as inner:
            assert not inner[setting]
            scalar = clone(model).fit(X)
        assert _gibbs.kernel_settings_now()[setting]
    return vector, scalar


@dtype_cases
@pytest.mark.parametrize("n_visible, n_hidden", [(1, 9), (17, 8), (64, 64), (70, 23)],
                         ids=["1x9", "17x8", "64x64", "70x23"])
def test_vector_and_scalar_compaction_train_the_same_model(dtype, n_visible, n_hidden):
    # The row-sum products compact rows 8 entries at a time and sum the
    # selected rows 8 vectors of columns at a time with AVX-512 where the CPU
    # has it, else 1 entry and 4 vectors at a time: the same entries and the
    # same sums in the same order either way, so the same model to the bit.  Data in [0, 1] with exact zeros, so the
    # compacted values (not only their positions) matter; widths and batches
    # that leave partial vectors.
    rng = np.random.default_rng(1)
    X = rng.random((90, n_visible)).astype(dtype)
    X[X < 0.5] = 0
    model = BernoulliRBM(n_components=n_hidden, batch_size=13, n_chains=11, n_iter=3,
                         momentum=0.5, weight_decay=1e-3, random_state=0, n_jobs=1)
    vector, scalar = fit_with_vector_path_on_and_off("avx512_compaction", model, X)
    for name in ("components_", "intercept_visible_", "intercept_hidden_", "h_samples_"):
        np.testing.assert_array_equal(getattr(vector, name), getattr(scalar, name),
                                      err_msg=name)
    init = clone(model).set_params(n_iter=0).fit(X)
    assert not np.array_equal(vector.components_, init.components_)


def test_vector_and_scalar_compaction_train_the_same_categorical_model():
    # One-hot rows go through the same compaction at any model size.
    X = np.random.default_rng(2).integers(0, 5, size=(80, 13))
    model = CategoricalRBM(n_components=19, batch_size=9, n_chains=10, n_iter=3,
                           random_state=0, n_jobs=1)
    vector, scalar = fit_with_vector_path_on_and_off("avx512_compaction", model, X)
    np.testing.assert_array_equal(vector.components_, scalar.components_)
    np.testing.assert_array_equal(vector.h_samples_, scalar.h_samples_)


@dtype_cases
@pytest.mark.parametrize("n_chains", [32, 37, 130, 300])
def test_vector_and_scalar_sampling_train_the_same_model(dtype, n_chains):
    # Whole chunks of 16 chains are sampled 8 streams at a time with AVX-512
    # where the CPU has it, else one or two at a time: the same draws either
    # way, so the same model to the bit.  Chains: 32 are 2 whole chunks; 37
    # add a partial chunk; 130 are a full group of 8 and a partial chunk;
    # 300 are groups of 8, 8 and 2 and a partial chunk.  23 visible units
    # make 16 x 23 values a chunk.
    rng = np.random.default_rng(3)
    X = (rng.random((120, 23)) < 0.4).astype(dtype)
    model = BernoulliRBM(n_components=21, batch_size=17, n_chains=n_chains, n_iter=3,
                         random_state=0, n_jobs=1)
    vector, scalar = fit_with_vector_path_on_and_off("avx512_sampling", model, X)
    for name in ("components_", "intercept_visible_", "intercept_hidden_", "h_samples_"):
        np.testing.assert_array_equal(getattr(vector, name), getattr(scalar, name),
                                      err_msg=name)
    assert 0.2 < vector.h_samples_.mean() < 0.8  # real draws, not all 0 or 1


def test_vector_and_scalar_sampling_train_the_same_categorical_model():
    # Categorical models sample their hidden units the same way.
    X = np.random.default_rng(4).integers(0, 4, size=(60, 11))
    model = CategoricalRBM(n_components=15, batch_size=12, n_chains=50, n_iter=3,
                           random_state=0, n_jobs=1)
    vector, scalar = fit_with_vector_path_on_and_off("avx512_sampling", model, X)
    np.testing.assert_array_equal(vector.components_, scalar.components_)
    np.testing.assert_array_equal(vector.h_samples_, scalar.h_samples_)


@pytest.mark.parametrize("momentum", [0.0, 0.5])
@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("n_visible", [7, 400])
def test_sigma_gradient_from_the_weight_gradient_equals_the_visible_field_product(
        momentum, weighted, n_visible):
    # A Gaussian layer's log sigma gradient needs sum_r w_r v_r a_r with
    # a = h @ W.  The kernel takes it from the weight gradient G = sum_r w_r
    # h_r v_r.T as sum_j W_j G_j (one pass over W) instead of computing a
    # (one more product); with the shortcut off it computes a.  Both must
    # train the same model to float64 rounding, with and without momentum and
    # sample weights.  A wrong factor or sign in either would move sigma by
    # the order of the learning rate, 1e-2.  400 visible units cut the
    # product into blocks of columns, each stepped on its own (the gradient
    # buffer is added into and cleared by each step: left uncleared, every
    # update would add the ones before).
    rng = np.random.default_rng(0)
    X = (rng.standard_normal((120, n_visible)) @ rng.standard_normal((n_visible, n_visible))
         / np.sqrt(n_visible) + 1.0)
    weights = rng.integers(1, 4, size=120).astype(float) if weighted else None
    model = GaussianBernoulliRBM(n_components=5, n_iter=4, batch_size=15, learning_rate=0.01,
                                 momentum=momentum, random_state=0)
    with _gibbs.kernel_settings(sigma_from_weight_gradient=False) as settings:
        assert not settings["sigma_from_weight_gradient"]
        product = clone(model).fit(X, sample_weight=weights)
    assert _gibbs.kernel_settings_now()["sigma_from_weight_gradient"]
    shortcut = clone(model).fit(X, sample_weight=weights)
    moved = np.abs(np.log(shortcut.sigma_) - np.log(np.std(X, axis=0))).max()
    assert moved > 1e-3  # sigma really was learned, so the comparison means something
    for name in ("sigma_", "components_", "intercept_visible_", "intercept_hidden_"):
        np.testing.assert_allclose(getattr(shortcut, name), getattr(product, name),
                                   rtol=1e-10, atol=1e-12, err_msg=name)


@pytest.mark.parametrize("hidden", ["relu", "drelu"])
def test_vector_and_portable_erfcx_train_the_same_model(hidden):
    # erfcx's table polynomial runs on AVX-512 (coefficients picked by
    # permutes) where the CPU has it, else in the portable loop: the same
    # operations in the same order, so the same model to the bit.  70 hidden
    # units leave a partial vector of 6 lanes.
    rng = np.random.default_rng(5)
    X = (rng.random((80, 19)) < 0.4).astype(np.float64)
    model = BernoulliRBM(n_components=70, batch_size=10, n_chains=10, n_iter=3,
                         learning_rate=0.01, hidden=hidden, random_state=0, n_jobs=1)
    from rbm import _sampling
    vector, portable = fit_with_vector_path_on_and_off("avx512_erfcx", model, X)
    for name in ("components_", "intercept_visible_", "intercept_hidden_", "h_samples_"):
        assert_same_numbers(getattr(vector, name), getattr(portable, name), name,
                            _sampling.OPTIMIZED_BUILD)
    assert np.all(np.isfinite(vector.components_))


@pytest.mark.parametrize("hidden", ["relu", "drelu"])
def test_vector_and_portable_truncated_tries_train_the_same_model(hidden):
    # The truncated-Gaussian tries of ReLU and dReLU units (each unit's first
    # normal, then rounds over the rejected ones, compacted with vcompress
    # where the 8-stream sampler is on, else by the portable append loop)
    # give the same draws, so the same model to the bit.  70 hidden units
    # leave partial vectors of lanes.
    rng = np.random.default_rng(7)
    X = (rng.random((80, 19)) < 0.4).astype(np.float64)
    model = BernoulliRBM(n_components=70, batch_size=10, n_chains=10, n_iter=3,
                         learning_rate=0.05, hidden=hidden, random_state=1, n_jobs=1)
    vector, portable = fit_with_vector_path_on_and_off("avx512_sampling", model, X)
    for name in ("components_", "intercept_visible_", "intercept_hidden_", "h_samples_"):
        np.testing.assert_array_equal(getattr(vector, name), getattr(portable, name),
                                      err_msg=name)
    assert np.all(np.isfinite(vector.components_))
    # The draws hold units on both sides (dReLU) or both near and far from zero.
    assert np.ptp(vector.h_samples_) > 1.0


def assert_same_numbers(vector, portable, name, exact):
    """Equal to the bit in an optimised build; in a -O0 debug build (the
    sanitizer's), whose portable loop does not fuse multiply-adds, equal to
    rounding: 1e-9 after a short fit's amplification of 1e-16 differences."""
    if exact:
        np.testing.assert_array_equal(vector, portable, err_msg=name)
    else:
        np.testing.assert_allclose(vector, portable, rtol=1e-9, atol=1e-12, err_msg=name)


def test_vector_and_portable_erfcx_agree_on_fields_of_any_size():
    """The dReLU statistics and log-partitions through both erfcx paths, on
    fields from -1e4 to 1e4 (every interval of the table, both signs of y,
    the asymptotic series and the overflowing pieces), to the bit."""
    from rbm import _sampling
    rng = np.random.default_rng(6)
    n = 13
    state = np.zeros((8, n))
    state[:2] = rng.uniform(0.05, 5.0, (2, n))
    state[2:4] = rng.normal(size=(2, n))
    magnitudes = np.geomspace(1e-3, 1e4, 200)
    field = np.concatenate([magnitudes, -magnitudes])[:, None] * rng.uniform(0.5, 1.5, n)
    results = {}
    for flag in (True, False):
        with _gibbs.kernel_settings(avx512_erfcx=flag) as settings:
            if flag and not settings["avx512_erfcx"]:
                pytest.skip("no AVX-512 erfcx in this build or on this CPU")
            results[flag] = (_sampling.drelu_statistics(field, state),
                             _sampling.drelu_log_partition(field, state))
    for vector, portable in zip(results[True], results[False]):
        assert_same_numbers(vector, portable, "statistics", _sampling.OPTIMIZED_BUILD)
    assert np.all(np.isfinite(results[True][1]))


@pytest.mark.parametrize("n_jobs", [1, 2])
def test_sigma_gradient_blocks_on_the_thread_team_equal_the_visible_field_product(n_jobs):
    # The column blocks of the weight gradient (each product added into the
    # buffer its step clears) also run on the OpenMP team, each block's
    # product and step on one thread: the same model as the extra product,
    # and the same bits on one thread and two.
    rng = np.random.default_rng(1)
    X = rng.standard_normal((90, 400)) @ rng.standard_normal((400, 400)) / 20.0 + 1.0
    model = GaussianBernoulliRBM(n_components=6, n_iter=3, batch_size=15, learning_rate=0.01,
                                 momentum=0.5, random_state=0, n_jobs=n_jobs)
    with _gibbs.kernel_settings(parallel_threshold=1):
        with _gibbs.kernel_settings(sigma_from_weight_gradient=False):
            product = clone(model).fit(X)
        before = _gibbs.team_column_passes()
        shortcut = clone(model).fit(X)
        on_team = _gibbs.team_column_passes() - before
        one_thread = clone(model).set_params(n_jobs=1).fit(X)
    assert (on_team > 0) == (n_jobs > 1)  # the team path ran where it can
    for name in ("sigma_", "components_", "intercept_visible_", "intercept_hidden_"):
        np.testing.assert_allclose(getattr(shortcut, name), getattr(product, name),
                                   rtol=1e-10, atol=1e-12, err_msg=name)
        np.testing.assert_array_equal(getattr(shortcut, name), getattr(one_thread, name),
                                      err_msg=name)
