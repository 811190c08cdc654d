"""Binary (Bernoulli) hidden units: the default hidden layer (``hidden="bernoulli"``)."""

import math

import numpy as np

from .. import _gibbs
from ._layer import HiddenLayer, enumerate_binary, sigmoid, softplus

#: |c + W s(v)| past which a binary unit counts as switched off (or stuck
#: on): sigmoid(-6.9) = 1e-3.  A high learning rate drove every unit of a
#: binarised-digits model to fields near -9 (and a categorical one's to
#: -14) within 20 epochs, leaving the model of independent features.
IDLE_BINARY_FIELD = 6.9


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

    def idle_units(self, field):
        """Per unit, whether p(h = 1 | v) is within 1e-3 of 0 on every row, or
        of 1 on every row (|field| past ``IDLE_BINARY_FIELD``, one sign): the
        unit is then a constant, not a feature of v."""
        field = np.asarray(field, dtype=np.float64)
        return ((field.max(axis=0) < -IDLE_BINARY_FIELD)
                | (field.min(axis=0) > IDLE_BINARY_FIELD))

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
