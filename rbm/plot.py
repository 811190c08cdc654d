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
from sklearn.base import is_classifier
from sklearn.utils.validation import check_is_fitted

from ._conditional import how_drawn

try:
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator
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


def _check_image_shape(image_shape, n_features, what="the data has {n} features"):
    """image_shape as a tuple of ints; ValueError unless it has n_features pixels
    (``what`` says what has them, with ``{n}`` for the count)."""
    image_shape = tuple(int(s) for s in image_shape)
    if math.prod(image_shape) != n_features:
        raise ValueError(
            f"image_shape {image_shape} has {math.prod(image_shape)} pixels but "
            f"{what.format(n=n_features)}."
        )
    return image_shape


def _axes(ax, figsize):
    """(figure, axes): ax's own, or a new figure with one axes."""
    if ax is not None:
        return ax.figure, ax
    fig = Figure(figsize=figsize, layout="constrained")
    return fig, fig.add_subplot()


def _heatmap(fig, rows, ylabel, title, symmetric, columns=None):
    """Rows of a matrix as one heatmap (for data that are not images).

    ``columns``: how to name the columns (``_ColumnLabels``), or None.
    """
    ax = fig.add_subplot()
    limit = np.abs(rows).max() if symmetric else None
    image = ax.imshow(
        rows, aspect="auto", interpolation="nearest",
        cmap="RdBu_r" if symmetric else "gray_r",
        vmin=-limit if symmetric else None, vmax=limit,
    )
    fig.colorbar(image, ax=ax)
    ax.set(xlabel="feature", ylabel=ylabel, title=title)
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))  # rows are units or samples
    if columns is not None:
        columns.apply(ax)
    return fig


#: A heatmap or table names its columns one by one up to this many.
MAX_LABELLED_COLUMNS = 60


def _feature_names(names, n_features):
    """The features' names as strings: ``names``, or scikit-learn's x0, x1, ..."""
    if names is None:
        return [f"x{i}" for i in range(n_features)]
    return [str(name) for name in names]


def _category_values(categories):
    """Each feature's categories as a list of Python values (for labels and lookups)."""
    return [np.asarray(c, dtype=object).tolist() for c in categories]


class _ColumnLabels:
    """How a heatmap names its columns: tick positions and labels, and the
    boundaries between features' blocks of one-hot columns."""

    def __init__(self, positions, labels, boundaries=(), xlabel="feature"):
        self.positions = list(positions)
        self.labels = list(labels)
        self.boundaries = list(boundaries)
        self.xlabel = xlabel

    @classmethod
    def for_features(cls, names, n_columns):
        """One label per feature, where the features have names and are few enough."""
        if names is None or n_columns > MAX_LABELLED_COLUMNS:
            return None
        return cls(range(n_columns), _feature_names(names, n_columns))

    @classmethod
    def for_categories(cls, names, categories):
        """One-hot columns named "feature=category", or by feature when there are
        too many; lines between the features' blocks."""
        categories = _category_values(categories)
        names = _feature_names(names, len(categories))
        sizes = np.array([len(c) for c in categories])
        starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
        if sizes.sum() <= MAX_LABELLED_COLUMNS:
            labels = [f"{name}={value}" for name, values in zip(names, categories)
                      for value in values]
            return cls(range(int(sizes.sum())), labels, starts[1:] - 0.5,
                       "feature=category")
        if len(names) <= MAX_LABELLED_COLUMNS:
            return cls(starts + (sizes - 1) / 2, names, starts[1:] - 0.5,
                       "feature (its categories in the order of categories_)")
        return cls([], [], starts[1:] - 0.5, "feature blocks of one-hot columns")

    def apply(self, ax):
        """Put the ticks, labels and block boundaries on ax."""
        ax.set_xticks(self.positions, self.labels, rotation=90, fontsize=7)
        ax.set_xlabel(self.xlabel)
        for boundary in self.boundaries:
            ax.axvline(boundary, color="black", linewidth=0.6)


