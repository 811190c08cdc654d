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

from rbm import BernoulliRBM
from rbm import _gibbs
from rbm._visible import BernoulliVisible

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
    _gibbs.gibbs_chains(_gibbs.VISIBLE_BERNOULLI, V, H, P, W, b, c,
                        *BernoulliVisible().kernel_arguments(V0.dtype), n_steps,
                        [np.random.SFC64(s) for s in seeds], n_threads)
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
    previous = _gibbs.set_small_model_threshold(0)
    try:
        blas = BernoulliRBM(**kwargs).fit(X)
    finally:
        _gibbs.set_small_model_threshold(previous)
    tol = 1e-10 if dtype == np.float64 else 1e-4
    for name in ("components_", "intercept_visible_", "intercept_hidden_", "h_samples_"):
        assert np.array_equal(getattr(dense, name), getattr(csr, name)), name
        np.testing.assert_allclose(getattr(blas, name), getattr(dense, name), atol=tol,
                                   rtol=0, err_msg=name)
        assert np.all(np.isfinite(getattr(dense, name))), name
    assert dense.h_samples_.shape == (n_chains or 7, n_hidden)
    assert set(np.unique(dense.h_samples_)) <= {0.0, 1.0}
