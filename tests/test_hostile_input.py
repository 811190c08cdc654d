"""Property-based hostile input: every public method either works or says what is wrong.

Hypothesis draws inputs over shapes (empty, one row, one feature, wrong
feature counts, 1-D and 3-D), dtypes (floats of every width, integers, bool,
object, strings, complex), values (binary, probabilities, NaN, inf, outside
[0, 1]), containers (lists, DataFrames, every scipy sparse format as matrix
and as array) and layouts (Fortran order, non-contiguous views, read-only).
For each, ``expected_problems`` says from the input alone what, if anything,
is wrong with it; then

* an input with no problem must work: finite outputs of the right shape and
  dtype, equal to the outputs for the same values as a plain float64 array;
* an input with a problem must raise ValueError or TypeError whose message
  names one of its problems (``PROBLEM_PATTERNS``).

Nothing may crash, return NaN or raise anything else.  Hypothesis runs
derandomized and without an example database, so CI sees the same examples
every time.
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

from rbm import BernoulliRBM

N_FEATURES = 3
N_COMPONENTS = 2

DETERMINISTIC = settings(
    derandomize=True,
    database=None,
    deadline=None,
    max_examples=200,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

#: What a message must mention for each kind of problem.
PROBLEM_PATTERNS = {
    "ndim": r"Expected 2D array|Found array with dim \d",
    "complex": r"Complex data not supported|not 'complex'",
    "string": r"could not convert string to float",
    "empty": r"0 sample\(s\)",
    "no features": r"0 feature\(s\)",
    "nan": r"NaN",
    "inf": r"\binf\b",
    "range": r"expects values in \[0, 1\]",
    "features": rf"X has \d+ features, but BernoulliRBM is expecting {N_FEATURES} features",
}

SPARSE_FORMATS = {
    "csr_matrix": sp.csr_matrix, "csc_matrix": sp.csc_matrix, "coo_matrix": sp.coo_matrix,
    "lil_matrix": sp.lil_matrix, "dok_matrix": sp.dok_matrix, "bsr_matrix": sp.bsr_matrix,
    "dia_matrix": sp.dia_matrix, "csr_array": sp.csr_array, "csc_array": sp.csc_array,
    "coo_array": sp.coo_array,
}
DENSE_CONTAINERS = ["C", "F", "strided", "read-only", "list", "DataFrame"]
DTYPES = ["float64", "float32", "float16", "int64", "int8", "uint8", "bool", "object",
          "object-with-None", "numeric-strings", "words", "complex"]
VALUE_KINDS = ["binary", "probability", "nan", "inf", "-inf", "negative", "above-one"]


@st.composite
def hostile_inputs(draw):
    """(X, problems, values): the input, its problems, and its values as float64
    (None when they are not numbers)."""
    n_rows = draw(st.sampled_from([0, 1, 2, 5]))
    n_cols = draw(st.sampled_from([0, 1, N_FEATURES - 1, N_FEATURES, N_FEATURES,
                                   N_FEATURES, N_FEATURES + 1]))
    kind = draw(st.sampled_from(VALUE_KINDS))
    dtype = draw(st.sampled_from(DTYPES))
    rng = np.random.default_rng(draw(st.integers(0, 2 ** 16)))
    values = rng.random((n_rows, n_cols))
    if kind == "binary":
        values = (values < 0.5).astype(np.float64)
    if values.size:
        cell = (rng.integers(n_rows), rng.integers(n_cols))
        values[cell] = {"nan": np.nan, "inf": np.inf, "-inf": -np.inf, "negative": -0.5,
                        "above-one": 3.0}.get(kind, values[cell])

    if dtype in ("int64", "int8", "uint8", "bool"):
        values = np.nan_to_num(values, posinf=7.0, neginf=-7.0)  # integers have no NaN/inf
        X = values.astype(dtype)
        values = X.astype(np.float64)
    elif dtype == "object-with-None":
        X = values.astype(object)
        if X.size:
            X[0, 0] = None  # read as a missing value: NaN
            values = values.copy()
            values[0, 0] = np.nan
    elif dtype == "numeric-strings":
        X = values.astype(str)  # "0.5", "nan", "inf": numbers spelled out
    elif dtype == "words":
        X = np.full(values.shape, "yes")
        values = None
    else:
        X = values.astype(dtype)
        values = X.real.astype(np.float64) if dtype != "complex" else values

    numeric = dtype not in ("object", "object-with-None", "numeric-strings", "words",
                            "complex", "float16")
    container = draw(st.sampled_from(DENSE_CONTAINERS + (list(SPARSE_FORMATS) if numeric else [])))
    if container in SPARSE_FORMATS:
        X = SPARSE_FORMATS[container](X)
    elif container == "F":
        X = np.asfortranarray(X)
    elif container == "strided":
        wide = np.repeat(X, 2, axis=1)
        X = wide[:, ::2]
    elif container == "read-only":
        X = X.copy()
        X.flags.writeable = False
    elif container == "list":
        X = X.tolist()
    elif container == "DataFrame":
        X = pd.DataFrame(X)

    ndim = 2
    if container not in SPARSE_FORMATS and n_rows > 0:
        ndim = draw(st.sampled_from([2, 2, 2, 1, 3]))
        if ndim == 1:
            X = np.asarray(X)[0] if container != "list" else X[0]
        elif ndim == 3:
            X = np.asarray(X)[None]

    problems = set()
    if ndim != 2 or (container == "list" and n_rows == 0):  # [] is 1-D
        problems.add("ndim")
    if dtype == "complex":
        problems.add("complex")
    if dtype == "words":
        problems.add("string")
    if n_rows == 0:
        problems.add("empty")
    if n_cols == 0:
        problems.add("no features")
    if values is not None and values.size:
        if np.isnan(values).any():
            problems.add("nan")
        if np.isinf(values).any():
            problems.add("inf")
        finite = values[np.isfinite(values)]
        if finite.size and (finite.min() < 0 or finite.max() > 1):
            problems.add("range")
    if n_cols != N_FEATURES:
        problems.add("features")  # only for a fitted model: fitting sets the count
    return X, problems, values


@pytest.fixture(scope="module")
def fitted_models():
    X = (np.random.default_rng(0).random((30, N_FEATURES)) < 0.5).astype(np.float64)
    kwargs = dict(n_components=N_COMPONENTS, n_iter=2, random_state=0, n_jobs=1)
    return {dtype: BernoulliRBM(**kwargs).fit(X.astype(dtype))
            for dtype in (np.float64, np.float32)}


def _new():
    return BernoulliRBM(n_components=N_COMPONENTS, n_iter=2, random_state=0, n_jobs=1)


def _check_same_model(result, reference):
    """The model fitted to the hostile input equals the one fitted to plain values."""
    for name in ("components_", "intercept_visible_", "intercept_hidden_", "h_samples_"):
        value = getattr(result, name)
        assert np.all(np.isfinite(value)), name
        assert np.array_equal(value, getattr(reference, name)), name


def _model_dtype(X):
    """float32 input trains a float32 model; everything else float64."""
    dtype = X.dtype if sp.issparse(X) else np.asarray(X).dtype
    return np.float32 if dtype == np.float32 else np.float64


def _check_transform(model, H, values):
    assert H.shape == (len(values), N_COMPONENTS) and np.all((H >= 0) & (H <= 1))
    np.testing.assert_allclose(H, model.transform(values), rtol=1e-5, atol=1e-6)


def _check_score_samples(model, log_p, values):
    assert log_p.shape == (len(values),) and log_p.dtype == np.float64
    assert np.all(np.isfinite(log_p))
    np.testing.assert_allclose(log_p, model.score_samples(values), rtol=1e-6)


def _check_score(model, score, values):
    assert isinstance(score, float) and np.isfinite(score)
    assert score == pytest.approx(model.score(values), rel=1e-6)


def _check_free_energy(model, F, values):
    assert F.shape == (len(values),) and np.all(np.isfinite(F))
    np.testing.assert_allclose(F, model.free_energy(values), rtol=1e-6)


def _check_gibbs(model, V, values):
    # A DataFrame in gives a DataFrame out (its columns and index kept).
    V = V.to_numpy() if hasattr(V, "to_numpy") else V
    assert V.shape == values.shape and V.dtype == model.components_.dtype
    assert set(np.unique(V)) <= {0.0, 1.0}


#: Every public method that takes data: (needs a fitted model, call, check of
#: the result for valid input X whose values as float64 are ``values``).
METHODS = {
    "fit": (False, lambda m, X: (_new().fit(X), _model_dtype(X)),
            lambda m, r, v: _check_same_model(r[0], _new().fit(v.astype(r[1])))),
    "partial_fit(new)": (False, lambda m, X: (_new().partial_fit(X), _model_dtype(X)),
                         lambda m, r, v: _check_same_model(r[0],
                                                           _new().partial_fit(v.astype(r[1])))),
    "partial_fit": (True, lambda m, X: copy.deepcopy(m).partial_fit(X),
                    lambda m, r, v: _check_same_model(r, copy.deepcopy(m).partial_fit(v))),
    "transform": (True, lambda m, X: m.transform(X), _check_transform),
    "score_samples": (True, lambda m, X: m.score_samples(X), _check_score_samples),
    "score": (True, lambda m, X: m.score(X), _check_score),
    "free_energy": (True, lambda m, X: m.free_energy(X), _check_free_energy),
    "gibbs": (True, lambda m, X: m.gibbs(X), _check_gibbs),
}


@pytest.mark.parametrize("method", list(METHODS))
@DETERMINISTIC
@given(case=hostile_inputs(), model_dtype=st.sampled_from(["float64", "float32"]))
def test_method_works_or_names_the_problem(method, case, model_dtype, fitted_models):
    X, problems, values = case
    needs_fit, call, check = METHODS[method]
    model = fitted_models[np.dtype(model_dtype).type]
    if not needs_fit:
        problems = problems - {"features"}  # fitting sets the number of features
    with warnings.catch_warnings():
        # Feature-name warnings (a DataFrame given to a model fitted on an
        # array) are sklearn's, and legitimate; any other warning (overflow,
        # invalid value) is a silent numerical failure.
        warnings.filterwarnings("ignore", message="X has feature names")
        warnings.filterwarnings("ignore", message="X does not have valid feature names")
        warnings.simplefilter("error")
        try:
            result = call(model, X)
        except (ValueError, TypeError) as error:
            assert problems, f"valid input rejected: {error!r}"
            message = str(error)
            assert any(re.search(PROBLEM_PATTERNS[p], message) for p in problems), (
                f"the message does not name any of {sorted(problems)}: {message!r}")
            return
    assert not problems, f"{sorted(problems)} not reported"
    check(model, result, values)


# --------------------------------------------------------------------------
# The arguments of sample and log_partition
# --------------------------------------------------------------------------

ODD_COUNTS = [True, False, 2.0, 2.5, np.nan, "3", None, np.int64(3), np.uint8(2), [3]]
# No huge sample counts: those are a legitimate request for a huge array.
hostile_sample_counts = st.one_of(st.integers(-3, 40), st.sampled_from(ODD_COUNTS))
hostile_step_counts = st.one_of(st.integers(-3, 40),
                                st.sampled_from(ODD_COUNTS + [2 ** 31, 2 ** 63]))


@DETERMINISTIC
@given(n_samples=hostile_sample_counts, n_steps=hostile_step_counts)
def test_sample_arguments(n_samples, n_steps, fitted_models):
    model = fitted_models[np.float64]
    valid_samples = isinstance(n_samples, (int, np.integer)) and not isinstance(n_samples, bool)
    valid_steps = isinstance(n_steps, (int, np.integer)) and not isinstance(n_steps, bool)
    valid_samples = valid_samples and 1 <= n_samples <= 40
    valid_steps = valid_steps and 1 <= n_steps <= 40
    try:
        X = model.sample(n_samples, n_steps=n_steps, random_state=0)
    except (ValueError, TypeError) as error:
        assert not (valid_samples and valid_steps), repr(error)
        assert re.search(r"n_samples|n_steps", str(error)), str(error)
        return
    assert valid_samples and valid_steps
    assert X.shape == (n_samples, N_FEATURES) and set(np.unique(X)) <= {0.0, 1.0}