def _category_table(fig, labels, names, categories, title):
    """Rows of category labels as a table, one column per feature.

    Each cell is coloured by its category's place in the feature's list and,
    where cells are few enough to read, labelled with the category itself;
    the columns carry the features' names.
    """
    labels = np.asarray(labels, dtype=object)
    categories = _category_values(categories)
    codes = np.full(labels.shape, -1, dtype=int)
    for j, values in enumerate(categories):
        index = {value: i for i, value in enumerate(values)}
        codes[:, j] = [index.get(value, -1) for value in labels[:, j].tolist()]
    ax = fig.add_subplot()
    # Light colours, so that the labels on them stay readable; they repeat
    # after nine categories, where the labels tell the categories apart.
    ax.imshow(np.ma.masked_less(codes, 0) % 9, aspect="auto", interpolation="nearest",
              cmap="Pastel1", vmin=-0.5, vmax=8.5)
    if labels.size <= 20 * MAX_LABELLED_COLUMNS:
        for (i, j), value in np.ndenumerate(labels):
            ax.text(j, i, str(value), ha="center", va="center", fontsize=7)
    n_rows, n_features = labels.shape
    if n_features <= MAX_LABELLED_COLUMNS:
        ax.set_xticks(range(n_features), _feature_names(names, n_features),
                      rotation=0 if n_features <= 8 else 90, fontsize=8)
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set(xlabel="feature", ylabel="sample", title=title)
    return fig


def _table_figure(n_rows, n_features, fig):
    if fig is not None:
        return fig
    width = min(16.0, max(4.0, 0.9 * n_features + 1.5))
    return Figure(figsize=(width, min(16.0, 0.3 * n_rows + 1.6)), layout="constrained")


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
        Shape of one image, e.g. ``(8, 8)`` for scikit-learn's digits (not
        for a categorical model, whose columns are categories).  None
        draws the weight matrix as one heatmap (hidden units by features),
        its columns named by the model's ``feature_names_in_`` and, for a
        categorical model, by ``categories_`` ("colour=red"; up to
        ``MAX_LABELLED_COLUMNS`` columns, else by feature).
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
        names = getattr(model, "feature_names_in_", None)
        categories = getattr(model, "categories_", None)
        columns = (_ColumnLabels.for_categories(names, categories) if categories is not None
                   else _ColumnLabels.for_features(names, weights.shape[1]))
        return _heatmap(fig, weights, "hidden unit", "Filters (weights)", symmetric=True,
                        columns=columns)
    if getattr(model, "categories_", None) is not None:
        # one weight column per category, not per pixel: an image of them means nothing
        raise ValueError(
            f"{type(model).__name__} has a weight column per category of each feature "
            "(one-hot), not one per pixel, so its filters cannot be drawn as images; leave "
            "image_shape=None to draw them as a heatmap with its columns named "
            "feature=category.")
    image_shape = _check_image_shape(image_shape, weights.shape[1],
                                     "the model has {n} features (columns of components_)")
    fig = _grid_figure(n_filters, n_cols, fig)
    fig.suptitle(f"{n_filters} filters of {type(model).__name__}")
    return _image_grid(fig, weights.reshape(-1, *image_shape), "RdBu_r", True, n_cols)


def plot_images(images, image_shape=None, *, n_cols=None, titles=None, fig=None,
                title=None):
    """Rows of a data matrix as an image grid, or as a heatmap without image_shape.

    Rows of category labels (strings, or any data that are not numbers) are
    drawn as a table: one column per feature, each cell labelled with its
    category and coloured by the category's place among the column's values.

    Parameters
    ----------
    images : array-like or DataFrame of shape (n_images, n_features)
        The images, one per row (values are drawn in grey, dark is high).
        A DataFrame's column names label the heatmap's or table's columns.
    image_shape : tuple of int or None, default=None
        Shape of one image; None draws the rows as one heatmap (or table).
    n_cols : int or None, default=None
        Columns of the grid; None makes it about square.
    titles : list of str or None, default=None
        One title per image.
    fig : Figure or None, default=None
        Figure to draw into; None creates one.
    title : str or None, default=None
        The figure's one title: the heatmap's or table's (None: "Samples"),
        or the grid's above its images (None: none).

    Returns
    -------
    fig : matplotlib.figure.Figure
        With one axes per image (a grid), or one heatmap axes and its colour
        bar, or one table axes.
    """
    names = list(images.columns) if hasattr(images, "columns") else None
    try:
        values = np.asarray(images, dtype=np.float64)
    except (TypeError, ValueError):
        values = None  # labels, not numbers
    shape = np.shape(images)
    if len(shape) != 2 or shape[0] == 0:
        raise ValueError(f"images must be a non-empty 2-D array, got shape {shape}.")
    if values is None:
        if image_shape is not None:
            raise ValueError(
                "these rows hold category labels, not numbers, so they cannot be drawn as "
                "images; leave image_shape=None to draw them as a table.")
        labels = np.asarray(images, dtype=object)
        categories = [sorted(set(column), key=str) for column in labels.T.tolist()]
        fig = _table_figure(*labels.shape, fig)
        return _category_table(fig, labels, names, categories, title or "Samples")
    if image_shape is None:
        fig = Figure(figsize=(6.4, 4.8), layout="constrained") if fig is None else fig
        return _heatmap(fig, values, "sample", title or "Samples", symmetric=False,
                        columns=_ColumnLabels.for_features(names, values.shape[1]))
    image_shape = _check_image_shape(image_shape, values.shape[1])
    fig = _grid_figure(len(values), n_cols, fig)
    if title is not None:
        fig.suptitle(title)
    return _image_grid(fig, values.reshape(-1, *image_shape), "gray_r", False, n_cols, titles)


