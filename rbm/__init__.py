"""Restricted Boltzmann machines for the scikit-learn world."""

from ._base import DivergenceError
from ._training import DivergenceWarning
from ._units.categorical import ManyCategoriesWarning, UnknownCategoryError
from ._bernoulli import BernoulliRBM
from ._categorical import CategoricalRBM
from ._gaussian import GaussianBernoulliRBM
from .classifier import RBMClassifier
from .impute import RBMImputer
from .outlier import RBMOutlierDetector
from .persistence import trusted_types

__all__ = [
    "BernoulliRBM",
    "CategoricalRBM",
    "DivergenceError",
    "DivergenceWarning",
    "GaussianBernoulliRBM",
    "ManyCategoriesWarning",
    "RBMClassifier",
    "RBMImputer",
    "RBMOutlierDetector",
    "trusted_types",
    "UnknownCategoryError",
]
__version__ = "0.1.0"
