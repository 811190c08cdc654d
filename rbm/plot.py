"""Figures of fitted RBMs: filters, samples, free energies, learning curves, landscapes.

Needs matplotlib (``pip install rbm[plot]``).  Every function builds a
:class:`matplotlib.figure.Figure` directly, without pyplot, so nothing here
selects a GUI backend, opens a window or keeps figures alive in pyplot's
registry: save the result with ``fig.savefig("filters.png")`` (rendered by
Agg), or display it in a notebook.  Single-panel functions also draw into an
existing ``ax``.
"""

import math

import numpy as np
from sklearn.utils.validation import check_is_fitted

try:
    from matplotlib.figure import Figure
except ImportError as error:  # pragma: no cover - matplotlib is in the test extra
    raise ImportError("rbm.plot needs matplotlib: pip install rbm[plot]") from error

__all__ = [
    "plot_energy_landscape",
    "plot_filters",
    "plot_free_energy",
    "plot_images",
    "plot_learning_curves",
    "plot_samples",
]


# ----------------------------------------------------------------------
# Helpers
# ----------------------------------------------------------------------


def _grid_shape(n, n_cols):
    n_cols = n_cols or math.ceil(math.sqrt(n))
    return math.ceil(n / n_cols), n_cols


def _check_image_shape(image_shape, n_features):
    image_shape = tuple(int(s) for s in image_shape)
    if math.prod(image_shape) != n_features:
        raise ValueError(
            f"image_shape {image_shape} has {math.prod(image_shape)} pixels but the "
            f"data has {n_features} features."
        )
    return image_shape


def _axes(ax, figsize):
    """(figure, axes): ax's own, or a new figure with one axes."""
    if ax is not None:
        return ax.figure, ax
    fig = Figure(figsize=figsize, layout="constrained")
    return fig, fig.add_subplot()


def _heatmap(fig, rows, ylabel, title, symmetric):
    """Rows of a matrix as one heatmap (for data that are not images)."""
    ax = fig.add_subplot()
    limit = np.abs(rows).max() if symmetric else None
    image = ax.imshow(
        rows, aspect="auto", interpolation="nearest",
        cmap="RdBu_r" if symmetric else "gray_r",
        vmin=-limit if symmetric else None, vmax=limit,
    )
    fig.colorbar(image, ax=ax)
    ax.set(xlabel="feature", ylabel=ylabel, title=title)
    return fig


def _image_grid(fig, images, cmap, symmetric, n_cols, titles=None):
    """One small axes per image, no ticks, each image on its own colour scale."""
    n_rows, n_cols = _grid_shape(len(images), n_cols)
    for i, image in enumerate(images):
        ax = fig.add_subplot(n_rows, n_cols, i + 1)
        limit = np.abs(image).max() if symmetric else None
        ax.imshow(image, cmap=cmap, interpolation="nearest",
                  vmin=-limit if symmetric else None, vmax=limit)
        ax.set_xticks([])
        ax.set_yticks([])
        if titles is not None:
            ax.set_title(titles[i], fontsize=8)
    return fig


def _grid_figure(n, n_cols, fig):
    if fig is not None:
        return fig
    n_rows, n_cols = _grid_shape(n, n_cols)
    return Figure(figsize=(1.1 * n_cols, 1.1 * n_rows + 0.4), layout="constrained")


# ----------------------------------------------------------------------
# Filters and samples
# ----------------------------------------------------------------------


