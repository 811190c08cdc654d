"""RBMClassifier and RBMOutlierDetector under hostile use: calls that raise change
nothing, and bad labels, classes, weights and sample requests get errors that say
what was wrong and what to do."""

import re
import warnings

import numpy as np
import pytest
from sklearn.exceptions import NotFittedError
from sklearn.utils.validation import check_is_fitted

from rbm import BernoulliRBM, RBMClassifier, RBMOutlierDetector
from test_failed_calls import fingerprint


@pytest.fixture(scope="module")
def binary():
    rng = np.random.default_rng(0)
    X = (rng.random((40, 5)) < 0.5).astype(float)
    return X, (X[:, 0] > 0.5).astype(int)


def fitted(X, y, **params):
    return RBMClassifier(**{"n_components": 4, "n_iter": 2, "random_state": 0,
                            **params}).fit(X, y)


# --------------------------------------------------------------------------
# A call that raises leaves the model as it was
# --------------------------------------------------------------------------

DIVERGING = {"learning_rate": 1e300, "batch_size": 1}


@pytest.mark.filterwarnings("ignore::RuntimeWarning")   # the diverging steps overflow
@pytest.mark.parametrize("failure, message", [
    ("fit_diverges", "infinite or NaN"),
    ("partial_fit_diverges", "infinite or NaN"),
    ("wider_refit_with_bad_labels", "40 rows in X but 39 labels"),
])
def test_a_fit_that_raises_leaves_the_fitted_model(binary, failure, message):
    X, y = binary
    model = fitted(X, y)
    proba = model.predict_proba(X)
    before = fingerprint(model)
    with pytest.raises(ValueError, match=message):
        if failure == "fit_diverges":
            model.set_params(**DIVERGING).fit(X, y)
        elif failure == "partial_fit_diverges":
            model.set_params(**DIVERGING).partial_fit(X, y)
        else:
            model.fit(np.hstack([X, X]), y[:-1])
    model.set_params(learning_rate=0.2, batch_size=32)
    assert fingerprint(model) == before
    np.testing.assert_array_equal(model.predict_proba(X), proba)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")   # the diverging steps overflow
def test_partial_fit_keeps_its_history_for_a_rollback_without_copying_it(binary, monkeypatch):
    # The rollback copies what training changes in place, but not history_
    # (its lists only grow; they are cut back instead): a copy per call made
    # a long stream of partial_fit calls quadratic in its length.
    import rbm._rollback as rollback
    X, y = binary
    model = fitted(X, y)
    model.partial_fit(X, y)
    copied = []
    deepcopy = rollback.copy.deepcopy
    monkeypatch.setattr(rollback.copy, "deepcopy", lambda x: copied.append(x) or deepcopy(x))
    model.partial_fit(X, y)
    assert copied and all("history_" not in c for c in copied if isinstance(c, dict))
    rows = {name: list(values) for name, values in model.history_.items()}
    with pytest.raises(ValueError, match="infinite or NaN"):
        model.set_params(**DIVERGING).partial_fit(X, y)
    assert {name: list(values) for name, values in model.history_.items()} == rows


@pytest.mark.parametrize("method", ["fit", "partial_fit"])
def test_a_first_fit_that_raises_leaves_the_model_unfitted(binary, method):
    X, y = binary
    model = RBMClassifier(4, n_iter=1)
    before = fingerprint(model)
    with pytest.raises(ValueError, match="only one class|label 7"):
        if method == "fit":
            model.fit(X, np.zeros(len(y)))
        else:
            model.partial_fit(X, np.r_[y[:-1], 7], classes=[0, 1])
    assert fingerprint(model) == before
    with pytest.raises(NotFittedError):
        check_is_fitted(model)


# --------------------------------------------------------------------------
# Labels and classes
# --------------------------------------------------------------------------


@pytest.mark.parametrize("classes, message", [
    ([-1, 0, 1], "-1 marks unlabelled rows"),
    ([-1.0, 0.0, 1.0], "-1 marks unlabelled rows.*unlabelled_marker=None"),
    ([0, 1, np.nan], "missing"),
    (np.array(["a", None, "b"], dtype=object), "missing"),
    (1, "1-d"),
    ([[0, 1]], "1-d"),
    ([0], "classes has only one class"),
])
def test_partial_fit_refuses_classes_it_cannot_learn(binary, classes, message):
    X, y = binary
    model = RBMClassifier(4, random_state=0)
    with pytest.raises(ValueError, match=message):
        model.partial_fit(X, y, classes=classes)
    assert not hasattr(model, "classes_")


def test_the_string_minus_one_stays_a_class_in_partial_fit(binary):
    X, y = binary
    labels = np.where(y == 1, "-1", "a")
    with pytest.warns(UserWarning, match="string '-1'"):
        model = RBMClassifier(4, random_state=0).partial_fit(X, labels, classes=["a", "-1"])
    assert model.classes_.tolist() == ["-1", "a"]


def test_the_string_minus_one_as_a_class_is_pointed_out(binary):
    # A list that mixes class names with the unlabelled marker -1 becomes an
    # array of strings, the marker the class '-1': say so, since every such row
    # is then trained on as that class.
    X, y = binary
    labels = [("a" if v else "b") if i % 4 else -1 for i, v in enumerate(y)]
    with pytest.warns(UserWarning, match="string '-1' in y as a class.*object array"):
        model = fitted(X, labels)
    assert model.classes_.tolist() == ["-1", "a", "b"]


def test_the_number_minus_one_among_string_labels_marks_unlabelled_rows(binary):
    X, y = binary
    labels = np.array([("a" if v else "b") if i % 4 else -1 for i, v in enumerate(y)],
                      dtype=object)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model = fitted(X, labels)
    assert model.classes_.tolist() == ["a", "b"]


@pytest.mark.parametrize("classes", [1, [0, 1, 2]])
def test_later_partial_fit_names_classes_that_differ(binary, classes):
    X, y = binary
    model = fitted(X, y)
    with pytest.raises(ValueError, match=r"differ from the model's classes_ \[0, 1\]"):
        model.partial_fit(X, y, classes=classes)


# --------------------------------------------------------------------------
# Early stopping, sample weights
# --------------------------------------------------------------------------


@pytest.mark.parametrize("fraction", [0.2, 0.9])
def test_early_stopping_splits_tiny_data_with_fewer_rows_than_classes_on_a_side(binary,
                                                                                fraction):
    X, _ = binary
    model = RBMClassifier(4, n_iter=3, early_stopping=True, validation_fraction=fraction,
                          random_state=0).fit(X[:6], [0, 0, 1, 1, 2, 2])
    assert model.best_epoch_ in (1, 2, 3)
    assert model.classes_.tolist() == [0, 1, 2]


# --------------------------------------------------------------------------
# sample and log_likelihood
# --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def named():
    rng = np.random.default_rng(1)
    X = (rng.random((40, 5)) < 0.5).astype(float)
    return fitted(X, np.where(X[:, 0] > 0.5, "yes", "no")), X


