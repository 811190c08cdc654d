"""Fitted arrays from outside (an assignment, a model file) are checked before
the compiled kernel reads them: a wrong size is a ValueError naming the
attribute, never a crash, and the model is unchanged."""

import copy

import numpy as np
import pytest

from rbm import BernoulliRBM, CategoricalRBM, GaussianBernoulliRBM


@pytest.fixture(scope="module")
def binary():
    return (np.random.default_rng(0).random((60, 6)) < 0.5).astype(float)


def fitted(cls, X, **kwargs):
    params = dict(n_components=3, n_iter=2, random_state=0, n_jobs=1)
    params.update(kwargs)
    return cls(**params).fit(X)


def every_kernel_call(model, X):
    """Call each public method that reaches the compiled kernel."""
    yield lambda: model.partial_fit(X)
    yield lambda: model.gibbs(X[:5])
    yield lambda: model.sample(2, n_steps=3)
    yield lambda: model.transform(X[:5])
    yield lambda: model.score(X[:5])


def snapshot(model):
    arrays = {name: getattr(model, name).copy() for name in
              ("components_", "intercept_visible_", "intercept_hidden_", "h_samples_")}
    arrays.update({f"_training.{k}": v.copy() for k, v in vars(model._training).items()
                   if isinstance(v, np.ndarray)})
    return arrays


def assert_refused_everywhere(model, X, match):
    before = snapshot(model)
    for call in every_kernel_call(model, X):
        with pytest.raises(ValueError, match=match):
            call()
    after = snapshot(model)
    assert before.keys() == after.keys()
    for name in before:
        assert np.array_equal(before[name], after[name], equal_nan=True), name


@pytest.mark.parametrize("attribute, value, match", [
    ("intercept_visible_", np.zeros(1), r"intercept_visible_ has shape \(1,\)"),
    ("intercept_hidden_", np.zeros(7), r"intercept_hidden_ has shape \(7,\)"),
    ("components_", np.zeros((50, 6)), "n_components=3 but components_ has 50 rows"),
    ("components_", np.zeros((3, 5)), "n_features_in_ is 6, .* components_ has 5"),
    ("h_samples_", np.zeros((4, 1)), r"h_samples_ has shape \(4, 1\)"),
    ("components_", np.full((3, 6), np.nan), "components_ contains NaN or inf"),
    ("intercept_hidden_", [0.0, 0.0, 0.0], "must be a numpy array"),
])
def test_wrong_public_arrays_are_refused_by_every_call(binary, attribute, value, match):
    model = fitted(BernoulliRBM, binary)
    setattr(model, attribute, value)
    assert_refused_everywhere(model, binary, match)


@pytest.mark.parametrize("name, shape", [
    ("W_velocity", (1, 1)), ("b_velocity", (2,)), ("c_velocity", (0,)),
    ("visible_offset", (5,)), ("hidden_offset", (4,)), ("hidden_activity", (1,)),
])
def test_wrong_training_state_is_refused(binary, name, shape):
    model = fitted(BernoulliRBM, binary)
    setattr(model._training, name, np.zeros(shape))
    with pytest.raises(ValueError, match=f"_training.{name} has shape"):
        model.partial_fit(binary)


def test_gaussian_sigma_state_of_the_wrong_width_is_refused():
    X = np.random.default_rng(0).standard_normal((40, 4))
    model = fitted(GaussianBernoulliRBM, X)
    model._visible_unit.state = np.ones((4, 1))
    assert_refused_everywhere(model, X, r"state has shape \(4, 1\)")


def test_gaussian_nonpositive_sigma_is_refused():
    X = np.random.default_rng(0).standard_normal((40, 4))
    model = fitted(GaussianBernoulliRBM, X)
    model._visible_unit.state[0, 2] = 0.0
    with pytest.raises(ValueError, match="must be positive"):
        model.gibbs(X[:3])


def test_gaussian_sigma_too_small_to_square_is_refused():
    # Positive but below fit's own limit: transform, score, log Z and samples
    # were NaN, with NumPy's divide-by-zero warnings only.
    X = np.random.default_rng(0).standard_normal((40, 4))
    model = fitted(GaussianBernoulliRBM, X)
    model.sigma_[:] = 1e-300
    assert_refused_everywhere(model, X, r"sigma_ must be at least 1.49e-154.*normal float64"
                                        r".*feature 0")
    model32 = fitted(GaussianBernoulliRBM, X.astype(np.float32))
    model32.sigma_[:] = 1e-25  # (a normal float32, whose square is not)
    assert_refused_everywhere(model32, X.astype(np.float32),
                              r"sigma_ must be at least 1.08e-19.*normal float32.*feature 0")


