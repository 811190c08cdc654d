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


#: ``weight_decay="auto"`` with binary hidden units (the old default, 5e-4);
#: other hidden types multiply it by their ``weight_decay_multiplier``.
AUTO_WEIGHT_DECAY = 5e-4


def default_weight_decay(hidden_type):
    """The decay of ``weight_decay="auto"`` for a hidden layer type:
    ``AUTO_WEIGHT_DECAY`` times the type's ``weight_decay_multiplier``."""
    return AUTO_WEIGHT_DECAY * hidden_type.weight_decay_multiplier


def resolved_weight_decay(estimator):
    """The estimator's ``weight_decay`` as a number: "auto" becomes the
    ``default_weight_decay`` of its hidden type."""
    decay = estimator.weight_decay
    if isinstance(decay, str) and decay == "auto":
        return default_weight_decay(hidden_layer_type(estimator))
    return float(decay)


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
    "AUTO_WEIGHT_DECAY",
    "default_learning_rate",
    "default_weight_decay",
    "enumerate_binary",
    "hidden_layer_type",
    "resolved_learning_rate",
    "resolved_weight_decay",
    "sigmoid",
    "softplus",
]