def plot_filters(model, *, image_shape=None, n_filters=None, n_cols=None, fig=None):
    """Each hidden unit's weights: an image grid, or a heatmap for non-image data.

    Parameters
    ----------
    model : fitted RBM
        Any model with ``components_`` of shape (n_components, n_features).
    image_shape : tuple of int or None, default=None
        Shape of one image, e.g. ``(8, 8)`` for scikit-learn's digits.  None
        draws the weight matrix as one heatmap (hidden units by features).
    n_filters : int or None, default=None
        How many filters to draw (the first ones); None draws up to 100.
    n_cols : int or None, default=None
        Columns of the grid; None makes it about square.
    fig : Figure or None, default=None
        Figure to draw into; None creates one.

    Returns
    -------
    fig : matplotlib.figure.Figure
        With one axes per filter (an image grid), or one heatmap axes and
        its colour bar.
    """
    check_is_fitted(model, "components_")
    weights = np.asarray(model.components_, dtype=np.float64)
    n_filters = min(len(weights), 100) if n_filters is None else int(n_filters)
    if not 1 <= n_filters <= len(weights):
        raise ValueError(f"n_filters must be between 1 and {len(weights)}, got {n_filters}.")
    weights = weights[:n_filters]
    if image_shape is None:
        fig = Figure(figsize=(6.4, 4.8), layout="constrained") if fig is None else fig
        return _heatmap(fig, weights, "hidden unit", "Filters (weights)", symmetric=True)
    image_shape = _check_image_shape(image_shape, weights.shape[1])
    fig = _grid_figure(n_filters, n_cols, fig)
    fig.suptitle(f"{n_filters} filters of {type(model).__name__}")
    return _image_grid(fig, weights.reshape(-1, *image_shape), "RdBu_r", True, n_cols)


def plot_images(images, image_shape=None, *, n_cols=None, titles=None, fig=None):
    """Rows of a data matrix as an image grid, or as a heatmap without image_shape.

    Parameters
    ----------
    images : array-like of shape (n_images, n_features)
        The images, one per row (values are drawn in grey, dark is high).
    image_shape : tuple of int or None, default=None
        Shape of one image; None draws the rows as one heatmap.
    n_cols : int or None, default=None
        Columns of the grid; None makes it about square.
    titles : list of str or None, default=None
        One title per image.
    fig : Figure or None, default=None
        Figure to draw into; None creates one.

    Returns
    -------
    fig : matplotlib.figure.Figure
        With one axes per image (a grid), or one heatmap axes and its colour bar.
    """
    images = np.asarray(images, dtype=np.float64)
    if images.ndim != 2 or len(images) == 0:
        raise ValueError(f"images must be a non-empty 2-D array, got shape {images.shape}.")
    if image_shape is None:
        fig = Figure(figsize=(6.4, 4.8), layout="constrained") if fig is None else fig
        return _heatmap(fig, images, "sample", "Samples", symmetric=False)
    image_shape = _check_image_shape(image_shape, images.shape[1])
    fig = _grid_figure(len(images), n_cols, fig)
    return _image_grid(fig, images.reshape(-1, *image_shape), "gray_r", False, n_cols, titles)


def plot_samples(model, n_samples=25, *, image_shape=None, n_steps=1000, random_state=None,
                 n_cols=None, fig=None):
    """Draw samples from the model (``model.sample``) and show them.

    Parameters
    ----------
    model : fitted RBM
    n_samples : int, default=25
        Number of samples, each from its own chain.
    image_shape : tuple of int or None, default=None
        Shape of one image; None draws the samples as one heatmap.
    n_steps : int, default=1000
        Gibbs steps per chain.
    random_state : int, RandomState instance or None, default=None
        Seed for the chains (None: the model's ``random_state``).
    n_cols : int or None, default=None
        Columns of the grid.
    fig : Figure or None, default=None
        Figure to draw into; None creates one.

    Returns
    -------
    fig : matplotlib.figure.Figure
    """
    samples = model.sample(n_samples, n_steps=n_steps, random_state=random_state)
    fig = plot_images(samples, image_shape, n_cols=n_cols, fig=fig)
    fig.suptitle(f"{n_samples} samples after {n_steps} Gibbs steps")
    return fig


# ----------------------------------------------------------------------
# Free energy
# ----------------------------------------------------------------------