@pytest.mark.parametrize("kwargs, message", [
    ({"n_samples": 3, "y": ["yes", "no"]}, r"one class per sample \(3\), but has shape \(2,\)"),
    ({"n_samples": 2, "y": [["yes", "no"]]}, r"shape \(1, 2\)"),
    ({"n_samples": -1}, "n_samples must be a positive integer, got -1"),
    ({"n_samples": 2.5}, "n_samples must be a positive integer, got 2.5"),
    ({"n_samples": 2, "n_steps": -3}, "n_steps must be a positive integer, got -3"),
    ({"n_samples": 2, "y": "maybe"}, r"label 'maybe'.*sample's y must hold classes"),
])
def test_sample_names_what_is_wrong_with_its_request(named, kwargs, message):
    model, _ = named
    with pytest.raises(ValueError, match=message) as raised:
        model.sample(**kwargs)
    assert "partial_fit" not in str(raised.value)


def test_sample_takes_one_string_class_or_one_per_sample(named):
    model, _ = named
    X, y = model.sample(3, y="yes", n_steps=2, random_state=0)
    assert X.shape == (3, 5) and y.tolist() == ["yes"] * 3
    _, y = model.sample(2, y=["no", "yes"], n_steps=2, random_state=0)
    assert y.tolist() == ["no", "yes"]


@pytest.mark.parametrize("y", [True, np.bool_(False), [1, True], np.array([True, False])])
def test_sample_refuses_booleans_for_classes_that_are_not(binary, y):
    # NumPy reads True as 1: sample(2, y=True) drew class 1 of classes [0, 1].
    X, labels = binary
    model = fitted(X, labels)
    with pytest.raises(ValueError, match=r"classes_ = \[0, 1\]\), but it holds (True|False), "
                                         r"the first at position [01]; True and False"):
        model.sample(2, y=y, n_steps=2, random_state=0)
    assert model.sample(2, y=[1, 0], n_steps=2, random_state=0)[1].tolist() == [1, 0]
    rows = np.broadcast_to(np.asarray(y), (2,)) if np.ndim(y) == 0 else y
    with pytest.raises(ValueError, match=r"log_likelihood's y must hold classes of the model "
                                         r"\(classes_ = \[0, 1\]\), but it holds"):
        model.log_likelihood(X[:2], rows)
    boolean = fitted(X, labels.astype(bool))
    assert boolean.sample(2, y=[True, False], n_steps=2, random_state=0)[1].tolist() == [
        True, False]


@pytest.mark.parametrize("y", [np.array([True, False, True, True]), [1, True, 0, 1]])
def test_partial_fit_refuses_booleans_for_classes_that_are_not(binary, y):
    # NumPy reads True as 1: partial_fit trained on True as class 1 of classes
    # [0, 1, 2], on a fitted model and on a first call with classes=[0, 1, 2].
    X, labels = binary
    three = np.arange(40) % 3
    model = fitted(X, three)
    state = fingerprint(model)
    message = (r"partial_fit's y must hold classes of the model \(classes_ = \[0, 1, 2\]\), "
               r"but it holds True, the first at position [01]; True and False")
    with pytest.raises(ValueError, match=message):
        model.partial_fit(X[:4], y)
    assert fingerprint(model) == state
    fresh = RBMClassifier(4, n_iter=1, random_state=0)
    with pytest.raises(ValueError, match=message):
        fresh.partial_fit(X[:4], y, classes=[0, 1, 2])
    assert not hasattr(fresh, "classes_")
    model.partial_fit(X[:4], [1, 0, 2, 1])  # the classes themselves
    boolean = RBMClassifier(4, n_iter=1, random_state=0)
    boolean.partial_fit(X[:4], [True, False, True, True], classes=[False, True])
    assert boolean.classes_.tolist() == [False, True]
    boolean.partial_fit(X[:4], np.array([False, True, False, False]))


@pytest.mark.parametrize("y", [1, np.int64(0), 1.0, [True, 0], np.array([1, 0])])
def test_boolean_classes_refuse_numbers_for_true_and_false(binary, y):
    # NumPy finds 1 equal to True: sample(2, y=1) drew the class True, and
    # log_likelihood and partial_fit took 1 and 0 as True and False (the
    # converse of the refusal above).
    X, labels = binary
    model = fitted(X, labels.astype(bool))
    state = fingerprint(model)
    message = (r"y must hold classes of the model \(classes_ = \[False, True\]\), but it "
               r"holds (1|0|1\.0), the first at position [01]; the model was fitted on "
               r"boolean labels")
    with pytest.raises(ValueError, match="sample's " + message):
        model.sample(2, y=y, n_steps=2, random_state=0)
    rows = np.broadcast_to(np.asarray(y), (2,)) if np.ndim(y) == 0 else y
    with pytest.raises(ValueError, match="log_likelihood's " + message + r".*or -1 for an "
                                         r"unlabelled row"):
        model.log_likelihood(X[:2], rows)
    with pytest.raises(ValueError, match="partial_fit's " + message):
        model.partial_fit(X[:2], rows)
    assert fingerprint(model) == state
    # The classes themselves, and the unlabelled marker, are taken.
    assert model.sample(2, y=[True, False], n_steps=2, random_state=0)[1].tolist() == [
        True, False]
    assert np.isfinite(model.log_likelihood(X[:2], [True, -1])).all()
    model.partial_fit(X[:2], [False, -1])


@pytest.mark.parametrize("as_given", [list, lambda y: np.array(y, dtype=object)])
def test_boolean_classes_fit_with_unlabelled_rows(binary, as_given):
    # A bool array cannot hold the marker -1; given as [True, False, -1]
    # NumPy made the labels the integers 1 and 0 (classes_ [0, 1]) and an
    # object array was refused as "Unknown label type: unknown".
    X, labels = binary
    y = labels.astype(bool).tolist()
    y[:8] = [-1] * 8
    model = fitted(X, as_given(y))
    assert model.classes_.dtype == bool and model.classes_.tolist() == [False, True]
    assert model.predict(X).dtype == bool
    # The same model as the classes 0 and 1 with the same rows unlabelled.
    numbers = labels.copy()
    numbers[:8] = -1
    assert np.array_equal(model.components_, fitted(X, numbers).components_)
    with pytest.raises(ValueError, match="objective='discriminative' learns only from "
                                         "labelled rows"):
        fitted(X, as_given(y), objective="discriminative")


def test_fit_refuses_booleans_mixed_with_other_labels(binary):
    # NumPy made [True, False, 2, ...] the integers [1, 0, 2, ...]: classes [0, 1, 2].
    X, labels = binary
    y = [True, False, 2] * 13 + [True]
    with pytest.raises(ValueError, match=r"fit's y mixes True or False with other labels "
                                         r"\(it holds True, the first at position 0\)"):
        fitted(X, y)
    assert fitted(X, labels.astype(bool)).classes_.tolist() == [False, True]
    assert fitted(X, [1, 0, 2] * 13 + [1]).classes_.tolist() == [0, 1, 2]


