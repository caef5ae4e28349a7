"""What running PyTorch's example programs on trainer turned up, each against PyTorch itself:
``'{:+.2f}'.format(tensor)``, ``torch.where(mask, 1, 0)`` and ``Module.share_memory()``."""

import numpy as np
import pytest
import torch

import trainer


@pytest.mark.parametrize("value, spec", [(1.23456, "+.2f"), (-3.0, ".3e"), (7, "5d"), (7, ""), (True, ""),
                                         (2.5, ">8")])
def test_zero_dim_tensor_formats_as_its_number(value, spec):
    dtype = {bool: "bool", int: "int64", float: "float64"}[type(value)]
    ours = trainer.tensor(value, dtype=getattr(trainer, dtype))
    theirs = torch.tensor(value, dtype=getattr(torch, dtype))
    assert format(ours, spec) == format(theirs, spec)


def test_tensor_with_dimensions_formats_as_an_object():
    ours, theirs = trainer.tensor([1.0, 2.0]), torch.tensor([1.0, 2.0])
    assert format(ours, "") == str(ours)
    with pytest.raises(TypeError):
        format(theirs, ".2f")
    with pytest.raises(TypeError, match="unsupported format string"):
        format(ours, ".2f")


@pytest.mark.parametrize("a, b", [(1, 0), (1.0, 0), (2, 0.5), (True, False), (True, 3), (1j, 0)])
def test_where_with_two_numbers_takes_their_dtype(a, b):
    mask = [True, False, True]
    ours = trainer.where(trainer.tensor(mask), a, b)
    theirs = torch.where(torch.tensor(mask), a, b)
    assert str(ours.dtype).split(".")[-1] == str(theirs.dtype).split(".")[-1]
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


def test_where_with_two_numbers_follows_the_mask_and_records_no_graph():
    scores = trainer.tensor([0.2, 0.9, 0.7], requires_grad=True)
    pred = trainer.where(scores > 0.5, 1, 0)  # the siamese_network example's test()
    assert pred.tolist() == [0, 1, 1] and not pred.requires_grad


def test_module_share_memory_keeps_parameters_and_returns_the_module():
    model = trainer.nn.Sequential(trainer.nn.Linear(2, 3), trainer.nn.BatchNorm1d(3))
    params = list(model.parameters())
    before = [p.detach().clone() for p in params]
    assert model.share_memory() is model
    assert all(p is q for p, q in zip(model.parameters(), params))
    assert all(trainer.equal(p.detach(), b) for p, b in zip(params, before))
    assert torch.nn.Linear(2, 3).share_memory().weight.is_shared()  # PyTorch moves it; trainer keeps it in place
    assert not params[0].is_shared()
