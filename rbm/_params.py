"""Parameter names of the estimators, read from ``__init__`` once per class."""

import functools

from sklearn.base import BaseEstimator


@functools.cache
def _init_parameter_names(cls):
    """scikit-learn's names of ``cls``'s constructor parameters (sorted), once per class."""
    return tuple(BaseEstimator._get_param_names.__func__(cls))


class CachedParamNames:
    """``_get_param_names`` from a cache per class.

    scikit-learn reads the names with ``inspect.signature(cls.__init__)`` on
    every ``get_params``, and every ``fit`` and ``partial_fit`` calls
    ``get_params`` to validate the parameters (so do ``clone``,
    ``set_params`` and ``repr``): 55 us a call, 8% of a tiny fit (50 x 8
    rows, 4 hidden units: 0.868 -> 0.800 ms warm, ``benchmarks/time_to_quality.py
    --parts tiny``).  A class's constructor
    does not change, and subclasses are cached under their own name.
    """

    @classmethod
    def _get_param_names(cls):
        return list(_init_parameter_names(cls))
