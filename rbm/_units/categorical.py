"""Categorical (softmax, Potts) visible units, one-hot coded."""

import copy
import math
import warnings
from collections.abc import Hashable, Iterable

import numpy as np
import scipy.sparse as sp
from sklearn import config_context
from sklearn.preprocessing import OneHotEncoder
from sklearn.utils.validation import validate_data

from .. import _gibbs
from ._layer import (KernelVisible, VisibleLayer, counted, gaps_advice, refuse_masked,
                     user_stacklevel)


#: Labels are checked and one-hot coded in blocks of rows of about this many
#: bytes of 8-byte labels, so that the temporaries never have the input's size.
ENCODE_BLOCK_BYTES = 2 * 2**20

#: A feature whose inferred categories number more than this many, and more
#: than half the rows, is most likely a measurement or an identifier, not a
#: category: fit warns (``check_category_counts``).
MANY_CATEGORIES = 50


class ManyCategoriesWarning(UserWarning):
    """A feature has about as many categories as rows: each is seen about once,
    so the model cannot learn it (an identifier, or a real-valued measurement
    given to a categorical model)."""


class UnknownCategoryError(ValueError):
    """A value that is not one of its feature's categories (fitted, or given by
    the ``categories`` parameter).

    A ``ValueError`` whose attributes say what was found, for a caller (the
    command line) to put in its own words.

    Parameters
    ----------
    message : str
        The full message.
    feature : int
        The feature's index, counted from 0.
    value : object
        The first value of the feature that is not a category.
    n_rows : int
        Rows that hold a value of this feature that is not a category.
    categories : ndarray
        The feature's categories.

    Attributes
    ----------
    feature, value, n_rows, categories
        As given.
    """

    #: What the message advises, which a caller with other parameters
    #: (``RBMImputer``) replaces with its own (``with_advice``).
    ADVICE = ("Every value must be a category seen in fit or listed in the categories "
              "parameter; refit with categories that include it.")

    def __init__(self, message, *, feature=None, value=None, n_rows=None, categories=None):
        # (keywords with defaults: an unpickled copy, ``cls(message)``, gets its
        # attributes back from __dict__)
        super().__init__(message)
        self.feature = feature
        self.value = value
        self.n_rows = n_rows
        self.categories = categories

    def with_advice(self, advice):
        """A copy of this error whose message gives ``advice`` in place of ``ADVICE``."""
        error = copy.copy(self)  # (the same type, with its attributes)
        error.args = (str(self).replace(self.ADVICE, advice),)
        return error

    @property
    def shown_categories(self):
        """The categories as the message lists them: the first 10, then "..."."""
        return shown_categories(self.categories)


#: Categories a message lists before "...".
SHOWN_CATEGORIES = 10


def shown_categories(categories):
    """``categories`` as a message lists them: "['L', 'S']", the first
    ``SHOWN_CATEGORIES`` then ", ..." for more."""
    shown = [_shown(c) for c in categories[:SHOWN_CATEGORIES]]
    return f"{shown}{', ...' if len(categories) > SHOWN_CATEGORIES else ''}"


def is_missing(value):
    """Whether a label is a missing marker: None, NaN or pandas' NA (or NaT)."""
    if value is None:
        return True
    try:
        return bool(value != value)  # NaN and NaT are the values not equal to themselves
    except TypeError:  # pandas.NA: "boolean value of NA is ambiguous"
        return True


def missing_mask(X):
    """Boolean mask of the missing entries of an array of any dtype."""
    if X.dtype.kind == "f":
        return np.isnan(X)
    if X.dtype.kind in "mM":  # dates and durations: NaT
        return np.isnat(X)
    if X.dtype.kind == "O":
        return np.frompyfunc(is_missing, 1, 1)(X).astype(bool)
    return np.zeros(X.shape, dtype=bool)


def column_label(estimator, index):
    """How a message names input column ``index``: by its name where the
    model has feature names ("column 'health'"), else by position
    ("feature 2")."""
    names = getattr(estimator, "feature_names_in_", None)
    return f"column '{names[index]}'" if names is not None else f"feature {index}"


