"""Each example test starts from the same random state, whichever tests its worker ran before: the programs'
unseeded parts (initial weights, shuffles, dropout) then draw the same numbers on every run. PyTorch runs them
on one thread."""

import pytest
import torch

import trainer


@pytest.fixture(autouse=True)
def _seeded():
    torch.manual_seed(0)
    trainer.manual_seed(0)


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread():
    """The programs' models are tiny: PyTorch's second intra-op thread only spins, on cores the test run shares."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
