"""Review s48 of model files and fitted state: older files, byte order, ``trusted``,
compact history at any depth, and a changed ``n_temperatures`` after a fit."""

import pickle
import warnings
import zipfile

import numpy as np
import pytest
import skops.io as sio
from sklearn.base import clone
from sklearn.compose import ColumnTransformer
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import MinMaxScaler

import rbm
from rbm import (BernoulliRBM, CategoricalRBM, GaussianBernoulliRBM, RBMClassifier, RBMImputer,
                 RBMOutlierDetector)
from rbm.persistence import _fitted_models_inside, load, save

RNG = np.random.default_rng(0)
XB = (RNG.random((40, 6)) < 0.5).astype(np.float64)
Y = RNG.integers(0, 2, 40)
XM = XB.copy()
XM[RNG.random(XM.shape) < 0.1] = np.nan

#: Every estimator class, fitted small and otherwise with its defaults, with
#: the data its methods take.
SMALL = dict(n_components=3, n_iter=2, random_state=0)
FITTED = {
    "bernoulli": (lambda: BernoulliRBM(**SMALL, n_chains=5).fit(XB), XB),
    "gaussian": (lambda: GaussianBernoulliRBM(**SMALL, n_chains=5).fit(XB), XB),
    "categorical": (lambda: CategoricalRBM(**SMALL, n_chains=5).fit(XB), XB),
    "classifier": (lambda: RBMClassifier(**SMALL).fit(XB, Y), XB),
    "imputer": (lambda: RBMImputer(BernoulliRBM(**SMALL, n_chains=5)).fit(XM), XM),
    "detector": (lambda: RBMOutlierDetector(BernoulliRBM(**SMALL, n_chains=5)).fit(XB), XB),
}


def _round_trip(model, how, tmp_path):
    if how == "pickle":
        return pickle.loads(pickle.dumps(model))
    save(model, tmp_path / "model.skops")
    return load(tmp_path / "model.skops")


def _defaulted_parameters(model):
    """The constructor parameters whose value is the constructor's default."""
    defaults = type(model)().get_params(deep=False)
    return [name for name, value in model.get_params(deep=False).items()
            if isinstance(value, (str, int, float, type(None)))
            and (value == defaults[name] or value is defaults[name]
                 or value != value and defaults[name] != defaults[name])]  # (nan)


