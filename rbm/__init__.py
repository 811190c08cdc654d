"""Restricted Boltzmann machines for the scikit-learn world."""

from ._base import DivergenceError
from ._bernoulli import BernoulliRBM
from ._categorical import CategoricalRBM
from ._gaussian import GaussianBernoulliRBM

__all__ = ["BernoulliRBM", "CategoricalRBM", "DivergenceError", "GaussianBernoulliRBM"]
__version__ = "0.1.0"
