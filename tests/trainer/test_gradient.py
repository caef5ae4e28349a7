"""``trainer.gradient`` against ``torch.gradient``: values and gradients for uniform spacing, per-dimension
spacing and coordinates, both edge orders; dtypes; and PyTorch's argument errors."""

import numpy as np
import pytest
import torch

import trainer
from tests.trainer.test_ops_parity import assert_forward_and_gradients_match_torch, assert_raises_like_torch

RNG = np.random.default_rng(7)
X = RNG.standard_normal((4, 5))
COORDS_0 = np.cumsum(RNG.uniform(0.3, 1.5, 4))
COORDS_1 = np.cumsum(RNG.uniform(0.3, 1.5, 5))

CASES = {
    "default": lambda lib, x: lib.gradient(x),
    "scalar_spacing": lambda lib, x: lib.gradient(x, spacing=0.5),
    "spacing_per_dim": lambda lib, x: lib.gradient(x, spacing=[2.0, 0.25]),
    "edge_order_2": lambda lib, x: lib.gradient(x, spacing=[2.0, 0.25], edge_order=2),
    "one_dim": lambda lib, x: lib.gradient(x, dim=1, edge_order=2),
    "dims_in_given_order": lambda lib, x: lib.gradient(x, spacing=[3.0, 2.0], dim=[1, -2]),
    "coordinates": lambda lib, x: lib.gradient(x, spacing=[lib.tensor(COORDS_0), lib.tensor(COORDS_1)]),
    "coordinates_edge_order_2": lambda lib, x: lib.gradient(x, spacing=[lib.tensor(COORDS_0),
                                                                        lib.tensor(COORDS_1)], edge_order=2),
    "coordinates_one_dim": lambda lib, x: lib.gradient(x, spacing=[lib.tensor(COORDS_1)], dim=1, edge_order=2),
    "zero_dim_tensor_spacing": lambda lib, x: lib.gradient(x, spacing=lib.tensor(1.5)),
    "two_samples": lambda lib, x: lib.gradient(x[:2], dim=0),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_values_and_gradients_match_torch(name):
    assert_forward_and_gradients_match_torch(CASES[name], [X])


def test_coordinate_gradients_reach_the_coordinates():
    def fn(lib, x, c):
        return lib.gradient(x, spacing=[c], dim=0, edge_order=2)

    assert_forward_and_gradients_match_torch(fn, [X, COORDS_0])


def test_second_derivative_composes():
    ours = trainer.tensor(X, requires_grad=True)
    first = trainer.gradient(ours, dim=1)[0]
    (grad,) = trainer.autograd.grad(first.pow(2).sum(), ours, create_graph=True)
    grad.sum().backward()
    theirs = torch.tensor(X, requires_grad=True)
    (t_grad,) = torch.autograd.grad(torch.gradient(theirs, dim=1)[0].pow(2).sum(), theirs, create_graph=True)
    t_grad.sum().backward()
    np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("dtype", ["int64", "float32"])
def test_dtypes_follow_torch(dtype):
    theirs = torch.gradient(torch.tensor([1, 2, 4, 8, 9], dtype=getattr(torch, dtype)), spacing=2)[0]
    ours = trainer.gradient(trainer.tensor([1, 2, 4, 8, 9], dtype=getattr(trainer, dtype)), spacing=2)[0]
    assert ours.dtype.name == str(theirs.dtype).removeprefix("torch.")
    np.testing.assert_allclose(ours.numpy(), theirs.numpy())


def test_zero_dim_input_gives_an_empty_tuple():
    assert trainer.gradient(trainer.tensor(1.0)) == () == torch.gradient(torch.tensor(1.0))


@pytest.mark.parametrize(("call", "message"), [
    (lambda lib: lib.gradient(lib.zeros(3, 4), edge_order=3), "only supports edge_order=1 and edge_order=2"),
    (lambda lib: lib.gradient(lib.zeros(3, 4), spacing=[1.0, 2.0, 3.0]), r"'self.dim\(\) = 2'.*list of length 3"),
    (lambda lib: lib.gradient(lib.zeros(3, 4), spacing=[1.0, 2.0], dim=1), "spacing argument of length 2 and a dim"),
    (lambda lib: lib.gradient(lib.zeros(2, 5), edge_order=2), "each dimension size to be at least edge_order\\+1"),
    (lambda lib: lib.gradient(lib.zeros(3, 4), dim=[0, 0]), "dim 0 appears multiple times"),
    (lambda lib: lib.gradient(lib.zeros(5, dtype=lib.uint8)), "does not support uint8 input"),
    (lambda lib: lib.gradient(lib.zeros(3, 4), spacing=[lib.zeros(3), lib.zeros(2, 2)]),
     "each element of spacing to have one dimension, but got an element with 2 dimensions"),
])
def test_bad_arguments_raise_runtime_error_like_torch(call, message):
    assert_raises_like_torch(call, RuntimeError, message)


def test_dim_out_of_range_raises_index_error_like_torch():
    assert_raises_like_torch(lambda lib: lib.gradient(lib.zeros(3, 4), dim=2), IndexError, "Dimension out of range")


def test_coordinates_of_the_wrong_length_are_refused():
    # PyTorch broadcasts them into a result of the wrong shape; trainer names the mismatch
    with pytest.raises(RuntimeError, match="coordinates for dimension 0 to have 3 elements"):
        trainer.gradient(trainer.zeros(3, 4), spacing=[trainer.arange(4.0)], dim=0)
