"""Categorical RBM: softmax (Potts) visible units for discrete data."""

import numpy as np
from sklearn.utils._param_validation import Options, StrOptions

from ._base import BaseRBM
from ._docs import document_training
from ._units import CategoricalVisible


@document_training
class CategoricalRBM(BaseRBM):
    """Restricted Boltzmann machine with categorical visible units (binary hidden by default).

    Each input column is one categorical variable with its own set of
    categories (integers, strings, anything ``OneHotEncoder`` takes), modelled
    by a softmax (Potts) unit: internally the row is one-hot coded, feature
    ``i`` taking the block of columns of its categories, and the energy is

        E(v, h) = -sum_i b[i, v_i] - c.h - sum_i sum_j h_j W[j, i, v_i]

    so that, given the hidden units, each feature is an independent softmax.
    Adding a constant to every category of a feature changes no probability;
    the parameters are kept in the zero-sum gauge (each feature's biases and
    each hidden unit's weights to it sum to zero over the categories), so they
    cannot drift along that direction.

    Parameters
    ----------
    %(parameters)s

    Attributes
    ----------
    categories_ : list of ndarray
        The categories of each feature, in the order of the one-hot columns.
    components_ : ndarray of shape (n_components, n_encoded_features)
        Weights, one column per (feature, category), features in input order.
    intercept_hidden_ : ndarray of shape (n_components,)
        Hidden biases c.
    intercept_visible_ : ndarray of shape (n_encoded_features,)
        Visible biases, one per (feature, category).
    h_samples_ : ndarray of shape (n_chains, n_components)
        Hidden states of the persistent chains (``n_temperatures`` blocks of
        them with ``method="pt"``).
    %(training_attributes)s
    n_features_in_ : int
        Number of categorical features seen during fit.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of features seen during fit, when X has string column names.

    Examples
    --------
    >>> import numpy as np
    >>> from rbm import CategoricalRBM
    >>> X = np.array([["a", "x"], ["b", "y"], ["c", "x"], ["a", "y"]])
    >>> model = CategoricalRBM(n_components=2, n_iter=100, random_state=0).fit(X)
    >>> [c.tolist() for c in model.categories_]
    [['a', 'b', 'c'], ['x', 'y']]
    >>> model.sample(3).shape
    (3, 2)

    A model fitted on a DataFrame samples a DataFrame with the same columns,
    each of the type it had (strings, numbers, ``category``):

    >>> import pandas as pd
    >>> frame = pd.DataFrame({"colour": ["red", "blue"] * 4, "size": [1, 2, 3, 1] * 2})
    >>> model = CategoricalRBM(n_components=2, n_iter=10, random_state=0).fit(frame)
    >>> samples = model.sample(3)
    >>> list(samples.columns), [str(t) for t in samples.dtypes]
    (['colour', 'size'], ['str', 'int64'])
    """

    _visible_type = CategoricalVisible
    _parameter_docs = {
        "categories": ('"auto" or list of array-like', """\
            Categories of each feature, as in ``sklearn.preprocessing.OneHotEncoder``:
            "auto" takes the values seen in ``fit``; a list gives feature ``i``'s
            categories in ``categories[i]`` (sorted, for numeric values)."""),
        "dtype": ('{np.float64, np.float32, "float64", "float32"}', """\
            Floating-point type of the one-hot coding, and so of the parameters
            and of training (labels carry no precision of their own, as with
            ``OneHotEncoder``'s ``dtype``); float32 trains about twice as fast."""),
    }

    _parameter_constraints = {
        **BaseRBM._parameter_constraints,
        "categories": [StrOptions({"auto"}), list],
        "dtype": [Options(type, {np.float32, np.float64}), StrOptions({"float32", "float64"})],
    }

    def __init__(
        self,
        n_components=256,
        *,
        categories="auto",
        learning_rate="auto",
        batch_size=20,
        shuffle=True,
        visible_bias_init="marginals",
        n_iter="auto",
        verbose=0,
        random_state=None,
        method="pcd",
        k=1,
        n_chains=100,
        momentum=0.5,
        weight_decay="auto",
        n_jobs=None,
        centering=False,
        learning_rate_schedule="linear",
        early_stopping=False,
        validation_fraction=0.1,
        n_iter_no_change=10,
        tol=1e-3,
        n_temperatures=10,
        l1_weight_decay=0.0,
        l1_squared_weight_decay=0.0,
        sparsity_target=0.1,
        sparsity_cost=0.0,
        momentum_warmup=0.1,
        on_divergence="raise",
        dtype=np.float64,
        warm_start=False,
        hidden="bernoulli",
        missing="error",
        normalize_hidden=False,
    ):
        super().__init__(
            n_components,
            learning_rate=learning_rate,
            batch_size=batch_size,
            shuffle=shuffle,
            visible_bias_init=visible_bias_init,
            n_iter=n_iter,
            verbose=verbose,
            random_state=random_state,
            method=method,
            k=k,
            n_chains=n_chains,
            momentum=momentum,
            weight_decay=weight_decay,
            n_jobs=n_jobs,
            centering=centering,
            learning_rate_schedule=learning_rate_schedule,
            early_stopping=early_stopping,
            validation_fraction=validation_fraction,
            n_iter_no_change=n_iter_no_change,
            tol=tol,
            n_temperatures=n_temperatures,
            l1_weight_decay=l1_weight_decay,
            l1_squared_weight_decay=l1_squared_weight_decay,
            sparsity_target=sparsity_target,
            sparsity_cost=sparsity_cost,
            momentum_warmup=momentum_warmup,
            on_divergence=on_divergence,
            warm_start=warm_start,
            hidden=hidden,
            missing=missing,
            normalize_hidden=normalize_hidden,
        )
        self.categories = categories
        self.dtype = dtype

    def _validate_input(self, X, *, reset, dtype=None, unit=None):
        """As BaseRBM's; fitting also records the type of each input column,
        which samples get back (``_output_column_types``)."""
        validated = super()._validate_input(X, reset=reset, dtype=dtype, unit=unit)
        if reset:
            self._column_types = _column_types(X)
        return validated

    def _training_input(self, X, unit, *, reset):
        """As ConditionalMixin's; the first fit of rows with gaps (which
        skips ``_validate_input``) records the column types too."""
        out = super()._training_input(X, unit, reset=reset)
        if reset:
            self._column_types = _column_types(X)
        return out

    def _output_column_types(self):
        """Each column's type in a frame of samples: the type it had in fit.

        Labels come back from the one-hot coding as Python objects; the
        types recorded in fit (or, for a model fitted on an array, those of
        ``categories_``) make them strings, numbers or categoricals again.
        """
        types = getattr(self, "_column_types", None)
        if types is None:
            return [categories.dtype for categories in self.categories_]
        return [_pandas_type(kind) for kind in types]

    @property
    def categories_(self):
        """The categories of each feature, in the order of the one-hot columns."""
        if not hasattr(self, "_visible_unit"):
            raise AttributeError("categories_ is set by fit or partial_fit")
        return self._visible_unit.categories_

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = False
        tags.input_tags.categorical = True
        tags.input_tags.string = True
        tags.transformer_tags.preserves_dtype = ["float64"]
        return tags


def _column_types(X):
    """The type of each column of a pandas DataFrame, in plain Python values
    (a model file holds no pandas objects): the dtype's name, or for a
    ``category`` column ("category", its categories, whether ordered).
    None for any other input."""
    dtypes = getattr(X, "dtypes", None)
    if dtypes is None or not hasattr(X, "iloc"):
        return None
    types = []
    for dtype in dtypes:
        if str(dtype) == "category":
            types.append(("category", dtype.categories.tolist(), bool(dtype.ordered)))
        else:
            types.append(str(dtype))
    return types


def _pandas_type(kind):
    """A type recorded by ``_column_types`` as pandas takes it."""
    if isinstance(kind, (tuple, list)):  # ("category", categories, ordered)
        import pandas as pd

        return pd.CategoricalDtype(kind[1], ordered=kind[2])
    return kind


__all__ = ["CategoricalRBM"]
