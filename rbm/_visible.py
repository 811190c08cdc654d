"""Visible unit types.

Each visible type is a small stateless object that knows the few things that
differ between RBM flavours: how to validate input, its conditional mean and
sampler given the field ``h @ W + b``, its free-energy term, the log-partition
of the visible layer for a fixed hidden state, and how to initialise the
visible biases from data.  Everything else (training, chains, scoring,
log-partition estimation) is written once against these hooks.
"""

import numpy as np
import scipy.sparse as sp
from scipy.special import expit

from . import _gibbs


def softplus(x):
    """log(1 + exp(x)) computed without overflow."""
    return np.logaddexp(0.0, x)


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
        if not np.all(np.isfinite(values)):
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
        return expit(field)

    def sample(self, field, rng):
        """Draw v ~ p(v | h) for the total field, with a numpy Generator."""
        return (rng.random(field.shape) < expit(field)).astype(field.dtype)

    def energy_term(self, V, b):
        """-(visible part of the energy) = b . v for each row of V."""
        return np.asarray(V @ b).ravel()

    def log_partition_given_field(self, field):
        """log sum_v exp(field . v) for each row of ``field`` (shape (n, n_visible))."""
        return softplus(field).sum(axis=1)

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


__all__ = ["BernoulliVisible", "enumerate_binary", "softplus"]
