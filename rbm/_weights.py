"""Per-row sample weights: their checks and what training does with them.

Semantics (the ``sample_weight`` of ``fit`` and ``partial_fit``): a row of
weight w counts as w copies of it.  Two mechanisms make it so:

* the *data statistics* the model takes from its training rows are
  weighted: the data marginals (the initial visible biases, the centering
  offsets, parallel tempering's and AIS's base model), the Gaussian
  sigma, and the per-epoch figures and divergence check in ``history_``;
* each minibatch's *positive phase* weighs row i by w_i / mean(w) (the
  mean over the rows of the call, in the kernel): an unbiased estimate of
  the weighted data average whose expected total weight per update is
  that of an unweighted update, so the expected gradient, and the fixed
  point training approaches, are those of the repeated rows.  (The
  batch's own weight sum as the divisor instead is a ratio estimator,
  biased: on 60 rows of weight 1 or 5 it moved the fitted log-likelihood
  20 standard errors away from fits on the repeated rows.)  CD's chains
  start at the batch's rows and carry their weights too.

Rows of weight zero are dropped right after validation, so they change
nothing else (fitting with them equals fitting without them, bit for bit,
where they hold no value the other rows lack: their values are still
checked, and for ``CategoricalRBM`` still count among the categories), and
an epoch is one pass over the rows of positive weight in minibatches of
``batch_size`` rows.  Only relative weights matter within a call (a
constant weight is no weight); across ``partial_fit`` calls the running
data marginals add each call's weights.
"""

import numbers

import numpy as np
import scipy.sparse as sp
from sklearn.utils.validation import _check_sample_weight, _num_samples


def check_sample_weight(estimator, sample_weight, X):
    """``sample_weight`` as float64 of one finite, non-negative weight per row of
    the validated X, not all zero, with a finite sum; None for None or weights
    that are all 1.

    Raises ValueError naming what was wrong and what to pass instead.
    """
    if sample_weight is None:
        return None
    name = type(estimator).__name__
    n_rows = _num_samples(X)  # (a list too, as a frozen model's detector takes it)
    values = np.asarray(sample_weight)
    single = isinstance(sample_weight, numbers.Real) or (   # a number, or a 0-d array of one
        values.ndim == 0 and values.dtype.kind in "iuf")
    if single and not isinstance(sample_weight, bool):
        values = np.full(n_rows, float(values))
    else:
        if sp.issparse(sample_weight):
            raise ValueError(f"{name}: sample_weight must be a dense 1-d array, got a sparse "
                             f"{type(sample_weight).__name__}; pass "
                             "sample_weight.toarray().ravel().")
        if values.dtype == object and all(isinstance(value, numbers.Real)
                                          and not isinstance(value, (bool, np.bool_))
                                          for value in values.reshape(-1)):
            values = values.astype(np.float64)  # (numbers in an object array, as scikit-learn)
        if values.dtype.kind not in "biuf":
            raise ValueError(f"{name}: sample_weight must be numbers, got dtype "
                             f"{values.dtype}; pass a numeric array.")
        if values.ndim != 1 or values.shape[0] != n_rows:
            raise ValueError(
                f"{name}: sample_weight must be one weight per row of X, a 1-d array of "
                f"length {n_rows}, got shape {values.shape}; pass one number per sample "
                "(or a single number for all of them).")
    values = np.asarray(values, dtype=np.float64)
    if not np.all(np.isfinite(values)):
        raise ValueError(
            f"{name}: sample_weight must be finite, got {np.sum(np.isnan(values))} NaN and "
            f"{np.sum(np.isinf(values))} infinite weights; give every sample a finite "
            "weight (0 leaves a sample out).")
    if np.any(values < 0):
        raise ValueError(
            f"{name}: sample_weight must be non-negative, got {np.sum(values < 0)} negative "
            f"weights (smallest {values.min():g}); a weight counts copies of its sample, so "
            "use 0 to leave a sample out.")
    if not np.isfinite(np.sum(values)):
        raise ValueError(
            f"{name}: sample_weight sums to more than a float64 holds (largest weight "
            f"{values.max():g}), which leaves training's weighted averages NaN; only "
            "relative weights matter within a call, so divide them all by a common factor "
            "(their largest, say).")
    if np.all(values == 0):
        raise ValueError(
            f"{name}: sample_weight is zero for every sample, which leaves nothing to "
            "train on; give at least one sample a positive weight.")
    weights = _check_sample_weight(values, X, dtype=np.float64, ensure_non_negative=True,
                                   copy=True)
    if np.all(weights == 1.0):
        return None  # the unweighted path, bit for bit
    return weights


def positive_rows(X, weights):
    """(X, weights) without the rows of weight zero, which contribute nothing.

    No copy when every weight is positive (or there are none).
    """
    if weights is None or np.all(weights > 0):
        return X, weights
    keep = np.flatnonzero(weights > 0)
    return X[keep], weights[keep]


def kernel_weights(weights):
    """The kernel's per-row weights: None where every row weighs the same,
    since only a batch's relative weights enter an update."""
    if weights is None or np.all(weights == weights[0]):
        return None
    return np.ascontiguousarray(weights, dtype=np.float64)


#: Dense weighted sums read the rows in float64 blocks of about this many bytes.
SUM_BLOCK_BYTES = 4 * 2**20


def weighted_column_sum(X, weights):
    """sum_i w_i X[i] in float64 (X dense or sparse); X.sum(axis=0) without weights.

    Dense rows are summed in blocks by ``einsum``, not a BLAS gemv: no
    float64 copy of the input, and no BLAS thread team (which, spinning on
    a busy machine, took 14 ms for a 10,000 x 64 gemv that einsum does in
    0.4 ms).
    """
    if weights is None:
        return np.asarray(X.sum(axis=0), dtype=np.float64).ravel()
    if sp.issparse(X):
        return np.asarray(X.T @ weights, dtype=np.float64).ravel()
    X = np.asarray(X)
    total = np.zeros(X.shape[1])
    step = max(1, SUM_BLOCK_BYTES // (8 * max(X.shape[1], 1)))
    for start in range(0, X.shape[0], step):
        block = np.asarray(X[start : start + step], dtype=np.float64)
        total += np.einsum("i,ij->j", weights[start : start + step], block)
    return total


def row_count(X, weights):
    """The number of rows X stands for: its rows, or the sum of their weights."""
    return X.shape[0] if weights is None else float(np.sum(weights))


def scaled_to_unit(weights):
    """``weights`` times the power of two that brings the largest into [0.5, 1).

    For weighted means, where only relative weights matter: a power of two
    scales without rounding (but for weights below 2**-1074 of the largest,
    which become 0 or lose digits), so the means keep their bits, while
    products of legal weights (a finite sum, say 60 of 2.9e306) with values
    no longer overflow (they made Gaussian sigma inf and a divergence bound
    NaN), nor do subnormal weights (5e-324 each) lose their precision.
    No weights come back as they are.
    """
    if not len(weights):
        return weights
    return np.ldexp(weights, -np.frexp(np.max(weights))[1])


def average(values, weights):
    """Mean of ``values`` (one per row), weighted where weights are given."""
    if weights is None:
        return float(np.mean(values))
    return float(np.average(values, weights=scaled_to_unit(weights)))