def test_log_likelihood_names_an_unknown_label_without_blaming_partial_fit(named):
    model, X = named
    with pytest.raises(ValueError, match="label 'maybe'.*log_likelihood's y") as raised:
        model.log_likelihood(X[:2], ["yes", "maybe"])
    assert "partial_fit" not in str(raised.value)


def test_partial_fit_after_fit_names_an_unknown_label(binary):
    X, y = binary
    with pytest.raises(ValueError, match="label 2 .*partial_fit keeps the classes of fit"):
        fitted(X, y).partial_fit(X, np.r_[y[:-1], 2])


@pytest.mark.parametrize("method", ["fit", "partial_fit"])
def test_a_zero_scalar_sample_weight_is_refused_like_all_zero_weights(binary, method):
    X, y = binary
    model = RBMClassifier(4, n_iter=1, random_state=0)
    with pytest.raises(ValueError, match="sample_weight is zero for every sample"):
        if method == "fit":
            model.fit(X, y, sample_weight=0)
        else:
            model.partial_fit(X, y, classes=[0, 1], sample_weight=0.0)
    assert not hasattr(model, "components_")


@pytest.mark.parametrize("weights", [["a"] * 40, {"a": 1}, np.full(40, 1 + 1j), [None] * 40])
def test_sample_weight_that_is_not_numbers_is_named(binary, weights):
    X, y = binary
    model = RBMClassifier(4, n_iter=1)
    with pytest.raises(ValueError, match="sample_weight must be numbers, got dtype"):
        model.fit(X, y, sample_weight=weights)
    assert not hasattr(model, "components_")


def test_a_scalar_sample_weight_fits_as_no_weights(binary):
    X, y = binary
    weighted = RBMClassifier(4, n_iter=2, random_state=0).fit(X, y, sample_weight=1.0)
    np.testing.assert_allclose(weighted.predict_proba(X), fitted(X, y).predict_proba(X))


@pytest.mark.parametrize("dtype", ["string", "object", "Int64", "category"])
def test_pandas_missing_labels_are_refused_with_the_row(binary, dtype):
    pd = pytest.importorskip("pandas")
    X, y = binary
    labels = pd.Series(y if dtype == "Int64" else np.where(y == 1, "a", "b"), dtype=dtype)
    labels[3] = pd.NA if dtype != "category" else np.nan
    model = RBMClassifier(4, n_iter=1)
    with pytest.raises(ValueError, match="missing labels .* in 1 row, the first in row 3"):
        model.fit(X, labels)
    assert not hasattr(model, "classes_")


@pytest.mark.parametrize("method", ["ais", "exact"])
@pytest.mark.parametrize("kwargs, message", [
    ({"n_chains": 0}, "n_chains must be an integer >= 2"),
    ({"n_chains": 1}, "n_chains must be an integer >= 2"),
    ({"n_betas": "x"}, "n_betas must be an integer >= 3, got 'x'"),
    ({"n_betas": 2.5}, "n_betas must be an integer >= 3"),
])
def test_log_partition_names_a_bad_ais_setting(named, method, kwargs, message):
    model, _ = named
    with pytest.raises(ValueError, match=message):
        model.log_partition(method, **kwargs)


@pytest.mark.parametrize("n_components", [3, 6, 64])
def test_log_partition_refuses_a_later_n_components_until_set_back(binary, n_components):
    # As the density models: a changed n_components is named, not ignored.
    X, y = binary
    model = fitted(X, y)
    log_z, log_likelihood = model.log_partition(), model.log_likelihood(X)
    model.set_params(n_components=n_components)
    for call in (model.log_partition, lambda: model.log_likelihood(X)):
        with pytest.raises(ValueError, match=f"n_components={n_components} but components_ "
                                             "has 4 rows"):
            call()
    model.set_params(n_components=4)
    assert model.log_partition().method == "exact"
    assert model.log_partition().log_z == log_z.log_z
    np.testing.assert_array_equal(model.log_likelihood(X), log_likelihood)


def test_log_partition_follows_sigma_of_gaussian_inputs_after_a_refit():
    # With n_iter=0 a refit on the data times 2 (mean exactly 0: the biases
    # stay 0) changes sigma alone; the cache read the first fit's log Z.
    rng = np.random.RandomState(0)
    half = rng.randint(-3, 4, size=(30, 3)).astype(float)
    X, y = np.vstack([half, -half]), np.repeat([0, 1], 30)
    params = dict(visible="gaussian", n_components=4, n_iter=0, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = RBMClassifier(**params).fit(X, y)
        first = model.log_partition().log_z
        model.fit(2 * X, y)
        fresh = RBMClassifier(**params).fit(2 * X, y)
    for a, b in zip(model._parameters(), fresh._parameters()):
        np.testing.assert_array_equal(a, b)  # only sigma differs from the first fit
    expected = fresh.log_partition().log_z
    assert abs(expected - first) > 1.0  # sigma doubled: log Z grows by about 3 log 2
    assert model.log_partition().log_z == expected
    np.testing.assert_array_equal(model.log_likelihood(2 * X, y), fresh.log_likelihood(2 * X, y))


def test_log_partition_follows_sigma_assigned_in_place():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(60, 3))
    y = (X[:, 0] > 0).astype(int)
    model = RBMClassifier(visible="gaussian", n_components=4, n_iter=2, random_state=0).fit(X, y)
    before = model.log_partition().log_z
    model._visible_unit.state[0] *= 2.0
    after = model.log_partition().log_z
    model._log_partition_cache = {}
    assert after == model.log_partition().log_z != before


# --------------------------------------------------------------------------
# RBMOutlierDetector
# --------------------------------------------------------------------------


def test_detector_refit_without_column_names_drops_the_old_names(binary):
    pd = pytest.importorskip("pandas")
    X, _ = binary
    detector = RBMOutlierDetector(BernoulliRBM(n_components=3, n_iter=2, random_state=0))
    detector.fit(pd.DataFrame(X, columns=list("abcde")))
    assert detector.feature_names_in_.tolist() == list("abcde")
    detector.fit(X)
    assert not hasattr(detector, "feature_names_in_")
    assert not hasattr(detector.estimator_, "feature_names_in_")


def test_readme_anomaly_figures_are_what_the_example_prints(monkeypatch, capsys):
    # The full example (ten detectors, 200 epochs each) takes a few seconds.
    import re
    import runpy
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    monkeypatch.delenv("RBM_EXAMPLES_FAST", raising=False)
    monkeypatch.setattr("sys.argv", ["anomaly_detection.py"])
    runpy.run_path(str(root / "examples" / "anomaly_detection.py"), run_name="__main__")
    rows = [line.split() for line in capsys.readouterr().out.splitlines()[1:11]]
    auc = {int(r[0]): float(r[1]) for r in rows}
    caught = [float(r[2].rstrip("%")) for r in rows]
    false_alarms = [float(r[3].rstrip("%")) for r in rows]
    readme = " ".join((root / "README.md").read_text().split("## Anomaly detection")[1]
                      .split("\n## ")[0].split())
    claim = re.search(r"mean ROC AUC (\S+) \((\S+) for (\d)s, (\S+) for 0s\)\. At "
                      r"`contamination=0.05` it flags (\d+)-(\d+)% of the anomalies, and "
                      r"(\d+)-(\d+)% of held-out normal images", readme)
    assert claim, readme
    mean, worst, worst_digit, zero, *ranges = claim.groups()
    assert np.mean(list(auc.values())) == pytest.approx(float(mean), abs=5e-4)
    assert auc[int(worst_digit)] == pytest.approx(float(worst), abs=5e-4)
    assert min(auc.values()) == auc[int(worst_digit)]
    assert auc[0] == pytest.approx(float(zero), abs=5e-5)
    assert [round(min(caught)), round(max(caught))] == [int(ranges[0]), int(ranges[1])]
    assert [round(min(false_alarms)), round(max(false_alarms))] == [int(ranges[2]),
                                                                   int(ranges[3])]