def plot_samples(model, n_samples=25, *, image_shape=None, n_steps=1000, random_state=None,
                 n_cols=None, fig=None, y=None):
    """Draw samples from the model (``model.sample``) and show them.

    Parameters
    ----------
    model : fitted RBM
        A density model, or an ``RBMClassifier``: its samples' inputs are
        shown, an image grid titled with each sample's class.
    n_samples : int, default=25
        Number of samples, each from its own chain.
    image_shape : tuple of int or None, default=None
        Shape of one image; None draws the samples as one heatmap, or, for
        a categorical model, as a table of category labels (one column per
        feature, named as in fit, each cell labelled with its category and
        coloured by its place in ``categories_``).
    n_steps : int, default=1000
        Gibbs steps per chain.
    random_state : int, RandomState instance or None, default=None
        Seed for the chains (None: the model's ``random_state``).
    n_cols : int or None, default=None
        Columns of the grid.
    fig : Figure or None, default=None
        Figure to draw into; None creates one.
    y : label, array-like of shape (n_samples,) or None, default=None
        ``RBMClassifier`` only: the class of the samples (its ``sample``'s
        ``y``, x ~ p(x | y)); None draws the classes too.

    Returns
    -------
    fig : matplotlib.figure.Figure
    """
    samples, titles = _drawn_samples(model, n_samples, n_steps, random_state, y)
    title = f"{n_samples} samples {how_drawn(model, n_steps)}"
    categories = getattr(model, "categories_", None)
    if categories is None:
        # one title: the heatmap's own, or the grid's above its images (the heatmap
        # had "Samples" under this one)
        return plot_images(samples, image_shape, n_cols=n_cols, titles=titles, fig=fig,
                           title=title)
    if image_shape is not None:
        raise ValueError(
            f"{type(model).__name__} samples category labels, which cannot be drawn as "
            "images; leave image_shape=None to draw them as a table.")
    labels = np.asarray(samples, dtype=object)
    return _category_table(_table_figure(*labels.shape, fig), labels,
                           getattr(model, "feature_names_in_", None), categories, title)


def _drawn_samples(model, n_samples, n_steps, random_state, y):
    """(samples, their titles or None) of ``plot_samples``: a classifier's
    ``sample`` gives (inputs, classes), and the inputs are what is drawn (the
    pair itself made NumPy's "inhomogeneous shape" error)."""
    classifier = is_classifier(model)
    if y is not None and not classifier:
        raise ValueError(f"y is the class of a classifier's samples; {type(model).__name__} "
                         "has no classes, so leave y=None.")
    options = {"y": y} if classifier else {}
    samples = model.sample(n_samples, n_steps=n_steps, random_state=random_state, **options)
    if not classifier:
        return samples, None
    samples, labels = samples
    return samples, [f"y = {label}" for label in labels]


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
        A density model (with ``free_energy``); not an ``RBMClassifier``.
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
    if not hasattr(model, "free_energy"):
        # (an RBMClassifier models inputs and classes together: no F(x) of inputs alone)
        raise TypeError(
            f"plot_free_energy needs a density model with free_energy (BernoulliRBM, "
            f"GaussianBernoulliRBM, CategoricalRBM); {type(model).__name__} has none. For "
            "an RBMClassifier, plot_samples draws its samples.")
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


