"""Gaussian visible units with learned standard deviations."""

import numpy as np
import scipy.sparse as sp

from .. import _gibbs
from ._layer import (KernelVisible, VisibleLayer, all_finite, check_array_attribute,
                     count_non_finite)

#: sigma never falls below this fraction of the feature's standard deviation.
SIGMA_FLOOR_FRACTION = 0.01
#: The data statistics read the input in blocks of rows of about this many
#: bytes (in float64), so that fitting needs no temporary of the input's size.
STATISTICS_BLOCK_BYTES = 4 * 2**20
#: Training stops when a weight or visible bias (both in data units) exceeds
#: this many times the data's scale.
RUNAWAY_FACTOR = 1e3


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


def column_mean_and_std(X):
    """Per-column mean and (population) standard deviation of X, in float64.

    Two passes over blocks of rows (``float64_row_blocks``): the mean, then
    the mean squared deviation from it.  Unlike E[x**2] - mean**2, this does
    not lose the spread of data whose mean is far larger than its standard
    deviation; and no temporary has the input's size.
    """
    n = X.shape[0]
    total = np.zeros(X.shape[1])
    for block in float64_row_blocks(X):
        total += block.sum(axis=0)
    mean = total / n
    squares = np.zeros(X.shape[1])
    deviation = None  # one buffer for every block's deviations
    for block in float64_row_blocks(X):
        if deviation is None:
            deviation = np.empty_like(block)
        rows = deviation[: block.shape[0]]
        np.subtract(block, mean, out=rows)
        np.square(rows, out=rows)
        squares += rows.sum(axis=0)
    return mean, np.sqrt(squares / n)


class GaussianVisible(VisibleLayer):
    """Real-valued visible units with standard deviations ``sigma``.

    Energy ``E_v(v) = sum((v - b)**2 / (2 sigma**2))`` and ``s(v) = v / sigma**2``
    (Cho, Ilin & Raiko 2011), so for fixed hidden state the visible units are
    independent with ``v_i | h ~ N(b_i + (h @ W)_i, sigma_i**2)``.

    Parameters
    ----------
    learn_sigma : bool, default=True
        Whether training steps ``log sigma``.
    state : ndarray of shape (4, n_visible) or None
        Rows ``_gibbs.GAUSSIAN_*``: sigma, its velocity and its bounds;
        None before ``fit``.
    """

    kernel_kind = _gibbs.VISIBLE_GAUSSIAN
    discrete = False

    def __init__(self, learn_sigma=True, state=None):
        self.learn_sigma = learn_sigma
        self.state = state

    @classmethod
    def for_estimator(cls, estimator):
        """A new, unfitted layer for the estimator's hyperparameters."""
        return cls(learn_sigma=bool(estimator.learn_sigma))

    @property
    def sigma(self):
        """The standard deviations: the sigma row of ``state``."""
        return self.state[_gibbs.GAUSSIAN_SIGMA]

    def check_domain(self, X, estimator_name):
        """Raise ValueError unless every value of X is finite."""
        values = X.data if sp.issparse(X) else X
        if values.size and not all_finite(values):
            n_nan, n_inf = count_non_finite(values)
            raise ValueError(
                f"{estimator_name} got input that contains NaN or inf "
                f"({n_nan} NaN, {n_inf} inf values). Remove or impute them first, for "
                "example with sklearn.impute.SimpleImputer; any finite real value is "
                "allowed."
            )

    def fit(self, X):
        """sigma at the data's standard deviation, its velocity and its bounds."""
        mean, std = column_mean_and_std(X)
        # A constant feature (or a single row) has no spread to learn from:
        # give it a small one, relative to the data's own scale (whatever
        # that is: 1e-8 and 1e8 are both fine).
        scale = max(float(std.max(initial=0.0)), float(np.abs(mean).max(initial=0.0))) or 1.0
        std = np.maximum(std, 1e-3 * scale)
        state = np.zeros((_gibbs.GAUSSIAN_STATE_SHAPE_ROWS, X.shape[1]), dtype=X.dtype)
        state[_gibbs.GAUSSIAN_SIGMA] = std
        state[_gibbs.GAUSSIAN_SIGMA_MIN] = SIGMA_FLOOR_FRACTION * std
        state[_gibbs.GAUSSIAN_SIGMA_MAX] = std
        self.state = state

    def check_fitted(self, estimator, n_columns, dtype):
        """sigma's state must match the model, with sigma and its bounds positive."""
        check_array_attribute(estimator, "_visible_unit.state", getattr(self, "state", None),
                              (_gibbs.GAUSSIAN_STATE_SHAPE_ROWS, n_columns), dtype)
        if not isinstance(getattr(self, "learn_sigma", None), (bool, np.bool_)):
            raise ValueError(f"{type(estimator).__name__}._visible_unit.learn_sigma must be "
                             "True or False; refit the model.")
        if not np.all(self.state[[_gibbs.GAUSSIAN_SIGMA, _gibbs.GAUSSIAN_SIGMA_MIN,
                                  _gibbs.GAUSSIAN_SIGMA_MAX]] > 0):
            raise ValueError(
                f"{type(estimator).__name__}'s sigma_ and its bounds (_visible_unit.state) "
                "must be positive; "
                "refit the model or assign positive standard deviations."
            )

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
        """-E_v(v) = -sum((v - b)**2 / (2 sigma**2)) for each row of V."""
        V = V.toarray() if sp.issparse(V) else V
        return -0.5 * (((V - b) ** 2) / self._variance()).sum(axis=1)

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
