"""The examples in the models' docstrings run and print what they say."""

import doctest

import pytest

import rbm._bernoulli
import rbm._categorical
import rbm._gaussian


@pytest.mark.parametrize("module", [rbm._bernoulli, rbm._gaussian, rbm._categorical],
                         ids=lambda m: m.__name__)
def test_docstring_examples(module):
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0
    assert result.failed == 0