def warn_of_many_categories(categories, n_rows, owner, label):
    """Warn (``ManyCategoriesWarning``) of each feature whose categories are more
    than ``MANY_CATEGORIES`` and more than half of ``n_rows``.

    Nothing is refused, since such categories may be meant; but a column of
    real numbers or of row identifiers, given by mistake, would otherwise
    train a weight column per row in silence.  ``owner`` (the estimator's
    name, or None) starts the message and ``label(i)`` names feature i.
    """
    for i, values in enumerate(categories):
        if len(values) > max(MANY_CATEGORIES, n_rows / 2):
            warnings.warn(
                f"{owner + ': ' if owner else ''}{label(i)} has {len(values)} distinct values in {n_rows} rows "
                f"(for example {_shown(values[len(values) // 2])!r}), each a category "
                "seen about once, which the model cannot learn. If it is an identifier, "
                "drop it; if it is a measurement, bin it (for example with "
                "sklearn.preprocessing.KBinsDiscretizer) or model it with "
                "GaussianBernoulliRBM.", ManyCategoriesWarning, stacklevel=user_stacklevel())


def _sorted_and_unique(categories):
    """Whether the categories are distinct and sorted (objects: distinct)."""
    if categories.dtype.kind == "O":
        try:
            return len(set(categories.tolist())) == len(categories)
        except TypeError:  # unhashable
            return False
    if categories.dtype.kind not in "biufUSmM":  # dates and durations sort too
        return False
    return bool(np.all(categories[1:] > categories[:-1]))


def _shown(label):
    """A label as a message shows it: a Python value (dates as text, where
    .item() would give nanoseconds since 1970)."""
    if isinstance(label, (np.datetime64, np.timedelta64)):
        return str(label)
    return label.item() if hasattr(label, "item") else label


def non_numeric_among_others_as_objects(X):
    """A DataFrame whose date, duration or other non-numeric columns (text,
    pandas categories) sit beside columns of other types, as objects
    (Timestamps, Timedeltas, the labels); X itself otherwise.

    scikit-learn's validation looks for one common dtype of the columns, and
    NumPy has none for datetime64 and numbers: it raised DTypePromotionError.
    Beside a nullable integer or a boolean column, which scikit-learn converts
    first, it took float64 as that dtype, and a column of text categories
    raised pandas' "Cannot cast str dtype to float64".
    """
    dtypes = getattr(X, "dtypes", None)
    if not hasattr(X, "iloc") or not isinstance(dtypes, Iterable):
        return X
    kinds = [getattr(dtype, "kind", "O") for dtype in dtypes]
    if any(kind in "mMOSU" for kind in kinds) and len(set(map(str, dtypes))) > 1:
        return X.astype(object)
    return X


def integer_categories_with_gaps_as_objects(X):
    """A pandas DataFrame whose category columns of integer categories have
    missing entries, with those columns as objects; X itself otherwise.

    pandas converts a frame of such columns (of different categories) to
    NumPy in the categories' integer dtype, and a missing entry becomes the
    integer -2**63: a label like any other, learned as a category of its
    own, silently.  As objects the labels stay and a gap stays NaN.
    """
    dtypes = getattr(X, "dtypes", None)
    if not hasattr(X, "iloc") or not isinstance(dtypes, Iterable):
        return X
    corrupted = [i for i, dtype in enumerate(dtypes)
                 if getattr(dtype, "name", None) == "category"
                 and dtype.categories.dtype.kind in "iu" and X.iloc[:, i].isna().any()]
    if corrupted:
        X = X.copy(deep=False)
        for i in corrupted:
            X.isetitem(i, X.iloc[:, i].astype(object))
    return X


