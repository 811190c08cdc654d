"""Unit types: one class per layer type, one file each.

See ``_layer`` for the verbs every layer answers.  A new unit type is a new
file here (and, for the kernel, a sampler in ``rbm/_sampling.pyx``
selected by its ``kernel_kind``).
"""

from ._layer import (HiddenLayer, KernelHidden, KernelVisible, Layer, VisibleLayer,
                     all_finite, check_array_attribute, enumerate_binary, sigmoid, softplus)
from .bernoulli import BernoulliVisible
from .bernoulli_hidden import BernoulliHidden
from .categorical import CategoricalVisible
from .drelu_hidden import DReLUHidden
from .gaussian import GaussianVisible
from .gaussian_hidden import GaussianHidden
from .relu_hidden import ReLUHidden

#: The ``hidden`` option of the estimators: its values and their layer types.
HIDDEN_TYPES = {layer.name: layer for layer in
                (BernoulliHidden, GaussianHidden, ReLUHidden, DReLUHidden)}



def hidden_layer_type(estimator):
    """The hidden layer class that an estimator's ``hidden`` option names."""
    hidden = getattr(estimator, "hidden", "bernoulli")  # models saved before the option
    if hidden not in HIDDEN_TYPES:
        raise ValueError(f"{type(estimator).__name__}'s hidden must be one of "
                         f"{sorted(HIDDEN_TYPES)}, got {hidden!r}; set a valid one.")
    return HIDDEN_TYPES[hidden]


def default_learning_rate(visible_type, hidden_type):
    """The rate of ``learning_rate="auto"`` for a pair of layer types.

    The visible type's rate with binary hidden units divided by the hidden
    type's divisor (1 for binary units: the visible rate itself, bit for
    bit).  Each type states its own part, so a new type is one class
    attribute.
    """
    return visible_type.auto_learning_rate / hidden_type.learning_rate_divisor


def resolved_learning_rate(estimator):
    """The estimator's ``learning_rate`` as a number: "auto" becomes the
    ``default_learning_rate`` of its visible and hidden types."""
    rate = estimator.learning_rate
    if isinstance(rate, str) and rate == "auto":
        return default_learning_rate(estimator._visible_type, hidden_layer_type(estimator))
    return float(rate)


__all__ = [
    "BernoulliHidden",
    "BernoulliVisible",
    "CategoricalVisible",
    "DReLUHidden",
    "GaussianHidden",
    "GaussianVisible",
    "HIDDEN_TYPES",
    "HiddenLayer",
    "KernelHidden",
    "KernelVisible",
    "Layer",
    "ReLUHidden",
    "VisibleLayer",
    "all_finite",
    "check_array_attribute",
    "default_learning_rate",
    "enumerate_binary",
    "hidden_layer_type",
    "resolved_learning_rate",
    "sigmoid",
    "softplus",
]
