"""Fixtures shared by the test modules."""

import pytest

from rbm import _gibbs


@pytest.fixture
def always_threaded():
    """Run every layer update of the kernel on the thread team, however small.

    The kernel normally keeps small updates on one thread (a performance
    knob that never changes results); lowering the threshold makes these
    tests exercise the threaded path at small, fast sizes.
    """
    with _gibbs.kernel_settings(parallel_threshold=0):
        yield
