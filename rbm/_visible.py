"""Visible unit types.

Each visible type is a small object that knows the few things that differ
between RBM flavours: how to validate input, the statistic ``s(v)`` that
couples to the hidden layer (the energy is ``E(v, h) = E_v(v) - c.h -
h.W.s(v)``), its conditional mean and sampler, its energy term, the
log-partition of the visible layer for a fixed hidden state, and how to
initialise the visible biases from data.  Everything else (training, chains,
scoring, log-partition estimation) is written once against these hooks.

Conditionals take a *field*: the natural parameter that ``h`` sets, ``b + h @ W``
(logits for Bernoulli and categorical units, the mean for Gaussian ones).
Annealing between two models mixes their fields linearly, which is what AIS
relies on.
"""

import math
from types import SimpleNamespace

import numpy as np
import scipy.sparse as sp
from scipy.special import expit

from . import _gibbs


def all_finite(values):
    """Whether an array has no NaN or inf, without an array-sized temporary.

    Its minimum and maximum are finite exactly when every value is: NaN
    propagates through both reductions and an infinity is one of them.
    (``np.isfinite`` would allocate a boolean copy of a full-size input.)
    """
    return bool(np.isfinite(values.min()) and np.isfinite(values.max()))


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


class BernoulliVisible:
    """Binary visible units with values in {0, 1} (probabilities allowed).

    For fixed hidden state the visible units are independent with
    ``p(v_i = 1 | h) = sigmoid(b_i + (h @ W)_i)``.
    """

    #: Identifier of this type inside the compiled kernel.
    kernel_kind = _gibbs.VISIBLE_BERNOULLI
    #: Whether the visible states can be enumerated (for exact log Z).
    discrete = True

    def check_domain(self, X, estimator_name):
        """Raise ValueError unless every value of X is finite and in [0, 1]."""
        values = X.data if sp.issparse(X) else X
        if values.size == 0:
            return
        if not all_finite(values):
            n_nan = int(np.isnan(values).sum())
            n_inf = int(np.isinf(values).sum())
            raise ValueError(
                f"{estimator_name} got input that contains NaN or inf "
                f"({n_nan} NaN, {n_inf} inf values). Remove or impute them first "
                "(for example with sklearn.impute.SimpleImputer); it expects finite "
                "values in [0, 1], so then scale with sklearn.preprocessing.MinMaxScaler"
                "(clip=True) or binarise with sklearn.preprocessing.Binarizer."
            )
        low, high = float(values.min()), float(values.max())
        if sp.issparse(X) and X.nnz < X.shape[0] * X.shape[1]:
            low, high = min(low, 0.0), max(high, 0.0)  # implicit zeros
        if low < 0.0 or high > 1.0:
            raise ValueError(
                f"{estimator_name} expects values in [0, 1] (binary data or "
                f"probabilities), but the input has minimum {low:.6g} and maximum "
                f"{high:.6g}. Scale it with sklearn.preprocessing.MinMaxScaler (use "
                "clip=True so held-out data stays in range) or binarise it with "
                "sklearn.preprocessing.Binarizer."
            )

    def initial_bias(self, mean):
        """Visible biases of the independent model with the given marginals.

        ``mean`` is the per-feature data mean; it is smoothed away from 0 and
        1 so the log-odds stay finite.
        """
        p = np.clip(mean, 1e-3, 1.0 - 1e-3)
        return np.log(p) - np.log1p(-p)

    def mean(self, field):
        """E[v | h] for the total field ``h @ W + b``."""
        return sigmoid(field)

    def sample(self, field, rng):
        """Draw v ~ p(v | h) for the total field, with a numpy Generator."""
        return (rng.random(field.shape) < sigmoid(field)).astype(field.dtype)

    def energy_term(self, V, b):
        """-E_v(v), minus the visible part of the energy: b . v for each row of V."""
        return np.asarray(V @ b).ravel()

    def hidden_input(self, V):
        """s(v), the statistic that couples to the hidden layer: v itself."""
        return V

    def log_partition_given_hidden(self, A, b):
        """log sum_v exp(-E_v(v) + s(v) . a) for each row a of ``A = H @ W``."""
        return softplus(A + b).sum(axis=1)

    def to_kernel(self, V):
        """Visible states as the kernel's rows of s(v) (a new C-ordered array)."""
        return np.array(V, order="C")

    def from_kernel(self, S):
        """Visible states from the kernel's rows of s(v)."""
        return S

    def kernel_arguments(self, dtype):
        """(visible_state, groups) for the kernel: unused by this type."""
        return np.zeros((1, 1), dtype=dtype), np.zeros(2, dtype=np.intp)

    def n_states(self, n_visible):
        """Number of visible configurations, as a Python int."""
        return 2 ** n_visible

    def enumerate_states(self, n_visible, chunk_size, dtype):
        """Yield all visible configurations in chunks of at most chunk_size rows."""
        yield from enumerate_binary(n_visible, chunk_size, dtype)


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