def test_enlarged_categories_are_refused():
    X = np.random.default_rng(0).integers(0, 3, (40, 4))
    model = fitted(CategoricalRBM, X)
    categories = model._visible_unit.encoder.categories_
    categories[0] = np.arange(9)
    with pytest.raises(ValueError, match="categories_ give 18 one-hot columns"):
        model.gibbs(X[:3])


def test_a_missing_fitted_attribute_is_refused(binary):
    model = fitted(BernoulliRBM, binary)
    del model._training
    with pytest.raises(ValueError, match="missing its fitted attribute _training"):
        model.gibbs(binary[:3])


def test_transposed_and_read_only_assignments_are_accepted(binary):
    # Users copy weights in from elsewhere: any layout of the right shape works.
    model = fitted(BernoulliRBM, binary)
    reference = fitted(BernoulliRBM, binary)
    model.components_ = np.asfortranarray(reference.components_)
    read_only = reference.intercept_hidden_.copy()
    read_only.flags.writeable = False
    model.intercept_hidden_ = read_only
    model.partial_fit(binary)
    reference.partial_fit(binary)
    np.testing.assert_array_equal(model.components_, reference.components_)


def test_changed_n_components_is_refused_by_partial_fit(binary):
    model = fitted(BernoulliRBM, binary)
    model.set_params(n_components=7)
    with pytest.raises(ValueError, match="n_components=7 but components_ has 3 rows"):
        model.partial_fit(binary)


@pytest.mark.parametrize("params", [
    {"k": 0}, {"learning_rate": -1.0}, {"l1_weight_decay": -1.0}, {"sparsity_target": 5.0},
    {"momentum": 1.5}, {"batch_size": -3}, {"batch_size": 0}, {"method": "bogus"},
])
def test_bad_hyperparameters_are_refused_by_partial_fit_after_fit(binary, params):
    model = fitted(BernoulliRBM, binary)
    before = snapshot(model)
    model.set_params(**params)
    with pytest.raises(ValueError, match=f"'{next(iter(params))}' parameter"):
        model.partial_fit(binary)
    for name, array in snapshot(model).items():
        assert np.array_equal(array, before[name]), name


def test_a_tampered_skops_file_is_refused_not_crashed(binary, tmp_path):
    sio = pytest.importorskip("skops.io")
    import rbm
    model = fitted(BernoulliRBM, binary)
    model.components_ = np.zeros((50, 6))
    path = tmp_path / "tampered.skops"
    sio.dump(model, path)
    loaded = sio.load(path, trusted=rbm.trusted_types())
    assert_refused_everywhere(loaded, binary, "components_ has 50 rows")


@pytest.mark.parametrize("suffix", [".skops", ".joblib"])
def test_load_checks_the_fitted_state_of_every_model_in_the_file(binary, tmp_path, suffix):
    if suffix == ".skops":
        pytest.importorskip("skops.io")
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer

    from rbm.persistence import load, save
    model = fitted(BernoulliRBM, binary)
    model.components_ = np.zeros((50, 6))
    for i, obj in enumerate([model, make_pipeline(FunctionTransformer(), model)]):
        path = tmp_path / f"tampered{i}{suffix}"
        save(obj, path)
        with pytest.raises(ValueError, match="components_ has 50 rows"):
            load(path)


# Found by tests/test_fuzz_fitted_state.py: each crashed the process or gave
# an error that did not say which attribute was wrong.

def test_huge_swap_counts_are_refused_not_a_heap_corruption(binary):
    # The kernel derives the swap parity from the counts: at the int64
    # limit it corrupted the heap ("corrupted size vs. prev_size").
    model = fitted(BernoulliRBM, binary, method="pt", n_temperatures=3)
    model._training.swap_counts[:] = np.iinfo(np.int_).max
    with pytest.raises(ValueError, match="swap_counts must be counts between 0 and"):
        model.partial_fit(binary)


