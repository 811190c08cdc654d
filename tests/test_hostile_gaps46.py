"""Rows with gaps, found wanting by hostile review (round 46).

RBMImputer's most probable values alike on every transform (and in a
pickled copy) with random_state=None; sparse input with NaN among its
stored values taking the gap path of every method that takes gaps, and
sparse input without NaN staying sparse under missing="impute"; a list of
float rows with None imputed as numbers; domain errors reporting the
extremes of the observed entries only; and a complete DataFrame validated
(and warned about) once by transform.
"""

import pickle
import re
import tracemalloc
import warnings

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline

from rbm import BernoulliRBM, CategoricalRBM, GaussianBernoulliRBM, RBMImputer


def _binary_with_gaps(n_rows=80, n_features=6, seed=0):
    rng = np.random.default_rng(seed)
    pattern = rng.random(n_features) > 0.5
    X = np.where(rng.random((n_rows, n_features)) < 0.85, pattern, ~pattern).astype(float)
    X[rng.random(X.shape) < 0.2] = np.nan
    return X


# ----------------------------------------------------------------------
# 5. Domain errors report the observed entries' extremes
# ----------------------------------------------------------------------

def test_a_domain_error_reports_the_extremes_of_the_observed_entries_only():
    X = np.nan_to_num(_binary_with_gaps(n_features=5))
    model = BernoulliRBM(n_components=3, n_iter=2, random_state=0, missing="impute").fit(X)
    for call in (model.conditional_sample, model.conditional_marginals, model.transform):
        with pytest.raises(ValueError, match=r"minimum 0\.7 and maximum 1\.5\."):
            call(np.array([[0.7, np.nan, np.nan, np.nan, 1.5]]))
    imputer = RBMImputer(BernoulliRBM(n_components=3, n_iter=2, random_state=0)).fit(
        _binary_with_gaps(n_features=5))
    with pytest.raises(ValueError, match=r"minimum 2\.0 and maximum 2\.0\."):
        imputer.transform(np.array([[np.nan, 2.0, np.nan, np.nan, np.nan]]))