# --------------------------------------------------------------------------
# Weighted rows, as the README's "Weighted rows" says of every model
# --------------------------------------------------------------------------


def _arrays(model):
    return [model.components_, model.class_components_, model.intercept_hidden_,
            model.intercept_visible_, model.intercept_class_]


@pytest.mark.parametrize("params", [{}, {"early_stopping": True}, {"objective": "generative"}])
def test_classifier_rows_of_weight_zero_change_nothing(binary, params):
    X, y = binary
    labels = np.where(np.arange(len(y)) % 5 == 0, -1, y)
    weights = np.arange(len(y)) % 3.0            # 0, 1, 2, 0, ...
    kept = weights > 0

    def fit(X, labels, weights):
        return RBMClassifier(4, n_iter=3, random_state=0, **params).fit(X, labels, weights)

    with_zeros, without = fit(X, labels, weights), fit(X[kept], labels[kept], weights[kept])
    for a, b in zip(_arrays(with_zeros), _arrays(without)):
        np.testing.assert_array_equal(a, b)
    with_zeros.partial_fit(X, labels, sample_weight=weights)
    without.partial_fit(X[kept], labels[kept], sample_weight=weights[kept])
    for a, b in zip(_arrays(with_zeros), _arrays(without)):
        np.testing.assert_array_equal(a, b)


def test_classifier_weights_are_relative(binary):
    X, y = binary
    weights = 1.0 + np.arange(len(y)) % 3
    fits = [RBMClassifier(4, n_iter=3, random_state=0).fit(X, y, sample_weight=scale * weights)
            for scale in (1.0, 1000.0)]
    for a, b in zip(_arrays(fits[0]), _arrays(fits[1])):
        np.testing.assert_allclose(a, b, rtol=1e-7, atol=1e-12)
    plain = RBMClassifier(4, n_iter=3, random_state=0).fit(X, y)
    tens = RBMClassifier(4, n_iter=3, random_state=0).fit(X, y, sample_weight=10)
    for a, b in zip(_arrays(plain), _arrays(tens)):
        np.testing.assert_array_equal(a, b)
    # Weights whose sum overflows float64 are refused, as the density models refuse them.
    with pytest.raises(ValueError, match="sums to more than a float64 holds"):
        RBMClassifier(4, n_iter=3, random_state=0).fit(X, y, sample_weight=1e308)


def test_sample_without_a_seed_uses_the_estimators_random_state(binary):
    # As the density models' sample: reproducible from the estimator alone.
    X, y = binary
    model = RBMClassifier(4, n_iter=3, random_state=5).fit(X, y)
    first, labels = model.sample(6, n_steps=20)
    again, labels_again = model.sample(6, n_steps=20)
    seeded, seeded_labels = model.sample(6, n_steps=20, random_state=5)
    np.testing.assert_array_equal(first, again)
    np.testing.assert_array_equal(first, seeded)
    np.testing.assert_array_equal(labels, seeded_labels)
    other, _ = model.sample(6, n_steps=20, random_state=6)
    assert not np.array_equal(first, other)


def test_sample_after_a_dataframe_fit_is_a_dataframe(binary):
    # As the density models' sample: the container and column names of fit.
    pd = pytest.importorskip("pandas")
    X, y = binary
    frame = pd.DataFrame(X, columns=[f"pixel{i}" for i in range(X.shape[1])])
    model = RBMClassifier(4, n_iter=3, random_state=0).fit(frame, y)
    samples, labels = model.sample(5, n_steps=10)
    assert isinstance(samples, pd.DataFrame)
    assert list(samples.columns) == list(frame.columns)
    array_model = RBMClassifier(4, n_iter=3, random_state=0).fit(X, y)
    array_samples, array_labels = array_model.sample(5, n_steps=10)
    assert isinstance(array_samples, np.ndarray)
    np.testing.assert_array_equal(samples.to_numpy(), array_samples)
    np.testing.assert_array_equal(labels, array_labels)


def test_log_z_is_computed_once_per_parameter_values(binary, monkeypatch):
    # log_likelihood asks for log Z on every call; an AIS run of a large model
    # takes seconds to minutes, so it is computed once per parameter values.
    import rbm.classifier as classifier
    X, y = binary
    model = RBMClassifier(4, n_iter=2, random_state=0).fit(X, y)
    runs = []
    ais = classifier.ais_log_partition
    monkeypatch.setattr(classifier, "ais_log_partition",
                        lambda *args, **kwargs: runs.append(1) or ais(*args, **kwargs))
    first = model.log_partition("ais", n_chains=4, n_betas=50)
    again = model.log_partition("ais", n_chains=4, n_betas=50)
    assert len(runs) == 1 and again == first
    model.log_partition("ais", n_chains=4, n_betas=50, random_state=1)  # other settings
    assert len(runs) == 2
    model.partial_fit(X, y)  # new parameters: computed again, and differently
    assert model.log_partition("ais", n_chains=4, n_betas=50).log_z != first.log_z
    assert len(runs) == 3
    exact = model.log_partition("exact")
    model._log_partition_cache = None  # a damaged cache is only a cache
    assert model.log_partition("exact") == exact


def test_a_float16_validation_fraction_splits_many_labelled_rows():
    # float16(0.5) * 65,600 labelled rows overflows float16 to inf: fit raised
    # OverflowError ("cannot convert float infinity to integer"), as the
    # density models did (tests/test_hostile_core.py).
    rng = np.random.default_rng(0)
    X = (rng.random((65_600, 3)) < 0.5).astype(np.float32)
    y = (X[:, 0] + rng.random(65_600) > 0.9).astype(int)
    params = dict(n_components=2, n_iter=1, batch_size=2_000, early_stopping=True,
                  random_state=0)
    model = RBMClassifier(validation_fraction=np.float16(0.5), **params).fit(X, y)
    reference = RBMClassifier(validation_fraction=0.5, **params).fit(X, y)
    np.testing.assert_array_equal(model.class_components_, reference.class_components_)


# --------------------------------------------------------------------------
# Fitted state from outside (an assignment, a model file)
# --------------------------------------------------------------------------

