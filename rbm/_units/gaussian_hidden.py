"""Gaussian hidden units of unit variance: h | v ~ N(c + W s(v), 1).

With them an RBM is a pairwise (Hopfield-type) model: integrating h out
gives log p(v) a quadratic term |c + W s(v)|**2 / 2.
"""

import math

import numpy as np

from .. import _gibbs
from ._layer import HiddenLayer

#: log sqrt(2 pi): the log-normaliser of a unit-variance Gaussian.
LOG_SQRT_2PI = 0.5 * math.log(2.0 * math.pi)


class GaussianHidden(HiddenLayer):
    """Real hidden units with potential ``h**2 / 2``: ``h | v ~ N(field, 1)``."""

    kernel_kind = _gibbs.HIDDEN_KIND_GAUSSIAN
    name = "gaussian"
    #: With Gaussian visible units the model is one multivariate Gaussian.
    gaussian = True
    #: The hidden part of -F(v), |c + W s(v)|**2 / 2, grows with the square
    #: of the weights: at binary units' rate training ran away on 5 of 6
    #: binary benchmark sets, at a tenth of it on none (benchmarks/README.md).
    learning_rate_divisor = 10
    #: At a tenth of the rate a tenth of the shrink per update: on mushrooms
    #: the weights then grew slowly for 3,000 epochs (validation -890 nats,
    #: a DivergenceError once checked); ten times the decay keeps binary
    #: units' shrink per update and trained there to -13.6 (benchmarks/README.md).
    weight_decay_multiplier = 10

    def potential_curvatures(self, n_hidden):
        """U(h) = h**2 / 2 on both sides: curvature 1 for h > 0 and h < 0."""
        return np.ones(n_hidden), np.ones(n_hidden)

    def mean(self, field):
        """E[h | v] = the field ``c + W s(v)`` (a copy)."""
        return np.array(field)

    def variance(self, field):
        """Var[h | v] = 1 for every unit."""
        return np.ones_like(field)

    def sample(self, field, rng):
        """Draw h ~ N(field, 1) with a numpy Generator."""
        return (field + rng.standard_normal(field.shape)).astype(field.dtype)

    def unit_log_partition(self, field):
        """log of the integral of exp(-h**2 / 2 + h x) dh = x**2 / 2 + log sqrt(2 pi), per unit."""
        x = np.asarray(field, dtype=np.float64)
        return 0.5 * x * x + LOG_SQRT_2PI