@pytest.mark.parametrize("name", ["W_velocity", "visible_offset", "hidden_activity"])
def test_a_nan_in_the_training_state_is_named_not_blamed_on_the_learning_rate(binary, name):
    model = fitted(BernoulliRBM, binary)
    getattr(model._training, name).reshape(-1)[0] = np.nan
    with pytest.raises(ValueError, match=f"_training.{name} contains NaN"):
        model.partial_fit(binary)


@pytest.mark.parametrize("attribute, value, match", [
    ("_visible_unit", None, "_visible_unit must be a BernoulliVisible, got NoneType"),
    ("_hidden_unit", "x", "_hidden_unit must be a BernoulliHidden, got str"),
    ("_training", 0, "_training must be a TrainingState, got int"),
    ("n_features_in_", 5, "n_features_in_ is 5, which needs 5 visible columns, but "
                          "components_ has 6"),
    ("n_features_in_", True, "n_features_in_ must be a positive integer, got True"),
])
def test_wrong_fitted_objects_are_named(binary, attribute, value, match):
    model = fitted(BernoulliRBM, binary)
    setattr(model, attribute, value)
    for call in every_kernel_call(model, binary):
        with pytest.raises(ValueError, match=match):
            call()


@pytest.mark.parametrize("name, value, match", [
    ("n_data", None, "n_data must be a non-negative number"),
    ("entropy", [-1, 2], "entropy must be a list of non-negative integers"),
    ("log_partition_cache", None, "log_partition_cache must be a dict"),
    ("shuffle_rng", None, "shuffle_rng must be a numpy Generator"),
])
def test_wrong_training_counters_and_seeds_are_named(binary, name, value, match):
    model = fitted(BernoulliRBM, binary)
    setattr(model._training, name, value)
    with pytest.raises(ValueError, match=match):
        model.score(binary)


def test_streams_of_another_generator_are_refused(binary):
    # The kernel steps SFC64's state inline; another generator's state has
    # another layout.
    model = fitted(BernoulliRBM, binary)
    streams = model._training.gibbs_streams
    streams.bitgens = [np.random.PCG64(0) for _ in range(3)]
    with pytest.raises(ValueError, match="gibbs_streams.bitgens must be a list of numpy.random"):
        model.gibbs(binary)


def test_a_hollow_training_state_is_named(binary):
    from rbm._state import TrainingState
    model = fitted(BernoulliRBM, binary)
    model._training = object.__new__(TrainingState)
    with pytest.raises(ValueError, match="_training is missing W_velocity, b_velocity"):
        model.transform(binary)


def test_a_tampered_stream_state_in_a_skops_file_is_named(binary, tmp_path):
    sio = pytest.importorskip("skops.io")
    from rbm.persistence import load
    model = fitted(BernoulliRBM, binary)
    model._training.training_streams.entropy = [-5]
    path = tmp_path / "tampered.skops"
    sio.dump(model, path)
    with pytest.raises(ValueError, match="ChainStreams .* entropy must be a list of non-neg"):
        load(path)


def test_categories_the_encoder_does_not_agree_with_are_refused():
    X = np.random.default_rng(0).integers(0, 3, (40, 4))
    model = fitted(CategoricalRBM, X)
    encoder = model._visible_unit.encoder
    encoder.categories_[0] = np.array([0, 2, 1])
    with pytest.raises(ValueError, match=r"categories_\[0\] must hold distinct categories"):
        model.transform(X)
    encoder.categories_[0] = np.array([0, 1, 2, 3])
    encoder.categories_[1] = np.array([0, 1])  # same total width, other blocks
    with pytest.raises(ValueError, match="do not match its 4 categories_"):
        model.gibbs(X[:3])


def test_numeric_labels_work_with_categories_fitted_on_objects():
    X = np.random.default_rng(0).integers(0, 3, (40, 4))
    model = fitted(CategoricalRBM, X.astype(object))
    np.testing.assert_array_equal(model.transform(X), model.transform(X.astype(object)))


# Found by a hostile pass over fitted state and persistence.

