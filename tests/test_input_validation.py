"""Bad input gives a clear error; unusual but valid input works."""

import re
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.utils._param_validation import InvalidParameterError

from rbm import BernoulliRBM, DivergenceError
from rbm._base import MAX_ENERGY_SCALE
from rbm._state import energy_scale
from sklearn_like import SKLEARN_LIKE

N_FEATURES = 5


@pytest.fixture(scope="module")
def X():
    return (np.random.default_rng(0).random((40, N_FEATURES)) < 0.5).astype(np.float64)


@pytest.fixture(scope="module")
def fitted(X):
    return BernoulliRBM(n_components=3, n_iter=2, random_state=0, n_jobs=1).fit(X)


def _new():
    return BernoulliRBM(n_components=3, n_iter=1, random_state=0, n_jobs=1)


#: Every public method that takes data, as callables (model, X) -> result.
METHODS = {
    "fit": lambda m, X: _new().fit(X),
    "partial_fit(new)": lambda m, X: _new().partial_fit(X),
    "partial_fit": lambda m, X: m.partial_fit(X),
    "transform": lambda m, X: m.transform(X),
    "fit_transform": lambda m, X: _new().fit_transform(X),
    "score_samples": lambda m, X: m.score_samples(X),
    "score": lambda m, X: m.score(X),
    "free_energy": lambda m, X: m.free_energy(X),
    "gibbs": lambda m, X: m.gibbs(X),
    "reconstruction_error": lambda m, X: m.reconstruction_error(X),
}
METHODS_ON_FITTED = [name for name in METHODS if name not in ("fit", "partial_fit(new)", "fit_transform")]


def _with(X, row, col, value):
    X = X.copy()
    X[row, col] = value
    return X


# --------------------------------------------------------------------------
# Values: NaN, inf, outside [0, 1]
# --------------------------------------------------------------------------


@pytest.mark.parametrize("method", list(METHODS))
@pytest.mark.parametrize("container", ["dense", "csr"])
def test_nan_rejected(method, container, X, fitted):
    bad = _with(X, 3, 1, np.nan)
    bad = sp.csr_matrix(bad) if container == "csr" else bad
    before = fitted.components_.copy()
    with pytest.raises(ValueError, match=r"NaN.*\(1 NaN, 0 inf values\)"):
        METHODS[method](fitted, bad)
    assert np.array_equal(fitted.components_, before)  # nothing trained


@pytest.mark.parametrize("method", list(METHODS))
@pytest.mark.parametrize("value", [np.inf, -np.inf])
def test_inf_rejected(method, value, X, fitted):
    bad = _with(_with(X, 0, 0, value), 5, 2, value)
    with pytest.raises(ValueError, match=r"inf.*\(0 NaN, 2 inf values\)"):
        METHODS[method](fitted, bad)


@pytest.mark.parametrize("method", list(METHODS))
@pytest.mark.parametrize("container", ["dense", "csr"])
@pytest.mark.parametrize("value", [-0.25, 1.5, 255.0])
def test_values_outside_unit_interval_rejected(method, container, value, X, fitted):
    bad = _with(X, 2, 4, value)
    bad = sp.csr_matrix(bad) if container == "csr" else bad
    with pytest.raises(ValueError) as excinfo:
        METHODS[method](fitted, bad)
    message = str(excinfo.value)
    assert "expects values in [0, 1]" in message
    assert "MinMaxScaler" in message  # says how to fix it
    # ... and reports the offending extreme.
    assert (f"minimum {value:g}" if value < 0 else f"maximum {value:g}") in message


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_rounding_just_outside_the_unit_interval_is_accepted(dtype, X):
    # MinMaxScaler rounds a column's maximum of breast cancer to 1 + 2**-52;
    # that was refused, in a message that printed it as 1.
    from sklearn.datasets import load_breast_cancer
    from sklearn.preprocessing import MinMaxScaler

    from rbm import RBMClassifier
    from rbm._units.bernoulli import DOMAIN_TOLERANCE_EPS

    scaled = MinMaxScaler().fit_transform(load_breast_cancer().data)
    assert scaled.max() > 1.0
    BernoulliRBM(n_components=2, n_iter=1, random_state=0).fit(scaled)
    RBMClassifier(2, n_iter=1, random_state=0).fit(scaled, np.arange(len(scaled)) % 2)
    eps = float(np.finfo(dtype).eps)
    inside = X.astype(dtype)
    inside[0, 0], inside[1, 1] = -DOMAIN_TOLERANCE_EPS * eps, 1 + DOMAIN_TOLERANCE_EPS * eps
    BernoulliRBM(n_components=2, n_iter=1, random_state=0).fit(inside)
    outside = X.astype(dtype)
    outside[1, 1] = 1 + 4 * DOMAIN_TOLERANCE_EPS * eps
    with pytest.raises(ValueError, match=re.escape(f"maximum {float(outside[1, 1])!r}")):
        BernoulliRBM(n_components=2, n_iter=1, random_state=0).fit(outside)


