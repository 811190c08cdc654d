"""Visible states in the container of the user's data (pandas or polars frames).

``sample`` and ``gibbs`` give visible states, which go back into the model
as data: for a model fitted on a DataFrame they come as a DataFrame with the
fitted columns (and, for categorical data, each column's type), so that the
model reads them back without scikit-learn's feature-name warning.  The
container follows scikit-learn's ``set_output`` where one is set for
``transform``.
"""

from sklearn.utils._set_output import ADAPTERS_MANAGER, _get_output_config
from sklearn.utils.validation import _check_feature_names_in


def frame_library(X):
    """'pandas' or 'polars' when X is a data frame of that library, else None."""
    library = type(X).__module__.partition(".")[0]
    adapter = ADAPTERS_MANAGER.adapters.get(library)
    return library if adapter is not None and adapter.is_supported_container(X) else None


def visible_output(model, V, like=None, column_types=None):
    """Visible states V in the container the user's data came in.

    scikit-learn's ``set_output`` container for ``transform`` where one is
    set; otherwise a pandas DataFrame when ``like`` (``gibbs``'s input) is a
    data frame or, without ``like``, when the model was fitted on a
    DataFrame (it has ``feature_names_in_``); otherwise V itself.  Columns
    are named as in fit (else as ``like``'s, else x0, x1, ...), the index is
    ``like``'s, and ``column_types`` (one pandas dtype or dtype name per
    column, or None to keep V's) sets each column's type.
    """
    library = _get_output_config("transform", model)["dense"]
    if library == "default":
        if like is not None:
            library = frame_library(like)
        elif hasattr(model, "feature_names_in_"):
            library = "pandas"
    if library in (None, "default"):
        return V
    if hasattr(model, "feature_names_in_"):
        columns = model.feature_names_in_
    elif frame_library(like) is not None:
        columns = list(like.columns)
    else:
        columns = _check_feature_names_in(model, None)  # x0, x1, ... as scikit-learn's
    frame = ADAPTERS_MANAGER.adapters[library].create_container(V, like, columns,
                                                                inplace=False)
    if library == "pandas" and column_types is not None:
        frame = _with_column_types(frame, column_types)
    return frame


def _with_column_types(frame, column_types):
    """A pandas frame with each column converted to its type."""
    import pandas as pd

    columns = {}
    for (name, values), kind in zip(frame.items(), column_types):
        try:
            columns[name] = values.astype(kind)
        except (TypeError, ValueError):
            # A type pandas cannot rebuild from its name: the values
            # themselves are right, keep them as they are.
            columns[name] = values
    return pd.DataFrame(columns, index=frame.index)