def as_label_input(X):
    """X ready for ``validate_data(..., dtype=None)`` as labels: a frame without
    columns as an empty array (NumPy cannot infer a dtype for it, "at least
    one array or dtype is required"; scikit-learn then names the missing
    features in its own words), and integer category columns with gaps as
    objects (``integer_categories_with_gaps_as_objects``)."""
    if hasattr(X, "columns") and len(X.columns) == 0:
        return np.empty((len(X), 0))
    return integer_categories_with_gaps_as_objects(X)


def refuse_unhashable_label(value, name, column, error=None):
    """Raise TypeError where ``value``, a label of ``column`` ("column 'a'",
    "feature 0") of estimator ``name``, cannot be a category (a list or an
    array: not hashable)."""
    if not isinstance(value, Hashable):
        raise TypeError(
            f"{name}: {column} holds a {type(value).__name__} ({value!r:.40}), which "
            "cannot be a category label; labels are strings or numbers.") from error


def _is_float_dtype(dtype):
    """Whether ``dtype`` names float32 or float64 (anything else: False, no error)."""
    if dtype is None:  # np.dtype(None) is float64
        return False
    try:
        return np.dtype(dtype) in (np.float32, np.float64)
    except TypeError:
        return False


def _check_column_types(estimator, n_features):
    """The column types recorded in fit (``_column_types``), which samples get
    back, must be None or one per feature: a dtype name, or ("category",
    categories, ordered)."""
    types = getattr(estimator, "_column_types", None)
    if types is None:
        return

    def sound(kind):
        if isinstance(kind, str):
            return True
        return (isinstance(kind, (tuple, list)) and len(kind) == 3 and kind[0] == "category"
                and isinstance(kind[1], list) and isinstance(kind[2], bool))

    if not (isinstance(types, list) and len(types) == n_features and all(map(sound, types))):
        raise ValueError(
            f"{type(estimator).__name__}._column_types must be None or a list of "
            f"{n_features} column types (dtype names or ('category', categories, ordered)) "
            "as fit records them; refit the model.")