@pytest.mark.parametrize("cls, kwargs", [
    (BernoulliRBM, {}),
    (BernoulliRBM, {"hidden": "drelu"}),
    (BernoulliRBM, {"method": "pt", "n_temperatures": 3}),
    (GaussianBernoulliRBM, {}),
])
def test_a_model_memory_mapped_read_only_trains_on(tmp_path, cls, kwargs):
    # joblib.load(mmap_mode="r") makes every array read-only, the training
    # state's and the layers' too; the kernel refused them as
    # "state.W_velocity must be writable" (or "visible.state ..."), so such a
    # model could be used but never trained on.
    import joblib
    rng = np.random.default_rng(0)
    X = (rng.standard_normal((40, 4)) if cls is GaussianBernoulliRBM
         else (rng.random((40, 4)) < 0.5).astype(float))
    model = fitted(cls, X, **kwargs)
    joblib.dump(model, tmp_path / "model.joblib")
    loaded = joblib.load(tmp_path / "model.joblib", mmap_mode="r")
    assert not loaded._training.W_velocity.flags.writeable
    loaded.transform(X)
    loaded.gibbs(X[:3])
    # Only training writes them: other calls leave them mapped, not copied.
    assert isinstance(loaded._training.W_velocity, np.memmap)
    loaded.partial_fit(X)
    model.partial_fit(X)
    np.testing.assert_array_equal(loaded.components_, model.components_)
    for own, theirs in zip(loaded._learned_arrays(), model._learned_arrays()):
        np.testing.assert_array_equal(own, theirs)
    loaded.set_params(warm_start=True).fit(X)
    model.set_params(warm_start=True).fit(X)
    np.testing.assert_array_equal(loaded.components_, model.components_)


def _inference_calls(model, X):
    """name -> call of each read-only method of a fitted density model or classifier."""
    calls = {"transform": lambda: model.transform(X),
             "log_partition": lambda: model.log_partition(),
             "sample": lambda: model.sample(3, n_steps=4, random_state=0)}
    if hasattr(model, "classes_"):
        calls["predict_proba"] = lambda: model.predict_proba(X)
    else:
        calls.update(score_samples=lambda: model.score_samples(X),
                     gibbs=lambda: model.gibbs(X[:3]))
    return calls


@pytest.mark.parametrize("kind", ["bernoulli", "drelu", "gaussian", "categorical",
                                  "classifier"])
def test_a_model_memory_mapped_read_only_predicts_without_copying_it(tmp_path, kind):
    # joblib.load(mmap_mode="r") shares one copy of the parameters between
    # the processes that load a model (joblib.Parallel's workers do so).
    # The first inference call replaced components_, the intercepts and
    # h_samples_ by private writeable copies, although only training writes
    # them: each worker held the model again.
    import joblib

    from rbm import RBMClassifier
    rng = np.random.default_rng(0)
    X = (rng.random((40, 4)) < 0.5).astype(float)
    if kind == "gaussian":
        X = rng.standard_normal((40, 4))
        model = fitted(GaussianBernoulliRBM, X)
    elif kind == "categorical":
        X = rng.integers(0, 3, (40, 4)).astype(float)
        model = fitted(CategoricalRBM, X)
    elif kind == "classifier":
        model = RBMClassifier(n_components=3, n_iter=2, random_state=0).fit(
            X, np.array(["a", "b"])[rng.integers(0, 2, 40)])
    else:
        model = fitted(BernoulliRBM, X, hidden=kind)
    joblib.dump(model, tmp_path / "model.joblib")
    loaded = joblib.load(tmp_path / "model.joblib", mmap_mode="r")
    expected = {name: call() for name, call in _inference_calls(model, X).items()}
    for name, call in _inference_calls(loaded, X).items():
        result = call()
        if isinstance(result, tuple) and name == "sample":  # the classifier's (X, y)
            for part, expected_part in zip(result, expected[name]):
                np.testing.assert_array_equal(part, expected_part, err_msg=name)
        else:
            np.testing.assert_array_equal(result, expected[name], err_msg=name)
    shared = ["components_", "intercept_hidden_", "intercept_visible_"]
    shared += ["class_components_"] if kind == "classifier" else ["h_samples_"]
    for name in shared:
        assert isinstance(getattr(loaded, name), np.memmap), name
        assert not getattr(loaded, name).flags.writeable, name


@pytest.mark.parametrize("streams", ["training_streams", "gibbs_streams"])
@pytest.mark.parametrize("damage, match", [
    (lambda s: setattr(s, "bitgens", None), "bitgens must be a list of numpy.random.SFC64"),
    (lambda s: delattr(s, "entropy"), "entropy must be a list of non-negative integers"),
], ids=["bitgens_none", "entropy_deleted"])
def test_a_warm_started_fit_names_damaged_streams(binary, streams, damage, match):
    # fit(warm_start=True) deep-copied the model (to undo a failed fit)
    # before checking it, and the copy pickled the streams: a raw TypeError
    # or AttributeError from inside copy.deepcopy instead of the check's.
    model = fitted(BernoulliRBM, binary)
    damage(getattr(model._training, streams))
    before = snapshot(model)
    with pytest.raises(ValueError, match=f"_training.{streams}.*{match}"):
        model.set_params(warm_start=True).fit(binary)
    for name, array in snapshot(model).items():
        assert np.array_equal(array, before[name]), name