def test_boundary_values_accepted(X, fitted):
    # Exactly 0 and 1 and probabilities in between are in the domain.
    Xf = X * 0.5 + np.eye(40, N_FEATURES) * 0.5
    assert Xf.min() == 0.0 and Xf.max() == 1.0
    assert fitted.transform(Xf).shape == (40, 3)
    _new().fit(Xf)


# --------------------------------------------------------------------------
# Shapes, emptiness and types
# --------------------------------------------------------------------------


@pytest.mark.parametrize("method", METHODS_ON_FITTED)
@pytest.mark.parametrize("n_features", [N_FEATURES - 1, N_FEATURES + 2])
def test_wrong_number_of_features(method, n_features, fitted):
    other = np.zeros((4, n_features))
    with pytest.raises(ValueError, match=f"X has {n_features} features, but BernoulliRBM is expecting {N_FEATURES} features"):
        METHODS[method](fitted, other)


@pytest.mark.parametrize("method", list(METHODS))
def test_1d_input(method, X, fitted):
    with pytest.raises(ValueError, match="Expected 2D array, got 1D array"):
        METHODS[method](fitted, X[0])


@pytest.mark.parametrize("method", list(METHODS))
def test_3d_input(method, X, fitted):
    with pytest.raises(ValueError, match="dim 3"):
        METHODS[method](fitted, X[None])


@pytest.mark.parametrize("method", list(METHODS))
def test_empty_input(method, fitted):
    with pytest.raises(ValueError, match=r"0 sample\(s\)"):
        METHODS[method](fitted, np.empty((0, N_FEATURES)))


@pytest.mark.parametrize("container", ["array", "DataFrame"])
def test_no_features(container):
    # A DataFrame without columns used to fail inside scikit-learn's check
    # with "at least one array or dtype is required".
    import pandas as pd

    X = np.empty((5, 0)) if container == "array" else pd.DataFrame(np.empty((5, 0)))
    with pytest.raises(ValueError, match=r"0 feature\(s\)"):
        _new().fit(X)


@pytest.mark.parametrize("method", list(METHODS))
def test_string_input(method, fitted):
    strings = np.array([["a", "b", "c", "d", "e"]] * 3)
    with pytest.raises(ValueError, match="could not convert string to float"):
        METHODS[method](fitted, strings)


def test_complex_input(X):
    with pytest.raises(ValueError, match="Complex data not supported"):
        _new().fit(X.astype(complex))


def test_unfitted_methods_raise_not_fitted(X):
    from sklearn.exceptions import NotFittedError

    model = _new()
    for name in METHODS_ON_FITTED:
        if name == "partial_fit":
            continue  # partial_fit initialises an unfitted model
        with pytest.raises(NotFittedError):
            METHODS[name](model, X)
    with pytest.raises(NotFittedError):
        model.sample(2)
    with pytest.raises(NotFittedError):
        model.log_partition()


def test_other_argument_errors(fitted):
    with pytest.raises(ValueError, match="n_samples must be a positive integer"):
        fitted.sample(0)
    with pytest.raises(ValueError, match="n_steps must be a positive integer"):
        fitted.sample(2, n_steps=0)
    # A bool is not a count (it used to fail with "an integer is required").
    with pytest.raises(ValueError, match="n_samples must be a positive integer, got True"):
        fitted.sample(True)
    # The kernel counts steps in a C int (this used to raise OverflowError).
    with pytest.raises(ValueError, match="n_steps must be a positive integer at most 2147483647"):
        fitted.sample(2, n_steps=2 ** 31)
    with pytest.raises(ValueError, match="method must be 'auto', 'exact' or 'ais'"):
        fitted.log_partition("xyz")
    with pytest.raises(ValueError, match="n_chains must be an integer >= 2"):
        fitted.log_partition("ais", n_chains=1)
    with pytest.raises(ValueError, match="n_betas must be an integer >= 3"):
        fitted.log_partition("ais", n_betas=2)


