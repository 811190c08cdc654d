"""Scaling out with Dask: train block by block on a cluster, and grid-search on it.

1. ``dask_ml.wrappers.Incremental`` feeds the blocks of a Dask array to
   ``partial_fit`` one after another (the model travels to the data), then
   ``transform`` and ``score_samples`` run block by block on the workers.
2. ``GridSearchCV`` runs its fits on the cluster under joblib's Dask backend.

    python examples/dask_incremental.py                              # a local cluster
    python examples/dask_incremental.py --scheduler tcp://host:8786  # a running cluster
    python examples/dask_incremental.py --fast

Start a cluster with ``dask scheduler`` and ``dask worker tcp://host:8786``
on the machines (each needs rbm installed).
"""

import argparse
import os

import dask.array as da
import joblib
import numpy as np
from dask.distributed import Client, LocalCluster
from dask_ml.wrappers import Incremental
from sklearn.datasets import load_digits
from sklearn.model_selection import GridSearchCV, train_test_split

from rbm import BernoulliRBM


def main(scheduler, fast):
    X = (load_digits().data / 16.0 > 0.5).astype(np.float64)
    X_train, X_test = train_test_split(X, test_size=0.3, random_state=0)
    # Stand-ins for arrays too large for one machine: blocks of 200 rows.
    dX_train = da.from_array(X_train, chunks=(200, X.shape[1]))
    dX_test = da.from_array(X_test, chunks=(200, X.shape[1]))

    if scheduler:
        client = Client(scheduler, timeout="30s")
    else:
        # Fast mode: one in-process worker (threads), which starts in a blink.
        cluster = LocalCluster(n_workers=1 if fast else 2, threads_per_worker=1,
                               processes=not fast, protocol="tcp", host="127.0.0.1",
                               dashboard_address=None)
        client = Client(cluster)
    with client:
        n_workers = len(client.scheduler_info()["workers"])
        print(f"Dask cluster at {client.scheduler.address} with {n_workers} "
              f"worker{'s' if n_workers != 1 else ''}.")
        model = BernoulliRBM(n_components=16, learning_rate=0.01, momentum=0.5,
                             n_chains=100, random_state=0, n_jobs=1)
        incremental = Incremental(model, random_state=0)
        for _ in range(3 if fast else 30):  # each call is one pass over the blocks
            incremental.partial_fit(dX_train)
        fitted = incremental.estimator_
        fitted.log_partition()  # computed once here; cached on the model the workers get
        features = incremental.transform(dX_test)
        log_p = da.map_blocks(fitted.score_samples, dX_test, drop_axis=1, dtype=np.float64)
        H = features.compute()
        print(f"Features of the held-out images: {H.shape[0]} x {H.shape[1]}, "
              f"mean activation {H.mean():.3f}")
        print(f"Held-out log-likelihood: {log_p.mean().compute():.3f} nats per image "
              f"(computed on the workers)")

        search = GridSearchCV(BernoulliRBM(n_iter=5 if fast else 50, learning_rate=0.01,
                                           momentum=0.5, random_state=0, n_jobs=1),
                              {"n_components": [4, 8] if fast else [4, 8, 16]}, cv=3)
        with joblib.parallel_backend("dask"):
            search.fit(X_train)
        print(f"GridSearchCV on the cluster: best {search.best_params_}, "
              f"cross-validated log-likelihood {search.best_score_:.3f}")
    if not scheduler:
        cluster.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scheduler", metavar="ADDRESS",
                        help="address of a running Dask scheduler, e.g. tcp://10.0.0.5:8786 "
                             "(default: start a local cluster)")
    parser.add_argument("--fast", action="store_true", help="a quick, smaller run")
    args = parser.parse_args()
    main(args.scheduler, args.fast or os.environ.get("RBM_EXAMPLES_FAST") == "1")
