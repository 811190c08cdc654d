"""Missing-value imputation with an RBM, in ``sklearn.impute``'s conventions."""

import copy
import math
import re
import warnings
from contextlib import contextmanager
from numbers import Integral, Real
from typing import NamedTuple

import numpy as np
import scipy.sparse as sp
from sklearn.base import _fit_context, clone
from sklearn.frozen import FrozenEstimator
from sklearn.impute import MissingIndicator
from sklearn.impute._base import _BaseImputer
from sklearn.utils import check_random_state
from sklearn.utils._mask import _get_mask
from sklearn.utils._missing import is_pandas_na, is_scalar_nan
from sklearn.utils._param_validation import HasMethods, MissingValues
from sklearn.utils.validation import (_check_feature_names_in, _check_sample_weight,
                                      check_is_fitted, validate_data)

from ._base import BaseRBM
from ._bernoulli import BernoulliRBM
from ._categorical import CategoricalRBM
from ._conditional import check_every_feature_observed
from ._gaussian import GaussianBernoulliRBM
from ._params import CachedParamNames, DefaultEstimatorParams, ParamsFilledOnLoad
from ._rollback import unchanged_on_error
from ._state import kernel_ready
from ._streams import Entropy, draw_entropy
from ._units import HIDDEN_TYPES, default_learning_rate
from ._units._layer import user_stacklevel
from ._units.categorical import (UnknownCategoryError, as_label_input, column_label,
                               missing_mask, non_numeric_among_others_as_objects,
                               refuse_unhashable_label)


#: What an unknown category's message advises when ``transform`` meets one.
UNKNOWN_CATEGORY_ADVICE = (
    "Every value must be a category the model saw in fit (the categories a pandas "
    "category column declares are not taken); to impute others, fit "
    "RBMImputer(estimator=CategoricalRBM(categories=[...])) with each feature's "
    "categories listed, this one among them.")


def _frozen_model(estimator, n_features, feature_names):
    """The fitted RBM inside a ``sklearn.frozen.FrozenEstimator`` (None for
    any other ``estimator``), which ``RBMImputer.fit`` uses as it is.

    Raises ValueError when the frozen model is no fitted BernoulliRBM,
    CategoricalRBM or GaussianBernoulliRBM of ``n_features`` features, or
    when both it and X name their columns (``feature_names``) differently.
    """
    if not isinstance(estimator, FrozenEstimator):
        return None
    model = estimator.estimator
    kinds = (BernoulliRBM, CategoricalRBM, GaussianBernoulliRBM)
    if not (isinstance(model, kinds) and hasattr(model, "n_features_in_")):
        what = (f"an unfitted {type(model).__name__}" if isinstance(model, kinds)
                else type(model).__name__)
        raise ValueError(
            "RBMImputer's estimator is a FrozenEstimator, which must wrap a fitted "
            f"BernoulliRBM, CategoricalRBM or GaussianBernoulliRBM, not {what}; fit the "
            "RBM before freezing it, or give the RBM itself to have the imputer fit it.")
    if model.n_features_in_ != n_features:
        raise ValueError(
            f"RBMImputer got X with {n_features} features, but its frozen "
            f"{type(model).__name__} was fitted on {model.n_features_in_}; impute data of "
            "the features it was fitted on.")
    fitted_names = getattr(model, "feature_names_in_", None)
    if (feature_names is not None and fitted_names is not None
            and list(feature_names) != list(fitted_names)):
        raise ValueError(
            f"RBMImputer got X with columns {list(feature_names)[:5]}, but its frozen "
            f"{type(model).__name__} was fitted on columns {list(fitted_names)[:5]} "
            "(the first 5 at most); give X the columns it was fitted on, in that order.")
    return model


