"""A hostile pass over sampling: ``sample``, ``gibbs``, ``conditional_sample``,
the classifier's ``sample(n, y=...)``, the command line's ``sample``,
``plot.plot_samples``, the samplers' memory checks, and the frames and
settings they are given.

Each test here failed before the fix its comment names.
"""

import numpy as np
import pandas as pd
import pytest

from rbm import (BernoulliRBM, CategoricalRBM, GaussianBernoulliRBM, RBMClassifier, cli,
                 persistence)


@pytest.fixture(scope="module")
def frame_model():
    """A CategoricalRBM fitted on a DataFrame (so ``sample`` returns one)."""
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"colour": rng.choice(["red", "blue"], 40),
                          "size": rng.choice([1, 2, 3], 40)})
    return CategoricalRBM(n_components=2, n_iter=2, random_state=0).fit(frame)


@pytest.mark.parametrize("suffix", [None, ".csv", ".npy"])
def test_cli_sample_of_a_model_fitted_on_a_frame_writes_its_rows(frame_model, tmp_path,
                                                                    capsys, suffix):
    # Before: the command iterated over the DataFrame `sample` returns, so it
    # wrote the column names ("colour", "size"), one per line, and no sample,
    # with exit status 0; to a .npy file it failed with "unexpected
    # AttributeError: 'DataFrame' object has no attribute 'dtype'".
    path = tmp_path / "model.skops"
    persistence.save(frame_model, path)
    argv = ["sample", str(path), "-n", "4", "--n-steps", "2", "--seed", "1"]
    output = None if suffix is None else tmp_path / ("samples" + suffix)
    if output is not None:
        argv += ["-o", str(output)]
    assert cli.main(argv) == 0
    expected = frame_model.sample(4, n_steps=2, random_state=1)
    if suffix == ".npy":
        assert np.load(output).tolist() == [[str(v) for v in row]
                                            for row in expected.to_numpy()]
        return
    text = capsys.readouterr().out if output is None else output.read_text()
    lines = text.splitlines()
    assert lines[0] == "colour,size"  # the frame's column names as the header row
    assert [line.split(",") for line in lines[1:]] == [
        [str(v) for v in row] for row in expected.to_numpy()]


@pytest.fixture(scope="module")
def classifier():
    """An RBMClassifier of three integer classes 0, 1, 2."""
    rng = np.random.default_rng(0)
    X = (rng.random((30, 4)) < 0.5).astype(float)
    return RBMClassifier(3, n_iter=1, random_state=0).fit(X, np.arange(30) % 3)


@pytest.mark.parametrize("y", [np.nan, [0, None], pd.Series([1, pd.NA], dtype="Int64")])
def test_classifier_sample_refuses_a_missing_class_without_fit_advice(classifier, y):
    # Before: "... Mark unlabelled rows with -1 (semi-supervised fitting) or
    # drop them": advice for fit, and sample(y=-1) is then refused too.
    with pytest.raises(ValueError, match=r"sample's y must hold classes of the model") as raised:
        classifier.sample(2, y=y, n_steps=1)
    message = str(raised.value)
    assert "-1" not in message and "semi-supervised" not in message
    assert "missing" in message


def test_an_unknown_label_is_counted_in_its_own_rows(classifier):
    # Before: "got the label 5 (in 3 rows)" where 5 is in one row and 6, also
    # unknown, in the two others.
    with pytest.raises(ValueError, match=r"the label 5 \(in 1 of the 3 rows whose labels are "
                                         r"not classes\)"):
        classifier.sample(4, y=[5, 6, 6, 0], n_steps=1)
    with pytest.raises(ValueError, match=r"the label 5 \(in 2 rows\)"):
        classifier.sample(2, y=5, n_steps=1)


def test_numbers_that_numpy_made_text_are_pointed_out(classifier):
    # Before: "got the label '0' ... not one of its classes [0, 1, 2]", with no
    # word of why a 0 that was given is now '0' (NumPy turns a list of
    # numbers and text into text).
    with pytest.raises(ValueError, match=r"NumPy turns numbers into text") as raised:
        classifier.sample(2, y=[0, "1"], n_steps=1)
    assert "'0'" in str(raised.value)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("hidden", ["bernoulli", "relu"])
