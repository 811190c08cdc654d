"""Hostile input for GaussianBernoulliRBM and CategoricalRBM: works or names the problem.

As ``test_hostile_input`` does for BernoulliRBM, with each model's own valid
domain:

* GaussianBernoulliRBM takes any finite real values (no [0, 1] range); the
  inputs are ``test_hostile_input.hostile_inputs`` (shapes, dtypes, NaN,
  inf, strings, containers, sparse formats) read with that rule.
* CategoricalRBM takes dense arrays of labels: anything but missing values
  (NaN, None) is a category when fitting; a fitted model rejects values that
  are not among its categories, and sparse input, with messages that say so.

Valid input must give finite results equal to those for the same values as
a plain array; invalid input must raise ValueError or TypeError whose
message names one of its problems.  Hypothesis runs derandomized.
"""

import copy
import re
import warnings

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rbm import CategoricalRBM, GaussianBernoulliRBM

from test_hostile_input import N_COMPONENTS, N_FEATURES, PROBLEM_PATTERNS, hostile_inputs

SETTINGS = settings(
    derandomize=True,
    database=None,
    deadline=None,
    max_examples=150,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def run_quietly(call, *args):
    """call(*args) with every warning an error, except sklearn's feature-name notes."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="X has feature names")
        warnings.filterwarnings("ignore", message="X does not have valid feature names")
        warnings.simplefilter("error")
        # Advice, not a failure: GaussianBernoulliRBM's notes on input far from
        # standardised and on sigma ending at its floor (a row or two of data
        # has no spread to learn), tested in test_gaussian_floor.py.
        warnings.filterwarnings("ignore", message=r".* far from zero mean",
                                category=UserWarning)
        warnings.filterwarnings("ignore", message=r".* ended at its floor",
                                category=UserWarning)
        return call(*args)


def assert_names_problem(error, problems, patterns):
    assert problems, f"valid input rejected: {error!r}"
    message = str(error)
    assert any(re.search(patterns[p], message) for p in problems), (
        f"the message does not name any of {sorted(problems)}: {message!r}")


# --------------------------------------------------------------------------
# GaussianBernoulliRBM: any finite reals
# --------------------------------------------------------------------------

GAUSSIAN_PATTERNS = {
    **PROBLEM_PATTERNS,
    "features": rf"X has \d+ features, but GaussianBernoulliRBM is expecting {N_FEATURES}",
}


def _gaussian():
    return GaussianBernoulliRBM(n_components=N_COMPONENTS, n_iter=2, random_state=0,
                                n_jobs=1)


@pytest.fixture(scope="module")
def gaussian_models():
    X = np.random.default_rng(0).standard_normal((30, N_FEATURES))
    return {dtype: _gaussian().fit(X.astype(dtype)) for dtype in (np.float64, np.float32)}


def _same_gaussian_fit(result, reference):
    for name in ("components_", "intercept_visible_", "intercept_hidden_", "h_samples_",
                 "sigma_"):
        value = getattr(result, name)
        assert np.all(np.isfinite(value)), name
        assert np.array_equal(value, getattr(reference, name)), name


def _float_dtype(X):
    dtype = X.dtype if sp.issparse(X) else np.asarray(X).dtype
    return np.float32 if dtype == np.float32 else np.float64


def _plain(X, values, dtype):
    """The values as a plain array of dtype, as CSR when X is sparse (dense and
    sparse float32 fits differ: test_gaussian_sparse_float32_fit_matches_dense)."""
    plain = values.astype(dtype)
    return sp.csr_matrix(plain) if sp.issparse(X) else plain


GAUSSIAN_METHODS = {
    "fit": (False, lambda m, X: (_gaussian().fit(X), _float_dtype(X), X),
            lambda m, r, v: _same_gaussian_fit(r[0], _gaussian().fit(_plain(r[2], v, r[1])))),
    "partial_fit": (True, lambda m, X: copy.deepcopy(m).partial_fit(X),
                    lambda m, r, v: _same_gaussian_fit(r, copy.deepcopy(m).partial_fit(v))),
    "transform": (True, lambda m, X: m.transform(X),
                  lambda m, r, v: np.testing.assert_allclose(
                      r, m.transform(v), rtol=1e-5, atol=1e-6)),
    "score_samples": (True, lambda m, X: m.score_samples(X),
                      lambda m, r, v: (np.testing.assert_allclose(
                          r, m.score_samples(v), rtol=1e-6), np.all(np.isfinite(r))
                          or pytest.fail("non-finite log-likelihood"))),
    "gibbs": (True, lambda m, X: m.gibbs(X),
              lambda m, r, v: (r.shape == v.shape and np.all(np.isfinite(r))
                               and r.dtype == m.components_.dtype)
              or pytest.fail(f"gibbs gave {r!r}")),
}


@pytest.mark.parametrize("method", list(GAUSSIAN_METHODS))
@SETTINGS
@given(case=hostile_inputs(), model_dtype=st.sampled_from(["float64", "float32"]))
def test_gaussian_method_works_or_names_the_problem(method, case, model_dtype,
                                                    gaussian_models):
    X, problems, values = case
    problems = problems - {"range"}  # any finite real is valid
    needs_fit, call, check = GAUSSIAN_METHODS[method]
    model = gaussian_models[np.dtype(model_dtype).type]
    if not needs_fit:
        problems = problems - {"features"}
    try:
        result = run_quietly(call, model, X)
    except (ValueError, TypeError) as error:
        assert_names_problem(error, problems, GAUSSIAN_PATTERNS)
        return
    assert not problems, f"{sorted(problems)} not reported"
    check(model, result, values)


def test_gaussian_sparse_float32_fit_matches_dense():
    # The same values, dense and CSR, must train the same model (as they do
    # in float64, and for BernoulliRBM in both precisions).
    X = np.array([[0.51182163], [0.95046371]], dtype=np.float32)
    dense, sparse = _gaussian().fit(X), _gaussian().fit(sp.csr_matrix(X))
    assert np.array_equal(dense.sigma_, sparse.sigma_)


def test_gaussian_sparse_float64_fit_matches_dense():
    X = np.random.default_rng(0).standard_normal((30, N_FEATURES))
    dense, sparse = _gaussian().fit(X), _gaussian().fit(sp.csr_matrix(X))
    _same_gaussian_fit(sparse, dense)


@pytest.mark.parametrize("exponent", [-8, -3, -2, 0, 3, 8])
def test_gaussian_fits_data_of_any_moderate_scale(exponent):
    # Real-valued data need not be standardised first: far from unit scale
    # the model trains to finite parameters and finite log-likelihoods, and
    # sigma stays within (0, the feature's standard deviation] (it starts
    # there and only shrinks as hidden units explain variance).
    X = np.random.default_rng(0).standard_normal((30, N_FEATURES)) * 10.0 ** exponent
    model = run_quietly(_gaussian().fit, X)
    for name in ("components_", "intercept_visible_", "intercept_hidden_", "sigma_"):
        assert np.all(np.isfinite(getattr(model, name))), name
    assert np.all(model.sigma_ > 0)
    assert np.all(model.sigma_ <= X.std(axis=0) * (1 + 1e-9)), (model.sigma_, X.std(axis=0))
    assert np.all(np.isfinite(run_quietly(model.score_samples, X)))


# --------------------------------------------------------------------------
# CategoricalRBM: labels
# --------------------------------------------------------------------------

CATEGORIES = [0, 1, 2]
CATEGORICAL_PATTERNS = {
    "ndim": PROBLEM_PATTERNS["ndim"],
    "complex": PROBLEM_PATTERNS["complex"],
    "empty": PROBLEM_PATTERNS["empty"],
    "no features": PROBLEM_PATTERNS["no features"],
    "missing": r"missing values \(NaN, None or pandas' NA\)",
    "inf": r"[Ii]nput contains infinity",
    "mixed": r"uniformly strings or numbers",
    "unknown": r"has the value .* which is not one of its categories",
    "sparse": r"sparse input is not supported",
    "features": rf"X has \d+ features, but CategoricalRBM is expecting {N_FEATURES}",
}
LABEL_KINDS = ["known", "unknown-int", "fraction", "nan", "none", "inf", "word"]
LABEL_DTYPES = ["int64", "int8", "float64", "float32", "object", "str", "complex"]
CONTAINERS = ["array", "F", "list", "DataFrame", "csr_matrix", "coo_array"]


@st.composite
def hostile_labels(draw):
    """(X, problems_in_fit, problems_when_fitted, labels as int64 or None)."""
    n_rows = draw(st.sampled_from([0, 1, 2, 5]))
    n_cols = draw(st.sampled_from([0, 1, N_FEATURES - 1, N_FEATURES, N_FEATURES,
                                   N_FEATURES + 1]))
    kind = draw(st.sampled_from(LABEL_KINDS))
    dtype = draw(st.sampled_from(LABEL_DTYPES))
    container = draw(st.sampled_from(CONTAINERS))
    rng = np.random.default_rng(draw(st.integers(0, 2 ** 16)))
    labels = rng.integers(0, len(CATEGORIES), (n_rows, n_cols))
    X = labels.astype(object)
    odd = {"unknown-int": 7, "fraction": 0.5, "nan": np.nan, "none": None, "inf": np.inf,
           "word": "yes"}
    if X.size and kind != "known":
        X[rng.integers(n_rows), rng.integers(n_cols)] = odd[kind]
    problems = set()
    if kind in ("none", "word") and dtype not in ("object", "str"):
        dtype = "object"  # no numeric array holds them
    if kind in ("nan", "inf", "fraction") and dtype in ("int64", "int8"):
        dtype = "float64"
    X = X.astype(str) if dtype == "str" else X.astype(dtype)
    # In a string array every value is a string label ("nan" and "None"
    # included), and "0" is not the fitted model's category 0.
    problems_str = dtype == "str" and X.size > 0
    if container == "DataFrame" and n_cols == 0:
        # A DataFrame without columns has its own test:
        # test_categorical_names_an_empty_dataframe.
        container = "array"
    if container == "F":
        X = np.asfortranarray(X)
    elif container == "list":
        X = X.tolist()
    elif container == "DataFrame":
        X = pd.DataFrame(X)
    elif container in ("csr_matrix", "coo_array"):
        if dtype in ("object", "str", "complex"):
            container = "array"
        else:
            X = {"csr_matrix": sp.csr_matrix, "coo_array": sp.coo_array}[container](X)
    if container == "list" and n_rows == 0:
        problems.add("ndim")  # [] is 1-D
    if dtype == "complex":
        problems.add("complex")
    if container in ("csr_matrix", "coo_array"):
        problems.add("sparse")
    if n_rows == 0:
        problems.add("empty")
    if n_cols == 0:
        problems.add("no features")
    if n_rows and n_cols and kind in ("nan", "none") and dtype != "str":
        problems.add("missing")
    if n_rows and n_cols and kind == "inf" and dtype in ("float64", "float32"):
        # OneHotEncoder takes no infinite floats (in an object array inf
        # is a label like any other).
        problems.add("inf")
    if n_rows and n_cols and kind == "word" and container == "list":
        problems_str = True  # a list with a string converts to an array of strings
    elif n_rows > 1 and n_cols and kind == "word" and dtype == "object":
        problems.add("mixed")  # a string among integers in its column
    fitted = set(problems)
    if "inf" in fitted:
        fitted.add("unknown")  # a fitted model may name it as not a category
    if n_cols != N_FEATURES:
        fitted.add("features")
    if n_rows and n_cols and (kind in ("unknown-int", "fraction", "inf", "word")
                              or problems_str):
        fitted.add("unknown")
    valid_labels = labels if kind == "known" and not problems_str else None
    return X, problems, fitted, valid_labels


def _categorical():
    return CategoricalRBM(n_components=N_COMPONENTS, n_iter=2, random_state=0, n_jobs=1)


@pytest.fixture(scope="module")
def categorical_model():
    X = np.random.default_rng(0).integers(0, len(CATEGORIES), (30, N_FEATURES))
    model = _categorical().fit(X)
    assert all(list(c) == CATEGORIES for c in model.categories_)
    return model


def _check_categorical_fit(model, X):
    for name in ("components_", "intercept_visible_", "intercept_hidden_", "h_samples_"):
        assert np.all(np.isfinite(getattr(model, name))), name
    values = np.asarray(X)
    for i, categories in enumerate(model.categories_):
        assert set(categories.tolist()) == set(values[:, i].tolist())
        assert model.components_.shape[1] == sum(len(c) for c in model.categories_)


CATEGORICAL_METHODS = {
    "fit": (False, lambda m, X: _categorical().fit(X),
            lambda m, r, X, L: _check_categorical_fit(r, X)),
    "partial_fit": (True, lambda m, X: copy.deepcopy(m).partial_fit(X),
                    lambda m, r, X, L: [np.testing.assert_array_equal(
                        getattr(r, n), getattr(copy.deepcopy(m).partial_fit(L), n))
                        for n in ("components_", "intercept_visible_", "h_samples_")]),
    "transform": (True, lambda m, X: m.transform(X),
                  lambda m, r, X, L: np.testing.assert_allclose(r, m.transform(L), rtol=1e-12)),
    "score_samples": (True, lambda m, X: m.score_samples(X),
                      lambda m, r, X, L: (np.all(np.isfinite(r)) or pytest.fail("non-finite"),
                                          np.testing.assert_allclose(r, m.score_samples(L),
                                                                     rtol=1e-12))),
    "gibbs": (True, lambda m, X: m.gibbs(X),
              lambda m, r, X, L: (r.shape == L.shape and np.isin(r, CATEGORIES).all())
              or pytest.fail(f"gibbs gave {r!r}")),
}


@pytest.mark.parametrize("method", ["fit", "transform"])
def test_categorical_names_an_empty_dataframe(method, categorical_model):
    call = CATEGORICAL_METHODS[method][1]
    with pytest.raises(ValueError, match=r"0 feature\(s\)|0 sample\(s\)|expecting"):
        call(categorical_model, pd.DataFrame())


@pytest.mark.parametrize("method", list(CATEGORICAL_METHODS))
@SETTINGS
@given(case=hostile_labels())
def test_categorical_method_works_or_names_the_problem(method, case, categorical_model):
    X, problems, fitted_problems, labels = case
    needs_fit, call, check = CATEGORICAL_METHODS[method]
    if needs_fit:
        problems = fitted_problems
    try:
        result = run_quietly(call, categorical_model, X)
    except (ValueError, TypeError) as error:
        assert_names_problem(error, problems, CATEGORICAL_PATTERNS)
        return
    assert not problems, f"{sorted(problems)} not reported"
    check(categorical_model, result, X, labels)
