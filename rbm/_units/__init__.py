"""Unit types: one class per layer type, one file each.

See ``_layer`` for the verbs every layer answers.  A new unit type is a new
file here (and, for the kernel, a sampler in ``rbm/_gibbs.pyx``'s sampling
step selected by its ``kernel_kind``).
"""

from ._layer import (KernelVisible, Layer, VisibleLayer, all_finite, check_array_attribute,
                     enumerate_binary, sigmoid, softplus)
from .bernoulli import BernoulliVisible
from .bernoulli_hidden import BernoulliHidden
from .categorical import CategoricalVisible
from .gaussian import GaussianVisible

__all__ = [
    "BernoulliHidden",
    "BernoulliVisible",
    "CategoricalVisible",
    "GaussianVisible",
    "KernelVisible",
    "Layer",
    "VisibleLayer",
    "all_finite",
    "check_array_attribute",
    "enumerate_binary",
    "sigmoid",
    "softplus",
]