def plot_free_energy(model, X, *, samples=None, n_steps=1000, random_state=None, bins=40,
                     ax=None):
    """Histograms of the free energy F(x) of data and of model samples.

    A model that fits the data puts its samples where the data's free
    energies are; samples with much lower free energy than the data show
    modes the data do not have, much higher ones show chains that have not
    mixed.

    Parameters
    ----------
    model : fitted RBM
    X : array-like of shape (n_samples, n_features)
        Data, e.g. held-out data.
    samples : array-like of shape (n, n_features) or None, default=None
        Model samples; None draws ``len(X)`` (at most 1000) with ``model.sample``.
    n_steps : int, default=1000
        Gibbs steps per chain when drawing samples.
    random_state : int, RandomState instance or None, default=None
        Seed for drawing samples.
    bins : int, default=40
        Histogram bins, shared by both histograms.
    ax : Axes or None, default=None
        Axes to draw into; None creates a figure.

    Returns
    -------
    fig : matplotlib.figure.Figure
    """
    data_f = model.free_energy(X)
    if samples is None:
        n = min(len(data_f), 1000)
        samples = model.sample(n, n_steps=n_steps, random_state=random_state)
    sample_f = model.free_energy(samples)
    fig, ax = _axes(ax, (6.4, 4.0))
    edges = np.histogram_bin_edges(np.concatenate([data_f, sample_f]), bins=bins)
    ax.hist(data_f, bins=edges, density=True, alpha=0.6, label=f"data ({len(data_f)})")
    ax.hist(sample_f, bins=edges, density=True, alpha=0.6,
            label=f"model samples ({len(sample_f)})")
    ax.set(xlabel="free energy F(x)", ylabel="density",
           title=f"Free energy of data and samples, {type(model).__name__}")
    ax.legend()
    return fig


# ----------------------------------------------------------------------
# Learning curves
# ----------------------------------------------------------------------


def _history_as_dict(history):
    """dict name -> list of floats, from a dict of lists, a list of dicts or a list of floats."""
    if isinstance(history, dict):
        curves = {str(name): list(values) for name, values in history.items()}
    elif isinstance(history, (list, tuple)) and all(isinstance(r, dict) for r in history):
        names = list(dict.fromkeys(name for record in history for name in record))
        curves = {str(n): [record.get(n) for record in history] for n in names}
    elif isinstance(history, (list, tuple, np.ndarray)):
        curves = {"history": list(history)}
    else:
        raise TypeError(
            "history must be a dict of name -> list of per-epoch values, a list of "
            f"per-epoch dicts, or a list of numbers; got {type(history).__name__}."
        )
    try:
        return {name: np.array([np.nan if v is None else v for v in values], dtype=float)
                for name, values in curves.items()}
    except (TypeError, ValueError) as error:
        raise TypeError(f"history values must be numbers (or None): {error}") from error


def plot_learning_curves(model, *, names=None, ax=None):
    """Per-epoch training figures from ``model.history_``, one panel each.

    Parameters
    ----------
    model : fitted estimator with ``history_``, or a history itself
        ``history_`` is a dict of name -> list of per-epoch values (None for
        epochs without a value), a list of per-epoch dicts, or a list of
        numbers.  An ``"epoch"`` entry, if present, gives the x values.
    names : list of str or None, default=None
        Which curves to draw; None draws all.
    ax : Axes or None, default=None
        Draw every curve into this one axes instead of one panel each.

    Returns
    -------
    fig : matplotlib.figure.Figure
        One axes per curve (or ``ax``'s figure).
    """
    if isinstance(model, (dict, list, tuple, np.ndarray)):
        history = model
    elif hasattr(model, "history_"):
        history = model.history_
    else:
        raise ValueError(
            f"{type(model).__name__} has no history_ to plot: fit it first (with a "
            "version that records per-epoch figures), or pass a history directly."
        )
    curves = _history_as_dict(history)
    epochs = curves.pop("epoch", None)
    if names is not None:
        missing = [n for n in names if n not in curves]
        if missing:
            raise ValueError(f"no curve named {missing} in the history; it has {list(curves)}.")
        curves = {n: curves[n] for n in names}
    if not curves:
        raise ValueError("the history is empty: there is nothing to plot.")
    if ax is not None:
        fig, axes = ax.figure, [ax] * len(curves)
    else:
        fig = Figure(figsize=(6.4, 2.2 * len(curves) + 0.4), layout="constrained")
        axes = fig.subplots(len(curves), 1, sharex=True, squeeze=False)[:, 0]
    for panel, (name, values) in zip(axes, curves.items()):
        x = epochs if epochs is not None else np.arange(1, len(values) + 1)
        panel.plot(x, values, marker="." if len(values) < 50 else None, label=name)
        panel.set_ylabel(name)
    axes[-1].set_xlabel("epoch")
    if ax is not None:
        ax.legend()
    return fig


