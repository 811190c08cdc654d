"""Binary (Bernoulli) visible units."""

import numpy as np
import scipy.sparse as sp

from .. import _gibbs
from ._layer import (VisibleLayer, count_non_finite, enumerate_binary, finite_range,
                     gaps_advice, sigmoid, softplus)


#: Values this many machine epsilons (of the input's dtype) outside [0, 1]
#: are taken as in it: ``MinMaxScaler`` computes ``X * scale_ + min_`` and
#: rounds a column's maximum to 1 + 2**-52 (breast cancer: 1.0000000000000002),
#: which was refused as outside [0, 1] with a message that printed it as 1.
DOMAIN_TOLERANCE_EPS = 64


class BernoulliVisible(VisibleLayer):
    """Binary visible units with values in {0, 1} (probabilities allowed).

    For fixed hidden state the visible units are independent with
    ``p(v_i = 1 | h) = sigmoid(b_i + (h @ W)_i)``.
    """

    kernel_kind = _gibbs.VISIBLE_BERNOULLI
    discrete = True
    auto_learning_rate = 0.06

    def check_domain(self, X, estimator):
        """Raise ValueError unless every value of X is finite and in [0, 1] (to
        within ``DOMAIN_TOLERANCE_EPS`` machine epsilons of its dtype)."""
        values = X.data if sp.issparse(X) else X
        if values.size == 0:
            return
        value_range = finite_range(values)
        if value_range is None:
            n_nan, n_inf = count_non_finite(values)
            raise ValueError(
                f"{type(estimator).__name__} got input that contains NaN or inf "
                f"({n_nan} NaN, {n_inf} inf values). Remove or impute them first "
                "(for example with sklearn.impute.SimpleImputer); it expects finite "
                "values in [0, 1], so then scale with sklearn.preprocessing.MinMaxScaler"
                "(clip=True) or binarise with sklearn.preprocessing.Binarizer."
                + (gaps_advice(estimator) if n_nan else "")
            )
        low, high = value_range
        if sp.issparse(X) and X.nnz < X.shape[0] * X.shape[1]:
            low, high = min(low, 0.0), max(high, 0.0)  # implicit zeros
        tolerance = DOMAIN_TOLERANCE_EPS * float(np.finfo(values.dtype).eps)
        if low < -tolerance or high > 1.0 + tolerance:
            # "Negative values in data": scikit-learn's wording for estimators
            # tagged positive_only.
            negative = "Negative values in data: " if low < 0.0 else ""
            raise ValueError(
                f"{negative}{type(estimator).__name__} expects values in [0, 1] (binary data or "
                f"probabilities), but the input has minimum {low!r} and maximum "
                f"{high!r}. Scale it with sklearn.preprocessing.MinMaxScaler (use "
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

    def log_partition_given_hidden(self, A, b):
        """log sum_v exp(-E_v(v) + s(v) . a) for each row a of ``A = H @ W``."""
        return softplus(A + b).sum(axis=1)

    def n_states(self, n_visible):
        """Number of visible configurations, as a Python int."""
        return 2 ** n_visible

    def enumerate_states(self, n_visible, chunk_size, dtype):
        """Yield all visible configurations in chunks of at most chunk_size rows."""
        yield from enumerate_binary(n_visible, chunk_size, dtype)

    def feature_log_partitions(self, A, b):
        """softplus(a + b) for each unit: the terms of ``log_partition_given_hidden``."""
        return softplus(A + b)

    def feature_energy_terms(self, V, b):
        """b_i v_i for each unit."""
        V = V.toarray() if sp.issparse(V) else np.asarray(V)
        return V * b

    def posterior_point(self, first):
        """The more probable value of each unit: p(v = 1 | observed) > 1/2."""
        return (first > 0.5).astype(first.dtype)