def every_fitted_call(model, X, y):
    """Each public method that uses the fitted model."""
    yield "predict", lambda: model.predict(X)
    yield "predict_proba", lambda: model.predict_proba(X)
    yield "decision_function", lambda: model.decision_function(X)
    yield "transform", lambda: model.transform(X)
    yield "score", lambda: model.score(X, y)
    yield "log_likelihood", lambda: model.log_likelihood(X, y)
    yield "log_partition", lambda: model.log_partition("exact")
    yield "sample", lambda: model.sample(2, n_steps=2)
    yield "partial_fit", lambda: model.partial_fit(X, y)
    yield "get_feature_names_out", lambda: model.get_feature_names_out()


@pytest.mark.parametrize("attribute, value, match", [
    # Before, predict mapped the class scores onto the wrong labels (or an
    # IndexError), and partial_fit, sample and log_likelihood went on.
    ("classes_", np.arange(5), "classes_ has 5 classes but class_components_ has 2 columns"),
    ("classes_", np.array([1, 0]), "classes_ must be a 1-d array of at least two distinct "
                                   "classes in sorted order"),
    ("classes_", np.array([3]), "classes_ must be a 1-d array of at least two"),
    ("intercept_class_", np.zeros(3), "classes_ has 2 classes but intercept_class_ has 3"),
    ("components_", np.zeros((4, 7)), "n_features_in_ is 5, .* components_ has 7"),
    ("components_", np.zeros(20), r"components_ has shape \(20,\)"),
    ("intercept_hidden_", np.zeros(9), r"components_ has 4 rows \(hidden units\) but "
                                       "intercept_hidden_ has 9 entries"),
    ("intercept_visible_", np.zeros(2), "components_ has 5 columns but intercept_visible_ "
                                        "has 2 entries"),
    ("components_", np.zeros((6, 5)), r"components_ has 6 rows \(hidden units\) but "
                                      "class_components_ has 4 rows"),
    ("intercept_hidden_", np.zeros((4, 1)), r"intercept_hidden_ has shape \(4, 1\)"),
    ("class_components_", np.full((4, 2), np.nan), "class_components_ contains NaN or inf"),
    ("components_", np.zeros((4, 5), dtype=complex), "components_ has dtype complex128"),
    ("components_", np.zeros((4, 5), dtype=np.float32), "components_ has dtype float32, but "
                                                        "this model's parameters are float64"),
    ("intercept_hidden_", [0.0] * 4, "intercept_hidden_ must be a numpy array, got list"),
    ("_visible_unit", None, "_visible_unit must be a BernoulliVisible, GaussianVisible"),
])
def test_wrong_fitted_arrays_are_named_by_every_call(binary, attribute, value, match):
    X, y = binary
    model = fitted(X, y)
    setattr(model, attribute, value)
    before = fingerprint(model)
    for name, call in every_fitted_call(model, X, y):
        with pytest.raises(ValueError, match=match):
            call()
        assert fingerprint(model) == before, name


@pytest.mark.parametrize("damage, match", [
    (lambda m: m._velocities.pop(), "_velocities must be a list of 5 arrays"),
    (lambda m: m._velocities.__setitem__(2, np.zeros((4, 3))),
     r"_velocities\[2\] has shape \(4, 3\), but this model needs \(4, 2\)"),
    (lambda m: setattr(m._chains, "labels", m._chains.labels + 7),
     r"_chains.labels must be one class index in \[0, 2\)"),
    (lambda m: setattr(m._chains, "V", m._chains.V[:, :3]), r"_chains.V has shape"),
    (lambda m: setattr(m, "_chains", None), "_chains must be the persistent chains"),
    (lambda m: setattr(m, "_rng", 0), "_rng must be a numpy Generator"),
    (lambda m: setattr(m, "history_", None), "history_ must be a dict of lists"),
], ids=["velocities_short", "velocity_shape", "chain_labels", "chain_width", "no_chains",
        "rng", "history"])
def test_partial_fit_names_damaged_training_state(binary, damage, match):
    # partial_fit indexed, broadcast or iterated these deep inside a step
    # (IndexError, broadcasting errors, AttributeError from copy.deepcopy).
    X, y = binary
    model = fitted(X, y)
    damage(model)
    before = fingerprint(model)
    with pytest.raises(ValueError, match=match):
        model.partial_fit(X, y)
    assert fingerprint(model) == before
    model.predict(X)  # prediction needs none of it


def test_a_classifier_memory_mapped_read_only_trains_on(binary, tmp_path):
    # joblib.load(mmap_mode="r") makes every array read-only: partial_fit
    # failed with NumPy's "output array is read-only".
    import joblib
    X, y = binary
    model = fitted(X, y)
    joblib.dump(model, tmp_path / "model.joblib")
    loaded = joblib.load(tmp_path / "model.joblib", mmap_mode="r")
    assert not loaded.components_.flags.writeable
    loaded.partial_fit(X, y)
    model.partial_fit(X, y)
    for own, theirs in zip(loaded._parameters(), model._parameters()):
        np.testing.assert_array_equal(own, theirs)


def test_a_transposed_assignment_of_the_right_shape_is_used(binary):
    X, y = binary
    model, reference = fitted(X, y), fitted(X, y)
    model.class_components_ = np.asfortranarray(reference.class_components_)
    np.testing.assert_array_equal(model.predict_proba(X), reference.predict_proba(X))
    model.partial_fit(X, y)
    reference.partial_fit(X, y)
    np.testing.assert_array_equal(model.class_components_, reference.class_components_)


@pytest.mark.parametrize("attribute, value, match", [
    # A NaN threshold made every sample an inlier without a word; the
    # others failed as "'NoneType' object has no attribute ..." or NumPy's
    # "unsupported operand type(s)".
    ("offset_", np.nan, "offset_ must be a finite number"),
    ("offset_", "x", "offset_ must be a finite number"),
    ("offset_", np.array([1.0, 2.0]), "offset_ must be a finite number"),
    ("estimator_", None, "estimator_ must be the fitted density model"),
])
def test_the_detectors_own_fitted_attributes_are_named(binary, attribute, value, match):
    X, _ = binary
    detector = RBMOutlierDetector(BernoulliRBM(n_components=3, n_iter=2,
                                               random_state=0)).fit(X)
    setattr(detector, attribute, value)
    calls = [detector.decision_function, detector.predict]
    if attribute == "estimator_":
        calls.append(detector.score_samples)
    for call in calls:
        with pytest.raises(ValueError, match=match):
            call(X)


def test_a_damaged_log_partition_cache_is_recomputed(binary):
    # log_likelihood unpacked the entry: "cannot unpack non-iterable NoneType".
    # Entries the library does not write are dropped: it is only a cache.
    X, y = binary
    model = fitted(X, y)
    expected = model.log_likelihood(X, y)
    for call in (lambda: model.log_likelihood(X, y), lambda: model.log_partition()):
        model._log_partition_cache = {key: None for key in model._log_partition_cache}
        call()
        assert None not in model._log_partition_cache.values()
    np.testing.assert_array_equal(model.log_likelihood(X, y), expected)


