"""Fixtures shared by the unit tests (the repository's conftest.py runs the notebooks)."""

import pytest
import torch


@pytest.fixture(scope="module")
def one_thread():
    """Tiny models train as fast on one thread, and many times faster than on two threads that a busy
    2-core machine must share: a module asks for it with ``pytestmark = pytest.mark.usefixtures(...)``."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
