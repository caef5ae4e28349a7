"""Fixes found by running more pytorch/examples programs on trainer (tests/trainer/examples/
test_pytorch_examples_more.py): the shape given as ``size=`` to the ``zeros(*size)`` factories (gat) and
``torch.hub.tqdm`` (vision_transformer)."""

import pytest
import torch

import trainer
from tests.trainer.test_ops_parity import assert_raises_like_torch

FACTORIES = ["zeros", "ones", "empty", "rand", "randn"]


@pytest.mark.parametrize("name", FACTORIES)
def test_size_keyword(name):
    for size in ((2, 3), [4], ()):
        ours = getattr(trainer, name)(size=size, dtype=trainer.float64)
        theirs = getattr(torch, name)(size=size, dtype=torch.float64)
        assert tuple(ours.shape) == tuple(theirs.shape) and ours.dtype == trainer.float64
    assert tuple(getattr(trainer, name)(size=trainer.Size([3, 1])).shape) == (3, 1)
    if name in ("zeros", "ones"):
        assert getattr(trainer, name)(size=(2,)).tolist() == getattr(torch, name)(size=(2,)).tolist()


@pytest.mark.parametrize("name", FACTORIES)
def test_size_given_twice_raises_like_torch(name):
    assert_raises_like_torch(lambda lib: getattr(lib, name)(2, size=(2,)), TypeError,
                             f"{name}\\(\\) got multiple values for argument 'size'")


def test_hub_tqdm_is_tqdms():
    import tqdm

    import trainer.hub
    from trainer.hub import tqdm as hub_tqdm

    assert hub_tqdm is torch.hub.tqdm is tqdm.tqdm
    with pytest.raises(AttributeError, match="has no attribute 'not_there'"):
        trainer.hub.not_there  # noqa: B018
