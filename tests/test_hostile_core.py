"""A hostile user's pass over the three density models: each test here failed
before the fix it comes with (input forms, parameters, methods)."""

import numpy as np
import pandas as pd
import pytest

from rbm import BernoulliRBM, CategoricalRBM, GaussianBernoulliRBM


def _binary(n_rows=40, n_columns=4, seed=0):
    return (np.random.default_rng(seed).random((n_rows, n_columns)) < 0.5).astype(float)


MODELS = {
    "bernoulli": (BernoulliRBM, _binary),
    "gaussian": (GaussianBernoulliRBM,
                 lambda: np.random.default_rng(0).standard_normal((40, 4))),
    "categorical": (CategoricalRBM,
                    lambda: np.random.default_rng(0).integers(0, 3, (40, 4))),
}


def _small(cls, **params):
    return cls(n_components=3, n_iter=2, random_state=0, n_jobs=1, **params)


@pytest.mark.parametrize("name", list(MODELS))
@pytest.mark.parametrize("method", ["fit", "partial_fit", "transform", "score_samples",
                                    "free_energy", "gibbs"])
def test_a_series_is_refused_as_one_dimensional(name, method):
    # A Series' .dtypes is its one dtype, not a list: the check for dates
    # iterated over it and raised "'Float64DType' object is not iterable".
    cls, data = MODELS[name]
    X = data()
    model = _small(cls).fit(X)
    call = getattr(_small(cls) if method in ("fit", "partial_fit") else model, method)
    with pytest.raises(ValueError, match="Expected a 2-dimensional container"):
        call(pd.Series(X[:, 0]))