class CategoricalVisible(VisibleLayer):
    """Categorical visible units: each input column one softmax over its categories.

    Input rows of labels are one-hot coded; feature ``g`` owns the columns
    ``groups[g]:groups[g + 1]`` of the one-hot row ``s(v)``.  For fixed
    hidden state the features are independent, each a softmax of its block
    of the field ``b + h @ W``.  The parameters are kept in the zero-sum
    gauge (``zero_sum``).

    Parameters
    ----------
    categories : "auto" or list of array-like, default="auto"
        As ``OneHotEncoder``'s.
    dtype : numpy dtype, default=np.float64
        Floating type of the one-hot coding.
    """

    kernel_kind = _gibbs.VISIBLE_CATEGORICAL
    discrete = True
    auto_learning_rate = 0.04

    def __init__(self, categories="auto", dtype=np.float64):
        self.categories = categories
        self.dtype = dtype
        self.encoder = None

    @classmethod
    def for_estimator(cls, estimator):
        """A new, unfitted layer for the estimator's hyperparameters."""
        return cls(estimator.categories, np.dtype(estimator.dtype).type)

    @property
    def categories_(self):
        """The fitted categories of each feature."""
        return self.encoder.categories_

    @property
    def groups(self):
        """Column offsets of the features' blocks, shape (n_features + 1,)."""
        sizes = [len(c) for c in self.categories_]
        return np.concatenate([[0], np.cumsum(sizes)]).astype(np.intp)

    @property
    def _sizes(self):
        return np.diff(self.groups)

    def _block_starts(self):
        return self.groups[:-1]

    def n_columns(self, n_features):
        """One column per (feature, category)."""
        return int(self.groups[-1])

    # ------------------------------------------------------------------
    # Input
    # ------------------------------------------------------------------

    def validate(self, estimator, X, *, reset, dtype=None):
        """X one-hot coded as a CSR matrix (the model's internal form)."""
        return self._encode(estimator, self._labels(estimator, X, reset), reset)

    def _labels(self, estimator, X, reset):
        """X through ``validate_data`` as labels of any dtype (missing entries kept),
        refused if sparse or masked; when fitting (``reset``), the categories
        parameter is checked first, and its length against X's features after.
        """
        name = type(estimator).__name__
        if sp.issparse(X):
            raise TypeError(
                f"{name} takes a dense array of category labels, one column per "
                "feature; sparse input is not supported. Convert it with .toarray()."
            )
        refuse_masked(estimator, X)
        if reset:
            self._check_categories_parameter(name)
        X = as_label_input(X)
        X = validate_data(estimator, non_numeric_among_others_as_objects(X), dtype=None,
                          ensure_all_finite=False, reset=reset)
        # Only when fitting (the one time the parameter is read), before the
        # placeholders of missing entries, which read categories[i] (IndexError),
        # and OneHotEncoder, which says "Shape mismatch".
        if reset and not isinstance(self.categories, str) and len(self.categories) != X.shape[1]:
            raise ValueError(
                f"{name}: categories lists the categories of {len(self.categories)} "
                f"feature(s), but X has {X.shape[1]}; give one list per feature, or "
                "categories='auto' to take them from the data.")
        return X

    def _encode(self, estimator, X, reset):
        """Labels already through ``_labels``, checked and one-hot coded."""
        self._check_not_missing(X, estimator)
        if reset and not isinstance(self.categories, str):
            # Before OneHotEncoder, whose message names the column by position.
            self._check_known_categories(X, estimator, self.categories)
        if reset:
            try:
                self.encoder = OneHotEncoder(
                    categories=self.categories, handle_unknown="error", sparse_output=True,
                    dtype=self.dtype,
                ).fit(X)
            except TypeError as error:
                self._refuse_mixed_labels(X, estimator, error)
                raise
            if isinstance(self.categories, str):  # given categories are meant
                warn_of_many_categories(self.encoder.categories_, len(X),
                                        type(estimator).__name__,
                                        lambda i: column_label(estimator, i))
        else:
            self._check_known_categories(X, estimator, self.categories_)
            if X.dtype.kind != "O" and any(c.dtype.kind == "O" for c in self.categories_):
                # Categories fitted on objects (numbers among them): numeric
                # labels compare equal as objects, where the encoder would
                # fail on the mixed dtypes.
                X = X.astype(object)
        return self._one_hot(X)

    def _one_hot(self, X):
        """The one-hot CSR coding of X, encoded in blocks of rows.

        Every row has exactly one category of each feature (unknown ones are
        refused before), so the CSR arrays are allocated once at their final
        size and each block's column indices copied in: the encoder's
        temporaries (about 2.5 times a block of int64 labels) exist for one
        block at a time, not for the whole input.  The result equals
        ``csr_matrix(encoder.transform(X))``, dtypes included.
        """
        n_rows, n_features = X.shape
        nnz = n_rows * n_features
        index_dtype = np.int32 if max(nnz, self.groups[-1]) < 2**31 else np.intp
        indices = np.empty(nnz, dtype=index_dtype)
        rows = max(1, ENCODE_BLOCK_BYTES // (8 * max(n_features, 1)))
        # The encoder's sparse output, whatever the user's global set_output
        # (pandas output refuses sparse data); the context is thread-local.
        with config_context(transform_output="default"):
            for start in range(0, n_rows, rows):
                block = self.encoder.transform(X[start : start + rows])
                indices[start * n_features : start * n_features + block.nnz] = block.indices
        indptr = np.arange(0, nnz + 1, max(n_features, 1), dtype=index_dtype)
        return sp.csr_matrix((np.ones(nnz, dtype=self.dtype), indices, indptr[: n_rows + 1]),
                             shape=(n_rows, int(self.groups[-1])), copy=False)

    def _check_categories_parameter(self, name):
        """Each feature given explicitly needs a flat list of at least one
        category, none of them missing.

        OneHotEncoder would answer a string or a nested list in place of a
        feature's list ("too many indices for array") and a missing value
        among numbers ("cannot convert float NaN to integer") in NumPy's words.
        """
        if isinstance(self.categories, str):
            return
        for i, categories in enumerate(self.categories):
            values = np.asarray(categories, dtype=object)
            if (isinstance(categories, (str, bytes)) or values.ndim != 1
                    or any(np.ndim(value) for value in values)):  # nested lists
                raise ValueError(
                    f"{name}: categories[{i}] must be a list of that feature's categories, "
                    f"got {categories!r}; give one flat list per feature, or "
                    "categories='auto' (for every feature) to take them from the data.")
            texts = [isinstance(value, str) for value in values.tolist()]
            if any(texts) and not all(texts):
                # NumPy made them all strings ([1, "a"] as ['1', 'a']), and the
                # value 1 in X was then "not one of its categories ['1', 'a']".
                text, other = values[texts.index(True)], values[texts.index(False)]
                raise ValueError(
                    f"{name}: categories[{i}] mixes strings (such as {text!r}) with other "
                    f"labels (such as {other!r} of type {type(other).__name__}); a feature's "
                    "categories must be uniformly strings or numbers, as its labels must. "
                    "Give them one type, e.g. all as strings.")
            if len(values) == 0:
                raise ValueError(
                    f"{name}: categories[{i}] is empty; every feature needs at least one "
                    "category (or use categories='auto').")
            missing = missing_mask(values)
            if missing.any():
                raise ValueError(
                    f"{name}: categories[{i}] holds a missing value "
                    f"({values[np.argmax(missing)]!r}), which cannot be a category: missing "
                    "entries are refused (or filled, with missing='impute'). Remove it, or "
                    "give missing entries a label of their own (for example 'missing').")

    @staticmethod
    def _check_not_missing(X, estimator):
        """Raise ValueError naming the first missing entry (checked in blocks of rows,
        so the mask never has the input's size)."""
        if X.dtype.kind not in "fOmM":  # integers, strings, booleans: nothing is missing
            return
        count, first = 0, None
        rows = max(1, ENCODE_BLOCK_BYTES // (8 * max(X.shape[1], 1)))
        for start in range(0, X.shape[0], rows):
            missing = missing_mask(X[start : start + rows])
            if first is None and missing.any():
                row, col = np.argwhere(missing)[0]
                first = (start + row, col)
            count += int(missing.sum())
        if count:
            raise ValueError(
                f"{type(estimator).__name__} got missing values (NaN, None or pandas' NA) "
                f"in {count} {'entry' if count == 1 else 'entries'}, "
                f"the first in row {first[0]}, "
                f"{column_label(estimator, first[1])}. Impute them first "
                "(for example sklearn.impute.SimpleImputer(strategy='most_frequent')) "
                "or give them a category of their own." + gaps_advice(estimator)
            )

    @staticmethod
    def _refuse_mixed_labels(X, estimator, error):
        """Raise TypeError naming the first feature whose labels mix strings
        and other values (``"x"`` and ``1`` in an object column), or hold a
        value that cannot be a label (a list), if any.

        OneHotEncoder sorts each feature's labels and refuses such a mix
        without naming the feature or the values.
        """
        if X.dtype.kind != "O":
            return
        name = type(estimator).__name__
        for i in range(X.shape[1]):
            kinds, column = {}, column_label(estimator, i)
            for value in X[:, i].tolist():
                kinds.setdefault(isinstance(value, str), value)
                refuse_unhashable_label(value, name, column, error)
            if len(kinds) > 1:
                raise TypeError(
                    f"{name}: {column} mixes "
                    f"strings (such as {kinds[True]!r}) with other labels (such as "
                    f"{kinds[False]!r} of type {type(kinds[False]).__name__}); a "
                    "feature's labels must be uniformly strings or numbers. Convert the "
                    "column to one type, e.g. with .astype(str).") from error

    @staticmethod
    def _check_known_categories(X, estimator, known):
        """Raise UnknownCategoryError (a ValueError) naming the first feature and
        value not in its categories (``known[i]`` for feature i)."""
        for i, categories in enumerate(known):
            categories = np.asarray(categories)
            unknown = ~np.isin(X[:, i], categories)
            if unknown.any():
                value = _shown(X[np.argmax(unknown), i])
                n_rows = int(unknown.sum())
                raise UnknownCategoryError(
                    f"{type(estimator).__name__}: {column_label(estimator, i)} has the value "
                    f"{value!r} "
                    f"(in {counted(n_rows, 'row')}), which is not one of its categories "
                    f"{shown_categories(categories)}. {UnknownCategoryError.ADVICE}",
                    feature=i, value=value, n_rows=n_rows, categories=categories)

    def decode(self, V):
        """One-hot rows back to the original category labels."""
        return self.encoder.inverse_transform(V)

    def follow_hyperparameters(self, estimator):
        """The one-hot coding is fixed at the first fit: a ``dtype`` or explicit
        ``categories`` set since (other than the fitted ones) are refused when
        training continues, not silently ignored.  ``categories='auto'`` asks
        for nothing new (the fitted categories came from data or a list)."""
        name = type(estimator).__name__
        asked, fitted = np.dtype(estimator.dtype), np.dtype(self.dtype)
        if asked != fitted:
            raise ValueError(
                f"{name} has dtype={asked.name} but was fitted with dtype={fitted.name}; "
                f"training goes on in the fitted coding. Set dtype back to {fitted.name} to "
                "continue it, or fit it anew (warm_start=False) for the new dtype.")
        self.follow_categories(estimator)

    def follow_categories(self, estimator):
        """Refuse explicit ``categories`` set since the fit other than the fitted
        ones (``follow_hyperparameters``; ``RBMClassifier``, which has no
        ``dtype``, calls this part alone)."""
        name = type(estimator).__name__
        categories = estimator.categories
        if isinstance(categories, str):
            return
        same = len(categories) == len(self.categories_) and all(
            len(given) == len(found) and all(bool(g == f) for g, f in zip(given, found))
            for given, found in zip(categories, self.categories_))
        if not same:
            raise ValueError(
                f"{name}.categories differs from the categories it was fitted with "
                "(categories_); training goes on in the fitted coding. Set categories back "
                "(or to 'auto') to continue it, or fit it anew"
                + (" (warm_start=False)" if hasattr(estimator, "warm_start") else "")
                + " for the new ones.")

    def check_fitted(self, estimator, n_columns, dtype):
        """The encoder's categories must be sound and give exactly the model's columns.

        The encoder is scikit-learn's and trusts its fitted attributes: a
        category list it did not make (duplicated, unsorted, of the wrong
        length) or bookkeeping that disagrees with it would give one-hot rows
        of the wrong width or with column indices out of range.
        """
        name = type(estimator).__name__
        where = f"{name}._visible_unit.encoder"
        encoder = getattr(self, "encoder", None)
        if not isinstance(encoder, OneHotEncoder) or not hasattr(encoder, "categories_"):
            raise ValueError(f"{name} has no fitted categories ({where} is not a fitted "
                             "OneHotEncoder); refit it.")
        categories = encoder.categories_
        if not isinstance(categories, list) or not all(
                isinstance(c, np.ndarray) and c.ndim == 1 and c.size for c in categories):
            raise ValueError(f"{where}.categories_ must be a list of non-empty 1-d arrays, "
                             "one per feature; refit the model.")
        for i, c in enumerate(categories):
            if not _sorted_and_unique(c):
                raise ValueError(f"{where}.categories_[{i}] must hold distinct categories "
                                 "in sorted order (as fit makes them); refit the model.")
        sizes = [len(c) for c in categories]
        if sum(sizes) != n_columns:
            raise ValueError(
                f"{name}'s categories_ give {sum(sizes)} one-hot "
                f"columns (sizes {sizes[:10]}), but components_ has {n_columns}; the "
                "categories and the parameters no longer belong together: refit the model."
            )
        if not _is_float_dtype(getattr(self, "dtype", None)):
            raise ValueError(f"{name}._visible_unit.dtype must be float32 or float64 (the "
                             f"one-hot coding's type), got {getattr(self, 'dtype', None)!r}; "
                             "refit the model.")
        _check_column_types(estimator, len(sizes))
        n_features = getattr(estimator, "n_features_in_", None)
        if not (getattr(encoder, "n_features_in_", None) == n_features == len(sizes)
                and list(getattr(encoder, "_n_features_outs", ())) == sizes
                and getattr(encoder, "drop_idx_", None) is None
                and getattr(encoder, "_infrequent_enabled", None) is False):
            raise ValueError(
                f"{where}'s fitted attributes (n_features_in_, drop_idx_ and its column "
                f"counts) do not match its {len(sizes)} categories_ and the model's "
                f"n_features_in_={n_features!r}; refit the model.")

    # ------------------------------------------------------------------
    # The layer
    # ------------------------------------------------------------------

    def initial_bias(self, mean):
        """Smoothed log frequencies, centred within each feature (zero-sum gauge)."""
        mean = np.asarray(mean, dtype=np.float64)
        counts_floor = 1e-3
        bias = np.log(mean + counts_floor)
        return self.zero_sum(bias[None, :])[0]

    def constrain(self, W):
        """W in the zero-sum gauge."""
        return self.zero_sum(W)

    def zero_sum(self, X):
        """X with each row's block of each feature centred (the zero-sum gauge).

        A constant added to every category of a feature changes no
        probability, so without this the parameters drift along it.
        """
        starts, sizes = self._blocks()
        means = np.add.reduceat(X, starts, axis=1) / sizes
        return X - np.repeat(means, sizes, axis=1)

    def _blocks(self):
        """(first column, width) of each feature's block, from one look at ``groups``
        (which is rebuilt from the encoder on every call: several per epoch)."""
        groups = self.groups
        return groups[:-1], np.diff(groups)

    def _block_logsumexp(self, field, blocks=None):
        starts, sizes = blocks if blocks is not None else self._blocks()
        top = np.maximum.reduceat(field, starts, axis=1)
        shifted = np.exp(field - np.repeat(top, sizes, axis=1))
        return np.log(np.add.reduceat(shifted, starts, axis=1)) + top

    def mean(self, field, blocks=None):
        """Per-feature softmax of the field."""
        blocks = blocks if blocks is not None else self._blocks()
        log_norm = np.repeat(self._block_logsumexp(field, blocks), blocks[1], axis=1)
        return np.exp(field - log_norm)

    def sample(self, field, rng):
        """One-hot draws from each feature's softmax, with a numpy Generator."""
        blocks = starts, sizes = self._blocks()
        probabilities = self.mean(np.asarray(field, dtype=np.float64), blocks)
        cumulative = np.cumsum(probabilities, axis=1)
        before_block = np.zeros((len(field), len(starts)))
        before_block[:, 1:] = cumulative[:, starts[1:] - 1]
        within = cumulative - np.repeat(before_block, sizes, axis=1)
        u = rng.random((len(field), len(starts)))
        # The drawn category is the first whose cumulative probability exceeds u
        # (clipped for rounding at the top of a block).
        passed = within <= np.repeat(u, sizes, axis=1)
        index = np.minimum(np.add.reduceat(passed, starts, axis=1), sizes - 1)
        out = np.zeros(field.shape, dtype=field.dtype)
        out[np.arange(len(field))[:, None], starts + index] = 1
        return out

    def log_partition_given_hidden(self, A, b):
        """Sum over features of log sum over categories of exp(b + a)."""
        return self._block_logsumexp(A + b).sum(axis=1)

    def kernel_view(self, dtype):
        """Kind and the features' column offsets."""
        return KernelVisible(self.kernel_kind, groups=self.groups)

    def n_states(self, n_visible):
        """Number of visible configurations: the product of the category counts."""
        return math.prod(int(q) for q in self._sizes)

    def enumerate_states(self, n_visible, chunk_size, dtype):
        """Yield every one-hot configuration in chunks of at most chunk_size rows."""
        sizes = [int(q) for q in self._sizes]
        total = self.n_states(n_visible)
        groups = self.groups
        for start in range(0, total, chunk_size):
            index = np.arange(start, min(start + chunk_size, total), dtype=np.int64)
            out = np.zeros((len(index), n_visible), dtype=dtype)
            for offset, q in zip(groups[:-1], sizes):
                out[np.arange(len(index)), offset + index % q] = 1
                index //= q
            yield out

    # ------------------------------------------------------------------
    # Conditional use
    # ------------------------------------------------------------------

    def validate_incomplete(self, estimator, X, *, reset, dtype=None):
        """(one-hot rows, observed) for labels with missing entries.

        Missing entries (NaN, None, pandas' NA) get a placeholder category
        (the feature's first) in the dense one-hot rows; ``observed`` is the
        (n_samples, n_features) mask of given labels, each of which must be
        a known category (else ValueError naming the column and the value).
        When fitting (``reset``), the categories are those observed, and a
        column with none observed is refused.
        """
        X = self._labels(estimator, X, reset)  # (checks the categories the placeholders read)
        missing = missing_mask(X)
        if missing.any():
            # (Dates keep their dtype: as objects, datetime64[ns] become integers.)
            X = X.astype(object) if X.dtype.kind not in "fOmM" else X.copy()
            for i in np.flatnonzero(missing.any(axis=0)):
                X[missing[:, i], i] = self._placeholder(estimator, X, missing, i, reset)
        return np.asarray(self._encode(estimator, X, reset).toarray(), order="C"), ~missing

    def _placeholder(self, estimator, X, missing, i, reset):
        """A known category of feature i to stand in for its missing entries."""
        if not reset:
            return self.categories_[i][0]
        if not isinstance(self.categories, str):
            return self.categories[i][0]
        if missing[:, i].all():
            raise ValueError(
                f"{type(estimator).__name__}: {column_label(estimator, i)} has no observed "
                "value, so its categories cannot be learned; drop the column or pass its "
                "categories in the categories parameter.")
        return X[np.argmin(missing[:, i]), i]

    def restricted(self, columns):
        """Categorical units of the features whose blocks make up ``columns``."""
        starts = set(np.asarray(columns).tolist())
        sizes = [int(z - a) for a, z in zip(self.groups[:-1], self.groups[1:]) if a in starts]
        return CategoricalBlocks(sizes, self.dtype)

    def kernel_mask(self, observed):
        """Each feature's mask over its whole one-hot block."""
        return np.repeat(observed, self._sizes, axis=1)

    def feature_log_partitions(self, A, b):
        """log sum over a feature's categories of exp(b + a), for each feature."""
        return self._block_logsumexp(A + b)

    def feature_energy_terms(self, V, b):
        """b[i, v_i] for each feature."""
        V = V.toarray() if sp.issparse(V) else np.asarray(V)
        return np.add.reduceat(V * b, self._block_starts(), axis=1)

    def posterior_marginals(self, first, second, rows, observed):
        """One (n_samples, n_categories) array per feature: p(category | observed)."""
        first = np.where(self.kernel_mask(observed), rows, first)
        return [first[:, a:z] for a, z in zip(self.groups[:-1], self.groups[1:])]

    def posterior_point(self, first):
        """One-hot rows of each feature's most probable category."""
        out = np.zeros_like(first)
        for a, z in zip(self.groups[:-1], self.groups[1:]):
            out[np.arange(len(first)), a + np.argmax(first[:, a:z], axis=1)] = 1
        return out


class CategoricalBlocks(CategoricalVisible):
    """Categorical units known by their category counts alone (no encoder, no
    labels): a row's missing features as a layer of their own, for AIS."""

    def __init__(self, sizes, dtype=np.float64):
        super().__init__(dtype=dtype)
        self.sizes = np.asarray(sizes, dtype=np.intp)

    @property
    def groups(self):
        """Column offsets of the features' blocks."""
        return np.concatenate([[0], np.cumsum(self.sizes)]).astype(np.intp)
