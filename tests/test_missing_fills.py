"""The first fills of ``missing="impute"`` training come from every row's known entries.

Rows with gaps start training with their missing entries drawn from the
independent model of the known entries' marginals (``MissingFill.fill``).
Those marginals are of all the training rows: before, only the rows with
gaps counted, so a feature observed only in complete rows was filled from
no data (p = 0 for binary units, values near 0 for Gaussian ones, whose
start and bounds on sigma then came from those fills).
"""

import numpy as np

from rbm._conditional import MissingFill
from rbm._units.bernoulli import BernoulliVisible
from rbm._units.gaussian import GaussianVisible

#: Fills drawn per test, and the bound in standard errors (a 5-sigma
#: deviation has probability below 6e-7).
N_GAPS, N_COMPLETE, BOUND = 2000, 500, 5.0


def rows_with_a_feature_seen_only_in_complete_rows(values):
    """(X, known): ``N_COMPLETE`` complete rows whose column 2 holds ``values``,
    then ``N_GAPS`` rows missing column 2 (placeholder 0)."""
    rng = np.random.default_rng(0)
    X = np.zeros((N_COMPLETE + N_GAPS, 3))
    X[:, :2] = (rng.random((len(X), 2)) < 0.5)
    X[:N_COMPLETE, 2] = values
    known = np.ones(X.shape, dtype=bool)
    known[N_COMPLETE:, 2] = False
    return X, known


def test_binary_fills_follow_the_complete_rows_marginal():
    rng = np.random.default_rng(1)
    X, known = rows_with_a_feature_seen_only_in_complete_rows(rng.random(N_COMPLETE) < 0.876)
    p, given = X[:N_COMPLETE, 2].mean(), X[known].copy()
    MissingFill(X, known, [1, 2, 3], 0).fill(BernoulliVisible())
    fills = X[N_COMPLETE:, 2]
    assert abs(fills.mean() - p) < BOUND * np.sqrt(p * (1 - p) / N_GAPS)  # (before: 0)
    np.testing.assert_array_equal(X[known], given)  # known entries untouched


def test_gaussian_fills_follow_the_complete_rows_mean_and_spread():
    rng = np.random.default_rng(2)
    X, known = rows_with_a_feature_seen_only_in_complete_rows(
        6.0 + 0.55 * rng.standard_normal(N_COMPLETE))
    mean, std = X[:N_COMPLETE, 2].mean(), X[:N_COMPLETE, 2].std()
    MissingFill(X, known, [1, 2, 3], 0).fill(GaussianVisible())
    fills = X[N_COMPLETE:, 2]
    # Draws from N(mean, std**2): their mean within BOUND standard errors,
    # their spread within BOUND of its own (std / sqrt(2 n)).
    assert abs(fills.mean() - mean) < BOUND * std / np.sqrt(N_GAPS)  # (before: about 0)
    assert abs(fills.std() - std) < BOUND * std / np.sqrt(2 * N_GAPS)


def test_entries_of_weight_zero_count_for_nothing():
    # The later-rows check widens its bounds for few observations: those of
    # rows of weight 0 were counted.
    from rbm._units._layer import masked_column_moments
    X = np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
    mask = np.ones(X.shape, dtype=bool)
    mask[1, 1] = False
    mean, std, counts = masked_column_moments(X, mask, np.array([0.0, 1.0, 1.0]))
    assert counts.tolist() == [2, 1]
    np.testing.assert_allclose(mean, [4.0, 6.0])
    np.testing.assert_allclose(std, [1.0, 0.0])
