"""Gaussian visible units with learned standard deviations."""

import math
import warnings
from numbers import Real

import numpy as np
import scipy.sparse as sp
from sklearn.exceptions import ConvergenceWarning

from .. import _gibbs
from ._layer import (KernelVisible, VisibleLayer, all_finite, check_array_attribute,
                     count_non_finite, gaps_advice, masked_column_moments, user_stacklevel)
from .categorical import column_label
from .._weights import scaled_to_unit

#: Default of ``sigma_floor``: sigma never falls below this fraction of the
#: feature's standard deviation (chosen by measurement: see the estimator's
#: ``_parameter_docs``).
SIGMA_FLOOR_FRACTION = 0.2
#: A learned sigma within this factor of its floor counts as "at the floor".
AT_FLOOR_FACTOR = 1.01
#: Input counts as far from standardised when a feature's standard deviation
#: lies outside [1 / OFF_SCALE_FACTOR, OFF_SCALE_FACTOR], or its mean is more
#: than OFF_SCALE_FACTOR from zero (measured: see ``warn_if_far_from_standardised``).
OFF_SCALE_FACTOR = 10.0
#: The data statistics read the input in blocks of rows of about this many
#: bytes (in float64), so that fitting needs no temporary of the input's size.
STATISTICS_BLOCK_BYTES = 4 * 2**20
#: Training stops when a weight or visible bias (both in data units) exceeds
#: this many times the data's scale.
RUNAWAY_FACTOR = 1e3
#: AIS's chains that end beyond this many times the data's scale ran away:
#: the model is improper, or so nearly that no estimate of its log Z holds.
RUNAWAY_STATES_FACTOR = 100.0


