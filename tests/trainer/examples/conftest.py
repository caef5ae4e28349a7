"""Each example test starts from the same random state, whichever tests its worker ran before: the programs'
unseeded parts (initial weights, shuffles, dropout) then draw the same numbers on every run."""

import pytest
import torch

import trainer


@pytest.fixture(autouse=True)
def _seeded():
    torch.manual_seed(0)
    trainer.manual_seed(0)
