"""What every layer of units answers, and the arithmetic they share.

A *layer* is one side of an RBM: a set of units of one type.  Its
conditional distribution given the other side is a product over units of an
exponential family in the *field* the other side sets (for visible units the
total field ``b + h @ W``; for hidden units ``c + W s(v)``).  Every layer
answers the same verbs, so the estimator, the likelihood code and the kernel
never ask which type they hold:

==========================  ==================================================
``mean(field)``             E[x | field]
``sample(field, rng)``      a draw of x given the field (numpy Generator)
``log_partition(field)``    log of the sum (or integral) over x of
                            exp(x . field + own energy term), per row: the
                            cumulant generating function, so the free energy
                            of the other side is minus it
``kernel_kind``             the kernel's identifier of this type (its sampler)
``n_states(n)``             configurations of n units (discrete layers)
``enumerate_states(...)``   all of them, in chunks (exact log Z)
==========================  ==================================================

Visible layers add the data side (validation and encoding of input, the
statistic ``s(v)`` that couples to the hidden layer, initialisation from data
marginals, type-specific parameters and constraints) in ``VisibleLayer``.
"""

import math
import os
import sys

import numpy as np
import scipy.sparse as sp
import sklearn
from scipy.special import expit
from sklearn.utils.validation import validate_data

from .. import _gibbs


#: Folders whose frames a warning skips to point at the user's call: this
#: package and scikit-learn.
_INTERNAL_FOLDERS = (os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep,
                     os.path.dirname(os.path.abspath(sklearn.__file__)) + os.sep)


#: A real-valued unit whose piece's standardised mean, its linear coefficient
#: over sqrt(curvature), stays below minus this on every row is switched off:
#: its h | v is nearly exponential with a mean under 1/10 of its scale.  A
#: high learning rate drove every ReLU unit of a binarised-digits model to
#: fields near -27 (a categorical one's to -2e8), leaving the model of
#: independent features with absurd parameters; live units' fields reach
#: above -2 on some row.
IDLE_STANDARD_FIELD = 10.0

#: What to do about rows whose values overflow float64 in a model's sums: the
#: same advice from every estimator (free energies, class scores).
FAR_ROWS_ADVICE = ("they are too far from the data scale the model was fitted to. If the data "
                   "are in other units than the training data, rescale or standardise them the "
                   "same way (for example with the StandardScaler fitted on the training data).")


def user_stacklevel():
    """``stacklevel`` for a warning that names the user's line, not ours.

    Counts the frames above the caller of ``warnings.warn`` that lie in
    this package or in scikit-learn (``fit``'s wrappers), which differ
    between ``fit`` and ``partial_fit``.
    """
    level, frame = 1, sys._getframe(1)
    while frame is not None and frame.f_code.co_filename.startswith(_INTERNAL_FOLDERS):
        level, frame = level + 1, frame.f_back
    return level


def all_finite(values):
    """Whether an array has no NaN or inf, without an array-sized temporary.

    Its minimum and maximum are finite exactly when every value is: NaN
    propagates through both reductions and an infinity is one of them.
    (``np.isfinite`` would allocate a boolean copy of a full-size input, and
    both reductions together are faster than one pairwise ``sum``.)
    """
    return finite_range(values) is not None


def finite_range(values):
    """(minimum, maximum) of a non-empty array as floats, or None where it
    holds a NaN or inf (``all_finite``): one pass of each reduction for
    callers that check both finiteness and range."""
    low, high = float(values.min()), float(values.max())
    return (low, high) if math.isfinite(low) and math.isfinite(high) else None


def softplus(x):
    """log(1 + exp(x)) in float64, without overflow (compiled; within a few ulp).

    Several times faster than ``np.logaddexp(0, x)``; free energies and
    exact log-partition functions spend most of their elementwise time here.
    """
    x = np.asarray(x, dtype=np.float64)
    return _gibbs.softplus(np.ascontiguousarray(x.reshape(-1))).reshape(x.shape)


