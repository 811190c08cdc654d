"""Parameter names of the estimators, read from ``__init__`` once per class, and
the defaults that fill the parameters an older saved model lacks."""

import functools
import inspect
import weakref
from numbers import Number

from sklearn.base import BaseEstimator
from sklearn.utils._param_validation import InvalidParameterError


@functools.cache
def _init_parameter_names(cls):
    """scikit-learn's names of ``cls``'s constructor parameters (sorted), once per class.

    Read from the constructor's code object where it is a plain function:
    ``inspect.signature`` took 0.2 ms on a class's first read, a tenth of a
    small fit in a fresh process.  Anything else (no code, a bound method, a
    wrapper, a ``__signature__``, ``*args``, which scikit-learn refuses) is
    left to scikit-learn's own reading.
    """
    init = cls.__init__
    code = getattr(init, "__code__", None)
    if (code is None or inspect.ismethod(init) or hasattr(init, "__wrapped__")
            or hasattr(init, "__signature__") or code.co_flags & inspect.CO_VARARGS):
        return tuple(BaseEstimator._get_param_names.__func__(cls))
    # Positional and keyword-only names come first among the code's
    # variables, in that order; **kwargs, if any, follows them.
    names = code.co_varnames[:code.co_argcount + code.co_kwonlyargcount]
    return tuple(sorted(name for name in names if name != "self"))


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


@functools.cache
def _init_defaults(cls):
    """{name: default} of ``cls``'s constructor parameters that have a default, once per class."""
    return {name: parameter.default
            for name, parameter in inspect.signature(cls.__init__).parameters.items()
            if parameter.default is not inspect.Parameter.empty}


class ParamsFilledOnLoad:
    """``__setstate__`` that gives each constructor parameter missing from the
    state its constructor default.

    A model pickled or saved (skops restores objects through ``__setstate__``
    too) before a parameter existed lacks that attribute: it loaded, then
    ``repr``, ``get_params``, ``clone`` and ``partial_fit`` failed with a bare
    AttributeError naming the parameter.  The default is what the fit ran
    with before the option existed (a new option's default keeps the old
    behaviour).  Every estimator class of the library, at any depth of a
    saved object, is restored through this one method.
    """

    def __setstate__(self, state):
        if isinstance(state, dict):
            missing = {name: default for name, default in _init_defaults(type(self)).items()
                       if name not in state}
            if missing:
                state = {**missing, **state}
        super().__setstate__(state)


#: The parameters each estimator last passed validation with, by identity
#: (``ValidatedOnChange``); weak, so that nothing outlives the estimator and
#: nothing is pickled with it.
_VALIDATED_PARAMETERS = weakref.WeakKeyDictionary()


def _unchangeable(value):
    """Whether ``value`` cannot change in place: None, a string or a number."""
    return value is None or isinstance(value, (str, bytes, Number))


class ValidatedOnChange:
    """``_validate_params`` that skips the check where nothing could have changed.

    ``partial_fit`` validates the parameters on every call, as ``set_params``
    may come between calls (scikit-learn itself validates on the first call
    only): 65 us a call, as much as a 64 x 64 pass over 10 rows.  The check
    is skipped where every parameter is the very object it was when it last
    passed, and each is None, a string or a number (immutable), so it would
    pass again; anything else (``set_params``, an assignment, a list or an
    object as a value, a copied or unpickled estimator) is checked as before.
    """

    def _validate_params(self):
        """scikit-learn's checks (and the class's own), unless they passed on
        these very, unchangeable, values."""
        values = tuple(self.get_params(deep=False).values())
        last = _VALIDATED_PARAMETERS.get(self)
        if last is not None and len(last) == len(values) and all(
                old is new for old, new in zip(last, values)):
            return
        super()._validate_params()
        if all(_unchangeable(value) for value in values):
            _VALIDATED_PARAMETERS[self] = values
        else:
            _VALIDATED_PARAMETERS.pop(self, None)


class BooleanCountsRefused:
    """``_validate_params`` that refuses a bool where a count is meant.

    scikit-learn's ``Interval(Integral, ...)`` takes True and False, which
    are integers to Python: ``n_components=True`` crashed in the kernel
    ("an integer is required") and other counts ran silently as 1 or 0.
    A class names its counts in ``_integer_parameters``.
    """

    _integer_parameters = ()

    def _validate_params(self):
        """scikit-learn's checks, after refusing booleans where a count is meant."""
        for name in self._integer_parameters:
            value = getattr(self, name, None)
            if isinstance(value, bool):
                raise InvalidParameterError(
                    f"The '{name}' parameter of {type(self).__name__} must be an int, "
                    f"got {value!r} (a bool); pass a number.")
        super()._validate_params()


class DefaultEstimatorParams:
    """``set_params`` that explains ``estimator__<name>`` while ``estimator`` is None.

    scikit-learn sets a nested parameter on the object that ``estimator``
    holds, and the default None (a density model chosen at fit) holds none:
    ``GridSearchCV(RBMImputer(), {"estimator__n_components": [...]})``
    failed as "'NoneType' object has no attribute 'set_params'".
    """

    def set_params(self, **params):
        """Set the parameters of this estimator, as scikit-learn's ``set_params``.

        Parameters
        ----------
        **params : dict
            Estimator parameters; ``estimator__<name>`` needs an estimator,
            given before or in the same call.

        Returns
        -------
        self : estimator instance
            Estimator instance.
        """
        nested = sorted(key for key in params if key.startswith("estimator__"))
        if nested and params.get("estimator", self.estimator) is None:
            raise ValueError(
                f"{type(self).__name__} has estimator=None (a density model chosen "
                f"at fit), which has no parameter {nested[0]} to set; pass the model "
                f"with that setting instead, for example estimator=BernoulliRBM("
                f"{nested[0].split('__', 1)[1]}=...), or search over estimator=[...] "
                f"in a grid.")
        return super().set_params(**params)
