"""Binary (Bernoulli) hidden units: the default hidden layer (``hidden="bernoulli"``)."""

import math

import numpy as np

from .. import _gibbs
from ._layer import HiddenLayer, enumerate_binary, sigmoid, softplus


class BernoulliHidden(HiddenLayer):
    """Binary hidden units: ``p(h_j = 1 | v) = sigmoid(c_j + (W s(v))_j)``.

    Other hidden types (Gaussian, ReLU, dReLU) are siblings of this class
    answering the same verbs; the kernel selects its sampler by
    ``kernel_kind``.
    """

    kernel_kind = _gibbs.HIDDEN_KIND_BERNOULLI
    discrete = True
    name = "bernoulli"

    def mean(self, field):
        """E[h | v] = sigmoid of the field ``c + W s(v)``: the features of ``transform``."""
        return sigmoid(field)

    def sample(self, field, rng):
        """Draw h ~ p(h | v) for the field, with a numpy Generator."""
        return (rng.random(field.shape) < sigmoid(field)).astype(field.dtype)

    def variance(self, field):
        """Var[h | v] = p (1 - p), p = sigmoid(field)."""
        p = sigmoid(field)
        return p * (1 - p)

    def unit_log_partition(self, field):
        """log(1 + exp(x)) per unit, float64."""
        return softplus(field)

    def log_partition(self, field):
        """log sum_h exp(h . field) per row, in float64: the hidden part of -F(v)."""
        return softplus(field).sum(axis=1, dtype=np.float64)

    def base_log_partition(self, n_hidden):
        """log Z of n_hidden uncoupled units with zero bias (AIS's base model)."""
        return n_hidden * math.log(2.0)

    def n_states(self, n_hidden):
        """Number of hidden configurations, as a Python int."""
        return 2 ** n_hidden

    def enumerate_states(self, n_hidden, chunk_size, dtype):
        """Yield all hidden configurations in chunks of at most chunk_size rows."""
        yield from enumerate_binary(n_hidden, chunk_size, dtype)