# --------------------------------------------------------------------------
# Valid but unusual input
# --------------------------------------------------------------------------


def test_csr_input_works_and_is_not_modified(X):
    Xs = sp.csr_matrix(X)
    copy = Xs.copy()
    model = _new().fit(Xs)
    dense = _new().fit(X)
    # The input matrix is untouched and still a valid canonical CSR matrix.
    assert Xs.format == "csr" and Xs.has_canonical_format
    assert Xs.indices.dtype == copy.indices.dtype and Xs.indptr.dtype == copy.indptr.dtype
    assert np.array_equal(Xs.indptr, copy.indptr) and np.array_equal(Xs.indices, copy.indices)
    assert np.array_equal(Xs.data, copy.data)
    np.testing.assert_array_equal(model.components_, dense.components_)
    np.testing.assert_allclose(model.transform(Xs), dense.transform(X), rtol=1e-12)
    np.testing.assert_allclose(model.score_samples(Xs), dense.score_samples(X), rtol=1e-12)
    np.testing.assert_allclose(model.free_energy(Xs), dense.free_energy(X), rtol=1e-12)
    assert model.gibbs(Xs).shape == X.shape


@pytest.mark.parametrize("kind", ["unsorted", "int64-indices", "explicit-zeros", "csr_array", "csc", "coo"])
def test_sparse_variants_give_the_dense_model(kind, X):
    Xs = sp.csr_matrix(X)
    if kind == "unsorted":
        for i in range(Xs.shape[0]):
            s, e = Xs.indptr[i], Xs.indptr[i + 1]
            Xs.indices[s:e] = Xs.indices[s:e][::-1].copy()
            Xs.data[s:e] = Xs.data[s:e][::-1].copy()
        Xs.has_sorted_indices = False
    elif kind == "int64-indices":
        Xs.indices = Xs.indices.astype(np.int64)
        Xs.indptr = Xs.indptr.astype(np.int64)
    elif kind == "explicit-zeros":
        Xs = sp.csr_matrix((np.where(np.arange(X.size) % 3 == 0, 0.0, X.ravel()),
                            np.tile(np.arange(N_FEATURES), X.shape[0]),
                            np.arange(0, X.size + 1, N_FEATURES)), shape=X.shape)
        X = Xs.toarray()
    elif kind == "csr_array":
        Xs = sp.csr_array(X)
    elif kind == "csc":
        Xs = sp.csc_matrix(X)
    elif kind == "coo":
        Xs = sp.coo_matrix(X)
    assert np.array_equal(Xs.toarray(), X)
    np.testing.assert_array_equal(_new().fit(Xs).components_, _new().fit(X).components_)


def _split_entries(X, value):
    """Non-canonical CSR matrix storing every 1 of binary X as two entries of ``value``."""
    rows, cols = np.nonzero(X)
    rows, cols = np.repeat(rows, 2), np.repeat(cols, 2)
    indptr = np.r_[0, np.cumsum(np.bincount(rows, minlength=X.shape[0]))]
    out = sp.csr_matrix((np.full(len(rows), value), cols, indptr), shape=X.shape)
    assert not out.has_canonical_format
    return out


def test_csr_with_duplicate_entries_is_read_as_their_sum(X):
    # scipy allows duplicate (row, column) entries in CSR and defines the
    # value as their sum (has_canonical_format is False).  Two stored 0.5s
    # per 1 of X: the matrix equals X, so the model must too.
    Xdup = _split_entries(X, 0.5)
    assert np.array_equal(Xdup.toarray(), X)
    np.testing.assert_array_equal(_new().fit(Xdup).components_, _new().fit(X).components_)


def test_csr_duplicates_summing_above_one_are_rejected(X):
    Xover = _split_entries(X, 0.75)
    assert Xover.toarray().max() == 1.5
    with pytest.raises(ValueError, match=r"expects values in \[0, 1\]"):
        _new().fit(Xover)


