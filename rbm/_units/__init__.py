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
    "enumerate_binary",
    "hidden_layer_type",
    "sigmoid",
    "softplus",
]