def sigmoid(x):
    """1 / (1 + exp(-x)) as a new array, by the kernel's vectorised sigmoid.

    Float32 and float64 input keep their dtype and agree with
    ``scipy.special.expit`` (several times slower: it made up a third of the
    per-epoch monitoring of small models) to a few ulp, except that below
    about -708 (float64) or -88 (float32) the result stays at about
    1.2e-308 (float64) or 6.1e-39 (float32) where expit goes on down to 0.
    Other dtypes go to expit.  A 0-d input gives a NumPy scalar, as expit.
    """
    x = np.asarray(x)
    if x.dtype not in (np.float32, np.float64) or x.size == 0:
        return expit(x)
    out = np.array(x, order="C")
    rows = out.reshape(-1, out.shape[-1]) if out.ndim > 1 else out.reshape(1, -1)
    _gibbs.sigmoid(rows, np.zeros(rows.shape[1], dtype=out.dtype))
    return out[()] if out.ndim == 0 else out


def enumerate_binary(n_units, chunk_size, dtype):
    """Yield every binary vector of length n_units, as chunks of rows.

    Row ``r`` of the full (virtual) table is the binary expansion of ``r``,
    least significant bit in column 0.
    """
    total = 2 ** n_units
    bits = np.arange(n_units, dtype=np.int64)
    for start in range(0, total, chunk_size):
        index = np.arange(start, min(start + chunk_size, total), dtype=np.int64)
        yield ((index[:, None] >> bits) & 1).astype(dtype)


def check_array_attribute(owner, name, array, shape, dtype=None, finite=True):
    """Raise ValueError unless ``array`` is an ndarray of ``shape`` (None: any
    length on that axis) and dtype (unless None), finite unless ``finite=False``.

    The compiled kernel reads fitted arrays by their shapes, so an array of
    the wrong size (from a model file or an assignment) must be stopped
    here, with its name, before any compiled code sees it.
    """
    where = f"{type(owner).__name__}.{name}"
    if not isinstance(array, np.ndarray):
        raise ValueError(f"{where} must be a numpy array, got {type(array).__name__}; "
                         "refit the model or assign an array.")
    if isinstance(array, (np.ma.MaskedArray, np.matrix)):
        # Their arithmetic is not ndarray's: a masked one broke the products
        # ("operands could not be broadcast"), a matrix the solves.
        raise ValueError(f"{where} must be a plain numpy array, got a "
                         f"{type(array).__name__}; assign np.asarray(...) of it.")
    shape = tuple(shape)
    if array.shape != shape and (array.ndim != len(shape) or any(
            n is not None and n != m for n, m in zip(shape, array.shape))):
        needed = "(" + ", ".join("any" if n is None else str(n) for n in shape) + \
            ("," if len(shape) == 1 else "") + ")"
        raise ValueError(f"{where} has shape {array.shape}, but this model needs "
                         f"{needed}; refit the model or assign an array of that shape.")
    if dtype is not None and array.dtype != dtype:
        raise ValueError(f"{where} has dtype {array.dtype}, {dtype_mismatch(owner, array, dtype)}")
    if finite and array.dtype.kind == "f" and array.size and not all_finite(array):
        raise ValueError(f"{where} contains NaN or inf; refit the model or assign "
                         "finite values.")


def dtype_mismatch(owner, array, dtype):
    """The rest of the message for an ``array`` of ``owner`` that should have
    ``dtype``: what is needed there, and how to get it.

    A dtype that differs in byte order only (``>f8`` for float64, as a
    big-endian machine writes them) is said so: "``>f8``, but ... float64"
    read as a contradiction.
    """
    dtype = np.dtype(dtype)
    if array.dtype.newbyteorder("=") == dtype:
        order = "big" if array.dtype.byteorder == ">" else "little"
        return (f"{dtype} in the other byte order ({order}-endian), which this machine's "
                f"kernel cannot read; assign np.asarray(value, dtype=np.{dtype}) of it.")
    parameters = getattr(getattr(owner, "components_", None), "dtype", None)
    needed = (f"this model's parameters (components_) are {dtype}" if parameters == dtype
              else f"this model needs {dtype} there")
    return f"but {needed}; assign an array of that dtype."


def refuse_masked(estimator, X):
    """Raise ValueError for masked entries: validation would drop the mask."""
    if np.ma.isMaskedArray(X) and np.ma.getmaskarray(X).any():
        raise ValueError(
            f"{type(estimator).__name__} got a masked array with "
            f"{int(np.ma.getmaskarray(X).sum())} masked entries; the mask would be "
            "ignored. Fill them (X.filled(value)) or impute them first.")