#: The panels of the learning-curve figure, in order: title, y label, and the
#: history columns drawn in it with their legend labels.  Curves that belong
#: together share an axes, so that the gap between them is visible.
LEARNING_CURVE_PANELS = (
    ("Log-likelihood", "nats per sample",
     {"log_likelihood_train": "training", "log_likelihood_validation": "validation"}),
    ("Free energy", "mean F(v)",
     {"free_energy_data": "data", "free_energy_chains": "model chains"}),
    ("Free-energy gap", "chains - data", {"free_energy_gap": None}),
    ("Reconstruction error", "mean squared error", {"reconstruction_error": None}),
    ("Replica swap rate", "accepted fraction", {"swap_rate": None}),
)
#: How training was run rather than how it went: kept in ``history_``,
#: drawn only when asked for by name.
SCHEDULE_COLUMNS = ("seconds", "learning_rate", "momentum")
#: A column the figure adds: the chains' mean free energy minus the data's.
#: Over a long fit both move by a hundred nats while they differ by about
#: one, so on their shared axes the two lines cover each other.
FREE_ENERGY_GAP = ("free_energy_gap", "free_energy_chains", "free_energy_data")
#: Series with more recorded points than this are drawn without markers.
MAX_MARKED_POINTS = 60


def _history_as_dict(history, names):
    """dict name -> float array, from a dict of lists, a list of dicts or a list of floats.

    Columns that are not numbers (labels, such as how a value was
    estimated) are left out, unless ``names`` asks for them.
    """
    if isinstance(history, dict):
        curves = {str(name): list(values) for name, values in history.items()}
    elif isinstance(history, (list, tuple)) and all(isinstance(r, dict) for r in history):
        columns = list(dict.fromkeys(name for record in history for name in record))
        curves = {str(n): [record.get(n) for record in history] for n in columns}
    elif isinstance(history, (list, tuple, np.ndarray)):
        curves = {"history": list(history)}
    else:
        raise TypeError(
            "history must be a dict of name -> list of per-epoch values, a list of "
            f"per-epoch dicts, or a list of numbers; got {type(history).__name__}."
        )
    numbers, errors = {}, {}
    for name, values in curves.items():
        try:
            numbers[name] = np.array([np.nan if v is None else v for v in values],
                                     dtype=float)
        except (TypeError, ValueError) as error:
            errors[name] = error
    wanted_errors = {n: e for n, e in errors.items() if names is None or n in names}
    if wanted_errors and (names is not None or not numbers):
        name, error = next(iter(wanted_errors.items()))
        raise TypeError(f"history values must be numbers (or None); {name!r}: {error}")
    return numbers


def _learning_curve_panels(curves, names):
    """[(title, y label, {column: legend label or None})] of the curves to draw.

    Known columns go to their panel of ``LEARNING_CURVE_PANELS``, any other
    column to one of its own; without ``names``, the schedule columns are
    left out.  A column without a single recorded value is left out, and
    so is a panel left empty.
    """
    if names is None:
        names = [n for n in curves if n not in SCHEDULE_COLUMNS]
    else:
        missing = [n for n in names if n not in curves]
        if missing:
            raise ValueError(f"no curve named {missing} in the history; it has {list(curves)}.")
    recorded = [n for n in names if np.isfinite(curves[n]).any()]
    panels = []
    for title, ylabel, members in LEARNING_CURVE_PANELS:
        shown = {n: label for n, label in members.items() if n in recorded}
        if shown:
            panels.append((title, ylabel, shown))
    grouped = {n for _, _, members in LEARNING_CURVE_PANELS for n in members}
    panels += [("", n, {n: None}) for n in recorded if n not in grouped]
    return panels


def _draw_recorded(ax, x, y, label):
    """The recorded (finite) points of a curve, joined across the epochs without one.

    A curve recorded every few epochs holds NaN in between, and a line
    broken at every NaN draws nothing; markers show where values were
    recorded.
    """
    recorded = np.isfinite(y)
    sparse = not recorded.all() or recorded.sum() <= MAX_MARKED_POINTS
    return ax.plot(x[recorded], y[recorded], marker="o" if sparse else None,
                   markersize=4, label=label)[0]


