"""The estimators' parameter names come from a cache per class (rbm._params)."""

import pytest
from sklearn.base import BaseEstimator, clone

import rbm

ESTIMATORS = (rbm.BernoulliRBM, rbm.GaussianBernoulliRBM, rbm.CategoricalRBM,
              rbm.RBMClassifier, rbm.RBMImputer, rbm.RBMOutlierDetector)


def signature_names(cls):
    """scikit-learn's own reading of the constructor, uncached."""
    return BaseEstimator._get_param_names.__func__(cls)


@pytest.mark.parametrize("cls", ESTIMATORS, ids=lambda cls: cls.__name__)
def test_cached_names_are_the_constructors(cls):
    names = cls._get_param_names()
    assert names == signature_names(cls)
    assert sorted(cls().get_params(deep=False)) == names
    # Each call hands out its own list: a caller that edits it edits no cache.
    names.append("not_a_parameter")
    assert cls._get_param_names() == signature_names(cls)


def test_a_subclass_with_its_own_constructor_gets_its_own_names():
    class Narrow(rbm.BernoulliRBM):
        def __init__(self, n_components=256, *, extra=3):
            super().__init__(n_components=n_components)
            self.extra = extra

    assert rbm.BernoulliRBM._get_param_names()  # the parent's entry is cached first
    names = Narrow._get_param_names()
    assert names == signature_names(Narrow) == ["extra", "n_components"]
    assert "extra" not in rbm.BernoulliRBM._get_param_names()


def test_clone_and_set_params_see_every_parameter():
    model = rbm.BernoulliRBM(n_components=7, learning_rate=0.05, random_state=3)
    copy = clone(model)
    assert copy.get_params() == model.get_params()
    copy.set_params(batch_size=17)
    assert copy.batch_size == 17 and model.batch_size != 17


def test_get_params_reads_the_constructor_once_per_class(monkeypatch):
    import inspect

    rbm.CategoricalRBM._get_param_names()  # read (and cached) here at the latest

    def refuse(*args, **kwargs):
        raise AssertionError("inspect.signature called again")

    monkeypatch.setattr(inspect, "signature", refuse)
    model = rbm.CategoricalRBM(n_components=5)
    assert model.get_params()["n_components"] == 5
    model._validate_params()


def test_odd_constructors_get_scikit_learns_reading():
    """Keyword catch-alls are no parameters, ``*args`` is scikit-learn's error,
    and a wrapped constructor is read through its wrapper, as scikit-learn does."""
    import functools

    class Catchall(rbm.BernoulliRBM):
        def __init__(self, n_components=256, *, extra=3, **kwargs):
            super().__init__(n_components=n_components)
            self.extra = extra

    class Positional(rbm.BernoulliRBM):
        def __init__(self, *args, n_components=256):
            super().__init__(n_components=n_components)

    def logged(init):
        @functools.wraps(init)
        def wrapper(self, *args, **kwargs):
            init(self, *args, **kwargs)
        return wrapper

    class Wrapped(rbm.BernoulliRBM):
        @logged
        def __init__(self, n_components=256, *, tag=None):
            super().__init__(n_components=n_components)
            self.tag = tag

    class Bound(rbm.BernoulliRBM):  # (scikit-learn drops the bound first argument)
        @classmethod
        def __init__(cls, foo=1, n_components=256):
            pass

    assert Catchall._get_param_names() == signature_names(Catchall) == ["extra", "n_components"]
    assert Bound._get_param_names() == signature_names(Bound) == ["foo", "n_components"]
    with pytest.raises(RuntimeError, match="no varargs"):
        Positional._get_param_names()
    assert Wrapped._get_param_names() == signature_names(Wrapped) == ["n_components", "tag"]


@pytest.fixture
def counted_validations(monkeypatch):
    """A list that gains an entry each time scikit-learn validates parameters."""
    import sklearn.base

    calls = []
    real = sklearn.base.validate_parameter_constraints

    def counted(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(sklearn.base, "validate_parameter_constraints", counted)
    return calls


def _bits(n_rows=20, n_columns=6):
    import numpy as np

    return (np.random.default_rng(0).random((n_rows, n_columns)) < 0.5).astype(float)


def test_partial_fit_validates_again_only_what_could_have_changed(counted_validations):
    X = _bits()
    model = rbm.BernoulliRBM(n_components=3, random_state=0, n_jobs=1).partial_fit(X)
    first = len(counted_validations)
    assert first == 1
    model.partial_fit(X).partial_fit(X)
    assert len(counted_validations) == first  # the very values that passed
    model.set_params(learning_rate=0.05).partial_fit(X)
    assert len(counted_validations) == first + 1
    model.learning_rate = float("0.05")  # an equal value, a new object: checked
    model.partial_fit(X)
    assert len(counted_validations) == first + 2


@pytest.mark.parametrize("change", ["set_params", "assignment"])
def test_a_bad_value_between_partial_fit_calls_is_refused(change):
    from sklearn.utils._param_validation import InvalidParameterError

    X = _bits()
    model = rbm.BernoulliRBM(n_components=3, random_state=0, n_jobs=1).partial_fit(X)
    model.partial_fit(X)  # validated values, now skipped
    if change == "set_params":
        model.set_params(batch_size=0)
    else:
        model.batch_size = 0
    with pytest.raises(InvalidParameterError, match="batch_size"):
        model.partial_fit(X)


def test_parameters_that_can_change_in_place_are_validated_every_time(counted_validations):
    import numpy as np

    X = _bits()
    model = rbm.BernoulliRBM(n_components=3, random_state=np.random.RandomState(0),
                             n_jobs=1).partial_fit(X)
    model.partial_fit(X).partial_fit(X)
    assert len(counted_validations) == 3
    # A copy (and an unpickled model) is validated on its own first call.
    copy = clone(rbm.RBMClassifier(n_components=3, n_iter=1, random_state=0))
    copy.partial_fit(X, np.arange(20) % 2, classes=[0, 1]).partial_fit(X, np.arange(20) % 2)
    assert len(counted_validations) == 4