def float64_row_blocks(X, block_bytes=STATISTICS_BLOCK_BYTES):
    """Yield X (dense or CSR) as dense float64 blocks of consecutive rows.

    Each block holds at most ``block_bytes`` (at least one row), so that a
    statistic of the whole input needs memory of one block, not of the input.
    Dense and CSR input give the same blocks, so that statistics computed
    from them agree to the last bit.
    """
    n_rows, n_columns = X.shape
    rows = max(1, block_bytes // (8 * max(n_columns, 1)))
    for start in range(0, n_rows, rows):
        block = X[start : start + rows]
        if sp.issparse(block):
            yield block.astype(np.float64).toarray()
        else:
            yield np.asarray(block, dtype=np.float64)


def column_mean_and_std(X, sample_weight=None):
    """Per-column mean and (population) standard deviation of X, in float64,
    of its rows weighted by ``sample_weight`` where given.

    Two passes over blocks of rows (``float64_row_blocks``): the mean, then
    the mean squared deviation from it.  Unlike E[x**2] - mean**2, this does
    not lose the spread of data whose mean is far larger than its standard
    deviation; and no temporary has the input's size.  The weights are
    scaled by a power of two first (``scaled_to_unit``): the same bits, and
    no overflow for legal weights near the float64 limit.
    """
    if sample_weight is not None:
        sample_weight = scaled_to_unit(np.asarray(sample_weight, dtype=np.float64))
    n = X.shape[0] if sample_weight is None else float(np.sum(sample_weight))
    total = np.zeros(X.shape[1])
    start = 0
    for block in float64_row_blocks(X):
        total += _block_sum(block, sample_weight, start)
        start += block.shape[0]
    mean = total / n
    squares = np.zeros(X.shape[1])
    deviation = None  # one buffer for every block's deviations
    start = 0
    for block in float64_row_blocks(X):
        if deviation is None:
            deviation = np.empty_like(block)
        rows = deviation[: block.shape[0]]
        np.subtract(block, mean, out=rows)
        np.square(rows, out=rows)
        squares += _block_sum(rows, sample_weight, start)
        start += block.shape[0]
    return mean, np.sqrt(squares / n)


def _block_sum(block, sample_weight, start):
    """The column sums of a block of rows starting at row ``start``, weighted
    by those rows' ``sample_weight`` where given."""
    if sample_weight is None:
        return block.sum(axis=0)
    return np.einsum("i,ij->j", sample_weight[start : start + block.shape[0]], block)


def spread_of_constant_features(mean, std):
    """std with each constant feature's 0 replaced by the data's scale.

    A constant feature (or any feature of a single row) has no spread to
    learn from.  It gets the largest spread of the other features (for
    standardised data, 1), or the largest |mean| when every feature is
    constant, or 1 when that is 0 too.  Not a small fraction of it: sigma
    never rises above this starting value, and a held-out value away from
    the constant would otherwise score thousands of nats below its
    neighbours (a constant standardised 0/1 column of three training rows
    scored -248,000 nats per held-out row with 1e-3 of the scale).
    """
    spread = std > 0
    if spread.all():
        return std
    if spread.any():
        scale = float(std.max())
    else:
        scale = float(np.abs(mean).max(initial=0.0)) or 1.0
    return np.where(spread, std, scale)


def smallest_sigma(dtype):
    """The smallest sigma whose square is a normal number of ``dtype``:
    1.5e-154 in float64, 1.1e-19 in float32."""
    return float(np.sqrt(np.finfo(dtype).tiny))


def refuse_subnormal_variance(std, dtype=np.float64):
    """Raise ValueError when some feature's spread (after
    ``spread_of_constant_features``) is below ``smallest_sigma(dtype)``, its
    square below the smallest normal number of the model's ``dtype``.

    The model divides by sigma**2: data of spread 1e-310 made it non-finite
    at once (a DivergenceError blaming the learning rate), and spreads below
    1.5e-154 broke the Gaussian-hidden start (numpy's LinAlgError) or gave
    NaN log densities; a float32 model of data of spread 1e-30 gave NaN
    features and samples of exact zeros.
    """
    tiny = smallest_sigma(dtype)
    small = np.flatnonzero(std < tiny)
    if not len(small):
        return
    i = small[0]
    name = np.dtype(dtype).name
    raise ValueError(
        f"{len(small)} of {len(std)} features have a standard deviation below "
        f"{tiny:.3g} (the first, column {i}: {std[i]:.3g}), whose square, the variance "
        f"a Gaussian model divides by, is not a normal {name}. Standardise the data "
        "first, for example with sklearn.preprocessing.StandardScaler"
        + (", or fit in float64 (dtype=np.float64)" if name == "float32" else "") + ".")


def observed_mean_and_std(X, observed, sample_weight=None):
    """(mean, standard deviation, fewest observations) per column of the
    entries of X where ``observed``, the rows weighted by ``sample_weight``
    (``masked_column_moments``); a column observed nowhere gets mean 0 and
    spread 0 (it counts for nothing in ``off_scale_features``), and the
    fewest observations are those of the columns observed at all (0 where
    none is)."""
    weights = (None if sample_weight is None
               else scaled_to_unit(np.asarray(sample_weight, dtype=np.float64)))
    mean, std, counts = masked_column_moments(X, observed, weights)
    counts = counts[counts > 0]
    return mean, std, int(counts.min()) if len(counts) else 0


def off_scale_features(mean, std, small_spreads=True, factor=OFF_SCALE_FACTOR):
    """Indices of the features far from zero mean and unit variance: a mean
    beyond +-``factor``, a spread above ``factor`` or below 1 / ``factor``.

    Constant features (std 0) count only by their mean: StandardScaler
    leaves them at 0, and they are handled in ``spread_of_constant_features``.
    Without ``small_spreads`` a small spread does not count (a few rows of
    standardised data may have one).
    """
    spread = std > 0
    small = (std < 1.0 / factor) if small_spreads else False
    off = (np.abs(mean) > factor) | (spread & ((std > factor) | small))
    return np.flatnonzero(off)


def warn_if_far_from_standardised(estimator, mean, std, small_spreads=True,
                                  factor=OFF_SCALE_FACTOR):
    """UserWarning when some feature's mean or spread is far from standardised.

    Warned rather than standardised inside the model: the learning rate,
    weight decay and the 0.01 scale of the initial weights are in data units,
    and so is every output (samples, ``gibbs``, ``sigma_``, log densities);
    standardising inside would have to convert the parameters, their
    velocities and bounds back and forth on every ``partial_fit`` and would
    hide in which units a score is given.  A StandardScaler in a Pipeline
    does it in one visible step.

    The bounds were measured on wine (standardised, then rescaled; 8 hidden
    units, 100 epochs; held-out exact log-likelihood taken back to
    standardised units by the log-Jacobian: -16.50 nats per row as it is).
    Spreads 0.01, 0.1, 0.3, 3, 10 and 100 scored -17.33, -17.17, -16.61,
    -16.56, -16.60 and -248,299; means 3, 10 and 100 scored -17.16, -17.75
    and -18.69.  Beyond the bounds the loss is a nat or more (catastrophic
    for large spreads); inside them at most 0.7.  ``small_spreads`` and
    ``factor``: see ``off_scale_features``.
    """
    off = off_scale_features(mean, std, small_spreads, factor)
    if not len(off):
        return
    i = off[0]
    warnings.warn(
        f"{type(estimator).__name__} got input far from zero mean and unit variance: "
        f"{len(off)} of {len(mean)} features ({feature_labels(estimator, off)}) have a "
        f"mean beyond +-{factor:g} or a standard deviation "
        + (f"outside [{1 / factor:g}, {factor:g}]" if small_spreads else f"above {factor:g}")
        + f" (the first: mean {mean[i]:.4g}, "
        f"standard deviation {std[i]:.4g}). Its learning rate and initial weights "
        "assume standardised data: off that scale it fits worse (a nat or more per "
        "row) or fails outright. "
        "Standardise first: make_pipeline(StandardScaler(), "
        f"{type(estimator).__name__}(...)) from sklearn.pipeline and "
        "sklearn.preprocessing (its log-likelihoods are then in standardised units; "
        "subtract sum(log(scaler.scale_)) from each for the data's units).",
        UserWarning, stacklevel=user_stacklevel())


def feature_labels(estimator, indices, shown=5):
    """The first ``shown`` of the columns ``indices`` by name, and how many more."""
    labels = ", ".join(column_label(estimator, i) for i in indices[:shown])
    if len(indices) > shown:
        labels += f" and {len(indices) - shown} more"
    return labels


class GaussianVisible(VisibleLayer):
    """Real-valued visible units with standard deviations ``sigma``.

    Energy ``E_v(v) = sum((v - b)**2 / (2 sigma**2))`` and ``s(v) = v / sigma**2``
    (Cho, Ilin & Raiko 2011), so for fixed hidden state the visible units are
    independent with ``v_i | h ~ N(b_i + (h @ W)_i, sigma_i**2)``.

    Parameters
    ----------
    learn_sigma : bool, default=True
        Whether training steps ``log sigma``.
    sigma_floor : float, default=SIGMA_FLOOR_FRACTION
        Lower bound of sigma, as a fraction of each feature's standard
        deviation in the training data.
    state : ndarray of shape (4, n_visible) or None
        Rows ``_gibbs.GAUSSIAN_*``: sigma, its velocity and its bounds;
        None before ``fit``.

    Attributes
    ----------
    standardised_at_fit : bool
        Set by ``fit``: whether the data it was fitted to were standardised
        (``off_scale_features``); see ``check_later_training_rows``.
    """

    kernel_kind = _gibbs.VISIBLE_GAUSSIAN
    discrete = False
    # Ten times smaller than binary data's: real-valued units have larger
    # gradients, and learning sigma is sensitive to the step size.
    auto_learning_rate = 0.01

    #: With Gaussian hidden units the model is one multivariate Gaussian.
    gaussian = True

    def __init__(self, learn_sigma=True, sigma_floor=SIGMA_FLOOR_FRACTION, state=None):
        self.learn_sigma = learn_sigma
        self.sigma_floor = sigma_floor
        self.state = state

    @classmethod
    def for_estimator(cls, estimator):
        """A new, unfitted layer for the estimator's hyperparameters."""
        return cls(learn_sigma=bool(estimator.learn_sigma),
                   sigma_floor=float(estimator.sigma_floor))

    @property
    def sigma(self):
        """The standard deviations: the sigma row of ``state``."""
        return self.state[_gibbs.GAUSSIAN_SIGMA]

    def coupling_precision(self):
        """1 / sigma**2: v | h ~ N(b + W.T h, sigma**2), so integrating v out
        leaves exp(h.K h / 2) with K = W diag(1 / sigma**2) W.T."""
        return 1.0 / np.asarray(self.sigma, dtype=np.float64) ** 2

    def check_domain(self, X, estimator):
        """Raise ValueError unless every value of X is finite."""
        values = X.data if sp.issparse(X) else X
        if values.size and not all_finite(values):
            n_nan, n_inf = count_non_finite(values)
            raise ValueError(
                f"{type(estimator).__name__} got input that contains NaN or inf "
                f"({n_nan} NaN, {n_inf} inf values). Remove or impute them first, for "
                "example with sklearn.impute.SimpleImputer; any finite real value is "
                "allowed." + (gaps_advice(estimator) if n_nan else "")
            )

    def check_later_training_rows(self, estimator, X, sample_weight=None, observed=None):
        """Warn when rows that a model fitted to standardised data trains on
        (``partial_fit``, a warm-started ``fit``; rows of positive weight, as
        ``sample_weight`` weighs them) lie far from standardised, as ``fit``
        warns of the rows of a first fit (``warn_if_far_from_standardised``).
        One such pass on unscaled wine rows took a model's held-out
        log-likelihood from -17.0 to -318.7 nats per row, without a word.

        A few standardised rows are not held to the bounds of a whole data
        set: a small spread does not count, and the bound on the mean and
        the spread widens to OFF_SCALE_FACTOR * 3 / sqrt(rows) below 9 rows
        (one row of standardised breast cancer reaches 12 standard
        deviations).  A model fitted to data off that scale was warned about
        at its fit, and its later rows are not (``standardised_at_fit``).
        Rows with gaps count by their ``observed`` entries (the placeholders
        0 of the others hid a feature's mean of 11.7), each feature by as
        many rows as observe it.
        """
        if not X.shape[0] or not getattr(self, "standardised_at_fit", True):
            return
        if observed is None:
            mean, std = column_mean_and_std(X, sample_weight)
            n_rows = X.shape[0]
        else:
            mean, std, n_rows = observed_mean_and_std(X, observed, sample_weight)
        if not n_rows:
            return
        factor = OFF_SCALE_FACTOR * max(1.0, 3.0 / math.sqrt(n_rows))
        warn_if_far_from_standardised(estimator, mean, std, small_spreads=False,
                                      factor=factor)

    def fit(self, X, sample_weight=None, estimator=None):
        """sigma at the data's (weighted) standard deviation, its velocity and its bounds.

        With ``estimator``, warns when the data, as ``sample_weight`` weighs
        them, are far from standardised (``warn_if_far_from_standardised``):
        the model is fitted to the weighted rows (one row of weight 1e10
        among 49 standard normal ones leaves a spread of 7e-5 around a mean
        of 1, where ReLU units diverged at any learning rate without a word
        of the scale), and rows of weight 0, which the caller has dropped,
        count for nothing (the rows as given hid the warning).  Raises
        ValueError when some feature's variance is not a normal float64
        (``refuse_subnormal_variance``).
        """
        mean, std = column_mean_and_std(X, sample_weight)
        if estimator is not None:
            warn_if_far_from_standardised(estimator, mean, std)
        # Whether later training rows are held to standardised (check_later_training_rows).
        self.standardised_at_fit = not len(off_scale_features(mean, std))
        std = spread_of_constant_features(mean, std)
        refuse_subnormal_variance(std, X.dtype)
        state = np.zeros((_gibbs.GAUSSIAN_STATE_SHAPE_ROWS, X.shape[1]), dtype=X.dtype)
        state[_gibbs.GAUSSIAN_SIGMA] = std
        # The floor keeps sigma**2 a normal number while sigma learns.
        floor = np.maximum(self.sigma_floor * std, smallest_sigma(X.dtype))
        # sigma_floor=1 fixes sigma: a floor rounded above the ceiling must not be.
        state[_gibbs.GAUSSIAN_SIGMA_MIN] = np.minimum(floor, std)
        state[_gibbs.GAUSSIAN_SIGMA_MAX] = std
        self.state = state

    def follow_hyperparameters(self, estimator):
        """learn_sigma and sigma_floor as the estimator has them now.

        Both were read once, at the first fit: ``set_params(learn_sigma=False)``
        before ``partial_fit`` went on learning sigma.  The floor stays a
        fraction of the standard deviation sigma started at (its ceiling).
        The state is replaced, not changed in place, so that a caller's
        shallow restore undoes this.
        """
        self.learn_sigma = bool(getattr(estimator, "learn_sigma", self.learn_sigma))
        floor = getattr(estimator, "sigma_floor", None)  # (models saved before the option)
        if floor is not None and float(floor) != getattr(self, "sigma_floor", None):
            floor = float(floor)
            state = self.state.copy()
            high = state[_gibbs.GAUSSIAN_SIGMA_MAX]
            state[_gibbs.GAUSSIAN_SIGMA_MIN] = np.minimum(floor * high, high)
            self.state, self.sigma_floor = state, floor

    def sigma_at_floor(self):
        """Boolean mask of the features whose learned sigma ended at its floor.

        Always all False with ``learn_sigma=False`` (sigma never moves) or
        ``sigma_floor=1`` (the floor is the starting value).
        """
        sigma = np.asarray(self.sigma, dtype=np.float64)
        low = np.asarray(self.state[_gibbs.GAUSSIAN_SIGMA_MIN], dtype=np.float64)
        high = np.asarray(self.state[_gibbs.GAUSSIAN_SIGMA_MAX], dtype=np.float64)
        if not self.learn_sigma:
            return np.zeros(sigma.shape, dtype=bool)
        return (sigma <= AT_FLOOR_FACTOR * low) & (low < high)

    def warn_if_sigma_at_floor(self, estimator):
        """ConvergenceWarning when some sigma ended at its floor.

        There the likelihood still rose as sigma shrank: the model places
        narrow Gaussians on the training values (too few rows for the
        number of hidden units, or features with few distinct values), and
        held-out values between them score badly.
        """
        at_floor = self.sigma_at_floor()
        if not at_floor.any():
            return
        names = feature_labels(estimator, np.flatnonzero(at_floor))
        warnings.warn(
            f"{type(estimator).__name__}: the standard deviation sigma_ of "
            f"{at_floor.sum()} of {at_floor.size} features ({names}) ended at its floor, "
            f"sigma_floor={self.sigma_floor:g} times the feature's standard deviation. "
            "The fit was still narrowing Gaussians onto the training values, which "
            "overfits: held-out rows between those values get very low likelihoods. "
            "Use more rows, fewer hidden units (n_components) or a larger sigma_floor "
            "(or learn_sigma=False); features with only a few distinct values may suit "
            "BernoulliRBM or CategoricalRBM better.",
            ConvergenceWarning, stacklevel=user_stacklevel())

    def check_fitted(self, estimator, n_columns, dtype):
        """sigma's state must match the model, with sigma and its bounds positive."""
        check_array_attribute(estimator, "_visible_unit.state", getattr(self, "state", None),
                              (_gibbs.GAUSSIAN_STATE_SHAPE_ROWS, n_columns), dtype)
        if not isinstance(getattr(self, "learn_sigma", None), (bool, np.bool_)):
            raise ValueError(f"{type(estimator).__name__}._visible_unit.learn_sigma must be "
                             "True or False; refit the model.")
        floor = getattr(self, "sigma_floor", None)
        if not (isinstance(floor, Real) and not isinstance(floor, (bool, np.bool_))
                and 0.0 < floor <= 1.0):  # NaN fails this
            # Read after training (the at-floor warning) and by
            # observed_log_likelihood: a missing one raised AttributeError there.
            raise ValueError(f"{type(estimator).__name__}._visible_unit.sigma_floor must be a "
                             f"number in (0, 1], got {floor!r:.40}; refit the model.")
        if not np.all(self.state[[_gibbs.GAUSSIAN_SIGMA, _gibbs.GAUSSIAN_SIGMA_MIN,
                                  _gibbs.GAUSSIAN_SIGMA_MAX]] > 0):
            raise ValueError(
                f"{type(estimator).__name__}'s sigma_ and its bounds (_visible_unit.state) "
                "must be positive; "
                "refit the model or assign positive standard deviations."
            )
        # fit's own limit (refuse_subnormal_variance): below it 1 / sigma**2
        # overflows, and transform, score, log Z and samples were NaN, silently.
        dtype = self.state.dtype
        tiny = smallest_sigma(dtype)
        sigma = np.asarray(self.sigma, dtype=np.float64)
        if np.any(sigma < tiny):
            i = int(np.argmax(sigma < tiny))
            raise ValueError(
                f"{type(estimator).__name__}.sigma_ must be at least {tiny:.3g} (its square, "
                f"the variance the model divides by, must be a normal {dtype.name}), got "
                f"{sigma[i]:.3g} for {column_label(estimator, i)}; assign larger standard "
                "deviations or refit the model.")

    def initial_weight_scale(self):
        """The starting sigma (the data's spread) where it is below 1, else 1.

        Weights are in data units, and 0.01 of them against a smaller spread
        couples each hidden unit to the visible precision by
        sum_i (W_i / sigma_i)**2: ReLU models of 600 features of spread 0.1
        (which ``fit`` does not warn about) or of 4 of spread 0.01 started
        improper and diverged at any learning rate, blaming it, and
        binary-unit models of spread 1e-8 data sat a million sigmas off
        (-3e12 nats per row).  Below 1 the weights are now 0.01 sigma, as on
        standardised data; above, 0.01 as before.
        """
        spread = np.asarray(self.state[_gibbs.GAUSSIAN_SIGMA_MAX], dtype=np.float64)
        return np.minimum(1.0, spread)

    def learned_arrays(self):
        """sigma and its velocity (with the bounds) change in training."""
        return (self.state,)

    def initial_bias(self, mean):
        """Visible biases of the independent model: the data mean."""
        return np.asarray(mean, dtype=np.float64).copy()

    def _variance(self):
        return np.asarray(self.sigma, dtype=np.float64) ** 2

    def hidden_input(self, V):
        """s(v) = v / sigma**2."""
        if sp.issparse(V):
            return V.multiply(1.0 / self._variance()).tocsr()
        return V / self._variance().astype(V.dtype)

    def mean(self, field):
        """E[v | h] = the field b + h @ W."""
        return field

    def sample(self, field, rng):
        """Draw v ~ N(field, sigma**2) with a numpy Generator."""
        noise = rng.standard_normal(field.shape)
        return (field + noise * np.asarray(self.sigma, dtype=np.float64)).astype(field.dtype)

    def energy_term(self, V, b):
        """-E_v(v) = -sum((v - b)**2 / (2 sigma**2)) for each row of V.

        Without NumPy's overflow warnings: a row whose squares overflowed
        (entries beyond about 1.3e154) is summed again scaled by its largest
        ``|v - b| / sigma`` (``_scaled_energy``), which is exact wherever the
        sum itself is a float64, and -inf (the correctly rounded value)
        where it is below -1.8e308.
        """
        V = V.toarray() if sp.issparse(V) else V
        with np.errstate(over="ignore", invalid="ignore"):
            out = -0.5 * (((V - b) ** 2) / self._variance()).sum(axis=1)
        overflowed = np.isinf(out)
        if overflowed.any():
            out[overflowed] = self._scaled_energy(V[overflowed], b)
        return out

    def _scaled_energy(self, V, b):
        """``energy_term`` of rows far out: with r = (v - b) / sigma and m = max |r|,
        -(m / 2) * m * sum((r / m)**2), whose factors overflow only where the
        result does (-inf where r itself overflowed: the sum is at least m**2 / 2)."""
        with np.errstate(over="ignore", invalid="ignore"):
            r = (V - b) / np.sqrt(self._variance())
            m = np.abs(r).max(axis=1)
            scaled = -((0.5 * m) * m) * ((r / m[:, None]) ** 2).sum(axis=1)
        return np.where(np.isinf(m), -np.inf, scaled)

    def log_partition_given_hidden(self, A, b):
        """log of the integral over v of exp(-E_v(v) + s(v) . a), for each row a of A.

        Completing the square: sum(log(2 pi sigma**2) / 2 + (a**2 + 2 a b) / (2 sigma**2)).
        """
        variance = self._variance()
        constant = 0.5 * np.log(2.0 * np.pi * variance).sum()
        return constant + ((A * A + 2.0 * A * b) / (2.0 * variance)).sum(axis=1)

    def to_kernel(self, V):
        """Rows of s(v) = v / sigma**2 for the kernel."""
        return np.ascontiguousarray(V / self._variance().astype(V.dtype))

    def from_kernel(self, S):
        """Visible values v = s(v) sigma**2."""
        return S * self._variance().astype(S.dtype)

    def kernel_view(self, dtype):
        """Kind, the (4, n_visible) sigma state and whether to learn it.

        In the model's dtype the state is the layer's own array (training
        updates it in place); AIS in float64 gets a float64 copy.
        """
        state = self.state if self.state.dtype == dtype else self.state.astype(dtype)
        return KernelVisible(self.kernel_kind, state=state, learn_sigma=self.learn_sigma)

    def data_scale(self, data_mean):
        """sum over features of |mean| + standard deviation: the size of the
        parameters a model of this data has, per hidden unit (biases and
        weights are both in data units)."""
        sigma_max = np.asarray(self.state[_gibbs.GAUSSIAN_SIGMA_MAX], dtype=np.float64)
        return float(np.sum(np.abs(data_mean) + sigma_max))

    def data_scale_message(self, estimator, data_mean, energy_limit):
        """The data's scale, when a model of it cannot stay within the energy bound.

        Visible biases are means and each weight row a shift of the mean, so
        a model of this data has energy scale about ``(n_components + 1)``
        times ``data_scale``; at ``energy_limit`` (2**52, where float64
        likelihoods lose every nat of precision) or more, no learning rate
        can train it.
        """
        scale = self.data_scale(data_mean)
        if scale * (estimator.n_components + 1) < energy_limit:  # NaN fails this
            return None
        return (
            f"the data's scale is too large: its features' |mean| + standard deviation "
            f"sum to {scale:.3g}, so the parameters of a model of it (in data units, "
            f"{estimator.n_components + 1} per feature) reach an energy scale of 2**52, "
            "where float64 likelihoods mean nothing. Standardise the data (for example "
            "with sklearn.preprocessing.StandardScaler) and fit again"
        )

    def runaway_description(self, W, b, data_mean):
        """What ran away, for weights or visible biases far beyond the data's
        scale (a diverging learning rate), or None.

        With real-valued units the energy-scale bound (which assumes states in
        [0, 1]) is reached only after the parameters have grown for several
        passes.  Visible biases are means and each weight row a shift of the
        mean, both in data units, so anything beyond ``RUNAWAY_FACTOR`` times
        the largest |mean| + standard deviation of a feature is stopped at
        once, while the parameters from before the pass are still sound.
        (Hidden biases are energies, which small sigmas legitimately make
        large, so they are left to the energy-scale bound.)
        """
        sigma_max = self.state[_gibbs.GAUSSIAN_SIGMA_MAX]
        data_scale = max(1.0, float(np.max(np.abs(data_mean) + sigma_max)))
        # max |a| as max(-min, max): no temporary of W's size.
        largest = max(max(-float(a.min()), float(a.max())) for a in (W, b))
        if largest <= RUNAWAY_FACTOR * data_scale:
            return None
        return (f"a weight or visible bias reached {largest:.3g}, more than "
                f"{RUNAWAY_FACTOR:.0e} times the data's scale ({data_scale:.3g})")

    def runaway_states(self, S, data_mean):
        """What ran away, for chain states (kernel rows s(v) = v / sigma**2) beyond
        ``RUNAWAY_STATES_FACTOR`` times the data's scale (as in
        ``runaway_description``), or None.

        An improper model (real-valued hidden units whose fields outgrow the
        visible precision) has no distribution: its chains drift off, the
        further the longer they run, and AIS's log Z grows with them while
        staying finite (712 nats at 3,000 temperatures, 6.8e6 at 10,000, for
        two ReLU units coupled at 1.01 times the precision, whose chains end
        at 690 and 1.3e5 times the data's scale; 26 times at 0.99, proper).
        """
        V = np.asarray(S, dtype=np.float64) * self._variance()
        data_scale = max(1.0, float(np.max(np.abs(data_mean)
                                           + self.state[_gibbs.GAUSSIAN_SIGMA_MAX])))
        largest = float(np.max(np.abs(V), initial=0.0))
        if largest <= RUNAWAY_STATES_FACTOR * data_scale:  # (NaN states: not here)
            return None
        return (f"its chains reached {largest:.3g}, more than {RUNAWAY_STATES_FACTOR:.0f} "
                f"times the data's scale ({data_scale:.3g})")

    def ladder_base(self):
        """Units of the data's spread (sigma at its ceiling, the standard
        deviation sigma started at): with the data mean as bias, the
        independent model of the data marginals, as wide as the data.  Never
        narrower than the model's own units (a sigma assigned above the
        ceiling), so that the hot end is no narrower than the model."""
        state = self.state.copy()
        state[_gibbs.GAUSSIAN_SIGMA] = np.maximum(state[_gibbs.GAUSSIAN_SIGMA_MAX],
                                                  state[_gibbs.GAUSSIAN_SIGMA])
        return GaussianVisible(False, self.sigma_floor, state)

    def tempered(self, beta, bias, base, base_bias):
        """The precision moves too: 1 / sigma_beta**2 = beta / sigma**2
        + (1 - beta) / sigma_base**2, the mean sigma_beta**2 (beta b / sigma**2
        + (1 - beta) b_base / sigma_base**2), so that the hot end is as wide
        as the data, not as the model (``rbm._tempering``)."""
        if beta == 1.0:
            return self, bias, None
        variance, base_variance = self._variance(), base._variance()
        tempered_variance = 1.0 / (beta / variance + (1.0 - beta) / base_variance)
        mean = tempered_variance * (beta * bias / variance
                                    + (1.0 - beta) * base_bias / base_variance)
        state = self.state.copy()
        state[_gibbs.GAUSSIAN_SIGMA] = np.sqrt(tempered_variance)
        return (GaussianVisible(False, self.sigma_floor, state), mean,
                tempered_variance / variance)

    def tempering_gap_terms(self, bias, base, base_bias):
        """sum((v - b_base)**2 / (2 sigma_base**2) - (v - b)**2 / (2 sigma**2)):
        linear b / sigma**2 - b_base / sigma_base**2, quadratic
        1 / (2 sigma_base**2) - 1 / (2 sigma**2)."""
        variance, base_variance = self._variance(), base._variance()
        linear = np.asarray(bias, dtype=np.float64) / variance - base_bias / base_variance
        return linear, 0.5 / base_variance - 0.5 / variance

    def restricted(self, columns):
        """Gaussian units of ``columns``, with their sigmas."""
        return GaussianVisible(self.learn_sigma, self.sigma_floor,
                               np.ascontiguousarray(self.state[:, columns]))

    def fill_missing(self, rows, known, rng, marginals_of=None):
        """Missing entries drawn from a normal with the known entries' mean and
        standard deviation, per feature (before ``fit``: sigma is not set yet);
        those of ``marginals_of`` (rows, their mask) where given."""
        mean, std, _ = masked_column_moments(*((rows, known) if marginals_of is None
                                               else marginals_of))
        draws = mean + spread_of_constant_features(mean, std) * rng.standard_normal(rows.shape)
        rows[~known] = draws.astype(rows.dtype)[~known]
        return rows

    def feature_log_partitions(self, A, b):
        """log(2 pi sigma**2) / 2 + (a**2 + 2 a b) / (2 sigma**2) for each unit."""
        variance = self._variance()
        return 0.5 * np.log(2.0 * np.pi * variance) + (A * A + 2.0 * A * b) / (2.0 * variance)

    def feature_energy_terms(self, V, b):
        """-(v - b)**2 / (2 sigma**2) for each unit."""
        V = V.toarray() if sp.issparse(V) else np.asarray(V)
        return -0.5 * ((V - b) ** 2) / self._variance()

    def posterior_marginals(self, first, second, rows, observed):
        """(mean, variance) of each entry given the observed ones.

        The law of total variance over the hidden states: sigma**2 (the
        variance given h) plus the spread of the conditional means E[v | h];
        observed entries have their value and variance 0.
        """
        variance = self._variance() + np.maximum(second - first * first, 0.0)
        return np.where(observed, rows, first), np.where(observed, 0.0, variance)

    def posterior_point(self, first):
        """The conditional mean."""
        return first