def refuse_temporal(estimator, X):
    """Raise ValueError for dates or times, which numeric conversion would turn
    into meaningless counts of nanoseconds."""
    name = type(estimator).__name__
    # A DataFrame's column dtypes (pandas' own dtypes have a kind too), or the
    # one dtype of an array or a Series (whose .dtypes is that dtype, not a list).
    dtypes = getattr(X, "dtypes", None)
    # (Iterable's own test, without isinstance: an abstract class's first
    # check of a type, NumPy's dtype here, walks its whole tree of
    # subclasses, 0.4 ms of a small fit in a fresh process.)
    if getattr(type(dtypes), "__iter__", None) is None:
        dtypes = [getattr(X, "dtype", None)]
    if any(getattr(dtype, "kind", "") in ("m", "M") for dtype in dtypes):
        raise ValueError(
            f"{name} got dates or times (datetime64 / timedelta64), which are not "
            "measurements it can model; turn them into numeric features first (for "
            "example days since a reference date).")


def refuse_malformed_sparse(estimator, X):
    """ValueError for a sparse matrix whose index arrays point outside it.

    SciPy's conversions and sums trust the index arrays: a column index out
    of range (or negative) in a hand-built CSR matrix makes them write out
    of bounds before any later check could run.  One pass over the indices.
    """
    if not sp.issparse(X):
        return
    try:
        if X.format in ("csr", "csc", "bsr"):
            X.check_format(full_check=True)
        elif X.format == "coo":
            for name, index, size in (("row", X.coords[0], X.shape[0]),
                                      ("column", X.coords[-1], X.shape[-1])):
                if index.size and (index.min() < 0 or index.max() >= size):
                    raise ValueError(f"{name} indices must lie in [0, {size})")
    except ValueError as error:
        raise ValueError(
            f"{type(estimator).__name__} got a malformed {X.format.upper()} matrix of shape "
            f"{X.shape}: {error}. Its index arrays were probably edited by hand; rebuild it "
            "with scipy.sparse (for example csr_matrix((data, (rows, cols)), shape=...))."
        ) from None


def pandas_na_as_nan(X):
    """X with pandas' NA in object columns (of an array or a DataFrame) as NaN,
    which float conversion takes (NA it refuses with a TypeError); X itself
    where it has no object column."""
    pd = sys.modules.get("pandas")
    if pd is None:
        return X  # no NA without pandas

    def as_nan(column):
        return np.frompyfunc(lambda v: np.nan if v is pd.NA else v, 1, 1)(column)

    if isinstance(X, pd.DataFrame):
        objects = [name for name, kind in X.dtypes.items() if kind == object]
        if objects:
            X = X.copy()
            for name in objects:
                X[name] = as_nan(X[name].to_numpy()).astype(object)
        return X
    if isinstance(X, np.ndarray) and X.dtype == object:
        return as_nan(X).astype(object)
    return X


def is_plain_float_matrix(estimator, X, dtype):
    """Whether scikit-learn's ``validate_data`` would return X as it is and
    only count its features: a non-empty 2-D ``numpy.ndarray`` (no subclass)
    of a dtype that ``dtype`` (one dtype or a list, as ``check_array`` reads
    it) accepts, given to a model fitted without feature names.

    scikit-learn asks narwhals whether any input is a data frame, and
    narwhals' first answer in a process reads the entry points of every
    installed package (2-3 ms here, more in a larger environment): a fixed
    cost of the first fit, transform or score in a fresh process (issue 20),
    which this case skips.  Every other input goes through scikit-learn.
    """
    if type(X) is not np.ndarray or X.ndim != 2 or X.size == 0:
        return False
    if hasattr(estimator, "feature_names_in_"):
        return False  # scikit-learn warns that an array has no feature names
    accepted = dtype if isinstance(dtype, (list, tuple)) else [dtype]
    return any(X.dtype == np.dtype(kind) for kind in accepted)


def check_feature_count(estimator, n_features, *, reset):
    """Set ``n_features_in_`` (``reset``) or check n_features against it,
    with scikit-learn's message (its ``validate_data`` does the same)."""
    if reset:
        estimator.n_features_in_ = n_features
        return
    expected = getattr(estimator, "n_features_in_", None)
    if expected is not None and n_features != expected:
        raise ValueError(
            f"X has {n_features} features, but {type(estimator).__name__} "
            f"is expecting {expected} features as input.")