def test_conditional_sample_gives_back_the_observed_entries_exactly(dtype, hidden):
    # Before: the observed entries of a GaussianBernoulliRBM's rows came back
    # through the kernel's s = v / sigma**2 and v = s sigma**2, off by an ulp
    # (float64) or about 1e-5 (float32, values near 100), although the
    # docstring says "observed entries unchanged" (and conditional_marginals
    # gives them exactly).
    rng = np.random.default_rng(0)
    X = (rng.standard_normal((60, 4)) * [1.0, 3.0, 0.3, 7.0] + [0.0, 5.0, -2.0, 100.0])
    X = X.astype(dtype)
    model = GaussianBernoulliRBM(n_components=3, n_iter=2, hidden=hidden,
                                 random_state=0).fit(X)
    rows = X[:40].copy()
    rows[:, 1] = np.nan
    rows[::3, 3] = np.nan
    observed = ~np.isnan(rows)
    completed = model.conditional_sample(rows, n_draws=2, n_steps=3, random_state=0)
    assert completed.dtype == dtype
    np.testing.assert_array_equal(completed[::2][observed], rows[observed])
    np.testing.assert_array_equal(completed[1::2][observed], rows[observed])
    assert np.isfinite(completed).all()


def test_plot_samples_of_a_classifier_draws_its_inputs_titled_by_class(classifier):
    # Before: plot_samples(RBMClassifier) failed with NumPy's "setting an
    # array element with a sequence ... inhomogeneous shape": the classifier's
    # sample returns (inputs, labels), and the pair was drawn as images.
    plot = pytest.importorskip("rbm.plot")
    for y in (None, 1):
        fig = plot.plot_samples(classifier, 3, image_shape=(2, 2), n_steps=2, random_state=4,
                                y=y)
        X, labels = classifier.sample(3, y=y, n_steps=2, random_state=4)
        axes = [ax for ax in fig.axes if ax.images]
        assert len(axes) == 3
        for ax, image, label in zip(axes, X, labels):
            np.testing.assert_array_equal(ax.images[0].get_array(), image.reshape(2, 2))
            assert ax.get_title() == f"y = {label}"
        if y is not None:
            assert labels.tolist() == [1, 1, 1]


def test_plot_samples_refuses_a_class_for_a_density_model(frame_model):
    plot = pytest.importorskip("rbm.plot")
    with pytest.raises(ValueError, match="CategoricalRBM has no classes"):
        plot.plot_samples(frame_model, 2, n_steps=1, y="red")


@pytest.mark.parametrize("visible, shape", [
    ("bernoulli", (784, 20, 2)), ("bernoulli", (10, 5, 60)), ("categorical", (200, 20, 2)),
])
def test_classifier_sample_is_refused_where_its_chains_would_not_fit(monkeypatch, visible,
                                                                     shape):
    # Before: RBMClassifier.sample's memory check counted a density model's
    # chain (four visible rows, two hidden), but its NumPy sampler's peak is
    # 1.3 to 8 times that (categorical inputs, many classes): a request that
    # does not fit passed the check and met the allocator (or the OOM killer).
    import tracemalloc

    import rbm._state
    from rbm._state import ModelTooLargeError

    n_features, n_hidden, n_classes = shape
    rng = np.random.default_rng(0)
    X = (rng.choice(list("abc"), size=(60, n_features)) if visible == "categorical"
         else (rng.random((60, n_features)) < 0.5).astype(float))
    model = RBMClassifier(n_hidden, visible=visible, n_iter=1, random_state=0).fit(
        X, np.arange(60) % n_classes)
    n_small, n_large = 400, 4000
    tracemalloc.start()
    try:
        start = tracemalloc.get_traced_memory()[0]
        model.sample(n_small, n_steps=2, random_state=0)
        per_chain = (tracemalloc.get_traced_memory()[1] - start) / n_small
    finally:
        tracemalloc.stop()
    # Memory for 95% of what n_large chains take at their peak: refused.
    monkeypatch.setattr(rbm._state, "SURELY_AVAILABLE_BYTES", 0)
    monkeypatch.setattr(rbm._state, "available_memory",
                        lambda: int(0.95 * per_chain * n_large))
    with pytest.raises(ModelTooLargeError, match=r"sample\(4000\) needs about"):
        model.sample(n_large, n_steps=2)


def _peak_bytes(call):
    """The most memory ``call()`` holds at once, beyond what was held before (tracemalloc)."""
    import tracemalloc

    tracemalloc.start()
    try:
        start = tracemalloc.get_traced_memory()[0]
        call()
        return tracemalloc.get_traced_memory()[1] - start
    finally:
        tracemalloc.stop()