class _ClearedByAnotherThread(dict):
    """A cache that another thread empties right after each store."""

    def __setitem__(self, key, value):
        super().__setitem__(key, value)
        self.clear()


def test_a_log_partition_cache_emptied_by_another_thread_meanwhile_is_no_error(binary):
    # The entry was read back from the cache after the store: KeyError when a
    # concurrent call had filled it up to its size and cleared it in between.
    X, y = binary
    model = fitted(X, y)
    expected = model.log_partition()
    model._log_partition_cache = _ClearedByAnotherThread()
    assert model.log_partition().log_z == expected.log_z
    assert np.isfinite(model.log_likelihood(X, y)).all()


# --------------------------------------------------------------------------
# unlabelled_marker: -1 as a class, other markers
# --------------------------------------------------------------------------


def test_minus_one_is_a_class_without_the_marker(binary):
    X, y = binary
    signs = np.where(y == 1, 1, -1)
    with pytest.raises(ValueError, match="if -1 is a class, set unlabelled_marker=None"):
        fitted(X, signs)
    model = fitted(X, signs, unlabelled_marker=None, n_iter=30)
    assert model.classes_.tolist() == [-1, 1]
    assert set(model.predict(X)) <= {-1, 1}
    # The same model as with the labels 0 and 1 (the classes in the same order).
    reference = fitted(X, y, n_iter=30)
    np.testing.assert_array_equal(model.components_, reference.components_)
    np.testing.assert_array_equal(model.predict(X), np.where(reference.predict(X) == 1, 1, -1))
    partial = RBMClassifier(4, random_state=0, unlabelled_marker=None).partial_fit(
        X, signs, classes=[-1, 1])
    assert partial.classes_.tolist() == [-1, 1]


