"""The models' docstrings: their examples run, and they document every parameter."""

import ast
import doctest
import inspect
import re

import numpy as np
import pytest
from sklearn.base import BaseEstimator

import rbm
import rbm._bernoulli
import rbm._categorical
import rbm._gaussian
import rbm.impute
import rbm.outlier
import rbm.persistence
import rbm.pretraining


@pytest.mark.parametrize("module", [rbm._bernoulli, rbm._gaussian, rbm._categorical,
                                    rbm.impute, rbm.outlier, rbm.persistence,
                                    rbm.pretraining],
                         ids=lambda m: m.__name__)
def test_docstring_examples(module):
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0
    assert result.failed == 0


def documented_parameters(cls):
    """(name, default text) of each entry of the class docstring's Parameters section."""
    doc = cls.__doc__
    section = doc[doc.index("Parameters\n    ----------\n"):]
    section = section[: re.search(r"\n    (Attributes|Notes|Examples|See Also)\n", section).start()]
    entries = re.findall(r"^    (\w+) : .*?(?:, default=(.+))?$", section, flags=re.MULTILINE)
    return entries


def parse_default(text):
    """A documented default as a Python value (numpy types by their ``np.`` name)."""
    if text.startswith("np."):
        return getattr(np, text[3:])
    return ast.literal_eval(text)


PUBLIC_ESTIMATORS = [getattr(rbm, name) for name in rbm.__all__
                     if isinstance(getattr(rbm, name), type)
                     and issubclass(getattr(rbm, name), BaseEstimator)]


@pytest.mark.parametrize("cls", PUBLIC_ESTIMATORS, ids=lambda c: c.__name__)
def test_docstring_documents_exactly_the_init_parameters_with_their_defaults(cls):
    signature = inspect.signature(cls.__init__).parameters
    expected = [(name, p.default) for name, p in signature.items() if name != "self"]
    documented = documented_parameters(cls)
    assert [name for name, _ in documented] == [name for name, _ in expected]
    for (name, text), (_, default) in zip(documented, expected):
        assert text, f"{cls.__name__}.{name} documents no default"
        value = parse_default(text)
        both_nan = value != value and default != default  # np.nan (missing_values)
        assert value == default or both_nan, f"{cls.__name__}.{name}: {text} != {default!r}"


def test_the_documented_history_columns_are_the_real_ones():
    # history_'s documentation listed every column but log_likelihood_method.
    X = (np.random.default_rng(0).random((60, 5)) > 0.5).astype(float)
    model = rbm.BernoulliRBM(n_components=3, n_iter=2, random_state=0).fit(X)
    doc = rbm.BernoulliRBM.__doc__
    section = doc[doc.index("history_ : dict of lists"):doc.index("learning_rate_ : float")]
    assert set(re.findall(r"``(\w+)``", section)) - {"fit", "partial_fit"} == set(model.history_)