def _density_calls(model, rows):
    """(name, call of n chains) of each chain-running call of a density model."""
    # 30 distinct rows with gaps: copies of a row would share one estimate
    # in conditional_marginals, and so its chains.
    first_of_each = {}
    for i, row in enumerate(rows):
        first_of_each.setdefault(tuple(row[1:]), i)
    gaps = rows[sorted(first_of_each.values())[:30]].copy()
    assert len(gaps) == 30
    gaps[:, 0] = None if isinstance(model, CategoricalRBM) else np.nan
    return [
        ("sample", lambda n: model.sample(n, n_steps=2, method="gibbs", random_state=0)),
        ("conditional_sample", lambda n: model.conditional_sample(
            gaps, n_draws=n // 30, n_steps=2, method="gibbs", random_state=0)),
        ("conditional_marginals", lambda n: model.conditional_marginals(
            gaps, method="gibbs", n_chains=n // 30, burn_in=1, n_sweeps=1, random_state=0)),
    ]


@pytest.mark.parametrize("kind, shape, dtype", [
    ("bernoulli", (400, 10), np.float64), ("bernoulli", (16, 200), np.float64),
    ("gaussian", (400, 10), np.float64), ("categorical", (150, 10), np.float64),
    ("categorical", (100, 100), np.float64), ("bernoulli", (400, 10), np.float32),
    ("gaussian", (400, 10), np.float32), ("categorical", (150, 10), np.float32),
])
def test_density_chains_are_refused_where_they_would_not_fit_and_drawn_where_they_do(
        monkeypatch, kind, shape, dtype):
    # Before: sample, conditional_sample and conditional_marginals counted four
    # visible and two hidden rows per chain, and their peaks reached 1.6
    # (sample), 1.9 and 2.4 times that for categorical units (and 1.3 to 1.8
    # times for binary ones; float32 models 1.2 to 1.6 times their estimate):
    # requests that could not fit passed the check.
    import rbm._state
    from rbm._state import ModelTooLargeError

    n_features, n_hidden = shape
    rng = np.random.default_rng(0)
    model_type = {"bernoulli": BernoulliRBM, "gaussian": GaussianBernoulliRBM,
                  "categorical": CategoricalRBM}[kind]
    if kind == "categorical":
        X = rng.choice(list("abc"), size=(60, n_features)).astype(object)
        model = model_type(n_components=n_hidden, n_iter=1, random_state=0, dtype=dtype)
    else:
        X = (rng.random((60, n_features)) < 0.5).astype(dtype)
        model = model_type(n_components=n_hidden, n_iter=1, random_state=0)
    model.fit(X)
    # (conditional_marginals runs a row's chains in groups of 16: 16 and 160
    # chains for each of the 30 rows.)
    n_small, n_large = 480, 4800
    monkeypatch.setattr(rbm._state, "SURELY_AVAILABLE_BYTES", 0)
    for name, call in _density_calls(model, X):
        per_chain = _peak_bytes(lambda: call(n_small)) / n_small
        monkeypatch.setattr(rbm._state, "available_memory",
                            lambda: int(0.95 * per_chain * n_large))
        with pytest.raises(ModelTooLargeError, match=name):
            call(n_large)
        # and not far too cautious: memory for 2.5 times the peak draws them
        monkeypatch.setattr(rbm._state, "available_memory",
                            lambda: int(2.5 * per_chain * n_large))
        call(n_large)


def test_a_fractional_class_is_named_as_not_a_class(classifier):
    # Before: "Unknown label type: continuous. Maybe you are trying to fit a
    # classifier, which expects discrete classes on a regression target":
    # scikit-learn's words for fit, about a call that fits nothing.
    with pytest.raises(ValueError, match=r"the label 1\.5 .* not one of its classes \[0, 1, 2\]"
                                         r".*sample's y must hold classes") as raised:
        classifier.sample(2, y=[1, 1.5], n_steps=1)
    assert "regression" not in str(raised.value)


def test_the_text_of_a_boolean_class_gets_no_advice_about_numbers():
    # Before: "... so a class given as True may have become np.str_('True'):
    # give the labels as numbers only" for classes [False, True].
    rng = np.random.default_rng(0)
    model = RBMClassifier(3, n_iter=1, random_state=0).fit(
        (rng.random((20, 3)) < 0.5).astype(float), np.arange(20) % 2 == 0)
    with pytest.raises(ValueError, match=r"the label 'True' \(in 2 rows\)") as raised:
        model.sample(2, y="True", n_steps=1)
    assert "NumPy" not in str(raised.value) and "np.str_" not in str(raised.value)


@pytest.mark.parametrize("n_jobs", ["2", 2.5, True, 2**40])
def test_an_n_jobs_set_after_fit_that_fit_would_refuse_is_named_by_the_samplers(n_jobs):
    # Before: set after fit, n_jobs="2" raised "TypeError: '<' not supported
    # between instances of 'str' and 'int'", 2.5 ran 2 threads and True one,
    # silently, in sample, gibbs and conditional_sample.
    rng = np.random.default_rng(0)
    X = (rng.random((30, 4)) < 0.5).astype(float)
    model = BernoulliRBM(n_components=2, n_iter=1, random_state=0).fit(X)
    model.set_params(n_jobs=n_jobs)
    for call in (lambda: model.sample(2, n_steps=1), lambda: model.gibbs(X[:2]),
                 lambda: model.conditional_sample(X[:2], n_steps=1)):
        with pytest.raises(ValueError, match=r"n_jobs must be None or an integer"):
            call()
    model.set_params(n_jobs=-1)
    assert model.sample(2, n_steps=1).shape == (2, 4)


@pytest.mark.parametrize("other", [
    pd.array([1, 2, None, 1] * 10, dtype="Int64"), np.array([True, False, True, True] * 10),
    pd.array([True, False, None, True] * 10, dtype="boolean"),
])
def test_a_frame_of_text_categories_beside_integers_or_booleans_is_taken_as_labels(other):
    # Before: CategoricalRBM.fit (and conditional_sample, gibbs) on a frame
    # with a pandas Categorical column of text beside a nullable Int64 or a
    # boolean column raised pandas' "Cannot cast str dtype to float64":
    # scikit-learn's validation converts such a frame to float64.
    frame = pd.DataFrame({"size": pd.Categorical(["s", "m", "l", "m"] * 10), "other": other})
    model = CategoricalRBM(n_components=2, n_iter=1, random_state=0,
                           missing="impute").fit(frame)
    assert [sorted(map(str, c)) for c in model.categories_][0] == ["l", "m", "s"]
    gaps = frame.iloc[:3].astype(object)
    gaps.iloc[0, 0] = None
    completed = model.conditional_sample(gaps, n_steps=2, random_state=0)
    assert completed.iloc[0, 0] in {"s", "m", "l"}
    assert completed.iloc[1:, 0].tolist() == frame.iloc[1:3, 0].tolist()
    assert model.gibbs(frame.dropna()).shape == frame.dropna().shape


def test_classifier_samples_of_a_typed_frame_keep_its_column_types():
    # Before: RBMClassifier(visible="categorical").sample gave object columns
    # for a frame's category, Int64, uint8 and bool columns (CategoricalRBM's
    # sample gives each column the type it had in fit).
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({
        "size": pd.Categorical(rng.choice(["s", "m"], 40), categories=["s", "m"], ordered=True),
        "count": pd.array(rng.choice([1, 2], 40), dtype="Int64"),
        "code": rng.choice([3, 4], 40).astype(np.uint8),
        "flag": rng.choice([True, False], 40)})
    model = RBMClassifier(3, visible="categorical", n_iter=1, random_state=0).fit(
        frame, np.arange(40) % 2)
    samples, _ = model.sample(4, n_steps=2, random_state=0)
    assert samples.dtypes.tolist() == frame.dtypes.tolist()
    assert set(samples["size"]) <= {"s", "m"}
    # an array fit still samples plain labels
    array_model = RBMClassifier(3, visible="categorical", n_iter=1, random_state=0).fit(
        frame.to_numpy(), np.arange(40) % 2)
    assert isinstance(array_model.sample(2, n_steps=1)[0], np.ndarray)


@pytest.mark.parametrize("sample_posterior", [False, True])
def test_the_imputer_takes_text_categories_beside_booleans(sample_posterior):
    # Before: RBMImputer.fit on such a frame raised pandas' "Cannot cast str
    # dtype to float64" (its validation, as CategoricalRBM's, let
    # scikit-learn convert the frame to float64).
    from rbm import RBMImputer

    frame = pd.DataFrame({
        "size": pd.Categorical(["s", "m", None, "m"] * 10),
        "flag": pd.array([True, False, None, True] * 10, dtype="boolean")})
    imputer = RBMImputer(CategoricalRBM(n_components=2, n_iter=2, random_state=0),
                         sample_posterior=sample_posterior, random_state=0).fit(frame)
    filled = imputer.transform(frame.iloc[:4])
    assert filled[2, 0] in {"s", "m"} and filled[2, 1] in {True, False}
    assert filled[0].tolist() == ["s", True] and filled[1].tolist() == ["m", False]