MALFORMED_SPARSE_SCRIPT = """
import numpy as np, scipy.sparse as sp
from rbm import BernoulliRBM, GaussianBernoulliRBM
X = np.eye(6)[np.arange(40) % 6]
good = {"bernoulli": BernoulliRBM(n_components=2, n_iter=1, random_state=0).fit(X),
        "gaussian": GaussianBernoulliRBM(n_components=2, n_iter=1, random_state=0).fit(X)}
for name, model in good.items():
    for fmt in ("csr", "coo"):
        for bad in (-1, 6, 10 ** 9):
            M = sp.csr_matrix(X) if fmt == "csr" else sp.coo_matrix(X)
            if fmt == "csr":
                M.indices[3] = bad
            else:
                M.col[3] = bad
            for method in ("fit", "partial_fit", "transform", "score_samples", "gibbs"):
                try:
                    getattr(model, method)(M)
                except ValueError as error:
                    assert "malformed " + fmt.upper() in str(error), str(error)
                    assert "indices" in str(error), str(error)
                else:
                    raise AssertionError(f"{name}.{method} accepted {fmt} index {bad}")
print("refused all")
"""


def test_malformed_sparse_indices_are_refused_before_any_use():
    # Issue 22, point 3: a column index >= n_features gave "double free or
    # corruption" at exit and a negative one was accepted.  scipy's own
    # conversions write out of bounds on such matrices, so the check must
    # come first; a subprocess shows any heap damage as its exit status.
    import subprocess
    import sys

    result = subprocess.run([sys.executable, "-c", MALFORMED_SPARSE_SCRIPT],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "refused all"
    assert "corruption" not in result.stderr and "free()" not in result.stderr


def test_float32_preserved(X):
    X32 = X.astype(np.float32)
    model = _new().fit(X32)
    assert model.components_.dtype == np.float32
    assert model.transform(X32).dtype == np.float32
    # float64 input to a float32 model gives float64 output (input dtype wins).
    assert model.transform(X).dtype == np.float64
    np.testing.assert_allclose(model.transform(X), model.transform(X32), rtol=1e-6)
    assert _new().fit(sp.csr_matrix(X32)).components_.dtype == np.float32


@pytest.mark.parametrize("dtype", [bool, np.int64, np.uint8])
def test_integer_and_bool_input_become_float64(dtype, X):
    model = _new().fit(X.astype(dtype))
    assert model.components_.dtype == np.float64
    np.testing.assert_array_equal(model.components_, _new().fit(X).components_)


def test_read_only_and_fortran_arrays(X):
    reference = _new().fit(X)
    readonly = X.copy()
    readonly.flags.writeable = False
    fortran = np.asfortranarray(X)
    assert not fortran.flags.c_contiguous
    strided = np.repeat(X, 2, axis=1)[:, ::2]  # non-contiguous view
    for variant in (readonly, fortran, strided):
        model = _new().fit(variant)
        np.testing.assert_array_equal(model.components_, reference.components_)
        np.testing.assert_array_equal(model.transform(variant), reference.transform(X))
        assert model.gibbs(variant).shape == X.shape
        model.partial_fit(variant)
    readonly_f32 = X.astype(np.float32)
    readonly_f32.flags.writeable = False
    _new().fit(readonly_f32).partial_fit(readonly_f32)


def test_list_input(X):
    np.testing.assert_array_equal(_new().fit(X.tolist()).components_, _new().fit(X).components_)


# --------------------------------------------------------------------------
# Divergence
# --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def digits_binary():
    from sklearn.datasets import load_digits

    return (load_digits().data / 16.0 > 0.5)[:200].astype(np.float64)


@pytest.mark.parametrize(
    "dtype, learning_rate",
    # float32: 1e39 is inf once cast to float32 (max 3.4e38), so the first
    # non-zero gradient gives an infinite parameter.  float64: the largest
    # float; two same-sign steps on any of the 64 * 8 + 72 parameters overflow.
    [(np.float32, 1e39), (np.float64, float(np.finfo(np.float64).max))],
)
@pytest.mark.parametrize("how", ["fit", "partial_fit"])
def test_divergence_raises_and_keeps_finite_parameters(dtype, learning_rate, how, digits_binary):
    Xd = digits_binary.astype(dtype)
    model = BernoulliRBM(**{**SKLEARN_LIKE, "learning_rate": learning_rate},
                         n_components=8, n_iter=3, random_state=0, n_jobs=1)
    with pytest.raises(DivergenceError, match=re.escape(f"learning_rate={learning_rate}")) as excinfo:
        if how == "fit":
            model.fit(Xd)
        else:
            for _ in range(3):
                model.partial_fit(Xd)
    assert isinstance(excinfo.value, ValueError)
    assert "lower the learning rate" in str(excinfo.value)
    assert "became non-finite" in str(excinfo.value)  # the cause
    for name in ("components_", "intercept_visible_", "intercept_hidden_", "h_samples_"):
        value = getattr(model, name)
        assert np.all(np.isfinite(value)), name
        assert value.dtype == dtype
    H = model.transform(Xd)
    assert H.shape == (len(Xd), 8) and np.all((H >= 0) & (H <= 1))
    assert np.isfinite(model.score(Xd))


def test_divergence_restores_the_state_before_the_failing_call(digits_binary):
    # The failing pass is undone: parameters, chains and optimiser state are
    # those from before the call, so training can continue with a sane rate.
    X32 = digits_binary.astype(np.float32)
    kwargs = dict(n_components=8, random_state=0, n_jobs=1, momentum=0.5)
    model = BernoulliRBM(**kwargs).partial_fit(X32)
    saved = {name: getattr(model, name).copy() for name in
             ("components_", "intercept_visible_", "intercept_hidden_", "h_samples_")}
    with pytest.raises(DivergenceError):
        model.set_params(learning_rate=1e39).partial_fit(X32)
    for name, value in saved.items():
        np.testing.assert_array_equal(getattr(model, name), value, err_msg=name)
    # Training continues from there with a sane learning rate.
    model.set_params(learning_rate=0.1).partial_fit(X32)
    assert np.all(np.isfinite(model.components_))
    assert not np.array_equal(model.components_, saved["components_"])


@pytest.mark.parametrize("dtype, learning_rate", [
    (np.float64, 1e307), (np.float64, 1e20), (np.float64, 1e14), (np.float32, 1e20),
])
@pytest.mark.parametrize("how", ["fit", "partial_fit"])
def test_divergence_to_huge_finite_parameters_is_caught(dtype, learning_rate, how,
                                                        digits_binary):
    # Parameters that stay finite but grow past 2**52 in energy scale
    # (float64 1e307: the sum |W| itself overflows; 1e14: one pass moves the
    # 584 parameters by ~1e13 each, about 2e16 in all; float32 1e20: finite
    # below float32's 3.4e38): the likelihoods of such a model are rounding
    # noise or -inf, so this is divergence too.
    Xd = digits_binary.astype(dtype)
    model = BernoulliRBM(**{**SKLEARN_LIKE, "learning_rate": learning_rate},
                         n_components=8, n_iter=3, random_state=0, n_jobs=1)
    with pytest.raises(DivergenceError) as excinfo:
        if how == "fit":
            model.fit(Xd)
        else:
            for _ in range(3):
                model.partial_fit(Xd)
    message = str(excinfo.value)
    assert "energy scale" in message and "2**52" in message  # the cause
    assert f"learning_rate={learning_rate}" in message and "lower the learning rate" in message
    # The model is usable: its likelihoods are finite, computed without
    # overflow warnings, and its parameters are the sound ones from before.
    assert energy_scale([model.components_, model.intercept_visible_,
                         model.intercept_hidden_], ()) < MAX_ENERGY_SCALE
    assert model.components_.dtype == dtype
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        scores = model.score_samples(Xd)
        H = model.transform(Xd)
    assert np.all(np.isfinite(scores)) and np.all(scores < 0)
    assert np.all((H >= 0) & (H <= 1))


def test_divergence_threshold_is_the_energy_scale_bound(digits_binary):
    # Parameters whose energy scale is just below / above MAX_ENERGY_SCALE; a
    # pass with a learning rate whose steps vanish below their ulp keeps them
    # as they are, so only the bound decides.
    # (Such parameters are far worse than the independent model, but a pass
    # that leaves them as they were is no finite divergence: partial_fit
    # measures against where the call started; only the bound can raise.
    # Past it, training is refused before the pass: no learning rate helps.)
    model = BernoulliRBM(n_components=8, random_state=0, n_jobs=1, learning_rate=1e-300)
    model.partial_fit(digits_binary)
    n_params = model.components_.size + model.intercept_visible_.size + model.n_components
    for factor, diverges in [(1 - 1e-9, False), (1 + 1e-9, True)]:
        value = MAX_ENERGY_SCALE * factor / n_params
        for name in ("components_", "intercept_visible_", "intercept_hidden_"):
            getattr(model, name)[...] = value
        if diverges:
            with pytest.raises(ValueError, match="energy scale .* past 2\\*\\*52"):
                model.partial_fit(digits_binary)
        else:
            with warnings.catch_warnings():
                warnings.simplefilter("error")
                model.partial_fit(digits_binary)
        assert np.all(model.components_ == value)


# --------------------------------------------------------------------------
# Constructor parameters (validated at fit, sklearn style)
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "params, pattern",
    [
        (dict(n_components=0), "'n_components' parameter"),
        (dict(n_components=2.5), "'n_components' parameter"),
        (dict(method="xyz"), "'method' parameter"),
        (dict(learning_rate=-1), "'learning_rate' parameter"),
        (dict(learning_rate=0), "'learning_rate' parameter"),
        (dict(batch_size=0), "'batch_size' parameter"),
        (dict(n_iter=-1), "'n_iter' parameter"),
        (dict(k=0), "'k' parameter"),
        # The kernel takes k and the thread count as C ints: these used to
        # raise OverflowError from inside fit, after initialising the model.
        (dict(k=2 ** 31), "'k' parameter"),
        (dict(n_jobs=2 ** 31), "'n_jobs' parameter"),
        (dict(n_chains=0), "'n_chains' parameter"),
        (dict(momentum=1.0), "'momentum' parameter"),
        (dict(weight_decay=-0.1), "'weight_decay' parameter"),
        (dict(n_jobs="many"), "'n_jobs' parameter"),
    ],
)
@pytest.mark.parametrize("how", ["fit", "partial_fit"])
def test_invalid_constructor_params_raise_at_fit(params, pattern, how, X):
    model = BernoulliRBM(**params)  # constructing never raises
    with pytest.raises(InvalidParameterError, match=pattern) as excinfo:
        getattr(model, how)(X)
    assert isinstance(excinfo.value, ValueError)
    assert not hasattr(model, "components_")  # nothing was initialised


