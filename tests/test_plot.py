"""Figures render to valid PNG files and show what they claim to show."""

import struct

import matplotlib.image
import numpy as np
import pytest
from matplotlib.figure import Figure
from sklearn.datasets import load_digits

from rbm import BernoulliRBM, CategoricalRBM, plot

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def digits():
    return (load_digits().data[:300] / 16.0 > 0.5).astype(np.float64)


@pytest.fixture(scope="module")
def model(digits):
    return BernoulliRBM(n_components=12, n_iter=5, learning_rate=0.05, random_state=0,
                        n_jobs=1).fit(digits)


def check_png(fig, path):
    """Save fig, check the file is a PNG of the figure's size with more than one colour."""
    fig.savefig(path, dpi=50)
    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE and data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    assert (width, height) == tuple(int(round(v)) for v in fig.get_size_inches() * 50)
    pixels = matplotlib.image.imread(path)
    assert pixels.shape[:2] == (height, width)
    assert np.unique(pixels.reshape(-1, pixels.shape[-1]), axis=0).shape[0] > 10


def _image_axes(fig):
    return [ax for ax in fig.axes if ax.images]


def test_filters_grid_has_one_image_per_filter(model, tmp_path):
    fig = plot.plot_filters(model, image_shape=(8, 8), n_filters=9)
    assert isinstance(fig, Figure)
    axes = _image_axes(fig)
    assert len(fig.axes) == len(axes) == 9
    for ax, weights in zip(axes, model.components_):
        np.testing.assert_array_equal(ax.images[0].get_array(), weights.reshape(8, 8))
    check_png(fig, tmp_path / "filters.png")


def test_filters_default_to_every_filter_and_a_heatmap_without_image_shape(model, tmp_path):
    assert len(_image_axes(plot.plot_filters(model, image_shape=(8, 8)))) == 12
    fig = plot.plot_filters(model)
    (ax,) = _image_axes(fig)
    np.testing.assert_array_equal(ax.images[0].get_array(), model.components_)
    assert len(fig.axes) == 2  # the heatmap and its colour bar
    check_png(fig, tmp_path / "heatmap.png")


def test_samples_grid_shows_the_models_samples(model, tmp_path):
    fig = plot.plot_samples(model, 6, image_shape=(8, 8), n_steps=10, random_state=3)
    expected = model.sample(6, n_steps=10, random_state=3)
    axes = _image_axes(fig)
    assert len(axes) == 6
    for ax, sample in zip(axes, expected):
        np.testing.assert_array_equal(ax.images[0].get_array(), sample.reshape(8, 8))
    check_png(fig, tmp_path / "samples.png")


def test_free_energy_histograms_of_data_and_samples(model, digits, tmp_path):
    samples = model.sample(50, n_steps=10, random_state=0)
    fig = plot.plot_free_energy(model, digits, samples=samples, bins=15)
    (ax,) = fig.axes
    assert [t.get_text() for t in ax.get_legend().get_texts()] == [
        "data (300)", "model samples (50)"]
    assert len(ax.patches) == 30
    data_bars = ax.patches[:15]
    widths = np.array([bar.get_width() for bar in data_bars])
    heights = np.array([bar.get_height() for bar in data_bars])
    assert np.sum(widths * heights) == pytest.approx(1.0)  # a density
    lowest = min(model.free_energy(digits).min(), model.free_energy(samples).min())
    assert data_bars[0].get_x() == pytest.approx(lowest)
    check_png(fig, tmp_path / "free_energy.png")


def _lines(ax):
    """The axes' curves by legend label (leaving out reference lines without one)."""
    return {line.get_label(): line for line in ax.lines if not line.get_label().startswith("_")}


@pytest.fixture(scope="module")
def digits_fit():
    """A default digits fit, shortened: the default data scaling, learning rate,
    schedule and monitoring cadence (the likelihood every n_epochs // 20 epochs,
    NaN in between), 40 epochs instead of the default's 240 and 16 hidden units
    instead of 256, so that log Z is exact; early stopping holds out the
    validation rows (it stops after n_iter_no_change=10 checks without gain)."""
    X = load_digits().data / 16.0
    return BernoulliRBM(n_components=16, n_iter=40, early_stopping=True, random_state=0,
                        n_jobs=1).fit(X)