def counted(count, noun):
    """"1 row", "3 rows": a count and its noun, for messages."""
    return f"{count} {noun}{'' if count == 1 else 's'}"


def validate_real_input(estimator, X, *, reset, dtype):
    """Validated float32/float64 dense array or canonical CSR matrix (any values).

    Shared by the numeric visible types, which then check their own domain.
    pandas' NA in object columns becomes NaN (a missing entry).
    """
    refuse_masked(estimator, X)
    refuse_temporal(estimator, X)
    refuse_malformed_sparse(estimator, X)
    X = pandas_na_as_nan(X)
    if getattr(X, "ndim", None) == 2 and X.shape[1] == 0:
        # scikit-learn's own check fails on a DataFrame without columns
        # with "at least one array or dtype is required"; say what it is.
        raise ValueError(
            f"Found array with 0 feature(s) (shape={X.shape}) while a minimum of "
            f"1 is required by {type(estimator).__name__}."
        )
    if is_plain_float_matrix(estimator, X, dtype):
        check_feature_count(estimator, X.shape[1], reset=reset)
        return X
    X = validate_data(estimator, X, accept_sparse="csr", dtype=dtype,
                      ensure_all_finite=False, reset=reset)
    if sp.issparse(X) and not X.has_canonical_format:
        # Duplicate entries mean their sum; make that explicit before the
        # domain check and the kernel, which read entries one by one.
        X = X.copy()
        X.sum_duplicates()
    return X


#: The end of a non-finite-input error where the input has NaN: the models
#: that take gaps.  (An inf is no gap: no model takes it.)
GAPS_ADVICE = (" Or let the model handle the gaps: missing='impute' trains on such rows, "
               "rbm.RBMImputer fills them, conditional_sample draws them.")


def gaps_advice(estimator):
    """The end of a message refusing missing entries: ``GAPS_ADVICE`` for a
    model that can take them (``missing='impute'``), else how to fill them
    before it (``RBMClassifier`` has neither the option nor
    ``conditional_sample``, which the advice used to name)."""
    if getattr(estimator, "missing", None) == "impute":
        # (The option is set: name what takes gaps, not the option. Each
        # method named takes them in every input form, sparse too, so the
        # method refusing them is never among those named.)
        return (" This model has missing='impute': fit, partial_fit, transform, "
                "score_samples, score, conditional_marginals and conditional_sample take "
                "rows with gaps, and rbm.RBMImputer fills them; this method needs complete "
                "rows.")
    if hasattr(estimator, "missing"):
        return GAPS_ADVICE
    return (f" {type(estimator).__name__} cannot take gaps itself; rbm.RBMImputer in a "
            "Pipeline before it fills them from a model of the inputs.")


#: ``masked_column_moments`` reads rows in float64 blocks of about this many bytes.
MOMENT_BLOCK_BYTES = 4 * 2**20