def test_a_string_marker_marks_the_same_rows_as_minus_one(binary):
    X, y = binary
    numeric = y.copy()
    numeric[::3] = -1
    named = np.where(numeric == 1, "b", "a").astype(object)
    named[::3] = "?"
    a = fitted(X, numeric, n_iter=5)
    b = fitted(X, named, n_iter=5, unlabelled_marker="?")
    assert b.classes_.tolist() == ["a", "b"]
    for name in ("components_", "class_components_", "intercept_class_"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    # A string marker leaves numeric labels alone, and a numeric one strings.
    with pytest.raises(ValueError, match="only one class, 'a',.*'b' are unlabelled"):
        fitted(X, np.where(y == 1, "b", "a"), unlabelled_marker="b")
    assert fitted(X, np.where(y == 1, -1, 0), unlabelled_marker="-1").classes_.tolist() == [-1, 0]


def test_a_marker_set_to_a_fitted_class_is_refused(binary):
    X, y = binary
    model = fitted(X, np.where(y == 1, 1, -1), unlabelled_marker=None)
    model.set_params(unlabelled_marker=-1)
    before = fingerprint(model)
    with pytest.raises(ValueError, match="unlabelled_marker=-1, which is one of its classes_"):
        model.partial_fit(X, np.where(y == 1, 1, -1))
    assert fingerprint(model) == before


@pytest.mark.parametrize("change, message", [
    ({"n_components": 8}, "n_components=8 but components_ has 4 rows; set n_components back"),
    ({"visible": "gaussian"}, "visible='gaussian' but was fitted with 'bernoulli' inputs"),
])
def test_changed_layer_parameters_are_refused_until_set_back(binary, change, message):
    # As the density models: the fitted layers would otherwise go on silently.
    X, y = binary
    model = fitted(X, y)
    expected = model.predict_proba(X)
    original = {name: model.get_params()[name] for name in change}
    model.set_params(**change)
    for call in (lambda: model.predict(X), lambda: model.partial_fit(X, y),
                 lambda: model.transform(X)):
        with pytest.raises(ValueError, match=message):
            call()
    model.set_params(**original)
    np.testing.assert_array_equal(model.predict_proba(X), expected)


def test_a_model_saved_before_unlabelled_marker_existed_keeps_minus_one(binary):
    import pickle

    X, y = binary
    model = fitted(X, y)
    expected = model.predict(X)
    del model.__dict__["unlabelled_marker"]  # as a model pickled before the parameter
    loaded = pickle.loads(pickle.dumps(model))  # (ParamsFilledOnLoad gives it the default)
    assert loaded.get_params()["unlabelled_marker"] == -1
    np.testing.assert_array_equal(loaded.predict(X), expected)
    # -1 still marks an unlabelled row (index -1), 1 is class 1.
    assert loaded._label_indices(np.array([-1, 1]), 2, reset=False).tolist() == [-1, 1]


def test_a_sample_larger_than_memory_is_refused_before_allocating(binary, monkeypatch):
    # As the density models' sample (tests/test_memory.py): sample(10**12)
    # reached NumPy's "Unable to allocate 7.28 TiB" (the labels' draw).
    import rbm._state
    from rbm._state import ModelTooLargeError
    X, y = binary
    model = fitted(X, y)
    monkeypatch.setattr(rbm._state, "available_memory", lambda: 100 * 2**20)
    with pytest.raises(ModelTooLargeError, match=r"RBMClassifier.sample\(1000000000000\) needs "
                                                 r"about .* draw at most \d+ samples a call"):
        model.sample(10**12, n_steps=1)
    with pytest.raises(ValueError, match="n_steps must be a positive integer, got 0"):
        model.sample(2, n_steps=0)
    monkeypatch.setattr(rbm._state, "available_memory", lambda: 0)  # small: never read
    assert model.sample(3, n_steps=2)[0].shape == (3, 5)


@pytest.mark.parametrize("change, match", [
    (dict(batch_size=0), "'batch_size' parameter of RBMClassifier must be an int in the range"),
    (dict(learning_rate=-1.0), "'learning_rate' parameter of RBMClassifier must be"),
    (dict(momentum=5.0), "'momentum' parameter of RBMClassifier must be"),
])
def test_partial_fit_validates_hyperparameters_set_since_the_first_call(binary, change, match):
    # scikit-learn validates them on the first call only: batch_size=0 set
    # between calls raised "range() arg 3 must not be zero", and a negative
    # learning rate or a momentum of 5 trained on without a word (the
    # density models validate every call).
    X, y = binary
    model = fitted(X, y).set_params(**change)
    before = fingerprint(model)
    with pytest.raises(ValueError, match=match):
        model.partial_fit(X, y)
    assert fingerprint(model) == before


@pytest.mark.parametrize("visible", ["gaussian", "categorical"])
def test_partial_fit_refuses_a_visible_type_set_since_the_fit(binary, visible):
    # The visible layer is built at the first fit: set_params(visible=...)
    # before partial_fit went on training the fitted Bernoulli inputs
    # without a word (as CategoricalRBM's dtype and categories were, which
    # it now refuses).
    X, y = binary
    model = fitted(X, y).set_params(visible=visible)
    before = fingerprint(model)
    with pytest.raises(ValueError, match=re.escape(
            f"RBMClassifier has visible={visible!r} but was fitted with "
            "'bernoulli' inputs; set visible back to 'bernoulli'")):
        model.partial_fit(X, y)
    assert fingerprint(model) == before
    model.set_params(visible="bernoulli").partial_fit(X, y)
    assert model.n_iter_ == 3


def test_categories_set_since_the_fit_are_refused_by_partial_fit():
    # The one-hot coding is fixed at the first fit; a new categories list
    # went unread (as CategoricalRBM's was, which refuses it too).
    X = np.array([["a", "x"], ["b", "y"], ["a", "y"], ["b", "x"]] * 5, dtype=object)
    y = np.array([0, 1, 0, 1] * 5)
    model = RBMClassifier(4, visible="categorical", n_iter=2, random_state=0).fit(X, y)
    model.set_params(categories=[["a", "b", "c"], ["x", "y"]])
    before = fingerprint(model)
    with pytest.raises(ValueError, match=r"categories differs from the categories it was "
                                         r"fitted with .* or fit it anew for the new ones"):
        model.partial_fit(X, y)
    assert fingerprint(model) == before
    model.set_params(categories=[["a", "b"], ["x", "y"]]).partial_fit(X, y)
    model.set_params(categories="auto").partial_fit(X, y)
    assert model.n_iter_ == 4


@pytest.mark.parametrize("change, lower", [(dict(n_components=10**12), "n_components"),
                                           (dict(batch_size=10**12), "batch_size")])
@pytest.mark.parametrize("call", ["fit", "partial_fit"])
def test_training_larger_than_memory_is_refused_before_allocating(binary, monkeypatch, change,
                                                                  lower, call):
    # fit(n_components=10**12) and fit(batch_size=10**12) reached NumPy's
    # "Unable to allocate 373. GiB" (the weights; the chains, one per row of a
    # minibatch), where the density models name the parameter to lower.
    import rbm._state
    from rbm._state import ModelTooLargeError
    X, y = binary
    monkeypatch.setattr(rbm._state, "available_memory", lambda: 2**30)
    model = RBMClassifier(n_iter=1, random_state=0, **change)
    train = (model.fit if call == "fit" else
             lambda X, y: model.partial_fit(X, y, classes=[0, 1]))
    with pytest.raises(ModelTooLargeError, match=rf"RBMClassifier with n_components=.* needs at "
                                                 rf"least .* but only 1.0 GiB is available\. "
                                                 rf"Lower {lower}\.$"):
        train(X, y)
    with pytest.raises(NotFittedError):  # left unfitted
        check_is_fitted(model)
    # A model that fits in memory is not refused, whatever the memory read.
    monkeypatch.setattr(rbm._state, "available_memory", lambda: 0)
    assert RBMClassifier(n_components=3, n_iter=1, random_state=0).fit(X, y).n_iter_ == 1


@pytest.mark.parametrize("marker", [True, False])
def test_a_bool_unlabelled_marker_is_refused(marker):
    # unlabelled_marker=True passed the int constraint (True is the integer 1)
    # and took every row of class 1 as unlabelled: with classes 0, 1 and 2 the
    # model fitted, silently, with classes_ [0, 2].
    X = np.random.default_rng(0).random((30, 4))
    y = np.arange(30) % 3
    model = RBMClassifier(n_components=3, n_iter=1, random_state=0, unlabelled_marker=marker)
    for train in (lambda: model.fit(X, y), lambda: model.partial_fit(X, y, classes=[0, 1, 2])):
        with pytest.raises(ValueError, match=rf"'unlabelled_marker' parameter of RBMClassifier "
                                             rf"must be an int, a str or None, got {marker} "
                                             rf"\(a bool\), which would mark the rows labelled "
                                             rf"{int(marker)} as unlabelled"):
            train()
    assert RBMClassifier(n_components=3, n_iter=1, random_state=0, unlabelled_marker=None).fit(
        X, y).classes_.tolist() == [0, 1, 2]


def test_real_inputs_far_out_get_probabilities_that_sum_to_one():
    # Gaussian inputs scaled by 1e17 made every class's score equal to the
    # last bit: predict_proba read [1.0, 1.0] per row, predict class 0 for
    # every row and decision_function 0.  The scores grow with the fields,
    # their differences between classes stay bounded: the log-odds reach a
    # limit, which the probabilities of the far rows now are.
    from rbm.classifier import LARGE_SCORE, class_scores, relative_scores
    rng = np.random.default_rng(0)
    X = rng.standard_normal((60, 4))
    y = (X[:, 0] > 0).astype(int) + (X[:, 1] > 1)
    model = RBMClassifier(n_components=4, n_iter=3, random_state=0, visible="gaussian").fit(X, y)
    # The limit, reached already at 1e4 (every field beyond +-40), where the
    # scores themselves are still small enough to be compared as they are.
    limit = model.predict_proba(X[:5] * 1e4)
    assert np.abs(class_scores(model._hidden_field(X[:5] * 1e4), model.class_components_,
                               model.intercept_class_)).max() < LARGE_SCORE
    assert np.abs(model._hidden_field(X[:5] * 1e4)).min() > 40
    for scale in (1e15, 1e17, 1e20, 1e300):
        far = X[:5] * scale
        proba = model.predict_proba(far)
        np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=0, atol=1e-12)
        np.testing.assert_allclose(proba, limit, rtol=0, atol=1e-6)
        scores = model.decision_function(far)
        assert np.array_equal(model.predict(far), model.classes_[scores.argmax(axis=1)])
        np.testing.assert_allclose(scores - scores[:, :1], np.log(proba / proba[:, :1]),
                                   atol=1e-9)
    # Rows far in the other direction: a limit of their own, also a distribution.
    np.testing.assert_allclose(model.predict_proba(-X[:5] * 1e300).sum(axis=1), 1.0, atol=1e-12)
    # The relative scores are the scores less class 0's where both are exact.
    A = model._hidden_field(X)
    direct = class_scores(A, model.class_components_, model.intercept_class_)
    assert np.abs(direct).max() < LARGE_SCORE
    np.testing.assert_allclose(relative_scores(A, model.class_components_,
                                               model.intercept_class_),
                               direct - direct[:, :1], rtol=0, atol=1e-12)


def test_binary_log_odds_of_far_rows_match_their_probabilities():
    rng = np.random.default_rng(1)
    X = rng.standard_normal((60, 3))
    y = np.where(X[:, 0] > 0, "yes", "no")
    model = RBMClassifier(n_components=3, n_iter=3, random_state=0, visible="gaussian").fit(X, y)
    far = X[:6] * 1e18
    proba = model.predict_proba(far)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=0, atol=1e-12)
    # The limit, reached already at 1e4 (scores small enough to compare as they are).
    np.testing.assert_allclose(model.decision_function(far),
                               model.decision_function(X[:6] * 1e4), atol=1e-6)
    np.testing.assert_allclose(model.decision_function(far), np.log(proba[:, 1] / proba[:, 0]),
                               atol=1e-9)
    assert np.array_equal(model.predict(far),
                          np.where(model.decision_function(far) > 0, "yes", "no"))