def test_learning_curves_of_a_digits_fit_draw_the_likelihoods_as_marked_lines(digits_fit,
                                                                              tmp_path):
    """Issue 21, point 9: likelihoods recorded every few epochs drew no line at all."""
    history = {name: np.asarray(values, dtype=float)
               for name, values in digits_fit.history_.items()
               if name != "log_likelihood_method"}  # the one text column
    epochs = history["epoch"]
    checked = np.isfinite(history["log_likelihood_train"])
    assert 2 <= checked.sum() < len(epochs)  # recorded every few epochs, NaN in between
    fig = plot.plot_learning_curves(digits_fit)
    # One panel per kind of figure; no swap rate without PT, no schedule columns.
    assert [ax.get_title() for ax in fig.axes] == [
        "Log-likelihood", "Free energy", "Free-energy gap", "Reconstruction error"]
    likelihood, free_energy, gap, error = fig.axes
    lines = _lines(likelihood)
    assert set(lines) == {"training", "validation", "best epoch"}
    np.testing.assert_array_equal(lines.pop("best epoch").get_xdata(),
                                  [digits_fit.best_epoch_] * 2)
    for label, name in [("training", "log_likelihood_train"),
                        ("validation", "log_likelihood_validation")]:
        line = lines[label]
        np.testing.assert_array_equal(line.get_xdata(), epochs[checked])
        np.testing.assert_array_equal(line.get_ydata(), history[name][checked])
        assert line.get_marker() == "o" and line.get_linestyle() == "-"
        assert line.get_visible() and np.isfinite(line.get_ydata()).all()
    # Training and validation on one axes, whose y range holds both lines.
    low, high = likelihood.get_ylim()
    drawn = np.concatenate([line.get_ydata() for line in lines.values()])
    assert low <= drawn.min() and drawn.max() <= high
    # The free energies of data and chains, every epoch, on one axes.
    lines = _lines(free_energy)
    np.testing.assert_array_equal(lines["data"].get_ydata(), history["free_energy_data"])
    np.testing.assert_array_equal(lines["model chains"].get_ydata(),
                                  history["free_energy_chains"])
    np.testing.assert_array_equal(lines["data"].get_xdata(), epochs)
    # Their difference below, on a scale where it shows.
    np.testing.assert_allclose(_lines(gap)["free_energy_gap"].get_ydata(),
                               history["free_energy_chains"] - history["free_energy_data"])
    np.testing.assert_array_equal(_lines(error)["reconstruction_error"].get_ydata(),
                                  history["reconstruction_error"])
    check_png(fig, tmp_path / "curves.png")


def test_learning_curves_mark_the_best_epoch_of_early_stopping():
    fitted = BernoulliRBM()
    fitted.history_ = {"epoch": [1, 2, 3, 4], "log_likelihood_validation": [-3, -2, -2.5, None]}
    fitted.best_epoch_ = 2
    (ax,) = plot.plot_learning_curves(fitted).axes
    (best,) = [line for line in ax.lines if line.get_label() == "best epoch"]
    np.testing.assert_array_equal(best.get_xdata(), [2, 2])


def test_learning_curves_join_recorded_points_across_gaps_and_leave_out_empty_panels(
        tmp_path):
    history = {"epoch": [1, 2, 3, 4], "reconstruction_error": [0.3, 0.2, 0.15, 0.1],
               "log_likelihood": [-30, None, -25, np.nan], "swap_rate": [np.nan] * 4,
               "seconds": [0.1, 0.2, 0.3, 0.4], "learning_rate": [0.1] * 4,
               "momentum": [0, 0, 0.5, 0.5], "estimate": ["exact"] * 4}
    fig = plot.plot_learning_curves(history)
    assert [ax.get_ylabel() for ax in fig.axes] == ["mean squared error", "log_likelihood"]
    (first,), (second,) = (ax.lines for ax in fig.axes)
    np.testing.assert_array_equal(first.get_ydata(), [0.3, 0.2, 0.15, 0.1])
    np.testing.assert_array_equal(second.get_xdata(), [1, 3])
    np.testing.assert_array_equal(second.get_ydata(), [-30, -25])
    assert second.get_marker() == "o"
    check_png(fig, tmp_path / "curves.png")
    # The schedule is drawn when asked for by name.
    fig = plot.plot_learning_curves(history, names=["learning_rate", "momentum"])
    assert [ax.get_ylabel() for ax in fig.axes] == ["learning_rate", "momentum"]
    # Into one given axes, each curve labelled by its column.
    ax = Figure().add_subplot()
    plot.plot_learning_curves(history, ax=ax)
    assert list(_lines(ax)) == ["reconstruction_error", "log_likelihood"]
    with pytest.raises(TypeError, match="numbers"):
        plot.plot_learning_curves(history, names=["estimate"])
    with pytest.raises(ValueError, match="no recorded value"):
        plot.plot_learning_curves({"swap_rate": [None, np.nan]})
    with pytest.raises(ValueError, match="no epochs"):
        plot.plot_learning_curves({"epoch": [], "reconstruction_error": []})