@pytest.mark.parametrize("suffix", [".skops", ".joblib"])
@pytest.mark.parametrize("kind", ["classifier", "imputer", "classifier_in_pipeline"])
def test_load_checks_classifiers_and_imputers_too(binary, tmp_path, suffix, kind):
    # load() checked the density models, the detector's and pipelines' only:
    # a classifier or an imputer with tampered arrays loaded as if sound.
    if suffix == ".skops":
        pytest.importorskip("skops.io")
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer

    from rbm import RBMClassifier, RBMImputer
    from rbm.persistence import load, save
    y = (binary[:, 0] > 0.5).astype(int)
    if kind == "imputer":
        gappy = binary.copy()
        gappy[0, 1] = np.nan
        obj = RBMImputer(BernoulliRBM(n_components=3, n_iter=2, random_state=0)).fit(gappy)
        obj.estimator_.components_ = np.zeros((50, 6))
        match = "components_ has 50 rows"
    else:
        obj = RBMClassifier(n_components=3, n_iter=2, random_state=0).fit(binary, y)
        obj.classes_ = np.arange(3)
        match = "classes_ has 3 classes but class_components_ has 2 columns"
        if kind == "classifier_in_pipeline":
            obj = make_pipeline(FunctionTransformer(), obj)
    path = tmp_path / f"tampered{suffix}"
    save(obj, path)
    with pytest.raises(ValueError, match=match):
        load(path)


@pytest.mark.parametrize("damage, match", [
    (lambda unit: delattr(unit, "state"), "_hidden_unit.state must be a numpy array, got "
                                          "NoneType"),
    (lambda unit: setattr(unit, "state", unit.state[:4]), r"_hidden_unit.state has shape "
                                                          r"\(4, 3\), but this model needs "
                                                          r"\(8, 3\)"),
], ids=["deleted", "short"])
def test_drelu_state_is_named_as_the_models(binary, damage, match):
    # A dReLU layer without its state (an edited file, an object rebuilt
    # without it) raised "'DReLUHidden' object has no attribute 'state'"
    # from every method; a wrong one was named as DReLUHidden.state.
    model = fitted(BernoulliRBM, binary, hidden="drelu")
    damage(model._hidden_unit)
    for call in every_kernel_call(model, binary):
        with pytest.raises(ValueError, match=f"BernoulliRBM.{match}"):
            call()


@pytest.mark.parametrize("call", ["gibbs", "sample", "partial_fit"])
def test_a_fortran_ordered_sigma_state_is_accepted(call):
    # The kernel reads sigma's state C-contiguous: an assigned Fortran-order
    # copy (of the right shape and values) was refused as "visible.state
    # must be C-contiguous".
    X = np.random.default_rng(0).standard_normal((40, 4))
    model, reference = fitted(GaussianBernoulliRBM, X), fitted(GaussianBernoulliRBM, X)
    model._visible_unit.state = np.asfortranarray(model._visible_unit.state)
    calls = {"gibbs": lambda m: m.gibbs(X[:5]), "sample": lambda m: m.sample(3, n_steps=2),
             "partial_fit": lambda m: m.partial_fit(X).components_}
    np.testing.assert_array_equal(calls[call](model), calls[call](reference))
    np.testing.assert_array_equal(model.sigma_, reference.sigma_)


@pytest.mark.parametrize("prop", ["log_partition_", "log_partition_method_"])
@pytest.mark.parametrize("attribute, value, match", [
    ("_hidden_unit", None, "_hidden_unit must be a BernoulliHidden, got NoneType"),
    ("_training", None, "_training must be a TrainingState, got NoneType"),
    ("components_", np.zeros((3, 5)), "n_features_in_ is 6, .* components_ has 5"),
])
def test_the_log_partition_properties_check_the_fitted_state(binary, prop, attribute, value,
                                                             match):
    # They read the layers and the training state unchecked: AttributeError
    # ("'NoneType' object has no attribute 'n_states'") or TypeError.
    model = fitted(BernoulliRBM, binary)
    model.score(binary)  # log Z computed and cached
    setattr(model, attribute, value)
    with pytest.raises(ValueError, match=match):
        getattr(model, prop)


