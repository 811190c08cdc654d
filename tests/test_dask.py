"""Training and scoring through Dask: dask-ml's Incremental and joblib's Dask backend.

Skipped where the dask extra (dask, distributed, dask-ml) is not installed.
One local cluster on the loopback interface serves the module: two worker
processes with one thread each, so models really travel between processes
(pickled) and back.
"""

import joblib
import numpy as np
import pytest
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV, KFold

from rbm import BernoulliRBM

# An optional integration (pip install rbm[dask]): tested where installed.
da = pytest.importorskip("dask.array")
distributed = pytest.importorskip("dask.distributed")
Incremental = pytest.importorskip("dask_ml.wrappers").Incremental
Client, LocalCluster = distributed.Client, distributed.LocalCluster
get_task_stream = distributed.get_task_stream

BLOCK_ROWS = 50


@pytest.fixture(scope="module")
def client():
    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                           host="127.0.0.1", dashboard_address=None, timeout="60s")
    try:
        with Client(cluster, timeout="60s") as client:
            yield client
    finally:
        cluster.close(timeout=30)


@pytest.fixture(scope="module")
def X():
    rng = np.random.default_rng(0)
    return (rng.random((200, 10)) < np.linspace(0.1, 0.9, 10)).astype(np.float64)


def _rbm():
    return BernoulliRBM(n_components=4, batch_size=10, random_state=0, n_jobs=1)


def test_incremental_partial_fit_equals_sequential_partial_fit(client, X):
    dX = da.from_array(X, chunks=(BLOCK_ROWS, X.shape[1]))
    incremental = Incremental(_rbm(), shuffle_blocks=False).fit(dX)
    expected = _rbm()
    for start in range(0, len(X), BLOCK_ROWS):
        expected.partial_fit(X[start : start + BLOCK_ROWS])
    fitted = incremental.estimator_
    np.testing.assert_array_equal(fitted.components_, expected.components_)
    np.testing.assert_array_equal(fitted.h_samples_, expected.h_samples_)

    H = incremental.transform(dX)
    assert isinstance(H, da.Array)
    np.testing.assert_array_equal(H.compute(), expected.transform(X))
    assert incremental.score(dX, None) == pytest.approx(expected.score(X), rel=1e-12)
    # Scoring block by block on the workers: log Z, computed once here, travels
    # with the model (it is cached on it), so each block only needs F(x).
    fitted.log_partition()
    per_row = da.map_blocks(fitted.score_samples, dX, drop_axis=1, dtype=np.float64)
    np.testing.assert_allclose(per_row.compute(), expected.score_samples(X), rtol=1e-12)


def test_grid_search_under_the_dask_backend_matches_a_local_search(client, X):
    search = GridSearchCV(BernoulliRBM(n_iter=3, random_state=0, n_jobs=1),
                          {"n_components": [2, 6], "learning_rate": [0.01, 0.1]},
                          cv=KFold(3))
    with joblib.parallel_backend("dask"), get_task_stream(client) as tasks:
        distributed = clone(search).fit(X)
    local = search.fit(X)
    assert distributed.best_params_ == local.best_params_
    np.testing.assert_array_equal(distributed.cv_results_["mean_test_score"],
                                  local.cv_results_["mean_test_score"])
    workers = {task["worker"] for task in tasks.data}
    assert workers <= set(client.scheduler_info()["workers"]) and workers  # ran on the cluster