def test_learning_curves_draw_the_swap_rate_of_parallel_tempering(digits):
    model = BernoulliRBM(n_components=4, n_iter=3, method="pt", n_temperatures=3,
                         random_state=0, n_jobs=1).fit(digits[:60])
    titles = [ax.get_title() for ax in plot.plot_learning_curves(model).axes]
    assert titles[-1] == "Replica swap rate"


def test_learning_curves_read_history_from_the_model_in_any_layout(model):
    as_records = [{"epoch": 5, "error": 0.3}, {"epoch": 10, "error": 0.2}]
    fitted = BernoulliRBM()
    fitted.history_ = as_records
    fig = plot.plot_learning_curves(fitted)
    (ax,) = fig.axes
    np.testing.assert_array_equal(ax.lines[0].get_xdata(), [5, 10])
    assert len(plot.plot_learning_curves([1.0, 0.5]).axes) == 1
    fig = plot.plot_learning_curves({"a": [1, 2], "b": [3, 4]}, names=["b"])
    assert [ax.get_ylabel() for ax in fig.axes] == ["b"]


def test_learning_curves_explain_a_missing_or_bad_history(model):
    with pytest.raises(ValueError, match="has no history_"):
        plot.plot_learning_curves(BernoulliRBM())  # not fitted
    with pytest.raises(TypeError, match="numbers"):
        plot.plot_learning_curves({"a": ["x", "y"]})
    odd = BernoulliRBM()
    odd.history_ = 3.0
    with pytest.raises(TypeError, match="history must be"):
        plot.plot_learning_curves(odd)
    with pytest.raises(ValueError, match="no curve named"):
        plot.plot_learning_curves({"a": [1]}, names=["b"])


def test_energy_landscape_is_the_models_log_density_on_a_grid(tmp_path):
    rng = np.random.default_rng(0)
    X = (rng.random((400, 2)) < [0.9, 0.8]).astype(np.float64)  # mostly at (1, 1)
    model = BernoulliRBM(n_components=2, n_iter=30, learning_rate=0.05, random_state=0,
                         n_jobs=1).fit(X)
    fig = plot.plot_energy_landscape(model, X, resolution=11)
    values = _image_axes(fig)[0].images[0].get_array()
    assert values.shape == (11, 11)
    assert values[10, 10] == pytest.approx(model.score_samples([[1.0, 1.0]])[0])
    assert values[0, 10] == pytest.approx(model.score_samples([[1.0, 0.0]])[0])  # (x, y)
    assert np.unravel_index(np.argmax(values), values.shape) == (10, 10)
    check_png(fig, tmp_path / "landscape.png")
    fig = plot.plot_energy_landscape(model, bounds=((0, 1), (0, 1)), resolution=5,
                                     kind="free_energy")
    np.testing.assert_allclose(_image_axes(fig)[0].images[0].get_array()[0, 0],
                               model.free_energy([[0.0, 0.0]])[0])


def test_functions_draw_into_a_given_axes(model, digits):
    fig = Figure()
    ax = fig.add_subplot(1, 2, 2)
    assert plot.plot_free_energy(model, digits[:20], samples=digits[:20], ax=ax) is fig
    assert ax.patches


def test_figures_stay_out_of_pyplot(model, digits):
    """Figures are built without pyplot: no backend switch, nothing left open."""
    import matplotlib
    import matplotlib.pyplot as plt

    backend = matplotlib.get_backend()
    plot.plot_filters(model, image_shape=(8, 8), n_filters=2)
    plot.plot_free_energy(model, digits[:10], samples=digits[:10])
    assert plt.get_fignums() == []
    assert matplotlib.get_backend() == backend