def test_rows_that_overflow_float64_are_refused_not_predicted_as_class_0():
    # Real inputs of 1.7e308 (standard deviation 0.3 in training) made
    # x / sigma**2 infinite and the hidden field inf - inf: NumPy's
    # RuntimeWarnings, NaN probabilities, and predict answered class 0.
    rng = np.random.default_rng(0)
    X = rng.standard_normal((60, 4)) * 0.3
    y = (X[:, 0] > 0).astype(int) + 1
    model = RBMClassifier(n_components=4, n_iter=3, random_state=0, visible="gaussian").fit(X, y)
    far = np.vstack([X[:2], [[1.7e308, -1.7e308, 1.7e308, -1.7e308]]])
    calls = [model.predict, model.predict_proba, model.predict_log_proba,
             model.decision_function, model.transform, lambda Z: model.log_likelihood(Z)]
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        for call in calls:
            with pytest.raises(ValueError, match=r"RBMClassifier: 1 row of X overflowed float64 "
                                                 r".*the first: row 2, largest absolute value "
                                                 r"1.7e\+308"):
                call(far)
        # Far rows whose fields stay numbers are answered (their limit).
        proba = model.predict_proba(X[:3] * 1e300)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-12)


def test_training_counts_the_chains_as_sample_measured_them(monkeypatch):
    # The training check repeated sample's per-chain formula, with 7 rows of
    # the visible columns where sample counts 9 for categorical inputs (whose
    # one-hot temporaries are larger): both now use _chain_row_bytes.
    import rbm._state
    from rbm._state import ModelTooLargeError, _gib
    X = np.random.default_rng(0).integers(0, 3, (30, 4))
    y = np.arange(30) % 2
    params = dict(n_components=4, visible="categorical", n_iter=1, random_state=0)
    small = RBMClassifier(**params).fit(X, y)  # 12 one-hot columns, 4 hidden units
    n_chains = 10**8
    monkeypatch.setattr(rbm._state, "available_memory", lambda: 2**30)
    with pytest.raises(ModelTooLargeError,
                       match=re.escape(f"the chains: {_gib(n_chains * small._chain_bytes())})")):
        RBMClassifier(batch_size=n_chains, **params).fit(X, y)


def test_log_posterior_and_decision_function_share_the_stable_scores():
    # Both replaced far rows' scores by relative_scores, each in its own code.
    from scipy.special import logsumexp
    from rbm.classifier import (LARGE_SCORE, class_scores, log_posterior, relative_scores,
                                stable_class_scores)
    rng = np.random.default_rng(0)
    X = rng.standard_normal((60, 4))
    y = (X[:, 0] > 0).astype(int) + (X[:, 1] > 1)
    model = RBMClassifier(n_components=4, n_iter=3, random_state=0, visible="gaussian").fit(X, y)
    rows = np.vstack([X[:3], X[3:6] * 1e17])
    A = model._hidden_field(rows)
    U, d = model.class_components_, model.intercept_class_
    scores = stable_class_scores(A, U, d)
    near = class_scores(A[:3], U, d)
    assert np.abs(near).max() < LARGE_SCORE
    assert np.array_equal(scores[:3], near)
    assert np.array_equal(scores[3:], relative_scores(A[3:], U, d))
    assert np.array_equal(model.decision_function(rows), scores)
    assert np.array_equal(log_posterior(A, U, d),
                          scores - logsumexp(scores, axis=1, keepdims=True))


def test_log_likelihood_of_rows_far_out_is_minus_inf_without_numpy_warnings():
    # X * 1e300 gave -inf with NumPy's "overflow encountered in square", and a
    # one-feature model's rows of 1.7e308 (hidden fields +-inf) gave NaN
    # (-inf visible energy plus +inf class scores).
    rng = np.random.default_rng(0)
    X = rng.standard_normal((60, 4))
    y = (X[:, 0] > 0).astype(int)
    model = RBMClassifier(n_components=4, n_iter=3, random_state=0, visible="gaussian").fit(X, y)
    one = RBMClassifier(n_components=4, n_iter=3, random_state=0,
                        visible="gaussian").fit(X[:, :1] * 0.3, y)
    cases = [(model, np.vstack([X[:2] * 1e300, X[2:3]])),
             (one, np.array([[1.7e308], [-1.7e308], [0.1]]))]
    for fitted_model, rows in cases:
        for labels in (None, [0, 1, 1]):
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                log_p = fitted_model.log_likelihood(rows, labels)
            assert [str(w.message)[:63] for w in caught] == [
                "RBMClassifier.log_likelihood: 2 rows of 3 have a log-likelihood"]
            assert caught[0].category is RuntimeWarning
            assert np.array_equal(log_p[:2], [-np.inf, -np.inf]) and np.isfinite(log_p[2])


def test_log_likelihood_is_exact_where_the_squares_overflow_but_the_energy_does_not():
    # (v - b)**2 overflows beyond about 1.3e154, but divided by 2 sigma**2 of a
    # data scale of 100 the visible energy is about -1e304, a float64: it was
    # -inf. Reference: the energy summed in exact rational arithmetic.
    from fractions import Fraction
    rng = np.random.default_rng(0)
    X = rng.standard_normal((60, 3)) * 100
    y = (X[:, 0] > 0).astype(int)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # (input far from unit variance)
        model = RBMClassifier(n_components=4, n_iter=3, random_state=0,
                              visible="gaussian").fit(X, y)
    rows = X[:3] / np.abs(X[:3]).max(axis=1, keepdims=True) * 1.5e154
    sigma, b = model._visible_unit.sigma, model.intercept_visible_
    exact = [float(-sum((Fraction(v) - Fraction(c)) ** 2 / (2 * Fraction(s) ** 2)
                        for v, c, s in zip(row, b, sigma))) for row in rows]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        energy = model._visible_unit.energy_term(rows, b)
        log_p = model.log_likelihood(rows)
    np.testing.assert_allclose(energy, exact, rtol=1e-14)
    assert np.all(np.isfinite(log_p)) and np.all(log_p < -1e303)
    # The rest of log p (class scores, log Z) is of order 1e154: nothing at 1e304.
    np.testing.assert_allclose(log_p, exact, rtol=1e-14)
    near = model._visible_unit.energy_term(X[:3], b)  # rows that did not overflow: as before
    assert np.array_equal(near, -0.5 * (((X[:3] - b) ** 2) / sigma ** 2).sum(axis=1))


@pytest.mark.parametrize("visible", ["bernoulli", "gaussian", "categorical"])
def test_gaps_are_refused_with_advice_the_classifier_can_follow(visible):
    # The density models' advice named missing='impute' and conditional_sample,
    # which RBMClassifier does not have.
    X = np.array([[0.0, 1.0], [1.0, 0.0], [np.nan, 1.0], [1.0, 1.0]])
    with pytest.raises(ValueError, match="missing|NaN") as error:
        RBMClassifier(2, n_iter=1, visible=visible).fit(X, [0, 1, 0, 1])
    message = str(error.value)
    assert "RBMImputer in a Pipeline" in message
    assert "missing='impute'" not in message and "conditional_sample" not in message