class DefaultRule(NamedTuple):
    """How ``estimator=None`` sizes and trains its RBM from the training data.

    One rule serves every data set; ``DEFAULT_RULE`` is the one chosen by
    ``benchmarks/imputation_select.py`` on validation rows carved out of
    each benchmark set's training rows (see benchmarks/README.md).

    Attributes
    ----------
    min_hidden, max_hidden : int
        Hidden units: one per internal visible column (a feature, or a
        one-hot column of a category), clipped to [min_hidden, max_hidden].
    updates : int
        Minibatch updates to train for, about (``n_iter`` epochs from 10 to
        MAX_EPOCHS).
    weight_decay : float
        L2 weight decay.
    n_chains : int
        Persistent chains of the negative phase.  Each update costs about
        (batch size + n_chains) x internal columns x hidden units.
    learning_rate_scale : float
        Factor on the default learning rate (``learning_rate="auto"``) of the
        estimator's visible type and ``hidden``.
    hidden : str
        The estimator's ``hidden`` type ("bernoulli", "relu", "drelu", ...).
    learning_rate : float or None
        The learning rate itself, overriding ``learning_rate_scale`` (set it
        for real-valued hidden types, whose default rate may change).
    decay_categories : float or None
        For categorical data whose rows have near-identical neighbours
        (``decay_identity``), ``weight_decay`` times min(1, decay_categories
        / q), q the mean number of observed categories per feature; None
        keeps ``weight_decay`` for every kind.  Why: a one-hot column is on
        in about 1/q of the rows, so its weights get about 1/q of the data's
        gradient while the decay pulls on them at every update; with many
        categories (protein alignments: 20 residues and a gap) a decay fit
        for a few categories holds the weights too tight to tell
        near-identical sequences apart.
    decay_identity : float
        The ``neighbour_identity`` of the training rows from which
        ``decay_categories`` applies.  Rows without close neighbours
        (synthetic lattice proteins, dna) gain nothing from looser weights,
        only overfitting.
    """

    min_hidden: int = 64
    max_hidden: int = 256
    updates: int = 40000
    weight_decay: float = 5e-3
    n_chains: int = 100
    learning_rate_scale: float = 1.0
    hidden: str = "bernoulli"
    learning_rate: float | None = None
    decay_categories: float | None = None
    decay_identity: float = 0.0

    def n_components(self, n_columns):
        """Hidden units for ``n_columns`` internal visible columns."""
        return int(min(self.max_hidden, max(self.min_hidden, n_columns)))

    def epochs(self, n_rows, batch_size=20):
        """Epochs of about ``updates`` minibatch updates (10 to MAX_EPOCHS)."""
        batches = max(1, -(-n_rows // batch_size))
        return int(min(MAX_EPOCHS, max(10, -(-self.updates // batches))))

    def decay(self, categories_per_feature=None, identity=1.0):
        """Weight decay for data of ``categories_per_feature`` mean observed
        categories per feature (None: not categorical) whose rows have a
        ``neighbour_identity`` of ``identity``."""
        if (self.decay_categories is None or categories_per_feature is None
                or identity < self.decay_identity):
            return self.weight_decay
        return self.weight_decay * min(1.0, self.decay_categories / categories_per_feature)

    def options(self, estimator_class, n_rows, random_state, categories_per_feature=None,
                identity=1.0):
        """Keyword arguments of ``estimator_class`` but ``n_components``
        (``categories_per_feature``, ``identity``: see ``decay``)."""
        rate = (self.learning_rate if self.learning_rate is not None
                else default_learning_rate(estimator_class._visible_type,
                                           HIDDEN_TYPES[self.hidden]) * self.learning_rate_scale)
        return dict(n_iter=self.epochs(n_rows),
                    weight_decay=self.decay(categories_per_feature, identity),
                    n_chains=self.n_chains, learning_rate=rate, hidden=self.hidden,
                    random_state=random_state)


MAX_EPOCHS = 1000
#: The rule of ``estimator=None``: "percat4_h512_id07" of
#: benchmarks/imputation_select.py, chosen on validation rows (second round,
#: for the protein alignments behind KNNImputer): 20 chains, up to 512
#: hidden units, and for categorical data whose rows have near-identical
#: neighbours (``neighbour_identity`` at least 0.7) the weight decay
#: 5e-3 x min(1, 4 / mean categories per feature): about 1.2e-3 for the
#: ww and kunitz alignments, 3.8e-3 for mushrooms; dna, the lattice
#: proteins, binary and real-valued data keep 5e-3.
DEFAULT_RULE = DefaultRule(n_chains=20, max_hidden=512, decay_categories=4.0,
                           decay_identity=0.7)
DEFAULT_UPDATES = DEFAULT_RULE.updates
DEFAULT_WEIGHT_DECAY = DEFAULT_RULE.weight_decay
MIN_N_COMPONENTS = DEFAULT_RULE.min_hidden
MAX_N_COMPONENTS = DEFAULT_RULE.max_hidden


def default_epochs(n_rows, batch_size=20):
    """Epochs of ``DEFAULT_RULE`` for ``n_rows`` training rows."""
    return DEFAULT_RULE.epochs(n_rows, batch_size)


def default_n_components(n_columns):
    """Hidden units of ``DEFAULT_RULE`` for ``n_columns`` internal visible columns."""
    return DEFAULT_RULE.n_components(n_columns)


def observed_categories(X, missing):
    """Number of distinct observed values per column of X (TypeError naming
    the feature where one cannot be a label: a list, say)."""
    counts = []
    for j in range(X.shape[1]):
        labels = X[~missing[:, j], j].tolist()
        try:
            counts.append(len(set(labels)))
        except TypeError as error:
            for value in labels:
                refuse_unhashable_label(value, "RBMImputer", f"feature {j}", error)
            raise
    return counts


#: ``neighbour_identity`` compares at most this many rows with at most
#: NEIGHBOUR_REFERENCE_ROWS (evenly spaced, so the same rows every time).
NEIGHBOUR_QUERY_ROWS = 500
NEIGHBOUR_REFERENCE_ROWS = 5000
NEIGHBOUR_BLOCK_ENTRIES = 2 ** 22


def label_codes(X, missing):
    """X's labels as integer codes per column, -1 where missing."""
    codes = np.full(X.shape, -1, dtype=np.int64)
    for j in range(X.shape[1]):
        known = ~missing[:, j]
        lookup = {}
        codes[known, j] = [lookup.setdefault(v, len(lookup)) for v in X[known, j].tolist()]
    return codes


def neighbour_identity(X, missing):
    """How close each row's nearest other row is, on average.

    For (up to ``NEIGHBOUR_QUERY_ROWS``) rows of X, the largest fraction of
    features, among those observed in both, on which another row (of up to
    ``NEIGHBOUR_REFERENCE_ROWS``) has the same value; the mean over those
    rows.  About 0.9 for the ww alignment's near-identical sequences, 0.5
    for dna and synthetic lattice proteins; 0 for a single row.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
        Labels (any hashable values).
    missing : ndarray of bool, shape of X
        Its missing entries, which count neither way.

    Returns
    -------
    identity : float
        In [0, 1].
    """
    n = X.shape[0]
    if n < 2:
        return 0.0
    reference = np.unique(np.linspace(0, n - 1, min(n, NEIGHBOUR_REFERENCE_ROWS)).astype(int))
    queries = np.unique(np.linspace(0, len(reference) - 1,
                                    min(len(reference), NEIGHBOUR_QUERY_ROWS)).astype(int))
    codes = label_codes(X[reference], missing[reference])
    known = codes >= 0
    # Blocks of queries x reference rows x features of about 4 million entries.
    step = max(1, NEIGHBOUR_BLOCK_ENTRIES // (len(reference) * max(1, X.shape[1])))
    best = []
    for start in range(0, len(queries), step):
        block = queries[start:start + step]
        both = known[block][:, None, :] & known[None, :, :]
        same = (codes[block][:, None, :] == codes[None, :, :]) & both
        identity = same.sum(axis=2) / np.maximum(both.sum(axis=2), 1)
        identity[np.arange(len(block)), block] = -1.0  # not its own neighbour
        best.append(identity.max(axis=1))
    return float(np.clip(np.concatenate(best), 0.0, 1.0).mean())


def estimator_class_for(X, missing, declared=None):
    """The RBM class ``estimator=None`` picks for X: BernoulliRBM when every
    observed value is 0 or 1, GaussianBernoulliRBM for other floating-point
    columns, CategoricalRBM otherwise, and wherever a column is ``declared``
    labels (see ``declared_labels``).  An object or string array of numbers
    (numeric text among them) is taken by the kind of its numbers
    (``numeric_kind``)."""
    observed = X[~missing]
    kind = numeric_kind(X, missing)
    if kind in "fiub" and np.isin(observed.astype(np.float64), (0.0, 1.0)).all():
        return BernoulliRBM
    if kind == "f" and not (declared is not None and declared.any()):
        return GaussianBernoulliRBM
    return CategoricalRBM


def as_number(value):
    """``value`` as a float where it is a number, else None.

    A number is a real number other than a bool, or text that reads as a
    finite one: a CSV read by pandas with "?" for the gaps holds its numbers
    as text ("0.13"), and the command line keeps "a column of numbers"
    numbers too.  As there, text with an underscore is text (Python's
    float() reads "1_0" as 10), and so are "nan" and "inf", which would
    otherwise turn a label into a gap or an infinity.
    """
    if isinstance(value, Real) and not isinstance(value, (bool, np.bool_)):
        return float(value)
    if not isinstance(value, str) or "_" in value:
        return None
    try:
        number = float(value)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def _is_float_text(value):
    """Whether ``value`` is numeric text of a float ("0.5", "1e3", "2.0"), as
    pandas reads it, rather than of an integer ("2")."""
    try:
        int(value)
    except ValueError:
        return True
    return False


def numeric_kind(X, missing):
    """X's dtype kind, or for an object or string array whose observed
    entries are all numbers (``as_number``: no bool, numeric text counts)
    the kind NumPy and pandas give them: "f" where one is a float (or the
    text of one, such as "0.13"), "i" where all are integers.

    A list of float rows with None for the gaps arrives as objects (NumPy
    has no float for None), and was imputed as labels, each distinct value
    a category; pandas reads such a list as float64 columns, and
    ``SimpleImputer`` None as missing.  So with numbers read as text (a
    CSV with "?" for the gaps): every distinct number was a category, and
    the imputed entries numbers copied from unrelated rows, as text.
    Integers alone stay labels, as an integer array is.
    """
    if X.dtype.kind not in "OU":
        return X.dtype.kind
    values = X[~missing].tolist()
    if any(as_number(v) is None for v in values):
        return "O"
    return "f" if any(isinstance(v, (float, np.floating))
                      or isinstance(v, str) and _is_float_text(v) for v in values) else "i"


def declared_labels(X):
    """Which columns of a DataFrame X its dtypes declare to be labels, as a
    boolean array (None for other input).

    A pandas ``category`` column holds labels, whatever its categories:
    those of floats (sizes 36.5, 37.0) with gaps reach NumPy as float64 and
    NaN, and a GaussianBernoulliRBM imputed values between the categories.
    Integer columns, pandas' nullable ``Int64`` and Arrow integers among
    them, hold labels where no column holds other numbers: with gaps they
    too reach NumPy as floats, and a GaussianBernoulliRBM imputed values
    such as 1.33 in them (an integer array gets a CategoricalRBM); beside
    a float column they are taken as numbers, as the floats are.
    """
    dtypes = list(getattr(X, "dtypes", [])) if hasattr(X, "columns") else []
    if not dtypes:
        return None
    category = np.array([getattr(dtype, "name", None) == "category" for dtype in dtypes])
    integer = np.array([getattr(dtype, "kind", None) in ("i", "u") for dtype in dtypes])
    return category | integer if (category | integer).all() else category


def _real_among_labels(values):
    """A value of ``values`` (one column's observed entries) that is a real
    number with a fractional part, or None: numbers always, numeric text
    only where every value is a number (``as_number``).  Text is parsed only
    until the first that is no number: a column of 200,000 text labels took
    a second per column when every one was parsed."""
    all_numbers, text_real = True, None
    for value in values:
        if isinstance(value, str) and not all_numbers:
            continue
        number = as_number(value)
        if number is None:
            all_numbers = False
        elif not number.is_integer():
            if not isinstance(value, str):
                return value
            text_real = value if text_real is None else text_real
    return text_real if all_numbers else None


def warn_of_real_labels(imputer, X, missing, declared=None):
    """UserWarning where data going to ``estimator=None``'s CategoricalRBM
    hold, in a column not ``declared`` labels, numbers with a fractional
    part: each distinct value becomes a category of its own (a DataFrame
    mixing real and text columns arrives so).  Numeric text counts in a
    column of numbers only.  Names the column as ``imputer`` knows it."""
    for column in range(X.shape[1]):
        if declared is not None and declared[column]:
            continue
        real = _real_among_labels(X[~missing[:, column], column].tolist())
        if real is not None:
            warnings.warn(
                f"RBMImputer: {column_label(imputer, column)} holds real numbers (such as "
                f"{real!r}) among labels, and estimator=None imputes the whole array with "
                "a CategoricalRBM, which takes each distinct value as a category. For a "
                "frame of real and categorical columns, impute each kind with its own "
                "RBMImputer in a sklearn.compose.ColumnTransformer.", UserWarning,
                stacklevel=user_stacklevel())
            return


def default_estimator(X, missing, random_state, rule=None, kind=None, declared=None):
    """The RBM ``estimator=None`` picks for X (see ``RBMImputer``).

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
        Training data.
    missing : ndarray of bool, shape of X
        Its missing entries.
    random_state : int, RandomState instance or None
        The estimator's seed.
    rule : DefaultRule or None, default=None
        Its size and training; None is ``DEFAULT_RULE``.
    kind : {BernoulliRBM, GaussianBernoulliRBM, CategoricalRBM} or None, default=None
        The class to build, sized and trained by ``rule`` for X as the
        imputer's own choice would be (``rbm impute --model``); None picks
        it from X (``estimator_class_for``).
    declared : ndarray of bool of shape (n_features,) or None, default=None
        Which columns the data X came from declare labels
        (``declared_labels``), so that ``kind=None`` picks CategoricalRBM
        for any unless all are 0 and 1.

    Returns
    -------
    estimator : BernoulliRBM, GaussianBernoulliRBM or CategoricalRBM
        Unfitted.
    """
    rule = DEFAULT_RULE if rule is None else rule
    kind = estimator_class_for(X, missing, declared) if kind is None else kind
    categories, n_columns, extra = None, X.shape[1], {}
    if issubclass(kind, CategoricalRBM):
        # Labels carry no precision of their own: float32 trains about twice as fast.
        n_columns = sum(observed_categories(X, missing))
        categories = n_columns / max(1, X.shape[1])
        extra = dict(dtype=np.float32)
    identity = (neighbour_identity(X, missing) if categories is not None
                and rule.decay_categories is not None else 1.0)
    return kind(n_components=rule.n_components(n_columns),
                **rule.options(kind, X.shape[0], random_state, categories, identity), **extra)


def _in_dtype_of(labels, X):
    """An object array of completed ``labels`` in X's dtype where X's dtype is
    numeric (integer, boolean or floating point) and holds every label
    exactly, as scikit-learn's imputers keep X's dtype (a sentinel such as
    -999 for the gaps of integer labels); as objects otherwise (string
    labels in a row of float NaN, categories of fit outside a narrower
    dtype given to transform)."""
    if X.dtype.kind not in "iubf":
        return labels
    try:
        typed = labels.astype(X.dtype)
    except (OverflowError, TypeError, ValueError):
        return labels
    return typed if bool(np.all(typed == labels)) else labels


def first_not_numbers(X):
    """The index of the first column of X that does not convert to floats
    (None if every one does), for a message that names it."""
    for j in range(X.shape[1]):
        try:
            X[:, j].astype(np.float64)
        except (TypeError, ValueError):
            return j
    return None


def _feature_of(column):
    """"; feature i" for a message, or "" where no column is known (None)."""
    return "" if column is None else f"; feature {column}"


def refuse_dates(X):
    """Raise ValueError naming the first date or duration column of a DataFrame.

    Such a column is neither numbers nor labels to impute; beside numeric
    columns scikit-learn's validation raised NumPy's DTypePromotionError,
    which names no column.
    """
    for name, dtype in zip(getattr(X, "columns", ()), getattr(X, "dtypes", ())):
        if getattr(dtype, "kind", None) in ("m", "M"):
            raise ValueError(
                f"RBMImputer: column {name!r} holds dates or durations (dtype {dtype}); it "
                "imputes numbers or labels. Convert the column (to numbers, or to strings "
                "as labels), or leave it out with a sklearn.compose.ColumnTransformer.")


def refuse_sparse(X):
    """Raise TypeError for a SciPy sparse X, saying why and what to pass instead.

    scikit-learn's validation said only "Sparse data was passed for X, but
    dense data is required", with no word of what the imputer does with it.
    """
    if sp.issparse(X):
        raise TypeError(
            f"RBMImputer takes dense X, but got a sparse {type(X).__name__} (sparse input "
            "is not supported): an entry a sparse matrix leaves out means 0, not missing, "
            "and the completed X it returns is dense anyway. Convert it with X.toarray() "
            "(with the missing entries as missing_values, np.nan by default). "
            "BernoulliRBM(missing='impute') takes sparse X with NaN among its stored "
            "values as rows with gaps, densifying it (sparse X without NaN stays sparse).")


@contextmanager
def stream_kept_on_error(random_state):
    """Put ``random_state`` (a RandomState) back where it was if the block
    raises: a failed ``transform`` leaves the later posterior draws as they
    would have been (it took a seed from the stream before failing)."""
    state = random_state.get_state()
    try:
        yield
    except BaseException:
        random_state.set_state(state)
        raise


@contextmanager
def columns_by_name(imputer):
    """Errors raised inside name the imputer's columns ("column 'age'") where
    they name a feature by position ("feature 2").

    The model is fitted on arrays (the imputer's validated, perhaps
    standardised rows), so its messages can name a column of the user's
    DataFrame only by position.
    """
    try:
        yield
    except (ValueError, TypeError) as error:
        names = getattr(imputer, "feature_names_in_", None)
        if names is None or type(error) not in (ValueError, TypeError, UnknownCategoryError):
            raise
        # Not inside quotes: a value of the user's may read "feature 1".
        message = re.sub(r"(?<!['\"])\bfeature (\d+)\b", lambda match: (
            f"column '{names[int(match[1])]}'" if int(match[1]) < len(names)
            else match[0]), str(error))
        if message == str(error):
            raise
        renamed = copy.copy(error)  # (the same type, with its attributes)
        renamed.args = (message,)
        raise renamed from error


def _float64_vector_problem(value, size, finite=True, positive=False):
    """What keeps ``value`` from being a float64 array of ``size`` entries (finite,
    each positive, as asked), said as "got ...", or None."""
    if not isinstance(value, np.ndarray):
        return f"got {type(value).__name__}"
    if value.shape != (size,) or value.dtype != np.float64:
        return f"got an array of shape {value.shape} and dtype {value.dtype}"
    if finite and not np.all(np.isfinite(value)):
        return "got NaN or inf entries"
    if positive and not np.all(value > 0):
        return "got entries of 0 or below"
    return None


class RBMImputer(DefaultEstimatorParams, CachedParamNames, ParamsFilledOnLoad, _BaseImputer):
    """Fill in missing values from an RBM fitted to the incomplete data.

    A generative model of the joint distribution answers every pattern of
    gaps from one fit: each missing entry is predicted from its distribution
    given the row's observed entries, p(missing | observed) under the RBM
    (``conditional_marginals``).  The RBM is trained on the incomplete rows
    themselves (``missing="impute"``: the positive phase fills each row's
    gaps by clamped block Gibbs under the current model), so no row is
    dropped and no column mean is imposed.

    Parameters
    ----------
    estimator : BernoulliRBM, CategoricalRBM, GaussianBernoulliRBM or None, default=None
        The model, cloned and fitted with ``missing="impute"``.  None picks
        one from the training data: BernoulliRBM when every observed value
        is 0 or 1, GaussianBernoulliRBM for other floating-point columns
        (and objects that are numbers, one a float at least: a list of
        float rows with None for the gaps, or numbers read as text, such
        as a CSV with "?" for the gaps read by pandas), CategoricalRBM
        otherwise (strings, other objects, integers, a DataFrame's nullable
        integer columns too, and any DataFrame with a ``category`` column;
        float32).
        Each gets one hidden unit per feature (per observed category for
        CategoricalRBM), at least 64 and at most 512, weight decay 5e-3
        (for CategoricalRBM whose rows have near-identical neighbours,
        ``neighbour_identity`` at least 0.7, 5e-3 x min(1, 4 / q), q the
        mean number of observed categories per feature: about 1.2e-3 for
        protein alignments, whose near-identical sequences want weights
        free to tell them apart), this ``random_state``, about 40,000
        minibatch updates (``n_iter`` from 10 to 1,000 epochs) and 20
        persistent chains: ``DEFAULT_RULE``, chosen on validation rows of
        the benchmark sets' training rows (benchmarks/imputation_select.py).
        Real-valued data are standardised (observed mean and standard
        deviation per column) before a GaussianBernoulliRBM sees them, and
        imputed values mapped back.  A fitted RBM wrapped in
        ``sklearn.frozen.FrozenEstimator`` is used as it is: ``fit`` only
        checks it against X (same features), and its data are taken in its
        own units (no standardisation); see ``fit``.
    missing_values : int, float, str, np.nan, None or pandas.NA, default=np.nan
        The placeholder of a missing entry, as in ``sklearn.impute``; NaN
        also matches None and pandas' NA in object columns.  With another
        placeholder, NaN, None or pandas' NA entries in X are refused (an RBM
        cannot take them as values).
    add_indicator : bool, default=False
        Append a ``MissingIndicator``'s columns (features with missing
        values in fit) to the output.
    sample_posterior : bool, default=False
        False: each missing entry gets the most probable value (binary and
        categorical columns) or the conditional mean (real columns), the
        same on every ``transform`` call of the same rows, whatever other
        rows share the call and in what order (where clamped chains
        estimate them, see ``marginal_seed_``, a row's chains draw from
        streams keyed by the seed and the row's observed entries).  True:
        a draw from p(missing | observed) per row (``conditional_sample``),
        different on every ``transform`` call, for multiple imputation.
    random_state : int, RandomState instance or None, default=None
        Seed of the default estimator, of the posterior draws and of the
        clamped chains that estimate the most probable values (their seed
        is drawn once, at fit: ``marginal_seed_``).

    Attributes
    ----------
    estimator_ : estimator
        The fitted RBM.  With a ``FrozenEstimator`` as ``estimator``, the
        RBM it wraps, the very object, not a copy: the imputer depends on
        the model's kind (a GaussianBernoulliRBM's units, a CategoricalRBM's
        labels; the checks of a loaded imputer's state), which the
        FrozenEstimator's type would hide.  ``RBMOutlierDetector`` keeps
        the FrozenEstimator instead, as scikit-learn's meta-estimators do:
        it only calls scoring methods, which FrozenEstimator passes on.
    indicator_ : MissingIndicator or None
        The indicator of ``add_indicator``.
    mean_, scale_ : ndarray of shape (n_features,) or None
        The standardisation of real-valued data (GaussianBernoulliRBM), else None.
    random_state_ : RandomState
        Draws the seeds of ``sample_posterior``'s draws.
    marginal_seed_ : tuple of 4 int
        Seed material of the clamped chains that estimate p(missing |
        observed) for ``sample_posterior=False`` (models of more than 14
        binary hidden units, or real-valued ones), drawn at fit from
        ``random_state`` (where None, from the fitted model's), so that
        ``transform`` gives the same values on every call and in a saved
        copy.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of features seen during fit, when X has string column names.

    Notes
    -----
    A row with every entry missing is imputed from the model alone (its
    marginals), as no observed entry constrains it.  A numeric column that
    held one value only in fit has its gaps filled with that value, as
    ``SimpleImputer`` fills them.  A feature with no
    observed value in fit is refused (nothing can be learned about it).
    Neither applies to a ``FrozenEstimator``'s model, which learned every
    feature from its own data: its answers are kept.

    Examples
    --------
    >>> import numpy as np
    >>> from rbm import RBMImputer
    >>> X = np.array([[1, 1, 0, 0], [0, 0, 1, 1]] * 20, dtype=float)
    >>> X[0, 1] = X[1, 2] = np.nan
    >>> RBMImputer(random_state=0).fit_transform(X)[:2]
    array([[1., 1., 0., 0.],
           [0., 0., 1., 1.]])
    """

    _parameter_constraints = {
        "estimator": [HasMethods(["fit", "conditional_marginals", "conditional_sample"]),
                      None],
        "missing_values": [MissingValues()],
        "add_indicator": ["boolean"],
        "sample_posterior": ["boolean"],
        "random_state": ["random_state"],
    }

    def __init__(self, estimator=None, *, missing_values=np.nan, add_indicator=False,
                 sample_posterior=False, random_state=None):
        super().__init__(missing_values=missing_values, add_indicator=add_indicator)
        self.estimator = estimator
        self.sample_posterior = sample_posterior
        self.random_state = random_state

    def _validated(self, X, reset):
        """(X as an array, mask of its missing entries)."""
        refuse_sparse(X)
        refuse_dates(X)
        X = validate_data(self, non_numeric_among_others_as_objects(as_label_input(X)),
                          dtype=None, ensure_all_finite=False, reset=reset)
        if X.dtype.kind not in "fiubOUS":
            raise ValueError(f"RBMImputer takes numbers or labels, got dtype {X.dtype}.")
        if X.dtype.kind in "fiub" and not (isinstance(self.missing_values, Real)
                                           or is_pandas_na(self.missing_values)):
            # As sklearn.impute's imputers: no number equals it, so nothing
            # would be imputed, silently.
            raise ValueError(
                f"RBMImputer: X holds numbers (dtype {X.dtype}), but missing_values="
                f"{self.missing_values!r} is not a number, so no entry could match it; pass "
                "a number or np.nan, or X as an object array.")
        if X.dtype.kind in "iub" and isinstance(self.missing_values, Real) and np.isnan(
                self.missing_values):
            return X, np.zeros(X.shape, dtype=bool)
        if X.dtype.kind == "O" and is_scalar_nan(self.missing_values):
            return X, missing_mask(X)  # None and pandas' NA as well as NaN
        missing = np.asarray(_get_mask(X, self.missing_values), dtype=bool)
        self._check_no_other_gaps(X, missing)
        return X, missing

    def _check_no_other_gaps(self, X, missing):
        """Refuse NaN, None or pandas' NA entries of X that ``missing_values``
        does not match: the RBM can take them only as missing, so they would
        be trained on as gaps and yet left in the output."""
        stray = missing_mask(X) & ~missing
        if stray.any():
            row, column = np.argwhere(stray)[0]
            raise ValueError(
                f"RBMImputer: X holds {int(stray.sum())} NaN, None or pandas NA entries "
                f"although missing_values={self.missing_values!r} (the first in row "
                f"{row}, {column_label(self, int(column))}); an RBM cannot take them as "
                "values. Set missing_values=np.nan to impute them (None and pandas' NA "
                "count too), or replace them first.")

    def _model_input(self, X, missing):
        """X as the fitted RBM takes it (see ``_rows_for``)."""
        return self._rows_for(self.estimator_, self.mean_, self.scale_, X, missing)

    @staticmethod
    def _rows_for(estimator, mean, scale, X, missing):
        """X as ``estimator`` takes it: missing entries NaN (numbers) or None
        (labels), real columns standardised by ``mean`` and ``scale`` (or not,
        when None)."""
        if isinstance(estimator, CategoricalRBM):
            rows = X.astype(object)
            rows[missing] = None
            return rows
        if X.dtype.kind in "OU" and missing.any():
            # A placeholder such as "?" is no number (in a string array too).
            X = np.where(missing, np.nan, X.astype(object))
        try:
            rows = X.astype(np.float64 if X.dtype.kind not in "f" else X.dtype)
        except (TypeError, ValueError) as error:
            raise ValueError(
                f"RBMImputer: {type(estimator).__name__} takes numbers, but X holds "
                f"values that are not ({error}{_feature_of(first_not_numbers(X))}); use "
                "CategoricalRBM for labels, or estimator=None, which picks it for "
                "them.") from error
        rows[missing] = np.nan
        infinite = np.isinf(rows)
        if infinite.any():
            # Refused here, before the standardisation turns one inf into a
            # whole column of them (and the RBM's error would count those).
            row, column = np.argwhere(infinite)[0]
            sign = "-" if rows[row, column] < 0 else ""
            raise ValueError(
                f"RBMImputer: X holds {int(infinite.sum())} infinite entries (the first, "
                f"{sign}inf, in row {row}, feature {column}); {type(estimator).__name__} "
                f"takes finite values only. Replace them, or set missing_values={sign}np.inf "
                "to impute them (missing_values matches one value: +inf or -inf, not both).")
        if mean is not None:
            rows = (rows - mean) / scale
        return rows

    def _model_output(self, completed, X, missing, gaps=slice(None)):
        """X with its missing entries taken from the RBM's completed rows (those
        of X's rows ``gaps``; all by default)."""
        completed = np.asarray(completed)
        if self.mean_ is not None:
            completed = completed * self.scale_ + self.mean_
        if isinstance(self.estimator_, CategoricalRBM):
            # Labels go into objects whatever X's dtype: a row of gaps read
            # as float64 NaN (an empty CSV row) took them into a float copy,
            # and NumPy said "could not convert string to float".
            out = X.astype(object)
            out[gaps] = np.where(missing[gaps], completed, out[gaps])
            return _in_dtype_of(out, X)
        if X.dtype.kind in "OU":
            # Numbers in an object or string array (a text placeholder such
            # as "?" for the gaps, numeric text, an object column of a
            # DataFrame) come back as float64, as from SimpleImputer's mean,
            # not as objects (``_model_input`` has read them as numbers).
            X = np.where(missing, np.nan, X.astype(object)).astype(np.float64)
        out = X.copy() if X.dtype.kind == "f" else X.astype(np.float64)
        out[gaps] = np.where(missing[gaps], completed, out[gaps])
        return out

    def _fitted_model(self, template, X, missing, sample_weight):
        """(a clone of ``template`` fitted to X with ``missing="impute"``, mean, scale)."""
        estimator = clone(template).set_params(missing="impute")
        mean = scale = None
        if isinstance(estimator, GaussianBernoulliRBM):
            mean, scale = self._observed_standardisation(
                self._rows_for(estimator, None, None, X, missing))
        estimator.fit(self._rows_for(estimator, mean, scale, X, missing),
                      sample_weight=sample_weight)
        return estimator, mean, scale

    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y=None, sample_weight=None):
        """Fit the RBM to X, missing entries and all (or take a frozen one as it is).

        With ``estimator`` a ``sklearn.frozen.FrozenEstimator``, nothing is
        trained: its fitted RBM becomes ``estimator_`` as it is, and X is
        only checked against it (the same features, and the same column
        names where both have them) and gives the indicator's features.  X
        may then be a few rows only: a column with no observed value, or
        with one value only, in X is accepted and left to the model.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Data with missing entries (``missing_values``).
        y : Ignored
            Not used, present for API consistency.
        sample_weight : array-like of shape (n_samples,), default=None
            Row weights for the RBM's training (a row of weight w counts as
            w copies of it; see the estimators' ``fit``).  The standardisation
            of real-valued columns stays unweighted.  With a FrozenEstimator
            there is no training to weight: the weights are ignored, with a
            UserWarning.

        Returns
        -------
        self : object
            The fitted imputer.
        """
        # A refused fit (bad weights, say) leaves the imputer as it was:
        # validation sets n_features_in_ and feature_names_in_ at once, so
        # they are put back; the others are set only once the RBM has fitted.
        with unchanged_on_error(self), columns_by_name(self):
            declared = declared_labels(X)
            X, missing = self._validated(X, reset=True)
            frozen = _frozen_model(self.estimator, X.shape[1],
                                   getattr(self, "feature_names_in_", None))
            if frozen is not None:
                estimator, mean, scale, constants = self._frozen_state(frozen, X,
                                                                       sample_weight)
            else:
                check_every_feature_observed(self, ~missing)
                template = self.estimator
                if template is None:
                    template = default_estimator(X, missing, self.random_state,
                                                 declared=declared)
                    if isinstance(template, CategoricalRBM):
                        warn_of_real_labels(self, X, missing, declared)
                estimator, mean, scale = self._fitted_model(template, X, missing, sample_weight)
                constants = self._constant_columns(estimator, X, missing, sample_weight)
        self.estimator_, self.mean_, self.scale_ = estimator, mean, scale
        self._constants = constants
        # Drawn once: the chains of the most probable values are the same on
        # every transform (with random_state=None they differed per call).
        # As the model's chains would be, from its own seed where the
        # imputer has none (so a seeded estimator imputes alike on refits).
        source = (self.random_state if self.random_state is not None
                  else self.estimator_.random_state)
        if isinstance(source, np.random.RandomState):
            # A copy: the posterior draws take the stream where it was.
            source = copy.deepcopy(source)
        self.marginal_seed_ = tuple(draw_entropy(source))
        self.random_state_ = check_random_state(self.random_state)
        self._fit_indicator(missing)
        return self

    @staticmethod
    def _frozen_state(model, X, sample_weight):
        """(estimator_, mean_, scale_, constants) for a frozen fitted ``model``.

        The model is used as fitted, in its own units (an identity
        standardisation for a GaussianBernoulliRBM).  X, which may be a few
        rows only and not the data the model learned from, neither records
        constant columns (a column of one value there would overrule the
        model) nor needs a value in every column (the model learned each).
        ``sample_weight`` has nothing to weight: checked, then ignored with
        a warning.
        """
        if sample_weight is not None:
            _check_sample_weight(sample_weight, X, dtype=np.float64)
            warnings.warn(
                "RBMImputer.fit: sample_weight is ignored with a FrozenEstimator, whose "
                "model is used as fitted and not trained again; fit the RBM with these "
                "weights before freezing it, or pass no weights.", UserWarning, stacklevel=4)
        mean = scale = None
        if isinstance(model, GaussianBernoulliRBM):
            mean, scale = np.zeros(X.shape[1]), np.ones(X.shape[1])
        return model, mean, scale, None

    def _constant_columns(self, estimator, X, missing, sample_weight):
        """The value of each column that held one value only among its observed
        entries in fit (rows of positive weight), NaN for the others; None for a
        CategoricalRBM (labels: a column of one category imputes that one,
        unless a ``categories`` parameter lists others, which training makes
        improbable but not impossible; left to the model).

        ``transform`` imputes such a column's gaps with that value, as
        ``SimpleImputer`` and ``IterativeImputer`` do: the model's own answer
        was near it but not it (2.998 for a column of 3.0), and drawn with
        ``sample_posterior=True`` as far off as 3.7, since a Gaussian unit's
        sigma has a floor and the standardisation a unit scale for a column
        without spread.
        """
        if isinstance(estimator, CategoricalRBM):
            return None
        values = np.array(self._rows_for(estimator, None, None, X, missing), dtype=np.float64)
        if sample_weight is not None:
            weights = _check_sample_weight(sample_weight, values, dtype=np.float64)
            values = values[weights > 0]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # (a column all NaN: refused)
            low, high = np.nanmin(values, axis=0), np.nanmax(values, axis=0)
        return np.where(low == high, low, np.nan)

    def _observed_standardisation(self, values):
        """Per-column mean and standard deviation of the observed entries of
        ``values`` (floats, NaN where missing; 1 where a column has no spread;
        ``fit`` has checked that each has one).

        Where squaring overflows (values beyond about 1e154), the spread is
        taken of the values divided by their largest distance from the mean:
        a spread of inf was kept, and every ``transform`` then refused it.
        Raises ValueError where even the mean overflows.
        """
        values = np.asarray(values, dtype=np.float64)
        with np.errstate(over="ignore", invalid="ignore"):
            mean = np.nanmean(values, axis=0)
            scale = np.nanstd(values, axis=0)
            overflowed = np.isfinite(mean) & ~np.isfinite(scale)
            if overflowed.any():
                centred = values[:, overflowed] - mean[overflowed]
                reach = np.nanmax(np.abs(centred), axis=0)
                scale[overflowed] = reach * np.nanstd(centred / reach, axis=0)
        unusable = ~(np.isfinite(mean) & np.isfinite(scale))
        if unusable.any():
            j = int(np.argmax(unusable))
            raise ValueError(
                f"{type(self).__name__} cannot standardise {column_label(self, j)}: its "
                f"observed values reach {np.nanmax(np.abs(values[:, j])):.3g}, and their mean "
                "or spread overflows float64. Rescale the data first (for example divide "
                "it by a large power of ten, or use sklearn.preprocessing.StandardScaler).")
        return mean, np.where(scale > 0, scale, 1.0)

    def transform(self, X):
        """Impute the missing entries of X.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Data with missing entries.

        Returns
        -------
        X_imputed : ndarray of shape (n_samples, n_features_out)
            X completed (most probable values or conditional means, or draws
            with ``sample_posterior=True``), then the indicator's columns
            with ``add_indicator=True``.  In X's dtype where it is floating
            point, or integer or boolean labels of a CategoricalRBM; else
            float64 (a numeric model) or object (CategoricalRBM).
        """
        self._check_fitted_state()
        with columns_by_name(self):
            return self._imputed(X)

    def _imputed(self, X):
        """``transform``'s output (see there)."""
        X, missing = self._validated(X, reset=False)
        X_indicator = self._transform_indicator(missing)
        # Only the rows with a gap go to the model (complete rows come back
        # as they are): the posterior of a complete row is no question.
        rows = self._model_input(X, missing)
        try:
            self.estimator_._incomplete_input(rows)  # every row's observed entries checked
        except UnknownCategoryError as error:
            # The imputer's own model: its advice names its categories
            # parameter, which the imputer lacks (nor does it take a category
            # column's declared ones).  A model of the user's keeps its advice.
            if self.estimator is not None:
                raise
            raise error.with_advice(UNKNOWN_CATEGORY_ADVICE) from error
        gaps = np.flatnonzero(missing.any(axis=1))
        rows = rows[gaps]
        with stream_kept_on_error(self.random_state_):
            if self.sample_posterior:
                seed = self.random_state_.randint(np.iinfo(np.int32).max)
                completed = (self.estimator_.conditional_sample(rows, random_state=seed)
                             if len(gaps) else rows)
            else:
                completed = self._most_probable(rows) if len(gaps) else rows
            out = self._model_output(completed, X, missing, gaps)
        constants = getattr(self, "_constants", None)  # (None in a model saved before)
        if constants is not None:
            for column in np.flatnonzero(~np.isnan(constants)):
                out[missing[:, column], column] = constants[column]
        return self._concatenate_indicator(out, X_indicator)

    def _check_fitted_state(self):
        """Raise ValueError unless the imputer's own fitted attributes fit its model.

        The model checks its own arrays when used (``rbm._state``); here,
        what ``fit`` set around it: ``n_features_in_`` (the count that
        ``get_feature_names_out`` makes names for: a huge one from an edited
        file exhausted memory), the standardisation ``mean_`` and ``scale_``
        (arrays exactly for a GaussianBernoulliRBM: without them its imputed
        values would come back in standardised units, silently), the
        indicator's columns, the random state of the posterior draws and the
        seed of the marginals' chains.
        """
        check_is_fitted(self)
        model = getattr(self, "estimator_", None)
        if not (isinstance(model, BaseRBM) and hasattr(model, "n_features_in_")):
            raise ValueError(f"RBMImputer.estimator_ must be the fitted RBM, got "
                             f"{type(model).__name__}; refit the imputer.")
        n_features = getattr(self, "n_features_in_", None)
        if not (isinstance(n_features, Integral) and not isinstance(n_features, bool)
                and n_features == model.n_features_in_):
            raise ValueError(f"RBMImputer.n_features_in_ must be its model's "
                             f"n_features_in_ ({model.n_features_in_!r:.40}), got "
                             f"{n_features!r:.40}; refit the imputer.")
        self._check_standardisation(model, n_features)
        if self.add_indicator:
            indicator = getattr(self, "indicator_", None)
            features = getattr(indicator, "features_", None)
            if not (isinstance(indicator, MissingIndicator)
                    and getattr(indicator, "n_features_in_", None) == n_features
                    and isinstance(features, np.ndarray) and features.ndim == 1
                    and features.dtype.kind in "iu" and bool(np.all(features >= 0))
                    and bool(np.all(features < n_features))):
                raise ValueError("RBMImputer.indicator_ must be the MissingIndicator fit "
                                 f"made for add_indicator=True (features_ among the "
                                 f"{n_features} features); refit the imputer.")
        if not isinstance(getattr(self, "random_state_", None), np.random.RandomState):
            raise ValueError("RBMImputer.random_state_ must be a numpy RandomState; refit "
                             "the imputer.")
        seed = getattr(self, "marginal_seed_", None)  # (None: saved before it)
        if not (seed is None or isinstance(seed, tuple) and len(seed) == 4 and all(
                isinstance(w, Integral) and not isinstance(w, bool) and 0 <= w < 2 ** 32
                for w in seed)):
            raise ValueError(f"RBMImputer.marginal_seed_ must be a tuple of 4 integers in "
                             f"[0, 2**32) (the seed fit drew), got {seed!r:.60}; refit the "
                             "imputer.")

    def _check_standardisation(self, model, n_features):
        """Raise ValueError unless ``mean_``, ``scale_`` and ``_constants`` fit the
        model (see ``_check_fitted_state``), naming what is wrong.

        Arrays in the other byte order (an imputer saved on a big-endian
        machine) are first copied to native order (``kernel_ready``, as the
        model's own arrays are): the same float64 values.
        """
        for name in ("mean_", "scale_", "_constants"):
            value = getattr(self, name, None)  # (_constants: None in an imputer saved before)
            ready = kernel_ready(value, writeable=False)
            if ready is not value:
                setattr(self, name, ready)
        gaussian = isinstance(model, GaussianBernoulliRBM)
        for name in ("mean_", "scale_"):
            value = getattr(self, name, None)
            if not gaussian:
                problem = None if value is None else f"got {type(value).__name__}"
                needed = "None"
            else:
                problem = _float64_vector_problem(value, n_features, positive=name == "scale_")
                needed = (f"a finite float64 array of {n_features} entries"
                          + (", each positive" if name == "scale_" else ""))
            if problem is not None:
                raise ValueError(f"RBMImputer.{name} must be {needed} for its "
                                 f"{type(model).__name__}, {problem}; refit the imputer.")
        constants = getattr(self, "_constants", None)
        problem = None if constants is None else _float64_vector_problem(
            constants, n_features, finite=False)
        if problem is not None:
            raise ValueError(f"RBMImputer._constants must be None or a float64 array of "
                             f"{n_features} entries (the constant columns fit found), "
                             f"{problem}; refit the imputer.")

    def _most_probable(self, rows):
        """Rows with each missing entry at its posterior mode (discrete) or mean."""
        model = self.estimator_
        internal, observed = model._incomplete_input(rows)
        # (An imputer saved before marginal_seed_ seeds them as it did.)
        seed = getattr(self, "marginal_seed_", None)
        completed = model._complete_by_marginals(
            internal, observed, random_state=self.random_state if seed is None else Entropy(seed))
        return model._visible_unit.decode(completed)

    def get_feature_names_out(self, input_features=None):
        """Output feature names: the input features, then the indicator's.

        Parameters
        ----------
        input_features : array-like of str or None, default=None
            Input features; None uses ``feature_names_in_`` or x0, x1, ...

        Returns
        -------
        feature_names_out : ndarray of str objects
        """
        self._check_fitted_state()
        names = _check_feature_names_in(self, input_features)
        return self._concatenate_indicator_feature_names_out(names, names)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.string = True
        tags.input_tags.categorical = True
        return tags