def test_bad_arguments_are_explained(model, digits):
    with pytest.raises(ValueError, match="64 features"):
        plot.plot_filters(model, image_shape=(7, 7))
    with pytest.raises(ValueError, match="n_filters"):
        plot.plot_filters(model, n_filters=13)
    with pytest.raises(ValueError, match="2-D data"):
        plot.plot_energy_landscape(model, digits)
    with pytest.raises(ValueError, match="2-D array"):
        plot.plot_images(np.zeros(4))


# ----------------------------------------------------------------------
# Named features and categories
# ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def survey_model():
    pd = pytest.importorskip("pandas")
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"colour": rng.choice(["red", "green", "blue"], 60),
                          "size": rng.choice([1, 2], 60),
                          "smoker": rng.choice([True, False], 60)})
    return CategoricalRBM(n_components=3, n_iter=5, random_state=0, n_jobs=1).fit(frame)


def _tick_labels(ax):
    return [label.get_text() for label in ax.get_xticklabels()]


def test_categorical_filters_name_each_features_categories(survey_model, tmp_path):
    fig = plot.plot_filters(survey_model)
    (ax,) = _image_axes(fig)
    np.testing.assert_array_equal(ax.images[0].get_array(), survey_model.components_)
    assert _tick_labels(ax) == ["colour=blue", "colour=green", "colour=red", "size=1",
                                "size=2", "smoker=False", "smoker=True"]
    np.testing.assert_array_equal(ax.get_xticks(), np.arange(7))
    # A line between the features' blocks of columns.
    assert sorted(line.get_xdata()[0] for line in ax.lines) == [2.5, 4.5]
    check_png(fig, tmp_path / "filters.png")


def test_categorical_samples_are_a_table_of_named_categories(survey_model, tmp_path):
    fig = plot.plot_samples(survey_model, 5, n_steps=3, random_state=1)
    samples = survey_model.sample(5, n_steps=3, random_state=1)
    (ax,) = fig.axes
    assert _tick_labels(ax) == ["colour", "size", "smoker"]
    texts = np.array([text.get_text() for text in ax.texts]).reshape(5, 3)
    np.testing.assert_array_equal(texts, samples.astype(str).to_numpy())
    # Each cell's colour is its category's place in categories_.
    codes = ax.images[0].get_array()
    for j, categories in enumerate(survey_model.categories_):
        np.testing.assert_array_equal(
            codes[:, j], [list(categories).index(v) for v in samples.iloc[:, j]])
    check_png(fig, tmp_path / "samples.png")
    with pytest.raises(ValueError, match="table"):
        plot.plot_samples(survey_model, 4, image_shape=(1, 3), n_steps=1)


def test_images_of_labels_are_a_table_and_named_columns_label_a_heatmap():
    labels = np.array([["a", "x"], ["b", "x"], ["a", "y"]], dtype=object)
    (ax,) = plot.plot_images(labels).axes
    assert [text.get_text() for text in ax.texts] == ["a", "x", "b", "x", "a", "y"]
    np.testing.assert_array_equal(ax.images[0].get_array(), [[0, 0], [1, 0], [0, 1]])
    with pytest.raises(ValueError, match="category labels"):
        plot.plot_images(labels, (1, 2))
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame([[0.0, 1.0], [1.0, 0.5]], columns=["left", "right"])
    (ax,) = _image_axes(plot.plot_images(frame))
    assert _tick_labels(ax) == ["left", "right"]


def test_filters_of_a_model_fitted_on_a_dataframe_name_its_columns():
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame((np.random.default_rng(0).random((40, 3)) < 0.5).astype(float),
                         columns=["age", "smoker", "health"])
    model = BernoulliRBM(n_components=2, n_iter=2, random_state=0, n_jobs=1).fit(frame)
    (ax,) = _image_axes(plot.plot_filters(model))
    assert _tick_labels(ax) == ["age", "smoker", "health"]
    (ax,) = _image_axes(plot.plot_samples(model, 4, n_steps=2))
    assert _tick_labels(ax) == ["age", "smoker", "health"]


def _titles(fig):
    """Every title a figure shows: its suptitle and its axes' titles."""
    shown = [fig._suptitle.get_text()] if fig._suptitle is not None else []
    return shown + [ax.get_title() for ax in fig.axes if ax.get_title()]