# ----------------------------------------------------------------------
# Energy landscape of 2-D models
# ----------------------------------------------------------------------


def _landscape_bounds(bounds, X):
    if bounds is not None:
        (x0, x1), (y0, y1) = bounds
    elif X is not None:
        (x0, y0), (x1, y1) = X.min(axis=0), X.max(axis=0)
    else:
        raise ValueError("give the data X or bounds=((xmin, xmax), (ymin, ymax)).")
    if not (x0 < x1 and y0 < y1):
        raise ValueError(f"empty plotting range: x from {x0} to {x1}, y from {y0} to {y1}.")
    return float(x0), float(x1), float(y0), float(y1)


def plot_energy_landscape(model, X=None, *, bounds=None, resolution=100, kind="log_density",
                          ax=None):
    """The model's log density (or free energy) over a grid, for 2-D data.

    Parameters
    ----------
    model : fitted RBM with two visible units
    X : array-like of shape (n_samples, 2) or None, default=None
        Data drawn as points on top; without ``bounds``, its bounding box
        is the plotted range (so it stays inside the model's domain).
    bounds : ((xmin, xmax), (ymin, ymax)) or None, default=None
        Plotted range.
    resolution : int, default=100
        Grid points along each axis.
    kind : {"log_density", "free_energy"}, default="log_density"
        ``model.score_samples`` (log p(x), needs log Z) or ``model.free_energy``.
    ax : Axes or None, default=None
        Axes to draw into; None creates a figure.

    Returns
    -------
    fig : matplotlib.figure.Figure
        The values are the axes' image (``ax.images[0]``), row i at the
        i-th y value and column j at the j-th x value.
    """
    check_is_fitted(model, "components_")
    if model.n_features_in_ != 2:
        raise ValueError(
            f"the energy landscape is drawn for models of 2-D data; this one has "
            f"{model.n_features_in_} features."
        )
    if kind not in ("log_density", "free_energy"):
        raise ValueError(f"kind must be 'log_density' or 'free_energy', got {kind!r}.")
    X = None if X is None else np.asarray(X, dtype=np.float64)
    x0, x1, y0, y1 = _landscape_bounds(bounds, X)
    xs, ys = np.linspace(x0, x1, resolution), np.linspace(y0, y1, resolution)
    grid = np.column_stack([np.tile(xs, resolution), np.repeat(ys, resolution)])
    values = model.score_samples(grid) if kind == "log_density" else model.free_energy(grid)
    fig, ax = _axes(ax, (5.6, 4.6))
    image = ax.imshow(values.reshape(resolution, resolution), origin="lower",
                      extent=(x0, x1, y0, y1), aspect="auto", cmap="viridis")
    fig.colorbar(image, ax=ax, label="log p(x)" if kind == "log_density" else "F(x)")
    if X is not None:
        ax.scatter(X[:, 0], X[:, 1], s=6, c="white", edgecolors="black", linewidths=0.3)
    ax.set(xlabel="x1", ylabel="x2",
           title=f"{'Log density' if kind == 'log_density' else 'Free energy'} "
                 f"of {type(model).__name__}")
    return fig