def masked_column_moments(X, mask, sample_weight=None):
    """(mean, standard deviation, observed entries of positive weight) per
    column of the entries of dense X where ``mask`` is True, the rows
    weighted by ``sample_weight``.

    Two passes over blocks of rows in float64 (the mean, then the mean
    squared deviation from it), so that no temporary has the input's size:
    the fills and the later-rows check of training on rows with gaps took
    four copies of it.  A column observed nowhere gets mean and spread 0.
    The weights, where given, must be scaled already (``scaled_to_unit``).
    """
    n_rows, n_columns = X.shape
    step = max(1, MOMENT_BLOCK_BYTES // (8 * max(n_columns, 1)))
    blocks = [slice(start, start + step) for start in range(0, n_rows, step)]

    def weighted(block):
        weights = mask[block].astype(np.float64)
        if sample_weight is not None:
            weights *= sample_weight[block, None]
        return weights

    totals, sums = np.zeros(n_columns), np.zeros(n_columns)
    counts = np.zeros(n_columns, dtype=np.intp)
    for block in blocks:
        weights = weighted(block)
        totals += weights.sum(axis=0)
        counts += (weights > 0).sum(axis=0)
        sums += (weights * np.where(mask[block], X[block], 0.0)).sum(axis=0)
    seen = totals > 0
    mean = np.divide(sums, totals, out=np.zeros(n_columns), where=seen)
    squares = np.zeros(n_columns)
    for block in blocks:
        deviations = np.where(mask[block], X[block] - mean, 0.0)
        squares += (weighted(block) * deviations * deviations).sum(axis=0)
    std = np.sqrt(np.divide(squares, totals, out=np.zeros(n_columns), where=seen))
    return mean, std, counts


def count_non_finite(values):
    """(number of NaN, number of inf) in an array."""
    return int(np.isnan(values).sum()), int(np.isinf(values).sum())


class Layer:
    """Base of every unit type: the verbs listed in this module's docstring."""

    #: Identifier of this type inside the compiled kernel.
    kernel_kind = None
    #: Whether the states can be enumerated (for exact log Z).
    discrete = False

    def mean(self, field):
        """E[x | field] for each row of the field."""
        raise NotImplementedError

    def sample(self, field, rng):
        """Draw x given the field, with a numpy Generator."""
        raise NotImplementedError

    def n_states(self, n_units):
        """Number of configurations of ``n_units`` units, as a Python int."""
        raise NotImplementedError

    def enumerate_states(self, n_units, chunk_size, dtype):
        """Yield every configuration in chunks of at most chunk_size rows."""
        raise NotImplementedError


class VisibleLayer(Layer):
    """A visible unit type: a ``Layer`` that also meets the data.

    Built once per fit (``for_estimator``, then ``validate(..., reset=True)``
    and ``fit`` on the training data) and stored with the estimator.
    Subclasses override what differs; the defaults here are those of a type
    with no parameters of its own whose input is used as it is.
    """

    #: The rate of ``learning_rate="auto"`` with binary hidden units (hidden
    #: types divide it by their ``learning_rate_divisor``).
    auto_learning_rate = 0.06

    @classmethod
    def for_estimator(cls, estimator):
        """A new, unfitted layer for the estimator's hyperparameters."""
        return cls()

    def validate(self, estimator, X, *, reset, dtype):
        """X in the model's internal form: a float array or CSR matrix of
        ``dtype``, every value in this type's domain (``check_domain``)."""
        X = validate_real_input(estimator, X, reset=reset, dtype=dtype)
        self.check_domain(X, estimator)
        return X

    def check_domain(self, X, estimator):
        """Raise ValueError (naming ``estimator``) unless every value of X is one
        this type can take."""
        raise NotImplementedError

    def check_later_training_rows(self, estimator, X, sample_weight=None, observed=None):
        """Warn about validated rows X (of positive ``sample_weight``, where
        given; their entries where the mask ``observed`` is True, where given:
        the others are placeholders) that a fitted model is about to train on
        (``partial_fit``, a warm-started ``fit``), where this type has
        something to say: nothing by default (see ``GaussianVisible``)."""

    def n_columns(self, n_features):
        """Width of the internal rows for ``n_features`` input features."""
        return n_features

    def fit(self, X, sample_weight=None, estimator=None):
        """Learn this type's own parameters from the training data, its rows
        weighted by ``sample_weight`` where given, for ``estimator`` (its
        warnings name it; none here)."""

    def check_fitted(self, estimator, n_columns, dtype):
        """Raise ValueError if this type's fitted parameters do not fit the model."""

    def follow_hyperparameters(self, estimator):
        """Take the estimator's current training hyperparameters that this type
        holds, before training continues (``partial_fit``, a warm start), so
        that ``set_params`` between calls takes effect (none here)."""

    def learned_arrays(self):
        """Arrays of this type that training changes in place (none here)."""
        return ()

    def constrain(self, W):
        """W after this type's constraint (the categorical gauge; none here)."""
        return W

    def initial_weight_scale(self):
        """Factor on the 0.01 standard normal initial weights, a scalar or one
        per visible unit (after ``fit``): 1 for states of unit scale."""
        return 1.0

    def decode(self, V):
        """Visible states as the user sees them (the internal form here)."""
        return V

    def hidden_input(self, V):
        """s(v), the statistic that couples to the hidden layer: v itself here."""
        return V

    def energy_term(self, V, b):
        """-E_v(v): b . s(v) for each row of V (types with other terms override)."""
        return np.asarray(V @ b).ravel()

    def to_kernel(self, V):
        """Visible states as the kernel's rows of s(v) (a new C-ordered array)."""
        return np.array(V.toarray() if sp.issparse(V) else V, order="C")

    def from_kernel(self, S):
        """Visible states from the kernel's rows of s(v)."""
        return S

    def kernel_view(self, dtype):
        """This type as the kernel reads it: kind, parameter block, offsets."""
        return KernelVisible(self.kernel_kind)

    # The tempering ladder (``rbm._tempering``): the geometric path from the
    # independent model of the data marginals (beta = 0) to the model
    # (beta = 1), p_beta(v, h) ~ p_base(v)**(1 - beta) * p(v, h)**beta, the
    # hidden units' own terms kept at every temperature.

    def ladder_base(self):
        """The visible layer of the ladder's independent model (with the bias
        ``initial_bias(data mean)``): this layer, for types whose only own
        parameter is the bias."""
        return self

    def tempered(self, beta, bias, base, base_bias):
        """(layer, bias, ratio) of the ladder's model at inverse temperature
        ``beta``: the visible layer and bias whose natural parameters are
        ``beta`` times this layer's with ``bias`` plus ``1 - beta`` times the
        ``base`` layer's with ``base_bias``, and ``ratio``, per column, the
        model's s(v) over that layer's (the kernel's rows at that temperature
        are the model's divided by it, and its weights ``beta`` W times it),
        or None where the two are the same.  Here only the bias moves."""
        return self, beta * bias + (1.0 - beta) * base_bias, None

    def tempering_gap_terms(self, bias, base, base_bias):
        """(linear, quadratic): E_base(v) - E_v(v), the visible layer's part of
        the energy gap that the ladder's swaps weigh, is v . linear
        + v**2 . quadratic plus a constant (quadratic None: no such term).
        Here (b - b_base, None)."""
        return np.asarray(bias, dtype=np.float64) - base_bias, None

    def independent_log_likelihood(self, V, bias):
        """log p(v) of each row of V under the independent model of this type
        with visible biases ``bias`` (no weights): exact and cheap.

        With ``bias = initial_bias(data mean)`` this is the model training
        starts from, the yardstick of the finite-divergence check.
        """
        V = V.toarray() if sp.issparse(V) else np.asarray(V)
        V, bias = V.astype(np.float64, copy=False), np.asarray(bias, dtype=np.float64)
        no_field = np.zeros((1, bias.shape[0]))
        return self.energy_term(V, bias) - self.log_partition_given_hidden(no_field, bias)[0]

    def data_scale_message(self, estimator, data_mean, energy_limit):
        """Why this data's scale makes training fail (parameters fitting it reach
        ``energy_limit``), or None where it does not.

        Bounded types (binary, categorical) have no scale to get wrong.
        """
        return None

    # ------------------------------------------------------------------
    # Conditional use: rows with missing entries (rbm._conditional)
    # ------------------------------------------------------------------

    def validate_incomplete(self, estimator, X, *, reset, dtype):
        """(rows, observed) for input whose missing entries are NaN (or pandas' NA).

        ``rows`` is X in the internal form as a dense array, each missing
        entry replaced by a placeholder in the domain (0 here), and
        ``observed`` a boolean (n_samples, n_features) mask of the given
        entries.  The observed entries are checked as ``validate`` checks
        every entry, and only they: a refusal reports the extremes of the
        input, which the placeholders are not (a row of 0.7 and 1.5 read
        "minimum 0.0").
        """
        X = validate_real_input(estimator, X, reset=reset, dtype=dtype)
        X = np.array(X.toarray() if sp.issparse(X) else X, order="C")
        missing = np.isnan(X)
        self.check_domain(X[~missing] if missing.any() else X, estimator)
        X[missing] = 0.0
        return X, ~missing

    def kernel_mask(self, observed):
        """The (n_samples, n_features) feature mask spread over the internal columns."""
        return observed

    def restricted(self, columns):
        """This type over the internal ``columns`` only (whole features): the
        missing units of a row, as a layer of their own for AIS."""
        return type(self)()

    def fill_missing(self, rows, known, rng, marginals_of=None):
        """``rows`` (internal form, in place) with the entries where ``known`` (a
        mask over the internal columns) is False drawn from the independent
        model of the known entries' marginals: the start of training on
        incomplete rows.  The marginals are those of ``marginals_of``, (rows,
        their mask), where given: all the training rows, the complete ones
        too, whose entries the rows with gaps alone would miss."""
        mean, _, _ = masked_column_moments(*((rows, known) if marginals_of is None
                                             else marginals_of))
        field = np.broadcast_to(self.initial_bias(mean), rows.shape).astype(rows.dtype)
        rows[~known] = self.sample(field, rng)[~known]
        return rows

    def feature_log_partitions(self, A, b):
        """Per feature, log sum_v exp(-E_v(v) + s(v) . a): the terms of
        ``log_partition_given_hidden``, shape (rows, n_features)."""
        raise NotImplementedError

    def feature_energy_terms(self, V, b):
        """Per feature, -E_v(v) + 0 for rows V of the internal form: the terms of
        ``energy_term``, shape (rows, n_features)."""
        raise NotImplementedError

    def posterior_marginals(self, first, second, rows, observed):
        """The public form of conditional marginals from the internal-column
        averages over hidden states of E[v | h] (``first``) and of its square
        (``second``); observed entries are exact (their value)."""
        return np.where(observed, rows, first)

    def posterior_point(self, first):
        """Internal rows of the point estimate (mode or mean) from ``first``."""
        raise NotImplementedError

    def runaway_description(self, W, b, data_mean):
        """What ran away, for parameters that are finite but already runaway for
        this type, or None (the cause and the remedy are added by the caller)."""
        return None

    def runaway_states(self, S, data_mean):
        """What ran away, for chain states (kernel rows s(v)) far beyond the
        data's scale, or None: bounded states (discrete types) never do."""
        return None

    def coupling_precision(self):
        """Per visible unit, d in the coupling matrix K = W diag(d) W.T that
        integrating out unbounded visible states leaves among the hidden
        units (float64), or None where the states are bounded (discrete
        types: no hidden state can outgrow them)."""
        return None


class KernelVisible:
    """The kernel's view of a visible type (see ``rbm._gibbs``'s contract).

    Parameters
    ----------
    kind : int
        ``_gibbs.VISIBLE_*``: selects the compiled sampler.
    state : ndarray of shape (4, n_visible) or None
        Gaussian: rows sigma, its velocity, its lower and upper bound.
    groups : ndarray of shape (n_features + 1,) or None
        Categorical: column offsets of the features' blocks.
    learn_sigma : bool
        Gaussian: whether training steps ``log sigma``.
    """

    __slots__ = ("kind", "state", "groups", "learn_sigma")

    def __init__(self, kind, state=None, groups=None, learn_sigma=False):
        self.kind = kind
        self.state = state
        self.groups = groups
        self.learn_sigma = learn_sigma



class HiddenLayer(Layer):
    """A hidden unit type: a ``Layer`` whose units are independent given v.

    Each unit j has a potential U_j(h) (none for binary units) and the
    field ``x = c + W s(v)``; p(h_j | v) is proportional to
    exp(-U_j(h) + x_j h).  Subclasses give ``unit_log_partition`` (the
    cumulant generating function of one unit, elementwise) and the moments;
    the defaults here are those of a type without parameters of its own.
    Continuous types cannot be enumerated (``n_states`` is infinite), so
    exact log Z enumerates the visible layer and integrates h in closed form.
    """

    #: The ``hidden`` option that selects this type.
    name = None
    #: ``learning_rate="auto"`` is the visible type's ``auto_learning_rate``
    #: divided by this: how much smaller a step these units train stably at
    #: than binary ones (1: binary units, the visible rate bit for bit).
    learning_rate_divisor = 1
    #: ``weight_decay="auto"`` is ``AUTO_WEIGHT_DECAY`` times this (1: binary
    #: units, 5e-4 bit for bit).
    weight_decay_multiplier = 1
    #: Whether the units' scale is a parameter of the type: rescaling a unit
    #: (h -> a h) can then be absorbed into its own parameters with W and c
    #: divided by a, leaving p(v) exactly as it was.  ``normalize_hidden``
    #: needs it; binary, unit-variance Gaussian and ReLU units have a fixed
    #: potential and no such freedom.
    scalable = False

    @classmethod
    def for_estimator(cls, estimator, dtype):
        """A layer of this type with fresh parameters for the estimator's
        ``n_components`` units, in ``dtype``."""
        cls.check_normalizable(estimator)
        layer = cls()
        layer.initialize(estimator.n_components, dtype)
        return layer

    @classmethod
    def check_normalizable(cls, estimator):
        """Raise ValueError where the estimator asks for ``normalize_hidden``
        and this type has no scale to normalise."""
        if getattr(estimator, "normalize_hidden", False) and not cls.scalable:
            scalable = sorted(name for name, layer in _hidden_types().items()
                              if layer.scalable)
            raise ValueError(
                f"{type(estimator).__name__}(normalize_hidden=True) rescales each hidden "
                "unit and compensates in the unit's own curvature, which only hidden "
                f"types with a learned scale have ({', '.join(map(repr, scalable))}); "
                f"hidden={cls.name!r} units have a fixed potential. Set "
                "normalize_hidden=False, or use hidden='drelu'.")

    def normalizing_scale(self, field, weights=None):
        """Per unit, the factor a > 0 that gives a h unit variance over the rows
        of ``field`` (their c + W s(v)), rows weighted by ``weights``.

        Only for ``scalable`` types (see ``check_normalizable``).
        """
        raise NotImplementedError(f"{type(self).__name__} units have no scale to normalise")

    def rescale(self, scale):
        """This type's own parameters (and their velocities), in place, for the
        units h' = scale * h: with W and c divided by ``scale`` (the caller's
        part, ``rbm._training.rescale_hidden_units``) p(v) is unchanged."""
        raise NotImplementedError(f"{type(self).__name__} units have no scale to rescale")

    def initialize(self, n_hidden, dtype):
        """Fresh parameters of this type for n_hidden units (none here)."""

    def unit_log_partition(self, field):
        """log of the sum (integral) over h of exp(-U(h) + x h), per unit, float64."""
        raise NotImplementedError

    def log_partition(self, field):
        """log sum_h exp(-U(h) + h . field) per row, in float64: the hidden part of -F(v)."""
        return self.unit_log_partition(field).sum(axis=1, dtype=np.float64)

    def base_log_partition(self, n_hidden):
        """log Z of the n_hidden units alone, field 0 (AIS's base model: no coupling)."""
        return float(self.unit_log_partition(np.zeros((1, n_hidden))).sum())

    def variance(self, field):
        """Var[h | v] for each row of the field."""
        raise NotImplementedError

    def idle_units(self, field):
        """Per unit, whether it is switched off on every row of ``field`` (their
        c + W s(v), float64): h | v then sits at one value whatever v, so the
        unit couples nothing (``rbm._training.warn_if_hidden_idle``).

        All False here: a unit-variance Gaussian's mean follows its field
        linearly on every row, so it cannot be switched off.
        """
        return np.zeros(np.shape(field)[-1], dtype=bool)

    def n_states(self, n_hidden):
        """Configurations of n_hidden units: infinite for real-valued units."""
        return float("inf")

    def learned_arrays(self):
        """Arrays of this type that training changes in place (none here)."""
        return ()

    def potential_curvatures(self, n_hidden):
        """(gamma+, gamma-): per unit, the curvature of U(h) = gamma h**2 / 2
        for h > 0 and for h < 0 (float64; gamma- None where h >= 0 only), or
        None where the states are bounded.

        Unbounded units with a coupling to unbounded visible units can make
        the model improper (``rbm._properness``): with Gaussian visible
        units, their states' marginal grows like exp(h.K h / 2) along h
        against exp(-sum_j gamma_j h_j**2 / 2).
        """
        return None

    def check_fitted(self, estimator, n_hidden, dtype):
        """Raise ValueError if this type's fitted parameters do not fit the model."""

    def kernel_view(self, dtype=None):
        """This type as the kernel reads it (``dtype``: its parameters converted,
        for float64 AIS; None: the layer's own arrays, which training updates)."""
        return KernelHidden(self.kernel_kind)


def _hidden_types():
    """The ``hidden`` option's types (imported late: they import this module)."""
    from . import HIDDEN_TYPES
    return HIDDEN_TYPES


class KernelHidden:
    """The kernel's view of a hidden type.

    Parameters
    ----------
    kind : int
        ``_gibbs.HIDDEN_*``: selects the compiled sampler.
    state : ndarray of shape (8, n_hidden) or None
        dReLU: rows gamma+, gamma-, theta+, theta- and their velocities.
    """

    __slots__ = ("kind", "state")

    def __init__(self, kind, state=None):
        self.kind = kind
        self.state = state
