"""Restricted Boltzmann machines for the scikit-learn world."""

from ._base import DivergenceError
from ._bernoulli import BernoulliRBM

__all__ = ["BernoulliRBM", "DivergenceError"]
__version__ = "0.1.0"