def test_the_log_partition_property_reads_the_cache_of_a_sound_model(binary):
    model = fitted(BernoulliRBM, binary)
    assert model.log_partition_ is None
    model.score(binary)
    assert model.log_partition_.log_z == model.log_partition().log_z


@pytest.mark.parametrize("value", [None, "x", np.nan, 0.0])
def test_a_damaged_sigma_floor_is_named(value):
    # sigma_floor is read after training (the at-floor warning) and by
    # observed_log_likelihood, which raised "'GaussianVisible' object has no
    # attribute 'sigma_floor'" (or a formatting TypeError after a pass).
    X = np.random.default_rng(0).standard_normal((40, 4))
    model = fitted(GaussianBernoulliRBM, X)
    if value is None:
        del model._visible_unit.sigma_floor
    else:
        model._visible_unit.sigma_floor = value
    gaps = X[:3].copy()
    gaps[0, 1] = np.nan
    calls = list(every_kernel_call(model, X))
    calls.append(lambda: model.observed_log_likelihood(gaps, n_chains=2, n_betas=5))
    for call in calls:
        with pytest.raises(ValueError, match="_visible_unit.sigma_floor must be a number in"):
            call()


def test_fitted_arrays_assigned_as_views_of_each_other_are_trained_apart():
    # intercept_visible_ assigned as a view of a row of components_: the
    # weight step overwrote the visible biases' step, silently.
    X = (np.random.default_rng(0).random((60, 6)) > 0.5).astype(float)
    shared = fitted(BernoulliRBM, X)
    apart = copy.deepcopy(shared)
    shared.components_[0] = shared.intercept_visible_
    shared.intercept_visible_ = shared.components_[0]
    apart.components_[0] = apart.intercept_visible_
    apart.intercept_visible_ = apart.components_[0].copy()
    shared.partial_fit(X)
    apart.partial_fit(X)
    np.testing.assert_array_equal(shared.components_, apart.components_)
    np.testing.assert_array_equal(shared.intercept_visible_, apart.intercept_visible_)


@pytest.mark.parametrize("attribute, wrap", [
    ("components_", np.ma.masked_array), ("intercept_hidden_", np.ma.masked_array),
    ("h_samples_", np.ma.masked_array), ("components_", np.asmatrix)])
def test_array_subclasses_with_other_arithmetic_are_refused(attribute, wrap):
    # A masked array passed the checks and failed inside NumPy ("operands
    # could not be broadcast"), a matrix as LinAlgError.
    X = (np.random.default_rng(0).random((60, 6)) > 0.5).astype(float)
    model = fitted(BernoulliRBM, X)
    setattr(model, attribute, wrap(getattr(model, attribute)))
    assert_refused_everywhere(model, X, f"{attribute} must be a plain numpy array, got a "
                                        f"{type(getattr(model, attribute)).__name__}")


@pytest.mark.parametrize("case", ["the same array", "classifier"])
def test_shared_fitted_arrays_are_trained_apart_in_every_model(case):
    # The check skipped two attributes holding the very same array, and
    # RBMClassifier did not check at all.
    from rbm import RBMClassifier

    X = (np.random.default_rng(0).random((60, 6)) > 0.5).astype(float)
    y = np.arange(60) % 2
    if case == "the same array":  # (6 hidden units: b and c have one length)
        shared = fitted(BernoulliRBM, X, n_components=6)
        apart = copy.deepcopy(shared)
        shared.intercept_hidden_ = shared.intercept_visible_
        apart.intercept_hidden_ = apart.intercept_visible_.copy()
        train = dict(X=X)
    else:
        shared = RBMClassifier(6, n_iter=3, random_state=0).fit(X, y)
        apart = copy.deepcopy(shared)
        shared.intercept_visible_ = shared.components_[0]
        apart.intercept_visible_ = apart.components_[0].copy()
        train = dict(X=X, y=y)
    shared.partial_fit(**train)
    apart.partial_fit(**train)
    for name in ("components_", "intercept_visible_", "intercept_hidden_"):
        np.testing.assert_array_equal(getattr(shared, name), getattr(apart, name))