def test_n_jobs_zero_is_rejected(X):
    with pytest.raises(ValueError, match="n_jobs == 0"):
        BernoulliRBM(n_jobs=0).fit(X)


# --------------------------------------------------------------------------
# Inputs whose meaning conversion would lose (issue 22, point 9)
# --------------------------------------------------------------------------

def test_masked_entries_are_refused_not_ignored():
    from rbm import CategoricalRBM
    X = (np.random.default_rng(0).random((30, 4)) < 0.5).astype(float)
    unmasked = np.ma.masked_array(X, mask=np.zeros(X.shape, dtype=bool))
    BernoulliRBM(n_components=2, n_iter=1, random_state=0).fit(unmasked)  # no mask set: fine
    masked = np.ma.masked_array(X, mask=np.zeros(X.shape, dtype=bool))
    masked.mask[0, 0] = True
    for model in (BernoulliRBM(n_components=2, n_iter=1), CategoricalRBM(n_components=2)):
        with pytest.raises(ValueError, match="masked array with 1 masked entries"):
            model.fit(masked)


def test_dates_are_refused_by_the_gaussian_model():
    import pandas as pd
    from rbm import GaussianBernoulliRBM
    dates = np.array(["2020-01-01", "2021-06-01", "2022-03-01"], dtype="datetime64[D]")
    frame = pd.DataFrame({"when": pd.to_datetime(["2020-01-01", "2021-01-01"]),
                          "x": [1.0, 2.0]})
    for X in (dates.reshape(-1, 1), frame):
        with pytest.raises(ValueError, match="dates or times"):
            GaussianBernoulliRBM(n_components=2, n_iter=1).fit(X)


@pytest.mark.parametrize("column", ["string", "object"])
def test_pandas_na_is_a_missing_value_for_the_categorical_model(column):
    import pandas as pd
    from rbm import CategoricalRBM
    values = ["x", "y", pd.NA, "x"]
    frame = pd.DataFrame({"a": pd.array(values, dtype="string") if column == "string"
                          else pd.Series(values, dtype=object), "b": ["p", "q", "p", "q"]})
    with pytest.raises(ValueError, match=r"missing values .* first in row 2, column 'a'"):
        CategoricalRBM(n_components=2, n_iter=1).fit(frame)


def test_an_empty_category_list_is_refused():
    from rbm import CategoricalRBM
    X = np.array([["x", "p"], ["y", "q"]])
    with pytest.raises(ValueError, match=r"categories\[1\] is empty"):
        CategoricalRBM(n_components=2, n_iter=1, categories=[["x", "y"], []]).fit(X)
