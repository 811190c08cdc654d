"""Figures render to valid PNG files and show what they claim to show."""

import struct

import matplotlib.image
import numpy as np
import pytest
from matplotlib.figure import Figure
from sklearn.datasets import load_digits

from rbm import BernoulliRBM, plot

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


def test_learning_curves_one_panel_per_curve(tmp_path):
    history = {"reconstruction_error": [0.3, 0.2, 0.15], "log_likelihood": [-30, None, -25]}
    fig = plot.plot_learning_curves(history)
    assert len(fig.axes) == 2
    first, second = (ax.lines[0] for ax in fig.axes)
    np.testing.assert_array_equal(first.get_ydata(), [0.3, 0.2, 0.15])
    np.testing.assert_array_equal(second.get_xdata(), [1, 2, 3])
    assert np.isnan(second.get_ydata()[1])
    check_png(fig, tmp_path / "curves.png")


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
