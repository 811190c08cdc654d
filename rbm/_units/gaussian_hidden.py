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
    #: Sampled training steps at a tenth of ``learning_rate``.  The hidden
    #: part of -F(v), |c + W s(v)|**2 / 2, grows with the square of the
    #: weights, and at the default rate 0.06 (binary units' rate) PCD ran away
    #: on 5 of the 6 binary benchmark sets (digits, plants, mushrooms, jester,
    #: dna: energy scales of 1e19 to 1e51 within the first passes).  At
    #: 0.006 all six trained, and nltcs, the one set that trained at 0.06,
    #: ended better (-6.033 nats against -6.130; benchmarks/README.md,
    #: "density.py --hidden").  The Gaussian-visible pair trains by its exact
    #: gradient instead and keeps the whole rate.
    learning_rate_scale = 0.1

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