def _uses(model, X):
    """What each estimator answers, as arrays to compare; and a partial_fit where it has one."""
    # (reprs: nested estimators and NaN compare by identity)
    answers = [repr(sorted(model.get_params(deep=True).items())), repr(model),
               repr(clone(model))]
    for method in ("transform", "predict", "score_samples"):
        if hasattr(model, method):
            answers.append(getattr(model, method)(X))
    if hasattr(model, "partial_fit"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model.partial_fit(X, Y) if isinstance(model, RBMClassifier) else model.partial_fit(X)
        answers.append(model.components_)
    return answers


def _cases():
    for kind, (make, _) in FITTED.items():
        for name in _defaulted_parameters(make()):
            yield kind, name


@pytest.mark.parametrize("how", ["skops", "pickle"])
@pytest.mark.parametrize("kind, name", list(_cases()))
def test_a_file_saved_before_a_parameter_existed_gets_its_default(kind, name, how, tmp_path):
    # Finding 1: the model loaded, then repr, clone, get_params and partial_fit
    # (for the classifier, load itself) failed with a bare AttributeError.
    make, X = FITTED[kind]
    model = make()
    older = pickle.loads(pickle.dumps(model))
    del older.__dict__[name]  # as a model saved before the parameter existed
    loaded = _round_trip(older, how, tmp_path)
    assert name in vars(loaded)
    expected, got = _uses(model, X), _uses(loaded, X)
    assert got[:3] == expected[:3]
    for a, b in zip(got[3:], expected[3:]):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("how", ["skops", "pickle"])
def test_a_model_inside_an_imputer_saved_before_a_parameter_gets_its_default(how, tmp_path):
    imputer = RBMImputer(BernoulliRBM(**SMALL, n_chains=5)).fit(XM)
    expected = imputer.transform(XM)
    for model in (imputer.estimator, imputer.estimator_):
        del model.__dict__["normalize_hidden"]
        del model.__dict__["l1_squared_weight_decay"]
    loaded = _round_trip(imputer, how, tmp_path)
    assert loaded.get_params()["estimator__normalize_hidden"] is False
    assert loaded.estimator_.l1_squared_weight_decay == 0.0
    repr(loaded), clone(loaded)
    np.testing.assert_array_equal(loaded.transform(XM), expected)
    loaded.estimator_.partial_fit(XB)


def test_a_classifier_without_its_first_parameters_is_refused_by_name(tmp_path):
    # n_components existed from the first release: a file without it is damaged,
    # and the default (512) disagrees with the weights, said so.
    model = RBMClassifier(**SMALL).fit(XB, Y)
    del model.__dict__["n_components"]
    save(model, tmp_path / "model.skops")
    with pytest.raises(ValueError, match="has n_components=512 but components_ has 3 rows"):
        load(tmp_path / "model.skops")



def _other_byte_order(obj, seen=None):
    """Every multi-byte numeric array anywhere in obj swapped to big-endian, as a
    model saved on a big-endian machine holds them (in place)."""
    seen = set() if seen is None else seen
    if id(obj) in seen:
        return
    seen.add(id(obj))
    if isinstance(obj, (list, tuple)):
        for i, value in enumerate(obj):
            if isinstance(value, np.ndarray) and isinstance(obj, list):
                obj[i] = _big_endian(value)
            else:
                _other_byte_order(value, seen)
        return
    attributes = obj if isinstance(obj, dict) else getattr(obj, "__dict__", None)
    for name, value in list((attributes or {}).items()):
        if isinstance(value, np.ndarray):
            attributes[name] = _big_endian(value)
        else:
            _other_byte_order(value, seen)


def _big_endian(array):
    if array.dtype.kind in "iufc" and array.dtype.itemsize > 1:
        return array.astype(array.dtype.newbyteorder(">"))
    return array


XG = RNG.standard_normal((40, 6))
XG_MISSING = XG.copy()
XG_MISSING[RNG.random(XG.shape) < 0.1] = np.nan

#: Each model kind, unfitted, with the data it is fitted on and used with.
BYTE_ORDER_MODELS = {
    "bernoulli": (lambda: BernoulliRBM(**SMALL, n_chains=5), XB),
    "float32": (lambda: BernoulliRBM(**SMALL, n_chains=5), XB.astype(np.float32)),
    "pt": (lambda: BernoulliRBM(**SMALL, n_chains=5, method="pt", n_temperatures=3), XB),
    "gaussian": (lambda: GaussianBernoulliRBM(**SMALL, n_chains=5, learn_sigma=True), XG),
    "categorical": (lambda: CategoricalRBM(**SMALL, n_chains=5), XB),
    "drelu": (lambda: BernoulliRBM(**SMALL, n_chains=5, hidden="drelu"), XB),
    "classifier": (lambda: RBMClassifier(**SMALL), XB),
    # (its visible unit holds the inputs' sigma, read by every call)
    "gaussian_classifier": (lambda: RBMClassifier(**SMALL, visible="gaussian"), XG),
    # (mean_, scale_ and _constants around the model's own arrays)
    "imputer": (lambda: RBMImputer(GaussianBernoulliRBM(**SMALL, n_chains=5), random_state=0),
                XG_MISSING),
}


@pytest.mark.parametrize("how", ["as_is", "skops"])
@pytest.mark.parametrize("kind", BYTE_ORDER_MODELS)
def test_arrays_in_the_other_byte_order_are_used_in_native_order(kind, how, tmp_path):
    # Finding 5: a >f8 components_ was refused as "must be a ... float64 array,
    # got dtype >f8; refit the model"; then (review 48, finding 5) a Gaussian
    # classifier's "_visible_unit.state has dtype >f8, but ... float64" and an
    # imputer's "mean_ must be a finite float64 array ..., got ndarray".
    make, X = BYTE_ORDER_MODELS[kind]
    fit_args = (X, Y) if "classifier" in kind else (X,)
    model = make().fit(*fit_args)
    swapped = pickle.loads(pickle.dumps(model))
    _other_byte_order(swapped)
    assert not (swapped.mean_ if kind == "imputer" else swapped.components_).dtype.isnative
    if how == "skops":
        save(swapped, tmp_path / "model.skops")
        swapped = load(tmp_path / "model.skops")
    for method in ("transform", "score_samples", "predict", "predict_proba"):
        if hasattr(model, method):
            got, expected = getattr(swapped, method)(X), getattr(model, method)(X)
            np.testing.assert_array_equal(got, expected)
            assert got.dtype == expected.dtype  # native, same precision
    if kind == "imputer":  # (no partial_fit: its model trains on as the others)
        model, swapped = model.estimator_, swapped.estimator_
        fit_args = (np.nan_to_num(X),)
    else:
        assert swapped.components_.dtype == model.components_.dtype
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.partial_fit(*fit_args)
        swapped.partial_fit(*fit_args)
    np.testing.assert_array_equal(swapped.components_, model.components_)


def test_a_dtype_refused_for_its_byte_order_only_is_said_so():
    # Review 48, finding 5: ">f8, but ... float64" read as a contradiction.
    from rbm._units._layer import check_array_attribute
    with pytest.raises(ValueError, match=r"has dtype >f8, float64 in the other byte order "
                                         r"\(big-endian\)"):
        check_array_attribute(BernoulliRBM(), "x", np.zeros(3, ">f8"), (3,), np.float64)


@pytest.mark.parametrize("suffix", [".skops", ".pkl"])
@pytest.mark.parametrize("trusted, message", [
    (True, r"got bool True; leave trusted out"),
    ("rbm._bernoulli.BernoulliRBM", r"got the str 'rbm._bernoulli.BernoulliRBM'; pass a list, "
                                    r"e.g. trusted=rbm.trusted_types\(\) \+ \['rbm"),
    ([BernoulliRBM], r"but it holds type <class 'rbm._bernoulli.BernoulliRBM'>"),
])
def test_load_says_trusted_must_be_a_list_of_type_names(trusted, message, suffix, tmp_path):
    # Finding 4: True leaked "'bool' object is not iterable", and one name was
    # split into characters, so that the very type passed was "not trusted".
    save(BernoulliRBM(**SMALL, n_chains=5).fit(XB), tmp_path / f"model{suffix}")
    with pytest.raises(TypeError, match=r"trusted must be a list of type names \(or None for "
                                        r"rbm.trusted_types\(\)\), " + message):
        load(tmp_path / f"model{suffix}", trusted=trusted)
    # A list, or any iterable of names, is taken as before.
    names = iter(rbm.trusted_types())
    assert load(tmp_path / f"model{suffix}", trusted=names).components_.shape == (3, 6)


def _in_frozen_imputer(model):
    from sklearn.frozen import FrozenEstimator
    return RBMImputer(FrozenEstimator(model.fit(XB))).fit(XM)


#: Containers of a density model, each fitted with it (the model as given).
CONTAINERS = {
    "imputer": lambda model: RBMImputer(model).fit(XM),
    "frozen_in_imputer": _in_frozen_imputer,
    "detector": lambda model: RBMOutlierDetector(model).fit(XB),
    "pipeline": lambda model: make_pipeline(MinMaxScaler(), model).fit(XB),
    "column_transformer": lambda model: ColumnTransformer([("rbm", model, [0, 1, 2, 3, 4, 5])])
    .fit(XB),
    "grid_search": lambda model: GridSearchCV(model, {"k": [1]}, cv=2).fit(XB),
}


@pytest.mark.parametrize("container", CONTAINERS)
def test_a_model_history_is_compact_wherever_the_model_sits(container, tmp_path):
    # Finding 2: only a bare model, a detector's and a pipeline's were compact;
    # an imputer's model (what 'rbm impute --save' writes) was stored node by
    # node, its file 3 times as large and 8 times as slow to load.
    files = {}
    for n_iter in (3, 200):
        saved = CONTAINERS[container](BernoulliRBM(**{**SMALL, "n_iter": n_iter}, n_chains=5))
        models = _fitted_models_inside(saved)
        histories = [{name: list(values) for name, values in model.history_.items()}
                     for model in models]
        files[n_iter] = tmp_path / f"{n_iter}.skops"
        save(saved, files[n_iter])
        assert [model.history_ for model in _fitted_models_inside(saved)] == histories  # untouched
    # The schema differs only in the digits of a few scalars per model.
    assert abs(_schema_bytes(files[200]) - _schema_bytes(files[3])) < 200 * len(models)
    trusted = sio.get_untrusted_types(file=files[200])  # (a search's scorer and splitter)
    loaded = _fitted_models_inside(load(files[200], trusted=trusted))
    assert len(loaded) == len(models)
    for model, history in zip(loaded, histories):
        assert all(type(values) is list for values in model.history_.values())
        np.testing.assert_array_equal(model.history_["epoch"], history["epoch"])
        assert len(history["epoch"]) == 200


def _schema_bytes(path):
    """Size of the JSON schema inside a .skops file (one node per stored Python object)."""
    with zipfile.ZipFile(path) as archive:
        return archive.getinfo("schema.json").file_size


def _answers(model, X):
    """What a fitted density model answers without training, seeded."""
    return [model.transform(X), model.score_samples(X), model.score(X),
            model.sample(3, n_steps=3, random_state=1), model.log_partition(),
            model._training.swap_counts.copy()]


@pytest.mark.parametrize("fit, change", [
    (dict(method="pt", n_temperatures=3), dict(n_temperatures=4)),  # 15 chains, not blocks of 4
    (dict(method="pt", n_temperatures=3), dict(n_temperatures=5)),  # 15 chains, blocks of 5
    (dict(method="pt", n_temperatures=3), dict(method="pcd")),
    (dict(method="pcd"), dict(method="pt", n_temperatures=4)),  # 5 chains, not blocks of 4
])
def test_a_method_or_n_temperatures_set_since_the_fit_matters_only_to_training(fit, change):
    # Finding 3: transform, score, sample and log_partition were refused after
    # set_params(n_temperatures=...) (which none of them reads), while a changed
    # method or n_chains was refused by training only.
    model = BernoulliRBM(**SMALL, n_chains=5, **fit).fit(XB)
    expected = _answers(pickle.loads(pickle.dumps(model)), XB)
    original = {name: model.get_params()[name] for name in change}
    model.set_params(**change)
    for got, want in zip(_answers(model, XB), expected):
        np.testing.assert_array_equal(got, want)
    with pytest.raises(ValueError, match=r"was fitted with method=.*Set (method|n_temperatures)"
                                         r"=.* back to continue it"):
        model.partial_fit(XB)
    model.set_params(**original).partial_fit(XB)
    assert model.n_iter_ == 3


def test_an_imputer_s_standardisation_of_the_wrong_dtype_is_described():
    # Review 48, finding 5: "must be a finite float64 array ..., got ndarray".
    imputer = BYTE_ORDER_MODELS["imputer"][0]().fit(XG_MISSING)
    imputer.mean_ = imputer.mean_.astype(np.float32)
    with pytest.raises(ValueError, match=r"RBMImputer.mean_ must be a finite float64 array of 6 "
                                         r"entries for its GaussianBernoulliRBM, got an array of "
                                         r"shape \(6,\) and dtype float32; refit the imputer"):
        imputer.transform(XG_MISSING)


@pytest.mark.parametrize("layout", ["strided", "big_endian"])
def test_a_masked_kernel_array_is_refused_not_unmasked(layout):
    # The copy to a native, C-ordered array (made before the checks since the
    # layers' byte order is restored there) would drop a mask silently.
    model = GaussianBernoulliRBM(**SMALL, n_chains=5).fit(XG)
    velocity = model._training.b_velocity
    data = np.repeat(velocity, 2)[::2] if layout == "strided" else velocity.astype(">f8")
    model._training.b_velocity = np.ma.masked_array(data, mask=[True] + [False] * 5)
    with pytest.raises(ValueError, match=r"_training.b_velocity must be a plain numpy array, "
                                         r"got a MaskedArray"):
        model.transform(XG)


@pytest.mark.parametrize("fit, change", [
    (dict(method="pt", n_temperatures=3), dict(method="pcd")),
    (dict(method="pt", n_temperatures=3), dict(method="cd")),
    (dict(method="pt", n_temperatures=3), dict(n_temperatures=5)),
    (dict(method="pcd"), dict(method="pt", n_temperatures=4)),
])
def test_swap_rates_describe_the_fit_s_ladder_whatever_is_set_since(fit, change):
    # Review 48, finding 13: swap_rates_ followed the current method: a PT fit
    # with method="pcd" set since raised AttributeError, and a PCD fit with
    # method="pt" reported rates of swaps that never ran.
    model = BernoulliRBM(**SMALL, n_chains=5, **fit).fit(XB)
    expected = model.swap_rates_ if fit["method"] == "pt" else None
    model.set_params(**change)
    if expected is None:
        with pytest.raises(AttributeError, match="set by fitting with method='pt'"):
            model.swap_rates_
    else:
        assert expected.shape == (2,)
        np.testing.assert_array_equal(model.swap_rates_, expected)
    # An unfitted model, or one saved before the fit's record: the current method.
    assert not hasattr(BernoulliRBM(method="pt"), "swap_rates_")
    del model._training.ladder_at_fit
    assert hasattr(model, "swap_rates_") == (model.method == "pt")