def plot_learning_curves(model, *, names=None, ax=None):
    """How a fit went, epoch by epoch, from ``model.history_``.

    Curves that belong together share a panel: training and validation
    log-likelihood, then the mean free energy of the data and of the
    model's chains, and below it their difference, whose scale the shared
    panel hides on long fits (a gap that keeps growing means the model
    favours the training rows over what it generates: overfitting, or
    chains that no longer mix), then the reconstruction error and, with
    parallel tempering, the replica swap rate.  Values recorded every few epochs
    (log-likelihoods) are drawn as markers joined by a line.  Curves without
    a recorded value (the swap rate without parallel tempering, likelihoods
    a fit did not compute) are left out, and so are the columns that
    describe the schedule rather than the fit (``seconds``,
    ``learning_rate``, ``momentum``) unless ``names`` asks for them.  A fit
    with early stopping marks its best epoch.

    Parameters
    ----------
    model : fitted estimator with ``history_``, or a history itself
        ``history_`` is a dict of name -> list of per-epoch values (None or
        NaN for epochs without a value), a list of per-epoch dicts, or a
        list of numbers.  An ``"epoch"`` entry, if present, gives the x
        values.  Columns that are not numbers are left out.
    names : list of str or None, default=None
        Which columns to draw (any of them, the schedule's included); None
        draws every column with a recorded value except the schedule's.
    ax : Axes or None, default=None
        Draw every curve into this one axes instead of one panel each.

    Returns
    -------
    fig : matplotlib.figure.Figure
        One axes per panel (or ``ax``'s figure); each curve is a line of
        its recorded points, labelled for the legend.
    """
    if isinstance(model, (dict, list, tuple, np.ndarray)):
        history, title = model, "Learning curves"
    elif hasattr(model, "history_"):
        history, title = model.history_, f"Learning curves of {type(model).__name__}"
    else:
        raise ValueError(
            f"{type(model).__name__} has no history_ to plot: fit it first (with a "
            "version that records per-epoch figures), or pass a history directly."
        )
    curves = _history_as_dict(history, names)
    epochs = curves.pop("epoch", None)
    gap, chains, data = FREE_ENERGY_GAP
    if chains in curves and data in curves and gap not in curves:
        curves[gap] = curves[chains] - curves[data]
    if names is not None:
        names = [n for n in names if n != "epoch"]
    if not curves:
        raise ValueError("the history is empty: there is nothing to plot.")
    panels = _learning_curve_panels(curves, names)
    if not panels:
        if not any(len(values) for values in curves.values()):
            raise ValueError("the history has no epochs (a fit with n_iter=0?): there is "
                             "nothing to plot.")
        raise ValueError(
            "the history holds no recorded value to plot (every value is None or NaN).")
    if ax is not None:
        fig, axes = ax.figure, [ax] * len(panels)
    else:
        fig = Figure(figsize=(6.4, 2.2 * len(panels) + 0.6), layout="constrained")
        axes = fig.subplots(len(panels), 1, sharex=True, squeeze=False)[:, 0]
        fig.suptitle(title)
    best_epoch = getattr(model, "best_epoch_", None)
    for panel, (panel_title, ylabel, members) in zip(axes, panels):
        for name, label in members.items():
            values = curves[name]
            x = epochs if epochs is not None else np.arange(1, len(values) + 1)
            _draw_recorded(panel, np.asarray(x, dtype=float), values,
                           name if ax is not None or label is None else label)
        if ax is None:
            panel.set(title=panel_title, ylabel=ylabel)
            if len(members) > 1:
                panel.legend()
        if gap in members:
            panel.axhline(0.0, color="grey", linewidth=0.6)
        if best_epoch is not None and "log_likelihood_validation" in members:
            panel.axvline(best_epoch, color="grey", linestyle=":", label="best epoch")
            panel.legend()
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
    model : fitted RBM with two real-valued or binary visible units
        Not a categorical model, whose inputs are no points of a plane.
    X : array-like of shape (n_samples, 2) or None, default=None
        Data drawn as points on top; without ``bounds``, its bounding box
        is the plotted range (so it stays inside the model's domain).
    bounds : ((xmin, xmax), (ymin, ymax)) or None, default=None
        Plotted range.
    resolution : int, default=100
        Grid points along each axis, at least 2.
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
    if getattr(model, "categories_", None) is not None:
        raise ValueError(
            f"the energy landscape is drawn over a plane of real values, and "
            f"{type(model).__name__} models categories, which have no such plane; "
            "plot_free_energy or plot_samples draw a categorical model.")
    if model.n_features_in_ != 2:
        raise ValueError(
            f"the energy landscape is drawn for models of 2-D data; this one has "
            f"{model.n_features_in_} features."
        )
    if kind not in ("log_density", "free_energy"):
        raise ValueError(f"kind must be 'log_density' or 'free_energy', got {kind!r}.")
    if isinstance(resolution, bool) or not isinstance(resolution, (int, np.integer)) \
            or resolution < 2:
        raise ValueError(f"resolution is the number of grid points along each axis, an "
                         f"integer of at least 2; got {resolution!r}.")
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
