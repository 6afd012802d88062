"""Fixtures shared by several test modules."""

import pytest
import torch


@pytest.fixture
def single_thread():
    """Small tensors: thread hand-offs cost more than they save, badly so on a busy machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