class GaussianVisible:
    """Real-valued visible units with standard deviations ``sigma``.

    Energy ``E_v(v) = sum((v - b)**2 / (2 sigma**2))`` and ``s(v) = v / sigma**2``
    (Cho, Ilin & Raiko 2011), so for fixed hidden state the visible units are
    independent with ``v_i | h ~ N(b_i + (h @ W)_i, sigma_i**2)``.

    Parameters
    ----------
    state : ndarray of shape (4, n_visible) or None
        The kernel's Gaussian state (rows ``_gibbs.GAUSSIAN_*``: sigma, its
        velocity and its bounds); None before fitting (only ``check_domain``
        works).
    """

    kernel_kind = _gibbs.VISIBLE_GAUSSIAN
    discrete = False

    def __init__(self, state=None):
        self.state = state

    @property
    def sigma(self):
        """The standard deviations: the sigma row of ``state``."""
        return self.state[_gibbs.GAUSSIAN_SIGMA]

    def check_domain(self, X, estimator_name):
        """Raise ValueError unless every value of X is finite."""
        values = X.data if sp.issparse(X) else X
        if values.size and not all_finite(values):
            n_nan = int(np.isnan(values).sum())
            n_inf = int(np.isinf(values).sum())
            raise ValueError(
                f"{estimator_name} got input that contains NaN or inf "
                f"({n_nan} NaN, {n_inf} inf values). Remove or impute them first, for "
                "example with sklearn.impute.SimpleImputer; any finite real value is "
                "allowed."
            )

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

    def kernel_arguments(self, dtype):
        """(visible_state, groups): the (4, n_visible) sigma state; no groups."""
        return self.state, np.zeros(2, dtype=np.intp)


class CategoricalVisible:
    """Categorical (softmax, Potts) visible units, one-hot coded.

    Feature ``g`` owns the columns ``groups[g]:groups[g + 1]`` of the one-hot
    row ``s(v)``; for fixed hidden state the features are independent, each a
    softmax of its block of the field ``b + h @ W``.

    Parameters
    ----------
    groups : ndarray of shape (n_features + 1,)
        Column offsets of the features' blocks.
    """

    kernel_kind = _gibbs.VISIBLE_CATEGORICAL
    discrete = True

    def __init__(self, groups):
        self.groups = np.asarray(groups, dtype=np.intp)

    def check_domain(self, X, estimator_name):
        """One-hot rows are produced by the estimator's encoder; nothing to check."""

    @property
    def _sizes(self):
        return np.diff(self.groups)

    def _block_starts(self):
        return self.groups[:-1]

    def initial_bias(self, mean):
        """Smoothed log frequencies, centred within each feature (zero-sum gauge)."""
        mean = np.asarray(mean, dtype=np.float64)
        counts_floor = 1e-3
        bias = np.log(mean + counts_floor)
        return self.zero_sum(bias[None, :])[0]

    def zero_sum(self, X):
        """X with each row's block of each feature centred (the zero-sum gauge)."""
        starts = self._block_starts()
        means = np.add.reduceat(X, starts, axis=1) / self._sizes
        return X - np.repeat(means, self._sizes, axis=1)

    def hidden_input(self, V):
        """s(v) is the one-hot row itself."""
        return V

    def _block_logsumexp(self, field):
        starts = self._block_starts()
        top = np.maximum.reduceat(field, starts, axis=1)
        shifted = np.exp(field - np.repeat(top, self._sizes, axis=1))
        return np.log(np.add.reduceat(shifted, starts, axis=1)) + top

    def mean(self, field):
        """Per-feature softmax of the field."""
        log_norm = np.repeat(self._block_logsumexp(field), self._sizes, axis=1)
        return np.exp(field - log_norm)

    def sample(self, field, rng):
        """One-hot draws from each feature's softmax, with a numpy Generator."""
        probabilities = self.mean(np.asarray(field, dtype=np.float64))
        starts, sizes = self._block_starts(), self._sizes
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

    def energy_term(self, V, b):
        """-E_v(v) = b . s(v) for each one-hot row of V."""
        return np.asarray(V @ b).ravel()

    def log_partition_given_hidden(self, A, b):
        """Sum over features of log sum over categories of exp(b + a)."""
        return self._block_logsumexp(A + b).sum(axis=1)

    def to_kernel(self, V):
        """Dense C-ordered one-hot rows."""
        return np.array(V.toarray() if sp.issparse(V) else V, order="C")

    def from_kernel(self, S):
        return S

    def kernel_arguments(self, dtype):
        """(visible_state, groups): no state; the features' column offsets."""
        return np.zeros((1, 1), dtype=dtype), self.groups

    def n_states(self, n_visible):
        """Number of visible configurations: the product of the category counts."""
        return math.prod(int(q) for q in self._sizes)

    def enumerate_states(self, n_visible, chunk_size, dtype):
        """Yield every one-hot configuration in chunks of at most chunk_size rows."""
        sizes = [int(q) for q in self._sizes]
        total = self.n_states(n_visible)
        for start in range(0, total, chunk_size):
            index = np.arange(start, min(start + chunk_size, total), dtype=np.int64)
            out = np.zeros((len(index), n_visible), dtype=dtype)
            for offset, q in zip(self.groups[:-1], sizes):
                out[np.arange(len(index)), offset + index % q] = 1
                index //= q
            yield out



def kernel_visible(layer, dtype, learn_sigma=False):
    """The kernel's ``visible`` argument object for a layer (adapter, replaced at merge)."""
    state, groups = layer.kernel_arguments(dtype)
    kind = layer.kernel_kind
    return SimpleNamespace(
        kind=kind, learn_sigma=bool(learn_sigma),
        state=(np.ascontiguousarray(state, dtype=dtype) if kind == _gibbs.VISIBLE_GAUSSIAN
               else None),
        groups=groups if kind == _gibbs.VISIBLE_CATEGORICAL else None)


__all__ = [
    "BernoulliVisible",
    "CategoricalVisible",
    "GaussianVisible",
    "enumerate_binary",
    "softplus",
]