@pytest.mark.parametrize("image_shape", [None, (8, 8)])
def test_samples_have_one_title_as_a_heatmap_or_a_grid(model, image_shape):
    # The heatmap had two: plot_images' "Samples" on the axes, under plot_samples'
    # "4 samples after 2 Gibbs steps" above it.
    fig = plot.plot_samples(model, 4, image_shape=image_shape, n_steps=2, random_state=0)
    assert _titles(fig) == ["4 samples drawn exactly"]  # (a model this small is)
    # Past 14 hidden units, chains: the title says how many steps.
    X = (np.random.default_rng(0).random((30, 16)) < 0.5).astype(float)
    wide = BernoulliRBM(n_components=15, n_iter=1, random_state=0).fit(X)
    fig = plot.plot_samples(wide, 4, image_shape=image_shape and (4, 4), n_steps=2,
                            random_state=0)
    assert _titles(fig) == ["4 samples after 2 Gibbs steps"]


def test_plot_images_takes_the_one_title_of_each_layout():
    rows = np.eye(4)
    assert _titles(plot.plot_images(rows)) == ["Samples"]
    assert _titles(plot.plot_images(rows, title="Drawn")) == ["Drawn"]
    assert _titles(plot.plot_images(rows, (2, 2))) == []
    assert _titles(plot.plot_images(rows, (2, 2), title="Drawn")) == ["Drawn"]
    labels = np.array([["a", "x"], ["b", "y"]], dtype=object)
    assert _titles(plot.plot_images(labels, title="Drawn")) == ["Drawn"]


# ----------------------------------------------------------------------
# Models a helper cannot draw: said by name (review s47, point 13)
# ----------------------------------------------------------------------


def test_a_categorical_model_has_no_energy_landscape_and_no_image_filters(tmp_path):
    # Before: "could not convert string to float: np.str_('b')" for the landscape,
    # and one-hot weight columns drawn as "pixels" without a word.
    X = np.array([["a", "x"], ["b", "y"], ["a", "y"], ["b", "x"]] * 5, dtype=object)
    model = CategoricalRBM(n_components=2, n_iter=2, random_state=0, n_jobs=1).fit(X)
    with pytest.raises(ValueError, match="models categories, which have no such plane; "
                                         "plot_free_energy or plot_samples"):
        plot.plot_energy_landscape(model, X)
    with pytest.raises(ValueError, match="a weight column per category of each feature "
                                         r"\(one-hot\), not one per pixel.*image_shape=None"):
        plot.plot_filters(model, image_shape=(2, 2))


def test_an_energy_landscape_needs_two_grid_points_along_each_axis():
    # Before: resolution=0 failed as scikit-learn's "Found array with 0 sample(s)".
    X = np.random.default_rng(0).random((40, 2))
    model = BernoulliRBM(n_components=2, n_iter=2, random_state=0, n_jobs=1).fit(X)
    for resolution in (0, 1, -5, 2.5, True):
        with pytest.raises(ValueError, match=r"resolution is the number of grid points along "
                                             r"each axis, an integer of at least 2; got "):
            plot.plot_energy_landscape(model, X, resolution=resolution)
    assert plot.plot_energy_landscape(model, X, resolution=2).axes[0].images[0] \
        .get_array().shape == (2, 2)


def test_the_free_energy_plot_of_a_classifier_says_what_to_draw_instead():
    # Before: AttributeError "'RBMClassifier' object has no attribute 'free_energy'".
    from rbm import RBMClassifier
    rng = np.random.default_rng(0)
    X, y = (rng.random((30, 4)) < 0.5).astype(float), np.arange(30) % 2
    model = RBMClassifier(3, n_iter=0, random_state=0).fit(X, y)
    with pytest.raises(TypeError, match="plot_free_energy needs a density model with "
                                        "free_energy .*RBMClassifier has none.*plot_samples"):
        plot.plot_free_energy(model, X)


def test_an_image_shape_that_does_not_fit_the_filters_counts_the_models_features(model):
    with pytest.raises(ValueError, match=r"image_shape \(7, 7\) has 49 pixels but the model "
                                         r"has 64 features \(columns of components_\)"):
        plot.plot_filters(model, image_shape=(7, 7))
