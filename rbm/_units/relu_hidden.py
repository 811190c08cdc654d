"""Rectified Gaussian (ReLU) hidden units (Nair & Hinton 2010, exact form).

p(h | v) is proportional to exp(-h**2 / 2 + x h) on h >= 0, x = c + W s(v):
a unit-variance Gaussian of mean x truncated to the positive half-line.
"""

import numpy as np

from ._half_gaussian import (piece_log_normaliser, piece_moments, piece_sample,
                             uniform_open_closed)
from .. import _gibbs
from ._layer import IDLE_STANDARD_FIELD, HiddenLayer


class ReLUHidden(HiddenLayer):
    """Non-negative real hidden units with potential ``h**2 / 2`` on ``h >= 0``."""

    kernel_kind = _gibbs.HIDDEN_KIND_RELU
    name = "relu"
    #: Unbounded above, like Gaussian units: at binary units' rate ReLU fits
    #: of mushrooms and dna ended 20-70 nats below the independent model
    #: (benchmarks/README.md, learning_rate="auto").
    learning_rate_divisor = 6
    #: As for Gaussian units: at 5e-4 mushrooms' default fit ran away
    #: (DivergenceError; -92 nats when let go on), and at six times it (this
    #: type's divisor) on one of two seeds; at ten times it trained on both
    #: (validation -12.3, -15.1; benchmarks/README.md).
    weight_decay_multiplier = 10

    def potential_curvatures(self, n_hidden):
        """U(h) = h**2 / 2 on h >= 0 only: curvature 1, and no negative side."""
        return np.ones(n_hidden), None

    def mean(self, field):
        """E[h | v] = x + phi(x) / Phi(x), computed without cancellation."""
        return piece_moments(field, 1.0)[0].astype(np.result_type(field, np.float32))

    def variance(self, field):
        """Var[h | v] of the truncated Gaussian."""
        return piece_moments(field, 1.0)[1].astype(np.result_type(field, np.float32))

    def idle_units(self, field):
        """Per unit, whether its field is below -``IDLE_STANDARD_FIELD`` on every
        row: h | v is then nearly exponential with mean under 0.1 (0.8 at field
        0), a unit switched off whatever v."""
        return np.asarray(field, dtype=np.float64).max(axis=0) < -IDLE_STANDARD_FIELD

    def sample(self, field, rng):
        """Exact draw of h | v by the log-space inverse CDF (exact in both tails)."""
        u = uniform_open_closed(rng, np.shape(field))
        return piece_sample(field, 1.0, u).astype(np.result_type(field, np.float32))

    def unit_log_partition(self, field):
        """log of the integral over h >= 0 of exp(-h**2 / 2 + x h), per unit:
        log(pi / 2) / 2 + log erfcx(-x / sqrt 2)."""
        return piece_log_normaliser(field, 1.0)
